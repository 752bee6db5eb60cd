"""Votes of one type in one round, tallied by voting power (integers only)."""

from __future__ import annotations

from causeway.consensus.v1 import consensus_pb2


def is_quorum(power: int, total_power: int) -> bool:
    """More than two thirds of the total voting power."""
    return power * 3 > total_power * 2


def is_one_third(power: int, total_power: int) -> bool:
    """More than one third of the total voting power: at least one honest validator among them."""
    return power * 3 > total_power


class VoteSet:
    """The first vote of each validator; later conflicting votes are evidence, never counted."""

    __slots__ = ("conflict_reported", "power", "power_by_hash", "votes")

    def __init__(self) -> None:
        self.votes: dict[str, consensus_pb2.Vote] = {}
        self.power_by_hash: dict[bytes, int] = {}
        self.power = 0
        # Validators already reported for equivocating here: one evidence each is proof enough.
        self.conflict_reported: set[str] = set()

    def get(self, validator: str) -> consensus_pb2.Vote | None:
        return self.votes.get(validator)

    def add(self, vote: consensus_pb2.Vote, power: int) -> None:
        self.votes[vote.validator] = vote
        self.power_by_hash[vote.block_hash] = self.power_by_hash.get(vote.block_hash, 0) + power
        self.power += power

    def power_for(self, block_hash: bytes) -> int:
        return self.power_by_hash.get(block_hash, 0)

    def quorum_block_hash(self, total_power: int) -> bytes | None:
        """The block (not nil) that more than two thirds voted for, if any."""
        for block_hash, power in self.power_by_hash.items():
            if block_hash and is_quorum(power, total_power):
                return block_hash
        return None

    def votes_for(self, block_hash: bytes) -> list[consensus_pb2.Vote]:
        """The votes for one block (or nil), ordered by validator id."""
        return [
            self.votes[validator]
            for validator in sorted(self.votes)
            if self.votes[validator].block_hash == block_hash
        ]
