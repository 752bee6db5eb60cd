"""A tiny synchronous network of tbft cores for the tests (not the simulator package).

Messages go through one FIFO queue; `run_until` delivers everything, then moves the clock to the
earliest deadline and ticks. Signatures are HMAC-SHA256 with a per-validator secret.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from causeway.consensus import Commit, Output
from causeway.consensus.tbft import (
    STATE_RECORD,
    TbftCore,
    TbftStep,
    TbftTimeouts,
    ValidatorSchedule,
    proposal_sign_bytes,
    vote_sign_bytes,
)
from causeway.consensus.tbft.records import PersistedState, decode_state, encode_state
from causeway.consensus.v1 import consensus_pb2
from causeway.errors import RequestError
from causeway.types import DOMAIN_COMMIT, encode, sign_bytes
from causeway.types.v1 import types_pb2

CHAIN_ID = "test-chain"
TIMEOUTS = TbftTimeouts(
    propose_ms=1_000,
    prevote_ms=500,
    precommit_ms=500,
    delta_ms=250,
    commit_ms=100,
    rebroadcast_ms=0,
)


def secret_of(validator_id: str) -> bytes:
    return hashlib.sha256(b"secret:" + validator_id.encode()).digest()


class HmacSigner:
    def __init__(self, validator_id: str) -> None:
        self.validator_id = validator_id
        self.calls = 0

    def sign(self, document: bytes) -> bytes:
        self.calls += 1
        return hmac.new(secret_of(self.validator_id), document, hashlib.sha256).digest()


class HmacVerifier:
    def verify(self, validator_id: str, document: bytes, signature: bytes) -> bool:
        expected = hmac.new(secret_of(validator_id), document, hashlib.sha256).digest()
        return hmac.compare_digest(expected, signature)


class ToyApplication:
    """Blocks carry height, time and proposer in the header and a payload naming the round."""

    def __init__(self) -> None:
        self.invalid_proposers: set[str] = set()
        self.validated = 0

    def build_block(
        self, height: int, round_number: int, time_ms: int, proposer: str
    ) -> types_pb2.Block:
        payload = f"block {height} round {round_number} by {proposer}".encode()
        return types_pb2.Block(
            header=types_pb2.BlockHeader(
                chain_id=CHAIN_ID,
                height=height,
                time_ms=time_ms,
                proposer=proposer,
                state_root=hashlib.sha256(payload).digest(),
            )
        )

    def validate_block(self, block: types_pb2.Block) -> bool:
        self.validated += 1
        return block.header.proposer not in self.invalid_proposers

    def block_hash(self, block: types_pb2.Block) -> bytes:
        return hashlib.sha256(encode(block.header)).digest()


class InlineTbftCore(TbftCore):
    """A TbftCore whose Output.build and Output.validate are carried out at once by its
    application (what a driver does, without the wait); the Outputs it returns hold their
    results instead. ``hold_validations`` keeps validations waiting in ``held`` (answer them
    with ``answer``)."""

    hold_validations = False

    def __init__(self, *arguments: object, **keywords: object) -> None:
        super().__init__(*arguments, **keywords)  # type: ignore[arg-type]
        application = arguments[4]
        assert isinstance(application, ToyApplication)
        self.application = application
        self.held: list[tuple[bytes, types_pb2.Block]] = []

    def start(self, now_ms: int) -> Output:
        return self.settle(super().start(now_ms), now_ms)

    def tick(self, now_ms: int) -> Output:
        return self.settle(super().tick(now_ms), now_ms)

    def step(self, sender: str, message: consensus_pb2.ConsensusMessage, now_ms: int) -> Output:
        return self.settle(super().step(sender, message, now_ms), now_ms)

    def advance_to(self, height: int, now_ms: int) -> Output:
        return self.settle(super().advance_to(height, now_ms), now_ms)

    def answer(self, now_ms: int) -> Output:
        output = Output()
        held, self.held = self.held, []
        for block_hash, block in held:
            valid = self._validate(block)
            output.extend(self.settle(super().block_validated(block_hash, valid, now_ms), now_ms))
        return output

    def _validate(self, block: types_pb2.Block) -> bool:
        try:
            return self.application.validate_block(block)
        except RequestError:
            return False

    def settle(self, output: Output, now_ms: int) -> Output:
        while output.build or output.validate:
            builds, validations = output.build, output.validate
            output.build, output.validate = [], []
            for request in builds:
                block = self.application.build_block(
                    request.height, request.round_number, request.time_ms, request.proposer
                )
                output.extend(super().block_built(block, now_ms))
            for validation in validations:
                if self.hold_validations:
                    self.held.append((validation.block_hash, validation.block))
                    continue
                valid = self._validate(validation.block)
                output.extend(super().block_validated(validation.block_hash, valid, now_ms))
        # One write per record name, its latest bytes (as the merged calls would leave it).
        latest = dict(output.persist)
        output.persist = list(latest.items())
        return output


def make_block(height: int, label: str) -> types_pb2.Block:
    return types_pb2.Block(
        header=types_pb2.BlockHeader(
            chain_id=CHAIN_ID,
            height=height,
            proposer=label,
            state_root=hashlib.sha256(label.encode()).digest(),
        )
    )


def hash_of(block: types_pb2.Block) -> bytes:
    return ToyApplication().block_hash(block)


# What the tests of one core share: four validators of power 1, the two vote types, and two
# blocks of height 1.
FOUR = [("v1", 1), ("v2", 1), ("v3", 1), ("v4", 1)]
PREVOTE = consensus_pb2.VOTE_TYPE_PREVOTE
PRECOMMIT = consensus_pb2.VOTE_TYPE_PRECOMMIT
B = make_block(1, "B")
C = make_block(1, "C")
HASH_B = hash_of(B)
HASH_C = hash_of(C)


def height_one_record(**changes: object) -> PersistedState:
    """A state record at height 1, round 0, in the propose step with nothing locked, valid or
    signed; `changes` set other fields."""
    fields: dict[str, object] = {
        "height": 1,
        "round": 0,
        "step": int(TbftStep.PROPOSE),
        "locked_round": -1,
        "locked_hash": b"",
        "valid_round": -1,
        "valid_hash": b"",
        "signed_height": 1,
        "signed_round": 0,
        "signed_step": 0,
        "signed_messages": (),
    }
    fields.update(changes)
    return PersistedState(**fields)  # type: ignore[arg-type]


def restored_core(me: str, record: PersistedState, *, inline: bool = False) -> TbftCore:
    """`me` of FOUR at height 1, started from `record` as its state record on disk; with
    `inline`, an InlineTbftCore (its blocks built and validated at once)."""
    kind = InlineTbftCore if inline else TbftCore
    records = {STATE_RECORD: encode_state(record)}
    return kind(
        CHAIN_ID, FOUR, HmacSigner(me), HmacVerifier(), ToyApplication(), 1, TIMEOUTS, records
    )


def feed(core: TbftCore, *messages: consensus_pb2.ConsensusMessage, now_ms: int = 0) -> Output:
    """Each message to `core` as its signer (a proposal's proposer, a vote's validator) sends it."""
    output = Output()
    for message in messages:
        sender = (
            message.proposal.proposer
            if message.WhichOneof("body") == "proposal"
            else message.vote.validator
        )
        output.extend(core.step(sender, message, now_ms))
    return output


def signed_vote(
    validator: str,
    vote_type: consensus_pb2.VoteType.ValueType,
    height: int,
    round_number: int,
    block_hash: bytes,
) -> consensus_pb2.ConsensusMessage:
    document = vote_sign_bytes(CHAIN_ID, vote_type, height, round_number, block_hash)
    return consensus_pb2.ConsensusMessage(
        vote=consensus_pb2.Vote(
            type=vote_type,
            height=height,
            round=round_number,
            block_hash=block_hash,
            validator=validator,
            signature=HmacSigner(validator).sign(document),
        )
    )


def prevote(
    validator: str, height: int, round_number: int, block_hash: bytes
) -> consensus_pb2.ConsensusMessage:
    return signed_vote(validator, consensus_pb2.VOTE_TYPE_PREVOTE, height, round_number, block_hash)


def precommit(
    validator: str, height: int, round_number: int, block_hash: bytes
) -> consensus_pb2.ConsensusMessage:
    return signed_vote(
        validator, consensus_pb2.VOTE_TYPE_PRECOMMIT, height, round_number, block_hash
    )


def signed_proposal(
    proposer: str,
    height: int,
    round_number: int,
    block: types_pb2.Block,
    valid_round: int = -1,
) -> consensus_pb2.ConsensusMessage:
    document = proposal_sign_bytes(CHAIN_ID, height, round_number, valid_round + 1, hash_of(block))
    return consensus_pb2.ConsensusMessage(
        proposal=consensus_pb2.Proposal(
            height=height,
            round=round_number,
            valid_round_plus_one=valid_round + 1,
            block=block,
            proposer=proposer,
            signature=HmacSigner(proposer).sign(document),
        )
    )


def certificate_power(certificate: types_pb2.CommitCertificate, powers: Mapping[str, int]) -> int:
    """Voting power of the certificate's signatures that verify like a solo certificate."""
    verifier = HmacVerifier()
    document = sign_bytes(
        DOMAIN_COMMIT,
        CHAIN_ID,
        encode(
            types_pb2.CommitVote(
                height=certificate.height,
                round=certificate.round,
                block_hash=certificate.block_hash,
            )
        ),
    )
    signers = {
        signature.validator
        for signature in certificate.signatures
        if verifier.verify(signature.validator, document, signature.signature)
    }
    assert len(signers) == len(certificate.signatures)
    return sum(powers[validator] for validator in signers)


