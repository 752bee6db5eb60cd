"""Records the EVM test vectors of tests/testdata/evm/ from a real anvil (issue 9).

The hub's evm-committee client and its proofs are tested on fixed vectors, so that the unit tests
need no anvil. This script makes them again: it compiles the gateway's ``CausewayEndpoint``
(src/causeway/interchain/gateways/solidity/, or ``--endpoint-source``) and a small recording app
bound to its port "transfer" with solc from npm (offline, standard JSON, via-IR), starts anvil on
127.0.0.1 on a free port (stopped in ``finally``), and in one block: sends packets to the hub
through the app (one as the app's second log, one in a transaction that reverts), sends one from
a second, impostor endpoint, and receives two packets from the hub with three of the four test
committee members' signatures (the app accepts one and reverts on the other). It writes the
headers (RLP, checked against the block hash), every receipt of the block (consensus encoding,
checked against the receipts root), the JSON-RPC forms they came from, which log of which
transaction is the event to prove, and eth_getProof account and storage proofs of
``received[packetHash]`` of a received packet and of one never received, to
tests/testdata/evm/vectors.json.

The committee keys are test keys (0x0101..01 to 0x0404..04), never to be used anywhere real; the
tests sign attestations with the same keys.

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
import time
from pathlib import Path
from typing import Any

from eth_abi.abi import encode as abi_encode
from web3 import Web3

from causeway.interchain import evm, transfer
from causeway.interchain.v1 import interchain_pb2

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "tests" / "testdata" / "evm" / "vectors.json"
ENDPOINT_SOURCE = ROOT / "src/causeway/interchain/gateways/solidity/CausewayEndpoint.sol"
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
COMMITTEE_KEYS = tuple(bytes([index]) * 32 for index in range(1, 5))
THRESHOLD = 3
# A hub packet that times out before LATER_TIMESTAMP, and ones that do not.
TIMED_OUT_MS = (GENESIS_TIMESTAMP + 50) * 1000
RECEIVED_TIMEOUT_MS = (GENESIS_TIMESTAMP + 3_600) * 1000
EVM_TIMEOUT_MS = (GENESIS_TIMESTAMP + 3_600) * 1000
# A transfer the hub forwards to its member chain-b (a Causeway chain), timing out there then.
FORWARD_CHAIN = "chain-b"
FORWARD_RECEIVER = "org2/bob"
FORWARD_TIMEOUT_MS = (GENESIS_TIMESTAMP + 7_200) * 1000
# Explicit gas: with automine paused, an estimate made before the earlier signatures of the same
# block would miss the path that executes at the threshold.
GAS = 3_000_000

APP_SOURCE = """// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

interface IRecorderEndpoint {
    function bindPort(string calldata port) external;
    function sendPacket(
        string calldata destinationPort,
        string calldata version,
        string calldata encoding,
        bytes calldata value,
        int64 timeoutMs
    ) external returns (uint64 sequence, bytes32 packetHash);
}

