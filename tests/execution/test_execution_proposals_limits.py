"""The proposals contract against the open-places denial of service: one organisation's admin
could take every open place with 90-day proposals, and nothing but an execution ended one.

Now each organisation holds at most OPEN_PROPOSALS_PER_ORGANISATION_MAX open proposals, its
admins ``withdraw`` its own, and anyone ``close``s a proposal as REJECTED once the organisations
that voted no leave too few others to meet the governance policy.

The chain is the adversarial suite's: three organisations (org1 with two admins and a client,
org2 with an admin and a client, org3 with an admin) under a MAJORITY governance policy, so that
two organisations are needed and two no votes reject.
"""

from __future__ import annotations

import pytest
from execution_chain import BLOCK_TIME_MS, Chain, ChainKit, default_config, status_name
from test_execution_proposals_adversarial import (
    HOUR_MS,
    OK,
    build_three_organisation_kit,
    config_call,
    create,
    created_id,
    execute,
    fresh_chain,
    governed,
    outcome,
    proposal_state,
    query,
    send,
    stored,
    vote,
)

from causeway.contracts.v1 import contracts_pb2, proposals_pb2
from causeway.execution.contracts import proposals as proposals_contract
from causeway.types.v1 import types_pb2

CONFLICT = "RESULT_STATUS_CONFLICT"
DENIED = "RESULT_STATUS_PERMISSION_DENIED"
OPEN = proposals_pb2.PROPOSAL_STATUS_OPEN
EXECUTED = proposals_pb2.PROPOSAL_STATUS_EXECUTED
WITHDRAWN = proposals_pb2.PROPOSAL_STATUS_WITHDRAWN
REJECTED = proposals_pb2.PROPOSAL_STATUS_REJECTED


@pytest.fixture(scope="module")
def three_kit() -> ChainKit:
    return build_three_organisation_kit()


@pytest.fixture
def chain(three_kit: ChainKit) -> Chain:
    return fresh_chain(three_kit)


def withdraw(
    chain: Chain, proposal_id: int, sender: str = "org1/admin", *, time_ms: int = BLOCK_TIME_MS
) -> types_pb2.TransactionResult:
    arguments = proposals_pb2.ProposalsWithdrawArguments(id=proposal_id)
    return send(chain, sender, "withdraw", arguments, time_ms=time_ms)


def close(
    chain: Chain, proposal_id: int, sender: str = "org2/bob", *, time_ms: int = BLOCK_TIME_MS
) -> types_pb2.TransactionResult:
    arguments = proposals_pb2.ProposalsCloseArguments(id=proposal_id)
    return send(chain, sender, "close", arguments, time_ms=time_ms)


def get_result(
    chain: Chain, proposal_id: int, *, time_ms: int = BLOCK_TIME_MS
) -> proposals_pb2.ProposalsGetResult:
    result = query(
        chain, "get", proposals_pb2.ProposalsGetArguments(id=proposal_id), time_ms=time_ms
    )
    assert status_name(result) == OK, result.error
    return proposals_pb2.ProposalsGetResult.FromString(result.return_value)


def refused(result: types_pb2.TransactionResult, status: str, message: str) -> None:
    assert status_name(result) == status, result.error
    assert message in result.error, result.error


# ---- a bound on the open proposals of one organisation ----


def test_one_organisation_cannot_take_every_open_place(chain: Chain) -> None:
    """The reviewer's attack: org1's admin opens 90-day proposals until refused. It is refused
    at OPEN_PROPOSALS_PER_ORGANISATION_MAX, with nothing changed, far below OPEN_PROPOSALS_MAX,
    and the other organisations still create theirs."""
    bound = proposals_contract.OPEN_PROPOSALS_PER_ORGANISATION_MAX
    assert bound == 8 and bound < proposals_contract.OPEN_PROPOSALS_MAX
    longest = BLOCK_TIME_MS + proposals_contract.DEADLINE_AFTER_CREATION_MAX_MS
    for _ in range(bound):
        created_id(create(chain, [config_call()], deadline_ms=longest))
    before = proposal_state(chain)
    result = create(chain, [config_call()], deadline_ms=longest)
    refused(
        result,
        CONFLICT,
        "organisation org1 has 8 proposals open already, the most one organisation may have "
        "(OPEN_PROPOSALS_PER_ORGANISATION_MAX = 8)",
    )
    assert proposal_state(chain) == before
    # Another admin of the same organisation is the same organisation.
    refused(create(chain, [config_call()], sender="org1/admin2"), CONFLICT, "org1 has 8")
    assert created_id(create(chain, [config_call()], sender="org2/admin")) == bound + 1
    assert created_id(create(chain, [config_call()], sender="org3/admin")) == bound + 2


