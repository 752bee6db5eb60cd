"""Raft's safety properties checked after every step of random runs, and the checker shown to
catch each property broken on purpose (a checker that never fails proves nothing)."""

from __future__ import annotations

import random

import pytest
import raft_harness
from raft_harness import Cluster
from raft_invariants import NodeView, RaftInvariantError, RaftInvariants, view_of

from causeway.consensus import Output
from causeway.consensus.raft import RaftRole
from causeway.consensus.v1 import consensus_pb2

THREE = ["a", "b", "c"]
FIVE = ["a", "b", "c", "d", "e"]
STEPS = 3_000


def views(cluster: Cluster) -> list[NodeView]:
    return [view_of(node.node_id, node.incarnation, node.live) for node in cluster.live_nodes()]


def run_randomly(cluster: Cluster, steps: int, seed: int) -> RaftInvariants:
    """`steps` events (a delivery, or a tick of every node) with random crashes, restarts,
    partitions and load between them; the invariants are checked after every one (the hook of
    `run_until` runs between events)."""
    generator = random.Random(f"faults/{seed}")
    invariants = RaftInvariants()
    names = sorted(cluster.nodes)
    down_max = (len(names) - 1) // 2
    done = 0

    def after_each_event() -> bool:
        nonlocal done
        invariants.check(views(cluster), f"seed {seed}, {cluster.now_ms} ms")
        done += 1
        draw = generator.random()
        down = [name for name in names if cluster.nodes[name].core is None]
        if draw < 0.004 and len(down) < down_max:
            cluster.crash(generator.choice([name for name in names if name not in down]))
        elif draw < 0.010 and down:
            cluster.restart(generator.choice(down))
        elif draw < 0.013:
            shuffled = generator.sample(names, len(names))
            cut = generator.randrange(1, len(names))
            cluster.heal()
            cluster.partition(shuffled[:cut], shuffled[cut:])
        elif draw < 0.018:
            cluster.heal()
        elif draw < 0.030:
            cluster.transactions_waiting = not cluster.transactions_waiting
        return done >= steps

    assert cluster.run_until(after_each_event, limit_ms=10_000_000)
    return invariants


@pytest.mark.parametrize(("nodes", "seed"), [(THREE, 1), (THREE, 2), (FIVE, 3)])
def test_random_runs_keep_every_invariant_after_every_step(nodes: list[str], seed: int) -> None:
    cluster = Cluster(
        nodes, seed, delay_ms=(1, 40), drop_probability=0.1, duplicate_probability=0.05
    )
    cluster.transactions_waiting = True
    invariants = run_randomly(cluster, STEPS, seed)
    assert invariants.steps == STEPS
    # Not vacuous: several leaders came and went, and blocks were committed under them.
    assert len(invariants.leaders) >= 3, invariants.leaders
    assert len(invariants.committed) >= 10, len(invariants.committed)


# --- the checker catches each broken rule -------------------------------------------------------


class GrantsEveryVote(raft_harness.InlineRaftCore):
    """Broken on purpose: forgets its vote whenever asked for another one in the same term."""

    def step(self, sender: str, message: consensus_pb2.ConsensusMessage, now_ms: int) -> Output:
        if message.WhichOneof("body") == "raft_request_vote":
            self._voted_for = None
        return super().step(sender, message, now_ms)


def test_a_core_that_votes_twice_in_a_term_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(raft_harness, "InlineRaftCore", GrantsEveryVote)
    caught = 0
    for seed in range(5):
        cluster = Cluster(FIVE, seed, delay_ms=(1, 40), drop_probability=0.1)
        cluster.transactions_waiting = True
        try:
            run_randomly(cluster, STEPS, seed)
        except RaftInvariantError as error:
            assert "voted for" in str(error) or "two leaders in term" in str(error), error
            caught += 1
        except AssertionError as error:
            # The harness's own one-leader-per-term assertion may fire first.
            assert "two leaders in term" in str(error), error
            caught += 1
    assert caught == 5


def entries(*terms: int) -> tuple[tuple[int, bytes], ...]:
    return tuple((term, f"{index}@{term}".encode()) for index, term in enumerate(terms, 1))


