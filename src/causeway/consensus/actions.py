"""What a consensus core asks the runtime to do. Cores return actions; the runtime performs them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProposeBlock:
    """Build, execute and propose the block at `height` from the mempool."""

    height: int


Action = ProposeBlock
