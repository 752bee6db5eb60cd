"""Acknowledged blocks survive the writer being killed at any moment.

A writer process commits blocks and prints each height once commit_block has returned; the test
kills it with SIGKILL at random moments, reopens the store and checks that nothing acknowledged
is missing or partial and that the latest height never goes back. (SIGKILL loses everything the
process had not handed to the kernel; power loss is covered by LMDB's fsync on commit.)
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from causeway.storage import Store, schema

from . import _builders as build

# Run the writer as a module of this test package, from the folder that holds the package.
PACKAGE_ROOT = Path(__file__).resolve().parents[__package__.count(".") + 1]
WRITER = f"{__package__}._crash_writer"
ROUNDS = 10
SEED = 20261121
TRANSACTIONS = 20  # as in _crash_writer.py


def run_writer_until_killed(store_path: Path, rng: random.Random) -> list[int]:
    """Starts the writer, kills it after a random delay; returns the heights it acknowledged."""
    with subprocess.Popen(
        [sys.executable, "-m", WRITER, str(store_path)],
        cwd=PACKAGE_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        ready = process.stdout.readline()
        if not ready.startswith("ready"):
            process.kill()
            _, errors = process.communicate()
            raise AssertionError(f"writer failed to start: {ready!r} {errors}")
        time.sleep(rng.uniform(0.02, 0.3))
        process.send_signal(signal.SIGKILL)
        process.wait()
        # Read through the same buffered stream readline used: communicate() would read the pipe
        # directly and miss the lines readline had already taken into its buffer (on a loaded
        # machine the writer can acknowledge a block before the test reads "ready").
        output = process.stdout.read()
        assert process.stderr is not None
        errors = process.stderr.read()
    assert process.returncode == -signal.SIGKILL, errors
    assert errors == "", errors
    return [int(line.split()[1]) for line in output.splitlines() if line.startswith("committed")]


def assert_block_complete(store: Store, height: int, earliest_state_version: int) -> None:
    expected = build.record(height, transactions=TRANSACTIONS)
    assert store.get_block(height) == expected.block
    assert store.get_block_hash(height) == expected.block_hash
    assert store.get_certificate(height) == expected.certificate
    assert store.get_results(height) == expected.results
    assert store.has_transactions(expected.transaction_ids) == [True] * TRANSACTIONS
    assert store.find_transaction(expected.transaction_ids[-1]) == (height, TRANSACTIONS - 1)
    if height >= earliest_state_version:
        for key in expected.state_changes:
            assert store.get_state(key, height) == build.expected_state(key, height)
    for node_key, node in expected.tree_update.new_nodes.items():
        if height >= earliest_state_version:
            assert store.get_state_node(node_key) == node


def test_acknowledged_blocks_survive_sigkill(store_path: Path) -> None:
    rng = random.Random(SEED)
    previous_latest = 0
    acknowledged = 0
    killed_inside_a_move = 0
    for round_number in range(ROUNDS):
        heights = run_writer_until_killed(store_path, rng)
        if heights:
            assert heights == list(range(heights[0], heights[-1] + 1))
            acknowledged = heights[-1]
        # Every other round as a node opens its store (filters built from the runs, with the
        # ids still waiting for a run in progress), the others reading the runs themselves.
        with Store(store_path, sole_writer=round_number % 2 == 0) as store:
            latest = store.latest_height()
            context = f"seed {SEED}, round {round_number}: latest {latest}"
            assert latest >= acknowledged, f"{context}, acknowledged {acknowledged}"
            assert latest >= previous_latest, f"{context}, was {previous_latest}"
            # At most the one block in flight when the kill came may be there unacknowledged.
            assert latest <= acknowledged + 1, context
            earliest = store.earliest_state_version()
            for height in range(previous_latest + 1, latest + 1):
                assert_block_complete(store, height, earliest)
            assert store.get_state(b"counter") == (b"%d" % latest if latest else None)
            assert store.verify_integrity() > 0
            # Every id committed so far, wherever it is now: waiting, in a run, in a run half
            # written when the kill came.
            every_id = [
                transaction_id
                for height in range(1, latest + 1)
                for transaction_id in build.record(
                    height, transactions=TRANSACTIONS
                ).transaction_ids
            ]
            assert store.has_transactions(every_id) == [True] * len(every_id), context
            with store._read() as txn:
                if store._get_meta_int(txn, schema.META_INDEX_MERGE_THROUGH) is not None:
                    killed_inside_a_move += 1
        previous_latest = latest
    assert previous_latest > ROUNDS, "the writer committed too few blocks to test anything"
    # The writer moves waiting ids into the index in slices nearly all the time (its settings):
    # most kills leave a move half done, which the next round's writer finishes.
    assert killed_inside_a_move >= ROUNDS // 2, killed_inside_a_move
