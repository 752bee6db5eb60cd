"""The replicated node's Application: blocks built by one node are accepted by another only when
their roots match a re-execution."""

from __future__ import annotations

import time

import pytest
from replica_support import Replica

from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import get_profile
from causeway.provisioning import build_network
from causeway.provisioning.description import NetworkDescription
from causeway.sdk import Identity, build_transaction
from causeway.types import DecodedTransaction, decode_transaction
from causeway.types.v1 import types_pb2


@pytest.fixture(scope="module")
def network() -> NetworkDescription:
    return build_network(2, "intl", "solo", now_ms=int(time.time() * 1000))


def signed_puts(
    network: NetworkDescription, count: int, sender: str = "org1/client"
) -> list[DecodedTransaction]:
    member = network.member(sender)
    identity = Identity(member.member_id, member.key)
    profile = get_profile(network.genesis.crypto_profile)
    return [
        decode_transaction(
            build_transaction(
                identity,
                network.genesis.chain_id,
                "kv",
                "put",
                contracts_pb2.KvPutArguments(key=b"k%d" % index, value=b"v"),
            ),
            hash_function=profile.hash,
            bytes_max=1 << 16,
        )
        for index in range(count)
    ]


def test_a_built_block_is_accepted_by_another_replica(
    network: NetworkDescription, replicas: tuple[Replica, Replica]
) -> None:
    first, second = replicas
    first.pending.extend(signed_puts(network, 5))
    block = first.application.build_block(1, 0, int(time.time() * 1000), "org1/node1")
    assert block.header.transaction_count == 5
    assert second.application.validate_block(block)
    executed = second.application.executed(block)
    assert executed is not None
    assert executed.block_hash == first.application.block_hash(block)
    assert all(r.status == types_pb2.RESULT_STATUS_OK for r in executed.results)


@pytest.mark.parametrize(
    "tamper",
    ["state_root", "results_root", "transactions_root", "height", "previous_hash", "chain_id"],
)
def test_a_block_with_wrong_header_fields_is_refused(
    network: NetworkDescription, replicas: tuple[Replica, Replica], tamper: str
) -> None:
    first, second = replicas
    first.pending.extend(signed_puts(network, 2))
    block = first.application.build_block(1, 0, int(time.time() * 1000), "org1/node1")
    header = block.header
    if tamper == "height":
        header.height = 2
    elif tamper == "chain_id":
        header.chain_id = "another-chain"
    else:
        setattr(header, tamper, b"\x01" * 32)
    assert not second.application.validate_block(block)


def test_a_block_with_a_forged_transaction_signature_is_refused(
    network: NetworkDescription, replicas: tuple[Replica, Replica]
) -> None:
    first, second = replicas
    first.pending.extend(signed_puts(network, 3))
    block = first.application.build_block(1, 0, int(time.time() * 1000), "org1/node1")
    signature = bytearray(block.transactions[1].signature)
    signature[-1] ^= 1
    block.transactions[1].signature = bytes(signature)
    assert not second.application.validate_block(block)


def test_a_block_repeating_a_transaction_is_refused(
    network: NetworkDescription, replicas: tuple[Replica, Replica]
) -> None:
    first, second = replicas
    transactions = signed_puts(network, 1)
    first.pending.extend(transactions + transactions)
    block = first.application.build_block(1, 0, int(time.time() * 1000), "org1/node1")
    assert not second.application.validate_block(block)


@pytest.mark.parametrize(
    "tamper", ["none", "state_root", "previous_hash", "validator_set_hash", "signature", "repeat"]
)
def test_a_committed_block_gets_every_check_of_a_proposed_one(
    network: NetworkDescription, replicas: tuple[Replica, Replica], tamper: str
) -> None:
    first, second = replicas
    transactions = signed_puts(network, 2)
    first.pending.extend(transactions + transactions[:1] if tamper == "repeat" else transactions)
    block = first.application.build_block(1, 0, int(time.time() * 1000), "org1/node1")
    header = block.header
    if tamper == "signature":
        signature = bytearray(block.transactions[1].signature)
        signature[-1] ^= 1
        block.transactions[1].signature = bytes(signature)
    elif tamper in {"state_root", "previous_hash", "validator_set_hash"}:
        setattr(header, tamper, b"\x01" * 32)
    ahead = types_pb2.Block()
    ahead.CopyFrom(block)
    ahead.header.height = 3
    # Raft checks each committed block (in the driver's execution lane, on its parent's state)
    # with every check of validate_block but the clock; a block ahead of the store is refused.
    assert not second.application.validate_committed_block(ahead)
    assert second.application.validate_committed_block(block) is (tamper == "none")
    if tamper == "none":
        executed = second.application.executed(block)  # the check's execution, kept
        assert executed is not None
        assert executed.block_hash == first.application.block_hash(block)


def test_a_block_from_several_senders_is_checked_with_each_senders_key(
    network: NetworkDescription, replicas: tuple[Replica, Replica]
) -> None:
    first, second = replicas
    others = signed_puts(network, 2, "org2/client")
    first.pending.extend(signed_puts(network, 2) + others)
    block = first.application.build_block(1, 0, int(time.time() * 1000), "org1/node1")
    forged = types_pb2.Block()
    forged.CopyFrom(block)
    signature = bytearray(forged.transactions[3].signature)
    signature[-1] ^= 1
    forged.transactions[3].signature = bytes(signature)
    assert not second.application.validate_committed_block(forged)
    assert second.application.executed(forged) is None
    assert second.application.executed(block) is not None
