"""Devnets from a manifest (`causeway devnet up --manifest`) as real processes, for the tests that
need several chains: the CLI run in a child process, the processes a devnet recorded, and
``manifest_devnet``, which starts one on free ports and stops everything on the way out.

``manifest_devnet(root, manifest_template, ports)`` writes the manifest with its ``{port_base}``
a random free block of ``ports`` ports below the ephemeral range (as the devnet harness chooses
them, so a test never meets a user's devnet), and tries again on another block, in another
folder, when the start failed: a port taken meanwhile, or (seen once on the shared machine) a
start cut short without a word. Whatever happens, every node and relayer process the devnet
recorded is stopped on the way out (`devnet down`, then SIGKILL for any left that still names
the test's folder).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from devnet_harness import free_port_base

ROOT = Path(__file__).resolve().parents[2]
CLI_TIMEOUT_S = 150.0
UP_ATTEMPTS_MAX = 3
LOG_TAIL_CHARACTERS = 3_000


def run_cli(*arguments: str, timeout_s: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    """`causeway ARGUMENTS` in a child process, from the repository's folder (relative paths in
    the docs and examples), without the debug switch (a traceback would hide the one-line
    error the tests read)."""
    environment = {**os.environ}
    environment.pop("CAUSEWAY_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "causeway.cli", *arguments],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        cwd=ROOT,
        env=environment,
    )


def recorded_pids(directory: Path) -> set[int]:
    """The node, relayer and service processes the devnet in ``directory`` recorded."""
    pids: set[int] = set()
    for name, key in (
        ("devnet.json", "nodes"),
        ("relayers.json", "relayers"),
        ("services.json", "services"),
    ):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            document = json.loads((directory / name).read_text(encoding="utf-8"))
            pids |= {int(entry["pid"]) for entry in document[key] if entry["pid"]}
    return pids


def kill_left_over(pids: set[int], root: Path) -> None:
    """SIGKILL for each of ``pids`` that is still one of this test's processes: its command line
    names ``root`` (a process id the system reused for something else is left alone)."""
    for pid in pids:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(root) in command:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def devnet_logs(directory: Path) -> str:
    """The end of every node's and relayer's log, for a failure's message."""
    paths = sorted(directory.glob("chains/*/nodes/*/node.log")) + sorted(
        directory.glob("relayers/*.log")
    )
    return "\n".join(
        f"--- {path} ---\n"
        f"{path.read_text(encoding='utf-8', errors='replace')[-LOG_TAIL_CHARACTERS:]}"
        for path in paths
    )


@contextlib.contextmanager
def manifest_devnet(
    root: Path,
    manifest_template: str,
    ports: int,
    *,
    timeout_s: float = CLI_TIMEOUT_S,
) -> Iterator[Path]:
    """The devnet folder of ``manifest_template``, running (see the module docstring)."""
    pids: set[int] = set()
    directory = root / "devnet"
    try:
        for attempt in range(1, UP_ATTEMPTS_MAX + 1):
            directory = root / f"devnet-{attempt}"
            manifest = root / f"manifest-{attempt}.toml"
            manifest.write_text(
                manifest_template.format(port_base=free_port_base(ports)), encoding="utf-8"
            )
            started = run_cli(
                "devnet",
                "up",
                "--manifest",
                str(manifest),
                "--dir",
                str(directory),
                timeout_s=timeout_s,
            )
            pids |= recorded_pids(directory)
            if started.returncode == 0:
                break
            failure = (
                f"devnet up failed (exit {started.returncode}):\n{started.stdout}\n"
                f"{started.stderr}\n{devnet_logs(directory)}"
            )
            if attempt < UP_ATTEMPTS_MAX:
                print(failure)
                kill_left_over(pids, root)
                continue
            raise AssertionError(failure)
        try:
            yield directory
        except BaseException:
            print(devnet_logs(directory))
            raise
    finally:
        pids |= recorded_pids(directory)
        if (directory / "devnet.json").exists():
            run_cli("devnet", "down", "--dir", str(directory), timeout_s=timeout_s)
        kill_left_over(pids, root)
