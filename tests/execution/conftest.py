from __future__ import annotations

import pytest
from execution_chain import Chain, ChainKit, build_kit, new_chain


@pytest.fixture(scope="session")
def kit() -> ChainKit:
    return build_kit("intl")


@pytest.fixture(scope="session")
def gm_kit() -> ChainKit:
    return build_kit("gm")


@pytest.fixture
def chain(kit: ChainKit) -> Chain:
    return new_chain(kit)
