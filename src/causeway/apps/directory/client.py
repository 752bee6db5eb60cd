"""The directory contract from a script: ``DirectoryClient`` calls every method of a deployed
directory (docs/directory.md) over an SDK ``Client`` and answers directory_pb2 messages, and
``load_metadata`` reads a resource's metadata from a TOML or JSON file.

Every write answers the record the contract wrote, decoded from the event it emitted (the event
carries the whole record): ``register_resource`` the new ``ResourceVersion`` (its ``code`` and
``version``), ``approve`` the ``SharingRequest`` as it now stands, ``record_usage`` the
``UsageReceipt``. Reads are signed read-only calls (``Client.evaluate``): the client needs an
identity for them too. A call the contract refuses raises ``TransactionFailedError`` with the
contract's own message (nothing it wrote was kept); a transaction not committed within the wait
raises ``RequestError``. Codes and request ids are checked before anything is sent.

A metadata file (TOML unless its name ends in ``.json``)::

    category = "10101"                 # an item or sub-item of the scheme
    name = "常住人口基本信息"
    name_en = "Resident population"
    abstract = "..."
    format = "database"                # database, file, api, other
    sharing_type = "conditional"       # unconditional, conditional, not-shared
    sharing_conditions = "..."         # required unless unconditional
    sharing_method = "接口调用"
    openness = "not-open"              # open, conditional, not-open (optional)
    update_cycle = "daily"             # real-time, daily, weekly, monthly, quarterly, yearly,
                                       # irregular
    publish_date = 2024-02-29          # a TOML date, or "YYYY-MM-DD"
    keywords = ["人口"]
    duties = ["户籍管理"]               # duties of the provider department
    related_resources = ["101-GA-000001"]

    [[data_item]]
    name = "姓名"
    type = "string"                    # string, integer, decimal, date, datetime, boolean, binary
    length = 50

    [[distribution]]
    name = "人口.csv"
    format = "CSV"
    url = "https://data.example.gov.cn/ga/1"
    file = "population.csv"            # hashed with the chain's hash (SM3 on gm); beside this file

Every mistake (a key the format does not have, a value of the wrong type, a word that is not one
of the listed ones, a distribution file that cannot be read) is a RequestError naming the file
and the key. The file is at most METADATA_FILE_BYTES_MAX bytes, a distribution file at most
DISTRIBUTION_FILE_BYTES_MAX.
"""

from __future__ import annotations

import datetime
import json
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from google.protobuf.message import Message

from causeway.apps.directory.contract import (
    CONTRACT_NAME,
    decode_event,
    decode_result,
    encode_arguments,
)
from causeway.apps.directory.v1 import directory_pb2
from causeway.contracts.v1 import contracts_pb2
from causeway.errors import (
    CausewayError,
    DecodeError,
    LimitExceededError,
    RequestError,
    TransactionFailedError,
)
from causeway.types import HashFunction
from causeway.types.v1 import types_pb2

if TYPE_CHECKING:
    from causeway.sdk import Identity, SubmitResult

__all__ = [
    "DISTRIBUTION_FILE_BYTES_MAX",
    "METADATA_FILE_BYTES_MAX",
    "DirectoryClient",
    "DirectoryNode",
    "check_category_code",
    "check_department_code",
    "check_request_id",
    "check_resource_code",
    "load_metadata",
    "read_bounded_file",
]

METADATA_FILE_BYTES_MAX = 1 << 20
# A distribution file is hashed whole, in memory: this bounds what one registration reads.
DISTRIBUTION_FILE_BYTES_MAX = 256 << 20
# The contract's page limit (PAGE_MAX), and how many pages an iterator reads at most (a
# directory of a million resources or requests, far above any city's).
PAGE_MAX = 100
PAGES_MAX = 10_000
CODE_CONTRACT = "code"

# The contract's formats of codes and ids (index.ts): checked here so that a typo is refused
# before anything is signed.
RESOURCE_CODE = re.compile(r"[0-9]{3,6}-[A-Z0-9]{2,32}-[0-9]{6}")
REQUEST_ID = re.compile(r"R[0-9]{10}")
CATEGORY_CODE = re.compile(r"[0-9]{1,6}")
DEPARTMENT_CODE = re.compile(r"[A-Z0-9]{2,32}")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

