"""Raft rules that the full mutation run of the engine (all 998 mutants, docs/testing.md) found no
test held: a negative heartbeat, a built block of another chain whichever way its id sorts, a
success response older than one already taken, a leader that disagrees with the committed entry
itself, a candidate's vote for itself kept when it becomes a follower in its term, an entry of an
earlier term committed by counting (Figure 8), a held entry of a later term than the leader's,
a verdict on another block, the term bound at its limit, and the counters the node's metrics
read."""

from __future__ import annotations

from random import Random

import pytest
from raft_harness import CHAIN_ID, TIMEOUTS, KeyedSigner, ToyApplication
from test_raft_core import (
    append,
    block_entry,
    config_entry,
    idle_leader,
    make_core,
    request_vote,
)
from test_raft_rules_held import appended, elect, plain_core, vote
from test_raft_second_sample_held import four_voter_leader

from causeway.consensus import BuildBlock, Output
from causeway.consensus.raft import (
    META_RECORD,
    TERM_MAX,
    RaftCore,
    RaftRole,
    RaftTimeouts,
    log_record_name,
)
from causeway.consensus.raft import engine as raft_engine
from causeway.consensus.raft.engine import APPEND_ENTRIES_MAX, PIPELINE_BLOCKS_LIMIT
from causeway.consensus.raft.records import Meta, encode_meta
from causeway.consensus.v1 import consensus_pb2
from causeway.errors import ConfigurationError, InvariantError, StorageCorruptionError
from causeway.types import encode
from causeway.types.v1 import types_pb2


def test_a_negative_heartbeat_is_refused_like_a_zero_one() -> None:
    with pytest.raises(ConfigurationError, match="heartbeat_ms must be positive"):
        RaftTimeouts(election_min_ms=10, election_max_ms=20, heartbeat_ms=-1)


@pytest.mark.parametrize("chain_id", ["a-chain", "z-chain"], ids=["sorts-below", "sorts-above"])
def test_a_built_block_of_another_chain_is_an_invariant_error_and_not_appended(
    chain_id: str,
) -> None:
    """The application built a block of another chain: a bug, never something to replicate.
    Both an id that sorts below the chain's and one above it, so no order decides it."""
    assert min(chain_id, CHAIN_ID) != max(chain_id, CHAIN_ID)
    core = plain_core()
    now = elect(core)
    (request,) = core.propose(now).build
    last = core.last_log_index
    block = types_pb2.Block(
        header=types_pb2.BlockHeader(chain_id=chain_id, height=request.height, time_ms=now)
    )
    with pytest.raises(InvariantError, match=f"a block of chain {chain_id!r}"):
        core.block_built(block, now)
    assert core.last_log_index == last


def test_a_success_older_than_one_taken_does_not_lower_the_followers_match() -> None:
    """Responses can arrive out of order: b's acknowledgement of nothing (match 0) after its
    acknowledgement of the leader's entry must not undo it. With four voters, the entry commits
    on the leader, b and c; had b's match gone back to 0, c's acknowledgement would not be
    enough."""
    core, now = four_voter_leader()
    last = core.last_log_index
    core.step("b", appended(core.term, "b", last), now + 1)
    core.step("b", appended(core.term, "b", 0), now + 2)
    assert core.commit_index == 0
    core.step("c", appended(core.term, "c", last), now + 3)
    assert core.commit_index == last


@pytest.mark.parametrize("previous", [2, 1], ids=["at-the-commit-index", "below-it"])
def test_an_append_disagreeing_with_a_committed_entry_is_dropped_without_a_reply(
    previous: int,
) -> None:
    """A leader whose entry at this node's commit index (2), or below it, has another term
    contradicts a committed entry: malformed, no answer (an answer would invite the leader to
    overwrite it), nothing changed. (test_raft_second_sample_held holds entries that would
    replace a committed one after a previous entry that matches.)"""
    core = make_core("a")
    core.start(0)
    entries = [config_entry(1, 1, ["a", "b", "c"]), block_entry(1, 2, 1)]
    core.step("b", append(1, entries, leader_commit=2), 10)
    assert core.commit_index == 2
    malformed = core.statistics.messages_dropped_malformed
    sent = [block_entry(2, previous + 1, previous)]
    output = core.step("b", append(2, sent, previous, 2, leader_commit=previous + 1), 20)
    assert output.send == []
    assert [name for name, _ in output.persist] == [META_RECORD]  # the newer term only
    assert core.statistics.messages_dropped_malformed == malformed + 1
    assert core.statistics.appends_rejected == 0
    assert (core.commit_index, core.last_log_index) == (2, 2)
    assert core.log_entry(2).term == 1


