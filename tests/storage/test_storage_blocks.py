from __future__ import annotations

import threading
from pathlib import Path

import lmdb
import pytest

from causeway.errors import ConfigurationError, InvariantError, NotFoundError
from causeway.state import TreeUpdate
from causeway.storage import BlockRecord, Store, schema
from causeway.types.v1 import types_pb2

from . import _builders as build


def commit(store: Store, *heights: int) -> None:
    for height in heights:
        store.commit_block(build.record(height))


def test_empty_store_has_nothing(empty_store: Store) -> None:
    assert empty_store.latest_height() == 0
    assert empty_store.load_genesis() is None
    assert empty_store.get_state(b"counter") is None
    assert empty_store.get_meta("anything") is None
    with pytest.raises(NotFoundError):
        empty_store.get_block(1)


def test_genesis_round_trip_and_version_zero_state(store: Store) -> None:
    assert store.load_genesis() == build.GENESIS_BYTES
    assert store.latest_height() == 0
    for key, value in build.genesis_state().items():
        assert store.get_state(key) == value
        assert store.get_state(key, 0) == value
    for node_key, node in build.genesis_update().new_nodes.items():
        assert store.get_state_node(node_key) == node


def test_genesis_is_saved_only_once(store: Store) -> None:
    with pytest.raises(InvariantError, match="already has a genesis"):
        store.save_genesis(b"another genesis", {b"x": b"y"}, build.genesis_update())
    assert store.load_genesis() == build.GENESIS_BYTES
    assert store.get_state(b"x") is None


def test_genesis_tree_update_must_be_version_zero(empty_store: Store) -> None:
    with pytest.raises(InvariantError):
        empty_store.save_genesis(b"g", {}, TreeUpdate(version=1, root_hash=bytes(32)))
    assert empty_store.load_genesis() is None


def test_commit_needs_genesis(empty_store: Store) -> None:
    with pytest.raises(InvariantError, match="no genesis"):
        empty_store.commit_block(build.record(1))
    assert empty_store.latest_height() == 0


def test_block_round_trip(store: Store) -> None:
    commit(store, 1, 2)
    record = build.record(2)
    assert store.latest_height() == 2
    assert store.get_block(2) == record.block
    assert store.get_header(2) == record.block.header
    assert store.get_block_hash(2) == record.block_hash
    assert store.find_block_height(record.block_hash) == 2
    assert store.find_block_height(b"\x01" * 32) is None
    assert store.get_certificate(2) == record.certificate
    assert store.get_results(2) == record.results
    for index, transaction_id in enumerate(record.transaction_ids):
        assert store.find_transaction(transaction_id) == (2, index)
        assert store.get_transaction(2, index) == record.block.transactions[index]
        assert store.get_result(2, index) == record.results[index]
    assert store.get_block(1) == build.record(1).block


def test_block_encoding_is_preserved_byte_for_byte(store: Store) -> None:
    record = build.record(1, transactions=300)
    store.commit_block(record)
    assert store.get_block(1).SerializeToString(
        deterministic=True
    ) == record.block.SerializeToString(deterministic=True)


def test_empty_block(store: Store) -> None:
    store.commit_block(build.record(1, transactions=0, changes={}, nodes=0))
    block = store.get_block(1)
    assert block.header.height == 1
    assert list(block.transactions) == []
    assert store.get_results(1) == []


def test_missing_heights_raise_not_found(store: Store) -> None:
    commit(store, 1)
    for height in (0, 2, 99, -1):
        for read in (
            store.get_block,
            store.get_header,
            store.get_block_hash,
            store.get_certificate,
            store.get_results,
        ):
            with pytest.raises(NotFoundError):
                read(height)
    with pytest.raises(NotFoundError):
        store.get_transaction(1, 4)
    with pytest.raises(NotFoundError):
        store.get_result(1, -1)
    assert store.find_transaction(b"unknown") is None
    assert store.find_transaction(b"") is None


