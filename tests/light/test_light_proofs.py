"""State, transaction and result proofs against a header's roots, in both profiles."""

from __future__ import annotations

import pytest
from light_support import STATE, build_chain

from causeway.crypto import get_profile
from causeway.errors import ProofError
from causeway.light import (
    verify_block_contents,
    verify_result,
    verify_state,
    verify_transaction,
)
from causeway.types import transaction_id
from causeway.types.v1 import types_pb2

PROFILES = ["intl", "gm"]


@pytest.mark.parametrize("profile_name", PROFILES)
def test_state_inclusion_and_exclusion(profile_name: str) -> None:
    chain = build_chain(profile_name)
    for key, value in STATE.items():
        verify_state(chain.header, key, value, chain.state_proof(key), chain.profile)
    absent = b"kv/weight"
    verify_state(chain.header, absent, None, chain.state_proof(absent), chain.profile)
    proof = chain.state_proof(b"kv/colour")
    with pytest.raises(ProofError, match="state proof leaf holds another value"):
        verify_state(chain.header, b"kv/colour", b"red", proof, chain.profile)
    with pytest.raises(ProofError, match="shows the key present, but absence was claimed"):
        verify_state(chain.header, b"kv/colour", None, proof, chain.profile)
    with pytest.raises(ProofError, match="ends in the leaf of another key"):
        verify_state(chain.header, b"kv/size", b"blue", proof, chain.profile)
    header = types_pb2.BlockHeader()
    header.CopyFrom(chain.header)
    header.state_root = chain.profile.hash(b"another root")
    with pytest.raises(ProofError, match="does not lead to the expected root"):
        verify_state(header, b"kv/colour", b"blue", proof, chain.profile)


@pytest.mark.parametrize("profile_name", PROFILES)
def test_transactions_and_results(profile_name: str) -> None:
    chain = build_chain(profile_name, transactions=3)
    for index, transaction in enumerate(chain.block.transactions):
        identifier = verify_transaction(
            chain.header, transaction, chain.transaction_proof(index), chain.profile, index=index
        )
        assert identifier == transaction_id(transaction.body, chain.profile.hash)
        verify_result(
            chain.header,
            chain.results[index],
            chain.result_proof(index),
            chain.profile,
            index=index,
        )
    transaction = chain.block.transactions[1]
    with pytest.raises(ProofError, match="the transaction proof is for position 1, not 2"):
        verify_transaction(
            chain.header, transaction, chain.transaction_proof(1), chain.profile, index=2
        )
    with pytest.raises(ProofError, match="Merkle proof does not lead to the expected root"):
        verify_transaction(chain.header, transaction, chain.transaction_proof(0), chain.profile)
    tampered = types_pb2.Transaction()
    tampered.CopyFrom(transaction)
    tampered.body += b"!"
    with pytest.raises(ProofError, match="does not lead to the expected root"):
        verify_transaction(chain.header, tampered, chain.transaction_proof(1), chain.profile)
    # A root does not commit to the list's length: the header's count does.
    longer = chain.transaction_proof(1)
    longer.total = 4
    with pytest.raises(ProofError, match="a list of 4; the header of height 7 counts 3"):
        verify_transaction(chain.header, transaction, longer, chain.profile)
    failed = types_pb2.TransactionResult()
    failed.CopyFrom(chain.results[0])
    failed.status = types_pb2.RESULT_STATUS_PERMISSION_DENIED
    with pytest.raises(ProofError, match="does not lead to the expected root"):
        verify_result(chain.header, failed, chain.result_proof(0), chain.profile)
    with pytest.raises(ProofError, match="the result proof is for position 0, not 1"):
        verify_result(chain.header, chain.results[0], chain.result_proof(0), chain.profile, index=1)


def test_proofs_of_one_profile_fail_under_the_other() -> None:
    gm = build_chain("gm")
    intl = get_profile("intl")
    # Under SHA-256 the key hashes to another path, whose leaf is not the key's.
    with pytest.raises(ProofError, match="state proof ends in the leaf of another key"):
        verify_state(gm.header, b"kv/colour", b"blue", gm.state_proof(b"kv/colour"), intl)
    with pytest.raises(ProofError, match="does not lead to the expected root"):
        verify_transaction(gm.header, gm.block.transactions[0], gm.transaction_proof(0), intl)


@pytest.mark.parametrize("profile_name", PROFILES)
def test_block_contents(profile_name: str) -> None:
    chain = build_chain(profile_name, transactions=3)
    identifiers = verify_block_contents(chain.block, chain.results, chain.profile)
    assert len(identifiers) == 3
    verify_block_contents(chain.block, None, chain.profile)
    with pytest.raises(ProofError, match="has 3 transactions and 2 results"):
        verify_block_contents(chain.block, chain.results[:2], chain.profile)
    swapped = [chain.results[1], chain.results[0], chain.results[2]]
    with pytest.raises(ProofError, match="the results of height 7 do not match results_root"):
        verify_block_contents(chain.block, swapped, chain.profile)
    block = types_pb2.Block()
    block.CopyFrom(chain.block)
    del block.transactions[2]
    with pytest.raises(ProofError, match="has 2 transactions; its header counts 3"):
        verify_block_contents(block, None, chain.profile)
    block.CopyFrom(chain.block)
    block.transactions[0].body += b"!"
    with pytest.raises(ProofError, match="do not match transactions_root"):
        verify_block_contents(block, None, chain.profile)


def test_an_exclusion_proof_must_end_on_the_keys_own_path() -> None:
    # An absent key whose path ends in another key's leaf: that leaf proves the absence only of
    # keys whose hash shares the path prefix with it; for any other key it proves nothing.
    chain = build_chain("intl")
    hash_function = chain.profile.hash
    absent, proof = next(
        (key, proof)
        for key in (b"absent/%d" % index for index in range(1000))
        if (proof := chain.state_proof(key)).leaf_key_hash
    )
    verify_state(chain.header, absent, None, proof, chain.profile)
    depth = len(proof.siblings)
    assert depth > 0
    leaf_path = int.from_bytes(proof.leaf_key_hash, "big")
    elsewhere = next(
        key
        for key in (b"elsewhere/%d" % index for index in range(1000))
        if (int.from_bytes(hash_function(key), "big") ^ leaf_path) >> (256 - depth)
        and key not in STATE
    )
    with pytest.raises(ProofError, match="ends in a leaf that is not on the key's path"):
        verify_state(chain.header, elsewhere, None, proof, chain.profile)
