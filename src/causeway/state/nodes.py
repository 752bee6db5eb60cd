"""Hashing rules, node keys and the compact byte form of stored state-tree nodes (docs/state.md).

The tree is binary for hashing and proofs, but stored 16-ary (Jellyfish Merkle Tree style): one
stored internal node holds a 4-level binary subtree, i.e. up to 16 children, one per nibble of the
key hash. A child is either a leaf, stored inline in its parent (leaf hash, key hash, value hash),
or an internal node stored under its own node key. Only the root of a version can be empty or a
lone leaf; every other stored node has at least two leaves beneath it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Final

from causeway.errors import InvariantError, RequestError, StorageCorruptionError

HashFunction = Callable[[bytes], bytes]

HASH_BYTES = 32
KEY_HASH_BITS = HASH_BYTES * 8
KEY_HASH_NIBBLES = HASH_BYTES * 2

LEAF_PREFIX = b"\x00"
INTERNAL_PREFIX = b"\x01"
# The hash of an empty subtree, and the root of an empty tree.
EMPTY_HASH = bytes(HASH_BYTES)

# A child of an internal node: (hash, version, record). ``record`` is the child's stored form:
# leaf hash || key hash || value hash for a leaf (whose version is LEAF_VERSION), or
# hash || version (u64) for an internal child stored under node_key(version, depth, path).
Child = tuple[bytes, int, bytes]
LEAF_VERSION = -1

# A slot of a node's binary heap: empty (None), the hash of a subtree with two or more leaves, or
# the leaf a subtree with exactly one leaf collapses to.
Slot = bytes | Child | None

# Encoded node tags (first byte).
NODE_EMPTY_ROOT = 0
NODE_INTERNAL = 1
NODE_LEAF_ROOT = 2
NODE_INTERNAL_ROOT = 3

# Node key: version (u64, big-endian) || depth in nibbles (u8) || the path's nibbles packed two
# per byte, high nibble first, a trailing odd nibble in the high half of the last byte.
NODE_KEY_HEAD = struct.Struct(">QB")
VERSION_MAX = (1 << 64) - 1
_BITMAPS = struct.Struct(">HH")
_INTERNAL_HEAD = struct.Struct(">BHH")
_VERSION = struct.Struct(">Q")
HIGH_NIBBLE = [bytes((value & 0xF0,)) for value in range(256)]

# A leaf is stored as key hash || value hash: its hash is recomputed when the node is decoded,
# which costs a hash per leaf read from storage and saves a third of every stored leaf.
_LEAF_RECORD_BYTES = 2 * HASH_BYTES
_INTERNAL_RECORD_BYTES = HASH_BYTES + _VERSION.size


# A decoded internal node: (children, child bitmap, leaf bitmap, heap or None).
#
# ``children`` are the 16 children by nibble. ``heap`` has 32 slots laid out as a binary heap:
# slot 1 is the node's own subtree, slots 2i and 2i + 1 the halves of slot i, and slots 16..31 the
# children (an internal child's slot holds its hash, a leaf's slot the leaf itself). Combining
# rule: two empty slots give an empty slot, an empty slot and a lone leaf give that leaf (a subtree
# with one leaf is that leaf), anything else gives H(0x01 || left hash || right hash) with 32 zero
# bytes for an empty side. Keeping the heap lets an update rehash only the paths of the children
# that changed, and lets a proof read its siblings without hashing; a node decoded from storage
# has none until it is rebuilt. The bitmaps are those of the encoded form.
#
# Plain tuples of bytes, ints and tuples, on purpose: CPython's garbage collector stops tracking
# such tuples after their first collection, so a cache of many thousands of nodes costs the
# collector nothing (with objects and lists, a full collection took about 200 ms in
# bench/state_tree.py).
Heap = tuple[Slot, ...]
Node = tuple[tuple[Child | None, ...], int, int, Heap | None]
NODE_CHILDREN: Final = 0
NODE_HEAP: Final = 3


def node_heap(node: Node, hash_function: HashFunction) -> Heap:
    """The node's heap, computed when the node came from storage without one."""
    heap = node[NODE_HEAP]
    return build_heap(node[NODE_CHILDREN], hash_function) if heap is None else heap


def encode_node(node: Node) -> bytes:
    """Tag 1 || child bitmap (u16) || leaf bitmap (u16) || the present children's records.

    Bit i of a bitmap (least significant = nibble 0) marks nibble i. Records in nibble order: a
    leaf is key hash || value hash (64 bytes; its hash is recomputed on decode), an internal
    child is its hash || version (u64, 40 bytes).
    """
    parts = [_INTERNAL_HEAD.pack(NODE_INTERNAL, node[1], node[2])]
    parts += [
        child[2] if child[1] != LEAF_VERSION else child[2][HASH_BYTES:]
        for child in node[0]
        if child is not None
    ]
    return b"".join(parts)


