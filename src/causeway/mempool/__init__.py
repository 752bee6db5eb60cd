"""Admission checks, bounds, de-duplication and fair (arrival) ordering of pending transactions."""

from causeway.mempool.admission import (
    ADMISSION_BATCH_ITEMS_MAX,
    TIMESTAMP_FUTURE_MAX_MS,
    Admission,
    AdmissionOutcome,
)
from causeway.mempool.pool import Mempool, MempoolLimits

__all__ = [
    "ADMISSION_BATCH_ITEMS_MAX",
    "TIMESTAMP_FUTURE_MAX_MS",
    "Admission",
    "AdmissionOutcome",
    "Mempool",
    "MempoolLimits",
]
