from __future__ import annotations

import pytest
from execution_chain import Chain, status_name

from causeway.contracts.v1 import contracts_pb2
from causeway.execution import (
    KV_KEY_BYTES_MAX,
    KV_RANGE_BYTES_MAX,
    KV_RANGE_LIMIT_DEFAULT,
    KV_RANGE_LIMIT_MAX,
    KV_VALUE_BYTES_MAX,
)
from causeway.execution.keys import kv_key


def put(chain: Chain, key: bytes, value: bytes, sender: str = "org1/alice") -> str:
    return status_name(
        chain.run(sender, "kv", "put", contracts_pb2.KvPutArguments(key=key, value=value))
    )


def get(chain: Chain, key: bytes) -> contracts_pb2.KvGetResult:
    result = chain.run("org2/bob", "kv", "get", contracts_pb2.KvGetArguments(key=key))
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    return contracts_pb2.KvGetResult.FromString(result.return_value)


def kv_range(chain: Chain, **arguments: object) -> contracts_pb2.KvRangeResult:
    result = chain.run("org2/bob", "kv", "range", contracts_pb2.KvRangeArguments(**arguments))  # type: ignore[arg-type]
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    return contracts_pb2.KvRangeResult.FromString(result.return_value)


def test_put_get_and_event(chain: Chain) -> None:
    result = chain.run(
        "org1/alice", "kv", "put", contracts_pb2.KvPutArguments(key=b"colour", value=b"blue")
    )
    assert status_name(result) == "RESULT_STATUS_OK"
    assert result.return_value == b""
    assert [(event.contract, event.name) for event in result.events] == [("kv", "put")]
    assert [(a.key, a.value) for a in result.events[0].attributes] == [("key", b"colour".hex())]
    assert chain.state[kv_key(b"colour")] == b"blue"
    assert get(chain, b"colour") == contracts_pb2.KvGetResult(found=True, value=b"blue")
    assert put(chain, b"colour", b"green") == "RESULT_STATUS_OK"
    assert get(chain, b"colour").value == b"green"


def test_get_of_a_missing_key_is_not_found_but_ok(chain: Chain) -> None:
    assert get(chain, b"nothing") == contracts_pb2.KvGetResult(found=False)


def test_empty_values_are_values(chain: Chain) -> None:
    assert put(chain, b"empty", b"") == "RESULT_STATUS_OK"
    assert get(chain, b"empty") == contracts_pb2.KvGetResult(found=True, value=b"")


def test_delete(chain: Chain) -> None:
    put(chain, b"k", b"v")
    result = chain.run("org1/alice", "kv", "delete", contracts_pb2.KvDeleteArguments(key=b"k"))
    assert status_name(result) == "RESULT_STATUS_OK"
    assert [(e.name, e.attributes[0].value) for e in result.events] == [("delete", b"k".hex())]
    assert kv_key(b"k") not in chain.state
    assert not get(chain, b"k").found
    again = chain.run("org1/alice", "kv", "delete", contracts_pb2.KvDeleteArguments(key=b"k"))
    assert status_name(again) == "RESULT_STATUS_NOT_FOUND"
    assert "does not exist" in again.error


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (b"", b"v", "empty"),
        (b"k" * (KV_KEY_BYTES_MAX + 1), b"v", "above the limit"),
        (b"k", b"v" * (KV_VALUE_BYTES_MAX + 1), "above the limit"),
    ],
)
def test_put_bounds(chain: Chain, key: bytes, value: bytes, message: str) -> None:
    before = dict(chain.state)
    result = chain.run(
        "org1/alice", "kv", "put", contracts_pb2.KvPutArguments(key=key, value=value)
    )
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert message in result.error
    assert chain.state == before


def test_put_at_the_bounds(chain: Chain) -> None:
    key = b"k" * KV_KEY_BYTES_MAX
    assert put(chain, key, b"v" * KV_VALUE_BYTES_MAX) == "RESULT_STATUS_OK"
    assert len(get(chain, key).value) == KV_VALUE_BYTES_MAX


@pytest.mark.parametrize("method", ["get", "delete"])
def test_get_and_delete_check_the_key(chain: Chain, method: str) -> None:
    arguments = contracts_pb2.KvGetArguments(key=b"x" * (KV_KEY_BYTES_MAX + 1))
    result = chain.run("org1/alice", "kv", method, arguments)
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"


@pytest.mark.parametrize("method", ["put", "get", "delete", "range"])
def test_garbage_arguments(chain: Chain, method: str) -> None:
    for garbage in (b"\xff\xff\xff", b"\x0a\x05ab", b"\x08\x01\x08\x01", b"\x80"):
        result = chain.run("org1/alice", "kv", method, garbage)
        assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT", (method, garbage)
        assert result.error


