"""Blocks built and checked by real execution: the consensus.Application of a replicated node.

A proposer builds a block from its mempool and executes it; every other validator re-executes a
proposed block and accepts it only if the header's roots match its own results. Both keep the
execution (results, state changes, tree update) by block hash, so that when consensus commits a
block it is written without being executed a third time.

Pipelining: once consensus commits a block this node executed (`block_committed`), the next block
is built or checked on that block's state while the block writer makes it durable. The state
such a block executes on is the "tip": the store's latest state with the changes of the blocks
committed and not yet written laid over it (`UnwrittenBlocksReader`), and the state tree's
pending version as its base. A block leaves the unwritten list only after the store holds it
(`forget_below`, called by the writer after its durable commit), so at every instant each
committed block is in the store, in the list, or both: a reader never misses one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from causeway.crypto import BatchVerifier, CryptoProfile, PublicKey, VerifiedTransactionCache
from causeway.errors import CausewayError, DuplicateError, HeightUnavailableError, RequestError
from causeway.execution.executor import Executor
from causeway.execution.overlay import StateReader, UnwrittenBlocksReader
from causeway.execution.schedule import VALIDATOR_CHANGE_DELAY_HEIGHTS
from causeway.execution.verification import (
    HeldLookup,
    MemberLookup,
    Sender,
    TransactionRules,
    TransactionVerifier,
)
from causeway.state import StateTree, TreeUpdate
from causeway.storage import BlockRecord, Store
from causeway.types import (
    BLOCK_VERSION,
    DecodedTransaction,
    block_hash,
    encode,
    merkle_root,
)
from causeway.types.v1 import types_pb2

log = logging.getLogger("causeway.execution")

ZERO_HASH = bytes(32)
# Executions kept for blocks proposed but not (yet) committed: a few rounds' worth.
EXECUTIONS_CACHED_MAX = 16
VALIDATOR_SETS_CACHED_MAX = 64
# How far ahead of a validator's clock a proposed block may be dated ([consensus]
# block_time_drift_ms): clocks of validators synchronised by NTP agree to well under a second;
# the margin covers a proposer whose block took a while to reach us.
BLOCK_TIME_DRIFT_MS_DEFAULT = 10_000
# A proposer sizes its block by time as well as by count ([consensus] block_build_target_ms):
# about this long to build on this node, at the speed its recent blocks were built. Under load a
# block would otherwise grow to the count limit and take seconds to build and to check, which
# every transaction in it waits for (measured: raft p50 3.0 s at a steady 2,000 tx/s).
BLOCK_BUILD_TARGET_MS_DEFAULT = 500
# The time bound never makes a block smaller than this: below it per-block costs dominate.
BLOCK_TRANSACTIONS_BY_TIME_MIN = 200
# Weight of the newest block in the running speed estimate.
_SPEED_WEIGHT = 0.3
# Blocks with fewer transactions say too little about the speed per transaction.
_SPEED_SAMPLE_MIN = 50


def transactions_for_time(
    target_ms: int, seconds_per_transaction: float | None, transactions_max: int
) -> int:
    """How many transactions a block may take so that building it takes about `target_ms`, at
    `seconds_per_transaction` (None: not measured yet), within the count limit."""
    if seconds_per_transaction is None or seconds_per_transaction <= 0:
        return transactions_max
    by_time = int(target_ms / 1000 / seconds_per_transaction)
    return min(transactions_max, max(BLOCK_TRANSACTIONS_BY_TIME_MIN, by_time))


def block_time_problem(
    time_ms: int, previous_time_ms: int, now_ms: int, drift_ms: int
) -> str | None:
    """Why a proposed block's time is refused, or None: it may equal its parent's time (blocks
    follow each other within a millisecond) and the validator's clock plus ``drift_ms``, not
    go below or beyond. ``now_ms`` is the validator's clock, read by the caller."""
    if time_ms < previous_time_ms:
        return f"the block is dated {time_ms}, before its parent ({previous_time_ms})"
    if time_ms > now_ms + drift_ms:
        return (
            f"the block is dated {time_ms}, more than {drift_ms} ms ahead of this validator's "
            f"clock ({now_ms})"
        )
    return None


