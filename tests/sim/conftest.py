"""Options of the simulation suite: how many seeds each sweep runs, and replaying one seed.

* ``--sim-seeds N`` (or ``CAUSEWAY_SIM_SEEDS=N``): every seed sweep runs N seeds instead of its
  CI default (e.g. ``--sim-seeds 100000`` for an offline run). The option is known when pytest is
  given this folder (``pytest tests/sim --sim-seeds N``); the variable works everywhere.
* ``CAUSEWAY_SIM_FIRST_SEED=S``: sweeps start at seed S instead of 0.
* ``CAUSEWAY_SIM_SEED=S``: every sweep runs seed S alone (what a failure's replay command sets).

Every test here carries the ``slow`` marker.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from sim_support import SeedPlan  # noqa: E402

SEEDS_ENVIRONMENT = "CAUSEWAY_SIM_SEEDS"
SEED_ENVIRONMENT = "CAUSEWAY_SIM_SEED"
FIRST_SEED_ENVIRONMENT = "CAUSEWAY_SIM_FIRST_SEED"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("causeway-sim", "Causeway simulation")
    group.addoption(
        "--sim-seeds",
        type=int,
        default=None,
        metavar="N",
        help=f"seeds per simulation sweep (default: the CI counts; also ${SEEDS_ENVIRONMENT})",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every simulation test is `slow` (still part of the default suite; `-m "not slow"` skips)."""
    here = Path(_HERE)
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.slow)


def _environment_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        raise pytest.UsageError(f"{name} must be an integer, not {value!r}") from None


@pytest.fixture(scope="session")
def seed_plan(pytestconfig: pytest.Config) -> SeedPlan:
    option = pytestconfig.getoption("--sim-seeds", default=None)
    count = option if isinstance(option, int) else _environment_int(SEEDS_ENVIRONMENT)
    if count is not None and count < 1:
        raise pytest.UsageError("the number of simulation seeds must be at least 1")
    return SeedPlan(
        count=count,
        first=_environment_int(FIRST_SEED_ENVIRONMENT) or 0,
        only=_environment_int(SEED_ENVIRONMENT),
    )
