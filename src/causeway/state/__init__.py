"""Authenticated, versioned key-value state.

A sparse Merkle tree with inclusion and exclusion proofs; see docs/state.md.
"""

from causeway.state.nodes import EMPTY_HASH, node_key, node_key_version, root_node_key
from causeway.state.proof import verify_state_proof
from causeway.state.tree import StateTree, compute_root
from causeway.state.update import NodeReader, TreeUpdate

__all__ = [
    "EMPTY_HASH",
    "NodeReader",
    "StateTree",
    "TreeUpdate",
    "compute_root",
    "node_key",
    "node_key_version",
    "root_node_key",
    "verify_state_proof",
]