def test_a_refused_vote_counts_one() -> None:
    """A candidate whose log is behind is refused: votes_refused (a metric) moves by one."""
    core = make_core("a")
    core.start(0)
    core.step("b", append(1, [config_entry(1, 1, ["a", "b", "c"])]), 10)
    output = core.step("c", request_vote(2, "c"), 10 + TIMEOUTS.election_max_ms + 1)
    assert [message.raft_vote_response.granted for _, message in output.send] == [False]
    assert core.statistics.votes_refused == 1
    assert core.statistics.votes_granted == 0


def test_each_committed_block_counts_one() -> None:
    """blocks_committed (a metric) counts each Commit emitted, once."""
    core = make_core("a")
    core.start(0)
    entries = [config_entry(1, 1, ["a", "b", "c"]), block_entry(1, 2, 1), block_entry(1, 3, 2)]
    output = core.step("b", append(1, entries, leader_commit=3), 10)
    assert [commit.height for commit in output.commits] == [1, 2]
    assert core.statistics.blocks_committed == 2


# ---------------------------------------------------------------- safety


def test_a_candidate_that_becomes_a_follower_in_its_term_keeps_its_vote_for_itself() -> None:
    """Hearing the leader of its own term makes a candidate a follower, but it voted for itself
    in that term: it must not vote again for another candidate of the same term (two votes in a
    term could elect two leaders)."""
    core = make_core("a")
    core.start(0)
    core.tick(TIMEOUTS.election_max_ms)
    assert (core.role, core.term, core.voted_for) == (RaftRole.CANDIDATE, 1, "a")
    now = TIMEOUTS.election_max_ms + 1
    core.step("b", append(1, [], leader="b"), now)
    assert (core.role, core.term, core.voted_for) == (RaftRole.FOLLOWER, 1, "a")
    output = core.step("c", request_vote(1, "c"), now + 1)
    assert [message.raft_vote_response.granted for _, message in output.send] == [False]
    assert core.voted_for == "a"


def test_an_entry_of_an_earlier_term_is_not_committed_by_counting_its_replicas() -> None:
    """§5.4.2 (the Figure 8 case): a new leader commits by counting only an entry of its own
    term. Its entry of term 1, held by b too (a majority of three), is committed only when b
    also holds the leader's entry of term 2 after it."""
    core = make_core("a")
    core.start(0)
    core.step("b", append(1, [config_entry(1, 1, ["a", "b", "c"])]), 10)
    assert (core.last_log_index, core.commit_index) == (1, 0)
    core.tick(10 + TIMEOUTS.election_max_ms)
    won = 11 + TIMEOUTS.election_max_ms
    core.step("b", vote(2, "b"), won)
    assert (core.role, core.term, core.last_log_index) == (RaftRole.LEADER, 2, 2)
    core.step("b", appended(2, "b", 1), won + 1)
    assert core.commit_index == 0
    core.step("b", appended(2, "b", 2), won + 2)
    assert core.commit_index == 2


def test_a_held_entry_of_a_later_term_than_the_leaders_is_replaced_by_the_leaders() -> None:
    """a holds index 2 of term 3 from a leader that failed; the leader of term 4 has index 2 of
    term 2 (possible: it was elected without a's vote). Log matching needs a's entry replaced,
    not kept because its term is higher: kept, a's log would commit another block at height 2."""
    core = make_core("a")
    core.start(0)
    core.step("c", append(3, [block_entry(1, 1, 1), block_entry(3, 2, 2)], leader="c"), 10)
    assert core.log_entry(2).term == 3
    core.step("b", append(4, [block_entry(1, 1, 1), block_entry(2, 2, 2)], leader="b"), 20)
    assert [core.log_entry(index).term for index in (1, 2)] == [1, 2]
    assert core.log_entry(2).data == block_entry(2, 2, 2).data
    assert core.statistics.entries_truncated == 1


