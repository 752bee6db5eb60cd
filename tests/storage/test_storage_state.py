from __future__ import annotations

import pytest

from causeway.errors import HeightUnavailableError, InvariantError, StorageCorruptionError
from causeway.storage import Store, schema
from causeway.storage import store as store_module

from . import _builders as build

KEYS = [b"counter", *(b"item/%06d" % height for height in range(1, 13))]


def commit(store: Store, *heights: int) -> None:
    for height in heights:
        store.commit_block(build.record(height))


def test_latest_and_historical_state(store: Store) -> None:
    commit(store, *range(1, 11))
    for version in range(1, 11):
        for key in KEYS:
            assert store.get_state(key, version) == build.expected_state(key, version), (
                key,
                version,
            )
    for key in KEYS:
        assert store.get_state(key) == build.expected_state(key, 10)
    # Genesis keys never changed: readable at every version.
    for version in range(11):
        assert store.get_state(b"account/alice", version) == b"100"
    assert store.get_state(b"counter", 0) is None
    assert store.get_state(b"never written", 5) is None


def test_state_at_an_uncommitted_version_is_unavailable(store: Store) -> None:
    commit(store, 1, 2)
    with pytest.raises(HeightUnavailableError, match="not committed"):
        store.get_state(b"counter", 3)
    with pytest.raises(HeightUnavailableError):
        store.get_state(b"", 3)


def test_state_before_genesis_is_unavailable(empty_store: Store) -> None:
    with pytest.raises(HeightUnavailableError):
        empty_store.get_state(b"counter", 0)


def test_keys_that_share_prefixes_stay_apart(store: Store) -> None:
    # History keys are version then state key: b"a" at version v must never be confused with
    # b"a\x00" or b"a" + 8 more bytes that happen to look like a version.
    lookalike = b"a" + (1).to_bytes(8, "big")
    store.commit_block(build.record(1, changes={b"a": b"one", b"a\x00": b"zero", lookalike: b"x"}))
    store.commit_block(build.record(2, changes={b"a\x00": None, b"ab": b"b"}))
    store.commit_block(build.record(3, changes={lookalike: None}))
    assert store.get_state(b"a", 1) == b"one"
    assert store.get_state(b"a", 3) == b"one"
    assert store.get_state(b"a\x00", 1) == b"zero"
    assert store.get_state(b"a\x00", 2) is None
    assert store.get_state(lookalike, 2) == b"x"
    assert store.get_state(lookalike, 3) is None
    assert store.get_state(b"ab", 1) is None
    assert store.get_state(b"ab", 3) == b"b"


def test_empty_values_are_values(store: Store) -> None:
    store.commit_block(build.record(1, changes={b"empty": b""}))
    store.commit_block(build.record(2, changes={b"empty": None}))
    assert store.get_state(b"empty", 1) == b""
    assert store.get_state(b"empty", 2) is None
    assert store.get_state(b"empty") is None


def test_range_state_order_prefix_start_after_and_limit(store: Store) -> None:
    changes: dict[bytes, bytes | None] = {
        b"a/1": b"1",
        b"a/2": b"2",
        b"a/10": b"10",
        b"a/3": b"3",
        b"a": b"bare",
        b"a/\x00": b"nul",
        b"a0": b"other",
        b"b/1": b"b",
    }
    store.commit_block(build.record(1, changes=changes))
    store.commit_block(build.record(2, changes={b"a/2": None, b"a/4": b"4"}))

    everything_a = store.range_state(b"a/", b"", 100)
    assert everything_a == [
        (b"a/\x00", b"nul"),
        (b"a/1", b"1"),
        (b"a/10", b"10"),
        (b"a/3", b"3"),
        (b"a/4", b"4"),
    ]
    assert store.range_state(b"a/", b"", 2) == everything_a[:2]
    assert store.range_state(b"a/", b"a/10", 2) == everything_a[3:5]
    assert store.range_state(b"a/", b"a/4", 10) == []
    # start_after before the prefix starts at the prefix; after it, nothing.
    assert store.range_state(b"a/", b"0", 10) == everything_a
    assert store.range_state(b"a/", b"z", 10) == []
    assert store.range_state(b"a/", b"a/1", 1) == [(b"a/10", b"10")]
    assert store.range_state(b"a/", b"", 0) == []
    assert store.range_state(b"nothing/", b"", 10) == []
    # start_after need not be a stored key, nor fit in an LMDB key.
    assert store.range_state(b"a/", b"a/2", 10) == everything_a[3:]
    assert store.range_state(b"", b"a/" + b"\xff" * 600, 1) == [(b"a0", b"other")]
    assert store.range_state(b"p" * 600, b"", 10) == []
    # The empty prefix is the whole state in key order.
    whole = store.range_state(b"", b"", 1000)
    assert [key for key, _ in whole] == sorted(key for key, _ in whole)
    assert (b"account/alice", b"100") in whole
    assert (b"a/2", b"2") not in whole


