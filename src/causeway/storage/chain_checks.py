"""Checks that a store holds one consistent chain: the cheap start-up check and the full scan.

The record checksums (schema.py) catch a damaged record when it is read; these checks catch what
a checksum cannot: a store whose parts disagree with each other (a block whose stored hash is not
its header's, a broken hash chain, a latest-height record that lost a block, a state tree whose
root is not the newest header's state root). The start-up check reads only the newest few
blocks, so a node starts in the same time however long its chain; the full scan
(`causeway node verify`) reads everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from causeway.errors import CausewayError, StorageCorruptionError
from causeway.state import StateTree, compute_root
from causeway.storage.schema import (
    DB_BLOCK_ENTRIES,
    DB_BLOCK_HASHES,
    DB_CERTIFICATES,
    DB_HEIGHTS_BY_HASH,
)
from causeway.storage.store import DATA_FILE_NAME, Store
from causeway.types import HashFunction, block_hash

# Blocks the start-up check reads in full (header, hash, certificate, every transaction and
# result) and links by hash: enough to catch a damaged end of the chain, few enough that a
# start costs the same at any height.
RECENT_BLOCKS_CHECKED: Final = 8
# State entries read per batch when the full scan recomputes the state root.
STATE_ENTRIES_PER_READ: Final = 10_000


@dataclass(frozen=True)
class ChainIdentity:
    """What a store must hold to be this node's chain."""

    chain_id: str
    genesis_hash: bytes
    # The encoded genesis, as save_genesis stored it.
    genesis_bytes: bytes
    # The state root of version 0, computed from the genesis itself.
    genesis_state_root: bytes
    hash_function: HashFunction


@dataclass(frozen=True)
class ChainReport:
    """The outcome of scan_chain."""

    latest_height: int
    blocks_checked: int
    state_entries_checked: int
    problems: list[str]


def check_recent_blocks(
    store: Store, identity: ChainIdentity, blocks: int = RECENT_BLOCKS_CHECKED
) -> int:
    """The start-up check: the stored genesis, the newest `blocks` blocks read in full and
    linked by hash, and the state tree's root against the newest header. Returns the latest
    height; raises StorageCorruptionError naming the store and the first problem."""
    latest = store.latest_height()
    problems = _genesis_problems(store, identity)
    if not problems:
        problems = _height_problems(store, latest)
    if not problems:
        first = max(1, store.base_height(), latest - blocks + 1)
        problems = _block_problems(store, identity, first, latest, read_bodies=True)
    if not problems:
        problems = _state_root_problems(store, identity, latest)
    if problems:
        raise StorageCorruptionError(
            f"the store {store.path / DATA_FILE_NAME} failed its start-up check: {problems[0]}"
        )
    return latest


def scan_chain(store: Store, identity: ChainIdentity) -> ChainReport:
    """The full check beside Store.scan_integrity: every block's hash and links, and the state
    root recomputed from every latest state entry. Records are read one block at a time, so it
    can run beside a live node (checking up to the height it found when it began)."""
    latest = store.latest_height()
    problems = _genesis_problems(store, identity) + _height_problems(store, latest)
    first = max(1, store.base_height())
    problems += _block_problems(store, identity, first, latest, read_bodies=False)
    problems += _state_root_problems(store, identity, latest)
    entries = 0
    try:
        items: dict[bytes, bytes] = {}
        start_after = b""
        while True:
            batch = store.range_state(b"", start_after, STATE_ENTRIES_PER_READ)
            items.update(batch)
            if len(batch) < STATE_ENTRIES_PER_READ:
                break
            start_after = batch[-1][0]
        entries = len(items)
        expected = _expected_state_root(store, identity, latest)
        if compute_root(items, identity.hash_function) != expected:
            problems.append(
                f"state: the root recomputed from the {entries} latest state entries does not "
                f"match {_state_owner(latest)}"
            )
    except CausewayError as error:
        problems.append(f"state: {error.message}")
    return ChainReport(
        latest_height=latest,
        blocks_checked=latest - first + 1 if latest else 0,
        state_entries_checked=entries,
        problems=problems,
    )


