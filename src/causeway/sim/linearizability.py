"""Linearizability of a key-value history, checked per key (Wing & Gong's search, with Lowe's
memoisation of (linearized set, register value) as in Knossos).

Keys are independent registers, so a history is linearizable when each key's sub-history is
(locality, Herlihy & Wing). An operation without a completion may take effect at any point after
its invocation or never; a get without a completion says nothing and is left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from causeway.sim.history import HistoryOperation

# The search recurses once per operation; histories of the simulator are far smaller.
OPERATIONS_PER_KEY_MAX = 400


@dataclass(frozen=True, slots=True)
class RegisterOperation:
    invoke_ms: float
    complete_ms: float
    is_put: bool
    # The value written (put) or read (get); None for an absent key.
    value: str | None
    index: int


def linearize_register(
    operations: Sequence[RegisterOperation], initial: str | None = None
) -> list[int] | None:
    """A linearization (operation indices in order) or None when none exists."""
    ordered = sorted(operations, key=lambda operation: operation.invoke_ms)
    count = len(ordered)
    pending_mask = 0
    for position, operation in enumerate(ordered):
        if math.isinf(operation.complete_ms):
            pending_mask |= 1 << position
    full = (1 << count) - 1
    failed: set[tuple[int, str | None]] = set()
    order: list[int] = []
    if count > OPERATIONS_PER_KEY_MAX:
        raise ValueError(
            f"{count} operations on one key; the search handles {OPERATIONS_PER_KEY_MAX}"
        )

    def search(done: int, value: str | None) -> bool:
        if done | pending_mask == full:
            return True
        if (done, value) in failed:
            return False
        remaining = [position for position in range(count) if not done >> position & 1]
        earliest_completion = min(ordered[position].complete_ms for position in remaining)
        for position in remaining:
            operation = ordered[position]
            if operation.invoke_ms > earliest_completion:
                break
            if operation.is_put:
                next_value = operation.value
            elif operation.value == value:
                next_value = value
            else:
                continue
            order.append(operation.index)
            if search(done | 1 << position, next_value):
                return True
            order.pop()
        failed.add((done, value))
        return False

    return list(order) if search(0, initial) else None


def register_operations(history: Sequence[HistoryOperation], key: str) -> list[RegisterOperation]:
    operations: list[RegisterOperation] = []
    for index, record in enumerate(history):
        operation = record.operation
        if operation.key != key:
            continue
        complete = math.inf if record.complete_ms is None else float(record.complete_ms)
        if operation.kind == "get":
            if record.complete_ms is None:
                continue
            operations.append(
                RegisterOperation(record.invoke_ms, complete, False, record.result, index)
            )
        else:
            operations.append(
                RegisterOperation(record.invoke_ms, complete, True, operation.value, index)
            )
    return operations


def nonlinearizable_keys(history: Sequence[HistoryOperation]) -> list[str]:
    keys = sorted({record.operation.key for record in history})
    return [key for key in keys if linearize_register(register_operations(history, key)) is None]
