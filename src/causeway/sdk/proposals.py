"""Governance proposals from the SDK: ``client.proposals`` (``Proposals`` over a ``Client``,
``AsyncProposals`` over an ``AsyncClient``; the same names, awaited).

A proposal is stored on chain (the ``proposals`` system contract, see
causeway.execution.contracts.proposals): ``create`` stores its calls with a deadline, each
organisation's admin ``vote``s from its own machine with its own identity, and once the
organisations that voted yes satisfy the governance policy anyone ``execute``s it. An admin of the
organisation that created a proposal may ``withdraw`` it; once the organisations that voted no
make the policy impossible to meet, anyone may ``close`` it as rejected. ``get`` answers the
proposal with whether the policy is met now (and whether it may be closed now); ``list`` pages
through them.

A PROPOSAL DRAFT file (causeway.types.proposal_draft) is read with ``load_proposal_draft`` and
created with ``create_from_draft``.

A transaction that commits with a failed status raises ``TransactionFailedError``. An execution
whose call failed is not such a failure: the chain records it, and ``execute`` answers an
``Execution`` with ``executed`` false and the reason.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from google.protobuf.message import Message

from causeway.contracts.v1 import proposals_pb2
from causeway.errors import ConfigurationError, DecodeError, LimitExceededError, RequestError
from causeway.sdk.contracts import committed, succeeded
from causeway.sdk.identity import Identity
from causeway.sdk.transactions import SubmitResult
from causeway.types import build_transaction, decode
from causeway.types.proposal_draft import (
    PROPOSAL_DRAFT_BYTES_MAX,
    DraftCall,
    ProposalDraft,
    check_proposal_calls,
    check_proposal_text,
    parse_proposal_draft,
)
from causeway.types.v1 import types_pb2

PROPOSALS_CONTRACT = "proposals"
DAY_MS = 24 * 3_600_000
DEADLINE_DAYS_DEFAULT = 7.0
# The contract's bounds on a deadline, from its creation block (checked again on chain).
DEADLINE_DAYS_MIN = 1 / 24
DEADLINE_DAYS_MAX = 90.0
TIMEOUT_S_DEFAULT = 30.0
# One page of proposals.list (the contract's own maximum is 200) and a bound on pages read.
LIST_PAGE_MAX = 200
LIST_PAGES_MAX = 1_000
# A page of 200 proposals of at most ~4 MiB each would be more than any client accepts: the
# client's own message bound applies first; this bounds decoding.
RESULT_BYTES_MAX = 64 * 1024 * 1024

STATUS_NAMES: dict[int, str] = {
    proposals_pb2.PROPOSAL_STATUS_OPEN: "open",
    proposals_pb2.PROPOSAL_STATUS_EXECUTED: "executed",
    proposals_pb2.PROPOSAL_STATUS_FAILED: "failed",
    proposals_pb2.PROPOSAL_STATUS_EXPIRED: "expired",
    proposals_pb2.PROPOSAL_STATUS_WITHDRAWN: "withdrawn",
    proposals_pb2.PROPOSAL_STATUS_REJECTED: "rejected",
}
_STATUS_BY_NAME: dict[str, proposals_pb2.ProposalStatus.ValueType] = {
    "open": proposals_pb2.PROPOSAL_STATUS_OPEN,
    "executed": proposals_pb2.PROPOSAL_STATUS_EXECUTED,
    "failed": proposals_pb2.PROPOSAL_STATUS_FAILED,
    "expired": proposals_pb2.PROPOSAL_STATUS_EXPIRED,
    "withdrawn": proposals_pb2.PROPOSAL_STATUS_WITHDRAWN,
    "rejected": proposals_pb2.PROPOSAL_STATUS_REJECTED,
}


class ProposalNode(Protocol):
    identity: Identity | None

    def chain_id(self) -> str: ...

    def evaluate(
        self, contract: str, method: str, arguments: Message | bytes
    ) -> types_pb2.TransactionResult: ...

    def submit(
        self, transaction: types_pb2.Transaction, *, wait: bool = True, timeout_s: float = ...
    ) -> SubmitResult: ...


class AsyncProposalNode(Protocol):
    identity: Identity | None

    async def chain_id(self) -> str: ...

    async def evaluate(
        self, contract: str, method: str, arguments: Message | bytes
    ) -> types_pb2.TransactionResult: ...

    async def submit(
        self, transaction: types_pb2.Transaction, *, wait: bool = True, timeout_s: float = ...
    ) -> SubmitResult: ...


@dataclass(frozen=True, slots=True)
class Execution:
    """What an execute transaction did: ``executed`` (every call ran), or the call that failed
    (``failed_call``) and why (``failure``); the chain keeps either.

    Example:

        execution = client.proposals.execute(proposal_id)
        if not execution.executed:
            print(f"call {execution.failed_call} failed: {execution.failure}")
    """

    proposal_id: int
    executed: bool
    failed_call: int
    failure: str
    return_values: tuple[bytes, ...]
    transaction_id: bytes
    height: int
    result: types_pb2.TransactionResult


# ------------------------------------------------------------------------------ pure helpers


def status_name(status: int) -> str:
    """``open``, ``executed``, ``failed``, ``expired``, ``withdrawn`` or ``rejected``."""
    return STATUS_NAMES.get(status, str(status))


def parse_status(name: str | None) -> proposals_pb2.ProposalStatus.ValueType:
    """A list filter from its name (None: every status); RequestError naming the known ones."""
    if name is None:
        return proposals_pb2.PROPOSAL_STATUS_UNSPECIFIED
    status = _STATUS_BY_NAME.get(name)
    if status is None:
        raise RequestError(
            f"unknown proposal status {name!r}; known: {', '.join(_STATUS_BY_NAME)}",
            reason="invalid_argument",
        )
    return status


def load_proposal_draft(path: Path) -> ProposalDraft:
    """A PROPOSAL DRAFT file, read (at most PROPOSAL_DRAFT_BYTES_MAX bytes) and checked.

    Example:

        draft = load_proposal_draft(Path("join-org3.draft"))
        proposal_id = client.proposals.create_from_draft(draft, vote_yes=True)
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(PROPOSAL_DRAFT_BYTES_MAX + 1)
    except OSError as error:
        raise RequestError(f"cannot read {path}: {error}") from None
    if len(data) > PROPOSAL_DRAFT_BYTES_MAX:
        raise LimitExceededError(f"{path} is larger than the limit of {PROPOSAL_DRAFT_BYTES_MAX}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DecodeError(f"{path} is not UTF-8 text: {error}") from None
    return parse_proposal_draft(text, str(path))


def deadline_ms_after(days: float, now_ms: int) -> int:
    """The deadline `days` after `now_ms`; RequestError outside the contract's bounds."""
    if not DEADLINE_DAYS_MIN <= days <= DEADLINE_DAYS_MAX:
        raise RequestError(
            f"a deadline of {days:g} days: it must be an hour ({DEADLINE_DAYS_MIN:.4f} days) to "
            f"{DEADLINE_DAYS_MAX:g} days away",
            reason="invalid_argument",
        )
    return now_ms + round(days * DAY_MS)


def create_arguments(
    draft: ProposalDraft, deadline_ms: int, *, vote_yes: bool
) -> proposals_pb2.ProposalsCreateArguments:
    """The arguments of proposals.create, checked as the contract checks them."""
    check_proposal_text(draft.title, draft.description)
    check_proposal_calls(draft.calls)
    return proposals_pb2.ProposalsCreateArguments(
        title=draft.title,
        description=draft.description,
        calls=[
            proposals_pb2.ProposalCall(
                contract=call.contract, method=call.method, arguments=call.arguments
            )
            for call in draft.calls
        ],
        deadline_ms=deadline_ms,
        vote_yes=vote_yes,
    )


def draft_of(
    title: str, calls: Sequence[DraftCall | tuple[str, str, Message | bytes]], description: str
) -> ProposalDraft:
    """A draft from calls given as DraftCall or (contract, method, arguments message or bytes)."""
    converted: list[DraftCall] = []
    for call in calls:
        if isinstance(call, DraftCall):
            converted.append(call)
            continue
        contract, method, arguments = call
        data = arguments if isinstance(arguments, bytes) else arguments.SerializeToString()
        converted.append(DraftCall(contract, method, data))
    return ProposalDraft(title=title, description=description, calls=tuple(converted))


def created_id(outcome: SubmitResult, timeout_s: float) -> int:
    committed(outcome, PROPOSALS_CONTRACT, "create", timeout_s)
    assert outcome.result is not None
    return decode(proposals_pb2.ProposalsCreateResult, outcome.result.return_value, bytes_max=64).id


def execution_of(outcome: SubmitResult, timeout_s: float) -> Execution:
    committed(outcome, PROPOSALS_CONTRACT, "execute", timeout_s)
    assert outcome.result is not None
    answer = decode(
        proposals_pb2.ProposalsExecuteResult,
        outcome.result.return_value,
        bytes_max=RESULT_BYTES_MAX,
    )
    return Execution(
        proposal_id=answer.id,
        executed=answer.status == proposals_pb2.PROPOSAL_STATUS_EXECUTED,
        failed_call=answer.failed_call,
        failure=answer.failure,
        return_values=tuple(answer.return_values),
        transaction_id=outcome.transaction_id,
        height=outcome.height,
        result=outcome.result,
    )


def get_result(result: types_pb2.TransactionResult) -> proposals_pb2.ProposalsGetResult:
    succeeded(result, PROPOSALS_CONTRACT, "get")
    return decode(proposals_pb2.ProposalsGetResult, result.return_value, bytes_max=RESULT_BYTES_MAX)


def list_result(result: types_pb2.TransactionResult) -> proposals_pb2.ProposalsListResult:
    succeeded(result, PROPOSALS_CONTRACT, "list")
    return decode(
        proposals_pb2.ProposalsListResult, result.return_value, bytes_max=RESULT_BYTES_MAX
    )


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise RequestError(f"limit must be positive, not {limit}", reason="invalid_argument")


def signer(node: ProposalNode | AsyncProposalNode, identity: Identity | None) -> Identity:
    chosen = identity if identity is not None else node.identity
    if chosen is None:
        raise ConfigurationError("no identity to sign the transaction with")
    return chosen


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


# ------------------------------------------------------------------------------ sync


class Proposals:
    """The governance proposals of one ``Client`` (``client.proposals``).

    Example:

        admin = Identity.load("net/organisations/org1/members/admin")
        with Client("127.0.0.1:7050", admin) as client:
            calls = [("code", "freeze", CodeNameArguments(name="tally"))]
            proposal_id = client.proposals.create("Freeze tally", calls, vote_yes=True)
    """

    def __init__(self, node: ProposalNode) -> None:
        self._node = node

    def _send(
        self, method: str, arguments: Message, identity: Identity | None, timeout_s: float
    ) -> SubmitResult:
        transaction = build_transaction(
            signer(self._node, identity),
            self._node.chain_id(),
            PROPOSALS_CONTRACT,
            method,
            arguments,
        )
        return self._node.submit(transaction, wait=True, timeout_s=timeout_s)

    def create(
        self,
        title: str,
        calls: Sequence[DraftCall | tuple[str, str, Message | bytes]],
        *,
        description: str = "",
        deadline_days: float = DEADLINE_DAYS_DEFAULT,
        vote_yes: bool = False,
        identity: Identity | None = None,
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> int:
        """Creates a proposal (signed by an admin) and answers its id; with ``vote_yes`` the
        admin's organisation votes yes at once.

        Example:

            calls = [("code", "freeze", CodeNameArguments(name="tally"))]
            proposal_id = client.proposals.create(
                "Freeze tally", calls, description="It misbehaves.", deadline_days=3, vote_yes=True
            )
        """
        return self.create_from_draft(
            draft_of(title, calls, description),
            deadline_days=deadline_days,
            vote_yes=vote_yes,
            identity=identity,
            timeout_s=timeout_s,
        )

    def create_from_draft(
        self,
        draft: ProposalDraft,
        *,
        deadline_days: float = DEADLINE_DAYS_DEFAULT,
        vote_yes: bool = False,
        identity: Identity | None = None,
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> int:
        """``create`` from a PROPOSAL DRAFT (``load_proposal_draft``): its title, description
        and calls; the new proposal's id.

        Example:

            draft = load_proposal_draft(Path("join-org3.draft"))
            proposal_id = client.proposals.create_from_draft(draft, deadline_days=3)
        """
        arguments = create_arguments(
            draft, deadline_ms_after(deadline_days, _now_ms()), vote_yes=vote_yes
        )
        return created_id(self._send("create", arguments, identity, timeout_s), timeout_s)

    def vote(
        self,
        proposal_id: int,
        yes: bool = True,
        *,
        identity: Identity | None = None,
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> SubmitResult:
        """The signing admin's organisation votes (a later vote replaces it).

        Example:

            client.proposals.vote(proposal_id)  # yes
            client.proposals.vote(proposal_id, yes=False)  # changes it to no
        """
        arguments = proposals_pb2.ProposalsVoteArguments(id=proposal_id, yes=yes)
        outcome = self._send("vote", arguments, identity, timeout_s)
        committed(outcome, PROPOSALS_CONTRACT, "vote", timeout_s)
        return outcome

    def execute(
        self,
        proposal_id: int,
        *,
        identity: Identity | None = None,
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> Execution:
        """Sends the transaction executing ``proposal_id``'s calls and answers what it did, once
        committed.

        Example:

            execution = client.proposals.execute(proposal_id)
            print(execution.executed, execution.height)
        """
        arguments = proposals_pb2.ProposalsExecuteArguments(id=proposal_id)
        return execution_of(self._send("execute", arguments, identity, timeout_s), timeout_s)

    def withdraw(
        self,
        proposal_id: int,
        *,
        identity: Identity | None = None,
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> SubmitResult:
        """Withdraws an open proposal (signed by an admin of the organisation that created
        it): it ends WITHDRAWN and frees its place.

        Example:

            client.proposals.withdraw(proposal_id)
        """
        arguments = proposals_pb2.ProposalsWithdrawArguments(id=proposal_id)
        outcome = self._send("withdraw", arguments, identity, timeout_s)
        committed(outcome, PROPOSALS_CONTRACT, "withdraw", timeout_s)
        return outcome

    def close(
        self,
        proposal_id: int,
        *,
        identity: Identity | None = None,
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> SubmitResult:
        """Closes an open proposal as REJECTED (any member): the chain refuses unless the
        organisations that voted no leave too few others to meet the governance policy
        (``get(...).rejectable``).

        Example:

            if client.proposals.get(proposal_id).rejectable:
                client.proposals.close(proposal_id)
        """
        arguments = proposals_pb2.ProposalsCloseArguments(id=proposal_id)
        outcome = self._send("close", arguments, identity, timeout_s)
        committed(outcome, PROPOSALS_CONTRACT, "close", timeout_s)
        return outcome

    def get(self, proposal_id: int) -> proposals_pb2.ProposalsGetResult:
        """The proposal, the yes votes that count now and whether they meet the policy now.

        Example:

            answer = client.proposals.get(proposal_id)
            print(answer.proposal.title, list(answer.counted_yes), answer.policy_met)
        """
        arguments = proposals_pb2.ProposalsGetArguments(id=proposal_id)
        return get_result(self._node.evaluate(PROPOSALS_CONTRACT, "get", arguments))

    def list(
        self, status: str | None = None, *, start_after: int = 0, limit: int | None = None
    ) -> builtins.list[proposals_pb2.Proposal]:
        """Proposals by id after ``start_after``, of one status (``open``, ``executed``,
        ``failed``, ``expired``) or all; at most ``limit`` (None: every one).

        Example:

            for proposal in client.proposals.list("open"):
                print(proposal.id, proposal.title, proposal.deadline_ms)
        """
        _check_limit(limit)
        wanted = parse_status(status)
        found: builtins.list[proposals_pb2.Proposal] = []
        for _ in range(LIST_PAGES_MAX):
            page_limit = LIST_PAGE_MAX if limit is None else min(LIST_PAGE_MAX, limit - len(found))
            arguments = proposals_pb2.ProposalsListArguments(
                status=wanted, start_after=start_after, limit=page_limit
            )
            page = list_result(self._node.evaluate(PROPOSALS_CONTRACT, "list", arguments))
            found.extend(page.proposals)
            if not page.next_start_after or (limit is not None and len(found) >= limit):
                break
            start_after = page.next_start_after
        return found


# ------------------------------------------------------------------------------ async


class AsyncProposals:
    """``Proposals`` of an ``AsyncClient``: the same operations, awaited.

    Example:

        calls = [("code", "freeze", CodeNameArguments(name="tally"))]
        proposal_id = await client.proposals.create("Freeze tally", calls, vote_yes=True)
        await org2_client.proposals.vote(proposal_id)
    """

    def __init__(self, node: AsyncProposalNode) -> None:
        self._node = node

    async def _send(
        self, method: str, arguments: Message, identity: Identity | None, timeout_s: float
    ) -> SubmitResult:
        transaction = build_transaction(
            signer(self._node, identity),
            await self._node.chain_id(),
            PROPOSALS_CONTRACT,
            method,
            arguments,
        )
        return await self._node.submit(transaction, wait=True, timeout_s=timeout_s)

    async def create(
        self,
        title: str,
        calls: Sequence[DraftCall | tuple[str, str, Message | bytes]],
        *,
        description: str = "",
        deadline_days: float = DEADLINE_DAYS_DEFAULT,
        vote_yes: bool = False,
        identity: Identity | None = None,
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> int:
        """``Proposals.create``, awaited.

        Example:

            calls = [("code", "freeze", CodeNameArguments(name="tally"))]
            proposal_id = await client.proposals.create(
                "Freeze tally", calls, description="It misbehaves.", deadline_days=3, vote_yes=True
            )
        """
        return await self.create_from_draft(
            draft_of(title, calls, description),
            deadline_days=deadline_days,
            vote_yes=vote_yes,
            identity=identity,
            timeout_s=timeout_s,
        )

    async def create_from_draft(
        self,
        draft: ProposalDraft,
        *,
        deadline_days: float = DEADLINE_DAYS_DEFAULT,
        vote_yes: bool = False,
        identity: Identity | None = None,
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> int:
        """``create`` from a PROPOSAL DRAFT (``load_proposal_draft``): its title, description
        and calls; the new proposal's id.

        Example:

            draft = load_proposal_draft(Path("join-org3.draft"))
            proposal_id = await client.proposals.create_from_draft(draft, deadline_days=3)
        """
        arguments = create_arguments(
            draft, deadline_ms_after(deadline_days, _now_ms()), vote_yes=vote_yes
        )
        return created_id(await self._send("create", arguments, identity, timeout_s), timeout_s)

    async def vote(
        self,
        proposal_id: int,
        yes: bool = True,
        *,
        identity: Identity | None = None,
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> SubmitResult:
        """``Proposals.vote``, awaited.

        Example:

            await client.proposals.vote(proposal_id)  # yes
            await client.proposals.vote(proposal_id, yes=False)  # changes it to no
        """
        arguments = proposals_pb2.ProposalsVoteArguments(id=proposal_id, yes=yes)
        outcome = await self._send("vote", arguments, identity, timeout_s)
        committed(outcome, PROPOSALS_CONTRACT, "vote", timeout_s)
        return outcome

    async def execute(
        self,
        proposal_id: int,
        *,
        identity: Identity | None = None,
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> Execution:
        """Sends the transaction executing ``proposal_id``'s calls and answers what it did, once
        committed.

        Example:

            execution = await client.proposals.execute(proposal_id)
            print(execution.executed, execution.height)
        """
        arguments = proposals_pb2.ProposalsExecuteArguments(id=proposal_id)
        return execution_of(await self._send("execute", arguments, identity, timeout_s), timeout_s)

    async def withdraw(
        self,
        proposal_id: int,
        *,
        identity: Identity | None = None,
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> SubmitResult:
        """``Proposals.withdraw``, awaited.

        Example:

            await client.proposals.withdraw(proposal_id)
        """
        arguments = proposals_pb2.ProposalsWithdrawArguments(id=proposal_id)
        outcome = await self._send("withdraw", arguments, identity, timeout_s)
        committed(outcome, PROPOSALS_CONTRACT, "withdraw", timeout_s)
        return outcome

    async def close(
        self,
        proposal_id: int,
        *,
        identity: Identity | None = None,
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> SubmitResult:
        """``Proposals.close``, awaited.

        Example:

            if (await client.proposals.get(proposal_id)).rejectable:
                await client.proposals.close(proposal_id)
        """
        arguments = proposals_pb2.ProposalsCloseArguments(id=proposal_id)
        outcome = await self._send("close", arguments, identity, timeout_s)
        committed(outcome, PROPOSALS_CONTRACT, "close", timeout_s)
        return outcome

    async def get(self, proposal_id: int) -> proposals_pb2.ProposalsGetResult:
        """``Proposals.get``, awaited.

        Example:

            answer = await client.proposals.get(proposal_id)
            print(answer.proposal.title, list(answer.counted_yes), answer.policy_met)
        """
        arguments = proposals_pb2.ProposalsGetArguments(id=proposal_id)
        return get_result(await self._node.evaluate(PROPOSALS_CONTRACT, "get", arguments))

    async def list(
        self, status: str | None = None, *, start_after: int = 0, limit: int | None = None
    ) -> builtins.list[proposals_pb2.Proposal]:
        """``Proposals.list``, awaited.

        Example:

            for proposal in await client.proposals.list("open"):
                print(proposal.id, proposal.title, proposal.deadline_ms)
        """
        _check_limit(limit)
        wanted = parse_status(status)
        found: builtins.list[proposals_pb2.Proposal] = []
        for _ in range(LIST_PAGES_MAX):
            page_limit = LIST_PAGE_MAX if limit is None else min(LIST_PAGE_MAX, limit - len(found))
            arguments = proposals_pb2.ProposalsListArguments(
                status=wanted, start_after=start_after, limit=page_limit
            )
            page = list_result(await self._node.evaluate(PROPOSALS_CONTRACT, "list", arguments))
            found.extend(page.proposals)
            if not page.next_start_after or (limit is not None and len(found) >= limit):
                break
            start_after = page.next_start_after
        return found
