"""The atomic lock hook of the executor's context: a write to a key another atomic leg holds a lock
on fails with CONFLICT naming the lock, whichever contract writes it (kv, the ledger, a bank move,
a contract writing its own namespace), and changes nothing; the holding leg's own write passes; a
chain without locks pays one read of the lock count per block, not per transaction.

Locks are put in the state directly here (atomic/lock/<absolute key> = AtomicLockRecord, and the
count): the atomic contract that takes them is tested in tests/interchain."""

from __future__ import annotations

import pytest
from execution_chain import Chain, ChainKit, DictReader, status_name
from probe_contract import PROBE, PROBE_NAMESPACE, bare_context

from causeway.contracts.v1 import contracts_pb2
from causeway.errors import RequestError
from causeway.execution import (
    CONTRACTS,
    Contract,
    Executor,
    Method,
    TransactionContext,
    genesis_state,
)
from causeway.execution.context import describe_lock
from causeway.execution.keys import (
    ATOMIC_LOCK_COUNT_KEY,
    atomic_lock_key,
    balance_key,
    kv_key,
)
from causeway.interchain import CHAIN_CONTRACTS
from causeway.interchain.keys import BANK_NAMESPACE
from causeway.interchain.keys import balance_key as bank_balance_key
from causeway.interchain.v1 import atomic_pb2, interchain_pb2
from causeway.types import encode
from causeway.types.v1 import types_pb2

TRANSACTION = bytes(range(32))
LOCK = encode(
    atomic_pb2.AtomicLockRecord(hub_chain_id="hub", transaction_id=TRANSACTION, leg_index=3)
)
OTHER_LOCK = encode(
    atomic_pb2.AtomicLockRecord(hub_chain_id="hub", transaction_id=TRANSACTION, leg_index=4)
)


def _probe_write(context: TransactionContext, arguments: bytes) -> bytes:
    context.put(b"slot", arguments)
    return b""


PROBE_CONTRACT = Contract(
    name=PROBE, methods={"run": Method(_probe_write)}, namespace=PROBE_NAMESPACE
)


class CountingReader(DictReader):
    """Counts the reads of each key."""

    def __init__(self, state: dict[bytes, bytes]) -> None:
        super().__init__(state)
        self.reads: dict[bytes, int] = {}

    def get(self, key: bytes) -> bytes | None:
        self.reads[key] = self.reads.get(key, 0) + 1
        return super().get(key)


def locked_chain(kit: ChainKit, *locked: bytes) -> Chain:
    chain = Chain(
        kit=kit,
        executor=Executor(kit.genesis, kit.profile, {**CHAIN_CONTRACTS, PROBE: PROBE_CONTRACT}),
        state=genesis_state(kit.genesis),
    )
    for key in locked:
        chain.state[atomic_lock_key(key)] = LOCK
    if locked:
        chain.state[ATOMIC_LOCK_COUNT_KEY] = len(locked).to_bytes(8, "big")
    return chain


def issue(chain: Chain) -> None:
    result = chain.run(
        "org1/admin",
        "bank",
        "issue",
        interchain_pb2.BankIssueArguments(denom="gold", account="org1/alice", amount=100),
    )
    assert status_name(result) == "RESULT_STATUS_OK", result.error


def refused(
    chain: Chain, result: types_pb2.TransactionResult, key: bytes, before: dict[bytes, bytes]
) -> None:
    assert status_name(result) == "RESULT_STATUS_CONFLICT", result.error
    assert f"key {key.decode()} is locked by atomic transaction {TRANSACTION.hex()} leg 3" in (
        result.error
    )
    assert chain.state == before


def test_describe_lock_names_the_transaction_and_leg() -> None:
    assert describe_lock(LOCK) == f"atomic transaction {TRANSACTION.hex()} leg 3 of hub hub"
    assert "leg 0" in describe_lock(b"\xff")  # garbage is named by what could be read


def test_a_kv_put_to_a_locked_key_is_refused(kit: ChainKit) -> None:
    chain = locked_chain(kit, kv_key(b"registrations/42"))
    before = dict(chain.state)
    result = chain.run(
        "org2/bob",
        "kv",
        "put",
        contracts_kv_put(b"registrations/42", b"mine"),
    )
    refused(chain, result, kv_key(b"registrations/42"), before)
    other = chain.run("org2/bob", "kv", "put", contracts_kv_put(b"registrations/43", b"free"))
    assert status_name(other) == "RESULT_STATUS_OK", other.error


def test_a_ledger_transfer_to_a_locked_balance_is_refused(kit: ChainKit) -> None:
    chain = locked_chain(kit, balance_key("org2/bob"))
    chain.state[balance_key("org1/alice")] = (50).to_bytes(8, "big")
    chain.state[b"ledger/supply"] = (50).to_bytes(8, "big")
    before = dict(chain.state)
    result = chain.run(
        "org1/alice",
        "ledger",
        "transfer",
        contracts_ledger_transfer("org2/bob", 5),
    )
    refused(chain, result, balance_key("org2/bob"), before)


