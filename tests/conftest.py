"""Puts this folder on the import path, so that every test folder can use the suite's shared
helpers (``waiting.py``: wait for a condition with a deadline instead of a fixed sleep)."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
