from __future__ import annotations

from collections.abc import Callable

import pytest
from execution_chain import BLOCK_TIME_MS, Chain, ChainKit, status_name
from validator_chain import (
    GOVERNANCE,
    PRECOMMIT,
    PREVOTE,
    equivocation,
    signed_vote,
    update_arguments,
    validator_chain,
)

from causeway.consensus.v1 import consensus_pb2
from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import PrivateKey
from causeway.execution import (
    EVIDENCE_AGE_MAX_HEIGHTS,
    GAS_PER_BYTE_READ,
    GAS_PER_BYTE_WRITTEN,
    GAS_PER_READ,
    GAS_PER_TRANSACTION_BYTE,
    GAS_PER_WRITE,
    GAS_TRANSACTION_BASE,
    SIGNATURE_VERIFICATION_GAS,
    may_send,
    signature_verification_gas,
)
from causeway.execution.contracts import evidence as evidence_contract
from causeway.execution.keys import EVIDENCE_PREFIX, evidence_key
from causeway.types import commit_sign_bytes, encode, prevote_sign_bytes
from causeway.types.v1 import types_pb2

Evidence = consensus_pb2.DuplicateVoteEvidence


@pytest.fixture
def tbft(validator_kit: ChainKit) -> Chain:
    chain = validator_chain(validator_kit, "tbft")
    chain.commit([])
    chain.commit([])
    return chain  # at height 2: block 3 accepts evidence for heights up to 4


def submit(
    chain: Chain, evidence: Evidence, sender: str = "org1/node1"
) -> types_pb2.TransactionResult:
    return chain.run(
        sender, "evidence", "submit", contracts_pb2.EvidenceSubmitArguments(evidence=evidence)
    )


def evidence_entries(chain: Chain) -> dict[bytes, bytes]:
    return {k: v for k, v in chain.state.items() if k.startswith(EVIDENCE_PREFIX)}


def list_evidence(chain: Chain, validator: str) -> list[contracts_pb2.EvidenceRecord]:
    transaction = chain.transaction(
        "org1/watcher",
        "evidence",
        "list",
        contracts_pb2.EvidenceListArguments(validator=validator),
    )
    result = chain.executor.query(chain.reader, transaction, BLOCK_TIME_MS)
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    return list(contracts_pb2.EvidenceListResult.FromString(result.return_value).records)


def check_recorded_once(chain: Chain, evidence: Evidence, vote_type: str) -> None:
    vote = evidence.first
    transaction = chain.transaction(
        "org1/node1", "evidence", "submit", contracts_pb2.EvidenceSubmitArguments(evidence=evidence)
    )
    result = chain.commit([transaction]).results[0]
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    block = chain.height
    key = evidence_key(vote.validator, vote.height, vote.round, vote_type)
    record = contracts_pb2.EvidenceRecord(
        evidence=evidence, committed_height=block, reporter="org1/node1"
    )
    assert evidence_entries(chain) == {key: encode(record)}
    [event] = result.events
    assert (event.contract, event.name) == ("evidence", "committed")
    assert [(a.key, a.value) for a in event.attributes] == [
        ("validator", vote.validator),
        ("height", str(vote.height)),
        ("round", str(vote.round)),
        ("vote_type", vote_type),
    ]
    # Two signature verifications, by the validator's algorithm and the bytes signed, are priced
    # on top of the state access.
    member = chain.executor.get_member(chain.reader, vote.validator)
    assert member is not None
    verifications = sum(
        signature_verification_gas(
            member.algorithm,
            len(
                (
                    commit_sign_bytes
                    if v.type == consensus_pb2.VOTE_TYPE_PRECOMMIT
                    else prevote_sign_bytes
                )(chain.kit.genesis.chain_id, v.height, v.round, v.block_hash)
            ),
            chain.kit.profile.name,
        )
        for v in (evidence.first, evidence.second)
    )
    cost = result.cost
    assert cost.gas_used == (
        GAS_TRANSACTION_BASE
        + GAS_PER_TRANSACTION_BYTE * len(transaction.encoded)
        + GAS_PER_READ * cost.reads
        + GAS_PER_BYTE_READ * cost.bytes_read
        + GAS_PER_WRITE * cost.writes
        + GAS_PER_BYTE_WRITTEN * cost.bytes_written
        + verifications
    )
    assert list_evidence(chain, vote.validator) == [record]
    # The same equivocation again, even with other block hashes or a reporter of its own: once.
    signer = vote.validator
    again = Evidence(
        first=signed_vote(
            chain,
            signer,
            vote_type=vote.type,
            height=vote.height,
            round_number=vote.round,
            block_hash=b"\x07" * 32,
        ),
        second=evidence.second,
    )
    before = dict(chain.state)
    for resubmitted, sender in ((evidence, "org1/node1"), (again, "org1/node3")):
        result = submit(chain, resubmitted, sender)
        assert status_name(result) == "RESULT_STATUS_CONFLICT"
        assert "already recorded" in result.error
    assert chain.state == before


