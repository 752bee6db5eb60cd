"""`causeway node verify`: the full integrity scan of a node's store, as a report and an exit
status."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from causeway.cli.main import app
from causeway.crypto import get_profile
from causeway.node import load_genesis, load_node_config, open_node_store
from causeway.provisioning import init_network, node_directory
from causeway.storage import DATA_FILE_NAME, marker_file, schema

runner = CliRunner()
PAGE_BYTES = 4096
META_MAIN_ROOT_OFFSET = 128  # see tests/storage/_chain.py for the LMDB meta page layout
DATABASES = len(schema.ALL_DATABASES)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    description = init_network(tmp_path / "net", 1, "intl", "solo")
    return node_directory(tmp_path / "net", description.nodes[0].name)


def started_once(home: Path) -> Path:
    """Opens the node's store as a start would (genesis, marker); returns its data file."""
    config = load_node_config(home)
    genesis = load_genesis(config.genesis_file)
    with open_node_store(config, genesis, get_profile(genesis.crypto_profile)):
        pass
    return config.data_dir / "chain" / DATA_FILE_NAME


def run_verify(home: Path, *extra: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["node", "verify", "--home", str(home), *extra])
    return result.exit_code, result.stdout, result.stderr


def test_a_sound_store(home: Path) -> None:
    data_file = started_once(home)
    code, stdout, stderr = run_verify(home)
    assert (code, stderr) == (0, ""), stdout
    assert "Store verification" in stdout
    assert str(data_file) in stdout
    assert stdout.rstrip().endswith("the store is sound")
    code, stdout, _ = run_verify(home, "--json")
    assert code == 0
    report = json.loads(stdout)
    assert report["ok"] is True
    assert report["store"] == str(data_file)
    assert report["marker"] == str(marker_file(home / "data"))
    assert (report["latest_height"], report["problem_count"], report["problems"]) == (0, 0, [])
    assert report["records_checked"] > report["state_entries_checked"] > 0


def test_a_store_that_lost_its_databases(home: Path) -> None:
    data_file = started_once(home)
    data = bytearray(data_file.read_bytes())
    for page in (0, 1):
        struct.pack_into("<Q", data, page * PAGE_BYTES + META_MAIN_ROOT_OFFSET, 2**64 - 1)
    data_file.write_bytes(bytes(data))
    problem = (
        f"the store {data_file} has lost its databases: {DATABASES} of {DATABASES} are missing, "
        "causeway/v2/meta first"
    )
    code, stdout, _ = run_verify(home)
    assert code == 1
    assert f"problem: {problem}" in stdout.splitlines()
    assert stdout.rstrip().endswith("1 problem(s) found")
    code, stdout, _ = run_verify(home, "--json")
    assert code == 1
    report = json.loads(stdout)
    assert (report["ok"], report["problems"], report["problem_count"]) == (False, [problem], 1)
    assert data_file.read_bytes() == bytes(data)  # verify wrote nothing


@pytest.mark.parametrize(
    ("arguments", "code", "line"),
    [
        (["node", "verify"], 2, "error: Missing option '--home'"),
        (["node", "verify", "--home", "{tmp}"], 1, "error: no config.toml in {tmp}"),
    ],
)
def test_bad_arguments(tmp_path: Path, arguments: list[str], code: int, line: str) -> None:
    result = runner.invoke(app, [argument.format(tmp=tmp_path) for argument in arguments])
    assert result.exit_code == code
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(line.format(tmp=tmp_path))
