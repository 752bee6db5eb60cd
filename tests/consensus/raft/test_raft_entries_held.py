"""The rules of the in-memory Raft log (consensus/raft/log.py) that a full cosmic-ray run over it
showed no test held (docs/testing.md): what a voter set may hold (at least one voter, at most
128, ids of 1 to 256 bytes, none twice, sorted), a membership change of at most one voter, the
highest term (2**48), the byte limit of an entry from a peer (64 MiB), the chain and the next
height an entry must carry, an entry that cannot be changed once made, the index, term and
height order of appends, which configuration an index falls under, what truncation takes away,
and the count and byte budget of the entries sent in one AppendEntries."""

from __future__ import annotations

import dataclasses
import re

import pytest
from raft_harness import CHAIN_ID, ToyApplication
from test_raft_core import make_core

from causeway.consensus.raft import ENTRY_BYTES_MAX, META_RECORD, VOTERS_MAX
from causeway.consensus.raft import log as raft_log
from causeway.consensus.raft.log import (
    VALIDATOR_ID_BYTES_MAX,
    RaftLog,
    block_entry,
    check_validator_ids,
    is_single_server_change,
    membership_entry,
    parse_entry,
)
from causeway.consensus.raft.records import Meta, encode_meta
from causeway.consensus.v1 import consensus_pb2
from causeway.errors import DecodeError, InvariantError, RequestError, StorageCorruptionError
from causeway.types import encode

BASE = ("a", "b", "c")


def exactly(text: str) -> str:
    """A pattern for pytest.raises matching the whole message."""
    return f"^{re.escape(text)}$"


def block_message(index: int, height: int, chain_id: str = CHAIN_ID) -> consensus_pb2.RaftEntry:
    block = ToyApplication().build_block(height, 1, 1_000 + index, "b")
    block.header.chain_id = chain_id
    return consensus_pb2.RaftEntry(term=1, index=index, data=encode(block))


def change_message(index: int, voters: list[str]) -> consensus_pb2.RaftEntry:
    change = consensus_pb2.RaftMembershipChange(voters=voters)
    return consensus_pb2.RaftEntry(term=1, index=index, data=encode(change), membership_change=True)


def log_of(*terms: int) -> RaftLog:
    """A log of blocks at heights 1, 2, ... with the given terms."""
    log = RaftLog(BASE)
    for index, term in enumerate(terms, start=1):
        log.append(block_entry(term, index, index, b"block"))
    return log


def sized_log(*data_bytes: int) -> RaftLog:
    """A log of term-1 blocks whose data are the given numbers of bytes."""
    log = RaftLog(BASE)
    for index, size in enumerate(data_bytes, start=1):
        log.append(block_entry(1, index, index, bytes(size)))
    return log


# Voter sets.


def test_a_voter_set_is_returned_sorted() -> None:
    assert check_validator_ids(["c", "a", "b"]) == ("a", "b", "c")


def test_a_voter_set_needs_at_least_one_voter() -> None:
    assert check_validator_ids(["a"]) == ("a",)
    with pytest.raises(DecodeError, match=exactly("a configuration needs at least one voter")):
        check_validator_ids([])


def test_a_voter_set_may_hold_128_voters_and_no_more() -> None:
    """VOTERS_MAX is 128: 127 and 128 voters are a set, 129 are refused."""
    assert VOTERS_MAX == 128
    for count in (127, 128):
        assert len(check_validator_ids([f"v{number:03}" for number in range(count)])) == count
    with pytest.raises(DecodeError, match=exactly("129 voters, above the limit of 128")):
        check_validator_ids([f"v{number:03}" for number in range(129)])


@pytest.mark.parametrize("voter", ["", 5, None, b"a"])
def test_a_voter_id_is_a_non_empty_string(voter: object) -> None:
    with pytest.raises(DecodeError, match=exactly(f"voter id {voter!r} is not a non-empty string")):
        check_validator_ids(["a", voter])


def test_a_voter_id_may_be_256_bytes_and_no_more() -> None:
    """The limit is on the id's UTF-8 bytes: 128 two-byte characters are 256 bytes."""
    assert VALIDATOR_ID_BYTES_MAX == 256
    for voter in ("x" * 255, "x" * 256, "é" * 128):
        assert check_validator_ids([voter]) == (voter,)
    for voter in ("x" * 257, "é" * 128 + "x"):
        with pytest.raises(DecodeError, match=exactly("voter id is above 256 bytes")):
            check_validator_ids([voter])


def test_a_voter_listed_twice_is_refused() -> None:
    with pytest.raises(DecodeError, match=exactly("a voter is listed twice")):
        check_validator_ids(["a", "b", "a"])


