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
    """The first vote of each validator, counted; a second, conflicting vote is evidence.

    The conflicting vote is kept (one per validator, any further ones are dropped) but counts
    only where a proof of lock is checked (``proof_power_for``): there a Byzantine validator's
    vote for the block is as good as any, and without it a validator that saw the other vote
    first could never accept the proof, and the locked validators would wait for ever. This is
    Tendermint's "peer claimed a +2/3 majority" exception in the form a core without that
    message can use.
    """

    __slots__ = ("conflicting", "conflicting_power_by_hash", "power", "power_by_hash", "votes")

    def __init__(self) -> None:
        self.votes: dict[str, consensus_pb2.Vote] = {}
        self.power_by_hash: dict[bytes, int] = {}
        self.power = 0
        self.conflicting: dict[str, consensus_pb2.Vote] = {}
        self.conflicting_power_by_hash: dict[bytes, int] = {}

    def get(self, validator: str) -> consensus_pb2.Vote | None:
        return self.votes.get(validator)

    def add(self, vote: consensus_pb2.Vote, power: int) -> None:
        self.votes[vote.validator] = vote
        self.power_by_hash[vote.block_hash] = self.power_by_hash.get(vote.block_hash, 0) + power
        self.power += power

    def add_conflicting(self, vote: consensus_pb2.Vote, power: int) -> bool:
        """Keeps the first conflicting vote of a validator; False if one was already kept."""
        if vote.validator in self.conflicting:
            return False
        self.conflicting[vote.validator] = vote
        self.conflicting_power_by_hash[vote.block_hash] = (
            self.conflicting_power_by_hash.get(vote.block_hash, 0) + power
        )
        return True

    def power_for(self, block_hash: bytes) -> int:
        return self.power_by_hash.get(block_hash, 0)

    def proof_power_for(self, block_hash: bytes) -> int:
        """Power behind `block_hash` counting every signed vote for it, conflicting or not."""
        return self.power_for(block_hash) + self.conflicting_power_by_hash.get(block_hash, 0)

    def quorum_block_hash(self, total_power: int) -> bytes | None:
        """The block (not nil) that more than two thirds voted for, if any."""
        for block_hash, power in self.power_by_hash.items():
            if block_hash and is_quorum(power, total_power):
                return block_hash
        return None

    def votes_for(self, block_hash: bytes) -> list[consensus_pb2.Vote]:
        """The counted votes for one block (or nil), ordered by validator id."""
        return [
            self.votes[validator]
            for validator in sorted(self.votes)
            if self.votes[validator].block_hash == block_hash
        ]

    def proof_for(self, block_hash: bytes) -> list[consensus_pb2.Vote]:
        """Every vote for one block, conflicting ones included, ordered by validator id."""
        return self.votes_for(block_hash) + [
            self.conflicting[validator]
            for validator in sorted(self.conflicting)
            if self.conflicting[validator].block_hash == block_hash
        ]
