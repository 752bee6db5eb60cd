"""Checks of what a node answers against the block header it answers with.

These prove that a transaction, result, block body or state entry belongs to the header; they do
not prove that the header belongs to the chain. Compare the header's hash with a block hash you
trust (your own node, a light client) when the node itself is not trusted.
"""

from __future__ import annotations

from causeway.api.v1 import api_pb2
from causeway.errors import ProofError
from causeway.state import verify_state_proof
from causeway.types import (
    HashFunction,
    block_hash,
    encode,
    merkle_root,
    transaction_id,
    verify_merkle_proof,
)
from causeway.types.v1 import types_pb2


def verify_transaction_response(
    response: api_pb2.GetTransactionResponse,
    hash_function: HashFunction,
    *,
    expected_transaction_id: bytes | None = None,
) -> None:
    """ProofError unless the transaction and its result are at ``response.index`` of the lists
    whose roots ``response.header`` carries (and, if given, the transaction has the expected id)."""
    header = response.header
    if header.height != response.height:
        raise ProofError(f"header is of height {header.height}, not {response.height}")
    identifier = transaction_id(response.transaction.body, hash_function)
    if expected_transaction_id is not None and identifier != expected_transaction_id:
        raise ProofError("the node answered with a different transaction")
    if response.result.transaction_id and response.result.transaction_id != identifier:
        raise ProofError("the result is of a different transaction")
    for name, proof in (
        ("transaction", response.transaction_proof),
        ("result", response.result_proof),
    ):
        if proof.index != response.index or proof.total != header.transaction_count:
            raise ProofError(
                f"the {name} proof is for position {proof.index} of {proof.total}, not "
                f"{response.index} of {header.transaction_count}"
            )
    verify_merkle_proof(
        header.transactions_root, identifier, response.transaction_proof, hash_function
    )
    verify_merkle_proof(
        header.results_root, encode(response.result), response.result_proof, hash_function
    )


def verify_state_response(
    response: api_pb2.GetStateResponse,
    key: bytes,
    hash_function: HashFunction,
    *,
    height: int = 0,
) -> None:
    """ProofError unless ``response.proof`` proves the answered value (or its absence, when
    ``found`` is false) for ``key`` against the state root of ``response.header``."""
    header = response.header
    if header.height != response.height:
        raise ProofError(f"header is of height {header.height}, not {response.height}")
    if height and response.height != height:
        raise ProofError(f"asked for height {height}, answered for {response.height}")
    if not response.found and response.value:
        raise ProofError("an absent key was answered with a value")
    value = response.value if response.found else None
    verify_state_proof(header.state_root, key, value, response.proof, hash_function)


def verify_block(
    block: types_pb2.Block,
    certificate: types_pb2.CommitCertificate,
    results: list[types_pb2.TransactionResult] | tuple[types_pb2.TransactionResult, ...],
    hash_function: HashFunction,
) -> None:
    """ProofError unless the transactions and results are those the header's roots commit to and
    the certificate is for this block (its signatures are not checked here)."""
    header = block.header
    if len(block.transactions) != header.transaction_count or len(results) != len(
        block.transactions
    ):
        raise ProofError(
            f"block {header.height} has {len(block.transactions)} transactions and "
            f"{len(results)} results; its header says {header.transaction_count}"
        )
    identifiers = [transaction_id(item.body, hash_function) for item in block.transactions]
    if merkle_root(identifiers, hash_function) != header.transactions_root:
        raise ProofError(f"block {header.height}'s transactions do not match its header")
    if merkle_root([encode(result) for result in results], hash_function) != header.results_root:
        raise ProofError(f"block {header.height}'s results do not match its header")
    if certificate.height != header.height or certificate.block_hash != block_hash(
        header, hash_function
    ):
        raise ProofError(f"the certificate is not for block {header.height}")
