"""One Raft core driven by hand: persistence, restore, refusals and untrusted input."""

from __future__ import annotations

import random

import pytest
from raft_harness import (
    CHAIN_ID,
    TIMEOUTS,
    InlineRaftCore,
    KeyedSigner,
    ToyApplication,
    apply_records,
)
from raft_invariants import RaftInvariants, view_of

from causeway.consensus import BuildBlock
from causeway.consensus.raft import (
    APPEND_ENTRIES_MAX,
    META_RECORD,
    TERM_MAX,
    RaftCore,
    RaftRole,
    RaftTimeouts,
    log_record_name,
)
from causeway.consensus.raft.records import Meta, decode_meta
from causeway.consensus.v1 import consensus_pb2
from causeway.errors import ConfigurationError, InvariantError, StorageCorruptionError
from causeway.types import DOMAIN_COMMIT, encode, sign_bytes
from causeway.types.v1 import types_pb2

VOTERS = ["a", "b", "c"]


def make_core(
    node_id: str = "a",
    records: dict[str, bytes] | None = None,
    last_committed_height: int = 0,
    application: ToyApplication | None = None,
    voters: list[str] | None = None,
) -> InlineRaftCore:
    return InlineRaftCore(
        CHAIN_ID,
        node_id,
        voters if voters is not None else VOTERS,
        KeyedSigner(node_id),
        application if application is not None else ToyApplication(),
        random.Random(1),
        TIMEOUTS,
        records,
        last_committed_height,
    )


def request_vote(
    term: int, candidate: str, last_index: int = 0, last_term: int = 0
) -> consensus_pb2.ConsensusMessage:
    return consensus_pb2.ConsensusMessage(
        raft_request_vote=consensus_pb2.RaftRequestVote(
            term=term, candidate=candidate, last_log_index=last_index, last_log_term=last_term
        )
    )


def block_entry(term: int, index: int, height: int, proposer: str = "b") -> consensus_pb2.RaftEntry:
    block = ToyApplication().build_block(height, term, 1_000 + index, proposer)
    return consensus_pb2.RaftEntry(term=term, index=index, data=encode(block))


def config_entry(term: int, index: int, voters: list[str]) -> consensus_pb2.RaftEntry:
    change = consensus_pb2.RaftMembershipChange(voters=sorted(voters))
    return consensus_pb2.RaftEntry(
        term=term, index=index, data=encode(change), membership_change=True
    )


def append(  # noqa: PLR0917 (the RaftAppendEntries fields in order)
    term: int,
    entries: list[consensus_pb2.RaftEntry],
    previous_index: int = 0,
    previous_term: int = 0,
    leader_commit: int = 0,
    leader: str = "b",
) -> consensus_pb2.ConsensusMessage:
    return consensus_pb2.ConsensusMessage(
        raft_append_entries=consensus_pb2.RaftAppendEntries(
            term=term,
            leader=leader,
            previous_log_index=previous_index,
            previous_log_term=previous_term,
            entries=entries,
            leader_commit=leader_commit,
        )
    )


def meta_of(records: dict[str, bytes]) -> Meta:
    return decode_meta(records[META_RECORD])


def test_vote_is_persisted_with_its_grant_and_survives_a_restart() -> None:
    disk: dict[str, bytes] = {}
    core = make_core()
    core.start(0)
    output = core.step("b", request_vote(5, "b"), 10)
    # The grant leaves only together with the durable record of it.
    assert [message.raft_vote_response.granted for _, message in output.send] == [True]
    assert output.send[0][0] == "b"
    apply_records(disk, output.persist)
    assert meta_of(disk).term == 5
    assert meta_of(disk).voted_for == "b"

    restarted = make_core(records=disk)
    assert (restarted.term, restarted.voted_for) == (5, "b")
    restarted.start(20)
    refused = restarted.step("c", request_vote(5, "c", 9, 4), 30)
    assert [message.raft_vote_response.granted for _, message in refused.send] == [False]
    again = restarted.step("b", request_vote(5, "b"), 40)
    assert [message.raft_vote_response.granted for _, message in again.send] == [True]


