"""Merkle lists: roots and inclusion proofs over an ordered list of byte strings.

The tree has the shape of RFC 6962 (Certificate Transparency): a leaf is H(0x00 || leaf), an
interior node is H(0x01 || left || right), the root of the empty list is H(b""), and a list of n > 1
leaves splits into its first k leaves and the rest, where k is the largest power of two below n.
Block headers commit to their transactions and results this way.

Built bottom-up: pairing neighbours level by level and carrying an unpaired last node up unchanged
gives exactly the largest-power-of-two split, without recursion.
"""

from __future__ import annotations

from collections.abc import Sequence

from causeway.errors import ProofError
from causeway.types.encoding import HashFunction
from causeway.types.v1.types_pb2 import MerkleProof

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def _leaf_hashes(leaves: Sequence[bytes], hash_function: HashFunction) -> list[bytes]:
    return [hash_function(LEAF_PREFIX + leaf) for leaf in leaves]


def _parent_level(level: list[bytes], hash_function: HashFunction) -> list[bytes]:
    parents = [
        hash_function(NODE_PREFIX + level[index] + level[index + 1])
        for index in range(0, len(level) - 1, 2)
    ]
    if len(level) % 2:
        parents.append(level[-1])
    return parents


def merkle_root(leaves: Sequence[bytes], hash_function: HashFunction) -> bytes:
    """The root of the list; H(b"") for the empty list."""
    if not leaves:
        return hash_function(b"")
    level = _leaf_hashes(leaves, hash_function)
    while len(level) > 1:
        level = _parent_level(level, hash_function)
    return level[0]


def merkle_proof(leaves: Sequence[bytes], index: int, hash_function: HashFunction) -> MerkleProof:
    """Proves that ``leaves[index]`` is in the list: sibling hashes from the leaf level upward."""
    total = len(leaves)
    if not 0 <= index < total:
        raise ProofError(f"index {index} is outside a list of {total} leaves")
    level = _leaf_hashes(leaves, hash_function)
    siblings: list[bytes] = []
    position = index
    while len(level) > 1:
        sibling = position ^ 1
        # The last node of an odd level has no sibling: it moves up unchanged, adding no step.
        if sibling < len(level):
            siblings.append(level[sibling])
        level = _parent_level(level, hash_function)
        position //= 2
    return MerkleProof(index=index, total=total, siblings=siblings)


def merkle_proof_length(index: int, total: int) -> int:
    """How many siblings the proof of leaf ``index`` in a list of ``total`` leaves has."""
    length = 0
    last = total - 1
    while last > 0:
        # A node is paired unless it is the last one of its level and that level is odd-sized.
        if index != last or index % 2:
            length += 1
        index //= 2
        last //= 2
    return length


def verify_merkle_proof(
    root: bytes, leaf: bytes, proof: MerkleProof, hash_function: HashFunction
) -> None:
    """Checks that ``leaf`` is leaf ``proof.index`` of ``proof.total`` under ``root``.

    Raises ProofError when it does not. The index is bound by the proof (the path's left/right
    steps spell it out), but an RFC 6962 root does not commit to the list's length: a total with
    the same path shape verifies too. Check ``proof.total`` against a trusted count (the header's
    ``transaction_count``) before trusting it.
    """
    index = proof.index
    total = proof.total
    siblings = list(proof.siblings)
    if index >= total:
        raise ProofError(f"index {index} is outside a list of {total} leaves")
    expected_length = merkle_proof_length(index, total)
    if len(siblings) != expected_length:
        raise ProofError(
            f"proof has {len(siblings)} siblings; leaf {index} of {total} needs {expected_length}"
        )
    node = hash_function(LEAF_PREFIX + leaf)
    position = index
    last = total - 1
    siblings_iterator = iter(siblings)
    while last > 0:
        if position % 2:
            node = hash_function(NODE_PREFIX + next(siblings_iterator) + node)
        elif position != last:
            node = hash_function(NODE_PREFIX + node + next(siblings_iterator))
        position //= 2
        last //= 2
    if node != root:
        raise ProofError("Merkle proof does not lead to the expected root")
