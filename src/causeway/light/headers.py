"""Headers and validator sets: what a light client checks before it trusts a header's roots.

A header is trusted when a certificate for its hash holds the quorum of the validator set the
client already trusts for its height (``verify_header``). A validator set is the one a header
names when its canonical encoding hashes to the header's ``validator_set_hash`` (the set that
signs this height) or ``next_validator_set_hash`` (the set that signs the next one): that is how a
client that trusts height h learns the set of h + 1 without trusting whoever sent it.
"""

from __future__ import annotations

from causeway.crypto import CryptoProfile
from causeway.errors import ProofError, WrongChainError
from causeway.light.certificates import CertificateQuorum, verify_certificate
from causeway.types import BLOCK_VERSION, block_hash, encode
from causeway.types.v1 import types_pb2

HASH_BYTES = 32


def validator_set_hash(validators: types_pb2.ValidatorSet, profile: CryptoProfile) -> bytes:
    """The hash a header carries for ``validators``: the profile's hash of its encoding."""
    return profile.hash(encode(validators))


def verify_validator_set(
    header: types_pb2.BlockHeader, validators: types_pb2.ValidatorSet, profile: CryptoProfile
) -> None:
    """ProofError unless ``validators`` is the set that signs ``header``'s height."""
    if validator_set_hash(validators, profile) != header.validator_set_hash:
        raise ProofError(
            f"the validator set is not the one the header of height {header.height} names"
        )


def verify_next_validator_set(
    header: types_pb2.BlockHeader, validators: types_pb2.ValidatorSet, profile: CryptoProfile
) -> None:
    """ProofError unless ``validators`` is the set that signs the height after ``header``."""
    if validator_set_hash(validators, profile) != header.next_validator_set_hash:
        raise ProofError(
            f"the validator set is not the next one the header of height {header.height} names"
        )


def check_header_shape(header: types_pb2.BlockHeader, *, chain_id: str) -> None:
    """WrongChainError or ProofError for a header no block of ``chain_id`` could have."""
    if header.chain_id != chain_id:
        raise WrongChainError(f"the header is for {header.chain_id!r}, not {chain_id!r}")
    if header.version != BLOCK_VERSION:
        raise ProofError(f"unknown block version {header.version}")
    if header.height < 1:
        raise ProofError("a header's height starts at 1")
    for name in (
        "transactions_root",
        "results_root",
        "state_root",
        "validator_set_hash",
        "next_validator_set_hash",
    ):
        length = len(getattr(header, name))
        if length != HASH_BYTES:
            raise ProofError(f"the header's {name} is {length} bytes, not {HASH_BYTES}")


def verify_header(
    header: types_pb2.BlockHeader,
    certificate: types_pb2.CommitCertificate,
    *,
    chain_id: str,
    validators: types_pb2.ValidatorSet,
    profile: CryptoProfile,
    quorum: CertificateQuorum = CertificateQuorum.MORE_THAN_TWO_THIRDS,
) -> bytes:
    """The header's hash once ``certificate`` proves it committed on ``chain_id``.

    ``validators`` is the set the client trusts for the header's height (from the trusted
    header before it, by ``verify_next_validator_set``); it must also be the set the header
    names. Raises WrongChainError, ProofError or SignatureError naming the first thing that
    does not hold. Only the header is checked: its roots then prove the rest (causeway.light
    proofs).
    """
    check_header_shape(header, chain_id=chain_id)
    verify_validator_set(header, validators, profile)
    own_hash = block_hash(header, profile.hash)
    verify_certificate(
        certificate,
        chain_id=chain_id,
        height=header.height,
        block_hash=own_hash,
        validators=validators,
        profile=profile,
        quorum=quorum,
    )
    return own_hash


def verify_adjacent_header(
    trusted: types_pb2.BlockHeader,
    header: types_pb2.BlockHeader,
    certificate: types_pb2.CommitCertificate,
    validators: types_pb2.ValidatorSet,
    *,
    chain_id: str,
    profile: CryptoProfile,
    quorum: CertificateQuorum = CertificateQuorum.MORE_THAN_TWO_THIRDS,
) -> bytes:
    """The hash of ``header``, the height after a header the client already trusts, once it
    follows that header and ``certificate`` holds ``quorum`` of ``validators``, which must be
    the next set the trusted header names (how a client follows validator-set changes)."""
    if header.height != trusted.height + 1:
        raise ProofError(f"expected height {trusted.height + 1}, got {header.height}")
    if header.previous_hash != block_hash(trusted, profile.hash):
        raise ProofError(f"the header of height {header.height} does not follow the trusted one")
    verify_next_validator_set(trusted, validators, profile)
    return verify_header(
        header,
        certificate,
        chain_id=chain_id,
        validators=validators,
        profile=profile,
        quorum=quorum,
    )
