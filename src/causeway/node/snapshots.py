"""Snapshots, backups and fetching a snapshot for a node home (`causeway node snapshot`,
`causeway node backup`, and the join path of `causeway node join`).

The verification itself is storage.snapshots (pure checks against what the node trusts); this
module finds the node's genesis, store and settings, and does the file and network I/O.

A running node is never stopped: its store is opened read-only beside it (LMDB lets several
processes read while one writes), a snapshot reads its state in one read transaction, and a
backup is LMDB's own copy, which runs inside one read transaction too, so both see one
committed height however many blocks the node commits meanwhile.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx

from causeway.api.v1 import api_pb2
from causeway.crypto import CryptoProfile, get_profile
from causeway.errors import (
    ConfigurationError,
    DecodeError,
    LimitExceededError,
    NodeUnavailableError,
    NotFoundError,
    ProofError,
)
from causeway.execution import get_config
from causeway.light import certificate_quorum
from causeway.node.config import NodeConfig, load_node_config
from causeway.node.startup import chain_identity, load_genesis
from causeway.storage import (
    DATA_FILE_NAME,
    ChainMarker,
    Store,
    load_marker,
    restore_chain_store,
    save_marker,
    store_folder,
)
from causeway.storage.archive import (
    ARCHIVED_BLOCK_BYTES_MAX,
    ArchiveReport,
    archive_blocks,
    check_archived_block,
    read_archived_block,
)
from causeway.storage.snapshots import (
    BASE_MANIFEST_META,
    CHUNK_BYTES_MAX,
    MANIFEST_BYTES_MAX,
    Snapshot,
    SnapshotTrust,
    base_manifest,
    create_snapshot,
    decode_manifest,
    read_snapshot_file,
    snapshot_base,
    verify_manifest,
    verify_snapshot,
    write_snapshot_file,
)
from causeway.types import decode, merkle_proof, transaction_id
from causeway.types.v1 import types_pb2

# Where a node keeps the snapshots it serves to joining nodes (`--out` of `snapshot create`
# may point there): DATA_DIR/snapshots/<height>.snapshot.
SNAPSHOTS_FOLDER_NAME: Final = "snapshots"
SNAPSHOT_SUFFIX: Final = ".snapshot"
FETCH_TIMEOUT_S_DEFAULT: Final = 30.0
# The JSON list of the snapshots a node serves (at most 16 entries): far below this.
LISTING_BYTES_MAX: Final = 1 << 20


@dataclass(frozen=True)
class RestoredSnapshot:
    """What a restore wrote: the height the store starts at and its block hash."""

    height: int
    block_hash: bytes
    state_entries: int


class _StateReader:
    """The snapshot's state as execution reads it (to find the chain's configuration)."""

    def __init__(self, state: Mapping[bytes, bytes]) -> None:
        self._state = state

    def get(self, key: bytes) -> bytes | None:
        return self._state.get(key)

    def range(self, prefix: bytes, start_after: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        keys = sorted(key for key in self._state if key.startswith(prefix) and key > start_after)
        return [(key, self._state[key]) for key in keys[:limit]]


def replay_window_ms(state: Mapping[bytes, bytes]) -> int:
    """The chain's transaction_expiry_max_ms in ``state``: how far back a transaction may still
    be submitted again, so how many recent blocks' ids a snapshot carries."""
    return int(get_config(_StateReader(state)).transaction_expiry_max_ms)


def snapshot_trust(
    genesis: types_pb2.Genesis, profile: CryptoProfile, trusted_block_hash: bytes | None = None
) -> SnapshotTrust:
    identity = chain_identity(genesis, profile)
    return SnapshotTrust(
        chain_id=genesis.chain_id,
        genesis_hash=identity.genesis_hash,
        genesis_bytes=identity.genesis_bytes,
        genesis_validators=genesis.validators,
        profile=profile,
        quorum=certificate_quorum(genesis.consensus),
        trusted_block_hash=trusted_block_hash,
        replay_window_ms=replay_window_ms,
    )


