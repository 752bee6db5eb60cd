"""An in-memory ChainService for testing the front doors and the SDK (not a model of the node).

It commits every submitted transaction at once in a block of its own, with real Merkle roots,
a real state tree and real proofs, so that clients can verify what it answers. Any method can
be made to fail with ``fail_with``; ``calls`` records which methods were reached. Streams follow
new blocks while ``live`` is set, and end after the committed ones otherwise.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError, Message

from causeway.api import (
    SubmittedTransaction,
    check_states_request,
    states_response,
    submitted_transaction,
    submitted_transactions,
    validator_set_response,
)
from causeway.api.v1 import api_pb2
from causeway.crypto import get_profile
from causeway.errors import HeightUnavailableError, NotFoundError
from causeway.state import StateTree
from causeway.types import (
    block_hash,
    decode_transaction,
    encode,
    merkle_proof,
    merkle_root,
)
from causeway.types.v1 import types_pb2

TRANSACTION_BYTES_MAX = 1 << 20
EVENTS_PER_TRANSACTION = 2


class _DictReader:
    def __init__(self) -> None:
        self.nodes: dict[bytes, bytes] = {}

    def get_state_node(self, node_key: bytes) -> bytes | None:
        return self.nodes.get(node_key)


def state_key_of(transaction_id: bytes) -> bytes:
    """The key a committed transaction of the double writes its arguments under."""
    return b"tx/" + transaction_id


class _StoreView:
    """What causeway.api's light reads ask of a store, answered from the double."""

    def __init__(self, double: ChainDouble) -> None:
        self._double = double

    def latest_height(self) -> int:
        return self._double.height

    def get_header(self, height: int) -> types_pb2.BlockHeader:
        return self._double.blocks[height - 1].block.header

    def get_state(self, key: bytes, version: int | None = None) -> bytes | None:
        return self._double.values_at(self._double.height if version is None else version).get(key)

    def get_validator_set(self, height: int) -> tuple[int, types_pb2.ValidatorSet] | None:
        return (1, self._double.validators) if 1 <= height <= self._double.height else None


