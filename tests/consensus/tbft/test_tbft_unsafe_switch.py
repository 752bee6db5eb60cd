"""The switch that turns tbft's locking off (to show that the safety checkers catch a broken
rule) is off unless a caller asks for it, at every place a core is made: a mutant turning it on
by default survived every other test (docs/testing.md), since the tests that use it pass it."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from causeway.consensus.engines.tbft import TbftKind
from causeway.consensus.tbft import TbftCore
from causeway.sim.cores import TbftEngine as SimulatedTbftEngine

SWITCH = "unsafe_disable_locking_for_tests"


@pytest.mark.parametrize(
    "make",
    [TbftCore, TbftCore.restore, TbftKind, SimulatedTbftEngine],
    ids=["TbftCore", "TbftCore.restore", "engines.TbftKind", "sim.TbftEngine"],
)
def test_locking_is_on_unless_asked(make: Callable[..., Any]) -> None:
    assert inspect.signature(make).parameters[SWITCH].default is False


@pytest.mark.parametrize("kind", [TbftKind, SimulatedTbftEngine], ids=["engines", "sim"])
def test_the_name_says_when_it_is_off(kind: Callable[..., Any]) -> None:
    assert kind().name == "tbft"
    assert kind(unsafe_disable_locking_for_tests=True).name == "tbft-unsafe-no-locking"
