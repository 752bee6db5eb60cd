"""Fungible token transfer (ICS-20) between two real chains, A (intl tbft) and B (gm raft), through
the packets contract and a relayer (transfer_network.py), with issue 8's conservation checker,
read from both chains' state, at every step."""

from __future__ import annotations

import pytest
from bank_chain import balance, ok, status
from transfer_network import (
    A_CLIENT_OF_B,
    B_CLIENT_OF_A,
    ESCROW_A,
    ESCROW_B,
    GOLD_ISSUED,
    GOLD_ON_B,
    TIMEOUT_AFTER_MS,
    Network,
    application,
    bank_supply,
    build_network,
    check_conservation,
    data_of,
    deliver,
    incoming,
    refused,
    run_driver,
)

from causeway.errors import RequestError
from causeway.execution import TransactionContext
from causeway.interchain import bank, transfer
from causeway.interchain.v1 import interchain_pb2
from causeway.types import encode


@pytest.fixture
def network() -> Network:
    return build_network()


def bank_state(chain: object) -> dict[bytes, bytes]:
    state: dict[bytes, bytes] = chain.state  # type: ignore[attr-defined]
    return {key: value for key, value in state.items() if key.startswith(b"bank/")}


# ---- sending ------------------------------------------------------------------------------------


def test_sending_a_native_denomination_escrows_it(network: Network) -> None:
    packet = network.send(network.a, "org1/alice", "gold", 40, "org2/bob")
    assert balance(network.a, "org1/alice", "gold") == GOLD_ISSUED - 40
    assert balance(network.a, ESCROW_A, "gold") == 40
    assert (packet.source_client, packet.destination_client, packet.sequence) == (
        A_CLIENT_OF_B,
        B_CLIENT_OF_A,
        1,
    )
    payload = packet.payload
    assert (payload.source_port, payload.destination_port) == ("transfer", "transfer")
    assert (payload.version, payload.encoding) == ("ics20-1", "application/x-protobuf")
    assert data_of(packet) == interchain_pb2.TransferPacketData(
        denom="gold", amount=40, sender="org1/alice", receiver="org2/bob"
    )
    # The canonical form: what the receiving chain's strict decoding takes.
    assert encode(data_of(packet)) == payload.value
    check_conservation(network)


def test_send_reports_the_sequence_and_emits_the_transfer(network: Network) -> None:
    arguments = interchain_pb2.TransferSendArguments(
        source_client=A_CLIENT_OF_B,
        denom="gold",
        amount=5,
        receiver="org2/bob",
        timeout_ms=network.a.time_ms + TIMEOUT_AFTER_MS,
        memo=b"for the harvest",
    )
    ok(network.a.run("org1/alice", "transfer", "send", arguments))
    result = ok(network.a.run("org1/alice", "transfer", "send", arguments))
    assert interchain_pb2.TransferSendResult.FromString(result.return_value).sequence == 2
    assert [(event.contract, event.name) for event in result.events] == [
        ("bank", "move"),
        ("packets", "send_packet"),
        ("transfer", "send"),
    ]
    assert dict((a.key, a.value) for a in result.events[2].attributes) == {
        "source_client": A_CLIENT_OF_B,
        "sequence": "2",
        "sender": "org1/alice",
        "receiver": "org2/bob",
        "denom": "gold",
        "amount": "5",
    }
    assert data_of(network.sent(network.a, 2).packet).memo == b"for the harvest"


