"""StateTree: roots equal the from-scratch definition at every version, old versions stay
readable, and the update handed to storage is complete and minimal."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from state_support import (
    Chain,
    batches,
    identity_hash,
    keys_sharing_prefixes,
    reference_root,
    sha3_256,
    sha256,
    values,
)

from causeway.errors import HeightUnavailableError, RequestError, StorageCorruptionError
from causeway.state import (
    EMPTY_HASH,
    StateTree,
    compute_root,
    node_key_version,
    root_node_key,
    verify_state_proof,
)

slow = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def leaf(key: bytes, value: bytes) -> bytes:
    return sha256(b"\x00" + sha256(key) + sha256(value))


def test_empty_tree_has_the_zero_root() -> None:
    chain = Chain()
    update = chain.apply({})
    assert update.root_hash == EMPTY_HASH == bytes(32)
    assert chain.tree.root_hash(0) == EMPTY_HASH
    assert compute_root({}, sha256) == EMPTY_HASH
    assert list(update.new_nodes) == [root_node_key(0)]
    assert update.stale_node_keys == []


def test_one_key_is_its_leaf() -> None:
    chain = Chain()
    update = chain.apply({b"a": b"1"})
    assert update.root_hash == leaf(b"a", b"1")
    assert compute_root({b"a": b"1"}, sha256) == leaf(b"a", b"1")


def test_two_keys_by_hand() -> None:
    items = {b"a": b"1", b"b": b"2"}
    first, second = sorted(items, key=sha256)
    # Two leaves that differ in bit d hang below d internal nodes whose other side is empty.
    difference = int.from_bytes(sha256(first), "big") ^ int.from_bytes(sha256(second), "big")
    depth = 256 - difference.bit_length()
    node = sha256(b"\x01" + leaf(first, items[first]) + leaf(second, items[second]))
    path = int.from_bytes(sha256(first), "big")
    for level in range(depth - 1, -1, -1):
        if (path >> (255 - level)) & 1:
            node = sha256(b"\x01" + bytes(32) + node)
        else:
            node = sha256(b"\x01" + node + bytes(32))
    assert compute_root(items, sha256) == node
    assert Chain().apply(items).root_hash == node


@slow
@given(st.dictionaries(st.binary(max_size=6), values, max_size=40))
def test_compute_root_matches_the_definition(items: dict[bytes, bytes]) -> None:
    assert compute_root(items, sha256) == reference_root(items, sha256)


@slow
@given(st.lists(batches, min_size=1, max_size=8))
def test_every_version_has_the_root_of_its_state(changes: list[dict[bytes, bytes | None]]) -> None:
    chain = Chain()
    for batch in changes:
        update = chain.apply(batch)
        assert update.root_hash == compute_root(chain.states[-1], sha256)
        assert chain.tree.root_hash(chain.version) == update.root_hash
    # Every past version is still readable and provable after the later ones.
    for version, state in enumerate(chain.states):
        root = chain.tree.root_hash(version)
        assert root == compute_root(state, sha256)
        for number in range(0, 61, 3):
            key = b"key-%d" % number
            value = state.get(key)
            expected = None if value is None else sha256(value)
            assert chain.tree.get_value_hash(key, version) == expected
            verify_state_proof(root, key, value, chain.tree.prove(key, version), sha256)


@slow
@given(st.data())
def test_deep_shared_prefixes(data: st.DataObject) -> None:
    """Key hashes chosen directly: chains of one-child nodes, leaves down to depth 256."""
    base = data.draw(st.binary(min_size=32, max_size=32))
    keys = st.one_of(st.just(base), keys_sharing_prefixes(base))
    chain = Chain(identity_hash)
    for _ in range(data.draw(st.integers(1, 5))):
        batch = data.draw(st.dictionaries(keys, st.one_of(st.none(), values), max_size=12))
        update = chain.apply(batch)
        state = chain.states[-1]
        assert update.root_hash == compute_root(state, identity_hash)
        assert update.root_hash == reference_root(state, identity_hash)
        probes = [*state, *batch, base]
        for key in probes:
            proof = chain.tree.prove(key, chain.version)
            verify_state_proof(update.root_hash, key, state.get(key), proof, identity_hash)


def test_keys_that_differ_only_in_the_last_bit() -> None:
    base = bytes(range(32))
    twin = base[:31] + bytes([base[31] ^ 1])
    chain = Chain(identity_hash)
    update = chain.apply({base: b"x", twin: b"y"})
    assert update.root_hash == reference_root({base: b"x", twin: b"y"}, identity_hash)
    proof = chain.tree.prove(base, 0)
    assert len(proof.siblings) == 256
    verify_state_proof(update.root_hash, base, b"x", proof, identity_hash)
    # 63 one-child nodes and the node at depth 63 that holds both leaves.
    assert len(update.new_nodes) == 64
    update = chain.apply({twin: None})
    assert update.root_hash == identity_hash(b"\x00" + base + identity_hash(b"x"))
    assert len(update.stale_node_keys) == 64


@slow
@given(st.lists(batches, min_size=1, max_size=5))
def test_another_hash_function(changes: list[dict[bytes, bytes | None]]) -> None:
    chain = Chain(sha3_256)
    for batch in changes:
        update = chain.apply(batch)
        assert update.root_hash == compute_root(chain.states[-1], sha3_256)


@slow
@given(st.lists(batches, min_size=2, max_size=6))
def test_a_fresh_tree_reads_what_storage_holds(changes: list[dict[bytes, bytes | None]]) -> None:
    """Nothing depends on the cache: a new StateTree over the same nodes continues the chain."""
    chain = Chain()
    for batch in changes[:-1]:
        chain.apply(batch)
    fresh = StateTree(sha256, chain.store)
    cached = chain.tree.apply(chain.version + 1, changes[-1])
    cold = fresh.apply(chain.version + 1, changes[-1])
    assert cold.root_hash == cached.root_hash
    assert cold.new_nodes == cached.new_nodes
    assert sorted(cold.stale_node_keys) == sorted(cached.stale_node_keys)


@slow
@given(st.lists(batches, min_size=1, max_size=6))
def test_a_tiny_cache_gives_the_same_result(changes: list[dict[bytes, bytes | None]]) -> None:
    chain = Chain()
    small = Chain(cache_nodes_max=2)
    for batch in changes:
        assert small.apply(batch) == chain.apply(batch)


def test_apply_changes_nothing_until_committed() -> None:
    chain = Chain()
    chain.apply({b"a": b"1", b"b": b"2"})
    abandoned = chain.tree.apply(1, {b"a": b"3"})
    chosen = chain.tree.apply(1, {b"c": b"4"})
    assert abandoned.root_hash != chosen.root_hash
    chain.store.write(chosen)
    chain.tree.committed(chosen)
    expected = {b"a": b"1", b"b": b"2", b"c": b"4"}
    assert chain.tree.root_hash(1) == compute_root(expected, sha256)
    assert chain.tree.apply(2, {}).root_hash == compute_root(expected, sha256)


def test_committing_an_update_the_tree_did_not_just_build() -> None:
    chain = Chain()
    chain.apply({b"a": b"1", b"b": b"2", b"c": b"3"})
    other = StateTree(sha256, chain.store)
    update = other.apply(1, {b"d": b"4"})
    chain.store.write(update)
    chain.tree.committed(update)  # decodes the nodes instead of reusing apply's objects
    assert chain.tree.apply(2, {b"e": b"5"}).root_hash == compute_root(
        {b"a": b"1", b"b": b"2", b"c": b"3", b"d": b"4", b"e": b"5"}, sha256
    )


def test_deleting_every_key_gives_the_empty_root() -> None:
    chain = Chain()
    keys = [b"key-%d" % number for number in range(300)]
    chain.apply(dict.fromkeys(keys, b"v"))
    update = chain.apply(dict.fromkeys(keys))
    assert update.root_hash == EMPTY_HASH
    assert list(update.new_nodes) == [root_node_key(1)]
    assert len(update.stale_node_keys) == len(chain.updates[0].new_nodes)
    chain.apply({b"again": b"1"})
    assert chain.tree.root_hash(2) == leaf(b"again", b"1")


def test_changes_that_change_nothing_write_only_the_root() -> None:
    chain = Chain()
    chain.apply({b"key-%d" % number: b"v" for number in range(100)})
    root = chain.tree.root_hash(0)
    update = chain.apply({b"key-5": b"v", b"absent": None})
    assert update.root_hash == root
    assert list(update.new_nodes) == [root_node_key(1)]
    assert update.stale_node_keys == [root_node_key(0)]
    assert chain.apply({}).root_hash == root


def test_node_keys_carry_their_version() -> None:
    chain = Chain()
    chain.apply({b"key-%d" % number: b"v" for number in range(500)})
    update = chain.apply({b"key-%d" % number: b"w" for number in range(0, 500, 7)})
    assert root_node_key(1) == (1).to_bytes(8, "big") + b"\x00"
    assert all(node_key_version(key) == 1 for key in update.new_nodes)
    assert all(node_key_version(key) == 0 for key in update.stale_node_keys)
    assert len(set(update.stale_node_keys)) == len(update.stale_node_keys)
    # Every new node but the root replaces one at the same path, here where no key is new.
    assert len(update.stale_node_keys) == len(update.new_nodes)
    assert {key[8:] for key in update.new_nodes} == {key[8:] for key in update.stale_node_keys}


def test_versions_that_do_not_exist() -> None:
    chain = Chain()
    chain.apply({b"a": b"1"})
    with pytest.raises(HeightUnavailableError):
        chain.tree.root_hash(1)
    with pytest.raises(HeightUnavailableError):
        chain.tree.prove(b"a", 5)
    with pytest.raises(HeightUnavailableError):
        chain.tree.get_value_hash(b"a", -1)
    with pytest.raises(HeightUnavailableError):
        chain.tree.apply(3, {b"a": b"2"})  # needs version 2
    with pytest.raises(RequestError):
        chain.tree.apply(-1, {})


def test_a_missing_node_of_the_latest_version_is_corruption() -> None:
    chain = Chain()
    chain.apply({b"key-%d" % number: b"v" for number in range(200)})
    fresh = StateTree(sha256, chain.store)
    inner = next(key for key in chain.store.nodes if key != root_node_key(0))
    del chain.store.nodes[inner]
    with pytest.raises(StorageCorruptionError):
        fresh.apply(1, {b"key-%d" % number: b"w" for number in range(200)})


@pytest.mark.parametrize("damage", [b"", b"\x01", b"\x07abc", b"\x01\x00\x01\x00\x00"])
def test_damaged_nodes_are_refused(damage: bytes) -> None:
    chain = Chain()
    chain.apply({b"key-%d" % number: b"v" for number in range(200)})
    fresh = StateTree(sha256, chain.store)
    for key in chain.store.nodes:
        chain.store.nodes[key] = damage
    with pytest.raises(StorageCorruptionError):
        fresh.apply(1, {b"key-1": b"w"})


def test_store_is_only_read_for_nodes_not_in_the_cache() -> None:
    chain = Chain()
    chain.apply({b"key-%d" % number: b"v" for number in range(1000)})
    before = chain.store.reads
    chain.apply({b"key-%d" % number: b"w" for number in range(0, 1000, 10)})
    assert chain.store.reads == before


def test_large_batch_matches_compute_root() -> None:
    chain = Chain()
    chain.apply({b"account-%d" % number: b"%d" % number for number in range(5000)})
    changes: dict[bytes, bytes | None] = {}
    for number in range(0, 7000, 3):
        changes[b"account-%d" % number] = None if number % 9 == 0 else b"new"
    update = chain.apply(changes)
    assert update.root_hash == compute_root(chain.states[-1], sha256)
