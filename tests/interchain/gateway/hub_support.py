"""An in-process hub (causeway.sim.chain, the real contracts) next to the session's anvil, on a
clock that follows the wall clock (anvil dates its blocks by it, and the hub refuses headers
dated too far ahead), with an evm-committee client of the anvil chain and gateways of the test
committee: the gateway's rounds run against real state on both sides without node processes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from eth_hash.auto import keccak
from gateway_support import (
    ANVIL_CHAIN_ID,
    COMMITTEE,
    COMMITTEE_KEYS,
    THRESHOLD,
    Gateway,
    rpc_url,
)
from web3 import Web3
from web3.types import Wei

from causeway.interchain import CHAIN_CONTRACTS, evm
from causeway.interchain.gateways.evm_side import EvmSide
from causeway.interchain.gateways.gateway import Gateway as GatewayRounds
from causeway.interchain.gateways.gateway import GatewayReport, GatewaySettings
from causeway.interchain.v1 import interchain_pb2
from causeway.sim.chain import Clock, Endpoint, InterchainChain, check_ok

HUB_CLIENT = "client-0"
ENDPOINT_CLIENT = "client-0"
CONFIRMATIONS = 1
CHECKPOINT_BLOCKS = 5
FUNDS_WEI = 10**20


class WallClock(Clock):
    """Each hub block is dated now (1 ms past the last when blocks come faster)."""

    def tick(self) -> int:
        self.now_ms = max(self.now_ms + 1, int(time.time() * 1000))
        return self.now_ms


@dataclass
class Network:
    hub: InterchainChain
    web3: Web3
    deployment: Gateway
    gateways: list[GatewayRounds] = field(default_factory=list)

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.web3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def rounds(self, gateways: list[GatewayRounds] | None = None) -> list[GatewayReport]:
        """One round of each gateway (all by default), an EVM block mined after each."""
        reports = []
        for gateway in gateways if gateways is not None else self.gateways:
            reports.append(gateway.run_round())
            self.mine()
        return reports


def build_network(web3: Web3, deployment: Gateway) -> Network:
    """The hub (chain "hub") with client-0 of the anvil chain, port transfer bound, alice
    holding 1000 gold, and a gateway per committee key, each funded on the EVM side."""
    hub = InterchainChain(
        "hub", "intl", contracts=CHAIN_CONTRACTS, clock=WallClock(int(time.time() * 1000))
    )
    hub.advance(1)
    latest = web3.eth.block_number
    block = web3.provider.make_request("eth_getBlockByNumber", [hex(latest), False])["result"]  # type: ignore[arg-type]
    header_rlp = evm.header_rlp_from_json(block)
    created = hub.governance(
        "clients",
        "create",
        interchain_pb2.ClientsCreateArguments(
            chain_id=f"evm-{ANVIL_CHAIN_ID}",
            genesis_hash=keccak(b"anvil"),
            consensus="evm-committee",
            crypto_profile="evm",
            trusting_period_ms=86_400_000,
            # The session's anvil runs ahead of the wall clock: 1 s per block mined.
            clock_drift_ms=3_600_000,
            counterparty_client_id=ENDPOINT_CLIENT,
            evm=interchain_pb2.EvmCommittee(
                evm_chain_id=ANVIL_CHAIN_ID,
                endpoint_address=deployment.endpoint_address,
                committee=[bytes.fromhex(member[2:]) for member in COMMITTEE],
                threshold=THRESHOLD,
                confirmations=CONFIRMATIONS,
            ),
            evm_header=header_rlp,
        ),
    )
    assert (
        interchain_pb2.ClientsCreateResult.FromString(check_ok(created).return_value).client_id
        == HUB_CLIENT
    )
    check_ok(
        hub.governance(
            "packets",
            "bind_port",
            interchain_pb2.PacketsBindPortArguments(port="transfer", contract="transfer"),
        )
    )
    check_ok(
        hub.run(
            "org1/admin",
            "bank",
            "issue",
            interchain_pb2.BankIssueArguments(denom="gold", account="org1/alice", amount=1000),
        )
    )
    network = Network(hub, web3, deployment)
    start_block = latest
    for key in COMMITTEE_KEYS:
        evm_side = EvmSide(rpc_url(web3), ANVIL_CHAIN_ID, deployment.endpoint.address, key)
        web3.eth.send_transaction(
            {"from": web3.eth.accounts[0], "to": evm_side.address, "value": Wei(FUNDS_WEI)}
        )
        network.gateways.append(
            GatewayRounds(
                Endpoint(hub),
                evm_side,
                GatewaySettings(
                    hub_client_id=HUB_CLIENT,
                    confirmations=CONFIRMATIONS,
                    checkpoint_blocks=CHECKPOINT_BLOCKS,
                    start_block=start_block,
                ),
            )
        )
    return network