def test_a_transfer_arrives_as_a_voucher_and_goes_home_burned(network: Network) -> None:
    out = network.send(network.a, "org1/alice", "gold", 30, "org2/bob")
    network.relay()
    assert network.acknowledgement_on_arrival(out).success
    assert balance(network.b, "org2/bob", GOLD_ON_B) == 30
    check_conservation(network)
    network.relay()  # the acknowledgement ends the packet on A
    assert network.sent(network.a, 1).state == "acknowledged"
    check_conservation(network)
    home = network.send(network.b, "org2/bob", GOLD_ON_B, 12, "org1/alice")
    # Burned, not escrowed: B's escrow stays empty and the voucher supply falls.
    assert bank_supply(network.b, GOLD_ON_B) == 18
    assert balance(network.b, ESCROW_B, GOLD_ON_B) == 0
    assert data_of(home).denom == GOLD_ON_B
    check_conservation(network)
    network.relay()
    # Released, not minted: A's supply of gold never moved.
    assert balance(network.a, "org1/alice", "gold") == GOLD_ISSUED - 30 + 12
    assert balance(network.a, ESCROW_A, "gold") == 18
    assert bank_supply(network.a, "gold") == GOLD_ISSUED
    assert bank_supply(network.a, f"transfer/{A_CLIENT_OF_B}/{GOLD_ON_B}") == 0
    check_conservation(network)
    network.relay()
    assert network.sent(network.b, 1).state == "acknowledged"
    check_conservation(network)


def test_a_voucher_of_a_third_chain_is_escrowed_not_burned(network: Network) -> None:
    # A voucher that came to B from a third chain (over B's client-9) goes on to A: it leaves
    # B, so B escrows it, and A mints a voucher of its whole path.
    third = "transfer/client-9/silver"
    ok(run_driver(network, network.b, lambda context: bank.mint(context, "org2/bob", third, 8)))
    network.send(network.b, "org2/bob", third, 8, "org1/alice")
    assert balance(network.b, ESCROW_B, third) == 8
    assert bank_supply(network.b, third) == 8
    network.relay()
    assert balance(network.a, "org1/alice", f"transfer/{A_CLIENT_OF_B}/{third}") == 8


@pytest.mark.parametrize(
    ("change", "status_name", "fragment"),
    [
        ({"amount": 0}, "INVALID_ARGUMENT", "transfer amount must be positive, not 0"),
        ({"amount": 1_001}, "INSUFFICIENT_FUNDS", "is 1000, less than the 1001 needed"),
        ({"denom": "silver"}, "INSUFFICIENT_FUNDS", "in silver is 0"),
        ({"denom": "go ld"}, "INVALID_ARGUMENT", "bank transfer denomination 'go ld'"),
        ({"receiver": ""}, "INVALID_ARGUMENT", "transfer receiver account is empty"),
        ({"receiver": "bob smith"}, "INVALID_ARGUMENT", "outside visible ASCII"),
        ({"receiver": ESCROW_B}, "INVALID_ARGUMENT", "is an escrow account"),
        ({"source_client": "client-0/x"}, "INVALID_ARGUMENT", "escrow client id"),
        ({"source_client": "client-5"}, "NOT_FOUND", "there is no client 'client-5'"),
        ({"timeout_ms": 1}, "INVALID_ARGUMENT", "timeout 1 ms is not after this block's time"),
    ],
)
def test_send_refuses_with_the_reason_and_takes_nothing(
    network: Network, change: dict[str, object], status_name: str, fragment: str
) -> None:
    fields: dict[str, object] = {
        "source_client": A_CLIENT_OF_B,
        "denom": "gold",
        "amount": 10,
        "receiver": "org2/bob",
        "timeout_ms": network.a.time_ms + TIMEOUT_AFTER_MS,
    }
    fields.update(change)
    before = dict(network.a.state)
    result = network.a.run(
        "org1/alice",
        "transfer",
        "send",
        interchain_pb2.TransferSendArguments(**fields),  # type: ignore[arg-type]
    )
    assert status(result) == f"RESULT_STATUS_{status_name}", result.error
    assert fragment in result.error, result.error
    assert network.a.state == before


# ---- receiving ----------------------------------------------------------------------------------


