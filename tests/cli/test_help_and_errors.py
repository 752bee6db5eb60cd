"""The CLI's surface: help with examples everywhere, and one-line errors with a non-zero exit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import causeway.provisioning
from causeway.cli.main import app
from causeway.errors import ConfigurationError
from causeway.provisioning import init_network

runner = CliRunner()


def _command_paths() -> Iterator[list[str]]:
    root = typer.main.get_command(app)

    def walk(command: object, path: list[str]) -> Iterator[list[str]]:
        yield path
        for name, child in sorted(getattr(command, "commands", {}).items()):
            yield from walk(child, [*path, name])

    yield from walk(root, [])


COMMAND_PATHS = list(_command_paths())


def test_every_command_is_there() -> None:
    names = {" ".join(path) for path in COMMAND_PATHS}
    assert {
        "",
        "init",
        "node start",
        "tx send",
        "tx get",
        "query",
        "block get",
        "state get",
        "proof verify",
        "status",
        "bench",
        "hub register",
        "hub members",
        "interchain client create",
        "interchain client update",
        "interchain client status",
        "interchain client recover",
        "interchain client counterparty",
        "interchain port bind",
        "transfer send",
        "bank balance",
        "bank issue",
        "packet status",
        "packet list",
    } <= names


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda path: " ".join(path) or "causeway")
def test_help_has_an_example(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert f"causeway {' '.join(path)}".strip() in result.output


@pytest.fixture(scope="module")
def member(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cli") / "net"
    init_network(directory, 1, "intl", "solo")
    return directory / "organisations/org1/members/client"


def _bad_arguments(member: Path, tmp: Path) -> list[tuple[list[str], int]]:
    non_empty = tmp / "non-empty"
    non_empty.mkdir()
    (non_empty / "file").write_text("x")
    not_json = tmp / "not.json"
    not_json.write_text("{nope")
    identity = ["-i", str(member)]
    unreachable = ["--node", "127.0.0.1:1"]
    return [
        (["init"], 2),
        (["init", str(tmp / "a"), "--orgs", "0"], 2),
        (["init", str(tmp / "a"), "--crypto", "rot13"], 2),
        (["init", str(tmp / "a"), "--algorithm", "sm2"], 1),
        (["init", str(tmp / "a"), "--chain-id", "two words"], 1),
        (["init", str(non_empty)], 1),
        (["frobnicate"], 2),
        (["tx", "send", "-c", "kv", "-m", "put"], 2),
        (["tx", "send", *identity, "-c", "kv", "-m", "put", "--args", "{bad"], 1),
        (["tx", "send", *identity, "-c", "kv", "-m", "nope"], 1),
        (["tx", "send", *identity, "-c", "ledger", "-m", "issue", "--args", '{"amont": 1}'], 1),
        (["tx", "send", "-i", str(tmp / "missing"), "-c", "kv", "-m", "put"], 1),
        (["tx", "send", *identity, "-c", "kv", "-m", "put", *unreachable], 1),
        (["tx", "get", "zz"], 1),
        (["tx", "get", "abcd"], 1),
        (["block", "get", "abc"], 1),
        (["block", "get", "0"], 1),
        (["state", "get", "zz", "--hex"], 1),
        (["state", "get", "colour", "--kv", *unreachable], 1),
        (["proof", "verify", str(tmp / "missing.json")], 1),
        (["proof", "verify", str(not_json)], 1),
        (["status", *unreachable], 1),
        (["query", *identity, "-c", "kv", "-m", "get", "--args", "[1]"], 1),
        (["bench"], 1),
        (["bench", "--workload", "nope", *identity], 1),
        (["bench", "--transactions", "0", *identity], 2),
        (["node", "start", "--home", str(tmp)], 1),
        (["node", "start"], 2),
    ]


def test_bad_arguments_give_one_line_and_a_non_zero_exit(member: Path, tmp_path: Path) -> None:
    for arguments, expected_code in _bad_arguments(member, tmp_path):
        result = runner.invoke(app, arguments)
        label = " ".join(arguments)
        assert result.exit_code == expected_code, (label, result.output)
        assert "Traceback" not in result.output, label
        lines = result.stderr.splitlines()
        assert len(lines) == 1, (label, result.stderr)
        assert lines[0].startswith("error: "), (label, lines)
        assert len(lines[0]) > len("error: ") + 5, label


_NODE_OPTION = "error: Invalid value for '--node' / '-n' (env var: 'CAUSEWAY_NODE'): node address"
_EXAMPLE = "(give HOST:PORT, e.g. 127.0.0.1:7050)"


@pytest.mark.parametrize(
    ("command", "line"),
    [
        (
            ["status", "--node", "127.0.0.1:99999"],
            f"{_NODE_OPTION} '127.0.0.1:99999': port 99999 is not between 1 and 65535 "
            "(see 'causeway status --help')",
        ),
        (
            ["block", "get", "1", "--node", "127.0.0.1:0"],
            f"{_NODE_OPTION} '127.0.0.1:0': port 0 is not between 1 and 65535 "
            "(see 'causeway block get --help')",
        ),
        (
            ["status", "--node", "127.0.0.1:x"],
            f"{_NODE_OPTION} '127.0.0.1:x': port 'x' is not a number {_EXAMPLE} "
            "(see 'causeway status --help')",
        ),
        (
            ["status", "--node", ":7050"],
            f"{_NODE_OPTION} ':7050' has no host {_EXAMPLE} (see 'causeway status --help')",
        ),
    ],
)
def test_a_bad_node_address_is_a_usage_error_before_any_connection(
    command: list[str], line: str
) -> None:
    result = runner.invoke(app, command)
    assert result.exit_code == 2
    assert result.stderr == line + "\n"


def test_bench_refuses_a_bad_node_address(member: Path) -> None:
    result = runner.invoke(app, ["bench", "--identity", str(member), "--node", "127.0.0.1:99999"])
    assert result.exit_code == 2
    assert "node address '127.0.0.1:99999': port 99999 is not between 1 and 65535" in result.stderr


def test_debug_shows_the_exception(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    result = runner.invoke(app, ["--debug", "init", str(tmp_path)])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigurationError)


def test_unexpected_errors_are_one_line_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*arguments: object, **options: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(causeway.provisioning, "init_network", explode)
    result = runner.invoke(app, ["init", str(tmp_path / "net")])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: unexpected RuntimeError: boom (run with --debug for the traceback)"
    ]


def test_no_arguments_shows_help() -> None:
    result = runner.invoke(app, [])
    assert "Usage" in result.output
    assert "error" not in result.stderr
