"""The WebAssembly engine's settings and the contract limits: both are part of consensus.

Every validator must compute the same result and the same gas for the same call, so everything
that can change either is fixed here: the wasmtime version (its fuel per operator and its compiled
code), the WebAssembly features, NaN canonicalisation, the stack, and the limits a module and a
call live within. `fingerprint()` hashes all of it; the compiled-module cache is keyed by it, so a
node never runs code compiled under other settings.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
from dataclasses import asdict, dataclass

import wasmtime

from causeway.errors import InvariantError

ABI_VERSION = 1
# The exact release the chain runs; upgrading it is a chain upgrade (docs/adr/0003).
WASMTIME_VERSION = "50.0.1"
RUNTIME_VERSION = f"wasmtime=={WASMTIME_VERSION}"
WASM_PAGE_BYTES = 65_536

# The features of the engine, by wasmtime.Config property. Off: everything non-deterministic or
# not needed by contracts. Reference types stay on: turning them off panics the whole process in
# 50.0.1 (the async component model requires them), and they are deterministic; validation at
# deployment refuses modules with more than one table anyway.
ENGINE_FEATURES: dict[str, bool] = {
    "consume_fuel": True,
    "epoch_interruption": True,
    "cranelift_nan_canonicalization": True,
    "wasm_bulk_memory": True,
    "wasm_multi_value": True,
    "wasm_reference_types": True,
    "wasm_threads": False,
    "wasm_simd": False,
    "wasm_relaxed_simd": False,
    "wasm_memory64": False,
    "wasm_multi_memory": False,
    "wasm_gc": False,
    "wasm_function_references": False,
    "wasm_exceptions": False,
    "wasm_tail_call": False,
    "wasm_component_model": False,
    "wasm_stack_switching": False,
    "wasm_wide_arithmetic": False,
    "wasm_custom_page_sizes": False,
    "shared_memory": False,
    # One thread compiles: the machine's cores belong to verification and consensus.
    "parallel_compilation": False,
}


@dataclass(frozen=True, slots=True)
class VmLimits:
    """What a module and a call may use. Every bound is named; each is checked at deployment or
    enforced by the engine during a call, the same way on every validator."""

    # Deployment: the module's bytes, its memory at the start, its table and exports.
    code_bytes_max: int = 512 * 1024
    memory_initial_pages_max: int = 16
    table_elements_max: int = 4_096
    exports_max: int = 256
    # A call: the memory it may grow to (memory.grow past it returns -1), the stack of the
    # WebAssembly code, and how deep calls between contracts may nest (the transaction's own
    # call is depth 1).
    memory_pages_max: int = 256
    stack_bytes_max: int = 512 * 1024
    call_depth_max: int = 4
    # Fuel per gas: wasmtime charges about one fuel per operator (bulk memory per byte). One
    # gas is about 30 ns on the reference machine (execution/costs.py) and one fuel about
    # 0.12 ns of compiled code, so 100 fuel a gas charges plain computation about twice its time,
    # leaving room for operators that cost more than the average.
    fuel_per_gas: int = 100

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value <= 0:
                raise InvariantError(f"vm limit {name} must be positive, not {value}")
        if self.memory_initial_pages_max > self.memory_pages_max:
            raise InvariantError("vm memory_initial_pages_max is above memory_pages_max")


DEFAULT_LIMITS = VmLimits()


def installed_wasmtime_version() -> str:
    return importlib.metadata.version("wasmtime")


def check_wasmtime_version() -> None:
    """Refuses to run under another wasmtime than the pinned one: its fuel and code differ."""
    installed = installed_wasmtime_version()
    if installed != WASMTIME_VERSION:
        raise InvariantError(
            f"wasmtime {installed} is installed, but contracts run on {RUNTIME_VERSION} only: "
            "reinstall with the project's constraints.txt"
        )


def engine_config(limits: VmLimits) -> wasmtime.Config:
    """A fresh wasmtime.Config with the chain's settings (a Config is consumed by its Engine)."""
    config = wasmtime.Config()
    for name, value in ENGINE_FEATURES.items():
        setattr(config, name, value)
    config.max_wasm_stack = limits.stack_bytes_max
    config.cranelift_opt_level = "speed"
    return config


def fingerprint(limits: VmLimits) -> str:
    """The hex SHA-256 of everything that decides how code compiles and runs: the wasmtime
    version, the ABI version, the engine features, the limits and the target (compiled code is
    specific to the machine's architecture)."""
    description = "\n".join(
        [
            RUNTIME_VERSION,
            f"abi={ABI_VERSION}",
            *(f"{name}={value}" for name, value in sorted(ENGINE_FEATURES.items())),
            *(f"{name}={value}" for name, value in sorted(asdict(limits).items())),
            "cranelift_opt_level=speed",
            f"target={_target()}",
        ]
    )
    return hashlib.sha256(description.encode()).hexdigest()


def _target() -> str:
    return f"{platform.system()}-{platform.machine()}"
