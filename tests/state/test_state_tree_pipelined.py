"""StateTree versions built on a version applied and not committed yet (the node executes the
next block while the previous one is written): same roots and nodes as built in turn, with the
commits arriving in order during or after the next apply."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from state_support import Chain, MemoryStore, batches, reference_root, sha256

from causeway.errors import InvariantError
from causeway.state import StateTree


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
