"""The node layout's small rules, each on both sides: an internal root only under its own tag,
nibbles at both halves of a byte and at their largest value, the key and value hashes of a leaf
record, the hash of each kind of heap slot. The tests a cosmic-ray run over state/nodes.py showed
missing from the tests that mirror it (docs/testing.md)."""

from __future__ import annotations

import pytest
from state_support import sha256

from causeway.errors import StorageCorruptionError
from causeway.state.nodes import (
    EMPTY_HASH,
    NODE_INTERNAL_ROOT,
    Node,
    decode_root,
    encode_root,
    internal_child,
    leaf_child,
    leaf_key_hash,
    leaf_value_hash,
    nibble,
    slot_hash,
)

LEAVES = (leaf_child(b"k" * 32, b"v" * 32, sha256), leaf_child(b"m" * 32, b"w" * 32, sha256))
NODE: Node = ((LEAVES[0], *[None] * 14, LEAVES[1]), 0x8001, 0x8001, None)


def test_an_internal_root_decodes_under_its_tag_only() -> None:
    encoded = encode_root(internal_child(b"r" * 32, 5), NODE)
    assert encoded[0] == NODE_INTERNAL_ROOT
    root, node = decode_root(encoded, 5, sha256)
    assert root == internal_child(b"r" * 32, 5)
    assert node is not None and node[0] == NODE[0]
    # The same body under the tags below (empty root, stored node, leaf root) and above.
    for tag in (0, 1, 2, 4):
        with pytest.raises(StorageCorruptionError, match="state root node of version 5"):
            decode_root(bytes((tag,)) + encoded[1:], 5, sha256)


def test_nibbles_are_read_high_half_first_up_to_fifteen() -> None:
    key_hash = bytes((0x1F, 0xF1)) + bytes(30)
    assert [nibble(key_hash, depth) for depth in range(4)] == [1, 15, 15, 1]


def test_a_leaf_record_holds_its_key_hash_then_its_value_hash() -> None:
    leaf = LEAVES[0]
    assert leaf_key_hash(leaf) == b"k" * 32
    assert leaf_value_hash(leaf) == b"v" * 32


def test_each_kind_of_slot_has_its_hash() -> None:
    assert slot_hash(None) == EMPTY_HASH
    assert slot_hash(LEAVES[0]) == LEAVES[0][0]
    assert slot_hash(b"h" * 32) == b"h" * 32
