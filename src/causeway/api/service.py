"""The service a node implements; both front doors (gRPC and HTTP/JSON) only adapt to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from causeway.api.v1 import api_pb2
from causeway.types.v1 import types_pb2


class ChainService(Protocol):
    """The client-facing operations of a node, in the messages of ``causeway.api.v1``.

    Implementations raise ``causeway.errors.RequestError`` subclasses for requests they refuse
    (the adapters turn them into gRPC statuses and HTTP errors) and ``NodeUnavailableError`` while
    the node cannot serve (starting, shutting down). A refused transaction in a submit may also be
    answered with ``accepted=False`` and a ``Rejection``; a batch always answers per transaction.
    """

    async def submit(self, request: api_pb2.SubmitRequest) -> api_pb2.SubmitResponse: ...

    async def submit_batch(
        self, request: api_pb2.SubmitBatchRequest
    ) -> api_pb2.SubmitBatchResponse: ...

    async def query(self, request: api_pb2.QueryRequest) -> api_pb2.QueryResponse: ...

    async def get_block(self, request: api_pb2.GetBlockRequest) -> api_pb2.GetBlockResponse:
        """With ``request.header_only``, the header and certificate only, without reading the
        block's transactions and results."""
        ...

    async def get_transaction(
        self, request: api_pb2.GetTransactionRequest
    ) -> api_pb2.GetTransactionResponse: ...

    async def get_state(self, request: api_pb2.GetStateRequest) -> api_pb2.GetStateResponse: ...

    async def get_status(self, request: api_pb2.GetStatusRequest) -> api_pb2.GetStatusResponse: ...

    async def get_states(self, request: api_pb2.GetStatesRequest) -> api_pb2.GetStatesResponse:
        """Many keys at one height with their proofs (causeway.api.light_reads)."""
        ...

    async def get_validator_set(
        self, request: api_pb2.GetValidatorSetRequest
    ) -> api_pb2.GetValidatorSetResponse:
        """The validator set that signed a committed height (causeway.api.light_reads)."""
        ...

    def stream_blocks(
        self, request: api_pb2.StreamBlocksRequest
    ) -> AsyncIterator[api_pb2.BlockEvent]:
        """Committed blocks from ``request.from_height`` on, then each new block as it commits."""
        ...

    def stream_events(
        self, request: api_pb2.StreamEventsRequest
    ) -> AsyncIterator[types_pb2.EventRecord]:
        """Contract events in position order from ``request.from_height`` on, then live."""
        ...
