"""Solo consensus: one validator proposes and commits every block."""

from causeway.consensus.solo.engine import BLOCK_INTERVAL_MS_DEFAULT, SoloCore

__all__ = ["BLOCK_INTERVAL_MS_DEFAULT", "SoloCore"]
