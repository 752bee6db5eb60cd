"""The committed protobuf modules and stubs are what scripts/generate_proto.sh makes from proto/
today: an edited .proto whose code was not regenerated fails here, not in a user's install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_generated_code_is_current(tmp_path: Path) -> None:
    environment = dict(os.environ, PYTHON=sys.executable)
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "generate_proto.sh"), str(tmp_path)],
        cwd=ROOT,
        env=environment,
        check=True,
        capture_output=True,
        timeout=120,
    )
    generated = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*") if path.is_file())
    assert generated, "the generator wrote nothing"
    stale = [
        str(relative)
        for relative in generated
        if (ROOT / "src" / relative).read_bytes() != (tmp_path / relative).read_bytes()
    ]
    assert stale == [], f"regenerate with `make proto`: {stale}"
    committed = sorted(
        path.relative_to(ROOT / "src")
        for pattern in ("*_pb2.py", "*_pb2.pyi", "*_pb2_grpc.py", "*_pb2_grpc.pyi")
        for path in (ROOT / "src").rglob(pattern)
    )
    assert sorted(set(committed) - set(generated)) == [], "generated files without a .proto"