def test_range_prefix_paging_and_start_after(chain: Chain) -> None:
    for name in (b"a1", b"a2", b"a3", b"a4", b"b1", b"a"):
        put(chain, name, name.upper())
    everything = kv_range(chain)
    assert [entry.key for entry in everything.entries] == [b"a", b"a1", b"a2", b"a3", b"a4", b"b1"]
    assert everything.next_start_after == b""
    first = kv_range(chain, prefix=b"a", limit=2)
    assert [(e.key, e.value) for e in first.entries] == [(b"a", b"A"), (b"a1", b"A1")]
    assert first.next_start_after == b"a1"
    second = kv_range(chain, prefix=b"a", limit=2, start_after=first.next_start_after)
    assert [e.key for e in second.entries] == [b"a2", b"a3"]
    third = kv_range(chain, prefix=b"a", limit=2, start_after=second.next_start_after)
    assert [e.key for e in third.entries] == [b"a4"]
    assert third.next_start_after == b""
    assert kv_range(chain, prefix=b"c").entries == []
    assert [e.key for e in kv_range(chain, start_after=b"a4").entries] == [b"b1"]


def test_range_limits(chain: Chain) -> None:
    transactions = [
        chain.transaction(
            "org1/alice", "kv", "put", contracts_pb2.KvPutArguments(key=b"%05d" % i, value=b"")
        )
        for i in range(KV_RANGE_LIMIT_MAX + 5)
    ]
    assert all(r.status == 1 for r in chain.commit(transactions).results)
    default = kv_range(chain)
    assert len(default.entries) == KV_RANGE_LIMIT_DEFAULT
    assert default.next_start_after == b"%05d" % (KV_RANGE_LIMIT_DEFAULT - 1)
    capped = kv_range(chain, limit=KV_RANGE_LIMIT_MAX * 10)
    assert len(capped.entries) == KV_RANGE_LIMIT_MAX
    assert capped.next_start_after == capped.entries[-1].key


def test_range_is_bounded_in_bytes(chain: Chain) -> None:
    value = b"v" * KV_VALUE_BYTES_MAX
    count = KV_RANGE_BYTES_MAX // KV_VALUE_BYTES_MAX + 3
    transactions = [
        chain.transaction(
            "org1/alice", "kv", "put", contracts_pb2.KvPutArguments(key=b"big%02d" % i, value=value)
        )
        for i in range(count)
    ]
    assert all(r.status == 1 for r in chain.commit(transactions).results)
    page = kv_range(chain, prefix=b"big")
    assert 0 < len(page.entries) < count
    assert sum(len(e.key) + len(e.value) for e in page.entries) <= KV_RANGE_BYTES_MAX
    assert page.next_start_after == page.entries[-1].key


def test_range_sees_earlier_writes_of_the_same_block(chain: Chain) -> None:
    put(chain, b"p/old", b"1")
    put(chain, b"p/gone", b"2")
    block = [
        chain.transaction(
            "org1/alice", "kv", "put", contracts_pb2.KvPutArguments(key=b"p/new", value=b"3")
        ),
        chain.transaction(
            "org1/alice", "kv", "delete", contracts_pb2.KvDeleteArguments(key=b"p/gone")
        ),
        chain.transaction("org2/bob", "kv", "range", contracts_pb2.KvRangeArguments(prefix=b"p/")),
    ]
    results = chain.commit(block).results
    assert [r.status for r in results] == [1, 1, 1]
    entries = contracts_pb2.KvRangeResult.FromString(results[2].return_value).entries
    assert [(e.key, e.value) for e in entries] == [(b"p/new", b"3"), (b"p/old", b"1")]


def test_range_bounds(chain: Chain) -> None:
    for arguments in (
        contracts_pb2.KvRangeArguments(prefix=b"x" * (KV_KEY_BYTES_MAX + 1)),
        contracts_pb2.KvRangeArguments(start_after=b"x" * (KV_KEY_BYTES_MAX + 1)),
    ):
        result = chain.run("org1/alice", "kv", "range", arguments)
        assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"


def test_kv_costs_count_reads_writes_and_bytes(chain: Chain) -> None:
    result = chain.run(
        "org1/alice", "kv", "put", contracts_pb2.KvPutArguments(key=b"k", value=b"vv")
    )
    assert (result.cost.reads, result.cost.writes) == (0, 1)
    assert result.cost.bytes_written == len(kv_key(b"k")) + 2
    result = chain.run("org1/alice", "kv", "get", contracts_pb2.KvGetArguments(key=b"k"))
    assert (result.cost.reads, result.cost.writes) == (1, 0)
    assert result.cost.bytes_read == len(kv_key(b"k")) + 2
