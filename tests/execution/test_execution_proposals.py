"""The proposals contract: governance voted on chain, each organisation's admin on its own.

The test chain has two organisations and a MAJORITY governance policy, so a proposal needs the
yes votes of both org1 and org2."""

from __future__ import annotations

import pytest
from execution_chain import BLOCK_TIME_MS, Chain, ChainKit, default_config, status_name
from probe_contract import PROBE, register_probe
from test_execution_user_contracts import counter, interface
from validator_chain import GOVERNANCE, powers_at, update_arguments, validator_chain

from causeway.contracts.v1 import contracts_pb2, proposals_pb2
from causeway.execution import Executor, genesis_state
from causeway.execution.context import TransactionContext
from causeway.execution.contracts import CONTRACTS, Contract
from causeway.execution.contracts import proposals as proposals_contract
from causeway.execution.keys import (
    CONFIG_KEY,
    code_record_key,
    member_key,
    organisation_key,
    proposal_record_key,
)
from causeway.interchain import CHAIN_CONTRACTS
from causeway.interchain.v1 import interchain_pb2
from causeway.types import encode, proposal_draft
from causeway.types.proposal_draft import (
    PROPOSAL_CALL_ARGUMENTS_BYTES_MAX,
    PROPOSAL_CALLS_MAX,
    PROPOSAL_TITLE_CHARACTERS_MAX,
)
from causeway.types.v1 import types_pb2

DAY_MS = 24 * 3_600_000
DEADLINE_MS = BLOCK_TIME_MS + 7 * DAY_MS
OK = "RESULT_STATUS_OK"


def call(contract: str, method: str, arguments: object) -> proposals_pb2.ProposalCall:
    return proposals_pb2.ProposalCall(
        contract=contract,
        method=method,
        arguments=encode(arguments),  # type: ignore[arg-type]
    )


def config_call(**changes: int) -> proposals_pb2.ProposalCall:
    config = default_config()
    for name, value in changes.items():
        setattr(config, name, value)
    return call("config", "update", contracts_pb2.ConfigUpdateArguments(config=config))


def create(
    chain: Chain,
    calls: list[proposals_pb2.ProposalCall],
    *,
    sender: str = "org1/admin",
    vote_yes: bool = True,
    deadline_ms: int = DEADLINE_MS,
    title: str = "Raise the endorsement limit",
    time_ms: int = BLOCK_TIME_MS,
) -> types_pb2.TransactionResult:
    arguments = proposals_pb2.ProposalsCreateArguments(
        title=title,
        description="so that larger consortia can endorse",
        calls=calls,
        deadline_ms=deadline_ms,
        vote_yes=vote_yes,
    )
    transaction = chain.transaction(
        sender, "proposals", "create", arguments, expiry_ms=time_ms + 60_000, timestamp_ms=time_ms
    )
    return chain.commit([transaction], time_ms=time_ms).results[0]


def created_id(result: types_pb2.TransactionResult) -> int:
    assert status_name(result) == OK, result.error
    return proposals_pb2.ProposalsCreateResult.FromString(result.return_value).id


def vote(
    chain: Chain,
    proposal_id: int,
    sender: str = "org2/admin",
    *,
    yes: bool = True,
    time_ms: int = BLOCK_TIME_MS,
) -> types_pb2.TransactionResult:
    arguments = proposals_pb2.ProposalsVoteArguments(id=proposal_id, yes=yes)
    transaction = chain.transaction(
        sender, "proposals", "vote", arguments, expiry_ms=time_ms + 60_000, timestamp_ms=time_ms
    )
    return chain.commit([transaction], time_ms=time_ms).results[0]


def execute(
    chain: Chain, proposal_id: int, sender: str = "org2/bob", *, time_ms: int = BLOCK_TIME_MS
) -> types_pb2.TransactionResult:
    arguments = proposals_pb2.ProposalsExecuteArguments(id=proposal_id)
    transaction = chain.transaction(
        sender, "proposals", "execute", arguments, expiry_ms=time_ms + 60_000, timestamp_ms=time_ms
    )
    return chain.commit([transaction], time_ms=time_ms).results[0]


def outcome(result: types_pb2.TransactionResult) -> proposals_pb2.ProposalsExecuteResult:
    assert status_name(result) == OK, result.error
    return proposals_pb2.ProposalsExecuteResult.FromString(result.return_value)


