"""Fungible token transfer (ICS-20) between two real chains, A and B (transfer_network.py: how
the packets contract is played, and the conservation checker, which holds at every step)."""

from __future__ import annotations

import pytest
from bank_chain import balance, ok, status
from transfer_network import (
    A_CLIENT_OF_B,
    B_CLIENT_OF_A,
    ESCROW_A,
    ESCROW_B,
    GOLD_ON_B,
    TIMEOUT_MS,
    Network,
    acknowledge,
    application,
    bank_supply,
    check_conservation,
    data_of,
    deliver,
    incoming,
    refused,
    stand_in_packets,
    time_out,
    two_chains,
)

from causeway.errors import RequestError
from causeway.execution import TransactionContext
from causeway.interchain import bank, transfer
from causeway.interchain.v1 import interchain_pb2
from causeway.types import encode


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> Network:
    return two_chains(stand_in_packets(monkeypatch))


# ---- sending -------------------------------------------------------------------------------------


def test_sending_a_native_denomination_escrows_it(network: Network) -> None:
    packet = network.send(network.a, "org1/alice", "gold", 40, "org2/bob")
    assert balance(network.a, "org1/alice", "gold") == 960
    assert balance(network.a, ESCROW_A, "gold") == 40
    assert (packet.source_client, packet.sequence, packet.timeout_ms) == (
        A_CLIENT_OF_B,
        1,
        TIMEOUT_MS,
    )
    payload = packet.payload
    assert (payload.source_port, payload.destination_port) == ("transfer", "transfer")
    assert (payload.version, payload.encoding) == ("ics20-1", "application/x-protobuf")
    assert data_of(packet) == interchain_pb2.TransferPacketData(
        denom="gold", amount=40, sender="org1/alice", receiver="org2/bob"
    )
    # The canonical form: what the receiving chain's strict decoding takes.
    assert encode(data_of(packet)) == payload.value
    check_conservation(network, "gold")


def test_send_reports_the_sequence_and_emits_the_transfer(network: Network) -> None:
    arguments = interchain_pb2.TransferSendArguments(
        source_client=A_CLIENT_OF_B,
        denom="gold",
        amount=5,
        receiver="org2/bob",
        timeout_ms=TIMEOUT_MS,
        memo=b"for the harvest",
    )
    ok(network.a.run("org1/alice", "transfer", "send", arguments))
    result = ok(network.a.run("org1/alice", "transfer", "send", arguments))
    assert interchain_pb2.TransferSendResult.FromString(result.return_value).sequence == 2
    assert [(event.contract, event.name) for event in result.events] == [
        ("bank", "move"),
        ("transfer", "send"),
    ]
    assert dict((a.key, a.value) for a in result.events[1].attributes) == {
        "source_client": A_CLIENT_OF_B,
        "sequence": "2",
        "sender": "org1/alice",
        "receiver": "org2/bob",
        "denom": "gold",
        "amount": "5",
    }
    assert data_of(network.packets.sent[-1]).memo == b"for the harvest"


def test_a_voucher_going_home_is_burned(network: Network) -> None:
    out = network.send(network.a, "org1/alice", "gold", 30, "org2/bob")
    assert network.deliver(out).success
    assert balance(network.b, "org2/bob", GOLD_ON_B) == 30
    check_conservation(network, "gold")
    home = network.send(network.b, "org2/bob", GOLD_ON_B, 12, "org1/alice")
    # Burned, not escrowed: B's escrow stays empty and the voucher supply falls.
    assert bank_supply(network.b, GOLD_ON_B) == 18
    assert balance(network.b, ESCROW_B, GOLD_ON_B) == 0
    assert data_of(home).denom == GOLD_ON_B
    check_conservation(network, "gold")


def test_a_voucher_of_a_third_chain_is_escrowed_not_burned(network: Network) -> None:
    # A voucher that came to B from a third chain (over B's client-9) goes on to A: it leaves B,
    # so it is escrowed on B, and A mints a voucher of its path.
    third = "transfer/client-9/silver"
    network.driver_b.body = lambda context: bank.mint(context, "org2/bob", third, 8)
    ok(network.b.run("org2/bob", "driver", "run"))
    packet = network.send(network.b, "org2/bob", third, 8, "org1/alice")
    assert balance(network.b, ESCROW_B, third) == 8
    assert bank_supply(network.b, third) == 8
    assert network.deliver(packet).success
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
        ({"receiver": "escrow:transfer/client-7"}, "INVALID_ARGUMENT", "is an escrow account"),
        ({"source_client": "client-1/x"}, "INVALID_ARGUMENT", "escrow client id"),
        ({"source_client": "client-5"}, "NOT_FOUND", "client client-5 does not exist"),
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
        "timeout_ms": TIMEOUT_MS,
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


