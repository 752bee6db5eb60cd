"""One tbft core driven message by message with votes signed for the other validators."""

from __future__ import annotations

import random
from typing import cast

import pytest
from google.protobuf.message import DecodeError as ProtobufDecodeError
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
    certificate_power,
    feed,
    hash_of,
    make_block,
    precommit,
    prevote,
    signed_proposal,
)

from causeway.consensus import BuildBlock, Output, ValidateBlock
from causeway.consensus.tbft import (
    NEXT_HEIGHT_MESSAGES_PER_VALIDATOR_MAX,
    ROUNDS_AHEAD_MAX,
    TbftCore,
    TbftStep,
    TbftTimeouts,
)
from causeway.consensus.v1 import consensus_pb2
from causeway.errors import ConfigurationError, InvariantError
from causeway.types.v1 import types_pb2


def make_core(
    me: str = "v4",
    *,
    unsafe: bool = False,
    height: int = 1,
    timeouts: TbftTimeouts = TIMEOUTS,
    application: ToyApplication | None = None,
) -> TbftCore:
    return InlineTbftCore(
        CHAIN_ID,
        FOUR,
        HmacSigner(me),
        HmacVerifier(),
        application if application is not None else ToyApplication(),
        height,
        timeouts,
        unsafe_disable_locking_for_tests=unsafe,
    )


def votes_sent(output: Output) -> list[consensus_pb2.Vote]:
    return [message.vote for _, message in output.send if message.WhichOneof("body") == "vote"]


def tick_to_deadline(core: TbftCore) -> tuple[Output, int]:
    deadline = core.next_deadline_ms()
    assert deadline is not None
    return core.tick(deadline), deadline


def lock_on_b_in_round_0(core: TbftCore) -> None:
    """v4 prevotes B, sees a polka for B, locks and precommits B; round 0 then fails."""
    core.start(0)
    assert core.proposer(1, 0) == "v1"
    output = feed(core, signed_proposal("v1", 1, 0, B))
    assert [(vote.type, vote.block_hash) for vote in votes_sent(output)] == [(PREVOTE, HASH_B)]
    output = feed(core, prevote("v1", 1, 0, HASH_B), prevote("v2", 1, 0, HASH_B))
    assert [(vote.type, vote.block_hash) for vote in votes_sent(output)] == [(PRECOMMIT, HASH_B)]
    assert (core.locked_round, core.locked_block_hash) == (0, HASH_B)
    assert (core.valid_round, core.valid_block_hash) == (0, HASH_B)
    # The others did not see the polka and precommit nil: +2/3 precommits, no decision.
    feed(core, precommit("v1", 1, 0, b""), precommit("v2", 1, 0, b""))
    output, _ = tick_to_deadline(core)
    assert core.round == 1
    assert core.current_step == TbftStep.PROPOSE


def test_proposal_gets_a_prevote_and_a_polka_a_precommit_and_a_commit() -> None:
    core = make_core()
    core.start(0)
    feed(core, signed_proposal("v1", 1, 0, B))
    feed(core, prevote("v1", 1, 0, HASH_B), prevote("v2", 1, 0, HASH_B))
    output = feed(core, precommit("v1", 1, 0, HASH_B))
    assert output.commits == []
    output = feed(core, precommit("v2", 1, 0, HASH_B))
    assert len(output.commits) == 1
    commit = output.commits[0]
    assert commit.height == 1
    assert commit.block == B
    assert [signature.validator for signature in commit.certificate.signatures] == [
        "v1",
        "v2",
        "v4",
    ]
    assert certificate_power(commit.certificate, dict(FOUR)) == 3
    assert core.current_step == TbftStep.COMMIT
    # A late precommit changes nothing; after commit_ms the core starts height 2.
    assert not feed(core, precommit("v3", 1, 0, HASH_B)).commits
    output, deadline = tick_to_deadline(core)
    assert deadline == TIMEOUTS.commit_ms
    assert (core.height, core.round, core.current_step) == (2, 0, TbftStep.PROPOSE)


