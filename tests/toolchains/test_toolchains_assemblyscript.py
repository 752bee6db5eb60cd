"""The AssemblyScript toolchain: install, new_project, build; what a built module imports and
exports; and the templates and the SDK (through the probe contract) run by causeway.vm.

Arguments and results are encoded and decoded with the protobuf library itself, from the
interface's field lists, so the SDK's Reader and Writer are checked against protobuf's encoding
rather than against a second copy of ours."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import wasmtime
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message
from toolchain_support import Built
from vm.vm_support import DictHost, new_runtime

from causeway.errors import RequestError, ToolchainError
from causeway.toolchains import assemblyscript
from causeway.vm import (
    HOST_FUNCTIONS,
    HOST_MODULE,
    VERSION_EXPORT,
    CallOutcome,
    ContextField,
    Runtime,
)

CALL_GAS = 10_000_000
_FIELD_TYPES = {
    "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
    "uint32": descriptor_pb2.FieldDescriptorProto.TYPE_UINT32,
    "uint64": descriptor_pb2.FieldDescriptorProto.TYPE_UINT64,
    "int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
    "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    "bytes": descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
}


def message_class(fields: Sequence[tuple[str, str]]) -> type[Message]:
    """The proto3 message of an argument list: field n is the n-th (name, type)."""
    file = descriptor_pb2.FileDescriptorProto(name="fields.proto", package="t", syntax="proto3")
    message = file.message_type.add(name="Fields")
    for number, (name, type_name) in enumerate(fields, start=1):
        message.field.add(
            name=name,
            number=number,
            type=_FIELD_TYPES[type_name],
            label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
        )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("t.Fields"))


def encode(fields: Sequence[tuple[str, str]], **values: Any) -> bytes:
    return message_class(fields)(**values).SerializeToString()


def decode(fields: Sequence[tuple[str, str]], data: bytes) -> dict[str, Any]:
    message = message_class(fields)()
    message.ParseFromString(data)
    return {name: getattr(message, name) for name, _ in fields}


def interface_fields(built: Built, method: str, part: str) -> list[tuple[str, str]]:
    """A method's `arguments` or `returns` as (name, type), from the built interface file."""
    interface = json.loads(built.interface.read_text(encoding="utf-8"))
    (entry,) = [entry for entry in interface["methods"] if entry["name"] == method]
    return [(field["name"], field["type"]) for field in entry[part]]


def event_fields(built: Built, event: str) -> list[tuple[str, str]]:
    interface = json.loads(built.interface.read_text(encoding="utf-8"))
    (entry,) = [entry for entry in interface["events"] if entry["name"] == event]
    return [(field["name"], field["type"]) for field in entry["fields"]]


class Contract:
    """A built contract called through causeway.vm with a dict host (as a member `caller`)."""

    def __init__(self, runtime: Runtime, built: Built) -> None:
        self.runtime = runtime
        self.built = built
        self.code = built.module.read_bytes()
        self.code_hash = hashlib.sha256(self.code).digest()
        self.host = DictHost(runtime)
        self.host.fields[ContextField.CONTRACT] = built.module.stem.encode()

    def raw(self, method: str, input_data: bytes = b"", *, caller: str = "alice") -> CallOutcome:
        self.host.fields[ContextField.CALLER] = caller.encode()
        return self.runtime.call(
            self.code_hash,
            lambda: self.code,
            method,
            input_data=input_data,
            host=self.host,
            gas_available=CALL_GAS,
        )

    def call(self, method: str, *, caller: str = "alice", **arguments: Any) -> dict[str, Any]:
        """Calls a method with arguments encoded per the interface; its decoded result."""
        input_data = encode(interface_fields(self.built, method, "arguments"), **arguments)
        outcome = self.raw(method, input_data, caller=caller)
        assert outcome.status == "ok", outcome.message
        return decode(interface_fields(self.built, method, "returns"), outcome.return_data)

    def refused(self, method: str, *, caller: str = "alice", **arguments: Any) -> str:
        """Calls a method that must revert and change nothing; its message."""
        before = dict(self.host.state)
        events = len(self.host.events)
        input_data = encode(interface_fields(self.built, method, "arguments"), **arguments)
        outcome = self.raw(method, input_data, caller=caller)
        assert outcome.status == "reverted", outcome
        assert self.host.state == before
        assert len(self.host.events) == events
        return outcome.message

    def events(self, name: str) -> list[dict[str, Any]]:
        fields = event_fields(self.built, name)
        return [decode(fields, data) for event, data in self.host.events if event == name]


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return new_runtime()


