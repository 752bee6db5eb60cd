"""`causeway node join`: a node folder for a running chain, refused whole on any bad input."""

from __future__ import annotations

import json
import stat
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from causeway.cli.main import app
from causeway.errors import ConfigurationError
from causeway.net import PeerAddress, TlsIdentity
from causeway.node import load_genesis, load_node_config
from causeway.provisioning import init_network, node_directory
from causeway.provisioning.join import join_node, parse_peer

runner = CliRunner()


@pytest.fixture
def network(tmp_path: Path) -> Path:
    """A two-organisation tbft network; node2's folder stands in for the joining identity."""
    init_network(tmp_path / "net", 2, "intl", "tbft", validators=2)
    return tmp_path / "net"


def join(
    network: Path, home: Path, *extra: str, peer: str = "org1/node1@127.0.0.1:7150"
) -> tuple[int, str]:
    result = runner.invoke(
        app,
        [
            "node",
            "join",
            "--home",
            str(home),
            "--genesis",
            str(network / "genesis.json"),
            "--identity",
            str(node_directory(network, "node2")),
            "--tls-ca-bundle",
            str(node_directory(network, "node1") / "tls" / "ca-bundle.pem"),
            "--peer",
            peer,
            "--listen-address",
            "127.0.0.1:7160",
            *extra,
        ],
    )
    return result.exit_code, result.stdout + result.stderr


