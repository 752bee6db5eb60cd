"""The canonical encoding rules that docs/wire-format.md promises."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2, struct_pb2
from google.protobuf.message import Message
from google.protobuf.unknown_fields import UnknownFieldSet
from hypothesis import given
from hypothesis import strategies as st

import causeway
from causeway.errors import DecodeError, LimitExceededError, RequestError
from causeway.types import (
    DOMAIN_TRANSACTION,
    SIGN_DOCUMENT_VERSION,
    block_hash,
    decode,
    decode_transaction,
    encode,
    encoding,
    sign_bytes,
    transaction_id,
)
from causeway.types.v1 import types_pb2


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def body() -> types_pb2.TransactionBody:
    return types_pb2.TransactionBody(
        version=1,
        chain_id="chain",
        nonce=b"\x01\x02",
        timestamp_ms=1_700_000_000_000,
        expiry_ms=1_700_000_060_000,
        contract="kv",
        method="put",
        arguments=b"\x0a\x01a",
        sender="org1/alice",
    )


@given(
    st.builds(
        types_pb2.CommitVote,
        height=st.integers(0, 2**64 - 1),
        round=st.integers(0, 2**32 - 1),
        block_hash=st.binary(max_size=40),
    )
)
def test_encode_then_decode_is_the_identity(vote: types_pb2.CommitVote) -> None:
    data = encode(vote)
    assert decode(types_pb2.CommitVote, data, bytes_max=1000) == vote
    assert encode(decode(types_pb2.CommitVote, data, bytes_max=1000)) == data


def test_fields_are_written_in_number_order_without_defaults() -> None:
    vote = types_pb2.CommitVote(height=1, round=0, block_hash=b"\xaa")
    assert encode(vote) == bytes.fromhex("08011a01aa")


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (bytes.fromhex("1a01aa0801"), "fields out of order"),
        (bytes.fromhex("08010802"), "a field repeated"),
        (bytes.fromhex("088100"), "a non-minimal varint"),
        (bytes.fromhex("08000801"), "an explicit default value"),
        (bytes.fromhex("08012001"), "an unknown field"),
        (bytes.fromhex("08011a05aa"), "a truncated field"),
    ],
)
def test_non_canonical_bytes_are_refused(data: bytes, why: str) -> None:
    with pytest.raises(DecodeError):
        decode(types_pb2.CommitVote, data, bytes_max=1000)


def test_the_size_limit_comes_first() -> None:
    data = encode(types_pb2.CommitVote(height=1, block_hash=b"x" * 100))
    with pytest.raises(LimitExceededError):
        decode(types_pb2.CommitVote, data, bytes_max=len(data) - 1)
    decode(types_pb2.CommitVote, data, bytes_max=len(data))


def test_sign_bytes_are_an_encoded_sign_document() -> None:
    payload = encode(body())
    signed = sign_bytes(DOMAIN_TRANSACTION, "chain", payload)
    document = decode(types_pb2.SignDocument, signed, bytes_max=10_000)
    assert document.version == SIGN_DOCUMENT_VERSION
    assert document.domain == "transaction"
    assert document.chain_id == "chain"
    assert document.payload == payload
    assert sign_bytes("endorsement", "chain", payload) != signed
    assert sign_bytes(DOMAIN_TRANSACTION, "other-chain", payload) != signed


@pytest.mark.parametrize(
    "payload_size", [0, 1, 127, 128, 129, 16_383, 16_384, 2**21 - 1, 2**21, 2**21 + 1]
)
@pytest.mark.parametrize(
    ("domain", "chain_id"), [("transaction", "chain"), ("commit", ""), ("", "c" * 200)]
)
def test_sign_bytes_are_the_encoding_of_the_whole_document(
    payload_size: int, domain: str, chain_id: str
) -> None:
    """sign_bytes appends the payload field to the encoded rest of the document: the same bytes
    as encoding the document, at every boundary of the payload's length varint."""
    payload = bytes(range(256)) * (payload_size // 256) + bytes(payload_size % 256)
    assert sign_bytes(domain, chain_id, payload) == encode(
        types_pb2.SignDocument(
            version=SIGN_DOCUMENT_VERSION, domain=domain, chain_id=chain_id, payload=payload
        )
    )


def test_the_payload_is_the_last_field_of_a_sign_document() -> None:
    """What sign_bytes relies on to append it: a new SignDocument field numbered above the
    payload would be written after it, and sign_bytes must then change too."""
    fields = types_pb2.SignDocument.DESCRIPTOR.fields
    payload = types_pb2.SignDocument.DESCRIPTOR.fields_by_name["payload"]
    assert payload.number == max(field.number for field in fields) == 4
    assert payload.type == payload.TYPE_BYTES


def _message_types(module: object) -> list[type[Message]]:
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Message)
    ]


