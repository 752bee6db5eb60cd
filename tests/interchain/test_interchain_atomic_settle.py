"""Decisions delivered by proof (atomic.settle), the relayer's atomic duties (the decide sweep on
the hub, settle on participants), governance of the participant (register_hub, bind_port) and
its read methods (leg, prepared)."""

from __future__ import annotations

import pytest
from atomic_network import (
    A_OF_H,
    B_OF_H,
    H_OF_A,
    H_OF_B,
    HUB,
    AtomicNetwork,
    bank_leg,
    build_network,
    gold,
    kv_leg,
)
from bank_chain import ok
from interchain_chain import Endpoint

from causeway.errors import InvariantError
from causeway.execution import CONTRACTS
from causeway.interchain import CHAIN_CONTRACTS, LinkEnd, Relayer, atomic, chain_contracts, keys
from causeway.interchain.atomic import AtomicApplication, AtomicPort, CounterPortHandler
from causeway.interchain.v1 import atomic_pb2
from causeway.types import decode
from causeway.types.v1 import types_pb2

COMMIT = atomic_pb2.ATOMIC_OUTCOME_COMMIT
ABORT = atomic_pb2.ATOMIC_OUTCOME_ABORT
PREPARED = atomic_pb2.ATOMIC_LEG_STATE_PREPARED
CONFIRMED = atomic_pb2.ATOMIC_LEG_STATE_CONFIRMED
CANCELLED = atomic_pb2.ATOMIC_LEG_STATE_CANCELLED


def hub_link(network: AtomicNetwork) -> tuple[LinkEnd, LinkEnd]:
    return LinkEnd(Endpoint(network.h), H_OF_A), LinkEnd(Endpoint(network.a), A_OF_H)


def decided_not_delivered(network: AtomicNetwork) -> bytes:
    """A one-leg COMMIT on A: prepared, voted, decided; the DECISION packet not yet received."""
    transaction = network.begin(network.body([bank_leg("chain-a", 4)]))
    network.relay_a()
    network.relay_a()
    decision = network.decision(transaction)
    assert decision is not None and decision.outcome == COMMIT
    leg = network.leg(network.a, transaction, 0)
    assert leg is not None and leg.state == PREPARED
    return transaction


def settle_only_plan(
    network: AtomicNetwork, relayer: Relayer
) -> tuple[list[atomic_pb2.AtomicSettleArguments], object]:
    """A round on the hub-A link that skips every packet (the settle-only fault): what it would
    settle on A, and the plan to deliver."""
    plan = relayer.plan_round(*hub_link(network))
    settles: list[atomic_pb2.AtomicSettleArguments] = []
    for end, batch in plan.deliveries:
        batch.receives.clear()
        batch.acknowledgements.clear()
        batch.timeouts.clear()
        if end.endpoint.chain_id == "chain-a":
            settles = list(batch.settles)
    return settles, plan


def test_the_relayer_settles_a_prepared_leg_by_proof() -> None:
    network = build_network()
    transaction = decided_not_delivered(network)
    relayer = Relayer(settle_after_ms=0)
    settles, plan = settle_only_plan(network, relayer)
    assert [(s.hub_chain_id, s.leg_index) for s in settles] == [(HUB, 0)]
    report = plan.finish([relayer.deliver(end, batch) for end, batch in plan.deliveries])  # type: ignore[attr-defined]
    assert report.settles == {"chain-a": 1}
    leg = network.leg(network.a, transaction, 0)
    assert leg is not None and leg.state == CONFIRMED
    assert gold(network.a, "org2/bob") == 4
    # The DECISION packet arrives later: a no-op that reports the final state.
    network.relay(2)
    assert network.hub_record(transaction).legs[0].final_state == CONFIRMED
    assert gold(network.a, "org2/bob") == 4


def test_the_relayer_waits_settle_after_ms_for_the_packet() -> None:
    network = build_network()
    decided_not_delivered(network)
    settles, _plan = settle_only_plan(network, Relayer(settle_after_ms=3_600_000))
    assert settles == []


