"""Rules of the tbft core that the full mutation run over it (all 1,229 mutants, docs/testing.md)
found no test held: timers that fire at a tick past their deadline, a built block of the wrong
height, a timeout of a step already left, the precommit timeout armed by the core's own
precommit, the window of rounds ahead for votes, messages beyond the next height while deciding,
blocks that cannot be hashed, the proof of lock at the shortest gossip interval, help whichever
way the validators' ids sort, and the signature length bound. One core driven message by
message, as in test_tbft_rules_held.py."""

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
    ToyApplication,
    feed,
    hash_of,
    height_one_record,
    make_block,
    precommit,
    prevote,
    restored_core,
    signed_proposal,
)
from test_tbft_rules_held import make_core, raw_core, votes_sent

from causeway.consensus import Output
from causeway.consensus.tbft import (
    LOCK_RECORD,
    ROUNDS_AHEAD_MAX,
    STATE_RECORD,
    TbftCore,
    TbftStep,
    TbftTimeouts,
    ValidatorPairs,
)
from causeway.consensus.tbft.core import HASH_BYTES_MAX, SIGNATURE_BYTES_MAX, SIGNED_ROUNDS_KEPT
from causeway.consensus.tbft.records import decode_lock, decode_state
from causeway.consensus.v1 import consensus_pb2
from causeway.errors import ConfigurationError, RequestError
from causeway.types.v1 import types_pb2

LATE_MS = 7


def decided_at_height_one(core: TbftCore) -> None:
    """v4 sees B proposed by v1 and the votes of v1 and v2 (with its own, a quorum): it decides
    height 1 at time 0."""
    core.start(0)
    feed(core, signed_proposal("v1", 1, 0, B))
    feed(core, prevote("v1", 1, 0, HASH_B), prevote("v2", 1, 0, HASH_B))
    decided = feed(core, precommit("v1", 1, 0, HASH_B), precommit("v2", 1, 0, HASH_B))
    assert [commit.height for commit in decided.commits] == [1]


# ---------------------------------------------------------------- timers


def test_a_timeout_fires_at_a_tick_past_its_deadline() -> None:
    """A driver's tick comes when it can, often after the deadline it was asked for: the timeout
    must fire then, not only at its exact millisecond (else the round would wait for ever)."""
    core = make_core("v4")
    core.start(0)
    deadline = core.next_deadline_ms()
    assert deadline == TIMEOUTS.propose_ms
    output = core.tick(deadline + LATE_MS)
    assert [(vote.type, vote.round, vote.block_hash) for vote in votes_sent(output)] == [
        (PREVOTE, 0, b"")
    ]
    assert core.current_step == TbftStep.PREVOTE


def test_the_next_height_starts_at_a_tick_past_the_commit_pause() -> None:
    core = make_core("v4")
    decided_at_height_one(core)
    assert core.next_deadline_ms() == TIMEOUTS.commit_ms
    core.tick(TIMEOUTS.commit_ms + LATE_MS)
    assert (core.height, core.round, core.current_step) == (2, 0, TbftStep.PROPOSE)


def test_a_prevote_timeout_after_the_core_precommitted_a_block_does_nothing() -> None:
    """The prevote timeout (line 34) acts only in the prevote step: fired after a polka made the
    core precommit B, it must not try to precommit nil (the signing guard would refuse it, and
    count it)."""
    core = make_core("v4")
    core.start(0)
    feed(core, signed_proposal("v1", 1, 0, B))
    feed(core, prevote("v1", 1, 0, HASH_B), prevote("v2", 1, 0, HASH_B))
    assert core.current_step == TbftStep.PRECOMMIT
    deadline = core.next_deadline_ms()
    assert deadline == TIMEOUTS.prevote_timeout_ms(0)
    assert core.tick(deadline).send == []
    assert core.statistics["sign_refused"] == 0
    assert (core.round, core.current_step) == (0, TbftStep.PRECOMMIT)


def test_the_cores_own_precommit_completing_a_quorum_arms_the_precommit_timeout_at_once() -> None:
    """Two precommits nil are in; a nil polka makes the core precommit nil, and its own precommit
    is the third: the precommit timeout (line 47) starts then, in the same step, not at some
    later event."""
    timeouts = dataclasses.replace(TIMEOUTS, prevote_ms=800)
    core = make_core("v4", timeouts)
    core.start(0)
    feed(core, precommit("v1", 1, 0, b""), precommit("v2", 1, 0, b""))
    core.tick(timeouts.propose_ms)  # v4 prevotes nil
    now = timeouts.propose_ms + 10
    output = feed(core, prevote("v1", 1, 0, b""), prevote("v2", 1, 0, b""), now_ms=now)
    assert [(vote.type, vote.block_hash) for vote in votes_sent(output)] == [(PRECOMMIT, b"")]
    assert core.next_deadline_ms() == now + timeouts.precommit_timeout_ms(0)
    core.tick(now + timeouts.precommit_timeout_ms(0))
    assert core.round == 1


