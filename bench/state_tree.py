"""How long StateTree.apply takes for one block's state changes on a large tree.

    .venv/bin/python bench/state_tree.py [--keys 100000] [--updates 10000] [--rounds 7]
        [--insert-fraction 0.3] [--delete-fraction 0.05] [--hash sha256|sm3] [--profile]
        [--gc default|freeze|off]

The tree is built with --keys keys at version 0 and kept in a dict (the in-memory NodeReader).
Each timed round applies --updates changes (updates of existing keys, new keys and deletions in
the given fractions) and then commits them. "warm" rounds use the tree that committed the previous
version (its node cache holds the latest nodes); the "cold" round uses a fresh StateTree over the
same dict, so every node it touches is read and decoded. Hashing of keys and values is included.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import random
import statistics
import time
from collections.abc import Callable

from pyinstrument import Profiler

from causeway.state import StateTree, TreeUpdate, compute_root, verify_state_proof


class DictReader:
    def __init__(self) -> None:
        self.nodes: dict[bytes, bytes] = {}

    def get_state_node(self, node_key: bytes) -> bytes | None:
        return self.nodes.get(node_key)

    def write(self, update: TreeUpdate) -> None:
        # Stale nodes stay: a real store deletes them only when it prunes.
        self.nodes.update(update.new_nodes)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def account_key(number: int) -> bytes:
    return b"ledger/balance/org1/account-%09d" % number


def make_updates(
    rng: random.Random,
    live: list[int],
    *,
    next_key: int,
    count: int,
    insert_fraction: float,
    delete_fraction: float,
) -> tuple[dict[bytes, bytes | None], int]:
    updates: dict[bytes, bytes | None] = {}
    inserts = int(count * insert_fraction)
    deletes = int(count * delete_fraction)
    for _ in range(inserts):
        live.append(next_key)
        updates[account_key(next_key)] = rng.randbytes(40)
        next_key += 1
    while len(updates) < count - deletes:
        updates[account_key(rng.choice(live))] = rng.randbytes(40)
    while len(updates) < count:
        index = rng.randrange(len(live))
        number = live[index]
        live[index] = live[-1]
        live.pop()
        updates[account_key(number)] = None
    return updates, next_key


def apply_to(current: dict[bytes, bytes], updates: dict[bytes, bytes | None]) -> None:
    for key, value in updates.items():
        if value is None:
            current.pop(key, None)
        else:
            current[key] = value


def timed(function: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return (time.perf_counter() - start) * 1000, result


def timed_with_cpu(function: Callable[[], object]) -> tuple[float, float, object]:
    """Wall-clock and this thread's CPU milliseconds: CPU time shows the cost of the code itself
    when other processes share the machine."""
    start = time.perf_counter()
    start_cpu = time.thread_time()
    result = function()
    return (time.perf_counter() - start) * 1000, (time.thread_time() - start_cpu) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--insert-fraction", type=float, default=0.3)
    parser.add_argument("--delete-fraction", type=float, default=0.05)
    parser.add_argument("--hash", choices=["sha256", "sm3"], default="sha256")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="profile the warm rounds")
    parser.add_argument(
        "--gc",
        choices=["default", "freeze", "off"],
        default="default",
        help="after the build: leave the garbage collector alone, gc.freeze(), or also disable it",
    )
    arguments = parser.parse_args()

    hash_function = sha256 if arguments.hash == "sha256" else sm3
    rng = random.Random(arguments.seed)
    reader = DictReader()
    tree = StateTree(hash_function, reader)

    genesis = {account_key(number): rng.randbytes(40) for number in range(arguments.keys)}
    current = dict(genesis)
    live = list(range(arguments.keys))
    next_key = arguments.keys
    build_ms, built = timed(lambda: tree.apply(0, genesis))
    assert isinstance(built, TreeUpdate)
    reader.write(built)
    tree.committed(built)
    print(
        f"build: {arguments.keys} keys at version 0 in {build_ms:.0f} ms, "
        f"{len(built.new_nodes)} nodes, "
        f"{sum(len(data) for data in built.new_nodes.values()) / 1e6:.1f} MB"
    )
    recompute_ms, root = timed(lambda: compute_root(genesis, hash_function))
    assert root == built.root_hash
    print(f"compute_root from scratch over {arguments.keys} keys: {recompute_ms:.0f} ms")
    if arguments.gc != "default":
        gc.collect()
        gc.freeze()
        if arguments.gc == "off":
            gc.disable()

    profiler = None
    if arguments.profile:
        profiler = Profiler(interval=0.0005)

    warm_ms: list[float] = []
    warm_cpu_ms: list[float] = []
    new_node_counts: list[int] = []
    stale_counts: list[int] = []
    version = 0
    for _ in range(arguments.rounds):
        updates, next_key = make_updates(
            rng,
            live,
            next_key=next_key,
            count=arguments.updates,
            insert_fraction=arguments.insert_fraction,
            delete_fraction=arguments.delete_fraction,
        )
        version += 1
        if profiler is not None:
            profiler.start()
        elapsed_ms, cpu_ms, update = timed_with_cpu(
            lambda: tree.apply(version, updates)  # noqa: B023
        )
        if profiler is not None:
            profiler.stop()
        assert isinstance(update, TreeUpdate)
        warm_ms.append(elapsed_ms)
        warm_cpu_ms.append(cpu_ms)
        new_node_counts.append(len(update.new_nodes))
        stale_counts.append(len(update.stale_node_keys))
        reader.write(update)
        tree.committed(update)
        apply_to(current, updates)

    updates, next_key = make_updates(
        rng,
        live,
        next_key=next_key,
        count=arguments.updates,
        insert_fraction=arguments.insert_fraction,
        delete_fraction=arguments.delete_fraction,
    )
    cold_tree = StateTree(hash_function, reader)
    version += 1
    cold_ms, cold_cpu_ms, cold_update = timed_with_cpu(lambda: cold_tree.apply(version, updates))
    assert isinstance(cold_update, TreeUpdate)
    reader.write(cold_update)
    cold_tree.committed(cold_update)
    apply_to(current, updates)
    assert cold_update.root_hash == compute_root(current, hash_function)

    print(
        f"apply {arguments.updates} updates ({arguments.insert_fraction:.0%} new keys, "
        f"{arguments.delete_fraction:.0%} deletions) on ~{len(live)} keys, {arguments.hash}:"
    )
    print(
        f"  warm cache: median {statistics.median(warm_ms):.1f} ms, "
        f"min {min(warm_ms):.1f} ms, max {max(warm_ms):.1f} ms over {len(warm_ms)} rounds; "
        f"CPU median {statistics.median(warm_cpu_ms):.1f} ms, min {min(warm_cpu_ms):.1f} ms"
    )
    print(
        f"  cold cache: {cold_ms:.1f} ms, CPU {cold_cpu_ms:.1f} ms "
        "(every node read from the dict and decoded)"
    )
    print(
        f"  per version: {statistics.median(new_node_counts):.0f} new nodes, "
        f"{statistics.median(stale_counts):.0f} stale nodes"
    )

    keys = [account_key(number) for number in rng.sample(live, 1000)]
    prove_ms, proofs = timed(lambda: [cold_tree.prove(key, version) for key in keys])
    assert isinstance(proofs, list)
    values = [current[key] for key in keys]
    root = cold_update.root_hash
    verify_ms, _ = timed(
        lambda: [
            verify_state_proof(root, key, value, proof, hash_function)
            for key, value, proof in zip(keys, values, proofs, strict=True)
        ]
    )
    print(
        f"  prove: {prove_ms / len(keys) * 1000:.0f} us per key, verify: "
        f"{verify_ms / len(keys) * 1000:.0f} us per proof; "
        f"{statistics.mean(len(proof.siblings) for proof in proofs):.1f} siblings on average"
    )

    if profiler is not None:
        print(profiler.output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    main()
