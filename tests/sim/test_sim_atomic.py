"""Atomic cross-chain transactions in the multi-chain simulator (causeway.sim.interchain_atomic,
checked by causeway.sim.atomic_checkers): the CI sweep of at least 300 seeds, each fault and
outcome shown to happen, the checker canary (participants that ignore their cancel markers),
each checker shown to catch a deliberately broken run, determinism across processes, bounds.

Seeds: ``--sim-seeds N`` / ``CAUSEWAY_SIM_SEEDS=N`` runs N per sweep, ``CAUSEWAY_SIM_SEED=S``
replays one; offline: ``python -m causeway.sim interchain --scenario atomic --seeds N``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable

import pytest
from sim_support import SeedPlan, assert_interchain_sweep_passes

from causeway.execution.keys import ATOMIC_LOCK_PREFIX
from causeway.interchain import atomic
from causeway.interchain.keys import (
    BANK_NAMESPACE,
    atomic_decision_path,
    atomic_leg_path,
    balance_key,
)
from causeway.interchain.v1 import atomic_pb2, interchain_pb2
from causeway.sim import SimulationFailure
from causeway.sim.atomic_checkers import (
    asset_problems,
    atomic_problems,
    atomic_view,
    decision_problems,
    effect_problems,
    leg_problems,
    lock_problems,
    rest_problems,
)
from causeway.sim.interchain import (
    INTERCHAIN_SCENARIOS,
    ChainSpec,
    InterchainConfig,
    InterchainResult,
    native_denom,
)
from causeway.sim.interchain_atomic import (
    ATOMIC_SETTLE_BOUND_MS,
    PAYEE_MEMBER,
    AtomicWorkload,
)
from causeway.sim.interchain_checkers import check_interchain
from causeway.types.v1 import types_pb2

# The bar: at least 300 seeds in CI (about 25 s on two free cores).
ATOMIC_SEEDS = 300
COVERAGE_SEEDS = 40
CANARY_SEEDS = 12
WORKERS_ENVIRONMENT = "CAUSEWAY_SIM_WORKERS"


def _workers() -> int:
    configured = os.environ.get(WORKERS_ENVIRONMENT, "").strip()
    return int(configured) if configured else min(2, os.cpu_count() or 1)


@pytest.mark.timeout(900)
def test_every_atomic_invariant_holds_across_seeds(seed_plan: SeedPlan) -> None:
    """The CI sweep: a hub and two members, atomic transactions with legs drawn to fail, and
    relayer crashes, duplicates, delays, racing relayers, a chain halting (a member or the hub),
    skew, late relayers and the eager settler, each drawn from the seed; every checker (the
    atomic ones and the packets, clients and faults ones) passes on every seed."""
    seeds = seed_plan.seeds(ATOMIC_SEEDS)
    assert_interchain_sweep_passes("atomic", seeds, _workers())
    if len(seeds) >= 100:
        configs = [INTERCHAIN_SCENARIOS["atomic"].config(seed) for seed in seeds]
        faults = [config.faults for config in configs]
        assert any(fault.crash_probability for fault in faults)
        assert any(fault.duplicate_probability for fault in faults)
        assert any(fault.delay_probability for fault in faults)
        assert any(fault.relayers_per_link > 1 for fault in faults)
        assert any(fault.halt for fault in faults)
        assert any(fault.skew for fault in faults)
        workloads = [config.atomic for config in configs]
        assert all(workload is not None for workload in workloads)
        assert any(workload.eager_settler for workload in workloads if workload)
        assert any(workload.late_links for workload in workloads if workload)
        assert any(config.chains[2].profile == "gm" for config in configs)
        assert any(config.chains[2].consensus == "raft" for config in configs)


def _vote_reasons(result: InterchainResult) -> Counter[str]:
    """The reasons of the NO votes participants wrote, from their acknowledgements."""
    reasons: Counter[str] = Counter()
    for chain in result.chains.values():
        for committed in chain.blocks.values():
            for transaction_result in committed.results:
                for event in transaction_result.events:
                    if event.name != "write_acknowledgement":
                        continue
                    attributes = {a.key: a.value for a in event.attributes}
                    if attributes.get("destination_port") != atomic.PORT:
                        continue
                    acknowledgement = interchain_pb2.Acknowledgement.FromString(event.data)
                    if not acknowledgement.success or not acknowledgement.result:
                        continue
                    vote = atomic_pb2.AtomicVote.FromString(acknowledgement.result)
                    if vote.vote == atomic_pb2.ATOMIC_VOTE_NO:
                        reasons[vote.reason] += 1
    return reasons


def test_each_fault_and_outcome_happens() -> None:
    """Over a few seeds: commits; aborts for a NO, for a TRY that timed out and for a deadline
    passed (the decide sweep); a TRY that arrives after its cancel answered NO with nothing
    reserved; decisions proven by the eager settler; users' writes of a locked key refused; a
    halted chain, a late relayer and crashed relayers."""
    seen: Counter[str] = Counter()
    for seed in range(COVERAGE_SEEDS):
        result = INTERCHAIN_SCENARIOS["atomic"].run(seed)
        check_interchain(result)
        seen["halt"] += any("halts" in fault for fault in result.faults)
        seen["late relayer"] += any("start at" in fault for fault in result.faults)
        seen["relayer crash"] += result.statistics["relayer_crashes"]
        for reason in _vote_reasons(result):
            if reason == "cancelled before the try arrived":
                seen["try after cancel"] += 1
        for record in result.blocks:
            for transaction_result, origin in zip(record.results, record.origins, strict=True):
                ok = transaction_result.status == types_pb2.RESULT_STATUS_OK
                if origin == "user:kv-put" and not ok and "locked" in transaction_result.error:
                    seen["locked write refused"] += 1
                if origin == "settler:settle" and ok:
                    seen["settled by proof"] += 1
                for event in transaction_result.events:
                    if event.name != "atomic_decided":
                        continue
                    attributes = {a.key: a.value for a in event.attributes}
                    seen[attributes["outcome"]] += 1
                    for cause in ("voted NO", "timed out", "the deadline passed"):
                        if cause in attributes["reason"]:
                            seen[f"abort: {cause}"] += 1
    for what in (
        "commit",
        "abort",
        "abort: voted NO",
        "abort: timed out",
        "abort: the deadline passed",
        "try after cancel",
        "settled by proof",
        "locked write refused",
        "halt",
        "late relayer",
        "relayer crash",
    ):
        assert seen[what] > 0, (what, seen)


def test_checker_canary_a_participant_ignoring_its_cancel_marker_is_caught(
    seed_plan: SeedPlan,
) -> None:
    """Participants that ignore their cancel markers (unsafe_ignore_cancel_marker), with the
    ABORT proven to chain-b before its late relayer brings the TRY: the checkers must report the
    leg prepared after its cancel, naming the seed and the command that replays it."""
    scenario = INTERCHAIN_SCENARIOS["atomic-canary"]
    seeds = seed_plan.seeds(CANARY_SEEDS)
    caught = 0
    for seed in seeds:
        result = scenario.run(seed)
        assert result.config.unsafe_ignore_cancel_marker
        try:
            check_interchain(result)
        except SimulationFailure as failure:
            caught += 1
            message = str(failure)
            assert "after it was cancelled" in message
            assert "with its cancel marker set" in message
            assert f"seed: {seed} (scenario atomic-canary)" in message
            assert f"CAUSEWAY_SIM_SEED={seed}" in message
    assert caught == len(seeds), f"the canary was caught in only {caught} of {len(seeds)}"


def test_the_cancel_marker_rule_is_never_broken_by_default() -> None:
    for name, scenario in INTERCHAIN_SCENARIOS.items():
        assert scenario.config(0).unsafe_ignore_cancel_marker == (name == "atomic-canary")
    assert not INTERCHAIN_SCENARIOS["atomic"].expects_violation
    assert INTERCHAIN_SCENARIOS["atomic-canary"].expects_violation


# -- each checker catches a deliberately broken run ------------------------------------------------


def _run() -> InterchainResult:
    result = INTERCHAIN_SCENARIOS["atomic"].run(3)
    assert atomic_problems(result) == []
    return result


def _committed_leg(
    result: InterchainResult, kind: str
) -> tuple[bytes, atomic_pb2.AtomicLeg, atomic_pb2.AtomicLegRecord]:
    """A leg of kind ``kind`` that was confirmed, with its participant's record."""
    for planned in result.atomic:
        for leg in planned.body.legs:
            chain = result.chains[leg.chain_id]
            data = chain.state.get(atomic_leg_path("hub", planned.transaction_id, leg.index))
            if data is None or leg.WhichOneof("action") != kind:
                continue
            record = atomic_pb2.AtomicLegRecord.FromString(data)
            if record.state == atomic_pb2.ATOMIC_LEG_STATE_CONFIRMED:
                return planned.transaction_id, leg, record
    raise AssertionError(f"no confirmed {kind} leg in the run")


