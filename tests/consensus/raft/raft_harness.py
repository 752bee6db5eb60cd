"""A tiny deterministic network of Raft cores for tests (deliberately not causeway.sim).

Messages travel encoded, with a seeded delay, through partitions; each node has a disk (the
records its Outputs persisted, empty bytes deleting) and a block store (the commits it applied),
both of which survive a crash. Safety is checked on every event: at most one leader per term and
one block per height across all nodes.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from causeway.consensus import Commit, Output
from causeway.consensus.raft import RaftCore, RaftRole, RaftTimeouts
from causeway.consensus.v1 import consensus_pb2
from causeway.types import encode
from causeway.types.v1 import types_pb2

CHAIN_ID = "raft-test-chain"
TIMEOUTS = RaftTimeouts(election_min_ms=150, election_max_ms=300, heartbeat_ms=50)
TICK_MS = 5


class KeyedSigner:
    def __init__(self, validator_id: str) -> None:
        self.validator_id = validator_id

    def sign(self, document: bytes) -> bytes:
        return hmac.new(self.validator_id.encode(), document, hashlib.sha256).digest()


class ToyApplication:
    """Builds one-transaction blocks; validates them without depending on applied state."""

    def __init__(self) -> None:
        self.refused_heights: set[int] = set()
        self.built: list[int] = []

    def build_block(
        self, height: int, round_number: int, time_ms: int, proposer: str
    ) -> types_pb2.Block:
        self.built.append(height)
        body = f"{proposer}/{round_number}/{height}/{time_ms}".encode()
        header = types_pb2.BlockHeader(
            version=1,
            chain_id=CHAIN_ID,
            height=height,
            time_ms=time_ms,
            proposer=proposer,
            transactions_root=hashlib.sha256(body).digest(),
            transaction_count=1,
        )
        return types_pb2.Block(header=header, transactions=[types_pb2.Transaction(body=body)])

    def validate_block(self, block: types_pb2.Block) -> bool:
        if block.header.height in self.refused_heights:
            return False
        bodies = b"".join(transaction.body for transaction in block.transactions)
        return block.header.transactions_root == hashlib.sha256(bodies).digest()

    def block_hash(self, block: types_pb2.Block) -> bytes:
        return hashlib.sha256(encode(block.header)).digest()


class InlineRaftCore(RaftCore):
    """A RaftCore whose Output.build and Output.validate are carried out at once by its
    application (what a driver does, without the wait); the Outputs it returns hold their
    results instead."""

    def __init__(self, *arguments: object, **keywords: object) -> None:
        super().__init__(*arguments, **keywords)  # type: ignore[arg-type]
        application = arguments[4]
        assert isinstance(application, ToyApplication)
        self.application = application

    def start(self, now_ms: int) -> Output:
        return self.settle(super().start(now_ms), now_ms)

    def tick(self, now_ms: int) -> Output:
        return self.settle(super().tick(now_ms), now_ms)

    def step(self, sender: str, message: consensus_pb2.ConsensusMessage, now_ms: int) -> Output:
        return self.settle(super().step(sender, message, now_ms), now_ms)

    def propose(self, now_ms: int) -> Output:
        return self.settle(super().propose(now_ms), now_ms)

    def propose_membership_change(self, voters: Sequence[str], now_ms: int) -> Output:
        return self.settle(super().propose_membership_change(voters, now_ms), now_ms)

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
                valid = self.application.validate_block(validation.block)
                output.extend(super().block_validated(validation.block_hash, valid, now_ms))
        return output


def apply_records(disk: dict[str, bytes], records: Iterable[tuple[str, bytes]]) -> None:
    for name, data in records:
        if data:
            disk[name] = data
        else:
            disk.pop(name, None)


@dataclass
class Node:
    node_id: str
    voters: tuple[str, ...]
    application: ToyApplication = field(default_factory=ToyApplication)
    core: InlineRaftCore | None = None
    disk: dict[str, bytes] = field(default_factory=dict)
    committed: list[Commit] = field(default_factory=list)
    incarnation: int = 0

    @property
    def heights(self) -> list[int]:
        return [commit.height for commit in self.committed]

    @property
    def live(self) -> InlineRaftCore:
        assert self.core is not None, f"{self.node_id} is down"
        return self.core


class Cluster:
    def __init__(
        self,
        node_ids: Sequence[str],
        seed: int,
        *,
        voters: Sequence[str] | None = None,
        delay_ms: tuple[int, int] = (1, 6),
        drop_probability: float = 0.0,
        duplicate_probability: float = 0.0,
        members: Sequence[str] = (),
    ) -> None:
        self.members = tuple(members)
        self.seed = seed
        self.drop_probability = drop_probability
        self.duplicate_probability = duplicate_probability
        self.now_ms = 0
        self.network_random = random.Random(f"network/{seed}")
        self.delay_ms = delay_ms
        self.queue: list[tuple[int, int, str, str, bytes]] = []
        self.sequence = 0
        self.blocked: set[tuple[str, str]] = set()
        self.nodes: dict[str, Node] = {}
        self.transactions_waiting = False
        self.leaders_by_term: dict[int, str] = {}
        self.block_hashes: dict[int, bytes] = {}
        self.trace: list[str] = []
        initial = tuple(voters if voters is not None else node_ids)
        for node_id in node_ids:
            self.add_node(node_id, initial)

    # --------------------------------------------------------------------- nodes

    def add_node(self, node_id: str, voters: Sequence[str]) -> Node:
        node = Node(node_id, tuple(voters))
        self.nodes[node_id] = node
        self._boot(node)
        return node

    def _boot(self, node: Node) -> None:
        node.core = InlineRaftCore(
            CHAIN_ID,
            node.node_id,
            list(node.voters),
            KeyedSigner(node.node_id),
            node.application,
            random.Random(f"{self.seed}/{node.node_id}/{node.incarnation}"),
            TIMEOUTS,
            dict(node.disk),
            len(node.committed),
            members=self.members,
        )
        self.apply(node, node.core.start(self.now_ms))

    def crash(self, node_id: str) -> None:
        node = self.nodes[node_id]
        node.core = None
        node.incarnation += 1

    def restart(self, node_id: str) -> None:
        node = self.nodes[node_id]
        assert node.core is None
        self._boot(node)

    def core(self, node_id: str) -> InlineRaftCore:
        return self.nodes[node_id].live

    def live_nodes(self) -> list[Node]:
        return [node for _, node in sorted(self.nodes.items()) if node.core is not None]

    def leader(self) -> str | None:
        """The leader of the highest term among live nodes, if any."""
        leaders = [node for node in self.live_nodes() if node.live.role is RaftRole.LEADER]
        if not leaders:
            return None
        return max(leaders, key=lambda node: node.live.term).node_id

    # --------------------------------------------------------------------- network

    def partition(self, *groups: Iterable[str]) -> None:
        sets = [set(group) for group in groups]
        for first in sets:
            for second in sets:
                if first is second:
                    continue
                for source in first:
                    for destination in second:
                        self.blocked.add((source, destination))

    def isolate(self, node_id: str) -> None:
        others = [other for other in self.nodes if other != node_id]
        self.partition([node_id], others)

    def heal(self) -> None:
        self.blocked.clear()

    def apply(self, node: Node, output: Output) -> None:
        for name, _ in output.persist:
            assert name.startswith("raft/")
        apply_records(node.disk, output.persist)
        for destination, message in output.send:
            assert destination is not None
            data = message.SerializeToString(deterministic=True)
            if self.network_random.random() < self.drop_probability:
                continue
            copies = 2 if self.network_random.random() < self.duplicate_probability else 1
            for _ in range(copies):
                delay = self.network_random.randint(*self.delay_ms)
                self.sequence += 1
                heapq.heappush(
                    self.queue,
                    (self.now_ms + delay, self.sequence, node.node_id, destination, data),
                )
        for commit in output.commits:
            expected = len(node.committed) + 1
            assert commit.height == expected, (node.node_id, commit.height, expected)
            block_hash = node.application.block_hash(commit.block)
            assert self.block_hashes.setdefault(commit.height, block_hash) == block_hash, (
                f"two blocks at height {commit.height}"
            )
            assert commit.certificate.block_hash == block_hash
            node.committed.append(commit)
            self.trace.append(f"{self.now_ms} {node.node_id} commit {commit.height}")
        if output.send or output.persist:
            sent = [
                (destination, message.WhichOneof("body")) for destination, message in output.send
            ]
            self.trace.append(f"{self.now_ms} {node.node_id} persist {len(output.persist)} {sent}")
        self._check_leaders()

    def _check_leaders(self) -> None:
        for node in self.live_nodes():
            core = node.live
            if core.role is RaftRole.LEADER:
                holder = self.leaders_by_term.setdefault(core.term, node.node_id)
                assert holder == node.node_id, f"two leaders in term {core.term}"

    # --------------------------------------------------------------------- time

    def run(self, duration_ms: int) -> None:
        self.run_until(lambda: False, duration_ms)

    def run_until(self, condition: Callable[[], bool], limit_ms: int) -> bool:
        end_ms = self.now_ms + limit_ms
        next_tick_ms = (self.now_ms // TICK_MS + 1) * TICK_MS
        while self.now_ms <= end_ms:
            if condition():
                return True
            next_message_ms = self.queue[0][0] if self.queue else None
            if next_message_ms is not None and next_message_ms <= next_tick_ms:
                delivery_ms, _, source, destination, data = heapq.heappop(self.queue)
                self.now_ms = max(self.now_ms, delivery_ms)
                self._deliver(source, destination, data)
                continue
            self.now_ms = next_tick_ms
            next_tick_ms += TICK_MS
            for node in self.live_nodes():
                output = node.live.tick(self.now_ms)
                if self.transactions_waiting:
                    output.extend(node.live.propose(self.now_ms))
                self.apply(node, output)
        return condition()

    def _deliver(self, source: str, destination: str, data: bytes) -> None:
        node = self.nodes.get(destination)
        if node is None or node.core is None or (source, destination) in self.blocked:
            return
        message = consensus_pb2.ConsensusMessage()
        message.ParseFromString(data)
        self.apply(node, node.core.step(source, message, self.now_ms))

    # --------------------------------------------------------------------- helpers

    def wait_for_leader(self, limit_ms: int = 5_000) -> str:
        assert self.run_until(lambda: self.leader() is not None, limit_ms), "no leader elected"
        leader = self.leader()
        assert leader is not None
        return leader

    def committed_everywhere(self, height: int, node_ids: Iterable[str] | None = None) -> bool:
        chosen = node_ids if node_ids is not None else self.nodes
        return all(len(self.nodes[node_id].committed) >= height for node_id in chosen)

    def assert_consistent(self) -> None:
        """Every node's block store is a prefix of the longest one."""
        longest = max((node.committed for node in self.nodes.values()), key=len)
        hashes = [commit.certificate.block_hash for commit in longest]
        for node in self.nodes.values():
            mine = [commit.certificate.block_hash for commit in node.committed]
            assert mine == hashes[: len(mine)], node.node_id
            assert node.heights == list(range(1, len(mine) + 1)), node.node_id