@dataclass(slots=True)
class ExecutedBlock:
    block: types_pb2.Block
    block_hash: bytes
    transactions: list[DecodedTransaction]
    results: list[types_pb2.TransactionResult]
    changes: dict[bytes, bytes | None]
    tree_update: TreeUpdate
    # The set that signs the block (its header's validator_set_hash), for the storage index.
    validator_set: types_pb2.ValidatorSet
    # Seconds spent per phase ("execute", "state", "header"), for the node's metrics.
    seconds: dict[str, float]
    # The ids of `transactions`, for the duplicate checks of the blocks built on this one.
    transaction_ids: frozenset[bytes]

    @property
    def height(self) -> int:
        return self.block.header.height

    def record(self, certificate: types_pb2.CommitCertificate) -> BlockRecord:
        """What storage writes for this block: the transactions as the bytes the node has held
        since it decoded them, never encoded again."""
        return BlockRecord(
            block=self.block,
            block_hash=self.block_hash,
            certificate=certificate,
            results=self.results,
            transaction_ids=[t.id for t in self.transactions],
            state_changes=self.changes,
            tree_update=self.tree_update,
            encoded_transactions=[t.encoded for t in self.transactions],
            validator_set=self.validator_set,
        )


class ExecutionApplication:
    def __init__(
        self,
        *,
        chain_id: str,
        profile: CryptoProfile,
        genesis_hash: bytes,
        store: Store,
        tree: StateTree,
        executor: Executor,
        verifier: BatchVerifier,
        verified: VerifiedTransactionCache,
        take_transactions: Callable[[int, int, int], list[DecodedTransaction]],
        block_limits: Callable[[], tuple[int, int]],
        block_time_drift_ms: int = BLOCK_TIME_DRIFT_MS_DEFAULT,
        clock_ms: Callable[[], int] | None = None,
        drop_transactions: Callable[[Sequence[bytes]], None] | None = None,
        held_transaction: HeldLookup | None = None,
        committing_transactions: Callable[[Sequence[bytes]], None] | None = None,
        block_build_target_ms: int = BLOCK_BUILD_TARGET_MS_DEFAULT,
    ) -> None:
        """block_time_drift_ms, clock_ms: validate_block refuses a block dated more than the drift
        ahead of clock_ms() (the wall clock by default). A committed block (raft's check of
        each committed block, validate_committed_block; block sync) is not held to the clock:
        the validators certified it, and a node whose clock is late must follow the chain rather
        than stop.

        drop_transactions gets the ids of transactions taken for a block but left out of it,
        because the transaction verifier refuses them at the block's time (the mempool lets them
        go). held_transaction: the mempool's transaction by id, so that a peer's block holding
        one this node admitted is not decoded, encoded or signature-checked again
        (TransactionVerifier; every other rule is applied at the block's time).
        committing_transactions gets the ids of a block committed and not written yet
        (`block_committed`): the mempool holds them in flight, so that the next block, built
        meanwhile, does not take them again. block_build_target_ms: how long building a block
        should take here (`transactions_for_time`)."""
        self._block_time_drift_ms = block_time_drift_ms
        self._clock_ms = clock_ms if clock_ms is not None else _wall_clock_ms
        self.chain_id = chain_id
        self.profile = profile
        self.genesis_hash = genesis_hash
        # (latest committed height, height) -> (from height, set): the schedule of committed state.
        self._validator_sets: dict[tuple[int, int], tuple[int, types_pb2.ValidatorSet]] = {}
        self.store = store
        self.tree = tree
        self.executor = executor
        self.verifier = verifier
        self.verified = verified
        self._take_transactions = take_transactions
        self._block_limits = block_limits
        self._drop_transactions = drop_transactions or (lambda ids: None)
        self._committing_transactions = committing_transactions or (lambda ids: None)
        self._block_build_target_ms = block_build_target_ms
        # Seconds this node takes to execute a transaction (execution, tree, header), averaged
        # over recent blocks it built or checked.
        self.seconds_per_transaction: float | None = None
        # The one transaction verifier, as admission and queries use it (DESIGN.md section 2).
        self._transaction_verifier = TransactionVerifier(
            chain_id, profile, verifier, verified, held_transaction
        )
        # Executions by block hash, and the blocks committed by consensus and not written yet
        # (in height order): read and changed by the execution lane's thread and the writer's.
        self._lock = threading.Lock()
        self._executions: OrderedDict[bytes, ExecutedBlock] = OrderedDict()
        self._unwritten: list[ExecutedBlock] = []

    # ------------------------------------------------------------------ consensus.Application

    def block_hash(self, block: types_pb2.Block) -> bytes:
        return block_hash(block.header, self.profile.hash)

    def build_block(
        self, height: int, round_number: int, time_ms: int, proposer: str
    ) -> types_pb2.Block:
        tip = self._tip()
        previous_hash, previous_time_ms = self._previous(height, tip)
        transactions_max, bytes_max = self._block_limits()
        transactions_max = transactions_for_time(
            self._block_build_target_ms, self.seconds_per_transaction, transactions_max
        )
        candidates = self._take_transactions(transactions_max, bytes_max, time_ms)
        committed = tip.committed([t.id for t in candidates]) if candidates else []
        fresh = [t for t, done in zip(candidates, committed, strict=True) if not done]
        block_time_ms = max(time_ms, previous_time_ms)
        # The validators check every transaction by the verifier's rules at the block's time:
        # leave out what they would refuse (expired since admission, sender removed), so that
        # the block is not refused for it. What admission settled for good is not redone.
        outcomes = self._transaction_verifier.verify_admitted(
            fresh, block_time_ms, self._rules(tip.reader), self._member_lookup(tip.reader)
        )
        transactions = [o for o in outcomes if isinstance(o, DecodedTransaction)]
        refused = [
            t.id for t, o in zip(fresh, outcomes, strict=True) if isinstance(o, RequestError)
        ]
        if refused:
            log.info(
                "transactions left out of a block",
                extra={"height": height, "transactions": len(refused)},
            )
            self._drop_transactions(refused)
        executed = self._execute(
            height, block_time_ms, proposer, previous_hash, transactions, tip=tip
        )
        return executed.block

    def validate_block(self, block: types_pb2.Block) -> bool:
        """Whether the block extends our chain, its transactions pass the transaction verifier
        at the block's time, and its roots match our own execution of it."""
        return self._check_block(block, now_ms=self._clock_ms())

    def validate_committed_block(self, block: types_pb2.Block) -> bool:
        """The same checks for a block the validators have committed already (raft checks each
        committed block before applying it): not held to this validator's clock."""
        return self._check_block(block)

    def _check_block(self, block: types_pb2.Block, *, now_ms: int | None = None) -> bool:
        """now_ms: the validator's clock, for a proposed block; None for a committed one."""
        refusal = self.block_refusal(block, now_ms=now_ms)
        if refusal is not None:
            log.warning(
                "block refused",
                extra={
                    "height": block.header.height,
                    "reason": refusal.reason,
                    "error": refusal.message,
                },
            )
        return refusal is None

    def block_refusal(
        self, block: types_pb2.Block, *, now_ms: int | None = None
    ) -> RequestError | None:
        """Why the block may not follow the latest committed one (None when it may). now_ms:
        the validator's clock for a proposed block; a committed one (None) is not held to it."""
        header = block.header
        tip = self._tip()
        latest = tip.height
        if self.block_hash(block) in self._executions and header.height == latest + 1:
            # Built or already checked here; the hash covers the parent, so the state it was
            # executed on is the one it extends.
            return None
        try:
            previous_hash, previous_time_ms = self._previous(header.height, tip)
        except CausewayError as error:
            return RequestError(f"block {header.height} has no parent here: {error.message}")
        header_problems = (
            (header.version != BLOCK_VERSION, f"block version {header.version}"),
            (header.chain_id != self.chain_id, f"chain id {header.chain_id!r}"),
            (header.height != latest + 1, f"height {header.height} after {latest}"),
            (header.previous_hash != previous_hash, "previous hash"),
            (header.genesis_hash != self.genesis_hash, "genesis hash"),
            (
                header.validator_set_hash != self._set_hash(tip.reader, header.height),
                "validator set hash",
            ),
            (
                header.next_validator_set_hash != self._set_hash(tip.reader, header.height + 1),
                "next validator set hash",
            ),
            (header.transaction_count != len(block.transactions), "transaction count"),
        )
        for wrong, what in header_problems:
            if wrong:
                return RequestError(f"block {header.height}: wrong {what}")
        time_problem = block_time_problem(
            header.time_ms,
            previous_time_ms,
            header.time_ms if now_ms is None else now_ms,
            self._block_time_drift_ms,
        )
        if time_problem is not None:
            return RequestError(f"block {header.height}: {time_problem}")
        outcomes = self._transaction_verifier.verify(
            block.transactions,
            header.time_ms,
            self._rules(tip.reader),
            self._member_lookup(tip.reader),
            block=True,
        )
        transactions: list[DecodedTransaction] = []
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, RequestError):
                # The transaction's own reason, so that a refusal reads as admission's would.
                return type(outcome)(
                    f"transaction {index} of block {header.height}: {outcome.message}",
                    reason=outcome.reason,
                )
            transactions.append(outcome)
        ids = [t.id for t in transactions]
        if len(set(ids)) != len(ids):
            return DuplicateError(f"block {header.height} holds a transaction twice")
        if any(tip.committed(ids)):
            return DuplicateError(f"block {header.height} holds a committed transaction")
        executed = self._execute(
            header.height, header.time_ms, header.proposer, previous_hash, transactions, tip=tip
        )
        ours = executed.block.header
        if (
            ours.transactions_root != header.transactions_root
            or ours.results_root != header.results_root
            or ours.state_root != header.state_root
            or executed.block_hash != self.block_hash(block)
        ):
            return RequestError(f"block {header.height} does not execute to its header here")
        return None

    # ------------------------------------------------------------------ for the runtime

    def validator_set(self, height: int) -> tuple[int, types_pb2.ValidatorSet]:
        """(from height, set) in effect at `height` by the committed state's schedule; known up
        to two heights above the latest committed one (execution.VALIDATOR_CHANGE_DELAY_HEIGHTS)."""
        latest = self.store.latest_height()
        if height > latest + VALIDATOR_CHANGE_DELAY_HEIGHTS:
            # A later block may still change it: no answer is better than a wrong one.
            raise HeightUnavailableError(
                f"the validator set of height {height} is not fixed yet (latest is {latest})"
            )
        key = (latest, height)
        known = self._validator_sets.get(key)
        if known is None:
            if len(self._validator_sets) > VALIDATOR_SETS_CACHED_MAX:
                self._validator_sets.clear()
            known = self.executor.validator_set_at(LatestStateReader(self.store), height)
            self._validator_sets[key] = known
        return known

    def validator_set_hash(self, height: int) -> bytes:
        return self.profile.hash(encode(self.validator_set(height)[1]))

    def executed(self, block: types_pb2.Block) -> ExecutedBlock | None:
        """The execution of a block this node built or validated, or, failing that, a fresh one
        (a block that arrived by block sync, already certified by the validators). None for a
        block that fails."""
        hash_of_block = self.block_hash(block)
        with self._lock:
            cached = self._executions.get(hash_of_block)
        if cached is not None:
            return cached
        header = block.header
        tip = self._tip()
        transactions = self._verified_transactions(block.transactions, tip.reader)
        if transactions is None:
            return None
        executed = self._execute(
            header.height,
            header.time_ms,
            header.proposer,
            header.previous_hash,
            transactions,
            tip=tip,
        )
        return executed if executed.block_hash == hash_of_block else None

    def block_committed(self, block: types_pb2.Block) -> bool:
        """Consensus committed `block`: when this node executed it on the tip, it becomes the
        tip that the next block is built or checked on before it is written (True). False when
        it cannot (no execution kept for it, or not the tip's next height): the caller then
        waits for the block to be written before the next build or check. Its transactions are
        handed to `committing_transactions` (the mempool: in flight until written)."""
        hash_of_block = self.block_hash(block)
        with self._lock:
            executed = self._executions.get(hash_of_block)
            tip_height = (
                self._unwritten[-1].height if self._unwritten else self.store.latest_height()
            )
            if executed is None or executed.height != tip_height + 1:
                return False
            self._unwritten.append(executed)
        self._committing_transactions(list(executed.transaction_ids))
        return True

    def forget_below(self, height: int) -> None:
        """Blocks up to `height` are written: their executions are no longer needed, and they
        leave the unwritten tip (the store holds them now)."""
        with self._lock:
            for key in [k for k, v in self._executions.items() if v.height <= height]:
                del self._executions[key]
            self._unwritten = [e for e in self._unwritten if e.height > height]

    # ------------------------------------------------------------------ internals

    def _tip(self) -> _Tip:
        """What the next block executes on: the store's latest state and the blocks committed
        and not yet written (module docstring)."""
        with self._lock:
            unwritten = tuple(self._unwritten)
        store_reader = LatestStateReader(self.store)
        if not unwritten:
            return _Tip(self.store.latest_height(), (), store_reader, self.store)
        reader = UnwrittenBlocksReader(store_reader, [e.changes for e in unwritten])
        return _Tip(unwritten[-1].height, unwritten, reader, self.store)

    def _previous(self, height: int, tip: _Tip) -> tuple[bytes, int]:
        if height <= 1:
            return ZERO_HASH, 0
        for executed in tip.unwritten:
            if executed.height == height - 1:
                return executed.block_hash, executed.block.header.time_ms
        header = self.store.get_header(height - 1)
        return block_hash(header, self.profile.hash), header.time_ms

    def _set_hash(self, reader: StateReader, height: int) -> bytes:
        return self.profile.hash(encode(self.executor.validator_set_at(reader, height)[1]))

    def _rules(self, reader: StateReader) -> TransactionRules:
        return TransactionRules.of(self.executor.get_config(reader))

    def _member_lookup(self, reader: StateReader) -> MemberLookup:
        return lambda member_id: self.executor.get_member(reader, member_id)

    def _verified_transactions(
        self, transactions: Sequence[types_pb2.Transaction], reader: StateReader
    ) -> list[DecodedTransaction] | None:
        """A certified block's transactions (block sync), decoded, with their signatures checked
        (those not checked before). A certificate is the validators' decision, so the rules
        that depend on time and roles are not judged again here: a node whose clock or rules
        disagreed would otherwise stop following the chain."""
        verifier = self._transaction_verifier
        bytes_max = self._rules(reader).transaction_bytes_max
        lookup = self._member_lookup(reader)
        senders: dict[str, Sender | RequestError] = {}
        pending: list[tuple[DecodedTransaction, PublicKey]] = []
        try:
            for transaction in transactions:
                # A transaction this node holds is not decoded (nor encoded) again.
                item = verifier.decode(transaction, bytes_max)
                pending.append((item, verifier.check_sender(item, senders, lookup, query=True)))
        except CausewayError:
            return None
        if not all(verifier.verify_signatures(pending, take=True)):
            return None
        return [item for item, _ in pending]

    def _execute(
        self,
        height: int,
        time_ms: int,
        proposer: str,
        previous_hash: bytes,
        transactions: list[DecodedTransaction],
        *,
        tip: _Tip,
    ) -> ExecutedBlock:
        started = time.perf_counter()
        with self.store.latest_state() as view:
            reader: StateReader = view
            if tip.unwritten:
                reader = UnwrittenBlocksReader(view, [e.changes for e in tip.unwritten])
            # The sets come from the state the block executes on (its parent's).
            validators = self.executor.validator_set_at(reader, height)[1]
            following = self.executor.validator_set_at(reader, height + 1)[1]
            execution = self.executor.execute_block(reader, transactions, height, time_ms)
        executed_at = time.perf_counter()
        base = tip.unwritten[-1].tree_update if tip.unwritten else None
        tree_update = self.tree.apply(height, execution.changes, base=base)
        applied_at = time.perf_counter()
        header = types_pb2.BlockHeader(
            version=BLOCK_VERSION,
            chain_id=self.chain_id,
            height=height,
            previous_hash=previous_hash,
            time_ms=time_ms,
            proposer=proposer,
            transactions_root=merkle_root([t.id for t in transactions], self.profile.hash),
            results_root=merkle_root([encode(r) for r in execution.results], self.profile.hash),
            state_root=tree_update.root_hash,
            validator_set_hash=self.profile.hash(encode(validators)),
            next_validator_set_hash=self.profile.hash(encode(following)),
            transaction_count=len(transactions),
            genesis_hash=self.genesis_hash,
        )
        block = types_pb2.Block(header=header, transactions=[t.transaction for t in transactions])
        executed = ExecutedBlock(
            block=block,
            block_hash=block_hash(header, self.profile.hash),
            transactions=transactions,
            results=list(execution.results),
            changes=dict(execution.changes),
            tree_update=tree_update,
            validator_set=validators,
            seconds={
                "execute": executed_at - started,
                "state": applied_at - executed_at,
                "header": time.perf_counter() - applied_at,
            },
            transaction_ids=frozenset(t.id for t in transactions),
        )
        with self._lock:
            self._executions[executed.block_hash] = executed
            while len(self._executions) > EXECUTIONS_CACHED_MAX:
                self._executions.popitem(last=False)
        if len(transactions) >= _SPEED_SAMPLE_MIN:
            per = sum(executed.seconds.values()) / len(transactions)
            known = self.seconds_per_transaction
            self.seconds_per_transaction = (
                per if known is None else known + _SPEED_WEIGHT * (per - known)
            )
        return executed


@dataclass(frozen=True, slots=True)
class _Tip:
    """The state a next block executes on: `height` is the newest committed block (written or
    not), `unwritten` the committed blocks not written yet, `reader` the state after `height`."""

    height: int
    unwritten: tuple[ExecutedBlock, ...]
    reader: StateReader
    store: Store

    def committed(self, ids: Sequence[bytes]) -> list[bool]:
        """For each id, whether a block up to `height` holds it."""
        store_says = self.store.has_transactions(ids)
        if not self.unwritten:
            return store_says
        return [
            done or any(i in e.transaction_ids for e in self.unwritten)
            for done, i in zip(store_says, ids, strict=True)
        ]


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class LatestStateReader:
    """The executor's view (a StateReader) of the latest committed state in the store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, key: bytes) -> bytes | None:
        return self._store.get_state(key)

    def range(self, prefix: bytes, start_after: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        return self._store.range_state(prefix, start_after, limit)
