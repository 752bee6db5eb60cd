"""The transport between the nodes of a chain: gRPC with mutual TLS, gossip and block sync."""

# Block sync's callers name the quorum they ask; the rule itself is causeway.light's.
# Re-exported from its home in crypto/, where the layers below net (execution, mempool) reach it.
from causeway.crypto import VerifiedTransactionCache
from causeway.light import CertificateQuorum
from causeway.net.backoff import Backoff
from causeway.net.config import (
    PeerAddress,
    PeerLimits,
    PeerSettings,
    ReconnectBackoff,
    load_peer_settings,
)
from causeway.net.peer import (
    PEER_PROTOCOL_VERSION,
    PeerHandlers,
    PeerNetwork,
    PeerState,
)
from causeway.net.peer_set import PeerSetChange, diff_peers, merge_peers
from causeway.net.queues import PeerSendQueue
from causeway.net.statistics import COUNTER_NAMES, NetworkStatistics
from causeway.net.sync import (
    BlockFetcher,
    BlockSource,
    BlockSyncer,
    quorum_for_consensus,
    verify_block,
)
from causeway.net.tls import PeerIdentity, TlsIdentity

__all__ = [
    "COUNTER_NAMES",
    "PEER_PROTOCOL_VERSION",
    "Backoff",
    "BlockFetcher",
    "BlockSource",
    "BlockSyncer",
    "CertificateQuorum",
    "NetworkStatistics",
    "PeerAddress",
    "PeerHandlers",
    "PeerIdentity",
    "PeerLimits",
    "PeerNetwork",
    "PeerSendQueue",
    "PeerSetChange",
    "PeerSettings",
    "PeerState",
    "ReconnectBackoff",
    "TlsIdentity",
    "VerifiedTransactionCache",
    "diff_peers",
    "load_peer_settings",
    "merge_peers",
    "quorum_for_consensus",
    "verify_block",
]
