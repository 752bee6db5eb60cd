"""Archiving old blocks to a folder of files (`causeway node archive`; docs/storage.md,
"Archiving").

Each archived block becomes one file, ``DIR/<height, 20 digits>.block``: ARCHIVE_MAGIC, the
SHA-256 of the payload, then the payload, an ``ArchivedBlock`` (header, certificate, block hash,
and every transaction and result in the canonical bytes they were committed in). The files are
written and synced before the store drops anything, so a crash between the two leaves the
blocks in both places (archiving again rewrites the same files). The store keeps the headers,
certificates and transaction index: a transaction's proof is made from its file and checked
against the header the store (or any node) holds.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from causeway.errors import ConfigurationError, DecodeError, NotFoundError, StorageCorruptionError
from causeway.storage.store import Store
from causeway.storage.v1 import snapshot_pb2
from causeway.types import HashFunction, block_hash, decode, encode
from causeway.types.v1 import types_pb2

ARCHIVE_MAGIC: Final = b"CAUSEWAY-BLOCK\x00\x01"
ARCHIVE_SUFFIX: Final = ".block"
# One archived block: a block's transactions and results are bounded by block_bytes_max (and
# results by the gas that produced them); far below this.
ARCHIVED_BLOCK_BYTES_MAX: Final = 1 << 30
_DIGEST_BYTES = 32


@dataclass(frozen=True)
class ArchiveReport:
    """What archive_blocks did."""

    first_height: int
    below_height: int
    blocks: int
    entries_dropped: int


def archive_path(folder: Path, height: int) -> Path:
    return Path(folder) / f"{height:020d}{ARCHIVE_SUFFIX}"


def archive_blocks(store: Store, below_height: int, folder: Path) -> ArchiveReport:
    """Writes every block from the store's bodies height up to ``below_height`` (excluded) to
    ``folder``, synced, then drops their bodies from the store (Store.drop_bodies_below)."""
    folder = Path(folder)
    first = store.bodies_from_height()
    latest = store.latest_height()
    if below_height > latest:
        raise ConfigurationError(
            f"cannot archive below {below_height}: the latest height is {latest} (the newest "
            "block stays)"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigurationError(f"cannot create the archive folder {folder}: {error}") from None
    blocks = 0
    for height in range(first, below_height):
        entries = store.get_block_entries(height)
        archived = snapshot_pb2.ArchivedBlock(
            header=store.get_header(height),
            certificate=store.get_certificate(height),
            block_hash=store.get_block_hash(height),
            transactions=[transaction for transaction, _ in entries],
            results=[result for _, result in entries],
        )
        _write_file(archive_path(folder, height), encode(archived))
        blocks += 1
    if blocks:
        _sync_folder(folder)
    dropped = store.drop_bodies_below(below_height) if blocks else 0
    return ArchiveReport(
        first_height=first, below_height=below_height, blocks=blocks, entries_dropped=dropped
    )


def _write_file(path: Path, payload: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    try:
        with temporary.open("wb") as file:
            file.write(ARCHIVE_MAGIC + hashlib.sha256(payload).digest() + payload)
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(path)
    except OSError as error:
        raise ConfigurationError(f"cannot write the archive file {path}: {error}") from None


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_archived_block(folder: Path, height: int) -> snapshot_pb2.ArchivedBlock:
    """The archived block of ``height`` from ``folder``: NotFoundError when it has no file,
    StorageCorruptionError naming the file when its checksum, framing or contents are wrong
    (a damaged archive is never served)."""
    path = archive_path(folder, height)
    try:
        with path.open("rb") as file:
            data = file.read(len(ARCHIVE_MAGIC) + _DIGEST_BYTES + ARCHIVED_BLOCK_BYTES_MAX + 1)
    except FileNotFoundError:
        raise NotFoundError(f"block {height} is not in the archive {folder}") from None
    except OSError as error:
        raise ConfigurationError(f"cannot read the archive file {path}: {error}") from None
    head = len(ARCHIVE_MAGIC) + _DIGEST_BYTES
    if len(data) < head or not data.startswith(ARCHIVE_MAGIC):
        raise StorageCorruptionError(f"the archive file {path} is not an archived block")
    digest, payload = data[len(ARCHIVE_MAGIC) : head], data[head:]
    if hashlib.sha256(payload).digest() != digest:
        raise StorageCorruptionError(f"the archive file {path}: checksum mismatch")
    try:
        archived = decode(snapshot_pb2.ArchivedBlock, payload, bytes_max=ARCHIVED_BLOCK_BYTES_MAX)
    except DecodeError as error:
        raise StorageCorruptionError(f"the archive file {path}: {error.message}") from None
    header = archived.header
    if (
        header.height != height
        or archived.certificate.height != height
        or archived.certificate.block_hash != archived.block_hash
        or len(archived.transactions) != header.transaction_count
        or len(archived.results) != header.transaction_count
    ):
        raise StorageCorruptionError(f"the archive file {path}: its parts disagree")
    return archived


def check_archived_block(
    archived: snapshot_pb2.ArchivedBlock, hash_function: HashFunction
) -> types_pb2.BlockHeader:
    """The archived block's header once it hashes to the block hash it carries."""
    if block_hash(archived.header, hash_function) != archived.block_hash:
        raise StorageCorruptionError(
            f"the archived block {archived.header.height}: its header does not hash to its hash"
        )
    return archived.header
