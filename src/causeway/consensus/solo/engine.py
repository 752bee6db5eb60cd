"""The solo engine: decides when the single validator cuts the next block.

Pure: time comes in as a value, nothing is read from the clock, the disk or the network. A block
is cut when transactions are waiting and either the block interval has passed since the previous
block was started or enough transactions wait to fill a block, so load fills blocks and idleness
makes none. The interval counts from the start of the previous block, not its commit: under load a
block takes longer than the interval to build, and the next one should start at once rather than
leave the node idle for another interval.
"""

from __future__ import annotations

from causeway.consensus.actions import Action, ProposeBlock
from causeway.errors import InvariantError


class SoloEngine:
    def __init__(
        self,
        node_id: str,
        last_height: int,
        block_interval_ms: int,
        block_transactions_max: int,
    ) -> None:
        if block_interval_ms <= 0 or block_transactions_max <= 0:
            raise InvariantError("block interval and block size must be positive")
        self.node_id = node_id
        self.last_height = last_height
        self.block_interval_ms = block_interval_ms
        self.block_transactions_max = block_transactions_max
        self._last_block_time_ms: int | None = None
        self._proposing: int | None = None

    def tick(self, now_ms: int, pending_transactions: int) -> list[Action]:
        if self._proposing is not None or pending_transactions <= 0:
            return []
        if self._last_block_time_ms is None:
            self._last_block_time_ms = now_ms - self.block_interval_ms
        interval_passed = now_ms - self._last_block_time_ms >= self.block_interval_ms
        block_full = pending_transactions >= self.block_transactions_max
        if not (interval_passed or block_full):
            return []
        self._proposing = self.last_height + 1
        self._last_block_time_ms = now_ms
        return [ProposeBlock(self._proposing)]

    def block_committed(self, height: int) -> None:
        if height != self.last_height + 1:
            raise InvariantError(f"committed height {height} after {self.last_height}")
        self.last_height = height
        self._proposing = None

    def proposal_abandoned(self) -> None:
        """The runtime could not build the proposed block (nothing valid to include)."""
        self._proposing = None
        self._last_block_time_ms = None