def test_state_nodes(store: Store) -> None:
    commit(store, 1)
    record = build.record(1)
    for node_key, node in record.tree_update.new_nodes.items():
        assert store.get_state_node(node_key) == node
    assert store.get_state_node(b"missing") is None
    assert store.get_state_node(b"") is None


def history_values(store: Store, versions: range) -> dict[tuple[bytes, int], bytes | None]:
    return {(key, version): store.get_state(key, version) for key in KEYS for version in versions}


def test_prune_keeps_retained_versions_and_drops_older(store: Store) -> None:
    commit(store, *range(1, 13))
    before = history_values(store, range(7, 13))
    deleted = store.prune_state(7)
    assert deleted > 0
    assert store.earliest_state_version() == 7
    assert history_values(store, range(7, 13)) == before
    for key in KEYS:
        assert store.get_state(key) == build.expected_state(key, 12)
    for version in range(7):
        with pytest.raises(HeightUnavailableError, match="pruned"):
            store.get_state(b"counter", version)
    # Genesis keys that never changed keep their version-0 entry: it is their value at 7.
    assert store.get_state(b"account/alice", 7) == b"100"
    # Nodes made stale at versions <= 7 are gone; later ones stay.
    assert store.get_state_node(build.node_key(0, 0)) is None
    assert store.get_state_node(build.node_key(6, 0)) is None
    assert store.get_state_node(build.node_key(7, 0)) is not None
    assert store.get_state_node(build.node_key(12, 2)) is not None
    assert store.verify_integrity() > 0


def test_prune_deletes_exactly_what_is_unneeded(store: Store) -> None:
    # counter: written at 1..4; keep only its entry at 3 when pruning to 3.
    store.commit_block(build.record(1, changes={b"counter": b"1", b"gone": b"x"}, nodes=2))
    store.commit_block(build.record(2, changes={b"counter": b"2", b"gone": None}, nodes=2))
    store.commit_block(build.record(3, changes={b"counter": b"3"}, nodes=2))
    store.commit_block(build.record(4, changes={b"counter": b"4"}, nodes=2))
    # History entries: counter@1, counter@2, gone@1, gone@2 (a tombstone, the latest <= 3 of a
    # deleted key) go; counter@3, counter@4 and the genesis keys stay. Stale nodes: genesis
    # nodes made stale at 1 (3 exist, 2 listed), and 2 each at 2 and 3.
    assert store.prune_state(3) == 4 + 2 + 2 + 2
    assert store.get_state(b"counter", 3) == b"3"
    assert store.get_state(b"counter", 4) == b"4"
    assert store.get_state(b"gone", 3) is None
    assert store.prune_state(3) == 0
    assert store.prune_state(2) == 0
    assert store.earliest_state_version() == 3


def test_prune_beyond_latest_is_refused(store: Store) -> None:
    commit(store, 1, 2)
    with pytest.raises(InvariantError):
        store.prune_state(3)
    assert store.earliest_state_version() == 0


