"""Issue 9's EVM gateway end to end, on real processes: the example manifest's hub and chain-a
(raft) and an anvil chain joined to the hub by a 2-of-3 gateway committee, all started by
`devnet up`.

- gold goes chain-a -> hub -> EVM (an ERC-20 voucher minted to the receiver) with one gateway
  SIGKILLed as the transfer starts: the other two (k = 2) finish it; the killed one is restarted
  with nothing remembered and does no harm (nothing minted twice); then vouchers go back EVM ->
  hub -> chain-a with `causeway gateway transfer`. The latencies are printed (-s to see them).
- a forged committee signature is refused by the EVM endpoint and by the hub, changing nothing.

Every process the devnet recorded (nodes, relayer, anvil, gateways) is stopped on the way out.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eth_account import Account
from manifest_devnets import manifest_devnet, run_cli
from web3 import Web3
from web3.exceptions import ContractLogicError

from causeway.interchain import evm
from causeway.interchain.gateways import contracts
from causeway.interchain.v1 import interchain_pb2
from causeway.provisioning import load_devnet_description
from causeway.provisioning.devnet import is_running
from causeway.provisioning.evm_devnet import (
    EvmChainState,
    load_evm_chains,
    save_evm_chain,
    start_gateway_process,
)
from causeway.sdk import Client, Identity
from causeway.types.v1 import types_pb2

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "devnet-evm.toml"
CLI_TIMEOUT_S = 240.0
# 6 nodes of three ports each, and the relayer's metrics port.
PORTS = 24
STEP_TIMEOUT_S = 180.0
POLL_S = 0.25
EVM_CHAIN = "evm-31337"
DENOM = "gold"
ISSUED = 1000
SENT = 100
RETURNED = 40


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    text = EXAMPLE.read_text(encoding="utf-8").replace("{", "{{").replace("}", "}}")
    template = re.sub(r"^port_base = \d+$", "port_base = {port_base}", text, flags=re.M)
    # anvil takes a free port of its own.
    template = re.sub(r"^rpc_port = \d+\n", "", template, flags=re.M)
    assert "{port_base}" in template
    root = tmp_path_factory.mktemp("gateway")
    directory: Path | None = None
    try:
        with manifest_devnet(root, template, PORTS, timeout_s=CLI_TIMEOUT_S) as directory:
            yield directory
    finally:
        # `devnet down` (run by manifest_devnet) stops them; these are the ones it could not.
        for folder in root.glob("devnet-*"):
            with contextlib.suppress(Exception):
                for state in load_evm_chains(folder):
                    for pid in [state.anvil_pid, *state.gateway_pids]:
                        if pid and is_running(pid):
                            os.kill(pid, signal.SIGKILL)


def wait_until(condition: Callable[[], bool], what: str) -> float:
    """Seconds until ``condition`` held."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > STEP_TIMEOUT_S:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(POLL_S)
    return time.monotonic() - started


def evm_state(devnet: Path) -> EvmChainState:
    (state,) = load_evm_chains(devnet)
    return state


def member(devnet: Path, chain_id: str, member_id: str) -> Client:
    chain = load_devnet_description(devnet).chain(chain_id)
    (entry,) = (m for m in chain.members if m.member_id == member_id)
    return Client(chain.nodes[0].grpc_address, Identity.load(Path(entry.directory)), timeout_s=30.0)


def balance(client: Client, account: str, denom: str) -> int:
    data = client.evaluate(
        "bank", "balance", interchain_pb2.BankBalanceArguments(account=account, denom=denom)
    )
    assert data.status == types_pb2.RESULT_STATUS_OK, data.error
    return interchain_pb2.BankBalanceResult.FromString(data.return_value).amount


