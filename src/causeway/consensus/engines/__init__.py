"""One adapter per consensus engine: what the node's driver and the simulator ask of an engine
(construction and restore, ticks, transaction routing, block sync and its quorum, the role)."""

from causeway.consensus.engines.base import (
    IDLE_BLOCK_INTERVAL_MS,
    Engine,
    EngineContext,
    EngineKind,
    EngineProgress,
    TransactionRoute,
    validator_ids,
)
from causeway.consensus.engines.raft import RaftEngine, RaftKind
from causeway.consensus.engines.solo import SoloEngine, SoloKind
from causeway.consensus.engines.tbft import TbftEngine, TbftKind

# A driver behind with its writes by this many committed blocks holds back the messages the
# engine says bring new ones (raft: AppendEntries with entries), so that a replica that executes
# slower than the leader commits stops taking blocks instead of queueing them without end; every
# other message, heartbeats included, is still handled, so nobody starts an election meanwhile.
COMMITS_BEHIND_MAX = 8
# Messages held back so; beyond this the oldest is dropped (the sender resends).
HELD_MESSAGES_MAX = 64

__all__ = [
    "COMMITS_BEHIND_MAX",
    "HELD_MESSAGES_MAX",
    "IDLE_BLOCK_INTERVAL_MS",
    "Engine",
    "EngineContext",
    "EngineKind",
    "EngineProgress",
    "RaftEngine",
    "RaftKind",
    "SoloEngine",
    "SoloKind",
    "TbftEngine",
    "TbftKind",
    "TransactionRoute",
    "validator_ids",
]
