"""The Rust toolchain of user contracts: projects from templates, offline builds with Debian's
rustc, modules that keep to ABI v1, and the templates run through causeway.vm.

Each template is built once per session (a build takes seconds); the runtime's tests own the
dict host (tests/vm/vm_support.py), reused here so that both run contracts the same way.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import wasmtime

from causeway.errors import NotFoundError, RequestError, ToolchainError
from causeway.toolchains import rust
from causeway.types.interface import decode_fields, encode_fields, parse_interface
from causeway.vm import HOST_FUNCTIONS, HOST_MODULE, VERSION_EXPORT, CallOutcome, ContextField

_VM_TESTS = str(Path(__file__).resolve().parent.parent / "vm")
if _VM_TESTS not in sys.path:
    sys.path.insert(0, _VM_TESTS)

import toolchain_support  # noqa: E402
from vm_support import DictHost, new_runtime, run  # noqa: E402

from causeway.vm import Runtime  # noqa: E402

SDK_FOLDER = Path(rust.__file__).resolve().parent / "rust" / "sdk"
PROBE_FOLDER = Path(__file__).resolve().parent / "rust_probe"


@dataclass(frozen=True)
class Built:
    project: Path
    wasm_path: Path
    interface_path: Path
    code: bytes
    interface: dict[str, object]


@pytest.fixture(scope="session")
def built(rust_built: dict[str, toolchain_support.Built]) -> dict[str, Built]:
    """Every template, made into a project and built once (conftest.py's rust_built)."""
    return {
        template: Built(
            contract.project,
            contract.module,
            contract.interface,
            contract.module.read_bytes(),
            json.loads(contract.interface.read_text(encoding="utf-8")),
        )
        for template, contract in rust_built.items()
    }


@pytest.fixture(scope="session")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """tests/toolchains/rust_probe, which reaches every SDK function, built against the SDK."""
    project = tmp_path_factory.mktemp("rust-probe") / "probe"
    shutil.copytree(PROBE_FOLDER, project, ignore=shutil.ignore_patterns("target", "build"))
    manifest = project / "Cargo.toml"
    manifest.write_text(
        re.sub(r'path = "[^"]*"', f'path = "{SDK_FOLDER.as_posix()}"', manifest.read_text())
    )
    wasm_path, interface_path = rust.build(project)
    interface = json.loads(interface_path.read_text(encoding="utf-8"))
    return Built(project, wasm_path, interface_path, wasm_path.read_bytes(), interface)


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    runtime = new_runtime()
    yield runtime
    runtime.close()


def _methods(interface: dict[str, object]) -> list[str]:
    methods = interface["methods"]
    assert isinstance(methods, list)
    return [method["name"] for method in methods]


# -- the protobuf wire encoding of arguments (docs/contract-abi.md), written out for the tests --


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def varint_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value) if value else b""


