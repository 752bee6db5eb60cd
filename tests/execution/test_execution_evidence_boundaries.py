"""Evidence at its edges: votes for height 0 refused for that reason, a validator id that is not
one refused as a failed transaction (not an exception), and evidence.list paging 100 records
(written as a number) and reading one past its page. The tests a cosmic-ray run over
execution/contracts/evidence.py showed missing (docs/testing.md)."""

from __future__ import annotations

import pytest
from execution_chain import BLOCK_TIME_MS, Chain, ChainKit, status_name
from validator_chain import equivocation, validator_chain

from causeway.consensus.v1 import consensus_pb2
from causeway.contracts.v1 import contracts_pb2
from causeway.execution.keys import VALIDATOR_SCHEDULE_KEY, evidence_key
from causeway.types import encode
from causeway.types.v1 import types_pb2

LIST_LIMIT = 100


@pytest.fixture
def tbft(validator_kit: ChainKit) -> Chain:
    chain = validator_chain(validator_kit, "tbft")
    chain.commit([])
    chain.commit([])
    return chain


def submit(
    chain: Chain, evidence: consensus_pb2.DuplicateVoteEvidence
) -> types_pb2.TransactionResult:
    arguments = contracts_pb2.EvidenceSubmitArguments(evidence=evidence)
    return chain.run("org1/node1", "evidence", "submit", arguments)


def list_evidence(chain: Chain, validator: str) -> types_pb2.TransactionResult:
    arguments = contracts_pb2.EvidenceListArguments(validator=validator)
    transaction = chain.transaction("org1/watcher", "evidence", "list", arguments)
    return chain.executor.query(chain.reader, transaction, BLOCK_TIME_MS)


def test_votes_for_height_0_are_refused_as_such(tbft: Chain) -> None:
    before = dict(tbft.state)
    result = submit(tbft, equivocation(tbft, height=0))
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "the votes are for height 0, which no validator votes on" in result.error
    assert tbft.state == before


def test_votes_naming_no_member_id_fail_the_transaction(tbft: Chain) -> None:
    evidence = equivocation(tbft, height=2)
    evidence.first.validator = evidence.second.validator = "nobody"
    before = dict(tbft.state)
    result = submit(tbft, evidence)
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert result.error.startswith("the votes' validator: ")
    assert tbft.state == before


def test_listing_the_evidence_of_no_member_id_fails_the_query(tbft: Chain) -> None:
    result = list_evidence(tbft, "nobody")
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert result.error.startswith("evidence.list: ")


def write_records(chain: Chain, validator: str, count: int) -> None:
    """`count` records of the validator at heights 1 to `count`, written straight into state."""
    for height in range(1, count + 1):
        vote = consensus_pb2.Vote(height=height, validator=validator)
        record = contracts_pb2.EvidenceRecord(
            evidence=consensus_pb2.DuplicateVoteEvidence(first=vote, second=vote),
            committed_height=height,
        )
        chain.state[evidence_key(validator, height, 0, "prevote")] = encode(record)


def test_a_list_pages_100_records_and_reads_one_past_its_page(tbft: Chain) -> None:
    validator = "org2/node2"
    write_records(tbft, validator, LIST_LIMIT + 2)
    result = list_evidence(tbft, validator)
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    page = contracts_pb2.EvidenceListResult.FromString(result.return_value)
    assert [record.committed_height for record in page.records] == list(range(1, LIST_LIMIT + 1))
    assert page.next_from_height == LIST_LIMIT + 1
    # One range, the page's records and the one that tells there is more.
    assert result.cost.reads == 1 + LIST_LIMIT + 1


def test_exactly_100_records_make_one_page(tbft: Chain) -> None:
    write_records(tbft, "org2/node2", LIST_LIMIT)
    result = list_evidence(tbft, "org2/node2")
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    page = contracts_pb2.EvidenceListResult.FromString(result.return_value)
    assert len(page.records) == LIST_LIMIT
    assert page.next_from_height == 0


def _schedule_from(chain: Chain, from_height: int, public_key: bytes | None = None) -> None:
    """A schedule holding the genesis set from `from_height` only (the contract never writes one
    that leaves a height evidence may name uncovered), optionally with org2/node2's key
    replaced."""
    validators = types_pb2.ValidatorSet()
    validators.CopyFrom(chain.kit.genesis.validators)
    if public_key is not None:
        for validator in validators.validators:
            if validator.member_id == "org2/node2":
                validator.public_key = public_key
    chain.state[VALIDATOR_SCHEDULE_KEY] = encode(
        contracts_pb2.ValidatorSchedule(
            entries=[
                contracts_pb2.ScheduledValidatorSet(from_height=from_height, validators=validators)
            ]
        )
    )


def test_votes_below_every_kept_set_fail_the_transaction(tbft: Chain) -> None:
    _schedule_from(tbft, 2)
    before = dict(tbft.state)
    result = submit(tbft, equivocation(tbft, height=1))
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "no validator set is known for height 1" in result.error
    assert tbft.state == before


def test_a_validator_key_that_cannot_be_loaded_fails_the_transaction(tbft: Chain) -> None:
    _schedule_from(tbft, 1, public_key=b"junk")
    before = dict(tbft.state)
    result = submit(tbft, equivocation(tbft, height=2))
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "the key of validator org2/node2 cannot be loaded" in result.error
    assert tbft.state == before
