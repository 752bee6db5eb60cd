"""Rules of the tbft core that no test held (found by the cosmic-ray sample over
consensus/tbft/core.py, docs/testing.md): gossip timing, the window of rounds ahead, which round a
decision is recorded with, the lock and the proof of lock at their boundaries, help to a lagging
validator, the signing guard of a restored record, the validator schedule check, and what is left
pending after a decision. One core driven message by message, as in test_tbft_rules.py."""

from __future__ import annotations

import dataclasses

import pytest
from tbft_harness import (
    CHAIN_ID,
    FOUR,
    HASH_B,
    HASH_C,
    PRECOMMIT,
    PREVOTE,
    TIMEOUTS,
    B,
    C,
    HmacSigner,
    HmacVerifier,
    InlineTbftCore,
    ToyApplication,
    feed,
    height_one_record,
    precommit,
    prevote,
    restored_core,
    signed_proposal,
)

from causeway.consensus import Output, ValidateBlock
from causeway.consensus.tbft import (
    ROUNDS_AHEAD_MAX,
    TbftCore,
    TbftStep,
    TbftTimeouts,
    ValidatorPairs,
)
from causeway.consensus.v1 import consensus_pb2
from causeway.errors import InvariantError

GOSSIP_MS = 300
GOSSIPING = dataclasses.replace(TIMEOUTS, rebroadcast_ms=GOSSIP_MS)


def make_core(me: str = "v4", timeouts: TbftTimeouts = TIMEOUTS) -> TbftCore:
    """A core whose blocks are built and validated at once (tbft_harness.InlineTbftCore)."""
    return InlineTbftCore(
        CHAIN_ID, FOUR, HmacSigner(me), HmacVerifier(), ToyApplication(), 1, timeouts
    )


def raw_core(me: str = "v4") -> TbftCore:
    """A core whose Output.build and Output.validate the test answers by hand."""
    return TbftCore(CHAIN_ID, FOUR, HmacSigner(me), HmacVerifier(), ToyApplication(), 1, TIMEOUTS)


def votes_sent(output: Output) -> list[consensus_pb2.Vote]:
    return [message.vote for _, message in output.send if message.WhichOneof("body") == "vote"]


# ---------------------------------------------------------------- gossip


@pytest.mark.parametrize("interval_ms", [1, GOSSIP_MS])
def test_own_messages_are_re_sent_one_interval_after_start(interval_ms: int) -> None:
    """Gossip re-sends the core's latest signed messages every rebroadcast_ms, the first time one
    interval after start (not at once); any positive interval, 1 ms too, turns it on."""
    core = make_core("v1", dataclasses.replace(TIMEOUTS, rebroadcast_ms=interval_ms))
    started = core.start(0)
    signed = [message for _, message in started.send]
    assert [message.WhichOneof("body") for message in signed] == ["proposal", "vote"]
    assert core.next_deadline_ms() == interval_ms
    assert core.tick(interval_ms - 1).send == []
    resent = core.tick(interval_ms)
    assert resent.send == [(None, message) for message in signed]
    assert core.statistics["rebroadcasts"] == 2
    assert core.next_deadline_ms() == 2 * interval_ms


def core_ahead_of_v1(*round_0: consensus_pb2.ConsensusMessage) -> TbftCore:
    """v4 with gossip on, moved to round 1 by v2 and v3 while v1 stays in round 0; `round_0` is
    what v4 received in round 0 before."""
    core = make_core("v4", GOSSIPING)
    core.start(0)
    feed(core, *round_0)
    feed(core, prevote("v2", 1, 1, b""), prevote("v3", 1, 1, b""))
    assert (core.round, core.current_step) == (1, TbftStep.PROPOSE)
    assert core.statistics["help_sent"] == 0
    return core


