"""The state tree's version bound on both sides: the tests a cosmic-ray sample over state/tree.py
showed missing (docs/testing.md)."""

from __future__ import annotations

import pytest
from state_support import MemoryStore, sha256

from causeway.errors import RequestError
from causeway.state import StateTree, compute_root, root_node_key
from causeway.state.nodes import VERSION_MAX, encode_root


def test_the_last_version_is_2_to_the_64_minus_one() -> None:
    store = MemoryStore()
    # An empty tree committed at the version before the last (as storage holds it).
    store.nodes[root_node_key(2**64 - 2)] = encode_root(None, None)
    tree = StateTree(sha256, store)
    update = tree.apply(2**64 - 1, {b"key": b"value"})
    assert VERSION_MAX == 2**64 - 1
    assert update.version == VERSION_MAX
    assert update.root_hash == compute_root({b"key": b"value"}, sha256)
    with pytest.raises(RequestError, match=r"state version 18446744073709551616 is outside"):
        tree.apply(2**64, {b"key": b"value"})
