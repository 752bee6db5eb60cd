"""A node's data folder: its store, and the marker that says a chain was initialised there.

LMDB keeps its list of sub-databases behind a root pointer in its meta pages. When that pointer
is damaged, LMDB sees an empty environment, and a store opened with "create if missing" looks
new: a node would write a genesis into it and start again at height 0, losing its chain. So:

* a genesis is written only into a folder that is verifiably empty (missing, or a folder with
  nothing in it), and only through a scratch folder renamed into place once the genesis is
  durable, so that the store folder never exists without a genesis;
* then a marker file outside LMDB, DATA_DIR/chain-initialised.json, records the chain id and
  genesis hash, written atomically and synced;
* a store with a marker is opened only as an existing store (Store(create=False)): if it lost
  its databases or its genesis, the node refuses to start, naming the file;
* a store without a marker but with this node's genesis (made before markers existed, or a
  crash between the rename and the marker) gets its marker once the start-up check passed.

Every store the node opens is then checked by chain_checks.check_recent_blocks.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from causeway.errors import ConfigurationError, StorageCorruptionError
from causeway.storage.chain_checks import ChainIdentity, check_recent_blocks
from causeway.storage.store import DATA_FILE_NAME, DEFAULT_MAP_SIZE_BYTES, Store

STORE_FOLDER_NAME: Final = "chain"
MARKER_FILE_NAME: Final = "chain-initialised.json"
# Where a genesis is written before the folder is renamed to STORE_FOLDER_NAME; what is left
# here by a crash never held more than a genesis, and is removed by the next start.
_SCRATCH_FOLDER_NAME: Final = "chain.initialising"
# Where a snapshot is restored before the folder is renamed to STORE_FOLDER_NAME.
_RESTORE_SCRATCH_FOLDER_NAME: Final = "chain.restoring"
MARKER_FORMAT_VERSION: Final = 1
MARKER_BYTES_MAX: Final = 4096


@dataclass(frozen=True)
class ChainMarker:
    """What the marker file records: which chain the data folder was initialised with."""

    chain_id: str
    genesis_hash: bytes


def store_folder(data_dir: Path) -> Path:
    return Path(data_dir) / STORE_FOLDER_NAME


def marker_file(data_dir: Path) -> Path:
    return Path(data_dir) / MARKER_FILE_NAME


def load_marker(data_dir: Path) -> ChainMarker | None:
    """The marker of a data folder, None when it has none; StorageCorruptionError when the
    file is there but is not a marker."""
    path = marker_file(data_dir)
    try:
        with path.open("rb") as file:
            data = file.read(MARKER_BYTES_MAX + 1)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise StorageCorruptionError(f"cannot read the marker {path}: {error}") from None
    if len(data) > MARKER_BYTES_MAX:
        raise StorageCorruptionError(
            f"the marker {path} is not a chain marker: larger than {MARKER_BYTES_MAX} bytes"
        )
    try:
        document = json.loads(data)
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        if document.get("format") != MARKER_FORMAT_VERSION:
            raise ValueError(f"format is {document.get('format')!r}, not {MARKER_FORMAT_VERSION}")
        chain_id = document.get("chain_id")
        genesis_hash_hex = document.get("genesis_hash")
        if not isinstance(chain_id, str) or not chain_id:
            raise ValueError("no chain_id")
        if not isinstance(genesis_hash_hex, str) or not genesis_hash_hex:
            raise ValueError("no genesis_hash")
        genesis_hash = bytes.fromhex(genesis_hash_hex)
    except ValueError as error:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise StorageCorruptionError(f"the marker {path} is not a chain marker: {error}") from None
    return ChainMarker(chain_id=chain_id, genesis_hash=genesis_hash)


def save_marker(data_dir: Path, marker: ChainMarker) -> None:
    """Writes the marker atomically (a synced temporary file renamed into place, then the
    folder synced), so that it is either absent or complete after a crash."""
    path = marker_file(data_dir)
    document = {
        "format": MARKER_FORMAT_VERSION,
        "chain_id": marker.chain_id,
        "genesis_hash": marker.genesis_hash.hex(),
        "store": STORE_FOLDER_NAME,
    }
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as file:
        file.write(json.dumps(document, indent=2).encode() + b"\n")
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)
    _sync_folder(path.parent)


def open_chain_store(
    data_dir: Path,
    identity: ChainIdentity,
    write_genesis: Callable[[Store], None],
    *,
    map_size_bytes: int = DEFAULT_MAP_SIZE_BYTES,
) -> Store:
    """The node's store in `data_dir`, initialised with the genesis when the folder is new,
    and checked (check_recent_blocks) in every case. It is opened as the store's sole writer
    (Store's sole_writer: look-ups by id through an index filter in memory): a node is the only
    process that commits to its store.

    `write_genesis(store)` writes the genesis into an empty store (Store.save_genesis). Raises
    StorageCorruptionError or ConfigurationError, naming the file, for a store that is not new
    but lost its databases or its genesis, belongs to another chain, or fails the check.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    marker = load_marker(data_dir)
    folder = store_folder(data_dir)
    if marker is not None:
        _check_marker(data_dir, marker, identity)
        store = _open_marked(data_dir, marker, map_size_bytes)
    elif _is_empty(folder):
        _initialise(data_dir, write_genesis, map_size_bytes)
        marker = ChainMarker(identity.chain_id, identity.genesis_hash)
        save_marker(data_dir, marker)
        store = _node_store(data_dir, map_size_bytes)
    else:
        store = _open_unmarked(data_dir, map_size_bytes)
    try:
        check_recent_blocks(store, identity)
        if marker is None:
            save_marker(data_dir, ChainMarker(identity.chain_id, identity.genesis_hash))
    except BaseException:
        store.close()
        raise
    return store


def restore_chain_store(
    data_dir: Path,
    identity: ChainIdentity,
    write_base: Callable[[Store], None],
    *,
    map_size_bytes: int = DEFAULT_MAP_SIZE_BYTES,
) -> None:
    """Writes the store of a new data folder from a snapshot instead of a genesis:
    ``write_base(store)`` writes it (Store.restore_base) into a scratch folder that is renamed
    into place once durable and has passed the start-up check, then the marker is written, as
    for a genesis. ConfigurationError, nothing written, when the folder already holds a store
    or a marker (a restore never replaces a chain: restore into a new data folder)."""
    data_dir = Path(data_dir)
    folder = store_folder(data_dir)
    if load_marker(data_dir) is not None or not _is_empty(folder):
        raise ConfigurationError(
            f"the data folder {data_dir} already holds a chain: a snapshot is restored only into "
            "a new data folder"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    scratch = data_dir / _RESTORE_SCRATCH_FOLDER_NAME
    if scratch.exists():
        shutil.rmtree(scratch)
    try:
        with Store(scratch, map_size_bytes=map_size_bytes) as store:
            write_base(store)
            check_recent_blocks(store, identity)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    _sync_folder(scratch)
    if folder.exists():
        folder.rmdir()
    scratch.rename(folder)
    _sync_folder(data_dir)
    save_marker(data_dir, ChainMarker(identity.chain_id, identity.genesis_hash))


def open_chain_store_for_reading(data_dir: Path) -> Store:
    """The store of `data_dir` opened read-only, as it is (for `causeway node verify`)."""
    return Store(store_folder(data_dir), read_only=True)


def _check_marker(data_dir: Path, marker: ChainMarker, identity: ChainIdentity) -> None:
    if marker.chain_id != identity.chain_id or marker.genesis_hash != identity.genesis_hash:
        raise ConfigurationError(
            f"the marker {marker_file(data_dir)} records chain {marker.chain_id!r} with genesis "
            f"{marker.genesis_hash.hex()[:16]}…, but the genesis file is for chain "
            f"{identity.chain_id!r} with genesis {identity.genesis_hash.hex()[:16]}…"
        )


def _open_marked(data_dir: Path, marker: ChainMarker, map_size_bytes: int) -> Store:
    """A store the marker says was initialised: refused, never made new, when it is gone."""
    refusal = (
        f"the marker {marker_file(data_dir)} records that chain {marker.chain_id!r} was "
        "initialised there: refusing to start a new chain"
    )
    try:
        store = _node_store(data_dir, map_size_bytes)
    except StorageCorruptionError as error:
        raise StorageCorruptionError(f"{error.message}, but {refusal}") from None
    if store.load_genesis() is None:
        store.close()
        raise StorageCorruptionError(
            f"the store {store_folder(data_dir) / DATA_FILE_NAME} holds no genesis, but {refusal}"
        )
    return store


def _open_unmarked(data_dir: Path, map_size_bytes: int) -> Store:
    """A store folder that is not empty and has no marker: used only if it holds a genesis."""
    refusal = (
        f"the folder is not new and has no marker {marker_file(data_dir)}: refusing to write a "
        "genesis into it"
    )
    try:
        store = _node_store(data_dir, map_size_bytes)
    except StorageCorruptionError as error:
        raise StorageCorruptionError(f"{error.message}; {refusal}") from None
    if store.load_genesis() is None:
        store.close()
        raise StorageCorruptionError(
            f"the store {store_folder(data_dir) / DATA_FILE_NAME} holds no genesis; {refusal}"
        )
    return store


def _node_store(data_dir: Path, map_size_bytes: int) -> Store:
    """The existing store in `data_dir`, opened as its sole writer (the node's own)."""
    return Store(
        store_folder(data_dir), map_size_bytes=map_size_bytes, create=False, sole_writer=True
    )


def _initialise(data_dir: Path, write_genesis: Callable[[Store], None], map_size: int) -> None:
    scratch = data_dir / _SCRATCH_FOLDER_NAME
    if scratch.exists():
        shutil.rmtree(scratch)
    with Store(scratch, map_size_bytes=map_size) as store:
        write_genesis(store)
        if store.load_genesis() is None:
            raise StorageCorruptionError(f"the genesis written to {scratch} cannot be read back")
    _sync_folder(scratch)
    folder = store_folder(data_dir)
    if folder.exists():
        folder.rmdir()  # verifiably empty (checked by the caller); rmdir refuses anything else
    scratch.rename(folder)
    _sync_folder(data_dir)


def _is_empty(folder: Path) -> bool:
    """Missing, or a folder with nothing in it."""
    if not folder.exists() and not folder.is_symlink():
        return True
    if not folder.is_dir():
        return False
    with os.scandir(folder) as entries:
        return next(entries, None) is None


def _sync_folder(path: Path) -> None:
    """fsync a folder, so that a rename or a new file in it survives a crash."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