def test_a_verdict_on_another_block_than_the_one_handed_out_is_ignored() -> None:
    """block_validated answers for the block that Output.validate handed out, by its hash; a
    verdict naming another hash (a previous life of the driver), whichever way it sorts against
    the right one, commits nothing."""
    core = plain_core()
    core.start(0)
    output = core.step("b", append(1, [block_entry(1, 1, 1)], leader_commit=1), 10)
    (validation,) = output.validate
    for other in (b"\x00" * 32, b"\xff" * 32):
        assert other != validation.block_hash
        assert core.block_validated(other, True, 20).commits == []
    assert core.committed_height == 0
    validated = core.block_validated(validation.block_hash, True, 30)
    assert [commit.height for commit in validated.commits] == [1]


def test_a_term_of_exactly_term_max_is_taken_up() -> None:
    """TERM_MAX is the last term allowed (its other side, TERM_MAX + 1, is held elsewhere)."""
    core = make_core("a")
    core.start(0)
    core.step("b", append(TERM_MAX, [], leader="b"), 10)
    assert core.term == TERM_MAX
    assert core.leader == "b"
    assert core.statistics.messages_dropped_malformed == 0


# ---------------------------------------------------------------- counters (the node's metrics)


def test_each_dropped_or_rejected_message_counts_one() -> None:
    """A vote response naming another voter (malformed), a stale one, an AppendEntries from a
    second leader of the leader's own term (malformed), and an append past the follower's log
    (rejected): each moves its counter by exactly one."""
    leader = plain_core()
    now = elect(leader)
    before = leader.statistics
    assert (before.elections_started, before.elections_won) == (1, 1)
    leader.step("b", vote(leader.term, "c"), now + 1)
    assert leader.statistics.messages_dropped_malformed == before.messages_dropped_malformed + 1
    leader.step("c", vote(leader.term, "c"), now + 2)
    assert leader.statistics.messages_dropped_stale == before.messages_dropped_stale + 1
    assert leader.step("c", append(leader.term, [], leader="c"), now + 3).send == []
    assert leader.statistics.messages_dropped_malformed == before.messages_dropped_malformed + 2
    assert leader.role is RaftRole.LEADER

    follower = make_core("a")
    follower.start(0)
    output = follower.step("b", append(1, [block_entry(1, 5, 1)], 4, 1), 10)
    assert [message.raft_append_response.success for _, message in output.send] == [False]
    assert follower.statistics.appends_rejected == 1


# ---------------------------------------------------------------- who may say what


@pytest.mark.parametrize("key_of", ["0", "z"], ids=["sorts-below", "sorts-above"])
def test_a_core_given_another_nodes_key_is_refused_whichever_way_the_ids_sort(key_of: str) -> None:
    with pytest.raises(ConfigurationError, match=f"was given the key of {key_of!r}"):
        RaftCore(CHAIN_ID, "a", ["a", "b", "c"], KeyedSigner(key_of), ToyApplication(), Random(1))


@pytest.mark.parametrize(("sender", "named"), [("b", "c"), ("c", "b")])
def test_a_message_naming_another_node_than_its_sender_is_malformed(
    sender: str, named: str
) -> None:
    """A vote response's voter and an AppendEntries' leader must be the sender itself, whichever
    way the two ids sort: such a message is malformed and changes nothing."""
    leader = plain_core()
    now = elect(leader)
    malformed = leader.statistics.messages_dropped_malformed
    leader.step(sender, vote(leader.term, named), now + 1)
    assert leader.statistics.messages_dropped_malformed == malformed + 1

    follower = make_core("a")
    follower.start(0)
    output = follower.step(sender, append(5, [], leader=named), 10)
    assert output.send == []
    assert (follower.term, follower.leader) == (0, None)
    assert follower.statistics.messages_dropped_malformed == 1


def test_an_append_claiming_a_term_before_index_0_is_malformed_and_changes_nothing() -> None:
    """Index 0 has no entry and so no term: an AppendEntries whose previous index is 0 with a
    previous term of 1 is malformed, dropped before it can make its sender leader or raise the
    term."""
    core = make_core("a")
    core.start(0)
    deadline = core.next_deadline_ms()
    output = core.step("b", append(3, [], 0, 1), 10)
    assert output.send == []
    assert (core.term, core.leader) == (0, None)
    assert core.statistics.messages_dropped_malformed == 1
    assert core.next_deadline_ms() == deadline  # its election timer was not reset


def test_an_append_of_an_older_term_counts_one_stale_message() -> None:
    core = make_core("a")
    core.start(0)
    core.step("c", append(3, [], leader="c"), 10)
    output = core.step("b", append(2, [], leader="b"), 20)
    assert [message.raft_append_response.success for _, message in output.send] == [False]
    assert core.statistics.messages_dropped_stale == 1


