"""The solo core: one validator orders, signs and commits every block (ConsensusCore).

Pure: time comes in as a value, nothing is read from the clock, the disk or the network. When
transactions wait (``propose``) and the block interval has passed since the previous block was
started, it asks for the next block (``Output.build``); the block built comes back
(``block_built``) and is committed at once with the validator's signature over its CommitVote.
The interval counts from the start of the previous block, not its commit: under load a block
takes longer than the interval to build, and the next one should start at once rather than leave
the node idle for another interval. A block with no transaction (nothing valid was left to
include) is dropped, and the next one may start at once.

The interval keeps blocks from shrinking under load; it should not hold back a load that has just
arrived. When a chain that was idle gets a burst, its first block starts at the first transaction
and carries only that moment's few; held back by the interval, the next one would then take all
that admission let in meanwhile, which without a block to build runs about twice as fast as
under steady load, and it would take twice as long to build: measured on the 2-core machine,
the first transactions of each 100,000-transfer run waited 0.3 s for the interval and 0.6 s for
that block, and were the run's p99. So the core remembers how many transactions a block
carries under load (a running average of the blocks started within two intervals of the one
before), and after a block that carried less than half of that (the first of a burst, or an
idle heartbeat) it starts the next one as soon as that many wait (``propose``'s
``transactions_waiting``), without waiting out the interval. Under steady load every block
carries about the average, so the interval alone sets the pace.

With ``idle_block_interval_ms`` set, a core that has committed no block for that long (counted
from its last commit, or from its start) asks for one at its next ``tick`` even with no
transaction waiting: an idle heartbeat, committed even when it comes back empty. Without it an
idle solo chain would make no block at all, and another chain's light client of it could never
be refreshed: it would expire after its trusting period though the chain is alive. The
heartbeat keeps the pace above (it never starts sooner than ``block_interval_ms`` after the
previous block) and is not asked for while a block is being built.
"""

from __future__ import annotations

from causeway.consensus.core import BlockHasher, BuildBlock, Commit, Output, Signer
from causeway.consensus.v1 import consensus_pb2
from causeway.errors import ConfigurationError
from causeway.types import DOMAIN_COMMIT, encode, sign_bytes
from causeway.types.v1 import types_pb2

# Under load, a block starts at most this often (the default of a node's [consensus]
# block_interval_ms). The node executes the next block while the previous one is written, so
# without this pace blocks shrink to what arrives during one build and per-block costs (the
# state tree's upper levels, the pages a commit rewrites) dominate: measured on the 2-core
# machine, 5.1 KB written per transaction at 100 ms against 2.0 KB at 300 ms, and fewer
# transactions a second. A transaction that finds no block started in the last interval goes
# into one at once.
BLOCK_INTERVAL_MS_DEFAULT = 300
# Weight of the newest block in the running average of what a block carries under load.
_LOADED_WEIGHT = 0.3
# Blocks started within this many intervals of the one before are counted as under load.
_LOADED_GAP_INTERVALS = 2


