"""Merkle-Patricia proofs of an EVM chain's receipts and storage, checked against roots taken from
an attested header: the receipts root (a log was emitted by a successful transaction) and the
state root (an account's storage holds, or does not hold, a value).

Every check is against the root the caller passes and nothing else the prover brings; a proof
that proves the empty value proves absence only where absence is what is asked
(``verify_storage_absent``): an empty receipt, account or stored value never counts as present.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import rlp  # type: ignore[import-untyped]
from eth_hash.auto import keccak
from trie.exceptions import BadTrieProof, ValidationError
from trie.hexary import HexaryTrie

from causeway.errors import DecodeError, ProofError
from causeway.interchain.evm.encoding import (
    ADDRESS_BYTES,
    HASH_BYTES,
    EvmLog,
    decode_receipt,
)

# A receipts trie is at most a few levels deep (a block holds thousands of transactions at most);
# a secure state trie about ten; 64 bounds both with room.
PROOF_NODES_MAX = 64
# A branch node is about 532 bytes; a leaf holds a whole receipt (every log of a transaction).
PROOF_NODE_BYTES_MAX = 131_072
# The storage slot of the endpoint's ``mapping(bytes32 => bool) received`` (its first variable).
RECEIVED_MAPPING_SLOT = 0


def proof_bytes(nodes: Sequence[bytes]) -> int:
    """The bytes a proof makes its verifier hash (each node once): what gas is charged for."""
    return sum(len(node) for node in nodes)


def _decoded_nodes(nodes: Sequence[bytes], what: str) -> list[Any]:
    if not nodes:
        raise ProofError(f"the {what} has no nodes")
    if len(nodes) > PROOF_NODES_MAX:
        raise ProofError(f"the {what} has {len(nodes)} nodes, above the limit of {PROOF_NODES_MAX}")
    decoded = []
    for index, node in enumerate(nodes):
        if len(node) > PROOF_NODE_BYTES_MAX:
            raise ProofError(
                f"node {index} of the {what} is {len(node)} bytes, above the limit of "
                f"{PROOF_NODE_BYTES_MAX}"
            )
        try:
            decoded.append(rlp.decode(node, strict=True))
        except rlp.exceptions.DecodingError:
            raise ProofError(f"node {index} of the {what} is not RLP") from None
    return decoded


def _proven_value(root: bytes, key: bytes, nodes: Sequence[bytes], what: str) -> bytes:
    """The value the trie of ``root`` holds at ``key`` (b"" for none), as the nodes prove it."""
    if len(root) != HASH_BYTES or root == bytes(HASH_BYTES):
        raise ProofError(f"the root of the {what} is not a 32-byte non-zero hash")
    decoded = _decoded_nodes(nodes, what)
    try:
        value: bytes = HexaryTrie.get_from_proof(  # type: ignore[no-untyped-call]
            root, key, decoded
        )
    except BadTrieProof as error:
        raise ProofError(f"the {what} does not lead from the root to the key: {error}") from None
    except ValidationError as error:
        raise ProofError(f"the {what} holds a malformed node: {error}") from None
    return value


def receipt_key(transaction_index: int) -> bytes:
    """The receipts trie's key of a transaction's receipt: rlp of its index in the block."""
    key: bytes = rlp.encode(transaction_index)
    return key


def build_receipt_proof(receipts: Sequence[bytes], transaction_index: int) -> list[bytes]:
    """The proof (RLP-encoded nodes) of receipt ``transaction_index`` in the trie of a block's
    ``receipts`` (each its consensus encoding, in transaction order): what a gateway sends."""
    receipts_trie = HexaryTrie(db={})
    for index, encoded in enumerate(receipts):
        receipts_trie[receipt_key(index)] = encoded
    nodes = receipts_trie.get_proof(receipt_key(transaction_index))  # type: ignore[no-untyped-call]
    return [rlp.encode(node) for node in nodes]


def receipts_root(receipts: Sequence[bytes]) -> bytes:
    """The receipts root of a block whose receipts (consensus encodings, in order) these are."""
    receipts_trie = HexaryTrie(db={})
    for index, encoded in enumerate(receipts):
        receipts_trie[receipt_key(index)] = encoded
    root: bytes = receipts_trie.root_hash
    return root


def verify_receipt_log(  # noqa: PLR0917 (the proof's parts, as the brief names them)
    receipts_root: bytes,
    transaction_index: int,
    nodes: Sequence[bytes],
    log_index: int,
    address: bytes,
    topic0: bytes,
) -> EvmLog:
    """The log ``log_index`` of receipt ``transaction_index``, once ``nodes`` prove that receipt
    in the trie of ``receipts_root``, its transaction succeeded (status 1), and the log was
    emitted by ``address`` with first topic ``topic0``. ProofError otherwise; an index the trie
    does not hold proves nothing."""
    if len(address) != ADDRESS_BYTES:
        raise ProofError(f"the emitter address is {len(address)} bytes, not {ADDRESS_BYTES}")
    what = f"receipt proof of transaction {transaction_index}"
    proven = _proven_value(receipts_root, receipt_key(transaction_index), nodes, what)
    if not proven:
        raise ProofError(
            f"the {what} proves no receipt at that index: an absent receipt proves nothing"
        )
    try:
        receipt = decode_receipt(proven)
    except DecodeError as error:
        raise ProofError(f"the receipt of transaction {transaction_index}: {error}") from None
    if receipt.status != 1:
        raise ProofError(
            f"transaction {transaction_index} failed (status {receipt.status}): its logs were "
            "reverted and prove nothing"
        )
    if not 0 <= log_index < len(receipt.logs):
        raise ProofError(
            f"the receipt of transaction {transaction_index} has {len(receipt.logs)} logs, no "
            f"log {log_index}"
        )
    log = receipt.logs[log_index]
    if log.address != address:
        raise ProofError(
            f"log {log_index} of transaction {transaction_index} was emitted by "
            f"0x{log.address.hex()}, not the endpoint 0x{address.hex()}"
        )
    if not log.topics or log.topics[0] != topic0:
        raise ProofError(
            f"log {log_index} of transaction {transaction_index} is not the event expected "
            f"(topic0 0x{topic0.hex()})"
        )
    return log


def find_log_index(receipt: bytes, address: bytes, topic0: bytes, topic1: bytes) -> int:
    """The index of the first log of ``receipt`` (its consensus encoding) emitted by ``address``
    with topics ``topic0`` and ``topic1`` (an event and its indexed packet hash): what a gateway
    puts in an EvmReceiptProof (the endpoint's Attested logs may come first). ProofError when
    the receipt holds no such log, or failed."""
    try:
        decoded = decode_receipt(receipt)
    except DecodeError as error:
        raise ProofError(f"the receipt: {error}") from None
    if decoded.status != 1:
        raise ProofError("the receipt is of a failed transaction: its logs were reverted")
    for index, log in enumerate(decoded.logs):
        if log.address == address and log.topics[:2] == (topic0, topic1):
            return index
    raise ProofError(f"the receipt holds no log 0x{topic0.hex()[:16]}... of 0x{address.hex()}")


def mapping_slot(key: bytes, slot: int) -> bytes:
    """The storage slot of ``mapping[key]`` for a mapping declared at ``slot`` (Solidity's
    layout: keccak256(key . uint256(slot)), key a 32-byte value type)."""
    if len(key) != HASH_BYTES:
        raise ProofError(f"a mapping key here is 32 bytes, not {len(key)}")
    return keccak(key + slot.to_bytes(HASH_BYTES, "big"))


def received_slot(packet_hash: bytes) -> bytes:
    """The slot of ``received[packetHash]`` in the endpoint contract."""
    return mapping_slot(packet_hash, RECEIVED_MAPPING_SLOT)


def verify_storage(
    state_root: bytes,
    address: bytes,
    slot: bytes,
    account_nodes: Sequence[bytes],
    storage_nodes: Sequence[bytes],
) -> bytes:
    """The value (RLP-decoded, b"" when absent) of storage ``slot`` of contract ``address`` in
    the state of ``state_root``, as eth_getProof's account and storage proofs show it. The account
    itself must be proven present: an absent account proves nothing."""
    if len(address) != ADDRESS_BYTES:
        raise ProofError(f"the account address is {len(address)} bytes, not {ADDRESS_BYTES}")
    if len(slot) != HASH_BYTES:
        raise ProofError(f"the storage slot is {len(slot)} bytes, not {HASH_BYTES}")
    account = _proven_value(state_root, keccak(address), account_nodes, "account proof")
    if not account:
        raise ProofError(
            f"the account proof proves no account at 0x{address.hex()}: an absent account "
            "proves nothing"
        )
    try:
        fields = rlp.decode(account, strict=True)
    except rlp.exceptions.DecodingError:
        raise ProofError("the proven account is not RLP") from None
    if (
        not isinstance(fields, list)
        or len(fields) != 4
        or not isinstance(fields[2], bytes)
        or len(fields[2]) != HASH_BYTES
    ):
        raise ProofError("the proven account is not [nonce, balance, storageRoot, codeHash]")
    storage_root = fields[2]
    stored = _proven_value(storage_root, keccak(slot), storage_nodes, "storage proof")
    if not stored:
        return b""
    try:
        value = rlp.decode(stored, strict=True)
    except rlp.exceptions.DecodingError:
        raise ProofError("the proven storage value is not RLP") from None
    if not isinstance(value, bytes) or not value or value[0] == 0:
        raise ProofError("the proven storage value is not a canonical non-zero word")
    return value


def verify_storage_absent(
    state_root: bytes,
    address: bytes,
    slot: bytes,
    account_nodes: Sequence[bytes],
    storage_nodes: Sequence[bytes],
) -> None:
    """ProofError unless the proofs show storage ``slot`` of ``address`` empty (zero)."""
    value = verify_storage(state_root, address, slot, account_nodes, storage_nodes)
    if value:
        raise ProofError(
            f"storage slot 0x{slot.hex()} of 0x{address.hex()} holds 0x{value.hex()}: not absent"
        )


def verify_storage_value(  # noqa: PLR0917 (the proof's parts)
    state_root: bytes,
    address: bytes,
    slot: bytes,
    account_nodes: Sequence[bytes],
    storage_nodes: Sequence[bytes],
    expected: bytes,
) -> None:
    """ProofError unless the proofs show storage ``slot`` of ``address`` holding ``expected``
    (a non-zero word, without leading zero bytes: b"\\x01" for a Solidity ``true``)."""
    if not expected or expected[0] == 0:
        raise ProofError("the expected storage value must be a non-zero word without leading zeros")
    value = verify_storage(state_root, address, slot, account_nodes, storage_nodes)
    if value != expected:
        raise ProofError(
            f"storage slot 0x{slot.hex()} of 0x{address.hex()} holds "
            f"{'nothing' if not value else '0x' + value.hex()}, not 0x{expected.hex()}"
        )
