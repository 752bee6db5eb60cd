"""`causeway init` end to end through the command line."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from causeway.cli.main import app
from causeway.crypto import get_profile, verify_member_certificate
from causeway.provisioning import genesis_from_json
from causeway.types import genesis_hash

runner = CliRunner()


@pytest.mark.parametrize(
    ("crypto", "algorithm", "certificate"),
    [
        ("intl", None, "member.crt"),
        ("intl", "ed25519", "member.crt"),
        ("gm", None, "member.crt"),
    ],
)
def test_init_writes_a_working_network(
    tmp_path: Path, crypto: str, algorithm: str | None, certificate: str
) -> None:
    directory = tmp_path / "net"
    arguments = ["init", str(directory), "--orgs", "2", "--crypto", crypto, "--chain-id", "city"]
    if algorithm is not None:
        arguments += ["--algorithm", algorithm]
    result = runner.invoke(app, [*arguments, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    genesis = genesis_from_json((directory / "genesis.json").read_text())
    assert summary["chain_id"] == genesis.chain_id == "city"
    assert summary["crypto_profile"] == crypto
    assert summary["genesis_hash"] == genesis_hash(genesis, get_profile(crypto).hash).hex()
    assert [node["name"] for node in summary["nodes"]] == ["node1"]
    assert summary["nodes"][0]["grpc_address"] == "127.0.0.1:7050"
    assert len(summary["members"]) == 5
    organisations = {organisation.id: organisation for organisation in genesis.organisations}
    for member in genesis.members:
        verify_member_certificate(
            genesis.chain_id, organisations[member.organisation], member, genesis.genesis_time_ms
        )
        folder = Path(
            next(m["directory"] for m in summary["members"] if m["member_id"] == member.id)
        )
        assert (folder / certificate).is_file()
        assert stat.S_IMODE((folder / "key.pem").stat().st_mode) == 0o600
    home = directory / "nodes/node1"
    for name in ("config.toml", "genesis.json", "key.pem", "member.json"):
        assert (home / name).is_file()


def test_init_prints_a_summary_and_the_next_step(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", str(tmp_path / "net")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "genesis hash" in result.stdout
    assert "org1/admin" in result.stdout
    assert f"causeway node start --home {tmp_path / 'net' / 'nodes' / 'node1'}" in result.stdout


def test_init_refuses_then_forces(tmp_path: Path) -> None:
    directory = tmp_path / "net"
    assert runner.invoke(app, ["init", str(directory)]).exit_code == 0
    first = (directory / "genesis.json").read_text()
    refused = runner.invoke(app, ["init", str(directory)])
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: ")
    assert "--force" in refused.stderr
    assert (directory / "genesis.json").read_text() == first
    forced = runner.invoke(app, ["init", str(directory), "--force", "--crypto", "gm"])
    assert forced.exit_code == 0, forced.output
    assert genesis_from_json((directory / "genesis.json").read_text()).crypto_profile == "gm"


def test_init_takes_a_port_base(tmp_path: Path) -> None:
    directory = tmp_path / "net"
    result = runner.invoke(app, ["init", str(directory), "--port-base", "20100", "--json"])
    assert result.exit_code == 0, result.output
    (node,) = json.loads(result.stdout)["nodes"]
    assert (node["grpc_address"], node["http_address"], node["peer_address"]) == (
        "127.0.0.1:20100",
        "127.0.0.1:20101",
        "127.0.0.1:20102",
    )
    config = (directory / "nodes/node1/config.toml").read_text()
    assert 'grpc_address = "127.0.0.1:20100"' in config
    assert 'listen_address = "127.0.0.1:20102"' in config


def test_init_refuses_a_port_base_without_room(tmp_path: Path) -> None:
    directory = tmp_path / "net"
    refused = runner.invoke(app, ["init", str(directory), "--port-base", "65534"])
    assert refused.exit_code == 1
    assert refused.stderr == (
        "error: port base 65534 must be between 1024 and 65533: 1 node(s) listen on 3 "
        "consecutive ports each, up to port 65535\n"
    )
    assert not directory.exists()


@pytest.mark.parametrize(("consensus", "validators"), [("tbft", 4), ("raft", 3)])
def test_init_makes_a_network_of_several_validators(
    tmp_path: Path, consensus: str, validators: int
) -> None:
    """init made only solo networks of one node, though the docs said otherwise (issue 12)."""
    directory = tmp_path / "net"
    result = runner.invoke(
        app,
        [
            "init", str(directory), "--orgs", "2", "--consensus", consensus,
            "--validators", str(validators), "--port-base", "20200", "--json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    genesis = genesis_from_json((directory / "genesis.json").read_text())
    assert genesis.consensus == consensus
    members = [validator.member_id for validator in genesis.validators.validators]
    assert members == [f"org{(i - 1) % 2 + 1}/node{i}" for i in range(1, validators + 1)]
    for index in range(1, validators + 1):
        config = (directory / f"nodes/node{index}/config.toml").read_text()
        # Every node lists every other one as a peer, and none lists itself.
        assert config.count("[[peers.peer]]") == validators - 1
        assert (
            f'member_id = "org{(index - 1) % 2 + 1}/node{index}"\n'
            not in config.split("[[peers.peer]]", 1)[1]
        )


def test_init_refuses_several_validators_for_solo(tmp_path: Path) -> None:
    directory = tmp_path / "net"
    refused = runner.invoke(app, ["init", str(directory), "--validators", "2"])
    assert refused.exit_code == 1
    assert "solo" in refused.stderr
    assert not directory.exists()
