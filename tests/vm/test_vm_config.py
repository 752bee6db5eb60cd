"""The engine's settings as docs/adr/0003 fixes them: which WebAssembly features are off (refused
at deployment, with a reason) and on, NaN canonicalisation, the fingerprint, the limits' own
checks, and the pinned wasmtime version."""

from __future__ import annotations

import dataclasses
import struct

import pytest
from vm_support import DictHost, invoke, module, new_runtime, return_bytes

from causeway.errors import InvariantError, ModuleRefusedError
from causeway.vm import DEFAULT_LIMITS, Runtime, VmLimits, config, fingerprint

CANONICAL_NAN_32 = 0x7FC00000
CANONICAL_NAN_64 = 0x7FF8000000000000


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return new_runtime()


# -- features off: each refused at deployment, the reason naming the feature ------------------

FEATURES_OFF = {
    "simd": (module('(func (export "f") (drop (v128.const i32x4 1 2 3 4)))'), "SIMD"),
    "shared memory": (
        module("", memory='(memory (export "memory") 1 1 shared)'),
        "threads must be enabled for shared memories",
    ),
    "threads (atomics)": (
        module('(func (export "f") (drop (i32.atomic.load (i32.const 0))))'),
        "threads support is not enabled",
    ),
    "memory64": (
        module("", memory='(memory (export "memory") i64 1)'),
        "memory64 must be enabled",
    ),
    "multi-memory": (
        module("(memory 1)", memory='(memory (export "memory") 1)'),
        "multiple memories",
    ),
    "tail calls": (
        module('(func $callee) (func (export "f") (return_call $callee))'),
        "tail calls support is not enabled",
    ),
    "exceptions": (
        module('(tag $thrown) (func (export "f") (throw $thrown))'),
        "exceptions proposal not enabled",
    ),
}


@pytest.mark.parametrize("feature", sorted(FEATURES_OFF))
def test_a_feature_that_is_off_is_refused_at_deployment(runtime: Runtime, feature: str) -> None:
    code, reason = FEATURES_OFF[feature]
    with pytest.raises(ModuleRefusedError, match="not valid under the chain's engine") as caught:
        runtime.check(code)
    assert reason in caught.value.message


def test_the_features_that_are_on_run(runtime: Runtime) -> None:
    # Bulk memory (memory.fill), multi-value (a function of two results) and reference types
    # (ref.null, ref.is_null) are on.
    code = module(
        """
  (func $pair (result i32 i32) (i32.const 7) (i32.const 9))
  (func (export "features") (local $first i32) (local $second i32)
    (memory.fill (i32.const 0) (i32.const 65) (i32.const 4))
    (call $pair)
    (local.set $second)
    (local.set $first)
    (i32.store8 (i32.const 4) (local.get $first))
    (i32.store8 (i32.const 5) (local.get $second))
    (i32.store8 (i32.const 6) (ref.is_null (ref.null func)))
    """
        + return_bytes(0, 7)
        + ")"
    )
    runtime.check(code)
    outcome = invoke(runtime, code, "features", DictHost())
    assert (outcome.status, outcome.return_data) == ("ok", b"AAAA\x07\x09\x01")


# -- NaN canonicalisation -----------------------------------------------------------------------

NANS = module(
    """
  (func (export "zero_by_zero_32")
    (i32.store (i32.const 0) (i32.reinterpret_f32 (f32.div (f32.const 0) (f32.const 0))))
    """
    + return_bytes(0, 4)
    + """)
  (func (export "payload_32")
    (i32.store (i32.const 0)
      (i32.reinterpret_f32 (f32.add (f32.const nan:0x12345) (f32.const 1))))
    """
    + return_bytes(0, 4)
    + """)
  (func (export "negative_payload_32")
    (i32.store (i32.const 0)
      (i32.reinterpret_f32 (f32.mul (f32.const -nan:0x1) (f32.const 2))))
    """
    + return_bytes(0, 4)
    + """)
  (func (export "zero_by_zero_64")
    (i64.store (i32.const 0) (i64.reinterpret_f64 (f64.div (f64.const 0) (f64.const 0))))
    """
    + return_bytes(0, 8)
    + """)
  (func (export "payload_64")
    (i64.store (i32.const 0)
      (i64.reinterpret_f64 (f64.sub (f64.const nan:0x123456789) (f64.const 1))))
    """
    + return_bytes(0, 8)
    + ")"
)