def signed_step_of(message: consensus_pb2.ConsensusMessage) -> tuple[str, int, int, int]:
    """(signer, height, round, step) with steps 1 proposal, 2 prevote, 3 precommit."""
    if message.WhichOneof("body") == "proposal":
        proposal = message.proposal
        return proposal.proposer, proposal.height, proposal.round, 1
    vote = message.vote
    step = 2 if vote.type == consensus_pb2.VOTE_TYPE_PREVOTE else 3
    return vote.validator, vote.height, vote.round, step


def assert_persisted_before_sent(
    validator_id: str, records: Mapping[str, bytes], output: Output
) -> None:
    """Whatever a node sends that it signed itself is covered by its persisted guard."""
    for _, message in output.send:
        signer, height, round_number, step = signed_step_of(message)
        if signer != validator_id:
            continue
        state = decode_state(records[STATE_RECORD])
        guard = (state.signed_height, state.signed_round, state.signed_step)
        assert (height, round_number, step) <= guard, (validator_id, message)


SYNC_LAG_MS = 3_000
TWIN_SUFFIX = "+twin"


def key_of(node_name: str) -> str:
    """The validator id whose key a node holds (twins share one)."""
    return node_name.removesuffix(TWIN_SUFFIX)


DropRule = Callable[[str, str, consensus_pb2.ConsensusMessage], bool]


