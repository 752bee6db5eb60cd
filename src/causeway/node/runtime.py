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
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import json_format

from causeway.api import ApiServers, ChainFacts, ClientService
from causeway.api.v1 import api_pb2
from causeway.consensus import Commit, ProposeBlock
from causeway.consensus.raft import CertificateGatherer
from causeway.consensus.solo import SoloEngine
from causeway.consensus.v1 import consensus_pb2
from causeway.crypto import (
    BatchVerifier,
    CryptoProfile,
    PrivateKey,
    VerifiedTransactionCache,
    get_profile,
)
from causeway.errors import ConfigurationError, InvariantError
from causeway.execution import (
    ExecutedBlock,
    ExecutionApplication,
    Executor,
    LatestStateReader,
    TransactionVerifier,
)
from causeway.mempool import Admission, MempoolLimits, SharedMempool
from causeway.net import (
    BlockSyncer,
    NetworkStatistics,
    PeerHandlers,
    PeerNetwork,
    TlsIdentity,
    quorum_for_consensus,
)
from causeway.node.config import NodeConfig, load_node_config
from causeway.node.consensus_driver import ConsensusDriver, make_core
from causeway.node.evidence import EvidenceReporter
from causeway.node.logs import configure_logging
from causeway.node.metrics import NodeMetrics
from causeway.node.peer_admission import PeerAdmission
from causeway.node.raft_certificates import RaftCertificates
from causeway.node.startup import open_node_store
from causeway.state import StateTree
from causeway.storage import Store
from causeway.types import (
    DOMAIN_COMMIT,
    DecodedTransaction,
    encode,
    genesis_hash,
    sign_bytes,
)
from causeway.types.v1 import types_pb2

log = logging.getLogger("causeway.node")

# How often (in blocks) state history older than the retained window is pruned.
PRUNE_EVERY_BLOCKS = 100
TICK_MS = 10
# Raft: transactions a node that stopped leading hands to the network per turn of the loop.
FORWARD_SLICE_TRANSACTIONS = 1_000


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


@dataclass(slots=True)
class _CommittedBlock:
    height: int
    event: api_pb2.BlockEvent
    transactions: list[DecodedTransaction]
    results: list[types_pb2.TransactionResult]
    admitted_at: list[float]
    seconds_by_phase: dict[str, float]


