"""Seed sweeps for the simulation tests: run a scenario over many seeds, report failures with
the seed and the command that replays it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from causeway.sim import SimulationFailure, SimulationResult
from causeway.sim.runner import interchain_sweep
from causeway.sim.scenarios import Scenario

FAILING_SEEDS_SHOWN = 20


@dataclass(frozen=True, slots=True)
class SeedPlan:
    count: int | None
    first: int
    only: int | None

    def seeds(self, default: int) -> list[int]:
        """The seeds of one sweep: the given one alone, or ``count`` (else ``default``) of them."""
        if self.only is not None:
            return [self.only]
        count = self.count if self.count is not None else default
        return list(range(self.first, self.first + count))


@dataclass(slots=True)
class Sweep:
    scenario: Scenario
    seeds: list[int]
    failures: list[tuple[int, SimulationFailure]] = field(default_factory=list)
    results: list[SimulationResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failing_seeds(self) -> list[int]:
        return [seed for seed, _ in self.failures]

    def summary(self) -> str:
        return (
            f"{self.scenario.name}: {len(self.failures)} of {len(self.seeds)} seeds fail "
            f"({self.seconds:.1f}s)"
        )


def run_sweep(scenario: Scenario, seeds: list[int], *, keep_results: bool = False) -> Sweep:
    sweep = Sweep(scenario, seeds)
    started = time.perf_counter()
    for seed in seeds:
        result = scenario.run(seed)
        if keep_results:
            sweep.results.append(result)
        try:
            scenario.check(result)
        except SimulationFailure as failure:
            sweep.failures.append((seed, failure))
    sweep.seconds = time.perf_counter() - started
    return sweep


def assert_sweep_passes(scenario: Scenario, seeds: list[int]) -> Sweep:
    """Every seed passes the scenario's checks; else the first failure, with its replay command,
    and the list of the other failing seeds."""
    sweep = run_sweep(scenario, seeds)
    if sweep.failures:
        _, first = sweep.failures[0]
        others = sweep.failing_seeds[1 : FAILING_SEEDS_SHOWN + 1]
        more = f"\nother failing seeds: {others}" if others else ""
        raise AssertionError(f"{sweep.summary()}\n{first}{more}") from first
    return sweep


def assert_violations_found(scenario: Scenario, seeds: list[int], share: float = 0.5) -> Sweep:
    """The checkers catch the broken setting in more than ``share`` of the seeds."""
    sweep = run_sweep(scenario, seeds)
    found = len(sweep.failures)
    if len(seeds) == 1:
        assert found == 1, f"seed {seeds[0]} of {scenario.name}: no violation found"
    else:
        passing = [seed for seed in seeds if seed not in set(sweep.failing_seeds)]
        assert found > share * len(seeds), (
            f"{scenario.name}: the checkers found violations in only {found} of {len(seeds)} "
            f"seeds; seeds without one: {passing[:FAILING_SEEDS_SHOWN]}"
        )
    return sweep


def assert_interchain_sweep_passes(name: str, seeds: list[int], workers: int) -> None:
    """Every seed of the multi-chain scenario ``name`` passes every checker (run over
    ``workers`` processes when there are 50 seeds or more); else the first failure, with its
    replay command, and the other failing seeds."""
    failures = [
        outcome
        for outcome in interchain_sweep(
            name, seeds[0], len(seeds), workers if len(seeds) >= 50 else 1
        )
        if outcome.failure is not None
    ]
    if failures:
        others = [outcome.seed for outcome in failures[1 : FAILING_SEEDS_SHOWN + 1]]
        more = f"\nother failing seeds: {others}" if others else ""
        raise AssertionError(
            f"interchain {name}: {len(failures)} of {len(seeds)} seeds fail\n"
            f"{failures[0].failure}{more}"
        )