def test_only_a_genuinely_re_sent_vote_gets_help() -> None:
    """A validator re-sending a vote of a lower round is still in that round and is sent what the
    core holds for it; a copy of that vote with another signature is a duplicate that proves
    nothing about its signer (never checked, never helped)."""
    v1_nil = prevote("v1", 1, 0, b"")
    core = core_ahead_of_v1(v1_nil)
    for filler in (b"\x00", b"\xff"):  # a signature below and one above the genuine one
        forged = consensus_pb2.ConsensusMessage()
        forged.CopyFrom(v1_nil)
        forged.vote.signature = filler * len(v1_nil.vote.signature)
        assert core.step("v1", forged, 10) == Output()
    assert core.statistics["dropped_duplicate"] == 2
    assert core.statistics["help_sent"] == 0
    helped = core.step("v1", v1_nil, 20)
    assert helped.send == [("v1", v1_nil)]
    assert core.statistics["dropped_duplicate"] == 3
    assert core.statistics["help_sent"] == 1


def test_help_to_one_validator_waits_at_least_the_interval() -> None:
    """Help to one lagging validator is sent at most once per rebroadcast_ms: not before the
    interval has passed since the last help, and again at any time from then on."""
    v1_nil = prevote("v1", 1, 0, b"")
    core = core_ahead_of_v1(v1_nil)
    helped_at = [
        now_ms
        for now_ms in (0, GOSSIP_MS - 1, GOSSIP_MS, 2 * GOSSIP_MS - 1, 5 * GOSSIP_MS + 7)
        if core.step("v1", v1_nil, now_ms).send == [("v1", v1_nil)]
    ]
    assert helped_at == [0, GOSSIP_MS, 5 * GOSSIP_MS + 7]
    assert core.statistics["help_sent"] == 3


def test_a_re_sent_proposal_is_a_duplicate_and_another_one_a_conflict() -> None:
    """A proposal received again (same signature) is a duplicate, and shows its proposer still in
    that round (it gets help); a different proposal of the same proposer for the same round is a
    conflicting one: counted as such, never stored, never helped."""
    proposal = signed_proposal("v1", 1, 0, B)
    core = core_ahead_of_v1(proposal)  # v4 prevoted B in round 0
    conflicting = core.step("v1", signed_proposal("v1", 1, 0, C), 10)
    assert conflicting == Output()
    assert core.statistics["dropped_conflicting_proposal"] == 1
    assert core.statistics["dropped_duplicate"] == 0
    helped = core.step("v1", proposal, 20)
    assert helped.send == [("v1", proposal), ("v1", prevote("v4", 1, 0, HASH_B))]
    assert core.statistics["dropped_duplicate"] == 1
    assert core.statistics["dropped_conflicting_proposal"] == 1
    assert core.statistics["help_sent"] == 1


# ---------------------------------------------------------------- rounds and decisions


def test_a_proposal_up_to_rounds_ahead_max_rounds_ahead_is_kept_for_its_round() -> None:
    """Proposals for the current round up to ROUNDS_AHEAD_MAX rounds ahead are stored (one beyond
    is dropped); a core that then reaches that round prevotes the proposal it kept."""
    core = make_core("v2")
    core.start(0)
    assert core.proposer(1, ROUNDS_AHEAD_MAX) == "v3"
    assert core.proposer(1, ROUNDS_AHEAD_MAX + 1) == "v4"
    feed(core, signed_proposal("v3", 1, ROUNDS_AHEAD_MAX, B))
    assert core.statistics["dropped_round_too_far"] == 0
    assert core.statistics["accepted"] == 1
    feed(core, signed_proposal("v4", 1, ROUNDS_AHEAD_MAX + 1, C))
    assert core.statistics["dropped_round_too_far"] == 1
    assert core.statistics["accepted"] == 1
    # v3 (by its proposal) and v1 are in that round: more than a third, v2 skips there.
    output = feed(core, prevote("v1", 1, ROUNDS_AHEAD_MAX, b""))
    assert core.round == ROUNDS_AHEAD_MAX
    assert [(vote.type, vote.round, vote.block_hash) for vote in votes_sent(output)] == [
        (PREVOTE, ROUNDS_AHEAD_MAX, HASH_B)
    ]


