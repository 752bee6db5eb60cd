"""The gateway process's loop: a round (``Gateway.run_round``) every interval until told to stop,
with metrics and logs like the relayer's.

A round that fails (a node down on either side, a refused request) is logged and counted, and the
next one waits longer (doubling up to ``backoff_max_ms``). Nothing the loop holds matters for
correctness: a round starts from both chains' state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from causeway.errors import CausewayError
from causeway.interchain.gateways.config import GatewayConfig
from causeway.interchain.gateways.evm_side import EvmSide
from causeway.interchain.gateways.gateway import Gateway, GatewayReport, GatewaySettings
from causeway.interchain.relayer.endpoint import SdkEndpoint
from causeway.interchain.relayer.metrics import MetricsServer

logger = logging.getLogger("causeway.gateway")

BACKOFF_DOUBLINGS_MAX = 16
_ACTIONS = (
    "attestations",
    "hub_receives",
    "hub_acknowledgements",
    "hub_timeouts",
    "evm_receives",
    "evm_acknowledgements",
    "evm_timeouts",
)


class GatewayMetrics:
    """Prometheus metrics of a gateway process, on a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.actions = Counter(
            "causeway_gateway_actions",
            "Attestations, hub deliveries and EVM signatures this gateway sent, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.failures = Counter(
            "causeway_gateway_failures",
            "Actions that failed or were refused (see the logs)",
            registry=self.registry,
        )
        self.rounds = Counter(
            "causeway_gateway_rounds",
            "Rounds run, by outcome (ok, or failed: a node down on either side)",
            ["outcome"],
            registry=self.registry,
        )
        self.pending = Gauge(
            "causeway_gateway_pending_packets",
            "Packets seen in flight at the last round, by direction",
            ["direction"],
            registry=self.registry,
        )
        self.round_seconds = Histogram(
            "causeway_gateway_round_seconds",
            "Time one round took",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=self.registry,
        )

    def serve(self, port: int, host: str) -> MetricsServer:
        """Serves /metrics on ``host:port`` (port 0: a free one) in a thread of its own."""
        server, thread = start_http_server(port, host, registry=self.registry)
        return MetricsServer(server, thread)


@dataclass(slots=True)
class GatewayTotals:
    rounds: int = 0
    failed_rounds: int = 0
    actions: int = 0
    failures: int = 0


class GatewayService:
    """Runs ``gateway`` rounds every ``round_interval_s`` until stopped."""

    def __init__(
        self,
        gateway: Gateway,
        metrics: GatewayMetrics,
        *,
        round_interval_s: float,
        backoff_max_s: float,
        on_round: Callable[[GatewayService], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.gateway = gateway
        self.metrics = metrics
        self.round_interval_s = round_interval_s
        self.backoff_max_s = backoff_max_s
        self.on_round = on_round
        self.clock = clock
        self.totals = GatewayTotals()
        self.consecutive_failures = 0
        self.last_report: GatewayReport | None = None

    def run_round(self) -> GatewayReport | None:
        started = self.clock()
        try:
            report = self.gateway.run_round()
        # A node down on either side (web3 raises its own errors, requests' or OSError): logged,
        # and the next round retries.
        except Exception as error:
            self.totals.failed_rounds += 1
            self.consecutive_failures += 1
            self.metrics.rounds.labels("failed").inc()
            message = error.message if isinstance(error, CausewayError) else repr(error)
            logger.warning("gateway round failed", extra={"error": message})
            return None
        finally:
            self.totals.rounds += 1
            self.metrics.round_seconds.observe(self.clock() - started)
        self.consecutive_failures = 0
        self.metrics.rounds.labels("ok").inc()
        self.last_report = report
        for kind in _ACTIONS:
            count = getattr(report, kind)
            if count:
                self.metrics.actions.labels(kind).inc(count)
        self.metrics.pending.labels("evm_to_hub").set(report.evm_pending)
        self.metrics.pending.labels("hub_to_evm").set(report.hub_pending)
        self.totals.actions += report.actions
        self.totals.failures += len(report.failures)
        for failure in report.failures:
            self.metrics.failures.inc()
            logger.warning("gateway action failed", extra={"error": failure})
        if report.actions:
            logger.info(
                "gateway round",
                extra={kind: getattr(report, kind) for kind in _ACTIONS if getattr(report, kind)},
            )
        return report

    def delay_s(self) -> float:
        """How long to wait before the next round: the interval, doubled per consecutive failed
        round up to ``backoff_max_s``."""
        doublings = min(self.consecutive_failures, BACKOFF_DOUBLINGS_MAX)
        return min(
            self.round_interval_s * (1 << doublings), max(self.backoff_max_s, self.round_interval_s)
        )

    def run(self, stop: threading.Event) -> None:
        """Rounds until ``stop`` is set; a round in progress is finished first."""
        logger.info(
            "gateway started",
            extra={
                "member": self.gateway.evm.address,
                "hub_client": self.gateway.settings.hub_client_id,
                "round_interval_s": self.round_interval_s,
            },
        )
        while not stop.is_set():
            self.run_round()
            if self.on_round is not None:
                self.on_round(self)
            stop.wait(self.delay_s())
        logger.info(
            "gateway stopped",
            extra={"rounds": self.totals.rounds, "actions": self.totals.actions},
        )


def build_gateway_service(
    config: GatewayConfig,
    metrics: GatewayMetrics,
    *,
    on_round: Callable[[GatewayService], None] | None = None,
) -> tuple[GatewayService, SdkEndpoint]:
    """The service for ``config``: the hub through an SdkEndpoint (close it when done), the EVM
    chain through its RPC URL."""
    hub = SdkEndpoint.from_settings(
        config.hub,
        request_timeout_s=config.request_timeout_ms / 1000,
        submit_timeout_s=config.submit_timeout_ms / 1000,
    )
    evm_side = EvmSide(
        config.evm.rpc_url,
        config.evm.chain_id,
        config.evm.endpoint,
        config.evm.private_key,
        request_timeout_s=config.request_timeout_ms / 1000,
        transaction_timeout_s=config.submit_timeout_ms / 1000,
    )
    gateway = Gateway(
        hub,
        evm_side,
        GatewaySettings(
            hub_client_id=config.hub_client_id,
            hub_crypto=config.hub_crypto,
            confirmations=config.confirmations,
            checkpoint_blocks=config.checkpoint_blocks,
            start_block=config.start_block,
        ),
    )
    service = GatewayService(
        gateway,
        metrics,
        round_interval_s=config.round_interval_ms / 1000,
        backoff_max_s=config.backoff_max_ms / 1000,
        on_round=on_round,
    )
    return service, hub
