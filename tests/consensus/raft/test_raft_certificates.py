"""Raft certificates gathered after commit: a majority of the height's validator set signs."""

from __future__ import annotations

from functools import cache

import pytest

from causeway.consensus.raft import (
    CERTIFICATE_HEIGHTS_MAX,
    SIGNATURE_HEIGHTS_AHEAD_MAX,
    CertificateGatherer,
)
from causeway.consensus.v1 import consensus_pb2
from causeway.crypto import PrivateKey, get_profile
from causeway.errors import SignatureError
from causeway.light import CertificateQuorum, commit_sign_bytes, verify_certificate
from causeway.types.v1 import types_pb2

CHAIN_ID = "raft-certificates"
BLOCK_HASH = bytes(range(32))
ROUND = 3


@cache
def key(profile_name: str, index: int) -> PrivateKey:
    return PrivateKey.generate(get_profile(profile_name).default_algorithm)


def validators(count: int, profile_name: str = "intl") -> types_pb2.ValidatorSet:
    return types_pb2.ValidatorSet(
        validators=[
            types_pb2.Validator(
                member_id=f"org{index}/node",
                algorithm=key(profile_name, index).algorithm,
                public_key=key(profile_name, index).public_key().raw,
                voting_power=1,
            )
            for index in range(count)
        ]
    )


def signature(
    index: int,
    height: int,
    *,
    block_hash: bytes = BLOCK_HASH,
    profile_name: str = "intl",
    validator: str | None = None,
) -> consensus_pb2.RaftCommitSignature:
    document = commit_sign_bytes(CHAIN_ID, height, ROUND, block_hash)
    return consensus_pb2.RaftCommitSignature(
        height=height,
        round=ROUND,
        block_hash=block_hash,
        validator=validator or f"org{index}/node",
        signature=key(profile_name, index).sign(document),
    )


def own_certificate(height: int, profile_name: str = "intl") -> types_pb2.CommitCertificate:
    """What the core hands node 0 at commit: its own signature only."""
    own = signature(0, height, profile_name=profile_name)
    return types_pb2.CommitCertificate(
        height=height,
        round=ROUND,
        block_hash=BLOCK_HASH,
        signatures=[types_pb2.CommitSignature(validator=own.validator, signature=own.signature)],
    )


def gatherer(profile_name: str = "intl") -> CertificateGatherer:
    return CertificateGatherer(CHAIN_ID, "org0/node", get_profile(profile_name))


@pytest.mark.parametrize("profile_name", ["intl", "gm"])
def test_a_majority_of_three_completes_the_certificate(profile_name: str) -> None:
    node = gatherer(profile_name)
    three = validators(3, profile_name)
    assert node.committed(own_certificate(5, profile_name), three) is None
    completed = node.add("org2/node", signature(2, 5, profile_name=profile_name), three)
    assert completed is not None
    assert [entry.validator for entry in completed.signatures] == ["org0/node", "org2/node"]
    # A light client checks it with raft's quorum; it is exactly two thirds, not more.
    verify_certificate(
        completed,
        chain_id=CHAIN_ID,
        height=5,
        block_hash=BLOCK_HASH,
        validators=three,
        profile=get_profile(profile_name),
        quorum=CertificateQuorum.MORE_THAN_HALF,
    )
    with pytest.raises(SignatureError, match="holds 2 of 3 voting power, not more than two thirds"):
        verify_certificate(
            completed,
            chain_id=CHAIN_ID,
            height=5,
            block_hash=BLOCK_HASH,
            validators=three,
            profile=get_profile(profile_name),
        )
    # The height stays open: the third signature makes the certificate an interchain light
    # client asks for (more than two thirds), and closes the height.
    assert node.heights_pending == (5,)
    strong = node.add("org1/node", signature(1, 5, profile_name=profile_name), three)
    assert strong is not None
    assert [entry.validator for entry in strong.signatures] == [
        "org0/node",
        "org1/node",
        "org2/node",
    ]
    verify_certificate(
        strong,
        chain_id=CHAIN_ID,
        height=5,
        block_hash=BLOCK_HASH,
        validators=three,
        profile=get_profile(profile_name),
        quorum=CertificateQuorum.MORE_THAN_TWO_THIRDS,
    )
    assert node.statistics.certificates_completed == 1
    assert node.statistics.certificates_for_light_clients == 1
    assert node.heights_pending == ()
    # Late signatures for a closed height are dropped.
    assert node.add("org1/node", signature(1, 5, profile_name=profile_name), three) is None
    assert node.statistics.signatures_dropped == 1


def test_a_height_whose_majority_certificate_was_made_is_not_counted_as_given_up() -> None:
    node = gatherer()
    three = validators(3)
    node.committed(own_certificate(1), three)
    assert node.add("org1/node", signature(1, 1), three) is not None  # the majority
    node.committed(own_certificate(2), three)  # height 2 gets no other signature
    for height in range(3, CERTIFICATE_HEIGHTS_MAX + 3):
        node.committed(own_certificate(height), three)
    # Heights 1 and 2 were evicted: 1 had its majority certificate, 2 had nothing.
    assert 1 not in node.heights_pending and 2 not in node.heights_pending
    assert node.statistics.heights_given_up == 1


