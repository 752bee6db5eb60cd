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

Worker processes (a node's choice, beside a GIL busy with blocks) each have a pipe of their own:
the calling thread writes its chunk to an idle worker and reads the answer itself. A
ProcessPoolExecutor passes each chunk through a feeder thread and each answer through a manager
thread, and in a node whose GIL is busy executing blocks every one of those hand-offs waits for
the GIL: measured in a solo node at 8,000 transfers/s, 200 signatures took 63 ms to come back
through the executor, for about 15 ms of verifying.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import os
import pickle
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from causeway.crypto.keys import PublicKey
from causeway.errors import InvariantError
from causeway.types import sign_bytes

log = logging.getLogger("causeway.crypto")

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


def _process_id(_: object) -> int:
    return os.getpid()


# How often a worker checks that the process that started it is still alive.
_PARENT_CHECK_INTERVAL_S = 0.5
# How long close() waits for a worker to leave before it is terminated.
_WORKER_EXIT_WAIT_S = 5.0


def _exit_with_parent(parent_pid: int) -> None:
    """End this worker when its parent dies.

    A parent killed with SIGKILL (a crashed node) cannot stop its workers, and they would
    otherwise live on as orphans; a daemon thread notices the new parent and exits. (The pipe's
    end-of-file does too, unless a worker is busy or a copy of the parent's end survives.)
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(_PARENT_CHECK_INTERVAL_S)
        os._exit(0)

    threading.Thread(target=watch, name="causeway-parent-watch", daemon=True).start()


def _serve(connection: Connection, parent_pid: int) -> None:
    """A worker process: answers each (function, argument) with (True, function(argument)), or
    (False, the error's text), until None or the parent's end of the pipe closes."""
    _exit_with_parent(parent_pid)
    while True:
        try:
            request = connection.recv_bytes()
        except (EOFError, OSError):
            return
        # Loaded here rather than by recv(), so that a request this process cannot load is
        # answered with its error like any other, and the worker goes on.
        try:
            loaded = pickle.loads(request)
            if loaded is None:
                return
            function, argument = loaded
            answer: tuple[bool, Any] = (True, function(argument))
        except Exception as error:  # answered, not raised: the caller raises it
            answer = (False, f"{type(error).__name__}: {error}")
        connection.send(answer)


class _Worker:
    def __init__(self, process: BaseProcess, connection: Connection) -> None:
        self.process = process
        self.connection = connection


class _WorkerPool:
    """Worker processes on pipes of their own (module docstring). A caller takes one idle worker,
    waiting if it must, and every other idle one without waiting (so that two callers never
    wait for each other's workers), sends each a chunk and reads each answer back in its own
    thread, handing each worker back as soon as its answer is read. A worker whose pipe breaks
    (killed, out of memory) is replaced by a new one, and the chunk it held is verified in the
    calling thread; any other failure between a chunk sent and its answer read stops the pool
    (an unread answer would go to the next caller)."""

    def __init__(self, processes: int) -> None:
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._workers: list[_Worker] = [self._start() for _ in range(processes)]
        # Guards the list of workers, which a caller changes when it replaces a dead one.
        self._lock = threading.Lock()
        self._broken: str | None = None
        # Started now, not on the first transaction: each answers once before the pool is used.
        for worker in self._workers:
            worker.connection.send((_process_id, None))
        for worker in self._workers:
            self._answer(worker)
            self._idle.put(worker)

    @staticmethod
    def _start() -> _Worker:
        # spawn, not fork: the caller may already run threads (gRPC) that fork would break.
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe(duplex=True)
        process = context.Process(
            target=_serve, args=(child_end, os.getpid()), name="causeway-verify", daemon=True
        )
        process.start()
        child_end.close()
        return _Worker(process, parent_end)

    def _replace(self, dead: _Worker) -> _Worker:
        """A new worker in place of one whose pipe broke (killed, out of memory)."""
        dead.connection.close()
        dead.process.join(_WORKER_EXIT_WAIT_S)
        if dead.process.is_alive():
            dead.process.terminate()
            dead.process.join()
        worker = self._start()
        with self._lock:
            self._workers[self._workers.index(dead)] = worker
        log.warning(
            "a signature verification worker stopped; another was started",
            extra={"stopped": dead.process.pid, "exit_code": dead.process.exitcode},
        )
        return worker

    @property
    def process_ids(self) -> list[int]:
        with self._lock:
            return [worker.process.pid or 0 for worker in self._workers]

    def run(
        self,
        function: Callable[[Sequence[VerificationItem]], list[bool]],
        items: Sequence[Any],
        meanwhile: Callable[[], None] | None = None,
    ) -> list[bool]:
        if self._broken is not None:
            raise InvariantError(self._broken)
        workers = [self._idle.get()]
        while len(workers) < len(self._workers):
            try:
                workers.append(self._idle.get_nowait())
            except queue.Empty:
                break
        size = -(-len(items) // len(workers))
        chunks = [items[start : start + size] for start in range(0, len(items), size)]
        workers, unused = workers[: len(chunks)], workers[len(chunks) :]
        for worker in unused:
            self._idle.put(worker)
        results: list[bool] = []
        failures: list[str] = []
        dead: list[_Worker] = []
        meanwhile_error: Exception | None = None
        try:
            for worker, chunk in zip(workers, chunks, strict=True):
                try:
                    worker.connection.send((function, chunk))
                except OSError:
                    dead.append(worker)
            if meanwhile is not None:
                try:
                    meanwhile()
                except Exception as error:
                    # Raised once the answers are read: unread, they would go to the next caller.
                    meanwhile_error = error
            for worker, chunk in zip(workers, chunks, strict=True):
                if worker not in dead:
                    try:
                        answered, answer = self._answer(worker)
                    except (EOFError, OSError):
                        dead.append(worker)
                if worker in dead:
                    # Its chunk is verified here, and a new worker takes its place.
                    answered, answer = True, function(chunk)
                    self._idle.put(self._replace(worker))
                else:
                    self._idle.put(worker)
                if answered:
                    results.extend(answer)
                else:
                    failures.append(answer)
        except BaseException as error:
            # A worker that was sent a chunk and not read back would hand its answer to the
            # next caller: the pool is not used again.
            self._broken = f"a signature verification worker failed: {error!r}"
            raise InvariantError(self._broken) from error
        if meanwhile_error is not None:
            raise meanwhile_error
        if failures:
            raise InvariantError(f"signature verification failed in a worker: {failures[0]}")
        return results

    def _answer(self, worker: _Worker) -> tuple[bool, Any]:
        answer: tuple[bool, Any] = worker.connection.recv()
        return answer

    def close(self) -> None:
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            with contextlib.suppress(OSError):  # already gone
                worker.connection.send(None)
        for worker in workers:
            worker.process.join(_WORKER_EXIT_WAIT_S)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join()
            worker.connection.close()


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
        self._pool: _WorkerPool | None = None
        self._executor: ThreadPoolExecutor | None = None
        if processes:
            self._pool = _WorkerPool(processes)
        else:
            self._executor = ThreadPoolExecutor(
                max_workers=self._threads, thread_name_prefix="causeway-verify"
            )
        self._closed = False

    @property
    def threads(self) -> int:
        return self._threads

    @property
    def process_ids(self) -> list[int]:
        """The worker processes' ids (empty when verifying in threads)."""
        return self._pool.process_ids if self._pool is not None else []

    def verify_many(
        self, items: Sequence[VerificationItem], *, meanwhile: Callable[[], None] | None = None
    ) -> list[bool]:
        """Whether each item's signature is valid, in the order of items. `meanwhile`, if
        given, is called once in the calling thread while the workers verify (or, where the
        items are verified in this thread, before), so that the caller's own work overlaps
        theirs; its exception is raised after the verification is done."""
        return self._verify(items, _verify_chunk, meanwhile)

    def verify_signed(
        self,
        domain: str,
        chain_id: str,
        items: Sequence[VerificationItem],
        *,
        meanwhile: Callable[[], None] | None = None,
    ) -> list[bool]:
        """Whether each (key, payload, signature) item's signature is valid over
        sign_bytes(domain, chain_id, payload), in the order of items. The signed bytes are
        built where the signature is verified: in worker processes, off the caller's GIL.
        `meanwhile` as in verify_many."""
        return self._verify(
            items, functools.partial(_verify_signed_chunk, domain, chain_id), meanwhile
        )

    def _verify(
        self,
        items: Sequence[VerificationItem],
        verify_chunk: Callable[[Sequence[VerificationItem]], list[bool]],
        meanwhile: Callable[[], None] | None,
    ) -> list[bool]:
        if self._closed:
            raise InvariantError("BatchVerifier used after close")
        count = len(items)
        workers = self._processes or self._threads
        if count < INLINE_ITEMS_MAX or (workers == 1 and not self._processes):
            if meanwhile is not None:
                meanwhile()
            return verify_chunk(items)
        if self._pool is not None:
            # To worker processes as they are: a PublicKey pickles as (algorithm, raw), once per
            # chunk for a sender's many transactions (pickle's memo), and loads through the
            # worker's key cache.
            return self._pool.run(verify_chunk, items, meanwhile)
        if self._executor is None:
            raise InvariantError("BatchVerifier has neither threads nor processes")
        chunk_count = min(workers * CHUNKS_PER_THREAD, count // (INLINE_ITEMS_MAX // 4))
        chunk_size = -(-count // chunk_count)
        chunks = [items[start : start + chunk_size] for start in range(0, count, chunk_size)]
        results: list[bool] = []
        # map() submits every chunk before its results are read.
        answers = self._executor.map(verify_chunk, chunks)
        meanwhile_error: Exception | None = None
        if meanwhile is not None:
            try:
                meanwhile()
            except Exception as error:
                meanwhile_error = error
        for chunk_results in answers:
            results.extend(chunk_results)
        if meanwhile_error is not None:
            raise meanwhile_error
        return results

    def close(self) -> None:
        self._closed = True
        if self._pool is not None:
            self._pool.close()
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    def __enter__(self) -> BatchVerifier:
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()
