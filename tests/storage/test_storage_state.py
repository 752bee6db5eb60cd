from __future__ import annotations

import pytest

from causeway.errors import HeightUnavailableError, InvariantError
from causeway.storage import Store
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
    # History keys are length-prefixed: b"a" at version v must never be confused with b"a\x00"
    # or b"a" + 8 more bytes that happen to look like a version.
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
