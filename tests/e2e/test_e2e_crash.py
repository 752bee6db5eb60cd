"""Crash safety under load: a node SIGKILLed mid-load loses nothing it acknowledged.

Each round starts the node, lets a thread submit signed batches (kv puts and ledger transfers)
that wait for their commit, and SIGKILLs the node after a random 0.3 to 1.5 s. After the restart
every acknowledged transaction must be there, OK, at the height it was acknowledged with, and the
chain must not have gone back. At the end the store is opened directly and checked from scratch:
the state root recomputed from all entries, and every block complete and chained.

The seed is printed; CAUSEWAY_E2E_SEED=<seed> replays the same choices (timings still vary).
"""

from __future__ import annotations

import dataclasses
import os
import random
import threading
import time

import pytest
from node_harness import NodeFactory, NodeProcess, assert_idle_blocks
from waiting import wait_until

from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import load_public_key
from causeway.errors import CausewayError
from causeway.execution.keys import LEDGER_BALANCE_PREFIX, LEDGER_SUPPLY_KEY
from causeway.sdk import Client, Identity, SubmitResult, verify_block
from causeway.state import StateTree, compute_root
from causeway.storage import Store
from causeway.types import DOMAIN_COMMIT, block_hash, encode, sign_bytes
from causeway.types.v1 import types_pb2

pytestmark = pytest.mark.e2e

ROUNDS = 5
KILL_AFTER_S_MIN = 0.3
KILL_AFTER_S_MAX = 1.5
FIRST_ACKNOWLEDGEMENT_TIMEOUT_S = 20.0
BATCH_SIZE_MAX = 24
SENDER = "org1/client"
RECIPIENT = "org2/client"
SUPPLY = 10**9
SEED_ENVIRONMENT_VARIABLE = "CAUSEWAY_E2E_SEED"
STATE_PAGE = 10_000


@dataclasses.dataclass(frozen=True)
class Acknowledged:
    transaction_id: bytes
    height: int
    round: int


class LoadGenerator(threading.Thread):
    """Submits batches that wait for their commit until stopped or the node goes away."""

    def __init__(self, address: str, identity: Identity, seed: int, round_number: int) -> None:
        super().__init__(name=f"load-round-{round_number}", daemon=True)
        self.address = address
        self.identity = identity
        self.random = random.Random(seed)
        self.round_number = round_number
        self.acknowledged: list[Acknowledged] = []
        self.first_acknowledged = threading.Event()
        self.stopping = threading.Event()
        self.refusals: list[str] = []
        self.ended_by: CausewayError | None = None
        self.failure: BaseException | None = None
        self.submitted = 0

    def _batch(self, client: Client) -> list[types_pb2.Transaction]:
        batch: list[types_pb2.Transaction] = []
        for _ in range(self.random.randint(1, BATCH_SIZE_MAX)):
            self.submitted += 1
            if self.random.random() < 0.5:
                key = f"crash/{self.round_number}/{self.submitted}".encode()
                value = self.random.randbytes(self.random.randint(1, 64))
                batch.append(
                    client.transaction(
                        "kv", "put", contracts_pb2.KvPutArguments(key=key, value=value)
                    )
                )
            else:
                amount = self.random.randint(1, 5)
                batch.append(
                    client.transaction(
                        "ledger",
                        "transfer",
                        contracts_pb2.LedgerTransferArguments(to=RECIPIENT, amount=amount),
                    )
                )
        return batch

    def run(self) -> None:
        try:
            with Client(self.address, self.identity, timeout_s=15.0) as client:
                while not self.stopping.is_set():
                    batch = self._batch(client)
                    try:
                        results = client.submit_batch(batch, wait=True, timeout_s=15.0)
                    except CausewayError as error:
                        # The node was killed under us: what it answered before is what counts.
                        self.ended_by = error
                        return
                    for result in results:
                        if result.error is not None:
                            self.refusals.append(f"{result.error.reason}: {result.error.message}")
                        elif result.committed:
                            self.acknowledged.append(
                                Acknowledged(
                                    result.transaction_id, result.height, self.round_number
                                )
                            )
                            self.first_acknowledged.set()
        except BaseException as error:
            self.failure = error


def _seed() -> int:
    configured = os.environ.get(SEED_ENVIRONMENT_VARIABLE, "")
    return int(configured) if configured else random.SystemRandom().randrange(1 << 32)


