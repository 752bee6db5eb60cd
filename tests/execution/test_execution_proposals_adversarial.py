"""The proposals contract, attacked from its spec (docs/operations.md 3, DESIGN.md 3).

An independent second suite: who may create, vote and execute; one vote per organisation; what
authority an execution carries; deadlines to the millisecond; all or nothing; at most once;
determinism; bad input at every entry; gas. Its last tests break a rule on purpose (monkeypatch)
and show that the rule's check here catches it.

The chain has three organisations, so that the MAJORITY governance policy needs two of them and
one organisation counted twice would be enough to pass it:

    org1: org1/admin (ADMIN, CLIENT), org1/admin2 (ADMIN), org1/alice (CLIENT),
          org1/watcher (LIGHT), org1/node (CONSENSUS)
    org2: org2/admin (ADMIN, CLIENT), org2/bob (CLIENT)
    org3: org3/admin (ADMIN, CLIENT)
"""

from __future__ import annotations

import hashlib

import pytest
import wasmtime
from execution_chain import (
    BLOCK_TIME_MS,
    CHAIN_ID,
    GENESIS_TIME_MS,
    Chain,
    ChainKit,
    build_kit,
    default_config,
    status_name,
)
from test_execution_user_contracts import interface

from causeway.contracts.v1 import contracts_pb2, proposals_pb2
from causeway.execution import Executor, genesis_state
from causeway.execution.context import TransactionContext
from causeway.execution.contracts import membership as membership_contract
from causeway.execution.contracts import proposals as proposals_contract
from causeway.execution.keys import (
    CONFIG_KEY,
    PROPOSALS_NAMESPACE,
    code_record_key,
    member_key,
    organisation_key,
    proposal_record_key,
    user_contract_namespace,
)
from causeway.interchain import CHAIN_CONTRACTS
from causeway.types import encode
from causeway.types.proposal_draft import (
    PROPOSAL_CALLS_MAX,
    PROPOSAL_DESCRIPTION_CHARACTERS_MAX,
    PROPOSAL_TITLE_CHARACTERS_MAX,
)
from causeway.types.v1 import types_pb2

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
DEADLINE_MS = BLOCK_TIME_MS + 7 * DAY_MS
OK = "RESULT_STATUS_OK"
POLICY_NOT_SATISFIED = "RESULT_STATUS_ENDORSEMENT_POLICY_NOT_SATISFIED"
ADMIN = types_pb2.ROLE_ADMIN
CLIENT = types_pb2.ROLE_CLIENT
CONSENSUS = types_pb2.ROLE_CONSENSUS
OPEN = proposals_pb2.PROPOSAL_STATUS_OPEN
EXECUTED = proposals_pb2.PROPOSAL_STATUS_EXECUTED
FAILED = proposals_pb2.PROPOSAL_STATUS_FAILED
EXPIRED = proposals_pb2.PROPOSAL_STATUS_EXPIRED

EXTRA_MEMBERS: dict[str, tuple[int, ...]] = {
    "org1/admin2": (ADMIN,),
    "org1/node": (CONSENSUS,),
    "org3/admin": (ADMIN, CLIENT),
}


def build_three_organisation_kit() -> ChainKit:
    kit = build_kit("intl")
    kit.new_organisation("org3")
    for member_id, roles in EXTRA_MEMBERS.items():
        kit.identities[member_id] = kit.new_identity(member_id, roles)
    kit.genesis = types_pb2.Genesis(
        version=1,
        chain_id=CHAIN_ID,
        genesis_time_ms=GENESIS_TIME_MS,
        crypto_profile=kit.profile.name,
        consensus="solo",
        config=default_config(),
        organisations=list(kit.organisations.values()),
        members=[identity.member for identity in kit.identities.values()],
    )
    return kit


@pytest.fixture(scope="module")
def three_kit() -> ChainKit:
    return build_three_organisation_kit()


def fresh_chain(kit: ChainKit) -> Chain:
    return Chain(
        kit=kit, executor=Executor(kit.genesis, kit.profile), state=genesis_state(kit.genesis)
    )


@pytest.fixture
def chain(three_kit: ChainKit) -> Chain:
    return fresh_chain(three_kit)


# ---- helpers: one transaction per block unless a test builds its own block ----


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


def send(
    chain: Chain,
    sender: str,
    method: str,
    arguments: object,
    *,
    time_ms: int = BLOCK_TIME_MS,
    endorsers: tuple[str, ...] = (),
) -> types_pb2.TransactionResult:
    transaction = chain.transaction(
        sender,
        "proposals",
        method,
        arguments,  # type: ignore[arg-type]
        expiry_ms=time_ms + 60_000,
        timestamp_ms=time_ms,
        endorsers=endorsers,
    )
    return chain.commit([transaction], time_ms=time_ms).results[0]


def create_arguments(
    calls: list[proposals_pb2.ProposalCall],
    *,
    deadline_ms: int = DEADLINE_MS,
    vote_yes: bool = True,
    title: str = "A change",
    description: str = "",
) -> proposals_pb2.ProposalsCreateArguments:
    return proposals_pb2.ProposalsCreateArguments(
        title=title,
        description=description,
        calls=calls,
        deadline_ms=deadline_ms,
        vote_yes=vote_yes,
    )


def create(
    chain: Chain,
    calls: list[proposals_pb2.ProposalCall],
    *,
    sender: str = "org1/admin",
    time_ms: int = BLOCK_TIME_MS,
    **options: object,
) -> types_pb2.TransactionResult:
    arguments = create_arguments(calls, **options)  # type: ignore[arg-type]
    return send(chain, sender, "create", arguments, time_ms=time_ms)


def created_id(result: types_pb2.TransactionResult) -> int:
    assert status_name(result) == OK, result.error
    return proposals_pb2.ProposalsCreateResult.FromString(result.return_value).id


