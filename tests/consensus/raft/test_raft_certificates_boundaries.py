"""Raft certificates gathered after commit: the rules a full cosmic-ray run over
consensus/raft/certificates.py showed no test holding (docs/testing.md). Which signature a node
sends; a signature dropped when it names another signer than its sender, is for another vote
than the committed one, comes from a set that cannot be read or a key that cannot be loaded;
the height window (0 and 3 above a fresh gatherer refused, 2 above the latest commit taken and 3
refused, 63 below taken and 64 or more refused); 64 heights gathered at once; the last 64
closed heights remembered; a certificate strong at once counted once in each statistic."""

from __future__ import annotations

import pytest
from test_raft_certificates import (
    BLOCK_HASH,
    CHAIN_ID,
    ROUND,
    gatherer,
    key,
    own_certificate,
    signature,
    validators,
)

from causeway.consensus.raft import (
    CERTIFICATE_HEIGHTS_MAX,
    SIGNATURE_HEIGHTS_AHEAD_MAX,
    CertificateGatherer,
)
from causeway.consensus.v1 import consensus_pb2
from causeway.crypto import get_profile
from causeway.light import commit_sign_bytes
from causeway.types.v1 import types_pb2


def signed(
    index: int, height: int, round_number: int, block_hash: bytes
) -> consensus_pb2.RaftCommitSignature:
    """Validator ``index``'s signature of any vote (the shared helper signs only ROUND)."""
    document = commit_sign_bytes(CHAIN_ID, height, round_number, block_hash)
    return consensus_pb2.RaftCommitSignature(
        height=height,
        round=round_number,
        block_hash=block_hash,
        validator=f"org{index}/node",
        signature=key("intl", index).sign(document),
    )


def full_certificate(height: int, count: int) -> types_pb2.CommitCertificate:
    """A certificate signed by the first ``count`` validators."""
    messages = [signature(index, height) for index in range(count)]
    return types_pb2.CommitCertificate(
        height=height,
        round=ROUND,
        block_hash=BLOCK_HASH,
        signatures=[
            types_pb2.CommitSignature(validator=message.validator, signature=message.signature)
            for message in messages
        ],
    )


def test_a_node_sends_its_own_signature_and_no_one_elses() -> None:
    """signature_of picks the entry of this node's id, wherever it sorts among the others; a
    certificate without it gives nothing to send, whoever else signed it."""
    node = CertificateGatherer(CHAIN_ID, "org1/node", get_profile("intl"))
    certificate = full_certificate(7, 3)
    message = node.signature_of(certificate)
    assert message is not None
    sent = message.raft_commit_signature
    assert sent.validator == "org1/node"
    assert sent.signature == certificate.signatures[1].signature
    del certificate.signatures[1]  # org0 sorts before this node, org2 after it
    assert [entry.validator for entry in certificate.signatures] == ["org0/node", "org2/node"]
    assert node.signature_of(certificate) is None


@pytest.mark.parametrize("named", ["org0/node", "org2/node"])
def test_a_signature_naming_another_validator_than_its_sender_is_dropped(named: str) -> None:
    """A peer sends only its own signature: one that names another validator (sorting before
    or after the sender) is dropped, even though the sender's key signed it."""
    node = gatherer()
    three = validators(3)
    node.committed(own_certificate(1), three)
    assert node.add("org1/node", signature(1, 1, validator=named), three) is None
    assert node.statistics.signatures_dropped == 1
    assert node.statistics.signatures_accepted == 0
    assert node.heights_pending == (1,)
    # The same signature naming its sender completes the majority.
    assert node.add("org1/node", signature(1, 1), three) is not None


@pytest.mark.parametrize(
    ("round_number", "block_hash"),
    [
        (ROUND, bytes(32)),  # another block, sorting before the committed one
        (ROUND, b"\xff" * 32),  # another block, sorting after it
        (ROUND - 1, BLOCK_HASH),  # the same block in an earlier round
        (ROUND + 1, BLOCK_HASH),  # and in a later one
    ],
    ids=["other-block-below", "other-block-above", "earlier-round", "later-round"],
)
def test_a_signature_for_another_vote_than_the_committed_one_is_dropped(
    round_number: int, block_hash: bytes
) -> None:
    """Once this node committed (round 3, BLOCK_HASH), a signature of any other round or block
    at that height is dropped and counted, not kept."""
    node = gatherer()
    three = validators(3)
    node.committed(own_certificate(1), three)
    assert node.add("org1/node", signed(1, 1, round_number, block_hash), three) is None
    assert node.statistics.signatures_dropped == 1
    assert node.statistics.signatures_accepted == 0