def test_locked_validator_does_not_prevote_another_block_without_a_newer_polka() -> None:
    core = make_core()
    lock_on_b_in_round_0(core)
    assert core.proposer(1, 1) == "v2"
    output = feed(core, signed_proposal("v2", 1, 1, C))
    assert [(vote.round, vote.block_hash) for vote in votes_sent(output)] == [(1, b"")]


def test_locked_validator_prevotes_its_locked_block_again() -> None:
    core = make_core()
    lock_on_b_in_round_0(core)
    output = feed(core, signed_proposal("v2", 1, 1, B))
    assert [(vote.round, vote.block_hash) for vote in votes_sent(output)] == [(1, HASH_B)]


def test_claimed_proof_of_lock_without_the_polka_is_not_accepted() -> None:
    core = make_core()
    lock_on_b_in_round_0(core)
    # C claims a polka in round 0 that this core never saw: no prevote until the timeout.
    output = feed(core, signed_proposal("v2", 1, 1, C, valid_round=0))
    assert votes_sent(output) == []
    output, deadline = tick_to_deadline(core)
    # Round 1 began when the precommit timeout of round 0 fired; its propose wait is longer.
    assert deadline == TIMEOUTS.precommit_ms + TIMEOUTS.propose_ms + TIMEOUTS.delta_ms
    assert [(vote.round, vote.block_hash) for vote in votes_sent(output)] == [(1, b"")]


def test_later_polka_unlocks_and_relocks() -> None:
    core = make_core()
    lock_on_b_in_round_0(core)
    feed(core, signed_proposal("v2", 1, 1, C))  # prevotes nil: locked on B
    output = feed(
        core,
        prevote("v1", 1, 1, HASH_C),
        prevote("v2", 1, 1, HASH_C),
        prevote("v3", 1, 1, HASH_C),
    )
    # Line 36: a polka for C in round 1 while in the prevote step relocks on C.
    assert [(vote.type, vote.block_hash) for vote in votes_sent(output)] == [(PRECOMMIT, HASH_C)]
    assert (core.locked_round, core.locked_block_hash) == (1, HASH_C)


def test_proposal_with_a_newer_proof_of_lock_is_prevoted_by_a_locked_validator() -> None:
    core = make_core()
    lock_on_b_in_round_0(core)
    # Round 1: no proposal reaches v4; the others form a polka for C that v4 only sees as votes.
    output, _ = tick_to_deadline(core)
    assert [(vote.round, vote.block_hash) for vote in votes_sent(output)] == [(1, b"")]
    feed(core, *(prevote(name, 1, 1, HASH_C) for name in ("v1", "v2", "v3")))
    assert core.locked_round == 0
    feed(core, precommit("v1", 1, 1, b""), precommit("v2", 1, 1, b""))
    output, _ = tick_to_deadline(core)  # prevote timeout: precommit nil
    assert [(vote.type, vote.block_hash) for vote in votes_sent(output)] == [(PRECOMMIT, b"")]
    tick_to_deadline(core)  # precommit timeout
    assert core.round == 2
    assert core.proposer(1, 2) == "v3"
    output = feed(core, signed_proposal("v3", 1, 2, C, valid_round=1))
    assert [(vote.round, vote.block_hash) for vote in votes_sent(output)] == [(2, HASH_C)]


def test_unsafe_flag_precommits_without_locking() -> None:
    core = make_core(unsafe=True)
    core.start(0)
    feed(core, signed_proposal("v1", 1, 0, B))
    output = feed(core, prevote("v1", 1, 0, HASH_B), prevote("v2", 1, 0, HASH_B))
    assert [(vote.type, vote.block_hash) for vote in votes_sent(output)] == [(PRECOMMIT, HASH_B)]
    assert core.locked_round == -1
    assert core.locked_block_hash == b""
    feed(core, precommit("v1", 1, 0, b""), precommit("v2", 1, 0, b""))
    tick_to_deadline(core)
    output = feed(core, signed_proposal("v2", 1, 1, C))
    # A safe core prevotes nil here (see the locking tests); this one prevotes C.
    assert [(vote.round, vote.block_hash) for vote in votes_sent(output)] == [(1, HASH_C)]


