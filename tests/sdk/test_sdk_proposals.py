"""The SDK's proposals (``client.proposals``) against the real executor behind a node double:
each organisation's admin signs with its own identity; drafts are read and checked; an execution
whose call fails answers ``executed`` false with the reason; bad input is refused before
anything is sent. Blocking and asyncio, the same operations."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from google.protobuf.message import Message

_EXECUTION_TESTS = str(Path(__file__).resolve().parent.parent / "execution")
if _EXECUTION_TESTS not in sys.path:
    sys.path.insert(0, _EXECUTION_TESTS)

from execution_chain import Chain, build_kit, default_config, new_chain  # noqa: E402

from causeway.contracts.v1 import contracts_pb2, proposals_pb2  # noqa: E402
from causeway.errors import (  # noqa: E402
    ConfigurationError,
    DecodeError,
    RequestError,
    TransactionFailedError,
)
from causeway.execution.keys import CONFIG_KEY  # noqa: E402
from causeway.sdk import Identity, SubmitResult  # noqa: E402
from causeway.sdk.proposals import (  # noqa: E402
    DAY_MS,
    AsyncProposals,
    Proposals,
    deadline_ms_after,
    load_proposal_draft,
)
from causeway.types import decode_transaction, encode  # noqa: E402
from causeway.types.proposal_draft import (  # noqa: E402
    DraftCall,
    ProposalDraft,
    proposal_draft_text,
)
from causeway.types.v1 import types_pb2  # noqa: E402


@dataclass
class ExecutorNode:
    """A ProposalNode whose transactions run in the executor, one block each, at the wall
    clock's time (the SDK's deadlines are wall-clock days)."""

    chain: Chain
    identity: Identity | None = None
    submitted: list[types_pb2.TransactionBody] = field(default_factory=list)

    def chain_id(self) -> str:
        return "test-chain"

    def evaluate(
        self, contract: str, method: str, arguments: Message | bytes
    ) -> types_pb2.TransactionResult:
        transaction = self.chain.transaction(
            "org2/bob", contract, method, arguments, expiry_ms=_now() + 60_000
        )
        return self.chain.executor.query(
            self.chain.reader, transaction, _now(), height=self.chain.height + 1
        )

    def submit(
        self, transaction: types_pb2.Transaction, *, wait: bool = True, timeout_s: float = 30.0
    ) -> SubmitResult:
        self.submitted.append(types_pb2.TransactionBody.FromString(transaction.body))
        decoded = decode_transaction(
            encode(transaction), hash_function=self.chain.kit.profile.hash, bytes_max=1 << 24
        )
        result = self.chain.commit([decoded], time_ms=_now()).results[0]
        return SubmitResult(
            transaction_id=decoded.id, height=self.chain.height, result=result, committed=True
        )


class AsyncExecutorNode:
    def __init__(self, node: ExecutorNode) -> None:
        self.node = node
        self.identity = node.identity

    async def chain_id(self) -> str:
        return self.node.chain_id()

    async def evaluate(
        self, contract: str, method: str, arguments: Message | bytes
    ) -> types_pb2.TransactionResult:
        return self.node.evaluate(contract, method, arguments)

    async def submit(
        self, transaction: types_pb2.Transaction, *, wait: bool = True, timeout_s: float = 30.0
    ) -> SubmitResult:
        return self.node.submit(transaction, wait=wait, timeout_s=timeout_s)


def _now() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
def node() -> ExecutorNode:
    return ExecutorNode(new_chain(build_kit("intl")))


def admin(node: ExecutorNode, member_id: str) -> Identity:
    """The member's own identity, as its organisation's machine holds it."""
    return Identity(member_id, node.chain.kit.identities[member_id].key, "intl", "test-chain")


def config_change(endorsements_max: int) -> tuple[str, str, Message]:
    config = default_config()
    config.endorsements_max = endorsements_max
    return ("config", "update", contracts_pb2.ConfigUpdateArguments(config=config))


def endorsements_max(node: ExecutorNode) -> int:
    return types_pb2.ChainConfig.FromString(node.chain.state[CONFIG_KEY]).endorsements_max


def test_each_admin_signs_with_its_own_identity(node: ExecutorNode) -> None:
    proposals = Proposals(node)
    proposal_id = proposals.create(
        "Raise the endorsement limit",
        [config_change(5)],
        vote_yes=True,
        identity=admin(node, "org1/admin"),
    )
    assert proposal_id == 1
    shown = proposals.get(proposal_id)
    assert not shown.policy_met and list(shown.counted_yes) == ["org1"]
    proposals.vote(proposal_id, identity=admin(node, "org2/admin"))
    assert proposals.get(proposal_id).policy_met
    execution = proposals.execute(proposal_id, identity=admin(node, "org2/admin"))
    assert execution.executed and execution.proposal_id == 1 and execution.height == 3
    assert endorsements_max(node) == 5
    assert [body.sender for body in node.submitted] == ["org1/admin", "org2/admin", "org2/admin"]
    deadline = proposals.get(proposal_id).proposal.deadline_ms
    assert abs(deadline - (_now() + 7 * DAY_MS)) < 60_000
    assert [p.id for p in proposals.list("executed")] == [1]
    assert proposals.list("open") == []


def test_a_failed_call_answers_not_executed_with_the_reason(node: ExecutorNode) -> None:
    proposals = Proposals(node)
    remove = contracts_pb2.MembershipRemoveMemberArguments(member_id="org1/nobody")
    proposal_id = proposals.create(
        "Two calls",
        [config_change(5), ("membership", "remove_member", remove)],
        vote_yes=True,
        identity=admin(node, "org1/admin"),
    )
    proposals.vote(proposal_id, identity=admin(node, "org2/admin"))
    execution = proposals.execute(proposal_id, identity=admin(node, "org1/admin"))
    assert not execution.executed and execution.failed_call == 1
    assert "org1/nobody" in execution.failure
    assert endorsements_max(node) == default_config().endorsements_max
    assert [p.id for p in proposals.list("failed")] == [proposal_id]


def test_refusals_raise_with_the_contract_message(node: ExecutorNode) -> None:
    proposals = Proposals(node)
    with pytest.raises(TransactionFailedError, match="only an organisation's ADMIN"):
        proposals.create("t", [config_change(5)], identity=admin(node, "org2/bob"))
    proposal_id = proposals.create("t", [config_change(5)], identity=admin(node, "org1/admin"))
    with pytest.raises(TransactionFailedError, match="ENDORSEMENT_POLICY_NOT_SATISFIED"):
        proposals.execute(proposal_id, identity=admin(node, "org1/admin"))
    with pytest.raises(TransactionFailedError, match="no proposal 9"):
        proposals.get(9)


def test_the_creating_organisation_withdraws_and_anyone_closes_a_rejected_one(
    node: ExecutorNode,
) -> None:
    proposals = Proposals(node)
    withdrawn = proposals.create("t", [config_change(5)], identity=admin(node, "org1/admin"))
    with pytest.raises(TransactionFailedError, match="only an admin of the organisation"):
        proposals.withdraw(withdrawn, identity=admin(node, "org2/admin"))
    outcome = proposals.withdraw(withdrawn, identity=admin(node, "org1/admin"))
    assert outcome.result is not None and outcome.result.events[0].name == "withdrawn"
    assert proposals.get(withdrawn).proposal.status == proposals_pb2.PROPOSAL_STATUS_WITHDRAWN
    rejected = proposals.create(
        "t", [config_change(6)], vote_yes=True, identity=admin(node, "org1/admin")
    )
    with pytest.raises(TransactionFailedError, match="cannot be closed as rejected"):
        proposals.close(rejected, identity=admin(node, "org2/bob"))
    # Two organisations under MAJORITY: one no leaves too few.
    proposals.vote(rejected, False, identity=admin(node, "org2/admin"))
    assert proposals.get(rejected).rejectable
    proposals.close(rejected, identity=admin(node, "org2/bob"))
    assert [p.id for p in proposals.list("withdrawn")] == [withdrawn]
    assert [p.id for p in proposals.list("rejected")] == [rejected]
    assert proposals.list("open") == []


def test_bad_input_is_refused_before_anything_is_sent(node: ExecutorNode) -> None:
    proposals = Proposals(node)
    signer = admin(node, "org1/admin")
    with pytest.raises(RequestError, match="an hour"):
        proposals.create("t", [config_change(5)], deadline_days=0.01, identity=signer)
    with pytest.raises(RequestError, match="90 days away"):
        proposals.create("t", [config_change(5)], deadline_days=91, identity=signer)
    with pytest.raises(DecodeError, match="at least one call"):
        proposals.create("t", [], identity=signer)
    with pytest.raises(RequestError, match="unknown proposal status 'done'"):
        proposals.list("done")
    with pytest.raises(RequestError, match="limit must be positive"):
        proposals.list(limit=0)
    with pytest.raises(ConfigurationError, match="no identity"):
        proposals.vote(1)
    assert node.submitted == []


def test_a_draft_file_is_loaded_and_created(node: ExecutorNode, tmp_path: Path) -> None:
    _, _, arguments = config_change(6)
    draft = ProposalDraft(
        title="From a draft",
        description="written by another organisation",
        calls=(DraftCall("config", "update", arguments.SerializeToString()),),
    )
    path = tmp_path / "draft.json"
    path.write_text(proposal_draft_text(draft))
    assert load_proposal_draft(path) == draft
    proposals = Proposals(node)
    proposal_id = proposals.create_from_draft(
        load_proposal_draft(path), vote_yes=True, identity=admin(node, "org1/admin")
    )
    stored = proposals.get(proposal_id).proposal
    assert stored.title == "From a draft"
    assert stored.calls[0].arguments == arguments.SerializeToString()
    path.write_text('{"version": 1}')
    with pytest.raises(DecodeError, match=r"draft\.json: missing key"):
        load_proposal_draft(path)
    with pytest.raises(RequestError, match="cannot read"):
        load_proposal_draft(tmp_path / "absent.json")


def test_the_asyncio_proposals_do_the_same(node: ExecutorNode) -> None:
    async def walk() -> None:
        proposals = AsyncProposals(AsyncExecutorNode(node))
        proposal_id = await proposals.create(
            "Async", [config_change(7)], vote_yes=True, identity=admin(node, "org1/admin")
        )
        await proposals.vote(proposal_id, identity=admin(node, "org2/admin"))
        assert (await proposals.get(proposal_id)).policy_met
        execution = await proposals.execute(proposal_id, identity=admin(node, "org2/admin"))
        assert execution.executed
        assert [p.id for p in await proposals.list(limit=1)] == [proposal_id]
        withdrawn = await proposals.create(
            "Withdrawn", [config_change(8)], identity=admin(node, "org1/admin")
        )
        await proposals.withdraw(withdrawn, identity=admin(node, "org1/admin"))
        rejected = await proposals.create(
            "Rejected", [config_change(9)], identity=admin(node, "org1/admin")
        )
        await proposals.vote(rejected, False, identity=admin(node, "org2/admin"))
        await proposals.close(rejected, identity=admin(node, "org2/bob"))
        assert [p.status for p in await proposals.list(start_after=proposal_id)] == [
            proposals_pb2.PROPOSAL_STATUS_WITHDRAWN,
            proposals_pb2.PROPOSAL_STATUS_REJECTED,
        ]

    asyncio.run(walk())
    assert endorsements_max(node) == 7


def test_deadlines_are_days_from_now() -> None:
    assert deadline_ms_after(7, 1_000) == 1_000 + 7 * DAY_MS
    assert deadline_ms_after(1 / 24, 0) == 3_600_000


def test_clients_have_proposals() -> None:
    from causeway.sdk import AsyncClient, Client  # noqa: PLC0415

    with Client("127.0.0.1:1") as client:
        assert isinstance(client.proposals, Proposals)

    async def asynchronous() -> None:
        async with AsyncClient("127.0.0.1:1") as client:
            assert isinstance(client.proposals, AsyncProposals)

    asyncio.run(asynchronous())