// Bound to port "transfer" of an endpoint: sends what it is given, accepts packets from the hub
// (result 0x01) except sequence 3, which it refuses (the endpoint acknowledges the reason).
contract RecorderApp {
    IRecorderEndpoint public immutable endpoint;

    event Noted(bytes value);

    constructor(IRecorderEndpoint endpoint_) {
        endpoint = endpoint_;
        endpoint_.bindPort("transfer");
    }

    function send(bytes calldata value, int64 timeoutMs) public {
        endpoint.sendPacket("transfer", "ics20-1", "application/x-solidity-abi", value, timeoutMs);
    }

    // Two logs: the app's Noted is log 0, the endpoint's PacketSent log 1.
    function noteAndSend(bytes calldata value, int64 timeoutMs) external {
        emit Noted(value);
        send(value, timeoutMs);
    }

    // Sends, then reverts: a receipt with status 0 (and no logs).
    function sendAndFail(bytes calldata value, int64 timeoutMs) external {
        send(value, timeoutMs);
        revert("refused");
    }

    function onReceive(bytes calldata packet) external view returns (bytes memory) {
        require(msg.sender == address(endpoint), "only the endpoint");
        (, , uint64 sequence, , , , , , ) = abi.decode(
            packet, (string, string, uint64, int64, string, string, string, string, bytes)
        );
        require(sequence != 3, "the EVM app reverted");
        return hex"01";
    }

    function onAcknowledge(bytes calldata, bytes calldata) external {}

    function onTimeout(bytes calldata) external {}
}
"""

COMPILE_JS = """
const solc = require(process.argv[1]);
const chunks = [];
process.stdin.on("data", (chunk) => chunks.push(chunk));
process.stdin.on("end", () => process.stdout.write(solc.compile(Buffer.concat(chunks).toString())));
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def compile_contracts(node_modules: Path, endpoint_source: Path) -> dict[str, tuple[Any, str]]:
    """(abi, bytecode) of CausewayEndpoint and RecorderApp, with the gateway's settings."""
    standard = {
        "language": "Solidity",
        "sources": {
            "CausewayEndpoint.sol": {"content": endpoint_source.read_text()},
            "RecorderApp.sol": {"content": APP_SOURCE},
        },
        "settings": {
            "viaIR": True,
            "optimizer": {"enabled": True, "runs": 200},
            "evmVersion": "cancun",
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    completed = subprocess.run(
        ["node", "-e", COMPILE_JS, str(node_modules / "solc")],
        input=json.dumps(standard).encode(),
        capture_output=True,
        check=True,
    )
    output = json.loads(completed.stdout)
    errors = [error for error in output.get("errors", []) if error["severity"] == "error"]
    if errors:
        raise SystemExit("solc: " + "; ".join(error["formattedMessage"] for error in errors))
    contracts = output["contracts"]
    return {
        name: (
            contracts[f"{name}.sol"][name]["abi"],
            "0x" + contracts[f"{name}.sol"][name]["evm"]["bytecode"]["object"],
        )
        for name in ("CausewayEndpoint", "RecorderApp")
    }


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


def event_log_index(receipt: dict[str, Any], address: str) -> int:
    """The index in the receipt of the endpoint's PacketSent or AcknowledgementWritten log (0
    when there is none: a failed transaction)."""
    topics = {
        "0x" + evm.PACKET_SENT_TOPIC.hex(),
        "0x" + evm.ACKNOWLEDGEMENT_WRITTEN_TOPIC.hex(),
    }
    for index, log in enumerate(receipt["logs"]):
        if log["address"].lower() == address and log["topics"][0] in topics:
            return index
    return 0


def record_block(
    web3: Web3, number: int, labels: dict[str, str], addresses: dict[str, str]
) -> dict[str, Any]:
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
    by_hash = {receipt["transactionHash"]: receipt for receipt in receipts}
    transactions = {}
    for transaction, label in labels.items():
        receipt = by_hash[transaction]
        transactions[label] = {
            "index": int(receipt["transactionIndex"], 16),
            "log_index": event_log_index(receipt, addresses[label]),
        }
    return {
        "number": number,
        "hash": block["hash"],
        "header_rlp": "0x" + header_rlp.hex(),
        "receipts": ["0x" + receipt.hex() for receipt in encoded],
        "transactions": transactions,
        "block_json": block,
        "receipts_json": receipts,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node-modules", type=Path, required=True)
    parser.add_argument("--endpoint-source", type=Path, default=ENDPOINT_SOURCE)
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
    # What the endpoint writes: ACK(true, the app's result, "") or ACK(false, "", reason).
    acknowledgement = interchain_pb2.Acknowledgement(success=True, result=b"\x01")
    refusal = interchain_pb2.Acknowledgement(success=False, error="the EVM app reverted")

    compiled = compile_contracts(arguments.node_modules, arguments.endpoint_source)
    committee = [evm.address_of(key) for key in COMMITTEE_KEYS]
    port = free_port()
    process = start_anvil(arguments.node_modules, port)
    try:
        web3 = Web3(Web3.HTTPProvider(f"http://{LOOPBACK}:{port}"))
        deployer = web3.eth.accounts[0]
        sender = deployer.lower()
        denom = "erc20/0x" + "cd" * 20

        def to_hub(sequence: int, amount: int, memo: bytes = b"") -> interchain_pb2.Packet:
            return transfer_packet(
                sequence=sequence,
                timeout_ms=EVM_TIMEOUT_MS,
                data=interchain_pb2.TransferPacketData(
                    denom=denom, amount=amount, sender=sender, receiver=HUB_RECEIVER, memo=memo
                ),
                to_evm=False,
            )

        packets.update(
            {
                "evm_to_hub": to_hub(1, 500),
                # One more than Causeway's bank can hold: the hub must refuse it.
                "evm_to_hub_too_large": transfer_packet(
                    sequence=2,
                    timeout_ms=EVM_TIMEOUT_MS,
                    data=abi_encode(
                        list(evm.TRANSFER_ABI_TYPES), [denom, 1 << 64, sender, HUB_RECEIVER, b""]
                    ),
                    to_evm=False,
                ),
                "evm_to_hub_second_log": to_hub(3, 7),
                "evm_to_hub_forward": to_hub(
                    4,
                    40,
                    transfer.forward_memo(FORWARD_CHAIN, FORWARD_RECEIVER, FORWARD_TIMEOUT_MS),
                ),
                # Would be sequence 5; its transaction reverts, so it never is.
                "evm_to_hub_failed": to_hub(5, 9),
                # Sent by another endpoint (its own sequence 1).
                "evm_to_hub_impostor": to_hub(1, 10**6),
            }
        )

        def deploy(name: str, timestamp: int, *constructor: Any) -> str:
            abi, bytecode = compiled[name]
            rpc(web3, "evm_setNextBlockTimestamp", [timestamp])
            transaction = (
                web3.eth.contract(abi=abi, bytecode=bytecode)
                .constructor(*constructor)
                .transact({"from": deployer, "gas": GAS})
            )
            receipt = web3.eth.wait_for_transaction_receipt(transaction, poll_latency=0.05)
            if receipt["status"] != 1:
                raise SystemExit(f"deploying {name} failed")
            address = receipt["contractAddress"]
            assert address is not None
            return str(address)

        endpoint_arguments = (
            ENDPOINT_CLIENT,
            HUB_CLIENT,
            [Web3.to_checksum_address(address) for address in committee],
            THRESHOLD,
        )
        endpoint_address = deploy("CausewayEndpoint", DEPLOY_TIMESTAMP, *endpoint_arguments)
        app_address = deploy("RecorderApp", DEPLOY_TIMESTAMP + 1, endpoint_address)
        impostor_address = deploy("CausewayEndpoint", DEPLOY_TIMESTAMP + 2, *endpoint_arguments)
        impostor_app_address = deploy("RecorderApp", DEPLOY_TIMESTAMP + 3, impostor_address)
        endpoint = web3.eth.contract(address=endpoint_address, abi=compiled["CausewayEndpoint"][0])  # type: ignore[call-overload]
        app = web3.eth.contract(address=app_address, abi=compiled["RecorderApp"][0])  # type: ignore[call-overload]
        impostor_app = web3.eth.contract(
            address=impostor_app_address,  # type: ignore[arg-type]
            abi=compiled["RecorderApp"][0],
        )

        # One block with several receipts of both kinds: real branch nodes in the proofs.
        rpc(web3, "evm_setAutomine", [False])
        legacy = {"from": deployer, "gasPrice": web3.eth.gas_price, "type": 0, "gas": GAS}
        dynamic = {"from": deployer, "gas": GAS}

        def value(label: str) -> bytes:
            return packets[label].payload.value

        labels = {
            web3.eth.send_transaction(
                {"from": deployer, "to": web3.eth.accounts[1], "value": 1}  # type: ignore[typeddict-item]
            ).to_0x_hex(): "plain_transfer",
            app.functions.send(value("evm_to_hub"), EVM_TIMEOUT_MS)
            .transact(legacy)  # type: ignore[arg-type]
            .to_0x_hex(): "evm_to_hub",
            app.functions.send(value("evm_to_hub_too_large"), EVM_TIMEOUT_MS)
            .transact(dynamic)  # type: ignore[arg-type]
            .to_0x_hex(): "evm_to_hub_too_large",
            app.functions.noteAndSend(value("evm_to_hub_second_log"), EVM_TIMEOUT_MS)
            .transact(legacy)  # type: ignore[arg-type]
            .to_0x_hex(): "evm_to_hub_second_log",
            app.functions.send(value("evm_to_hub_forward"), EVM_TIMEOUT_MS)
            .transact(dynamic)  # type: ignore[arg-type]
            .to_0x_hex(): "evm_to_hub_forward",
            app.functions.sendAndFail(value("evm_to_hub_failed"), EVM_TIMEOUT_MS)
            .transact(dynamic)  # type: ignore[arg-type]
            .to_0x_hex(): "evm_to_hub_failed",
            impostor_app.functions.send(value("evm_to_hub_impostor"), EVM_TIMEOUT_MS)
            .transact(dynamic)  # type: ignore[arg-type]
            .to_0x_hex(): "evm_to_hub_impostor",
        }
        endpoint_bytes = evm.hex_bytes(endpoint_address.lower())
        for label in ("hub_to_evm_received", "hub_to_evm_refused"):
            encoded = evm.encode_packet(packets[label])
            digest = evm.receive_digest(
                EVM_CHAIN_ID, endpoint_bytes, evm.packet_hash(packets[label])
            )
            for number, key in enumerate(COMMITTEE_KEYS[:THRESHOLD], start=1):
                transaction = (
                    endpoint.functions.receivePacket(encoded, evm.sign_digest(key, digest))
                    .transact(dynamic)  # type: ignore[arg-type]
                    .to_0x_hex()
                )
                # The threshold-th signature executes: its receipt holds AcknowledgementWritten.
                labels[transaction] = (
                    label if number == THRESHOLD else f"{label}_signature_{number}"
                )
        rpc(web3, "evm_mine", [PACKETS_TIMESTAMP])
        packets_block = web3.eth.block_number
        rpc(web3, "evm_mine", [LATER_TIMESTAMP])
        later_block = web3.eth.block_number

        lower = endpoint_address.lower()
        addresses = {label: lower for label in labels.values()}
        addresses["evm_to_hub_impostor"] = impostor_address.lower()
        blocks = [
            record_block(web3, packets_block, labels, addresses),
            record_block(web3, later_block, {}, addresses),
        ]
        statuses = {
            label: int(blocks[0]["receipts_json"][entry["index"]]["status"], 16)
            for label, entry in blocks[0]["transactions"].items()
        }
        expected_failures = {"evm_to_hub_failed"}
        if {label for label, status in statuses.items() if status != 1} != expected_failures:
            raise SystemExit(f"unexpected transaction statuses: {statuses}")
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
            "contracts": "CausewayEndpoint (gateway sources) and RecorderApp (this script)",
            "evm_chain_id": EVM_CHAIN_ID,
            "endpoint": lower,
            "impostor": impostor_address.lower(),
            "committee": ["0x" + address.hex() for address in committee],
            "threshold": THRESHOLD,
            "hub_client": HUB_CLIENT,
            "endpoint_client": ENDPOINT_CLIENT,
            "app_source": APP_SOURCE,
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
