"""Deterministic block records for the storage tests (and the crash-test writer process).

Everything is derived from the height, so a test can rebuild exactly what a block held.
"""

from __future__ import annotations

import hashlib

from causeway.state import TreeUpdate
from causeway.storage import BlockRecord
from causeway.types import encode
from causeway.types.v1 import types_pb2

CHAIN_ID = "storage-test"
GENESIS_BYTES = b"genesis of " + CHAIN_ID.encode()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def genesis_state() -> dict[bytes, bytes]:
    return {b"config/chain": b"v0", b"account/alice": b"100", b"account/bob": b"50"}


def node_key(version: int, index: int) -> bytes:
    return version.to_bytes(8, "big") + index.to_bytes(4, "big")


def genesis_update(nodes: int = 3) -> TreeUpdate:
    return TreeUpdate(
        version=0,
        root_hash=sha256(b"root 0"),
        new_nodes={node_key(0, index): b"node 0/%d" % index for index in range(nodes)},
    )


def transaction_id(height: int, index: int) -> bytes:
    return sha256(transaction(height, index).body)


def transaction(height: int, index: int) -> types_pb2.Transaction:
    body = types_pb2.TransactionBody(
        version=1,
        chain_id=CHAIN_ID,
        nonce=b"%d/%d" % (height, index),
        timestamp_ms=1_700_000_000_000 + height,
        expiry_ms=1_700_000_060_000 + height,
        contract="ledger" if index % 2 == 0 else "directory",
        method="transfer",
        arguments=b"arguments %d/%d" % (height, index),
        sender="org1/alice",
    )
    return types_pb2.Transaction(body=encode(body), signature=b"signature %d/%d" % (height, index))


def events(height: int, index: int) -> list[types_pb2.Event]:
    """Transaction i carries i % 3 events; names alternate so filters have something to do."""
    contract = "ledger" if index % 2 == 0 else "directory"
    return [
        types_pb2.Event(
            contract=contract,
            name="Moved" if event_index % 2 == 0 else "Noted",
            attributes=[types_pb2.EventAttribute(key="at", value=f"{height}/{index}")],
            data=b"event %d/%d/%d" % (height, index, event_index),
        )
        for event_index in range(index % 3)
    ]


def result(height: int, index: int) -> types_pb2.TransactionResult:
    return types_pb2.TransactionResult(
        transaction_id=transaction_id(height, index),
        status=types_pb2.RESULT_STATUS_OK,
        return_value=b"return %d/%d" % (height, index),
        events=events(height, index),
        cost=types_pb2.Cost(gas_used=10 + index, reads=1, writes=1),
    )


def state_changes(height: int) -> dict[bytes, bytes | None]:
    """Every block rewrites a counter, adds a key, and deletes the key added 3 blocks before."""
    changes: dict[bytes, bytes | None] = {
        b"counter": b"%d" % height,
        b"item/%06d" % height: b"item from block %d" % height,
    }
    if height > 3:
        changes[b"item/%06d" % (height - 3)] = None
    return changes


def expected_state(key: bytes, version: int) -> bytes | None:
    """What state_changes() gives for a key after block `version` (genesis excluded)."""
    if key == b"counter":
        return b"%d" % version if version >= 1 else None
    if key.startswith(b"item/"):
        written = int(key[5:])
        if written <= version < written + 3:
            return b"item from block %d" % written
    return None


def record(
    height: int,
    *,
    transactions: int = 4,
    changes: dict[bytes, bytes | None] | None = None,
    nodes: int = 3,
) -> BlockRecord:
    block_transactions = [transaction(height, index) for index in range(transactions)]
    results = [result(height, index) for index in range(transactions)]
    ids = [transaction_id(height, index) for index in range(transactions)]
    root = sha256(b"root %d" % height)
    header = types_pb2.BlockHeader(
        version=1,
        chain_id=CHAIN_ID,
        height=height,
        previous_hash=sha256(b"header %d" % (height - 1)),
        time_ms=1_700_000_000_000 + height,
        proposer="org1/validator",
        transactions_root=sha256(b"".join(ids)),
        results_root=sha256(b"".join(encode(result) for result in results)),
        state_root=root,
        transaction_count=transactions,
        genesis_hash=sha256(GENESIS_BYTES),
    )
    block_hash = sha256(encode(header))
    return BlockRecord(
        block=types_pb2.Block(header=header, transactions=block_transactions),
        block_hash=block_hash,
        certificate=types_pb2.CommitCertificate(
            height=height,
            round=0,
            block_hash=block_hash,
            signatures=[types_pb2.CommitSignature(validator="org1/validator", signature=b"sig")],
        ),
        results=results,
        transaction_ids=ids,
        state_changes=state_changes(height) if changes is None else changes,
        tree_update=TreeUpdate(
            version=height,
            root_hash=root,
            new_nodes={
                node_key(height, index): b"node %d/%d" % (height, index) for index in range(nodes)
            },
            stale_node_keys=[node_key(height - 1, index) for index in range(nodes)],
        ),
    )
