"""Checkers of atomic cross-chain transactions in a multi-chain run (``causeway.sim.interchain``
with an ``AtomicWorkload``; the protocol is causeway.interchain.atomic), over what the chains
committed: every block's results and events, and every value each key held
(``InterchainChain.history``). The first chain is the hub. The invariants (ADR 0004, the issue):

- ``decision_problems``: one decision per transaction, written once and never changed; COMMIT
  only when the hub recorded a YES from every leg at hub time at most the deadline, and every
  leg was prepared on its chain before the deadline (the chain's time).
- ``leg_problems``: a leg is prepared at most once, never after its cancel (its cancelled event,
  its refusal, or its cancel marker set: a TRY after its ABORT locks nothing), confirmed only
  after it was prepared and only for a COMMIT, cancelled only for an ABORT, never both, each at
  most once.
- ``effect_problems``: each effect applied at most once: a reserve account holds exactly the
  leg's amount from its prepare to its end and nothing after; the payee's balance changes by
  exactly what confirmed legs and the users' own sends paid it, block by block; the counter
  port's counters equal the number of confirmed legs that add to them.
- ``asset_problems``: per member chain and denomination, at every height, the balances of every
  account (free ones, reserve accounts, escrow accounts) add up to the supply, and a native
  denomination's supply is what governance issued: free + reserved + escrowed is constant (what
  is in flight between chains is ``interchain_checkers.conservation_problems``' business).
- ``lock_problems``: nothing but the leg's own end touches a key it locked: no write of it by
  any other transaction between the leg's prepare and its end.
- ``rest_problems``: by the end of the run, every transaction the hub recorded is decided, with
  every leg confirmed (COMMIT) or none (ABORT, every leg's cancel marker set), no lock held, no
  leg prepared, no reserve account holding anything; and every leg ended within
  ``ATOMIC_SETTLE_BOUND_MS`` of the later of its deadline and the end of the faults.

``atomic_problems`` runs them all (nothing for a run without atomic transactions);
``interchain_checkers.interchain_problems`` includes it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from causeway.execution.keys import ATOMIC_LOCK_COUNT_KEY, ATOMIC_LOCK_PREFIX, KV_NAMESPACE
from causeway.interchain import atomic
from causeway.interchain.keys import (
    ATOMIC_NAMESPACE,
    BALANCE_PREFIX,
    BANK_NAMESPACE,
    RESERVE_ACCOUNT_PREFIX,
    atomic_cancel_path,
    atomic_decision_path,
    atomic_leg_path,
    atomic_prepared_prefix,
    atomic_transaction_key,
    balance_key,
    supply_key,
)
from causeway.interchain.v1 import atomic_pb2
from causeway.sim.chain import InterchainChain
from causeway.sim.interchain import InterchainResult, native_denom
from causeway.sim.interchain_atomic import (
    ATOMIC_SETTLE_BOUND_MS,
    PAYEE_MEMBER,
    PlannedTransaction,
)
from causeway.types import decode
from causeway.types.v1 import types_pb2

_COMMIT = atomic_pb2.ATOMIC_OUTCOME_COMMIT
_ABORT = atomic_pb2.ATOMIC_OUTCOME_ABORT
_LEG_EVENTS = ("atomic_prepared", "atomic_refused", "atomic_confirmed", "atomic_cancelled")
BALANCES = BANK_NAMESPACE + BALANCE_PREFIX
RESERVES = BALANCES + RESERVE_ACCOUNT_PREFIX.encode()
COUNTERS = atomic.TEST_NAMESPACE + atomic.TEST_COUNTER_PREFIX

# (chain id, transaction id, leg index)
LegKey = tuple[str, bytes, int]


@dataclass(frozen=True, slots=True)
class Place:
    """Where an event was committed: a height and a transaction's position in its block."""

    height: int
    index: int


def _events(
    chain: InterchainChain,
) -> Iterator[tuple[Place, types_pb2.Event, dict[str, str]]]:
    for height in sorted(chain.blocks):
        for index, transaction_result in enumerate(chain.blocks[height].results):
            if transaction_result.status != types_pb2.RESULT_STATUS_OK:
                continue
            for event in transaction_result.events:
                yield Place(height, index), event, {a.key: a.value for a in event.attributes}


def _decode_record(data: bytes | None) -> atomic_pb2.AtomicLegRecord | None:
    if data is None:
        return None
    return decode(atomic_pb2.AtomicLegRecord, data, bytes_max=len(data))