def text_field(number: int, value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data if data else b""


def call(
    runtime: Runtime,
    contract: Built,
    method: str,
    host: DictHost,
    arguments: bytes = b"",
    *,
    caller: str = "alice",
    read_only: bool = False,
) -> CallOutcome:
    host.fields[ContextField.CALLER] = caller.encode()
    outcome: CallOutcome = run(
        runtime, contract.code, method, host, input_data=arguments, read_only=read_only
    )
    return outcome


def ok(outcome: CallOutcome) -> bytes:
    assert (outcome.status, outcome.message) == ("ok", "")
    return outcome.return_data


# -- building -------------------------------------------------------------------------------------


@pytest.mark.parametrize("template", rust.TEMPLATES)
def test_each_template_builds_into_the_build_folder(built: dict[str, Built], template: str) -> None:
    contract = built[template]
    assert contract.wasm_path == contract.project / "build" / f"{template}.wasm"
    assert contract.interface_path == contract.project / "build" / f"{template}.interface.json"
    assert contract.code.startswith(b"\0asm")
    assert contract.interface == json.loads((contract.project / "interface.json").read_text())
    assert contract.interface["name"] == template


@pytest.mark.parametrize("template", rust.TEMPLATES)
def test_a_module_imports_only_host_functions_with_the_abi_signatures(
    built: dict[str, Built], template: str
) -> None:
    module = wasmtime.Module(wasmtime.Engine(), built[template].code)
    assert module.imports
    for imported in module.imports:
        assert imported.module == HOST_MODULE
        assert isinstance(imported.type, wasmtime.FuncType), imported.name
        assert imported.name in HOST_FUNCTIONS, imported.name
        parameters, results = HOST_FUNCTIONS[imported.name]
        assert [str(kind) for kind in imported.type.params] == list(parameters), imported.name
        assert [str(kind) for kind in imported.type.results] == list(results), imported.name


@pytest.mark.parametrize("template", rust.TEMPLATES)
def test_a_module_exports_memory_the_marker_and_each_method_taking_nothing(
    built: dict[str, Built], template: str
) -> None:
    contract = built[template]
    exports = {
        export.name: export.type
        for export in wasmtime.Module(wasmtime.Engine(), contract.code).exports
    }
    assert isinstance(exports["memory"], wasmtime.MemoryType)
    for name in [VERSION_EXPORT, *_methods(contract.interface)]:
        function = exports[name]
        assert isinstance(function, wasmtime.FuncType), name
        assert (list(function.params), list(function.results)) == ([], []), name


@pytest.mark.parametrize("template", rust.TEMPLATES)
def test_the_runtime_accepts_each_template_at_deployment(
    built: dict[str, Built], runtime: Runtime, template: str
) -> None:
    contract = built[template]
    summary = runtime.check(contract.code)
    methods = _methods(contract.interface)
    assert summary.methods == tuple(sorted(set(methods) - {"init", "migrate"}))
    assert summary.has_init == ("init" in methods)
    # The stack of 64 KiB keeps the initial memory small (17 pages with rustc's default).
    assert summary.memory_initial_pages <= 2


def test_a_new_project_is_self_contained_and_builds_where_it_is_moved(tmp_path: Path) -> None:
    project = rust.new_project("counter", "moved_counter", tmp_path / "first")
    vendored = project / "vendor" / "causeway-contract"
    for source in SDK_FOLDER.rglob("*"):
        if source.is_file() and "target" not in source.parts:
            copy = vendored / source.relative_to(SDK_FOLDER)
            assert copy.read_bytes() == source.read_bytes(), source
    manifest = (project / "Cargo.toml").read_text()
    assert 'causeway-contract = { path = "vendor/causeway-contract" }' in manifest
    assert 'name = "moved_counter"' in manifest
    moved = tmp_path / "elsewhere" / "project"
    shutil.move(project, moved)
    wasm_path, interface_path = rust.build(moved)
    assert wasm_path == moved / "build" / "moved_counter.wasm"
    assert json.loads(interface_path.read_text())["name"] == "moved_counter"


def test_a_broken_source_gives_the_compiler_message(tmp_path: Path) -> None:
    project = rust.new_project("counter", "broken", tmp_path / "broken")
    source = project / "src" / "lib.rs"
    source.write_text(source.read_text() + "\nfn broken() -> u64 { undefined_name }\n")
    with pytest.raises(ToolchainError) as raised:
        rust.build(project)
    assert "error[E0425]: cannot find value `undefined_name` in this scope" in raised.value.message
    assert "src/lib.rs" in raised.value.message
    assert not (project / "build").exists()


def test_a_method_the_module_does_not_export_is_refused(tmp_path: Path) -> None:
    project = rust.new_project("counter", "counter", tmp_path / "counter")
    interface_path = project / "interface.json"
    interface = json.loads(interface_path.read_text())
    interface["methods"].append(
        {"name": "decrement", "read_only": False, "arguments": [], "returns": []}
    )
    interface_path.write_text(json.dumps(interface))
    with pytest.raises(ToolchainError, match="does not export decrement"):
        rust.build(project)
    assert not (project / "build").exists()


def test_an_unknown_template_is_refused_and_nothing_written(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no Rust contract template 'auction'"):
        rust.new_project("auction", "auction", tmp_path / "auction")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["", "Token", "9lives", "my token", "my-token", "core", "a" * 65])
def test_a_bad_project_name_is_refused_and_nothing_written(tmp_path: Path, name: str) -> None:
    with pytest.raises(RequestError, match="bad project name"):
        rust.new_project("token", name, tmp_path / "project")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_destination_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "notes.txt").write_text("mine")
    with pytest.raises(RequestError, match="already exists"):
        rust.new_project("token", "token", tmp_path / "project")
    assert [path.name for path in tmp_path.rglob("*")] == ["project", "notes.txt"]


