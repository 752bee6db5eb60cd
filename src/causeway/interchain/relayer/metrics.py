"""Prometheus metrics of a relayer process, on a registry of its own.

Relay latency is measured by the relayer itself, from the round that first saw a packet in flight
on its sending chain to the round that no longer sees it there (it ended: acknowledged or timed
out). It therefore includes the wait for the destination's acknowledgement and up to one round
interval on each side, and starts only when this relayer started watching: after a restart the
packets already in flight count from the restart.
"""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


class RelayerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.pending_packets = Gauge(
            "causeway_relayer_pending_packets",
            "Packets in flight seen at the start of the last round (at most one batch), by link "
            "and direction",
            ["link", "source", "destination"],
            registry=self.registry,
        )
        self.relay_latency_seconds = Histogram(
            "causeway_relayer_relay_latency_seconds",
            "Time from the round that first saw a packet in flight to the round that saw it ended",
            ["link", "source", "destination"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.transactions = Counter(
            "causeway_relayer_transactions",
            "Relay transactions submitted (and paid for), by link and chain",
            ["link", "chain"],
            registry=self.registry,
        )
        self.failed_transactions = Counter(
            "causeway_relayer_failed_transactions",
            "Relay transactions that committed with a failed status, by link and chain",
            ["link", "chain"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "causeway_relayer_deliveries",
            "Client updates, receives, acknowledgements and timeouts carried, by link, chain "
            "and kind",
            ["link", "chain", "kind"],
            registry=self.registry,
        )
        self.rounds = Counter(
            "causeway_relayer_rounds",
            "Rounds run, by link and outcome (ok, or failed: a node down or a refused request)",
            ["link", "outcome"],
            registry=self.registry,
        )
        self.round_seconds = Histogram(
            "causeway_relayer_round_seconds",
            "Time one round on a link took",
            ["link"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=self.registry,
        )

    def serve(self, port: int, host: str) -> MetricsServer:
        """Serves /metrics on ``host:port`` (port 0: a free one) in a thread of its own."""
        server, thread = start_http_server(port, host, registry=self.registry)
        return MetricsServer(server, thread)


class MetricsServer:
    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
