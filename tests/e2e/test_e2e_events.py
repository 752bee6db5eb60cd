"""Following contract events with a file checkpoint across consumer stops and node restarts.

The union of what the consumers saw must be exactly the events the chain committed, in order:
no gap, no duplicate, whatever was stopped, killed or restarted in between.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from node_harness import NodeFactory, NodeProcess

from causeway.contracts.v1 import contracts_pb2
from causeway.sdk import Client, FileCheckpoint, MemoryCheckpoint
from causeway.sdk.checkpoint import EventPosition
from causeway.types.v1 import types_pb2

pytestmark = pytest.mark.e2e

CLIENT = "org1/client"
ADMIN = "org1/admin"
RECIPIENT = "org2/client"
FOLLOW_TIMEOUT_S = 45.0
RECONNECT_DELAY_MAX_S = 0.5

EventKey = tuple[int, int, int, bytes, bytes]


def _key(record: types_pb2.EventRecord) -> EventKey:
    return (
        record.height,
        record.transaction_index,
        record.event_index,
        record.transaction_id,
        record.event.SerializeToString(deterministic=True),
    )


def _position(record: types_pb2.EventRecord) -> EventPosition:
    return EventPosition(record.height, record.transaction_index, record.event_index)


def _commit_some(node: NodeProcess, tag: str, puts: int, transfers: int) -> None:
    """Commits kv puts and ledger transfers (one event each) in one waiting batch."""
    with node.connect(CLIENT) as client:
        batch = [
            client.transaction(
                "kv",
                "put",
                contracts_pb2.KvPutArguments(key=f"{tag}/{n}".encode(), value=tag.encode()),
            )
            for n in range(puts)
        ]
        batch += [
            client.transaction(
                "ledger", "transfer", contracts_pb2.LedgerTransferArguments(to=RECIPIENT, amount=1)
            )
            for _ in range(transfers)
        ]
        for result in client.submit_batch(batch, wait=True, timeout_s=20):
            assert result.succeeded, result


def _committed_events(node: NodeProcess, contract: str = "") -> list[EventKey]:
    """Every event of every committed block, from the blocks themselves."""
    events: list[EventKey] = []
    with node.connect() as reader:
        latest = reader.status().height
        for height in range(1, latest + 1):
            for index, result in enumerate(reader.get_block(height).results):
                for event_index, event in enumerate(result.events):
                    if contract and event.contract != contract:
                        continue
                    record = types_pb2.EventRecord(
                        height=height,
                        transaction_index=index,
                        event_index=event_index,
                        transaction_id=result.transaction_id,
                        event=event,
                    )
                    events.append(_key(record))
    return events


@contextlib.contextmanager
def _watchdog(client: Client, timeout_s: float) -> Iterator[None]:
    """Closes the client (which ends its follows) if the block takes longer than timeout_s."""
    timer = threading.Timer(timeout_s, client.close)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _follow(
    client: Client, records: Generator[types_pb2.EventRecord, None, None], count: int
) -> list[types_pb2.EventRecord]:
    """Takes ``count`` records from a follow, or what came before the watchdog ended it."""
    seen: list[types_pb2.EventRecord] = []
    with _watchdog(client, FOLLOW_TIMEOUT_S), contextlib.closing(records):
        for record in records:
            seen.append(record)
            if len(seen) >= count:
                break
    return seen


class Consumer(threading.Thread):
    """A consumer that keeps following (through node restarts) until closed."""

    def __init__(self, address: str, checkpoint: FileCheckpoint) -> None:
        super().__init__(name="event-consumer", daemon=True)
        self.client = Client(address, timeout_s=10, reconnect_delay_max_s=RECONNECT_DELAY_MAX_S)
        self.checkpoint = checkpoint
        self.seen: list[types_pb2.EventRecord] = []
        self.changed = threading.Condition()
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            for record in self.client.follow_events(self.checkpoint):
                with self.changed:
                    self.seen.append(record)
                    self.changed.notify_all()
        except BaseException as error:
            self.failure = error
        finally:
            with self.changed:
                self.changed.notify_all()

    def wait_for(self, count: int, timeout_s: float = FOLLOW_TIMEOUT_S) -> bool:
        with self.changed:
            return (
                self.changed.wait_for(
                    lambda: len(self.seen) >= count or not self.is_alive(), timeout_s
                )
                and len(self.seen) >= count
            )

    def stop(self) -> None:
        self.client.close()
        self.join(30)
        assert not self.is_alive(), "the consumer did not stop"


def test_event_follow_resumes_from_its_checkpoint(make_node: NodeFactory, tmp_path: Path) -> None:
    node = make_node("intl")
    checkpoint_path = tmp_path / "consumer.checkpoint"

    with node.connect(ADMIN) as admin:
        issued = admin.invoke(
            "ledger", "issue", contracts_pb2.LedgerIssueArguments(account=CLIENT, amount=1000)
        )
        assert issued.succeeded, issued
    _commit_some(node, "a", puts=6, transfers=3)
    _commit_some(node, "b", puts=4, transfers=2)
    phase_one = _committed_events(node)
    assert len(phase_one) == 16

    # The first consumer stops part way through (inside a block of several transactions).
    stop_after = 9
    with Client(node.grpc_address, timeout_s=10) as client:
        first = _follow(client, client.follow_events(FileCheckpoint(checkpoint_path)), stop_after)
    assert [_key(record) for record in first] == phase_one[:stop_after]
    assert FileCheckpoint(checkpoint_path).load() == _position(first[-1])

    # The node restarts while nobody follows, and more events are committed meanwhile.
    assert node.stop() == 0, node.log_tail()
    node.start()
    _commit_some(node, "c", puts=3, transfers=1)

    # A second consumer resumes from the checkpoint and keeps following through a crash.
    consumer = Consumer(node.grpc_address, FileCheckpoint(checkpoint_path))
    consumer.start()
    try:
        assert consumer.wait_for(len(phase_one) + 4 - stop_after), (
            f"the resumed consumer saw {len(consumer.seen)} events: {consumer.failure!r}"
        )
        node.kill()
        node.start()
        _commit_some(node, "d", puts=2, transfers=2)
        expected = _committed_events(node)
        assert len(expected) == len(phase_one) + 4 + 4
        assert consumer.wait_for(len(expected) - stop_after), (
            f"the resumed consumer saw {len(consumer.seen)} events: {consumer.failure!r}"
        )
    finally:
        consumer.stop()
    assert consumer.failure is None, repr(consumer.failure)

    union = [_key(record) for record in first + consumer.seen]
    assert len(set(union)) == len(union), "an event was delivered twice"
    assert union == expected, "the consumers missed or reordered events"
    assert FileCheckpoint(checkpoint_path).load() == _position(consumer.seen[-1])

    # A filtered follow from the start sees exactly the ledger's events.
    ledger_events = _committed_events(node, "ledger")
    assert len(ledger_events) == 1 + 3 + 2 + 1 + 2
    with Client(node.grpc_address, timeout_s=10) as client:
        ledger = _follow(
            client, client.follow_events(MemoryCheckpoint(), "ledger"), len(ledger_events)
        )
    assert [_key(record) for record in ledger] == ledger_events
    assert node.stop() == 0, node.log_tail()
