"""proposals (system): governance on chain, voted by each organisation's admin on its own time.

Endorsed transactions need every admin's key on one machine within one transaction's expiry. A
proposal instead is stored in state with a deadline (an hour to 90 days away), each organisation's
admin votes in a transaction of its own, and once the organisations that voted yes satisfy the
chain's governance policy anyone executes it.

**Lifecycle.** ``create`` (an admin) stores an OPEN proposal with a sequential id, its calls
checked against the rule below (and their arguments decoded as their methods' arguments
messages, Method.arguments, so that a call that could never run is refused before the votes),
and, with ``vote_yes``, its creator's organisation's yes vote.
``vote`` (an admin) records its organisation's vote; a later vote of the same organisation
replaces it. ``execute`` (any member that may send) runs the calls, and the proposal ends
EXECUTED or FAILED, for good: a proposal executes at most once. ``withdraw`` (an admin of the
organisation that created it) ends it WITHDRAWN. ``close`` (any member that may send) ends it
REJECTED once the organisations that voted no make the governance policy impossible to meet:
the organisations that exist now and did not vote no (yes or not at all) cannot satisfy the
policy in force now (identity.evaluate_policy), and at least one organisation voted no. Votes,
execution, withdrawal and closing are refused after the deadline (block time, ms, inclusive)
and once the proposal has ended. An OPEN proposal past its deadline is reported EXPIRED by
``get`` and ``list`` (never stored).

Rejection is a method of its own, ``close``, rather than something ``execute`` does when the
votes fall short: an execute transaction then means one thing (run the calls, or fail with
ENDORSEMENT_POLICY_NOT_SATISFIED and change nothing), so that a member trying to execute a
proposal whose votes are still coming in never ends it by mistake, and closing, which runs no
call, needs no system rights. A close is judged on the votes and organisations of its block: a
no voter may still change its vote, or a new organisation be added, until someone closes.

**Execution.** The yes votes that count are those of organisations that exist *now* (a removed
organisation's vote no longer counts), evaluated against the governance policy in force now
(identity.evaluate_policy); when they do not satisfy it, the transaction fails with
ENDORSEMENT_POLICY_NOT_SATISFIED and nothing changes. Otherwise the calls run in order inside one
savepoint, each in its contract's own context (context.enter: its namespace, grants and checks,
as for any call) whose signing organisations are the yes voters, exactly as if those
organisations had endorsed one transaction making the calls. Each call still checks its own
policy (code's contract policy, for one). When a call fails, every call's writes and events are
rolled back and the proposal is recorded FAILED with the call's index, status and message: the
execute transaction itself succeeds, so that the failure is kept on chain. Running out of the
transaction's gas is the exception: the transaction fails as a whole, nothing is recorded and
the proposal stays OPEN (send it again with more gas, or let it expire).

Within one execution every call sees the configuration as the transaction found it (the
executor's view), and the writes of the calls before it.

**What a proposal may call** (GOVERNANCE_CALLS): the governance methods of the system contracts
and nothing else: config.update; membership.add_organisation, add_member, remove_member,
update_certificate; validators.update; nodes.set_endpoint, remove_endpoint, set_tls_authority,
revoke; code.deploy, upgrade, freeze, unfreeze, revoke; and the
interchain contracts' governance methods when the chain runs them (clients.create, recover,
register_counterparty; packets.bind_port; hub.register). Never ``proposals`` itself (no
recursion, no proposal that votes or executes another), never an application contract or a
read-only method, never a method that moves value (ledger.issue has its own policy).

**Bounds.** PROPOSAL_CALLS_MAX calls of at most PROPOSAL_CALL_ARGUMENTS_BYTES_MAX bytes each, a
title of 1 to PROPOSAL_TITLE_CHARACTERS_MAX characters and a description of at most
PROPOSAL_DESCRIPTION_CHARACTERS_MAX (causeway.types.proposal_draft, shared with the draft file);
at most OPEN_PROPOSALS_MAX proposals open at once, and at most OPEN_PROPOSALS_PER_ORGANISATION_MAX
of them created by one organisation, so that one organisation's admin cannot take every place
(expired, executed, failed, withdrawn and rejected proposals count against neither); a list page
of at most LIST_LIMIT_MAX proposals, scanning at most LIST_SCAN_MAX records.

Events: ``created`` (id, creator, deadline_ms), ``voted`` (id, organisation, vote), ``executed``
(id), ``failed`` (id, call, status, error), ``withdrawn`` (id, organisation, member) and
``rejected`` (id, no); an execution's calls add their own events before it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence

from causeway.contracts.v1 import proposals_pb2
from causeway.errors import InvariantError, RequestError
from causeway.execution.context import TransactionContext, describe_policy, failure, status_of
from causeway.execution.contracts.base import Method, decode_arguments
from causeway.execution.keys import (
    PROPOSAL_OPEN,
    PROPOSAL_RECORD,
    PROPOSALS_NEXT_ID,
    member_key,
    proposal_open,
    proposal_record,
    user_contract_namespace,
)
from causeway.identity import evaluate_policy
from causeway.types import encode
from causeway.types.proposal_draft import (
    DraftCall,
    check_proposal_calls,
    check_proposal_text,
)
from causeway.types.v1 import types_pb2

CONTRACT = "proposals"
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# How far after its creation block a proposal's deadline may be: long enough for admins in other
# time zones, short enough that a forgotten proposal does not wait for years.
DEADLINE_AFTER_CREATION_MIN_MS = HOUR_MS
DEADLINE_AFTER_CREATION_MAX_MS = 90 * DAY_MS
OPEN_PROPOSALS_MAX = 64
# A quarter or less of the places: a single organisation's admin, even one acting against the
# others, leaves most of them to the rest of the consortium.
OPEN_PROPOSALS_PER_ORGANISATION_MAX = 8
LIST_LIMIT_DEFAULT = 50
LIST_LIMIT_MAX = 200
# Records one list call reads at most (a status filter may skip many).
LIST_SCAN_MAX = 1_000

GOVERNANCE_CALLS: frozenset[tuple[str, str]] = frozenset(
    {
        ("config", "update"),
        ("membership", "add_organisation"),
        ("membership", "add_member"),
        ("membership", "remove_member"),
        ("membership", "update_certificate"),
        ("validators", "update"),
        ("nodes", "set_endpoint"),
        ("nodes", "remove_endpoint"),
        ("nodes", "set_tls_authority"),
        ("nodes", "revoke"),
        ("code", "deploy"),
        ("code", "upgrade"),
        ("code", "freeze"),
        ("code", "unfreeze"),
        ("code", "revoke"),
        ("clients", "create"),
        ("clients", "recover"),
        ("clients", "register_counterparty"),
        ("packets", "bind_port"),
        ("hub", "register"),
    }
)

_OPEN = proposals_pb2.PROPOSAL_STATUS_OPEN
_EXECUTED = proposals_pb2.PROPOSAL_STATUS_EXECUTED
_FAILED = proposals_pb2.PROPOSAL_STATUS_FAILED
_EXPIRED = proposals_pb2.PROPOSAL_STATUS_EXPIRED
_WITHDRAWN = proposals_pb2.PROPOSAL_STATUS_WITHDRAWN
_REJECTED = proposals_pb2.PROPOSAL_STATUS_REJECTED
_INVALID = types_pb2.RESULT_STATUS_INVALID_ARGUMENT
_DENIED = types_pb2.RESULT_STATUS_PERMISSION_DENIED
_CONFLICT = types_pb2.RESULT_STATUS_CONFLICT
_NOT_FOUND = types_pb2.RESULT_STATUS_NOT_FOUND
_NUMBER = struct.Struct(">Q")
_STATUS_NAMES = {
    _OPEN: "open",
    _EXECUTED: "executed",
    _FAILED: "failed",
    _EXPIRED: "expired",
    _WITHDRAWN: "withdrawn",
    _REJECTED: "rejected",
}


def _read_number(context: TransactionContext, key: bytes) -> int:
    stored = context.get(key)
    if stored is None:
        return 0
    if len(stored) != _NUMBER.size:
        raise InvariantError(f"proposals state {key!r} is not an 8-byte number")
    number: int = _NUMBER.unpack(stored)[0]
    return number


def _require_direct(context: TransactionContext, action: str) -> None:
    """A vote speaks for the sender's organisation: only the transaction's own call may cast it
    (or create, execute, withdraw or close a proposal), never a contract the sender called, which
    could do so without the sender meaning it."""
    if context.caller is not None:
        raise failure(
            _DENIED,
            f"proposals may not {action} when called by contract {context.caller}: send a "
            "transaction to the proposals contract",
        )


def _require_admin(context: TransactionContext, action: str) -> None:
    if not context.sender.is_admin:
        raise failure(
            _DENIED,
            f"{context.sender.id} may not {action}: only an organisation's ADMIN member may "
            "(each organisation votes through its own admin)",
        )


def _load(context: TransactionContext, proposal_id: int) -> proposals_pb2.Proposal:
    if proposal_id <= 0:
        raise failure(_INVALID, "a proposal id is a positive number")
    stored = context.get(proposal_record(proposal_id))
    if stored is None:
        raise failure(_NOT_FOUND, f"there is no proposal {proposal_id}")
    return proposals_pb2.Proposal.FromString(stored)


def _save(context: TransactionContext, proposal: proposals_pb2.Proposal) -> None:
    context.put(proposal_record(proposal.id), encode(proposal))


def _require_open(context: TransactionContext, proposal: proposals_pb2.Proposal, what: str) -> None:
    """CONFLICT once the proposal has ended or its deadline has passed."""
    if proposal.status != _OPEN:
        raise failure(
            _CONFLICT,
            f"proposal {proposal.id} is {_STATUS_NAMES.get(proposal.status, 'ended')} already "
            f"(at height {proposal.executed_height}): it cannot {what}",
        )
    if context.time_ms > proposal.deadline_ms:
        raise failure(
            _CONFLICT,
            f"proposal {proposal.id}'s deadline {proposal.deadline_ms} ms has passed (block time "
            f"{context.time_ms} ms): it cannot {what}",
        )


def _check_call_target(
    context: TransactionContext, call: proposals_pb2.ProposalCall, index: int
) -> None:
    where = f"call {index} ({call.contract}.{call.method})"
    if call.contract == CONTRACT:
        raise failure(_INVALID, f"{where}: a proposal may not call the proposals contract")
    if (call.contract, call.method) not in GOVERNANCE_CALLS:
        allowed = ", ".join(f"{contract}.{method}" for contract, method in sorted(GOVERNANCE_CALLS))
        raise failure(
            _INVALID,
            f"{where}: a proposal may only call system contracts' governance methods ({allowed})",
        )
    resolve = context.resolve_contract
    try:
        target = resolve(call.contract) if resolve is not None else None
    except RequestError:
        # A frozen or revoked user contract of that name: not a system contract either.
        target = None
    # On a chain that does not run the interchain contracts, a user contract may bear one of
    # their names (hub, clients, packets): it is an application contract all the same.
    if (
        target is None
        or target.namespace == user_contract_namespace(call.contract)
        or call.method not in target.methods
    ):
        raise failure(
            types_pb2.RESULT_STATUS_UNKNOWN_CONTRACT,
            f"{where}: this chain does not run {call.contract}.{call.method}",
        )


def _check_call_arguments(
    context: TransactionContext, call: proposals_pb2.ProposalCall, index: int
) -> None:
    """INVALID_ARGUMENT unless the call's arguments decode (canonically) as its method's
    arguments message: a call that could never run is refused before anyone votes on it."""
    resolve = context.resolve_contract
    target = resolve(call.contract) if resolve is not None else None
    arguments_type = None if target is None else target.methods[call.method].arguments
    if arguments_type is None:
        return
    try:
        decode_arguments(context, arguments_type, call.arguments)
    except RequestError as error:
        raise failure(
            _INVALID,
            f"call {index} ({call.contract}.{call.method}): its arguments are not a "
            f"{arguments_type.DESCRIPTOR.full_name}: {error.message}",
        ) from None


def _open_entry(deadline_ms: int, organisation: str) -> bytes:
    return _NUMBER.pack(deadline_ms) + organisation.encode()


def _prune_expired(context: TransactionContext, organisation: str) -> tuple[int, int]:
    """Drops expired proposals from the open index; answers how many stay open, in all and
    created by ``organisation``."""
    entries = context.range(PROPOSAL_OPEN, b"", OPEN_PROPOSALS_MAX + 1)
    if len(entries) > OPEN_PROPOSALS_MAX:
        raise InvariantError(f"more than {OPEN_PROPOSALS_MAX} proposals in the open index")
    still_open = 0
    of_organisation = 0
    for key, value in entries:
        if len(value) <= _NUMBER.size:
            raise InvariantError(
                f"proposals open index entry {key!r} is not an 8-byte deadline and an organisation"
            )
        if _NUMBER.unpack(value[: _NUMBER.size])[0] < context.time_ms:
            context.delete(key)
            continue
        still_open += 1
        if value[_NUMBER.size :] == organisation.encode():
            of_organisation += 1
    return still_open, of_organisation


def _set_vote(proposal: proposals_pb2.Proposal, vote: proposals_pb2.ProposalVote) -> None:
    votes = {existing.organisation: existing for existing in proposal.votes}
    votes[vote.organisation] = vote
    del proposal.votes[:]
    proposal.votes.extend(votes[organisation] for organisation in sorted(votes))


def _vote_of(context: TransactionContext, yes: bool) -> proposals_pb2.ProposalVote:
    return proposals_pb2.ProposalVote(
        organisation=context.sender.organisation,
        yes=yes,
        voter=context.sender.id,
        height=context.height,
    )


def create(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, proposals_pb2.ProposalsCreateArguments, arguments)
    _require_direct(context, "create a proposal")
    _require_admin(context, "create a proposal")
    calls = [DraftCall(call.contract, call.method, call.arguments) for call in request.calls]
    try:
        check_proposal_text(request.title, request.description)
        check_proposal_calls(calls)
    except RequestError as error:
        raise failure(_INVALID, error.message) from None
    for index, call in enumerate(request.calls):
        _check_call_target(context, call, index)
        _check_call_arguments(context, call, index)
    after_ms = request.deadline_ms - context.time_ms
    if not DEADLINE_AFTER_CREATION_MIN_MS <= after_ms <= DEADLINE_AFTER_CREATION_MAX_MS:
        raise failure(
            _INVALID,
            f"the deadline {request.deadline_ms} ms is {after_ms} ms after the block time "
            f"{context.time_ms} ms: it must be {DEADLINE_AFTER_CREATION_MIN_MS} ms (an hour) to "
            f"{DEADLINE_AFTER_CREATION_MAX_MS} ms (90 days) after it",
        )
    organisation = context.sender.organisation
    still_open, of_organisation = _prune_expired(context, organisation)
    if of_organisation >= OPEN_PROPOSALS_PER_ORGANISATION_MAX:
        raise failure(
            _CONFLICT,
            f"organisation {organisation} has {of_organisation} proposals open already, the most "
            f"one organisation may have (OPEN_PROPOSALS_PER_ORGANISATION_MAX = "
            f"{OPEN_PROPOSALS_PER_ORGANISATION_MAX}): withdraw one, execute one or wait for one "
            "to expire",
        )
    if still_open >= OPEN_PROPOSALS_MAX:
        raise failure(
            _CONFLICT,
            f"{still_open} proposals are open already, the most the chain holds "
            f"(OPEN_PROPOSALS_MAX = {OPEN_PROPOSALS_MAX}): execute, withdraw or close one, or "
            "wait for one to expire",
        )
    proposal_id = _read_number(context, PROPOSALS_NEXT_ID) + 1
    context.put(PROPOSALS_NEXT_ID, _NUMBER.pack(proposal_id))
    proposal = proposals_pb2.Proposal(
        id=proposal_id,
        title=request.title,
        description=request.description,
        calls=request.calls,
        deadline_ms=request.deadline_ms,
        creator=context.sender.id,
        created_height=context.height,
        created_time_ms=context.time_ms,
        status=_OPEN,
        creator_organisation=organisation,
    )
    if request.vote_yes:
        _set_vote(proposal, _vote_of(context, True))
    _save(context, proposal)
    context.put(proposal_open(proposal_id), _open_entry(request.deadline_ms, organisation))
    context.emit(
        "created",
        (
            ("id", str(proposal_id)),
            ("creator", context.sender.id),
            ("deadline_ms", str(request.deadline_ms)),
        ),
    )
    if request.vote_yes:
        _emit_vote(context, proposal_id, yes=True)
    return encode(proposals_pb2.ProposalsCreateResult(id=proposal_id))


def _emit_vote(context: TransactionContext, proposal_id: int, *, yes: bool) -> None:
    context.emit(
        "voted",
        (
            ("id", str(proposal_id)),
            ("organisation", context.sender.organisation),
            ("vote", "yes" if yes else "no"),
        ),
    )


def vote(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, proposals_pb2.ProposalsVoteArguments, arguments)
    _require_direct(context, "vote")
    _require_admin(context, "vote")
    proposal = _load(context, request.id)
    _require_open(context, proposal, "take votes")
    _set_vote(proposal, _vote_of(context, request.yes))
    _save(context, proposal)
    _emit_vote(context, proposal.id, yes=request.yes)
    return b""


def _every_voter_stands(voter: str) -> bool:
    del voter
    return True


def standing_voters(context: TransactionContext) -> Callable[[str], bool]:
    """Whether a vote's voter is still an ADMIN member, as of the transaction: a vote cast by an
    admin since removed (or no longer an admin) speaks for its organisation no more."""

    def stands(voter: str) -> bool:
        stored = context.get_granted(member_key(voter))
        return (
            stored is not None and types_pb2.ROLE_ADMIN in types_pb2.Member.FromString(stored).roles
        )

    return stands


def yes_organisations(
    proposal: proposals_pb2.Proposal,
    organisations: Sequence[str],
    voter_stands: Callable[[str], bool] = _every_voter_stands,
) -> frozenset[str]:
    """The organisations whose yes vote counts: those that voted yes, exist now, and whose vote's
    admin still stands (standing_voters)."""
    current = set(organisations)
    return frozenset(
        vote.organisation
        for vote in proposal.votes
        if vote.yes and vote.organisation in current and voter_stands(vote.voter)
    )


def _run_call(
    context: TransactionContext,
    call: proposals_pb2.ProposalCall,
    index: int,
    signing_organisations: frozenset[str],
) -> bytes:
    # The rule is checked again: the chain's contracts are fixed, but a check here costs little
    # and keeps the rule where the calls are made.
    _check_call_target(context, call, index)
    resolve = context.resolve_contract
    assert resolve is not None  # _check_call_target found the contract
    target = resolve(call.contract)
    assert target is not None
    callee = context.enter(target.name, target.namespace, target.grants)
    callee.signing_organisations = signing_organisations
    return target.methods[call.method].handler(callee, call.arguments)


def execute(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, proposals_pb2.ProposalsExecuteArguments, arguments)
    _require_direct(context, "execute a proposal")
    proposal = _load(context, request.id)
    _require_open(context, proposal, "be executed")
    policy = context.config.config.governance_policy
    voters = yes_organisations(proposal, context.organisations(), standing_voters(context))
    if not evaluate_policy(policy, voters, context.organisations()):
        raise failure(
            types_pb2.RESULT_STATUS_ENDORSEMENT_POLICY_NOT_SATISFIED,
            f"proposal {proposal.id} needs yes votes satisfying the {describe_policy(policy)} "
            f"policy; organisations that voted yes: {', '.join(sorted(voters)) or 'none'}",
        )
    result = proposals_pb2.ProposalsExecuteResult(id=proposal.id)
    status_of_failure = types_pb2.RESULT_STATUS_OK
    savepoint = context.savepoint()
    for index, call in enumerate(proposal.calls):
        try:
            return_value = _run_call(context, call, index, voters)
        except RequestError as error:
            context.rollback_to(savepoint)
            proposal.status = _FAILED
            proposal.failed_call = index
            proposal.failure = f"call {index} ({call.contract}.{call.method}): {error.message}"
            status_of_failure = status_of(error)
            proposal.failure_status = status_of_failure
            result.failed_call = index
            result.failure = proposal.failure
            break
        result.return_values.append(return_value)
    else:
        context.release(savepoint)
        proposal.status = _EXECUTED
    proposal.executed_height = context.height
    proposal.executor = context.sender.id
    _save(context, proposal)
    context.delete(proposal_open(proposal.id))
    result.status = proposal.status
    if proposal.status == _EXECUTED:
        context.emit("executed", (("id", str(proposal.id)),))
    else:
        del result.return_values[:]
        context.emit(
            "failed",
            (
                ("id", str(proposal.id)),
                ("call", str(proposal.failed_call)),
                ("status", types_pb2.ResultStatus.Name(status_of_failure)),
                ("error", proposal.failure[:256]),
            ),
        )
    return encode(result)


def _end(
    context: TransactionContext,
    proposal: proposals_pb2.Proposal,
    status: proposals_pb2.ProposalStatus.ValueType,
) -> None:
    """Ends an open proposal for good without running its calls; frees its place at once."""
    proposal.status = status
    proposal.executed_height = context.height
    proposal.executor = context.sender.id
    _save(context, proposal)
    context.delete(proposal_open(proposal.id))


def withdraw(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, proposals_pb2.ProposalsWithdrawArguments, arguments)
    _require_direct(context, "withdraw a proposal")
    _require_admin(context, "withdraw a proposal")
    proposal = _load(context, request.id)
    if context.sender.organisation != proposal.creator_organisation:
        raise failure(
            _DENIED,
            f"{context.sender.id} may not withdraw proposal {proposal.id}: only an admin of the "
            f"organisation that created it ({proposal.creator_organisation or 'unknown'}) may",
        )
    _require_open(context, proposal, "be withdrawn")
    _end(context, proposal, _WITHDRAWN)
    context.emit(
        "withdrawn",
        (
            ("id", str(proposal.id)),
            ("organisation", context.sender.organisation),
            ("member", context.sender.id),
        ),
    )
    return b""


def no_organisations(
    proposal: proposals_pb2.Proposal,
    organisations: Sequence[str],
    voter_stands: Callable[[str], bool] = _every_voter_stands,
) -> frozenset[str]:
    """The organisations whose no vote counts: those that voted no, exist now, and whose vote's
    admin still stands (standing_voters)."""
    current = set(organisations)
    return frozenset(
        vote.organisation
        for vote in proposal.votes
        if not vote.yes and vote.organisation in current and voter_stands(vote.voter)
    )


def rejectable(
    proposal: proposals_pb2.Proposal,
    policy: types_pb2.EndorsementPolicy,
    organisations: Sequence[str],
    voter_stands: Callable[[str], bool] = _every_voter_stands,
) -> bool:
    """Whether the no votes make the policy impossible to meet now: some organisation voted no,
    and the organisations that did not cannot satisfy the policy even if all of them voted yes.
    Without a no vote a proposal is never rejectable: a policy no set of organisations can meet
    is the policy's failing, not the voters' decision."""
    against = no_organisations(proposal, organisations, voter_stands)
    if not against:
        return False
    not_against = frozenset(organisations) - against
    return not evaluate_policy(policy, not_against, organisations)


def close(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, proposals_pb2.ProposalsCloseArguments, arguments)
    _require_direct(context, "close a proposal")
    proposal = _load(context, request.id)
    _require_open(context, proposal, "be closed")
    policy = context.config.config.governance_policy
    organisations = context.organisations()
    stands = standing_voters(context)
    against = no_organisations(proposal, organisations, stands)
    if not rejectable(proposal, policy, organisations, stands):
        raise failure(
            _CONFLICT,
            f"proposal {proposal.id} cannot be closed as rejected: the organisations that did "
            f"not vote no could still satisfy the {describe_policy(policy)} policy; "
            f"organisations that voted no: {', '.join(sorted(against)) or 'none'}",
        )
    _end(context, proposal, _REJECTED)
    context.emit("rejected", (("id", str(proposal.id)), ("no", ",".join(sorted(against)))))
    return b""


def reported(proposal: proposals_pb2.Proposal, time_ms: int) -> proposals_pb2.Proposal:
    """The proposal as get and list report it: EXPIRED when open past its deadline."""
    if proposal.status == _OPEN and time_ms > proposal.deadline_ms:
        proposal.status = _EXPIRED
    return proposal


def get(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, proposals_pb2.ProposalsGetArguments, arguments)
    proposal = reported(_load(context, request.id), context.time_ms)
    policy = context.config.config.governance_policy
    voters = yes_organisations(proposal, context.organisations(), standing_voters(context))
    return encode(
        proposals_pb2.ProposalsGetResult(
            proposal=proposal,
            counted_yes=sorted(voters),
            policy_met=proposal.status == _OPEN
            and evaluate_policy(policy, voters, context.organisations()),
            policy=describe_policy(policy),
            rejectable=proposal.status == _OPEN
            and rejectable(proposal, policy, context.organisations(), standing_voters(context)),
        )
    )


def list_proposals(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, proposals_pb2.ProposalsListArguments, arguments)
    limit = request.limit or LIST_LIMIT_DEFAULT
    if limit > LIST_LIMIT_MAX:
        raise failure(_INVALID, f"limit {limit} is above the maximum of {LIST_LIMIT_MAX}")
    if request.status not in _STATUS_NAMES and request.status != 0:
        raise failure(_INVALID, f"unknown proposal status {request.status}")
    start_after = proposal_record(request.start_after) if request.start_after else b""
    entries = context.range(PROPOSAL_RECORD, start_after, LIST_SCAN_MAX)
    result = proposals_pb2.ProposalsListResult()
    last_scanned = 0
    for _key, value in entries:
        proposal = reported(proposals_pb2.Proposal.FromString(value), context.time_ms)
        last_scanned = proposal.id
        if request.status and proposal.status != request.status:
            continue
        result.proposals.append(proposal)
        if len(result.proposals) == limit:
            break
    more = len(result.proposals) == limit or len(entries) == LIST_SCAN_MAX
    if more and last_scanned and last_scanned < _read_number(context, PROPOSALS_NEXT_ID):
        result.next_start_after = last_scanned
    return encode(result)


METHODS: dict[str, Method] = {
    "create": Method(create),
    "vote": Method(vote),
    # system: its calls change the shared records (configuration, members, validators).
    "execute": Method(execute, system=True),
    "withdraw": Method(withdraw),
    "close": Method(close),
    "get": Method(get, read_only=True),
    "list": Method(list_proposals, read_only=True),
}
