"""tbft keeps safety with up to f Byzantine twins, drops of 0-30% and random partitions."""

from __future__ import annotations

import pytest
from sim_support import SeedPlan, assert_sweep_passes

from causeway.sim.scenarios import SCENARIOS, TBFT_SET_CHANGE_HEIGHT, TBFT_SET_CHANGE_SETS

# (scenario, CI seeds): over a thousand seeds in all, most of them on the cheap 4-validator net;
# the last one also crashes honest validators at random points of sign -> persist -> send.
SWEEPS = [
    ("tbft-4-twins-1", 700),
    ("tbft-7-twins-2", 250),
    ("tbft-4-twins-1-crashes", 150),
    ("tbft-set-change-twin", 150),
]


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


def test_a_validator_set_change_is_followed_by_every_honest_node(seed_plan: SeedPlan) -> None:
    """Across the change, each height's certificate is signed by more than two thirds of that
    height's set, the joining validator signs after the change and the leaving one not."""
    scenario = SCENARIOS["tbft-set-change-twin"]
    (_, first), (_, second) = TBFT_SET_CHANGE_SETS
    joined, left = set(second) - set(first), set(first) - set(second)
    signed_by_joined = 0
    for seed in seed_plan.seeds(20):
        result = scenario.run(seed)
        for name in result.honest_instances:
            chain = result.chain(name)
            assert len(chain) > TBFT_SET_CHANGE_HEIGHT, (name, len(chain), result.replay())
            for block in chain:
                members = set(first if block.height < TBFT_SET_CHANGE_HEIGHT else second)
                signers = {s.validator for s in block.certificate.signatures}
                assert signers <= members, (name, block.height, signers, result.replay())
                assert 3 * len(signers) > 2 * len(members), result.replay()
                if block.height >= TBFT_SET_CHANGE_HEIGHT:
                    assert not signers & left
                    signed_by_joined += len(signers & joined)
    assert signed_by_joined > 0
