"""The simulated network: drops, delays, duplicates, reordering and partitions.

Reordering comes from the delays: every message draws its own delay from [delay_min_ms,
delay_max_ms], so two messages on one link may arrive in either order. A partition blocks links
while it is active: ``groups`` (symmetric, only nodes of one group talk to each other; a node in
no group is cut off from everyone) and ``blocked`` (directed (sender, receiver) instance links,
for asymmetric partitions). A partition is checked when a message is sent. A ``RoundPartition``
blocks links only for tbft messages of one height and round (the Twins approach), so an
adversary can, say, let prevotes through and keep precommits from most nodes.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from causeway.consensus.v1 import consensus_pb2


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    drop_probability: float = 0.0
    duplicate_probability: float = 0.0
    delay_min_ms: int = 1
    delay_max_ms: int = 10

    def __post_init__(self) -> None:
        if not 0.0 <= self.drop_probability < 1.0:
            raise ValueError("drop_probability must be in [0, 1)")
        if not 0.0 <= self.duplicate_probability < 1.0:
            raise ValueError("duplicate_probability must be in [0, 1)")
        if not 0 <= self.delay_min_ms <= self.delay_max_ms:
            raise ValueError("delays must satisfy 0 <= delay_min_ms <= delay_max_ms")


def _blocked_pairs(
    instances: Sequence[str],
    groups: Sequence[Sequence[str]],
    blocked: Iterable[tuple[str, str]],
) -> frozenset[tuple[str, str]]:
    pairs = set(blocked)
    if groups:
        group_of: dict[str, int] = {}
        for index, group in enumerate(groups):
            for name in group:
                group_of[name] = index
        for sender in instances:
            for receiver in instances:
                if sender == receiver:
                    continue
                sender_group = group_of.get(sender)
                if sender_group is None or sender_group != group_of.get(receiver):
                    pairs.add((sender, receiver))
    return frozenset(pairs)


@dataclass(frozen=True, slots=True)
class Partition:
    """Links blocked from ``start_ms`` until ``end_ms`` (None: until the heal, or for ever when
    ``survives_heal``)."""

    groups: tuple[tuple[str, ...], ...] = ()
    blocked: tuple[tuple[str, str], ...] = ()
    start_ms: int = 0
    end_ms: int | None = None
    survives_heal: bool = False

    def blocked_pairs(self, instances: Sequence[str]) -> frozenset[tuple[str, str]]:
        return _blocked_pairs(instances, self.groups, self.blocked)

    def describe(self) -> str:
        parts = []
        if self.groups:
            parts.append(" | ".join(",".join(group) for group in self.groups))
        if self.blocked:
            parts.append(" ".join(f"{a}-x->{b}" for a, b in self.blocked))
        end = "heal" if self.end_ms is None else f"{self.end_ms}ms"
        return f"[{self.start_ms}ms..{end}] " + "; ".join(parts)


@dataclass(frozen=True, slots=True)
class RoundPartition:
    """Links blocked for tbft messages of one height and round (None matches any); with
    ``message_types`` ("proposal", "prevote", "precommit") only for those kinds."""

    height: int | None
    round: int | None
    groups: tuple[tuple[str, ...], ...] = ()
    blocked: tuple[tuple[str, str], ...] = ()
    message_types: tuple[str, ...] = ()

    def blocked_pairs(self, instances: Sequence[str]) -> frozenset[tuple[str, str]]:
        return _blocked_pairs(instances, self.groups, self.blocked)


@dataclass(frozen=True, slots=True)
class RandomPartitions:
    """Random partition phases from time 0 until ``until_ms``; drawn from the run's seed."""

    until_ms: int
    phase_min_ms: int = 100
    phase_max_ms: int = 800
    groups_max: int = 3
    connected_probability: float = 0.25
    asymmetric_probability: float = 0.25
    # Put the two instances of a twinned validator in different groups.
    split_twins: bool = True


