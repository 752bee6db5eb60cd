"""The directory's web interface (docs/directory.md): the pages at ``/ui/`` (static ES modules,
no build step, Chinese and English) and the small JSON API under ``/directory/api/`` that they
call for what the CKAN Action API does not cover. Searching, registering and revising go through
the CKAN API beside it (``ckan.py``); everything here reads the same ``DirectoryIndex``.

Reads (no token): ``GET config``, ``departments``, ``categories`` (bilingual names) and
``resources/<code>/history`` (every version with its transaction id, height, time, author,
status, the record's bytes and the absolute state key a proof is asked for).

With the staff member's API token (``Authorization: <token>``, as CKAN takes it): ``GET
session``, ``GET requests?role=incoming|outgoing`` and ``GET requests/<id>`` (with its
``history`` and ``usage_receipts``; only the two departments concerned and the administrators
see it), and the workflow's writes, each a directory contract call signed as the token's member
through the ``Submitter``. An administrator's token (its member's organisation is one of the
directory's administrators; it may act for no department) also reads ``GET
requests?role=escalated``, the inbox of requests escalated past their answer time, and approves
or refuses them (the contract lets only the administrators answer an escalated request)::

    POST requests                      {resource_code, purpose, legal_basis?, data_items?}
    POST requests/<id>/approve         {terms?}          (terms required if the resource is
                                                          shared on conditions)
    POST requests/<id>/refuse          {reason}          (required)
    POST requests/<id>/revoke          {reason}          (required)
    POST requests/<id>/cancel          {reason?}
    POST requests/<id>/escalate        {}                (once the answer is overdue)
    POST requests/<id>/usage           {purpose?, records?, digest? (64 hex digits)}
    POST resources/<code>/withdraw     {reason, expected_version?}

Every write is checked against the index before anything is submitted (the contract still
decides: the index may lag the chain), and answers once the index has followed the chain to the
block the call committed in. Failures are ``{"error": {"type", "message"}}`` with a status:
``bad_request`` 400, ``unauthorized`` 401, ``forbidden`` 403, ``not_found`` 404, ``conflict``
409 (the request's or resource's state does not allow it), ``refused`` 409 (the contract refused
the call), ``unavailable`` 503.

Verification in the browser: with a ``node_reader``, ``GET /directory/node/v1/...`` passes the
node's read routes a state entry's check needs (status, a block header with its certificate, a
validator set, a state entry with its proof) through to the node, and the page checks the
version's state entry against the header with the explorer's own modules (``verify.js`` and
what it imports), served from the explorer's static folder at ``/ui/explorer/``.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl

import httpx
from google.protobuf import json_format
from google.protobuf.message import Message
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from causeway.apps.directory.ckan import SubmittedCall, Submitter
from causeway.apps.directory.contract import CONTRACT_NAME
from causeway.apps.directory.index import (
    DirectoryIndex,
    TokenOwner,
    VersionEntry,
    request_state_name,
    resource_status_name,
    sharing_type_name,
)
from causeway.apps.directory.rollup import district_resource_key, rollup_key
from causeway.apps.directory.v1 import directory_pb2
from causeway.errors import (
    AuthenticationError,
    CausewayError,
    NotFoundError,
    PermissionDeniedError,
    RequestError,
    TransactionFailedError,
)
from causeway.execution.keys import user_contract_namespace
from causeway.explorer.files import STATIC_DIRECTORY as EXPLORER_STATIC_DIRECTORY

__all__ = [
    "API_PREFIX",
    "NODE_PREFIX",
    "UI_PATH",
    "ClientNodeReader",
    "HttpNodeReader",
    "NodeAnswer",
    "NodeReader",
    "web_routes",
]

UI_PATH = "/ui"
API_PREFIX = "/directory/api"
NODE_PREFIX = "/directory/node"
WEB_DIRECTORY = Path(__file__).resolve().parent / "web"
REQUEST_BYTES_MAX = 64 * 1024
TEXT_BYTES_MAX = 4000
SHORT_TEXT_BYTES_MAX = 200
DATA_ITEMS_MAX = 200
CODE_CHARS_MAX = 64
REQUESTS_LISTED_MAX = 500
RECORDS_MAX = (1 << 63) - 1
INDEX_WAIT_S = 10.0
INDEX_POLL_S = 0.02
NODE_TIMEOUT_S = 30.0
# The node's read routes a state entry's check needs; nothing else passes.
NODE_READ_ROUTES = re.compile(
    r"^(status|blocks/[0-9]{1,20}|validator-sets/[0-9]{1,20}|state/[0-9a-f]{2,1024})$"
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_RESOURCE_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")
_ANSWERABLE = frozenset(
    {directory_pb2.REQUEST_STATE_PENDING, directory_pb2.REQUEST_STATE_ESCALATED}
)
_APPROVED = frozenset(
    {directory_pb2.REQUEST_STATE_APPROVED, directory_pb2.REQUEST_STATE_CONDITIONALLY_APPROVED}
)


# -- errors ---------------------------------------------------------------------------------------


class WebError(RequestError):
    """A refusal of this API: its JSON ``type`` and HTTP status."""

    kind = "bad_request"
    status = 400


class WebUnauthorizedError(WebError):
    kind = "unauthorized"
    status = 401


class WebForbiddenError(WebError):
    kind = "forbidden"
    status = 403


class WebNotFoundError(WebError):
    kind = "not_found"
    status = 404


class WebConflictError(WebError):
    kind = "conflict"
    status = 409


class WebUnavailableError(WebError):
    kind = "unavailable"
    status = 503


def _refusal(kind: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status)


def _as_response(error: CausewayError) -> JSONResponse:
    if isinstance(error, WebError):
        return _refusal(error.kind, error.message, error.status)
    if isinstance(error, TransactionFailedError):
        return _refusal("refused", error.message, 409)
    if isinstance(error, NotFoundError):
        return _refusal("not_found", error.message, 404)
    if isinstance(error, AuthenticationError):
        return _refusal("unauthorized", error.message, 401)
    if isinstance(error, PermissionDeniedError):
        return _refusal("forbidden", error.message, 403)
    if isinstance(error, RequestError):
        return _refusal("bad_request", error.message, 400)
    return _refusal("unavailable", error.message, 503)


# -- the node reader ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeAnswer:
    """A node's answer to a read, passed to the browser as it came."""

    status: int
    content_type: str
    body: bytes