@dataclass(slots=True)
class AtomicView:
    """What the checkers share: the hub, the transactions, the leg events by leg."""

    result: InterchainResult
    hub: InterchainChain
    planned: dict[bytes, PlannedTransaction]
    # Leg events, in commit order: (place, name).
    legs: dict[LegKey, list[tuple[Place, str]]]
    decided: dict[bytes, list[tuple[Place, str]]]

    @property
    def hub_id(self) -> str:
        return self.hub.chain_id

    def decision(self, transaction: bytes) -> atomic_pb2.AtomicDecisionRecord | None:
        data = self.hub.state.get(atomic_decision_path(transaction))
        if data is None:
            return None
        return decode(atomic_pb2.AtomicDecisionRecord, data, bytes_max=len(data))

    def hub_record(self, transaction: bytes) -> atomic_pb2.AtomicTransactionRecord | None:
        data = self.hub.state.get(ATOMIC_NAMESPACE + atomic_transaction_key(transaction))
        if data is None:
            return None
        return decode(atomic_pb2.AtomicTransactionRecord, data, bytes_max=len(data))

    def members(self) -> list[InterchainChain]:
        return [chain for chain_id, chain in self.result.chains.items() if chain_id != self.hub_id]

    def leg_of(self, key: LegKey) -> atomic_pb2.AtomicLeg | None:
        planned = self.planned.get(key[1])
        if planned is None or key[2] >= len(planned.body.legs):
            return None
        return planned.body.legs[key[2]]


def atomic_view(result: InterchainResult) -> AtomicView | None:
    """What the checkers read of a run with atomic transactions; None for a run without."""
    if result.config.atomic is None:
        return None
    hub = result.chains[result.config.chains[0].chain_id]
    legs: dict[LegKey, list[tuple[Place, str]]] = defaultdict(list)
    decided: dict[bytes, list[tuple[Place, str]]] = defaultdict(list)
    for chain_id, chain in result.chains.items():
        for place, event, attributes in _events(chain):
            if event.contract != atomic.CONTRACT:
                continue
            if event.name == "atomic_decided" and chain_id == hub.chain_id:
                decided[bytes.fromhex(attributes["transaction_id"])].append(
                    (place, attributes["outcome"])
                )
            elif event.name in _LEG_EVENTS and attributes.get("hub_chain_id") == hub.chain_id:
                key = (
                    chain_id,
                    bytes.fromhex(attributes["transaction_id"]),
                    int(attributes["leg_index"]),
                )
                legs[key].append((place, event.name))
    planned = {planned.transaction_id: planned for planned in result.atomic}
    return AtomicView(result, hub, planned, legs, decided)


def _short(transaction: bytes) -> str:
    return transaction.hex()[:12]


def _time(chain: InterchainChain, height: int) -> int:
    return chain.blocks[height].header.time_ms


# -- one decision ----------------------------------------------------------------------------------


def decision_problems(view: AtomicView) -> list[str]:
    problems: list[str] = []
    hub = view.hub
    for transaction, decisions in view.decided.items():
        name = _short(transaction)
        if len(decisions) > 1:
            problems.append(
                f"transaction {name} decided {len(decisions)} times on {view.hub_id}: "
                f"{[outcome for _, outcome in decisions]}"
            )
        written = hub.history.get(atomic_decision_path(transaction), [])
        values = {value for _, value in written}
        if len(values) != 1 or None in values:
            problems.append(
                f"transaction {name}: the hub's decision entry changed after it was written "
                f"({len(written)} writes, {len(values)} values)"
            )
        decision = view.decision(transaction)
        record = view.hub_record(transaction)
        if decision is None or record is None:
            problems.append(f"transaction {name} decided, but the hub holds no decision")
            continue
        if atomic.OUTCOME_NAMES[decision.outcome] != decisions[0][1]:
            problems.append(
                f"transaction {name}: the hub's decision is "
                f"{atomic.OUTCOME_NAMES[decision.outcome]}, its event said {decisions[0][1]}"
            )
        if decision.outcome != _COMMIT:
            continue
        deadline = record.body.deadline_ms
        if decision.decided_time_ms > deadline:
            problems.append(
                f"transaction {name} committed at hub time {decision.decided_time_ms}, after its "
                f"deadline {deadline}"
            )
        for hub_leg, leg in zip(record.legs, record.body.legs, strict=True):
            if hub_leg.vote != atomic_pb2.ATOMIC_VOTE_YES or hub_leg.vote_time_ms > deadline:
                problems.append(
                    f"transaction {name} committed without a YES in time from leg {leg.index} "
                    f"(vote {hub_leg.vote} at {hub_leg.vote_time_ms}, deadline {deadline})"
                )
            participant = view.result.chains[leg.chain_id]
            prepared = [
                place
                for place, event in view.legs.get((leg.chain_id, transaction, leg.index), [])
                if event == "atomic_prepared"
            ]
            if not prepared:
                problems.append(
                    f"transaction {name} committed, but leg {leg.index} was never prepared on "
                    f"{leg.chain_id}"
                )
            elif _time(participant, prepared[0].height) > deadline:
                problems.append(
                    f"transaction {name} committed, but leg {leg.index} was prepared on "
                    f"{leg.chain_id} at {_time(participant, prepared[0].height)}, after the "
                    f"deadline {deadline}"
                )
    return problems


