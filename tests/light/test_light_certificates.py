"""Headers and their certificates, checked from a trusted validator set: each rule at its edge."""

from __future__ import annotations

import pytest
from light_support import CHAIN_ID, build_chain, validator_key, validator_set

from causeway.crypto import get_profile
from causeway.errors import ProofError, SignatureError, WrongChainError
from causeway.light import (
    CERTIFICATE_SIGNATURES_MAX,
    VALIDATOR_SET_VALIDATORS_MAX,
    CertificateQuorum,
    certificate_quorum,
    verify_adjacent_header,
    verify_certificate,
    verify_header,
    verify_next_validator_set,
    verify_trusted_signers,
    verify_validator_set,
)
from causeway.types.v1 import types_pb2

TWO_THIRDS = CertificateQuorum.MORE_THAN_TWO_THIRDS
HALF = CertificateQuorum.MORE_THAN_HALF
ONE_THIRD = CertificateQuorum.MORE_THAN_ONE_THIRD


@pytest.mark.parametrize(
    ("quorum", "signed", "total", "reached"),
    [
        (TWO_THIRDS, 2, 3, False),  # exactly two thirds
        (TWO_THIRDS, 3, 3, True),
        (TWO_THIRDS, 6, 9, False),
        (TWO_THIRDS, 7, 9, True),  # just over
        (TWO_THIRDS, 2, 4, False),
        (TWO_THIRDS, 3, 4, True),
        (HALF, 2, 4, False),  # exactly half
        (HALF, 3, 4, True),
        (HALF, 1, 3, False),
        (HALF, 2, 3, True),
        (CertificateQuorum.ANY_VALIDATOR, 0, 3, False),
        (CertificateQuorum.ANY_VALIDATOR, 1, 3, True),
        (ONE_THIRD, 1, 3, False),  # exactly one third
        (ONE_THIRD, 2, 3, True),
        (ONE_THIRD, 3, 9, False),
        (ONE_THIRD, 4, 9, True),  # just over
    ],
)
def test_quorum_arithmetic(
    quorum: CertificateQuorum, signed: int, total: int, reached: bool
) -> None:
    assert quorum.is_reached(signed, total) is reached


def test_quorum_of_each_consensus() -> None:
    assert certificate_quorum("tbft") is TWO_THIRDS
    assert certificate_quorum("solo") is TWO_THIRDS
    assert certificate_quorum("raft") is HALF
    with pytest.raises(ProofError, match="unknown consensus 'paxos'"):
        certificate_quorum("paxos")


def test_a_set_whose_power_divides_by_three_needs_more_than_two_thirds() -> None:
    # Three validators of power 1 (total 3): two of them are exactly two thirds.
    chain = build_chain("intl", (1, 1, 1))
    with pytest.raises(SignatureError, match="holds 2 of 3 voting power, not more than two thirds"):
        verify_header(
            chain.header,
            chain.certificate([0, 1]),
            chain_id=CHAIN_ID,
            validators=chain.validators,
            profile=chain.profile,
        )
    assert (
        verify_header(
            chain.header,
            chain.certificate([0, 1, 2]),
            chain_id=CHAIN_ID,
            validators=chain.validators,
            profile=chain.profile,
        )
        == chain.block_hash
    )


def test_weighted_power_just_over_two_thirds() -> None:
    # Powers 1, 2, 3, 3 (total 9): 3 + 3 is exactly two thirds, 1 + 3 + 3 just over.
    chain = build_chain("intl", (1, 2, 3, 3))
    with pytest.raises(SignatureError, match="holds 6 of 9 voting power"):
        verify_certificate(
            chain.certificate([2, 3]),
            chain_id=CHAIN_ID,
            height=chain.header.height,
            block_hash=chain.block_hash,
            validators=chain.validators,
            profile=chain.profile,
        )
    signed = verify_certificate(
        chain.certificate([0, 2, 3]),
        chain_id=CHAIN_ID,
        height=chain.header.height,
        block_hash=chain.block_hash,
        validators=chain.validators,
        profile=chain.profile,
    )
    assert signed == 7


def test_raft_quorum_is_more_than_half() -> None:
    # Four raft voters (power 1 each): two are exactly half, three a majority.
    chain = build_chain("intl", (1, 1, 1, 1))
    with pytest.raises(SignatureError, match="holds 2 of 4 voting power, not more than half"):
        verify_header(
            chain.header,
            chain.certificate([0, 3]),
            chain_id=CHAIN_ID,
            validators=chain.validators,
            profile=chain.profile,
            quorum=HALF,
        )
    verify_header(
        chain.header,
        chain.certificate([0, 1, 3]),
        chain_id=CHAIN_ID,
        validators=chain.validators,
        profile=chain.profile,
        quorum=HALF,
    )
    # Two of three raft voters are a majority, though exactly two thirds.
    three = build_chain("intl", (1, 1, 1))
    verify_header(
        three.header,
        three.certificate([0, 1]),
        chain_id=CHAIN_ID,
        validators=three.validators,
        profile=three.profile,
        quorum=HALF,
    )


