"""Every command that README.md and docs/ show, run for real against a network made here.

The project's rule: a doc that shows commands is tested by running them. Each line of a fenced
``sh`` block of README.md or docs/**/*.md (see markdown_commands.py) is run here, in order, or is
listed in NOT_RUN with the reason; a line that is neither fails the test, and so does a NOT_RUN
entry that no document shows any more. A fenced block without a tag that shows a ``causeway`` line
fails too: examples are tagged ``sh`` and run, synopses are tagged ``text`` and only checked.
Every ``--option`` (and short ``-o``) that a documented ``causeway`` line uses, run or not, must be
listed by that command's ``--help``.

Scenarios: README.md and docs/cli.md are each one story told in one fresh folder (a later line uses
what an earlier one made: the network, the proof file, the transaction id); each block of a
document in RECIPE_DOCUMENTS is a recipe of its own, in its own folder, and so is each chapter of a
document in CHAPTER_DOCUMENTS (docs/operations.md). A scenario's node is the
one its ``causeway node start`` line starts, as a child process through the installed console
script; it is stopped (SIGTERM, then SIGKILL) when the scenario ends, whatever happened.

How a documented line becomes the command that runs: SUBSTITUTIONS, in order (each says why), and
- every ``causeway init`` without ``--port-base`` gets ``--port-base <the scenario's base>``: a free
  block of ports from 20000 up, so that no node here ever takes 7050/8050 from a user's devnet;
- every ``causeway bench`` without ``--transactions`` gets the shrunk number of the substitution
  that shrinks the documented ones (its default, 10,000, is a load test, not a check);
- every command runs with ``CAUSEWAY_NODE`` set to the scenario's node, which is what a line
  without ``--node`` (default 127.0.0.1:7050) means in the docs;
- a file that a line reads but the docs never make (PREPARED_FILES) is written just before it.

The ``causeway`` lines run in this process through the Typer app that the console script calls
(argument parsing, the command, its output and exit status are the real ones): a new interpreter
per line costs 2-3 s on the shared 2-core machine, which would put the test far beyond its budget
of about 90 s (docs/contracts.md's tutorial is most of it: its contract builds take 3 to 8 s
each). Every line must exit 0 and print what shows it worked (CHECKS, by command), and what the
docs show of its output when they do (SHOWN); a line the docs show failing (REFUSED) must exit with
the status they give and print their message. A ``.venv/bin/python SCRIPT`` line
(bench/local_network.py) is a loop of its own in a folder of its own: it starts as a child process
when the test starts, so that it overlaps the other lines, and is checked (and stopped, whatever
happens) at its turn.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import typer
from devnet_harness import free_port_base
from markdown_commands import (
    RUN_TAGS,
    DocumentedCommand,
    documented_commands,
    untagged_causeway_blocks,
)
from tally_contract import write_tally
from typer.testing import CliRunner

from causeway.cli.main import app
from causeway.contracts.v1 import contracts_pb2
from causeway.errors import AuthenticationError, CausewayError
from causeway.node.config import load_node_config
from causeway.sdk import Client
from causeway.types import encode
from causeway.types.proposal_draft import DraftCall, ProposalDraft, proposal_draft_text
from causeway.types.v1 import types_pb2

pytestmark = pytest.mark.e2e

REPOSITORY = Path(__file__).resolve().parents[2]
# The lessons of docs/learn/ run in tests/learn/ instead, as a learner runs them: all in one
# folder, one after the other, each with its exercise checked before and after.
LESSONS_FOLDER = "docs/learn/"
DOCUMENTS = (
    "README.md",
    *sorted(
        path.relative_to(REPOSITORY).as_posix()
        for path in REPOSITORY.glob("docs/**/*.md")
        if not path.relative_to(REPOSITORY).as_posix().startswith(LESSONS_FOLDER)
    ),
)
# Documents whose blocks are independent recipes (each makes its own network in /tmp/...).
RECIPE_DOCUMENTS = frozenset({"docs/performance.md"})

LOOPBACK = "127.0.0.1"
PORTS_PER_NODE = 3  # gRPC, HTTP, peers
# Benchmarks run this many transactions instead of the documented 2,000-100,000.
BENCH_TRANSACTIONS = 300
BENCH_RATE = 2000
NODE_START_TIMEOUT_S = 45.0
NODE_STOP_TIMEOUT_S = 20.0
SCRIPT_TIMEOUT_S = 60.0
SCRIPT_PREFIX = ".venv/bin/python "
POLL_INTERVAL_S = 0.1
LOG_TAIL_LINES = 40

_DEVNET_REASON = (
    "a devnet of 3-4 validators takes about 60 s on the shared 2-core machine (measured for 4 "
    "tbft validators: up 20 s, status 7 s, restart 16 s, down 16 s), beyond this test's 90 s; "
    "tests/cli/test_cli_devnet.py runs devnet up, status, restart and down, and "
    "tests/e2e/test_e2e_devnet_tbft.py and test_e2e_devnet_raft.py run such devnets"
)
_MANIFEST_REASON = (
    "the example manifest's three chains run 11 validator processes (up about 17 s on "
    "the shared 2-core machine, and they load it while they run), beyond this test's 90 s; "
    "tests/e2e/test_e2e_devnet_manifest.py runs devnet up --manifest, status --json and down "
    "on a manifest of two chains, and tests/cli/test_cli_devnet_manifest.py status, restart and "
    "down"
)
_RELAYER_REASON = (
    "runs until stopped, between two chains that keep clients of each other, which this "
    "single-chain scenario does not have; tests/cli/test_cli_relayer.py runs it as a process "
    "(rounds, metrics, SIGTERM and SIGINT) and tests/interchain/test_interchain_relayer_service.py "
    "relays through its loop"
)
_INTERCHAIN_REASON = (
    "needs the manifest devnet of docs/manifest.md (chains that keep clients of each other, and "
    f"a relayer): {_MANIFEST_REASON}; tests/cli/test_cli_interchain_network.py runs every "
    "interchain command this way (--dir and --chain) on a devnet of two solo chains, with a "
    "relayer in process, and tests/cli/test_cli_interchain_commands.py their refusals"
)
NOT_RUN: dict[str, str] = {
    "make demo": (
        "scripts/demo.sh leaves three chains (11 validators) and a relayer running on the "
        "example manifest's ports 7200-7233 (PORT_BASE moves them), which a user's devnet may "
        "hold; "
        "tests/e2e/test_e2e_interchain.py runs the same manifest on free ports with "
        "scripts/demo_transfer.py and scripts/demo_contract.py against it, and "
        "tests/e2e/test_e2e_atomic.py scripts/demo_atomic.py"
    ),
    "make directory-demo": (
        "scripts/demo_directory.sh leaves four chains (16 validators), a relayer and the "
        "directory's two services running on examples/devnet-directory.toml's ports 7300-7348 and "
        "7390, which a user's devnet may hold; tests/e2e/test_e2e_directory_demo.py runs "
        "scripts/demo_directory.py on a devnet of the same chains on free ports"
    ),
    "make stop NETWORK=directory-network": (
        "stops the directory demo above (devnet down); tests/e2e/test_e2e_directory_demo.py "
        "ends its devnet with devnet down and checks the services' processes are recorded"
    ),
    "make test": "runs the whole suite, this test included",
    "make toolchains": (
        "installs the contract compilers (npm's AssemblyScript; Debian's Rust packages through "
        "apt, as root); `make test` runs it before the suite, so that the contract lines here "
        "find them"
    ),
    "causeway devnet up --validators 4 --consensus tbft": _DEVNET_REASON,
    "causeway devnet status | restart --node node2 | down": (
        f"three commands on one line, each needing the devnet above: {_DEVNET_REASON}"
    ),
    "causeway devnet up --validators 4 --consensus tbft --dir /tmp/tb": _DEVNET_REASON,
    "causeway devnet up --manifest examples/devnet-three-chains.toml": _MANIFEST_REASON,
    "python bench/interchain_transfer.py --devnet /tmp/ib --transfers 10000": (
        "the transfer benchmark itself (minutes of load on the shared machine), run for the "
        "figures in docs/interchain.md; its flows are the ones tests/e2e/test_e2e_interchain.py "
        "checks"
    ),
    "python bench/interchain_transfer.py --devnet /tmp/ib --transfers 10000 --rate 350": (
        "the transfer benchmark at a steady load (a minute of it on the shared machine), run for "
        "the figures in docs/interchain.md"
    ),
    "causeway devnet up --manifest bench/interchain-two-chains.toml --dir /tmp/ib": (
        "the transfer benchmark's two chains (7 validators and a relayer) on fixed ports, for a "
        "measurement, not a check; tests/e2e/test_e2e_interchain.py brings up a manifest devnet "
        "with links and relays through it"
    ),
    "causeway devnet up --manifest examples/devnet-three-chains.toml --dir ./chains": (
        _MANIFEST_REASON
    ),
    "causeway devnet status --dir ./chains": f"needs the devnet above: {_MANIFEST_REASON}",
    "causeway devnet status --dir ./chains --json": f"needs the devnet above: {_MANIFEST_REASON}",
    "causeway devnet restart --node chain-b/node2 --dir ./chains": (
        f"needs the devnet above: {_MANIFEST_REASON}"
    ),
    "causeway devnet down --dir ./chains": f"needs the devnet above: {_MANIFEST_REASON}",
    "causeway devnet start --dir ./chains": (
        f"needs the devnet above: {_MANIFEST_REASON}; tests/cli/test_cli_devnet.py runs devnet "
        "start (and up's refusal, and up --fresh) on a devnet of one chain"
    ),
    "causeway devnet up --manifest examples/devnet-three-chains.toml --dir ./chains --fresh": (
        _MANIFEST_REASON
    ),
    "causeway bench --workload ledger-transfer --transactions 100000 --rate 1500 --network /tmp/tb "
    "--node 127.0.0.1:7050": "needs the tbft devnet of the line above",
    "causeway devnet up --validators 3 --consensus raft --dir /tmp/rf --port-base 27000": (
        _DEVNET_REASON
    ),
    "causeway bench --workload ledger-transfer --transactions 100000 --network /tmp/rf "
    "--node 127.0.0.1:27000": "needs the raft devnet of the line above",
    "causeway devnet down --dir /tmp/rf": "needs the raft devnet above",
    "causeway tx send -i net/organisations/org1/members/admin "
    "-e net/organisations/org2/members/admin -e net/organisations/org3/members/admin "
    '-c validators -m update --args \'{"updates": [{"member_id": "org4/node4", '
    '"voting_power": 0}]}\'': (
        "removes validator org4/node4 of a network of 4 organisations and 4 tbft validators "
        "(a devnet, see above); tests/e2e/test_e2e_devnet_governance.py sends validators.update"
    ),
    **dict.fromkeys(
        (
            "for i in 1 2 3; do",
            "causeway bench --network /tmp/wb --workload ledger-transfer -t 30000 --json "
            "> ledger-$i.json",
            "causeway bench --network /tmp/wb --workload wasm-transfer -t 30000 --json "
            "> wasm-$i.json",
            "done",
        ),
        (
            "the measurement of docs/performance.md, a shell loop of three rounds of 30,000 "
            "transactions each way (minutes of load on the shared machine); the same two "
            "workloads run, shrunk, from the README's bench lines"
        ),
    ),
    "causeway relayer start --config relayer.toml": _RELAYER_REASON,
    "causeway relayer start --config relayer.toml --metrics-port 9464 --json": _RELAYER_REASON,
    **dict.fromkeys(
        (
            "causeway interchain client create --dir ./chains --chain chain-a --of hub",
            "causeway interchain client create --dir ./chains --chain hub --of chain-a "
            "--counterparty-client client-0",
            "causeway interchain client counterparty client-0 client-0 --dir ./chains "
            "--chain chain-a",
            "causeway interchain client status --dir ./chains --chain chain-a",
            "causeway interchain client status client-0 --dir ./chains --chain chain-a --json",
            "causeway interchain client update client-0 --dir ./chains --chain chain-a --of hub",
            "causeway interchain client recover client-0 --dir ./chains --chain chain-a --of hub",
            "causeway interchain port bind transfer --dir ./chains --chain chain-a",
            "causeway hub register --dir ./chains --chain hub --member chain-a --client client-0",
            "causeway hub members --dir ./chains --chain hub",
            "causeway hub members chain-a --dir ./chains --chain hub --json",
            "causeway bank issue --dir ./chains --chain chain-a --account org1/client "
            "--denom gold --amount 1000",
            "causeway transfer send --dir ./chains --chain chain-a --to-chain chain-b "
            "--receiver org1/client --denom gold --amount 10 --wait",
            "causeway transfer send --dir ./chains --chain chain-a --to-chain hub "
            "--client client-0 --receiver org1/client --denom gold --amount 5 --json",
            "causeway bank balance org1/client --dir ./chains --chain chain-b",
            "causeway bank balance org1/client --denom gold --dir ./chains --chain chain-a --json",
            "causeway packet status --client client-0 --sequence 1 --dir ./chains --chain chain-a",
            "causeway packet status --client client-1 --sequence 1 --side received "
            "--dir ./chains --chain chain-b --json",
            "causeway packet list --client client-0 --dir ./chains --chain chain-a --in-flight",
        ),
        _INTERCHAIN_REASON,
    ),
}


# Lines that the docs show failing, as they must: the exit status and what the output says.
REFUSED: dict[str, tuple[int, str]] = {
    # docs/operations.md, section 7: a secured node refuses a caller that proves no member.
    "causeway --tls-ca secure-net/nodes/node1/tls/ca-bundle.pem status": (
        1,
        r"this node requires authentication",
    ),
    "causeway tx send -i net/organisations/org2/members/client --contract token "
    '--method transfer --args \'{"to": "org1/client", "amount": 300}\'': (
        3,
        r"status\s+CONTRACT_REVERTED\s*\nerror\s+token\.transfer: transfer: insufficient "
        r"balance: org2/client has 250, needs 300",
    ),
}


# Lines whose output the docs show: what it must hold besides what CHECKS asks of every line of
# its command (docs/contracts.md's tutorial: the counter's value, the token's event and balance).
SHOWN: dict[str, str] = {
    "causeway query -i net/organisations/org1/members/client --contract hello --method get": (
        r'^return value\s+\{"value": 1\}$'
    ),
    "causeway tx send -i net/organisations/org1/members/admin --contract token --method transfer "
    '--args \'{"to": "org2/client", "amount": 250}\'': (
        r"^event\s+token\.transfer from=org1/admin to=org2/client amount=250$"
    ),
    "causeway query -i net/organisations/org2/members/client --contract token --method balance "
    '--args \'{"owner": "org2/client"}\'': r'^return value\s+\{"amount": 250\}$',
}


@dataclasses.dataclass(frozen=True)
class Substitution:
    pattern: str
    replacement: str
    why: str


# Markers in a replacement, filled from the scenario when the line runs.
TRANSACTION_ID = "<transaction-id>"
FIRST_HEIGHT = "<first-height>"
PORT_BASE = "<port-base>"
PYTHON = "<python>"

SUBSTITUTIONS: tuple[Substitution, ...] = (
    Substitution(r"\bDIR2\b", "net2", "README: the second network's folder"),
    Substitution(r"\bDIR\b", "net", "README: the network's folder"),
    Substitution(r"/tmp/(pn|tb|rf|wb)\b", r"\1", "performance.md: its folder, in the scenario's"),
    Substitution(
        r"--identity \.\.\.",
        "--identity net/organisations/org1/members/client",
        "README: the elided identity is the client of the line before",
    ),
    Substitution(
        r"\bTRANSACTION_ID\b|\b6f1c0d\.\.\.e2\b",
        TRANSACTION_ID,
        "the id that the scenario's last `tx send` printed",
    ),
    Substitution(
        r"(block get|--height) 12\b",
        rf"\1 {FIRST_HEIGHT}",
        "an example height: the height of the scenario's first transaction (its chain is short)",
    ),
    Substitution(
        r"(?<![\w-])(--transactions|-t) \d+",
        rf"\1 {BENCH_TRANSACTIONS}",
        f"benchmarks shrink from 2,000-100,000 transactions to {BENCH_TRANSACTIONS} for CI",
    ),
    Substitution(r"--rate R\b", f"--rate {BENCH_RATE}", "performance.md: a rate for R"),
    Substitution(
        r"--port-base \d+",
        f"--port-base {PORT_BASE}",
        "the scenario's free ports instead of the documented base",
    ),
    Substitution(
        r"127\.0\.0\.1:\d+", f"{LOOPBACK}:{PORT_BASE}", "a node's address: the scenario's node"
    ),
    Substitution(r"\s*&$", "", "`node start ... &`: the node runs as a child process anyway"),
    Substitution(
        rf"^{re.escape(SCRIPT_PREFIX)}", f"{PYTHON} ", "this test's interpreter (the .venv's)"
    ),
)


@dataclasses.dataclass
class Scenario:
    name: str
    folder: Path
    port_base: int
    nodes: list[BackgroundNode] = dataclasses.field(default_factory=list)
    transaction_id: str | None = None
    first_height: int | None = None

    @property
    def node_address(self) -> str:
        return f"{LOOPBACK}:{self.port_base}"


def concrete_command(text: str, scenario: Scenario) -> list[str]:
    """The documented line as this test runs it (see the module's docstring)."""
    for substitution in SUBSTITUTIONS:
        text = re.sub(substitution.pattern, substitution.replacement, text)
    if TRANSACTION_ID in text:
        assert scenario.transaction_id, "a line uses a transaction id before any tx send"
        text = text.replace(TRANSACTION_ID, scenario.transaction_id)
    if FIRST_HEIGHT in text:
        assert scenario.first_height, "a line uses a height before any tx send"
        text = text.replace(FIRST_HEIGHT, str(scenario.first_height))
    text = text.replace(PORT_BASE, str(scenario.port_base)).replace(PYTHON, sys.executable)
    arguments = shlex.split(text)
    if arguments[:2] == ["causeway", "init"] and "--port-base" not in arguments:
        arguments += ["--port-base", str(scenario.port_base)]
    if arguments[:2] == ["causeway", "bench"] and not {"--transactions", "-t"} & set(arguments):
        arguments += ["--transactions", str(BENCH_TRANSACTIONS)]
    return arguments


# ------------------------------------------------------------------------------ the node


class BackgroundNode:
    """``causeway node start`` as a child process, logging to a file in the scenario's folder."""

    def __init__(self, arguments: list[str], log_path: Path) -> None:
        self.arguments = arguments
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    def start(self, address: str, tls_ca_file: Path | None = None) -> None:
        """Returns once the node answers; a secured node (``tls_ca_file``) answers a call
        without a token with its refusal, which is as good an answer."""
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        environment.pop("CAUSEWAY_DEBUG", None)
        self._log_file = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self.arguments,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=environment,
        )
        deadline = time.monotonic() + NODE_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise AssertionError(f"the node exited with {self._process.returncode}{self.tail}")
            with Client(address, timeout_s=2.0, tls_ca_file=tls_ca_file) as client:
                try:
                    client.status()
                    return
                except AuthenticationError:
                    return
                except CausewayError:
                    pass
            time.sleep(POLL_INTERVAL_S)
        raise AssertionError(
            f"the node did not answer within {NODE_START_TIMEOUT_S:g} s{self.tail}"
        )

    @property
    def tail(self) -> str:
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            lines = []
        return f"\n--- end of {self.log_path} ---\n" + "\n".join(lines[-LOG_TAIL_LINES:])

    def stop(self) -> None:
        """SIGTERM, then SIGKILL when it has not exited in time; never raises."""
        process = self._process
        try:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(NODE_STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(NODE_STOP_TIMEOUT_S)
        except Exception as error:  # a finaliser must not hide the test's own failure
            print(f"could not stop {self.arguments}: {error!r}", file=sys.stderr)
        finally:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None


# ------------------------------------------------------------------------------ checks


def _value_after(arguments: list[str], *names: str) -> str | None:
    for index, argument in enumerate(arguments[:-1]):
        if argument in names:
            return arguments[index + 1]
    return None


def _json_output(arguments: list[str], stdout: str) -> dict[str, Any] | None:
    if "--json" not in arguments:
        return None
    document: dict[str, Any] = json.loads(stdout)
    return document


def _line(pattern: str, stdout: str) -> re.Match[str]:
    # Tables pad their lines with spaces to the terminal's width.
    text = "\n".join(line.rstrip() for line in stdout.splitlines())
    found = re.search(pattern, text, re.MULTILINE)
    assert found, f"no line matching {pattern!r} in:\n{stdout}"
    return found


def check_init(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    folder = Path(arguments[2])
    assert (folder / "genesis.json").is_file()
    assert (folder / "nodes" / "node1" / "config.toml").is_file()
    document = _json_output(arguments, stdout)
    if document is not None:
        assert document["chain_id"], document
    else:
        _line(rf"^Network created in {re.escape(str(folder))}$", stdout)


def check_node_verify(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    document = _json_output(arguments, stdout)
    if document is not None:
        assert document["ok"] is True and document["problem_count"] == 0, document
        assert document["records_checked"] >= 1, document
    else:
        _line(r"^problems\s+0$", stdout)
        _line(r"^the store is sound$", stdout)


def check_node_snapshot_create(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    document = _json_output(arguments, stdout)
    if document is not None:
        assert document["height"] >= 1 and document["chunks"] >= 1, document
        assert Path(document["file"]).is_file(), document
    else:
        _line(r"^snapshot of height \d+ \(\d+ state entries, \d+ chunks\) written to \S+", stdout)


def check_node_backup(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    document = _json_output(arguments, stdout)
    folder = arguments[arguments.index("--out") + 1]
    assert (Path(folder) / "chain" / "data.mdb").is_file(), folder
    if document is not None:
        assert document["height"] >= 1, document
    else:
        _line(r"^backup of height \d+ written to \S+", stdout)


def check_tx_send(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    document = _json_output(arguments, stdout)
    if document is not None:
        assert document["committed"] is True and document["status"] == "OK", document
        transaction_id, height = document["transaction_id"], int(document["height"])
    else:
        transaction_id = _line(r"^transaction\s+([0-9a-f]{64})$", stdout).group(1)
        height = int(_line(r"^Committed at height (\d+)$", stdout).group(1))
        _line(r"^status\s+OK$", stdout)
    assert re.fullmatch(r"[0-9a-f]{64}", transaction_id), transaction_id
    scenario.transaction_id = transaction_id
    if scenario.first_height is None:
        scenario.first_height = height


def check_query(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    document = _json_output(arguments, stdout)
    if document is not None:
        assert document["status"] == "OK", document
    else:
        _line(r"^status\s+OK$", stdout)
        _line(r"^return value\s+\{", stdout)


def check_block_get(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    requested = arguments[3] if len(arguments) > 3 and arguments[3].isdigit() else None
    document = _json_output(arguments, stdout)
    if document is not None:
        height = int(document["header"]["height"])
    else:
        height = int(_line(r"^Block (\d+)$", stdout).group(1))
        _line(r"^block hash\s+[0-9a-f]{64}$", stdout)
    assert height >= 1
    if requested is not None:
        assert height == int(requested)


def check_tx_get(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    assert scenario.transaction_id
    assert scenario.transaction_id in stdout
    out = _value_after(arguments, "--out")
    if out is not None:
        proof = json.loads(Path(out).read_text(encoding="utf-8"))
        assert proof["kind"] == "causeway.transaction_proof", proof
        assert proof["transaction_id"] == scenario.transaction_id


def check_state_get(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    document = _json_output(arguments, stdout)
    if document is not None:
        assert document["value"] is not None, document
    else:
        assert _line(r"^value\s+(.+)$", stdout).group(1) != "(absent)"
    out = _value_after(arguments, "--out")
    if out is not None:
        proof = json.loads(Path(out).read_text(encoding="utf-8"))
        assert proof["kind"] == "causeway.state_proof", proof
        assert proof["value"] is not None, proof


def check_proof_verify(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    document = _json_output(arguments, stdout)
    if document is not None:
        assert document["valid"] is True, document
        if document["kind"] == "causeway.transaction_proof":
            assert document["transaction_id"] == scenario.transaction_id, document
    else:
        _line(r"^result\s+VALID$", stdout)
        if "--genesis" in arguments:
            _line(r"^genesis\s+matches$", stdout)


def check_status(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    document = _json_output(arguments, stdout)
    if document is not None:
        assert document["height"] >= 1 and document["chain_id"], document
    else:
        _line(r"^height\s+[1-9]\d*$", stdout)


def _check_bench_report(report: dict[str, Any]) -> None:
    assert report["sent"] == BENCH_TRANSACTIONS, report
    assert report["succeeded"] == BENCH_TRANSACTIONS and report["failed"] == 0, report


def check_bench(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    document = _json_output(arguments, stdout)
    if document is not None:
        _check_bench_report(document)
    else:
        _line(rf"^succeeded\s+{BENCH_TRANSACTIONS}$", stdout)
        _line(r"^failed\s+0 ", stdout)
    out = _value_after(arguments, "--out")
    if out is not None:
        _check_bench_report(json.loads(Path(out).read_text(encoding="utf-8")))
    report = _value_after(arguments, "--report")
    if report is not None:
        page = Path(report).read_text(encoding="utf-8")
        assert "<svg" in page and "data-value" in page


def check_contract_change(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    """deploy, upgrade, freeze, unfreeze, revoke: the record after the change."""
    statuses = {"freeze": "frozen", "revoke": "revoked"}
    expected = statuses.get(arguments[2], "active")
    document = _json_output(arguments, stdout)
    if document is not None:
        assert document["contract"]["status"] == expected, document
        assert int(document["height"]) >= 1, document
    else:
        _line(r"^(Deployed|Upgraded|Froze|Unfroze|Revoked) \S+ at height \d+$", stdout)
        _line(rf"^status\s+{expected}$", stdout)


def check_contract_read(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    """list and show: the contract's record."""
    document = _json_output(arguments, stdout)
    if document is not None:
        records = document["contracts"] if arguments[2] == "list" else [document]
        assert records and all(len(record["code_hash"]) == 64 for record in records), document
    else:
        _line(r"[0-9a-f]{64}", stdout)
        _line(r"(active|frozen|revoked)", stdout)


def check_contract_new(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    name = arguments[3]
    parent = Path(_value_after(arguments, "--dir") or ".")
    project = parent / name
    found = _line(r"^created (\S+) \((assemblyscript|rust), from the (\w+) template\)$", stdout)
    assert Path(found.group(1)) == project, found.group(0)
    assert found.group(2) == _value_after(arguments, "--lang"), found.group(0)
    assert found.group(3) == (_value_after(arguments, "--template") or "counter"), found.group(0)
    interface = json.loads((project / "interface.json").read_text(encoding="utf-8"))
    assert interface["name"] == name, interface


def check_contract_build(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    document = _json_output(arguments, stdout)
    if document is not None:
        module, interface = Path(document["module"]), Path(document["interface"])
        assert document["module_bytes"] == module.stat().st_size > 0, document
        assert document["methods"], document
    else:
        _line(r"^built [a-z]\w*$", stdout)
        module = Path(_line(r"^module\s+(\S+\.wasm) \([\d,]+ bytes\)$", stdout).group(1))
        interface = Path(_line(r"^interface\s+(\S+\.interface\.json)$", stdout).group(1))
    assert module.read_bytes()[:4] == b"\0asm", module
    assert json.loads(interface.read_text(encoding="utf-8"))["methods"], interface


def check_contract_test(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    _line(r"^built \S+\.wasm \([\d,]+ bytes\); testing", stdout)
    passed = _line(r"^=+ (\d+) passed in [\d.]+s =+$", stdout)
    assert int(passed.group(1)) >= 1, passed.group(0)


def check_org_init(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    """org init: the organisation's folder, whose public/ part loads and holds no key."""
    from causeway.provisioning.organisation import load_public_organisation  # noqa: PLC0415

    organisation, folder = arguments[3], Path(_value_after(arguments, "--dir") or "")
    _line(rf"^Organisation {re.escape(organisation)} created in {re.escape(str(folder))}$", stdout)
    assert load_public_organisation(folder / "public").id == organisation
    assert not any(b"PRIVATE KEY" in path.read_bytes() for path in (folder / "public").iterdir())
    if "--passphrase-file" in arguments:
        _line(r"^private keys\s+encrypted", stdout)


def check_genesis_assemble(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    """genesis assemble: the genesis of every --org, and peers.json beside it."""
    from causeway.provisioning import genesis_from_json  # noqa: PLC0415

    out = Path(_value_after(arguments, "--out") or "genesis.json")
    _line(rf"^Genesis of \S+ written to {re.escape(str(out))}$", stdout)
    genesis = genesis_from_json(out.read_text(encoding="utf-8"))
    assert len(genesis.organisations) == arguments.count("--org"), genesis.organisations
    assert (out.parent / "peers.json").is_file()


def check_org_node_config(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    """org node-config: each home it names holds a config.toml, a genesis and a key."""
    homes = re.findall(r"causeway node start --home (\S+)", stdout)
    assert homes, stdout
    for home in homes:
        assert all((Path(home) / name).is_file() for name in ("config.toml", "genesis.json"))


def check_org_join_request(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    """org join-request: a PROPOSAL DRAFT whose calls the output names."""
    from causeway.types.proposal_draft import parse_proposal_draft  # noqa: PLC0415

    draft = parse_proposal_draft(Path(_value_after(arguments, "--out") or "").read_text("utf-8"))
    for call in draft.calls:
        _line(re.escape(f"{call.contract}.{call.method}"), stdout)


def _write_passphrase(scenario: Scenario) -> None:
    """The passphrase file an organisation keeps (operations.md, 1)."""
    Path("port-passphrase.txt").write_text("port's long passphrase\n", encoding="utf-8")


def _write_tally(scenario: Scenario) -> None:
    """The docs' build/tally.wasm and its interface, as `causeway contract build` writes them
    (tests/tally_contract.py: the module in WAT, so that no toolchain is needed here)."""
    write_tally(Path("build"))


def check_proposal(arguments: list[str], stdout: str, scenario: Scenario) -> None:
    """create, vote, show, execute, withdraw, close, list: what each says it did."""
    action = arguments[2]
    document: Any = json.loads(stdout) if "--json" in arguments else None
    if action == "list":
        items = document if document is not None else None
        if items is not None:
            status = _value_after(arguments, "--status")
            assert items and all(status in (None, item["status"]) for item in items), items
        else:
            _line(r"^Proposals", stdout)
    elif document is not None:
        assert document["id"] >= 1, document
        if action == "execute":
            assert document["status"] == "executed", document
        if action == "withdraw":
            assert document["status"] == "withdrawn", document
        if action == "close":
            assert document["status"] == "rejected", document
    elif action == "create":
        _line(r"^proposal \d+ created", stdout)
    elif action == "vote":
        _line(r"^voted (yes|no) on proposal \d+ at height \d+$", stdout)
    elif action == "show":
        _line(r"^policy met now\s+(yes|no)$", stdout)
    elif action == "withdraw":
        _line(r"^proposal \d+ withdrawn at height \d+$", stdout)
    elif action == "close":
        _line(r"^proposal \d+ closed as rejected at height \d+$", stdout)
    else:
        _line(r"^proposal \d+ executed at height \d+$", stdout)


# What shows that a documented command worked, by its command path; a documented command without
# an entry fails the test, so that a new one is given a check.
CHECKS: dict[tuple[str, ...], Callable[[list[str], str, Scenario], None]] = {
    ("init",): check_init,
    ("node", "verify"): check_node_verify,
    ("node", "snapshot", "create"): check_node_snapshot_create,
    ("node", "backup"): check_node_backup,
    ("tx", "send"): check_tx_send,
    ("query",): check_query,
    ("block", "get"): check_block_get,
    ("tx", "get"): check_tx_get,
    ("state", "get"): check_state_get,
    ("proof", "verify"): check_proof_verify,
    ("status",): check_status,
    ("bench",): check_bench,
    **{
        ("contract", name): check_contract_change
        for name in ("deploy", "upgrade", "freeze", "unfreeze", "revoke")
    },
    ("contract", "new"): check_contract_new,
    ("contract", "build"): check_contract_build,
    ("contract", "test"): check_contract_test,
    ("contract", "list"): check_contract_read,
    ("contract", "show"): check_contract_read,
    **{
        ("proposal", name): check_proposal
        for name in ("create", "vote", "show", "execute", "withdraw", "close", "list")
    },
    ("org", "init"): check_org_init,
    ("genesis", "assemble"): check_genesis_assemble,
    ("org", "node-config"): check_org_node_config,
    ("org", "join-request"): check_org_join_request,
}

RUNNER = CliRunner()


def invoke(arguments: list[str], scenario: Scenario) -> typer.testing.Result:
    return RUNNER.invoke(
        app,
        arguments,
        env={
            "CAUSEWAY_NODE": scenario.node_address,
            "CAUSEWAY_IDENTITY": None,
            "CAUSEWAY_DEBUG": None,
            "COLUMNS": "200",
        },
    )


def _write_new_config(scenario: Scenario) -> None:
    """config.update's arguments: the chain's configuration as config.get returns it."""
    client = "net/organisations/org1/members/client"
    result = invoke(["query", "--json", "-i", client, "-c", "config", "-m", "get"], scenario)
    assert result.exit_code == 0, result.output
    config = json.loads(result.stdout)["return_value"]
    Path("new-config.json").write_text(json.dumps({"config": config}), encoding="utf-8")


def _write_proposal_draft(scenario: Scenario) -> None:
    """operations.md's PROPOSAL DRAFT: one config.update raising endorsements_max by one (what
    `causeway org join-request` writes for membership is the same format)."""
    client = "gov/organisations/org1/members/admin"
    result = invoke(["query", "--json", "-i", client, "-c", "config", "-m", "get"], scenario)
    assert result.exit_code == 0, result.output
    config = types_pb2.ChainConfig.FromString(
        bytes.fromhex(json.loads(result.stdout)["return_value_hex"])
    )
    config.endorsements_max += 1
    call = DraftCall("config", "update", encode(contracts_pb2.ConfigUpdateArguments(config=config)))
    draft = ProposalDraft("One more endorsement per transaction", "", (call,))
    Path("raise-limit.json").write_text(proposal_draft_text(draft), encoding="utf-8")


# Files that documented lines read but no documented line writes: written just before the line.
PREPARED_FILES: dict[str, Callable[[Scenario], None]] = {
    "@new-config.json": _write_new_config,
    "raise-limit.json": _write_proposal_draft,
    "build/tally.wasm": _write_tally,
    "port-passphrase.txt": _write_passphrase,
}


@functools.cache
def root_command() -> Any:
    """The click tree of the app (building it takes a while, so once)."""
    return typer.main.get_command(app)


def command_path(arguments: list[str]) -> tuple[str, ...]:
    """The subcommand names at the start of ``causeway ...`` (options before them skipped)."""
    command: Any = root_command()
    path: list[str] = []
    skip_value = False
    for argument in arguments[1:]:
        if skip_value:
            skip_value = False
            continue
        if argument.startswith("-"):
            # A group's option that takes a value (`causeway --tls-ca FILE status`): its value
            # is not a subcommand.
            skip_value = any(
                argument in parameter.opts and not getattr(parameter, "is_flag", True)
                for parameter in getattr(command, "params", ())
            ) and bool(getattr(command, "commands", None))
            continue
        subcommands = getattr(command, "commands", {})
        if argument not in subcommands:
            break
        command = subcommands[argument]
        path.append(argument)
    return tuple(path)


class Scripts:
    """The docs' ``.venv/bin/python SCRIPT`` lines: each a whole loop of its own in a temporary
    folder of its own (bench/local_network.py: init, node, bench, stop; about 16 s here). Started
    when the test starts, so that they overlap the rest, and checked at their turn."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._processes: dict[DocumentedCommand, tuple[subprocess.Popen[bytes], Path]] = {}

    def start(self, command: DocumentedCommand) -> None:
        if not command.text.startswith(SCRIPT_PREFIX):
            return
        arguments = concrete_command(command.text, Scenario("scripts", self.folder, 0))
        output = self.folder / f"script-{len(self._processes) + 1}.out"
        with output.open("wb") as output_file:
            # In a process group of its own, with the node it starts, to be stopped as a whole.
            process = subprocess.Popen(
                arguments,
                cwd=REPOSITORY,
                stdin=subprocess.DEVNULL,
                stdout=output_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # Its temporary network lands in the test's folder, even when it is interrupted.
                env={**os.environ, "TMPDIR": str(self.folder)},
            )
        self._processes[command] = (process, output)

    def finish(self, command: DocumentedCommand) -> None:
        process, output = self._processes.pop(command)
        try:
            code = process.wait(SCRIPT_TIMEOUT_S)
        finally:
            self.stop(process)
        text = output.read_text(encoding="utf-8", errors="replace")
        assert code == 0, f"{command.where}: `{command.text}` exited with {code}:\n{text}"
        _line(rf"^succeeded\s+{BENCH_TRANSACTIONS}$", text)

    @staticmethod
    def stop(process: subprocess.Popen[bytes]) -> None:
        """Ctrl-C to its process group (the script stops its node on KeyboardInterrupt, not on
        SIGTERM), then SIGKILL to the group; never raises."""
        with contextlib.suppress(Exception):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(NODE_STOP_TIMEOUT_S)
            if process.poll() is None:  # not reaped yet: the group's id is still its own
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(NODE_STOP_TIMEOUT_S)

    def stop_all(self) -> None:
        for process, _ in self._processes.values():
            self.stop(process)
        self._processes.clear()

    def __contains__(self, command: DocumentedCommand) -> bool:
        return command in self._processes


def run_line(command: DocumentedCommand, scenario: Scenario, scripts: Scripts) -> None:
    if command in scripts:
        scripts.finish(command)
        return
    arguments = concrete_command(command.text, scenario)
    shown = shlex.join(arguments)
    assert arguments[0] == "causeway", f"{command.where}: no way to run {shown}; list it in NOT_RUN"
    path = command_path(arguments)
    if path == ("node", "start"):
        home = Path(arguments[arguments.index("--home") + 1])
        console_script = Path(sys.executable).with_name("causeway")
        node = BackgroundNode([str(console_script), *arguments[1:]], home.parent / "node.log")
        scenario.nodes.append(node)
        config = load_node_config(home)
        address = config.grpc_address
        assert address == scenario.node_address, f"{command.where}: the node listens on {address}"
        # A node of `init --secure-api` (docs/operations.md, section 7) speaks TLS only.
        node.start(address, home / "tls" / "ca-bundle.pem" if config.api_tls else None)
        return
    refused = REFUSED.get(command.text)
    assert refused or path in CHECKS, (
        f"{command.where}: add to CHECKS what shows that `{shown}` worked"
    )
    for argument in arguments:
        if argument in PREPARED_FILES:
            PREPARED_FILES[argument](scenario)
    result = invoke(arguments[1:], scenario)
    if refused is not None:
        status, pattern = refused
        assert result.exit_code == status, (
            f"{command.where}: `{shown}` exited with {result.exit_code}, not {status} as the "
            f"docs show:\n{result.output}"
        )
        try:
            _line(pattern, result.output)
        except AssertionError as error:
            message = f"{command.where}: `{shown}` did not fail as the docs show: {error}"
            raise AssertionError(message) from None
        return
    assert result.exit_code == 0, (
        f"{command.where}: `{shown}` exited with {result.exit_code}:\n{result.output}"
    )
    try:
        CHECKS[path](arguments, result.stdout, scenario)
        if command.text in SHOWN:
            _line(SHOWN[command.text], result.stdout)
    except AssertionError as error:
        message = f"{command.where}: `{shown}` did not show that it worked: {error}"
        raise AssertionError(message) from None


# ------------------------------------------------------------------------------ the documents


def all_commands() -> list[DocumentedCommand]:
    commands: list[DocumentedCommand] = []
    for document in DOCUMENTS:
        markdown = (REPOSITORY / document).read_text(encoding="utf-8")
        commands += documented_commands(document, markdown)
    return commands


def runnable_commands() -> list[DocumentedCommand]:
    return [command for command in all_commands() if command.tag in RUN_TAGS]


# Documents of chapters (`## N. Title`), each chapter one story in a folder of its own: the
# operator guide, whose chapters each bring up a network of their own. Chapters that go on with
# the one before them, and so share its folder, are named here with the chapter they continue.
CHAPTER_DOCUMENTS = frozenset({"docs/operations.md"})
CHAPTERS_CONTINUED = {("docs/operations.md", 2): 1}  # the genesis of chapter 1's organisations
_CHAPTER = re.compile(r"^## (\d+)\. ")


@functools.cache
def _chapter_starts(document: str) -> tuple[tuple[int, int], ...]:
    """(line, chapter number) of each `## N. ` heading of the document, in order."""
    text = (REPOSITORY / document).read_text(encoding="utf-8")
    return tuple(
        (number, int(match.group(1)))
        for number, line in enumerate(text.splitlines(), start=1)
        if (match := _CHAPTER.match(line))
    )


def _chapter_of(document: str, line: int) -> int:
    chapter = 0
    for start, number in _chapter_starts(document):
        if start > line:
            break
        chapter = number
    return CHAPTERS_CONTINUED.get((document, chapter), chapter)


def scenarios_of(commands: list[DocumentedCommand]) -> dict[str, list[DocumentedCommand]]:
    grouped: dict[str, list[DocumentedCommand]] = {}
    for command in commands:
        name = command.document
        if command.document in CHAPTER_DOCUMENTS:
            name = f"{command.document}:chapter {_chapter_of(command.document, command.line)}"
        elif command.document in RECIPE_DOCUMENTS:
            name = f"{command.document}:{command.block_line}"
        grouped.setdefault(name, []).append(command)
    return grouped


@contextlib.contextmanager
def scenario_in(name: str, folder: Path) -> Iterator[Scenario]:
    folder.mkdir(parents=True)
    scenario = Scenario(name, folder, free_port_base(PORTS_PER_NODE))
    try:
        with contextlib.chdir(folder):
            yield scenario
    except BaseException:
        # pytest shows what was printed: the nodes' logs explain most failures of a line.
        for node in scenario.nodes:
            print(f"scenario {name}: the node {shlex.join(node.arguments)}{node.tail}")
        raise
    finally:
        for node in scenario.nodes:
            node.stop()


def test_documented_commands_run_and_work(tmp_path: Path) -> None:
    started = time.monotonic()
    commands = runnable_commands()
    ran: list[DocumentedCommand] = []
    durations: list[tuple[float, str]] = []
    scripts = Scripts(tmp_path)
    try:
        for command in commands:
            if command.text not in NOT_RUN:
                scripts.start(command)
        for number, (name, lines) in enumerate(scenarios_of(commands).items(), start=1):
            with scenario_in(name, tmp_path / f"scenario-{number}") as scenario:
                for command in lines:
                    if command.text in NOT_RUN:
                        continue
                    line_started = time.monotonic()
                    run_line(command, scenario, scripts)
                    ran.append(command)
                    durations.append((time.monotonic() - line_started, command.where))
    finally:
        scripts.stop_all()
    neither = [
        command.where for command in commands if command not in ran and command.text not in NOT_RUN
    ]
    assert not neither, f"documented commands neither run nor listed in NOT_RUN: {neither}"
    slowest = ", ".join(f"{where} {seconds:.1f} s" for seconds, where in sorted(durations)[-8:])
    print(f"{len(ran)} documented commands ran in {time.monotonic() - started:.1f} s ({slowest})")


def test_every_entry_of_not_run_refused_and_shown_is_documented() -> None:
    documented = {command.text for command in runnable_commands()}
    assert not set(NOT_RUN) - documented
    assert not set(REFUSED) - documented
    assert not set(SHOWN) - documented
    assert not set(REFUSED) & set(NOT_RUN)


def test_every_block_showing_causeway_says_whether_it_runs() -> None:
    untagged = [
        f"{block.document}:{block.line}"
        for document in DOCUMENTS
        for block in untagged_causeway_blocks(
            document, (REPOSITORY / document).read_text(encoding="utf-8")
        )
    ]
    assert not untagged, f"tag these blocks `sh` (examples, run) or `text` (synopses): {untagged}"


def help_options(path: tuple[str, ...]) -> frozenset[str]:
    """The options (long and short) in the Options panel of ``causeway PATH --help``."""
    result = RUNNER.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    options: set[str] = set()
    inside = False
    for line in result.output.splitlines():
        if "─ Options " in line:
            inside = True
        elif line.startswith("╰"):
            inside = False
        elif inside:
            cell = line.strip("│ ").lstrip("* ")
            for token in re.split(r"[\s,]+", cell):
                if not token.startswith("-"):
                    break
                options.add(token)
    assert "--help" in options, result.output
    return frozenset(options)


_OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def named_commands(command: DocumentedCommand) -> list[list[str]]:
    """The words of each command a ``causeway`` line names: one, or for a run line's
    ``a | b | c`` (README's devnet line) one per alternative, b and c being subcommands of a's
    group."""
    if command.tag not in RUN_TAGS:
        return [command.text.split()]
    alternatives = command.text.split(" | ")
    first = shlex.split(alternatives[0])
    group = command_path(first)[:-1]
    return [first] + [["causeway", *group, *shlex.split(other)] for other in alternatives[1:]]


def used_options(command: DocumentedCommand) -> list[tuple[tuple[str, ...], str]]:
    """(command path, option) for each option of a ``causeway`` line, the path being where the
    option stands (``causeway --debug tx send`` gives ``--debug`` to the root); a synopsis's
    options are found inside its brackets."""
    synopsis = command.tag not in RUN_TAGS
    uses: list[tuple[tuple[str, ...], str]] = []
    for words in named_commands(command):
        node: Any = root_command()
        path: list[str] = []
        for word in words[1:]:
            subcommands = getattr(node, "commands", {})
            if word in subcommands:
                node = subcommands[word]
                path.append(word)
            elif synopsis:
                uses += [(tuple(path), option) for option in _OPTION.findall(word)]
            elif _OPTION.fullmatch(word):
                uses.append((tuple(path), word))
    return uses


def unknown_commands(command: DocumentedCommand) -> list[str]:
    """The commands a ``causeway`` line names that do not exist (its words stop at a group that
    does nothing on its own: ``causeway learn`` lists the lessons, ``causeway devnet`` is
    nothing)."""
    unknown: list[str] = []
    for words in named_commands(command):
        path = command_path(words)
        node: Any = root_command()
        for name in path:
            node = node.commands[name]
        if getattr(node, "commands", None) and not getattr(node, "invoke_without_command", False):
            rest = [word for word in words[1 + len(path) :] if not word.startswith("-")]
            unknown.append(" ".join(["causeway", *path, *rest[:1]]))
    return unknown


def test_documented_commands_and_options_are_in_the_help() -> None:
    commands = [command for command in all_commands() if command.text.startswith("causeway ")]
    assert len(commands) > 40
    helps: dict[tuple[str, ...], frozenset[str]] = {}
    unknown: list[str] = []
    for command in commands:
        unknown += [f"{command.where}: no command {name}" for name in unknown_commands(command)]
        for path, option in used_options(command):
            if path not in helps:
                helps[path] = help_options(path)
            if option not in helps[path]:
                unknown.append(f"{command.where}: causeway {' '.join(path)} has no {option}")
    assert not unknown, "\n".join(unknown)


# ------------------------------------------------------------------------------ the mapping


def _scenario(tmp_path: Path) -> Scenario:
    return Scenario("s", tmp_path, 23456, transaction_id="ab" * 32, first_height=3)


def test_placeholders_become_the_scenarios_values(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path)
    assert concrete_command("causeway init DIR --orgs 2", scenario) == (
        ["causeway", "init", "net", "--orgs", "2", "--port-base", "23456"]
    )
    assert concrete_command("causeway init DIR2 --port-base 27100", scenario) == (
        ["causeway", "init", "net2", "--port-base", "23456"]
    )
    assert concrete_command("causeway tx get TRANSACTION_ID", scenario)[-1] == "ab" * 32
    assert concrete_command("causeway tx get 6f1c0d...e2 --proof", scenario)[3] == "ab" * 32
    assert concrete_command("causeway block get 12 --json", scenario)[3] == "3"
    assert concrete_command("causeway status --node 127.0.0.1:7050", scenario)[-1] == (
        "127.0.0.1:23456"
    )
    assert concrete_command("causeway node start --home /tmp/pn/nodes/node1 &", scenario) == (
        ["causeway", "node", "start", "--home", "pn/nodes/node1"]
    )
    assert concrete_command("causeway bench --workload wasm-transfer", scenario)[-2:] == (
        ["--transactions", "300"]
    )
    bench = "causeway bench -t 20000 --transactions 100000 --rate R --expiry-s 600"
    assert concrete_command(bench, scenario) == (
        [
            "causeway",
            "bench",
            "-t",
            "300",
            "--transactions",
            "300",
            "--rate",
            "2000",
            "--expiry-s",
            "600",
        ]
    )


def test_a_line_this_test_cannot_run_must_be_listed(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path)
    with pytest.raises(AssertionError, match=r"doc\.md:4: no way to run make lint; list it"):
        run_line(DocumentedCommand("doc.md", 4, 3, "sh", "make lint"), scenario, Scripts(tmp_path))
    with pytest.raises(AssertionError, match=r"add to CHECKS what shows that `causeway devnet"):
        command = DocumentedCommand("doc.md", 4, 3, "sh", "causeway devnet status")
        run_line(command, scenario, Scripts(tmp_path))


def test_a_refused_line_must_fail_as_the_docs_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = _scenario(tmp_path)
    # Exits 1 before reaching any node: there is no project there.
    line = "causeway contract build nowhere"
    command = DocumentedCommand("doc.md", 4, 3, "sh", line)
    monkeypatch.setitem(REFUSED, line, (1, r"no contract project at \S+nowhere: no such folder"))
    with contextlib.chdir(tmp_path):
        run_line(command, scenario, Scripts(tmp_path))
        monkeypatch.setitem(REFUSED, line, (3, "no such folder"))
        with pytest.raises(AssertionError, match=r"doc\.md:4: .* exited with 1, not 3 as the docs"):
            run_line(command, scenario, Scripts(tmp_path))
        monkeypatch.setitem(REFUSED, line, (1, "insufficient balance"))
        with pytest.raises(AssertionError, match=r"did not fail as the docs show: no line"):
            run_line(command, scenario, Scripts(tmp_path))


def test_options_are_read_from_the_help_panel() -> None:
    options = help_options(("tx", "send"))
    assert {"--identity", "--home", "-i", "--no-wait", "--timeout-s", "--help"} <= options
    assert "--proof" not in options
    assert "--debug" in help_options(())


def test_options_are_given_to_the_command_where_they_stand() -> None:
    alternatives = DocumentedCommand(
        "README.md", 1, 1, "sh", "causeway --debug devnet status --json | restart --node n2 | down"
    )
    assert used_options(alternatives) == [
        ((), "--debug"),
        (("devnet", "status"), "--json"),
        (("devnet", "restart"), "--node"),
    ]
    synopsis = DocumentedCommand("cli.md", 1, 1, "text", "causeway tx get ID [--wait-s S] (-n X)")
    assert used_options(synopsis) == [(("tx", "get"), "--wait-s"), (("tx", "get"), "-n")]


def test_a_command_that_does_not_exist_is_named() -> None:
    line = "causeway devnet status | frobnicate --node n2 | down"
    assert unknown_commands(DocumentedCommand("README.md", 1, 1, "sh", line)) == [
        "causeway devnet frobnicate"
    ]
    line = "causeway tx --json sned ID"
    assert unknown_commands(DocumentedCommand("README.md", 1, 1, "sh", line)) == [
        "causeway tx sned"
    ]
    synopsis = DocumentedCommand("cli.md", 1, 1, "text", "causeway block get [HEIGHT|latest]")
    assert unknown_commands(synopsis) == []