# ---------------------------------------------------------------- replication


def leader_with_entries(
    follower_entries: int, *, pipeline_blocks_max: int = 1
) -> tuple[RaftCore, int]:
    """Node a, which holds `follower_entries` entries of term 1 from b, elected in term 2 with
    b's vote; its no-op follows them."""
    core = plain_core(pipeline_blocks_max=pipeline_blocks_max)
    core.start(0)
    entries = [config_entry(1, 1, ["a", "b", "c"])] + [
        block_entry(1, index, index - 1) for index in range(2, follower_entries + 1)
    ]
    for first in range(0, len(entries), APPEND_ENTRIES_MAX):
        chunk = entries[first : first + APPEND_ENTRIES_MAX]
        previous = chunk[0].index - 1
        core.step("b", append(1, chunk, previous, 1 if previous else 0), 10)
    assert core.last_log_index == follower_entries
    core.tick(10 + TIMEOUTS.election_max_ms)
    won = 11 + TIMEOUTS.election_max_ms
    core.step("b", vote(2, "b"), won)
    assert (core.role, core.last_log_index) == (RaftRole.LEADER, follower_entries + 1)
    return core, won


def appends_to(output: Output, peer: str) -> list[consensus_pb2.RaftAppendEntries]:
    return [
        message.raft_append_entries
        for destination, message in output.send
        if destination == peer and message.HasField("raft_append_entries")
    ]


@pytest.mark.parametrize(("hint", "previous"), [(1, 1), (2, 1)])
def test_a_refused_append_backs_off_to_the_followers_hint_at_once(hint: int, previous: int) -> None:
    """The leader (log 1..3, c's next index 3) resends from just after c's hint, but never from
    later than one entry before where it was: a hint of 1 and one of 2 both lead to an append
    after index 1, at once."""
    core, now = leader_with_entries(2)
    output = core.step("c", appended(2, "c", hint, success=False), now + 1)
    (request,) = appends_to(output, "c")
    assert request.previous_log_index == previous
    assert [entry.index for entry in request.entries] == list(range(previous + 1, 4))


@pytest.mark.parametrize("entries", [APPEND_ENTRIES_MAX, APPEND_ENTRIES_MAX + 2])
def test_an_acknowledgement_that_leaves_the_follower_behind_sends_the_rest_at_once(
    entries: int,
) -> None:
    """c, far behind, acknowledges the first full AppendEntries: the leader sends the entries
    after it at once (not at the next heartbeat), whatever is left: one entry (its no-op) or
    three."""
    core, now = leader_with_entries(entries)
    output = core.step("c", appended(2, "c", 0, success=False), now + 1)
    (first,) = appends_to(output, "c")
    assert (first.previous_log_index, len(first.entries)) == (0, APPEND_ENTRIES_MAX)
    output = core.step("c", appended(2, "c", APPEND_ENTRIES_MAX), now + 2)
    (rest,) = appends_to(output, "c")
    assert [entry.index for entry in rest.entries] == list(
        range(APPEND_ENTRIES_MAX + 1, entries + 2)
    )


def test_entries_on_their_way_are_not_sent_again_with_a_new_one() -> None:
    """c was sent entries 1 to 3 in one AppendEntries; a block appended right after goes to c
    alone, not with the three already on their way (the resend interval has not passed)."""
    core, now = leader_with_entries(2, pipeline_blocks_max=4)
    output = core.step("c", appended(2, "c", 0, success=False), now + 1)
    (first,) = appends_to(output, "c")
    assert [entry.index for entry in first.entries] == [1, 2, 3]
    (request,) = core.propose(now + 2).build
    block = ToyApplication().build_block(
        request.height, request.round_number, request.time_ms, request.proposer
    )
    (second,) = appends_to(core.block_built(block, now + 3), "c")
    assert [entry.index for entry in second.entries] == [4]
    assert second.previous_log_index == 3


@pytest.mark.parametrize("held_index", [1, 3], ids=["lower", "higher"])
def test_a_log_record_holding_another_index_than_its_name_is_corruption(held_index: int) -> None:
    core = make_core("a")
    core.start(0)
    disk: dict[str, bytes] = {}
    entries = [block_entry(1, 1, 1), block_entry(1, 2, 2)]
    for name, data in core.step("b", append(1, entries), 10).persist:
        disk[name] = data
    assert make_core(records=disk).last_log_index == 2
    disk[log_record_name(2)] = encode(block_entry(1, held_index, 2))
    with pytest.raises(StorageCorruptionError, match=f"holds index {held_index}"):
        make_core(records=disk)


