"""`causeway contract` and user-contract --args without a node: files found and read, arguments
turned into interface values, signatures shown, and bad input refused before any connection
(the commands are pointed at a port where nothing listens: a refusal that names the input shows
nothing was tried). tests/e2e/test_e2e_user_contracts.py runs the commands against a node."""

from __future__ import annotations

from pathlib import Path

import pytest
from tally_contract import tally_interface, write_tally
from typer.testing import CliRunner

from causeway.cli import contract_commands
from causeway.cli.arguments import (
    NATIVE_CONTRACTS,
    interface_values_from_json,
    is_native_contract,
    values_to_data,
)
from causeway.cli.contract_commands import (
    find_interface,
    interface_candidates,
    read_wasm,
    signature_text,
)
from causeway.cli.main import app
from causeway.errors import LimitExceededError, RequestError
from causeway.provisioning import init_network
from causeway.types.interface import parse_interface

INTERFACE = parse_interface(tally_interface(2))
ECHO = INTERFACE.methods["echo"].arguments
UNREACHABLE = ["--node", "127.0.0.1:1"]
runner = CliRunner()


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("contract-cli") / "net"
    init_network(directory, 2, "intl", "solo")
    return directory


def _admin(network: Path) -> list[str]:
    return [
        "-i",
        str(network / "organisations/org1/members/admin"),
        "-e",
        str(network / "organisations/org2/members/admin"),
    ]


def test_the_native_contracts_are_the_table_s() -> None:
    assert {
        "kv",
        "ledger",
        "config",
        "membership",
        "validators",
        "evidence",
        "nodes",
    } == NATIVE_CONTRACTS
    assert is_native_contract("kv") and not is_native_contract("tally")


def test_interface_values_take_json_scalars_and_bytes_in_every_form() -> None:
    values = interface_values_from_json(
        ECHO,
        {"text": "hi", "flag": True, "offset": -2, "blob": {"hex": "00ff"}},
        "tally.echo",
    )
    assert values == {"text": "hi", "flag": True, "offset": -2, "blob": b"\x00\xff"}
    for form, expected in (
        ({"text": "abc"}, b"abc"),
        ({"base64": "AP8="}, b"\x00\xff"),
        ("AP8=", b"\x00\xff"),
    ):
        assert interface_values_from_json(ECHO, {"blob": form}, "tally.echo") == {"blob": expected}
    assert interface_values_from_json(ECHO, None, "tally.echo") == {}


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (
            {"txt": "x", "zz": 1},
            "tally.echo has no argument 'txt', 'zz' in its interface (its arguments: text "
            "(string), flag (bool), blob (bytes), offset (int64))",
        ),
        ([1], "--args for tally.echo must be a JSON object"),
        ({"blob": {"hex": "0g"}}, "'0g' is not hex"),
        ({"blob": "!!"}, "'!!' is not base64"),
        ({"blob": {"utf8": "x"}}, 'expected a string or one of {"hex": ...}'),
        ({"blob": 5}, 'expected a string or one of {"hex": ...}'),
    ],
)
def test_bad_interface_values_are_named(value: object, says: str) -> None:
    with pytest.raises(RequestError) as refused:
        interface_values_from_json(ECHO, value, "tally.echo")
    assert says in refused.value.message


def test_values_are_shown_as_data() -> None:
    values = {"text": "hi", "blob": b"\x00\xff", "word": b"abc", "count": 3}
    assert values_to_data(values, readable=False) == {
        "text": "hi",
        "blob": "00ff",
        "word": "616263",
        "count": 3,
    }
    assert values_to_data(values, readable=True)["blob"] == "0x00ff"
    assert values_to_data(values, readable=True)["word"] == "abc"


def test_signatures_show_argument_and_return_types() -> None:
    assert signature_text(INTERFACE.methods["add"]) == "add(amount: uint64) -> (total: uint64)"
    assert signature_text(INTERFACE.methods["fail"]) == "fail()"