def test_join_writes_a_node_folder_that_loads(network: Path, tmp_path: Path) -> None:
    home = tmp_path / "joined"
    code, output = join(network, home, "--json")
    assert code == 0, output
    assert json.loads(output) == {
        "home": str(home),
        "name": "node2",
        "member_id": "org2/node2",
        "chain_id": load_genesis(network / "genesis.json").chain_id,
        "peers": ["org1/node1@127.0.0.1:7150"],
    }
    config = load_node_config(home)
    assert (config.name, config.member_id) == ("node2", "org2/node2")
    assert config.peers.listen_address == "127.0.0.1:7160"
    assert config.peers.peers == (PeerAddress("node1", "org1/node1", "127.0.0.1:7150"),)
    assert (home / "genesis.json").read_bytes() == (network / "genesis.json").read_bytes()
    tls = TlsIdentity.load(
        config.peers.tls_key_file,
        config.peers.tls_certificate_file,
        config.peers.tls_ca_bundle_file,
    )
    assert sorted(tls.authorities) == ["org1", "org2"]
    # Each CA once, though both bundles hold both.
    assert sum(len(certificates) for certificates in tls.authorities.values()) == 2
    for private in (home / "key.pem", home / "tls" / "node.key"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert not list(tmp_path.glob(".*joining"))


@pytest.mark.parametrize(
    ("peer", "message"),
    [
        ("org1/node1", "is not '[NAME=]MEMBER_ID@HOST:PORT'"),
        ("org1/node1@nohost", "must be 'host:port'"),
        ("org1/node1@127.0.0.1:99999", "must be 'host:port'"),
        ("node1@127.0.0.1:7150", "must be '<organisation>/<name>'"),
        ("org9/node9@127.0.0.1:7150", "no CA certificate of organisation 'org9'"),
        ("org2/node2@127.0.0.1:7150", "cannot be its own bootstrap peer"),
    ],
)
def test_bad_peers_are_refused_and_nothing_is_written(
    network: Path, tmp_path: Path, peer: str, message: str
) -> None:
    home = tmp_path / "joined"
    code, output = join(network, home, peer=peer)
    assert code != 0
    assert message in " ".join(output.split()), output
    assert not home.exists()


def test_a_non_empty_home_is_refused(network: Path, tmp_path: Path) -> None:
    home = tmp_path / "joined"
    home.mkdir()
    (home / "keep.txt").write_text("data", encoding="utf-8")
    code, output = join(network, home)
    assert code != 0 and "is not empty" in output
    assert [path.name for path in home.iterdir()] == ["keep.txt"]


def test_an_identity_of_another_chain_is_refused(network: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    init_network(other, 2, "intl", "tbft", validators=2, chain_id="another-chain")
    with pytest.raises(ConfigurationError, match="of chain 'another-chain'"):
        join_node(
            tmp_path / "joined",
            genesis_file=network / "genesis.json",
            identity=node_directory(other, "node2"),
            peers=[parse_peer("org1/node1@127.0.0.1:7150")],
        )
    assert not (tmp_path / "joined").exists()


def test_missing_identity_files_and_peers_are_named(network: Path, tmp_path: Path) -> None:
    identity = tmp_path / "identity"
    identity.mkdir()
    with pytest.raises(ConfigurationError, match="member file"):
        join_node(
            tmp_path / "joined",
            genesis_file=network / "genesis.json",
            identity=identity,
            peers=[parse_peer("org1/node1@127.0.0.1:7150")],
        )
    with pytest.raises(ConfigurationError, match="at least one bootstrap peer"):
        join_node(
            tmp_path / "joined",
            genesis_file=network / "genesis.json",
            identity=node_directory(network, "node2"),
            peers=[],
        )
    with pytest.raises(ConfigurationError, match="genesis"):
        join_node(
            tmp_path / "joined",
            genesis_file=tmp_path / "missing.json",
            identity=node_directory(network, "node2"),
            peers=[parse_peer("org1/node1@127.0.0.1:7150")],
        )
    assert not (tmp_path / "joined").exists()


def test_a_peer_may_name_its_node() -> None:
    assert parse_peer("gateway=org1/node1@node1.example.org:7150") == PeerAddress(
        "gateway", "org1/node1", "node1.example.org:7150"
    )


def test_the_snapshot_hook_sees_the_prepared_folder_and_can_refuse(
    network: Path, tmp_path: Path
) -> None:
    seen: list[tuple[bool, tuple[PeerAddress, ...]]] = []
    peers = [parse_peer("org1/node1@127.0.0.1:7150")]

    def restore(home: Path, bootstrap: Sequence[PeerAddress]) -> None:
        seen.append(((home / "config.toml").is_file(), tuple(bootstrap)))

    joined = join_node(
        tmp_path / "joined",
        genesis_file=network / "genesis.json",
        identity=node_directory(network, "node2"),
        peers=peers,
        restore_snapshot=restore,
    )
    assert seen == [(True, tuple(peers))]
    assert (joined.home / "config.toml").is_file()

    def refuse(home: Path, bootstrap: Sequence[PeerAddress]) -> None:
        raise ConfigurationError("no snapshot verifies against the header")

    with pytest.raises(ConfigurationError, match="no snapshot verifies"):
        join_node(
            tmp_path / "refused",
            genesis_file=network / "genesis.json",
            identity=node_directory(network, "node2"),
            peers=peers,
            restore_snapshot=refuse,
        )
    assert not (tmp_path / "refused").exists()
    assert not list(tmp_path.glob(".*joining"))


@pytest.mark.parametrize("encrypted", [False, True])
def test_an_org_init_node_identity_joins(
    network: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encrypted: bool
) -> None:
    """`causeway org init`'s node folder (no chain named yet, its TLS CA in public/, its key
    perhaps encrypted) is a joining identity as it is."""
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("correct horse battery staple\n", encoding="utf-8")
    monkeypatch.delenv("CAUSEWAY_KEY_PASSPHRASE", raising=False)
    monkeypatch.delenv("CAUSEWAY_KEY_PASSPHRASE_FILE", raising=False)
    created = runner.invoke(
        app,
        [
            "org",
            "init",
            "zed",
            "--dir",
            str(tmp_path / "zed"),
            "--crypto",
            "intl",
            "--nodes",
            "1",
            "--node-address",
            "zed-node1=127.0.0.1:7190",
            *(["--passphrase-file", str(passphrase)] if encrypted else []),
        ],
    )
    assert created.exit_code == 0, created.output
    (node,) = (tmp_path / "zed" / "members").glob("*node*")
    home = tmp_path / "joined"
    result = runner.invoke(
        app,
        [
            "node",
            "join",
            "--home",
            str(home),
            "--genesis",
            str(network / "genesis.json"),
            "--identity",
            str(node),
            "--tls-ca-bundle",
            str(tmp_path / "zed" / "public" / "tls-ca.crt"),
            "--tls-ca-bundle",
            str(node_directory(network, "node1") / "tls" / "ca-bundle.pem"),
            "--peer",
            "org1/node1@127.0.0.1:7150",
        ],
    )
    assert result.exit_code == 0, result.output
    config = load_node_config(home)
    assert config.member_id == f"zed/{node.name}"
    assert sorted(
        TlsIdentity.load(
            config.peers.tls_key_file,
            config.peers.tls_certificate_file,
            config.peers.tls_ca_bundle_file,
        ).authorities
    ) == ["org1", "org2", "zed"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--trusted-hash", "ab" * 32], "needs --snapshot-from"),
        (["--snapshot-from", "127.0.0.1:1", "--trusted-hash", "zz"], "not hexadecimal"),
        (["--snapshot-from", "127.0.0.1:1", "--trusted-hash", "ab"], "a block hash is 32 bytes"),
    ],
)
def test_bad_snapshot_options_are_refused_and_nothing_is_written(
    network: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    home = tmp_path / "joined"
    code, output = join(network, home, *extra)
    assert code == 2
    assert message in " ".join(output.split()), output
    assert not home.exists()


def test_a_snapshot_source_that_does_not_answer_leaves_nothing(
    network: Path, tmp_path: Path
) -> None:
    """--snapshot-from a node that is not there: the join is refused whole, no folder left."""
    home = tmp_path / "joined"
    code, output = join(network, home, "--snapshot-from", "127.0.0.1:1")
    assert code != 0
    assert "cannot fetch a snapshot from 127.0.0.1:1" in " ".join(output.split()), output
    assert not home.exists()