# -- a leg's life ----------------------------------------------------------------------------------


def leg_problems(view: AtomicView) -> list[str]:
    problems: list[str] = []
    for key, events in view.legs.items():
        chain_id, transaction, leg_index = key
        chain = view.result.chains[chain_id]
        where = f"leg {leg_index} of {_short(transaction)} on {chain_id}"
        counts = Counter(event for _, event in events)
        for event in _LEG_EVENTS:
            if counts[event] > 1:
                problems.append(f"{where}: {event} {counts[event]} times")
        if counts["atomic_confirmed"] and counts["atomic_cancelled"]:
            problems.append(f"{where}: both confirmed and cancelled")
        if counts["atomic_refused"] and counts["atomic_prepared"]:
            problems.append(f"{where}: both refused and prepared")
        marker_writes = chain.history.get(atomic_cancel_path(view.hub_id, transaction, leg_index))
        marked_at = marker_writes[0][0] if marker_writes else None
        seen: list[str] = []
        for place, event in events:
            if event == "atomic_prepared":
                if "atomic_cancelled" in seen or "atomic_refused" in seen:
                    problems.append(
                        f"{where}: prepared at {place.height} after it was "
                        f"{'cancelled' if 'atomic_cancelled' in seen else 'refused'}"
                    )
                if marked_at is not None and marked_at < place.height:
                    problems.append(
                        f"{where}: prepared at {place.height} with its cancel marker set at "
                        f"{marked_at} (a TRY after its cancel must lock nothing)"
                    )
            if event == "atomic_confirmed" and "atomic_prepared" not in seen:
                problems.append(f"{where}: confirmed at {place.height} without being prepared")
            seen.append(event)
        decision = view.decision(transaction)
        outcome = None if decision is None else decision.outcome
        if counts["atomic_confirmed"] and outcome != _COMMIT:
            problems.append(f"{where}: confirmed, but the hub's decision is not COMMIT")
        if counts["atomic_cancelled"] and outcome != _ABORT:
            problems.append(f"{where}: cancelled, but the hub's decision is not ABORT")
    return problems


# -- effects ---------------------------------------------------------------------------------------


def _amount(data: bytes | None) -> int:
    return 0 if data is None else int.from_bytes(data, "big")


def _deltas(chain: InterchainChain, key: bytes) -> dict[int, int]:
    """How much the amount under ``key`` changed at each height it changed."""
    deltas: dict[int, int] = {}
    previous = _amount(chain.genesis_state.get(key))
    for height, value in chain.history.get(key, []):
        amount = _amount(value)
        deltas[height] = deltas.get(height, 0) + amount - previous
        previous = amount
    return {height: delta for height, delta in deltas.items() if delta}


