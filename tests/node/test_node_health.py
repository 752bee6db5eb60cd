"""The verdicts of /readyz and /healthz (node/health.py), decided from facts: each check in its
order, with its reason, and the bounds of [health] refused when they make no sense."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from causeway.errors import ConfigurationError
from causeway.node.health import (
    LOOP_BEAT_MS,
    HealthSettings,
    LoopMonitor,
    ReadinessFacts,
    load_health_settings,
    readiness,
)

SETTINGS = HealthSettings(
    loop_stall_timeout_ms=2_000,
    progress_timeout_ms=10_000,
    behind_blocks_max=3,
    peers_connected_min=2,
)
READY = ReadinessFacts(
    stopping=False,
    height=40,
    syncing=False,
    replicated=True,
    peers_connected=2,
    peers_height_max=42,
    seconds_since_commit=1.0,
    role="validator",
)


def test_a_node_caught_up_connected_and_committing_is_ready() -> None:
    answer = readiness(READY, SETTINGS)
    assert answer.ok
    assert answer.body() == {
        "status": "ok",
        "height": 40,
        "role": "validator",
        "syncing": False,
        "peers_connected": 2,
        "seconds_since_commit": 1.0,
    }


@pytest.mark.parametrize(
    ("change", "reason", "words"),
    [
        ({"stopping": True, "height": None}, "stopping", "stopping"),
        ({"height": None, "syncing": True}, "store_closed", "store"),
        ({"syncing": True, "peers_connected": 0}, "syncing", "block sync"),
        ({"peers_height_max": 44, "peers_connected": 0}, "behind", "height 44"),
        ({"peers_connected": 1, "seconds_since_commit": 99.0}, "too_few_peers", "1 peer(s)"),
        ({"seconds_since_commit": 10.5}, "consensus_stalled", "10.5 s"),
    ],
)
def test_the_first_failing_check_is_named(
    change: dict[str, object], reason: str, words: str
) -> None:
    answer = readiness(dataclasses.replace(READY, **change), SETTINGS)  # type: ignore[arg-type]
    assert not answer.ok
    body = answer.body()
    assert (body["status"], body["reason"]) == ("unavailable", reason)
    assert words in body["message"]


def test_the_bounds_are_inclusive_and_solo_needs_no_peers() -> None:
    at_bounds = dataclasses.replace(READY, peers_height_max=43, seconds_since_commit=10.0)
    assert readiness(at_bounds, SETTINGS).ok
    solo = dataclasses.replace(READY, replicated=False, peers_connected=0, peers_height_max=0)
    assert readiness(solo, SETTINGS).ok


def test_health_settings_come_from_the_health_table() -> None:
    assert load_health_settings({}) == HealthSettings()
    loaded = load_health_settings({"progress_timeout_ms": 60_000, "peers_connected_min": 0})
    assert (loaded.progress_timeout_ms, loaded.peers_connected_min) == (60_000, 0)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"progress_timeout": 5}, "unknown settings: progress_timeout"),
        ({"progress_timeout_ms": "30s"}, "progress_timeout_ms must be an integer"),
        ({"behind_blocks_max": True}, "behind_blocks_max must be an integer"),
        ({"progress_timeout_ms": 0}, "progress_timeout_ms must be positive"),
        ({"peers_connected_min": -1}, "peers_connected_min must not be negative"),
        ({"loop_stall_timeout_ms": LOOP_BEAT_MS}, "above the beat"),
    ],
)
def test_bad_health_settings_are_refused(section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_health_settings(section)


async def test_the_loop_monitor_reports_a_stalled_loop() -> None:
    monitor = LoopMonitor()
    assert monitor.liveness(SETTINGS).reason == "loop_monitor_stopped"
    monitor.start()
    try:
        await asyncio.sleep(0)  # the first beat
        answer = monitor.liveness(SETTINGS)
        assert answer.ok, answer
        # 2.5 s later without a beat (the loop was blocked): above the 2 s bound.
        stalled = monitor.liveness(SETTINGS, now=time.monotonic() + 2.5)
        assert not stalled.ok
        assert stalled.reason == "event_loop_stalled"
        assert "above loop_stall_timeout_ms 2000" in stalled.message
    finally:
        await monitor.stop()
    assert not monitor.liveness(SETTINGS).ok