def _check(
    header: types_pb2.BlockHeader,
    certificate: types_pb2.CommitCertificate,
    validators: types_pb2.ValidatorSet,
    profile_name: str = "intl",
) -> bytes:
    return verify_header(
        header,
        certificate,
        chain_id=CHAIN_ID,
        validators=validators,
        profile=get_profile(profile_name),
    )


def test_wrong_chain_id() -> None:
    chain = build_chain("intl")
    header = types_pb2.BlockHeader()
    header.CopyFrom(chain.header)
    header.chain_id = "other-chain"
    with pytest.raises(WrongChainError, match="the header is for 'other-chain', not 'light-test'"):
        _check(header, chain.certificate([0, 1, 2]), chain.validators)
    # Signatures made for another chain id verify nowhere else, even over the same block hash.
    with pytest.raises(SignatureError, match="the signature of 'org0/validator' does not verify"):
        _check(chain.header, chain.certificate([0, 1, 2], chain_id="other-chain"), chain.validators)


def test_duplicate_signer_counts_once_and_is_refused() -> None:
    chain = build_chain("intl")
    certificate = chain.certificate([0, 1])
    certificate.signatures.append(certificate.signatures[0])
    with pytest.raises(SignatureError, match="'org0/validator' signs the certificate twice"):
        _check(chain.header, certificate, chain.validators)


def test_signer_outside_the_set() -> None:
    # Validator 3 has a real key but is not in the three-validator set.
    chain = build_chain("intl", (1, 1, 1))
    outside = build_chain("intl", (1, 1, 1, 1))
    certificate = chain.certificate([0, 1, 2])
    certificate.signatures.append(outside.certificate([3]).signatures[0])
    with pytest.raises(SignatureError, match="'org3/validator' is not a validator at height 7"):
        _check(chain.header, certificate, chain.validators)


def test_tampered_header_and_certificate() -> None:
    chain = build_chain("intl")
    certificate = chain.certificate([0, 1, 2])
    header = types_pb2.BlockHeader()
    header.CopyFrom(chain.header)
    header.state_root = bytes(32)
    with pytest.raises(ProofError, match="the certificate is not for the block at height 7"):
        _check(header, certificate, chain.validators)
    other_height = chain.certificate([0, 1, 2], height=8)
    with pytest.raises(ProofError, match="the certificate is not for the block at height 7"):
        _check(chain.header, other_height, chain.validators)
    forged = types_pb2.CommitCertificate()
    forged.CopyFrom(certificate)
    signature = bytearray(forged.signatures[1].signature)
    signature[-1] ^= 1
    forged.signatures[1].signature = bytes(signature)
    with pytest.raises(SignatureError, match="the signature of 'org1/validator' does not verify"):
        _check(chain.header, forged, chain.validators)
    # The signatures cover round 0: a certificate claiming round 1 fails every one of them.
    forged.CopyFrom(certificate)
    forged.round = 1
    with pytest.raises(SignatureError, match="does not verify"):
        _check(chain.header, forged, chain.validators)


def test_header_shape() -> None:
    chain = build_chain("intl")
    certificate = chain.certificate([0, 1, 2])
    for name, value, message in [
        ("version", 2, "unknown block version 2"),
        ("state_root", b"short", "the header's state_root is 5 bytes, not 32"),
    ]:
        header = types_pb2.BlockHeader()
        header.CopyFrom(chain.header)
        setattr(header, name, value)
        with pytest.raises(ProofError, match=message):
            _check(header, certificate, chain.validators)


def test_validator_sets_against_the_header() -> None:
    chain = build_chain("intl", (1, 1, 1), next_powers=(1, 1, 1, 1))
    verify_validator_set(chain.header, chain.validators, chain.profile)
    verify_next_validator_set(chain.header, chain.next_validators, chain.profile)
    with pytest.raises(ProofError, match="not the one the header of height 7 names"):
        verify_validator_set(chain.header, chain.next_validators, chain.profile)
    with pytest.raises(ProofError, match="not the next one the header of height 7 names"):
        verify_next_validator_set(chain.header, chain.validators, chain.profile)
    # A set with other weights is another set: the header refuses it before any signature.
    heavier = types_pb2.ValidatorSet()
    heavier.CopyFrom(chain.validators)
    heavier.validators[0].voting_power = 10
    with pytest.raises(ProofError, match="not the one the header of height 7 names"):
        _check(chain.header, chain.certificate([0]), heavier)


