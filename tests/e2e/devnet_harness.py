"""Devnets of real validator processes for end-to-end tests, driven through `causeway devnet`.

A ``Devnet`` runs ``python -m causeway.cli devnet up|status|restart|down`` in its own folder on a
block of free loopback ports (``--port-base``; each node takes three: gRPC, HTTP, peers). Use it
as a context manager: whatever happens in the block, every node is stopped on the way out
(``causeway devnet down``, then SIGKILL for any recorded process still alive), and when the block
raises, the tail of every node's log is printed, so that pytest shows it with the failure.

Beside it: a load generator that submits signed kv puts and ledger transfers to rotating nodes
and records what was acknowledged, a monitor of every node's height, the chain checks the tests
share (identical headers and state roots, each acknowledged transaction committed exactly once)
and ``RoguePeer``, a peer with TLS material from another network.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from causeway.consensus.v1 import consensus_pb2
from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import get_profile
from causeway.errors import CausewayError
from causeway.light import verify_certificate
from causeway.net import (
    NetworkStatistics,
    PeerAddress,
    PeerHandlers,
    PeerNetwork,
    PeerSettings,
    ReconnectBackoff,
    TlsIdentity,
    quorum_for_consensus,
)
from causeway.node.config import load_node_config
from causeway.node.runtime import load_genesis
from causeway.provisioning import member_directory
from causeway.provisioning.devnet import load_devnet
from causeway.sdk import Client, Identity, build_transaction
from causeway.types import HashFunction, block_hash, encode, transaction_id
from causeway.types.v1 import types_pb2

LOOPBACK = "127.0.0.1"
PORTS_PER_NODE = 3  # gRPC, HTTP, peers: the order assign_ports gives them
# Below the kernel's ephemeral range, so that no outgoing connection takes one of our ports
# between the check and the nodes' bind (the solo harness uses ephemeral ports).
PORT_RANGE_LOW = 20_000
PORT_BASE_ATTEMPTS_MAX = 200
UP_ATTEMPTS_MAX = 3
# Generous: other test suites share this (two-core) machine.
CLI_TIMEOUT_S = 150.0
DOWN_TIMEOUT_S = 120.0
PARALLEL_STOP_TIMEOUT_S = 30.0
STATUS_TIMEOUT_S = 2.0
LOG_TAIL_LINES = 80
POLL_INTERVAL_S = 0.2
PORT_TAKEN_MARKS = (
    "address already in use",
    "cannot listen",
    "failed to bind",
    # `devnet up` checks the ports before it starts a node.
    "another process listens on",
)

SUPPLY_PER_ACCOUNT = 10**9
ADMIN = "org1/admin"

_LIVE_DEVNETS: list[Devnet] = []


@atexit.register
def _stop_forgotten_devnets() -> None:
    """Last resort when the run ends without the context managers' exits (a second Ctrl-C)."""
    for devnet in list(_LIVE_DEVNETS):
        devnet.kill_recorded_processes()


# ---------------------------------------------------------------------------------- ports


def _ephemeral_low() -> int:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text(encoding="ascii")
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_port_base(count: int, rng: random.Random | None = None) -> int:
    """The first of ``count`` consecutive loopback ports that are all free now, chosen at random
    below the ephemeral range (tests running beside this one pick their own at random too)."""
    rng = rng or random.SystemRandom()
    high = max(PORT_RANGE_LOW + 1000, _ephemeral_low()) - count - 1
    for _ in range(PORT_BASE_ATTEMPTS_MAX):
        base = rng.randrange(PORT_RANGE_LOW, high)
        if all(_bindable(port) for port in range(base, base + count)):
            return base
    raise AssertionError(f"found no {count} consecutive free loopback ports")


# ---------------------------------------------------------------------------------- devnet


@dataclasses.dataclass(frozen=True)
class DevnetNode:
    """One node as devnet.json and its config.toml describe it."""

    name: str
    home: Path
    pid: int
    grpc_address: str
    peer_address: str
    member_id: str

    @property
    def log_path(self) -> Path:
        return self.home / "node.log"


def _process_is_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError):
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        return reaped == 0
    return True


def _command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode("utf-8", "replace")


class NodeExitedError(AssertionError):
    """A node's process ended while the test expected it to run; carries the log's tail."""

    def __init__(self, name: str, pid: int, log: str) -> None:
        super().__init__(f"{name} (pid {pid}) is not running; the end of its log:\n{log}")
        self.name = name
        self.log = log


