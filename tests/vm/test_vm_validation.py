"""Every deployment check of docs/adr/0003 and docs/contract-abi.md, with its reason: at the bound
and one past it where there is one, and what a passing module is found to offer."""

from __future__ import annotations

import pytest
from vm_support import DictHost, bare_module, invoke, module, new_runtime

from causeway.errors import ModuleRefusedError
from causeway.vm import DEFAULT_LIMITS, ModuleSummary, Runtime, VmLimits

MARKER = '(func (export "causeway_abi_v1"))'
MEMORY = '(memory (export "memory") 1)'


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return new_runtime()


def refused(runtime: Runtime, code: bytes) -> str:
    """The reason `code` is refused at deployment."""
    with pytest.raises(ModuleRefusedError) as caught:
        runtime.check(code)
    return caught.value.message


# -- bytes --------------------------------------------------------------------------------------


def test_garbage_bytes_are_refused(runtime: Runtime) -> None:
    assert refused(runtime, b"this is not wasm") == (
        "the code is not a WebAssembly module (no \\0asm header)"
    )
    assert refused(runtime, b"") == "the code is not a WebAssembly module (no \\0asm header)"


def test_a_module_that_does_not_validate_is_refused(runtime: Runtime) -> None:
    reason = refused(runtime, b"\x00asm\x01\x00\x00\x00\xff")
    assert reason.startswith("the module is not valid under the chain's engine: ")


def test_code_size_at_the_limit_passes_and_one_byte_more_is_refused() -> None:
    code = module("")
    assert new_runtime(VmLimits(code_bytes_max=len(code))).check(code).methods == ()
    # The same module with one more byte: a custom section of one byte more (still valid).
    padded = bytes(code) + b"\x00\x02\x01x"
    smaller = new_runtime(VmLimits(code_bytes_max=len(padded) - 1))
    assert refused(smaller, padded) == (
        f"the module is {len(padded)} bytes, above the limit of {len(padded) - 1}"
    )
    assert new_runtime(VmLimits(code_bytes_max=len(padded))).check(padded).methods == ()


def test_the_default_code_bound_is_checked_before_anything_else(runtime: Runtime) -> None:
    too_big = b"x" * (DEFAULT_LIMITS.code_bytes_max + 1)
    assert refused(runtime, too_big).startswith(
        f"the module is {DEFAULT_LIMITS.code_bytes_max + 1} bytes"
    )


# -- imports ------------------------------------------------------------------------------------


def test_a_wasi_import_is_refused(runtime: Runtime) -> None:
    code = module(
        "",
        imports='(import "wasi_snapshot_preview1" "fd_write" '
        "(func (param i32 i32 i32 i32) (result i32)))",
    )
    assert refused(runtime, code) == (
        "the module imports wasi_snapshot_preview1.fd_write: a contract may import only from "
        "the host module 'causeway' (no WASI, no env)"
    )


def test_an_env_import_is_refused(runtime: Runtime) -> None:
    code = module("", imports='(import "env" "abort" (func (param i32 i32 i32 i32)))')
    assert refused(runtime, code).startswith("the module imports env.abort: a contract may")


def test_an_unknown_host_function_is_refused(runtime: Runtime) -> None:
    code = module("", imports='(import "causeway" "print" (func (param i32 i32)))')
    assert refused(runtime, code) == "the module imports causeway.print, which is not in ABI v1"


def test_a_host_function_with_the_wrong_signature_is_refused(runtime: Runtime) -> None:
    code = module("", imports='(import "causeway" "input_length" (func (param i32) (result i32)))')
    assert refused(runtime, code) == (
        "the module imports causeway.input_length as (i32) -> (i32), but ABI v1 defines it as "
        "() -> (i32)"
    )
    # i64 where the ABI has i32 (the gas of `call` is the only i64).
    wide = module(
        "",
        imports='(import "causeway" "call" '
        "(func (param i32 i32 i32 i32 i32 i32 i32) (result i32)))",
    )
    assert "causeway.call as (i32, i32, i32, i32, i32, i32, i32) -> (i32)" in refused(runtime, wide)