@pytest.fixture(scope="module")
def proven() -> tuple[AtomicNetwork, bytes, atomic_pb2.AtomicSettleArguments]:
    """A decided leg, A's client of the hub updated to a height that holds the decision, and the
    settle a relayer would send (not sent)."""
    network = build_network()
    transaction = decided_not_delivered(network)
    relayer = Relayer(settle_after_ms=0)
    settles, plan = settle_only_plan(network, relayer)
    for end, batch in plan.deliveries:  # type: ignore[attr-defined]
        batch.settles.clear()
        relayer.deliver(end, batch)  # the client update only
    (settle,) = settles
    return network, transaction, settle


def settle_on_a(
    network: AtomicNetwork, arguments: atomic_pb2.AtomicSettleArguments
) -> types_pb2.TransactionResult:
    return network.a.run("org2/bob", "atomic", "settle", arguments)


def _flip(arguments: atomic_pb2.AtomicSettleArguments) -> None:
    arguments.decision.outcome = ABORT


def _other_time(arguments: atomic_pb2.AtomicSettleArguments) -> None:
    arguments.decision.decided_time_ms += 1


def _no_state(arguments: atomic_pb2.AtomicSettleArguments) -> None:
    arguments.proof_height += 1_000


def _cut_proof(arguments: atomic_pb2.AtomicSettleArguments) -> None:
    del arguments.proof.siblings[-1:]


BAD_SETTLES = {
    "flipped outcome": (_flip, "does not verify"),
    "another decision time": (_other_time, "does not verify"),
    "height without a state": (_no_state, "height"),
    "cut proof": (_cut_proof, "does not verify"),
    "unregistered hub": (
        lambda arguments: setattr(arguments, "hub_chain_id", "chain-b"),
        "not registered as an atomic hub",
    ),
    "leg index": (lambda arguments: setattr(arguments, "leg_index", 8), "above 7"),
    "short id": (
        lambda arguments: setattr(arguments.decision, "transaction_id", b"x" * 31),
        "32 bytes, not 31",
    ),
    "no outcome": (
        lambda arguments: setattr(arguments.decision, "outcome", 0),
        "neither COMMIT nor ABORT",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SETTLES))
def test_a_forged_or_wrong_settle_is_refused_and_changes_nothing(
    proven: tuple[AtomicNetwork, bytes, atomic_pb2.AtomicSettleArguments], case: str
) -> None:
    network, transaction, settle = proven
    edit, words = BAD_SETTLES[case]
    arguments = atomic_pb2.AtomicSettleArguments()
    arguments.CopyFrom(settle)
    edit(arguments)  # type: ignore[operator]
    before = dict(network.a.state)
    result = settle_on_a(network, arguments)
    assert result.status != types_pb2.RESULT_STATUS_OK
    assert words in result.error
    assert network.a.state == before
    assert network.leg(network.a, transaction, 0).state == PREPARED  # type: ignore[union-attr]


def test_a_proof_of_another_transactions_decision_is_refused(
    proven: tuple[AtomicNetwork, bytes, atomic_pb2.AtomicSettleArguments],
) -> None:
    network, _transaction, settle = proven
    arguments = atomic_pb2.AtomicSettleArguments()
    arguments.CopyFrom(settle)
    arguments.decision.transaction_id = bytes(32)
    result = settle_on_a(network, arguments)
    assert "does not verify" in result.error


def test_a_proven_commit_for_a_leg_never_prepared_is_an_anomaly(
    proven: tuple[AtomicNetwork, bytes, atomic_pb2.AtomicSettleArguments],
) -> None:
    network, transaction, settle = proven
    arguments = atomic_pb2.AtomicSettleArguments()
    arguments.CopyFrom(settle)
    arguments.leg_index = 3  # no such leg on A
    before = dict(network.a.state)
    result = ok(settle_on_a(network, arguments))
    assert [event.name for event in result.events] == ["atomic_anomaly"]
    assert network.a.state == before
    assert network.leg(network.a, transaction, 3) is None


