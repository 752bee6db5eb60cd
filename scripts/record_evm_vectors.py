"""Records the EVM test vectors of tests/testdata/evm/ from a real anvil (issue 9).

The hub's evm-committee client and its proofs are tested on fixed vectors, so that the unit tests
need no anvil. This script makes them again: it compiles a minimal endpoint contract with solc
(npm, offline), starts anvil on 127.0.0.1 on a free port (stopped in ``finally``), sends the
packets and acknowledgements the tests expect, and writes the headers (RLP), every receipt of the
block (consensus encoding), the block and receipts as JSON-RPC gave them, and eth_getProof
account and storage proofs, to tests/testdata/evm/vectors.json.

The contract (``MiniEndpoint`` below) keeps the storage layout and the events of the gateway's
``CausewayEndpoint`` (docs/evm-clients.md): ``mapping(bytes32 => bool) received`` in slot 0, and
``PacketSent`` / ``AcknowledgementWritten``; it checks nothing, which is what a vector recorder
wants (the hub is what checks). Packets here are ABI-encoded with causeway.interchain.evm, so the
vectors follow that codec.

Usage (see docs/gateways-feasibility.md for the npm setup):

    mkdir -p /tmp/evm-npm && cd /tmp/evm-npm && npm init -y && \\
        npm install @foundry-rs/anvil@1.7.1 solc@0.8.37
    .venv/bin/python scripts/record_evm_vectors.py --node-modules /tmp/evm-npm/node_modules
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eth_abi.abi import encode as abi_encode
from web3 import Web3

from causeway.interchain import evm
from causeway.interchain.v1 import interchain_pb2

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "tests" / "testdata" / "evm" / "vectors.json"
LOOPBACK = "127.0.0.1"
EVM_CHAIN_ID = 31337
# The hub's simulated chains start at 1_800_000_000_000 ms (causeway.sim.chain.GENESIS_TIME_MS);
# the EVM blocks are dated just after, so the hub can attest them in its own present.
GENESIS_TIMESTAMP = 1_800_000_000
DEPLOY_TIMESTAMP = GENESIS_TIMESTAMP + 10
PACKETS_TIMESTAMP = GENESIS_TIMESTAMP + 20
LATER_TIMESTAMP = GENESIS_TIMESTAMP + 100
# The hub's client of the EVM chain and the endpoint's own id for the hub's: both the first
# client of their chain.
HUB_CLIENT = "client-0"
ENDPOINT_CLIENT = "client-0"
HUB_SENDER = "org1/alice"
HUB_RECEIVER = "org1/bob"
# A hub packet that times out before LATER_TIMESTAMP, and one that does not.
TIMED_OUT_MS = (GENESIS_TIMESTAMP + 50) * 1000
RECEIVED_TIMEOUT_MS = (GENESIS_TIMESTAMP + 3_600) * 1000
EVM_TIMEOUT_MS = (GENESIS_TIMESTAMP + 3_600) * 1000

SOURCE = """// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

// The storage layout and events of CausewayEndpoint, without its checks (a vector recorder).
contract MiniEndpoint {
    mapping(bytes32 => bool) public received;

    event PacketSent(bytes32 indexed packetHash, bytes packet);
    event AcknowledgementWritten(bytes32 indexed packetHash, bytes packet, bytes acknowledgement);
    event Noted(bytes32 indexed packetHash);

    function sendPacket(bytes calldata packet) external {
        emit PacketSent(keccak256(packet), packet);
    }

    // Two logs: the PacketSent is log 1.
    function noteAndSend(bytes calldata packet) external {
        emit Noted(keccak256(packet));
        emit PacketSent(keccak256(packet), packet);
    }

    function writeAcknowledgement(bytes calldata packet, bytes calldata acknowledgement) external {
        bytes32 packetHash = keccak256(packet);
        received[packetHash] = true;
        emit AcknowledgementWritten(packetHash, packet, acknowledgement);
    }

    // Emits, then reverts: a receipt with status 0 (and no logs).
    function sendAndFail(bytes calldata packet) external {
        emit PacketSent(keccak256(packet), packet);
        revert("refused");
    }
}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def compile_endpoint(node_modules: Path, build: Path) -> tuple[list[Any], str]:
    source = build / "MiniEndpoint.sol"
    source.write_text(SOURCE)
    subprocess.run(
        [
            "node",
            str(node_modules / "solc" / "solc.js"),
            "--bin",
            "--abi",
            "--optimize",
            "--base-path",
            str(build),
            "-o",
            str(build),
            str(source),
        ],
        check=True,
        cwd=build,
    )
    abi = json.loads(next(build.glob("*_MiniEndpoint.abi")).read_text())
    return abi, "0x" + next(build.glob("*_MiniEndpoint.bin")).read_text().strip()