def test_prune_in_small_steps_gives_the_same_result(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "PRUNE_RECORDS_PER_WRITE", 2)
    commit(store, *range(1, 13))
    before = history_values(store, range(9, 13))
    assert store.prune_state(9) > 0
    assert store.earliest_state_version() == 9
    assert history_values(store, range(9, 13)) == before
    with pytest.raises(HeightUnavailableError):
        store.get_state(b"counter", 8)


def test_prune_repeatedly_while_committing(store: Store) -> None:
    for height in range(1, 25):
        store.commit_block(build.record(height))
        if height > 4:
            store.prune_state(height - 4)
        retained = range(max(0, height - 4), height + 1)
        for version in retained:
            for key in (b"counter", b"item/%06d" % max(1, version - 1)):
                assert store.get_state(key, version) == build.expected_state(key, version)


def raw_entries(store: Store, database: bytes) -> list[tuple[bytes, bytes]]:
    with store._read() as txn:
        return list(txn.cursor(store._handles[database]))


def raw_put(store: Store, database: bytes, key: bytes, value: bytes | None) -> None:
    with store._write() as txn:
        db = store._handles[database]
        if value is None:
            txn.delete(key, db=db)
        else:
            txn.put(key, value, db=db)


def test_a_key_deleted_and_written_again_reads_right_at_every_version(store: Store) -> None:
    changes: list[dict[bytes, bytes | None]] = [
        {b"k": b"one"},
        {b"other": b"x"},
        {b"k": None},
        {b"other": b"y"},
        {b"k": b"two"},
        {b"k": b"three"},
        {b"k": None},
    ]
    expected = [None, b"one", b"one", None, None, b"two", b"three", None]
    for height, change in enumerate(changes, start=1):
        store.commit_block(build.record(height, changes=change))
    for version, value in enumerate(expected):
        assert store.get_state(b"k", version) == value, version
    assert store.get_state(b"k") is None
    # Deleted now: its deletion version is kept for reads at older versions, and only then.
    assert [key for key, _ in raw_entries(store, schema.DB_STATE_DELETED)] == [b"k"]


def test_history_is_appended_in_version_order(store: Store) -> None:
    commit(store, *range(1, 6))
    versions = [
        schema.decode_history_key(key)[0] for key, _ in raw_entries(store, schema.DB_STATE_HISTORY)
    ]
    assert versions == sorted(versions)
    assert versions[-1] == 5


def test_a_key_written_at_every_version_is_read_back_at_each(store: Store) -> None:
    """The read walks back one entry per later change: every step of the walk is used."""
    for height in range(1, 31):
        store.commit_block(build.record(height, changes={b"hot": b"%d" % height}))
    for version in range(31):
        assert store.get_state(b"hot", version) == (b"%d" % version if version else None)
    store.prune_state(20)
    for version in range(20, 31):
        assert store.get_state(b"hot", version) == b"%d" % version
    assert store.verify_integrity() > 0


def test_pruning_a_deletion_forgets_the_key_and_keeps_later_reads(store: Store) -> None:
    store.commit_block(build.record(1, changes={b"gone": b"x", b"back": b"1"}, nodes=2))
    store.commit_block(build.record(2, changes={b"gone": None, b"back": None}, nodes=2))
    store.commit_block(build.record(3, changes={b"back": b"3"}, nodes=2))
    store.commit_block(build.record(4, changes={b"counter": b"4"}, nodes=2))
    # History: gone@1, gone@2 (a deletion at the oldest retained version), back@1 and back@2
    # go. Stale nodes: 2 listed at 1 and 2 at 2.
    assert store.prune_state(2) == 4 + 2 + 2
    assert raw_entries(store, schema.DB_STATE_DELETED) == []
    assert store.get_state(b"gone", 2) is None
    assert store.get_state(b"gone", 4) is None
    # back: deleted at 2 (pruned), written again at 3; its walk back ends at the pruned deletion.
    assert store.get_state(b"back", 2) is None
    assert store.get_state(b"back", 3) == b"3"
    assert store.verify_integrity() > 0