def test_the_cores_own_precommit_completing_a_commit_decides_in_the_same_step() -> None:
    """v1's and v2's precommits for B are in before the polka: the polka makes v4 lock and
    precommit B (line 36), its precommit is the third, and the decision (line 49) comes out of
    that same step, not at the next message or tick."""
    core = make_core("v4")
    core.start(0)
    feed(core, signed_proposal("v1", 1, 0, B))
    feed(core, precommit("v1", 1, 0, HASH_B), precommit("v2", 1, 0, HASH_B))
    feed(core, prevote("v1", 1, 0, HASH_B))
    decided = feed(core, prevote("v2", 1, 0, HASH_B))
    assert [(vote.type, vote.block_hash) for vote in votes_sent(decided)] == [(PRECOMMIT, HASH_B)]
    assert [commit.height for commit in decided.commits] == [1]
    assert core.current_step == TbftStep.COMMIT


# ---------------------------------------------------------------- what is kept or dropped


@pytest.mark.parametrize("height", [0, 2])
def test_a_built_block_of_another_height_is_discarded(height: int) -> None:
    """The application answered with a block of another height than asked (below or above):
    not proposed."""
    core = raw_core("v1")
    (request,) = core.start(0).build
    assert (request.height, request.round_number) == (1, 0)
    output = core.block_built(make_block(height, "X"), 5)
    assert output == Output()
    assert core.statistics["blocks_discarded"] == 1
    assert core.statistics["signed"] == 0


def test_a_vote_up_to_rounds_ahead_max_rounds_ahead_is_kept_and_one_beyond_is_not() -> None:
    core = make_core("v4")
    core.start(0)
    feed(core, prevote("v1", 1, ROUNDS_AHEAD_MAX, b""))
    assert (core.statistics["accepted"], core.statistics["dropped_round_too_far"]) == (1, 0)
    feed(core, prevote("v2", 1, ROUNDS_AHEAD_MAX + 1, b""))
    assert (core.statistics["accepted"], core.statistics["dropped_round_too_far"]) == (1, 1)


def test_while_deciding_a_vote_beyond_the_next_height_is_a_future_one() -> None:
    """In the commit pause of height 1, a vote for height 3 is neither the decided height's
    (which would be answered with help) nor the next one's (which would be kept)."""
    core = make_core("v4")
    decided_at_height_one(core)
    output = feed(core, prevote("v3", 3, 0, b""))
    assert output.send == []
    assert core.statistics["dropped_future_height"] == 1
    assert core.statistics["dropped_decided_height"] == 0
    assert core.statistics["buffered_next_height"] == 0


class UnhashableBlocks(ToyApplication):
    """Hashes like ToyApplication, except blocks proposed by "unhashable" (which the hasher
    refuses) and by "long-hash" (whose hash is longer than any real one)."""

    def block_hash(self, block: types_pb2.Block) -> bytes:
        if block.header.proposer == "unhashable":
            raise RequestError("the block cannot be hashed")
        if block.header.proposer == "long-hash":
            return b"\x01" * (HASH_BYTES_MAX + 1)
        if block.header.proposer == "longest-hash":
            return b"\x01" * HASH_BYTES_MAX
        return super().block_hash(block)


@pytest.mark.parametrize("label", ["unhashable", "long-hash"])
def test_a_proposal_whose_block_has_no_fit_hash_is_malformed_once(label: str) -> None:
    core = TbftCore(
        CHAIN_ID, FOUR, HmacSigner("v4"), HmacVerifier(), UnhashableBlocks(), 1, TIMEOUTS
    )
    core.start(0)
    output = feed(core, signed_proposal("v1", 1, 0, make_block(1, label)))
    assert votes_sent(output) == []
    assert core.statistics["dropped_malformed"] == 1
    assert core.statistics["dropped_bad_signature"] == 0
    assert core.statistics["accepted"] == 0


@pytest.mark.parametrize("body", ["vote", "proposal"])
def test_a_signature_of_signature_bytes_max_is_checked_and_one_byte_more_is_malformed(
    body: str,
) -> None:
    """At the bound the message is well formed (its signature is checked, and fails); one byte
    past it, it is malformed without a check."""
    core = make_core("v4")
    core.start(0)
    for length, counts in ((SIGNATURE_BYTES_MAX, (1, 0)), (SIGNATURE_BYTES_MAX + 1, (1, 1))):
        message = prevote("v1", 1, 0, b"") if body == "vote" else signed_proposal("v1", 1, 0, B)
        if body == "vote":
            message.vote.signature = b"\x07" * length
        else:
            message.proposal.signature = b"\x07" * length
        feed(core, message)
        statistics = core.statistics
        assert (statistics["dropped_bad_signature"], statistics["dropped_malformed"]) == counts


# ---------------------------------------------------------------- gossip


@pytest.mark.parametrize("interval_ms", [1, 300])
def test_any_positive_gossip_interval_sends_the_proof_of_lock(interval_ms: int) -> None:
    core = make_core("v4", dataclasses.replace(TIMEOUTS, rebroadcast_ms=interval_ms))
    core.start(0)
    feed(core, *(prevote(name, 1, 0, HASH_B) for name in ("v1", "v2", "v3")))
    feed(core, prevote("v1", 1, 2, b""), prevote("v3", 1, 2, b""))
    assert core.round == 2
    output = feed(core, signed_proposal("v3", 1, 2, B, valid_round=0))
    relayed = [vote for vote in votes_sent(output) if vote.round == 0]
    assert sorted(vote.validator for vote in relayed) == ["v1", "v2", "v3"]
    assert core.statistics["help_sent"] == 1