def _load(home: Path) -> tuple[NodeConfig, types_pb2.Genesis, CryptoProfile]:
    config = load_node_config(home)
    genesis = load_genesis(config.genesis_file)
    return config, genesis, get_profile(genesis.crypto_profile)


def _open_beside_node(config: NodeConfig) -> Store:
    """The node's store opened read-only: safe while the node runs in another process."""
    folder = store_folder(config.data_dir)
    if not (folder / DATA_FILE_NAME).is_file():
        raise ConfigurationError(f"no store in {folder}: has the node been started?")
    return Store(folder, read_only=True)


def create_node_snapshot(
    home: Path, out: Path | None = None, *, height: int | None = None
) -> tuple[Snapshot, Path]:
    """Writes the snapshot of the node in ``home`` at ``height`` (None: its latest) to ``out``
    (None: DATA_DIR/snapshots/HEIGHT.snapshot, which the node serves to joining nodes); the
    node may be running. Returns the snapshot and the file."""
    config, genesis, profile = _load(home)
    identity = chain_identity(genesis, profile)
    with _open_beside_node(config) as store:
        snapshot = create_snapshot(
            store,
            chain_id=genesis.chain_id,
            genesis_hash=identity.genesis_hash,
            profile=profile,
            height=height,
            replay_window_ms=replay_window_ms,
        )
    if out is None:
        out = snapshots_folder(config.data_dir) / f"{snapshot.manifest.height}{SNAPSHOT_SUFFIX}"
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_snapshot_file(Path(out), snapshot)
    return snapshot, Path(out)


def restore_snapshot(
    home: Path, snapshot: Snapshot, *, trusted_block_hash: bytes | None = None
) -> RestoredSnapshot:
    """Verifies ``snapshot`` against what the node in ``home`` trusts (its genesis, and the
    operator's block hash if given), then writes its store starting at the snapshot's height.
    Nothing is written when anything fails; a data folder that holds a chain is refused."""
    config, genesis, profile = _load(home)
    trust = snapshot_trust(genesis, profile, trusted_block_hash)
    verified = verify_snapshot(snapshot, trust)
    base = snapshot_base(verified, trust)
    history = base_manifest(verified.manifest)

    def write_base(store: Store) -> None:
        store.restore_base(base)
        store.put_meta(BASE_MANIFEST_META, history)

    restore_chain_store(
        config.data_dir,
        chain_identity(genesis, profile),
        write_base,
        map_size_bytes=config.map_size_bytes,
    )
    return RestoredSnapshot(
        height=verified.manifest.height,
        block_hash=verified.manifest.block_hash,
        state_entries=len(verified.state),
    )


def restore_snapshot_file(
    home: Path, path: Path, *, trusted_block_hash: bytes | None = None
) -> RestoredSnapshot:
    return restore_snapshot(home, read_snapshot_file(path), trusted_block_hash=trusted_block_hash)


def backup_node(home: Path, out: Path) -> int:
    """Copies the store of the node in ``home`` (running or not) to the data folder ``out``
    (``out/chain`` and its marker), compacted, as of one committed height; returns that height.
    A node whose config.toml names ``out`` as its data_dir starts from it. ``out`` must not hold
    a store already."""
    config, genesis, profile = _load(home)
    out = Path(out)
    target = store_folder(out)
    if target.exists() and any(target.iterdir()):
        raise ConfigurationError(f"{target} already holds a store: back up into a new folder")
    target.mkdir(parents=True, exist_ok=True)
    identity = chain_identity(genesis, profile)
    with _open_beside_node(config) as store:
        try:
            store.copy_to(target)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
    _sync_tree(target)
    marker = load_marker(config.data_dir) or ChainMarker(identity.chain_id, identity.genesis_hash)
    save_marker(out, marker)
    with Store(target, read_only=True) as copy:
        return copy.latest_height()


def _sync_tree(folder: Path) -> None:
    for path in folder.iterdir():
        with path.open("rb") as file:
            os.fsync(file.fileno())
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# ---------------------------------------------------------------------------------------------
# Archiving


