"""bench/directory_index.py runs end to end at a small size: the rebuild and the ckanapi search
figures it prints (docs/directory.md quotes it at 100,000 resources)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def test_the_directory_bench_rebuilds_and_searches_through_ckanapi() -> None:
    completed = subprocess.run(
        [sys.executable, "bench/directory_index.py", "--resources", "300", "--queries", "12"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    assert re.fullmatch(
        r"sqlite: rebuilt [\d,]+ events \(300 resources, 100 departments\) in [\d.]+ s "
        r"\([\d,]+ events/s\)",
        lines[0],
    ), lines
    assert re.fullmatch(
        r"sqlite: 12 package_search calls through ckanapi: p50 [\d.]+ ms, p99 [\d.]+ ms, "
        r"max [\d.]+ ms, mean [\d.]+ ms \(median hits [\d,]+\)",
        lines[1],
    ), lines
