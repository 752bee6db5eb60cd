"""The start-up check (newest blocks, hash links, state root) and the full chain scan find a store
whose parts disagree, even when every record's checksum is right."""

from __future__ import annotations

from pathlib import Path

import pytest

from causeway.errors import StorageCorruptionError
from causeway.state import StateTree, root_node_key
from causeway.storage import (
    DATA_FILE_NAME,
    RECENT_BLOCKS_CHECKED,
    Store,
    check_recent_blocks,
    scan_chain,
    schema,
)
from causeway.types import encode
from causeway.types.v1 import types_pb2

from . import _builders as build
from . import _chain as chain
from .test_storage_integrity import raw_write

HEIGHTS = 10


@pytest.fixture
def chained(store_path: Path) -> Path:
    with Store(store_path, map_size_bytes=64 << 20) as store:
        chain.write_genesis(store)
        chain.extend(store, HEIGHTS)
    return store_path


def check(store_path: Path, blocks: int = RECENT_BLOCKS_CHECKED) -> str:
    """The start-up check's problem, without the part naming the store."""
    with Store(store_path) as store, pytest.raises(StorageCorruptionError) as raised:
        check_recent_blocks(store, chain.identity(), blocks)
    prefix = f"the store {store_path / DATA_FILE_NAME} failed its start-up check: "
    assert raised.value.message.startswith(prefix)
    return raised.value.message[len(prefix) :]


def scan(store_path: Path) -> list[str]:
    with Store(store_path) as store:
        return scan_chain(store, chain.identity()).problems


def put(store_path: Path, database: bytes, key: bytes, payload: bytes) -> None:
    """Replaces a record with a well-framed one: its checksum is right, its content is not."""
    raw_write(store_path, database, key, schema.encode_record(payload))


def header(store_path: Path, height: int) -> types_pb2.BlockHeader:
    with Store(store_path) as store:
        return store.get_header(height)


def test_a_consistent_chain_passes(chained: Path) -> None:
    with Store(chained) as store:
        assert check_recent_blocks(store, chain.identity()) == HEIGHTS
        report = scan_chain(store, chain.identity())
    assert (report.latest_height, report.blocks_checked, report.problems) == (HEIGHTS, HEIGHTS, [])
    # The genesis state, less the keys deleted since, plus the counter and the live items.
    assert report.state_entries_checked == len(build.genesis_state()) + 1 + 3


def test_a_genesis_only_store_passes(store_path: Path) -> None:
    with Store(store_path) as store:
        chain.write_genesis(store)
        assert check_recent_blocks(store, chain.identity()) == 0
        assert scan_chain(store, chain.identity()).problems == []


def test_a_stored_hash_that_is_not_the_headers(chained: Path) -> None:
    put(chained, schema.DB_BLOCK_HASHES, schema.encode_height(HEIGHTS), b"\x01" * 32)
    problem = (
        f"block {HEIGHTS}: its stored hash (causeway/v2/block_hashes) is not its header's hash"
    )
    assert check(chained) == problem
    assert problem in scan(chained)


def test_a_broken_hash_chain(chained: Path) -> None:
    """Block 9 rewritten with another parent, its hash record kept consistent with it."""
    changed = header(chained, 9)
    changed.previous_hash = b"\x02" * 32
    put(chained, schema.DB_HEADERS, schema.encode_height(9), encode(changed))
    put(chained, schema.DB_BLOCK_HASHES, schema.encode_height(9), build.sha256(encode(changed)))
    assert check(chained) == "block 9: its previous hash is not the hash of block 8"
    # Block 10 names the old block 9 as its parent: the link is broken on both sides.
    assert scan(chained) == [
        "block 9: its previous hash is not the hash of block 8",
        "block 10: its previous hash is not the hash of block 9",
    ]


def test_a_certificate_for_another_block(chained: Path) -> None:
    certificate = types_pb2.CommitCertificate(height=HEIGHTS, block_hash=b"\x03" * 32)
    put(chained, schema.DB_CERTIFICATES, schema.encode_height(HEIGHTS), encode(certificate))
    assert check(chained) == (
        f"block {HEIGHTS}: its certificate (causeway/v2/certificates) is for another block"
    )


def test_a_header_of_another_chain_or_genesis(chained: Path) -> None:
    changed = header(chained, HEIGHTS)
    changed.genesis_hash = b"\x04" * 32
    put(chained, schema.DB_HEADERS, schema.encode_height(HEIGHTS), encode(changed))
    assert check(chained) == f"block {HEIGHTS}: its header names another genesis"
    changed.chain_id = "another-chain"
    put(chained, schema.DB_HEADERS, schema.encode_height(HEIGHTS), encode(changed))
    assert check(chained) == (
        f"block {HEIGHTS}: it belongs to chain 'another-chain', not '{build.CHAIN_ID}'"
    )
    changed.height = 3
    put(chained, schema.DB_HEADERS, schema.encode_height(HEIGHTS), encode(changed))
    assert check(chained) == f"block {HEIGHTS}: its header says height 3"


