"""`causeway node stop`: the node a home folder runs (HOME/node.pid) is stopped with SIGTERM and
waited for; one that ignores it is killed after --timeout; no node, or a stranger's process in
the file, is refused with the reason and signals nobody."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from causeway.cli.main import app
from causeway.node import load_node_config
from causeway.provisioning.devnet import is_running

NODE_SUPPORT = Path(__file__).resolve().parents[1] / "node"
if str(NODE_SUPPORT) not in sys.path:
    sys.path.insert(0, str(NODE_SUPPORT))

from operated_node import make_solo_home  # noqa: E402

runner = CliRunner()
START_TIMEOUT_S = 60.0


def stop_command(home: Path, *options: str) -> tuple[int, str]:
    result = runner.invoke(app, ["node", "stop", "--home", str(home), *options])
    return result.exit_code, result.output


def wait_until(condition: object, what: str) -> None:
    assert callable(condition)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        with contextlib.suppress(httpx.TransportError, OSError, ValueError):
            if condition():
                return
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.1)


@contextlib.contextmanager
def background_node(home: Path) -> Iterator[int]:
    """`causeway node start --home HOME > log 2>&1 &` as an operator's shell runs it: the node
    is not this process's child. Killed whatever happens."""
    subprocess.run(
        ["bash", "-c", f'"{sys.executable}" -m causeway.cli node start --home "{home}" '
         f'> "{home}/node.log" 2>&1 &'],
        check=True,
    )  # fmt: skip
    pid_file = home / "node.pid"
    wait_until(lambda: pid_file.read_text().strip().isdigit(), "the node wrote no node.pid")
    pid = int(pid_file.read_text())
    try:
        yield pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_a_running_node_is_stopped_cleanly_and_waited_for(tmp_path: Path) -> None:
    home = make_solo_home(tmp_path / "net")
    url = f"http://{load_node_config(home).http_address}"
    with background_node(home) as pid:
        wait_until(
            lambda: httpx.get(f"{url}/healthz").status_code == 200,
            f"no /healthz:\n{(home / 'node.log').read_text()[-3000:]}",
        )
        code, output = stop_command(home)
        assert code == 0, output
        assert f"(PID {pid}) stopped" in output
        # Waited for: gone when the command returns, its pid file removed by the node itself.
        assert not is_running(pid)
        assert not (home / "node.pid").exists()
    code, output = stop_command(home)
    assert code == 1 and "no node is running in" in output


def test_a_node_that_ignores_sigterm_is_killed_after_the_timeout(tmp_path: Path) -> None:
    home = make_solo_home(tmp_path / "net")
    # A process that passes for a node (its command line says causeway) and ignores SIGTERM.
    stubborn = subprocess.Popen(["bash", "-c", 'trap "" TERM; exec -a causeway-node sleep 60'])
    try:
        wait_until(
            lambda: b"causeway-node" in Path(f"/proc/{stubborn.pid}/cmdline").read_bytes(),
            "the stand-in did not start",
        )
        (home / "node.pid").write_text(f"{stubborn.pid}\n")
        code, output = stop_command(home, "--timeout", "0.5")
        assert code == 0, output
        assert f"(PID {stubborn.pid}) killed after 0.5 s" in output
        assert not is_running(stubborn.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            stubborn.kill()


def test_a_process_that_is_not_a_node_is_not_stopped(tmp_path: Path) -> None:
    home = make_solo_home(tmp_path / "net")
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        (home / "node.pid").write_text(f"{stranger.pid}\n")
        code, output = stop_command(home)
        assert code == 1
        assert "is not a causeway node" in output
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


@pytest.mark.parametrize("timeout", ["0", "-1", "soon"])
def test_a_timeout_that_is_not_a_positive_number_is_refused(tmp_path: Path, timeout: str) -> None:
    home = make_solo_home(tmp_path / "net")
    code, output = stop_command(home, "--timeout", timeout)
    assert code == 2, output
    assert "--timeout" in output


def test_a_folder_that_is_not_a_node_home_is_refused(tmp_path: Path) -> None:
    code, output = stop_command(tmp_path)
    assert code == 1 and "no config.toml in" in output
