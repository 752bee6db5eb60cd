"""The HTTP/JSON gateway through httpx's ASGI transport, with the in-memory double."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from chain_double import ChainDouble, state_key_of
from fastapi import FastAPI
from google.protobuf import json_format

from causeway.api import STATES_PER_REQUEST_MAX, create_http_app
from causeway.api.http_gateway import BASE64_PATTERN
from causeway.api.v1 import api_pb2
from causeway.errors import (
    CausewayError,
    ConfigurationError,
    DecodeError,
    DuplicateError,
    ExpiredError,
    HeightUnavailableError,
    LimitExceededError,
    MempoolFullError,
    NodeUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    ProofError,
    RequestError,
    SignatureError,
    StorageCorruptionError,
    UnknownMemberError,
    WrongChainError,
)
from causeway.sdk import Identity, build_transaction
from causeway.types import JSON_DEPTH_MAX
from causeway.types.v1 import types_pb2

REQUEST_BYTES_MAX = 8192
METRICS = b"# HELP causeway_height Latest height\ncauseway_height 3\n"
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _app(double: ChainDouble, **options: object) -> FastAPI:
    return create_http_app(
        double,
        request_bytes_max=REQUEST_BYTES_MAX,
        metrics_handler=lambda: (METRICS, METRICS_TYPE),
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
async def http(double: ChainDouble) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(double))
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
        yield client


def _transaction(identity: Identity, argument: bytes = b"hello") -> types_pb2.Transaction:
    return build_transaction(identity, identity.chain_id, "ledger", "transfer", argument)


def _json(
    message: api_pb2.SubmitRequest | api_pb2.SubmitBatchRequest | api_pb2.QueryRequest,
) -> str:
    return json_format.MessageToJson(message)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_submit_and_read_everything_back(
    http: httpx.AsyncClient, double: ChainDouble, identity: Identity
) -> None:
    transaction = _transaction(identity)
    answer = await http.post(
        "/v1/transactions",
        content=_json(api_pb2.SubmitRequest(transaction=transaction, wait_for_commit=True)),
    )
    assert answer.status_code == 200, answer.text
    submitted = json_format.ParseDict(answer.json(), api_pb2.SubmitResponse())
    assert submitted.accepted and submitted.committed and submitted.height == 1
    # Fields at their defaults are written out too, and 64-bit integers are strings.
    assert answer.json()["height"] == "1"

    batch = await http.post(
        "/v1/transactions/batch",
        content=_json(
            api_pb2.SubmitBatchRequest(
                transactions=[_transaction(identity, b"a"), _transaction(identity, b"b")]
            )
        ),
    )
    assert batch.status_code == 200
    assert [item["accepted"] for item in batch.json()["responses"]] == [True, True]

    query = await http.post(
        "/v1/query", content=_json(api_pb2.QueryRequest(transaction=_transaction(identity, b"q")))
    )
    assert query.status_code == 200
    assert query.json()["result"]["returnValue"] == _b64(b"q")

    for path, height in (("/v1/blocks/1", 1), ("/v1/blocks/latest", 3), ("/v1/blocks/0", 3)):
        block = await http.get(path)
        assert block.status_code == 200
        assert block.json()["block"]["header"]["height"] == str(height)

    found = await http.get(f"/v1/transactions/{submitted.transaction_id.hex()}?wait_ms=10")
    assert found.status_code == 200
    parsed = json_format.ParseDict(found.json(), api_pb2.GetTransactionResponse())
    assert parsed.transaction == transaction and parsed.height == 1

    key = state_key_of(submitted.transaction_id)
    state = await http.get(f"/v1/state/{key.hex()}", params={"height": 1})
    assert state.status_code == 200
    assert state.json()["found"] is True and state.json()["value"] == _b64(b"hello")
    absent = await http.get(f"/v1/state/{b'nothing'.hex()}")
    assert absent.json()["found"] is False and absent.json()["height"] == "3"

    status = await http.get("/v1/status")
    assert status.status_code == 200
    assert status.json()["chainId"] == "test-chain" and status.json()["height"] == "3"
    assert status.json()["mempoolSize"] == 0

    metrics = await http.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.content == METRICS
    assert metrics.headers["content-type"] == METRICS_TYPE


async def test_snake_case_bodies_are_accepted_too(
    http: httpx.AsyncClient, identity: Identity
) -> None:
    transaction = _transaction(identity)
    body = {
        "transaction": {"body": _b64(transaction.body), "signature": _b64(transaction.signature)},
        "wait_for_commit": True,
    }
    answer = await http.post("/v1/transactions", json=body)
    assert answer.status_code == 200
    assert answer.json()["committed"] is True


async def test_a_block_read_with_header_only_answers_no_body(
    http: httpx.AsyncClient, double: ChainDouble, identity: Identity
) -> None:
    double.commit([_transaction(identity, b"a"), _transaction(identity, b"b")])
    full = (await http.get("/v1/blocks/1", params={"header_only": "false"})).json()
    answer = await http.get("/v1/blocks/1", params={"header_only": "true"})
    assert answer.status_code == 200, answer.text
    header_only = answer.json()
    assert len(full["block"]["transactions"]) == len(full["results"]) == 2
    assert (header_only["block"]["transactions"], header_only["results"]) == ([], [])
    assert header_only["block"]["header"] == full["block"]["header"]
    assert header_only["certificate"] == full["certificate"]
    asked = [r for r in double.requests if isinstance(r, api_pb2.GetBlockRequest)]
    assert [request.header_only for request in asked] == [False, True]


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        ("duplicate", 409),
        ("mempool_full", 429),
        ("bad_signature", 400),
        ("unknown_member", 403),
        ("expired", 400),
        ("a_new_reason", 400),
    ],
)
async def test_rejected_submit_answers_with_the_reason_status(
    http: httpx.AsyncClient, double: ChainDouble, identity: Identity, reason: str, status: int
) -> None:
    double.reject_with = api_pb2.Rejection(reason=reason, message="no")
    answer = await http.post(
        "/v1/transactions", content=_json(api_pb2.SubmitRequest(transaction=_transaction(identity)))
    )
    assert answer.status_code == status
    assert answer.json() == {"reason": reason, "message": "no"}


async def test_rejections_in_a_batch_stay_per_transaction(
    http: httpx.AsyncClient, double: ChainDouble, identity: Identity
) -> None:
    double.reject_with = api_pb2.Rejection(reason="duplicate", message="seen")
    answer = await http.post(
        "/v1/transactions/batch",
        content=_json(api_pb2.SubmitBatchRequest(transactions=[_transaction(identity)])),
    )
    assert answer.status_code == 200
    (item,) = answer.json()["responses"]
    assert item["accepted"] is False
    assert item["rejection"] == {"reason": "duplicate", "message": "seen"}


ERROR_CASES = [
    (RequestError("bad"), 400),
    (DecodeError("garbage"), 400),
    (WrongChainError("other chain"), 400),
    (SignatureError("forged"), 400),
    (ExpiredError("late"), 400),
    (ProofError("wrong"), 400),
    (LimitExceededError("big"), 413),
    (DuplicateError("again"), 409),
    (NotFoundError("nothing"), 404),
    (HeightUnavailableError("pruned"), 416),
    (PermissionDeniedError("no"), 403),
    (UnknownMemberError("who"), 403),
    (MempoolFullError("full"), 429),
    (NodeUnavailableError("stopping"), 503),
]


@pytest.mark.parametrize(("error", "status"), ERROR_CASES, ids=lambda e: type(e).__name__)
async def test_errors_map_to_status_and_body(
    http: httpx.AsyncClient, double: ChainDouble, error: CausewayError, status: int
) -> None:
    for method in ("get_status", "get_block", "get_state"):
        double.fail_with[method] = error
    for path in ("/v1/status", "/v1/blocks/1", "/v1/state/00"):
        answer = await http.get(path)
        assert answer.status_code == status
        assert answer.json() == {"reason": error.reason, "message": error.message}


@pytest.mark.parametrize(
    "error", [RuntimeError("secret detail"), StorageCorruptionError("crc")], ids=repr
)
async def test_unexpected_errors_are_500_without_detail(
    http: httpx.AsyncClient,
    double: ChainDouble,
    error: Exception,
    caplog: pytest.LogCaptureFixture,
) -> None:
    double.fail_with["get_status"] = error
    with caplog.at_level(logging.ERROR, logger="causeway.api.http"):
        answer = await http.get("/v1/status")
    assert answer.status_code == 500
    assert answer.json() == {"reason": "internal", "message": "internal error"}
    assert "Traceback" not in answer.text and str(error) not in answer.text
    assert str(error) in caplog.text


async def test_metrics_failure_and_absence(double: ChainDouble) -> None:
    def broken() -> tuple[bytes, str]:
        raise RuntimeError("registry gone")

    for handler, status in ((broken, 500), (None, 404)):
        app = create_http_app(double, request_bytes_max=1024, metrics_handler=handler)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
            answer = await client.get("/metrics")
        assert answer.status_code == status
        assert set(answer.json()) == {"reason", "message"}


async def test_body_above_the_limit_by_content_length_is_413_unread(
    http: httpx.AsyncClient, double: ChainDouble
) -> None:
    answer = await http.post("/v1/transactions", content=b"{" + b" " * REQUEST_BYTES_MAX + b"}")
    assert answer.status_code == 413
    assert answer.json()["reason"] == "too_large"
    assert double.calls == []


async def test_streamed_body_above_the_limit_is_cut_off(
    double: ChainDouble,
) -> None:
    chunks_read = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal chunks_read
        for _ in range(100):
            chunks_read += 1
            yield b" " * 1024

    transport = httpx.ASGITransport(app=_app(double))
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
        answer = await client.post("/v1/transactions/batch", content=body())
    assert answer.status_code == 413
    assert answer.json()["reason"] == "too_large"
    assert double.calls == []
    assert chunks_read < 100


async def test_body_at_the_limit_is_read(http: httpx.AsyncClient, double: ChainDouble) -> None:
    body = b"{}" + b" " * (REQUEST_BYTES_MAX - 2)
    answer = await http.post("/v1/transactions/batch", content=body)
    assert answer.status_code == 200
    assert double.calls == ["submit_batch"]


async def test_bad_content_length_is_400(http: httpx.AsyncClient, double: ChainDouble) -> None:
    answer = await http.post("/v1/query", content=b"{}", headers={"content-length": "lots"})
    assert answer.status_code == 400
    assert double.calls == []


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b"[]",
        b'{"transaction": {"body": 5}}',
        b'{"unknownField": 1}',
        b'{"waitTimeoutMs": -1}',
        b"\xff\xfe",
        b'{"a":' * 1200 + b"1" + b"}" * 1200,
    ],
    ids=["syntax", "empty", "array", "bytes", "unknown", "range", "utf8", "deep"],
)
async def test_malformed_json_is_400(
    http: httpx.AsyncClient, double: ChainDouble, body: bytes
) -> None:
    answer = await http.post("/v1/transactions", content=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["reason"] == "malformed"
    assert double.calls == []


async def test_body_nested_at_the_depth_limit_is_parsed_and_one_level_more_is_refused(
    http: httpx.AsyncClient, double: ChainDouble
) -> None:
    # The body object is one level; 63 more arrays inside reach the limit of 64.
    inner = "[" * (JSON_DEPTH_MAX - 1) + "]" * (JSON_DEPTH_MAX - 1)
    at_limit = await http.post("/v1/transactions", content='{"transaction": ' + inner + "}")
    assert at_limit.status_code == 400
    # Parsed, then refused for what it is, not for its depth.
    assert at_limit.json() == {
        "reason": "malformed",
        "message": "body.transaction: expected an object (Transaction)",
    }
    past = await http.post("/v1/transactions", content='{"transaction": [' + inner + "]}")
    assert past.status_code == 400
    assert past.json() == {"reason": "malformed", "message": "body is nested deeper than 64 levels"}
    deep = await http.post("/v1/transactions/batch", content="[" * 8000)
    assert deep.json() == {"reason": "malformed", "message": "body is nested deeper than 64 levels"}
    assert double.calls == []


@pytest.mark.parametrize(
    "path",
    [
        "/v1/blocks/abc",
        "/v1/blocks/-1",
        "/v1/blocks/1?header_only=maybe",
        "/v1/transactions/zz",
        "/v1/transactions/00?wait_ms=999999999",
        "/v1/state/0g",
        "/v1/state/00?height=-1",
        "/v1/blocks/stream?from_height=x",
        "/v1/events/stream?format=xml",
    ],
)
async def test_malformed_parameters_are_400(
    http: httpx.AsyncClient, double: ChainDouble, path: str
) -> None:
    answer = await http.get(path)
    assert answer.status_code == 400, answer.text
    assert answer.json()["reason"] == "malformed"
    assert double.calls == []


async def test_unknown_route_and_method_are_json(http: httpx.AsyncClient) -> None:
    missing = await http.get("/v2/nothing")
    assert missing.status_code == 404 and missing.json()["reason"] == "not_found"
    wrong = await http.delete("/v1/status")
    assert wrong.status_code == 405 and wrong.json()["reason"] == "method_not_allowed"
    # Not read as the transaction with id "batch".
    batch = await http.get("/v1/transactions/batch")
    assert batch.status_code == 405 and batch.json()["reason"] == "method_not_allowed"
    assert batch.headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"waitTimeoutMs": None},
            "body.waitTimeoutMs: null is not accepted; leave the field out for its default",
        ),
        (
            {"waitTimeoutMs": 1, "wait_timeout_ms": 2},
            "body: field waitTimeoutMs is given twice, as waitTimeoutMs and wait_timeout_ms",
        ),
        (
            {"waitTimeoutMs": (1 << 32)},
            "body.waitTimeoutMs: expected an integer from 0 to 4294967295",
        ),
        ({"waitTimeoutMs": -1}, "body.waitTimeoutMs: expected an integer from 0 to 4294967295"),
        ({"waitTimeoutMs": "5"}, "body.waitTimeoutMs: expected an integer from 0 to 4294967295"),
        ({"waitTimeoutMs": 1.5}, "body.waitTimeoutMs: expected an integer from 0 to 4294967295"),
        ({"waitTimeoutMs": True}, "body.waitTimeoutMs: expected an integer from 0 to 4294967295"),
        ({"waitForCommit": 1}, "body.waitForCommit: expected true or false"),
        ({"transaction": []}, "body.transaction: expected an object (Transaction)"),
        (
            {"transaction": {"body": "!!!!"}},
            "body.transaction.body: expected standard base64 with padding",
        ),
        (
            {"transaction": {"body": "AP8"}},
            "body.transaction.body: expected standard base64 with padding",
        ),
        (
            {"transaction": {"body": "AP-_"}},
            "body.transaction.body: expected standard base64 with padding",
        ),
        (
            {"transaction": {"endorsements": {}}},
            "body.transaction.endorsements: expected an array",
        ),
        (
            {"transaction": {"endorsements": [None]}},
            "body.transaction.endorsements[0]: null is not accepted; leave the field out for "
            "its default",
        ),
        (
            {"transaction": {"endorsements": [{"endorser": 7}]}},
            "body.transaction.endorsements[0].endorser: expected a string",
        ),
        (
            {"colour": "blue"},
            "body: unknown field 'colour' (SubmitRequest has transaction, waitForCommit, "
            "waitTimeoutMs, encodedTransaction)",
        ),
    ],
)
async def test_bodies_are_read_strictly_with_the_path_of_the_flaw(
    http: httpx.AsyncClient, double: ChainDouble, body: object, message: str
) -> None:
    answer = await http.post("/v1/transactions", json=body)
    assert answer.status_code == 400
    assert answer.json() == {"reason": "malformed", "message": message}
    assert double.calls == []


async def test_wait_timeout_at_its_limit_is_read(
    http: httpx.AsyncClient, identity: Identity
) -> None:
    transaction = _transaction(identity)
    body = {
        "transaction": {"body": _b64(transaction.body), "signature": _b64(transaction.signature)},
        "waitTimeoutMs": (1 << 32) - 1,
        "waitForCommit": False,
    }
    answer = await http.post("/v1/transactions", json=body)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/blocks/" + "9" * 19, 404),  # the longest height the pattern takes: not committed
        ("/v1/blocks/" + "1" * 20, 400),
        ("/v1/transactions/" + "ab" * 32, 404),
        ("/v1/transactions/" + "ab" * 31, 400),
        ("/v1/transactions/" + "ab" * 33, 400),
        ("/v1/state/abc", 400),
    ],
)
async def test_path_parameters_follow_their_patterns(
    http: httpx.AsyncClient, path: str, status: int
) -> None:
    answer = await http.get(path)
    assert answer.status_code == status, answer.text
    if status == 400:
        assert answer.json()["reason"] == "malformed"
        assert "should match pattern" in answer.json()["message"]


async def test_openapi_lists_every_route_with_schemas(http: httpx.AsyncClient) -> None:
    answer = await http.get("/openapi.json")
    assert answer.status_code == 200
    document = answer.json()
    assert set(document["paths"]) == {
        "/v1/transactions",
        "/v1/transactions/batch",
        "/v1/query",
        "/v1/blocks/stream",
        "/v1/blocks/{height}",
        "/v1/transactions/{transaction_id}",
        "/v1/state/{key}",
        "/v1/states",
        "/v1/validator-sets/{height}",
        "/v1/status",
        "/v1/events/stream",
        "/metrics",
    }
    for operations in document["paths"].values():
        for operation in operations.values():
            assert operation["summary"] and operation["description"]
    submit = document["paths"]["/v1/transactions"]["post"]
    assert submit["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/causeway.api.v1.SubmitRequest"
    }
    schemas = document["components"]["schemas"]
    assert schemas["causeway.types.v1.Transaction"]["properties"]["body"] == {
        "type": "string",
        "format": "byte",
        "pattern": BASE64_PATTERN,
    }
    assert schemas["causeway.types.v1.Transaction"]["additionalProperties"] is False
    # 64-bit integers: decimal strings as the gateway writes them, or JSON integers, in range.
    assert schemas["causeway.api.v1.SubmitResponse"]["properties"]["height"] == {
        "type": ["string", "integer"],
        "pattern": "^[0-9]{1,19}$",
        "minimum": 0,
        "maximum": (1 << 64) - 1,
    }
    submit_request = schemas["causeway.api.v1.SubmitRequest"]
    assert submit_request["properties"]["waitTimeoutMs"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": (1 << 32) - 1,
    }
    # Both spellings of a field are documented, and so is that only one may be given.
    assert (
        submit_request["properties"]["wait_timeout_ms"]
        == (submit_request["properties"]["waitTimeoutMs"])
    )
    assert submit_request["dependentSchemas"]["waitTimeoutMs"] == {
        "not": {"required": ["wait_timeout_ms"]}
    }
    parameters = {
        parameter["name"]: parameter["schema"]["pattern"]
        for path in ("/v1/blocks/{height}", "/v1/transactions/{transaction_id}", "/v1/state/{key}")
        for parameter in document["paths"][path]["get"]["parameters"]
        if parameter["in"] == "path"
    }
    assert parameters == {
        "height": "^(latest|[0-9]{1,19})$",
        "transaction_id": "^[0-9a-fA-F]{64}$",
        "key": "^(?:[0-9a-fA-F]{2})+$",
    }
    stream = document["paths"]["/v1/blocks/stream"]["get"]["responses"]["200"]["content"]
    sse_event = stream["text/event-stream"]["schema"]
    assert sse_event["properties"]["event"]["enum"] == ["block", "error"]
    assert sse_event["properties"]["data"]["contentSchema"] == {
        "anyOf": [
            {"$ref": "#/components/schemas/causeway.api.v1.BlockEvent"},
            {"$ref": "#/components/schemas/Error"},
        ]
    }
    assert "Error" in schemas
    # Every reference resolves.
    for reference in _references(document):
        assert reference.removeprefix("#/components/schemas/") in schemas


def _references(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _references(value)]
    if isinstance(node, list):
        return [r for value in node for r in _references(value)]
    return []


def _commit_three(double: ChainDouble, identity: Identity) -> None:
    for argument in (b"1", b"2", b"3"):
        double.commit([_transaction(identity, argument)])


async def test_block_stream_as_ndjson(
    http: httpx.AsyncClient, double: ChainDouble, identity: Identity
) -> None:
    double.live = False
    _commit_three(double, identity)
    answer = await http.get("/v1/blocks/stream", params={"from_height": 2})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in answer.text.splitlines() if line]
    assert [line["block"]["header"]["height"] for line in lines] == ["2", "3"]


def _sse(text: str) -> list[dict[str, str]]:
    events = []
    for chunk in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in chunk.splitlines() if line and not line.startswith(":")
        )
        if fields:
            events.append(fields)
    return events


async def test_block_stream_as_sse_resumes_after_last_event_id(
    http: httpx.AsyncClient, double: ChainDouble, identity: Identity
) -> None:
    double.live = False
    _commit_three(double, identity)
    answer = await http.get("/v1/blocks/stream", headers={"accept": "text/event-stream"})
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = _sse(answer.text)
    assert [(e["event"], e["id"]) for e in events] == [
        ("block", "1"),
        ("block", "2"),
        ("block", "3"),
    ]
    resumed = await http.get(
        "/v1/blocks/stream", params={"format": "sse"}, headers={"last-event-id": "2"}
    )
    assert [e["id"] for e in _sse(resumed.text)] == ["3"]
    bad = await http.get("/v1/blocks/stream", headers={"last-event-id": "two"})
    assert bad.status_code == 400


async def test_event_stream_filters_and_resumes(
    http: httpx.AsyncClient, double: ChainDouble, identity: Identity
) -> None:
    double.live = False
    _commit_three(double, identity)
    everything = await http.get("/v1/events/stream", params={"format": "sse"})
    ids = [e["id"] for e in _sse(everything.text)]
    assert ids == ["1-0-0", "1-0-1", "2-0-0", "2-0-1", "3-0-0", "3-0-1"]
    resumed = await http.get(
        "/v1/events/stream", params={"format": "sse"}, headers={"last-event-id": "2-0-0"}
    )
    assert [e["id"] for e in _sse(resumed.text)] == ["2-0-1", "3-0-0", "3-0-1"]
    named = await http.get(
        "/v1/events/stream", params={"from_height": 2, "name": "transfer.1", "contract": "ledger"}
    )
    records = [json.loads(line) for line in named.text.splitlines() if line]
    assert [(r["height"], r["eventIndex"]) for r in records] == [("2", 1), ("3", 1)]
    assert (
        await http.get("/v1/events/stream", headers={"last-event-id": "2-0"})
    ).status_code == 400


async def test_stream_refused_at_once_gets_its_own_status(
    http: httpx.AsyncClient, double: ChainDouble
) -> None:
    double.fail_with["stream_blocks"] = HeightUnavailableError("pruned")
    answer = await http.get("/v1/blocks/stream")
    assert answer.status_code == 416
    assert answer.json() == {"reason": "height_unavailable", "message": "pruned"}


class _FailingLater(ChainDouble):
    async def stream_events(
        self, request: api_pb2.StreamEventsRequest
    ) -> AsyncIterator[types_pb2.EventRecord]:
        await asyncio.sleep(0.1)
        yield types_pb2.EventRecord(height=1)
        raise NodeUnavailableError("shutting down")


async def test_stream_failing_midway_ends_with_an_error_record() -> None:
    transport = httpx.ASGITransport(app=_app(_FailingLater()))
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
        ndjson = await client.get("/v1/events/stream")
        sse = await client.get("/v1/events/stream", params={"format": "sse"})
    assert ndjson.status_code == 200
    lines = [json.loads(line) for line in ndjson.text.splitlines() if line]
    assert lines[-1] == {"error": {"reason": "unavailable", "message": "shutting down"}}
    events = _sse(sse.text)
    assert events[-1]["event"] == "error"
    assert json.loads(events[-1]["data"])["reason"] == "unavailable"


async def test_idle_live_stream_sends_keepalives(double: ChainDouble, identity: Identity) -> None:
    transport = httpx.ASGITransport(app=_app(double, stream_keepalive_s=0.02))

    async def commit_later() -> None:
        await asyncio.sleep(0.3)
        double.live = False
        double.commit([_transaction(identity)])

    async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
        committer = asyncio.create_task(commit_later())
        answer = await client.get("/v1/blocks/stream", params={"format": "sse"})
        await committer
    assert ": keepalive" in answer.text
    assert [e["id"] for e in _sse(answer.text)] == ["1"]


def test_bad_configuration_is_refused(double: ChainDouble) -> None:
    with pytest.raises(ConfigurationError):
        create_http_app(double, request_bytes_max=0)
    with pytest.raises(ConfigurationError):
        create_http_app(double, request_bytes_max=10, stream_keepalive_s=0)


async def test_many_states_and_validator_sets(
    http: httpx.AsyncClient, double: ChainDouble, identity: Identity
) -> None:
    double.commit([_transaction(identity, b"one")])
    key = double.blocks[0].results[0].transaction_id
    body = {"keys": [_b64(b"tx/" + key), _b64(b"missing")], "height": "1"}
    answer = await http.post("/v1/states", json=body)
    assert answer.status_code == 200
    states = json_format.ParseDict(answer.json(), api_pb2.GetStatesResponse())
    assert [(entry.found, entry.value) for entry in states.entries] == [
        (True, b"one"),
        (False, b""),
    ]
    too_many = {"keys": [_b64(b"k")] * (STATES_PER_REQUEST_MAX + 1)}
    refused = await http.post("/v1/states", json=too_many)
    assert refused.status_code == 413
    assert refused.json()["reason"] == "too_large"
    for height in ("1", "latest", "0"):
        answer = await http.get(f"/v1/validator-sets/{height}")
        assert answer.status_code == 200
        validator_set = json_format.ParseDict(answer.json(), api_pb2.GetValidatorSetResponse())
        assert validator_set.validator_set == double.validators
        assert validator_set.height == 1
    assert (await http.get("/v1/validator-sets/2")).status_code == 404
