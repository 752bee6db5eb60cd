"""Prometheus metrics of one node, on a registry of its own (several nodes may share a process)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from causeway.types.v1 import types_pb2


class NodeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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

    def block_committed(
        self,
        height: int,
        results: Sequence[types_pb2.TransactionResult],
        admitted_at: Sequence[float],
        seconds_by_phase: Mapping[str, float],
    ) -> int:
        """Counts a block written; admitted_at (time.monotonic(), 0.0 when not admitted here)
        gives each transaction's commit latency. Returns how many transactions failed."""
        now = time.monotonic()
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
        return failed

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
