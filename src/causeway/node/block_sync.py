"""Block sync on a node: it serves its blocks to peers, and fetches the blocks it missed.

Peers announce their latest height. One block behind is normal between peers (a commit in
flight); further behind means this node missed blocks (it was down, or partitioned), so, for an
engine that syncs blocks (`EngineKind.block_sync`), one sync task fetches them from the peers
ahead, verifies each against the validator set that must have committed it (net.BlockSyncer,
with the engine's certificate quorum), writes it with the block writer, and then moves the
consensus driver on to the next height instead of waiting for the validators to get there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from causeway.consensus.engines import EngineKind
from causeway.crypto import CryptoProfile
from causeway.errors import HeightUnavailableError, NotFoundError
from causeway.execution import ExecutionApplication
from causeway.net import BlockSyncer, PeerNetwork
from causeway.node.consensus_driver import ConsensusDriver
from causeway.storage import Store
from causeway.types.v1 import types_pb2

log = logging.getLogger("causeway.node")


class StoreBlockSource:
    """Answers peers' GetBlocks from the block store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def latest_height(self) -> int:
        return self._store.latest_height()

    def get_block(self, height: int) -> tuple[types_pb2.Block, types_pb2.CommitCertificate]:
        try:
            return self._store.get_block(height), self._store.get_certificate(height)
        except HeightUnavailableError as error:
            # Below a restored store's base or archived: for the peer, a block not served here.
            raise NotFoundError(error.message) from None


class BlockSync:
    def __init__(
        self,
        *,
        chain_id: str,
        profile: CryptoProfile,
        kind: EngineKind,
        store: Store,
        application: ExecutionApplication,
        write_block: Callable[[types_pb2.Block, types_pb2.CommitCertificate], Awaitable[None]],
        network: Callable[[], PeerNetwork | None],
        driver: Callable[[], ConsensusDriver | None],
    ) -> None:
        """write_block: writes a verified block (BlockWriter.write). network, driver: the
        node's, once they exist."""
        self._chain_id = chain_id
        self._profile = profile
        self._kind = kind
        self._store = store
        self._application = application
        self._write_block = write_block
        self._network = network
        self._driver = driver
        self._task: asyncio.Task[None] | None = None

    @property
    def syncing(self) -> bool:
        return self._task is not None and not self._task.done()

    async def on_peer_status(self, sender: str, height: int, latest_hash: bytes) -> None:
        """A peer's announced height (PeerHandlers.on_status): starts a sync when this node is
        more than one block behind it and no sync runs."""
        del sender, latest_hash
        if self._kind.block_sync and height > self._store.latest_height() + 1 and not self.syncing:
            self._task = asyncio.create_task(self._sync())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def latest_block(self) -> tuple[int, bytes]:
        """(latest height, its block hash); 32 zero bytes before the first block."""
        latest = self._store.latest_height()
        return latest, self._store.get_block_hash(latest) if latest else bytes(32)

    async def _sync(self) -> None:
        network = self._network()
        assert network is not None
        syncer = BlockSyncer(
            network,
            chain_id=self._chain_id,
            profile=self._profile,
            validator_set=lambda height: self._application.validator_set(height)[1],
            latest=self.latest_block,
            apply_block=self._write_block,
            quorum=self._kind.sync_quorum,
            statistics=network.statistics,
        )
        applied = await syncer.sync()
        driver = self._driver()
        if applied and driver is not None:
            log.info("caught up by block sync", extra={"blocks": applied})
            await driver.advance_to(self._store.latest_height() + 1)
