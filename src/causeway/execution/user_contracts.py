"""User contracts: WebAssembly modules deployed by the `code` contract, run through causeway.vm.

The executor resolves a contract name it has no native contract for here: the record in state
(`sys/code/contract/<name>`) gives the code hash, the status and the methods. A call runs in a
fresh instance with the gas the transaction has left; its state is its own namespace
`wasm/<name>/`, reached through the transaction context like any contract's, so namespaces,
savepoints, events and gas work as they do for native contracts.

**Calls between contracts.** A user contract may call any user contract's method (the callee sees
`contract:<caller>` as its caller) and the read-only methods of native contracts. It may not call
a native contract's changing methods: those act for the transaction's sender and its
endorsements (a ledger transfer of the sender's funds, say), which a contract the sender merely
called must not be able to spend.

One `Runtime` (one wasmtime engine) serves the process: `shared_runtime()`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import ALGORITHMS, load_public_key
from causeway.errors import CryptoError, InvariantError, RequestError
from causeway.execution.context import TransactionContext, failure, status_of
from causeway.execution.contracts.base import Contract, Method
from causeway.execution.costs import (
    GAS_WASM_BOUNDARY_BYTE,
    GAS_WASM_CALL_BASE,
    GAS_WASM_HOST_CALL,
)
from causeway.execution.keys import code_bytes_key, code_record_key, user_contract_namespace
from causeway.execution.overlay import MISSING
from causeway.types import decode
from causeway.types.v1 import types_pb2
from causeway.vm import ContextField, GasPrices, Runtime

Resolver = Callable[[str], Contract | None]

PRICES = GasPrices(
    call_base=GAS_WASM_CALL_BASE,
    host_call=GAS_WASM_HOST_CALL,
    boundary_byte=GAS_WASM_BOUNDARY_BYTE,
)
_STATUS_BY_OUTCOME = {
    "reverted": types_pb2.RESULT_STATUS_CONTRACT_REVERTED,
    "trapped": types_pb2.RESULT_STATUS_CONTRACT_TRAPPED,
    "out_of_gas": types_pb2.RESULT_STATUS_OUT_OF_GAS,
}
_OK = types_pb2.RESULT_STATUS_OK

# Where a node keeps compiled code, in its home folder (outside the data folder, whose contents
# the store's integrity checks own).
VM_CACHE_DIRECTORY = "vm-cache"

_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def shared_runtime() -> Runtime:
    """The process's one Runtime (one engine, one compiled-module cache), made on first use
    with compiled code kept in memory only (a node keeps it on disk: configure_shared_runtime)."""
    return configure_shared_runtime(cache_directory=None)


def configure_shared_runtime(*, cache_directory: Path | None) -> Runtime:
    """Makes the process's Runtime, keeping compiled code in `cache_directory` across restarts;
    a node calls it once at start, before any contract runs. When the runtime exists already,
    returns it as it is."""
    global _runtime  # noqa: PLW0603 (one engine per process, by design)
    with _runtime_lock:
        if _runtime is None:
            _runtime = Runtime(PRICES, cache_directory=cache_directory)
        return _runtime


def read_unmetered(context: TransactionContext, key: bytes) -> bytes | None:
    """An absolute key as the transaction sees it (its own writes first), not charged: the
    executor's own look-ups of records and code, whose price is part of the call's base."""
    value = context.writes.get(key, MISSING)
    if value is MISSING:
        return context.block.get(key)
    return value  # type: ignore[return-value]


def load_record(context: TransactionContext, name: str) -> contracts_pb2.ContractRecord | None:
    stored = read_unmetered(context, code_record_key(name))
    if stored is None:
        return None
    return decode(contracts_pb2.ContractRecord, stored, bytes_max=len(stored))


def user_contract(record: contracts_pb2.ContractRecord, *, read_only: bool) -> Contract:
    """The contract a record describes, its methods running through the shared runtime.
    Refuses (CONTRACT_FROZEN, CONTRACT_REVOKED) unless the record is active."""
    if record.status == contracts_pb2.CONTRACT_STATUS_FROZEN:
        raise failure(
            types_pb2.RESULT_STATUS_CONTRACT_FROZEN,
            f"contract {record.name} is frozen: no method runs until governance unfreezes it",
        )
    if record.status == contracts_pb2.CONTRACT_STATUS_REVOKED:
        raise failure(
            types_pb2.RESULT_STATUS_CONTRACT_REVOKED, f"contract {record.name} is revoked"
        )
    if record.status != contracts_pb2.CONTRACT_STATUS_ACTIVE:
        raise InvariantError(f"contract {record.name} has status {record.status} in state")
    code_hash = bytes(record.code_hash)

    def method(export: str) -> Method:
        def handler(context: TransactionContext, arguments: bytes) -> bytes:
            return run_export(context, code_hash, export, arguments, read_only=read_only)

        # Every method may run as a query: the runtime refuses a query's writes as they come.
        return Method(handler, read_only=True)

    return Contract(
        name=record.name,
        methods={name: method(name) for name in record.methods},
        namespace=user_contract_namespace(record.name),
    )


def run_export(
    context: TransactionContext,
    code_hash: bytes,
    export: str,
    arguments: bytes,
    *,
    read_only: bool,
) -> bytes:
    """Calls `export` of the code in a fresh instance with the gas the transaction has left (or
    the caller passed down); its gas is charged to the transaction; a failure is raised with its
    result status after charging."""
    limit = context.config.transaction_gas_max
    if context.gas_limit is not None:
        limit = min(limit, context.gas_limit)
    available = limit - context.gas_used()
    runtime = shared_runtime()
    try:
        outcome = runtime.call(
            code_hash,
            lambda: _code(context, code_hash),
            export,
            input_data=arguments,
            host=ContextHost(context, read_only=read_only),
            gas_available=available,
            read_only=read_only,
        )
    except RequestError as error:
        context.charge_gas(getattr(error, "gas_used", 0))
        raise
    context.charge_gas(outcome.gas_used)
    if outcome.status == "ok":
        return outcome.return_data
    raise failure(
        _STATUS_BY_OUTCOME[outcome.status], f"{context.contract}.{export}: {outcome.message}"
    )


def _code(context: TransactionContext, code_hash: bytes) -> bytes:
    code = read_unmetered(context, code_bytes_key(code_hash))
    if code is None:
        raise InvariantError(f"the code {code_hash.hex()} of a deployed contract is not in state")
    return code


class ContextHost:
    """causeway.vm.Host over a transaction context: what a running user contract reaches."""

    __slots__ = ("_context", "_read_only")

    def __init__(self, context: TransactionContext, *, read_only: bool) -> None:
        self._context = context
        self._read_only = read_only

    def context_field(self, field: ContextField) -> bytes:
        context = self._context
        if field == ContextField.CALLER:
            if context.caller is None:
                return context.sender.id.encode()
            return f"contract:{context.caller}".encode()
        if field == ContextField.CONTRACT:
            return context.contract.encode()
        if field == ContextField.HEIGHT:
            return context.height.to_bytes(8, "little")
        if field == ContextField.TIME:
            return context.time_ms.to_bytes(8, "little", signed=True)
        if field == ContextField.TRANSACTION:
            return context.transaction_id
        if field == ContextField.CHAIN:
            return context.chain_id.encode()
        return context.sender.organisation.encode()

    def state_get(self, key: bytes) -> bytes | None:
        return self._context.get(key)

    def state_put(self, key: bytes, value: bytes) -> None:
        self._context.put(key, value)

    def state_delete(self, key: bytes) -> None:
        self._context.delete(key)

    def state_range(
        self, prefix: bytes, start_after: bytes, limit: int
    ) -> list[tuple[bytes, bytes]]:
        return self._context.range(prefix, start_after, limit)

    def emit(self, name: str, data: bytes) -> None:
        self._context.emit(name, (), data)

    def call(self, contract: str, method: str, input_data: bytes, gas: int) -> tuple[int, bytes]:
        context = self._context
        savepoint = context.savepoint()
        before = context.gas_used()
        try:
            result = self._call(contract, method, input_data, before + gas)
            if context.gas_used() - before > gas:
                raise failure(
                    types_pb2.RESULT_STATUS_OUT_OF_GAS,
                    f"{contract}.{method} used more than the {gas} gas it was given",
                )
        except RequestError as error:
            context.rollback_to(savepoint)
            return status_of(error), error.message.encode()
        context.release(savepoint)
        return _OK, result

    def _call(self, name: str, method_name: str, input_data: bytes, gas_limit: int) -> bytes:
        context = self._context
        resolve = context.resolve_contract
        if resolve is None:
            raise InvariantError("a user contract runs without the executor's resolver")
        target = resolve(name)
        if target is None:
            raise failure(
                types_pb2.RESULT_STATUS_UNKNOWN_CONTRACT, f"there is no contract {name!r}"
            )
        method = target.methods.get(method_name)
        if method is None:
            raise failure(
                types_pb2.RESULT_STATUS_UNKNOWN_METHOD,
                f"contract {name} has no method {method_name!r}",
            )
        is_user = target.namespace == user_contract_namespace(name)
        if not is_user and not method.read_only:
            raise failure(
                types_pb2.RESULT_STATUS_PERMISSION_DENIED,
                f"a user contract may call only read-only methods of native contracts, and "
                f"{name}.{method_name} changes state",
            )
        callee = context.enter(target.name, target.namespace, target.grants)
        callee.gas_limit = gas_limit
        return method.handler(callee, input_data)

    def hash(self, data: bytes) -> bytes:
        return self._context.hash(data)

    def verify_signature(
        self, algorithm: str, public_key: bytes, message: bytes, signature: bytes
    ) -> bool:
        if algorithm not in ALGORITHMS:
            raise failure(
                types_pb2.RESULT_STATUS_INVALID_ARGUMENT,
                f"unknown signature algorithm {algorithm!r}: one of "
                f"{', '.join(sorted(ALGORITHMS))}",
            )
        context = self._context
        context.charge_signature_verification(algorithm, len(message))
        try:
            key = load_public_key(algorithm, public_key)
        except CryptoError:
            return False
        return bool(signature) and key.verify(message, signature)

    def gas_used(self) -> int:
        return self._context.gas_used()