def core_ahead_of(me: str, lagging: str, lagging_vote: consensus_pb2.ConsensusMessage) -> TbftCore:
    """`me`, gossiping, moved to round 1 by the two validators other than `lagging` while
    `lagging` stays in round 0 (its round-0 vote received)."""
    core = make_core(me, dataclasses.replace(TIMEOUTS, rebroadcast_ms=300))
    core.start(0)
    feed(core, lagging_vote)
    movers = [name for name, _ in FOUR if name not in {me, lagging}]
    feed(core, *(prevote(name, 1, 1, b"") for name in movers))
    assert (core.round, core.current_step) == (1, TbftStep.PROPOSE)
    return core


@pytest.mark.parametrize(("me", "lagging"), [("v4", "v1"), ("v1", "v4")])
def test_a_lagging_validator_gets_help_whichever_way_its_id_sorts(me: str, lagging: str) -> None:
    """What the core holds of round 0 (its own messages, the lagging vote) goes to the lagging
    validator, whether its id sorts below the core's or above it."""
    lagging_nil = prevote(lagging, 1, 0, b"")
    core = core_ahead_of(me, lagging, lagging_nil)
    helped = core.step(lagging, lagging_nil, 10)
    assert (lagging, lagging_nil) in helped.send
    assert {destination for destination, _ in helped.send} == {lagging}
    assert core.statistics["help_sent"] == 1


def test_a_vote_relayed_by_another_validator_gets_no_help_whichever_way_the_ids_sort() -> None:
    """A lower-round vote arriving from someone other than its signer shows nothing about where
    its signer is: no help, whether the relaying sender's id sorts below or above the signer's.
    From the signer itself it does get help."""
    v3_nil = prevote("v3", 1, 0, b"")
    core = core_ahead_of("v1", "v3", v3_nil)
    for relay in ("v2", "v4"):
        assert core.step(relay, v3_nil, 10).send == []
    assert core.statistics["help_sent"] == 0
    helped = core.step("v3", v3_nil, 20)
    assert ("v3", v3_nil) in helped.send
    assert {destination for destination, _ in helped.send} == {"v3"}
    assert core.statistics["help_sent"] == 1


def test_timeouts_defaults_are_the_documented_ones() -> None:
    """docs/consensus-tbft.md names these defaults, which a node without [consensus] timeouts
    uses."""
    assert TbftTimeouts() == TbftTimeouts(
        propose_ms=3_000,
        prevote_ms=1_000,
        precommit_ms=1_000,
        delta_ms=500,
        commit_ms=1_000,
        rebroadcast_ms=1_000,
    )


def test_the_record_drops_the_votes_of_rounds_older_than_the_kept_ones() -> None:
    """The core signs a prevote and a precommit in each of 18 rounds; the state record keeps the
    votes of the last SIGNED_ROUNDS_KEPT rounds only (counted in rounds, at any height), so the
    two oldest are dropped. (test_tbft_second_sample_held holds the oldest kept one.)"""
    core = make_core("v4")
    records: dict[str, bytes] = dict(core.start(0).persist)
    others = ("v1", "v2", "v3")
    while core.round < SIGNED_ROUNDS_KEPT + 2:
        round_number = core.round
        deadline = core.next_deadline_ms()
        assert deadline is not None
        records.update(core.tick(deadline).persist)  # the propose timeout: a prevote
        records.update(
            feed(
                core, *(prevote(name, 1, round_number, b"") for name in others), now_ms=deadline
            ).persist
        )  # a nil polka: a precommit
        records.update(
            feed(
                core, *(precommit(name, 1, round_number, b"") for name in others), now_ms=deadline
            ).persist
        )
        deadline = core.next_deadline_ms()
        assert deadline is not None
        records.update(core.tick(deadline).persist)
        assert core.round == round_number + 1
    state = decode_state(records[STATE_RECORD])
    kept = [(message.vote.round, message.vote.type) for message in state.signed_messages]
    last = core.round - 1
    assert kept == [
        (round_number, vote_type)
        for round_number in range(last - SIGNED_ROUNDS_KEPT + 1, last + 1)
        for vote_type in (PREVOTE, PRECOMMIT)
    ]


def test_a_proposer_restored_after_signing_its_proposal_prevotes_its_own_block() -> None:
    """Its own proposal, read back from its record, is a block its executor built: the restored
    proposer prevotes it without asking for a validation, as it would have before the crash (a
    nil prevote would waste the round)."""
    proposal = signed_proposal("v1", 1, 0, B)
    record = height_one_record(signed_step=int(TbftStep.PROPOSE), signed_messages=(proposal,))
    core = restored_core("v1", record)
    output = core.start(100)
    assert [(vote.type, vote.round, vote.block_hash) for vote in votes_sent(output)] == [
        (PREVOTE, 0, HASH_B)
    ]
    assert output.validate == []


