"""Tendermint's weighted round-robin proposer selection.

Every validator carries a priority, zero for all of them at genesis. One *increment* adds each
validator's voting power to its priority, picks the validator with the highest priority (ties go to
the smallest validator id) and subtracts the total voting power from the one picked. Tendermint
increments once when the set is created (the proposer of height 1, round 0), once more per height
and once more per round within a height, so the proposer of (height, round) is the one picked by
increment number ``height + round``. Over any window of increments each validator is picked in
proportion to its power, and the sequence depends on nothing but the set.

This is ``IncrementProposerPriority`` of Tendermint's ``validator_set.go``. Its rescaling and
re-centring steps are left out: the priorities always sum to zero (each increment adds the total
power once and subtracts it once), so re-centring never shifts them, and starting from zero the
rescaling bound is not reached (the tests compare with a reference that has both steps). The
sequence is periodic (period total power / gcd of the powers): once every priority is back at zero
it repeats, which lets a core that starts at a large height skip whole periods.
"""

from __future__ import annotations

from collections.abc import Sequence

from causeway.errors import ConfigurationError

# Picks kept in memory ahead of the current height before the cache is skipped over instead.
_CACHED_INCREMENTS_MAX = 4096


class ProposerSelection:
    """The proposer of each (height, round), computed incrementally and cached."""

    def __init__(self, validators: Sequence[tuple[str, int]]) -> None:
        if not validators:
            raise ConfigurationError("the validator set is empty")
        ordered = sorted(validators)
        self._ids = [validator_id for validator_id, _ in ordered]
        self._powers = [power for _, power in ordered]
        self._total = sum(self._powers)
        if self._total <= 0:
            raise ConfigurationError("the validator set has no voting power")
        self._period: int | None = None
        # self._chosen[i] is the validator picked by increment number self._start + i, and
        # self._priorities the priorities after the last increment in self._chosen.
        self._start = 1
        self._chosen: list[int] = []
        self._priorities = [0] * len(self._ids)
        self._increments = 0

    def proposer(self, height: int, round_number: int) -> str:
        index = self._reduce(height + round_number)
        if index < self._start:
            self._restart()
        # Far ahead (a core starting at a large height): walk there without keeping the picks.
        end = self._start + len(self._chosen)
        if index - end > _CACHED_INCREMENTS_MAX:
            for _ in range(index - end):
                self._increment()
                if self._period is not None:
                    self._restart()
                    return self.proposer(height, round_number)
            self._start = index
            self._chosen = []
        while self._start + len(self._chosen) <= index:
            self._chosen.append(self._increment())
        return self._ids[self._chosen[index - self._start]]

    def forget_before(self, height: int) -> None:
        """Drops cached increments below round 0 of `height` (heights only move forward)."""
        index = self._reduce(height)
        drop = index - self._start
        if 0 < drop <= len(self._chosen):
            del self._chosen[:drop]
            self._start = index

    def _reduce(self, index: int) -> int:
        if self._period is None:
            return index
        return (index - 1) % self._period + 1

    def _restart(self) -> None:
        self._start = 1
        self._chosen = []
        self._priorities = [0] * len(self._ids)
        self._increments = 0

    def _increment(self) -> int:
        priorities = self._priorities
        best = 0
        for position, power in enumerate(self._powers):
            priorities[position] += power
            # Ids are sorted, so keeping the first maximum breaks ties by the smallest id.
            if priorities[position] > priorities[best]:
                best = position
        priorities[best] -= self._total
        self._increments += 1
        if self._period is None and not any(priorities):
            self._period = self._increments
        return best
