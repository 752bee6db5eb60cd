"""Self-contained proof files: what `state get --proof --out` and `tx get --proof --out` write and
what `proof verify` checks offline.

A proof file holds a block header and a Merkle proof from that header's root down to the claimed
data, plus the crypto profile that names the hash function. Checking it needs nothing else. What it
does not show is that the header itself is genuine: compare the block hash it prints with one you
trust (or check the header against a genesis file with `--genesis`).

State proof (`kind` = "causeway.state_proof"): `key`, `value` (hex; null proves absence),
`height`, `header`, `block_hash`, `state_root`, `proof` (protobuf JSON of StateProof).
Transaction proof (`kind` = "causeway.transaction_proof"): `transaction_id`, `height`, `index`,
`transaction`, `result`, `header`, `block_hash`, `transaction_proof`, `result_proof`.
Messages are in protobuf JSON (bytes in base64); ids, keys, values and hashes are hex.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from causeway.api.v1 import api_pb2
from causeway.cli.arguments import read_bounded_text
from causeway.crypto import get_profile
from causeway.errors import ConfigurationError, ProofError
from causeway.provisioning import genesis_from_json
from causeway.state import verify_state_proof
from causeway.types import (
    block_hash,
    check_json_depth,
    encode,
    genesis_hash,
    transaction_id,
    verify_merkle_proof,
)
from causeway.types.v1 import types_pb2

STATE_PROOF_KIND = "causeway.state_proof"
TRANSACTION_PROOF_KIND = "causeway.transaction_proof"
PROOF_FORMAT_VERSION = 1
PROOF_FILE_BYTES_MAX = 16 << 20
# A genesis.json given to `proof verify --genesis`: a chain's organisations, members and their
# certificates fit in well under this; never more is read.
GENESIS_FILE_BYTES_MAX = 16 << 20

MessageT = TypeVar("MessageT", bound=Message)


def _message_data(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def _parse_message(data: Any, message_type: type[MessageT], name: str) -> MessageT:
    message = message_type()
    if not isinstance(data, dict):
        raise ProofError(f"proof file: '{name}' must be an object")
    try:
        json_format.ParseDict(data, message)
    except json_format.ParseError as error:
        raise ProofError(
            f"proof file: '{name}' is not a {message_type.__name__}: {error}"
        ) from None
    return message


def _hex_field(document: dict[str, Any], name: str) -> bytes:
    value = document.get(name)
    if not isinstance(value, str):
        raise ProofError(f"proof file: '{name}' must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ProofError(f"proof file: '{name}' is not hex") from None


def _int_field(document: dict[str, Any], name: str) -> int:
    value = document.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProofError(f"proof file: '{name}' must be a non-negative integer")
    return value


def _header_hash(header: types_pb2.BlockHeader, crypto_profile: str) -> bytes:
    return block_hash(header, get_profile(crypto_profile).hash)


def state_proof_document(
    response: api_pb2.GetStateResponse, key: bytes, crypto_profile: str
) -> dict[str, Any]:
    """The proof file for a GetState answer (value null when the key is absent)."""
    header = response.header
    return {
        "kind": STATE_PROOF_KIND,
        "format_version": PROOF_FORMAT_VERSION,
        "chain_id": header.chain_id,
        "crypto_profile": crypto_profile,
        "height": response.height,
        "key": key.hex(),
        "value": response.value.hex() if response.found else None,
        "state_root": header.state_root.hex(),
        "block_hash": _header_hash(header, crypto_profile).hex(),
        "header": _message_data(header),
        "proof": _message_data(response.proof),
    }


def transaction_proof_document(
    response: api_pb2.GetTransactionResponse, crypto_profile: str
) -> dict[str, Any]:
    """The proof file for a GetTransaction answer: the transaction and its result in the block."""
    header = response.header
    return {
        "kind": TRANSACTION_PROOF_KIND,
        "format_version": PROOF_FORMAT_VERSION,
        "chain_id": header.chain_id,
        "crypto_profile": crypto_profile,
        "height": response.height,
        "index": response.index,
        "transaction_id": response.result.transaction_id.hex(),
        "block_hash": _header_hash(header, crypto_profile).hex(),
        "header": _message_data(header),
        "transaction": _message_data(response.transaction),
        "result": _message_data(response.result),
        "transaction_proof": _message_data(response.transaction_proof),
        "result_proof": _message_data(response.result_proof),
    }


def write_proof_document(path: Path, document: dict[str, Any]) -> None:
    try:
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"cannot write {path}: {error}") from None


def load_proof_document(path: Path) -> dict[str, Any]:
    """The JSON object of a proof file: at most PROOF_FILE_BYTES_MAX bytes (never more is read)
    and nested at most JSON_DEPTH_MAX levels deep."""
    text = read_bounded_text(path, PROOF_FILE_BYTES_MAX)
    check_json_depth(text, str(path))
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProofError(f"{path} is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise ProofError(f"{path} is not a proof file (expected a JSON object)")
    return document


def load_genesis_file(path: Path) -> types_pb2.Genesis:
    """The genesis of a genesis.json: at most GENESIS_FILE_BYTES_MAX bytes (never more is read)
    and nested at most JSON_DEPTH_MAX levels deep."""
    text = read_bounded_text(path, GENESIS_FILE_BYTES_MAX)
    check_json_depth(text, str(path))
    return genesis_from_json(text)


@dataclass(frozen=True, slots=True)
class VerifiedProof:
    """What a proof file was shown to prove."""

    kind: str
    chain_id: str
    crypto_profile: str
    height: int
    block_hash: bytes
    state_root: bytes
    claim: dict[str, Any]


def _check_header(
    document: dict[str, Any], genesis: types_pb2.Genesis | None
) -> tuple[types_pb2.BlockHeader, str, Any]:
    if document.get("format_version") != PROOF_FORMAT_VERSION:
        raise ProofError(
            f"proof file: unsupported format_version {document.get('format_version')!r}"
        )
    crypto_profile = document.get("crypto_profile")
    if not isinstance(crypto_profile, str):
        raise ProofError("proof file: 'crypto_profile' must be a string")
    try:
        profile = get_profile(crypto_profile)
    except ConfigurationError as error:
        raise ProofError(f"proof file: {error.message}") from None
    header = _parse_message(document.get("header"), types_pb2.BlockHeader, "header")
    height = _int_field(document, "height")
    if header.height != height:
        raise ProofError(f"the header is for height {header.height}, not {height}")
    if document.get("chain_id") != header.chain_id:
        raise ProofError("the proof's chain id differs from its header's")
    if _hex_field(document, "block_hash") != block_hash(header, profile.hash):
        raise ProofError("block_hash is not the hash of the header")
    if genesis is not None:
        if genesis.crypto_profile != profile.name:
            raise ProofError(
                f"the genesis uses the {genesis.crypto_profile} profile, the proof {profile.name}"
            )
        if header.chain_id != genesis.chain_id:
            raise ProofError(
                f"the header is of chain {header.chain_id!r}, not {genesis.chain_id!r}"
            )
        if header.genesis_hash != genesis_hash(genesis, profile.hash):
            raise ProofError("the header does not belong to the given genesis")
    return header, profile.name, profile.hash


def verify_proof_document(
    document: dict[str, Any], *, genesis: types_pb2.Genesis | None = None
) -> VerifiedProof:
    """Checks a proof file offline; ProofError says what does not hold."""
    kind = document.get("kind")
    header, profile_name, hash_function = _check_header(document, genesis)
    header_hash = block_hash(header, hash_function)
    if kind == STATE_PROOF_KIND:
        key = _hex_field(document, "key")
        value: bytes | None = (
            None if document.get("value") is None else _hex_field(document, "value")
        )
        if _hex_field(document, "state_root") != header.state_root:
            raise ProofError("state_root differs from the header's state root")
        proof = _parse_message(document.get("proof"), types_pb2.StateProof, "proof")
        verify_state_proof(header.state_root, key, value, proof, hash_function)
        claim: dict[str, Any] = {
            "key": key.hex(),
            "value": None if value is None else value.hex(),
            "present": value is not None,
        }
        return VerifiedProof(
            kind,
            header.chain_id,
            profile_name,
            header.height,
            header_hash,
            header.state_root,
            claim,
        )
    if kind == TRANSACTION_PROOF_KIND:
        claimed_id = _hex_field(document, "transaction_id")
        index = _int_field(document, "index")
        transaction = _parse_message(
            document.get("transaction"), types_pb2.Transaction, "transaction"
        )
        result = _parse_message(document.get("result"), types_pb2.TransactionResult, "result")
        transaction_proof = _parse_message(
            document.get("transaction_proof"), types_pb2.MerkleProof, "transaction_proof"
        )
        result_proof = _parse_message(
            document.get("result_proof"), types_pb2.MerkleProof, "result_proof"
        )
        identifier = transaction_id(transaction.body, hash_function)
        if identifier != claimed_id:
            raise ProofError("transaction_id is not the hash of the transaction body")
        if result.transaction_id != identifier:
            raise ProofError("the result belongs to another transaction")
        if transaction_proof.index != index or result_proof.index != index:
            raise ProofError(f"the proofs are not both for index {index}")
        verify_merkle_proof(header.transactions_root, identifier, transaction_proof, hash_function)
        verify_merkle_proof(header.results_root, encode(result), result_proof, hash_function)
        claim = {
            "transaction_id": identifier.hex(),
            "index": index,
            "status": types_pb2.ResultStatus.Name(result.status).removeprefix("RESULT_STATUS_")
            if result.status in types_pb2.ResultStatus.values()
            else str(result.status),
        }
        return VerifiedProof(
            kind,
            header.chain_id,
            profile_name,
            header.height,
            header_hash,
            header.state_root,
            claim,
        )
    raise ProofError(
        f"proof file: unknown kind {kind!r}; "
        f"expected {STATE_PROOF_KIND} or {TRANSACTION_PROOF_KIND}"
    )