def test_evidence_with_real_signatures_is_recorded_once(tbft: Chain) -> None:
    check_recorded_once(tbft, equivocation(tbft, height=2, round_number=1), "precommit")


def test_a_second_equivocation_at_the_same_height_is_not_recorded_again(tbft: Chain) -> None:
    check_recorded_once(tbft, equivocation(tbft, height=2, round_number=1), "precommit")
    before = dict(tbft.state)
    for other in (
        equivocation(tbft, height=2, round_number=3),
        equivocation(tbft, vote_type=PREVOTE, height=2, round_number=1),
    ):
        result = submit(tbft, other, "org1/node1")
        assert status_name(result) == "RESULT_STATUS_CONFLICT"
        assert "at height 2 is already recorded" in result.error
    assert tbft.state == before
    # Another height is another record.
    result = submit(tbft, equivocation(tbft, height=3), "org1/node1")
    assert status_name(result) == "RESULT_STATUS_OK", result.error


def list_page(chain: Chain, validator: str, from_height: int) -> contracts_pb2.EvidenceListResult:
    transaction = chain.transaction(
        "org1/watcher",
        "evidence",
        "list",
        contracts_pb2.EvidenceListArguments(validator=validator, from_height=from_height),
    )
    result = chain.executor.query(chain.reader, transaction, BLOCK_TIME_MS)
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    return contracts_pb2.EvidenceListResult.FromString(result.return_value)


def test_evidence_list_pages_by_height(tbft: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evidence_contract, "EVIDENCE_LIST_LIMIT", 2)
    heights = [2, 3, 4, 5, 6]
    for height in heights:
        while tbft.height + 1 < height:
            tbft.commit([])
        result = submit(tbft, equivocation(tbft, height=height), "org1/node1")
        assert status_name(result) == "RESULT_STATUS_OK", result.error
    validator = equivocation(tbft, height=2).first.validator
    seen: list[int] = []
    pages = 0
    from_height = 0
    while True:
        page = list_page(tbft, validator, from_height)
        pages += 1
        assert len(page.records) <= 2
        seen.extend(record.evidence.first.height for record in page.records)
        if not page.next_from_height:
            break
        from_height = page.next_from_height
    assert seen == heights
    assert pages == 3
    assert [r.evidence.first.height for r in list_page(tbft, validator, 4).records] == [4, 5]
    assert list_page(tbft, validator, 7).records == []


def test_prevote_evidence_from_the_next_height(tbft: Chain) -> None:
    evidence = equivocation(tbft, vote_type=PREVOTE, height=4)
    check_recorded_once(tbft, evidence, "prevote")


def test_gm_evidence_with_sm2_signatures(gm_validator_kit: ChainKit) -> None:
    chain = validator_chain(gm_validator_kit, "tbft")
    assert chain.kit.profile.name == "gm"
    assert chain.identity("org2/node2").key.algorithm == "sm2"
    forged = equivocation(chain)
    forged.second.signature = chain.identity("org1/node3").key.sign(b"something else")
    result = submit(chain, forged)
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "signature of the second vote does not verify" in result.error
    check_recorded_once(chain, equivocation(chain), "precommit")


def _forge(evidence: Evidence, chain: Chain) -> None:
    other = chain.identity("org1/node3").key
    document = b"not the vote"
    evidence.first.signature = other.sign(document)


def _same_hash(evidence: Evidence, chain: Chain) -> None:
    evidence.second.CopyFrom(signed_vote(chain, "org2/node2", height=2, block_hash=b"\x01" * 32))


