"""Tendermint-style BFT consensus (arXiv:1807.04938, Algorithm 1) as a pure core."""

from causeway.consensus.tbft.core import (
    HASH_BYTES_MAX,
    NEXT_HEIGHT_MESSAGES_PER_VALIDATOR_MAX,
    ROUNDS_AHEAD_MAX,
    SIGNATURE_BYTES_MAX,
    STATISTICS_NAMES,
    TbftCore,
    TbftStep,
    TbftTimeouts,
    ValidatorPairs,
    ValidatorSchedule,
)
from causeway.consensus.tbft.documents import (
    DOMAIN_PREVOTE,
    DOMAIN_PROPOSAL,
    proposal_sign_bytes,
    vote_sign_bytes,
)
from causeway.consensus.tbft.proposer import ProposerSelection
from causeway.consensus.tbft.records import LOCK_RECORD, STATE_RECORD

__all__ = [
    "DOMAIN_PREVOTE",
    "DOMAIN_PROPOSAL",
    "HASH_BYTES_MAX",
    "LOCK_RECORD",
    "NEXT_HEIGHT_MESSAGES_PER_VALIDATOR_MAX",
    "ROUNDS_AHEAD_MAX",
    "SIGNATURE_BYTES_MAX",
    "STATE_RECORD",
    "STATISTICS_NAMES",
    "ProposerSelection",
    "TbftCore",
    "TbftStep",
    "TbftTimeouts",
    "ValidatorPairs",
    "ValidatorSchedule",
    "proposal_sign_bytes",
    "vote_sign_bytes",
]
