"""Running a contract method: the host functions of ABI v1, gas, the compiled-module cache.

**Gas, one counter.** A call gets `gas_available`; the fixed price of a call (instantiation and
teardown) is taken first, and the rest becomes the store's fuel at `fuel_per_gas` fuel a gas.
WebAssembly operators burn fuel as they run; every host function takes its own price from the
same fuel before it returns: a price per host call, a price per byte crossing the boundary, and
whatever the chain charged for the work itself (state access, hashing, signatures, a nested
call's gas), read from `Host.gas_used()` before and after. So a contract that loops on a host
function runs out at the same instruction on every validator, and the gas of a call is
`ceil(fuel burnt / fuel_per_gas)` plus the fixed price. `CallOutcome.gas_used` is the part the
chain did not already count itself (`gas_used()` deltas are left out, so nothing is charged
twice). Out of gas and stack exhaustion charge everything the call was given: where a deep
recursion overflows is not guaranteed alike on every machine (docs/adr/0003), so its cost must
not depend on where.

**Failures.** A revert, a trap and running out of gas are results (`CallOutcome.status`); the
caller undoes the call's writes. A `RequestError` the host raises (a key too long, a read-only
call writing) ends the call and is re-raised after the store is gone, with the call's own gas
on it (`error.gas_used`). Anything else the host raises is re-raised unchanged.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import wasmtime

from causeway.errors import InvariantError, ModuleRefusedError, RequestError
from causeway.vm import abi
from causeway.vm.abi import ContextField
from causeway.vm.config import DEFAULT_LIMITS, VmLimits, check_wasmtime_version, fingerprint
from causeway.vm.engine import INSTANCES_MAX, Engine, Frame, MemoryAccessError, RawValues
from causeway.vm.validation import ModuleSummary, validate_module

# Queries (read-only calls from outside a transaction) running at once; more wait. With
# VmLimits.call_depth_max of nesting each, they hold at most half of engine.INSTANCES_MAX.
QUERY_CALLS_MAX = 16
# Compiled modules kept in memory, least recently used dropped first.
MODULES_CACHED_MAX = 256
# The watchdog's tick: the epoch advances this often while a watchdog runs.
WATCHDOG_TICK_MS = 10
# The epoch deadline when no watchdog runs (the epoch never advances then).
_NO_DEADLINE_TICKS = 1 << 62
_LENGTH = struct.Struct("<I")
# Host functions that never reach the chain's metered work (state, hashing, signatures, calls).
_UNMETERED = frozenset(
    {"input_length", "input_read", "context_read", "return_data", "revert", "result_read"}
)

CallStatus = Literal["ok", "reverted", "trapped", "out_of_gas"]


class Host(Protocol):
    """What the chain gives a running contract (execution's transaction context implements it).

    Keys are relative to the contract's namespace. A method raises RequestError to refuse (the
    call ends with it); `gas_used` is the gas the chain has charged the transaction so far."""

    def context_field(self, field: ContextField) -> bytes: ...

    def state_get(self, key: bytes) -> bytes | None: ...

    def state_put(self, key: bytes, value: bytes) -> None: ...

    def state_delete(self, key: bytes) -> None: ...

    def state_range(
        self, prefix: bytes, start_after: bytes, limit: int
    ) -> Sequence[tuple[bytes, bytes]]: ...

    def emit(self, name: str, data: bytes) -> None: ...

    def call(self, contract: str, method: str, input_data: bytes, gas: int) -> tuple[int, bytes]:
        """Runs contract.method in a savepoint with at most `gas` gas; (status, return value or
        failure message). Its gas is charged by the host (it shows in gas_used)."""
        ...

    def hash(self, data: bytes) -> bytes: ...

    def verify_signature(
        self, algorithm: str, public_key: bytes, message: bytes, signature: bytes
    ) -> bool: ...

    def gas_used(self) -> int: ...


@dataclass(frozen=True, slots=True)
class GasPrices:
    """The vm's prices, in gas (the values live in execution/costs.py, the one cost table)."""

    # Instantiating a fresh instance, its store and its teardown.
    call_base: int
    # Entering and leaving the host once.
    host_call: int
    # One byte copied between the contract's memory and the chain.
    boundary_byte: int


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """How a call ended. `message` says why it failed; `gas_used` is the vm's own gas (see the
    module's docstring), `fuel_used` the fuel burnt by operators and host prices together."""

    status: CallStatus
    return_data: bytes
    message: str
    gas_used: int
    fuel_used: int