def _other_height(evidence: Evidence, chain: Chain) -> None:
    evidence.second.CopyFrom(signed_vote(chain, "org2/node2", height=1, block_hash=b"\x02" * 32))


def _other_round(evidence: Evidence, chain: Chain) -> None:
    evidence.second.CopyFrom(
        signed_vote(chain, "org2/node2", height=2, round_number=1, block_hash=b"\x02" * 32)
    )


def _other_type(evidence: Evidence, chain: Chain) -> None:
    evidence.second.CopyFrom(
        signed_vote(chain, "org2/node2", height=2, vote_type=PREVOTE, block_hash=b"\x02" * 32)
    )


def _other_validator(evidence: Evidence, chain: Chain) -> None:
    evidence.second.CopyFrom(signed_vote(chain, "org1/node3", height=2, block_hash=b"\x02" * 32))


def _signed_by_another_validator(evidence: Evidence, chain: Chain) -> None:
    evidence.second.CopyFrom(
        signed_vote(chain, "org1/node3", height=2, block_hash=b"\x02" * 32, validator="org2/node2")
    )


def _unsigned(evidence: Evidence, chain: Chain) -> None:
    evidence.second.signature = b""


def _not_a_validator(evidence: Evidence, chain: Chain) -> None:
    evidence.CopyFrom(equivocation(chain, "org2/node4", height=2))


def _not_a_member_key(evidence: Evidence, chain: Chain) -> None:
    stranger = PrivateKey.generate(chain.kit.profile.default_algorithm)
    for vote in (evidence.first, evidence.second):
        vote.validator = "org9/stranger"
        vote.signature = stranger.sign(b"x")


def _too_high(evidence: Evidence, chain: Chain) -> None:
    evidence.CopyFrom(equivocation(chain, height=5))


def _unspecified_type(evidence: Evidence, chain: Chain) -> None:
    evidence.CopyFrom(equivocation(chain, height=2, vote_type=consensus_pb2.VOTE_TYPE_UNSPECIFIED))


def _height_zero(evidence: Evidence, chain: Chain) -> None:
    evidence.CopyFrom(equivocation(chain, height=0))


def _one_vote(evidence: Evidence, chain: Chain) -> None:
    evidence.ClearField("second")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_forge, "signature of the first vote does not verify with the key of org2/node2"),
        (_signed_by_another_validator, "signature of the second vote does not verify"),
        (_unsigned, "signature of the second vote does not verify"),
        (_same_hash, "same block: not an equivocation"),
        (_other_height, "different heights (2 and 1)"),
        (_other_round, "different rounds (0 and 1)"),
        (_other_type, "different types"),
        (_other_validator, "different validators"),
        (_not_a_validator, "'org2/node4' was not in the validator set at height 2"),
        (_not_a_member_key, "'org9/stranger' was not in the validator set at height 2"),
        (_too_high, "height 5, above the next height 4"),
        (_unspecified_type, "neither prevote nor precommit"),
        (_height_zero, "height 0"),
        (_one_vote, "needs two votes"),
    ],
)
def test_evidence_refusals(
    tbft: Chain, change: Callable[[Evidence, Chain], None], reason: str
) -> None:
    evidence = equivocation(tbft, height=2)
    change(evidence, tbft)
    before = dict(tbft.state)
    result = submit(tbft, evidence)
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert reason in result.error
    assert not result.events
    assert tbft.state == before


def test_a_forged_signature_still_pays_for_its_verification(tbft: Chain) -> None:
    evidence = equivocation(tbft, height=2)
    _forge(evidence, tbft)
    transaction = tbft.transaction(
        "org1/node1", "evidence", "submit", contracts_pb2.EvidenceSubmitArguments(evidence=evidence)
    )
    result = tbft.commit([transaction]).results[0]
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    price = SIGNATURE_VERIFICATION_GAS[tbft.kit.profile.default_algorithm]
    assert result.cost.gas_used >= 2 * price + len(transaction.encoded)