def _broken(result: InterchainResult, checker: Callable[..., list[str]]) -> list[str]:
    view = atomic_view(result)
    assert view is not None
    return checker(view)


def test_decision_checker_catches_a_decision_changed_after_it_was_written() -> None:
    result = _run()
    hub = result.chains["hub"]
    transaction, _, _ = _committed_leg(result, "port_call")
    path = atomic_decision_path(transaction)
    flipped = atomic_pb2.AtomicDecisionRecord.FromString(hub.state[path])
    flipped.outcome = atomic_pb2.ATOMIC_OUTCOME_ABORT
    hub.history[path].append((hub.height, flipped.SerializeToString()))
    problems = _broken(result, decision_problems)
    assert any("changed after it was written" in problem for problem in problems), problems


def test_leg_checker_catches_a_confirm_without_a_commit() -> None:
    result = _run()
    hub = result.chains["hub"]
    transaction, _, _ = _committed_leg(result, "port_call")
    path = atomic_decision_path(transaction)
    aborted = atomic_pb2.AtomicDecisionRecord.FromString(hub.state[path])
    aborted.outcome = atomic_pb2.ATOMIC_OUTCOME_ABORT
    hub.state[path] = aborted.SerializeToString()
    problems = _broken(result, leg_problems)
    assert any("confirmed, but the hub's decision is not COMMIT" in p for p in problems), problems


