"""The relayer process's loop: a round (``relaying.Relayer.plan_round``, then ``deliver`` to both
chains of the link at once) on every link every interval, until told to stop.

A round that fails (a node down, a refused request, anything else) is logged and counted, and
its link waits longer before the next try (doubling up to ``backoff_max_s``); the endpoint has
meanwhile moved on to the chain's next node. Nothing the loop holds matters for correctness: a
round starts from the chains' state, so a restarted relayer picks up where any relayer left off.
What it keeps (when each in-flight packet was first seen, totals for the progress line) is for
the operator only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from causeway.errors import CausewayError
from causeway.interchain.relayer.config import RelayerConfig
from causeway.interchain.relayer.endpoint import SdkEndpoint
from causeway.interchain.relayer.metrics import RelayerMetrics
from causeway.interchain.relaying import LinkEnd, Relayer, RoundReport

logger = logging.getLogger("causeway.relayer")

# Consecutive failures beyond this no longer lengthen a link's wait (2**16 rounds is past any
# backoff_max_s anyway); named so that the shift below stays bounded.
BACKOFF_DOUBLINGS_MAX = 16


@dataclass(frozen=True, slots=True)
class Link:
    name: str
    first: LinkEnd
    second: LinkEnd

    def directions(self) -> tuple[tuple[str, str], tuple[str, str]]:
        first, second = self.first.endpoint.chain_id, self.second.endpoint.chain_id
        return (first, second), (second, first)


@dataclass(slots=True)
class LinkState:
    """What the loop remembers of a link between rounds (for backoff, metrics and display)."""

    failures: int = 0
    next_round_s: float = 0.0
    rounds: int = 0
    failed_rounds: int = 0
    last_error: str = ""
    pending: dict[tuple[str, str], int] = field(default_factory=dict)
    # Per direction: sequence -> when (the loop's clock) it was first seen in flight.
    first_seen: dict[tuple[str, str], dict[int, float]] = field(default_factory=dict)


@dataclass(slots=True)
class Totals:
    rounds: int = 0
    failed_rounds: int = 0
    transactions: int = 0
    failed_transactions: int = 0
    receives: int = 0
    acknowledgements: int = 0
    timeouts: int = 0
    updates: int = 0


def ended_sequences(seen: Iterable[int], current: set[int], complete: bool) -> list[int]:
    """Of the sequences ``seen`` in flight before, those that have ended, given the sequences a
    round read in flight (``current``, the lowest ones) and whether it read them all: a round
    that read only the lowest says nothing of those above the last it read."""
    horizon = None if complete or not current else max(current)
    return [
        sequence
        for sequence in seen
        if sequence not in current and (horizon is None or sequence < horizon)
    ]


def _begin_round(link: Link) -> None:
    for end in (link.first, link.second):
        begin = getattr(end.endpoint, "begin_round", None)
        if callable(begin):
            begin()


class RelayerService:
    """Runs rounds on ``links``. ``clock`` is monotonic seconds; ``on_round`` is called after
    every round (the progress line)."""

    def __init__(
        self,
        links: Sequence[Link],
        *,
        relayer: Relayer,
        metrics: RelayerMetrics,
        round_interval_s: float,
        backoff_max_s: float,
        clock: Callable[[], float] = time.monotonic,
        on_round: Callable[[RelayerService], None] | None = None,
    ) -> None:
        if round_interval_s <= 0 or backoff_max_s < round_interval_s:
            raise ValueError(
                f"round interval {round_interval_s} s and backoff {backoff_max_s} s: the interval "
                "must be positive and the backoff at least the interval"
            )
        self.links = list(links)
        self.relayer = relayer
        self.metrics = metrics
        self.round_interval_s = round_interval_s
        self.backoff_max_s = backoff_max_s
        self.clock = clock
        self.on_round = on_round
        self.states: dict[str, LinkState] = {link.name: LinkState() for link in self.links}
        self.totals = Totals()

    # -- one round -------------------------------------------------------------------------------

    def run_round(self, link: Link) -> RoundReport | None:
        """One round on ``link``; its report, or None when it failed (logged and counted)."""
        state = self.states[link.name]
        started = self.clock()
        state.rounds += 1
        self.totals.rounds += 1
        try:
            _begin_round(link)
            report = self._relay_round(link)
        except Exception as error:
            state.failures += 1
            state.failed_rounds += 1
            self.totals.failed_rounds += 1
            state.last_error = error.message if isinstance(error, CausewayError) else repr(error)
            doublings = min(state.failures - 1, BACKOFF_DOUBLINGS_MAX)
            wait_s = min(self.round_interval_s * (1 << doublings), self.backoff_max_s)
            state.next_round_s = started + wait_s
            self.metrics.rounds.labels(link.name, "failed").inc()
            logger.warning(
                "round failed",
                exc_info=not isinstance(error, CausewayError),
                extra={
                    "link": link.name,
                    "error": state.last_error,
                    "failures": state.failures,
                    "retry_in_s": round(wait_s, 3),
                },
            )
            return None
        finally:
            self.metrics.round_seconds.labels(link.name).observe(self.clock() - started)
        state.failures = 0
        state.last_error = ""
        state.next_round_s = started + self.round_interval_s
        self.metrics.rounds.labels(link.name, "ok").inc()
        self._account(link, state, report, self.clock())
        return report

    def _relay_round(self, link: Link) -> RoundReport:
        """A round on ``link``, its two chains sent their transactions at the same time: each
        delivery waits for its chain's commits, and the chains commit independently."""
        plan = self.relayer.plan_round(link.first, link.second)
        with ThreadPoolExecutor(max_workers=len(plan.deliveries)) as pool:
            delivered = list(pool.map(lambda item: self.relayer.deliver(*item), plan.deliveries))
        return plan.finish(delivered)

    def _account(self, link: Link, state: LinkState, report: RoundReport, now: float) -> None:
        for source, destination in link.directions():
            direction = (source, destination)
            pending = report.pending.get(source, 0)
            state.pending[direction] = pending
            self.metrics.pending_packets.labels(link.name, source, destination).set(pending)
            seen = state.first_seen.setdefault(direction, {})
            current = set(report.in_flight.get(source, ()))
            ended = ended_sequences(seen, current, report.in_flight_complete.get(source, True))
            for sequence in ended:
                self.metrics.relay_latency_seconds.labels(link.name, source, destination).observe(
                    now - seen.pop(sequence)
                )
            for sequence in current:
                seen.setdefault(sequence, now)
        for chain_id, count in report.chain_transactions.items():
            self.metrics.transactions.labels(link.name, chain_id).inc(count)
        for text in report.failed_transactions:
            chain_id = text.partition(": ")[0]
            self.metrics.failed_transactions.labels(link.name, chain_id).inc()
        kinds: tuple[tuple[str, Mapping[str, int]], ...] = (
            ("update", report.updates),
            ("receive", report.receives),
            ("acknowledgement", report.acknowledgements),
            ("timeout", report.timeouts),
        )
        for kind, counts in kinds:
            for chain_id, count in counts.items():
                if count:
                    self.metrics.deliveries.labels(link.name, chain_id, kind).inc(count)
        self.totals.transactions += report.transactions
        self.totals.failed_transactions += len(report.failed_transactions)
        self.totals.updates += sum(report.updates.values())
        self.totals.receives += sum(report.receives.values())
        self.totals.acknowledgements += sum(report.acknowledgements.values())
        self.totals.timeouts += sum(report.timeouts.values())
        for failure in report.failed_transactions:
            logger.warning("relay transaction failed", extra={"link": link.name, "error": failure})
        if report.transactions:
            logger.info(
                "relayed",
                extra={
                    "link": link.name,
                    "transactions": report.transactions,
                    "updates": dict(report.updates),
                    "receives": dict(report.receives),
                    "acknowledgements": dict(report.acknowledgements),
                    "timeouts": dict(report.timeouts),
                    "pending": dict(report.pending),
                },
            )

    # -- the loop --------------------------------------------------------------------------------

    def run_due(self, stop: threading.Event | None = None) -> int:
        """A round on every link whose time has come; how many ran."""
        ran = 0
        for link in self.links:
            if stop is not None and stop.is_set():
                break
            if self.states[link.name].next_round_s <= self.clock():
                self.run_round(link)
                ran += 1
                if self.on_round is not None:
                    self.on_round(self)
        return ran

    def seconds_until_due(self) -> float:
        earliest = min(state.next_round_s for state in self.states.values())
        return max(0.0, earliest - self.clock())

    def run(self, stop: threading.Event) -> None:
        """Rounds until ``stop`` is set (a signal handler sets it); a round in progress is
        finished first, so every transaction sent is waited for."""
        logger.info(
            "relayer started",
            extra={
                "links": [link.name for link in self.links],
                "round_interval_s": self.round_interval_s,
            },
        )
        while not stop.is_set():
            self.run_due(stop)
            stop.wait(self.seconds_until_due())
        logger.info(
            "relayer stopped",
            extra={"rounds": self.totals.rounds, "transactions": self.totals.transactions},
        )


def build_service(
    config: RelayerConfig,
    metrics: RelayerMetrics,
    *,
    on_round: Callable[[RelayerService], None] | None = None,
) -> tuple[RelayerService, list[SdkEndpoint]]:
    """The service for ``config``: one SdkEndpoint per chain (shared by its links). Close the
    endpoints when done."""
    endpoints = {
        chain_id: SdkEndpoint.from_settings(
            settings,
            request_timeout_s=config.request_timeout_ms / 1000,
            submit_timeout_s=config.submit_timeout_ms / 1000,
        )
        for chain_id, settings in config.chains.items()
    }
    links = [
        Link(
            name=link.name,
            first=LinkEnd(endpoints[link.first_chain], link.first_client),
            second=LinkEnd(endpoints[link.second_chain], link.second_client),
        )
        for link in config.links
    ]
    service = RelayerService(
        links,
        relayer=Relayer(
            batch_deliveries_max=config.batch_deliveries_max,
            round_packets_max=config.round_packets_max,
            settle_after_ms=config.settle_after_ms,
        ),
        metrics=metrics,
        round_interval_s=config.round_interval_ms / 1000,
        backoff_max_s=config.backoff_max_ms / 1000,
        on_round=on_round,
    )
    return service, list(endpoints.values())
