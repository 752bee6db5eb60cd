"""Raft under a lossy network, crashes and changing partitions: safety always, then progress."""

from __future__ import annotations

import random

import pytest
from raft_harness import Cluster

FIVE = ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize("seed", range(6))
def test_safety_under_faults_and_progress_after_healing(seed: int) -> None:
    chaos = random.Random(f"chaos/{seed}")
    cluster = Cluster(FIVE, seed, delay_ms=(1, 40), drop_probability=0.1, duplicate_probability=0.1)
    cluster.transactions_waiting = True
    for _ in range(12):
        action = chaos.randrange(4)
        down = [node_id for node_id in FIVE if cluster.nodes[node_id].core is None]
        if action == 0 and len(down) < 2:
            cluster.crash(chaos.choice([node_id for node_id in FIVE if node_id not in down]))
        elif action == 1 and down:
            cluster.restart(chaos.choice(down))
        elif action == 2:
            shuffled = FIVE[:]
            chaos.shuffle(shuffled)
            cut = chaos.randrange(1, 5)
            cluster.heal()
            cluster.partition(shuffled[:cut], shuffled[cut:])
        else:
            cluster.heal()
        # The harness checks one leader per term and one block per height on every event.
        cluster.run(chaos.randrange(100, 1_200))
    cluster.heal()
    for node_id in FIVE:
        if cluster.nodes[node_id].core is None:
            cluster.restart(node_id)
    cluster.drop_probability = 0.0
    target = max(len(node.committed) for node in cluster.nodes.values()) + 3
    assert cluster.run_until(lambda: cluster.committed_everywhere(target), 20_000), (
        f"seed {seed}: no progress after healing"
    )
    cluster.assert_consistent()
