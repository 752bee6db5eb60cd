"""Every equality the light client checks, refused with a wrong value on both sides of the right
one (smaller and larger), and every boundary at its edge: a check that only refuses one side
(``!=`` weakened to ``<`` or ``>``) or an edge moved by one fails here.

Three mutants of causeway.light no test can kill, as no input tells them apart: ``total_power <= 0``
as ``== 0`` and ``signed_power > 0`` as ``!= 0`` (sums of uint64 voting powers are never
negative), and ``zip(..., strict=False)`` over the signers and signatures (one signer is appended
per signature, or the loop raises, so the lengths are always equal)."""

from __future__ import annotations

import re

import pytest
from light_support import CHAIN_ID, LightChain, build_chain

from causeway.errors import ProofError, SignatureError, WrongChainError
from causeway.light import (
    CertificateQuorum,
    check_header_shape,
    verify_adjacent_header,
    verify_block_contents,
    verify_certificate,
    verify_header,
    verify_next_validator_set,
    verify_result,
    verify_transaction,
    verify_validator_set,
)
from causeway.types import BLOCK_VERSION, encode, merkle_root
from causeway.types.v1 import types_pb2

TWO_THIRDS = CertificateQuorum.MORE_THAN_TWO_THIRDS
HALF = CertificateQuorum.MORE_THAN_HALF
SIDES = pytest.mark.parametrize("step", [-1, 1], ids=["smaller", "larger"])
HEADER_HASH_FIELDS = (
    "transactions_root",
    "results_root",
    "state_root",
    "validator_set_hash",
    "next_validator_set_hash",
)


def shifted(value: bytes, step: int) -> bytes:
    """``value`` read as a big-endian number, moved by ``step``: the nearest wrong value on one
    side, of the same length (a hash is never all zeros or all ones in practice)."""
    number = int.from_bytes(value, "big") + step
    assert 0 <= number < 1 << (8 * len(value))
    return number.to_bytes(len(value), "big")


def copy_header(header: types_pb2.BlockHeader) -> types_pb2.BlockHeader:
    copy = types_pb2.BlockHeader()
    copy.CopyFrom(header)
    return copy


def check_certificate(
    chain: LightChain,
    certificate: types_pb2.CommitCertificate,
    quorum: CertificateQuorum = TWO_THIRDS,
) -> int:
    return verify_certificate(
        certificate,
        chain_id=CHAIN_ID,
        height=chain.header.height,
        block_hash=chain.block_hash,
        validators=chain.validators,
        profile=chain.profile,
        quorum=quorum,
    )


# Certificates.


@SIDES
def test_a_certificate_for_another_block_hash_is_refused(step: int) -> None:
    # The signatures are over the right hash: only the certificate's own block_hash is wrong, so
    # nothing but the block hash check can refuse it.
    chain = build_chain("intl")
    certificate = chain.certificate([0, 1, 2])
    certificate.block_hash = shifted(chain.block_hash, step)
    with pytest.raises(ProofError, match="the certificate is not for the block at height 7"):
        check_certificate(chain, certificate)


@pytest.mark.parametrize("height", [6, 8], ids=["lower", "higher"])
def test_a_certificate_for_another_height_is_refused(height: int) -> None:
    # Signed over height 7, as the block is: only the certificate's own height is wrong.
    chain = build_chain("intl")
    certificate = chain.certificate([0, 1, 2])
    certificate.height = height
    with pytest.raises(ProofError, match="the certificate is not for the block at height 7"):
        check_certificate(chain, certificate)


@pytest.mark.parametrize("quorum", [TWO_THIRDS, HALF])
def test_one_validator_of_power_one_is_enough_power(quorum: CertificateQuorum) -> None:
    # The smallest set with any power: a total of 1 is power, not "no voting power".
    chain = build_chain("intl", (1,))
    assert check_certificate(chain, chain.certificate([0]), quorum) == 1
    assert (
        verify_header(
            chain.header,
            chain.certificate([0]),
            chain_id=CHAIN_ID,
            validators=chain.validators,
            profile=chain.profile,
            quorum=quorum,
        )
        == chain.block_hash
    )


@pytest.mark.parametrize(
    ("powers", "signers", "signed", "total"),
    [
        ((1, 1), [0], 1, 2),  # exactly half of two equal voters
        ((1, 1, 1), [2], 1, 3),
        ((2, 1, 1), [0], 2, 4),  # exactly half by weight
        ((1, 1, 1, 1, 1), [0, 4], 2, 5),
    ],
)
def test_half_or_less_is_not_a_majority(
    powers: tuple[int, ...], signers: list[int], signed: int, total: int
) -> None:
    chain = build_chain("intl", powers)
    assert HALF.is_reached(signed, total) is False
    with pytest.raises(
        SignatureError,
        match=f"holds {signed} of {total} voting power, not more than half",
    ):
        check_certificate(chain, chain.certificate(signers), HALF)


