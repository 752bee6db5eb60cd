"""Raft cores over the in-test network: election, replication, crashes, partitions."""

from __future__ import annotations

import pytest
from raft_harness import Cluster

from causeway.consensus.raft import RaftRole

THREE = ["a", "b", "c"]
FIVE = ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_leader_per_term_and_everyone_follows_it(seed: int) -> None:
    cluster = Cluster(FIVE, seed)
    leader = cluster.wait_for_leader()
    cluster.run(1_000)
    term = cluster.core(leader).term
    assert cluster.leader() == leader
    for node in cluster.live_nodes():
        assert node.live.term == term
        assert node.live.leader == leader
        if node.node_id != leader:
            assert node.live.role is RaftRole.FOLLOWER
    # The harness asserts at most one leader per term on every event; many elections happen
    # when leaders keep being isolated.
    for _ in range(5):
        current = cluster.wait_for_leader()
        cluster.isolate(current)
        cluster.run(1_500)
        cluster.heal()
    cluster.wait_for_leader()
    assert len(cluster.leaders_by_term) >= 5


def test_blocks_commit_identically_and_in_order_everywhere() -> None:
    cluster = Cluster(THREE, seed=7)
    leader = cluster.wait_for_leader()
    cluster.transactions_waiting = True
    assert cluster.run_until(lambda: cluster.committed_everywhere(20), 10_000)
    cluster.transactions_waiting = False
    cluster.run(500)
    cluster.assert_consistent()
    heights = cluster.nodes["a"].heights
    assert heights == list(range(1, len(heights) + 1))
    for node in cluster.nodes.values():
        assert node.heights == heights
    # The leader built every block; the pipeline let it have at most one uncommitted.
    assert cluster.nodes[leader].application.built == heights
    # Certificates: each node signs the CommitVote of the term the block was proposed in.
    for node in cluster.nodes.values():
        for commit in node.committed:
            certificate = commit.certificate
            assert certificate.height == commit.height
            assert certificate.round == cluster.core(leader).term
            assert [signature.validator for signature in certificate.signatures] == [node.node_id]


def test_leader_crash_elects_a_new_leader_and_loses_no_committed_block() -> None:
    cluster = Cluster(FIVE, seed=11)
    first = cluster.wait_for_leader()
    cluster.transactions_waiting = True
    assert cluster.run_until(lambda: cluster.committed_everywhere(5), 10_000)
    committed_before = [commit.certificate.block_hash for commit in cluster.nodes[first].committed]
    first_term = cluster.core(first).term
    cluster.crash(first)
    others = [node_id for node_id in FIVE if node_id != first]
    second = cluster.wait_for_leader()
    assert second != first
    assert cluster.core(second).term > first_term
    height = len(cluster.nodes[second].committed)
    assert cluster.run_until(lambda: cluster.committed_everywhere(height + 5, others), 10_000)
    # The crashed leader comes back from its disk, learns the new term and catches up.
    cluster.restart(first)
    assert cluster.core(first).term == first_term
    assert cluster.core(first).role is RaftRole.FOLLOWER
    target = max(len(node.committed) for node in cluster.nodes.values())
    assert cluster.run_until(lambda: cluster.committed_everywhere(target + 3), 10_000)
    cluster.assert_consistent()
    survivor = [commit.certificate.block_hash for commit in cluster.nodes[second].committed]
    assert survivor[: len(committed_before)] == committed_before


def test_whole_cluster_restart_keeps_the_log_and_commits_nothing_twice() -> None:
    cluster = Cluster(THREE, seed=5)
    cluster.wait_for_leader()
    cluster.transactions_waiting = True
    assert cluster.run_until(lambda: cluster.committed_everywhere(6), 10_000)
    cluster.transactions_waiting = False
    cluster.run(300)
    for node_id in THREE:
        cluster.crash(node_id)
    # One node lost the blocks it had applied but not its raft records (last_committed_height
    # lags): they are emitted again, the others emit nothing already applied.
    del cluster.nodes["c"].committed[3:]
    for node_id in THREE:
        cluster.restart(node_id)
    cluster.wait_for_leader()
    cluster.transactions_waiting = True
    assert cluster.run_until(lambda: cluster.committed_everywhere(10), 10_000)
    cluster.assert_consistent()