def test_receiving_a_foreign_denomination_mints_a_voucher_of_its_path(network: Network) -> None:
    acknowledgement = deliver(network.b, network.driver, incoming("gold", 25))
    assert acknowledgement == interchain_pb2.Acknowledgement(success=True)
    assert balance(network.b, "org2/bob", GOLD_ON_B) == 25
    assert bank_supply(network.b, GOLD_ON_B) == 25
    assert bank_supply(network.b, "gold") == 0


def test_a_denomination_of_the_same_name_from_two_chains_never_mixes(network: Network) -> None:
    assert deliver(network.b, network.driver, incoming("gold", 5)).success
    # The same name arriving over another client (another chain) is another voucher.
    other = incoming("gold", 7, source_client="client-3", destination_client="client-8")
    assert deliver(network.b, network.driver, other).success
    assert balance(network.b, "org2/bob", GOLD_ON_B) == 5
    assert balance(network.b, "org2/bob", "transfer/client-8/gold") == 7


def test_a_counterparty_cannot_release_more_than_was_escrowed_for_it(network: Network) -> None:
    # 30 gold went to B. Then B's chain is compromised: 100 vouchers appear out of nothing and
    # are sent "home". A releases nothing: its escrow for B holds 30, and the error
    # acknowledgement gives B back its forged vouchers, not A's gold.
    network.send(network.a, "org1/alice", "gold", 30, "org2/bob")
    network.relay(2)
    forged = 100
    ok(
        run_driver(
            network, network.b, lambda context: bank.mint(context, "org2/admin", GOLD_ON_B, forged)
        )
    )
    home = network.send(network.b, "org2/admin", GOLD_ON_B, forged, "org1/alice")
    before = bank_state(network.a)
    network.relay()
    refused(
        network.acknowledgement_on_arrival(home),
        f"balance of {ESCROW_A} in gold is 30, less than the 100 needed",
    )
    assert bank_state(network.a) == before
    network.relay()
    assert network.sent(network.b, 1).state == "acknowledged"
    assert balance(network.b, "org2/admin", GOLD_ON_B) == forged
    assert balance(network.a, ESCROW_A, "gold") == 30


def test_tokens_escrowed_for_one_chain_cannot_be_released_by_another(network: Network) -> None:
    # 30 gold are escrowed for B; a packet from a third chain C (A's client-2, C's client-4)
    # claims gold of A is coming home from C. C's escrow is empty: nothing of B's moves.
    network.send(network.a, "org1/alice", "gold", 30, "org2/bob")
    from_c = incoming(
        "transfer/client-4/gold",
        30,
        source_client="client-4",
        destination_client="client-2",
    )
    refused(deliver(network.a, network.driver, from_c), "escrow:transfer/client-2 in gold is 0")
    assert balance(network.a, ESCROW_A, "gold") == 30


def test_a_client_id_that_extends_the_source_is_not_taken_for_it(network: Network) -> None:
    # "transfer/client-10/gold" did not leave over client-1: a foreign path, a new voucher.
    network.send(network.a, "org1/alice", "gold", 30, "org2/bob")
    lookalike = incoming(
        f"transfer/{B_CLIENT_OF_A}0/gold",
        5,
        source_client=B_CLIENT_OF_A,
        destination_client=A_CLIENT_OF_B,
    )
    assert deliver(network.a, network.driver, lookalike).success
    assert balance(network.a, ESCROW_A, "gold") == 30
    assert balance(network.a, "org2/bob", f"transfer/{A_CLIENT_OF_B}/transfer/client-10/gold") == 5


