"""Shared by the whole suite: the options that regenerate frozen test data deliberately, and this
folder on the import path, so that every test folder can use the suite's shared helpers
(``waiting.py``: wait for a condition with a deadline instead of a fixed sleep), and the one real
PostgreSQL server a session shares (``postgresql_server``, started only when a test asks for it:
postgresql_server.py)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from postgresql_server import PostgresqlServer  # noqa: E402 (importable once _HERE is on the path)


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[PostgresqlServer]:
    """Debian's PostgreSQL, one cluster for the session on a Unix socket (no TCP), stopped and
    removed even when a test fails. Its folder is outside pytest's (whose folders only root may
    enter): the server runs as the ``postgres`` user when the tests run as root."""
    folder = Path(tempfile.mkdtemp(prefix="causeway-postgresql-"))
    server = PostgresqlServer(folder)
    try:
        server.start()
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(folder, ignore_errors=True)


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
