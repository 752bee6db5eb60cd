"""bench/lookup_contention.py runs end to end at a small size: it finds every id it stored,
none of the absent ones, and prints the four timed cases docs/performance.md quotes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def test_the_lookup_bench_finds_what_it_stored_and_times_each_case(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "bench/lookup_contention.py",
            "--ids",
            "2000",
            "--lookups",
            "500",
            "--path",
            str(tmp_path),
        ],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[:2] == [
        "lmdb get: found 2,000 of 2,000 stored ids",
        "python set: found 2,000 of 2,000 stored ids",
    ], lines
    cases = [
        f"{name}, {when}"
        for name in ("lmdb get", "python set")
        for when in ("alone", "beside a busy thread")
    ]
    assert len(lines) == 2 + len(cases), lines
    for case, line in zip(cases, lines[2:], strict=True):
        assert re.fullmatch(
            re.escape(case) + r": [\d.]+ µs a look-up \(500 absent ids, 0 found\)", line
        ), line
    assert (tmp_path / "data.mdb").exists()
