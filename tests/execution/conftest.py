from __future__ import annotations

import pytest
from execution_chain import Chain, ChainKit, build_kit, new_chain
from validator_chain import build_validator_kit


@pytest.fixture(scope="session")
def kit() -> ChainKit:
    return build_kit("intl")


@pytest.fixture(scope="session")
def gm_kit() -> ChainKit:
    return build_kit("gm")


@pytest.fixture(scope="session")
def validator_kit() -> ChainKit:
    return build_validator_kit("intl")


@pytest.fixture(scope="session")
def gm_validator_kit() -> ChainKit:
    return build_validator_kit("gm")


@pytest.fixture
def chain(kit: ChainKit) -> Chain:
    return new_chain(kit)
