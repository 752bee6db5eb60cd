"""The fast path into wasmtime: the one file that uses its private `_bindings` module.

wasmtime's public Python API costs about 560 µs for a token transfer (building every export,
reading memory through `Caller`); the path here costs about 100 µs (docs/adr/0003): modules are
pre-instantiated (`InstancePre`), instances come from the pooling allocator, host functions are
defined unchecked and read the memory through its base pointer, and one export is looked up by
name. `_bindings` is private, so the wasmtime version is pinned exactly (vm.config) and every use
of it is here, behind `Engine`.

A host function finds the call it belongs to on a thread-local stack of frames (calls between
contracts nest on one thread; queries may run on other threads at the same time).
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from ctypes import byref, c_uint8, c_uint64, c_void_p, cast
from dataclasses import dataclass
from typing import Any

import wasmtime
from wasmtime import _bindings as bindings
from wasmtime import _ffi as ffi

from causeway.errors import ContractInterruptedError, InvariantError
from causeway.vm.abi import HOST_FUNCTIONS, HOST_MODULE, MEMORY_EXPORT
from causeway.vm.config import WASM_PAGE_BYTES, VmLimits, engine_config

# How many instances may be alive at once in this process (each call's, nested calls', and
# queries' on other threads): the pooling allocator reserves their memory up front. Running out
# is a node-local failure, never a transaction's result.
INSTANCES_MAX = 128
# The raw argument and result slots of one call: methods take and return nothing.
_CALL_SLOTS = 1
_NO_FINALIZER = cast(0, ctypes.CFUNCTYPE(None, c_void_p))
_TRAP_CODE_OUT_OF_FUEL = wasmtime.TrapCode.OUT_OF_FUEL.value
_TRAP_CODE_INTERRUPT = wasmtime.TrapCode.INTERRUPT.value
_TRAP_CODE_STACK_OVERFLOW = wasmtime.TrapCode.STACK_OVERFLOW.value

RawValues = Any  # ctypes array of wasmtime_val_raw_t: values[i].i32 / .i64


def _prototype(name: str, result: Any) -> Any:
    """A second handle on a C function of wasmtime's, with the same parameters as `_bindings`
    gives it but a plain result type: an address or error pointer comes back as an int (or
    None), not as a ctypes pointer object that must be built and then cast (about 6 µs a call
    in the hot path of every host function)."""
    declared = getattr(bindings, f"_{name}")
    function = ffi.dll[name]  # indexing makes a new function object; attributes share one
    function.argtypes = declared.argtypes
    function.restype = result
    return function


_memory_data = _prototype("wasmtime_memory_data", c_void_p)
_memory_data_size = _prototype("wasmtime_memory_data_size", ctypes.c_size_t)
_get_fuel = _prototype("wasmtime_context_get_fuel", c_void_p)
_set_fuel = _prototype("wasmtime_context_set_fuel", c_void_p)
HostFunction = Callable[["Frame", RawValues], None]


class Frame:
    """One call in progress: its store context and memory, and what its host functions need.
    `host_state` is the runtime's own object for the call (vm.runtime.CallState)."""

    __slots__ = (
        "_fuel",
        "_fuel_reference",
        "_memory_base",
        "_memory_size",
        "context",
        "error",
        "host_state",
        "memory",
        "memory_reference",
    )

    def __init__(self, host_state: object) -> None:
        self.host_state = host_state
        self.context: Any = None
        self.memory = bindings.wasmtime_memory_t()
        self.memory_reference = byref(self.memory)
        # The exception a host function raised (it ends the call with a trap).
        self.error: BaseException | None = None
        self._fuel = c_uint64()
        self._fuel_reference = byref(self._fuel)
        self._memory_base = 0
        self._memory_size = -1

    # -- memory ----------------------------------------------------------------------------
    # memory.grow may move the memory and changes its size, but only WebAssembly code grows it,
    # and none runs while a host function does (a nested call runs another instance): so the
    # base and size are read once per host function (`host_call_started` forgets them).

    def host_call_started(self) -> None:
        self._memory_size = -1

    def _bounds(self) -> tuple[int, int]:
        size = self._memory_size
        if size < 0:
            context = self.context
            reference = self.memory_reference
            size = self._memory_size = _memory_data_size(context, reference)
            self._memory_base = _memory_data(context, reference) or 0
        return self._memory_base, size

    def check(self, pointer: int, length: int) -> None:
        """MemoryAccessError when any byte of the range is outside memory (nothing is read)."""
        pointer &= 0xFFFFFFFF
        length &= 0xFFFFFFFF
        if pointer + length > self._bounds()[1]:
            raise MemoryAccessError(pointer, length)

    def read(self, pointer: int, length: int) -> bytes:
        """`length` bytes at `pointer`; MemoryAccessError when any of them is outside memory."""
        pointer &= 0xFFFFFFFF
        length &= 0xFFFFFFFF
        base, size = self._bounds()
        if pointer + length > size:
            raise MemoryAccessError(pointer, length)
        if not length:
            return b""
        return ctypes.string_at(base + pointer, length)

    def write(self, pointer: int, data: bytes) -> None:
        pointer &= 0xFFFFFFFF
        length = len(data)
        base, size = self._bounds()
        if pointer + length > size:
            raise MemoryAccessError(pointer, length)
        if length:
            ctypes.memmove(base + pointer, data, length)

    # -- fuel ------------------------------------------------------------------------------

    def fuel(self) -> int:
        _get_fuel(self.context, self._fuel_reference)
        return self._fuel.value

    def set_fuel(self, fuel: int) -> None:
        _set_fuel(self.context, fuel)


