"""Real node processes for end-to-end tests: a network on disk, free ports, start, stop, kill.

A node runs as ``python -m causeway.cli node start --home HOME`` with its stdout and stderr in a
log file next to its home. Every NodeProcess made here is listed in ``LIVE_NODES`` until it was
cleaned up, so that a failing test can print the tail of every log it involved (see conftest.py).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

import httpx

from causeway.crypto import get_profile
from causeway.errors import CausewayError
from causeway.provisioning import (
    NetworkDescription,
    NodeSettings,
    init_network,
    member_directory,
    node_directory,
    render_node_config,
)
from causeway.sdk import Client, Identity
from causeway.types import HashFunction

LOOPBACK = "127.0.0.1"
# Generous: other test suites share this (two-core) machine while the nodes start.
START_TIMEOUT_S = 45.0
STOP_TIMEOUT_S = 20.0
BLOCK_INTERVAL_MS = 50
HTTP_REQUEST_BYTES_MAX = 1 << 20
MAP_SIZE_BYTES = 1 << 30
LOG_TAIL_LINES = 60
POLL_INTERVAL_S = 0.05
# A node that cannot bind its ports (another process took them meanwhile) is retried on new ones.
START_ATTEMPTS_MAX = 3

LIVE_NODES: list[NodeProcess] = []


@atexit.register
def _stop_forgotten_nodes() -> None:
    """Last resort when the test run ends without its finalisers (e.g. a second Ctrl-C)."""
    for node in list(LIVE_NODES):
        node.cleanup()


def free_ports(count: int) -> list[int]:
    """Ports the kernel has just handed out on loopback (all held open until all are chosen)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(held)
            held.bind((LOOPBACK, 0))
        return [held.getsockname()[1] for held in sockets]
    finally:
        for held in sockets:
            held.close()


@dataclasses.dataclass(frozen=True)
class Network:
    """A network written by causeway.provisioning.init_network, with one (solo) validator."""

    directory: Path
    description: NetworkDescription

    @property
    def chain_id(self) -> str:
        return self.description.chain_id

    @property
    def crypto_profile(self) -> str:
        return self.description.crypto_profile

    @property
    def hash(self) -> HashFunction:
        return get_profile(self.crypto_profile).hash

    @property
    def node_home(self) -> Path:
        return node_directory(self.directory, self.description.nodes[0].name)

    def identity(self, member_id: str) -> Identity:
        return Identity.load(member_directory(self.directory, member_id))

    def write_node_config(self, grpc_port: int, http_port: int) -> None:
        """Rewrites the node's config.toml: free loopback ports, short blocks, small limits."""
        node = self.description.nodes[0]
        settings = NodeSettings(
            grpc_address=f"{LOOPBACK}:{grpc_port}",
            http_address=f"{LOOPBACK}:{http_port}",
            block_interval_ms=BLOCK_INTERVAL_MS,
            http_request_bytes_max=HTTP_REQUEST_BYTES_MAX,
            map_size_bytes=MAP_SIZE_BYTES,
        )
        text = render_node_config(dataclasses.replace(node, settings=settings))
        (self.node_home / "config.toml").write_text(text, encoding="utf-8")


def create_network(directory: Path, crypto_profile: str, organisations: int = 2) -> Network:
    description = init_network(directory, organisations, crypto_profile, "solo")
    return Network(directory=directory, description=description)


def _start_banner(start: int) -> str:
    return f"===== start {start} =====\n"


class NodeFactory(Protocol):
    """The ``make_node`` fixture: a new network and its node, started unless ``start=False``."""

    def __call__(self, crypto_profile: str = "intl", *, start: bool = True) -> NodeProcess: ...


class NodeNotReadyError(AssertionError):
    """The node exited or did not answer in time; the message ends with its log's tail."""


