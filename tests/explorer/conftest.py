"""Fixtures of the explorer's browser tests: nodes with some history, and a real Chromium.

The node is a solo intl network from the end-to-end harness (tests/e2e/node_harness.py), started
once for the session (a gm one too, for the tests that need it), with transactions that leave
events (kv, ledger issue and transfers), a failed transaction, and a user contract. The browser
is Debian's chromium (installed by scripts/toolchain-chromium.sh when missing, never a browser
Playwright downloads), driven by Playwright, with a fresh profile, one per test module (see
``browser``). Screenshots go to test-artefacts/explorer/ (the path is printed); the nodes and
the browser are stopped whatever happens.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_E2E = str(Path(__file__).resolve().parent.parent / "e2e")
_TESTS = str(Path(__file__).resolve().parent.parent)
for _path in (_E2E, _TESTS):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from node_harness import NodeProcess, create_network  # noqa: E402
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright  # noqa: E402
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


def _commit(node: NodeProcess) -> ExplorerChain:
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


@pytest.fixture(scope="session")
def explorer_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExplorerChain]:
    directory = tmp_path_factory.mktemp("explorer-network")
    network = create_network(directory / "network", "intl")
    node = NodeProcess(network, directory / "node.log")
    try:
        node.start()
        yield _commit(node)
    finally:
        node.cleanup()


@dataclasses.dataclass(frozen=True)
class GmChain:
    node: NodeProcess
    transfer_id: str


@pytest.fixture(scope="session")
def gm_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GmChain]:
    """A gm chain (SM2 signatures, SM3 hashes): what the browser checks without WebCrypto."""
    directory = tmp_path_factory.mktemp("explorer-gm-network")
    node = NodeProcess(create_network(directory / "network", "gm"), directory / "node.log")
    try:
        node.start()
        with node.connect(CLIENT) as client, node.connect(ADMIN) as admin:
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
        yield GmChain(node=node, transfer_id=transfer.transaction_id.hex())
    finally:
        node.cleanup()


@pytest.fixture(scope="session")
def standalone_explorer(explorer_chain: ExplorerChain) -> Iterator[str]:
    """`causeway explorer --node <the node> --port 0` as a child process: the URL it serves."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "causeway.cli",
            "explorer",
            "--node",
            explorer_chain.node.http_url,
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        match = re.search(r"at (http://127\.0\.0\.1:[0-9]+)/explorer/", line)
        assert match, f"causeway explorer printed {line!r}"
        yield match.group(1)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _chromium() -> Path:
    if not CHROMIUM.exists():
        subprocess.run(["bash", str(REPOSITORY / "scripts" / "toolchain-chromium.sh")], check=True)
    assert CHROMIUM.exists(), f"no {CHROMIUM}: run scripts/toolchain-chromium.sh"
    return CHROMIUM


@pytest.fixture(scope="session")
def artefacts() -> Path:
    shutil.rmtree(ARTEFACTS, ignore_errors=True)
    ARTEFACTS.mkdir(parents=True)
    print(f"\nexplorer screenshots: {ARTEFACTS}")
    return ARTEFACTS


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """One Chromium per test module, with a fresh profile folder.

    Not one for the whole session: Playwright's synchronous API keeps its event loop marked as
    running in the main thread while the browser is open, and any asyncio test that pytest runs
    meanwhile (pytest-asyncio) would then fail to start its own loop."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(_chromium()),
            headless=True,
            args=CHROMIUM_ARGUMENTS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    """A new tab whose page errors fail the test."""
    tab = browser.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield tab
    finally:
        tab.close()
    assert not errors, errors


__all__ = ["Browser", "ExplorerChain"]
