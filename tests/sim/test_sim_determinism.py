"""A run is a function of its seed: the same seed gives the same trace hash, others differ."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from causeway.sim import Simulation
from causeway.sim.scenarios import SCENARIOS
from causeway.sim.trace import Trace

SCENARIOS_CHECKED = ["tbft-4-twins-1", "tbft-4-crash-points", "raft-3-kv", "raft-3-crash-points"]


@pytest.mark.parametrize("scenario", SCENARIOS_CHECKED)
def test_same_seed_same_trace(scenario: str) -> None:
    for seed in (0, 7, 123456789):
        first = SCENARIOS[scenario].run(seed)
        second = SCENARIOS[scenario].run(seed)
        assert first.trace_hash == second.trace_hash, f"seed {seed}"
        assert first.statistics == second.statistics
        assert [len(first.chain(name)) for name in first.instances] == [
            len(second.chain(name)) for name in second.instances
        ]


@pytest.mark.parametrize("scenario", SCENARIOS_CHECKED)
def test_different_seeds_different_traces(scenario: str) -> None:
    hashes = {SCENARIOS[scenario].run(seed).trace_hash for seed in range(12)}
    assert len(hashes) == 12


def test_a_fresh_simulation_object_per_run() -> None:
    config = SCENARIOS["raft-3-kv"].build(5)
    simulation = Simulation(5, config)
    simulation.run()
    with pytest.raises(RuntimeError):
        simulation.run()


def test_same_trace_in_other_processes() -> None:
    """Nothing depends on the interpreter's string hashing (PYTHONHASHSEED) or on the process."""
    script = (
        "from causeway.sim.scenarios import SCENARIOS;"
        "print(SCENARIOS['tbft-4-twins-1'].run(11).trace_hash)"
    )
    expected = SCENARIOS["tbft-4-twins-1"].run(11).trace_hash
    for hash_seed in ("1", "2"):
        environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
        completed = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env=environment,
            timeout=120,
        )
        assert completed.stdout.strip() == expected


def test_trace_fast_path_matches_the_general_record() -> None:
    general, fast = Trace(), Trace()
    general.record("d", 12, "v1", "v0.twin", b"xyz\x00")
    fast.record_delivery(12, "v1", "v0.twin", b"xyz\x00")
    assert general.digest == fast.digest
    general.record("d", 12, "v1", "v0.twin", b"xyz")
    fast.record("d", 12, "v1", "v0.twin", b"xy", b"z")
    assert general.digest != fast.digest