def test_vote_requires_an_up_to_date_log() -> None:
    core = make_core()
    core.start(0)
    core.step("b", append(2, [block_entry(2, 1, 1), block_entry(2, 2, 2)]), 1)
    # Within the minimum election timeout of hearing the leader, a higher term is ignored.
    assert not core.step("c", request_vote(3, "c", 5, 1), 50).send
    assert core.term == 2
    assert core.statistics.votes_ignored_leader_recent == 1
    later = TIMEOUTS.election_min_ms + 10
    stale_log = core.step("c", request_vote(3, "c", 5, 1), later)
    assert [message.raft_vote_response.granted for _, message in stale_log.send] == [False]
    assert core.term == 3
    shorter = core.step("d", request_vote(4, "d", 1, 2), later)
    assert not shorter.send  # d is no member
    short = core.step("c", request_vote(4, "c", 1, 2), later)
    assert [message.raft_vote_response.granted for _, message in short.send] == [False]
    current = core.step("c", request_vote(5, "c", 2, 2), later)
    assert [message.raft_vote_response.granted for _, message in current.send] == [True]


def test_election_persists_the_term_before_asking_for_votes() -> None:
    core = make_core()
    core.start(0)
    deadline = core.next_deadline_ms()
    assert deadline is not None
    assert TIMEOUTS.election_min_ms <= deadline <= TIMEOUTS.election_max_ms
    assert not core.tick(deadline - 1)
    output = core.tick(deadline)
    assert (core.role, core.term) == (RaftRole.CANDIDATE, 1)
    disk: dict[str, bytes] = {}
    apply_records(disk, output.persist)
    assert meta_of(disk) == Meta(term=1, voted_for="a", log_end=0)
    assert sorted(destination or "" for destination, _ in output.send) == ["b", "c"]
    won = core.step(
        "b",
        consensus_pb2.ConsensusMessage(
            raft_vote_response=consensus_pb2.RaftVoteResponse(term=1, voter="b", granted=True)
        ),
        deadline + 5,
    )
    assert core.role is RaftRole.LEADER
    assert core.leader == "a"
    # The new leader's first entry restates the configuration (the no-op), persisted before
    # it is sent.
    apply_records(disk, won.persist)
    assert disk[log_record_name(1)] == encode(config_entry(1, 1, VOTERS))
    assert meta_of(disk).log_end == 1
    assert {destination for destination, _ in won.send} == {"b", "c"}


def test_follower_persists_entries_before_acknowledging_and_commits_on_leader_commit() -> None:
    application = ToyApplication()
    core = make_core(application=application)
    core.start(0)
    entries = [config_entry(1, 1, VOTERS), block_entry(1, 2, 1), block_entry(1, 3, 2)]
    output = core.step("b", append(1, entries), 10)
    assert not output.commits
    disk: dict[str, bytes] = {}
    apply_records(disk, output.persist)
    assert set(disk) == {META_RECORD, *(log_record_name(index) for index in (1, 2, 3))}
    response = output.send[0][1].raft_append_response
    assert (response.success, response.match_index, response.term) == (True, 3, 1)
    commit = core.step("b", append(1, [], 3, 1, leader_commit=2), 20)
    assert [item.height for item in commit.commits] == [1]
    commit = core.step("b", append(1, [], 3, 1, leader_commit=3), 30)
    assert [item.height for item in commit.commits] == [2]
    certificate = commit.commits[0].certificate
    vote = types_pb2.CommitVote(
        height=2, round=1, block_hash=application.block_hash(commit.commits[0].block)
    )
    expected = KeyedSigner("a").sign(sign_bytes(DOMAIN_COMMIT, CHAIN_ID, encode(vote)))
    assert list(certificate.signatures) == [
        types_pb2.CommitSignature(validator="a", signature=expected)
    ]
    # Reordered and duplicated messages change nothing.
    assert not core.step("b", append(1, entries[:2], leader_commit=3), 40).persist
    assert core.last_log_index == 3
    assert core.commit_index == 3


def test_leader_commit_beyond_the_verified_entries_is_not_applied() -> None:
    core = make_core()
    core.start(0)
    core.step("b", append(1, [block_entry(1, 1, 1), block_entry(1, 2, 2)]), 10)
    # A new leader verified only index 1 matches; index 2 here may still be replaced.
    core.step("c", append(2, [], 1, 1, leader_commit=5, leader="c"), 20)
    assert core.commit_index == 1


