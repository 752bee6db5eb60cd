"""Merkle lists: RFC 6962 shape, every index proves, any tampering fails."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from causeway.errors import ProofError
from causeway.types import HashFunction, merkle_proof, merkle_root, verify_merkle_proof
from causeway.types.v1.types_pb2 import MerkleProof


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha3_256(data: bytes) -> bytes:
    return hashlib.sha3_256(data).digest()


def reference_root(leaves: list[bytes], hash_function: HashFunction) -> bytes:
    """RFC 6962 section 2.1, written as the recursion the RFC states."""
    if not leaves:
        return hash_function(b"")
    if len(leaves) == 1:
        return hash_function(b"\x00" + leaves[0])
    split = 1
    while split * 2 < len(leaves):
        split *= 2
    return hash_function(
        b"\x01"
        + reference_root(leaves[:split], hash_function)
        + reference_root(leaves[split:], hash_function)
    )


def reference_path(leaves: list[bytes], index: int, hash_function: HashFunction) -> list[bytes]:
    """RFC 6962 section 2.1.1 audit path, leaf level first."""
    if len(leaves) <= 1:
        return []
    split = 1
    while split * 2 < len(leaves):
        split *= 2
    if index < split:
        return [
            *reference_path(leaves[:split], index, hash_function),
            reference_root(leaves[split:], hash_function),
        ]
    return [
        *reference_path(leaves[split:], index - split, hash_function),
        reference_root(leaves[:split], hash_function),
    ]


leaf_lists = st.lists(st.binary(max_size=40), min_size=1, max_size=70)


def test_empty_list_root_is_hash_of_nothing() -> None:
    assert merkle_root([], sha256) == sha256(b"")


def test_known_small_trees() -> None:
    a, b, c = b"a", b"b", b"c"
    leaf = [sha256(b"\x00" + x) for x in (a, b, c)]
    assert merkle_root([a], sha256) == leaf[0]
    assert merkle_root([a, b], sha256) == sha256(b"\x01" + leaf[0] + leaf[1])
    left = sha256(b"\x01" + leaf[0] + leaf[1])
    assert merkle_root([a, b, c], sha256) == sha256(b"\x01" + left + leaf[2])
    proof = merkle_proof([a, b, c], 2, sha256)
    assert list(proof.siblings) == [left]
    proof = merkle_proof([a, b, c], 0, sha256)
    assert list(proof.siblings) == [leaf[1], leaf[2]]


@pytest.mark.parametrize("hash_function", [sha256, sha3_256])
@given(leaves=st.lists(st.binary(max_size=40), max_size=70))
def test_root_matches_rfc_6962_recursion(hash_function: HashFunction, leaves: list[bytes]) -> None:
    assert merkle_root(leaves, hash_function) == reference_root(leaves, hash_function)


@given(leaves=leaf_lists)
def test_every_index_proves(leaves: list[bytes]) -> None:
    root = merkle_root(leaves, sha256)
    for index, leaf in enumerate(leaves):
        proof = merkle_proof(leaves, index, sha256)
        assert proof.index == index
        assert proof.total == len(leaves)
        assert list(proof.siblings) == reference_path(leaves, index, sha256)
        verify_merkle_proof(root, leaf, proof, sha256)
        # A proof survives its wire form.
        decoded = MerkleProof.FromString(proof.SerializeToString(deterministic=True))
        verify_merkle_proof(root, leaf, decoded, sha256)


@given(leaves=leaf_lists, data=st.data())
def test_tampered_leaf_fails(leaves: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    other = data.draw(st.binary(max_size=40).filter(lambda value: value != leaves[index]))
    proof = merkle_proof(leaves, index, sha256)
    with pytest.raises(ProofError):
        verify_merkle_proof(merkle_root(leaves, sha256), other, proof, sha256)


@given(leaves=leaf_lists.filter(lambda leaves: len(leaves) > 1), data=st.data())
def test_tampered_sibling_fails(leaves: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = merkle_proof(leaves, index, sha256)
    position = data.draw(st.integers(0, len(proof.siblings) - 1))
    byte = data.draw(st.integers(0, 31))
    sibling = bytearray(proof.siblings[position])
    sibling[byte] ^= 1 << data.draw(st.integers(0, 7))
    proof.siblings[position] = bytes(sibling)
    with pytest.raises(ProofError):
        verify_merkle_proof(merkle_root(leaves, sha256), leaves[index], proof, sha256)


unique_leaf_lists = st.lists(st.binary(max_size=40), min_size=1, max_size=70, unique=True)


def path_shape(index: int, total: int) -> list[bool]:
    """For each sibling, leaf level first: is the proven node the right child?"""
    shape = []
    last = total - 1
    while last > 0:
        if index % 2 or index != last:
            shape.append(bool(index % 2))
        index //= 2
        last //= 2
    return shape


@given(leaves=unique_leaf_lists.filter(lambda leaves: len(leaves) > 1), data=st.data())
def test_wrong_index_fails(leaves: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = merkle_proof(leaves, index, sha256)
    proof.index = data.draw(st.integers(0, len(leaves) + 3).filter(lambda value: value != index))
    with pytest.raises(ProofError):
        verify_merkle_proof(merkle_root(leaves, sha256), leaves[index], proof, sha256)


@given(leaves=unique_leaf_lists, data=st.data())
def test_wrong_total_fails_unless_the_path_is_the_same(
    leaves: list[bytes], data: st.DataObject
) -> None:
    """RFC 6962 roots do not commit to the list length; the total is only bound through the
    shape of the path. A verifier must take the total from a trusted header
    (BlockHeader.transaction_count), as docs/wire-format.md says."""
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = merkle_proof(leaves, index, sha256)
    total = data.draw(st.integers(0, 2 * len(leaves) + 2).filter(lambda n: n != len(leaves)))
    proof.total = total
    root = merkle_root(leaves, sha256)
    if index < total and path_shape(index, total) == path_shape(index, len(leaves)):
        verify_merkle_proof(root, leaves[index], proof, sha256)
    else:
        with pytest.raises(ProofError):
            verify_merkle_proof(root, leaves[index], proof, sha256)


def test_total_is_bound_only_through_the_path_shape() -> None:
    leaves = [b"a", b"b", b"c"]
    proof = merkle_proof(leaves, 0, sha256)
    proof.total = 4
    verify_merkle_proof(merkle_root(leaves, sha256), b"a", proof, sha256)
    proof.total = 5
    with pytest.raises(ProofError):
        verify_merkle_proof(merkle_root(leaves, sha256), b"a", proof, sha256)


@given(leaves=leaf_lists, data=st.data())
def test_truncated_or_extended_siblings_fail(leaves: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = merkle_proof(leaves, index, sha256)
    if proof.siblings and data.draw(st.booleans()):
        del proof.siblings[-1]
    else:
        proof.siblings.append(sha256(b"extra"))
    with pytest.raises(ProofError):
        verify_merkle_proof(merkle_root(leaves, sha256), leaves[index], proof, sha256)


@given(leaves=leaf_lists, data=st.data())
def test_wrong_root_fails(leaves: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = merkle_proof(leaves, index, sha256)
    root = bytearray(merkle_root(leaves, sha256))
    root[data.draw(st.integers(0, 31))] ^= 0x80
    with pytest.raises(ProofError):
        verify_merkle_proof(bytes(root), leaves[index], proof, sha256)


@settings(max_examples=25)
@given(leaves=leaf_lists)
def test_proof_under_another_hash_function_fails(leaves: list[bytes]) -> None:
    proof = merkle_proof(leaves, 0, sha3_256)
    with pytest.raises(ProofError):
        verify_merkle_proof(merkle_root(leaves, sha3_256), leaves[0], proof, sha256)


def test_index_outside_the_list_is_refused() -> None:
    with pytest.raises(ProofError):
        merkle_proof([b"a"], 1, sha256)
    with pytest.raises(ProofError):
        merkle_proof([], 0, sha256)
    with pytest.raises(ProofError):
        verify_merkle_proof(sha256(b""), b"a", MerkleProof(index=0, total=0), sha256)


def test_single_leaf_needs_no_siblings() -> None:
    proof = merkle_proof([b"only"], 0, sha256)
    assert list(proof.siblings) == []
    verify_merkle_proof(sha256(b"\x00only"), b"only", proof, sha256)


def test_large_total_with_short_proof_is_refused() -> None:
    proof = MerkleProof(index=0, total=2**63, siblings=[b"\x00" * 32])
    with pytest.raises(ProofError, match="siblings"):
        verify_merkle_proof(b"\x00" * 32, b"leaf", proof, sha256)