def test_another_signature_on_a_stored_proposal_is_a_conflict_whichever_way_it_sorts() -> None:
    """Only the very proposal again (the same signature) is a duplicate; the same proposal with
    another signature, below or above the stored one, is a conflicting one."""
    proposal = signed_proposal("v1", 1, 0, B)
    core = make_core("v4")
    core.start(0)
    feed(core, proposal)
    for filler in (b"\x00", b"\xff"):
        other = consensus_pb2.ConsensusMessage()
        other.CopyFrom(proposal)
        other.proposal.signature = filler * len(proposal.proposal.signature)
        assert feed(core, other) == Output()
    assert core.statistics["dropped_conflicting_proposal"] == 2
    assert core.statistics["dropped_duplicate"] == 0
    feed(core, proposal)
    assert core.statistics["dropped_duplicate"] == 1


def test_decided_at_is_known_in_the_commit_pause_only() -> None:
    """The engine adapter paces idle heights by it: None before the decision, the decision's
    time in the commit pause, None again once the next height starts."""
    core = make_core("v4")
    core.start(0)
    assert core.decided_at_ms is None
    feed(core, signed_proposal("v1", 1, 0, B))
    feed(core, prevote("v1", 1, 0, HASH_B), prevote("v2", 1, 0, HASH_B))
    feed(core, precommit("v1", 1, 0, HASH_B), precommit("v2", 1, 0, HASH_B), now_ms=40)
    assert core.decided_at_ms == 40
    core.tick(40 + TIMEOUTS.commit_ms)
    assert core.height == 2
    assert core.decided_at_ms is None


def test_a_next_height_proposal_with_a_bad_signature_is_not_kept() -> None:
    """A next-height proposal is checked before it is kept (it is not checked again when the
    height starts): one whose block hashes but whose signature is forged is dropped."""
    core = make_core("v4")
    core.start(0)
    proposer = core.proposer(2, 0)
    forged = signed_proposal(proposer, 2, 0, make_block(2, "F"))
    forged.proposal.signature = b"forged"
    assert core.step(proposer, forged, 0) == Output()
    assert core.statistics["dropped_bad_signature"] == 1
    assert core.statistics["buffered_next_height"] == 0


def test_a_next_height_message_kept_once_is_a_duplicate_the_second_time() -> None:
    core = make_core("v4")
    core.start(0)
    message = prevote("v1", 2, 0, HASH_B)
    core.step("v1", message, 0)
    core.step("v1", message, 1)
    assert core.statistics["buffered_next_height"] == 1
    assert core.statistics["dropped_duplicate"] == 1


def test_the_lock_record_keeps_the_polka_of_a_valid_block_of_a_later_round() -> None:
    """Locked in round 1, the core's lock record holds round 1's polka for the block, so that
    after a restart it can still send the proof of lock (round 0 is not the only one)."""
    core = make_core("v4")
    records: dict[str, bytes] = dict(core.start(0).persist)
    records.update(feed(core, *(precommit(name, 1, 0, b"") for name in ("v1", "v2", "v3"))).persist)
    now = core.next_deadline_ms()
    assert now is not None
    records.update(core.tick(now).persist)  # the precommit timeout of round 0
    assert core.round == 1
    proposer = core.proposer(1, 1)
    block = make_block(1, "R1")
    records.update(feed(core, signed_proposal(proposer, 1, 1, block), now_ms=now).persist)
    others = [name for name in ("v1", "v2", "v3") if name != proposer]
    records.update(
        feed(core, *(prevote(name, 1, 1, hash_of(block)) for name in others), now_ms=now).persist
    )
    assert (core.locked_round, core.locked_block_hash) == (1, hash_of(block))
    lock = decode_lock(records[LOCK_RECORD])
    assert {(vote.round, vote.block_hash) for vote in lock.polka} == {(1, hash_of(block))}
    assert len(lock.polka) >= 3


def test_a_validator_of_negative_power_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="needs a positive voting power"):
        TbftCore(
            CHAIN_ID,
            [("v1", 1), ("v2", -1)],
            HmacSigner("v1"),
            HmacVerifier(),
            ToyApplication(),
            1,
            TIMEOUTS,
        )


def test_a_next_height_proposal_from_another_than_its_proposer_is_not_kept() -> None:
    """Only that height and round's proposer may propose: a next-height proposal signed by
    another validator (one whose id sorts below the proposer's, one above) is dropped at once,
    not kept to take up a place meant for real ones."""
    core = make_core("v4")
    core.start(0)
    proposer = core.proposer(2, 0)
    others = [name for name, _ in FOUR if name != proposer]
    assert min(others) < proposer < max(others)
    for other in (min(others), max(others)):
        assert core.step(other, signed_proposal(other, 2, 0, make_block(2, "W")), 0) == Output()
    assert core.statistics["buffered_next_height"] == 0
    assert core.statistics["dropped_bad_signature"] == 2


