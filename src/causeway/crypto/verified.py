"""A bounded LRU set of transactions whose sender signature has already been verified.

A transaction is usually verified at admission (from a client or from gossip) and then arrives
again in a proposal or a synced block. The runtime records it here after the first verification
and skips the second.

The key is the transaction id, the signature AND the sender's public key it verified with, not
the id alone: the id hashes the body only, so a block could carry a known body with a different
(invalid) signature, which the id alone would wave through and which would then be stored in the
chain; and a member's key may change (membership.update_certificate) between admission and a
block, when every validator must judge the signature by the key in the state the block executes
on, whether or not it verified the transaction before under the old key (a raft follower that
judged otherwise would stop). Signature and key are kept whole rather than hashed: a hash per
lookup cost more than the rest of it; an entry is about 170 bytes (34 MB at the default
capacity). Ids have one length per profile and the signature's length comes first, so the key
is unambiguous. Endorsements are not covered: the executor checks them against state in any case.

An entry's use ends with the block that carries its transaction: building or checking that block
takes it out (`verified_keys(..., take=True)`), since a committed transaction is refused as a
replay before its signature matters. So the cache holds about what the mempool holds, not the
last 200,000 transactions: kept, they filled some 35 MB of the heap with long-lived keys among
short-lived objects of the same size, and a node's resident memory was 35 MB higher after the
first 100,000 transfers and 90 MB after a million (docs/performance.md). A block that is taken
and then not committed (a tbft round that fails) has its transactions verified again when they
next go into a block: slower, never wrong.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence

VERIFIED_TRANSACTIONS_MAX_DEFAULT = 200_000


def verification_key(transaction_id: bytes, signature: bytes, public_key: bytes) -> bytes:
    """What the cache remembers for one signature verified with one key (the raw public key)."""
    return transaction_id + len(signature).to_bytes(4, "big") + signature + public_key


class VerifiedTransactionCache:
    """Thread-safe, so that verification threads may record their results directly."""

    def __init__(self, capacity: int = VERIFIED_TRANSACTIONS_MAX_DEFAULT) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, not {capacity}")
        self._capacity = capacity
        self._entries: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        return self._capacity

    def add(self, transaction_id: bytes, signature: bytes, public_key: bytes) -> None:
        self.add_many(((transaction_id, signature, public_key),))

    def add_many(self, verified: Iterable[tuple[bytes, bytes, bytes]]) -> None:
        """Records (transaction id, signature, raw public key) triples whose signature verified
        with that key; the least recently used entries make room."""
        self.add_keys([verification_key(*triple) for triple in verified])

    def add_keys(self, keys: Sequence[bytes]) -> None:
        """add_many for pairs already made into keys (verification_key)."""
        with self._lock:
            entries = self._entries
            for key in keys:
                entries[key] = None
                entries.move_to_end(key)
            while len(entries) > self._capacity:
                entries.popitem(last=False)

    def is_verified(self, transaction_id: bytes, signature: bytes, public_key: bytes) -> bool:
        return self.verified_flags(((transaction_id, signature, public_key),))[0]

    def verified_flags(self, items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
        """For each (transaction id, signature, raw public key): whether the signature was
        verified with that key (and is still here). A hit counts as a use."""
        return self.verified_keys([verification_key(*triple) for triple in items])

    def verified_keys(self, keys: Sequence[bytes], *, take: bool = False) -> list[bool]:
        """verified_flags for pairs already made into keys (verification_key), so that a caller
        that adds what it verifies makes each key once. take: this is the entries' last use (a
        block that carries their transactions is being built or checked), so a hit leaves the
        cache instead of counting as a use."""
        flags: list[bool] = []
        with self._lock:
            entries = self._entries
            for key in keys:
                if key in entries:
                    if take:
                        del entries[key]
                    else:
                        entries.move_to_end(key)
                    flags.append(True)
                else:
                    flags.append(False)
        return flags

    def discard(self, transaction_id: bytes, signature: bytes, public_key: bytes) -> None:
        with self._lock:
            self._entries.pop(verification_key(transaction_id, signature, public_key), None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
