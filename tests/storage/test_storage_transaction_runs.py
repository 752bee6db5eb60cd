"""The committed transactions' ids in runs (schema v3): each move appended as a sorted run under
its own height, found through a filter per run, and schema v2's index migrated as run 0."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lmdb
import pytest
from typer.testing import CliRunner

from causeway.cli.main import app
from causeway.crypto import get_profile
from causeway.errors import ConfigurationError, InvariantError, StorageCorruptionError
from causeway.node import load_genesis, load_node_config, open_node_store
from causeway.provisioning import init_network, node_directory
from causeway.storage import BlockRecord, Store, schema
from causeway.storage import store as store_module

from . import _builders as build

TRANSACTIONS = 4
SLICES = 4


@pytest.fixture
def runs_of_three_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    # A move starts once 3 blocks' worth of ids (12) wait, and goes a quarter a commit: moves
    # through heights 3 (blocks 1-3, done at 6), 7 (blocks 4-7, done at 10), 11 (8-11), ...
    monkeypatch.setattr(store_module, "RECENT_TRANSACTION_IDS_MIN", 3 * TRANSACTIONS)
    monkeypatch.setattr(store_module, "TRANSACTION_INDEX_MERGE_SLICES", SLICES)


def ids_of(heights: range) -> list[bytes]:
    return [
        build.transaction_id(height, index) for height in heights for index in range(TRANSACTIONS)
    ]


def in_slice(transaction_id: bytes, number: int) -> bool:
    return 256 * number // SLICES <= transaction_id[0] < 256 * (number + 1) // SLICES


def indexed(store: Store) -> list[tuple[int, bytes]]:
    with store._read() as txn:
        return [
            schema.decode_run_key(bytes(key))
            for key in txn.cursor(store._transaction_runs).iternext(values=False)
        ]


def commit(store: Store, heights: range) -> None:
    for height in heights:
        store.commit_block(build.record(height, transactions=TRANSACTIONS))


def assert_every_id_found(store: Store, heights: range) -> None:
    for height in heights:
        for index in range(TRANSACTIONS):
            assert store.find_transaction(build.transaction_id(height, index)) == (height, index)
    unknown = build.transaction_id(heights.stop, 0)
    assert store.has_transactions([*ids_of(heights), unknown]) == [True] * (
        len(heights) * TRANSACTIONS
    ) + [False]


def assert_replay_refused(store: Store, height: int, replayed: bytes) -> None:
    replay = build.record(height, transactions=TRANSACTIONS)
    replay.transaction_ids[2] = replayed
    replay.results[2].transaction_id = replayed
    with pytest.raises(InvariantError) as raised:
        store.commit_block(replay)
    assert raised.value.message == (
        "1 transaction id record(s) of this block already exist in the store"
    )
    assert store.latest_height() == height - 1


class _CountingGets:
    """A read transaction that notes the keys read with `get`."""

    def __init__(self, txn: Any) -> None:
        self._txn = txn
        self.keys: list[bytes] = []

    def get(self, key: bytes, db: Any) -> Any:
        self.keys.append(key)
        return self._txn.get(key, db=db)

    def cursor(self, db: Any) -> Any:
        return self._txn.cursor(db)


# --- look-ups ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("runs_of_three_blocks")
def test_a_sole_writer_reads_only_the_runs_whose_filter_may_hold_an_id(store: Store) -> None:
    commit(store, range(1, 11))  # runs 3 and 7 written whole
    assert [prefix for prefix, _ in store._run_filters] == [
        schema.encode_height(3),
        schema.encode_height(7),
    ]
    for transaction_id in [*ids_of(range(1, 8)), b"\x05" * 32]:
        with store._read() as txn:
            counting = _CountingGets(txn)
            store._index_lookup(counting)(transaction_id)  # type: ignore[arg-type]
        index_filter = store._index_filter
        assert index_filter is not None
        maybe = [
            prefix + transaction_id
            for prefix, bloom in store._run_filters
            if index_filter.may_hold(transaction_id) and transaction_id in bloom
        ]
        # Runs are read in height order up to the one that holds the id.
        assert counting.keys == maybe[: len(counting.keys)]
        if transaction_id in ids_of(range(1, 8)):
            height = int.from_bytes(counting.keys[-1][:8], "big")
            assert height == (3 if transaction_id in ids_of(range(1, 4)) else 7)


@pytest.mark.usefixtures("runs_of_three_blocks")
@pytest.mark.parametrize(
    ("read_only", "sole_writer"),
    [(True, False), (False, False), (False, True)],
    ids=["read-only", "writable", "sole-writer"],
)
def test_ids_are_found_in_every_run_however_the_store_is_opened(
    store: Store, store_path: Path, read_only: bool, sole_writer: bool
) -> None:
    commit(store, range(1, 13))  # runs 3 and 7 whole, two slices of run 11, 12 waiting
    assert sorted({run for run, _ in indexed(store)}) == [3, 7, 11]
    store.close()
    with Store(store_path, read_only=read_only, sole_writer=sole_writer) as reopened:
        assert_every_id_found(reopened, range(1, 13))
        if not read_only:
            for replayed in (build.transaction_id(2, 1), build.transaction_id(5, 3)):
                assert_replay_refused(reopened, 13, replayed)
            commit(reopened, range(13, 20))
            assert_every_id_found(reopened, range(1, 20))
            assert sorted({run for run, _ in indexed(reopened)}) == [3, 7, 11, 15, 19]


@pytest.mark.usefixtures("runs_of_three_blocks")
def test_a_run_filter_holds_every_id_of_its_move_before_the_first_is_written(
    store: Store,
) -> None:
    commit(store, range(1, 4))  # the move of heights 1-3 starts: one slice written
    assert {height for height, _ in indexed(store)} == {3}
    assert len(indexed(store)) < 3 * TRANSACTIONS
    prefix, bloom = store._run_filters[-1]
    assert prefix == schema.encode_height(3)
    assert all(transaction_id in bloom for transaction_id in ids_of(range(1, 4)))


@pytest.mark.usefixtures("runs_of_three_blocks")
def test_a_sole_writer_reopened_inside_a_move_filters_its_run_whole(
    store: Store, store_path: Path
) -> None:
    commit(store, range(1, 5))  # slices 0 and 1 of the move through 3 written
    with store._read() as txn:
        assert store._get_meta_int(txn, schema.META_INDEX_MERGE_THROUGH) == 3
    store.close()
    with Store(store_path, sole_writer=True) as reopened:
        prefix, bloom = reopened._run_filters[-1]
        assert prefix == schema.encode_height(3)
        assert all(transaction_id in bloom for transaction_id in ids_of(range(1, 4)))
        for height in range(5, 7):  # the last two slices, then the move is done
            commit(reopened, range(height, height + 1))
            assert_every_id_found(reopened, range(1, height + 1))
        assert indexed(reopened) == sorted((3, i) for i in ids_of(range(1, 4)))
        assert_replay_refused(reopened, 7, build.transaction_id(3, 3))


def high_record(height: int) -> BlockRecord:
    """A block whose ids all fall in the last slice of the id space."""
    record = build.record(height, transactions=TRANSACTIONS)
    for index in range(TRANSACTIONS):
        high = b"\xf0" + build.transaction_id(height, index)[1:]
        record.transaction_ids[index] = record.results[index].transaction_id = high
    return record


@pytest.mark.usefixtures("runs_of_three_blocks")
def test_a_sole_writer_reopened_before_any_id_of_a_move_is_written_filters_it(
    store: Store, store_path: Path
) -> None:
    records = [high_record(height) for height in range(1, 7)]
    for record in records[:3]:  # the move through 3 starts; its first slice holds none
        store.commit_block(record)
    assert indexed(store) == []
    store.close()
    with Store(store_path, sole_writer=True) as reopened:
        assert [prefix for prefix, _ in reopened._run_filters] == [schema.encode_height(3)]
        for record in records[3:]:  # slices 1-3: the last one writes every id
            reopened.commit_block(record)
        moved = [i for record in records[:3] for i in record.transaction_ids]
        assert indexed(reopened) == sorted((3, i) for i in moved)
        assert reopened.has_transactions(moved) == [True] * len(moved)
        assert reopened.find_transaction(moved[-1]) == (3, TRANSACTIONS - 1)


# --- a move's split by slice, made as its blocks commit ------------------------------------------


def split_of(heights: range) -> list[list[tuple[bytes, int, int]]]:
    """Each slice's (id, height, index) triples of the blocks `heights`, in commit order."""
    return [
        [
            (build.transaction_id(height, index), height, index)
            for height in heights
            for index in range(TRANSACTIONS)
            if in_slice(build.transaction_id(height, index), number)
        ]
        for number in range(SLICES)
    ]


