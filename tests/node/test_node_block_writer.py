"""The block writer writes each committed block once, in height order, and only then tells the
mempool, the peers, the client service and the metrics."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Iterator, Sequence

import pytest
from replica_support import Replica

from causeway.api.v1 import api_pb2
from causeway.consensus import Commit
from causeway.errors import InvariantError
from causeway.execution import LatestStateReader
from causeway.mempool import MempoolLimits, SharedMempool
from causeway.node import block_writer
from causeway.node.block_writer import BlockWriter
from causeway.node.metrics import NodeMetrics
from causeway.provisioning import build_network
from causeway.provisioning.description import NetworkDescription
from causeway.types.v1 import types_pb2

NOW_MS = 1_800_000_000_000


@pytest.fixture(scope="module")
def network() -> NetworkDescription:
    return build_network(1, "intl", "solo", now_ms=int(time.time() * 1000))


class Listener:
    def __init__(self) -> None:
        self.heights: list[int] = []

    def block_committed(
        self,
        height: int,
        event: api_pb2.BlockEvent,
        transaction_ids: Sequence[bytes],
        results: Sequence[types_pb2.TransactionResult],
    ) -> None:
        self.heights.append(height)


class Peers:
    def __init__(self) -> None:
        self.announced: list[tuple[int, bytes]] = []

    def announce_status(self, height: int, latest_hash: bytes) -> None:
        self.announced.append((height, latest_hash))


class Written:
    """A writer over one replica, with what it told its listeners."""

    def __init__(
        self,
        replica: Replica,
        chain_config: types_pb2.ChainConfig | None = None,
        *,
        count_missed_votes: bool = True,
    ) -> None:
        self.replica = replica
        self.listener = Listener()
        self.peers = Peers()
        self.metrics = NodeMetrics()
        self.config_changes = 0
        application = replica.application
        peers: object = self.peers

        def load_chain_config() -> types_pb2.ChainConfig:
            if chain_config is not None:
                return chain_config
            return application.executor.get_config(LatestStateReader(replica.store))

        self.writer = BlockWriter(
            store=replica.store,
            tree=application.tree,
            application=application,
            mempool=SharedMempool(
                MempoolLimits(transactions_max=10, bytes_max=1 << 20),
                committed=replica.store.has_transactions,
            ),
            metrics=self.metrics,
            load_chain_config=load_chain_config,
            on_chain_config_changed=self._config_changed,
            listener=self.listener,
            network=lambda: peers,  # type: ignore[arg-type, return-value]
            count_missed_votes=count_missed_votes,
        )

    def _config_changed(self) -> None:
        self.config_changes += 1

    def next_block(self) -> tuple[types_pb2.Block, types_pb2.CommitCertificate]:
        height = self.replica.store.latest_height() + 1
        block = self.replica.application.build_block(height, 0, NOW_MS + height, "org1/node1")
        block_hash = self.replica.application.block_hash(block)
        return block, types_pb2.CommitCertificate(height=height, block_hash=block_hash)

    def phase_count(self, phase: str) -> float | None:
        return self.metrics.registry.get_sample_value(
            "causeway_block_seconds_count", {"phase": phase}
        )


@pytest.fixture
def written(replicas: tuple[Replica, Replica]) -> Iterator[Written]:
    written = Written(replicas[0])
    yield written
    written.writer.close()


WAIT_S = 30.0


async def test_a_write_does_not_queue_behind_the_event_loop_default_executor(
    written: Written,
) -> None:
    # Admissions wait on the verification workers in the default executor; with every one of
    # its threads taken, a write that shared it waited for them, and the execution lane with it.
    loop = asyncio.get_running_loop()
    taken = concurrent.futures.ThreadPoolExecutor(1)
    loop.set_default_executor(taken)
    released = threading.Event()
    busy = loop.run_in_executor(None, released.wait, WAIT_S)
    try:
        block, certificate = written.next_block()
        await asyncio.wait_for(written.writer.write(block, certificate), WAIT_S)
        assert not busy.done()
        assert written.replica.store.latest_height() == 1
        assert written.listener.heights == [1]
    finally:
        released.set()
        await busy


async def test_close_waits_for_the_write_in_its_thread_and_a_later_write_starts_it_again(
    written: Written,
) -> None:
    first, first_certificate = written.next_block()
    await written.writer.write(first, first_certificate)
    written.writer.close()
    written.writer.close()  # closing twice is harmless
    second, second_certificate = written.next_block()
    await written.writer.write(second, second_certificate)
    assert written.replica.store.latest_height() == 2
    assert written.listener.heights == [1, 2]


async def test_a_block_is_written_then_announced_answered_and_counted(written: Written) -> None:
    block, certificate = written.next_block()
    await written.writer.write(block, certificate)
    assert written.replica.store.latest_height() == 1
    assert written.replica.store.get_block_hash(1) == certificate.block_hash
    assert written.peers.announced == [(1, certificate.block_hash)]
    assert written.listener.heights == [1]
    assert written.metrics.registry.get_sample_value("causeway_height") == 1
    assert written.phase_count("commit") == 1
    assert written.config_changes == 0  # genesis configuration unchanged by an empty block


async def test_a_block_already_written_is_ignored(written: Written) -> None:
    block, certificate = written.next_block()
    # Consensus and block sync may bring the same block at the same time.
    await asyncio.gather(
        written.writer.write(block, certificate), written.writer.write(block, certificate)
    )
    await written.writer.write(block, certificate)
    assert written.replica.store.latest_height() == 1
    assert written.listener.heights == [1]
    assert written.peers.announced == [(1, certificate.block_hash)]


async def test_a_height_that_skips_one_is_refused(written: Written) -> None:
    first, first_certificate = written.next_block()
    await written.writer.write(first, first_certificate)
    second, certificate = written.next_block()
    skipping = types_pb2.Block()
    skipping.CopyFrom(second)
    skipping.header.height = 3
    with pytest.raises(InvariantError) as refused:
        await written.writer.write(skipping, certificate)
    assert refused.value.message == "asked to write block 3 after 1"
    assert written.replica.store.latest_height() == 1
    assert written.listener.heights == [1]
    await written.writer.write(second, certificate)  # the next height is still written
    assert written.listener.heights == [1, 2]


async def test_a_block_that_does_not_execute_to_its_header_is_refused(written: Written) -> None:
    block, certificate = written.next_block()
    block.header.state_root = bytes(32)
    with pytest.raises(InvariantError) as refused:
        await written.writer.write(block, certificate)
    assert refused.value.message == (
        "block 1 was committed by the validators but does not execute to its header here"
    )
    assert written.replica.store.latest_height() == 0
    assert written.listener.heights == []
    assert written.peers.announced == []


async def test_a_consensus_commit_hands_its_certificate_on_after_the_write(
    written: Written,
) -> None:
    handed: list[tuple[int, int]] = []
    written.writer.on_consensus_certificate = lambda certificate: handed.append(
        (certificate.height, written.replica.store.latest_height())
    )
    block, certificate = written.next_block()
    await written.writer.write_commit(Commit(height=1, block=block, certificate=certificate))
    assert handed == [(1, 1)]


@pytest.mark.parametrize(("history_heights", "pruned"), [(1, None), (0, 1)])
async def test_state_history_is_pruned_beyond_the_retained_heights(
    replicas: tuple[Replica, Replica],
    monkeypatch: pytest.MonkeyPatch,
    history_heights: int,
    pruned: float | None,
) -> None:
    """Every PRUNE_EVERY_BLOCKS blocks, once the height passes the retained window."""
    monkeypatch.setattr(block_writer, "PRUNE_EVERY_BLOCKS", 1)
    written = Written(replicas[0], types_pb2.ChainConfig(state_history_heights=history_heights))
    block, certificate = written.next_block()
    await written.writer.write(block, certificate)
    assert written.phase_count("prune") == pruned


def _missed(metrics: NodeMetrics, validator: str) -> float | None:
    return metrics.registry.get_sample_value(
        "causeway_consensus_missed_votes_total", {"validator": validator}
    )


async def test_the_proposer_and_the_validators_missing_from_a_certificate_are_counted(
    written: Written,
) -> None:
    block, certificate = written.next_block()
    await written.writer.write(block, certificate)  # no signature: org1/node1 missed it
    signed, certificate = written.next_block()
    certificate.round = 2
    certificate.signatures.add(validator="org1/node1", signature=b"s")
    await written.writer.write(signed, certificate)
    metrics = written.metrics
    assert _missed(metrics, "org1/node1") == 1
    assert (
        metrics.registry.get_sample_value(
            "causeway_consensus_blocks_proposed_total", {"proposer": "org1/node1"}
        )
        == 2
    )
    assert metrics.registry.get_sample_value("causeway_consensus_commit_round") == 2
    assert metrics.registry.get_sample_value("causeway_storage_commit_seconds_count") == 2


async def test_missed_votes_are_not_counted_where_certificates_complete_later(
    replicas: tuple[Replica, Replica],
) -> None:
    written = Written(replicas[0], count_missed_votes=False)  # raft
    block, certificate = written.next_block()
    await written.writer.write(block, certificate)
    assert _missed(written.metrics, "org1/node1") is None
