"""Chains with validators: the execution_chain kit plus members holding the CONSENSUS role.

org1/node1, org2/node2, org1/node3: validators at genesis (in that member order, unsorted
on purpose: genesis keeps them as given), voting power 10 each (1 on raft chains)
org2/node4, org1/node5: CONSENSUS members that are not validators
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from execution_chain import Chain, ChainKit, build_kit

from causeway.consensus.tbft import vote_sign_bytes
from causeway.consensus.v1 import consensus_pb2
from causeway.contracts.v1 import contracts_pb2
from causeway.execution import Executor, genesis_state
from causeway.types.v1 import types_pb2

CONSENSUS = types_pb2.ROLE_CONSENSUS
GENESIS_VALIDATORS = ("org2/node2", "org1/node1", "org1/node3")
NODES = ("org1/node1", "org2/node2", "org1/node3", "org2/node4", "org1/node5")
# Endorsements that, with an org1 admin sender, satisfy the MAJORITY governance policy.
ENDORSERS = ["org2/admin"]
GOVERNANCE: dict[str, object] = {"endorsers": ENDORSERS}

PREVOTE = consensus_pb2.VOTE_TYPE_PREVOTE
PRECOMMIT = consensus_pb2.VOTE_TYPE_PRECOMMIT


def build_validator_kit(profile_name: str) -> ChainKit:
    kit = build_kit(profile_name)
    for member_id in NODES:
        identity = kit.new_identity(member_id, (CONSENSUS,))
        kit.identities[member_id] = identity
        kit.genesis.members.append(identity.member)
    return kit


def validator_record(kit: ChainKit, member_id: str, voting_power: int) -> types_pb2.Validator:
    member = kit.identities[member_id].member
    return types_pb2.Validator(
        member_id=member_id,
        algorithm=member.algorithm,
        public_key=member.public_key,
        voting_power=voting_power,
    )


def validator_chain(
    kit: ChainKit,
    consensus: str = "tbft",
    validators: Sequence[str] = GENESIS_VALIDATORS,
    voting_power: int | None = None,
) -> Chain:
    """A fresh chain of the kit with this consensus engine and genesis validator set."""
    power = voting_power if voting_power is not None else (1 if consensus == "raft" else 10)
    genesis = types_pb2.Genesis()
    genesis.CopyFrom(kit.genesis)
    genesis.consensus = consensus
    genesis.validators.CopyFrom(
        types_pb2.ValidatorSet(
            validators=[validator_record(kit, member_id, power) for member_id in validators]
        )
    )
    chain_kit = dataclasses.replace(kit, genesis=genesis)
    return Chain(
        kit=chain_kit, executor=Executor(genesis, kit.profile), state=genesis_state(genesis)
    )


def update_arguments(**powers: int) -> contracts_pb2.ValidatorsUpdateArguments:
    """update_arguments(org1__node4=10): member ids with "__" for "/" (keyword-friendly)."""
    return contracts_pb2.ValidatorsUpdateArguments(
        updates=[
            contracts_pb2.ValidatorPowerUpdate(
                member_id=name.replace("__", "/"), voting_power=power
            )
            for name, power in powers.items()
        ]
    )


def powers_at(chain: Chain, height: int) -> dict[str, int]:
    _, validator_set = chain.executor.validator_set_at(chain.reader, height)
    return {v.member_id: v.voting_power for v in validator_set.validators}


def signed_vote(
    chain: Chain,
    signer: str,
    *,
    vote_type: consensus_pb2.VoteType.ValueType = PRECOMMIT,
    height: int = 1,
    round_number: int = 0,
    block_hash: bytes = b"\x01" * 32,
    validator: str | None = None,
) -> consensus_pb2.Vote:
    """A vote signed, over the real tbft sign bytes, with `signer`'s key, naming `validator`
    (default: the signer)."""
    key = chain.identity(signer).key
    document = vote_sign_bytes(chain.executor.chain_id, vote_type, height, round_number, block_hash)
    return consensus_pb2.Vote(
        type=vote_type,
        height=height,
        round=round_number,
        block_hash=block_hash,
        validator=validator if validator is not None else signer,
        signature=key.sign(document),
    )


def equivocation(
    chain: Chain, signer: str = "org2/node2", **vote: object
) -> consensus_pb2.DuplicateVoteEvidence:
    """Two votes by `signer` for different blocks at the same height, round and type."""
    return consensus_pb2.DuplicateVoteEvidence(
        first=signed_vote(chain, signer, block_hash=b"\x01" * 32, **vote),  # type: ignore[arg-type]
        second=signed_vote(chain, signer, block_hash=b"\x02" * 32, **vote),  # type: ignore[arg-type]
    )
