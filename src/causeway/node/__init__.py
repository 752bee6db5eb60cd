"""The node runtime: configuration, wiring and the loop that drives the cores.

``Node``, ``run_node`` and the start-up checks are imported on first use, so that reading a
node's configuration (``causeway devnet status``, ``causeway node verify``'s arguments, the
provisioning commands) does not pay for importing the runtime: the API servers, the interchain
modules and their Ethereum encodings.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from causeway.node.config import NodeConfig, load_node_config

if TYPE_CHECKING:
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

# Public name -> the module it is imported from on first use.
_LAZY = {
    "Node": "runtime",
    "run_node": "runtime",
    "StoreVerification": "startup",
    "load_genesis": "startup",
    "open_node_store": "startup",
    "verify_node_store": "startup",
}


def __getattr__(name: str) -> object:
    module_name = _LAZY.get(name)
    if module_name is not None:
        module = importlib.import_module(f"causeway.node.{module_name}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
