"""The transaction index in two parts: ids wait per block in recent_transaction_ids (appended)
and move into transaction_runs in sorted runs; every lookup sees both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from causeway.crypto.hashing import sha256
from causeway.errors import ConfigurationError, InvariantError, StorageCorruptionError
from causeway.storage import BlockRecord, Store, schema
from causeway.storage import store as store_module
from causeway.storage.latest_values import LatestValues

from . import _builders as build

TRANSACTIONS = 4


def entries(store: Store, database: bytes) -> int:
    with store._read() as txn:
        return int(txn.stat(store._handles[database])["entries"])


def indexed(store: Store) -> list[tuple[int, bytes]]:
    """(run height, id) of every key of transaction_runs, in key order."""
    with store._read() as txn:
        return [
            schema.decode_run_key(bytes(key))
            for key in txn.cursor(store._transaction_runs).iternext(values=False)
        ]


def all_ids(heights: range) -> list[tuple[bytes, tuple[int, int]]]:
    return [
        (build.transaction_id(height, index), (height, index))
        for height in heights
        for index in range(TRANSACTIONS)
    ]


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ids move once 3 blocks' worth (12) wait, all in the commit that starts the move (the
    # slices have tests of their own below).
    monkeypatch.setattr(store_module, "RECENT_TRANSACTION_IDS_MIN", 3 * TRANSACTIONS)
    monkeypatch.setattr(store_module, "TRANSACTION_INDEX_MERGE_SLICES", 1)


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
    assert entries(store, schema.DB_TRANSACTION_RUNS) == indexed
    for transaction_id, position in all_ids(range(1, heights + 1)):
        assert store.find_transaction(transaction_id) == position
    ids = [transaction_id for transaction_id, _ in all_ids(range(1, heights + 2))]
    assert store.has_transactions(ids) == [True] * heights * TRANSACTIONS + [False] * TRANSACTIONS
    assert store.verify_integrity() > 0


@pytest.mark.usefixtures("small_batches")
def test_every_move_is_a_run_of_its_own_height(store: Store) -> None:
    """Moves keep their size however many ids the runs hold (with 24 indexed, the next 12
    move, not more), and each is written under the last height it moves, after every key
    written before it: no run is rewritten."""
    for height in range(1, 10):
        store.commit_block(build.record(height, transactions=TRANSACTIONS))
        if height == 6:
            before = indexed(store)
    runs = indexed(store)
    assert runs[: len(before)] == before
    assert runs == sorted(runs)
    assert runs == sorted(
        (3 * ((height - 1) // 3 + 1), transaction_id)
        for transaction_id, (height, _) in all_ids(range(1, 10))
    )
    assert entries(store, schema.DB_RECENT_TRANSACTION_IDS) == 0
    for transaction_id, position in all_ids(range(1, 10)):
        assert store.find_transaction(transaction_id) == position
    assert store.verify_integrity() > 0


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
@pytest.mark.parametrize(
    ("read_only", "sole_writer"),
    [(True, False), (False, False), (False, True)],
    ids=["read-only", "writable", "sole-writer"],
)
def test_a_reopened_store_finds_waiting_and_moved_ids(
    store: Store, store_path: Path, read_only: bool, sole_writer: bool
) -> None:
    """The sole writer builds its index filter from the moved ids when it opens (the others
    read the index): each finds every id, and a writable one refuses their replays."""
    for height in range(1, 6):
        store.commit_block(build.record(height, transactions=TRANSACTIONS))
    assert entries(store, schema.DB_TRANSACTION_RUNS) == 12
    store.close()
    with Store(store_path, read_only=read_only, sole_writer=sole_writer) as reopened:
        for transaction_id, position in all_ids(range(1, 6)):
            assert reopened.find_transaction(transaction_id) == position
        ids = [transaction_id for transaction_id, _ in all_ids(range(1, 7))]
        assert reopened.has_transactions(ids) == [True] * 5 * TRANSACTIONS + [False] * TRANSACTIONS
        if not read_only:
            replay = build.record(6, transactions=TRANSACTIONS)
            replay.transaction_ids[2] = build.transaction_id(2, 1)  # moved before the restart
            replay.results[2].transaction_id = build.transaction_id(2, 1)
            with pytest.raises(InvariantError) as raised:
                reopened.commit_block(replay)
            assert raised.value.message == (
                "1 transaction id record(s) of this block already exist in the store"
            )
            assert reopened.latest_height() == 5


def test_a_read_only_store_cannot_be_the_sole_writer(store: Store, store_path: Path) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Store(store_path, read_only=True, sole_writer=True)
    assert raised.value.message == (f"a read-only store cannot be the sole writer of {store_path}")
    assert store.latest_height() == 0  # the open store is untouched


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
    """A reader that began before a move sees the waiting records of its snapshot; the decoded
    copy does not take them back (it keeps only a run of blocks newer than the move)."""
    for height in (1, 2):
        store.commit_block(build.record(height, transactions=TRANSACTIONS))
    with store._read() as older:
        store.commit_block(build.record(3, transactions=TRANSACTIONS))  # moves 12 ids
        assert entries(store, schema.DB_RECENT_TRANSACTION_IDS) == 0
        blocks, positions = store._recent(older)
        assert [height for height, _ in blocks] == [1, 2]
        assert store_module._unpacked_position(positions[build.transaction_id(2, 3)]) == (2, 3)
        assert list(store._recent_ids) == []
    store.commit_block(build.record(4, transactions=TRANSACTIONS))
    assert list(store._recent_ids) == [4]
    for transaction_id, position in all_ids(range(1, 5)):
        assert store.find_transaction(transaction_id) == position
    assert store.has_transactions([build.transaction_id(4, 0), b"\x01" * 32]) == [True, False]


@pytest.mark.usefixtures("small_batches")
def test_positions_taken_before_a_move_keep_the_ids_it_moved(store: Store) -> None:
    """The move's last commit replaces the positions rather than emptying them: a reader that
    took them under an older snapshot (whose index lacks the moved ids) still finds them."""
    for height in (1, 2):
        store.commit_block(build.record(height, transactions=TRANSACTIONS))
    with store._read() as older:
        _, positions = store._recent(older)
        store.commit_block(build.record(3, transactions=TRANSACTIONS))  # moves 12 ids
        assert store._recent_positions is not positions
        assert store_module._unpacked_position(positions[build.transaction_id(1, 0)]) == (1, 0)
        assert build.transaction_id(1, 0) not in store._recent_positions


class _CountingCursor:
    def __init__(self, cursor: Any, steps: list[str]) -> None:
        self._cursor = cursor
        self._steps = steps

    def __getattr__(self, name: str) -> Any:
        self._steps.append(name)
        return getattr(self._cursor, name)


class _CountingTransaction:
    """An LMDB transaction whose cursors note each call: py-lmdb lets go of the GIL on every
    one, so the number of cursor calls a lookup makes is what it costs a loaded node."""

    def __init__(self, txn: Any) -> None:
        self._txn = txn
        self.steps: list[str] = []

    def cursor(self, db: Any) -> _CountingCursor:
        return _CountingCursor(self._txn.cursor(db), self.steps)


def recent_steps(store: Store) -> tuple[list[str], list[int]]:
    with store._read() as txn:
        counting = _CountingTransaction(txn)
        blocks, _ = store._recent(counting)  # type: ignore[arg-type]
        return counting.steps, [height for height, _ in blocks]


def test_lookups_read_two_keys_once_the_waiting_blocks_are_decoded(
    store: Store, store_path: Path
) -> None:
    """However many blocks wait, a lookup reads the lowest and highest waiting heights only;
    the walk over every waiting record is for the first lookup after a start."""
    for height in range(1, 9):
        store.commit_block(build.record(height, transactions=TRANSACTIONS))
    assert recent_steps(store) == (["first", "key", "last", "key"], list(range(1, 9)))
    store.close()
    with Store(store_path) as reopened:
        steps, heights = recent_steps(reopened)
        assert steps.count("iternext") == 1 and steps.count("value") == 8
        assert heights == list(range(1, 9))
        assert recent_steps(reopened) == (["first", "key", "last", "key"], list(range(1, 9)))
        for transaction_id, position in all_ids(range(1, 9)):
            assert reopened.find_transaction(transaction_id) == position


def test_a_block_read_before_its_writer_remembers_it_is_found(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between a commit and the writer's _remember_recent, a reader sees a block the decoded
    copy lacks: it reads that block's record and adds it, as the next block in the run."""
    for height in (1, 2):
        store.commit_block(build.record(height, transactions=TRANSACTIONS))
    monkeypatch.setattr(Store, "_remember_recent", lambda self, height, ids: None)
    store.commit_block(build.record(3, transactions=TRANSACTIONS))
    assert list(store._recent_ids) == [1, 2]
    assert store.find_transaction(build.transaction_id(3, 2)) == (3, 2)
    assert list(store._recent_ids) == [1, 2, 3]
    monkeypatch.undo()
    store.commit_block(build.record(4, transactions=TRANSACTIONS))
    assert list(store._recent_ids) == [1, 2, 3, 4]
    assert recent_steps(store) == (["first", "key", "last", "key"], [1, 2, 3, 4])


