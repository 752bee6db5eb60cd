"""causeway.bench statistics: percentiles, the commit tracker and the report."""

from __future__ import annotations

import threading

import pytest

from causeway.bench import (
    CommitTracker,
    LatencyBin,
    Outcome,
    ResourceUsage,
    TransactionRecord,
    automatic_batch_size,
    batch_send_offset_s,
    build_report,
    latency_histogram,
    percentile,
    summarise_latencies,
    throughput_timeline,
)


def test_percentile_interpolates_linearly() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 0.0) == 1.0
    assert percentile(values, 1.0) == 4.0
    assert percentile(values, 0.5) == pytest.approx(2.5)
    hundred = [float(number) for number in range(1, 101)]
    assert percentile(hundred, 0.5) == pytest.approx(50.5)
    assert percentile(hundred, 0.95) == pytest.approx(95.05)
    assert percentile(hundred, 0.99) == pytest.approx(99.01)
    assert percentile([7.0], 0.99) == 7.0


def test_percentile_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        percentile([], 0.5)
    with pytest.raises(ValueError):
        percentile([1.0], 1.5)


def test_summarise_latencies() -> None:
    summary = summarise_latencies([0.3, 0.1, 0.2, 0.4, 0.5])
    assert summary is not None
    assert summary.count == 5
    assert summary.min_s == 0.1
    assert summary.max_s == 0.5
    assert summary.mean_s == pytest.approx(0.3)
    assert summary.p50_s == pytest.approx(0.3)
    assert summary.p95_s == pytest.approx(0.48)
    assert summary.p99_s == pytest.approx(0.496)
    assert summarise_latencies([]) is None


def test_tracker_follows_each_transaction() -> None:
    ids = [bytes([number]) * 32 for number in range(4)]
    tracker = CommitTracker(ids)
    tracker.sent(ids[:3], 10.0)
    assert tracker.open == 3
    assert tracker.committed(ids[0], True, "", 10.5)
    assert tracker.committed(ids[1], False, "INSUFFICIENT_FUNDS", 10.6)
    tracker.rejected(ids[2], "duplicate")
    assert tracker.open == 0
    assert not tracker.committed(b"\xff" * 32, True, "", 11.0)  # not ours
    assert not tracker.committed(ids[0], True, "", 12.0)  # seen already
    records = {record.id: record for record in tracker.records()}
    assert records[ids[0]].outcome is Outcome.SUCCEEDED
    assert records[ids[0]].latency_s == pytest.approx(0.5)
    assert records[ids[1]].outcome is Outcome.FAILED
    assert records[ids[1]].reason == "INSUFFICIENT_FUNDS"
    assert records[ids[2]].outcome is Outcome.REJECTED
    assert records[ids[3]].outcome is Outcome.PENDING
    assert records[ids[3]].send_time_s is None


def test_tracker_counts_a_commit_that_beats_the_submit_answer() -> None:
    identifier = b"\x01" * 32
    tracker = CommitTracker([identifier])
    tracker.sent([identifier], 1.0)
    tracker.committed(identifier, True, "", 1.2)
    tracker.rejected(identifier, "duplicate")  # a late answer changes nothing
    (record,) = tracker.records()
    assert record.outcome is Outcome.SUCCEEDED
    assert tracker.open == 0


def test_tracker_wait_settled() -> None:
    identifier = b"\x02" * 32
    tracker = CommitTracker([identifier])
    tracker.sent([identifier], 0.0)
    assert not tracker.wait_settled(0.01)
    timer = threading.Timer(0.05, tracker.committed, (identifier, True, "", 0.05))
    timer.start()
    assert tracker.wait_settled(5.0)
    timer.join()


def _record(
    number: int, send: float | None, commit: float | None, outcome: Outcome, reason: str = ""
) -> TransactionRecord:
    return TransactionRecord(bytes([number]) * 32, send, commit, outcome, reason)


def test_report_on_known_records() -> None:
    records = [
        _record(1, 0.0, 0.1, Outcome.SUCCEEDED),
        _record(2, 0.0, 0.3, Outcome.SUCCEEDED),
        _record(3, 1.0, 1.2, Outcome.SUCCEEDED),
        _record(4, 1.0, 2.0, Outcome.SUCCEEDED),
        _record(5, 1.0, 1.5, Outcome.FAILED, "INSUFFICIENT_FUNDS"),
        _record(6, 1.0, None, Outcome.REJECTED, "duplicate"),
        _record(7, 1.0, None, Outcome.PENDING),
        _record(8, None, None, Outcome.PENDING),
    ]
    report = build_report(
        records,
        workload="kv-put",
        target_rate_tps=5.0,
        concurrency=2,
        batch_size=3,
        send_finished_s=2.0,
    )
    assert report.transactions == 8
    assert report.sent == 7
    assert report.succeeded == 4
    assert report.failed == 3
    assert report.rejected == 1
    assert report.unconfirmed == 1
    assert report.send_duration_s == pytest.approx(2.0)
    assert report.send_rate_tps == pytest.approx(3.5)
    assert report.duration_s == pytest.approx(2.0)
    assert report.throughput_tps == pytest.approx(2.0)
    latency = report.latency
    assert latency is not None
    assert latency.count == 4
    assert latency.min_s == pytest.approx(0.1)
    assert latency.max_s == pytest.approx(1.0)
    assert latency.p50_s == pytest.approx(0.25)
    assert report.failure_reasons == {
        "INSUFFICIENT_FUNDS": 1,
        "duplicate": 1,
        "not committed before the run ended": 1,
    }
    data = report.to_dict()
    assert data["latency"]["p50_s"] == pytest.approx(0.25)
    assert data["workload"] == "kv-put"