def vote(
    chain: Chain,
    proposal_id: int,
    sender: str,
    *,
    yes: bool = True,
    time_ms: int = BLOCK_TIME_MS,
) -> types_pb2.TransactionResult:
    arguments = proposals_pb2.ProposalsVoteArguments(id=proposal_id, yes=yes)
    return send(chain, sender, "vote", arguments, time_ms=time_ms)


def execute(
    chain: Chain,
    proposal_id: int,
    sender: str = "org2/bob",
    *,
    time_ms: int = BLOCK_TIME_MS,
    endorsers: tuple[str, ...] = (),
) -> types_pb2.TransactionResult:
    arguments = proposals_pb2.ProposalsExecuteArguments(id=proposal_id)
    return send(chain, sender, "execute", arguments, time_ms=time_ms, endorsers=endorsers)


def outcome(result: types_pb2.TransactionResult) -> proposals_pb2.ProposalsExecuteResult:
    assert status_name(result) == OK, result.error
    return proposals_pb2.ProposalsExecuteResult.FromString(result.return_value)


def query(
    chain: Chain, method: str, arguments: object, *, time_ms: int = BLOCK_TIME_MS
) -> types_pb2.TransactionResult:
    transaction = chain.transaction(
        "org2/bob",
        "proposals",
        method,
        arguments,  # type: ignore[arg-type]
        expiry_ms=time_ms + 60_000,
        timestamp_ms=time_ms,
    )
    return chain.executor.query(chain.reader, transaction, time_ms, height=chain.height + 1)


def shown(
    chain: Chain, proposal_id: int, *, time_ms: int = BLOCK_TIME_MS
) -> proposals_pb2.Proposal:
    result = query(
        chain, "get", proposals_pb2.ProposalsGetArguments(id=proposal_id), time_ms=time_ms
    )
    assert status_name(result) == OK, result.error
    return proposals_pb2.ProposalsGetResult.FromString(result.return_value).proposal


def stored(chain: Chain, proposal_id: int) -> proposals_pb2.Proposal:
    return proposals_pb2.Proposal.FromString(chain.state[proposal_record_key(proposal_id)])


def endorsements_max(chain: Chain) -> int:
    return types_pb2.ChainConfig.FromString(chain.state[CONFIG_KEY]).endorsements_max


def governed(chain: Chain, contract: str, method: str, arguments: object) -> None:
    """A direct change endorsed by org1 and org2 (the MAJORITY of three)."""
    result = chain.run(
        "org1/admin",
        contract,
        method,
        arguments,  # type: ignore[arg-type]
        endorsers=["org2/admin"],
    )
    assert status_name(result) == OK, result.error


def proposal_state(chain: Chain) -> dict[bytes, bytes]:
    return {key: value for key, value in chain.state.items() if key.startswith(PROPOSALS_NAMESPACE)}


# ---- who may create, vote and execute ----


@pytest.mark.parametrize("sender", ["org1/alice", "org1/watcher", "org1/node", "org2/bob"])
def test_only_an_admin_creates_or_votes(chain: Chain, sender: str) -> None:
    before = dict(chain.state)
    result = create(chain, [config_call(endorsements_max=3)], sender=sender)
    assert status_name(result) == "RESULT_STATUS_PERMISSION_DENIED", result.error
    assert chain.state == before
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)]))
    before = dict(chain.state)
    result = vote(chain, proposal_id, sender)
    assert status_name(result) == "RESULT_STATUS_PERMISSION_DENIED", result.error
    assert chain.state == before
    assert [v.organisation for v in stored(chain, proposal_id).votes] == ["org1"]


@pytest.mark.parametrize("sender", ["org1/watcher", "org1/node"])
def test_a_member_that_may_not_send_does_not_execute(chain: Chain, sender: str) -> None:
    """LIGHT and CONSENSUS members only read (a CONSENSUS node only reports evidence)."""
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)]))
    assert status_name(vote(chain, proposal_id, "org2/admin")) == OK
    before = dict(chain.state)
    result = execute(chain, proposal_id, sender)
    assert status_name(result) == "RESULT_STATUS_PERMISSION_DENIED", result.error
    assert chain.state == before
    assert stored(chain, proposal_id).status == OPEN


def test_a_removed_admin_and_an_unknown_member_do_nothing(chain: Chain) -> None:
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)], vote_yes=False))
    governed(
        chain,
        "membership",
        "remove_member",
        contracts_pb2.MembershipRemoveMemberArguments(member_id="org1/admin2"),
    )
    assert member_key("org1/admin2") not in chain.state
    before = dict(chain.state)
    for result in (
        create(chain, [config_call()], sender="org1/admin2"),
        vote(chain, proposal_id, "org1/admin2"),
        execute(chain, proposal_id, "org1/admin2"),
    ):
        assert status_name(result) == "RESULT_STATUS_PERMISSION_DENIED", result.error
        assert "not a member" in result.error
    # A member of an organisation the chain does not know (a key nobody enrolled).
    stranger = chain.kit.new_identity("org1/stranger", (ADMIN, CLIENT))
    transaction = chain.transaction(
        stranger,
        "proposals",
        "vote",
        proposals_pb2.ProposalsVoteArguments(id=proposal_id, yes=True),
    )
    result = chain.commit([transaction]).results[0]
    assert status_name(result) == "RESULT_STATUS_PERMISSION_DENIED"
    assert chain.state == before


# ---- one vote per organisation ----


