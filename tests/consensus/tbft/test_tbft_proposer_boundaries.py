"""Tendermint's proposer selection: the rules a full cosmic-ray run over
consensus/tbft/proposer.py showed no test holding (docs/testing.md). A set of total power 1 is
one and of total power 0 is not; a height far ahead (a walk without keeping the picks) gives the
same proposer as walking there, from a fresh selection and after a long cache; forget_before
changes no answer, whether its height is below, inside or beyond what is cached, and a
restart (a height below the cache) changes none either, nor the period found after it. And the
cost the cache exists for, counted in increments: the next height costs 1 and a height asked
again 0; forget_before(h) drops exactly the heights below h; a gap of up to 4096 increments is
kept and one of 4097 walked through; the period is found again after a restart."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from test_tbft_proposer import reference_sequence

from causeway.consensus.tbft import ProposerSelection
from causeway.errors import ConfigurationError

# Powers with no common factor and a total of 10,014: no period shorter than the heights asked
# here, so the walks below are not cut short by one.
LONG_PERIOD = [("a", 1009), ("b", 2003), ("c", 3001), ("d", 4001)]
REFERENCE = reference_sequence(LONG_PERIOD, 8300)


def expected(height: int, round_number: int = 0) -> str:
    """The proposer of (height, round) by the reference: the pick of increment height + round."""
    return REFERENCE[height + round_number - 1]


class CountedSelection(ProposerSelection):
    """Counts the increments computed (the work the cache saves), and fails past a budget
    instead of walking on for ever."""

    def __init__(self, validators: Sequence[tuple[str, int]], budget: int = 20_000) -> None:
        super().__init__(validators)
        self.computed = 0
        self.budget = budget

    def _increment(self) -> int:
        self.computed += 1
        assert self.computed <= self.budget, f"more than {self.budget} increments computed"
        return super()._increment()

    def cost(self, height: int, round_number: int = 0) -> tuple[str, int]:
        """The proposer of (height, round) and how many increments it took to find."""
        before = self.computed
        proposer = self.proposer(height, round_number)
        return proposer, self.computed - before


def test_a_total_power_of_1_is_a_set_and_of_0_is_not() -> None:
    """One validator of power 1 proposes every height; validators whose powers sum to 0 are
    refused."""
    single = ProposerSelection([("a", 1)])
    assert [single.proposer(height, 0) for height in (1, 2, 3)] == ["a", "a", "a"]
    with pytest.raises(ConfigurationError, match="the validator set has no voting power"):
        ProposerSelection([("a", 0), ("b", 0)])


def test_a_far_height_has_the_proposer_walking_there_gives() -> None:
    """A height more than 4096 increments past the cache is reached by a walk that keeps no
    picks: the proposer is the same as the reference's, from a fresh selection (4199 increments
    ahead) and from one that cached heights 1 to 100 (4097 ahead of its cache)."""
    fresh = ProposerSelection(LONG_PERIOD)
    assert [fresh.proposer(4200, 0), fresh.proposer(4200, 1)] == [expected(4200), expected(4201)]
    cached = ProposerSelection(LONG_PERIOD)
    assert [cached.proposer(height, 0) for height in range(1, 101)] == REFERENCE[:100]
    assert [cached.proposer(height, 0) for height in (4198, 4199, 4200)] == REFERENCE[4197:4200]
    # Far past the walk too, and once more after it.
    assert [cached.proposer(8200, 0), cached.proposer(8201, 2)] == [expected(8200), expected(8203)]


def test_forget_before_changes_no_answer() -> None:
    """forget_before(h) with h inside the cache, below its start (a no-op) or beyond its end (a
    no-op): every proposer asked after it is the reference's. Below the start happens in the
    core: a late round of a far height asked first keeps only that round's pick."""
    selection = ProposerSelection(LONG_PERIOD)
    assert [selection.proposer(height, 0) for height in range(1, 21)] == REFERENCE[:20]
    selection.forget_before(5)  # inside: heights 1 to 4 dropped
    selection.forget_before(3)  # below what is kept now
    assert [selection.proposer(height, 0) for height in range(5, 25)] == REFERENCE[4:24]
    selection.forget_before(100)  # beyond what is cached (up to 24)
    assert [selection.proposer(height, 0) for height in range(100, 106)] == REFERENCE[99:105]
    assert [selection.proposer(height, 0) for height in range(25, 31)] == REFERENCE[24:30]
    far = ProposerSelection(LONG_PERIOD)
    assert far.proposer(4200, 3) == expected(4200, 3)  # a walk: only increment 4203 is kept
    far.forget_before(4200)
    assert [far.proposer(4200, round_number) for round_number in range(6)] == REFERENCE[4199:4205]