@pytest.mark.usefixtures("runs_of_three_blocks")
def test_a_move_takes_the_split_made_as_its_blocks_committed(store: Store) -> None:
    commit(store, range(1, 3))
    made = store._next_split
    assert made is not None
    assert made.heights == [1, 2]
    assert made.slices == split_of(range(1, 3))
    commit(store, range(3, 4))  # the move through 3 starts
    assert store._merge_slices is not None
    through, slices = store._merge_slices
    assert through == 3
    assert slices is made.slices  # taken, not split again
    assert slices == split_of(range(1, 4))
    following = store._next_split
    assert following is not None
    assert (following.after, following.heights) == (3, [])
    commit(store, range(4, 7))  # the move's last three slices
    assert following.heights == [4, 5, 6]
    commit(store, range(7, 8))  # the move through 7 starts
    assert store._merge_slices[0] == 7
    assert store._merge_slices[1] is following.slices
    assert store._merge_slices[1] == split_of(range(4, 8))
    commit(store, range(8, 11))
    assert indexed(store) == sorted(
        [(3, i) for i in ids_of(range(1, 4))] + [(7, i) for i in ids_of(range(4, 8))]
    )
    assert_every_id_found(store, range(1, 11))


@pytest.mark.usefixtures("runs_of_three_blocks")
def test_a_reopened_store_splits_its_next_move_itself(store: Store, store_path: Path) -> None:
    commit(store, range(1, 3))
    store.close()
    with Store(store_path, sole_writer=True) as reopened:
        assert reopened._next_split is None  # blocks 1-2 wait, committed by another process
        commit(reopened, range(3, 4))
        assert reopened._merge_slices is not None
        assert reopened._merge_slices[1] == split_of(range(1, 4))
        following = reopened._next_split
        assert following is not None
        assert following.after == 3
        commit(reopened, range(4, 11))
        assert indexed(reopened) == sorted(
            [(3, i) for i in ids_of(range(1, 4))] + [(7, i) for i in ids_of(range(4, 8))]
        )
        assert_every_id_found(reopened, range(1, 11))