@dataclass
class Node:
    core: InlineTbftCore
    signer: HmacSigner
    application: ToyApplication
    commits: list[Commit] = field(default_factory=list)
    evidence: list[consensus_pb2.DuplicateVoteEvidence] = field(default_factory=list)
    records: dict[str, bytes] = field(default_factory=dict)
    crashed: bool = False


class Network:
    def __init__(
        self,
        validators: Sequence[tuple[str, int]],
        *,
        timeouts: TbftTimeouts = TIMEOUTS,
        unsafe_disable_locking_for_tests: bool = False,
        seed: int = 0,
        drop_probability: float = 0.0,
        observers: Sequence[str] = (),
        sync: bool = True,
        twins: Sequence[str] = (),
        schedule: ValidatorSchedule | None = None,
    ) -> None:
        """schedule: each height's validator set (validators then only names the nodes)."""
        self.schedule = schedule
        self.validators = list(validators)
        self.powers = dict(validators)
        self.timeouts = timeouts
        self.unsafe = unsafe_disable_locking_for_tests
        self.now_ms = 0
        self.queue: deque[tuple[str, str, consensus_pb2.ConsensusMessage]] = deque()
        self.drop_rules: list[DropRule] = []
        self.random = random.Random(seed)
        self.drop_probability = drop_probability
        self.trace: list[bytes] = []
        self.sync = sync
        # Every message every node sent, with its sender.
        self.sent: list[tuple[str, consensus_pb2.ConsensusMessage]] = []
        self.synced = 0
        self.lag_since: dict[str, int] = {}
        self.nodes: dict[str, Node] = {}
        # A twin is a second node with the same key ("v4+twin"): a Byzantine validator.
        twin_names = [f"{twin}{TWIN_SUFFIX}" for twin in twins]
        self.twin_keys = set(twins)
        for name in [validator for validator, _ in validators] + list(observers) + twin_names:
            self.nodes[name] = self._make_node(name, None)

    def _make_node(self, validator_id: str, records: Mapping[str, bytes] | None) -> Node:
        signer = HmacSigner(key_of(validator_id))
        application = ToyApplication()
        previous = self.nodes.get(validator_id)
        if previous is not None:
            application.invalid_proposers = previous.application.invalid_proposers
        height = 1 if previous is None else len(previous.commits) + 1
        core = InlineTbftCore(
            CHAIN_ID,
            self.validators,
            signer,
            HmacVerifier(),
            application,
            height,
            self.timeouts,
            records,
            validator_schedule=self.schedule,
            unsafe_disable_locking_for_tests=self.unsafe,
        )
        node = Node(core, signer, application)
        if previous is not None:
            node.commits = previous.commits
            node.evidence = previous.evidence
            node.records = dict(previous.records)
        return node

    def start(self) -> None:
        for validator_id, node in self.nodes.items():
            self.apply(validator_id, node.core.start(self.now_ms))

    def crash_and_restart(self, validator_id: str) -> Output:
        """A crash loses everything but the persisted records; the node restarts at once."""
        self.queue = deque(item for item in self.queue if item[1] != validator_id)
        records = dict(self.nodes[validator_id].records)
        self.nodes[validator_id] = self._make_node(validator_id, records)
        output = self.nodes[validator_id].core.start(self.now_ms)
        self.apply(validator_id, output)
        return output

    def apply(self, validator_id: str, output: Output) -> None:
        node = self.nodes[validator_id]
        for name, data in output.persist:
            node.records[name] = data
        if key_of(validator_id) not in self.twin_keys:
            # (A twin relays its sibling's votes, which its own records cannot cover.)
            assert_persisted_before_sent(validator_id, node.records, output)
        for destination, message in output.send:
            self.trace.append(f"{self.now_ms} {validator_id}>{destination}".encode())
            self.trace.append(encode(message))
            self.sent.append((validator_id, message))
            recipients: Iterable[str] = [
                other
                for other in self.nodes
                if other != validator_id and destination in (None, key_of(other))
            ]
            for recipient in recipients:
                self.queue.append((validator_id, recipient, message))
        for commit in output.commits:
            self.trace.append(f"commit {validator_id} {commit.height}".encode())
            self.trace.append(encode(commit.certificate))
            node.commits.append(commit)
        node.evidence.extend(output.evidence)

    def deliver_all(self, steps_max: int = 100_000) -> None:
        for _ in range(steps_max):
            if not self.queue:
                return
            sender, recipient, message = self.queue.popleft()
            if any(rule(sender, recipient, message) for rule in self.drop_rules):
                continue
            if self.drop_probability and self.random.random() < self.drop_probability:
                continue
            self.apply(recipient, self.nodes[recipient].core.step(sender, message, self.now_ms))
        raise AssertionError("the network did not go quiet")

    def advance_clock(self) -> bool:
        deadlines = [
            deadline
            for node in self.nodes.values()
            if (deadline := node.core.next_deadline_ms()) is not None
        ]
        if not deadlines:
            return False
        self.now_ms = max(self.now_ms, min(deadlines))
        for validator_id, node in self.nodes.items():
            deadline = node.core.next_deadline_ms()
            if deadline is not None and deadline <= self.now_ms:
                self.apply(validator_id, node.core.tick(self.now_ms))
        return True

    def block_sync(self) -> None:
        """What the runtime's block sync does: a node two or more heights behind, or one height
        behind for longer than SYNC_LAG_MS, fetches the committed blocks (with certificates) and
        moves its core past them. One height behind is first left to the cores' own help."""
        longest = max(self.nodes.values(), key=lambda node: len(node.commits))
        for validator_id, node in self.nodes.items():
            behind = len(longest.commits) - len(node.commits)
            if behind <= 0:
                self.lag_since.pop(validator_id, None)
                continue
            since = self.lag_since.setdefault(validator_id, self.now_ms)
            if behind < 2 and self.now_ms - since < SYNC_LAG_MS:
                continue
            self.lag_since.pop(validator_id, None)
            node.commits.extend(longest.commits[len(node.commits) :])
            self.synced += 1
            self.apply(validator_id, node.core.advance_to(len(node.commits) + 1, self.now_ms))

    def run_until(self, done: Callable[[], bool], time_limit_ms: int = 60_000) -> None:
        while True:
            self.deliver_all()
            if self.sync:
                self.block_sync()
                self.deliver_all()
            if done():
                return
            if self.now_ms > time_limit_ms or not self.advance_clock():
                raise AssertionError(f"not done by {self.now_ms} ms")

    def all_committed(self, height: int, nodes: Iterable[str] | None = None) -> Callable[[], bool]:
        names = list(nodes) if nodes is not None else list(self.nodes)
        return lambda: all(len(self.nodes[name].commits) >= height for name in names)
