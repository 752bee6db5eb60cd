"""The gRPC front door: adapts a ChainService to the ``causeway.api.v1.Chain`` service.

Requests arrive as raw bytes and are parsed here rather than by gRPC, so that garbage is answered
with INVALID_ARGUMENT and the reason ``malformed`` instead of gRPC's opaque deserialisation error.
Every refused request is answered with a status from ``causeway.api.errors``, the details
``"<reason>: <message>"`` and the trailing metadata ``causeway-reason: <reason>``. Anything
unexpected is logged here and reaches the client only as INTERNAL, never as a traceback.
"""

from __future__ import annotations

import inspect
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import grpc
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Message

from causeway.api.errors import (
    INTERNAL_REASON,
    REASON_METADATA_KEY,
    grpc_status_for_error,
    is_client_visible,
)
from causeway.api.service import ChainService
from causeway.api.v1 import api_pb2, api_pb2_grpc
from causeway.errors import CausewayError, ConfigurationError, DecodeError
from causeway.types.v1 import types_pb2

SERVICE_NAME = "causeway.api.v1.Chain"
DEFAULT_GRPC_ADDRESS = "127.0.0.1:0"
LOOPBACK_HOST = "127.0.0.1"
# Bound on RPCs in flight (streams included); beyond it gRPC answers RESOURCE_EXHAUSTED.
CONCURRENT_RPCS_MAX_DEFAULT = 1024

logger = logging.getLogger("causeway.api.grpc")

RequestT = TypeVar("RequestT", bound=Message)
ResponseT = TypeVar("ResponseT", bound=Message)
if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Any, Any]

_bound_ports: weakref.WeakKeyDictionary[grpc.aio.Server, int] = weakref.WeakKeyDictionary()
# Runs before every call, with the method's name; refuses a call by aborting it
# (causeway.api.grpc_access: authentication, read roles, rate limits). For a stream it may answer
# a check run before each item sent, which aborts the stream once the caller may no longer read.
Guard = Callable[[str, "Context"], Awaitable[Callable[[], Awaitable[None]] | None]]


async def abort_with_error(context: Context, error: BaseException, method: str) -> NoReturn:
    """Ends the call with the status for ``error``; unexpected errors are logged, not sent."""
    if isinstance(error, CausewayError) and is_client_visible(error):
        logger.debug("%s refused: %s: %s", method, error.reason, error.message)
        await context.abort(
            grpc_status_for_error(error),
            f"{error.reason}: {error.message}",
            ((REASON_METADATA_KEY, error.reason),),
        )
    logger.error("%s failed unexpectedly", method, exc_info=error)
    await context.abort(
        grpc.StatusCode.INTERNAL,
        f"{INTERNAL_REASON}: internal error",
        ((REASON_METADATA_KEY, INTERNAL_REASON),),
    )


def parse_request(request_type: type[RequestT], data: bytes) -> RequestT:
    """Parses request bytes (already bounded by the server's receive limit)."""
    request = request_type()
    try:
        request.ParseFromString(data)
    except (ProtobufDecodeError, RuntimeError, ValueError) as error:
        raise DecodeError(f"not a valid {request_type.DESCRIPTOR.name}: {error}") from None
    return request


async def _close_iterator(iterator: object) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        result = close()
        if inspect.isawaitable(result):
            await result


