from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# The test double and server helpers live next to this file; make them importable under any
# pytest import mode.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from chain_double import ChainDouble  # noqa: E402
from chain_servers import AsyncServer  # noqa: E402

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
async def server(double: ChainDouble) -> AsyncIterator[AsyncServer]:
    running = AsyncServer(double)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