class DevnetStartError(AssertionError):
    """`causeway devnet up` failed; the message carries its output and the nodes' logs."""


class Devnet:
    """A devnet in ``directory`` (created by ``up``), stopped on leaving the ``with`` block."""

    def __init__(
        self,
        directory: Path,
        *,
        validators: int,
        consensus: str,
        crypto: str = "intl",
        spare_ports: int = 0,
    ) -> None:
        self.root = directory
        self.validators = validators
        self.consensus = consensus
        self.crypto = crypto
        self.spare_ports = spare_ports
        self.directory = directory / "devnet"
        self.port_base = 0
        self.pids: set[int] = set()
        self.cli_log: list[str] = []
        self._nodes: dict[str, DevnetNode] = {}
        self._clients: list[Client] = []

    # ------------------------------------------------------------------ context

    def __enter__(self) -> Devnet:
        _LIVE_DEVNETS.append(self)
        try:
            self.up()
        except BaseException:
            self._print_report()
            self.down()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._print_report()
        self.down()

    # ------------------------------------------------------------------ the CLI

    def cli(
        self, *arguments: str, timeout_s: float = CLI_TIMEOUT_S, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """``causeway ARGUMENTS --dir DIR`` in a child process; AssertionError if it fails."""
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        environment.pop("CAUSEWAY_DEBUG", None)
        command = [sys.executable, "-m", "causeway.cli", *arguments, "--dir", str(self.directory)]
        started = time.monotonic()
        completed = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=environment,
            check=False,
        )
        self.cli_log.append(
            f"$ causeway {' '.join(arguments)}  [exit {completed.returncode}, "
            f"{time.monotonic() - started:.1f} s]\n{completed.stdout[-2000:]}"
            f"{completed.stderr[-4000:]}"
        )
        self._record_pids()
        if check and completed.returncode != 0:
            raise AssertionError(
                f"causeway {' '.join(arguments)} exited with {completed.returncode}:\n"
                f"{completed.stdout[-2000:]}\n{completed.stderr[-4000:]}"
            )
        return completed

    def up(self) -> None:
        """``causeway devnet up`` on a free block of ports; tried again on other ports when a
        node could not bind one of its own (another process took it meanwhile)."""
        rng = random.SystemRandom()
        for attempt in range(1, UP_ATTEMPTS_MAX + 1):
            self.directory = self.root / f"devnet-{attempt}"
            self.port_base = free_port_base(
                self.validators * PORTS_PER_NODE + self.spare_ports, rng
            )
            arguments = [
                "devnet",
                "up",
                "--validators",
                str(self.validators),
                "--consensus",
                self.consensus,
                "--crypto",
                self.crypto,
                "--port-base",
                str(self.port_base),
                "--json",
            ]
            completed = self.cli(*arguments, check=False)
            if completed.returncode == 0:
                self._load_nodes()
                return
            logs = (
                "\n".join(
                    path.read_text(encoding="utf-8", errors="replace").lower()
                    for path in self.directory.glob("nodes/*/node.log")
                )
                + completed.stderr.lower()
            )
            if attempt < UP_ATTEMPTS_MAX and any(mark in logs for mark in PORT_TAKEN_MARKS):
                self.kill_recorded_processes()
                continue
            raise DevnetStartError(
                f"causeway devnet up failed (exit {completed.returncode}):\n"
                f"{completed.stdout[-2000:]}\n{completed.stderr[-4000:]}\n{self.logs_report()}"
            )

    def status(self) -> list[dict[str, Any]]:
        """``causeway devnet status --json``: one dict per node (name, pid, height, role...)."""
        completed = self.cli("devnet", "status", "--json")
        nodes: list[dict[str, Any]] = json.loads(completed.stdout)["nodes"]
        return nodes

    def restart(self, name: str) -> DevnetNode:
        """``causeway devnet restart --node NAME``; returns once the node answers."""
        self.cli("devnet", "restart", "--node", name)
        self._load_nodes()
        return self.node(name)

    def down(self, *, parallel: bool = True) -> subprocess.CompletedProcess[str] | None:
        """Stops every node: with ``parallel``, SIGTERM to all at once first (`devnet down` stops
        them one after the other, seconds each); then ``causeway devnet down``, and SIGKILL for
        every recorded node process still alive. Its answer, None when it did not run."""
        for client in self._clients:
            client.close()
        self._clients.clear()
        completed: subprocess.CompletedProcess[str] | None = None
        try:
            # A node stopped with SIGSTOP would sit out the whole SIGTERM grace.
            self._signal_recorded(signal.SIGCONT)
            if parallel:
                self._signal_recorded(signal.SIGTERM)
                self._wait_for_recorded_exits(PARALLEL_STOP_TIMEOUT_S)
            if (self.directory / "devnet.json").exists():
                completed = self.cli("devnet", "down", timeout_s=DOWN_TIMEOUT_S, check=False)
        except Exception as error:  # the last resort below must still run
            print(f"causeway devnet down failed: {error!r}", file=sys.stderr)
        finally:
            self.kill_recorded_processes()
            with contextlib.suppress(ValueError):
                _LIVE_DEVNETS.remove(self)
        return completed

    # ------------------------------------------------------------------ processes

    def _record_pids(self) -> None:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            document = json.loads((self.directory / "devnet.json").read_text(encoding="utf-8"))
            self.pids.update(int(entry["pid"]) for entry in document["nodes"] if entry["pid"])

    def _ours(self, pid: int) -> bool:
        """Whether ``pid`` is still one of this devnet's nodes (not a reused process id)."""
        command = _command_line(pid)
        return "node start" in command and str(self.root) in command

    def _signal_recorded(self, signal_number: signal.Signals) -> None:
        for pid in sorted(self.pids):
            if _process_is_alive(pid) and self._ours(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal_number)

    def _wait_for_recorded_exits(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(
            _process_is_alive(pid) and self._ours(pid) for pid in self.pids
        ):
            time.sleep(0.05)

    def kill_recorded_processes(self) -> None:
        self._record_pids()
        self._signal_recorded(signal.SIGCONT)
        self._signal_recorded(signal.SIGKILL)
        self._wait_for_recorded_exits(10.0)

    def send_signal(self, name: str, signal_number: signal.Signals) -> int:
        """Sends a signal to the node's process as devnet.json records it; its pid."""
        pid = self.node(name).pid
        assert _process_is_alive(pid) and self._ours(pid), f"{name} (pid {pid}) is not running"
        os.kill(pid, signal_number)
        return pid

    def is_running(self, name: str) -> bool:
        pid = self.node(name).pid
        return _process_is_alive(pid) and self._ours(pid)

    def assert_running(self, names: Sequence[str] | None = None) -> None:
        """NodeExitedError for the first node named (default: all) whose process has ended."""
        for name in names if names is not None else self.names:
            if not self.is_running(name):
                raise NodeExitedError(name, self.node(name).pid, self.log_tail(name))

    def wait_for_exit(self, name: str, timeout_s: float = 30.0) -> None:
        pid = self.node(name).pid
        deadline = time.monotonic() + timeout_s
        while _process_is_alive(pid):
            assert time.monotonic() < deadline, f"{name} (pid {pid}) did not exit"
            time.sleep(0.05)

    # ------------------------------------------------------------------ nodes

    def _load_nodes(self) -> None:
        nodes: dict[str, DevnetNode] = {}
        for entry in load_devnet(self.directory):
            config = load_node_config(Path(entry.home))
            nodes[entry.name] = DevnetNode(
                name=entry.name,
                home=Path(entry.home),
                pid=entry.pid,
                grpc_address=entry.grpc_address,
                peer_address=config.peers.listen_address,
                member_id=config.member_id,
            )
            self.pids.add(entry.pid)
        self._nodes = nodes

    @property
    def names(self) -> list[str]:
        return list(self._nodes)

    def node(self, name: str) -> DevnetNode:
        return self._nodes[name]

    @property
    def hash(self) -> HashFunction:
        return get_profile(self.crypto).hash

    def genesis(self) -> types_pb2.Genesis:
        return load_genesis(self.directory / "genesis.json")

    def chain_id(self) -> str:
        with Client(self.node(self.names[0]).grpc_address, timeout_s=30.0) as client:
            return client.chain_id()

    def identity(self, member_id: str) -> Identity:
        return Identity.load(member_directory(self.directory, member_id))

    def client(self, name: str, member_id: str | None = None, *, timeout_s: float = 30.0) -> Client:
        """A client of the node, closed with the devnet (or earlier by the caller)."""
        identity = self.identity(member_id) if member_id is not None else None
        client = Client(self.node(name).grpc_address, identity, timeout_s=timeout_s)
        self._clients.append(client)
        return client

    def height(self, name: str, timeout_s: float = STATUS_TIMEOUT_S) -> int | None:
        """The node's committed height, None when it does not answer."""
        with Client(self.node(name).grpc_address, timeout_s=timeout_s) as client:
            try:
                return client.status().height
            except CausewayError:
                return None

    def role(self, name: str, timeout_s: float = STATUS_TIMEOUT_S) -> str | None:
        """The node's consensus role ("leader", "follower", "validator"...), None when it does
        not answer."""
        with Client(self.node(name).grpc_address, timeout_s=timeout_s) as client:
            try:
                return client.status().role
            except CausewayError:
                return None

    def heights(self) -> dict[str, int | None]:
        return {name: self.height(name) for name in self.names}

    def wait_for_heights(
        self, height: int, names: Sequence[str] | None = None, timeout_s: float = 60.0
    ) -> dict[str, int]:
        """Waits until every node named (default: all) has committed ``height``; NodeExitedError
        as soon as one of them is found not running."""
        wanted = list(names) if names is not None else self.names
        deadline = time.monotonic() + timeout_s
        while True:
            self.assert_running(wanted)
            seen = {name: self.height(name) for name in wanted}
            if all(value is not None and value >= height for value in seen.values()):
                return {name: value or 0 for name, value in seen.items()}
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"not every node reached height {height} within {timeout_s:g} s: {seen}"
                )
            time.sleep(POLL_INTERVAL_S)

    # ------------------------------------------------------------------ logs

    def log_tail(self, name: str, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.node(name).log_path.read_text(encoding="utf-8", errors="replace")
        except (KeyError, FileNotFoundError):
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def logs_report(self) -> str:
        parts: list[str] = []
        for path in sorted(self.directory.glob("nodes/*/node.log")):
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            parts.append(f"--- last lines of {path} ---\n" + "\n".join(lines[-LOG_TAIL_LINES:]))
        return "\n".join(parts)

    def _print_report(self) -> None:
        print(f"===== devnet in {self.directory} (ports from {self.port_base}) =====")
        print("\n".join(self.cli_log[-12:]))
        print(self.logs_report())


# ---------------------------------------------------------------------------------- load


@dataclasses.dataclass(frozen=True)
class Acknowledged:
    transaction_id: bytes
    height: int
    node: str


def fund(devnet: Devnet, name: str, accounts: Sequence[str]) -> int:
    """Issues SUPPLY_PER_ACCOUNT to each account (one transaction each); the last height."""
    admin = devnet.client(name, ADMIN)
    height = 0
    for account in accounts:
        issued = admin.invoke(
            "ledger",
            "issue",
            contracts_pb2.LedgerIssueArguments(account=account, amount=SUPPLY_PER_ACCOUNT),
            timeout_s=30.0,
        )
        assert issued.succeeded, issued
        height = max(height, issued.height)
    return height


class LoadGenerator(threading.Thread):
    """Submits batches of kv puts and ledger transfers that wait for their commit, each batch to
    the next node of ``names`` in turn, until stopped. A node that is down or stopped costs one
    failed batch (recorded in ``errors``); only committed answers count as acknowledged."""

    def __init__(
        self,
        devnet: Devnet,
        names: Sequence[str],
        sender: str,
        recipient: str,
        *,
        seed: int,
        batch_max: int = 6,
        pause_s: float = 0.02,
        wait_s: float = 8.0,
    ) -> None:
        super().__init__(name=f"load-{sender}", daemon=True)
        self.devnet = devnet
        self.names = list(names)
        self.identity = devnet.identity(sender)
        self.recipient = recipient
        self.random = random.Random(seed)
        self.batch_max = batch_max
        self.pause_s = pause_s
        self.wait_s = wait_s
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._acknowledged: list[Acknowledged] = []
        self.submitted: set[bytes] = set()
        self.errors: list[str] = []
        self.refusals: list[str] = []
        self.failure: BaseException | None = None
        self.batches = 0

    @property
    def acknowledged(self) -> list[Acknowledged]:
        with self._lock:
            return list(self._acknowledged)

    def acknowledged_by(self, name: str) -> int:
        with self._lock:
            return sum(1 for item in self._acknowledged if item.node == name)

    def _batch(self, chain_id: str, serial: int) -> list[types_pb2.Transaction]:
        batch: list[types_pb2.Transaction] = []
        for index in range(self.random.randint(1, self.batch_max)):
            if self.random.random() < 0.5:
                key = f"load/{self.identity.member_id}/{serial}/{index}".encode()
                arguments: Any = contracts_pb2.KvPutArguments(
                    key=key, value=self.random.randbytes(self.random.randint(1, 48))
                )
                batch.append(build_transaction(self.identity, chain_id, "kv", "put", arguments))
            else:
                arguments = contracts_pb2.LedgerTransferArguments(
                    to=self.recipient, amount=self.random.randint(1, 5)
                )
                batch.append(
                    build_transaction(self.identity, chain_id, "ledger", "transfer", arguments)
                )
        return batch

    def run(self) -> None:
        try:
            chain_id = self.identity.chain_id or self.devnet.chain_id()
            hash_function = self.devnet.hash
            turn = self.random.randrange(len(self.names))
            while not self.stopping.is_set():
                name = self.names[turn % len(self.names)]
                turn += 1
                self.batches += 1
                batch = self._batch(chain_id, self.batches)
                self.submitted.update(transaction_id(t.body, hash_function) for t in batch)
                # A fresh channel each time: a restarted node is reached at once.
                with Client(
                    self.devnet.node(name).grpc_address, self.identity, timeout_s=5.0
                ) as client:
                    try:
                        results = client.submit_batch(batch, wait=True, timeout_s=self.wait_s)
                    except CausewayError as error:
                        self.errors.append(f"{name}: {error.reason}: {error.message}")
                        self.stopping.wait(0.2)
                        continue
                for result in results:
                    if result.error is not None:
                        self.refusals.append(
                            f"{name}: {result.error.reason}: {result.error.message}"
                        )
                    elif result.committed:
                        with self._lock:
                            self._acknowledged.append(
                                Acknowledged(result.transaction_id, result.height, name)
                            )
                self.stopping.wait(self.pause_s)
        except BaseException as error:
            self.failure = error

    def finish(self, timeout_s: float = 60.0) -> None:
        self.stopping.set()
        self.join(timeout_s)
        assert not self.is_alive(), "the load thread did not end"
        if self.failure is not None:
            raise self.failure


def wait_for_more_acknowledged(
    loads: Sequence[LoadGenerator], more: int, what: str, timeout_s: float = 60.0
) -> None:
    """Waits until the loads together have ``more`` acknowledgements beyond what they have now;
    AssertionError (naming ``what`` and the last failed batches) when they do not in time."""
    wanted = sum(len(load.acknowledged) for load in loads) + more
    deadline = time.monotonic() + timeout_s
    while (have := sum(len(load.acknowledged) for load in loads)) < wanted:
        for load in loads:
            assert load.is_alive(), f"the load ended: {load.failure!r}"
        assert time.monotonic() < deadline, (
            f"{what}: only {have} of {wanted} acknowledged within {timeout_s:g} s; last errors "
            f"{[error for load in loads for error in load.errors][-6:]}"
        )
        time.sleep(0.05)


class HeightMonitor(threading.Thread):
    """Polls every node's height; records any that went back (also across restarts)."""

    def __init__(self, devnet: Devnet, interval_s: float = 0.25) -> None:
        super().__init__(name="height-monitor", daemon=True)
        self.devnet = devnet
        self.interval_s = interval_s
        self.stopping = threading.Event()
        self.highest: dict[str, int] = {}
        self.went_back: list[str] = []
        self.samples = 0
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                for name in self.devnet.names:
                    height = self.devnet.height(name, timeout_s=1.0)
                    if height is None:
                        continue
                    self.samples += 1
                    previous = self.highest.get(name, 0)
                    if height < previous:
                        self.went_back.append(f"{name}: {previous} -> {height}")
                    self.highest[name] = max(previous, height)
                self.stopping.wait(self.interval_s)
        except BaseException as error:
            self.failure = error

    def finish(self) -> None:
        self.stopping.set()
        self.join(30.0)
        assert not self.is_alive(), "the height monitor did not end"
        if self.failure is not None:
            raise self.failure


# ---------------------------------------------------------------------------------- checks


@dataclasses.dataclass(frozen=True)
class BlockView:
    """What must be the same on every node for one height."""

    height: int
    header: bytes
    block_hash: bytes
    state_root: bytes
    previous_hash: bytes
    transaction_ids: tuple[bytes, ...]


def read_chain(devnet: Devnet, name: str, up_to: int) -> list[BlockView]:
    """Blocks 1..up_to of one node, each checked against its header (``verify_block``) and its
    commit certificate against the genesis validators (signatures and quorum)."""
    hash_function = devnet.hash
    genesis = devnet.genesis()
    quorum = quorum_for_consensus(genesis.consensus)
    views: list[BlockView] = []
    with Client(devnet.node(name).grpc_address, timeout_s=30.0) as client:
        for height in range(1, up_to + 1):
            response = client.get_block(height, verify=True)
            header = response.block.header
            assert header.height == height, f"{name}: asked for {height}, got {header.height}"
            hash_of_block = block_hash(header, hash_function)
            verify_certificate(
                response.certificate,
                chain_id=genesis.chain_id,
                height=height,
                block_hash=hash_of_block,
                validators=genesis.validators,
                profile=get_profile(genesis.crypto_profile),
                quorum=quorum,
            )
            views.append(
                BlockView(
                    height=height,
                    header=encode(header),
                    block_hash=hash_of_block,
                    state_root=header.state_root,
                    previous_hash=header.previous_hash,
                    transaction_ids=tuple(
                        transaction_id(t.body, hash_function) for t in response.block.transactions
                    ),
                )
            )
    return views


def assert_same_chain(
    devnet: Devnet, up_to: int, names: Sequence[str] | None = None
) -> list[BlockView]:
    """Every node named (default: all) holds the same blocks 1..up_to: identical headers, block
    hashes and state roots, chained by previous_hash, each with a valid commit certificate (see
    read_chain), and no transaction twice. Returns the chain."""
    wanted = list(names) if names is not None else devnet.names
    chains = {name: read_chain(devnet, name, up_to) for name in wanted}
    reference_name = wanted[0]
    reference = chains[reference_name]
    previous = b""
    for view in reference:
        if view.height > 1:
            assert view.previous_hash == previous, f"{reference_name}: broken at {view.height}"
        previous = view.block_hash
    for name, chain in chains.items():
        for mine, theirs in zip(chain, reference, strict=True):
            assert mine.block_hash == theirs.block_hash, (
                f"height {mine.height}: {name} has block {mine.block_hash.hex()}, "
                f"{reference_name} {theirs.block_hash.hex()}"
            )
            assert mine.state_root == theirs.state_root, (
                f"height {mine.height}: state roots of {name} and {reference_name} differ"
            )
            assert mine.header == theirs.header, f"height {mine.height}: headers differ"
    occurrences = occurrences_of(reference)
    twice = {key.hex(): count for key, count in occurrences.items() if count != 1}
    assert not twice, f"transactions committed more than once: {twice}"
    return reference


def occurrences_of(chain: Sequence[BlockView]) -> Counter[bytes]:
    return Counter(item for view in chain for item in view.transaction_ids)


def assert_acknowledged_exactly_once(
    devnet: Devnet,
    chain: Sequence[BlockView],
    acknowledged: Sequence[Acknowledged],
    names: Sequence[str] | None = None,
) -> None:
    """Each acknowledged transaction is in ``chain`` exactly once, at its acknowledged height,
    and every node named (default: all) answers get_transaction (proofs verified) with that
    height and an OK result."""
    occurrences = occurrences_of(chain)
    heights = {item: view.height for view in chain for item in view.transaction_ids}
    for item in acknowledged:
        assert occurrences[item.transaction_id] == 1, (
            f"{item.transaction_id.hex()} (acknowledged by {item.node} at {item.height}) is in "
            f"the chain {occurrences[item.transaction_id]} times"
        )
        assert heights[item.transaction_id] == item.height, (
            f"{item.transaction_id.hex()} was acknowledged by {item.node} at height "
            f"{item.height}, the chain has it at {heights[item.transaction_id]}"
        )
    for name in names if names is not None else devnet.names:
        with Client(devnet.node(name).grpc_address, timeout_s=30.0) as client:
            for item in acknowledged:
                response = client.get_transaction(item.transaction_id)  # proofs verified
                assert response.height == item.height, (
                    f"{name} has {item.transaction_id.hex()} at {response.height}, "
                    f"acknowledged at {item.height} by {item.node}"
                )
                assert response.result.status == types_pb2.RESULT_STATUS_OK, (
                    f"{name}: {item.transaction_id.hex()}: {response.result.error}"
                )


# ---------------------------------------------------------------------------------- rogue peer


ROGUE_BACKOFF = ReconnectBackoff(initial_ms=100, max_ms=500)


class RoguePeer:
    """A PeerNetwork in a thread of this process, with TLS material of another network: it
    dials ``peers`` and listens on ``listen_port``, recording every envelope that reaches it.

    ``extra_trust_pem`` is added to its CA bundle (the rogue may trust the real network's CAs,
    so that only its own certificate gives it away)."""

    def __init__(
        self,
        *,
        chain_id: str,
        home: Path,
        listen_port: int,
        peers: Sequence[PeerAddress],
        extra_trust_pem: bytes = b"",
    ) -> None:
        tls_directory = home / "tls"
        self.tls = TlsIdentity.from_pem(
            (tls_directory / "node.key").read_bytes(),
            (tls_directory / "node.crt").read_bytes(),
            (tls_directory / "ca-bundle.pem").read_bytes() + extra_trust_pem,
        )
        self.chain_id = chain_id
        self.settings = PeerSettings(
            listen_address=f"{LOOPBACK}:{listen_port}",
            tls_key_file=tls_directory / "node.key",
            tls_certificate_file=tls_directory / "node.crt",
            tls_ca_bundle_file=tls_directory / "ca-bundle.pem",
            peers=tuple(peers),
            backoff=ROGUE_BACKOFF,
            connect_timeout_ms=2_000,
        )
        self.statistics = NetworkStatistics()
        self.received: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._started = threading.Event()
        self._stop_requested = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rogue-peer", daemon=True)
        self._outbox: list[consensus_pb2.ConsensusMessage] = []
        self.failure: BaseException | None = None
        self.final_statistics: dict[str, int] = {}

    def _record(self, kind: str, sender: str) -> None:
        with self._lock:
            self.received.append((kind, sender))

    def _handlers(self) -> PeerHandlers:
        async def on_consensus(sender: str, message: consensus_pb2.ConsensusMessage) -> None:
            self._record(f"consensus:{message.WhichOneof('body')}", sender)

        async def on_transactions(sender: str, encoded_transactions: list[bytes]) -> None:
            self._record(f"transactions:{len(encoded_transactions)}", sender)

        async def on_status(sender: str, height: int, latest_hash: bytes) -> None:
            del latest_hash
            self._record(f"status:{height}", sender)

        return PeerHandlers(
            on_consensus=on_consensus, on_transactions=on_transactions, on_status=on_status
        )

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:
            self.failure = error
        finally:
            self._started.set()

    async def _main(self) -> None:
        network = PeerNetwork(
            chain_id=self.chain_id,
            settings=self.settings,
            tls=self.tls,
            handlers=self._handlers(),
            statistics=self.statistics,
        )
        await network.start()
        try:
            self._started.set()
            # It also says its (made-up) height to whoever accepts it.
            network.announce_status(10**6, bytes(32))
            while not self._stop_requested.is_set():
                with self._lock:
                    outbox, self._outbox = self._outbox, []
                for message in outbox:
                    network.broadcast_consensus(message)
                await asyncio.sleep(0.05)
        finally:
            await network.stop()
            self.final_statistics = self.statistics.snapshot()

    def __enter__(self) -> RoguePeer:
        self._thread.start()
        self._started.wait(30.0)
        if self.failure is not None:
            raise self.failure
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop_requested.set()
        if self._thread.is_alive():
            self._thread.join(30.0)

    def broadcast(self, message: consensus_pb2.ConsensusMessage) -> None:
        """Sends a consensus message to every peer it is connected to (from its own thread)."""
        with self._lock:
            self._outbox.append(message)

    def connected_to(self) -> set[str]:
        """The senders it heard from (a peer that accepted it says its status)."""
        return {sender for kind, sender in self.snapshot() if kind.startswith("status:")}

    def snapshot(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self.received)


def wait_until(condition: Callable[[], bool], timeout_s: float, message: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, message()
        time.sleep(POLL_INTERVAL_S)


@contextlib.contextmanager
def running(*threads: LoadGenerator | HeightMonitor) -> Iterator[None]:
    """Starts the threads; on the way out (also on failure) stops them all."""
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for thread in threads:
            thread.stopping.set()
        for thread in threads:
            thread.join(60.0)
