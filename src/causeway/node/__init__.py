"""The node runtime: configuration, wiring and the loop that drives the cores."""

from causeway.node.config import NodeConfig, load_node_config
from causeway.node.runtime import Node, run_node
from causeway.node.startup import (
    StoreVerification,
    load_genesis,
    open_node_store,
    verify_node_store,
)

__all__ = [
    "Node",
    "NodeConfig",
    "StoreVerification",
    "load_genesis",
    "load_node_config",
    "open_node_store",
    "run_node",
    "verify_node_store",
]