def get(chain: Chain, proposal_id: int, *, time_ms: int = BLOCK_TIME_MS) -> proposals_pb2.Proposal:
    arguments = proposals_pb2.ProposalsGetArguments(id=proposal_id)
    transaction = chain.transaction(
        "org2/bob", "proposals", "get", arguments, expiry_ms=time_ms + 60_000, timestamp_ms=time_ms
    )
    result = chain.executor.query(chain.reader, transaction, time_ms, height=chain.height + 1)
    assert status_name(result) == OK, result.error
    return proposals_pb2.ProposalsGetResult.FromString(result.return_value).proposal


def get_result(chain: Chain, proposal_id: int) -> proposals_pb2.ProposalsGetResult:
    transaction = chain.transaction(
        "org2/bob", "proposals", "get", proposals_pb2.ProposalsGetArguments(id=proposal_id)
    )
    result = chain.executor.query(chain.reader, transaction, BLOCK_TIME_MS, height=1)
    assert status_name(result) == OK, result.error
    return proposals_pb2.ProposalsGetResult.FromString(result.return_value)


def passed(chain: Chain, calls: list[proposals_pb2.ProposalCall]) -> int:
    """A proposal both organisations voted yes on."""
    proposal_id = created_id(create(chain, calls))
    assert status_name(vote(chain, proposal_id)) == OK
    return proposal_id


# ---- the whole way, for each kind of governance ----


def test_a_config_change_is_created_voted_and_executed(chain: Chain) -> None:
    result = create(chain, [config_call(endorsements_max=3)])
    proposal_id = created_id(result)
    assert proposal_id == 1
    assert [(event.name, event.attributes[0].value) for event in result.events] == [
        ("created", "1"),
        ("voted", "1"),
    ]
    assert status_name(vote(chain, proposal_id)) == OK
    # Any member that may send executes it: here a client of org2.
    executed = execute(chain, proposal_id)
    assert outcome(executed).status == proposals_pb2.PROPOSAL_STATUS_EXECUTED
    assert [(event.contract, event.name) for event in executed.events] == [
        ("config", "update"),
        ("proposals", "executed"),
    ]
    assert types_pb2.ChainConfig.FromString(chain.state[CONFIG_KEY]).endorsements_max == 3
    proposal = get(chain, proposal_id)
    assert proposal.status == proposals_pb2.PROPOSAL_STATUS_EXECUTED
    assert [(v.organisation, v.yes, v.voter) for v in proposal.votes] == [
        ("org1", True, "org1/admin"),
        ("org2", True, "org2/admin"),
    ]
    assert proposal.executor == "org2/bob"
    assert proposal.executed_height == chain.height


def test_membership_changes_in_one_proposal_see_each_other(chain: Chain) -> None:
    kit: ChainKit = chain.kit
    organisation = kit.new_organisation("org3")
    admin = kit.new_identity("org3/admin", (types_pb2.ROLE_ADMIN,))
    proposal_id = passed(
        chain,
        [
            call(
                "membership",
                "add_organisation",
                contracts_pb2.MembershipAddOrganisationArguments(organisation=organisation),
            ),
            call(
                "membership",
                "add_member",
                contracts_pb2.MembershipAddMemberArguments(member=admin.member),
            ),
        ],
    )
    assert outcome(execute(chain, proposal_id)).status == proposals_pb2.PROPOSAL_STATUS_EXECUTED
    assert organisation_key("org3") in chain.state
    assert member_key("org3/admin") in chain.state


def test_a_validator_change_through_a_proposal(validator_kit: ChainKit) -> None:
    chain = validator_chain(validator_kit, "tbft")
    proposal_id = passed(chain, [call("validators", "update", update_arguments(org2__node4=10))])
    assert outcome(execute(chain, proposal_id)).status == proposals_pb2.PROPOSAL_STATUS_EXECUTED
    assert powers_at(chain, chain.height + 10)["org2/node4"] == 10