def test_a_missing_history_entry_in_the_retained_window_is_corruption(store: Store) -> None:
    commit(store, 1, 2, 3)
    raw_put(store, schema.DB_STATE_HISTORY, schema.encode_history_key(3, b"counter"), None)
    assert store.get_state(b"counter") == build.expected_state(b"counter", 3)
    for version in (2, 3):
        with pytest.raises(StorageCorruptionError) as raised:
            store.get_state(b"counter", version)
    assert raised.value.message == (
        "corrupt record causeway/v2/state_history[version=3, key=636f756e746572]: missing in "
        "the retained history"
    )


def test_a_history_entry_pointing_forward_is_corruption(store: Store) -> None:
    commit(store, 1, 2, 3)
    entry_key = schema.encode_history_key(3, b"counter")
    forward = schema.encode_record(schema.encode_history_value(b"x", 3))
    raw_put(store, schema.DB_STATE_HISTORY, entry_key, forward)
    reason = (
        "corrupt record causeway/v2/state_history[version=3, key=636f756e746572]: points back "
        "to version 3"
    )
    with pytest.raises(StorageCorruptionError) as raised:
        store.get_state(b"counter", 2)
    assert raised.value.message == reason
    assert store.scan_integrity().problems == [reason]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x04", "unknown state history flags"),
        (b"\x02" + bytes(7), "truncated state history entry"),
        (b"\x00value", "a deletion carries a value"),
        (b"", "unknown state history flags"),
    ],
)
def test_malformed_history_entries_are_reported(store: Store, payload: bytes, reason: str) -> None:
    commit(store, 1)
    raw_put(
        store,
        schema.DB_STATE_HISTORY,
        schema.encode_history_key(1, b"counter"),
        schema.encode_record(payload),
    )
    assert store.scan_integrity().problems == [
        f"corrupt record causeway/v2/state_history[version=1, key=636f756e746572]: {reason}"
    ]


def test_malformed_latest_and_deleted_entries_are_reported(store: Store) -> None:
    commit(store, 1)
    raw_put(store, schema.DB_STATE_LATEST, b"counter", schema.encode_record(bytes(7)))
    raw_put(store, schema.DB_STATE_DELETED, b"gone", schema.encode_record(bytes(9)))
    assert store.scan_integrity().problems == [
        "corrupt record causeway/v2/state_latest[636f756e746572]: truncated latest state entry",
        "corrupt record causeway/v2/state_deleted[676f6e65]: 9 bytes, expected a version of 8",
    ]
    with pytest.raises(StorageCorruptionError, match="truncated latest state entry"):
        store.get_state(b"counter")


@pytest.mark.parametrize("database", [schema.DB_STATE_LATEST, schema.DB_STATE_DELETED])
def test_a_damaged_latest_record_leaves_the_history_readable(store: Store, database: bytes) -> None:
    store.commit_block(build.record(1, changes={b"k": b"one", b"cold": b"c"}))
    store.commit_block(build.record(2, changes={b"k": b"two"}))
    store.commit_block(
        build.record(3, changes={b"k": b"three" if database == schema.DB_STATE_LATEST else None})
    )
    with store._read() as txn:
        stored = txn.get(b"k", db=store._handles[database])
    assert stored is not None
    raw_put(store, database, b"k", stored[:-1] + bytes([stored[-1] ^ 1]))
    if database == schema.DB_STATE_LATEST:
        with pytest.raises(StorageCorruptionError, match=r"state_latest\[6b\]: checksum mismatch"):
            store.get_state(b"k")
    for version, value in enumerate([None, b"one", b"two"]):
        assert store.get_state(b"k", version) == value
    assert store.get_state(b"k", 3) == (b"three" if database == schema.DB_STATE_LATEST else None)
    assert store.get_state(b"cold", 3) == b"c"
