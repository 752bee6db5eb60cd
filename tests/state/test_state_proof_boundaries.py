"""State proofs at their boundaries, each refusal with its reason: an exclusion proof's leaf on
the key's path up to its last bit (accepted) and off it by that bit (refused), a proof that
hashes to its root but ends in a leaf off the path, the sibling count and the hash lengths at
their limit and one past it.

With identity_hash a 32-byte key is its own hash, so the tests choose where paths part.
"""

from __future__ import annotations

import pytest
from state_support import Chain, identity_hash, sha256

from causeway.errors import ProofError
from causeway.state import EMPTY_HASH, compute_root, verify_state_proof
from causeway.state.nodes import INTERNAL_PREFIX, KEY_HASH_BITS, LEAF_PREFIX
from causeway.types.v1.types_pb2 import StateProof

OFF_PATH = "state proof ends in a leaf that is not on the key's path"
BASE = bytes.fromhex("5a" * 32)


def flip(key: bytes, bit: int) -> bytes:
    """`key` with bit `bit` (0 = most significant, the root's branch) inverted."""
    return (int.from_bytes(key, "big") ^ (1 << (KEY_HASH_BITS - 1 - bit))).to_bytes(32, "big")


def root_along(key_hash: bytes, proof: StateProof) -> bytes:
    """The root a verifier computes for `proof` on the path of `key_hash` (what a forger who
    controls the root would publish)."""
    node = identity_hash(LEAF_PREFIX + proof.leaf_key_hash + proof.leaf_value_hash)
    path = int.from_bytes(key_hash, "big")
    for level in range(len(proof.siblings) - 1, -1, -1):
        sibling = proof.siblings[level]
        if (path >> (KEY_HASH_BITS - 1 - level)) & 1:
            node = identity_hash(INTERNAL_PREFIX + sibling + node)
        else:
            node = identity_hash(INTERNAL_PREFIX + node + sibling)
    return node


def two_leaves(depth: int) -> tuple[Chain, bytes, bytes]:
    """A tree of two keys that part at bit depth-1: each key's leaf sits at `depth`."""
    leaf, other = BASE, flip(BASE, depth - 1)
    chain = Chain(identity_hash)
    chain.apply({leaf: b"l", other: b"o"})
    return chain, leaf, other


@pytest.mark.parametrize("depth", [1, 2, 8, 200, KEY_HASH_BITS - 1])
def test_exclusion_leaf_sharing_the_whole_path_is_accepted_and_off_by_its_last_bit_refused(
    depth: int,
) -> None:
    chain, leaf, other = two_leaves(depth)
    root = chain.tree.root_hash(0)
    assert root == compute_root({leaf: b"l", other: b"o"}, identity_hash)
    # Absent, shares `depth` bits with `leaf` and parts from it at bit `depth`: the genuine
    # proof ends in `leaf`'s leaf, on the path.
    absent = flip(leaf, depth)
    proof = chain.tree.prove(absent, 0)
    assert (len(proof.siblings), proof.leaf_key_hash) == (depth, leaf)
    verify_state_proof(root, absent, None, proof, identity_hash)
    # Absent on `other`'s side: `leaf`'s leaf differs from its path in the path's last bit.
    beside = flip(other, depth)
    with pytest.raises(ProofError, match=OFF_PATH):
        verify_state_proof(root, beside, None, proof, identity_hash)
    # Its own genuine proof (ending in `other`'s leaf) does prove it absent.
    verify_state_proof(root, beside, None, chain.tree.prove(beside, 0), identity_hash)


@pytest.mark.parametrize("parting_bit", [0, 1, 100, KEY_HASH_BITS - 2])
def test_a_forged_exclusion_proof_that_reaches_its_root_is_refused_for_its_off_path_leaf(
    parting_bit: int,
) -> None:
    """The root commits to a tree in which a leaf sits where its key does not lead; following
    the absent key's path the proof hashes to that root, so only the path check refuses it."""
    depth = KEY_HASH_BITS - 1
    absent = BASE
    stranger = flip(BASE, parting_bit)
    proof = StateProof(
        siblings=[EMPTY_HASH] * depth,
        leaf_key_hash=stranger,
        leaf_value_hash=identity_hash(b"value"),
    )
    root = root_along(absent, proof)
    with pytest.raises(ProofError, match=OFF_PATH):
        verify_state_proof(root, absent, None, proof, identity_hash)
    # Parting after the path's end is no forgery: the same shape with the leaf on the path.
    on_path = StateProof()
    on_path.CopyFrom(proof)
    on_path.leaf_key_hash = flip(BASE, depth)
    verify_state_proof(root_along(absent, on_path), absent, None, on_path, identity_hash)