def check_one_vote_per_organisation(chain: Chain) -> None:
    """Two admins of org1, and one of them twice: org1 counts once, so MAJORITY (two of three)
    is not met; the later vote replaces the earlier one."""
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)]))
    assert status_name(vote(chain, proposal_id, "org1/admin2")) == OK
    assert status_name(vote(chain, proposal_id, "org1/admin")) == OK
    votes = stored(chain, proposal_id).votes
    assert [(v.organisation, v.voter) for v in votes] == [("org1", "org1/admin")]
    result = query(chain, "get", proposals_pb2.ProposalsGetArguments(id=proposal_id))
    got = proposals_pb2.ProposalsGetResult.FromString(result.return_value)
    assert list(got.counted_yes) == ["org1"] and not got.policy_met
    before = dict(chain.state)
    result = execute(chain, proposal_id)
    assert status_name(result) == POLICY_NOT_SATISFIED, result.error
    assert chain.state == before
    # A no of org1's other admin replaces org1's yes: org2's yes alone is not a majority.
    assert status_name(vote(chain, proposal_id, "org1/admin2", yes=False)) == OK
    assert status_name(vote(chain, proposal_id, "org2/admin")) == OK
    assert status_name(execute(chain, proposal_id)) == POLICY_NOT_SATISFIED
    assert endorsements_max(chain) == 8


def test_one_organisation_is_counted_once(chain: Chain) -> None:
    check_one_vote_per_organisation(chain)


def check_execution_needs_the_policy(chain: Chain) -> None:
    """The executor's own admin organisation and endorsements on the execute transaction are not
    votes: only org1 voted yes, so nothing changes."""
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)]))
    before = dict(chain.state)
    for result in (
        execute(chain, proposal_id, "org3/admin"),
        execute(chain, proposal_id, "org2/bob", endorsers=("org2/admin", "org3/admin")),
    ):
        assert status_name(result) == POLICY_NOT_SATISFIED, result.error
        assert "organisations that voted yes: org1" in result.error
    assert chain.state == before
    assert stored(chain, proposal_id).status == OPEN


def test_execution_counts_votes_not_the_executor_or_its_endorsers(chain: Chain) -> None:
    check_execution_needs_the_policy(chain)


def test_a_no_vote_of_a_majority_organisation_is_not_counted_as_yes(chain: Chain) -> None:
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)]))
    assert status_name(vote(chain, proposal_id, "org2/admin", yes=False)) == OK
    assert status_name(vote(chain, proposal_id, "org3/admin", yes=False)) == OK
    assert status_name(execute(chain, proposal_id, "org2/admin")) == POLICY_NOT_SATISFIED
    assert status_name(vote(chain, proposal_id, "org3/admin")) == OK
    assert outcome(execute(chain, proposal_id, "org2/admin")).status == EXECUTED
    assert endorsements_max(chain) == 3


# ---- an execution carries the voters' authority and no more ----


def test_calls_cannot_lower_a_policy_and_rely_on_it_in_the_same_execution(chain: Chain) -> None:
    """Code changes need ALL organisations (contract_policy); a proposal of two voters lowers it
    to MAJORITY in its first call and deploys in its second: the deploy still sees ALL, fails,
    and the lowered policy is rolled back with it."""
    config = default_config()
    config.contract_policy.kind = types_pb2.POLICY_KIND_ALL
    governed(chain, "config", "update", contracts_pb2.ConfigUpdateArguments(config=config))
    lowered = default_config()
    lowered.contract_policy.kind = types_pb2.POLICY_KIND_MAJORITY
    deploy = contracts_pb2.CodeDeployArguments(
        name="sneaky", code=_module("get"), interface_json=interface(["get"])
    )
    proposal_id = created_id(
        create(
            chain,
            [
                call("config", "update", contracts_pb2.ConfigUpdateArguments(config=lowered)),
                call("code", "deploy", deploy),
            ],
        )
    )
    assert status_name(vote(chain, proposal_id, "org2/admin")) == OK
    before_config = chain.state[CONFIG_KEY]
    executed = outcome(execute(chain, proposal_id))
    assert executed.status == FAILED and executed.failed_call == 1
    assert "code.deploy needs endorsements satisfying the ALL" in executed.failure
    assert chain.state[CONFIG_KEY] == before_config
    assert code_record_key("sneaky") not in chain.state


def test_a_new_organisation_added_by_a_call_adds_no_vote(chain: Chain) -> None:
    """A proposal adds org4 and its admin, then changes the configuration: the votes stay those
    given (org1, org2), and the later call's policy counts the organisations the transaction
    found, so org4 neither votes nor changes the count."""
    organisation = chain.kit.new_organisation("org4")
    admin = chain.kit.new_identity("org4/admin", (ADMIN, CLIENT))
    config = default_config()
    config.governance_policy.kind = types_pb2.POLICY_KIND_ALL
    proposal_id = created_id(
        create(
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
                call("config", "update", contracts_pb2.ConfigUpdateArguments(config=config)),
            ],
        )
    )
    assert status_name(vote(chain, proposal_id, "org2/admin")) == OK
    assert outcome(execute(chain, proposal_id)).status == EXECUTED
    assert organisation_key("org4") in chain.state
    # Now ALL four are needed: the three voters of a new proposal are not enough.
    next_id = created_id(create(chain, [config_call(endorsements_max=3)]))
    for admin_id in ("org2/admin", "org3/admin"):
        assert status_name(vote(chain, next_id, admin_id)) == OK
    assert status_name(execute(chain, next_id)) == POLICY_NOT_SATISFIED
    chain.kit.identities["org4/admin"] = admin
    assert status_name(vote(chain, next_id, "org4/admin")) == OK
    assert outcome(execute(chain, next_id)).status == EXECUTED


