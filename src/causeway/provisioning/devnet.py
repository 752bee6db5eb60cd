"""A local network of node processes on loopback ports: what `causeway devnet` manages.

Everything about a devnet lives under one folder: the network `causeway init` wrote, each node's
log beside its home, and devnet.json with the process ids and addresses, so that `status`,
`restart` and `down` work from any shell.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

from causeway.errors import ConfigurationError
from causeway.node.config import load_node_config

DEVNET_FILE_NAME = "devnet.json"
LOG_FILE_NAME = "node.log"
STOP_TIMEOUT_S = 20.0
START_TIMEOUT_S = 60.0


@dataclass
class DevnetNode:
    name: str
    home: str
    pid: int
    grpc_address: str
    http_address: str
    # The chain's id in a devnet from a manifest (several chains, each with its node1...); empty
    # in a devnet of one chain, and in devnet.json files written before manifests.
    chain: str = ""
    # Who must answer at grpc_address: the chain id of the node's genesis and the node's member
    # id, so that another process on that port (another devnet's node) is never taken for this
    # one. Empty in devnet.json files written before they were kept.
    chain_id: str = ""
    member_id: str = ""

    @property
    def label(self) -> str:
        """How the CLI names it: "node2", or "hub/node2" in a devnet of several chains."""
        return f"{self.chain}/{self.name}" if self.chain else self.name


def devnet_file(directory: Path) -> Path:
    return directory / DEVNET_FILE_NAME


def load_devnet(directory: Path) -> list[DevnetNode]:
    path = devnet_file(directory)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"no devnet in {directory} (no {DEVNET_FILE_NAME}): start one with causeway devnet up"
        ) from None
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"cannot read {path}: {error}") from None
    try:
        return [DevnetNode(**entry) for entry in document["nodes"]]
    except (KeyError, TypeError) as error:
        raise ConfigurationError(f"{path} is not a devnet description: {error}") from None


def save_devnet(directory: Path, nodes: list[DevnetNode]) -> None:
    path = devnet_file(directory)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(
        json.dumps({"nodes": [asdict(node) for node in nodes]}, indent=2) + "\n", encoding="utf-8"
    )
    os.replace(temporary, path)


def is_running(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill(0): reap it if it has exited.
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        # Not our child: it may still be a zombie waiting for its own parent (a relayer that
        # another process started), which has exited all the same.
        return not _is_zombie(pid)
    return reaped == 0


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    # "pid (command) state ...": the command may hold spaces and parentheses.
    return stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] == "Z"


def start_node_process(home: Path) -> int:
    """Starts `causeway node start --home HOME` detached, logging to HOME/node.log."""
    log = (home / LOG_FILE_NAME).open("ab")
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "causeway.cli", "node", "start", "--home", str(home)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()
    return process.pid


RELAYERS_FILE_NAME = "relayers.json"
ProcessT = TypeVar("ProcessT")


@dataclass
class DevnetRelayer:
    """A relayer process of a devnet from a manifest (DIR/relayers.json)."""

    name: str
    config: str
    pid: int
    # Where it serves /metrics ("host:port").
    metrics_address: str


def _load_processes(path: Path, key: str, make: Callable[..., ProcessT]) -> list[ProcessT]:
    """The processes a devnet recorded in ``path`` under ``key``; none without the file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"cannot read {path}: {error}") from None
    try:
        return [make(**entry) for entry in document[key]]
    except (KeyError, TypeError) as error:
        raise ConfigurationError(f"{path} is not a list of {key}: {error}") from None


def _save_processes(
    path: Path, key: str, processes: Sequence[DevnetRelayer] | Sequence[DevnetService]
) -> None:
    """Written whole and moved into place, so that a reader never sees half a file."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(
        json.dumps({key: [asdict(process) for process in processes]}, indent=2) + "\n",
        encoding="utf-8",
    )
    os.replace(temporary, path)


def load_relayers(directory: Path) -> list[DevnetRelayer]:
    """The devnet's relayer processes; none when it has no relayers.json."""
    return _load_processes(directory / RELAYERS_FILE_NAME, "relayers", DevnetRelayer)


def save_relayers(directory: Path, relayers: list[DevnetRelayer]) -> None:
    _save_processes(directory / RELAYERS_FILE_NAME, "relayers", relayers)


def start_relayer_process(config: Path, metrics_host: str, metrics_port: int) -> int:
    """Starts `causeway relayer start --config CONFIG` detached, logging beside the config."""
    log = config.with_suffix(".log").open("ab")
    try:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "causeway.cli",
                "relayer",
                "start",
                "--config",
                str(config),
                "--json",
                "--metrics-host",
                metrics_host,
                "--metrics-port",
                str(metrics_port),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()
    return process.pid


SERVICES_FILE_NAME = "services.json"
SERVICES_FOLDER_NAME = "services"


@dataclass
class DevnetService:
    """A process an application runs beside a devnet's chains (a directory service, a roll-up),
    recorded in DIR/services.json so that `devnet down` stops it with the nodes."""

    name: str
    arguments: list[str]
    pid: int
    log: str
    # Where it serves, for `devnet status` and the user ("" when it serves nothing).
    url: str = ""


