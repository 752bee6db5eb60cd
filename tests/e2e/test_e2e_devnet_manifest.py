"""`causeway devnet up --manifest` with real node processes: two chains from one manifest, each on
its own ports, both committing, shown by `devnet status --json`, stopped by `devnet down`.

The devnet runs on a random free block of ports and is always stopped on the way out
(manifest_devnets.manifest_devnet).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from manifest_devnets import manifest_devnet, run_cli

from causeway.contracts.v1 import contracts_pb2
from causeway.sdk import Client, Identity

pytestmark = pytest.mark.e2e

STEP_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.2
# Two chains of one solo validator: three ports each (gRPC, HTTP, peers).
PORTS = 6

MANIFEST = """\
port_base = {port_base}

[[chains]]
id = "hub"
hub = true
consensus = "solo"
crypto = "intl"

[[chains]]
id = "side"
consensus = "solo"
crypto = "gm"

[[links]]
chains = ["hub", "side"]

[[relayers]]
name = "carrier"
links = [["hub", "side"]]
"""


def status(directory: Path) -> dict[str, Any]:
    completed = run_cli("devnet", "status", "--dir", str(directory), "--json")
    assert completed.returncode == 0, completed.stderr
    document: dict[str, Any] = json.loads(completed.stdout)
    return document


def heights(document: dict[str, Any]) -> dict[str, int | None]:
    return {chain["id"]: chain["height"] for chain in document["chains"]}


def test_a_manifest_starts_two_chains_that_each_commit(tmp_path: Path) -> None:
    with manifest_devnet(tmp_path, MANIFEST, PORTS) as directory:
        before = status(directory)
        assert [(chain["id"], chain["nodes_answering"]) for chain in before["chains"]] == [
            ("hub", 1),
            ("side", 1),
        ]
        # devnet up joined the link (a client at each end naming the other) and started the
        # manifest's relayer.
        (link,) = before["links"]
        assert link["chains"] == ["hub", "side"]
        assert [(end["client"], end["status"]) for end in link["ends"]] == [
            ("client-0", "active"),
            ("client-0", "active"),
        ]
        assert [(r["name"], r["running"]) for r in before["relayers"]] == [("carrier", True)]
        # Each node answers with its own chain's id, on its own ports.
        assert {(node["chain"], node["chain_id"]) for node in before["nodes"]} == {
            ("hub", "hub"),
            ("side", "side"),
        }
        assert len({node["grpc_address"] for node in before["nodes"]}) == 2
        start = heights(before)
        assert all(height is not None for height in start.values()), start

        description = json.loads((directory / "network.json").read_text(encoding="utf-8"))
        for chain in description["chains"]:
            (client_member,) = (
                member for member in chain["members"] if member["member_id"] == "org1/client"
            )
            identity = Identity.load(client_member["directory"])
            with Client(chain["nodes"][0]["grpc_address"], identity, timeout_s=30.0) as client:
                for serial in range(2):
                    result = client.invoke(
                        "kv",
                        "put",
                        contracts_pb2.KvPutArguments(
                            key=f"{chain['id']}/{serial}".encode(), value=b"v"
                        ),
                        timeout_s=30.0,
                    )
                    assert result.succeeded, result

        deadline = time.monotonic() + STEP_TIMEOUT_S
        while True:
            now = heights(status(directory))
            if all((now[chain] or 0) > (start[chain] or 0) for chain in start):
                break
            assert time.monotonic() < deadline, f"heights did not advance: {start} -> {now}"
            time.sleep(POLL_INTERVAL_S)

        # Tokens go from side to hub over the link, carried by the relayer process.
        side = next(chain for chain in description["chains"] if chain["id"] == "side")
        hub = next(chain for chain in description["chains"] if chain["id"] == "hub")

        def member(chain: dict[str, Any], member_id: str) -> Identity:
            (entry,) = (m for m in chain["members"] if m["member_id"] == member_id)
            return Identity.load(entry["directory"])

        side_address = side["nodes"][0]["grpc_address"]
        with (
            Client(side_address, member(side, "org1/admin"), timeout_s=30.0) as admin,
            Client(side_address, member(side, "org1/client"), timeout_s=30.0) as sender,
            Client(
                hub["nodes"][0]["grpc_address"], member(hub, "org1/client"), timeout_s=30.0
            ) as receiver,
        ):
            admin.interchain.issue("org1/client", "gold", 100)
            packet = sender.interchain.send_transfer(
                "client-0", denom="gold", amount=7, receiver="org1/client"
            )
            record = sender.interchain.wait_for_packet(
                "client-0", packet.sequence, timeout_s=STEP_TIMEOUT_S
            )
            assert record.state == "acknowledged"
            assert record.acknowledgement.success
            assert sender.interchain.balance("org1/client", "gold") == 93
            assert receiver.interchain.balance("org1/client", "transfer/client-0/gold") == 7

        stopped = run_cli("devnet", "down", "--dir", str(directory))
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout.splitlines() == [
            "relayer carrier stopped",
            "hub/node1 stopped",
            "side/node1 stopped",
        ]
        after = status(directory)
        assert not any(node["running"] for node in after["nodes"])
        assert heights(after) == {"hub": None, "side": None}