class SoloCore:
    def __init__(
        self,
        chain_id: str,
        signer: Signer,
        hasher: BlockHasher,
        last_committed_height: int,
        block_interval_ms: int,
        *,
        idle_block_interval_ms: int | None = None,
    ) -> None:
        """idle_block_interval_ms: with nothing to order, a block (an idle heartbeat) is still
        committed this often; None: never a block without transactions."""
        if block_interval_ms <= 0:
            raise ConfigurationError(
                f"solo block_interval_ms must be positive, not {block_interval_ms}"
            )
        if idle_block_interval_ms is not None and idle_block_interval_ms <= 0:
            raise ConfigurationError(
                f"solo idle_block_interval_ms must be positive, not {idle_block_interval_ms}"
            )
        if last_committed_height < 0:
            raise ConfigurationError("last_committed_height must not be negative")
        self.chain_id = chain_id
        self.node_id = signer.validator_id
        self.block_interval_ms = block_interval_ms
        self.idle_block_interval_ms = idle_block_interval_ms
        self._signer = signer
        self._hasher = hasher
        self.committed_height = last_committed_height
        self._last_block_started_ms: int | None = None
        # When the block before the one being built (or the last built) was started: whether
        # that one was started under load.
        self._previous_block_started_ms: int | None = None
        self._building: int | None = None
        # What a block carries under load (a running average; None until one was built), and
        # what the last block built carried: see the module docstring.
        self.loaded_block_transactions: float | None = None
        self._last_block_transactions = 0
        # When the last block was committed (or the core started, or first ticked): the idle
        # heartbeat counts from it. Not a block dropped empty: transactions that all turn out
        # invalid must not keep an idle chain from showing it is alive.
        self._last_block_committed_ms: int | None = None
        # Whether the block being built is an idle heartbeat (committed even when empty).
        self._building_heartbeat = False
        self.blocks_discarded = 0
        self.messages_dropped = 0

    @property
    def building(self) -> int | None:
        """The height asked for and not yet handed back."""
        return self._building

    def start(self, now_ms: int) -> Output:
        self._last_block_committed_ms = now_ms
        return Output()

    def tick(self, now_ms: int) -> Output:
        """Asks for an idle heartbeat block when one is due (see the module docstring)."""
        if self._last_block_committed_ms is None:
            self._last_block_committed_ms = now_ms
        deadline = self.next_deadline_ms()
        if deadline is None or now_ms < deadline:
            return Output()
        return self._build(now_ms, heartbeat=True)

    def step(self, sender: str, message: consensus_pb2.ConsensusMessage, now_ms: int) -> Output:
        self.messages_dropped += 1  # a solo chain has no peers to listen to
        return Output()

    def propose(self, now_ms: int, transactions_waiting: int | None = None) -> Output:
        """transactions_waiting: how many wait (None: some, not counted)."""
        if self._building is not None:
            return Output()
        started = self._last_block_started_ms
        if (
            started is not None
            and now_ms - started < self.block_interval_ms
            and not self._burst_ready(transactions_waiting)
        ):
            return Output()
        return self._build(now_ms, heartbeat=False)

    def _burst_ready(self, transactions_waiting: int | None) -> bool:
        """Whether the next block may start before the interval: the last one carried less than
        half a loaded block's worth, and a loaded block's worth waits (module docstring)."""
        loaded = self.loaded_block_transactions
        return (
            loaded is not None
            and transactions_waiting is not None
            and 2 * self._last_block_transactions < loaded
            and transactions_waiting >= loaded
        )

    def _build(self, now_ms: int, *, heartbeat: bool) -> Output:
        self._building = self.committed_height + 1
        self._building_heartbeat = heartbeat
        self._previous_block_started_ms = self._last_block_started_ms
        self._last_block_started_ms = now_ms
        return Output(build=[BuildBlock(self._building, 0, now_ms, self.node_id)])

    def block_built(self, block: types_pb2.Block, now_ms: int) -> Output:
        height = block.header.height
        if self._building is None or height != self._building:
            self.blocks_discarded += 1
            return Output()
        self._building = None
        self._count_transactions(len(block.transactions))
        if not block.transactions and not self._building_heartbeat:
            self.blocks_discarded += 1
            self._last_block_started_ms = None
            return Output()
        block_hash = self._hasher.block_hash(block)
        vote = types_pb2.CommitVote(height=height, round=0, block_hash=block_hash)
        signature = self._signer.sign(sign_bytes(DOMAIN_COMMIT, self.chain_id, encode(vote)))
        certificate = types_pb2.CommitCertificate(
            height=height,
            round=0,
            block_hash=block_hash,
            signatures=[types_pb2.CommitSignature(validator=self.node_id, signature=signature)],
        )
        self.committed_height = height
        self._last_block_committed_ms = now_ms
        return Output(commits=[Commit(height, block, certificate)])

    def _count_transactions(self, transactions: int) -> None:
        """What the block just built carried, into the average when it was started under load."""
        self._last_block_transactions = transactions
        previous, started = self._previous_block_started_ms, self._last_block_started_ms
        if (
            transactions == 0
            or previous is None
            or started is None
            or started - previous > _LOADED_GAP_INTERVALS * self.block_interval_ms
        ):
            return
        loaded = self.loaded_block_transactions
        self.loaded_block_transactions = (
            transactions if loaded is None else loaded + _LOADED_WEIGHT * (transactions - loaded)
        )

    def block_validated(self, block_hash: bytes, valid: bool, now_ms: int) -> Output:
        return Output()  # solo asks for no validation: it built every block itself

    def next_deadline_ms(self) -> int | None:
        """When the idle heartbeat is due; None without one, or while a block is being built."""
        if (
            self.idle_block_interval_ms is None
            or self._building is not None
            or self._last_block_committed_ms is None
        ):
            return None
        deadline = self._last_block_committed_ms + self.idle_block_interval_ms
        started = self._last_block_started_ms
        if started is not None:
            deadline = max(deadline, started + self.block_interval_ms)
        return deadline
