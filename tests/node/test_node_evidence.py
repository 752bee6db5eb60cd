"""Evidence reporting: each equivocation seen becomes one evidence.submit transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from causeway.api.v1 import api_pb2
from causeway.consensus.v1 import consensus_pb2
from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import PrivateKey, get_profile
from causeway.errors import NodeUnavailableError
from causeway.node import evidence as evidence_module
from causeway.node.evidence import EVIDENCE_CONTRACT, EvidenceReporter
from causeway.types import DOMAIN_TRANSACTION, decode_transaction, sign_bytes
from causeway.types.v1 import types_pb2

CHAIN_ID = "evidence-chain"
KEY = PrivateKey.generate("ecdsa-p256")


def equivocation(
    validator: str, height: int, round_number: int = 0
) -> consensus_pb2.DuplicateVoteEvidence:
    vote = consensus_pb2.Vote(
        validator=validator,
        height=height,
        round=round_number,
        type=consensus_pb2.VOTE_TYPE_PREVOTE,
        block_hash=b"a" * 32,
    )
    other = consensus_pb2.Vote()
    other.CopyFrom(vote)
    other.block_hash = b"b" * 32
    return consensus_pb2.DuplicateVoteEvidence(first=vote, second=other)


class Submitter:
    def __init__(self, answer: api_pb2.SubmitResponse | Exception) -> None:
        self.answer = answer
        self.submitted: list[types_pb2.Transaction] = []

    async def __call__(
        self,
        transactions: Sequence[types_pb2.Transaction | bytes],
        wait: bool,
        wait_timeout_ms: int,
    ) -> list[api_pb2.SubmitResponse]:
        assert (wait, wait_timeout_ms) == (False, 0)
        self.submitted.extend(t for t in transactions if isinstance(t, types_pb2.Transaction))
        if isinstance(self.answer, Exception):
            raise self.answer
        return [self.answer]


def reporter(submit: Submitter, seen: list[int], stopping: asyncio.Event) -> EvidenceReporter:
    return EvidenceReporter(
        chain_id=CHAIN_ID,
        member_id="org1/node1",
        key=KEY,
        submit=submit,
        on_evidence=lambda: seen.append(1),
        stopping=stopping,
    )


async def settle(report: EvidenceReporter) -> None:
    await asyncio.gather(*report._tasks)


async def test_an_equivocation_is_reported_once_as_a_signed_evidence_transaction() -> None:
    submit = Submitter(api_pb2.SubmitResponse(accepted=True))
    seen: list[int] = []
    report = reporter(submit, seen, asyncio.Event())
    evidence = equivocation("org2/node2", 7)
    report(evidence)
    report(evidence)  # seen again (from another peer): counted, not reported again
    await settle(report)
    assert len(seen) == 2
    [transaction] = submit.submitted
    decoded = decode_transaction(
        transaction, hash_function=get_profile("intl").hash, bytes_max=1 << 16
    )
    body = decoded.body
    assert (body.chain_id, body.sender, body.contract, body.method) == (
        CHAIN_ID,
        "org1/node1",
        EVIDENCE_CONTRACT,
        "submit",
    )
    assert contracts_pb2.EvidenceSubmitArguments.FromString(body.arguments).evidence == evidence
    assert KEY.public_key().verify(
        sign_bytes(DOMAIN_TRANSACTION, CHAIN_ID, transaction.body), transaction.signature
    )


async def test_another_round_or_validator_is_another_report() -> None:
    submit = Submitter(api_pb2.SubmitResponse(accepted=True))
    report = reporter(submit, [], asyncio.Event())
    for evidence in (
        equivocation("org2/node2", 7),
        equivocation("org2/node2", 7, 1),
        equivocation("org3/node3", 7),
    ):
        report(evidence)
    await settle(report)
    assert len(submit.submitted) == 3


async def test_the_memory_of_reports_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evidence_module, "EVIDENCE_REPORTED_MAX", 2)
    submit = Submitter(api_pb2.SubmitResponse(accepted=True))
    report = reporter(submit, [], asyncio.Event())
    for height in (1, 2):
        report(equivocation("org2/node2", height))
    assert len(report._reported) == 2  # at the bound
    report(equivocation("org2/node2", 3))  # one past: forgets the older ones
    assert len(report._reported) == 1
    report(equivocation("org2/node2", 1))  # forgotten, so reported again
    await settle(report)
    assert len(submit.submitted) == 4


async def test_nothing_is_reported_while_stopping_and_refusals_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stopping = asyncio.Event()
    stopping.set()
    submit = Submitter(api_pb2.SubmitResponse(accepted=True))
    report = reporter(submit, [], stopping)
    report(equivocation("org2/node2", 7))
    assert not report._tasks and submit.submitted == []

    refused = Submitter(
        api_pb2.SubmitResponse(
            accepted=False, rejection=api_pb2.Rejection(reason="duplicate", message="known")
        )
    )
    failing = Submitter(NodeUnavailableError("the node is shutting down"))
    for submitter in (refused, failing):
        report = reporter(submitter, [], asyncio.Event())
        report(equivocation("org2/node2", 7))
        await settle(report)
    messages = [record.getMessage() for record in caplog.records]
    assert "evidence refused by admission" in messages
    assert "evidence not submitted" in messages