def function_type(extern: object) -> tuple[tuple[str, ...], tuple[str, ...]]:
    assert isinstance(extern, wasmtime.FuncType), extern
    return (
        tuple(str(value) for value in extern.params),
        tuple(str(value) for value in extern.results),
    )


# -- what a build produces ------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*assemblyscript.TEMPLATES, "probe"])
def test_a_built_module_imports_only_abi_functions_with_their_exact_signatures(
    built: dict[str, Built], name: str
) -> None:
    module = wasmtime.Module(wasmtime.Engine(), built[name].module.read_bytes())
    assert module.imports, "a contract reads its input through the host"
    for imported in module.imports:
        assert imported.module == HOST_MODULE
        assert imported.name in HOST_FUNCTIONS
        assert function_type(imported.type) == HOST_FUNCTIONS[imported.name], imported.name


def test_the_sdk_declares_every_abi_function_with_its_exact_signature(
    built: dict[str, Built],
) -> None:
    # The probe calls every helper of the SDK, so its module imports the whole ABI.
    module = wasmtime.Module(wasmtime.Engine(), built["probe"].module.read_bytes())
    imports = {imported.name: function_type(imported.type) for imported in module.imports}
    assert imports == HOST_FUNCTIONS


@pytest.mark.parametrize("name", [*assemblyscript.TEMPLATES, "probe"])
def test_a_built_module_exports_memory_the_marker_and_every_interface_method(
    built: dict[str, Built], runtime: Runtime, name: str
) -> None:
    code = built[name].module.read_bytes()
    module = wasmtime.Module(wasmtime.Engine(), code)
    exports = {exported.name: exported.type for exported in module.exports}
    assert isinstance(exports.pop("memory"), wasmtime.MemoryType)
    interface = json.loads(built[name].interface.read_text(encoding="utf-8"))
    methods = {method["name"] for method in interface["methods"]}
    # Nothing else: the project's asconfig.json (the probe's asks for exportRuntime) is ignored.
    assert set(exports) == methods | {VERSION_EXPORT}
    for exported in exports.values():
        assert function_type(exported) == ((), ())
    # And the chain's deployment checks take it.
    summary = runtime.check(code)
    assert set(summary.methods) == methods - {"init", "migrate"}
    assert summary.has_init == ("init" in methods)


@pytest.mark.parametrize("name", assemblyscript.TEMPLATES)
def test_the_build_copies_the_interface_beside_the_module(
    built: dict[str, Built], name: str
) -> None:
    assert built[name].module == built[name].project / "build" / f"{name}.wasm"
    assert built[name].interface == built[name].project / "build" / f"{name}.interface.json"
    assert (
        built[name].interface.read_bytes() == (built[name].project / "interface.json").read_bytes()
    )
    assert not list((built[name].project / "build").glob("*.partial.wasm"))


def test_a_source_that_does_not_compile_gives_the_compilers_message_and_keeps_the_last_build(
    built: dict[str, Built], toolchain: assemblyscript.Toolchain, tmp_path: Path
) -> None:
    project = tmp_path / "counter"
    shutil.copytree(built["counter"].project, project)
    last_build = (project / "build" / "counter.wasm").read_bytes()
    source = project / "assembly" / "index.ts"
    source.write_text(
        source.read_text(encoding="utf-8") + "\nexport function broken(): void { missing(); }\n",
        encoding="utf-8",
    )
    with pytest.raises(ToolchainError, match="the AssemblyScript compiler failed") as raised:
        assemblyscript.build(project, toolchain)
    assert raised.value.reason == "build_failed"
    assert "Cannot find name 'missing'" in raised.value.message
    assert "assembly/index.ts" in raised.value.message
    assert (project / "build" / "counter.wasm").read_bytes() == last_build
    assert not list((project / "build").glob("*.partial.wasm"))


