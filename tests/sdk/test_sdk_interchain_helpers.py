"""The pure parts of the SDK's interchain operations, without a node: what a submit answer becomes,
a client's status at the edge of its trusting period, balances as stored, transfer arguments and
timeouts, and the packet a send's events carry."""

from __future__ import annotations

import pytest

from causeway.api.v1 import api_pb2
from causeway.errors import (
    ConfigurationError,
    HeightUnavailableError,
    ProofError,
    RequestError,
    TransactionFailedError,
)
from causeway.interchain.v1 import interchain_pb2
from causeway.sdk.interchain import (
    ENDED_STATES,
    amount_of,
    check_has_blocks,
    check_sequence,
    check_side,
    check_wait,
    client_status,
    committed_result,
    sent_packet,
    transfer_arguments,
    transfer_timeout_ms,
)
from causeway.sdk.transactions import SubmitResult, now_ms
from causeway.types import encode
from causeway.types.v1 import types_pb2


def _outcome(result: types_pb2.TransactionResult | None, *, committed: bool) -> SubmitResult:
    return SubmitResult(transaction_id=b"\x01" * 32, height=3, result=result, committed=committed)


def test_a_committed_success_is_its_result() -> None:
    result = types_pb2.TransactionResult(status=types_pb2.RESULT_STATUS_OK, return_value=b"x")
    assert committed_result(_outcome(result, committed=True), "c", "m", 1.0) == result


def test_a_transaction_not_committed_in_time_is_a_timeout_naming_it() -> None:
    with pytest.raises(
        RequestError, match=r"c\.m transaction 0101.* not committed within 2 s"
    ) as raised:
        committed_result(_outcome(None, committed=False), "c", "m", 2.0)
    assert raised.value.reason == "timeout"


def test_a_refused_transaction_raises_with_its_status_message_and_result() -> None:
    result = types_pb2.TransactionResult(
        status=types_pb2.RESULT_STATUS_CONFLICT, error="port 'transfer' is bound already"
    )
    with pytest.raises(
        TransactionFailedError, match=r"packets\.bind_port failed \(RESULT_STATUS_CONFLICT\): port"
    ) as raised:
        committed_result(_outcome(result, committed=True), "packets", "bind_port", 1.0)
    assert raised.value.result == result
    assert raised.value.reason == "transaction_failed"


def test_a_client_expires_exactly_at_the_end_of_its_trusting_period() -> None:
    client = interchain_pb2.ClientState(trusting_period_ms=1_000)
    latest = interchain_pb2.ConsensusState(time_ms=5_000)
    assert client_status(client, latest, 5_999) == "active"
    assert client_status(client, latest, 6_000) == "expired"
    client.frozen_height = 7
    assert client_status(client, latest, 5_000) == "frozen"


def test_a_balance_is_eight_bytes_or_absent() -> None:
    assert amount_of(False, b"", b"k") == 0
    assert amount_of(True, (2**64 - 1).to_bytes(8, "big"), b"k") == 2**64 - 1
    with pytest.raises(ProofError, match="7 bytes, not an 8-byte number"):
        amount_of(True, b"\x00" * 7, b"k")
    with pytest.raises(ProofError, match="9 bytes"):
        amount_of(True, b"\x00" * 9, b"k")


@pytest.mark.parametrize(
    ("amount", "denom", "receiver", "fragment"),
    [
        (0, "stake", "org1/client", "amount 0 is not positive"),
        (-1, "stake", "org1/client", "amount -1 is not positive"),
        (1, "", "org1/client", "denomination is empty"),
        (1, "stake", "", "receiver is empty"),
    ],
)
def test_bad_transfer_arguments_are_refused_before_sending(
    amount: int, denom: str, receiver: str, fragment: str
) -> None:
    with pytest.raises(RequestError, match=fragment):
        transfer_arguments(
            "client-0", denom=denom, amount=amount, receiver=receiver, timeout_ms=1, memo=b""
        )


def test_a_transfer_times_out_after_now_or_the_newest_block_whichever_is_later() -> None:
    before = now_ms()
    assert transfer_timeout_ms(0, 1_000) >= before + 1_000
    far = before + 10**9
    assert transfer_timeout_ms(far, 1_000) == far + 1_000
    with pytest.raises(ConfigurationError, match="timeout_after_ms must be positive, not 0"):
        transfer_timeout_ms(far, 0)


def test_the_sent_packet_comes_from_the_send_packet_event() -> None:
    packet = interchain_pb2.Packet(source_client="client-0", sequence=4, timeout_ms=9)
    result = types_pb2.TransactionResult(
        events=[
            types_pb2.Event(contract="transfer", name="send", data=b""),
            types_pb2.Event(contract="packets", name="send_packet", data=encode(packet)),
        ]
    )
    assert sent_packet(result) == packet
    with pytest.raises(RequestError, match="without a send_packet event") as raised:
        sent_packet(types_pb2.TransactionResult())
    assert raised.value.reason == "bad_response"


def test_reading_arguments_are_checked() -> None:
    assert check_side("sent") == "sent"
    assert check_side("received") == "received"
    with pytest.raises(RequestError, match="side 'Sent'"):
        check_side("Sent")
    assert check_sequence(1) == 1
    with pytest.raises(RequestError, match="sequence 0 is not positive"):
        check_sequence(0)
    check_wait(0.001, 0.001)
    with pytest.raises(ConfigurationError, match="poll_interval_s must be positive"):
        check_wait(1.0, 0)
    with pytest.raises(ConfigurationError, match="timeout_s must be positive"):
        check_wait(-1.0, 1.0)
    assert {"acknowledged", "timed_out"} == ENDED_STATES


def test_a_chain_without_a_block_has_no_header_to_start_a_client_from() -> None:
    check_has_blocks(api_pb2.GetStatusResponse(chain_id="beta", height=1))
    with pytest.raises(HeightUnavailableError, match="chain beta has committed no block yet"):
        check_has_blocks(api_pb2.GetStatusResponse(chain_id="beta", height=0))