@pytest.mark.parametrize(
    ("powers", "signers", "signed"),
    [
        ((1, 1), [0, 1], 2),  # the only majority of two
        ((1, 1, 1), [0, 2], 2),
        ((2, 1, 1), [0, 1], 3),  # one unit of power over half
        ((1, 1, 1, 1, 1), [0, 1, 4], 3),
    ],
)
def test_just_over_half_is_a_majority(
    powers: tuple[int, ...], signers: list[int], signed: int
) -> None:
    chain = build_chain("intl", powers)
    assert check_certificate(chain, chain.certificate(signers), HALF) == signed


# Header shape.


def check_shape(header: types_pb2.BlockHeader) -> None:
    check_header_shape(header, chain_id=CHAIN_ID)


@pytest.mark.parametrize("chain_id", ["light-tess", "light-tesu"], ids=["smaller", "larger"])
def test_a_header_of_another_chain_is_refused(chain_id: str) -> None:
    header = copy_header(build_chain("intl").header)
    header.chain_id = chain_id
    with pytest.raises(WrongChainError, match=f"the header is for '{chain_id}', not '{CHAIN_ID}'"):
        check_shape(header)


@SIDES
def test_a_header_of_another_version_is_refused(step: int) -> None:
    header = copy_header(build_chain("intl").header)
    header.version = BLOCK_VERSION + step
    with pytest.raises(ProofError, match=f"unknown block version {BLOCK_VERSION + step}$"):
        check_shape(header)


@pytest.mark.parametrize("name", HEADER_HASH_FIELDS)
@pytest.mark.parametrize("length", [31, 33], ids=["shorter", "longer"])
def test_a_header_hash_of_another_length_is_refused(name: str, length: int) -> None:
    header = copy_header(build_chain("intl").header)
    setattr(header, name, bytes(range(length)))
    with pytest.raises(ProofError, match=f"the header's {name} is {length} bytes, not 32"):
        check_shape(header)


def test_height_zero_is_refused_though_signed() -> None:
    # A well-formed header of height 0 with a certificate of its validators: only the height
    # rule refuses it.
    chain = build_chain("intl", height=0)
    with pytest.raises(ProofError, match="a header's height starts at 1"):
        check_shape(chain.header)
    with pytest.raises(ProofError, match="a header's height starts at 1"):
        verify_header(
            chain.header,
            chain.certificate([0, 1, 2]),
            chain_id=CHAIN_ID,
            validators=chain.validators,
            profile=chain.profile,
        )


def test_height_one_is_accepted() -> None:
    chain = build_chain("intl", height=1)
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


# Validator sets against a header.


@SIDES
def test_a_header_naming_another_validator_set_refuses_it(step: int) -> None:
    chain = build_chain("intl")
    header = copy_header(chain.header)
    header.validator_set_hash = shifted(chain.header.validator_set_hash, step)
    with pytest.raises(ProofError, match="the validator set is not the one the header of height 7"):
        verify_validator_set(header, chain.validators, chain.profile)


@SIDES
def test_a_header_naming_another_next_validator_set_refuses_it(step: int) -> None:
    chain = build_chain("intl", next_powers=(1, 1, 1, 1))
    header = copy_header(chain.header)
    header.next_validator_set_hash = shifted(chain.header.next_validator_set_hash, step)
    with pytest.raises(
        ProofError, match="the validator set is not the next one the header of height 7 names"
    ):
        verify_next_validator_set(header, chain.next_validators, chain.profile)


# Following the next header.


def following_header(
    trusted: LightChain, *, height: int = 8, previous_hash: bytes | None = None
) -> LightChain:
    """A header signed by the set ``trusted`` names next, linked to it unless told otherwise:
    every rule but the one under test holds."""
    following = build_chain("intl", (1, 1, 1, 1), height=height)
    following.header.previous_hash = trusted.block_hash if previous_hash is None else previous_hash
    return following


def follow(trusted: LightChain, following: LightChain) -> bytes:
    return verify_adjacent_header(
        trusted.header,
        following.header,
        following.certificate([0, 1, 3]),
        trusted.next_validators,
        chain_id=CHAIN_ID,
        profile=trusted.profile,
    )


def test_the_following_header_is_accepted() -> None:
    trusted = build_chain("intl", next_powers=(1, 1, 1, 1))
    following = following_header(trusted)
    assert follow(trusted, following) == following.block_hash


@pytest.mark.parametrize("height", [6, 7, 9], ids=["lower", "same", "higher"])
def test_a_following_header_of_another_height_is_refused(height: int) -> None:
    trusted = build_chain("intl", next_powers=(1, 1, 1, 1))
    with pytest.raises(ProofError, match=f"expected height 8, got {height}$"):
        follow(trusted, following_header(trusted, height=height))