class RaisingVerifier(HmacVerifier):
    """Verifies like HmacVerifier, but raises RequestError for a signature it cannot parse (as a
    DER decoder does), here one made of zero bytes."""

    def verify(self, validator_id: str, document: bytes, signature: bytes) -> bool:
        if not signature.strip(b"\x00"):
            raise RequestError("the signature cannot be parsed")
        return super().verify(validator_id, document, signature)


def test_a_signature_the_verifier_cannot_parse_is_a_bad_signature() -> None:
    """A verifier that raises on what it cannot parse must not let the message through: the
    vote is dropped as a bad signature and counts for nothing."""
    core = TbftCore(
        CHAIN_ID, FOUR, HmacSigner("v4"), RaisingVerifier(), ToyApplication(), 1, TIMEOUTS
    )
    core.start(0)
    unparsable = prevote("v1", 1, 0, b"")
    unparsable.vote.signature = bytes(len(unparsable.vote.signature))
    assert core.step("v1", unparsable, 0) == Output()
    assert core.statistics["dropped_bad_signature"] == 1
    assert core.statistics["accepted"] == 0


def test_a_prevote_quorum_seen_in_the_propose_step_does_not_start_the_prevote_timeout() -> None:
    """Line 34 arms the prevote timeout in the prevote step only. Prevotes for three different
    things reach a quorum while the core still waits for a proposal; only when its propose
    timeout makes it prevote does the prevote timeout start, and it then precommits nil on it
    (armed earlier, it would have expired unused and left the core in the prevote step)."""
    core = make_core("v4")
    core.start(0)
    feed(
        core,
        prevote("v1", 1, 0, b""),
        prevote("v2", 1, 0, HASH_B),
        prevote("v3", 1, 0, b"\x01" * 32),
    )
    assert core.next_deadline_ms() == TIMEOUTS.propose_ms
    core.tick(TIMEOUTS.propose_ms)
    assert core.current_step == TbftStep.PREVOTE
    deadline = core.next_deadline_ms()
    assert deadline == TIMEOUTS.propose_ms + TIMEOUTS.prevote_timeout_ms(0)
    output = core.tick(deadline)
    assert [(vote.type, vote.block_hash) for vote in votes_sent(output)] == [(PRECOMMIT, b"")]


def test_help_at_the_decided_height_carries_the_proposal_and_the_precommits() -> None:
    """A validator still voting on the height just decided is sent what decides it: the
    proposal (the block) and the precommit quorum."""
    core = make_core("v4", dataclasses.replace(TIMEOUTS, rebroadcast_ms=300))
    proposal = signed_proposal("v1", 1, 0, B)
    core.start(0)
    feed(core, proposal)
    feed(core, prevote("v1", 1, 0, HASH_B), prevote("v2", 1, 0, HASH_B))
    decided = feed(core, precommit("v1", 1, 0, HASH_B), precommit("v2", 1, 0, HASH_B))
    assert [commit.height for commit in decided.commits] == [1]
    helped = core.step("v3", prevote("v3", 1, 0, b""), 5)
    assert ("v3", proposal) in helped.send
    precommits = [
        message.vote.validator
        for destination, message in helped.send
        if destination == "v3" and message.HasField("vote") and message.vote.type == PRECOMMIT
    ]
    assert sorted(precommits) == ["v1", "v2", "v4"]


def test_a_validator_restored_after_prevoting_takes_up_no_propose_step_actions() -> None:
    """Restored in the prevote step (its prevote signed), the round's proposer does not go
    back to proposing: nothing asked to be built, nothing refused by the signing guard, no
    propose timeout; it re-sends its prevote."""
    nil_prevote = prevote("v1", 1, 0, b"")
    record = height_one_record(
        step=int(TbftStep.PREVOTE),
        signed_step=int(TbftStep.PREVOTE),
        signed_messages=(nil_prevote,),
    )
    core = restored_core("v1", record)
    output = core.start(100)
    assert output.build == []
    assert [message for _, message in output.send] == [nil_prevote]
    assert core.statistics["sign_refused"] == 0
    assert core.current_step == TbftStep.PREVOTE
    assert core.next_deadline_ms() is None


def test_a_next_height_vote_up_to_rounds_ahead_max_is_kept_and_one_beyond_is_not() -> None:
    core = make_core("v4")
    core.start(0)
    feed(core, prevote("v1", 2, ROUNDS_AHEAD_MAX, b""))
    assert (core.statistics["buffered_next_height"], core.statistics["dropped_round_too_far"]) == (
        1,
        0,
    )
    feed(core, prevote("v2", 2, ROUNDS_AHEAD_MAX + 1, b""))
    assert (core.statistics["buffered_next_height"], core.statistics["dropped_round_too_far"]) == (
        1,
        1,
    )


def test_a_block_built_for_an_earlier_round_is_discarded_in_the_next() -> None:
    """v1 asked for a block for round 0; before it came back, the others moved v1 to round 1
    (whose proposer is another): the block is not proposed in round 1, nothing is signed."""
    core = raw_core("v1")
    (request,) = core.start(0).build
    assert request.round_number == 0
    feed(core, prevote("v2", 1, 1, b""), prevote("v3", 1, 1, b""))
    assert (core.round, core.current_step) == (1, TbftStep.PROPOSE)
    assert core.proposer(1, 1) != "v1"
    block = ToyApplication().build_block(1, 0, 0, "v1")
    assert core.block_built(block, 5) == Output()
    assert core.statistics["blocks_discarded"] == 1
    assert core.statistics["signed"] == 0


