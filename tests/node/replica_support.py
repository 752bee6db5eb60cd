"""Replicas of a chain in one process for the node tests: a store, a state tree and an
ExecutionApplication each, with a pending list standing in for the mempool."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from causeway.crypto import BatchVerifier, VerifiedTransactionCache, get_profile
from causeway.execution import ExecutionApplication, Executor, genesis_state
from causeway.provisioning.description import NetworkDescription
from causeway.state import StateTree
from causeway.storage import Store
from causeway.types import DecodedTransaction, encode, genesis_hash


@dataclass
class Replica:
    store: Store
    application: ExecutionApplication
    pending: list[DecodedTransaction]


def make_replica(
    network: NetworkDescription,
    path: Path,
    verifier: BatchVerifier,
    clock_ms: Callable[[], int] | None = None,
    committing_transactions: Callable[[Sequence[bytes]], None] | None = None,
) -> Replica:
    genesis = network.genesis
    profile = get_profile(genesis.crypto_profile)
    store = Store(path, map_size_bytes=64 << 20)
    tree = StateTree(profile.hash, store)
    state = genesis_state(genesis)
    update = tree.apply(0, state)
    store.save_genesis(encode(genesis), state, update)
    tree.committed(update)
    pending: list[DecodedTransaction] = []
    application = ExecutionApplication(
        chain_id=genesis.chain_id,
        profile=profile,
        genesis_hash=genesis_hash(genesis, profile.hash),
        store=store,
        tree=tree,
        executor=Executor(genesis, profile),
        verifier=verifier,
        verified=VerifiedTransactionCache(),
        take_transactions=lambda count, size, now: pending[:count],
        block_limits=lambda: (1000, 1 << 20),
        clock_ms=clock_ms,
        committing_transactions=committing_transactions,
    )
    return Replica(store, application, pending)
