"""The engine-specific half of the transcript harness (transcript.py): one glue class per engine.

Everything that knows an engine's constructor, messages, records or extra commands is here, so
that a change to how a core is driven is adapted in this one file. The cores ask for blocks to
be built and validated (``ask`` lines, Output.build and Output.validate); the harness carries
each request out with the node's `ToyApplication`, which logs it as an ``app`` line, and hands
the result back to the core (``block built``, ``block validated``).
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Mapping

from transcript import Arguments, Harness, InFlight, short

from causeway.consensus import Commit
from causeway.consensus.raft import RaftCore, RaftTimeouts
from causeway.consensus.raft.records import META_RECORD, decode_meta
from causeway.consensus.tbft import (
    LOCK_RECORD,
    STATE_RECORD,
    TbftCore,
    TbftStep,
    TbftTimeouts,
    proposal_sign_bytes,
    vote_sign_bytes,
)
from causeway.consensus.tbft.records import decode_lock, decode_state
from causeway.consensus.v1 import consensus_pb2
from causeway.types import decode, encode
from causeway.types.v1 import types_pb2

CHAIN_ID = "transcript-chain"


def secret_of(validator_id: str) -> bytes:
    return hashlib.sha256(b"transcript secret:" + validator_id.encode()).digest()


class HmacSigner:
    """Deterministic signatures, so that transcripts print the same bytes every run."""

    def __init__(self, validator_id: str) -> None:
        self.validator_id = validator_id

    def sign(self, document: bytes) -> bytes:
        return hmac.new(secret_of(self.validator_id), document, hashlib.sha256).digest()


class HmacVerifier:
    def verify(self, validator_id: str, document: bytes, signature: bytes) -> bool:
        return hmac.compare_digest(HmacSigner(validator_id).sign(document), signature)


def toy_block(height: int, round_number: int, proposer: str) -> types_pb2.Block:
    """The block `proposer` builds at (height, round): named ``proposer/height/round`` in
    transcripts, so that a command can refer to it."""
    label = f"{proposer}/{height}/{round_number}".encode()
    header = types_pb2.BlockHeader(
        version=1,
        chain_id=CHAIN_ID,
        height=height,
        time_ms=height * 1_000,
        proposer=proposer,
        transactions_root=hashlib.sha256(label).digest(),
        transaction_count=1,
    )
    return types_pb2.Block(header=header, transactions=[types_pb2.Transaction(body=label)])


def toy_block_hash(block: types_pb2.Block) -> bytes:
    return hashlib.sha256(encode(block.header)).digest()


def named_block_hash(name: str) -> bytes:
    """``nil`` or ``proposer/height/round``."""
    if name == "nil":
        return b""
    proposer, height, round_number = name.split("/")
    return toy_block_hash(toy_block(int(height), int(round_number), proposer))


class ToyApplication:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.refused: set[bytes] = set()

    def build_block(
        self, height: int, round_number: int, time_ms: int, proposer: str
    ) -> types_pb2.Block:
        block = toy_block(height, round_number, proposer)
        self.lines.append(
            f"app build h={height} r={round_number} -> {short(toy_block_hash(block))}"
        )
        return block

    def validate_block(self, block: types_pb2.Block) -> bool:
        block_hash = toy_block_hash(block)
        valid = block_hash not in self.refused
        verdict = "valid" if valid else "invalid"
        self.lines.append(f"app validate h={block.header.height} {short(block_hash)} {verdict}")
        return valid

    def validate_committed_block(self, block: types_pb2.Block) -> bool:
        return self.validate_block(block)

    def block_hash(self, block: types_pb2.Block) -> bytes:
        return toy_block_hash(block)


class _Glue:
    node_ids: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.applications = {node_id: ToyApplication() for node_id in self.node_ids}

    def application(self, node_id: str) -> ToyApplication:
        return self.applications[node_id]

    def application_lines(self, node_id: str) -> list[str]:
        lines = self.applications[node_id].lines
        self.applications[node_id].lines = []
        return lines

    def block_hash(self, commit: Commit) -> bytes:
        return toy_block_hash(commit.block)


# ---------------------------------------------------------------------------------------------
# tbft


TBFT_TIMEOUTS = TbftTimeouts(
    propose_ms=1_000,
    prevote_ms=500,
    precommit_ms=500,
    delta_ms=250,
    commit_ms=100,
    rebroadcast_ms=0,  # no gossip: every message in a transcript is one the protocol needs
)
_VOTE_TYPES = {
    "prevote": consensus_pb2.VOTE_TYPE_PREVOTE,
    "precommit": consensus_pb2.VOTE_TYPE_PRECOMMIT,
}
_VOTE_NAMES = {value: name for name, value in _VOTE_TYPES.items()}


class TbftGlue(_Glue):
    """Four validators v1..v4 of power 1.

    Extra commands: ``sign ID prevote|precommit h=H r=R block=NAME to=A,B`` and
    ``sign ID proposal h=H r=R block=NAME [pol=R] to=A,B`` queue a message signed by ID's key
    whatever its core did (a Byzantine validator); ``refuse ID block=NAME`` makes ID's
    application find that block invalid."""

    node_ids: tuple[str, ...] = ("v1", "v2", "v3", "v4")

    def create(self, node_id: str, records: Mapping[str, bytes], committed: int) -> TbftCore:
        return TbftCore(
            CHAIN_ID,
            [(validator, 1) for validator in self.node_ids],
            HmacSigner(node_id),
            HmacVerifier(),
            self.applications[node_id],
            committed + 1,
            TBFT_TIMEOUTS,
            records or None,
        )

    def describe_message(self, message: consensus_pb2.ConsensusMessage) -> str:
        body = message.WhichOneof("body")
        if body == "vote":
            vote = message.vote
            return (
                f"{_VOTE_NAMES[vote.type]} h={vote.height} r={vote.round} "
                f"block={short(vote.block_hash)} by={vote.validator}"
            )
        if body == "proposal":
            proposal = message.proposal
            return (
                f"proposal h={proposal.height} r={proposal.round} "
                f"pol={proposal.valid_round_plus_one - 1} "
                f"block={short(toy_block_hash(proposal.block))} by={proposal.proposer}"
            )
        return f"unexpected {body}"

    def describe_record(self, name: str, data: bytes) -> str:
        if name == STATE_RECORD:
            state = decode_state(data)
            signed = (
                f"{state.signed_height}/{state.signed_round}/{TbftStep(state.signed_step).name.lower()}"
                if state.signed_step
                else "nothing"
            )
            return (
                f"{name} h={state.height} r={state.round} "
                f"step={TbftStep(state.step).name.lower()} "
                f"locked={state.locked_round}:{short(state.locked_hash)} "
                f"valid={state.valid_round}:{short(state.valid_hash)} "
                f"signed={signed} messages={len(state.signed_messages)}"
            )
        if name == LOCK_RECORD:
            lock = decode_lock(data)
            blocks = ",".join(short(toy_block_hash(block)) for block in lock.blocks)
            return f"{name} blocks=[{blocks}] polka={len(lock.polka)}"
        return f"{name} {len(data)} bytes"

    def describe_status(self, node_id: str, core: TbftCore) -> str:
        return (
            f"{node_id} h={core.height} r={core.round} step={core.current_step.name.lower()} "
            f"locked={core.locked_round}:{short(core.locked_block_hash)} "
            f"valid={core.valid_round}:{short(core.valid_block_hash)}"
        )

    def command(self, harness: Harness, name: str, arguments: Arguments) -> bool:
        if name == "refuse":
            node_id = arguments.positional[0]
            self.applications[node_id].refused.add(named_block_hash(arguments.named["block"]))
            return True
        if name != "sign":
            return False
        signer = HmacSigner(arguments.positional[0])
        kind = arguments.positional[1]
        height = arguments.integer("h", 1)
        round_number = arguments.integer("r", 0)
        block_name = arguments.named["block"]
        if kind == "proposal":
            proposer, block_height, block_round = block_name.split("/")
            block = toy_block(int(block_height), int(block_round), proposer)
            valid_round_plus_one = arguments.integer("pol", -1) + 1
            document = proposal_sign_bytes(
                CHAIN_ID, height, round_number, valid_round_plus_one, toy_block_hash(block)
            )
            message = consensus_pb2.ConsensusMessage(
                proposal=consensus_pb2.Proposal(
                    height=height,
                    round=round_number,
                    valid_round_plus_one=valid_round_plus_one,
                    block=block,
                    proposer=signer.validator_id,
                    signature=signer.sign(document),
                )
            )
        else:
            vote_type = _VOTE_TYPES[kind]
            block_hash = named_block_hash(block_name)
            document = vote_sign_bytes(CHAIN_ID, vote_type, height, round_number, block_hash)
            message = consensus_pb2.ConsensusMessage(
                vote=consensus_pb2.Vote(
                    type=vote_type,
                    height=height,
                    round=round_number,
                    block_hash=block_hash,
                    validator=signer.validator_id,
                    signature=signer.sign(document),
                )
            )
        destinations = arguments.named["to"].split(",")
        harness.lines.append(
            f"queued {signer.validator_id}->{','.join(destinations)} "
            f"{self.describe_message(message)}"
        )
        for destination in destinations:
            harness.queue.append(
                InFlight(signer.validator_id, destination, message.SerializeToString())
            )
        return True


# ---------------------------------------------------------------------------------------------
# raft


RAFT_TIMEOUTS = RaftTimeouts(election_min_ms=150, election_max_ms=300, heartbeat_ms=50)


class RaftGlue(_Glue):
    """Three voters a, b, c; election timeouts drawn from a seeded random per incarnation.

    Extra command: ``propose ID``: transactions wait at ID; its core asks for the block of the
    height it would build now (nothing when it does not lead or its pipeline is full), which is
    built and handed back to it."""

    node_ids: tuple[str, ...] = ("a", "b", "c")

    def __init__(self) -> None:
        super().__init__()
        self.incarnations = dict.fromkeys(self.node_ids, 0)

    def create(self, node_id: str, records: Mapping[str, bytes], committed: int) -> RaftCore:
        self.incarnations[node_id] += 1
        return RaftCore(
            CHAIN_ID,
            node_id,
            list(self.node_ids),
            HmacSigner(node_id),
            self.applications[node_id],
            random.Random(f"transcript/{node_id}/{self.incarnations[node_id]}"),
            RAFT_TIMEOUTS,
            records or None,
            committed,
        )

    def describe_entry(self, entry: consensus_pb2.RaftEntry) -> str:
        if entry.membership_change:
            change = decode(consensus_pb2.RaftMembershipChange, entry.data, bytes_max=1 << 20)
            return f"{entry.index}/{entry.term} voters={','.join(change.voters)}"
        block = decode(types_pb2.Block, entry.data, bytes_max=1 << 26)
        return f"{entry.index}/{entry.term} h={block.header.height} {short(toy_block_hash(block))}"

    def describe_message(self, message: consensus_pb2.ConsensusMessage) -> str:
        body = message.WhichOneof("body")
        if body == "raft_request_vote":
            request = message.raft_request_vote
            return (
                f"vote-request term={request.term} "
                f"last={request.last_log_index}/{request.last_log_term}"
            )
        if body == "raft_vote_response":
            vote = message.raft_vote_response
            verdict = "granted" if vote.granted else "refused"
            return f"vote-response term={vote.term} {verdict}"
        if body == "raft_append_entries":
            append = message.raft_append_entries
            entries = " ".join(self.describe_entry(entry) for entry in append.entries)
            return (
                f"append term={append.term} "
                f"prev={append.previous_log_index}/{append.previous_log_term} "
                f"commit={append.leader_commit} entries=[{entries}]"
            )
        if body == "raft_append_response":
            response = message.raft_append_response
            verdict = "ok" if response.success else "refused"
            return f"append-response term={response.term} {verdict} match={response.match_index}"
        return f"unexpected {body}"

    def describe_record(self, name: str, data: bytes) -> str:
        if name == META_RECORD:
            meta = decode_meta(data)
            return f"{name} term={meta.term} vote={meta.voted_for} end={meta.log_end}"
        entry = decode(consensus_pb2.RaftEntry, data, bytes_max=1 << 26)
        return f"{name[:9]}{entry.index} {self.describe_entry(entry)}"

    def describe_status(self, node_id: str, core: RaftCore) -> str:
        return (
            f"{node_id} {core.role.name.lower()} term={core.term} leader={core.leader} "
            f"vote={core.voted_for} commit={core.commit_index} last={core.last_log_index}"
        )

    def command(self, harness: Harness, name: str, arguments: Arguments) -> bool:
        if name != "propose":
            return False
        node_id = arguments.positional[0]
        assert harness.nodes[node_id].core is not None, f"{node_id} is down"
        before = len(harness.lines)
        harness.call(node_id, "propose", lambda core: core.propose(harness.now_ms))
        if len(harness.lines) == before:
            harness.lines.append(f"{node_id} builds nothing: not leading, or its pipeline is full")
        return True
