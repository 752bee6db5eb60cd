"""Everything signed or promised that left a process, kept to find double-signing.

The ledger watches messages at the moment they leave an instance (handed to the network, even if
the network then drops them). Keys are per instance, which is one process lineage across crashes
and restarts; the two instances of a twin are two lineages and so never conflict with each other.

* tbft: a validator's own votes, keyed (type, height, round), and proposals, keyed (height,
  round): a second statement with different content is a double-sign. The same content with a
  different signature from a later incarnation means the restored core signed again instead of
  re-sending its stored signature (ADR 0002), reported as a re-sign.
* raft: a granted vote, keyed by term, must name one candidate per lineage (a candidate's own
  RequestVote counts as its vote for itself); and, across all
  instances, at most one validator sends AppendEntries as leader of a term (election safety) and
  an entry (term, index) has one content (the leader creates one entry per index and term).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from causeway.consensus.v1 import consensus_pb2
from causeway.types.v1 import types_pb2

StatementKey = tuple[str, int, int]


@dataclass(frozen=True, slots=True)
class Statement:
    instance: str
    validator_id: str
    key: StatementKey
    content: bytes
    signature: bytes
    incarnation: int
    time_ms: int

    def describe(self) -> str:
        kind, height, round_number = self.key
        if kind == "raft-vote":
            candidate = self.content.removeprefix(b"candidate:").decode(errors="replace")
            return (
                f"{self.instance} (validator {self.validator_id}, incarnation "
                f"{self.incarnation}) at {self.time_ms}ms: a vote in term {height} for {candidate}"
            )
        return (
            f"{self.instance} (validator {self.validator_id}, incarnation {self.incarnation}) at "
            f"{self.time_ms}ms: {kind} h={height} r={round_number} "
            f"content={self.content.hex()[:16]} sig={self.signature.hex()[:16]}"
        )


@dataclass(slots=True)
class SignatureLedger:
    block_hash: Callable[[types_pb2.Block], bytes]
    statements: dict[tuple[str, StatementKey], Statement] = field(default_factory=dict)
    conflicts: list[tuple[Statement, Statement]] = field(default_factory=list)
    resigned: list[tuple[Statement, Statement]] = field(default_factory=list)
    raft_leaders: dict[int, tuple[str, str, int]] = field(default_factory=dict)
    raft_entries: dict[tuple[int, int], tuple[bytes, str, int]] = field(default_factory=dict)
    raft_violations: list[str] = field(default_factory=list)
    observed: int = 0

    def observe(
        self,
        message: consensus_pb2.ConsensusMessage,
        *,
        instance: str,
        validator_id: str,
        incarnation: int,
        time_ms: int,
        target: str | None,
    ) -> None:
        """Records the statements of a message that just left ``instance`` (sent to ``target``,
        None for every other validator)."""
        self.observed += 1
        body = message.WhichOneof("body")
        if body == "vote":
            vote = message.vote
            if vote.validator != validator_id:
                return
            kind = "prevote" if vote.type == consensus_pb2.VOTE_TYPE_PREVOTE else "precommit"
            if vote.type not in (
                consensus_pb2.VOTE_TYPE_PREVOTE,
                consensus_pb2.VOTE_TYPE_PRECOMMIT,
            ):
                kind = f"vote-type-{vote.type}"
            self._record(
                Statement(
                    instance,
                    validator_id,
                    (kind, vote.height, vote.round),
                    b"hash:" + vote.block_hash,
                    vote.signature,
                    incarnation,
                    time_ms,
                )
            )
        elif body == "proposal":
            proposal = message.proposal
            if proposal.proposer != validator_id:
                return
            content = (
                f"valid_round_plus_one={proposal.valid_round_plus_one};hash=".encode()
                + self.block_hash(proposal.block)
            )
            self._record(
                Statement(
                    instance,
                    validator_id,
                    ("proposal", proposal.height, proposal.round),
                    content,
                    proposal.signature,
                    incarnation,
                    time_ms,
                )
            )
        elif body == "raft_vote_response":
            response = message.raft_vote_response
            if response.granted and response.voter == validator_id and target is not None:
                self._record(
                    _raft_vote(instance, validator_id, response.term, target, incarnation, time_ms)
                )
        elif body == "raft_request_vote":
            request = message.raft_request_vote
            if request.candidate == validator_id:
                # A candidate asks for votes only after voting for itself in that term: its
                # request is that vote, which no message carries. A granted vote for another
                # candidate in the same term is then a second vote.
                self._record(
                    _raft_vote(
                        instance, validator_id, request.term, validator_id, incarnation, time_ms
                    )
                )
        elif body == "raft_append_entries":
            self._observe_append(instance, validator_id, time_ms, message.raft_append_entries)

    def _observe_append(
        self,
        instance: str,
        validator_id: str,
        time_ms: int,
        append: consensus_pb2.RaftAppendEntries,
    ) -> None:
        if append.leader != validator_id:
            return
        leader = self.raft_leaders.get(append.term)
        if leader is None:
            self.raft_leaders[append.term] = (validator_id, instance, time_ms)
        elif leader[0] != validator_id:
            self.raft_violations.append(
                f"election safety: term {append.term} has two leaders: {leader[0]} (seen "
                f"{leader[2]}ms) and {validator_id} (seen {time_ms}ms)"
            )
        for entry in append.entries:
            content = hashlib.sha256(
                (b"m" if entry.membership_change else b"b") + entry.data
            ).digest()
            known = self.raft_entries.get((entry.term, entry.index))
            if known is None:
                self.raft_entries[(entry.term, entry.index)] = (content, instance, time_ms)
            elif known[0] != content:
                self.raft_violations.append(
                    f"log matching: entry (term {entry.term}, index {entry.index}) sent with two "
                    f"contents: by {known[1]} at {known[2]}ms and by {instance} at {time_ms}ms"
                )

    def _record(self, statement: Statement) -> None:
        slot = (statement.instance, statement.key)
        first = self.statements.get(slot)
        if first is None:
            self.statements[slot] = statement
        elif first.content != statement.content:
            self.conflicts.append((first, statement))
        elif first.signature != statement.signature and first.incarnation != statement.incarnation:
            self.resigned.append((first, statement))


def _raft_vote(  # noqa: PLR0917 (a statement's fields in order)
    instance: str, voter: str, term: int, candidate: str, incarnation: int, time_ms: int
) -> Statement:
    """A raft vote as a statement: one candidate per (lineage, term)."""
    return Statement(
        instance,
        voter,
        ("raft-vote", term, 0),
        b"candidate:" + candidate.encode(),
        b"",
        incarnation,
        time_ms,
    )
