"""A small chain whose blocks link by hash and whose state roots come from a real state tree, for
the start-up checks (the records of _builders.py are deterministic but not chained)."""

from __future__ import annotations

import struct
from pathlib import Path

from causeway.state import StateTree, compute_root
from causeway.storage import ChainIdentity, Store, schema
from causeway.types import encode

from . import _builders as build

PAGE_BYTES = 4096
# LMDB's meta pages are pages 0 and 1 of data.mdb. After the 16-byte page header comes MDB_meta
# (lmdb's mdb.c): mm_magic u32, mm_version u32, mm_address (8), mm_mapsize (8), then
# mm_dbs[FREE_DBI] and mm_dbs[MAIN_DBI], 48 bytes each (md_pad u32, md_flags u16, md_depth u16,
# md_branch_pages, md_leaf_pages, md_overflow_pages, md_entries, md_root: 8 bytes each), then
# mm_last_pg and mm_txnid. The main database (the list of sub-databases) has its root at
# 16 + 24 + 48 + 40 = 128; 64-bit little-endian build.
META_MAGIC_OFFSET = 16
META_MAIN_ROOT_OFFSET = 128
META_TRANSACTION_ID_OFFSET = 144
LMDB_MAGIC = 0xBEEFC0DE
ROOT_NONE = 0xFFFF_FFFF_FFFF_FFFF  # LMDB's P_INVALID: an empty tree


def identity() -> ChainIdentity:
    return ChainIdentity(
        chain_id=build.CHAIN_ID,
        genesis_hash=build.sha256(build.GENESIS_BYTES),
        genesis_bytes=build.GENESIS_BYTES,
        genesis_state_root=compute_root(build.genesis_state(), build.sha256),
        hash_function=build.sha256,
    )


def write_genesis(store: Store) -> None:
    state = build.genesis_state()
    store.save_genesis(build.GENESIS_BYTES, state, StateTree(build.sha256, store).apply(0, state))


def extend(store: Store, heights: int) -> None:
    """Commits `heights` chained blocks after the latest one (the genesis must be saved)."""
    tree = StateTree(build.sha256, store)
    latest = store.latest_height()
    previous_hash = store.get_block_hash(latest) if latest else bytes(32)
    for height in range(latest + 1, latest + heights + 1):
        record = build.record(height)
        update = tree.apply(height, record.state_changes)
        header = record.block.header
        header.previous_hash = previous_hash
        header.state_root = update.root_hash
        record.block_hash = build.sha256(encode(header))
        record.certificate.block_hash = record.block_hash
        record.tree_update = update
        store.commit_block(record)
        tree.committed(update)
        previous_hash = record.block_hash


def meta_roots(data_file: Path) -> list[int]:
    """The main database's root page in each meta page (checking that they are meta pages)."""
    data = data_file.read_bytes()
    roots = []
    for page in (0, 1):
        base = page * PAGE_BYTES
        assert struct.unpack_from("<I", data, base + META_MAGIC_OFFSET)[0] == LMDB_MAGIC
        roots.append(struct.unpack_from("<Q", data, base + META_MAIN_ROOT_OFFSET)[0])
    return roots


def set_meta_roots(data_file: Path, root: int | None, flip: int = 0) -> None:
    """Sets (root) or flips bits of the low byte (flip) of both meta pages' main root."""
    data = bytearray(data_file.read_bytes())
    for page in (0, 1):
        offset = page * PAGE_BYTES + META_MAIN_ROOT_OFFSET
        if root is not None:
            struct.pack_into("<Q", data, offset, root)
        data[offset] ^= flip
    data_file.write_bytes(bytes(data))


_DATABASES = len(schema.ALL_DATABASES)
# What Store(create=False) says of a store whose list of sub-databases is gone.
LOST_DATABASES = (
    f"has lost its databases: {_DATABASES} of {_DATABASES} are missing, "
    f"{schema.DB_META.decode()} first"
)
