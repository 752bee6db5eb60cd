"""The benchmark runner against a fake node: funding, pacing, commit tracking, the report."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from causeway.api.v1 import api_pb2
from causeway.bench import (
    VERIFY_SAMPLE_MIN,
    BenchIdentities,
    BenchReport,
    BenchSettings,
    measure_verify_rate,
    run_benchmark,
    verification_items,
)
from causeway.bench.ceiling import WARM_UP_SIGNATURES
from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import get_profile, load_public_key
from causeway.errors import ConfigurationError, DuplicateError, InvariantError, RequestError
from causeway.provisioning import NetworkDescription, init_network, member_directory
from causeway.sdk import Identity, SubmitResult, build_transaction
from causeway.types import DOMAIN_TRANSACTION, decode_transaction, encode, sign_bytes
from causeway.types.v1 import types_pb2


class FakeChain:
    """A node in memory: every submission is checked, 'executed' and put in a block of its own."""

    def __init__(self, network: NetworkDescription, *, reject_every: int = 0) -> None:
        self.genesis = network.genesis
        self.profile = get_profile(network.crypto_profile)
        self.members = {member.id: member for member in network.genesis.members}
        self.reject_every = reject_every
        self.events: list[api_pb2.BlockEvent] = []
        self.condition = threading.Condition()
        self.balances: dict[str, int] = {}
        self.submitted = 0
        self.closed = False

    def _check(self, transaction: types_pb2.Transaction) -> bytes:
        decoded = decode_transaction(
            transaction, hash_function=self.profile.hash, bytes_max=1 << 16
        )
        member = self.members[decoded.body.sender]
        key = load_public_key(member.algorithm, member.public_key)
        assert decoded.body.chain_id == self.genesis.chain_id
        assert key.verify(
            sign_bytes(DOMAIN_TRANSACTION, self.genesis.chain_id, transaction.body),
            transaction.signature,
        )
        return decoded.id

    def _execute(self, transaction: types_pb2.Transaction) -> types_pb2.TransactionResult:
        body = types_pb2.TransactionBody.FromString(transaction.body)
        status = types_pb2.RESULT_STATUS_OK
        if (body.contract, body.method) == ("ledger", "issue"):
            issue = contracts_pb2.LedgerIssueArguments.FromString(body.arguments)
            self.balances[issue.account] = self.balances.get(issue.account, 0) + issue.amount
        elif (body.contract, body.method) == ("ledger", "transfer"):
            transfer = contracts_pb2.LedgerTransferArguments.FromString(body.arguments)
            if self.balances.get(body.sender, 0) < transfer.amount:
                status = types_pb2.RESULT_STATUS_INSUFFICIENT_FUNDS
            else:
                self.balances[body.sender] -= transfer.amount
        return types_pb2.TransactionResult(
            transaction_id=self.profile.hash(transaction.body), status=status
        )

    def commit(self, transactions: Sequence[types_pb2.Transaction]) -> int:
        with self.condition:
            height = len(self.events) + 1
            self.events.append(
                api_pb2.BlockEvent(
                    block=types_pb2.Block(
                        header=types_pb2.BlockHeader(height=height), transactions=transactions
                    ),
                    results=[self._execute(transaction) for transaction in transactions],
                )
            )
            self.condition.notify_all()
            return height


class FakeClient:
    def __init__(self, chain: FakeChain, address: str, identity: Identity | None) -> None:
        self.chain = chain
        self.address = address
        self.identity = identity
        self._closed = False

    def status(self) -> api_pb2.GetStatusResponse:
        return api_pb2.GetStatusResponse(
            chain_id=self.chain.genesis.chain_id,
            crypto_profile=self.chain.genesis.crypto_profile,
            height=len(self.chain.events),
        )

    def submit(
        self, transaction: types_pb2.Transaction, *, wait: bool = True, timeout_s: float = 30
    ) -> SubmitResult:
        identifier = self.chain._check(transaction)
        height = self.chain.commit([transaction])
        result = self.chain.events[height - 1].results[0]
        return SubmitResult(identifier, height, result, committed=True)

    def submit_batch(
        self, transactions: Sequence[types_pb2.Transaction], *, wait: bool = True
    ) -> list[SubmitResult]:
        assert not wait
        accepted = []
        results = []
        for transaction in transactions:
            identifier = self.chain._check(transaction)
            with self.chain.condition:
                self.chain.submitted += 1
                number = self.chain.submitted
            if self.chain.reject_every and number % self.chain.reject_every == 0:
                error = DuplicateError("seen before")
                results.append(SubmitResult(identifier, 0, None, False, error))
            else:
                accepted.append(transaction)
                results.append(SubmitResult(identifier, 0, None, False))
        if accepted:
            self.chain.commit(accepted)
        return results

    def follow_blocks(
        self, from_height: int = 1, *, verify: bool = True
    ) -> Iterator[api_pb2.BlockEvent]:
        height = from_height
        while True:
            with self.chain.condition:
                while len(self.chain.events) < height and not self._closed:
                    self.chain.condition.wait(0.05)
                if self._closed:
                    return
                event = self.chain.events[height - 1]
            height += 1
            yield event

    def close(self) -> None:
        with self.chain.condition:
            self._closed = True
            self.chain.condition.notify_all()


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, NetworkDescription]:
    directory = tmp_path_factory.mktemp("bench") / "net"
    return directory, init_network(directory, 2, "intl", "solo", chain_id="bench-chain")


class RecordingProgress:
    def __init__(self) -> None:
        self.totals: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.lock = threading.Lock()

    def start(self, task: str, total: int) -> None:
        self.totals[task] = total

    def advance(self, task: str, count: int) -> None:
        with self.lock:
            self.done[task] = self.done.get(task, 0) + count


def _run(
    network: tuple[Path, NetworkDescription],
    settings: BenchSettings,
    chain: FakeChain,
    progress: RecordingProgress | None = None,
) -> BenchReport:
    directory, _ = network
    identities = BenchIdentities(
        sender=member_directory(directory, "org1/client"),
        issuer=member_directory(directory, "org1/admin"),
    )
    return run_benchmark(
        "fake:1",
        identities,
        settings,
        progress=progress,
        client_factory=lambda address, identity: FakeClient(chain, address, identity),
    )


def test_ledger_transfer_run(network: tuple[Path, NetworkDescription]) -> None:
    chain = FakeChain(network[1])
    progress = RecordingProgress()
    settings = BenchSettings(
        workload="ledger-transfer", transactions=300, concurrency=3, batch_size=25, seed=5
    )
    report = _run(network, settings, chain, progress)
    assert report.sent == 300
    assert report.succeeded == 300
    assert report.failed == 0
    assert report.latency is not None
    assert report.latency.count == 300
    assert report.throughput_tps > 0
    assert chain.balances["org1/client"] == 0  # funded with exactly what the transfers need
    issuers = {
        types_pb2.TransactionBody.FromString(event.block.transactions[0].body).sender
        for event in chain.events[:1]
    }
    assert issuers == {"org1/admin"}
    assert progress.totals == {"sign": 300, "send": 300, "commit": 300}
    assert progress.done == {"sign": 300, "send": 300, "commit": 300}


def test_rejections_and_pacing(network: tuple[Path, NetworkDescription]) -> None:
    chain = FakeChain(network[1], reject_every=10)
    settings = BenchSettings(
        workload="kv-put", transactions=200, rate_tps=1000, concurrency=2, batch_size=10
    )
    report = _run(network, settings, chain)
    assert report.sent == 200
    assert report.rejected == 20
    assert report.succeeded == 180
    assert report.failure_reasons == {"duplicate": 20}
    # Twenty batches at 1000 tx/s: the last is due 190 ms after the run's start, and the report
    # counts from the first send. That send may itself come late on a loaded machine (CI once
    # measured 72 ms where ten batches were due over 90 ms), so the bound leaves it 40 ms;
    # unpaced, the twenty batches go to the fake chain in a few milliseconds.
    assert report.send_duration_s >= 0.15


def test_failed_setup_stops_the_run(network: tuple[Path, NetworkDescription]) -> None:
    failing = FakeChain(network[1])
    failing._execute = lambda transaction: types_pb2.TransactionResult(  # type: ignore[method-assign]
        status=types_pb2.RESULT_STATUS_ENDORSEMENT_POLICY_NOT_SATISFIED, error="needs more"
    )
    settings = BenchSettings(workload="ledger-transfer", transactions=10)
    with pytest.raises(RequestError, match="ENDORSEMENT_POLICY_NOT_SATISFIED"):
        _run(network, settings, failing)


def test_bad_settings_are_refused(network: tuple[Path, NetworkDescription]) -> None:
    chain = FakeChain(network[1])
    for settings in (
        BenchSettings(workload="kv-put", transactions=0),
        BenchSettings(workload="kv-put", transactions=10, concurrency=0),
        BenchSettings(workload="kv-put", transactions=10, rate_tps=-1),
        BenchSettings(workload="nope", transactions=10),
        BenchSettings(workload="kv-put", transactions=10, options={"colour": 1}),
    ):
        with pytest.raises(ConfigurationError):
            _run(network, settings, chain)


def test_a_run_measures_its_verification_ceiling_above_the_sample_minimum(
    network: tuple[Path, NetworkDescription],
) -> None:
    settings = BenchSettings(
        workload="kv-put", transactions=VERIFY_SAMPLE_MIN, concurrency=2, batch_size=100, seed=3
    )
    report = _run(network, settings, FakeChain(network[1]))
    assert report.succeeded == VERIFY_SAMPLE_MIN
    assert report.verify_rate_per_s is not None and report.verify_rate_per_s > 0
    assert report.throughput_to_verify_rate == pytest.approx(
        report.throughput_tps / report.verify_rate_per_s
    )
    assert report.to_dict()["verify_rate_per_s"] == report.verify_rate_per_s
    # One fewer: no ceiling worth quoting, and none measured.
    smaller = BenchSettings(
        workload="kv-put", transactions=VERIFY_SAMPLE_MIN - 1, concurrency=2, batch_size=100
    )
    report = _run(network, smaller, FakeChain(network[1]))
    assert report.verify_rate_per_s is None
    assert report.throughput_to_verify_rate is None


def test_the_ceiling_refuses_a_sample_that_does_not_verify(
    network: tuple[Path, NetworkDescription],
) -> None:
    directory, description = network
    sender = Identity.load(member_directory(directory, "org1/client"))
    stranger = Identity.load(member_directory(directory, "org1/admin"))
    calls = 2 * WARM_UP_SIGNATURES
    encoded = [
        encode(
            build_transaction(
                sender,
                description.genesis.chain_id,
                "kv",
                "put",
                contracts_pb2.KvPutArguments(key=b"k%d" % index, value=b"v"),
            )
        )
        for index in range(calls)
    ]
    good = verification_items(encoded, sender.key.public_key(), description.genesis.chain_id)
    assert measure_verify_rate(good, processes=1) > 0
    with pytest.raises(InvariantError, match="does not verify with its sender's key"):
        measure_verify_rate(
            verification_items(encoded, stranger.key.public_key(), description.genesis.chain_id),
            processes=1,
        )
    with pytest.raises(InvariantError, match=f"more than {WARM_UP_SIGNATURES} signatures"):
        measure_verify_rate(good[:WARM_UP_SIGNATURES], processes=1)
