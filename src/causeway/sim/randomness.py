"""Every random choice of a run comes from one ``random.Random(seed)``.

The root generator draws one 256-bit value; each purpose ("network", "core:v1:0", ...) gets its own
generator seeded with SHA-256 of that value and the purpose's name. A purpose's stream therefore
does not shift when another purpose draws more or fewer numbers, which keeps a seed's run stable
while the simulator grows, and the same seed always gives the same streams.
"""

from __future__ import annotations

import hashlib
import random


class RandomSource:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        root = random.Random(seed)
        self._material = root.getrandbits(256).to_bytes(32, "big")

    def derive(self, purpose: str) -> random.Random:
        digest = hashlib.sha256(self._material + purpose.encode()).digest()
        return random.Random(int.from_bytes(digest, "big"))

    def derive_bytes(self, purpose: str) -> bytes:
        return hashlib.sha256(b"bytes:" + self._material + purpose.encode()).digest()
