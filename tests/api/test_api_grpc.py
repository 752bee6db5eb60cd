"""The gRPC adapter over a real grpc.aio server on 127.0.0.1, with the in-memory double."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any, TypeVar, cast

import grpc
import pytest
from chain_double import ChainDouble, state_key_of
from chain_servers import AsyncServer
from google.protobuf.message import Message

from causeway.api import (
    REASON_METADATA_KEY,
    create_grpc_server,
    grpc_server_port,
)
from causeway.api.v1 import api_pb2, api_pb2_grpc
from causeway.errors import (
    CausewayError,
    ConfigurationError,
    DecodeError,
    DuplicateError,
    ExpiredError,
    HeightUnavailableError,
    InvariantError,
    LimitExceededError,
    MempoolFullError,
    NodeUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    ProofError,
    RequestError,
    SignatureError,
    UnknownMemberError,
    WrongChainError,
)
from causeway.sdk import Identity, build_transaction
from causeway.types.v1 import types_pb2


@pytest.fixture
async def stub(server: AsyncServer) -> AsyncIterator[api_pb2_grpc.ChainAsyncStub]:
    channel = grpc.aio.insecure_channel(server.address)
    try:
        yield api_pb2_grpc.ChainStub(channel)
    finally:
        await channel.close(None)


def _transaction(identity: Identity, argument: bytes = b"hello") -> types_pb2.Transaction:
    return build_transaction(identity, identity.chain_id, "ledger", "transfer", argument)


def _reason(error: grpc.aio.AioRpcError) -> str | None:
    pairs: Iterable[Any] = error.trailing_metadata() or ()
    for key, value in pairs:
        if key == REASON_METADATA_KEY:
            return str(value)
    return None


T = TypeVar("T")


async def _read(call: grpc.aio.UnaryStreamCall[Any, T]) -> T:
    item = await call.read()
    assert isinstance(item, Message), "the stream ended"
    return cast(T, item)


async def test_every_unary_method(
    stub: api_pb2_grpc.ChainAsyncStub, double: ChainDouble, identity: Identity
) -> None:
    transaction = _transaction(identity)
    submitted = await stub.Submit(
        api_pb2.SubmitRequest(transaction=transaction, wait_for_commit=True)
    )
    assert submitted.accepted and submitted.committed and submitted.height == 1
    assert submitted.result.status == types_pb2.RESULT_STATUS_OK

    batch = await stub.SubmitBatch(
        api_pb2.SubmitBatchRequest(
            transactions=[_transaction(identity, b"a"), _transaction(identity, b"b")]
        )
    )
    assert [r.accepted for r in batch.responses] == [True, True]

    queried = await stub.Query(api_pb2.QueryRequest(transaction=_transaction(identity, b"q")))
    assert queried.result.return_value == b"q" and queried.height == 3

    latest = await stub.GetBlock(api_pb2.GetBlockRequest())
    first = await stub.GetBlock(api_pb2.GetBlockRequest(height=1))
    assert latest.block.header.height == 3
    assert first.block.transactions[0] == transaction

    found = await stub.GetTransaction(
        api_pb2.GetTransactionRequest(transaction_id=submitted.transaction_id)
    )
    assert found.height == 1 and found.index == 0 and found.transaction == transaction

    state = await stub.GetState(api_pb2.GetStateRequest(key=state_key_of(submitted.transaction_id)))
    assert state.found and state.value == b"hello" and state.height == 3

    status = await stub.GetStatus(api_pb2.GetStatusRequest())
    assert status.chain_id == "test-chain" and status.height == 3
    assert double.calls == [
        "submit",
        "submit_batch",
        "query",
        "get_block",
        "get_block",
        "get_transaction",
        "get_state",
        "get_status",
    ]


async def test_streams_send_history_then_live_blocks(
    stub: api_pb2_grpc.ChainAsyncStub, double: ChainDouble, identity: Identity
) -> None:
    for argument in (b"1", b"2", b"3"):
        double.commit([_transaction(identity, argument)])
    blocks = stub.StreamBlocks(api_pb2.StreamBlocksRequest(from_height=2))
    events = stub.StreamEvents(api_pb2.StreamEventsRequest(from_height=3, name="transfer.1"))
    try:
        heights = [(await _read(blocks)).block.header.height for _ in range(2)]
        assert heights == [2, 3]
        record = await _read(events)
        assert (record.height, record.transaction_index, record.event_index) == (3, 0, 1)
        double.commit([_transaction(identity, b"4")])
        live = await asyncio.wait_for(_read(blocks), 5)
        assert live.block.header.height == 4
        live_record = await asyncio.wait_for(_read(events), 5)
        assert live_record.height == 4 and live_record.event.name == "transfer.1"
    finally:
        blocks.cancel()
        events.cancel()


async def test_finite_stream_ends_with_ok(
    stub: api_pb2_grpc.ChainAsyncStub, double: ChainDouble, identity: Identity
) -> None:
    double.live = False
    double.commit([_transaction(identity), _transaction(identity)])
    records = [r async for r in stub.StreamEvents(api_pb2.StreamEventsRequest(contract="ledger"))]
    positions = [(r.height, r.transaction_index, r.event_index) for r in records]
    assert positions == [(1, 0, 0), (1, 0, 1), (1, 1, 0), (1, 1, 1)]


ERROR_CASES = [
    (RequestError("bad"), grpc.StatusCode.INVALID_ARGUMENT),
    (DecodeError("garbage"), grpc.StatusCode.INVALID_ARGUMENT),
    (LimitExceededError("big"), grpc.StatusCode.INVALID_ARGUMENT),
    (WrongChainError("other chain"), grpc.StatusCode.INVALID_ARGUMENT),
    (SignatureError("forged"), grpc.StatusCode.INVALID_ARGUMENT),
    (ExpiredError("late"), grpc.StatusCode.INVALID_ARGUMENT),
    (ProofError("wrong"), grpc.StatusCode.INVALID_ARGUMENT),
    (DuplicateError("again"), grpc.StatusCode.ALREADY_EXISTS),
    (NotFoundError("nothing"), grpc.StatusCode.NOT_FOUND),
    (HeightUnavailableError("pruned"), grpc.StatusCode.OUT_OF_RANGE),
    (PermissionDeniedError("no"), grpc.StatusCode.PERMISSION_DENIED),
    (UnknownMemberError("who"), grpc.StatusCode.PERMISSION_DENIED),
    (MempoolFullError("full"), grpc.StatusCode.RESOURCE_EXHAUSTED),
    (NodeUnavailableError("stopping"), grpc.StatusCode.UNAVAILABLE),
    (RequestError("custom", reason="nonce_reused"), grpc.StatusCode.INVALID_ARGUMENT),
]


@pytest.mark.parametrize(("error", "code"), ERROR_CASES, ids=lambda e: type(e).__name__)
async def test_errors_map_to_status_details_and_reason(
    stub: api_pb2_grpc.ChainAsyncStub,
    double: ChainDouble,
    error: CausewayError,
    code: grpc.StatusCode,
) -> None:
    double.fail_with["get_status"] = error
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetStatus(api_pb2.GetStatusRequest())
    assert raised.value.code() == code
    assert raised.value.details() == f"{error.reason}: {error.message}"
    assert _reason(raised.value) == error.reason


@pytest.mark.parametrize(
    "error",
    [RuntimeError("secret detail"), InvariantError("broken"), ConfigurationError("bad file")],
    ids=lambda e: type(e).__name__,
)
async def test_unexpected_errors_are_internal_and_logged_not_sent(
    stub: api_pb2_grpc.ChainAsyncStub,
    double: ChainDouble,
    error: Exception,
    caplog: pytest.LogCaptureFixture,
) -> None:
    double.fail_with["get_block"] = error
    with (
        caplog.at_level(logging.ERROR, logger="causeway.api.grpc"),
        pytest.raises(grpc.aio.AioRpcError) as raised,
    ):
        await stub.GetBlock(api_pb2.GetBlockRequest())
    assert raised.value.code() == grpc.StatusCode.INTERNAL
    assert raised.value.details() == "internal: internal error"
    assert _reason(raised.value) == "internal"
    assert "GetBlock failed unexpectedly" in caplog.text
    assert str(error) in caplog.text


async def test_stream_errors_map_like_unary_ones(
    stub: api_pb2_grpc.ChainAsyncStub, double: ChainDouble
) -> None:
    double.fail_with["stream_blocks"] = HeightUnavailableError("pruned")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for _ in stub.StreamBlocks(api_pb2.StreamBlocksRequest(from_height=1)):
            pass
    assert raised.value.code() == grpc.StatusCode.OUT_OF_RANGE
    assert _reason(raised.value) == "height_unavailable"


async def test_oversized_message_is_refused_before_the_service(
    double: ChainDouble, identity: Identity
) -> None:
    small = AsyncServer(double, message_bytes_max=4096)
    await small.start()
    channel = grpc.aio.insecure_channel(small.address)
    try:
        stub = api_pb2_grpc.ChainStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.Submit(
                api_pb2.SubmitRequest(transaction=_transaction(identity, bytes(10_000)))
            )
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert double.calls == []
    finally:
        await channel.close(None)
        await small.stop()


@pytest.mark.parametrize(
    ("method", "stream"),
    [("Submit", False), ("GetStatus", False), ("StreamBlocks", True)],
)
async def test_garbage_protobuf_is_malformed(
    server: AsyncServer, double: ChainDouble, method: str, stream: bool
) -> None:
    channel = grpc.aio.insecure_channel(server.address)
    path = f"/causeway.api.v1.Chain/{method}"
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            if stream:
                call = channel.unary_stream(path, None, None)
                async for _ in call(b"\xff\xff\xff\xff"):
                    pass
            else:
                await channel.unary_unary(path, None, None)(b"\x0a\x05ab")
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert _reason(raised.value) == "malformed"
        assert double.calls == []
    finally:
        await channel.close(None)


class _ClosingStreamService(ChainDouble):
    """Records whether its stream generator was closed when the client went away."""

    closed_streams: int = 0

    async def stream_blocks(
        self, request: api_pb2.StreamBlocksRequest
    ) -> AsyncIterator[api_pb2.BlockEvent]:
        try:
            while True:
                yield api_pb2.BlockEvent()
                await asyncio.sleep(0.01)
        finally:
            self.closed_streams += 1


async def test_cancelled_stream_closes_the_service_iterator() -> None:
    service = _ClosingStreamService()
    running = AsyncServer(service)
    await running.start()
    channel = grpc.aio.insecure_channel(running.address)
    try:
        call = api_pb2_grpc.ChainStub(channel).StreamBlocks(api_pb2.StreamBlocksRequest())
        await call.read()
        call.cancel()
        for _ in range(200):
            if service.closed_streams:
                break
            await asyncio.sleep(0.01)
        assert service.closed_streams == 1
    finally:
        await channel.close(None)
        await running.stop()


async def test_address_without_host_means_loopback(double: ChainDouble) -> None:
    server = create_grpc_server(double, ":0", message_bytes_max=1024)
    try:
        assert grpc_server_port(server) > 0
    finally:
        await server.stop(None)
    default = create_grpc_server(double, message_bytes_max=1024)
    try:
        await default.start()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{grpc_server_port(default)}")
        status = await api_pb2_grpc.ChainStub(channel).GetStatus(api_pb2.GetStatusRequest())
        assert status.chain_id == "test-chain"
        await channel.close(None)
    finally:
        await default.stop(None)


async def test_bad_configuration_is_refused(double: ChainDouble) -> None:
    with pytest.raises(ConfigurationError):
        create_grpc_server(double, "127.0.0.1:0", message_bytes_max=0)
    with pytest.raises(ConfigurationError, match="cannot listen"):
        create_grpc_server(double, "203.0.113.1:1", message_bytes_max=1024)
    with pytest.raises(ConfigurationError):
        grpc_server_port(grpc.aio.server())


async def test_a_port_in_use_is_refused_not_shared(
    server: AsyncServer, double: ChainDouble
) -> None:
    with pytest.raises(ConfigurationError, match="cannot listen"):
        create_grpc_server(double, server.address, message_bytes_max=1024)