def test_a_project_without_an_interface_file_is_refused_before_compiling(tmp_path: Path) -> None:
    project = assemblyscript.new_project("counter", "counter", tmp_path / "counter")
    (project / "interface.json").unlink()
    never_run = assemblyscript.Toolchain(tmp_path / "absent", tmp_path / "absent" / "node")
    with pytest.raises(RequestError, match=r"has no interface\.json"):
        assemblyscript.build(project, never_run)
    assert not (project / "build").exists()


@pytest.mark.parametrize(
    ("interface", "expected"),
    [
        ("not json", "the interface is not JSON"),
        ("[]", "the interface must be a JSON object"),
        ('{"abi": 2, "name": "counter"}', 'the interface must say "abi": 1'),
        ('{"abi": 1, "name": "../up"}', "the interface's name must be 1 to 64 letters"),
        ('{"abi": 1, "name": "counter", "methods": {}}', "the interface's methods must be a list"),
        ('{"abi": 1, "name": "counter", "methods": [{"name": "a-b"}]}', "a method has no valid"),
    ],
)
def test_a_malformed_interface_file_is_refused_before_compiling(
    tmp_path: Path, interface: str, expected: str
) -> None:
    project = assemblyscript.new_project("counter", "counter", tmp_path / "counter")
    (project / "interface.json").write_text(interface, encoding="utf-8")
    never_run = assemblyscript.Toolchain(tmp_path / "absent", tmp_path / "absent" / "node")
    with pytest.raises(
        RequestError, match=f"^{re.escape(str(project))}/interface.json: {expected}"
    ):
        assemblyscript.build(project, never_run)
    assert not (project / "build").exists()


def test_a_project_without_its_source_is_refused(tmp_path: Path) -> None:
    project = assemblyscript.new_project("counter", "counter", tmp_path / "counter")
    (project / "assembly" / "index.ts").unlink()
    never_run = assemblyscript.Toolchain(tmp_path / "absent", tmp_path / "absent" / "node")
    with pytest.raises(RequestError, match=r"has no assembly/index\.ts"):
        assemblyscript.build(project, never_run)
    with pytest.raises(RequestError, match="is not a contract project"):
        assemblyscript.build(tmp_path / "nowhere", never_run)


# -- new_project ------------------------------------------------------------------------------


@pytest.mark.parametrize("template", assemblyscript.TEMPLATES)
def test_new_project_writes_a_self_contained_project(tmp_path: Path, template: str) -> None:
    project = assemblyscript.new_project(template, "my_contract", tmp_path / "work" / "mine")
    assert project == tmp_path / "work" / "mine"
    files = {path.relative_to(project).as_posix() for path in project.rglob("*")}
    assert {
        "interface.json",
        "assembly/index.ts",
        "assembly/causeway/index.ts",
        "assembly/causeway/abi.ts",
        "assembly/causeway/wire.ts",
        "assembly/causeway/revert.ts",
    } <= files
    assert not any("node_modules" in name for name in files)
    assert not any(name.startswith("build") for name in files)
    interface = json.loads((project / "interface.json").read_text(encoding="utf-8"))
    assert interface["name"] == "my_contract"
    assert interface["abi"] == 1
    # Nothing is left beside it (the staging folder is gone).
    assert [path.name for path in (tmp_path / "work").iterdir()] == ["mine"]


def test_new_project_refuses_an_unknown_template_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(RequestError, match=r"no AssemblyScript template 'vault'.*counter"):
        assemblyscript.new_project("vault", "vault", tmp_path / "vault")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["", "my-token", "1st", "a/b", "x" * 65, "naïve"])
def test_new_project_refuses_a_contract_name_the_interface_cannot_have(
    tmp_path: Path, name: str
) -> None:
    with pytest.raises(RequestError, match="interface's name must be 1 to 64 letters"):
        assemblyscript.new_project("counter", name, tmp_path / "project")
    assert not list(tmp_path.iterdir())


