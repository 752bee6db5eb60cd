"""Raft rules a 60-mutant cosmic-ray sample over consensus/raft/engine.py showed no test held
(docs/testing.md): which configuration an appended entry is checked against, the byte budget of
one AppendEntries, the size bound on a restored record, a block built while a committed one is
being validated, replication to removed voters, and the count of commits still to emit."""

from __future__ import annotations

import hashlib
import random

import pytest
from raft_harness import CHAIN_ID, TIMEOUTS, KeyedSigner, ToyApplication
from test_raft_core import append, config_entry, make_core

from causeway.consensus.raft import (
    ENTRY_BYTES_MAX,
    META_RECORD,
    RaftCore,
    RaftRole,
    log_record_name,
)
from causeway.consensus.raft.records import Meta, encode_meta
from causeway.consensus.v1 import consensus_pb2
from causeway.errors import StorageCorruptionError
from causeway.types import encode
from causeway.types.v1 import types_pb2

MIB = 1024 * 1024


def plain_core(
    records: dict[str, bytes] | None = None,
    *,
    pipeline_blocks_max: int = 1,
    application: ToyApplication | None = None,
) -> RaftCore:
    """Node a of voters a, b, c whose Output.build and Output.validate wait for the test."""
    return RaftCore(
        CHAIN_ID,
        "a",
        ["a", "b", "c"],
        KeyedSigner("a"),
        application if application is not None else ToyApplication(),
        random.Random(1),
        TIMEOUTS,
        records,
        pipeline_blocks_max=pipeline_blocks_max,
    )


def vote(term: int, voter: str) -> consensus_pb2.ConsensusMessage:
    return consensus_pb2.ConsensusMessage(
        raft_vote_response=consensus_pb2.RaftVoteResponse(term=term, voter=voter, granted=True)
    )


def appended(
    term: int, follower: str, match_index: int, *, success: bool = True
) -> consensus_pb2.ConsensusMessage:
    return consensus_pb2.ConsensusMessage(
        raft_append_response=consensus_pb2.RaftAppendResponse(
            term=term, follower=follower, success=success, match_index=match_index
        )
    )


def elect(core: RaftCore) -> int:
    """Makes a (started at 0) leader with b's vote; returns the time it won."""
    core.start(0)
    core.tick(TIMEOUTS.election_max_ms)
    assert core.role is RaftRole.CANDIDATE
    core.step("b", vote(core.term, "b"), TIMEOUTS.election_max_ms + 1)
    assert core.role is RaftRole.LEADER
    return TIMEOUTS.election_max_ms + 1


def block_of_size(height: int, size: int) -> bytes:
    """The encoding of a block at height of exactly `size` bytes (its one body padded)."""

    def encoded(body_bytes: int) -> bytes:
        body = b"x" * body_bytes
        header = types_pb2.BlockHeader(
            version=1,
            chain_id=CHAIN_ID,
            height=height,
            time_ms=1_000,
            proposer="a",
            transactions_root=hashlib.sha256(body).digest(),
            transaction_count=1,
        )
        return encode(
            types_pb2.Block(header=header, transactions=[types_pb2.Transaction(body=body)])
        )

    overhead = len(encoded(size - 1_000)) - (size - 1_000)
    data = encoded(size - overhead)
    assert len(data) == size
    return data


def destinations(sent: list[tuple[str | None, consensus_pb2.ConsensusMessage]]) -> list[str | None]:
    return [destination for destination, _ in sent]


# ------------------------------------------------------------- membership entries from a leader


def test_an_appended_change_counts_from_the_configuration_before_it_not_the_one_replaced() -> None:
    """One voter added or removed per entry, counted from the configuration of the leader's log
    before the entry: the follower's own uncommitted change at that index, which the entry
    replaces, is not what it is measured against (thesis §4.1)."""
    core = make_core()
    core.start(0)
    first = append(1, [config_entry(1, 1, ["a", "b", "c"]), config_entry(1, 2, list("abcd"))], 0)
    assert core.step("b", first, 10).send[0][1].raft_append_response.success
    assert core.voters == ("a", "b", "c", "d")
    # Leader c of term 2 replaces index 2 (adding d) with a change adding e, after index 1.
    two_changes = append(2, [config_entry(2, 2, list("abcde"))], 1, 1, leader="c")
    assert not core.step("c", two_changes, 20).send  # two voters added to a, b, c: malformed
    assert core.voters == ("a", "b", "c", "d")
    assert core.statistics.messages_dropped_malformed == 1
    one_change = append(2, [config_entry(2, 2, list("abce"))], 1, 1, leader="c")
    output = core.step("c", one_change, 30)
    response = output.send[0][1].raft_append_response
    assert (response.success, response.match_index) == (True, 2)
    assert core.voters == ("a", "b", "c", "e")
    assert core.last_log_index == 2
    assert core.statistics.entries_truncated == 1


# ------------------------------------------------------------- one AppendEntries' byte budget