def test_a_genuine_proof_of_another_key_off_the_path_is_refused_with_the_reason() -> None:
    items = {b"key-%d" % number: b"value-%d" % number for number in range(100)}
    chain = Chain()
    chain.apply(items)
    root = chain.tree.root_hash(0)
    absent = b"absent-0"
    absent_hash = sha256(absent)
    refused = 0
    for key in items:
        proof = chain.tree.prove(key, 0)
        parted = int.from_bytes(proof.leaf_key_hash, "big") ^ int.from_bytes(absent_hash, "big")
        if parted >> (KEY_HASH_BITS - len(proof.siblings)):
            with pytest.raises(ProofError, match=OFF_PATH):
                verify_state_proof(root, absent, None, proof, sha256)
            refused += 1
    assert refused > 90


def test_sibling_count_at_the_limit_is_accepted_and_one_more_refused() -> None:
    key = BASE
    deepest = StateProof(
        siblings=[EMPTY_HASH] * KEY_HASH_BITS,
        leaf_key_hash=key,
        leaf_value_hash=identity_hash(b"value"),
    )
    verify_state_proof(root_along(key, deepest), key, b"value", deepest, identity_hash)
    too_deep = StateProof()
    too_deep.CopyFrom(deepest)
    too_deep.siblings.append(EMPTY_HASH)
    with pytest.raises(ProofError, match="state proof has 257 siblings, more than 256"):
        verify_state_proof(root_along(key, deepest), key, b"value", too_deep, identity_hash)


@pytest.mark.parametrize("length", [0, 31, 33])
def test_a_sibling_of_the_wrong_length_is_refused_with_its_length(length: int) -> None:
    chain, leaf, _ = two_leaves(3)
    proof = chain.tree.prove(leaf, 0)
    proof.siblings[1] = bytes(length)
    with pytest.raises(ProofError, match=f"state proof sibling is {length} bytes, not 32"):
        verify_state_proof(chain.tree.root_hash(0), leaf, b"l", proof, identity_hash)


@pytest.mark.parametrize("field", ["leaf_key_hash", "leaf_value_hash"])
@pytest.mark.parametrize("length", [31, 33])
def test_leaf_hashes_of_the_wrong_length_are_refused(field: str, length: int) -> None:
    chain, leaf, _ = two_leaves(3)
    proof = chain.tree.prove(leaf, 0)
    setattr(proof, field, bytes(length))
    with pytest.raises(ProofError, match="state proof leaf hashes must be 32 bytes each"):
        verify_state_proof(chain.tree.root_hash(0), leaf, b"l", proof, identity_hash)


def test_each_mismatch_between_claim_and_proof_names_its_reason() -> None:
    chain, leaf, other = two_leaves(4)
    root = chain.tree.root_hash(0)
    proof = chain.tree.prove(leaf, 0)
    with pytest.raises(ProofError, match="state proof ends in the leaf of another key"):
        verify_state_proof(root, other, b"l", proof, identity_hash)
    with pytest.raises(ProofError, match="state proof leaf holds another value"):
        verify_state_proof(root, leaf, b"not l", proof, identity_hash)
    with pytest.raises(ProofError, match="shows the key present, but absence was claimed"):
        verify_state_proof(root, leaf, None, proof, identity_hash)
    absent = chain.tree.prove(flip(leaf, 0), 0)
    assert not absent.leaf_key_hash
    with pytest.raises(ProofError, match="shows the key absent, but a value was claimed"):
        verify_state_proof(root, flip(leaf, 0), b"x", absent, identity_hash)
    with pytest.raises(ProofError, match="state proof does not lead to the expected root"):
        verify_state_proof(bytes(32), leaf, b"l", proof, identity_hash)


@pytest.mark.parametrize("half", ["leaf_key_hash", "leaf_value_hash"])
def test_half_a_leaf_is_refused_never_read_as_an_empty_subtree(half: str) -> None:
    """An exclusion proof that ends in an empty subtree, given one leaf hash: it must not pass
    for the empty subtree it was (it carries a leaf), nor for a leaf (it lacks half)."""
    chain, leaf, _ = two_leaves(4)
    root = chain.tree.root_hash(0)
    absent = flip(leaf, 0)
    proof = chain.tree.prove(absent, 0)
    assert not proof.leaf_key_hash and not proof.leaf_value_hash
    verify_state_proof(root, absent, None, proof, identity_hash)
    setattr(proof, half, identity_hash(b"anything"))
    for value in (None, b"x"):
        with pytest.raises(ProofError, match="state proof leaf hashes must be 32 bytes each"):
            verify_state_proof(root, absent, value, proof, identity_hash)