def test_evidence_age(tbft: Chain) -> None:
    # At block B, votes of heights B - EVIDENCE_AGE_MAX_HEIGHTS and later are accepted.
    tbft.height = 50 + EVIDENCE_AGE_MAX_HEIGHTS - 1
    before = dict(tbft.state)
    result = submit(tbft, equivocation(tbft, height=49))
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert f"more than {EVIDENCE_AGE_MAX_HEIGHTS} heights below this block" in result.error
    assert "too old" in result.error
    assert tbft.state == before
    # Next block, B - AGE = 51.
    result = submit(tbft, equivocation(tbft, height=51))
    assert status_name(result) == "RESULT_STATUS_OK", result.error


def test_evidence_uses_the_set_of_its_height(tbft: Chain) -> None:
    # Block 3 removes node2 (from 5) and adds node4 (from 5).
    result = tbft.run(
        "org1/admin",
        "validators",
        "update",
        update_arguments(org2__node2=0, org2__node4=10),
        **GOVERNANCE,
    )
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    tbft.commit([])
    # Block 5: node2 equivocated at height 4, when it still validated; node4 at 4 it did not.
    assert status_name(submit(tbft, equivocation(tbft, height=4))) == "RESULT_STATUS_OK"
    result = submit(tbft, equivocation(tbft, "org2/node4", height=4))
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "not in the validator set at height 4" in result.error
    result = submit(tbft, equivocation(tbft, "org2/node4", height=5, vote_type=PRECOMMIT))
    assert status_name(result) == "RESULT_STATUS_OK", result.error


def test_list_is_per_validator_in_height_order_and_bounded(tbft: Chain) -> None:
    for height in (3, 1, 2):
        assert status_name(submit(tbft, equivocation(tbft, height=height))) == "RESULT_STATUS_OK"
    assert status_name(submit(tbft, equivocation(tbft, "org1/node3"))) == "RESULT_STATUS_OK"
    records = list_evidence(tbft, "org2/node2")
    assert [r.evidence.first.height for r in records] == [1, 2, 3]
    assert [r.evidence.first.validator for r in list_evidence(tbft, "org1/node3")] == ["org1/node3"]
    assert list_evidence(tbft, "org1/node1") == []
    transaction = tbft.transaction(
        "org1/watcher", "evidence", "list", contracts_pb2.EvidenceListArguments(validator="")
    )
    result = tbft.executor.query(tbft.reader, transaction, BLOCK_TIME_MS)
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"


# ---- who may send --------------------------------------------------------------------------------


def test_a_consensus_member_may_send_evidence_only(tbft: Chain) -> None:
    result = tbft.run("org1/node1", "kv", "put", contracts_pb2.KvPutArguments(key=b"k", value=b"v"))
    assert status_name(result) == "RESULT_STATUS_PERMISSION_DENIED"
    assert "neither the CLIENT nor ADMIN role" in result.error
    assert "a CONSENSUS member may only send evidence.submit" in result.error
    # Clients and admins may report evidence too; light members may not.
    assert status_name(submit(tbft, equivocation(tbft), "org1/alice")) == "RESULT_STATUS_OK"
    result = submit(tbft, equivocation(tbft, "org1/node3"), "org1/watcher")
    assert status_name(result) == "RESULT_STATUS_PERMISSION_DENIED"


@pytest.mark.parametrize(
    ("sender", "roles", "contract", "method"),
    [
        ("org1/node1", {types_pb2.ROLE_CONSENSUS}, "evidence", "submit"),
        ("org1/node1", {types_pb2.ROLE_CONSENSUS}, "kv", "put"),
        ("org1/node1", {types_pb2.ROLE_CONSENSUS}, "validators", "update"),
        ("org1/node1", {types_pb2.ROLE_CONSENSUS}, "evidence", "list"),
        ("org1/watcher", {types_pb2.ROLE_LIGHT}, "evidence", "submit"),
        ("org1/alice", {types_pb2.ROLE_CLIENT}, "kv", "put"),
    ],
)
def test_the_executor_applies_may_send(
    tbft: Chain, sender: str, roles: set[int], contract: str, method: str
) -> None:
    assert set(tbft.identity(sender).member.roles) == roles
    result = tbft.run(sender, contract, method, b"")
    denied = status_name(result) == "RESULT_STATUS_PERMISSION_DENIED"
    assert denied == (not may_send(roles, contract, method)), result.error
