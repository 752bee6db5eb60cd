"""The asyncio client against the in-memory double served on the test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypeVar

import pytest
from chain_double import ChainDouble, state_key_of
from chain_servers import AsyncServer

from causeway.api.v1 import api_pb2
from causeway.errors import (
    DuplicateError,
    HeightUnavailableError,
    LimitExceededError,
    NodeUnavailableError,
    ProofError,
)
from causeway.sdk import (
    AsyncClient,
    FileCheckpoint,
    Identity,
    MemoryCheckpoint,
    build_transaction,
    verify_state_response,
)
from causeway.types.v1 import types_pb2

T = TypeVar("T")


@pytest.fixture
async def server(double: ChainDouble) -> AsyncIterator[AsyncServer]:
    running = AsyncServer(double)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


def _client(server: AsyncServer, identity: Identity | None = None) -> AsyncClient:
    return AsyncClient(
        server.address, identity, timeout_s=5, reconnect_delay_s=0.02, reconnect_delay_max_s=0.2
    )


async def _take(iterator: AsyncIterator[T], count: int) -> list[T]:
    return [await asyncio.wait_for(anext(iterator), 10) for _ in range(count)]


def _signed(identity: Identity, argument: bytes) -> types_pb2.Transaction:
    return build_transaction(identity, identity.chain_id, "ledger", "transfer", argument)


async def test_invoke_then_read_everything_verified(
    server: AsyncServer, identity: Identity
) -> None:
    async with _client(server, identity) as client:
        result = await client.invoke("ledger", "transfer", b"payload")
        assert result.succeeded and result.height == 1
        found = await client.get_transaction(result.transaction_id)
        assert await client.transaction_id(found.transaction) == result.transaction_id
        state = await client.get_state(state_key_of(result.transaction_id))
        assert state.found and state.value == b"payload"
        assert not (await client.get_state(b"missing")).found
        assert (await client.get_block(1)).block.header.height == 1
        assert (await client.evaluate("ledger", "balance", b"q")).return_value == b"q"
        quick = await client.submit(await client.transaction("ledger", "t", b""), wait=False)
        assert not quick.committed
        batch = await client.submit_batch([_signed(identity, b"a"), _signed(identity, b"b")])
        assert [r.height for r in batch] == [3, 4]
        assert (await client.status()).height == 4


async def test_errors_come_back_as_their_classes(
    server: AsyncServer, double: ChainDouble, identity: Identity
) -> None:
    async with _client(server, identity) as client:
        double.reject_with = api_pb2.Rejection(reason="duplicate", message="seen")
        with pytest.raises(DuplicateError, match="seen"):
            await client.invoke("ledger", "transfer", b"")
        double.fail_with["get_state"] = HeightUnavailableError("pruned")
        with pytest.raises(HeightUnavailableError, match="pruned"):
            await client.get_state(b"k", height=1)
        double.fail_with["stream_blocks"] = HeightUnavailableError("pruned")
        with pytest.raises(HeightUnavailableError):
            await anext(client.follow_blocks(1))


async def test_a_header_is_read_without_its_body_and_checked(
    server: AsyncServer, double: ChainDouble, identity: Identity
) -> None:
    async with _client(server, identity) as client:
        await client.invoke("ledger", "transfer", b"value")
        full = await client.get_block(1)
        answer = await client.get_header(1)
        assert (answer.block.header, answer.certificate) == (full.block.header, full.certificate)
        assert not answer.block.transactions and not answer.results
        double.blocks[0].certificate.block_hash = bytes(32)
        with pytest.raises(ProofError, match="the certificate is not for block 1"):
            await client.get_header(1)
    asked = [r for r in double.requests if isinstance(r, api_pb2.GetBlockRequest)]
    assert [r.header_only for r in asked] == [False, True, True]


async def test_tampered_state_is_refused(server: AsyncServer, identity: Identity) -> None:
    async with _client(server, identity) as client:
        result = await client.invoke("ledger", "transfer", b"value")
        answer = await client.get_state(state_key_of(result.transaction_id))
        answer.value = b"other"
        with pytest.raises(ProofError):
            verify_state_response(
                answer, state_key_of(result.transaction_id), await client.hash_function()
            )


async def test_follow_events_survives_a_node_restart_without_duplicates(
    server: AsyncServer, double: ChainDouble, identity: Identity
) -> None:
    double.commit([_signed(identity, b"1")])
    double.commit([_signed(identity, b"2")])
    checkpoint = MemoryCheckpoint()
    async with _client(server) as client:
        events = client.follow_events(checkpoint, reconnect_attempts_max=100)
        first = await _take(events, 3)
        await server.stop()
        double.commit([_signed(identity, b"3")])
        await asyncio.sleep(0.1)
        await server.start()
        double.commit([_signed(identity, b"4")])
        rest = await _take(events, 5)
        await events.aclose()
    positions = [(r.height, r.transaction_index, r.event_index) for r in first + rest]
    assert positions == [(h, 0, e) for h in (1, 2, 3, 4) for e in (0, 1)]
    assert checkpoint.load() == (4, 0, 1)


async def test_a_restarted_consumer_misses_nothing_and_repeats_nothing(
    server: AsyncServer, double: ChainDouble, identity: Identity, tmp_path: Path
) -> None:
    for argument in (b"1", b"2", b"3"):
        double.commit([_signed(identity, argument)])
    path = tmp_path / "consumer.json"
    seen = []
    for batch in (1, 2, 3):
        async with _client(server) as client:
            seen += await _take(client.follow_events(FileCheckpoint(path), name="transfer.0"), 1)
        assert FileCheckpoint(path).load() == (batch, 0, 0)
    assert [r.height for r in seen] == [1, 2, 3]


async def test_follow_blocks_across_a_restart_and_close(
    server: AsyncServer, double: ChainDouble, identity: Identity
) -> None:
    double.commit([_signed(identity, b"1")])
    client = _client(server)
    blocks = client.follow_blocks(1)
    assert [b.block.header.height for b in await _take(blocks, 1)] == [1]
    await server.stop()
    await server.start()
    double.commit([_signed(identity, b"2")])
    assert [b.block.header.height for b in await _take(blocks, 1)] == [2]
    pending = asyncio.ensure_future(anext(blocks))
    await asyncio.sleep(0.05)
    await client.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(pending, 5)
    with pytest.raises(NodeUnavailableError, match="closed"):
        await client.status()


async def test_messages_above_the_limits_are_limit_exceeded(
    double: ChainDouble, identity: Identity
) -> None:
    small = AsyncServer(double, message_bytes_max=4096)
    await small.start()
    try:
        async with _client(small, identity) as client:
            with pytest.raises(LimitExceededError):
                await client.invoke("ledger", "transfer", bytes(10_000))
        async with AsyncClient(small.address, identity, message_bytes_max=1024) as client:
            with pytest.raises(LimitExceededError):
                await client.invoke("ledger", "transfer", bytes(2_000))
        assert double.calls == []
    finally:
        await small.stop()
