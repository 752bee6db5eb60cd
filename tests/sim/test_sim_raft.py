"""raft: safety and linearizability of a replicated key-value store under crashes, partitions and
message loss, on 3 and 5 nodes; after the heal, new blocks commit within a bound. The raft path
is the node's: blocks built and validated beside the core (in the execution lane), new entries
held back while a node is behind with its writes."""

from __future__ import annotations

import pytest
from sim_support import SeedPlan, assert_sweep_passes, run_sweep

from causeway.sim.scenarios import SCENARIOS


@pytest.mark.parametrize(("scenario", "default_seeds"), [("raft-3-kv", 400), ("raft-5-kv", 200)])
def test_raft_kv_is_safe_linearizable_and_live(
    scenario: str, default_seeds: int, seed_plan: SeedPlan
) -> None:
    assert_sweep_passes(SCENARIOS[scenario], seed_plan.seeds(default_seeds))


def test_the_kv_workload_is_real(seed_plan: SeedPlan) -> None:
    """Clients get answers, gets see writes, nodes crash: the histories are worth checking."""
    sweep = run_sweep(SCENARIOS["raft-3-kv"], seed_plan.seeds(20), keep_results=True)
    completed = [
        record
        for result in sweep.results
        for record in result.history
        if record.complete_ms is not None
    ]
    reads = [r for r in completed if r.operation.kind == "get" and r.result is not None]
    crashes = sum(result.statistics.crashes for result in sweep.results)
    for result in sweep.results:
        # Every block was built beside the core and validated before its commit.
        statistics = result.statistics
        assert statistics.blocks_built > 0
        assert statistics.blocks_validated >= max(i.app.height for i in result.instances.values())
    if len(sweep.seeds) > 1:
        assert len(completed) > 10 * len(sweep.seeds)
        assert reads
        assert crashes > 0


def test_a_lagging_follower_catches_up_holding_back_new_entries(seed_plan: SeedPlan) -> None:
    sweep = run_sweep(SCENARIOS["raft-3-lagging-follower"], seed_plan.seeds(20), keep_results=True)
    assert not sweep.failing_seeds, sweep.failing_seeds
    held = [result.statistics.messages_held for result in sweep.results]
    # The path the node runs when a replica executes slower than the leader commits: taken
    # in (nearly) every seed (20 of 20 by default).
    assert sum(count > 0 for count in held) * 4 >= 3 * len(held), held
    assert any(count > 0 for count in held), held
