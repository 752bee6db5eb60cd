"""evidence (system): equivocation of validators (two signed votes for one height, round and vote
type), checked against the validator schedule and recorded in state once."""

from __future__ import annotations

from causeway.consensus.v1 import consensus_pb2
from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import load_public_key
from causeway.errors import ConfigurationError, CryptoError, HeightUnavailableError
from causeway.execution.context import TransactionContext, failure
from causeway.execution.contracts.base import Method, decode_arguments
from causeway.execution.contracts.validators import load_schedule
from causeway.execution.keys import evidence_at_height, evidence_record, validator_evidence
from causeway.execution.schedule import EVIDENCE_AGE_MAX_HEIGHTS, entry_at
from causeway.identity import split_member_id
from causeway.types import commit_sign_bytes as commit_sign
from causeway.types import encode
from causeway.types import prevote_sign_bytes as prevote_sign
from causeway.types.v1 import types_pb2

CONTRACT = "evidence"
# The most records one evidence.list answer holds (the oldest first).
EVIDENCE_LIST_LIMIT = 100

_INVALID = types_pb2.RESULT_STATUS_INVALID_ARGUMENT
_CONFLICT = types_pb2.RESULT_STATUS_CONFLICT


def _vote_document(chain_id: str, vote: consensus_pb2.Vote) -> bytes:
    """What the vote signed: a precommit signs the commit document (types/documents.py)."""
    sign = commit_sign if vote.type == consensus_pb2.VOTE_TYPE_PRECOMMIT else prevote_sign
    return sign(chain_id, vote.height, vote.round, vote.block_hash)


_VOTE_TYPE_NAMES = {
    consensus_pb2.VOTE_TYPE_PREVOTE: "prevote",
    consensus_pb2.VOTE_TYPE_PRECOMMIT: "precommit",
}


def _check_pair(evidence: consensus_pb2.DuplicateVoteEvidence) -> str:
    """Refuses two votes that are not an equivocation; returns the vote type's name."""
    if not evidence.HasField("first") or not evidence.HasField("second"):
        raise failure(_INVALID, "the evidence needs two votes")
    first, second = evidence.first, evidence.second
    vote_type = _VOTE_TYPE_NAMES.get(first.type)
    if vote_type is None:
        raise failure(_INVALID, f"vote type {first.type} is neither prevote nor precommit")
    for field, first_value, second_value in (
        ("type", first.type, second.type),
        ("height", first.height, second.height),
        ("round", first.round, second.round),
        ("validator", first.validator, second.validator),
    ):
        if first_value != second_value:
            raise failure(
                _INVALID,
                f"the votes have different {field}s ({first_value!r} and {second_value!r}): "
                "not an equivocation",
            )
    if first.block_hash == second.block_hash:
        raise failure(_INVALID, "both votes are for the same block: not an equivocation")
    try:
        split_member_id(first.validator)
    except ConfigurationError as error:
        raise failure(_INVALID, f"the votes' validator: {error.message}") from None
    if first.height == 0:
        raise failure(_INVALID, "the votes are for height 0, which no validator votes on")
    return vote_type


def submit(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, contracts_pb2.EvidenceSubmitArguments, arguments)
    evidence = request.evidence
    vote_type = _check_pair(evidence)
    first = evidence.first
    height, round_number, validator_id = first.height, first.round, first.validator
    if height > context.height + 1:
        raise failure(
            _INVALID,
            f"the votes are for height {height}, above the next height {context.height + 1}",
        )
    if height + EVIDENCE_AGE_MAX_HEIGHTS < context.height:
        raise failure(
            _INVALID,
            f"the votes are for height {height}, more than {EVIDENCE_AGE_MAX_HEIGHTS} heights "
            f"below this block ({context.height}): too old",
        )
    key = evidence_record(validator_id, height, round_number, vote_type)
    # One record per validator and height: a validator that holds its key can sign conflicting
    # votes for every round and type of a height; one proof is enough, and the records stay
    # bounded by the chain's heights.
    if context.range(evidence_at_height(validator_id, height), b"", 1):
        raise failure(
            _CONFLICT,
            f"evidence of {validator_id} at height {height} is already recorded",
        )
    try:
        entry = entry_at(load_schedule(context), height)
    except HeightUnavailableError as error:
        raise failure(_INVALID, error.message) from None
    validator = next((v for v in entry.validators.validators if v.member_id == validator_id), None)
    if validator is None:
        raise failure(_INVALID, f"{validator_id!r} was not in the validator set at height {height}")
    documents = [
        (
            name,
            vote,
            _vote_document(context.chain_id, vote),
        )
        for name, vote in (("first", first), ("second", evidence.second))
    ]
    # Both verifications are charged before the key is loaded: a bad key or a forged first
    # signature pays for the work the submitter asked for.
    for _, _, document in documents:
        context.charge_signature_verification(validator.algorithm, len(document))
    try:
        public_key = load_public_key(validator.algorithm, validator.public_key)
    except CryptoError as error:
        raise failure(
            _INVALID, f"the key of validator {validator_id} cannot be loaded: {error.message}"
        ) from None
    for name, vote, document in documents:
        if not vote.signature or not public_key.verify(document, vote.signature):
            raise failure(
                _INVALID,
                f"the signature of the {name} vote does not verify with the key of {validator_id}",
            )
    record = contracts_pb2.EvidenceRecord(
        evidence=evidence, committed_height=context.height, reporter=context.sender.id
    )
    context.put(key, encode(record))
    context.emit(
        "committed",
        (
            ("validator", validator_id),
            ("height", str(height)),
            ("round", str(round_number)),
            ("vote_type", vote_type),
        ),
    )
    return b""


def list_evidence(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, contracts_pb2.EvidenceListArguments, arguments)
    try:
        split_member_id(request.validator)
    except ConfigurationError as error:
        raise failure(_INVALID, f"evidence.list: {error.message}") from None
    prefix = validator_evidence(request.validator)
    # Keys sort by fixed-width height: start after every key of the height below from_height
    # (their round and type are ASCII, below 0xff).
    start_after = (
        evidence_at_height(request.validator, request.from_height - 1) + b"\xff"
        if request.from_height > 0
        else b""
    )
    entries = context.range(prefix, start_after, EVIDENCE_LIST_LIMIT + 1)
    records = [contracts_pb2.EvidenceRecord.FromString(value) for _, value in entries]
    result = contracts_pb2.EvidenceListResult(records=records[:EVIDENCE_LIST_LIMIT])
    if len(records) > EVIDENCE_LIST_LIMIT:
        result.next_from_height = records[EVIDENCE_LIST_LIMIT].evidence.first.height
    return encode(result)


METHODS: dict[str, Method] = {
    "submit": Method(submit),
    "list": Method(list_evidence, read_only=True),
}
