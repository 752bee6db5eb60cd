"""The HTTP/JSON front door: the ChainService as JSON endpoints, with an OpenAPI document.

Bodies and answers are the protobuf JSON mapping of the ``causeway.api.v1`` messages (field names
in lowerCamelCase on output, either form accepted on input; bytes as base64; 64-bit integers as
strings). Refusals are ``{"reason": ..., "message": ...}`` with a fitting HTTP status; nothing
unexpected ever reaches the client as more than ``{"reason": "internal"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from google.protobuf import descriptor, json_format
from google.protobuf.message import Message
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from causeway.api.errors import (
    INTERNAL_REASON,
    error_for_reason,
    http_status_for_error,
    is_client_visible,
)
from causeway.api.operations import RequestMetrics, RequestObserver, add_probe_routes
from causeway.api.probes import Probes
from causeway.api.service import ChainService
from causeway.api.v1 import api_pb2
from causeway.errors import (
    CausewayError,
    ConfigurationError,
    DecodeError,
    LimitExceededError,
    NotFoundError,
)
from causeway.explorer import EXPLORER_PATH, explorer_files_app
from causeway.types import check_json_depth
from causeway.types.v1 import types_pb2

logger = logging.getLogger("causeway.api.http")

API_TITLE = "Causeway node API"
API_VERSION = "1"
UINT32_MAX = (1 << 32) - 1
UINT64_MAX = (1 << 64) - 1
# A waiting GET /v1/transactions/{id} holds a connection: bound how long.
WAIT_MS_MAX = 60_000
# Streams send a keep-alive line when idle this long, so proxies and clients see a live connection.
STREAM_KEEPALIVE_S_DEFAULT = 15.0
# How long a stream request waits for its first item before committing to a 200 answer; a
# request the service refuses at once (a pruned height) still gets its own status.
STREAM_FIRST_ITEM_WAIT_S = 0.05

# Bound on the contract and event-name filters of an event stream.
NAME_LENGTH_MAX = 256

MessageT = TypeVar("MessageT", bound=Message)
ItemT = TypeVar("ItemT")
StreamFormat = Literal["sse", "ndjson"]
MetricsHandler = Callable[[], tuple[bytes, str]]

_FORMAT_QUERY = Query(alias="format", description="sse or ndjson; default from the Accept header.")
# Path parameters, checked by FastAPI against these patterns (a mismatch is 400 malformed). As
# digits, a height takes at most 19: every such number fits the 64-bit heights.
HEIGHT_PATTERN = r"^(latest|[0-9]{1,19})$"
TRANSACTION_ID_PATTERN = r"^[0-9a-fA-F]{64}$"
STATE_KEY_PATTERN = r"^(?:[0-9a-fA-F]{2})+$"
_HEIGHT_PATH = Path(
    pattern=HEIGHT_PATTERN, description="A height, 0 or latest for the latest block."
)
_TRANSACTION_ID_PATH = Path(
    pattern=TRANSACTION_ID_PATTERN, description="The transaction id: 32 bytes in hexadecimal."
)
_STATE_KEY_PATH = Path(pattern=STATE_KEY_PATTERN, description="The state key in hexadecimal.")


# ---------------------------------------------------------------------------------------------
# Bodies and answers


def error_body(reason: str, message: str) -> dict[str, str]:
    return {"reason": reason, "message": message}


def error_response(error: BaseException, *, context: str = "") -> JSONResponse:
    """The answer to a failed request; anything not meant for the client is logged, not sent."""
    if isinstance(error, CausewayError) and is_client_visible(error):
        return JSONResponse(
            error_body(error.reason, error.message), status_code=http_status_for_error(error)
        )
    logger.error("HTTP request %s failed unexpectedly", context, exc_info=error)
    return JSONResponse(error_body(INTERNAL_REASON, "internal error"), status_code=500)


def message_to_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


def message_response(message: Message) -> JSONResponse:
    return JSONResponse(message_to_json(message))


def parse_json_message(data: bytes, message_type: type[MessageT]) -> MessageT:
    """Parses a protobuf-JSON body; any flaw is a DecodeError (400 malformed), among them a body
    nested deeper than JSON_DEPTH_MAX levels (refused before any parser recurses into it)."""
    name = message_type.DESCRIPTOR.name
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DecodeError(f"body is not JSON: {error}") from None
    check_json_depth(text, "body")
    try:
        content = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise DecodeError(f"body is not JSON: {error}") from None
    if not isinstance(content, dict):
        raise DecodeError(f"body must be a JSON object (protobuf JSON of {name})")
    check_protobuf_json(content, message_type.DESCRIPTOR)
    message = message_type()
    try:
        json_format.ParseDict(content, message)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as error:
        raise DecodeError(f"body is not protobuf JSON of {name}: {error}") from None
    return message


async def _answer(context: str, call: Callable[[], Awaitable[Message]]) -> Response:
    try:
        return message_response(await call())
    except Exception as error:
        return error_response(error, context=context)


def _parse_hex(value: str, what: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise DecodeError(f"{what} is not hexadecimal: {value[:80]!r}") from None


def _parse_height(value: str) -> int:
    """A height path parameter, which HEIGHT_PATTERN has checked: 'latest' is 0."""
    return 0 if value == "latest" else int(value)


# ---------------------------------------------------------------------------------------------
# Request size bound


class RequestBodyLimit:
    """Refuses bodies above ``bytes_max`` with 413 before reading them fully.

    The declared Content-Length is checked first; the body is then read chunk by chunk, counting,
    so a chunked or lying request is cut off at the bound too. The bounded body is replayed to the
    application, which therefore never sees more than ``bytes_max`` bytes.
    """

    def __init__(self, app: ASGIApp, bytes_max: int) -> None:
        self.app = app
        self.bytes_max = bytes_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await self._refuse(send, 400, DecodeError("Content-Length is not a number"))
                return
            if int(declared) > self.bytes_max:
                await self._refuse(send, 413, self._too_large())
                return
        chunks: list[bytes] = []
        total = 0
        more_body = True
        while more_body:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.bytes_max:
                await self._refuse(send, 413, self._too_large())
                return
            chunks.append(chunk)
            more_body = bool(message.get("more_body", False))
        body = b"".join(chunks)
        replayed = False

        async def replay() -> AsgiMessage:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> LimitExceededError:
        return LimitExceededError(f"request body is above the limit of {self.bytes_max} bytes")

    @staticmethod
    async def _refuse(send: Send, status: int, error: CausewayError) -> None:
        content = json.dumps(error_body(error.reason, error.message)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(content)).encode()),
                    # The unread rest of the body makes the connection unusable for another request.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})


# ---------------------------------------------------------------------------------------------
# Streams


class _Prefetcher(Generic[ItemT]):
    """Pulls items from an async iterator in a task, so a caller can wait with a timeout
    (for keep-alives) without cancelling, and thereby ending, the iterator."""

    def __init__(self, iterator: AsyncIterator[ItemT]) -> None:
        self._iterator = iterator
        self._pending: asyncio.Future[ItemT] | None = None

    def next_item(self) -> asyncio.Future[ItemT]:
        if self._pending is None:
            self._pending = asyncio.ensure_future(anext(self._iterator))
        return self._pending

    def taken(self) -> None:
        self._pending = None

    async def close(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        close = getattr(self._iterator, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()


def _stream_format(request: Request, requested: StreamFormat | None) -> StreamFormat:
    if requested is not None:
        return requested
    if "text/event-stream" in request.headers.get("accept", ""):
        return "sse"
    return "ndjson"


def _frame(stream_format: StreamFormat, event: str, event_id: str, payload: object) -> bytes:
    data = json.dumps(payload, separators=(",", ":"))
    if stream_format == "sse":
        return f"id: {event_id}\nevent: {event}\ndata: {data}\n\n".encode()
    return (data + "\n").encode()


def _error_frame(stream_format: StreamFormat, error: BaseException) -> bytes:
    if isinstance(error, CausewayError) and is_client_visible(error):
        body = error_body(error.reason, error.message)
    else:
        logger.error("HTTP stream failed unexpectedly", exc_info=error)
        body = error_body(INTERNAL_REASON, "internal error")
    if stream_format == "sse":
        return f"event: error\ndata: {json.dumps(body, separators=(',', ':'))}\n\n".encode()
    return (json.dumps({"error": body}, separators=(",", ":")) + "\n").encode()


async def _stream_response(
    open_stream: Callable[[], AsyncIterator[ItemT]],
    frame: Callable[[ItemT], bytes | None],
    stream_format: StreamFormat,
    keepalive_s: float,
    context: str,
) -> Response:
    """Answers with a stream of frames; ``frame`` returns None for items to leave out."""
    try:
        prefetcher = _Prefetcher(open_stream())
    except Exception as error:
        return error_response(error, context=context)
    first = prefetcher.next_item()
    await asyncio.wait({first}, timeout=STREAM_FIRST_ITEM_WAIT_S)
    if first.done() and not first.cancelled():
        failure = first.exception()
        if failure is not None and not isinstance(failure, StopAsyncIteration):
            await prefetcher.close()
            return error_response(failure, context=context)
    keepalive = b": keepalive\n\n" if stream_format == "sse" else b"\n"

    async def body() -> AsyncIterator[bytes]:
        try:
            while True:
                pending = prefetcher.next_item()
                done, _ = await asyncio.wait({pending}, timeout=keepalive_s)
                if not done:
                    yield keepalive
                    continue
                prefetcher.taken()
                try:
                    item = pending.result()
                except StopAsyncIteration:
                    return
                except Exception as error:
                    yield _error_frame(stream_format, error)
                    return
                encoded = frame(item)
                if encoded is not None:
                    yield encoded
        finally:
            await prefetcher.close()

    media_type = "text/event-stream" if stream_format == "sse" else "application/x-ndjson"
    return StreamingResponse(
        body(),
        media_type=media_type,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _parse_event_position(value: str) -> tuple[int, int, int]:
    parts = value.split("-")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise DecodeError(f"Last-Event-ID must be height-transaction-event, not {value[:80]!r}")
    return int(parts[0]), int(parts[1]), int(parts[2])


# ---------------------------------------------------------------------------------------------
# Request bodies: one strict reading of protobuf JSON, published as the OpenAPI schemas
#
# protobuf's JSON parser is lenient: it drops characters that are not base64, takes a field given
# under both of its names once, and reads null, numeric strings and enum numbers. A body is
# therefore first checked field by field against the forms below, which are also what the OpenAPI
# document says, so that the document and the server agree by construction:
#
# * a field is named once, by its lowerCamelCase JSON name or its proto name; unknown names and
#   null values are refused (leave a field out for its default);
# * bytes are standard base64 with padding (RFC 4648, section 4), as the gateway writes them;
# * 32-bit integers are JSON integers in range; 64-bit integers are decimal strings (as the
#   gateway writes them) or JSON integers, in range;
# * enums are their names; booleans are true or false; repeated fields are arrays without nulls.

_Field = descriptor.FieldDescriptor
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
_BASE64 = re.compile(BASE64_PATTERN)
_INT32 = ((-(1 << 31), (1 << 31) - 1), None)
_UINT32 = ((0, UINT32_MAX), None)
# As strings, 64-bit integers take at most as many digits as every value of that many digits fits:
# the pattern then says all there is to say about their range.
_INT64 = ((-(1 << 63), (1 << 63) - 1), r"^-?[0-9]{1,18}$")
_UINT64 = ((0, UINT64_MAX), r"^[0-9]{1,19}$")
_INTEGER_RANGES: dict[int, tuple[tuple[int, int], str | None]] = {
    _Field.TYPE_INT32: _INT32,
    _Field.TYPE_SINT32: _INT32,
    _Field.TYPE_SFIXED32: _INT32,
    _Field.TYPE_UINT32: _UINT32,
    _Field.TYPE_FIXED32: _UINT32,
    _Field.TYPE_INT64: _INT64,
    _Field.TYPE_SINT64: _INT64,
    _Field.TYPE_SFIXED64: _INT64,
    _Field.TYPE_UINT64: _UINT64,
    _Field.TYPE_FIXED64: _UINT64,
}
_FLOAT_WORDS = ("NaN", "Infinity", "-Infinity")


def _field_names(field: Any) -> list[str]:
    return [field.json_name] if field.json_name == field.name else [field.json_name, field.name]


def _check_single_value(value: object, field: Any, path: str) -> None:
    """One value of a field (an element, for a repeated field) in the forms the schema allows."""
    kind = field.type
    if value is None:
        raise DecodeError(f"{path}: null is not accepted; leave the field out for its default")
    if field.message_type is not None:
        if field.message_type.GetOptions().map_entry:
            if not isinstance(value, dict):
                raise DecodeError(f"{path}: expected an object (a map)")
            value_field = field.message_type.fields_by_name["value"]
            for key, item in value.items():
                _check_single_value(item, value_field, f"{path}[{key!r}]")
            return
        if not isinstance(value, dict):
            raise DecodeError(f"{path}: expected an object ({field.message_type.name})")
        check_protobuf_json(value, field.message_type, path)
    elif kind == _Field.TYPE_BYTES:
        if not (isinstance(value, str) and _BASE64.match(value)):
            raise DecodeError(f"{path}: expected standard base64 with padding")
    elif kind == _Field.TYPE_STRING:
        if not isinstance(value, str):
            raise DecodeError(f"{path}: expected a string")
    elif kind == _Field.TYPE_BOOL:
        if not isinstance(value, bool):
            raise DecodeError(f"{path}: expected true or false")
    elif kind == _Field.TYPE_ENUM:
        names = [item.name for item in field.enum_type.values]
        if value not in names:
            raise DecodeError(f"{path}: expected one of {', '.join(names)}")
    elif kind in _INTEGER_RANGES:
        (low, high), string_pattern = _INTEGER_RANGES[kind]
        number = _integer_value(value, string_pattern)
        if number is None or not low <= number <= high:
            forms = "an integer" if string_pattern is None else "an integer or a decimal string"
            raise DecodeError(f"{path}: expected {forms} from {low} to {high}")
    elif not _is_float_value(value):
        raise DecodeError(f"{path}: expected a number, NaN, Infinity or -Infinity")


def _integer_value(value: object, string_pattern: str | None) -> int | None:
    """The integer a JSON value stands for (a whole number, or a decimal string when the type
    takes one); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and string_pattern is not None and re.match(string_pattern, value):
        return int(value)
    return None


