"""Admission checks, bounds, de-duplication and fair (arrival) ordering of pending transactions,
and the lock that lets admission threads and the node's loop share them (SharedMempool)."""

from causeway.execution import TIMESTAMP_FUTURE_MAX_MS
from causeway.mempool.admission import (
    ADMISSION_BATCH_ITEMS_MAX,
    Admission,
    AdmissionOutcome,
)
from causeway.mempool.pool import Mempool, MempoolLimits
from causeway.mempool.shared import SharedMempool

__all__ = [
    "ADMISSION_BATCH_ITEMS_MAX",
    "TIMESTAMP_FUTURE_MAX_MS",
    "Admission",
    "AdmissionOutcome",
    "Mempool",
    "MempoolLimits",
    "SharedMempool",
]
