"""Consensus engines: pure state machines driven by the node runtime or the simulator."""

from causeway.consensus.core import (
    Application,
    BlockHasher,
    BuildBlock,
    Commit,
    ConsensusCore,
    Output,
    Signer,
    ValidateBlock,
    Verifier,
)
from causeway.consensus.ordering import (
    ApplicationStep,
    ApplyCommit,
    Persist,
    ReportEvidence,
    Send,
    Step,
    ordered_steps,
)

__all__ = [
    "Application",
    "ApplicationStep",
    "ApplyCommit",
    "BlockHasher",
    "BuildBlock",
    "Commit",
    "ConsensusCore",
    "Output",
    "Persist",
    "ReportEvidence",
    "Send",
    "Signer",
    "Step",
    "ValidateBlock",
    "Verifier",
    "ordered_steps",
]