class Node:
    """One Causeway node: its components, wired; clients are served by `client_service`."""

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
        self.reader = LatestStateReader(self.store)
        self.chain_config = self.executor.get_config(self.reader)
        # Worker processes, not threads: this process is busy with Python work (execution,
        # the APIs) and would starve verifying threads of the GIL (measured: 3,900/s in threads
        # against 10,700/s in two worker processes beside one busy Python thread, P-256).
        self.verifier = BatchVerifier(processes=config.verify_processes)
        self.verified = VerifiedTransactionCache()
        self.mempool = SharedMempool(
            MempoolLimits(
                transactions_max=config.mempool_transactions_max,
                bytes_max=config.mempool_bytes_max,
            ),
            committed=self.store.has_transactions,
        )
        self.mempool.admission = self._make_admission()
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
            drop_transactions=self.mempool.remove,
            held_transaction=self.mempool.get,
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
        self._stopping = asyncio.Event()
        self._failure: BaseException | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.client_service = ClientService(
            facts=ChainFacts(
                chain_id=self.chain_id,
                profile=self.profile,
                genesis_hash=self.genesis_hash,
                consensus=self.consensus,
                node_id=config.member_id,
                admission_batch_max=config.admission_batch_max,
            ),
            store=self.store,
            tree=self.tree,
            executor=self.executor,
            reader=self.reader,
            mempool=self.mempool,
            transaction_verifier=TransactionVerifier(
                self.chain_id, self.profile, self.verifier, self.verified
            ),
            chain_config=lambda: self.chain_config,
            route_admitted=self._route_admitted,
            role=lambda: self.driver.role if self.driver is not None else self.consensus,
            peers_connected=lambda: len(self.network.connected_peers()) if self.network else 0,
            on_rejected=lambda reason: self.metrics.transactions_rejected.labels(reason).inc(),
            stopping=self._stopping,
            validator_set=self.application.validator_set,
        )
        # One set of peer counters: the transport's, and what became of each gossiped entry.
        self.peer_statistics = NetworkStatistics()
        self._on_peer_transactions = PeerAdmission(
            self.mempool.admit,
            self._stopping,
            beside_stream=self.consensus == "raft",
            statistics=self.peer_statistics,
        )
        self._on_evidence = EvidenceReporter(
            chain_id=self.chain_id,
            member_id=config.member_id,
            key=self.key,
            submit=self.client_service.submit_many,
            on_evidence=self.metrics.evidence.inc,
            stopping=self._stopping,
        )

    # ------------------------------------------------------------------ start-up

    def _make_admission(self) -> Admission:
        return Admission(
            chain_id=self.chain_id,
            profile=self.profile,
            verifier=self.verifier,
            member_lookup=lambda member_id: self.executor.get_member(self.reader, member_id),
            committed=self.mempool.committed_or_in_flight,
            transaction_bytes_max=self.chain_config.transaction_bytes_max,
            expiry_max_ms=self.chain_config.transaction_expiry_max_ms,
            verified=self.verified,
        )

    # ------------------------------------------------------------------ running

    async def run(self, *, install_signal_handlers: bool = True) -> None:
        """Serves until stop() or SIGINT/SIGTERM; then stops cleanly and closes the store."""
        loop = asyncio.get_running_loop()
        if install_signal_handlers:
            for signal_number in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signal_number, self.stop)
        try:
            # Bound before anything is announced, so that a taken port is one clear error.
            servers = ApiServers(
                self.client_service,
                grpc_address=self.config.grpc_address,
                http_address=self.config.http_address,
                message_bytes_max=self.config.api_message_bytes_max,
                request_bytes_max=self.config.http_request_bytes_max,
                metrics_handler=self.metrics.render,
            )
        except BaseException:
            self.verifier.close()
            self.store.close()
            raise
        http_task = await servers.start()
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
            self.client_service.close()
            await asyncio.sleep(0)
            await servers.stop(grace_s=1.0)
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer
            if self._sync_task is not None:
                self._sync_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._sync_task
            if self.network is not None:
                await self.network.stop()
            await servers.stopped()
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
        # Solo: the one validator's block always commits, so its transactions leave the pool
        # now and count as in flight, so that a resubmission is a duplicate meanwhile.
        return self.mempool.take(
            transactions_max, bytes_max, now_ms, in_flight=self.genesis.consensus == "solo"
        )

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
        self.store.commit_block(executed.record(certificate))
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
        admitted_at = self.mempool.admitted_at(ids)
        event = api_pb2.BlockEvent(
            block=executed.block, certificate=certificate, results=executed.results
        )
        return _CommittedBlock(
            height, event, executed.transactions, executed.results, admitted_at, seconds
        )

    def _reload_chain_config(self) -> None:
        self.chain_config = self.executor.get_config(self.reader)
        self.engine.block_transactions_max = self.chain_config.block_transactions_max
        self.mempool.admission = self._make_admission()

    def _after_commit(self, committed: _CommittedBlock) -> None:
        ids = [t.id for t in committed.transactions]
        self.mempool.remove(ids)
        if self.consensus == "solo":
            self.engine.block_committed(committed.height)
        if self.network is not None:
            self.network.announce_status(committed.height, committed.event.certificate.block_hash)
        self.client_service.block_committed(
            committed.height, committed.event, ids, committed.results
        )
        failed = self.metrics.block_committed(
            committed.height,
            committed.results,
            committed.admitted_at,
            committed.seconds_by_phase,
        )
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

    # ------------------------------------------------------------------ replicated engines

    async def _run_replicated(self) -> None:
        """tbft or raft: the peer network, the consensus core's driver, block sync."""
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
            statistics=self.peer_statistics,
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
                on_stored=lambda certificate: self.client_service.certificate_replaced(
                    certificate.height
                ),
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
        pending = self.mempool.take_all(_now_ms())
        if pending:
            log.info("forwarding pending transactions", extra={"transactions": len(pending)})
            task = asyncio.create_task(self._forward([t.encoded for t in pending], leader))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _forward(self, encoded_transactions: list[bytes], to: str | None = None) -> None:
        # In slices, so that batching a large pool into envelopes does not hold the event loop
        # (and with it this node's consensus messages) for long.
        for start in range(0, len(encoded_transactions), FORWARD_SLICE_TRANSACTIONS):
            if self.network is None or self._stopping.is_set():
                return
            self.network.gossip_transactions(
                encoded_transactions[start : start + FORWARD_SLICE_TRANSACTIONS], to=to
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

    def _route_admitted(self, accepted: list[DecodedTransaction]) -> None:
        """What clients sent here and the mempool accepted goes to the validators that need it."""
        self.metrics.mempool_transactions.set(len(self.mempool))
        if accepted and self.network is not None and not self._raft_leading():
            # One hop over a full mesh: what clients sent here goes to every validator once.
            # The bytes admitted, as they are: gossip encodes no transaction again.
            self.network.gossip_transactions([t.encoded for t in accepted], to=self._raft_leader())


class _StoreBlockSource:
    """Answers peers' GetBlocks from the block store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def latest_height(self) -> int:
        return self._store.latest_height()

    def get_block(self, height: int) -> tuple[types_pb2.Block, types_pb2.CommitCertificate]:
        return self._store.get_block(height), self._store.get_certificate(height)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


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