def test_effect_checker_catches_an_effect_applied_twice() -> None:
    result = _run()
    _, leg, _ = _committed_leg(result, "port_call")
    chain = result.chains[leg.chain_id]
    key = atomic.TEST_NAMESPACE + atomic.TEST_COUNTER_PREFIX + leg.port_call.arguments
    chain.state[key] = (int.from_bytes(chain.state[key], "big") + 1).to_bytes(8, "big")
    problems = _broken(result, effect_problems)
    assert any("the counters are" in problem for problem in problems), problems


def test_effect_and_asset_checkers_catch_a_payment_made_twice() -> None:
    result = _run()
    _, leg, _ = _committed_leg(result, "bank_transfer")
    chain = result.chains[leg.chain_id]
    key = BANK_NAMESPACE + balance_key(PAYEE_MEMBER, native_denom(leg.chain_id))
    held = int.from_bytes(chain.state[key], "big")
    paid_again = (held + leg.bank_transfer.amount).to_bytes(16, "big")
    chain.history[key].append((chain.height, paid_again))
    assert any(PAYEE_MEMBER in problem for problem in _broken(result, effect_problems))
    problems = _broken(result, asset_problems)
    assert any("add up to" in problem for problem in problems), problems


def test_lock_checker_catches_a_write_of_a_locked_key() -> None:
    result = _run()
    for planned in result.atomic:
        for leg in planned.body.legs:
            chain = result.chains[leg.chain_id]
            data = chain.state.get(atomic_leg_path("hub", planned.transaction_id, leg.index))
            record = None if data is None else atomic_pb2.AtomicLegRecord.FromString(data)
            if record is None or not record.locked_keys:
                continue
            if record.ended_height > record.prepared_height + 1:
                key = record.locked_keys[0]
                chain.history.setdefault(key, []).append(
                    (record.prepared_height + 1, b"written while locked")
                )
                problems = _broken(result, lock_problems)
                assert any("which it locked, changed" in p for p in problems), problems
                return
    raise AssertionError("no leg held a lock for more than a block")


