"""From command-line text to contract arguments, and from results back to readable data.

The JSON given to `--args` becomes the argument message of `contract.method` through protobuf's
JSON mapping, with one convenience for bytes fields, which the protobuf mapping wants as base64:

* in the `kv` contract a plain string is text and is encoded as UTF-8 (`{"key": "colour"}`);
* in every contract a bytes field also takes `{"hex": "00ff"}`, `{"base64": "AP8="}` or
  `{"text": "colour"}`; elsewhere a plain string is base64, as protobuf JSON has it.

A contract that is not one of the native contracts below is a user contract: its arguments are
the fields its interface lists (`interface_values_from_json`), JSON true/false, integers and
strings, and bytes in the same forms as above; the SDK encodes them through the interface.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Message

from causeway.contracts.v1 import contracts_pb2, nodes_pb2
from causeway.errors import DecodeError, LimitExceededError, RequestError
from causeway.types import check_json_depth
from causeway.types.interface import Field
from causeway.types.v1 import types_pb2

TEXT_BYTES_CONTRACTS = frozenset({"kv"})
ARGUMENTS_TEXT_BYTES_MAX = 1 << 20
PORT_MAX = 65535


@dataclass(frozen=True, slots=True)
class ContractMethod:
    """A native contract method: its argument message, and its return message if it has one."""

    contract: str
    method: str
    arguments: type[Message]
    result: type[Message] | None = None
    read_only: bool = False


CONTRACT_METHODS: tuple[ContractMethod, ...] = (
    ContractMethod("kv", "put", contracts_pb2.KvPutArguments),
    ContractMethod("kv", "get", contracts_pb2.KvGetArguments, contracts_pb2.KvGetResult, True),
    ContractMethod("kv", "delete", contracts_pb2.KvDeleteArguments),
    ContractMethod(
        "kv", "range", contracts_pb2.KvRangeArguments, contracts_pb2.KvRangeResult, True
    ),
    # issue and transfer answer with the balance after the transaction.
    ContractMethod(
        "ledger", "issue", contracts_pb2.LedgerIssueArguments, contracts_pb2.LedgerBalanceResult
    ),
    ContractMethod(
        "ledger",
        "transfer",
        contracts_pb2.LedgerTransferArguments,
        contracts_pb2.LedgerBalanceResult,
    ),
    ContractMethod(
        "ledger",
        "balance",
        contracts_pb2.LedgerBalanceArguments,
        contracts_pb2.LedgerBalanceResult,
        True,
    ),
    ContractMethod("config", "update", contracts_pb2.ConfigUpdateArguments),
    ContractMethod("config", "get", contracts_pb2.ConfigGetArguments, types_pb2.ChainConfig, True),
    ContractMethod(
        "membership", "add_organisation", contracts_pb2.MembershipAddOrganisationArguments
    ),
    ContractMethod("membership", "add_member", contracts_pb2.MembershipAddMemberArguments),
    ContractMethod("membership", "remove_member", contracts_pb2.MembershipRemoveMemberArguments),
    ContractMethod(
        "membership", "update_certificate", contracts_pb2.MembershipUpdateCertificateArguments
    ),
    ContractMethod(
        "membership",
        "get_member",
        contracts_pb2.MembershipGetMemberArguments,
        types_pb2.Member,
        True,
    ),
    ContractMethod("validators", "update", contracts_pb2.ValidatorsUpdateArguments),
    ContractMethod(
        "validators",
        "get",
        contracts_pb2.ValidatorsGetArguments,
        contracts_pb2.ValidatorsGetResult,
        True,
    ),
    ContractMethod("evidence", "submit", contracts_pb2.EvidenceSubmitArguments),
    ContractMethod(
        "evidence",
        "list",
        contracts_pb2.EvidenceListArguments,
        contracts_pb2.EvidenceListResult,
        True,
    ),
    ContractMethod("nodes", "set_endpoint", nodes_pb2.NodesSetEndpointArguments),
    ContractMethod("nodes", "remove_endpoint", nodes_pb2.NodesRemoveEndpointArguments),
    ContractMethod("nodes", "set_tls_authority", nodes_pb2.NodesSetTlsAuthorityArguments),
    ContractMethod("nodes", "revoke", nodes_pb2.NodesRevokeArguments),
    ContractMethod("nodes", "list", nodes_pb2.NodesListArguments, nodes_pb2.NodesListResult, True),
)

_METHODS: dict[tuple[str, str], ContractMethod] = {
    (entry.contract, entry.method): entry for entry in CONTRACT_METHODS
}


NATIVE_CONTRACTS = frozenset(entry.contract for entry in CONTRACT_METHODS)


def is_native_contract(contract: str) -> bool:
    """A contract whose arguments this table describes; any other is looked up on the chain
    as a user contract."""
    return contract in NATIVE_CONTRACTS


def known_methods() -> list[str]:
    return [f"{entry.contract}.{entry.method}" for entry in CONTRACT_METHODS]


def find_method(contract: str, method: str) -> ContractMethod:
    """The table entry of contract.method; RequestError naming the known ones otherwise."""
    entry = _METHODS.get((contract, method))
    if entry is None:
        raise RequestError(
            f"unknown method {contract}.{method}; known: {', '.join(known_methods())}",
            reason="unknown_method",
        )
    return entry


def read_bounded_text(path: Path, bytes_max: int) -> str:
    """The UTF-8 text of a file of at most `bytes_max` bytes.

    At most `bytes_max + 1` bytes are ever read, so a device or a file that keeps growing
    (`/dev/zero`) is refused without filling the memory; its size on disk is not trusted.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(bytes_max + 1)
    except OSError as error:
        raise RequestError(f"cannot read {path}: {error}") from None
    if len(data) > bytes_max:
        raise LimitExceededError(f"{path} is larger than the limit of {bytes_max} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DecodeError(f"{path} is not UTF-8 text: {error}") from None


def load_json_argument(text: str, option: str = "--args") -> Any:
    """Parses `--args` (or another `option` of the same kind): JSON text, or `@FILE` to read the
    JSON from a file.

    Either is at most ARGUMENTS_TEXT_BYTES_MAX bytes (UTF-8) and nested at most JSON_DEPTH_MAX
    levels deep.
    """
    source = option
    if text.startswith("@"):
        path = Path(text[1:])
        text = read_bounded_text(path, ARGUMENTS_TEXT_BYTES_MAX)
        source = str(path)
    elif len(text.encode("utf-8")) > ARGUMENTS_TEXT_BYTES_MAX:
        raise LimitExceededError(
            f"{source} is larger than the limit of {ARGUMENTS_TEXT_BYTES_MAX} bytes"
        )
    check_json_depth(text, source)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise RequestError(f"{source} is not valid JSON: {error}") from None


def parse_node_address(text: str) -> str:
    """A node's gRPC address from the command line, checked: HOST:PORT (IPv6 hosts in brackets)
    with a port from 1 to 65535.

    gRPC itself would take port 99999 modulo 65536 and connect to another port, so a port out of
    range is refused here rather than passed on.
    """
    example = "give HOST:PORT, e.g. 127.0.0.1:7050"
    host, separator, port = text.rpartition(":")
    if not separator or not port:
        raise RequestError(f"node address {text!r} has no port ({example})")
    if not host.strip("[]"):
        raise RequestError(f"node address {text!r} has no host ({example})")
    if not (port.isascii() and port.isdigit()):
        raise RequestError(f"node address {text!r}: port {port!r} is not a number ({example})")
    if not 1 <= int(port) <= PORT_MAX:
        raise RequestError(
            f"node address {text!r}: port {int(port)} is not between 1 and {PORT_MAX}"
        )
    return text


def node_address_option(value: str | None) -> str | None:
    """Typer callback of every `--node` option: parse_node_address, as a usage error."""
    if value is None:
        return None
    try:
        return parse_node_address(value)
    except RequestError as error:
        raise typer.BadParameter(error.message) from None


def _bytes_value(value: Any, *, text_strings: bool, path: str) -> str:
    """One bytes field value in the base64 form protobuf JSON expects."""
    if isinstance(value, str):
        return base64.b64encode(value.encode("utf-8")).decode("ascii") if text_strings else value
    if isinstance(value, Mapping) and len(value) == 1:
        ((form, content),) = value.items()
        if isinstance(content, str):
            if form == "text":
                return base64.b64encode(content.encode("utf-8")).decode("ascii")
            if form == "base64":
                return content
            if form == "hex":
                try:
                    return base64.b64encode(bytes.fromhex(content)).decode("ascii")
                except ValueError:
                    raise RequestError(f"{path}: {content!r} is not hex") from None
    raise RequestError(
        f'{path}: expected a string or one of {{"hex": ...}}, {{"base64": ...}}, {{"text": ...}}'
    )


def _prepare(value: Any, descriptor: Any, *, text_strings: bool, path: str) -> Any:
    """Rewrites the bytes fields of a JSON object into protobuf's base64 form, recursively."""
    if not isinstance(value, Mapping):
        return value
    fields = {**descriptor.fields_by_name, **descriptor.fields_by_camelcase_name}
    prepared: dict[str, Any] = {}
    for name, item in value.items():
        field = fields.get(name)
        if field is None:
            prepared[name] = item  # ParseDict names the unknown field
            continue
        field_path = f"{path}.{name}"
        repeated = field.is_repeated and isinstance(item, list)
        items = item if repeated else [item]
        if field.type == FieldDescriptor.TYPE_BYTES:
            converted = [
                _bytes_value(element, text_strings=text_strings, path=field_path)
                for element in items
            ]
        elif field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type is not None:
            converted = [
                _prepare(element, field.message_type, text_strings=text_strings, path=field_path)
                for element in items
            ]
        else:
            converted = items
        prepared[name] = converted if repeated else converted[0]
    return prepared


def arguments_from_json(contract: str, method: str, value: Any) -> Message:
    """The argument message of contract.method from parsed `--args` JSON (see the module notes)."""
    entry = find_method(contract, method)
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise RequestError(f"--args for {contract}.{method} must be a JSON object")
    message = entry.arguments()
    prepared = _prepare(
        value,
        message.DESCRIPTOR,
        text_strings=contract in TEXT_BYTES_CONTRACTS,
        path="args",
    )
    try:
        json_format.ParseDict(prepared, message)
    except json_format.ParseError as error:
        raise RequestError(
            f"--args do not fit {message.DESCRIPTOR.name}: {error}", reason="invalid_argument"
        ) from None
    return message


def interface_values_from_json(fields: Sequence[Field], value: Any, what: str) -> dict[str, object]:
    """The argument values of a user contract's method (or init, migrate entry) from parsed
    `--args` JSON: an object of the interface's fields by name. Bytes fields take a base64
    string or {"hex"|"base64"|"text": ...}; the other types are checked where they are encoded
    (causeway.types.interface). RequestError naming an unknown field."""
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise RequestError(f"--args for {what} must be a JSON object", reason="invalid_argument")
    by_name = {field.name: field for field in fields}
    unknown = sorted(set(value) - set(by_name))
    if unknown:
        listed = ", ".join(f"{field.name} ({field.type})" for field in fields) or "none"
        raise RequestError(
            f"{what} has no argument {', '.join(repr(name) for name in unknown)} in its "
            f"interface (its arguments: {listed})",
            reason="invalid_argument",
        )
    values: dict[str, object] = {}
    for name, item in value.items():
        if by_name[name].type == "bytes":
            encoded = _bytes_value(item, text_strings=False, path=f"{what}: argument {name}")
            try:
                values[name] = base64.b64decode(encoded, validate=True)
            except binascii.Error:
                raise RequestError(
                    f"{what}: argument {name}: {encoded!r} is not base64 (or give "
                    '{"hex": ...} or {"text": ...})',
                    reason="invalid_argument",
                ) from None
        else:
            values[name] = item
    return values


def values_to_data(values: Mapping[str, object], *, readable: bool) -> dict[str, Any]:
    """Decoded interface values as plain data for JSON: bytes as hex (`readable=False`) or
    text-if-printable (`readable=True`)."""
    return {
        name: (
            (display_bytes(value) if readable else value.hex())
            if isinstance(value, bytes)
            else value
        )
        for name, value in values.items()
    }


def decode_return_value(contract: str, method: str, data: bytes) -> Message | None:
    """The return value as its message for methods that have one; None otherwise."""
    entry = _METHODS.get((contract, method))
    if entry is None or entry.result is None:
        return None
    message = entry.result()
    try:
        message.ParseFromString(data)
    except (ProtobufDecodeError, RuntimeError, ValueError):
        return None
    return message


# ---- rendering -------------------------------------------------------------------------------


def display_bytes(data: bytes) -> str:
    """Text when the bytes are printable UTF-8, else 0x-prefixed hex: for people, not scripts."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + data.hex()
    if text and text.isprintable() and not text.startswith("0x"):
        return text
    return "0x" + data.hex() if data else ""


def _scalar(field: Any, value: Any, readable: bool) -> Any:
    if field.type == FieldDescriptor.TYPE_BYTES:
        return display_bytes(value) if readable else bytes(value).hex()
    if field.type == FieldDescriptor.TYPE_ENUM:
        enum_value = field.enum_type.values_by_number.get(value) if field.enum_type else None
        return enum_value.name if enum_value is not None else value
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return message_to_data(value, readable=readable)
    return value


def message_to_data(message: Message, *, readable: bool = False) -> dict[str, Any]:
    """A message as plain data for JSON: every field (defaults too), enums by name.

    Bytes are hex (`readable=False`, for scripts) or text-if-printable (`readable=True`).
    Unset sub-messages are left out.
    """
    data: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.is_repeated:
            data[field.name] = [_scalar(field, element, readable) for element in value]
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if message.HasField(field.name):
                data[field.name] = _scalar(field, value, readable)
        else:
            data[field.name] = _scalar(field, value, readable)
    return data


def status_name(status: int) -> str:
    """ "OK", "INSUFFICIENT_FUNDS", ... for a ResultStatus value."""
    try:
        name = types_pb2.ResultStatus.Name(status)  # type: ignore[arg-type]
    except ValueError:
        return str(status)
    return name.removeprefix("RESULT_STATUS_")


def parse_key(text: str, *, hex_key: bool) -> bytes:
    """A key from the command line: UTF-8 text, or hex with `--hex`."""
    if not hex_key:
        return text.encode("utf-8")
    cleaned = text.removeprefix("0x")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise RequestError(f"{text!r} is not hex (drop --hex to pass the key as text)") from None


def parse_transaction_id(text: str) -> bytes:
    cleaned = text.strip().removeprefix("0x")
    try:
        identifier = binascii.unhexlify(cleaned)
    except (binascii.Error, ValueError):
        raise RequestError(f"transaction id {text!r} is not hex") from None
    if len(identifier) != 32:
        raise RequestError(f"transaction id {text!r} is not 32 bytes (64 hex digits)")
    return identifier
