"""The latest values kept in memory beside the store (storage/latest_values.py): a reader sees
exactly its snapshot's values, whatever the cache holds, and the writer's history stays right."""

from __future__ import annotations

import random
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import lmdb
import pytest

from causeway.errors import ConfigurationError
from causeway.storage import LatestStateView, Store, schema
from causeway.storage import store as store_module
from causeway.storage.latest_values import (
    ENTRY_OVERHEAD_BYTES,
    VALUE_BYTES_KEPT_MAX,
    LatestValues,
)

from . import _builders as build

KEY = b"account/carol"
LARGE = b"L" * VALUE_BYTES_KEPT_MAX  # with a height after it: too large to keep
# The writer process imports this test package, from the folder that holds it.
PACKAGE_ROOT = Path(__file__).resolve().parents[__package__.count(".") + 1]


def commit(store: Store, height: int, changes: dict[bytes, bytes | None]) -> None:
    store.commit_block(build.record(height, changes=changes))


def test_a_view_keeps_its_snapshot_while_newer_values_are_recorded(store: Store) -> None:
    commit(store, 1, {KEY: b"one"})
    with store.latest_state() as old:
        assert old.get(KEY) == b"one"  # now kept in memory, at version 1
        commit(store, 2, {KEY: b"two"})
        commit(store, 3, {b"other": b"x"})
        with store.latest_state() as new:
            assert new.get(KEY) == b"two"
        # The cache's entry is version 2: the view at version 1 reads its own snapshot.
        assert old.get(KEY) == b"one"
        assert old.get(b"other") is None


def test_a_read_from_an_older_snapshot_is_not_kept_after_a_newer_commit(store: Store) -> None:
    """Rule 3: had the old view's value been kept once the newer one was dropped, every later
    view would read it."""
    commit(store, 1, {KEY: b"one"})
    with store.latest_state() as old:
        commit(store, 2, {KEY: b"two"})
        store._latest_values.clear()  # the newer entry dropped (the size bound)
        assert old.get(KEY) == b"one"
        assert old.get(b"absent then") is None
    commit(store, 3, {b"absent then": b"present"})
    store._latest_values.clear()
    with store.latest_state() as old:
        commit(store, 4, {b"absent then": None})
        store._latest_values.clear()
        assert old.get(b"absent then") == b"present"
    with store.latest_state() as new:
        assert new.get(KEY) == b"two"
        assert new.get(b"absent then") is None
    assert len(store._latest_values) == 2  # learned by the newest view