def test_report_of_nothing_sent() -> None:
    report = build_report(
        [_record(1, None, None, Outcome.PENDING)],
        workload="kv-put",
        target_rate_tps=0,
        concurrency=1,
        batch_size=1,
    )
    assert report.sent == 0
    assert report.throughput_tps == 0.0
    assert report.send_rate_tps == 0.0
    assert report.latency is None


def test_pacing() -> None:
    assert batch_send_offset_s(0, 100, 1000.0) == 0.0
    assert batch_send_offset_s(5, 100, 1000.0) == pytest.approx(0.5)
    assert batch_send_offset_s(5, 100, 0.0) == 0.0
    assert automatic_batch_size(0) == 200
    assert automatic_batch_size(1000) == 50
    assert automatic_batch_size(5) == 1
    assert automatic_batch_size(1_000_000) == 200


def test_report_counts_committed_and_charts_the_run() -> None:
    records = [
        _record(1, 0.0, 0.1, Outcome.SUCCEEDED),
        _record(2, 0.0, 0.3, Outcome.SUCCEEDED),
        _record(3, 1.0, 1.2, Outcome.SUCCEEDED),
        _record(4, 1.0, 2.5, Outcome.SUCCEEDED),
        _record(5, 1.0, 1.5, Outcome.FAILED, "INSUFFICIENT_FUNDS"),
        _record(6, 1.0, None, Outcome.REJECTED, "duplicate"),
    ]
    report = build_report(
        records, workload="kv-put", target_rate_tps=0, concurrency=1, batch_size=1
    )
    assert report.committed == 5  # four succeeded and one failed in a block; one never got in
    latency = report.latency
    assert latency is not None
    assert latency.p90_s == pytest.approx(1.14)  # 0.1, 0.2, 0.3, 1.5 at rank 2.7
    assert [(bucket.start_s, bucket.succeeded) for bucket in report.throughput_timeline] == [
        (0.0, 2),
        (1.0, 1),
        (2.0, 1),
    ]
    assert sum(item.count for item in report.latency_histogram) == 4
    data = report.to_dict()
    assert data["committed"] == 5
    assert data["throughput_timeline"][0] == {
        "start_s": 0.0,
        "width_s": 1.0,
        "succeeded": 2,
        "throughput_tps": 2.0,
    }
    assert data["resources"] is None
    assert data["bytes_written_per_committed_transaction"] is None


def test_throughput_timeline_widens_its_buckets_past_the_limit() -> None:
    at_limit = throughput_timeline([0.0, 119.5], 0.0, buckets_max=120)
    assert len(at_limit) == 120 and at_limit[-1].start_s == 119.0
    assert {bucket.width_s for bucket in at_limit} == {1.0}
    past = throughput_timeline([0.0, 120.5], 0.0, buckets_max=120)
    assert {bucket.width_s for bucket in past} == {2.0}
    assert len(past) == 61
    assert past[-1].succeeded == 1 and past[-1].throughput_tps == 0.5
    assert throughput_timeline([], 0.0) == []


def test_latency_histogram_bins() -> None:
    histogram = latency_histogram([0.0, 0.1, 0.5, 1.0], bins=4)
    assert [(item.low_s, item.high_s, item.count) for item in histogram] == [
        (0.0, 0.25, 2),
        (0.25, 0.5, 0),
        (0.5, 0.75, 1),
        (0.75, 1.0, 1),  # the highest latency falls in the last bin, closed on the right
    ]
    assert latency_histogram([0.2, 0.2], bins=4) == [LatencyBin(0.2, 0.2, 2)]
    assert latency_histogram([]) == []


def test_bytes_written_per_committed_transaction() -> None:
    report = build_report(
        [_record(1, 0.0, 0.1, Outcome.SUCCEEDED), _record(2, 0.0, 0.2, Outcome.FAILED, "x")],
        workload="kv-put",
        target_rate_tps=0,
        concurrency=1,
        batch_size=1,
    )
    usage = ResourceUsage(interval_s=0.5, duration_s=1.0, write_bytes=10_000)
    measured = report.with_resources(usage)
    assert measured.resources == usage
    assert measured.bytes_written_per_committed_transaction == 5_000.0
    nothing = build_report([], workload="kv-put", target_rate_tps=0, concurrency=1, batch_size=1)
    assert nothing.with_resources(usage).bytes_written_per_committed_transaction is None
