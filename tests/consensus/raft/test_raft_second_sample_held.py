"""Raft rules that the second and third seeded samples of the engine's mutants (seeds 2 and 3,
docs/testing.md) found no test held: the commit index with an even number of voters, stale and
misaddressed messages, an append whose entries go back, bounds on terms and entry sizes, a
retransmission over committed entries, the resend interval, and the counters the node's metrics
read."""

from __future__ import annotations

import dataclasses
import random

import pytest
from raft_harness import CHAIN_ID, TIMEOUTS, KeyedSigner, ToyApplication
from test_raft_core import append, block_entry, config_entry, make_core, request_vote
from test_raft_rules_held import appended, elect, plain_core, vote

from causeway.consensus import Output
from causeway.consensus.raft import (
    META_RECORD,
    TERM_MAX,
    RaftCore,
    RaftRole,
    RaftTimeouts,
    log_record_name,
)
from causeway.consensus.raft import engine as raft_engine
from causeway.consensus.raft.records import Meta, encode_meta
from causeway.consensus.v1 import consensus_pb2
from causeway.errors import StorageCorruptionError
from causeway.types import encode

FOUR = ["a", "b", "c", "d"]


def win_election(
    core: RaftCore, timeouts: RaftTimeouts = TIMEOUTS, voters: tuple[str, ...] = ("b",)
) -> tuple[int, Output]:
    """Starts `core` at 0, lets its election timer fire and hands it the votes of `voters`;
    returns when it won and what the last vote made it send."""
    core.start(0)
    core.tick(timeouts.election_max_ms)
    won = timeouts.election_max_ms + 1
    output = Output()
    for voter in voters:
        output = core.step(voter, vote(core.term, voter), won)
    assert core.role is RaftRole.LEADER
    return won, output


def four_voter_leader() -> tuple[RaftCore, int]:
    """Node a of four voters, elected with b's and c's votes; its first entry (the no-op of the
    term's block) is in its log."""
    core = RaftCore(
        CHAIN_ID,
        "a",
        FOUR,
        KeyedSigner("a"),
        ToyApplication(),
        random.Random(1),
        TIMEOUTS,
        None,
    )
    now, _ = win_election(core, voters=("b", "c"))
    assert core.last_log_index >= 1
    return core, now


def test_with_four_voters_an_entry_commits_on_three_matches_not_two() -> None:
    """The commit index is the highest index a quorum (3 of 4) holds: the leader and one
    follower holding an entry are not enough, a second follower makes it committed."""
    core, now = four_voter_leader()
    last = core.last_log_index
    core.step("b", appended(core.term, "b", last), now + 1)
    assert core.commit_index == 0
    core.step("c", appended(core.term, "c", last), now + 2)
    assert core.commit_index == last


def test_an_append_response_naming_another_follower_is_dropped() -> None:
    """b cannot answer for c: the response is malformed, and nothing of c's progress moves."""
    core, now = four_voter_leader()
    last = core.last_log_index
    core.step("b", appended(core.term, "b", last), now + 1)
    malformed = core.statistics.messages_dropped_malformed
    assert not core.step("b", appended(core.term, "c", last), now + 2).send
    assert core.statistics.messages_dropped_malformed == malformed + 1
    assert core.commit_index == 0


def test_a_success_beyond_the_leaders_log_counts_one_malformed_message() -> None:
    core, now = four_voter_leader()
    malformed = core.statistics.messages_dropped_malformed
    core.step("b", appended(core.term, "b", core.last_log_index + 1), now + 1)
    assert core.statistics.messages_dropped_malformed == malformed + 1
    assert core.commit_index == 0


def test_entries_that_go_back_in_index_are_refused() -> None:
    """The entries of one AppendEntries follow its previous index one by one: an entry that
    repeats or goes below the index it should have is malformed, as a gap is."""
    core = make_core("a")
    core.start(0)
    core.step("b", append(1, [config_entry(1, 1, ["a", "b", "c"]), block_entry(1, 2, 1)]), 10)
    before = (core.last_log_index, core.statistics.messages_dropped_malformed)
    output = core.step("b", append(1, [block_entry(1, 3, 2), block_entry(1, 3, 3)], 2, 1), 20)
    assert not output.persist
    assert (core.last_log_index, core.statistics.messages_dropped_malformed) == (
        before[0],
        before[1] + 1,
    )


def test_a_vote_response_of_an_older_term_leaves_a_candidate_standing() -> None:
    core = make_core("a")
    core.start(0)
    core.tick(TIMEOUTS.election_max_ms)
    core.tick(2 * TIMEOUTS.election_max_ms + 1)  # a second election: term 2
    assert (core.role, core.term) == (RaftRole.CANDIDATE, 2)
    core.step("b", vote(1, "b"), 2 * TIMEOUTS.election_max_ms + 2)
    assert (core.role, core.term) == (RaftRole.CANDIDATE, 2)


