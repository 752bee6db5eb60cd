"""A pure Raft core (Ongaro & Ousterhout; single-server membership changes of Ongaro's thesis §4).

The core never reads the clock, the disk or the network: time arrives as ``now_ms``, randomness
(election timeouts) comes from the ``random.Random`` it is given, and everything it wants done
comes back in an ``Output`` that the driver carries out in order: persist (durably), send, apply
the commits. See docs/consensus-raft.md for the rules and the safety argument.

Persisted records (see ``causeway.consensus.raft.records``): ``raft/meta`` holds the current term,
the vote cast in it and the index of the last valid log entry; ``raft/log/<index, 20 digits>``
holds one encoded RaftEntry per index. **A persisted record with empty bytes means the record is
deleted**: the runtime and the simulator delete it (or keep it and treat it as absent). Pass every
record whose name starts with ``raft/`` back as ``records`` to restore.

Log indexes and block heights: a block entry carries its height in its header, membership-change
entries consume no height, and heights are contiguous from 1 along the log. ``Commit`` is emitted
once per block in height order for heights above ``last_committed_height`` (what the runtime has
already applied), after the driver validated it: the core asks for one committed block at a time
(``Output.validate``) and emits its Commit when ``block_validated`` says it is valid, in the same
Output as the request for the next one, so that the driver validates each block on the state its
parent left. A committed block the application refuses is an ``InvariantError``.

Blocks are built beside the core (etcd's raft: the application proposes): ``propose`` asks, when
this node leads and its pipeline allows, for the next block (``Output.build``); ``block_built``
appends it if it still fits. No block is asked for while a committed block awaits validation, so
the driver builds on the state that every committed block has left.

With ``idle_block_interval_ms`` set, a leader that has asked for no block for that long (counted
from its last block asked for or appended, or from its election) asks for one at its next
``tick`` even with no transaction waiting: an idle heartbeat, appended and committed like any
block even when empty. Without it an idle raft chain makes no block at all (the no-op of a new
term is a membership entry, no block), and another chain's light client of it could never be
refreshed: it would expire after its trusting period though the chain is alive. Followers do
nothing new: the heartbeat is the leader's block like any other.
"""

from __future__ import annotations

import enum
import random as random_module
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields, replace

from causeway.consensus.core import BlockHasher, BuildBlock, Commit, Output, Signer, ValidateBlock
from causeway.consensus.raft.log import (
    ENTRY_BYTES_MAX,
    TERM_MAX,
    LogEntry,
    RaftLog,
    block_entry,
    check_validator_ids,
    membership_entry,
    parse_entry,
)
from causeway.consensus.raft.records import (
    META_RECORD,
    Meta,
    encode_meta,
    log_record_name,
    read_meta,
)
from causeway.consensus.v1 import consensus_pb2
from causeway.errors import (
    CausewayError,
    ConfigurationError,
    InvariantError,
    RequestError,
    StorageCorruptionError,
)
from causeway.types import DOMAIN_COMMIT, decode, encode, sign_bytes
from causeway.types.v1 import types_pb2

# Entries in one AppendEntries: what a leader sends and the most a follower accepts.
APPEND_ENTRIES_MAX = 64
# A leader stops adding entries to one AppendEntries past this many bytes (it always sends one).
APPEND_BYTES_MAX = 8 * 1024 * 1024
# Uncommitted blocks a leader may have in its log before it builds another.
PIPELINE_BLOCKS_MAX = 1
PIPELINE_BLOCKS_LIMIT = 64


class RaftRole(enum.StrEnum):
    FOLLOWER = "follower"
    CANDIDATE = "candidate"
    LEADER = "leader"


@dataclass(frozen=True, slots=True)
class RaftTimeouts:
    """Election timeouts are drawn uniformly from [election_min_ms, election_max_ms]."""

    election_min_ms: int = 500
    election_max_ms: int = 1000
    heartbeat_ms: int = 100

    def __post_init__(self) -> None:
        if self.heartbeat_ms <= 0:
            raise ConfigurationError("raft heartbeat_ms must be positive")
        if self.election_min_ms <= self.heartbeat_ms:
            raise ConfigurationError("raft election_min_ms must be above heartbeat_ms")
        if self.election_max_ms <= self.election_min_ms:
            raise ConfigurationError("raft election_max_ms must be above election_min_ms")


@dataclass(slots=True)
class RaftStatistics:
    messages_received: int = 0
    messages_dropped_non_member: int = 0
    messages_dropped_malformed: int = 0
    messages_dropped_stale: int = 0
    elections_started: int = 0
    elections_won: int = 0
    votes_granted: int = 0
    votes_refused: int = 0
    # RequestVotes ignored because a leader was heard within the minimum election timeout.
    votes_ignored_leader_recent: int = 0
    appends_rejected: int = 0
    entries_appended: int = 0
    entries_truncated: int = 0
    blocks_proposed: int = 0
    # Blocks built outside the core that no longer fitted the log when offered.
    blocks_discarded: int = 0
    blocks_committed: int = 0
    membership_changes_proposed: int = 0
    leader_step_downs: int = 0

    def as_dict(self) -> dict[str, int]:
        return {item.name: getattr(self, item.name) for item in fields(self)}


