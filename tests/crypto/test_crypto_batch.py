from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from causeway.crypto import ALGORITHMS, BatchVerifier, PrivateKey, PublicKey
from causeway.crypto.batch import INLINE_ITEMS_MAX
from causeway.errors import InvariantError
from causeway.types import DOMAIN_TRANSACTION, sign_bytes

KEYS = [PrivateKey.generate(algorithm) for algorithm in sorted(ALGORITHMS) for _ in range(2)]

Item = tuple[PublicKey, bytes, bytes]


def _mixed_items(count: int, seed: int) -> tuple[list[Item], list[bool]]:
    """count items over every algorithm, about a third of them invalid in assorted ways."""
    generator = random.Random(seed)
    items: list[Item] = []
    expected: list[bool] = []
    for index in range(count):
        key = KEYS[index % len(KEYS)]
        data = generator.randbytes(generator.randrange(0, 100))
        signature = key.sign(data)
        kind = generator.randrange(6)
        if kind == 0:
            data += b"!"
        elif kind == 1:
            signature = generator.randbytes(len(signature))
        elif kind == 2:
            key = KEYS[(index + 1) % len(KEYS)]
        items.append((key.public_key(), data, signature))
        expected.append(kind > 2)
    return items, expected


@pytest.fixture
def verifier() -> Iterator[BatchVerifier]:
    with BatchVerifier() as batch_verifier:
        yield batch_verifier


@pytest.mark.parametrize("count", [0, 1, 5, INLINE_ITEMS_MAX - 1, INLINE_ITEMS_MAX, 301])
def test_results_in_order(verifier: BatchVerifier, count: int) -> None:
    items, expected = _mixed_items(count, seed=count)
    assert verifier.verify_many(items) == expected


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_any_thread_count(threads: int) -> None:
    items, expected = _mixed_items(200, seed=threads)
    with BatchVerifier(threads=threads) as verifier:
        assert verifier.threads == threads
        assert verifier.verify_many(items) == expected


def test_concurrent_callers(verifier: BatchVerifier) -> None:
    batches = [_mixed_items(120, seed=seed) for seed in range(4)]
    with ThreadPoolExecutor(4) as callers:
        results = list(callers.map(lambda batch: verifier.verify_many(batch[0]), batches))
    assert results == [expected for _, expected in batches]


def test_default_thread_count_is_positive() -> None:
    with BatchVerifier() as verifier:
        assert verifier.threads >= 1


def test_use_after_close_is_an_invariant_error() -> None:
    verifier = BatchVerifier(threads=2)
    verifier.close()
    with pytest.raises(InvariantError):
        verifier.verify_many([])


def test_zero_threads_is_refused() -> None:
    with pytest.raises(InvariantError):
        BatchVerifier(threads=0)


def test_worker_processes_give_the_same_results_in_order() -> None:
    with BatchVerifier(processes=2) as process_verifier:
        for count in (3, INLINE_ITEMS_MAX, 301):
            items, expected = _mixed_items(count, seed=count)
            assert process_verifier.verify_many(items) == expected


def _signed_items(count: int, seed: int) -> tuple[list[Item], list[bool]]:
    """_mixed_items with payloads: each signature over sign_bytes of its payload."""
    items, expected = _mixed_items(count, seed)
    generator = random.Random(seed)
    signed: list[Item] = []
    for (key, payload, _), valid in zip(items, expected, strict=True):
        signer = next(k for k in KEYS if k.public_key().raw == key.raw)
        signature = signer.sign(sign_bytes(DOMAIN_TRANSACTION, "chain", payload))
        if not valid:
            signature = generator.randbytes(len(signature))
        signed.append((key, payload, signature))
    return signed, expected


@pytest.mark.parametrize("processes", [0, 2])
@pytest.mark.parametrize("count", [5, INLINE_ITEMS_MAX, 301])
def test_signed_payloads_verify_as_their_sign_bytes_do(processes: int, count: int) -> None:
    """verify_signed builds sign_bytes(domain, chain, payload) where it verifies (in the
    worker processes, if any): the same answers as verify_many given those bytes, and a
    signature over another domain or chain does not verify."""
    items, expected = _signed_items(count, seed=count)
    as_bytes = [
        (key, sign_bytes(DOMAIN_TRANSACTION, "chain", payload), signature)
        for key, payload, signature in items
    ]
    with BatchVerifier(threads=2, processes=processes) as verifier:
        assert verifier.verify_signed(DOMAIN_TRANSACTION, "chain", items) == expected
        assert verifier.verify_many(as_bytes) == expected
        assert not any(verifier.verify_signed(DOMAIN_TRANSACTION, "other-chain", items))
        assert not any(verifier.verify_signed("endorsement", "chain", items))


