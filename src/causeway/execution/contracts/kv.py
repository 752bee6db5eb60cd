"""kv: an ordered key-value map in chain state, open to every member that may send transactions."""

from __future__ import annotations

from causeway.contracts.v1 import contracts_pb2
from causeway.execution.context import TransactionContext, failure
from causeway.execution.contracts.base import Method, decode_arguments
from causeway.execution.keys import KV_NAMESPACE
from causeway.types import encode
from causeway.types.v1 import types_pb2

CONTRACT = "kv"
KV_KEY_BYTES_MAX = 256
KV_VALUE_BYTES_MAX = 65_536
KV_RANGE_LIMIT_DEFAULT = 100
KV_RANGE_LIMIT_MAX = 1_000
# A range result stops after the entry that takes it past this many key and value bytes.
KV_RANGE_BYTES_MAX = 1 << 20

_INVALID = types_pb2.RESULT_STATUS_INVALID_ARGUMENT


def _check_key(key: bytes, what: str = "key") -> None:
    if not key:
        raise failure(_INVALID, f"kv {what} is empty")
    if len(key) > KV_KEY_BYTES_MAX:
        raise failure(
            _INVALID, f"kv {what} is {len(key)} bytes, above the limit of {KV_KEY_BYTES_MAX}"
        )


def put(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, contracts_pb2.KvPutArguments, arguments)
    key = request.key
    _check_key(key)
    value = request.value
    if len(value) > KV_VALUE_BYTES_MAX:
        raise failure(
            _INVALID, f"kv value is {len(value)} bytes, above the limit of {KV_VALUE_BYTES_MAX}"
        )
    context.put(key, value)
    context.emit("put", (("key", key.hex()),))
    return b""


def get(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, contracts_pb2.KvGetArguments, arguments)
    _check_key(request.key)
    value = context.get(request.key)
    if value is None:
        return encode(contracts_pb2.KvGetResult(found=False))
    return encode(contracts_pb2.KvGetResult(found=True, value=value))


def delete(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, contracts_pb2.KvDeleteArguments, arguments)
    key = request.key
    _check_key(key)
    if context.get(key) is None:
        raise failure(types_pb2.RESULT_STATUS_NOT_FOUND, f"kv key {key.hex()} does not exist")
    context.delete(key)
    context.emit("delete", (("key", key.hex()),))
    return b""


def range_(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, contracts_pb2.KvRangeArguments, arguments)
    prefix = request.prefix
    start_after = request.start_after
    if len(prefix) > KV_KEY_BYTES_MAX:
        raise failure(_INVALID, f"kv prefix is above the limit of {KV_KEY_BYTES_MAX} bytes")
    if len(start_after) > KV_KEY_BYTES_MAX:
        raise failure(_INVALID, f"kv start_after is above the limit of {KV_KEY_BYTES_MAX} bytes")
    limit = min(request.limit or KV_RANGE_LIMIT_DEFAULT, KV_RANGE_LIMIT_MAX)
    entries = context.range(prefix, start_after, limit + 1)
    result = contracts_pb2.KvRangeResult()
    total_bytes = 0
    # The page bound counts state keys (with the namespace), as it did before keys were relative:
    # a page's end is part of a result, which every validator must compute alike.
    namespace_length = len(KV_NAMESPACE)
    for index, (key, value) in enumerate(entries):
        entry_bytes = namespace_length + len(key) + len(value)
        if index == limit or (index > 0 and total_bytes + entry_bytes > KV_RANGE_BYTES_MAX):
            result.next_start_after = result.entries[-1].key
            break
        total_bytes += entry_bytes
        result.entries.add(key=key, value=value)
    return encode(result)


METHODS: dict[str, Method] = {
    "put": Method(put),
    "get": Method(get, read_only=True),
    "delete": Method(delete),
    "range": Method(range_, read_only=True),
}