def test_a_proposal_cannot_grow_the_chain_past_its_organisation_bound(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ORGANISATIONS_MAX holds for the calls of one execution too: each add_organisation counts
    the organisations the calls before it added (lowered to four here, to reach it)."""
    monkeypatch.setattr(membership_contract, "ORGANISATIONS_MAX", 4)
    calls = [
        call(
            "membership",
            "add_organisation",
            contracts_pb2.MembershipAddOrganisationArguments(
                organisation=chain.kit.new_organisation(organisation_id)
            ),
        )
        for organisation_id in ("org4", "org5")
    ]
    proposal_id = created_id(create(chain, calls))
    assert status_name(vote(chain, proposal_id, "org2/admin")) == OK
    executed = outcome(execute(chain, proposal_id))
    assert executed.status == FAILED and executed.failed_call == 1
    assert "already has 4 organisations" in executed.failure
    assert organisation_key("org4") not in chain.state
    assert organisation_key("org5") not in chain.state


# ---- deadlines, to the millisecond ----


@pytest.mark.parametrize(
    ("after_ms", "accepted"),
    [
        (HOUR_MS - 1, False),
        (HOUR_MS, True),
        (90 * DAY_MS, True),
        (90 * DAY_MS + 1, False),
        (0, False),
        (-DAY_MS, False),
        (-(2**62), False),
        (2**63 - 1 - BLOCK_TIME_MS, False),
    ],
)
def test_deadline_bounds(chain: Chain, after_ms: int, accepted: bool) -> None:
    before = dict(chain.state)
    result = create(chain, [config_call()], deadline_ms=BLOCK_TIME_MS + after_ms)
    if accepted:
        assert stored(chain, created_id(result)).deadline_ms == BLOCK_TIME_MS + after_ms
    else:
        assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT", result.error
        assert "an hour" in result.error and "90 days" in result.error
        assert chain.state == before


def test_votes_and_execution_at_the_deadline_and_one_ms_after(chain: Chain) -> None:
    deadline = BLOCK_TIME_MS + HOUR_MS
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)], deadline_ms=deadline))
    assert status_name(vote(chain, proposal_id, "org2/admin", time_ms=deadline - 1)) == OK
    assert shown(chain, proposal_id, time_ms=deadline).status == OPEN
    assert shown(chain, proposal_id, time_ms=deadline + 1).status == EXPIRED
    before = dict(chain.state)
    for result in (
        vote(chain, proposal_id, "org3/admin", time_ms=deadline + 1),
        execute(chain, proposal_id, time_ms=deadline + 1),
    ):
        assert status_name(result) == "RESULT_STATUS_CONFLICT", result.error
        assert "deadline" in result.error
    assert chain.state == before
    # Expired is never stored; at the deadline itself, execution still runs.
    assert stored(chain, proposal_id).status == OPEN
    assert status_name(vote(chain, proposal_id, "org3/admin", time_ms=deadline)) == OK
    assert outcome(execute(chain, proposal_id, time_ms=deadline)).status == EXECUTED
    assert endorsements_max(chain) == 3
    # An executed proposal is reported executed, not expired, long after.
    assert shown(chain, proposal_id, time_ms=deadline + DAY_MS).status == EXECUTED


def test_expired_proposals_are_listed_as_expired(chain: Chain) -> None:
    deadline = BLOCK_TIME_MS + HOUR_MS
    short = created_id(create(chain, [config_call()], deadline_ms=deadline))
    long = created_id(create(chain, [config_call()]))

    def listed(status: int, time_ms: int) -> list[int]:
        arguments = proposals_pb2.ProposalsListArguments(status=status)  # type: ignore[arg-type]
        result = query(chain, "list", arguments, time_ms=time_ms)
        assert status_name(result) == OK, result.error
        return [
            p.id
            for p in proposals_pb2.ProposalsListResult.FromString(result.return_value).proposals
        ]

    assert listed(OPEN, deadline) == [short, long]
    assert listed(EXPIRED, deadline) == []
    assert listed(OPEN, deadline + 1) == [long]
    assert listed(EXPIRED, deadline + 1) == [short]


# ---- all or nothing, at most once ----


def test_a_failing_third_call_keeps_nothing_of_the_first_two(chain: Chain) -> None:
    check_all_or_nothing(chain)


def check_all_or_nothing(chain: Chain) -> None:
    organisation = chain.kit.new_organisation("org4")
    calls = [
        config_call(endorsements_max=3),
        call(
            "membership",
            "add_organisation",
            contracts_pb2.MembershipAddOrganisationArguments(organisation=organisation),
        ),
        # org3/admin is org3's last admin: refused.
        call(
            "membership",
            "remove_member",
            contracts_pb2.MembershipRemoveMemberArguments(member_id="org3/admin"),
        ),
    ]
    proposal_id = created_id(create(chain, calls))
    assert status_name(vote(chain, proposal_id, "org3/admin")) == OK
    before = {
        key: value for key, value in chain.state.items() if not key.startswith(PROPOSALS_NAMESPACE)
    }
    result = execute(chain, proposal_id)
    executed = outcome(result)
    assert executed.status == FAILED and executed.failed_call == 2
    assert list(executed.return_values) == []
    assert "last admin of org3" in executed.failure
    after = {
        key: value for key, value in chain.state.items() if not key.startswith(PROPOSALS_NAMESPACE)
    }
    assert after == before
    # No event of a rolled-back call: only the failure.
    assert [(event.contract, event.name) for event in result.events] == [("proposals", "failed")]
    attributes = {a.key: a.value for a in result.events[0].attributes}
    assert attributes["call"] == "2" and attributes["status"] == "RESULT_STATUS_CONFLICT"
    record = stored(chain, proposal_id)
    assert record.status == FAILED and record.failed_call == 2
    assert record.failure_status == types_pb2.RESULT_STATUS_CONFLICT
    assert record.executor == "org2/bob" and record.executed_height == chain.height
    # Final: neither executed again nor voted on, and the failure stays as recorded.
    before = dict(chain.state)
    again = execute(chain, proposal_id)
    assert status_name(again) == "RESULT_STATUS_CONFLICT" and "failed already" in again.error
    assert (
        status_name(vote(chain, proposal_id, "org2/admin", yes=False)) == "RESULT_STATUS_CONFLICT"
    )
    assert chain.state == before


def test_two_executions_in_one_block_run_once(chain: Chain) -> None:
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)]))
    assert status_name(vote(chain, proposal_id, "org2/admin")) == OK
    arguments = proposals_pb2.ProposalsExecuteArguments(id=proposal_id)
    transactions = [
        chain.transaction(sender, "proposals", "execute", arguments)
        for sender in ("org2/bob", "org1/alice")
    ]
    results = chain.commit(transactions).results
    assert outcome(results[0]).status == EXECUTED
    assert status_name(results[1]) == "RESULT_STATUS_CONFLICT"
    assert "executed already" in results[1].error
    assert [event.name for event in results[0].events] == ["update", "executed"]
    assert list(results[1].events) == []
    assert stored(chain, proposal_id).executor == "org2/bob"


def test_a_vote_after_the_execution_in_the_same_block_is_refused(chain: Chain) -> None:
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)]))
    assert status_name(vote(chain, proposal_id, "org2/admin")) == OK
    transactions = [
        chain.transaction(
            "org2/bob",
            "proposals",
            "execute",
            proposals_pb2.ProposalsExecuteArguments(id=proposal_id),
        ),
        chain.transaction(
            "org2/admin",
            "proposals",
            "vote",
            proposals_pb2.ProposalsVoteArguments(id=proposal_id, yes=False),
        ),
    ]
    results = chain.commit(transactions).results
    assert outcome(results[0]).status == EXECUTED
    assert status_name(results[1]) == "RESULT_STATUS_CONFLICT"
    assert [(v.organisation, v.yes) for v in stored(chain, proposal_id).votes] == [
        ("org1", True),
        ("org2", True),
    ]


# ---- determinism ----


def state_root(state: dict[bytes, bytes]) -> bytes:
    digest = hashlib.sha256()
    for key in sorted(state):
        digest.update(len(key).to_bytes(4, "big") + key + len(state[key]).to_bytes(4, "big"))
        digest.update(state[key])
    return digest.digest()


def test_the_same_transactions_give_the_same_state_on_two_executors(three_kit: ChainKit) -> None:
    """Blocks signed once, applied to two executors over two copies of the genesis state; the
    votes come in an order other than the organisations' so that any dict or set order would
    show."""
    author = fresh_chain(three_kit)
    calls = [config_call(endorsements_max=3), config_call(endorsements_max=5)]
    blocks = [
        [author.transaction("org3/admin", "proposals", "create", create_arguments(calls))],
        [
            author.transaction(
                sender, "proposals", "vote", proposals_pb2.ProposalsVoteArguments(id=1, yes=True)
            )
            for sender in ("org2/admin", "org1/admin2", "org1/admin")
        ],
        [
            author.transaction(
                "org1/alice", "proposals", "execute", proposals_pb2.ProposalsExecuteArguments(id=1)
            )
        ],
    ]
    chains = [fresh_chain(three_kit), fresh_chain(three_kit)]
    outputs: list[list[bytes]] = []
    for replica in chains:
        results = [encode(result) for block in blocks for result in replica.commit(block).results]
        outputs.append(results)
    assert outputs[0] == outputs[1]
    assert state_root(chains[0].state) == state_root(chains[1].state)
    assert endorsements_max(chains[0]) == 5
    assert [v.organisation for v in stored(chains[0], 1).votes] == ["org1", "org2", "org3"]


# ---- bad input at every entry ----


@pytest.mark.parametrize("method", ["create", "vote", "execute"])
@pytest.mark.parametrize(
    "arguments",
    [
        b"\xff\xff\xff",  # not protobuf
        b"\x0a\x05ab",  # a length past the end
        b"\xf8\xff\xff\xff\x0f\x01",  # an unknown field
        b"\x08\x01\x08\x02",  # a field twice: not canonical
    ],
)
def test_malformed_arguments_are_refused(chain: Chain, method: str, arguments: bytes) -> None:
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)]))
    assert status_name(vote(chain, proposal_id, "org2/admin")) == OK
    before = dict(chain.state)
    result = chain.run("org1/admin", "proposals", method, arguments)
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT", result.error
    assert result.error
    assert chain.state == before


@pytest.mark.parametrize(
    ("calls", "options", "status", "message"),
    [
        ([], {}, "RESULT_STATUS_INVALID_ARGUMENT", "at least one call"),
        (
            [config_call()] * (PROPOSAL_CALLS_MAX + 1),
            {},
            "RESULT_STATUS_INVALID_ARGUMENT",
            "above the limit of 16",
        ),
        (
            [config_call()],
            {"title": "x" * (PROPOSAL_TITLE_CHARACTERS_MAX + 1)},
            "RESULT_STATUS_INVALID_ARGUMENT",
            "title is 201 characters",
        ),
        ([config_call()], {"title": ""}, "RESULT_STATUS_INVALID_ARGUMENT", "needs a title"),
        ([config_call()], {"title": "two\nlines"}, "RESULT_STATUS_INVALID_ARGUMENT", "one line"),
        (
            [config_call()],
            {"description": "d" * (PROPOSAL_DESCRIPTION_CHARACTERS_MAX + 1)},
            "RESULT_STATUS_INVALID_ARGUMENT",
            "description is 10001 characters",
        ),
        (
            [proposals_pb2.ProposalCall(contract="nowhere", method="update")],
            {},
            "RESULT_STATUS_INVALID_ARGUMENT",
            "only call system contracts' governance methods",
        ),
        (
            [proposals_pb2.ProposalCall(contract="config", method="nothing")],
            {},
            "RESULT_STATUS_INVALID_ARGUMENT",
            "only call system contracts' governance methods",
        ),
        (
            [proposals_pb2.ProposalCall(contract="proposals", method="execute")],
            {},
            "RESULT_STATUS_INVALID_ARGUMENT",
            "may not call the proposals contract",
        ),
        (
            [proposals_pb2.ProposalCall(contract="", method="")],
            {},
            "RESULT_STATUS_INVALID_ARGUMENT",
            "is not a name",
        ),
        (
            [proposals_pb2.ProposalCall(contract="clients", method="create")],
            {},
            "RESULT_STATUS_UNKNOWN_CONTRACT",
            "does not run clients.create",
        ),
    ],
)
def test_bad_proposals_are_refused_at_creation(
    chain: Chain,
    calls: list[proposals_pb2.ProposalCall],
    options: dict[str, object],
    status: str,
    message: str,
) -> None:
    before = dict(chain.state)
    result = create(chain, calls, **options)  # type: ignore[arg-type]
    assert status_name(result) == status, result.error
    assert message in result.error
    assert chain.state == before


def test_a_title_at_its_bounds_is_accepted(chain: Chain) -> None:
    title = "x" * PROPOSAL_TITLE_CHARACTERS_MAX
    description = "d" * PROPOSAL_DESCRIPTION_CHARACTERS_MAX
    proposal_id = created_id(
        create(chain, [config_call()] * PROPOSAL_CALLS_MAX, title=title, description=description)
    )
    record = stored(chain, proposal_id)
    assert record.title == title and len(record.calls) == PROPOSAL_CALLS_MAX


@pytest.mark.parametrize("proposal_id", [0, 2, 2**64 - 1])
def test_ids_that_name_no_proposal_are_refused(chain: Chain, proposal_id: int) -> None:
    created_id(create(chain, [config_call()]))
    before = dict(chain.state)
    expected = "RESULT_STATUS_INVALID_ARGUMENT" if proposal_id == 0 else "RESULT_STATUS_NOT_FOUND"
    for result in (
        vote(chain, proposal_id, "org2/admin"),
        execute(chain, proposal_id),
        query(chain, "get", proposals_pb2.ProposalsGetArguments(id=proposal_id)),
    ):
        assert status_name(result) == expected, result.error
    assert chain.state == before


def test_list_limits(chain: Chain) -> None:
    for _ in range(3):
        created_id(create(chain, [config_call()]))

    def listed(**arguments: int) -> types_pb2.TransactionResult:
        return query(chain, "list", proposals_pb2.ProposalsListArguments(**arguments))  # type: ignore[arg-type]

    def ids(result: types_pb2.TransactionResult) -> list[int]:
        assert status_name(result) == OK, result.error
        return [
            p.id
            for p in proposals_pb2.ProposalsListResult.FromString(result.return_value).proposals
        ]

    assert ids(listed(limit=0)) == [1, 2, 3]  # 0: the default page
    assert ids(listed(limit=proposals_contract.LIST_LIMIT_MAX)) == [1, 2, 3]
    assert ids(listed(limit=1, start_after=2)) == [3]
    assert ids(listed(start_after=2**64 - 1)) == []
    for arguments in ({"limit": proposals_contract.LIST_LIMIT_MAX + 1}, {"limit": 2**32 - 1}):
        result = listed(**arguments)
        assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
        assert "above the maximum" in result.error
    result = query(chain, "list", b"\x08\x63")  # status 99
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "unknown proposal status 99" in result.error
    page = proposals_pb2.ProposalsListResult.FromString(listed(limit=1).return_value)
    assert page.next_start_after == 1


def test_arguments_that_do_not_decode_for_the_target_are_refused_at_creation(
    chain: Chain,
) -> None:
    """A call whose arguments are not the target method's arguments message could never run:
    refused when the proposal is made, before any admin votes on it."""
    before = dict(chain.state)
    bad = proposals_pb2.ProposalCall(contract="config", method="update", arguments=b"\xff\x01")
    result = create(chain, [config_call(endorsements_max=3), bad])
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT", result.error
    assert "call 1 (config.update)" in result.error
    assert chain.state == before


def _module(*exports: str) -> bytes:
    functions = " ".join(f'(func (export "{name}"))' for name in exports)
    return bytes(
        wasmtime.wat2wasm(
            f'(module (memory (export "memory") 1) (func (export "causeway_abi_v1")) {functions})'
        )
    )


def test_a_user_contract_named_like_a_governance_contract_is_not_callable(chain: Chain) -> None:
    """This chain runs no interchain contracts, so "hub" is free for a user contract with a
    "register" method; a proposal still may call only the system contracts' methods."""
    deploy = contracts_pb2.CodeDeployArguments(
        name="hub", code=_module("register"), interface_json=interface(["register"])
    )
    governed(chain, "code", "deploy", deploy)
    assert code_record_key("hub") in chain.state
    before = dict(chain.state)
    result = create(chain, [call("hub", "register", contracts_pb2.ConfigGetArguments())])
    assert status_name(result) == "RESULT_STATUS_UNKNOWN_CONTRACT", result.error
    assert "does not run hub.register" in result.error
    assert chain.state == before


# ---- gas ----


def test_many_calls_are_charged_for(chain: Chain) -> None:
    costs: dict[int, types_pb2.Cost] = {}
    for count in (1, 8):
        proposal_id = created_id(create(chain, [config_call(endorsements_max=3)] * count))
        assert status_name(vote(chain, proposal_id, "org2/admin")) == OK
        result = execute(chain, proposal_id)
        assert outcome(result).status == EXECUTED
        costs[count] = result.cost
    one_write = len(CONFIG_KEY) + len(encode(default_config()))
    assert costs[8].writes >= costs[1].writes + 7
    assert costs[8].bytes_written >= costs[1].bytes_written + 7 * (one_write - 8)
    assert costs[8].gas_used > costs[1].gas_used


def test_running_out_of_gas_leaves_the_proposal_open_and_nothing_written(chain: Chain) -> None:
    """A deployment whose module never starts uses all the transaction's gas: the execute
    transaction fails as a whole, the earlier call's change is not kept, nothing is recorded,
    and the proposal stays open."""
    looping = bytes(
        wasmtime.wat2wasm(
            '(module (memory (export "memory") 1) (func (export "causeway_abi_v1")) '
            '(func (export "get")) (func $forever (loop $again (br $again))) (start $forever))'
        )
    )
    deploy = contracts_pb2.CodeDeployArguments(
        name="looping", code=looping, interface_json=interface(["get"])
    )
    proposal_id = created_id(
        create(chain, [config_call(endorsements_max=3), call("code", "deploy", deploy)])
    )
    assert status_name(vote(chain, proposal_id, "org2/admin")) == OK
    before = dict(chain.state)
    result = execute(chain, proposal_id)
    assert status_name(result) == "RESULT_STATUS_OUT_OF_GAS", result.error
    assert result.cost.gas_used >= default_config().transaction_gas_max
    assert chain.state == before
    assert list(result.events) == []
    assert shown(chain, proposal_id).status == OPEN


# ---- the checks catch a broken rule ----


def test_the_policy_check_catches_an_execution_that_skips_the_policy(
    three_kit: ChainKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proposals_contract, "evaluate_policy", lambda *_: True)
    with pytest.raises(AssertionError):
        check_execution_needs_the_policy(fresh_chain(three_kit))
    monkeypatch.undo()
    check_execution_needs_the_policy(fresh_chain(three_kit))


def test_the_vote_check_catches_an_organisation_counted_once_per_admin(
    three_kit: ChainKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken rule: each admin's vote kept as its own (one per voter, not per organisation),
    and every voter's organisation counted: org1's two admins would make a majority."""

    def set_vote_per_admin(
        proposal: proposals_pb2.Proposal, new: proposals_pb2.ProposalVote
    ) -> None:
        kept = [v for v in proposal.votes if v.voter != new.voter]
        del proposal.votes[:]
        proposal.votes.extend([*kept, new])

    def count_per_admin(proposal: proposals_pb2.Proposal, organisations: object) -> frozenset[str]:
        yes_voters = [v for v in proposal.votes if v.yes]
        # Two yes voters of one organisation stand in for two organisations.
        return frozenset(
            ["org1", "org2"] if len(yes_voters) > 1 else [v.organisation for v in yes_voters]
        )

    monkeypatch.setattr(proposals_contract, "_set_vote", set_vote_per_admin)
    monkeypatch.setattr(proposals_contract, "yes_organisations", count_per_admin)
    with pytest.raises(AssertionError):
        check_one_vote_per_organisation(fresh_chain(three_kit))
    monkeypatch.undo()
    check_one_vote_per_organisation(fresh_chain(three_kit))


def test_the_proposal_state_is_the_contract_s_own(chain: Chain) -> None:
    """Creating and voting write only under sys/proposals/ (nothing a governance call owns)."""
    before = dict(chain.state)
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)]))
    assert status_name(vote(chain, proposal_id, "org2/admin")) == OK
    changed = {
        key for key in set(chain.state) | set(before) if chain.state.get(key) != before.get(key)
    }
    assert changed and all(key.startswith(PROPOSALS_NAMESPACE) for key in changed)
    assert proposal_state(chain)


def test_every_governance_method_declares_its_arguments() -> None:
    """What lets create check a call's arguments: each method a proposal may call says which
    message its arguments are (CHAIN_CONTRACTS: every contract a chain may run)."""
    for contract, method in sorted(proposals_contract.GOVERNANCE_CALLS):
        assert CHAIN_CONTRACTS[contract].methods[method].arguments is not None, (contract, method)


def test_arguments_of_another_message_are_refused_at_creation(chain: Chain) -> None:
    """Canonical decoding refuses fields the target's message does not have: a membership
    argument sent to config.update is caught when the proposal is made."""
    before = dict(chain.state)
    wrong = call(
        "config",
        "update",
        contracts_pb2.MembershipRemoveMemberArguments(member_id="org3/admin"),
    )
    result = create(chain, [wrong])
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT", result.error
    assert "not a causeway.contracts.v1.ConfigUpdateArguments" in result.error
    assert chain.state == before


OWNER_WAT = """
(module
  (import "causeway" "context_read" (func $context_read (param i32 i32 i32) (result i32)))
  (import "causeway" "state_put" (func $state_put (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "owner")
  (func (export "causeway_abi_v1"))
  (func (export "get"))
  ;; Records its caller as the owner, as a token contract's init would.
  (func (export "init")
    (local $length i32)
    (local.set $length (call $context_read (i32.const 0) (i32.const 64) (i32.const 200)))
    (call $state_put (i32.const 0) (i32.const 5) (i32.const 64) (local.get $length)))
)
"""


def test_whoever_executes_a_deployment_does_not_become_its_caller(chain: Chain) -> None:
    """Any member may execute a passed proposal; the deployed module's init must not see that
    member as the one who deployed it (it would make it the owner of a contract the consortium
    voted for): it sees the proposals contract. A direct deployment still sees its sender."""
    owner_key = user_contract_namespace("owned") + b"owner"
    deploy = contracts_pb2.CodeDeployArguments(
        name="owned",
        code=bytes(wasmtime.wat2wasm(OWNER_WAT)),
        interface_json=interface(["init", "get"]),
    )
    proposal_id = created_id(create(chain, [call("code", "deploy", deploy)]))
    assert status_name(vote(chain, proposal_id, "org2/admin")) == OK
    assert outcome(execute(chain, proposal_id, "org2/bob")).status == EXECUTED
    assert chain.state[owner_key] == b"contract:proposals"
    direct = fresh_chain(chain.kit)
    governed(direct, "code", "deploy", deploy)
    assert direct.state[owner_key] == b"org1/admin"


def test_the_atomicity_check_catches_an_execution_that_keeps_earlier_calls(
    three_kit: ChainKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken rule: a failed call's rollback keeps what the calls before it wrote."""
    monkeypatch.setattr(TransactionContext, "rollback_to", _keep_writes)
    with pytest.raises(AssertionError):
        check_all_or_nothing(fresh_chain(three_kit))
    monkeypatch.undo()
    check_all_or_nothing(fresh_chain(three_kit))


def _keep_writes(context: object, savepoint: object) -> None:
    """rollback_to that forgets to roll back: ends the savepoint, keeps its writes."""
    context.release(savepoint)  # type: ignore[attr-defined]


def test_only_the_organisations_a_policy_names_count(chain: Chain) -> None:
    """A governance policy over [org3] alone: the yes votes of org1 and org2 (a majority of the
    chain) prove nothing; org3's does."""
    config = default_config()
    config.governance_policy.CopyFrom(
        types_pb2.EndorsementPolicy(kind=types_pb2.POLICY_KIND_K_OF_N, k=1, organisations=["org3"])
    )
    governed(chain, "config", "update", contracts_pb2.ConfigUpdateArguments(config=config))
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)]))
    assert status_name(vote(chain, proposal_id, "org2/admin")) == OK
    result = execute(chain, proposal_id)
    assert status_name(result) == POLICY_NOT_SATISFIED, result.error
    assert "1-of-n of [org3]" in result.error
    assert status_name(vote(chain, proposal_id, "org3/admin")) == OK
    assert outcome(execute(chain, proposal_id)).status == EXECUTED
    assert endorsements_max(chain) == 3