def test_malformed_sets() -> None:
    chain = build_chain("intl")
    certificate = chain.certificate([0, 1, 2])

    def check(validators: types_pb2.ValidatorSet) -> None:
        verify_certificate(
            certificate,
            chain_id=CHAIN_ID,
            height=7,
            block_hash=chain.block_hash,
            validators=validators,
            profile=chain.profile,
        )

    twice = types_pb2.ValidatorSet()
    twice.CopyFrom(chain.validators)
    twice.validators.append(twice.validators[0])
    with pytest.raises(ProofError, match="the validator set names 'org0/validator' twice"):
        check(twice)
    powerless = types_pb2.ValidatorSet()
    powerless.CopyFrom(chain.validators)
    for validator in powerless.validators:
        validator.voting_power = 0
    with pytest.raises(SignatureError, match="no voting power at height 7"):
        check(powerless)
    unusable = types_pb2.ValidatorSet()
    unusable.CopyFrom(chain.validators)
    unusable.validators[2].public_key = b"\x04" + bytes(64)
    with pytest.raises(SignatureError, match="'org2/validator' has an unusable key"):
        check(unusable)


def _many_validators(count: int) -> types_pb2.ValidatorSet:
    return types_pb2.ValidatorSet(
        validators=[
            types_pb2.Validator(
                member_id=f"org/v{index}", algorithm="ecdsa-p256", public_key=b"", voting_power=1
            )
            for index in range(count)
        ]
    )


def test_bounds_at_the_limit_and_one_past() -> None:
    chain = build_chain("intl")

    def check(certificate: types_pb2.CommitCertificate, validators: types_pb2.ValidatorSet) -> None:
        verify_certificate(
            certificate,
            chain_id=CHAIN_ID,
            height=7,
            block_hash=chain.block_hash,
            validators=validators,
            profile=chain.profile,
        )

    def stranger_signatures(count: int) -> types_pb2.CommitCertificate:
        return types_pb2.CommitCertificate(
            height=7,
            block_hash=chain.block_hash,
            signatures=[types_pb2.CommitSignature(validator="org/stranger")] * count,
        )

    # At the limit the bound lets it through to the next rule; one past, the bound refuses.
    with pytest.raises(SignatureError, match="'org/stranger' is not a validator"):
        check(stranger_signatures(CERTIFICATE_SIGNATURES_MAX), chain.validators)
    with pytest.raises(ProofError, match=f"1025 signatures, above {CERTIFICATE_SIGNATURES_MAX}"):
        check(stranger_signatures(CERTIFICATE_SIGNATURES_MAX + 1), chain.validators)
    unsigned = types_pb2.CommitCertificate(height=7, block_hash=chain.block_hash)
    with pytest.raises(SignatureError, match="holds 0 of 1024 voting power"):
        check(unsigned, _many_validators(VALIDATOR_SET_VALIDATORS_MAX))
    with pytest.raises(
        ProofError, match=f"has 1025 validators, above {VALIDATOR_SET_VALIDATORS_MAX}"
    ):
        check(unsigned, _many_validators(VALIDATOR_SET_VALIDATORS_MAX + 1))


def test_the_profile_comes_from_the_data_not_the_process() -> None:
    # One process checks a gm chain (SM2, SM3) and an intl one (P-256, SHA-256) side by side.
    gm = build_chain("gm")
    intl = build_chain("intl")
    assert _check(gm.header, gm.certificate([0, 1, 2]), gm.validators, "gm") == gm.block_hash
    assert _check(intl.header, intl.certificate([0, 1, 2]), intl.validators) == intl.block_hash
    # Checked under the other profile, a set is not the one the header names (another hash)...
    with pytest.raises(ProofError, match="not the one the header of height 7 names"):
        _check(gm.header, gm.certificate([0, 1, 2]), gm.validators, "intl")
    # ... and a profile's keys are refused by the other, however the header was hashed.
    with pytest.raises(ProofError, match="uses 'sm2', which crypto profile 'intl' does not allow"):
        verify_certificate(
            gm.certificate([0, 1, 2]),
            chain_id=CHAIN_ID,
            height=7,
            block_hash=gm.block_hash,
            validators=gm.validators,
            profile=get_profile("intl"),
        )
    assert validator_set("gm", (1,)).validators[0].algorithm == "sm2"