def test_new_project_refuses_a_folder_that_is_not_empty_and_takes_an_empty_one(
    tmp_path: Path,
) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(RequestError, match="exists and is not an empty folder"):
        assemblyscript.new_project("counter", "counter", taken)
    assert [path.name for path in taken.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assemblyscript.new_project("counter", "counter", empty)
    assert (empty / "interface.json").is_file()


# -- install ----------------------------------------------------------------------------------


def fake_program(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{script}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_install_without_node_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolchainError, match=r"node is not installed.*toolchain-assemblyscript"):
        assemblyscript.install(tmp_path / "toolchains")
    assert not (tmp_path / "toolchains").exists()


def test_install_refuses_a_node_older_than_the_compiler_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_program(tmp_path, "node", "echo v16.20.2")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolchainError, match=r"'v16\.20\.2'; AssemblyScript 0\.28\.20 needs 18"):
        assemblyscript.install(tmp_path / "toolchains")


def test_a_failed_npm_install_is_reported_and_never_taken_for_an_installed_toolchain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_program(tmp_path, "node", "echo v20.20.2")
    fake_program(tmp_path, "npm", "echo 'npm ERR! network unreachable' >&2; exit 1")
    monkeypatch.setenv("PATH", str(tmp_path))
    root = tmp_path / "toolchains"
    with pytest.raises(ToolchainError, match=r"npm ci could not install(.|\n)*network unreachable"):
        assemblyscript.install(root)
    assert not assemblyscript.toolchain_folder(root).exists()


def test_the_shared_folder_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(assemblyscript.TOOLCHAINS_VARIABLE, str(tmp_path))
    assert assemblyscript.toolchain_folder() == tmp_path / "assemblyscript-0.28.20"
    monkeypatch.delenv(assemblyscript.TOOLCHAINS_VARIABLE)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert assemblyscript.toolchain_folder() == (
        tmp_path / "home" / ".cache" / "causeway" / "toolchains" / "assemblyscript-0.28.20"
    )


