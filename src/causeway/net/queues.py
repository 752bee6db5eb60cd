"""A peer's send queue: bounded, with a back-pressure policy per kind of message.

* consensus messages: when full, the OLDEST waiting message is dropped. Consensus moves on
  (heights, rounds), so the newest messages are the ones worth sending; the cores recover lost
  ones through their timeouts.
* transaction batches: when full, the NEWEST batch is dropped. Those waiting were accepted first
  and are no less useful; the dropped transactions stay in our mempool and reach the peer in a
  block anyway.
* status: one slot, the latest replaces the previous.

Consensus goes first, then status, then transactions, so that a flood of transactions never
delays a vote.
"""

from __future__ import annotations

import asyncio
from collections import deque


class PeerSendQueue:
    """Envelopes (already encoded) waiting to be written to one peer."""

    def __init__(self, consensus_max: int, transaction_batches_max: int) -> None:
        self._consensus: deque[bytes] = deque()
        self._transactions: deque[bytes] = deque()
        self._status: bytes | None = None
        self._consensus_max = consensus_max
        self._transaction_batches_max = transaction_batches_max
        self._ready = asyncio.Event()

    def put_consensus(self, envelope: bytes) -> bool:
        """Queues a consensus envelope; False when the oldest one had to be dropped for it."""
        dropped = False
        if len(self._consensus) >= self._consensus_max:
            self._consensus.popleft()
            dropped = True
        self._consensus.append(envelope)
        self._ready.set()
        return not dropped

    def put_transactions(self, envelope: bytes) -> bool:
        """Queues a transaction batch; False (and nothing queued) when the queue is full."""
        if len(self._transactions) >= self._transaction_batches_max:
            return False
        self._transactions.append(envelope)
        self._ready.set()
        return True

    def put_status(self, envelope: bytes) -> None:
        self._status = envelope
        self._ready.set()

    def take(self) -> bytes | None:
        """The next envelope to send, by priority; None when nothing waits."""
        if self._consensus:
            return self._consensus.popleft()
        if self._status is not None:
            status, self._status = self._status, None
            return status
        if self._transactions:
            return self._transactions.popleft()
        return None

    async def get(self) -> bytes:
        """Waits for the next envelope to send."""
        while True:
            envelope = self.take()
            if envelope is not None:
                return envelope
            self._ready.clear()
            await self._ready.wait()

    def __len__(self) -> int:
        return len(self._consensus) + len(self._transactions) + (0 if self._status is None else 1)
