"""The versioned sparse Merkle tree of the authenticated state (docs/state.md).

``StateTree`` is pure: it reads persisted nodes through a ``NodeReader`` and returns what a version
adds and retires as a ``TreeUpdate``; the caller writes it. A version may be built on one that is
applied but not yet committed (``apply(..., base=update)``): the node executes the next block
while the previous one is being written. So one thread may apply while another commits; the
pending versions and the latest root are switched under a lock, and any thread may read
(``root_hash``, ``get_value_hash``, ``prove``), because reads never change the cache and nodes,
once written under a key, never change.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass

from causeway.errors import (
    ConfigurationError,
    HeightUnavailableError,
    InvariantError,
    RequestError,
    StorageCorruptionError,
)
from causeway.state.nodes import (
    EMPTY_HASH,
    HASH_BYTES,
    HIGH_NIBBLE,
    INTERNAL_PREFIX,
    KEY_HASH_BITS,
    KEY_HASH_NIBBLES,
    LEAF_PREFIX,
    LEAF_VERSION,
    NODE_CHILDREN,
    NODE_KEY_HEAD,
    VERSION_MAX,
    Child,
    HashFunction,
    Node,
    build_heap,
    decode_node,
    decode_root,
    encode_node,
    encode_root,
    internal_child,
    leaf_key_hash,
    leaf_value_hash,
    nibble,
    node_heap,
    node_key,
    node_key_head,
    root_node_key,
    slot_hash,
    update_heap,
)
from causeway.state.update import NodeReader, TreeUpdate
from causeway.types.v1.types_pb2 import StateProof

# Decoded nodes the tree keeps in memory (two generations of up to half this many each). A cached
# node takes about 1.8 KB; a tree of 100,000 keys has about 39,000 nodes.
CACHE_NODES_MAX = 131_072
# Above this many updates a node's slice is split by binary search instead of a scan.
_SCAN_UPDATES_MAX = 24
# Versions applied and not yet committed that the tree keeps (decoded), as bases for a next
# version and so that committed() need not decode them: the executions of a few consensus rounds
# and the block being written.
_PENDING_MAX = 8
_BYTE = [bytes((value,)) for value in range(256)]

Root = tuple[Child | None, Node | None]


@dataclass(slots=True)
class _Pending:
    """A version applied and not committed: its nodes decoded, its root, what it was built on."""

    update: TreeUpdate
    decoded: dict[bytes, Node]
    root: Root
    # The pending version this one was built on, until that one is committed (then None: its
    # nodes are in the cache and the store). Cut rather than kept, because every version built
    # on a pending one would otherwise hold the whole chain below it, and a loaded node builds
    # each block on the one being written: the decoded nodes of every block since the load began.
    base: _Pending | None

    def find(self, key: bytes) -> Node | None:
        """A node this version or a pending version below it added."""
        entry: _Pending | None = self
        while entry is not None:
            node = entry.decoded.get(key)
            if node is not None:
                return node
            entry = entry.base
        return None


class _NodeCache:
    """A two-generation cache: O(1) lookups and bounded size without per-hit bookkeeping."""

    def __init__(self, nodes_max: int) -> None:
        self._generation_max = max(1, nodes_max // 2)
        self.young: dict[bytes, Node] = {}
        self.old: dict[bytes, Node] = {}

    def get(self, key: bytes) -> Node | None:
        node = self.young.get(key)
        if node is None:
            node = self.old.get(key)
        return node

    def put(self, key: bytes, node: Node) -> None:
        self.young[key] = node
        if len(self.young) >= self._generation_max:
            self.old = self.young
            self.young = {}

    def discard(self, key: bytes) -> None:
        self.young.pop(key, None)
        self.old.pop(key, None)

    def __len__(self) -> int:
        return len(self.young) + len(self.old)


def _split(key_hashes: list[bytes], low: int, high: int, depth: int) -> list[tuple[int, int, int]]:
    """Splits the sorted ``key_hashes[low:high]`` (sharing ``depth`` nibbles) by the next nibble.

    Returns (nibble, start, end) for each non-empty group, in nibble order.
    """
    half = depth >> 1
    if high - low == 1:
        byte = key_hashes[low][half]
        return [(byte & 0x0F if depth & 1 else byte >> 4, low, high)]
    groups: list[tuple[int, int, int]] = []
    if high - low <= _SCAN_UPDATES_MAX:
        start = low
        if depth & 1:
            current = key_hashes[low][half] & 0x0F
            for index in range(low + 1, high):
                value = key_hashes[index][half] & 0x0F
                if value != current:
                    groups.append((current, start, index))
                    current = value
                    start = index
        else:
            current = key_hashes[low][half] >> 4
            for index in range(low + 1, high):
                value = key_hashes[index][half] >> 4
                if value != current:
                    groups.append((current, start, index))
                    current = value
                    start = index
        groups.append((current, start, high))
        return groups
    first = key_hashes[low]
    prefix = first[:half]
    base = first[half] & 0xF0 if depth & 1 else 0
    shift = 0 if depth & 1 else 4
    current = nibble(first, depth)
    last = nibble(key_hashes[high - 1], depth)
    start = low
    for value in range(current + 1, last + 1):
        end = bisect_left(key_hashes, prefix + _BYTE[base | (value << shift)], start, high)
        if end > start:
            groups.append((current, start, end))
            start = end
        current = value
    groups.append((last, start, high))
    return groups


class StateTree:
    """Builds, reads and proves versions of the state tree."""

    def __init__(
        self,
        hash_function: HashFunction,
        reader: NodeReader,
        *,
        cache_nodes_max: int = CACHE_NODES_MAX,
    ) -> None:
        if len(hash_function(b"")) != HASH_BYTES:
            raise ConfigurationError(f"the state tree needs a hash function of {HASH_BYTES} bytes")
        self._hash = hash_function
        self._reader = reader
        self._cache = _NodeCache(cache_nodes_max)
        # The root of the latest committed version, the base of the next apply(). Only this one
        # is kept: any older version may be pruned by storage at any time.
        self._latest: tuple[int, Root] | None = None
        # Recent apply() results not committed yet (oldest first), under _lock with _latest.
        self._pending: list[_Pending] = []
        self._lock = threading.Lock()

    # ----------------------------------------------------------------------------- writing

    def apply(
        self,
        version: int,
        updates: Mapping[bytes, bytes | None],
        *,
        base: TreeUpdate | None = None,
    ) -> TreeUpdate:
        """Builds ``version`` from ``version - 1`` (version 0 from the empty tree): the latest
        committed version, or ``base``, an update of ``version - 1`` applied here and not
        committed yet (InvariantError when it is neither pending nor the latest committed).

        A value of None deletes the key. Nothing changes inside the tree until ``committed``.
        """
        if not 0 <= version <= VERSION_MAX:
            raise RequestError(f"state version {version} is outside 0..2**64-1")
        base_entry = self._base(version, base)
        hash_function = self._hash
        hashed = {
            hash_function(key): None if value is None else hash_function(value)
            for key, value in updates.items()
        }
        key_hashes = sorted(hashed)
        value_hashes = [hashed[key_hash] for key_hash in key_hashes]
        version_bytes = version.to_bytes(8, "big")
        new_key_heads = [node_key_head(version, depth) for depth in range(KEY_HASH_NIBBLES)]
        pack_key_head = NODE_KEY_HEAD.pack

        old_root: Root
        if base_entry is not None:
            old_root = base_entry.root
        else:
            old_root = (None, None) if version == 0 else self._load_root(version - 1)
        root_node = old_root[1]

        new_nodes: dict[bytes, bytes] = {}
        new_decoded: dict[bytes, Node] = {}
        stale_node_keys: list[bytes] = []
        cache = self._cache
        # Nodes are looked up in the cache's generations directly (no call per node); if the
        # cache rotates during this apply, a lookup here merely misses and reads again.
        cache_young = cache.young
        cache_old = cache.old
        reader = self._reader

        def read_node(key: bytes) -> Node:
            node = cache.get(key)
            if node is None and base_entry is not None:
                node = base_entry.find(key)
            if node is None:
                data = reader.get_state_node(key)
                if data is None:
                    raise StorageCorruptionError(
                        f"state node {key.hex()} of the latest version is missing"
                    )
                node = decode_node(data, hash_function)
                cache.put(key, node)
            return node

        def new_leaf(key_hash: bytes, value_hash: bytes) -> Child:
            body = key_hash + value_hash
            leaf_hash = hash_function(LEAF_PREFIX + body)
            return (leaf_hash, LEAF_VERSION, leaf_hash + body)

        def build(depth: int, keys: list[bytes], values: list[bytes], low: int, high: int) -> Child:
            # At least two leaves, all present: a new internal node at this depth.
            children: list[Child | None] = [None] * 16
            present = 0
            leaves = 0
            for position, start, end in _split(keys, low, high, depth):
                present |= 1 << position
                if end - start == 1:
                    leaves |= 1 << position
                    children[position] = new_leaf(keys[start], values[start])
                else:
                    children[position] = build(depth + 1, keys, values, start, end)
            heap = build_heap(children, hash_function)
            node_hash = heap[1]
            assert isinstance(node_hash, bytes)
            node: Node = (tuple(children), present, leaves, heap)
            key = node_key(version, depth, keys[low])
            new_nodes[key] = encode_node(node)
            new_decoded[key] = node
            return (node_hash, version, node_hash + version_bytes)

        def build_from(depth: int, keys: list[bytes], values: list[bytes]) -> Child | None:
            if not keys:
                return None
            if len(keys) == 1:
                return new_leaf(keys[0], values[0])
            return build(depth, keys, values, 0, len(keys))

        def insert(depth: int, low: int, high: int) -> Child | None:
            """The subtree of the updates in ``low:high`` where the tree is empty."""
            inserted_keys: list[bytes] = []
            inserted_values: list[bytes] = []
            for index in range(low, high):
                value_hash = value_hashes[index]
                if value_hash is not None:
                    inserted_keys.append(key_hashes[index])
                    inserted_values.append(value_hash)
            return build_from(depth, inserted_keys, inserted_values)

        def merge(leaf: Child, depth: int, low: int, high: int) -> Child | None:
            """The subtree of ``leaf`` and the updates in ``low:high``."""
            record = leaf[2]
            leaf_key = record[32:64]
            leaf_value = record[64:]
            merged_keys: list[bytes] = []
            merged_values: list[bytes] = []
            leaf_pending = True
            for index in range(low, high):
                key_hash = key_hashes[index]
                if leaf_pending and leaf_key <= key_hash:
                    leaf_pending = False
                    if leaf_key != key_hash:
                        merged_keys.append(leaf_key)
                        merged_values.append(leaf_value)
                value_hash = value_hashes[index]
                if value_hash is not None:
                    merged_keys.append(key_hash)
                    merged_values.append(value_hash)
            if leaf_pending:
                merged_keys.append(leaf_key)
                merged_values.append(leaf_value)
            if merged_keys == [leaf_key] and merged_values[0] == leaf_value:
                return leaf
            return build_from(depth, merged_keys, merged_values)

        def update(entry: Child, depth: int, low: int, high: int) -> Child | None:
            """The internal node ``entry`` at ``depth`` with the updates in ``low:high`` applied;
            ``entry`` itself when nothing changed."""
            first = key_hashes[low]
            half = depth >> 1
            path = first[:half] + HIGH_NIBBLE[first[half]] if depth & 1 else first[:half]
            old_key = pack_key_head(entry[1], depth) + path
            if depth:
                node = cache_young.get(old_key) or cache_old.get(old_key) or read_node(old_key)
            elif root_node is None:
                raise StorageCorruptionError("internal state root has no node")
            else:
                node = root_node
            children, present, leaves, old_heap = node
            new_children: list[Child | None] | None = None
            positions: list[int] = []
            if high - low == 1:
                byte = first[half]
                groups = [(byte & 0x0F if depth & 1 else byte >> 4, low, high)]
            else:
                groups = _split(key_hashes, low, high, depth)
            for position, start, end in groups:
                child = children[position]
                new_child: Child | None
                if child is None:
                    if end - start == 1:
                        # The common cases are inlined: one new key in an empty slot, ...
                        value_hash = value_hashes[start]
                        if value_hash is None:
                            continue
                        key_hash = key_hashes[start]
                        body = key_hash + value_hash
                        leaf_hash = hash_function(LEAF_PREFIX + body)
                        new_child = (leaf_hash, LEAF_VERSION, leaf_hash + body)
                    else:
                        new_child = insert(depth + 1, start, end)
                        if new_child is None:
                            continue
                elif child[1] == LEAF_VERSION:
                    key_hash = key_hashes[start]
                    record = child[2]
                    if end - start == 1 and record.startswith(key_hash, 32):
                        # ... and a new value (or a deletion) for the key of a leaf.
                        value_hash = value_hashes[start]
                        if value_hash is None:
                            new_child = None
                        elif record.endswith(value_hash):
                            continue
                        else:
                            body = key_hash + value_hash
                            leaf_hash = hash_function(LEAF_PREFIX + body)
                            new_child = (leaf_hash, LEAF_VERSION, leaf_hash + body)
                    else:
                        new_child = merge(child, depth + 1, start, end)
                        if new_child is child:
                            continue
                else:
                    new_child = update(child, depth + 1, start, end)
                    if new_child is child:
                        continue
                if new_children is None:
                    new_children = list(children)
                new_children[position] = new_child
                positions.append(position)
                bit = 1 << position
                if new_child is None:
                    present &= ~bit
                    leaves &= ~bit
                elif new_child[1] == LEAF_VERSION:
                    present |= bit
                    leaves |= bit
                else:
                    present |= bit
                    leaves &= ~bit
            if new_children is None:
                return entry
            if depth:
                stale_node_keys.append(old_key)
            if old_heap is None:
                heap = build_heap(new_children, hash_function)
            else:
                heap = update_heap(old_heap, new_children, positions, hash_function)
            top = heap[1]
            if top is None or isinstance(top, tuple):
                # Empty, or one leaf left: the subtree is that leaf, held by the parent.
                return top
            new_node: Node = (tuple(new_children), present, leaves, heap)
            key = new_key_heads[depth] + path
            new_nodes[key] = encode_node(new_node)
            new_decoded[key] = new_node
            return (top, version, top + version_bytes)

        old_root_entry = old_root[0]
        new_root_entry: Child | None
        try:
            if not key_hashes:
                new_root_entry = old_root_entry
            elif old_root_entry is None:
                new_root_entry = insert(0, 0, len(key_hashes))
            elif old_root_entry[1] == LEAF_VERSION:
                new_root_entry = merge(old_root_entry, 0, 0, len(key_hashes))
            else:
                new_root_entry = update(old_root_entry, 0, 0, len(key_hashes))
        finally:
            # build and update call themselves through their closure cells: a reference cycle
            # that, left, would keep everything the closures hold (this version's dicts, the node
            # cache's generations as they were) alive until the cyclic collector ran, and hand it
            # tens of thousands of objects to free on a loaded node. (Rebound rather than deleted:
            # linters read a `del` here as the helpers' own calls naming an undefined function.)
            build = update = None  # type: ignore[assignment]
        new_root_key = root_node_key(version)
        new_root: Root
        if new_root_entry is None or new_root_entry[1] == LEAF_VERSION:
            new_root = (new_root_entry, None)
        elif new_root_entry is old_root_entry:
            # Unchanged internal root: rewritten under this version's root key.
            new_root = (internal_child(new_root_entry[0], version), root_node)
        else:
            new_root = (new_root_entry, new_decoded.pop(new_root_key))
        new_nodes[new_root_key] = encode_root(new_root[0], new_root[1])
        if version > 0:
            stale_node_keys.append(root_node_key(version - 1))

        root_entry = new_root[0]
        result = TreeUpdate(
            version=version,
            root_hash=EMPTY_HASH if root_entry is None else root_entry[0],
            new_nodes=new_nodes,
            stale_node_keys=stale_node_keys,
        )
        with self._lock:
            self._pending.append(_Pending(result, new_decoded, new_root, base_entry))
            del self._pending[:-_PENDING_MAX]
        return result

    def _base(self, version: int, base: TreeUpdate | None) -> _Pending | None:
        """The pending version ``apply`` builds on; None to build on the latest committed one."""
        if base is None:
            return None
        if base.version != version - 1:
            raise InvariantError(f"state version {version} cannot be built on {base.version}")
        with self._lock:
            if self._latest is not None and self._latest[0] == base.version:
                # Committed meanwhile (the block was written while the next one was executed).
                return None
            for pending in self._pending:
                if pending.update is base:
                    return pending
        raise InvariantError(f"state version {base.version} to build on is not pending here")

    def committed(self, update: TreeUpdate) -> None:
        """Tells the tree that ``update`` is durable: its nodes become the cached latest ones.
        Pending versions above it (built on it, or alternatives for a later height) stay."""
        decoded: dict[bytes, Node] | None = None
        root: Root | None = None
        with self._lock:
            for pending in self._pending:
                if pending.update is update:
                    decoded, root = pending.decoded, pending.root
                    break
        root_key = root_node_key(update.version)
        if decoded is None or root is None:
            decoded = {}
            for key, data in update.new_nodes.items():
                if key != root_key:
                    decoded[key] = decode_node(data, self._hash)
            root = decode_root(update.new_nodes[root_key], update.version, self._hash)
        cache = self._cache
        for key in update.stale_node_keys:
            cache.discard(key)
        for key, node in decoded.items():
            cache.put(key, node)
        with self._lock:
            self._latest = (update.version, root)
            self._pending = [p for p in self._pending if p.update.version > update.version]
            for pending in self._pending:
                if pending.base is not None and pending.base.update.version <= update.version:
                    pending.base = None

    # ----------------------------------------------------------------------------- reading

    def root_hash(self, version: int) -> bytes:
        """The state root of ``version``; HeightUnavailableError when it is pruned or unwritten."""
        root = self._load_root(version)[0]
        return EMPTY_HASH if root is None else root[0]

    def get_value_hash(self, key: bytes, version: int) -> bytes | None:
        """The hash of the value of ``key`` at ``version``, None when absent."""
        key_hash = self._hash(key)
        entry, node = self._load_root(version)
        depth = 0
        while entry is not None:
            if entry[1] == LEAF_VERSION:
                return leaf_value_hash(entry) if leaf_key_hash(entry) == key_hash else None
            if depth:
                node = self._read_for_query(node_key(entry[1], depth, key_hash), version)
            if node is None:
                raise StorageCorruptionError("internal state root has no node")
            entry = node[NODE_CHILDREN][nibble(key_hash, depth)]
            depth += 1
        return None

    def prove(self, key: bytes, version: int) -> StateProof:
        """An inclusion proof for a present key, an exclusion proof for an absent one."""
        hash_function = self._hash
        key_hash = hash_function(key)
        entry, node = self._load_root(version)
        siblings: list[bytes] = []
        depth = 0
        while entry is not None:
            if entry[1] == LEAF_VERSION:
                return StateProof(
                    leaf_key_hash=leaf_key_hash(entry),
                    leaf_value_hash=leaf_value_hash(entry),
                    siblings=siblings,
                )
            if depth:
                node = self._read_for_query(node_key(entry[1], depth, key_hash), version)
            if node is None:
                raise StorageCorruptionError("internal state root has no node")
            heap = node_heap(node, hash_function)
            position = nibble(key_hash, depth)
            # Down the node's 4 binary levels; the path may end early in an empty subtree or in a
            # subtree that has collapsed to one leaf.
            index = 1
            for shift in (3, 2, 1, 0):
                index = 2 * index + ((position >> shift) & 1)
                siblings.append(slot_hash(heap[index ^ 1]))
                slot = heap[index]
                if slot is None or isinstance(slot, tuple):
                    break
            # Either where the path ended (nothing, or a lone leaf), or an internal child to enter.
            slot = heap[index]
            entry = (
                slot if slot is None or isinstance(slot, tuple) else node[NODE_CHILDREN][position]
            )
            depth += 1
        return StateProof(siblings=siblings)

    # ----------------------------------------------------------------------------- internals

    def _load_root(self, version: int) -> Root:
        latest = self._latest
        if latest is not None and latest[0] == version:
            return latest[1]
        if version < 0:
            raise HeightUnavailableError(f"state version {version} does not exist")
        data = self._reader.get_state_node(root_node_key(version))
        if data is None:
            raise HeightUnavailableError(f"state version {version} is pruned or not committed")
        return decode_root(data, version, self._hash)

    def _read_for_query(self, key: bytes, version: int) -> Node:
        node = self._cache.get(key)
        if node is not None:
            return node
        data = self._reader.get_state_node(key)
        if data is None:
            # The root was there: the version was pruned while we read it.
            raise HeightUnavailableError(f"state version {version} was pruned while being read")
        return decode_node(data, self._hash)


def compute_root(items: Mapping[bytes, bytes], hash_function: HashFunction) -> bytes:
    """The state root of ``items`` computed from scratch, without stored nodes.

    Independent of StateTree's node layout (it recurses over sorted key hashes bit by bit), so it
    checks apply() and recomputes roots after a crash.
    """
    leaves = sorted(
        (int.from_bytes(key_hash, "big"), key_hash, hash_function(value))
        for key, value in items.items()
        for key_hash in (hash_function(key),)
    )
    keys = [leaf[0] for leaf in leaves]

    def subtree(low: int, high: int, bit: int) -> bytes:
        if high - low == 1:
            _, key_hash, value_hash = leaves[low]
            return hash_function(LEAF_PREFIX + key_hash + value_hash)
        shift = KEY_HASH_BITS - 1 - bit
        middle = bisect_left(keys, ((keys[low] >> shift) | 1) << shift, low, high)
        left = subtree(low, middle, bit + 1) if middle > low else EMPTY_HASH
        right = subtree(middle, high, bit + 1) if high > middle else EMPTY_HASH
        return hash_function(INTERNAL_PREFIX + left + right)

    if not leaves:
        return EMPTY_HASH
    return subtree(0, len(leaves), 0)
