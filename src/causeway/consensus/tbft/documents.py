"""The exact bytes a tbft validator signs.

Every signed document is ``sign_bytes(domain, chain_id, payload)``:

* proposal:  domain ``"proposal"``, payload ``encode(ProposalDocument(height, round,
  valid_round_plus_one, block_hash))``;
* prevote:   domain ``"prevote"``, payload ``encode(CommitVote(height, round, block_hash))``;
* precommit: domain ``"commit"`` (``DOMAIN_COMMIT``), payload ``encode(CommitVote(height, round,
  block_hash))``, so the precommits for a block are, unchanged, the signatures of its
  CommitCertificate and verify exactly like a solo certificate.

A vote for nil has an empty block hash.
"""

from __future__ import annotations

from causeway.consensus.v1 import consensus_pb2
from causeway.types import DOMAIN_COMMIT, encode, sign_bytes
from causeway.types.v1 import types_pb2

DOMAIN_PREVOTE = "prevote"
DOMAIN_PROPOSAL = "proposal"


def proposal_sign_bytes(
    chain_id: str, height: int, round_number: int, valid_round_plus_one: int, block_hash: bytes
) -> bytes:
    document = consensus_pb2.ProposalDocument(
        height=height,
        round=round_number,
        valid_round_plus_one=valid_round_plus_one,
        block_hash=block_hash,
    )
    return sign_bytes(DOMAIN_PROPOSAL, chain_id, encode(document))


def vote_sign_bytes(
    chain_id: str,
    vote_type: consensus_pb2.VoteType.ValueType,
    height: int,
    round_number: int,
    block_hash: bytes,
) -> bytes:
    domain = DOMAIN_COMMIT if vote_type == consensus_pb2.VOTE_TYPE_PRECOMMIT else DOMAIN_PREVOTE
    payload = encode(types_pb2.CommitVote(height=height, round=round_number, block_hash=block_hash))
    return sign_bytes(domain, chain_id, payload)