# ---- receiving -----------------------------------------------------------------------------------


def test_receiving_a_foreign_denomination_mints_a_voucher_of_its_path(network: Network) -> None:
    packet = incoming("gold", 25)
    acknowledgement = deliver(network.b, network.driver_b, packet)
    assert acknowledgement == interchain_pb2.Acknowledgement(success=True)
    assert balance(network.b, "org2/bob", GOLD_ON_B) == 25
    assert bank_supply(network.b, GOLD_ON_B) == 25
    assert bank_supply(network.b, "gold") == 0


def test_a_denomination_of_the_same_name_from_two_chains_never_mixes(network: Network) -> None:
    assert deliver(network.b, network.driver_b, incoming("gold", 5)).success
    # The same name arriving over another client (another chain) is another voucher.
    other = incoming("gold", 7, source_client="client-3", destination_client="client-8")
    assert deliver(network.b, network.driver_b, other).success
    assert balance(network.b, "org2/bob", GOLD_ON_B) == 5
    assert balance(network.b, "org2/bob", "transfer/client-8/gold") == 7


def test_tokens_coming_home_are_released_from_the_escrow_they_left_by(network: Network) -> None:
    out = network.send(network.a, "org1/alice", "gold", 50, "org2/bob")
    assert network.deliver(out).success
    home = network.send(network.b, "org2/bob", GOLD_ON_B, 20, "org2/admin")
    acknowledgement = network.deliver(home)
    assert acknowledgement.success
    assert balance(network.a, "org2/admin", "gold") == 20
    assert balance(network.a, ESCROW_A, "gold") == 30
    # Released, not minted: A's supply of gold never moved.
    assert bank_supply(network.a, "gold") == 1_000
    assert bank_supply(network.a, f"transfer/{A_CLIENT_OF_B}/{GOLD_ON_B}") == 0
    check_conservation(network, "gold")


def test_a_counterparty_cannot_release_more_than_was_escrowed_for_it(network: Network) -> None:
    # B's chain (or whoever forges its packets) claims 100 gold is coming home; only 30 went.
    network.send(network.a, "org1/alice", "gold", 30, "org2/bob")
    before = dict(network.a.state)
    forged = incoming(
        GOLD_ON_B,
        100,
        receiver="org2/bob",
        source_client=B_CLIENT_OF_A,
        destination_client=A_CLIENT_OF_B,
    )
    acknowledgement = deliver(network.a, network.driver_a, forged)
    refused(acknowledgement, f"balance of {ESCROW_A} in gold is 30, less than the 100 needed")
    assert {key: value for key, value in network.a.state.items() if key.startswith(b"bank/")} == {
        key: value for key, value in before.items() if key.startswith(b"bank/")
    }


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
    refused(deliver(network.a, network.driver_a, from_c), "escrow:transfer/client-2 in gold is 0")
    assert balance(network.a, ESCROW_A, "gold") == 30


def test_a_client_id_that_extends_the_source_is_not_taken_for_it(network: Network) -> None:
    # "transfer/client-70/gold" did not leave over client-7: it is a foreign path, a new voucher.
    network.send(network.a, "org1/alice", "gold", 30, "org2/bob")
    lookalike = incoming(
        f"transfer/{B_CLIENT_OF_A}0/gold",
        5,
        source_client=B_CLIENT_OF_A,
        destination_client=A_CLIENT_OF_B,
    )
    assert deliver(network.a, network.driver_a, lookalike).success
    assert balance(network.a, ESCROW_A, "gold") == 30
    assert balance(network.a, "org2/bob", f"transfer/{A_CLIENT_OF_B}/transfer/client-70/gold") == 5


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
    before = {key: value for key, value in network.b.state.items() if key.startswith(b"bank/")}
    refused(deliver(network.b, network.driver_b, packet), fragment)
    after = {key: value for key, value in network.b.state.items() if key.startswith(b"bank/")}
    assert after == before


def test_a_refused_packet_leaves_no_event_of_transfer_or_bank(network: Network) -> None:
    packet = incoming("gold", receiver=ESCROW_B)

    def body(context: TransactionContext) -> None:
        savepoint = context.savepoint()
        try:
            transfer.HANDLER.on_receive(application(context), packet)
        except RequestError:
            context.rollback_to(savepoint)

    network.driver_b.body = body
    result = ok(network.b.run("org1/relayer", "driver", "run"))
    assert list(result.events) == []


# ---- acknowledgements and timeouts ---------------------------------------------------------------


