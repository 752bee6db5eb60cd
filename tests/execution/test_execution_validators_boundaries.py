"""The validator set's limits at their edges, written as numbers (they decide which sets a chain
can have, which every validator computes alike), the schedule's bound, a consensus engine the
contract does not know on either side of the known names, and a height below every kept set:
the tests a cosmic-ray run over execution/contracts/validators.py showed missing
(docs/testing.md)."""

from __future__ import annotations

import pytest
from execution_chain import BLOCK_TIME_MS, Chain, ChainKit, status_name
from validator_chain import GOVERNANCE, validator_chain

from causeway.contracts.v1 import contracts_pb2
from causeway.execution.keys import VALIDATOR_SCHEDULE_KEY, member_key
from causeway.types import encode
from causeway.types.v1 import types_pb2

VALIDATORS_MAX = 128
VOTING_POWER_MAX = 2**40
VOTING_POWER_TOTAL_MAX = 2**44
SCHEDULE_ENTRIES_MAX = 256
# validator_chain's genesis set: three validators of power 10.
GENESIS_SIZE = 3


def update(chain: Chain, powers: dict[str, int]) -> types_pb2.TransactionResult:
    arguments = contracts_pb2.ValidatorsUpdateArguments(
        updates=[
            contracts_pb2.ValidatorPowerUpdate(member_id=member_id, voting_power=power)
            for member_id, power in powers.items()
        ]
    )
    return chain.run("org1/admin", "validators", "update", arguments, **GOVERNANCE)


def consensus_members(chain: Chain, count: int) -> list[str]:
    """`count` members holding the CONSENSUS role, written straight into state (the contract
    reads only their record)."""
    template = chain.kit.identities["org1/node1"].member
    member_ids = []
    for index in range(count):
        member = types_pb2.Member()
        member.CopyFrom(template)
        member.name = f"filler{index:03d}"
        member.id = f"org1/{member.name}"
        chain.state[member_key(member.id)] = encode(member)
        member_ids.append(member.id)
    return member_ids


def test_an_update_may_list_128_changes_and_not_129(validator_kit: ChainKit) -> None:
    chain = validator_chain(validator_kit)
    at = update(chain, {f"org1/ghost{index:03d}": 1 for index in range(VALIDATORS_MAX)})
    # Past the count: the first unknown member is what stops it.
    assert status_name(at) == "RESULT_STATUS_NOT_FOUND", at.error
    past = update(chain, {f"org1/ghost{index:03d}": 1 for index in range(VALIDATORS_MAX + 1)})
    assert status_name(past) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "129 updates, above the limit of 128" in past.error


@pytest.mark.parametrize(
    "added", [VALIDATORS_MAX - GENESIS_SIZE, VALIDATORS_MAX - GENESIS_SIZE + 1]
)
def test_a_set_may_hold_128_validators_and_not_129(validator_kit: ChainKit, added: int) -> None:
    chain = validator_chain(validator_kit)
    result = update(chain, dict.fromkeys(consensus_members(chain, added), 1))
    if GENESIS_SIZE + added <= VALIDATORS_MAX:
        assert status_name(result) == "RESULT_STATUS_OK", result.error
    else:
        assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
        assert "129 validators, above the limit of 128" in result.error


def test_a_voting_power_of_2_to_the_40_is_accepted_and_one_more_refused(
    validator_kit: ChainKit,
) -> None:
    chain = validator_chain(validator_kit)
    assert status_name(update(chain, {"org2/node4": VOTING_POWER_MAX})) == "RESULT_STATUS_OK"
    before = dict(chain.state)
    result = update(chain, {"org1/node5": VOTING_POWER_MAX + 1})
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert f"above the limit of {VOTING_POWER_MAX}" in result.error
    assert chain.state == before


@pytest.mark.parametrize("extra", [0, 1])
def test_the_total_power_may_reach_2_to_the_44_and_no_further(
    validator_kit: ChainKit, extra: int
) -> None:
    """Sixteen validators of the most power each make exactly 2^44; one more of power 1 is past."""
    chain = validator_chain(validator_kit)
    genesis = ["org1/node1", "org2/node2", "org1/node3"]
    members = genesis + consensus_members(chain, 16 - len(genesis) + extra)
    powers = dict.fromkeys(members[:16], VOTING_POWER_MAX)
    if extra:
        powers[members[16]] = 1
    result = update(chain, powers)
    if not extra:
        assert status_name(result) == "RESULT_STATUS_OK", result.error
        assert ("total_voting_power", str(2**44)) in [
            (attribute.key, attribute.value) for attribute in result.events[0].attributes
        ]
    else:
        assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
        assert f"total voting power of {2**44 + 1}, above the limit of {2**44}" in result.error


@pytest.mark.parametrize("kept", [SCHEDULE_ENTRIES_MAX - 1, SCHEDULE_ENTRIES_MAX])
def test_the_schedule_may_hold_256_sets_and_no_more(validator_kit: ChainKit, kept: int) -> None:
    chain = validator_chain(validator_kit)
    genesis_set = chain.kit.genesis.validators
    # Sets from heights 1 to `kept`, all young enough for evidence to need them.
    chain.state[VALIDATOR_SCHEDULE_KEY] = encode(
        contracts_pb2.ValidatorSchedule(
            entries=[
                contracts_pb2.ScheduledValidatorSet(from_height=height, validators=genesis_set)
                for height in range(1, kept + 1)
            ]
        )
    )
    chain.height = SCHEDULE_ENTRIES_MAX + 10
    result = update(chain, {"org2/node4": 5})
    if kept < SCHEDULE_ENTRIES_MAX:
        assert status_name(result) == "RESULT_STATUS_OK", result.error
    else:
        assert status_name(result) == "RESULT_STATUS_CONFLICT"
        assert "already holds 256 sets" in result.error


@pytest.mark.parametrize("consensus", ["pbft", "zyzzyva"])
def test_a_consensus_the_contract_does_not_know_cannot_change_its_set(
    validator_kit: ChainKit, consensus: str
) -> None:
    """Names sorting below and above the known ones ("raft", "tbft") are both refused."""
    chain = validator_chain(validator_kit, consensus)
    before = dict(chain.state)
    result = update(chain, {"org2/node4": 1})
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert f"consensus {consensus!r} has no changeable validator set" in result.error
    assert chain.state == before


def test_get_below_every_kept_set_is_not_found(validator_kit: ChainKit) -> None:
    chain = validator_chain(validator_kit)
    chain.state[VALIDATOR_SCHEDULE_KEY] = encode(
        contracts_pb2.ValidatorSchedule(
            entries=[
                contracts_pb2.ScheduledValidatorSet(
                    from_height=5, validators=chain.kit.genesis.validators
                )
            ]
        )
    )

    def get(height: int) -> types_pb2.TransactionResult:
        arguments = contracts_pb2.ValidatorsGetArguments(height=height)
        transaction = chain.transaction("org1/watcher", "validators", "get", arguments)
        return chain.executor.query(chain.reader, transaction, BLOCK_TIME_MS)

    below = get(4)
    assert status_name(below) == "RESULT_STATUS_NOT_FOUND"
    assert "the oldest kept set starts at height 5" in below.error
    assert status_name(get(5)) == "RESULT_STATUS_OK"