def test_a_proposal_open_at_its_deadline_still_takes_a_place(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The open index frees a place only after the deadline, as votes and execution end: at
    the deadline itself the proposal still counts; one millisecond later it makes room."""
    monkeypatch.setattr(proposals_contract, "OPEN_PROPOSALS_MAX", 1)
    deadline = BLOCK_TIME_MS + HOUR_MS
    created_id(create(chain, [config_call()], deadline_ms=deadline))
    at_deadline = create(chain, [config_call()], deadline_ms=deadline + DAY_MS, time_ms=deadline)
    assert status_name(at_deadline) == "RESULT_STATUS_CONFLICT", at_deadline.error
    later = create(chain, [config_call()], deadline_ms=deadline + DAY_MS, time_ms=deadline + 1)
    assert created_id(later) == 2
    # Executed and failed proposals leave the index at once.
    assert status_name(vote(chain, 2, "org2/admin", time_ms=deadline + 1)) == OK
    assert outcome(execute(chain, 2, time_ms=deadline + 1)).status == EXECUTED
    assert created_id(create(chain, [config_call()], time_ms=deadline + 1)) == 3


def test_a_vote_of_an_admin_since_removed_no_longer_counts(chain: Chain) -> None:
    """org1/admin2 votes yes and is then removed: org1's yes goes with it, so org1 and org2 no
    longer make a majority until an admin of org1 that stands votes again."""
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)], vote_yes=False))
    assert status_name(vote(chain, proposal_id, "org1/admin2")) == OK
    assert status_name(vote(chain, proposal_id, "org2/admin")) == OK
    result = query(chain, "get", proposals_pb2.ProposalsGetArguments(id=proposal_id))
    assert proposals_pb2.ProposalsGetResult.FromString(result.return_value).policy_met
    governed(
        chain,
        "membership",
        "remove_member",
        contracts_pb2.MembershipRemoveMemberArguments(member_id="org1/admin2"),
    )
    result = query(chain, "get", proposals_pb2.ProposalsGetArguments(id=proposal_id))
    got = proposals_pb2.ProposalsGetResult.FromString(result.return_value)
    assert list(got.counted_yes) == ["org2"] and not got.policy_met
    before = dict(chain.state)
    result = execute(chain, proposal_id)
    assert status_name(result) == POLICY_NOT_SATISFIED, result.error
    assert "organisations that voted yes: org2" in result.error
    assert chain.state == before
    # org1's admin that stands votes: the majority is back.
    assert status_name(vote(chain, proposal_id, "org1/admin")) == OK
    assert status_name(execute(chain, proposal_id)) == OK
    assert endorsements_max(chain) == 3


def test_a_no_vote_of_an_admin_since_removed_no_longer_rejects(chain: Chain) -> None:
    """Under an ALL policy one no rejects, but not the no of an admin since removed; the same no
    from org1's admin that stands does."""
    proposal_id = created_id(create(chain, [config_call(endorsements_max=3)], vote_yes=False))
    assert status_name(vote(chain, proposal_id, "org1/admin2", yes=False)) == OK
    governed(
        chain,
        "membership",
        "remove_member",
        contracts_pb2.MembershipRemoveMemberArguments(member_id="org1/admin2"),
    )
    config = default_config()
    config.governance_policy.CopyFrom(types_pb2.EndorsementPolicy(kind=types_pb2.POLICY_KIND_ALL))
    governed(chain, "config", "update", contracts_pb2.ConfigUpdateArguments(config=config))
    result = query(chain, "get", proposals_pb2.ProposalsGetArguments(id=proposal_id))
    assert not proposals_pb2.ProposalsGetResult.FromString(result.return_value).rejectable
    assert status_name(vote(chain, proposal_id, "org1/admin", yes=False)) == OK
    result = query(chain, "get", proposals_pb2.ProposalsGetArguments(id=proposal_id))
    assert proposals_pb2.ProposalsGetResult.FromString(result.return_value).rejectable