def test_a_height_below_what_is_kept_is_computed_again() -> None:
    """After forget_before(10), heights 1 to 9 are no longer kept: asking them starts over from
    the first increment and gives the reference's proposers."""
    selection = ProposerSelection(LONG_PERIOD)
    assert selection.proposer(30, 0) == expected(30)
    selection.forget_before(10)
    assert [selection.proposer(height, 0) for height in range(1, 10)] == REFERENCE[:9]
    assert selection.proposer(30, 0) == expected(30)


def test_the_period_found_after_a_restart_is_the_periods_length() -> None:
    """Powers 3 and 2 repeat every 5 increments. A selection that restarts (a height below its
    cache) before it has seen a whole period finds the period afterwards, and then answers
    heights 1 to 30 and 10^15 as the reference does, with at most 100 increments in all."""
    validators = [("a", 3), ("b", 2)]
    reference = reference_sequence(validators, 30)
    assert reference[:5] == reference[5:10]  # the period: 5
    selection = CountedSelection(validators, budget=100)
    assert selection.proposer(3, 0) == reference[2]
    selection.forget_before(3)
    assert selection.proposer(1, 0) == reference[0]  # below the cache: a restart
    assert selection.proposer(10**15, 0) == reference[(10**15 - 1) % 5]
    assert [selection.proposer(height, 0) for height in range(1, 31)] == reference


def test_the_next_height_costs_one_increment_and_a_height_asked_again_none() -> None:
    """The picks are cached: height 1000 costs 1000 increments, then (after forget_before(1000),
    as the core does) height 1000 again costs 0 and height 1001 costs 1."""
    selection = CountedSelection(LONG_PERIOD)
    assert selection.cost(1000) == (expected(1000), 1000)
    selection.forget_before(1000)
    assert selection.cost(1000) == (expected(1000), 0)
    assert selection.cost(1001) == (expected(1001), 1)
    assert selection.cost(1000, 2) == (expected(1002), 1)


@pytest.mark.parametrize("height", [2, 5, 10, 11])
def test_forget_before_drops_exactly_the_heights_below_it(height: int) -> None:
    """With heights 1 to 10 cached, forget_before(h) (h from 2, dropping one height, to 11,
    dropping all ten) keeps h and above (h costs nothing, or 1 for 11, the next increment) and
    drops h - 1 and below (asking h - 1 walks again from increment 1: h - 1 increments)."""
    selection = CountedSelection(LONG_PERIOD)
    assert [selection.proposer(number, 0) for number in range(1, 11)] == REFERENCE[:10]
    selection.forget_before(height)
    assert selection.cost(height) == (expected(height), 0 if height <= 10 else 1)
    assert selection.cost(height - 1) == (expected(height - 1), height - 1)


@pytest.mark.parametrize(("height", "kept"), [(4097, True), (4098, False)])
def test_up_to_4096_increments_ahead_are_kept_and_more_are_walked_through(
    height: int, kept: bool
) -> None:
    """From a fresh selection (next increment 1), height 4097 is 4096 increments past the
    cache: they are kept, so height 2 costs nothing afterwards. Height 4098 is 4097 past it: the
    walk keeps no picks, so height 2 is computed again (2 increments). Either costs one increment
    per height reached."""
    selection = CountedSelection(LONG_PERIOD)
    assert selection.cost(height) == (expected(height), height)
    assert selection.cost(2) == (expected(2), 0 if kept else 2)
