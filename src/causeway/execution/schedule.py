"""The validator schedule in state: which validator set is in effect from which height on.

The schedule is one value (``keys.VALIDATOR_SCHEDULE_KEY``): entries in ascending ``from_height``;
the set at height h is the entry with the greatest ``from_height <= h``. Genesis writes the single
entry (1, genesis validators). A change committed in block H takes effect at
H + ``VALIDATOR_CHANGE_DELAY_HEIGHTS``, so that the header of H + 1 can already announce the next
set and a node finishing height h - 1 knows, from committed state, the sets of h and h + 1.
"""

from __future__ import annotations

from causeway.contracts.v1 import contracts_pb2
from causeway.errors import HeightUnavailableError, InvariantError

VALIDATOR_CHANGE_DELAY_HEIGHTS = 2
# Evidence of equivocation is accepted for votes at most this many heights below the block that
# records it; the schedule keeps every set such evidence may need.
EVIDENCE_AGE_MAX_HEIGHTS = 10_000
# The most entries the schedule holds (kept sets included): bounds what each block decodes.
VALIDATOR_SCHEDULE_ENTRIES_MAX = 256


def decode_schedule(stored: bytes | None) -> contracts_pb2.ValidatorSchedule:
    if stored is None:
        raise InvariantError("the validator schedule is missing from state")
    schedule = contracts_pb2.ValidatorSchedule.FromString(stored)
    if not schedule.entries:
        raise InvariantError("the validator schedule in state is empty")
    return schedule


def entry_at(
    schedule: contracts_pb2.ValidatorSchedule, height: int
) -> contracts_pb2.ScheduledValidatorSet:
    """The entry in effect at `height`; HeightUnavailableError when it is below every entry kept
    (pruned, or height 0)."""
    entries = schedule.entries
    # Newest first: the heights asked for are almost always the latest ones.
    for index in range(len(entries) - 1, -1, -1):
        entry = entries[index]
        if entry.from_height <= height:
            return entry
    raise HeightUnavailableError(
        f"no validator set is known for height {height}: the oldest kept set starts at height "
        f"{entries[0].from_height}"
    )


def pruned_entries(
    entries: list[contracts_pb2.ScheduledValidatorSet], height: int
) -> list[contracts_pb2.ScheduledValidatorSet]:
    """The entries to keep when the schedule is written at block `height`: the newest entry that
    starts at or below the oldest height evidence may still name, and every later one."""
    oldest_evidence_height = height - EVIDENCE_AGE_MAX_HEIGHTS
    keep_from = 0
    for index, entry in enumerate(entries):
        if entry.from_height <= oldest_evidence_height:
            keep_from = index
    return entries[keep_from:]


def members_in_effect_or_scheduled(
    schedule: contracts_pb2.ValidatorSchedule, height: int
) -> set[str]:
    """Member ids of the set in effect at `height` and of every set scheduled after it."""
    entries = schedule.entries
    current = entry_at(schedule, height).from_height
    return {
        validator.member_id
        for entry in entries
        if entry.from_height >= current
        for validator in entry.validators.validators
    }
