"""CPython's cyclic garbage collector, set for a node process once the node is built.

Why: a loaded node allocates container objects (transactions, results, futures, protobuf
wrappers) far faster than the collector's defaults expect, and almost none of them end up in
reference cycles; reference counting frees them. With the defaults (a young collection every
700 net allocations), a solo node at 10,000 transfers/s ran some 1,800 young, 160 middle and 14
full collections per 100,000 transfers: about 1.6 s of GIL time in a 10 s run, and each full
collection (up to 99 ms) walked the 100,000-odd objects made at start (modules, configuration,
genesis) that live as long as the process. Counted over one run, the cycles found were some
2,000 objects a second (gRPC's per-call handler lookups), so a young generation of 50,000
objects holds a few megabytes of garbage at most. Measured in docs/performance.md ("The
garbage collector", issue 7, sixth sitting).

Process-wide, so it is called by the process's entry point (`run_node`), never by code that
may run inside another program (tests build many nodes in one process).
"""

from __future__ import annotations

import gc

# Net allocations of tracked objects between young collections (CPython's default: 700).
YOUNG_COLLECTION_THRESHOLD = 50_000


def settle_garbage_collector() -> None:
    """Collects once, moves every surviving object to the permanent generation (`gc.freeze`:
    no later collection walks them) and raises the young generation's threshold. The middle
    and old thresholds stay as they are: they count young and middle collections, which are
    already rarer."""
    # First, so that no cycle made at start is frozen: a frozen object is never collected.
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)