def _fund(node: NodeProcess) -> SubmitResult:
    with node.connect("org1/admin") as admin:
        funded = admin.invoke(
            "ledger", "issue", contracts_pb2.LedgerIssueArguments(account=SENDER, amount=SUPPLY)
        )
    assert funded.succeeded, funded
    return funded


def _check_acknowledged_after_restart(
    node: NodeProcess, acknowledged: list[Acknowledged], context: str
) -> None:
    with node.connect() as reader:
        for item in acknowledged:
            response = reader.get_transaction(item.transaction_id)  # proofs verified
            assert response.height == item.height, (
                f"{context}: transaction {item.transaction_id.hex()} was acknowledged at height "
                f"{item.height}, found at {response.height}"
            )
            assert response.result.status == types_pb2.RESULT_STATUS_OK, (
                f"{context}: {item.transaction_id.hex()}: {response.result.error}"
            )


def test_acknowledged_transactions_survive_sigkill_under_load(make_node: NodeFactory) -> None:
    seed = _seed()
    print(f"crash test seed: {seed} (set {SEED_ENVIRONMENT_VARIABLE}={seed} to replay)")
    rng = random.Random(seed)
    node = make_node("intl")
    sender = node.network.identity(SENDER)
    funded = _fund(node)

    acknowledged: list[Acknowledged] = []
    latest_seen = funded.height
    started = time.monotonic()
    for round_number in range(1, ROUNDS + 1):
        context = f"seed {seed}, round {round_number}"
        kill_after_s = rng.uniform(KILL_AFTER_S_MIN, KILL_AFTER_S_MAX)
        load = LoadGenerator(node.grpc_address, sender, rng.randrange(1 << 32), round_number)
        load_started = time.monotonic()
        load.start()
        try:
            # Kill mid-load, and never before the first acknowledgement: a round without one
            # would test nothing.
            assert load.first_acknowledged.wait(FIRST_ACKNOWLEDGEMENT_TIMEOUT_S), (
                f"{context}: nothing was acknowledged; load ended by {load.ended_by!r}, "
                f"failure {load.failure!r}"
            )
            time.sleep(max(0.0, kill_after_s - (time.monotonic() - load_started)))
            assert load.is_alive(), (
                f"{context}: the load ended before the kill: {load.ended_by!r} {load.failure!r}"
            )
            node.kill()
        finally:
            load.stopping.set()
            load.join(30.0)
        assert not load.is_alive(), f"{context}: the load thread did not end"
        if load.failure is not None:
            raise load.failure
        assert not load.refusals, f"{context}: the node refused transactions: {load.refusals[:3]}"
        round_highest = max(item.height for item in load.acknowledged)
        acknowledged.extend(load.acknowledged)
        print(
            f"round {round_number}: killed after {time.monotonic() - load_started:.2f} s, "
            f"{len(load.acknowledged)} acknowledged up to height {round_highest}"
        )

        node.start()
        with node.connect() as reader:
            height = reader.status().height
        assert height >= round_highest, f"{context}: height {height} < acknowledged {round_highest}"
        assert height >= latest_seen, f"{context}: height went back from {latest_seen} to {height}"
        latest_seen = height
        _check_acknowledged_after_restart(node, load.acknowledged, context)
    print(
        f"{ROUNDS} rounds in {time.monotonic() - started:.1f} s: {len(acknowledged)} "
        f"acknowledged transactions, height {latest_seen}"
    )

    # The node still takes transactions after the last crash, on top of the same chain.
    with node.connect(SENDER) as client:
        after = client.invoke("kv", "put", contracts_pb2.KvPutArguments(key=b"after", value=b"1"))
        assert after.succeeded, after
        # Right on top, or on idle heartbeat blocks the node made while the acknowledged
        # transactions were checked (one every 5 s with nothing to order).
        assert after.height > latest_seen
        assert_idle_blocks(client, latest_seen, after.height - 1)
    assert node.stop() == 0, node.log_tail()

    _check_store_from_scratch(node, acknowledged, seed)


