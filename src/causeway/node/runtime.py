"""The node runtime: builds a node's parts from its configuration, wires them, and runs them.

The parts, each in its own module: the consensus driver (consensus_driver.py) runs the engine
and carries out its outputs; the block writer (block_writer.py) makes each committed block
durable and then tells the mempool, the peers, the client service and the metrics; transaction
routing (transaction_routing.py) sends clients' transactions where the engine says; block sync
(block_sync.py) fetches the blocks a node missed; peer admission, evidence reporting and raft
certificates have theirs too. Here: their construction, the order they start and stop in, and
the node's failure (a consensus failure stops the node and is raised from run()).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from causeway.api import ApiAccess, ApiServers, ChainFacts, ClientService
from causeway.api.probes import ProbeAnswer, Probes
from causeway.consensus.raft import CertificateGatherer
from causeway.consensus.v1 import consensus_pb2
from causeway.crypto import BatchVerifier, CryptoProfile, VerifiedTransactionCache, get_profile
from causeway.errors import ConfigurationError
from causeway.execution import (
    VM_CACHE_DIRECTORY,
    ExecutionApplication,
    Executor,
    LatestStateReader,
    TransactionVerifier,
    configure_shared_runtime,
)
from causeway.interchain import CHAIN_CONTRACTS
from causeway.mempool import Admission, MempoolLimits, SharedMempool
from causeway.net import NetworkStatistics, PeerHandlers, PeerNetwork, TlsIdentity
from causeway.node.block_sync import BlockSync, StoreBlockSource
from causeway.node.block_writer import BlockWriter
from causeway.node.chain_peers import apply_chain_peers, changes_peers, read_chain_peers
from causeway.node.config import NodeConfig, load_node_config
from causeway.node.consensus_driver import (
    ConsensusDriver,
    NoPeers,
    Transport,
    engine_kind,
    make_engine,
)
from causeway.node.evidence import EvidenceReporter
from causeway.node.garbage_collector import settle_garbage_collector
from causeway.node.health import LoopMonitor, ReadinessFacts, readiness
from causeway.node.logs import apply_log_settings, configure_logging
from causeway.node.metrics import (
    NodeMetrics,
    consensus_event_families,
    peer_families,
    storage_families,
)
from causeway.node.peer_admission import PeerAdmission
from causeway.node.raft_certificates import RaftCertificates
from causeway.node.reload import ReloadPlan, plan_reload
from causeway.node.snapshots import SNAPSHOTS_FOLDER_NAME
from causeway.node.startup import load_genesis, load_node_key, open_node_store
from causeway.node.transaction_routing import TransactionRouting
from causeway.state import StateTree
from causeway.types import DecodedTransaction, genesis_hash
from causeway.types.v1 import types_pb2

log = logging.getLogger("causeway.node")

# The file in a node's home that holds the process id of the node running there (written by
# run_node, read by `causeway node reload`).
PID_FILE_NAME = "node.pid"


class Node:
    """One Causeway node: its components, wired; clients are served by `client_service`."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.genesis = load_genesis(config.genesis_file)
        self.profile: CryptoProfile = get_profile(self.genesis.crypto_profile)
        self.chain_id = self.genesis.chain_id
        self.genesis_hash = genesis_hash(self.genesis, self.profile.hash)
        self.consensus = self.genesis.consensus
        self.engine_kind = engine_kind(self.consensus, config.consensus, config.block_interval_ms)
        self.key = load_node_key(config, self.genesis, replicated=self.engine_kind.replicated)
        # Refuses (one line naming the file) a store that is not new but lost its chain.
        self.store = open_node_store(config, self.genesis, self.profile)
        self.tree = StateTree(self.profile.hash, self.store)
        # The native contracts and the interchain ones: every validator of a chain runs the same.
        self.executor = Executor(self.genesis, self.profile, CHAIN_CONTRACTS)
        # User contracts' compiled code outlives a restart, beside (not in) the data folder.
        configure_shared_runtime(cache_directory=config.home / VM_CACHE_DIRECTORY)
        self.reader = LatestStateReader(self.store)
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
            block_time_drift_ms=config.consensus.block_time_drift_ms,
            drop_transactions=self.mempool.remove,
            held_transaction=self.mempool.get,
            committing_transactions=self.mempool.mark_in_flight,
            block_build_target_ms=config.consensus.block_build_target_ms,
        )
        self.metrics = NodeMetrics()
        self.metrics.height.set(self.store.latest_height())
        self.metrics.mempool_transactions_max.set(config.mempool_transactions_max)
        self.metrics.mempool_bytes_max.set(config.mempool_bytes_max)
        self.loop_monitor = LoopMonitor()
        self.network: PeerNetwork | None = None
        self.driver: ConsensusDriver | None = None
        # Raft certificates: voters' signatures gathered after commit (node/raft_certificates.py).
        self._raft_certificates: RaftCertificates | None = None
        self._stopping = asyncio.Event()
        self._failure: BaseException | None = None
        self.routing = TransactionRouting(
            mempool=self.mempool,
            engine=lambda: self.driver.engine if self.driver is not None else None,
            network=lambda: self.network,
            stopping=self._stopping,
        )
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
        self.writer = BlockWriter(
            store=self.store,
            tree=self.tree,
            application=self.application,
            mempool=self.mempool,
            metrics=self.metrics,
            load_chain_config=lambda: self.executor.get_config(self.reader),
            on_chain_config_changed=self._renew_admission,
            listener=self.client_service,
            network=lambda: self.network,
            # Raft's certificates are completed after commit: a missing signature there is
            # not a missed vote.
            count_missed_votes=not self.engine_kind.gathers_certificates,
        )
        self.mempool.admission = self._make_admission()
        self.block_sync = BlockSync(
            chain_id=self.chain_id,
            profile=self.profile,
            kind=self.engine_kind,
            store=self.store,
            application=self.application,
            write_block=self.writer.write,
            network=lambda: self.network,
            driver=lambda: self.driver,
        )
        # One set of peer counters: the transport's, and what became of each gossiped entry.
        self.peer_statistics = NetworkStatistics()
        self._on_peer_transactions = PeerAdmission(
            # A peer's consensus messages come on the same stream as its transactions, after
            # them: batches are admitted beside the stream, whatever the engine.
            self.mempool.admit,
            self._stopping,
            beside_stream=True,
            statistics=self.peer_statistics,
        )
        self.metrics.collect(
            lambda: peer_families(
                self.peer_statistics,
                configured=lambda: (
                    self.network.configured_peers()
                    if self.network is not None
                    else [peer.member_id for peer in self.config.peers.peers]
                ),
                connected=lambda: len(self.network.connected_peers()) if self.network else 0,
            )
        )
        self.metrics.collect(
            lambda: storage_families(self.config.data_dir, self.config.map_size_bytes)
        )
        self.metrics.collect(
            lambda: consensus_event_families(
                self.driver.counters() if self.driver is not None else {}
            )
        )
        self.metrics.watch_readiness(lambda: self.readiness().ok)
        self._on_evidence = EvidenceReporter(
            chain_id=self.chain_id,
            member_id=config.member_id,
            key=self.key,
            submit=self.client_service.submit_many,
            on_evidence=self.metrics.evidence.inc,
            stopping=self._stopping,
        )

    @property
    def chain_config(self) -> types_pb2.ChainConfig:
        """The chain's configuration as of the latest written block."""
        return self.writer.chain_config

    def _renew_admission(self) -> None:
        self.mempool.admission = self._make_admission()

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

    async def run(
        self, *, install_signal_handlers: bool = True, pid_file: Path | None = None
    ) -> None:
        """Serves until stop() or SIGINT/SIGTERM; then stops cleanly and closes the store.
        SIGHUP reloads the configuration (reload). With `pid_file`, the process id is written
        there once the node's ports are bound (a second node on the same home fails before
        that, and leaves the running one's file alone) and removed when it stops."""
        loop = asyncio.get_running_loop()
        if install_signal_handlers:
            for signal_number in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signal_number, self.stop)
            loop.add_signal_handler(signal.SIGHUP, self.reload)
        try:
            # Bound before anything is announced, so that a taken port is one clear error.
            servers = ApiServers(
                self.client_service,
                grpc_address=self.config.grpc_address,
                http_address=self.config.http_address,
                message_bytes_max=self.config.api_message_bytes_max,
                request_bytes_max=self.config.http_request_bytes_max,
                metrics_handler=self.metrics.render,
                probes=Probes(liveness=self.liveness, readiness=self.readiness),
                on_request=self.metrics.api_request,
                snapshot_folder=self.config.data_dir / SNAPSHOTS_FOLDER_NAME,
                tls=self.config.api_tls,
                access=self._api_access(),
            )
        except BaseException:
            self.verifier.close()
            self.store.close()
            raise
        if pid_file is not None:
            pid_file.write_text(f"{os.getpid()}\n", encoding="utf-8")
        self.loop_monitor.start()
        http_task = await servers.start()
        producer = asyncio.create_task(self._run_consensus())
        log.info(
            "node started",
            extra={
                "node": self.config.name,
                "chain_id": self.chain_id,
                "height": self.store.latest_height(),
                "grpc": self.config.grpc_address,
                "http": self.config.http_address,
                # Whether the client API speaks TLS and requires a member (docs/operations.md).
                "api_tls": self.config.api_tls is not None,
                "api_authentication": self.config.api_access.require_authentication,
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
            await self.block_sync.stop()
            if self.network is not None:
                await self.network.stop()
            await servers.stopped()
            await self.loop_monitor.stop()
            self.writer.close()
            self.verifier.close()
            stopped_at_height = self.store.latest_height()
            self.store.close()
            if install_signal_handlers:
                for signal_number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                    loop.remove_signal_handler(signal_number)
            if pid_file is not None:
                with contextlib.suppress(OSError):
                    pid_file.unlink()
            log.info("node stopped", extra={"height": stopped_at_height})
        if self._failure is not None:
            raise self._failure
        if producer.done() and not producer.cancelled() and producer.exception() is not None:
            raise producer.exception()  # type: ignore[misc]

    def stop(self) -> None:
        self._stopping.set()

    # ------------------------------------------------------------------ operations

    def liveness(self) -> ProbeAnswer:
        """/healthz: the event loop is responsive (node/health.py)."""
        return self.loop_monitor.liveness(self.config.health)

    def readiness(self) -> ProbeAnswer:
        """/readyz: store open, caught up, connected, consensus making progress."""
        try:
            height: int | None = self.store.latest_height()
        except Exception:
            height = None
        network = self.network
        peer_heights = network.peer_heights() if network is not None else {}
        facts = ReadinessFacts(
            stopping=self._stopping.is_set(),
            height=height,
            syncing=self.block_sync.syncing,
            replicated=self.engine_kind.replicated,
            peers_connected=len(network.connected_peers()) if network is not None else 0,
            peers_height_max=max(peer_heights.values(), default=0),
            seconds_since_commit=time.monotonic() - self.metrics.last_commit_monotonic,
            role=self.driver.role if self.driver is not None else self.consensus,
        )
        return readiness(facts, self.config.health)

    def reload(self) -> ReloadPlan | None:
        """Re-reads config.toml and applies what is safe to change while running (see
        node/reload.py); None when the file could not be read or checked (nothing changed).
        Never raises: a reload is asked for by a signal, with nobody to answer."""
        try:
            plan = plan_reload(self.config, load_node_config(self.config.home))
            if plan.peers_added:
                if self.network is None:
                    raise ConfigurationError(
                        "peers were added but this node runs no peer network (solo)"
                    )
                # First, as it alone can refuse (an organisation without a CA): all or nothing.
                self.network.add_peers(plan.peers_added)
        except ConfigurationError as error:
            self.metrics.config_reloads.labels("refused").inc()
            log.error("configuration not reloaded: %s", error.message)
            return None
        except Exception as error:
            self.metrics.config_reloads.labels("refused").inc()
            log.error("configuration not reloaded: %r", error)
            return None
        new = plan.config
        apply_log_settings(new.log_level, new.log_format)
        self.mempool.set_limits(
            MempoolLimits(
                transactions_max=new.mempool_transactions_max, bytes_max=new.mempool_bytes_max
            )
        )
        self.metrics.mempool_transactions_max.set(new.mempool_transactions_max)
        self.metrics.mempool_bytes_max.set(new.mempool_bytes_max)
        self.config = new
        if self.network is not None:
            # Peers the chain revoked stay refused whatever the configuration adds.
            self._follow_chain_peers()
        for name in plan.needs_restart:
            log.warning("configuration reload: %s changed but needs a restart; not applied", name)
        self.metrics.config_reloads.labels("applied" if plan.changed else "unchanged").inc()
        log.info(
            "configuration reloaded",
            extra={
                "applied": list(plan.applied),
                "peers_added": [peer.member_id for peer in plan.peers_added],
                "needs_restart": list(plan.needs_restart),
            },
        )
        return plan

    def _api_access(self) -> ApiAccess | None:
        """The client API's gate, when the node authenticates or rate-limits its clients."""
        settings = self.config.api_access
        if not settings.require_authentication and settings.rate_limit is None:
            return None
        return ApiAccess(
            settings,
            chain_id=self.chain_id,
            node_id=self.config.member_id,
            profile=self.profile,
            height=self.store.latest_height,
            member=lambda member_id: self.executor.get_member(self.reader, member_id),
            read_roles=lambda: self.chain_config.read_roles,
        )

    def _take_for_block(
        self, transactions_max: int, bytes_max: int, now_ms: int
    ) -> list[DecodedTransaction]:
        # Without peers (solo) the one validator's block always commits, so its transactions
        # leave the pool now and count as in flight, so that a resubmission is a duplicate
        # meanwhile.
        return self.mempool.take(
            transactions_max, bytes_max, now_ms, in_flight=not self.engine_kind.replicated
        )

    # ------------------------------------------------------------------ replicated engines

    async def _run_consensus(self) -> None:
        """The engine's driver; for a replicated engine also the peer network and block sync."""
        kind = self.engine_kind
        transport: Transport = NoPeers()
        if kind.replicated:
            transport = await self._start_network()
        engine = make_engine(
            kind=kind,
            genesis=self.genesis,
            member_id=self.config.member_id,
            key=self.key,
            application=self.application,
            store=self.store,
        )
        if kind.gathers_certificates and self.network is not None:  # raft certificates
            self._raft_certificates = RaftCertificates(
                CertificateGatherer(self.chain_id, self.config.member_id, self.profile),
                store=self.store,
                validator_set=lambda height: self.application.validator_set(height)[1],
                broadcast=self.network.broadcast_consensus,
                on_stored=lambda certificate: self.client_service.certificate_replaced(
                    certificate.height
                ),
            )
            # raft certificates: each written commit's certificate goes to the gatherer.
            self.writer.on_consensus_certificate = self._raft_certificates.committed
        self.driver = ConsensusDriver(
            engine=engine,
            store=self.store,
            transport=transport,
            application=self.application,
            apply_commit=self.writer.write_commit,
            pipeline_commit=self.application.block_committed,
            transactions_waiting=lambda: len(self.mempool),
            on_evidence=self._on_evidence,
            on_leadership_lost=self.routing.forward_pending,
            on_leader_changed=self.routing.forward_pending,
            on_progress=self.metrics.consensus_progress,
        )
        if self.network is not None:
            latest = self.store.latest_height()
            self.network.announce_status(
                latest, self.store.get_block_hash(latest) if latest else b""
            )
        try:
            await self.driver.run(self._stopping)
        except BaseException as error:
            if not isinstance(error, asyncio.CancelledError):
                self._failure = error
                log.critical("consensus failed; stopping", exc_info=error)
                self._stopping.set()
            raise

    async def _start_network(self) -> PeerNetwork:
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
                on_status=self.block_sync.on_peer_status,
            ),
            block_source=StoreBlockSource(self.store),
            member_id=self.config.member_id,
            statistics=self.peer_statistics,
        )
        await self.network.start()
        # The peers and TLS CAs the chain records (a node that restarts knows them at once),
        # then after every block that changes them.
        self._follow_chain_peers()
        self.writer.on_system_keys_changed = self._on_system_keys_changed
        return self.network

    def _on_system_keys_changed(self, changed_keys: Sequence[bytes]) -> None:
        if changes_peers(changed_keys):
            self._follow_chain_peers()

    def _follow_chain_peers(self) -> None:
        if self.network is None:
            return
        apply_chain_peers(
            self.network,
            self.config.peers.peers,
            read_chain_peers(self.reader),
            self.config.member_id,
        )

    async def _on_peer_consensus(
        self, sender: str, message: consensus_pb2.ConsensusMessage
    ) -> None:
        if self._raft_certificates is not None and RaftCertificates.handles(message):
            self._raft_certificates.received(sender, message)  # raft certificates
            return
        if self.driver is not None:
            self.driver.deliver(sender, message)

    def _route_admitted(self, accepted: list[DecodedTransaction]) -> None:
        """What the mempool accepted from clients here goes where the engine says."""
        self.metrics.mempool_transactions.set(len(self.mempool))
        self.routing.admitted(accepted)


def run_node(home: Path, *, on_started: Callable[[Node], None] | None = None) -> None:
    """Runs the node in `home` in the foreground until SIGINT or SIGTERM."""
    config = load_node_config(home)
    configure_logging(config.log_level, config.log_format)

    async def main() -> None:
        node = Node(config)
        # Built: what the node made at start lives as long as the process (the module).
        settle_garbage_collector()
        if on_started is not None:
            on_started(node)
        await node.run(pid_file=config.home / PID_FILE_NAME)

    asyncio.run(main())
