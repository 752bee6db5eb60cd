from __future__ import annotations

import sys
from pathlib import Path

# The helpers live next to this file; make them importable under any pytest import mode.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