def test_no_vote_is_granted_to_a_candidate_of_an_older_term() -> None:
    core = make_core("a")
    core.start(0)
    core.step("c", append(3, [], leader="c"), 10)  # a's term is now 3
    granted = core.statistics.votes_granted
    output = core.step("b", request_vote(2, "b"), 10 + TIMEOUTS.election_max_ms + 1)
    responses = [message.raft_vote_response for _, message in output.send]
    assert all(not response.granted for response in responses)
    assert core.statistics.votes_granted == granted
    assert core.term == 3


def test_a_vote_granted_counts_one() -> None:
    core = make_core("a")
    core.start(0)
    output = core.step("b", request_vote(1, "b"), 10)
    assert [message.raft_vote_response.granted for _, message in output.send] == [True]
    assert core.statistics.votes_granted == 1


def test_a_new_leader_keeps_its_role_for_a_whole_window_before_checking_its_quorum() -> None:
    """Check quorum steps a leader down only after a whole election timeout without hearing a
    majority, counted from when it became leader: heartbeats within that window keep it."""
    core = make_core("a")
    won, _ = win_election(core)
    for now in range(won, won + TIMEOUTS.election_max_ms, TIMEOUTS.heartbeat_ms):
        core.tick(now)
        assert core.role is RaftRole.LEADER, now


def test_a_fresh_core_counts_nothing() -> None:
    statistics = make_core("a").statistics
    assert all(getattr(statistics, field.name) == 0 for field in dataclasses.fields(statistics))


def test_timeouts_are_a_value() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        TIMEOUTS.heartbeat_ms = 1  # type: ignore[misc]
    assert isinstance(TIMEOUTS, RaftTimeouts)


def test_messages_are_counted_as_received() -> None:
    core = make_core("a")
    core.start(0)
    core.step("b", request_vote(1, "b"), 10)
    core.step("b", consensus_pb2.ConsensusMessage(), 11)
    assert core.statistics.messages_received == 2


def test_entries_at_or_below_the_commit_index_count_one_malformed_message() -> None:
    """A leader never replaces what it told this follower was committed: an append that
    conflicts with a committed entry is malformed (and counted once), and the entry stays."""
    core = make_core("a")
    core.start(0)
    entries = [config_entry(1, 1, ["a", "b", "c"]), block_entry(1, 2, 1)]
    core.step("b", append(1, entries, leader_commit=2), 10)
    assert core.commit_index == 2
    malformed = core.statistics.messages_dropped_malformed
    output = core.step("b", append(2, [block_entry(2, 2, 1)], 1, 1, leader_commit=2), 20)
    # (The newer term is taken and persisted; no entry is.)
    assert [name for name, _ in output.persist] == [META_RECORD]
    assert core.statistics.messages_dropped_malformed == malformed + 1
    assert (core.commit_index, core.last_log_index) == (2, 2)


def test_a_leader_stepping_down_counts_once_and_a_follower_never() -> None:
    core = make_core("a")
    won, _ = win_election(core)
    core.step("c", append(core.term + 1, [], leader="c"), won + 1)
    assert (core.role, core.statistics.leader_step_downs) == (RaftRole.FOLLOWER, 1)
    core.step("b", append(core.term + 1, [], leader="b"), won + 2)
    assert (core.role, core.statistics.leader_step_downs) == (RaftRole.FOLLOWER, 1)


def test_a_restored_entry_of_term_0_is_corruption() -> None:
    """Term 0 is the term of no entry (the log before index 1): a record holding one is damage."""
    meta = {META_RECORD: encode_meta(Meta(term=1, voted_for=None, log_end=1))}
    entry = config_entry(1, 1, ["a", "b", "c"])
    entry.term = 0
    with pytest.raises(StorageCorruptionError):
        make_core(records={**meta, log_record_name(1): encode(entry)})
    entry.term = 1
    assert make_core(records={**meta, log_record_name(1): encode(entry)}).last_log_index == 1


def test_entries_in_flight_are_resent_at_the_end_of_the_resend_interval() -> None:
    """Entries sent to a follower that has not acknowledged them go again once the resend
    interval (here 50 ms, the heartbeat) has passed since they were sent: at the heartbeat that
    falls exactly on it, not one later."""
    timeouts = RaftTimeouts(election_min_ms=100, election_max_ms=300, heartbeat_ms=50)
    core = RaftCore(
        CHAIN_ID,
        "a",
        ["a", "b", "c"],
        KeyedSigner("a"),
        ToyApplication(),
        random.Random(1),
        timeouts,
        None,
    )
    won, elected = win_election(core, timeouts)
    first = [message.raft_append_entries for peer, message in elected.send if peer == "c"]
    assert first and first[-1].entries
    heartbeat = core.tick(won + timeouts.heartbeat_ms)
    again = [message.raft_append_entries for peer, message in heartbeat.send if peer == "c"]
    assert again and again[-1].entries == first[-1].entries


