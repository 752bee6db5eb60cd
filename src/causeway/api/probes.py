"""A probe's verdict and the node's two probes, as plain values.

Kept apart from the HTTP routes (operations.py) so that the node's health rules, and whatever
reads a node's configuration, do not import the ASGI stack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ProbeAnswer:
    """One probe's verdict: ``ok``, and when not, a short ``reason`` (a fixed name) and a
    ``message`` for people; ``details`` are shown either way."""

    ok: bool
    reason: str = ""
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": "ok" if self.ok else "unavailable"}
        if not self.ok:
            body["reason"] = self.reason
            body["message"] = self.message
        body.update(self.details)
        return body


Probe = Callable[[], ProbeAnswer]


@dataclass(frozen=True, slots=True)
class Probes:
    liveness: Probe
    readiness: Probe