def test_the_round_whose_precommits_reach_a_quorum_first_is_the_one_decided() -> None:
    """A round is committed by +2/3 precommits for its block (line 49), not by a polka of
    prevotes nor by its first precommit. When the block's verdict arrives while two rounds hold a
    commit for it, the decision carries the round whose precommit quorum came first."""
    core = raw_core("v4")
    core.start(0)
    asked = feed(core, signed_proposal("v1", 1, 0, B))
    assert asked.validate == [ValidateBlock(B, HASH_B)]  # the verdict is held back
    # Round 0: a polka for B and two of the precommits.
    feed(core, *(prevote(name, 1, 0, HASH_B) for name in ("v1", "v2", "v3")))
    feed(core, precommit("v1", 1, 0, HASH_B), precommit("v2", 1, 0, HASH_B))
    # Round 1: B re-proposed with its polka; its precommits reach a quorum first.
    feed(core, signed_proposal("v2", 1, 1, B, valid_round=0))
    feed(core, *(precommit(name, 1, 1, HASH_B) for name in ("v1", "v2", "v3")))
    assert core.round == 1
    # Round 0's third precommit arrives only then.
    feed(core, precommit("v3", 1, 0, HASH_B))
    assert core.height == 1
    decided = core.block_validated(HASH_B, True, 5)
    assert [(commit.height, commit.certificate.round) for commit in decided.commits] == [(1, 1)]
    assert [signature.validator for signature in decided.commits[0].certificate.signatures] == [
        "v1",
        "v2",
        "v3",
    ]


def test_after_a_decision_only_the_commit_pause_is_pending() -> None:
    """Deciding ends the height's rounds: no round timer is left or armed after it (here the
    precommit timeout, shorter than the commit pause, would otherwise be the next deadline)."""
    core = make_core(timeouts=dataclasses.replace(TIMEOUTS, precommit_ms=50, commit_ms=1_000))
    core.start(0)
    feed(core, signed_proposal("v1", 1, 0, B), now_ms=10)
    output = feed(core, prevote("v1", 1, 0, HASH_B), prevote("v2", 1, 0, HASH_B), now_ms=10)
    assert [(vote.type, vote.block_hash) for vote in votes_sent(output)] == [(PRECOMMIT, HASH_B)]
    output = feed(core, precommit("v1", 1, 0, HASH_B), precommit("v2", 1, 0, HASH_B), now_ms=20)
    assert [commit.height for commit in output.commits] == [1]
    assert core.current_step == TbftStep.COMMIT
    assert core.next_deadline_ms() == 20 + 1_000


# ---------------------------------------------------------------- the lock


def test_a_polka_seen_after_precommitting_nil_updates_the_valid_block_not_the_lock() -> None:
    """Line 36: a polka for the proposal seen for the first time sets the valid block in any step
    from prevote on, but locks (and precommits) only in step PREVOTE; a validator that already
    precommitted nil neither locks nor tries to sign again."""
    core = make_core()
    core.start(0)
    feed(core, signed_proposal("v1", 1, 0, B))  # v4 prevotes B
    assert feed(core, prevote("v1", 1, 0, HASH_B), prevote("v2", 1, 0, b"")) == Output()
    deadline = core.next_deadline_ms()
    assert deadline is not None
    timed_out = core.tick(deadline)  # +2/3 prevotes, no polka: the prevote timeout
    assert [(vote.type, vote.block_hash) for vote in votes_sent(timed_out)] == [(PRECOMMIT, b"")]
    assert core.current_step == TbftStep.PRECOMMIT
    output = feed(core, prevote("v3", 1, 0, HASH_B), now_ms=deadline)  # the polka for B, late
    assert votes_sent(output) == []
    assert (core.valid_round, core.valid_block_hash) == (0, HASH_B)
    assert (core.locked_round, core.locked_block_hash) == (-1, b"")
    assert core.statistics["sign_refused"] == 0


def test_a_proof_of_lock_from_the_locked_round_itself_unlocks() -> None:
    """Line 28: a validator locked in round r prevotes a re-proposal whose polka is from a round
    vr >= r, vr = r included (lockedRound <= vr). Two polkas in one round need equivocators, here
    v1 and v2, whose second prevotes count only as proof of lock."""
    core = make_core()
    core.start(0)
    feed(core, signed_proposal("v1", 1, 0, B))  # v4 prevotes B
    feed(core, prevote("v1", 1, 0, HASH_B), prevote("v2", 1, 0, HASH_B))
    assert (core.locked_round, core.locked_block_hash) == (0, HASH_B)
    feed(core, precommit("v1", 1, 0, b""), precommit("v2", 1, 0, b""))
    deadline = core.next_deadline_ms()
    assert deadline is not None
    core.tick(deadline)  # the precommit timeout: round 1
    assert (core.round, core.current_step) == (1, TbftStep.PROPOSE)
    evidence = feed(core, *(prevote(name, 1, 0, HASH_C) for name in ("v1", "v2", "v3")))
    assert len(evidence.evidence) == 2
    assert core.proposer(1, 1) == "v2"
    output = feed(core, signed_proposal("v2", 1, 1, C, valid_round=0))
    assert [(vote.type, vote.round, vote.block_hash) for vote in votes_sent(output)] == [
        (PREVOTE, 1, HASH_C)
    ]


