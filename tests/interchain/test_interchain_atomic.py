"""Atomic transactions end to end over a hub and two member chains, in process, through the real
packets contract and relayer: one that commits on both chains, one that aborts with nothing
moved, a TRY delayed past its cancel (and the canary that prepares it anyway), two legs
contending for one key, a kv deletion and a port call committed."""

from __future__ import annotations

import pytest
from atomic_network import (
    A_OF_H,
    GOLD_ISSUED,
    H_OF_A,
    AtomicNetwork,
    bank_leg,
    build_network,
    counter,
    gold,
    kv_leg,
    kv_value,
    lock_count,
    port_leg,
)
from bank_chain import assert_supply_is_sum_of_balances
from interchain_chain import Endpoint

from causeway.contracts.v1 import contracts_pb2
from causeway.interchain import LinkEnd, Relayer, keys
from causeway.interchain.v1 import atomic_pb2

COMMIT = atomic_pb2.ATOMIC_OUTCOME_COMMIT
ABORT = atomic_pb2.ATOMIC_OUTCOME_ABORT
PREPARED = atomic_pb2.ATOMIC_LEG_STATE_PREPARED
CONFIRMED = atomic_pb2.ATOMIC_LEG_STATE_CONFIRMED
CANCELLED = atomic_pb2.ATOMIC_LEG_STATE_CANCELLED
REFUSED = atomic_pb2.ATOMIC_LEG_STATE_REFUSED


@pytest.fixture(scope="module")
def network() -> AtomicNetwork:
    return build_network()


def events(network: AtomicNetwork, name: str) -> list[dict[str, str]]:
    found = []
    for chain in (network.a, network.h, network.b):
        for committed in chain.blocks.values():
            for result in committed.results:
                for event in result.events:
                    if event.name == name:
                        found.append(
                            {"chain": chain.chain_id}
                            | {attribute.key: attribute.value for attribute in event.attributes}
                        )
    return found


def test_a_transaction_commits_on_both_chains(network: AtomicNetwork) -> None:
    body = network.body([bank_leg("chain-a", 10), kv_leg("chain-b", expect_absent=True)])
    transaction = network.begin(body)
    record = network.hub_record(transaction)
    assert [leg.try_sequence for leg in record.legs] == [1, 1]
    assert keys.ATOMIC_NAMESPACE + keys.atomic_open_key(body.deadline_ms, transaction) in (
        network.h.state
    )
    network.relay()  # the TRYs are received: both legs prepared
    first = network.leg(network.a, transaction, 0)
    assert first is not None and first.state == PREPARED
    assert gold(network.a) == GOLD_ISSUED - 10
    assert gold(network.a, first.reserve_account) == 10
    assert lock_count(network.b) == 1
    assert kv_value(network.b, b"registrations/42") is None  # waits in the leg record
    network.relay()  # the votes reach the hub: COMMIT, DECISIONs sent
    decision = network.decision(transaction)
    assert decision is not None and decision.outcome == COMMIT
    assert keys.ATOMIC_NAMESPACE + keys.atomic_open_key(body.deadline_ms, transaction) not in (
        network.h.state
    )
    network.relay()  # the DECISIONs are received
    network.relay()  # and acknowledged on the hub
    for chain, index in ((network.a, 0), (network.b, 1)):
        leg = network.leg(chain, transaction, index)
        assert leg is not None and leg.state == CONFIRMED
    assert gold(network.a, "org2/bob") == 10
    assert gold(network.a, keys.reserve_account(transaction, 0)) == 0
    assert kv_value(network.b, b"registrations/42") == b"registered"
    assert lock_count(network.b) == 0
    assert [leg.final_state for leg in network.hub_record(transaction).legs] == [
        CONFIRMED,
        CONFIRMED,
    ]
    assert_supply_is_sum_of_balances(network.a.state)
    decided = [event for event in events(network, "atomic_decided")]
    assert {"chain": "hub", "transaction_id": transaction.hex()}.items() <= decided[-1].items()
    confirmed = [
        e for e in events(network, "atomic_confirmed") if e["transaction_id"] == transaction.hex()
    ]
    assert sorted((e["chain"], e["leg_index"]) for e in confirmed) == [
        ("chain-a", "0"),
        ("chain-b", "1"),
    ]


