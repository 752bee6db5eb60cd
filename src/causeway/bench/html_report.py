"""`causeway bench --report FILE.html`: the run as one self-contained page, in Caliper's manner.

The page holds the summary table (transactions, rates, latency percentiles, failures), the
resource use of the node processes, a chart of throughput over time and one of the latency
distribution, and the failure reasons. Everything is inline (CSS, SVG drawn here); nothing is
fetched, so the file can be mailed or archived as it is.

Every figure cell carries its exact value in `data-value` beside the rounded text people read,
and every chart element its figures in `data-*` attributes, so that a program (and the tests) can
read the page back and compare it with the JSON report.
"""

from __future__ import annotations

import datetime
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

from causeway.bench.statistics import BenchReport, LatencyBin, ThroughputBucket

MEBIBYTE = 1 << 20
CHART_WIDTH = 720
CHART_HEIGHT = 260
MARGIN_LEFT = 64
MARGIN_RIGHT = 16
MARGIN_TOP = 16
MARGIN_BOTTOM = 44
AXIS_TICKS = 5

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 64em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.7em; text-align: right; }
th { background: #eef2f7; } td:first-child, th:first-child { text-align: left; }
p.meta { color: #555; } p.note { color: #555; font-size: 0.9em; }
svg { background: #fafbfc; border: 1px solid #ddd; }
svg text { font-size: 11px; fill: #444; }
.bar { fill: #4a7fb5; } .bin { fill: #6aa56a; } .axis { stroke: #888; }
.marker { stroke: #c0392b; stroke-dasharray: 4 3; } .marker-label { fill: #c0392b; }
"""


@dataclass(frozen=True, slots=True)
class _Cell:
    text: str
    field: str | None = None
    value: float | int | str | None = None

    def render(self) -> str:
        if self.field is None:
            return f"<td>{html.escape(self.text)}</td>"
        return (
            f'<td data-field="{html.escape(self.field)}" '
            f'data-value="{html.escape(repr(self.value))}">{html.escape(self.text)}</td>'
        )


def _figure(field: str, value: float | int | None, text: str) -> _Cell:
    return _Cell(text if value is not None else "-", field, value)


def _seconds(field: str, value: float | None) -> _Cell:
    return _figure(field, value, f"{value:.3f}" if value is not None else "-")


def _rate(field: str, value: float) -> _Cell:
    return _figure(field, value, f"{value:,.1f}")


def _count(field: str, value: int) -> _Cell:
    return _figure(field, value, f"{value:,}")


def _mebibytes(field: str, value: float) -> _Cell:
    return _figure(field, value, f"{value / MEBIBYTE:,.1f}")


def _percent(field: str, value: float) -> _Cell:
    return _figure(field, value, f"{value:.1f}")


def _table(table_id: str, headers: Sequence[str], rows: Sequence[Sequence[_Cell]]) -> str:
    head = "".join(f"<th>{html.escape(header)}</th>" for header in headers)
    body = "".join("<tr>" + "".join(cell.render() for cell in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><tr>{head}</tr>{body}</table>'


def _summary_table(report: BenchReport) -> str:
    latency = report.latency
    row = [
        _Cell(report.workload),
        _count("transactions", report.transactions),
        _count("sent", report.sent),
        _count("succeeded", report.succeeded),
        _count("failed", report.failed),
        _rate("send_rate_tps", report.send_rate_tps),
        _rate("throughput_tps", report.throughput_tps),
        _seconds("latency.p50_s", latency.p50_s if latency else None),
        _seconds("latency.p90_s", latency.p90_s if latency else None),
        _seconds("latency.p99_s", latency.p99_s if latency else None),
        _seconds("latency.max_s", latency.max_s if latency else None),
        _seconds("latency.min_s", latency.min_s if latency else None),
        _seconds("latency.mean_s", latency.mean_s if latency else None),
        _figure(
            "verify_rate_per_s",
            report.verify_rate_per_s,
            f"{report.verify_rate_per_s:,.0f}" if report.verify_rate_per_s is not None else "-",
        ),
        _figure(
            "throughput_to_verify_rate",
            report.throughput_to_verify_rate,
            f"{report.throughput_to_verify_rate:.2f}"
            if report.throughput_to_verify_rate is not None
            else "-",
        ),
    ]
    headers = [
        "Name",
        "Transactions",
        "Sent",
        "Succ",
        "Fail",
        "Send rate (TPS)",
        "Throughput (TPS)",
        "Latency p50 (s)",
        "Latency p90 (s)",
        "Latency p99 (s)",
        "Max latency (s)",
        "Min latency (s)",
        "Avg latency (s)",
        "Verify ceiling (sig/s)",
        "Throughput / ceiling",
    ]
    return _table("summary", headers, [row])


def _resources_section(report: BenchReport) -> str:
    usage = report.resources
    if usage is None:
        return (
            "<h2>Resource utilization</h2>"
            '<p class="note" id="no-resources">The node processes were not measured (give '
            "--network, or --node with a loopback address of a node on this machine).</p>"
        )
    rows = [
        [
            _Cell(process.name),
            _Cell(str(process.pid)),
            _percent(f"resources.processes.{index}.cpu_percent_max", process.cpu_percent_max),
            _percent(f"resources.processes.{index}.cpu_percent_mean", process.cpu_percent_mean),
            _mebibytes(f"resources.processes.{index}.memory_bytes_max", process.memory_bytes_max),
            _mebibytes(f"resources.processes.{index}.memory_bytes_mean", process.memory_bytes_mean),
            _mebibytes(f"resources.processes.{index}.read_bytes", process.read_bytes),
            _mebibytes(f"resources.processes.{index}.write_bytes", process.write_bytes),
        ]
        for index, process in enumerate(usage.processes)
    ]
    rows.append(
        [
            _Cell("all nodes"),
            _Cell(""),
            _Cell(""),
            _percent("resources.cpu_percent_mean", usage.cpu_percent_mean),
            _mebibytes("resources.memory_bytes_max", usage.memory_bytes_max),
            _Cell(""),
            _mebibytes("resources.read_bytes", usage.read_bytes),
            _mebibytes("resources.write_bytes", usage.write_bytes),
        ]
    )
    headers = [
        "Name",
        "PID",
        "CPU% (max)",
        "CPU% (avg)",
        "Memory max (MiB)",
        "Memory avg (MiB)",
        "Disc read (MiB)",
        "Disc write (MiB)",
    ]
    per_transaction = report.bytes_written_per_committed_transaction
    written = _Cell(
        f"{per_transaction:,.0f} bytes" if per_transaction is not None else "-",
        "bytes_written_per_committed_transaction",
        per_transaction,
    )
    device_per_transaction = report.device_bytes_written_per_committed_transaction
    device_written = _Cell(
        f"{device_per_transaction:,.0f} bytes" if device_per_transaction is not None else "-",
        "device_bytes_written_per_committed_transaction",
        device_per_transaction,
    )
    devices = html.escape(", ".join(usage.devices) or "none found")
    return (
        "<h2>Resource utilization</h2>"
        + _table("resources", headers, rows)
        + _table(
            "storage",
            ["Figure", "Value"],
            [
                [_Cell("Bytes written per committed transaction"), written],
                [_Cell("Bytes the disk wrote per committed transaction"), device_written],
                [_Cell("Committed transactions"), _count("committed", report.committed)],
            ],
        )
        + f'<p class="note">Sampled every {usage.interval_s:g} s for {usage.duration_s:.1f} s '
        "from /proc/&lt;pid&gt;/stat and /proc/&lt;pid&gt;/io. CPU% is of one core. Disc bytes "
        "are those the kernel accounts to the process for storage (read_bytes, write_bytes); "
        f"the disk's bytes are what the block devices holding the nodes' written files ({devices}) "
        "wrote meanwhile, from /sys/dev/block, every process's writes to them included.</p>"
    )


def _nice_step(span: float, ticks: int = AXIS_TICKS) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) that covers `span` in about `ticks`."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if raw <= multiple * power:
            return multiple * power
    return 10 * power


def _axes(x_label: str, y_label: str, y_max: float, x_ticks: Sequence[tuple[float, str]]) -> str:
    plot_width = CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = CHART_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    bottom = MARGIN_TOP + plot_height
    parts = [
        f'<line class="axis" x1="{MARGIN_LEFT}" y1="{bottom}" x2="{MARGIN_LEFT + plot_width}" '
        f'y2="{bottom}"/>',
        f'<line class="axis" x1="{MARGIN_LEFT}" y1="{MARGIN_TOP}" x2="{MARGIN_LEFT}" '
        f'y2="{bottom}"/>',
    ]
    step = _nice_step(y_max)
    tick = 0.0
    while tick <= y_max + step / 2:
        y = bottom - plot_height * (tick / y_max if y_max else 0)
        parts.append(
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>'
        )
        tick += step
    for position, label in x_ticks:
        x = MARGIN_LEFT + plot_width * position
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{html.escape(label)}</text>'
        )
    parts.append(
        f'<text x="{MARGIN_LEFT + plot_width / 2:.1f}" y="{CHART_HEIGHT - 6}" '
        f'text-anchor="middle">{html.escape(x_label)}</text>'
    )
    parts.append(
        f'<text x="14" y="{MARGIN_TOP + plot_height / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {MARGIN_TOP + plot_height / 2:.1f})">{html.escape(y_label)}'
        "</text>"
    )
    return "".join(parts)


def _svg(chart_id: str, title: str, content: str) -> str:
    return (
        f'<svg id="{chart_id}" xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" '
        f'height="{CHART_HEIGHT}" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img">'
        f"<title>{html.escape(title)}</title>{content}</svg>"
    )


def throughput_chart(timeline: Sequence[ThroughputBucket]) -> str:
    """Bars of successes per second over the run."""
    if not timeline:
        return '<p class="note" id="throughput-chart">No transaction succeeded.</p>'
    plot_width = CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = CHART_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    span_s = timeline[-1].start_s + timeline[-1].width_s
    peak = max(bucket.throughput_tps for bucket in timeline)
    y_max = _nice_step(peak) * math.ceil(peak / _nice_step(peak)) if peak else 1.0
    bars = []
    for bucket in timeline:
        width = plot_width * bucket.width_s / span_s
        height = plot_height * bucket.throughput_tps / y_max
        x = MARGIN_LEFT + plot_width * bucket.start_s / span_s
        bars.append(
            f'<rect class="bar" x="{x:.2f}" y="{MARGIN_TOP + plot_height - height:.2f}" '
            f'width="{max(width - 1, 0.5):.2f}" height="{height:.2f}" '
            f'data-start-s="{bucket.start_s!r}" data-width-s="{bucket.width_s!r}" '
            f'data-succeeded="{bucket.succeeded}" data-throughput-tps="{bucket.throughput_tps!r}">'
            f"<title>{bucket.start_s:g}-{bucket.start_s + bucket.width_s:g} s: "
            f"{bucket.throughput_tps:,.1f} tx/s</title></rect>"
        )
    step = _nice_step(span_s)
    ticks = [(tick * step / span_s, f"{tick * step:g}") for tick in range(int(span_s // step) + 1)]
    return _svg(
        "throughput-chart",
        "Throughput over time",
        _axes("seconds since the first send", "tx/s", y_max, ticks) + "".join(bars),
    )


def latency_chart(histogram: Sequence[LatencyBin], report: BenchReport) -> str:
    """Bars of how many transactions committed with each latency, with p50, p90, p99 marked."""
    if not histogram:
        return '<p class="note" id="latency-chart">No transaction succeeded.</p>'
    plot_width = CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = CHART_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    low, high = histogram[0].low_s, histogram[-1].high_s
    span = (high - low) or 1.0
    peak = max(item.count for item in histogram)
    y_max = _nice_step(peak) * math.ceil(peak / _nice_step(peak))
    bars = []
    for item in histogram:
        width = plot_width * (item.high_s - item.low_s) / span if high > low else plot_width
        height = plot_height * item.count / y_max
        x = MARGIN_LEFT + plot_width * (item.low_s - low) / span
        bars.append(
            f'<rect class="bin" x="{x:.2f}" y="{MARGIN_TOP + plot_height - height:.2f}" '
            f'width="{max(width - 1, 0.5):.2f}" height="{height:.2f}" '
            f'data-low-s="{item.low_s!r}" data-high-s="{item.high_s!r}" '
            f'data-count="{item.count}"><title>{item.low_s * 1000:.1f}-'
            f"{item.high_s * 1000:.1f} ms: {item.count}</title></rect>"
        )
    markers = []
    latency = report.latency
    if latency is not None and high > low:
        for name, value in (("p50", latency.p50_s), ("p90", latency.p90_s), ("p99", latency.p99_s)):
            x = MARGIN_LEFT + plot_width * (value - low) / span
            markers.append(
                f'<line class="marker" x1="{x:.2f}" y1="{MARGIN_TOP}" x2="{x:.2f}" '
                f'y2="{MARGIN_TOP + plot_height}" data-percentile="{name}" data-value="{value!r}"/>'
                f'<text class="marker-label" x="{x + 3:.2f}" y="{MARGIN_TOP + 10}">{name}</text>'
            )
    ticks = [
        (index / AXIS_TICKS, f"{(low + span * index / AXIS_TICKS) * 1000:.0f}")
        for index in range(AXIS_TICKS + 1)
    ]
    return _svg(
        "latency-chart",
        "Latency distribution",
        _axes("latency (ms)", "transactions", y_max, ticks) + "".join(bars) + "".join(markers),
    )


def _failures_section(report: BenchReport) -> str:
    if not report.failure_reasons:
        return '<h2>Failures</h2><p class="note" id="failures">None.</p>'
    rows = [
        [_Cell(reason), _count(f"failure_reasons.{reason}", count)]
        for reason, count in report.failure_reasons.items()
    ]
    return "<h2>Failures</h2>" + _table("failures", ["Reason", "Transactions"], rows)


def render_html_report(
    report: BenchReport, *, node: str, generated_at: datetime.datetime | None = None
) -> str:
    """The whole page for `report`, measured against the node at `node`."""
    moment = generated_at or datetime.datetime.now(tz=datetime.UTC)
    target = f"{report.target_rate_tps:,.0f} tx/s" if report.target_rate_tps else "unlimited"
    return "".join(
        [
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
            "<title>Causeway benchmark report</title>",
            f"<style>{_STYLE}</style></head><body>",
            "<h1>Causeway benchmark report</h1>",
            f'<p class="meta">Workload <b>{html.escape(report.workload)}</b> against '
            f"{html.escape(node)}, {moment.isoformat(timespec='seconds')}. Target rate "
            f"{target}, {report.concurrency} batches of {report.batch_size} in flight. "
            "Latency is the time from handing a batch to the node to the arrival of the block "
            "holding the transaction on the block stream.</p>",
            "<h2>Summary of performance metrics</h2>",
            _summary_table(report),
            _resources_section(report),
            "<h2>Throughput over time</h2>",
            throughput_chart(report.throughput_timeline),
            "<h2>Latency distribution</h2>",
            latency_chart(report.latency_histogram, report),
            _failures_section(report),
            "</body></html>\n",
        ]
    )
