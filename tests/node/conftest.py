"""Fixtures of the node tests. A module using `replicas` defines the `network` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from replica_support import Replica, make_replica

from causeway.crypto import BatchVerifier
from causeway.provisioning.description import NetworkDescription


@pytest.fixture
def replicas(network: NetworkDescription, tmp_path: Path) -> Iterator[tuple[Replica, Replica]]:
    with BatchVerifier(threads=1) as verifier:
        first = make_replica(network, tmp_path / "first", verifier)
        second = make_replica(network, tmp_path / "second", verifier)
        try:
            yield first, second
        finally:
            first.store.close()
            second.store.close()