@pytest.mark.usefixtures("runs_of_three_blocks")
def test_a_split_that_lacks_a_block_of_the_move_is_not_taken(store: Store) -> None:
    commit(store, range(1, 3))
    lacking = store_module._SliceSplit(after=1)  # block 1 never given to it
    lacking.add(2, ids_of(range(2, 3)))
    store._next_split = lacking
    commit(store, range(3, 7))
    assert indexed(store) == sorted((3, i) for i in ids_of(range(1, 4)))
    assert_every_id_found(store, range(1, 7))


@pytest.mark.usefixtures("runs_of_three_blocks")
def test_a_split_leaves_out_blocks_given_to_a_move_and_blocks_given_twice() -> None:
    split = store_module._SliceSplit(after=3)
    split.add(3, ids_of(range(3, 4)))  # a reader's copy of the block that started the move
    split.add(4, ids_of(range(4, 5)))
    split.add(4, ids_of(range(4, 5)))  # the writer's own, after a reader's
    split.add(5, ids_of(range(5, 6)))
    assert split.heights == [4, 5]
    assert split.slices == split_of(range(4, 6))


@pytest.mark.usefixtures("runs_of_three_blocks")
def test_a_key_without_an_id_is_reported_and_look_ups_go_on(store: Store) -> None:
    commit(store, range(1, 7))
    with store._write() as txn:
        txn.put(
            schema.encode_height(4),
            schema.encode_record(b"\x00" * schema.POSITION_BYTES),
            db=store._transaction_runs,
        )
    store.close()
    with Store(store.path, read_only=True) as reader:
        assert_every_id_found(reader, range(1, 7))
        assert reader.scan_integrity().problems == [
            "corrupt record causeway/v3/transaction_runs[0000000000000004]: a run's key "
            "without a transaction id"
        ]


@pytest.mark.usefixtures("runs_of_three_blocks")
def test_an_id_in_a_run_below_its_block_is_reported(store: Store) -> None:
    commit(store, range(1, 4 + SLICES))
    moved = build.transaction_id(2, 1)
    with store._write() as txn:
        txn.put(
            schema.encode_run_key(1, moved),
            schema.encode_record(schema.encode_position(2, 1)),
            db=store._transaction_runs,
        )
    assert store.scan_integrity().problems == [
        f"corrupt record causeway/v3/transaction_runs[run=1, id={moved.hex()}]: a transaction "
        "at height 2 in run 1"
    ]