def start_anvil(node_modules: Path, port: int) -> subprocess.Popen[bytes]:
    binary = next((node_modules / "@foundry-rs").glob("anvil-*/bin/anvil"))
    process = subprocess.Popen(
        [
            str(binary),
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--silent",
            "--chain-id",
            str(EVM_CHAIN_ID),
            "--timestamp",
            str(GENESIS_TIMESTAMP),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    web3 = Web3(Web3.HTTPProvider(f"http://{LOOPBACK}:{port}"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("anvil exited before answering")
        try:
            web3.eth.block_number  # noqa: B018 -- the call is the readiness probe
            return process
        except Exception:
            time.sleep(0.05)
    process.kill()
    process.wait()
    raise SystemExit("anvil did not answer within 30 s")


def rpc(web3: Web3, method: str, params: list[Any]) -> Any:
    response = web3.provider.make_request(method, params)  # type: ignore[arg-type]
    if "error" in response:
        raise RuntimeError(f"{method}: {response['error']}")
    return response["result"]


def transfer_packet(
    *,
    sequence: int,
    timeout_ms: int,
    data: interchain_pb2.TransferPacketData | bytes,
    to_evm: bool,
) -> interchain_pb2.Packet:
    """A transfer packet between the hub and the EVM chain; ``data`` is TransferPacketData, or
    its ABI encoding already made (for amounts protobuf cannot hold)."""
    return interchain_pb2.Packet(
        source_client=HUB_CLIENT if to_evm else ENDPOINT_CLIENT,
        destination_client=ENDPOINT_CLIENT if to_evm else HUB_CLIENT,
        sequence=sequence,
        timeout_ms=timeout_ms,
        payload=interchain_pb2.Payload(
            source_port="transfer",
            destination_port="transfer",
            version="ics20-1",
            encoding=evm.SOLIDITY_ABI_ENCODING,
            value=data if isinstance(data, bytes) else evm.encode_transfer_data(data),
        ),
    )


def describe(packet: interchain_pb2.Packet) -> dict[str, Any]:
    payload = packet.payload
    return {
        "source_client": packet.source_client,
        "destination_client": packet.destination_client,
        "sequence": packet.sequence,
        "timeout_ms": packet.timeout_ms,
        "source_port": payload.source_port,
        "destination_port": payload.destination_port,
        "version": payload.version,
        "encoding": payload.encoding,
        "value": "0x" + payload.value.hex(),
        "abi": "0x" + evm.encode_packet(packet).hex(),
        "hash": "0x" + evm.packet_hash(packet).hex(),
    }


def record_block(web3: Web3, number: int, labels: dict[str, str]) -> dict[str, Any]:
    """The block's header RLP (checked against its hash) and every receipt (checked against its
    receipts root), with the JSON-RPC forms they came from."""
    block = rpc(web3, "eth_getBlockByNumber", [hex(number), False])
    receipts = rpc(web3, "eth_getBlockReceipts", [hex(number)])
    header_rlp = evm.header_rlp_from_json(block)
    if evm.decode_header(header_rlp).block_hash != evm.hex_bytes(block["hash"]):
        raise SystemExit(f"block {number}: the header's RLP does not hash to the block hash")
    encoded = [evm.receipt_from_json(receipt) for receipt in receipts]
    if evm.receipts_root(encoded) != evm.hex_bytes(block["receiptsRoot"]):
        raise SystemExit(f"block {number}: the receipts do not make the receipts root")
    by_hash = {
        receipt["transactionHash"]: int(receipt["transactionIndex"], 16) for receipt in receipts
    }
    return {
        "number": number,
        "hash": block["hash"],
        "header_rlp": "0x" + header_rlp.hex(),
        "receipts": ["0x" + receipt.hex() for receipt in encoded],
        "transactions": {label: by_hash[transaction] for transaction, label in labels.items()},
        "block_json": block,
        "receipts_json": receipts,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node-modules", type=Path, required=True)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    arguments = parser.parse_args()

    to_evm_data = interchain_pb2.TransferPacketData(
        denom="gold", amount=100, sender=HUB_SENDER, receiver="0x" + "ab" * 20
    )
    packets = {
        "hub_to_evm_received": transfer_packet(
            sequence=1, timeout_ms=RECEIVED_TIMEOUT_MS, data=to_evm_data, to_evm=True
        ),
        "hub_to_evm_timed_out": transfer_packet(
            sequence=2, timeout_ms=TIMED_OUT_MS, data=to_evm_data, to_evm=True
        ),
        "hub_to_evm_refused": transfer_packet(
            sequence=3, timeout_ms=RECEIVED_TIMEOUT_MS, data=to_evm_data, to_evm=True
        ),
    }
    acknowledgement = interchain_pb2.Acknowledgement(success=True, result=b"\x01")
    # What the endpoint writes when the app reverts: ACK(false, "", reason).
    refusal = interchain_pb2.Acknowledgement(success=False, error="the EVM app reverted")

    with tempfile.TemporaryDirectory() as build:
        abi, bytecode = compile_endpoint(arguments.node_modules, Path(build))
    port = free_port()
    process = start_anvil(arguments.node_modules, port)
    try:
        web3 = Web3(Web3.HTTPProvider(f"http://{LOOPBACK}:{port}"))
        deployer = web3.eth.accounts[0]
        sender = deployer.lower()
        from_evm = {
            "evm_to_hub": transfer_packet(
                sequence=1,
                timeout_ms=EVM_TIMEOUT_MS,
                data=interchain_pb2.TransferPacketData(
                    denom="erc20/0x" + "cd" * 20, amount=500, sender=sender, receiver=HUB_RECEIVER
                ),
                to_evm=False,
            ),
            "evm_to_hub_too_large": transfer_packet(
                sequence=2,
                timeout_ms=EVM_TIMEOUT_MS,
                # One more than Causeway's bank can hold: the hub must refuse it.
                data=abi_encode(
                    list(evm.TRANSFER_ABI_TYPES),
                    ["erc20/0x" + "cd" * 20, 1 << 64, sender, HUB_RECEIVER, b""],
                ),
                to_evm=False,
            ),
            "evm_to_hub_second_log": transfer_packet(
                sequence=3,
                timeout_ms=EVM_TIMEOUT_MS,
                data=interchain_pb2.TransferPacketData(
                    denom="erc20/0x" + "cd" * 20, amount=7, sender=sender, receiver=HUB_RECEIVER
                ),
                to_evm=False,
            ),
            "evm_to_hub_failed": transfer_packet(
                sequence=4,
                timeout_ms=EVM_TIMEOUT_MS,
                data=interchain_pb2.TransferPacketData(
                    denom="erc20/0x" + "cd" * 20, amount=9, sender=sender, receiver=HUB_RECEIVER
                ),
                to_evm=False,
            ),
            "evm_to_hub_impostor": transfer_packet(
                sequence=5,
                timeout_ms=EVM_TIMEOUT_MS,
                data=interchain_pb2.TransferPacketData(
                    denom="erc20/0x" + "cd" * 20, amount=10**6, sender=sender, receiver=HUB_RECEIVER
                ),
                to_evm=False,
            ),
        }
        packets.update(from_evm)

        rpc(web3, "evm_setNextBlockTimestamp", [DEPLOY_TIMESTAMP])
        contract = web3.eth.contract(abi=abi, bytecode=bytecode)
        endpoint_address = web3.eth.wait_for_transaction_receipt(
            contract.constructor().transact({"from": deployer}), poll_latency=0.05
        )["contractAddress"]
        rpc(web3, "evm_setNextBlockTimestamp", [DEPLOY_TIMESTAMP + 1])
        impostor_address = web3.eth.wait_for_transaction_receipt(
            contract.constructor().transact({"from": deployer}), poll_latency=0.05
        )["contractAddress"]
        endpoint = web3.eth.contract(address=endpoint_address, abi=abi)
        impostor = web3.eth.contract(address=impostor_address, abi=abi)

        # One block with several receipts of both kinds: real branch nodes in the proofs.
        rpc(web3, "evm_setAutomine", [False])
        legacy = {"from": deployer, "gasPrice": web3.eth.gas_price, "type": 0}
        dynamic = {"from": deployer}
        encoded = {label: evm.encode_packet(packet) for label, packet in packets.items()}
        labels = {
            web3.eth.send_transaction(
                {"from": deployer, "to": web3.eth.accounts[1], "value": 1}
            ).to_0x_hex(): "plain_transfer",
            endpoint.functions.sendPacket(encoded["evm_to_hub"])
            .transact(legacy)
            .to_0x_hex(): "evm_to_hub",
            endpoint.functions.sendPacket(encoded["evm_to_hub_too_large"])
            .transact(dynamic)
            .to_0x_hex(): "evm_to_hub_too_large",
            endpoint.functions.noteAndSend(encoded["evm_to_hub_second_log"])
            .transact(legacy)
            .to_0x_hex(): "evm_to_hub_second_log",
            endpoint.functions.sendAndFail(encoded["evm_to_hub_failed"])
            .transact({**dynamic, "gas": 200_000})
            .to_0x_hex(): "evm_to_hub_failed",
            impostor.functions.sendPacket(encoded["evm_to_hub_impostor"])
            .transact(dynamic)
            .to_0x_hex(): "evm_to_hub_impostor",
            endpoint.functions.writeAcknowledgement(
                encoded["hub_to_evm_received"], evm.encode_acknowledgement(acknowledgement)
            )
            .transact(dynamic)
            .to_0x_hex(): "hub_to_evm_received",
            endpoint.functions.writeAcknowledgement(
                encoded["hub_to_evm_refused"], evm.encode_acknowledgement(refusal)
            )
            .transact(dynamic)
            .to_0x_hex(): "hub_to_evm_refused",
        }
        rpc(web3, "evm_mine", [PACKETS_TIMESTAMP])
        packets_block = web3.eth.block_number
        rpc(web3, "evm_mine", [LATER_TIMESTAMP])
        later_block = web3.eth.block_number

        blocks = [
            record_block(web3, packets_block, labels),
            record_block(web3, later_block, {}),
        ]
        storage = {}
        for label in ("hub_to_evm_received", "hub_to_evm_timed_out"):
            slot = evm.received_slot(evm.packet_hash(packets[label]))
            answer = rpc(
                web3, "eth_getProof", [endpoint_address, ["0x" + slot.hex()], hex(later_block)]
            )
            storage[label] = {
                "block": later_block,
                "slot": "0x" + slot.hex(),
                "value": answer["storageProof"][0]["value"],
                "account_proof": answer["accountProof"],
                "storage_proof": answer["storageProof"][0]["proof"],
            }
        vectors = {
            "recorded_with": web3.client_version,
            "evm_chain_id": EVM_CHAIN_ID,
            "endpoint": endpoint_address.lower(),
            "impostor": impostor_address.lower(),
            "hub_client": HUB_CLIENT,
            "endpoint_client": ENDPOINT_CLIENT,
            "contract_source": SOURCE,
            "acknowledgement": "0x" + evm.encode_acknowledgement(acknowledgement).hex(),
            "refusal": "0x" + evm.encode_acknowledgement(refusal).hex(),
            "packets": {label: describe(packet) for label, packet in packets.items()},
            "blocks": blocks,
            "storage_proofs": storage,
        }
        arguments.output.parent.mkdir(parents=True, exist_ok=True)
        arguments.output.write_text(json.dumps(vectors, indent=1, sort_keys=True) + "\n")
        print(f"wrote {arguments.output}: blocks {packets_block} and {later_block}")
        return 0
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    sys.exit(main())