def test_a_bank_move_to_a_locked_balance_is_refused(kit: ChainKit) -> None:
    chain = locked_chain(kit, BANK_NAMESPACE + bank_balance_key("org2/bob", "gold"))
    issue(chain)
    before = dict(chain.state)
    result = chain.run(
        "org1/alice",
        "bank",
        "send",
        interchain_pb2.BankSendArguments(to="org2/bob", denom="gold", amount=5),
    )
    refused(chain, result, BANK_NAMESPACE + bank_balance_key("org2/bob", "gold"), before)


def test_a_contract_writing_its_own_locked_key_is_refused(kit: ChainKit) -> None:
    chain = locked_chain(kit, PROBE_NAMESPACE + b"slot")
    before = dict(chain.state)
    result = chain.run("org1/alice", PROBE, "run", b"value")
    refused(chain, result, PROBE_NAMESPACE + b"slot", before)


def test_the_holding_leg_writes_and_another_leg_does_not() -> None:
    state = {
        atomic_lock_key(PROBE_NAMESPACE + b"slot"): LOCK,
        ATOMIC_LOCK_COUNT_KEY: b"\x00" * 7 + b"\x01",
    }
    context = bare_context(state)
    context.locks.possible = True
    context.locks.holder = LOCK
    context.put(b"slot", b"confirmed")
    context.delete(b"slot")
    assert context.writes[PROBE_NAMESPACE + b"slot"] is None
    # A callee entered from the holder's context shares the holder (the kv write of a leg).
    callee = context.enter("kv", b"kv/", ())
    assert callee.locks is context.locks
    context.locks.holder = OTHER_LOCK
    with pytest.raises(RequestError, match="leg 3"):
        context.put(b"slot", b"other")


def test_a_lock_taken_earlier_in_the_transaction_counts() -> None:
    context = bare_context({})
    assert not context.locks.possible
    context.put(b"slot", b"before the lock")  # no lock: no read of a lock entry
    reads = context.meter.read_count
    assert reads == 0
    lock_taker = context.enter("atomic", b"atomic/", ())
    lock_taker.put(b"lock/" + PROBE_NAMESPACE + b"slot", LOCK)
    lock_taker.locks.possible = True  # what the atomic contract does when it locks
    with pytest.raises(RequestError, match="is locked by atomic transaction"):
        context.put(b"slot", b"after the lock")
    assert context.writes[PROBE_NAMESPACE + b"slot"] == b"before the lock"


def test_a_chain_without_locks_reads_the_lock_count_once_per_block(kit: ChainKit) -> None:
    state = genesis_state(kit.genesis)
    reader = CountingReader(state)
    executor = Executor(kit.genesis, kit.profile, CHAIN_CONTRACTS)
    chain = Chain(kit=kit, executor=executor, state=state)
    transactions = [
        chain.transaction("org1/alice", "kv", "put", contracts_kv_put(f"k{n}".encode(), b"v"))
        for n in range(20)
    ]
    execution = executor.execute_block(reader, transactions, 1, 1_800_000_060_000)
    assert all(status_name(result) == "RESULT_STATUS_OK" for result in execution.results)
    assert reader.reads.get(ATOMIC_LOCK_COUNT_KEY) == 1
    assert not any(key.startswith(atomic_lock_key(b"")) for key in reader.reads)


def test_locks_are_read_again_after_a_transaction_writes_the_count(kit: ChainKit) -> None:
    """A transaction that writes the lock count makes the next ones check their writes."""
    state = genesis_state(kit.genesis)

    def take_lock(context: TransactionContext, arguments: bytes) -> bytes:
        atomic = context.enter("atomic", b"atomic/", ())
        atomic.put(b"lock/" + kv_key(b"late"), LOCK)
        atomic.put(b"lock_count", (1).to_bytes(8, "big"))
        return b""

    taker = Contract(name=PROBE, methods={"run": Method(take_lock)}, namespace=PROBE_NAMESPACE)
    executor = Executor(kit.genesis, kit.profile, {**CONTRACTS, PROBE: taker})
    chain = Chain(kit=kit, executor=executor, state=state)
    transactions = [
        chain.transaction("org1/alice", PROBE, "run"),
        chain.transaction("org2/bob", "kv", "put", contracts_kv_put(b"late", b"v")),
    ]
    execution = executor.execute_block(DictReader(state), transactions, 1, 1_800_000_060_000)
    assert status_name(execution.results[0]) == "RESULT_STATUS_OK", execution.results[0].error
    assert status_name(execution.results[1]) == "RESULT_STATUS_CONFLICT"
    assert "leg 3" in execution.results[1].error


def contracts_kv_put(key: bytes, value: bytes) -> contracts_pb2.KvPutArguments:
    return contracts_pb2.KvPutArguments(key=key, value=value)


def contracts_ledger_transfer(to: str, amount: int) -> contracts_pb2.LedgerTransferArguments:
    return contracts_pb2.LedgerTransferArguments(to=to, amount=amount)


def test_the_lock_read_is_metered_only_while_locks_are_possible() -> None:
    context = bare_context({})
    context.put(b"slot", b"v")
    assert context.meter.read_count == 0
    context.locks.possible = True
    context.put(b"slot", b"w")
    assert context.meter.read_count == 1  # the lock entry, charged as any read
    context.put(b"slot", b"x")
    assert context.meter.read_count == 2
