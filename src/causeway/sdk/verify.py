"""Checks of what a node answers against the block header it answers with (``causeway.light``).

The proofs show that a transaction, result, block body or state entry belongs to the header;
they do not show that the header belongs to the chain. Pass ``validators`` (a validator set you
trust for that height, e.g. from ``Client.get_validator_set`` checked against a header you
trust) to ``verify_block`` and the certificate's signatures are checked too
(``causeway.light.verify_header``); otherwise compare the header's hash with a block hash you
trust (your own node, a light client) when the node itself is not trusted.

Each function takes the chain's ``CryptoProfile`` (or, as before, its hash function alone, which
is all a proof needs): the profile is the chain's, not the process's.
"""

from __future__ import annotations

from collections.abc import Sequence

from causeway.api.v1 import api_pb2
from causeway.crypto import CryptoProfile
from causeway.errors import ProofError
from causeway.light import (
    CertificateQuorum,
    validators_by_member,
    verify_block_contents,
    verify_header,
    verify_result,
    verify_state,
    verify_transaction,
    verify_validator_set,
)
from causeway.types import HashFunction, block_hash
from causeway.types.v1 import types_pb2

ProfileOrHash = CryptoProfile | HashFunction


def _profile(profile_or_hash: ProfileOrHash) -> CryptoProfile:
    if isinstance(profile_or_hash, CryptoProfile):
        return profile_or_hash
    # A hash function alone checks every proof; it allows no signature algorithm, so a
    # certificate cannot be checked with it.
    return CryptoProfile(
        name="hash-only", hash=profile_or_hash, algorithms=frozenset(), default_algorithm=""
    )


def verify_transaction_response(
    response: api_pb2.GetTransactionResponse,
    profile: ProfileOrHash,
    *,
    expected_transaction_id: bytes | None = None,
) -> None:
    """ProofError unless the transaction and its result are at ``response.index`` of the lists
    whose roots ``response.header`` carries (and, if given, the transaction has the expected id).

    Example:

        response = client.get_transaction(transaction_id, verify=False)
        verify_transaction_response(
            response, client.profile(), expected_transaction_id=transaction_id
        )
    """
    chain_profile = _profile(profile)
    header = response.header
    if header.height != response.height:
        raise ProofError(f"header is of height {header.height}, not {response.height}")
    identifier = verify_transaction(
        header,
        response.transaction,
        response.transaction_proof,
        chain_profile,
        index=response.index,
    )
    if expected_transaction_id is not None and identifier != expected_transaction_id:
        raise ProofError("the node answered with a different transaction")
    if response.result.transaction_id and response.result.transaction_id != identifier:
        raise ProofError("the result is of a different transaction")
    verify_result(
        header, response.result, response.result_proof, chain_profile, index=response.index
    )


def verify_state_response(
    response: api_pb2.GetStateResponse,
    key: bytes,
    profile: ProfileOrHash,
    *,
    height: int = 0,
) -> None:
    """ProofError unless ``response.proof`` proves the answered value (or its absence, when
    ``found`` is false) for ``key`` against the state root of ``response.header``.

    Example:

        response = client.get_state(key, verify=False)
        verify_state_response(response, key, client.profile())
    """
    header = response.header
    if header.height != response.height:
        raise ProofError(f"header is of height {header.height}, not {response.height}")
    if height and response.height != height:
        raise ProofError(f"asked for height {height}, answered for {response.height}")
    if not response.found and response.value:
        raise ProofError("an absent key was answered with a value")
    value = response.value if response.found else None
    verify_state(header, key, value, response.proof, _profile(profile))


def verify_states_response(
    response: api_pb2.GetStatesResponse,
    keys: Sequence[bytes],
    profile: ProfileOrHash,
    *,
    height: int = 0,
) -> None:
    """ProofError unless the answer holds, for each key asked and in the order asked, a value
    (or absence) proven against the state root of ``response.header``.

    Example:

        response = client.get_states(keys, verify=False)
        verify_states_response(response, keys, client.profile())
    """
    chain_profile = _profile(profile)
    header = response.header
    if header.height != response.height:
        raise ProofError(f"header is of height {header.height}, not {response.height}")
    if height and response.height != height:
        raise ProofError(f"asked for height {height}, answered for {response.height}")
    if len(response.entries) != len(keys):
        raise ProofError(f"asked for {len(keys)} keys, answered {len(response.entries)}")
    for index, (key, entry) in enumerate(zip(keys, response.entries, strict=True)):
        if entry.key != key:
            raise ProofError(f"entry {index} answers for another key than the one asked")
        if not entry.found and entry.value:
            raise ProofError(f"entry {index}: an absent key was answered with a value")
        value = entry.value if entry.found else None
        verify_state(header, key, value, entry.proof, chain_profile)