def test_a_transaction_id_fits_a_run_key(store: Store) -> None:
    longest = schema.LMDB_KEY_BYTES_MAX - schema.HEIGHT_BYTES
    assert longest == schema.TRANSACTION_ID_BYTES_MAX
    too_long = build.record(1, transactions=TRANSACTIONS)
    too_long.transaction_ids[0] = too_long.results[0].transaction_id = b"\x07" * (longest + 1)
    with pytest.raises(InvariantError) as raised:
        store.commit_block(too_long)
    assert (
        raised.value.message
        == f"transaction id of {longest + 1} bytes: must be 1 to {longest} bytes"
    )
    assert store.latest_height() == 0
    assert store.find_transaction(b"\x07" * (longest + 1)) is None
    assert store.has_transactions([b"\x07" * (longest + 1)]) == [False]
    at_limit = build.record(1, transactions=TRANSACTIONS)
    at_limit.transaction_ids[0] = at_limit.results[0].transaction_id = b"\x07" * longest
    store.commit_block(at_limit)
    assert store.find_transaction(b"\x07" * longest) == (1, 0)


# --- schema v2 migrated --------------------------------------------------------------------------


def as_schema_v2(store_path: Path) -> None:
    """Rewrites a closed v3 store as schema v2 left it: the ids in one id-ordered index (id ->
    position record), no runs, meta version 2."""
    environment = lmdb.open(str(store_path), max_dbs=len(schema.ALL_DATABASES) + 1)
    try:
        with environment.begin(write=True) as txn:
            runs = environment.open_db(schema.DB_TRANSACTION_RUNS, txn=txn, create=False)
            moved = sorted((bytes(key)[8:], bytes(value)) for key, value in txn.cursor(runs))
            index = environment.open_db(schema.DB_TRANSACTION_INDEX_V2, txn=txn, create=True)
            txn.cursor(index).putmulti(moved)
            txn.drop(runs, delete=True)
            meta = environment.open_db(schema.DB_META, txn=txn, create=False)
            txn.put(
                schema.META_SCHEMA_VERSION,
                schema.encode_record(schema.encode_height(2)),
                db=meta,
            )
    finally:
        environment.close()


def raw_layout(store_path: Path) -> tuple[list[bytes], int, int]:
    """The store's sub-database names, its meta schema version and v2 index's entries (-1: none)."""
    environment = lmdb.open(str(store_path), max_dbs=len(schema.ALL_DATABASES) + 1, readonly=True)
    try:
        with environment.begin() as txn:
            names = [bytes(key) for key in txn.cursor().iternext(values=False)]
        meta = environment.open_db(schema.DB_META, create=False)
        with environment.begin() as txn:
            stored = txn.get(schema.META_SCHEMA_VERSION, db=meta)
            assert stored is not None
            version = schema.decode_height(schema.decode_record(schema.DB_META, b"", stored))
        entries = -1
        if schema.DB_TRANSACTION_INDEX_V2 in names:
            index = environment.open_db(schema.DB_TRANSACTION_INDEX_V2, create=False)
            with environment.begin() as txn:
                entries = int(txn.stat(index)["entries"])
        return names, version, entries
    finally:
        environment.close()


@pytest.mark.usefixtures("runs_of_three_blocks")
def test_a_v2_store_is_migrated_to_runs_by_its_sole_writer(store: Store, store_path: Path) -> None:
    commit(store, range(1, 9))  # blocks 1-3 moved; two slices of blocks 4-7 moved; 8 waiting
    store.close()
    as_schema_v2(store_path)
    was_indexed = sorted(
        set(ids_of(range(1, 4)))
        | {i for i in ids_of(range(4, 8)) if in_slice(i, 0) or in_slice(i, 1)}
    )
    assert raw_layout(store_path)[1:] == (2, len(was_indexed))
    with Store(store_path, create=False, sole_writer=True) as migrated:
        with migrated._read() as txn:
            names = [bytes(key) for key in txn.cursor().iternext(values=False)]
            assert migrated._get_meta_int(txn, schema.META_SCHEMA_VERSION) == 3
        assert schema.DB_TRANSACTION_INDEX_V2 not in names
        assert schema.DB_TRANSACTION_RUNS in names
        assert indexed(migrated) == [(0, i) for i in was_indexed]
        assert_every_id_found(migrated, range(1, 9))
        assert_replay_refused(migrated, 9, build.transaction_id(1, 0))
        # The move in progress (through 7) goes on into its own run.
        commit(migrated, range(9, 11))
        assert indexed(migrated) == [(0, i) for i in was_indexed] + sorted(
            (7, i) for i in ids_of(range(4, 8)) if i not in was_indexed
        )
        assert_every_id_found(migrated, range(1, 11))
        assert migrated.verify_integrity() > 0
    with Store(store_path, read_only=True) as reader:
        assert_every_id_found(reader, range(1, 11))


