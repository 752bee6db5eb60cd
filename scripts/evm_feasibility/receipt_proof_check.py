"""Feasibility check for the Ethereum-compatible gateway's proof path (issue 9).

Not a test and not imported by src/: a runnable proof of concept that the next session turns
into tests. It compiles Token.sol with solcjs (offline), starts anvil on 127.0.0.1, deploys the
ERC-20, sends a transfer, then rebuilds the block's receipt trie from the receipts with `rlp` and
`trie`, checks the root against the header's receiptsRoot, checks the header hash against the
block hash, builds a Merkle-Patricia proof for the transfer's receipt and verifies it, and checks
that tampered proofs are refused. anvil is stopped even on failure.

Usage (see docs/gateways-feasibility.md for the setup):

    python receipt_proof_check.py --node-modules /tmp/evmcheck/node_modules [--block-time 1]
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

import rlp
from eth_account import Account
from eth_hash.auto import keccak
from trie import HexaryTrie
from web3 import Web3

HERE = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


Compiled = dict[str, tuple[list[Any], str]]


def compile_contracts(node_modules: Path, output: Path) -> Compiled:
    """Compile the .sol files here with solcjs from the npm package; no network is needed."""
    solcjs = node_modules / "solc" / "solc.js"
    names = ("Token", "CommitteeCheck")
    subprocess.run(
        [
            "node",
            str(solcjs),
            "--bin",
            "--abi",
            "--optimize",
            "--base-path",
            str(HERE),
            "-o",
            str(output),
            *(str(HERE / f"{name}.sol") for name in names),
        ],
        check=True,
        cwd=HERE,
    )
    compiled: Compiled = {}
    for name in names:
        abi_file = next(output.glob(f"*_{name}.abi"))
        bin_file = next(output.glob(f"*_{name}.bin"))
        compiled[name] = (json.loads(abi_file.read_text()), "0x" + bin_file.read_text().strip())
    return compiled


def check_committee_signatures(web3: Web3, abi: list[Any], bytecode: str) -> None:
    """k-of-n ecrecover on the EVM side, with keys and signatures made by eth-account."""
    committee = sorted(
        (Account.create() for _ in range(3)), key=lambda account: int(account.address, 16)
    )
    deploy_hash = (
        web3.eth.contract(abi=abi, bytecode=bytecode)
        .constructor([account.address for account in committee], 2)
        .transact({"from": web3.eth.accounts[0]})
    )
    if web3.eth.get_block("pending")["transactions"]:
        raw_rpc(web3, "evm_mine", [])
    address = web3.eth.wait_for_transaction_receipt(deploy_hash, timeout=30)["contractAddress"]
    checker = web3.eth.contract(address=address, abi=abi)
    digest = keccak(b"packet commitment")
    signatures = [Account.unsafe_sign_hash(digest, account.key) for account in committee[:2]]
    arguments = (
        digest,
        [signature.v for signature in signatures],
        [signature.r.to_bytes(32, "big") for signature in signatures],
        [signature.s.to_bytes(32, "big") for signature in signatures],
    )
    assert checker.functions.verify(*arguments).call() is True
    forged = (arguments[0], arguments[1], arguments[2], [b"\x01" * 32, arguments[3][1]])
    try:
        accepted = checker.functions.verify(*forged).call()
    except Exception as error:
        accepted = False
        print(f"forged signature reverted: {type(error).__name__}")
    assert accepted is False
    print("ecrecover 2-of-3 committee check: valid accepted, forged refused")


def anvil_binary(node_modules: Path) -> Path:
    """The binary ships in a platform package (an optional dependency), no postinstall needed."""
    candidates = sorted((node_modules / "@foundry-rs").glob("anvil-*/bin/anvil"))
    if not candidates:
        raise SystemExit(f"no @foundry-rs/anvil-<platform> package under {node_modules}")
    return candidates[0]


def start_anvil(
    binary: Path, port: int, block_time: int | None
) -> tuple[subprocess.Popen[bytes], float]:
    command = [str(binary), "--host", LOOPBACK, "--port", str(port), "--silent"]
    if block_time is not None:
        command += ["--block-time", str(block_time)]
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    web3 = Web3(Web3.HTTPProvider(f"http://{LOOPBACK}:{port}"))
    deadline = started + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(
                f"anvil exited: {process.stderr.read().decode() if process.stderr else ''}"
            )
        try:
            web3.eth.block_number  # noqa: B018 -- the call is the readiness probe
            return process, time.monotonic() - started
        except Exception:
            time.sleep(0.02)
    process.kill()
    process.wait()
    raise SystemExit("anvil did not answer within 30 s")


def as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x"))
    raise TypeError(f"cannot turn {type(value).__name__} into bytes")


def encode_receipt(receipt: Any) -> bytes:
    """The consensus encoding of a receipt, as stored in the receipts trie.

    Legacy (type 0): rlp([status, cumulativeGasUsed, logsBloom, logs]). Typed (EIP-2718, types
    1..4): the type byte followed by the same rlp list. Post-Byzantium status is 1 or 0 (rlp of 0
    is the empty string).
    """
    logs = [
        [
            as_bytes(log["address"]),
            [as_bytes(topic) for topic in log["topics"]],
            as_bytes(log["data"]),
        ]
        for log in receipt["logs"]
    ]
    body = rlp.encode(
        [receipt["status"], receipt["cumulativeGasUsed"], as_bytes(receipt["logsBloom"]), logs]
    )
    transaction_type = int(receipt.get("type", 0))
    if transaction_type == 0:
        return body
    return bytes([transaction_type]) + body


HEADER_FIELDS_IN_ORDER = (
    # (json field, kind) in the order of the consensus header; later forks append at the end.
    ("parentHash", "bytes"),
    ("sha3Uncles", "bytes"),
    ("miner", "bytes"),
    ("stateRoot", "bytes"),
    ("transactionsRoot", "bytes"),
    ("receiptsRoot", "bytes"),
    ("logsBloom", "bytes"),
    ("difficulty", "int"),
    ("number", "int"),
    ("gasLimit", "int"),
    ("gasUsed", "int"),
    ("timestamp", "int"),
    ("extraData", "bytes"),
    ("mixHash", "bytes"),
    ("nonce", "bytes"),
    ("baseFeePerGas", "int"),
    ("withdrawalsRoot", "bytes"),
    ("blobGasUsed", "int"),
    ("excessBlobGas", "int"),
    ("parentBeaconBlockRoot", "bytes"),
    ("requestsHash", "bytes"),
)


def header_hash(raw_block: dict[str, Any]) -> bytes:
    """keccak(rlp(header)) from the JSON-RPC block, so the proof hangs off the attested hash."""
    fields: list[Any] = []
    for name, kind in HEADER_FIELDS_IN_ORDER:
        if name not in raw_block or raw_block[name] is None:
            # Optional fields only ever appear as a suffix; stop at the first missing one.
            break
        value = raw_block[name]
        fields.append(int(value, 16) if kind == "int" else as_bytes(value))
    return keccak(rlp.encode(fields))


def raw_rpc(web3: Web3, method: str, params: list[Any]) -> Any:
    response = web3.provider.make_request(method, params)  # type: ignore[arg-type]
    if "error" in response:
        raise RuntimeError(f"{method}: {response['error']}")
    return response["result"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--node-modules",
        type=Path,
        required=True,
        help="directory where `npm install @foundry-rs/anvil solc` was run, /node_modules",
    )
    parser.add_argument(
        "--block-time",
        type=int,
        default=None,
        help="interval mining in seconds (default: automine)",
    )
    parser.add_argument(
        "--transfers",
        type=int,
        default=3,
        help="transfers sent before the proven one, so the block has several receipts",
    )
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory() as build:
        compiled = compile_contracts(arguments.node_modules, Path(build))
    abi, bytecode = compiled["Token"]
    port = free_port()
    process, startup_seconds = start_anvil(
        anvil_binary(arguments.node_modules), port, arguments.block_time
    )
    try:
        print(f"anvil ready on {LOOPBACK}:{port} in {startup_seconds:.3f} s")
        web3 = Web3(Web3.HTTPProvider(f"http://{LOOPBACK}:{port}"))
        deployer, receiver = web3.eth.accounts[0], web3.eth.accounts[1]
        print(f"client {web3.client_version}, chain id {web3.eth.chain_id}")

        started = time.monotonic()
        deploy_hash = (
            web3.eth.contract(abi=abi, bytecode=bytecode)
            .constructor(10**24)
            .transact({"from": deployer})
        )
        deployed = web3.eth.wait_for_transaction_receipt(deploy_hash, timeout=30, poll_latency=0.05)
        print(
            f"deploy mined in {time.monotonic() - started:.3f} s, block {deployed['blockNumber']}"
        )
        token = web3.eth.contract(address=deployed["contractAddress"], abi=abi)

        if arguments.block_time is None:
            # Automine puts each transaction in its own block; pause it so one block holds several
            # receipts (legacy and typed) and the proof has real branch nodes.
            raw_rpc(web3, "evm_setAutomine", [False])
        hashes = []
        for index in range(arguments.transfers):
            hashes.append(
                token.functions.transfer(receiver, 1000 + index).transact(
                    {"from": deployer, "gasPrice": web3.eth.gas_price, "type": 0}
                    if index % 2
                    else {"from": deployer}
                )
            )
        started = time.monotonic()
        if arguments.block_time is None:
            raw_rpc(web3, "evm_mine", [])
        receipt = web3.eth.wait_for_transaction_receipt(hashes[-1], timeout=30, poll_latency=0.05)
        print(
            f"transfer mined in {time.monotonic() - started:.3f} s, "
            f"block {receipt['blockNumber']}, "
            f"index {receipt['transactionIndex']}, type {receipt['type']}"
        )
        transfer_events = token.events.Transfer().process_receipt(receipt)
        print(f"Transfer event: value {transfer_events[0]['args']['value']}")

        # Build the receipts trie of the whole block from its receipts, as a gateway would.
        raw_block = raw_rpc(web3, "eth_getBlockByNumber", [hex(receipt["blockNumber"]), False])
        receipts = raw_rpc(web3, "eth_getBlockReceipts", [hex(receipt["blockNumber"])])
        receipts_trie = HexaryTrie(db={})
        for item in receipts:
            receipts_trie[rlp.encode(int(item["transactionIndex"], 16))] = encode_receipt(
                {
                    **item,
                    "status": int(item["status"], 16),
                    "cumulativeGasUsed": int(item["cumulativeGasUsed"], 16),
                    "type": int(item["type"], 16),
                }
            )
        receipts_root = as_bytes(raw_block["receiptsRoot"])
        print(
            f"{len(receipts)} receipts in the block, types {sorted({r['type'] for r in receipts})}"
        )
        assert receipts_trie.root_hash == receipts_root, "rebuilt receipts root differs"
        print(f"receipts root matches header: 0x{receipts_root.hex()}")
        assert header_hash(raw_block) == as_bytes(raw_block["hash"]), "header hash differs"
        print("header rlp hash matches block hash")

        # The proof: key rlp(index), value the consensus encoding; verified against the root only.
        key = rlp.encode(receipt["transactionIndex"])
        proof = receipts_trie.get_proof(key)
        proven = HexaryTrie.get_from_proof(receipts_root, key, proof)
        assert proven == encode_receipt(receipt), "proven value is not the receipt"
        print(f"proof of {len(proof)} nodes verified; proven receipt is {len(proven)} bytes")

        # What a verifier must refuse: a wrong root, a tampered node, a proof for another key.
        refused = 0
        for label, root, candidate_key, candidate_proof in (
            ("wrong root", keccak(b"not the root"), key, proof),
            ("tampered node", receipts_root, key, (*proof[:-1], [*proof[-1][:-1], b"x"])),
        ):
            try:
                value = HexaryTrie.get_from_proof(root, candidate_key, candidate_proof)
            except Exception as error:
                print(f"refused ({label}): {type(error).__name__}")
                refused += 1
            else:
                print(f"NOT refused ({label}): got {value!r}")
        absent_key = rlp.encode(len(receipts) + 5)
        absent = HexaryTrie.get_from_proof(
            receipts_root, absent_key, receipts_trie.get_proof(absent_key)
        )
        print(f"absent index proves empty value: {absent == b''}")
        assert refused == 2 and absent == b""

        proof_response = raw_rpc(
            web3, "eth_getProof", [token.address, ["0x" + "00" * 32], "latest"]
        )
        print(f"eth_getProof works: {len(proof_response['accountProof'])} account-proof nodes")
        for method, params in (
            ("debug_getRawReceipts", ["latest"]),
            ("debug_getRawHeader", ["latest"]),
        ):
            try:
                raw_rpc(web3, method, params)
                print(f"{method}: available")
            except RuntimeError as error:
                print(f"{method}: not available ({error})")
        check_committee_signatures(web3, *compiled["CommitteeCheck"])
        print("OK")
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
