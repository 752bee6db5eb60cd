"""The hub's side of atomic transactions: begin refuses bad input clearly and changes nothing;
decide is idempotent and never changes a decision; votes after a decision, late votes and TRY
timeouts; get and list."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from atomic_network import (
    HUB,
    AtomicNetwork,
    bank_leg,
    build_network,
    kv_leg,
    port_leg,
)
from bank_chain import ok

from causeway.contracts.v1 import contracts_pb2
from causeway.interchain import atomic, bank, keys
from causeway.interchain.v1 import atomic_pb2
from causeway.types import decode
from causeway.types.v1 import types_pb2

COMMIT = atomic_pb2.ATOMIC_OUTCOME_COMMIT
ABORT = atomic_pb2.ATOMIC_OUTCOME_ABORT


@pytest.fixture(scope="module")
def network() -> AtomicNetwork:
    return build_network()


Edit = Callable[[AtomicNetwork, atomic_pb2.AtomicBeginArguments], None]


def _body(edit: Callable[[atomic_pb2.AtomicTransactionBody], None]) -> Edit:
    return lambda _network, arguments: edit(arguments.body)


def _leg(edit: Callable[[atomic_pb2.AtomicLeg], None]) -> Edit:
    return lambda _network, arguments: edit(arguments.body.legs[0])


def _set(message: object, **fields: object) -> None:
    for name, value in fields.items():
        setattr(message, name, value)


def _too_many_legs(body: atomic_pb2.AtomicTransactionBody) -> None:
    for index in range(1, atomic.ATOMIC_LEGS_MAX + 1):
        leg = body.legs.add()
        leg.CopyFrom(body.legs[0])
        leg.index = index


def _ledger(leg: atomic_pb2.AtomicLeg) -> None:
    leg.ledger_transfer.CopyFrom(
        atomic_pb2.AtomicLedgerTransfer(from_account="org1/alice", to_account="org2/bob", amount=1)
    )


BAD_BEGINS: dict[str, tuple[Edit, str]] = {
    "version": (_body(lambda body: _set(body, version=2)), "version 2 is not 1"),
    "hub": (_body(lambda body: _set(body, hub_chain_id="chain-a")), "not this chain"),
    "short nonce": (_body(lambda body: _set(body, nonce=b"n" * 15)), "nonce is 15 bytes"),
    "long nonce": (_body(lambda body: _set(body, nonce=b"n" * 33)), "nonce is 33 bytes"),
    "long memo": (_body(lambda body: _set(body, memo="m" * 257)), "memo is above"),
    "no legs": (_body(lambda body: body.ClearField("legs")), "0 legs"),
    "nine legs": (_body(_too_many_legs), "9 legs"),
    "index": (_leg(lambda leg: _set(leg, index=1)), "legs are indexed 0..n-1"),
    "unknown chain": (_leg(lambda leg: _set(leg, chain_id="chain-z")), "not a member of this hub"),
    "the hub": (_leg(lambda leg: _set(leg, chain_id=HUB)), "is on the hub itself"),
    "owner": (_leg(lambda leg: _set(leg, owner="alice")), "not a member id"),
    "no action": (_leg(lambda leg: leg.ClearField("bank_transfer")), "has no action"),
    "ledger": (_leg(_ledger), "not supported"),
    "zero amount": (_leg(lambda leg: _set(leg.bank_transfer, amount=0)), "must be positive"),
    "to escrow": (
        _leg(lambda leg: _set(leg.bank_transfer, to_account=bank.escrow_account("transfer", "c"))),
        "is an escrow account",
    ),
    "to a reserve": (
        _leg(lambda leg: _set(leg.bank_transfer, to_account="reserve:atomic/00/0")),
        "is an atomic reserve account",
    ),
    "to itself": (
        _leg(lambda leg: _set(leg.bank_transfer, to_account="org1/alice")),
        "to itself",
    ),
    "bad denom": (_leg(lambda leg: _set(leg.bank_transfer, denom="a b")), "denomination"),
    "deadline soon": (
        lambda network, arguments: _set(arguments.body, deadline_ms=network.now_ms() + 2_000),
        "must be later than the block time",
    ),
    "deadline far": (
        lambda network, arguments: _set(
            arguments.body, deadline_ms=network.now_ms() + atomic.ATOMIC_DEADLINE_MAX_MS + 5_000
        ),
        "is more than 600000 ms after",
    ),
    "no authorisation": (
        lambda _network, arguments: arguments.ClearField("authorisations"),
        "0 authorisations for 1 legs",
    ),
    "authorisation index": (
        lambda _network, arguments: _set(arguments.authorisations[0], leg_index=1),
        "is for leg 1",
    ),
    "empty signature": (
        lambda _network, arguments: _set(arguments.authorisations[0], signature=b""),
        "has no signature",
    ),
    "long signature": (
        lambda _network, arguments: _set(arguments.authorisations[0], signature=b"s" * 513),
        "above the limit of 512",
    ),
}

BAD_KV_LEGS: dict[str, tuple[Callable[[atomic_pb2.AtomicKvWrite], None], str]] = {
    "empty key": (lambda write: _set(write, key=b""), "kv key is 0 bytes"),
    "long key": (lambda write: _set(write, key=b"k" * 257), "kv key is 257 bytes"),
    "long value": (
        lambda write: _set(write, value=b"v" * (atomic.ATOMIC_KV_VALUE_BYTES_MAX + 1)),
        "kv value is",
    ),
    "delete and value": (lambda write: _set(write, delete=True), "either deletes or writes"),
    "two preconditions": (
        lambda write: _set(write, expect_absent=True, expected_value_hash=b"h" * 32),
        "either expect_absent or a value hash",
    ),
    "short hash": (lambda write: _set(write, expected_value_hash=b"h" * 31), "31 bytes"),
}

BAD_PORT_LEGS: dict[str, tuple[Callable[[atomic_pb2.AtomicPortCall], None], str]] = {
    "port name": (lambda call: _set(call, port="no port"), "is not a port name"),
    "no method": (lambda call: _set(call, method=""), "port method must be"),
    "long arguments": (
        lambda call: _set(call, arguments=b"a" * (atomic.ATOMIC_PORT_ARGUMENTS_BYTES_MAX + 1)),
        "port arguments are",
    ),
}


def begin_result(
    network: AtomicNetwork, arguments: atomic_pb2.AtomicBeginArguments
) -> types_pb2.TransactionResult:
    return network.h.run("org1/alice", "atomic", "begin", arguments)


def refused_without_change(
    network: AtomicNetwork, arguments: atomic_pb2.AtomicBeginArguments, words: str
) -> None:
    before = dict(network.h.state)
    result = begin_result(network, arguments)
    assert result.status != types_pb2.RESULT_STATUS_OK
    assert words in result.error
    assert network.h.state == before


@pytest.mark.parametrize("case", sorted(BAD_BEGINS))
def test_begin_refuses_bad_input_and_changes_nothing(network: AtomicNetwork, case: str) -> None:
    edit, words = BAD_BEGINS[case]
    arguments = network.arguments(network.body([bank_leg("chain-a")]))
    edit(network, arguments)
    refused_without_change(network, arguments, words)


@pytest.mark.parametrize("case", sorted(BAD_KV_LEGS))
def test_begin_refuses_a_bad_kv_leg(network: AtomicNetwork, case: str) -> None:
    edit, words = BAD_KV_LEGS[case]
    arguments = network.arguments(network.body([kv_leg("chain-a")]))
    edit(arguments.body.legs[0].kv_write)
    refused_without_change(network, arguments, words)


@pytest.mark.parametrize("case", sorted(BAD_PORT_LEGS))
def test_begin_refuses_a_bad_port_leg(network: AtomicNetwork, case: str) -> None:
    edit, words = BAD_PORT_LEGS[case]
    arguments = network.arguments(network.body([port_leg("chain-a")]))
    edit(arguments.body.legs[0].port_call)
    refused_without_change(network, arguments, words)


def test_begin_refuses_a_transaction_it_recorded_already(network: AtomicNetwork) -> None:
    arguments = network.arguments(network.body([bank_leg("chain-a")]))
    ok(begin_result(network, arguments))
    refused_without_change(network, arguments, "is recorded already")


def test_begin_refuses_undecodable_arguments(network: AtomicNetwork) -> None:
    before = dict(network.h.state)
    result = network.h.run("org1/alice", "atomic", "begin", b"\xff\xff")
    assert result.status == types_pb2.RESULT_STATUS_INVALID_ARGUMENT
    assert network.h.state == before


def test_begin_records_the_transaction_and_sends_a_try_per_leg(network: AtomicNetwork) -> None:
    count_key = keys.ATOMIC_NAMESPACE + keys.ATOMIC_COUNT
    count_before = int.from_bytes(network.h.state.get(count_key, b""), "big")
    body = network.body([bank_leg("chain-a"), kv_leg("chain-b"), port_leg("chain-a")])
    arguments = network.arguments(body)
    result = ok(begin_result(network, arguments))
    begun = atomic_pb2.AtomicBeginResult.FromString(result.return_value)
    transaction = network.transaction_id(body)
    assert begun.transaction_id == transaction
    record = network.hub_record(transaction)
    assert record.submitter == "org1/alice" and record.body == body
    assert list(record.authorisations) == list(arguments.authorisations)
    assert [leg.client_id for leg in record.legs] == ["client-1", "client-2", "client-1"]
    assert [leg.try_sequence for leg in record.legs] == list(begun.try_sequences)
    assert record.outcome == atomic_pb2.ATOMIC_OUTCOME_UNSPECIFIED
    assert int.from_bytes(network.h.state[count_key], "big") == count_before + 1
    (event,) = [e for e in result.events if e.name == "atomic_begin"]
    attributes = {attribute.key: attribute.value for attribute in event.attributes}
    assert attributes == {
        "transaction_id": transaction.hex(),
        "hub_chain_id": HUB,
        "legs": "3",
        "deadline_ms": str(body.deadline_ms),
    }
    got = atomic_pb2.AtomicGetResult.FromString(
        ok(
            network.h.query(
                "atomic", "get", atomic_pb2.AtomicGetArguments(transaction_id=transaction)
            )
        ).return_value
    )
    assert got.record == record and not got.HasField("decision")


# -- decide ---------------------------------------------------------------------------------------


def decide(network: AtomicNetwork, *transactions: bytes) -> types_pb2.TransactionResult:
    return network.h.run(
        "org2/bob",
        "atomic",
        "decide",
        atomic_pb2.AtomicDecideArguments(transaction_ids=list(transactions)),
    )


@pytest.mark.parametrize(
    ("transactions", "words"),
    [
        ([b"x" * 31], "32 bytes, not 31"),
        ([b"x" * 32], "no atomic transaction"),
        ([b"x" * 32] * 65, "above the limit of 64"),
    ],
)
def test_decide_refuses_bad_input(
    network: AtomicNetwork, transactions: list[bytes], words: str
) -> None:
    before = dict(network.h.state)
    result = decide(network, *transactions)
    assert result.status != types_pb2.RESULT_STATUS_OK and words in result.error
    assert network.h.state == before


def test_decide_before_the_deadline_is_refused(network: AtomicNetwork) -> None:
    transaction = network.begin(network.body([bank_leg("chain-a")]))
    before = dict(network.h.state)
    result = decide(network, transaction)
    assert "is open until" in result.error
    assert network.h.state == before
    assert network.decision(transaction) is None


def test_decide_after_the_deadline_aborts_once_and_never_again() -> None:
    network = build_network()
    body = network.body([bank_leg("chain-a"), kv_leg("chain-b")], deadline_after_ms=10_000)
    transaction = network.begin(body)
    network.h.advance(12)  # nothing relayed: no leg has voted
    swept = ok(decide(network))  # no ids: the sweep over open/
    decision = network.decision(transaction)
    assert decision is not None and decision.outcome == ABORT
    assert "deadline passed" in decision.reason
    assert [e.name for e in swept.events].count("atomic_decided") == 1
    assert not [
        key
        for key in network.h.state
        if key.startswith(keys.ATOMIC_NAMESPACE + keys.ATOMIC_OPEN_PREFIX)
    ]
    stored = network.h.state[keys.atomic_decision_path(transaction)]
    again = ok(decide(network, transaction))
    assert not [e for e in again.events if e.name == "atomic_decided"]
    assert network.h.state[keys.atomic_decision_path(transaction)] == stored
    # The TRYs then time out and the votes come in: the decision stays.
    network.relay(3)
    assert network.h.state[keys.atomic_decision_path(transaction)] == stored
    record = network.hub_record(transaction)
    assert record.outcome == ABORT
    # Every leg got the ABORT (its marker, so no late TRY can prepare).
    assert network.marker(network.a, transaction, 0) and network.marker(network.b, transaction, 1)


def test_a_no_decides_abort_and_a_later_yes_changes_nothing() -> None:
    network = build_network()
    network.b.run("org2/bob", "kv", "put", kv_put(b"taken", b"x"))
    body = network.body([bank_leg("chain-a"), kv_leg("chain-b", key=b"taken", expect_absent=True)])
    transaction = network.begin(body)
    network.relay_b()  # B refuses
    network.relay_b()  # the NO reaches the hub
    decision = network.decision(transaction)
    assert decision is not None and decision.outcome == ABORT
    assert "leg 1 voted NO" in decision.reason
    stored = network.h.state[keys.atomic_decision_path(transaction)]
    network.relay_a()  # A prepares (the DECISION is behind the TRY on A's link)
    network.relay_a()  # A's YES reaches the hub; the ABORT is received on A
    network.relay(2)
    record = network.hub_record(transaction)
    assert record.legs[0].vote == atomic_pb2.ATOMIC_VOTE_YES
    assert record.legs[1].vote == atomic_pb2.ATOMIC_VOTE_NO
    assert network.h.state[keys.atomic_decision_path(transaction)] == stored
    leg = network.leg(network.a, transaction, 0)
    assert leg is not None and leg.state == atomic_pb2.ATOMIC_LEG_STATE_CANCELLED


def test_a_try_that_times_out_aborts() -> None:
    network = build_network()
    body = network.body([bank_leg("chain-a"), kv_leg("chain-b")], deadline_after_ms=10_000)
    transaction = network.begin(body)
    network.relay_a()  # A prepares; B's link is not relayed before the deadline
    for chain in (network.a, network.h, network.b):
        chain.advance(12)
    network.relayer.atomic_duties = False  # the TRY's timeout decides, not the sweep
    network.relay_b()  # B's TRY timed out on the hub
    decision = network.decision(transaction)
    assert decision is not None and decision.outcome == ABORT
    record = network.hub_record(transaction)
    assert record.legs[1].vote == atomic_pb2.ATOMIC_VOTE_TIMED_OUT
    network.relayer.atomic_duties = True
    network.relay(3)
    assert network.leg(network.a, transaction, 0).state == (  # type: ignore[union-attr]
        atomic_pb2.ATOMIC_LEG_STATE_CANCELLED
    )
    # B never saw the TRY: the ABORT left a marker and a CANCELLED record.
    assert network.marker(network.b, transaction, 1)


def test_a_yes_processed_after_the_deadline_is_late_and_aborts() -> None:
    network = build_network()
    transaction = network.begin(network.body([bank_leg("chain-a")], deadline_after_ms=10_000))
    network.relay_a()  # A prepares and acknowledges YES
    for chain in (network.a, network.h, network.b):
        chain.advance(12)
    network.relayer.atomic_duties = False
    network.relay_a()  # the YES reaches the hub after the deadline
    record = network.hub_record(transaction)
    assert record.legs[0].vote == atomic_pb2.ATOMIC_VOTE_LATE_YES
    decision = network.decision(transaction)
    assert decision is not None and decision.outcome == ABORT


def test_list_pages_through_the_open_and_all_transactions(network: AtomicNetwork) -> None:
    first = network.begin(network.body([bank_leg("chain-a")], deadline_after_ms=30_000))
    second = network.begin(network.body([bank_leg("chain-a")], deadline_after_ms=20_000))

    def page(
        open_only: bool, start_after: bytes = b"", limit: int = 0
    ) -> atomic_pb2.AtomicListResult:
        arguments = atomic_pb2.AtomicListArguments(
            open_only=open_only, start_after=start_after, limit=limit
        )
        data = ok(network.h.query("atomic", "list", arguments)).return_value
        return decode(atomic_pb2.AtomicListResult, data, bytes_max=len(data))

    open_ids = [record.transaction_id for record in page(True, limit=100).records]
    assert open_ids.index(second) < open_ids.index(first)  # by deadline
    all_ids: list[bytes] = []
    cursor = b""
    while True:
        result = page(False, cursor, 2)
        all_ids.extend(record.transaction_id for record in result.records)
        if not result.next:
            break
        cursor = result.next
    assert {first, second} <= set(all_ids) and all_ids == sorted(all_ids)
    assert (
        "above the maximum"
        in network.h.query("atomic", "list", atomic_pb2.AtomicListArguments(limit=101)).error
    )


def kv_put(key: bytes, value: bytes) -> contracts_pb2.KvPutArguments:
    return contracts_pb2.KvPutArguments(key=key, value=value)


def test_a_sweep_decides_at_most_its_bound_earliest_deadline_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    network = build_network()
    later = network.begin(network.body([bank_leg("chain-a")], deadline_after_ms=12_000))
    earlier = network.begin(network.body([bank_leg("chain-a")], deadline_after_ms=8_000))
    network.h.advance(15)
    monkeypatch.setattr(atomic, "ATOMIC_DECIDE_PER_CALL_MAX", 1)
    ok(decide(network))
    assert network.decision(earlier) is not None and network.decision(later) is None
    ok(decide(network))
    assert network.decision(later) is not None
