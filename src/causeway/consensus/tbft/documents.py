"""The exact bytes a tbft validator signs: the documents of causeway.types.documents, chosen by
vote type (a precommit is a commit vote, so precommits form a block's CommitCertificate)."""

from __future__ import annotations

from causeway.consensus.v1 import consensus_pb2
from causeway.types import (
    DOMAIN_PREVOTE,
    DOMAIN_PROPOSAL,
    commit_sign_bytes,
    prevote_sign_bytes,
    proposal_sign_bytes,
)

__all__ = ["DOMAIN_PREVOTE", "DOMAIN_PROPOSAL", "proposal_sign_bytes", "vote_sign_bytes"]


def vote_sign_bytes(
    chain_id: str,
    vote_type: consensus_pb2.VoteType.ValueType,
    height: int,
    round_number: int,
    block_hash: bytes,
) -> bytes:
    if vote_type == consensus_pb2.VOTE_TYPE_PRECOMMIT:
        return commit_sign_bytes(chain_id, height, round_number, block_hash)
    return prevote_sign_bytes(chain_id, height, round_number, block_hash)