class RaftCore:
    """One validator's Raft state machine. Drive it with start, tick, step (ConsensusCore).

    Args:
        chain_id: bound into every commit signature; blocks of another chain are refused.
        node_id: this validator's id; must equal ``signer.validator_id``.
        voters: the configuration in effect before the first membership-change entry of the log.
            For a node joining a running chain: the chain's current voters (without itself); it
            becomes a voter when the entry adding it reaches its log.
        signer: signs the CommitVote of every block this node commits.
        hasher: hashes blocks (building and validating them are Outputs).
        random: seeded; the only source of the election timeouts.
        timeouts: election and heartbeat timing.
        records: every persisted ``raft/`` record (None or empty for a new node).
        last_committed_height: the last height the runtime has applied; nothing at or below it
            is emitted again.
        members: further ids allowed to send raft messages (e.g. every validator-capable member
            of the chain). The constructor voters and the voters of every configuration in the
            log always are; messages from anyone else are dropped.
        pipeline_blocks_max: uncommitted blocks a leader may have before it builds another.
        idle_block_interval_ms: with nothing to order, the leader still asks for a block (an
            idle heartbeat) this often; None: never a block without transactions.
    """

    def __init__(  # noqa: PLR0917 (the order the runtime and the simulator call it with)
        self,
        chain_id: str,
        node_id: str,
        voters: Sequence[str],
        signer: Signer,
        hasher: BlockHasher,
        random: random_module.Random,
        timeouts: RaftTimeouts | None = None,
        records: Mapping[str, bytes] | None = None,
        last_committed_height: int = 0,
        *,
        members: Collection[str] = (),
        pipeline_blocks_max: int = PIPELINE_BLOCKS_MAX,
        idle_block_interval_ms: int | None = None,
    ) -> None:
        if not chain_id:
            raise ConfigurationError("raft needs a chain id")
        if isinstance(voters, str):
            raise ConfigurationError("raft voters must be a sequence of ids, not one string")
        try:
            base_voters = check_validator_ids(voters)
            check_validator_ids([node_id])
            extra_members = set(check_validator_ids(members)) if members else set()
        except RequestError as error:
            raise ConfigurationError(f"raft configuration: {error.message}") from None
        if signer.validator_id != node_id:
            raise ConfigurationError(
                f"raft node {node_id!r} was given the key of {signer.validator_id!r}"
            )
        if last_committed_height < 0:
            raise ConfigurationError("last_committed_height must not be negative")
        if not 1 <= pipeline_blocks_max <= PIPELINE_BLOCKS_LIMIT:
            raise ConfigurationError(f"pipeline_blocks_max must be in 1..{PIPELINE_BLOCKS_LIMIT}")
        if idle_block_interval_ms is not None and idle_block_interval_ms <= 0:
            raise ConfigurationError(
                f"raft idle_block_interval_ms must be positive, not {idle_block_interval_ms}"
            )
        self.chain_id = chain_id
        self.node_id = node_id
        self._signer = signer
        self._hasher = hasher
        self._random = random
        self._timeouts = timeouts if timeouts is not None else RaftTimeouts()
        self._pipeline_blocks_max = pipeline_blocks_max
        self._idle_block_interval_ms = idle_block_interval_ms
        self._extra_members = extra_members

        # Persistent state (Figure 2), rebuilt from the records.
        self._term = 0
        self._voted_for: str | None = None
        self._log = RaftLog(base_voters)
        if records:
            self._restore(records, last_committed_height)
        self._members = self._log.known_voters() | self._extra_members

        # Volatile state.
        self._role = RaftRole.FOLLOWER
        self._leader: str | None = None
        self._commit_index = 0
        self._applied_index = 0
        self._applied_height = last_committed_height
        self._started = False
        self._election_deadline_ms: int | None = None
        self._heartbeat_deadline_ms: int | None = None
        self._leader_heard_at_ms: int | None = None
        self._votes: set[str] = set()
        # Leader state, for every other voter of the latest configuration.
        self._next_index: dict[str, int] = {}
        self._match_index: dict[str, int] = {}
        self._peer_heard_at_ms: dict[str, int] = {}
        # The last index sent to each peer, and when the send from its next index went (or it
        # last acknowledged progress): entries on their way are resent only after _resend_ms.
        self._sent_through: dict[str, int] = {}
        self._sent_at_ms: dict[str, int] = {}
        self._resend_ms = max(self._timeouts.heartbeat_ms, self._timeouts.election_min_ms // 2)
        self._leader_since_ms = 0
        # The height asked for by Output.build and not yet handed back (leader only).
        self._building: int | None = None
        # Leader: when it last asked for or appended a block, or was elected; the idle
        # heartbeat counts from it.
        self._last_block_ms = 0
        # (log index, height, block, hash) of the committed block handed out for validation.
        self._validating: tuple[int, int, types_pb2.Block, bytes] | None = None

        self._statistics = RaftStatistics()
        self._out = Output()
        self._meta_dirty = False

    # ----------------------------------------------------------------------------- properties

    @property
    def role(self) -> RaftRole:
        return self._role

    @property
    def term(self) -> int:
        return self._term

    @property
    def leader(self) -> str | None:
        """The leader of the current term as far as this node knows, itself included."""
        return self._leader

    @property
    def voted_for(self) -> str | None:
        return self._voted_for

    @property
    def commit_index(self) -> int:
        return self._commit_index

    @property
    def last_log_index(self) -> int:
        return self._log.last_index

    @property
    def committed_height(self) -> int:
        """The last height emitted as a Commit (or applied before this core started)."""
        return self._applied_height

    @property
    def commits_pending(self) -> int:
        """Blocks committed in the log whose Commit is not emitted yet (being validated, or
        waiting their turn): what a driver behind with its writes has still to take."""
        return self._log.height_at(self._commit_index) - self._applied_height

    @property
    def voters(self) -> tuple[str, ...]:
        """The latest configuration in this node's log, committed or not."""
        return self._log.voters

    @property
    def is_voter(self) -> bool:
        return self.node_id in self._log.voters

    @property
    def membership_change_pending(self) -> bool:
        return self._log.configuration_index > self._commit_index

    @property
    def statistics(self) -> RaftStatistics:
        """A copy of the counters."""
        return replace(self._statistics)

    def log_entry(self, index: int) -> consensus_pb2.RaftEntry:
        """A copy of the entry at index (1..last_log_index), for inspection and checkers."""
        copy = consensus_pb2.RaftEntry()
        copy.CopyFrom(self._log.entry(index).message)
        return copy

    def next_deadline_ms(self) -> int | None:
        if not self._started:
            return None
        if self._role is RaftRole.LEADER:
            idle_deadline = self._idle_block_deadline_ms()
            if idle_deadline is None or self._heartbeat_deadline_ms is None:
                return self._heartbeat_deadline_ms
            return min(self._heartbeat_deadline_ms, idle_deadline)
        if self.is_voter:
            return self._election_deadline_ms
        return None

    # ----------------------------------------------------------------------------- driving

    def start(self, now_ms: int) -> Output:
        self._begin()
        self._start(now_ms)
        return self._finish()

    def tick(self, now_ms: int) -> Output:
        """Timeouts: heartbeats and the idle heartbeat block (leader), elections (follower,
        candidate)."""
        self._begin()
        self._start(now_ms)
        if self._role is RaftRole.LEADER:
            if self._heartbeat_deadline_ms is not None and now_ms >= self._heartbeat_deadline_ms:
                self._heartbeat(now_ms)
            idle_deadline = self._idle_block_deadline_ms()
            if idle_deadline is not None and now_ms >= idle_deadline:
                self._ask_for_block(now_ms)
        elif (
            self.is_voter
            and self._election_deadline_ms is not None
            and now_ms >= self._election_deadline_ms
        ):
            self._become_candidate(now_ms)
        return self._finish()

    def propose(self, now_ms: int, transactions_waiting: int | None = None) -> Output:
        """Transactions wait: asks for the next block (Output.build) if this node leads, is a
        voter, its pipeline allows one more block, every committed block has been emitted and
        no block is being built already; else nothing (how many wait does not matter)."""
        del transactions_waiting
        self._begin()
        self._start(now_ms)
        self._ask_for_block(now_ms)
        return self._finish()

    def _ask_for_block(self, now_ms: int) -> None:
        height = self._height_to_build()
        if height is not None and self._building is None:
            self._building = height
            self._last_block_ms = now_ms
            self._out.build.append(BuildBlock(height, self._term, now_ms, self.node_id))

    def _idle_block_deadline_ms(self) -> int | None:
        """Leader: when the idle heartbeat block is due; None without one, or while no block
        can be asked for (one is being built, the pipeline is full, a committed block waits)."""
        if (
            self._idle_block_interval_ms is None
            or self._building is not None
            or self._height_to_build() is None
        ):
            return None
        return self._last_block_ms + self._idle_block_interval_ms

    def block_built(self, block: types_pb2.Block, now_ms: int) -> Output:
        """Appends the block asked for by Output.build. A block that no longer fits, because
        this node stopped leading or its log moved on meanwhile, is dropped: nothing changes and
        the output is empty (`statistics.blocks_discarded` counts it). Its transactions are
        still pending and go into a later block."""
        self._begin()
        self._start(now_ms)
        building, self._building = self._building, None
        height = block.header.height
        if building != height or self._height_to_build() != height:
            self._statistics.blocks_discarded += 1
            return self._finish()
        self._append_block(block, now_ms)
        return self._finish()

    def block_validated(self, block_hash: bytes, valid: bool, now_ms: int) -> Output:
        """The verdict on the committed block handed out by Output.validate: its Commit, and the
        request for the next committed block. A refused committed block is an InvariantError
        (the chain cannot go on past it here)."""
        self._begin()
        self._start(now_ms)
        validating = self._validating
        if validating is None or validating[3] != block_hash:
            return self._finish()  # answered already, or of a previous life of the driver
        index, height, block, _ = validating
        if not valid:
            entry = self._log.entry(index)
            raise InvariantError(
                f"the application refuses the committed block at height {height} "
                f"(log index {index}, term {entry.term})"
            )
        self._validating = None
        self._emit_commit(index, height, block, block_hash)
        self._applied_index = index
        self._advance_applied()
        return self._finish()

    def _height_to_build(self) -> int | None:
        if self._role is not RaftRole.LEADER or not self.is_voter:
            return None
        if self._validating is not None or self._applied_index < self._commit_index:
            # A committed block is not emitted yet: the next one is built on its state.
            return None
        last_height = self._log.height_at(self._log.last_index)
        if last_height - self._log.height_at(self._commit_index) >= self._pipeline_blocks_max:
            return None
        return last_height + 1

    def propose_membership_change(self, voters: Sequence[str], now_ms: int) -> Output:
        """Appends a change to the whole voter set `voters` (one voter added or removed).

        Raises ConfigurationError, changing nothing, unless this node leads, has committed an
        entry of its term, no other change is uncommitted, and `voters` differs from the current
        configuration by exactly one voter.
        """
        if self._role is not RaftRole.LEADER:
            raise ConfigurationError(
                f"{self.node_id} is not the leader (leader: {self._leader})", reason="not_leader"
            )
        if isinstance(voters, str):
            raise ConfigurationError("voters must be a sequence of ids, not one string")
        try:
            new_voters = check_validator_ids(voters)
        except RequestError as error:
            raise ConfigurationError(f"membership change: {error.message}") from None
        current = self._log.voters
        difference = set(current).symmetric_difference(new_voters)
        if len(difference) != 1:
            raise ConfigurationError(
                f"a membership change adds or removes exactly one voter; {sorted(difference)} "
                f"differ from the current voters {list(current)}"
            )
        if self._log.term_at(self._commit_index) != self._term:
            raise ConfigurationError(
                "the leader has not yet committed an entry of its term; retry shortly",
                reason="leader_not_ready",
            )
        if self.membership_change_pending:
            raise ConfigurationError(
                "another membership change is not yet committed", reason="change_in_progress"
            )
        self._begin()
        self._start(now_ms)
        entry = membership_entry(
            self._term,
            self._log.last_index + 1,
            new_voters,
            self._log.height_at(self._log.last_index),
        )
        self._append_own(entry, now_ms)
        self._statistics.membership_changes_proposed += 1
        self._broadcast_append(now_ms)
        self._advance_commit(now_ms)
        return self._finish()

    def step(self, sender: str, message: consensus_pb2.ConsensusMessage, now_ms: int) -> Output:
        """Handles one message from a peer. Never raises on peer input (only on broken state)."""
        self._begin()
        self._start(now_ms)
        self._statistics.messages_received += 1
        if sender == self.node_id or sender not in self._members:
            self._statistics.messages_dropped_non_member += 1
            return self._finish()
        body = message.WhichOneof("body")
        if body == "raft_request_vote":
            self._on_request_vote(sender, message.raft_request_vote, now_ms)
        elif body == "raft_vote_response":
            self._on_vote_response(sender, message.raft_vote_response, now_ms)
        elif body == "raft_append_entries":
            self._on_append_entries(sender, message.raft_append_entries, now_ms)
        elif body == "raft_append_response":
            self._on_append_response(sender, message.raft_append_response, now_ms)
        else:
            self._statistics.messages_dropped_malformed += 1
        return self._finish()

    # ----------------------------------------------------------------------------- restore

    def _restore(self, records: Mapping[str, bytes], last_committed_height: int) -> None:
        meta = read_meta(records)
        if meta is None:
            return
        if meta.term > TERM_MAX:
            raise StorageCorruptionError(f"{META_RECORD} holds term {meta.term}")
        self._term = meta.term
        self._voted_for = meta.voted_for
        for index in range(1, meta.log_end + 1):
            name = log_record_name(index)
            data = records.get(name)
            if not data:
                raise StorageCorruptionError(f"{name} is missing below the log end {meta.log_end}")
            try:
                message = decode(consensus_pb2.RaftEntry, data, bytes_max=ENTRY_BYTES_MAX + 64)
                if message.index != index:
                    raise RequestError(f"it holds index {message.index}")
                if not self._log.last_term <= message.term <= self._term or message.term == 0:
                    raise RequestError(f"its term {message.term} is out of order")
                entry = parse_entry(
                    message,
                    self.chain_id,
                    self._log.height_at(index - 1),
                    self._log.configuration_entry_voters_at(index - 1),
                )
            except RequestError as error:
                raise StorageCorruptionError(f"{name}: {error.message}") from None
            self._log.append(entry)
        last_height = self._log.height_at(self._log.last_index)
        if last_height < last_committed_height:
            raise StorageCorruptionError(
                f"the raft log ends at height {last_height}, below the committed height "
                f"{last_committed_height}"
            )

    # ----------------------------------------------------------------------------- output

    def _begin(self) -> None:
        self._out = Output()
        self._meta_dirty = False

    def _finish(self) -> Output:
        if self._meta_dirty:
            self._persist_meta(self._log.last_index)
        output = self._out
        self._out = Output()
        return output

    def _persist_meta(self, log_end: int) -> None:
        meta = Meta(term=self._term, voted_for=self._voted_for, log_end=log_end)
        self._out.persist.append((META_RECORD, encode_meta(meta)))
        self._meta_dirty = False

    def _send(self, peer: str, message: consensus_pb2.ConsensusMessage) -> None:
        self._out.send.append((peer, message))

    # ----------------------------------------------------------------------------- roles

    def _start(self, now_ms: int) -> None:
        if self._started:
            return
        self._started = True
        self._reset_election_timer(now_ms)
        if self._log.voters == (self.node_id,):
            self._become_candidate(now_ms)

    def _reset_election_timer(self, now_ms: int) -> None:
        timeout = self._random.randint(
            self._timeouts.election_min_ms, self._timeouts.election_max_ms
        )
        self._election_deadline_ms = now_ms + timeout

    def _quorum(self) -> int:
        return len(self._log.voters) // 2 + 1

    def _peers(self) -> list[str]:
        return [voter for voter in self._log.voters if voter != self.node_id]

    def _set_term(self, term: int) -> None:
        if term > self._term:
            self._term = term
            self._voted_for = None
            self._meta_dirty = True

    def _become_follower(self, term: int, leader: str | None, now_ms: int) -> None:
        was_leader = self._role is RaftRole.LEADER
        self._set_term(term)
        if was_leader:
            self._statistics.leader_step_downs += 1
            self._reset_election_timer(now_ms)
        self._role = RaftRole.FOLLOWER
        self._leader = leader
        self._building = None
        self._votes = set()
        self._next_index = {}
        self._match_index = {}
        self._peer_heard_at_ms = {}
        self._sent_through = {}
        self._sent_at_ms = {}
        self._heartbeat_deadline_ms = None

    def _become_candidate(self, now_ms: int) -> None:
        if self._term >= TERM_MAX:
            return
        self._role = RaftRole.CANDIDATE
        self._term += 1
        self._voted_for = self.node_id
        self._meta_dirty = True
        self._leader = None
        self._votes = {self.node_id}
        self._statistics.elections_started += 1
        self._reset_election_timer(now_ms)
        if len(self._votes) >= self._quorum():
            self._become_leader(now_ms)
            return
        request = consensus_pb2.ConsensusMessage(
            raft_request_vote=consensus_pb2.RaftRequestVote(
                term=self._term,
                candidate=self.node_id,
                last_log_index=self._log.last_index,
                last_log_term=self._log.last_term,
            )
        )
        for peer in self._peers():
            self._send(peer, request)

    def _become_leader(self, now_ms: int) -> None:
        self._role = RaftRole.LEADER
        self._leader = self.node_id
        self._building = None
        self._votes = set()
        self._leader_since_ms = now_ms
        self._last_block_ms = now_ms
        self._statistics.elections_won += 1
        self._next_index = {}
        self._match_index = {}
        self._peer_heard_at_ms = {}
        self._sent_through = {}
        self._sent_at_ms = {}
        self._sync_peers(now_ms)
        # The thesis's no-op (§6.4): an entry of the new term, here a restatement of the current
        # configuration, lets the leader commit what earlier terms left and unlocks changes.
        entry = membership_entry(
            self._term,
            self._log.last_index + 1,
            self._log.voters,
            self._log.height_at(self._log.last_index),
        )
        self._append_own(entry, now_ms)
        self._broadcast_append(now_ms)
        self._heartbeat_deadline_ms = now_ms + self._timeouts.heartbeat_ms
        self._advance_commit(now_ms)

    def _sync_peers(self, now_ms: int) -> None:
        """Leader: track exactly the other voters of the latest configuration."""
        peers = self._peers()
        for peer in peers:
            if peer not in self._next_index:
                self._next_index[peer] = self._log.last_index + 1
                self._match_index[peer] = 0
                self._peer_heard_at_ms[peer] = now_ms
        for peer in list(self._next_index):
            if peer not in peers:
                del self._next_index[peer]
                del self._match_index[peer]
                del self._peer_heard_at_ms[peer]
                self._sent_through.pop(peer, None)
                self._sent_at_ms.pop(peer, None)

    def _heartbeat(self, now_ms: int) -> None:
        # Check quorum: a leader that has heard from no majority for a whole election timeout
        # steps down, so a partitioned leader stops claiming leadership.
        window_ms = self._timeouts.election_max_ms
        if now_ms - self._leader_since_ms >= window_ms:
            heard = sum(
                1
                for peer, heard_at in self._peer_heard_at_ms.items()
                if now_ms - heard_at < window_ms
            )
            if self.is_voter:
                heard += 1
            if heard < self._quorum():
                self._become_follower(self._term, None, now_ms)
                return
        self._broadcast_append(now_ms, heartbeat=True)
        self._heartbeat_deadline_ms = now_ms + self._timeouts.heartbeat_ms

    # ----------------------------------------------------------------------------- leader

    def _append_own(self, entry: LogEntry, now_ms: int) -> None:
        self._log.append(entry)
        self._out.persist.append((log_record_name(entry.index), encode(entry.message)))
        self._meta_dirty = True
        if entry.is_membership_change:
            self._members |= set(entry.voters)
            self._sync_peers(now_ms)

    def _append_block(self, block: types_pb2.Block, now_ms: int) -> None:
        height = block.header.height
        if height <= self._applied_height:
            raise InvariantError(f"next raft height {height} is already committed")
        if block.header.chain_id != self.chain_id:
            raise InvariantError(
                f"the application built a block of chain {block.header.chain_id!r} for "
                f"{self.chain_id!r}"
            )
        data = encode(block)
        if len(data) > ENTRY_BYTES_MAX:
            raise InvariantError(f"a block of {len(data)} bytes exceeds {ENTRY_BYTES_MAX}")
        self._append_own(block_entry(self._term, self._log.last_index + 1, height, data), now_ms)
        self._last_block_ms = now_ms
        self._statistics.blocks_proposed += 1
        self._broadcast_append(now_ms)
        self._advance_commit(now_ms)

    def _broadcast_append(self, now_ms: int, *, heartbeat: bool = False) -> None:
        for peer in sorted(self._next_index):
            self._send_append(peer, now_ms, heartbeat=heartbeat)

    def _send_append(self, peer: str, now_ms: int, *, heartbeat: bool = False) -> None:
        """Sends the entries from the peer's next index, except those sent to it within the
        resend interval (they are on their way: sending a large block again on every heartbeat
        until the follower acknowledges it only loads both ends). A heartbeat goes even with
        no entry, to keep the follower's timer and commit index current."""
        next_index = self._next_index[peer]
        start = next_index
        sent_through = self._sent_through.get(peer, 0)
        if (
            sent_through >= next_index
            and now_ms - self._sent_at_ms.get(peer, now_ms) < self._resend_ms
        ):
            start = next_index if heartbeat else sent_through + 1
            entries = (
                [] if heartbeat else self._log.slice(start, APPEND_ENTRIES_MAX, APPEND_BYTES_MAX)
            )
        else:
            entries = self._log.slice(start, APPEND_ENTRIES_MAX, APPEND_BYTES_MAX)
            # The retransmission timer starts with a send from the first unacknowledged entry.
            self._sent_at_ms[peer] = now_ms
        if not entries and not heartbeat:
            return
        if entries:
            self._sent_through[peer] = entries[-1].index
        previous = start - 1
        request = consensus_pb2.RaftAppendEntries(
            term=self._term,
            leader=self.node_id,
            previous_log_index=previous,
            previous_log_term=self._log.term_at(previous),
            entries=[entry.message for entry in entries],
            leader_commit=self._commit_index,
        )
        self._send(peer, consensus_pb2.ConsensusMessage(raft_append_entries=request))

    def _advance_commit(self, now_ms: int) -> None:
        if self._role is not RaftRole.LEADER:
            return
        matches = sorted(
            (
                self._log.last_index if voter == self.node_id else self._match_index.get(voter, 0)
                for voter in self._log.voters
            ),
            reverse=True,
        )
        candidate = matches[self._quorum() - 1]
        # Only an entry of the current term is committed by counting (§5.4.2); earlier ones
        # follow by the Log Matching Property.
        if candidate > self._commit_index and self._log.term_at(candidate) == self._term:
            self._commit_to(candidate, now_ms)

    # ----------------------------------------------------------------------------- commit

    def _commit_to(self, index: int, now_ms: int) -> None:
        self._commit_index = index
        self._advance_applied()
        if (
            self._role is RaftRole.LEADER
            and not self.is_voter
            and self._log.configuration_index <= self._commit_index
        ):
            # Removed leader (thesis §4.2.2): it led until its removal committed. Tell the
            # followers the commit index once, then step down.
            self._broadcast_append(now_ms, heartbeat=True)
            self._become_follower(self._term, None, now_ms)

    def _advance_applied(self) -> None:
        """Walks the committed entries not yet emitted: skips membership changes and blocks
        already applied, and hands the next block out for validation (one at a time)."""
        while self._validating is None and self._applied_index < self._commit_index:
            entry = self._log.entry(self._applied_index + 1)
            if entry.is_membership_change or entry.block_height <= self._applied_height:
                self._applied_index = entry.index
                continue
            height = entry.block_height
            if height != self._applied_height + 1:
                raise InvariantError(
                    f"raft would commit height {height} after {self._applied_height}"
                )
            try:
                block = decode(types_pb2.Block, entry.message.data, bytes_max=ENTRY_BYTES_MAX)
            except CausewayError as error:
                raise InvariantError(f"committed entry {entry.index}: {error.message}") from None
            block_hash = self._hasher.block_hash(block)
            self._validating = (entry.index, height, block, block_hash)
            self._out.validate.append(ValidateBlock(block, block_hash, committed=True))

    def _emit_commit(
        self, index: int, height: int, block: types_pb2.Block, block_hash: bytes
    ) -> None:
        round_number = self._log.entry(index).term & 0xFFFFFFFF
        vote = types_pb2.CommitVote(height=height, round=round_number, block_hash=block_hash)
        signature = self._signer.sign(sign_bytes(DOMAIN_COMMIT, self.chain_id, encode(vote)))
        certificate = types_pb2.CommitCertificate(
            height=height,
            round=round_number,
            block_hash=block_hash,
            signatures=[types_pb2.CommitSignature(validator=self.node_id, signature=signature)],
        )
        self._out.commits.append(Commit(height=height, block=block, certificate=certificate))
        self._applied_height = height
        self._statistics.blocks_committed += 1

    # ----------------------------------------------------------------------------- messages

    def _term_acceptable(self, term: int) -> bool:
        if term > TERM_MAX:
            self._statistics.messages_dropped_malformed += 1
            return False
        return True

    def _leader_recently_heard(self, now_ms: int) -> bool:
        if self._role is RaftRole.LEADER:
            return True
        return (
            self._leader_heard_at_ms is not None
            and now_ms - self._leader_heard_at_ms < self._timeouts.election_min_ms
        )

    def _on_request_vote(
        self, sender: str, request: consensus_pb2.RaftRequestVote, now_ms: int
    ) -> None:
        if request.candidate != sender:
            self._statistics.messages_dropped_malformed += 1
            return
        if not self._term_acceptable(request.term):
            return
        if request.term > self._term:
            # Thesis §4.2.3: while a leader is in contact, a disruptive (e.g. removed or
            # rejoining) server neither raises our term nor gets a vote.
            if self._leader_recently_heard(now_ms):
                self._statistics.votes_ignored_leader_recent += 1
                return
            self._become_follower(request.term, None, now_ms)
        granted = False
        if request.term == self._term and self._voted_for in (None, sender):
            up_to_date = (request.last_log_term, request.last_log_index) >= (
                self._log.last_term,
                self._log.last_index,
            )
            if up_to_date:
                granted = True
                self._voted_for = sender
                self._meta_dirty = True
                self._reset_election_timer(now_ms)
        if granted:
            self._statistics.votes_granted += 1
        else:
            self._statistics.votes_refused += 1
        response = consensus_pb2.RaftVoteResponse(
            term=self._term, voter=self.node_id, granted=granted
        )
        self._send(sender, consensus_pb2.ConsensusMessage(raft_vote_response=response))

    def _on_vote_response(
        self, sender: str, response: consensus_pb2.RaftVoteResponse, now_ms: int
    ) -> None:
        if response.voter != sender:
            self._statistics.messages_dropped_malformed += 1
            return
        if not self._term_acceptable(response.term):
            return
        if response.term > self._term:
            self._become_follower(response.term, None, now_ms)
            return
        if self._role is not RaftRole.CANDIDATE or response.term != self._term:
            self._statistics.messages_dropped_stale += 1
            return
        if response.granted and sender in self._log.voters:
            self._votes.add(sender)
            if len(self._votes) >= self._quorum():
                self._become_leader(now_ms)

    def _reply_append(self, leader: str, success: bool, match_index: int) -> None:
        response = consensus_pb2.RaftAppendResponse(
            term=self._term, follower=self.node_id, success=success, match_index=match_index
        )
        self._send(leader, consensus_pb2.ConsensusMessage(raft_append_response=response))

    def _check_append_shape(self, request: consensus_pb2.RaftAppendEntries) -> bool:
        if len(request.entries) > APPEND_ENTRIES_MAX:
            return False
        if request.previous_log_index == 0 and request.previous_log_term != 0:
            return False
        previous_term = request.previous_log_term
        for offset, entry in enumerate(request.entries):
            if entry.index != request.previous_log_index + 1 + offset:
                return False
            if not 1 <= entry.term <= request.term or entry.term < previous_term:
                return False
            if len(entry.data) > ENTRY_BYTES_MAX:
                return False
            previous_term = entry.term
        return True

    def _on_append_entries(
        self, sender: str, request: consensus_pb2.RaftAppendEntries, now_ms: int
    ) -> None:
        if request.leader != sender:
            self._statistics.messages_dropped_malformed += 1
            return
        if not self._term_acceptable(request.term):
            return
        if request.term < self._term:
            # A stale leader learns the newer term from the answer and steps down.
            self._statistics.messages_dropped_stale += 1
            self._reply_append(sender, False, 0)
            return
        if self._role is RaftRole.LEADER and request.term == self._term:
            # Two leaders in one term cannot happen among correct nodes.
            self._statistics.messages_dropped_malformed += 1
            return
        if not self._check_append_shape(request):
            self._statistics.messages_dropped_malformed += 1
            return
        if request.term > self._term or self._role is not RaftRole.FOLLOWER:
            self._become_follower(request.term, sender, now_ms)
        self._leader = sender
        self._leader_heard_at_ms = now_ms
        self._reset_election_timer(now_ms)

        previous = request.previous_log_index
        if previous > self._log.last_index:
            self._statistics.appends_rejected += 1
            self._reply_append(sender, False, self._log.last_index)
            return
        if self._log.term_at(previous) != request.previous_log_term:
            if previous <= self._commit_index:
                # A leader disagreeing with a committed entry: not something to act on.
                self._statistics.messages_dropped_malformed += 1
                return
            self._statistics.appends_rejected += 1
            hint = max(self._log.first_index_of_term(previous) - 1, self._commit_index)
            self._reply_append(sender, False, hint)
            return

        entries = list(request.entries)
        skip = 0
        while (
            skip < len(entries)
            and entries[skip].index <= self._log.last_index
            and self._log.term_at(entries[skip].index) == entries[skip].term
        ):
            skip += 1
        new_entries = entries[skip:]
        if new_entries and not self._append_from_leader(new_entries):
            return
        last_new = previous + len(entries)
        # Only entries known to match the leader's log may be committed: those up to last_new,
        # not whatever older entries follow them here.
        commit_index = min(request.leader_commit, last_new)
        if commit_index > self._commit_index:
            self._commit_to(commit_index, now_ms)
        self._reply_append(sender, True, last_new)

    def _append_from_leader(self, entries: list[consensus_pb2.RaftEntry]) -> bool:
        first = entries[0].index
        if first <= self._commit_index:
            self._statistics.messages_dropped_malformed += 1
            return False
        height = self._log.height_at(first - 1)
        voters = self._log.configuration_entry_voters_at(first - 1)
        parsed: list[LogEntry] = []
        try:
            for message in entries:
                entry = parse_entry(message, self.chain_id, height, voters)
                height = entry.height_after
                if entry.is_membership_change:
                    voters = entry.voters
                parsed.append(entry)
        except RequestError:
            self._statistics.messages_dropped_malformed += 1
            return False
        old_last = self._log.last_index
        if first <= old_last:
            self._statistics.entries_truncated += self._log.truncate_from(first)
            # Shrink the durable log first so that no prefix of these writes mixes two logs.
            self._persist_meta(first - 1)
        for entry in parsed:
            self._log.append(entry)
            self._out.persist.append((log_record_name(entry.index), encode(entry.message)))
        for index in range(self._log.last_index + 1, old_last + 1):
            self._out.persist.append((log_record_name(index), b""))
        self._meta_dirty = True
        self._statistics.entries_appended += len(parsed)
        self._members = self._log.known_voters() | self._extra_members
        return True

    def _on_append_response(
        self, sender: str, response: consensus_pb2.RaftAppendResponse, now_ms: int
    ) -> None:
        if response.follower != sender:
            self._statistics.messages_dropped_malformed += 1
            return
        if not self._term_acceptable(response.term):
            return
        if response.term > self._term:
            self._become_follower(response.term, None, now_ms)
            return
        if (
            self._role is not RaftRole.LEADER
            or response.term != self._term
            or sender not in self._next_index
        ):
            self._statistics.messages_dropped_stale += 1
            return
        self._peer_heard_at_ms[sender] = now_ms
        match = self._match_index[sender]
        if response.success:
            if response.match_index > self._log.last_index:
                self._statistics.messages_dropped_malformed += 1
                return
            advanced = response.match_index > match
            if advanced:
                self._match_index[sender] = response.match_index
                # Progress restarts the retransmission timer of what is still on its way.
                self._sent_at_ms[sender] = now_ms
            self._next_index[sender] = max(self._next_index[sender], self._match_index[sender] + 1)
            if advanced:
                self._advance_commit(now_ms)
                if (
                    self._role is RaftRole.LEADER
                    and sender in self._next_index
                    and self._next_index[sender] <= self._log.last_index
                ):
                    self._send_append(sender, now_ms)
            return
        # Back off at once to the follower's hint (its last index, or the entry before the
        # conflicting term), never below what it has already matched.
        next_index = max(match + 1, min(self._next_index[sender] - 1, response.match_index + 1))
        if next_index < self._next_index[sender]:
            self._next_index[sender] = next_index
            self._sent_through[sender] = 0  # resend from the new next index at once
            self._send_append(sender, now_ms)