class ChainServicerAdapter(api_pb2_grpc.ChainServicer):
    """The generated servicer interface, implemented by forwarding to a ChainService."""

    def __init__(self, service: ChainService) -> None:
        self._service = service

    async def _unary(
        self,
        method: str,
        call: Callable[[RequestT], Awaitable[ResponseT]],
        request: RequestT,
        context: Context,
    ) -> ResponseT:
        try:
            return await call(request)
        except Exception as error:
            await abort_with_error(context, error, method)

    async def Submit(  # noqa: N802 (the generated interface's names)
        self, request: api_pb2.SubmitRequest, context: Context
    ) -> api_pb2.SubmitResponse:
        return await self._unary("Submit", self._service.submit, request, context)

    async def SubmitBatch(  # noqa: N802 (the generated interface's names)
        self, request: api_pb2.SubmitBatchRequest, context: Context
    ) -> api_pb2.SubmitBatchResponse:
        return await self._unary("SubmitBatch", self._service.submit_batch, request, context)

    async def Query(  # noqa: N802 (the generated interface's names)
        self, request: api_pb2.QueryRequest, context: Context
    ) -> api_pb2.QueryResponse:
        return await self._unary("Query", self._service.query, request, context)

    async def GetBlock(  # noqa: N802 (the generated interface's names)
        self, request: api_pb2.GetBlockRequest, context: Context
    ) -> api_pb2.GetBlockResponse:
        return await self._unary("GetBlock", self._service.get_block, request, context)

    async def GetTransaction(  # noqa: N802 (the generated interface's names)
        self, request: api_pb2.GetTransactionRequest, context: Context
    ) -> api_pb2.GetTransactionResponse:
        return await self._unary("GetTransaction", self._service.get_transaction, request, context)

    async def GetState(  # noqa: N802 (the generated interface's names)
        self, request: api_pb2.GetStateRequest, context: Context
    ) -> api_pb2.GetStateResponse:
        return await self._unary("GetState", self._service.get_state, request, context)

    async def GetStatus(  # noqa: N802 (the generated interface's names)
        self, request: api_pb2.GetStatusRequest, context: Context
    ) -> api_pb2.GetStatusResponse:
        return await self._unary("GetStatus", self._service.get_status, request, context)

    async def GetStates(  # noqa: N802 (the generated interface's names)
        self, request: api_pb2.GetStatesRequest, context: Context
    ) -> api_pb2.GetStatesResponse:
        return await self._unary("GetStates", self._service.get_states, request, context)

    async def GetValidatorSet(  # noqa: N802 (the generated interface's names)
        self, request: api_pb2.GetValidatorSetRequest, context: Context
    ) -> api_pb2.GetValidatorSetResponse:
        return await self._unary(
            "GetValidatorSet", self._service.get_validator_set, request, context
        )

    async def StreamBlocks(  # noqa: N802 (the generated interface's names)
        self, request: api_pb2.StreamBlocksRequest, context: Context
    ) -> AsyncIterator[api_pb2.BlockEvent]:
        iterator: AsyncIterator[api_pb2.BlockEvent] | None = None
        try:
            iterator = self._service.stream_blocks(request)
            async for event in iterator:
                yield event
        except Exception as error:
            await abort_with_error(context, error, "StreamBlocks")
        finally:
            # The service's generator may hold a subscription: release it now, not at collection.
            await _close_iterator(iterator)

    async def StreamEvents(  # noqa: N802 (the generated interface's names)
        self, request: api_pb2.StreamEventsRequest, context: Context
    ) -> AsyncIterator[types_pb2.EventRecord]:
        iterator: AsyncIterator[types_pb2.EventRecord] | None = None
        try:
            iterator = self._service.stream_events(request)
            async for record in iterator:
                yield record
        except Exception as error:
            await abort_with_error(context, error, "StreamEvents")
        finally:
            await _close_iterator(iterator)


# protocol, method, route, status, seconds (api/operations.py's RequestObserver).
_Observer = Callable[[str, str, str, str, float], None]


