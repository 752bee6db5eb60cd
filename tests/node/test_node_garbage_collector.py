"""The node process's garbage collector: settled once the node is built, in that process only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from causeway.node import runtime
from causeway.node.garbage_collector import YOUNG_COLLECTION_THRESHOLD

# Run in a process of its own: freezing the test runner's objects would keep them for good.
_SETTLE_IN_A_FRESH_PROCESS = """
import gc, json, weakref

from causeway.node.garbage_collector import settle_garbage_collector

# No collection of its own may find the cycle below first: only settling's.
gc.disable()

class Node:
    pass

# A cycle made at start and no longer referenced: it must be collected, not frozen.
garbage = Node()
garbage.itself = garbage
garbage_reference = weakref.ref(garbage)
del garbage
# An object that lives on (as the node's modules and configuration do): it must be frozen.
kept = Node()
_, middle, old = gc.get_threshold()
settle_garbage_collector()

print(json.dumps({
    "garbage_collected": garbage_reference() is None,
    "frozen": gc.get_freeze_count(),
    "kept_tracked": gc.is_tracked(kept),
    "kept_in_a_generation": any(kept is found for found in gc.get_objects()),
    "threshold": list(gc.get_threshold()),
    "threshold_before": [middle, old],
}))
"""


def test_settling_collects_the_start_cycles_freezes_the_rest_and_raises_the_threshold() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _SETTLE_IN_A_FRESH_PROCESS],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    facts = json.loads(completed.stdout)
    assert facts["garbage_collected"] is True
    assert facts["frozen"] > 1_000  # the interpreter's and causeway's own objects, at least
    # Frozen objects stay tracked but leave every generation a collection walks.
    assert facts["kept_tracked"] is True
    assert facts["kept_in_a_generation"] is False
    assert facts["threshold"] == [YOUNG_COLLECTION_THRESHOLD, *facts["threshold_before"]]


def test_run_node_settles_the_collector_after_building_the_node_and_before_running_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    events: list[str] = []
    config = SimpleNamespace(log_level="info", log_format="text", home=tmp_path)

    class BuiltNode:
        def __init__(self, given: object) -> None:
            assert given is config
            events.append("built")

        async def run(self, *, pid_file: Path) -> None:
            assert pid_file.parent == tmp_path
            events.append("ran")

    def load(home: Path) -> Any:
        assert home == tmp_path
        return config

    monkeypatch.setattr(runtime, "load_node_config", load)
    monkeypatch.setattr(runtime, "configure_logging", lambda level, form: None)
    monkeypatch.setattr(runtime, "Node", BuiltNode)
    monkeypatch.setattr(runtime, "settle_garbage_collector", lambda: events.append("settled"))

    runtime.run_node(tmp_path, on_started=lambda node: events.append("started"))

    assert events == ["built", "settled", "started", "ran"]