# ---------------------------------------------------------------- signing


def test_a_proposer_holding_a_proposal_of_its_key_for_its_round_makes_no_other() -> None:
    """A round has one proposal per proposer: a proposer that reaches its round already holding a
    proposal signed with its key (a twin's, or its own from before a restart) asks for no block and
    signs no second proposal; it prevotes the one it holds."""
    core = raw_core("v4")
    core.start(0)
    assert core.proposer(1, 3) == "v4"
    relayed = signed_proposal("v4", 1, 3, B)
    assert core.step("v1", relayed, 0) == Output()
    assert core.statistics["accepted"] == 1
    # v4 (by that proposal) and v1 are in round 3: more than a third, the core skips there.
    output = feed(core, prevote("v1", 1, 3, b""))
    assert (core.round, core.current_step) == (3, TbftStep.PROPOSE)
    assert output.build == []
    assert output.send == []
    assert output.validate == [ValidateBlock(B, HASH_B)]
    prevoted = core.block_validated(HASH_B, True, 0)
    assert [
        (message.WhichOneof("body"), message.vote.block_hash) for _, message in prevoted.send
    ] == [("vote", HASH_B)]
    assert core.statistics["signed"] == 1


def test_signed_step_0_in_a_restored_record_means_nothing_was_signed() -> None:
    """The record's signed step 0 means nothing was ever signed (consensus.proto), whatever its
    signed height and round hold: the restored core signs as a fresh one does."""
    record = height_one_record(signed_round=5, signed_step=0)
    core = restored_core("v4", record, inline=True)
    core.start(0)
    output = feed(core, signed_proposal("v1", 1, 0, B))
    assert [(vote.type, vote.round, vote.block_hash) for vote in votes_sent(output)] == [
        (PREVOTE, 0, HASH_B)
    ]
    assert core.statistics["sign_refused"] == 0


def test_a_next_height_message_with_a_bad_signature_is_dropped_and_counted() -> None:
    """Messages for the next height are checked before they are kept: a forged one is dropped,
    counted as dropped_bad_signature, and not kept."""
    core = make_core()
    core.start(0)
    forged = prevote("v1", 2, 0, HASH_B)
    forged.vote.signature = b"forged"
    assert core.step("v1", forged, 0) == Output()
    assert core.statistics["dropped_bad_signature"] == 1
    assert core.statistics["buffered_next_height"] == 0
    core.step("v1", prevote("v1", 2, 0, HASH_B), 0)
    assert core.statistics["dropped_bad_signature"] == 1
    assert core.statistics["buffered_next_height"] == 1


# ---------------------------------------------------------------- validator schedule


def test_a_schedule_naming_a_later_set_is_refused_even_when_that_set_is_in_use() -> None:
    """A validator schedule must answer each height with a set already in effect there; one that
    answers a height with the set of a later height is a bug the core refuses, also when it
    already uses that later set (the cached set changes nothing)."""

    def schedule(height: int) -> tuple[int, ValidatorPairs]:
        # Wrong at height 4: the set from height 5.
        return (1, FOUR) if height < 4 else (5, FOUR)

    core = TbftCore(
        CHAIN_ID,
        FOUR,
        HmacSigner("v4"),
        HmacVerifier(),
        ToyApplication(),
        1,
        TIMEOUTS,
        validator_schedule=schedule,
    )
    core.start(0)
    core.advance_to(5, 0)  # block sync: the set from height 5 is in use
    assert core.validators_at(5) == dict(FOUR)
    with pytest.raises(InvariantError, match="gave a set from height 5 for 4"):
        core.validators_at(4)
