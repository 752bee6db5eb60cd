"""Executor overhead of transfers: one block of signed transfers over an in-memory state.

    .venv/bin/python bench/execution_transfer.py [--transfers 5000] [--senders 50] [--rounds 5]
        [--contract ledger|token-assemblyscript|token-rust]

Signatures are made up front and not verified (admission does that, not the executor), so the
figure is the pure Python cost of executing a transfer: checks, metered state access, the
contract's logic, the event and the result. With a token (the template, built as the wasm
benchmark deploys it), the contract is deployed by a transaction first and every sender is given
tokens in state; the transfers then run as WebAssembly, and the gas of one is printed too.
"""

from __future__ import annotations

import argparse
import statistics
import time

from causeway.bench.contract_modules import load_module
from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import (
    PrivateKey,
    get_profile,
    issue_ca_certificate,
    issue_member_certificate,
)
from causeway.execution import Executor, genesis_state
from causeway.execution.keys import user_contract_namespace
from causeway.types import (
    DOMAIN_TRANSACTION,
    DecodedTransaction,
    decode_transaction,
    encode,
    sign_bytes,
)
from causeway.types.interface import encode_fields, parse_interface
from causeway.types.v1 import types_pb2

CHAIN_ID = "bench-chain"
TIME_MS = 1_800_000_000_000


class DictReader:
    def __init__(self, state: dict[bytes, bytes]) -> None:
        self.state = state

    def get(self, key: bytes) -> bytes | None:
        return self.state.get(key)

    def range(self, prefix: bytes, start_after: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        keys = sorted(key for key in self.state if key.startswith(prefix) and key > start_after)
        return [(key, self.state[key]) for key in keys[:limit]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transfers", type=int, default=5000)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--contract",
        choices=["ledger", "token-assemblyscript", "token-rust"],
        default="ledger",
    )
    options = parser.parse_args()

    profile = get_profile("intl")
    ca_key = PrivateKey.generate("ecdsa-p256")
    organisation = types_pb2.Organisation(
        id="org1",
        ca_algorithm=ca_key.algorithm,
        ca_public_key=ca_key.public_key().raw,
        ca_certificate=issue_ca_certificate("org1", ca_key, 365),
    )
    keys: dict[str, PrivateKey] = {}
    members = []
    for index in range(options.senders):
        member_id = f"org1/client{index}"
        key = keys[member_id] = PrivateKey.generate("ecdsa-p256")
        roles = (
            [types_pb2.ROLE_ADMIN, types_pb2.ROLE_CLIENT] if index == 0 else [types_pb2.ROLE_CLIENT]
        )
        members.append(
            types_pb2.Member(
                id=member_id,
                organisation="org1",
                name=f"client{index}",
                roles=roles,
                algorithm=key.algorithm,
                public_key=key.public_key().raw,
                certificate=issue_member_certificate(
                    CHAIN_ID,
                    organisation,
                    ca_key,
                    organisation.ca_certificate,
                    member_id,
                    roles,
                    key.public_key(),
                    365,
                    TIME_MS,
                ),
            )
        )
    any_organisation = types_pb2.EndorsementPolicy(kind=types_pb2.POLICY_KIND_ANY)
    genesis = types_pb2.Genesis(
        version=1,
        chain_id=CHAIN_ID,
        genesis_time_ms=TIME_MS,
        crypto_profile="intl",
        consensus="solo",
        config=types_pb2.ChainConfig(
            block_transactions_max=100_000,
            block_bytes_max=64 << 20,
            transaction_bytes_max=64 << 10,
            transaction_expiry_max_ms=600_000,
            endorsements_max=8,
            state_history_heights=100,
            governance_policy=any_organisation,
            ledger_issue_policy=any_organisation,
            transaction_gas_max=10_000_000,
        ),
        organisations=[organisation],
        members=members,
    )
    executor = Executor(genesis, profile)
    state = genesis_state(genesis)
    # Fund every sender directly in state: the benchmark is about transfers.
    for member_id in keys:
        state[b"ledger/balance/" + member_id.encode()] = (10**12).to_bytes(8, "big")

    def signed(
        index: int, sender: str, contract: str, method: str, arguments: bytes
    ) -> DecodedTransaction:
        body = encode(
            types_pb2.TransactionBody(
                version=1,
                chain_id=CHAIN_ID,
                nonce=index.to_bytes(8, "big"),
                timestamp_ms=TIME_MS,
                expiry_ms=TIME_MS + 60_000,
                contract=contract,
                method=method,
                arguments=arguments,
                sender=sender,
            )
        )
        signature = keys[sender].sign(sign_bytes(DOMAIN_TRANSACTION, CHAIN_ID, body))
        return decode_transaction(
            encode(types_pb2.Transaction(body=body, signature=signature)),
            hash_function=profile.hash,
            bytes_max=64 << 10,
        )

    sender_ids = list(keys)
    contract = "ledger"

    def arguments_of(recipient: str) -> bytes:
        return encode(contracts_pb2.LedgerTransferArguments(to=recipient, amount=7))

    if options.contract != "ledger":
        contract = "token"
        module = load_module("token", options.contract.removeprefix("token-"))
        interface = parse_interface(module.interface_json)
        deploy = signed(
            1 << 40,
            sender_ids[0],
            "code",
            "deploy",
            encode(
                contracts_pb2.CodeDeployArguments(
                    name=contract,
                    code=module.code,
                    interface_json=module.interface_json,
                    init_input=encode_fields(interface.method("init").arguments, {"supply": 1}),
                )
            ),
        )
        deployed = executor.execute_block(DictReader(state), [deploy], 1, TIME_MS)
        if deployed.results[0].status != types_pb2.RESULT_STATUS_OK:
            raise SystemExit(f"the token was not deployed: {deployed.results[0].error}")
        for key, value in deployed.changes.items():
            if value is not None:
                state[key] = value
        for member_id in keys:
            balance_key = user_contract_namespace(contract) + b"balance/" + member_id.encode()
            state[balance_key] = (10**12).to_bytes(8, "little")
        transfer_fields = interface.method("transfer").arguments

        def arguments_of(recipient: str) -> bytes:
            return encode_fields(transfer_fields, {"to": recipient, "amount": 7})

    transactions = [
        signed(
            index,
            sender_ids[index % len(sender_ids)],
            contract,
            "transfer",
            arguments_of(f"account-{index % 1000}"),
        )
        for index in range(options.transfers)
    ]

    timings = []
    for _ in range(options.rounds):
        reader = DictReader(state)
        started = time.perf_counter()
        execution = executor.execute_block(reader, transactions, 1, TIME_MS + 1_000)
        timings.append(time.perf_counter() - started)
        failed = [r for r in execution.results if r.status != types_pb2.RESULT_STATUS_OK]
        if failed:
            raise SystemExit(f"{len(failed)} transfers failed: {failed[0].error}")
    per_transfer_us = [seconds / options.transfers * 1e6 for seconds in timings]
    print(
        f"{options.contract}: {options.transfers} transfers, {options.senders} senders, "
        f"{options.rounds} rounds, {execution.results[0].cost.gas_used} gas each: "
        f"best {min(per_transfer_us):.1f} us/transfer, median "
        f"{statistics.median(per_transfer_us):.1f} us/transfer "
        f"({options.transfers / min(timings):,.0f} transfers/s)"
    )


if __name__ == "__main__":
    main()
