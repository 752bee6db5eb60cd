"""What a benchmark run measured: per-transaction records, and the report built from them.

Times are seconds on one monotonic clock of the benchmarking process. A transaction's latency is
the time its block arrived on the block stream minus the time its batch was handed to the node.
"""

from __future__ import annotations

import enum
import math
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The `fraction` quantile (0..1) of ascending values, interpolating linearly between ranks
    (the "linear" method of numpy and of most spreadsheets)."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction {fraction} is not between 0 and 1")
    position = fraction * (len(sorted_values) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    weight = position - lower
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * weight


@dataclass(frozen=True, slots=True)
class LatencySummary:
    count: int
    min_s: float
    mean_s: float
    p50_s: float
    p95_s: float
    p99_s: float
    max_s: float


def summarise_latencies(latencies_s: Iterable[float]) -> LatencySummary | None:
    """Min, mean, percentiles and max; None for no values."""
    ordered = sorted(latencies_s)
    if not ordered:
        return None
    return LatencySummary(
        count=len(ordered),
        min_s=ordered[0],
        mean_s=math.fsum(ordered) / len(ordered),
        p50_s=percentile(ordered, 0.50),
        p95_s=percentile(ordered, 0.95),
        p99_s=percentile(ordered, 0.99),
        max_s=ordered[-1],
    )


class Outcome(enum.StrEnum):
    PENDING = "pending"  # not sent yet, or sent and not seen in a block before the run ended
    SUCCEEDED = "succeeded"  # committed with status OK
    FAILED = "failed"  # committed with another status
    REJECTED = "rejected"  # refused by the node at submission


@dataclass(slots=True)
class TransactionRecord:
    id: bytes
    send_time_s: float | None = None
    commit_time_s: float | None = None
    outcome: Outcome = Outcome.PENDING
    reason: str = ""

    @property
    def latency_s(self) -> float | None:
        if self.send_time_s is None or self.commit_time_s is None:
            return None
        return self.commit_time_s - self.send_time_s


class CommitTracker:
    """Follows every transaction of a run from send to commit or rejection. Thread-safe: senders
    and the block follower report from their own threads."""

    def __init__(self, ids: Iterable[bytes]) -> None:
        self._lock = threading.Lock()
        self._records = {identifier: TransactionRecord(identifier) for identifier in ids}
        self._open = 0  # sent, and neither committed nor rejected yet
        self._settled = threading.Condition(self._lock)

    def sent(self, ids: Iterable[bytes], time_s: float) -> None:
        with self._lock:
            for identifier in ids:
                record = self._records[identifier]
                if record.send_time_s is None:
                    record.send_time_s = time_s
                    if record.outcome is Outcome.PENDING:
                        self._open += 1

    def rejected(self, identifier: bytes, reason: str) -> None:
        with self._lock:
            record = self._records.get(identifier)
            if record is None or record.outcome is not Outcome.PENDING:
                return
            record.outcome = Outcome.REJECTED
            record.reason = reason or "rejected"
            self._close(record)

    def committed(self, identifier: bytes, succeeded: bool, reason: str, time_s: float) -> bool:
        """Records a commit seen in a block; False for a transaction this run did not send."""
        with self._lock:
            record = self._records.get(identifier)
            if record is None or record.outcome is not Outcome.PENDING:
                return False
            record.commit_time_s = time_s
            record.outcome = Outcome.SUCCEEDED if succeeded else Outcome.FAILED
            record.reason = "" if succeeded else (reason or "failed")
            self._close(record)
            return True

    def _close(self, record: TransactionRecord) -> None:
        if record.send_time_s is not None:
            self._open -= 1
        self._settled.notify_all()

    @property
    def open(self) -> int:
        """Sent and not yet settled (committed or rejected)."""
        with self._lock:
            return self._open

    def wait_settled(self, timeout_s: float) -> bool:
        """Waits until nothing sent is open; False when `timeout_s` passed first."""
        with self._settled:
            return self._settled.wait_for(lambda: self._open == 0, timeout=timeout_s)

    def records(self) -> list[TransactionRecord]:
        with self._lock:
            return list(self._records.values())


@dataclass(frozen=True, slots=True)
class BenchReport:
    workload: str
    transactions: int
    sent: int
    succeeded: int
    failed: int
    rejected: int
    unconfirmed: int
    send_duration_s: float
    duration_s: float
    send_rate_tps: float
    throughput_tps: float
    target_rate_tps: float
    concurrency: int
    batch_size: int
    latency: LatencySummary | None
    failure_reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rate(count: int, duration_s: float) -> float:
    return count / duration_s if duration_s > 0 else 0.0


def build_report(
    records: Sequence[TransactionRecord],
    *,
    workload: str,
    target_rate_tps: float,
    concurrency: int,
    batch_size: int,
    send_finished_s: float | None = None,
) -> BenchReport:
    """Counts and rates of a run.

    `failed` counts every sent transaction that did not succeed: committed with another status,
    rejected at submission, or never seen committed (`unconfirmed`). Throughput is successes per
    second from the first send to the last commit; send rate is transactions sent per second from
    the first send to `send_finished_s` (when the last submission returned), or to the last send.
    """
    sent = [record for record in records if record.send_time_s is not None]
    succeeded = [record for record in sent if record.outcome is Outcome.SUCCEEDED]
    committed_failed = [record for record in sent if record.outcome is Outcome.FAILED]
    rejected = [record for record in sent if record.outcome is Outcome.REJECTED]
    unconfirmed = [record for record in sent if record.outcome is Outcome.PENDING]
    send_times = [record.send_time_s for record in sent if record.send_time_s is not None]
    commit_times = [
        record.commit_time_s for record in succeeded if record.commit_time_s is not None
    ]
    first_send = min(send_times, default=0.0)
    last_send = max(send_times, default=0.0)
    if send_finished_s is not None and send_times:
        last_send = max(last_send, send_finished_s)
    send_duration_s = last_send - first_send
    duration_s = max(commit_times) - first_send if commit_times else 0.0
    reasons = Counter(record.reason for record in committed_failed + rejected)
    if unconfirmed:
        reasons["not committed before the run ended"] = len(unconfirmed)
    return BenchReport(
        workload=workload,
        transactions=len(records),
        sent=len(sent),
        succeeded=len(succeeded),
        failed=len(committed_failed) + len(rejected) + len(unconfirmed),
        rejected=len(rejected),
        unconfirmed=len(unconfirmed),
        send_duration_s=send_duration_s,
        duration_s=duration_s,
        send_rate_tps=_rate(len(sent), send_duration_s),
        throughput_tps=_rate(len(succeeded), duration_s),
        target_rate_tps=target_rate_tps,
        concurrency=concurrency,
        batch_size=batch_size,
        latency=summarise_latencies(
            latency for record in succeeded if (latency := record.latency_s) is not None
        ),
        failure_reasons=dict(reasons.most_common()),
    )


def batch_send_offset_s(batch_index: int, batch_size: int, rate_tps: float) -> float:
    """When (seconds after the start) batch `batch_index` is due so that the run keeps `rate_tps`;
    0 for every batch when the rate is 0 (as fast as possible)."""
    if rate_tps <= 0:
        return 0.0
    return batch_index * batch_size / rate_tps


def automatic_batch_size(rate_tps: float) -> int:
    """About twenty batches a second at the target rate, within 1..200 transactions a batch."""
    if rate_tps <= 0:
        return 200
    return max(1, min(200, int(rate_tps // 20)))
