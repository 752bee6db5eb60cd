"""A leader's replication traffic, and blocks built and validated outside the core (Output.build and
Output.validate), so that a driver keeps calling the core while a large block executes."""

from __future__ import annotations

import random

import pytest
from raft_harness import CHAIN_ID, TIMEOUTS, InlineRaftCore, KeyedSigner, ToyApplication

from causeway.consensus import BuildBlock, Output
from causeway.consensus.raft import RaftCore, RaftRole, log_record_name
from causeway.consensus.v1 import consensus_pb2
from causeway.errors import InvariantError
from causeway.types import encode

VOTERS = ["a", "b", "c"]
RESEND_MS = max(TIMEOUTS.heartbeat_ms, TIMEOUTS.election_min_ms // 2)


def leader(
    application: ToyApplication | None = None, *, inline: bool = True
) -> tuple[RaftCore, int]:
    """Core "a" leading term 1 with its no-op entry (index 1) acknowledged by b and c; inline:
    its builds and validations carried out at once (InlineRaftCore)."""
    core = (InlineRaftCore if inline else RaftCore)(
        CHAIN_ID,
        "a",
        VOTERS,
        KeyedSigner("a"),
        application if application is not None else ToyApplication(),
        random.Random(1),
        TIMEOUTS,
    )
    core.start(0)
    deadline = core.next_deadline_ms()
    assert deadline is not None
    core.tick(deadline)
    vote = consensus_pb2.RaftVoteResponse(term=1, voter="b", granted=True)
    core.step("b", consensus_pb2.ConsensusMessage(raft_vote_response=vote), deadline)
    assert core.role is RaftRole.LEADER
    for peer in ("b", "c"):
        acknowledge(core, peer, 1, deadline)
    return core, deadline


def acknowledge(core: RaftCore, peer: str, match_index: int, now_ms: int) -> Output:
    response = consensus_pb2.RaftAppendResponse(
        term=core.term, follower=peer, success=True, match_index=match_index
    )
    return core.step(peer, consensus_pb2.ConsensusMessage(raft_append_response=response), now_ms)


def refuse(core: RaftCore, peer: str, hint: int, now_ms: int) -> Output:
    response = consensus_pb2.RaftAppendResponse(
        term=core.term, follower=peer, success=False, match_index=hint
    )
    return core.step(peer, consensus_pb2.ConsensusMessage(raft_append_response=response), now_ms)


def appends_to(output: Output, peer: str) -> list[consensus_pb2.RaftAppendEntries]:
    return [
        message.raft_append_entries
        for recipient, message in output.send
        if recipient == peer and message.WhichOneof("body") == "raft_append_entries"
    ]


def sent_indexes(output: Output, peer: str) -> list[list[int]]:
    return [[entry.index for entry in append.entries] for append in appends_to(output, peer)]


def test_a_block_asked_for_is_appended_where_it_fits() -> None:
    builder = ToyApplication()
    application = ToyApplication()
    follower = RaftCore(
        CHAIN_ID, "b", VOTERS, KeyedSigner("b"), application, random.Random(2), TIMEOUTS
    )
    follower.start(0)
    assert follower.propose(5) == Output()  # a follower asks for no block
    offered = follower.block_built(builder.build_block(1, 1, 5, "b"), 5)
    assert offered == Output()
    assert follower.statistics.blocks_discarded == 1

    core, now = leader(application, inline=False)
    asked = core.propose(now)
    assert asked.build == [BuildBlock(height=1, round_number=1, time_ms=now, proposer="a")]
    assert core.propose(now) == Output()  # asked once until it comes back
    # A block for another height than the one asked for is dropped, changing nothing.
    assert core.block_built(builder.build_block(2, 1, now, "a"), now) == Output()
    assert core.last_log_index == 1
    assert core.propose(now).build  # (the request was answered: it may be asked again)
    output = core.block_built(builder.build_block(1, 1, now, "a"), now)
    assert log_record_name(2) in dict(output.persist)
    assert sent_indexes(output, "b") == [[2]]
    assert application.built == []  # the core built nothing itself
    assert core.statistics.blocks_proposed == 1
    assert core.propose(now) == Output()  # one uncommitted block at a time
    committed = acknowledge(core, "b", 2, now + 1)
    # Committed: handed out for validation; its Commit follows the verdict.
    assert committed.commits == []
    (validation,) = committed.validate
    assert validation.block.header.height == 1
    assert core.propose(now + 1) == Output()  # nothing is built before block 1 is emitted
    assert core.block_validated(b"another hash", True, now + 1) == Output()
    emitted = core.block_validated(validation.block_hash, True, now + 1)
    assert [commit.height for commit in emitted.commits] == [1]
    assert core.committed_height == 1
    assert core.block_validated(validation.block_hash, True, now + 1) == Output()  # once
    assert core.propose(now + 1).build == [
        BuildBlock(height=2, round_number=1, time_ms=now + 1, proposer="a")
    ]

    # A block built while this node still led is dropped once it no longer does.
    block = builder.build_block(2, 1, now + 2, "a")
    newer = consensus_pb2.RaftAppendResponse(term=5, follower="c", success=False)
    core.step("c", consensus_pb2.ConsensusMessage(raft_append_response=newer), now + 2)
    assert core.role is RaftRole.FOLLOWER
    assert core.block_built(block, now + 3) == Output()
    assert core.last_log_index == 2
    assert core.statistics.blocks_discarded == 2


def test_committed_blocks_are_validated_one_at_a_time_in_height_order() -> None:
    application = ToyApplication()
    core = RaftCore(
        CHAIN_ID, "b", VOTERS, KeyedSigner("b"), application, random.Random(2), TIMEOUTS
    )
    core.start(0)
    entries = [
        consensus_pb2.RaftEntry(
            term=1, index=index, data=encode(application.build_block(index, 1, index, "a"))
        )
        for index in (1, 2, 3)
    ]
    request = consensus_pb2.RaftAppendEntries(term=1, leader="a", entries=entries, leader_commit=3)
    output = core.step("a", consensus_pb2.ConsensusMessage(raft_append_entries=request), 1)
    assert [v.block.header.height for v in output.validate] == [1]
    assert output.validate[0].committed  # final already: not held to the validator's clock
    heights = []
    validation = output.validate[0]
    for height in (1, 2, 3):
        assert validation.block.header.height == height
        answered = core.block_validated(validation.block_hash, True, 2)
        heights += [commit.height for commit in answered.commits]
        if height < 3:
            # The next request follows its parent's Commit in one Output (applied first).
            (validation,) = answered.validate
        else:
            assert answered.validate == []
    assert heights == [1, 2, 3]
    refused = RaftCore(
        CHAIN_ID, "c", VOTERS, KeyedSigner("c"), application, random.Random(2), TIMEOUTS
    )
    refused.start(0)
    first = refused.step("a", consensus_pb2.ConsensusMessage(raft_append_entries=request), 1)
    with pytest.raises(InvariantError, match="refuses the committed block at height 1"):
        refused.block_validated(first.validate[0].block_hash, False, 2)


def test_entries_on_their_way_are_not_sent_again_before_the_resend_interval() -> None:
    core, now = leader()
    first = core.propose(now)
    assert sent_indexes(first, "b") == [[2]]
    # b acknowledges; c is slow. A heartbeat within the interval carries no entry to c, and
    # points at what c has matched so that c accepts it.
    acknowledge(core, "b", 2, now + 1)
    heartbeat = core.tick(now + TIMEOUTS.heartbeat_ms)
    (to_c,) = appends_to(heartbeat, "c")
    assert not to_c.entries
    assert (to_c.previous_log_index, to_c.leader_commit) == (1, 2)
    # The next block goes to c alone, after the one on its way (no second copy of it).
    second = core.propose(now + 2)
    assert sent_indexes(second, "c") == [[3]]
    assert appends_to(second, "c")[0].previous_log_index == 2
    assert sent_indexes(second, "b") == [[3]]
    # c says nothing for the whole interval: everything from its next index goes again.
    late = core.tick(now + RESEND_MS + TIMEOUTS.heartbeat_ms)
    assert sent_indexes(late, "c") == [[2, 3]]
    assert sent_indexes(late, "b") == [[3]]


def test_progress_restarts_the_resend_timer() -> None:
    core, now = leader()
    core.propose(now)
    acknowledge(core, "b", 2, now + 1)
    core.propose(now + 2)
    # c acknowledges index 2 just before the interval ends: index 3 is not resent yet.
    acknowledge(core, "c", 2, now + RESEND_MS - 1)
    assert sent_indexes(core.tick(now + RESEND_MS + 1), "c") == [[]]
    assert sent_indexes(core.tick(now + 2 * RESEND_MS), "c") == [[3]]
    # A refusal from a follower that simply has not received what is on its way (its hint is
    # its matched index) sends nothing again.
    acknowledge(core, "b", 3, now + 2 * RESEND_MS)
    third = core.propose(now + 2 * RESEND_MS)
    assert sent_indexes(third, "c") == [[4]]
    assert not refuse(core, "c", 2, now + 2 * RESEND_MS + 1).send


def test_a_refusal_that_backs_off_resends_at_once() -> None:
    application = ToyApplication()
    core = RaftCore(
        CHAIN_ID, "a", VOTERS, KeyedSigner("a"), application, random.Random(3), TIMEOUTS
    )
    core.start(0)
    entries = [
        consensus_pb2.RaftEntry(
            term=1, index=index, data=encode(application.build_block(index, 1, index, "b"))
        )
        for index in (1, 2)
    ]
    request = consensus_pb2.RaftAppendEntries(term=1, leader="b", entries=entries)
    core.step("b", consensus_pb2.ConsensusMessage(raft_append_entries=request), 1)
    deadline = core.next_deadline_ms()
    assert deadline is not None
    core.tick(deadline)
    vote = consensus_pb2.RaftVoteResponse(term=2, voter="c", granted=True)
    elected = core.step("c", consensus_pb2.ConsensusMessage(raft_vote_response=vote), deadline)
    assert core.role is RaftRole.LEADER
    assert sent_indexes(elected, "c") == [[3]]  # the no-op, after what c is assumed to hold
    # c holds nothing: the leader backs off to its hint and sends everything at once, though
    # the no-op went out just now.
    assert sent_indexes(refuse(core, "c", 0, deadline + 1), "c") == [[1, 2, 3]]
