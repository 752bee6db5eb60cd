from __future__ import annotations

import time

import pytest

from causeway.crypto import PrivateKey, get_profile
from causeway.errors import ConfigurationError
from causeway.sdk import Identity, build_transaction, endorse
from causeway.types import (
    DOMAIN_ENDORSEMENT,
    DOMAIN_TRANSACTION,
    TRANSACTION_VERSION,
    decode,
    sign_bytes,
)
from causeway.types.v1 import types_pb2


def _identity(member_id: str, algorithm: str = "ecdsa-p256") -> Identity:
    profile = "gm" if algorithm == "sm2" else "intl"
    return Identity(member_id, PrivateKey.generate(algorithm), profile, "city")


@pytest.mark.parametrize("algorithm", ["ecdsa-p256", "ed25519", "sm2"])
def test_signature_verifies_over_the_transaction_sign_bytes(algorithm: str) -> None:
    sender = _identity("org1/alice", algorithm)
    transaction = build_transaction(sender, "city", "ledger", "transfer", b"\x01\x02")
    document = sign_bytes(DOMAIN_TRANSACTION, "city", transaction.body)
    assert sender.key.public_key().verify(document, transaction.signature)
    # Bound to the chain and to the domain.
    assert not sender.key.public_key().verify(
        sign_bytes(DOMAIN_TRANSACTION, "other", transaction.body), transaction.signature
    )
    assert not sender.key.public_key().verify(
        sign_bytes(DOMAIN_ENDORSEMENT, "city", transaction.body), transaction.signature
    )


def test_body_fields() -> None:
    sender = _identity("org1/alice")
    before = time.time_ns() // 1_000_000
    first = build_transaction(sender, "city", "ledger", "transfer", b"args", expiry_s=90)
    after = time.time_ns() // 1_000_000
    second = build_transaction(sender, "city", "ledger", "transfer", b"args", expiry_s=90)
    body = decode(types_pb2.TransactionBody, first.body, bytes_max=1 << 20)
    assert body.version == TRANSACTION_VERSION
    assert body.chain_id == "city" and body.sender == "org1/alice"
    assert (body.contract, body.method, body.arguments) == ("ledger", "transfer", b"args")
    assert before <= body.timestamp_ms <= after
    assert body.expiry_ms == body.timestamp_ms + 90_000
    assert len(body.nonce) == 16
    other = decode(types_pb2.TransactionBody, second.body, bytes_max=1 << 20)
    assert other.nonce != body.nonce
    assert get_profile("intl").hash(first.body) != get_profile("intl").hash(second.body)


def test_message_arguments_are_canonically_encoded() -> None:
    sender = _identity("org1/alice")
    arguments = types_pb2.EventAttribute(key="k", value="v")
    transaction = build_transaction(sender, "city", "ledger", "transfer", arguments)
    body = decode(types_pb2.TransactionBody, transaction.body, bytes_max=1 << 20)
    assert body.arguments == arguments.SerializeToString(deterministic=True)


def test_endorsements_verify_over_the_endorsement_sign_bytes() -> None:
    sender = _identity("org1/alice")
    endorsers = [_identity("org2/bob", "ed25519"), _identity("org3/carol")]
    transaction = build_transaction(
        sender, "city", "governance", "add_member", b"m", endorsers=endorsers
    )
    document = sign_bytes(DOMAIN_ENDORSEMENT, "city", transaction.body)
    assert [e.endorser for e in transaction.endorsements] == ["org2/bob", "org3/carol"]
    for endorser, endorsement in zip(endorsers, transaction.endorsements, strict=True):
        assert endorser.key.public_key().verify(document, endorsement.signature)
    late = _identity("org4/dave")
    endorse(transaction, late, "city")
    assert late.key.public_key().verify(document, transaction.endorsements[-1].signature)
    with pytest.raises(ConfigurationError, match="already endorsed"):
        endorse(transaction, late, "city")


@pytest.mark.parametrize(
    ("chain_id", "contract", "method", "expiry_s"),
    [("", "c", "m", 1.0), ("city", "", "m", 1.0), ("city", "c", "", 1.0), ("city", "c", "m", 0)],
)
def test_incomplete_transactions_are_refused(
    chain_id: str, contract: str, method: str, expiry_s: float
) -> None:
    with pytest.raises(ConfigurationError):
        build_transaction(
            _identity("org1/alice"), chain_id, contract, method, b"", expiry_s=expiry_s
        )