def test_expired_proposals_do_not_count_against_their_organisation(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proposals_contract, "OPEN_PROPOSALS_PER_ORGANISATION_MAX", 2)
    deadline = BLOCK_TIME_MS + HOUR_MS
    for _ in range(2):
        created_id(create(chain, [config_call()], deadline_ms=deadline))
    at_deadline = create(chain, [config_call()], deadline_ms=deadline + HOUR_MS, time_ms=deadline)
    refused(at_deadline, CONFLICT, "OPEN_PROPOSALS_PER_ORGANISATION_MAX = 2")
    later = deadline + 1
    assert (
        created_id(create(chain, [config_call()], deadline_ms=later + HOUR_MS, time_ms=later)) == 3
    )


def test_the_chain_wide_bound_still_holds_across_organisations(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proposals_contract, "OPEN_PROPOSALS_MAX", 3)
    monkeypatch.setattr(proposals_contract, "OPEN_PROPOSALS_PER_ORGANISATION_MAX", 2)
    created_id(create(chain, [config_call()]))
    created_id(create(chain, [config_call()]))
    created_id(create(chain, [config_call()], sender="org2/admin"))
    before = proposal_state(chain)
    result = create(chain, [config_call()], sender="org3/admin")
    refused(result, CONFLICT, "3 proposals are open already, the most the chain holds")
    assert "OPEN_PROPOSALS_MAX = 3" in result.error
    assert proposal_state(chain) == before


def test_a_proposal_records_its_creator_s_organisation(chain: Chain) -> None:
    proposal_id = created_id(create(chain, [config_call()], sender="org1/admin2"))
    assert stored(chain, proposal_id).creator_organisation == "org1"


# ---- withdraw ----


def test_an_admin_of_the_creating_organisation_withdraws_its_proposal(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proposals_contract, "OPEN_PROPOSALS_MAX", 1)
    monkeypatch.setattr(proposals_contract, "OPEN_PROPOSALS_PER_ORGANISATION_MAX", 1)
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)]))
    assert status_name(vote(chain, proposal_id, "org2/admin")) == OK
    refused(create(chain, [config_call()], sender="org2/admin"), CONFLICT, "open already")
    # Any admin of org1, not only the one that created it.
    result = withdraw(chain, proposal_id, "org1/admin2")
    assert status_name(result) == OK, result.error
    assert [
        (event.name, [(a.key, a.value) for a in event.attributes]) for event in result.events
    ] == [
        (
            "withdrawn",
            [("id", str(proposal_id)), ("organisation", "org1"), ("member", "org1/admin2")],
        )
    ]
    record = stored(chain, proposal_id)
    assert record.status == WITHDRAWN
    assert record.executed_height == chain.height and record.executor == "org1/admin2"
    assert get_result(chain, proposal_id).proposal.status == WITHDRAWN
    assert not get_result(chain, proposal_id).policy_met
    # It cannot be voted on, executed, withdrawn again or closed: it has ended.
    before = proposal_state(chain)
    refused(vote(chain, proposal_id, "org3/admin"), CONFLICT, "is withdrawn already")
    refused(execute(chain, proposal_id), CONFLICT, "is withdrawn already")
    refused(withdraw(chain, proposal_id), CONFLICT, "is withdrawn already")
    refused(close(chain, proposal_id), CONFLICT, "is withdrawn already")
    assert proposal_state(chain) == before
    # Its place is free, under both bounds, before its deadline.
    assert created_id(create(chain, [config_call()], sender="org2/admin")) == proposal_id + 1


@pytest.mark.parametrize(
    ("sender", "message"),
    [
        ("org2/admin", "only an admin of the organisation that created it (org1) may"),
        ("org1/alice", "only an organisation's ADMIN member may"),
    ],
)
def test_only_the_creating_organisation_s_admins_withdraw(
    chain: Chain, sender: str, message: str
) -> None:
    proposal_id = created_id(create(chain, [config_call()]))
    before = proposal_state(chain)
    refused(withdraw(chain, proposal_id, sender), DENIED, message)
    assert proposal_state(chain) == before


def test_withdrawal_after_the_deadline_or_the_execution_is_refused(chain: Chain) -> None:
    expiring = created_id(create(chain, [config_call()], deadline_ms=BLOCK_TIME_MS + HOUR_MS))
    result = withdraw(chain, expiring, time_ms=BLOCK_TIME_MS + HOUR_MS + 1)
    refused(result, CONFLICT, "deadline")
    executed = created_id(create(chain, [config_call(endorsements_max=3)]))
    assert status_name(vote(chain, executed, "org2/admin")) == OK
    assert outcome(execute(chain, executed)).status == EXECUTED
    refused(withdraw(chain, executed), CONFLICT, "is executed already")
    assert stored(chain, executed).status == EXECUTED


