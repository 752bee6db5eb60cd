"""The simulator's agenda: events ordered by (time, sequence), so equal times keep their order."""

from __future__ import annotations

import heapq
from typing import Generic, TypeVar

EventT = TypeVar("EventT")


class EventQueue(Generic[EventT]):
    """A priority queue with a deterministic order: time first, then insertion order."""

    def __init__(self) -> None:
        # The sequence number is unique, so events themselves are never compared.
        self._heap: list[tuple[int, int, EventT]] = []
        self._sequence = 0

    def push(self, time_ms: int, event: EventT) -> None:
        self._sequence += 1
        heapq.heappush(self._heap, (time_ms, self._sequence, event))

    def pop(self) -> tuple[int, EventT]:
        time_ms, _, event = heapq.heappop(self._heap)
        return time_ms, event

    def peek_time_ms(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)
