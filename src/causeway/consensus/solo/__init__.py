"""Solo consensus: one validator proposes and commits every block."""

from causeway.consensus.solo.engine import SoloCore

__all__ = ["SoloCore"]