def test_concurrent_callers_share_the_worker_processes() -> None:
    """Callers in several threads at once (admissions of client and peer batches) each get
    their own answers in order, whether they got both workers, one, or waited for one."""
    batches = [_mixed_items(count, seed=count) for count in (301, 65, 200, 130, 301, 97)]
    with BatchVerifier(processes=2) as verifier, ThreadPoolExecutor(len(batches)) as callers:
        for _ in range(5):
            results = list(callers.map(lambda batch: verifier.verify_many(batch[0]), batches))
            assert results == [expected for _, expected in batches]


@pytest.mark.parametrize(
    ("threads", "processes", "count"),
    [(2, 0, INLINE_ITEMS_MAX - 1), (2, 0, 301), (1, 2, INLINE_ITEMS_MAX - 1), (1, 2, 301)],
)
def test_the_callers_work_runs_once_while_the_signatures_are_verified(
    threads: int, processes: int, count: int
) -> None:
    items, expected = _mixed_items(count, seed=count)
    calls: list[bool] = []
    with BatchVerifier(threads, processes=processes) as verifier:
        pool = verifier._pool

        def meanwhile() -> None:
            # With worker processes and a batch worth sending, both hold a chunk by now.
            calls.append(pool is not None and pool._idle.qsize() == 0)

        assert verifier.verify_many(items, meanwhile=meanwhile) == expected
        assert verifier.verify_signed(DOMAIN_TRANSACTION, "c", [], meanwhile=meanwhile) == []
    overlapped = processes > 0 and count >= INLINE_ITEMS_MAX
    assert calls == [overlapped, False]


@pytest.mark.parametrize("processes", [0, 2])
def test_the_callers_error_is_raised_after_the_answers_are_read(processes: int) -> None:
    items, expected = _mixed_items(301, seed=11)

    def meanwhile() -> None:
        raise OSError("the store could not be read")

    with BatchVerifier(2, processes=processes) as verifier:
        with pytest.raises(OSError, match="the store could not be read"):
            verifier.verify_many(items, meanwhile=meanwhile)
        # Nothing of that batch's answers is left for the next caller.
        other, other_expected = _mixed_items(130, seed=12)
        assert verifier.verify_many(other) == other_expected
        assert verifier.verify_many(items) == expected


class _RaisingKey:
    """Stands in for a PublicKey whose verify raises (a bug in a key class, say)."""

    def verify(self, data: bytes, signature: bytes) -> bool:
        raise ValueError("no verification here")


def test_an_error_in_a_worker_is_raised_to_its_caller_and_the_workers_go_on() -> None:
    items, expected = _mixed_items(301, seed=7)
    broken_items = [*items[:-1], (_RaisingKey(), b"data", b"signature")]
    with BatchVerifier(processes=2) as verifier:
        with pytest.raises(InvariantError, match="ValueError: no verification here"):
            verifier.verify_many(broken_items)  # type: ignore[arg-type]
        assert verifier.verify_many(items) == expected


def test_a_killed_worker_is_replaced_and_its_chunk_still_verified(
    caplog: pytest.LogCaptureFixture,
) -> None:
    items, expected = _mixed_items(301, seed=3)
    with BatchVerifier(processes=2) as verifier:
        killed = verifier.process_ids[0]
        os.kill(killed, signal.SIGKILL)
        assert verifier.verify_many(items) == expected
        workers = verifier.process_ids
        assert killed not in workers and len(set(workers)) == 2
        assert all(_process_exists(pid) for pid in workers)
        assert verifier.verify_many(items) == expected
        assert verifier.verify_signed(DOMAIN_TRANSACTION, "chain", items) == [False] * len(items)
    assert "a signature verification worker stopped; another was started" in caplog.text
    assert [pid for pid in workers if _process_exists(pid)] == []


def test_close_ends_the_worker_processes() -> None:
    verifier = BatchVerifier(processes=2)
    workers = verifier.process_ids
    assert len(set(workers)) == 2 and os.getpid() not in workers
    assert all(_process_exists(pid) for pid in workers)
    verifier.close()
    assert [pid for pid in workers if _process_exists(pid)] == []
    with pytest.raises(InvariantError):
        verifier.verify_many([])


def test_negative_process_count_is_refused() -> None:
    with pytest.raises(InvariantError):
        BatchVerifier(processes=-1)


def test_worker_processes_end_when_their_parent_is_killed(tmp_path: Path) -> None:
    script = (
        "import os, sys, time\n"
        "from causeway.crypto import BatchVerifier\n"
        "verifier = BatchVerifier(processes=2)\n"
        "print(' '.join(str(p) for p in verifier.process_ids), flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(workers) == 2
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
    deadline = time.monotonic() + 10
    alive = workers
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in workers if _process_exists(pid)]
        time.sleep(0.1)
    assert alive == [], f"orphaned verification workers: {alive}"


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
