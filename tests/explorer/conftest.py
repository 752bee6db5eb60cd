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

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from explorer_harness import (
    ADMIN,
    ARTEFACTS,
    CLIENT,
    ISSUED,
    RECIPIENT,
    TRANSFERRED,
    ExplorerChain,
    GmChain,
    chromium_context,
    commit_history,
)
from node_harness import NodeProcess, create_network
from playwright.sync_api import BrowserContext, Page

from causeway.contracts.v1 import contracts_pb2


@pytest.fixture(scope="session")
def explorer_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExplorerChain]:
    directory = tmp_path_factory.mktemp("explorer-network")
    network = create_network(directory / "network", "intl")
    node = NodeProcess(network, directory / "node.log")
    try:
        node.start()
        yield commit_history(node)
    finally:
        node.cleanup()


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
    with chromium_context(profile) as context:
        yield context


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