def _is_float_value(value: object) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int | float) or value in _FLOAT_WORDS


def check_protobuf_json(content: dict[str, Any], message: Any, path: str = "body") -> None:
    """Refuses, with the path of the first flaw, what the strict reading above does not allow.

    Recursion follows the body's nesting, which parse_json_message bounds beforehand.
    """
    seen: dict[str, str] = {}
    for name, value in content.items():
        field = message.fields_by_camelcase_name.get(name) or message.fields_by_name.get(name)
        if field is None:
            known = ", ".join(field.json_name for field in message.fields)
            raise DecodeError(f"{path}: unknown field {name[:80]!r} ({message.name} has {known})")
        if field.name in seen:
            raise DecodeError(
                f"{path}: field {field.json_name} is given twice, as {seen[field.name]} and {name}"
            )
        seen[field.name] = name
        field_path = f"{path}.{name}"
        if field.is_repeated and not (
            field.message_type is not None and field.message_type.GetOptions().map_entry
        ):
            if value is None:
                _check_single_value(value, field, field_path)
            if not isinstance(value, list):
                raise DecodeError(f"{field_path}: expected an array")
            for index, item in enumerate(value):
                _check_single_value(item, field, f"{field_path}[{index}]")
        else:
            _check_single_value(value, field, field_path)


