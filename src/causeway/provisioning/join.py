"""`causeway node join`: a node folder for a node that joins a running chain.

What it takes is public but for the node's own identity folder: the chain's genesis file, the TLS
CA bundle of the organisations whose nodes it dials first (the consortium publishes it), and one
or more bootstrap peers. The identity folder is what ``causeway init`` writes for a node
(``nodes/<node>/``) or ``causeway org init`` for an organisation's node (``members/<node>/``):
``key.pem`` (the node's consensus key, possibly encrypted), ``member.json``, ``tls/node.key``,
``tls/node.crt`` and, when present, ``tls/ca-bundle.pem``. The node's own organisation's TLS CA
must be in that bundle or in one given (``org init``: ``public/tls-ca.crt``).

The node it prepares starts, catches up by block sync from its bootstrap peers and follows as an
observer; governance makes it a validator (``validators.update``), and from the next height on it
votes. Before it is started, governance must have recorded the node (``nodes.set_endpoint``) and
its organisation's TLS CA (``nodes.set_tls_authority``): the running nodes accept peers the chain
or their configuration names, and trust the TLS CAs the chain records (docs/operations.md,
section 4).

Nothing is written unless everything checks, and an existing non-empty folder is refused: joining
never replaces a node's data.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from causeway.crypto import PrivateKey, get_profile, passphrase_from_environment
from causeway.errors import CausewayError, ConfigurationError
from causeway.net import PeerAddress, TlsIdentity
from causeway.net.config import check_peer_address
from causeway.node import load_genesis
from causeway.provisioning.files import (
    CONFIG_FILE_NAME,
    GENESIS_FILE_NAME,
    KEY_FILE_NAME,
    MEMBER_FILE_NAME,
    NODE_DATA_DIRECTORY,
    PRIVATE_DIRECTORY_MODE,
    PRIVATE_FILE_MODE,
    PUBLIC_FILE_MODE,
    TLS_CA_BUNDLE_FILE_NAME,
    TLS_CERTIFICATE_FILE_NAME,
    TLS_DIRECTORY,
    TLS_KEY_FILE_NAME,
)

ENCRYPTED_KEY_PEM_HEADER = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"
DEFAULT_LISTEN_ADDRESS = "127.0.0.1:7150"
DEFAULT_GRPC_ADDRESS = "127.0.0.1:7050"
DEFAULT_HTTP_ADDRESS = "127.0.0.1:8050"
# Bootstrap peers a join command takes at most (the chain's records give it the rest).
BOOTSTRAP_PEERS_MAX = 16
MEMBER_FILE_BYTES_MAX = 64 * 1024

# Called with the prepared node folder and its bootstrap peers before it is first started: where
# a verified state snapshot is fetched and restored (the snapshots work wires it), so that the
# node need not replay every block since genesis.
SnapshotRestorer = Callable[[Path, Sequence[PeerAddress]], None]


@dataclass(frozen=True, slots=True)
class JoinedNode:
    """What `causeway node join` prepared."""

    home: Path
    name: str
    member_id: str
    chain_id: str
    peers: tuple[PeerAddress, ...]


def parse_peer(text: str) -> PeerAddress:
    """A bootstrap peer from ``[NAME=]MEMBER_ID@HOST:PORT`` (the name defaults to the member's
    name, what ``causeway init`` gives a node); ConfigurationError naming what is wrong."""
    named, separator, rest = text.partition("=")
    if not separator:
        named, rest = "", text
    member_id, at, address = rest.partition("@")
    if not at:
        raise ConfigurationError(f"peer {text!r} is not '[NAME=]MEMBER_ID@HOST:PORT'")
    organisation, _, name = member_id.partition("/")
    if not organisation or not name:
        raise ConfigurationError(
            f"peer {text!r}: the member id {member_id!r} must be '<organisation>/<name>'"
        )
    peer = PeerAddress(named or name, member_id, address)
    check_peer_address(peer)
    return peer


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ConfigurationError(f"cannot read the {what} {path}: {error}") from None


def _bundle(paths: Sequence[Path]) -> bytes:
    """The certificates of every bundle, each once, in order."""
    seen: dict[bytes, x509.Certificate] = {}
    for path in paths:
        try:
            certificates = x509.load_pem_x509_certificates(_read(path, "TLS CA bundle"))
        except ValueError as error:
            raise ConfigurationError(f"TLS CA bundle {path}: {error}") from None
        for certificate in certificates:
            seen.setdefault(certificate.public_bytes(serialization.Encoding.DER), certificate)
    return b"".join(
        certificate.public_bytes(serialization.Encoding.PEM) for certificate in seen.values()
    )


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=True)


def render_join_config(
    *,
    name: str,
    member_id: str,
    listen_address: str,
    grpc_address: str,
    http_address: str,
    peers: Sequence[PeerAddress],
) -> str:
    lines = [
        f"# Causeway node {name}, joining a running chain. Relative paths are relative to this",
        "# folder. Its peers beyond the bootstrap ones below come from the chain (nodes contract).",
        "",
        "[node]",
        f"name = {_toml_string(name)}",
        f"member_id = {_toml_string(member_id)}",
        f"key_file = {_toml_string(KEY_FILE_NAME)}",
        f"data_dir = {_toml_string(NODE_DATA_DIRECTORY)}",
        f"genesis_file = {_toml_string(GENESIS_FILE_NAME)}",
        "",
        "[api]",
        f"grpc_address = {_toml_string(grpc_address)}",
        f"http_address = {_toml_string(http_address)}",
        "",
        "[peers]",
        f"listen_address = {_toml_string(listen_address)}",
        f"tls_key_file = {_toml_string(TLS_DIRECTORY + '/' + TLS_KEY_FILE_NAME)}",
        f"tls_certificate_file = {_toml_string(TLS_DIRECTORY + '/' + TLS_CERTIFICATE_FILE_NAME)}",
        f"tls_ca_bundle_file = {_toml_string(TLS_DIRECTORY + '/' + TLS_CA_BUNDLE_FILE_NAME)}",
        "",
    ]
    for peer in peers:
        lines += [
            "[[peers.peer]]",
            f"name = {_toml_string(peer.name)}",
            f"member_id = {_toml_string(peer.member_id)}",
            f"address = {_toml_string(peer.address)}",
            "",
        ]
    return "\n".join(lines)


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb", closefd=False) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


def join_node(
    home: Path,
    *,
    genesis_file: Path,
    identity: Path,
    peers: Sequence[PeerAddress],
    tls_ca_bundles: Sequence[Path] = (),
    listen_address: str = DEFAULT_LISTEN_ADDRESS,
    grpc_address: str = DEFAULT_GRPC_ADDRESS,
    http_address: str = DEFAULT_HTTP_ADDRESS,
    restore_snapshot: SnapshotRestorer | None = None,
) -> JoinedNode:
    """Checks everything, then writes the node folder ``home`` (see the module docstring).

    ConfigurationError, with nothing written, for: a non-empty ``home``; a genesis that does not
    load; an identity folder whose key, member file or TLS material does not load or belong
    together, or names another chain; no bootstrap peer, too many, or one of an organisation
    whose TLS CA none of the bundles holds."""
    if home.exists() and (not home.is_dir() or any(home.iterdir())):
        raise ConfigurationError(f"{home} exists and is not empty: a node joins into a new folder")
    if not peers:
        raise ConfigurationError("a joining node needs at least one bootstrap peer (--peer)")
    if len(peers) > BOOTSTRAP_PEERS_MAX:
        raise ConfigurationError(f"at most {BOOTSTRAP_PEERS_MAX} bootstrap peers")
    genesis = load_genesis(genesis_file)
    try:
        get_profile(genesis.crypto_profile)
    except CausewayError as error:
        raise ConfigurationError(f"genesis file {genesis_file}: {error.message}") from None
    member_path = identity / MEMBER_FILE_NAME
    try:
        member = json.loads(_read(member_path, "member file")[:MEMBER_FILE_BYTES_MAX])
    except ValueError as error:
        raise ConfigurationError(f"member file {member_path} is not JSON: {error}") from None
    member_id = member.get("member_id") if isinstance(member, dict) else None
    if not isinstance(member_id, str) or "/" not in member_id:
        raise ConfigurationError(f"member file {member_path} names no member_id 'org/name'")
    # `causeway org init` names no chain (an organisation's identities come before the genesis).
    chain_id = member.get("chain_id") or genesis.chain_id
    if chain_id != genesis.chain_id:
        raise ConfigurationError(
            f"the identity in {identity} is of chain {chain_id!r}, the genesis of"
            f" {genesis.chain_id!r}"
        )
    key_pem = _read(identity / KEY_FILE_NAME, "node key")
    passphrase = passphrase_from_environment()
    # An encrypted key is checked only when its passphrase is at hand; the node asks for it
    # (CAUSEWAY_KEY_PASSPHRASE or _FILE) when it starts.
    if passphrase is not None or not key_pem.lstrip().startswith(ENCRYPTED_KEY_PEM_HEADER):
        try:
            PrivateKey.from_pem(key_pem, passphrase)
        except CausewayError as error:
            raise ConfigurationError(
                f"node key {identity / KEY_FILE_NAME}: {error.message}"
            ) from None
    tls_key = _read(identity / TLS_DIRECTORY / TLS_KEY_FILE_NAME, "TLS key")
    tls_certificate = _read(identity / TLS_DIRECTORY / TLS_CERTIFICATE_FILE_NAME, "TLS certificate")
    own_bundle = identity / TLS_DIRECTORY / TLS_CA_BUNDLE_FILE_NAME
    bundle = _bundle([*([own_bundle] if own_bundle.is_file() else []), *tls_ca_bundles])
    tls = TlsIdentity.from_pem(tls_key, tls_certificate, bundle)
    if tls.member_id != member_id:
        raise ConfigurationError(
            f"the TLS certificate names {tls.member_id!r}, the member file {member_id!r}"
        )
    for peer in peers:
        check_peer_address(peer)
        if peer.member_id == member_id:
            raise ConfigurationError(f"{member_id} cannot be its own bootstrap peer")
        tls.authority_pem(peer.organisation)
    name = member_id.partition("/")[2]
    config = render_join_config(
        name=name,
        member_id=member_id,
        listen_address=listen_address,
        grpc_address=grpc_address,
        http_address=http_address,
        peers=peers,
    )
    # Written beside the target and renamed into place: a failure leaves no half node folder.
    staging = home.parent / f".{home.name}.joining"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _write(staging / CONFIG_FILE_NAME, config.encode(), PUBLIC_FILE_MODE)
        _write(staging / GENESIS_FILE_NAME, _read(genesis_file, "genesis file"), PUBLIC_FILE_MODE)
        _write(staging / MEMBER_FILE_NAME, _read(member_path, "member file"), PUBLIC_FILE_MODE)
        _write(staging / KEY_FILE_NAME, key_pem, PRIVATE_FILE_MODE)
        _write(staging / TLS_DIRECTORY / TLS_KEY_FILE_NAME, tls_key, PRIVATE_FILE_MODE)
        _write(
            staging / TLS_DIRECTORY / TLS_CERTIFICATE_FILE_NAME, tls_certificate, PUBLIC_FILE_MODE
        )
        _write(staging / TLS_DIRECTORY / TLS_CA_BUNDLE_FILE_NAME, bundle, PUBLIC_FILE_MODE)
        os.chmod(staging, PRIVATE_DIRECTORY_MODE)
        if restore_snapshot is not None:
            restore_snapshot(staging, tuple(peers))
        if home.exists():
            home.rmdir()  # empty, checked above
        staging.rename(home)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return JoinedNode(
        home=home, name=name, member_id=member_id, chain_id=genesis.chain_id, peers=tuple(peers)
    )
