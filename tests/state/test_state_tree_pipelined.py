"""StateTree versions built on a version applied and not committed yet (the node executes the
next block while the previous one is written): same roots and nodes as built in turn, with the
commits arriving in order during or after the next apply."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from state_support import Chain, MemoryStore, batches, reference_root, sha256

from causeway.errors import InvariantError, StorageCorruptionError
from causeway.state import StateTree, TreeUpdate
from causeway.state.nodes import root_node_key


@settings(deadline=None, max_examples=60)
@given(st.lists(batches, min_size=3, max_size=6))
def test_a_version_built_on_a_pending_one_matches_the_one_built_in_turn(
    changes: list[dict[bytes, bytes | None]],
) -> None:
    in_turn = Chain()
    for batch in changes:
        in_turn.apply(batch)

    store = MemoryStore()
    tree = StateTree(sha256, store)
    previous = tree.apply(0, changes[0])
    store.write(previous)
    tree.committed(previous)
    for version, batch in enumerate(changes[1:], start=1):
        # Built on version - 1 before it is committed; then version - 1 is committed.
        update = tree.apply(version, batch, base=previous if version > 1 else None)
        if version > 1:
            store.write(previous)
            tree.committed(previous)
        assert update.root_hash == in_turn.updates[version].root_hash
        assert update.new_nodes == in_turn.updates[version].new_nodes
        assert sorted(update.stale_node_keys) == sorted(in_turn.updates[version].stale_node_keys)
        previous = update
    store.write(previous)
    tree.committed(previous)
    last = len(changes) - 1
    assert tree.root_hash(last) == reference_root(in_turn.states[last], sha256)


def test_two_versions_ahead_of_the_committed_one() -> None:
    """Versions 1 and 2 both pending on top of 0, then 3 built on 2; commits then come in order."""
    in_turn = Chain()
    batches_in_order = [
        {b"a": b"1", b"b": b"2"},
        {b"a": b"3", b"c": b"4"},
        {b"b": None, b"d": b"5"},
        {b"a": None, b"e": b"6"},
    ]
    for batch in batches_in_order:
        in_turn.apply(batch)
    store = MemoryStore()
    tree = StateTree(sha256, store)
    zero = tree.apply(0, batches_in_order[0])
    store.write(zero)
    tree.committed(zero)
    one = tree.apply(1, batches_in_order[1])
    two = tree.apply(2, batches_in_order[2], base=one)
    three = tree.apply(3, batches_in_order[3], base=two)
    for update in (one, two, three):
        store.write(update)
        tree.committed(update)
    assert [u.root_hash for u in (one, two, three)] == [u.root_hash for u in in_turn.updates[1:]]
    assert tree.root_hash(3) == reference_root(in_turn.states[3], sha256)


def test_a_base_committed_meanwhile_is_built_on_as_the_latest() -> None:
    chain = Chain()
    chain.apply({b"a": b"1"})
    one = chain.apply({b"b": b"2"})  # applied and committed
    two = chain.tree.apply(2, {b"c": b"3"}, base=one)
    assert two.root_hash == reference_root({b"a": b"1", b"b": b"2", b"c": b"3"}, sha256)


def test_a_base_that_is_not_pending_or_of_the_wrong_version_is_refused() -> None:
    chain = Chain()
    chain.apply({b"a": b"1"})
    one = chain.tree.apply(1, {b"b": b"2"})
    with pytest.raises(InvariantError, match="state version 3 cannot be built on 1"):
        chain.tree.apply(3, {b"c": b"3"}, base=one)
    other = Chain()
    other.apply({b"x": b"1"})
    foreign = other.tree.apply(1, {b"y": b"2"})
    with pytest.raises(InvariantError, match="state version 1 to build on is not pending here"):
        chain.tree.apply(2, {b"c": b"3"}, base=foreign)


def test_committing_a_version_keeps_the_pending_ones_above_it() -> None:
    chain = Chain()
    zero = chain.apply({b"a": b"1"})
    assert zero.version == 0
    one = chain.tree.apply(1, {b"b": b"2"})
    two = chain.tree.apply(2, {b"c": b"3"}, base=one)
    chain.store.write(one)
    chain.tree.committed(one)
    # Version 2 is still pending: version 3 can be built on it.
    three = chain.tree.apply(3, {b"d": b"4"}, base=two)
    assert three.root_hash == reference_root(
        {b"a": b"1", b"b": b"2", b"c": b"3", b"d": b"4"}, sha256
    )


def _pipelined(
    tree: StateTree, store: MemoryStore, versions: int
) -> Iterator[tuple[TreeUpdate, TreeUpdate]]:
    """Builds versions 1..versions-1 each on the one before while that one is still pending
    (as a loaded node does), committing the one below after each apply; yields (built, base)."""
    previous = tree.apply(0, {b"key %d" % index: b"start" for index in range(200)})
    store.write(previous)
    tree.committed(previous)
    for version in range(1, versions):
        batch = {b"key %d" % ((version * 37 + index) % 400): b"%d" % version for index in range(60)}
        update = tree.apply(version, batch, base=previous if version > 1 else None)
        if version > 1:
            store.write(previous)
            tree.committed(previous)
        yield update, previous
        previous = update


def test_a_loaded_run_keeps_no_committed_version_beneath_the_pending_ones() -> None:
    """Each version built on a pending one used to hold the whole chain of versions below it (and
    their decoded nodes), so a node under steady load kept every block's nodes since the load
    began. Once a base is committed, the versions above it let go of it."""
    store = MemoryStore()
    tree = StateTree(sha256, store)
    for update, base in _pipelined(tree, store, 30):
        # The one pending version is the newest, and the base it was built on is committed now.
        pending = tree._pending  # what the tree holds is the behaviour under test
        assert [entry.update for entry in pending] == [update]
        assert pending[0].base is None
        assert base.version == update.version - 1 or update.version == 1


def test_a_version_whose_base_was_let_go_reads_the_base_nodes_from_the_store() -> None:
    """With a cache of two nodes, the nodes of a base that was let go of must come from the
    store: the roots still match the tree built in turn."""
    in_turn = Chain()
    store = MemoryStore()
    tree = StateTree(sha256, store, cache_nodes_max=2)
    in_turn.apply({b"key %d" % index: b"start" for index in range(200)})
    for update, _ in _pipelined(tree, store, 12):
        batch = {
            b"key %d" % ((update.version * 37 + index) % 400): b"%d" % update.version
            for index in range(60)
        }
        assert update.root_hash == in_turn.apply(batch).root_hash
    assert store.reads > 0


def test_apply_leaves_no_reference_cycle_for_the_collector() -> None:
    """apply's recursive helpers refer to themselves through their closures; the cycle is broken
    before apply returns (or raises), so reference counting frees everything it made, and the
    cyclic collector finds nothing."""
    store = MemoryStore()
    tree = StateTree(sha256, store)
    zero = tree.apply(0, {b"key %d" % index: b"start" for index in range(300)})
    store.write(zero)
    tree.committed(zero)
    gc.collect()
    gc.disable()
    try:
        one = tree.apply(1, {b"key %d" % index: b"one" for index in range(0, 300, 3)})
        assert gc.collect() == 0
        store.write(one)
        tree.committed(one)
        # Every node but the root lost: the next apply raises from inside its recursive helpers.
        root = store.nodes[root_node_key(1)]
        store.nodes.clear()
        store.nodes[root_node_key(1)] = root
        tree_on_a_lost_store = StateTree(sha256, store)
        with pytest.raises(StorageCorruptionError, match="of the latest version is missing"):
            tree_on_a_lost_store.apply(2, {b"key 1": b"two"})
        assert gc.collect() == 0
    finally:
        gc.enable()
