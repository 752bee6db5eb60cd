"""Snapshots, backups and restores with real node processes.

* A solo node: `causeway node snapshot create` and `causeway node backup` while it runs; the
  snapshot restored into a new home (`snapshot restore`) starts, continues the chain, refuses a
  replay of a transaction committed before the snapshot and answers reads below its base
  clearly; the backup passes `causeway node verify`; bad snapshots are refused with nothing
  written.
* A tbft devnet of four validators: one validator's data is thrown away, and it catches up
  twice: once by replaying every block from genesis, once from a snapshot fetched from another
  node's HTTP gateway, verified and restored, then block sync from the snapshot's height. Both
  times are printed (never asserted: the machine is shared).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from devnet_harness import Devnet
from node_harness import NodeFactory

from causeway.cli.proofs import transaction_proof_document, verify_proof_document
from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import get_profile
from causeway.errors import DecodeError, DuplicateError, HeightUnavailableError, ProofError
from causeway.execution.keys import KV_PREFIX
from causeway.node import load_genesis, verify_node_store
from causeway.node.config import load_node_config
from causeway.node.snapshots import (
    archive_node,
    archived_transaction,
    create_node_snapshot,
    fetch_snapshot,
    restore_snapshot_file,
)
from causeway.sdk import Client
from causeway.storage import Store, store_folder

pytestmark = pytest.mark.e2e

COMMAND_TIMEOUT_S = 120.0
SENDER = "org1/client"
# The devnet's load: BATCHES batches of BATCH_TRANSACTIONS kv puts, each waited for.
BATCHES = 30
BATCH_TRANSACTIONS = 200
# Batches committed after the snapshot, which the restored node gets by block sync.
BATCHES_AFTER_SNAPSHOT = 2
CATCH_UP_TIMEOUT_S = 120.0


def causeway(*arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [sys.executable, "-m", "causeway.cli", *arguments],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )
    if check:
        assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed


def put_batch(client: Client, prefix: str, count: int) -> list[bytes]:
    transactions = [
        client.transaction(
            "kv",
            "put",
            contracts_pb2.KvPutArguments(key=f"{prefix}/{index}".encode(), value=b"v"),
        )
        for index in range(count)
    ]
    ids = []
    for result in client.submit_batch(transactions, wait=True, timeout_s=60.0):
        assert result.succeeded, result
        ids.append(result.transaction_id)
    return ids


_LOG_TIME = re.compile(r"^(\d\d):(\d\d):(\d\d\.\d+) ")
_COMMITTED = re.compile(r"block committed\s+height=(\d+)")


def _log_seconds(line: str) -> float:
    match = _LOG_TIME.match(line)
    assert match, line
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def seconds_from_start_to(log_path: Path, height: int) -> float:
    """Seconds from the node's last "node started" line to its commit of ``height``, by the
    log's own times: the part of a catch-up that is not the process start (the same in both
    runs, and slow and noisy on a shared machine)."""
    lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    start = max(index for index, line in enumerate(lines) if "node started" in line)
    started = _log_seconds(lines[start])
    for line in lines[start:]:
        committed = _COMMITTED.search(line)
        if committed and int(committed.group(1)) >= height:
            return (_log_seconds(line) - started) % 86_400
    raise AssertionError(f"{log_path} shows no commit of height {height} since its start")


def new_home(home: Path, directory: Path) -> Path:
    """A copy of a node home without its data: the same key, genesis and configuration."""
    shutil.copytree(home, directory, ignore=shutil.ignore_patterns("data", "*.log"))
    return directory


def test_a_solo_node_is_snapshotted_and_backed_up_while_it_runs_and_restored(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    node = make_node("intl")
    home = node.network.node_home
    snapshot_file = tmp_path / "node.snapshot"
    backup_folder = tmp_path / "backup-data"
    with node.connect(SENDER) as client:
        first_ids = put_batch(client, "before", 50)
        replayed = client.transaction(
            "kv",
            "put",
            contracts_pb2.KvPutArguments(key=b"replayed", value=b"once"),
            expiry_s=600.0,
        )
        assert client.submit_batch([replayed], wait=True, timeout_s=30.0)[0].succeeded
        created = json.loads(
            causeway(
                "node",
                "snapshot",
                "create",
                "--home",
                str(home),
                "--out",
                str(snapshot_file),
                "--json",
            ).stdout
        )
        backed_up = json.loads(
            causeway(
                "node", "backup", "--home", str(home), "--out", str(backup_folder), "--json"
            ).stdout
        )
        # The node kept running and committing meanwhile.
        put_batch(client, "during", 10)
        latest = client.status().height
        # Archiving beside the running node: block 1's body goes to a file; its transactions'
        # proofs are made from the file and check against the chain's header.
        first_height = client.get_transaction(first_ids[0]).height
        archive_folder = tmp_path / "archive"
        report = archive_node(home, first_height + 1, archive_folder)
        assert report.blocks == first_height
        # (The node's API may still answer its most recent blocks from memory.)
        with Store(store_folder(home / "data"), read_only=True) as store:
            with pytest.raises(HeightUnavailableError, match="archived"):
                store.get_block(first_height)
            assert store.get_header(first_height).height == first_height
        response = archived_transaction(home, archive_folder, first_height, 0)
        assert response.result.transaction_id in first_ids
        genesis_message = load_genesis(load_node_config(home).genesis_file)
        verified_proof = verify_proof_document(
            transaction_proof_document(response, "intl"), genesis=genesis_message
        )
        assert verified_proof.height == first_height
    assert created["height"] >= 1 and created["chunks"] >= 1
    assert 1 <= backed_up["height"] <= latest
    node.stop()

    # The backup is a data folder: a home that points at it passes the full check.
    backup_home = new_home(home, tmp_path / "backup-home")
    config_text = (backup_home / "config.toml").read_text(encoding="utf-8")
    (backup_home / "config.toml").write_text(
        config_text.replace('data_dir = "data"', f'data_dir = "{backup_folder}"'), encoding="utf-8"
    )
    assert f'data_dir = "{backup_folder}"' in (backup_home / "config.toml").read_text()
    verified = json.loads(causeway("node", "verify", "--home", str(backup_home), "--json").stdout)
    assert verified["ok"] and verified["latest_height"] == backed_up["height"], verified

    # Bad snapshots: refused, and the new home's data folder stays empty.
    restored_home = new_home(home, tmp_path / "restored-home")
    data = snapshot_file.read_bytes()
    truncated = tmp_path / "truncated.snapshot"
    truncated.write_bytes(data[: len(data) - 7])
    tampered = tmp_path / "tampered.snapshot"
    tampered.write_bytes(data[:-1] + bytes([data[-1] ^ 0x01]))
    for bad, error, reason in (
        (truncated, DecodeError, "cut short"),
        (tampered, ProofError, "not the one its manifest lists"),
    ):
        with pytest.raises(error, match=reason):
            restore_snapshot_file(restored_home, bad)
        assert not store_folder(restored_home / "data").exists()
    with pytest.raises(ProofError, match="not the trusted"):
        restore_snapshot_file(restored_home, snapshot_file, trusted_block_hash=b"\xab" * 32)
    assert not store_folder(restored_home / "data").exists()

    restored = json.loads(
        causeway(
            "node",
            "snapshot",
            "restore",
            "--home",
            str(restored_home),
            "--from",
            str(snapshot_file),
            "--trusted-hash",
            created["block_hash"],
            "--json",
        ).stdout
    )
    assert restored["height"] == created["height"]
    again = causeway(
        "node",
        "snapshot",
        "restore",
        "--home",
        str(restored_home),
        "--from",
        str(snapshot_file),
        check=False,
    )
    assert again.returncode != 0 and "already holds a chain" in again.stderr
    config = load_node_config(restored_home)
    genesis = load_genesis(config.genesis_file)
    verification = verify_node_store(config, genesis, get_profile(genesis.crypto_profile))
    assert verification.ok and verification.blocks_checked == 1, verification.problems

    # The restored home is the same solo validator: it starts at the snapshot's height and
    # continues the chain.
    shutil.rmtree(home / "data")
    shutil.copytree(restored_home / "data", home / "data")
    node.start()
    with node.connect(SENDER) as client:
        assert client.status().height >= created["height"]
        result = client.invoke(
            "kv",
            "put",
            contracts_pb2.KvPutArguments(key=b"after", value=b"restore"),
            timeout_s=30.0,
        )
        assert result.committed and result.succeeded and result.height > created["height"]
        # A transaction committed before the snapshot is still known: its replay is refused,
        # and asking for it answers clearly that its block is not held here.
        with pytest.raises(DuplicateError):
            client.submit(replayed)
        with pytest.raises(HeightUnavailableError, match="not held here"):
            client.get_transaction(first_ids[0])
        with pytest.raises(HeightUnavailableError, match="not held here"):
            client.get_block(created["height"])
        before = client.get_state(KV_PREFIX + b"before/0", created["height"])
        assert before.found and before.value == b"v"


def test_a_validator_restored_from_a_fetched_snapshot_catches_up_faster_than_a_replay(
    tmp_path: Path,
) -> None:
    with Devnet(tmp_path, validators=4, consensus="tbft") as devnet:
        names = devnet.names
        late, source = names[-1], names[0]
        client = devnet.client(source, SENDER, timeout_s=60.0)
        for batch in range(BATCHES):
            put_batch(client, f"load/{batch}", BATCH_TRANSACTIONS)
        devnet.send_signal(late, signal.SIGTERM)
        devnet.wait_for_exit(late)
        late_home = devnet.node(late).home
        late_data = load_node_config(late_home).data_dir
        source_home = devnet.node(source).home

        # 1. A replay from genesis: the node starts with no data and syncs every block.
        target = client.status().height
        shutil.rmtree(late_data)
        started = time.monotonic()
        devnet.restart(late)
        devnet.wait_for_heights(target, [late], timeout_s=CATCH_UP_TIMEOUT_S)
        replay_wall_s = time.monotonic() - started
        replay_s = seconds_from_start_to(devnet.node(late).log_path, target)
        devnet.send_signal(late, signal.SIGTERM)
        devnet.wait_for_exit(late)

        # 2. From a snapshot that the source serves (made while it runs), then block sync.
        # In this process (the CLI's own run is the solo test's): a command's start costs
        # seconds here.
        created, _ = create_node_snapshot(source_home)
        for batch in range(BATCHES_AFTER_SNAPSHOT):
            put_batch(client, f"after/{batch}", BATCH_TRANSACTIONS)
        target_after = client.status().height
        shutil.rmtree(late_data)
        source_http = load_node_config(source_home).http_address
        started = time.monotonic()
        restored = fetch_snapshot(source_http, late_home)
        restore_s = time.monotonic() - started
        devnet.restart(late)
        devnet.wait_for_heights(target_after, [late], timeout_s=CATCH_UP_TIMEOUT_S)
        snapshot_wall_s = time.monotonic() - started
        catch_up_s = seconds_from_start_to(devnet.node(late).log_path, target_after)
        assert restored.height == created.manifest.height
        print(
            f"\nreplay from genesis: {target} blocks ({BATCHES * BATCH_TRANSACTIONS} "
            f"transactions) in {replay_s:.2f} s from the node's start ({replay_wall_s:.2f} s with "
            f"the process start)\nfrom a snapshot of height {restored.height}: fetched, verified "
            f"and restored in {restore_s:.2f} s, then {target_after - restored.height} blocks by "
            f"block sync in {catch_up_s:.2f} s from the node's start: {restore_s + catch_up_s:.2f} "
            f"s ({snapshot_wall_s:.2f} s with the process start)",
            file=sys.stderr,
        )
        restarted_log = devnet.node(late).log_path.read_text(encoding="utf-8", errors="replace")
        assert "caught up by block sync" in restarted_log.rpartition("node started")[2]
        # The restored validator holds the same chain from its base on, and proves state
        # written before the snapshot against its own headers.
        late_client = devnet.client(late, timeout_s=60.0)
        assert late_client.get_block(target_after).block.header == (
            client.get_block(target_after).block.header
        )
        written = late_client.get_state(KV_PREFIX + b"load/0/0", target_after)
        assert written.found and written.value == b"v"
        with pytest.raises(HeightUnavailableError):
            late_client.get_block(1)