@pytest.mark.parametrize("method", ["withdraw", "close"])
@pytest.mark.parametrize(
    ("arguments", "status"),
    [
        (b"\xff\xff\xff", "RESULT_STATUS_INVALID_ARGUMENT"),
        (b"\x08\x01\x08\x01", "RESULT_STATUS_INVALID_ARGUMENT"),  # a field twice
        (b"", "RESULT_STATUS_INVALID_ARGUMENT"),  # id 0
        (b"\x08\x09", "RESULT_STATUS_NOT_FOUND"),
    ],
)
def test_bad_ids_and_malformed_arguments_are_refused(
    chain: Chain, method: str, arguments: bytes, status: str
) -> None:
    created_id(create(chain, [config_call()]))
    before = dict(chain.state)
    result = chain.run("org1/admin", "proposals", method, arguments)
    assert status_name(result) == status, result.error
    assert result.error
    assert chain.state == before


# ---- close: rejection once the no votes decide ----


def test_a_proposal_the_no_votes_decide_is_closed_as_rejected_by_anyone(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proposals_contract, "OPEN_PROPOSALS_PER_ORGANISATION_MAX", 1)
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)]))
    assert status_name(vote(chain, proposal_id, "org2/admin", yes=False)) == OK
    # org1 (yes) and org3 (no vote yet) could still make the MAJORITY of three.
    assert not get_result(chain, proposal_id).rejectable
    before = proposal_state(chain)
    result = close(chain, proposal_id)
    refused(result, CONFLICT, "could still satisfy the MAJORITY")
    assert "organisations that voted no: org2" in result.error
    assert proposal_state(chain) == before
    assert status_name(vote(chain, proposal_id, "org3/admin", yes=False)) == OK
    assert get_result(chain, proposal_id).rejectable
    # Any member that may send closes it: a client of another organisation here.
    result = close(chain, proposal_id, "org2/bob")
    assert status_name(result) == OK, result.error
    assert [
        (event.name, [(a.key, a.value) for a in event.attributes]) for event in result.events
    ] == [("rejected", [("id", str(proposal_id)), ("no", "org2,org3")])]
    record = stored(chain, proposal_id)
    assert record.status == REJECTED
    assert record.executed_height == chain.height and record.executor == "org2/bob"
    shown = get_result(chain, proposal_id)
    assert shown.proposal.status == REJECTED and not shown.rejectable and not shown.policy_met
    before = proposal_state(chain)
    refused(vote(chain, proposal_id, "org3/admin"), CONFLICT, "is rejected already")
    refused(execute(chain, proposal_id), CONFLICT, "is rejected already")
    refused(withdraw(chain, proposal_id), CONFLICT, "is rejected already")
    refused(close(chain, proposal_id), CONFLICT, "is rejected already")
    assert proposal_state(chain) == before
    # It no longer counts against org1's bound (of one, here).
    assert created_id(create(chain, [config_call()])) == proposal_id + 1


def test_a_no_vote_changed_to_yes_before_the_close_keeps_the_proposal_open(chain: Chain) -> None:
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)]))
    assert status_name(vote(chain, proposal_id, "org2/admin", yes=False)) == OK
    assert status_name(vote(chain, proposal_id, "org3/admin", yes=False)) == OK
    assert status_name(vote(chain, proposal_id, "org3/admin", yes=True)) == OK
    refused(close(chain, proposal_id), CONFLICT, "organisations that voted no: org2")
    assert outcome(execute(chain, proposal_id)).status == EXECUTED


def test_under_an_all_policy_one_no_vote_rejects(chain: Chain) -> None:
    """The policy in force decides: under ALL a single no makes it impossible."""
    config = default_config()
    config.governance_policy.CopyFrom(types_pb2.EndorsementPolicy(kind=types_pb2.POLICY_KIND_ALL))
    governed(chain, "config", "update", contracts_pb2.ConfigUpdateArguments(config=config))
    # governed() needs org1 and org2 only under MAJORITY; under ALL a proposal needs all three.
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)]))
    assert not get_result(chain, proposal_id).rejectable
    refused(close(chain, proposal_id), CONFLICT, "organisations that voted no: none")
    assert status_name(vote(chain, proposal_id, "org3/admin", yes=False)) == OK
    assert status_name(close(chain, proposal_id, "org1/alice")) == OK
    assert stored(chain, proposal_id).status == REJECTED


def test_a_proposal_past_its_deadline_is_not_closed(chain: Chain) -> None:
    deadline = BLOCK_TIME_MS + HOUR_MS
    proposal_id = created_id(create(chain, [config_call()], deadline_ms=deadline))
    assert status_name(vote(chain, proposal_id, "org2/admin", yes=False)) == OK
    assert status_name(vote(chain, proposal_id, "org3/admin", yes=False)) == OK
    refused(close(chain, proposal_id, time_ms=deadline + 1), CONFLICT, "deadline")
    assert stored(chain, proposal_id).status == OPEN
