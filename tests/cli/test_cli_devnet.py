"""`causeway devnet` with real node processes: up, status, restart, down."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def causeway(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "causeway.cli", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


UP_ATTEMPTS_MAX = 3


def ports_free(base: int, count: int) -> bool:
    try:
        for port in range(base, base + count):
            with socket.socket() as other:
                other.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True


def free_port_base(count: int) -> int:
    """A port with `count` free ports after it (checked, not reserved: see devnet_up)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + count <= 65000 and ports_free(base, count):
            return base
    raise RuntimeError("no free port range")


def devnet_up(directory: Path, count: int, *arguments: str) -> int:
    """`devnet up` on a free port range. The range is only checked, so another process may take
    a port before the nodes listen: then (and only then) it is retried on another range."""
    for _ in range(UP_ATTEMPTS_MAX):
        base = free_port_base(count)
        started = causeway(
            "devnet", "up", *arguments, "--port-base", str(base), "--dir", str(directory)
        )
        if started.returncode == 0:
            return base
        causeway("devnet", "down", "--dir", str(directory))
        assert not ports_free(base, count), started.stderr
        shutil.rmtree(directory, ignore_errors=True)
    raise AssertionError(f"a port was taken in each of {UP_ATTEMPTS_MAX} free ranges")


def test_devnet_lifecycle(tmp_path: Path) -> None:
    directory = tmp_path / "devnet"
    try:
        base = devnet_up(directory, 4, "--validators", "1", "--consensus", "solo", "--orgs", "2")
        status = json.loads(causeway("devnet", "status", "--dir", str(directory), "--json").stdout)
        (node,) = status["nodes"]
        assert node["name"] == "node1"
        assert node["running"] and node["answering"]
        assert node["grpc_address"] == f"127.0.0.1:{base}"
        first_pid = node["pid"]

        restarted = causeway("devnet", "restart", "--node", "node1", "--dir", str(directory))
        assert restarted.returncode == 0, restarted.stderr
        status = json.loads(causeway("devnet", "status", "--dir", str(directory), "--json").stdout)
        assert status["nodes"][0]["pid"] != first_pid
        assert status["nodes"][0]["answering"]

        unknown = causeway("devnet", "restart", "--node", "node9", "--dir", str(directory))
        assert unknown.returncode != 0
        assert "no node 'node9'" in unknown.stderr
        assert "Traceback" not in unknown.stderr

        refused = causeway(
            "devnet", "up", "--validators", "1", "--consensus", "solo", "--dir", str(directory)
        )
        assert refused.returncode != 0
        assert "is running" in refused.stderr
    finally:
        stopped = causeway("devnet", "down", "--dir", str(directory))
    assert stopped.returncode == 0, stopped.stderr
    status = json.loads(causeway("devnet", "status", "--dir", str(directory), "--json").stdout)
    assert not status["nodes"][0]["running"]


def test_devnet_status_without_a_devnet_is_one_clear_line(tmp_path: Path) -> None:
    result = causeway("devnet", "status", "--dir", str(tmp_path / "nothing"))
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert "no devnet" in result.stderr
