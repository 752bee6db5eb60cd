"""Fixtures of the end-to-end suite: networks on disk and real node processes.

Every node a test starts is stopped by a finaliser (SIGTERM, then SIGKILL), whatever happens in the
test; when a test fails, the tail of every involved node's log is added to its report.
"""

from __future__ import annotations

import sys
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from node_harness import LIVE_NODES, NodeFactory, NodeProcess, create_network  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for node in LIVE_NODES:
            report.sections.append(
                (f"log of the node in {node.network.node_home}", node.log_tail() or "(empty)")
            )


@pytest.fixture
def make_node(tmp_path: Path) -> Iterator[NodeFactory]:
    """``make_node("intl")``: a new network in tmp_path and its node, started unless
    ``start=False``. Every node made is stopped when the test ends."""
    nodes: list[NodeProcess] = []

    def make(crypto_profile: str = "intl", *, start: bool = True) -> NodeProcess:
        directory = tmp_path / f"network-{len(nodes) + 1}-{crypto_profile}"
        network = create_network(directory, crypto_profile)
        node = NodeProcess(network, directory / "node.log")
        nodes.append(node)
        if start:
            node.start()
        return node

    try:
        yield make
    finally:
        for node in nodes:
            node.cleanup()


@pytest.fixture(scope="module")
def shared_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """One running intl node for a whole module of tests that leave it as they found it."""
    directory = tmp_path_factory.mktemp("shared-network")
    node = NodeProcess(create_network(directory / "network", "intl"), directory / "node.log")
    try:
        node.start()
        yield node
    finally:
        node.cleanup()
