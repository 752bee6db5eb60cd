from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The in-memory ChainService and the server helpers are shared with tests/api.
_API_TESTS = str(Path(__file__).resolve().parent.parent / "api")
if _API_TESTS not in sys.path:
    sys.path.insert(0, _API_TESTS)

from chain_double import ChainDouble  # noqa: E402
from chain_servers import ThreadServer  # noqa: E402

from causeway.crypto import PrivateKey  # noqa: E402
from causeway.sdk import Identity  # noqa: E402


@pytest.fixture
def identity() -> Identity:
    return Identity(
        member_id="org1/alice",
        key=PrivateKey.generate("ecdsa-p256"),
        crypto_profile="intl",
        chain_id="test-chain",
    )


@pytest.fixture
def double() -> ChainDouble:
    return ChainDouble()


@pytest.fixture
def thread_server(double: ChainDouble) -> Iterator[ThreadServer]:
    """A server for the blocking client, on its own thread and event loop."""
    server = ThreadServer(double)
    try:
        server.start()
        yield server
    finally:
        server.close()