def _schema_ref(full_name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{full_name}"}


def _value_schema(field: Any, pending: list[Any]) -> dict[str, Any]:
    """The JSON schema of one value of `field`, in the forms _check_single_value allows."""
    kind = field.type
    if field.message_type is not None:
        if field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            return {"type": "object", "additionalProperties": _value_schema(value_field, pending)}
        pending.append(field.message_type)
        return _schema_ref(field.message_type.full_name)
    if kind == _Field.TYPE_BYTES:
        return {"type": "string", "format": "byte", "pattern": BASE64_PATTERN}
    if kind == _Field.TYPE_STRING:
        return {"type": "string"}
    if kind == _Field.TYPE_BOOL:
        return {"type": "boolean"}
    if kind == _Field.TYPE_ENUM:
        return {"type": "string", "enum": [item.name for item in field.enum_type.values]}
    if kind in _INTEGER_RANGES:
        (low, high), string_pattern = _INTEGER_RANGES[kind]
        if string_pattern is None:
            return {"type": "integer", "minimum": low, "maximum": high}
        return {
            "type": ["string", "integer"],
            "pattern": string_pattern,
            "minimum": low,
            "maximum": high,
        }
    return {"anyOf": [{"type": "number"}, {"enum": list(_FLOAT_WORDS)}]}


def proto_json_schemas(roots: Iterable[type[Message]]) -> dict[str, Any]:
    """JSON schemas, keyed by full message name, of ``roots`` and every message they contain,
    in the forms check_protobuf_json accepts (which the gateway's own answers also take)."""
    schemas: dict[str, Any] = {}
    pending: list[Any] = [root.DESCRIPTOR for root in roots]
    while pending:
        message = pending.pop()
        if message.full_name in schemas:
            continue
        properties: dict[str, Any] = {}
        exclusive: dict[str, Any] = {}
        for field in message.fields:
            schema = _value_schema(field, pending)
            if field.is_repeated and "additionalProperties" not in schema:
                schema = {"type": "array", "items": schema}
            names = _field_names(field)
            for name in names:
                properties[name] = schema
            if len(names) == 2:
                exclusive[names[0]] = {"not": {"required": [names[1]]}}
        document: dict[str, Any] = {
            "type": "object",
            "description": (
                f"Protobuf JSON of {message.full_name}. Each field may be named by its "
                "lowerCamelCase JSON name or its proto name, not both; null is not accepted."
            ),
            "properties": properties,
            "additionalProperties": False,
        }
        if exclusive:
            document["dependentSchemas"] = exclusive
        schemas[message.full_name] = document
    return schemas


_ERROR_SCHEMA = {
    "type": "object",
    "required": ["reason", "message"],
    "properties": {
        "reason": {"type": "string", "description": "Machine-readable reason, e.g. duplicate."},
        "message": {"type": "string", "description": "Human-readable explanation."},
    },
}


def _json_body(message: type[Message]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _schema_ref(message.DESCRIPTOR.full_name)}},
        }
    }


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "Malformed or invalid request",
        403: "Sender unknown or not permitted",
        404: "Not found",
        409: "Duplicate transaction",
        413: "Request body or message too large",
        416: "Height pruned or not yet committed",
        429: "Mempool full; retry later",
        503: "Node unavailable",
    }
    schema = {"$ref": "#/components/schemas/Error"}
    return {
        status: {
            "description": descriptions[status],
            "content": {"application/json": {"schema": schema}},
        }
        for status in statuses
    }


