"""Helpers of the gateway contract tests: a deployed endpoint and transfer app with a fixed
2-of-3 committee, packets from the hub, and committee signatures made with evm-client's
digests (causeway.interchain.evm), so that both sides are checked against each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_hash.auto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from causeway.interchain import evm as evm_codec
from causeway.interchain.gateways import contracts
from causeway.interchain.v1 import interchain_pb2

ANVIL_CHAIN_ID = 31337
LOCAL_CLIENT_ID = "client-0"
HUB_CLIENT_ID = "client-7"
THRESHOLD = 2
# Fixed keys: the tests are reproducible; none of them is an anvil dev account.
COMMITTEE_KEYS = tuple(keccak(f"committee member {index}".encode()) for index in range(3))
OUTSIDER_KEY = keccak(b"not a committee member")
COMMITTEE = tuple(Web3.to_checksum_address(evm_codec.address_of(key)) for key in COMMITTEE_KEYS)


@dataclass(frozen=True, slots=True)
class Gateway:
    web3: Web3
    endpoint: Contract
    transfer: Contract
    sender: str
    user: str

    @property
    def endpoint_address(self) -> bytes:
        return bytes.fromhex(self.endpoint.address[2:])

    def voucher(self, path: str) -> Contract:
        address = self.transfer.functions.voucherOf(path).call()
        return contracts.at(self.web3, contracts.VOUCHER_CONTRACT, address)


def deploy_test_gateway(web3: Web3, hub_client_id: str = HUB_CLIENT_ID) -> Gateway:
    sender = web3.eth.accounts[0]
    deployment = contracts.deploy_gateway(
        web3,
        sender,
        local_client_id=LOCAL_CLIENT_ID,
        hub_client_id=hub_client_id,
        committee=COMMITTEE,
        threshold=THRESHOLD,
    )
    return Gateway(
        web3,
        contracts.at(web3, contracts.ENDPOINT_CONTRACT, deployment.endpoint),
        contracts.at(web3, contracts.TRANSFER_CONTRACT, deployment.transfer),
        sender,
        str(list(web3.eth.accounts)[1]),
    )


def advance_time(web3: Web3, seconds: int) -> None:
    """Mines a block dated ``seconds`` after the latest (the session's anvil otherwise dates each
    block 1 s after the last)."""
    latest = int(web3.eth.get_block("latest")["timestamp"])
    web3.provider.make_request("evm_setNextBlockTimestamp", [latest + seconds])  # type: ignore[arg-type]
    web3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def rpc_url(web3: Web3) -> str:
    """The URL of the HTTP provider ``web3`` talks through."""
    return str(getattr(web3.provider, "endpoint_uri"))  # noqa: B009 -- not on BaseProvider's type


def latest_time_ms(web3: Web3) -> int:
    return int(web3.eth.get_block("latest")["timestamp"]) * 1000


def transfer_packet(
    web3: Web3,
    *,
    denom: str = "token",
    amount: int = 100,
    receiver: str,
    sequence: int = 1,
    timeout_ms: int | None = None,
    source_client: str = HUB_CLIENT_ID,
    destination_client: str = LOCAL_CLIENT_ID,
    destination_port: str = "transfer",
) -> interchain_pb2.Packet:
    """A transfer packet from the hub to the EVM endpoint, as the hub's transfer app makes it."""
    data = interchain_pb2.TransferPacketData(
        denom=denom, amount=amount, sender="causeway-sender", receiver=receiver
    )
    return interchain_pb2.Packet(
        source_client=source_client,
        destination_client=destination_client,
        sequence=sequence,
        timeout_ms=timeout_ms if timeout_ms is not None else latest_time_ms(web3) + 3_600_000,
        payload=interchain_pb2.Payload(
            source_port="transfer",
            destination_port=destination_port,
            version="ics20-1",
            encoding=evm_codec.SOLIDITY_ABI_ENCODING,
            value=evm_codec.encode_transfer_data(data),
        ),
    )


def receive_signature(gateway: Gateway, packet: interchain_pb2.Packet, key: bytes) -> bytes:
    digest = evm_codec.receive_digest(
        ANVIL_CHAIN_ID, gateway.endpoint_address, evm_codec.packet_hash(packet)
    )
    return evm_codec.sign_digest(key, digest)


def acknowledge_signature(
    gateway: Gateway, packet: interchain_pb2.Packet, acknowledgement: bytes, key: bytes
) -> bytes:
    digest = evm_codec.acknowledge_digest(
        ANVIL_CHAIN_ID, gateway.endpoint_address, evm_codec.packet_hash(packet), acknowledgement
    )
    return evm_codec.sign_digest(key, digest)


def timeout_signature(gateway: Gateway, packet: interchain_pb2.Packet, key: bytes) -> bytes:
    digest = evm_codec.timeout_digest(
        ANVIL_CHAIN_ID, gateway.endpoint_address, evm_codec.packet_hash(packet)
    )
    return evm_codec.sign_digest(key, digest)


def transact(gateway: Gateway, call: Any, sender: str | None = None) -> Any:
    return contracts.send_transaction(gateway.web3, call, sender or gateway.sender)


def receive(gateway: Gateway, packet: interchain_pb2.Packet, key: bytes) -> Any:
    return transact(
        gateway,
        gateway.endpoint.functions.receivePacket(
            evm_codec.encode_packet(packet), receive_signature(gateway, packet, key)
        ),
    )


def events(contract: Contract, name: str, receipt: Any) -> list[Any]:
    return list(getattr(contract.events, name)().process_receipt(receipt, errors=DISCARD))
