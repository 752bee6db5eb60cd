"""The node runtime: configuration, wiring and the loop that drives the cores."""

from causeway.node.config import NodeConfig, load_node_config
from causeway.node.runtime import Node, load_genesis, run_node

__all__ = ["Node", "NodeConfig", "load_genesis", "load_node_config", "run_node"]