FORMATS = ("database", "file", "api", "other")
DATA_ITEM_TYPES = ("string", "integer", "decimal", "date", "datetime", "boolean", "binary")
SHARING_TYPES: Mapping[str, int] = {
    "unconditional": directory_pb2.SHARING_TYPE_UNCONDITIONAL,
    "conditional": directory_pb2.SHARING_TYPE_CONDITIONAL,
    "not-shared": directory_pb2.SHARING_TYPE_NOT_SHARED,
}
OPENNESS: Mapping[str, int] = {
    "open": directory_pb2.OPENNESS_OPEN,
    "conditional": directory_pb2.OPENNESS_CONDITIONAL,
    "not-open": directory_pb2.OPENNESS_NOT_OPEN,
}
UPDATE_CYCLES: Mapping[str, int] = {
    "real-time": directory_pb2.UPDATE_CYCLE_REAL_TIME,
    "daily": directory_pb2.UPDATE_CYCLE_DAILY,
    "weekly": directory_pb2.UPDATE_CYCLE_WEEKLY,
    "monthly": directory_pb2.UPDATE_CYCLE_MONTHLY,
    "quarterly": directory_pb2.UPDATE_CYCLE_QUARTERLY,
    "yearly": directory_pb2.UPDATE_CYCLE_YEARLY,
    "irregular": directory_pb2.UPDATE_CYCLE_IRREGULAR,
}

MessageT = TypeVar("MessageT", bound=Message)


class DirectoryNode(Protocol):
    """What ``DirectoryClient`` uses of an SDK ``Client``: declared here so that anything with
    the same calls (a test's chain in one process) can stand in for it."""

    def invoke(
        self,
        contract: str,
        method: str,
        arguments: Message | bytes,
        *,
        endorsers: Sequence[Identity] = ...,
    ) -> SubmitResult: ...

    def evaluate(
        self, contract: str, method: str, arguments: Message | bytes
    ) -> types_pb2.TransactionResult: ...

    def hash_function(self) -> HashFunction: ...


# ------------------------------------------------------------------------------ checks


def _checked(pattern: re.Pattern[str], text: str, what: str, example: str) -> str:
    if pattern.fullmatch(text) is None:
        raise RequestError(
            f"{what} {text!r} is not one (e.g. {example})", reason="invalid_argument"
        )
    return text


def check_resource_code(code: str) -> str:
    """A resource code as the contract assigns them: category, department, six digits."""
    return _checked(RESOURCE_CODE, code, "resource code", "10101-GA-000001")


def check_request_id(request_id: str) -> str:
    return _checked(REQUEST_ID, request_id, "request id", "R0000000001")


def check_category_code(code: str) -> str:
    return _checked(CATEGORY_CODE, code, "category code", "1, 101 or 10101")


def check_department_code(code: str) -> str:
    return _checked(DEPARTMENT_CODE, code, "department code", "GA: 2 to 32 of A-Z and 0-9")


def read_bounded_file(path: Path, bytes_max: int, what: str) -> bytes:
    """The bytes of a file of at most ``bytes_max`` bytes; at most ``bytes_max + 1`` are ever
    read, so a device or a growing file is refused without filling the memory."""
    try:
        with path.open("rb") as handle:
            data = handle.read(bytes_max + 1)
    except OSError as error:
        raise RequestError(f"{what} {path}: cannot read it: {error.strerror or error}") from None
    if len(data) > bytes_max:
        raise LimitExceededError(f"{what} {path} is larger than the limit of {bytes_max} bytes")
    return data


# ------------------------------------------------------------------------------ metadata files

_TOP_KEYS = frozenset(
    {
        "category",
        "category_code",
        "name",
        "name_en",
        "abstract",
        "abstract_en",
        "format",
        "sharing_type",
        "sharing_conditions",
        "sharing_method",
        "openness",
        "openness_conditions",
        "update_cycle",
        "publish_date",
        "related_resources",
        "duties",
        "keywords",
        "data_item",
        "distribution",
    }
)
_DATA_ITEM_KEYS = frozenset({"name", "type", "description", "length"})
_DISTRIBUTION_KEYS = frozenset({"name", "format", "url", "file", "hash", "byte_size"})
_REQUIRED = ("name", "sharing_type", "publish_date")


