"""Single-server membership changes: add, remove (a follower, the leader), refusals."""

from __future__ import annotations

import pytest
from raft_harness import Cluster

from causeway.consensus.raft import RaftRole
from causeway.errors import ConfigurationError


def settle(cluster: Cluster, height: int) -> str:
    leader = cluster.wait_for_leader()
    cluster.transactions_waiting = True
    assert cluster.run_until(lambda: cluster.committed_everywhere(height), 10_000)
    return leader


def change(cluster: Cluster, leader: str, voters: list[str]) -> None:
    core = cluster.core(leader)
    cluster.apply(cluster.nodes[leader], core.propose_membership_change(voters, cluster.now_ms))


def test_add_one_node_then_remove_one() -> None:
    cluster = Cluster(["a", "b", "c"], seed=4)
    leader = settle(cluster, 3)
    # d joins knowing the current voters; it is no voter (and never campaigns) until the entry
    # adding it reaches its log.
    cluster.add_node("d", ["a", "b", "c"])
    assert not cluster.core("d").is_voter
    assert cluster.core("d").next_deadline_ms() is None
    change(cluster, leader, ["a", "b", "c", "d"])
    assert cluster.core(leader).voters == ("a", "b", "c", "d")  # in effect once appended
    assert cluster.core(leader).membership_change_pending
    assert cluster.run_until(lambda: cluster.core("d").is_voter, 5_000)
    assert cluster.run_until(lambda: cluster.committed_everywhere(8), 10_000)
    assert not cluster.core(leader).membership_change_pending
    for node in cluster.live_nodes():
        assert node.live.voters == ("a", "b", "c", "d")
    cluster.assert_consistent()

    # Remove a follower; the remaining three (quorum two) go on without it.
    leader = cluster.wait_for_leader()
    removed = next(node_id for node_id in ["a", "b", "c", "d"] if node_id != leader)
    remaining = [node_id for node_id in ["a", "b", "c", "d"] if node_id != removed]
    change(cluster, leader, remaining)
    assert cluster.run_until(lambda: not cluster.core(leader).membership_change_pending, 5_000)
    cluster.crash(removed)
    crashed_other = next(node_id for node_id in remaining if node_id != leader)
    cluster.crash(crashed_other)
    survivors = [node_id for node_id in remaining if node_id != crashed_other]
    height = len(cluster.nodes[leader].committed)
    # Two of the three voters left: a quorum of the new configuration, not of the old one.
    assert cluster.run_until(lambda: cluster.committed_everywhere(height + 3, survivors), 10_000)
    cluster.restart(crashed_other)
    assert cluster.run_until(lambda: cluster.committed_everywhere(height + 5, remaining), 10_000)
    cluster.assert_consistent()


def test_removed_leader_steps_down_after_the_change_commits() -> None:
    cluster = Cluster(["a", "b", "c", "d"], seed=9)
    leader = settle(cluster, 2)
    cluster.transactions_waiting = False
    cluster.run(200)
    remaining = [node_id for node_id in ["a", "b", "c", "d"] if node_id != leader]
    change(cluster, leader, remaining)
    assert cluster.run_until(lambda: cluster.core(leader).role is not RaftRole.LEADER, 5_000)
    assert not cluster.core(leader).is_voter
    assert cluster.core(leader).next_deadline_ms() is None  # it will not campaign
    assert cluster.run_until(lambda: cluster.leader() in remaining, 5_000)
    cluster.transactions_waiting = True
    height = max(len(node.committed) for node in cluster.nodes.values())
    assert cluster.run_until(lambda: cluster.committed_everywhere(height + 3, remaining), 10_000)
    cluster.run(2_000)
    assert cluster.leader() in remaining
    cluster.assert_consistent()


def test_refusals_change_nothing() -> None:
    cluster = Cluster(["a", "b", "c"], seed=6)
    leader = settle(cluster, 1)
    follower = next(node_id for node_id in ["a", "b", "c"] if node_id != leader)
    core = cluster.core(leader)
    with pytest.raises(ConfigurationError, match="not the leader"):
        cluster.core(follower).propose_membership_change(["a", "b", "c", "d"], cluster.now_ms)
    with pytest.raises(ConfigurationError, match="exactly one"):
        core.propose_membership_change(["a", "b", "c", "d", "e"], cluster.now_ms)
    with pytest.raises(ConfigurationError, match="exactly one"):
        core.propose_membership_change(["a", "d", "e"], cluster.now_ms)
    with pytest.raises(ConfigurationError, match="exactly one"):
        core.propose_membership_change(["c", "b", "a"], cluster.now_ms)
    with pytest.raises(ConfigurationError, match="twice"):
        core.propose_membership_change(["a", "b", "c", "c"], cluster.now_ms)
    with pytest.raises(ConfigurationError):
        core.propose_membership_change("abcd", cluster.now_ms)
    assert core.voters == ("a", "b", "c")
    # One change at a time: a second one waits until the first commits.
    last_index = core.last_log_index
    change(cluster, leader, ["a", "b", "c", "d"])
    assert core.last_log_index == last_index + 1
    with pytest.raises(ConfigurationError, match="not yet committed"):
        core.propose_membership_change(["a", "b", "c"], cluster.now_ms)


def test_messages_from_a_node_not_yet_added_are_dropped() -> None:
    cluster = Cluster(["a", "b", "c"], seed=12)
    settle(cluster, 1)
    # e believes it is a voter and campaigns; nobody has heard of it.
    cluster.add_node("e", ["a", "b", "c", "e"])
    cluster.run(2_000)
    assert cluster.core("e").role is not RaftRole.LEADER
    assert cluster.core("e").statistics.elections_started > 0
    for node_id in ["a", "b", "c"]:
        statistics = cluster.core(node_id).statistics
        assert statistics.messages_dropped_non_member > 0
        assert cluster.core(node_id).term == cluster.core(cluster.wait_for_leader()).term
    cluster.assert_consistent()


def add_voter(cluster: Cluster, added: str) -> None:
    leader = cluster.wait_for_leader()
    core = cluster.core(leader)
    # A new leader's restating entry must commit first (a change is refused until then).
    assert cluster.run_until(lambda: core.commit_index == core.last_log_index, 5_000)
    voters = list(core.voters)
    cluster.add_node(added, voters)
    change(cluster, leader, sorted([*voters, added]))
    assert cluster.run_until(lambda: not core.membership_change_pending, 5_000)


@pytest.mark.parametrize("with_members", [True, False])
def test_node_that_missed_changes_needs_members_to_follow_a_new_leader(with_members: bool) -> None:
    everyone = ["a", "b", "c", "d", "e"]
    cluster = Cluster(["a", "b", "c"], seed=14, members=everyone if with_members else ())
    settle(cluster, 2)
    cluster.crash("c")
    add_voter(cluster, "d")
    add_voter(cluster, "e")
    # Only c (which never saw d or e) can now complete a quorum with them.
    cluster.crash("a")
    cluster.crash("b")
    cluster.restart("c")
    height = max(len(node.committed) for node in cluster.nodes.values())
    progressed = cluster.run_until(
        lambda: cluster.committed_everywhere(height + 2, ["c", "d", "e"]), 5_000
    )
    assert progressed is with_members
    if not with_members:
        assert cluster.core("c").statistics.messages_dropped_non_member > 0
    cluster.assert_consistent()