def test_the_interface_is_found_beside_the_module_or_in_its_build_folder(tmp_path: Path) -> None:
    built = write_tally(tmp_path / "project" / "build")
    assert find_interface(built, "tally", None) == built.with_name("tally.interface.json")
    project = tmp_path / "project"
    loose = project / "tally.wasm"
    loose.write_bytes(built.read_bytes())
    assert find_interface(loose, "other", None) == project / "build" / "tally.interface.json"
    named = tmp_path / "named"
    write_tally(named, stem="counter")
    module = named / "module.wasm"
    module.write_bytes(b"\0asm")
    assert find_interface(module, "counter", None) == named / "counter.interface.json"
    given = tmp_path / "given.json"
    assert find_interface(loose, "tally", given) == given
    lonely = tmp_path / "lonely" / "lonely.wasm"
    with pytest.raises(RequestError, match="give one with --interface FILE") as missing:
        find_interface(lonely, "tally", None)
    for candidate in interface_candidates(lonely, "tally"):
        assert str(candidate) in missing.value.message


def test_only_a_webassembly_module_of_bounded_size_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = tmp_path / "notes.wasm"
    text.write_text("hello")
    with pytest.raises(RequestError, match="not a WebAssembly module"):
        read_wasm(text)
    with pytest.raises(RequestError, match="cannot read"):
        read_wasm(tmp_path / "missing.wasm")
    monkeypatch.setattr(contract_commands, "WASM_FILE_BYTES_MAX", 4)
    big = tmp_path / "big.wasm"
    big.write_bytes(b"\0asm\x01")
    with pytest.raises(LimitExceededError, match="larger than the limit of 4 bytes"):
        read_wasm(big)


def _refusals(network: Path, tmp: Path) -> list[tuple[list[str], str]]:
    wasm = write_tally(tmp / "build")
    bad_interface = tmp / "bad.interface.json"
    bad_interface.write_text('{"abi": 2}')
    client = ["-i", str(network / "organisations/org1/members/client")]
    deploy = ["contract", "deploy", str(wasm), "--name", "tally", *_admin(network)]
    return [
        (
            [*deploy, "--init-args", '{"begin": 1}'],
            "tally.init has no argument 'begin' in its interface (its arguments: start (uint64))",
        ),
        ([*deploy, "--init-args", "{nope"], "--init-args is not valid JSON"),
        ([*deploy, "--interface", str(bad_interface)], 'must say "abi": 1'),
        (
            ["contract", "deploy", str(tmp / "missing.wasm"), "--name", "t", *_admin(network)],
            "cannot read",
        ),
        (
            [
                "contract",
                "upgrade",
                str(wasm),
                "--name",
                "tally",
                *_admin(network),
                "--migrate-args",
                '{"bonus": 1}',
            ],
            "--migrate-args is given, but the interface of tally has no migrate entry",
        ),
        (
            ["contract", "freeze", "tally", "-i", str(tmp / "nobody")],
            "cannot read",
        ),
        (["tx", "send", *client, "-c", "tally", "-m", "add", "--args", "{bad"], "not valid JSON"),
        (["query", *client, "-c", "tally", "-m", "add", "--args", "[1"], "not valid JSON"),
    ]


def test_bad_input_is_refused_before_connecting(network: Path, tmp_path: Path) -> None:
    for arguments, says in _refusals(network, tmp_path):
        result = runner.invoke(app, [*arguments, *UNREACHABLE])
        label = " ".join(arguments)
        assert result.exit_code == 1, (label, result.output)
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (label, result.stderr)
        assert says in lines[0], (label, lines[0])


def test_an_unreachable_node_is_one_line_too(network: Path, tmp_path: Path) -> None:
    wasm = write_tally(tmp_path / "build")
    for arguments in (
        ["contract", "deploy", str(wasm), "--name", "tally", *_admin(network)],
        ["contract", "show", "tally"],
        [
            "tx",
            "send",
            "-i",
            str(network / "organisations/org1/members/client"),
            "-c",
            "tally",
            "-m",
            "add",
        ],
    ):
        result = runner.invoke(app, [*arguments, *UNREACHABLE])
        assert result.exit_code == 1, result.output
        (line,) = result.stderr.splitlines()
        assert line.startswith("error: ") and "Traceback" not in result.output


def test_the_group_lists_its_commands() -> None:
    result = runner.invoke(app, ["contract", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for command in ("deploy", "upgrade", "freeze", "unfreeze", "revoke", "list", "show"):
        assert command in result.output