def test_conflicting_suffix_is_truncated_and_deleted_records_are_empty() -> None:
    disk: dict[str, bytes] = {}
    core = make_core()
    core.start(0)
    entries = [block_entry(1, index, index) for index in range(1, 5)]
    apply_records(disk, core.step("b", append(1, entries, leader_commit=1), 10).persist)
    # Leader c of term 2 has a different entry at index 2 and nothing after it.
    rejected = core.step("c", append(2, [], 3, 2, leader="c"), 20)
    response = rejected.send[0][1].raft_append_response
    assert not response.success
    assert response.match_index == 1  # skip the whole conflicting term, not below the commit
    replacement = block_entry(2, 2, 2, proposer="c")
    output = core.step("c", append(2, [replacement], 1, 1, leader="c"), 30)
    names = [name for name, _ in output.persist]
    # Meta shrinks the log first, then the new entry, then deletions, then the final meta.
    assert names == [
        META_RECORD,
        log_record_name(2),
        log_record_name(3),
        log_record_name(4),
        META_RECORD,
    ]
    assert decode_meta(output.persist[0][1]).log_end == 1
    assert output.persist[2][1] == output.persist[3][1] == b""
    apply_records(disk, output.persist)
    assert set(disk) == {META_RECORD, log_record_name(1), log_record_name(2)}
    assert core.statistics.entries_truncated == 3
    restored = make_core(records=disk)
    assert restored.last_log_index == 2
    assert restored.log_entry(2) == replacement


def test_restore_ignores_records_beyond_the_log_end_and_detects_damage() -> None:
    core = make_core()
    core.start(0)
    disk: dict[str, bytes] = {}
    apply_records(disk, core.step("b", append(1, [block_entry(1, 1, 1)]), 10).persist)
    leftover = dict(disk)
    leftover[log_record_name(2)] = encode(block_entry(1, 2, 2))
    assert make_core(records=leftover).last_log_index == 1

    missing = dict(disk)
    missing[log_record_name(1)] = b""
    with pytest.raises(StorageCorruptionError):
        make_core(records=missing)
    garbage = dict(disk)
    garbage[log_record_name(1)] = b"\xff\xff"
    with pytest.raises(StorageCorruptionError):
        make_core(records=garbage)
    bad_meta = dict(disk)
    bad_meta[META_RECORD] = b"{"
    with pytest.raises(StorageCorruptionError):
        make_core(records=bad_meta)
    with pytest.raises(StorageCorruptionError, match="below the committed height"):
        make_core(records=disk, last_committed_height=2)
    # Entries without any meta were never acknowledged: a fresh node.
    entries_only = {log_record_name(1): disk[log_record_name(1)]}
    assert make_core(records=entries_only).last_log_index == 0


def test_restored_node_emits_only_heights_above_what_was_applied() -> None:
    core = make_core()
    core.start(0)
    disk: dict[str, bytes] = {}
    entries = [block_entry(1, index, index) for index in range(1, 4)]
    output = core.step("b", append(1, entries, leader_commit=3), 10)
    apply_records(disk, output.persist)
    assert [commit.height for commit in output.commits] == [1, 2, 3]
    restored = make_core(records=disk, last_committed_height=2)
    restored.start(100)
    again = restored.step("b", append(2, [], 3, 1, leader_commit=3), 110)
    assert [commit.height for commit in again.commits] == [3]


def test_invalid_committed_block_is_an_invariant_violation() -> None:
    application = ToyApplication()
    application.refused_heights.add(2)
    core = make_core(application=application)
    core.start(0)
    entries = [block_entry(1, 1, 1), block_entry(1, 2, 2)]
    assert [c.height for c in core.step("b", append(1, entries, leader_commit=1), 10).commits] == [
        1
    ]
    with pytest.raises(InvariantError, match="height 2"):
        core.step("b", append(1, [], 2, 1, leader_commit=2), 20)


