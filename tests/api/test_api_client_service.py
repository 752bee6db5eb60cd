"""The node's client service over a real store: submissions, waits, reads with proofs."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from causeway.api.client_service import ChainFacts, ClientService
from causeway.api.v1 import api_pb2
from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import BatchVerifier, VerifiedTransactionCache, get_profile
from causeway.errors import LimitExceededError, NodeUnavailableError, NotFoundError
from causeway.execution import (
    ExecutionApplication,
    Executor,
    LatestStateReader,
    TransactionVerifier,
    genesis_state,
)
from causeway.mempool import Admission, MempoolLimits, SharedMempool
from causeway.provisioning import build_network
from causeway.provisioning.description import NetworkDescription
from causeway.sdk import Identity, build_transaction
from causeway.state import StateTree
from causeway.storage import Store
from causeway.types import (
    DecodedTransaction,
    encode,
    genesis_hash,
    transaction_id,
    verify_merkle_proof,
)
from causeway.types.v1 import types_pb2

BATCH_MAX = 3
WAIT_S = 10.0


@pytest.fixture(scope="module")
def network() -> NetworkDescription:
    return build_network(1, "intl", "solo", now_ms=int(time.time() * 1000) - 1000)


@dataclass
class Chain:
    service: ClientService
    application: ExecutionApplication
    store: Store
    pool: SharedMempool
    stopping: asyncio.Event
    rejected: list[str] = field(default_factory=list)
    routed: list[list[DecodedTransaction]] = field(default_factory=list)

    def commit_block(self) -> int:
        """Builds, writes and announces the next block, as the node's solo path does."""
        height = self.store.latest_height() + 1
        block = self.application.build_block(height, 0, int(time.time() * 1000), "org1/node1")
        executed = self.application.executed(block)
        assert executed is not None
        certificate = types_pb2.CommitCertificate(height=height, block_hash=executed.block_hash)
        self.store.commit_block(executed.record(certificate))
        self.application.tree.committed(executed.tree_update)
        ids = [t.id for t in executed.transactions]
        self.pool.remove(ids)
        event = api_pb2.BlockEvent(
            block=executed.block, certificate=certificate, results=executed.results
        )
        self.service.block_committed(height, event, ids, executed.results)
        return height


@pytest.fixture
def chain(network: NetworkDescription, tmp_path: Path) -> Iterator[Chain]:
    genesis = network.genesis
    profile = get_profile(genesis.crypto_profile)
    store = Store(tmp_path / "chain", map_size_bytes=64 << 20)
    tree = StateTree(profile.hash, store)
    state = genesis_state(genesis)
    update = tree.apply(0, state)
    store.save_genesis(encode(genesis), state, update)
    tree.committed(update)
    executor = Executor(genesis, profile)
    reader = LatestStateReader(store)
    config = executor.get_config(reader)
    verified = VerifiedTransactionCache()
    with BatchVerifier(threads=1) as verifier:
        pool = SharedMempool(
            MempoolLimits(transactions_max=100, bytes_max=1 << 20),
            committed=store.has_transactions,
        )
        pool.admission = Admission(
            genesis.chain_id,
            profile,
            verifier,
            lambda member_id: executor.get_member(reader, member_id),
            pool.committed_or_in_flight,
            config.transaction_bytes_max,
            config.transaction_expiry_max_ms,
            verified=verified,
        )
        application = ExecutionApplication(
            chain_id=genesis.chain_id,
            profile=profile,
            genesis_hash=genesis_hash(genesis, profile.hash),
            store=store,
            tree=tree,
            executor=executor,
            verifier=verifier,
            verified=verified,
            take_transactions=pool.take,
            block_limits=lambda: (1000, 1 << 20),
            held_transaction=pool.get,
        )
        stopping = asyncio.Event()
        rejected: list[str] = []
        routed: list[list[DecodedTransaction]] = []
        service = ClientService(
            facts=ChainFacts(
                chain_id=genesis.chain_id,
                profile=profile,
                genesis_hash=application.genesis_hash,
                consensus="solo",
                node_id="org1/node1",
                admission_batch_max=BATCH_MAX,
            ),
            store=store,
            tree=tree,
            executor=executor,
            reader=reader,
            mempool=pool,
            transaction_verifier=TransactionVerifier(genesis.chain_id, profile, verifier, verified),
            chain_config=lambda: config,
            route_admitted=routed.append,
            role=lambda: "solo",
            peers_connected=lambda: 0,
            on_rejected=rejected.append,
            stopping=stopping,
        )
        try:
            yield Chain(service, application, store, pool, stopping, rejected, routed)
        finally:
            store.close()


def put(network: NetworkDescription, key: bytes) -> bytes:
    member = network.member("org1/client")
    return encode(
        build_transaction(
            Identity(member.member_id, member.key),
            network.genesis.chain_id,
            "kv",
            "put",
            contracts_pb2.KvPutArguments(key=key, value=b"v"),
        )
    )