def cli(*arguments: str) -> str:
    completed = run_cli(*arguments, timeout_s=CLI_TIMEOUT_S)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def test_a_transfer_to_the_evm_chain_and_back_survives_a_gateway_killed(devnet: Path) -> None:
    state = evm_state(devnet)
    web3 = Web3(Web3.HTTPProvider(state.rpc_url))
    receiver = Account.from_key(Path(state.user_key).read_text().strip()).address
    transfer = contracts.at(web3, contracts.TRANSFER_CONTRACT, state.transfer)
    description = load_devnet_description(devnet)
    (link,) = description.links
    hub_client_of_a = dict(zip(link.chains, link.clients, strict=True))["hub"]
    voucher_path = f"transfer/client-0/transfer/{hub_client_of_a}/{DENOM}"

    def voucher_balance() -> int:
        address = transfer.functions.voucherOf(voucher_path).call()
        if int(address, 16) == 0:
            return 0
        voucher = contracts.at(web3, contracts.VOUCHER_CONTRACT, address)
        return int(voucher.functions.balanceOf(receiver).call())

    cli(
        "bank", "issue", "--dir", str(devnet), "--chain", "chain-a",
        "--account", "org1/client", "--denom", DENOM, "--amount", str(ISSUED),
    )  # fmt: skip
    sent_at = time.monotonic()
    cli(
        "transfer", "send", "--dir", str(devnet), "--chain", "chain-a",
        "--to-chain", EVM_CHAIN, "--via", "hub", "--receiver", receiver,
        "--denom", DENOM, "--amount", str(SENT),
    )  # fmt: skip
    # One gateway dies as the transfer starts; k = 2 of the other two remain.
    killed = state.gateway_pids[0]
    os.kill(killed, signal.SIGKILL)
    # What an operator sees: the EVM chain answering, one gateway of three down, and on the
    # hub the weaker trust of a committee stated beside the light-client members.
    wait_until(lambda: not is_running(killed), "the killed gateway gone")
    status = json.loads(cli("devnet", "status", "--dir", str(devnet), "--json"))
    (evm_row,) = status["evm_chains"]
    assert (evm_row["id"], evm_row["gateways_running"], evm_row["threshold"]) == (EVM_CHAIN, 2, 2)
    assert evm_row["block"] is not None
    members = json.loads(cli("hub", "members", "--dir", str(devnet), "--chain", "hub", "--json"))
    trust = {member["chain_id"]: member["trust"] for member in members["members"]}
    assert trust[EVM_CHAIN].startswith("gateway committee: 2 of 3 operators"), trust
    assert trust["chain-a"] == "light client: >2/3 of 3 validators", trust
    wait_until(lambda: voucher_balance() == SENT, "the voucher minted on the EVM chain")
    to_evm_s = time.monotonic() - sent_at
    with member(devnet, "chain-a", "org1/client") as chain_a:
        assert balance(chain_a, "org1/client", DENOM) == ISSUED - SENT
        wait_until(
            lambda: not chain_a.interchain.packets(hub_client_of_a, in_flight_only=True).sent,
            "chain-a's packet acknowledged",
        )
    round_trip_s = time.monotonic() - sent_at

    # The killed gateway comes back with nothing remembered: it scans from the start again.
    state.gateway_pids[0] = start_gateway_process(Path(state.gateway_configs[0]))
    save_evm_chain(devnet, state)

    returned_at = time.monotonic()
    cli(
        "gateway", "transfer", "--config", state.gateway_configs[0], "--key", state.user_key,
        "--denom", voucher_path, "--amount", str(RETURNED), "--to", "chain-a:org1/client",
    )  # fmt: skip
    assert voucher_balance() == SENT - RETURNED
    with member(devnet, "chain-a", "org1/client") as chain_a:
        wait_until(
            lambda: balance(chain_a, "org1/client", DENOM) == ISSUED - SENT + RETURNED,
            "gold back on chain-a",
        )
    back_s = time.monotonic() - returned_at
    endpoint = contracts.at(web3, contracts.ENDPOINT_CONTRACT, state.endpoint)
    sent_logs = endpoint.events.PacketSent().get_logs(from_block=state.deployed_block)
    (sent_log,) = sent_logs
    packet_hash = bytes(sent_log["args"]["packetHash"])
    wait_until(
        lambda: not endpoint.functions.commitments(packet_hash).call(),
        "the EVM packet acknowledged on the EVM side",
    )
    # The restarted gateway ran over everything again: nothing minted or released twice.
    time.sleep(5)
    assert voucher_balance() == SENT - RETURNED
    voucher = contracts.at(
        web3, contracts.VOUCHER_CONTRACT, transfer.functions.voucherOf(voucher_path).call()
    )
    assert voucher.functions.totalSupply().call() == SENT - RETURNED
    assert is_running(state.gateway_pids[0])
    print(
        f"\nlatency chain-a -> EVM voucher minted {to_evm_s:.1f} s (a gateway killed), "
        f"acknowledged back on chain-a {round_trip_s:.1f} s; EVM -> chain-a credited {back_s:.1f} s"
    )


def test_a_forged_committee_signature_is_refused_on_both_sides(devnet: Path) -> None:
    state = evm_state(devnet)
    web3 = Web3(Web3.HTTPProvider(state.rpc_url))
    forger = Account.create()
    endpoint = contracts.at(web3, contracts.ENDPOINT_CONTRACT, state.endpoint)
    packet = interchain_pb2.Packet(
        source_client=state.hub_client,
        destination_client="client-0",
        sequence=999,
        timeout_ms=int(time.time() * 1000) + 3_600_000,
        payload=interchain_pb2.Payload(
            source_port="transfer",
            destination_port="transfer",
            version="ics20-1",
            encoding=evm.SOLIDITY_ABI_ENCODING,
            value=evm.encode_transfer_data(
                interchain_pb2.TransferPacketData(
                    denom="forged", amount=10**6, sender="x", receiver=forger.address
                )
            ),
        ),
    )
    digest = evm.receive_digest(
        state.evm_chain_id, bytes.fromhex(state.endpoint[2:]), evm.packet_hash(packet)
    )
    signature = evm.sign_digest(bytes(forger.key), digest)
    with pytest.raises(ContractLogicError, match="not a committee member"):
        endpoint.functions.receivePacket(evm.encode_packet(packet), signature).call()
    assert endpoint.functions.received(evm.packet_hash(packet)).call() is False

    # The hub: a forged attestation of the newest EVM block.
    number = web3.eth.block_number
    block = web3.provider.make_request("eth_getBlockByNumber", [hex(number), False])["result"]  # type: ignore[arg-type]
    header_rlp = evm.header_rlp_from_json(block)
    forged = evm.sign_digest(
        bytes(forger.key), evm.header_digest(state.evm_chain_id, evm.hex_bytes(block["hash"]))
    )
    with member(devnet, "hub", "org1/client") as hub:
        before = hub.interchain.client_status(state.hub_client)
        outcome = hub.invoke(
            "clients",
            "attest",
            interchain_pb2.ClientsAttestArguments(
                client_id=state.hub_client, header_rlp=header_rlp, signature=forged
            ),
            timeout_s=30.0,
        )
        assert outcome.result is not None
        assert outcome.result.status != types_pb2.RESULT_STATUS_OK
        assert "not a committee member" in outcome.result.error
        after = hub.interchain.client_status(state.hub_client)
        assert after.client.evm == before.client.evm
        assert after.status == "active"