def load_services(directory: Path) -> list[DevnetService]:
    """The devnet's application processes; none when it has no services.json."""
    return _load_processes(directory / SERVICES_FILE_NAME, "services", DevnetService)


def save_services(directory: Path, services: list[DevnetService]) -> None:
    _save_processes(directory / SERVICES_FILE_NAME, "services", services)


def start_service_process(
    directory: Path, name: str, arguments: list[str], *, url: str = ""
) -> DevnetService:
    """Starts `causeway ARGUMENTS` detached as the devnet's service ``name``, logging to
    DIR/services/NAME.log, and records it; a running service of that name is stopped first."""
    services = load_services(directory)
    for service in services:
        if service.name == name and service.pid:
            stop_process(service.pid)
    folder = directory / SERVICES_FOLDER_NAME
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / f"{name}.log"
    log = log_path.open("ab")
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "causeway.cli", *arguments],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()
    started = DevnetService(name, list(arguments), process.pid, str(log_path), url)
    save_services(directory, [service for service in services if service.name != name] + [started])
    return started


def describe_node(home: Path, pid: int, chain: str = "") -> DevnetNode:
    config = load_node_config(home)
    return DevnetNode(
        name=config.name,
        home=str(home),
        pid=pid,
        grpc_address=config.grpc_address,
        http_address=config.http_address,
        chain=chain,
        chain_id=genesis_chain_id(config.genesis_file),
        member_id=config.member_id,
    )


def genesis_chain_id(path: Path) -> str:
    """The chain id a genesis file names (its one field read here, without the whole parse)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"cannot read genesis file {path}: {error}") from None
    chain_id = document.get("chain_id") if isinstance(document, dict) else None
    if not isinstance(chain_id, str) or not chain_id:
        raise ConfigurationError(f"genesis file {path} has no chain id")
    return chain_id


def node_listen_addresses(home: Path) -> list[tuple[str, str]]:
    """What the node of `home` listens on: (what, "host:port") for its gRPC, HTTP and peer
    ports, the peer port only where it has peers."""
    config = load_node_config(home)
    addresses = [
        (f"{config.name}'s gRPC port", config.grpc_address),
        (f"{config.name}'s HTTP port", config.http_address),
    ]
    if config.peers.peers:
        addresses.append((f"{config.name}'s peer port", config.peers.listen_address))
    return addresses


def address_in_use(address: str) -> bool:
    """Whether something on this host already listens on ``host:port`` (a bind fails with
    EADDRINUSE). Checked before a devnet starts its nodes: a node that cannot bind exits, but
    a process already on the port answers in its place, and `up` would report it as the
    devnet's."""
    host, _, port = address.rpartition(":")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the node binds (gRPC sets SO_REUSEADDR): the connections a node just stopped
        # leaves in TIME_WAIT on its port for a minute do not hold it; a listener does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return True
            raise ConfigurationError(f"cannot check the address {address}: {error}") from None
    return False


def check_addresses_free(addresses: list[tuple[str, str]]) -> None:
    """Raises ConfigurationError naming every address already in use (nothing is started)."""
    busy = [f"{address} ({what})" for what, address in addresses if address_in_use(address)]
    if busy:
        raise ConfigurationError(
            f"another process listens on {', '.join(busy)}: stop it, or choose other ports "
            "with --port-base; no node was started"
        )


def stop_process(pid: int, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """SIGTERM, then SIGKILL after timeout_s; True if it had to be killed."""
    if not is_running(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_running(pid):
            return False
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    while is_running(pid):
        time.sleep(0.05)
    return True


def stop_processes(pids: list[int], timeout_s: float = STOP_TIMEOUT_S) -> set[int]:
    """SIGTERM to every process at once, then SIGKILL to those still running after timeout_s;
    the ones that had to be killed. At once, because a node takes seconds to stop cleanly and a
    devnet of several chains has many: one after the other, `down` would take minutes."""
    running = [pid for pid in pids if is_running(pid)]
    for pid in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        running = [pid for pid in running if is_running(pid)]
        if not running:
            return set()
        time.sleep(0.05)
    for pid in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    while any(is_running(pid) for pid in running):
        time.sleep(0.05)
    return set(running)


def holds_devnet(directory: Path) -> bool:
    """Whether `directory` holds a devnet (running or not) or a network with node data: what
    `devnet up` would delete to make a new one, and so refuses to without --fresh."""
    if devnet_file(directory).exists() or (directory / "network.json").exists():
        return True
    nodes = directory / "nodes"
    return nodes.is_dir() and any(path.is_dir() for path in nodes.iterdir())


def node_homes(directory: Path) -> list[Path]:
    nodes = directory / "nodes"
    homes = sorted(path for path in nodes.iterdir() if (path / "config.toml").is_file())
    if not homes:
        raise ConfigurationError(f"no node folders in {nodes}")
    return homes