def test_contract_lifecycle_through_proposals(chain: Chain) -> None:
    deploy = contracts_pb2.CodeDeployArguments(
        name="counter",
        code=counter(),
        interface_json=interface(),
        init_input=(5).to_bytes(8, "little"),
    )
    proposal_id = passed(chain, [call("code", "deploy", deploy)])
    assert outcome(execute(chain, proposal_id)).status == proposals_pb2.PROPOSAL_STATUS_EXECUTED
    record = contracts_pb2.ContractRecord.FromString(chain.state[code_record_key("counter")])
    assert record.status == contracts_pb2.CONTRACT_STATUS_ACTIVE
    upgrade = contracts_pb2.CodeUpgradeArguments(
        name="counter", code=counter(step=2), interface_json=interface()
    )
    proposal_id = passed(chain, [call("code", "upgrade", upgrade)])
    assert outcome(execute(chain, proposal_id)).status == proposals_pb2.PROPOSAL_STATUS_EXECUTED
    record = contracts_pb2.ContractRecord.FromString(chain.state[code_record_key("counter")])
    assert record.version == 2
    name = contracts_pb2.CodeNameArguments(name="counter")
    proposal_id = passed(
        chain,
        [
            call("code", "freeze", name),
            call("code", "unfreeze", name),
            call("code", "revoke", name),
        ],
    )
    assert outcome(execute(chain, proposal_id)).status == proposals_pb2.PROPOSAL_STATUS_EXECUTED
    record = contracts_pb2.ContractRecord.FromString(chain.state[code_record_key("counter")])
    assert record.status == contracts_pb2.CONTRACT_STATUS_REVOKED


# ---- votes and the policy ----


def test_execution_needs_the_policy_and_changes_nothing_without_it(chain: Chain) -> None:
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)]))
    before = dict(chain.state)
    result = execute(chain, proposal_id)
    assert status_name(result) == "RESULT_STATUS_ENDORSEMENT_POLICY_NOT_SATISFIED"
    assert "MAJORITY of all organisations" in result.error and "voted yes: org1" in result.error
    assert chain.state == before
    assert get(chain, proposal_id).status == proposals_pb2.PROPOSAL_STATUS_OPEN


def test_a_later_vote_replaces_the_earlier_one(chain: Chain) -> None:
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)]))
    assert not get_result(chain, proposal_id).policy_met
    assert status_name(vote(chain, proposal_id, yes=True)) == OK
    shown = get_result(chain, proposal_id)
    assert shown.policy_met and list(shown.counted_yes) == ["org1", "org2"]
    assert shown.policy == "MAJORITY of all organisations"
    assert status_name(vote(chain, proposal_id, yes=False)) == OK
    assert not get_result(chain, proposal_id).policy_met
    votes = get(chain, proposal_id).votes
    assert [(v.organisation, v.yes) for v in votes] == [("org1", True), ("org2", False)]
    assert status_name(execute(chain, proposal_id)) == (
        "RESULT_STATUS_ENDORSEMENT_POLICY_NOT_SATISFIED"
    )
    assert status_name(vote(chain, proposal_id, yes=True)) == OK
    assert outcome(execute(chain, proposal_id)).status == proposals_pb2.PROPOSAL_STATUS_EXECUTED


def test_the_creator_need_not_vote_at_once(chain: Chain) -> None:
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)], vote_yes=False))
    assert list(get(chain, proposal_id).votes) == []


def test_the_policy_counts_the_organisations_of_the_execution_time(chain: Chain) -> None:
    """An organisation added after the votes changes what the policy needs (ALL here)."""
    config = default_config()
    config.governance_policy.kind = types_pb2.POLICY_KIND_ALL
    result = chain.run(
        "org1/admin",
        "config",
        "update",
        contracts_pb2.ConfigUpdateArguments(config=config),
        endorsers=["org2/admin"],
    )
    assert status_name(result) == OK, result.error
    proposal_id = passed(chain, [config_call(endorsements_max=3)])
    organisation = chain.kit.new_organisation("org3")
    result = chain.run(
        "org1/admin",
        "membership",
        "add_organisation",
        contracts_pb2.MembershipAddOrganisationArguments(organisation=organisation),
        endorsers=["org2/admin"],
    )
    assert status_name(result) == OK, result.error
    result = execute(chain, proposal_id)
    assert status_name(result) == "RESULT_STATUS_ENDORSEMENT_POLICY_NOT_SATISFIED"
    assert "ALL of all organisations" in result.error


def test_votes_of_organisations_that_no_longer_exist_do_not_count() -> None:
    proposal = proposals_pb2.Proposal(
        votes=[
            proposals_pb2.ProposalVote(organisation="gone", yes=True),
            proposals_pb2.ProposalVote(organisation="org1", yes=True),
            proposals_pb2.ProposalVote(organisation="org2", yes=False),
        ]
    )
    assert proposals_contract.yes_organisations(proposal, ["org1", "org2"]) == {"org1"}