def verify_validator_set_response(
    response: api_pb2.GetValidatorSetResponse, profile: CryptoProfile, *, height: int = 0
) -> None:
    """ProofError unless the set is the one ``response.header`` names (validator_set_hash) and
    its keys are of the chain's profile. It proves the set only as far as you trust the header:
    check that with a certificate (``verify_block`` with a set you already trust).

    Example:

        response = client.get_validator_set(42, verify=False)
        verify_validator_set_response(response, client.profile(), height=42)
    """
    header = response.header
    if header.height != response.height:
        raise ProofError(f"header is of height {header.height}, not {response.height}")
    if height and response.height != height:
        raise ProofError(f"asked for height {height}, answered for {response.height}")
    if not 1 <= response.from_height <= response.height:
        raise ProofError(
            f"a set first signing at height {response.from_height} cannot sign height "
            f"{response.height}"
        )
    verify_validator_set(header, response.validator_set, profile)
    validators_by_member(response.validator_set, profile)


def verify_block(
    block: types_pb2.Block,
    certificate: types_pb2.CommitCertificate,
    results: Sequence[types_pb2.TransactionResult],
    profile: ProfileOrHash,
    *,
    validators: types_pb2.ValidatorSet | None = None,
    chain_id: str | None = None,
    quorum: CertificateQuorum = CertificateQuorum.MORE_THAN_TWO_THIRDS,
) -> None:
    """ProofError unless the transactions and results are those the header's roots commit to and
    the certificate is for this block. With ``validators`` (the set you trust for the block's
    height) the certificate must also hold ``quorum`` of it (SignatureError otherwise), and
    the header must be of ``chain_id`` (when given; WrongChainError otherwise); without
    ``validators``, the signatures are not checked.

    Example:

        response = client.get_block(42, verify=False)
        verify_block(
            response.block,
            response.certificate,
            list(response.results),
            client.profile(),
            validators=trusted_set,
            chain_id=client.chain_id(),
        )
    """
    chain_profile = _profile(profile)
    verify_block_contents(block, results, chain_profile)
    verify_signed_header(
        block.header,
        certificate,
        chain_profile,
        validators=validators,
        chain_id=chain_id,
        quorum=quorum,
    )


def verify_signed_header(
    header: types_pb2.BlockHeader,
    certificate: types_pb2.CommitCertificate,
    profile: ProfileOrHash,
    *,
    validators: types_pb2.ValidatorSet | None = None,
    chain_id: str | None = None,
    quorum: CertificateQuorum = CertificateQuorum.MORE_THAN_TWO_THIRDS,
) -> None:
    """The certificate part of ``verify_block``, for a header read without its body
    (``Client.get_header``): ProofError unless the certificate is for this header's height and
    hash; with ``validators``, SignatureError unless it also holds ``quorum`` of them (and
    WrongChainError unless the header is of ``chain_id``, when given).

    Example:

        response = client.get_header(42)
        verify_signed_header(
            response.block.header,
            response.certificate,
            client.profile(),
            validators=trusted_set,
            chain_id=client.chain_id(),
        )
    """
    chain_profile = _profile(profile)
    if validators is not None:
        verify_header(
            header,
            certificate,
            chain_id=header.chain_id if chain_id is None else chain_id,
            validators=validators,
            profile=chain_profile,
            quorum=quorum,
        )
    elif certificate.height != header.height or certificate.block_hash != block_hash(
        header, chain_profile.hash
    ):
        raise ProofError(f"the certificate is not for block {header.height}")


def verify_header_response(
    response: api_pb2.GetBlockResponse, profile: ProfileOrHash, *, height: int = 0
) -> None:
    """ProofError unless the answer to a header-only GetBlock is of ``height`` (when not 0) and
    its certificate is for its header (``verify_signed_header``). A body, if there is one, is not
    checked: for that, read the whole block (``verify_block``).

    Example:

        response = client.get_header(42, verify=False)
        verify_header_response(response, client.profile(), height=42)
    """
    header = response.block.header
    if height and header.height != height:
        raise ProofError(f"asked for height {height}, answered for {header.height}")
    verify_signed_header(header, response.certificate, profile)
