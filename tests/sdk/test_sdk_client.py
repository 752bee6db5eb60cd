"""The blocking client against the in-memory double served on a thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from chain_double import ChainDouble, state_key_of
from chain_servers import ThreadServer

from causeway.api.v1 import api_pb2
from causeway.crypto import PrivateKey
from causeway.errors import (
    CausewayError,
    ConfigurationError,
    DuplicateError,
    HeightUnavailableError,
    MempoolFullError,
    NodeUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    ProofError,
    RequestError,
    SignatureError,
)
from causeway.sdk import Client, FileCheckpoint, Identity, MemoryCheckpoint, build_transaction
from causeway.types import encode
from causeway.types.v1 import types_pb2

T = TypeVar("T")
FOLLOW_WAIT_S = 30.0


def _take(iterator: Iterator[T], count: int) -> list[T]:
    return [next(iterator) for _ in range(count)]


def _client(server: ThreadServer, identity: Identity | None = None) -> Client:
    return Client(
        server.address, identity, timeout_s=5, reconnect_delay_s=0.02, reconnect_delay_max_s=0.2
    )


def test_invoke_then_read_everything_verified(
    thread_server: ThreadServer, identity: Identity
) -> None:
    with _client(thread_server, identity) as client:
        result = client.invoke("ledger", "transfer", b"payload")
        assert result.committed and result.succeeded and result.height == 1
        assert result.result is not None and result.result.return_value == b"payload"
        assert result.transaction_id == client.transaction_id(
            client.get_transaction(result.transaction_id).transaction
        )
        found = client.get_transaction(result.transaction_id, wait_s=0.1)
        assert found.height == 1 and found.result.status == types_pb2.RESULT_STATUS_OK
        state = client.get_state(state_key_of(result.transaction_id))
        assert state.found and state.value == b"payload"
        absent = client.get_state(b"missing", height=1)
        assert not absent.found and absent.height == 1
        block = client.get_block()
        assert block.block.header.height == 1
        assert client.evaluate("ledger", "balance", b"q").return_value == b"q"
        status = client.status()
        assert status.chain_id == "test-chain" and status.height == 1


def test_submit_without_waiting_and_batches(
    thread_server: ThreadServer, double: ChainDouble, identity: Identity
) -> None:
    with _client(thread_server, identity) as client:
        quick = client.submit(client.transaction("ledger", "transfer", b"1"), wait=False)
        assert not quick.committed and quick.result is None and not quick.succeeded
        transactions = [client.transaction("ledger", "transfer", bytes([n])) for n in range(3)]
        results = client.submit_batch(transactions)
        assert [r.committed for r in results] == [True, True, True]
        assert [r.transaction_id for r in results] == [
            client.transaction_id(t) for t in transactions
        ]
        double.reject_with = api_pb2.Rejection(reason="mempool_full", message="later")
        refused = client.submit_batch(transactions[:1])
        assert isinstance(refused[0].error, MempoolFullError)
        assert refused[0].error.message == "later"


def test_transactions_are_sent_as_their_canonical_bytes(
    thread_server: ThreadServer, double: ChainDouble, identity: Identity
) -> None:
    with _client(thread_server, identity) as client:
        single = client.transaction("ledger", "transfer", b"1")
        client.submit(single, wait=False)
        batch = [client.transaction("ledger", "transfer", bytes([n])) for n in range(2)]
        client.submit_batch(batch, wait=False)
        client.evaluate("ledger", "balance", b"q")
    submit, submit_batch, query = double.requests
    assert isinstance(submit, api_pb2.SubmitRequest)
    assert not submit.HasField("transaction")
    assert submit.encoded_transaction == encode(single)
    assert isinstance(submit_batch, api_pb2.SubmitBatchRequest)
    assert list(submit_batch.transactions) == []
    assert list(submit_batch.encoded_transactions) == [encode(t) for t in batch]
    assert isinstance(query, api_pb2.QueryRequest)
    assert not query.HasField("transaction")
    assert types_pb2.Transaction.FromString(query.encoded_transaction).body


@pytest.mark.parametrize(
    ("reason", "error_class"),
    [
        ("duplicate", DuplicateError),
        ("bad_signature", SignatureError),
        ("mempool_full", MempoolFullError),
        ("something_new", RequestError),
    ],
)
def test_rejection_raises_the_error_of_its_reason(
    thread_server: ThreadServer,
    double: ChainDouble,
    identity: Identity,
    reason: str,
    error_class: type[CausewayError],
) -> None:
    double.reject_with = api_pb2.Rejection(reason=reason, message="refused")
    with _client(thread_server, identity) as client, pytest.raises(error_class) as raised:
        client.invoke("ledger", "transfer", b"")
    assert raised.value.reason == reason and raised.value.message == "refused"


@pytest.mark.parametrize(
    "error",
    [
        NotFoundError("no block"),
        HeightUnavailableError("pruned"),
        PermissionDeniedError("no"),
        NodeUnavailableError("stopping"),
        RequestError("odd", reason="custom_reason"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_refusals_come_back_as_their_error_class(
    thread_server: ThreadServer, double: ChainDouble, error: CausewayError
) -> None:
    double.fail_with["get_block"] = error
    with _client(thread_server) as client, pytest.raises(type(error)) as raised:
        client.get_block(7)
    assert raised.value.reason == error.reason
    assert raised.value.message == error.message


def test_internal_failure_is_a_plain_causeway_error(
    thread_server: ThreadServer, double: ChainDouble
) -> None:
    double.fail_with["get_status"] = RuntimeError("secret")
    with _client(thread_server) as client, pytest.raises(CausewayError) as raised:
        client.status()
    assert raised.value.reason == "internal" and "secret" not in raised.value.message


@contextlib.contextmanager
def _refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections for as long as the block runs: bound but not
    listening, and held, so no other process can start listening on it meanwhile (a port
    released and dialled later could be anyone's by then)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        port: int = holder.getsockname()[1]
        yield port


def test_unreachable_node_is_node_unavailable() -> None:
    with (
        _refusing_port() as port,
        Client(f"127.0.0.1:{port}", timeout_s=2) as client,
        pytest.raises(NodeUnavailableError),
    ):
        client.status()


def test_chain_facts_come_from_the_node_when_the_identity_lacks_them(
    thread_server: ThreadServer,
) -> None:
    bare = Identity("org1/bob", PrivateKey.generate("ed25519"))
    with _client(thread_server, bare) as client:
        result = client.invoke("ledger", "transfer", b"x")
        assert result.committed
        assert client.chain_id() == "test-chain"


def test_signing_needs_an_identity_and_an_open_client(thread_server: ThreadServer) -> None:
    client = _client(thread_server)
    with pytest.raises(ConfigurationError):
        client.transaction("ledger", "transfer", b"")
    client.close()
    client.close()
    assert client.closed
    with pytest.raises(NodeUnavailableError, match="closed"):
        client.status()


class _TamperingDouble(ChainDouble):
    """Answers with values and results that do not match the proofs."""

    async def get_state(self, request: api_pb2.GetStateRequest) -> api_pb2.GetStateResponse:
        response = await super().get_state(request)
        response.value = response.value + b"!"
        return response

    async def get_transaction(
        self, request: api_pb2.GetTransactionRequest
    ) -> api_pb2.GetTransactionResponse:
        response = await super().get_transaction(request)
        response.result.return_value = b"forged"
        return response

    async def get_block(self, request: api_pb2.GetBlockRequest) -> api_pb2.GetBlockResponse:
        response = await super().get_block(request)
        response.results[0].status = types_pb2.RESULT_STATUS_PERMISSION_DENIED
        return response


def test_answers_that_do_not_match_their_proofs_are_refused(identity: Identity) -> None:
    server = ThreadServer(_TamperingDouble())
    try:
        server.start()
        with _client(server, identity) as client:
            result = client.invoke("ledger", "transfer", b"value")
            with pytest.raises(ProofError):
                client.get_state(state_key_of(result.transaction_id))
            with pytest.raises(ProofError):
                client.get_transaction(result.transaction_id)
            with pytest.raises(ProofError):
                client.get_block(1)
            assert client.get_block(1, verify=False).block.header.height == 1
            unverified = client.get_state(state_key_of(result.transaction_id), verify=False)
            assert unverified.value == b"value!"
    finally:
        server.close()


def test_a_header_is_read_without_its_body(
    thread_server: ThreadServer, double: ChainDouble, identity: Identity
) -> None:
    with _client(thread_server, identity) as client:
        client.invoke("ledger", "transfer", b"1")
        client.invoke("ledger", "transfer", b"2")
        full = client.get_block(1)
        answer = client.get_header(1)
        assert answer.block.header == full.block.header
        assert answer.certificate == full.certificate
        assert not answer.block.transactions and not answer.results
        assert client.get_header().block.header.height == 2
    asked = [r for r in double.requests if isinstance(r, api_pb2.GetBlockRequest)]
    assert [(r.height, r.header_only) for r in asked] == [(1, False), (1, True), (0, True)]


class _HeaderDouble(ChainDouble):
    """Answers header-only reads as ``answer`` says: honestly, with the whole block (a node
    that predates header_only), with a certificate of another block, or with the header and
    certificate of the next height."""

    answer = "honest"

    async def get_block(self, request: api_pb2.GetBlockRequest) -> api_pb2.GetBlockResponse:
        if self.answer == "whole block":
            return await super().get_block(api_pb2.GetBlockRequest(height=request.height))
        if self.answer == "next height":
            request = api_pb2.GetBlockRequest(height=request.height + 1, header_only=True)
        response = await super().get_block(request)
        if self.answer == "other block":
            response.certificate.block_hash = bytes(32)
        return response


def test_a_header_that_its_certificate_is_not_for_is_refused(identity: Identity) -> None:
    double = _HeaderDouble()
    server = ThreadServer(double)
    try:
        server.start()
        with _client(server, identity) as client:
            client.invoke("ledger", "transfer", b"1")
            client.invoke("ledger", "transfer", b"2")
            honest = client.get_header(1)
            double.answer = "whole block"
            assert client.get_header(1) == honest  # the body nothing checked is dropped
            double.answer = "other block"
            with pytest.raises(ProofError, match="the certificate is not for block 1"):
                client.get_header(1)
            assert client.get_header(1, verify=False).certificate.block_hash == bytes(32)
            double.answer = "next height"
            with pytest.raises(ProofError, match="asked for height 1, answered for 2"):
                client.get_header(1)
    finally:
        server.close()


def test_follow_events_survives_a_node_restart_without_duplicates(
    thread_server: ThreadServer, double: ChainDouble, identity: Identity
) -> None:
    double.commit([_signed(identity, b"1")])
    double.commit([_signed(identity, b"2")])
    checkpoint = MemoryCheckpoint()
    with _client(thread_server) as client:
        events = client.follow_events(checkpoint, reconnect_attempts_max=100)
        first = _take(events, 4)
        thread_server.stop()
        double.commit([_signed(identity, b"3")])
        thread_server.start()
        double.commit([_signed(identity, b"4")])
        rest = _take(events, 4)
        events.close()
    positions = [(r.height, r.transaction_index, r.event_index) for r in first + rest]
    assert positions == [(h, 0, e) for h in (1, 2, 3, 4) for e in (0, 1)]
    assert checkpoint.load() == (4, 0, 1)


def test_a_restarted_consumer_resumes_from_its_file_checkpoint(
    thread_server: ThreadServer, double: ChainDouble, identity: Identity, tmp_path: Path
) -> None:
    for argument in (b"1", b"2", b"3"):
        double.commit([_signed(identity, argument)])
    path = tmp_path / "consumer.json"
    seen = []
    with _client(thread_server) as client:
        for record in client.follow_events(FileCheckpoint(path), contract="ledger"):
            seen.append(record)
            if len(seen) == 3:
                break
    assert FileCheckpoint(path).load() == (2, 0, 0)
    with _client(thread_server) as client:
        seen += _take(client.follow_events(FileCheckpoint(path), contract="ledger"), 3)
    positions = [(r.height, r.transaction_index, r.event_index) for r in seen]
    assert positions == [(h, 0, e) for h in (1, 2, 3) for e in (0, 1)]


def test_follow_blocks_resumes_and_close_ends_it(
    thread_server: ThreadServer, double: ChainDouble, identity: Identity
) -> None:
    for argument in (b"1", b"2", b"3"):
        double.commit([_signed(identity, argument)])
    client = _client(thread_server)
    heights: list[int] = []
    finished = threading.Event()

    def consume() -> None:
        for event in client.follow_blocks(2):
            heights.append(event.block.header.height)
        finished.set()

    consumer = threading.Thread(target=consume)
    consumer.start()
    try:
        thread_server.stop()
        thread_server.start()
        double.commit([_signed(identity, b"4")])
        # Well past the client's own call timeout (5 s) and its reconnection backoff: in a CI
        # run beside the end-to-end tests, 5 s passed before the stream came back.
        deadline = time.monotonic() + FOLLOW_WAIT_S
        while len(heights) < 3 and time.monotonic() < deadline:
            finished.wait(0.01)
    finally:
        client.close()
        consumer.join(timeout=10)
    assert finished.is_set()
    assert heights == [2, 3, 4]


def test_follow_gives_up_after_the_attempts_allowed() -> None:
    with (
        _refusing_port() as port,
        Client(f"127.0.0.1:{port}", reconnect_delay_s=0.01) as client,
        pytest.raises(NodeUnavailableError, match="gave up after 2"),
    ):
        next(client.follow_blocks(1, verify=False, reconnect_attempts_max=2))


def _signed(identity: Identity, argument: bytes) -> types_pb2.Transaction:
    return build_transaction(identity, identity.chain_id, "ledger", "transfer", argument)
