"""A node more than one block behind a peer fetches what it missed, once at a time, and then
moves its consensus driver on; a node one block behind waits (a commit in flight)."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest

from causeway.node import block_sync
from causeway.node.block_sync import BlockSync, StoreBlockSource
from causeway.types.v1 import types_pb2

WAIT_S = 5.0


class Store:
    def __init__(self, latest: int) -> None:
        self.latest = latest

    def latest_height(self) -> int:
        return self.latest

    def get_block_hash(self, height: int) -> bytes:
        return height.to_bytes(32, "big")

    def get_block(self, height: int) -> types_pb2.Block:
        return types_pb2.Block(header=types_pb2.BlockHeader(height=height))

    def get_certificate(self, height: int) -> types_pb2.CommitCertificate:
        return types_pb2.CommitCertificate(height=height)


class Driver:
    def __init__(self) -> None:
        self.advanced: list[int] = []

    async def advance_to(self, height: int) -> None:
        self.advanced.append(height)


class Syncers:
    """Stands in for net.BlockSyncer: each sync 'writes' `applied` blocks, after `release`."""

    def __init__(self, store: Store, applied: int) -> None:
        self.store = store
        self.applied = applied
        self.started: list[dict[str, Any]] = []
        self.release = asyncio.Event()

    def __call__(self, fetcher: object, **settings: Any) -> Any:
        self.started.append(settings)

        async def sync() -> int:
            await self.release.wait()
            self.store.latest += self.applied
            return self.applied

        return SimpleNamespace(sync=sync)


def make(
    monkeypatch: pytest.MonkeyPatch, *, latest: int, applied: int, syncs: bool = True
) -> tuple[BlockSync, Store, Syncers, Driver]:
    store = Store(latest)
    syncers = Syncers(store, applied)
    monkeypatch.setattr(block_sync, "BlockSyncer", syncers)
    driver = Driver()
    kind: Any = SimpleNamespace(block_sync=syncs, sync_quorum="quorum")
    application: Any = SimpleNamespace()
    network: Any = SimpleNamespace(statistics="statistics")
    wired_store: Any = store
    wired_driver: Any = driver

    async def write_block(block: types_pb2.Block, certificate: types_pb2.CommitCertificate) -> None:
        raise AssertionError("the stand-in syncer writes nothing")

    sync = BlockSync(
        chain_id="chain",
        profile=SimpleNamespace(),  # type: ignore[arg-type]
        kind=kind,
        store=wired_store,
        application=application,
        write_block=write_block,
        network=lambda: network,
        driver=lambda: wired_driver,
    )
    return sync, store, syncers, driver


async def finished(sync: BlockSync) -> None:
    """Waits, with a deadline, for the running sync to end by itself."""
    deadline = time.monotonic() + WAIT_S
    while sync.syncing:
        assert time.monotonic() < deadline, "the sync did not end"
        await asyncio.sleep(0.01)


async def test_one_block_behind_waits_two_behind_syncs(monkeypatch: pytest.MonkeyPatch) -> None:
    sync, store, syncers, driver = make(monkeypatch, latest=5, applied=2)
    await sync.on_peer_status("org2/node2", 6, b"")
    await sync.on_peer_status("org2/node2", 5, b"")
    assert syncers.started == []
    await sync.on_peer_status("org2/node2", 7, b"")
    await asyncio.sleep(0)
    assert len(syncers.started) == 1
    assert syncers.started[0]["quorum"] == "quorum"  # the engine's sync quorum
    assert syncers.started[0]["latest"]() == (5, (5).to_bytes(32, "big"))
    syncers.release.set()
    await finished(sync)
    assert store.latest == 7
    assert driver.advanced == [8]  # the core moves on past what sync wrote


async def test_one_sync_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    sync, _, syncers, _ = make(monkeypatch, latest=0, applied=1)
    await sync.on_peer_status("org2/node2", 10, b"")
    await sync.on_peer_status("org3/node3", 12, b"")
    await asyncio.sleep(0)
    assert len(syncers.started) == 1
    syncers.release.set()
    await finished(sync)
    syncers.release.clear()
    await sync.on_peer_status("org3/node3", 12, b"")  # the next status after it ended syncs
    await asyncio.sleep(0)
    assert len(syncers.started) == 2
    assert sync.syncing
    await asyncio.wait_for(sync.stop(), WAIT_S)  # stopping the node cancels it
    assert not sync.syncing


async def test_a_sync_that_wrote_nothing_leaves_the_driver_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sync, _, syncers, driver = make(monkeypatch, latest=3, applied=0)
    await sync.on_peer_status("org2/node2", 9, b"")
    syncers.release.set()
    await finished(sync)
    assert len(syncers.started) == 1
    assert driver.advanced == []


async def test_an_engine_without_block_sync_never_syncs(monkeypatch: pytest.MonkeyPatch) -> None:
    sync, _, syncers, _ = make(monkeypatch, latest=0, applied=1, syncs=False)
    await sync.on_peer_status("org2/node2", 100, b"")
    await asyncio.sleep(0)
    assert syncers.started == []
    assert not sync.syncing
    await sync.stop()  # nothing to stop


def test_the_latest_block_and_the_blocks_served_come_from_the_store() -> None:
    store: Any = Store(0)
    sync = BlockSync(
        chain_id="chain",
        profile=SimpleNamespace(),  # type: ignore[arg-type]
        kind=SimpleNamespace(),  # type: ignore[arg-type]
        store=store,
        application=SimpleNamespace(),  # type: ignore[arg-type]
        write_block=None,  # type: ignore[arg-type]
        network=lambda: None,
        driver=lambda: None,
    )
    assert sync.latest_block() == (0, bytes(32))  # before the first block
    store.latest = 4
    assert sync.latest_block() == (4, (4).to_bytes(32, "big"))
    source = StoreBlockSource(store)
    assert source.latest_height() == 4
    block, certificate = source.get_block(3)
    assert (block.header.height, certificate.height) == (3, 3)