def test_follower_with_a_divergent_log_is_truncated() -> None:
    cluster = Cluster(FIVE, seed=3)
    old_leader = cluster.wait_for_leader()
    cluster.transactions_waiting = True
    assert cluster.run_until(lambda: cluster.committed_everywhere(3), 10_000)
    cluster.transactions_waiting = False
    cluster.run(300)
    # Cut the leader off, then give it work: it appends a block nobody else receives.
    cluster.isolate(old_leader)
    cluster.transactions_waiting = True
    cluster.run(40)
    stale_log_index = cluster.core(old_leader).last_log_index
    assert cluster.core(old_leader).commit_index < stale_log_index
    others = [node_id for node_id in FIVE if node_id != old_leader]
    assert cluster.run_until(lambda: cluster.leader() not in (None, old_leader), 5_000)
    height = max(len(cluster.nodes[node_id].committed) for node_id in others)
    assert cluster.run_until(lambda: cluster.committed_everywhere(height + 4, others), 10_000)
    cluster.heal()
    target = max(len(node.committed) for node in cluster.nodes.values())
    assert cluster.run_until(lambda: cluster.committed_everywhere(target + 2), 10_000)
    cluster.assert_consistent()
    assert cluster.core(old_leader).statistics.entries_truncated > 0
    reference = cluster.core(cluster.wait_for_leader())
    mine = cluster.core(old_leader)
    common = min(reference.commit_index, mine.commit_index)
    for index in range(1, common + 1):
        assert mine.log_entry(index) == reference.log_entry(index)


def test_partitioned_follower_rejoins_and_catches_up() -> None:
    cluster = Cluster(FIVE, seed=21)
    leader = cluster.wait_for_leader()
    lagging = next(node_id for node_id in FIVE if node_id != leader)
    cluster.isolate(lagging)
    cluster.transactions_waiting = True
    others = [node_id for node_id in FIVE if node_id != lagging]
    # Far more entries than one AppendEntries carries, so catching up takes several rounds.
    assert cluster.run_until(lambda: cluster.committed_everywhere(80, others), 30_000)
    assert len(cluster.nodes[lagging].committed) == 0
    assert cluster.core(lagging).term > cluster.core(leader).term  # it kept campaigning
    cluster.heal()
    assert cluster.run_until(lambda: cluster.committed_everywhere(85), 15_000)
    cluster.assert_consistent()


def test_minority_side_commits_nothing_and_partitioned_leader_steps_down() -> None:
    cluster = Cluster(FIVE, seed=8)
    leader = cluster.wait_for_leader()
    cluster.transactions_waiting = True
    assert cluster.run_until(lambda: cluster.committed_everywhere(2), 10_000)
    minority = [leader, next(node_id for node_id in FIVE if node_id != leader)]
    majority = [node_id for node_id in FIVE if node_id not in minority]
    cluster.partition(minority, majority)
    minority_heights = {node_id: len(cluster.nodes[node_id].committed) for node_id in minority}
    cluster.run(3_000)
    for node_id in minority:
        # At most the commits that were already in flight when the partition began.
        assert len(cluster.nodes[node_id].committed) <= minority_heights[node_id] + 1
    assert cluster.core(leader).role is not RaftRole.LEADER
    assert cluster.core(leader).statistics.leader_step_downs >= 1
    assert any(cluster.core(node_id).role is RaftRole.LEADER for node_id in majority)
    cluster.heal()
    target = max(len(node.committed) for node in cluster.nodes.values())
    assert cluster.run_until(lambda: cluster.committed_everywhere(target + 2), 10_000)
    cluster.assert_consistent()


def test_single_voter_commits_alone_and_after_restart() -> None:
    cluster = Cluster(["solo"], seed=1)
    assert cluster.core("solo").role is RaftRole.LEADER
    cluster.transactions_waiting = True
    assert cluster.run_until(lambda: cluster.committed_everywhere(5), 1_000)
    cluster.crash("solo")
    cluster.restart("solo")
    assert cluster.core("solo").role is RaftRole.LEADER
    assert cluster.run_until(lambda: cluster.committed_everywhere(8), 1_000)
    cluster.assert_consistent()


def test_same_seed_gives_the_same_run() -> None:
    def run(seed: int) -> list[str]:
        cluster = Cluster(FIVE, seed)
        leader = cluster.wait_for_leader()
        cluster.transactions_waiting = True
        cluster.run(500)
        cluster.crash(leader)
        cluster.run(1_000)
        cluster.restart(leader)
        cluster.run(1_000)
        return cluster.trace

    first = run(99)
    assert first == run(99)
    assert first != run(100)
