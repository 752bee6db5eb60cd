"""Governance changes the validator set through the replicated node's Application: the block that
commits the change announces nothing yet, the next header's next-validator-set hash announces the
new set, and the header after it is validated by that set."""

from __future__ import annotations

import time

import pytest
from replica_support import Replica

from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import get_profile
from causeway.node.consensus_driver import ValidatorVerifier
from causeway.provisioning import build_network
from causeway.provisioning.description import NetworkDescription
from causeway.sdk import Identity, build_transaction
from causeway.storage import BlockRecord
from causeway.types import DecodedTransaction, decode_transaction, encode
from causeway.types.v1 import types_pb2

REMOVED = "org3/node3"


@pytest.fixture(scope="module")
def network() -> NetworkDescription:
    return build_network(3, "intl", "tbft", now_ms=int(time.time() * 1000), validators=3)


def identity(network: NetworkDescription, member_id: str) -> Identity:
    member = network.member(member_id)
    return Identity(member.member_id, member.key)


def removal(network: NetworkDescription, endorsed_by: list[str]) -> DecodedTransaction:
    transaction = build_transaction(
        identity(network, "org1/admin"),
        network.genesis.chain_id,
        "validators",
        "update",
        contracts_pb2.ValidatorsUpdateArguments(
            updates=[contracts_pb2.ValidatorPowerUpdate(member_id=REMOVED, voting_power=0)]
        ),
        endorsers=[identity(network, member_id) for member_id in endorsed_by],
    )
    profile = get_profile(network.genesis.crypto_profile)
    return decode_transaction(transaction, hash_function=profile.hash, bytes_max=1 << 16)


def commit_next(
    network: NetworkDescription, builder: Replica, checker: Replica
) -> types_pb2.BlockHeader:
    """Builds the next block on `builder`, has `checker` validate it, and writes it on both."""
    height = builder.store.latest_height() + 1
    block = builder.application.build_block(height, 0, int(time.time() * 1000), "org1/node1")
    builder.pending.clear()
    assert checker.application.validate_block(block)
    for replica in (builder, checker):
        executed = replica.application.executed(block)
        assert executed is not None
        replica.store.commit_block(
            BlockRecord(
                block=executed.block,
                block_hash=executed.block_hash,
                certificate=types_pb2.CommitCertificate(
                    height=height, block_hash=executed.block_hash
                ),
                results=executed.results,
                transaction_ids=[t.id for t in executed.transactions],
                state_changes=executed.changes,
                tree_update=executed.tree_update,
                validator_set=executed.validator_set,
            )
        )
        replica.application.tree.committed(executed.tree_update)
        replica.application.forget_below(height)
    return block.header


def set_hash(network: NetworkDescription, validators: types_pb2.ValidatorSet) -> bytes:
    return get_profile(network.genesis.crypto_profile).hash(encode(validators))


def test_a_governed_removal_is_announced_then_takes_effect_two_heights_later(
    network: NetworkDescription, replicas: tuple[Replica, Replica]
) -> None:
    first, second = replicas
    genesis_hash = set_hash(network, network.genesis.validators)
    first.pending.append(removal(network, ["org2/admin"]))
    change = commit_next(network, first, second)
    announced = commit_next(network, first, second)
    effective = commit_next(network, first, second)

    remaining = [v for v in network.genesis.validators.validators if v.member_id != REMOVED]
    new_hash = set_hash(network, types_pb2.ValidatorSet(validators=remaining))
    assert (change.validator_set_hash, change.next_validator_set_hash) == (genesis_hash,) * 2
    assert (announced.validator_set_hash, announced.next_validator_set_hash) == (
        genesis_hash,
        new_hash,
    )
    assert (effective.validator_set_hash, effective.next_validator_set_hash) == (new_hash,) * 2
    from_height, validators = second.application.validator_set(effective.height)
    assert from_height == change.height + 2
    assert [v.member_id for v in validators.validators] == sorted(v.member_id for v in remaining)
    # The store keeps each height's set (GetValidatorSet), each the one its header names.
    for header in (change, announced, effective):
        indexed_from, indexed = second.store.get_validator_set(header.height) or (0, None)
        assert indexed is not None and set_hash(network, indexed) == header.validator_set_hash
        assert indexed_from == (1 if header is not effective else change.height + 2)


def test_a_removal_without_enough_endorsements_changes_no_header(
    network: NetworkDescription, replicas: tuple[Replica, Replica]
) -> None:
    first, second = replicas
    genesis_hash = set_hash(network, network.genesis.validators)
    # org1 alone is not a majority of three organisations.
    first.pending.append(removal(network, []))
    headers = [commit_next(network, first, second) for _ in range(3)]
    for header in headers:
        assert (header.validator_set_hash, header.next_validator_set_hash) == (genesis_hash,) * 2


def test_a_header_announcing_another_set_is_refused(
    network: NetworkDescription, replicas: tuple[Replica, Replica]
) -> None:
    first, second = replicas
    block = first.application.build_block(1, 0, int(time.time() * 1000), "org1/node1")
    block.header.next_validator_set_hash = b"\x07" * 32
    assert not second.application.validate_block(block)
    block = first.application.build_block(1, 1, int(time.time() * 1000), "org1/node1")
    block.header.validator_set_hash = b"\x07" * 32
    assert not second.application.validate_block(block)


def test_the_verifier_learns_the_keys_of_a_set_when_it_takes_effect(
    network: NetworkDescription, replicas: tuple[Replica, Replica]
) -> None:
    first, second = replicas
    signer = network.member(REMOVED).key
    document = b"a document"
    signature = signer.sign(document)
    verifier = ValidatorVerifier(
        lambda: [
            second.application.validator_set(height)
            for height in range(
                max(1, second.store.latest_height()), second.store.latest_height() + 3
            )
        ]
    )
    assert verifier.verify(REMOVED, document, signature)
    first.pending.append(removal(network, ["org2/admin"]))
    for _ in range(4):
        commit_next(network, first, second)
    # Four heights on, the removed validator is in none of the sets near the latest height.
    assert not verifier.verify(REMOVED, document, signature)
    assert verifier.verify("org1/node1", document, network.member("org1/node1").key.sign(document))
