"""Standalone verification of state proofs: needs nothing but a trusted root (docs/state.md)."""

from __future__ import annotations

from causeway.errors import ProofError
from causeway.state.nodes import (
    EMPTY_HASH,
    HASH_BYTES,
    INTERNAL_PREFIX,
    KEY_HASH_BITS,
    LEAF_PREFIX,
    HashFunction,
)
from causeway.types.v1.types_pb2 import StateProof


def verify_state_proof(
    root: bytes,
    key: bytes,
    value: bytes | None,
    proof: StateProof,
    hash_function: HashFunction,
) -> None:
    """Checks that ``key`` holds ``value`` (or, for None, is absent) in the state under ``root``.

    Raises ProofError otherwise. The path is spelled by the bits of hash(key), most significant
    first; the siblings run from the root's children downward and end where the path ends: in an
    empty subtree, in the key's own leaf, or (exclusion) in another leaf that shares the path.
    """
    siblings = list(proof.siblings)
    depth = len(siblings)
    if depth > KEY_HASH_BITS:
        raise ProofError(f"state proof has {depth} siblings, more than {KEY_HASH_BITS}")
    for sibling in siblings:
        if len(sibling) != HASH_BYTES:
            raise ProofError(f"state proof sibling is {len(sibling)} bytes, not {HASH_BYTES}")
    key_hash = hash_function(key)
    leaf_key_hash = proof.leaf_key_hash
    leaf_value_hash = proof.leaf_value_hash
    if not leaf_key_hash and not leaf_value_hash:
        if value is not None:
            raise ProofError("state proof shows the key absent, but a value was claimed")
        node = EMPTY_HASH
    else:
        if len(leaf_key_hash) != HASH_BYTES or len(leaf_value_hash) != HASH_BYTES:
            raise ProofError("state proof leaf hashes must be 32 bytes each")
        if value is not None:
            if leaf_key_hash != key_hash:
                raise ProofError("state proof ends in the leaf of another key")
            if leaf_value_hash != hash_function(value):
                raise ProofError("state proof leaf holds another value")
        else:
            if leaf_key_hash == key_hash:
                raise ProofError("state proof shows the key present, but absence was claimed")
            shared = int.from_bytes(leaf_key_hash, "big") ^ int.from_bytes(key_hash, "big")
            if shared >> (KEY_HASH_BITS - depth):
                raise ProofError("state proof ends in a leaf that is not on the key's path")
        node = hash_function(LEAF_PREFIX + leaf_key_hash + leaf_value_hash)
    path = int.from_bytes(key_hash, "big")
    for level in range(depth - 1, -1, -1):
        if (path >> (KEY_HASH_BITS - 1 - level)) & 1:
            node = hash_function(INTERNAL_PREFIX + siblings[level] + node)
        else:
            node = hash_function(INTERNAL_PREFIX + node + siblings[level])
    if node != root:
        raise ProofError("state proof does not lead to the expected root")
