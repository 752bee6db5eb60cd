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
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from causeway.bench.resources import ResourceUsage


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
    p90_s: float
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
        p90_s=percentile(ordered, 0.90),
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
    # In a block, whatever its status: what the node stored.
    committed: int = 0
    throughput_timeline: list[ThroughputBucket] = field(default_factory=list)
    latency_histogram: list[LatencyBin] = field(default_factory=list)
    # What the node processes used during the run (bench.resources); None when not measured.
    resources: ResourceUsage | None = None
    bytes_written_per_committed_transaction: float | None = None
    # What the storage devices of the node processes' files wrote, per committed transaction
    # (ResourceUsage.device_write_bytes: the disk's own count, every process's writes to it).
    device_bytes_written_per_committed_transaction: float | None = None
    # Signatures of this run's transactions the machine verifies per second on all its cores
    # (bench.ceiling), and the throughput as a share of it; None when not measured.
    verify_rate_per_s: float | None = None
    throughput_to_verify_rate: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_verify_rate(self, verify_rate_per_s: float) -> BenchReport:
        """This report with the verification ceiling measured in the same run."""
        return replace(
            self,
            verify_rate_per_s=verify_rate_per_s,
            throughput_to_verify_rate=self.throughput_tps / verify_rate_per_s,
        )

    def with_resources(self, usage: ResourceUsage) -> BenchReport:
        """This report with the node processes' resource use, and the bytes they wrote to
        storage per committed transaction (None when nothing was committed)."""
        per_transaction = usage.write_bytes / self.committed if self.committed else None
        device = usage.device_write_bytes
        return replace(
            self,
            resources=usage,
            bytes_written_per_committed_transaction=per_transaction,
            device_bytes_written_per_committed_transaction=(
                device / self.committed if self.committed and device is not None else None
            ),
        )


@dataclass(frozen=True, slots=True)
class ThroughputBucket:
    """Transactions that succeeded in [start_s, start_s + width_s) after the first send."""

    start_s: float
    width_s: float
    succeeded: int
    throughput_tps: float


@dataclass(frozen=True, slots=True)
class LatencyBin:
    """Succeeded transactions whose latency lies in [low_s, high_s) (the last bin: [low, high])."""

    low_s: float
    high_s: float
    count: int


TIMELINE_BUCKETS_MAX = 120
HISTOGRAM_BINS = 30


def throughput_timeline(
    commit_times_s: Sequence[float], start_s: float, buckets_max: int = TIMELINE_BUCKETS_MAX
) -> list[ThroughputBucket]:
    """Successes per second over the run, in buckets of a whole number of seconds (one second
    while the run fits in `buckets_max` of them, else wider): the throughput chart's points."""
    if not commit_times_s:
        return []
    span_s = max(max(commit_times_s) - start_s, 0.0)
    width_s = float(max(1, math.ceil(span_s / buckets_max)))
    count = max(1, math.floor(span_s / width_s) + 1)
    counts = [0] * count
    for time_s in commit_times_s:
        index = min(count - 1, max(0, math.floor((time_s - start_s) / width_s)))
        counts[index] += 1
    return [
        ThroughputBucket(index * width_s, width_s, number, number / width_s)
        for index, number in enumerate(counts)
    ]


def latency_histogram(latencies_s: Sequence[float], bins: int = HISTOGRAM_BINS) -> list[LatencyBin]:
    """Latencies in `bins` equal bins from the lowest to the highest: the distribution chart."""
    if not latencies_s:
        return []
    low, high = min(latencies_s), max(latencies_s)
    if high == low:
        return [LatencyBin(low, high, len(latencies_s))]
    width = (high - low) / bins
    counts = [0] * bins
    for latency in latencies_s:
        counts[min(bins - 1, math.floor((latency - low) / width))] += 1
    return [
        LatencyBin(low + index * width, low + (index + 1) * width, number)
        for index, number in enumerate(counts)
    ]


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
    latencies = [latency for record in succeeded if (latency := record.latency_s) is not None]
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
        latency=summarise_latencies(latencies),
        failure_reasons=dict(reasons.most_common()),
        committed=len(succeeded) + len(committed_failed),
        throughput_timeline=throughput_timeline(commit_times, first_send),
        latency_histogram=latency_histogram(latencies),
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