def test_a_membership_change_adds_or_removes_at_most_one_voter() -> None:
    assert is_single_server_change(BASE, BASE)
    assert is_single_server_change(BASE, ("a", "b", "c", "d"))
    assert is_single_server_change(BASE, ("a", "b"))
    assert not is_single_server_change(BASE, ("a", "b", "d"))
    assert not is_single_server_change(BASE, ("a", "b", "c", "d", "e"))
    assert not is_single_server_change(BASE, ("a",))


# Entries from a peer or a record.


@pytest.mark.parametrize("term", [281_474_976_710_656, 281_474_976_710_657])
def test_a_restored_term_may_be_2_to_the_48_and_no_more(term: int) -> None:
    """TERM_MAX is 2**48 (281,474,976,710,656), which keeps term + 1 within the uint64 fields."""
    records = {META_RECORD: encode_meta(Meta(term=term, voted_for=None, log_end=0))}
    if term == 281_474_976_710_656:
        assert make_core(records=records).term == term
    else:
        with pytest.raises(
            StorageCorruptionError, match=exactly(f"{META_RECORD} holds term 281474976710657")
        ):
            make_core(records=records)


def test_an_entry_of_64_mib_is_checked_and_one_byte_more_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ENTRY_BYTES_MAX is 64 MiB; the limit is inclusive (shown with the limit lowered to a real
    block's size, a 64 MiB entry taking three times that in memory to check)."""
    assert ENTRY_BYTES_MAX == 67_108_864
    message = block_message(1, 1)
    size = len(message.data)
    monkeypatch.setattr(raft_log, "ENTRY_BYTES_MAX", size)
    assert parse_entry(message, CHAIN_ID, 0, None).block_height == 1
    monkeypatch.setattr(raft_log, "ENTRY_BYTES_MAX", size - 1)
    with pytest.raises(RequestError, match=exactly(f"entry 1 is above {size - 1} bytes")):
        parse_entry(message, CHAIN_ID, 0, None)


def test_a_block_entry_must_carry_this_chain_and_the_next_height() -> None:
    entry = parse_entry(block_message(4, 3), CHAIN_ID, 2, BASE)
    assert (entry.index, entry.block_height, entry.height_after, entry.voters) == (4, 3, 3, ())
    # Chain ids that sort before and after this one's.
    for chain_id in ("other-chain", "raft-test-chain-2"):
        with pytest.raises(
            RequestError, match=exactly(f"entry 4 holds a block of chain {chain_id!r}")
        ):
            parse_entry(block_message(4, 3, chain_id), CHAIN_ID, 2, BASE)
    for height in (2, 4):
        with pytest.raises(
            RequestError, match=exactly(f"entry 4 holds height {height}, expected 3")
        ):
            parse_entry(block_message(4, height), CHAIN_ID, 2, BASE)


def test_a_membership_entry_changes_one_voter_unless_it_is_the_first() -> None:
    entry = parse_entry(change_message(3, ["d", "a", "c", "b"]), CHAIN_ID, 2, BASE)
    assert (entry.block_height, entry.height_after, entry.voters) == (0, 2, ("a", "b", "c", "d"))
    with pytest.raises(RequestError, match=exactly("entry 3 changes more than one voter")):
        parse_entry(change_message(3, ["a", "b", "d"]), CHAIN_ID, 2, BASE)
    # With no configuration entry before it, any valid set is taken.
    first = parse_entry(change_message(3, ["x", "y"]), CHAIN_ID, 2, None)
    assert first.voters == ("x", "y")


def test_an_entry_cannot_be_changed_once_made() -> None:
    entry = block_entry(1, 1, 1, b"block")
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.block_height = 2  # type: ignore[misc]
    assert entry.block_height == 1


def test_an_entry_counts_32_bytes_above_its_data() -> None:
    assert block_entry(1, 1, 1, bytes(100)).size == 132
    assert block_entry(1, 1, 1, b"").size == 32


# The log.


def test_entries_are_read_at_indexes_1_to_the_last() -> None:
    log = log_of(1, 2)
    assert [log.entry(index).term for index in (1, 2)] == [1, 2]
    for index in (0, 3):
        with pytest.raises(InvariantError, match=exactly(f"log index {index} outside 1..2")):
            log.entry(index)
    assert (log.term_at(0), log.term_at(1), log.term_at(2)) == (0, 1, 2)
    assert (log.height_at(0), log.height_at(1), log.height_at(2)) == (0, 1, 2)
    assert (RaftLog(BASE).last_term, log.last_term) == (0, 2)


def test_an_append_must_follow_the_last_index_and_term_and_height() -> None:
    log = log_of(2)
    for index in (1, 3):
        with pytest.raises(InvariantError, match=exactly(f"appending index {index} after 1")):
            log.append(block_entry(2, index, 2, b"block"))
    with pytest.raises(InvariantError, match=exactly("appending term 1 after 2")):
        log.append(block_entry(1, 2, 2, b"block"))
    for height in (1, 3):
        with pytest.raises(InvariantError, match=exactly("entry 2 breaks the height sequence")):
            log.append(block_entry(2, 2, height, b"block"))
    # A membership entry keeps the height of the block before it.
    with pytest.raises(InvariantError, match=exactly("entry 2 breaks the height sequence")):
        log.append(membership_entry(2, 2, BASE, 2))
    log.append(membership_entry(2, 2, BASE, 1))
    log.append(block_entry(2, 3, 2, b"block"))
    assert (log.last_index, log.last_term, log.height_at(3)) == (3, 2, 2)


def test_the_first_index_of_a_term() -> None:
    log = log_of(1, 1, 2, 2, 2, 3)
    assert [log.first_index_of_term(index) for index in range(1, 7)] == [1, 1, 3, 3, 3, 6]


def test_each_index_falls_under_the_last_configuration_at_or_before_it() -> None:
    log = log_of(1)
    assert (log.voters, log.configuration_index) == (BASE, 0)
    log.append(membership_entry(1, 2, ("a", "b", "c", "d"), 1))
    log.append(block_entry(1, 3, 2, b"block"))
    log.append(membership_entry(1, 4, ("a", "b", "d"), 2))
    log.append(block_entry(1, 5, 3, b"block"))
    assert (log.voters, log.configuration_index) == (("a", "b", "d"), 4)
    assert [log.configuration_entry_voters_at(index) for index in range(6)] == [
        None,
        None,
        ("a", "b", "c", "d"),
        ("a", "b", "c", "d"),
        ("a", "b", "d"),
        ("a", "b", "d"),
    ]
    assert log.known_voters() == {"a", "b", "c", "d"}


def test_truncation_takes_the_entries_and_configurations_from_its_index() -> None:
    log = log_of(1)
    log.append(membership_entry(1, 2, ("a", "b", "c", "d"), 1))
    log.append(membership_entry(1, 3, ("a", "b", "c", "d", "e"), 1))
    log.append(block_entry(1, 4, 2, b"block"))
    # From past the last index, nothing is removed.
    assert (log.truncate_from(5), log.truncate_from(7)) == (0, 0)
    assert log.last_index == 4
    assert log.truncate_from(3) == 2
    assert (log.last_index, log.voters, log.configuration_index) == (2, ("a", "b", "c", "d"), 2)
    assert log.known_voters() == {"a", "b", "c", "d"}
    assert log.truncate_from(2) == 1
    assert (log.last_index, log.voters, log.configuration_index) == (1, BASE, 0)
    assert log.known_voters() == {"a", "b", "c"}


def test_truncation_below_a_configuration_takes_it_and_keeps_those_before_the_index() -> None:
    """Configurations at 2 and 4, truncated from 3 (a block): the one at 4 goes, 2 stays."""
    log = log_of(1)
    log.append(membership_entry(1, 2, ("a", "b", "c", "d"), 1))
    log.append(block_entry(1, 3, 2, b"block"))
    log.append(membership_entry(1, 4, ("a", "b", "c", "d", "e"), 2))
    log.append(block_entry(1, 5, 3, b"block"))
    assert log.truncate_from(3) == 3
    assert (log.last_index, log.voters, log.configuration_index) == (2, ("a", "b", "c", "d"), 2)
    assert log.known_voters() == {"a", "b", "c", "d"}


def test_a_slice_holds_at_most_count_max_entries_from_its_start() -> None:
    log = sized_log(0, 0, 0, 0, 0)
    assert [entry.index for entry in log.slice(2, 3, 1_000)] == [2, 3, 4]
    assert [entry.index for entry in log.slice(4, 3, 1_000)] == [4, 5]
    assert [entry.index for entry in log.slice(1, 1, 1_000)] == [1]
    assert log.slice(6, 3, 1_000) == []


def test_a_slice_fills_its_byte_budget_exactly_and_stops_at_the_first_entry_beyond() -> None:
    """Entries of 100, 50 and 10 bytes of data are 132, 82 and 42 bytes: 214 fit in 214 bytes,
    not in 213, and the 42-byte entry after the one that does not fit is not sent either."""
    log = sized_log(100, 50, 10)
    assert [entry.index for entry in log.slice(1, 3, 214)] == [1, 2]
    assert [entry.index for entry in log.slice(1, 3, 213)] == [1]
    assert [entry.index for entry in log.slice(1, 3, 256)] == [1, 2, 3]
    assert [entry.index for entry in log.slice(1, 3, 255)] == [1, 2]


def test_a_slice_holds_one_entry_above_the_budget_when_it_is_the_first() -> None:
    log = sized_log(100, 0)
    assert [entry.index for entry in log.slice(1, 2, 10)] == [1]
    assert [entry.index for entry in log.slice(1, 2, 0)] == [1]