def node(  # noqa: PLR0917 (a view's fields in order)
    name: str,
    term: int,
    log: tuple[tuple[int, bytes], ...] = (),
    commit_index: int = 0,
    role: RaftRole = RaftRole.FOLLOWER,
    voted_for: str | None = None,
    incarnation: int = 0,
) -> NodeView:
    return NodeView(name, incarnation, term, role, voted_for, commit_index, log)


def broken(invariants: RaftInvariants, views: list[NodeView], reason: str) -> None:
    with pytest.raises(RaftInvariantError, match=reason):
        invariants.check(views)


def test_two_leaders_in_one_term_are_caught() -> None:
    invariants = RaftInvariants()
    invariants.check([node("a", 2, role=RaftRole.LEADER), node("b", 2)])
    invariants.check([node("a", 3), node("b", 3, role=RaftRole.LEADER)])  # a later term: fine
    broken(invariants, [node("a", 3, role=RaftRole.LEADER)], "two leaders in term 3: b and a")


def test_a_second_vote_in_a_term_and_a_term_going_back_are_caught() -> None:
    invariants = RaftInvariants()
    invariants.check([node("a", 4, voted_for="b")])
    invariants.check([node("a", 4, voted_for="b")])
    invariants.check([node("a", 5, voted_for="c")])
    broken(invariants, [node("a", 5, voted_for="b")], "a voted for c and for b in term 5")
    broken(RaftInvariants(), [node("a", 5), node("a", 4)], "a's term went back from 5 to 4")


def test_a_commit_index_going_back_within_a_lifetime_is_caught() -> None:
    invariants = RaftInvariants()
    invariants.check([node("a", 1, entries(1, 1), commit_index=2)])
    # A restarted core may start again from a lower commit index.
    invariants.check([node("a", 1, entries(1, 1), commit_index=0, incarnation=1)])
    broken(
        invariants,
        [node("a", 1, entries(1, 1), commit_index=1)],
        "a's commit index went back from 2 to 1",
    )
    broken(
        RaftInvariants(),
        [node("a", 1, entries(1), commit_index=2)],
        "a's commit index 2 is past its log's end 1",
    )


def test_log_matching_violations_are_caught() -> None:
    same_term_other_data = node("b", 2, ((1, b"x"), (2, b"y")))
    broken(
        RaftInvariants(),
        [node("a", 2, entries(1, 2)), same_term_other_data],
        "logs of a and b both hold term 1 at index 1 but differ at or before it",
    )
    # Index 2 matches in term (and data) but index 1 differs.
    diverged = node("b", 2, ((2, b"other"), entries(1, 2)[1]))
    broken(
        RaftInvariants(),
        [node("a", 2, entries(1, 2)), diverged],
        "both hold term 2 at index 2",
    )
    broken(RaftInvariants(), [node("a", 3, entries(2, 1))], "a's log goes back from term 2")
    # Different terms at an index (an uncommitted conflict) are allowed.
    RaftInvariants().check([node("a", 3, entries(1, 2)), node("b", 3, entries(1, 3))])


def test_a_changed_committed_entry_is_caught() -> None:
    invariants = RaftInvariants()
    invariants.check([node("a", 2, entries(1, 2), commit_index=2)])
    broken(
        invariants,
        [node("b", 3, entries(1, 3), commit_index=2)],
        "b holds committed index 2 as an entry of term 3, but an entry of term 2",
    )
    broken(
        invariants,
        [node("a", 2, ((1, b"1@1"), (2, b"rewritten")), commit_index=2, incarnation=1)],
        "a holds committed index 2 as an entry of term 2, .* \\(other data\\)",
    )


def test_a_leader_without_an_earlier_committed_entry_is_caught() -> None:
    invariants = RaftInvariants()
    invariants.check([node("a", 2, entries(1, 2), commit_index=2)])
    # A stale leader of the same term lacking it is no violation: committed by term 2.
    invariants.check([node("b", 2, entries(1), role=RaftRole.LEADER)])
    broken(
        invariants,
        [node("c", 3, entries(1), role=RaftRole.LEADER)],
        "leader c of term 3 lacks index 2, committed by term 2",
    )
