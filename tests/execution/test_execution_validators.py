from __future__ import annotations

import pytest
from execution_chain import BLOCK_TIME_MS, Chain, ChainKit, new_chain, status_name
from validator_chain import (
    ENDORSERS,
    GENESIS_VALIDATORS,
    GOVERNANCE,
    powers_at,
    update_arguments,
    validator_chain,
    validator_record,
)

from causeway.contracts.v1 import contracts_pb2
from causeway.errors import HeightUnavailableError
from causeway.execution import (
    EVIDENCE_AGE_MAX_HEIGHTS,
    VALIDATOR_CHANGE_DELAY_HEIGHTS,
    VALIDATORS_MAX,
    VOTING_POWER_MAX,
)
from causeway.execution.contracts import validators as validators_contract
from causeway.execution.keys import VALIDATOR_SCHEDULE_KEY
from causeway.types import DecodedTransaction, encode
from causeway.types.v1 import types_pb2

GENESIS_POWERS = {"org1/node1": 10, "org2/node2": 10, "org1/node3": 10}


def update(
    chain: Chain, arguments: contracts_pb2.ValidatorsUpdateArguments, **options: object
) -> types_pb2.TransactionResult:
    options = {**GOVERNANCE, **options}
    return chain.run("org1/admin", "validators", "update", arguments, **options)


def schedule_of(chain: Chain) -> list[int]:
    schedule = contracts_pb2.ValidatorSchedule.FromString(chain.state[VALIDATOR_SCHEDULE_KEY])
    return [entry.from_height for entry in schedule.entries]


@pytest.fixture
def tbft(validator_kit: ChainKit) -> Chain:
    return validator_chain(validator_kit, "tbft")


@pytest.fixture
def raft(validator_kit: ChainKit) -> Chain:
    return validator_chain(validator_kit, "raft")


# ---- the schedule and validator_set_at -----------------------------------------------------------


def test_genesis_schedule_holds_the_genesis_set_exactly_as_given(tbft: Chain) -> None:
    genesis = tbft.kit.genesis
    for height in (1, 2, 1_000_000):
        from_height, validator_set = tbft.executor.validator_set_at(tbft.reader, height)
        assert from_height == 1
        # Byte for byte: nodes hash encode(genesis.validators) for height 1.
        assert encode(validator_set) == encode(genesis.validators)
    assert [v.member_id for v in validator_set.validators] == list(GENESIS_VALIDATORS)
    with pytest.raises(HeightUnavailableError, match="height 0"):
        tbft.executor.validator_set_at(tbft.reader, 0)


def test_delay_constant() -> None:
    assert VALIDATOR_CHANGE_DELAY_HEIGHTS == 2


def test_update_takes_effect_two_heights_later(tbft: Chain) -> None:
    tbft.commit([])
    result = update(tbft, update_arguments(org2__node4=7, org1__node1=20))
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    committed = tbft.height  # the update's block
    assert committed == 2
    assert powers_at(tbft, committed) == GENESIS_POWERS
    assert powers_at(tbft, committed + 1) == GENESIS_POWERS
    new_powers = {**GENESIS_POWERS, "org1/node1": 20, "org2/node4": 7}
    assert powers_at(tbft, committed + 2) == new_powers
    from_height, new_set = tbft.executor.validator_set_at(tbft.reader, committed + 5)
    assert from_height == committed + 2
    # Sorted by member id; keys and algorithms from the member records.
    assert list(new_set.validators) == [
        validator_record(tbft.kit, "org1/node1", 20),
        validator_record(tbft.kit, "org1/node3", 10),
        validator_record(tbft.kit, "org2/node2", 10),
        validator_record(tbft.kit, "org2/node4", 7),
    ]
    [event] = result.events
    assert (event.contract, event.name) == ("validators", "update")
    attributes = {a.key: a.value for a in event.attributes}
    assert attributes == {
        "from_height": "4",
        "validator_set_hash": tbft.kit.profile.hash(encode(new_set)).hex(),
        "validators": "4",
        "total_voting_power": "47",
    }
    assert schedule_of(tbft) == [1, 4]


