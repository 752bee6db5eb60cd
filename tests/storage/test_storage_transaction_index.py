"""The transaction index in two parts: ids wait per block in recent_transaction_ids (appended)
and move into transaction_index in sorted batches; every lookup sees both."""

from __future__ import annotations

from pathlib import Path

import pytest

from causeway.errors import InvariantError, StorageCorruptionError
from causeway.storage import Store, schema
from causeway.storage import store as store_module

from . import _builders as build

TRANSACTIONS = 4


def entries(store: Store, database: bytes) -> int:
    with store._read() as txn:
        return int(txn.stat(store._handles[database])["entries"])


def all_ids(heights: range) -> list[tuple[bytes, tuple[int, int]]]:
    return [
        (build.transaction_id(height, index), (height, index))
        for height in heights
        for index in range(TRANSACTIONS)
    ]


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ids move once 3 blocks' worth (12) wait.
    monkeypatch.setattr(store_module, "RECENT_TRANSACTION_IDS_MIN", 3 * TRANSACTIONS)


@pytest.mark.usefixtures("small_batches")
@pytest.mark.parametrize(
    ("heights", "waiting_blocks", "indexed"),
    [(2, 2, 0), (3, 0, 12), (4, 1, 12)],
    ids=["below-the-limit", "at-the-limit", "one-past"],
)
def test_ids_move_into_the_index_when_enough_wait(
    store: Store, heights: int, waiting_blocks: int, indexed: int
) -> None:
    for height in range(1, heights + 1):
        store.commit_block(build.record(height, transactions=TRANSACTIONS))
    assert entries(store, schema.DB_RECENT_TRANSACTION_IDS) == waiting_blocks
    assert entries(store, schema.DB_TRANSACTION_INDEX) == indexed
    for transaction_id, position in all_ids(range(1, heights + 1)):
        assert store.find_transaction(transaction_id) == position
    ids = [transaction_id for transaction_id, _ in all_ids(range(1, heights + 2))]
    assert store.has_transactions(ids) == [True] * heights * TRANSACTIONS + [False] * TRANSACTIONS
    assert store.verify_integrity() > 0


@pytest.mark.usefixtures("small_batches")
def test_the_batch_grows_with_the_index(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch is at least a quarter of what the index holds: with 36 indexed, ids move once 9
    wait (at the limit), not at 8 (one below)."""
    for height in range(1, 10):
        store.commit_block(build.record(height, transactions=TRANSACTIONS))
    assert entries(store, schema.DB_TRANSACTION_INDEX) == 36
    monkeypatch.setattr(store_module, "RECENT_TRANSACTION_IDS_MIN", 1)
    store.commit_block(build.record(10, transactions=TRANSACTIONS))
    store.commit_block(build.record(11, transactions=TRANSACTIONS))
    assert entries(store, schema.DB_TRANSACTION_INDEX) == 36  # 8 waiting < 36 // 4
    store.commit_block(build.record(12, transactions=1))
    assert entries(store, schema.DB_TRANSACTION_INDEX) == 36 + 9  # 9 waiting
    assert entries(store, schema.DB_RECENT_TRANSACTION_IDS) == 0
    for transaction_id, position in all_ids(range(1, 12)):
        assert store.find_transaction(transaction_id) == position
    assert store.find_transaction(build.transaction_id(12, 0)) == (12, 0)


@pytest.mark.usefixtures("small_batches")
@pytest.mark.parametrize("replayed_height", [1, 4], ids=["moved", "waiting"])
def test_a_replay_is_refused_wherever_its_id_is(store: Store, replayed_height: int) -> None:
    for height in range(1, 5):
        store.commit_block(build.record(height, transactions=TRANSACTIONS))
    replay = build.record(5, transactions=TRANSACTIONS)
    replay.transaction_ids[2] = build.transaction_id(replayed_height, 1)
    replay.results[2].transaction_id = build.transaction_id(replayed_height, 1)
    with pytest.raises(InvariantError) as raised:
        store.commit_block(replay)
    assert raised.value.message == (
        "1 transaction id record(s) of this block already exist in the store"
    )
    assert store.latest_height() == 4
    assert store.find_transaction(build.transaction_id(5, 0)) is None


def test_an_id_twice_in_one_block_is_refused(store: Store) -> None:
    record = build.record(1, transactions=TRANSACTIONS)
    record.transaction_ids[3] = record.transaction_ids[0]
    record.results[3].transaction_id = record.transaction_ids[0]
    with pytest.raises(InvariantError) as raised:
        store.commit_block(record)
    assert raised.value.message == (
        "1 transaction id record(s) of this block already exist in the store"
    )
    assert store.latest_height() == 0


@pytest.mark.usefixtures("small_batches")
def test_a_reopened_store_finds_waiting_and_moved_ids(store: Store, store_path: Path) -> None:
    for height in range(1, 6):
        store.commit_block(build.record(height, transactions=TRANSACTIONS))
    store.close()
    with Store(store_path, read_only=True) as reopened:
        for transaction_id, position in all_ids(range(1, 6)):
            assert reopened.find_transaction(transaction_id) == position


def test_a_damaged_waiting_list_is_reported(store: Store) -> None:
    store.commit_block(build.record(1, transactions=TRANSACTIONS))
    store.close()
    with Store(store.path) as reopened:  # nothing decoded yet
        with reopened._write() as txn:
            txn.put(
                schema.encode_height(1),
                schema.encode_record(b"\x00\x00\x00\x09"),
                db=reopened._handles[schema.DB_RECENT_TRANSACTION_IDS],
            )
        reason = "corrupt record causeway/v2/recent_transaction_ids[height=1]: truncated key list"
        with pytest.raises(StorageCorruptionError) as raised:
            reopened.find_transaction(build.transaction_id(1, 0))
        assert raised.value.message == reason
        assert reopened.scan_integrity().problems == [reason]


@pytest.mark.usefixtures("small_batches")
def test_a_reader_with_an_older_snapshot_still_finds_ids_that_moved(store: Store) -> None:
    """Decoded waiting ids are only ever added by reads: a reader that began before a move sees
    the waiting records of its snapshot, and no read drops ids another reader still needs."""
    for height in (1, 2):
        store.commit_block(build.record(height, transactions=TRANSACTIONS))
    with store._read() as older:
        store.commit_block(build.record(3, transactions=TRANSACTIONS))  # moves 12 ids
        assert entries(store, schema.DB_RECENT_TRANSACTION_IDS) == 0
        heights, positions = store._recent(older)
        assert heights == [1, 2]
        assert positions[build.transaction_id(2, 3)] == (2, 3)
    store.commit_block(build.record(4, transactions=TRANSACTIONS))
    for transaction_id, position in all_ids(range(1, 5)):
        assert store.find_transaction(transaction_id) == position
    assert store.has_transactions([build.transaction_id(4, 0), b"\x01" * 32]) == [True, False]