class NodeProcess:
    """One node of ``network`` as a child process; its ports are kept across restarts."""

    def __init__(self, network: Network, log_path: Path) -> None:
        self.network = network
        self.log_path = log_path
        self.grpc_port, self.http_port = free_ports(2)
        network.write_node_config(self.grpc_port, self.http_port)
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self.starts = 0
        LIVE_NODES.append(self)

    # ------------------------------------------------------------------ addresses, clients

    @property
    def grpc_address(self) -> str:
        return f"{LOOPBACK}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def data_path(self) -> Path:
        """The node's LMDB store (NodeConfig.data_dir / "chain")."""
        return self.network.node_home / "data" / "chain"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def client(self, identity: Identity | None = None, timeout_s: float = 30.0) -> Client:
        return Client(self.grpc_address, identity, timeout_s=timeout_s)

    @contextlib.contextmanager
    def connect(self, member_id: str | None = None) -> Iterator[Client]:
        identity = self.network.identity(member_id) if member_id is not None else None
        with self.client(identity) as client:
            yield client

    # ------------------------------------------------------------------ logs

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_of_last_start(self) -> str:
        """What the node logged since it was last started."""
        return self.log_text().rpartition(_start_banner(self.starts))[2]

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def _fail(self, message: str) -> NodeNotReadyError:
        return NodeNotReadyError(
            f"{message}\n--- last lines of {self.log_path} ---\n{self.log_tail()}"
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Starts the node and returns once both its gRPC API (GetStatus) and its HTTP gateway
        answer. A first start retries on new ports when another process took the chosen ones
        (a restart keeps its ports: clients of the node hold on to its address)."""
        first_start = self.starts == 0
        for attempt in range(START_ATTEMPTS_MAX):
            try:
                self._start_once(timeout_s)
                return
            except NodeNotReadyError:
                self._reap()
                last_log = self.log_of_last_start().lower()
                port_taken = "address already in use" in last_log or "cannot listen" in last_log
                if not (port_taken and first_start) or attempt == START_ATTEMPTS_MAX - 1:
                    raise
                self.grpc_port, self.http_port = free_ports(2)
                self.network.write_node_config(self.grpc_port, self.http_port)

    def _start_once(self, timeout_s: float) -> None:
        assert not self.running, "the node is already running"
        self.starts += 1
        self._log_file = self.log_path.open("ab")
        self._log_file.write(_start_banner(self.starts).encode())
        self._log_file.flush()
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        environment.pop("CAUSEWAY_DEBUG", None)
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "causeway.cli",
                "node",
                "start",
                "--home",
                str(self.network.node_home),
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=environment,
        )
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        grpc_ready = False
        while time.monotonic() < deadline:
            if not self.running:
                raise self._fail(f"the node exited with {self.exit_code} while starting")
            if not grpc_ready:
                with Client(self.grpc_address, timeout_s=2.0) as client:
                    try:
                        client.status()
                        grpc_ready = True
                    except CausewayError:
                        pass
            if grpc_ready:
                try:
                    if httpx.get(f"{self.http_url}/v1/status", timeout=2.0).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(POLL_INTERVAL_S)
        raise self._fail(f"the node did not answer within {timeout_s:g} s")

    @property
    def exit_code(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout_s``; the exit code."""
        process = self._process
        assert process is not None, "the node was never started"
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout_s)
        return self._reap()

    def kill(self) -> int:
        """SIGKILL: a crash as far as the node can tell."""
        process = self._process
        assert process is not None, "the node was never started"
        if process.poll() is None:
            process.kill()
        process.wait(STOP_TIMEOUT_S)
        return self._reap()

    def _reap(self) -> int:
        code = -1
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            code = self._process.wait(STOP_TIMEOUT_S)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return code

    def cleanup(self) -> None:
        """Stops the node whatever state it is in (never raises) and forgets it."""
        try:
            if self._process is not None:
                self.stop()
        except Exception as error:  # a finaliser must not hide the test's own failure
            print(f"could not stop node {self.network.node_home}: {error!r}", file=sys.stderr)
            with contextlib.suppress(Exception):
                self._reap()
        finally:
            with contextlib.suppress(ValueError):
                LIVE_NODES.remove(self)


def assert_idle_blocks(client: Client, after_height: int, through_height: int) -> None:
    """Every block above after_height up to through_height holds no transaction. With nothing
    to order a node still commits an idle heartbeat block every IDLE_BLOCK_INTERVAL_MS (5 s,
    causeway.consensus.engines), so a test that waits, or restarts a node, may see some."""
    for height in range(after_height + 1, through_height + 1):
        transactions = client.get_block(height).block.transactions
        assert not transactions, f"block {height} holds {len(transactions)} transactions"