# Every generated module of the project (causeway/<part>/v1/<name>_pb2.py), found, not listed.
PROJECT_MESSAGE_TYPES = [
    message_type
    for path in sorted(Path(causeway.__file__).parent.glob("*/v1/*_pb2.py"))
    for message_type in _message_types(
        importlib.import_module(f"causeway.{path.parent.parent.name}.v1.{path.stem}")
    )
]


@pytest.mark.parametrize(
    "message_type", PROJECT_MESSAGE_TYPES, ids=lambda t: t.DESCRIPTOR.full_name
)
def test_every_project_message_serialises_alike_with_and_without_determinism(
    message_type: type[Message],
) -> None:
    """encode asks for deterministic serialisation only where it orders something (maps,
    extensions); none of this project's messages has either, at any depth."""
    assert encoding._serialises_alike(message_type)


@pytest.mark.parametrize(
    "message_type",
    [struct_pb2.Struct, struct_pb2.Value, struct_pb2.ListValue, descriptor_pb2.FieldOptions],
)
def test_a_message_with_a_map_or_extensions_is_encoded_deterministically(
    message_type: type[Message],
) -> None:
    assert not encoding._serialises_alike(message_type)


def test_a_map_is_encoded_in_key_order_whatever_the_insertion_order() -> None:
    forwards, backwards = struct_pb2.Struct(), struct_pb2.Struct()
    keys = [f"key{index:03d}" for index in range(200)]
    for key in keys:
        forwards.fields[key].number_value = 1
    for key in reversed(keys):
        backwards.fields[key].number_value = 1
    assert encode(forwards) == encode(backwards)
    assert encode(forwards) == forwards.SerializeToString(deterministic=True)


def test_ids_and_hashes() -> None:
    encoded_body = encode(body())
    transaction = types_pb2.Transaction(body=encoded_body, signature=b"signature")
    decoded = decode_transaction(encode(transaction), hash_function=sha256, bytes_max=10_000)
    assert decoded.id == transaction_id(encoded_body, sha256) == sha256(encoded_body)
    assert decoded.body == body()
    # The signature is not part of the id.
    resigned = types_pb2.Transaction(body=encoded_body, signature=b"another signature")
    assert decode_transaction(resigned, hash_function=sha256, bytes_max=10_000).id == decoded.id
    header = types_pb2.BlockHeader(version=1, chain_id="chain", height=1)
    assert block_hash(header, sha256) == sha256(encode(header))


def test_a_transaction_with_a_non_canonical_body_is_refused() -> None:
    transaction = types_pb2.Transaction(body=encode(body()) + bytes.fromhex("0801"))
    with pytest.raises(DecodeError):
        decode_transaction(encode(transaction), hash_function=sha256, bytes_max=10_000)


def _refusal(data: bytes | types_pb2.Transaction, bytes_max: int) -> tuple[str, str]:
    with pytest.raises(RequestError) as caught:
        decode_transaction(data, hash_function=sha256, bytes_max=bytes_max)
    return type(caught.value).__name__, caught.value.message


@pytest.mark.parametrize(
    "where",
    ["the transaction", "an endorsement"],
)
def test_a_transaction_message_with_an_unknown_field_is_refused_as_its_bytes_are(
    where: str,
) -> None:
    """A message parsed elsewhere (a transaction inside a peer's block) is decoded with one
    encode; an unknown field, at any depth, is refused for the same reason as in bytes."""
    transaction = types_pb2.Transaction(body=encode(body()), signature=b"signature")
    transaction.endorsements.add(endorser="org1/admin", signature=b"endorsement")
    data = encode(transaction)
    if where == "the transaction":
        data += bytes.fromhex("f80701")  # field 127
    else:
        # The endorsement (field 3, last) grows by the unknown field's 3 bytes.
        entry = encode(transaction.endorsements[0]) + bytes.fromhex("f80701")
        data = encode(types_pb2.Transaction(body=transaction.body, signature=b"signature"))
        data += bytes([0x1A, len(entry)]) + entry
    message = types_pb2.Transaction.FromString(data)
    inside = [len(UnknownFieldSet(message)), len(UnknownFieldSet(message.endorsements[0]))]
    assert inside == ([1, 0] if where == "the transaction" else [0, 1])
    expected = ("NotCanonicalError", "Transaction is not canonically encoded")
    assert _refusal(data, 10_000) == expected
    assert _refusal(message, 10_000) == expected


def test_a_transaction_message_is_held_to_the_size_limit_as_its_bytes_are() -> None:
    transaction = types_pb2.Transaction(body=encode(body()), signature=b"signature")
    data = encode(transaction)
    assert _refusal(transaction, len(data) - 1) == _refusal(data, len(data) - 1)
    assert _refusal(transaction, len(data) - 1)[0] == "LimitExceededError"
    decoded = decode_transaction(transaction, hash_function=sha256, bytes_max=len(data))
    assert (decoded.encoded, decoded.id, decoded.body) == (data, sha256(transaction.body), body())
