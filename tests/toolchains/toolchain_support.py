"""What the AssemblyScript toolchain tests share: a built contract's paths."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Built:
    project: Path
    module: Path
    interface: Path
