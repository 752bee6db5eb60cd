"""Tendermint's weighted round-robin proposer selection."""

from __future__ import annotations

import random

import pytest

from causeway.consensus.tbft import ProposerSelection
from causeway.errors import ConfigurationError


def reference_sequence(validators: list[tuple[str, int]], count: int) -> list[str]:
    """validator_set.go's IncrementProposerPriority, rescaling and re-centring included."""
    ordered = sorted(validators)
    names = [name for name, _ in ordered]
    powers = [power for _, power in ordered]
    total = sum(powers)
    priorities = [0] * len(names)
    chosen = []
    for _ in range(count):
        spread = max(priorities) - min(priorities)
        if spread > 2 * total:
            ratio = -(-spread // (2 * total))
            priorities = [int(p / ratio) for p in priorities]
        average = sum(priorities) // len(priorities)
        priorities = [p - average for p in priorities]
        priorities = [p + power for p, power in zip(priorities, powers, strict=True)]
        best = max(range(len(names)), key=lambda i: (priorities[i], -i))
        priorities[best] -= total
        chosen.append(names[best])
    return chosen


def test_equal_power_is_plain_round_robin_in_id_order() -> None:
    selection = ProposerSelection([("c", 5), ("a", 5), ("b", 5)])
    assert [selection.proposer(height, 0) for height in range(1, 7)] == list("abcabc")
    # Round r of height h is the next r steps of the same sequence.
    assert [selection.proposer(2, round_number) for round_number in range(3)] == list("bca")


def test_weighted_power_gives_proportional_turns_in_every_period() -> None:
    validators = [("a", 1), ("b", 2), ("c", 3), ("d", 4)]
    selection = ProposerSelection(validators)
    sequence = [selection.proposer(height, 0) for height in range(1, 41)]
    for start in range(0, 40, 10):
        window = sequence[start : start + 10]
        assert {name: window.count(name) for name in "abcd"} == dict(validators)


def test_matches_tendermint_for_random_sets() -> None:
    rng = random.Random(42)
    for _ in range(40):
        validators = [(f"v{i:02}", rng.randint(1, 40)) for i in range(rng.randint(1, 7))]
        expected = reference_sequence(validators, 400)
        selection = ProposerSelection(validators)
        for height in range(1, 380, 3):
            selection.forget_before(height)
            for round_number in range(4):
                assert (
                    selection.proposer(height, round_number) == expected[height + round_number - 1]
                )
        # A fresh instance asked in any order gives the same answers.
        other = ProposerSelection(list(reversed(validators)))
        assert other.proposer(399, 1) == expected[399]
        assert other.proposer(3, 0) == expected[2]


def test_large_heights_are_cheap() -> None:
    # A long period (the powers share no factor): walked once, then one step per height.
    awkward = [("a", 1_000_003), ("b", 1_000_000), ("c", 7)]
    selection = ProposerSelection(awkward)
    first = selection.proposer(100_000, 0)
    assert [selection.proposer(100_000 + offset, 0) for offset in range(3)] == [
        ProposerSelection(awkward).proposer(100_000 + offset, 0) for offset in range(3)
    ]
    assert first == selection.proposer(100_000, 0)
    periodic = ProposerSelection([("a", 3), ("b", 2)])
    assert periodic.proposer(10**15, 0) == periodic.proposer(10**15 - 5, 0)


def test_empty_set_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        ProposerSelection([])