def test_following_the_next_header_and_its_validator_set() -> None:
    # Height 7 names a four-validator set for height 8; a client that trusts 7 checks 8 with it.
    trusted = build_chain("intl", (1, 1, 1), next_powers=(1, 1, 1, 1))
    following = build_chain("intl", (1, 1, 1, 1), height=8)
    following.header.previous_hash = trusted.block_hash
    certificate = following.certificate([0, 1, 3])
    assert (
        verify_adjacent_header(
            trusted.header,
            following.header,
            certificate,
            trusted.next_validators,
            chain_id=CHAIN_ID,
            profile=trusted.profile,
        )
        == following.block_hash
    )
    # The set that signed 7 is not the one 7 names for 8.
    with pytest.raises(ProofError, match="not the next one the header of height 7 names"):
        verify_adjacent_header(
            trusted.header,
            following.header,
            certificate,
            trusted.validators,
            chain_id=CHAIN_ID,
            profile=trusted.profile,
        )
    with pytest.raises(ProofError, match="expected height 8, got 7"):
        verify_adjacent_header(
            trusted.header,
            trusted.header,
            certificate,
            trusted.next_validators,
            chain_id=CHAIN_ID,
            profile=trusted.profile,
        )
    unlinked = build_chain("intl", (1, 1, 1, 1), height=8)
    with pytest.raises(ProofError, match="does not follow the trusted one"):
        verify_adjacent_header(
            trusted.header,
            unlinked.header,
            unlinked.certificate([0, 1, 3]),
            trusted.next_validators,
            chain_id=CHAIN_ID,
            profile=trusted.profile,
        )


# -- trust carried across skipped heights: signers of an earlier trusted set ----------------------


def _set_of(indexes: list[int], profile_name: str = "intl") -> types_pb2.ValidatorSet:
    """Validators with the keys of ``indexes`` (power 1 each): sets that share some members."""
    validators = []
    for index in indexes:
        key = validator_key(profile_name, index)
        validators.append(
            types_pb2.Validator(
                member_id=f"org{index}/validator",
                algorithm=key.algorithm,
                public_key=key.public_key().raw,
                voting_power=1,
            )
        )
    return types_pb2.ValidatorSet(validators=validators)


def _trusted(
    certificate: types_pb2.CommitCertificate,
    trusted: types_pb2.ValidatorSet,
    block_hash: bytes,
    profile_name: str = "intl",
) -> int:
    return verify_trusted_signers(
        certificate,
        chain_id=CHAIN_ID,
        height=7,
        block_hash=block_hash,
        validators=trusted,
        profile=get_profile(profile_name),
    )


def test_a_skip_needs_more_than_a_third_of_the_trusted_set() -> None:
    # The header is signed by validators 0-5; the trusted set is 3-8 (six, power 1 each): of it,
    # only 3, 4 and 5 sign. Two of six is exactly one third; three of six is more.
    chain = build_chain("intl", (1, 1, 1, 1, 1, 1))
    trusted = _set_of([3, 4, 5, 6, 7, 8])
    with pytest.raises(SignatureError, match="holds 2 of the trusted set's 6 voting power"):
        _trusted(chain.certificate([0, 1, 2, 3, 4]), trusted, chain.block_hash)
    # Signers outside the trusted set (0, 1, 2) are skipped, not refused.
    assert _trusted(chain.certificate([0, 1, 2, 3, 4, 5]), trusted, chain.block_hash) == 3


def test_a_skip_is_checked_with_the_keys_of_the_trusted_set() -> None:
    # Validator 3 of the trusted set holds another key than the one that signed (the member
    # changed its key, or a relayer passes a set it made up): its signature does not count.
    chain = build_chain("intl", (1, 1, 1, 1, 1, 1))
    trusted = _set_of([3, 4, 5])
    trusted.validators[0].public_key = validator_key("intl", 9).public_key().raw
    with pytest.raises(SignatureError, match="the signature of 'org3/validator' does not verify"):
        _trusted(chain.certificate([0, 1, 2, 3, 4, 5]), trusted, chain.block_hash)


def test_a_skip_refuses_a_certificate_of_another_block_or_a_double_signer() -> None:
    chain = build_chain("intl", (1, 1, 1))
    trusted = _set_of([0, 1, 2])
    with pytest.raises(ProofError, match="not for the block at height 7"):
        _trusted(chain.certificate([0, 1, 2]), trusted, bytes(32))
    certificate = chain.certificate([0, 1])
    certificate.signatures.append(certificate.signatures[0])
    with pytest.raises(SignatureError, match="'org0/validator' signs the certificate twice"):
        _trusted(certificate, trusted, chain.block_hash)


def test_a_skip_in_gm_uses_sm2_keys_and_the_gm_profile() -> None:
    chain = build_chain("gm", (1, 1, 1))
    trusted = _set_of([1, 2, 3], "gm")
    assert _trusted(chain.certificate([0, 1, 2]), trusted, chain.block_hash, "gm") == 2
    # An intl key in a set checked for a gm chain is a set no gm chain could have.
    with pytest.raises(ProofError, match="which crypto profile 'gm' does not allow"):
        _trusted(chain.certificate([0, 1, 2]), _set_of([1, 2, 3]), chain.block_hash, "gm")