def test_an_installed_toolchain_is_found_without_npm(
    toolchain: assemblyscript.Toolchain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only node on the PATH: an installed toolchain needs no npm and no network.
    node_only = tmp_path / "bin"
    node_only.mkdir()
    link = node_only / "node"
    link.symlink_to(toolchain.node)
    monkeypatch.setenv("PATH", str(node_only))
    root = toolchain.folder.parent
    assert assemblyscript.install(root) == assemblyscript.Toolchain(toolchain.folder, link)
    assert toolchain.compiler.is_file()
    lock = json.loads((toolchain.folder / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"]["node_modules/assemblyscript"]["version"] == "0.28.20"
    assert lock["packages"]["node_modules/assemblyscript"]["integrity"].startswith("sha512-")
    assert os.access(toolchain.compiler, os.R_OK)


# -- the templates, run by causeway.vm -------------------------------------------------------


def test_the_counter_starts_where_init_says_and_increments(
    built: dict[str, Built], runtime: Runtime
) -> None:
    counter = Contract(runtime, built["counter"])
    assert counter.call("init", start=41) == {}
    assert counter.call("get") == {"value": 41}
    assert counter.call("increment") == {"value": 42}
    assert counter.call("increment") == {"value": 43}
    assert counter.call("get") == {"value": 43}
    # The state the contract keeps: one u64, little-endian.
    assert counter.host.state == {b"count": (43).to_bytes(8, "little")}


def test_the_counter_refuses_to_pass_its_maximum(built: dict[str, Built], runtime: Runtime) -> None:
    counter = Contract(runtime, built["counter"])
    counter.call("init", start=2**64 - 1)
    assert counter.refused("increment") == "the counter is at its maximum"


def test_the_token_mints_to_its_deployer_and_transfers_with_events(
    built: dict[str, Built], runtime: Runtime
) -> None:
    token = Contract(runtime, built["token"])
    token.call("init", caller="alice", supply=1_000)
    assert token.call("total_supply") == {"amount": 1_000}
    assert token.call("balance", owner="alice") == {"amount": 1_000}
    token.call("transfer", caller="alice", to="bob", amount=300)
    token.call("transfer", caller="bob", to="carol", amount=100)
    token.call("transfer", caller="carol", to="carol", amount=100)
    balances = {
        owner: token.call("balance", owner=owner)["amount"]
        for owner in ("alice", "bob", "carol", "dave")
    }
    assert balances == {"alice": 700, "bob": 200, "carol": 100, "dave": 0}
    assert token.events("transfer") == [
        {"from": "", "to": "alice", "amount": 1_000},
        {"from": "alice", "to": "bob", "amount": 300},
        {"from": "bob", "to": "carol", "amount": 100},
        {"from": "carol", "to": "carol", "amount": 100},
    ]


def test_the_token_refuses_a_transfer_above_the_balance_with_its_message(
    built: dict[str, Built], runtime: Runtime
) -> None:
    token = Contract(runtime, built["token"])
    token.call("init", caller="alice", supply=1_000)
    message = token.refused("transfer", caller="alice", to="bob", amount=1_001)
    assert message == "transfer: insufficient balance: alice has 1000, needs 1001"
    assert token.refused("transfer", caller="mallory", to="bob", amount=1) == (
        "transfer: insufficient balance: mallory has 0, needs 1"
    )
    assert token.refused("transfer", caller="alice", to="", amount=1) == (
        "transfer: the recipient is empty"
    )


def test_the_token_refuses_a_malformed_input_with_a_clear_message(
    built: dict[str, Built], runtime: Runtime
) -> None:
    token = Contract(runtime, built["token"])
    token.call("init", caller="alice", supply=1_000)
    # Field 2 (amount) as a truncated varint.
    outcome = token.raw("transfer", b"\x0a\x03bob\x10\xff")
    assert outcome.status == "reverted"
    assert outcome.message == "malformed input: field 2 ends early"
    # The amount sent as a string.
    outcome = token.raw("transfer", b"\x0a\x03bob\x12\x011")
    assert outcome.message == ("malformed input: field 2 (uint64) has wire type 2, not a varint")


def test_the_registry_registers_updates_by_owner_only_and_pages_its_list(
    built: dict[str, Built], runtime: Runtime
) -> None:
    registry = Contract(runtime, built["registry"])
    names = [f"name{index:02}" for index in range(23)]
    for name in reversed(names):
        registry.call("register", caller="alice", name=name, value=f"value of {name}")
    registry.call("register", caller="bob", name="zebra", value="bob's")
    assert registry.call("get", name="name07") == {"owner": "alice", "value": "value of name07"}
    assert registry.refused("register", caller="bob", name="name07", value="mine") == (
        "register: name07 is already registered"
    )
    assert registry.refused("update", caller="bob", name="name07", value="mine") == (
        "update: name07 belongs to alice"
    )
    assert registry.refused("update", caller="bob", name="nobody", value="x") == (
        "update: nobody is not registered"
    )
    assert registry.refused("get", name="nobody") == "get: nobody is not registered"
    registry.call("update", caller="alice", name="name07", value="new")
    assert registry.call("get", name="name07") == {"owner": "alice", "value": "new"}
    assert registry.events("updated") == [{"name": "name07", "owner": "alice", "value": "new"}]
    assert len(registry.events("registered")) == 24
    # Paging: 10 a page, in name order, each page's `next` is the next page's start.
    pages: list[list[str]] = []
    start_after = ""
    while True:
        page = registry.call("list", start_after=start_after, limit=10)
        pages.append(page["names"].split("\n"))
        if not page["next"]:
            break
        assert page["next"] == pages[-1][-1]
        start_after = page["next"]
    assert [len(page) for page in pages] == [10, 10, 4]
    assert [name for page in pages for name in page] == [*names, "zebra"]
    # The default page is 10; the limit is bounded.
    assert registry.call("list")["names"].split("\n") == names[:10]
    assert registry.call("list", start_after="name21", limit=2) == {
        "names": "name22\nzebra",
        "next": "",
    }
    assert registry.refused("list", limit=101) == "list: the limit is at most 100"


def test_the_registry_refuses_a_bad_name(built: dict[str, Built], runtime: Runtime) -> None:
    registry = Contract(runtime, built["registry"])
    assert registry.refused("register", name="", value="x") == "the name must be 1 to 128 bytes"
    assert registry.refused("register", name="x" * 129, value="x") == (
        "the name must be 1 to 128 bytes"
    )
    assert registry.refused("register", name="a\nb", value="x") == (
        "the name must not contain a line break"
    )


# -- the SDK, through the probe contract -----------------------------------------------------

ALL_TYPES = [
    ("flag", "bool"),
    ("small", "uint32"),
    ("large", "uint64"),
    ("signed", "int64"),
    ("text", "string"),
    ("data", "bytes"),
]


@pytest.fixture
def probe(built: dict[str, Built], runtime: Runtime) -> Contract:
    return Contract(runtime, built["probe"])


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"flag": True, "small": 2**32 - 1, "large": 2**64 - 1, "signed": -(2**63)},
        {"signed": -1, "text": "héllo, 世界 🌍", "data": bytes(range(256)) * 3},
        {"small": 1, "large": 300, "signed": 2**63 - 1, "text": "x" * 1000},
    ],
)
def test_the_reader_and_the_writer_round_trip_every_type_in_protobufs_canonical_form(
    probe: Contract, values: dict[str, Any]
) -> None:
    canonical = encode(ALL_TYPES, **values)
    outcome = probe.raw("echo", canonical)
    assert outcome.status == "ok", outcome.message
    # The same bytes as protobuf's own: fields in order, defaults left out.
    assert outcome.return_data == canonical