def test_has_transactions_batch(store: Store) -> None:
    commit(store, 1, 2)
    ids = [
        build.transaction_id(1, 0),
        b"\x00" * 32,
        build.transaction_id(2, 3),
        b"",
        b"x" * 600,
        build.transaction_id(3, 0),
    ]
    assert store.has_transactions(ids) == [True, False, True, False, False, False]
    assert store.has_transactions([]) == []


@pytest.mark.parametrize("height", [0, 1, 2, 4, 9])
def test_commit_refuses_a_height_that_is_not_next(store: Store, height: int) -> None:
    commit(store, 1, 2)
    wrong = build.record(height) if height else build.record(1)
    if height == 0:
        wrong.block.header.height = 0
    with pytest.raises(InvariantError):
        store.commit_block(wrong)
    assert_nothing_written(store, wrong, latest=2)


def assert_nothing_written(store: Store, record: BlockRecord, *, latest: int) -> None:
    assert store.latest_height() == latest
    assert store.get_block(latest) == build.record(latest).block
    height = record.block.header.height
    if height > latest:
        assert store.find_block_height(record.block_hash) is None
        assert not any(store.has_transactions(record.transaction_ids))
        for node_key in record.tree_update.new_nodes:
            assert store.get_state_node(node_key) is None
    assert store.get_state(b"counter") == b"%d" % latest
    assert store.verify_integrity() > 0


def test_commit_refuses_inconsistent_records_and_writes_nothing(store: Store) -> None:
    commit(store, 1)

    mismatched_certificate = build.record(2)
    mismatched_certificate.certificate.height = 3
    wrong_hash = build.record(2)
    wrong_hash.block_hash = b"\x07" * 32
    missing_result = build.record(2)
    missing_result.results.pop()
    wrong_count = build.record(2)
    wrong_count.block.header.transaction_count = 5
    wrong_result_id = build.record(2)
    wrong_result_id.results[1].transaction_id = b"\x01" * 32
    wrong_tree_version = build.record(2)
    wrong_tree_version.tree_update.version = 3
    wrong_state_root = build.record(2)
    wrong_state_root.tree_update.root_hash = b"\x02" * 32
    long_key = build.record(2, changes={b"k" * (schema.STATE_KEY_BYTES_MAX + 1): b"v"})
    empty_key = build.record(2, changes={b"": b"v"})
    empty_node_key = build.record(2)
    empty_node_key.tree_update.new_nodes[b""] = b"node"

    for bad in (
        mismatched_certificate,
        wrong_hash,
        missing_result,
        wrong_count,
        wrong_result_id,
        wrong_tree_version,
        wrong_state_root,
        long_key,
        empty_key,
        empty_node_key,
    ):
        with pytest.raises(InvariantError):
            store.commit_block(bad)
        assert_nothing_written(store, bad, latest=1)
    commit(store, 2)
    assert store.latest_height() == 2


def test_commit_refuses_a_transaction_already_committed(store: Store) -> None:
    commit(store, 1)
    replay = build.record(2)
    replay.transaction_ids[0] = build.transaction_id(1, 0)
    replay.results[0].transaction_id = build.transaction_id(1, 0)
    with pytest.raises(InvariantError, match="already exist"):
        store.commit_block(replay)
    assert_nothing_written(store, build.record(2), latest=1)
    assert store.find_transaction(build.transaction_id(1, 0)) == (1, 0)


def test_reopen_keeps_everything(store_path: Path) -> None:
    with Store(store_path) as store:
        store.save_genesis(build.GENESIS_BYTES, build.genesis_state(), build.genesis_update())
        commit(store, 1, 2, 3)
        store.put_meta("consensus/last_vote", b"vote 3")
    with Store(store_path) as store:
        assert store.latest_height() == 3
        assert store.load_genesis() == build.GENESIS_BYTES
        assert store.get_block(3) == build.record(3).block
        assert store.get_results(1) == build.record(1).results
        assert store.get_state(b"counter") == b"3"
        assert store.get_state(b"counter", 1) == b"1"
        assert store.get_meta("consensus/last_vote") == b"vote 3"
        commit(store, 4)
        assert store.latest_height() == 4