def test_a_signature_that_adds_nothing_returns_nothing() -> None:
    node = gatherer()
    five = validators(5)
    node.committed(own_certificate(1), five)
    node.add("org1/node", signature(1, 1), five)
    assert node.add("org2/node", signature(2, 1), five) is not None  # 3 of 5: majority
    # Again from the same validator: no new certificate.
    assert node.add("org2/node", signature(2, 1), five) is None
    strong = node.add("org3/node", signature(3, 1), five)  # 4 of 5: more than two thirds
    assert strong is not None
    assert len(strong.signatures) == 4
    assert node.heights_pending == ()


def test_half_of_four_is_not_enough_and_one_more_is() -> None:
    node = gatherer()
    four = validators(4)
    node.committed(own_certificate(1), four)
    assert node.add("org1/node", signature(1, 1), four) is None  # 2 of 4: exactly half
    completed = node.add("org3/node", signature(3, 1), four)  # 3 of 4
    assert completed is not None
    assert [entry.validator for entry in completed.signatures] == [
        "org0/node",
        "org1/node",
        "org3/node",
    ]


def test_signatures_arriving_before_the_local_commit_are_kept() -> None:
    node = gatherer()
    three = validators(3)
    # A peer commits first; its signature waits for ours. A signature for another block at the
    # same height (which cannot be committed) is set aside when ours names the block.
    assert node.add("org1/node", signature(1, 1), three) is None
    assert node.add("org2/node", signature(2, 1, block_hash=bytes(32)), three) is None
    assert node.heights_pending == (1,)
    completed = node.committed(own_certificate(1), three)
    assert completed is not None
    assert {entry.validator for entry in completed.signatures} == {"org0/node", "org1/node"}


def test_what_is_dropped_and_why() -> None:
    node = gatherer()
    three = validators(3)
    node.committed(own_certificate(1), three)
    forged = signature(1, 1)
    forged.signature = forged.signature[:-1] + bytes([forged.signature[-1] ^ 1])
    outsider = signature(3, 1)  # a real key, but not of this height's set
    for sender, message, known in [
        ("org2/node", signature(1, 1), three),  # relayed by another node than its signer
        ("org1/node", forged, three),  # does not verify
        ("org3/node", outsider, three),  # not a validator of the height
        ("org1/node", signature(1, 1, block_hash=bytes(32)), three),  # another block
        ("org1/node", signature(1, 1), None),  # the height's set is not known
    ]:
        assert node.add(sender, message, known) is None
    assert node.statistics.signatures_dropped == 5
    assert node.statistics.signatures_accepted == 0
    assert node.heights_pending == (1,)


def test_heights_ahead_at_the_limit_and_one_past() -> None:
    node = gatherer()
    three = validators(3)
    node.committed(own_certificate(100), three)
    ahead = 100 + SIGNATURE_HEIGHTS_AHEAD_MAX
    assert node.add("org1/node", signature(1, ahead), three) is None
    assert node.statistics.signatures_accepted == 1
    assert node.add("org1/node", signature(1, ahead + 1), three) is None
    assert node.statistics.signatures_dropped == 1
    # Behind: within CERTIFICATE_HEIGHTS_MAX of the latest is still gathered, one more is not.
    oldest = 100 - CERTIFICATE_HEIGHTS_MAX + 1
    node.add("org1/node", signature(1, oldest), three)
    assert node.statistics.signatures_accepted == 2
    node.add("org1/node", signature(1, oldest - 1), three)
    assert node.statistics.signatures_dropped == 2
    assert node.heights_pending == (oldest, 100, ahead)


def test_heights_gathered_at_once_are_bounded() -> None:
    node = gatherer()
    three = validators(3)
    for height in range(1, CERTIFICATE_HEIGHTS_MAX + 1):
        node.committed(own_certificate(height), three)
    assert len(node.heights_pending) == CERTIFICATE_HEIGHTS_MAX
    assert node.statistics.heights_given_up == 0
    node.committed(own_certificate(CERTIFICATE_HEIGHTS_MAX + 1), three)
    assert len(node.heights_pending) == CERTIFICATE_HEIGHTS_MAX
    assert node.heights_pending[0] == 2
    assert node.statistics.heights_given_up == 1
    # The height given up takes no more signatures.
    assert node.add("org1/node", signature(1, 1), three) is None
    assert node.statistics.signatures_dropped == 1


def test_the_message_a_node_sends() -> None:
    node = gatherer()
    certificate = own_certificate(4)  # ECDSA signatures differ each time: keep this one
    message = node.signature_of(certificate)
    assert message is not None
    sent = message.raft_commit_signature
    assert (sent.height, sent.round, sent.block_hash, sent.validator) == (
        4,
        ROUND,
        BLOCK_HASH,
        "org0/node",
    )
    assert sent.signature == certificate.signatures[0].signature
    assert node.signature_of(types_pb2.CommitCertificate(height=4)) is None