def _check_store_from_scratch(
    node: NodeProcess, acknowledged: list[Acknowledged], seed: int
) -> None:
    network = node.network
    hash_function = network.hash
    validator = network.description.genesis.validators.validators[0]
    validator_key = load_public_key(validator.algorithm, validator.public_key)
    with Store(node.data_path) as store:
        assert store.verify_integrity() > 0
        latest = store.latest_height()
        assert latest >= 1

        entries: dict[bytes, bytes] = {}
        start_after = b""
        while True:
            page = store.range_state(b"", start_after, STATE_PAGE)
            entries.update(page)
            if len(page) < STATE_PAGE:
                break
            start_after = page[-1][0]
        latest_header = store.get_header(latest)
        assert compute_root(entries, hash_function) == latest_header.state_root, f"seed {seed}"
        assert StateTree(hash_function, store).root_hash(latest) == latest_header.state_root
        # The ledger's books balance: the supply is the sum of all balances.
        balances = sum(
            int.from_bytes(value, "big")
            for key, value in entries.items()
            if key.startswith(LEDGER_BALANCE_PREFIX)
        )
        assert int.from_bytes(entries[LEDGER_SUPPLY_KEY], "big") == balances == SUPPLY

        previous_hash = bytes(32)
        for height in range(1, latest + 1):
            block = store.get_block(height)
            header = block.header
            certificate = store.get_certificate(height)
            results = store.get_results(height)
            assert header.height == height
            assert header.previous_hash == previous_hash, f"height {height}: broken chain"
            assert len(block.transactions) == header.transaction_count == len(results) > 0
            hash_of_block = block_hash(header, hash_function)
            assert store.get_header(height) == header
            assert store.get_block_hash(height) == hash_of_block
            assert (certificate.height, certificate.block_hash) == (height, hash_of_block)
            verify_block(block, certificate, results, hash_function)
            vote = types_pb2.CommitVote(
                height=height, round=certificate.round, block_hash=hash_of_block
            )
            document = sign_bytes(DOMAIN_COMMIT, network.chain_id, encode(vote))
            assert [s.validator for s in certificate.signatures] == [validator.member_id]
            assert validator_key.verify(document, certificate.signatures[0].signature)
            for index, result in enumerate(results):
                assert store.find_transaction(result.transaction_id) == (height, index)
            previous_hash = hash_of_block

        for item in acknowledged:
            location = store.find_transaction(item.transaction_id)
            assert location is not None, f"seed {seed}: lost {item.transaction_id.hex()}"
            assert location[0] == item.height
            assert store.get_results(item.height)[location[1]].status == (
                types_pb2.RESULT_STATUS_OK
            )


# What a clean stop must not log: a shutdown is not an error.
SHUTDOWN_NOISE = ("Traceback", "never retrieved", "ERROR")


def test_sigterm_under_load_stops_cleanly(make_node: NodeFactory) -> None:
    """SIGTERM while clients wait for commits: exit code 0, nothing acknowledged lost."""
    node = make_node("intl")
    _fund(node)
    load = LoadGenerator(node.grpc_address, node.network.identity(SENDER), seed=1, round_number=1)
    load.start()
    try:
        assert load.first_acknowledged.wait(FIRST_ACKNOWLEDGEMENT_TIMEOUT_S), repr(load.ended_by)
        # Under load: a few more batches acknowledged (and the load still going) before SIGTERM.
        first = len(load.acknowledged)
        wait_until(
            lambda: len(load.acknowledged) > first + 2 or not load.is_alive(),
            FIRST_ACKNOWLEDGEMENT_TIMEOUT_S,
            "more commits acknowledged under load",
        )
        assert load.is_alive(), f"the load ended early: {load.ended_by!r} {load.failure!r}"
        code = node.stop()
    finally:
        load.stopping.set()
        load.join(30.0)
    assert code == 0, node.log_tail()
    stop_log = node.log_of_last_start()
    assert "node stopped" in stop_log
    if load.failure is not None:
        raise load.failure
    assert not load.refusals, load.refusals[:3]
    highest = max(item.height for item in load.acknowledged)

    node.start()
    with node.connect() as reader:
        assert reader.status().height >= highest
    _check_acknowledged_after_restart(node, load.acknowledged, "after SIGTERM")
    assert node.stop() == 0, node.log_tail()

    noise = [line for line in stop_log.splitlines() if any(n in line for n in SHUTDOWN_NOISE)]
    assert not noise, f"the node logged errors while stopping cleanly: {noise[:3]}"
