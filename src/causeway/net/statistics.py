"""Counters of what the peer transport did and refused, globally and per peer.

Plain integers behind names, so that the runtime can export them as Prometheus counters (each
name below, with a ``peer`` label for the per-peer view) or print them, without this package
owning a metrics registry.
"""

from __future__ import annotations

from collections import Counter

RECEIVED_CONSENSUS = "received_consensus_messages"
RECEIVED_TRANSACTIONS = "received_transactions"
RECEIVED_STATUS = "received_status"
DROPPED_MALFORMED = "dropped_malformed_envelopes"
DROPPED_OVERSIZED = "dropped_oversized_envelopes"
DROPPED_WRONG_CHAIN = "dropped_wrong_chain_envelopes"
DROPPED_WRONG_SENDER = "dropped_wrong_sender_envelopes"
HANDLER_ERRORS = "handler_errors"
REFUSED_PEERS = "refused_peers"
REFUSED_STREAMS = "refused_streams"
SENT_ENVELOPES = "sent_envelopes"
# Bytes of envelopes read from and written to peers' streams (block sync's answers excluded).
RECEIVED_BYTES = "received_bytes"
SENT_BYTES = "sent_bytes"
SEND_DROPPED_CONSENSUS = "send_dropped_consensus_messages"
SEND_DROPPED_TRANSACTIONS = "send_dropped_transactions"
SEND_REFUSED_OVERSIZED = "send_refused_oversized"
SEND_FAILED = "send_failed_envelopes"
SEND_UNKNOWN_PEER = "send_unknown_peer"
CONNECTIONS_OPENED = "connections_opened"
CONNECT_FAILURES = "connect_failures"
DISCONNECTS = "disconnects"
BLOCK_REQUESTS_SERVED = "block_requests_served"
BLOCK_REQUESTS_REFUSED = "block_requests_refused"
BLOCKS_SERVED = "blocks_served"
BLOCKS_SYNCED = "blocks_synced"
BLOCKS_REJECTED = "blocks_rejected"
SYNC_FAILURES = "sync_failures"
# A gossiped batch above transaction_batch_transactions_max / transaction_batch_bytes_max: dropped
# whole, before any entry is looked at.
DROPPED_BATCHES_TOO_MANY = "dropped_transaction_batches_too_many"
DROPPED_BATCHES_TOO_LARGE = "dropped_transaction_batches_too_large"
# What became of each entry of a gossiped batch, counted by the node's admission of peers'
# transactions (node.PeerAdmission): admitted, or refused on its own (the batch's other entries
# go on) because it is not a Transaction at all, parses but is not its canonical encoding, is
# above the chain's transaction_bytes_max, is already held or committed, or for any other rule
# of the transaction verifier or the mempool (expired, bad signature, unknown member, full...).
ADMITTED_TRANSACTIONS = "admitted_transactions"
REFUSED_TRANSACTIONS_MALFORMED = "refused_transactions_malformed"
REFUSED_TRANSACTIONS_NOT_CANONICAL = "refused_transactions_not_canonical"
REFUSED_TRANSACTIONS_TOO_LARGE = "refused_transactions_too_large"
REFUSED_TRANSACTIONS_DUPLICATE = "refused_transactions_duplicate"
REFUSED_TRANSACTIONS_OTHER = "refused_transactions_other"

COUNTER_NAMES = (
    RECEIVED_CONSENSUS,
    RECEIVED_TRANSACTIONS,
    RECEIVED_STATUS,
    DROPPED_MALFORMED,
    DROPPED_OVERSIZED,
    DROPPED_WRONG_CHAIN,
    DROPPED_WRONG_SENDER,
    HANDLER_ERRORS,
    REFUSED_PEERS,
    REFUSED_STREAMS,
    SENT_ENVELOPES,
    RECEIVED_BYTES,
    SENT_BYTES,
    SEND_DROPPED_CONSENSUS,
    SEND_DROPPED_TRANSACTIONS,
    SEND_REFUSED_OVERSIZED,
    SEND_FAILED,
    SEND_UNKNOWN_PEER,
    CONNECTIONS_OPENED,
    CONNECT_FAILURES,
    DISCONNECTS,
    BLOCK_REQUESTS_SERVED,
    BLOCK_REQUESTS_REFUSED,
    BLOCKS_SERVED,
    BLOCKS_SYNCED,
    BLOCKS_REJECTED,
    SYNC_FAILURES,
    DROPPED_BATCHES_TOO_MANY,
    DROPPED_BATCHES_TOO_LARGE,
    ADMITTED_TRANSACTIONS,
    REFUSED_TRANSACTIONS_MALFORMED,
    REFUSED_TRANSACTIONS_NOT_CANONICAL,
    REFUSED_TRANSACTIONS_TOO_LARGE,
    REFUSED_TRANSACTIONS_DUPLICATE,
    REFUSED_TRANSACTIONS_OTHER,
)
"""Every counter, so that an exporter can register them all up front (at zero)."""

# Refusals before a peer is identified (an unknown certificate) have no peer to count under.
UNIDENTIFIED_PEER = ""


class NetworkStatistics:
    """Monotonic counters; only the event loop that runs the network updates them."""

    def __init__(self) -> None:
        self._totals: Counter[str] = Counter()
        self._per_peer: dict[str, Counter[str]] = {}

    def increment(self, name: str, peer: str = UNIDENTIFIED_PEER, amount: int = 1) -> None:
        self._totals[name] += amount
        # Not setdefault(peer, Counter()): that builds a Counter on every call (0.67 against
        # 0.25 µs), and a validator counts every message it sends and receives.
        counters = self._per_peer.get(peer)
        if counters is None:
            counters = self._per_peer[peer] = Counter()
        counters[name] += amount

    def get(self, name: str, peer: str | None = None) -> int:
        """The total of ``name``, or its count for one peer."""
        if peer is None:
            return self._totals[name]
        counters = self._per_peer.get(peer)
        return 0 if counters is None else counters[name]

    def snapshot(self) -> dict[str, int]:
        """Every counter (zero included) by name."""
        return {name: self._totals[name] for name in COUNTER_NAMES}

    def peer_snapshot(self) -> dict[str, dict[str, int]]:
        """The non-zero counters of each peer (the key "" holds unidentified callers)."""
        return {peer: dict(counters) for peer, counters in self._per_peer.items()}
