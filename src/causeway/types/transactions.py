"""Building and signing a transaction: what the node (its own evidence reports) and the SDK both
need, so it lives here, below both (DESIGN.md section 1)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from typing import Protocol

from google.protobuf.message import Message

from causeway.errors import ConfigurationError
from causeway.types.encoding import (
    DOMAIN_ENDORSEMENT,
    DOMAIN_TRANSACTION,
    TRANSACTION_VERSION,
    encode,
    sign_bytes,
)
from causeway.types.v1 import types_pb2

NONCE_BYTES = 16
EXPIRY_S_DEFAULT = 60.0


class SigningKey(Protocol):
    def sign(self, data: bytes) -> bytes: ...


class TransactionSigner(Protocol):
    """A member that signs: its id and its private key (the SDK's Identity is one)."""

    @property
    def member_id(self) -> str: ...

    @property
    def key(self) -> SigningKey: ...


def encode_arguments(arguments: Message | bytes) -> bytes:
    """A contract's argument message in its canonical encoding; bytes pass through unchanged."""
    if isinstance(arguments, bytes | bytearray | memoryview):
        return bytes(arguments)
    return encode(arguments)


def build_transaction(
    identity: TransactionSigner,
    chain_id: str,
    contract: str,
    method: str,
    arguments: Message | bytes,
    *,
    expiry_s: float = EXPIRY_S_DEFAULT,
    endorsers: Sequence[TransactionSigner] = (),
    timestamp_ms: int | None = None,
) -> types_pb2.Transaction:
    """A transaction of ``identity`` calling ``contract.method``, signed, with endorsements.

    The body carries 16 random nonce bytes (two identical calls are two transactions), the
    current time and an expiry ``expiry_s`` later. The sender signs
    ``sign_bytes("transaction", chain_id, body)``, each endorser
    ``sign_bytes("endorsement", chain_id, body)``.

    Example:

        admin = Identity.load("net/organisations/org1/members/admin")
        arguments = KvPutArguments(key=b"colour", value=b"blue")
        transaction = build_transaction(admin, client.chain_id(), "kv", "put", arguments)
        client.submit(transaction)
    """
    if not chain_id:
        raise ConfigurationError("a transaction needs the chain id")
    if not contract or not method:
        raise ConfigurationError("a transaction needs a contract and a method")
    if expiry_s <= 0:
        raise ConfigurationError(f"expiry_s must be positive, not {expiry_s}")
    issued_ms = time.time_ns() // 1_000_000 if timestamp_ms is None else timestamp_ms
    body = encode(
        types_pb2.TransactionBody(
            version=TRANSACTION_VERSION,
            chain_id=chain_id,
            nonce=secrets.token_bytes(NONCE_BYTES),
            timestamp_ms=issued_ms,
            expiry_ms=issued_ms + round(expiry_s * 1000),
            contract=contract,
            method=method,
            arguments=encode_arguments(arguments),
            sender=identity.member_id,
        )
    )
    transaction = types_pb2.Transaction(
        body=body,
        signature=identity.key.sign(sign_bytes(DOMAIN_TRANSACTION, chain_id, body)),
    )
    for endorser in endorsers:
        endorse(transaction, endorser, chain_id)
    return transaction


def endorse(transaction: types_pb2.Transaction, endorser: TransactionSigner, chain_id: str) -> None:
    """Adds ``endorser``'s endorsement to ``transaction`` (for endorsers who sign elsewhere).

    Example:

        endorser = Identity.load("net/organisations/org2/members/admin")
        endorse(transaction, endorser, client.chain_id())
        client.submit(transaction)
    """
    if any(existing.endorser == endorser.member_id for existing in transaction.endorsements):
        raise ConfigurationError(f"{endorser.member_id} has already endorsed this transaction")
    transaction.endorsements.append(
        types_pb2.Endorsement(
            endorser=endorser.member_id,
            signature=endorser.key.sign(sign_bytes(DOMAIN_ENDORSEMENT, chain_id, transaction.body)),
        )
    )