def _status_name(context: Context) -> str:
    """The status a call ended with: what abort set, else UNKNOWN."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    return "UNKNOWN"


def _unary_handler(
    request_type: type[RequestT],
    method: str,
    behavior: Callable[[RequestT, Context], Awaitable[Message]],
    observe: _Observer | None = None,
) -> grpc.RpcMethodHandler[Any, Any]:
    async def serve(data: bytes, context: Context) -> Message:
        try:
            request = parse_request(request_type, data)
        except DecodeError as error:
            await abort_with_error(context, error, method)
        return await behavior(request, context)

    async def handle(data: bytes, context: Context) -> Message:
        if observe is None:
            return await serve(data, context)
        started = time.perf_counter()
        status = "UNKNOWN"
        try:
            answer = await serve(data, context)
            status = "OK"
            return answer
        except BaseException:
            status = _status_name(context)
            raise
        finally:
            observe(
                "grpc", "POST", f"/{SERVICE_NAME}/{method}", status, time.perf_counter() - started
            )

    return grpc.unary_unary_rpc_method_handler(handle, response_serializer=_serialize_response)


def _stream_handler(
    request_type: type[RequestT],
    method: str,
    behavior: Callable[[RequestT, Context], AsyncIterator[Message]],
    observe: _Observer | None = None,
) -> grpc.RpcMethodHandler[Any, Any]:
    async def handle(data: bytes, context: Context) -> AsyncIterator[Message]:
        # A stream is observed once: at its first item (OK), or at its end without one.
        started = time.perf_counter()
        observed = observe is None

        def observed_now(status: str) -> None:
            nonlocal observed
            if not observed and observe is not None:
                observed = True
                route = f"/{SERVICE_NAME}/{method}"
                observe("grpc", "POST", route, status, time.perf_counter() - started)

        try:
            try:
                request = parse_request(request_type, data)
            except DecodeError as error:
                await abort_with_error(context, error, method)
            stream = behavior(request, context)
            try:
                async for item in stream:
                    observed_now("OK")
                    yield item
            finally:
                await _close_iterator(stream)
            observed_now("OK")
        except BaseException:
            observed_now(_status_name(context))
            raise

    return grpc.unary_stream_rpc_method_handler(handle, response_serializer=_serialize_response)


def _serialize_response(message: Message) -> bytes:
    return message.SerializeToString(deterministic=True)


def method_handlers(
    servicer: ChainServicerAdapter,
    observe: _Observer | None = None,
    guard: Guard | None = None,
) -> dict[str, grpc.RpcMethodHandler[Any, Any]]:
    """The handlers of every method of the Chain service, parsing requests themselves (after
    ``guard`` let the call through); each call is told to `observe` (for the metrics) when
    given."""
    handlers = {
        "Submit": _unary_handler(api_pb2.SubmitRequest, "Submit", servicer.Submit, observe),
        "SubmitBatch": _unary_handler(
            api_pb2.SubmitBatchRequest, "SubmitBatch", servicer.SubmitBatch, observe
        ),
        "Query": _unary_handler(api_pb2.QueryRequest, "Query", servicer.Query, observe),
        "GetBlock": _unary_handler(api_pb2.GetBlockRequest, "GetBlock", servicer.GetBlock, observe),
        "GetTransaction": _unary_handler(
            api_pb2.GetTransactionRequest, "GetTransaction", servicer.GetTransaction, observe
        ),
        "GetState": _unary_handler(api_pb2.GetStateRequest, "GetState", servicer.GetState, observe),
        "GetStatus": _unary_handler(
            api_pb2.GetStatusRequest, "GetStatus", servicer.GetStatus, observe
        ),
        "GetStates": _unary_handler(
            api_pb2.GetStatesRequest, "GetStates", servicer.GetStates, observe
        ),
        "GetValidatorSet": _unary_handler(
            api_pb2.GetValidatorSetRequest, "GetValidatorSet", servicer.GetValidatorSet, observe
        ),
        "StreamBlocks": _stream_handler(
            api_pb2.StreamBlocksRequest, "StreamBlocks", servicer.StreamBlocks, observe
        ),
        "StreamEvents": _stream_handler(
            api_pb2.StreamEventsRequest, "StreamEvents", servicer.StreamEvents, observe
        ),
    }
    if guard is None:
        return handlers
    return {name: _guarded(name, handler, guard) for name, handler in handlers.items()}


def _guarded(
    method: str, handler: grpc.RpcMethodHandler[Any, Any], guard: Guard
) -> grpc.RpcMethodHandler[Any, Any]:
    if handler.unary_unary is not None:
        unary: Any = handler.unary_unary

        async def handle_unary(data: bytes, context: Context) -> Message:
            await guard(method, context)
            response: Message = await unary(data, context)
            return response

        return grpc.unary_unary_rpc_method_handler(
            handle_unary, response_serializer=_serialize_response
        )
    stream: Any = handler.unary_stream

    async def handle_stream(data: bytes, context: Context) -> AsyncIterator[Message]:
        recheck = await guard(method, context)
        items = stream(data, context)
        try:
            async for item in items:
                if recheck is not None:
                    await recheck()
                yield item
        finally:
            await _close_iterator(items)

    return grpc.unary_stream_rpc_method_handler(
        handle_stream, response_serializer=_serialize_response
    )


def normalise_address(address: str) -> str:
    """``"7051"`` and ``":7051"`` mean the loopback interface; anything else is used as given."""
    address = address.strip()
    if address.isdigit():
        return f"{LOOPBACK_HOST}:{address}"
    if address.startswith(":"):
        return f"{LOOPBACK_HOST}{address}"
    return address


def create_grpc_server(
    service: ChainService,
    address: str = DEFAULT_GRPC_ADDRESS,
    *,
    message_bytes_max: int,
    concurrent_rpcs_max: int = CONCURRENT_RPCS_MAX_DEFAULT,
    credentials: grpc.ServerCredentials | None = None,
    on_request: _Observer | None = None,
    guard: Guard | None = None,
) -> grpc.aio.Server:
    """A gRPC server for ``service``, bound to ``address`` but not started.

    ``message_bytes_max`` bounds every message received and sent. Without ``credentials`` the
    server speaks plaintext, which is why the address defaults to loopback; port 0 picks a free
    port, which ``grpc_server_port`` reports. Start with ``await server.start()``; stop with
    ``await server.stop(grace_s)``.
    """
    if message_bytes_max <= 0:
        raise ConfigurationError(f"message_bytes_max must be positive, not {message_bytes_max}")
    if concurrent_rpcs_max <= 0:
        raise ConfigurationError(f"concurrent_rpcs_max must be positive, not {concurrent_rpcs_max}")
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", message_bytes_max),
            ("grpc.max_send_message_length", message_bytes_max),
            # Without this, a second server on the same port binds silently and the kernel
            # splits connections between the two (or sends some to a stopped listener).
            ("grpc.so_reuseport", 0),
        ],
        maximum_concurrent_rpcs=concurrent_rpcs_max,
    )
    handlers = method_handlers(ChainServicerAdapter(service), on_request, guard)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    bind_address = normalise_address(address)
    try:
        if credentials is None:
            port = server.add_insecure_port(bind_address)
        else:
            port = server.add_secure_port(bind_address, credentials)
    except RuntimeError as error:
        raise ConfigurationError(f"cannot listen on {bind_address}: {error}") from None
    _bound_ports[server] = port
    return server


def grpc_server_port(server: grpc.aio.Server) -> int:
    """The port a server made by ``create_grpc_server`` listens on."""
    try:
        return _bound_ports[server]
    except KeyError:
        raise ConfigurationError("not a server made by create_grpc_server") from None