def test_rest_checker_catches_a_lock_left_and_a_transaction_undecided() -> None:
    result = _run()
    chain = result.chains["chain-a"]
    chain.state[ATOMIC_LOCK_PREFIX + b"kv/left-behind"] = b"held"
    hub = result.chains["hub"]
    transaction, _, _ = _committed_leg(result, "port_call")
    del hub.state[atomic_decision_path(transaction)]
    problems = _broken(result, rest_problems)
    assert any("a lock is still held" in problem for problem in problems), problems
    assert any("undecided at the end" in problem for problem in problems), problems


def test_rest_checker_holds_every_leg_to_the_stated_bound() -> None:
    result = _run()
    result.faults_end_ms -= 10 * ATOMIC_SETTLE_BOUND_MS
    for planned in result.atomic:
        planned.body.deadline_ms -= 10 * ATOMIC_SETTLE_BOUND_MS
    problems = _broken(result, rest_problems)
    assert any("past the bound" in problem for problem in problems), problems


# -- determinism and bounds -----------------------------------------------------------------------


def test_same_seed_same_trace_in_another_process() -> None:
    """A TRY carries its owner's signature (fresh keys, random nonces in every process): the
    trace leaves it out, so a seed's trace is the same in another process."""
    scenario = INTERCHAIN_SCENARIOS["atomic"]
    here = scenario.run(5).trace_hash
    assert scenario.run(5).trace_hash == here
    assert scenario.run(6).trace_hash != here
    script = (
        "from causeway.sim.interchain import INTERCHAIN_SCENARIOS; "
        "print(INTERCHAIN_SCENARIOS['atomic'].run(5).trace_hash)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert completed.stdout.strip() == here


def test_atomic_runs_need_the_hub_registry_and_every_member_linked() -> None:
    chains = (ChainSpec("hub"), ChainSpec("chain-a"), ChainSpec("chain-b"))
    with pytest.raises(ValueError, match="registry"):
        InterchainConfig(chains=chains, links=((0, 1), (0, 2)), atomic=AtomicWorkload())
    with pytest.raises(ValueError, match="linked"):
        InterchainConfig(
            chains=chains, links=((0, 1), (1, 2)), atomic=AtomicWorkload(), hub_registry=True
        )
    assert InterchainConfig(
        chains=chains, links=((0, 1), (0, 2)), atomic=AtomicWorkload(), hub_registry=True
    ).atomic


def test_atomic_workload_bounds() -> None:
    with pytest.raises(ValueError, match="legs"):
        AtomicWorkload(legs=(0, 2))
    with pytest.raises(ValueError, match="legs"):
        AtomicWorkload(legs=(2, atomic.ATOMIC_LEGS_MAX + 1))
    with pytest.raises(ValueError, match="deadline"):
        AtomicWorkload(deadline_after_ms=(atomic.ATOMIC_DEADLINE_MIN_MS, 10_000))


def test_a_try_after_its_cancel_reserves_nothing() -> None:
    """Where the canary prepares, the real rule answers NO: in the sweep's seeds whose TRY came
    after its cancel, no leg has a prepared record or a lock."""
    for seed in range(COVERAGE_SEEDS):
        result = INTERCHAIN_SCENARIOS["atomic"].run(seed)
        if "cancelled before the try arrived" not in _vote_reasons(result):
            continue
        for planned in result.atomic:
            for leg in planned.body.legs:
                chain = result.chains[leg.chain_id]
                data = chain.state.get(atomic_leg_path("hub", planned.transaction_id, leg.index))
                if data is None:
                    continue
                record = atomic_pb2.AtomicLegRecord.FromString(data)
                if record.reason == "aborted before the try arrived":
                    assert record.state == atomic_pb2.ATOMIC_LEG_STATE_CANCELLED
                    assert not record.prepared_height and not record.locked_keys
                    assert not record.reserve_account
        assert not any(
            key.startswith(ATOMIC_LOCK_PREFIX)
            for chain in result.chains.values()
            for key in chain.state
        )
        return
    raise AssertionError(f"no TRY came after its cancel in {COVERAGE_SEEDS} seeds")


def test_the_scenarios_are_listed_by_the_command_line() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "causeway.sim", "list"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "interchain atomic\n" in completed.stdout
    assert "interchain atomic-canary [expects violations]" in completed.stdout
