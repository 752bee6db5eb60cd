"""`causeway devnet` with a manifest, without starting any process: refusals, and status, restart
and down of a devnet whose nodes are not running."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from causeway.cli.main import app
from causeway.provisioning import devnet
from causeway.provisioning.devnet import DevnetNode, save_devnet
from causeway.provisioning.interchain_devnet import (
    DevnetDescription,
    load_devnet_description,
    provision_devnet,
)
from causeway.provisioning.manifest import load_manifest

runner = CliRunner()

TWO_CHAINS = """\
port_base = 9300

[[chains]]
id = "hub"
hub = true
consensus = "solo"

[[chains]]
id = "side"
consensus = "solo"
crypto = "gm"

[[links]]
chains = ["hub", "side"]

[[relayers]]
name = "carrier"
links = [["hub", "side"]]
"""


def one_error_line(arguments: list[str], code: int = 1) -> str:
    result = runner.invoke(app, arguments)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def stopped_devnet(tmp_path: Path) -> tuple[Path, DevnetDescription]:
    """A devnet from TWO_CHAINS, provisioned, whose nodes are recorded as stopped."""
    path = tmp_path / "two.toml"
    path.write_text(TWO_CHAINS, encoding="utf-8")
    directory = tmp_path / "devnet"
    description = provision_devnet(load_manifest(path), TWO_CHAINS, directory, now_ms=1)
    save_devnet(
        directory,
        [
            DevnetNode(
                name=node.name,
                home=node.home,
                pid=0,
                grpc_address=node.grpc_address,
                http_address=node.http_address,
                chain=chain.id,
            )
            for chain in description.chains
            for node in chain.nodes
        ],
    )
    return directory, description


def test_a_bad_manifest_is_one_line_naming_file_table_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[chains]]\nid = "a"\nconsensus = "pbft"\n', encoding="utf-8")
    directory = tmp_path / "devnet"
    line = one_error_line(["devnet", "up", "--manifest", str(path), "--dir", str(directory)])
    assert f"{path}: [[chains]] entry 1 ('a'), key 'consensus': must be one of" in line
    assert not directory.exists()


def test_a_missing_manifest_is_one_line(tmp_path: Path) -> None:
    line = one_error_line(["devnet", "up", "--manifest", str(tmp_path / "none.toml")])
    assert "cannot read the manifest" in line


@pytest.mark.parametrize(
    "option", [["--validators", "3"], ["--consensus", "raft"], ["--crypto", "gm"], ["--orgs", "2"]]
)
def test_single_chain_options_with_a_manifest_are_a_usage_mistake(
    tmp_path: Path, option: list[str]
) -> None:
    path = tmp_path / "two.toml"
    path.write_text(TWO_CHAINS, encoding="utf-8")
    directory = tmp_path / "devnet"
    line = one_error_line(
        ["devnet", "up", "--manifest", str(path), *option, "--dir", str(directory)], code=2
    )
    assert f"{option[0]} describe one chain; with --manifest, the manifest describes" in line
    assert not directory.exists()


def test_status_json_shows_every_chain_and_link(
    stopped_devnet: tuple[Path, DevnetDescription],
) -> None:
    directory, description = stopped_devnet
    result = runner.invoke(app, ["devnet", "status", "--dir", str(directory), "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["hub"] == "hub"
    assert status["manifest_file"] == description.manifest_file
    assert [
        (chain["id"], chain["crypto_profile"], chain["height"], chain["nodes_answering"])
        for chain in status["chains"]
    ] == [("hub", "intl", None, 0), ("side", "gm", None, 0)]
    assert [chain["port_base"] for chain in status["chains"]] == [9300, 9303]
    # Not connected yet (no clients) and nothing running: nothing read from the chains.
    unknown = {"client": "", "latest_height": None, "status": None, "pending_packets": None}
    assert status["links"] == [
        {
            "chains": ["hub", "side"],
            "relayers": ["carrier"],
            "ends": [{"chain": "hub", **unknown}, {"chain": "side", **unknown}],
        }
    ]
    assert status["relayers"] == [
        {
            "name": "carrier",
            "links": [["hub", "side"]],
            "running": False,
            "pid": None,
            "metrics_address": None,
        }
    ]
    assert [(node["chain"], node["name"], node["running"]) for node in status["nodes"]] == [
        ("hub", "node1", False),
        ("side", "node1", False),
    ]


def test_status_tables_show_chains_nodes_and_links(
    stopped_devnet: tuple[Path, DevnetDescription],
) -> None:
    directory, _ = stopped_devnet
    result = runner.invoke(app, ["devnet", "status", "--dir", str(directory)])
    assert result.exit_code == 0, result.output
    assert "Chains of the devnet in" in result.stdout
    assert "hub (hub)" in result.stdout
    assert "0/1" in result.stdout
    assert "hub <-> side" in result.stdout
    assert "carrier" in result.stdout
    assert "not running" in result.stdout
    assert "not answering" in result.stdout


def test_restart_needs_the_chain_when_node_names_repeat(
    stopped_devnet: tuple[Path, DevnetDescription],
) -> None:
    directory, _ = stopped_devnet
    line = one_error_line(["devnet", "restart", "--node", "node1", "--dir", str(directory)])
    assert "'node1' is a node of several chains; name one of hub/node1, side/node1" in line
    line = one_error_line(["devnet", "restart", "--node", "side/node9", "--dir", str(directory)])
    assert "no node 'side/node9' in the devnet (nodes: hub/node1, side/node1)" in line


def test_restart_names_one_node_or_one_relayer(
    stopped_devnet: tuple[Path, DevnetDescription],
) -> None:
    directory, _ = stopped_devnet
    neither = runner.invoke(app, ["devnet", "restart", "--dir", str(directory)])
    assert neither.exit_code == 2
    assert "name one node (--node) or one relayer (--relayer)" in neither.output
    both = runner.invoke(
        app,
        [
            "devnet",
            "restart",
            "--node",
            "hub/node1",
            "--relayer",
            "carrier",
            "--dir",
            str(directory),
        ],
    )
    assert both.exit_code == 2
    # No relayer was ever started in this devnet: none is recorded.
    line = one_error_line(["devnet", "restart", "--relayer", "carrier", "--dir", str(directory)])
    assert "no relayer 'carrier' in the devnet (relayers: none)" in line


def test_down_names_each_node_with_its_chain(
    stopped_devnet: tuple[Path, DevnetDescription],
) -> None:
    directory, _ = stopped_devnet
    result = runner.invoke(app, ["devnet", "down", "--dir", str(directory)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["hub/node1 stopped", "side/node1 stopped"]


def test_a_devnet_of_one_chain_replaces_a_manifest_devnet(
    stopped_devnet: tuple[Path, DevnetDescription], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`devnet up --fresh` without a manifest clears the manifest's chains first, so that status
    does not go on showing them (the nodes are not started: start_node_process is replaced);
    without --fresh it refuses, and nothing is deleted."""
    directory, _ = stopped_devnet
    started: list[Path] = []

    def fake_start(home: Path) -> int:
        started.append(home)
        raise RuntimeError("not starting processes in this test")

    monkeypatch.setattr(devnet, "start_node_process", fake_start)
    single_chain = ["devnet", "up", "--validators", "1", "--consensus", "solo"]
    refused = runner.invoke(app, [*single_chain, "--dir", str(directory)])
    assert refused.exit_code == 1, refused.output
    assert "holds a stopped devnet" in refused.stderr
    assert (directory / "network.json").exists() and (directory / "chains").exists()
    assert started == []
    result = runner.invoke(app, [*single_chain, "--fresh", "--dir", str(directory)])
    assert result.exit_code == 1, result.output
    assert "not starting processes in this test" in result.stderr
    assert started == [directory / "nodes" / "node1"]
    assert not (directory / "chains").exists()
    assert not (directory / "network.json").exists()
    assert not (directory / "manifest.toml").exists()


def test_port_base_moves_the_chains_of_a_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--port-base` beside `--manifest` replaces the manifest's port_base (the nodes are not
    started: start_node_process is replaced)."""
    path = tmp_path / "two.toml"
    path.write_text(TWO_CHAINS, encoding="utf-8")
    directory = tmp_path / "devnet"

    def fake_start(home: Path) -> int:
        raise RuntimeError(f"not starting {home}")

    monkeypatch.setattr(devnet, "start_node_process", fake_start)
    result = runner.invoke(
        app,
        ["devnet", "up", "--manifest", str(path), "--port-base", "24000", "--dir", str(directory)],
    )
    assert result.exit_code == 1, result.output
    assert "not starting" in result.stderr
    description = load_devnet_description(directory)
    assert [chain.port_base for chain in description.chains] == [24000, 24003]
    assert description.chains[1].nodes[0].grpc_address == "127.0.0.1:24003"
    # The copy is the manifest as written; network.json says where the chains really listen.
    assert (directory / "manifest.toml").read_text(encoding="utf-8") == TWO_CHAINS
