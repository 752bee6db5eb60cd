"""The simulator's chain (causeway.sim.chain): the mempool, block times, certificates, and the
keys that runs reuse."""

from __future__ import annotations

from causeway.sim.chain import InterchainChain


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
