"""The interface file of a user contract (docs/contract-abi.md) and the one encoding of its
arguments, results and event data.

An argument list is encoded as the proto3 message whose fields are the arguments in order
(field numbers 1, 2, ...). The messages are built here from the interface with protobuf's own
descriptor machinery, so the bytes are exactly protobuf's deterministic serialisation, the
encoding everything else on the chain uses; the contract SDKs read and write the same bytes.
The executor reads the interface only to check it at deployment; the SDK and the CLI use it to
encode calls and decode what comes back.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

from causeway.errors import DecodeError, RequestError

INTERFACE_VERSION = 1
INTERFACE_BYTES_MAX = 65_536
FIELDS_MAX = 32
ENTRIES_MAX = 256
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_EVENT_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")

_FIELD_TYPES: dict[str, int] = {
    "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
    "uint32": descriptor_pb2.FieldDescriptorProto.TYPE_UINT32,
    "uint64": descriptor_pb2.FieldDescriptorProto.TYPE_UINT64,
    "int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
    "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    "bytes": descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
}
FIELD_TYPES = frozenset(_FIELD_TYPES)
_UINT32_MAX = (1 << 32) - 1
_UINT64_MAX = (1 << 64) - 1
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str


@dataclass(frozen=True, slots=True)
class MethodInterface:
    name: str
    read_only: bool
    arguments: tuple[Field, ...]
    returns: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class EventInterface:
    name: str
    fields: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class ContractInterface:
    name: str
    methods: Mapping[str, MethodInterface]
    events: Mapping[str, EventInterface]

    def canonical_json(self) -> str:
        """The one JSON form of the interface: keys sorted, no spaces (what state keeps)."""
        document = {
            "abi": INTERFACE_VERSION,
            "name": self.name,
            "methods": [
                {
                    "name": method.name,
                    "read_only": method.read_only,
                    "arguments": [_field_json(field) for field in method.arguments],
                    "returns": [_field_json(field) for field in method.returns],
                }
                for method in self.methods.values()
            ],
            "events": [
                {"name": event.name, "fields": [_field_json(field) for field in event.fields]}
                for event in self.events.values()
            ],
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def method(self, name: str) -> MethodInterface:
        try:
            return self.methods[name]
        except KeyError:
            known = ", ".join(sorted(self.methods)) or "none"
            raise RequestError(
                f"contract {self.name} has no method {name!r} in its interface (it has {known})"
            ) from None


def _field_json(field: Field) -> dict[str, str]:
    return {"name": field.name, "type": field.type}


def parse_interface(text: str | bytes) -> ContractInterface:
    """The interface in `text`; RequestError naming what is wrong otherwise."""
    if len(text) > INTERFACE_BYTES_MAX:
        raise RequestError(
            f"the interface is {len(text)} bytes, above the limit of {INTERFACE_BYTES_MAX}"
        )
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestError(f"the interface is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise RequestError("the interface must be a JSON object")
    _only(document, {"abi", "name", "methods", "events"}, "the interface")
    if document.get("abi") != INTERFACE_VERSION:
        raise RequestError(f'the interface must say "abi": {INTERFACE_VERSION}')
    name = document.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise RequestError("the interface's name must be 1 to 64 letters, digits or '_'")
    methods: dict[str, MethodInterface] = {}
    for entry in _entries(document.get("methods", []), "methods"):
        _only(entry, {"name", "read_only", "arguments", "returns"}, "a method")
        method_name = _entry_name(entry, "a method", _NAME)
        read_only = entry.get("read_only", False)
        if not isinstance(read_only, bool):
            raise RequestError(f"method {method_name}: read_only must be true or false")
        if method_name in methods:
            raise RequestError(f"method {method_name} is listed twice")
        methods[method_name] = MethodInterface(
            method_name,
            read_only,
            _fields(entry.get("arguments", []), f"method {method_name} arguments"),
            _fields(entry.get("returns", []), f"method {method_name} returns"),
        )
    events: dict[str, EventInterface] = {}
    for entry in _entries(document.get("events", []), "events"):
        _only(entry, {"name", "fields"}, "an event")
        event_name = _entry_name(entry, "an event", _EVENT_NAME)
        if event_name in events:
            raise RequestError(f"event {event_name} is listed twice")
        events[event_name] = EventInterface(
            event_name, _fields(entry.get("fields", []), f"event {event_name} fields")
        )
    return ContractInterface(name, methods, events)


def _only(entry: Mapping[str, object], allowed: set[str], what: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise RequestError(f"{what} has unknown keys: {', '.join(unknown)}")


def _entries(value: object, what: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or len(value) > ENTRIES_MAX:
        raise RequestError(f"the interface's {what} must be a list of at most {ENTRIES_MAX}")
    for entry in value:
        if not isinstance(entry, dict):
            raise RequestError(f"each of the interface's {what} must be a JSON object")
    return value


def _entry_name(entry: Mapping[str, object], what: str, pattern: re.Pattern[str]) -> str:
    name = entry.get("name")
    if not isinstance(name, str) or not pattern.fullmatch(name):
        raise RequestError(f"{what} has no valid name: {name!r}")
    return name


def _fields(value: object, what: str) -> tuple[Field, ...]:
    if not isinstance(value, list) or len(value) > FIELDS_MAX:
        raise RequestError(f"{what} must be a list of at most {FIELDS_MAX} fields")
    fields: list[Field] = []
    seen: set[str] = set()
    for entry in value:
        if not isinstance(entry, dict):
            raise RequestError(f"{what}: each field must be a JSON object")
        _only(entry, {"name", "type"}, f"{what}: a field")
        name = _entry_name(entry, f"{what}: a field", _NAME)
        kind = entry.get("type")
        if kind not in FIELD_TYPES:
            raise RequestError(
                f"{what}: field {name} has type {kind!r}; the types are "
                f"{', '.join(sorted(FIELD_TYPES))}"
            )
        if name in seen:
            raise RequestError(f"{what}: field {name} is listed twice")
        seen.add(name)
        fields.append(Field(name, str(kind)))
    return tuple(fields)


# -- the encoding ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _message_class(fields: tuple[Field, ...]) -> type[Message]:
    """The proto3 message of these fields, numbered in order, built in a pool of its own."""
    file = descriptor_pb2.FileDescriptorProto(
        name="causeway_interface.proto", package="causeway.interface", syntax="proto3"
    )
    message = file.message_type.add(name="Fields")
    for number, field in enumerate(fields, start=1):
        message.field.add(
            name=field.name,
            number=number,
            type=_FIELD_TYPES[field.type],
            label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
        )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("causeway.interface.Fields"))


def encode_fields(fields: Sequence[Field], values: Mapping[str, object]) -> bytes:
    """The canonical bytes of `values` (by field name; a missing one is its default)."""
    unknown = sorted(set(values) - {field.name for field in fields})
    if unknown:
        raise RequestError(f"unknown fields: {', '.join(unknown)}")
    message = _message_class(tuple(fields))()
    for field in fields:
        if field.name in values:
            setattr(message, field.name, _checked(field, values[field.name]))
    return message.SerializeToString(deterministic=True)


def decode_fields(fields: Sequence[Field], data: bytes) -> dict[str, object]:
    """Every field's value (defaults included) from bytes a contract wrote."""
    message = _message_class(tuple(fields))()
    try:
        message.ParseFromString(data)
    except Exception as error:  # protobuf raises its own DecodeError, or others on garbage
        raise DecodeError(f"the bytes do not decode as the interface says: {error}") from None
    return {field.name: getattr(message, field.name) for field in fields}


def _checked(field: Field, value: object) -> object:
    kind = field.type
    if kind == "bool":
        if not isinstance(value, bool):
            raise RequestError(f"field {field.name} must be true or false, not {value!r}")
        return value
    if kind in ("uint32", "uint64", "int64"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise RequestError(f"field {field.name} must be an integer, not {value!r}")
        low, high = {
            "uint32": (0, _UINT32_MAX),
            "uint64": (0, _UINT64_MAX),
            "int64": (_INT64_MIN, _INT64_MAX),
        }[kind]
        if not low <= value <= high:
            raise RequestError(f"field {field.name} must be {low} to {high}, not {value}")
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise RequestError(f"field {field.name} must be a string, not {value!r}")
        return value
    if not isinstance(value, bytes | bytearray):
        raise RequestError(f"field {field.name} must be bytes, not {type(value).__name__}")
    return bytes(value)
