"""`causeway node snapshot|backup|archive` at the command line: what they refuse, with one line
and exit status 1, before anything is written (their work is tested in
tests/node/test_node_snapshots.py and tests/e2e/test_e2e_snapshots.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from causeway.cli.main import app
from causeway.crypto import get_profile
from causeway.node import load_genesis, load_node_config, open_node_store
from causeway.provisioning import init_network, node_directory
from causeway.storage import store_folder

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    description = init_network(tmp_path / "net", 1, "intl", "solo")
    return node_directory(tmp_path / "net", description.nodes[0].name)


def run(*arguments: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["node", *arguments])
    return result.exit_code, result.stdout, result.stderr


def test_a_trusted_hash_that_is_not_one_is_refused(home: Path, tmp_path: Path) -> None:
    snapshot = tmp_path / "some.snapshot"
    snapshot.write_bytes(b"")
    code, _, stderr = run(
        "snapshot", "restore", "--home", str(home), "--from", str(snapshot), "--trusted-hash", "zz"
    )
    assert code == 1 and "expected 64 hexadecimal digits" in stderr, stderr
    assert not store_folder(home / "data").exists()


def test_a_file_that_is_not_a_snapshot_is_refused_and_nothing_is_written(
    home: Path, tmp_path: Path
) -> None:
    snapshot = tmp_path / "some.snapshot"
    snapshot.write_bytes(b"CAUSEWAY-SNAPSHOT")
    code, _, stderr = run("snapshot", "restore", "--home", str(home), "--from", str(snapshot))
    assert code == 1 and "not a Causeway snapshot" in stderr, stderr
    assert not store_folder(home / "data").exists()
    code, _, stderr = run(
        "snapshot", "restore", "--home", str(home), "--from", str(tmp_path / "missing")
    )
    assert code == 1 and "cannot read the snapshot" in stderr, stderr


def test_a_node_never_started_has_nothing_to_copy(home: Path, tmp_path: Path) -> None:
    for arguments in (
        ("snapshot", "create", "--home", str(home)),
        ("backup", "--home", str(home), "--out", str(tmp_path / "backup")),
        ("archive", "--home", str(home), "--below", "5", "--to", str(tmp_path / "archive")),
    ):
        code, _, stderr = run(*arguments)
        assert code == 1 and "has the node been started?" in stderr, (arguments, stderr)


def test_a_store_at_genesis_has_no_snapshot_and_nothing_to_archive(
    home: Path, tmp_path: Path
) -> None:
    config = load_node_config(home)
    genesis = load_genesis(config.genesis_file)
    with open_node_store(config, genesis, get_profile(genesis.crypto_profile)):
        pass
    code, _, stderr = run("snapshot", "create", "--home", str(home))
    assert code == 1 and "no snapshot at height 0" in stderr, stderr
    code, _, stderr = run(
        "archive", "--home", str(home), "--below", "2", "--to", str(tmp_path / "archive")
    )
    assert code == 1 and "the latest height is 0" in stderr, stderr
    # A backup of a store at genesis is a store at genesis.
    code, stdout, stderr = run(
        "backup", "--home", str(home), "--out", str(tmp_path / "backup"), "--json"
    )
    assert code == 0, stderr
    assert json.loads(stdout) == {"folder": str(tmp_path / "backup"), "height": 0}
    code, _, stderr = run("backup", "--home", str(home), "--out", str(tmp_path / "backup"))
    assert code == 1 and "already holds a store" in stderr, stderr


def test_a_home_without_config_is_refused(tmp_path: Path) -> None:
    code, _, stderr = run("snapshot", "create", "--home", str(tmp_path))
    assert code == 1 and "no config.toml" in stderr, stderr
