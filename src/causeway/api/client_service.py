"""The client service of a node (ChainService): submissions, reads, proofs and live streams.

It reads the store and the state tree, admits transactions through the node's SharedMempool and
hands what it accepted to the node's routing (gossip); the node tells it of each block written
(`block_committed`), which answers the clients waiting for their transactions and wakes the
streams. Everything it serves comes from durable storage or from a block already written.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from google.protobuf.message import DecodeError as ProtobufDecodeError

from causeway.api.light_reads import (
    check_states_request,
    states_response,
    validator_set_response,
)
from causeway.api.requests import (
    SubmittedTransaction,
    submitted_transaction,
    submitted_transactions,
)
from causeway.api.v1 import api_pb2
from causeway.crypto import CryptoProfile
from causeway.errors import (
    HeightUnavailableError,
    LimitExceededError,
    NodeUnavailableError,
    NotFoundError,
    RequestError,
)
from causeway.execution import Executor, StateReader, TransactionRules, TransactionVerifier
from causeway.mempool import SharedMempool
from causeway.state import StateTree
from causeway.storage import Store
from causeway.types import (
    DecodedTransaction,
    encode,
    merkle_proof,
    transaction_id,
)
from causeway.types.v1 import types_pb2

SUBMIT_WAIT_TIMEOUT_MS_DEFAULT = 30_000
WAIT_TIMEOUT_MS_MAX = 120_000
# Blocks kept decoded for followers (SDK streams, the bench), who ask for the newest at once.
RECENT_BLOCKS_CACHED = 8

_Waiter = asyncio.Future[tuple[int, types_pb2.TransactionResult]]


@dataclass(frozen=True, slots=True)
class ChainFacts:
    """What a node says about itself, fixed for its lifetime."""

    chain_id: str
    profile: CryptoProfile
    genesis_hash: bytes
    consensus: str
    node_id: str
    # The most transactions one submit_batch may carry.
    admission_batch_max: int


class ClientService:
    """Implements causeway.api.ChainService over a node's components."""

    def __init__(
        self,
        *,
        facts: ChainFacts,
        store: Store,
        tree: StateTree,
        executor: Executor,
        reader: StateReader,
        mempool: SharedMempool,
        transaction_verifier: TransactionVerifier,
        chain_config: Callable[[], types_pb2.ChainConfig],
        route_admitted: Callable[[list[DecodedTransaction]], None],
        role: Callable[[], str],
        peers_connected: Callable[[], int],
        on_rejected: Callable[[str], None],
        stopping: asyncio.Event,
        validator_set: Callable[[int], tuple[int, types_pb2.ValidatorSet]] | None = None,
    ) -> None:
        """route_admitted gets the transactions a submission added to the mempool (for the
        node to gossip); on_rejected the reason of each transaction refused (for metrics);
        stopping, once set, makes every call answer NodeUnavailableError. validator_set: (from
        height, set) by the validator schedule in state, for heights below the store's
        validator-set index (GetValidatorSet); None answers from the index alone."""
        self._facts = facts
        self._store = store
        self._tree = tree
        self._executor = executor
        self._reader = reader
        self._mempool = mempool
        self._transaction_verifier = transaction_verifier
        self._chain_config = chain_config
        self._route_admitted = route_admitted
        self._role = role
        self._peers_connected = peers_connected
        self._on_rejected = on_rejected
        self._stopping = stopping
        self._validator_set = validator_set
        self._waiters: dict[bytes, list[_Waiter]] = {}
        # Set by close(): a call whose admission was still running then must not wait for a
        # commit that will not come (the consensus driver stops with the node).
        self._closed = False
        self._block_committed = asyncio.Event()
        self._recent_blocks: OrderedDict[int, api_pb2.BlockEvent] = OrderedDict()

    # ------------------------------------------------------------------ from the node

    def block_committed(
        self,
        height: int,
        event: api_pb2.BlockEvent,
        transaction_ids: Sequence[bytes],
        results: Sequence[types_pb2.TransactionResult],
    ) -> None:
        """A block is durably written: answer its waiting clients and wake the streams."""
        # Followers ask for the newest blocks right away: serve those from memory instead of
        # reading back and decoding what was just written.
        self._recent_blocks[height] = event
        while len(self._recent_blocks) > RECENT_BLOCKS_CACHED:
            self._recent_blocks.popitem(last=False)
        for committed_id, result in zip(transaction_ids, results, strict=True):
            for future in self._waiters.pop(committed_id, ()):
                if not future.done():
                    future.set_result((height, result))
        # Wake every stream waiting for a new block, then arm the event for the next one.
        self._block_committed.set()
        self._block_committed = asyncio.Event()

    def certificate_replaced(self, height: int) -> None:
        """The block at ``height`` has a new certificate in the store (a raft majority one):
        serve it from there, not from the event kept in memory."""
        self._recent_blocks.pop(height, None)

    def close(self) -> None:
        """Answers clients waiting for a commit before the servers cut their calls off, and
        those whose admission is still running once it returns."""
        self._closed = True
        for futures in self._waiters.values():
            for future in futures:
                if not future.done():
                    future.set_exception(NodeUnavailableError("the node is shutting down"))
        self._waiters.clear()

    async def submit_many(
        self, transactions: Sequence[SubmittedTransaction], wait: bool, wait_timeout_ms: int
    ) -> list[api_pb2.SubmitResponse]:
        """Admits a batch (also the node's own transactions, such as evidence) and, with wait,
        answers when each accepted one commits or the wait times out."""
        if self._stopping.is_set():
            raise NodeUnavailableError("the node is shutting down")
        if len(transactions) > self._facts.admission_batch_max:
            raise LimitExceededError(
                f"batch of {len(transactions)} transactions is above the limit of "
                f"{self._facts.admission_batch_max}"
            )
        outcomes = await asyncio.to_thread(self._mempool.admit, transactions, now_ms())
        accepted = [o for o in outcomes if isinstance(o, DecodedTransaction)]
        self._route_admitted(accepted)
        responses: list[api_pb2.SubmitResponse] = []
        waits: list[tuple[int, _Waiter]] = []
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, RequestError):
                self._on_rejected(outcome.reason)
                responses.append(
                    api_pb2.SubmitResponse(
                        transaction_id=self._transaction_id_or_empty(transactions[index]),
                        accepted=False,
                        rejection=api_pb2.Rejection(reason=outcome.reason, message=outcome.message),
                    )
                )
                continue
            responses.append(api_pb2.SubmitResponse(transaction_id=outcome.id, accepted=True))
            if wait:
                waits.append((index, self._wait_for_commit(outcome.id)))
        if waits:
            timeout_s = _bounded_wait_ms(wait_timeout_ms, SUBMIT_WAIT_TIMEOUT_MS_DEFAULT) / 1000
            try:
                await asyncio.wait([f for _, f in waits], timeout=timeout_s)
            finally:
                # Also when the call is cancelled: no waiter may outlive its request.
                for index, future in waits:
                    if future.done() and not future.cancelled() and future.exception() is None:
                        height, result = future.result()
                        responses[index].committed = True
                        responses[index].height = height
                        responses[index].result.CopyFrom(result)
                    else:
                        future.cancel()
                        self._forget_waiter(responses[index].transaction_id, future)
        return responses

    # ------------------------------------------------------------------ ChainService

    async def submit(self, request: api_pb2.SubmitRequest) -> api_pb2.SubmitResponse:
        (response,) = await self.submit_many(
            [submitted_transaction(request)], request.wait_for_commit, request.wait_timeout_ms
        )
        return response

    async def submit_batch(
        self, request: api_pb2.SubmitBatchRequest
    ) -> api_pb2.SubmitBatchResponse:
        responses = await self.submit_many(
            submitted_transactions(request), request.wait_for_commit, request.wait_timeout_ms
        )
        return api_pb2.SubmitBatchResponse(responses=responses)

    async def query(self, request: api_pb2.QueryRequest) -> api_pb2.QueryResponse:
        reader = self._reader
        executor = self._executor
        height = self._store.latest_height()
        now = now_ms()
        # The transaction verifier's rules, as for a submission, but any member may query.
        (outcome,) = await asyncio.to_thread(
            self._transaction_verifier.verify,
            [submitted_transaction(request)],
            now,
            TransactionRules.of(self._chain_config()),
            lambda member_id: executor.get_member(reader, member_id),
            query=True,
        )
        if isinstance(outcome, RequestError):
            raise outcome
        result = await asyncio.to_thread(executor.query, reader, outcome, now, height=height + 1)
        return api_pb2.QueryResponse(height=height, result=result)

    async def get_block(self, request: api_pb2.GetBlockRequest) -> api_pb2.GetBlockResponse:
        height = self._resolve_height(request.height)
        if request.header_only:
            return await asyncio.to_thread(self._signed_header, height)
        event = await asyncio.to_thread(self._block_event, height)
        return api_pb2.GetBlockResponse(
            block=event.block, certificate=event.certificate, results=event.results
        )

    async def get_transaction(
        self, request: api_pb2.GetTransactionRequest
    ) -> api_pb2.GetTransactionResponse:
        if len(request.transaction_id) != 32:
            raise RequestError("a transaction id is 32 bytes", reason="malformed")
        location = self._store.find_transaction(request.transaction_id)
        if location is None and request.wait_timeout_ms > 0:
            future = self._wait_for_commit(request.transaction_id)
            timeout_s = _bounded_wait_ms(request.wait_timeout_ms, 0) / 1000
            try:
                await asyncio.wait([future], timeout=timeout_s)
            finally:
                if future.done() and not future.cancelled():
                    future.exception()  # read, so that a shutdown error is not reported unread
                else:
                    future.cancel()
                self._forget_waiter(request.transaction_id, future)
            location = self._store.find_transaction(request.transaction_id)
        if location is None:
            raise NotFoundError("no committed transaction has this id")
        height, index = location
        return await asyncio.to_thread(self._transaction_response, height, index)

    async def get_state(self, request: api_pb2.GetStateRequest) -> api_pb2.GetStateResponse:
        height = self._resolve_height(request.height)
        earliest = self._earliest_state_height()
        if height < earliest:
            raise HeightUnavailableError(
                f"state at height {height} is pruned; the earliest kept is {earliest}"
            )

        def read() -> api_pb2.GetStateResponse:
            value = self._store.get_state(request.key, height)
            proof = self._tree.prove(request.key, height)
            return api_pb2.GetStateResponse(
                found=value is not None,
                value=value or b"",
                height=height,
                header=self._store.get_header(height),
                proof=proof,
            )

        return await asyncio.to_thread(read)

    # Light-client reads (causeway.api.light_reads).
    async def get_states(self, request: api_pb2.GetStatesRequest) -> api_pb2.GetStatesResponse:
        check_states_request(request)
        height = self._resolve_height(request.height)
        earliest = self._earliest_state_height()
        if height < earliest:
            raise HeightUnavailableError(
                f"state at height {height} is pruned; the earliest kept is {earliest}"
            )
        return await asyncio.to_thread(states_response, self._store, self._tree, request, height)

    async def get_validator_set(
        self, request: api_pb2.GetValidatorSetRequest
    ) -> api_pb2.GetValidatorSetResponse:
        return await asyncio.to_thread(
            validator_set_response, self._store, request, self._scheduled_validator_set
        )

    def _scheduled_validator_set(self, height: int) -> tuple[int, types_pb2.ValidatorSet]:
        if self._validator_set is None:
            raise HeightUnavailableError(f"no validator set is indexed for height {height}")
        return self._validator_set(height)

    async def get_status(self, request: api_pb2.GetStatusRequest) -> api_pb2.GetStatusResponse:
        del request
        facts = self._facts
        latest = self._store.latest_height()
        return api_pb2.GetStatusResponse(
            chain_id=facts.chain_id,
            height=latest,
            latest_block_hash=self._store.get_block_hash(latest) if latest else b"",
            crypto_profile=facts.profile.name,
            consensus=facts.consensus,
            node_id=facts.node_id,
            mempool_size=len(self._mempool),
            genesis_hash=facts.genesis_hash,
            earliest_state_height=self._earliest_state_height() if latest else 0,
            role=self._role(),
            peers_connected=self._peers_connected(),
        )

    async def stream_blocks(
        self, request: api_pb2.StreamBlocksRequest
    ) -> AsyncIterator[api_pb2.BlockEvent]:
        height = max(1, request.from_height)
        while True:
            latest = self._store.latest_height()
            while height <= latest:
                yield await asyncio.to_thread(self._block_event, height)
                height += 1
            await self._wait_for_block_after(latest)

    async def stream_events(
        self, request: api_pb2.StreamEventsRequest
    ) -> AsyncIterator[types_pb2.EventRecord]:
        position = (max(1, request.from_height), 0, 0)
        while True:
            latest = self._store.latest_height()
            for record in self._store.iterate_events(position, request.contract, request.name):
                if record.height > latest:
                    break
                yield record
                position = (record.height, record.transaction_index, record.event_index + 1)
            position = max(position, (latest + 1, 0, 0))
            await self._wait_for_block_after(latest)

    # ------------------------------------------------------------------ helpers

    def _transaction_id_or_empty(self, transaction: SubmittedTransaction) -> bytes:
        """The id of a refused transaction, when it has a body to hash."""
        if isinstance(transaction, bytes):
            try:
                transaction = types_pb2.Transaction.FromString(transaction)
            except (ProtobufDecodeError, RuntimeError, ValueError):
                return b""
        return self._facts.profile.hash(transaction.body) if transaction.body else b""

    def _wait_for_commit(self, transaction_id: bytes) -> _Waiter:
        future: _Waiter = asyncio.get_running_loop().create_future()
        if self._closed:
            future.set_exception(NodeUnavailableError("the node is shutting down"))
            return future
        self._waiters.setdefault(transaction_id, []).append(future)
        # It may have committed between admission and now; then answer from storage.
        location = self._store.find_transaction(transaction_id)
        if location is not None:
            height, index = location
            future.set_result((height, self._store.get_results(height)[index]))
            self._forget_waiter(transaction_id, future)
        return future

    def _forget_waiter(self, transaction_id: bytes, future: _Waiter) -> None:
        futures = self._waiters.get(transaction_id)
        if futures is None:
            return
        with contextlib.suppress(ValueError):
            futures.remove(future)
        if not futures:
            del self._waiters[transaction_id]

    def _resolve_height(self, requested: int) -> int:
        latest = self._store.latest_height()
        if requested == 0:
            if latest == 0:
                raise NotFoundError("no block has been committed yet")
            return latest
        if requested > latest:
            raise NotFoundError(f"height {requested} is not committed yet (latest is {latest})")
        return requested

    def _block_event(self, height: int) -> api_pb2.BlockEvent:
        cached = self._recent_blocks.get(height)
        if cached is not None:
            return cached
        return api_pb2.BlockEvent(
            block=self._store.get_block(height),
            certificate=self._store.get_certificate(height),
            results=self._store.get_results(height),
        )

    def _signed_header(self, height: int) -> api_pb2.GetBlockResponse:
        """A GetBlock answer without transactions or results: the store keeps headers and
        certificates as records of their own, so a busy block's body is neither read nor decoded."""
        cached = self._recent_blocks.get(height)
        if cached is not None:
            header, certificate = cached.block.header, cached.certificate
        else:
            header = self._store.get_header(height)
            certificate = self._store.get_certificate(height)
        return api_pb2.GetBlockResponse(
            block=types_pb2.Block(header=header), certificate=certificate
        )

    def _transaction_response(self, height: int, index: int) -> api_pb2.GetTransactionResponse:
        profile = self._facts.profile
        block = self._store.get_block(height)
        results = self._store.get_results(height)
        # A stored block's transactions were checked before it was written: their ids are the
        # hashes of their bodies, with nothing to decode or encode again.
        ids = [transaction_id(t.body, profile.hash) for t in block.transactions]
        return api_pb2.GetTransactionResponse(
            transaction=block.transactions[index],
            result=results[index],
            height=height,
            index=index,
            header=block.header,
            transaction_proof=merkle_proof(ids, index, profile.hash),
            result_proof=merkle_proof([encode(r) for r in results], index, profile.hash),
        )

    def _earliest_state_height(self) -> int:
        latest = self._store.latest_height()
        history = self._chain_config().state_history_heights
        # The node prunes every so many blocks, so more may be kept; promise only the window.
        return max(1, latest - history + 1)

    async def _wait_for_block_after(self, height: int) -> None:
        while self._store.latest_height() <= height and not self._stopping.is_set():
            event = self._block_committed
            stop = asyncio.ensure_future(self._stopping.wait())
            block = asyncio.ensure_future(event.wait())
            await asyncio.wait({stop, block}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            block.cancel()
        if self._stopping.is_set():
            raise NodeUnavailableError("the node is shutting down")


def _bounded_wait_ms(requested_ms: int, default_ms: int) -> int:
    return min(requested_ms or default_ms, WAIT_TIMEOUT_MS_MAX)


def now_ms() -> int:
    return time.time_ns() // 1_000_000
