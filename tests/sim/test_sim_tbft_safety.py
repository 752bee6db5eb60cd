"""tbft keeps safety with up to f Byzantine twins, drops of 0-30% and random partitions."""

from __future__ import annotations

import pytest
from sim_support import SeedPlan, assert_sweep_passes

from causeway.sim.scenarios import SCENARIOS

# (scenario, CI seeds): over a thousand seeds in all, most of them on the cheap 4-validator net;
# the last one also crashes honest validators at random points of sign -> persist -> send.
SWEEPS = [("tbft-4-twins-1", 700), ("tbft-7-twins-2", 250), ("tbft-4-twins-1-crashes", 150)]


@pytest.mark.parametrize(("scenario", "default_seeds"), SWEEPS)
def test_no_safety_violation_with_f_twins(
    scenario: str, default_seeds: int, seed_plan: SeedPlan
) -> None:
    assert_sweep_passes(SCENARIOS[scenario], seed_plan.seeds(default_seeds))


def test_twins_really_equivocate(seed_plan: SeedPlan) -> None:
    """The twins are a real adversary: honest validators see and report their double votes."""
    scenario = SCENARIOS["tbft-4-twins-1"]
    seeds = seed_plan.seeds(40)
    evidence = 0
    for seed in seeds:
        result = scenario.run(seed)
        evidence += len(result.evidence)
        for _, _, item in result.evidence:
            assert item.first.validator in result.byzantine_validators, result.replay()
    if len(seeds) > 1:
        assert evidence > 0