def test_a_fresh_gatherer_takes_heights_1_and_2_and_drops_0_and_3() -> None:
    """Before any commit the latest committed height is 0: signatures for heights 1 and 2
    (SIGNATURE_HEIGHTS_AHEAD_MAX above it) are kept, height 0 and height 3 are not."""
    node = gatherer()
    three = validators(3)
    for height in (0, 3):
        assert node.add("org1/node", signature(1, height), three) is None
    assert node.statistics.signatures_dropped == 2
    for height in (1, 2):
        assert node.add("org1/node", signature(1, height), three) is None
    assert node.statistics.signatures_accepted == 2
    assert node.heights_pending == (1, 2)


def test_signatures_are_taken_from_2_above_the_latest_commit_to_63_below() -> None:
    """With height 100 committed: 102 is taken and 103 dropped; 37 (63 below) is taken, 36
    (64 below) and everything further down, 35 and 1, dropped."""
    assert (SIGNATURE_HEIGHTS_AHEAD_MAX, CERTIFICATE_HEIGHTS_MAX) == (2, 64)
    node = gatherer()
    three = validators(3)
    node.committed(own_certificate(100), three)
    for height in (102, 37):
        node.add("org1/node", signature(1, height), three)
    assert node.statistics.signatures_accepted == 2
    for height in (103, 36, 35, 1):
        node.add("org1/node", signature(1, height), three)
    assert node.statistics.signatures_dropped == 4
    assert node.heights_pending == (37, 100, 102)


def test_64_heights_are_gathered_at_once_and_the_65th_gives_up_the_oldest() -> None:
    """The bound on heights gathered at once is 64, on both sides."""
    node = gatherer()
    three = validators(3)
    for height in range(1, 65):
        node.committed(own_certificate(height), three)
    assert node.heights_pending == tuple(range(1, 65))
    assert node.statistics.heights_given_up == 0
    node.committed(own_certificate(65), three)
    assert node.heights_pending == tuple(range(2, 66))
    assert node.statistics.heights_given_up == 1


def test_the_last_64_closed_heights_drop_late_signatures() -> None:
    """Heights 1 to 65 each closed by a certificate of all three validators: the 64 latest
    closed heights (2 to 65) are remembered, so a late signature for the oldest one still in the
    window (2) or the newest (65) is dropped and reopens nothing; height 1 is below the window."""
    node = gatherer()
    three = validators(3)
    for height in range(1, 66):
        assert node.committed(full_certificate(height, 3), three) is not None
    assert node.heights_pending == ()
    for height in (1, 2, 65):
        assert node.add("org1/node", signature(1, height), three) is None
    assert node.statistics.signatures_dropped == 3
    assert node.statistics.signatures_accepted == 0
    assert node.heights_pending == ()


def test_a_certificate_strong_at_once_counts_once_in_each_statistic() -> None:
    """Signatures gathered before the commit can make the first certificate already more than
    two thirds: it is one certificate completed, and one for light clients."""
    node = gatherer()
    three = validators(3)
    node.add("org1/node", signature(1, 1), three)
    node.add("org2/node", signature(2, 1), three)
    strong = node.committed(own_certificate(1), three)
    assert strong is not None
    assert [entry.validator for entry in strong.signatures] == [
        "org0/node",
        "org1/node",
        "org2/node",
    ]
    assert node.statistics.certificates_completed == 1
    assert node.statistics.certificates_for_light_clients == 1
    assert node.heights_pending == ()


def unreadable_sets() -> list[types_pb2.ValidatorSet]:
    twice = validators(3)
    twice.validators[2].member_id = "org1/node"
    foreign = validators(3)
    foreign.validators[2].CopyFrom(validators(3, "gm").validators[2])  # SM2 in an intl set
    return [twice, foreign]


@pytest.mark.parametrize("known", unreadable_sets(), ids=["member-twice", "foreign-algorithm"])
def test_a_signature_whose_set_cannot_be_read_is_dropped_once(
    known: types_pb2.ValidatorSet,
) -> None:
    """A set no chain of this profile could have (a member twice, an algorithm the profile
    does not allow): the signature is dropped and counted once, nothing raised."""
    node = gatherer()
    assert node.add("org1/node", signature(1, 1), known) is None
    assert node.statistics.signatures_dropped == 1
    assert node.statistics.signatures_accepted == 0
    assert node.heights_pending == ()


def test_a_validator_whose_key_cannot_be_loaded_has_its_signature_dropped() -> None:
    """A validator whose public key is not a key (5 bytes): its signature cannot verify, so it
    is dropped and counted, nothing raised, and it does not count towards the majority."""
    node = gatherer()
    three = validators(3)
    three.validators[1].public_key = b"\x01" * 5
    node.committed(own_certificate(1), three)
    assert node.add("org1/node", signature(1, 1), three) is None
    assert node.statistics.signatures_dropped == 1
    assert node.statistics.signatures_accepted == 0
    assert node.heights_pending == (1,)