@dataclass(frozen=True, slots=True)
class RandomRoundPartitions:
    """A random partition for each (height, round) with probability ``probability``, for heights
    1..heights and rounds 0..rounds-1, in the style of Twins; drawn from the run's seed."""

    heights: int
    rounds: int
    probability: float = 0.5
    groups_max: int = 3
    split_twins: bool = True
    per_message_type: bool = True


def random_groups(
    rng: random.Random,
    instances: Sequence[str],
    twin_pairs: Sequence[tuple[str, str]],
    groups_max: int,
    split_twins: bool,
) -> tuple[tuple[str, ...], ...]:
    count = rng.randint(2, max(2, groups_max))
    groups: list[list[str]] = [[] for _ in range(count)]
    placed: set[str] = set()
    if split_twins:
        for first, second in twin_pairs:
            a, b = rng.sample(range(count), 2)
            groups[a].append(first)
            groups[b].append(second)
            placed.update((first, second))
    for name in instances:
        if name not in placed:
            groups[rng.randrange(count)].append(name)
    return tuple(tuple(sorted(group)) for group in groups if group)


def random_blocked_links(
    rng: random.Random, instances: Sequence[str], fraction: float
) -> tuple[tuple[str, str], ...]:
    links = [(a, b) for a in instances for b in instances if a != b]
    chosen = [link for link in links if rng.random() < fraction]
    return tuple(chosen)


def generate_partitions(
    rng: random.Random,
    spec: RandomPartitions,
    instances: Sequence[str],
    twin_pairs: Sequence[tuple[str, str]],
) -> list[Partition]:
    partitions: list[Partition] = []
    time_ms = 0
    while time_ms < spec.until_ms:
        length = rng.randint(spec.phase_min_ms, spec.phase_max_ms)
        end = min(spec.until_ms, time_ms + length)
        draw = rng.random()
        if draw < spec.connected_probability:
            pass
        elif draw < spec.connected_probability + spec.asymmetric_probability:
            blocked = random_blocked_links(rng, instances, rng.uniform(0.1, 0.5))
            partitions.append(Partition(blocked=blocked, start_ms=time_ms, end_ms=end))
        else:
            groups = random_groups(rng, instances, twin_pairs, spec.groups_max, spec.split_twins)
            partitions.append(Partition(groups=groups, start_ms=time_ms, end_ms=end))
        time_ms = end
    return partitions


def generate_round_partitions(
    rng: random.Random,
    spec: RandomRoundPartitions,
    instances: Sequence[str],
    twin_pairs: Sequence[tuple[str, str]],
) -> list[RoundPartition]:
    partitions: list[RoundPartition] = []
    for height in range(1, spec.heights + 1):
        for round_number in range(spec.rounds):
            if rng.random() >= spec.probability:
                continue
            groups = random_groups(rng, instances, twin_pairs, spec.groups_max, spec.split_twins)
            types: tuple[str, ...] = ()
            if spec.per_message_type and rng.random() < 0.5:
                types = (rng.choice(("proposal", "prevote", "precommit")),)
            partitions.append(RoundPartition(height, round_number, groups, (), types))
    return partitions


def message_scope(message: consensus_pb2.ConsensusMessage) -> tuple[int, int, str] | None:
    """(height, round, kind) of a tbft proposal or vote; None for other messages."""
    body = message.WhichOneof("body")
    if body == "proposal":
        return message.proposal.height, message.proposal.round, "proposal"
    if body == "vote":
        vote = message.vote
        kind = "prevote" if vote.type == consensus_pb2.VOTE_TYPE_PREVOTE else "precommit"
        return vote.height, vote.round, kind
    return None


@dataclass(slots=True)
class LinkState:
    """Which directed links are blocked now, recomputed when a partition starts or ends."""

    instances: tuple[str, ...]
    active: list[Partition] = field(default_factory=list)
    blocked: frozenset[tuple[str, str]] = frozenset()

    def recompute(self) -> None:
        pairs: set[tuple[str, str]] = set()
        for partition in self.active:
            pairs |= partition.blocked_pairs(self.instances)
        self.blocked = frozenset(pairs)