def test_update_needs_the_governance_policy(tbft: Chain) -> None:
    before = dict(tbft.state)
    result = update(tbft, update_arguments(org2__node4=10), endorsers=[])
    assert status_name(result) == "RESULT_STATUS_ENDORSEMENT_POLICY_NOT_SATISFIED"
    assert "validators.update" in result.error
    assert not result.events
    # A consensus member cannot change the set on its own either.
    result = tbft.run("org1/node1", "validators", "update", update_arguments(org2__node4=10))
    assert status_name(result) == "RESULT_STATUS_PERMISSION_DENIED"
    assert tbft.state == before


def test_updates_in_one_block_compose(tbft: Chain) -> None:
    first = tbft.transaction(
        "org1/admin", "validators", "update", update_arguments(org2__node4=5), endorsers=ENDORSERS
    )
    second = tbft.transaction(
        "org1/admin", "validators", "update", update_arguments(org2__node2=0), endorsers=ENDORSERS
    )
    results = tbft.commit([first, second]).results
    assert [status_name(r) for r in results] == ["RESULT_STATUS_OK"] * 2, results
    assert powers_at(tbft, 3) == {"org1/node1": 10, "org1/node3": 10, "org2/node4": 5}
    # One entry per effective height: the second update replaced the first's.
    assert schedule_of(tbft) == [1, 3]


def test_updates_in_consecutive_blocks_compose(tbft: Chain) -> None:
    assert status_name(update(tbft, update_arguments(org2__node4=5))) == "RESULT_STATUS_OK"
    assert status_name(update(tbft, update_arguments(org2__node2=0))) == "RESULT_STATUS_OK"
    assert powers_at(tbft, 2) == GENESIS_POWERS
    assert powers_at(tbft, 3) == {**GENESIS_POWERS, "org2/node4": 5}
    assert powers_at(tbft, 4) == {"org1/node1": 10, "org1/node3": 10, "org2/node4": 5}
    assert schedule_of(tbft) == [1, 3, 4]


@pytest.mark.parametrize(
    ("powers", "status", "reason"),
    [
        ({"org1/ghost": 10}, "NOT_FOUND", "member 'org1/ghost' does not exist"),
        ({"org1/alice": 10}, "INVALID_ARGUMENT", "does not hold the CONSENSUS role"),
        ({"org2/node4": 0}, "NOT_FOUND", "is not in the validator set"),
        (
            {"org1/node1": 0, "org2/node2": 0, "org1/node3": 0},
            "INVALID_ARGUMENT",
            "validator set empty",
        ),
        ({"org2/node4": VOTING_POWER_MAX + 1}, "INVALID_ARGUMENT", "above the limit"),
        ({"org1/node1": 10}, "INVALID_ARGUMENT", "unchanged"),
        ({}, "INVALID_ARGUMENT", "without updates"),
    ],
)
def test_update_refusals(tbft: Chain, powers: dict[str, int], status: str, reason: str) -> None:
    before = dict(tbft.state)
    arguments = contracts_pb2.ValidatorsUpdateArguments(
        updates=[
            contracts_pb2.ValidatorPowerUpdate(member_id=member_id, voting_power=power)
            for member_id, power in powers.items()
        ]
    )
    result = update(tbft, arguments)
    assert status_name(result) == f"RESULT_STATUS_{status}"
    assert reason in result.error
    assert tbft.state == before


def test_duplicate_members_in_one_update_are_refused(tbft: Chain) -> None:
    before = dict(tbft.state)
    arguments = contracts_pb2.ValidatorsUpdateArguments(
        updates=[
            contracts_pb2.ValidatorPowerUpdate(member_id="org2/node4", voting_power=1),
            contracts_pb2.ValidatorPowerUpdate(member_id="org2/node4", voting_power=2),
        ]
    )
    result = update(tbft, arguments)
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "'org2/node4' is updated twice" in result.error
    assert tbft.state == before


