"""The deployment tests run real nodes with the node tests' helper (tests/node/operated_node.py)."""

from __future__ import annotations

import sys
from pathlib import Path

_NODE_TESTS = str(Path(__file__).resolve().parents[1] / "node")
if _NODE_TESTS not in sys.path:
    sys.path.insert(0, _NODE_TESTS)
