"""Ethereum's own encodings, read strictly: block headers and receipts (RLP), as the EVM chain
hashes and commits them, and the JSON-RPC forms a gateway reads them from.

Header: the London..Prague field list (``HEADER_FIELDS``); the fields after ``baseFeePerGas``
appear only on the forks that added them, always as a suffix, so a header has 16 to 21 fields.
Chains whose header is not Ethereum's (FISCO BCOS) need a codec of their own. The block hash is
keccak256 of the header's RLP, which is what a gateway committee attests.

Receipt (as stored in the receipts trie): legacy ``rlp([status, cumulativeGasUsed, logsBloom,
logs])``; typed (EIP-2718) the type byte followed by the same list. Only post-Byzantium receipts
(a status, not a state root) are read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import rlp  # type: ignore[import-untyped]
from eth_hash.auto import keccak

from causeway.errors import DecodeError

HASH_BYTES = 32
ADDRESS_BYTES = 20
BLOOM_BYTES = 256
NONCE_BYTES = 8
# Ethereum's 32; other EVM chains (clique's signer list) put more here, never this much.
EXTRA_DATA_BYTES_MAX = 4_096
# A header is a few hundred bytes; this bounds what is hashed and decoded for one.
HEADER_BYTES_MAX = 8_192
# London added baseFeePerGas (16 fields); Prague's requestsHash is the 21st.
HEADER_FIELDS_MIN = 16
# Receipt types known up to Prague: legacy 0, access list 1, dynamic fee 2, blob 3, set code 4.
RECEIPT_TYPES = frozenset({0, 1, 2, 3, 4})
# The largest integer a header or receipt field may hold here (uint256).
_UINT256_MAX = (1 << 256) - 1

# (JSON-RPC name, kind, fixed size or 0) in the consensus order of the header's fields.
HEADER_FIELDS: tuple[tuple[str, str, int], ...] = (
    ("parentHash", "bytes", HASH_BYTES),
    ("sha3Uncles", "bytes", HASH_BYTES),
    ("miner", "bytes", ADDRESS_BYTES),
    ("stateRoot", "bytes", HASH_BYTES),
    ("transactionsRoot", "bytes", HASH_BYTES),
    ("receiptsRoot", "bytes", HASH_BYTES),
    ("logsBloom", "bytes", BLOOM_BYTES),
    ("difficulty", "int", 0),
    ("number", "int", 0),
    ("gasLimit", "int", 0),
    ("gasUsed", "int", 0),
    ("timestamp", "int", 0),
    ("extraData", "bytes", 0),
    ("mixHash", "bytes", HASH_BYTES),
    ("nonce", "bytes", NONCE_BYTES),
    ("baseFeePerGas", "int", 0),
    ("withdrawalsRoot", "bytes", HASH_BYTES),
    ("blobGasUsed", "int", 0),
    ("excessBlobGas", "int", 0),
    ("parentBeaconBlockRoot", "bytes", HASH_BYTES),
    ("requestsHash", "bytes", HASH_BYTES),
)


@dataclass(frozen=True, slots=True)
class EvmHeader:
    """What the hub keeps of an EVM block header; ``block_hash`` is keccak256 of its RLP."""

    block_hash: bytes
    parent_hash: bytes
    state_root: bytes
    receipts_root: bytes
    number: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class EvmLog:
    address: bytes
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True, slots=True)
class EvmReceipt:
    transaction_type: int
    status: int
    cumulative_gas_used: int
    logs: tuple[EvmLog, ...]


def _integer(item: bytes, what: str) -> int:
    """A canonical RLP integer: big-endian, no leading zero byte (zero is the empty string)."""
    if item[:1] == b"\x00":
        raise DecodeError(f"{what} has a leading zero byte: not a canonical integer")
    if len(item) > HASH_BYTES:
        raise DecodeError(f"{what} is {len(item)} bytes, above a uint256")
    return int.from_bytes(item, "big")


def _decode_rlp(data: bytes, what: str) -> Any:
    try:
        decoded = rlp.decode(data, strict=True)
    except rlp.exceptions.DecodingError as error:
        raise DecodeError(f"{what} is not valid RLP: {error}") from None
    if rlp.encode(decoded) != data:
        raise DecodeError(f"{what} is not canonical RLP")
    return decoded


def _byte_items(value: Any, what: str) -> list[bytes]:
    if not isinstance(value, list) or not all(isinstance(item, bytes) for item in value):
        raise DecodeError(f"{what} is not a list of byte strings")
    return value


def decode_header(header_rlp: bytes) -> EvmHeader:
    """The header an EVM block hash names, read from its RLP (London..Prague field lists).

    DecodeError for bytes that are not such a header: too long, not canonical RLP, fewer than
    16 or more than 21 fields, a field of the wrong size."""
    if len(header_rlp) > HEADER_BYTES_MAX:
        raise DecodeError(
            f"the header is {len(header_rlp)} bytes, above the limit of {HEADER_BYTES_MAX}"
        )
    fields = _byte_items(_decode_rlp(header_rlp, "the header"), "the header")
    if not HEADER_FIELDS_MIN <= len(fields) <= len(HEADER_FIELDS):
        raise DecodeError(
            f"the header has {len(fields)} fields, not {HEADER_FIELDS_MIN} to "
            f"{len(HEADER_FIELDS)} (Ethereum's London..Prague headers)"
        )
    values: dict[str, bytes] = {}
    for (name, kind, size), item in zip(HEADER_FIELDS, fields, strict=False):
        if kind == "int":
            _integer(item, f"header field {name}")
        elif size and len(item) != size:
            raise DecodeError(f"header field {name} is {len(item)} bytes, not {size}")
        elif name == "extraData" and len(item) > EXTRA_DATA_BYTES_MAX:
            raise DecodeError(
                f"header extraData is {len(item)} bytes, above the limit of {EXTRA_DATA_BYTES_MAX}"
            )
        values[name] = item
    return EvmHeader(
        block_hash=keccak(header_rlp),
        parent_hash=values["parentHash"],
        state_root=values["stateRoot"],
        receipts_root=values["receiptsRoot"],
        number=_integer(values["number"], "header number"),
        timestamp=_integer(values["timestamp"], "header timestamp"),
    )


def _decode_log(value: Any, index: int) -> EvmLog:
    what = f"log {index} of the receipt"
    if not isinstance(value, list) or len(value) != 3:
        raise DecodeError(f"{what} is not [address, topics, data]")
    address, topics, data = value
    if not isinstance(address, bytes) or len(address) != ADDRESS_BYTES:
        raise DecodeError(f"{what} has no 20-byte address")
    topic_items = _byte_items(topics, f"the topics of {what}")
    if len(topic_items) > 4 or any(len(topic) != HASH_BYTES for topic in topic_items):
        raise DecodeError(f"{what} has topics other than up to four 32-byte words")
    if not isinstance(data, bytes):
        raise DecodeError(f"the data of {what} is not a byte string")
    return EvmLog(address=address, topics=tuple(topic_items), data=data)


def decode_receipt(encoded: bytes) -> EvmReceipt:
    """A receipt as the receipts trie stores it (typed or legacy); DecodeError otherwise, and for
    a pre-Byzantium receipt (a state root where the status is)."""
    if not encoded:
        raise DecodeError("the receipt is empty")
    transaction_type = 0
    body = encoded
    if encoded[0] < 0x80:
        transaction_type = encoded[0]
        body = encoded[1:]
        if transaction_type not in RECEIPT_TYPES or transaction_type == 0:
            raise DecodeError(f"receipt type {transaction_type} is not one of 1..4")
    items = _decode_rlp(body, "the receipt")
    if not isinstance(items, list) or len(items) != 4:
        raise DecodeError("the receipt is not [status, cumulativeGasUsed, logsBloom, logs]")
    status, gas, bloom, logs = items
    if not isinstance(status, bytes) or status not in (b"", b"\x01"):
        raise DecodeError("the receipt has no status 0 or 1 (a pre-Byzantium receipt?)")
    if not isinstance(gas, bytes) or not isinstance(bloom, bytes) or len(bloom) != BLOOM_BYTES:
        raise DecodeError("the receipt's gas used or logs bloom is malformed")
    if not isinstance(logs, list):
        raise DecodeError("the receipt's logs are not a list")
    return EvmReceipt(
        transaction_type=transaction_type,
        status=_integer(status, "receipt status"),
        cumulative_gas_used=_integer(gas, "receipt cumulativeGasUsed"),
        logs=tuple(_decode_log(log, index) for index, log in enumerate(logs)),
    )


# -- from JSON-RPC (what a gateway and the vector recorder read) -----------------------------------


def hex_bytes(value: object) -> bytes:
    """A JSON-RPC "0x..." byte string (or bytes, unchanged)."""
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            raise DecodeError(f"{value[:80]!r} is not hex") from None
    raise DecodeError(f"{str(value)[:80]!r} is not a 0x-prefixed hex string")


def hex_integer(value: object) -> int:
    """A JSON-RPC quantity ("0x1a") or an int."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.startswith("0x"):
        try:
            number = int(value, 16)
        except ValueError:
            raise DecodeError(f"{value[:80]!r} is not a hex quantity") from None
        if 0 <= number <= _UINT256_MAX:
            return number
    raise DecodeError(f"{str(value)[:80]!r} is not a quantity")


