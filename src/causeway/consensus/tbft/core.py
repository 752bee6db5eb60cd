"""The Tendermint BFT core: Algorithm 1 of arXiv:1807.04938 as a pure state machine.

The core never reads a clock, a disk or the network: time comes in as ``now_ms``, messages through
``step``, and everything it wants done comes back in an ``Output`` (see
docs/adr/0002-consensus-cores-and-simulation.md and docs/consensus-tbft.md). Rule numbers in the
comments (22, 28, 34, 36, 44, 47, 49, 55) are the line numbers of Algorithm 1.

Deliberate additions to the paper, none of which touches safety:

* Round skipping (line 55) counts, per validator, the highest round it has signed anything in at
  this height, and starts the highest round that more than one third of the power has reached.
  With the votes of one round this is exactly line 55; it also lets a validator catch up when the
  rounds ahead are beyond the window of stored messages.
* The proposer also arms the propose timeout, so a proposer that may not sign (after a restore)
  still moves on.
* Gossip the paper takes for granted (its liveness proof assumes every message a correct process
  received eventually reaches every correct process): every ``rebroadcast_ms`` the core re-sends
  its own signed messages of its latest round; a validator seen in a lower round of this height
  is sent what the core holds for that round; a validator seen at the height just decided is sent
  the proposal and precommits that decided it; a re-proposal (valid round >= 0) makes every
  holder of the polka it refers to send that polka once. All of these are stored messages, never
  new signatures.
* A second, conflicting vote of a validator is evidence and is not counted, except in the proof of
  lock of line 28 (see VoteSet): the paper counts every message, and without this a validator
  that saw an equivocator's other vote first could never accept the proof.
* Persisted state includes the own votes of recent rounds and the polka of the valid block, the
  part of Tendermint's write-ahead log that liveness after restarts needs.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from causeway.consensus.core import (
    BlockHasher,
    BuildBlock,
    Commit,
    Output,
    Signer,
    ValidateBlock,
    Verifier,
)
from causeway.consensus.tbft.documents import proposal_sign_bytes, vote_sign_bytes
from causeway.consensus.tbft.proposer import ProposerSelection
from causeway.consensus.tbft.records import (
    LOCK_RECORD,
    STATE_RECORD,
    PersistedLock,
    PersistedState,
    decode_lock,
    decode_state,
    encode_lock,
    encode_state,
)
from causeway.consensus.tbft.votes import VoteSet, is_one_third, is_quorum
from causeway.consensus.v1 import consensus_pb2
from causeway.errors import (
    ConfigurationError,
    HeightUnavailableError,
    InvariantError,
    RequestError,
)
from causeway.types.v1 import types_pb2

# Messages for rounds further than this above the current round are not stored (their round still
# counts towards round skipping).
ROUNDS_AHEAD_MAX = 10
# Messages for the next height kept per validator until the core gets there.
NEXT_HEIGHT_MESSAGES_PER_VALIDATOR_MAX = 8
HASH_BYTES_MAX = 64
# Own votes of the current height kept (and persisted) for this many most recent rounds, so that
# after a restart validators still in those rounds can be sent them again.
SIGNED_ROUNDS_KEPT = 16
SIGNATURE_BYTES_MAX = 512

PREVOTE = consensus_pb2.VOTE_TYPE_PREVOTE
PRECOMMIT = consensus_pb2.VOTE_TYPE_PRECOMMIT

STATISTICS_NAMES = (
    "received",
    "accepted",
    "dropped_malformed",
    "dropped_not_validator",
    "dropped_bad_signature",
    "dropped_wrong_proposer",
    "dropped_duplicate",
    "dropped_conflicting_vote",
    "dropped_conflicting_proposal",
    "dropped_old_height",
    "dropped_future_height",
    "dropped_decided_height",
    "dropped_round_too_far",
    "dropped_next_height_full",
    "dropped_unexpected_type",
    "buffered_next_height",
    "evidence",
    "invalid_blocks",
    "validations_requested",
    "blocks_discarded",
    "signed",
    "resent_identical",
    "sign_refused",
    "rebroadcasts",
    "help_sent",
    "advance_ignored",
)


class TbftStep(IntEnum):
    PROPOSE = 1
    PREVOTE = 2
    PRECOMMIT = 3
    # Decided; waiting commit_ms before the next height. Never persisted.
    COMMIT = 4


@dataclass(frozen=True, slots=True)
class TbftTimeouts:
    """Timeouts in milliseconds; each round waits ``delta_ms`` longer than the one before."""

    propose_ms: int = 3_000
    prevote_ms: int = 1_000
    precommit_ms: int = 1_000
    delta_ms: int = 500
    # The pause after a commit before the next height starts (lets late votes and blocks arrive).
    commit_ms: int = 1_000
    # How often the core re-sends its latest signed messages, and the least time between two helps
    # to one lagging validator; 0 turns all gossip off (re-sending, help, proof of lock).
    rebroadcast_ms: int = 1_000

    def __post_init__(self) -> None:
        for name in (
            "propose_ms",
            "prevote_ms",
            "precommit_ms",
            "delta_ms",
            "commit_ms",
            "rebroadcast_ms",
        ):
            if getattr(self, name) < 0:
                raise ConfigurationError(f"tbft timeout {name} must not be negative")

    def propose_timeout_ms(self, round_number: int) -> int:
        return self.propose_ms + round_number * self.delta_ms

    def prevote_timeout_ms(self, round_number: int) -> int:
        return self.prevote_ms + round_number * self.delta_ms

    def precommit_timeout_ms(self, round_number: int) -> int:
        return self.precommit_ms + round_number * self.delta_ms


_TIMEOUT_PROPOSE = 1
_TIMEOUT_PREVOTE = 2
_TIMEOUT_PRECOMMIT = 3

_SignedStep = tuple[int, int, int]


class _RoundState:
    __slots__ = (
        "own",
        "polka_handled",
        "precommit_timeout_armed",
        "precommits",
        "prevote_timeout_armed",
        "prevotes",
        "proof_sent",
        "proposal",
        "proposal_hash",
        "proposal_message",
    )

    def __init__(self) -> None:
        self.proposal: consensus_pb2.Proposal | None = None
        self.proposal_hash = b""
        self.proposal_message: consensus_pb2.ConsensusMessage | None = None
        self.prevotes = VoteSet()
        self.precommits = VoteSet()
        self.prevote_timeout_armed = False  # line 34, "for the first time"
        self.polka_handled = False  # line 36, "for the first time"
        self.precommit_timeout_armed = False  # line 47, "for the first time"
        self.proof_sent = False
        # Own signed messages of this round, in signing order (for re-sending).
        self.own: list[consensus_pb2.ConsensusMessage] = []

    def votes(self, vote_type: int) -> VoteSet:
        return self.prevotes if vote_type == PREVOTE else self.precommits


ValidatorPairs = Sequence[tuple[str, int]] | types_pb2.ValidatorSet
# height -> (the first height of the set in effect at that height, that set). A chain whose set
# changes through governance gives its schedule (see execution's validators contract); the
# schedule must answer for the height being decided and the one after it.
ValidatorSchedule = Callable[[int], tuple[int, ValidatorPairs]]


@dataclass(slots=True)
class _ValidatorEpoch:
    """A validator set and the heights it is in effect from.

    Proposer priorities start from zero when a set takes effect: the proposer of (height, round)
    is the one picked by increment ``height - from_height + 1 + round`` of the set's own
    selection. For the genesis set (from height 1) this is Tendermint's sequence unchanged.
    """

    from_height: int
    powers: dict[str, int]
    total: int
    selection: ProposerSelection

    @classmethod
    def of(cls, from_height: int, validators: ValidatorPairs) -> _ValidatorEpoch:
        pairs = _validator_pairs(validators)
        if from_height < 1:
            raise ConfigurationError("a validator set takes effect at height 1 or later")
        powers = dict(sorted(pairs))
        return cls(from_height, powers, sum(powers.values()), ProposerSelection(pairs))

    def proposer(self, height: int, round_number: int) -> str:
        return self.selection.proposer(height - self.from_height + 1, round_number)

    def forget_before(self, height: int) -> None:
        self.selection.forget_before(max(1, height - self.from_height + 1))


class TbftCore:
    """One validator's Tendermint consensus (see the module docstring and docs/consensus-tbft.md).

    ``height`` is the next height to decide (the last committed height plus one). ``restored``
    holds the records of an earlier ``Output.persist`` (the latest bytes of each name); with them
    the core keeps its lock and never signs anything its previous life may have signed
    differently. A signer whose id is not in the validator set makes an observer: it follows and
    commits but never signs.
    """

    def __init__(  # noqa: PLR0917 - the positional order is the documented interface
        self,
        chain_id: str,
        validators: ValidatorPairs,
        signer: Signer,
        verifier: Verifier,
        hasher: BlockHasher,
        height: int,
        timeouts: TbftTimeouts | None = None,
        restored: Mapping[str, bytes] | None = None,
        *,
        validator_schedule: ValidatorSchedule | None = None,
        unsafe_disable_locking_for_tests: bool = False,
    ) -> None:
        """validators: the set of every height, unless validator_schedule gives each height's."""
        if height < 1:
            raise ConfigurationError(f"tbft height must be at least 1, not {height}")
        self._chain_id = chain_id
        if validator_schedule is None:
            fixed = _ValidatorEpoch.of(1, validators)
            self._schedule: ValidatorSchedule = lambda _height: (1, validators)
            self._epochs: dict[int, _ValidatorEpoch] = {1: fixed}
        else:
            self._schedule = validator_schedule
            self._epochs = {}
        # The epoch of each height near the current one (the height before, this, the next).
        self._epoch_of_height: dict[int, _ValidatorEpoch] = {}
        self._epoch = self._epoch_required(height)
        self._powers: dict[str, int] = self._epoch.powers
        self._total_power = self._epoch.total
        self._signer = signer
        self._verifier = verifier
        self._hasher = hasher
        self._timeouts = timeouts if timeouts is not None else TbftTimeouts()
        self._unsafe_disable_locking = unsafe_disable_locking_for_tests
        self._me = signer.validator_id
        self._is_validator = self._me in self._powers
        self.statistics: dict[str, int] = dict.fromkeys(STATISTICS_NAMES, 0)

        self._started = False
        self._height = height
        self._round = 0
        self._step = TbftStep.PROPOSE
        self._locked_round = -1
        self._locked_hash = b""
        self._valid_round = -1
        self._valid_hash = b""
        self._rounds: dict[int, _RoundState] = {}
        self._blocks: dict[bytes, types_pb2.Block] = {}
        self._validity: dict[bytes, bool] = {}
        # Blocks handed out for validation (Output.validate) and not yet answered.
        self._validating: set[bytes] = set()
        # (height, round) of the block asked for (Output.build) and not yet handed back.
        self._building: tuple[int, int] | None = None
        self._latest_round: dict[str, int] = {}
        self._commit_rounds: list[int] = []
        self._timers: list[tuple[int, int, int, int]] = []
        self._timer_sequence = 0
        self._commit_deadline_ms: int | None = None
        self._decided_at_ms: int | None = None
        self._rebroadcast_deadline_ms: int | None = None
        self._help_sent_ms: dict[str, int] = {}
        # Messages for self._height + 1, signatures checked, in arrival order.
        self._next_height: list[tuple[str, consensus_pb2.ConsensusMessage]] = []
        self._next_height_counts: dict[str, int] = {}
        self._next_height_of = height + 1
        # What decided the last height this core decided, to send to validators still on it.
        self._decided_height = 0
        self._decided_messages: list[consensus_pb2.ConsensusMessage] = []

        # Double-sign guard: the last signed (height, round, step), and what was signed at that
        # height (votes of the last SIGNED_ROUNDS_KEPT rounds, the proposal while it is the last
        # signed message). Signing is monotonic in (height, round, step).
        self._signed_step: _SignedStep | None = None
        self._signed_messages: list[consensus_pb2.ConsensusMessage] = []
        self._pending_restore: PersistedState | None = None
        self._restored_lock = PersistedLock(blocks=(), polka=())
        self._persisted_state: bytes | None = None
        self._persisted_lock: tuple[bytes, bytes, int] = (b"", b"", -1)
        if restored:
            self._load(restored)

    @classmethod
    def restore(  # noqa: PLR0917 - the positional order is the documented interface
        cls,
        records: Mapping[str, bytes],
        chain_id: str,
        validators: ValidatorPairs,
        signer: Signer,
        verifier: Verifier,
        hasher: BlockHasher,
        height: int,
        timeouts: TbftTimeouts | None = None,
        *,
        validator_schedule: ValidatorSchedule | None = None,
        unsafe_disable_locking_for_tests: bool = False,
    ) -> TbftCore:
        """The same as the constructor with ``restored=records``."""
        return cls(
            chain_id,
            validators,
            signer,
            verifier,
            hasher,
            height,
            timeouts,
            records,
            validator_schedule=validator_schedule,
            unsafe_disable_locking_for_tests=unsafe_disable_locking_for_tests,
        )

    # ---------------------------------------------------------------- public view

    @property
    def height(self) -> int:
        return self._height

    @property
    def round(self) -> int:
        return self._round

    @property
    def current_step(self) -> TbftStep:
        """The step within the round (``step`` is the message entry point of ADR 0002)."""
        return self._step

    @property
    def locked_round(self) -> int:
        return self._locked_round

    @property
    def locked_block_hash(self) -> bytes:
        return self._locked_hash

    @property
    def valid_round(self) -> int:
        return self._valid_round

    @property
    def valid_block_hash(self) -> bytes:
        return self._valid_hash

    @property
    def validator_id(self) -> str:
        return self._me

    @property
    def validators(self) -> Mapping[str, int]:
        return dict(self._powers)

    @property
    def total_voting_power(self) -> int:
        return self._total_power

    def proposer(self, height: int, round_number: int) -> str:
        """The proposer of (height, round): Tendermint's weighted round-robin.

        Any height the validator schedule can answer for."""
        epoch = self._epoch_at(height)
        if epoch is None:
            from_height, validators = self._schedule(height)
            epoch = self._epochs.get(from_height) or _ValidatorEpoch.of(from_height, validators)
        return epoch.proposer(height, round_number)

    def validators_at(self, height: int) -> Mapping[str, int] | None:
        """The voting powers at a height near the current one, None for any other height."""
        epoch = self._epoch_at(height)
        return None if epoch is None else dict(epoch.powers)

    @property
    def decided_at_ms(self) -> int | None:
        """When the current height was decided (in the COMMIT step); None before."""
        return self._decided_at_ms if self._step == TbftStep.COMMIT else None

    def next_deadline_ms(self) -> int | None:
        if not self._started:
            return None
        deadlines = [
            deadline
            for deadline in (self._commit_deadline_ms, self._rebroadcast_deadline_ms)
            if deadline is not None
        ]
        if self._timers:
            deadlines.append(self._timers[0][0])
        return min(deadlines) if deadlines else None

    # ---------------------------------------------------------------- driving

    def start(self, now_ms: int) -> Output:
        if self._started:
            raise InvariantError("the tbft core was started twice")
        self._started = True
        output = Output()
        if self._timeouts.rebroadcast_ms > 0:
            self._rebroadcast_deadline_ms = now_ms + self._timeouts.rebroadcast_ms
        self._enter_height(self._height, now_ms, output)
        self._flush(output)
        return output

    def tick(self, now_ms: int) -> Output:
        output = Output()
        if not self._started:
            return output
        while self._timers and self._timers[0][0] <= now_ms:
            _, _, kind, round_number = heapq.heappop(self._timers)
            self._on_timeout(kind, round_number, now_ms, output)
        if self._commit_deadline_ms is not None and self._commit_deadline_ms <= now_ms:
            self._enter_height(self._height + 1, now_ms, output)
        if self._rebroadcast_deadline_ms is not None and self._rebroadcast_deadline_ms <= now_ms:
            self._rebroadcast_deadline_ms = now_ms + self._timeouts.rebroadcast_ms
            self._rebroadcast(output)
        self._flush(output)
        return output

    def step(self, sender: str, message: consensus_pb2.ConsensusMessage, now_ms: int) -> Output:
        """Handles one message from a peer. Never raises on what the peer sent."""
        output = Output()
        self.statistics["received"] += 1
        body = (
            message.WhichOneof("body")
            if isinstance(message, consensus_pb2.ConsensusMessage)
            else None
        )
        if body == "proposal":
            self._on_proposal(sender, message, now_ms, output, checked=False)
        elif body == "vote":
            self._on_vote(sender, message, now_ms, output, checked=False)
        else:
            self.statistics["dropped_unexpected_type"] += 1
        self._flush(output)
        return output

    def advance_to(self, height: int, now_ms: int) -> Output:
        """Moves to `height` after the runtime got the blocks below it by block sync."""
        output = Output()
        if height <= self._height:
            self.statistics["advance_ignored"] += 1
            return output
        if not self._started:
            self._height = height
            return output
        self._enter_height(height, now_ms, output)
        self._flush(output)
        return output

    def propose(self, now_ms: int, transactions_waiting: int | None = None) -> Output:
        """tbft proposes on its own schedule (the proposer of each round): nothing to do."""
        del now_ms, transactions_waiting
        return Output()

    def block_built(self, block: types_pb2.Block, now_ms: int) -> Output:
        """The block asked for by Output.build: proposed now if this validator is still the
        proposer of that height and round, has proposed nothing there and may sign; otherwise
        dropped (``statistics["blocks_discarded"]``)."""
        output = Output()
        building, self._building = self._building, None
        height, round_number = self._height, self._round
        signed_step = (height, round_number, int(TbftStep.PROPOSE))
        if (
            not self._started
            or building != (height, round_number)
            or block.header.height != height
            or self._step != TbftStep.PROPOSE
            or self._round_state(round_number).proposal is not None
            or not self._may_sign(signed_step)
        ):
            self.statistics["blocks_discarded"] += 1
            return output
        block_hash = self._hasher.block_hash(block)
        self._blocks[block_hash] = block
        # Built by our own executor: checking it again would only repeat the work.
        self._validity[block_hash] = True
        self._sign_proposal(block, block_hash, 0, output)
        self._evaluate(now_ms, output)
        self._flush(output)
        return output

    def block_validated(self, block_hash: bytes, valid: bool, now_ms: int) -> Output:
        """The verdict on a block asked for by Output.validate; the rules waiting for it go on."""
        output = Output()
        if block_hash not in self._validating:
            return output  # of an earlier height, or answered already
        self._validating.discard(block_hash)
        self._validity[block_hash] = valid
        if not valid:
            self.statistics["invalid_blocks"] += 1
        self._evaluate(now_ms, output)
        self._flush(output)
        return output

    # ---------------------------------------------------------------- heights and rounds

    def _enter_height(self, height: int, now_ms: int, output: Output) -> None:
        self._height = height
        self._round = 0
        self._step = TbftStep.PROPOSE
        self._locked_round = -1
        self._locked_hash = b""
        self._valid_round = -1
        self._valid_hash = b""
        self._rounds = {}
        self._blocks = {}
        self._validity = {}
        self._validating = set()
        self._building = None
        self._latest_round = {}
        self._commit_rounds = []
        self._timers = []
        self._commit_deadline_ms = None
        self._epoch = self._epoch_required(height)
        self._powers = self._epoch.powers
        self._total_power = self._epoch.total
        self._is_validator = self._me in self._powers
        # The height before stays cached: validators still on it may need checking.
        self._epoch.forget_before(height - 1)
        for known in [known for known in self._epoch_of_height if known < height - 1]:
            del self._epoch_of_height[known]
        in_use = {id(epoch) for epoch in self._epoch_of_height.values()}
        for from_height in [f for f, e in self._epochs.items() if id(e) not in in_use]:
            del self._epochs[from_height]
        buffered = self._next_height if self._next_height_of == height else []
        self._next_height = []
        self._next_height_counts = {}
        self._next_height_of = height + 1

        pending = self._pending_restore
        if pending is not None and pending.height < height:
            self._pending_restore = pending = None
            self._restored_lock = PersistedLock(blocks=(), polka=())
        if pending is not None and pending.height == height:
            self._resume(pending, now_ms, output)
        else:
            # With persisted state for a later height nothing here may be signed (the guard
            # refuses it), but the core follows the others and commits what they decide.
            self._start_round(0, now_ms, output)
        for sender, message in buffered:
            if message.WhichOneof("body") == "proposal":
                self._on_proposal(sender, message, now_ms, output, checked=True)
            else:
                self._on_vote(sender, message, now_ms, output, checked=True)
        self._evaluate(now_ms, output)

    def _resume(self, pending: PersistedState, now_ms: int, output: Output) -> None:
        self._pending_restore = None
        lock, self._restored_lock = self._restored_lock, PersistedLock(blocks=(), polka=())
        for block in lock.blocks:
            block_hash = self._hasher.block_hash(block)
            self._blocks[block_hash] = block
            self._validity[block_hash] = True
        self._locked_round = pending.locked_round
        self._locked_hash = pending.locked_hash
        if pending.valid_hash in self._blocks:
            self._valid_round = pending.valid_round
            self._valid_hash = pending.valid_hash
            prevotes = self._round_state(pending.valid_round).prevotes
            for vote in lock.polka:
                if (
                    vote.round == pending.valid_round
                    and vote.block_hash == pending.valid_hash
                    and vote.validator in self._powers
                    and prevotes.get(vote.validator) is None
                ):
                    prevotes.add(vote, self._powers[vote.validator])
        self._round = pending.round
        self._step = TbftStep(min(max(pending.step, TbftStep.PROPOSE), TbftStep.PRECOMMIT))
        signed = self._signed_step
        if signed is not None and signed[0] == self._height:
            # Re-send exactly what was signed in the last round before the restart (never a new
            # signature); older rounds are kept for validators still in them.
            for message in self._signed_messages:
                self._register_own(message)
                if _signer_and_round(message)[1] == signed[1]:
                    output.send.append((None, message))
                    self.statistics["resent_identical"] += 1
        if self._step == TbftStep.PROPOSE:
            self._round_start_actions(now_ms, output)

    def _start_round(self, round_number: int, now_ms: int, output: Output) -> None:
        self._round = round_number
        self._step = TbftStep.PROPOSE
        self._timers = [timer for timer in self._timers if timer[3] >= round_number]
        heapq.heapify(self._timers)
        self._round_start_actions(now_ms, output)

    def _round_start_actions(self, now_ms: int, output: Output) -> None:
        if self._epoch.proposer(self._height, self._round) == self._me:
            self._propose(now_ms, output)
        self._arm(_TIMEOUT_PROPOSE, self._timeouts.propose_timeout_ms(self._round), now_ms)

    def _arm(self, kind: int, duration_ms: int, now_ms: int) -> None:
        self._timer_sequence += 1
        heapq.heappush(
            self._timers, (now_ms + duration_ms, self._timer_sequence, kind, self._round)
        )

    def _on_timeout(self, kind: int, round_number: int, now_ms: int, output: Output) -> None:
        if round_number != self._round or self._step == TbftStep.COMMIT:
            return
        if kind == _TIMEOUT_PROPOSE and self._step == TbftStep.PROPOSE:
            self._vote(PREVOTE, b"", output)
            self._step = TbftStep.PREVOTE
        elif kind == _TIMEOUT_PREVOTE and self._step == TbftStep.PREVOTE:
            self._vote(PRECOMMIT, b"", output)
            self._step = TbftStep.PRECOMMIT
        elif kind == _TIMEOUT_PRECOMMIT:
            self._start_round(self._round + 1, now_ms, output)
        self._evaluate(now_ms, output)

    # ---------------------------------------------------------------- the rules

    def _evaluate(self, now_ms: int, output: Output) -> None:
        if not self._started:
            return
        while self._step != TbftStep.COMMIT and self._apply_one_rule(now_ms, output):
            pass

    def _apply_one_rule(self, now_ms: int, output: Output) -> bool:
        """Applies the first rule whose condition holds; False when none does."""
        if self._try_decide(now_ms, output):
            return True
        target = self._skip_target()
        if target > self._round:  # line 55
            self._start_round(target, now_ms, output)
            return True
        state = self._round_state(self._round)
        total = self._total_power
        if self._step == TbftStep.PROPOSE and self._try_prevote_proposal(state, output):
            return True
        if (
            self._step == TbftStep.PREVOTE
            and not state.prevote_timeout_armed
            and is_quorum(state.prevotes.power, total)
        ):  # line 34
            state.prevote_timeout_armed = True
            self._arm(_TIMEOUT_PREVOTE, self._timeouts.prevote_timeout_ms(self._round), now_ms)
            return True
        if (
            self._step >= TbftStep.PREVOTE
            and not state.polka_handled
            and state.proposal is not None
            and is_quorum(state.prevotes.power_for(state.proposal_hash), total)
            and self._validity_of(state.proposal_hash, output) is True
        ):  # line 36
            state.polka_handled = True
            if self._step == TbftStep.PREVOTE:
                if not self._unsafe_disable_locking:
                    self._locked_hash = state.proposal_hash
                    self._locked_round = self._round
                self._vote(PRECOMMIT, state.proposal_hash, output)
                self._step = TbftStep.PRECOMMIT
            self._valid_hash = state.proposal_hash
            self._valid_round = self._round
            return True
        if self._step == TbftStep.PREVOTE and is_quorum(state.prevotes.power_for(b""), total):
            self._vote(PRECOMMIT, b"", output)  # line 44
            self._step = TbftStep.PRECOMMIT
            return True
        if not state.precommit_timeout_armed and is_quorum(state.precommits.power, total):
            state.precommit_timeout_armed = True  # line 47
            self._arm(_TIMEOUT_PRECOMMIT, self._timeouts.precommit_timeout_ms(self._round), now_ms)
            return True
        return False

    def _try_prevote_proposal(self, state: _RoundState, output: Output) -> bool:
        proposal = state.proposal
        if proposal is None:
            return False
        block_hash = state.proposal_hash
        valid_round = proposal.valid_round_plus_one - 1
        if valid_round == -1:  # line 22
            lock_allows = self._locked_round == -1 or self._locked_hash == block_hash
        else:  # line 28: needs a polka for the block in valid_round
            earlier = self._rounds.get(valid_round)
            if earlier is None or not is_quorum(
                earlier.prevotes.proof_power_for(block_hash), self._total_power
            ):
                return False
            lock_allows = self._locked_round <= valid_round or self._locked_hash == block_hash
        accept = False
        if lock_allows:
            # (A block the lock refuses gets a nil prevote without being executed.)
            valid = self._validity_of(block_hash, output)
            if valid is None:
                return False  # wait for the verdict (or the propose timeout)
            accept = valid
        self._vote(PREVOTE, block_hash if accept else b"", output)
        self._step = TbftStep.PREVOTE
        return True

    def _try_decide(self, now_ms: int, output: Output) -> bool:
        for round_number in self._commit_rounds:  # line 49, any round of this height
            state = self._rounds[round_number]
            block_hash = state.precommits.quorum_block_hash(self._total_power)
            if (
                block_hash is None
                or state.proposal is None
                or state.proposal_hash != block_hash
                or self._validity_of(block_hash, output) is not True
            ):
                continue
            self._decide(round_number, state, now_ms, output)
            return True
        return False

    def _decide(self, round_number: int, state: _RoundState, now_ms: int, output: Output) -> None:
        block_hash = state.proposal_hash
        precommits = state.precommits.votes_for(block_hash)
        certificate = types_pb2.CommitCertificate(
            height=self._height,
            round=round_number,
            block_hash=block_hash,
            signatures=[
                types_pb2.CommitSignature(validator=vote.validator, signature=vote.signature)
                for vote in precommits
            ],
        )
        output.commits.append(Commit(self._height, self._blocks[block_hash], certificate))
        self._step = TbftStep.COMMIT
        self._timers = []
        self._commit_deadline_ms = now_ms + self._timeouts.commit_ms
        self._decided_at_ms = now_ms
        self._decided_height = self._height
        self._decided_messages = [
            message for message in (state.proposal_message,) if message is not None
        ] + [consensus_pb2.ConsensusMessage(vote=vote) for vote in precommits]

    def _skip_target(self) -> int:
        """The highest round above ours that more than a third of the power has reached."""
        ahead = sorted(
            (
                (round_number, validator)
                for validator, round_number in self._latest_round.items()
                if round_number > self._round
            ),
            reverse=True,
        )
        power = 0
        for round_number, validator in ahead:
            power += self._powers[validator]
            if is_one_third(power, self._total_power):
                return round_number
        return -1

    def _validity_of(self, block_hash: bytes, output: Output) -> bool | None:
        """Whether a known block is valid; None while the verdict is awaited (the first time,
        the block goes out for validation in `output`)."""
        known = self._validity.get(block_hash)
        if known is not None:
            return known
        block = self._blocks[block_hash]
        if block.header.height != self._height:
            self.statistics["invalid_blocks"] += 1
            self._validity[block_hash] = False
            return False
        if block_hash not in self._validating:
            self._validating.add(block_hash)
            self.statistics["validations_requested"] += 1
            output.validate.append(ValidateBlock(block, block_hash))
        return None

    def _epoch_at(self, height: int) -> _ValidatorEpoch | None:
        """The validator set of a height near the current one; None for other heights, or when
        the schedule cannot tell yet (messages for such heights are dropped anyway)."""
        epoch = self._epoch_of_height.get(height)
        if epoch is not None:
            return epoch
        if height < 1 or not self._height - 1 <= height <= self._height + 1:
            return None
        try:
            return self._epoch_required(height)
        except HeightUnavailableError:
            return None

    def _epoch_required(self, height: int) -> _ValidatorEpoch:
        from_height, validators = self._schedule(height)
        epoch = self._epochs.get(from_height)
        if epoch is None or from_height > height:
            epoch = _ValidatorEpoch.of(from_height, validators)
            if from_height > height:
                raise InvariantError(
                    f"the validator schedule gave a set from height {from_height} for {height}"
                )
            self._epochs[from_height] = epoch
        self._epoch_of_height[height] = epoch
        return epoch

    def _round_state(self, round_number: int) -> _RoundState:
        state = self._rounds.get(round_number)
        if state is None:
            state = self._rounds[round_number] = _RoundState()
        return state

    # ---------------------------------------------------------------- signing

    def _may_sign(self, signed_step: _SignedStep) -> bool:
        return self._is_validator and (self._signed_step is None or signed_step > self._signed_step)

    def _already_signed(
        self, signed_step: _SignedStep, wanted: consensus_pb2.ConsensusMessage
    ) -> consensus_pb2.ConsensusMessage | None:
        """The stored message for `signed_step` if it says the same as `wanted` (unsigned)."""
        for message in self._signed_messages:
            if _signed_step_of(message) != signed_step:
                continue
            stored = consensus_pb2.ConsensusMessage()
            stored.CopyFrom(message)
            if stored.WhichOneof("body") == "vote":
                stored.vote.signature = b""
            else:
                stored.proposal.signature = b""
            return message if stored == wanted else None
        return None

    def _record_signed(
        self, signed_step: _SignedStep, message: consensus_pb2.ConsensusMessage
    ) -> None:
        if self._signed_step is None or self._signed_step[0] != signed_step[0]:
            self._signed_messages = []
        self._signed_step = signed_step
        oldest_kept = signed_step[1] - SIGNED_ROUNDS_KEPT + 1
        self._signed_messages = [
            kept
            for kept in self._signed_messages
            if kept.WhichOneof("body") == "vote" and kept.vote.round >= oldest_kept
        ]
        self._signed_messages.append(message)
        self.statistics["signed"] += 1

    def _propose(self, now_ms: int, output: Output) -> None:
        height, round_number = self._height, self._round
        state = self._round_state(round_number)
        if state.proposal is not None or not self._is_validator:
            return
        signed_step = (height, round_number, int(TbftStep.PROPOSE))
        if not self._may_sign(signed_step):
            stored = self._stored_proposal(signed_step)
            if stored is None:
                self.statistics["sign_refused"] += 1
                return
            message = stored
            self.statistics["resent_identical"] += 1
        elif self._valid_hash:
            block_hash = self._valid_hash
            self._sign_proposal(self._blocks[block_hash], block_hash, self._valid_round + 1, output)
            return
        else:
            # Built beside the core; proposed when it comes back (block_built), unless the
            # round has moved on by then (the propose timeout is armed meanwhile).
            if self._building != (height, round_number):
                self._building = (height, round_number)
                output.build.append(BuildBlock(height, round_number, now_ms, self._me))
            return
        self._register_own(message)
        output.send.append((None, message))
        self._send_proof_of_lock(state, output)

    def _sign_proposal(
        self,
        block: types_pb2.Block,
        block_hash: bytes,
        valid_round_plus_one: int,
        output: Output,
    ) -> None:
        height, round_number = self._height, self._round
        signature = self._signer.sign(
            proposal_sign_bytes(
                self._chain_id, height, round_number, valid_round_plus_one, block_hash
            )
        )
        message = consensus_pb2.ConsensusMessage(
            proposal=consensus_pb2.Proposal(
                height=height,
                round=round_number,
                valid_round_plus_one=valid_round_plus_one,
                block=block,
                proposer=self._me,
                signature=signature,
            )
        )
        self._record_signed((height, round_number, int(TbftStep.PROPOSE)), message)
        self._register_own(message)
        output.send.append((None, message))
        self._send_proof_of_lock(self._round_state(round_number), output)

    def _stored_proposal(self, signed_step: _SignedStep) -> consensus_pb2.ConsensusMessage | None:
        for message in self._signed_messages:
            if _signed_step_of(message) == signed_step:
                return message
        return None

    def _vote(
        self, vote_type: consensus_pb2.VoteType.ValueType, block_hash: bytes, output: Output
    ) -> None:
        """Signs (or re-sends the identical stored) vote of ours for the current round."""
        if not self._is_validator:
            return
        height, round_number = self._height, self._round
        signed_step = (
            height,
            round_number,
            int(TbftStep.PREVOTE if vote_type == PREVOTE else TbftStep.PRECOMMIT),
        )
        unsigned = consensus_pb2.ConsensusMessage(
            vote=consensus_pb2.Vote(
                type=vote_type,
                height=height,
                round=round_number,
                block_hash=block_hash,
                validator=self._me,
            )
        )
        if self._may_sign(signed_step):
            message = unsigned
            message.vote.signature = self._signer.sign(
                vote_sign_bytes(self._chain_id, vote_type, height, round_number, block_hash)
            )
            self._record_signed(signed_step, message)
        else:
            stored = self._already_signed(signed_step, unsigned)
            if stored is None:
                self.statistics["sign_refused"] += 1
                return
            message = stored
            self.statistics["resent_identical"] += 1
        self._register_own(message)
        output.send.append((None, message))

    def _register_own(self, message: consensus_pb2.ConsensusMessage) -> None:
        """Counts a message of ours as if received, and keeps it for re-sending."""
        if message.WhichOneof("body") == "proposal":
            proposal = message.proposal
            state = self._round_state(proposal.round)
            if state.proposal is None:
                block_hash = self._hasher.block_hash(proposal.block)
                self._blocks.setdefault(block_hash, proposal.block)
                self._validity.setdefault(block_hash, True)
                self._store_proposal(state, message, block_hash)
        else:
            vote = message.vote
            state = self._round_state(vote.round)
            votes = state.votes(vote.type)
            if votes.get(vote.validator) is None:
                self._add_vote(state, vote, self._powers[vote.validator])
        if message not in state.own:
            state.own.append(message)

    # ---------------------------------------------------------------- incoming messages

    def _on_proposal(
        self,
        sender: str,
        message: consensus_pb2.ConsensusMessage,
        now_ms: int,
        output: Output,
        *,
        checked: bool,
    ) -> None:
        proposal = message.proposal
        if (
            not proposal.HasField("block")
            or not proposal.signature
            or len(proposal.signature) > SIGNATURE_BYTES_MAX
            or proposal.valid_round_plus_one > proposal.round
        ):
            self.statistics["dropped_malformed"] += 1
            return
        epoch = self._epoch_at(proposal.height)
        if proposal.proposer not in (self._powers if epoch is None else epoch.powers):
            self.statistics["dropped_not_validator"] += 1
            return
        if not self._route_by_height(sender, message, proposal.height, now_ms, output):
            return
        if proposal.round > self._round + ROUNDS_AHEAD_MAX:
            # Votes alone show how far ahead a validator is: checking a far proposal would mean
            # computing the proposer of an arbitrary round.
            self.statistics["dropped_round_too_far"] += 1
            return
        if self._epoch.proposer(proposal.height, proposal.round) != proposal.proposer:
            self.statistics["dropped_wrong_proposer"] += 1
            return
        state = self._round_state(proposal.round)
        if state.proposal is not None:
            if state.proposal.signature == proposal.signature:
                self.statistics["dropped_duplicate"] += 1
                self._help_lower_round(sender, proposal.proposer, proposal.round, now_ms, output)
            else:
                self.statistics["dropped_conflicting_proposal"] += 1
            return
        block_hash = self._proposal_block_hash(proposal)
        if block_hash is None:
            return
        if not checked and not self._proposal_signature_ok(proposal, block_hash):
            self.statistics["dropped_bad_signature"] += 1
            return
        self.statistics["accepted"] += 1
        self._blocks.setdefault(block_hash, proposal.block)
        self._store_proposal(state, message, block_hash)
        self._send_proof_of_lock(state, output)
        self._note_round(proposal.proposer, proposal.round)
        self._help_lower_round(sender, proposal.proposer, proposal.round, now_ms, output)
        self._evaluate(now_ms, output)

    def _on_vote(
        self,
        sender: str,
        message: consensus_pb2.ConsensusMessage,
        now_ms: int,
        output: Output,
        *,
        checked: bool,
    ) -> None:
        vote = message.vote
        if (
            vote.type not in (PREVOTE, PRECOMMIT)
            or len(vote.block_hash) > HASH_BYTES_MAX
            or not vote.signature
            or len(vote.signature) > SIGNATURE_BYTES_MAX
        ):
            self.statistics["dropped_malformed"] += 1
            return
        epoch = self._epoch_at(vote.height)
        power = (self._powers if epoch is None else epoch.powers).get(vote.validator)
        if power is None:
            self.statistics["dropped_not_validator"] += 1
            return
        if not self._route_by_height(sender, message, vote.height, now_ms, output):
            return
        if vote.round > self._round + ROUNDS_AHEAD_MAX:
            self._note_far_round(vote, now_ms, output, checked=checked)
            return
        state = self._round_state(vote.round)
        votes = state.votes(vote.type)
        existing = votes.get(vote.validator)
        if existing is not None and existing.block_hash == vote.block_hash:
            self.statistics["dropped_duplicate"] += 1
            if existing.signature == vote.signature:
                # A re-sent vote: its signer is still in that round and may need help.
                self._help_lower_round(sender, vote.validator, vote.round, now_ms, output)
            return
        if not checked and not self._vote_signature_ok(vote):
            self.statistics["dropped_bad_signature"] += 1
            return
        if existing is not None:
            # Not counted (see VoteSet); reported once per validator, round and type.
            self.statistics["dropped_conflicting_vote"] += 1
            if votes.add_conflicting(vote, power):
                output.evidence.append(
                    consensus_pb2.DuplicateVoteEvidence(first=existing, second=vote)
                )
                self.statistics["evidence"] += 1
                if vote.type == PREVOTE:
                    self._evaluate(now_ms, output)  # it may complete a proof of lock
            return
        self.statistics["accepted"] += 1
        self._add_vote(state, vote, power)
        self._note_round(vote.validator, vote.round)
        self._help_lower_round(sender, vote.validator, vote.round, now_ms, output)
        self._evaluate(now_ms, output)

    def _route_by_height(
        self,
        sender: str,
        message: consensus_pb2.ConsensusMessage,
        height: int,
        now_ms: int,
        output: Output,
    ) -> bool:
        """True when the message is for the height being decided; otherwise deals with it."""
        if height == self._height and self._step != TbftStep.COMMIT:
            return True
        if height == self._next_height_of:
            self._buffer_next_height(sender, message)
        elif self._decided_messages and height == self._decided_height:
            self.statistics["dropped_decided_height"] += 1
            self._help_decided(sender, message, now_ms, output)
        elif height < self._height:
            self.statistics["dropped_old_height"] += 1
        else:
            self.statistics["dropped_future_height"] += 1
        return False

    def _buffer_next_height(self, sender: str, message: consensus_pb2.ConsensusMessage) -> None:
        signer, round_number = _signer_and_round(message)
        if round_number > ROUNDS_AHEAD_MAX:
            self.statistics["dropped_round_too_far"] += 1
            return
        count = self._next_height_counts.get(signer, 0)
        if count >= NEXT_HEIGHT_MESSAGES_PER_VALIDATOR_MAX:
            self.statistics["dropped_next_height_full"] += 1
            return
        for _, buffered in self._next_height:
            if buffered == message:
                self.statistics["dropped_duplicate"] += 1
                return
        if not self._signature_ok(message):
            self.statistics["dropped_bad_signature"] += 1
            return
        self._next_height.append((sender, message))
        self._next_height_counts[signer] = count + 1
        self.statistics["buffered_next_height"] += 1

    def _note_far_round(
        self, vote: consensus_pb2.Vote, now_ms: int, output: Output, *, checked: bool
    ) -> None:
        """Too far ahead to store; a genuine vote still shows where its signer is (line 55)."""
        self.statistics["dropped_round_too_far"] += 1
        if vote.round <= self._latest_round.get(vote.validator, -1):
            return
        if checked or self._vote_signature_ok(vote):
            self._note_round(vote.validator, vote.round)
            self._evaluate(now_ms, output)

    def _note_round(self, signer: str, round_number: int) -> None:
        if round_number > self._latest_round.get(signer, -1):
            self._latest_round[signer] = round_number

    def _store_proposal(
        self, state: _RoundState, message: consensus_pb2.ConsensusMessage, block_hash: bytes
    ) -> None:
        state.proposal = message.proposal
        state.proposal_hash = block_hash
        state.proposal_message = message

    def _add_vote(self, state: _RoundState, vote: consensus_pb2.Vote, power: int) -> None:
        votes = state.votes(vote.type)
        votes.add(vote, power)
        if (
            vote.type == PRECOMMIT
            and vote.block_hash
            and vote.round not in self._commit_rounds
            and is_quorum(votes.power_for(vote.block_hash), self._total_power)
        ):
            self._commit_rounds.append(vote.round)

    def _proposal_block_hash(self, proposal: consensus_pb2.Proposal) -> bytes | None:
        try:
            block_hash = self._hasher.block_hash(proposal.block)
        except RequestError:
            block_hash = b""
        if not block_hash or len(block_hash) > HASH_BYTES_MAX:
            self.statistics["dropped_malformed"] += 1
            return None
        return block_hash

    def _proposal_signature_ok(self, proposal: consensus_pb2.Proposal, block_hash: bytes) -> bool:
        document = proposal_sign_bytes(
            self._chain_id,
            proposal.height,
            proposal.round,
            proposal.valid_round_plus_one,
            block_hash,
        )
        return self._verify(proposal.proposer, document, proposal.signature)

    def _vote_signature_ok(self, vote: consensus_pb2.Vote) -> bool:
        document = vote_sign_bytes(
            self._chain_id, vote.type, vote.height, vote.round, vote.block_hash
        )
        return self._verify(vote.validator, document, vote.signature)

    def _signature_ok(self, message: consensus_pb2.ConsensusMessage) -> bool:
        if message.WhichOneof("body") == "vote":
            return self._vote_signature_ok(message.vote)
        proposal = message.proposal
        epoch = self._epoch_at(proposal.height)
        if epoch is None or epoch.proposer(proposal.height, proposal.round) != proposal.proposer:
            return False
        block_hash = self._proposal_block_hash(proposal)
        return block_hash is not None and self._proposal_signature_ok(proposal, block_hash)

    def _verify(self, validator: str, document: bytes, signature: bytes) -> bool:
        try:
            return self._verifier.verify(validator, document, signature)
        except RequestError:
            return False

    # ---------------------------------------------------------------- gossip

    def _rebroadcast(self, output: Output) -> None:
        rounds = [number for number, state in self._rounds.items() if state.own]
        if not rounds:
            return
        for message in self._rounds[max(rounds)].own:
            output.send.append((None, message))
            self.statistics["rebroadcasts"] += 1

    def _send_proof_of_lock(self, state: _RoundState, output: Output) -> None:
        """Sends the polka a re-proposal refers to, once per round, if we hold it.

        A validator that restarted lost the prevotes it had received; without the polka of the
        proposal's valid round it cannot prevote the re-proposed block (line 28), and the rounds
        would fail for ever. This is the proof-of-lock gossip the paper assumes.
        """
        proposal = state.proposal
        if proposal is None or state.proof_sent or self._timeouts.rebroadcast_ms <= 0:
            return
        valid_round = proposal.valid_round_plus_one - 1
        earlier = self._rounds.get(valid_round) if valid_round >= 0 else None
        if earlier is None or not is_quorum(
            earlier.prevotes.proof_power_for(state.proposal_hash), self._total_power
        ):
            return
        state.proof_sent = True
        for vote in earlier.prevotes.proof_for(state.proposal_hash):
            output.send.append((None, consensus_pb2.ConsensusMessage(vote=vote)))
        self.statistics["help_sent"] += 1

    def _may_help(self, validator: str, now_ms: int) -> bool:
        interval = self._timeouts.rebroadcast_ms
        if interval <= 0 or validator == self._me:
            return False
        last = self._help_sent_ms.get(validator)
        if last is not None and now_ms - last < interval:
            return False
        self._help_sent_ms[validator] = now_ms
        return True

    def _help_lower_round(
        self, sender: str, signer: str, round_number: int, now_ms: int, output: Output
    ) -> None:
        """`signer` is in an earlier round of this height: send what we hold for that round."""
        if sender != signer or round_number >= self._round:
            return
        if self._latest_round.get(signer, -1) > round_number:
            return
        state = self._rounds.get(round_number)
        if state is None or not self._may_help(signer, now_ms):
            return
        messages: list[consensus_pb2.ConsensusMessage] = []
        if state.proposal_message is not None:
            messages.append(state.proposal_message)
        for votes in (state.prevotes, state.precommits):
            messages.extend(
                consensus_pb2.ConsensusMessage(vote=votes.votes[validator])
                for validator in sorted(votes.votes)
            )
        self._send_help(signer, messages, output)

    def _help_decided(
        self,
        sender: str,
        message: consensus_pb2.ConsensusMessage,
        now_ms: int,
        output: Output,
    ) -> None:
        """`sender` is still on the height we decided: send the proposal and the precommits."""
        # Only a vote is checked: a validator on that height keeps voting, and checking a proposal
        # would mean computing the proposer of an arbitrary round.
        if message.WhichOneof("body") != "vote":
            return
        vote = message.vote
        if sender != vote.validator:
            return
        if not self._may_help(vote.validator, now_ms) or not self._vote_signature_ok(vote):
            return
        self._send_help(vote.validator, self._decided_messages, output)

    def _send_help(
        self, validator: str, messages: Iterable[consensus_pb2.ConsensusMessage], output: Output
    ) -> None:
        for message in messages:
            output.send.append((validator, message))
        self.statistics["help_sent"] += 1

    # ---------------------------------------------------------------- persistence

    def _load(self, records: Mapping[str, bytes]) -> None:
        state_bytes = records.get(STATE_RECORD)
        if state_bytes is None:
            return
        state = decode_state(state_bytes)
        self._persisted_state = state_bytes
        if state.signed_step != 0:
            self._signed_step = (state.signed_height, state.signed_round, state.signed_step)
            self._signed_messages = list(state.signed_messages)
        if state.height < self._height:
            return
        lock_bytes = records.get(LOCK_RECORD)
        if lock_bytes is not None:
            self._restored_lock = decode_lock(lock_bytes)
            self._persisted_lock = (state.locked_hash, state.valid_hash, state.valid_round)
        self._pending_restore = state

    def _flush(self, output: Output) -> None:
        """Puts the records that changed in this call into `output` (before any send goes out)."""
        if self._pending_restore is not None or not self._started:
            # Nothing can be signed below the restored state's height; keep that state on disk.
            return
        records: list[tuple[str, bytes]] = []
        lock_key = (self._locked_hash, self._valid_hash, self._valid_round)
        if lock_key != self._persisted_lock:
            self._persisted_lock = lock_key
            block_hashes = dict.fromkeys(
                block_hash
                for block_hash in (self._locked_hash, self._valid_hash)
                if block_hash in self._blocks
            )
            polka: tuple[consensus_pb2.Vote, ...] = ()
            if self._valid_round >= 0:
                valid_state = self._round_state(self._valid_round)
                polka = tuple(valid_state.prevotes.proof_for(self._valid_hash))
            lock = PersistedLock(
                blocks=tuple(self._blocks[block_hash] for block_hash in block_hashes),
                polka=polka,
            )
            records.append((LOCK_RECORD, encode_lock(lock)))
        signed = self._signed_step or (0, 0, 0)
        encoded = encode_state(
            PersistedState(
                height=self._height,
                round=self._round,
                step=int(min(self._step, TbftStep.PRECOMMIT)),
                locked_round=self._locked_round,
                locked_hash=self._locked_hash,
                valid_round=self._valid_round,
                valid_hash=self._valid_hash,
                signed_height=signed[0],
                signed_round=signed[1],
                signed_step=signed[2],
                signed_messages=tuple(self._signed_messages),
            )
        )
        if encoded != self._persisted_state:
            self._persisted_state = encoded
            records.append((STATE_RECORD, encoded))
        output.persist[:0] = records