# --- a move in slices ---------------------------------------------------------------------------

SLICES = 4


@pytest.fixture
def sliced(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ids start moving once 3 blocks' worth wait, a quarter of the id space a commit.
    monkeypatch.setattr(store_module, "RECENT_TRANSACTION_IDS_MIN", 3 * TRANSACTIONS)
    monkeypatch.setattr(store_module, "TRANSACTION_INDEX_MERGE_SLICES", SLICES)


def in_slice(transaction_id: bytes, number: int) -> bool:
    return 256 * number // SLICES <= transaction_id[0] < 256 * (number + 1) // SLICES


def merge_state(store: Store) -> tuple[int | None, int | None]:
    with store._read() as txn:
        return (
            store._get_meta_int(txn, schema.META_INDEX_MERGE_THROUGH),
            store._get_meta_int(txn, schema.META_INDEX_MERGE_SLICE),
        )


def assert_every_id_found(store: Store, heights: range) -> None:
    for transaction_id, position in all_ids(heights):
        assert store.find_transaction(transaction_id) == position
    unknown = build.transaction_id(heights.stop, 0)
    ids = [transaction_id for transaction_id, _ in all_ids(heights)] + [unknown]
    assert store.has_transactions(ids) == [True] * (len(ids) - 1) + [False]


@pytest.mark.usefixtures("sliced")
def test_waiting_ids_move_a_slice_a_commit(store: Store) -> None:
    merged = [transaction_id for transaction_id, _ in all_ids(range(1, 4))]
    for height in range(1, 3):
        store.commit_block(build.record(height, transactions=TRANSACTIONS))
    assert merge_state(store) == (None, None)
    for height in range(3, 3 + SLICES):
        # Height 3 brings 12 waiting and starts the move of heights 1-3; each commit from
        # there moves the next slice of them, and nothing of the blocks after height 3.
        store.commit_block(build.record(height, transactions=TRANSACTIONS))
        moved = height - 3 + 1
        expected = [i for i in merged if any(in_slice(i, n) for n in range(moved))]
        assert indexed(store) == [(3, i) for i in sorted(expected)]
        assert_every_id_found(store, range(1, height + 1))
        assert store.verify_integrity() > 0
        if moved < SLICES:
            assert merge_state(store) == (3, moved)
            assert entries(store, schema.DB_RECENT_TRANSACTION_IDS) == height
    # The move is done: the merged records left, the later ones wait.
    assert merge_state(store) == (None, None)
    assert entries(store, schema.DB_RECENT_TRANSACTION_IDS) == SLICES - 1
    assert entries(store, schema.DB_TRANSACTION_RUNS) == len(merged)
    with store._read() as txn:
        assert store._get_meta_int(txn, schema.META_RECENT_TRANSACTION_IDS) == (
            (SLICES - 1) * TRANSACTIONS
        )
    assert sorted(store._recent_ids) == list(range(4, 3 + SLICES))
    # The next move starts when enough wait again, and finishes in its turn.
    for height in range(3 + SLICES, 3 + 2 * SLICES + 1):
        store.commit_block(build.record(height, transactions=TRANSACTIONS))
    assert_every_id_found(store, range(1, 3 + 2 * SLICES + 1))
    assert store.verify_integrity() > 0


@pytest.mark.usefixtures("sliced")
def test_a_move_goes_on_after_a_restart(store: Store, store_path: Path) -> None:
    for height in range(1, 5):
        store.commit_block(build.record(height, transactions=TRANSACTIONS))
    assert merge_state(store) == (3, 2)
    store.close()
    with Store(store_path) as reopened:
        assert_every_id_found(reopened, range(1, 5))
        for height in range(5, 7):
            reopened.commit_block(build.record(height, transactions=TRANSACTIONS))
        assert merge_state(reopened) == (None, None)
        assert entries(reopened, schema.DB_TRANSACTION_RUNS) == 12
        assert_every_id_found(reopened, range(1, 7))
        reopened.commit_block(build.record(7, transactions=TRANSACTIONS))  # 16 wait: another
        assert merge_state(reopened) == (7, 1)
        assert_every_id_found(reopened, range(1, 8))
        assert reopened.verify_integrity() > 0


@pytest.mark.usefixtures("sliced")
@pytest.mark.parametrize("moved", [True, False], ids=["already-moved", "not-yet-moved"])
def test_a_replay_during_a_move_is_refused(store: Store, moved: bool) -> None:
    for height in range(1, 5):
        store.commit_block(build.record(height, transactions=TRANSACTIONS))
    # Slices 0 and 1 of heights 1-3 are in the index and still wait; the rest only wait.
    candidates = [
        (height, index, transaction_id)
        for transaction_id, (height, index) in all_ids(range(1, 4))
        if in_slice(transaction_id, 0) or in_slice(transaction_id, 1)
    ]
    if not moved:
        candidates = [
            (height, index, transaction_id)
            for transaction_id, (height, index) in all_ids(range(1, 4))
            if not (in_slice(transaction_id, 0) or in_slice(transaction_id, 1))
        ]
    replayed_height, replayed_index, replayed = candidates[0]
    replay = build.record(5, transactions=TRANSACTIONS)
    replay.transaction_ids[1] = replayed
    replay.results[1].transaction_id = replayed
    with pytest.raises(InvariantError, match=r"1 transaction id record\(s\) of this block"):
        store.commit_block(replay)
    assert store.latest_height() == 4
    assert merge_state(store) == (3, 2)
    assert store.find_transaction(replayed) == (replayed_height, replayed_index)


@pytest.mark.usefixtures("sliced")
@pytest.mark.parametrize(
    ("through", "next_slice"), [(3, SLICES), (9, 1)], ids=["slice-past-the-end", "future-height"]
)
def test_a_damaged_move_record_is_reported(store: Store, through: int, next_slice: int) -> None:
    for height in range(1, 4):
        store.commit_block(build.record(height, transactions=TRANSACTIONS))
    with store._write() as txn:
        txn.put(
            schema.META_INDEX_MERGE_THROUGH,
            schema.encode_record(schema.encode_height(through)),
            db=store._meta,
        )
        txn.put(
            schema.META_INDEX_MERGE_SLICE,
            schema.encode_record(schema.encode_height(next_slice)),
            db=store._meta,
        )
    with pytest.raises(StorageCorruptionError, match="a merge through height"):
        store.commit_block(build.record(4, transactions=TRANSACTIONS))
    assert store.latest_height() == 3


IDS_PER_CRAFTED_BLOCK = 128


def crafted_record(height: int) -> BlockRecord:
    """A block whose ids start with every byte value in turn (heights 1-2 cover all 256)."""
    record = build.record(height, transactions=IDS_PER_CRAFTED_BLOCK)
    for index in range(IDS_PER_CRAFTED_BLOCK):
        first = ((height - 1) * IDS_PER_CRAFTED_BLOCK + index) % 256
        crafted = bytes([first]) + sha256(b"crafted %d/%d" % (height, index))[1:]
        record.transaction_ids[index] = crafted
        record.results[index].transaction_id = crafted
    return record


@pytest.mark.parametrize("slices", [7, 64])
def test_each_commit_of_a_move_adds_exactly_its_slice_of_the_first_bytes(
    store: Store, monkeypatch: pytest.MonkeyPatch, slices: int
) -> None:
    # 7 does not divide 256, so its bounds fall between the quarters; every first byte occurs,
    # so a slice drawn one byte off at any bound moves an id too early or too late.
    monkeypatch.setattr(store_module, "RECENT_TRANSACTION_IDS_MIN", 3 * IDS_PER_CRAFTED_BLOCK)
    monkeypatch.setattr(store_module, "TRANSACTION_INDEX_MERGE_SLICES", slices)
    records = [crafted_record(height) for height in range(1, 3 + slices)]
    merged = [i for record in records[:3] for i in record.transaction_ids]
    for record in records[:2]:
        store.commit_block(record)
    for moved, record in enumerate(records[2:], start=1):
        store.commit_block(record)
        bound = 256 * moved // slices
        assert indexed(store) == [(3, i) for i in sorted(merged) if i[0] < bound], (
            f"after slice {moved - 1}"
        )
    assert merge_state(store) == (None, None)
    assert all(store.has_transactions([i for r in records for i in r.transaction_ids]))
    assert store.verify_integrity() > 0


@pytest.mark.usefixtures("sliced")
def test_a_move_whose_first_commit_failed_moves_only_what_was_committed(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for height in range(1, 3):
        store.commit_block(build.record(height, transactions=TRANSACTIONS))
    # Height 3 would start the move; its write fails late, after the move's first slice.
    failed = build.record(3, transactions=TRANSACTIONS)
    failed_ids = [sha256(b"never committed %d" % index) for index in range(TRANSACTIONS)]
    for index, transaction_id in enumerate(failed_ids):
        failed.transaction_ids[index] = transaction_id
        failed.results[index].transaction_id = transaction_id

    def fail(*_: object) -> None:
        raise OSError("the disk went away")

    with monkeypatch.context() as failing:
        failing.setattr(LatestValues, "changing", fail)
        with pytest.raises(OSError, match="the disk went away"):
            store.commit_block(failed)
    assert store.latest_height() == 2
    assert merge_state(store) == (None, None)
    for height in range(3, 3 + SLICES):
        store.commit_block(build.record(height, transactions=TRANSACTIONS))
    assert merge_state(store) == (None, None)
    assert indexed(store) == sorted((3, i) for i, _ in all_ids(range(1, 4)))
    assert store.has_transactions(failed_ids) == [False] * TRANSACTIONS
    assert_every_id_found(store, range(1, 3 + SLICES))