async def test_a_waiting_submit_answers_when_its_block_is_written(
    network: NetworkDescription, chain: Chain
) -> None:
    data = put(network, b"a")
    waiting = asyncio.create_task(
        chain.service.submit(
            api_pb2.SubmitRequest(
                encoded_transaction=data, wait_for_commit=True, wait_timeout_ms=10_000
            )
        )
    )
    deadline = time.monotonic() + WAIT_S
    while len(chain.pool) == 0:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.005)
    # What the node gossips: the bytes the client sent, as admitted.
    assert [[t.encoded for t in batch] for batch in chain.routed] == [[data]]
    assert chain.commit_block() == 1
    response = await asyncio.wait_for(waiting, WAIT_S)
    assert (response.accepted, response.committed, response.height) == (True, True, 1)
    assert response.result.status == types_pb2.RESULT_STATUS_OK

    found = await chain.service.get_transaction(
        api_pb2.GetTransactionRequest(transaction_id=response.transaction_id)
    )
    hash_function = get_profile("intl").hash
    assert encode(found.transaction) == data
    assert found.transaction_proof.total == found.header.transaction_count
    verify_merkle_proof(  # raises ProofError when it does not verify
        found.header.transactions_root,
        transaction_id(found.transaction.body, hash_function),
        found.transaction_proof,
        hash_function,
    )
    block = await chain.service.get_block(api_pb2.GetBlockRequest())
    assert block.block.header.height == 1
    status = await chain.service.get_status(api_pb2.GetStatusRequest())
    assert (status.height, status.mempool_size, status.role) == (1, 0, "solo")


async def test_a_header_only_read_is_the_header_and_certificate_without_the_body(
    network: NetworkDescription, chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in (b"a", b"b"):
        await chain.service.submit(api_pb2.SubmitRequest(encoded_transaction=put(network, key)))
    height = chain.commit_block()
    full = await chain.service.get_block(api_pb2.GetBlockRequest(height=height))
    assert (len(full.block.transactions), len(full.results)) == (2, 2)
    expected = api_pb2.GetBlockResponse(
        block=types_pb2.Block(header=full.block.header), certificate=full.certificate
    )
    header_only = api_pb2.GetBlockRequest(height=height, header_only=True)
    # From the blocks the service keeps in memory, then (once it forgets them) from the store,
    # without reading the block's transactions or results there.
    assert await chain.service.get_block(header_only) == expected
    chain.service.certificate_replaced(height)

    def body_read(height: int) -> None:
        raise AssertionError(f"the body of block {height} was read")

    monkeypatch.setattr(chain.store, "get_block", body_read)
    monkeypatch.setattr(chain.store, "get_results", body_read)
    assert await chain.service.get_block(header_only) == expected
    latest = await chain.service.get_block(api_pb2.GetBlockRequest(header_only=True))
    assert latest == expected
    with pytest.raises(NotFoundError, match="is not committed yet"):
        await chain.service.get_block(api_pb2.GetBlockRequest(height=height + 1, header_only=True))


async def test_a_refused_transaction_is_answered_with_its_reason(
    network: NetworkDescription, chain: Chain
) -> None:
    data = put(network, b"a")
    first = await chain.service.submit(api_pb2.SubmitRequest(encoded_transaction=data))
    again = await chain.service.submit(api_pb2.SubmitRequest(encoded_transaction=data))
    assert first.accepted and not again.accepted
    assert again.transaction_id == first.transaction_id
    assert again.rejection.reason == "duplicate"
    assert chain.rejected == ["duplicate"]
    garbage = await chain.service.submit(api_pb2.SubmitRequest(encoded_transaction=b"\xff"))
    assert (garbage.transaction_id, garbage.rejection.reason) == (b"", "malformed")


async def test_a_batch_is_bounded_at_the_limit_and_one_past(
    network: NetworkDescription, chain: Chain
) -> None:
    items = [put(network, b"%d" % index) for index in range(BATCH_MAX + 1)]
    answer = await chain.service.submit_batch(
        api_pb2.SubmitBatchRequest(encoded_transactions=items[:BATCH_MAX])
    )
    assert [r.accepted for r in answer.responses] == [True] * BATCH_MAX
    with pytest.raises(LimitExceededError) as refused:
        await chain.service.submit_batch(api_pb2.SubmitBatchRequest(encoded_transactions=items))
    assert refused.value.message == (
        f"batch of {BATCH_MAX + 1} transactions is above the limit of {BATCH_MAX}"
    )


async def test_closing_answers_waiting_clients_and_stopping_refuses_new_ones(
    network: NetworkDescription, chain: Chain
) -> None:
    waiting = asyncio.create_task(
        chain.service.submit(
            api_pb2.SubmitRequest(
                encoded_transaction=put(network, b"a"),
                wait_for_commit=True,
                wait_timeout_ms=60_000,
            )
        )
    )
    deadline = time.monotonic() + WAIT_S
    while not chain.service._waiters:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.005)
    chain.service.close()
    response = await asyncio.wait_for(waiting, WAIT_S)
    assert response.accepted and not response.committed
    assert chain.service._waiters == {}
    chain.stopping.set()
    with pytest.raises(NodeUnavailableError, match="the node is shutting down"):
        await chain.service.submit(api_pb2.SubmitRequest(encoded_transaction=put(network, b"b")))


async def test_a_call_still_in_admission_when_closing_does_not_wait_for_a_commit(
    network: NetworkDescription, chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM under load: a call whose admission was still running when the node began to stop
    is answered (accepted, not committed) once admission returns, rather than waiting for a
    commit that will not come until the server cuts it off."""
    entered = threading.Event()
    release = threading.Event()
    mempool = chain.service._mempool
    admit = mempool.admit

    def slow_admit(items: Any, now_ms: int) -> Any:
        entered.set()
        assert release.wait(WAIT_S)
        return admit(items, now_ms)

    monkeypatch.setattr(mempool, "admit", slow_admit)
    waiting = asyncio.create_task(
        chain.service.submit(
            api_pb2.SubmitRequest(
                encoded_transaction=put(network, b"late"),
                wait_for_commit=True,
                wait_timeout_ms=60_000,
            )
        )
    )
    assert await asyncio.to_thread(entered.wait, WAIT_S)
    chain.service.close()
    release.set()
    response = await asyncio.wait_for(waiting, WAIT_S)
    assert response.accepted and not response.committed
    assert chain.service._waiters == {}
