"""ABI v1 (docs/contract-abi.md): the host functions a module may import, its required exports,
the context fields, and the bounds on what crosses between a contract and the chain."""

from __future__ import annotations

import re
from enum import IntEnum

HOST_MODULE = "causeway"
VERSION_EXPORT = "causeway_abi_v1"
MEMORY_EXPORT = "memory"
INIT_EXPORT = "init"
MIGRATE_EXPORT = "migrate"
# Exports that are functions () -> () but not methods a transaction can call.
RESERVED_EXPORTS = frozenset({VERSION_EXPORT, INIT_EXPORT, MIGRATE_EXPORT})
METHOD_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
EVENT_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")

# Each host function: its parameter types and its result types ("i32" or "i64").
HOST_FUNCTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "input_length": ((), ("i32",)),
    "input_read": (("i32",), ()),
    "context_read": (("i32", "i32", "i32"), ("i32",)),
    "return_data": (("i32", "i32"), ()),
    "revert": (("i32", "i32"), ()),
    "state_get": (("i32", "i32", "i32", "i32"), ("i32",)),
    "state_put": (("i32", "i32", "i32", "i32"), ()),
    "state_delete": (("i32", "i32"), ()),
    "state_range": (("i32", "i32", "i32", "i32", "i32", "i32", "i32"), ("i32",)),
    "emit": (("i32", "i32", "i32", "i32"), ()),
    "call": (("i32", "i32", "i32", "i32", "i32", "i32", "i64"), ("i32",)),
    "result_read": (("i32", "i32"), ("i32",)),
    "hash": (("i32", "i32", "i32"), ()),
    "verify_signature": (("i32",) * 8, ("i32",)),
}


class ContextField(IntEnum):
    """The fields `context_read` answers (docs/contract-abi.md)."""

    CALLER = 0
    CONTRACT = 1
    HEIGHT = 2
    TIME = 3
    TRANSACTION = 4
    CHAIN = 5
    ORGANISATION = 6


# Bounds on what crosses the boundary (the chain's own bounds on keys and values apply as well).
STATE_KEY_BYTES_MAX = 256
STATE_VALUE_BYTES_MAX = 65_536
EVENT_DATA_BYTES_MAX = 65_536
RETURN_DATA_BYTES_MAX = 65_536
REVERT_MESSAGE_BYTES_MAX = 1_024
RANGE_LIMIT_MAX = 1_000
CALL_INPUT_BYTES_MAX = 65_536
CONTRACT_NAME_BYTES_MAX = 64
METHOD_NAME_BYTES_MAX = 64
EVENT_NAME_BYTES_MAX = 64
ALGORITHM_NAME_BYTES_MAX = 32
SIGNATURE_INPUT_BYTES_MAX = 65_536
HASH_INPUT_BYTES_MAX = 1 << 20
HASH_BYTES = 32
