"""The driver's pipelined writes: a committed block the application took as its tip is written in
the background, in height order, while the lane builds the next block; at most
WRITES_IN_FLIGHT_MAX writes wait; a failed write stops the driver; without the pipeline (or for a
block the application cannot take) the next build waits for the write."""

from __future__ import annotations

import asyncio
import hashlib
import random

import pytest
from waiting import wait_until_async

from causeway.consensus import Commit, Output
from causeway.consensus.engines import EngineContext, SoloKind
from causeway.errors import InvariantError
from causeway.node.consensus_driver import WRITES_IN_FLIGHT_MAX, ConsensusDriver
from causeway.types import encode
from causeway.types.v1 import types_pb2

CHAIN_ID = "pipeline-test-chain"
WAIT_S = 5.0


class Signer:
    validator_id = "a"

    def sign(self, document: bytes) -> bytes:
        return hashlib.sha256(document).digest()


class Verifier:
    def verify(self, validator_id: str, document: bytes, signature: bytes) -> bool:
        return True


class Store:
    """The driver's store: heights written, and the records it persists (none for solo)."""

    def __init__(self) -> None:
        self.height = 0

    def put_meta_records(self, records: object) -> None:
        pass

    def latest_height(self) -> int:
        return self.height


class Application:
    """Builds one-transaction blocks, recording for each the height written at that moment."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.built: list[tuple[int, int]] = []  # (height built, height written then)

    def build_block(
        self, height: int, round_number: int, time_ms: int, proposer: str
    ) -> types_pb2.Block:
        self.built.append((height, self.store.height))
        header = types_pb2.BlockHeader(version=1, chain_id=CHAIN_ID, height=height, time_ms=time_ms)
        block = types_pb2.Block(header=header)
        block.transactions.append(types_pb2.Transaction(body=b"t%d" % height))
        return block

    def validate_block(self, block: types_pb2.Block) -> bool:
        return True

    def validate_committed_block(self, block: types_pb2.Block) -> bool:
        return True

    def block_hash(self, block: types_pb2.Block) -> bytes:
        return hashlib.sha256(encode(block.header)).digest()


class SlowWriter:
    """apply_commit: each write waits until released; checks heights come in order."""

    def __init__(self, store: Store, *, fail_at: int | None = None) -> None:
        self.store = store
        self.fail_at = fail_at
        self.release = asyncio.Event()
        self.writing: list[int] = []  # heights whose write started and has not finished
        self.most_in_flight = 0

    async def __call__(self, commit: Commit) -> None:
        assert commit.height == self.store.height + 1, "written out of order"
        self.writing.append(commit.height)
        self.most_in_flight = max(self.most_in_flight, len(self.writing))
        await self.release.wait()
        if commit.height == self.fail_at:
            raise InvariantError(f"write of block {commit.height} failed")
        self.store.height = commit.height
        self.writing.remove(commit.height)


def solo_driver(
    writer: SlowWriter, application: Application, *, pipelined: bool, waiting: int = 1
) -> tuple[ConsensusDriver, list[int]]:
    store = writer.store
    engine = SoloKind(block_interval_ms=1).create(
        EngineContext(
            chain_id=CHAIN_ID,
            validator_id="a",
            validators=[("a", 1)],
            signer=Signer(),
            verifier=Verifier(),
            hasher=application,
            random=random.Random(1),
            last_committed_height=0,
        )
    )
    taken: list[int] = []

    def pipeline_commit(block: types_pb2.Block) -> bool:
        taken.append(block.header.height)
        return True

    driver = ConsensusDriver(
        engine=engine,
        store=store,  # type: ignore[arg-type]
        transport=None,  # type: ignore[arg-type]
        application=application,
        apply_commit=writer,
        transactions_waiting=lambda: waiting,
        on_evidence=lambda evidence: None,
        pipeline_commit=pipeline_commit if pipelined else None,
    )
    return driver, taken


async def run_until_written(driver: ConsensusDriver, store: Store, height: int) -> None:
    """Runs the driver until block `height` is written, then stops it."""
    stopping = asyncio.Event()
    task = asyncio.create_task(driver.run(stopping))
    try:
        await wait_until_async(lambda: store.height >= height, timeout_s=WAIT_S)
    finally:
        stopping.set()
        await asyncio.wait_for(task, WAIT_S)


async def test_the_next_block_is_built_while_the_previous_one_is_written() -> None:
    store = Store()
    writer = SlowWriter(store)
    application = Application(store)
    driver, taken = solo_driver(writer, application, pipelined=True)
    stopping = asyncio.Event()
    task = asyncio.create_task(driver.run(stopping))
    try:
        # Nothing is written yet, and blocks 1..WRITES_IN_FLIGHT_MAX + 1 are built meanwhile.
        await wait_until_async(
            lambda: len(application.built) >= WRITES_IN_FLIGHT_MAX + 1, timeout_s=WAIT_S
        )
        assert store.height == 0
        assert application.built[: WRITES_IN_FLIGHT_MAX + 1] == [
            (height, 0) for height in range(1, WRITES_IN_FLIGHT_MAX + 2)
        ]
        # The lane stops at the bound: no more builds until a write finishes.
        await asyncio.sleep(0.1)
        assert len(application.built) == WRITES_IN_FLIGHT_MAX + 1
        assert taken == list(range(1, WRITES_IN_FLIGHT_MAX + 1))
        writer.release.set()
        await wait_until_async(lambda: store.height >= 6, timeout_s=WAIT_S)
    finally:
        stopping.set()
        await asyncio.wait_for(task, WAIT_S)
    assert writer.most_in_flight <= WRITES_IN_FLIGHT_MAX
    # Stopped: every block the engine committed is written (none left half way).
    assert writer.writing == []


async def test_without_the_pipeline_each_build_waits_for_the_write() -> None:
    store = Store()
    writer = SlowWriter(store)
    writer.release.set()
    application = Application(store)
    driver, _ = solo_driver(writer, application, pipelined=False)
    await run_until_written(driver, store, 4)
    assert all(written == height - 1 for height, written in application.built)


async def test_a_failed_background_write_stops_the_driver() -> None:
    store = Store()
    writer = SlowWriter(store, fail_at=2)
    writer.release.set()
    application = Application(store)
    driver, _ = solo_driver(writer, application, pipelined=True)
    with pytest.raises(InvariantError, match="write of block 2 failed"):
        await asyncio.wait_for(driver.run(asyncio.Event()), WAIT_S)
    assert store.height == 1


async def test_the_core_is_told_how_many_transactions_wait() -> None:
    store = Store()
    writer = SlowWriter(store)
    writer.release.set()
    application = Application(store)
    driver, _ = solo_driver(writer, application, pipelined=True, waiting=7)
    counts: list[int | None] = []
    propose = driver.core.propose

    def counting_propose(now_ms: int, transactions_waiting: int | None = None) -> Output:
        counts.append(transactions_waiting)
        return propose(now_ms, transactions_waiting)

    driver.core.propose = counting_propose  # type: ignore[method-assign]
    await run_until_written(driver, store, 2)
    assert counts
    assert set(counts) == {7}
