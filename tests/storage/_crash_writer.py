"""Commits blocks forever, printing each height after commit_block returns; the crash test
SIGKILLs it at random moments. Run as a module of the test package with the store path."""

from __future__ import annotations

import sys
from pathlib import Path

from causeway.storage import Store
from causeway.storage import store as store_module

from . import _builders as build

TRANSACTIONS = 20
RETAINED_VERSIONS = 10


def main() -> None:
    # Waiting ids move into a run whenever three blocks' worth wait, a slice a commit: one
    # move follows another, and the kills land inside them.
    store_module.RECENT_TRANSACTION_IDS_MIN = 3 * TRANSACTIONS
    with Store(Path(sys.argv[1]), map_size_bytes=256 << 20, sole_writer=True) as store:
        if store.load_genesis() is None:
            store.save_genesis(build.GENESIS_BYTES, build.genesis_state(), build.genesis_update())
        height = store.latest_height()
        print(f"ready {height}", flush=True)
        while True:
            height += 1
            store.commit_block(build.record(height, transactions=TRANSACTIONS))
            print(f"committed {height}", flush=True)
            if height % 7 == 0 and height > RETAINED_VERSIONS:
                store.prune_state(height - RETAINED_VERSIONS)


if __name__ == "__main__":
    main()
