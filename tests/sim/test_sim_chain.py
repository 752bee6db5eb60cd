"""The simulator's chain (causeway.sim.chain): the mempool, block times, certificates (a solo
chain's as a solo node makes them), and the keys that runs reuse."""

from __future__ import annotations

import pytest

from causeway.consensus.solo import SoloCore
from causeway.crypto import PrivateKey
from causeway.light import certificate_quorum, verify_certificate
from causeway.sim.chain import InterchainChain
from causeway.types.v1 import types_pb2


def test_chains_of_a_run_reuse_keys_only_when_asked() -> None:
    first = InterchainChain("reuse-check", reuse_keys=True)
    second = InterchainChain("reuse-check", reuse_keys=True)
    fresh = InterchainChain("reuse-check")
    assert first.genesis_hash == second.genesis_hash
    assert fresh.genesis_hash != first.genesis_hash


def test_a_chain_includes_what_its_mempool_holds_in_its_next_block() -> None:
    chain = InterchainChain("mempool-check", reuse_keys=True)
    chain.commit([], time_ms=chain.time_ms + 1_000)
    transaction = chain.transaction("org1/alice", "clients", "list", b"")
    chain.submit(transaction)
    assert chain.mempool == [transaction]
    # Dated no later than the last block: moved 1 ms past it.
    committed = chain.produce_block(chain.time_ms - 5_000)
    assert committed.header.time_ms == chain.blocks[1].header.time_ms + 1
    assert committed.header.transaction_count == 1
    assert committed.results[0].transaction_id == transaction.id
    assert chain.mempool == []


def test_a_chain_signs_a_certificate_once_and_hands_out_copies() -> None:
    chain = InterchainChain("certificate-check", reuse_keys=True)
    chain.commit([], time_ms=chain.time_ms + 1_000)
    first = chain.certificate(1)
    first.signatures[0].signature = b"forged"
    again = chain.certificate(1)
    assert again.signatures[0].signature != b"forged"
    assert again == chain.certificate(1)


class _Hasher:
    def __init__(self, block_hash: bytes) -> None:
        self.hash = block_hash

    def block_hash(self, block: types_pb2.Block) -> bytes:
        return self.hash


class _Signer:
    def __init__(self, validator_id: str, key: PrivateKey) -> None:
        self.validator_id = validator_id
        self.key = key

    def sign(self, document: bytes) -> bytes:
        return self.key.sign(document)


def test_a_solo_chain_certifies_a_block_as_a_solo_node_does() -> None:
    """One validator (power 1, the proposer of every block); its certificate is the one the solo
    core makes of the same block: round 0, that validator's signature alone (signatures carry a
    random nonce, so both are verified rather than compared)."""
    chain = InterchainChain("solo-check", consensus="solo", validators=1, organisations=2)
    validators = chain.genesis.validators.validators
    assert [(v.member_id, v.voting_power) for v in validators] == [("org1/node1", 1)]
    transaction = chain.transaction("org1/alice", "clients", "list", b"")
    committed = chain.commit([transaction])
    assert committed.header.proposer == "org1/node1"
    simulated = chain.certificate(1)
    core = SoloCore(
        "solo-check",
        _Signer("org1/node1", chain.identities["org1/node1"].key),
        _Hasher(committed.block_hash),
        last_committed_height=0,
        block_interval_ms=300,
    )
    assert core.propose(0).build
    block = types_pb2.Block(header=committed.header, transactions=[transaction.transaction])
    (commit,) = core.block_built(block, 0).commits
    real = commit.certificate
    for certificate in (simulated, real):
        certificate_fields = (certificate.height, certificate.round, certificate.block_hash)
        assert certificate_fields == (1, 0, committed.block_hash)
        assert [entry.validator for entry in certificate.signatures] == ["org1/node1"]
        power = verify_certificate(
            certificate,
            chain_id="solo-check",
            height=1,
            block_hash=committed.block_hash,
            validators=committed.validator_set,
            profile=chain.profile,
            quorum=certificate_quorum("solo"),
        )
        assert power == 1


def test_a_solo_chain_has_exactly_one_validator_and_the_consensus_is_a_known_one() -> None:
    with pytest.raises(ValueError, match="solo consensus has exactly one validator, not 4"):
        InterchainChain("solo-check", consensus="solo")
    with pytest.raises(ValueError, match="consensus 'pbft' is not one of tbft, raft, solo"):
        InterchainChain("solo-check", consensus="pbft")