class NodeReader(Protocol):
    """Reads of the directory chain's node for verification in the browser: ``path`` is one of
    the node's HTTP read routes under ``/v1/`` (``status``, ``blocks/<height>``,
    ``validator-sets/<height>``, ``state/<key hex>``; NODE_READ_ROUTES), ``query`` its query
    string. The answer is the node's JSON (docs/api.md): the state entry with its StateProof and
    height, the header with its commit certificate, the validator set of that height."""

    async def read(self, path: str, query: str) -> NodeAnswer: ...

    async def close(self) -> None: ...


class HttpNodeReader:
    """A ``NodeReader`` over the node's HTTP/JSON gateway at ``node_url`` (``transport``
    replaces the network in tests; ``access_token`` as the explorer's: sent only over TLS)."""

    def __init__(
        self,
        node_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: Any = True,
        access_token: Callable[[], str] | None = None,
    ) -> None:
        self.base_url = node_url.rstrip("/")
        if access_token is not None and not self.base_url.startswith("https://"):
            raise RequestError(f"access tokens are sent only over TLS: {self.base_url}")
        self._access_token = access_token
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=NODE_TIMEOUT_S,
            transport=transport,
            verify=verify,
        )

    async def read(self, path: str, query: str) -> NodeAnswer:
        headers = {"accept": "application/json"}
        if self._access_token is not None:
            headers["authorization"] = f"Bearer {self._access_token()}"
        try:
            answer = await self._client.get(
                f"/v1/{path}", params=httpx.QueryParams(query), headers=headers
            )
        except httpx.HTTPError as error:
            raise WebUnavailableError(
                f"the node at {self.base_url} did not answer: {error}"
            ) from None
        return NodeAnswer(
            answer.status_code,
            answer.headers.get("content-type", "application/json"),
            answer.content,
        )

    async def close(self) -> None:
        await self._client.aclose()


class NodeClient(Protocol):
    """What ``ClientNodeReader`` needs of an SDK ``Client``."""

    def status(self) -> Message: ...

    def get_header(self, height: int = 0, *, verify: bool = True) -> Message: ...

    def get_state(self, key: bytes, height: int = 0, *, verify: bool = True) -> Message: ...

    def get_validator_set(self, height: int = 0, *, verify: bool = True) -> Message: ...


