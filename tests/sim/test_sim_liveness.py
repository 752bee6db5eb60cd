"""Liveness: once the network heals (synchronous, nothing lost) with at least 2f+1 honest
validators connected, every honest validator commits a new block within a bound; the same with
one validator's links cut one way for ever."""

from __future__ import annotations

import pytest
from sim_support import SeedPlan, assert_sweep_passes, run_sweep

from causeway.sim.scenarios import SCENARIOS


@pytest.mark.parametrize(
    ("scenario", "default_seeds"),
    [
        ("tbft-4-liveness-honest", 120),
        ("tbft-4-asymmetric-outbound", 60),
        ("tbft-4-asymmetric-inbound", 60),
        ("tbft-7-asymmetric-outbound", 30),
    ],
)
def test_tbft_is_live(scenario: str, default_seeds: int, seed_plan: SeedPlan) -> None:
    assert_sweep_passes(SCENARIOS[scenario], seed_plan.seeds(default_seeds))


@pytest.mark.parametrize(
    ("scenario", "default_seeds"),
    [("tbft-4-liveness", 100), ("tbft-7-twins-1-asymmetric", 30)],
)
def test_tbft_with_a_twin_is_live(scenario: str, default_seeds: int, seed_plan: SeedPlan) -> None:
    assert_sweep_passes(SCENARIOS[scenario], seed_plan.seeds(default_seeds))


@pytest.mark.parametrize(
    ("scenario", "seed"),
    [
        ("tbft-4-liveness", 26),
        ("tbft-4-liveness", 30),
        ("tbft-4-liveness", 66),
        ("tbft-7-twins-1-asymmetric", 8),
    ],
)
def test_equivocated_polka_regression(scenario: str, seed: int) -> None:
    """Seeds that stalled before the tbft core counted a polka's prevotes from a validator that
    had also voted otherwise (an honest validator locked on such a polka could never have its
    re-proposal accepted)."""
    SCENARIOS[scenario].check(SCENARIOS[scenario].run(seed))


def test_tbft_builds_and_validates_blocks_beside_the_core(seed_plan: SeedPlan) -> None:
    """The node's tbft path: proposals are built and validated in the execution lane, taking
    time during which the core goes on; every committed block was validated by the others."""
    sweep = run_sweep(SCENARIOS["tbft-4-liveness-honest"], seed_plan.seeds(10), keep_results=True)
    assert not sweep.failing_seeds, sweep.failing_seeds
    for result in sweep.results:
        statistics = result.statistics
        highest = max(instance.app.height for instance in result.instances.values())
        assert statistics.blocks_built >= highest
        assert statistics.blocks_validated >= highest