def test_a_project_without_an_interface_is_refused_before_compiling(tmp_path: Path) -> None:
    project = rust.new_project("token", "token", tmp_path / "token")
    (project / "interface.json").unlink()
    with pytest.raises(NotFoundError, match=r"has no interface\.json"):
        rust.build(project)
    assert not (project / "target").exists()


@pytest.mark.parametrize(
    ("interface", "problem"),
    [
        ("not json", "the interface is not JSON"),
        ('{"abi": 2, "name": "token", "methods": []}', 'the interface must say "abi": 1'),
        ('{"abi": 1, "name": "Bad Name", "methods": []}', "the interface's name must be"),
        ('{"abi": 1, "name": "Token", "methods": []}', "'Token' is not a contract name"),
        ('{"abi": 1, "name": "token", "methods": [{"name": "a-b"}]}', "a method has no valid"),
    ],
)
def test_a_bad_interface_is_refused_before_compiling(
    tmp_path: Path, interface: str, problem: str
) -> None:
    project = rust.new_project("token", "token", tmp_path / "token")
    (project / "interface.json").write_text(interface)
    with pytest.raises(RequestError, match=problem):
        rust.build(project)
    assert not (project / "target").exists()


def test_a_folder_that_is_not_a_project_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"no Cargo\.toml"):
        rust.build(tmp_path)


def test_a_missing_cargo_names_the_debian_packages() -> None:
    with pytest.raises(ToolchainError) as raised:
        rust.find_toolchain({"CAUSEWAY_CARGO": "/nonexistent/cargo"})
    assert "apt-get install -y rustc cargo libstd-rust-dev-wasm32 lld" in raised.value.message
    assert "CAUSEWAY_CARGO" in raised.value.message


def test_a_rustc_without_the_wasm32_library_names_the_debian_packages(tmp_path: Path) -> None:
    # A rustc whose sysroot has no wasm32 standard library, like rustup's default toolchain.
    fake_rustc = tmp_path / "rustc"
    fake_rustc.write_text(f"#!/bin/sh\necho {tmp_path}\n")
    fake_rustc.chmod(0o755)
    with pytest.raises(ToolchainError) as raised:
        rust.find_toolchain({"CAUSEWAY_RUSTC": str(fake_rustc)})
    assert "has no standard library for wasm32-unknown-unknown" in raised.value.message
    assert "libstd-rust-dev-wasm32" in raised.value.message


def test_the_toolchain_is_debian_s_by_path() -> None:
    toolchain = rust.find_toolchain({})
    assert (toolchain.cargo, toolchain.rustc) == (Path("/usr/bin/cargo"), Path("/usr/bin/rustc"))


# -- the templates run through causeway.vm --------------------------------------------------------


def test_counter_starts_at_its_init_value_and_increments(
    built: dict[str, Built], runtime: Runtime
) -> None:
    counter, host = built["counter"], DictHost()
    ok(call(runtime, counter, "init", host, varint_field(1, 41)))
    assert ok(call(runtime, counter, "get", host, read_only=True)) == varint_field(1, 41)
    assert ok(call(runtime, counter, "increment", host)) == varint_field(1, 42)
    assert ok(call(runtime, counter, "get", host, read_only=True)) == varint_field(1, 42)


def test_counter_without_init_counts_from_zero(built: dict[str, Built], runtime: Runtime) -> None:
    counter, host = built["counter"], DictHost()
    # The canonical form leaves 0 out: the result of `get` is then empty.
    assert ok(call(runtime, counter, "get", host, read_only=True)) == b""
    assert ok(call(runtime, counter, "increment", host)) == varint_field(1, 1)


def test_counter_refuses_to_pass_its_maximum(built: dict[str, Built], runtime: Runtime) -> None:
    counter, host = built["counter"], DictHost()
    host.state[b"count"] = (2**64 - 1).to_bytes(8, "little")
    outcome = call(runtime, counter, "increment", host)
    assert (outcome.status, outcome.message) == ("reverted", "the counter is at its maximum")
    assert host.state == {b"count": (2**64 - 1).to_bytes(8, "little")}