def archive_node(home: Path, below_height: int, folder: Path) -> ArchiveReport:
    """Moves the bodies of the blocks below ``below_height`` of the node in ``home`` to files
    in ``folder`` (storage.archive); the node may be running (LMDB serialises the writers of
    its processes, and the node reads no old body to commit new blocks)."""
    config, _, _ = _load(home)
    folder_of_store = store_folder(config.data_dir)
    if not (folder_of_store / DATA_FILE_NAME).is_file():
        raise ConfigurationError(f"no store in {folder_of_store}: has the node been started?")
    with Store(folder_of_store, map_size_bytes=config.map_size_bytes, create=False) as store:
        return archive_blocks(store, below_height, folder)


def archived_transaction(
    home: Path, folder: Path, height: int, index: int
) -> api_pb2.GetTransactionResponse:
    """A transaction of an archived block with its result and their Merkle proofs, made from
    the archive file alone, as GetTransaction answers for a block the node holds. The header
    is checked against the block hash in the file and, when the node in ``home`` has a store,
    against the hash the store kept for that height (so a proof file from it checks against a
    header the chain certified)."""
    config, genesis, profile = _load(home)
    archived = read_archived_block(folder, height)
    header = check_archived_block(archived, profile.hash)
    if not 0 <= index < len(archived.transactions):
        raise NotFoundError(f"no transaction {index} in archived block {height}")
    folder_of_store = store_folder(config.data_dir)
    if (folder_of_store / DATA_FILE_NAME).is_file():
        with Store(folder_of_store, read_only=True) as store:
            if store.get_block_hash(height) != archived.block_hash:
                raise ProofError(
                    f"the archived block {height} is not the block the store holds at that height"
                )
    transactions = [
        decode(types_pb2.Transaction, data, bytes_max=ARCHIVED_BLOCK_BYTES_MAX)
        for data in archived.transactions
    ]
    ids = [transaction_id(transaction.body, profile.hash) for transaction in transactions]
    del genesis
    return api_pb2.GetTransactionResponse(
        height=height,
        index=index,
        transaction=transactions[index],
        result=types_pb2.TransactionResult.FromString(archived.results[index]),
        header=header,
        transaction_proof=merkle_proof(ids, index, profile.hash),
        result_proof=merkle_proof(list(archived.results), index, profile.hash),
    )


# ---------------------------------------------------------------------------------------------
# Serving and fetching over the HTTP gateway (api.snapshot_routes serves these files)


def snapshots_folder(data_dir: Path) -> Path:
    return Path(data_dir) / SNAPSHOTS_FOLDER_NAME


def secured_http_options(
    base_url: str, tls_ca_file: Path | None, access_token: Callable[[], str] | None
) -> dict[str, Any]:
    """httpx.Client options for reads of a node's secured HTTP API (docs/api.md, "Access"):
    its server certificate checked against the CAs of ``tls_ca_file``, and each request carrying
    ``Authorization: Bearer`` with a token from ``access_token`` (called per request: a token
    source renews its tokens). Tokens go over TLS only: with an http:// URL they are a
    ConfigurationError, as is a CA file that cannot be read."""
    options: dict[str, Any] = {}
    if access_token is not None and not base_url.startswith("https://"):
        raise ConfigurationError(
            f"access tokens are sent only over TLS: {base_url} is not https (give the node's "
            "TLS CA file)"
        )
    if tls_ca_file is not None:
        try:
            options["verify"] = ssl.create_default_context(cafile=str(tls_ca_file))
        except (OSError, ssl.SSLError) as error:
            raise ConfigurationError(f"cannot read TLS CA file {tls_ca_file}: {error}") from None
    if access_token is not None:
        token = access_token

        def authorize(request: httpx.Request) -> None:
            request.headers["authorization"] = f"Bearer {token()}"

        options["event_hooks"] = {"request": [authorize]}
    return options