def _answers(message: type[Message], *error_statuses: int) -> dict[int | str, dict[str, Any]]:
    responses: dict[int | str, dict[str, Any]] = {
        200: {
            "description": f"Protobuf JSON of {message.DESCRIPTOR.full_name}",
            "content": {"application/json": {"schema": _schema_ref(message.DESCRIPTOR.full_name)}},
        }
    }
    responses.update(_errors(*error_statuses, 503))
    return responses


def _stream_answers(message: type[Message], event: str) -> dict[int | str, dict[str, Any]]:
    schema = _schema_ref(message.DESCRIPTOR.full_name)
    error_record = {
        "type": "object",
        "required": ["error"],
        "properties": {"error": _schema_ref("Error")},
        "additionalProperties": False,
    }
    # One parsed server-sent event: its data line is the JSON of a message, or of an Error in
    # an 'error' event that ends a failed stream.
    sse_event = {
        "type": "object",
        "required": ["data"],
        "properties": {
            "event": {"type": "string", "enum": [event, "error"]},
            "id": {"type": "string"},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"anyOf": [schema, _schema_ref("Error")]},
            },
            "retry": {"type": "integer"},
        },
    }
    responses: dict[int | str, dict[str, Any]] = {
        200: {
            "description": (
                f"One protobuf JSON {message.DESCRIPTOR.full_name} per line (NDJSON), or per "
                f"server-sent event '{event}' with Accept: text/event-stream or format=sse. Idle "
                "streams carry keep-alive lines (an empty line, or an SSE comment); a failure ends "
                "the stream with an error record ({error: Error} in NDJSON, an 'error' event in "
                "SSE). Each schema here describes one record of the stream."
            ),
            "content": {
                "application/x-ndjson": {"schema": {"anyOf": [schema, error_record]}},
                "text/event-stream": {"schema": sse_event},
            },
        }
    }
    responses.update(_errors(400, 416, 503))
    return responses