@pytest.mark.parametrize("export", ["zero_by_zero_32", "payload_32", "negative_payload_32"])
def test_every_32_bit_nan_result_is_the_canonical_one(runtime: Runtime, export: str) -> None:
    # Without canonicalisation this engine gives 0xffc00000 for 0/0 on x86-64 and keeps the
    # payload (0x7fc12345) of the second: both were checked with the setting off.
    outcome = invoke(runtime, NANS, export, DictHost())
    assert outcome.status == "ok"
    assert struct.unpack("<I", outcome.return_data) == (CANONICAL_NAN_32,)


@pytest.mark.parametrize("export", ["zero_by_zero_64", "payload_64"])
def test_every_64_bit_nan_result_is_the_canonical_one(runtime: Runtime, export: str) -> None:
    outcome = invoke(runtime, NANS, export, DictHost())
    assert outcome.status == "ok"
    assert struct.unpack("<Q", outcome.return_data) == (CANONICAL_NAN_64,)


def test_the_engine_has_nan_canonicalisation_and_fuel_on() -> None:
    assert config.ENGINE_FEATURES["cranelift_nan_canonicalization"] is True
    assert config.ENGINE_FEATURES["consume_fuel"] is True
    assert config.ENGINE_FEATURES["epoch_interruption"] is True


# -- the fingerprint ----------------------------------------------------------------------------


def test_the_fingerprint_is_stable() -> None:
    assert fingerprint(DEFAULT_LIMITS) == fingerprint(VmLimits())
    assert len(fingerprint(DEFAULT_LIMITS)) == 64
    assert new_runtime().fingerprint == fingerprint(DEFAULT_LIMITS)


@pytest.mark.parametrize("limit", [field.name for field in dataclasses.fields(VmLimits)])
def test_the_fingerprint_changes_with_every_limit(limit: str) -> None:
    changed = dataclasses.replace(DEFAULT_LIMITS, **{limit: getattr(DEFAULT_LIMITS, limit) + 1})
    assert fingerprint(changed) != fingerprint(DEFAULT_LIMITS)


def test_the_fingerprint_changes_with_the_engine_features(monkeypatch: pytest.MonkeyPatch) -> None:
    before = fingerprint(DEFAULT_LIMITS)
    monkeypatch.setitem(config.ENGINE_FEATURES, "wasm_simd", True)
    assert fingerprint(DEFAULT_LIMITS) != before


def test_the_fingerprint_changes_with_the_wasmtime_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = fingerprint(DEFAULT_LIMITS)
    monkeypatch.setattr(config, "RUNTIME_VERSION", "wasmtime==50.0.2")
    assert fingerprint(DEFAULT_LIMITS) != before


# -- the limits' own checks ---------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1])
@pytest.mark.parametrize("limit", [field.name for field in dataclasses.fields(VmLimits)])
def test_a_limit_must_be_positive(limit: str, value: int) -> None:
    with pytest.raises(InvariantError, match=f"vm limit {limit} must be positive, not {value}"):
        VmLimits(**{limit: value})


def test_the_initial_memory_bound_cannot_be_above_the_memory_bound() -> None:
    assert VmLimits(memory_initial_pages_max=8, memory_pages_max=8).memory_pages_max == 8
    with pytest.raises(InvariantError, match="memory_initial_pages_max is above memory_pages_max"):
        VmLimits(memory_initial_pages_max=9, memory_pages_max=8)


# -- the pinned version -------------------------------------------------------------------------


def test_the_installed_wasmtime_is_the_pinned_one() -> None:
    assert config.installed_wasmtime_version() == config.WASMTIME_VERSION == "50.0.1"


@pytest.mark.parametrize("version", ["50.0.0", "50.0.2", "51.0.0"])
def test_the_runtime_refuses_another_wasmtime(
    monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    monkeypatch.setattr(config, "installed_wasmtime_version", lambda: version)
    with pytest.raises(InvariantError, match=f"wasmtime {version} is installed"):
        new_runtime()
