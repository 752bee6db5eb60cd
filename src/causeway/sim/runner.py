"""Many seeds of a scenario, in worker processes (used by ``python -m causeway.sim``)."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from dataclasses import dataclass

from causeway.sim.interchain import INTERCHAIN_SCENARIOS, InterchainScenario
from causeway.sim.interchain_checkers import check_interchain
from causeway.sim.scenarios import SCENARIOS, Scenario
from causeway.sim.simulation import SimulationFailure

CHUNK_SEEDS = 50


@dataclass(frozen=True, slots=True)
class SeedOutcome:
    seed: int
    failure: str | None
    trace_hash: str
    seconds: float


def run_seed(scenario: Scenario, seed: int) -> SeedOutcome:
    started = time.perf_counter()
    result = scenario.run(seed)
    failure: str | None = None
    try:
        scenario.check(result)
    except SimulationFailure as error:
        failure = str(error)
    return SeedOutcome(seed, failure, result.trace_hash, time.perf_counter() - started)


def _run_chunk(arguments: tuple[str, int, int]) -> list[SeedOutcome]:
    name, first, count = arguments
    scenario = SCENARIOS[name]
    return [run_seed(scenario, seed) for seed in range(first, first + count)]


def _chunks(first: int, count: int) -> Iterator[tuple[int, int]]:
    for start in range(first, first + count, CHUNK_SEEDS):
        yield start, min(CHUNK_SEEDS, first + count - start)


def sweep(name: str, first: int, count: int, workers: int) -> Iterator[SeedOutcome]:
    """Outcomes of seeds first..first+count-1, in chunks, over `workers` processes."""
    tasks = [(name, start, size) for start, size in _chunks(first, count)]
    if workers <= 1:
        for task in tasks:
            yield from _run_chunk(task)
        return
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for outcomes in pool.imap(_run_chunk, tasks):
            yield from outcomes


def run_interchain_seed(scenario: InterchainScenario, seed: int) -> SeedOutcome:
    started = time.perf_counter()
    result = scenario.run(seed)
    failure: str | None = None
    try:
        check_interchain(result)
    except SimulationFailure as error:
        failure = str(error)
    return SeedOutcome(seed, failure, result.trace_hash, time.perf_counter() - started)


def _run_interchain_chunk(arguments: tuple[str, int, int]) -> list[SeedOutcome]:
    name, first, count = arguments
    scenario = INTERCHAIN_SCENARIOS[name]
    return [run_interchain_seed(scenario, seed) for seed in range(first, first + count)]


def interchain_sweep(name: str, first: int, count: int, workers: int) -> Iterator[SeedOutcome]:
    """Outcomes of the multi-chain scenario ``name`` for seeds first..first+count-1."""
    tasks = [(name, start, size) for start, size in _chunks(first, count)]
    if workers <= 1:
        for task in tasks:
            yield from _run_interchain_chunk(task)
        return
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for outcomes in pool.imap(_run_interchain_chunk, tasks):
            yield from outcomes
