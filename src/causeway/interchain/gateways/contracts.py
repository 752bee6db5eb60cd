"""The gateway's Solidity contracts (``solidity/``, shipped with the package) compiled by the EVM
toolchain, and their deployment on an EVM chain: the endpoint with its committee, then the
transfer app, which binds port "transfer" in its constructor.

The compiled artifacts are not committed: ``compiled_contracts`` compiles at build or test time
and the toolchain caches the output by the hash of the sources and settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from causeway.errors import RequestError
from causeway.toolchains import evm

SOLIDITY_FOLDER = Path(__file__).resolve().parent / "solidity"
ENDPOINT_CONTRACT = "CausewayEndpoint"
TRANSFER_CONTRACT = "CausewayTransfer"
VOUCHER_CONTRACT = "CausewayVoucher"
TEST_TOKEN_CONTRACT = "TestToken"
COMMITTEE_SIZE_MAX = 16
TRANSACTION_TIMEOUT_SECONDS = 60.0
RECEIPT_POLL_SECONDS = 0.05


def solidity_sources() -> dict[str, str]:
    """The gateway's Solidity files, by file name."""
    return {path.name: path.read_text(encoding="utf-8") for path in SOLIDITY_FOLDER.glob("*.sol")}


@cache
def compiled_contracts() -> dict[str, evm.CompiledContract]:
    """Every gateway contract compiled (installing the toolchain first when it is missing)."""
    return evm.compile_sources(solidity_sources())


@dataclass(frozen=True, slots=True)
class GatewayDeployment:
    """Where the endpoint and the transfer app live on the EVM chain."""

    endpoint: str
    transfer: str


def check_committee(committee: Sequence[str], threshold: int) -> None:
    """RequestError unless the committee is 1..16 distinct addresses and the threshold more than
    half of them and at most all (the endpoint's and the hub client's rule)."""
    if not 1 <= len(committee) <= COMMITTEE_SIZE_MAX:
        raise RequestError(
            f"a committee has 1 to {COMMITTEE_SIZE_MAX} members, not {len(committee)}"
        )
    if len({Web3.to_checksum_address(member) for member in committee}) != len(committee):
        raise RequestError("committee members must be distinct")
    if not (2 * threshold > len(committee) and threshold <= len(committee)):
        raise RequestError(
            f"threshold {threshold} of {len(committee)}: it must be more than half of the "
            "committee and at most all of it"
        )


def send_transaction(web3: Web3, call: Any, sender: str, gas: int | None = None) -> Any:
    """Sends a contract call (or constructor) from an unlocked account and waits for its receipt;
    RequestError when it reverts on chain."""
    options: dict[str, Any] = {"from": sender}
    if gas is not None:
        options["gas"] = gas
    transaction_hash = call.transact(options)
    receipt = web3.eth.wait_for_transaction_receipt(
        transaction_hash, timeout=TRANSACTION_TIMEOUT_SECONDS, poll_latency=RECEIPT_POLL_SECONDS
    )
    if receipt["status"] != 1:
        raise RequestError(f"transaction {transaction_hash.hex()} reverted")
    return receipt


def deploy(web3: Web3, name: str, sender: str, *arguments: Any) -> Contract:
    """Deploys the compiled contract ``name`` from ``sender`` (an unlocked account)."""
    compiled = compiled_contracts()[name]
    factory = web3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
    receipt = send_transaction(web3, factory.constructor(*arguments), sender)
    return at(web3, name, receipt["contractAddress"])


def at(web3: Web3, name: str, address: str) -> Contract:
    """The compiled contract ``name`` at ``address``."""
    return web3.eth.contract(
        address=Web3.to_checksum_address(address), abi=compiled_contracts()[name].abi
    )


def deploy_gateway(
    web3: Web3,
    sender: str,
    *,
    local_client_id: str,
    hub_client_id: str,
    committee: Sequence[str],
    threshold: int,
) -> GatewayDeployment:
    """The endpoint (``local_client_id``: how it names the hub; ``hub_client_id``: the hub's
    client of this chain) with its committee, and the transfer app bound to port "transfer"."""
    check_committee(committee, threshold)
    endpoint = deploy(
        web3,
        ENDPOINT_CONTRACT,
        sender,
        local_client_id,
        hub_client_id,
        [Web3.to_checksum_address(member) for member in committee],
        threshold,
    )
    transfer = deploy(web3, TRANSFER_CONTRACT, sender, endpoint.address)
    return GatewayDeployment(endpoint=endpoint.address, transfer=transfer.address)


@dataclass(frozen=True, slots=True)
class SentTransfer:
    """A transfer sent from the EVM side: the packet's sequence and the transaction's hash."""

    sequence: int
    transaction_hash: str


def send_transfer(
    web3: Web3,
    private_key: bytes,
    endpoint_address: str,
    *,
    denom: str,
    amount: int,
    receiver: str,
    timeout_ms: int,
    memo: bytes = b"",
) -> SentTransfer:
    """Sends ``amount`` of ``denom`` (a voucher path, or "erc20/0x<token>": approved first) from
    the key's account through the transfer app bound to the endpoint's port "transfer".
    RequestError when the app refuses (nothing sent)."""
    if amount <= 0:
        raise RequestError(f"amount {amount} must be positive")
    account = Account.from_key(private_key)
    endpoint = at(web3, ENDPOINT_CONTRACT, endpoint_address)
    transfer_address = endpoint.functions.appOf("transfer").call()
    if int(transfer_address, 16) == 0:
        raise RequestError(f"no transfer app is bound to endpoint {endpoint_address}")
    transfer = at(web3, TRANSFER_CONTRACT, transfer_address)
    calls = []
    if denom.startswith("erc20/"):
        token = at(web3, TEST_TOKEN_CONTRACT, denom.removeprefix("erc20/"))
        calls.append(token.functions.approve(transfer.address, amount))
    calls.append(transfer.functions.sendTransfer(denom, amount, receiver, timeout_ms, memo))
    receipt: Any = None
    for call in calls:
        try:
            transaction = call.build_transaction(
                {
                    "from": account.address,
                    "nonce": web3.eth.get_transaction_count(account.address, "pending"),
                    "chainId": web3.eth.chain_id,
                }
            )
        except ContractLogicError as error:
            raise RequestError(f"the transfer app refuses: {error.message or error}") from None
        signed = account.sign_transaction(transaction)
        transaction_hash = web3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = web3.eth.wait_for_transaction_receipt(
            transaction_hash, timeout=TRANSACTION_TIMEOUT_SECONDS, poll_latency=RECEIPT_POLL_SECONDS
        )
        if receipt["status"] != 1:
            raise RequestError(f"EVM transaction {transaction_hash.hex()} reverted")
    (sent,) = transfer.events.TransferSent().process_receipt(receipt, errors=DISCARD)
    return SentTransfer(
        int(sent["args"]["sequence"]), "0x" + bytes(receipt["transactionHash"]).hex()
    )
