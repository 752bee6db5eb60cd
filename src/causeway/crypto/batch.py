"""Signature verification on every core.

The signature libraries release the GIL inside their C code, so plain threads scale. Measured
with 200-byte messages on 2 cores (Python 3.11, cryptography 50 on OpenSSL 3, tongsuopy 1.0.1 on
its bundled Tongsuo, OpenSSL 1.1.1h based), signatures verified per second, best of five runs:

    algorithm    PublicKey.verify in a loop    BatchVerifier, 2 threads
    ecdsa-p256           12 000 - 13 500              24 000 - 26 800
    ed25519               7 500 -  8 400              14 500 - 15 500
    sm2                   2 500 -  2 900               5 200

The Python wrapping around each C call costs well under a microsecond, but a pool task costs
about 20 microseconds, as much as a third of a verification; so items go to the pool in a few
large chunks rather than one by one, and batches too small to repay even that are verified on the
calling thread.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

from causeway.crypto.keys import PublicKey
from causeway.errors import InvariantError
from causeway.types import sign_bytes

# Below this many items, the cost of waking pool threads is comparable to the verification.
INLINE_ITEMS_MAX = 64
# Chunks per thread: more than one so that a thread that drew cheap signatures (ed25519 among
# sm2, say) takes another chunk instead of idling while the others finish.
CHUNKS_PER_THREAD = 4

VerificationItem = tuple[PublicKey, bytes, bytes]


def _verify_chunk(items: Sequence[VerificationItem]) -> list[bool]:
    return [key.verify(data, signature) for key, data, signature in items]


def _verify_signed_chunk(
    domain: str, chain_id: str, items: Sequence[VerificationItem]
) -> list[bool]:
    return [
        key.verify(sign_bytes(domain, chain_id, payload), signature)
        for key, payload, signature in items
    ]


def _warm_up() -> int:
    return os.getpid()


# How often a worker checks that the process that started it is still alive.
_PARENT_CHECK_INTERVAL_S = 0.5


def _exit_with_parent(parent_pid: int) -> None:
    """Worker initialiser: end this worker when its parent dies.

    A parent killed with SIGKILL (a crashed node) cannot shut its pool down, and its workers
    would otherwise live on as orphans; a daemon thread notices the new parent and exits.
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(_PARENT_CHECK_INTERVAL_S)
        os._exit(0)

    threading.Thread(target=watch, name="causeway-parent-watch", daemon=True).start()


class BatchVerifier:
    """Verifies many (public key, data, signature) items at once on a pool of threads.

    Safe to call from several threads at the same time. Close it (or use it as a context manager)
    to stop its threads.
    """

    def __init__(self, threads: int | None = None, *, processes: int = 0) -> None:
        """threads: verifying threads in this process (default: one per core).

        processes: if above zero, verify in that many worker processes instead. A process that
        is also busy with Python work (a node executing blocks while admitting transactions)
        loses much of the threads' gain to the GIL: each verification releases it in C and must
        win it back from the busy thread to return, one switch interval (5 ms) at worst. Worker
        processes have GILs of their own.
        """
        self._processes = processes
        self._threads = threads if threads is not None else (os.cpu_count() or 1)
        if self._threads < 1 or processes < 0:
            raise InvariantError(
                f"BatchVerifier needs at least one thread, got {self._threads} threads and "
                f"{processes} processes"
            )
        self._executor: Executor
        if processes:
            # spawn, not fork: the caller may already run threads (gRPC) that fork would break.
            self._executor = ProcessPoolExecutor(
                max_workers=processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_exit_with_parent,
                initargs=(os.getpid(),),
            )
            # Start the workers now rather than on the first transaction.
            for future in [self._executor.submit(_warm_up) for _ in range(processes)]:
                future.result()
        else:
            self._executor = ThreadPoolExecutor(
                max_workers=self._threads, thread_name_prefix="causeway-verify"
            )
        self._closed = False

    @property
    def threads(self) -> int:
        return self._threads

    def verify_many(self, items: Sequence[VerificationItem]) -> list[bool]:
        """Whether each item's signature is valid, in the order of items."""
        return self._verify(items, _verify_chunk)

    def verify_signed(
        self, domain: str, chain_id: str, items: Sequence[VerificationItem]
    ) -> list[bool]:
        """Whether each (key, payload, signature) item's signature is valid over
        sign_bytes(domain, chain_id, payload), in the order of items. The signed bytes are
        built where the signature is verified: in worker processes, off the caller's GIL."""
        return self._verify(items, functools.partial(_verify_signed_chunk, domain, chain_id))

    def _verify(
        self,
        items: Sequence[VerificationItem],
        verify_chunk: Callable[[Sequence[VerificationItem]], list[bool]],
    ) -> list[bool]:
        if self._closed:
            raise InvariantError("BatchVerifier used after close")
        count = len(items)
        workers = self._processes or self._threads
        if count < INLINE_ITEMS_MAX or (workers == 1 and not self._processes):
            return verify_chunk(items)
        chunk_count = min(workers * CHUNKS_PER_THREAD, count // (INLINE_ITEMS_MAX // 4))
        chunk_size = -(-count // chunk_count)
        # To worker processes too as they are: a PublicKey pickles as (algorithm, raw), once
        # per chunk for a sender's many transactions (pickle's memo), and loads through the
        # worker's key cache.
        chunks = [items[start : start + chunk_size] for start in range(0, count, chunk_size)]
        results: list[bool] = []
        for chunk_results in self._executor.map(verify_chunk, chunks):
            results.extend(chunk_results)
        return results

    def close(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=True)

    def __enter__(self) -> BatchVerifier:
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()
