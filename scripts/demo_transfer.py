"""`make demo`'s cross-chain transfer: tokens from chain A to chain B through the hub.

Reads the devnet's network.json, issues "gold" to A's client member, sends some to B's client
member with a memo asking the hub to forward them, and prints the packet at each step as the
chains record it (sent on A, received on the hub with its proof checked and forwarded, received
on B, acknowledged on the hub, acknowledged on A), then the balances. Run by scripts/demo.sh.

    python scripts/demo_transfer.py DEVNET_DIRECTORY
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from causeway.errors import CausewayError, NotFoundError
from causeway.interchain.transfer import forward_memo
from causeway.interchain.v1 import interchain_pb2
from causeway.provisioning import load_devnet_description
from causeway.sdk import Client, Identity

DENOM = "gold"
ISSUED = 1_000
SENT = 250
STEP_TIMEOUT_S = 60.0
POLL_S = 0.2
TIMEOUT_AHEAD_MS = 10 * 60_000


def member_client(directory: Path, chain_id: str, member_id: str) -> Client:
    description = load_devnet_description(directory)
    chain = description.chain(chain_id)
    (member,) = (m for m in chain.members if m.member_id == member_id)
    return Client(chain.nodes[0].grpc_address, Identity.load(Path(member.directory)))


def link_clients(directory: Path, first: str, second: str) -> tuple[str, str]:
    """(first's client of second, second's client of first)."""
    for link in load_devnet_description(directory).links:
        if link.chains == (first, second):
            return link.clients
        if link.chains == (second, first):
            return link.clients[1], link.clients[0]
    raise SystemExit(f"the devnet has no link between {first} and {second}")


def describe(packet: interchain_pb2.Packet) -> str:
    return (
        f"packet {packet.source_client}/{packet.sequence} -> {packet.destination_client}, "
        f"port {packet.payload.source_port}, times out at {packet.timeout_ms}"
    )


def wait_received(client: Client, client_id: str, sequence: int) -> interchain_pb2.ReceiptRecord:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while True:
        try:
            result = client.interchain.packet(client_id, sequence, side="received")
        except NotFoundError:
            pass  # not received yet
        else:
            if result.HasField("received"):
                return result.received
        if time.monotonic() > deadline:
            raise SystemExit(f"packet {sequence} was not received on {client.chain_id()} in time")
        time.sleep(POLL_S)


def newest_sent(client: Client, client_id: str) -> interchain_pb2.PacketRecord:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while True:
        sent = client.interchain.packets(client_id).sent
        if sent:
            return sent[-1]
        if time.monotonic() > deadline:
            raise SystemExit(f"{client.chain_id()} forwarded nothing in time")
        time.sleep(POLL_S)


def main(directory: Path) -> None:
    a_to_hub, hub_to_a = link_clients(directory, "chain-a", "hub")
    hub_to_b, b_to_hub = link_clients(directory, "hub", "chain-b")
    with (
        member_client(directory, "chain-a", "org1/admin") as a_admin,
        member_client(directory, "chain-a", "org1/client") as alice,
        member_client(directory, "hub", "org1/client") as hub,
        member_client(directory, "chain-b", "org1/client") as bob,
    ):
        voucher = f"transfer/{b_to_hub}/transfer/{hub_to_a}/{DENOM}"
        a_admin.interchain.issue("org1/client", DENOM, ISSUED)
        print(
            f"before: chain-a org1/client {alice.interchain.balance('org1/client', DENOM)} "
            f"{DENOM}; chain-b org1/client {bob.interchain.balance('org1/client', voucher)} "
            f"{voucher}"
        )
        b_time = bob.status()
        b_now_ms = bob.get_block(b_time.height).block.header.time_ms
        memo = forward_memo("chain-b", "org1/client", b_now_ms + TIMEOUT_AHEAD_MS)
        packet = alice.interchain.send_transfer(
            a_to_hub, denom=DENOM, amount=SENT, receiver="forwarding", memo=memo
        )
        print(f"1. sent on chain-a: {describe(packet)}")
        print(f"   {SENT} {DENOM} escrowed on chain-a; the memo asks the hub to forward to chain-b")
        receipt = wait_received(hub, hub_to_a, packet.sequence)
        print(
            f"2. received on the hub at height {receipt.received_height}: the commitment's proof "
            f"checked against the hub's light client {hub_to_a} of chain-a"
        )
        forwarded = newest_sent(hub, hub_to_b)
        print(f"   forwarded by the hub: {describe(forwarded.packet)}")
        on_b = wait_received(bob, b_to_hub, forwarded.packet.sequence)
        print(
            f"3. received on chain-b at height {on_b.received_height}: proof checked against "
            f"chain-b's light client {b_to_hub} of the hub; acknowledgement success="
            f"{on_b.acknowledgement.success}"
        )
        hub_end = hub.interchain.wait_for_packet(
            hub_to_b, forwarded.packet.sequence, timeout_s=STEP_TIMEOUT_S
        )
        print(f"4. acknowledged on the hub: the forwarded packet is {hub_end.state}")
        a_end = alice.interchain.wait_for_packet(
            a_to_hub, packet.sequence, timeout_s=STEP_TIMEOUT_S
        )
        print(f"5. acknowledged on chain-a: {a_end.state}, success={a_end.acknowledgement.success}")
        print(
            f"after: chain-a org1/client {alice.interchain.balance('org1/client', DENOM)} "
            f"{DENOM}; chain-b org1/client {bob.interchain.balance('org1/client', voucher)} "
            f"{voucher}"
        )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    try:
        main(Path(sys.argv[1]))
    except CausewayError as error:
        raise SystemExit(f"demo transfer failed: {error}") from None
