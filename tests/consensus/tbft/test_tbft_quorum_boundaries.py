"""Quorums at their boundary: a total power divisible by three, where exactly two thirds (and
exactly one third) is one vote short, and one more unit of power is enough.

Validators v1, v2, v3 of power 1 and v4 of power 3: total 6, two thirds 4, one third 2. With
`>` turned into `>=` in `is_quorum`, v4 and one other (4 of 6) would decide on their own, and
the tests below fail.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from tbft_harness import (
    CHAIN_ID,
    PRECOMMIT,
    PREVOTE,
    TIMEOUTS,
    HmacSigner,
    HmacVerifier,
    InlineTbftCore,
    Network,
    ToyApplication,
    certificate_power,
    feed,
    make_block,
    precommit,
    prevote,
    signed_proposal,
)

from causeway.consensus import Output
from causeway.consensus.tbft import TbftCore, TbftStep
from causeway.consensus.tbft.votes import VoteSet, is_one_third, is_quorum
from causeway.consensus.v1 import consensus_pb2

WEIGHTED = [("v1", 1), ("v2", 1), ("v3", 1), ("v4", 3)]
TOTAL_POWER = 6


# --- the arithmetic ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total_power", "two_thirds"),
    [(3, 2), (6, 4), (9, 6), (300, 200), (3 * 10**12, 2 * 10**12)],
)
def test_exactly_two_thirds_is_not_a_quorum_and_one_more_is(
    total_power: int, two_thirds: int
) -> None:
    assert not is_quorum(two_thirds - 1, total_power)
    assert not is_quorum(two_thirds, total_power)
    assert is_quorum(two_thirds + 1, total_power)
    assert is_quorum(total_power, total_power)


@pytest.mark.parametrize(("total_power", "one_third"), [(3, 1), (6, 2), (9, 3), (300, 100)])
def test_exactly_one_third_is_not_more_than_a_third_and_one_more_is(
    total_power: int, one_third: int
) -> None:
    assert not is_one_third(one_third, total_power)
    assert is_one_third(one_third + 1, total_power)


@pytest.mark.parametrize(("total_power", "smallest_quorum"), [(4, 3), (5, 4), (7, 5), (10, 7)])
def test_quorum_when_two_thirds_is_not_whole(total_power: int, smallest_quorum: int) -> None:
    assert not is_quorum(smallest_quorum - 1, total_power)
    assert is_quorum(smallest_quorum, total_power)


def _vote(validator: str, block_hash: bytes) -> consensus_pb2.Vote:
    return consensus_pb2.Vote(
        type=PREVOTE, height=1, round=0, block_hash=block_hash, validator=validator
    )


def test_vote_set_finds_no_quorum_block_at_exactly_two_thirds() -> None:
    votes = VoteSet()
    block_hash = b"B" * 32
    votes.add(_vote("v4", block_hash), 3)
    votes.add(_vote("v1", block_hash), 1)
    votes.add(_vote("v2", b""), 1)
    assert votes.power_for(block_hash) == 4
    assert votes.quorum_block_hash(TOTAL_POWER) is None
    votes.add(_vote("v3", block_hash), 1)
    assert votes.power_for(block_hash) == 5
    assert votes.quorum_block_hash(TOTAL_POWER) == block_hash


def test_vote_set_never_names_nil_as_the_quorum_block() -> None:
    votes = VoteSet()
    for validator, power in WEIGHTED:
        votes.add(_vote(validator, b""), power)
    assert votes.power_for(b"") == TOTAL_POWER
    assert votes.quorum_block_hash(TOTAL_POWER) is None


def test_power_of_a_block_nobody_voted_for_is_zero() -> None:
    votes = VoteSet()
    assert votes.power_for(b"B" * 32) == 0
    assert votes.proof_power_for(b"B" * 32) == 0
    votes.add(_vote("v1", b"B" * 32), 1)
    assert votes.power_for(b"C" * 32) == 0
    assert votes.proof_power_for(b"C" * 32) == 0
    # A first conflicting vote counts its power alone, from zero.
    assert votes.add_conflicting(_vote("v1", b"C" * 32), 3)
    assert votes.conflicting_power_by_hash == {b"C" * 32: 3}
    assert votes.proof_power_for(b"C" * 32) == 3
    assert votes.power_for(b"C" * 32) == 0
    assert not votes.add_conflicting(_vote("v1", b"D" * 32), 3)


def test_votes_for_and_proof_for_hold_exactly_the_votes_for_that_block() -> None:
    """Hashes below and above the chosen one, and nil, are all left out (a certificate or a
    proof of lock must not carry a vote for another block)."""
    low, chosen, high = b"\x10" * 32, b"\x80" * 32, b"\xf0" * 32
    votes = VoteSet()
    votes.add(_vote("v1", low), 1)
    votes.add(_vote("v2", chosen), 1)
    votes.add(_vote("v3", high), 1)
    votes.add(_vote("v4", chosen), 3)
    votes.add(_vote("v5", b""), 1)
    votes.add_conflicting(_vote("v1", chosen), 1)
    votes.add_conflicting(_vote("v3", low), 1)
    votes.add_conflicting(_vote("v5", high), 1)
    assert [(v.validator, v.block_hash) for v in votes.votes_for(chosen)] == [
        ("v2", chosen),
        ("v4", chosen),
    ]
    assert [(v.validator, v.block_hash) for v in votes.proof_for(chosen)] == [
        ("v2", chosen),
        ("v4", chosen),
        ("v1", chosen),
    ]
    assert [v.validator for v in votes.votes_for(b"")] == ["v5"]
    assert [v.validator for v in votes.proof_for(low)] == ["v1", "v3"]
    assert [v.validator for v in votes.proof_for(high)] == ["v3", "v5"]
    assert votes.proof_power_for(chosen) == 5


# --- one core ---------------------------------------------------------------------------------


def make_core(me: str) -> TbftCore:
    # Validations are carried out at once, as a driver would (the core asks, then hears back).
    return InlineTbftCore(
        CHAIN_ID, WEIGHTED, HmacSigner(me), HmacVerifier(), ToyApplication(), 1, TIMEOUTS
    )


def votes_sent(output: Output) -> list[tuple[int, bytes]]:
    return [
        (message.vote.type, message.vote.block_hash)
        for _, message in output.send
        if message.WhichOneof("body") == "vote"
    ]


def test_a_polka_of_exactly_two_thirds_does_not_lock_and_one_more_vote_does() -> None:
    core = make_core("v1")
    core.start(0)
    proposer = core.proposer(1, 0)
    block = make_block(1, "B")
    block.header.proposer = proposer
    block_hash = ToyApplication().block_hash(block)
    output = feed(core, signed_proposal(proposer, 1, 0, block))
    assert votes_sent(output) == [(PREVOTE, block_hash)]  # v1's own prevote: power 1
    # v1 (1) and v4 (3): 4 of 6, exactly two thirds. No polka: neither a lock nor a precommit.
    output = feed(core, prevote("v4", 1, 0, block_hash))
    assert votes_sent(output) == []
    assert core.locked_round == -1
    assert core.current_step == TbftStep.PREVOTE
    # v2 brings 5 of 6: a polka.
    output = feed(core, prevote("v2", 1, 0, block_hash))
    assert votes_sent(output) == [(PRECOMMIT, block_hash)]
    assert (core.locked_round, core.locked_block_hash) == (0, block_hash)


def test_precommits_of_exactly_two_thirds_do_not_commit_and_one_more_does() -> None:
    core = make_core("v1")
    core.start(0)
    proposer = core.proposer(1, 0)
    block = make_block(1, "B")
    block.header.proposer = proposer
    block_hash = ToyApplication().block_hash(block)
    feed(core, signed_proposal(proposer, 1, 0, block))
    feed(core, prevote("v4", 1, 0, block_hash), prevote("v2", 1, 0, block_hash))
    # v1 precommitted (1); v4 adds 3: 4 of 6.
    output = feed(core, precommit("v4", 1, 0, block_hash))
    assert output.commits == []
    assert core.current_step == TbftStep.PRECOMMIT
    output = feed(core, precommit("v3", 1, 0, block_hash))
    assert [commit.height for commit in output.commits] == [1]
    certificate = output.commits[0].certificate
    assert certificate_power(certificate, dict(WEIGHTED)) == 5


def test_votes_of_exactly_one_third_in_a_later_round_do_not_make_the_core_skip() -> None:
    core = make_core("v1")
    core.start(0)
    feed(core, prevote("v2", 1, 3, b""), prevote("v3", 1, 3, b""))
    assert core.round == 0  # 2 of 6: exactly one third
    feed(core, prevote("v4", 1, 3, b""))
    assert core.round == 3


# --- a network --------------------------------------------------------------------------------


def run_for(network: Network, until_ms: int) -> None:
    while network.now_ms < until_ms and network.advance_clock():
        network.deliver_all()


def test_a_network_with_exactly_two_thirds_up_never_commits_and_one_more_validator_does() -> None:
    # Rebroadcasting, so that the cores keep deadlines (and time runs) while they are stuck, and
    # v2 hears what it missed once it is back.
    network = Network(WEIGHTED, timeouts=replace(TIMEOUTS, rebroadcast_ms=300))
    cut = {"v2", "v3"}
    network.drop_rules.append(lambda sender, recipient, _message: bool({sender, recipient} & cut))
    network.start()
    run_for(network, 20_000)
    # v1 and v4 hold 4 of 6: exactly two thirds, not enough for anything.
    assert all(node.commits == [] for node in network.nodes.values())
    assert network.now_ms >= 20_000
    for name in ("v1", "v4"):
        assert network.nodes[name].core.height == 1
    # v2 comes back: 5 of 6 decide.
    cut.discard("v2")
    live = ["v1", "v2", "v4"]
    network.run_until(network.all_committed(2, live), time_limit_ms=120_000)
    for name in live:
        for commit in network.nodes[name].commits:
            assert certificate_power(commit.certificate, network.powers) >= 5
    hashes = {
        tuple(commit.certificate.block_hash for commit in network.nodes[name].commits[:2])
        for name in live
    }
    assert len(hashes) == 1
