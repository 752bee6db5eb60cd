"""causeway.provisioning.devnet: stopping a devnet's processes all at once."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

from causeway.provisioning.devnet import (
    DevnetNode,
    address_in_use,
    is_running,
    stop_processes,
)

SLEEPER = "import time; time.sleep(60)"
# Ignores SIGTERM, as a node stuck in a long write would seem to.
STUBBORN = (
    "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)"
)


def start(code: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    return process


def test_every_process_gets_sigterm_at_once() -> None:
    processes = [start(SLEEPER) for _ in range(3)]
    try:
        began = time.monotonic()
        killed = stop_processes([process.pid for process in processes], timeout_s=20.0)
        assert killed == set()
        assert not any(is_running(process.pid) for process in processes)
        # Far below the timeout: nobody waited for a SIGKILL.
        assert time.monotonic() - began < 10.0
    finally:
        for process in processes:
            process.kill()
            process.wait(5)
            if process.stdout is not None:
                process.stdout.close()


def test_a_process_that_ignores_sigterm_is_killed_after_the_timeout() -> None:
    stubborn = start(STUBBORN)
    polite = start(SLEEPER)
    try:
        assert stubborn.stdout is not None
        assert stubborn.stdout.readline().strip() == "ready"
        killed = stop_processes([stubborn.pid, polite.pid, 0], timeout_s=0.5)
        assert killed == {stubborn.pid}
        assert not is_running(stubborn.pid)
        assert not is_running(polite.pid)
    finally:
        for process in (stubborn, polite):
            process.kill()
            process.wait(5)
            if process.stdout is not None:
                process.stdout.close()


def test_a_node_of_a_chain_is_labelled_with_it() -> None:
    node = DevnetNode(name="node2", home="h", pid=0, grpc_address="a", http_address="b")
    assert node.label == "node2"
    chained = DevnetNode(
        name="node2", home="h", pid=0, grpc_address="a", http_address="b", chain="hub"
    )
    assert chained.label == "hub/node2"


def test_an_exited_process_another_process_has_not_reaped_is_not_running() -> None:
    # A parent that starts a child which exits at once, never reaps it, and prints its pid: the
    # child stays a zombie of that parent, which `devnet down` (another process) must not wait
    # for forever (it did, for a relayer the tests had restarted).
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            "child = subprocess.Popen([sys.executable, '-c', 'pass'])\n"
            "print(child.pid, flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        deadline = time.monotonic() + 10
        while is_running(child_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not is_running(child_pid)
        assert stop_processes([child_pid], timeout_s=0.5) == set()
        assert is_running(parent.pid)
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


def test_a_port_is_in_use_while_something_listens_not_while_old_connections_linger() -> None:
    """A node stopped a moment ago leaves its closed connections in TIME_WAIT on its port for a
    minute; `devnet start` must not take that for another process listening there."""
    with socket.socket() as listener:
        # As gRPC's server listens (its accepted connections inherit the option).
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        assert address_in_use(address)
        with socket.create_connection(listener.getsockname()) as client:
            accepted, _ = listener.accept()
            # The listening side closes first: its end of the connection stays in TIME_WAIT.
            accepted.close()
            client.recv(1)
    assert not address_in_use(address)