def test_the_reader_takes_fields_in_any_order_skips_unknown_ones_and_keeps_the_last(
    probe: Contract,
) -> None:
    unknown = b"".join(
        [
            b"\x38\x05",  # field 7, varint
            b"\x41" + b"\x00" * 8,  # field 8, fixed64
            b"\x4a\x02zz",  # field 9, length-delimited
            b"\x55" + b"\x00" * 4,  # field 10, fixed32
        ]
    )
    shuffled = (
        encode(ALL_TYPES, text="first")
        + unknown
        + encode(ALL_TYPES, large=7)
        + encode(ALL_TYPES, flag=True)
        + encode(ALL_TYPES, text="last")
    )
    outcome = probe.raw("echo", shuffled)
    assert outcome.status == "ok", outcome.message
    assert decode(ALL_TYPES, outcome.return_data) == decode(
        ALL_TYPES, encode(ALL_TYPES, flag=True, large=7, text="last")
    )
    present = probe.raw("present", encode(ALL_TYPES, small=3, text="x"))
    assert decode([("mask", "uint32")], present.return_data) == {"mask": 0b10010}


@pytest.mark.parametrize(
    ("input_data", "message"),
    [
        (b"\x08", "field 1 ends early"),
        (b"\x80", "a field tag ends early"),
        (b"\x18" + b"\xff" * 9 + b"\x02", "field 3 is a varint above 64 bits"),
        (b"\x18" + b"\xff" * 10 + b"\x01", "field 3 is a varint above 64 bits"),
        (b"\x2a\x05abc", "field 5 is longer than the rest of the input"),
        (b"\x41\x00\x00", "field 8 is longer than the rest of the input"),
        (b"\x00\x01", "field number 0 is out of range"),
        (b"\x1b", "field 3 has wire type 3, which protobuf does not allow"),
        (b"\x08\x02", "field 1 (bool) is 2, not 0 or 1"),
        (b"\x10\x80\x80\x80\x80\x10", "field 2 (uint32) is 4294967296, above 2^32 - 1"),
        (b"\x2a\x02\xc3\x28", "field 5 (string) is not valid UTF-8"),
        (b"\x2a\x02\xc0\x80", "field 5 (string) is not valid UTF-8"),  # overlong
        (b"\x2a\x03\xed\xa0\x80", "field 5 (string) is not valid UTF-8"),  # a surrogate
        (b"\x0a\x01x", "field 1 (bool) has wire type 2, not a varint"),
        (b"\x30\x01", "field 6 (bytes) has wire type 0, not length-delimited"),
    ],
)
def test_a_malformed_input_reverts_with_what_is_wrong(
    probe: Contract, input_data: bytes, message: str
) -> None:
    outcome = probe.raw("echo", input_data)
    assert outcome.status == "reverted"
    assert outcome.message == f"malformed input: {message}"


def test_a_reader_over_other_bytes_names_them(probe: Contract) -> None:
    outcome = probe.raw("read_record", encode([("record", "bytes")], record=b"\x0a\x05ab"))
    assert outcome.status == "reverted"
    assert outcome.message == "malformed record: field 1 is longer than the rest of the record"


