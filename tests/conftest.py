"""Shared by the whole suite: the options that regenerate frozen test data deliberately, and this
folder on the import path, so that every test folder can use the suite's shared helpers
(``waiting.py``: wait for a condition with a deadline instead of a fixed sleep)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--rewrite-golden",
        action="store_true",
        default=False,
        help="rewrite tests/testdata/golden/*.json from the current code (review the diff)",
    )
    parser.addoption(
        "--rewrite",
        action="store_true",
        default=False,
        help="rewrite the expected output of the consensus transcripts (testdata/*.txt)",
    )
