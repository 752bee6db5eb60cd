"""Admission of the transactions peers gossip, beside the stream that brought them when asked."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Sequence

from causeway.errors import (
    DuplicateError,
    LimitExceededError,
    NotCanonicalError,
    RequestError,
)
from causeway.net import NetworkStatistics
from causeway.net import statistics as counters

log = logging.getLogger("causeway.node")

# Batches of peers' transactions admitted at once beside the peers' streams, and those admitted
# or waiting to be; see PeerAdmission.
PEER_ADMISSIONS_IN_FLIGHT_MAX = 4
PEER_ADMISSIONS_QUEUED_MAX = 64

# The mempool's admission: a batch of canonical transaction bytes and the time, in input order
# each entry's DecodedTransaction or the RequestError that refused it.
Admit = Callable[[Sequence[bytes], int], Sequence[object]]


def refusal_counter(error: RequestError) -> str:
    """The peer statistics counter of a gossiped entry refused for ``error``."""
    if isinstance(error, NotCanonicalError):
        return counters.REFUSED_TRANSACTIONS_NOT_CANONICAL
    if isinstance(error, LimitExceededError):
        return counters.REFUSED_TRANSACTIONS_TOO_LARGE
    if isinstance(error, DuplicateError):
        return counters.REFUSED_TRANSACTIONS_DUPLICATE
    if error.reason == "malformed":
        return counters.REFUSED_TRANSACTIONS_MALFORMED
    return counters.REFUSED_TRANSACTIONS_OTHER


class PeerAdmission:
    """The handler of a peer's gossiped transactions: admits them in a worker thread.

    Each entry is the canonical bytes of one transaction, as the peer kept them since it admitted
    it: the mempool's admission decodes it once from those bytes (the re-encode check is the only
    encode) and verifies only signatures not in the VerifiedTransactionCache. Each entry is judged
    on its own; what became of it is counted, under the sender, in ``statistics``
    (``admitted_transactions`` or a ``refused_transactions_*`` counter, docs/peer-protocol.md).

    beside_stream (raft): a peer's consensus messages come on the same stream as its
    transactions, after them. Admitting each batch before reading on held the leader's
    heartbeats back for seconds behind the signature checks of the gossip, and the followers
    started elections (measured on a 3-node devnet under load). So batches are admitted beside
    the stream, PEER_ADMISSIONS_IN_FLIGHT_MAX at once; only beyond PEER_ADMISSIONS_QUEUED_MAX
    waiting does the stream wait, as before. Otherwise each batch is admitted before the
    stream reads on.
    """

    def __init__(
        self,
        admit: Admit,
        stopping: asyncio.Event,
        *,
        beside_stream: bool,
        statistics: NetworkStatistics | None = None,
    ) -> None:
        self._admit = admit
        self._stopping = stopping
        self._beside_stream = beside_stream
        self.statistics = statistics if statistics is not None else NetworkStatistics()
        self._in_flight = asyncio.Semaphore(PEER_ADMISSIONS_IN_FLIGHT_MAX)
        self._done = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.queued = 0

    async def __call__(self, sender: str, encoded_transactions: list[bytes]) -> None:
        if self._stopping.is_set():
            return
        if not self._beside_stream:
            await self._admit_counted(sender, encoded_transactions)
            return
        while self.queued >= PEER_ADMISSIONS_QUEUED_MAX:
            self._done.clear()
            await self._done.wait()
        self.queued += 1
        task = asyncio.create_task(self._admit_beside(sender, encoded_transactions))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _admit_counted(self, sender: str, encoded_transactions: list[bytes]) -> None:
        outcomes = await asyncio.to_thread(self._admit, encoded_transactions, _now_ms())
        # Counted here, on the event loop, which alone updates the statistics.
        counted = collections.Counter(
            refusal_counter(outcome)
            if isinstance(outcome, RequestError)
            else counters.ADMITTED_TRANSACTIONS
            for outcome in outcomes
        )
        for name, amount in counted.items():
            self.statistics.increment(name, sender, amount)

    async def _admit_beside(self, sender: str, encoded_transactions: list[bytes]) -> None:
        try:
            async with self._in_flight:
                if not self._stopping.is_set():
                    await self._admit_counted(sender, encoded_transactions)
        except Exception:
            if not self._stopping.is_set():
                log.exception("admitting a peer's transactions failed")
        finally:
            self.queued -= 1
            self._done.set()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
