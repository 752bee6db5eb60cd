"""The participant's side of atomic transactions, one rule at a time: the leg table (every state
before x COMMIT/ABORT, for each leg kind), the TRY order (path, cancel marker, duplicate, owner
signature, ownership, reserve), and the canary flag that breaks the cancel-marker rule.

Packets are played (``AtomicNetwork.deliver``): what a hub would send, through the atomic handler
as the packets contract calls it. The end-to-end path through real packets is in
test_interchain_atomic.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from atomic_network import (
    A_OF_H,
    GOLD_ISSUED,
    HUB,
    AtomicNetwork,
    bank_leg,
    build_network,
    counter,
    decision_packet,
    final_of,
    gold,
    kv_leg,
    kv_value,
    lock_count,
    port_leg,
    signed_try,
    try_packet,
    vote_of,
)
from bank_chain import ok

from causeway.contracts.v1 import contracts_pb2
from causeway.interchain import atomic, bank, keys
from causeway.interchain.v1 import atomic_pb2, interchain_pb2
from causeway.types.v1 import types_pb2

COMMIT = atomic_pb2.ATOMIC_OUTCOME_COMMIT
ABORT = atomic_pb2.ATOMIC_OUTCOME_ABORT
NONE = atomic_pb2.ATOMIC_LEG_STATE_UNSPECIFIED
PREPARED = atomic_pb2.ATOMIC_LEG_STATE_PREPARED
REFUSED = atomic_pb2.ATOMIC_LEG_STATE_REFUSED
CONFIRMED = atomic_pb2.ATOMIC_LEG_STATE_CONFIRMED
CANCELLED = atomic_pb2.ATOMIC_LEG_STATE_CANCELLED
YES = atomic_pb2.ATOMIC_VOTE_YES
NO = atomic_pb2.ATOMIC_VOTE_NO


@pytest.fixture(scope="module")
def network() -> AtomicNetwork:
    return build_network()


def events_of_last_block(network: AtomicNetwork, name: str) -> list[dict[str, str]]:
    chain = network.a
    return [
        {attribute.key: attribute.value for attribute in event.attributes}
        for result in chain.blocks[chain.height].results
        for event in result.events
        if event.name == name
    ]


def state_of(network: AtomicNetwork, data: atomic_pb2.AtomicTryPacketData) -> int:
    record = network.leg(network.a, data.transaction_id, data.leg.index)
    return NONE if record is None else record.state


def try_on_a(network: AtomicNetwork, data: atomic_pb2.AtomicTryPacketData) -> atomic_pb2.AtomicVote:
    return vote_of(network.deliver(network.a, try_packet(data)))


def decide_on_a(
    network: AtomicNetwork, data: atomic_pb2.AtomicTryPacketData, outcome: int
) -> atomic_pb2.AtomicLegFinal:
    packet = decision_packet(data.transaction_id, data.leg.index, outcome)
    return final_of(network.deliver(network.a, packet))


# -- the leg table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    name: str
    leg: Callable[[], atomic_pb2.AtomicLeg]
    # (alice's gold, bob's gold, kv value, counter) as the leg moves them when it commits
    committed: Callable[[tuple[int, int, bytes | None, int]], tuple[int, int, bytes | None, int]]


def _key(suffix: str) -> bytes:
    return f"table/{suffix}".encode()


_KINDS = {
    "bank": Kind(
        "bank",
        lambda: bank_leg("chain-a", 7),
        # alice's 7 left for the reserve at TRY
        lambda before: (before[0], before[1] + 7, before[2], before[3]),
    ),
    "kv": Kind(
        "kv",
        lambda: kv_leg("chain-a", key=_key("kv"), value=b"written"),
        lambda before: (before[0], before[1], b"written", before[3]),
    ),
    "port": Kind(
        "port",
        lambda: port_leg("chain-a", b"table"),
        lambda before: (before[0], before[1], before[2], before[3] + 1),
    ),
}


def effects(network: AtomicNetwork) -> tuple[int, int, bytes | None, int]:
    return (
        gold(network.a),
        gold(network.a, "org2/bob"),
        kv_value(network.a, _key("kv")),
        counter(network.a, b"table"),
    )


def reach(network: AtomicNetwork, state: int, kind: Kind) -> atomic_pb2.AtomicTryPacketData:
    """A fresh leg of ``kind`` on chain A brought to ``state``."""
    if state == REFUSED:
        data = signed_try(network, bank_leg("chain-a", GOLD_ISSUED * 10))  # insufficient funds
    else:
        data = signed_try(network, kind.leg())
    if state in (PREPARED, CONFIRMED, CANCELLED):
        assert try_on_a(network, data).vote == YES
    elif state == REFUSED:
        assert try_on_a(network, data).vote == NO
    if state == CONFIRMED:
        decide_on_a(network, data, COMMIT)
    if state == CANCELLED:
        decide_on_a(network, data, ABORT)
    assert state_of(network, data) == state
    return data


# (state before, outcome) -> (state after, marker written, anomaly, effect applied)
TABLE = {
    (NONE, COMMIT): (NONE, False, True, False),
    (NONE, ABORT): (CANCELLED, True, False, False),
    (PREPARED, COMMIT): (CONFIRMED, False, False, True),
    (PREPARED, ABORT): (CANCELLED, True, False, False),
    (REFUSED, COMMIT): (REFUSED, False, True, False),
    (REFUSED, ABORT): (REFUSED, True, False, False),
    (CONFIRMED, COMMIT): (CONFIRMED, False, False, False),
    (CONFIRMED, ABORT): (CONFIRMED, False, True, False),
    (CANCELLED, COMMIT): (CANCELLED, True, True, False),
    (CANCELLED, ABORT): (CANCELLED, True, False, False),
}


@pytest.mark.parametrize("kind", sorted(_KINDS))
@pytest.mark.parametrize(("before", "outcome"), sorted(TABLE))
def test_the_leg_table(network: AtomicNetwork, kind: str, before: int, outcome: int) -> None:
    data = reach(network, before, _KINDS[kind])
    transaction, index = data.transaction_id, data.leg.index
    held = effects(network)
    locks = lock_count(network.a)
    state_before = dict(network.a.state)
    after, marked, anomaly, applied = TABLE[before, outcome]
    final = decide_on_a(network, data, outcome)
    assert final.state == after
    assert state_of(network, data) == after
    assert network.marker(network.a, transaction, index) == marked
    anomalies = events_of_last_block(network, "atomic_anomaly")
    assert bool(anomalies) == anomaly
    if anomaly:
        assert network.a.state == state_before  # a faulty hub's decision changes nothing
        assert anomalies[0]["transaction_id"] == transaction.hex()
        assert anomalies[0]["hub_chain_id"] == HUB
        assert anomalies[0]["leg_index"] == "0"
    if before == PREPARED:
        assert lock_count(network.a) == locks - (0 if kind == "bank" else 1)
        reserve = keys.reserve_account(transaction, index)
        assert gold(network.a, reserve) == 0
        expected = _KINDS[kind].committed(held) if applied else held
        if not applied and kind == "bank":  # cancelled: the reserve went back to alice
            expected = (held[0] + 7, *held[1:])
        assert effects(network) == expected
        assert keys.ATOMIC_NAMESPACE + keys.atomic_prepared_key(HUB, transaction, 0) not in (
            network.a.state
        )
    else:
        assert effects(network) == held
        assert lock_count(network.a) == locks
    # Again: the same decision is a no-op, whatever the state.
    state_after = dict(network.a.state)
    again = decide_on_a(network, data, outcome)
    assert again.state == after
    assert {k: v for k, v in network.a.state.items()} == state_after


# -- the TRY order --------------------------------------------------------------------------------


def refused_with(network: AtomicNetwork, data: atomic_pb2.AtomicTryPacketData, words: str) -> None:
    alice = gold(network.a)
    locks = lock_count(network.a)
    vote = try_on_a(network, data)
    assert vote.vote == NO
    assert words in vote.reason
    record = network.leg(network.a, data.transaction_id, data.leg.index)
    assert record is not None and record.state == REFUSED and words in record.reason
    assert not record.locked_keys and not record.reserve_account
    assert gold(network.a) == alice and lock_count(network.a) == locks
    (event,) = events_of_last_block(network, "atomic_refused")
    assert event["transaction_id"] == data.transaction_id.hex()
    assert event["leg_index"] == "0" and event["hub_chain_id"] == HUB


def test_a_cancel_marker_is_checked_before_anything_else(network: AtomicNetwork) -> None:
    data = signed_try(network, bank_leg("chain-a", 5))
    assert decide_on_a(network, data, ABORT).state == CANCELLED  # the ABORT overtook the TRY
    alice = gold(network.a)
    vote = try_on_a(network, data)
    assert (vote.vote, vote.reason) == (NO, "cancelled before the try arrived")
    assert gold(network.a) == alice
    assert state_of(network, data) == CANCELLED
    assert not events_of_last_block(network, "atomic_prepared")
    # Even a TRY that would fail later (a forged signature) is answered by the marker first.
    forged = atomic_pb2.AtomicTryPacketData()
    forged.CopyFrom(data)
    forged.owner_signature = b"\x01" * 64
    assert try_on_a(network, forged).reason == "cancelled before the try arrived"


def test_a_refused_leg_then_aborted_refuses_its_try_by_marker(network: AtomicNetwork) -> None:
    data = signed_try(network, bank_leg("chain-a", GOLD_ISSUED * 10))
    assert try_on_a(network, data).vote == NO
    decide_on_a(network, data, ABORT)
    assert try_on_a(network, data).reason == "cancelled before the try arrived"


def test_a_duplicate_try_returns_the_recorded_vote(network: AtomicNetwork) -> None:
    data = signed_try(network, bank_leg("chain-a", 3))
    alice = gold(network.a)
    assert try_on_a(network, data).vote == YES
    assert try_on_a(network, data).vote == YES
    assert gold(network.a) == alice - 3  # reserved once
    assert not events_of_last_block(network, "atomic_prepared")
    refused = signed_try(network, bank_leg("chain-a", GOLD_ISSUED * 10))
    first = try_on_a(network, refused)
    second = try_on_a(network, refused)
    assert first == second and first.vote == NO
    decide_on_a(network, data, ABORT)


def test_a_signature_by_anyone_but_the_owner_is_refused(network: AtomicNetwork) -> None:
    refused_with(
        network, signed_try(network, bank_leg("chain-a"), signer="org2/bob"), "does not verify"
    )


def test_a_signature_over_another_deadline_is_refused(network: AtomicNetwork) -> None:
    data = signed_try(network, bank_leg("chain-a"))
    data.deadline_ms += 1
    refused_with(network, data, "does not verify")


def test_an_owner_who_is_not_a_member_is_refused(network: AtomicNetwork) -> None:
    leg = bank_leg("chain-a", owner="org1/ghost", from_account="org1/ghost")
    refused_with(network, signed_try(network, leg, signer="org1/alice"), "not a member")


def test_an_owner_without_the_client_role_is_refused(network: AtomicNetwork) -> None:
    leg = bank_leg("chain-a", owner="org1/node1", from_account="org1/node1")
    refused_with(network, signed_try(network, leg), "neither the CLIENT nor the ADMIN role")


def test_a_transfer_from_another_account_than_the_owner_is_refused(
    network: AtomicNetwork,
) -> None:
    leg = bank_leg("chain-a", from_account="org2/bob", to_account="org1/admin")
    refused_with(network, signed_try(network, leg), "not from its owner")


def test_insufficient_funds_are_refused(network: AtomicNetwork) -> None:
    refused_with(network, signed_try(network, bank_leg("chain-a", GOLD_ISSUED * 10)), "less than")


def test_a_key_locked_by_another_leg_is_refused(network: AtomicNetwork) -> None:
    holder = signed_try(network, kv_leg("chain-a", key=b"contended"))
    assert try_on_a(network, holder).vote == YES
    other = signed_try(network, kv_leg("chain-a", key=b"contended", value=b"other"))
    refused_with(
        network,
        other,
        f"is locked by atomic transaction {holder.transaction_id.hex()} leg 0",
    )
    # And a plain kv write to the locked key fails the same way, changing nothing.
    result = network.a.run("org2/bob", "kv", "put", kv_put(b"contended", b"plain"))
    assert result.status == types_pb2.RESULT_STATUS_CONFLICT
    assert f"kv/contended is locked by atomic transaction {holder.transaction_id.hex()}" in (
        result.error
    )
    assert kv_value(network.a, b"contended") is None
    decide_on_a(network, holder, COMMIT)
    assert kv_value(network.a, b"contended") == b"registered"
    ok(network.a.run("org2/bob", "kv", "put", kv_put(b"contended", b"plain")))


def kv_put(key: bytes, value: bytes) -> contracts_pb2.KvPutArguments:
    return contracts_pb2.KvPutArguments(key=key, value=value)


def test_a_false_precondition_is_refused(network: AtomicNetwork) -> None:
    ok(network.a.run("org2/bob", "kv", "put", kv_put(b"present", b"old")))
    refused_with(
        network,
        signed_try(network, kv_leg("chain-a", key=b"present", expect_absent=True)),
        "expects it absent",
    )
    wrong = network.a.profile.hash(b"not old")
    refused_with(
        network,
        signed_try(network, kv_leg("chain-a", key=b"present", expected_value_hash=wrong)),
        "does not hold the value",
    )
    refused_with(
        network,
        signed_try(network, kv_leg("chain-a", key=b"absent", expected_value_hash=wrong)),
        "is absent",
    )
    right = network.a.profile.hash(b"old")
    holds = signed_try(network, kv_leg("chain-a", key=b"present", expected_value_hash=right))
    assert try_on_a(network, holds).vote == YES
    decide_on_a(network, holds, ABORT)
    assert kv_value(network.a, b"present") == b"old"


def test_a_ledger_transfer_leg_is_not_supported(network: AtomicNetwork) -> None:
    leg = atomic_pb2.AtomicLeg(
        chain_id="chain-a",
        owner="org1/alice",
        ledger_transfer=atomic_pb2.AtomicLedgerTransfer(
            from_account="org1/alice", to_account="org2/bob", amount=1
        ),
    )
    refused_with(network, signed_try(network, leg), "not supported")


def test_a_port_that_refuses_or_is_not_bound_votes_no(network: AtomicNetwork) -> None:
    refused_with(
        network,
        signed_try(network, port_leg("chain-a", method=atomic.TEST_METHOD_REFUSE)),
        "refuses method",
    )
    unbound = port_leg("chain-a")
    unbound.port_call.port = "nowhere"
    refused_with(network, signed_try(network, unbound), "no application is bound")


def test_the_owner_lock_limit_is_a_no(
    network: AtomicNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(atomic, "ATOMIC_LOCKS_PER_OWNER_MAX", 1)
    first = signed_try(network, kv_leg("chain-a", key=b"limit/1"))
    assert try_on_a(network, first).vote == YES
    refused_with(network, signed_try(network, kv_leg("chain-a", key=b"limit/2")), "holds 1 locks")
    decide_on_a(network, first, ABORT)
    assert try_on_a(network, signed_try(network, kv_leg("chain-a", key=b"limit/3"))).vote == YES


def test_a_leg_for_another_chain_is_refused(network: AtomicNetwork) -> None:
    leg = bank_leg("chain-b")
    data = signed_try(network, leg)
    refused_with(network, data, "not this chain")


# -- the path (TRY step 1) and decoding ------------------------------------------------------------


@pytest.mark.parametrize(
    ("hub", "client", "words"),
    [
        (HUB, "client-7", "not over client-0"),
        ("chain-b", A_OF_H, "not registered as an atomic hub"),
    ],
)
def test_a_packet_from_a_chain_other_than_the_registered_hub_is_refused(
    network: AtomicNetwork, hub: str, client: str, words: str
) -> None:
    data = signed_try(network, bank_leg("chain-a"))
    data.hub_chain_id = hub
    before = dict(network.a.state)
    acknowledgement = network.deliver(network.a, try_packet(data, destination_client=client))
    assert not acknowledgement.success and words in acknowledgement.error
    assert network.a.state == before
    decision = decision_packet(data.transaction_id, 0, ABORT, hub=hub, destination_client=client)
    acknowledgement = network.deliver(network.a, decision)
    assert not acknowledgement.success and words in acknowledgement.error
    assert network.a.state == before


def test_a_packet_that_does_not_decode_is_an_error_acknowledgement(network: AtomicNetwork) -> None:
    packet = try_packet(atomic_pb2.AtomicTryPacketData())
    packet.payload.value = b"\xff\xff"
    before = dict(network.a.state)
    assert not network.deliver(network.a, packet).success
    packet.payload.encoding = "text/plain"
    assert "not known" in network.deliver(network.a, packet).error
    packet.payload.version = "atomic-9"
    assert "version" in network.deliver(network.a, packet).error
    assert network.a.state == before


# -- the canary ---------------------------------------------------------------------------------


def test_the_canary_flag_prepares_a_try_after_its_cancel() -> None:
    canary = build_network(unsafe_ignore_cancel_marker=True)
    data = signed_try(canary, bank_leg("chain-a", 5))
    assert decide_on_a(canary, data, ABORT).state == CANCELLED
    vote = try_on_a(canary, data)
    assert vote.vote == YES  # the rule broken: funds reserved after the cancel
    assert canary.marker(canary.a, data.transaction_id, 0)
    assert state_of(canary, data) == PREPARED
    assert gold(canary.a) == GOLD_ISSUED - 5


def test_no_bank_method_pays_into_a_reserve_account(network: AtomicNetwork) -> None:
    data = signed_try(network, bank_leg("chain-a", 2))
    assert try_on_a(network, data).vote == YES
    reserve = keys.reserve_account(data.transaction_id, 0)
    assert bank.is_reserve_account(reserve) and not bank.is_escrow_account(reserve)
    before = dict(network.a.state)
    sent = network.a.run(
        "org1/alice",
        "bank",
        "send",
        interchain_pb2.BankSendArguments(to=reserve, denom="gold", amount=1),
    )
    assert "is an atomic reserve account" in sent.error
    assert network.a.state == before
    decide_on_a(network, data, ABORT)