def token_balance(runtime: Runtime, token: Built, host: DictHost, owner: str) -> bytes:
    return ok(call(runtime, token, "balance", host, text_field(1, owner), read_only=True))


def transfer_event(sender: str, recipient: str, amount: int) -> tuple[str, bytes]:
    data = text_field(1, sender) + text_field(2, recipient) + varint_field(3, amount)
    return ("transfer", data)


def test_token_mints_its_supply_to_the_deployer(built: dict[str, Built], runtime: Runtime) -> None:
    token, host = built["token"], DictHost()
    ok(call(runtime, token, "init", host, varint_field(1, 1_000), caller="alice"))
    assert token_balance(runtime, token, host, "alice") == varint_field(1, 1_000)
    assert ok(call(runtime, token, "total_supply", host, read_only=True)) == varint_field(1, 1_000)
    assert host.events == [transfer_event("", "alice", 1_000)]


def test_token_transfers_and_emits_an_event(built: dict[str, Built], runtime: Runtime) -> None:
    token, host = built["token"], DictHost()
    ok(call(runtime, token, "init", host, varint_field(1, 1_000), caller="alice"))
    ok(call(runtime, token, "transfer", host, text_field(1, "bob") + varint_field(2, 300)))
    assert token_balance(runtime, token, host, "alice") == varint_field(1, 700)
    assert token_balance(runtime, token, host, "bob") == varint_field(1, 300)
    assert token_balance(runtime, token, host, "carol") == b""
    assert host.events[-1] == transfer_event("alice", "bob", 300)


def test_token_refuses_a_transfer_above_the_balance(
    built: dict[str, Built], runtime: Runtime
) -> None:
    token, host = built["token"], DictHost()
    ok(call(runtime, token, "init", host, varint_field(1, 1_000), caller="alice"))
    before = (dict(host.state), list(host.events))
    arguments = text_field(1, "alice") + varint_field(2, 1)
    outcome = call(runtime, token, "transfer", host, arguments, caller="bob")
    assert (outcome.status, outcome.message) == (
        "reverted",
        "transfer: insufficient balance: bob has 0, needs 1",
    )
    assert (host.state, host.events) == before


def test_token_transfer_to_oneself_keeps_the_balance(
    built: dict[str, Built], runtime: Runtime
) -> None:
    token, host = built["token"], DictHost()
    ok(call(runtime, token, "init", host, varint_field(1, 1_000), caller="alice"))
    ok(call(runtime, token, "transfer", host, text_field(1, "alice") + varint_field(2, 400)))
    assert token_balance(runtime, token, host, "alice") == varint_field(1, 1_000)


def test_token_refuses_an_empty_recipient(built: dict[str, Built], runtime: Runtime) -> None:
    token, host = built["token"], DictHost()
    ok(call(runtime, token, "init", host, varint_field(1, 1_000)))
    outcome = call(runtime, token, "transfer", host, varint_field(2, 1))
    assert (outcome.status, outcome.message) == ("reverted", "transfer: the recipient is empty")


def test_a_query_cannot_write(built: dict[str, Built], runtime: Runtime) -> None:
    token = built["token"]
    with pytest.raises(RequestError, match="read-only call"):
        call(runtime, token, "init", DictHost(), varint_field(1, 5), read_only=True)


# -- the SDK's argument reader, through the templates ----------------------------------------------


def test_arguments_in_any_order_with_unknown_fields_are_read(
    built: dict[str, Built], runtime: Runtime
) -> None:
    token, host = built["token"], DictHost()
    ok(call(runtime, token, "init", host, varint_field(1, 1_000)))
    # amount before recipient, an unknown varint (7), an unknown string (9), and fixed32 (10)
    # and fixed64 (11) fields: all tolerated.
    unknown = varint_field(7, 5) + text_field(9, "extra") + b"\x55\x01\x02\x03\x04"
    unknown += b"\x59" + bytes(8)
    arguments = varint_field(2, 250) + unknown + text_field(1, "bob")
    ok(call(runtime, token, "transfer", host, arguments))
    assert token_balance(runtime, token, host, "bob") == varint_field(1, 250)