class ClientNodeReader:
    """A ``NodeReader`` over an SDK ``Client`` (gRPC, the connection the service already
    follows the chain with): each read answered as the node's HTTP gateway answers it (the
    response message as JSON, every field printed), so that the browser checks the same
    thing either way. Blocks are answered as headers with their certificates."""

    def __init__(self, client: NodeClient) -> None:
        self._client = client

    def _read(self, path: str, query: str) -> NodeAnswer:
        parameters = dict(parse_qsl(query))
        height_text = parameters.get("height", "0")
        if not height_text.isdigit() or len(height_text) > 20:
            raise WebError(f"height {height_text[:24]!r} is not a height")
        kind, _, rest = path.partition("/")
        message: Message
        if kind == "status":
            message = self._client.status()
        elif kind == "blocks":
            message = self._client.get_header(int(rest), verify=False)
        elif kind == "validator-sets":
            message = self._client.get_validator_set(int(rest), verify=False)
        elif kind == "state":
            message = self._client.get_state(bytes.fromhex(rest), int(height_text), verify=False)
        else:
            raise WebNotFoundError(f"no node read {path[:80]!r}")
        body = json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
        return NodeAnswer(200, "application/json", json.dumps(body).encode())

    async def read(self, path: str, query: str) -> NodeAnswer:
        return await run_in_threadpool(self._read, path, query)

    async def close(self) -> None:
        return None


# -- shapes ---------------------------------------------------------------------------------------


def _hex(data: bytes) -> str:
    return data.hex()


def _request_dict(request: directory_pb2.SharingRequest) -> dict[str, object]:
    return {
        "id": request.id,
        "resource_code": request.resource_code,
        "resource_version": request.resource_version,
        "provider_code": request.provider_code,
        "requester_code": request.requester_code,
        "requester_member": request.requester_member,
        "purpose": request.purpose,
        "data_items": list(request.data_items),
        "legal_basis": request.legal_basis,
        "state": request_state_name(request.state),
        "created_ms": request.created_ms,
        "answer_by_ms": request.answer_by_ms,
        "reason": request.reason,
        "terms": request.terms,
        "answered_by": request.answered_by,
        "answered_ms": request.answered_ms,
        "receipts": request.receipts,
        "height": request.height,
        "transaction_id": _hex(request.transaction_id),
    }


def _receipt_dict(receipt: directory_pb2.UsageReceipt) -> dict[str, object]:
    return {
        "request_id": receipt.request_id,
        "sequence": receipt.sequence,
        "accessed_by": receipt.accessed_by,
        "time_ms": receipt.time_ms,
        "purpose": receipt.purpose,
        "digest": _hex(receipt.digest),
        "records": receipt.records,
    }


def _department_dict(department: directory_pb2.Department, count: int) -> dict[str, object]:
    return {
        "code": department.code,
        "name": department.name,
        "name_en": department.name_en,
        "organisation": department.organisation,
        "district": department.district,
        "duties": list(department.duties),
        "resources": count,
    }


def _category_dict(category: directory_pb2.Category, count: int) -> dict[str, object]:
    return {
        "code": category.code,
        "name": category.name,
        "name_en": category.name_en,
        "level": category.level,
        "parent_code": category.parent_code,
        "resources": count,
    }


# -- input ----------------------------------------------------------------------------------------


