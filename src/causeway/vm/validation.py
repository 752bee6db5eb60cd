"""Deployment checks: a module is refused, with a reason naming the offending part, before it is
stored or run. What passes here can be compiled and called by every validator alike."""

from __future__ import annotations

from dataclasses import dataclass

import wasmtime

from causeway.errors import ModuleRefusedError
from causeway.vm.abi import (
    HOST_FUNCTIONS,
    HOST_MODULE,
    INIT_EXPORT,
    MEMORY_EXPORT,
    METHOD_NAME,
    MIGRATE_EXPORT,
    RESERVED_EXPORTS,
    VERSION_EXPORT,
)
from causeway.vm.config import WASM_PAGE_BYTES, VmLimits

_TABLE_SECTION = 4
_MEMORY_SECTION = 5
_WASM_MAGIC = b"\x00asm"


@dataclass(frozen=True, slots=True)
class ModuleSummary:
    """What deployment learnt of a module: its methods (sorted), and its optional entry points."""

    methods: tuple[str, ...]
    has_init: bool
    has_migrate: bool
    memory_initial_pages: int


def validate_module(
    engine: wasmtime.Engine, code: bytes, limits: VmLimits
) -> tuple[wasmtime.Module, ModuleSummary]:
    """The compiled module and what it offers, when `code` passes every deployment check."""
    if len(code) > limits.code_bytes_max:
        raise ModuleRefusedError(
            f"the module is {len(code)} bytes, above the limit of {limits.code_bytes_max}"
        )
    if not code.startswith(_WASM_MAGIC):
        raise ModuleRefusedError("the code is not a WebAssembly module (no \\0asm header)")
    try:
        wasmtime.Module.validate(engine, code)
    except wasmtime.WasmtimeError as error:
        raise ModuleRefusedError(
            f"the module is not valid under the chain's engine: {_first_line(error)}"
        ) from None
    # Before compiling: the pooling allocator refuses a table or memory above its own sizes at
    # compile time with its own words; the reason must name the part and the chain's bound.
    _check_tables(code, limits)
    _check_memory_size(code, limits)
    try:
        module = wasmtime.Module(engine, code)
    except wasmtime.WasmtimeError as error:
        raise ModuleRefusedError(f"the module does not compile: {_first_line(error)}") from None
    return module, summarise_module(module, code, limits)


def summarise_module(module: wasmtime.Module, code: bytes, limits: VmLimits) -> ModuleSummary:
    """Checks the imports, exports, memory and tables of a compiled module against ABI v1 and the
    limits; ModuleRefusedError names the first that fails."""
    _check_imports(module)
    methods: list[str] = []
    has_version = has_init = has_migrate = False
    memory_pages: int | None = None
    exports = module.exports
    if len(exports) > limits.exports_max:
        raise ModuleRefusedError(
            f"the module has {len(exports)} exports, above the limit of {limits.exports_max}"
        )
    for export in exports:
        kind = export.type
        if isinstance(kind, wasmtime.MemoryType):
            if export.name != MEMORY_EXPORT:
                raise ModuleRefusedError(
                    f"the module exports a memory as {export.name!r}: its one memory must be "
                    f"exported as {MEMORY_EXPORT!r}"
                )
            memory_pages = kind.limits.min
        elif isinstance(kind, wasmtime.FuncType):
            if kind.params or kind.results:
                if export.name in RESERVED_EXPORTS:
                    raise ModuleRefusedError(
                        f"the export {export.name!r} must be a function () -> ()"
                    )
                # Helpers a toolchain exports (allocators and the like) are not methods.
                continue
            if export.name == VERSION_EXPORT:
                has_version = True
            elif export.name == INIT_EXPORT:
                has_init = True
            elif export.name == MIGRATE_EXPORT:
                has_migrate = True
            elif METHOD_NAME.fullmatch(export.name):
                methods.append(export.name)
    if not has_version:
        raise ModuleRefusedError(
            f"the module does not export {VERSION_EXPORT!r}: it must be built for ABI v1"
        )
    if memory_pages is None:
        raise ModuleRefusedError(f"the module does not export its memory as {MEMORY_EXPORT!r}")
    if memory_pages > limits.memory_initial_pages_max:
        raise ModuleRefusedError(_memory_too_large(memory_pages, limits))
    _check_tables(code, limits)
    return ModuleSummary(
        methods=tuple(sorted(methods)),
        has_init=has_init,
        has_migrate=has_migrate,
        memory_initial_pages=memory_pages,
    )


def _check_imports(module: wasmtime.Module) -> None:
    for item in module.imports:
        where = f"{item.module}.{item.name}"
        if item.module != HOST_MODULE:
            raise ModuleRefusedError(
                f"the module imports {where}: a contract may import only from the host module "
                f"{HOST_MODULE!r} (no WASI, no env)"
            )
        kind = item.type
        if not isinstance(kind, wasmtime.FuncType):
            raise ModuleRefusedError(
                f"the module imports {where} as a {type(kind).__name__}: only host functions "
                "can be imported"
            )
        signature = HOST_FUNCTIONS.get(item.name or "")
        if signature is None:
            raise ModuleRefusedError(f"the module imports {where}, which is not in ABI v1")
        found = (tuple(map(str, kind.params)), tuple(map(str, kind.results)))
        if found != signature:
            raise ModuleRefusedError(
                f"the module imports {where} as ({', '.join(found[0])}) -> "
                f"({', '.join(found[1])}), but ABI v1 defines it as ({', '.join(signature[0])}) "
                f"-> ({', '.join(signature[1])})"
            )


def _check_tables(code: bytes, limits: VmLimits) -> None:
    """At most one table, of at most table_elements_max elements at the start. wasmtime's module
    description lists only exported tables, so the table section is read here (the module has
    passed validation, so its structure is sound)."""
    for section_id, body in _sections(code):
        if section_id != _TABLE_SECTION:
            continue
        count, position = _leb128(body, 0)
        if count > 1:
            raise ModuleRefusedError(f"the module defines {count} tables: at most one is allowed")
        if count == 1:
            # tabletype: reftype byte, then limits (flag, min[, max]).
            position += 1
            _flags, position = _leb128(body, position)
            minimum, position = _leb128(body, position)
            if minimum > limits.table_elements_max:
                raise ModuleRefusedError(
                    f"the module's table starts at {minimum} elements, above the limit of "
                    f"{limits.table_elements_max}"
                )


def _check_memory_size(code: bytes, limits: VmLimits) -> None:
    """The defined memory's initial size, read from the memory section (multi-memory is off, so
    there is at most one; it must also be exported, which summarise_module checks)."""
    for section_id, body in _sections(code):
        if section_id != _MEMORY_SECTION:
            continue
        count, position = _leb128(body, 0)
        if count:
            _flags, position = _leb128(body, position)
            pages, position = _leb128(body, position)
            if pages > limits.memory_initial_pages_max:
                raise ModuleRefusedError(_memory_too_large(pages, limits))


def _memory_too_large(pages: int, limits: VmLimits) -> str:
    return (
        f"the module's memory starts at {pages} pages of {WASM_PAGE_BYTES} bytes, "
        f"above the limit of {limits.memory_initial_pages_max}"
    )


def _sections(code: bytes) -> list[tuple[int, bytes]]:
    sections: list[tuple[int, bytes]] = []
    position = 8  # magic and version
    while position < len(code):
        section_id = code[position]
        size, position = _leb128(code, position + 1)
        sections.append((section_id, code[position : position + size]))
        position += size
    return sections


def _leb128(data: bytes, position: int) -> tuple[int, int]:
    """An unsigned LEB128 number at `position`, and the position after it."""
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
