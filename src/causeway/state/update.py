"""What one version of the state tree adds and retires, handed to storage to persist atomically."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class NodeReader(Protocol):
    """Where the tree reads persisted nodes from (the LMDB store, or a dict in tests)."""

    def get_state_node(self, node_key: bytes) -> bytes | None: ...


@dataclass(slots=True)
class TreeUpdate:
    version: int
    root_hash: bytes
    # node_key -> encoded node, to write in the same transaction as the block.
    new_nodes: dict[bytes, bytes] = field(default_factory=dict)
    # Nodes that this version replaced: deletable once `version` is older than the retained window.
    stale_node_keys: list[bytes] = field(default_factory=list)