def node_key_head(version: int, depth: int) -> bytes:
    """The part of a node key before its path."""
    return NODE_KEY_HEAD.pack(version, depth)


def node_key(version: int, depth: int, key_hash: bytes) -> bytes:
    """The key of the node at ``depth`` nibbles on ``key_hash``'s path, written at ``version``."""
    half = depth >> 1
    if depth & 1:
        return NODE_KEY_HEAD.pack(version, depth) + key_hash[:half] + HIGH_NIBBLE[key_hash[half]]
    return NODE_KEY_HEAD.pack(version, depth) + key_hash[:half]


def root_node_key(version: int) -> bytes:
    """Every version writes its root here, even when nothing changed: version || 0x00."""
    if not 0 <= version <= VERSION_MAX:
        raise RequestError(f"state version {version} is outside 0..2**64-1")
    return NODE_KEY_HEAD.pack(version, 0)


def node_key_version(key: bytes) -> int:
    """The version a node key was written at (its first eight bytes)."""
    version: int = _VERSION.unpack_from(key)[0]
    return version


def nibble(key_hash: bytes, depth: int) -> int:
    byte = key_hash[depth >> 1]
    return byte & 0x0F if depth & 1 else byte >> 4


def leaf_child(key_hash: bytes, value_hash: bytes, hash_function: HashFunction) -> Child:
    body = key_hash + value_hash
    leaf_hash = hash_function(LEAF_PREFIX + body)
    return (leaf_hash, LEAF_VERSION, leaf_hash + body)


def leaf_key_hash(leaf: Child) -> bytes:
    return leaf[2][HASH_BYTES : 2 * HASH_BYTES]


def leaf_value_hash(leaf: Child) -> bytes:
    return leaf[2][2 * HASH_BYTES :]


def internal_child(node_hash: bytes, version: int) -> Child:
    return (node_hash, version, node_hash + _VERSION.pack(version))


def slot_hash(slot: Slot) -> bytes:
    if slot is None:
        return EMPTY_HASH
    if isinstance(slot, tuple):
        return slot[0]
    return slot


def build_heap(children: Sequence[Child | None], hash_function: HashFunction) -> Heap:
    """The binary heap over ``children`` (see Node), computed from scratch."""
    heap: list[Slot] = [None] * 16
    for child in children:
        heap.append(None if child is None else child if child[1] == LEAF_VERSION else child[0])
    for index in range(15, 0, -1):
        left = heap[2 * index]
        right = heap[2 * index + 1]
        # The combining rule (see Node), inlined: this runs for every slot of every new node.
        if left is None:
            if right is None or isinstance(right, tuple):
                heap[index] = right
            else:
                heap[index] = hash_function(INTERNAL_PREFIX + EMPTY_HASH + right)
        elif right is None:
            if isinstance(left, tuple):
                heap[index] = left
            else:
                heap[index] = hash_function(INTERNAL_PREFIX + left + EMPTY_HASH)
        else:
            heap[index] = hash_function(
                INTERNAL_PREFIX
                + (left[0] if isinstance(left, tuple) else left)
                + (right[0] if isinstance(right, tuple) else right)
            )
    return tuple(heap)


