"""`causeway node start` refusing to start: one clear line, a non-zero exit, no traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from node_harness import LOOPBACK, NodeFactory, free_ports

pytestmark = pytest.mark.e2e

START_TIMEOUT_S = 60.0


def _start(home: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "causeway.cli", "node", "start", "--home", home],
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    "taken",
    ["grpc", "http"],
)
def test_node_start_with_a_port_taken(make_node: NodeFactory, taken: str) -> None:
    node = make_node("intl", start=False)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind((LOOPBACK, 0))
        holder.listen()
        held_port = holder.getsockname()[1]
        (other_port,) = free_ports(1)
        if taken == "grpc":
            node.network.write_node_config(held_port, other_port)
        else:
            node.network.write_node_config(other_port, held_port)
        completed = _start(str(node.network.node_home))
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output
    assert "Traceback" not in output
    assert "node started" not in output
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, completed.stderr
    assert f"cannot listen on {LOOPBACK}:{held_port}" in errors[0]


def test_node_start_without_a_node_home(tmp_path: Path) -> None:
    completed = _start(str(tmp_path))
    assert completed.returncode == 1
    assert "Traceback" not in completed.stdout + completed.stderr
    assert completed.stderr.strip().splitlines() == [
        f"error: no config.toml in {tmp_path}: is this a node home made by causeway init?"
    ]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "is empty (0 bytes)"),
        (
            b"not lmdb" * 1024,
            "is not an LMDB data file (LMDB: MDB_INVALID: File is not an LMDB file)",
        ),
    ],
    ids=["empty", "foreign"],
)
def test_node_start_refuses_a_data_folder_that_is_not_new(
    make_node: NodeFactory, data: bytes, problem: str
) -> None:
    """A store folder holding a data file but no chain, and no marker: no genesis goes into it."""
    node = make_node("intl", start=False)
    data_file = node.data_path / "data.mdb"
    node.data_path.mkdir(parents=True)
    data_file.write_bytes(data)
    completed = _start(str(node.network.node_home))
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output
    assert "Traceback" not in output
    assert "chain initialised from genesis" not in output
    marker = node.network.node_home / "data" / "chain-initialised.json"
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: the store {data_file} {problem}; the folder is not new and has no marker "
        f"{marker}: refusing to write a genesis into it"
    ]
    assert data_file.read_bytes() == data
    assert not marker.exists()
