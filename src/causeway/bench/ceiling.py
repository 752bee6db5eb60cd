"""The verification ceiling: how many of the run's own signatures this machine verifies per
second on all its cores, measured in the same run as the throughput it bounds.

Every transaction's signature is checked once by the node, so a node cannot commit faster than
the machine verifies; the ratio of throughput to this rate says how much of the machine the
rest of the node leaves for verification. It is measured with the node's own verifier
(BatchVerifier in worker processes, one per core) on a sample of the transactions about to be
sent, before the clock starts, so the figure and the run see the same machine.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from causeway.crypto import BatchVerifier, PublicKey
from causeway.errors import InvariantError
from causeway.types import DOMAIN_TRANSACTION, sign_bytes
from causeway.types.v1 import types_pb2

# Signatures timed: enough for a steady rate (about half a second at 25,000/s), few enough to
# leave the run its machine. The warm-up starts the worker processes before timing.
VERIFY_SAMPLE_MAX = 12_000
# Below this many transactions a run measures no ceiling: too few for a rate worth quoting.
VERIFY_SAMPLE_MIN = 1_000
WARM_UP_SIGNATURES = 200


def verification_items(
    encoded_transactions: Sequence[bytes], public_key: PublicKey, chain_id: str
) -> list[tuple[PublicKey, bytes, bytes]]:
    """(key, signed bytes, signature) of each transaction, as the node's verifier gets them."""
    items = []
    for encoded in encoded_transactions:
        transaction = types_pb2.Transaction.FromString(encoded)
        document = sign_bytes(DOMAIN_TRANSACTION, chain_id, transaction.body)
        items.append((public_key, document, transaction.signature))
    return items


def measure_verify_rate(
    items: Sequence[tuple[PublicKey, bytes, bytes]], *, processes: int | None = None
) -> float:
    """Signatures verified per second over ``items`` by worker processes (one per core by
    default), after a warm-up. Raises InvariantError if a signature does not verify: the
    sample is the run's own, and a ceiling measured on failures would be meaningless."""
    if len(items) <= WARM_UP_SIGNATURES:
        raise InvariantError(
            f"a verification rate needs more than {WARM_UP_SIGNATURES} signatures, got {len(items)}"
        )
    workers = processes if processes is not None else (os.cpu_count() or 1)
    with BatchVerifier(processes=workers) as verifier:
        verifier.verify_many(items[:WARM_UP_SIGNATURES])
        timed = items[WARM_UP_SIGNATURES:]
        started = time.perf_counter()
        results = verifier.verify_many(timed)
        elapsed = time.perf_counter() - started
    if not all(results):
        raise InvariantError("a transaction of the run does not verify with its sender's key")
    return len(timed) / elapsed