def test_an_error_acknowledgement_refunds_the_escrow(network: Network) -> None:
    packet = network.send(network.a, "org1/alice", "gold", 40, "org2/bob")
    check_conservation(network, "gold")
    error = interchain_pb2.Acknowledgement(success=False, error="refused by B")
    network.acknowledge(packet, error)
    assert balance(network.a, "org1/alice", "gold") == 1_000
    assert balance(network.a, ESCROW_A, "gold") == 0
    check_conservation(network, "gold")


def test_a_success_acknowledgement_changes_nothing(network: Network) -> None:
    packet = network.send(network.a, "org1/alice", "gold", 40, "org2/bob")
    assert network.deliver(packet).success
    before = dict(network.a.state)
    result = acknowledge(
        network.a, network.driver_a, packet, interchain_pb2.Acknowledgement(success=True)
    )
    ok(result)
    assert list(result.events) == []
    assert {k: v for k, v in network.a.state.items() if k.startswith(b"bank/")} == {
        k: v for k, v in before.items() if k.startswith(b"bank/")
    }
    check_conservation(network, "gold")


def test_a_timeout_refunds_the_escrow(network: Network) -> None:
    packet = network.send(network.a, "org1/alice", "gold", 40, "org2/bob")
    result = time_out(network.a, network.driver_a, packet)
    ok(result)
    network.in_flight.remove(packet)
    assert balance(network.a, "org1/alice", "gold") == 1_000
    refund = [event for event in result.events if event.name == "refund"]
    assert dict((a.key, a.value) for a in refund[0].attributes)["reason"] == "timeout"
    check_conservation(network, "gold")


def test_a_burned_voucher_is_minted_again_on_error_or_timeout(network: Network) -> None:
    assert network.deliver(network.send(network.a, "org1/alice", "gold", 50, "org2/bob")).success
    first = network.send(network.b, "org2/bob", GOLD_ON_B, 20, "org1/alice")
    second = network.send(network.b, "org2/bob", GOLD_ON_B, 5, "org1/alice")
    assert bank_supply(network.b, GOLD_ON_B) == 25
    check_conservation(network, "gold")
    network.acknowledge(first, interchain_pb2.Acknowledgement(success=False, error="no"))
    check_conservation(network, "gold")
    network.time_out(second)
    assert balance(network.b, "org2/bob", GOLD_ON_B) == 50
    assert bank_supply(network.b, GOLD_ON_B) == 50
    check_conservation(network, "gold")


def test_an_error_acknowledgement_after_a_refused_receive_refunds_exactly_once(
    network: Network,
) -> None:
    # B refuses a well-formed packet: its voucher supply is full (filled by hand for the test).
    network.driver_b.body = lambda context: bank.mint(
        context, "org2/admin", GOLD_ON_B, bank.AMOUNT_MAX
    )
    ok(network.b.run("org2/admin", "driver", "run"))
    packet = network.send(network.a, "org1/alice", "gold", 40, "org2/bob")
    acknowledgement = network.deliver(packet)
    refused(acknowledgement, "past 2^64-1")
    # (The checker does not apply here: B's vouchers were minted by hand, not sent by A.)
    network.acknowledge(packet, acknowledgement)
    assert balance(network.a, "org1/alice", "gold") == 1_000
    assert balance(network.a, ESCROW_A, "gold") == 0
    assert network.in_flight == []


def test_conservation_holds_through_a_stream_of_transfers_both_ways(network: Network) -> None:
    ok(
        network.a.run(
            "org1/admin",
            "bank",
            "issue",
            interchain_pb2.BankIssueArguments(denom="gold", account="org2/admin", amount=500),
        )
    )
    outgoing = [
        network.send(network.a, sender, "gold", amount, receiver)
        for sender, amount, receiver in (
            ("org1/alice", 100, "org2/bob"),
            ("org2/admin", 70, "org1/alice"),
            ("org1/alice", 33, "org2/bob"),
            ("org2/admin", 1, "org2/admin"),
        )
    ]
    check_conservation(network, "gold")
    network.deliver(outgoing[0])
    network.deliver(outgoing[1])
    check_conservation(network, "gold")
    network.time_out(outgoing[2])
    check_conservation(network, "gold")
    back = network.send(network.b, "org2/bob", GOLD_ON_B, 60, "org2/admin")
    check_conservation(network, "gold")
    network.deliver(outgoing[3])
    network.deliver(back)
    check_conservation(network, "gold")
    back_again = network.send(network.b, "org1/alice", GOLD_ON_B, 70, "org1/alice")
    network.acknowledge(back_again, interchain_pb2.Acknowledgement(success=False, error="x"))
    check_conservation(network, "gold")
    assert network.in_flight == []
    assert balance(network.a, ESCROW_A, "gold") == 100 + 70 + 1 - 60
    assert bank_supply(network.b, GOLD_ON_B) == 100 + 70 + 1 - 60