@pytest.mark.parametrize(
    ("packet", "fragment"),
    [
        (incoming("gold", version="ics20-2"), "version 'ics20-2' is not 'ics20-1'"),
        (incoming("gold", encoding="application/json"), "encoding 'application/json' is not"),
        (incoming("gold", source_port="router"), "from port 'router' to 'transfer'"),
        (incoming("gold", destination_port="other"), "from port 'transfer' to 'other'"),
        (incoming("gold", value=b"\xff\xff"), "not a valid TransferPacketData"),
        (
            incoming(
                "gold",
                value=encode(interchain_pb2.TransferPacketData(denom="gold", amount=1))
                + b"\x30\x01",
            ),
            "TransferPacketData",
        ),
        (incoming("gold", 0), "transfer amount must be positive, not 0"),
        (incoming(""), "transfer packet denomination is empty"),
        (incoming("go ld"), "is not a path of identifiers"),
        (incoming("gold", receiver=""), "transfer packet receiver account is empty"),
        (incoming("gold", receiver="bob\nsmith"), "outside visible ASCII"),
        (incoming("gold", receiver=ESCROW_B), "is an escrow account"),
        (incoming("gold", sender=""), "transfer packet sender account is empty"),
    ],
)
def test_a_malformed_packet_is_refused_with_the_reason_and_writes_nothing(
    network: Network, packet: interchain_pb2.Packet, fragment: str
) -> None:
    before = bank_state(network.b)
    refused(deliver(network.b, network.driver, packet), fragment)
    assert bank_state(network.b) == before


def test_a_refused_packet_leaves_no_event_of_transfer_or_bank(network: Network) -> None:
    packet = incoming("gold", receiver=ESCROW_B)

    def body(context: TransactionContext) -> None:
        savepoint = context.savepoint()
        try:
            transfer.HANDLER.on_receive(application(context), packet)
        except RequestError:
            context.rollback_to(savepoint)

    result = ok(run_driver(network, network.b, body))
    assert list(result.events) == []


# ---- acknowledgements and timeouts --------------------------------------------------------------


def test_a_packet_the_receiver_refuses_is_refunded_by_its_error_acknowledgement(
    network: Network,
) -> None:
    # B's voucher supply is full (filled by hand for the test): B refuses 40 more gold.
    ok(
        run_driver(
            network,
            network.b,
            lambda context: bank.mint(context, "org2/admin", GOLD_ON_B, bank.AMOUNT_MAX),
        )
    )
    packet = network.send(network.a, "org1/alice", "gold", 40, "org2/bob")
    network.relay()
    refused(network.acknowledgement_on_arrival(packet), "past 2^64-1")
    assert balance(network.b, "org2/bob", GOLD_ON_B) == 0
    network.relay()
    assert network.sent(network.a, 1).state == "acknowledged"
    assert balance(network.a, "org1/alice", "gold") == GOLD_ISSUED
    assert balance(network.a, ESCROW_A, "gold") == 0


def test_a_path_too_long_for_the_receiver_is_refused_and_refunded(network: Network) -> None:
    # A voucher of a third chain whose path, with B's prefix, would pass the limit.
    third = "transfer/client-9/" + "/".join(["x" * 63] * 3 + ["w" * 40])
    assert len(third) <= transfer.TRANSFER_DENOM_BYTES_MAX
    assert len(third) + len(f"transfer/{B_CLIENT_OF_A}/") > transfer.TRANSFER_DENOM_BYTES_MAX
    ok(run_driver(network, network.a, lambda context: bank.mint(context, "org1/alice", third, 3)))
    packet = network.send(network.a, "org1/alice", third, 3, "org2/bob")
    assert balance(network.a, ESCROW_A, third) == 3
    network.relay()
    refused(network.acknowledgement_on_arrival(packet), "above the limit of 256")
    network.relay()
    assert balance(network.a, "org1/alice", third) == 3
    assert balance(network.a, ESCROW_A, third) == 0


def test_a_success_acknowledgement_changes_nothing(network: Network) -> None:
    network.send(network.a, "org1/alice", "gold", 40, "org2/bob")
    network.relay()
    before = bank_state(network.a)
    network.relay()
    assert network.sent(network.a, 1).state == "acknowledged"
    assert bank_state(network.a) == before
    check_conservation(network)


