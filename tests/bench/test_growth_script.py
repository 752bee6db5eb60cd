"""bench/growth.sh, the growth bar's measurement, run small: two batches against one solo
node, restarted on its store before the second."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from causeway.bench import VERIFY_SAMPLE_MIN

from ._ports import free_port_base

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "growth.sh"
# The fewest transactions a run measures the verify rate beside.
TRANSACTIONS = VERIFY_SAMPLE_MIN
BATCH_LINE = re.compile(
    r"batch (\d+): [\d,]+ tx/s, p50 [\d.]+ s, p99 [\d.]+ s, committed (\d+), "
    r"([\d.]+|-) of the verify rate; written per tx "
    r"([\d,]+|-) B \(node\), ([\d,]+|-) B \(disk\); node CPU (\d+) ms per 1,000 tx; "
    r"anonymous memory [\d,]+ MiB"
)


@pytest.mark.e2e
def test_two_batches_with_a_restart_between() -> None:
    port = free_port_base(2)
    run = subprocess.run(
        ["bash", str(SCRIPT), "2", str(TRANSACTIONS), str(port), "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "CAUSEWAY": f"{sys.executable} -m causeway.cli"},
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[1] == "restarted the node before batch 2"
    batches = [BATCH_LINE.fullmatch(line) for line in (lines[0], lines[2])]
    assert all(batches), lines
    for number, match in enumerate(batches, start=1):
        assert match is not None
        assert (int(match[1]), int(match[2])) == (number, TRANSACTIONS)
        assert int(match[6]) > 0  # the node worked for its transactions
        assert 0 < float(match[3]) < 1  # the verify rate measured beside each batch
        assert match[4] != "-"  # the node's own write counter is read on Linux
    summary = re.fullmatch(
        r"last batch against the first: ([+-]\d+\.\d)%; "
        r"as a share of each batch's verify rate: ([+-]\d+\.\d)%",
        lines[3],
    )
    assert summary is not None, lines[3]
    first_ratio, last_ratio = (float(match[3]) for match in batches if match is not None)
    # Printed with two places per batch, so the change is checked to within their rounding.
    expected = 100 * (last_ratio - first_ratio) / first_ratio
    assert abs(float(summary[2]) - expected) <= 100 * 0.01 / first_ratio + 0.1
    assert len(lines) == 4


@pytest.mark.e2e
def test_a_node_that_cannot_start_stops_the_script(tmp_path: Path) -> None:
    """The port is taken: the node exits at start, and the script says so and fails."""
    port = free_port_base(2)
    with subprocess.Popen(
        [sys.executable, "-c", f"import socket, time; s = socket.socket(); "
         f"s.bind(('127.0.0.1', {port})); s.listen(); print('up', flush=True); time.sleep(120)"],
        stdout=subprocess.PIPE, text=True,
    ) as holder:  # fmt: skip
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "up\n"
            run = subprocess.run(
                ["bash", str(SCRIPT), "1", str(TRANSACTIONS), str(port)],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
                env={**os.environ, "CAUSEWAY": f"{sys.executable} -m causeway.cli"},
            )
        finally:
            holder.kill()
    assert run.returncode != 0
    assert run.stdout == ""


@pytest.mark.e2e
def test_the_node_environment_reaches_the_node_alone() -> None:
    """NODE_ENVIRONMENT is given to the node process: an allocator Python does not know stops
    it at start (and the script with it), while init, which runs without it, succeeded."""
    run = subprocess.run(
        ["bash", str(SCRIPT), "1", str(TRANSACTIONS), str(free_port_base(2))],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={
            **os.environ,
            "CAUSEWAY": f"{sys.executable} -m causeway.cli",
            "NODE_ENVIRONMENT": "PYTHONMALLOC=no-such-allocator",
        },
    )
    assert run.returncode != 0
    assert "PYTHONMALLOC: unknown allocator" in run.stderr
    assert run.stdout == ""
