"""Sign bytes of consensus documents live in types/, where engines and contracts both reach them."""

from __future__ import annotations

from causeway import sdk, types
from causeway.consensus.tbft import proposal_sign_bytes as tbft_proposal_sign_bytes
from causeway.consensus.tbft import vote_sign_bytes
from causeway.consensus.v1 import consensus_pb2
from causeway.types import (
    DOMAIN_COMMIT,
    DOMAIN_PREVOTE,
    DOMAIN_PROPOSAL,
    commit_sign_bytes,
    decode,
    encode,
    prevote_sign_bytes,
    proposal_sign_bytes,
    sign_bytes,
)
from causeway.types.v1 import types_pb2

CHAIN_ID = "documents-chain"
BLOCK_HASH = bytes(range(32))


def test_a_vote_signs_a_commit_vote_under_its_domain() -> None:
    payload = encode(types_pb2.CommitVote(height=7, round=2, block_hash=BLOCK_HASH))
    assert commit_sign_bytes(CHAIN_ID, 7, 2, BLOCK_HASH) == sign_bytes(
        DOMAIN_COMMIT, CHAIN_ID, payload
    )
    assert prevote_sign_bytes(CHAIN_ID, 7, 2, BLOCK_HASH) == sign_bytes(
        DOMAIN_PREVOTE, CHAIN_ID, payload
    )
    assert (DOMAIN_COMMIT, DOMAIN_PREVOTE, DOMAIN_PROPOSAL) == ("commit", "prevote", "proposal")


def test_tbft_picks_the_document_by_vote_type() -> None:
    precommit = vote_sign_bytes(CHAIN_ID, consensus_pb2.VOTE_TYPE_PRECOMMIT, 7, 2, BLOCK_HASH)
    prevote = vote_sign_bytes(CHAIN_ID, consensus_pb2.VOTE_TYPE_PREVOTE, 7, 2, BLOCK_HASH)
    assert precommit == commit_sign_bytes(CHAIN_ID, 7, 2, BLOCK_HASH)
    assert prevote == prevote_sign_bytes(CHAIN_ID, 7, 2, BLOCK_HASH)
    assert precommit != prevote
    assert tbft_proposal_sign_bytes is proposal_sign_bytes


def test_a_proposal_signs_a_proposal_document() -> None:
    signed = decode(
        types_pb2.SignDocument, proposal_sign_bytes(CHAIN_ID, 7, 2, 1, BLOCK_HASH), bytes_max=256
    )
    assert (signed.domain, signed.chain_id) == (DOMAIN_PROPOSAL, CHAIN_ID)
    assert decode(types_pb2.ProposalDocument, signed.payload, bytes_max=256) == (
        types_pb2.ProposalDocument(height=7, round=2, valid_round_plus_one=1, block_hash=BLOCK_HASH)
    )


def test_the_sdk_builds_transactions_with_the_types_functions() -> None:
    assert sdk.build_transaction is types.build_transaction
    assert sdk.endorse is types.endorse