def test_the_set_size_is_bounded(tbft: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    assert VALIDATORS_MAX == 128
    monkeypatch.setattr(validators_contract, "VALIDATORS_MAX", 3)
    before = dict(tbft.state)
    result = update(tbft, update_arguments(org2__node4=10))
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "4 validators, above the limit of 3" in result.error
    assert tbft.state == before


def test_the_total_voting_power_is_bounded(tbft: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validators_contract, "VOTING_POWER_TOTAL_MAX", 39)
    before = dict(tbft.state)
    result = update(tbft, update_arguments(org2__node4=10))
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "total voting power of 40, above the limit of 39" in result.error
    assert tbft.state == before


def test_a_solo_chain_refuses_validator_changes(validator_kit: ChainKit) -> None:
    chain = validator_chain(validator_kit, "solo", validators=["org1/node1"])
    before = dict(chain.state)
    result = update(chain, update_arguments(org2__node4=1))
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "solo chain has exactly one validator" in result.error
    assert chain.state == before


# ---- raft: one voter at a time -------------------------------------------------------------------


def test_raft_adds_one_voter(raft: Chain) -> None:
    result = update(raft, update_arguments(org2__node4=1))
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    assert set(powers_at(raft, 3)) == {*GENESIS_VALIDATORS, "org2/node4"}


@pytest.mark.parametrize(
    ("powers", "reason"),
    [
        ({"org2/node4": 2}, "every validator has voting power 1, not 2"),
        ({"org2/node4": 1, "org1/node5": 1}, "one at a time; this update changes 2"),
        ({"org2/node4": 1, "org2/node2": 0}, "one at a time; this update changes 2"),
        ({"org1/node1": 1}, "unchanged"),
    ],
)
def test_raft_refusals(raft: Chain, powers: dict[str, int], reason: str) -> None:
    before = dict(raft.state)
    arguments = contracts_pb2.ValidatorsUpdateArguments(
        updates=[
            contracts_pb2.ValidatorPowerUpdate(member_id=member_id, voting_power=power)
            for member_id, power in powers.items()
        ]
    )
    result = update(raft, arguments)
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert reason in result.error
    assert raft.state == before


def test_raft_refuses_a_change_while_the_previous_one_is_pending(raft: Chain) -> None:
    # Two changes in one block: the second waits for the first.
    first = raft.transaction(
        "org1/admin", "validators", "update", update_arguments(org2__node4=1), endorsers=ENDORSERS
    )
    second = raft.transaction(
        "org1/admin", "validators", "update", update_arguments(org2__node2=0), endorsers=ENDORSERS
    )
    results = raft.commit([first, second]).results
    assert status_name(results[0]) == "RESULT_STATUS_OK"
    assert status_name(results[1]) == "RESULT_STATUS_CONFLICT"
    assert "one at a time" in results[1].error
    assert "height 3 is not in effect yet" in results[1].error
    # Block 2: the change of block 1 takes effect at 3, so still pending.
    before = dict(raft.state)
    result = update(raft, update_arguments(org2__node2=0))
    assert status_name(result) == "RESULT_STATUS_CONFLICT"
    assert raft.state == before
    # Block 3: in effect now; the next change is accepted, relative to the new set.
    result = update(raft, update_arguments(org2__node2=0))
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    assert set(powers_at(raft, 5)) == {"org1/node1", "org1/node3", "org2/node4"}


# ---- pruning -------------------------------------------------------------------------------------


def test_pruning_keeps_the_sets_evidence_may_need(tbft: Chain) -> None:
    assert status_name(update(tbft, update_arguments(org2__node4=5))) == "RESULT_STATUS_OK"
    assert status_name(update(tbft, update_arguments(org1__node5=5))) == "RESULT_STATUS_OK"
    assert schedule_of(tbft) == [1, 3, 4]
    # Block B with B - EVIDENCE_AGE_MAX_HEIGHTS = 3: the set from 3 is the oldest evidence needs.
    tbft.height = 3 + EVIDENCE_AGE_MAX_HEIGHTS - 1
    assert status_name(update(tbft, update_arguments(org2__node2=0))) == "RESULT_STATUS_OK"
    block = tbft.height
    assert schedule_of(tbft) == [3, 4, block + 2]
    assert powers_at(tbft, block - EVIDENCE_AGE_MAX_HEIGHTS) == {**GENESIS_POWERS, "org2/node4": 5}
    with pytest.raises(HeightUnavailableError, match="oldest kept set starts at height 3"):
        tbft.executor.validator_set_at(tbft.reader, 2)
    # Later the newest set at or below the oldest height evidence may name is the one from
    # block + 2: every older one goes.
    tbft.height = block + 2 + EVIDENCE_AGE_MAX_HEIGHTS - 1
    assert status_name(update(tbft, update_arguments(org2__node2=3))) == "RESULT_STATUS_OK"
    assert schedule_of(tbft) == [block + 2, tbft.height + 2]


# ---- validators.get ------------------------------------------------------------------------------


def query_get(chain: Chain, height: int, *, next_height: int = 0) -> types_pb2.TransactionResult:
    transaction = chain.transaction(
        "org1/watcher", "validators", "get", contracts_pb2.ValidatorsGetArguments(height=height)
    )
    return chain.executor.query(chain.reader, transaction, BLOCK_TIME_MS, height=next_height)


def test_get_answers_from_the_schedule(tbft: Chain) -> None:
    assert status_name(update(tbft, update_arguments(org2__node4=5))) == "RESULT_STATUS_OK"
    for height, next_height, from_height in ((2, 0, 1), (3, 0, 3), (0, 2, 1), (0, 3, 3)):
        result = query_get(tbft, height, next_height=next_height)
        assert status_name(result) == "RESULT_STATUS_OK", result.error
        answer = contracts_pb2.ValidatorsGetResult.FromString(result.return_value)
        assert answer.from_height == from_height
        assert answer.validators == tbft.executor.validator_set_at(tbft.reader, from_height)[1]
    result = query_get(tbft, 0)
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "needs the node to tell the next height" in result.error


# ---- membership of validators --------------------------------------------------------------------


def test_a_validator_cannot_be_removed_from_membership(tbft: Chain) -> None:
    before = dict(tbft.state)
    result = tbft.run(
        "org1/admin",
        "membership",
        "remove_member",
        contracts_pb2.MembershipRemoveMemberArguments(member_id="org2/node2"),
        **GOVERNANCE,
    )
    assert status_name(result) == "RESULT_STATUS_CONFLICT"
    assert "remove it from the validator set first" in result.error
    assert tbft.state == before


def test_a_validator_cannot_change_its_certificate(tbft: Chain) -> None:
    replacement = tbft.kit.new_identity("org2/node2", (types_pb2.ROLE_CONSENSUS,))
    before = dict(tbft.state)
    result = tbft.run(
        "org1/admin",
        "membership",
        "update_certificate",
        contracts_pb2.MembershipUpdateCertificateArguments(
            member_id="org2/node2",
            public_key=replacement.member.public_key,
            certificate=replacement.member.certificate,
        ),
        **GOVERNANCE,
    )
    assert status_name(result) == "RESULT_STATUS_CONFLICT"
    assert "remove it from the validator set first" in result.error
    assert tbft.state == before


def test_membership_follows_the_current_and_scheduled_sets(tbft: Chain) -> None:
    def remove(member_id: str) -> DecodedTransaction:
        return tbft.transaction(
            "org1/admin",
            "membership",
            "remove_member",
            contracts_pb2.MembershipRemoveMemberArguments(member_id=member_id),
            endorsers=ENDORSERS,
        )

    # Block 1: node4 scheduled in (from 3), node2 scheduled out (from 3).
    result = update(tbft, update_arguments(org2__node4=5, org2__node2=0))
    assert status_name(result) == "RESULT_STATUS_OK"
    # Block 2: node4 is scheduled, node2 still in effect: both refused.
    results = tbft.commit([remove("org2/node4"), remove("org2/node2")]).results
    assert [status_name(r) for r in results] == ["RESULT_STATUS_CONFLICT"] * 2
    # Block 3: node2 left the set at 3; its member record may go now. A consensus member that
    # is in no set is removed as before.
    results = tbft.commit([remove("org2/node2"), remove("org1/node5")]).results
    assert [status_name(r) for r in results] == ["RESULT_STATUS_OK"] * 2, results


def test_a_member_that_never_validated_is_unaffected(kit: ChainKit) -> None:
    chain = new_chain(kit)
    result = chain.run(
        "org1/admin",
        "membership",
        "remove_member",
        contracts_pb2.MembershipRemoveMemberArguments(member_id="org2/bob"),
        **GOVERNANCE,
    )
    assert status_name(result) == "RESULT_STATUS_OK", result.error