def test_a_term_above_the_bound_never_becomes_this_nodes_term() -> None:
    """With no leader heard, a request carrying a term above TERM_MAX is dropped as malformed,
    not taken up (it would leave no term to move to)."""
    core = make_core("a")
    core.start(0)
    output = core.step("b", request_vote(TERM_MAX + 1, "b"), 10)
    assert (output.persist, output.send) == ([], [])
    assert core.term == 0
    assert core.statistics.messages_dropped_malformed == 1


@pytest.mark.parametrize(("bound_offset", "accepted"), [(0, True), (-1, False)])
def test_an_append_carries_an_entry_of_the_bound_and_not_one_byte_more(
    monkeypatch: pytest.MonkeyPatch, bound_offset: int, accepted: bool
) -> None:
    """The shape check of AppendEntries takes an entry whose data is ENTRY_BYTES_MAX bytes and
    refuses one byte more; the bound is lowered to the test entry's size (a real 64 MiB entry
    takes seconds to build and check)."""
    entry = block_entry(1, 2, 1)
    monkeypatch.setattr(raft_engine, "ENTRY_BYTES_MAX", len(entry.data) + bound_offset)
    core = make_core("a")
    core.start(0)
    core.step("b", append(1, [config_entry(1, 1, ["a", "b", "c"])]), 10)
    core.step("b", append(1, [entry], 1, 1), 20)
    assert (core.last_log_index == 2) is accepted


def test_a_retransmission_that_repeats_the_last_committed_entry_appends_what_follows() -> None:
    """A leader that did not hear the acknowledgement sends again from an entry the follower
    holds, committed included: the entries it already holds are skipped, the new ones appended,
    and nothing is taken for a conflict with what was committed."""
    core = make_core("a")
    core.start(0)
    entries = [config_entry(1, 1, ["a", "b", "c"]), block_entry(1, 2, 1)]
    core.step("b", append(1, entries, leader_commit=2), 10)
    assert (core.commit_index, core.last_log_index) == (2, 2)
    malformed = core.statistics.messages_dropped_malformed
    core.step("b", append(1, [block_entry(1, 2, 1), block_entry(1, 3, 2)], 1, 1, 2), 20)
    assert core.last_log_index == 3
    assert core.statistics.messages_dropped_malformed == malformed


def test_a_leader_that_removes_itself_leads_until_the_removal_commits() -> None:
    """Thesis §4.2.2: a leader whose removal is in its log (so no longer a voter) keeps leading
    while entries before the removal commit, and steps down once the removal itself commits."""
    application = ToyApplication()
    core = plain_core(application=application)
    now = elect(core)
    core.step("b", appended(core.term, "b", 1), now)  # the no-op commits
    [request] = core.propose(now).build
    core.block_built(application.build_block(request.height, request.round_number, now, "a"), now)
    core.propose_membership_change(["b", "c"], now + 1)
    assert (core.last_log_index, core.is_voter) == (3, False)
    for follower in ("b", "c"):  # the block commits; the removal does not yet
        core.step(follower, appended(core.term, follower, 2), now + 2)
    assert (core.commit_index, core.role) == (2, RaftRole.LEADER)
    for follower in ("b", "c"):
        core.step(follower, appended(core.term, follower, 3), now + 3)
    assert (core.commit_index, core.role) == (3, RaftRole.FOLLOWER)
    assert core.statistics.leader_step_downs == 1


def test_a_leader_steps_down_exactly_one_window_after_it_last_heard_a_majority() -> None:
    """Check quorum: a peer heard a whole election timeout ago no longer counts. Elected by b's
    vote and hearing nothing after it, the leader is still leading one heartbeat before the
    window ends and steps down at the heartbeat that ends it."""
    core = make_core("a")
    won, _ = win_election(core)
    window_end = won + TIMEOUTS.election_max_ms
    core.tick(window_end - TIMEOUTS.heartbeat_ms)
    assert core.role is RaftRole.LEADER
    assert core.next_deadline_ms() == window_end
    core.tick(window_end)
    assert core.role is RaftRole.FOLLOWER


def test_an_acknowledgement_while_the_rest_is_in_flight_sends_nothing_more() -> None:
    """After b acknowledges the first of two blocks whose entries are both on their way to it,
    the leader sends b nothing: not the second entry again, and no empty append either (the
    heartbeat timer does that)."""
    application = ToyApplication()
    core = plain_core(pipeline_blocks_max=2, application=application)
    now = elect(core)
    core.step("b", appended(core.term, "b", 1), now)  # the no-op commits
    for offset in range(2):
        [request] = core.propose(now + offset).build
        block = application.build_block(request.height, request.round_number, now + offset, "a")
        sent = core.block_built(block, now + offset).send
        assert [len(message.raft_append_entries.entries) for _, message in sent] == [1, 1]
    acknowledged = core.step("b", appended(core.term, "b", 2), now + 3)
    assert acknowledged.send == []
    assert core.commit_index == 2
