"""Writes a network description as the folder layout of ADR 0001 ("Files written by causeway init").

```
DIR/genesis.json                                    protobuf JSON of Genesis
DIR/organisations/<org>/ca/key.pem, ca.crt          (ca.crt: PEM X.509; SM2 with SM3 on gm)
DIR/organisations/<org>/members/<name>/member.json, key.pem, member.crt
DIR/organisations/<org>/tls-ca/key.pem, ca.crt   (gm only: the P-256 CA of the nodes' TLS)
DIR/nodes/<node>/config.toml, genesis.json, key.pem, member.json
DIR/nodes/<node>/tls/node.key, node.crt, ca-bundle.pem
```

The TLS files are what causeway.net needs (docs/peer-protocol.md): the node's transport key and
certificate, and the TLS CA certificates of every organisation, which it trusts for its peers.

The whole tree is first written into a hidden sibling folder and only then moved into place, so
that a failure half way leaves no half-written network behind.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import json_format

from causeway.errors import ConfigurationError
from causeway.provisioning.description import (
    MemberMaterial,
    NetworkDescription,
    NodeDescription,
    NodeSettings,
)
from causeway.types.v1 import types_pb2

GENESIS_FILE_NAME = "genesis.json"
CONFIG_FILE_NAME = "config.toml"
KEY_FILE_NAME = "key.pem"
MEMBER_FILE_NAME = "member.json"
MEMBER_CERTIFICATE_FILE_NAME = "member.crt"
CA_CERTIFICATE_FILE_NAME = "ca.crt"
ORGANISATIONS_DIRECTORY = "organisations"
NODES_DIRECTORY = "nodes"
NODE_DATA_DIRECTORY = "data"
TLS_DIRECTORY = "tls"
TLS_CA_DIRECTORY = "tls-ca"
TLS_KEY_FILE_NAME = "node.key"
TLS_CERTIFICATE_FILE_NAME = "node.crt"
TLS_CA_BUNDLE_FILE_NAME = "ca-bundle.pem"

# What `--force` replaces: exactly the entries `causeway init` writes at the top of DIR.
GENERATED_ENTRIES = (GENESIS_FILE_NAME, ORGANISATIONS_DIRECTORY, NODES_DIRECTORY)

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIRECTORY_MODE = 0o700
PUBLIC_FILE_MODE = 0o644


def genesis_to_json(genesis: types_pb2.Genesis) -> str:
    """The genesis file's text: protobuf JSON with the proto field names."""
    return (
        json_format.MessageToJson(
            genesis, preserving_proto_field_name=True, indent=2, sort_keys=False
        )
        + "\n"
    )


def genesis_from_json(text: str) -> types_pb2.Genesis:
    """Parses a genesis file; ConfigurationError when it is not a Genesis in protobuf JSON."""
    genesis = types_pb2.Genesis()
    try:
        json_format.Parse(text, genesis)
    except json_format.ParseError as error:
        raise ConfigurationError(f"not a genesis file: {error}") from None
    return genesis


def member_document(member: MemberMaterial, network: NetworkDescription) -> dict[str, str]:
    """The member.json document: what a client needs next to the key to act as this member."""
    return member_record(
        member.member, crypto_profile=network.crypto_profile, chain_id=network.chain_id
    )


def member_record(
    member: types_pb2.Member, *, crypto_profile: str, chain_id: str
) -> dict[str, str]:
    """The member.json document of a member of a chain with this profile and id (the chain id
    may be empty when it is not known yet: a client then asks the node)."""
    return {
        "member_id": member.id,
        "algorithm": member.algorithm,
        "crypto_profile": crypto_profile,
        "chain_id": chain_id,
    }


@dataclass(frozen=True, slots=True)
class NodePeer:
    """A peer in a node's config.toml: its node name, member id and address to dial."""

    name: str
    member_id: str
    address: str