def test_the_context_reads_every_field(probe: Contract) -> None:
    # A caller past the first read's capacity takes the getter's second read.
    outcome = probe.raw("context", caller="m" * 300)
    assert outcome.status == "ok", outcome.message
    assert decode(
        [
            ("caller", "string"),
            ("contract", "string"),
            ("height", "uint64"),
            ("time", "uint64"),
            ("transaction", "bytes"),
            ("chain", "string"),
            ("organisation", "string"),
        ],
        outcome.return_data,
    ) == {
        "caller": "m" * 300,
        "contract": "probe",
        "height": 7,
        "time": 1_700_000_000_000,
        "transaction": b"\x01" * 32,
        "chain": "test-chain",
        "organisation": "org1",
    }


@pytest.mark.parametrize(("size", "page"), [(3, 2), (1000, 3), (1000, 100)])
def test_state_put_get_remove_and_range_in_pages_with_long_values(
    probe: Contract, size: int, page: int
) -> None:
    fields = [("count", "uint32"), ("size", "uint32"), ("page", "uint32")]
    outcome = probe.raw("store", encode(fields, count=8, size=size, page=page))
    assert outcome.status == "ok", outcome.message
    result = decode(
        [("keys", "string"), ("total", "uint64"), ("has_first", "bool"), ("last", "bytes")],
        outcome.return_data,
    )
    assert result == {
        "keys": "".join(f"item/{index}," for index in range(1, 8)),
        "total": 7 * size,
        "has_first": False,
        "last": bytes([65 + 7]) * size,
    }
    assert set(probe.host.state) == {f"item/{index}".encode() for index in range(1, 8)}


def test_hash_and_verify_signature_reach_the_host(probe: Contract) -> None:
    fields = [("data", "bytes"), ("key", "bytes"), ("message", "bytes"), ("signature", "bytes")]
    results = [("digest", "bytes"), ("valid", "bool")]
    good = hashlib.sha256(b"key" + b"message").digest()
    for signature, valid in [(good, True), (b"\x00" * 32, False)]:
        outcome = probe.raw(
            "crypto",
            encode(fields, data=b"abc", key=b"key", message=b"message", signature=signature),
        )
        assert outcome.status == "ok", outcome.message
        assert decode(results, outcome.return_data) == {
            "digest": hashlib.sha256(b"abc").digest(),
            "valid": valid,
        }


@pytest.mark.parametrize("answer", [(1, b"x" * 400), (3, b"the callee refused")])
def test_call_passes_its_arguments_and_reads_the_whole_result(
    probe: Contract, answer: tuple[int, bytes]
) -> None:
    probe.host.call_answer = answer
    fields = [("contract", "string"), ("method", "string"), ("input", "bytes"), ("gas", "uint64")]
    outcome = probe.raw(
        "forward", encode(fields, contract="other", method="go", input=b"\x08\x01", gas=5_000)
    )
    assert outcome.status == "ok", outcome.message
    assert probe.host.calls == [("other", "go", b"\x08\x01", 5_000)]
    assert decode(
        [("status", "int64"), ("ok", "bool"), ("data", "bytes")], outcome.return_data
    ) == {"status": answer[0], "ok": answer[0] == 1, "data": answer[1]}


def test_emit_sends_the_name_and_the_data(probe: Contract) -> None:
    fields = [("name", "string"), ("text", "string")]
    outcome = probe.raw("announce", encode(fields, name="hi", text="there"))
    assert outcome.status == "ok", outcome.message
    assert probe.host.events == [("hi", b"\x12\x05there")]


def test_input_gives_the_raw_bytes(probe: Contract) -> None:
    assert probe.raw("raw", b"\xff\x00anything").return_data == b"\xff\x00anything"
    assert probe.raw("raw").return_data == b""


@pytest.mark.parametrize(
    ("method", "input_data", "message"),
    [
        # AssemblyScript's abort is routed to revert, with its message and place.
        ("fail_assert", b"", r"the probe asserts \(assembly/index\.ts:\d+:\d+\)"),
        ("fail_index", b"\x08\x05", r"Index out of range \(~lib/array\.ts:\d+:\d+\)"),
        (
            "fail_order",
            b"",
            "Writer: field 1 after field 2; fields go in increasing number",
        ),
        ("fail_revert", b"\x0a\x03why", "refused: why"),
    ],
)
def test_failures_revert_with_a_message(
    probe: Contract, method: str, input_data: bytes, message: str
) -> None:
    outcome = probe.raw(method, input_data)
    assert outcome.status == "reverted"
    assert re.fullmatch(message, outcome.message), outcome.message
