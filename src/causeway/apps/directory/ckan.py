"""The directory's CKAN-compatible Action API (CKAN 2.10's, the subset ``ckanapi`` and data-portal
tools use): an ASGI app that serves ``/api/3/action/<name>`` and ``/api/action/<name>``.

Reads come from the ``DirectoryIndex``; writes become directory contract calls, signed by the
member an API token belongs to and submitted through a ``Submitter``. Every answer is CKAN's
envelope, ``{"help", "success": true, "result"}``, and every failure
``{"success": false, "error": {"__type", "message", ...}}`` with CKAN's ``__type`` and status:
``Validation Error`` 409 (the error also carries field → messages), ``Not Found Error`` 404,
``Authorization Error`` 403, ``Search Query Error`` 400.

How a directory resource is a CKAN package (dataset):

- ``id`` is the resource code, ``name`` the code in lower case (CKAN names are ``[a-z0-9_-]``;
  department codes are ``[A-Z0-9]``, so upper-casing a name gives the code back), ``title`` the
  resource name, ``notes`` the abstract, ``version`` the version number, ``state`` ``active`` or
  ``deleted`` (withdrawn: kept with its history);
- ``organization`` the provider department (its name: the department code in lower case);
- ``groups`` the category path: the level-1 category (``group_list``), the item, the sub-item,
  each named ``category-<code>``;
- ``tags`` the keywords; ``resources`` the distributions (``hash`` as ``sha256:<hex>`` or
  ``sm3:<hex>``);
- ``extras`` the GB/T 21063 fields CKAN has no column for (sharing type and conditions and
  method, openness, update cycle, publish date, data items and duties as JSON, related resources)
  and the chain provenance of the latest version (``transaction_id`` in hex, ``height``).

Write actions take the same shape back: ``package_create`` registers (the contract assigns the
code, so ``name`` is ignored), ``package_update`` revises with every field given (what is left
out is cleared, as in CKAN), ``package_patch`` revises with only the given fields changed, and
``resource_create`` adds a distribution. The GB/T fields may be top-level keys or extras. Input
is checked here, against the contract's own bounds, before anything is submitted. A revision is
made against the version the package states (``version``, as ``package_show`` gave it), else the
latest indexed: the contract refuses one made against a version that is no longer the latest, so
two editors cannot silently overwrite each other. A write answers once the index has followed the
chain to the block the transaction committed in, so that the package it returns is the new one.
"""

from __future__ import annotations

import datetime
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl

from google.protobuf.message import Message
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from causeway.apps.directory.index import (
    FACET_LIMIT_MAX,
    QUERY_CHARS_MAX,
    ROWS_MAX,
    DirectoryIndex,
    IndexedResource,
    SearchQueryError,
    TokenOwner,
    category_ancestor,
    openness_name,
    resource_status_name,
    sharing_type_name,
    update_cycle_name,
)
from causeway.apps.directory.v1 import directory_pb2
from causeway.errors import (
    AuthenticationError,
    CausewayError,
    NodeUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    RequestError,
    TransactionFailedError,
)
from causeway.sdk.transactions import SubmitResult

__all__ = [
    "CKAN_VERSION",
    "ClientSubmitter",
    "SubmittedCall",
    "Submitter",
    "create_ckan_app",
    "package_of",
]

CKAN_VERSION = "2.10.4"
API_PREFIXES = ("/api/3/action", "/api/action")
REQUEST_BYTES_MAX = 1 << 20
LIST_LIMIT_DEFAULT = 1000
# How long a write waits for the index to reach the block its transaction committed in.
INDEX_WAIT_S = 10.0
INDEX_POLL_S = 0.02
# The contract's own bounds (directory.proto), checked before a call is submitted.
NAME_BYTES_MAX = 200
ABSTRACT_BYTES_MAX = 4000
DATA_ITEMS_MAX = 200
DISTRIBUTIONS_MAX = 20
RELATED_MAX = 20
DUTIES_MAX = 20
KEYWORDS_MAX = 20
TEXT_BYTES_MAX = 4000
SHORT_TEXT_BYTES_MAX = 200
DESCRIPTION_BYTES_MAX = 500
URL_BYTES_MAX = 2048
CODE_BYTES_MAX = 64
GROUP_PREFIX = "category-"
DATA_ITEM_TYPES = frozenset(
    {"string", "integer", "decimal", "date", "datetime", "boolean", "binary"}
)
RESOURCE_FORMATS = frozenset({"database", "file", "api", "other"})
HASH_ALGORITHMS = {"sha256": "SHA-256", "sm3": "SM3"}

# The contract's methods (RegisterResourceArguments, ReviseResourceArguments).
REGISTER_METHOD = "register_resource"
REVISE_METHOD = "revise_resource"

LICENSES: tuple[Mapping[str, object], ...] = (
    {
        "id": "notspecified",
        "title": "License not specified",
        "url": "",
        "status": "active",
        "od_conformance": "not reviewed",
        "osd_conformance": "not reviewed",
        "domain_content": False,
        "domain_data": False,
        "domain_software": False,
        "family": "",
        "maintainer": "",
        "is_generic": True,
    },
)
LICENSE_ID = "notspecified"

_SHARING_LABELS = {
    "unconditional": "无条件共享",
    "conditional": "有条件共享",
    "not_shared": "不予共享",
}
_OPENNESS_LABELS = {"open": "无条件开放", "conditional": "有条件开放", "not_open": "不予开放"}

