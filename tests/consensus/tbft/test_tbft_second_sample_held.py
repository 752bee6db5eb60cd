"""Rules of the tbft core that the second and third seeded samples of its mutants (seeds 2 and
3, docs/testing.md) found no test held: the lock against a re-proposal with an older proof of
lock, the verdict on a block of the wrong height kept for later rounds, the propose timeout of a
restored proposer, and the counters of messages dropped (at a decided height, too far ahead, a
conflicting vote). One core driven message by message, as in test_tbft_rules_held.py."""

from __future__ import annotations

import pytest
from tbft_harness import (
    HASH_B,
    PREVOTE,
    TIMEOUTS,
    B,
    C,
    feed,
    hash_of,
    height_one_record,
    make_block,
    precommit,
    prevote,
    restored_core,
    signed_proposal,
)
from test_tbft_rules_held import make_core, votes_sent

from causeway.consensus import Output
from causeway.consensus.tbft import ROUNDS_AHEAD_MAX, STATE_RECORD, TbftCore, TbftStep
from causeway.consensus.tbft.core import SIGNED_ROUNDS_KEPT
from causeway.consensus.tbft.records import decode_state
from causeway.types.v1 import types_pb2

OTHERS = ("v1", "v2", "v3")


def to_next_round(core: TbftCore) -> int:
    """The others precommit nil in the core's round; the precommit timeout moves it on. Returns
    the time it moved."""
    feed(core, *(precommit(name, 1, core.round, b"") for name in OTHERS))
    deadline = core.next_deadline_ms()
    assert deadline is not None
    core.tick(deadline)
    return deadline


@pytest.mark.parametrize(("locked", "other"), [(B, C), (C, B)], ids=["locked-on-B", "locked-on-C"])
def test_a_lock_refuses_a_re_proposal_whose_proof_is_older_than_the_lock(
    locked: types_pb2.Block, other: types_pb2.Block
) -> None:
    """Line 28: a validator locked on one block in round 1 prevotes nil for the other
    re-proposed in round 2 with a proof of lock from round 0 (lockedRound > vr and another
    block); a rule that let the other block through would break the lock, the heart of tbft's
    safety. Both ways round, so that no order between the two hashes decides it."""
    locked_hash, other_hash = hash_of(locked), hash_of(other)
    core = make_core()
    core.start(0)
    # Round 0: v4 never sees the proposal of the other block, but sees the polka for it; it
    # prevotes nil.
    feed(core, *(prevote(name, 1, 0, other_hash) for name in OTHERS))
    deadline = core.next_deadline_ms()
    assert deadline is not None
    core.tick(deadline)
    now = to_next_round(core)
    # Round 1: the locked block is proposed and v4 locks on it.
    feed(core, signed_proposal("v2", 1, 1, locked), now_ms=now)
    feed(core, prevote("v1", 1, 1, locked_hash), prevote("v2", 1, 1, locked_hash), now_ms=now)
    assert (core.locked_round, core.locked_block_hash) == (1, locked_hash)
    now = to_next_round(core)
    assert core.round == 2
    # Round 2: the other block again, with round 0's proof of lock, older than the lock.
    output = feed(core, signed_proposal("v3", 1, 2, other, valid_round=0), now_ms=now)
    assert [(vote.type, vote.round, vote.block_hash) for vote in votes_sent(output)] == [
        (PREVOTE, 2, b"")
    ]


def test_a_block_of_the_wrong_height_stays_invalid_in_later_rounds() -> None:
    """The verdict on a proposed block is kept by its hash: a block whose header names another
    height is refused once (counted once) and again when re-proposed in a later round."""
    core = make_core()
    core.start(0)
    wrong = make_block(2, "W")
    output = feed(core, signed_proposal("v1", 1, 0, wrong))
    assert [(vote.round, vote.block_hash) for vote in votes_sent(output)] == [(0, b"")]
    assert core.statistics["invalid_blocks"] == 1
    now = to_next_round(core)
    output = feed(core, signed_proposal("v2", 1, 1, wrong), now_ms=now)
    assert [(vote.round, vote.block_hash) for vote in votes_sent(output)] == [(1, b"")]
    assert core.statistics["invalid_blocks"] == 1


def test_a_proposer_restored_in_the_propose_step_resends_and_arms_its_timeout() -> None:
    """A proposer that crashed after signing its proposal, still in the propose step, sends the
    very proposal again (no new block asked for) and takes up the round's actions, the propose
    timeout among them, so that it cannot wait in that round for ever."""
    proposal = signed_proposal("v1", 1, 0, B)
    record = height_one_record(signed_step=int(TbftStep.PROPOSE), signed_messages=(proposal,))
    core = restored_core("v1", record)
    output = core.start(100)
    proposals = [message for _, message in output.send if message.HasField("proposal")]
    assert proposals == [proposal]
    assert output.build == []
    assert core.next_deadline_ms() == 100 + TIMEOUTS.propose_ms


def test_messages_dropped_at_the_decided_height_or_too_far_ahead_are_counted() -> None:
    """The node's metrics read these counters: each drop counts one."""
    core = make_core()
    core.start(0)
    feed(core, signed_proposal("v1", 1, 0, B))
    feed(core, prevote("v1", 1, 0, HASH_B), prevote("v2", 1, 0, HASH_B))
    decided = feed(core, precommit("v1", 1, 0, HASH_B), precommit("v2", 1, 0, HASH_B))
    assert [commit.height for commit in decided.commits] == [1]
    feed(core, prevote("v3", 1, 0, HASH_B))
    assert core.statistics["dropped_decided_height"] == 1
    feed(core, prevote("v3", 2, ROUNDS_AHEAD_MAX + 1, HASH_B))
    assert core.statistics["dropped_round_too_far"] == 1
    assert core.statistics["buffered_next_height"] == 0


def test_a_conflicting_vote_is_dropped_counted_once_and_reported() -> None:
    core = make_core()
    core.start(0)
    feed(core, prevote("v1", 1, 0, HASH_B))
    output = feed(core, prevote("v1", 1, 0, b""))
    assert len(output.evidence) == 1
    assert core.statistics["dropped_conflicting_vote"] == 1


def test_the_record_keeps_the_votes_of_the_last_rounds_the_oldest_included() -> None:
    """The state record keeps this height's own votes of the SIGNED_ROUNDS_KEPT most recent
    rounds (the last signed round and the 15 before it), so that after a restart validators in
    any of them can be sent the votes again; the oldest of those rounds is kept too."""
    core = make_core()
    records: dict[str, bytes] = {}
    signed_rounds: set[int] = set()

    def keep(output: Output) -> None:
        records.update(output.persist)
        signed_rounds.update(
            message.vote.round for _, message in output.send if message.HasField("vote")
        )

    keep(core.start(0))
    while core.round < SIGNED_ROUNDS_KEPT + 2:
        deadline = core.next_deadline_ms()
        assert deadline is not None
        keep(core.tick(deadline))
        nil_precommits = (precommit(name, 1, core.round, b"") for name in OTHERS)
        keep(feed(core, *nil_precommits, now_ms=deadline))
    kept = {message.vote.round for message in decode_state(records[STATE_RECORD]).signed_messages}
    oldest = max(kept) - SIGNED_ROUNDS_KEPT + 1
    assert oldest in signed_rounds  # the boundary is exercised
    assert kept == {round_number for round_number in signed_rounds if round_number >= oldest}
