"""Authenticated, versioned key-value state: a sparse Merkle tree with inclusion and exclusion proofs."""

from causeway.state.update import NodeReader, TreeUpdate

__all__ = ["NodeReader", "TreeUpdate"]