def test_invalid_block_gets_a_nil_prevote() -> None:
    application = ToyApplication()
    application.invalid_proposers.add("B")
    core = make_core(application=application)
    core.start(0)
    output = feed(core, signed_proposal("v1", 1, 0, B))
    assert [(vote.type, vote.block_hash) for vote in votes_sent(output)] == [(PREVOTE, b"")]
    assert core.statistics["invalid_blocks"] == 1
    # A block for another height is invalid whatever the application says.
    other = make_core()
    other.start(0)
    output = feed(other, signed_proposal("v1", 1, 0, make_block(2, "B")))
    assert [vote.block_hash for vote in votes_sent(output)] == [b""]


def test_timeouts_move_through_the_steps_and_grow_with_the_round() -> None:
    core = make_core()
    core.start(0)
    assert core.next_deadline_ms() == TIMEOUTS.propose_ms
    output, now = tick_to_deadline(core)  # propose timeout: prevote nil
    assert [(vote.type, vote.block_hash) for vote in votes_sent(output)] == [(PREVOTE, b"")]
    # +2/3 prevotes, but neither for one block nor for nil: the prevote timeout starts.
    output = feed(core, prevote("v1", 1, 0, HASH_B), prevote("v2", 1, 0, b""), now_ms=now)
    assert votes_sent(output) == []
    assert core.next_deadline_ms() == now + TIMEOUTS.prevote_ms
    output, now = tick_to_deadline(core)
    assert [(vote.type, vote.block_hash) for vote in votes_sent(output)] == [(PRECOMMIT, b"")]
    feed(core, precommit("v1", 1, 0, HASH_B), precommit("v2", 1, 0, b""), now_ms=now)
    assert core.next_deadline_ms() == now + TIMEOUTS.precommit_ms
    output, now = tick_to_deadline(core)
    assert (core.round, core.current_step) == (1, TbftStep.PROPOSE)
    assert core.next_deadline_ms() == now + TIMEOUTS.propose_ms + TIMEOUTS.delta_ms


def test_nil_polka_precommits_nil_at_once() -> None:
    core = make_core()
    core.start(0)
    tick_to_deadline(core)
    output = feed(core, prevote("v1", 1, 0, b""), prevote("v2", 1, 0, b""))
    assert [(vote.type, vote.block_hash) for vote in votes_sent(output)] == [(PRECOMMIT, b"")]


def test_more_than_a_third_in_a_higher_round_makes_the_core_skip_to_it() -> None:
    core = make_core()
    core.start(0)
    feed(core, prevote("v1", 1, 3, b""))
    assert core.round == 0  # one validator of four is not more than a third
    output = feed(core, prevote("v2", 1, 3, b""))
    assert core.round == 3
    # v4 proposes round 3.
    assert core.proposer(1, 3) == "v4"
    proposals = [message for _, message in output.send if message.HasField("proposal")]
    assert [message.proposal.round for message in proposals] == [3]


def test_skip_goes_to_the_highest_round_more_than_a_third_reached() -> None:
    core = make_core()
    core.start(0)
    feed(core, prevote("v1", 1, 2, b""), precommit("v2", 1, 5, b""))
    assert core.round == 2
    # Beyond the stored window the vote is dropped but still shows where its signer is.
    far = ROUNDS_AHEAD_MAX + 40
    feed(core, prevote("v1", 1, far, b""))
    assert core.round == 5
    assert core.statistics["dropped_round_too_far"] == 1
    feed(core, prevote("v3", 1, far + 1, b""))
    assert core.round == far


