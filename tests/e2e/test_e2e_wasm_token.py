"""User contracts on a 4-validator tbft devnet: `causeway bench --workload wasm-transfer` deploys
the AssemblyScript token by governance and sends it transfers under load, then the Rust one;
every node then holds the same chain (block hashes, state roots), and each token's balances,
read with proofs from every node, are the same everywhere and add up to its supply."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from devnet_harness import Devnet, assert_same_chain

from causeway.bench.workloads import recipient_account
from causeway.contracts.v1 import contracts_pb2
from causeway.execution.keys import user_contract_namespace
from causeway.types.v1 import types_pb2

pytestmark = pytest.mark.e2e

TRANSFERS = {"assemblyscript": 1_200, "rust": 300}
RECIPIENTS = 20
BENCH_TIMEOUT_S = 240


def _bench(devnet: Devnet, language: str, transactions: int) -> dict[str, object]:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "causeway.cli",
            "bench",
            "--network",
            str(devnet.directory),
            "--workload",
            "wasm-transfer",
            "--contract-language",
            language,
            "--accounts",
            str(RECIPIENTS),
            "-t",
            str(transactions),
            "--json",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=BENCH_TIMEOUT_S,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    report: dict[str, object] = json.loads(completed.stdout)
    return report


def test_a_tbft_devnet_runs_the_token_under_load_with_one_state(tmp_path: Path) -> None:
    with Devnet(tmp_path, validators=4, consensus="tbft") as devnet:
        names = devnet.names
        for language, transactions in TRANSFERS.items():
            report = _bench(devnet, language, transactions)
            assert (report["committed"], report["failed"]) == (transactions, 0), report
        listed = devnet.client(names[0], "org1/client").evaluate("code", "list", b"")
        assert listed.status == types_pb2.RESULT_STATUS_OK, listed.error
        records = contracts_pb2.CodeListResult.FromString(listed.return_value).contracts
        tokens = sorted(record.name for record in records if record.name.startswith("bench-"))
        assert len(tokens) == len(TRANSFERS)
        target = max(height for height in devnet.heights().values() if height is not None)
        devnet.wait_for_heights(target)
        assert_same_chain(devnet, target)
        # Each token's balances, read with proofs from every node at one height: the same
        # everywhere, and the benchmark's sender and recipients hold the whole supply (the
        # deploying admin minted it and handed it all to the sender).
        owners = ["org1/admin", "org1/client"] + [recipient_account(i) for i in range(RECIPIENTS)]
        supplies = sorted(TRANSFERS.values())
        found_supplies = []
        for token in tokens:
            keys = [
                user_contract_namespace(token) + b"balance/" + owner.encode() for owner in owners
            ]
            answers = set()
            for name in names:
                response = devnet.client(name).get_states(keys, target)  # proofs checked
                answers.add(tuple(entry.value for entry in response.entries))
            assert len(answers) == 1, f"{token}: nodes disagree on balances"
            balances = [int.from_bytes(value, "little") for value in answers.pop()]
            found_supplies.append(sum(balances))
        assert sorted(found_supplies) == supplies
