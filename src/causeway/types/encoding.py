"""The one canonical byte form of every signed or hashed message, and the ids derived from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Message
from google.protobuf.unknown_fields import UnknownFieldSet

from causeway.errors import DecodeError, LimitExceededError, NotCanonicalError
from causeway.types.v1 import types_pb2

HashFunction = Callable[[bytes], bytes]
MessageT = TypeVar("MessageT", bound=Message)

SIGN_DOCUMENT_VERSION = 1
TRANSACTION_VERSION = 1
BLOCK_VERSION = 1

DOMAIN_TRANSACTION = "transaction"
DOMAIN_ENDORSEMENT = "endorsement"
DOMAIN_COMMIT = "commit"
DOMAIN_CREDENTIAL = "credential"


def encode(message: Message) -> bytes:
    """The canonical encoding: deterministic protobuf serialisation."""
    return message.SerializeToString(deterministic=True)


def decode(message_type: type[MessageT], data: bytes, *, bytes_max: int) -> MessageT:
    """Decodes untrusted bytes, accepting only the canonical encoding of a message.

    Re-encoding must give back the input byte for byte: this rejects unknown fields, duplicated
    fields, non-minimal varints and out-of-order fields, so that one message has exactly one
    byte form and therefore exactly one hash.
    """
    if len(data) > bytes_max:
        raise LimitExceededError(
            f"{message_type.DESCRIPTOR.name} is {len(data)} bytes, above the limit of {bytes_max}"
        )
    message = message_type()
    try:
        message.ParseFromString(data)
    except (ProtobufDecodeError, RuntimeError, ValueError) as error:
        raise DecodeError(f"not a valid {message_type.DESCRIPTOR.name}: {error}") from None
    # The parser keeps unknown fields and would re-encode them verbatim; dropping them first makes
    # the comparison below reject them (and anything else outside the one canonical form).
    message.DiscardUnknownFields()
    if encode(message) != data:
        raise NotCanonicalError(f"{message_type.DESCRIPTOR.name} is not canonically encoded")
    return message


def sign_bytes(domain: str, chain_id: str, payload: bytes) -> bytes:
    """The bytes a signature covers: domain-separated and bound to one chain."""
    return encode(
        types_pb2.SignDocument(
            version=SIGN_DOCUMENT_VERSION, domain=domain, chain_id=chain_id, payload=payload
        )
    )


def transaction_id(body: bytes, hash_function: HashFunction) -> bytes:
    """A transaction's id is the hash of its encoded body (not of its malleable signature)."""
    return hash_function(body)


def block_hash(header: types_pb2.BlockHeader, hash_function: HashFunction) -> bytes:
    return hash_function(encode(header))


def genesis_hash(genesis: types_pb2.Genesis, hash_function: HashFunction) -> bytes:
    return hash_function(encode(genesis))


@dataclass(frozen=True, slots=True)
class DecodedTransaction:
    """A transaction together with its decoded body, id and wire bytes."""

    transaction: types_pb2.Transaction
    body: types_pb2.TransactionBody
    id: bytes
    encoded: bytes

    @property
    def size(self) -> int:
        return len(self.encoded)


def _holds_unknown_fields(transaction: types_pb2.Transaction) -> bool:
    """Whether a parsed Transaction kept fields its type does not know, at any depth. Parsing
    normalises everything else decode's re-encode check refuses (order, repeated fields,
    varints), so this is the one way a parsed message can differ from its canonical encoding."""
    return len(UnknownFieldSet(transaction)) > 0 or any(
        len(UnknownFieldSet(endorsement)) > 0 for endorsement in transaction.endorsements
    )


def decode_transaction(
    data: bytes | types_pb2.Transaction, *, hash_function: HashFunction, bytes_max: int
) -> DecodedTransaction:
    """Decodes a transaction and its body from untrusted input; checks encoding only.

    Bytes are decoded by ``decode`` (one parse, one re-encode as the canonical check). A message
    parsed elsewhere (a transaction inside a peer's block) is refused as ``decode`` would refuse
    its bytes, with one encode: the encode that gives its bytes is its canonical form once no
    unknown field hides in it."""
    if isinstance(data, types_pb2.Transaction):
        encoded = encode(data)
        if len(encoded) > bytes_max:
            raise LimitExceededError(
                f"Transaction is {len(encoded)} bytes, above the limit of {bytes_max}"
            )
        if _holds_unknown_fields(data):
            raise NotCanonicalError("Transaction is not canonically encoded")
        transaction = data
    else:
        encoded = data
        transaction = decode(types_pb2.Transaction, encoded, bytes_max=bytes_max)
    body = decode(types_pb2.TransactionBody, transaction.body, bytes_max=bytes_max)
    return DecodedTransaction(
        transaction=transaction,
        body=body,
        id=transaction_id(transaction.body, hash_function),
        encoded=encoded,
    )