def test_conflicting_votes_give_evidence_once_and_are_not_counted() -> None:
    core = make_core()
    core.start(0)
    feed(core, signed_proposal("v1", 1, 0, B))  # v4 prevotes B
    first = prevote("v1", 1, 0, HASH_B)
    second = prevote("v1", 1, 0, b"")
    output = feed(core, first, second)
    assert output.evidence == [
        consensus_pb2.DuplicateVoteEvidence(first=first.vote, second=second.vote)
    ]
    output = feed(core, second, prevote("v1", 1, 0, HASH_C))
    assert output.evidence == []
    assert core.statistics["evidence"] == 1
    # Had v1's nil prevote counted, v2 and v3 would make a nil polka and v4 would precommit nil.
    output = feed(core, prevote("v2", 1, 0, b""), prevote("v3", 1, 0, b""))
    assert votes_sent(output) == []
    assert core.current_step == TbftStep.PREVOTE


def test_garbage_unsigned_and_foreign_messages_are_dropped_and_counted() -> None:
    core = make_core()
    core.start(0)
    good = prevote("v1", 1, 0, HASH_B)

    def variant(**changes: object) -> consensus_pb2.ConsensusMessage:
        message = consensus_pb2.ConsensusMessage()
        message.CopyFrom(good)
        for name, value in changes.items():
            setattr(message.vote, name, value)
        return message

    other_chain = consensus_pb2.ConsensusMessage()
    other_chain.CopyFrom(good)
    other_chain.vote.signature = HmacSigner("v1").sign(b"other chain document")
    tampered_block = signed_proposal("v1", 1, 0, B)
    tampered_block.proposal.block.header.time_ms = 99
    no_block = signed_proposal("v1", 1, 0, B)
    no_block.proposal.ClearField("block")
    bad_valid_round = signed_proposal("v1", 1, 0, B)
    bad_valid_round.proposal.valid_round_plus_one = 1
    cases: dict[str, list[consensus_pb2.ConsensusMessage]] = {
        "dropped_unexpected_type": [
            consensus_pb2.ConsensusMessage(),
            consensus_pb2.ConsensusMessage(
                raft_request_vote=consensus_pb2.RaftRequestVote(term=1, candidate="v1")
            ),
            cast(consensus_pb2.ConsensusMessage, consensus_pb2.Vote()),  # not even that
        ],
        "dropped_malformed": [
            variant(type=consensus_pb2.VOTE_TYPE_UNSPECIFIED),
            variant(block_hash=b"x" * 65),
            variant(signature=b""),
            variant(signature=b"s" * 600),
            no_block,
            bad_valid_round,
        ],
        "dropped_bad_signature": [
            variant(signature=b"forged"),
            variant(block_hash=HASH_C),
            other_chain,
            tampered_block,
        ],
        "dropped_not_validator": [variant(validator="mallory"), prevote("mallory", 1, 0, b"")],
        "dropped_future_height": [prevote("v1", 5, 0, b"")],
        "dropped_old_height": [prevote("v1", 0, 0, b"")],
        "dropped_wrong_proposer": [signed_proposal("v2", 1, 0, B)],
    }
    for statistic, messages in cases.items():
        for message in messages:
            output = core.step("v1", message, 0)
            assert not output, (statistic, message)
        assert core.statistics[statistic] == len(messages), statistic
    assert (core.round, core.current_step) == (0, TbftStep.PROPOSE)
    feed(core, good)
    output = feed(core, good)
    assert core.statistics["dropped_duplicate"] == 1
    assert not output