def test_a_timeout_refunds_the_escrow(network: Network) -> None:
    network.send(network.a, "org1/alice", "gold", 40, "org2/bob", timeout_after_ms=5_000)
    check_conservation(network)
    network.b.advance(10)  # B's time passes the timeout before anyone relays
    network.relay()
    assert network.sent(network.a, 1).state == "timed_out"
    assert balance(network.a, "org1/alice", "gold") == GOLD_ISSUED
    assert balance(network.a, ESCROW_A, "gold") == 0
    assert network.received(network.b, 1) is None
    check_conservation(network)


def test_a_burned_voucher_is_minted_again_on_timeout(network: Network) -> None:
    network.send(network.a, "org1/alice", "gold", 50, "org2/bob")
    network.relay(2)
    network.send(network.b, "org2/bob", GOLD_ON_B, 20, "org1/alice", timeout_after_ms=5_000)
    assert bank_supply(network.b, GOLD_ON_B) == 30
    check_conservation(network)
    network.a.advance(10)
    network.relay()
    assert network.sent(network.b, 1).state == "timed_out"
    assert balance(network.b, "org2/bob", GOLD_ON_B) == 50
    assert bank_supply(network.b, GOLD_ON_B) == 50
    check_conservation(network)


def test_conservation_holds_through_a_stream_of_transfers_both_ways(network: Network) -> None:
    issued = interchain_pb2.BankIssueArguments(denom="gold", account="org2/admin", amount=500)
    ok(network.a.run("org1/admin", "bank", "issue", issued))
    for sender, amount, receiver in (
        ("org1/alice", 100, "org2/bob"),
        ("org2/admin", 70, "org1/alice"),
        ("org2/admin", 1, "org2/admin"),
    ):
        network.send(network.a, sender, "gold", amount, receiver)
        check_conservation(network)
    network.send(network.a, "org1/alice", "gold", 33, "org2/bob", timeout_after_ms=3_000)
    check_conservation(network)
    network.b.advance(5)
    network.relay()  # three received on B; the fourth is past its timeout
    check_conservation(network)
    network.send(network.b, "org2/bob", GOLD_ON_B, 60, "org2/admin")
    check_conservation(network)
    network.relay()  # acknowledged and timed out on A; the voucher received on A
    check_conservation(network)
    network.send(network.b, "org1/alice", GOLD_ON_B, 70, "org1/alice", timeout_after_ms=3_000)
    network.a.advance(5)
    check_conservation(network)
    network.relay(2)
    check_conservation(network)
    assert network.in_flight(network.a, ("gold",)) == 0
    assert network.in_flight(network.b, (GOLD_ON_B,)) == 0
    assert [network.sent(network.a, sequence).state for sequence in (1, 2, 3, 4)] == [
        "acknowledged",
        "acknowledged",
        "acknowledged",
        "timed_out",
    ]
    assert [network.sent(network.b, sequence).state for sequence in (1, 2)] == [
        "acknowledged",
        "timed_out",
    ]
    assert balance(network.a, ESCROW_A, "gold") == 100 + 70 + 1 - 60
    assert bank_supply(network.b, GOLD_ON_B) == 100 + 70 + 1 - 60


def test_a_refund_needs_only_what_was_taken_not_the_receive_rules(network: Network) -> None:
    # A packet this chain sent earlier, under rules that let its receiver and memo through (a
    # later upgrade tightened them): its timeout still refunds the sender.
    network.send(network.a, "org1/alice", "gold", 40, "org2/bob")
    sent = network.sent(network.a, 1).packet
    data = data_of(sent)
    data.receiver = "now refused"
    data.memo = b"m" * (transfer.TRANSFER_MEMO_BYTES_MAX + 1)
    earlier = interchain_pb2.Packet()
    earlier.CopyFrom(sent)
    earlier.payload.value = encode(data)
    result = ok(
        run_driver(
            network,
            network.a,
            lambda context: transfer.HANDLER.on_timeout(application(context), earlier),
        )
    )
    assert [event.name for event in result.events] == ["move", "refund"]
    assert balance(network.a, "org1/alice", "gold") == GOLD_ISSUED
