from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from causeway.storage import Store

from . import _builders as build


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def empty_store(store_path: Path) -> Iterator[Store]:
    # As the node opens its store: the sole writer, with the index filter (index_filter.py).
    with Store(store_path, map_size_bytes=64 << 20, sole_writer=True) as store:
        yield store


@pytest.fixture
def store(empty_store: Store) -> Store:
    empty_store.save_genesis(build.GENESIS_BYTES, build.genesis_state(), build.genesis_update())
    return empty_store
