"""validators (system): the validator set, changed through governance at a later height.

A change committed in block H takes effect at H + VALIDATOR_CHANGE_DELAY_HEIGHTS; see
causeway.execution.schedule for the schedule it is written to.
"""

from __future__ import annotations

from causeway.contracts.v1 import contracts_pb2
from causeway.errors import HeightUnavailableError
from causeway.execution.context import TransactionContext, failure
from causeway.execution.contracts.base import Method, decode_arguments
from causeway.execution.keys import VALIDATOR_SCHEDULE_KEY, member_key
from causeway.execution.schedule import (
    VALIDATOR_CHANGE_DELAY_HEIGHTS,
    VALIDATOR_SCHEDULE_ENTRIES_MAX,
    decode_schedule,
    entry_at,
    pruned_entries,
)
from causeway.types import encode
from causeway.types.v1 import types_pb2

CONTRACT = "validators"
VALIDATORS_MAX = 128
VOTING_POWER_MAX = 2**40
# Bounds the quorum arithmetic of every implementation (well inside a signed 64-bit integer).
VOTING_POWER_TOTAL_MAX = 2**44

_INVALID = types_pb2.RESULT_STATUS_INVALID_ARGUMENT
_NOT_FOUND = types_pb2.RESULT_STATUS_NOT_FOUND
_CONFLICT = types_pb2.RESULT_STATUS_CONFLICT


def load_schedule(context: TransactionContext) -> contracts_pb2.ValidatorSchedule:
    return decode_schedule(context.get_granted(VALIDATOR_SCHEDULE_KEY))


def _new_validator(
    context: TransactionContext, member_id: str, voting_power: int
) -> types_pb2.Validator:
    """The validator record of a member: key and algorithm from its member record."""
    stored = context.get_granted(member_key(member_id))
    if stored is None:
        raise failure(_NOT_FOUND, f"member {member_id!r} does not exist")
    member = types_pb2.Member.FromString(stored)
    if types_pb2.ROLE_CONSENSUS not in member.roles:
        raise failure(
            _INVALID, f"member {member_id} does not hold the CONSENSUS role: it cannot validate"
        )
    return types_pb2.Validator(
        member_id=member_id,
        algorithm=member.algorithm,
        public_key=member.public_key,
        voting_power=voting_power,
    )


def _check_consensus_rules(
    context: TransactionContext,
    schedule: contracts_pb2.ValidatorSchedule,
    request: contracts_pb2.ValidatorsUpdateArguments,
) -> None:
    """Refuses what the chain's consensus engine cannot follow (before any member is read)."""
    consensus = context.consensus
    if consensus == "solo":
        raise failure(
            _INVALID, "a solo chain has exactly one validator: its validator set cannot change"
        )
    if consensus == "raft":
        for change in request.updates:
            if change.voting_power > 1:
                raise failure(
                    _INVALID,
                    f"on a raft chain every validator has voting power 1, not "
                    f"{change.voting_power} ({change.member_id})",
                )
        pending = [
            entry.from_height for entry in schedule.entries if entry.from_height > context.height
        ]
        if pending:
            raise failure(
                _CONFLICT,
                f"a raft chain changes its voters one at a time: the change taking effect at "
                f"height {pending[-1]} is not in effect yet",
            )
    elif consensus != "tbft":
        raise failure(_INVALID, f"consensus {consensus!r} has no changeable validator set")