# ---- a failed call is recorded, and nothing of the calls stays ----


def test_a_failing_call_is_recorded_and_no_call_is_kept(chain: Chain) -> None:
    remove_unknown = call(
        "membership",
        "remove_member",
        contracts_pb2.MembershipRemoveMemberArguments(member_id="org2/nobody"),
    )
    proposal_id = passed(chain, [config_call(endorsements_max=3), remove_unknown])
    before_config = chain.state[CONFIG_KEY]
    result = execute(chain, proposal_id)
    executed = outcome(result)
    assert executed.status == proposals_pb2.PROPOSAL_STATUS_FAILED
    assert executed.failed_call == 1
    assert "org2/nobody" in executed.failure
    assert chain.state[CONFIG_KEY] == before_config
    # The config.update event went with its write; only the failure is told.
    assert [(event.contract, event.name) for event in result.events] == [("proposals", "failed")]
    proposal = get(chain, proposal_id)
    assert proposal.status == proposals_pb2.PROPOSAL_STATUS_FAILED
    assert proposal.failure_status == types_pb2.RESULT_STATUS_NOT_FOUND
    assert proposal.failed_call == 1
    # At most once: a failed proposal is not executed again.
    again = execute(chain, proposal_id)
    assert status_name(again) == "RESULT_STATUS_CONFLICT" and "failed already" in again.error


def test_a_call_under_a_stricter_policy_fails_and_is_recorded(chain: Chain) -> None:
    """Each call checks its own policy: code's contract policy here needs ALL organisations,
    which the yes votes of org1 alone (ANY governance) do not give."""
    config = default_config()
    config.governance_policy.kind = types_pb2.POLICY_KIND_ANY
    config.contract_policy.kind = types_pb2.POLICY_KIND_ALL
    result = chain.run(
        "org1/admin",
        "config",
        "update",
        contracts_pb2.ConfigUpdateArguments(config=config),
        endorsers=["org2/admin"],
    )
    assert status_name(result) == OK, result.error
    name = contracts_pb2.CodeNameArguments(name="absent")
    proposal_id = created_id(create(chain, [call("code", "freeze", name)]))
    executed = outcome(execute(chain, proposal_id))
    assert executed.status == proposals_pb2.PROPOSAL_STATUS_FAILED
    assert "code.freeze needs endorsements satisfying the ALL" in executed.failure


# ---- bad input at every entry ----


def test_double_execution_and_votes_after_it_are_refused(chain: Chain) -> None:
    proposal_id = passed(chain, [config_call(endorsements_max=3)])
    assert outcome(execute(chain, proposal_id)).status == proposals_pb2.PROPOSAL_STATUS_EXECUTED
    before = dict(chain.state)
    again = execute(chain, proposal_id)
    assert status_name(again) == "RESULT_STATUS_CONFLICT"
    assert "executed already" in again.error
    late_vote = vote(chain, proposal_id, yes=False)
    assert status_name(late_vote) == "RESULT_STATUS_CONFLICT"
    assert chain.state == before


def test_votes_and_execution_after_the_deadline_are_refused(chain: Chain) -> None:
    proposal_id = passed(chain, [config_call(endorsements_max=3)])
    late = DEADLINE_MS + 1
    before = dict(chain.state)
    result = vote(chain, proposal_id, time_ms=late)
    assert status_name(result) == "RESULT_STATUS_CONFLICT" and "deadline" in result.error
    result = execute(chain, proposal_id, time_ms=late)
    assert status_name(result) == "RESULT_STATUS_CONFLICT" and "deadline" in result.error
    assert chain.state == before
    assert get(chain, proposal_id, time_ms=late).status == proposals_pb2.PROPOSAL_STATUS_EXPIRED
    # At the deadline itself it still executes.
    assert outcome(execute(chain, proposal_id, time_ms=DEADLINE_MS)).status == (
        proposals_pb2.PROPOSAL_STATUS_EXECUTED
    )


def test_unknown_ids_are_refused(chain: Chain) -> None:
    for result in (vote(chain, 7), execute(chain, 7)):
        assert status_name(result) == "RESULT_STATUS_NOT_FOUND"
        assert "no proposal 7" in result.error
    assert status_name(execute(chain, 0)) == "RESULT_STATUS_INVALID_ARGUMENT"
    transaction = chain.transaction(
        "org2/bob", "proposals", "get", proposals_pb2.ProposalsGetArguments(id=9)
    )
    result = chain.executor.query(chain.reader, transaction, BLOCK_TIME_MS, height=1)
    assert status_name(result) == "RESULT_STATUS_NOT_FOUND"