def header_rlp_from_json(block: Mapping[str, Any]) -> bytes:
    """The RLP of a block's header from its JSON-RPC form (eth_getBlockByNumber): the fields of
    HEADER_FIELDS in order, stopping at the first one the block lacks (later forks' fields are a
    suffix). Whoever calls this checks keccak256 of the result against the block's "hash"."""
    fields: list[bytes | int] = []
    for name, kind, _size in HEADER_FIELDS:
        if block.get(name) is None:
            break
        fields.append(hex_integer(block[name]) if kind == "int" else hex_bytes(block[name]))
    encoded: bytes = rlp.encode(fields)
    return encoded


def receipt_from_json(receipt: Mapping[str, Any]) -> bytes:
    """The consensus encoding of a receipt (as the receipts trie stores it) from its JSON-RPC form
    (eth_getTransactionReceipt, eth_getBlockReceipts)."""
    logs = [
        [
            hex_bytes(log["address"]),
            [hex_bytes(topic) for topic in log["topics"]],
            hex_bytes(log["data"]),
        ]
        for log in receipt["logs"]
    ]
    body: bytes = rlp.encode(
        [
            hex_integer(receipt["status"]),
            hex_integer(receipt["cumulativeGasUsed"]),
            hex_bytes(receipt["logsBloom"]),
            logs,
        ]
    )
    transaction_type = hex_integer(receipt.get("type", 0))
    return body if transaction_type == 0 else bytes([transaction_type]) + body


def encode_nodes(nodes: Sequence[Any]) -> list[bytes]:
    """Trie nodes as py-trie's ``get_proof`` gives them (decoded lists), RLP-encoded as
    eth_getProof gives them and as proofs carry them."""
    return [rlp.encode(node) for node in nodes]
