"""Atomic transactions end to end over a hub and two member chains, in process, through the real
packets contract and relayer: one that commits on both chains, one that aborts with nothing
moved, and the hub's decision rules (one decision, never changed; decide after the deadline)."""

from __future__ import annotations

import pytest
from atomic_network import (
    GOLD_ISSUED,
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

from causeway.interchain import keys
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
