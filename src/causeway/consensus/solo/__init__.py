"""Solo consensus: one validator proposes and commits every block."""

from causeway.consensus.solo.engine import SoloEngine

__all__ = ["SoloEngine"]