def test_the_last_occurrence_of_a_field_wins(built: dict[str, Built], runtime: Runtime) -> None:
    counter, host = built["counter"], DictHost()
    ok(call(runtime, counter, "init", host, varint_field(1, 3) + varint_field(1, 9)))
    assert ok(call(runtime, counter, "get", host, read_only=True)) == varint_field(1, 9)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (b"\x08", "malformed arguments: a malformed varint at byte 1"),
        (b"\x08" + b"\xff" * 10 + b"\x01", "malformed arguments: a malformed varint at byte 1"),
        (b"\x0a\x05ab", "malformed arguments: a truncated length-delimited field at byte 2"),
        (
            b"\x0b",
            "malformed arguments: an unsupported wire type (groups are not allowed) at byte 1",
        ),
        (b"\x00\x01", "malformed arguments: a field number out of range at byte 1"),
        (text_field(1, "41"), "argument 1: wrong wire type for uint64"),
    ],
)
def test_malformed_arguments_revert_with_a_clear_message(
    built: dict[str, Built], runtime: Runtime, arguments: bytes, message: str
) -> None:
    counter, host = built["counter"], DictHost()
    outcome = call(runtime, counter, "init", host, arguments)
    assert (outcome.status, outcome.message) == ("reverted", message)
    assert host.state == {}


def test_a_string_argument_that_is_not_utf8_reverts(
    built: dict[str, Built], runtime: Runtime
) -> None:
    token = built["token"]
    outcome = call(runtime, token, "balance", DictHost(), text_field(1, b"\xff\xfe"))
    assert (outcome.status, outcome.message) == (
        "reverted",
        "argument 1: the string is not valid UTF-8",
    )


def test_a_uint32_argument_out_of_range_reverts(built: dict[str, Built], runtime: Runtime) -> None:
    registry = built["registry"]
    outcome = call(runtime, registry, "list", DictHost(), varint_field(2, 2**32), read_only=True)
    assert (outcome.status, outcome.message) == (
        "reverted",
        "argument 2: value out of range for uint32",
    )


# -- the registry ---------------------------------------------------------------------------------


def name_and_value(name: str, value: str) -> bytes:
    return text_field(1, name) + text_field(2, value)


def registry_event(event: str, name: str, owner: str, value: str) -> tuple[str, bytes]:
    return (event, text_field(1, name) + text_field(2, owner) + text_field(3, value))


def test_registry_registers_a_name_for_its_caller(
    built: dict[str, Built], runtime: Runtime
) -> None:
    registry, host = built["registry"], DictHost()
    ok(call(runtime, registry, "register", host, name_and_value("docs", "v1"), caller="alice"))
    record = ok(call(runtime, registry, "get", host, text_field(1, "docs"), read_only=True))
    assert record == name_and_value("alice", "v1")
    assert host.events == [registry_event("registered", "docs", "alice", "v1")]


def test_registry_refuses_a_name_taken(built: dict[str, Built], runtime: Runtime) -> None:
    registry, host = built["registry"], DictHost()
    ok(call(runtime, registry, "register", host, name_and_value("docs", "v1"), caller="alice"))
    outcome = call(runtime, registry, "register", host, name_and_value("docs", "v2"), caller="bob")
    assert (outcome.status, outcome.message) == (
        "reverted",
        "register: docs is already registered",
    )
    assert ok(call(runtime, registry, "get", host, text_field(1, "docs"))) == name_and_value(
        "alice", "v1"
    )


def test_registry_updates_by_the_owner_only(built: dict[str, Built], runtime: Runtime) -> None:
    registry, host = built["registry"], DictHost()
    ok(call(runtime, registry, "register", host, name_and_value("docs", "v1"), caller="alice"))
    refused = call(runtime, registry, "update", host, name_and_value("docs", "x"), caller="bob")
    assert (refused.status, refused.message) == (
        "reverted",
        "update: docs belongs to alice",
    )
    ok(call(runtime, registry, "update", host, name_and_value("docs", "v2"), caller="alice"))
    assert ok(call(runtime, registry, "get", host, text_field(1, "docs"))) == name_and_value(
        "alice", "v2"
    )
    assert host.events[-1] == registry_event("updated", "docs", "alice", "v2")


