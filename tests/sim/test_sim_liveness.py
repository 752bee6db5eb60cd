"""Liveness: once the network heals (synchronous, nothing lost) with at least 2f+1 honest
validators connected, every honest validator commits a new block within a bound; the same with
one validator's links cut one way for ever."""

from __future__ import annotations

import pytest
from sim_support import SeedPlan, assert_sweep_passes

from causeway.sim.scenarios import SCENARIOS

# Found by this suite. When the tbft core is fixed, the xfail tests below pass (XPASS in the
# summary) and their markers should go.
EQUIVOCATED_POLKA_BUG = (
    "tbft liveness bug: an honest validator locked on a block whose polka includes a Byzantine "
    "validator's prevote; the other honest validators hold that validator's other prevote for "
    "the round (a vote set keeps one vote per validator), so they can never check the polka of "
    "the re-proposal (line 28) and the height stalls for ever after the heal"
)


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


@pytest.mark.xfail(reason=EQUIVOCATED_POLKA_BUG, strict=False)
@pytest.mark.parametrize(
    ("scenario", "default_seeds"),
    [("tbft-4-liveness", 100), ("tbft-7-twins-1-asymmetric", 30)],
)
def test_tbft_with_a_twin_is_live(scenario: str, default_seeds: int, seed_plan: SeedPlan) -> None:
    assert_sweep_passes(SCENARIOS[scenario], seed_plan.seeds(default_seeds))


@pytest.mark.xfail(reason=EQUIVOCATED_POLKA_BUG, strict=False)
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
    """Seeds that stall with the tbft core as this suite was written."""
    SCENARIOS[scenario].check(SCENARIOS[scenario].run(seed))