@dataclass
class ChainDouble:
    chain_id: str = "test-chain"
    crypto_profile: str = "intl"
    live: bool = True
    # method name -> exception raised when it is called
    fail_with: dict[str, BaseException] = field(default_factory=dict)
    # a Rejection answered by submit instead of accepting
    reject_with: api_pb2.Rejection | None = None
    earliest_state_height: int = 1
    # "contract.method" -> the return value a query of it answers (otherwise: its arguments)
    query_answers: dict[str, bytes] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    # The submit, batch, query and block requests received, as the client sent them.
    requests: list[Message] = field(default_factory=list)
    blocks: list[api_pb2.BlockEvent] = field(default_factory=list)
    events: list[types_pb2.EventRecord] = field(default_factory=list)
    # The set that signs every block of the double (its headers' validator_set_hash).
    validators: types_pb2.ValidatorSet = field(
        default_factory=lambda: types_pb2.ValidatorSet(
            validators=[
                types_pb2.Validator(
                    member_id="org1/validator",
                    algorithm="ed25519",
                    public_key=bytes(range(32)),
                    voting_power=1,
                )
            ]
        )
    )

    def __post_init__(self) -> None:
        self.hash = get_profile(self.crypto_profile).hash
        self._reader = _DictReader()
        self._tree = StateTree(self.hash, self._reader)
        self._values: list[dict[bytes, bytes]] = [{}]
        self._locations: dict[bytes, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        genesis = self._tree.apply(0, {})
        self._reader.nodes.update(genesis.new_nodes)
        self._tree.committed(genesis)

    # ------------------------------------------------------------------ building the chain

    @property
    def height(self) -> int:
        return len(self.blocks)

    def commit(
        self, transactions: list[types_pb2.Transaction], time_ms: int = 1_700_000_000_000
    ) -> api_pb2.BlockEvent:
        """Commits a block of ``transactions``; every one succeeds, writes its arguments under
        ``state_key_of(id)`` and emits EVENTS_PER_TRANSACTION events."""
        with self._lock:
            height = self.height + 1
            decoded = [
                decode_transaction(t, hash_function=self.hash, bytes_max=TRANSACTION_BYTES_MAX)
                for t in transactions
            ]
            results = []
            changes: dict[bytes, bytes | None] = {}
            for index, item in enumerate(decoded):
                events = [
                    types_pb2.Event(
                        contract=item.body.contract,
                        name=f"{item.body.method}.{number}",
                        attributes=[types_pb2.EventAttribute(key="n", value=str(number))],
                        data=item.body.arguments,
                    )
                    for number in range(EVENTS_PER_TRANSACTION)
                ]
                results.append(
                    types_pb2.TransactionResult(
                        transaction_id=item.id,
                        status=types_pb2.RESULT_STATUS_OK,
                        return_value=item.body.arguments,
                        events=events,
                        cost=types_pb2.Cost(gas_used=10, writes=1),
                    )
                )
                changes[state_key_of(item.id)] = item.body.arguments
                for event_index, contract_event in enumerate(events):
                    self.events.append(
                        types_pb2.EventRecord(
                            height=height,
                            transaction_index=index,
                            event_index=event_index,
                            transaction_id=item.id,
                            event=contract_event,
                        )
                    )
            update = self._tree.apply(height, changes)
            self._reader.nodes.update(update.new_nodes)
            self._tree.committed(update)
            values = dict(self._values[-1])
            values.update({k: v for k, v in changes.items() if v is not None})
            self._values.append(values)
            header = types_pb2.BlockHeader(
                version=1,
                chain_id=self.chain_id,
                height=height,
                previous_hash=(
                    block_hash(self.blocks[-1].block.header, self.hash)
                    if self.blocks
                    else bytes(32)
                ),
                time_ms=time_ms,
                proposer="org1/validator",
                transactions_root=merkle_root([item.id for item in decoded], self.hash),
                results_root=merkle_root([encode(r) for r in results], self.hash),
                state_root=update.root_hash,
                validator_set_hash=self.hash(encode(self.validators)),
                next_validator_set_hash=self.hash(encode(self.validators)),
                transaction_count=len(decoded),
            )
            event = api_pb2.BlockEvent(
                block=types_pb2.Block(header=header, transactions=transactions),
                certificate=types_pb2.CommitCertificate(
                    height=height, block_hash=block_hash(header, self.hash)
                ),
                results=results,
            )
            self.blocks.append(event)
            for index, item in enumerate(decoded):
                self._locations[item.id] = (height, index)
            waiters = list(self._waiters)
        for loop, waiter in waiters:
            loop.call_soon_threadsafe(waiter.set)
        return event

    async def _wait_for_block_after(self, height: int) -> None:
        waiter = asyncio.Event()
        entry = (asyncio.get_running_loop(), waiter)
        with self._lock:
            self._waiters.append(entry)
        try:
            while self.height <= height:
                await waiter.wait()
                waiter.clear()
        finally:
            with self._lock:
                self._waiters.remove(entry)

    def values_at(self, height: int) -> dict[bytes, bytes]:
        return self._values[height]

    def _enter(self, method: str) -> None:
        self.calls.append(method)
        failure = self.fail_with.get(method)
        if failure is not None:
            raise failure

    # ------------------------------------------------------------------ ChainService

    async def submit(self, request: api_pb2.SubmitRequest) -> api_pb2.SubmitResponse:
        self._enter("submit")
        self.requests.append(request)
        return self._submit_one(submitted_transaction(request), request.wait_for_commit)

    def _submit_one(self, submitted: SubmittedTransaction, wait: bool) -> api_pb2.SubmitResponse:
        if isinstance(submitted, bytes):
            try:
                transaction = types_pb2.Transaction.FromString(submitted)
            except DecodeError as error:
                # As the node answers bytes that are not a transaction: refused, not a failure.
                return api_pb2.SubmitResponse(
                    accepted=False,
                    rejection=api_pb2.Rejection(reason="malformed", message=str(error)),
                )
        else:
            transaction = submitted
        identifier = self.hash(transaction.body)
        if self.reject_with is not None:
            return api_pb2.SubmitResponse(
                transaction_id=identifier, accepted=False, rejection=self.reject_with
            )
        event = self.commit([transaction])
        response = api_pb2.SubmitResponse(transaction_id=identifier, accepted=True)
        if wait:
            response.committed = True
            response.height = event.block.header.height
            response.result.CopyFrom(event.results[0])
        return response

    async def submit_batch(
        self, request: api_pb2.SubmitBatchRequest
    ) -> api_pb2.SubmitBatchResponse:
        self._enter("submit_batch")
        self.requests.append(request)
        return api_pb2.SubmitBatchResponse(
            responses=[
                self._submit_one(t, request.wait_for_commit)
                for t in submitted_transactions(request)
            ]
        )

    async def query(self, request: api_pb2.QueryRequest) -> api_pb2.QueryResponse:
        self._enter("query")
        self.requests.append(request)
        decoded = decode_transaction(
            submitted_transaction(request), hash_function=self.hash, bytes_max=TRANSACTION_BYTES_MAX
        )
        return api_pb2.QueryResponse(
            height=self.height,
            result=types_pb2.TransactionResult(
                transaction_id=decoded.id,
                status=types_pb2.RESULT_STATUS_OK,
                return_value=self.query_answers.get(
                    f"{decoded.body.contract}.{decoded.body.method}", decoded.body.arguments
                ),
            ),
        )

    def _resolve(self, height: int) -> int:
        if self.height == 0 or height > self.height:
            raise NotFoundError(f"height {height} is not committed (latest is {self.height})")
        return height or self.height

    async def get_block(self, request: api_pb2.GetBlockRequest) -> api_pb2.GetBlockResponse:
        self._enter("get_block")
        self.requests.append(request)
        event = self.blocks[self._resolve(request.height) - 1]
        if request.header_only:
            return api_pb2.GetBlockResponse(
                block=types_pb2.Block(header=event.block.header), certificate=event.certificate
            )
        return api_pb2.GetBlockResponse(
            block=event.block, certificate=event.certificate, results=event.results
        )

    async def get_transaction(
        self, request: api_pb2.GetTransactionRequest
    ) -> api_pb2.GetTransactionResponse:
        self._enter("get_transaction")
        location = self._locations.get(request.transaction_id)
        if location is None:
            raise NotFoundError("no committed transaction has this id")
        height, index = location
        event = self.blocks[height - 1]
        identifiers = [self.hash(t.body) for t in event.block.transactions]
        return api_pb2.GetTransactionResponse(
            transaction=event.block.transactions[index],
            result=event.results[index],
            height=height,
            index=index,
            header=event.block.header,
            transaction_proof=merkle_proof(identifiers, index, self.hash),
            result_proof=merkle_proof([encode(r) for r in event.results], index, self.hash),
        )

    async def get_state(self, request: api_pb2.GetStateRequest) -> api_pb2.GetStateResponse:
        self._enter("get_state")
        height = self._resolve(request.height)
        if height < self.earliest_state_height:
            raise HeightUnavailableError(f"state at height {height} is pruned")
        value = self._values[height].get(request.key)
        return api_pb2.GetStateResponse(
            found=value is not None,
            value=value or b"",
            height=height,
            header=self.blocks[height - 1].block.header,
            proof=self._tree.prove(request.key, height),
        )

    async def get_states(self, request: api_pb2.GetStatesRequest) -> api_pb2.GetStatesResponse:
        self._enter("get_states")
        check_states_request(request)
        height = self._resolve(request.height)
        if height < self.earliest_state_height:
            raise HeightUnavailableError(f"state at height {height} is pruned")
        return states_response(_StoreView(self), self._tree, request, height)

    async def get_validator_set(
        self, request: api_pb2.GetValidatorSetRequest
    ) -> api_pb2.GetValidatorSetResponse:
        self._enter("get_validator_set")

        def unknown(height: int) -> tuple[int, types_pb2.ValidatorSet]:
            raise HeightUnavailableError(f"no validator set is kept for height {height}")

        return validator_set_response(_StoreView(self), request, unknown)

    async def get_status(self, request: api_pb2.GetStatusRequest) -> api_pb2.GetStatusResponse:
        self._enter("get_status")
        return api_pb2.GetStatusResponse(
            chain_id=self.chain_id,
            height=self.height,
            latest_block_hash=self.blocks[-1].certificate.block_hash if self.blocks else b"",
            crypto_profile=self.crypto_profile,
            consensus="solo",
            node_id="org1/validator",
            earliest_state_height=self.earliest_state_height,
        )

    async def stream_blocks(
        self, request: api_pb2.StreamBlocksRequest
    ) -> AsyncIterator[api_pb2.BlockEvent]:
        self._enter("stream_blocks")
        height = max(1, request.from_height)
        while True:
            latest = self.height
            while height <= latest:
                yield self.blocks[height - 1]
                height += 1
            if not self.live:
                return
            await self._wait_for_block_after(latest)

    async def stream_events(
        self, request: api_pb2.StreamEventsRequest
    ) -> AsyncIterator[types_pb2.EventRecord]:
        self._enter("stream_events")
        index = 0
        start = max(1, request.from_height)
        while True:
            latest = self.height
            while index < len(self.events):
                record = self.events[index]
                index += 1
                if record.height < start:
                    continue
                if request.contract and record.event.contract != request.contract:
                    continue
                if request.name and record.event.name != request.name:
                    continue
                yield record
            if not self.live:
                return
            await self._wait_for_block_after(latest)
