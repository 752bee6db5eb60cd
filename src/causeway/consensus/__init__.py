"""Consensus engines: pure state machines driven by the node runtime."""

from causeway.consensus.actions import Action, ProposeBlock

__all__ = ["Action", "ProposeBlock"]