@pytest.mark.parametrize(
    ("imported", "kind"),
    [
        ('(import "causeway" "memory" (memory 1)) (export "memory" (memory 0))', "MemoryType"),
        ('(import "causeway" "table" (table 1 funcref))', "TableType"),
        ('(import "causeway" "global" (global i32))', "GlobalType"),
    ],
)
def test_an_imported_memory_table_or_global_is_refused(
    runtime: Runtime, imported: str, kind: str
) -> None:
    memory = "" if kind == "MemoryType" else MEMORY
    code = module("", imports=imported, memory=memory)
    reason = refused(runtime, code)
    assert reason.startswith("the module imports causeway.")
    assert reason.endswith(f"as a {kind}: only host functions can be imported")


def test_every_abi_import_at_once_passes(runtime: Runtime) -> None:
    # vm_support.IMPORTS is the whole table of the ABI.
    assert runtime.check(module("")).methods == ()


# -- the memory ---------------------------------------------------------------------------------


def test_a_module_without_memory_is_refused(runtime: Runtime) -> None:
    code = module("", memory="")
    assert refused(runtime, code) == "the module does not export its memory as 'memory'"


def test_a_memory_that_is_not_exported_is_refused(runtime: Runtime) -> None:
    code = module("", memory="(memory 1)")
    assert refused(runtime, code) == "the module does not export its memory as 'memory'"


def test_a_memory_exported_under_another_name_is_refused(runtime: Runtime) -> None:
    code = module("", memory='(memory (export "heap") 1)')
    assert refused(runtime, code) == (
        "the module exports a memory as 'heap': its one memory must be exported as 'memory'"
    )
    twice = module("", memory='(memory (export "memory") (export "heap") 1)')
    assert "exports a memory as 'heap'" in refused(runtime, twice)


def test_initial_memory_at_the_limit_passes_and_one_page_more_is_refused(
    runtime: Runtime,
) -> None:
    pages = DEFAULT_LIMITS.memory_initial_pages_max
    at_limit = module("", memory=f'(memory (export "memory") {pages})')
    assert runtime.check(at_limit).memory_initial_pages == pages
    above = module("", memory=f'(memory (export "memory") {pages + 1})')
    assert refused(runtime, above) == (
        f"the module's memory starts at {pages + 1} pages of 65536 bytes, above the limit of "
        f"{pages}"
    )


# -- tables ---------------------------------------------------------------------------------------


def test_two_tables_are_refused(runtime: Runtime) -> None:
    code = module("(table 1 funcref) (table 1 funcref)")
    assert refused(runtime, code) == "the module defines 2 tables: at most one is allowed"


def test_one_table_at_the_element_limit_passes_and_one_more_is_refused(
    runtime: Runtime,
) -> None:
    elements = DEFAULT_LIMITS.table_elements_max
    runtime.check(module(f"(table {elements} funcref)"))
    runtime.check(module(f"(table {elements} {elements} funcref)"))
    reason = refused(runtime, module(f"(table {elements + 1} funcref)"))
    assert reason == (
        f"the module's table starts at {elements + 1} elements, above the limit of {elements}"
    )


def test_a_table_that_may_grow_above_the_limit_passes(runtime: Runtime) -> None:
    # Only the initial size is bounded at deployment; growth stops at the limit during a call.
    elements = DEFAULT_LIMITS.table_elements_max
    runtime.check(module(f"(table 1 {elements * 100} funcref)"))


@pytest.mark.parametrize("pages", [DEFAULT_LIMITS.memory_pages_max + 1, 1_000, 65_536])
def test_initial_memory_far_above_the_limit_is_refused_with_the_same_reason(
    runtime: Runtime, pages: int
) -> None:
    # Above memory_pages_max the pooling allocator would refuse the module at compile time in
    # its own words; the reason is still the chain's bound.
    code = module("", memory=f'(memory (export "memory") {pages})')
    assert refused(runtime, code) == (
        f"the module's memory starts at {pages} pages of 65536 bytes, above the limit of "
        f"{DEFAULT_LIMITS.memory_initial_pages_max}"
    )


def test_a_table_at_the_limit_is_usable(runtime: Runtime) -> None:
    elements = DEFAULT_LIMITS.table_elements_max
    code = module(
        f"""
  (table {elements} funcref)
  (func $seven (result i32) (i32.const 7))
  (elem (i32.const {elements - 1}) $seven)
  (func (export "last")
    (i32.store8 (i32.const 0) (call_indirect (result i32) (i32.const {elements - 1})))
    (call $return_data (i32.const 0) (i32.const 1)))
"""
    )
    outcome = invoke(runtime, code, "last", DictHost())
    assert (outcome.status, outcome.return_data) == ("ok", b"\x07")


