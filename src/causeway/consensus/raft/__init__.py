"""Raft consensus for crash-fault-tolerant validator sets (see docs/consensus-raft.md)."""

from causeway.consensus.raft.certificates import (
    CERTIFICATE_HEIGHTS_MAX,
    SIGNATURE_HEIGHTS_AHEAD_MAX,
    CertificateGatherer,
    GathererStatistics,
)
from causeway.consensus.raft.engine import (
    APPEND_BYTES_MAX,
    APPEND_ENTRIES_MAX,
    PIPELINE_BLOCKS_LIMIT,
    PIPELINE_BLOCKS_MAX,
    RaftCore,
    RaftRole,
    RaftStatistics,
    RaftTimeouts,
)
from causeway.consensus.raft.log import ENTRY_BYTES_MAX, TERM_MAX, VOTERS_MAX
from causeway.consensus.raft.records import (
    LOG_RECORD_PREFIX,
    META_RECORD,
    RECORD_PREFIX,
    log_record_name,
)

__all__ = [
    "APPEND_BYTES_MAX",
    "APPEND_ENTRIES_MAX",
    "CERTIFICATE_HEIGHTS_MAX",
    "ENTRY_BYTES_MAX",
    "LOG_RECORD_PREFIX",
    "META_RECORD",
    "PIPELINE_BLOCKS_LIMIT",
    "PIPELINE_BLOCKS_MAX",
    "RECORD_PREFIX",
    "SIGNATURE_HEIGHTS_AHEAD_MAX",
    "TERM_MAX",
    "VOTERS_MAX",
    "CertificateGatherer",
    "GathererStatistics",
    "RaftCore",
    "RaftRole",
    "RaftStatistics",
    "RaftTimeouts",
    "log_record_name",
]
