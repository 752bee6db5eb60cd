"""Consensus engines: pure state machines driven by the node runtime or the simulator."""

from causeway.consensus.actions import Action, ProposeBlock
from causeway.consensus.core import (
    Application,
    Commit,
    ConsensusCore,
    Output,
    Signer,
    Verifier,
)

__all__ = [
    "Action",
    "Application",
    "Commit",
    "ConsensusCore",
    "Output",
    "ProposeBlock",
    "Signer",
    "Verifier",
]
