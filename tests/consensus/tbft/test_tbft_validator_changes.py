"""A validator set that changes at a height: quorums, proposers and signing follow the schedule."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from tbft_harness import (
    CHAIN_ID,
    HmacSigner,
    HmacVerifier,
    InlineTbftCore,
    Network,
    ToyApplication,
    certificate_power,
    precommit,
)

from causeway.consensus.tbft import ProposerSelection, TbftCore
from causeway.errors import InvariantError
from causeway.types.v1 import types_pb2

FIRST = [("v1", 1), ("v2", 1), ("v3", 1), ("v4", 1)]
# From height 5: v4 leaves, v5 joins.
SECOND = [("v1", 1), ("v2", 1), ("v3", 1), ("v5", 1)]
CHANGE_HEIGHT = 5


def two_sets(height: int) -> tuple[int, Sequence[tuple[str, int]]]:
    return (1, FIRST) if height < CHANGE_HEIGHT else (CHANGE_HEIGHT, SECOND)


def signers(certificate: types_pb2.CommitCertificate) -> set[str]:
    return {signature.validator for signature in certificate.signatures}


def test_certificates_and_signers_follow_the_set_of_their_height() -> None:
    network = Network(FIRST, observers=["v5"], schedule=two_sets)
    network.start()
    network.run_until(network.all_committed(CHANGE_HEIGHT + 3))
    reference = [commit.certificate.block_hash for commit in network.nodes["v1"].commits]
    for name, node in network.nodes.items():
        assert [c.certificate.block_hash for c in node.commits][: len(reference)] == reference[
            : len(node.commits)
        ], name
        for commit in node.commits:
            powers = dict(two_sets(commit.height)[1])
            assert signers(commit.certificate) <= set(powers)
            assert 3 * certificate_power(commit.certificate, powers) > 2 * sum(powers.values())
    signed_by = {
        (message.vote.validator, message.vote.height)
        for _, message in network.sent
        if message.WhichOneof("body") == "vote"
    }
    # v5 signs only once it is a validator, v4 only while it is one.
    assert not any(validator == "v5" and h < CHANGE_HEIGHT for validator, h in signed_by)
    assert any(validator == "v5" and h >= CHANGE_HEIGHT for validator, h in signed_by)
    assert not any(validator == "v4" and h >= CHANGE_HEIGHT for validator, h in signed_by)
    assert any(validator == "v4" and h < CHANGE_HEIGHT for validator, h in signed_by)


def test_proposers_restart_the_rotation_of_the_new_set() -> None:
    network = Network(FIRST, observers=["v5"], schedule=two_sets)
    network.start()
    network.run_until(network.all_committed(CHANGE_HEIGHT + 3))
    first, second = ProposerSelection(FIRST), ProposerSelection(SECOND)
    for commit in network.nodes["v1"].commits[: CHANGE_HEIGHT + 3]:
        assert commit.certificate.round == 0
        expected = (
            first.proposer(commit.height, 0)
            if commit.height < CHANGE_HEIGHT
            else second.proposer(commit.height - CHANGE_HEIGHT + 1, 0)
        )
        assert commit.block.header.proposer == expected
        assert network.nodes["v2"].core.proposer(commit.height, 0) == expected


def test_a_validator_that_gains_the_power_to_block_quorum_is_needed_from_its_height() -> None:
    heavy = [("v1", 10), ("v2", 1), ("v3", 1), ("v4", 1)]

    def schedule(height: int) -> tuple[int, Sequence[tuple[str, int]]]:
        return (1, FIRST) if height < 4 else (4, heavy)

    network = Network(FIRST, schedule=schedule, sync=False)
    network.drop_rules.append(lambda sender, _recipient, _message: sender == "v1")
    network.start()
    # Without v1, three of four equal validators still decide heights 1..3 ...
    network.run_until(network.all_committed(3, ["v2", "v3", "v4"]))
    # ... but from height 4 on v1 holds more than a third of the power and nothing commits.
    with pytest.raises(AssertionError, match="not done"):
        network.run_until(network.all_committed(4, ["v2", "v3", "v4"]), time_limit_ms=30_000)
    assert all(len(network.nodes[name].commits) == 3 for name in ("v2", "v3", "v4"))
    network.drop_rules.clear()
    network.sync = True
    network.run_until(network.all_committed(6), time_limit_ms=200_000)
    for commit in network.nodes["v2"].commits[3:6]:
        assert "v1" in signers(commit.certificate)


def test_votes_of_a_future_validator_for_the_next_height_are_kept_not_dropped() -> None:
    core = InlineTbftCore(
        CHAIN_ID,
        FIRST,
        HmacSigner("v1"),
        HmacVerifier(),
        ToyApplication(),
        CHANGE_HEIGHT - 1,
        validator_schedule=two_sets,
    )
    core.start(0)
    core.step("v5", precommit("v5", CHANGE_HEIGHT, 0, b"\x01" * 32), 0)
    assert core.statistics["buffered_next_height"] == 1
    assert core.statistics["dropped_not_validator"] == 0
    # A vote of v5 for the current height, where it is no validator, is refused.
    core.step("v5", precommit("v5", CHANGE_HEIGHT - 1, 0, b"\x01" * 32), 0)
    assert core.statistics["dropped_not_validator"] == 1
    assert core.validators_at(CHANGE_HEIGHT) == dict(SECOND)
    assert core.validators_at(CHANGE_HEIGHT - 1) == dict(FIRST)
    assert core.validators_at(CHANGE_HEIGHT + 5) is None


def test_a_removed_validator_follows_as_an_observer_and_never_signs() -> None:
    core = InlineTbftCore(
        CHAIN_ID,
        FIRST,
        HmacSigner("v4"),
        HmacVerifier(),
        ToyApplication(),
        CHANGE_HEIGHT,
        validator_schedule=two_sets,
    )
    output = core.start(0)
    output.extend(core.tick(10_000_000))
    assert not [m for _, m in output.send if m.WhichOneof("body") in ("vote", "proposal")]
    assert core.validators == dict(SECOND)


def test_a_schedule_answering_with_a_later_set_is_an_invariant_error() -> None:
    def wrong(height: int) -> tuple[int, Sequence[tuple[str, int]]]:
        return height + 1, FIRST

    with pytest.raises(InvariantError):
        TbftCore(
            CHAIN_ID,
            FIRST,
            HmacSigner("v1"),
            HmacVerifier(),
            ToyApplication(),
            1,
            validator_schedule=wrong,
        )