def test_a_latest_height_that_went_back(chained: Path) -> None:
    """The newest block is stored but the latest-height record says one less: the node would
    commit that height again."""
    put(chained, schema.DB_META, schema.META_LATEST_HEIGHT, schema.encode_height(HEIGHTS - 1))
    assert check(chained) == (
        f"causeway/v2/headers holds height {HEIGHTS}, above the latest height {HEIGHTS - 1}"
    )
    assert scan(chained) == [
        *(
            f"causeway/v2/{name} holds height {HEIGHTS}, above the latest height {HEIGHTS - 1}"
            for name in ("headers", "block_hashes", "certificates", "block_entries")
        ),
        "state: the root recomputed from the 7 latest state entries does not match the state "
        f"root in block {HEIGHTS - 1}'s header",
    ]


def test_a_newest_block_that_was_lost(chained: Path) -> None:
    raw_write(chained, schema.DB_HEADERS, schema.encode_height(HEIGHTS), None)
    assert check(chained) == (
        f"causeway/v2/headers ends at height {HEIGHTS - 1}, below the latest height {HEIGHTS}"
    )


def test_a_state_tree_that_does_not_match_the_newest_header(chained: Path) -> None:
    """The root node of the newest version replaced by the previous version's."""
    with Store(chained) as store:
        older_root = store.get_state_node(root_node_key(HEIGHTS - 1))
    assert older_root is not None
    put(chained, schema.DB_STATE_NODES, root_node_key(HEIGHTS), older_root)
    problem = (
        f"state: the state tree's root at height {HEIGHTS} does not match the state root in "
        f"block {HEIGHTS}'s header"
    )
    assert check(chained) == problem
    assert scan(chained) == [problem]


def test_a_missing_state_root(chained: Path) -> None:
    raw_write(chained, schema.DB_STATE_NODES, root_node_key(HEIGHTS), None)
    assert check(chained) == f"state: state version {HEIGHTS} is pruned or not committed"


def test_the_genesis_state_root_is_checked(store_path: Path) -> None:
    with Store(store_path) as store:
        state = build.genesis_state()
        tree_update = StateTree(build.sha256, store).apply(0, {b"other": b"state"})
        store.save_genesis(build.GENESIS_BYTES, state, tree_update)
    assert (
        check(store_path) == "state: the state tree's root at height 0 does not match the genesis"
    )


def test_a_state_entry_rewritten_with_a_valid_checksum_is_found_by_the_scan(chained: Path) -> None:
    put(chained, schema.DB_STATE_LATEST, b"counter", schema.encode_height(HEIGHTS) + b"999")
    with Store(chained) as store:
        assert check_recent_blocks(store, chain.identity()) == HEIGHTS  # the cheap check
    assert scan(chained) == [
        "state: the root recomputed from the 7 latest state entries does not match the state "
        f"root in block {HEIGHTS}'s header"
    ]


@pytest.mark.parametrize(
    ("blocks", "caught"),
    [(HEIGHTS - 1, True), (HEIGHTS - 2, False)],
    ids=["at-the-limit", "one-past"],
)
def test_the_start_up_check_reads_the_newest_blocks_only(
    chained: Path, blocks: int, caught: bool
) -> None:
    """A damaged transaction of block 2 is caught when block 2 is among the newest `blocks`,
    and by the full scan in every case."""
    raw_write(chained, schema.DB_BLOCK_ENTRIES, schema.encode_position(2, 1), b"\x01garbage")
    if caught:
        assert check(chained, blocks) == (
            "corrupt record causeway/v2/block_entries[height=2, index=1]: checksum mismatch"
        )
    else:
        with Store(chained) as store:
            assert check_recent_blocks(store, chain.identity(), blocks) == HEIGHTS
    with Store(chained) as store:
        assert store.scan_integrity().problems == [
            "corrupt record causeway/v2/block_entries[height=2, index=1]: checksum mismatch"
        ]


def test_the_previous_block_outside_the_window_is_read_for_the_first_link(chained: Path) -> None:
    put(chained, schema.DB_BLOCK_HASHES, schema.encode_height(2), b"\x05" * 32)
    assert check(chained, HEIGHTS - 2) == "block 3: its previous hash is not the hash of block 2"
    with Store(chained) as store:
        assert check_recent_blocks(store, chain.identity(), HEIGHTS - 3) == HEIGHTS
