"""End-to-end throughput and latency of one local node, from a fresh network to a report.

    .venv/bin/python bench/local_network.py [--workload kv-put|ledger-transfer]
        [--transactions 20000] [--rate 0] [--concurrency 4] [--crypto intl|gm]
        [--keep DIR] [--json]

Creates a network with `causeway init` in a temporary folder (or DIR with --keep), starts its node
as a separate process (so that the node and the harness do not share a GIL), waits until it
answers, runs `causeway bench` against it and stops the node. The figures are those of
`causeway bench`: see docs/cli.md for what they mean.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STARTUP_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _causeway(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "causeway.cli", *arguments]


def _use_free_ports(home: Path) -> str:
    """Rewrites the node's listen addresses to free ports; returns the gRPC address."""
    config = home / "config.toml"
    grpc_address = f"127.0.0.1:{_free_port()}"
    http_address = f"127.0.0.1:{_free_port()}"
    lines = []
    for original in config.read_text(encoding="utf-8").splitlines():
        line = original
        if line.startswith("grpc_address ="):
            line = f'grpc_address = "{grpc_address}"'
        elif line.startswith("http_address ="):
            line = f'http_address = "{http_address}"'
        lines.append(line)
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return grpc_address


def _wait_until_answering(address: str, node: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if node.poll() is not None:
            raise SystemExit(f"the node exited with status {node.returncode}")
        probe = subprocess.run(
            _causeway("status", "--node", address, "--json"),
            capture_output=True,
            check=False,
        )
        if probe.returncode == 0:
            return
        time.sleep(0.5)
    raise SystemExit(f"the node did not answer on {address} within {STARTUP_TIMEOUT_S:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workload", default="kv-put")
    parser.add_argument("--transactions", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--crypto", default="intl", choices=["intl", "gm"])
    parser.add_argument("--keep", type=Path, help="build the network here and leave it there")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()

    directory = options.keep or Path(tempfile.mkdtemp(prefix="causeway-bench-")) / "net"
    subprocess.run(
        _causeway("init", str(directory), "--crypto", options.crypto, "--json"),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    home = directory / "nodes" / "node1"
    address = _use_free_ports(home)
    log_path = directory / "node.log"
    with log_path.open("wb") as log:
        node = subprocess.Popen(_causeway("node", "start", "--home", str(home)), stderr=log)
        try:
            _wait_until_answering(address, node)
            bench = [
                "bench",
                "--network",
                str(directory),
                "--node",
                address,
                "--workload",
                options.workload,
                "--transactions",
                str(options.transactions),
                "--rate",
                str(options.rate),
                "--concurrency",
                str(options.concurrency),
            ]
            if options.json:
                bench.append("--json")
            completed = subprocess.run(_causeway(*bench), check=False)
        finally:
            node.send_signal(signal.SIGTERM)
            try:
                node.wait(timeout=30)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()
    if options.keep is None:
        shutil.rmtree(directory.parent, ignore_errors=True)
    else:
        print(f"network and node log kept in {directory}", file=sys.stderr)
    sys.exit(completed.returncode)


def _stop_on_terminate(signal_number: int, frame: object) -> None:
    # SIGTERM unwinds like Ctrl-C, so the `finally` above stops the node this script started.
    del frame
    raise KeyboardInterrupt(f"signal {signal_number}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    signal.signal(signal.SIGTERM, _stop_on_terminate)
    main()
