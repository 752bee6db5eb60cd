"""LMDB-backed block store, state store and indices; the key layout lives in schema.py only."""

from causeway.storage.chain_checks import (
    RECENT_BLOCKS_CHECKED,
    ChainIdentity,
    ChainReport,
    check_recent_blocks,
    scan_chain,
)
from causeway.storage.chain_folder import (
    MARKER_FILE_NAME,
    STORE_FOLDER_NAME,
    ChainMarker,
    load_marker,
    marker_file,
    open_chain_store,
    open_chain_store_for_reading,
    restore_chain_store,
    save_marker,
    store_folder,
)
from causeway.storage.schema import SCHEMA_VERSION, STATE_KEY_BYTES_MAX
from causeway.storage.store import (
    DATA_FILE_NAME,
    BlockRecord,
    IntegrityReport,
    LatestStateView,
    SnapshotBase,
    Store,
)

__all__ = [
    "DATA_FILE_NAME",
    "MARKER_FILE_NAME",
    "RECENT_BLOCKS_CHECKED",
    "SCHEMA_VERSION",
    "STATE_KEY_BYTES_MAX",
    "STORE_FOLDER_NAME",
    "BlockRecord",
    "ChainIdentity",
    "ChainMarker",
    "ChainReport",
    "IntegrityReport",
    "LatestStateView",
    "SnapshotBase",
    "Store",
    "check_recent_blocks",
    "load_marker",
    "marker_file",
    "open_chain_store",
    "open_chain_store_for_reading",
    "restore_chain_store",
    "save_marker",
    "scan_chain",
    "store_folder",
]
