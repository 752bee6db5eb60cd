"""Two networks from `causeway init --port-base` run side by side on one host (issue 7, point 11).

Each network is written by the real command, its node started as its own process, and a
transaction sent to each: both commit, each on its own chain, and neither node sees the other's.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
from devnet_harness import PORT_TAKEN_MARKS, free_port_base

from causeway.contracts.v1 import contracts_pb2
from causeway.errors import CausewayError, NotFoundError
from causeway.provisioning import PORTS_PER_NODE, member_directory, node_directory
from causeway.sdk import Client, Identity
from causeway.types.v1 import types_pb2

pytestmark = pytest.mark.e2e

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
CLI_TIMEOUT_S = 120.0
POLL_INTERVAL_S = 0.1
START_ATTEMPTS_MAX = 3


def causeway(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "causeway.cli", *arguments],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


@dataclass
class RunningNode:
    directory: Path
    chain_id: str
    port_base: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.port_base}"

    @property
    def log_path(self) -> Path:
        return self.directory / "node.log"

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)
        self.log.close()


def _start(directory: Path, chain_id: str, port_base: int) -> RunningNode:
    created = causeway(
        "init", str(directory), "--chain-id", chain_id, "--port-base", str(port_base), "--force"
    )
    assert created.returncode == 0, created.stderr
    log = (directory / "node.log").open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "causeway.cli",
            "node",
            "start",
            "--home",
            str(node_directory(directory, "node1")),
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return RunningNode(directory, chain_id, port_base, process, log)


def _wait_answering(node: RunningNode) -> bool:
    """True once the node answers GetStatus; False when it exited (e.g. a port was taken)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            return False
        with Client(node.grpc_address, timeout_s=2.0) as client, contextlib.suppress(CausewayError):
            client.status()
            return True
        time.sleep(POLL_INTERVAL_S)
    raise AssertionError(f"{node.directory} did not answer within {START_TIMEOUT_S:g} s")


@contextlib.contextmanager
def two_networks(tmp_path: Path) -> Iterator[tuple[RunningNode, RunningNode]]:
    """Two solo networks on adjacent port blocks; retried on new ports if one was taken."""
    for attempt in range(START_ATTEMPTS_MAX):
        base = free_port_base(2 * PORTS_PER_NODE)
        nodes = [
            _start(tmp_path / "east", "east-chain", base),
            _start(tmp_path / "west", "west-chain", base + PORTS_PER_NODE),
        ]
        try:
            answering = [_wait_answering(node) for node in nodes]
            if all(answering):
                yield nodes[0], nodes[1]
                return
            logs = " ".join(node.log_text().lower() for node in nodes)
            port_taken = any(mark in logs for mark in PORT_TAKEN_MARKS)
            if not port_taken or attempt == START_ATTEMPTS_MAX - 1:
                raise AssertionError(
                    "a node exited while starting:\n" + "\n".join(node.log_text() for node in nodes)
                )
        finally:
            for node in nodes:
                node.stop()
    raise AssertionError("unreachable")


def test_two_networks_from_init_run_side_by_side(tmp_path: Path) -> None:
    with two_networks(tmp_path) as (east, west):
        transaction_ids = {}
        for node in (east, west):
            identity = Identity.load(member_directory(node.directory, "org1/client"))
            with Client(node.grpc_address, identity, timeout_s=30.0) as client:
                status = client.status()
                assert status.chain_id == node.chain_id
                put = contracts_pb2.KvPutArguments(key=b"colour", value=node.chain_id.encode())
                result = client.invoke("kv", "put", put)
                assert result.committed, f"the transaction to {node.chain_id} did not commit"
                assert result.result is not None
                assert result.result.status == types_pb2.RESULT_STATUS_OK
                transaction_ids[node.chain_id] = result.transaction_id
        for node, other in ((east, west), (west, east)):
            with Client(node.grpc_address, timeout_s=30.0) as client:
                found = client.get_transaction(transaction_ids[node.chain_id])
                assert found.header.chain_id == node.chain_id
                with pytest.raises(NotFoundError):
                    client.get_transaction(transaction_ids[other.chain_id])
