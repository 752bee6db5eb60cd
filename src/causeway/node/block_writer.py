"""Writes the blocks the chain committed, whether consensus or block sync brought them.

Each block is written once, in height order, under the writer's own lock (consensus and block
sync may bring the same block at the same time). For one block (the durability promise of
DESIGN.md section 3):

1. its execution (cached when this node built or validated it) is checked against its header;
2. block, results, state and indices go to the store in ONE durable LMDB transaction;
3. only then are its transactions dropped from the mempool, its height announced to the peers,
   its waiting clients answered (the client service) and its figures counted (metrics).

A crash before step 2 returns loses only unacknowledged work; after it, nothing is lost. A
block that changed the chain's configuration (`sys/` keys) reloads it here, the one place it
can change; old state history is pruned every PRUNE_EVERY_BLOCKS blocks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from causeway.api.v1 import api_pb2
from causeway.consensus import Commit
from causeway.errors import InvariantError
from causeway.execution import ExecutedBlock, ExecutionApplication, is_shared_record
from causeway.execution.keys import SYSTEM_PREFIX
from causeway.mempool import SharedMempool
from causeway.net import PeerNetwork
from causeway.node.metrics import NodeMetrics
from causeway.state import StateTree
from causeway.storage import Store
from causeway.types import DecodedTransaction
from causeway.types.v1 import types_pb2

log = logging.getLogger("causeway.node")

# How often (in blocks) state history older than the retained window is pruned.
PRUNE_EVERY_BLOCKS = 100

_Result = TypeVar("_Result")


class CommitListener(Protocol):
    """Who answers clients once a block is durable (the client service)."""

    def block_committed(
        self,
        height: int,
        event: api_pb2.BlockEvent,
        transaction_ids: Sequence[bytes],
        results: Sequence[types_pb2.TransactionResult],
    ) -> None: ...


@dataclass(slots=True)
class CommittedBlock:
    """A block durably written, with what its listeners are told."""

    height: int
    event: api_pb2.BlockEvent
    transactions: list[DecodedTransaction]
    results: list[types_pb2.TransactionResult]
    admitted_at: list[float]
    seconds_by_phase: dict[str, float]
    # Validators of the block's height whose signature its certificate lacks (empty when not
    # counted: raft's certificates are completed after commit).
    missed_votes: list[str]
    changed_keys: tuple[bytes, ...] = ()
    """The state keys the block changed under sys/ (what the node may have to follow)."""


class BlockWriter:
    def __init__(
        self,
        *,
        store: Store,
        tree: StateTree,
        application: ExecutionApplication,
        mempool: SharedMempool,
        metrics: NodeMetrics,
        load_chain_config: Callable[[], types_pb2.ChainConfig],
        on_chain_config_changed: Callable[[], None],
        listener: CommitListener,
        network: Callable[[], PeerNetwork | None],
        count_missed_votes: bool = True,
    ) -> None:
        """load_chain_config: reads the configuration from the latest committed state.
        on_chain_config_changed: called (in the writing thread) after a block changed it.
        listener: answers clients; network: the peers, once it runs (None without peers).
        count_missed_votes: whether a certificate lacking a validator's signature counts as
        that validator's missed vote (not for raft, whose certificates are completed after
        commit)."""
        self._count_missed_votes = count_missed_votes
        self._store = store
        self._tree = tree
        self._application = application
        self._mempool = mempool
        self._metrics = metrics
        self._load_chain_config = load_chain_config
        self._on_chain_config_changed = on_chain_config_changed
        self._listener = listener
        self._network = network
        self._lock = asyncio.Lock()
        # The writer's own thread: a durable write must not queue behind client requests in the
        # event loop's default executor (admissions wait there on the verification workers; with
        # 16 batches in flight a 10,000-transaction block waited up to 0.77 s for a thread, and
        # the execution lane, which waits for the write before the next commit, with it).
        self._thread: concurrent.futures.ThreadPoolExecutor | None = None
        # The configuration as of the latest written block.
        self.chain_config = load_chain_config()
        # Told of each certificate consensus committed, once its block is written (raft
        # certificates gather the other voters' signatures for it).
        self.on_consensus_certificate: Callable[[types_pb2.CommitCertificate], None] | None = None
        # Told, on the event loop, of the system keys each written block changed (the node's
        # peers follow the nodes contract's records: node/chain_peers.py).
        self.on_system_keys_changed: Callable[[Sequence[bytes]], None] | None = None

    async def write_commit(self, commit: Commit) -> None:
        """A block consensus committed (the driver's apply_commit)."""
        await self.write(commit.block, commit.certificate)
        if self.on_consensus_certificate is not None:
            self.on_consensus_certificate(commit.certificate)

    async def write(self, block: types_pb2.Block, certificate: types_pb2.CommitCertificate) -> None:
        """Writes `block` if it is the next height; one already written is ignored. Raises
        InvariantError for a height that skips one, or a block that does not execute to its
        header here (the validators committed it: this node's state is wrong)."""
        async with self._lock:
            height = block.header.height
            latest = self._store.latest_height()
            if height <= latest:
                return  # already written (block sync and consensus both brought it)
            if height != latest + 1:
                raise InvariantError(f"asked to write block {height} after {latest}")
            executed = await self._in_thread(self._application.executed, block)
            if executed is None:
                raise InvariantError(
                    f"block {height} was committed by the validators but does not execute to "
                    "its header here"
                )
            committed = await self._in_thread(self._commit, executed, certificate)
            self._after_commit(committed)

    def close(self) -> None:
        """Stops the writer's thread once the write in it (if any) is done."""
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None

    async def _in_thread(self, function: Callable[..., _Result], *arguments: object) -> _Result:
        if self._thread is None:
            self._thread = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="block-writer"
            )
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, *arguments)

    def _commit(
        self, executed: ExecutedBlock, certificate: types_pb2.CommitCertificate
    ) -> CommittedBlock:
        """Runs in a worker thread: the one durable write of a block, then what follows it."""
        started = time.perf_counter()
        height = executed.block.header.height
        ids = [t.id for t in executed.transactions]
        self._store.commit_block(executed.record(certificate))
        self._tree.committed(executed.tree_update)
        self._application.forget_below(height)
        seconds = dict(executed.seconds)
        seconds["commit"] = time.perf_counter() - started
        if any(is_shared_record(key) for key in executed.changes):
            self.chain_config = self._load_chain_config()
            self._on_chain_config_changed()
        history = self.chain_config.state_history_heights
        if height % PRUNE_EVERY_BLOCKS == 0 and height > history:
            started = time.perf_counter()
            self._store.prune_state(height - history)
            seconds["prune"] = time.perf_counter() - started
        admitted_at = self._mempool.admitted_at(ids)
        event = api_pb2.BlockEvent(
            block=executed.block, certificate=certificate, results=executed.results
        )
        missed_votes: list[str] = []
        if self._count_missed_votes:
            signed = {signature.validator for signature in certificate.signatures}
            validators = self._application.validator_set(height)[1].validators
            missed_votes = sorted(v.member_id for v in validators if v.member_id not in signed)
        return CommittedBlock(
            height,
            event,
            executed.transactions,
            executed.results,
            admitted_at,
            seconds,
            missed_votes,
            tuple(key for key in executed.changes if key.startswith(SYSTEM_PREFIX)),
        )

    def _after_commit(self, committed: CommittedBlock) -> None:
        ids = [t.id for t in committed.transactions]
        self._mempool.remove(ids)
        network = self._network()
        if network is not None:
            network.announce_status(committed.height, committed.event.certificate.block_hash)
        self._listener.block_committed(committed.height, committed.event, ids, committed.results)
        if committed.changed_keys and self.on_system_keys_changed is not None:
            self.on_system_keys_changed(committed.changed_keys)
        failed = self._metrics.block_committed(
            committed.height,
            committed.results,
            committed.admitted_at,
            committed.seconds_by_phase,
            proposer=committed.event.block.header.proposer,
            commit_round=committed.event.certificate.round,
            missed_votes=committed.missed_votes,
        )
        self._metrics.mempool_transactions.set(len(self._mempool))
        self._metrics.mempool_bytes.set(self._mempool.bytes_total)
        log.info(
            "block committed",
            extra={
                "height": committed.height,
                "transactions": len(committed.results),
                "failed": failed,
                "milliseconds": round(sum(committed.seconds_by_phase.values()) * 1000, 1),
            },
        )
