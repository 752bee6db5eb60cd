"""A small chain built by hand for the light-client tests: keys, a header with real roots,
certificates signed by chosen validators, and the proofs a node would answer with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from causeway.crypto import CryptoProfile, PrivateKey, get_profile
from causeway.light import commit_sign_bytes, validator_set_hash
from causeway.state import StateTree, TreeUpdate
from causeway.types import (
    BLOCK_VERSION,
    block_hash,
    encode,
    merkle_proof,
    merkle_root,
    transaction_id,
)
from causeway.types.v1 import types_pb2

CHAIN_ID = "light-test"
STATE = {b"kv/colour": b"blue", b"kv/size": b"large", b"kv/shape": b"round"}


@cache
def validator_key(profile_name: str, index: int) -> PrivateKey:
    """Keys are slow to make (SM2 above all): one per (profile, index) for the whole run."""
    return PrivateKey.generate(get_profile(profile_name).default_algorithm)


def validator_set(profile_name: str, powers: Sequence[int]) -> types_pb2.ValidatorSet:
    validators = []
    for index, power in enumerate(powers):
        key = validator_key(profile_name, index)
        validators.append(
            types_pb2.Validator(
                member_id=f"org{index}/validator",
                algorithm=key.algorithm,
                public_key=key.public_key().raw,
                voting_power=power,
            )
        )
    return types_pb2.ValidatorSet(validators=validators)


class _Nodes:
    def __init__(self) -> None:
        self.nodes: dict[bytes, bytes] = {}

    def get_state_node(self, node_key: bytes) -> bytes | None:
        return self.nodes.get(node_key)

    def write(self, update: TreeUpdate) -> None:
        self.nodes.update(update.new_nodes)


@dataclass
class LightChain:
    """One block of a chain of ``profile``: its header, body, results and state tree."""

    profile: CryptoProfile
    validators: types_pb2.ValidatorSet
    next_validators: types_pb2.ValidatorSet
    header: types_pb2.BlockHeader = field(default_factory=types_pb2.BlockHeader)
    block: types_pb2.Block = field(default_factory=types_pb2.Block)
    results: list[types_pb2.TransactionResult] = field(default_factory=list)
    tree: StateTree | None = None

    @property
    def block_hash(self) -> bytes:
        return block_hash(self.header, self.profile.hash)

    def certificate(
        self,
        signer_indexes: Sequence[int],
        *,
        chain_id: str = CHAIN_ID,
        height: int | None = None,
        round_number: int = 0,
    ) -> types_pb2.CommitCertificate:
        """Signed by the validators at ``signer_indexes`` (the index is the key's)."""
        height = self.header.height if height is None else height
        document = commit_sign_bytes(chain_id, height, round_number, self.block_hash)
        signatures = [
            types_pb2.CommitSignature(
                validator=f"org{index}/validator",
                signature=validator_key(self.profile.name, index).sign(document),
            )
            for index in signer_indexes
        ]
        return types_pb2.CommitCertificate(
            height=height, round=round_number, block_hash=self.block_hash, signatures=signatures
        )

    def state_proof(self, key: bytes) -> types_pb2.StateProof:
        assert self.tree is not None
        return self.tree.prove(key, 0)

    def transaction_proof(self, index: int) -> types_pb2.MerkleProof:
        ids = [transaction_id(t.body, self.profile.hash) for t in self.block.transactions]
        return merkle_proof(ids, index, self.profile.hash)

    def result_proof(self, index: int) -> types_pb2.MerkleProof:
        return merkle_proof([encode(r) for r in self.results], index, self.profile.hash)


def build_chain(
    profile_name: str,
    powers: Sequence[int] = (1, 1, 1),
    *,
    next_powers: Sequence[int] | None = None,
    height: int = 7,
    transactions: int = 3,
) -> LightChain:
    profile = get_profile(profile_name)
    validators = validator_set(profile_name, powers)
    following = validator_set(profile_name, next_powers if next_powers is not None else powers)
    nodes = _Nodes()
    tree = StateTree(profile.hash, nodes)
    # The tree's own version numbering is immaterial to a proof: one version, from empty.
    update = tree.apply(0, dict(STATE))
    nodes.write(update)
    tree.committed(update)
    body = [
        types_pb2.Transaction(body=b"transaction %d" % index, signature=b"unchecked here")
        for index in range(transactions)
    ]
    ids = [transaction_id(t.body, profile.hash) for t in body]
    results = [
        types_pb2.TransactionResult(transaction_id=identifier, status=types_pb2.RESULT_STATUS_OK)
        for identifier in ids
    ]
    header = types_pb2.BlockHeader(
        version=BLOCK_VERSION,
        chain_id=CHAIN_ID,
        height=height,
        previous_hash=profile.hash(b"parent"),
        time_ms=1_000,
        proposer="org0/validator",
        transactions_root=merkle_root(ids, profile.hash),
        results_root=merkle_root([encode(r) for r in results], profile.hash),
        state_root=update.root_hash,
        validator_set_hash=validator_set_hash(validators, profile),
        next_validator_set_hash=validator_set_hash(following, profile),
        transaction_count=len(body),
        genesis_hash=profile.hash(b"genesis"),
    )
    return LightChain(
        profile=profile,
        validators=validators,
        next_validators=following,
        header=header,
        block=types_pb2.Block(header=header, transactions=body),
        results=results,
        tree=tree,
    )