@pytest.mark.parametrize(
    ("method", "arguments", "message"),
    [
        ("register", name_and_value("", "v"), "the name must be 1 to 128 bytes"),
        ("register", name_and_value("n" * 129, "v"), "the name must be 1 to 128 bytes"),
        ("register", name_and_value("a\nb", "v"), "the name must not contain a line break"),
        ("update", name_and_value("absent", "v"), "update: absent is not registered"),
        ("get", text_field(1, "absent"), "get: absent is not registered"),
        ("list", varint_field(2, 101), "list: the limit is at most 100"),
    ],
)
def test_registry_refuses_bad_input(
    built: dict[str, Built], runtime: Runtime, method: str, arguments: bytes, message: str
) -> None:
    outcome = call(runtime, built["registry"], method, DictHost(), arguments)
    assert (outcome.status, outcome.message) == ("reverted", message)


def test_registry_lists_names_in_pages(built: dict[str, Built], runtime: Runtime) -> None:
    registry, host = built["registry"], DictHost()
    for name in ["delta", "alpha", "echo", "charlie", "bravo"]:
        ok(call(runtime, registry, "register", host, name_and_value(name, "v")))

    def page(start_after: str, limit: int) -> bytes:
        arguments = text_field(1, start_after) + varint_field(2, limit)
        return ok(call(runtime, registry, "list", host, arguments, read_only=True))

    assert page("", 2) == text_field(1, "alpha\nbravo") + text_field(2, "bravo")
    assert page("bravo", 2) == text_field(1, "charlie\ndelta") + text_field(2, "delta")
    assert page("delta", 2) == text_field(1, "echo")
    # 0 asks for the default page of 10.
    assert page("", 0) == text_field(1, "alpha\nbravo\ncharlie\ndelta\necho")


# -- every SDK function, through the probe contract ------------------------------------------------


def test_the_sdk_reads_every_context_field(probe: Built, runtime: Runtime) -> None:
    host = DictHost()
    host.fields[ContextField.ORGANISATION] = "组织一".encode()
    expected = (
        text_field(1, "carol")
        + text_field(2, "probe")
        + varint_field(3, 7)
        + varint_field(4, 1_700_000_000_000)
        + text_field(5, b"\x01" * 32)
        + text_field(6, "test-chain")
        + text_field(7, "组织一")
    )
    assert ok(call(runtime, probe, "context", host, caller="carol")) == expected


@pytest.mark.parametrize(
    "arguments",
    [
        b"",
        varint_field(1, 1)
        + varint_field(2, 2**32 - 1)
        + varint_field(3, 2**64 - 1)
        + varint_field(4, 2**63 - 1)
        + text_field(5, "héllo")
        + text_field(6, bytes(range(256))),
        # int64 -1: the two's complement, ten bytes.
        varint_field(4, 2**64 - 1),
        varint_field(4, 2**63),
    ],
)
def test_the_writer_gives_back_each_type_in_canonical_form(
    probe: Built, runtime: Runtime, arguments: bytes
) -> None:
    assert ok(call(runtime, probe, "echo", DictHost(), arguments)) == arguments


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"flag": True, "small": 7, "large": 2**64 - 1, "signed": -5, "text": "中文", "data": b"\0"},
        {"signed": -(2**63), "data": bytes(300)},
    ],
)
def test_the_sdk_speaks_the_chain_s_encoding(
    probe: Built, runtime: Runtime, values: dict[str, object]
) -> None:
    # Arguments encoded by types/interface.py (what the SDK and the CLI send) are read by the
    # Rust SDK, and what it writes back is the same canonical bytes.
    echo = parse_interface(probe.interface_path.read_text()).method("echo")
    arguments = encode_fields(echo.arguments, values)
    result = ok(call(runtime, probe, "echo", DictHost(), arguments))
    assert result == encode_fields(echo.returns, values)
    assert decode_fields(echo.returns, result) == decode_fields(echo.arguments, arguments)


def test_a_bool_other_than_0_or_1_reverts(probe: Built, runtime: Runtime) -> None:
    outcome = call(runtime, probe, "echo", DictHost(), varint_field(1, 2))
    assert outcome.message == "argument 1: value out of range for bool"


def test_the_writer_refuses_fields_out_of_order(probe: Built, runtime: Runtime) -> None:
    outcome = call(runtime, probe, "out_of_order", DictHost())
    assert outcome.status == "reverted"
    assert outcome.message.startswith(
        "panicked at 'Writer: field 1 after field 2: fields go in increasing number'"
    )