BEARER_SCHEME_NAME = "bearerAuth"
# What the access gate (api/http_access.py) may answer on every /v1/ route of a node that
# requires authentication or limits rates, whatever the route itself answers.
_BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "Causeway access token",
    "description": (
        "An access token the member signs with its own key (docs/api.md, 'Access'), required "
        "on /v1/ by nodes configured with require_authentication (over TLS); other nodes "
        "ignore it."
    ),
}
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_UNAUTHENTICATED_ANSWER = {
    "description": "No access token, or one that is malformed, forged, expired, foreign or of "
    "a member the chain no longer has",
    "headers": {"WWW-Authenticate": {"schema": {"type": "string", "const": "Bearer"}}},
    "content": _ERROR_CONTENT,
}
_RATE_LIMITED_ANSWER = {
    "description": "Over the client's rate limit (reason rate_limited) or, for submissions, "
    "mempool full (mempool_full); retry later",
    "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
    "content": _ERROR_CONTENT,
}
_PERMISSION_DENIED_ANSWER = {
    "description": "The member's roles may not read this chain (its read_roles), or the "
    "sender is unknown or not permitted",
    "content": _ERROR_CONTENT,
}
# The /v1/ routes that read roles do not govern (docs/api.md, "Read roles").
_OPEN_TO_EVERY_MEMBER = frozenset(
    {("/v1/transactions", "post"), ("/v1/transactions/batch", "post"), ("/v1/status", "get")}
)


def _declare_access(schema: dict[str, Any]) -> None:
    """Adds the access gate to an OpenAPI document: the bearer scheme (optional: `{}` stands
    for the nodes that do not authenticate) and its 401, 403 and 429 answers on /v1/."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[BEARER_SCHEME_NAME] = _BEARER_SCHEME
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in operations.items():
            operation["security"] = [{BEARER_SCHEME_NAME: []}, {}]
            responses = operation.setdefault("responses", {})
            responses["401"] = _UNAUTHENTICATED_ANSWER
            responses["429"] = _RATE_LIMITED_ANSWER
            if (path, method) not in _OPEN_TO_EVERY_MEMBER:
                responses["403"] = _PERMISSION_DENIED_ANSWER


class _GatewayApp(FastAPI):
    """FastAPI with the protobuf message schemas and the access gate added to its OpenAPI
    document."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            schema = get_openapi(
                title=self.title,
                version=self.version,
                description=self.description,
                routes=self.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["Error"] = _ERROR_SCHEMA
            components.update(
                proto_json_schemas(
                    (
                        api_pb2.SubmitRequest,
                        api_pb2.SubmitResponse,
                        api_pb2.SubmitBatchRequest,
                        api_pb2.SubmitBatchResponse,
                        api_pb2.QueryRequest,
                        api_pb2.QueryResponse,
                        api_pb2.GetBlockResponse,
                        api_pb2.GetTransactionResponse,
                        api_pb2.GetStateResponse,
                        api_pb2.GetStatesRequest,
                        api_pb2.GetStatesResponse,
                        api_pb2.GetValidatorSetResponse,
                        api_pb2.GetStatusResponse,
                        api_pb2.BlockEvent,
                        types_pb2.EventRecord,
                    )
                )
            )
            _declare_access(schema)
            self.openapi_schema = schema
        return self.openapi_schema