@SIDES
def test_a_following_header_with_another_previous_hash_is_refused(step: int) -> None:
    trusted = build_chain("intl", next_powers=(1, 1, 1, 1))
    following = following_header(trusted, previous_hash=shifted(trusted.block_hash, step))
    with pytest.raises(ProofError, match="the header of height 8 does not follow the trusted one"):
        follow(trusted, following)


# Transaction and result proofs.


def verify_proof(
    chain: LightChain, name: str, position: int, proof: types_pb2.MerkleProof, index: int | None
) -> None:
    """The transaction or result at ``position``, checked with ``proof``."""
    if name == "transaction":
        verify_transaction(
            chain.header, chain.block.transactions[position], proof, chain.profile, index=index
        )
    else:
        verify_result(chain.header, chain.results[position], proof, chain.profile, index=index)


def proof_of(chain: LightChain, name: str, position: int) -> types_pb2.MerkleProof:
    if name == "transaction":
        return chain.transaction_proof(position)
    return chain.result_proof(position)


@pytest.mark.parametrize("name", ["transaction", "result"])
@pytest.mark.parametrize(
    ("position", "index"), [(0, 1), (2, 1)], ids=["proof-smaller", "proof-larger"]
)
def test_a_proof_for_another_position_is_refused(name: str, position: int, index: int) -> None:
    # A sound proof of the item at ``position``: it only fails to be at the ``index`` asked for.
    chain = build_chain("intl", transactions=3)
    verify_proof(chain, name, position, proof_of(chain, name, position), None)
    with pytest.raises(
        ProofError, match=f"the {name} proof is for position {position}, not {index}$"
    ):
        verify_proof(chain, name, position, proof_of(chain, name, position), index)


@pytest.mark.parametrize("name", ["transaction", "result"])
@SIDES
def test_a_proof_for_a_list_of_another_length_is_refused(name: str, step: int) -> None:
    chain = build_chain("intl", transactions=3)
    proof = proof_of(chain, name, 1)
    proof.total = 3 + step
    with pytest.raises(
        ProofError,
        match=f"the {name} proof is for a list of {3 + step}; the header of height 7 counts 3 "
        "transactions",
    ):
        verify_proof(chain, name, 1, proof, 1)


# Whole block bodies.


def block_with_header(chain: LightChain, header: types_pb2.BlockHeader) -> types_pb2.Block:
    return types_pb2.Block(header=header, transactions=chain.block.transactions)


@SIDES
def test_a_block_with_another_transaction_count_is_refused(step: int) -> None:
    # The header's count and its root agree with each other, not with the body.
    chain = build_chain("intl", transactions=3)
    other = build_chain("intl", transactions=3 + step)
    block = block_with_header(other, chain.header)
    with pytest.raises(
        ProofError,
        match=re.escape(f"the block at height 7 has {3 + step} transactions; its header counts 3"),
    ):
        verify_block_contents(block, None, chain.profile)


@SIDES
def test_a_header_with_another_transactions_root_is_refused(step: int) -> None:
    chain = build_chain("intl", transactions=3)
    header = copy_header(chain.header)
    header.transactions_root = shifted(chain.header.transactions_root, step)
    with pytest.raises(
        ProofError, match="the transactions of height 7 do not match transactions_root"
    ):
        verify_block_contents(block_with_header(chain, header), None, chain.profile)


@SIDES
def test_results_of_another_count_are_refused(step: int) -> None:
    chain = build_chain("intl", transactions=3)
    extra = types_pb2.TransactionResult(
        transaction_id=chain.profile.hash(b"another"), status=types_pb2.RESULT_STATUS_OK
    )
    results = chain.results[:2] if step < 0 else [*chain.results, extra]
    # The header commits to these very results, so only the count can refuse them.
    header = copy_header(chain.header)
    header.results_root = merkle_root([encode(result) for result in results], chain.profile.hash)
    with pytest.raises(
        ProofError, match=f"the block at height 7 has 3 transactions and {3 + step} results"
    ):
        verify_block_contents(block_with_header(chain, header), results, chain.profile)


@SIDES
def test_a_header_with_another_results_root_is_refused(step: int) -> None:
    chain = build_chain("intl", transactions=3)
    header = copy_header(chain.header)
    header.results_root = shifted(chain.header.results_root, step)
    block = block_with_header(chain, header)
    # The transactions still match: the results are what the header refuses.
    assert len(verify_block_contents(block, None, chain.profile)) == 3
    with pytest.raises(ProofError, match="the results of height 7 do not match results_root"):
        verify_block_contents(block, chain.results, chain.profile)
