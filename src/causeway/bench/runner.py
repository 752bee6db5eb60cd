"""The benchmark run against a node: fund, pre-sign, send at a rate, follow commits, report.

In the spirit of Hyperledger Caliper: every transaction is signed before the clock starts, batches
go out through SubmitBatch without waiting for commit, and a transaction counts as committed when
the block holding it arrives on the block stream. Latency is that arrival time minus the time its
batch was sent, both on this process's monotonic clock.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from causeway.api.v1 import api_pb2
from causeway.bench.ceiling import (
    VERIFY_SAMPLE_MAX,
    VERIFY_SAMPLE_MIN,
    measure_verify_rate,
    verification_items,
)
from causeway.bench.resources import ResourceMonitor
from causeway.bench.signing import SignedTransaction, Signer, SigningContext, sign_calls
from causeway.bench.statistics import (
    BenchReport,
    CommitTracker,
    automatic_batch_size,
    batch_send_offset_s,
    build_report,
)
from causeway.bench.workloads import Call, WorkloadOptions, create_workload
from causeway.errors import CausewayError, ConfigurationError, RequestError
from causeway.identity import evaluate_policy
from causeway.sdk import Client, Identity, SubmitResult, build_transaction
from causeway.types.v1 import types_pb2

TRANSACTIONS_MAX = 10_000_000
CONCURRENCY_MAX = 256
BATCH_SIZE_MAX = 10_000
SETUP_TIMEOUT_S = 60.0
FOLLOWER_START_TIMEOUT_S = 10.0


class BenchClient(Protocol):
    """What the runner needs of a client: causeway.sdk.Client, or a fake in tests."""

    def status(self) -> api_pb2.GetStatusResponse: ...

    def submit(
        self, transaction: types_pb2.Transaction, *, wait: bool = ..., timeout_s: float = ...
    ) -> SubmitResult: ...

    def submit_batch(
        self, transactions: Sequence[types_pb2.Transaction], *, wait: bool = ...
    ) -> list[SubmitResult]: ...

    def follow_blocks(
        self, from_height: int = ..., *, verify: bool = ...
    ) -> Iterator[api_pb2.BlockEvent]: ...

    def close(self) -> None: ...


class BenchProgress(Protocol):
    """Where the runner reports progress (the CLI draws rich progress bars)."""

    def start(self, task: str, total: int) -> None: ...

    def advance(self, task: str, count: int) -> None: ...


class _NoProgress:
    def start(self, task: str, total: int) -> None:
        pass

    def advance(self, task: str, count: int) -> None:
        pass


@dataclass(frozen=True, slots=True)
class BenchSettings:
    workload: str
    transactions: int
    rate_tps: float = 0.0
    concurrency: int = 4
    batch_size: int = 0  # 0: automatic_batch_size(rate_tps)
    commit_timeout_s: float = 60.0
    expiry_s: float = 600.0
    seed: int | None = None
    signing_processes: int | None = None
    options: dict[str, int | str] = field(default_factory=dict)  # extra WorkloadOptions fields
    # Measure the verification ceiling (bench.ceiling) of runs of at least VERIFY_SAMPLE_MIN.
    measure_verify_rate: bool = True

    def check(self) -> None:
        if not 1 <= self.transactions <= TRANSACTIONS_MAX:
            raise ConfigurationError(
                f"transactions must be between 1 and {TRANSACTIONS_MAX}, not {self.transactions}"
            )
        if self.rate_tps < 0:
            raise ConfigurationError(f"rate must not be negative, not {self.rate_tps}")
        if not 1 <= self.concurrency <= CONCURRENCY_MAX:
            raise ConfigurationError(
                f"concurrency must be between 1 and {CONCURRENCY_MAX}, not {self.concurrency}"
            )
        if not 0 <= self.batch_size <= BATCH_SIZE_MAX:
            raise ConfigurationError(
                f"batch size must be between 0 (automatic) and {BATCH_SIZE_MAX}, "
                f"not {self.batch_size}"
            )
        if self.commit_timeout_s <= 0 or self.expiry_s <= 0:
            raise ConfigurationError("timeouts and expiry must be positive")


@dataclass(frozen=True, slots=True)
class BenchIdentities:
    """Member folders: the sender of the measured transactions, the ADMIN member that signs
    setup transactions (e.g. ledger issue; defaults to the sender) and its endorsers."""

    sender: Path
    issuer: Path | None = None
    endorsers: tuple[Path, ...] = ()


def choose_endorsing_organisations(
    policy: types_pb2.EndorsementPolicy, issuer_organisation: str, organisations: Sequence[str]
) -> list[str]:
    """The fewest other organisations (in chain order) whose admins must endorse a transaction
    signed by an admin of `issuer_organisation` for `policy` to hold; ConfigurationError when no
    choice satisfies it."""
    chosen: list[str] = []
    signing = {issuer_organisation}
    if evaluate_policy(policy, signing, organisations):
        return chosen
    counted = set(policy.organisations) or set(organisations)
    for organisation in organisations:
        if organisation in signing or organisation not in counted:
            continue
        chosen.append(organisation)
        signing.add(organisation)
        if evaluate_policy(policy, signing, organisations):
            return chosen
    raise ConfigurationError("no set of organisation admins satisfies the endorsement policy")


def _now() -> float:
    return time.monotonic()


def _status_name(status: int) -> str:
    try:
        return types_pb2.ResultStatus.Name(status).removeprefix("RESULT_STATUS_")  # type: ignore[arg-type]
    except ValueError:
        return str(status)


def _run_setup(
    client: BenchClient,
    calls: Sequence[Call],
    issuer: Identity,
    endorsers: Sequence[Identity],
    context: SigningContext,
) -> None:
    """Commits the setup calls one by one, signed by the issuer with the endorsements."""
    for call in calls:
        transaction = build_transaction(
            issuer,
            context.chain_id,
            call.contract,
            call.method,
            call.arguments,
            expiry_s=SETUP_TIMEOUT_S,
            endorsers=endorsers,
        )
        result = client.submit(transaction, wait=True, timeout_s=SETUP_TIMEOUT_S)
        if not result.committed or result.result is None:
            raise RequestError(f"setup {call.contract}.{call.method} did not commit in time")
        if result.result.status != types_pb2.RESULT_STATUS_OK:
            raise RequestError(
                f"setup {call.contract}.{call.method} by {issuer.member_id} failed: "
                f"{_status_name(result.result.status)}: {result.result.error}"
            )


def _workload_options(settings: BenchSettings) -> WorkloadOptions:
    run_id = f"{int(time.time())}-{random.SystemRandom().randrange(1 << 32):08x}"
    try:
        return WorkloadOptions(
            transactions=settings.transactions,
            run_id=run_id,
            **settings.options,  # type: ignore[arg-type]
        )
    except TypeError as error:
        raise ConfigurationError(f"bad workload option: {error}") from None


class _Follower:
    """Reads the block stream on its own thread and reports every result to the tracker."""

    def __init__(
        self,
        client: BenchClient,
        from_height: int,
        tracker: CommitTracker,
        progress: BenchProgress,
    ) -> None:
        self._client = client
        self._from_height = from_height
        self._tracker = tracker
        self._progress = progress
        self._stopping = threading.Event()
        self.started = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="bench-follower", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            # Unverified: the harness measures its own node, and checking every block's roots
            # here would take CPU from the senders.
            stream = self._client.follow_blocks(self._from_height, verify=False)
            self.started.set()
            for event in stream:
                arrived = _now()
                committed = 0
                for result in event.results:
                    succeeded = result.status == types_pb2.RESULT_STATUS_OK
                    if self._tracker.committed(
                        result.transaction_id, succeeded, _status_name(result.status), arrived
                    ):
                        committed += 1
                if committed:
                    self._progress.advance("commit", committed)
                if self._stopping.is_set():
                    return
        except Exception as error:
            if not self._stopping.is_set():
                self.error = error
        finally:
            self.started.set()

    def stop(self) -> None:
        self._stopping.set()

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)


def _send_all(
    *,
    client: BenchClient,
    batches: Sequence[Sequence[SignedTransaction]],
    messages: Sequence[Sequence[types_pb2.Transaction]],
    tracker: CommitTracker,
    settings: BenchSettings,
    batch_size: int,
    progress: BenchProgress,
) -> float:
    """Sends every batch from `concurrency` threads at the target rate; returns when the last
    submission returned (the monotonic time)."""
    counter = itertools.count()
    counter_lock = threading.Lock()
    start = _now()
    errors: list[BaseException] = []

    def sender() -> None:
        while True:
            with counter_lock:
                index = next(counter)
            if index >= len(batches):
                return
            due = start + batch_send_offset_s(index, batch_size, settings.rate_tps)
            delay = due - _now()
            if delay > 0:
                time.sleep(delay)
            batch = batches[index]
            ids = [signed.id for signed in batch]
            tracker.sent(ids, _now())
            try:
                results = client.submit_batch(messages[index], wait=False)
            except CausewayError as error:
                for identifier in ids:
                    tracker.rejected(identifier, f"submit failed: {error.reason}")
            except Exception as error:  # gRPC failures: the batch is lost, the run goes on
                for identifier in ids:
                    tracker.rejected(identifier, f"submit failed: {type(error).__name__}")
                if len(errors) < 1:
                    errors.append(error)
            else:
                for identifier, result in zip(ids, results, strict=False):
                    if result.error is not None:
                        tracker.rejected(identifier, result.error.reason)
            progress.advance("send", len(batch))

    threads = [
        threading.Thread(target=sender, name=f"bench-sender-{number}", daemon=True)
        for number in range(min(settings.concurrency, len(batches)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return _now()


def run_benchmark(
    address: str,
    identities: BenchIdentities,
    settings: BenchSettings,
    *,
    progress: BenchProgress | None = None,
    client_factory: Callable[[str, Identity], BenchClient] | None = None,
    monitor: ResourceMonitor | None = None,
) -> BenchReport:
    """Runs one benchmark against the node at `address` and reports what it measured.

    With a `monitor` of the node processes, it samples them from the first send until the last
    commit was awaited, and the report carries their resource use (BenchReport.resources).
    """
    settings.check()
    sink: BenchProgress = progress if progress is not None else _NoProgress()
    make_client: Callable[[str, Identity], BenchClient] = client_factory or Client
    sender = Identity.load(identities.sender)
    issuer = Identity.load(identities.issuer) if identities.issuer is not None else sender
    endorsers = [Identity.load(path) for path in identities.endorsers]
    workload = create_workload(settings.workload, _workload_options(settings))
    batch_size = settings.batch_size or automatic_batch_size(settings.rate_tps)

    client = make_client(address, sender)
    follower_client = make_client(address, sender)
    try:
        status = client.status()
        chain_id = status.chain_id
        crypto_profile = status.crypto_profile
        if sender.chain_id and sender.chain_id != chain_id:
            raise ConfigurationError(
                f"{sender.member_id} belongs to chain {sender.chain_id!r}, the node to {chain_id!r}"
            )
        context = SigningContext(
            chain_id=chain_id,
            crypto_profile=crypto_profile,
            timestamp_ms=time.time_ns() // 1_000_000,
            expiry_s=settings.expiry_s,
        )
        setup_calls = workload.setup_calls(sender.member_id)
        if setup_calls:
            _run_setup(client, setup_calls, issuer, endorsers, context)

        rng = random.Random(settings.seed)
        calls = workload.calls(settings.transactions, sender.member_id, rng)
        sink.start("sign", len(calls))
        signed = sign_calls(
            calls,
            Signer.from_identity(sender),
            context,
            processes=settings.signing_processes,
            progress=lambda count: sink.advance("sign", count),
        )
        verify_rate = None
        if settings.measure_verify_rate and len(signed) >= VERIFY_SAMPLE_MIN:
            # The ceiling of this run, on this machine, before the clock starts (bench.ceiling).
            sample = verification_items(
                [item.encoded for item in signed[:VERIFY_SAMPLE_MAX]],
                sender.key.public_key(),
                chain_id,
            )
            verify_rate = measure_verify_rate(sample)
        batches = [
            signed[start : start + batch_size] for start in range(0, len(signed), batch_size)
        ]
        messages = [
            [types_pb2.Transaction.FromString(item.encoded) for item in batch] for batch in batches
        ]
        tracker = CommitTracker(item.id for item in signed)

        start_height = client.status().height + 1
        follower = _Follower(follower_client, start_height, tracker, sink)
        follower.start()
        follower.started.wait(FOLLOWER_START_TIMEOUT_S)
        if follower.error is not None:
            raise follower.error

        sink.start("send", len(signed))
        sink.start("commit", len(signed))
        if monitor is not None:
            monitor.start()
        send_finished = _send_all(
            client=client,
            batches=batches,
            messages=messages,
            tracker=tracker,
            settings=settings,
            batch_size=batch_size,
            progress=sink,
        )
        deadline = _now() + settings.commit_timeout_s
        while tracker.open and _now() < deadline and follower.error is None:
            tracker.wait_settled(min(0.5, max(0.0, deadline - _now())))
        follower.stop()
        usage = monitor.stop() if monitor is not None else None
        if follower.error is not None and tracker.open:
            raise RequestError(f"the block stream broke off: {follower.error}")
        report = build_report(
            tracker.records(),
            workload=settings.workload,
            target_rate_tps=settings.rate_tps,
            concurrency=settings.concurrency,
            batch_size=batch_size,
            send_finished_s=send_finished,
        )
        if verify_rate is not None:
            report = report.with_verify_rate(verify_rate)
        return report.with_resources(usage) if usage is not None else report
    finally:
        if monitor is not None:
            monitor.stop()  # a second stop only samples once more: the run may have failed
        follower_client.close()
        client.close()