def certificate_to_pem(der: bytes) -> str:
    """PEM text of a DER X.509 certificate, so that openssl and friends read the .crt files."""
    encoded = base64.b64encode(der).decode("ascii")
    lines = [encoded[start : start + 64] for start in range(0, len(encoded), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def _toml_string(value: str) -> str:
    # A JSON string of printable text is a valid TOML basic string.
    return json.dumps(value, ensure_ascii=True)


def _render_peers(name: str, settings: NodeSettings, peers: Sequence[NodePeer]) -> list[str]:
    lines = [
        "[peers]",
        f"listen_address = {_toml_string(settings.peer_address)}",
        f"tls_key_file = {_toml_string(TLS_DIRECTORY + '/' + TLS_KEY_FILE_NAME)}",
        f"tls_certificate_file = {_toml_string(TLS_DIRECTORY + '/' + TLS_CERTIFICATE_FILE_NAME)}",
        f"tls_ca_bundle_file = {_toml_string(TLS_DIRECTORY + '/' + TLS_CA_BUNDLE_FILE_NAME)}",
        "",
    ]
    for peer in peers:
        if peer.name == name:
            continue
        lines += [
            "[[peers.peer]]",
            f"name = {_toml_string(peer.name)}",
            f"member_id = {_toml_string(peer.member_id)}",
            f"address = {_toml_string(peer.address)}",
            "",
        ]
    return lines


def render_node_config(node: NodeDescription, peers: Sequence[NodeDescription] = ()) -> str:
    """The text of a node's config.toml; paths are relative to the node's home folder.

    ``peers`` are the network's nodes (the node itself is skipped): each becomes a
    ``[[peers.peer]]`` entry that the node dials at the peer's ``peer_address``.
    """
    return render_node_settings(
        node.name,
        node.member.member_id,
        node.settings,
        [
            NodePeer(
                name=peer.name, member_id=peer.member.member_id, address=peer.settings.peer_address
            )
            for peer in peers
        ],
    )


def render_node_settings(
    name: str, member_id: str, settings: NodeSettings, peers: Sequence[NodePeer]
) -> str:
    """config.toml of node `name` (member `member_id`) dialing `peers` (itself skipped)."""
    return "\n".join(
        [
            f"# Causeway node {name}. Relative paths are relative to this folder.",
            "",
            "[node]",
            f"name = {_toml_string(name)}",
            f"member_id = {_toml_string(member_id)}",
            f"key_file = {_toml_string(KEY_FILE_NAME)}",
            f"data_dir = {_toml_string(NODE_DATA_DIRECTORY)}",
            f"genesis_file = {_toml_string(GENESIS_FILE_NAME)}",
            "",
            "[api]",
            f"grpc_address = {_toml_string(settings.grpc_address)}",
            f"http_address = {_toml_string(settings.http_address)}",
            f"message_bytes_max = {settings.api_message_bytes_max}",
            f"http_request_bytes_max = {settings.http_request_bytes_max}",
            "",
            "[consensus]",
            f"block_interval_ms = {settings.block_interval_ms}",
            "",
            "[mempool]",
            f"transactions_max = {settings.mempool_transactions_max}",
            f"bytes_max = {settings.mempool_bytes_max}",
            f"admission_batch_max = {settings.admission_batch_max}",
            "",
            "[storage]",
            f"map_size_bytes = {settings.map_size_bytes}",
            "",
            "[log]",
            f"level = {_toml_string(settings.log_level)}",
            f"format = {_toml_string(settings.log_format)}",
            "",
            *_render_peers(name, settings, peers),
        ]
    )


def _write_file(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        # The umask may have taken bits away from `mode`, never added; set it exactly anyway.
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb", closefd=False) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_text(path: Path, text: str) -> None:
    _write_file(path, text.encode("utf-8"), PUBLIC_FILE_MODE)


def write_public_file(path: Path, data: bytes) -> None:
    """Writes a new file anyone may read (mode 0644), synced; refuses an existing one."""
    _write_file(path, data, PUBLIC_FILE_MODE)


def write_private_file(path: Path, data: bytes) -> None:
    """Writes a new private file (mode 0600 in a folder of mode 0700), synced."""
    _write_key(path, data)


def _write_key(path: Path, member_key_pem: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, PRIVATE_DIRECTORY_MODE)
    _write_file(path, member_key_pem, PRIVATE_FILE_MODE)


def write_member_folder(
    directory: Path,
    member: MemberMaterial,
    *,
    crypto_profile: str,
    chain_id: str,
    passphrase: bytes | None = None,
) -> None:
    """A member folder: key.pem (encrypted with `passphrase` when given), member.json and the
    member's X.509 certificate, member.crt (SM2 on gm chains, docs/certificates.md)."""
    write_member_identity(
        directory, member, crypto_profile=crypto_profile, chain_id=chain_id, passphrase=passphrase
    )
    _write_text(
        directory / MEMBER_CERTIFICATE_FILE_NAME, certificate_to_pem(member.member.certificate)
    )


def write_member_identity(
    directory: Path,
    member: MemberMaterial,
    *,
    crypto_profile: str,
    chain_id: str,
    passphrase: bytes | None = None,
) -> None:
    """key.pem and member.json: what the SDK's Identity.load and a node read."""
    _write_key(directory / KEY_FILE_NAME, member.key.to_pem(passphrase))
    write_member_document(
        directory, member.member, crypto_profile=crypto_profile, chain_id=chain_id
    )


def write_member_document(
    directory: Path,
    member: types_pb2.Member,
    *,
    crypto_profile: str,
    chain_id: str,
    extra: Mapping[str, object] | None = None,
) -> None:
    """member.json (with `extra` entries, such as a PKCS#11 key reference)."""
    document: dict[str, object] = dict(
        member_record(member, crypto_profile=crypto_profile, chain_id=chain_id)
    )
    document.update(extra or {})
    _write_text(directory / MEMBER_FILE_NAME, json.dumps(document, indent=2) + "\n")


@dataclass(frozen=True, slots=True)
class NodeHome:
    """What a node's home folder holds besides the genesis and its peers."""

    name: str
    member: types_pb2.Member
    key_pem: bytes
    """The node's signing key file as it is (possibly passphrase-encrypted)."""
    settings: NodeSettings
    tls_key_pem: bytes
    tls_certificate_pem: bytes


def write_node_home(
    directory: Path,
    node: NodeHome,
    *,
    peers: Sequence[NodePeer],
    genesis_text: str,
    tls_ca_bundle: bytes,
    crypto_profile: str,
) -> None:
    """A node's home folder: config.toml (dialing `peers`), genesis.json, key.pem, member.json
    and its TLS key, certificate and CA bundle."""
    genesis = genesis_from_json(genesis_text)
    _write_text(
        directory / CONFIG_FILE_NAME,
        render_node_settings(node.name, node.member.id, node.settings, peers),
    )
    _write_text(directory / GENESIS_FILE_NAME, genesis_text)
    _write_key(directory / KEY_FILE_NAME, node.key_pem)
    write_member_document(
        directory, node.member, crypto_profile=crypto_profile, chain_id=genesis.chain_id
    )
    tls_directory = directory / TLS_DIRECTORY
    _write_key(tls_directory / TLS_KEY_FILE_NAME, node.tls_key_pem)
    _write_file(
        tls_directory / TLS_CERTIFICATE_FILE_NAME, node.tls_certificate_pem, PUBLIC_FILE_MODE
    )
    _write_file(tls_directory / TLS_CA_BUNDLE_FILE_NAME, tls_ca_bundle, PUBLIC_FILE_MODE)


def _write_tree(root: Path, network: NetworkDescription) -> None:
    genesis_text = genesis_to_json(network.genesis)
    _write_text(root / GENESIS_FILE_NAME, genesis_text)
    for organisation in network.organisations:
        organisation_directory = root / ORGANISATIONS_DIRECTORY / organisation.id
        _write_key(organisation_directory / "ca" / KEY_FILE_NAME, organisation.ca_key.to_pem())
        if organisation.ca_certificate:
            _write_text(
                organisation_directory / "ca" / CA_CERTIFICATE_FILE_NAME,
                certificate_to_pem(organisation.ca_certificate),
            )
        if not organisation.tls_authority.shared_with_member_ca:
            _write_key(
                organisation_directory / TLS_CA_DIRECTORY / KEY_FILE_NAME,
                organisation.tls_authority.key_pem(),
            )
            _write_file(
                organisation_directory / TLS_CA_DIRECTORY / CA_CERTIFICATE_FILE_NAME,
                organisation.tls_authority.certificate_pem(),
                PUBLIC_FILE_MODE,
            )
        for member in organisation.members:
            write_member_folder(
                organisation_directory / "members" / member.name,
                member,
                crypto_profile=network.crypto_profile,
                chain_id=network.chain_id,
            )
    ca_bundle = network.tls_ca_bundle()
    peers = [
        NodePeer(
            name=node.name, member_id=node.member.member_id, address=node.settings.peer_address
        )
        for node in network.nodes
    ]
    for node in network.nodes:
        write_node_home(
            root / NODES_DIRECTORY / node.name,
            NodeHome(
                name=node.name,
                member=node.member.member,
                key_pem=node.member.key.to_pem(),
                settings=node.settings,
                tls_key_pem=node.tls.key_pem(),
                tls_certificate_pem=node.tls.certificate_pem(),
            ),
            peers=peers,
            genesis_text=genesis_text,
            tls_ca_bundle=ca_bundle,
            crypto_profile=network.crypto_profile,
        )


def check_target(directory: Path, *, force: bool) -> None:
    """Refuses a target that is not a folder, or a non-empty folder unless `force`."""
    if directory.exists() and not directory.is_dir():
        raise ConfigurationError(f"{directory} exists and is not a folder")
    if directory.is_dir() and not force and any(directory.iterdir()):
        raise ConfigurationError(
            f"{directory} is not empty; choose another folder or pass --force to replace "
            "the network in it"
        )


@contextmanager
def staging_directory(parent: Path, name: str) -> Iterator[Path]:
    """A hidden new folder in `parent`, removed on leaving: write a tree there, then move it."""
    with _staging_directory(parent, name) as staging:
        yield staging


@contextmanager
def _staging_directory(parent: Path, name: str) -> Iterator[Path]:
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.init-", dir=parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_network(
    network: NetworkDescription, directory: Path, *, force: bool = False
) -> list[Path]:
    """Writes the network into `directory` and returns the files written, relative to it.

    A non-empty `directory` is refused unless `force`, which first removes what an earlier
    `causeway init` wrote there (genesis.json, organisations/ and nodes/, node data included) and
    leaves anything else alone. Private keys get mode 0600 in folders of mode 0700.
    """
    directory = directory.absolute()
    check_target(directory, force=force)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with _staging_directory(directory.parent, directory.name) as staging:
            _write_tree(staging, network)
            written = sorted(
                path.relative_to(staging) for path in staging.rglob("*") if path.is_file()
            )
            for name in GENERATED_ENTRIES:
                existing = directory / name
                if existing.is_dir() and not existing.is_symlink():
                    shutil.rmtree(existing)
                elif existing.exists() or existing.is_symlink():
                    existing.unlink()
            for entry in sorted(staging.iterdir()):
                os.replace(entry, directory / entry.name)
    except OSError as error:
        raise ConfigurationError(f"cannot write the network into {directory}: {error}") from None
    return written
