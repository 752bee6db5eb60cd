"""causeway.provisioning: what `causeway init` builds and writes."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import stat
import time
import tomllib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from causeway.crypto import PrivateKey, get_profile, verify_member_certificate
from causeway.errors import CertificateError, ConfigurationError
from causeway.provisioning import (
    PORT_BASE_MIN,
    NetworkDescription,
    build_network,
    check_port_base,
    default_chain_config,
    genesis_from_json,
    init_network,
    issue_node_tls_certificate,
    member_directory,
    node_directory,
    node_settings,
    port_base_max,
    render_node_config,
)
from causeway.provisioning.description import node_organisation_index
from causeway.types import decode, encode, genesis_hash
from causeway.types.v1 import types_pb2

NOW_MS = 1_790_000_000_000


def _expected_files(organisations: int, crypto: str) -> set[str]:
    files = {"genesis.json"}
    for index in range(1, organisations + 1):
        organisation = f"organisations/org{index}"
        files.add(f"{organisation}/ca/key.pem")
        files.add(f"{organisation}/ca/ca.crt")
        names = ["admin", "client"] + (["node1"] if index == 1 else [])
        for name in names:
            for file_name in ("key.pem", "member.json", "member.crt"):
                files.add(f"{organisation}/members/{name}/{file_name}")
        if crypto == "gm":
            files.add(f"{organisation}/tls-ca/key.pem")
            files.add(f"{organisation}/tls-ca/ca.crt")
    for file_name in (
        "config.toml",
        "genesis.json",
        "key.pem",
        "member.json",
        "tls/node.key",
        "tls/node.crt",
        "tls/ca-bundle.pem",
    ):
        files.add(f"nodes/node1/{file_name}")
    return files


def _files(directory: Path) -> set[str]:
    return {str(path.relative_to(directory)) for path in directory.rglob("*") if path.is_file()}


@pytest.fixture(scope="module")
def intl_network(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, NetworkDescription]:
    directory = tmp_path_factory.mktemp("intl") / "net"
    network = init_network(directory, 2, "intl", "solo", chain_id="test-chain", now_ms=NOW_MS)
    return directory, network


@pytest.fixture(scope="module")
def gm_network(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, NetworkDescription]:
    directory = tmp_path_factory.mktemp("gm") / "net"
    network = init_network(directory, 2, "gm", "solo", chain_id="gm-chain", now_ms=NOW_MS)
    return directory, network


@pytest.fixture(params=["intl", "gm"])
def network(
    request: pytest.FixtureRequest,
    intl_network: tuple[Path, NetworkDescription],
    gm_network: tuple[Path, NetworkDescription],
) -> tuple[Path, NetworkDescription]:
    return intl_network if request.param == "intl" else gm_network


def test_init_writes_every_file(network: tuple[Path, NetworkDescription]) -> None:
    directory, description = network
    assert _files(directory) == _expected_files(2, description.crypto_profile)


def test_genesis_decodes_and_matches_the_description(
    network: tuple[Path, NetworkDescription],
) -> None:
    directory, description = network
    genesis = genesis_from_json((directory / "genesis.json").read_text())
    assert genesis == description.genesis
    assert decode(types_pb2.Genesis, encode(genesis), bytes_max=1 << 20) == genesis
    node_genesis = genesis_from_json((directory / "nodes/node1/genesis.json").read_text())
    hash_function = get_profile(description.crypto_profile).hash
    assert genesis_hash(node_genesis, hash_function) == genesis_hash(genesis, hash_function)
    assert genesis.version == 1
    assert genesis.crypto_profile == description.crypto_profile
    assert genesis.consensus == "solo"
    assert genesis.genesis_time_ms == NOW_MS
    assert genesis.config == default_chain_config()
    assert [organisation.id for organisation in genesis.organisations] == ["org1", "org2"]
    assert sorted(member.id for member in genesis.members) == [
        "org1/admin",
        "org1/client",
        "org1/node1",
        "org2/admin",
        "org2/client",
    ]


def test_default_chain_config_values() -> None:
    config = default_chain_config()
    assert config.block_transactions_max == 10_000
    assert config.block_bytes_max == 16 * 1024 * 1024
    assert config.transaction_bytes_max == 64 * 1024
    assert config.transaction_expiry_max_ms == 3_600_000
    assert config.endorsements_max == 16
    assert config.state_history_heights == 1000
    assert config.governance_policy.kind == types_pb2.POLICY_KIND_MAJORITY
    assert config.ledger_issue_policy.kind == types_pb2.POLICY_KIND_ANY
    assert config.transaction_gas_max == 1_000_000


def test_roles_and_validators(network: tuple[Path, NetworkDescription]) -> None:
    _, description = network
    roles = {member.id: list(member.roles) for member in description.genesis.members}
    assert roles["org1/admin"] == [types_pb2.ROLE_ADMIN]
    assert roles["org2/client"] == [types_pb2.ROLE_CLIENT]
    assert roles["org1/node1"] == [types_pb2.ROLE_CONSENSUS]
    (validator,) = description.genesis.validators.validators
    node_member = description.member("org1/node1").member
    assert validator.member_id == "org1/node1"
    assert validator.public_key == node_member.public_key
    assert validator.algorithm == node_member.algorithm
    assert validator.voting_power == 1


def test_certificates_verify(network: tuple[Path, NetworkDescription]) -> None:
    _, description = network
    genesis = description.genesis
    organisations = {organisation.id: organisation for organisation in genesis.organisations}
    now_ms = int(time.time() * 1000)
    for member in genesis.members:
        verify_member_certificate(
            genesis.chain_id, organisations[member.organisation], member, now_ms
        )


def test_certificate_files_hold_the_genesis_certificates(
    network: tuple[Path, NetworkDescription],
) -> None:
    directory, description = network
    for member in description.genesis.members:
        folder = member_directory(directory, member.id)
        # `cryptography` loads SM2 certificates too (all but their keys).
        certificate = x509.load_pem_x509_certificate((folder / "member.crt").read_bytes())
        assert certificate.public_bytes(Encoding.DER) == member.certificate


def test_keys_are_private_and_match_their_members(
    network: tuple[Path, NetworkDescription],
) -> None:
    directory, description = network
    key_files = sorted(directory.rglob("key.pem"))
    assert key_files
    for path in key_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for member in description.genesis.members:
        folder = member_directory(directory, member.id)
        key = PrivateKey.from_pem((folder / "key.pem").read_bytes())
        assert key.public_key().raw == member.public_key
        assert key.algorithm == member.algorithm
        document = json.loads((folder / "member.json").read_text())
        assert document == {
            "member_id": member.id,
            "algorithm": member.algorithm,
            "crypto_profile": description.crypto_profile,
            "chain_id": description.chain_id,
        }
    node_key = PrivateKey.from_pem((directory / "nodes/node1/key.pem").read_bytes())
    assert node_key.public_key().raw == description.member("org1/node1").member.public_key
    for organisation in description.genesis.organisations:
        ca_key = PrivateKey.from_pem(
            (directory / "organisations" / organisation.id / "ca/key.pem").read_bytes()
        )
        assert ca_key.public_key().raw == organisation.ca_public_key


def test_node_config(network: tuple[Path, NetworkDescription]) -> None:
    directory, _ = network
    home = node_directory(directory, "node1")
    document = tomllib.loads((home / "config.toml").read_text())
    assert document["node"] == {
        "name": "node1",
        "member_id": "org1/node1",
        "key_file": "key.pem",
        "data_dir": "data",
        "genesis_file": "genesis.json",
    }
    assert document["api"]["grpc_address"] == "127.0.0.1:7050"
    assert document["api"]["http_address"] == "127.0.0.1:8050"
    assert document["consensus"]["block_interval_ms"] == 300
    assert document["mempool"]["transactions_max"] == 200_000
    assert document["mempool"]["bytes_max"] == 256 * 1024 * 1024
    assert document["storage"]["map_size_bytes"] > 0
    assert document["log"] == {"level": "info", "format": "text"}
    assert json.loads((home / "member.json").read_text())["member_id"] == "org1/node1"


def test_node_config_loads_with_the_node_loader(
    intl_network: tuple[Path, NetworkDescription],
) -> None:
    config_module = pytest.importorskip("causeway.node.config")
    directory, _ = intl_network
    config = config_module.load_node_config(node_directory(directory, "node1"))
    assert config.member_id == "org1/node1"
    assert config.key_file.is_file()
    assert config.genesis_file.is_file()
    assert config.grpc_address == "127.0.0.1:7050"


def test_ports_move_up_per_node() -> None:
    assert node_settings(1).grpc_address == "127.0.0.1:7050"
    assert node_settings(3).grpc_address == "127.0.0.1:7052"
    assert node_settings(3).http_address == "127.0.0.1:8052"


def test_a_port_base_gives_each_node_three_consecutive_ports() -> None:
    assert [
        (settings.grpc_address, settings.http_address, settings.peer_address)
        for settings in (node_settings(1, 9100), node_settings(3, 9100))
    ] == [
        ("127.0.0.1:9100", "127.0.0.1:9101", "127.0.0.1:9102"),
        ("127.0.0.1:9106", "127.0.0.1:9107", "127.0.0.1:9108"),
    ]


def test_port_base_bounds_at_the_limit_and_one_past() -> None:
    # Four tbft nodes need 12 ports: the last base is 65535 - 12 + 1.
    assert port_base_max(4) == 65524
    check_port_base(65524, 4)
    check_port_base(PORT_BASE_MIN, 4)
    with pytest.raises(ConfigurationError) as above:
        check_port_base(65525, 4)
    assert above.value.message == (
        "port base 65525 must be between 1024 and 65524: 4 node(s) listen on 3 consecutive "
        "ports each, up to port 65535"
    )
    with pytest.raises(ConfigurationError) as below:
        check_port_base(PORT_BASE_MIN - 1, 1)
    assert below.value.message.startswith("port base 1023 must be between 1024 and 65533:")


def test_build_network_uses_the_port_base_for_every_node() -> None:
    description = build_network(2, "intl", "raft", now_ms=NOW_MS, validators=2, port_base=20_000)
    addresses = [
        (node.settings.grpc_address, node.settings.http_address, node.settings.peer_address)
        for node in description.nodes
    ]
    assert addresses == [
        ("127.0.0.1:20000", "127.0.0.1:20001", "127.0.0.1:20002"),
        ("127.0.0.1:20003", "127.0.0.1:20004", "127.0.0.1:20005"),
    ]
    # Each node dials the other at the peer port the base gave it.
    assert 'address = "127.0.0.1:20005"' in render_node_config(
        description.nodes[0], description.nodes
    )
    with pytest.raises(ConfigurationError, match="port base 65534 must be between"):
        build_network(1, "intl", "solo", now_ms=NOW_MS, port_base=65534)


def test_validators_spread_over_organisations() -> None:
    assert [node_organisation_index(index, 3) for index in range(1, 8)] == [1, 2, 3, 1, 2, 3, 1]
    assert [node_organisation_index(index, 1) for index in range(1, 4)] == [1, 1, 1]


def test_rendered_config_escapes_strings() -> None:
    description = build_network(1, "intl", "solo", now_ms=NOW_MS, chain_id="a.b-c_d")
    text = render_node_config(description.nodes[0])
    assert tomllib.loads(text)["node"]["member_id"] == "org1/node1"


def test_ed25519_network(tmp_path: Path) -> None:
    description = init_network(
        tmp_path / "net", 1, "intl", "solo", algorithm="ed25519", now_ms=NOW_MS
    )
    assert {member.algorithm for member in description.genesis.members} == {"ed25519"}
    assert description.genesis.organisations[0].ca_algorithm == "ed25519"
    genesis = description.genesis
    for member in genesis.members:
        verify_member_certificate(genesis.chain_id, genesis.organisations[0], member, NOW_MS)


def test_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("keep me")
    with pytest.raises(ConfigurationError, match="not empty"):
        init_network(tmp_path, 1, "intl", "solo")
    assert _files(tmp_path) == {"something"}


def test_refuses_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(ConfigurationError, match="not a folder"):
        init_network(target, 1, "intl", "solo")


def test_force_replaces_the_previous_network_only(tmp_path: Path) -> None:
    first = init_network(tmp_path, 1, "intl", "solo", now_ms=NOW_MS)
    (tmp_path / "nodes/node1/data").mkdir()
    (tmp_path / "nodes/node1/data/blocks").write_text("old chain")
    (tmp_path / "notes.txt").write_text("keep me")
    second = init_network(tmp_path, 1, "gm", "solo", force=True, now_ms=NOW_MS)
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    assert not (tmp_path / "nodes/node1/data").exists()
    assert genesis_from_json((tmp_path / "genesis.json").read_text()) == second.genesis
    assert second.genesis != first.genesis
    assert _files(tmp_path) == _expected_files(1, "gm") | {"notes.txt"}
    assert not [path for path in tmp_path.parent.iterdir() if ".init-" in path.name]


def test_empty_directory_is_accepted(tmp_path: Path) -> None:
    init_network(tmp_path, 1, "intl", "solo", now_ms=NOW_MS)
    assert _files(tmp_path) == _expected_files(1, "intl")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"organisations": 0}, "organisations"),
        ({"crypto_profile": "rot13"}, "crypto profile"),
        ({"consensus": "pow"}, "consensus"),
        ({"algorithm": "sm2"}, "not part of the intl"),
        ({"algorithm": "rsa"}, "not part of the intl"),
        ({"validators": 2}, "exactly one validator"),
        ({"chain_id": "has space"}, "chain id"),
        ({"chain_id": ""}, "chain id"),
    ],
)
def test_bad_arguments_are_refused(arguments: dict[str, object], message: str) -> None:
    options: dict[str, object] = {
        "organisations": 1,
        "crypto_profile": "intl",
        "consensus": "solo",
        "now_ms": NOW_MS,
    }
    options.update(arguments)
    with pytest.raises(ConfigurationError, match=message):
        build_network(**options)  # type: ignore[arg-type]


def _load_certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_node_tls_material(network: tuple[Path, NetworkDescription]) -> None:
    directory, description = network
    tls = node_directory(directory, "node1") / "tls"
    assert stat.S_IMODE((tls / "node.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(tls.stat().st_mode) == 0o700
    key = serialization.load_pem_private_key((tls / "node.key").read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, ec.SECP256R1)
    certificate = _load_certificate(tls / "node.crt")
    assert certificate.public_key() == key.public_key()
    subject = {attribute.oid: attribute.value for attribute in certificate.subject}
    assert subject == {NameOID.ORGANIZATION_NAME: "org1", NameOID.COMMON_NAME: "org1/node1"}
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost", "node1"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}

    bundle = x509.load_pem_x509_certificates((tls / "ca-bundle.pem").read_bytes())
    assert len(bundle) == 2
    organisations = directory / "organisations"
    if description.crypto_profile == "gm":
        # gm organisations get a P-256 CA for TLS; their member CA (SM2) has no X.509 form.
        expected = [_load_certificate(organisations / f"org{i}/tls-ca/ca.crt") for i in (1, 2)]
        assert all(isinstance(ca.public_key(), ec.EllipticCurvePublicKey) for ca in expected)
        tls_ca_key = PrivateKey.from_pem((organisations / "org1/tls-ca/key.pem").read_bytes())
        assert tls_ca_key.algorithm == "ecdsa-p256"
    else:
        expected = [_load_certificate(organisations / f"org{i}/ca/ca.crt") for i in (1, 2)]
    assert bundle == expected
    certificate.verify_directly_issued_by(bundle[0])


def test_ed25519_organisations_issue_p256_tls_certificates(tmp_path: Path) -> None:
    init_network(tmp_path, 1, "intl", "solo", algorithm="ed25519", now_ms=NOW_MS)
    certificate = _load_certificate(tmp_path / "nodes/node1/tls/node.crt")
    (ca,) = x509.load_pem_x509_certificates(
        (tmp_path / "nodes/node1/tls/ca-bundle.pem").read_bytes()
    )
    assert ca == _load_certificate(tmp_path / "organisations/org1/ca/ca.crt")
    assert isinstance(certificate.public_key(), ec.EllipticCurvePublicKey)
    certificate.verify_directly_issued_by(ca)
    assert not (tmp_path / "organisations/org1/tls-ca").exists()


def test_node_config_peers_section(network: tuple[Path, NetworkDescription]) -> None:
    directory, _ = network
    document = tomllib.loads((node_directory(directory, "node1") / "config.toml").read_text())
    assert document["peers"] == {
        "listen_address": "127.0.0.1:7150",
        "tls_key_file": "tls/node.key",
        "tls_certificate_file": "tls/node.crt",
        "tls_ca_bundle_file": "tls/ca-bundle.pem",
    }


def test_rendered_config_lists_the_other_nodes_as_peers() -> None:
    description = build_network(2, "intl", "solo", now_ms=NOW_MS)
    (node,) = description.nodes
    other = dataclasses.replace(node, name="node2", settings=node_settings(2))
    document = tomllib.loads(render_node_config(node, [node, other]))
    assert document["peers"]["listen_address"] == "127.0.0.1:7150"
    assert document["peers"]["peer"] == [
        {"name": "node2", "member_id": "org1/node1", "address": "127.0.0.1:7151"}
    ]
    assert node_settings(3).peer_address == "127.0.0.1:7152"


def test_tls_certificates_need_dns_names_and_short_member_ids() -> None:
    description = build_network(1, "intl", "solo", now_ms=NOW_MS)
    authority = description.organisations[0].tls_authority
    with pytest.raises(ConfigurationError, match="DNS name"):
        issue_node_tls_certificate(authority, "Node_1", "org1/node1", 10)
    with pytest.raises(CertificateError, match="not a member of organisation"):
        issue_node_tls_certificate(authority, "node1", "org2/node1", 10)
    with pytest.raises(CertificateError, match="64"):
        issue_node_tls_certificate(authority, "node1", "org1/" + "n" * 64, 10)
    extra = issue_node_tls_certificate(
        authority,
        "node1",
        "org1/node1",
        10,
        extra_dns_names=["node1.example.org"],
        extra_ip_addresses=["10.0.0.1"],
    )
    names = (
        x509.load_der_x509_certificate(extra.certificate)
        .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        .value
    )
    assert "node1.example.org" in names.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("10.0.0.1") in names.get_values_for_type(x509.IPAddress)
