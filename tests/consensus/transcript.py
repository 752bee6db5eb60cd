"""Data-driven transcripts of consensus cores, in the manner of etcd's raft (testdata/*.txt).

A transcript is a list of commands, each followed by ``----`` and the output it must produce::

    # comment lines start with '#'
    stabilize
    ----
    > v2 receives v1->v2 proposal h=1 r=0 pol=-1 block=5b1f3c by=v1
      persist tbft/state h=1 r=0 step=prevote ...
      send v2->* prevote h=1 r=0 block=5b1f3c by=v2

A block ends at a blank line. ``pytest --rewrite`` writes the output the code produces today back
into the file: review the diff like code.

The harness drives cores only through their public protocol (`start`, `tick`, `step`,
`next_deadline_ms`, and whatever `EngineGlue` uses to hand a core a built block); everything
engine-specific (building cores, printing messages and records, engine commands such as raft's
``propose``) is in transcript_glue.py. The network is a FIFO queue of encoded messages that
commands deliver, drop, duplicate or partition; a node's records (its disk) and committed blocks
(its block store) survive a crash. After every command the harness checks that no two nodes
committed different blocks at one height.

Commands common to every engine:

* ``start``: creates and starts every node.
* ``tick [node...] [advance=MS] [next]``: moves the clock by MS (or, with ``next``, to the
  earliest deadline of the listed nodes) and ticks the listed nodes (default: every live node).
* ``deliver [from=ID] [to=ID] [count=N]``: delivers the queued messages that match, oldest first
  (without count: every match queued when the command started).
* ``stabilize [limit=N]``: delivers until the queue is empty (at most N deliveries).
* ``drop [from=ID] [to=ID] [count=N]``, ``duplicate [from=ID] [to=ID]``: lose queued messages;
  queue a second copy of the oldest match.
* ``partition A B | C``: messages between the groups are dropped when delivered; ``heal``.
* ``crash ID``: the core is gone (records and committed blocks stay); ``restart ID``: a new core
  from its records.
* ``status``: every node's view; ``disk ID``: a node's records.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from causeway.consensus import Commit, Output
from causeway.consensus.v1 import consensus_pb2
from causeway.types import decode

# How many deliveries one stabilize may make before the transcript is declared a livelock.
STABILIZE_DELIVERIES_MAX = 10_000
MESSAGE_BYTES_MAX = 64 * 1024 * 1024


class EngineGlue(Protocol):
    """Everything the harness needs to know about one engine (see transcript_glue.py)."""

    node_ids: tuple[str, ...]

    def create(self, node_id: str, records: Mapping[str, bytes], committed: int) -> Any: ...

    def application(self, node_id: str) -> Any:
        """The node's application (build_block, validate_block, validate_committed_block)."""
        ...

    def application_lines(self, node_id: str) -> list[str]:
        """What the application did for the node (build, validate) since the last call."""
        ...

    def describe_message(self, message: consensus_pb2.ConsensusMessage) -> str: ...

    def describe_record(self, name: str, data: bytes) -> str: ...

    def describe_status(self, node_id: str, core: Any) -> str: ...

    def block_hash(self, commit: Commit) -> bytes: ...

    def command(self, harness: Harness, name: str, arguments: Arguments) -> bool:
        """Runs an engine-specific command; False when the name is not one of its commands."""
        ...


@dataclass
class Arguments:
    positional: list[str]
    named: dict[str, str]

    @classmethod
    def parse(cls, words: Sequence[str]) -> Arguments:
        positional = [word for word in words if "=" not in word]
        named = dict(word.split("=", 1) for word in words if "=" in word)
        return cls(positional, named)

    def integer(self, name: str, default: int) -> int:
        return int(self.named.get(name, default))


@dataclass
class Node:
    node_id: str
    core: Any = None
    records: dict[str, bytes] = field(default_factory=dict)
    committed: list[Commit] = field(default_factory=list)


@dataclass
class InFlight:
    sender: str
    destination: str
    data: bytes