def test_meta_blobs(store: Store) -> None:
    store.put_meta("consensus", b"round 1")
    store.put_meta("consensus", b"round 2")
    store.put_meta("empty", b"")
    assert store.get_meta("consensus") == b"round 2"
    assert store.get_meta("empty") == b""
    assert store.get_meta("missing") is None
    # Named blobs cannot reach the store's own bookkeeping.
    store.put_meta("latest_height", b"\xff" * 8)
    assert store.latest_height() == 0
    with pytest.raises(InvariantError):
        store.put_meta("", b"x")
    with pytest.raises(InvariantError):
        store.put_meta("n" * 500, b"x")


def test_store_opened_twice_in_one_process_is_refused(store: Store, store_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        Store(store_path)


def test_closed_store_refuses_calls(store_path: Path) -> None:
    store = Store(store_path)
    store.close()
    store.close()
    with pytest.raises(InvariantError, match="closed"):
        store.latest_height()


def test_other_schema_version_is_refused(store_path: Path) -> None:
    with Store(store_path) as store:
        store.save_genesis(build.GENESIS_BYTES, {}, build.genesis_update())
    environment = lmdb.open(str(store_path), max_dbs=20)
    with environment.begin(write=True) as txn:
        meta = environment.open_db(schema.DB_META, txn=txn)
        txn.put(schema.META_SCHEMA_VERSION, schema.encode_record((4).to_bytes(8, "big")), db=meta)
    environment.close()
    with pytest.raises(ConfigurationError, match="schema version 4; this build reads 3"):
        Store(store_path)


def test_store_written_by_a_newer_schema_is_refused(store_path: Path) -> None:
    environment = lmdb.open(str(store_path), max_dbs=20)
    environment.open_db(b"causeway/v4/meta")
    environment.close()
    with pytest.raises(ConfigurationError, match="uses schema v4; this build reads schema v3"):
        Store(store_path)


def test_store_written_by_the_previous_schema_is_refused(store_path: Path) -> None:
    # Schema v1 kept state history by key and latest values without their version: not read,
    # not migrated (docs/storage.md).
    environment = lmdb.open(str(store_path), max_dbs=20)
    environment.open_db(b"causeway/v1/meta")
    environment.close()
    with pytest.raises(ConfigurationError, match="uses schema v1; this build reads schema v3"):
        Store(store_path)


def test_concurrent_readers_while_committing(store: Store) -> None:
    failures: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            seen = 0
            while not stop.is_set():
                latest = store.latest_height()
                assert latest >= seen
                seen = latest
                if latest:
                    assert store.get_block(latest).header.height == latest
                    assert store.has_transactions([build.transaction_id(latest, 0)]) == [True]
                    assert store.get_state(b"counter", latest) == b"%d" % latest
        except BaseException as error:  # reported to the main thread
            failures.append(error)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    try:
        commit(store, *range(1, 31))
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert failures == []
    assert store.latest_height() == 30


def test_concurrent_committers_cannot_both_commit_a_height(store: Store) -> None:
    outcomes: list[str] = []
    lock = threading.Lock()

    def commit_one() -> None:
        try:
            store.commit_block(build.record(1))
            outcome = "committed"
        except InvariantError:
            outcome = "refused"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=commit_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["committed", "refused", "refused", "refused"]
    assert store.latest_height() == 1


def test_transaction_result_with_unset_fields_round_trips(store: Store) -> None:
    record = build.record(1, transactions=1)
    record.results[0] = types_pb2.TransactionResult(transaction_id=record.transaction_ids[0])
    store.commit_block(record)
    assert store.get_results(1) == [record.results[0]]
