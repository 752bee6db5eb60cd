"""Transfer's bounds, each at its limit and one past: the memo (sent and received), the voucher a
received denomination becomes, and the encoded packet data."""

from __future__ import annotations

import pytest
from bank_chain import balance, ok, status
from transfer_network import (
    A_CLIENT_OF_B,
    B_CLIENT_OF_A,
    TIMEOUT_AFTER_MS,
    Network,
    build_network,
    data_of,
    deliver,
    incoming,
    refused,
    run_driver,
)

from causeway.identity import IDENTIFIER_CHARACTERS_MAX
from causeway.interchain import bank
from causeway.interchain.bank import BANK_ACCOUNT_BYTES_MAX, BANK_DENOM_BYTES_MAX
from causeway.interchain.transfer import (
    TRANSFER_DENOM_BYTES_MAX,
    TRANSFER_MEMO_BYTES_MAX,
    TRANSFER_PACKET_DATA_BYTES_MAX,
)
from causeway.interchain.v1 import interchain_pb2
from causeway.types import encode


@pytest.fixture
def network() -> Network:
    return build_network()


def path_of_bytes(size: int) -> str:
    """A denomination path of exactly `size` bytes, of identifiers joined by "/"."""
    segments = []
    remaining = size
    while remaining > IDENTIFIER_CHARACTERS_MAX:
        segments.append("s" * (IDENTIFIER_CHARACTERS_MAX - 1))
        remaining -= IDENTIFIER_CHARACTERS_MAX
    segments.append("b" * remaining)
    denom = "/".join(segments)
    assert len(denom) == size
    return denom


def send(network: Network, memo: bytes) -> str:
    arguments = interchain_pb2.TransferSendArguments(
        source_client=A_CLIENT_OF_B,
        denom="gold",
        amount=1,
        receiver="org2/bob",
        timeout_ms=network.a.time_ms + TIMEOUT_AFTER_MS,
        memo=memo,
    )
    result = network.a.run("org1/alice", "transfer", "send", arguments)
    return f"{status(result)}: {result.error}"


def test_a_memo_of_the_limit_is_sent_and_one_byte_more_refused(network: Network) -> None:
    assert send(network, b"m" * TRANSFER_MEMO_BYTES_MAX) == "RESULT_STATUS_OK: "
    assert data_of(network.sent(network.a, 1).packet).memo == b"m" * TRANSFER_MEMO_BYTES_MAX
    assert send(network, b"m" * (TRANSFER_MEMO_BYTES_MAX + 1)) == (
        "RESULT_STATUS_INVALID_ARGUMENT: transfer memo is "
        f"{TRANSFER_MEMO_BYTES_MAX + 1} bytes, above the limit of {TRANSFER_MEMO_BYTES_MAX}"
    )
    network.relay()
    assert balance(network.b, "org2/bob", f"transfer/{B_CLIENT_OF_A}/gold") == 1


def test_a_memo_of_the_limit_is_received_and_one_byte_more_refused(network: Network) -> None:
    longest = incoming("gold", memo=b"m" * TRANSFER_MEMO_BYTES_MAX)
    assert deliver(network.b, network.driver, longest).success
    too_long = incoming("gold", sequence=2, memo=b"m" * (TRANSFER_MEMO_BYTES_MAX + 1))
    refused(deliver(network.b, network.driver, too_long), "transfer memo is 1025 bytes")


def test_a_voucher_of_the_limit_is_minted_and_one_byte_more_refused(network: Network) -> None:
    assert TRANSFER_DENOM_BYTES_MAX == BANK_DENOM_BYTES_MAX
    prefix = f"transfer/{B_CLIENT_OF_A}/"
    fitting = path_of_bytes(TRANSFER_DENOM_BYTES_MAX - len(prefix))
    assert deliver(network.b, network.driver, incoming(fitting, 3)).success
    assert balance(network.b, "org2/bob", prefix + fitting) == 3
    too_long = path_of_bytes(TRANSFER_DENOM_BYTES_MAX - len(prefix) + 1)
    refused(
        deliver(network.b, network.driver, incoming(too_long, 3, sequence=2)),
        f"would be {TRANSFER_DENOM_BYTES_MAX + 1} bytes, above the limit of "
        f"{TRANSFER_DENOM_BYTES_MAX}",
    )


