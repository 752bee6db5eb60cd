"""The clients' view of the replicated key-value store: invocations and completions."""

from __future__ import annotations

from dataclasses import dataclass

from causeway.sim.application import KvOperation


@dataclass(slots=True)
class HistoryOperation:
    operation: KvOperation
    instance: str
    invoke_ms: int
    # None: no answer reached the client (timed out); the operation may or may not take effect.
    complete_ms: int | None = None
    # What a completed get returned (None: the key was absent).
    result: str | None = None

    def describe(self) -> str:
        operation = self.operation
        what = (
            f"put({operation.key}={operation.value})"
            if operation.kind == "put"
            else f"get({operation.key})"
        )
        if self.complete_ms is None:
            return f"{operation.operation_id} {what} @{self.invoke_ms}..? via {self.instance}"
        answer = f" -> {self.result!r}" if operation.kind == "get" else ""
        return (
            f"{operation.operation_id} {what}{answer} @{self.invoke_ms}..{self.complete_ms} "
            f"via {self.instance}"
        )