def test_random_messages_never_raise() -> None:
    rng = random.Random(1234)
    core = make_core()
    core.start(0)
    for index in range(3000):
        message = consensus_pb2.ConsensusMessage()
        if index % 3 == 0:
            try:
                message.ParseFromString(rng.randbytes(rng.randint(0, 80)))
            except ProtobufDecodeError:
                continue
        elif index % 3 == 1:
            message.vote.type = rng.choice([0, 1, 2, 7])  # type: ignore[assignment]
            message.vote.height = rng.choice([0, 1, 2, 2**64 - 1])
            message.vote.round = rng.choice([0, 1, 11, 2**32 - 1])
            message.vote.block_hash = rng.randbytes(rng.choice([0, 32, 70]))
            message.vote.validator = rng.choice(["v1", "v2", "v3", "v4", "", "x"])
            message.vote.signature = rng.randbytes(rng.choice([0, 32]))
        else:
            message.proposal.height = rng.choice([0, 1, 2, 3])
            message.proposal.round = rng.choice([0, 1, 2**32 - 1])
            message.proposal.valid_round_plus_one = rng.choice([0, 1, 5])
            message.proposal.proposer = rng.choice(["v1", "v2", "nobody"])
            message.proposal.block.header.height = rng.choice([0, 1])
            message.proposal.signature = rng.randbytes(32)
        output = core.step(rng.choice(["v1", "v2", "zz"]), message, index)
        assert output.send == []
        assert output.commits == []
    assert core.statistics["received"] > 2000


def test_messages_for_the_next_height_wait_for_it_within_a_bound() -> None:
    core = make_core()
    core.start(0)
    next_block = make_block(2, "N")
    assert core.proposer(2, 0) == "v2"
    feed(core, signed_proposal("v2", 2, 0, next_block), prevote("v2", 2, 0, hash_of(next_block)))
    spam = [prevote("v3", 2, round_number, b"") for round_number in range(10)]
    feed(core, *spam)
    assert core.statistics["buffered_next_height"] == 2 + NEXT_HEIGHT_MESSAGES_PER_VALIDATOR_MAX
    assert (
        core.statistics["dropped_next_height_full"] == 10 - NEXT_HEIGHT_MESSAGES_PER_VALIDATOR_MAX
    )
    # Decide height 1, wait out the commit pause: the buffered proposal is handled at once.
    feed(core, signed_proposal("v1", 1, 0, B))
    feed(core, *(precommit(name, 1, 0, HASH_B) for name in ("v1", "v2", "v3")))
    output, _ = tick_to_deadline(core)
    assert core.height == 2
    assert [(vote.height, vote.block_hash) for vote in votes_sent(output)] == [
        (2, hash_of(next_block))
    ]


def test_advance_to_skips_heights_the_runtime_synced() -> None:
    core = make_core()
    core.start(0)
    assert core.proposer(7, 0) == "v3"
    output = core.advance_to(7, 50)
    assert (core.height, core.round, core.current_step) == (7, 0, TbftStep.PROPOSE)
    assert output.send == []
    assert core.next_deadline_ms() == 50 + TIMEOUTS.propose_ms
    assert not core.advance_to(7, 60)
    assert not core.advance_to(3, 60)
    assert core.statistics["advance_ignored"] == 2
    assert core.proposer(8, 0) == "v4"
    output = core.advance_to(8, 70)
    proposals = [message.proposal for _, message in output.send if message.HasField("proposal")]
    assert [(proposal.height, proposal.block.header.time_ms) for proposal in proposals] == [(8, 70)]


def test_proposer_builds_a_block_and_prevotes_it() -> None:
    core = make_core("v1")
    output = core.start(25)
    kinds = [message.WhichOneof("body") for _, message in output.send]
    assert kinds == ["proposal", "vote"]
    proposal = output.send[0][1].proposal
    assert (proposal.height, proposal.round, proposal.valid_round_plus_one) == (1, 0, 0)
    assert proposal.block.header.time_ms == 25
    assert proposal.block.header.proposer == "v1"
    assert output.send[1][1].vote.block_hash == hash_of(proposal.block)
    assert [name for name, _ in output.persist] == ["tbft/state"]


