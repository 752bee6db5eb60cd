"""Commit certificates: which validators signed a block, and whether that is enough.

A certificate commits one block hash at one height: its signatures are over
``sign_bytes("commit", chain_id, encode(CommitVote{height, round, block_hash}))`` (the chain id
binds them to one chain: a certificate of another chain verifies nowhere else). It proves the block
committed when the signers are distinct validators of the set in effect at that height, every
signature verifies with the key that set names, and together they hold the quorum the chain's
consensus asks for (docs/light-client.md):

- tbft (and solo, whose one validator holds all the power): more than two thirds of the voting
  power, ``3 * signed > 2 * total``; exactly two thirds is not enough.
- raft: more than half, ``2 * signed > total`` (crash-fault model: the members trust one
  another's nodes, and a raft certificate says that a majority of the voters' nodes stored and
  signed the block, not that a third of them could not lie).

Nothing here reads the process's configuration: the hash function and the allowed signature
algorithms come from the ``CryptoProfile`` the caller names for the chain being checked, so an
intl process checks a gm chain and the reverse.
"""

from __future__ import annotations

import enum

from causeway.crypto import CryptoProfile, PublicKey, load_public_key
from causeway.errors import CausewayError, ProofError, SignatureError
from causeway.types import DOMAIN_COMMIT, encode, sign_bytes
from causeway.types.v1 import types_pb2

# Bounds what one certificate or set may make a verifier do (the validators contract allows 128).
CERTIFICATE_SIGNATURES_MAX = 1024
VALIDATOR_SET_VALIDATORS_MAX = 1024


class CertificateQuorum(enum.Enum):
    """What a commit certificate must hold to prove a block committed."""

    MORE_THAN_TWO_THIRDS = "more_than_two_thirds"
    """Byzantine fault tolerant engines (tbft; solo, whose one validator holds all power)."""
    MORE_THAN_HALF = "more_than_half"
    """Raft, whose certificates are gathered after commit from a majority of its voters."""
    ANY_VALIDATOR = "any_validator"
    """One validator's signature: only for the members of a raft chain syncing blocks from one
    another (they trust each other's nodes); never enough for a light client."""
    MORE_THAN_ONE_THIRD = "more_than_one_third"
    """Trust carried over a skipped stretch of heights (``verify_trusted_signers``): at least
    one honest validator of a set trusted earlier signed, if fewer than a third of it lie."""

    def is_reached(self, signed_power: int, total_power: int) -> bool:
        """Whether ``signed_power`` of ``total_power`` is this quorum (integers, no rounding)."""
        if self is CertificateQuorum.MORE_THAN_TWO_THIRDS:
            return 3 * signed_power > 2 * total_power
        if self is CertificateQuorum.MORE_THAN_HALF:
            return 2 * signed_power > total_power
        if self is CertificateQuorum.MORE_THAN_ONE_THIRD:
            return 3 * signed_power > total_power
        return signed_power > 0

    @property
    def description(self) -> str:
        return {
            CertificateQuorum.MORE_THAN_TWO_THIRDS: "more than two thirds",
            CertificateQuorum.MORE_THAN_HALF: "more than half",
            CertificateQuorum.ANY_VALIDATOR: "any",
            CertificateQuorum.MORE_THAN_ONE_THIRD: "more than one third",
        }[self]


def certificate_quorum(consensus: str) -> CertificateQuorum:
    """The quorum a light client asks of a chain whose genesis names ``consensus``."""
    if consensus == "raft":
        return CertificateQuorum.MORE_THAN_HALF
    if consensus in ("tbft", "solo"):
        return CertificateQuorum.MORE_THAN_TWO_THIRDS
    raise ProofError(f"unknown consensus {consensus!r}: no certificate rule for it")


def commit_sign_bytes(chain_id: str, height: int, round_number: int, block_hash: bytes) -> bytes:
    """What each validator signs to commit ``block_hash`` at ``height``."""
    vote = types_pb2.CommitVote(height=height, round=round_number, block_hash=block_hash)
    return sign_bytes(DOMAIN_COMMIT, chain_id, encode(vote))


def total_voting_power(validators: types_pb2.ValidatorSet) -> int:
    return sum(validator.voting_power for validator in validators.validators)


def validators_by_member(
    validators: types_pb2.ValidatorSet, profile: CryptoProfile
) -> dict[str, types_pb2.Validator]:
    """The set by member id; ProofError for a set no chain of ``profile`` could have (too many
    validators, a member twice, an algorithm the profile does not allow)."""
    count = len(validators.validators)
    if count > VALIDATOR_SET_VALIDATORS_MAX:
        raise ProofError(
            f"the validator set has {count} validators, above {VALIDATOR_SET_VALIDATORS_MAX}"
        )
    by_member: dict[str, types_pb2.Validator] = {}
    for validator in validators.validators:
        if validator.member_id in by_member:
            raise ProofError(f"the validator set names {validator.member_id!r} twice")
        if validator.algorithm not in profile.algorithms:
            raise ProofError(
                f"validator {validator.member_id!r} uses {validator.algorithm!r}, which crypto "
                f"profile {profile.name!r} does not allow"
            )
        by_member[validator.member_id] = validator
    return by_member


def validator_key(validator: types_pb2.Validator) -> PublicKey:
    try:
        return load_public_key(validator.algorithm, validator.public_key)
    except CausewayError as error:
        raise SignatureError(
            f"validator {validator.member_id!r} has an unusable key: {error.message}"
        ) from None


