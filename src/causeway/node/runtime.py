"""The node runtime: wires the pure cores to storage, the clock and the APIs, and does all I/O.

Order of work for one block (the durability promise of DESIGN.md section 3):

1. take transactions from the mempool and mark them in flight (so a resubmission is a duplicate);
2. execute, apply the state tree, build the header and sign the commit vote;
3. write block, results, state and indices in ONE durable LMDB transaction;
4. only then answer waiting clients, publish the block to streams and count metrics.

A crash before step 3 returns loses only unacknowledged work; after it, nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from google.protobuf import json_format

from causeway.api import (
    check_states_request,
    create_grpc_server,
    create_http_app,
    states_response,
    validator_set_response,
)
from causeway.api.v1 import api_pb2
from causeway.consensus import Commit, ProposeBlock
from causeway.consensus.raft import CertificateGatherer
from causeway.consensus.solo import SoloEngine
from causeway.consensus.v1 import consensus_pb2
from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import BatchVerifier, CryptoProfile, PrivateKey, get_profile, load_public_key
from causeway.errors import (
    CausewayError,
    ConfigurationError,
    DuplicateError,
    HeightUnavailableError,
    InvariantError,
    LimitExceededError,
    NodeUnavailableError,
    NotFoundError,
    RequestError,
    SignatureError,
    UnknownMemberError,
    WrongChainError,
)
from causeway.execution import Executor
from causeway.mempool import Admission, Mempool, MempoolLimits
from causeway.net import (
    BlockSyncer,
    PeerHandlers,
    PeerNetwork,
    TlsIdentity,
    VerifiedTransactionCache,
    quorum_for_consensus,
)
from causeway.node.application import ExecutedBlock, ExecutionApplication
from causeway.node.config import NodeConfig, load_node_config
from causeway.node.consensus_driver import ConsensusDriver, make_core
from causeway.node.logs import configure_logging
from causeway.node.metrics import NodeMetrics
from causeway.node.raft_certificates import RaftCertificates
from causeway.node.startup import open_node_store
from causeway.sdk import Identity, build_transaction
from causeway.state import StateTree
from causeway.storage import BlockRecord, Store
from causeway.types import (
    DOMAIN_COMMIT,
    DOMAIN_TRANSACTION,
    DecodedTransaction,
    decode_transaction,
    encode,
    genesis_hash,
    merkle_proof,
    sign_bytes,
)
from causeway.types.v1 import types_pb2

log = logging.getLogger("causeway.node")

# How often (in blocks) state history older than the retained window is pruned.
PRUNE_EVERY_BLOCKS = 100
TICK_MS = 10
RECENT_BLOCKS_CACHED = 8
# Raft: batches of peers' transactions admitted at once beside the peers' streams, and those
# admitted or waiting to be; see _on_peer_transactions.
PEER_ADMISSIONS_IN_FLIGHT_MAX = 4
PEER_ADMISSIONS_QUEUED_MAX = 64
# Raft: transactions a node that stopped leading hands to the network per turn of the loop.
FORWARD_SLICE_TRANSACTIONS = 1_000
EVIDENCE_CONTRACT = "evidence"
# Equivocations this node remembers having reported (it reports each once).
EVIDENCE_REPORTED_MAX = 1024
SUBMIT_WAIT_TIMEOUT_MS_DEFAULT = 30_000
WAIT_TIMEOUT_MS_MAX = 120_000


def load_genesis(path: Path) -> types_pb2.Genesis:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"cannot read genesis file {path}: {error}") from None
    genesis = types_pb2.Genesis()
    try:
        json_format.Parse(text, genesis)
    except json_format.ParseError as error:
        raise ConfigurationError(f"genesis file {path} is not a valid genesis: {error}") from None
    if not genesis.chain_id:
        raise ConfigurationError(f"genesis file {path} has no chain id")
    return genesis


class _LatestStateReader:
    """The executor's view of the latest committed state."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, key: bytes) -> bytes | None:
        return self._store.get_state(key)

    def range(self, prefix: bytes, start_after: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        return self._store.range_state(prefix, start_after, limit)


@dataclass(slots=True)
class _CommittedBlock:
    height: int
    event: api_pb2.BlockEvent
    transactions: list[DecodedTransaction]
    results: list[types_pb2.TransactionResult]
    admitted_at: list[float]
    seconds_by_phase: dict[str, float]


class Node:
    """One Causeway node. Implements causeway.api.ChainService."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.genesis = load_genesis(config.genesis_file)
        self.profile: CryptoProfile = get_profile(self.genesis.crypto_profile)
        self.chain_id = self.genesis.chain_id
        self.genesis_hash = genesis_hash(self.genesis, self.profile.hash)
        self.consensus = self.genesis.consensus
        if self.consensus not in ("solo", "tbft", "raft"):
            raise ConfigurationError(f"unknown consensus '{self.consensus}' in genesis")
        try:
            self.key = PrivateKey.from_pem(config.key_file.read_bytes())
        except OSError as error:
            raise ConfigurationError(f"cannot read node key {config.key_file}: {error}") from None
        validators = {v.member_id: v for v in self.genesis.validators.validators}
        if self.consensus == "solo" and list(validators) != [config.member_id]:
            raise ConfigurationError(
                f"solo consensus needs exactly one validator, this node ({config.member_id})"
            )
        own = validators.get(config.member_id)
        # A node outside the genesis set follows the chain (tbft: as an observer) until
        # governance makes it a validator.
        if own is not None and self.key.public_key().raw != own.public_key:
            raise ConfigurationError("the node key does not match its validator entry in genesis")

        # Refuses (one line naming the file) a store that is not new but lost its chain.
        self.store = open_node_store(config, self.genesis, self.profile)
        self.tree = StateTree(self.profile.hash, self.store)
        self.executor = Executor(self.genesis, self.profile)
        self.reader = _LatestStateReader(self.store)
        self.chain_config = self.executor.get_config(self.reader)
        # Worker processes, not threads: this process is busy with Python work (execution,
        # the APIs) and would starve verifying threads of the GIL (measured: 3,900/s in threads
        # against 10,700/s in two worker processes beside one busy Python thread, P-256).
        self.verifier = BatchVerifier(processes=config.verify_processes)
        self.mempool = Mempool(
            MempoolLimits(
                transactions_max=config.mempool_transactions_max,
                bytes_max=config.mempool_bytes_max,
            )
        )
        # Guards the mempool and the in-flight set, touched by admission threads and the loop.
        self._mempool_lock = threading.Lock()
        self._in_flight: set[bytes] = set()
        self._admitted_at: dict[bytes, float] = {}
        self.admission = self._make_admission()
        self.verified = VerifiedTransactionCache()
        self.application = ExecutionApplication(
            chain_id=self.chain_id,
            profile=self.profile,
            genesis_hash=self.genesis_hash,
            store=self.store,
            tree=self.tree,
            executor=self.executor,
            verifier=self.verifier,
            verified=self.verified,
            take_transactions=self._take_for_block,
            block_limits=lambda: (
                self.chain_config.block_transactions_max,
                self.chain_config.block_bytes_max,
            ),
            defer_validation=self.consensus == "raft",
            block_time_drift_ms=config.consensus.block_time_drift_ms,
        )
        self.metrics = NodeMetrics()
        latest = self.store.latest_height()
        self.engine = SoloEngine(
            config.member_id,
            last_height=latest,
            block_interval_ms=config.block_interval_ms,
            block_transactions_max=self.chain_config.block_transactions_max,
        )
        self.network: PeerNetwork | None = None
        self.driver: ConsensusDriver | None = None
        # Raft certificates: voters' signatures gathered after commit (node/raft_certificates.py).
        self._raft_certificates: RaftCertificates | None = None
        # One block written at a time, whether consensus or block sync brought it.
        self._commit_lock = asyncio.Lock()
        self._sync_task: asyncio.Task[None] | None = None
        self.metrics.height.set(latest)
        self._waiters: dict[bytes, list[asyncio.Future[tuple[int, types_pb2.TransactionResult]]]]
        self._waiters = {}
        self._block_committed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._failure: BaseException | None = None
        self._recent_blocks: OrderedDict[int, api_pb2.BlockEvent] = OrderedDict()
        self._evidence_reported: set[tuple[str, int, int, int]] = set()
        self._background: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ start-up

    def _make_admission(self) -> Admission:
        return Admission(
            chain_id=self.chain_id,
            profile=self.profile,
            verifier=self.verifier,
            member_lookup=lambda member_id: self.executor.get_member(self.reader, member_id),
            committed=self._committed_or_in_flight,
            transaction_bytes_max=self.chain_config.transaction_bytes_max,
            expiry_max_ms=self.chain_config.transaction_expiry_max_ms,
        )

    def _committed_or_in_flight(self, ids: Sequence[bytes]) -> list[bool]:
        committed = self.store.has_transactions(ids)
        return [c or i in self._in_flight for c, i in zip(committed, ids, strict=True)]

    # ------------------------------------------------------------------ running

    async def run(self, *, install_signal_handlers: bool = True) -> None:
        """Serves until stop() or SIGINT/SIGTERM; then stops cleanly and closes the store."""
        loop = asyncio.get_running_loop()
        if install_signal_handlers:
            for signal_number in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signal_number, self.stop)
        try:
            grpc_server = create_grpc_server(
                self,
                self.config.grpc_address,
                message_bytes_max=self.config.api_message_bytes_max,
            )
            http_app = create_http_app(
                self,
                request_bytes_max=self.config.http_request_bytes_max,
                metrics_handler=self.metrics.render,
            )
            # Bound before anything is announced, so that a taken port is one clear error.
            http_server = _HttpServer(http_app, self.config.http_address)
        except BaseException:
            self.verifier.close()
            self.store.close()
            raise
        await grpc_server.start()
        http_task = asyncio.create_task(http_server.serve())
        if self.consensus == "solo":
            producer = asyncio.create_task(self._produce_blocks())
        else:
            producer = asyncio.create_task(self._run_replicated())
        log.info(
            "node started",
            extra={
                "node": self.config.name,
                "chain_id": self.chain_id,
                "height": self.store.latest_height(),
                "grpc": self.config.grpc_address,
                "http": self.config.http_address,
            },
        )
        try:
            stop_waiter = asyncio.create_task(self._stopping.wait())
            await asyncio.wait(
                {stop_waiter, producer, http_task}, return_when=asyncio.FIRST_COMPLETED
            )
            stop_waiter.cancel()
        finally:
            self._stopping.set()
            log.info("node stopping", extra={"node": self.config.name})
            # Answer clients waiting for a commit before the server cuts their calls off.
            self._fail_waiters()
            await asyncio.sleep(0)
            http_server.should_exit = True
            await grpc_server.stop(grace=1.0)
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer
            if self._sync_task is not None:
                self._sync_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._sync_task
            if self.network is not None:
                await self.network.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await http_task
            self.verifier.close()
            stopped_at_height = self.store.latest_height()
            self.store.close()
            if install_signal_handlers:
                for signal_number in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(signal_number)
            log.info("node stopped", extra={"height": stopped_at_height})
        if self._failure is not None:
            raise self._failure
        if producer.done() and not producer.cancelled() and producer.exception() is not None:
            raise producer.exception()  # type: ignore[misc]

    def stop(self) -> None:
        self._stopping.set()

    def _fail_waiters(self) -> None:
        for futures in self._waiters.values():
            for future in futures:
                if not future.done():
                    future.set_exception(NodeUnavailableError("the node is shutting down"))
        self._waiters.clear()

    async def _produce_blocks(self) -> None:
        while not self._stopping.is_set():
            now_ms = _now_ms()
            actions = self.engine.tick(now_ms, len(self.mempool))
            for action in actions:
                if isinstance(action, ProposeBlock):
                    await self._propose(action.height, now_ms)
            if not actions:
                await asyncio.sleep(TICK_MS / 1000)

    async def _propose(self, height: int, now_ms: int) -> None:
        """Solo: build, sign and commit the block at `height` in a worker thread."""
        del now_ms  # the block's time is read when it is built
        try:
            committed = await asyncio.to_thread(self._solo_block, height)
        except BaseException as error:
            # Storage or an invariant failed: the block may or may not be durable, so the only
            # safe course is to stop and let a restart read the truth from disk.
            self._failure = error
            log.critical("block production failed; stopping", exc_info=error)
            self._stopping.set()
            raise
        if committed is None:
            self.engine.proposal_abandoned()
            return
        self._after_commit(committed)

    def _take_for_block(
        self, transactions_max: int, bytes_max: int, now_ms: int
    ) -> list[DecodedTransaction]:
        with self._mempool_lock:
            transactions = self.mempool.take(transactions_max, bytes_max, now_ms)
            if self.genesis.consensus == "solo":
                # The one validator's block always commits: move its transactions out of the
                # pool now, and mark them in flight so a resubmission is a duplicate meanwhile.
                ids = [t.id for t in transactions]
                self.mempool.remove(ids)
                self._in_flight.update(ids)
        return transactions

    def _solo_block(self, height: int) -> _CommittedBlock | None:
        block = self.application.build_block(height, 0, _now_ms(), self.config.member_id)
        executed = self.application.executed(block)
        if executed is None:
            raise InvariantError(f"the block just built at height {height} has no execution")
        if not executed.transactions:
            return None
        started = time.perf_counter()
        vote = types_pb2.CommitVote(height=height, round=0, block_hash=executed.block_hash)
        signature = self.key.sign(sign_bytes(DOMAIN_COMMIT, self.chain_id, encode(vote)))
        certificate = types_pb2.CommitCertificate(
            height=height,
            round=0,
            block_hash=executed.block_hash,
            signatures=[
                types_pb2.CommitSignature(validator=self.config.member_id, signature=signature)
            ],
        )
        executed.seconds["seal"] = time.perf_counter() - started
        return self._commit(executed, certificate)

    def _commit(
        self, executed: ExecutedBlock, certificate: types_pb2.CommitCertificate
    ) -> _CommittedBlock:
        """Runs in a worker thread: the one durable write of a block, then what follows it."""
        started = time.perf_counter()
        height = executed.block.header.height
        ids = [t.id for t in executed.transactions]
        self.store.commit_block(
            BlockRecord(
                block=executed.block,
                block_hash=executed.block_hash,
                certificate=certificate,
                results=executed.results,
                transaction_ids=ids,
                state_changes=executed.changes,
                tree_update=executed.tree_update,
                validator_set=executed.validator_set,
            )
        )
        self.tree.committed(executed.tree_update)
        self.application.forget_below(height)
        seconds = dict(executed.seconds)
        seconds["commit"] = time.perf_counter() - started
        if any(key.startswith(b"sys/") for key in executed.changes):
            self._reload_chain_config()
        history = self.chain_config.state_history_heights
        if height % PRUNE_EVERY_BLOCKS == 0 and height > history:
            started = time.perf_counter()
            self.store.prune_state(height - history)
            seconds["prune"] = time.perf_counter() - started
        with self._mempool_lock:
            admitted_at = [self._admitted_at.pop(i, 0.0) for i in ids]
        event = api_pb2.BlockEvent(
            block=executed.block, certificate=certificate, results=executed.results
        )
        return _CommittedBlock(
            height, event, executed.transactions, executed.results, admitted_at, seconds
        )

    def _reload_chain_config(self) -> None:
        self.chain_config = self.executor.get_config(self.reader)
        self.engine.block_transactions_max = self.chain_config.block_transactions_max
        self.admission = self._make_admission()

    def _after_commit(self, committed: _CommittedBlock) -> None:
        ids = [t.id for t in committed.transactions]
        with self._mempool_lock:
            self.mempool.remove(ids)
            self._in_flight.difference_update(ids)
        if self.consensus == "solo":
            self.engine.block_committed(committed.height)
        if self.network is not None:
            self.network.announce_status(committed.height, committed.event.certificate.block_hash)
        # Followers (SDK streams, the bench) ask for the newest blocks right away: serve those
        # from memory instead of reading back and decoding what was just written.
        self._recent_blocks[committed.height] = committed.event
        while len(self._recent_blocks) > RECENT_BLOCKS_CACHED:
            self._recent_blocks.popitem(last=False)
        now = time.monotonic()
        ok = 0
        for transaction, result, admitted_at in zip(
            committed.transactions, committed.results, committed.admitted_at, strict=True
        ):
            if result.status == types_pb2.RESULT_STATUS_OK:
                ok += 1
            if admitted_at:
                self.metrics.commit_latency_seconds.observe(now - admitted_at)
            for future in self._waiters.pop(transaction.id, ()):
                if not future.done():
                    future.set_result((committed.height, result))
        failed = len(committed.results) - ok
        self.metrics.height.set(committed.height)
        self.metrics.transactions_committed.labels("ok").inc(ok)
        self.metrics.transactions_committed.labels("failed").inc(failed)
        self.metrics.block_transactions.observe(len(committed.results))
        for name, seconds in committed.seconds_by_phase.items():
            self.metrics.block_seconds.labels(name).observe(seconds)
        self.metrics.mempool_transactions.set(len(self.mempool))
        self.metrics.mempool_bytes.set(self.mempool.bytes_total)
        log.info(
            "block committed",
            extra={
                "height": committed.height,
                "transactions": len(committed.results),
                "failed": failed,
                "milliseconds": round(sum(committed.seconds_by_phase.values()) * 1000, 1),
            },
        )
        # Wake every stream waiting for a new block, then arm the event for the next one.
        self._block_committed.set()
        self._block_committed = asyncio.Event()

    # ------------------------------------------------------------------ replicated engines

    async def _run_replicated(self) -> None:
        """tbft or raft: the peer network, the consensus core's driver, block sync."""
        self._peer_admissions = asyncio.Semaphore(PEER_ADMISSIONS_IN_FLIGHT_MAX)
        self._peer_admissions_queued = 0
        self._peer_admission_done = asyncio.Event()
        peers = self.config.peers
        self.network = PeerNetwork(
            chain_id=self.chain_id,
            settings=peers,
            tls=TlsIdentity.load(
                peers.tls_key_file, peers.tls_certificate_file, peers.tls_ca_bundle_file
            ),
            handlers=PeerHandlers(
                on_consensus=self._on_peer_consensus,
                on_transactions=self._on_peer_transactions,
                on_status=self._on_peer_status,
            ),
            block_source=_StoreBlockSource(self.store),
            member_id=self.config.member_id,
        )
        await self.network.start()
        core = make_core(
            consensus=self.consensus,
            genesis=self.genesis,
            member_id=self.config.member_id,
            key=self.key,
            application=self.application,
            store=self.store,
            settings=self.config.consensus,
        )
        if self.consensus == "raft":  # raft certificates
            self._raft_certificates = RaftCertificates(
                CertificateGatherer(self.chain_id, self.config.member_id, self.profile),
                store=self.store,
                validator_set=lambda height: self.application.validator_set(height)[1],
                broadcast=self.network.broadcast_consensus,
                on_stored=lambda certificate: self._recent_blocks.pop(certificate.height, None),
            )
        self.driver = ConsensusDriver(
            core=core,
            store=self.store,
            transport=self.network,
            apply_commit=self._apply_consensus_commit,
            transactions_waiting=lambda: len(self.mempool) > 0,
            on_evidence=self._on_evidence,
            governed_voters=self._governed_voters if self.consensus == "raft" else None,
            build_block=self.application.build_block if self.consensus == "raft" else None,
            on_leadership_lost=(
                self._forward_pending_transactions if self.consensus == "raft" else None
            ),
            on_leader_changed=(
                self._forward_pending_transactions if self.consensus == "raft" else None
            ),
        )
        latest = self.store.latest_height()
        self.network.announce_status(latest, self.store.get_block_hash(latest) if latest else b"")
        try:
            await self.driver.run(self._stopping)
        except BaseException as error:
            if not isinstance(error, asyncio.CancelledError):
                self._failure = error
                log.critical("consensus failed; stopping", exc_info=error)
                self._stopping.set()
            raise

    def _raft_leading(self) -> bool:
        """A raft leader keeps its clients' transactions: it alone builds blocks, and the
        followers receive them in its blocks (checked there, in one batch per block). Gossiping
        them too made each follower decode, check and pool every transaction twice over: on a
        3-node devnet the followers spent a third less CPU without it (see
        docs/performance.md). What a leader holds when it stops leading it forwards then
        (_forward_pending_transactions); what a crashed leader held is lost unless committed,
        and its clients, who were never told of a commit, submit again."""
        return self.consensus == "raft" and self.driver is not None and self.driver.role == "leader"

    def _raft_leader(self) -> str | None:
        """A raft follower's leader, when it knows one: its clients' transactions go there only
        (the other followers receive them in the leader's blocks, as they do the leader's own
        clients'), which spares every other follower their decoding, checks and pooling."""
        if self.consensus != "raft" or self.driver is None:
            return None
        leader = getattr(self.driver.core, "leader", None)
        return leader if isinstance(leader, str) and leader != self.config.member_id else None

    def _forward_pending_transactions(self, leader: str | None = None) -> None:
        """Raft: what this node holds goes to the node that will build blocks. On losing the
        leadership (leader None): to every other node, as the next leader is not known yet.
        When a new leader is followed: to it (what this follower sent the previous leader may
        have died with it)."""
        if self.network is None or self._stopping.is_set():
            return
        with self._mempool_lock:
            pending = self.mempool.take(len(self.mempool), self.mempool.bytes_total, _now_ms())
        if pending:
            log.info("forwarding pending transactions", extra={"transactions": len(pending)})
            task = asyncio.create_task(self._forward([t.transaction for t in pending], leader))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _forward(
        self, transactions: list[types_pb2.Transaction], to: str | None = None
    ) -> None:
        # In slices, so that encoding a large pool does not hold the event loop (and with it
        # this node's consensus messages) for long.
        for start in range(0, len(transactions), FORWARD_SLICE_TRANSACTIONS):
            if self.network is None or self._stopping.is_set():
                return
            self.network.gossip_transactions(
                transactions[start : start + FORWARD_SLICE_TRANSACTIONS], to=to
            )
            await asyncio.sleep(0)

    def _governed_voters(self) -> list[str]:
        validators = self.application.validator_set(self.store.latest_height() + 1)[1]
        return [validator.member_id for validator in validators.validators]

    async def _on_peer_consensus(
        self, sender: str, message: consensus_pb2.ConsensusMessage
    ) -> None:
        if self._raft_certificates is not None and RaftCertificates.handles(message):
            self._raft_certificates.received(sender, message)  # raft certificates
            return
        if self.driver is not None:
            self.driver.deliver(sender, message)

    async def _on_peer_transactions(
        self, sender: str, transactions: list[types_pb2.Transaction]
    ) -> None:
        del sender
        if self._stopping.is_set():
            return
        if self.consensus != "raft":
            await asyncio.to_thread(self._admit, transactions, _now_ms())
            return
        # Raft: a peer's consensus messages come on the same stream as its transactions, after
        # them. Admitting each batch before reading on held the leader's heartbeats back for
        # seconds behind the signature checks of the gossip, and the followers started
        # elections (measured on a 3-node devnet under load). So batches are admitted beside
        # the stream, PEER_ADMISSIONS_IN_FLIGHT_MAX at once; only beyond
        # PEER_ADMISSIONS_QUEUED_MAX waiting does the stream wait, as before.
        while self._peer_admissions_queued >= PEER_ADMISSIONS_QUEUED_MAX:
            self._peer_admission_done.clear()
            await self._peer_admission_done.wait()
        self._peer_admissions_queued += 1
        task = asyncio.create_task(self._admit_from_peer(transactions))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _admit_from_peer(self, transactions: list[types_pb2.Transaction]) -> None:
        try:
            async with self._peer_admissions:
                if not self._stopping.is_set():
                    await asyncio.to_thread(self._admit, transactions, _now_ms())
        except Exception:
            if not self._stopping.is_set():
                log.exception("admitting a peer's transactions failed")
        finally:
            self._peer_admissions_queued -= 1
            self._peer_admission_done.set()

    async def _on_peer_status(self, sender: str, height: int, latest_hash: bytes) -> None:
        del sender, latest_hash
        # One block behind is normal between peers; further behind means this node missed
        # blocks (it was down, or partitioned): fetch them, verified, instead of waiting.
        if (
            self.consensus == "tbft"
            and height > self.store.latest_height() + 1
            and (self._sync_task is None or self._sync_task.done())
        ):
            self._sync_task = asyncio.create_task(self._sync_blocks())

    async def _sync_blocks(self) -> None:
        assert self.network is not None
        syncer = BlockSyncer(
            self.network,
            chain_id=self.chain_id,
            profile=self.profile,
            validator_set=lambda height: self.application.validator_set(height)[1],
            latest=self._latest_block,
            apply_block=self._apply_synced_block,
            quorum=quorum_for_consensus(self.consensus),
            statistics=self.network.statistics,
        )
        applied = await syncer.sync()
        if applied and self.driver is not None:
            log.info("caught up by block sync", extra={"blocks": applied})
            await self.driver.advance_to(self.store.latest_height() + 1)

    def _latest_block(self) -> tuple[int, bytes]:
        latest = self.store.latest_height()
        return latest, self.store.get_block_hash(latest) if latest else bytes(32)

    async def _apply_synced_block(
        self, block: types_pb2.Block, certificate: types_pb2.CommitCertificate
    ) -> None:
        await self._write_committed_block(block, certificate)

    async def _apply_consensus_commit(self, commit: Commit) -> None:
        await self._write_committed_block(commit.block, commit.certificate)
        if self._raft_certificates is not None:
            self._raft_certificates.committed(commit.certificate)  # raft certificates

    async def _write_committed_block(
        self, block: types_pb2.Block, certificate: types_pb2.CommitCertificate
    ) -> None:
        async with self._commit_lock:
            height = block.header.height
            latest = self.store.latest_height()
            if height <= latest:
                return  # already written (block sync and consensus both brought it)
            if height != latest + 1:
                raise InvariantError(f"asked to write block {height} after {latest}")
            executed = await asyncio.to_thread(self.application.executed, block)
            if executed is None:
                raise InvariantError(
                    f"block {height} was committed by the validators but does not execute to "
                    "its header here"
                )
            committed = await asyncio.to_thread(self._commit, executed, certificate)
            self._after_commit(committed)

    def _on_evidence(self, evidence: consensus_pb2.DuplicateVoteEvidence) -> None:
        vote = evidence.first
        log.warning(
            "validator signed conflicting votes",
            extra={"validator": vote.validator, "height": vote.height, "round": vote.round},
        )
        self.metrics.evidence.inc()
        identity = (vote.validator, vote.height, vote.round, int(vote.type))
        if identity in self._evidence_reported or self._stopping.is_set():
            return
        if len(self._evidence_reported) >= EVIDENCE_REPORTED_MAX:
            self._evidence_reported.clear()
        self._evidence_reported.add(identity)
        task = asyncio.create_task(self._report_evidence(evidence))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _report_evidence(self, evidence: consensus_pb2.DuplicateVoteEvidence) -> None:
        """Puts the evidence on chain: an evidence.submit transaction signed with the node's key,
        admitted here and gossiped like a client's (any validator that saw both votes does this;
        the contract records an equivocation once)."""
        transaction = build_transaction(
            Identity(self.config.member_id, self.key),
            self.chain_id,
            EVIDENCE_CONTRACT,
            "submit",
            contracts_pb2.EvidenceSubmitArguments(evidence=evidence),
        )
        try:
            (response,) = await self._submit_many([transaction], False, 0)
        except CausewayError as error:
            log.error("evidence not submitted", extra={"error": error.message})
            return
        if not response.accepted:
            log.error(
                "evidence refused by admission",
                extra={"reason": response.rejection.reason, "error": response.rejection.message},
            )

    # ------------------------------------------------------------------ admission

    def _admit(
        self, items: Sequence[types_pb2.Transaction], now_ms: int
    ) -> list[DecodedTransaction | RequestError]:
        """Runs in a worker thread: checks a batch and adds what passes to the mempool."""
        checked = self.admission.check(items, now_ms)
        accepted = [c for c in checked if isinstance(c, DecodedTransaction)]
        committed = self.store.has_transactions([c.id for c in accepted]) if accepted else []
        already = {c.id for c, done in zip(accepted, committed, strict=True) if done}
        outcome: list[DecodedTransaction | RequestError] = []
        now = time.monotonic()
        with self._mempool_lock:
            for item in checked:
                if isinstance(item, RequestError):
                    outcome.append(item)
                    continue
                # Checked again under the lock: the transaction may have been taken into a
                # block or committed while the signatures were being verified.
                if item.id in already or item.id in self._in_flight:
                    outcome.append(DuplicateError("transaction was already committed"))
                    continue
                try:
                    self.mempool.add(item, now_ms)
                except RequestError as error:
                    outcome.append(error)
                    continue
                self._admitted_at[item.id] = now
                outcome.append(item)
        self.verified.add_many(
            (item.id, item.transaction.signature)
            for item in outcome
            if isinstance(item, DecodedTransaction)
        )
        return outcome

    async def _submit_many(
        self, transactions: Sequence[types_pb2.Transaction], wait: bool, wait_timeout_ms: int
    ) -> list[api_pb2.SubmitResponse]:
        if self._stopping.is_set():
            raise NodeUnavailableError("the node is shutting down")
        if len(transactions) > self.config.admission_batch_max:
            raise LimitExceededError(
                f"batch of {len(transactions)} transactions is above the limit of "
                f"{self.config.admission_batch_max}"
            )
        outcomes = await asyncio.to_thread(self._admit, transactions, _now_ms())
        self.metrics.mempool_transactions.set(len(self.mempool))
        if self.network is not None and not self._raft_leading():
            # One hop over a full mesh: what clients sent here goes to every validator once.
            accepted = [o.transaction for o in outcomes if isinstance(o, DecodedTransaction)]
            if accepted:
                self.network.gossip_transactions(accepted, to=self._raft_leader())
        responses: list[api_pb2.SubmitResponse] = []
        waits: list[tuple[int, asyncio.Future[tuple[int, types_pb2.TransactionResult]]]] = []
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, RequestError):
                self.metrics.transactions_rejected.labels(outcome.reason).inc()
                responses.append(
                    api_pb2.SubmitResponse(
                        transaction_id=_transaction_id_or_empty(transactions[index], self),
                        accepted=False,
                        rejection=api_pb2.Rejection(reason=outcome.reason, message=outcome.message),
                    )
                )
                continue
            responses.append(api_pb2.SubmitResponse(transaction_id=outcome.id, accepted=True))
            if wait:
                waits.append((index, self._wait_for_commit(outcome.id)))
        if waits:
            timeout_s = _bounded_wait_ms(wait_timeout_ms, SUBMIT_WAIT_TIMEOUT_MS_DEFAULT) / 1000
            try:
                await asyncio.wait([f for _, f in waits], timeout=timeout_s)
            finally:
                # Also when the call is cancelled: no waiter may outlive its request.
                for index, future in waits:
                    if future.done() and not future.cancelled() and future.exception() is None:
                        height, result = future.result()
                        responses[index].committed = True
                        responses[index].height = height
                        responses[index].result.CopyFrom(result)
                    else:
                        future.cancel()
                        self._forget_waiter(responses[index].transaction_id, future)
        return responses

    def _wait_for_commit(
        self, transaction_id: bytes
    ) -> asyncio.Future[tuple[int, types_pb2.TransactionResult]]:
        future: asyncio.Future[tuple[int, types_pb2.TransactionResult]]
        future = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(transaction_id, []).append(future)
        # It may have committed between admission and now; then answer from storage.
        location = self.store.find_transaction(transaction_id)
        if location is not None:
            height, index = location
            future.set_result((height, self.store.get_results(height)[index]))
            self._forget_waiter(transaction_id, future)
        return future

    def _forget_waiter(
        self, transaction_id: bytes, future: asyncio.Future[tuple[int, types_pb2.TransactionResult]]
    ) -> None:
        futures = self._waiters.get(transaction_id)
        if futures is None:
            return
        with contextlib.suppress(ValueError):
            futures.remove(future)
        if not futures:
            del self._waiters[transaction_id]

    # ------------------------------------------------------------------ ChainService

    async def submit(self, request: api_pb2.SubmitRequest) -> api_pb2.SubmitResponse:
        (response,) = await self._submit_many(
            [request.transaction], request.wait_for_commit, request.wait_timeout_ms
        )
        return response

    async def submit_batch(
        self, request: api_pb2.SubmitBatchRequest
    ) -> api_pb2.SubmitBatchResponse:
        responses = await self._submit_many(
            list(request.transactions), request.wait_for_commit, request.wait_timeout_ms
        )
        return api_pb2.SubmitBatchResponse(responses=responses)

    async def query(self, request: api_pb2.QueryRequest) -> api_pb2.QueryResponse:
        decoded = decode_transaction(
            request.transaction,
            hash_function=self.profile.hash,
            bytes_max=self.chain_config.transaction_bytes_max,
        )
        if decoded.body.chain_id != self.chain_id:
            raise WrongChainError(f"transaction is for chain '{decoded.body.chain_id}'")
        member = self.executor.get_member(self.reader, decoded.body.sender)
        if member is None:
            raise UnknownMemberError(f"'{decoded.body.sender}' is not a member of this chain")
        public_key = load_public_key(member.algorithm, member.public_key)
        document = sign_bytes(DOMAIN_TRANSACTION, self.chain_id, decoded.transaction.body)
        if not public_key.verify(document, decoded.transaction.signature):
            raise SignatureError("the query's signature does not verify")
        height = self.store.latest_height()
        result = await asyncio.to_thread(
            self.executor.query, self.reader, decoded, _now_ms(), height=height + 1
        )
        return api_pb2.QueryResponse(height=height, result=result)

    def _resolve_height(self, requested: int) -> int:
        latest = self.store.latest_height()
        if requested == 0:
            if latest == 0:
                raise NotFoundError("no block has been committed yet")
            return latest
        if requested > latest:
            raise NotFoundError(f"height {requested} is not committed yet (latest is {latest})")
        return requested

    def _block_event(self, height: int) -> api_pb2.BlockEvent:
        cached = self._recent_blocks.get(height)
        if cached is not None:
            return cached
        return api_pb2.BlockEvent(
            block=self.store.get_block(height),
            certificate=self.store.get_certificate(height),
            results=self.store.get_results(height),
        )

    async def get_block(self, request: api_pb2.GetBlockRequest) -> api_pb2.GetBlockResponse:
        height = self._resolve_height(request.height)
        event = await asyncio.to_thread(self._block_event, height)
        return api_pb2.GetBlockResponse(
            block=event.block, certificate=event.certificate, results=event.results
        )

    async def get_transaction(
        self, request: api_pb2.GetTransactionRequest
    ) -> api_pb2.GetTransactionResponse:
        if len(request.transaction_id) != 32:
            raise RequestError("a transaction id is 32 bytes", reason="malformed")
        location = self.store.find_transaction(request.transaction_id)
        if location is None and request.wait_timeout_ms > 0:
            future = self._wait_for_commit(request.transaction_id)
            timeout_s = _bounded_wait_ms(request.wait_timeout_ms, 0) / 1000
            try:
                await asyncio.wait([future], timeout=timeout_s)
            finally:
                if future.done() and not future.cancelled():
                    future.exception()  # read, so that a shutdown error is not reported unread
                else:
                    future.cancel()
                self._forget_waiter(request.transaction_id, future)
            location = self.store.find_transaction(request.transaction_id)
        if location is None:
            raise NotFoundError("no committed transaction has this id")
        height, index = location
        return await asyncio.to_thread(self._transaction_response, height, index)

    def _transaction_response(self, height: int, index: int) -> api_pb2.GetTransactionResponse:
        block = self.store.get_block(height)
        results = self.store.get_results(height)
        ids = [
            decode_transaction(
                t, hash_function=self.profile.hash, bytes_max=self.chain_config.block_bytes_max
            ).id
            for t in block.transactions
        ]
        return api_pb2.GetTransactionResponse(
            transaction=block.transactions[index],
            result=results[index],
            height=height,
            index=index,
            header=block.header,
            transaction_proof=merkle_proof(ids, index, self.profile.hash),
            result_proof=merkle_proof([encode(r) for r in results], index, self.profile.hash),
        )

    async def get_state(self, request: api_pb2.GetStateRequest) -> api_pb2.GetStateResponse:
        height = self._resolve_height(request.height)
        earliest = self._earliest_state_height()
        if height < earliest:
            raise HeightUnavailableError(
                f"state at height {height} is pruned; the earliest kept is {earliest}"
            )

        def read() -> api_pb2.GetStateResponse:
            value = self.store.get_state(request.key, height)
            proof = self.tree.prove(request.key, height)
            response = api_pb2.GetStateResponse(
                found=value is not None,
                value=value or b"",
                height=height,
                header=self.store.get_header(height),
                proof=proof,
            )
            return response

        return await asyncio.to_thread(read)

    # Light-client reads (causeway.api.light_reads): a few lines of wiring, kept apart.
    async def get_states(self, request: api_pb2.GetStatesRequest) -> api_pb2.GetStatesResponse:
        check_states_request(request)
        height = self._resolve_height(request.height)
        earliest = self._earliest_state_height()
        if height < earliest:
            raise HeightUnavailableError(
                f"state at height {height} is pruned; the earliest kept is {earliest}"
            )
        return await asyncio.to_thread(states_response, self.store, self.tree, request, height)

    async def get_validator_set(
        self, request: api_pb2.GetValidatorSetRequest
    ) -> api_pb2.GetValidatorSetResponse:
        return await asyncio.to_thread(
            validator_set_response, self.store, request, self.application.validator_set
        )

    def _earliest_state_height(self) -> int:
        latest = self.store.latest_height()
        history = self.chain_config.state_history_heights
        # Pruning runs every PRUNE_EVERY_BLOCKS, so more may be kept; promise only the window.
        return max(1, latest - history + 1)

    async def get_status(self, request: api_pb2.GetStatusRequest) -> api_pb2.GetStatusResponse:
        latest = self.store.latest_height()
        return api_pb2.GetStatusResponse(
            chain_id=self.chain_id,
            height=latest,
            latest_block_hash=self.store.get_block_hash(latest) if latest else b"",
            crypto_profile=self.profile.name,
            consensus=self.genesis.consensus,
            node_id=self.config.member_id,
            mempool_size=len(self.mempool),
            genesis_hash=self.genesis_hash,
            earliest_state_height=self._earliest_state_height() if latest else 0,
            role=self.driver.role if self.driver is not None else self.consensus,
            peers_connected=len(self.network.connected_peers()) if self.network else 0,
        )

    async def _wait_for_block_after(self, height: int) -> None:
        while self.store.latest_height() <= height and not self._stopping.is_set():
            event = self._block_committed
            stop = asyncio.ensure_future(self._stopping.wait())
            block = asyncio.ensure_future(event.wait())
            await asyncio.wait({stop, block}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            block.cancel()
        if self._stopping.is_set():
            raise NodeUnavailableError("the node is shutting down")

    async def stream_blocks(
        self, request: api_pb2.StreamBlocksRequest
    ) -> AsyncIterator[api_pb2.BlockEvent]:
        height = max(1, request.from_height)
        while True:
            latest = self.store.latest_height()
            while height <= latest:
                yield await asyncio.to_thread(self._block_event, height)
                height += 1
            await self._wait_for_block_after(latest)

    async def stream_events(
        self, request: api_pb2.StreamEventsRequest
    ) -> AsyncIterator[api_pb2.EventRecord]:
        position = (max(1, request.from_height), 0, 0)
        while True:
            latest = self.store.latest_height()
            for record in self.store.iterate_events(position, request.contract, request.name):
                if record.height > latest:
                    break
                yield record
                position = (record.height, record.transaction_index, record.event_index + 1)
            position = max(position, (latest + 1, 0, 0))
            await self._wait_for_block_after(latest)


class _StoreBlockSource:
    """Answers peers' GetBlocks from the block store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def latest_height(self) -> int:
        return self._store.latest_height()

    def get_block(self, height: int) -> tuple[types_pb2.Block, types_pb2.CommitCertificate]:
        return self._store.get_block(height), self._store.get_certificate(height)


def _transaction_id_or_empty(transaction: types_pb2.Transaction, node: Node) -> bytes:
    return node.profile.hash(transaction.body) if transaction.body else b""


def _bounded_wait_ms(requested_ms: int, default_ms: int) -> int:
    return min(requested_ms or default_ms, WAIT_TIMEOUT_MS_MAX)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class _HttpServer:
    """uvicorn on our event loop, without its own signal handling (the node owns the signals).

    The listening socket is bound here, at construction, so that a taken or invalid address is
    a ConfigurationError before the node announces itself, not an exit deep inside uvicorn.
    """

    def __init__(self, app: object, address: str) -> None:
        host, _, port_text = address.rpartition(":")
        host = host.strip("[]")
        try:
            port = int(port_text)
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self._socket = socket.socket(family, socket.SOCK_STREAM)
        except (ValueError, OSError) as error:
            raise ConfigurationError(f"invalid HTTP address {address!r}: {error}") from None
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind((host, port))
            self._socket.listen(2048)
        except OSError as error:
            self._socket.close()
            raise ConfigurationError(
                f"cannot listen on {address} for HTTP: {error.strerror or error}"
            ) from None
        config = uvicorn.Config(
            app,  # type: ignore[arg-type]
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._server.capture_signals = contextlib.nullcontext  # type: ignore[assignment]

    @property
    def should_exit(self) -> bool:
        return bool(self._server.should_exit)

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._server.should_exit = value

    async def serve(self) -> None:
        try:
            await self._server.serve(sockets=[self._socket])
        except SystemExit:
            # uvicorn exits the process on start-up failures; a node reports and stops instead.
            raise ConfigurationError("the HTTP server could not start") from None
        finally:
            self._socket.close()


def run_node(home: Path, *, on_started: Callable[[Node], None] | None = None) -> None:
    """Runs the node in `home` in the foreground until SIGINT or SIGTERM."""
    config = load_node_config(home)
    configure_logging(config.log_level, config.log_format)

    async def main() -> None:
        node = Node(config)
        if on_started is not None:
            on_started(node)
        await node.run()

    asyncio.run(main())
