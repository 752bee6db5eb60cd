"""LMDB-backed block store, state store and indices; the key layout lives in schema.py only."""

from causeway.storage.schema import SCHEMA_VERSION, STATE_KEY_BYTES_MAX
from causeway.storage.store import BlockRecord, LatestStateView, Store

__all__ = ["SCHEMA_VERSION", "STATE_KEY_BYTES_MAX", "BlockRecord", "LatestStateView", "Store"]