def _validator_pairs(
    validators: Sequence[tuple[str, int]] | types_pb2.ValidatorSet,
) -> list[tuple[str, int]]:
    if isinstance(validators, types_pb2.ValidatorSet):
        pairs = [(v.member_id, v.voting_power) for v in validators.validators]
    else:
        pairs = [(validator, power) for validator, power in validators]
    if not pairs:
        raise ConfigurationError("the tbft validator set is empty")
    ids = [validator for validator, _ in pairs]
    if len(set(ids)) != len(ids):
        raise ConfigurationError("the tbft validator set names a validator twice")
    for validator, power in pairs:
        if not validator or power <= 0:
            raise ConfigurationError(f"validator {validator!r} needs a positive voting power")
    return pairs


def _signer_and_round(message: consensus_pb2.ConsensusMessage) -> tuple[str, int]:
    if message.WhichOneof("body") == "proposal":
        return message.proposal.proposer, message.proposal.round
    return message.vote.validator, message.vote.round


def _signed_step_of(message: consensus_pb2.ConsensusMessage) -> _SignedStep:
    if message.WhichOneof("body") == "proposal":
        proposal = message.proposal
        return (proposal.height, proposal.round, int(TbftStep.PROPOSE))
    vote = message.vote
    step = TbftStep.PREVOTE if vote.type == PREVOTE else TbftStep.PRECOMMIT
    return (vote.height, vote.round, int(step))