def test_while_a_block_is_being_built_the_idle_heartbeat_sets_no_deadline() -> None:
    """The idle heartbeat block is due only when one could be asked for: with a block being
    built the leader's next deadline is its heartbeat, even with an idle interval of 1 ms, so
    the driver is not woken for nothing."""
    core = idle_leader(idle_ms=1)
    assert core.propose(10).build == [BuildBlock(1, core.term, 10, "a")]
    assert core.next_deadline_ms() == TIMEOUTS.heartbeat_ms


def test_a_leader_ignores_a_request_for_votes_of_a_later_term() -> None:
    """Thesis §4.2.3: a leader counts as a leader heard just now, so a disruptive candidate's
    RequestVote of a later term neither raises its term nor unseats it."""
    core = plain_core()
    now = elect(core)
    term = core.term
    output = core.step("c", request_vote(term + 1, "c", 5, term), now + 1)
    assert not [message for _, message in output.send if message.HasField("raft_vote_response")]
    assert (core.role, core.term) == (RaftRole.LEADER, term)
    assert core.statistics.votes_ignored_leader_recent == 1


@pytest.mark.parametrize(("sender", "named"), [("b", "c"), ("c", "b")])
def test_a_request_for_votes_naming_another_candidate_is_malformed(sender: str, named: str) -> None:
    core = make_core("a")
    core.start(0)
    output = core.step(sender, request_vote(1, named), 10)
    assert output.send == []
    assert (core.term, core.voted_for) == (0, None)
    assert core.statistics.messages_dropped_malformed == 1


def test_a_refusal_for_a_conflicting_term_hints_the_entry_before_that_term() -> None:
    """a holds index 1 of term 1 and indexes 2 and 3 of term 2; a leader of term 3 whose entry
    at 3 is of term 3 is told to go back to index 1, the entry before a's term 2 began, so
    that its next AppendEntries skips the whole conflicting term."""
    core = make_core("a")
    core.start(0)
    core.step("b", append(1, [block_entry(1, 1, 1)]), 10)
    core.step("c", append(2, [block_entry(2, 2, 2), block_entry(2, 3, 3)], 1, 1, leader="c"), 20)
    output = core.step("b", append(3, [], 3, 3), 30)
    responses = [message.raft_append_response for _, message in output.send]
    assert [(response.success, response.match_index) for response in responses] == [(False, 1)]
    assert core.statistics.appends_rejected == 1


def test_a_restored_log_whose_change_replaces_two_voters_is_corruption() -> None:
    """Each membership entry of a restored log is checked against the configuration just before
    it (index - 1): entry 2 adding d and e to entry 1's a, b, c is not a single-server change."""
    records = {
        META_RECORD: encode_meta(Meta(term=1, voted_for=None, log_end=2)),
        log_record_name(1): encode(config_entry(1, 1, ["a", "b", "c"])),
        log_record_name(2): encode(config_entry(1, 2, ["a", "b", "c", "d", "e"])),
    }
    with pytest.raises(StorageCorruptionError, match="changes more than one voter"):
        make_core(records=records)


@pytest.mark.parametrize(("bound_offset", "accepted"), [(0, True), (-1, False)])
def test_a_built_block_above_the_entry_bound_is_an_invariant_error(
    monkeypatch: pytest.MonkeyPatch, bound_offset: int, accepted: bool
) -> None:
    """A block encoded in exactly ENTRY_BYTES_MAX bytes is appended, one byte more is the
    application's bug (shown with the bound lowered to a test block's size: a 64 MiB block
    takes too long to build here)."""
    core = plain_core()
    now = elect(core)
    (request,) = core.propose(now).build
    block = ToyApplication().build_block(
        request.height, request.round_number, request.time_ms, request.proposer
    )
    monkeypatch.setattr(raft_engine, "ENTRY_BYTES_MAX", len(encode(block)) + bound_offset)
    last = core.last_log_index
    if accepted:
        core.block_built(block, now)
        assert core.last_log_index == last + 1
    else:
        with pytest.raises(InvariantError, match="exceeds"):
            core.block_built(block, now)
        assert core.last_log_index == last


