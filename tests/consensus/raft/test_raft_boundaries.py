"""Raft's timeout rules and the restored term's bound on both sides: the tests a cosmic-ray
sample over consensus/raft/engine.py showed missing (docs/testing.md; the other survivors are
listed there)."""

from __future__ import annotations

import pytest
from raft_harness import TIMEOUTS
from test_raft_core import append, block_entry, make_core, request_vote

from causeway.consensus.raft import META_RECORD, TERM_MAX, RaftTimeouts
from causeway.consensus.raft.records import Meta, encode_meta
from causeway.errors import ConfigurationError, StorageCorruptionError


def test_a_heartbeat_of_1_ms_is_allowed_and_0_refused() -> None:
    assert RaftTimeouts(election_min_ms=10, election_max_ms=20, heartbeat_ms=1).heartbeat_ms == 1
    with pytest.raises(ConfigurationError, match="heartbeat_ms must be positive"):
        RaftTimeouts(election_min_ms=10, election_max_ms=20, heartbeat_ms=0)


@pytest.mark.parametrize("election_max_ms", [99, 100])
def test_the_election_range_must_not_be_empty_nor_reversed(election_max_ms: int) -> None:
    with pytest.raises(ConfigurationError, match="election_max_ms must be above election_min_ms"):
        RaftTimeouts(election_min_ms=100, election_max_ms=election_max_ms, heartbeat_ms=10)
    assert RaftTimeouts(election_min_ms=100, election_max_ms=101, heartbeat_ms=10)


@pytest.mark.parametrize("term", [TERM_MAX, TERM_MAX + 1])
def test_a_restored_term_may_be_term_max_and_no_more(term: int) -> None:
    records = {META_RECORD: encode_meta(Meta(term=term, voted_for=None, log_end=0))}
    if term <= TERM_MAX:
        assert make_core(records=records).term == TERM_MAX
    else:
        with pytest.raises(StorageCorruptionError, match=f"holds term {TERM_MAX + 1}"):
            make_core(records=records)


def test_an_append_after_an_entry_of_a_later_term_than_the_leaders_is_refused() -> None:
    """Log matching, on the side the existing tests leave out: the follower's entry at the
    previous index has a *higher* term than the leader's (it came from a leader of a term in
    between, and was never committed)."""
    core = make_core()
    core.start(0)
    core.step("b", append(1, [block_entry(1, 1, 1), block_entry(1, 2, 2)], leader_commit=1), 10)
    taken = core.step("c", append(2, [block_entry(2, 3, 3, proposer="c")], 2, 1, leader="c"), 20)
    assert taken.send[0][1].raft_append_response.success
    # Leader b of term 3 holds (index 3, term 1) where this follower holds (index 3, term 2).
    output = core.step("b", append(3, [block_entry(3, 4, 4)], 3, 1), 30)
    response = output.send[0][1].raft_append_response
    assert not response.success
    assert core.last_log_index == 3


def test_a_vote_request_is_ignored_until_election_min_after_hearing_the_leader() -> None:
    """Leader stickiness at its edge (TIMEOUTS.election_min_ms is 150): a candidate cannot
    disrupt a follower that heard its leader less than that long ago."""
    assert TIMEOUTS.election_min_ms == 150
    core = make_core()
    core.start(0)
    core.step("b", append(2, [block_entry(2, 1, 1)]), 100)
    assert not core.step("c", request_vote(3, "c", 5, 2), 249).send
    assert core.term == 2
    granted = core.step("c", request_vote(3, "c", 5, 2), 250).send
    assert [message.raft_vote_response.granted for _, message in granted] == [True]
    assert core.term == 3
