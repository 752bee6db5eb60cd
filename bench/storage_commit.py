"""How long Store.commit_block takes for a large block, durability (fsync) included.

    .venv/bin/python bench/storage_commit.py [--blocks 20] [--warmup 3] [--transactions 5000]
        [--state-changes 10000] [--tree-nodes 20000] [--node-keys versioned|random] [--path DIR]

Blocks are generated before the clock starts; only commit_block is timed. Each block has the
given number of transactions (about 1 KB of encoded transaction plus result, one event each),
state changes (half rewrite keys of earlier blocks, 1 in 20 is a deletion, the rest are new
keys) and new tree nodes; it retires the previous block's nodes, as a tree update would.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import tempfile
import time
from pathlib import Path

from causeway.state import TreeUpdate
from causeway.storage import BlockRecord, Store
from causeway.types import encode
from causeway.types.v1 import types_pb2


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


class Workload:
    def __init__(self, arguments: argparse.Namespace) -> None:
        self.arguments = arguments
        self.rng = random.Random(7)
        self.state_keys: list[bytes] = []
        self.previous_nodes: list[bytes] = []
        self.previous_hash = bytes(32)

    def node_key(self, version: int) -> bytes:
        if self.arguments.node_keys == "versioned":
            # (version, path): what the state tree's node keys are specified to encode.
            return version.to_bytes(8, "big") + self.rng.randbytes(9)
        return self.rng.randbytes(32)

    def block(self, height: int) -> BlockRecord:
        rng = self.rng
        transactions: list[types_pb2.Transaction] = []
        results: list[types_pb2.TransactionResult] = []
        ids: list[bytes] = []
        for index in range(self.arguments.transactions):
            body = encode(
                types_pb2.TransactionBody(
                    version=1,
                    chain_id="bench",
                    nonce=rng.randbytes(16),
                    timestamp_ms=1_800_000_000_000 + height,
                    expiry_ms=1_800_000_060_000 + height,
                    contract="directory",
                    method="register",
                    arguments=rng.randbytes(420),
                    sender="org1/client",
                )
            )
            transaction_id = sha256(body)
            transactions.append(types_pb2.Transaction(body=body, signature=rng.randbytes(72)))
            ids.append(transaction_id)
            results.append(
                types_pb2.TransactionResult(
                    transaction_id=transaction_id,
                    status=types_pb2.RESULT_STATUS_OK,
                    return_value=rng.randbytes(64),
                    events=[
                        types_pb2.Event(
                            contract="directory",
                            name="ResourceRegistered" if index % 2 else "ResourceUpdated",
                            attributes=[
                                types_pb2.EventAttribute(
                                    key="resource", value=f"r-{height}-{index}"
                                ),
                                types_pb2.EventAttribute(key="owner", value="org1"),
                            ],
                            data=rng.randbytes(128),
                        )
                    ],
                    cost=types_pb2.Cost(gas_used=1000, reads=3, writes=2, bytes_written=300),
                )
            )
        changes: dict[bytes, bytes | None] = {}
        rewrites = min(len(self.state_keys), self.arguments.state_changes // 2)
        for key in rng.sample(self.state_keys, rewrites):
            changes[key] = None if rng.random() < 0.05 else rng.randbytes(100)
        while len(changes) < self.arguments.state_changes:
            key = b"directory/resource/" + rng.randbytes(16).hex().encode()
            changes[key] = rng.randbytes(100)
            self.state_keys.append(key)
        new_nodes = {
            self.node_key(height): rng.randbytes(70) for _ in range(self.arguments.tree_nodes)
        }
        root = sha256(height.to_bytes(8, "big"))
        header = types_pb2.BlockHeader(
            version=1,
            chain_id="bench",
            height=height,
            previous_hash=self.previous_hash,
            time_ms=1_800_000_000_000 + height,
            proposer="org1/validator",
            transactions_root=sha256(b"".join(ids)),
            results_root=sha256(b"results"),
            state_root=root,
            transaction_count=len(transactions),
            genesis_hash=bytes(32),
        )
        block_hash = sha256(encode(header))
        self.previous_hash = block_hash
        update = TreeUpdate(
            version=height,
            root_hash=root,
            new_nodes=new_nodes,
            stale_node_keys=self.previous_nodes,
        )
        self.previous_nodes = list(new_nodes)
        return BlockRecord(
            block=types_pb2.Block(header=header, transactions=transactions),
            block_hash=block_hash,
            certificate=types_pb2.CommitCertificate(
                height=height,
                block_hash=block_hash,
                signatures=[
                    types_pb2.CommitSignature(validator="org1/validator", signature=bytes(72))
                ],
            ),
            results=results,
            transaction_ids=ids,
            state_changes=changes,
            tree_update=update,
        )


def summary(timings_ms: list[float]) -> str:
    ordered = sorted(timings_ms)
    p90 = ordered[max(0, int(len(ordered) * 0.9) - 1)]
    return (
        f"min {ordered[0]:6.1f} ms  median {statistics.median(ordered):6.1f} ms  "
        f"p90 {p90:6.1f} ms  max {ordered[-1]:6.1f} ms"
    )


def run(arguments: argparse.Namespace, path: Path) -> None:
    workload = Workload(arguments)
    total = arguments.warmup + arguments.blocks
    print(f"generating {total} blocks ...", flush=True)
    records = [workload.block(height) for height in range(1, total + 1)]
    encoded = sum(
        len(encode(transaction)) + len(encode(result))
        for transaction, result in zip(
            records[0].block.transactions, records[0].results, strict=True
        )
    )
    print(
        f"block: {arguments.transactions} transactions ({encoded / arguments.transactions:.0f} "
        f"bytes each, transaction + result), {arguments.state_changes} state changes, "
        f"{arguments.tree_nodes} tree nodes ({arguments.node_keys} keys)"
    )
    timings_ms: list[float] = []
    cpu_timings_ms: list[float] = []
    with Store(path) as store:
        store.save_genesis(b"bench genesis", {}, TreeUpdate(version=0, root_hash=bytes(32)))
        for record in records:
            started = time.perf_counter()
            cpu_started = time.process_time()
            store.commit_block(record)
            elapsed_ms = (time.perf_counter() - started) * 1000
            cpu_ms = (time.process_time() - cpu_started) * 1000
            if record.block.header.height > arguments.warmup:
                timings_ms.append(elapsed_ms)
                cpu_timings_ms.append(cpu_ms)
        size_bytes = sum(file.stat().st_size for file in path.iterdir())
        started = time.perf_counter()
        pruned = store.prune_state(total - 2)
        prune_ms = (time.perf_counter() - started) * 1000
    print(f"commit_block over {len(timings_ms)} blocks (after {arguments.warmup} warm-up):")
    print(f"  wall time    {summary(timings_ms)}")
    print(f"  CPU time     {summary(cpu_timings_ms)}   (the rest is waiting for the disk)")
    print(
        f"store size {size_bytes / 2**20:.0f} MiB; prune_state({total - 2}) deleted {pruned} "
        f"records in {prune_ms:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--transactions", type=int, default=5000)
    parser.add_argument("--state-changes", type=int, default=10_000)
    parser.add_argument("--tree-nodes", type=int, default=20_000)
    parser.add_argument("--node-keys", choices=("versioned", "random"), default="versioned")
    parser.add_argument("--path", type=Path, default=None, help="store folder (default: a temp)")
    arguments = parser.parse_args()
    if arguments.path is not None:
        run(arguments, arguments.path)
        return
    with tempfile.TemporaryDirectory(prefix="causeway-bench-") as directory:
        run(arguments, Path(directory) / "store")


if __name__ == "__main__":
    main()
