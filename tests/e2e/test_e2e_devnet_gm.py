"""A tbft devnet of four validators with the gm profile (SM2 signatures, SM3 hashes) commits
transactions that every node holds in the same blocks (headers, SM3 block hashes, state roots,
SM2 commit certificates with a quorum of validators); `causeway devnet down` then stops every
node gracefully."""

from __future__ import annotations

from pathlib import Path

import pytest
from devnet_harness import (
    Acknowledged,
    Devnet,
    assert_acknowledged_exactly_once,
    assert_same_chain,
    fund,
)

from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import get_profile
from causeway.execution.keys import LEDGER_BALANCE_PREFIX

pytestmark = pytest.mark.e2e

SENDER = "org1/client"
RECIPIENT = "org2/client"


def test_gm_tbft_devnet_commits_identical_blocks_on_every_node(tmp_path: Path) -> None:
    with Devnet(tmp_path, validators=4, consensus="tbft", crypto="gm") as devnet:
        names = devnet.names
        status = devnet.client(names[0]).status()
        assert (status.crypto_profile, status.consensus) == ("gm", "tbft")
        get_profile("gm").check_algorithm(devnet.identity(SENDER).algorithm)
        fund(devnet, names[0], [SENDER])

        acknowledged: list[Acknowledged] = []
        for serial, name in enumerate(names):
            client = devnet.client(name, SENDER)
            batch = [
                client.transaction(
                    "kv",
                    "put",
                    contracts_pb2.KvPutArguments(key=f"gm/{serial}".encode(), value=b"v"),
                ),
                client.transaction(
                    "ledger",
                    "transfer",
                    contracts_pb2.LedgerTransferArguments(to=RECIPIENT, amount=serial + 1),
                ),
            ]
            for result in client.submit_batch(batch, wait=True, timeout_s=30.0):
                assert result.succeeded, result
                acknowledged.append(Acknowledged(result.transaction_id, result.height, name))
        target = max(item.height for item in acknowledged)
        devnet.wait_for_heights(target)
        chain = assert_same_chain(devnet, target)
        assert_acknowledged_exactly_once(devnet, chain, acknowledged)
        # The recipient's balance, read with a proof from each node, is the same everywhere.
        key = LEDGER_BALANCE_PREFIX + RECIPIENT.encode()
        values: set[bytes] = set()
        for name in names:
            response = devnet.client(name).get_state(key, target)  # proof checked (SM3)
            assert response.found and response.header.height == target
            values.add(response.value)
        assert len(values) == 1
        assert int.from_bytes(values.pop(), "big") == sum(range(1, len(names) + 1))
        assert chain[-1].state_root == response.header.state_root

        # `causeway devnet down` itself stops every node, each within its SIGTERM grace.
        pids = {name: devnet.node(name).pid for name in names}
        stopped = devnet.down(parallel=False)
        assert stopped is not None and stopped.returncode == 0, devnet.cli_log[-1]
        assert "killed after the timeout" not in stopped.stdout, stopped.stdout
        for name in names:
            assert f"{name} stopped" in stopped.stdout, stopped.stdout
            assert not devnet.is_running(name), f"{name} (pid {pids[name]}) still runs"
            last_start = devnet.node(name).log_path.read_text(errors="replace")
            assert "node stopped" in last_start.rpartition("node started")[2], devnet.log_tail(name)