# ---------------------------------------------------------------------------------------------
# The application


def create_http_app(
    service: ChainService,
    *,
    request_bytes_max: int,
    metrics_handler: MetricsHandler | None = None,
    stream_keepalive_s: float = STREAM_KEEPALIVE_S_DEFAULT,
    probes: Probes | None = None,
    on_request: RequestObserver | None = None,
) -> FastAPI:
    """The HTTP/JSON gateway for ``service`` as an ASGI application (serve it with uvicorn).

    ``request_bytes_max`` bounds every request body; ``metrics_handler`` returns the Prometheus
    exposition and its content type for ``GET /metrics`` (404 without one); ``probes`` answer
    ``GET /healthz`` and ``GET /readyz`` (api/operations.py; absent without them);
    ``on_request`` is told of every request (route template, status, seconds) for the metrics.
    """
    if request_bytes_max <= 0:
        raise ConfigurationError(f"request_bytes_max must be positive, not {request_bytes_max}")
    if stream_keepalive_s <= 0:
        raise ConfigurationError(f"stream_keepalive_s must be positive, not {stream_keepalive_s}")
    app = _GatewayApp(
        title=API_TITLE,
        version=API_VERSION,
        description=(
            "JSON gateway of a Causeway node, mirroring the gRPC service causeway.api.v1.Chain. "
            "Bodies are the protobuf JSON mapping of its messages: bytes in base64, 64-bit "
            "integers as strings. Errors are {reason, message}."
        ),
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(RequestBodyLimit, bytes_max=request_bytes_max)
    if on_request is not None:
        # Added last, so outermost: a request the body limit refuses is counted too.
        app.add_middleware(RequestMetrics, observe=on_request)
    if probes is not None:
        add_probe_routes(app, probes)

    @app.exception_handler(RequestValidationError)
    async def _validation_failed(request: Request, error: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem.get('loc', ()))}: {problem.get('msg', '')}"
            for problem in error.errors()
        )
        return JSONResponse(error_body(DecodeError.reason, problems), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        reason = {
            404: NotFoundError.reason,
            405: "method_not_allowed",
            413: LimitExceededError.reason,
        }.get(error.status_code, DecodeError.reason if error.status_code < 500 else "internal")
        return JSONResponse(
            error_body(reason, str(error.detail)),
            status_code=error.status_code,
            headers=error.headers,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> Response:
        return error_response(error, context=f"{request.method} {request.url.path}")

    async def read_body(request: Request, message_type: type[MessageT]) -> MessageT:
        return parse_json_message(await request.body(), message_type)

    @app.post(
        "/v1/transactions",
        summary="Submit a signed transaction",
        description=(
            "Body: SubmitRequest. Checks size, encoding, signature and membership and hands the "
            "transaction to the mempool. With waitForCommit the answer waits until the "
            "transaction commits (or waitTimeoutMs passes) and carries its height and result. "
            "A refused transaction is answered with the status of its reason "
            "(409 duplicate, 429 mempool_full, 400/403 otherwise) and {reason, message}."
        ),
        tags=["transactions"],
        openapi_extra=_json_body(api_pb2.SubmitRequest),
        responses=_answers(api_pb2.SubmitResponse, 400, 403, 409, 413, 429),
    )
    async def submit(request: Request) -> Response:
        try:
            submit_request = await read_body(request, api_pb2.SubmitRequest)
            answer = await service.submit(submit_request)
        except Exception as error:
            return error_response(error, context="POST /v1/transactions")
        if not answer.accepted:
            rejection = error_for_reason(answer.rejection.reason, answer.rejection.message)
            return error_response(rejection, context="POST /v1/transactions")
        return message_response(answer)

    @app.post(
        "/v1/transactions/batch",
        summary="Submit several signed transactions",
        description=(
            "Body: SubmitBatchRequest. Each transaction is admitted or refused on its own; the "
            "answer has one SubmitResponse per transaction, in order, with accepted=false and a "
            "rejection {reason, message} for those refused."
        ),
        tags=["transactions"],
        openapi_extra=_json_body(api_pb2.SubmitBatchRequest),
        responses=_answers(api_pb2.SubmitBatchResponse, 400, 413, 429),
    )
    async def submit_batch(request: Request) -> Response:
        async def call() -> Message:
            return await service.submit_batch(await read_body(request, api_pb2.SubmitBatchRequest))

        return await _answer("POST /v1/transactions/batch", call)

    @app.post(
        "/v1/query",
        summary="Evaluate a signed transaction read-only",
        description=(
            "Body: QueryRequest. Executes the transaction against the latest state without "
            "committing anything and answers with the result and the height it ran at."
        ),
        tags=["transactions"],
        openapi_extra=_json_body(api_pb2.QueryRequest),
        responses=_answers(api_pb2.QueryResponse, 400, 403, 413),
    )
    async def query(request: Request) -> Response:
        async def call() -> Message:
            return await service.query(await read_body(request, api_pb2.QueryRequest))

        return await _answer("POST /v1/query", call)

    @app.get(
        "/v1/blocks/stream",
        summary="Follow committed blocks",
        description=(
            "Sends every block from fromHeight on, then each new block as it commits, as NDJSON "
            "or server-sent events (event 'block', id = height). A reconnecting EventSource "
            "sends Last-Event-ID and resumes after that height."
        ),
        tags=["streams"],
        responses=_stream_answers(api_pb2.BlockEvent, "block"),
    )
    async def stream_blocks(
        request: Request,
        from_height: Annotated[
            int, Query(ge=0, le=UINT64_MAX, description="First height to send.")
        ] = 1,
        stream_format: Annotated[StreamFormat | None, _FORMAT_QUERY] = None,
    ) -> Response:
        last_event_id = request.headers.get("last-event-id")
        if last_event_id:
            if not last_event_id.isdigit():
                return error_response(DecodeError("Last-Event-ID must be a block height"))
            from_height = int(last_event_id) + 1
        chosen = _stream_format(request, stream_format)

        def frame(event: api_pb2.BlockEvent) -> bytes:
            height = str(event.block.header.height)
            return _frame(chosen, "block", height, message_to_json(event))

        return await _stream_response(
            lambda: service.stream_blocks(api_pb2.StreamBlocksRequest(from_height=from_height)),
            frame,
            chosen,
            stream_keepalive_s,
            "GET /v1/blocks/stream",
        )

    @app.get(
        "/v1/blocks/{height}",
        summary="Get a block",
        description=(
            "The block at a height (or 'latest', or 0 for the latest), with its commit "
            "certificate and its transaction results. header_only=true answers the header and "
            "certificate only (block.transactions and results empty)."
        ),
        tags=["blocks"],
        responses=_answers(api_pb2.GetBlockResponse, 400, 404, 416),
    )
    async def get_block(
        height: Annotated[str, _HEIGHT_PATH],
        header_only: Annotated[
            bool, Query(description="Only the header and certificate, without the body.")
        ] = False,
    ) -> Response:
        async def call() -> Message:
            return await service.get_block(
                api_pb2.GetBlockRequest(height=_parse_height(height), header_only=header_only)
            )

        return await _answer("GET /v1/blocks/{height}", call)

    # Without this route, GET /v1/transactions/batch would be read as a transaction id.
    @app.api_route(
        "/v1/transactions/batch",
        methods=["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"],
        include_in_schema=False,
    )
    async def batch_other_methods() -> Response:
        raise StarletteHTTPException(405, "Method Not Allowed", headers={"Allow": "POST"})

    @app.get(
        "/v1/transactions/{transaction_id}",
        summary="Get a committed transaction with its proofs",
        description=(
            "The transaction with this id (hexadecimal), its result, height, index and block "
            "header, and Merkle proofs of the transaction and its result against that header. "
            "wait_ms waits that long for a transaction that has not committed yet."
        ),
        tags=["transactions"],
        responses=_answers(api_pb2.GetTransactionResponse, 400, 404),
    )
    async def get_transaction(
        transaction_id: Annotated[str, _TRANSACTION_ID_PATH],
        wait_ms: Annotated[
            int, Query(ge=0, le=WAIT_MS_MAX, description="How long to wait for the commit, in ms.")
        ] = 0,
    ) -> Response:
        async def call() -> Message:
            return await service.get_transaction(
                api_pb2.GetTransactionRequest(
                    transaction_id=_parse_hex(transaction_id, "transaction id"),
                    wait_timeout_ms=wait_ms,
                )
            )

        return await _answer("GET /v1/transactions/{transaction_id}", call)

    @app.get(
        "/v1/state/{key}",
        summary="Read a state entry with its proof",
        description=(
            "The value of a state key (hexadecimal) at a height (0 or absent: the latest), the "
            "header of that height and a proof of inclusion, or of absence when found is false, "
            "against the header's state root."
        ),
        tags=["state"],
        responses=_answers(api_pb2.GetStateResponse, 400, 404, 416),
    )
    async def get_state(
        key: Annotated[str, _STATE_KEY_PATH],
        height: Annotated[
            int, Query(ge=0, le=UINT64_MAX, description="Height; 0 for the latest.")
        ] = 0,
    ) -> Response:
        async def call() -> Message:
            return await service.get_state(
                api_pb2.GetStateRequest(key=_parse_hex(key, "state key"), height=height)
            )

        return await _answer("GET /v1/state/{key}", call)

    @app.post(
        "/v1/states",
        summary="Read many state entries at one height with their proofs",
        description=(
            "Body: GetStatesRequest (keys in base64, at most 256; height 0 for the latest). "
            "Answers the header of that height and, per key in the order asked, its value and "
            "a proof of inclusion or absence against the header's state root."
        ),
        tags=["state"],
        openapi_extra=_json_body(api_pb2.GetStatesRequest),
        responses=_answers(api_pb2.GetStatesResponse, 400, 404, 413, 416),
    )
    async def get_states(request: Request) -> Response:
        async def call() -> Message:
            return await service.get_states(await read_body(request, api_pb2.GetStatesRequest))

        return await _answer("POST /v1/states", call)

    @app.get(
        "/v1/validator-sets/{height}",
        summary="Get the validator set of a height",
        description=(
            "The validator set that signed the block at a height (or 'latest', or 0 for the "
            "latest), the height it first signed, and the header whose validator_set_hash it "
            "matches. Answered for every committed height."
        ),
        tags=["blocks"],
        responses=_answers(api_pb2.GetValidatorSetResponse, 400, 404, 416),
    )
    async def get_validator_set(height: Annotated[str, _HEIGHT_PATH]) -> Response:
        async def call() -> Message:
            return await service.get_validator_set(
                api_pb2.GetValidatorSetRequest(height=_parse_height(height))
            )

        return await _answer("GET /v1/validator-sets/{height}", call)

    @app.get(
        "/v1/status",
        summary="Node and chain status",
        description=(
            "Chain id, crypto profile, consensus, latest height and block hash, genesis hash, "
            "mempool size and the earliest height whose state can still be proven."
        ),
        tags=["node"],
        responses=_answers(api_pb2.GetStatusResponse),
    )
    async def get_status() -> Response:
        return await _answer(
            "GET /v1/status", lambda: service.get_status(api_pb2.GetStatusRequest())
        )

    @app.get(
        "/v1/events/stream",
        summary="Follow contract events",
        description=(
            "Sends every contract event from fromHeight on, then new ones as they commit, as "
            "NDJSON or server-sent events (event 'contract_event', id = "
            "height-transactionIndex-eventIndex). Empty contract or name match everything. A "
            "reconnecting EventSource sends Last-Event-ID and resumes after that position."
        ),
        tags=["streams"],
        responses=_stream_answers(types_pb2.EventRecord, "contract_event"),
    )
    async def stream_events(
        request: Request,
        from_height: Annotated[
            int, Query(ge=0, le=UINT64_MAX, description="First height to send.")
        ] = 1,
        contract: Annotated[
            str, Query(max_length=NAME_LENGTH_MAX, description="Only this contract's events.")
        ] = "",
        name: Annotated[
            str, Query(max_length=NAME_LENGTH_MAX, description="Only events with this name.")
        ] = "",
        stream_format: Annotated[StreamFormat | None, _FORMAT_QUERY] = None,
    ) -> Response:
        after: tuple[int, int, int] | None = None
        last_event_id = request.headers.get("last-event-id")
        if last_event_id:
            try:
                after = _parse_event_position(last_event_id)
            except DecodeError as error:
                return error_response(error)
            from_height = after[0]
        chosen = _stream_format(request, stream_format)

        def frame(record: types_pb2.EventRecord) -> bytes | None:
            position = (record.height, record.transaction_index, record.event_index)
            if after is not None and position <= after:
                return None
            event_id = "-".join(str(part) for part in position)
            return _frame(chosen, "contract_event", event_id, message_to_json(record))

        return await _stream_response(
            lambda: service.stream_events(
                api_pb2.StreamEventsRequest(from_height=from_height, contract=contract, name=name)
            ),
            frame,
            chosen,
            stream_keepalive_s,
            "GET /v1/events/stream",
        )

    # The explorer's pages (causeway.explorer): static files that read this API from the browser.
    @app.get(EXPLORER_PATH, include_in_schema=False)
    async def explorer_folder() -> Response:
        return RedirectResponse(f"{EXPLORER_PATH}/")

    app.mount(EXPLORER_PATH, explorer_files_app(), name="explorer")

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        description="The node's metrics in the Prometheus text exposition format.",
        tags=["node"],
        responses={
            200: {"description": "Prometheus text", "content": {"text/plain": {}}},
            **_errors(404),
        },
    )
    async def metrics() -> Response:
        if metrics_handler is None:
            return error_response(NotFoundError("metrics are not enabled on this node"))
        try:
            content, content_type = metrics_handler()
        except Exception as error:
            return error_response(error, context="GET /metrics")
        return Response(content=content, media_type=content_type)

    return app
