"""Corruption is detected, named and never served.

Most tests flip one bit of a stored value in the LMDB data file itself, as a disk would, by
finding a unique marker that was written into exactly one kind of record.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import lmdb
import pytest

from causeway.errors import StorageCorruptionError
from causeway.state import TreeUpdate
from causeway.storage import BlockRecord, Store, schema
from causeway.storage import store as store_module

from . import _builders as build

MARKER = b"MARKER-7f3a9c-MARKER"


def flip_marker(store_path: Path) -> int:
    """Flips one bit inside every copy of MARKER in the data file; returns how many."""
    data_file = store_path / "data.mdb"
    data = bytearray(data_file.read_bytes())
    flipped = 0
    start = data.find(MARKER)
    while start >= 0:
        data[start + len(MARKER) // 2] ^= 0x01
        flipped += 1
        start = data.find(MARKER, start + 1)
    data_file.write_bytes(bytes(data))
    return flipped


def block_with_marker(place: str) -> BlockRecord:
    record = build.record(1)
    if place == "header":
        record.block.header.proposer = MARKER.decode()
        record.block_hash = build.sha256(record.block.header.SerializeToString())
        record.certificate.block_hash = record.block_hash
    elif place == "transaction":
        record.block.transactions[2].signature = MARKER
    elif place == "result":
        record.results[1].return_value = MARKER
    elif place == "certificate":
        record.certificate.signatures[0].signature = MARKER
    elif place == "state":
        record.state_changes = {b"marked": MARKER}
    elif place == "node":
        record.tree_update.new_nodes[build.node_key(1, 0)] = MARKER
    return record


READS: dict[str, Callable[[Store], object]] = {
    "header": lambda store: store.get_header(1),
    "transaction": lambda store: store.get_block(1),
    "result": lambda store: store.get_results(1),
    "certificate": lambda store: store.get_certificate(1),
    "state": lambda store: store.get_state(b"marked"),
    "node": lambda store: store.get_state_node(build.node_key(1, 0)),
}


@pytest.mark.parametrize("place", sorted(READS))
def test_flipped_bit_in_a_block_record_is_detected(store_path: Path, place: str) -> None:
    with Store(store_path) as store:
        store.save_genesis(build.GENESIS_BYTES, build.genesis_state(), build.genesis_update())
        store.commit_block(block_with_marker(place))
        READS[place](store)  # fine before the flip
        assert store.verify_integrity() > 0
    assert flip_marker(store_path) >= 1
    with Store(store_path) as store:
        with pytest.raises(StorageCorruptionError, match="corrupt record causeway/v2/"):
            READS[place](store)
        with pytest.raises(StorageCorruptionError, match="checksum mismatch"):
            store.verify_integrity()
        # Records that were not touched are still served.
        assert store.latest_height() == 1
        assert store.get_state(b"account/alice") == b"100"


def test_flipped_bit_in_state_history_is_detected(store_path: Path) -> None:
    with Store(store_path) as store:
        store.save_genesis(build.GENESIS_BYTES, {}, build.genesis_update())
        store.commit_block(block_with_marker("state"))
        store.commit_block(build.record(2, changes={b"marked": b"rewritten"}))
    assert flip_marker(store_path) >= 1
    with Store(store_path) as store:
        assert store.get_state(b"marked") == b"rewritten"
        with pytest.raises(
            StorageCorruptionError, match=r"state_history\[version=1, key=6d61726b6564\]"
        ):
            store.get_state(b"marked", 1)


def test_flipped_bit_in_genesis_and_meta_is_detected(store_path: Path) -> None:
    with Store(store_path) as store:
        store.save_genesis(MARKER + b" genesis", {}, TreeUpdate(version=0, root_hash=bytes(32)))
    assert flip_marker(store_path) >= 1
    with Store(store_path) as store, pytest.raises(StorageCorruptionError, match="store/genesis"):
        store.load_genesis()
    store_path = store_path.parent / "second"
    with Store(store_path) as store:
        store.put_meta("consensus", MARKER)
    assert flip_marker(store_path) >= 1
    with Store(store_path) as store:
        with pytest.raises(StorageCorruptionError, match="named/consensus"):
            store.get_meta("consensus")
        with pytest.raises(StorageCorruptionError):
            store.verify_integrity()


def raw_write(store_path: Path, database: bytes, key: bytes, value: bytes | None) -> None:
    environment = lmdb.open(str(store_path), max_dbs=len(schema.ALL_DATABASES))
    with environment.begin(write=True) as txn:
        db = environment.open_db(database, txn=txn)
        if value is None:
            txn.delete(key, db=db)
        else:
            txn.put(key, value, db=db)
    environment.close()


def filled_store(store_path: Path, heights: int = 3) -> None:
    with Store(store_path) as store:
        store.save_genesis(build.GENESIS_BYTES, build.genesis_state(), build.genesis_update())
        for height in range(1, heights + 1):
            store.commit_block(build.record(height))


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (b"", "shorter than the record header"),
        (b"\x02" + b"\x00" * 8, "unknown format version 2"),
        (schema.encode_record(b"\xff\xff not a header"), "not a valid BlockHeader"),
    ],
)
def test_malformed_records_are_named(store_path: Path, value: bytes, problem: str) -> None:
    filled_store(store_path)
    raw_write(store_path, schema.DB_HEADERS, schema.encode_height(2), value)
    with Store(store_path) as store:
        with pytest.raises(StorageCorruptionError, match=rf"headers\[height=2\]: .*{problem}"):
            store.get_header(2)
        with pytest.raises(StorageCorruptionError, match=problem):
            store.verify_integrity()
        assert store.get_header(3).height == 3


@pytest.mark.parametrize(
    ("index", "problem"),
    [(1, "transactions 1 to 1 of block 2 are missing"), (3, "block 2 has 3 of its 4 transactions")],
)
def test_missing_transaction_is_corruption_not_a_short_block(
    store_path: Path, index: int, problem: str
) -> None:
    filled_store(store_path)
    raw_write(store_path, schema.DB_BLOCK_ENTRIES, schema.encode_position(2, index), None)
    with Store(store_path) as store:
        with pytest.raises(StorageCorruptionError):
            store.get_block(2)
        with pytest.raises(StorageCorruptionError):
            store.get_results(2)
        with pytest.raises(StorageCorruptionError, match=problem):
            store.verify_integrity()


def test_missing_block_below_latest_is_reported(store_path: Path) -> None:
    filled_store(store_path)
    raw_write(store_path, schema.DB_CERTIFICATES, schema.encode_height(2), None)
    with Store(store_path) as store:
        with pytest.raises(StorageCorruptionError, match="missing below the latest height"):
            store.get_certificate(2)
        with pytest.raises(StorageCorruptionError, match=r"certificates\[height=3\]"):
            store.verify_integrity()


def test_corrupt_event_index_is_detected(store_path: Path) -> None:
    filled_store(store_path)
    key = schema.event_index_key(schema.contract_topic("directory"), 2)
    raw_write(store_path, schema.DB_EVENT_INDEX, key, schema.encode_record(b"\x00\x00\x00"))
    with Store(store_path) as store:
        with pytest.raises(StorageCorruptionError, match="event position list"):
            list(store.iterate_events((0, 0, 0), "directory", ""))
        with pytest.raises(StorageCorruptionError, match="event_index"):
            store.verify_integrity()


def test_verify_integrity_counts_every_record(store_path: Path) -> None:
    filled_store(store_path, heights=5)
    with Store(store_path) as store:
        checked = store.verify_integrity()
    environment = lmdb.open(str(store_path), max_dbs=len(schema.ALL_DATABASES), readonly=True)
    with environment.begin() as txn:
        total = sum(
            txn.stat(environment.open_db(name, txn=txn))["entries"] for name in schema.ALL_DATABASES
        )
    environment.close()
    assert checked == total


def test_verify_integrity_reads_in_bounded_chunks(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    filled_store(store_path, heights=6)
    with Store(store_path) as store:
        whole = store.verify_integrity()
        monkeypatch.setattr(store_module, "RECORDS_PER_VERIFY_READ", 3)
        assert store.verify_integrity() == whole