async def _body(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > REQUEST_BYTES_MAX:
        raise WebError(f"the body is larger than {REQUEST_BYTES_MAX} bytes")
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > REQUEST_BYTES_MAX:
            raise WebError(f"the body is larger than {REQUEST_BYTES_MAX} bytes")
    if not data.strip():
        return {}
    try:
        parsed = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise WebError("the body is not JSON") from None
    if not isinstance(parsed, dict):
        raise WebError("the body must be a JSON object")
    return parsed


def _text(data: Mapping[str, Any], name: str, *, low: int = 0, high: int = TEXT_BYTES_MAX) -> str:
    value = data.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise WebError(f"{name} must be text")
    size = len(value.strip().encode())
    if size < low:
        raise WebError(f"{name} is required")
    if len(value.encode()) > high:
        raise WebError(f"{name} is longer than {high} bytes")
    return value.strip()


def _token(request: Request) -> str:
    token = request.headers.get("authorization", "") or request.headers.get("x-ckan-api-key", "")
    return token.removeprefix("Bearer ").strip()


# -- the API --------------------------------------------------------------------------------------


class DirectoryWebApi:
    """The JSON API's handlers over an index and a submitter (``web_routes`` serves them)."""

    def __init__(
        self,
        index: DirectoryIndex,
        submitter: Submitter | None,
        *,
        chain_id: str,
        contract: str,
        verify: bool,
        index_wait_s: float,
    ) -> None:
        self.index = index
        self.submitter = submitter
        self.chain_id = chain_id
        self.contract = contract
        self.verify = verify
        self.index_wait_s = index_wait_s

    # ---------------------------------------------------------------- helpers

    def owner(self, token: str) -> TokenOwner:
        owner = self.index.token_owner(token) if token else None
        if owner is None:
            raise WebUnauthorizedError("sign in with a valid API token")
        return owner

    def _request(self, request_id: str) -> directory_pb2.SharingRequest:
        if not _REQUEST_ID.match(request_id):
            raise WebNotFoundError(f"no sharing request {request_id[:80]!r}")
        try:
            return self.index.request(request_id)
        except NotFoundError:
            raise WebNotFoundError(f"no sharing request {request_id!r}") from None

    def _submit(self, owner: TokenOwner, method: str, arguments: Message) -> SubmittedCall:
        if self.submitter is None:
            raise WebForbiddenError("this directory service does not accept writes")
        submitted = self.submitter.submit(owner, method, arguments)
        deadline = time.monotonic() + self.index_wait_s
        while self.index.checkpoint().height < submitted.height:
            if time.monotonic() > deadline:
                raise WebUnavailableError(
                    f"the transaction committed at height {submitted.height}, but the index has"
                    " not reached it yet; ask again shortly"
                )
            time.sleep(INDEX_POLL_S)
        return submitted

    @staticmethod
    def _department_of(owner: TokenOwner) -> str:
        """The department the token acts for; an administrator's token may act for none."""
        if not owner.department_code:
            raise WebForbiddenError(
                f"the token of {owner.member} acts for no department (an administrator's): it"
                " answers escalated requests only"
            )
        return owner.department_code

    def _detail(self, request: directory_pb2.SharingRequest) -> dict[str, object]:
        receipts = self.index.receipts(request.id)
        return {
            **_request_dict(request),
            # The request's own count is that of its last transition; a usage_recorded event
            # carries the receipt only, so the index's receipts are the count.
            "receipts": len(receipts),
            "history": [_request_dict(item) for item in self.index.request_history(request.id)],
            "usage_receipts": [_receipt_dict(item) for item in receipts],
        }

    # ---------------------------------------------------------------- reads

    def config(self) -> object:
        return {
            "chain_id": self.chain_id,
            "contract": self.contract,
            "verify": self.verify,
            "writes": self.submitter is not None,
            "index_height": self.index.checkpoint().height,
        }

    def session(self, owner: TokenOwner) -> object:
        department: dict[str, object] | None = None
        if owner.department_code:
            try:
                found = self.index.department(owner.department_code)
            except NotFoundError:
                raise WebNotFoundError(
                    f"no department {owner.department_code} in the directory"
                ) from None
            department = _department_dict(found, 0)
        return {
            "member": owner.member,
            "label": owner.label,
            "administrator": owner.administrator,
            "department": department,
        }

    def departments(self) -> object:
        return [_department_dict(item, count) for item, count in self.index.departments()]

    def categories(self) -> object:
        return [_category_dict(item, count) for item, count in self.index.categories()]

    def history(self, code: str) -> object:
        if not _RESOURCE_CODE.match(code):
            raise WebNotFoundError(f"no resource {code[:80]!r} in the directory")
        entries = self.index.version_entries(code)
        if not entries:
            raise WebNotFoundError(f"no resource {code!r} in the directory")
        return {
            "code": code,
            "contract": self.contract,
            "versions": [self._history_entry(entry) for entry in entries],
        }

    def _history_entry(self, entry: VersionEntry) -> dict[str, object]:
        """A version as the history shows it, with what its "verify" checks: the state entry
        this directory's chain keeps for it (a district's rolled-up version: the city's record,
        with the district's attestation) and its bytes."""
        version, rollup = entry.version, entry.rollup
        shown: dict[str, object] = {
            "version": version.version,
            "status": resource_status_name(version.status),
            "author": version.author,
            "height": version.height,
            "time_ms": version.time_ms,
            "transaction_id": _hex(version.transaction_id),
            "reason": version.reason,
            "name": version.metadata.name,
            "sharing_type": sharing_type_name(version.metadata.sharing_type),
            "state_key": _hex(district_resource_key(self.contract, version.code, version.version)),
            "record": base64.b64encode(entry.record).decode(),
        }
        if rollup is not None:
            # The district's own facts stay (its height, transaction and time); the entry the
            # city's chain proves is the roll-up record, kept at the city's height.
            shown["state_key"] = _hex(
                user_contract_namespace(self.contract)
                + rollup_key(rollup.district_code, version.code, version.version)
            )
            shown["rollup"] = {
                "district": rollup.district_code,
                "district_chain_id": rollup.district_chain_id,
                "proven_height": rollup.proven_height,
                "client_id": rollup.client_id,
                "height": rollup.height,
                "transaction_id": _hex(rollup.transaction_id),
                "submitted_by": rollup.submitted_by,
            }
        return shown

    def requests(self, owner: TokenOwner, role: str) -> object:
        if role == "escalated":
            # The administrators' inbox: requests their providers left unanswered.
            if not owner.administrator:
                raise WebForbiddenError(
                    "only the directory's administrators see the escalated requests"
                )
            return [
                self._detail(item) for item in self.index.escalated_requests(REQUESTS_LISTED_MAX)
            ]
        if role not in ("incoming", "outgoing"):
            raise WebError(
                "role is incoming (addressed to the department), outgoing or escalated"
                " (the administrators')"
            )
        code = self._department_of(owner)
        return [
            self._detail(item) for item in self.index.requests_of(code, role, REQUESTS_LISTED_MAX)
        ]

    def request(self, owner: TokenOwner, request_id: str) -> object:
        request = self._request(request_id)
        if not owner.administrator and owner.department_code not in (
            request.provider_code,
            request.requester_code,
        ):
            raise WebForbiddenError(
                f"request {request.id} is between {request.requester_code} and"
                f" {request.provider_code}, not {owner.department_code}"
            )
        return self._detail(request)

    # ---------------------------------------------------------------- writes

    def create_request(self, owner: TokenOwner, data: Mapping[str, Any]) -> object:
        self._department_of(owner)
        code = _text(data, "resource_code", low=1, high=CODE_CHARS_MAX)
        purpose = _text(data, "purpose", low=1)
        legal_basis = _text(data, "legal_basis")
        items = data.get("data_items", [])
        if items is None:
            items = []
        if (
            not isinstance(items, list)
            or len(items) > DATA_ITEMS_MAX
            or not all(
                isinstance(item, str) and 1 <= len(item.encode()) <= SHORT_TEXT_BYTES_MAX
                for item in items
            )
        ):
            raise WebError(f"data_items is a list of at most {DATA_ITEMS_MAX} data item names")
        try:
            indexed = self.index.resource(code)
        except NotFoundError:
            raise WebNotFoundError(f"no resource {code!r} in the directory") from None
        record = indexed.record
        if record.status != directory_pb2.RESOURCE_STATUS_ACTIVE:
            raise WebConflictError(f"resource {code} is {resource_status_name(record.status)}")
        if record.metadata.sharing_type == directory_pb2.SHARING_TYPE_NOT_SHARED:
            raise WebConflictError(
                f"resource {code} is not shared ({record.metadata.sharing_conditions})"
            )
        if record.provider_code == owner.department_code:
            raise WebConflictError(f"department {owner.department_code} provides {code} itself")
        known = {item.name for item in record.metadata.data_items}
        unknown = [item for item in items if item not in known]
        if unknown:
            raise WebError(f"resource {code} has no data item {', '.join(unknown)}")
        arguments = directory_pb2.RequestSharingArguments(
            resource_code=code, purpose=purpose, data_items=items, legal_basis=legal_basis
        )
        submitted = self._submit(owner, "request_sharing", arguments)
        result = directory_pb2.RequestSharingResult()
        result.ParseFromString(submitted.return_value)
        return self._detail(self.index.request(result.id))

    def answer(
        self, owner: TokenOwner, request_id: str, action: str, data: Mapping[str, Any]
    ) -> object:
        request = self._request(request_id)
        state = request_state_name(request.state)
        provider = owner.department_code == request.provider_code
        requester = owner.department_code == request.requester_code
        arguments: Message
        if action in ("approve", "refuse"):
            if request.state not in _ANSWERABLE:
                raise WebConflictError(f"request {request.id} is {state}, not PENDING or ESCALATED")
            if request.state == directory_pb2.REQUEST_STATE_PENDING and not provider:
                raise WebForbiddenError(
                    f"only the providing department {request.provider_code} answers request"
                    f" {request.id}"
                )
            if request.state == directory_pb2.REQUEST_STATE_ESCALATED and not owner.administrator:
                raise WebForbiddenError(
                    f"request {request.id} is ESCALATED: only the directory's administrators"
                    " answer it"
                )
            if action == "approve":
                terms = _text(data, "terms")
                resource = self.index.resource(request.resource_code).record
                conditional = (
                    resource.metadata.sharing_type == directory_pb2.SHARING_TYPE_CONDITIONAL
                )
                if conditional and not terms:
                    raise WebError(
                        f"resource {request.resource_code} is shared on conditions: give terms"
                    )
                arguments = directory_pb2.AnswerRequestArguments(id=request.id, terms=terms)
            else:
                reason = _text(data, "reason", low=1)
                arguments = directory_pb2.RefuseRequestArguments(id=request.id, reason=reason)
        elif action == "revoke":
            if request.state not in _APPROVED:
                raise WebConflictError(f"request {request.id} is {state}, not approved")
            if not provider and not owner.administrator:
                raise WebForbiddenError(
                    f"only the providing department {request.provider_code} or the"
                    f" administrators revoke request {request.id}"
                )
            reason = _text(data, "reason", low=1)
            arguments = directory_pb2.RevokeRequestArguments(id=request.id, reason=reason)
        elif action == "cancel":
            if request.state not in _ANSWERABLE:
                raise WebConflictError(f"request {request.id} is {state}, not PENDING or ESCALATED")
            if not requester:
                raise WebForbiddenError(
                    f"only the requesting department {request.requester_code} cancels request"
                    f" {request.id}"
                )
            reason = _text(data, "reason")
            arguments = directory_pb2.CancelRequestArguments(id=request.id, reason=reason)
        elif action == "escalate":
            # Anyone may escalate a request its provider left unanswered past answer_by_ms: the
            # contract decides by its own clock.
            if request.state != directory_pb2.REQUEST_STATE_PENDING:
                raise WebConflictError(f"request {request.id} is {state}, not PENDING")
            arguments = directory_pb2.EscalateRequestArguments(id=request.id)
        elif action == "usage":
            if request.state not in _APPROVED:
                raise WebConflictError(f"request {request.id} is {state}, not approved")
            if not requester:
                raise WebForbiddenError(
                    f"only the requesting department {request.requester_code} records usage of"
                    f" request {request.id}"
                )
            purpose = _text(data, "purpose")
            records = data.get("records", 0)
            if (
                isinstance(records, bool)
                or not isinstance(records, int)
                or not 0 <= records <= RECORDS_MAX
            ):
                raise WebError("records must be a whole number of records")
            digest_text = _text(data, "digest", high=64)
            if digest_text and not _DIGEST.match(digest_text):
                raise WebError("digest is 64 hexadecimal digits (a 32-byte hash), or none")
            arguments = directory_pb2.RecordUsageArguments(
                request_id=request.id,
                purpose=purpose,
                records=records,
                digest=bytes.fromhex(digest_text),
            )
        else:
            raise WebNotFoundError(f"no action {action[:40]!r} on a request")
        method = "record_usage" if action == "usage" else action
        self._submit(owner, method, arguments)
        return self._detail(self.index.request(request.id))

    def withdraw(self, owner: TokenOwner, code: str, data: Mapping[str, Any]) -> object:
        if not _RESOURCE_CODE.match(code):
            raise WebNotFoundError(f"no resource {code[:80]!r} in the directory")
        try:
            record = self.index.resource(code).record
        except NotFoundError:
            raise WebNotFoundError(f"no resource {code!r} in the directory") from None
        if record.provider_code != owner.department_code:
            raise WebForbiddenError(f"only department {record.provider_code} withdraws {code}")
        if record.status != directory_pb2.RESOURCE_STATUS_ACTIVE:
            raise WebConflictError(f"resource {code} is {resource_status_name(record.status)}")
        reason = _text(data, "reason", low=1)
        expected = data.get("expected_version", record.version)
        if isinstance(expected, bool) or not isinstance(expected, int) or expected < 1:
            raise WebError("expected_version must be a version number")
        arguments = directory_pb2.WithdrawResourceArguments(
            code=code, expected_version=expected, reason=reason
        )
        self._submit(owner, "withdraw_resource", arguments)
        return self.history(code)


def web_routes(
    index: DirectoryIndex,
    *,
    submitter: Submitter | None,
    chain_id: str,
    node_reader: NodeReader | None = None,
    contract: str = CONTRACT_NAME,
    index_wait_s: float = INDEX_WAIT_S,
) -> list[BaseRoute]:
    """The web interface's routes, to be served beside the CKAN routes in one app: the pages
    at ``/ui/``, the explorer's verification modules at ``/ui/explorer/``, the JSON API under
    ``/directory/api/`` and, with ``node_reader``, the node's read routes a verification needs
    under ``/directory/node/v1/`` (see the module docstring). ``submitter`` None: a read-only
    interface. ``contract``: the directory contract's name on the chain (its state keys)."""
    api = DirectoryWebApi(
        index,
        submitter,
        chain_id=chain_id,
        contract=contract,
        verify=node_reader is not None,
        index_wait_s=index_wait_s,
    )

    def handler(
        work: Callable[[Request, dict[str, Any]], object], *, body: bool = False
    ) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                data = await _body(request) if body else {}
                result = await run_in_threadpool(work, request, data)
            except CausewayError as error:
                return _as_response(error)
            return JSONResponse(result)

        return endpoint

    def owner_of(request: Request) -> TokenOwner:
        return api.owner(_token(request))

    def param(request: Request, name: str) -> str:
        return str(request.path_params[name])

    async def node(request: Request) -> Response:
        path = param(request, "rest")
        if node_reader is None:
            return _refusal("not_found", "this service does not read a node for proofs", 404)
        if not NODE_READ_ROUTES.match(path):
            return _refusal("not_found", "only the node's reads for a state proof pass", 404)
        try:
            answer = await node_reader.read(path, request.url.query)
        except CausewayError as error:
            return _as_response(error)
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)

    async def to_ui(request: Request) -> Response:
        return RedirectResponse(f"{UI_PATH}/")

    async def not_found(request: Request) -> Response:
        return _refusal("not_found", f"no route {request.url.path[:200]}", 404)

    routes: list[BaseRoute] = [
        Route(f"{API_PREFIX}/config", handler(lambda r, d: api.config())),
        Route(f"{API_PREFIX}/session", handler(lambda r, d: api.session(owner_of(r)))),
        Route(f"{API_PREFIX}/departments", handler(lambda r, d: api.departments())),
        Route(f"{API_PREFIX}/categories", handler(lambda r, d: api.categories())),
        Route(
            f"{API_PREFIX}/resources/{{code}}/history",
            handler(lambda r, d: api.history(param(r, "code"))),
        ),
        Route(
            f"{API_PREFIX}/resources/{{code}}/withdraw",
            handler(lambda r, d: api.withdraw(owner_of(r), param(r, "code"), d), body=True),
            methods=["POST"],
        ),
        Route(
            f"{API_PREFIX}/requests",
            handler(lambda r, d: api.requests(owner_of(r), r.query_params.get("role", ""))),
            methods=["GET"],
        ),
        Route(
            f"{API_PREFIX}/requests",
            handler(lambda r, d: api.create_request(owner_of(r), d), body=True),
            methods=["POST"],
        ),
        Route(
            f"{API_PREFIX}/requests/{{id}}",
            handler(lambda r, d: api.request(owner_of(r), param(r, "id"))),
        ),
        Route(
            f"{API_PREFIX}/requests/{{id}}/{{action}}",
            handler(
                lambda r, d: api.answer(owner_of(r), param(r, "id"), param(r, "action"), d),
                body=True,
            ),
            methods=["POST"],
        ),
        Route(f"{API_PREFIX}/{{rest:path}}", not_found, methods=["GET", "POST"]),
        Route(f"{NODE_PREFIX}/v1/{{rest:path}}", node),
        Route(UI_PATH, to_ui),
        Mount(
            f"{UI_PATH}/explorer",
            app=StaticFiles(directory=EXPLORER_STATIC_DIRECTORY),
        ),
        Mount(UI_PATH, app=StaticFiles(directory=WEB_DIRECTORY, html=True)),
    ]
    return routes