def effect_problems(view: AtomicView) -> list[str]:
    problems: list[str] = []
    confirmed: dict[LegKey, Place] = {}
    ended: dict[LegKey, Place] = {}
    prepared: dict[LegKey, Place] = {}
    for key, events in view.legs.items():
        for place, event in events:
            if event == "atomic_confirmed":
                confirmed.setdefault(key, place)
            if event in ("atomic_confirmed", "atomic_cancelled"):
                ended.setdefault(key, place)
            if event == "atomic_prepared":
                prepared.setdefault(key, place)
    # Reserve accounts: the leg's amount from its prepare to its end, nothing otherwise.
    for key, place in prepared.items():
        chain_id, transaction, leg_index = key
        chain = view.result.chains[chain_id]
        record = _decode_record(
            chain.value_at(atomic_leg_path(view.hub_id, transaction, leg_index), place.height)
        )
        if record is None or not record.reserve_account:
            continue
        transfer = record.leg.bank_transfer
        reserve_key = BANK_NAMESPACE + balance_key(record.reserve_account, transfer.denom)
        expected = {place.height: transfer.amount}
        end = ended.get(key)
        if end is not None:
            expected[end.height] = expected.get(end.height, 0) - transfer.amount
        expected = {height: delta for height, delta in expected.items() if delta}
        actual = _deltas(chain, reserve_key)
        if actual != expected:
            problems.append(
                f"leg {leg_index} of {_short(transaction)} on {chain_id}: its reserve account "
                f"changed by {actual} (height: amount), not {expected}"
            )
    for chain in view.members():
        # The payee: paid by confirmed bank legs and by the users' own sends, nothing else.
        denom = native_denom(chain.chain_id)
        expected_payee: Counter[int] = Counter()
        for key, place in confirmed.items():
            leg = view.leg_of(key)
            if (
                key[0] == chain.chain_id
                and leg is not None
                and leg.HasField("bank_transfer")
                and leg.bank_transfer.to_account == PAYEE_MEMBER
            ):
                expected_payee[place.height] += leg.bank_transfer.amount
        for at, committed, attributes in _events(chain):
            if (
                committed.contract == "bank"
                and committed.name == "send"
                and attributes["to"] == PAYEE_MEMBER
                and attributes["denom"] == denom
            ):
                expected_payee[at.height] += int(attributes["amount"])
        payee_key = BANK_NAMESPACE + balance_key(PAYEE_MEMBER, denom)
        actual_payee = _deltas(chain, payee_key)
        wanted = {height: delta for height, delta in expected_payee.items() if delta}
        if actual_payee != wanted:
            problems.append(
                f"{chain.chain_id}: {PAYEE_MEMBER}'s {denom} changed by {actual_payee} "
                f"(height: amount); confirmed legs and sends paid it {wanted}"
            )
        # The counter port: one per confirmed leg that adds to it.
        expected_counts: Counter[bytes] = Counter()
        for key in confirmed:
            leg = view.leg_of(key)
            if (
                key[0] == chain.chain_id
                and leg is not None
                and leg.HasField("port_call")
                and leg.port_call.method == atomic.TEST_METHOD_ADD
            ):
                expected_counts[leg.port_call.arguments] += 1
        actual_counts = {
            key[len(COUNTERS) :]: _amount(value)
            for key, value in chain.state.items()
            if key.startswith(COUNTERS)
        }
        if actual_counts != dict(expected_counts):
            problems.append(
                f"{chain.chain_id}: the counters are {actual_counts}; confirmed legs added "
                f"{dict(expected_counts)}"
            )
    return problems


# -- assets ----------------------------------------------------------------------------------------


def asset_problems(view: AtomicView) -> list[str]:
    problems: list[str] = []
    for chain in view.members():
        issued: Counter[str] = Counter()
        for _, event, attributes in _events(chain):
            if event.contract == "bank" and event.name == "issue":
                issued[attributes["denom"]] += int(attributes["amount"])
        # denomination -> height -> change of the sum of balances
        sums: dict[str, Counter[int]] = defaultdict(Counter)
        for key in chain.history:
            if key.startswith(BALANCES):
                denom = key[len(BALANCES) :].split(b"\x00", 1)[1].decode()
                for height, delta in _deltas(chain, key).items():
                    sums[denom][height] += delta
        for denom, changes in sums.items():
            supply = _deltas(chain, BANK_NAMESPACE + supply_key(denom))
            heights = sorted(set(changes) | set(supply))
            total = 0
            supplied = 0
            for height in heights:
                total += changes.get(height, 0)
                supplied += supply.get(height, 0)
                if total != supplied:
                    problems.append(
                        f"{chain.chain_id}@{height}: the {denom} balances (free, reserved and "
                        f"escrowed) add up to {total}, the supply is {supplied}"
                    )
                    break
            if denom in issued and supplied != issued[denom]:
                problems.append(
                    f"{chain.chain_id}: the {denom} supply ends at {supplied}; "
                    f"{issued[denom]} was issued"
                )
    return problems


# -- locks -----------------------------------------------------------------------------------------


