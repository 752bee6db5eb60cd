"""State proofs: inclusion and both kinds of exclusion verify against nothing but the root, and
every tampering is refused."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from state_support import Chain, batches, identity_hash, keys_sharing_prefixes, pool_keys, sha256

from causeway.errors import ProofError
from causeway.state import EMPTY_HASH, compute_root, verify_state_proof
from causeway.types.v1.types_pb2 import StateProof

slow = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def build(items: dict[bytes, bytes]) -> Chain:
    chain = Chain()
    chain.apply(items)
    return chain


def copy(proof: StateProof) -> StateProof:
    return StateProof.FromString(proof.SerializeToString(deterministic=True))


def fails(root: bytes, key: bytes, value: bytes | None, proof: StateProof) -> None:
    with pytest.raises(ProofError):
        verify_state_proof(root, key, value, proof, sha256)


hundred = {b"key-%d" % number: b"value-%d" % number for number in range(100)}


def absent_keys_of_each_kind(chain: Chain) -> tuple[bytes, bytes]:
    """An absent key whose path ends in an empty subtree, and one whose path ends in a leaf."""
    empty_end = other_leaf = None
    for number in range(10_000):
        key = b"absent-%d" % number
        proof = chain.tree.prove(key, chain.version)
        if proof.leaf_key_hash:
            other_leaf = other_leaf or key
        else:
            empty_end = empty_end or key
        if empty_end and other_leaf:
            return empty_end, other_leaf
    raise AssertionError("no absent key of each kind")


def test_inclusion_proof() -> None:
    chain = build(hundred)
    root = compute_root(hundred, sha256)
    for key, value in hundred.items():
        proof = chain.tree.prove(key, 0)
        assert proof.leaf_key_hash == sha256(key)
        assert proof.leaf_value_hash == sha256(value)
        verify_state_proof(root, key, value, proof, sha256)
        verify_state_proof(root, key, value, copy(proof), sha256)


def test_exclusion_proofs_of_both_kinds() -> None:
    chain = build(hundred)
    root = compute_root(hundred, sha256)
    empty_end, other_leaf = absent_keys_of_each_kind(chain)
    proof = chain.tree.prove(empty_end, 0)
    assert proof.leaf_key_hash == b""
    assert proof.leaf_value_hash == b""
    verify_state_proof(root, empty_end, None, proof, sha256)
    proof = chain.tree.prove(other_leaf, 0)
    assert proof.leaf_key_hash != sha256(other_leaf)
    verify_state_proof(root, other_leaf, None, proof, sha256)


def test_proofs_in_tiny_trees() -> None:
    empty = build({})
    proof = empty.tree.prove(b"a", 0)
    assert proof == StateProof()
    verify_state_proof(EMPTY_HASH, b"a", None, proof, sha256)
    fails(EMPTY_HASH, b"a", b"1", proof)

    single = build({b"a": b"1"})
    root = single.tree.root_hash(0)
    proof = single.tree.prove(b"a", 0)
    assert list(proof.siblings) == []
    verify_state_proof(root, b"a", b"1", proof, sha256)
    absent = single.tree.prove(b"b", 0)
    verify_state_proof(root, b"b", None, absent, sha256)
    fails(root, b"b", b"1", absent)
    fails(root, b"a", None, proof)


@slow
@given(st.lists(batches, min_size=1, max_size=6), st.data())
def test_random_histories_prove_every_key(
    changes: list[dict[bytes, bytes | None]], data: st.DataObject
) -> None:
    chain = Chain()
    for batch in changes:
        chain.apply(batch)
    version = data.draw(st.integers(0, chain.version))
    state = chain.states[version]
    root = compute_root(state, sha256)
    for number in range(61):
        key = b"key-%d" % number
        verify_state_proof(root, key, state.get(key), chain.tree.prove(key, version), sha256)


@slow
@given(st.dictionaries(pool_keys, st.binary(max_size=8), min_size=1, max_size=40), st.data())
def test_tampering_is_refused(items: dict[bytes, bytes], data: st.DataObject) -> None:
    chain = build(items)
    root = compute_root(items, sha256)
    key = data.draw(pool_keys)
    value = items.get(key)
    proof = chain.tree.prove(key, 0)
    verify_state_proof(root, key, value, proof, sha256)

    # A wrong root.
    damaged_root = bytearray(root)
    damaged_root[data.draw(st.integers(0, 31))] ^= 1 << data.draw(st.integers(0, 7))
    fails(bytes(damaged_root), key, value, proof)
    if value is None:
        # A value claimed for an absent key.
        fails(root, key, data.draw(st.binary(max_size=8)), proof)
    else:
        # Absence claimed for a present key, and another value.
        fails(root, key, None, proof)
        fails(root, key, data.draw(st.binary(max_size=8).filter(lambda v: v != value)), proof)
    # Another key with the same proof (a key has exactly one valid proof per root).
    other = data.draw(pool_keys.filter(lambda k: k != key))
    if chain.tree.prove(other, 0) != proof:
        fails(root, other, items.get(other), proof)

    if proof.siblings:
        # A tampered sibling.
        tampered = copy(proof)
        index = data.draw(st.integers(0, len(tampered.siblings) - 1))
        sibling = bytearray(tampered.siblings[index])
        sibling[data.draw(st.integers(0, 31))] ^= 1 << data.draw(st.integers(0, 7))
        tampered.siblings[index] = bytes(sibling)
        fails(root, key, value, tampered)
        # A truncated path.
        truncated = copy(proof)
        del truncated.siblings[-1]
        fails(root, key, value, truncated)
        # Siblings out of order.
        if len(set(proof.siblings)) > 1:
            reordered = copy(proof)
            reordered.siblings.reverse()
            fails(root, key, value, reordered)
    # An extended path, whether the extra sibling is empty or not.
    for extra in (EMPTY_HASH, sha256(b"extra")):
        extended = copy(proof)
        extended.siblings.append(extra)
        fails(root, key, value, extended)
        extended = copy(proof)
        extended.siblings.insert(0, extra)
        fails(root, key, value, extended)

    if proof.leaf_key_hash:
        # Leaf key and value hashes swapped.
        swapped = copy(proof)
        swapped.leaf_key_hash, swapped.leaf_value_hash = proof.leaf_value_hash, proof.leaf_key_hash
        fails(root, key, value, swapped)
        # The leaf removed: "the path ends in an empty subtree".
        emptied = copy(proof)
        emptied.leaf_key_hash = b""
        emptied.leaf_value_hash = b""
        fails(root, key, None, emptied)
        # Half a leaf.
        half = copy(proof)
        half.leaf_value_hash = b""
        fails(root, key, value, half)


def test_exclusion_by_a_leaf_off_the_path_is_refused() -> None:
    """An exclusion proof must end in a leaf that shares the key's path: a genuine leaf proof of
    some other key does not prove that this key is absent."""
    chain = build(hundred)
    root = compute_root(hundred, sha256)
    empty_end, _ = absent_keys_of_each_kind(chain)
    key_hash = sha256(empty_end)
    for key in hundred:
        proof = chain.tree.prove(key, 0)
        depth = len(proof.siblings)
        shares_path = (
            int.from_bytes(proof.leaf_key_hash, "big") ^ int.from_bytes(key_hash, "big")
        ) >> (256 - depth) == 0
        if not shares_path:
            fails(root, empty_end, None, proof)


def test_malformed_proofs_are_refused() -> None:
    chain = build(hundred)
    root = compute_root(hundred, sha256)
    proof = chain.tree.prove(b"key-1", 0)
    short = copy(proof)
    short.siblings[0] = short.siblings[0][:31]
    fails(root, b"key-1", b"value-1", short)
    long = copy(proof)
    long.leaf_key_hash += b"\x00"
    fails(root, b"key-1", b"value-1", long)
    too_many = StateProof(siblings=[EMPTY_HASH] * 257)
    fails(root, b"key-1", None, too_many)


@slow
@given(st.data())
def test_proofs_of_deep_paths(data: st.DataObject) -> None:
    base = data.draw(st.binary(min_size=32, max_size=32))
    keys = data.draw(st.lists(keys_sharing_prefixes(base), min_size=1, max_size=10, unique=True))
    items = {key: b"v" for key in keys}
    chain = Chain(identity_hash)
    chain.apply(items)
    root = compute_root(items, identity_hash)
    for key in [base, *keys, *data.draw(st.lists(keys_sharing_prefixes(base), max_size=5))]:
        proof = chain.tree.prove(key, 0)
        value = items.get(key)
        verify_state_proof(root, key, value, proof, identity_hash)
        if proof.siblings:
            truncated = copy(proof)
            del truncated.siblings[-1]
            with pytest.raises(ProofError):
                verify_state_proof(root, key, value, truncated, identity_hash)


def test_a_proof_is_for_one_version() -> None:
    chain = build(hundred)
    chain.apply({b"key-1": b"changed"})
    old = chain.tree.prove(b"key-1", 0)
    new = chain.tree.prove(b"key-1", 1)
    verify_state_proof(chain.tree.root_hash(0), b"key-1", b"value-1", old, sha256)
    verify_state_proof(chain.tree.root_hash(1), b"key-1", b"changed", new, sha256)
    fails(chain.tree.root_hash(1), b"key-1", b"value-1", old)
    fails(chain.tree.root_hash(0), b"key-1", b"changed", new)
