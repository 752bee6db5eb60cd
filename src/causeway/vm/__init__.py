"""The WebAssembly contract runtime: validation, metering and the host interface (ABI v1).

wasmtime (pinned exactly: its fuel and limits are consensus) runs each call in a fresh instance
with fuel metering; docs/contract-abi.md is the interface, docs/adr/0003 the design. `vm` knows
nothing of the executor: the chain reaches it through the `Host` protocol.
"""

from causeway.vm.abi import HOST_FUNCTIONS, HOST_MODULE, VERSION_EXPORT, ContextField
from causeway.vm.config import (
    ABI_VERSION,
    DEFAULT_LIMITS,
    RUNTIME_VERSION,
    VmLimits,
    fingerprint,
)
from causeway.vm.runtime import CallOutcome, CallStatus, GasPrices, Host, Runtime
from causeway.vm.validation import ModuleSummary

__all__ = [
    "ABI_VERSION",
    "DEFAULT_LIMITS",
    "HOST_FUNCTIONS",
    "HOST_MODULE",
    "RUNTIME_VERSION",
    "VERSION_EXPORT",
    "CallOutcome",
    "CallStatus",
    "ContextField",
    "GasPrices",
    "Host",
    "ModuleSummary",
    "Runtime",
    "VmLimits",
    "fingerprint",
]