def test_only_admins_create_and_vote(chain: Chain) -> None:
    before = dict(chain.state)
    result = create(chain, [config_call(endorsements_max=3)], sender="org1/alice")
    assert status_name(result) == "RESULT_STATUS_PERMISSION_DENIED"
    assert "ADMIN" in result.error
    assert chain.state == before
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)]))
    result = vote(chain, proposal_id, sender="org2/bob")
    assert status_name(result) == "RESULT_STATUS_PERMISSION_DENIED"
    assert [v.organisation for v in get(chain, proposal_id).votes] == ["org1"]


@pytest.mark.parametrize(
    ("calls", "options", "message"),
    [
        ([], {}, "at least one call"),
        ([config_call()] * (PROPOSAL_CALLS_MAX + 1), {}, "above the limit of 16"),
        (
            [call("proposals", "vote", proposals_pb2.ProposalsVoteArguments(id=1))],
            {},
            "may not call the proposals contract",
        ),
        (
            [call("kv", "put", contracts_pb2.KvPutArguments(key=b"k", value=b"v"))],
            {},
            "only call system contracts' governance methods",
        ),
        (
            [call("ledger", "issue", contracts_pb2.LedgerIssueArguments(account="a", amount=1))],
            {},
            "only call system contracts' governance methods",
        ),
        (
            [call("config", "get", contracts_pb2.ConfigGetArguments())],
            {},
            "only call system contracts' governance methods",
        ),
        # The interchain contracts are not run by this chain.
        (
            [call("hub", "register", contracts_pb2.ConfigGetArguments())],
            {},
            "does not run hub.register",
        ),
        ([config_call()], {"title": " "}, "needs a title"),
        ([config_call()], {"title": "x" * (PROPOSAL_TITLE_CHARACTERS_MAX + 1)}, "title is"),
        ([config_call()], {"deadline_ms": BLOCK_TIME_MS + 3_599_999}, "an hour"),
        ([config_call()], {"deadline_ms": BLOCK_TIME_MS + 90 * DAY_MS + 1}, "90 days"),
    ],
)
def test_bad_proposals_are_refused_and_change_nothing(
    chain: Chain,
    calls: list[proposals_pb2.ProposalCall],
    options: dict[str, object],
    message: str,
) -> None:
    before = dict(chain.state)
    result = create(chain, calls, **options)  # type: ignore[arg-type]
    assert status_name(result) in (
        "RESULT_STATUS_INVALID_ARGUMENT",
        "RESULT_STATUS_UNKNOWN_CONTRACT",
    ), result.error
    assert message in result.error
    assert chain.state == before


