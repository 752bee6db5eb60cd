"""Peers' batches of transactions are admitted beside their streams, up to a bound (routing
a node's own clients' transactions is in test_node_transaction_routing.py)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

from causeway.node.peer_admission import PEER_ADMISSIONS_QUEUED_MAX, PeerAdmission

WAIT_S = 5.0


async def test_peers_batches_are_admitted_beside_the_stream_up_to_a_bound() -> None:
    release = threading.Event()
    admitted: list[int] = []

    def slow_admit(items: Sequence[bytes], now_ms: int) -> list[object]:
        assert release.wait(WAIT_S)
        admitted.append(len(items))
        return []

    admission = PeerAdmission(slow_admit, asyncio.Event(), beside_stream=True)
    batch = [b"x"]
    # Each call returns at once (the stream reads on) while the admissions wait...
    for _ in range(PEER_ADMISSIONS_QUEUED_MAX):
        await asyncio.wait_for(admission("org2/node2", batch), 1.0)
    # ...up to the bound, where the stream waits for one to finish.
    blocked = asyncio.create_task(admission("org2/node2", batch))
    await asyncio.sleep(0.05)
    assert not blocked.done()
    release.set()
    await asyncio.wait_for(blocked, WAIT_S)
    deadline = time.monotonic() + WAIT_S
    while len(admitted) < PEER_ADMISSIONS_QUEUED_MAX + 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    assert admission.queued == 0


async def test_without_beside_stream_a_batch_is_admitted_before_the_stream_reads_on() -> None:
    admitted: list[int] = []

    def admit(items: Sequence[bytes], now_ms: int) -> list[object]:
        admitted.append(len(items))
        return []

    admission = PeerAdmission(admit, asyncio.Event(), beside_stream=False)
    await admission("org2/node2", [b"x"] * 3)
    assert admitted == [3]
    assert admission.queued == 0
    stopping = asyncio.Event()
    stopping.set()
    stopped = PeerAdmission(admit, stopping, beside_stream=True)
    await stopped("org2/node2", [b"x"])
    assert admitted == [3]  # nothing admitted while the node stops
