"""The lessons' test borrows the docs tests' Markdown reader and the e2e harness's free ports."""

from __future__ import annotations

import sys
from pathlib import Path

for folder in ("docs", "e2e"):
    path = str(Path(__file__).resolve().parents[1] / folder)
    if path not in sys.path:
        sys.path.insert(0, path)
