"""A real solo node in this process, on free loopback ports, for the operations tests (probes,
metrics, reload) and the dashboard check of tests/deploy: started by ``running_node`` and
stopped when its block ends, whatever happened."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from causeway.node import Node, load_node_config
from causeway.provisioning import NodeSettings, init_network, node_directory, render_node_config

LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 45.0
STOP_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.05
# Below uvicorn's keep-alive timeout of 5 s (running_node).
CLIENT_KEEPALIVE_S = 1.0
BLOCK_INTERVAL_MS = 50
MAP_SIZE_BYTES = 1 << 30


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


def make_solo_home(directory: Path, chain_id: str = "operate-test") -> Path:
    """A one-validator network's node home (see make_node_home)."""
    return make_node_home(directory, chain_id=chain_id)


def make_node_home(
    directory: Path, *, chain_id: str = "operate-test", consensus: str = "solo", validators: int = 1
) -> Path:
    """The first node's home of a new network, its config.toml on free loopback ports (the
    other nodes' too, where nobody listens unless a test starts them) with one verifying
    process (the machine is shared)."""
    description = init_network(
        directory, validators, "intl", consensus, chain_id=chain_id, validators=validators
    )
    nodes = []
    for node in description.nodes:
        grpc_port, http_port, peer_port = free_ports(3)
        settings = NodeSettings(
            grpc_address=f"{LOOPBACK}:{grpc_port}",
            http_address=f"{LOOPBACK}:{http_port}",
            peer_address=f"{LOOPBACK}:{peer_port}",
            block_interval_ms=BLOCK_INTERVAL_MS,
            map_size_bytes=MAP_SIZE_BYTES,
        )
        nodes.append(dataclasses.replace(node, settings=settings))
    first = nodes[0]
    home = node_directory(directory, first.name)
    text = render_node_config(first, nodes)
    text = text.replace("[mempool]\n", "[mempool]\nverify_processes = 1\n", 1)
    (home / "config.toml").write_text(text, encoding="utf-8")
    return home


@dataclasses.dataclass
class RunningNode:
    node: Node
    home: Path
    client: httpx.AsyncClient

    @property
    def config_file(self) -> Path:
        return self.home / "config.toml"


@contextlib.asynccontextmanager
async def running_node(
    home: Path, *, install_signal_handlers: bool = False
) -> AsyncIterator[RunningNode]:
    """The node of `home`, serving until the block ends; an HTTP client for its port."""
    node = Node(load_node_config(home))
    task = asyncio.create_task(node.run(install_signal_handlers=install_signal_handlers))
    base_url = f"http://{node.config.http_address}"
    try:
        # An idle connection is dropped by the client well before uvicorn closes it (5 s, as
        # httpx's own default): at equal timeouts a request after a 5 s wait (the heartbeat
        # block) could go out on a connection the server was closing (httpx.ReadError in CI).
        limits = httpx.Limits(keepalive_expiry=CLIENT_KEEPALIVE_S)
        async with httpx.AsyncClient(base_url=base_url, timeout=10.0, limits=limits) as client:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                if task.done():
                    task.result()  # raises what stopped the node
                    raise AssertionError("the node stopped before answering")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise AssertionError(f"the node did not answer within {START_TIMEOUT_S} s")
                await asyncio.sleep(POLL_INTERVAL_S)
            yield RunningNode(node, home, client)
    finally:
        node.stop()
        await asyncio.wait_for(task, STOP_TIMEOUT_S)
