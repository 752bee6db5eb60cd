"""Checks over a finished run. Each raises SimulationFailure (an AssertionError) that names the
seed and the command replaying it; each ``*_problems`` function returns the problems instead."""

from __future__ import annotations

from collections.abc import Iterable

from causeway.consensus.v1 import consensus_pb2
from causeway.sim.crypto import HmacVerifier
from causeway.sim.linearizability import linearize_register, register_operations
from causeway.sim.simulation import SimulationResult
from causeway.types import encode, sign_bytes
from causeway.types.v1 import types_pb2

PROBLEMS_SHOWN = 8

DOMAIN_PREVOTE = "prevote"
DOMAIN_PRECOMMIT = "commit"


def _raise(result: SimulationResult, title: str, problems: list[str]) -> None:
    if not problems:
        return
    shown = "\n".join(f"  - {problem}" for problem in problems[:PROBLEMS_SHOWN])
    more = len(problems) - PROBLEMS_SHOWN
    suffix = f"\n  ... and {more} more" if more > 0 else ""
    raise result.fail(f"{title} ({len(problems)}):\n{shown}{suffix}")


# --- safety -----------------------------------------------------------------------------------


def safety_problems(result: SimulationResult) -> list[str]:
    """Honest instances never commit different blocks at one height; each instance's chain is
    contiguous, commits every height once and only valid, certified blocks; for raft, election
    safety and log matching hold."""
    problems: list[str] = []
    honest = result.honest_instances
    by_height: dict[int, dict[bytes, list[str]]] = {}
    for name in honest:
        for block in result.chain(name):
            by_height.setdefault(block.height, {}).setdefault(block.block_hash, []).append(
                f"{name}@{block.time_ms}ms"
            )
    for height in sorted(by_height):
        hashes = by_height[height]
        if len(hashes) > 1:
            described = "; ".join(
                f"{block_hash.hex()[:16]} by {', '.join(names)}"
                for block_hash, names in hashes.items()
            )
            problems.append(f"height {height} committed as different blocks: {described}")
    problems += prefix_problems(result, honest)
    for name, anomaly in result.anomalies:
        if result.instances[name].honest:
            problems.append(f"{name}: {anomaly}")
    problems += result.ledger.raft_violations
    return problems


def prefix_problems(result: SimulationResult, instances: Iterable[str]) -> list[str]:
    """Every pair of committed chains agrees on their common prefix."""
    chains = {name: [block.block_hash for block in result.chain(name)] for name in instances}
    problems: list[str] = []
    names = sorted(chains)
    for position, first in enumerate(names):
        for second in names[position + 1 :]:
            a, b = chains[first], chains[second]
            common = min(len(a), len(b))
            for index in range(common):
                if a[index] != b[index]:
                    problems.append(f"chains of {first} and {second} diverge at height {index + 1}")
                    break
    return problems


def check_safety(result: SimulationResult) -> None:
    _raise(result, "safety violated", safety_problems(result))


# --- signatures and evidence --------------------------------------------------------------------


def signature_problems(result: SimulationResult, *, allow_resign: bool = False) -> list[str]:
    """No honest lineage ever let out two different statements for one (type, height, round) (a
    double-sign), nor, unless allowed, the same one with a new signature after a restart."""
    problems: list[str] = []
    for first, second in result.ledger.conflicts:
        if result.instances[first.instance].honest:
            what = "two votes in one term" if first.key[0] == "raft-vote" else "double-sign"
            problems.append(f"{what}: {first.describe()}  versus  {second.describe()}")
    if not allow_resign:
        for first, second in result.ledger.resigned:
            if result.instances[first.instance].honest:
                problems.append(
                    "re-signed after restart instead of re-sending the stored signature: "
                    f"{first.describe()}  versus  {second.describe()}"
                )
    return problems


def check_signatures(result: SimulationResult, *, allow_resign: bool = False) -> None:
    _raise(result, "conflicting signatures", signature_problems(result, allow_resign=allow_resign))


def _vote_document(chain_id: str, vote: consensus_pb2.Vote) -> bytes:
    domain = DOMAIN_PREVOTE if vote.type == consensus_pb2.VOTE_TYPE_PREVOTE else DOMAIN_PRECOMMIT
    payload = encode(
        types_pb2.CommitVote(height=vote.height, round=vote.round, block_hash=vote.block_hash)
    )
    return sign_bytes(domain, chain_id, payload)