def verify_certificate(
    certificate: types_pb2.CommitCertificate,
    *,
    chain_id: str,
    height: int,
    block_hash: bytes,
    validators: types_pb2.ValidatorSet,
    profile: CryptoProfile,
    quorum: CertificateQuorum = CertificateQuorum.MORE_THAN_TWO_THIRDS,
) -> int:
    """The signed voting power, once ``certificate`` commits ``block_hash`` at ``height`` of
    ``chain_id`` with ``quorum`` of ``validators`` (the set in effect at that height).

    ProofError for a certificate of another block or a malformed set; SignatureError naming the
    first signer that is not a validator, signs twice or does not verify, or the power held when
    it is not the quorum. Signers and power are checked before any signature, so a certificate
    that could never be enough costs no signature verification.
    """
    if certificate.height != height or certificate.block_hash != block_hash:
        raise ProofError(f"the certificate is not for the block at height {height}")
    count = len(certificate.signatures)
    if count > CERTIFICATE_SIGNATURES_MAX:
        raise ProofError(
            f"the certificate at height {height} has {count} signatures, above "
            f"{CERTIFICATE_SIGNATURES_MAX}"
        )
    by_member = validators_by_member(validators, profile)
    total_power = total_voting_power(validators)
    if total_power <= 0:
        raise SignatureError(f"no voting power at height {height}")
    signers: list[types_pb2.Validator] = []
    seen: set[str] = set()
    for entry in certificate.signatures:
        validator = by_member.get(entry.validator)
        if validator is None:
            raise SignatureError(f"{entry.validator!r} is not a validator at height {height}")
        if entry.validator in seen:
            raise SignatureError(f"{entry.validator!r} signs the certificate twice")
        seen.add(entry.validator)
        signers.append(validator)
    signed_power = sum(validator.voting_power for validator in signers)
    if not quorum.is_reached(signed_power, total_power):
        raise SignatureError(
            f"the certificate at height {height} holds {signed_power} of {total_power} voting"
            f" power, not {quorum.description}"
        )
    document = commit_sign_bytes(chain_id, height, certificate.round, block_hash)
    for validator, entry in zip(signers, certificate.signatures, strict=True):
        if not validator_key(validator).verify(document, entry.signature):
            raise SignatureError(f"the signature of {entry.validator!r} does not verify")
    return signed_power


def trusted_signers(
    certificate: types_pb2.CommitCertificate,
    validators: types_pb2.ValidatorSet,
    profile: CryptoProfile,
) -> list[tuple[types_pb2.Validator, bytes]]:
    """The signatures of ``certificate`` made by members of ``validators`` (a set trusted from an
    earlier header), each with the record that set keeps for its signer; signers outside the set
    are left out (the set may have changed since). ProofError for a malformed set or too many
    signatures, SignatureError for a member that signs twice. No signature is verified here:
    callers count (and charge for) what ``verify_trusted_signers`` will check."""
    count = len(certificate.signatures)
    if count > CERTIFICATE_SIGNATURES_MAX:
        raise ProofError(
            f"the certificate at height {certificate.height} has {count} signatures, above "
            f"{CERTIFICATE_SIGNATURES_MAX}"
        )
    by_member = validators_by_member(validators, profile)
    signers: list[tuple[types_pb2.Validator, bytes]] = []
    seen: set[str] = set()
    for entry in certificate.signatures:
        if entry.validator in seen:
            raise SignatureError(f"{entry.validator!r} signs the certificate twice")
        seen.add(entry.validator)
        validator = by_member.get(entry.validator)
        if validator is not None:
            signers.append((validator, entry.signature))
    return signers


def verify_trusted_signers(
    certificate: types_pb2.CommitCertificate,
    *,
    chain_id: str,
    height: int,
    block_hash: bytes,
    validators: types_pb2.ValidatorSet,
    profile: CryptoProfile,
    quorum: CertificateQuorum = CertificateQuorum.MORE_THAN_ONE_THIRD,
) -> int:
    """The voting power of ``validators`` that signed ``certificate``, once it holds ``quorum``
    of that set's power (more than one third by default).

    How a light client carries trust across heights it skipped (IBC's trusting verification):
    ``validators`` is the set an already trusted header named as next, and the certificate's own
    set (checked with ``verify_certificate``) may differ from it. Signers outside ``validators``
    are skipped, not refused; each counted signature is verified with the key ``validators``
    names for its signer (a member may have changed its key since). Power is counted before any
    signature is verified, so a certificate that could never be enough costs no verification.
    ProofError for a certificate of another block or a malformed set; SignatureError naming a
    signature that does not verify, or the power held when it is not the quorum.
    """
    if certificate.height != height or certificate.block_hash != block_hash:
        raise ProofError(f"the certificate is not for the block at height {height}")
    signers = trusted_signers(certificate, validators, profile)
    total_power = total_voting_power(validators)
    if total_power <= 0:
        raise SignatureError("the trusted validator set has no voting power")
    signed_power = sum(validator.voting_power for validator, _ in signers)
    if not quorum.is_reached(signed_power, total_power):
        raise SignatureError(
            f"the certificate at height {height} holds {signed_power} of the trusted set's "
            f"{total_power} voting power, not {quorum.description}"
        )
    document = commit_sign_bytes(chain_id, height, certificate.round, block_hash)
    for validator, signature in signers:
        if not validator_key(validator).verify(document, signature):
            raise SignatureError(f"the signature of {validator.member_id!r} does not verify")
    return signed_power
