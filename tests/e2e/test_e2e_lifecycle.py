"""A node's life end to end: transactions, reads with proofs, clean stop, restart where it left."""

from __future__ import annotations

import pytest
from node_harness import NodeFactory, NodeProcess, assert_idle_blocks

from causeway.contracts.v1 import contracts_pb2
from causeway.errors import ProofError
from causeway.execution.keys import LEDGER_SUPPLY_KEY, balance_key, kv_key
from causeway.sdk import verify_state_response
from causeway.types import block_hash, encode, verify_merkle_proof
from causeway.types.v1 import types_pb2

pytestmark = pytest.mark.e2e

CLIENT = "org1/client"
ADMIN = "org1/admin"
RECIPIENT = "org2/client"
ZERO_HASH = bytes(32)


@pytest.mark.parametrize("crypto_profile", ["intl", "gm"])
def test_node_lifecycle(make_node: NodeFactory, crypto_profile: str) -> None:
    node: NodeProcess = make_node(crypto_profile)
    network = node.network
    hash_function = network.hash

    with node.connect(CLIENT) as client, node.connect(ADMIN) as admin:
        status = client.status()
        assert (status.chain_id, status.crypto_profile, status.height) == (
            network.chain_id,
            crypto_profile,
            0,
        )

        put = client.invoke("kv", "put", contracts_pb2.KvPutArguments(key=b"colour", value=b"blue"))
        assert put.succeeded, put
        issue = admin.invoke(
            "ledger", "issue", contracts_pb2.LedgerIssueArguments(account=CLIENT, amount=1000)
        )
        assert issue.succeeded, issue
        transfer = client.invoke(
            "ledger", "transfer", contracts_pb2.LedgerTransferArguments(to=RECIPIENT, amount=250)
        )
        assert transfer.succeeded, transfer
        assert transfer.result is not None
        remaining = contracts_pb2.LedgerBalanceResult.FromString(transfer.result.return_value)
        assert remaining.amount == 750
        assert 1 <= put.height < issue.height < transfer.height
        # Events of the committed results.
        assert [(e.contract, e.name) for e in transfer.result.events] == [("ledger", "transfer")]

        # Queries read the committed state.
        got = client.evaluate("kv", "get", contracts_pb2.KvGetArguments(key=b"colour"))
        assert got.status == types_pb2.RESULT_STATUS_OK, got
        assert contracts_pb2.KvGetResult.FromString(got.return_value) == (
            contracts_pb2.KvGetResult(found=True, value=b"blue")
        )
        for account, amount in ((CLIENT, 750), (RECIPIENT, 250)):
            answer = client.evaluate(
                "ledger", "balance", contracts_pb2.LedgerBalanceArguments(account=account)
            )
            assert contracts_pb2.LedgerBalanceResult.FromString(answer.return_value).amount == (
                amount
            )

        # The block holding the transfer, checked by the SDK (roots, certificate) and here.
        block_response = client.get_block(transfer.height)
        header = block_response.block.header
        assert header.height == transfer.height
        assert header.chain_id == network.chain_id
        assert len(block_response.block.transactions) == header.transaction_count
        assert len(block_response.results) == header.transaction_count
        assert block_response.certificate.block_hash == block_hash(header, hash_function)
        if header.height > 1:
            previous = client.get_block(header.height - 1).block.header
            assert header.previous_hash == block_hash(previous, hash_function)
        else:
            assert header.previous_hash == ZERO_HASH

        # Each transaction with its Merkle proofs, verified here against the header's roots.
        for outcome in (put, issue, transfer):
            response = client.get_transaction(outcome.transaction_id, verify=False)
            assert response.height == outcome.height
            assert response.result.status == types_pb2.RESULT_STATUS_OK
            assert client.transaction_id(response.transaction) == outcome.transaction_id
            transaction_header = response.header
            assert transaction_header == client.get_block(outcome.height).block.header
            verify_merkle_proof(
                transaction_header.transactions_root,
                outcome.transaction_id,
                response.transaction_proof,
                hash_function,
            )
            verify_merkle_proof(
                transaction_header.results_root,
                encode(response.result),
                response.result_proof,
                hash_function,
            )
            with pytest.raises(ProofError):
                verify_merkle_proof(
                    transaction_header.transactions_root,
                    hash_function(b"another transaction"),
                    response.transaction_proof,
                    hash_function,
                )
            client.get_transaction(outcome.transaction_id)  # the SDK's own verification

        # State entries with proofs against the latest header: present and absent keys.
        present = client.get_state(kv_key(b"colour"), verify=True)
        assert (present.found, present.value) == (True, b"blue")
        assert present.height == transfer.height
        absent = client.get_state(kv_key(b"never-written"), verify=True)
        assert (absent.found, absent.value) == (False, b"")
        for key, amount in (
            (balance_key(CLIENT), 750),
            (balance_key(RECIPIENT), 250),
            (LEDGER_SUPPLY_KEY, 1000),
        ):
            entry = client.get_state(key, verify=True)
            assert entry.found
            assert int.from_bytes(entry.value, "big") == amount
        # The proofs really bind: a forged value or a forged absence does not verify.
        forged = type(present)()
        forged.CopyFrom(present)
        forged.value = b"red"
        with pytest.raises(ProofError):
            verify_state_response(forged, kv_key(b"colour"), hash_function)
        forged_absence = type(present)()
        forged_absence.CopyFrom(present)
        forged_absence.found = False
        forged_absence.value = b""
        with pytest.raises(ProofError):
            verify_state_response(forged_absence, kv_key(b"colour"), hash_function)

        before_stop = client.status()

    # A clean stop on SIGTERM.
    assert node.stop() == 0, node.log_tail()
    assert "node stopped" in node.log_text()

    # A restart resumes at the same height and block, and goes on from there. (A restart that
    # took more than 5 s may show an idle heartbeat block on top: the node makes one every 5 s
    # with nothing to order.)
    node.start()
    with node.connect(CLIENT) as client:
        after_restart = client.status()
        assert after_restart.height >= before_stop.height
        if after_restart.height == before_stop.height:
            assert after_restart.latest_block_hash == before_stop.latest_block_hash
        assert after_restart.genesis_hash == before_stop.genesis_hash
        assert client.get_state(kv_key(b"colour")).value == b"blue"

        again = client.invoke(
            "kv", "put", contracts_pb2.KvPutArguments(key=b"colour", value=b"green")
        )
        assert again.succeeded, again
        assert again.height > before_stop.height
        assert_idle_blocks(client, before_stop.height, again.height - 1)
        next_header = client.get_block(before_stop.height + 1).block.header
        assert next_header.previous_hash == before_stop.latest_block_hash
        assert client.get_state(kv_key(b"colour")).value == b"green"
        # History stays readable: the old value at the old height.
        assert client.get_state(kv_key(b"colour"), height=before_stop.height).value == b"blue"

    assert node.stop() == 0, node.log_tail()
