"""Resource registrations on a directory chain: sustained registrations per second on a
4-validator tbft chain, each one a `register_resource` transaction signed by its department's
member and executed by the directory contract (WebAssembly), read from the chain's own blocks.

    causeway devnet up --manifest bench/directory-chain.toml --dir /tmp/dr
    .venv/bin/python bench/directory_registration.py --devnet /tmp/dr [--resources 5000]
        [--batch 200] [--in-flight 4]

The directory contract is deployed on the chain (by governance) and given the generated scheme
and departments (causeway.apps.directory.loading) unless it is there already; then
``--resources`` generated resources are registered, ``--batch`` a SubmitBatch and ``--in-flight``
batches waiting at once. Throughput counts the registrations committed over the time from the
first block that holds one to the last (block times, from the chain's headers), and the wall
time from the first submission to the last commit; the mean gas and transaction size are the
contract's cost of a registration.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from causeway.apps.directory import catalogue
from causeway.apps.directory.contract import build_contract
from causeway.apps.directory.loading import DirectoryLoader
from causeway.apps.directory.v1 import directory_pb2
from causeway.provisioning import load_devnet_description

CHAIN = "beijing"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devnet", type=Path, required=True)
    parser.add_argument("--chain", default=CHAIN)
    parser.add_argument("--resources", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--in-flight", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()
    chain = load_devnet_description(options.devnet).chain(options.chain)
    loader = DirectoryLoader(chain, timeout_s=300.0)
    try:
        departments = catalogue.city_departments(min(40, loader.department_capacity()))
        if not loader.deployed():
            module, interface = build_contract()
            loader.deploy(
                Path(module).read_bytes(),
                Path(interface).read_text(encoding="utf-8"),
                directory_pb2.DirectoryInitArguments(
                    directory_id="beijing",
                    level=directory_pb2.DIRECTORY_LEVEL_CITY,
                    name="北京市政务信息资源目录",
                    administrator_organisations=["org1"],
                ),
            )
            loader.set_scheme()
            placed = loader.set_departments(departments)
        else:
            placed = [
                directory_pb2.Department(
                    code=department.code,
                    organisation=loader.department_organisation(number),
                    name=department.name,
                    duties=list(department.duties),
                )
                for number, department in enumerate(departments)
            ]
        _, calls = loader.registrations(placed, options.resources, options.seed)
        # Every member's client made before the clock starts (each opens a connection).
        for member, _, _ in calls:
            loader.client(member)
        started = time.perf_counter()
        results = loader.submit(
            calls,
            "registering",
            batch=options.batch,
            in_flight=options.in_flight,
        )
        wall_s = time.perf_counter() - started
        identifiers = {result.transaction_id for result in results}
        heights: list[int] = []
        times_ms: list[int] = []
        latest = loader.admin.status().height
        # The blocks that hold the registrations: the newest ones, read back until all found.
        height = latest
        found = 0
        while found < len(identifiers) and height > 0:
            block = loader.admin.get_block(height)
            count = sum(1 for result in block.results if result.transaction_id in identifiers)
            if count:
                found += count
                heights.append(height)
                times_ms.append(block.block.header.time_ms)
            height -= 1
        span_s = (max(times_ms) - min(times_ms)) / 1000 if len(times_ms) > 1 else 0.0
        gas = statistics.fmean(result.cost.gas_used for result in results)
        print(
            f"{len(results):,} registrations on {chain.id} ({chain.consensus}, "
            f"{chain.validators} validators) in {len(heights)} blocks: "
            f"{len(results) / wall_s:,.0f} per second from first submission to last commit "
            f"({wall_s:.1f} s), "
            + (
                f"{len(results) / span_s:,.0f} per second between the first and last block "
                f"({span_s:.1f} s); "
                if span_s
                else ""
            )
            + f"mean gas {gas:,.0f} per registration"
        )
    finally:
        loader.close()


if __name__ == "__main__":
    main()
