"""Bad input at every entry point of a running node: a clear error, and nothing changes.

Each case checks that the refusal names its reason, and that afterwards the height, the latest
block and its state root are the same, the mempool is empty and the case's key was not written.
One node serves the whole module; every case leaves it as it found it (the replay and duplicate
cases commit their one good transaction before taking the snapshot they compare against).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence

import grpc
import httpx
import pytest
from google.protobuf import json_format
from node_harness import (
    BLOCK_INTERVAL_MS,
    HTTP_REQUEST_BYTES_MAX,
    NodeProcess,
    assert_idle_blocks,
    free_ports,
)

from causeway.api.v1 import api_pb2, api_pb2_grpc
from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import PrivateKey
from causeway.errors import (
    DecodeError,
    DuplicateError,
    ExpiredError,
    LimitExceededError,
    PermissionDeniedError,
    RequestError,
    SignatureError,
    UnknownMemberError,
    WrongChainError,
)
from causeway.execution.keys import kv_key
from causeway.provisioning import node_directory
from causeway.sdk import Client, Identity, build_transaction, error_from_rpc
from causeway.types import DOMAIN_TRANSACTION, encode, sign_bytes
from causeway.types.v1 import types_pb2

pytestmark = pytest.mark.e2e

CLIENT = "org1/client"
# Long enough for a wrongly admitted transaction to have been committed.
SETTLE_S = 4 * BLOCK_INTERVAL_MS / 1000
CLI_TIMEOUT_S = 60.0
TEN_MINUTES_MS = 10 * 60 * 1000


@dataclasses.dataclass(frozen=True)
class Snapshot:
    height: int
    latest_block_hash: bytes
    state_root: bytes
    mempool_size: int


@dataclasses.dataclass
class Chain:
    """The shared node, a signing client of it and the member it signs as."""

    node: NodeProcess
    client: Client
    identity: Identity

    @property
    def chain_id(self) -> str:
        return self.node.network.chain_id

    def put(self, key: bytes, value: bytes = b"v") -> types_pb2.Transaction:
        return self.client.transaction(
            "kv", "put", contracts_pb2.KvPutArguments(key=key, value=value)
        )

    def snapshot(self) -> Snapshot:
        status = self.client.status()
        header = self.client.get_block(status.height).block.header
        return Snapshot(
            height=status.height,
            latest_block_hash=status.latest_block_hash,
            state_root=header.state_root,
            mempool_size=status.mempool_size,
        )

    def assert_unchanged(self, before: Snapshot, keys: Sequence[bytes] = ()) -> None:
        """Nothing came of the bad input: the same state and, besides idle heartbeat blocks
        (the node makes one every 5 s with nothing to order), no block; an empty pool."""
        time.sleep(SETTLE_S)
        after = self.snapshot()
        assert (after.state_root, after.mempool_size) == (before.state_root, 0)
        assert_idle_blocks(self.client, before.height, after.height)
        if after.height == before.height:
            assert after == before
        for key in keys:
            entry = self.client.get_state(kv_key(key), verify=True)
            assert not entry.found, f"key {key!r} was written"


@pytest.fixture(scope="module")
def chain(shared_node: NodeProcess) -> Iterator[Chain]:
    identity = shared_node.network.identity(CLIENT)
    with shared_node.client(identity) as client:
        seeded = client.invoke("kv", "put", contracts_pb2.KvPutArguments(key=b"seed", value=b"1"))
        assert seeded.succeeded, seeded
        yield Chain(shared_node, client, identity)


# ---------------------------------------------------------------------------------------------
# gRPC Submit


def _signed(identity: Identity, chain_id: str, body: bytes) -> types_pb2.Transaction:
    signature = identity.key.sign(sign_bytes(DOMAIN_TRANSACTION, chain_id, body))
    return types_pb2.Transaction(body=body, signature=signature)


def _garbage_body(chain: Chain, key: bytes) -> types_pb2.Transaction:
    del key
    return types_pb2.Transaction(body=b"\x0a\xff\xff\xff\xff\x0f garbage", signature=b"\x01" * 70)


def _non_canonical_body(chain: Chain, key: bytes) -> types_pb2.Transaction:
    body = chain.put(key).body
    # The chain id a second time: it parses (the last one wins) but is not the one byte form.
    repeated = body + encode(types_pb2.TransactionBody(chain_id=chain.chain_id))
    return _signed(chain.identity, chain.chain_id, repeated)


def _oversized(chain: Chain, key: bytes) -> types_pb2.Transaction:
    return chain.put(key, b"x" * 70_000)


def _wrong_chain(chain: Chain, key: bytes) -> types_pb2.Transaction:
    arguments = contracts_pb2.KvPutArguments(key=key, value=b"v")
    return build_transaction(chain.identity, "another-chain", "kv", "put", arguments)


def _bad_signature(chain: Chain, key: bytes) -> types_pb2.Transaction:
    transaction = chain.put(key)
    signature = bytearray(transaction.signature)
    signature[-1] ^= 0x01
    transaction.signature = bytes(signature)
    return transaction


def _unsigned(chain: Chain, key: bytes) -> types_pb2.Transaction:
    transaction = chain.put(key)
    transaction.signature = b""
    return transaction


def _unknown_member(chain: Chain, key: bytes) -> types_pb2.Transaction:
    stranger = Identity(
        member_id="org1/stranger",
        key=PrivateKey.generate(chain.identity.algorithm),
        crypto_profile=chain.identity.crypto_profile,
        chain_id=chain.chain_id,
    )
    arguments = contracts_pb2.KvPutArguments(key=key, value=b"v")
    return build_transaction(stranger, chain.chain_id, "kv", "put", arguments)


def _member_without_client_role(chain: Chain, key: bytes) -> types_pb2.Transaction:
    network = chain.node.network
    validator = Identity.load(node_directory(network.directory, network.description.nodes[0].name))
    arguments = contracts_pb2.KvPutArguments(key=key, value=b"v")
    return build_transaction(validator, chain.chain_id, "kv", "put", arguments)


def _expired(chain: Chain, key: bytes) -> types_pb2.Transaction:
    arguments = contracts_pb2.KvPutArguments(key=key, value=b"v")
    issued_ms = time.time_ns() // 1_000_000 - TEN_MINUTES_MS
    return build_transaction(
        chain.identity, chain.chain_id, "kv", "put", arguments, expiry_s=60, timestamp_ms=issued_ms
    )


def _expiry_too_far(chain: Chain, key: bytes) -> types_pb2.Transaction:
    arguments = contracts_pb2.KvPutArguments(key=key, value=b"v")
    return build_transaction(
        chain.identity, chain.chain_id, "kv", "put", arguments, expiry_s=2 * 3600
    )


def _from_the_future(chain: Chain, key: bytes) -> types_pb2.Transaction:
    arguments = contracts_pb2.KvPutArguments(key=key, value=b"v")
    issued_ms = time.time_ns() // 1_000_000 + TEN_MINUTES_MS
    return build_transaction(
        chain.identity, chain.chain_id, "kv", "put", arguments, expiry_s=60, timestamp_ms=issued_ms
    )


@dataclasses.dataclass(frozen=True)
class SubmitCase:
    name: str
    build: Callable[[Chain, bytes], types_pb2.Transaction]
    error: type[RequestError]
    reason: str
    says: str


SUBMIT_CASES = [
    SubmitCase("garbage-body", _garbage_body, DecodeError, "malformed", "TransactionBody"),
    SubmitCase("non-canonical-body", _non_canonical_body, DecodeError, "malformed", "canonical"),
    SubmitCase("oversized", _oversized, LimitExceededError, "too_large", "above the limit"),
    SubmitCase("wrong-chain", _wrong_chain, WrongChainError, "wrong_chain", "another-chain"),
    SubmitCase("bad-signature", _bad_signature, SignatureError, "bad_signature", "verify"),
    SubmitCase("unsigned", _unsigned, SignatureError, "bad_signature", "not signed"),
    SubmitCase(
        "unknown-member", _unknown_member, UnknownMemberError, "unknown_member", "org1/stranger"
    ),
    SubmitCase(
        "member-without-client-role",
        _member_without_client_role,
        PermissionDeniedError,
        "permission_denied",
        "role",
    ),
    SubmitCase("expired", _expired, ExpiredError, "expired", "expired at"),
    SubmitCase("expiry-too-far-ahead", _expiry_too_far, ExpiredError, "expired", "ahead of now"),
    SubmitCase(
        "timestamp-in-the-future", _from_the_future, RequestError, "future_timestamp", "ahead"
    ),
]


@pytest.mark.parametrize("case", SUBMIT_CASES, ids=[case.name for case in SUBMIT_CASES])
def test_grpc_submit_refuses_bad_transactions(chain: Chain, case: SubmitCase) -> None:
    key = f"bad/{case.name}".encode()
    transaction = case.build(chain, key)
    before = chain.snapshot()
    with pytest.raises(case.error) as raised:
        chain.client.submit(transaction, wait=True, timeout_s=5)
    error = raised.value
    assert type(error) is case.error, repr(error)
    assert error.reason == case.reason
    assert case.says in error.message, error.message
    chain.assert_unchanged(before, [key])
    # The same answer without waiting, and in a batch: refused one by one, nothing admitted.
    with pytest.raises(case.error):
        chain.client.submit(transaction, wait=False)
    (result,) = chain.client.submit_batch([transaction], wait=False)
    assert result.error is not None
    assert (type(result.error), result.error.reason) == (case.error, case.reason)
    assert not result.committed
    chain.assert_unchanged(before, [key])


def test_grpc_submit_refuses_a_replayed_transaction(chain: Chain) -> None:
    transaction = chain.put(b"bad/replayed", b"first")
    first = chain.client.submit(transaction)
    assert first.succeeded, first
    before = chain.snapshot()
    assert before.height == first.height
    for wait in (True, False):
        with pytest.raises(DuplicateError) as raised:
            chain.client.submit(transaction, wait=wait, timeout_s=5)
        assert raised.value.reason == "duplicate"
        assert "already committed" in raised.value.message
    (again,) = chain.client.submit_batch([transaction], wait=False)
    assert isinstance(again.error, DuplicateError)
    chain.assert_unchanged(before)
    assert chain.client.get_state(kv_key(b"bad/replayed")).value == b"first"
    assert chain.client.get_transaction(first.transaction_id).height == first.height


def test_grpc_submit_batch_refuses_a_duplicate_within_the_batch(chain: Chain) -> None:
    transaction = chain.put(b"bad/twice", b"once")
    before = chain.snapshot()
    first, second = chain.client.submit_batch([transaction, transaction], wait=True, timeout_s=10)
    assert first.succeeded, first
    assert second.error is not None
    assert isinstance(second.error, DuplicateError)
    assert "more than once" in second.error.message
    assert not second.committed
    # Exactly one block with exactly one transaction came of it (and maybe an idle heartbeat
    # block before it).
    block = chain.client.get_block(first.height)
    assert first.height > before.height
    assert_idle_blocks(chain.client, before.height, first.height - 1)
    assert len(block.block.transactions) == 1
    after = chain.snapshot()
    assert after.mempool_size == 0
    assert_idle_blocks(chain.client, first.height, after.height)
    chain.assert_unchanged(after)


# ---------------------------------------------------------------------------------------------
# gRPC Query


def test_grpc_query_of_a_write_method_changes_nothing(chain: Chain) -> None:
    before = chain.snapshot()
    result = chain.client.evaluate(
        "kv", "put", contracts_pb2.KvPutArguments(key=b"bad/query-put", value=b"v")
    )
    assert result.status != types_pb2.RESULT_STATUS_OK
    assert "cannot run as a query" in result.error, result.error
    chain.assert_unchanged(before, [b"bad/query-put"])


@pytest.mark.parametrize(
    ("build", "error_type"),
    [(_bad_signature, SignatureError), (_unknown_member, UnknownMemberError)],
    ids=["bad-signature", "unknown-member"],
)
def test_grpc_query_refuses_unauthenticated_calls(
    chain: Chain,
    build: Callable[[Chain, bytes], types_pb2.Transaction],
    error_type: type[RequestError],
) -> None:
    before = chain.snapshot()
    transaction = build(chain, b"bad/query")
    with grpc.insecure_channel(chain.node.grpc_address) as channel:
        stub = api_pb2_grpc.ChainStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.Query(api_pb2.QueryRequest(transaction=transaction), timeout=10)
    error = error_from_rpc(raised.value)
    assert type(error) is error_type, repr(error)
    assert error.message
    chain.assert_unchanged(before, [b"bad/query"])


# ---------------------------------------------------------------------------------------------
# Raw gRPC


def _identity_bytes(data: bytes) -> bytes:
    return data


@pytest.mark.parametrize("method", ["Submit", "SubmitBatch", "GetBlock", "GetState", "Query"])
def test_grpc_garbage_request_bytes(chain: Chain, method: str) -> None:
    before = chain.snapshot()
    with grpc.insecure_channel(chain.node.grpc_address) as channel:
        call = channel.unary_unary(
            f"/causeway.api.v1.Chain/{method}",
            request_serializer=_identity_bytes,
            response_deserializer=_identity_bytes,
        )
        with pytest.raises(grpc.RpcError) as raised:
            call(b"\xff\xff\xff\xff garbage", timeout=10)
    error = raised.value
    assert isinstance(error, grpc.Call)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (error.details() or "").startswith("malformed: ")
    assert ("causeway-reason", "malformed") in tuple(error.trailing_metadata() or ())
    # The node still serves.
    chain.assert_unchanged(before)
    assert chain.client.get_block(before.height).block.header.height == before.height


# ---------------------------------------------------------------------------------------------
# HTTP gateway


def _bad_signature_json(chain: Chain) -> bytes:
    transaction = _bad_signature(chain, b"bad/http-signature")
    request = api_pb2.SubmitRequest(transaction=transaction)
    return json_format.MessageToJson(request).encode()


@dataclasses.dataclass(frozen=True)
class HttpCase:
    name: str
    method: str
    path: str
    status: int
    reason: str
    body: Callable[[Chain], bytes] | None = None


HTTP_CASES = [
    HttpCase("malformed-json", "POST", "/v1/transactions", 400, "malformed", lambda _: b"{not"),
    HttpCase("json-not-an-object", "POST", "/v1/transactions", 400, "malformed", lambda _: b"[]"),
    HttpCase(
        "wrong-message-fields",
        "POST",
        "/v1/transactions",
        400,
        "malformed",
        lambda _: json.dumps({"transaction": {"nope": 1}}).encode(),
    ),
    HttpCase(
        "bad-signature", "POST", "/v1/transactions", 400, "bad_signature", _bad_signature_json
    ),
    HttpCase(
        "body-above-the-limit",
        "POST",
        "/v1/transactions",
        413,
        "too_large",
        lambda _: b" " * (HTTP_REQUEST_BYTES_MAX + 1024),
    ),
    HttpCase(
        "batch-body-above-the-limit",
        "POST",
        "/v1/transactions/batch",
        413,
        "too_large",
        lambda _: b"{" + b" " * (2 * HTTP_REQUEST_BYTES_MAX) + b"}",
    ),
    HttpCase("unknown-route", "GET", "/v1/no-such-thing", 404, "not_found"),
    HttpCase("unknown-route-post", "POST", "/v2/transactions", 404, "not_found", lambda _: b"{}"),
    HttpCase("bad-hex-state-key", "GET", "/v1/state/zz-not-hex", 400, "malformed"),
    HttpCase("odd-hex-state-key", "GET", "/v1/state/abc", 400, "malformed"),
    HttpCase("bad-hex-transaction-id", "GET", "/v1/transactions/xyz", 400, "malformed"),
    HttpCase("unknown-transaction", "GET", "/v1/transactions/" + "ab" * 32, 404, "not_found"),
    HttpCase("height-not-committed", "GET", "/v1/blocks/{future}", 404, "not_found"),
    HttpCase("height-not-a-number", "GET", "/v1/blocks/twelve", 400, "malformed"),
]


@pytest.mark.parametrize("case", HTTP_CASES, ids=[case.name for case in HTTP_CASES])
def test_http_gateway_refuses_bad_requests(chain: Chain, case: HttpCase) -> None:
    before = chain.snapshot()
    path = case.path.replace("{future}", str(before.height + 1000))
    content = case.body(chain) if case.body is not None else None
    with httpx.Client(base_url=chain.node.http_url, timeout=30.0) as http:
        answer = http.request(
            case.method,
            path,
            content=content,
            headers={"content-type": "application/json"} if content is not None else None,
        )
        assert answer.status_code == case.status, answer.text[:500]
        document = answer.json()
        assert document["reason"] == case.reason, document
        assert isinstance(document["message"], str)
        assert document["message"]
        assert "Traceback" not in answer.text
        # The gateway still answers.
        assert http.get("/v1/status").status_code == 200
    chain.assert_unchanged(before, [b"bad/http-signature"])


def test_http_gateway_refuses_a_streamed_body_above_the_limit(chain: Chain) -> None:
    """Without a Content-Length the limit holds as the chunks arrive."""
    before = chain.snapshot()

    def chunks() -> Iterator[bytes]:
        for _ in range(4):
            yield b" " * (HTTP_REQUEST_BYTES_MAX // 2)

    with httpx.Client(base_url=chain.node.http_url, timeout=30.0) as http:
        answer = http.post("/v1/transactions", content=chunks())
        assert answer.status_code == 413, answer.text[:500]
        assert answer.json()["reason"] == "too_large"
    chain.assert_unchanged(before)


# ---------------------------------------------------------------------------------------------
# The CLI


def _cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "causeway.cli", *arguments],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("name", "contract", "args", "says"),
    [
        ("bad-json", "kv", '{"key": "k", ', "JSON"),
        ("unknown-contract", "no_such_contract", '{"key": "k"}', "no_such_contract"),
        ("unreachable-node", "kv", '{"key": "bad/cli-unreachable", "value": "v"}', "reach"),
    ],
    ids=["bad-json", "unknown-contract", "unreachable-node"],
)
def test_cli_tx_send_bad_input(
    chain: Chain, name: str, contract: str, args: str, says: str
) -> None:
    before = chain.snapshot()
    node_address = chain.node.grpc_address
    if name == "unreachable-node":
        (port,) = free_ports(1)
        node_address = f"127.0.0.1:{port}"
    member = chain.node.network.directory / "organisations" / "org1" / "members" / "client"
    completed = _cli(
        "tx",
        "send",
        "--identity",
        str(member),
        "--node",
        node_address,
        "--contract",
        contract,
        "--method",
        "put",
        "--args",
        args,
        "--timeout-s",
        "5",
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, output
    assert "Traceback" not in output
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert says.lower() in lines[0].lower(), lines[0]
    chain.assert_unchanged(before, [b"k", b"bad/cli-unreachable"])
