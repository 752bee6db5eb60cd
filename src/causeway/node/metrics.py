"""Prometheus metrics of one node, on a registry of its own (several nodes may share a process).

Every name is listed in docs/operations.md section 6 and used by deploy/grafana and
deploy/prometheus (tests/deploy checks those against a real node's /metrics). Four kinds:

- set as things happen: blocks committed (height, transactions, phases, proposer, missed
  votes), admission refusals, the consensus engine's progress (round, step durations, view
  changes), API requests, configuration reloads;
- read when Prometheus scrapes (collectors below): the engine's and the peer network's own
  counters (they are plain integers in their packages, which own no registry), connected peers,
  the store's size on disk and the free space of its filesystem, readiness.

Labels are bounded: validators and peers come from the chain's configuration, API routes are
the gateway's route templates (never raw paths), reasons and phases are fixed names.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import Metric

from causeway.consensus.engines import EngineProgress
from causeway.net import COUNTER_NAMES, NetworkStatistics
from causeway.types.v1 import types_pb2

# The peer counters that mean a peer, a stream or a message was refused, by the reason shown in
# causeway_peer_refused_total{reason}; each is also its own causeway_peer_<name>_total.
PEER_REFUSAL_REASONS = {
    "refused_peers": "unknown_or_unauthorised_peer",
    "refused_streams": "too_many_streams",
    "block_requests_refused": "bad_block_request",
    "dropped_malformed_envelopes": "malformed",
    "dropped_oversized_envelopes": "oversized",
    "dropped_wrong_chain_envelopes": "wrong_chain",
    "dropped_wrong_sender_envelopes": "wrong_sender",
    "dropped_transaction_batches_too_many": "batch_too_many",
    "dropped_transaction_batches_too_large": "batch_too_large",
}

# Seconds buckets of the API latency and the consensus steps.
API_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
STEP_SECONDS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

FamilySource = Callable[[], Iterable[Metric]]


class _Collected:
    """A collector whose families a function makes at each scrape."""

    def __init__(self, source: FamilySource) -> None:
        self._source = source

    def collect(self) -> Iterable[Metric]:
        return list(self._source())


def peer_families(
    statistics: NetworkStatistics,
    configured: Callable[[], Sequence[str]],
    connected: Callable[[], int],
) -> list[Metric]:
    """The peer network's counters as docs/peer-protocol.md section 10 names them:
    ``causeway_peer_<name>_total{peer}`` for every counter (zeros for every configured peer,
    so that rates start from the first scrape), their sum by refusal reason, and the peers
    connected and configured."""
    per_peer = statistics.peer_snapshot()
    peers = sorted(set(configured()) | set(per_peer))
    families: list[Metric] = []
    for name in COUNTER_NAMES:
        family = CounterMetricFamily(
            f"causeway_peer_{name}",
            f"Peer transport: {name.replace('_', ' ')}, by peer ('' for unidentified callers)",
            labels=["peer"],
        )
        for peer in peers:
            family.add_metric([peer], per_peer.get(peer, {}).get(name, 0))
        families.append(family)
    refused = CounterMetricFamily(
        "causeway_peer_refused",
        "Peers, streams and messages the peer transport refused, by reason",
        labels=["reason"],
    )
    for name, reason in PEER_REFUSAL_REASONS.items():
        refused.add_metric([reason], statistics.get(name))
    families.append(refused)
    families.append(
        GaugeMetricFamily(
            "causeway_peers_connected", "Peers our streams are up to", value=connected()
        )
    )
    families.append(
        GaugeMetricFamily(
            "causeway_peers_configured", "Peers this node dials", value=len(configured())
        )
    )
    return families


def directory_bytes(directory: Path) -> int:
    """Bytes the files under `directory` take on disk (allocated blocks: LMDB's file is sparse,
    so its apparent size says little about the disk)."""
    total = 0
    for root, _, files in os.walk(directory):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                continue  # removed while we walked (a backup's temporary file)
    return total


def storage_families(data_dir: Path, map_size_bytes: int) -> list[Metric]:
    """The store's size on disk, its LMDB map size (the most it may grow to) and the free and
    total bytes of the filesystem under it."""
    families: list[Metric] = [
        GaugeMetricFamily(
            "causeway_storage_bytes",
            "Bytes the node's data folder takes on disk",
            value=directory_bytes(data_dir) if data_dir.exists() else 0,
        ),
        GaugeMetricFamily(
            "causeway_storage_map_size_bytes",
            "The store's LMDB map size: the most its data file may grow to",
            value=map_size_bytes,
        ),
    ]
    try:
        usage = shutil.disk_usage(data_dir if data_dir.exists() else data_dir.parent)
    except OSError:
        return families
    families.append(
        GaugeMetricFamily(
            "causeway_storage_filesystem_free_bytes",
            "Free bytes of the filesystem that holds the data folder",
            value=usage.free,
        )
    )
    families.append(
        GaugeMetricFamily(
            "causeway_storage_filesystem_size_bytes",
            "Size of the filesystem that holds the data folder",
            value=usage.total,
        )
    )
    return families


def consensus_event_families(counters: Mapping[str, int]) -> list[Metric]:
    """The engine's own counters (raft's elections_started, tbft's dropped_bad_signature, ...)
    as ``causeway_consensus_events_total{event}``."""
    family = CounterMetricFamily(
        "causeway_consensus_events",
        "What the consensus engine counted (elections, dropped messages, ...), by event",
        labels=["event"],
    )
    for name in sorted(counters):
        family.add_metric([name], counters[name])
    return [family]


class NodeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # time.monotonic() of the last block written (or of start-up): readiness reads it.
        self.last_commit_monotonic = time.monotonic()
        self.height = Gauge("causeway_height", "Latest committed height", registry=self.registry)
        self.transactions_committed = Counter(
            "causeway_transactions_committed",
            "Transactions committed, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.transactions_rejected = Counter(
            "causeway_transactions_rejected",
            "Transactions refused at admission, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.evidence = Counter(
            "causeway_evidence",
            "Conflicting votes (equivocation) seen from validators",
            registry=self.registry,
        )
        self.mempool_transactions = Gauge(
            "causeway_mempool_transactions", "Transactions waiting", registry=self.registry
        )
        self.mempool_bytes = Gauge(
            "causeway_mempool_bytes", "Bytes of transactions waiting", registry=self.registry
        )
        self.mempool_transactions_max = Gauge(
            "causeway_mempool_transactions_max",
            "The mempool's bound on transactions waiting ([mempool] transactions_max)",
            registry=self.registry,
        )
        self.mempool_bytes_max = Gauge(
            "causeway_mempool_bytes_max",
            "The mempool's bound on bytes waiting ([mempool] bytes_max)",
            registry=self.registry,
        )
        self.commit_latency_seconds = Histogram(
            "causeway_commit_latency_seconds",
            "Time from admission to durable commit",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.block_seconds = Histogram(
            "causeway_block_seconds",
            "Time to build, execute and durably commit one block, by phase",
            ["phase"],
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.block_transactions = Histogram(
            "causeway_block_transactions",
            "Transactions per block",
            buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000),
            registry=self.registry,
        )
        self.storage_commit_seconds = Histogram(
            "causeway_storage_commit_seconds",
            "Time of one block's durable write (one synced LMDB transaction)",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )
        # Consensus, from the engine's progress (consensus_progress) and committed blocks.
        self.consensus_height = Gauge(
            "causeway_consensus_height", "The height consensus is deciding", registry=self.registry
        )
        self.consensus_round = Gauge(
            "causeway_consensus_round",
            "The engine's round at that height (tbft), or its term (raft)",
            registry=self.registry,
        )
        self.consensus_step_seconds = Histogram(
            "causeway_consensus_step_seconds",
            "Time the engine spent in one step of a round (tbft: propose, prevote, precommit, "
            "commit; raft: one role; solo: propose), by step",
            ["step"],
            buckets=STEP_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.consensus_view_changes = Counter(
            "causeway_consensus_view_changes",
            "Rounds started past the first at a height (tbft) or new terms (raft elections)",
            registry=self.registry,
        )
        self.consensus_commit_round = Gauge(
            "causeway_consensus_commit_round",
            "The round the latest block was committed in (its certificate's)",
            registry=self.registry,
        )
        self.consensus_blocks_proposed = Counter(
            "causeway_consensus_blocks_proposed",
            "Committed blocks by the validator that proposed them",
            ["proposer"],
            registry=self.registry,
        )
        self.consensus_missed_votes = Counter(
            "causeway_consensus_missed_votes",
            "Committed blocks whose certificate lacks the validator's signature (tbft, solo; "
            "raft certificates are completed after commit and are not counted)",
            ["validator"],
            registry=self.registry,
        )
        # API requests, both front doors.
        self.api_requests = Counter(
            "causeway_api_requests",
            "Client API requests by protocol, method, route and status",
            ["protocol", "method", "route", "status"],
            registry=self.registry,
        )
        self.api_request_seconds = Histogram(
            "causeway_api_request_seconds",
            "Time to answer a client API request (to the first byte of a stream)",
            ["protocol", "method", "route"],
            buckets=API_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.config_reloads = Counter(
            "causeway_config_reloads",
            "Configuration reloads (SIGHUP) by outcome: applied, unchanged or refused",
            ["outcome"],
            registry=self.registry,
        )
        self.ready = Gauge(
            "causeway_ready",
            "1 when the node answers /readyz with 200, else 0",
            registry=self.registry,
        )
        self.ready.set(0)
        for outcome in ("ok", "failed"):
            self.transactions_committed.labels(outcome)
        for outcome in ("applied", "unchanged", "refused"):
            self.config_reloads.labels(outcome)
        self._position: tuple[int, int, str] | None = None
        self._position_since = 0.0

    # -- wiring: what is read at each scrape ----------------------------------------------

    def collect(self, source: FamilySource) -> None:
        """Adds families made by `source` at each scrape."""
        self.registry.register(_Collected(source))

    def watch_readiness(self, ready: Callable[[], bool]) -> None:
        self.ready.set_function(lambda: 1.0 if ready() else 0.0)

    # -- events -----------------------------------------------------------------------------

    def consensus_progress(self, progress: EngineProgress, now: float | None = None) -> None:
        """Where the engine stands after a call into it (the driver's on_progress): a step that
        ended is observed with its duration, a higher round or term counts a view change."""
        now = time.monotonic() if now is None else now
        position = (progress.height, progress.round_number, progress.step)
        previous = self._position
        if previous == position:
            return
        if previous is not None:
            self.consensus_step_seconds.labels(previous[2]).observe(now - self._position_since)
            if progress.round_number > previous[1]:
                self.consensus_view_changes.inc()
        self._position = position
        self._position_since = now
        self.consensus_height.set(progress.height)
        self.consensus_round.set(progress.round_number)

    def block_committed(
        self,
        height: int,
        results: Sequence[types_pb2.TransactionResult],
        admitted_at: Sequence[float],
        seconds_by_phase: Mapping[str, float],
        *,
        proposer: str = "",
        commit_round: int = 0,
        missed_votes: Sequence[str] = (),
    ) -> int:
        """Counts a block written; admitted_at (time.monotonic(), 0.0 when not admitted here)
        gives each transaction's commit latency; missed_votes: the validators of the block's
        height whose signature its certificate lacks. Returns how many transactions failed."""
        now = time.monotonic()
        self.last_commit_monotonic = now
        ok = 0
        for result, admitted in zip(results, admitted_at, strict=True):
            if result.status == types_pb2.RESULT_STATUS_OK:
                ok += 1
            if admitted:
                self.commit_latency_seconds.observe(now - admitted)
        failed = len(results) - ok
        self.height.set(height)
        self.transactions_committed.labels("ok").inc(ok)
        self.transactions_committed.labels("failed").inc(failed)
        self.block_transactions.observe(len(results))
        for name, seconds in seconds_by_phase.items():
            self.block_seconds.labels(name).observe(seconds)
        if "commit" in seconds_by_phase:
            self.storage_commit_seconds.observe(seconds_by_phase["commit"])
        if proposer:
            self.consensus_blocks_proposed.labels(proposer).inc()
        self.consensus_commit_round.set(commit_round)
        for validator in missed_votes:
            self.consensus_missed_votes.labels(validator).inc()
        return failed

    def api_request(
        self, protocol: str, method: str, route: str, status: str, seconds: float
    ) -> None:
        self.api_requests.labels(protocol, method, route, status).inc()
        self.api_request_seconds.labels(protocol, method, route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
