"""Pruning by version: deleting the nodes stale since a version <= R keeps every version >= R
whole, makes every older version unavailable, and leaves no unreachable node behind."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from state_support import Chain, batches, sha256

from causeway.errors import HeightUnavailableError
from causeway.state import compute_root, root_node_key, verify_state_proof
from causeway.state.nodes import LEAF_VERSION, Child, decode_node, decode_root, node_key

slow = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reachable(chain: Chain, version: int) -> set[bytes]:
    """Every node key that the tree of ``version`` is made of."""
    keys = {root_node_key(version)}
    _, root = decode_root(chain.store.nodes[root_node_key(version)], version, sha256)
    pending: list[tuple[tuple[Child | None, ...], list[int]]] = (
        [] if root is None else [(root[0], [])]
    )
    while pending:
        children, path = pending.pop()
        for position, child in enumerate(children):
            if child is None or child[1] == LEAF_VERSION:
                continue
            child_path = [*path, position]
            packed = bytes(
                (child_path[index] << 4)
                | (child_path[index + 1] if index + 1 < len(child_path) else 0)
                for index in range(0, len(child_path), 2)
            ).ljust(32, b"\x00")
            key = node_key(child[1], len(child_path), packed)
            keys.add(key)
            pending.append((decode_node(chain.store.nodes[key], sha256)[0], child_path))
    return keys


def check_version(chain: Chain, version: int) -> None:
    state = chain.states[version]
    root = chain.tree.root_hash(version)
    assert root == compute_root(state, sha256)
    for number in range(0, 61, 2):
        key = b"key-%d" % number
        value = state.get(key)
        verify_state_proof(root, key, value, chain.tree.prove(key, version), sha256)
        assert chain.tree.get_value_hash(key, version) == (None if value is None else sha256(value))


def check_unavailable(chain: Chain, version: int) -> None:
    with pytest.raises(HeightUnavailableError):
        chain.tree.root_hash(version)
    with pytest.raises(HeightUnavailableError):
        chain.tree.prove(b"key-1", version)
    with pytest.raises(HeightUnavailableError):
        chain.tree.get_value_hash(b"key-1", version)


@slow
@given(st.lists(batches, min_size=2, max_size=10), st.data())
def test_pruning_keeps_retained_versions_and_drops_the_rest(
    changes: list[dict[bytes, bytes | None]], data: st.DataObject
) -> None:
    chain = Chain()
    for batch in changes:
        chain.apply(batch)
    oldest_retained = data.draw(st.integers(0, chain.version))
    chain.store.prune(oldest_retained)
    for version in range(oldest_retained, chain.version + 1):
        check_version(chain, version)
    for version in range(oldest_retained):
        check_unavailable(chain, version)
    # Nothing is left that no retained version needs.
    needed: set[bytes] = set()
    for version in range(oldest_retained, chain.version + 1):
        needed |= reachable(chain, version)
    assert set(chain.store.nodes) == needed
    # The chain goes on, and prunes again.
    for batch in data.draw(st.lists(batches, min_size=1, max_size=3)):
        chain.apply(batch)
    chain.store.prune(chain.version)
    check_version(chain, chain.version)
    assert set(chain.store.nodes) == reachable(chain, chain.version)


def test_pruning_a_window_of_versions() -> None:
    chain = Chain()
    history = 3
    for round_number in range(12):
        chain.apply(
            {
                b"key-%d" % ((round_number * 7 + offset) % 61): b"%d" % round_number
                for offset in range(9)
            }
            | {b"key-%d" % (round_number % 61): None}
        )
        chain.store.prune(max(0, chain.version - history + 1))
        for version in range(max(0, chain.version - history + 1), chain.version + 1):
            check_version(chain, version)
        for version in range(max(0, chain.version - history + 1)):
            check_unavailable(chain, version)


def test_a_fresh_tree_after_pruning() -> None:
    chain = Chain()
    for round_number in range(5):
        chain.apply(
            {b"key-%d" % number: b"%d" % round_number for number in range(round_number * 10)}
        )
    chain.store.prune(4)
    fresh = Chain()
    fresh.store = chain.store
    fresh.tree = type(chain.tree)(sha256, chain.store)
    fresh.states = chain.states
    check_version(fresh, 4)
    check_unavailable(fresh, 3)
    fresh.apply({b"key-1": None})
    check_version(fresh, 5)