def test_same_inputs_give_the_same_outputs_for_one_core() -> None:
    def run() -> list[bytes]:
        core = make_core("v1")
        outputs = [core.start(0)]
        outputs.append(feed(core, prevote("v2", 1, 0, b""), prevote("v3", 1, 0, b"")))
        outputs.append(core.tick(5_000))
        return [
            repr((output.persist, [(d, m.SerializeToString()) for d, m in output.send])).encode()
            for output in outputs
        ]

    assert run() == run()


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        make_core(height=0)
    with pytest.raises(ConfigurationError):
        TbftTimeouts(propose_ms=-1)
    for validators in ([], [("a", 0)], [("a", 1), ("a", 2)]):
        with pytest.raises(ConfigurationError):
            TbftCore(CHAIN_ID, validators, HmacSigner("a"), HmacVerifier(), ToyApplication(), 1)
    core = make_core()
    core.start(0)
    with pytest.raises(InvariantError):
        core.start(0)


def test_validator_set_message_is_accepted() -> None:
    validator_set = types_pb2.ValidatorSet(
        validators=[types_pb2.Validator(member_id=name, voting_power=power) for name, power in FOUR]
    )
    core = TbftCore(CHAIN_ID, validator_set, HmacSigner("v1"), HmacVerifier(), ToyApplication(), 1)
    assert core.validators == dict(FOUR)
    assert core.total_voting_power == 4
    assert core.next_deadline_ms() is None
    assert not core.tick(10)


def test_an_equivocators_other_vote_still_completes_a_proof_of_lock() -> None:
    core = make_core("v2")
    core.start(0)
    # v4 equivocates in round 0: this core sees its prevote for C first, then one for B.
    feed(core, prevote("v4", 1, 0, HASH_C))
    output = feed(core, prevote("v1", 1, 0, HASH_B), prevote("v3", 1, 0, HASH_B))
    output.extend(feed(core, prevote("v4", 1, 0, HASH_B)))
    assert len(output.evidence) == 1
    feed(core, prevote("v1", 1, 2, b""), prevote("v3", 1, 2, b""))
    assert core.round == 2
    assert core.proposer(1, 2) == "v3"
    # B re-proposed with valid round 0: v1, v3 and (conflicting) v4 prevoted B there.
    output = feed(core, signed_proposal("v3", 1, 2, B, valid_round=0))
    assert [(vote.round, vote.block_hash) for vote in votes_sent(output)] == [(2, HASH_B)]


def test_a_re_proposal_makes_holders_of_its_polka_send_it() -> None:
    gossiping = TbftTimeouts(
        propose_ms=1_000,
        prevote_ms=500,
        precommit_ms=500,
        delta_ms=250,
        commit_ms=100,
        rebroadcast_ms=300,
    )
    core = make_core(timeouts=gossiping)
    core.start(0)
    feed(core, *(prevote(name, 1, 0, HASH_B) for name in ("v1", "v2", "v3")))
    feed(core, prevote("v1", 1, 2, b""), prevote("v3", 1, 2, b""))
    assert core.round == 2
    output = feed(core, signed_proposal("v3", 1, 2, B, valid_round=0))
    relayed = [vote for vote in votes_sent(output) if vote.validator != "v4"]
    assert sorted(vote.validator for vote in relayed) == ["v1", "v2", "v3"]
    assert all((vote.round, vote.block_hash) == (0, HASH_B) for vote in relayed)
    assert all(destination is None for destination, _ in output.send)
    # Once per round only.
    again = core.step("v3", signed_proposal("v3", 1, 2, B, valid_round=0), 0)
    assert votes_sent(again) == []


def raw_core(me: str) -> TbftCore:
    """A core whose Output.build and Output.validate this test answers by hand."""
    return TbftCore(CHAIN_ID, FOUR, HmacSigner(me), HmacVerifier(), ToyApplication(), 1, TIMEOUTS)