@pytest.mark.usefixtures("runs_of_three_blocks")
@pytest.mark.parametrize(
    "how",
    [{"read_only": True}, {"create": False}, {}],
    ids=["read-only", "existing", "create"],
)
def test_a_v2_store_opened_but_by_its_sole_writer_is_refused_unchanged(
    store: Store, store_path: Path, how: dict[str, bool]
) -> None:
    """Such an open may run beside a node of the older build, which would go on writing into
    the index a migration drops."""
    commit(store, range(1, 4 + SLICES))
    store.close()
    as_schema_v2(store_path)
    before = raw_layout(store_path)
    with pytest.raises(ConfigurationError) as raised:
        Store(store_path, **how)
    assert raised.value.message == (
        f"the store at {store_path} has schema version 2; the node's own start (causeway node "
        "start) migrates it to 3, no other open does"
    )
    assert raw_layout(store_path) == before


@pytest.mark.usefixtures("runs_of_three_blocks")
def test_a_v2_id_too_long_for_a_run_is_refused_and_nothing_changes(
    store: Store, store_path: Path
) -> None:
    commit(store, range(1, 4 + SLICES))
    store.close()
    as_schema_v2(store_path)
    environment = lmdb.open(str(store_path), max_dbs=len(schema.ALL_DATABASES) + 1)
    with environment.begin(write=True) as txn:
        index = environment.open_db(schema.DB_TRANSACTION_INDEX_V2, txn=txn, create=False)
        txn.put(
            b"\xff" * (schema.TRANSACTION_ID_BYTES_MAX + 1),
            schema.encode_record(schema.encode_position(1, 0)),
            db=index,
        )
    environment.close()
    before = raw_layout(store_path)
    with pytest.raises(ConfigurationError) as raised:
        Store(store_path, sole_writer=True)
    assert raised.value.message == (
        f"the store at {store_path} holds a transaction id of 504 bytes: schema version 3 keeps "
        "ids of at most 503 bytes, so it cannot be migrated"
    )
    assert raw_layout(store_path) == before
    assert schema.DB_TRANSACTION_RUNS not in before[0]


@pytest.mark.usefixtures("runs_of_three_blocks")
def test_a_v2_store_without_its_index_is_refused(store: Store, store_path: Path) -> None:
    commit(store, range(1, 4))
    store.close()
    as_schema_v2(store_path)
    environment = lmdb.open(str(store_path), max_dbs=len(schema.ALL_DATABASES) + 1)
    with environment.begin(write=True) as txn:
        index = environment.open_db(schema.DB_TRANSACTION_INDEX_V2, txn=txn, create=False)
        txn.drop(index, delete=True)
    environment.close()
    with pytest.raises(StorageCorruptionError) as raised:
        Store(store_path, create=False, sole_writer=True)
    assert raised.value.message == (
        f"the store {store_path / 'data.mdb'} of schema version 2 has lost its "
        "causeway/v2/transaction_index"
    )


def test_a_node_store_of_schema_v2_is_migrated_by_a_start_and_not_by_verify(
    tmp_path: Path,
) -> None:
    """What an operator sees: `causeway node verify` (read-only) says that a start migrates the
    store and changes nothing; the node's own open migrates it, and verify then finds it sound."""
    description = init_network(tmp_path / "net", 1, "intl", "solo")
    home = node_directory(tmp_path / "net", description.nodes[0].name)
    config = load_node_config(home)
    genesis = load_genesis(config.genesis_file)
    profile = get_profile(genesis.crypto_profile)
    with open_node_store(config, genesis, profile):
        pass
    store_path = config.data_dir / "chain"
    as_schema_v2(store_path)
    before = raw_layout(store_path)
    result = CliRunner().invoke(app, ["node", "verify", "--home", str(home)])
    assert result.exit_code == 1
    assert (
        f"problem: the store at {store_path} has schema version 2; the node's own start "
        "(causeway node start) migrates it to 3, no other open does"
    ) in result.stdout.splitlines()
    assert raw_layout(store_path) == before
    with open_node_store(config, genesis, profile) as store:
        assert store.latest_height() == 0
    assert raw_layout(store_path)[1:] == (3, -1)
    result = CliRunner().invoke(app, ["node", "verify", "--home", str(home)])
    assert result.exit_code == 0, result.stdout
