"""The simulator's application: a deterministic toy chain with a replicated key-value store.

A block carries its header and a payload of transactions. The first transaction is a marker
naming the instance that built the block, the height and the round (tbft) or term (raft); the
rest are client key-value operations (put and get on a few keys). ``block_hash`` is SHA-256 of
the encoded header, and the header commits to the payload through ``transactions_root``, so the
hash covers header and payload. The marker makes blocks built by different instances or in
different rounds differ, which is what lets a Byzantine twin equivocate.

The toy executes nothing at build time: ``state_root`` and ``results_root`` stay empty. Committed
blocks are applied in height order to a per-node key-value store; an operation that appears in
more than one committed block takes effect once, at its first appearance (as transaction ids are
de-duplicated on a real chain).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from causeway.errors import CausewayError, InvariantError
from causeway.types import BLOCK_VERSION, TRANSACTION_VERSION, decode, encode, merkle_root
from causeway.types.v1 import types_pb2

MARKER_CONTRACT = "sim.block"
KV_CONTRACT = "sim.kv"
TRANSACTION_BYTES_MAX = 4096
ZERO_HASH = bytes(32)

OperationKind = Literal["put", "get"]


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@dataclass(frozen=True, slots=True)
class KvOperation:
    """A client operation; ``operation_id`` is unique in a run."""

    operation_id: str
    client: str
    kind: OperationKind
    key: str
    value: str = ""


@dataclass(frozen=True, slots=True)
class CommittedBlock:
    height: int
    block_hash: bytes
    block: types_pb2.Block
    certificate: types_pb2.CommitCertificate
    time_ms: int
    incarnation: int
    # "core" (a Commit of the instance's own core) or "sync" (block sync from a peer).
    source: str = "core"


def genesis_hash_for(chain_id: str, validators: Sequence[str]) -> bytes:
    return sha256(("causeway-sim-genesis\0" + chain_id + "\0" + "\0".join(validators)).encode())


def validator_set_hash(validators: Sequence[str]) -> bytes:
    return sha256("\0".join(validators).encode())


def operation_transaction(chain_id: str, operation: KvOperation) -> types_pb2.Transaction:
    body = types_pb2.TransactionBody(
        version=TRANSACTION_VERSION,
        chain_id=chain_id,
        nonce=operation.operation_id.encode(),
        contract=KV_CONTRACT,
        method=operation.kind,
        arguments=(operation.key + "\0" + operation.value).encode(),
        sender=operation.client,
    )
    return types_pb2.Transaction(body=encode(body))


def marker_transaction(
    chain_id: str, builder: str, height: int, round_number: int
) -> types_pb2.Transaction:
    body = types_pb2.TransactionBody(
        version=TRANSACTION_VERSION,
        chain_id=chain_id,
        nonce=f"{builder}\0{height}\0{round_number}".encode(),
        contract=MARKER_CONTRACT,
        method="marker",
        sender=builder,
    )
    return types_pb2.Transaction(body=encode(body))


def decode_operation(transaction: types_pb2.Transaction) -> KvOperation | None:
    """The operation a kv transaction carries; None for a marker. Raises on anything else."""
    body = decode(types_pb2.TransactionBody, transaction.body, bytes_max=TRANSACTION_BYTES_MAX)
    if body.contract == MARKER_CONTRACT and body.method == "marker":
        return None
    if body.contract != KV_CONTRACT or body.method not in ("put", "get"):
        raise InvariantError(f"not a simulator transaction: {body.contract}.{body.method}")
    key, separator, value = body.arguments.decode().partition("\0")
    if not separator:
        raise InvariantError("malformed kv arguments")
    kind: OperationKind = "put" if body.method == "put" else "get"
    return KvOperation(body.nonce.decode(), body.sender, kind, key, value)


class SimApplication:
    """One instance's application: its mempool, block store view and key-value state.

    The block store and the key-value state are durable (a committed block is written in one
    synced storage transaction); the mempool is memory and is emptied by a crash.
    """

    def __init__(
        self,
        instance: str,
        chain_id: str,
        validators: Sequence[str],
        *,
        block_operations_max: int = 8,
        reinclude_after_ms: int = 300,
    ) -> None:
        self.instance = instance
        self.chain_id = chain_id
        self.validators = tuple(validators)
        self._validator_set = frozenset(validators)
        self.genesis_hash = genesis_hash_for(chain_id, validators)
        self.validator_set_hash = validator_set_hash(validators)
        self.block_operations_max = block_operations_max
        self.reinclude_after_ms = reinclude_after_ms
        self.chain: list[CommittedBlock] = []
        self.kv: dict[str, str] = {}
        self.results: dict[str, str | None] = {}
        # Hash of the latest block built or accepted at a height not yet applied.
        self._tentative: dict[int, bytes] = {}
        self._mempool: dict[str, KvOperation] = {}
        self._included_at_ms: dict[str, int] = {}
        self._clock_ms = 0
        self.blocks_built = 0
        self.blocks_rejected = 0

    # --- the Application protocol -------------------------------------------------------------

    def build_block(
        self, height: int, round_number: int, time_ms: int, proposer: str
    ) -> types_pb2.Block:
        transactions = [marker_transaction(self.chain_id, self.instance, height, round_number)]
        for operation in self._operations_to_include():
            transactions.append(operation_transaction(self.chain_id, operation))
            self._included_at_ms[operation.operation_id] = self._clock_ms
        if height - 1 <= len(self.chain):
            previous = self.chain[height - 2].block_hash if height >= 2 else ZERO_HASH
        else:
            previous = self._tentative.get(height - 1, ZERO_HASH)
        header = types_pb2.BlockHeader(
            version=BLOCK_VERSION,
            chain_id=self.chain_id,
            height=height,
            previous_hash=previous,
            time_ms=time_ms,
            proposer=proposer,
            transactions_root=self._transactions_root(transactions),
            validator_set_hash=self.validator_set_hash,
            next_validator_set_hash=self.validator_set_hash,
            transaction_count=len(transactions),
            genesis_hash=self.genesis_hash,
        )
        block = types_pb2.Block(header=header, transactions=transactions)
        self._tentative[height] = self.block_hash(block)
        self.blocks_built += 1
        return block

    def validate_block(self, block: types_pb2.Block) -> bool:
        valid = self.is_valid(block)
        if valid:
            self._tentative[block.header.height] = self.block_hash(block)
        else:
            self.blocks_rejected += 1
        return valid

    def validate_committed_block(self, block: types_pb2.Block) -> bool:
        """The toy holds a committed block to the same checks (it has no clock rule)."""
        return self.validate_block(block)

    def block_hash(self, block: types_pb2.Block) -> bytes:
        return sha256(encode(block.header))

    # --- the runtime side ---------------------------------------------------------------------

    def set_clock(self, now_ms: int) -> None:
        self._clock_ms = now_ms

    @property
    def height(self) -> int:
        return len(self.chain)

    def add_operation(self, operation: KvOperation) -> bool:
        """Admits a client operation to the mempool; False when it is known already."""
        if operation.operation_id in self.results or operation.operation_id in self._mempool:
            return False
        self._mempool[operation.operation_id] = operation
        return True

    def transactions_waiting(self) -> int:
        """How many operations wait for a block, counted up to a block's worth (the node's
        driver gives the core its mempool's count)."""
        return len(self._operations_to_include())

    def crash(self) -> None:
        self._mempool.clear()
        self._included_at_ms.clear()
        self._tentative.clear()

    def apply(self, committed: CommittedBlock) -> list[tuple[KvOperation, str | None]]:
        """Appends a committed block and executes its new operations: (operation, result)."""
        height = committed.height
        block = committed.block
        if height != len(self.chain) + 1:
            raise InvariantError(f"{self.instance} applies height {height} after {len(self.chain)}")
        self.chain.append(committed)
        self._tentative.pop(height, None)
        executed: list[tuple[KvOperation, str | None]] = []
        for transaction in block.transactions:
            operation = decode_operation(transaction)
            if operation is None or operation.operation_id in self.results:
                continue
            result: str | None
            if operation.kind == "put":
                self.kv[operation.key] = operation.value
                result = None
            else:
                result = self.kv.get(operation.key)
            self.results[operation.operation_id] = result
            self._mempool.pop(operation.operation_id, None)
            self._included_at_ms.pop(operation.operation_id, None)
            executed.append((operation, result))
        return executed

    # --- internals ----------------------------------------------------------------------------

    def _operations_to_include(self, limit: int | None = None) -> list[KvOperation]:
        limit = self.block_operations_max if limit is None else limit
        chosen: list[KvOperation] = []
        for operation_id, operation in self._mempool.items():
            if len(chosen) >= limit:
                break
            included = self._included_at_ms.get(operation_id)
            if included is not None and self._clock_ms - included < self.reinclude_after_ms:
                continue
            chosen.append(operation)
        return chosen

    def _transactions_root(self, transactions: Sequence[types_pb2.Transaction]) -> bytes:
        return merkle_root([sha256(transaction.body) for transaction in transactions], sha256)

    def is_valid(self, block: types_pb2.Block) -> bool:
        """The checks of validate_block, without its bookkeeping."""
        header = block.header
        if not block.HasField("header"):
            return False
        if (
            header.version != BLOCK_VERSION
            or header.chain_id != self.chain_id
            or header.genesis_hash != self.genesis_hash
            or header.validator_set_hash != self.validator_set_hash
            or header.height < 1
            or header.proposer not in self._validator_set
            or header.transaction_count != len(block.transactions)
            or len(block.transactions) < 1
            or len(header.previous_hash) != len(ZERO_HASH)
        ):
            return False
        if header.transactions_root != self._transactions_root(block.transactions):
            return False
        try:
            first = decode(
                types_pb2.TransactionBody,
                block.transactions[0].body,
                bytes_max=TRANSACTION_BYTES_MAX,
            )
            if first.contract != MARKER_CONTRACT:
                return False
            for transaction in block.transactions[1:]:
                if decode_operation(transaction) is None:
                    return False
        except (CausewayError, UnicodeDecodeError):
            return False
        return True