def test_the_proposer_asks_for_its_block_and_proposes_it_when_built() -> None:
    core = raw_core("v1")
    asked = core.start(25)
    assert asked.send == []
    assert asked.build == [BuildBlock(height=1, round_number=0, time_ms=25, proposer="v1")]
    assert core.tick(30) == Output()  # asked once
    block = ToyApplication().build_block(1, 0, 25, "v1")
    output = core.block_built(block, 40)
    kinds = [message.WhichOneof("body") for _, message in output.send]
    assert kinds == ["proposal", "vote"]
    assert output.send[0][1].proposal.block == block
    assert output.send[1][1].vote.block_hash == hash_of(block)
    assert output.validate == []  # its own block is not validated again
    assert [name for name, _ in output.persist] == ["tbft/state"]


def test_a_block_built_too_late_for_its_round_is_dropped() -> None:
    core = raw_core("v1")
    core.start(0)
    # The propose timeout passes first: v1 prevotes nil and may no longer propose in round 0.
    timed_out = core.tick(TIMEOUTS.propose_timeout_ms(0))
    assert [vote.block_hash for vote in votes_sent(timed_out)] == [b""]
    late = core.block_built(ToyApplication().build_block(1, 0, 0, "v1"), 2_000)
    assert late.send == [] and late.persist == []
    assert core.statistics["blocks_discarded"] == 1
    # One of another height is dropped too.
    assert core.block_built(ToyApplication().build_block(2, 0, 0, "v1"), 2_001) == Output()
    assert core.statistics["blocks_discarded"] == 2


def test_a_prevote_waits_for_the_verdict_on_the_proposed_block() -> None:
    core = raw_core("v4")
    core.start(0)
    asked = feed(core, signed_proposal("v1", 1, 0, B))
    assert votes_sent(asked) == []
    assert asked.validate == [ValidateBlock(B, HASH_B)]
    # Asked once, however often the rules look at the block meanwhile.
    assert feed(core, prevote("v2", 1, 0, HASH_B)).validate == []
    assert core.block_validated(HASH_C, True, 5) == Output()  # never asked for
    answered = core.block_validated(HASH_B, True, 5)
    assert [(v.type, v.block_hash) for v in votes_sent(answered)] == [(PREVOTE, HASH_B)]
    assert core.block_validated(HASH_B, True, 6) == Output()  # answered already


def test_an_invalid_verdict_gives_a_nil_prevote_and_no_decision() -> None:
    core = raw_core("v4")
    core.start(0)
    feed(core, signed_proposal("v1", 1, 0, B))
    refused = core.block_validated(HASH_B, False, 5)
    assert [(v.type, v.block_hash) for v in votes_sent(refused)] == [(PREVOTE, b"")]
    assert core.statistics["invalid_blocks"] == 1
    # Precommits of the others for B decide nothing here: this node holds B invalid.
    decided = feed(core, *(precommit(v, 1, 0, HASH_B) for v in ("v1", "v2", "v3")))
    assert decided.commits == []


def test_a_node_locked_elsewhere_prevotes_nil_without_validating() -> None:
    core = raw_core("v4")
    core.start(0)
    feed(core, signed_proposal("v1", 1, 0, B))
    core.block_validated(HASH_B, True, 1)
    feed(core, *(prevote(v, 1, 0, HASH_B) for v in ("v1", "v2", "v3")))
    assert core.locked_block_hash == HASH_B
    # Two validators are in round 1 already: more than a third, so v4 skips there too.
    feed(core, prevote("v1", 1, 1, b""), prevote("v2", 1, 1, b""))
    assert (core.round, core.current_step) == (1, TbftStep.PROPOSE)
    output = feed(core, signed_proposal(core.proposer(1, 1), 1, 1, C))
    assert output.validate == []
    # (with v1's and v2's nil prevotes, a nil polka: the nil precommit follows)
    assert [(v.type, v.block_hash) for v in votes_sent(output)] == [
        (PREVOTE, b""),
        (PRECOMMIT, b""),
    ]
