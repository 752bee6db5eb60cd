"""The stored form of the tree: node keys and node encodings (docs/state.md)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from state_support import sha256

from causeway.errors import RequestError, StorageCorruptionError
from causeway.state import node_key, node_key_version, root_node_key
from causeway.state.nodes import (
    Node,
    build_heap,
    decode_node,
    decode_root,
    encode_node,
    encode_root,
    internal_child,
    leaf_child,
    node_heap,
    update_heap,
)

KEY_HASH = bytes.fromhex("a1b2c3d4" + "00" * 28)


def test_node_key_layout() -> None:
    assert root_node_key(7) == bytes.fromhex("000000000000000700")
    assert node_key(7, 0, KEY_HASH) == root_node_key(7)
    assert node_key(7, 1, KEY_HASH) == bytes.fromhex("000000000000000701a0")
    assert node_key(7, 2, KEY_HASH) == bytes.fromhex("000000000000000702a1")
    assert node_key(7, 5, KEY_HASH) == bytes.fromhex("000000000000000705a1b2c0")
    assert node_key(2**64 - 1, 64, KEY_HASH) == b"\xff" * 8 + b"\x40" + KEY_HASH
    assert node_key_version(node_key(123456789, 3, KEY_HASH)) == 123456789
    with pytest.raises(RequestError):
        root_node_key(-1)
    with pytest.raises(RequestError):
        root_node_key(2**64)


children_strategy = st.lists(
    st.one_of(
        st.none(),
        st.builds(
            lambda key, value: leaf_child(key, value, sha256),
            st.binary(min_size=32, max_size=32),
            st.binary(min_size=32, max_size=32),
        ),
        st.builds(internal_child, st.binary(min_size=32, max_size=32), st.integers(0, 2**64 - 1)),
    ),
    min_size=16,
    max_size=16,
).filter(lambda children: any(child is not None for child in children))


def masks(children: list[tuple[bytes, int, bytes] | None]) -> tuple[int, int]:
    present = sum(1 << index for index, child in enumerate(children) if child is not None)
    leaves = sum(
        1 << index for index, child in enumerate(children) if child is not None and child[1] < 0
    )
    return present, leaves


@given(children_strategy)
def test_internal_nodes_round_trip(children: list[tuple[bytes, int, bytes] | None]) -> None:
    node: Node = (tuple(children), *masks(children), None)
    encoded = encode_node(node)
    assert encoded[0] == 1
    decoded = decode_node(encoded, sha256)
    assert decoded == node
    heap = build_heap(children, sha256)
    assert node_heap(decoded, sha256) == heap
    assert node_heap((*node[:3], heap), sha256) is heap
    root_entry = heap[1]
    if isinstance(root_entry, bytes):
        entry = internal_child(root_entry, 9)
        root_child, root_node = decode_root(encode_root(entry, node), 9, sha256)
        assert root_child == entry
        assert root_node == node


@given(children_strategy, children_strategy)
def test_updating_a_heap_equals_building_it(
    old: list[tuple[bytes, int, bytes] | None], new: list[tuple[bytes, int, bytes] | None]
) -> None:
    positions = [index for index in range(16) if old[index] != new[index]]
    if positions:
        assert update_heap(build_heap(old, sha256), new, positions, sha256) == build_heap(
            new, sha256
        )


def test_a_leaf_is_stored_as_its_key_and_value_hashes() -> None:
    leaf = leaf_child(b"k" * 32, b"v" * 32, sha256)
    node: Node = (
        (leaf, *[None] * 14, leaf_child(b"m" * 32, b"w" * 32, sha256)),
        0x8001,
        0x8001,
        None,
    )
    encoded = encode_node(node)
    assert encoded == b"\x01\x80\x01\x80\x01" + b"k" * 32 + b"v" * 32 + b"m" * 32 + b"w" * 32
    assert decode_node(encoded, sha256)[0][0] == leaf


def test_root_encodings() -> None:
    assert encode_root(None, None) == b"\x00"
    assert decode_root(b"\x00", 3, sha256) == (None, None)
    leaf = leaf_child(b"k" * 32, b"v" * 32, sha256)
    assert encode_root(leaf, None) == b"\x02" + b"k" * 32 + b"v" * 32
    assert decode_root(encode_root(leaf, None), 3, sha256) == (leaf, None)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00\x00", b"\x02" + b"k" * 32, b"\x03" + b"r" * 32, b"\x09", b"\x01" + b"x" * 40],
)
def test_malformed_roots_are_corruption(data: bytes) -> None:
    with pytest.raises(StorageCorruptionError):
        decode_root(data, 1, sha256)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x02" + b"k" * 64,
        b"\x01\x00\x00\x00\x00",  # no children
        b"\x01\x00\x01\x00\x02" + b"x" * 64,  # a leaf bit without a child bit
        b"\x01\x00\x01\x00\x01" + b"x" * 63,  # one byte short of a leaf (key and value hash)
        b"\x01\x00\x01\x00\x01" + b"x" * 65,  # one byte long
        b"\x01\x00\x01\x00\x00" + b"x" * 41,  # one byte long
    ],
)
def test_malformed_nodes_are_corruption(data: bytes) -> None:
    with pytest.raises(StorageCorruptionError):
        decode_node(data, sha256)