def test_a_failed_commit_leaves_no_value_behind(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit(store, 1, {KEY: b"one"})
    with store.latest_state() as view:
        assert view.get(KEY) == b"one"
    recorded = LatestValues.changing

    def record_then_fail(
        values: LatestValues, version: int, changes: dict[bytes, bytes | None]
    ) -> None:
        recorded(values, version, changes)
        raise OSError("the disk went away before the commit")

    monkeypatch.setattr(LatestValues, "changing", record_then_fail)
    with pytest.raises(OSError, match="disk went away"):
        commit(store, 2, {KEY: b"never committed"})
    monkeypatch.undo()
    assert store.latest_height() == 1
    with store.latest_state() as view:
        assert view.get(KEY) == b"one"
    # Height 2 commits after all, without the key: a view at 2 must not take the failed value.
    commit(store, 2, {b"other": b"two"})
    with store.latest_state() as view:
        assert view.get(KEY) == b"one"
        assert view.get(b"other") == b"two"


def test_a_read_only_store_beside_a_writing_process_keeps_nothing(store_path: Path) -> None:
    def commit_in_another_process(height: int, value: bytes) -> None:
        code = (
            "import sys; from pathlib import Path; from causeway.storage import Store; "
            f"from {__package__} import _builders as build\n"
            "with Store(Path(sys.argv[1])) as store:\n"
            "    if sys.argv[2] == '1':\n"
            "        store.save_genesis(build.GENESIS_BYTES, build.genesis_state(), "
            "build.genesis_update())\n"
            "    store.commit_block(build.record(int(sys.argv[2]), changes={sys.argv[3].encode(): "
            "sys.argv[4].encode()}))\n"
        )
        subprocess.run(
            [
                sys.executable,
                "-c",
                code,
                str(store_path),
                str(height),
                KEY.decode(),
                value.decode(),
            ],
            cwd=PACKAGE_ROOT,
            check=True,
            timeout=60,
        )

    commit_in_another_process(1, b"one")
    with Store(store_path, read_only=True) as reader:
        with reader.latest_state() as view:
            assert view.get(KEY) == b"one"
        assert len(reader._latest_values) == 0
        commit_in_another_process(2, b"two")
        with reader.latest_state() as view:
            assert view.get(KEY) == b"two"


def test_the_bound_holds_and_keeps_the_most_recently_touched() -> None:
    entry_bytes = 1 + 1 + ENTRY_OVERHEAD_BYTES  # a one-byte key and a one-byte value
    values = LatestValues(recorded=0, bytes_max=2 * entry_bytes)
    values.learned(0, b"a", (0, b"1"))
    values.learned(0, b"b", (0, b"2"))
    values.learned(0, b"a", (0, b"1"))  # touched again: b is now the oldest
    values.changing(1, {b"c": b"3"})
    assert (len(values), values.size_bytes) == (2, 2 * entry_bytes)
    assert values.value_at(b"b", 5) is None
    assert values.value_at(b"a", 5) == (0, b"1")
    assert values.value_at(b"c", 1) == (1, b"3")
    assert values.value_at(b"c", 0) is None  # rule 2: a snapshot at 0 predates it
    assert values.previous_version(b"c") == 1
    values.changing(1, {b"a": b"5"})  # written: a is now the most recent, c the oldest
    values.learned(1, b"e", (1, b"6"))
    assert values.value_at(b"c", 5) is None
    assert values.value_at(b"a", 5) == (1, b"5")
    values.changing(1, {b"c": b"3"})
    values.changing(2, {b"c": None})
    assert values.previous_version(b"c") is None  # deletion marks are LMDB's to answer
    assert values.value_at(b"c", 2) == (2, None)
    assert values.size_bytes == entry_bytes + (entry_bytes - 1)  # a's, and c's without a value
    values.learned(1, b"d", (1, b"4"))  # a snapshot before version 2: refused
    assert values.value_at(b"d", 9) is None
    with pytest.raises(ConfigurationError, match="must not be negative"):
        LatestValues(recorded=0, bytes_max=-1)
    nothing = LatestValues(recorded=0, bytes_max=0)
    nothing.learned(0, b"a", (0, b"1"))
    nothing.changing(1, {b"a": b"2"})
    assert (len(nothing), nothing.size_bytes) == (0, 0)


def test_a_value_too_large_to_keep_drops_the_entry_it_replaces() -> None:
    large = b"x" * (VALUE_BYTES_KEPT_MAX + 1)
    values = LatestValues(recorded=0)
    values.learned(0, b"a", (0, b"1"))
    values.learned(0, b"b", (0, large))  # read, not kept
    values.learned(0, b"c", (0, b"x" * VALUE_BYTES_KEPT_MAX))  # at the limit: kept
    assert values.value_at(b"b", 0) is None
    assert values.value_at(b"c", 0) == (0, b"x" * VALUE_BYTES_KEPT_MAX)
    values.changing(1, {b"a": large})
    # The old value must not answer for version 1 or later, nor a read at 0 (rule 2 as before).
    assert values.value_at(b"a", 1) is None
    assert values.value_at(b"a", 0) is None
    values.clear()
    assert (len(values), values.size_bytes) == (0, 0)


def test_empty_values_are_kept_as_values(store: Store) -> None:
    commit(store, 1, {KEY: b""})
    commit(store, 2, {KEY: b"after"})  # previous version 1, from memory
    with store.latest_state() as view:
        assert view.get(KEY) == b"after"
    assert store.get_state(KEY, 1) == b""
    assert store.get_state(KEY, 0) is None


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("bound", [0, 800, 1 << 20])
def test_reads_and_history_agree_with_a_model(store_path: Path, seed: int, bound: int) -> None:
    """Random commits (writes, deletions, empty values, values too large to keep) over a few
    keys, views opened at random versions and read while later blocks commit; every read, and
    every historical read at the end (which follows the previous versions the writer took from
    memory), against a model."""
    rng = random.Random(seed)
    keys = [b"k%d" % index for index in range(6)] + [b"account/alice"]
    genesis = build.genesis_state()
    model: list[dict[bytes, bytes]] = [dict(genesis)]
    with ExitStack() as stack:
        store = stack.enter_context(Store(store_path, latest_values_bytes_max=bound))
        store.save_genesis(build.GENESIS_BYTES, genesis, build.genesis_update())
        views: list[tuple[int, LatestStateView]] = []
        for height in range(1, 40):
            changes: dict[bytes, bytes | None] = {}
            for key in rng.sample(keys, rng.randint(0, 3)):
                changes[key] = rng.choice([None, b"", b"h%d" % height, LARGE + b"%d" % height])
            commit(store, height, changes)
            state = dict(model[-1])
            for key, value in changes.items():
                if value is None:
                    state.pop(key, None)
                else:
                    state[key] = value
            model.append(state)
            if rng.random() < 0.4:
                views.append((height, stack.enter_context(store.latest_state())))
            if rng.random() < 0.1:
                store._latest_values.clear()
            for version, view in rng.sample(views, min(len(views), 3)):
                key = rng.choice(keys)
                assert view.get(key) == model[version].get(key), (version, key)
        for version, state in enumerate(model):
            for key in keys:
                assert store.get_state(key, version) == state.get(key), (version, key)


def _written_store(store: Store, blocks: int) -> dict[bytes, bytes | None]:
    """Commits `blocks` blocks, each writing two keys of its own and one shared key (deleted by
    the last block); returns the latest value of every key written."""
    latest: dict[bytes, bytes | None] = {}
    for height in range(1, blocks + 1):
        changes: dict[bytes, bytes | None] = {
            b"account/%d/a" % height: b"a%d" % height,
            b"account/%d/b" % height: b"b%d" % height,
            b"shared": None if height == blocks else b"shared %d" % height,
        }
        commit(store, height, changes)
        latest.update(changes)
    return latest


def _kept(store: Store, version: int) -> dict[bytes, bytes | None]:
    entries = store._latest_values._entries
    return {
        key: entry[1] for key in entries if (entry := store._latest_values.value_at(key, version))
    }


def test_a_store_reopened_as_sole_writer_holds_the_newest_blocks_values(
    store: Store, store_path: Path
) -> None:
    """Read back at open, so that a node restarted under load does not read each of its first
    blocks' keys from LMDB: every key the blocks wrote, with its latest value (a deletion as
    None), exactly as a read gives it."""
    latest = {**build.genesis_state(), **_written_store(store, 5)}
    store.close()
    with Store(store_path, create=False, sole_writer=True) as reopened:
        kept = _kept(reopened, 5)
        assert kept == latest
        for key, value in latest.items():
            assert reopened.get_state(key) == value
    # Only the sole writer reads them back: another writable store, or a read-only one, keeps
    # nothing it has not read.
    with Store(store_path, create=False) as beside:
        assert len(beside._latest_values) == 0
    with Store(store_path, read_only=True) as read_only:
        assert len(read_only._latest_values) == 0


def test_reading_back_stops_at_the_bound_and_at_the_newest_blocks(
    store: Store, store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _written_store(store, 6)
    store.close()
    # Room for four keys by their count, three by their sizes: four are read, oldest first,
    # and the one read first is dropped, so the newest writes are the ones kept.
    bound = 4 * ENTRY_OVERHEAD_BYTES
    with Store(
        store_path, create=False, sole_writer=True, latest_values_bytes_max=bound
    ) as bounded:
        assert set(_kept(bounded, 6)) == {b"account/6/a", b"account/6/b", b"shared"}
    # At most LATEST_VALUES_WARM_VERSIONS_MAX blocks walked: two here, the fifth and sixth.
    monkeypatch.setattr(store_module, "LATEST_VALUES_WARM_VERSIONS_MAX", 2)
    with Store(store_path, create=False, sole_writer=True) as walked:
        assert set(_kept(walked, 6)) == {
            b"account/5/a",
            b"account/5/b",
            b"account/6/a",
            b"account/6/b",
            b"shared",
        }


def _damage(store_path: Path, database: bytes, key: bytes) -> None:
    """Flips a bit of a stored record's last byte: its frame's checksum no longer matches."""
    environment = lmdb.open(str(store_path), max_dbs=len(schema.ALL_DATABASES), subdir=True)
    try:
        handle = environment.open_db(database, create=False)
        with environment.begin(write=True) as txn:
            record = bytearray(txn.get(key, db=handle))
            record[-1] ^= 0x01
            txn.put(key, bytes(record), db=handle)
    finally:
        environment.close()


def test_damaged_records_read_back_warm_nothing_and_refuse_nothing(
    store: Store, store_path: Path
) -> None:
    """Reading back is a cache's warming: a damaged list of written keys, or a damaged latest
    value, is skipped (a later read meets it as any read does); the rest is still read back."""
    latest = _written_store(store, 3)
    store.close()
    _damage(store_path, schema.DB_STATE_WRITES, schema.encode_height(3))
    _damage(store_path, schema.DB_STATE_LATEST, b"account/1/a")
    with Store(store_path, create=False, sole_writer=True) as reopened:
        kept = _kept(reopened, 3)
        assert b"account/3/a" not in kept  # its list is damaged
        assert b"account/1/a" not in kept  # its value is damaged
        assert kept[b"account/1/b"] == latest[b"account/1/b"]
        assert kept[b"account/2/a"] == latest[b"account/2/a"]
        assert kept[b"shared"] is None  # named by block 2's list; its latest value read
        assert reopened.get_state(b"account/3/a") == b"a3"