# CKAN fq / facet field → the index's field.
_CKAN_FIELDS: Mapping[str, str] = {
    "organization": "department",
    "owner_org": "department",
    "groups": "category_any",
    "tags": "keyword",
    "res_format": "res_format",
    "sharing_type": "sharing_type",
    "district": "district",
    "update_cycle": "update_cycle",
    "openness": "openness",
    "category": "category",
    "resource_format": "format",
    "name": "code",
    "id": "code",
    "state": "status",
}
_CKAN_FACETS: Mapping[str, str] = {
    **{name: field for name, field in _CKAN_FIELDS.items() if field not in ("code", "status")},
    "groups": "category_level1",
    "owner_org": "department",
}
_CKAN_SORTS: Mapping[str, str] = {
    "score": "score",
    "metadata_modified": "modified",
    "metadata_created": "created",
    "title_string": "name",
    "title": "name",
    "name": "code",
    "publish_date": "publish_date",
}
_STATES = {"active": "active", "deleted": "withdrawn"}
_NAME = re.compile(r"^[a-z0-9_-]{2,100}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CATEGORY = re.compile(r"^[1-9][0-9]?([0-9]{2}){0,2}$")


# -- errors as CKAN names them ------------------------------------------------------------------


class CkanError(RequestError):
    """An action's failure as CKAN reports it: its ``__type``, status and extra fields."""

    ckan_type = "Validation Error"
    status = 409

    def __init__(self, message: str, fields: Mapping[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.fields = dict(fields or {})


class CkanValidationError(CkanError):
    reason = "invalid"


class CkanNotFoundError(CkanError):
    ckan_type = "Not Found Error"
    status = 404
    reason = "not_found"


class CkanAuthorizationError(CkanError):
    ckan_type = "Authorization Error"
    status = 403
    reason = "permission_denied"


class CkanSearchQueryError(CkanError):
    ckan_type = "Search Query Error"
    status = 400
    reason = "bad_search"


class CkanBadRequestError(CkanError):
    ckan_type = "Bad Request"
    status = 400
    reason = "bad_request"


class CkanUnavailableError(CkanError):
    """The chain or the index could not answer now (CKAN has no __type for it: ckanapi raises
    its generic CKANAPIError)."""

    ckan_type = "Service Unavailable"
    status = 503
    reason = "unavailable"


def _ckan_error(error: CausewayError) -> CkanError:
    """The CKAN failure that reports a Causeway error."""
    if isinstance(error, CkanError):
        return error
    if isinstance(error, SearchQueryError):
        return CkanSearchQueryError(error.message)
    if isinstance(error, NotFoundError):
        return CkanNotFoundError(error.message)
    if isinstance(error, (PermissionDeniedError, AuthenticationError)):
        return CkanAuthorizationError(error.message)
    if isinstance(error, RequestError):
        return CkanValidationError(error.message, {"chain": [error.message]})
    return CkanUnavailableError(error.message)


# -- the submitter ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubmittedCall:
    """A contract call that committed and succeeded: where, and what it returned."""

    transaction_id: bytes
    height: int
    return_value: bytes


class Submitter(Protocol):
    """Submits a directory contract call signed by ``owner.member`` and waits until it commits.
    Raises ``TransactionFailedError`` when the contract refused it, and the RequestError of a
    call the node refused (PermissionDeniedError, NotFoundError ... as the SDK raises them)."""

    def submit(self, owner: TokenOwner, method: str, arguments: Message) -> SubmittedCall: ...


class SubmitClient(Protocol):
    """What ``ClientSubmitter`` needs of an SDK ``Client``: ``invoke``."""

    def invoke(self, contract: str, method: str, arguments: Message | bytes) -> SubmitResult: ...


class ClientSubmitter:
    """A ``Submitter`` over the SDK: ``client_for(member)`` answers a ``causeway.sdk.Client``
    whose identity is that member's (the service holds the keys of the staff it acts for), and
    the call goes to ``contract`` with the arguments message as its input."""

    def __init__(self, client_for: Callable[[str], SubmitClient], contract: str) -> None:
        self._client_for = client_for
        self.contract = contract

    def submit(self, owner: TokenOwner, method: str, arguments: Message) -> SubmittedCall:
        outcome = self._client_for(owner.member).invoke(self.contract, method, arguments)
        if not outcome.committed or outcome.result is None:
            # The node took it and has not committed it yet: unavailable (503), not a bad
            # request; it may still commit (the index will show it).
            raise NodeUnavailableError(f"{self.contract}.{method} did not commit in time")
        if not outcome.succeeded:
            raise TransactionFailedError(
                f"{self.contract}.{method} failed: {outcome.result.error}", result=outcome.result
            )
        return SubmittedCall(outcome.transaction_id, outcome.height, outcome.result.return_value)


# -- packages -----------------------------------------------------------------------------------


def _timestamp(time_ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(time_ms / 1000, tz=datetime.UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds")


def organization_name(department_code: str) -> str:
    return department_code.lower()


def group_name(category_code: str) -> str:
    return f"{GROUP_PREFIX}{category_code}"


def _organization(department: directory_pb2.Department | None, code: str) -> dict[str, object]:
    title = code if department is None else department.name
    return {
        "id": code,
        "name": organization_name(code),
        "title": title,
        "display_name": title,
        "description": "" if department is None else "; ".join(department.duties),
        "type": "organization",
        "is_organization": True,
        "state": "active",
        "approval_status": "approved",
        "image_url": "",
        "created": _timestamp(0),
        "title_en": "" if department is None else department.name_en,
        "district": "" if department is None else department.district,
        "organisation": "" if department is None else department.organisation,
    }


def _group(category: directory_pb2.Category | None, code: str) -> dict[str, object]:
    title = code if category is None else category.name
    return {
        "id": group_name(code),
        "name": group_name(code),
        "title": title,
        "display_name": title,
        "description": "" if category is None else category.name_en,
        "type": "group",
        "is_organization": False,
        "state": "active",
        "approval_status": "approved",
        "image_display_url": "",
        "level": 0 if category is None else category.level,
    }


def _hash_text(distribution: directory_pb2.Distribution) -> str:
    if not distribution.hash:
        return ""
    algorithm = distribution.hash_algorithm.replace("-", "").lower() or "sha256"
    return f"{algorithm}:{distribution.hash.hex()}"


def _resource_dict(
    code: str, position: int, distribution: directory_pb2.Distribution, created: str, modified: str
) -> dict[str, object]:
    return {
        "id": f"{code.lower()}-{position}",
        "package_id": code,
        "position": position,
        "url": distribution.access_url,
        "name": distribution.name,
        "description": "",
        "format": distribution.format,
        "mimetype": None,
        "size": distribution.byte_size or None,
        "hash": _hash_text(distribution),
        "created": created,
        "last_modified": modified,
        "state": "active",
        "url_type": None,
    }


def package_of(
    indexed: IndexedResource,
    departments: Mapping[str, directory_pb2.Department],
    categories: Mapping[str, directory_pb2.Category],
) -> dict[str, object]:
    """The CKAN package of an indexed resource (the module docstring gives the mapping)."""
    record = indexed.record
    metadata = record.metadata
    created = _timestamp(indexed.created_ms)
    modified = _timestamp(indexed.modified_ms)
    category = metadata.category_code
    path = [
        code
        for code in (category_ancestor(category, 1), category_ancestor(category, 2), category)
        if code
    ]
    groups = [_group(categories.get(code), code) for code in dict.fromkeys(path)]
    extras = {
        "resource_code": record.code,
        "directory_id": record.directory_id,
        "category_code": category,
        "provider_code": record.provider_code,
        "provider_organisation": record.provider_organisation,
        "district": indexed.district,
        "resource_format": metadata.format,
        "sharing_type": sharing_type_name(metadata.sharing_type),
        "sharing_conditions": metadata.sharing_conditions,
        "sharing_method": metadata.sharing_method,
        "openness": openness_name(metadata.openness),
        "openness_conditions": metadata.openness_conditions,
        "update_cycle": update_cycle_name(metadata.update_cycle),
        "publish_date": metadata.publish_date,
        "data_items": json.dumps(
            [
                {
                    "name": item.name,
                    "type": item.type,
                    "description": item.description,
                    "length": item.length,
                }
                for item in metadata.data_items
            ],
            ensure_ascii=False,
        ),
        "duties": json.dumps(list(metadata.duties), ensure_ascii=False),
        "related_resources": json.dumps(list(metadata.related_resources)),
        "name_en": metadata.name_en,
        "abstract_en": metadata.abstract_en,
        "status": resource_status_name(record.status),
        "reason": record.reason,
        "version": str(record.version),
        "transaction_id": indexed.transaction_id.hex(),
        "height": str(indexed.height),
    }
    keywords = list(dict.fromkeys(metadata.keywords))
    department = departments.get(record.provider_code)
    return {
        "id": record.code,
        "name": record.code.lower(),
        "title": metadata.name,
        "notes": metadata.abstract,
        "type": "dataset",
        "owner_org": record.provider_code,
        "organization": _organization(department, record.provider_code),
        "private": False,
        "license_id": LICENSE_ID,
        "license_title": "License not specified",
        "version": str(record.version),
        "url": "",
        "author": record.author,
        "author_email": None,
        "maintainer": "" if department is None else department.name,
        "maintainer_email": None,
        "state": "deleted"
        if record.status == directory_pb2.RESOURCE_STATUS_WITHDRAWN
        else "active",
        "isopen": metadata.openness == directory_pb2.OPENNESS_OPEN,
        "metadata_created": created,
        "metadata_modified": modified,
        "creator_user_id": record.author,
        "tags": [
            {"name": keyword, "display_name": keyword, "state": "active", "vocabulary_id": None}
            for keyword in keywords
        ],
        "num_tags": len(keywords),
        "groups": groups,
        "resources": [
            _resource_dict(record.code, position, distribution, created, modified)
            for position, distribution in enumerate(metadata.distributions)
        ],
        "num_resources": len(metadata.distributions),
        "extras": [{"key": key, "value": value} for key, value in sorted(extras.items())],
        "relationships_as_object": [],
        "relationships_as_subject": [],
    }


# -- parameters ---------------------------------------------------------------------------------


def _int_parameter(data: Mapping[str, Any], name: str, default: int, low: int = 0) -> int:
    value = data.get(name, default)
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,9}", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CkanValidationError(f"{name}: Invalid integer", {name: ["Invalid integer"]})
    if value < low:
        message = f"Must be a natural number{'' if low == 0 else ' greater than 0'}"
        raise CkanValidationError(f"{name}: {message}", {name: [message]})
    return value


def _bool_parameter(data: Mapping[str, Any], name: str, default: bool) -> bool:
    value = data.get(name, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise CkanValidationError(f"{name}: Invalid boolean", {name: ["Invalid boolean"]})


def _text_parameter(data: Mapping[str, Any], name: str, default: str = "") -> str:
    value = data.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise CkanValidationError(f"{name}: must be text", {name: ["Must be a string"]})
    return value


def _list_parameter(data: Mapping[str, Any], name: str) -> list[str]:
    """A list given as a JSON list (CKAN's form for facet.field), a list, or one value."""
    value = data.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.lstrip().startswith("[") else [value]
        except ValueError:
            raise CkanSearchQueryError(f"{name} is not a JSON list") from None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise CkanSearchQueryError(f"{name} must be a list of field names")
    return value


def parse_fq(fq: str) -> list[tuple[str, list[str]]]:
    """The clauses of a Solr filter query in the subset CKAN clients send: ``field:value``,
    ``field:"quoted value"`` and ``field:(a OR b)``, joined by spaces, ``AND`` or ``+``; every
    clause must hold. Answers (CKAN field, values) pairs; anything else is a Search Query Error."""
    clauses: list[tuple[str, list[str]]] = []
    position = 0
    length = len(fq)
    while True:
        while position < length and (fq[position].isspace() or fq[position] == "+"):
            position += 1
        if position >= length:
            return clauses
        if fq.startswith("AND", position) and (
            position + 3 == length or fq[position + 3].isspace()
        ):
            position += 3
            continue
        match = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*):").match(fq, position)
        if match is None:
            raise CkanSearchQueryError(f"cannot parse fq at {fq[position : position + 20]!r}")
        name = match.group(1)
        position = match.end()
        if position < length and fq[position] == "(":
            end = fq.find(")", position)
            if end < 0:
                raise CkanSearchQueryError("fq has an unclosed parenthesis")
            inner = fq[position + 1 : end]
            values = [_fq_value(part.strip()) for part in re.split(r"\s+OR\s+", inner.strip())]
            position = end + 1
        elif position < length and fq[position] == '"':
            end = position + 1
            while end < length and fq[end] != '"':
                end += 2 if fq[end] == "\\" else 1
            if end >= length:
                raise CkanSearchQueryError("fq has an unclosed quotation mark")
            values = [_fq_value(fq[position : end + 1])]
            position = end + 1
        else:
            end = position
            while end < length and not fq[end].isspace():
                end += 2 if fq[end] == "\\" else 1
            values = [_fq_value(fq[position:end])]
            position = end
        if any(value == "" for value in values):
            raise CkanSearchQueryError(f"fq clause {name!r} has an empty value")
        clauses.append((name, values))


def _fq_value(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1]
    return re.sub(r"\\(.)", r"\1", text)


def _fielded_terms(q: str) -> tuple[str, list[str]]:
    """``q`` less its ``field:value`` terms on the fields fq knows (``tags:人口``, as CKAN's
    search box passes them to Solr), which become filter clauses; the rest is text."""
    text: list[str] = []
    fielded: list[str] = []
    for word in q.split(" "):
        name, colon, value = word.partition(":")
        if colon and value and name in _CKAN_FIELDS:
            fielded.append(word)
        else:
            text.append(word)
    return " ".join(text), fielded


def _index_value(field: str, value: str) -> str:
    """A CKAN value as the index stores it (names of organisations and groups, states)."""
    if field in ("organization", "owner_org", "name", "id"):
        return value.upper()
    if field == "groups":
        return value.removeprefix(GROUP_PREFIX)
    if field == "state":
        return _STATES.get(value, value)
    return value


def _search_filters(fq: str, include_deleted: bool) -> list[tuple[str, list[str]]]:
    filters: list[tuple[str, list[str]]] = []
    stated_state = False
    for name, values in parse_fq(fq):
        field = _CKAN_FIELDS.get(name)
        if field is None:
            raise CkanSearchQueryError(
                f"unknown fq field {name!r}: one of {', '.join(sorted(_CKAN_FIELDS))}"
            )
        stated_state = stated_state or field == "status"
        filters.append((field, [_index_value(name, value) for value in values]))
    if not include_deleted and not stated_state:
        filters.append(("status", ["active"]))
    return filters


def _search_sort(sort: str) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    for clause in sort.split(","):
        words = clause.split()
        if not words:
            continue
        if len(words) > 2 or words[0] not in _CKAN_SORTS:
            raise CkanSearchQueryError(
                f"cannot sort by {clause.strip()!r}: one of {', '.join(sorted(_CKAN_SORTS))}"
                " then asc or desc"
            )
        direction = words[1].lower() if len(words) == 2 else "asc"
        keys.append((_CKAN_SORTS[words[0]], direction))
    return keys


# -- the actions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Call:
    data: Mapping[str, Any]
    owner: TokenOwner | None


class CkanApi:
    """The actions over an index and (for writes) a submitter; ``create_ckan_app`` serves them."""

    def __init__(
        self,
        index: DirectoryIndex,
        submitter: Submitter | None,
        chain_id: str,
        site_url: str,
        index_wait_s: float = INDEX_WAIT_S,
    ) -> None:
        self.index = index
        self.submitter = submitter
        self.chain_id = chain_id
        self.site_url = site_url
        self.index_wait_s = index_wait_s
        self.reads: Mapping[str, Callable[[_Call], object]] = {
            "status_show": self.status_show,
            "package_list": self.package_list,
            "package_show": self.package_show,
            "package_search": self.package_search,
            "resource_show": self.resource_show,
            "organization_list": self.organization_list,
            "organization_show": self.organization_show,
            "group_list": self.group_list,
            "group_show": self.group_show,
            "tag_list": self.tag_list,
            "license_list": self.license_list,
        }
        self.writes: Mapping[str, Callable[[_Call], object]] = {
            "package_create": self.package_create,
            "package_update": self.package_update,
            "package_patch": self.package_patch,
            "resource_create": self.resource_create,
        }

    # ---------------------------------------------------------------- helpers

    def _lookups(
        self,
    ) -> tuple[dict[str, directory_pb2.Department], dict[str, directory_pb2.Category]]:
        departments = {item.code: item for item, _ in self.index.departments(counted=False)}
        categories = {item.code: item for item, _ in self.index.categories(counted=False)}
        return departments, categories

    def _package(self, indexed: IndexedResource) -> dict[str, object]:
        departments, categories = self._lookups()
        return package_of(indexed, departments, categories)

    def _indexed(self, data: Mapping[str, Any], name: str = "id") -> IndexedResource:
        identifier = _text_parameter(data, name).strip()
        if not identifier:
            raise CkanValidationError(f"{name}: Missing value", {name: ["Missing value"]})
        try:
            return self.index.resource(identifier.upper())
        except NotFoundError:
            raise CkanNotFoundError("Dataset not found") from None

    # ---------------------------------------------------------------- reads

    def status_show(self, call: _Call) -> object:
        position = self.index.checkpoint()
        return {
            "site_title": "Causeway data directory",
            "site_description": "",
            "site_url": self.site_url,
            "ckan_version": CKAN_VERSION,
            "error_emails_to": None,
            "locale_default": "zh_Hans_CN",
            "extensions": ["causeway_directory"],
            "chain_id": self.chain_id,
            "index_height": position.height,
            "index_position": list(position),
        }

    def package_list(self, call: _Call) -> object:
        limit = _int_parameter(call.data, "limit", LIST_LIMIT_DEFAULT)
        offset = _int_parameter(call.data, "offset", 0)
        codes = self.index.resource_codes(offset, min(limit, LIST_LIMIT_DEFAULT))
        return [code.lower() for code in codes]

    def package_show(self, call: _Call) -> object:
        return self._package(self._indexed(call.data))

    def resource_show(self, call: _Call) -> object:
        identifier = _text_parameter(call.data, "id").strip().lower()
        code, _, position = identifier.rpartition("-")
        if not code or not position.isdigit():
            raise CkanNotFoundError("Resource was not found.")
        try:
            indexed = self.index.resource(code.upper())
        except NotFoundError:
            raise CkanNotFoundError("Resource was not found.") from None
        resources = self._package(indexed)["resources"]
        assert isinstance(resources, list)
        if int(position) >= len(resources):
            raise CkanNotFoundError("Resource was not found.")
        return resources[int(position)]

    def package_search(self, call: _Call) -> object:
        data = call.data
        q = _text_parameter(data, "q", "*:*")
        if len(q) > QUERY_CHARS_MAX:
            raise CkanSearchQueryError(f"q is longer than {QUERY_CHARS_MAX} characters")
        q, fielded = _fielded_terms(q)
        fq = " ".join([_text_parameter(data, "fq"), *fielded])
        for extra in _list_parameter(data, "fq_list"):
            fq = f"{fq} {extra}"
        if len(fq) > QUERY_CHARS_MAX * 4:
            raise CkanSearchQueryError(f"fq is longer than {QUERY_CHARS_MAX * 4} characters")
        rows = min(_int_parameter(data, "rows", 10), ROWS_MAX)
        start = _int_parameter(data, "start", 0)
        sort = _text_parameter(data, "sort", "score desc, metadata_modified desc")
        facet_names = _list_parameter(data, "facet.field")
        if not _bool_parameter(data, "facet", True):
            facet_names = []
        facet_limit = _int_parameter(data, "facet.limit", 50, low=-1)
        if facet_limit < 0:
            facet_limit = FACET_LIMIT_MAX
        facet_mincount = _int_parameter(data, "facet.mincount", 1)
        include_deleted = _bool_parameter(data, "include_deleted", False)
        for name in facet_names:
            if name not in _CKAN_FACETS:
                raise CkanSearchQueryError(
                    f"cannot facet on {name!r}: one of {', '.join(sorted(_CKAN_FACETS))}"
                )
        page = self.index.search(
            q,
            filters=_search_filters(fq, include_deleted),
            sort=_search_sort(sort) or None,
            rows=rows,
            start=start,
            facet_fields=[_CKAN_FACETS[name] for name in facet_names],
            facet_limit=min(facet_limit, FACET_LIMIT_MAX),
        )
        departments, categories = self._lookups()
        facets: dict[str, dict[str, int]] = {}
        search_facets: dict[str, dict[str, object]] = {}
        for name in facet_names:
            counts = [
                (value, count)
                for value, count in page.facets.get(_CKAN_FACETS[name], ())
                if count >= facet_mincount
            ]
            items = [
                self._facet_item(name, value, count, departments, categories)
                for value, count in counts
            ]
            facets[name] = {
                str(item["name"]): count for item, (_, count) in zip(items, counts, strict=True)
            }
            search_facets[name] = {"title": name, "items": items}
        return {
            "count": page.count,
            "sort": sort,
            "results": [package_of(indexed, departments, categories) for indexed in page.results],
            "facets": facets,
            "search_facets": search_facets,
        }

    @staticmethod
    def _facet_item(
        name: str,
        value: str,
        count: int,
        departments: Mapping[str, directory_pb2.Department],
        categories: Mapping[str, directory_pb2.Category],
    ) -> dict[str, object]:
        field = _CKAN_FACETS[name]
        display = value
        shown = value
        if field == "department":
            shown = organization_name(value)
            department = departments.get(value)
            display = value if department is None else department.name
        elif field in ("category_level1", "category"):
            shown = group_name(value) if name == "groups" else value
            category = categories.get(value)
            display = value if category is None else category.name
        elif field == "sharing_type":
            display = _SHARING_LABELS.get(value, value)
        elif field == "openness":
            display = _OPENNESS_LABELS.get(value, value)
        return {"name": shown, "display_name": display, "count": count}

    def organization_list(self, call: _Call) -> object:
        all_fields = _bool_parameter(call.data, "all_fields", False)
        limit = _int_parameter(call.data, "limit", LIST_LIMIT_DEFAULT)
        offset = _int_parameter(call.data, "offset", 0)
        chosen = self.index.departments()[offset : offset + min(limit, LIST_LIMIT_DEFAULT)]
        if not all_fields:
            return [organization_name(item.code) for item, _ in chosen]
        return [
            {**_organization(item, item.code), "package_count": count} for item, count in chosen
        ]

    def organization_show(self, call: _Call) -> object:
        identifier = _text_parameter(call.data, "id").strip().upper()
        for department, count in self.index.departments():
            if department.code == identifier:
                shown: dict[str, object] = {
                    **_organization(department, department.code),
                    "package_count": count,
                    "users": [],
                }
                if _bool_parameter(call.data, "include_datasets", False):
                    page = self.index.search(
                        filters=[("department", [department.code]), ("status", ["active"])],
                        sort=[("code", "asc")],
                        rows=ROWS_MAX,
                    )
                    shown["packages"] = [self._package(item) for item in page.results]
                return shown
        raise CkanNotFoundError("Organization was not found.")

    def _level1_groups(self) -> list[tuple[directory_pb2.Category, int]]:
        return [(item, count) for item, count in self.index.categories() if item.level == 1]

    def group_list(self, call: _Call) -> object:
        all_fields = _bool_parameter(call.data, "all_fields", False)
        groups = self._level1_groups()
        if not all_fields:
            return [group_name(item.code) for item, _ in groups]
        return [{**_group(item, item.code), "package_count": count} for item, count in groups]

    def group_show(self, call: _Call) -> object:
        identifier = _text_parameter(call.data, "id").strip().removeprefix(GROUP_PREFIX)
        for category, count in self.index.categories():
            if category.code == identifier:
                return {**_group(category, category.code), "package_count": count}
        raise CkanNotFoundError("Group was not found.")

    def tag_list(self, call: _Call) -> object:
        query = _text_parameter(call.data, "query")
        keywords = self.index.keywords(query)
        if _bool_parameter(call.data, "all_fields", False):
            return [
                {"id": keyword, "name": keyword, "display_name": keyword, "vocabulary_id": None}
                for keyword in keywords
            ]
        return keywords

    def license_list(self, call: _Call) -> object:
        return [dict(item) for item in LICENSES]

    # ---------------------------------------------------------------- writes

    def _submit(self, call: _Call, method: str, arguments: Message) -> SubmittedCall:
        if self.submitter is None:
            raise CkanAuthorizationError("this directory service does not accept writes")
        assert call.owner is not None
        submitted = self.submitter.submit(call.owner, method, arguments)
        deadline = time.monotonic() + self.index_wait_s
        while self.index.checkpoint().height < submitted.height:
            if time.monotonic() > deadline:
                raise CkanUnavailableError(
                    f"the transaction committed at height {submitted.height}, but the index has"
                    " not reached it yet; ask again shortly"
                )
            time.sleep(INDEX_POLL_S)
        return submitted

    def _check_references(
        self, metadata: directory_pb2.ResourceMetadata, department_code: str
    ) -> None:
        """What the contract checks against its state, checked against the index first: the
        category is an item or sub-item of the scheme, the duties are the department's, the
        related resources exist (the contract still decides: the index may lag the chain)."""
        errors: dict[str, list[str]] = {}
        categories = {item.code: item for item, _ in self.index.categories(counted=False)}
        category = categories.get(metadata.category_code)
        if category is None:
            errors["category_code"] = [f"no category {metadata.category_code} in the scheme"]
        elif category.level < 2:
            errors["category_code"] = ["a level-1 category: give an item or a sub-item"]
        departments = {item.code: item for item, _ in self.index.departments(counted=False)}
        department = departments.get(department_code)
        if department is None:
            errors["owner_org"] = [f"no department {department_code} in the directory"]
        else:
            foreign = [duty for duty in metadata.duties if duty not in department.duties]
            if foreign:
                errors["duties"] = [f"not duties of {department_code}: {', '.join(foreign)}"]
        for related in metadata.related_resources:
            try:
                self.index.resource(related)
            except NotFoundError:
                errors.setdefault("related_resources", []).append(f"no resource {related}")
        if errors:
            raise CkanValidationError("invalid dataset", errors)

    def _own(self, call: _Call, indexed: IndexedResource) -> None:
        assert call.owner is not None
        if indexed.record.provider_code != call.owner.department_code:
            raise CkanAuthorizationError(
                f"User {call.owner.member} not authorized to edit package {indexed.record.code}"
            )

    def package_create(self, call: _Call) -> object:
        assert call.owner is not None
        if not call.owner.department_code:
            raise CkanAuthorizationError(
                f"User {call.owner.member} acts for no department (an administrator's token):"
                " not authorized to create datasets"
            )
        owner_org = _text_parameter(call.data, "owner_org").strip()
        metadata = metadata_from_package(call.data, None)
        if owner_org and owner_org.upper() != call.owner.department_code:
            raise CkanAuthorizationError(
                f"User {call.owner.member} not authorized to add dataset to this organization"
            )
        self._check_references(metadata, call.owner.department_code)
        submitted = self._submit(
            call, REGISTER_METHOD, directory_pb2.RegisterResourceArguments(metadata=metadata)
        )
        result = directory_pb2.RegisterResourceResult()
        result.ParseFromString(submitted.return_value)
        return self._package(self.index.resource(result.code))

    def _revise(
        self, call: _Call, indexed: IndexedResource, metadata: directory_pb2.ResourceMetadata
    ) -> object:
        expected = indexed.record.version
        stated = call.data.get("version")
        if isinstance(stated, str) and stated.isdigit():
            expected = int(stated)
        note = _text_parameter(call.data, "log_message")
        if len(note.encode()) > TEXT_BYTES_MAX:
            raise CkanValidationError(
                "invalid log message", {"log_message": [f"Longer than {TEXT_BYTES_MAX} bytes"]}
            )
        self._check_references(metadata, indexed.record.provider_code)
        arguments = directory_pb2.ReviseResourceArguments(
            code=indexed.record.code, expected_version=expected, metadata=metadata, note=note
        )
        self._submit(call, REVISE_METHOD, arguments)
        return self._package(self.index.resource(indexed.record.code))

    def package_update(self, call: _Call) -> object:
        indexed = self._indexed(call.data)
        self._own(call, indexed)
        return self._revise(call, indexed, metadata_from_package(call.data, None))

    def package_patch(self, call: _Call) -> object:
        indexed = self._indexed(call.data)
        self._own(call, indexed)
        return self._revise(
            call, indexed, metadata_from_package(call.data, indexed.record.metadata)
        )

    def resource_create(self, call: _Call) -> object:
        indexed = self._indexed(call.data, "package_id")
        self._own(call, indexed)
        metadata = directory_pb2.ResourceMetadata()
        metadata.CopyFrom(indexed.record.metadata)
        errors: dict[str, list[str]] = {}
        distribution = _distribution(call.data, "", errors)
        if len(metadata.distributions) >= DISTRIBUTIONS_MAX:
            errors.setdefault("resources", []).append(
                f"at most {DISTRIBUTIONS_MAX} resources per dataset"
            )
        if errors:
            raise CkanValidationError("invalid resource", errors)
        metadata.distributions.append(distribution)
        package = self._revise(call, indexed, metadata)
        assert isinstance(package, dict)
        resources = package["resources"]
        assert isinstance(resources, list) and resources
        return resources[-1]


# -- package → metadata ---------------------------------------------------------------------------

_ENUMS: Mapping[str, Mapping[str, int]] = {
    "sharing_type": {
        "unconditional": directory_pb2.SHARING_TYPE_UNCONDITIONAL,
        "conditional": directory_pb2.SHARING_TYPE_CONDITIONAL,
        "not_shared": directory_pb2.SHARING_TYPE_NOT_SHARED,
    },
    "openness": {
        "open": directory_pb2.OPENNESS_OPEN,
        "conditional": directory_pb2.OPENNESS_CONDITIONAL,
        "not_open": directory_pb2.OPENNESS_NOT_OPEN,
    },
    "update_cycle": {
        name.removeprefix("UPDATE_CYCLE_").lower(): number
        for name, number in directory_pb2.UpdateCycle.items()
        if number != directory_pb2.UPDATE_CYCLE_UNSPECIFIED
    },
}
_GBT_FIELDS = (
    "category_code",
    "resource_format",
    "sharing_type",
    "sharing_conditions",
    "sharing_method",
    "openness",
    "openness_conditions",
    "update_cycle",
    "publish_date",
    "data_items",
    "duties",
    "related_resources",
    "name_en",
    "abstract_en",
)


def _fields(data: Mapping[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    """The package's fields with the GB/T ones gathered from extras (a top-level key wins)."""
    fields = dict(data)
    extras = data.get("extras")
    if extras is not None:
        if not isinstance(extras, list):
            errors.setdefault("extras", []).append("must be a list of {key, value}")
            return fields
        for extra in extras:
            if not (
                isinstance(extra, dict)
                and isinstance(extra.get("key"), str)
                and isinstance(extra.get("value"), str)
            ):
                errors.setdefault("extras", []).append("each extra is {key, value} of text")
                continue
            if extra["key"] in _GBT_FIELDS and extra["key"] not in data:
                fields[extra["key"]] = extra["value"]
    return fields


def _text(
    fields: Mapping[str, Any],
    name: str,
    errors: dict[str, list[str]],
    bytes_max: int = TEXT_BYTES_MAX,
    required: bool = False,
) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        if required:
            errors.setdefault(name, []).append("Missing value")
        return None
    if not isinstance(value, str):
        errors.setdefault(name, []).append("Must be a string")
        return None
    if len(value.encode()) > bytes_max:
        errors.setdefault(name, []).append(f"Longer than {bytes_max} bytes")
        return None
    return value


def _json_list(
    fields: Mapping[str, Any], name: str, errors: dict[str, list[str]]
) -> list[Any] | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            errors.setdefault(name, []).append("Not a JSON list")
            return None
    if not isinstance(value, list):
        errors.setdefault(name, []).append("Must be a list")
        return None
    return value


def _distribution(
    data: Mapping[str, Any], prefix: str, errors: dict[str, list[str]]
) -> directory_pb2.Distribution:
    distribution = directory_pb2.Distribution()
    url = _text(data, "url", errors, URL_BYTES_MAX)
    distribution.access_url = url or ""
    distribution.format = (_text(data, "format", errors, SHORT_TEXT_BYTES_MAX) or "").upper()
    # CKAN lets a resource go unnamed (its pages show the URL); the directory names every
    # distribution, so an unnamed one is named as CKAN shows it: by the URL's last part.
    name = _text(data, "name", errors, NAME_BYTES_MAX)
    if not name:
        name = distribution.access_url.rstrip("/").rpartition("/")[2]
        name = name or distribution.format or "resource"
        while len(name.encode()) > NAME_BYTES_MAX:
            name = name[:-1]
    distribution.name = name
    hash_text = _text(data, "hash", errors, 200)
    if hash_text:
        algorithm, _, digest = hash_text.rpartition(":")
        if (algorithm or "sha256").lower() not in HASH_ALGORITHMS or not re.fullmatch(
            r"[0-9a-fA-F]{64}", digest
        ):
            errors.setdefault(f"{prefix}hash", []).append(
                "a hash is sha256:<64 hex digits> or sm3:<64 hex digits>"
            )
        else:
            distribution.hash = bytes.fromhex(digest)
            distribution.hash_algorithm = HASH_ALGORITHMS[(algorithm or "sha256").lower()]
    size = data.get("size")
    if size not in (None, ""):
        if isinstance(size, str) and size.isdigit():
            size = int(size)
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            errors.setdefault(f"{prefix}size", []).append("Invalid integer")
        else:
            distribution.byte_size = size
    if not distribution.access_url and not distribution.hash:
        errors.setdefault(f"{prefix}url", []).append("Missing value")
    return distribution


def metadata_from_package(
    data: Mapping[str, Any], base: directory_pb2.ResourceMetadata | None
) -> directory_pb2.ResourceMetadata:
    """The resource metadata a CKAN package states. With ``base`` (a patch), fields not given
    keep its values; without (a create or an update), they are empty. Every problem found is
    reported at once, as a Validation Error with field → messages."""
    errors: dict[str, list[str]] = {}
    fields = _fields(data, errors)
    patching = base is not None
    metadata = directory_pb2.ResourceMetadata()
    if base is not None:
        metadata.CopyFrom(base)

    def given(name: str) -> bool:
        return not patching or name in fields

    if given("title"):
        metadata.name = _text(fields, "title", errors, NAME_BYTES_MAX, required=True) or ""
    if given("notes"):
        metadata.abstract = _text(fields, "notes", errors, ABSTRACT_BYTES_MAX) or ""
    if given("category_code"):
        category = _text(fields, "category_code", errors, 16, required=True) or ""
        if category and (not _CATEGORY.match(category) or len(category) < 3):
            errors.setdefault("category_code", []).append(
                "an item or sub-item code of the classification scheme"
            )
        metadata.category_code = category
    for name, bytes_max in (
        ("sharing_conditions", TEXT_BYTES_MAX),
        ("sharing_method", SHORT_TEXT_BYTES_MAX),
        ("openness_conditions", TEXT_BYTES_MAX),
        ("name_en", NAME_BYTES_MAX),
    ):
        if given(name):
            setattr(metadata, name, _text(fields, name, errors, bytes_max) or "")
    if given("abstract_en"):
        metadata.abstract_en = _text(fields, "abstract_en", errors, ABSTRACT_BYTES_MAX) or ""
    if given("resource_format"):
        resource_format = _text(fields, "resource_format", errors, 16) or ""
        if resource_format and resource_format not in RESOURCE_FORMATS:
            errors.setdefault("resource_format", []).append(
                f"one of {', '.join(sorted(RESOURCE_FORMATS))}"
            )
        metadata.format = resource_format
    for name, values in _ENUMS.items():
        if not given(name):
            continue
        text = _text(fields, name, errors, 32, required=name == "sharing_type")
        if text is None:
            setattr(metadata, name, 0)
        elif text not in values:
            errors.setdefault(name, []).append(f"one of {', '.join(values)}")
        else:
            setattr(metadata, name, values[text])
    if given("publish_date"):
        date = _text(fields, "publish_date", errors, 10) or ""
        if date:
            try:
                if not _DATE.match(date):
                    raise ValueError(date)
                datetime.date.fromisoformat(date)
            except ValueError:
                errors.setdefault("publish_date", []).append("a date, YYYY-MM-DD")
        metadata.publish_date = date
    if (
        metadata.sharing_type
        in (
            directory_pb2.SHARING_TYPE_CONDITIONAL,
            directory_pb2.SHARING_TYPE_NOT_SHARED,
        )
        and not metadata.sharing_conditions
    ):
        errors.setdefault("sharing_conditions", []).append(
            "required when the sharing type is conditional or not_shared"
        )
    if given("tags"):
        tags = fields.get("tags") or []
        del metadata.keywords[:]
        if not isinstance(tags, list) or len(tags) > KEYWORDS_MAX:
            errors.setdefault("tags", []).append(f"a list of at most {KEYWORDS_MAX} tags")
        else:
            for tag in tags:
                tag_name = tag.get("name") if isinstance(tag, dict) else tag
                if (
                    not isinstance(tag_name, str)
                    or not 1 <= len(tag_name.encode()) <= SHORT_TEXT_BYTES_MAX
                ):
                    errors.setdefault("tags", []).append(
                        f"a tag is {{name}} of 1 to {SHORT_TEXT_BYTES_MAX} bytes"
                    )
                else:
                    metadata.keywords.append(tag_name)
    if given("resources"):
        resources = fields.get("resources") or []
        del metadata.distributions[:]
        if not isinstance(resources, list) or len(resources) > DISTRIBUTIONS_MAX:
            errors.setdefault("resources", []).append(
                f"a list of at most {DISTRIBUTIONS_MAX} resources"
            )
        else:
            for position, resource in enumerate(resources):
                if not isinstance(resource, dict):
                    errors.setdefault("resources", []).append("each resource is an object")
                    continue
                metadata.distributions.append(
                    _distribution(resource, f"resources.{position}.", errors)
                )
    _list_fields(fields, metadata, given, errors)
    if errors:
        raise CkanValidationError("invalid dataset", errors)
    return metadata


def _list_fields(
    fields: Mapping[str, Any],
    metadata: directory_pb2.ResourceMetadata,
    given: Callable[[str], bool],
    errors: dict[str, list[str]],
) -> None:
    if given("data_items"):
        items = _json_list(fields, "data_items", errors) or []
        del metadata.data_items[:]
        if len(items) > DATA_ITEMS_MAX:
            errors.setdefault("data_items", []).append(f"at most {DATA_ITEMS_MAX} data items")
            items = []
        seen: set[str] = set()
        for item in items:
            if not (
                isinstance(item, dict)
                and isinstance(item.get("name"), str)
                and 1 <= len(item["name"].encode()) <= SHORT_TEXT_BYTES_MAX
                and item.get("type", "string") in DATA_ITEM_TYPES
                and isinstance(item.get("description", ""), str)
                and len(item.get("description", "").encode()) <= DESCRIPTION_BYTES_MAX
                and isinstance(item.get("length", 0), int)
                and not isinstance(item.get("length", 0), bool)
                and 0 <= item.get("length", 0) < 1 << 32
            ):
                errors.setdefault("data_items", []).append(
                    f"each data item is {{name (1 to {SHORT_TEXT_BYTES_MAX} bytes), type,"
                    f" description (up to {DESCRIPTION_BYTES_MAX} bytes), length}}; type one of "
                    + ", ".join(sorted(DATA_ITEM_TYPES))
                )
                continue
            if item["name"] in seen:
                errors.setdefault("data_items", []).append(f"{item['name']} is listed twice")
                continue
            seen.add(item["name"])
            metadata.data_items.append(
                directory_pb2.DataItem(
                    name=item["name"],
                    type=item.get("type", "string"),
                    description=item.get("description", ""),
                    length=item.get("length", 0),
                )
            )
    for name, bound, bytes_max, target in (
        ("duties", DUTIES_MAX, SHORT_TEXT_BYTES_MAX, metadata.duties),
        ("related_resources", RELATED_MAX, CODE_BYTES_MAX, metadata.related_resources),
    ):
        if not given(name):
            continue
        values = _json_list(fields, name, errors) or []
        del target[:]
        if len(values) > bound or not all(
            isinstance(value, str) and 1 <= len(value.encode()) <= bytes_max for value in values
        ):
            errors.setdefault(name, []).append(
                f"a list of at most {bound} texts of 1 to {bytes_max} bytes"
            )
        else:
            target.extend(values)


# -- the app ------------------------------------------------------------------------------------


def _envelope(request: Request, action: str, result: object) -> JSONResponse:
    return JSONResponse(
        {"help": _help_url(request, action), "success": True, "result": result},
        status_code=200,
    )


def _help_url(request: Request, action: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/api/3/action/help_show?name={action}"


def _failure(request: Request, action: str, error: CkanError) -> JSONResponse:
    body: dict[str, object] = {"__type": error.ckan_type, "message": error.message}
    for name, messages in error.fields.items():
        if name not in body:
            body[name] = messages
    return JSONResponse(
        {"help": _help_url(request, action), "success": False, "error": body},
        status_code=error.status,
    )


async def _parameters(request: Request) -> dict[str, Any]:
    """An action's data: the query parameters of a GET; a POST's JSON object or form fields.
    A parameter given twice (a GET's facet.field) is a list."""
    pairs: list[tuple[str, str]] = list(request.query_params.multi_items())
    if request.method == "POST":
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > REQUEST_BYTES_MAX:
            raise CkanBadRequestError(f"the body is larger than {REQUEST_BYTES_MAX} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > REQUEST_BYTES_MAX:
                raise CkanBadRequestError(f"the body is larger than {REQUEST_BYTES_MAX} bytes")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "multipart/form-data":
            raise CkanBadRequestError("file uploads are not supported: give a resource url")
        if body and content_type in ("application/x-www-form-urlencoded",):
            try:
                pairs.extend(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True))
            except (UnicodeDecodeError, ValueError):
                raise CkanBadRequestError("the form body cannot be read") from None
        elif body.strip():
            try:
                parsed = json.loads(body)
            except (UnicodeDecodeError, ValueError):
                raise CkanBadRequestError("JSON Error: the body is not JSON") from None
            if not isinstance(parsed, dict):
                raise CkanBadRequestError("JSON Error: the body must be a JSON object")
            data: dict[str, Any] = {}
            for name, value in pairs:
                data.setdefault(name, value)
            return {**data, **parsed}
    data = {}
    for name, value in pairs:
        if name in data:
            previous = data[name]
            data[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            data[name] = value
    return data


def _token(request: Request) -> str:
    token = request.headers.get("authorization", "") or request.headers.get("x-ckan-api-key", "")
    return token.removeprefix("Bearer ").strip()


def create_ckan_app(
    index: DirectoryIndex,
    *,
    submitter: Submitter | None = None,
    chain_id: str = "",
    site_url: str = "",
    index_wait_s: float = INDEX_WAIT_S,
) -> Starlette:
    """The CKAN Action API over ``index``; write actions submit through ``submitter`` (None: a
    read-only service, whose write actions are Authorization Errors)."""
    api = CkanApi(index, submitter, chain_id, site_url, index_wait_s)

    async def action(request: Request) -> JSONResponse:
        name = str(request.path_params["name"])
        handler = api.reads.get(name)
        write = handler is None
        if write:
            handler = api.writes.get(name)
        try:
            if handler is None:
                raise CkanBadRequestError(f"Action name not known: {name}")
            if write and request.method != "POST":
                raise CkanBadRequestError(f"{name} needs a POST request")
            data = await _parameters(request)
            owner = None
            if write:
                token = _token(request)
                owner = index.token_owner(token) if token else None
                if owner is None:
                    raise CkanAuthorizationError(
                        f"Action {name} requires an authenticated user (a valid API token)"
                    )
            result = await run_in_threadpool(handler, _Call(data, owner))
        except CkanError as error:
            return _failure(request, name, error)
        except CausewayError as error:
            return _failure(request, name, _ckan_error(error))
        return _envelope(request, name, result)

    routes = [
        Route(f"{prefix}/{{name}}", action, methods=["GET", "POST"]) for prefix in API_PREFIXES
    ]
    app = Starlette(routes=routes)
    app.state.ckan = api
    return app
