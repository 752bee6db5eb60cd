"""The SDK is a client: importing it loads neither the node's storage and execution nor the
HTTP server stack (causeway.api imports those on first use only)."""

from __future__ import annotations

import json
import subprocess
import sys

NOT_LOADED = ["causeway.storage", "causeway.execution", "causeway.node", "lmdb", "fastapi"]


def test_importing_the_sdk_loads_no_node_parts() -> None:
    program = (
        "import json, sys; import causeway.sdk; "
        f"print(json.dumps([name for name in {NOT_LOADED!r} if name in sys.modules]))"
    )
    output = subprocess.run(
        [sys.executable, "-c", program], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    assert json.loads(output) == []
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import causeway.api as a, sys; a.ClientService; "
            "print('causeway.storage' in sys.modules)",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert loaded.strip() == "True"  # the node's service, asked for, brings its parts