# -- exports ------------------------------------------------------------------------------------


def test_a_module_without_the_version_marker_is_refused(runtime: Runtime) -> None:
    code = bare_module(f'{MEMORY} (func (export "transfer"))')
    assert refused(runtime, code) == (
        "the module does not export 'causeway_abi_v1': it must be built for ABI v1"
    )
    as_global = bare_module(f'{MEMORY} (global (export "causeway_abi_v1") i32 (i32.const 1))')
    assert "does not export 'causeway_abi_v1'" in refused(runtime, as_global)


@pytest.mark.parametrize(
    "export",
    [
        '(func (export "causeway_abi_v1") (param i32))',
        '(func (export "init") (result i32) (i32.const 0))',
        '(func (export "migrate") (param i64))',
    ],
)
def test_a_reserved_export_of_the_wrong_type_is_refused(runtime: Runtime, export: str) -> None:
    name = export.split('"')[1]
    marker = "" if name == "causeway_abi_v1" else MARKER
    code = bare_module(f"{MEMORY} {marker} {export}")
    assert refused(runtime, code) == f"the export {name!r} must be a function () -> ()"


def test_exports_at_the_limit_pass_and_one_more_is_refused() -> None:
    # memory and causeway_abi_v1 count as exports too.
    methods = " ".join(f'(func (export "method_{index}"))' for index in range(8))
    code = module(methods)
    assert new_runtime(VmLimits(exports_max=10)).check(code).methods == tuple(
        sorted(f"method_{index}" for index in range(8))
    )
    assert refused(new_runtime(VmLimits(exports_max=9)), code) == (
        "the module has 10 exports, above the limit of 9"
    )


# -- what a passing module offers ---------------------------------------------------------------


def test_methods_are_listed_sorted_with_init_and_migrate_apart(runtime: Runtime) -> None:
    code = module(
        """
  (func (export "zeta"))
  (func (export "alpha"))
  (func (export "Mid_1"))
  (func (export "init"))
  (func (export "migrate"))
  (func (export "allocate") (param i32) (result i32) (local.get 0))
  (func (export "helper_result") (result i32) (i32.const 0))
  (global (export "__heap_base") i32 (i32.const 1024))
  (global (export "__data_end") i32 (i32.const 1024))
"""
    )
    assert runtime.check(code) == ModuleSummary(
        methods=("Mid_1", "alpha", "zeta"),
        has_init=True,
        has_migrate=True,
        memory_initial_pages=1,
    )


def test_init_and_migrate_are_optional(runtime: Runtime) -> None:
    summary = runtime.check(module('(func (export "only"))'))
    assert (summary.methods, summary.has_init, summary.has_migrate) == (("only",), False, False)
    assert runtime.check(module('(func (export "init"))')).has_init
    assert runtime.check(module('(func (export "migrate"))')).has_migrate


START = module(
    """
  (global $started (mut i32) (i32.const 0))
  (func $start (global.set $started (i32.const 1)))
  (start $start)
  (func (export "started")
    (i32.store8 (i32.const 0) (global.get $started))
    (call $return_data (i32.const 0) (i32.const 1)))
"""
)

LOOPING_START = module(
    """
  (func $start (loop $forever (br $forever)))
  (start $start)
  (func (export "never"))
"""
)


def test_a_start_function_is_allowed_and_runs_at_every_instantiation(runtime: Runtime) -> None:
    assert runtime.check(START).methods == ("started",)
    outcome = invoke(runtime, START, "started", DictHost())
    assert (outcome.status, outcome.return_data) == ("ok", b"\x01")


def test_a_looping_start_passes_deployment_and_runs_out_of_gas_when_called(
    runtime: Runtime,
) -> None:
    assert runtime.check(LOOPING_START).methods == ("never",)
    outcome = invoke(runtime, LOOPING_START, "never", DictHost(), gas=20_000)
    assert (outcome.status, outcome.gas_used) == ("out_of_gas", 20_000)


def test_a_refused_module_leaves_the_runtime_usable(runtime: Runtime) -> None:
    refused(runtime, b"\x00asm\x01\x00\x00\x00\xff")
    outcome = invoke(runtime, START, "started", DictHost())
    assert outcome.status == "ok"
