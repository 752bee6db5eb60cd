"""Raft's safety properties (Ongaro's thesis, figure 3.2), checked over snapshots of every node
taken after each step of a test.

- election safety: at most one leader per term;
- one vote per term: a node never votes for two candidates in one term (across restarts too,
  since the vote is persisted), and its term never goes back;
- log matching: if two logs hold an entry with the same index and term, they are identical up
  to that index (and a log's terms never decrease);
- leader completeness: an entry committed in a term is in the log of every leader of a later
  term;
- state machine safety: no two nodes ever commit different entries at one index, and a node's
  committed prefix never changes;
- commit index monotone: within one lifetime of a core it never goes back, nor past its log.

The checker keeps what it has seen, so a rule broken between two snapshots (a vote changed, an
entry rewritten after commit) is caught at the next one. It reads cores only through their
public properties.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from causeway.consensus.raft import RaftCore, RaftRole

# (term, data) of each entry, index 1 first.
LogEntries = tuple[tuple[int, bytes], ...]


@dataclass(frozen=True, slots=True)
class NodeView:
    """What the checker sees of one node after a step."""

    node_id: str
    # One lifetime of a core: a restarted node starts a new one (its commit index may restart).
    incarnation: int
    term: int
    role: RaftRole
    voted_for: str | None
    commit_index: int
    log: LogEntries


def view_of(node_id: str, incarnation: int, core: RaftCore) -> NodeView:
    log = tuple(
        (entry.term, entry.data)
        for entry in (core.log_entry(index) for index in range(1, core.last_log_index + 1))
    )
    return NodeView(
        node_id, incarnation, core.term, core.role, core.voted_for, core.commit_index, log
    )


class RaftInvariantError(AssertionError):
    """A Raft safety property was broken; the message lists every problem found at the step."""


class RaftInvariants:
    def __init__(self) -> None:
        self.steps = 0
        self.leaders: dict[int, str] = {}
        self.votes: dict[tuple[str, int], str] = {}
        self.terms: dict[str, int] = {}
        self.commit_indexes: dict[tuple[str, int], int] = {}
        # index -> (term, data) of the committed entry, and the lowest term of a node that was
        # seen holding it committed (an upper bound on the term it was committed in).
        self.committed: dict[int, tuple[int, bytes]] = {}
        self.committed_in_term: dict[int, int] = {}

    def check(self, views: Iterable[NodeView], context: str = "") -> None:
        self.steps += 1
        problems = self.problems(list(views))
        if problems:
            where = f" ({context})" if context else ""
            listed = "\n".join(f"  - {problem}" for problem in problems)
            raise RaftInvariantError(
                f"raft invariants broken at step {self.steps}{where}:\n{listed}"
            )

    def problems(self, views: Sequence[NodeView]) -> list[str]:
        problems: list[str] = []
        for view in views:
            problems += self._node_problems(view)
        problems += self._log_matching_problems(views)
        # Committed entries are learnt from every view before leaders are judged against them.
        for view in views:
            problems += self._commit_problems(view)
        for view in views:
            if view.role is RaftRole.LEADER:
                problems += self._leader_problems(view)
        return problems

    def _node_problems(self, view: NodeView) -> list[str]:
        problems: list[str] = []
        name = view.node_id
        previous_term = self.terms.get(name, 0)
        if view.term < previous_term:
            problems.append(f"{name}'s term went back from {previous_term} to {view.term}")
        self.terms[name] = max(previous_term, view.term)
        if view.voted_for is not None:
            first = self.votes.setdefault((name, view.term), view.voted_for)
            if first != view.voted_for:
                problems.append(
                    f"{name} voted for {first} and for {view.voted_for} in term {view.term}"
                )
        lifetime = (name, view.incarnation)
        previous_commit = self.commit_indexes.get(lifetime, 0)
        if view.commit_index < previous_commit:
            problems.append(
                f"{name}'s commit index went back from {previous_commit} to {view.commit_index}"
            )
        self.commit_indexes[lifetime] = max(previous_commit, view.commit_index)
        if view.commit_index > len(view.log):
            problems.append(
                f"{name}'s commit index {view.commit_index} is past its log's end {len(view.log)}"
            )
        for index in range(1, len(view.log)):
            if view.log[index][0] < view.log[index - 1][0]:
                problems.append(
                    f"{name}'s log goes back from term {view.log[index - 1][0]} at index "
                    f"{index} to term {view.log[index][0]} at index {index + 1}"
                )
                break
        return problems

    def _commit_problems(self, view: NodeView) -> list[str]:
        problems: list[str] = []
        for index in range(1, min(view.commit_index, len(view.log)) + 1):
            entry = view.log[index - 1]
            first = self.committed.setdefault(index, entry)
            if first != entry:
                problems.append(
                    f"{view.node_id} holds committed index {index} as an entry of term {entry[0]}, "
                    f"but an entry of term {first[0]} was committed there"
                    + (" (other data)" if first[0] == entry[0] else "")
                )
            term = self.committed_in_term.get(index)
            if term is None or view.term < term:
                self.committed_in_term[index] = view.term
        return problems

    def _leader_problems(self, view: NodeView) -> list[str]:
        problems: list[str] = []
        holder = self.leaders.setdefault(view.term, view.node_id)
        if holder != view.node_id:
            problems.append(f"two leaders in term {view.term}: {holder} and {view.node_id}")
        for index, term in sorted(self.committed_in_term.items()):
            if term >= view.term:
                continue
            entry = view.log[index - 1] if index <= len(view.log) else None
            if entry != self.committed[index]:
                problems.append(
                    f"leader {view.node_id} of term {view.term} lacks index {index}, committed "
                    f"by term {term}"
                )
        return problems

    @staticmethod
    def _log_matching_problems(views: Sequence[NodeView]) -> list[str]:
        problems: list[str] = []
        for position, first in enumerate(views):
            for second in views[position + 1 :]:
                same_so_far = True
                for index in range(min(len(first.log), len(second.log))):
                    a, b = first.log[index], second.log[index]
                    if a[0] == b[0] and not (same_so_far and a == b):
                        problems.append(
                            f"logs of {first.node_id} and {second.node_id} both hold term {a[0]} "
                            f"at index {index + 1} but differ at or before it"
                        )
                        break
                    same_so_far = same_so_far and a == b
        return problems
