"""Admission of the transactions peers gossip, beside the stream that brought them when asked."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from causeway.types.v1 import types_pb2

log = logging.getLogger("causeway.node")

# Batches of peers' transactions admitted at once beside the peers' streams, and those admitted
# or waiting to be; see PeerAdmission.
PEER_ADMISSIONS_IN_FLIGHT_MAX = 4
PEER_ADMISSIONS_QUEUED_MAX = 64

Admit = Callable[[Sequence[types_pb2.Transaction], int], object]


class PeerAdmission:
    """The handler of a peer's gossiped transactions: admits them in a worker thread.

    beside_stream (raft): a peer's consensus messages come on the same stream as its
    transactions, after them. Admitting each batch before reading on held the leader's
    heartbeats back for seconds behind the signature checks of the gossip, and the followers
    started elections (measured on a 3-node devnet under load). So batches are admitted beside
    the stream, PEER_ADMISSIONS_IN_FLIGHT_MAX at once; only beyond PEER_ADMISSIONS_QUEUED_MAX
    waiting does the stream wait, as before. Otherwise each batch is admitted before the
    stream reads on.
    """

    def __init__(self, admit: Admit, stopping: asyncio.Event, *, beside_stream: bool) -> None:
        self._admit = admit
        self._stopping = stopping
        self._beside_stream = beside_stream
        self._in_flight = asyncio.Semaphore(PEER_ADMISSIONS_IN_FLIGHT_MAX)
        self._done = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.queued = 0

    async def __call__(self, sender: str, transactions: list[types_pb2.Transaction]) -> None:
        del sender
        if self._stopping.is_set():
            return
        if not self._beside_stream:
            await asyncio.to_thread(self._admit, transactions, _now_ms())
            return
        while self.queued >= PEER_ADMISSIONS_QUEUED_MAX:
            self._done.clear()
            await self._done.wait()
        self.queued += 1
        task = asyncio.create_task(self._admit_beside(transactions))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _admit_beside(self, transactions: list[types_pb2.Transaction]) -> None:
        try:
            async with self._in_flight:
                if not self._stopping.is_set():
                    await asyncio.to_thread(self._admit, transactions, _now_ms())
        except Exception:
            if not self._stopping.is_set():
                log.exception("admitting a peer's transactions failed")
        finally:
            self.queued -= 1
            self._done.set()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
