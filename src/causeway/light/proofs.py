"""Proofs against a trusted header's roots: state entries, transactions, results, whole bodies.

Each function needs only the header (verified first with ``verify_header``) and the profile of
the chain it belongs to. A Merkle list root does not commit to the list's length, so every list
proof is also held to the header's ``transaction_count``; a state proof proves a value, or
(``value=None``) that the key is absent (docs/state.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from causeway.crypto import CryptoProfile
from causeway.errors import ProofError
from causeway.state import verify_state_proof
from causeway.types import encode, merkle_root, transaction_id, verify_merkle_proof
from causeway.types.v1 import types_pb2


def verify_state(
    header: types_pb2.BlockHeader,
    key: bytes,
    value: bytes | None,
    proof: types_pb2.StateProof,
    profile: CryptoProfile,
) -> None:
    """ProofError unless ``key`` holds ``value`` (None: is absent) in the state after
    ``header``'s block."""
    verify_state_proof(header.state_root, key, value, proof, profile.hash)


def _check_position(
    header: types_pb2.BlockHeader, proof: types_pb2.MerkleProof, name: str, index: int | None
) -> None:
    if proof.total != header.transaction_count:
        raise ProofError(
            f"the {name} proof is for a list of {proof.total}; the header of height "
            f"{header.height} counts {header.transaction_count} transactions"
        )
    if index is not None and proof.index != index:
        raise ProofError(f"the {name} proof is for position {proof.index}, not {index}")


def verify_transaction(
    header: types_pb2.BlockHeader,
    transaction: types_pb2.Transaction,
    proof: types_pb2.MerkleProof,
    profile: CryptoProfile,
    *,
    index: int | None = None,
) -> bytes:
    """The transaction's id, once ``proof`` shows it at ``proof.index`` (and ``index``, if
    given) of the block ``header`` commits to."""
    _check_position(header, proof, "transaction", index)
    identifier = transaction_id(transaction.body, profile.hash)
    verify_merkle_proof(header.transactions_root, identifier, proof, profile.hash)
    return identifier


def verify_result(
    header: types_pb2.BlockHeader,
    result: types_pb2.TransactionResult,
    proof: types_pb2.MerkleProof,
    profile: CryptoProfile,
    *,
    index: int | None = None,
) -> None:
    """ProofError unless ``proof`` shows ``result`` at ``proof.index`` (and ``index``, if given)
    of the results ``header`` commits to."""
    _check_position(header, proof, "result", index)
    verify_merkle_proof(header.results_root, encode(result), proof, profile.hash)


def verify_block_contents(
    block: types_pb2.Block,
    results: Sequence[types_pb2.TransactionResult] | None,
    profile: CryptoProfile,
) -> list[bytes]:
    """The transaction ids, once the block's transactions (and ``results``, unless None) are
    exactly those its header's roots and count commit to."""
    header = block.header
    count = len(block.transactions)
    if count != header.transaction_count:
        raise ProofError(
            f"the block at height {header.height} has {count} transactions; its header "
            f"counts {header.transaction_count}"
        )
    identifiers = [transaction_id(item.body, profile.hash) for item in block.transactions]
    if merkle_root(identifiers, profile.hash) != header.transactions_root:
        raise ProofError(
            f"the transactions of height {header.height} do not match transactions_root"
        )
    if results is not None:
        if len(results) != count:
            raise ProofError(
                f"the block at height {header.height} has {count} transactions and "
                f"{len(results)} results"
            )
        encoded = [encode(result) for result in results]
        if merkle_root(encoded, profile.hash) != header.results_root:
            raise ProofError(f"the results of height {header.height} do not match results_root")
    return identifiers