class MemoryAccessError(Exception):
    """A host function was given a range outside the caller's memory (the call traps)."""

    def __init__(self, pointer: int, length: int) -> None:
        super().__init__(f"memory out of bounds: {length} bytes at {pointer}")


@dataclass(frozen=True, slots=True)
class RawOutcome:
    """How one export call ended: `trap` is None when it returned; `fuel_left` after it."""

    trap: str | None
    out_of_fuel: bool
    stack_overflow: bool
    fuel_left: int


class _Frames(threading.local):
    def __init__(self) -> None:
        self.stack: list[Frame] = []


class Engine:
    """One wasmtime engine for the process, with the chain's settings, the pooling allocator and
    the host functions of ABI v1 defined once on its linker."""

    def __init__(
        self,
        limits: VmLimits,
        host_functions: dict[str, HostFunction],
        *,
        watchdog_ticks: int,
    ) -> None:
        if set(host_functions) != set(HOST_FUNCTIONS):
            raise InvariantError("the engine needs exactly the host functions of ABI v1")
        config = engine_config(limits)
        pool = bindings._wasmtime_pooling_allocation_config_new()
        memory_bytes_max = limits.memory_pages_max * WASM_PAGE_BYTES
        for setting, value in (
            ("total_core_instances", INSTANCES_MAX),
            ("total_memories", INSTANCES_MAX),
            ("total_tables", INSTANCES_MAX),
            ("max_memories_per_module", 1),
            ("max_tables_per_module", 1),
            ("table_elements", limits.table_elements_max),
            ("max_memory_size", memory_bytes_max),
        ):
            getattr(bindings, f"_wasmtime_pooling_allocation_config_{setting}_set")(pool, value)
        bindings._wasmtime_pooling_allocation_strategy_set(config.ptr(), pool)
        bindings._wasmtime_pooling_allocation_config_delete(pool)
        self.engine = wasmtime.Engine(config)
        self.limits = limits
        self._memory_bytes_max = memory_bytes_max
        self._watchdog_ticks = watchdog_ticks
        self._frames = _Frames()
        self.linker = wasmtime.Linker(self.engine)
        # The trampolines and their types must outlive the linker: ctypes does not keep them.
        self._keep: list[object] = []
        for name, function in host_functions.items():
            self._define(name, function)
        self._engine_pointer = self.engine.ptr()

    def _define(self, name: str, function: HostFunction) -> None:
        parameters, results = HOST_FUNCTIONS[name]
        kinds = {"i32": wasmtime.ValType.i32(), "i64": wasmtime.ValType.i64()}
        function_type = wasmtime.FuncType(
            [kinds[kind] for kind in parameters], [kinds[kind] for kind in results]
        )
        frames = self._frames
        trap_message = f"host function {name} failed".encode()

        @bindings.wasmtime_func_unchecked_callback_t  # type: ignore[untyped-decorator]
        def trampoline(_environment: Any, _caller: Any, values: Any, _count: int) -> int:
            frame = frames.stack[-1]
            frame.host_call_started()
            try:
                function(frame, values)
            except BaseException as error:
                frame.error = error
                trap = bindings._wasmtime_trap_new(trap_message, len(trap_message))
                return cast(trap, c_void_p).value or 0
            return 0

        self._keep.append((trampoline, function_type))
        module = HOST_MODULE.encode()
        encoded_name = name.encode()
        error = bindings._wasmtime_linker_define_func_unchecked(
            self.linker.ptr(),
            module,
            len(module),
            encoded_name,
            len(encoded_name),
            function_type.ptr(),
            trampoline,
            None,
            _NO_FINALIZER,
        )
        if error:
            raise InvariantError(f"wasmtime refused the host function {name}")

    def prepare(self, module: wasmtime.Module) -> wasmtime.InstancePre:
        """The module linked against the host functions, ready to instantiate per call."""
        return self.linker.instantiate_pre(module)

    def increment_epoch(self) -> None:
        self.engine.increment_epoch()

    def call(
        self, prepared: wasmtime.InstancePre, export: str, frame: Frame, fuel: int
    ) -> RawOutcome:
        """Instantiates `prepared` in a fresh store with `fuel` and calls `export` (a function
        () -> ()). Host functions see `frame`. Raises ContractInterruptedError when this node's
        watchdog or instance pool stopped it (not a result every validator would reach)."""
        store = bindings._wasmtime_store_new(self._engine_pointer, None, _NO_FINALIZER)
        stack = self._frames.stack
        stack.append(frame)
        try:
            context = bindings._wasmtime_store_context(store)
            frame.context = context
            bindings._wasmtime_store_limiter(store, self._memory_bytes_max, -1, 1, 1, 1)
            bindings._wasmtime_context_set_fuel(context, fuel)
            bindings._wasmtime_context_set_epoch_deadline(context, self._watchdog_ticks)
            instance = bindings.wasmtime_instance_t()
            trap = ctypes.POINTER(bindings.wasm_trap_t)()
            error = bindings._wasmtime_instance_pre_instantiate(
                prepared.ptr(), context, byref(instance), byref(trap)
            )
            if error:
                return self._failed(frame, error, "the contract could not be instantiated")
            if trap:
                # The start function trapped (out of fuel, or a trap of its own).
                return self._outcome(frame, trap)
            item = bindings.wasmtime_extern_t()
            name = MEMORY_EXPORT.encode()
            if not bindings._wasmtime_instance_export_get(
                context, byref(instance), name, len(name), byref(item)
            ):
                raise InvariantError("a deployed module has no memory export")
            frame.memory = item.of.memory
            frame.memory_reference = byref(frame.memory)
            name = export.encode()
            function = bindings.wasmtime_extern_t()
            if not bindings._wasmtime_instance_export_get(
                context, byref(instance), name, len(name), byref(function)
            ):
                raise InvariantError(f"a deployed module has no export {export!r}")
            slots = (bindings.wasmtime_val_raw_t * _CALL_SLOTS)()
            error = bindings._wasmtime_func_call_unchecked(
                context, byref(function.of.func), slots, _CALL_SLOTS, byref(trap)
            )
            if error:
                return self._failed(frame, error, f"wasmtime failed to call {export}")
            if trap:
                return self._outcome(frame, trap)
            return RawOutcome(None, False, False, frame.fuel())
        finally:
            stack.pop()
            frame.context = None
            bindings._wasmtime_store_delete(store)

    def _failed(self, frame: Frame, error: Any, what: str) -> RawOutcome:
        """A wasmtime error: a host function's failure (frame.error says which), or this node's
        own trouble (its instance pool exhausted), which no other validator shares."""
        message = _error_message(error)
        if frame.error is not None:
            return RawOutcome("host function failed", False, False, frame.fuel())
        raise ContractInterruptedError(f"{what}: {message}")

    def _outcome(self, frame: Frame, trap: Any) -> RawOutcome:
        code = c_uint8()
        has_code = bindings._wasmtime_trap_code(trap, byref(code))
        bindings._wasm_trap_delete(trap)
        # The trap's name, not wasmtime's message: a result's message is hashed into the block,
        # so it must not carry anything a wasmtime build may word differently (or a backtrace).
        message = (
            wasmtime.TrapCode(code.value).name.lower().replace("_", " ") if has_code else "trap"
        )
        fuel_left = frame.fuel()
        if has_code and code.value == _TRAP_CODE_INTERRUPT:
            raise ContractInterruptedError("the contract ran past this node's watchdog")
        return RawOutcome(
            trap=message,
            out_of_fuel=bool(has_code and code.value == _TRAP_CODE_OUT_OF_FUEL),
            stack_overflow=bool(has_code and code.value == _TRAP_CODE_STACK_OVERFLOW),
            fuel_left=fuel_left,
        )

    @property
    def depth(self) -> int:
        """How many calls are in progress on this thread."""
        return len(self._frames.stack)


def _error_message(error: Any) -> str:
    message = bindings.wasm_byte_vec_t()
    bindings._wasmtime_error_message(error, byref(message))
    text = ctypes.string_at(message.data, message.size).decode("utf-8", "replace")
    bindings._wasm_byte_vec_delete(byref(message))
    bindings._wasmtime_error_delete(error)
    return text.rstrip("\x00").strip()