def test_state_put_get_and_delete(probe: Built, runtime: Runtime) -> None:
    host = DictHost()
    large = bytes(range(256)) * 40  # above the first buffer: the getter asks again
    ok(call(runtime, probe, "put", host, text_field(1, b"key") + text_field(2, large)))
    assert host.state == {b"key": large}
    found = ok(call(runtime, probe, "get", host, text_field(1, b"key")))
    assert found == text_field(1, large) + varint_field(2, 1)
    ok(call(runtime, probe, "delete", host, text_field(1, b"key")))
    ok(call(runtime, probe, "delete", host, text_field(1, b"absent")))
    assert host.state == {}
    assert ok(call(runtime, probe, "get", host, text_field(1, b"key"))) == b""


def test_state_range_pages_by_prefix_and_start(probe: Built, runtime: Runtime) -> None:
    host = DictHost()
    host.state = {b"p/a": b"1", b"p/b": b"2" * 300, b"p/c": b"3", b"q/a": b"4"}

    def listed(prefix: bytes, start_after: bytes, limit: int) -> bytes:
        arguments = text_field(1, prefix) + text_field(2, start_after) + varint_field(3, limit)
        return ok(call(runtime, probe, "range", host, arguments))

    assert listed(b"p/", b"", 10) == text_field(1, b"p/a=1\np/b=" + b"2" * 300 + b"\np/c=3\n")
    assert listed(b"p/", b"p/a", 1) == text_field(1, b"p/b=" + b"2" * 300 + b"\n")
    assert listed(b"p/", b"p/c", 10) == b""
    assert listed(b"p/", b"", 0) == b""


def test_emit_gives_the_event_to_the_host(probe: Built, runtime: Runtime) -> None:
    host = DictHost()
    ok(call(runtime, probe, "emit", host, text_field(1, "noted") + text_field(2, b"\x00data")))
    assert host.events == [("noted", b"\x00data")]


def test_hash_is_the_host_s(probe: Built, runtime: Runtime) -> None:
    digest = ok(call(runtime, probe, "hash", DictHost(), text_field(1, b"abc")))
    assert digest == text_field(1, hashlib.sha256(b"abc").digest())


@pytest.mark.parametrize("valid", [True, False])
def test_verify_signature_asks_the_host(probe: Built, runtime: Runtime, valid: bool) -> None:
    # The dict host's "test" algorithm: the signature is sha256(key + message).
    signature = hashlib.sha256(b"key" + b"message").digest() if valid else b"\x00" * 32
    arguments = (
        text_field(1, "test")
        + text_field(2, b"key")
        + text_field(3, b"message")
        + text_field(4, signature)
    )
    assert ok(call(runtime, probe, "verify", DictHost(), arguments)) == varint_field(1, valid)


@pytest.mark.parametrize(("status", "data"), [(1, b"answer"), (4, b"no such record"), (1, b"")])
def test_call_gives_the_callee_s_status_and_result(
    probe: Built, runtime: Runtime, status: int, data: bytes
) -> None:
    host = DictHost()
    host.call_answer = (status, data * 20)
    arguments = (
        text_field(1, "other")
        + text_field(2, "method")
        + text_field(3, b"input")
        + varint_field(4, 5_000)
    )
    result = ok(call(runtime, probe, "call_other", host, arguments))
    assert result == varint_field(1, status) + text_field(2, data * 20) + varint_field(
        3, status == 1
    )
    assert host.calls == [("other", "method", b"input", 5_000)]


def test_the_heap_grows_memory_as_needed(probe: Built, runtime: Runtime) -> None:
    # 4 MiB: far above the two pages the module starts with.
    tail = ok(call(runtime, probe, "allocate", DictHost(), varint_field(1, 4 << 20)))
    assert tail == text_field(1, b"\x01" * 4)


def test_an_allocation_above_the_memory_limit_reverts(probe: Built, runtime: Runtime) -> None:
    outcome = call(runtime, probe, "allocate", DictHost(), varint_field(1, 64 << 20))
    assert (outcome.status, outcome.message) == ("reverted", "out of memory")


def test_revert_carries_the_contract_s_message(probe: Built, runtime: Runtime) -> None:
    outcome = call(runtime, probe, "fail", DictHost(), text_field(1, "nope: ünïcode"))
    assert (outcome.status, outcome.message) == ("reverted", "nope: ünïcode")