def lock_problems(view: AtomicView) -> list[str]:
    problems: list[str] = []
    for key, events in view.legs.items():
        chain_id, transaction, leg_index = key
        chain = view.result.chains[chain_id]
        start = next((place for place, event in events if event == "atomic_prepared"), None)
        if start is None:
            continue
        end = next(
            (
                place
                for place, event in events
                if event in ("atomic_confirmed", "atomic_cancelled")
                and place.height >= start.height
            ),
            None,
        )
        record = _decode_record(
            chain.value_at(atomic_leg_path(view.hub_id, transaction, leg_index), start.height)
        )
        if record is None:
            continue
        locked = set(record.locked_keys)
        where = f"leg {leg_index} of {_short(transaction)} on {chain_id}"
        last = end.height if end is not None else chain.height + 1
        for absolute in locked:
            for height, _ in chain.history.get(absolute, []):
                if start.height < height < last:
                    problems.append(
                        f"{where}: {absolute!r}, which it locked, changed at {height} (locked "
                        f"from {start.height} to {last})"
                    )
        # Writes by other transactions of the blocks where the lock began and ended.
        for place, event, attributes in _events(chain):
            if event.contract != "kv" or event.name not in ("put", "delete"):
                continue
            if not (start.height, start.index) < (place.height, place.index):
                continue
            if end is not None and (place.height, place.index) >= (end.height, end.index):
                break
            written = KV_NAMESPACE + bytes.fromhex(attributes["key"])
            if written in locked:
                problems.append(
                    f"{where}: a transaction at {place.height} wrote {written!r}, which the leg "
                    "locked"
                )
    return problems


# -- at rest ---------------------------------------------------------------------------------------


def rest_problems(view: AtomicView) -> list[str]:
    problems: list[str] = []
    result = view.result
    hub_skew = result.skew_ms.get(view.hub_id, 0)
    for transaction, planned in view.planned.items():
        record = view.hub_record(transaction)
        if record is None:
            continue  # the hub refused it: nothing began
        name = _short(transaction)
        decision = view.decision(transaction)
        if decision is None:
            problems.append(f"transaction {name} is undecided at the end of the run")
            continue
        deadline_shared = planned.body.deadline_ms - hub_skew
        settled_by = max(deadline_shared, result.faults_end_ms) + ATOMIC_SETTLE_BOUND_MS
        for leg in planned.body.legs:
            chain = result.chains[leg.chain_id]
            where = f"leg {leg.index} of {name} on {leg.chain_id}"
            data = chain.state.get(atomic_leg_path(view.hub_id, transaction, leg.index))
            leg_record = _decode_record(data)
            state = None if leg_record is None else leg_record.state
            marker = chain.history.get(atomic_cancel_path(view.hub_id, transaction, leg.index))
            if decision.outcome == _COMMIT:
                if state != atomic_pb2.ATOMIC_LEG_STATE_CONFIRMED:
                    problems.append(f"{where}: not confirmed at the end of a committed transaction")
                    continue
                assert leg_record is not None
                ended_height = leg_record.ended_height
            else:
                if state == atomic_pb2.ATOMIC_LEG_STATE_CONFIRMED:
                    problems.append(f"{where}: confirmed in an aborted transaction")
                if not marker:
                    problems.append(f"{where}: the ABORT never reached it (no cancel marker)")
                    continue
                ended_height = marker[0][0]
            ended_shared = _time(chain, ended_height) - result.skew_ms.get(leg.chain_id, 0)
            if ended_shared > settled_by:
                problems.append(
                    f"{where}: ended at +{ended_shared - result.end_ms}ms, "
                    f"{ended_shared - settled_by}ms past the bound (the later of the deadline "
                    f"and the faults' end, plus {ATOMIC_SETTLE_BOUND_MS}ms)"
                )
    for chain in view.members():
        prepared = ATOMIC_NAMESPACE + atomic_prepared_prefix(view.hub_id)
        for key in chain.state:
            if key.startswith(prepared):
                problems.append(f"{chain.chain_id}: a leg is still prepared at the end ({key!r})")
            elif key.startswith(ATOMIC_LOCK_PREFIX):
                problems.append(f"{chain.chain_id}: a lock is still held at the end ({key!r})")
            elif key.startswith(RESERVES) and _amount(chain.state[key]):
                problems.append(
                    f"{chain.chain_id}: reserve account {key!r} holds {_amount(chain.state[key])} "
                    "at the end"
                )
        if _amount(chain.state.get(ATOMIC_LOCK_COUNT_KEY)):
            problems.append(
                f"{chain.chain_id}: the lock count is "
                f"{_amount(chain.state.get(ATOMIC_LOCK_COUNT_KEY))} at the end"
            )
    return problems


def atomic_problems(result: InterchainResult) -> list[str]:
    view = atomic_view(result)
    if view is None:
        return []
    return [
        *decision_problems(view),
        *leg_problems(view),
        *effect_problems(view),
        *asset_problems(view),
        *lock_problems(view),
        *rest_problems(view),
    ]
