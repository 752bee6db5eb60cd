"""Events carry a bounded data payload, charged per byte, through results and their renderings."""

from __future__ import annotations

import base64

import pytest
from execution_chain import Chain, status_name
from probe_contract import register_probe

from causeway.api.http_gateway import message_to_json
from causeway.contracts.v1 import contracts_pb2
from causeway.execution import (
    EVENT_DATA_BYTES_MAX,
    GAS_PER_EVENT_DATA_BYTE,
    GAS_PER_TRANSACTION_BYTE,
)
from causeway.execution.context import TransactionContext
from causeway.types import encode
from causeway.types.v1 import types_pb2


def emitting(data: bytes) -> object:
    def body(context: TransactionContext) -> None:
        context.put(b"written", b"1")
        context.emit("packet", (("sequence", "1"),), data)

    return body


def run_probe(chain: Chain, monkeypatch: pytest.MonkeyPatch, body: object) -> object:
    register_probe(monkeypatch, body)  # type: ignore[arg-type]
    return chain.run("org1/alice", "probe", "run")


def test_data_at_the_limit_reaches_the_result(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = bytes(range(256)) * (EVENT_DATA_BYTES_MAX // 256)
    assert len(data) == EVENT_DATA_BYTES_MAX
    result = run_probe(chain, monkeypatch, emitting(data))
    assert isinstance(result, types_pb2.TransactionResult)
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    (event,) = result.events
    assert (event.contract, event.name, event.data) == ("probe", "packet", data)
    assert [(attribute.key, attribute.value) for attribute in event.attributes] == [
        ("sequence", "1")
    ]
    # The result (and so the results root) holds the payload, byte for byte.
    assert types_pb2.TransactionResult.FromString(encode(result)).events[0].data == data


def test_data_one_past_the_limit_fails_the_transaction(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = dict(chain.state)
    result = run_probe(chain, monkeypatch, emitting(b"d" * (EVENT_DATA_BYTES_MAX + 1)))
    assert isinstance(result, types_pb2.TransactionResult)
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert result.error == (
        f"event probe.packet carries {EVENT_DATA_BYTES_MAX + 1} bytes of data, above the limit "
        f"of {EVENT_DATA_BYTES_MAX}"
    )
    assert list(result.events) == []
    assert chain.state == before


def test_data_is_charged_per_byte(chain: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    register_probe(monkeypatch, emitting(b""))  # type: ignore[arg-type]
    plain = chain.transaction("org1/alice", "probe", "run")
    without = chain.commit([plain]).results[0]
    register_probe(monkeypatch, emitting(b"x" * 1000))  # type: ignore[arg-type]
    carrying = chain.transaction("org1/alice", "probe", "run")
    with_data = chain.commit([carrying]).results[0]
    # Same state access; the transactions differ only in their signatures' lengths.
    size_difference = len(carrying.encoded) - len(plain.encoded)
    assert with_data.cost.gas_used - without.cost.gas_used == (
        GAS_PER_EVENT_DATA_BYTE * 1000 + GAS_PER_TRANSACTION_BYTE * size_difference
    )


def test_data_of_a_rolled_back_call_is_dropped(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    def body(context: TransactionContext) -> None:
        savepoint = context.savepoint()
        context.emit("dropped", (), b"never published")
        context.rollback_to(savepoint)
        context.emit("kept", (), b"published")

    result = run_probe(chain, monkeypatch, body)
    assert isinstance(result, types_pb2.TransactionResult)
    assert [(event.name, event.data) for event in result.events] == [("kept", b"published")]


def test_native_events_carry_no_data(chain: Chain) -> None:
    result = chain.run(
        "org1/alice", "kv", "put", contracts_pb2.KvPutArguments(key=b"k", value=b"v")
    )
    assert [(event.name, event.data) for event in result.events] == [("put", b"")]


def test_the_http_gateway_renders_data_in_base64(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_probe(chain, monkeypatch, emitting(b"\x00\xffpacket"))
    assert isinstance(result, types_pb2.TransactionResult)
    rendered = message_to_json(result)
    assert rendered["events"][0]["data"] == base64.b64encode(b"\x00\xffpacket").decode()
    assert rendered["events"][0]["contract"] == "probe"
