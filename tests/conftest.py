"""Options shared by the whole suite: deliberate regeneration of frozen test data."""

from __future__ import annotations

import pytest


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