def update_heap(
    old_heap: Heap,
    children: Sequence[Child | None],
    positions: list[int],
    hash_function: HashFunction,
) -> Heap:
    """``old_heap`` with the children at ``positions`` (ascending) replaced and rehashed.

    Only the slots above a changed child are recomputed: at most 4 per change, 15 in all.
    """
    heap = list(old_heap)
    if len(positions) == 1:
        # One changed child (the usual case deep in the tree): rehash its 4 ancestors.
        position = positions[0]
        child = children[position]
        index = 16 + position
        heap[index] = None if child is None else child if child[1] == LEAF_VERSION else child[0]
        while index > 1:
            index >>= 1
            left = heap[2 * index]
            right = heap[2 * index + 1]
            # The combining rule (see Node), inlined.
            if left is None:
                if right is None or isinstance(right, tuple):
                    heap[index] = right
                else:
                    heap[index] = hash_function(INTERNAL_PREFIX + EMPTY_HASH + right)
            elif right is None:
                if isinstance(left, tuple):
                    heap[index] = left
                else:
                    heap[index] = hash_function(INTERNAL_PREFIX + left + EMPTY_HASH)
            else:
                heap[index] = hash_function(
                    INTERNAL_PREFIX
                    + (left[0] if isinstance(left, tuple) else left)
                    + (right[0] if isinstance(right, tuple) else right)
                )
        return tuple(heap)
    dirty = 0
    for position in positions:
        child = children[position]
        heap[16 + position] = (
            None if child is None else child if child[1] == LEAF_VERSION else child[0]
        )
        index = (16 + position) >> 1
        while index and not (dirty >> index) & 1:
            dirty |= 1 << index
            index >>= 1
    for index in range(15, 0, -1):
        if not (dirty >> index) & 1:
            continue
        left = heap[2 * index]
        right = heap[2 * index + 1]
        # The combining rule (see Node), inlined.
        if left is None:
            if right is None or isinstance(right, tuple):
                heap[index] = right
            else:
                heap[index] = hash_function(INTERNAL_PREFIX + EMPTY_HASH + right)
        elif right is None:
            if isinstance(left, tuple):
                heap[index] = left
            else:
                heap[index] = hash_function(INTERNAL_PREFIX + left + EMPTY_HASH)
        else:
            heap[index] = hash_function(
                INTERNAL_PREFIX
                + (left[0] if isinstance(left, tuple) else left)
                + (right[0] if isinstance(right, tuple) else right)
            )
    return tuple(heap)


def decode_internal(data: bytes, hash_function: HashFunction, offset: int = 1) -> Node:
    """Decodes the body of an internal node that starts at ``offset`` (after the tag),
    recomputing the hash of each leaf."""
    try:
        present, leaves = _BITMAPS.unpack_from(data, offset)
    except struct.error:
        raise StorageCorruptionError("state node is truncated") from None
    if leaves & ~present or not present:
        raise StorageCorruptionError("state node has inconsistent child bitmaps")
    leaf_count = leaves.bit_count()
    internal_count = present.bit_count() - leaf_count
    offset += _BITMAPS.size
    expected = offset + leaf_count * _LEAF_RECORD_BYTES + internal_count * _INTERNAL_RECORD_BYTES
    if len(data) != expected:
        raise StorageCorruptionError("state node has the wrong length")
    children: list[Child | None] = [None] * 16
    remaining = present
    while remaining:
        bit = remaining & -remaining
        remaining ^= bit
        if leaves & bit:
            end = offset + _LEAF_RECORD_BYTES
            body = data[offset:end]
            leaf_hash = hash_function(LEAF_PREFIX + body)
            child: Child = (leaf_hash, LEAF_VERSION, leaf_hash + body)
        else:
            end = offset + _INTERNAL_RECORD_BYTES
            child = (
                data[offset : offset + HASH_BYTES],
                _VERSION.unpack_from(data, offset + HASH_BYTES)[0],
                data[offset:end],
            )
        children[bit.bit_length() - 1] = child
        offset = end
    return (tuple(children), present, leaves, None)


def decode_node(data: bytes, hash_function: HashFunction) -> Node:
    """Decodes a stored non-root internal node."""
    if not data or data[0] != NODE_INTERNAL:
        raise StorageCorruptionError("state node is not an internal node")
    return decode_internal(data, hash_function)


def encode_root(root: Child | None, node: Node | None) -> bytes:
    """The root node of a version: empty (tag 0), a lone leaf (tag 2: key hash || value hash), or
    an internal node (tag 3: root hash || the internal node's body)."""
    if root is None:
        return b"\x00"
    if root[1] == LEAF_VERSION:
        return b"\x02" + root[2][HASH_BYTES:]
    if node is None:
        raise InvariantError("an internal root needs its node")
    return b"\x03" + root[0] + encode_node(node)[1:]


def decode_root(
    data: bytes, version: int, hash_function: HashFunction
) -> tuple[Child | None, Node | None]:
    """The root entry of a version and, when it is internal, its decoded node."""
    if not data:
        raise StorageCorruptionError("state root node is empty")
    tag = data[0]
    if tag == NODE_EMPTY_ROOT and len(data) == 1:
        return None, None
    if tag == NODE_LEAF_ROOT and len(data) == 1 + 2 * HASH_BYTES:
        return leaf_child(data[1 : 1 + HASH_BYTES], data[1 + HASH_BYTES :], hash_function), None
    if tag == NODE_INTERNAL_ROOT and len(data) > 1 + HASH_BYTES:
        node = decode_internal(data, hash_function, 1 + HASH_BYTES)
        return internal_child(data[1 : 1 + HASH_BYTES], version), node
    raise StorageCorruptionError(f"state root node of version {version} is malformed")
