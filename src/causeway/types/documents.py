"""The exact bytes a validator signs for consensus: proposals, prevotes and commit votes.

Every signed document is ``sign_bytes(domain, chain_id, payload)``:

* proposal:  domain ``"proposal"``, payload ``encode(ProposalDocument(height, round,
  valid_round_plus_one, block_hash))``;
* prevote:   domain ``"prevote"``, payload ``encode(CommitVote(height, round, block_hash))``;
* commit:    domain ``"commit"`` (``DOMAIN_COMMIT``), payload ``encode(CommitVote(height, round,
  block_hash))``: a tbft precommit, a solo or raft commit signature and a signature of a
  CommitCertificate are the same document, so they verify alike.

A vote for nil has an empty block hash. They live here, below consensus and execution, because
the engines sign them and the evidence contract, block sync and light clients check them.
"""

from __future__ import annotations

from causeway.types.encoding import DOMAIN_COMMIT, encode, sign_bytes
from causeway.types.v1 import types_pb2

DOMAIN_PREVOTE = "prevote"
DOMAIN_PROPOSAL = "proposal"


def proposal_sign_bytes(
    chain_id: str, height: int, round_number: int, valid_round_plus_one: int, block_hash: bytes
) -> bytes:
    document = types_pb2.ProposalDocument(
        height=height,
        round=round_number,
        valid_round_plus_one=valid_round_plus_one,
        block_hash=block_hash,
    )
    return sign_bytes(DOMAIN_PROPOSAL, chain_id, encode(document))


def prevote_sign_bytes(chain_id: str, height: int, round_number: int, block_hash: bytes) -> bytes:
    return _vote(DOMAIN_PREVOTE, chain_id, height, round_number, block_hash)


def commit_sign_bytes(chain_id: str, height: int, round_number: int, block_hash: bytes) -> bytes:
    """What a precommit and every signature of a CommitCertificate sign."""
    return _vote(DOMAIN_COMMIT, chain_id, height, round_number, block_hash)


def _vote(domain: str, chain_id: str, height: int, round_number: int, block_hash: bytes) -> bytes:
    payload = encode(types_pb2.CommitVote(height=height, round=round_number, block_hash=block_hash))
    return sign_bytes(domain, chain_id, payload)