def test_propose_builds_only_on_the_leader_within_the_pipeline() -> None:
    application = ToyApplication()
    core = make_core(application=application)
    core.start(0)
    assert not core.propose(10)
    assert not core.tick(10)
    deadline = core.next_deadline_ms()
    assert deadline is not None
    core.tick(deadline)
    core.step(
        "b",
        consensus_pb2.ConsensusMessage(
            raft_vote_response=consensus_pb2.RaftVoteResponse(term=1, voter="b", granted=True)
        ),
        deadline,
    )
    assert core.role is RaftRole.LEADER
    output = core.propose(deadline + 1)
    assert application.built == [1]
    assert log_record_name(2) in dict(output.persist)
    assert not core.propose(deadline + 2)  # one uncommitted block at a time
    assert application.built == [1]
    acknowledged = core.step(
        "b",
        consensus_pb2.ConsensusMessage(
            raft_append_response=consensus_pb2.RaftAppendResponse(
                term=1, follower="b", success=True, match_index=2
            )
        ),
        deadline + 3,
    )
    assert [commit.height for commit in acknowledged.commits] == [1]
    assert core.commit_index == 2
    core.propose(deadline + 4)
    assert application.built == [1, 2]


def test_untrusted_input_is_dropped_and_counted_never_raised() -> None:
    core = make_core()
    core.start(0)
    core.step("b", append(1, [config_entry(1, 1, VOTERS), block_entry(1, 2, 1)]), 10)
    before = core.last_log_index
    too_many = [block_entry(1, index, index - 1) for index in range(3, APPEND_ENTRIES_MAX + 4)]
    other_chain = types_pb2.Block(header=types_pb2.BlockHeader(chain_id="other", height=2))
    cases: list[tuple[str, consensus_pb2.ConsensusMessage]] = [
        ("mallory", append(1, [block_entry(1, 3, 2)], 2, 1, leader="mallory")),
        ("a", request_vote(9, "a")),  # claims to be us
        ("b", append(1, [block_entry(1, 3, 2)], 2, 1, leader="c")),  # sender mismatch
        ("b", request_vote(TERM_MAX + 1, "b")),
        ("b", append(1, too_many, 2, 1)),
        ("b", append(1, [block_entry(1, 4, 2)], 2, 1)),  # index gap
        ("b", append(1, [block_entry(1, 3, 3)], 2, 1)),  # height gap
        ("b", append(1, [block_entry(2, 3, 2)], 2, 1)),  # entry term above message term
        ("b", append(1, [consensus_pb2.RaftEntry(term=1, index=3, data=b"\xff\x01")], 2, 1)),
        (
            "b",
            append(1, [consensus_pb2.RaftEntry(term=1, index=3, data=encode(other_chain))], 2, 1),
        ),
        ("b", append(1, [config_entry(1, 3, ["a", "d", "e"])], 2, 1)),  # two voters changed
        ("b", append(1, [config_entry(1, 3, [])], 2, 1)),
        ("b", append(1, [], 0, 1)),  # previous index 0 has term 0
        ("b", consensus_pb2.ConsensusMessage(vote=consensus_pb2.Vote(height=1))),
        ("b", consensus_pb2.ConsensusMessage()),
    ]
    for sender, message in cases:
        output = core.step(sender, message, 20)
        assert not output.persist, message
        assert not output.send, message
    statistics = core.statistics
    assert statistics.messages_dropped_non_member == 2
    assert statistics.messages_dropped_malformed == len(cases) - 2
    assert core.last_log_index == before
    assert core.term == 1

    # A stale leader gets a refusal carrying the newer term.
    core.step("c", append(3, [], 2, 1, leader="c"), 30)
    stale = core.step("b", append(2, [], 2, 1), 40)
    response = stale.send[0][1].raft_append_response
    assert (response.success, response.term) == (False, 3)


def continuation(core: RaftCore, generator: random.Random) -> consensus_pb2.ConsensusMessage:
    """An append that fits the core's log at a random point (so that the random test makes the
    core append, truncate and commit, not only refuse)."""
    previous = generator.randrange(0, core.last_log_index + 1)
    previous_term = core.log_entry(previous).term if previous else 0
    height = sum(
        1 for index in range(1, previous + 1) if not core.log_entry(index).membership_change
    )
    term = core.term + generator.randrange(0, 2)
    entries = [
        block_entry(term, previous + offset, height + offset)
        for offset in range(1, generator.randrange(1, 4) + 1)
    ]
    leader_commit = generator.randrange(0, previous + len(entries) + 2)
    return append(
        term, entries, previous, previous_term, leader_commit, generator.choice(["b", "c"])
    )


