"""The in-memory Raft log: entries, the block height each index has reached, configurations.

Log indexes start at 1; index 0 is the empty prefix with term 0. A block entry carries its height
in its header, membership-change entries consume none, so `height_at(index)` (the height of the
last block at or before `index`) is the explicit mapping between log indexes and block heights.
Heights in a log are contiguous from 1: the block entry after index i has height
`height_at(i) + 1`, which `parse_entry` checks for every entry that enters a log.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from causeway.consensus.v1 import consensus_pb2
from causeway.errors import DecodeError, InvariantError, RequestError
from causeway.types import decode, encode
from causeway.types.v1 import types_pb2

# Bounds on what a peer (or a damaged record) can make us hold.
ENTRY_BYTES_MAX = 64 * 1024 * 1024
VOTERS_MAX = 128
VALIDATOR_ID_BYTES_MAX = 256
# A term above this is refused: no honest cluster gets near it (one election every 100 ms for
# 890 years), and refusing it keeps term + 1 representable in the uint64 wire fields.
TERM_MAX = 2**48


def check_validator_ids(voters: Iterable[object]) -> tuple[str, ...]:
    """A voter set as a sorted tuple; raises DecodeError for anything that is not a valid set."""
    listed = list(voters)
    if not listed:
        raise DecodeError("a configuration needs at least one voter")
    if len(listed) > VOTERS_MAX:
        raise DecodeError(f"{len(listed)} voters, above the limit of {VOTERS_MAX}")
    for voter in listed:
        if not isinstance(voter, str) or not voter:
            raise DecodeError(f"voter id {voter!r} is not a non-empty string")
        if len(voter.encode()) > VALIDATOR_ID_BYTES_MAX:
            raise DecodeError(f"voter id is above {VALIDATOR_ID_BYTES_MAX} bytes")
    if len(set(listed)) != len(listed):
        raise DecodeError("a voter is listed twice")
    return tuple(sorted(str(voter) for voter in listed))


def is_single_server_change(old: Sequence[str], new: Sequence[str]) -> bool:
    """At most one voter added or removed (zero: a restatement, the leader's no-op entry)."""
    return len(set(old).symmetric_difference(new)) <= 1


@dataclass(frozen=True, slots=True)
class LogEntry:
    message: consensus_pb2.RaftEntry
    # Height of this block; 0 for a membership-change entry.
    block_height: int
    # Height of the last block at or before this entry.
    height_after: int
    # The whole voter set for a membership-change entry; empty for a block.
    voters: tuple[str, ...]

    @property
    def term(self) -> int:
        return self.message.term

    @property
    def index(self) -> int:
        return self.message.index

    @property
    def is_membership_change(self) -> bool:
        return self.message.membership_change

    @property
    def size(self) -> int:
        return len(self.message.data) + 32


def block_entry(term: int, index: int, height: int, data: bytes) -> LogEntry:
    """An entry for a block this node built (already checked by the caller)."""
    message = consensus_pb2.RaftEntry(term=term, index=index, data=data, membership_change=False)
    return LogEntry(message, height, height, ())


def membership_entry(
    term: int, index: int, voters: tuple[str, ...], previous_height: int
) -> LogEntry:
    data = encode(consensus_pb2.RaftMembershipChange(voters=voters))
    message = consensus_pb2.RaftEntry(term=term, index=index, data=data, membership_change=True)
    return LogEntry(message, 0, previous_height, voters)


def parse_entry(
    message: consensus_pb2.RaftEntry,
    chain_id: str,
    previous_height: int,
    previous_voters: tuple[str, ...] | None,
) -> LogEntry:
    """Checks an entry from a peer or a record against the log it would follow.

    `previous_voters` is the configuration of the last membership entry before it in the log, or
    None when there is none (a joining node's first configuration entry may differ from the voter
    set it was started with by more than one node). Raises RequestError for anything unfit.
    """
    if len(message.data) > ENTRY_BYTES_MAX:
        raise RequestError(f"entry {message.index} is above {ENTRY_BYTES_MAX} bytes")
    copy = consensus_pb2.RaftEntry()
    copy.CopyFrom(message)
    if message.membership_change:
        change = decode(consensus_pb2.RaftMembershipChange, message.data, bytes_max=ENTRY_BYTES_MAX)
        voters = check_validator_ids(change.voters)
        if previous_voters is not None and not is_single_server_change(previous_voters, voters):
            raise RequestError(f"entry {message.index} changes more than one voter")
        return LogEntry(copy, 0, previous_height, voters)
    block = decode(types_pb2.Block, message.data, bytes_max=ENTRY_BYTES_MAX)
    if block.header.chain_id != chain_id:
        raise RequestError(
            f"entry {message.index} holds a block of chain {block.header.chain_id!r}"
        )
    if block.header.height != previous_height + 1:
        raise RequestError(
            f"entry {message.index} holds height {block.header.height}, "
            f"expected {previous_height + 1}"
        )
    return LogEntry(copy, block.header.height, block.header.height, ())


class RaftLog:
    """Entries 1..last_index, with the configurations they define over the base voter set."""

    def __init__(self, base_voters: tuple[str, ...]) -> None:
        self._base_voters = base_voters
        self._entries: list[LogEntry] = []
        # (index, voters) of every membership-change entry, in index order.
        self._configurations: list[tuple[int, tuple[str, ...]]] = []
        self._voter_counts: Counter[str] = Counter(base_voters)

    @property
    def last_index(self) -> int:
        return len(self._entries)

    @property
    def last_term(self) -> int:
        return self._entries[-1].term if self._entries else 0

    def term_at(self, index: int) -> int:
        """The term of the entry at index; 0 for index 0. The index must exist."""
        if index == 0:
            return 0
        return self._entries[index - 1].term

    def entry(self, index: int) -> LogEntry:
        if not 1 <= index <= len(self._entries):
            raise InvariantError(f"log index {index} outside 1..{len(self._entries)}")
        return self._entries[index - 1]

    def height_at(self, index: int) -> int:
        """Height of the last block at or before index (0 before the first block)."""
        if index == 0:
            return 0
        return self._entries[index - 1].height_after

    @property
    def voters(self) -> tuple[str, ...]:
        """The latest configuration in the log, committed or not (thesis §4.1)."""
        return self._configurations[-1][1] if self._configurations else self._base_voters

    @property
    def configuration_index(self) -> int:
        """Index of the latest membership-change entry; 0 when the base voters are in effect."""
        return self._configurations[-1][0] if self._configurations else 0

    def configuration_entry_voters_at(self, index: int) -> tuple[str, ...] | None:
        """Voters of the last membership-change entry at or before index, None if none."""
        position = bisect.bisect_right(self._configurations, index, key=lambda item: item[0])
        return self._configurations[position - 1][1] if position else None

    def known_voters(self) -> set[str]:
        """Every id in the base voters or in a configuration of this log."""
        return set(self._voter_counts)

    def first_index_of_term(self, index: int) -> int:
        """The first index holding the term of the entry at index (terms never decrease)."""
        term = self.term_at(index)
        return bisect.bisect_left(self._entries, term, hi=index, key=lambda entry: entry.term) + 1

    def append(self, entry: LogEntry) -> None:
        if entry.index != len(self._entries) + 1:
            raise InvariantError(f"appending index {entry.index} after {len(self._entries)}")
        if entry.term < self.last_term:
            raise InvariantError(f"appending term {entry.term} after {self.last_term}")
        if entry.height_after != self.height_at(self.last_index) + (entry.block_height != 0):
            raise InvariantError(f"entry {entry.index} breaks the height sequence")
        self._entries.append(entry)
        if entry.is_membership_change:
            self._configurations.append((entry.index, entry.voters))
            self._voter_counts.update(entry.voters)

    def truncate_from(self, index: int) -> int:
        """Removes entries index..last; returns how many."""
        removed = len(self._entries) - index + 1
        if removed <= 0:
            return 0
        del self._entries[index - 1 :]
        while self._configurations and self._configurations[-1][0] >= index:
            _, voters = self._configurations.pop()
            self._voter_counts.subtract(voters)
        self._voter_counts = +self._voter_counts
        return removed

    def slice(self, start: int, count_max: int, bytes_max: int) -> list[LogEntry]:
        """Entries from start on: at most count_max, and within bytes_max unless only one."""
        chosen: list[LogEntry] = []
        total = 0
        for entry in self._entries[start - 1 : start - 1 + count_max]:
            if chosen and total + entry.size > bytes_max:
                break
            chosen.append(entry)
            total += entry.size
        return chosen