def update(context: TransactionContext, arguments: bytes) -> bytes:
    context.require_policy(context.config.config.governance_policy, "validators.update")
    request = decode_arguments(context, contracts_pb2.ValidatorsUpdateArguments, arguments)
    if not request.updates:
        raise failure(_INVALID, "validators.update without updates")
    if len(request.updates) > VALIDATORS_MAX:
        raise failure(
            _INVALID, f"{len(request.updates)} updates, above the limit of {VALIDATORS_MAX}"
        )
    seen: set[str] = set()
    for change in request.updates:
        if change.member_id in seen:
            raise failure(_INVALID, f"member {change.member_id!r} is updated twice")
        seen.add(change.member_id)
        if change.voting_power > VOTING_POWER_MAX:
            raise failure(
                _INVALID,
                f"voting power {change.voting_power} of {change.member_id} is above "
                f"the limit of {VOTING_POWER_MAX}",
            )
    schedule = load_schedule(context)
    _check_consensus_rules(context, schedule, request)
    effective_height = context.height + VALIDATOR_CHANGE_DELAY_HEIGHTS
    # The base is the set that will be in effect at the effective height: updates earlier in the
    # block or in the blocks just before compose with this one.
    base = entry_at(schedule, effective_height)
    validators = {validator.member_id: validator for validator in base.validators.validators}
    before = {member_id: validator.voting_power for member_id, validator in validators.items()}
    for change in request.updates:
        member_id = change.member_id
        if change.voting_power == 0:
            if member_id not in validators:
                raise failure(
                    _NOT_FOUND, f"{member_id!r} is not in the validator set: nothing to remove"
                )
            del validators[member_id]
        else:
            validators[member_id] = _new_validator(context, member_id, change.voting_power)
    after = {member_id: validator.voting_power for member_id, validator in validators.items()}
    if after == before:
        raise failure(_INVALID, "the update leaves the validator set unchanged")
    if not validators:
        raise failure(_INVALID, "the update would leave the validator set empty")
    if len(validators) > VALIDATORS_MAX:
        raise failure(
            _INVALID,
            f"the update would make {len(validators)} validators, above the limit of "
            f"{VALIDATORS_MAX}",
        )
    total_power = sum(after.values())
    if total_power > VOTING_POWER_TOTAL_MAX:
        raise failure(
            _INVALID,
            f"the update would make a total voting power of {total_power}, above the limit of "
            f"{VOTING_POWER_TOTAL_MAX}",
        )
    if context.consensus == "raft":
        changed = set(before) ^ set(after)
        if len(changed) != 1:
            raise failure(
                _INVALID,
                f"a raft chain changes its voters one at a time; this update changes "
                f"{len(changed)} ({', '.join(sorted(changed))})",
            )
    new_set = types_pb2.ValidatorSet(validators=[validators[key] for key in sorted(validators)])
    entries = [entry for entry in schedule.entries if entry.from_height < effective_height]
    entries = pruned_entries(entries, context.height)
    if len(entries) >= VALIDATOR_SCHEDULE_ENTRIES_MAX:
        raise failure(
            _CONFLICT,
            f"the validator schedule already holds {len(entries)} sets, the most it keeps: "
            "wait until older ones are no longer needed for evidence",
        )
    entries.append(
        contracts_pb2.ScheduledValidatorSet(from_height=effective_height, validators=new_set)
    )
    context.put_granted(
        VALIDATOR_SCHEDULE_KEY, encode(contracts_pb2.ValidatorSchedule(entries=entries))
    )
    set_hash = context.hash(encode(new_set))
    context.emit(
        "update",
        (
            ("from_height", str(effective_height)),
            ("validator_set_hash", set_hash.hex()),
            ("validators", str(len(validators))),
            ("total_voting_power", str(total_power)),
        ),
    )
    return b""


def get(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, contracts_pb2.ValidatorsGetArguments, arguments)
    height = request.height or context.height
    if height == 0:
        raise failure(
            _INVALID, "validators.get with height 0 needs the node to tell the next height"
        )
    try:
        entry = entry_at(load_schedule(context), height)
    except HeightUnavailableError as error:
        raise failure(_NOT_FOUND, error.message) from None
    return encode(
        contracts_pb2.ValidatorsGetResult(
            from_height=entry.from_height, validators=entry.validators
        )
    )


METHODS: dict[str, Method] = {
    "update": Method(update, system=True, arguments=contracts_pb2.ValidatorsUpdateArguments),
    "get": Method(get, read_only=True),
}