def test_random_messages_never_raise_nor_break_an_invariant() -> None:
    """3,000 random messages from the other voters and a stranger: after every step the core's
    term and commit index never go back, it never votes twice in a term, its log's terms never
    decrease and what it committed never changes (raft_invariants.py)."""
    generator = random.Random(42)
    core = make_core()
    core.start(0)
    invariants = RaftInvariants()
    invariants.check([view_of("a", 0, core)])
    senders = ["a", "b", "c", "x"]
    for step in range(3_000):
        sender = generator.choice(senders)
        kind = generator.randrange(5)
        term = generator.randrange(max(0, core.term - 2), core.term + 3)
        if kind == 4:
            message = continuation(core, generator)
            sender = message.raft_append_entries.leader
        elif kind == 0:
            last_index = max(0, core.last_log_index + generator.randrange(-2, 2))
            last_term = (
                core.log_entry(last_index).term if 0 < last_index <= core.last_log_index else 0
            )
            message = request_vote(term, sender, last_index, last_term + generator.randrange(0, 2))
        elif kind == 1:
            message = consensus_pb2.ConsensusMessage(
                raft_vote_response=consensus_pb2.RaftVoteResponse(
                    term=term, voter=sender, granted=generator.random() < 0.5
                )
            )
        elif kind == 2:
            previous = generator.randrange(0, 6)
            entries = []
            for offset in range(generator.randrange(0, 4)):
                index = previous + 1 + offset
                if generator.random() < 0.3:
                    entries.append(config_entry(term, index, generator.sample([*VOTERS, "d"], 3)))
                else:
                    entries.append(block_entry(term, index, generator.randrange(1, 8)))
            message = append(
                term, entries, previous, generator.randrange(0, 6), generator.randrange(8), sender
            )
        else:
            message = consensus_pb2.ConsensusMessage(
                raft_append_response=consensus_pb2.RaftAppendResponse(
                    term=term,
                    follower=sender,
                    success=generator.random() < 0.5,
                    match_index=generator.randrange(10),
                )
            )
        now_ms = step * 40  # a leader's silence of over 150 ms lets elections happen
        core.step(sender, message, now_ms)
        invariants.check([view_of("a", 0, core)], f"after {sender}'s {message.WhichOneof('body')}")
        core.tick(now_ms)
        core.propose(now_ms)
        invariants.check([view_of("a", 0, core)], "after a tick and a proposal")
    # Not vacuous: the core voted, took entries and committed some of them.
    assert invariants.votes
    assert core.statistics.entries_appended > 100
    assert max(invariants.commit_indexes.values()) > 10


def test_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        RaftTimeouts(election_min_ms=100, election_max_ms=100, heartbeat_ms=10)
    with pytest.raises(ConfigurationError):
        RaftTimeouts(election_min_ms=100, election_max_ms=200, heartbeat_ms=100)
    with pytest.raises(ConfigurationError):
        make_core(voters=[])
    with pytest.raises(ConfigurationError):
        make_core(voters=["a", "a"])
    with pytest.raises(ConfigurationError, match="key of"):
        RaftCore(
            CHAIN_ID, "a", VOTERS, KeyedSigner("b"), ToyApplication(), random.Random(1), TIMEOUTS
        )
    with pytest.raises(ConfigurationError):
        RaftCore(
            CHAIN_ID,
            "a",
            VOTERS,
            KeyedSigner("a"),
            ToyApplication(),
            random.Random(1),
            pipeline_blocks_max=0,
        )


def test_same_seed_same_outputs() -> None:
    def outputs() -> list[bytes]:
        core = make_core()
        collected = [encode(message) for _, message in core.start(0).send]
        for now_ms in range(0, 3_000, 7):
            for _, message in core.tick(now_ms).send:
                collected.append(encode(message))
        return collected

    assert outputs() == outputs()


IDLE_MS = 5_000


def idle_leader(idle_ms: int | None = IDLE_MS) -> RaftCore:
    """A one-voter core (not inline: its build requests are looked at), leader from time 0."""
    core = RaftCore(
        CHAIN_ID,
        "a",
        ["a"],
        KeyedSigner("a"),
        ToyApplication(),
        random.Random(1),
        TIMEOUTS,
        idle_block_interval_ms=idle_ms,
    )
    core.start(0)
    assert core.role is RaftRole.LEADER
    return core


