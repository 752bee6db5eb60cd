"""What a look-up by transaction id costs beside a busy Python thread: py-lmdb's get against a
Python set in memory.

    .venv/bin/python bench/lookup_contention.py [--ids 1000000] [--lookups 200000] [--path DIR]

Builds an LMDB table shaped like the store's transaction index (--ids random 32-byte keys, as
ids are SHA-256 hashes, each with a 24-byte record), checks that every stored id is found, then
looks up --lookups ids that are not there (the usual case: a new transaction is not a replay),
first alone and then while another thread runs Python without a pause, as the node's block
builder does. py-lmdb lets go of the GIL around every read and must win it back; the busy
thread gives it up only when asked, after a switch interval (5 ms). A look-up in a Python set
keeps the GIL. One line per case: the wall time per look-up (docs/performance.md, ninth
sitting, quotes it at a million ids).
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import lmdb

RECORD = bytes(24)


def stored_ids(count: int) -> list[bytes]:
    return [
        hashlib.sha256(b"stored" + number.to_bytes(8, "big")).digest() for number in range(count)
    ]


def absent_ids(count: int) -> list[bytes]:
    return [
        hashlib.sha256(b"absent" + number.to_bytes(8, "big")).digest() for number in range(count)
    ]


@contextmanager
def busy_thread() -> Iterator[None]:
    """A thread that runs Python until the block ends, holding the GIL but for switches."""
    stop = threading.Event()

    def spin() -> None:
        count = 0
        while not stop.is_set():
            count += 1

    thread = threading.Thread(target=spin, name="busy")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def timed(look_up: Callable[[bytes], bool], ids: Sequence[bytes]) -> tuple[float, int]:
    """Seconds for looking up every id, and how many were found."""
    start = time.perf_counter()
    found = sum(1 for transaction_id in ids if look_up(transaction_id))
    return time.perf_counter() - start, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ids", type=int, default=1_000_000, help="ids stored in the table")
    parser.add_argument("--lookups", type=int, default=200_000, help="absent ids looked up")
    parser.add_argument(
        "--path", type=Path, help="folder for the LMDB table (default: a temporary one)"
    )
    arguments = parser.parse_args()
    ids = stored_ids(arguments.ids)
    absent = absent_ids(arguments.lookups)
    with tempfile.TemporaryDirectory() as temporary:
        folder = arguments.path or Path(temporary)
        environment = lmdb.open(str(folder), map_size=8 << 30, max_dbs=1, sync=False)
        try:
            database = environment.open_db(b"transaction_index")
            with environment.begin(write=True) as transaction:
                transaction.cursor(database).putmulti(
                    [(transaction_id, RECORD) for transaction_id in sorted(ids)], append=True
                )
            in_memory = set(ids)
            with environment.begin() as transaction:

                def lmdb_get(transaction_id: bytes) -> bool:
                    return transaction.get(transaction_id, db=database) is not None

                cases: list[tuple[str, Callable[[bytes], bool]]] = [
                    ("lmdb get", lmdb_get),
                    ("python set", in_memory.__contains__),
                ]
                for name, look_up in cases:
                    _, found = timed(look_up, ids)
                    print(f"{name}: found {found:,} of {len(ids):,} stored ids")
                for name, look_up in cases:
                    seconds, found = timed(look_up, absent)
                    print(
                        f"{name}, alone: {seconds / len(absent) * 1e6:.2f} µs a look-up "
                        f"({len(absent):,} absent ids, {found} found)"
                    )
                    with busy_thread():
                        seconds, found = timed(look_up, absent)
                    print(
                        f"{name}, beside a busy thread: {seconds / len(absent) * 1e6:.2f} µs a "
                        f"look-up ({len(absent):,} absent ids, {found} found)"
                    )
        finally:
            environment.close()


if __name__ == "__main__":
    main()