def test_a_path_of_the_limit_goes_out_and_comes_home(network: Network) -> None:
    # A voucher of a third chain (A's client-2) goes to B, where its path reaches the limit
    # exactly, and comes back to A, where the path is stripped, not extended.
    third = "transfer/client-2/" + path_of_bytes(
        TRANSFER_DENOM_BYTES_MAX - len(f"transfer/{B_CLIENT_OF_A}/") - len("transfer/client-2/")
    )
    ok(run_driver(network, network.a, lambda context: bank.mint(context, "org1/alice", third, 5)))
    network.send(network.a, "org1/alice", third, 5, "org2/bob")
    network.relay()
    on_b = f"transfer/{B_CLIENT_OF_A}/{third}"
    assert len(on_b) == TRANSFER_DENOM_BYTES_MAX
    assert balance(network.b, "org2/bob", on_b) == 5
    network.send(network.b, "org2/bob", on_b, 5, "org1/alice")
    network.relay()
    assert balance(network.a, "org1/alice", third) == 5
    assert balance(network.b, "org2/bob", on_b) == 0


def test_a_received_path_one_byte_past_the_limit_is_refused(network: Network) -> None:
    packet = incoming(path_of_bytes(TRANSFER_DENOM_BYTES_MAX + 1))
    refused(
        deliver(network.b, network.driver, packet),
        f"transfer packet denomination is {TRANSFER_DENOM_BYTES_MAX + 1} bytes",
    )


def test_the_largest_valid_packet_data_fits_and_is_received(network: Network) -> None:
    prefix = f"transfer/{B_CLIENT_OF_A}/"
    packet = incoming(
        path_of_bytes(TRANSFER_DENOM_BYTES_MAX - len(prefix)),
        (1 << 64) - 1,
        receiver="r" * BANK_ACCOUNT_BYTES_MAX,
        sender="s" * BANK_ACCOUNT_BYTES_MAX,
        memo=b"m" * TRANSFER_MEMO_BYTES_MAX,
    )
    assert len(packet.payload.value) <= TRANSFER_PACKET_DATA_BYTES_MAX
    assert deliver(network.b, network.driver, packet).success


def _data_of_bytes(size: int) -> bytes:
    """Canonical TransferPacketData of exactly `size` bytes (its memo too long to be taken)."""
    for memo_bytes in range(size, 0, -1):
        data = encode(
            interchain_pb2.TransferPacketData(
                denom="gold", amount=1, sender="a", receiver="b", memo=b"m" * memo_bytes
            )
        )
        if len(data) == size:
            return data
    raise AssertionError(size)


def test_packet_data_of_the_limit_is_decoded_and_one_byte_more_refused(network: Network) -> None:
    # At the limit the data decodes (and is refused for its memo); one byte more is refused
    # before decoding.
    at_limit = incoming("gold", value=_data_of_bytes(TRANSFER_PACKET_DATA_BYTES_MAX))
    refused(deliver(network.b, network.driver, at_limit), "transfer memo is")
    past = incoming("gold", sequence=2, value=_data_of_bytes(TRANSFER_PACKET_DATA_BYTES_MAX + 1))
    refused(
        deliver(network.b, network.driver, past),
        f"TransferPacketData is {TRANSFER_PACKET_DATA_BYTES_MAX + 1} bytes, above the limit of "
        f"{TRANSFER_PACKET_DATA_BYTES_MAX}",
    )


def test_an_amount_of_one_is_sent_and_received(network: Network) -> None:
    assert send(network, b"") == "RESULT_STATUS_OK: "
    assert data_of(network.sent(network.a, 1).packet).amount == 1
    network.relay()
    assert balance(network.b, "org2/bob", f"transfer/{B_CLIENT_OF_A}/gold") == 1
