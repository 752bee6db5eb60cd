"""Issue 8 end to end, on real processes: the README demo's three chains (a tbft hub, chain A on
tbft and intl, chain B on raft and gm) from the example manifest, joined by `devnet up` and
carried by its relayer process.

- the demo's transfer (A to B through the hub) shows every step and the balances;
- the demo's user contract (the token template, built here) is deployed on A by governance and
  its transfer's event and the balances are shown;
- a stream of transfers while the relayer is SIGKILLed in the middle of its work and a validator
  of each chain is SIGKILLed and restarted: every packet ends exactly once, acknowledged, and
  every denomination adds up on every chain;
- a forged packet submitted directly is refused and changes nothing.

One devnet for the module (about 20 s to start); every process it recorded is stopped on the way
out, whatever happens.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from manifest_devnets import manifest_devnet, run_cli

from causeway.errors import CausewayError, NotFoundError
from causeway.interchain import keys
from causeway.interchain.transfer import forward_memo
from causeway.interchain.v1 import interchain_pb2
from causeway.provisioning import load_devnet_description
from causeway.provisioning.devnet import load_relayers
from causeway.provisioning.interchain_devnet import DevnetDescription
from causeway.sdk import Client, Identity
from causeway.types.v1 import types_pb2

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "devnet-three-chains.toml"
CLI_TIMEOUT_S = 180.0
# 11 nodes of three ports each, and the relayer's metrics port.
PORTS = 34
STEP_TIMEOUT_S = 120.0
POLL_S = 0.25
DENOM = "gold"
TRANSFERS = 12
AMOUNT = 10


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # The example manifest on free ports (its braces escaped: the rest is a format template).
    text = EXAMPLE.read_text(encoding="utf-8").replace("{", "{{").replace("}", "}}")
    template = re.sub(r"^port_base = \d+$", "port_base = {port_base}", text, flags=re.M)
    assert "{port_base}" in template
    root = tmp_path_factory.mktemp("interchain")
    with manifest_devnet(root, template, PORTS, timeout_s=CLI_TIMEOUT_S) as directory:
        yield directory


def member(description: DevnetDescription, chain_id: str, member_id: str) -> Client:
    chain = description.chain(chain_id)
    (entry,) = (m for m in chain.members if m.member_id == member_id)
    return Client(chain.nodes[0].grpc_address, Identity.load(Path(entry.directory)), timeout_s=30.0)


def clients_of(description: DevnetDescription, first: str, second: str) -> tuple[str, str]:
    for link in description.links:
        if link.chains == (first, second):
            return link.clients
        if link.chains == (second, first):
            return link.clients[1], link.clients[0]
    raise AssertionError(f"no link {first}-{second}")


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(POLL_S)


def test_the_demo_transfer_goes_from_a_to_b_through_the_hub(devnet: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "scripts/demo_transfer.py", str(devnet)],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    steps = [line.split(".")[0] for line in lines if re.match(r"^\d\. ", line)]
    assert steps == ["1", "2", "3", "4", "5"], completed.stdout
    assert any("acknowledged on chain-a: acknowledged, success=True" in line for line in lines)
    assert lines[-1].startswith("after: chain-a org1/client 750 gold; chain-b org1/client 250 ")


def run_demo_contract(devnet: Path) -> tuple[str, list[str]]:
    """scripts/demo_contract.py's whole output and its lines; it must succeed."""
    completed = subprocess.run(
        [sys.executable, "scripts/demo_contract.py", str(devnet)],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
        cwd=ROOT,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    return output, completed.stdout.splitlines()


def test_the_demo_contract_is_built_deployed_on_chain_a_and_transfers(devnet: Path) -> None:
    output, lines = run_demo_contract(devnet)
    steps = [line.split(".")[0] for line in lines if re.match(r"^\d\. ", line)]
    assert steps == ["1", "2", "3"], output
    module = re.search(
        r"^1\. built the assemblyscript token template as demo_token: (\S+\.wasm), ", output, re.M
    )
    assert module and Path(module.group(1)).is_relative_to(devnet), output
    deployed = re.search(
        r"^2\. deployed on chain-a at height \d+, signed by org1/admin and endorsed by "
        r"org2/admin, org3/admin, org4/admin: demo_token version 1, active, "
        r"code hash ([0-9a-f]{64})$",
        output,
        re.M,
    )
    assert deployed, output
    assert "   init: demo_token.transfer from= to=org1/admin amount=1000" in lines, output
    assert "   event: demo_token.transfer from=org1/admin to=org2/client amount=250" in lines
    assert lines[-1] == "balances: org1/admin 750, org2/client 250 (total supply 1000)", output
    # What the script printed is what chain-a holds: the record, read with its proof.
    description = load_devnet_description(devnet)
    with member(description, "chain-a", "org2/client") as client:
        record = client.contracts.get_contract("demo_token")
    assert record.code_hash.hex() == deployed.group(1)
    assert (record.version, record.status) == (1, "active")

    # Run again on the same devnet, the script upgrades the token (its state kept) and transfers.
    output, lines = run_demo_contract(devnet)
    assert re.search(
        r"^2\. upgraded on chain-a at height \d+, .*: demo_token version 2, active, code hash "
        + deployed.group(1)
        + "$",
        output,
        re.M,
    ), output
    assert not any(line.startswith("   init: ") for line in lines), output
    assert lines[-1] == "balances: org1/admin 500, org2/client 500 (total supply 1000)", output


def in_flight(client: Client, client_id: str) -> int:
    return len(client.interchain.packets(client_id, in_flight_only=True).sent)


def supply(client: Client, denom: str) -> int:
    data = client.evaluate("bank", "supply", interchain_pb2.BankSupplyArguments(denom=denom))
    assert data.status == types_pb2.RESULT_STATUS_OK, data.error
    return interchain_pb2.BankBalanceResult.FromString(data.return_value).amount


def test_packets_end_exactly_once_when_the_relayer_and_validators_are_killed(
    devnet: Path,
) -> None:
    description = load_devnet_description(devnet)
    a_to_hub, hub_to_a = clients_of(description, "chain-a", "hub")
    hub_to_b, b_to_hub = clients_of(description, "hub", "chain-b")
    (relayer,) = load_relayers(devnet)
    with (
        member(description, "chain-a", "org1/admin") as admin,
        member(description, "chain-a", "org1/client") as alice,
        member(description, "hub", "org1/client") as hub,
        member(description, "chain-b", "org1/client") as bob,
    ):
        admin.interchain.issue("org1/client", DENOM, TRANSFERS * AMOUNT)
        escrowed_before = alice.interchain.balance(f"escrow:transfer/{a_to_hub}", DENOM)
        voucher = f"transfer/{b_to_hub}/transfer/{hub_to_a}/{DENOM}"
        received_before = bob.interchain.balance("org1/client", voucher)
        b_time = bob.get_block(bob.status().height).block.header.time_ms
        sequences = []
        for number in range(TRANSFERS):
            packet = alice.interchain.send_transfer(
                a_to_hub,
                denom=DENOM,
                amount=AMOUNT,
                receiver="forwarding",
                memo=forward_memo("chain-b", "org1/client", b_time + 30 * 60_000),
            )
            sequences.append(packet.sequence)
            if number == TRANSFERS // 3:
                # The relayer dies in the middle of its work; so does a validator of each chain.
                os.kill(relayer.pid, signal.SIGKILL)
                for label in ("chain-a/node4", "hub/node3", "chain-b/node2"):
                    chain_id, name = label.split("/")
                    os.kill(_node_pid(devnet, chain_id, name), signal.SIGKILL)
        # Back: the validators, and a relayer started afresh with nothing remembered.
        for label in ("chain-a/node4", "hub/node3", "chain-b/node2"):
            restarted = run_cli(
                "devnet", "restart", "--node", label, "--dir", str(devnet), timeout_s=CLI_TIMEOUT_S
            )
            assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        restarted = run_cli(
            "devnet",
            "restart",
            "--relayer",
            relayer.name,
            "--dir",
            str(devnet),
            timeout_s=CLI_TIMEOUT_S,
        )
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr

        wait_until(lambda: in_flight(alice, a_to_hub) == 0, "chain-a's packets to end")
        wait_until(lambda: in_flight(hub, hub_to_b) == 0, "the hub's forwarded packets to end")
        for sequence in sequences:
            record = alice.interchain.packet(a_to_hub, sequence).sent
            assert record.state == "acknowledged", (sequence, record)
            assert record.acknowledgement.success, (sequence, record.acknowledgement)
        # Received once each on the hub: a receipt per sequence, no more.
        for sequence in sequences:
            assert hub.interchain.packet(hub_to_a, sequence, side="received").received
        # Every denomination adds up: A's escrow = the hub's vouchers (all held in the hub's
        # escrow toward B) = B's vouchers outstanding.
        sent = TRANSFERS * AMOUNT
        assert alice.interchain.balance(f"escrow:transfer/{a_to_hub}", DENOM) == (
            escrowed_before + sent
        )
        hub_voucher = f"transfer/{hub_to_a}/{DENOM}"
        assert supply(hub, hub_voucher) == hub.interchain.balance(
            f"escrow:transfer/{hub_to_b}", hub_voucher
        )
        assert supply(hub, hub_voucher) == alice.interchain.balance(
            f"escrow:transfer/{a_to_hub}", DENOM
        )
        assert supply(bob, voucher) == supply(hub, hub_voucher)
        assert bob.interchain.balance("org1/client", voucher) == received_before + sent


def _node_pid(directory: Path, chain_id: str, name: str) -> int:
    document = json.loads((directory / "devnet.json").read_text(encoding="utf-8"))
    (entry,) = (n for n in document["nodes"] if n["chain"] == chain_id and n["name"] == name)
    return int(entry["pid"])


def test_a_forged_packet_submitted_directly_is_refused(devnet: Path) -> None:
    description = load_devnet_description(devnet)
    hub_to_b, b_to_hub = clients_of(description, "hub", "chain-b")
    with (
        member(description, "chain-b", "org1/client") as bob,
        member(description, "hub", "org1/client") as hub,
    ):
        height = bob.interchain.client_status(b_to_hub).client.latest_height
        forged = interchain_pb2.Packet(
            source_client=hub_to_b,
            destination_client=b_to_hub,
            sequence=10_000,
            timeout_ms=2**62,
            payload=interchain_pb2.Payload(
                source_port="transfer",
                destination_port="transfer",
                version="ics20-1",
                encoding="application/x-protobuf",
                value=interchain_pb2.TransferPacketData(
                    denom="gold", amount=10**6, sender="org1/client", receiver="org1/client"
                ).SerializeToString(),
            ),
        )
        # A real proof from the hub, of another key, at a height B's client verified.
        proof = hub.get_state(keys.commitment_path(hub_to_b, 1), height, verify=False).proof
        before = bob.interchain.balances("org1/client")
        result = bob.invoke(
            "packets",
            "receive",
            interchain_pb2.PacketsReceiveArguments(packet=forged, proof=proof, proof_height=height),
            timeout_s=30.0,
        )
        assert result.result is not None
        assert not result.succeeded
        assert "proof" in result.result.error, result.result
        assert bob.interchain.balances("org1/client") == before
        with pytest.raises(NotFoundError):
            bob.interchain.packet(b_to_hub, 10_000, side="received")


def test_nothing_is_left_in_flight(devnet: Path) -> None:
    description = load_devnet_description(devnet)
    for chain_id in ("chain-a", "hub", "chain-b"):
        with member(description, chain_id, "org1/client") as client:
            for entry in client.interchain.clients():
                try:
                    assert in_flight(client, entry.client.client_id) == 0
                except CausewayError as error:
                    raise AssertionError(f"{chain_id} {entry.client.client_id}: {error}") from None