def _genesis_problems(store: Store, identity: ChainIdentity) -> list[str]:
    try:
        stored = store.load_genesis()
    except StorageCorruptionError as error:
        return [error.message]
    if stored is None:
        return ["it holds no genesis"]
    if stored != identity.genesis_bytes:
        return ["its genesis differs from the node's genesis file"]
    return []


def _height_problems(store: Store, latest: int) -> list[str]:
    """Every per-height sub-database ends at the latest height: a block above it means the
    latest-height record went back, a missing one that the newest block was lost."""
    problems: list[str] = []
    for name, highest in store.highest_stored_heights().items():
        if highest > latest:
            problems.append(f"{name} holds height {highest}, above the latest height {latest}")
        elif highest < latest and name != DB_BLOCK_ENTRIES.decode():
            # An empty block has no entries, so only the other three must reach the latest.
            problems.append(f"{name} ends at height {highest}, below the latest height {latest}")
    return problems


def _block_problems(
    store: Store, identity: ChainIdentity, first: int, last: int, *, read_bodies: bool
) -> list[str]:
    problems: list[str] = []
    previous_hash: bytes | None = None
    bodies_from = store.bodies_from_height()
    # A store restored from a snapshot holds nothing below its base: its first block links to
    # nothing here (the snapshot's restore verified its header against its certificate).
    if first > max(1, store.base_height()):
        try:
            previous_hash = store.get_block_hash(first - 1)
        except CausewayError as error:
            problems.append(error.message)
    for height in range(first, last + 1):
        try:
            stored_hash = store.get_block_hash(height)
            header = store.get_header(height)
            certificate = store.get_certificate(height)
            if read_bodies and height >= bodies_from:
                # Reads every entry of the block (a transaction and its result under one
                # checksum) and checks their count against the header.
                store.get_block(height)
        except CausewayError as error:
            problems.append(error.message)
            previous_hash = None
            continue
        problem = None
        if header.height != height:
            problem = f"its header says height {header.height}"
        elif header.chain_id != identity.chain_id:
            problem = f"it belongs to chain {header.chain_id!r}, not {identity.chain_id!r}"
        elif header.genesis_hash != identity.genesis_hash:
            problem = "its header names another genesis"
        elif block_hash(header, identity.hash_function) != stored_hash:
            problem = f"its stored hash ({_describe(DB_BLOCK_HASHES)}) is not its header's hash"
        elif previous_hash is not None and header.previous_hash != previous_hash:
            problem = f"its previous hash is not the hash of block {height - 1}"
        elif certificate.height != height or certificate.block_hash != stored_hash:
            problem = f"its certificate ({_describe(DB_CERTIFICATES)}) is for another block"
        elif store.find_block_height(stored_hash) != height:
            problem = f"{_describe(DB_HEIGHTS_BY_HASH)} does not lead to it"
        if problem is not None:
            problems.append(f"block {height}: {problem}")
        previous_hash = stored_hash
    return problems


def _expected_state_root(store: Store, identity: ChainIdentity, latest: int) -> bytes:
    if latest == 0:
        return identity.genesis_state_root
    return store.get_header(latest).state_root


def _state_owner(latest: int) -> str:
    return "the genesis" if latest == 0 else f"the state root in block {latest}'s header"


def _state_root_problems(store: Store, identity: ChainIdentity, latest: int) -> list[str]:
    try:
        expected = _expected_state_root(store, identity, latest)
        root = StateTree(identity.hash_function, store).root_hash(latest)
    except CausewayError as error:
        return [f"state: {error.message}"]
    if root != expected:
        return [
            f"state: the state tree's root at height {latest} does not match {_state_owner(latest)}"
        ]
    return []


def _describe(database: bytes) -> str:
    return database.decode()