@pytest.mark.parametrize(("second_size", "sent"), [(4 * MIB, 2), (4 * MIB + 1, 1)])
def test_one_append_carries_entries_up_to_8_mib_and_no_more(second_size: int, sent: int) -> None:
    """A leader catching a follower up puts entries in one AppendEntries while they total at
    most 8 MiB (an entry counts its data and 32 bytes): 4 MiB + 4 MiB go together, 4 MiB +
    (4 MiB + 1 byte) in two messages."""
    sizes = [4 * MIB, second_size]
    records = {META_RECORD: encode_meta(Meta(term=1, voted_for=None, log_end=2))}
    for index, size in enumerate(sizes, start=1):
        data = block_of_size(index, size - 32)
        message = consensus_pb2.RaftEntry(term=1, index=index, data=data)
        records[log_record_name(index)] = encode(message)
    core = plain_core(records)
    now_ms = elect(core)
    # b has nothing: it refuses the no-op after index 2 and the leader goes back to index 1.
    output = core.step("b", appended(core.term, "b", 0, success=False), now_ms + 1)
    assert destinations(output.send) == ["b"]
    request = output.send[0][1].raft_append_entries
    assert request.previous_log_index == 0
    assert [entry.index for entry in request.entries] == list(range(1, sent + 1))
    assert sum(len(entry.data) + 32 for entry in request.entries) == sum(sizes[:sent])


# ------------------------------------------------------------- a restored record's size bound


def test_a_restored_record_is_read_up_to_the_largest_entry_plus_64_bytes() -> None:
    """A log record is decoded only if it is at most ENTRY_BYTES_MAX + 64 bytes (the largest
    entry's data and room for its other fields); one byte more is refused by its size, unread.
    Both records here hold more data than an entry may, so both are refused: the first after
    being read, the second by the bound."""
    limit = ENTRY_BYTES_MAX + 64
    meta = {META_RECORD: encode_meta(Meta(term=1, voted_for=None, log_end=1))}
    # term and index take 2 bytes each, the data field's tag and 4-byte length 5.
    at_limit = encode(consensus_pb2.RaftEntry(term=1, index=1, data=bytes(limit - 9)))
    assert len(at_limit) == limit
    with pytest.raises(StorageCorruptionError, match=f"entry 1 is above {ENTRY_BYTES_MAX} bytes"):
        make_core(records={**meta, log_record_name(1): at_limit})
    del at_limit
    with pytest.raises(
        StorageCorruptionError, match=f"RaftEntry is {limit + 1} bytes, above the limit of {limit}"
    ):
        make_core(records={**meta, log_record_name(1): bytes(limit + 1)})


# ------------------------------------------------------------- building while validating


def test_a_block_built_while_a_committed_block_awaits_validation_is_discarded() -> None:
    """The driver builds on the state every committed block has left: a block asked for before
    a committed block came up for validation no longer fits when it is handed back. It is
    dropped (its transactions wait for a later block) and asked for again once the committed
    block is emitted."""
    application = ToyApplication()
    core = plain_core(pipeline_blocks_max=2, application=application)
    now_ms = elect(core)
    core.step("b", appended(core.term, "b", 1), now_ms)  # the no-op commits
    [request] = core.propose(now_ms).build
    first = application.build_block(request.height, request.round_number, now_ms, "a")
    assert core.block_built(first, now_ms).send
    [request] = core.propose(now_ms + 1).build  # the pipeline allows a second block
    assert request.height == 2
    second = application.build_block(2, request.round_number, now_ms + 1, "a")
    # b acknowledges the first block: it commits and goes out for validation.
    [validation] = core.step("b", appended(core.term, "b", 2), now_ms + 2).validate
    assert validation.block.header.height == 1
    output = core.block_built(second, now_ms + 3)
    assert (output.persist, output.send, output.build) == ([], [], [])
    assert core.last_log_index == 2
    assert core.statistics.blocks_discarded == 1
    assert not core.propose(now_ms + 4).build  # not while height 1 is being validated
    validated = core.block_validated(validation.block_hash, True, now_ms + 5)
    assert [commit.height for commit in validated.commits] == [1]
    assert [request.height for request in core.propose(now_ms + 6).build] == [2]


# ------------------------------------------------------------- removed voters


def test_a_leader_stops_replicating_to_a_voter_once_its_removal_is_in_the_log() -> None:
    """A configuration takes effect as soon as its entry is in the log (thesis §4.1): from the
    entry removing c on, the leader sends c nothing and ignores what c answers."""
    core = plain_core()
    now_ms = elect(core)
    core.step("b", appended(core.term, "b", 1), now_ms)
    assert core.commit_index == 1
    output = core.propose_membership_change(["a", "b"], now_ms + 1)
    assert destinations(output.send) == ["b"]
    heartbeat = core.tick(now_ms + TIMEOUTS.heartbeat_ms)
    assert destinations(heartbeat.send) == ["b"]
    stale = core.statistics.messages_dropped_stale
    assert not core.step("c", appended(core.term, "c", 2), now_ms + 2 * TIMEOUTS.heartbeat_ms).send
    assert core.statistics.messages_dropped_stale == stale + 1


# ------------------------------------------------------------- commits still to emit


def test_commits_pending_counts_the_committed_blocks_not_yet_emitted() -> None:
    """What a driver reads to know how many committed blocks it still has to take: both blocks
    of a commit, then one after the first is validated and emitted, then none."""
    application = ToyApplication()
    core = plain_core(application=application)
    core.start(0)
    blocks = [application.build_block(height, 1, 1_000, "b") for height in (1, 2)]
    entries = [
        consensus_pb2.RaftEntry(term=1, index=index, data=encode(block))
        for index, block in enumerate(blocks, start=1)
    ]
    [first] = core.step("b", append(1, entries, leader_commit=2), 10).validate
    assert core.commits_pending == 2
    [second] = core.block_validated(first.block_hash, True, 20).validate
    assert (core.commits_pending, core.committed_height) == (1, 1)
    assert [
        commit.height for commit in core.block_validated(second.block_hash, True, 30).commits
    ] == [2]
    assert (core.commits_pending, core.committed_height) == (0, 2)
