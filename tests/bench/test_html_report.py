"""`causeway bench --report`: the HTML page read back with the stdlib parser and held to the JSON.

The page must be self-contained (nothing fetched), every figure cell must carry the JSON's value
and show it rounded, and the charts must draw the JSON's timeline and histogram.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from causeway.bench import (
    BenchReport,
    Outcome,
    ProcessUsage,
    ResourceUsage,
    TransactionRecord,
    build_report,
    render_html_report,
)
from causeway.errors import CausewayError
from causeway.provisioning import PORTS_PER_NODE
from causeway.sdk import Client

from ._ports import free_port_base

MEBIBYTE = 1 << 20


class ReportReader(HTMLParser):
    """The figures, chart elements and outside references of a report page."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, tuple[str, str]] = {}  # data-field -> (data-value, shown text)
        self.elements: dict[str, list[dict[str, str]]] = {}  # class -> attributes of each
        self.ids: set[str] = set()
        self.references: list[str] = []
        self._field: tuple[str, str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if "id" in attributes:
            self.ids.add(attributes["id"])
        for name in ("src", "href"):
            if name in attributes:
                self.references.append(attributes[name])
        if tag in {"link", "script"}:
            self.references.append(tag)
        if "class" in attributes:
            self.elements.setdefault(attributes["class"], []).append(attributes)
        if tag == "td" and "data-field" in attributes:
            self._field = (attributes["data-field"], attributes["data-value"])
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._field is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._field is not None:
            name, value = self._field
            self.cells[name] = (value, "".join(self._text))
            self._field = None


def read_report(text: str) -> ReportReader:
    reader = ReportReader()
    reader.feed(text)
    reader.close()
    return reader


def _json_value(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def _shown(path: str, value: Any) -> str:
    """How the page shows a JSON value: the rounding each kind of figure gets."""
    if value is None:
        return "-"
    name = path.rpartition(".")[2]
    if name.endswith("_tps"):
        return f"{value:,.1f}"
    if name.endswith("_s"):
        return f"{value:.3f}"
    if name.startswith("cpu_percent"):
        return f"{value:.1f}"
    if name in (
        "bytes_written_per_committed_transaction",
        "device_bytes_written_per_committed_transaction",
    ):
        return f"{value:,.0f} bytes"
    if name.endswith("_bytes") or name.startswith("memory_bytes"):
        return f"{value / MEBIBYTE:,.1f}"
    return f"{value:,}"


def check_report_against_json(page: str, data: dict[str, Any]) -> ReportReader:
    """Every figure of the page is the JSON's (exactly in data-value, rounded in the text), and
    the charts have one bar per timeline bucket and histogram bin, with the JSON's figures."""
    reader = read_report(page)
    assert reader.references == [], "the page must not load anything"
    assert {"summary", "throughput-chart", "latency-chart"} <= reader.ids
    for path, (exact, shown) in reader.cells.items():
        expected = _json_value(data, path)
        assert exact == repr(expected), path
        assert shown == _shown(path, expected), path
    for path in (
        "transactions",
        "sent",
        "succeeded",
        "failed",
        "throughput_tps",
        "send_rate_tps",
        "latency.p50_s",
        "latency.p90_s",
        "latency.p99_s",
        "latency.max_s",
    ):
        assert path in reader.cells, f"the summary lacks {path}"
    bars = reader.elements.get("bar", [])
    assert [
        (float(bar["data-start-s"]), int(bar["data-succeeded"]), float(bar["data-throughput-tps"]))
        for bar in bars
    ] == [
        (bucket["start_s"], bucket["succeeded"], bucket["throughput_tps"])
        for bucket in data["throughput_timeline"]
    ]
    bins = reader.elements.get("bin", [])
    assert [(float(item["data-low-s"]), int(item["data-count"])) for item in bins] == [
        (item["low_s"], item["count"]) for item in data["latency_histogram"]
    ]
    markers = {
        marker["data-percentile"]: float(marker["data-value"])
        for marker in reader.elements.get("marker", [])
    }
    if data["latency"] is not None and len(data["latency_histogram"]) > 1:
        assert markers == {name: data["latency"][f"{name}_s"] for name in ("p50", "p90", "p99")}
    return reader


def _records() -> list[TransactionRecord]:
    records = []
    for number in range(40):
        sent = number * 0.05
        records.append(
            TransactionRecord(
                number.to_bytes(32, "big"),
                sent,
                sent + 0.1 + (number % 7) * 0.03,
                Outcome.SUCCEEDED,
            )
        )
    records.append(TransactionRecord(b"r" * 32, 0.5, None, Outcome.REJECTED, "mempool_full"))
    records.append(TransactionRecord(b"f" * 32, 0.5, 0.9, Outcome.FAILED, "INSUFFICIENT_FUNDS"))
    return records


def _report() -> BenchReport:
    report = build_report(
        _records(), workload="ledger-transfer", target_rate_tps=20.0, concurrency=2, batch_size=5
    )
    process = ProcessUsage(
        name="node1",
        pid=4242,
        samples=5,
        cpu_percent_mean=87.25,
        cpu_percent_max=140.5,
        memory_bytes_mean=150.5 * MEBIBYTE,
        memory_bytes_max=160 * MEBIBYTE,
        read_bytes=0,
        write_bytes=3 * MEBIBYTE + 17,
    )
    usage = ResourceUsage(
        interval_s=0.5,
        duration_s=2.25,
        processes=[process],
        cpu_percent_mean=87.25,
        memory_bytes_max=160 * MEBIBYTE,
        read_bytes=0,
        write_bytes=3 * MEBIBYTE + 17,
        devices=["253:0"],
        device_write_bytes=41 * 2048 + 5,
    )
    return report.with_resources(usage)


def test_the_page_shows_the_json_figures() -> None:
    report = _report()
    data = json.loads(json.dumps({"node": "127.0.0.1:7050", **report.to_dict()}))
    page = render_html_report(report, node="127.0.0.1:7050")
    reader = check_report_against_json(page, data)
    assert (
        reader.cells["bytes_written_per_committed_transaction"][1] == "76,725 bytes"
    )  # (3 MiB + 17) / 41 committed
    assert reader.cells["device_bytes_written_per_committed_transaction"][1] == "2,048 bytes"
    assert reader.cells["resources.processes.0.cpu_percent_max"][1] == "140.5"
    assert "block devices holding the nodes' written files (253:0)" in page
    assert reader.cells["failure_reasons.mempool_full"] == ("1", "1")
    assert len(reader.elements["bar"]) == 3  # commits from 0.1 s to 2.25 s: three seconds
    assert len(reader.elements["bin"]) == 30


def test_a_page_without_resources_or_successes_says_so() -> None:
    report = build_report(
        [TransactionRecord(b"x" * 32, 0.0, None, Outcome.REJECTED, "expired")],
        workload="kv-put",
        target_rate_tps=0,
        concurrency=1,
        batch_size=1,
    )
    reader = read_report(render_html_report(report, node="n"))
    assert {"no-resources", "throughput-chart", "latency-chart"} <= reader.ids
    assert reader.cells["latency.p50_s"] == ("None", "-")
    assert "bar" not in reader.elements and "bin" not in reader.elements


def test_names_from_outside_are_escaped() -> None:
    report = build_report(
        [TransactionRecord(b"x" * 32, 0.0, None, Outcome.REJECTED, "<script>alert(1)</script>")],
        workload="kv-put",
        target_rate_tps=0,
        concurrency=1,
        batch_size=1,
    )
    page = render_html_report(report, node="<b>node</b>")
    assert "<script>" not in page and "<b>node</b>" not in page
    assert "&lt;script&gt;" in page


# ---- end to end: a tiny bench against a solo node ------------------------------------------

BENCH_TRANSACTIONS = 300
START_TIMEOUT_S = 60.0


def _causeway(*arguments: str, timeout_s: float = 300.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "causeway.cli", *arguments],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@contextlib.contextmanager
def _solo_node(directory: Path) -> Iterator[None]:
    base = free_port_base(PORTS_PER_NODE)
    created = _causeway("init", str(directory), "--port-base", str(base))
    assert created.returncode == 0, created.stderr
    with (directory / "node.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "causeway.cli", "node", "start", "--home",
             str(directory / "nodes" / "node1")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, (directory / "node.log").read_text()
            with (
                Client(f"127.0.0.1:{base}", timeout_s=2.0) as client,
                contextlib.suppress(CausewayError),
            ):
                client.status()
                break
            assert time.monotonic() < deadline, "the node did not answer"
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


@pytest.mark.e2e
def test_bench_report_against_a_solo_node(tmp_path: Path) -> None:
    network = tmp_path / "net"
    json_path, html_path = tmp_path / "bench.json", tmp_path / "bench.html"
    with _solo_node(network):
        run = _causeway(
            "bench", "--network", str(network), "--workload", "ledger-transfer",
            "--transactions", str(BENCH_TRANSACTIONS), "--accounts", "50", "--seed", "7",
            "--json", "--out", str(json_path), "--report", str(html_path),
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    data = json.loads(json_path.read_text())
    assert data == json.loads(run.stdout)
    assert data["succeeded"] == BENCH_TRANSACTIONS and data["failed"] == 0
    assert data["committed"] == BENCH_TRANSACTIONS
    (process,) = data["resources"]["processes"]
    assert process["name"] == "node1" and process["samples"] >= 2
    assert process["memory_bytes_max"] > 0
    # The node stores every block it commits: it wrote something for each transaction.
    assert data["bytes_written_per_committed_transaction"] == pytest.approx(
        data["resources"]["write_bytes"] / BENCH_TRANSACTIONS
    )
    assert data["bytes_written_per_committed_transaction"] > 0
    # The store is a regular file the node writes: its disk is found, and the node syncs every
    # commit there (so it wrote something) unless the folder is on no block device.
    store_device = os.stat(network).st_dev
    device = f"{os.major(store_device)}:{os.minor(store_device)}"
    if Path("/sys/dev/block", device, "stat").exists():
        assert data["resources"]["devices"] == [device]
        assert data["resources"]["device_write_bytes"] > 0
        assert data["device_bytes_written_per_committed_transaction"] == pytest.approx(
            data["resources"]["device_write_bytes"] / BENCH_TRANSACTIONS
        )
    else:
        assert data["device_bytes_written_per_committed_transaction"] is None
    reader = check_report_against_json(html_path.read_text(encoding="utf-8"), data)
    assert "resources.processes.0.write_bytes" in reader.cells
    assert sum(int(bar["data-succeeded"]) for bar in reader.elements["bar"]) == (BENCH_TRANSACTIONS)
