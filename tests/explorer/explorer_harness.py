"""What the explorer's tests share: the chains they make and the names they use.

A module of its own (not conftest.py, whose module name every test folder shares) so that the
test modules can import it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

_E2E = str(Path(__file__).resolve().parent.parent / "e2e")
_TESTS = str(Path(__file__).resolve().parent.parent)
for _path in (_E2E, _TESTS):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from node_harness import NodeProcess  # noqa: E402
from playwright.sync_api import BrowserContext, sync_playwright  # noqa: E402
from tally_contract import tally_interface, tally_wasm  # noqa: E402

from causeway.contracts.v1 import contracts_pb2  # noqa: E402

REPOSITORY = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CAUSEWAY_CHROMIUM", "/usr/bin/chromium"))
ARTEFACTS = REPOSITORY / "test-artefacts" / "explorer"
# Flags for a quiet, reproducible browser: no sandbox (CI runs as root), no GPU, nothing
# fetched in the background (updates, sync, QUIC probes).
CHROMIUM_ARGUMENTS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_executable() -> Path:
    """Debian's chromium, installed by scripts/toolchain-chromium.sh when missing."""
    if not CHROMIUM.exists():
        subprocess.run(["bash", str(REPOSITORY / "scripts" / "toolchain-chromium.sh")], check=True)
    assert CHROMIUM.exists(), f"no {CHROMIUM}: run scripts/toolchain-chromium.sh"
    return CHROMIUM


@contextlib.contextmanager
def chromium_context(profile: Path) -> Iterator[BrowserContext]:
    """A headless Chromium with a fresh profile folder, closed whatever happens (one per test
    module: Playwright's synchronous API keeps its event loop marked as running in the main
    thread while the browser is open, so pytest-asyncio tests cannot run meanwhile)."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(chromium_executable()),
            headless=True,
            args=CHROMIUM_ARGUMENTS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


ADMIN = "org1/admin"
ENDORSER = "org2/admin"
CLIENT = "org1/client"
RECIPIENT = "org2/client"
ISSUED = 1000
TRANSFERRED = 250
CONTRACT = "tally"
BATCH_TRANSACTIONS = 5


@dataclasses.dataclass(frozen=True)
class ExplorerChain:
    node: NodeProcess
    put_id: str
    transfer_id: str
    failed_id: str
    transfer_height: int
    # A transaction that shares its block with others: its proof has siblings to tamper with.
    batched_id: str


def commit_history(node: NodeProcess) -> ExplorerChain:
    with node.connect(CLIENT) as client, node.connect(ADMIN) as admin:
        put = client.invoke("kv", "put", contracts_pb2.KvPutArguments(key=b"colour", value=b"blue"))
        assert put.succeeded, put
        issued = admin.invoke(
            "ledger", "issue", contracts_pb2.LedgerIssueArguments(account=CLIENT, amount=ISSUED)
        )
        assert issued.succeeded, issued
        transfer = client.invoke(
            "ledger",
            "transfer",
            contracts_pb2.LedgerTransferArguments(to=RECIPIENT, amount=TRANSFERRED),
        )
        assert transfer.succeeded, transfer
        failed = client.invoke(
            "ledger",
            "transfer",
            contracts_pb2.LedgerTransferArguments(to=RECIPIENT, amount=ISSUED * 10),
        )
        assert failed.committed and failed.result is not None, failed
        assert not failed.succeeded, failed
        # Submitted together, so that they share a block (the mempool hands the proposer all).
        batch = client.submit_batch(
            [
                client.transaction(
                    "kv", "put", contracts_pb2.KvPutArguments(key=b"n%d" % number, value=b"v")
                )
                for number in range(BATCH_TRANSACTIONS)
            ]
        )
        assert all(item.committed and item.error is None for item in batch), batch
        heights = [item.height for item in batch]
        shared = max(set(heights), key=heights.count)
        assert heights.count(shared) >= 2, heights
        batched = next(item for item in batch if item.height == shared)
        deployed = admin.contracts.deploy(
            CONTRACT,
            tally_wasm(),
            tally_interface(),
            init_arguments={"start": 0},
            endorsers=[node.network.identity(ENDORSER)],
        )
        assert deployed.contract.status == "active", deployed
    return ExplorerChain(
        node=node,
        put_id=put.transaction_id.hex(),
        transfer_id=transfer.transaction_id.hex(),
        failed_id=failed.transaction_id.hex(),
        transfer_height=transfer.height,
        batched_id=batched.transaction_id.hex(),
    )


@dataclasses.dataclass(frozen=True)
class GmChain:
    node: NodeProcess
    transfer_id: str