class Harness:
    def __init__(self, glue: EngineGlue) -> None:
        self.glue = glue
        self.now_ms = 0
        self.nodes = {node_id: Node(node_id) for node_id in glue.node_ids}
        self.queue: list[InFlight] = []
        self.blocked: set[tuple[str, str]] = set()
        self.block_hashes: dict[int, bytes] = {}
        self.lines: list[str] = []

    # ------------------------------------------------------------------ driving one core

    def call(self, node_id: str, what: str, action: Callable[[Any], Output]) -> None:
        """Calls a core, then carries out its output: persist, then send, then commit."""
        node = self.nodes[node_id]
        output = action(node.core)
        body = [f"  {line}" for line in self.glue.application_lines(node_id)]
        for name, data in output.persist:
            if data:
                node.records[name] = data
                body.append(f"  persist {self.glue.describe_record(name, data)}")
            else:
                node.records.pop(name, None)
                body.append(f"  persist {name} deleted")
        for destination, message in output.send:
            body.append(
                f"  send {node_id}->{destination or '*'} {self.glue.describe_message(message)}"
            )
            for receiver in [destination] if destination else self.nodes:
                if receiver != node_id:
                    self.queue.append(InFlight(node_id, receiver, message.SerializeToString()))
        for commit in output.commits:
            self._check_commit(node, commit)
            node.committed.append(commit)
            signers = ",".join(signature.validator for signature in commit.certificate.signatures)
            body.append(
                f"  commit h={commit.height} block={short(self.glue.block_hash(commit))} "
                f"round={commit.certificate.round} signed-by={signers}"
            )
        for evidence in output.evidence:
            body.append(
                f"  evidence {self.glue.describe_message(vote_message(evidence.first))} "
                f"AND {self.glue.describe_message(vote_message(evidence.second))}"
            )
        for request in output.build:
            body.append(f"  ask build h={request.height} r={request.round_number}")
        for validation in output.validate:
            kind = "committed " if validation.committed else ""
            body.append(
                f"  ask validate {kind}h={validation.block.header.height} "
                f"{short(validation.block_hash)}"
            )
        if body:
            self.lines.append(f"> {node_id} {what}")
            self.lines.extend(body)
        # As a driver does (ADR 0002): the application's work after the commits, its result
        # handed back to the core, each as a call of its own.
        application = self.glue.application(node_id)
        for request in output.build:
            block = application.build_block(
                request.height, request.round_number, request.time_ms, request.proposer
            )
            self.call(
                node_id,
                f"block built h={request.height}",
                lambda core, block=block: core.block_built(block, self.now_ms),
            )
        for validation in output.validate:
            validate = (
                application.validate_committed_block
                if validation.committed
                else application.validate_block
            )
            valid = validate(validation.block)
            self.call(
                node_id,
                f"block validated {short(validation.block_hash)}",
                lambda core, validation=validation, valid=valid: core.block_validated(
                    validation.block_hash, valid, self.now_ms
                ),
            )

    def _check_commit(self, node: Node, commit: Commit) -> None:
        expected = len(node.committed) + 1
        assert commit.height == expected, f"{node.node_id} commits {commit.height}, not {expected}"
        block_hash = self.glue.block_hash(commit)
        agreed = self.block_hashes.setdefault(commit.height, block_hash)
        assert agreed == block_hash, f"two different blocks committed at height {commit.height}"

    def live(self, node_ids: Iterable[str] | None = None) -> list[str]:
        chosen = list(node_ids) if node_ids else list(self.nodes)
        for node_id in chosen:
            assert node_id in self.nodes, f"no node {node_id}"
        return [node_id for node_id in chosen if self.nodes[node_id].core is not None]

    # ------------------------------------------------------------------ commands

    def run(self, command: str) -> str:
        words = shlex.split(command)
        name, arguments = words[0], Arguments.parse(words[1:])
        self.lines = []
        handler = getattr(self, f"command_{name.replace('-', '_')}", None)
        if handler is not None:
            handler(arguments)
        elif not self.glue.command(self, name, arguments):
            raise AssertionError(f"unknown command {name!r}")
        return "\n".join(self.lines) if self.lines else "ok"

    def command_start(self, arguments: Arguments) -> None:
        for node_id in arguments.positional or list(self.nodes):
            node = self.nodes[node_id]
            assert node.core is None, f"{node_id} is running"
            node.core = self.glue.create(node_id, dict(node.records), len(node.committed))
            self.call(node_id, "start", lambda core: core.start(self.now_ms))

    def command_tick(self, arguments: Arguments) -> None:
        node_ids = self.live([word for word in arguments.positional if word != "next"])
        if "next" in arguments.positional:
            deadlines = [
                deadline
                for deadline in (self.nodes[node].core.next_deadline_ms() for node in node_ids)
                if deadline is not None
            ]
            assert deadlines, "no live node has a deadline"
            self.now_ms = max(self.now_ms, min(deadlines))
        self.now_ms += arguments.integer("advance", 0)
        self.lines.append(f"time {self.now_ms}")
        for node_id in node_ids:
            self.call(node_id, f"tick at {self.now_ms}", lambda core: core.tick(self.now_ms))

    def _matching(self, arguments: Arguments) -> list[InFlight]:
        sender = arguments.named.get("from")
        destination = arguments.named.get("to")
        return [
            message
            for message in self.queue
            if sender in (None, message.sender) and destination in (None, message.destination)
        ]

    def command_deliver(self, arguments: Arguments) -> None:
        chosen = self._matching(arguments)
        if "count" in arguments.named:
            chosen = chosen[: arguments.integer("count", 0)]
        for message in chosen:
            self.queue.remove(message)
            self._deliver(message)

    def command_stabilize(self, arguments: Arguments) -> None:
        limit = arguments.integer("limit", STABILIZE_DELIVERIES_MAX)
        for _ in range(limit):
            if not self.queue:
                return
            self._deliver(self.queue.pop(0))
        assert not self.queue, f"still {len(self.queue)} messages in flight after {limit}"

    def _deliver(self, in_flight: InFlight) -> None:
        message = decode(
            consensus_pb2.ConsensusMessage, in_flight.data, bytes_max=MESSAGE_BYTES_MAX
        )
        route = f"{in_flight.sender}->{in_flight.destination}"
        description = f"{route} {self.glue.describe_message(message)}"
        if (in_flight.sender, in_flight.destination) in self.blocked:
            self.lines.append(f"> dropped (partition) {description}")
            return
        if self.nodes[in_flight.destination].core is None:
            self.lines.append(f"> dropped ({in_flight.destination} is down) {description}")
            return
        before = len(self.lines)
        self.call(
            in_flight.destination,
            f"receives {description}",
            lambda core: core.step(in_flight.sender, message, self.now_ms),
        )
        if len(self.lines) == before:
            self.lines.append(f"> {in_flight.destination} receives {description}")

    def command_drop(self, arguments: Arguments) -> None:
        chosen = self._matching(arguments)
        if "count" in arguments.named:
            chosen = chosen[: arguments.integer("count", 0)]
        for message in chosen:
            self.queue.remove(message)
            self.lines.append(f"dropped {message.sender}->{message.destination}")

    def command_duplicate(self, arguments: Arguments) -> None:
        chosen = self._matching(arguments)
        assert chosen, "no queued message matches"
        self.queue.append(InFlight(chosen[0].sender, chosen[0].destination, chosen[0].data))
        self.lines.append(f"duplicated {chosen[0].sender}->{chosen[0].destination}")

    def command_partition(self, arguments: Arguments) -> None:
        groups: list[list[str]] = [[]]
        for word in arguments.positional:
            if word == "|":
                groups.append([])
            else:
                groups[-1].append(word)
        for group in groups:
            for other in groups:
                if other is not group:
                    self.blocked.update((a, b) for a in group for b in other)

    def command_heal(self, arguments: Arguments) -> None:
        self.blocked.clear()

    def command_crash(self, arguments: Arguments) -> None:
        for node_id in arguments.positional:
            assert self.nodes[node_id].core is not None, f"{node_id} is already down"
            self.nodes[node_id].core = None

    def command_restart(self, arguments: Arguments) -> None:
        for node_id in arguments.positional:
            node = self.nodes[node_id]
            assert node.core is None, f"{node_id} is running"
            node.core = self.glue.create(node_id, dict(node.records), len(node.committed))
            self.call(node_id, "restart", lambda core: core.start(self.now_ms))

    def command_status(self, arguments: Arguments) -> None:
        for node_id in arguments.positional or list(self.nodes):
            node = self.nodes[node_id]
            if node.core is None:
                self.lines.append(f"{node_id} down committed={len(node.committed)}")
            else:
                status = self.glue.describe_status(node_id, node.core)
                deadline = node.core.next_deadline_ms()
                self.lines.append(f"{status} committed={len(node.committed)} deadline={deadline}")
        self.lines.append(f"in flight {len(self.queue)}")

    def command_disk(self, arguments: Arguments) -> None:
        for node_id in arguments.positional:
            for name, data in sorted(self.nodes[node_id].records.items()):
                self.lines.append(f"{node_id} {self.glue.describe_record(name, data)}")