def test_call_arguments_are_bounded(chain: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real bound (1 MiB) is above this chain's transaction size: lowered to reach it here.
    monkeypatch.setattr(proposal_draft, "PROPOSAL_CALL_ARGUMENTS_BYTES_MAX", 100)
    large = proposals_pb2.ProposalCall(contract="config", method="update", arguments=b"x" * 101)
    result = create(chain, [large])
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "call 0 (config.update): its arguments are 101 bytes" in result.error
    assert PROPOSAL_CALL_ARGUMENTS_BYTES_MAX == 1 << 20


def test_open_proposals_are_bounded_and_expired_ones_make_room(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proposals_contract, "OPEN_PROPOSALS_MAX", 2)
    short_deadline = BLOCK_TIME_MS + 3_600_000
    for _ in range(2):
        created_id(create(chain, [config_call()], deadline_ms=short_deadline))
    result = create(chain, [config_call()])
    assert status_name(result) == "RESULT_STATUS_CONFLICT"
    assert "2 proposals are open already" in result.error
    later = short_deadline + 1
    proposal_id = created_id(
        create(chain, [config_call()], deadline_ms=later + 7 * DAY_MS, time_ms=later)
    )
    assert proposal_id == 3


def test_list_filters_by_status_and_pages(chain: Chain) -> None:
    first = passed(chain, [config_call(endorsements_max=3)])
    second = created_id(create(chain, [config_call(endorsements_max=4)]))
    third = created_id(create(chain, [config_call(endorsements_max=5)]))
    assert outcome(execute(chain, first)).status == proposals_pb2.PROPOSAL_STATUS_EXECUTED

    def listed(**arguments: int) -> proposals_pb2.ProposalsListResult:
        transaction = chain.transaction(
            "org2/bob",
            "proposals",
            "list",
            proposals_pb2.ProposalsListArguments(**arguments),  # type: ignore[arg-type]
        )
        result = chain.executor.query(chain.reader, transaction, BLOCK_TIME_MS, height=9)
        assert status_name(result) == OK, result.error
        return proposals_pb2.ProposalsListResult.FromString(result.return_value)

    assert [p.id for p in listed().proposals] == [first, second, third]
    open_ones = listed(status=proposals_pb2.PROPOSAL_STATUS_OPEN)
    assert [p.id for p in open_ones.proposals] == [second, third]
    page = listed(limit=2)
    assert [p.id for p in page.proposals] == [first, second]
    assert page.next_start_after == second
    rest = listed(limit=2, start_after=second)
    assert [p.id for p in rest.proposals] == [third] and rest.next_start_after == 0
    transaction = chain.transaction(
        "org2/bob", "proposals", "list", proposals_pb2.ProposalsListArguments(limit=201)
    )
    result = chain.executor.query(chain.reader, transaction, BLOCK_TIME_MS, height=9)
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"


def test_a_proposal_is_stored_under_its_key(chain: Chain) -> None:
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)]))
    stored = proposals_pb2.Proposal.FromString(chain.state[proposal_record_key(proposal_id)])
    assert stored.creator == "org1/admin" and stored.deadline_ms == DEADLINE_MS
    assert stored.created_height == chain.height


def test_execution_is_charged_for_its_calls(chain: Chain) -> None:
    proposal_id = passed(chain, [config_call(endorsements_max=3)])
    direct = chain.run(
        "org1/admin",
        "config",
        "update",
        contracts_pb2.ConfigUpdateArguments(config=default_config()),
        **GOVERNANCE,
    )
    executed = execute(chain, proposal_id)
    assert outcome(executed).status == proposals_pb2.PROPOSAL_STATUS_EXECUTED
    assert executed.cost.bytes_written > direct.cost.bytes_written


def test_interchain_governance_methods_run_where_the_chain_has_them(kit: ChainKit) -> None:
    """On a chain that runs the interchain contracts, a proposal may call their governance
    methods: packets.bind_port runs as if the yes voters endorsed it (it fails here for want of
    a registered application, not for the policy), and the failure is recorded."""
    chain = Chain(
        kit=kit,
        executor=Executor(kit.genesis, kit.profile, CHAIN_CONTRACTS),
        state=genesis_state(kit.genesis),
    )
    bind = interchain_pb2.PacketsBindPortArguments(port="nowhere", contract="nothing")
    proposal_id = passed(chain, [call("packets", "bind_port", bind)])
    executed = outcome(execute(chain, proposal_id))
    assert executed.status == proposals_pb2.PROPOSAL_STATUS_FAILED
    assert "no application 'nothing' is registered for port 'nowhere'" in executed.failure
    assert "needs endorsements" not in executed.failure


@pytest.mark.parametrize("method", ["create", "vote", "execute"])
def test_only_a_transaction_s_own_call_creates_votes_or_executes(
    chain: Chain, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    """A contract the admin calls cannot vote (or create, or execute) in the admin's name."""
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)], vote_yes=False))
    arguments = {
        "create": proposals_pb2.ProposalsCreateArguments(
            title="t", calls=[config_call()], deadline_ms=DEADLINE_MS
        ),
        "vote": proposals_pb2.ProposalsVoteArguments(id=proposal_id, yes=True),
        "execute": proposals_pb2.ProposalsExecuteArguments(id=proposal_id),
    }[method]

    def body(context: TransactionContext) -> bytes:
        target = proposals_contract_registered()
        callee = context.enter(target.name, target.namespace, target.grants)
        return target.methods[method].handler(callee, encode(arguments))

    register_probe(monkeypatch, body)
    before = dict(chain.state)
    result = chain.run("org2/admin", PROBE, "run")
    assert status_name(result) == "RESULT_STATUS_PERMISSION_DENIED"
    assert "when called by contract probe" in result.error
    assert chain.state == before


def proposals_contract_registered() -> Contract:
    return CONTRACTS["proposals"]