def fetch_snapshot(
    address: str,
    home: Path,
    *,
    height: int | None = None,
    trusted_block_hash: bytes | None = None,
    timeout_s: float = FETCH_TIMEOUT_S_DEFAULT,
    tls_ca_file: Path | None = None,
    access_token: Callable[[], str] | None = None,
) -> RestoredSnapshot:
    """Downloads a snapshot from the node whose HTTP gateway is at ``address`` (host:port or
    a URL), verifies it against what the node in ``home`` trusts and restores it there (see
    restore_snapshot). ``height``: that snapshot (None: the newest the peer serves).
    A secured peer: ``tls_ca_file`` (host:port then means https) and ``access_token``
    (secured_http_options). NotFoundError when the peer serves none; NodeUnavailableError when
    it cannot be reached or refuses the reads; the errors of verify_snapshot for a snapshot
    that does not check out (nothing written)."""
    _, genesis, profile = _load(home)
    trust = snapshot_trust(genesis, profile, trusted_block_hash)
    scheme = "https" if tls_ca_file is not None else "http"
    base_url = address if "://" in address else f"{scheme}://{address}"
    options = secured_http_options(base_url, tls_ca_file, access_token)
    try:
        with httpx.Client(base_url=base_url, timeout=timeout_s, **options) as client:
            snapshot = download_snapshot(client, trust, height=height)
    except httpx.HTTPError as error:
        raise NodeUnavailableError(f"cannot fetch a snapshot from {address}: {error}") from None
    return restore_snapshot(home, snapshot, trusted_block_hash=trusted_block_hash)


def download_snapshot(
    client: httpx.Client, trust: SnapshotTrust, *, height: int | None = None
) -> Snapshot:
    """The snapshot ``client``'s node serves at ``height`` (None: its newest): the manifest is
    verified against ``trust`` (chain, header, validator sets) before any chunk is asked for,
    and no chunk may be longer than the manifest says (nor than CHUNK_BYTES_MAX). The rest is
    verified by verify_snapshot when it is restored."""
    if height is None:
        listing = _get_bounded(client, "/v1/snapshots", LISTING_BYTES_MAX)
        try:
            heights = [int(entry["height"]) for entry in json.loads(listing)["snapshots"]]
        except (ValueError, KeyError, TypeError) as error:
            raise DecodeError(f"the snapshot list is not one: {error!r}") from None
        if not heights:
            raise NotFoundError(f"the node at {client.base_url} serves no snapshot")
        height = max(heights)
    manifest = decode_manifest(
        _get_bounded(client, f"/v1/snapshots/{height}/manifest", MANIFEST_BYTES_MAX)
    )
    if manifest.height != height:
        raise ProofError(f"asked for the snapshot of height {height}, got {manifest.height}")
    verify_manifest(manifest, trust)
    chunks = [
        _get_bounded(
            client,
            f"/v1/snapshots/{height}/chunks/{index}",
            min(CHUNK_BYTES_MAX, description.bytes),
        )
        for index, description in enumerate(manifest.chunks)
    ]
    return Snapshot(manifest=manifest, chunks=chunks)


def _raise_for(response: httpx.Response, what: str) -> None:
    if response.status_code == 404:
        raise NotFoundError(f"{what}: not served ({response.text[:200]})")
    if response.status_code != 200:
        raise NodeUnavailableError(f"{what}: HTTP {response.status_code} {response.text[:200]}")


def _get_bounded(client: httpx.Client, path: str, bytes_max: int) -> bytes:
    """The body of GET path, refused as soon as it passes bytes_max."""
    with client.stream("GET", path) as response:
        if response.status_code != 200:
            response.read()
            _raise_for(response, path)
        parts: list[bytes] = []
        received = 0
        for part in response.iter_bytes():
            received += len(part)
            if received > bytes_max:
                raise LimitExceededError(f"{path}: more than {bytes_max} bytes")
            parts.append(part)
    return b"".join(parts)


__all__ = [
    "FETCH_TIMEOUT_S_DEFAULT",
    "SNAPSHOTS_FOLDER_NAME",
    "SNAPSHOT_SUFFIX",
    "RestoredSnapshot",
    "archive_node",
    "archived_transaction",
    "backup_node",
    "create_node_snapshot",
    "download_snapshot",
    "fetch_snapshot",
    "replay_window_ms",
    "restore_snapshot",
    "restore_snapshot_file",
    "secured_http_options",
    "snapshot_trust",
    "snapshots_folder",
]
