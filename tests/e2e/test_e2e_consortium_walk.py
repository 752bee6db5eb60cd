"""Issue 12's walk, steps 1 to 3, as separate organisations would do it (docs/operations.md).

1. city, port and rail each run `causeway org init` on a "machine" of their own (a folder); only
   their public/ folders reach the consortium's folder, where `causeway genesis assemble` makes the
   genesis, peers.json and the chain's first proposal (every TLS CA and node endpoint on chain).
   Each organisation makes its node's home from its own folder and the genesis, and starts it.
2. Governance on chain, each admin from its own machine: city proposes the node records, port
   votes, rail executes. harbour, a fourth organisation, runs `org init` and `org join-request`;
   city proposes it, rail votes, port executes. harbour's node is prepared with
   `causeway node join` (its own identity, the genesis, one bootstrap peer, and the state of a
   snapshot city's node serves, verified against a header), starts, catches up by block sync
   from the snapshot's height and follows as an observer; the running nodes dial it without a
   restart.
3. harbour's `org join-request --validator` is proposed and voted (three of four organisations now,
   harbour's admin among them) and executed: harbour's node
   becomes a validator and signs blocks. With rail's node stopped the chain still commits, which
   takes harbour's vote (three of four).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from devnet_harness import free_port_base
from test_e2e_org_consortium import _causeway, _height, _nodes
from waiting import wait_until

from causeway.contracts.v1 import contracts_pb2
from causeway.errors import CausewayError
from causeway.sdk import Client, Identity

pytestmark = pytest.mark.e2e

FOUNDERS = ("city", "port", "rail")
NEWCOMER = "harbour"
CHAIN_ID = "consortium-walk"
PORTS_PER_ORGANISATION = 3
STEP_TIMEOUT_S = 90.0


def _role(address: str) -> str:
    try:
        with Client(address, timeout_s=2.0) as client:
            return str(client.status().role)
    except Exception:
        return ""


def _governed(machines: dict[str, Path], node: str, draft: Path, roles: tuple[str, ...]) -> None:
    """A proposal from a draft file: created with the proposer's yes, voted yes by the voters,
    executed by the executor (`roles`: proposer, voters..., executor), each organisation with
    only its own admin folder."""
    proposer, *voters, executor = roles

    def admin(name: str) -> str:
        return str(machines[name] / "org" / "members" / "admin")

    arguments = ["proposal", "create", "-i", admin(proposer), "--calls-file", str(draft)]
    arguments += ["--deadline-days", "7", "--vote-yes", "--node", node, "--json"]
    created = json.loads(_causeway(*arguments))
    proposal = str(created["id"])
    for voter in voters:
        _causeway("proposal", "vote", proposal, "--yes", "-i", admin(voter), "--node", node)
    executed = json.loads(
        _causeway("proposal", "execute", proposal, "-i", admin(executor), "--node", node, "--json")
    )
    assert executed["status"] == "executed", executed


def test_three_organisations_govern_a_fourth_into_the_validator_set(tmp_path: Path) -> None:
    organisations = (*FOUNDERS, NEWCOMER)
    base = free_port_base(PORTS_PER_ORGANISATION * len(organisations))
    ports = {
        name: base + PORTS_PER_ORGANISATION * index for index, name in enumerate(organisations)
    }
    grpc = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
    consortium = tmp_path / "consortium"
    consortium.mkdir()
    machines = {name: tmp_path / f"machine-{name}" for name in organisations}
    for name in organisations:
        machines[name].mkdir()
        _causeway(
            "org", "init", name, "--dir", str(machines[name] / "org"), "--crypto", "intl",
            "--port-base", str(ports[name]),
        )  # fmt: skip
        # Only the public folder leaves the organisation's machine.
        shutil.copytree(machines[name] / "org" / "public", consortium / name)

    # 1. The genesis from the founders' public parts; each founder's node from its own folder.
    arguments = ["genesis", "assemble", "--chain-id", CHAIN_ID, "--consensus", "tbft"]
    arguments += [argument for name in FOUNDERS for argument in ("--org", str(consortium / name))]
    arguments += ["--out", str(consortium / "genesis.json"), "--allow-concentrated-power"]
    assembled = json.loads(_causeway(*arguments, "--json"))
    (nodes_proposal,) = (Path(path) for path in assembled["node_records_proposals"])
    homes: dict[str, Path] = {}
    for name in FOUNDERS:
        for file_name in ("genesis.json", "peers.json"):
            shutil.copy(consortium / file_name, machines[name] / file_name)
        _causeway(
            "org", "node-config", "--dir", str(machines[name] / "org"),
            "--genesis", str(machines[name] / "genesis.json"),
        )  # fmt: skip
        (homes[name],) = sorted((machines[name] / "org" / "nodes").iterdir())

    with _nodes(homes, {name: {} for name in FOUNDERS}):
        wait_until(
            lambda: all(_height(grpc[name]) >= 1 for name in FOUNDERS),
            STEP_TIMEOUT_S,
            "every founder's node answers",
        )
        city = grpc["city"]
        # 2. Governance on chain: the node records, then harbour by its join request.
        _governed(machines, city, nodes_proposal, ("city", "port", "rail"))
        request = consortium / "join-harbour.json"
        _causeway(
            "org", "join-request", "--dir", str(machines[NEWCOMER] / "org"),
            "--chain-genesis", str(consortium / "genesis.json"), "--out", str(request),
        )  # fmt: skip
        _governed(machines, city, request, ("city", "rail", "port"))

        # city's operator makes a snapshot on its running node, which its HTTP port serves.
        _causeway("node", "snapshot", "create", "--home", str(homes["city"]))

        # harbour's node joins: its own identity, the genesis, one bootstrap peer, and the
        # state from city's snapshot (verified against a header the genesis validators signed)
        # rather than a replay of every block since genesis.
        harbour_home = machines[NEWCOMER] / "node"
        bundle = consortium / "tls-cas.pem"
        # The TLS CAs of the public folders it holds: the founders' and its own.
        bundle.write_bytes(
            b"".join((consortium / name / "tls-ca.crt").read_bytes() for name in organisations)
        )
        city_peer = f"city-node1=city/city-node1@127.0.0.1:{ports['city'] + 2}"
        _causeway(
            "node", "join", "--home", str(harbour_home),
            "--genesis", str(consortium / "genesis.json"),
            "--identity", str(machines[NEWCOMER] / "org" / "members" / "harbour-node1"),
            "--tls-ca-bundle", str(bundle), "--peer", city_peer,
            "--listen-address", f"127.0.0.1:{ports[NEWCOMER] + 2}",
            "--grpc-address", grpc[NEWCOMER],
            "--http-address", f"127.0.0.1:{ports[NEWCOMER] + 1}",
            "--snapshot-from", f"127.0.0.1:{ports['city'] + 1}",
        )  # fmt: skip
        log = machines[NEWCOMER] / "node.log"
        with log.open("wb") as output:
            harbour = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "causeway.cli",
                    "node",
                    "start",
                    "--home",
                    str(harbour_home),
                ],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            top = _height(city)
            wait_until(
                lambda: _height(grpc[NEWCOMER]) >= top,
                STEP_TIMEOUT_S,
                lambda: f"harbour's node caught up to {top}:\n{log.read_text()[-3000:]}",
            )
            assert _role(grpc[NEWCOMER]) == "observer"
            # Blocks below the snapshot were never replayed here.
            with (
                Client(grpc[NEWCOMER], timeout_s=5.0) as reader,
                pytest.raises(CausewayError, match="not held"),
            ):
                reader.get_block(1)

            # 3. harbour's node made a validator by a proposal of its own join request.
            validator_request = consortium / "validator-harbour.json"
            _causeway(
                "org", "join-request", "--dir", str(machines[NEWCOMER] / "org"),
                "--chain-genesis", str(consortium / "genesis.json"), "--validator",
                "--out", str(validator_request),
            )  # fmt: skip
            # Four organisations now: a majority is three, harbour's admin among them.
            _governed(machines, city, validator_request, ("port", "city", NEWCOMER, "rail"))
            wait_until(
                lambda: _role(grpc[NEWCOMER]) == "validator",
                STEP_TIMEOUT_S,
                lambda: f"harbour's node a validator:\n{log.read_text()[-3000:]}",
            )

            # It signs blocks: with rail's node stopped, the chain needs its vote to commit.
            _stop_node(grpc["rail"], homes["rail"])
            client_folder = machines["port"] / "org" / "members" / "client"
            with Client(grpc["port"], Identity.load(client_folder)) as client:
                committed = client.invoke(
                    "kv",
                    "put",
                    contracts_pb2.KvPutArguments(key=b"walk", value=b"harbour votes"),
                    timeout_s=STEP_TIMEOUT_S,
                )
                assert committed.succeeded, committed
                certificate = client.get_block(committed.height).certificate
            signers = {signature.validator for signature in certificate.signatures}
            assert "harbour/harbour-node1" in signers, signers
            assert "rail/rail-node1" not in signers, signers
        finally:
            harbour.terminate()
            try:
                harbour.wait(timeout=20)
            except subprocess.TimeoutExpired:
                harbour.kill()
                harbour.wait()


def _stop_node(address: str, home: Path) -> None:
    """Stops the node of `home` (a child of _nodes) with SIGTERM through its pid file."""
    pid = int((home / "node.pid").read_text(encoding="utf-8").strip())
    subprocess.run(["kill", "-TERM", str(pid)], check=True)
    wait_until(lambda: _height(address) < 0, STEP_TIMEOUT_S, f"the node at {address} stopped")
