"""The node's answers to /healthz (liveness) and /readyz (readiness), and their bounds.

Liveness: the process serves HTTP and its event loop is responsive: a beat task notes the time
every LOOP_BEAT_MS, and a loop that has not run it for ``loop_stall_timeout_ms`` (it was blocked)
is reported stalled. An orchestrator restarts a node that stays unalive; it should not restart
one that is merely not ready.

Readiness (``readiness``, pure: facts in, verdict out), checked in this order, the first
failing check named in the answer:

1. ``stopping``: the node is shutting down;
2. ``store_closed``: its store cannot be read;
3. ``syncing``: block sync is fetching blocks it missed;
4. ``behind``: a peer announced a height more than ``behind_blocks_max`` above ours;
5. ``too_few_peers``: fewer than ``peers_connected_min`` peers connected (replicated chains);
6. ``consensus_stalled``: no block written for ``progress_timeout_ms``. Every engine commits an
   idle heartbeat block every IDLE_BLOCK_INTERVAL_MS (5 s) with nothing to order, so a longer
   silence means consensus is not making progress (no quorum, a stuck proposer, a full disk).

The bounds come from the ``[health]`` section of config.toml (HealthSettings) and can be
reloaded without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from causeway.api.probes import ProbeAnswer
from causeway.consensus.engines import IDLE_BLOCK_INTERVAL_MS
from causeway.errors import ConfigurationError

# How often the beat task notes that the event loop runs.
LOOP_BEAT_MS = 250
LOOP_STALL_TIMEOUT_MS_DEFAULT = 5_000
# Six idle heartbeats: one missed heartbeat is a slow block, six are a stall.
PROGRESS_TIMEOUT_MS_DEFAULT = 6 * IDLE_BLOCK_INTERVAL_MS
BEHIND_BLOCKS_MAX_DEFAULT = 5
# Replicated chains: a validator alone is not ready (it cannot reach a quorum); one connected peer
# is the least that lets it follow the chain. Operators of larger chains raise it to the number
# that makes a quorum with this node (e.g. 2 of 3 other validators for 4 tbft validators).
PEERS_CONNECTED_MIN_DEFAULT = 1


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """The bounds of /healthz and /readyz ([health] in config.toml)."""

    loop_stall_timeout_ms: int = LOOP_STALL_TIMEOUT_MS_DEFAULT
    progress_timeout_ms: int = PROGRESS_TIMEOUT_MS_DEFAULT
    behind_blocks_max: int = BEHIND_BLOCKS_MAX_DEFAULT
    peers_connected_min: int = PEERS_CONNECTED_MIN_DEFAULT

    def __post_init__(self) -> None:
        for name in ("loop_stall_timeout_ms", "progress_timeout_ms", "behind_blocks_max"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"[health] {name} must be positive")
        if self.loop_stall_timeout_ms <= LOOP_BEAT_MS:
            raise ConfigurationError(
                f"[health] loop_stall_timeout_ms must be above the beat of {LOOP_BEAT_MS} ms"
            )
        if self.peers_connected_min < 0:
            raise ConfigurationError("[health] peers_connected_min must not be negative")


def load_health_settings(section: dict[str, Any]) -> HealthSettings:
    """The [health] table of config.toml; unknown keys are refused (a misspelt bound would be
    silently ignored otherwise)."""
    known = set(HealthSettings.__dataclass_fields__)
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigurationError(f"[health] has unknown settings: {', '.join(unknown)}")
    for key, value in section.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigurationError(f"[health] {key} must be an integer")
    return HealthSettings(**section)


@dataclass(frozen=True, slots=True)
class ReadinessFacts:
    """What readiness is decided from, gathered by the node at the moment of asking."""

    stopping: bool
    # None when the store cannot be read.
    height: int | None
    syncing: bool
    replicated: bool
    peers_connected: int
    # The highest height any peer announced (0 without peers or announcements).
    peers_height_max: int
    seconds_since_commit: float
    role: str


def readiness(facts: ReadinessFacts, settings: HealthSettings) -> ProbeAnswer:
    """The verdict of /readyz: the first failing check of the module docstring, or ready."""
    details: dict[str, Any] = {
        "height": facts.height,
        "role": facts.role,
        "syncing": facts.syncing,
        "peers_connected": facts.peers_connected,
        "seconds_since_commit": round(facts.seconds_since_commit, 3),
    }

    def failed(reason: str, message: str) -> ProbeAnswer:
        return ProbeAnswer(False, reason, message, details)

    if facts.stopping:
        return failed("stopping", "the node is stopping")
    if facts.height is None:
        return failed("store_closed", "the node's store cannot be read")
    if facts.syncing:
        return failed("syncing", "block sync is fetching blocks this node missed")
    if facts.peers_height_max - facts.height > settings.behind_blocks_max:
        return failed(
            "behind",
            f"a peer is at height {facts.peers_height_max}, more than "
            f"{settings.behind_blocks_max} blocks above this node's {facts.height}",
        )
    if facts.replicated and facts.peers_connected < settings.peers_connected_min:
        return failed(
            "too_few_peers",
            f"{facts.peers_connected} peer(s) connected, fewer than peers_connected_min "
            f"{settings.peers_connected_min}",
        )
    if facts.seconds_since_commit * 1000 > settings.progress_timeout_ms:
        return failed(
            "consensus_stalled",
            f"no block written for {facts.seconds_since_commit:.1f} s, above "
            f"progress_timeout_ms {settings.progress_timeout_ms}",
        )
    return ProbeAnswer(True, details=details)


class LoopMonitor:
    """Notes every LOOP_BEAT_MS that the event loop runs; `liveness` reports a loop that did
    not for longer than the bound (it was blocked: by a long computation on the loop, say)."""

    def __init__(self) -> None:
        self._last_beat = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._last_beat = time.monotonic()
        self._task = asyncio.create_task(self._beat(), name="causeway-loop-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _beat(self) -> None:
        while True:
            self._last_beat = time.monotonic()
            await asyncio.sleep(LOOP_BEAT_MS / 1000)

    def liveness(self, settings: HealthSettings, now: float | None = None) -> ProbeAnswer:
        now = time.monotonic() if now is None else now
        silent_ms = (now - self._last_beat) * 1000
        details = {"loop_silent_ms": round(silent_ms, 1)}
        if self._task is None or self._task.done():
            return ProbeAnswer(False, "loop_monitor_stopped", "the loop monitor is not running")
        if silent_ms > settings.loop_stall_timeout_ms:
            return ProbeAnswer(
                False,
                "event_loop_stalled",
                f"the event loop did not run for {silent_ms:.0f} ms, above "
                f"loop_stall_timeout_ms {settings.loop_stall_timeout_ms}",
                details,
            )
        return ProbeAnswer(True, details=details)
