"""Sends the transactions this node's clients gave it to the validators that need them.

The engine adapter decides where they go (`Engine.route`): a raft leader keeps them, as it alone
builds blocks and the followers receive them in its blocks; a follower sends them to its leader
(to every node while no leader is known); tbft gossips them to every validator, any of which may
propose next; solo keeps them. Nothing here asks which engine it is.

What a node holds when it stops leading, or when it follows a new leader, it forwards then
(`forward_pending`), in slices, so that encoding a large pool does not hold the event loop (and
with it this node's consensus messages) for long.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from causeway.consensus.engines import Engine, TransactionRoute
from causeway.mempool import SharedMempool
from causeway.net import PeerNetwork
from causeway.types import DecodedTransaction

log = logging.getLogger("causeway.node")

# Transactions a node hands to the network per turn of the event loop when it forwards what it
# holds.
FORWARD_SLICE_TRANSACTIONS = 1_000


class TransactionRouting:
    def __init__(
        self,
        *,
        mempool: SharedMempool,
        engine: Callable[[], Engine | None],
        network: Callable[[], PeerNetwork | None],
        stopping: asyncio.Event,
    ) -> None:
        """engine, network: the node's, once they exist (None before, and without peers)."""
        self._mempool = mempool
        self._engine = engine
        self._network = network
        self._stopping = stopping
        # Forwarding tasks, kept until done (the event loop holds only weak references).
        self.background: set[asyncio.Task[None]] = set()

    def route(self) -> TransactionRoute:
        """Where a client's transactions admitted here go now: as the engine says; before it
        exists (the peers are up a moment before it), to every node, as no node is known to
        build the blocks."""
        engine = self._engine()
        if engine is None:
            return TransactionRoute(gossip=True)
        return engine.route()

    def keeps_transactions(self) -> bool:
        """This node keeps its clients' transactions (it builds the blocks they go into)."""
        return not self.route().gossip

    def leader(self) -> str | None:
        """The one node this node's clients' transactions go to, when there is one."""
        return self.route().to

    def admitted(self, accepted: list[DecodedTransaction]) -> None:
        """What clients sent here and the mempool accepted goes to the validators that need it."""
        network = self._network()
        if accepted and network is not None and not self.keeps_transactions():
            # One hop over a full mesh: what clients sent here goes to every validator once,
            # as the bytes admitted: gossip encodes no transaction again.
            network.gossip_transactions([t.encoded for t in accepted], to=self.leader())

    def forward_pending(self, leader: str | None = None) -> None:
        """What this node holds goes to the node that will build blocks. On losing the
        leadership (leader None): to every other node, as the next leader is not known yet.
        When a new leader is followed: to it (what this follower sent the previous leader may
        have died with it). The transactions stay pooled here until committed."""
        if self._network() is None or self._stopping.is_set():
            return
        pending = self._mempool.take_all(time.time_ns() // 1_000_000)
        if pending:
            log.info("forwarding pending transactions", extra={"transactions": len(pending)})
            task = asyncio.create_task(self._forward([t.encoded for t in pending], leader))
            self.background.add(task)
            task.add_done_callback(self.background.discard)

    async def _forward(self, encoded_transactions: list[bytes], to: str | None = None) -> None:
        transactions = encoded_transactions
        for start in range(0, len(transactions), FORWARD_SLICE_TRANSACTIONS):
            network = self._network()
            if network is None or self._stopping.is_set():
                return
            network.gossip_transactions(
                transactions[start : start + FORWARD_SLICE_TRANSACTIONS], to=to
            )
            await asyncio.sleep(0)
