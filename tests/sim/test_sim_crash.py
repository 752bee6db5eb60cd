"""Crash safety of sign -> persist -> sync -> send (-> apply): a validator crashing at any of
these points and restarting from its durable records never lets out two conflicting signed
statements, never re-signs what it signed before, and the network stays safe and live."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sim_support import SeedPlan, assert_sweep_passes, assert_violations_found

from causeway.consensus import Output
from causeway.consensus.v1 import consensus_pb2
from causeway.sim import (
    SIGN_PERSIST_SEND_POINTS,
    ClientWorkload,
    CrashPoint,
    NetworkConfig,
    RaftEngine,
    SimulatedDisk,
    Simulation,
    SimulationConfig,
    TbftEngine,
    check_safety,
    check_signatures,
)
from causeway.sim.config import CrashHook, CrashPointInjection
from causeway.sim.scenarios import SCENARIOS


@pytest.mark.parametrize(
    ("scenario", "default_seeds"), [("tbft-4-crash-points", 120), ("raft-3-crash-points", 100)]
)
def test_crashes_at_random_points(scenario: str, default_seeds: int, seed_plan: SeedPlan) -> None:
    assert_sweep_passes(SCENARIOS[scenario], seed_plan.seeds(default_seeds))


@pytest.mark.parametrize("point", list(CrashPoint), ids=[point.value for point in CrashPoint])
@pytest.mark.parametrize("scenario", ["tbft-4-crash-points", "raft-3-crash-points"])
def test_every_crash_point(scenario: str, point: CrashPoint, seed_plan: SeedPlan) -> None:
    """Only this crash point, often: it is exercised, and nothing conflicting is ever signed."""
    base = SCENARIOS[scenario]
    exercised = 0
    for seed in seed_plan.seeds(15):
        config = base.build(seed)
        assert config.crash_points is not None
        injection: CrashPointInjection = replace(
            config.crash_points, points=(point,), probability=0.3, signing_outputs_only=False
        )
        result = Simulation(seed, replace(config, crash_points=injection)).run()
        check_signatures(result)
        check_safety(result)
        exercised += result.statistics.crash_points.get(point.value, 0)
    assert exercised > 0, f"{point.value} never struck"


@pytest.mark.parametrize("scenario", ["tbft-4-crash-points-send-before-sync"])
def test_a_runtime_that_sends_before_syncing_is_caught(scenario: str, seed_plan: SeedPlan) -> None:
    assert_violations_found(SCENARIOS[scenario], seed_plan.seeds(40))


def test_disk_loses_only_unsynced_writes() -> None:
    disk = SimulatedDisk()
    disk.write("a", b"1")
    disk.sync()
    disk.write("a", b"2")
    disk.write("b", b"3")
    assert disk.records() == {"a": b"1"}
    disk.crash()
    assert disk.records() == {"a": b"1"}
    assert disk.lost_writes == 2
    disk.write("b", b"4")
    disk.write("a", b"")
    disk.sync()
    # Empty bytes delete a record (the raft records' convention).
    assert disk.records() == {"b": b"4"}


def _kind(message: consensus_pb2.ConsensusMessage) -> str:
    body = message.WhichOneof("body")
    if body == "vote":
        return "prevote" if message.vote.type == consensus_pb2.VOTE_TYPE_PREVOTE else "precommit"
    if body == "raft_vote_response":
        return "vote" if message.raft_vote_response.granted else "refusal"
    if body == "raft_append_entries":
        return "append" if message.raft_append_entries.entries else "heartbeat"
    return str(body)


def _crash_once(point: CrashPoint, kind: str) -> CrashHook:
    """Crashes the first instance whose Output sends a `kind` message, at `point`."""
    struck: list[str] = []

    def hook(instance: str, now_ms: int, output: Output) -> CrashPoint | None:
        if struck or not any(_kind(message) == kind for _, message in output.send):
            return None
        struck.append(instance)
        return point

    return hook


SIGNED_KINDS = [
    ("tbft", "proposal"),
    ("tbft", "prevote"),
    ("tbft", "precommit"),
    ("raft", "vote"),
    ("raft", "append"),
]
# A raft vote goes to one candidate: its sending has no middle.
CRASH_CASES = [
    pytest.param(engine, kind, point, id=f"{engine}-{kind}-{point.value}")
    for engine, kind in SIGNED_KINDS
    for point in SIGN_PERSIST_SEND_POINTS
    if not (kind == "vote" and point is CrashPoint.MID_SEND)
]


@pytest.mark.parametrize(("engine", "kind", "point"), CRASH_CASES)
def test_crash_right_after_signing(
    engine: str, kind: str, point: CrashPoint, seed_plan: SeedPlan
) -> None:
    """A crash between signing and sending, then a restart: the restored core re-sends the
    identical statement or none, and the network goes on to commit."""
    for seed in seed_plan.seeds(3):
        config = SimulationConfig(
            engine=TbftEngine() if engine == "tbft" else RaftEngine(),
            validators=4 if engine == "tbft" else 3,
            network=NetworkConfig(delay_min_ms=1, delay_max_ms=20),
            crash_hook=_crash_once(point, kind),
            crash_hook_downtime_ms=30 + 40 * seed,
            clients=ClientWorkload(clients=1, operations_per_client=4)
            if engine == "raft"
            else None,
            target_height=3,
            duration_ms=15_000,
        )
        result = Simulation(seed, config).run()
        assert result.statistics.crash_points == {point.value: 1}, result.replay()
        check_signatures(result)
        check_safety(result)
        assert result.stopped_early, result.fail("the network did not reach height 3")