def test_a_failing_leg_aborts_and_nothing_moves(network: AtomicNetwork) -> None:
    alice_a, bob_a = gold(network.a), gold(network.a, "org2/bob")
    before = kv_value(network.b, b"registrations/42")
    assert before is not None
    visits = counter(network.a)
    body = network.body(
        [
            bank_leg("chain-a", 25),
            kv_leg("chain-b", value=b"again", expect_absent=True),  # the key exists: NO
            port_leg("chain-a"),
        ]
    )
    transaction = network.begin(body)
    network.relay(4)
    decision = network.decision(transaction)
    assert decision is not None and decision.outcome == ABORT
    assert "leg 1 voted NO" in decision.reason
    assert [
        network.leg(c, transaction, i).state
        for c, i in ((network.a, 0), (network.b, 1), (network.a, 2))
    ] == [CANCELLED, REFUSED, CANCELLED]  # type: ignore[union-attr]
    assert all(
        network.marker(c, transaction, i)
        for c, i in ((network.a, 0), (network.b, 1), (network.a, 2))
    )
    assert (gold(network.a), gold(network.a, "org2/bob")) == (alice_a, bob_a)
    assert kv_value(network.b, b"registrations/42") == before
    assert counter(network.a) == visits
    assert lock_count(network.a) == lock_count(network.b) == 0
    assert_supply_is_sum_of_balances(network.a.state)


def deliver_without(network: AtomicNetwork, skipped: set[int]) -> None:
    """One round on the hub-A link in which the receives of A's packets with these sequences
    are held back (a relayer delaying them)."""
    relayer = Relayer()
    plan = relayer.plan_round(
        LinkEnd(Endpoint(network.h), H_OF_A), LinkEnd(Endpoint(network.a), A_OF_H)
    )
    for _end, batch in plan.deliveries:
        kept = [item for item in batch.receives if item.packet.sequence not in skipped]
        del batch.receives[:]
        batch.receives.extend(kept)
    plan.finish([relayer.deliver(end, batch) for end, batch in plan.deliveries])


@pytest.mark.parametrize("canary", [False, True])
def test_a_try_delayed_past_its_cancel_locks_nothing(canary: bool) -> None:
    """B refuses, the hub aborts, and A receives the ABORT before the TRY (a relayer held the
    TRY back): the cancel marker refuses the TRY. With the canary flag the TRY prepares after its
    cancel, which is the violation the simulator's checker must catch."""
    network = build_network(unsafe_ignore_cancel_marker=canary)
    network.b.run("org2/bob", "kv", "put", kv_put(b"taken", b"x"))
    body = network.body(
        [bank_leg("chain-a", 9), kv_leg("chain-b", key=b"taken", expect_absent=True)]
    )
    transaction = network.begin(body)
    try_sequence = network.hub_record(transaction).legs[0].try_sequence
    network.relay_b()
    network.relay_b()  # the NO: ABORT, DECISIONs sent
    assert network.decision(transaction).outcome == ABORT  # type: ignore[union-attr]
    deliver_without(network, {try_sequence})  # A gets the ABORT only
    assert network.marker(network.a, transaction, 0)
    alice = gold(network.a)
    network.relay_a()  # now the TRY
    leg = network.leg(network.a, transaction, 0)
    assert leg is not None
    if canary:
        assert leg.state == PREPARED and gold(network.a) == alice - 9
    else:
        assert leg.state == CANCELLED and gold(network.a) == alice
        network.relay(2)
        assert network.hub_record(transaction).legs[0].vote == atomic_pb2.ATOMIC_VOTE_NO
        assert lock_count(network.a) == 0


def test_two_legs_contending_for_one_key_abort_and_release_it() -> None:
    network = build_network()
    body = network.body(
        [
            kv_leg("chain-a", key=b"contended", value=b"one"),
            kv_leg("chain-a", key=b"contended", value=b"two"),
        ]
    )
    transaction = network.begin(body)
    network.relay(4)
    decision = network.decision(transaction)
    assert decision is not None and decision.outcome == ABORT
    assert "is locked by atomic transaction" in decision.reason
    states = [network.leg(network.a, transaction, index).state for index in (0, 1)]  # type: ignore[union-attr]
    assert states == [CANCELLED, REFUSED]
    assert kv_value(network.a, b"contended") is None and lock_count(network.a) == 0


def test_a_kv_leg_that_deletes_commits_the_deletion() -> None:
    network = build_network()
    network.b.run("org2/bob", "kv", "put", kv_put(b"old", b"value"))
    body = network.body([kv_leg("chain-b", key=b"old", delete=True), port_leg("chain-a")])
    transaction = network.begin(body)
    network.relay(3)
    assert network.decision(transaction).outcome == COMMIT  # type: ignore[union-attr]
    assert kv_value(network.b, b"old") is None
    assert counter(network.a) == 1


def kv_put(key: bytes, value: bytes) -> contracts_pb2.KvPutArguments:
    return contracts_pb2.KvPutArguments(key=key, value=value)