def test_a_block_built_after_a_proposal_of_the_same_key_arrived_is_discarded() -> None:
    """A proposal for v1's round signed with v1's key (a twin's) arrived while v1's own block
    was being built: v1 must not sign a second proposal for that round."""
    core = raw_core("v1")
    core.start(0)
    feed(core, signed_proposal("v1", 1, 0, C))
    block = ToyApplication().build_block(1, 0, 0, "v1")
    output = core.block_built(block, 5)
    assert [message for _, message in output.send if message.HasField("proposal")] == []
    assert core.statistics["blocks_discarded"] == 1


def test_a_nil_polka_seen_in_the_propose_step_does_not_skip_the_prevote() -> None:
    """Line 44 precommits nil from the prevote step only: a core still waiting for a proposal
    that sees three nil prevotes neither precommits nor leaves the propose step."""
    core = make_core("v4")
    core.start(0)
    output = feed(core, *(prevote(name, 1, 0, b"") for name in ("v1", "v2", "v3")))
    assert votes_sent(output) == []
    assert core.current_step == TbftStep.PROPOSE


def test_the_prevote_that_completes_a_polka_leads_to_the_precommit_in_the_same_step() -> None:
    """v1 and v2 prevoted B before v4 had the proposal; when it arrives, v4 prevotes B, sees
    the polka its prevote completes, locks and precommits B, all in that one step."""
    core = make_core("v4")
    core.start(0)
    feed(core, prevote("v1", 1, 0, HASH_B), prevote("v2", 1, 0, HASH_B))
    output = feed(core, signed_proposal("v1", 1, 0, B))
    assert [(vote.type, vote.block_hash) for vote in votes_sent(output)] == [
        (PREVOTE, HASH_B),
        (PRECOMMIT, HASH_B),
    ]
    assert core.locked_block_hash == HASH_B


def test_a_commit_waits_for_the_blocks_verdict() -> None:
    """Precommits of more than two thirds for B decide nothing while B's validation is
    awaited: the decision comes with the verdict."""
    core = raw_core("v4")
    core.start(0)
    feed(core, signed_proposal("v1", 1, 0, B))  # B goes out for validation; held
    output = feed(core, *(precommit(name, 1, 0, HASH_B) for name in ("v1", "v2", "v3")))
    assert output.commits == []
    decided = core.block_validated(HASH_B, True, 5)
    assert [commit.height for commit in decided.commits] == [1]


def test_the_proof_of_lock_of_a_valid_round_above_0_is_sent() -> None:
    """The proof of lock goes with a re-proposal whatever its valid round: v4 holds round 1's
    polka for B and sends it when B is re-proposed in round 2 with valid round 1."""
    core = make_core("v4", dataclasses.replace(TIMEOUTS, rebroadcast_ms=300))
    core.start(0)
    feed(core, *(precommit(name, 1, 0, b"") for name in ("v1", "v2", "v3")))
    core.tick(TIMEOUTS.precommit_timeout_ms(0))  # the precommit timeout of round 0
    assert core.round == 1
    feed(core, *(prevote(name, 1, 1, HASH_B) for name in ("v1", "v2", "v3")))
    feed(core, prevote("v1", 1, 2, b""), prevote("v3", 1, 2, b""))
    assert core.round == 2
    output = feed(core, signed_proposal(core.proposer(1, 2), 1, 2, B, valid_round=1))
    relayed = sorted(vote.validator for vote in votes_sent(output) if vote.round == 1)
    assert relayed == ["v1", "v2", "v3"]
    assert core.statistics["help_sent"] == 1


@pytest.mark.parametrize("relay", ["v1", "v4"])
def test_help_at_the_decided_height_goes_only_to_a_vote_from_its_signer(relay: str) -> None:
    core = make_core("v2", dataclasses.replace(TIMEOUTS, rebroadcast_ms=300))
    core.start(0)
    feed(core, signed_proposal("v1", 1, 0, B))
    feed(core, prevote("v1", 1, 0, HASH_B), prevote("v4", 1, 0, HASH_B))
    decided = feed(core, precommit("v1", 1, 0, HASH_B), precommit("v4", 1, 0, HASH_B))
    assert [commit.height for commit in decided.commits] == [1]
    v3_nil = prevote("v3", 1, 0, b"")
    assert core.step(relay, v3_nil, 5).send == []
    assert core.statistics["help_sent"] == 0