def vote_message(vote: consensus_pb2.Vote) -> consensus_pb2.ConsensusMessage:
    return consensus_pb2.ConsensusMessage(vote=vote)


def short(block_hash: bytes) -> str:
    return block_hash.hex()[:6] if block_hash else "nil"


# ---------------------------------------------------------------------------------------------
# The file format


@dataclass
class Case:
    comments: list[str]
    command: str
    expected: str


def parse(text: str, path: Path) -> list[Case]:
    cases: list[Case] = []
    lines = text.splitlines()
    position = 0
    while position < len(lines):
        comments: list[str] = []
        while position < len(lines) and (not lines[position] or lines[position].startswith("#")):
            if lines[position]:
                comments.append(lines[position])
            position += 1
        if position >= len(lines):
            break
        command = lines[position]
        position += 1
        assert position < len(lines) and lines[position] == "----", (
            f"{path}:{position}: expected ---- after {command!r}"
        )
        position += 1
        expected: list[str] = []
        while position < len(lines) and lines[position]:
            expected.append(lines[position])
            position += 1
        cases.append(Case(comments, command, "\n".join(expected)))
    return cases


def render(cases: Sequence[Case], outputs: Sequence[str]) -> str:
    parts: list[str] = []
    for case, output in zip(cases, outputs, strict=True):
        parts.extend(case.comments)
        parts.extend([case.command, "----", output, ""])
    return "\n".join(parts)


def run_transcript(path: Path, glue: EngineGlue, rewrite: bool) -> None:
    """Runs every command of the file; compares (or, rewriting, replaces) the outputs."""
    text = path.read_text()
    cases = parse(text, path)
    harness = Harness(glue)
    outputs = [harness.run(case.command) for case in cases]
    actual = render(cases, outputs)
    if rewrite:
        path.write_text(actual)
        return
    assert actual == text, f"{path.name} differs; if the change is intended, rerun with --rewrite"