def evidence_problems(result: SimulationResult) -> list[str]:
    """Evidence names only Byzantine validators and holds two validly signed, conflicting votes
    of one validator for one (height, round, type)."""
    problems: list[str] = []
    verifier: HmacVerifier = next(iter(result.instances.values())).verifier
    chain_id = result.config.chain_id
    for time_ms, instance, evidence in result.evidence:
        first, second = evidence.first, evidence.second
        where = f"evidence from {instance} at {time_ms}ms"
        if first.validator not in result.byzantine_validators:
            problems.append(f"{where} accuses honest validator {first.validator}")
        if (first.validator, first.height, first.round, first.type) != (
            second.validator,
            second.height,
            second.round,
            second.type,
        ):
            problems.append(
                f"{where}: the two votes are not for one validator, height, round, type"
            )
        if first.block_hash == second.block_hash:
            problems.append(f"{where}: the two votes agree")
        for vote in (first, second):
            if not verifier.verify(vote.validator, _vote_document(chain_id, vote), vote.signature):
                problems.append(f"{where}: a vote's signature does not verify")
    return problems


def check_evidence(result: SimulationResult) -> None:
    _raise(result, "bad evidence", evidence_problems(result))


# --- liveness ---------------------------------------------------------------------------------


def liveness_problems(
    result: SimulationResult, bound_ms: int, instances: Iterable[str] | None = None
) -> list[str]:
    """After the heal (time 0 without one), every given instance (the run's progress instances
    by default) commits a block above every height committed before the heal, within bound_ms."""
    heal_ms = result.config.heal_ms or 0
    names = (
        list(instances)
        if instances is not None
        else list(result.config.progress_instances or result.honest_instances)
    )
    before = max(
        (
            block.height
            for name in result.honest_instances
            for block in result.chain(name)
            if block.time_ms < heal_ms
        ),
        default=0,
    )
    deadline = heal_ms + bound_ms
    problems: list[str] = []
    for name in names:
        progressed = [
            block
            for block in result.chain(name)
            if block.height > before and heal_ms <= block.time_ms <= deadline
        ]
        if not progressed:
            height = len(result.chain(name))
            problems.append(
                f"{name} committed nothing above height {before} between the heal at {heal_ms}ms "
                f"and {deadline}ms (its chain ends at height {height}; the run ended at "
                f"{result.end_ms}ms)"
            )
    return problems


def check_liveness(
    result: SimulationResult, bound_ms: int, instances: Iterable[str] | None = None
) -> None:
    _raise(result, "liveness violated", liveness_problems(result, bound_ms, instances))


def progress_latency_ms(
    result: SimulationResult, instances: Iterable[str] | None = None
) -> int | None:
    """How long after the heal the slowest given instance committed its first block above every
    height committed before the heal; None if one never did."""
    heal_ms = result.config.heal_ms or 0
    names = (
        list(instances)
        if instances is not None
        else list(result.config.progress_instances or result.honest_instances)
    )
    before = max(
        (
            block.height
            for name in result.honest_instances
            for block in result.chain(name)
            if block.time_ms < heal_ms
        ),
        default=0,
    )
    latest = 0
    for name in names:
        times = [
            b.time_ms for b in result.chain(name) if b.height > before and b.time_ms >= heal_ms
        ]
        if not times:
            return None
        latest = max(latest, min(times) - heal_ms)
    return latest


# --- linearizability --------------------------------------------------------------------------


def linearizability_problems(result: SimulationResult) -> list[str]:
    problems: list[str] = []
    keys = sorted({record.operation.key for record in result.history})
    for key in keys:
        operations = register_operations(result.history, key)
        if linearize_register(operations) is None:
            lines = "\n      ".join(
                result.history[operation.index].describe()
                for operation in sorted(operations, key=lambda o: o.invoke_ms)
            )
            problems.append(f"the history of key {key!r} is not linearizable:\n      {lines}")
    return problems


def check_linearizable(result: SimulationResult) -> None:
    _raise(result, "linearizability violated", linearizability_problems(result))


def check_all(result: SimulationResult, *, allow_resign: bool = False) -> None:
    """Safety, signatures, evidence and (when there are clients) linearizability."""
    problems = safety_problems(result)
    problems += signature_problems(result, allow_resign=allow_resign)
    problems += evidence_problems(result)
    if result.history:
        problems += linearizability_problems(result)
    _raise(result, "checks failed", problems)