@pytest.mark.parametrize(
    ("proposed", "committed"), [(B, C), (C, B)], ids=["holds-B-sees-C", "holds-C-sees-B"]
)
def test_a_commit_quorum_for_another_block_than_the_proposal_held_decides_nothing(
    proposed: types_pb2.Block, committed: types_pb2.Block
) -> None:
    """v1 equivocated: v4 holds its proposal of one block while the others precommitted the
    other, which v4 has never seen. Nothing is decided (the held block has no quorum, the other
    no proposal here) and nothing is raised, whichever way the two hashes sort."""
    core = make_core("v4")
    core.start(0)
    feed(core, signed_proposal("v1", 1, 0, proposed))
    output = feed(core, *(precommit(name, 1, 0, hash_of(committed)) for name in ("v1", "v2", "v3")))
    assert output.commits == []
    assert core.current_step != TbftStep.COMMIT


def test_a_proposal_from_outside_the_validator_set_counts_one() -> None:
    core = make_core("v4")
    core.start(0)
    assert feed(core, signed_proposal("mallory", 1, 0, B)) == Output()
    assert core.statistics["dropped_not_validator"] == 1


def test_the_next_deadline_is_the_earliest_of_several_timers() -> None:
    """A precommit quorum in the propose step arms the precommit timeout (500 ms) before the
    propose timeout armed at start (1,000 ms) is due: the next deadline is the earlier one."""
    core = make_core("v4")
    core.start(0)
    assert core.next_deadline_ms() == TIMEOUTS.propose_ms
    feed(core, *(precommit(name, 1, 0, b"") for name in ("v1", "v2", "v3")), now_ms=10)
    assert core.next_deadline_ms() == 10 + TIMEOUTS.precommit_timeout_ms(0)
    assert core.next_deadline_ms() < TIMEOUTS.propose_ms  # type: ignore[operator]


def test_each_message_received_and_each_validation_asked_counts_one() -> None:
    core = raw_core("v4")
    core.start(0)
    feed(core, signed_proposal("v1", 1, 0, B), prevote("v1", 1, 0, HASH_B))
    assert core.statistics["received"] == 2
    assert core.statistics["validations_requested"] == 1


def test_a_schedule_naming_a_set_from_height_0_is_refused() -> None:
    """Heights start at 1: a validator schedule whose set takes effect at height 0 is a
    configuration error, found when the core is built (on the set of its first height)."""

    def schedule(height: int) -> tuple[int, ValidatorPairs]:
        return (0, FOUR)

    with pytest.raises(ConfigurationError, match="takes effect at height 1 or later"):
        TbftCore(
            CHAIN_ID,
            FOUR,
            HmacSigner("v4"),
            HmacVerifier(),
            ToyApplication(),
            1,
            TIMEOUTS,
            validator_schedule=schedule,
        )


def test_a_proposed_block_of_a_lower_height_is_invalid_without_a_validation() -> None:
    """The other side of test_tbft_second_sample_held's block of a later height: a block of
    height 0 proposed for height 1 is invalid at once (never handed out for validation), and
    the core prevotes nil."""
    core = raw_core("v4")
    core.start(0)
    output = feed(core, signed_proposal("v1", 1, 0, make_block(0, "Z")))
    assert output.validate == []
    assert [(vote.type, vote.block_hash) for vote in votes_sent(output)] == [(PREVOTE, b"")]
    assert core.statistics["invalid_blocks"] == 1


def test_a_vote_for_a_hash_of_hash_bytes_max_is_counted_and_one_byte_more_is_malformed() -> None:
    core = make_core("v4")
    core.start(0)
    feed(core, prevote("v1", 1, 0, b"\x01" * HASH_BYTES_MAX))
    assert (core.statistics["accepted"], core.statistics["dropped_malformed"]) == (1, 0)
    feed(core, prevote("v2", 1, 0, b"\x01" * (HASH_BYTES_MAX + 1)))
    assert (core.statistics["accepted"], core.statistics["dropped_malformed"]) == (1, 1)


def test_own_messages_are_re_sent_at_a_tick_past_the_gossip_interval() -> None:
    core = make_core("v1", dataclasses.replace(TIMEOUTS, rebroadcast_ms=300))
    started = core.start(0)
    signed = [message for _, message in started.send]
    assert core.tick(300 + LATE_MS).send == [(None, message) for message in signed]


def test_messages_kept_for_the_next_height_are_not_replayed_at_a_later_one() -> None:
    """Block sync moves the core from height 1 to 5 at once: what it kept for height 2 is
    dropped with the height, not handed to height 5 (where it would only be counted as old)."""
    core = make_core("v4")
    core.start(0)
    feed(core, prevote("v1", 2, 0, HASH_B))
    assert core.statistics["buffered_next_height"] == 1
    core.advance_to(5, 10)
    assert core.height == 5
    assert core.statistics["dropped_old_height"] == 0
    assert core.statistics["accepted"] == 0


def test_a_proposal_from_another_than_the_rounds_proposer_is_dropped_whichever_way_ids_sort() -> (
    None
):
    """In a round whose proposer is v2 or v3, proposals signed by a validator whose id sorts
    below the proposer's and by one above it are both dropped as from the wrong proposer."""
    core = make_core("v4")
    core.start(0)
    round_number = next(r for r in range(ROUNDS_AHEAD_MAX) if core.proposer(1, r) in {"v2", "v3"})
    proposer = core.proposer(1, round_number)
    wrong = [name for name, _ in FOUR if name not in {proposer, "v4"}]
    assert min(wrong) < proposer < max(wrong)
    for name in wrong:
        feed(core, signed_proposal(name, 1, round_number, B))
    assert core.statistics["dropped_wrong_proposer"] == 2
    assert core.statistics["accepted"] == 0