def test_the_proven_decision_settles_once(
    proven: tuple[AtomicNetwork, bytes, atomic_pb2.AtomicSettleArguments],
) -> None:
    network, transaction, settle = proven
    first = ok(settle_on_a(network, settle))
    assert atomic_pb2.AtomicLegFinal.FromString(first.return_value).state == CONFIRMED
    assert [event.name for event in first.events].count("atomic_confirmed") == 1
    bob = gold(network.a, "org2/bob")
    second = ok(settle_on_a(network, settle))
    assert not [event for event in second.events if event.name == "atomic_confirmed"]
    assert gold(network.a, "org2/bob") == bob
    assert network.leg(network.a, transaction, 0).state == CONFIRMED  # type: ignore[union-attr]


# -- the decide sweep -----------------------------------------------------------------------------


def test_the_relayer_sweeps_expired_transactions_on_the_hub() -> None:
    network = build_network()
    # Only B's link would carry this transaction; only A's link is relayed.
    transaction = network.begin(network.body([kv_leg("chain-b")], deadline_after_ms=10_000))
    relayer = Relayer()
    report = relayer.relay_round(*hub_link(network))
    assert report.decides == {}  # before the deadline: nothing to do
    for chain in (network.a, network.h, network.b):
        chain.advance(11)
    report = relayer.relay_round(*hub_link(network))
    assert report.decides == {HUB: 1}
    decision = network.decision(transaction)
    assert decision is not None and decision.outcome == ABORT
    report = relayer.relay_round(*hub_link(network))
    assert report.decides == {}


def test_a_relayer_without_atomic_duties_neither_decides_nor_settles() -> None:
    network = build_network()
    network.begin(network.body([kv_leg("chain-b")], deadline_after_ms=10_000))
    for chain in (network.a, network.h, network.b):
        chain.advance(11)
    report = Relayer(atomic_duties=False).relay_round(*hub_link(network))
    assert report.decides == {} and report.settles == {}
    with pytest.raises(ValueError, match="settle_after_ms"):
        Relayer(settle_after_ms=-1)


# -- governance -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def network() -> AtomicNetwork:
    return build_network()


@pytest.mark.parametrize(
    ("hub", "client", "words"),
    [
        ("chain-x", A_OF_H, "follows chain 'hub', not 'chain-x'"),
        ("chain-a", A_OF_H, "not a participant of itself"),
        ("no hub", A_OF_H, "is not an identifier"),
        (HUB, "client-9", "client-9"),
        (HUB, "no client", "is not an identifier"),
    ],
)
def test_register_hub_refuses_bad_input(
    network: AtomicNetwork, hub: str, client: str, words: str
) -> None:
    before = dict(network.a.state)
    result = network.a.governance(
        "atomic",
        "register_hub",
        atomic_pb2.AtomicRegisterHubArguments(hub_chain_id=hub, client_id=client),
    )
    assert result.status != types_pb2.RESULT_STATUS_OK and words in result.error
    assert network.a.state == before


def test_register_hub_and_bind_port_are_governance(network: AtomicNetwork) -> None:
    before = dict(network.a.state)
    for method, arguments in (
        ("register_hub", atomic_pb2.AtomicRegisterHubArguments(hub_chain_id=HUB, client_id=A_OF_H)),
        ("bind_port", atomic_pb2.AtomicBindPortArguments(port=atomic.TEST_PORT)),
    ):
        result = network.a.run("org1/alice", "atomic", method, arguments)
        assert result.status == types_pb2.RESULT_STATUS_ENDORSEMENT_POLICY_NOT_SATISFIED
    assert network.a.state == before


def test_bind_port_refuses_an_unknown_or_bound_port(network: AtomicNetwork) -> None:
    before = dict(network.a.state)
    unknown = network.a.governance(
        "atomic", "bind_port", atomic_pb2.AtomicBindPortArguments(port="nowhere")
    )
    assert "no application is registered" in unknown.error
    again = network.a.governance(
        "atomic", "bind_port", atomic_pb2.AtomicBindPortArguments(port=atomic.TEST_PORT)
    )
    assert again.status == types_pb2.RESULT_STATUS_CONFLICT
    assert network.a.state == before