class _File:
    """One metadata file being read: every error names it and the key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, key: str, message: str) -> RequestError:
        return RequestError(f"{self.path}: {key}: {message}", reason="invalid_argument")

    def table(self, value: object, key: str, allowed: frozenset[str]) -> Mapping[str, object]:
        if not isinstance(value, Mapping):
            raise self.error(key, f"expected a table, not {_kind(value)}")
        unknown = sorted(str(name) for name in value if name not in allowed)
        if unknown:
            prefix = f"{key}." if key else ""
            raise self.error(
                f"{prefix}{unknown[0]}", f"no such key (the keys are {', '.join(sorted(allowed))})"
            )
        return value

    def text(self, table: Mapping[str, object], key: str, where: str = "") -> str:
        value = table.get(key, "")
        if not isinstance(value, str):
            raise self.error(where + key, f"expected a string, not {_kind(value)}")
        return value

    def texts(self, table: Mapping[str, object], key: str) -> list[str]:
        value = table.get(key, [])
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.error(key, f"expected a list of strings, not {_kind(value)}")
        return list(value)

    def integer(self, table: Mapping[str, object], key: str, where: str, maximum: int) -> int:
        value = table.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
            raise self.error(where + key, f"expected a whole number 0 to {maximum}, not {value!r}")
        return value

    def word(self, table: Mapping[str, object], key: str, words: Sequence[str]) -> str:
        text = self.text(table, key).strip().lower().replace("_", "-").replace(" ", "-")
        if text not in words:
            raise self.error(key, f"{table.get(key)!r} is not one of {', '.join(words)}")
        return text

    def tables(self, table: Mapping[str, object], key: str) -> list[object]:
        value = table.get(key, [])
        if not isinstance(value, list):
            raise self.error(key, f"expected a list of tables ([[{key}]]), not {_kind(value)}")
        return value


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a table"
    return type(value).__name__


def _parse(path: Path, data: bytes) -> object:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DecodeError(f"{path}: not UTF-8 text: {error}") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise RequestError(f"{path}: not valid JSON: {error}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RequestError(f"{path}: not valid TOML: {error}") from None


def load_metadata(path: Path | str, hash_function: HashFunction) -> directory_pb2.ResourceMetadata:
    """The ``ResourceMetadata`` a metadata file describes (the module notes); a distribution's
    ``file`` (relative to the metadata file's folder) is read and hashed with
    ``hash_function``, the chain profile's (``client.hash_function()``)."""
    path = Path(path)
    source = _File(path)
    parsed = _parse(path, read_bounded_file(path, METADATA_FILE_BYTES_MAX, "metadata file"))
    top = source.table(parsed, "", _TOP_KEYS)
    for key in _REQUIRED:
        if key not in top:
            raise source.error(key, "missing (it is required)")
    if "category" not in top and "category_code" not in top:
        raise source.error("category", "missing (it is required)")
    if "category" in top and "category_code" in top:
        raise source.error("category_code", "give category or category_code, not both")
    category_key = "category" if "category" in top else "category_code"
    category = source.text(top, category_key)
    if CATEGORY_CODE.fullmatch(category) is None or len(category) < 3:
        raise source.error(
            category_key, f"{category!r} is not an item or sub-item code (3 to 6 digits)"
        )
    metadata = directory_pb2.ResourceMetadata(
        category_code=category,
        name=source.text(top, "name"),
        name_en=source.text(top, "name_en"),
        abstract=source.text(top, "abstract"),
        abstract_en=source.text(top, "abstract_en"),
        sharing_conditions=source.text(top, "sharing_conditions"),
        sharing_method=source.text(top, "sharing_method"),
        openness_conditions=source.text(top, "openness_conditions"),
        related_resources=source.texts(top, "related_resources"),
        duties=source.texts(top, "duties"),
        keywords=source.texts(top, "keywords"),
    )
    if not metadata.name.strip():
        raise source.error("name", "must not be empty")
    if "format" in top:
        metadata.format = source.word(top, "format", FORMATS)
    metadata.sharing_type = SHARING_TYPES[source.word(top, "sharing_type", list(SHARING_TYPES))]  # type: ignore[assignment]
    if metadata.sharing_type != directory_pb2.SHARING_TYPE_UNCONDITIONAL and not (
        metadata.sharing_conditions.strip()
    ):
        raise source.error(
            "sharing_conditions",
            "required for a conditional or not-shared resource (its conditions, or its basis)",
        )
    if "openness" in top:
        metadata.openness = OPENNESS[source.word(top, "openness", list(OPENNESS))]  # type: ignore[assignment]
    if "update_cycle" in top:
        metadata.update_cycle = UPDATE_CYCLES[  # type: ignore[assignment]
            source.word(top, "update_cycle", list(UPDATE_CYCLES))
        ]
    metadata.publish_date = _date(source, top.get("publish_date"))
    for code in metadata.related_resources:
        if RESOURCE_CODE.fullmatch(code) is None:
            raise source.error("related_resources", f"{code!r} is not a resource code")
    for index, entry in enumerate(source.tables(top, "data_item")):
        where = f"data_item[{index + 1}]"
        item = source.table(entry, where, _DATA_ITEM_KEYS)
        item_type = source.text(item, "type", f"{where}.")
        if item_type not in DATA_ITEM_TYPES:
            raise source.error(
                f"{where}.type", f"{item_type!r} is not one of {', '.join(DATA_ITEM_TYPES)}"
            )
        name = source.text(item, "name", f"{where}.")
        if not name.strip():
            raise source.error(f"{where}.name", "missing or empty")
        metadata.data_items.append(
            directory_pb2.DataItem(
                name=name,
                type=item_type,
                description=source.text(item, "description", f"{where}."),
                length=source.integer(item, "length", f"{where}.", (1 << 32) - 1),
            )
        )
    for index, entry in enumerate(source.tables(top, "distribution")):
        metadata.distributions.append(
            _distribution(source, entry, f"distribution[{index + 1}]", hash_function)
        )
    return metadata


def _date(source: _File, value: object) -> str:
    if isinstance(value, datetime.datetime):
        raise source.error("publish_date", "expected a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if not isinstance(value, str) or DATE.fullmatch(value) is None:
        raise source.error("publish_date", f"expected a date YYYY-MM-DD, not {value!r}")
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        raise source.error("publish_date", f"{value!r} is not a date of the calendar") from None
    return value


def _distribution(
    source: _File, entry: object, where: str, hash_function: HashFunction
) -> directory_pb2.Distribution:
    table = source.table(entry, where, _DISTRIBUTION_KEYS)
    name = source.text(table, "name", f"{where}.")
    if not name.strip():
        raise source.error(f"{where}.name", "missing or empty")
    distribution = directory_pb2.Distribution(
        name=name,
        format=source.text(table, "format", f"{where}."),
        access_url=source.text(table, "url", f"{where}."),
        byte_size=source.integer(table, "byte_size", f"{where}.", (1 << 63) - 1),
    )
    if "file" in table and "hash" in table:
        raise source.error(f"{where}.hash", "give file (hashed here) or hash, not both")
    if "file" in table:
        name_of_file = source.text(table, "file", f"{where}.")
        local = source.path.parent / name_of_file
        try:
            data = read_bounded_file(local, DISTRIBUTION_FILE_BYTES_MAX, "distribution file")
        except RequestError as error:
            raise source.error(f"{where}.file", error.message) from None
        if distribution.byte_size and distribution.byte_size != len(data):
            raise source.error(
                f"{where}.byte_size",
                f"{distribution.byte_size} is not the size of {local} ({len(data)} bytes)",
            )
        distribution.hash = hash_function(data)
        distribution.byte_size = len(data)
    elif "hash" in table:
        text = source.text(table, "hash", f"{where}.").removeprefix("0x")
        try:
            digest = bytes.fromhex(text)
        except ValueError:
            raise source.error(f"{where}.hash", f"{text!r} is not hex") from None
        if len(digest) != 32:
            raise source.error(f"{where}.hash", f"{len(digest)} bytes, not 32")
        distribution.hash = digest
    return distribution


# ------------------------------------------------------------------------------ the client


def _status(status: int) -> str:
    try:
        name = types_pb2.ResultStatus.Name(status)  # type: ignore[arg-type]
    except ValueError:
        return str(status)
    return name.removeprefix("RESULT_STATUS_")


class DirectoryClient:
    """The directory contract ``contract`` (its name on the chain) over ``client`` (an SDK
    ``Client``, whose identity signs every call)."""

    def __init__(self, client: DirectoryNode, contract: str = CONTRACT_NAME) -> None:
        if not contract:
            raise RequestError("the directory contract's name must not be empty")
        self.client = client
        self.contract = contract

    # -- plumbing ------------------------------------------------------------------------------

    def _failed(self, method: str, result: types_pb2.TransactionResult) -> TransactionFailedError:
        message = result.error.removeprefix(f"{self.contract}.{method}: ")
        return TransactionFailedError(
            f"{self.contract}.{method} failed ({_status(result.status)}): {message}",
            result=result,
        )

    def _send(self, method: str, arguments: Message) -> types_pb2.TransactionResult:
        outcome = self.client.invoke(self.contract, method, encode_arguments(method, arguments))
        if not outcome.committed or outcome.result is None:
            raise RequestError(
                f"{self.contract}.{method} transaction {outcome.transaction_id.hex()} was "
                "accepted but not committed in time",
                reason="timeout",
            )
        if outcome.result.status != types_pb2.RESULT_STATUS_OK:
            raise self._failed(method, outcome.result)
        return outcome.result

    def _write(
        self, method: str, arguments: Message, event: str, expected: type[MessageT]
    ) -> MessageT:
        """Sends a write; the record its event carries."""
        result = self._send(method, arguments)
        for emitted in result.events:
            if emitted.contract == self.contract and emitted.name == event:
                record = decode_event(event, emitted.data)
                assert isinstance(record, expected)
                return record
        raise CausewayError(
            f"{self.contract}.{method} committed without its {event} event: is "
            f"{self.contract!r} a directory contract?",
            reason="bad_response",
        )

    def _read(self, method: str, arguments: Message | None, expected: type[MessageT]) -> MessageT:
        data = b"" if arguments is None else encode_arguments(method, arguments)
        result = self.client.evaluate(self.contract, method, data)
        if result.status != types_pb2.RESULT_STATUS_OK:
            raise self._failed(method, result)
        decoded = decode_result(method, result.return_value)
        assert isinstance(decoded, expected)
        return decoded

    def load_metadata(self, path: Path | str) -> directory_pb2.ResourceMetadata:
        """``load_metadata`` with this chain's hash (asked of the node once, unless the
        client's identity names its crypto profile)."""
        return load_metadata(path, self.client.hash_function())

    # -- deployment ------------------------------------------------------------------------------

    def deploy(
        self,
        module: bytes,
        interface: str,
        settings: directory_pb2.DirectoryInitArguments,
        *,
        endorsers: Sequence[Identity] = (),
    ) -> contracts_pb2.ContractRecord:
        """Governance: deploys the directory ``module`` (``build_contract()``'s) with its
        interface file's text as ``self.contract``, its ``init`` given ``settings`` whole (every
        administrator organisation: the interface file alone carries one). Signed by the
        client's identity (an admin) and endorsed by ``endorsers`` as the chain's contract
        policy needs. Answers the contract's record."""
        arguments = contracts_pb2.CodeDeployArguments(
            name=self.contract,
            code=module,
            interface_json=interface,
            init_input=encode_arguments("init", settings),
        )
        outcome = self.client.invoke(CODE_CONTRACT, "deploy", arguments, endorsers=endorsers)
        if not outcome.committed or outcome.result is None:
            raise RequestError(
                f"deploying {self.contract} was accepted but not committed in time",
                reason="timeout",
            )
        if outcome.result.status != types_pb2.RESULT_STATUS_OK:
            raise TransactionFailedError(
                f"deploying {self.contract} failed ({_status(outcome.result.status)}): "
                f"{outcome.result.error}",
                result=outcome.result,
            )
        record = contracts_pb2.ContractRecord()
        record.ParseFromString(outcome.result.return_value)
        return record

    # -- the scheme and the departments (administrators) ----------------------------------------

    def info(self) -> directory_pb2.DirectoryInfo:
        return self._read("info", None, directory_pb2.DirectoryInfo)

    def set_category(self, code: str, name: str, name_en: str = "") -> directory_pb2.Category:
        """Records a node of the classification scheme (its parent must exist)."""
        category = directory_pb2.Category(
            code=check_category_code(code), name=name, name_en=name_en
        )
        arguments = directory_pb2.SetCategoryArguments(category=category)
        return self._write("set_category", arguments, "category_set", directory_pb2.Category)

    def set_department(
        self,
        code: str,
        organisation: str,
        name: str,
        *,
        name_en: str = "",
        district: str = "",
        duties: Sequence[str] = (),
    ) -> directory_pb2.Department:
        """Records a department and the organisation whose members act for it."""
        department = directory_pb2.Department(
            code=check_department_code(code),
            organisation=organisation,
            name=name,
            name_en=name_en,
            district=district,
            duties=list(duties),
        )
        arguments = directory_pb2.SetDepartmentArguments(department=department)
        return self._write("set_department", arguments, "department_set", directory_pb2.Department)

    # -- the catalogue ---------------------------------------------------------------------------

    def register_resource(
        self, metadata: directory_pb2.ResourceMetadata
    ) -> directory_pb2.ResourceVersion:
        """Registers a resource of the caller's department; its version 1, with the code the
        contract assigned."""
        arguments = directory_pb2.RegisterResourceArguments(metadata=metadata)
        return self._write(
            "register_resource", arguments, "resource_registered", directory_pb2.ResourceVersion
        )

    def revise_resource(
        self,
        code: str,
        expected_version: int,
        metadata: directory_pb2.ResourceMetadata,
        note: str = "",
    ) -> directory_pb2.ResourceVersion:
        """A new version of ``code``; refused unless ``expected_version`` is its latest."""
        arguments = directory_pb2.ReviseResourceArguments(
            code=check_resource_code(code),
            expected_version=expected_version,
            metadata=metadata,
            note=note,
        )
        return self._write(
            "revise_resource", arguments, "resource_revised", directory_pb2.ResourceVersion
        )

    def withdraw_resource(
        self, code: str, expected_version: int, reason: str
    ) -> directory_pb2.ResourceVersion:
        """Withdraws ``code`` (kept, with its history; no longer requestable)."""
        arguments = directory_pb2.WithdrawResourceArguments(
            code=check_resource_code(code), expected_version=expected_version, reason=reason
        )
        return self._write(
            "withdraw_resource", arguments, "resource_withdrawn", directory_pb2.ResourceVersion
        )

    def get_resource(self, code: str, version: int = 0) -> directory_pb2.ResourceVersion:
        """A version of ``code``; 0: the latest."""
        arguments = directory_pb2.GetResourceArguments(
            code=check_resource_code(code), version=version
        )
        return self._read("get_resource", arguments, directory_pb2.ResourceVersion)

    def resource_history(self, code: str) -> list[directory_pb2.ResourceVersion]:
        """Every version of ``code``, oldest first."""
        arguments = directory_pb2.ResourceHistoryArguments(code=check_resource_code(code))
        found = self._read("resource_history", arguments, directory_pb2.ResourceHistoryResult)
        return list(found.versions)

    def list_resources(
        self, start_after: str = "", limit: int = 0
    ) -> directory_pb2.ListResourcesResult:
        """One page of resource heads in code order after ``start_after`` (``limit`` 0: the
        contract's default of 20; at most PAGE_MAX); ``next`` is the next page's start."""
        arguments = directory_pb2.ListResourcesArguments(
            start_after=start_after, limit=_limit(limit)
        )
        return self._read("list_resources", arguments, directory_pb2.ListResourcesResult)

    def iter_resources(
        self, start_after: str = "", page_size: int = PAGE_MAX
    ) -> Iterator[directory_pb2.ResourceHead]:
        """Every resource head after ``start_after``, page by page."""
        return _pages(lambda after: self.list_resources(after, page_size), start_after, "heads")

    # -- sharing ---------------------------------------------------------------------------------

    def request_sharing(
        self,
        resource_code: str,
        purpose: str,
        *,
        data_items: Sequence[str] = (),
        legal_basis: str = "",
    ) -> directory_pb2.SharingRequest:
        """Asks for ``resource_code`` for the caller's department: the new PENDING request."""
        arguments = directory_pb2.RequestSharingArguments(
            resource_code=check_resource_code(resource_code),
            purpose=purpose,
            data_items=list(data_items),
            legal_basis=legal_basis,
        )
        return self._write(
            "request_sharing", arguments, "request_created", directory_pb2.SharingRequest
        )

    def approve(self, request_id: str, terms: str = "") -> directory_pb2.SharingRequest:
        """Approves (with ``terms``: on conditions) a PENDING or ESCALATED request."""
        arguments = directory_pb2.AnswerRequestArguments(
            id=check_request_id(request_id), terms=terms
        )
        event = "request_conditionally_approved" if terms else "request_approved"
        return self._write("approve", arguments, event, directory_pb2.SharingRequest)

    def refuse(self, request_id: str, reason: str) -> directory_pb2.SharingRequest:
        arguments = directory_pb2.RefuseRequestArguments(
            id=check_request_id(request_id), reason=reason
        )
        return self._write("refuse", arguments, "request_refused", directory_pb2.SharingRequest)

    def revoke(self, request_id: str, reason: str) -> directory_pb2.SharingRequest:
        arguments = directory_pb2.RevokeRequestArguments(
            id=check_request_id(request_id), reason=reason
        )
        return self._write("revoke", arguments, "request_revoked", directory_pb2.SharingRequest)

    def cancel(self, request_id: str, reason: str = "") -> directory_pb2.SharingRequest:
        arguments = directory_pb2.CancelRequestArguments(
            id=check_request_id(request_id), reason=reason
        )
        return self._write("cancel", arguments, "request_cancelled", directory_pb2.SharingRequest)

    def escalate(self, request_id: str) -> directory_pb2.SharingRequest:
        """Hands an overdue PENDING request to the administrators."""
        arguments = directory_pb2.EscalateRequestArguments(id=check_request_id(request_id))
        return self._write("escalate", arguments, "request_escalated", directory_pb2.SharingRequest)

    def record_usage(
        self, request_id: str, purpose: str = "", *, records: int = 0, digest: bytes = b""
    ) -> directory_pb2.UsageReceipt:
        """Records one use of an approved request's data (``digest``: the hash of what was
        received, 32 bytes, or none)."""
        if digest and len(digest) != 32:
            raise RequestError(f"the digest is {len(digest)} bytes, not 32 (or none)")
        arguments = directory_pb2.RecordUsageArguments(
            request_id=check_request_id(request_id),
            purpose=purpose,
            digest=digest,
            records=records,
        )
        return self._write("record_usage", arguments, "usage_recorded", directory_pb2.UsageReceipt)

    def get_request(self, request_id: str) -> directory_pb2.SharingRequest:
        arguments = directory_pb2.GetRequestArguments(id=check_request_id(request_id))
        return self._read("get_request", arguments, directory_pb2.SharingRequest)

    def list_requests(
        self, start_after: str = "", limit: int = 0
    ) -> directory_pb2.ListRequestsResult:
        arguments = directory_pb2.ListRequestsArguments(
            start_after=start_after, limit=_limit(limit)
        )
        return self._read("list_requests", arguments, directory_pb2.ListRequestsResult)

    def iter_requests(
        self,
        start_after: str = "",
        page_size: int = PAGE_MAX,
        *,
        state: directory_pb2.RequestState.ValueType | None = None,
    ) -> Iterator[directory_pb2.SharingRequest]:
        """Every sharing request after ``start_after``, in id order, page by page; with
        ``state``, only those in it (``REQUEST_STATE_ESCALATED``: the administrators' inbox)."""
        pages = _pages(lambda after: self.list_requests(after, page_size), start_after, "requests")
        if state is None:
            return pages
        return (request for request in pages if request.state == state)

    def list_receipts(
        self, request_id: str, start_after: int = 0, limit: int = 0
    ) -> directory_pb2.ListReceiptsResult:
        """A page of the request's usage receipts after sequence ``start_after``; ``next`` is
        the sequence to pass on, 0 after the last page."""
        arguments = directory_pb2.ListReceiptsArguments(
            request_id=check_request_id(request_id),
            start_after=start_after,
            limit=_limit(limit),
        )
        return self._read("list_receipts", arguments, directory_pb2.ListReceiptsResult)

    def iter_receipts(
        self, request_id: str, page_size: int = PAGE_MAX
    ) -> Iterator[directory_pb2.UsageReceipt]:
        start_after = 0
        for _ in range(PAGES_MAX):
            page = self.list_receipts(request_id, start_after, page_size)
            yield from page.receipts
            if page.next == 0:
                return
            start_after = page.next
        raise LimitExceededError(
            f"request {request_id} has more than {PAGES_MAX} pages of receipts"
        )


def _limit(limit: int) -> int:
    if not 0 <= limit <= PAGE_MAX:
        raise RequestError(f"a page holds 1 to {PAGE_MAX} entries (0: 20), not {limit}")
    return limit


PageT = TypeVar("PageT", directory_pb2.ListResourcesResult, directory_pb2.ListRequestsResult)


def _pages(read: Callable[[str], PageT], start_after: str, field: str) -> Iterator[Any]:
    for _ in range(PAGES_MAX):
        page = read(start_after)
        yield from getattr(page, field)
        if not page.next:
            return
        start_after = page.next
    raise LimitExceededError(f"the directory lists more than {PAGES_MAX} pages of {field}")
