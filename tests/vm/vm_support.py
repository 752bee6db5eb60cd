"""A Host over a dict, for the runtime's own tests (the chain's host is execution's, tested in
tests/execution), and WAT helpers."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import wasmtime

from causeway.errors import RequestError
from causeway.vm import CallOutcome, ContextField, GasPrices, Runtime, VmLimits

PRICES = GasPrices(call_base=1_500, host_call=300, boundary_byte=1)
# What the dict host charges, so that tests see host gas flow into the one counter.
READ_GAS = 100
WRITE_GAS = 500

IMPORTS = """
  (import "causeway" "input_length" (func $input_length (result i32)))
  (import "causeway" "input_read" (func $input_read (param i32)))
  (import "causeway" "context_read" (func $context_read (param i32 i32 i32) (result i32)))
  (import "causeway" "return_data" (func $return_data (param i32 i32)))
  (import "causeway" "revert" (func $revert (param i32 i32)))
  (import "causeway" "state_get" (func $state_get (param i32 i32 i32 i32) (result i32)))
  (import "causeway" "state_put" (func $state_put (param i32 i32 i32 i32)))
  (import "causeway" "state_delete" (func $state_delete (param i32 i32)))
  (import "causeway" "state_range"
    (func $state_range (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "causeway" "emit" (func $emit (param i32 i32 i32 i32)))
  (import "causeway" "call" (func $call (param i32 i32 i32 i32 i32 i32 i64) (result i32)))
  (import "causeway" "result_read" (func $result_read (param i32 i32) (result i32)))
  (import "causeway" "hash" (func $hash (param i32 i32 i32)))
  (import "causeway" "verify_signature"
    (func $verify_signature (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
"""


def module(
    body: str, *, imports: str = IMPORTS, memory: str = '(memory (export "memory") 1)'
) -> bytes:
    """A module with the ABI's imports, one memory, the version marker and `body`."""
    text = f'(module {imports} {memory} (func (export "causeway_abi_v1")) {body})'
    return bytes(wasmtime.wat2wasm(text))


class DictHost:
    """State in a dict; charges READ_GAS and WRITE_GAS so the host's own gas is visible."""

    def __init__(self, runtime: Runtime | None = None) -> None:
        self.state: dict[bytes, bytes] = {}
        self.events: list[tuple[str, bytes]] = []
        self.charged = 0
        self.fields: dict[ContextField, bytes] = {
            ContextField.CALLER: b"alice",
            ContextField.CONTRACT: b"probe",
            ContextField.HEIGHT: (7).to_bytes(8, "little"),
            ContextField.TIME: (1_700_000_000_000).to_bytes(8, "little"),
            ContextField.TRANSACTION: b"\x01" * 32,
            ContextField.CHAIN: b"test-chain",
            ContextField.ORGANISATION: b"org1",
        }
        self.calls: list[tuple[str, str, bytes, int]] = []
        self.call_answer: tuple[int, bytes] = (1, b"answer")

    def context_field(self, field: ContextField) -> bytes:
        return self.fields[field]

    def state_get(self, key: bytes) -> bytes | None:
        self.charged += READ_GAS
        return self.state.get(key)

    def state_put(self, key: bytes, value: bytes) -> None:
        self.charged += WRITE_GAS
        self.state[key] = value

    def state_delete(self, key: bytes) -> None:
        self.charged += WRITE_GAS
        self.state.pop(key, None)

    def state_range(
        self, prefix: bytes, start_after: bytes, limit: int
    ) -> Sequence[tuple[bytes, bytes]]:
        self.charged += READ_GAS
        keys = sorted(key for key in self.state if key.startswith(prefix) and key > start_after)
        return [(key, self.state[key]) for key in keys[:limit]]

    def emit(self, name: str, data: bytes) -> None:
        self.events.append((name, data))

    def call(self, contract: str, method: str, input_data: bytes, gas: int) -> tuple[int, bytes]:
        self.calls.append((contract, method, input_data, gas))
        return self.call_answer

    def hash(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    def verify_signature(
        self, algorithm: str, public_key: bytes, message: bytes, signature: bytes
    ) -> bool:
        if algorithm != "test":
            raise RequestError(f"unknown signature algorithm {algorithm!r}")
        return signature == hashlib.sha256(public_key + message).digest()

    def gas_used(self) -> int:
        return self.charged


def run(
    runtime: Runtime,
    code: bytes,
    export: str,
    host: DictHost,
    *,
    input_data: bytes = b"",
    gas: int = 1_000_000,
    read_only: bool = False,
):  # type: ignore[no-untyped-def]
    return runtime.call(
        hashlib.sha256(code).digest(),
        lambda: code,
        export,
        input_data=input_data,
        host=host,
        gas_available=gas,
        read_only=read_only,
    )


def new_runtime(limits: VmLimits | None = None) -> Runtime:
    return Runtime(PRICES) if limits is None else Runtime(PRICES, limits)


# -- added for the spec-driven suites (test_vm_config, _validation, _metering, _limits, _abi,
# _cache, _determinism) -----------------------------------------------------------------------


def code_hash(code: bytes) -> bytes:
    """The cache key the chain would use for `code` (its SHA-256)."""
    return hashlib.sha256(code).digest()


def invoke(
    runtime: Runtime,
    code: bytes,
    export: str,
    host: DictHost,
    *,
    input_data: bytes = b"",
    gas: int = 1_000_000,
    read_only: bool = False,
) -> CallOutcome:
    """`run` with its result typed (CallOutcome), so that mypy checks the tests using it."""
    outcome: CallOutcome = runtime.call(
        code_hash(code),
        lambda: code,
        export,
        input_data=input_data,
        host=host,
        gas_available=gas,
        read_only=read_only,
    )
    return outcome


def bare_module(body: str) -> bytes:
    """A module of exactly `body` (no imports, memory or marker added): for deployment checks
    that need a module the ABI helpers would not write."""
    return bytes(wasmtime.wat2wasm(f"(module {body})"))


def return_bytes(pointer: int, length: int) -> str:
    """WAT returning `length` bytes of memory at `pointer` as the call's result."""
    return f"(call $return_data (i32.const {pointer}) (i32.const {length}))"