def test_a_proposed_membership_change_counts_one() -> None:
    core = plain_core()
    now = elect(core)
    core.step("b", appended(core.term, "b", core.last_log_index), now + 1)
    core.propose_membership_change(["a", "b", "c", "d"], now + 2)
    assert core.statistics.membership_changes_proposed == 1
    assert core.membership_change_pending


def test_a_pipeline_of_the_limit_is_allowed_and_one_more_is_refused() -> None:
    assert plain_core(pipeline_blocks_max=PIPELINE_BLOCKS_LIMIT).role is RaftRole.FOLLOWER
    with pytest.raises(
        ConfigurationError, match=f"pipeline_blocks_max must be in 1..{PIPELINE_BLOCKS_LIMIT}"
    ):
        plain_core(pipeline_blocks_max=PIPELINE_BLOCKS_LIMIT + 1)


def test_no_membership_change_before_the_leader_commits_an_entry_of_its_term() -> None:
    """Thesis §4.1 (the bug found after its publication): a new leader proposes a change only
    once its no-op of the term has committed."""
    core = plain_core()
    now = elect(core)
    last = core.last_log_index
    with pytest.raises(ConfigurationError, match="has not yet committed an entry of its term"):
        core.propose_membership_change(["a", "b", "c", "d"], now + 1)
    assert core.last_log_index == last
    core.step("b", appended(core.term, "b", last), now + 2)
    core.propose_membership_change(["a", "b", "c", "d"], now + 3)
    assert core.last_log_index == last + 1
    assert core.voters == ("a", "b", "c", "d")


@pytest.mark.parametrize(("sender", "named"), [("b", "c"), ("c", "b")])
def test_an_append_response_naming_another_follower_is_malformed(sender: str, named: str) -> None:
    core, now = four_voter_leader()
    malformed = core.statistics.messages_dropped_malformed
    core.step(sender, appended(core.term, named, core.last_log_index), now + 1)
    assert core.statistics.messages_dropped_malformed == malformed + 1
    assert core.commit_index == 0


def test_a_response_of_an_older_term_leaves_the_leader_leading() -> None:
    """An AppendEntries response of an earlier term (a delayed answer to an earlier leader) is
    stale: counted, and the leader goes on leading in its term."""
    core = plain_core()
    now = elect(core)
    term = core.term
    core.step("b", append(term + 1, [], leader="b"), now)  # a is a follower in term 2 now
    core.tick(now + 10 * TIMEOUTS.election_max_ms)
    core.step("b", vote(core.term, "b"), now + 10 * TIMEOUTS.election_max_ms + 1)
    assert (core.role, core.term) == (RaftRole.LEADER, term + 2)
    stale = core.statistics.messages_dropped_stale
    core.step("c", appended(term, "c", 1), now + 10 * TIMEOUTS.election_max_ms + 2)
    assert (core.role, core.term) == (RaftRole.LEADER, term + 2)
    assert core.statistics.messages_dropped_stale == stale + 1


# ---------------------------------------------------------------- configuration bounds, both sides


def test_an_election_minimum_below_the_heartbeat_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="election_min_ms must be above heartbeat_ms"):
        RaftTimeouts(election_min_ms=50, election_max_ms=100, heartbeat_ms=60)


def test_a_negative_committed_height_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="last_committed_height must not be negative"):
        make_core(last_committed_height=-1)


def test_a_negative_idle_interval_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="idle_block_interval_ms must be positive"):
        idle_leader(idle_ms=-1)


def test_an_idle_heartbeat_block_is_asked_for_at_a_tick_past_its_deadline() -> None:
    """A driver ticks when it can: past the idle deadline the block is still asked for."""
    core = idle_leader(idle_ms=1_000)
    (request,) = core.tick(1_000 + 7).build
    assert request.height == 1


def test_a_call_that_changes_nothing_persists_nothing() -> None:
    """The leader's heartbeat changes no term, vote or log: nothing to write (a write on every
    call would cost an fsync each)."""
    core = plain_core()
    now = elect(core)
    deadline = core.next_deadline_ms()
    assert deadline is not None and deadline > now
    output = core.tick(deadline)
    assert appends_to(output, "b")
    assert output.persist == []


