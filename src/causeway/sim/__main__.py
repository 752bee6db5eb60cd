"""Run simulation scenarios from the command line, many seeds at a time.

python -m causeway.sim list
python -m causeway.sim run tbft-4-twins-1 --seeds 100000 --workers 16
python -m causeway.sim replay tbft-4-twins-1 --seed 123 [--verbose]
python -m causeway.sim interchain --seeds 10000 --start 0 [--scenario mixed] [--workers 16]
python -m causeway.sim interchain --scenario mixed --start 123 --seeds 1 --verbose
python -m causeway.sim interchain --scenario hub-20 --seeds 1 --costs
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from collections.abc import Sequence

from causeway.sim.interchain import INTERCHAIN_SCENARIOS, hub_costs
from causeway.sim.interchain_checkers import check_interchain
from causeway.sim.runner import SeedOutcome, interchain_sweep, sweep
from causeway.sim.scenarios import SCENARIOS
from causeway.sim.simulation import SimulationFailure, SimulationResult


def describe(result: SimulationResult) -> str:
    lines = [
        f"seed {result.seed}: trace {result.trace_hash}, ended at {result.end_ms}ms"
        f"{' (goal reached)' if result.stopped_early else ''}",
        f"byzantine validators (twins): {', '.join(result.byzantine_validators) or 'none'}",
        f"statistics: {result.statistics}",
    ]
    for partition in result.partitions:
        lines.append(f"partition {partition.describe()}")
    for name, instance in result.instances.items():
        chain = instance.app.chain
        hashes = " ".join(block.block_hash.hex()[:8] for block in chain)
        role = "honest" if instance.honest else "twin"
        lines.append(
            f"{name:>8} ({role}, {instance.crashes} crashes): height {len(chain)}: {hashes}"
        )
    for record in result.history:
        lines.append(f"  {record.describe()}")
    return "\n".join(lines)


def main(arguments: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m causeway.sim", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the scenarios")
    run = commands.add_parser("run", help="run many seeds of a scenario")
    run.add_argument("scenario", choices=sorted(SCENARIOS))
    run.add_argument("--seeds", type=int, default=1000)
    run.add_argument("--first-seed", type=int, default=0)
    run.add_argument("--workers", type=int, default=multiprocessing.cpu_count())
    run.add_argument("--show", type=int, default=3, help="failures printed in full")
    replay = commands.add_parser("replay", help="run one seed and print what happened")
    replay.add_argument("scenario", choices=sorted(SCENARIOS))
    replay.add_argument("--seed", type=int, required=True)
    replay.add_argument("--verbose", action="store_true")
    interchain = commands.add_parser(
        "interchain", help="run seeds of a multi-chain scenario (chains, relayers, faults)"
    )
    interchain.add_argument("--scenario", choices=sorted(INTERCHAIN_SCENARIOS), default="mixed")
    interchain.add_argument("--seeds", type=int, default=1000)
    interchain.add_argument("--start", type=int, default=0, help="the first seed")
    interchain.add_argument("--workers", type=int, default=multiprocessing.cpu_count())
    interchain.add_argument("--show", type=int, default=3, help="failures printed in full")
    interchain.add_argument(
        "--verbose", action="store_true", help="print every run's faults and transactions"
    )
    interchain.add_argument(
        "--costs", action="store_true", help="print the first chain's (the hub's) fitted costs"
    )
    options = parser.parse_args(arguments)

    if options.command == "list":
        for name in sorted(SCENARIOS):
            scenario = SCENARIOS[name]
            expectation = " [expects violations]" if scenario.expects_violation else ""
            print(f"{name}{expectation}\n    {scenario.description}")
        for name in sorted(INTERCHAIN_SCENARIOS):
            interchain_scenario = INTERCHAIN_SCENARIOS[name]
            expectation = " [expects violations]" if interchain_scenario.expects_violation else ""
            print(f"interchain {name}{expectation}\n    {interchain_scenario.description}")
        return 0
    if options.command == "interchain":
        return _interchain(options)

    scenario = SCENARIOS[options.scenario]
    if options.command == "replay":
        result = scenario.run(options.seed)
        if options.verbose:
            print(describe(result))
        try:
            scenario.check(result)
        except SimulationFailure as error:
            print(error)
            return 0 if scenario.expects_violation else 1
        print(f"seed {options.seed}: all checks pass (trace {result.trace_hash})")
        return 1 if scenario.expects_violation else 0

    started = time.perf_counter()
    failures: list[SeedOutcome] = []
    done = 0
    slowest = 0.0
    for outcome in sweep(options.scenario, options.first_seed, options.seeds, options.workers):
        done += 1
        slowest = max(slowest, outcome.seconds)
        if outcome.failure is not None:
            failures.append(outcome)
            if not scenario.expects_violation and len(failures) <= options.show:
                print(outcome.failure, flush=True)
        if done % 1000 == 0:
            print(f"... {done} seeds, {len(failures)} failing", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    print(
        f"{options.scenario}: {done} seeds in {elapsed:.1f}s ({options.workers} workers, "
        f"slowest seed {slowest:.2f}s): {len(failures)} with violations"
    )
    if failures:
        print("failing seeds: " + " ".join(str(f.seed) for f in failures[:200]))
    if scenario.expects_violation:
        return 0 if len(failures) * 2 > done else 1
    return 1 if failures else 0


def _interchain(options: argparse.Namespace) -> int:
    scenario = INTERCHAIN_SCENARIOS[options.scenario]
    if options.verbose or options.costs:
        # One process, each run printed: the replay of a failing seed.
        failing = 0
        for seed in range(options.start, options.start + options.seeds):
            started = time.perf_counter()
            result = scenario.run(seed)
            seconds = time.perf_counter() - started
            if options.verbose:
                print(result.describe())
            if options.costs:
                hub = result.config.chains[0].chain_id
                print(
                    f"seed {seed}: {len(result.chains)} chains, {len(result.links)} links, "
                    f"{result.statistics['packets_sent']} packets, {seconds:.1f}s\n"
                    f"costs on {hub}: " + hub_costs(result, hub).describe()
                )
                for profile in ("intl", "gm"):
                    costs = hub_costs(result, hub, profile)
                    print(f"members {profile}: " + costs.describe().splitlines()[1])
            try:
                check_interchain(result)
            except SimulationFailure as error:
                failing += 1
                print(error)
            else:
                print(f"seed {seed}: all checks pass (trace {result.trace_hash})")
        if scenario.expects_violation:
            return 0 if failing * 2 > options.seeds else 1
        return 1 if failing else 0
    started = time.perf_counter()
    failures: list[SeedOutcome] = []
    done = 0
    slowest = 0.0
    for outcome in interchain_sweep(
        options.scenario, options.start, options.seeds, options.workers
    ):
        done += 1
        slowest = max(slowest, outcome.seconds)
        if outcome.failure is not None:
            failures.append(outcome)
            if not scenario.expects_violation and len(failures) <= options.show:
                print(outcome.failure, flush=True)
        if done % 1000 == 0:
            print(f"... {done} seeds, {len(failures)} failing", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    print(
        f"interchain {options.scenario}: {done} seeds in {elapsed:.1f}s ({options.workers} "
        f"workers, slowest seed {slowest:.2f}s): {len(failures)} with violations"
    )
    if failures:
        print("failing seeds: " + " ".join(str(f.seed) for f in failures[:200]))
    if scenario.expects_violation:
        return 0 if len(failures) * 2 > done else 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