def test_a_system_contract_is_never_an_atomic_port() -> None:
    with pytest.raises(InvariantError, match="never bindable"):
        AtomicApplication(
            {"config": AtomicPort(contract=CONTRACTS["config"], handler=CounterPortHandler())}
        )
    with pytest.raises(InvariantError, match="not a port name"):
        AtomicApplication({"no port": atomic.ATOMIC_TEST_PORTS[atomic.TEST_PORT]})


# -- reads ----------------------------------------------------------------------------------------


def test_leg_and_prepared_read_a_participants_legs(network: AtomicNetwork) -> None:
    transaction = network.begin(network.body([bank_leg("chain-a", 2)]))
    network.relay_a()

    def query(method: str, arguments: object) -> bytes:
        return ok(network.a.query("atomic", method, arguments)).return_value  # type: ignore[arg-type]

    leg = atomic_pb2.AtomicLegResult.FromString(
        query(
            "leg",
            atomic_pb2.AtomicLegArguments(hub_chain_id=HUB, transaction_id=transaction),
        )
    )
    assert leg.record.state == PREPARED and not leg.cancel_marker
    data = query("prepared", atomic_pb2.AtomicPreparedArguments(hub_chain_id=HUB))
    prepared = decode(atomic_pb2.AtomicPreparedResult, data, bytes_max=len(data))
    assert transaction in [record.transaction_id for record in prepared.records]
    network.relay(3)  # committed and confirmed
    data = query("prepared", atomic_pb2.AtomicPreparedArguments(hub_chain_id=HUB))
    prepared = decode(atomic_pb2.AtomicPreparedResult, data, bytes_max=len(data))
    assert transaction not in [record.transaction_id for record in prepared.records]
    for method, arguments, words in (
        ("leg", atomic_pb2.AtomicLegArguments(hub_chain_id=HUB, transaction_id=b"x"), "32 bytes"),
        (
            "leg",
            atomic_pb2.AtomicLegArguments(hub_chain_id="a b", transaction_id=transaction),
            "identifier",
        ),
        ("prepared", atomic_pb2.AtomicPreparedArguments(hub_chain_id="a b"), "identifier"),
        ("prepared", atomic_pb2.AtomicPreparedArguments(hub_chain_id=HUB, limit=101), "maximum"),
    ):
        assert words in network.a.query("atomic", method, arguments).error
    assert keys.atomic_prepared_prefix(HUB) == b"prepared/hub/"


def test_chain_contracts_assembles_the_atomic_ports_and_the_canary() -> None:
    contracts = chain_contracts(atomic_ports=atomic.ATOMIC_TEST_PORTS)
    assert contracts[atomic.TEST_CONTRACT] is atomic.TEST_COUNTER
    assert contracts[atomic.CONTRACT] is not atomic.ATOMIC  # its own application, with the port
    assert set(contracts) >= set(CHAIN_CONTRACTS)
    assert CHAIN_CONTRACTS[atomic.CONTRACT] is atomic.ATOMIC
    canary = build_network(unsafe_ignore_cancel_marker=True)
    assert canary.application.unsafe_ignore_cancel_marker
    assert not AtomicApplication().unsafe_ignore_cancel_marker


def test_a_gm_raft_participant_settles_by_proof_too() -> None:
    """B (gm, raft) proves the intl hub's decision with its client of the hub."""
    network = build_network()
    transaction = network.begin(network.body([kv_leg("chain-b", key=b"gm/1")]))
    network.relay_b()
    network.relay_b()
    assert network.decision(transaction).outcome == COMMIT  # type: ignore[union-attr]
    relayer = Relayer(settle_after_ms=0)
    plan = relayer.plan_round(
        LinkEnd(Endpoint(network.h), H_OF_B), LinkEnd(Endpoint(network.b), B_OF_H)
    )
    for _end, batch in plan.deliveries:
        batch.receives.clear()
        batch.acknowledgements.clear()
    report = plan.finish([relayer.deliver(end, batch) for end, batch in plan.deliveries])
    assert report.settles == {"chain-b": 1}
    leg = network.leg(network.b, transaction, 0)
    assert leg is not None and leg.state == CONFIRMED
    assert network.b.state[b"kv/gm/1"] == b"registered"