def test_an_equivocators_conflicting_prevote_completing_a_proof_of_lock_acts_at_once() -> None:
    """B is re-proposed in round 2 with valid round 0 while round 0 holds only two prevotes for
    B (v4's first prevote was for C): the core waits. v4's conflicting prevote for B then
    completes the proof of lock, and the core prevotes B in that same step."""
    core = make_core("v2")
    core.start(0)
    feed(core, prevote("v4", 1, 0, HASH_C))
    feed(core, prevote("v1", 1, 0, HASH_B), prevote("v3", 1, 0, HASH_B))
    feed(core, prevote("v1", 1, 2, b""), prevote("v3", 1, 2, b""))
    assert (core.round, core.proposer(1, 2)) == (2, "v3")
    waiting = feed(core, signed_proposal("v3", 1, 2, B, valid_round=0))
    assert votes_sent(waiting) == []
    output = feed(core, prevote("v4", 1, 0, HASH_B))
    assert len(output.evidence) == 1
    assert [(vote.round, vote.block_hash) for vote in votes_sent(output)] == [(2, HASH_B)]


def test_no_help_for_an_old_vote_of_a_validator_known_to_be_further_on() -> None:
    """v1's round-0 vote comes again, but v1 was already seen in round 1: it is not lagging in
    round 0, so nothing is sent to it."""
    core = make_core("v4", dataclasses.replace(TIMEOUTS, rebroadcast_ms=300))
    core.start(0)
    v1_round_0 = prevote("v1", 1, 0, b"")
    feed(core, v1_round_0, prevote("v1", 1, 1, b""))
    feed(core, prevote("v2", 1, 2, b""), prevote("v3", 1, 2, b""))
    assert core.round == 2
    assert core.step("v1", v1_round_0, 10).send == []
    assert core.statistics["help_sent"] == 0


def test_a_late_vote_of_an_earlier_round_does_not_move_its_signer_back() -> None:
    """v1 was seen in round 3, then its round-1 vote arrives late: v1 still counts as in round
    3, so with v2 there too (more than a third) the core skips to round 3."""
    core = make_core("v4")
    core.start(0)
    feed(core, prevote("v1", 1, 3, b""), prevote("v1", 1, 1, b""))
    assert core.round == 0
    feed(core, prevote("v2", 1, 3, b""))
    assert core.round == 3


@pytest.mark.parametrize(("locked", "other"), [(B, C), (C, B)], ids=["locked-on-B", "locked-on-C"])
def test_a_lock_refuses_a_fresh_proposal_of_another_block(
    locked: types_pb2.Block, other: types_pb2.Block
) -> None:
    """Line 22: locked on one block in round 0, the core prevotes nil for a proposal of the
    other block in round 1 that carries no proof of lock, whichever way the hashes sort."""
    core = make_core("v4")
    core.start(0)
    feed(core, signed_proposal("v1", 1, 0, locked))
    feed(core, prevote("v1", 1, 0, hash_of(locked)), prevote("v2", 1, 0, hash_of(locked)))
    assert (core.locked_round, core.locked_block_hash) == (0, hash_of(locked))
    feed(core, *(precommit(name, 1, 0, b"") for name in ("v1", "v2", "v3")))
    core.tick(TIMEOUTS.precommit_timeout_ms(0))
    assert core.round == 1
    output = feed(core, signed_proposal(core.proposer(1, 1), 1, 1, other))
    assert [(vote.type, vote.round, vote.block_hash) for vote in votes_sent(output)] == [
        (PREVOTE, 1, b"")
    ]


def test_help_is_given_at_a_gossip_interval_of_1_ms() -> None:
    v1_nil = prevote("v1", 1, 0, b"")
    core = make_core("v4", dataclasses.replace(TIMEOUTS, rebroadcast_ms=1))
    core.start(0)
    feed(core, v1_nil)
    feed(core, prevote("v2", 1, 1, b""), prevote("v3", 1, 1, b""))
    assert core.round == 1
    assert ("v1", v1_nil) in core.step("v1", v1_nil, 10).send


def test_the_timeouts_cannot_be_changed_once_made() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        TIMEOUTS.propose_ms = 1  # type: ignore[misc]


def test_a_proposal_whose_block_hash_is_of_hash_bytes_max_is_well_formed() -> None:
    """At the bound the hash is taken (the signature, made over another hash here, is then
    what fails)."""
    core = TbftCore(
        CHAIN_ID, FOUR, HmacSigner("v4"), HmacVerifier(), UnhashableBlocks(), 1, TIMEOUTS
    )
    core.start(0)
    feed(core, signed_proposal("v1", 1, 0, make_block(1, "longest-hash")))
    assert (core.statistics["dropped_malformed"], core.statistics["dropped_bad_signature"]) == (
        0,
        1,
    )