class _RevertError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _OutOfGasError(Exception):
    pass


class CallState:
    """What the host functions of one call share (Frame.host_state)."""

    __slots__ = (
        "boundary_bytes",
        "host",
        "input",
        "last_result",
        "metered_gas",
        "read_only",
        "return_data",
    )

    def __init__(self, host: Host, input_data: bytes, *, read_only: bool) -> None:
        self.host = host
        self.input = input_data
        self.read_only = read_only
        self.return_data = b""
        self.last_result: bytes | None = None
        # Gas the host charged itself during the call (state, hashing, signatures, calls).
        self.metered_gas = 0
        self.boundary_bytes = 0


HostBody = Callable[[CallState, Frame, RawValues], None]


class Runtime:
    """Validates, compiles, caches and calls contracts. One per process (it owns the engine).

    `cache_directory`, when given, keeps compiled code across restarts, keyed by code hash and
    the configuration's fingerprint, each file checked by its own SHA-256 before it is loaded
    (wasmtime must never deserialise bytes it did not write). `watchdog_ms`, when given, stops a
    call that runs longer in wall-clock time, as a node-local failure (ContractInterruptedError).
    """

    def __init__(
        self,
        prices: GasPrices,
        limits: VmLimits = DEFAULT_LIMITS,
        *,
        cache_directory: Path | None = None,
        watchdog_ms: int | None = None,
    ) -> None:
        check_wasmtime_version()
        self.limits = limits
        self.prices = prices
        self.fingerprint = fingerprint(limits)
        ticks = _NO_DEADLINE_TICKS if watchdog_ms is None else -(-watchdog_ms // WATCHDOG_TICK_MS)
        bodies: dict[str, HostBody] = {
            "input_length": _input_length,
            "input_read": _input_read,
            "context_read": _context_read,
            "return_data": _return_data,
            "revert": _revert,
            "state_get": _state_get,
            "state_put": _state_put,
            "state_delete": _state_delete,
            "state_range": _state_range,
            "emit": _emit,
            "call": self._call_body,
            "result_read": _result_read,
            "hash": _hash,
            "verify_signature": _verify_signature,
        }
        self.engine = Engine(
            limits,
            {
                name: self._metered(body, charges_host=name not in _UNMETERED)
                for name, body in bodies.items()
            },
            watchdog_ticks=ticks,
        )
        self._cache: OrderedDict[bytes, wasmtime.InstancePre] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._cache_directory = cache_directory
        if QUERY_CALLS_MAX * limits.call_depth_max > INSTANCES_MAX // 2:
            raise InvariantError("queries could take more than half of the instance pool")
        self._query_slots = threading.BoundedSemaphore(QUERY_CALLS_MAX)
        self._watchdog: threading.Thread | None = None
        self._watchdog_stop = threading.Event()
        if watchdog_ms is not None:
            self._watchdog = threading.Thread(
                target=self._tick, name="causeway-vm-watchdog", daemon=True
            )
            self._watchdog.start()

    def close(self) -> None:
        """Stops the watchdog thread, if any."""
        self._watchdog_stop.set()
        if self._watchdog is not None:
            self._watchdog.join()

    def _tick(self) -> None:
        while not self._watchdog_stop.wait(WATCHDOG_TICK_MS / 1000):
            self.engine.increment_epoch()

    # -- deployment and the cache --------------------------------------------------------------

    def check(self, code: bytes) -> ModuleSummary:
        """What a module offers, when it passes every deployment check (ModuleRefusedError
        names the first that fails). Nothing is cached: the code is not deployed yet."""
        _module, summary = validate_module(self.engine.engine, code, self.limits)
        return summary

    def _prepared(self, code_hash: bytes, load_code: Callable[[], bytes]) -> wasmtime.InstancePre:
        with self._cache_lock:
            prepared = self._cache.get(code_hash)
            if prepared is not None:
                self._cache.move_to_end(code_hash)
                return prepared
        module = self._load_compiled(code_hash)
        if module is None:
            try:
                module, _summary = validate_module(self.engine.engine, load_code(), self.limits)
            except ModuleRefusedError as error:
                # Deployment refused such code, so state holds none.
                raise InvariantError(f"deployed code fails its checks: {error.message}") from None
            self._save_compiled(code_hash, module)
        prepared = self.engine.prepare(module)
        with self._cache_lock:
            self._cache[code_hash] = prepared
            while len(self._cache) > MODULES_CACHED_MAX:
                self._cache.popitem(last=False)
        return prepared

    def _cache_path(self, code_hash: bytes) -> Path | None:
        if self._cache_directory is None:
            return None
        return self._cache_directory / f"{code_hash.hex()}-{self.fingerprint[:32]}.cwasm"

    def _load_compiled(self, code_hash: bytes) -> wasmtime.Module | None:
        path = self._cache_path(code_hash)
        if path is None:
            return None
        try:
            stored = path.read_bytes()
        except FileNotFoundError:
            return None
        digest, compiled = stored[:32], stored[32:]
        if hashlib.sha256(compiled).digest() != digest:
            # Damaged on disk: compile again rather than hand wasmtime bytes it did not write.
            path.unlink(missing_ok=True)
            return None
        return wasmtime.Module.deserialize(self.engine.engine, compiled)

    def _save_compiled(self, code_hash: bytes, module: wasmtime.Module) -> None:
        path = self._cache_path(code_hash)
        if path is None:
            return
        compiled = bytes(module.serialize())
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.partial")
        partial.write_bytes(hashlib.sha256(compiled).digest() + compiled)
        partial.replace(path)

    # -- calls ---------------------------------------------------------------------------------

    def call(
        self,
        code_hash: bytes,
        load_code: Callable[[], bytes],
        export: str,
        *,
        input_data: bytes,
        host: Host,
        gas_available: int,
        read_only: bool = False,
    ) -> CallOutcome:
        """Calls `export` of the code with this hash (`load_code` gives its bytes on a cache
        miss) in a fresh instance. RequestError when calls nest deeper than call_depth_max or
        the host refused something (see the module's docstring)."""
        depth = self.engine.depth
        if depth >= self.limits.call_depth_max:
            raise RequestError(
                f"contract calls nest deeper than the limit of {self.limits.call_depth_max}"
            )
        if read_only and depth == 0:
            # Queries come from many API threads at once; each may nest call_depth_max deep.
            # Bounding them keeps instances in the pool for block execution, whose calls must
            # never find it empty.
            with self._query_slots:
                return self._call(
                    code_hash, load_code, export, input_data, host, gas_available, read_only
                )
        return self._call(code_hash, load_code, export, input_data, host, gas_available, read_only)

    def _call(  # noqa: PLR0917 (call's arguments, passed on as they came)
        self,
        code_hash: bytes,
        load_code: Callable[[], bytes],
        export: str,
        input_data: bytes,
        host: Host,
        gas_available: int,
        read_only: bool,
    ) -> CallOutcome:
        prepared = self._prepared(code_hash, load_code)
        call_base = self.prices.call_base
        if gas_available < call_base:
            return CallOutcome(
                "out_of_gas",
                b"",
                f"a call needs {call_base} gas to start, {gas_available} are left",
                max(gas_available, 0),
                0,
            )
        fuel_per_gas = self.limits.fuel_per_gas
        budget = gas_available - call_base
        fuel = budget * fuel_per_gas
        state = CallState(host, input_data, read_only=read_only)
        frame = Frame(state)
        raw = self.engine.call(prepared, export, frame, fuel)
        fuel_used = fuel - raw.fuel_left
        own_gas = call_base + math.ceil(fuel_used / fuel_per_gas) - state.metered_gas
        everything = call_base + budget - state.metered_gas
        error = frame.error
        if error is not None:
            if isinstance(error, _RevertError):
                return CallOutcome("reverted", b"", error.message, own_gas, fuel_used)
            if isinstance(error, _OutOfGasError):
                return CallOutcome("out_of_gas", b"", _out_of_gas(gas_available), everything, fuel)
            if isinstance(error, MemoryAccessError):
                return CallOutcome("trapped", b"", str(error), own_gas, fuel_used)
            if isinstance(error, RequestError):
                error.gas_used = own_gas  # type: ignore[attr-defined]
            raise error
        if raw.trap is None:
            return CallOutcome("ok", state.return_data, "", own_gas, fuel_used)
        if raw.out_of_fuel:
            return CallOutcome("out_of_gas", b"", _out_of_gas(gas_available), everything, fuel)
        if raw.stack_overflow:
            return CallOutcome("trapped", b"", "stack overflow", everything, fuel)
        return CallOutcome("trapped", b"", raw.trap, own_gas, fuel_used)

    def _metered(self, body: HostBody, *, charges_host: bool) -> Callable[[Frame, RawValues], None]:
        """`body` with the host call's price taken from the fuel (the module's docstring): the
        price per call is checked before the body runs, so a call the contract cannot pay for
        never reaches the chain; the bytes that crossed and what the chain charged for the work
        are added after it. No operator runs during a host function, so the fuel read before
        the body is still the fuel after it. `charges_host`: whether the body reaches the
        chain's metered work (the others skip reading Host.gas_used)."""
        prices = self.prices
        fuel_per_gas = self.limits.fuel_per_gas
        call_fuel = prices.host_call * fuel_per_gas
        byte_fuel = prices.boundary_byte * fuel_per_gas

        def host_function(frame: Frame, values: RawValues) -> None:
            state: CallState = frame.host_state  # type: ignore[assignment]
            fuel = frame.fuel()
            if call_fuel > fuel:
                frame.set_fuel(0)
                raise _OutOfGasError
            state.boundary_bytes = 0
            if charges_host:
                host = state.host
                before = host.gas_used()
                try:
                    body(state, frame, values)
                except BaseException:
                    frame.set_fuel(fuel - call_fuel)
                    raise
                metered = host.gas_used() - before
                state.metered_gas += metered
                needed = call_fuel + byte_fuel * state.boundary_bytes + metered * fuel_per_gas
            else:
                try:
                    body(state, frame, values)
                except BaseException:
                    frame.set_fuel(fuel - call_fuel)
                    raise
                needed = call_fuel + byte_fuel * state.boundary_bytes
            if needed > fuel:
                frame.set_fuel(0)
                raise _OutOfGasError
            frame.set_fuel(fuel - needed)

        return host_function

    def _call_body(self, state: CallState, frame: Frame, values: RawValues) -> None:
        contract = _text(state, frame, values[0].i32, values[1].i32, abi.CONTRACT_NAME_BYTES_MAX)
        method = _text(state, frame, values[2].i32, values[3].i32, abi.METHOD_NAME_BYTES_MAX)
        input_data = _read(state, frame, values[4].i32, values[5].i32, abi.CALL_INPUT_BYTES_MAX)
        requested = values[6].i64
        if requested < 0:
            raise RequestError(f"a contract passed {requested} gas to a call")
        # What is left once this host call's own price is paid.
        prices = self.prices
        price = prices.host_call + prices.boundary_byte * state.boundary_bytes
        left = frame.fuel() // self.limits.fuel_per_gas - price
        if left <= 0:
            raise _OutOfGasError
        gas = left if requested == 0 else min(requested, left)
        status, result = state.host.call(contract, method, input_data, gas)
        state.last_result = result
        values[0].i32 = status


def _out_of_gas(gas_available: int) -> str:
    return f"the contract ran out of gas (it had {gas_available})"


# -- the host functions' bodies (pointers and lengths are the contract's i32 values) -----------


def _read(state: CallState, frame: Frame, pointer: int, length: int, bound: int) -> bytes:
    length &= 0xFFFFFFFF
    if length > bound:
        raise RequestError(f"a contract passed {length} bytes where at most {bound} are allowed")
    state.boundary_bytes += length
    return frame.read(pointer, length)


def _text(state: CallState, frame: Frame, pointer: int, length: int, bound: int) -> str:
    data = _read(state, frame, pointer, length, bound)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError("a contract passed a name that is not UTF-8") from None


def _give(
    state: CallState,
    frame: Frame,
    values: RawValues,
    value: bytes | None,
    buffer: tuple[int, int],
) -> None:
    """The getter protocol: `value` is written at the buffer (pointer, capacity) when it fits;
    the getter returns its length, or -1 when there is none."""
    pointer, capacity = buffer
    # The whole buffer is a range the contract passed: outside memory, it traps, whether or not
    # anything is written into it.
    frame.check(pointer, capacity)
    if value is None:
        values[0].i32 = -1
        return
    if len(value) <= (capacity & 0xFFFFFFFF):
        state.boundary_bytes += len(value)
        frame.write(pointer, value)
    values[0].i32 = len(value)


def _input_length(state: CallState, frame: Frame, values: RawValues) -> None:
    values[0].i32 = len(state.input)


def _input_read(state: CallState, frame: Frame, values: RawValues) -> None:
    state.boundary_bytes += len(state.input)
    frame.write(values[0].i32, state.input)


def _context_read(state: CallState, frame: Frame, values: RawValues) -> None:
    field = values[0].i32
    value = state.host.context_field(ContextField(field)) if field in _FIELDS else None
    _give(state, frame, values, value, (values[1].i32, values[2].i32))


_FIELDS = frozenset(int(field) for field in ContextField)


def _return_data(state: CallState, frame: Frame, values: RawValues) -> None:
    state.return_data = _read(state, frame, values[0].i32, values[1].i32, abi.RETURN_DATA_BYTES_MAX)


def _revert(state: CallState, frame: Frame, values: RawValues) -> None:
    # The whole range must lie in memory, as every range must, though only the bound is read.
    frame.check(values[0].i32, values[1].i32)
    length = min(values[1].i32 & 0xFFFFFFFF, abi.REVERT_MESSAGE_BYTES_MAX)
    message = frame.read(values[0].i32, length).decode("utf-8", "replace")
    raise _RevertError(message or "reverted")


def _writable(state: CallState, what: str) -> None:
    if state.read_only:
        raise RequestError(f"read-only call: a query cannot {what}")


def _key(state: CallState, frame: Frame, pointer: int, length: int) -> bytes:
    """A state key: 1 to STATE_KEY_BYTES_MAX bytes (docs/contract-abi.md), both ends checked."""
    key = _read(state, frame, pointer, length, abi.STATE_KEY_BYTES_MAX)
    if not key:
        raise RequestError(
            f"a contract passed an empty key: a state key is 1 to {abi.STATE_KEY_BYTES_MAX} bytes"
        )
    return key


def _state_get(state: CallState, frame: Frame, values: RawValues) -> None:
    key = _key(state, frame, values[0].i32, values[1].i32)
    _give(state, frame, values, state.host.state_get(key), (values[2].i32, values[3].i32))


def _state_put(state: CallState, frame: Frame, values: RawValues) -> None:
    _writable(state, "write state")
    key = _key(state, frame, values[0].i32, values[1].i32)
    value = _read(state, frame, values[2].i32, values[3].i32, abi.STATE_VALUE_BYTES_MAX)
    state.host.state_put(key, value)


def _state_delete(state: CallState, frame: Frame, values: RawValues) -> None:
    _writable(state, "delete state")
    key = _key(state, frame, values[0].i32, values[1].i32)
    state.host.state_delete(key)


def _state_range(state: CallState, frame: Frame, values: RawValues) -> None:
    prefix = _read(state, frame, values[0].i32, values[1].i32, abi.STATE_KEY_BYTES_MAX)
    start_after = _read(state, frame, values[2].i32, values[3].i32, abi.STATE_KEY_BYTES_MAX)
    limit = values[4].i32
    if not 1 <= limit <= abi.RANGE_LIMIT_MAX:
        raise RequestError(
            f"a contract asked for a page of {limit} entries: 1 to "
            f"{abi.RANGE_LIMIT_MAX} are allowed"
        )
    pack = _LENGTH.pack
    page = b"".join(
        pack(len(key)) + key + pack(len(value)) + value
        for key, value in state.host.state_range(prefix, start_after, limit)
    )
    _give(state, frame, values, page, (values[5].i32, values[6].i32))


def _emit(state: CallState, frame: Frame, values: RawValues) -> None:
    _writable(state, "emit events")
    name = _text(state, frame, values[0].i32, values[1].i32, abi.EVENT_NAME_BYTES_MAX)
    if not abi.EVENT_NAME.fullmatch(name):
        raise RequestError(
            f"a contract emitted an event named {name!r}: names are 1 to 64 "
            "letters, digits, '_', '.' or '-'"
        )
    data = _read(state, frame, values[2].i32, values[3].i32, abi.EVENT_DATA_BYTES_MAX)
    state.host.emit(name, data)


def _result_read(state: CallState, frame: Frame, values: RawValues) -> None:
    _give(state, frame, values, state.last_result, (values[0].i32, values[1].i32))


def _hash(state: CallState, frame: Frame, values: RawValues) -> None:
    data = _read(state, frame, values[0].i32, values[1].i32, abi.HASH_INPUT_BYTES_MAX)
    digest = state.host.hash(data)
    state.boundary_bytes += len(digest)
    frame.write(values[2].i32, digest)


def _verify_signature(state: CallState, frame: Frame, values: RawValues) -> None:
    algorithm = _text(state, frame, values[0].i32, values[1].i32, abi.ALGORITHM_NAME_BYTES_MAX)
    bound = abi.SIGNATURE_INPUT_BYTES_MAX
    public_key = _read(state, frame, values[2].i32, values[3].i32, bound)
    message = _read(state, frame, values[4].i32, values[5].i32, bound)
    signature = _read(state, frame, values[6].i32, values[7].i32, bound)
    valid = state.host.verify_signature(algorithm, public_key, message, signature)
    values[0].i32 = 1 if valid else 0
