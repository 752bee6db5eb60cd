"""`causeway node reload`: a running node process, found by HOME/node.pid, re-reads its
configuration on the SIGHUP the command sends; no node, a dead one or a stranger's process is
refused with the reason and signals nobody."""

from __future__ import annotations

import contextlib
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

NODE_SUPPORT = Path(__file__).resolve().parents[1] / "node"
if str(NODE_SUPPORT) not in sys.path:
    sys.path.insert(0, str(NODE_SUPPORT))

from operated_node import make_solo_home  # noqa: E402

runner = CliRunner()
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


def reload_command(home: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["node", "reload", "--home", str(home)])
    return result.exit_code, result.output


@contextlib.contextmanager
def node_process(home: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`causeway node start` for `home`, stopped (SIGTERM, then SIGKILL) whatever happens."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "causeway.cli", "node", "start", "--home", str(home)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(condition: object, what: str, log: Path) -> None:
    assert callable(condition)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        with contextlib.suppress(httpx.TransportError):
            if condition():
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}; the node's log:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def test_a_running_node_reloads_its_configuration(tmp_path: Path) -> None:
    home = make_solo_home(tmp_path / "net")
    log = tmp_path / "node.log"
    url = f"http://{load_node_config(home).http_address}"
    with node_process(home, log) as process:
        wait_for(lambda: httpx.get(f"{url}/healthz").status_code == 200, "no /healthz", log)
        assert (home / "node.pid").read_text().strip() == str(process.pid)
        # A second node on the same home fails on the ports taken, leaving the file alone.
        second = subprocess.run(
            [sys.executable, "-m", "causeway.cli", "node", "start", "--home", str(home)],
            capture_output=True,
            timeout=START_TIMEOUT_S,
            check=False,
        )
        assert second.returncode != 0
        assert (home / "node.pid").read_text().strip() == str(process.pid)
        config = home / "config.toml"
        config.write_text(
            config.read_text().replace("transactions_max = 200000", "transactions_max = 5")
        )
        code, output = reload_command(home)
        assert code == 0, output
        assert f"PID {process.pid}" in output

        def reloaded() -> bool:
            metrics = httpx.get(f"{url}/metrics").text
            return "causeway_mempool_transactions_max 5.0" in metrics

        wait_for(reloaded, "the reload was not applied", log)
        # A file the node cannot read: logged, and the node goes on with what it had.
        config.write_text(config.read_text().replace("[mempool]", "[mempool"))
        assert reload_command(home)[0] == 0
        wait_for(
            lambda: "configuration not reloaded: cannot read" in log.read_text(),
            "no error for the bad file",
            log,
        )
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert "causeway_mempool_transactions_max 5.0" in httpx.get(f"{url}/metrics").text
    assert process.returncode == 0
    assert not (home / "node.pid").exists()  # removed by the node as it stopped


def test_no_node_in_the_home_is_refused(tmp_path: Path) -> None:
    home = make_solo_home(tmp_path / "net")
    code, output = reload_command(home)
    assert code == 1
    assert "no node is running in" in output and "node.pid" in output


def test_a_process_that_ended_is_refused(tmp_path: Path) -> None:
    home = make_solo_home(tmp_path / "net")
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    (home / "node.pid").write_text(f"{ended.pid}\n")
    code, output = reload_command(home)
    assert code == 1
    assert f"process {ended.pid}" in output and "has ended" in output


@pytest.mark.parametrize("content", ["", "node1", "-5"])
def test_a_pid_file_without_a_process_id_is_refused(tmp_path: Path, content: str) -> None:
    home = make_solo_home(tmp_path / "net")
    (home / "node.pid").write_text(content)
    code, output = reload_command(home)
    assert code == 1
    assert "does not hold a process id" in output


def test_a_process_that_is_not_a_node_is_not_signalled(tmp_path: Path) -> None:
    home = make_solo_home(tmp_path / "net")
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        (home / "node.pid").write_text(f"{stranger.pid}\n")
        code, output = reload_command(home)
        assert code == 1
        assert "is not a causeway node" in output
        assert stranger.poll() is None  # not signalled (SIGHUP would have ended sleep)
    finally:
        stranger.kill()
        stranger.wait()