def test_a_request_for_votes_of_the_current_term_is_answered_though_a_leader_was_heard() -> None:
    """§4.2.3 ignores a RequestVote of a later term while a leader is heard; one of the current
    term is answered as usual (here granted: a has not voted in term 1)."""
    core = make_core("a")
    core.start(0)
    core.step("b", append(1, [], leader="b"), 10)
    output = core.step("c", request_vote(1, "c"), 11)
    assert [message.raft_vote_response.granted for _, message in output.send] == [True]
    assert core.statistics.votes_ignored_leader_recent == 0


def test_an_entry_of_term_0_is_malformed() -> None:
    """Terms of entries start at 1 (0 means "no entry"); an AppendEntries carrying an entry of
    term 0 is refused whole, so no such entry reaches the log (where a restart would take it
    for corruption)."""
    core = make_core("a")
    core.start(0)
    output = core.step("b", append(1, [block_entry(0, 1, 1)]), 10)
    assert output.persist == [] or all(name == META_RECORD for name, _ in output.persist)
    assert core.last_log_index == 0
    assert core.statistics.messages_dropped_malformed == 1


def test_a_new_leader_with_more_uncommitted_blocks_than_its_pipeline_builds_none() -> None:
    """Elected with three uncommitted blocks of an earlier leader in its log, a leader whose
    pipeline holds one asks for no block until they commit (beyond the limit is not below it)."""
    core, now = leader_with_entries(4)
    assert core.commit_index == 0
    assert core.propose(now + 1).build == []


def test_an_idle_interval_shorter_than_the_heartbeat_sets_the_next_deadline() -> None:
    core = idle_leader(idle_ms=1)
    assert core.next_deadline_ms() == 1
    (request,) = core.tick(1).build
    assert request.height == 1


def test_a_leader_whose_removal_commits_tells_the_followers_before_stepping_down() -> None:
    """Thesis §4.2.2: the removed leader sends the commit index of its removal once (an append
    to each follower), then steps down."""
    application = ToyApplication()
    core = plain_core(application=application)
    now = elect(core)
    core.step("b", appended(core.term, "b", 1), now)
    core.propose_membership_change(["b", "c"], now + 1)
    removal = core.last_log_index
    core.step("b", appended(core.term, "b", removal), now + 2)
    output = core.step("c", appended(core.term, "c", removal), now + 3)
    assert core.role is RaftRole.FOLLOWER
    for follower in ("b", "c"):
        (request,) = appends_to(output, follower)
        assert request.leader_commit == removal


def test_a_core_at_term_max_starts_no_election() -> None:
    """No term past TERM_MAX is ever taken: a follower at TERM_MAX whose election timer fires
    stays a follower in that term (a term beyond it could not be restored)."""
    core = make_core("a")
    core.start(0)
    core.step("b", append(TERM_MAX, [], leader="b"), 10)
    output = core.tick(10 + 10 * TIMEOUTS.election_max_ms)
    assert (core.role, core.term) == (RaftRole.FOLLOWER, TERM_MAX)
    assert core.statistics.elections_started == 0
    assert output.send == []


def test_the_commit_index_never_goes_back_when_a_voter_is_added() -> None:
    """Entries 1 and 2 are committed (a and b hold them; c holds 1). Adding d makes the quorum
    three of four, whose third match is only 1: the commit index stays at 2."""
    application = ToyApplication()
    core = plain_core(application=application)
    now = elect(core)
    core.step("b", appended(core.term, "b", 1), now + 1)
    core.step("c", appended(core.term, "c", 1), now + 2)
    (request,) = core.propose(now + 3).build
    block = application.build_block(request.height, request.round_number, now + 3, "a")
    core.block_built(block, now + 3)
    core.step("b", appended(core.term, "b", 2), now + 4)
    assert core.commit_index == 2
    core.propose_membership_change(["a", "b", "c", "d"], now + 5)
    assert core.voters == ("a", "b", "c", "d")
    assert core.commit_index == 2


def test_a_candidate_asked_for_a_vote_of_an_older_term_stays_a_candidate() -> None:
    core = make_core("a")
    core.start(0)
    core.tick(TIMEOUTS.election_max_ms)
    core.tick(2 * TIMEOUTS.election_max_ms + 1)  # a second election: term 2
    assert (core.role, core.term) == (RaftRole.CANDIDATE, 2)
    output = core.step("b", request_vote(1, "b"), 2 * TIMEOUTS.election_max_ms + 2)
    assert (core.role, core.term) == (RaftRole.CANDIDATE, 2)
    assert [message.raft_vote_response.granted for _, message in output.send] == [False]
