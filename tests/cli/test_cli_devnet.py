"""`causeway devnet` with real node processes: up, status, restart, stop, start, down."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from causeway.cli import devnet_command

pytestmark = pytest.mark.e2e


COMMAND_TIMEOUT_S = 120


def causeway(*arguments: str) -> subprocess.CompletedProcess[str]:
    """Runs the CLI. One still running after COMMAND_TIMEOUT_S gets SIGABRT, on which
    faulthandler prints every thread's stack, and the test fails with them: a `devnet status`
    that hung once in CI (2026-12-06) said nothing of where it waited."""
    process = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "causeway.cli", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=COMMAND_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        try:
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        pytest.fail(
            f"causeway {' '.join(arguments)} still ran after {COMMAND_TIMEOUT_S} s; "
            f"its output:\n{stdout}\nits threads (faulthandler):\n{stderr}"
        )
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


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

        # One node stopped, its data kept; start starts it again.
        stopped_one = causeway("devnet", "stop", "--node", "node1", "--dir", str(directory))
        assert stopped_one.returncode == 0, stopped_one.stderr
        assert "node1 stopped" in stopped_one.stdout
        status = json.loads(causeway("devnet", "status", "--dir", str(directory), "--json").stdout)
        assert not status["nodes"][0]["running"]
        again = causeway("devnet", "stop", "--node", "node1", "--dir", str(directory))
        assert again.returncode == 0 and "node1 is not running" in again.stdout
        started = causeway("devnet", "start", "--dir", str(directory))
        assert started.returncode == 0, started.stderr
        status = json.loads(causeway("devnet", "status", "--dir", str(directory), "--json").stdout)
        assert status["nodes"][0]["answering"]
        for command in ("restart", "stop"):
            unknown = causeway("devnet", command, "--node", "node9", "--dir", str(directory))
            assert unknown.returncode != 0
            assert "no node 'node9'" in unknown.stderr

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


# -- the bugs found by trying it as a new user (issue 12), each with its regression test --------

SHUTDOWN_NOISE = ("Traceback", "CancelledError", "never retrieved", "ERROR")


def _status(directory: Path) -> dict[str, object]:
    completed = causeway("devnet", "status", "--dir", str(directory), "--json")
    assert completed.returncode == 0, completed.stderr
    status: dict[str, object] = json.loads(completed.stdout)
    return status


def test_up_refuses_ports_in_use_before_starting_anything(tmp_path: Path) -> None:
    """A node that cannot bind exits, but the process already on the port answered in its place
    and `up` reported success: now the ports are checked first, and nothing is written."""
    base = free_port_base(4)
    directory = tmp_path / "devnet"
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", base + 1))
        squatter.listen()
        refused = causeway(
            "devnet", "up", "--validators", "1", "--consensus", "solo",
            "--port-base", str(base), "--dir", str(directory),
        )  # fmt: skip
    assert refused.returncode != 0
    assert f"127.0.0.1:{base + 1} (node1's HTTP port)" in refused.stderr
    assert "no node was started" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not directory.exists()


def test_status_does_not_take_another_devnet_for_its_own_node(tmp_path: Path) -> None:
    """A stopped devnet's ports taken by another devnet: status says who answers there instead
    of showing the stranger as its node; and the two chains' ids differ without --chain-id."""
    first, second = tmp_path / "first", tmp_path / "second"
    try:
        base = devnet_up(first, 3, "--validators", "1", "--consensus", "solo")
        causeway("devnet", "down", "--dir", str(first))
        started = causeway(
            "devnet", "up", "--validators", "1", "--consensus", "solo",
            "--port-base", str(base), "--dir", str(second),
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
        (stranger,) = _status(second)["nodes"]  # type: ignore[misc]
        (own,) = _status(first)["nodes"]  # type: ignore[misc]
        assert not own["running"] and not own["answering"]
        # The folder's own node is stopped; asked directly, the address answers for another
        # chain, which status names rather than reporting it as node1.
        first_chain = json.loads((first / "genesis.json").read_text(encoding="utf-8"))["chain_id"]
        second_chain = json.loads((second / "genesis.json").read_text(encoding="utf-8"))["chain_id"]
        assert first_chain != second_chain
        assert first_chain.startswith("causeway-local-")
        assert stranger["chain_id"] == second_chain
        seen = devnet_command._node_status(
            f"127.0.0.1:{base}", chain_id=first_chain, member_id="org1/node1"
        )
        assert not seen["answering"]
        assert f"chain {second_chain!r} answers at 127.0.0.1:{base}" in seen["error"]

        # A transaction signed for the first chain, sent to the second: the refusal names both
        # chains (it used to be a bare signature error when both were "causeway-local").
        sent = causeway(
            "tx", "send",
            "--identity", str(first / "organisations" / "org1" / "members" / "client"),
            "--node", f"127.0.0.1:{base}",
            "--contract", "kv", "--method", "put", "--args", '{"key": "k", "value": "v"}',
        )  # fmt: skip
        assert sent.returncode != 0
        assert f"transaction is for chain {first_chain!r}, this is {second_chain!r}" in (
            sent.stderr
        ), sent.stderr
    finally:
        causeway("devnet", "down", "--dir", str(second))
        causeway("devnet", "down", "--dir", str(first))


def test_up_on_a_stopped_devnet_refuses_start_resumes_and_fresh_replaces(tmp_path: Path) -> None:
    """`up` over a stopped devnet made a new chain over the old data; now it refuses, `start`
    goes on from the blocks the nodes have, and only --fresh makes a new chain. A clean stop
    logs no error."""
    directory = tmp_path / "devnet"
    try:
        base = devnet_up(directory, 3, "--validators", "1", "--consensus", "solo")
        chain_id = json.loads((directory / "genesis.json").read_text(encoding="utf-8"))["chain_id"]
        (node,) = _status(directory)["nodes"]  # type: ignore[misc]
        assert causeway("devnet", "down", "--dir", str(directory)).returncode == 0
        log = (directory / "nodes" / "node1" / "node.log").read_text(encoding="utf-8")
        assert "node stopped" in log
        noise = [line for line in log.splitlines() if any(n in line for n in SHUTDOWN_NOISE)]
        assert not noise, noise[:3]

        refused = causeway(
            "devnet", "up", "--validators", "1", "--consensus", "solo",
            "--port-base", str(base), "--dir", str(directory),
        )  # fmt: skip
        assert refused.returncode != 0
        assert "holds a stopped devnet" in refused.stderr
        assert "causeway devnet start" in refused.stderr
        unchanged = json.loads((directory / "genesis.json").read_text(encoding="utf-8"))
        assert unchanged["chain_id"] == chain_id

        resumed = causeway("devnet", "start", "--dir", str(directory), "--json")
        assert resumed.returncode == 0, resumed.stderr
        (again,) = json.loads(resumed.stdout)["nodes"]
        assert again["answering"] and again["chain_id"] == chain_id
        assert again["height"] >= node["height"]

        causeway("devnet", "down", "--dir", str(directory))
        replaced = causeway(
            "devnet", "up", "--validators", "1", "--consensus", "solo", "--fresh",
            "--port-base", str(base), "--dir", str(directory),
        )  # fmt: skip
        assert replaced.returncode == 0, replaced.stderr
        fresh = json.loads((directory / "genesis.json").read_text(encoding="utf-8"))
        assert fresh["chain_id"] != chain_id
    finally:
        causeway("devnet", "down", "--dir", str(directory))


def _only_node(directory: Path) -> dict[str, Any]:
    nodes = _status(directory)["nodes"]
    assert isinstance(nodes, list) and len(nodes) == 1, nodes
    node: dict[str, Any] = nodes[0]
    return node


def test_secure_api_devnet_answers_its_own_status_over_tls_and_refuses_strangers(
    tmp_path: Path,
) -> None:
    """`up --secure-api`: the nodes speak TLS and require tokens; up, status and restart read
    them with the node's own key; a plaintext or token-less client is refused."""
    directory = tmp_path / "devnet"
    try:
        base = devnet_up(directory, 3, "--validators", "1", "--consensus", "solo", "--secure-api")
        node = _only_node(directory)
        assert node["answering"], node
        address = f"127.0.0.1:{base}"
        ca = str(directory / "nodes" / "node1" / "tls" / "ca-bundle.pem")
        client = str(directory / "organisations" / "org1" / "members" / "client")

        plaintext = causeway("status", "--node", address)
        assert plaintext.returncode != 0
        anonymous = causeway("--tls-ca", ca, "status", "--node", address)
        assert anonymous.returncode != 0
        assert "requires authentication" in anonymous.stderr
        member = causeway("--tls-ca", ca, "--identity", client, "status", "--node", address)
        assert member.returncode == 0, member.stderr

        restarted = causeway("devnet", "restart", "--node", "node1", "--dir", str(directory))
        assert restarted.returncode == 0, restarted.stderr
        again = _only_node(directory)
        assert again["answering"] and again["pid"] != node["pid"]
    finally:
        causeway("devnet", "down", "--dir", str(directory))


def test_secure_api_with_a_manifest_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "chains.toml"
    manifest.write_text("", encoding="utf-8")
    refused = causeway(
        "devnet", "up", "--manifest", str(manifest), "--secure-api",
        "--dir", str(tmp_path / "devnet"),
    )  # fmt: skip
    assert refused.returncode != 0
    assert "--secure-api is for a devnet of one chain" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "devnet").exists()