def empty_block(height: int, time_ms: int) -> types_pb2.Block:
    return types_pb2.Block(
        header=types_pb2.BlockHeader(chain_id=CHAIN_ID, height=height, time_ms=time_ms)
    )


def commit_built(core: RaftCore, block: types_pb2.Block, now_ms: int) -> list[int]:
    """Hands the block back, then the verdict on it; the heights committed."""
    appended = core.block_built(block, now_ms)
    (validation,) = appended.validate
    validated = core.block_validated(validation.block_hash, True, now_ms)
    return [commit.height for commit in validated.commits]


def test_an_idle_leader_asks_for_a_heartbeat_block_after_the_idle_interval_and_not_before() -> None:
    core = idle_leader()
    term = core.term
    assert core.next_deadline_ms() == TIMEOUTS.heartbeat_ms  # its heartbeats come first
    for now_ms in range(0, IDLE_MS, TIMEOUTS.heartbeat_ms):
        assert core.tick(now_ms).build == []
    assert core.tick(IDLE_MS).build == [BuildBlock(1, term, IDLE_MS, "a")]
    assert core.tick(IDLE_MS + 10_000).build == []  # one at a time
    # The heartbeat comes back empty (nothing was waiting): appended and committed.
    assert commit_built(core, empty_block(1, IDLE_MS), IDLE_MS + 20) == [1]
    assert core.committed_height == 1
    # The next one counts from the block appended.
    assert core.tick(IDLE_MS + 20 + IDLE_MS - 1).build == []
    assert core.tick(2 * IDLE_MS + 20).build == [BuildBlock(2, term, 2 * IDLE_MS + 20, "a")]


def test_blocks_with_transactions_put_the_leaders_heartbeat_off() -> None:
    core = idle_leader()
    assert core.propose(4_000).build == [BuildBlock(1, core.term, 4_000, "a")]
    assert core.tick(IDLE_MS).build == []
    # A block asked for with transactions waiting that comes back empty (every one turned
    # invalid) is appended and committed, as raft always did.
    assert commit_built(core, empty_block(1, 4_000), 4_010) == [1]
    assert core.tick(4_010 + IDLE_MS - 1).build == []
    assert core.tick(4_010 + IDLE_MS).build == [BuildBlock(2, core.term, 9_010, "a")]


def test_no_heartbeat_block_while_the_pipeline_is_full_or_without_an_idle_interval() -> None:
    leader = make_core()  # three voters: a block commits only once a follower has it
    leader.start(0)
    deadline = leader.next_deadline_ms()
    assert deadline is not None
    leader.tick(deadline)
    granted = consensus_pb2.RaftVoteResponse(term=1, voter="b", granted=True)
    leader.step("b", consensus_pb2.ConsensusMessage(raft_vote_response=granted), deadline)
    assert leader.role is RaftRole.LEADER
    leader.propose(deadline + 1)
    assert leader.application.built == [1]
    leader.tick(deadline + 60_000)
    assert leader.application.built == [1]  # block 1 is not committed: no heartbeat beside it

    plain = idle_leader(idle_ms=None)
    assert plain.tick(60_000).build == []
    assert plain.next_deadline_ms() is not None


def test_followers_ask_for_no_heartbeat_block() -> None:
    application = ToyApplication()
    follower = RaftCore(
        CHAIN_ID,
        "a",
        VOTERS,
        KeyedSigner("a"),
        application,
        random.Random(1),
        TIMEOUTS,
        idle_block_interval_ms=100,
    )
    follower.start(0)
    # Past the idle interval, before its election timeout (at least election_min_ms).
    output = follower.tick(TIMEOUTS.election_min_ms - 1)
    assert (follower.role, output.build) == (RaftRole.FOLLOWER, [])
    assert follower.next_deadline_ms() is not None
    assert follower.next_deadline_ms() >= TIMEOUTS.election_min_ms  # type: ignore[operator]


def test_the_idle_interval_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="raft idle_block_interval_ms must be positive"):
        idle_leader(idle_ms=0)
