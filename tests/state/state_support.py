"""Shared helpers of the state tests: an in-memory node store and a model of the state."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from hypothesis import strategies as st

from causeway.state import StateTree, TreeUpdate


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha3_256(data: bytes) -> bytes:
    return hashlib.sha3_256(data).digest()


def identity_hash(data: bytes) -> bytes:
    """A "hash" that maps 32-byte inputs to themselves, so that tests choose key hashes directly
    (long shared prefixes, keys that differ only in their last bit). Never use it for real."""
    if len(data) == 32:
        return data
    return hashlib.sha256(data).digest()


class MemoryStore:
    """A NodeReader that writes updates as storage does and prunes by stale version."""

    def __init__(self) -> None:
        self.nodes: dict[bytes, bytes] = {}
        self.stale_by_version: dict[int, list[bytes]] = {}
        self.reads = 0

    def get_state_node(self, node_key: bytes) -> bytes | None:
        self.reads += 1
        return self.nodes.get(node_key)

    def write(self, update: TreeUpdate) -> None:
        self.nodes.update(update.new_nodes)
        self.stale_by_version.setdefault(update.version, []).extend(update.stale_node_keys)

    def prune(self, oldest_retained_version: int) -> int:
        """Deletes every node stale since a version <= oldest_retained_version."""
        deleted = 0
        for version in sorted(self.stale_by_version):
            if version > oldest_retained_version:
                break
            for key in self.stale_by_version.pop(version):
                if self.nodes.pop(key, None) is not None:
                    deleted += 1
        return deleted


class Chain:
    """A StateTree over a MemoryStore together with the plain dict each version should hold."""

    def __init__(self, hash_function: object = sha256, **tree_options: int) -> None:
        assert callable(hash_function)
        self.hash_function = hash_function
        self.store = MemoryStore()
        self.tree = StateTree(hash_function, self.store, **tree_options)
        self.states: list[dict[bytes, bytes]] = []
        self.updates: list[TreeUpdate] = []

    @property
    def version(self) -> int:
        return len(self.states) - 1

    def apply(self, changes: Mapping[bytes, bytes | None]) -> TreeUpdate:
        version = len(self.states)
        update = self.tree.apply(version, changes)
        self.store.write(update)
        self.tree.committed(update)
        state = dict(self.states[-1]) if self.states else {}
        for key, value in changes.items():
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        self.states.append(state)
        self.updates.append(update)
        return update


def reference_root(items: Mapping[bytes, bytes], hash_function: object) -> bytes:
    """The ADR's definition, written as directly as possible (slow, for small trees)."""
    assert callable(hash_function)
    leaves = {hash_function(key): hash_function(value) for key, value in items.items()}

    def bit(key_hash: bytes, index: int) -> int:
        return (key_hash[index // 8] >> (7 - index % 8)) & 1

    def subtree(key_hashes: list[bytes], depth: int) -> bytes:
        if not key_hashes:
            return bytes(32)
        if len(key_hashes) == 1:
            return bytes(hash_function(b"\x00" + key_hashes[0] + leaves[key_hashes[0]]))
        left = [key_hash for key_hash in key_hashes if bit(key_hash, depth) == 0]
        right = [key_hash for key_hash in key_hashes if bit(key_hash, depth) == 1]
        return bytes(hash_function(b"\x01" + subtree(left, depth + 1) + subtree(right, depth + 1)))

    return subtree(sorted(leaves), 0)


# Keys from a small pool, so that batches update and delete keys that exist.
pool_keys = st.integers(0, 60).map(lambda number: b"key-%d" % number)
values = st.binary(max_size=12)
batches = st.dictionaries(pool_keys, st.one_of(st.none(), values), max_size=30)


def keys_sharing_prefixes(base: bytes) -> st.SearchStrategy[bytes]:
    """32-byte keys that differ from ``base`` from some bit on: with identity_hash their paths
    share prefixes of every length, down to keys that differ only in the last bit."""

    def build(position: int, tail: bytes) -> bytes:
        value = int.from_bytes(base, "big")
        flipped = value ^ (1 << (255 - position))
        keep_mask = ((1 << 256) - 1) ^ ((1 << (255 - position)) - 1)
        tail_value = int.from_bytes(tail, "big") & ((1 << (255 - position)) - 1)
        return ((flipped & keep_mask) | tail_value).to_bytes(32, "big")

    return st.builds(
        build,
        st.one_of(st.integers(0, 255), st.sampled_from([0, 3, 4, 5, 7, 8, 127, 252, 254, 255])),
        st.binary(min_size=32, max_size=32),
    )
