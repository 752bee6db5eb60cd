"""A damaged store never starts a new chain and never serves bad data.

One real chain is built once (a solo node, one kv put per block); each test damages a COPY of its
network folder the way a disk would, by flipping bytes in LMDB's data file:

* both meta pages' root pointer of the list of sub-databases (the store looks empty to LMDB):
  `causeway node start` refuses with one line naming the file, writes nothing, and
  `causeway node verify` reports it;
* a record of the newest block: refused by the start-up check;
* a transaction of an old block, a state record and a transaction-index record: the cheap
  start-up check does not read them, so the node starts, at its height; every read of the damaged
  data fails instead of serving it, and `node verify` names each record.

LMDB's meta page layout (offsets of the main database's root) is described in
tests/storage/_chain.py.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from node_harness import Network, NodeProcess, create_network

from causeway.contracts.v1 import contracts_pb2
from causeway.errors import CausewayError, StorageCorruptionError
from causeway.storage import (
    DATA_FILE_NAME,
    RECENT_BLOCKS_CHECKED,
    Store,
    load_marker,
    marker_file,
    schema,
)
from causeway.types import encode

pytestmark = pytest.mark.e2e

BLOCKS = RECENT_BLOCKS_CHECKED + 4
COMMAND_TIMEOUT_S = 90.0
PAGE_BYTES = 4096
META_MAGIC_OFFSET = 16
META_MAIN_ROOT_OFFSET = 128
LMDB_MAGIC = 0xBEEFC0DE
ROOT_NONE = 0xFFFF_FFFF_FFFF_FFFF
DATABASES = len(schema.ALL_DATABASES)
STATE_VALUE = b"durability-state-value-5d1c"


@dataclass(frozen=True)
class Chain:
    network: Network
    latest_height: int
    # The transaction committed alone in each block, by height.
    transaction_ids: dict[int, bytes]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    directory = tmp_path_factory.mktemp("damage") / "network"
    network = create_network(directory, "intl")
    node = NodeProcess(network, directory.parent / "node.log")
    transaction_ids: dict[int, bytes] = {}
    try:
        node.start()
        with node.connect("org1/client") as client:
            for index in range(BLOCKS):
                value = STATE_VALUE if index == 0 else b"value %d" % index
                arguments = contracts_pb2.KvPutArguments(key=b"damage/%d" % index, value=value)
                result = client.invoke("kv", "put", arguments, timeout_s=30.0)
                assert result.committed and result.succeeded, result
                transaction_ids[result.height] = result.transaction_id
            latest = client.status().height
    finally:
        node.cleanup()
    assert sorted(transaction_ids) == list(range(1, BLOCKS + 1))
    assert latest == BLOCKS
    return Chain(network, latest, transaction_ids)


@pytest.fixture
def copy(chain: Chain, tmp_path: Path) -> Network:
    """The chain's network folder, copied: every test damages its own."""
    directory = tmp_path / "network"
    shutil.copytree(chain.network.directory, directory)
    return Network(directory=directory, description=chain.network.description)


def data_file(network: Network) -> Path:
    return network.node_home / "data" / "chain" / DATA_FILE_NAME


def causeway(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "causeway.cli", *arguments],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def refused_start(network: Network) -> str:
    """Runs `causeway node start` and returns its one error line (it must refuse)."""
    completed = causeway("node", "start", "--home", str(network.node_home))
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output
    assert "Traceback" not in output
    assert "node started" not in output
    assert "chain initialised from genesis" not in output
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, completed.stderr
    return errors[0].removeprefix("error: ")


def verify_report(network: Network) -> dict[str, Any]:
    completed = causeway("node", "verify", "--home", str(network.node_home), "--json")
    assert completed.returncode == 1, completed.stdout + completed.stderr
    report: dict[str, Any] = json.loads(completed.stdout)
    assert report["ok"] is False
    return report


def flip_every_copy(path: Path, framed: bytes, offset: int) -> int:
    """Flips one bit at `offset` inside every copy of `framed` in the file (LMDB may keep old
    copies of a page in free pages); returns how many copies there were."""
    data = bytearray(path.read_bytes())
    found = 0
    start = data.find(framed)
    while start >= 0:
        data[start + offset] ^= 0x01
        found += 1
        start = data.find(framed, start + 1)
    path.write_bytes(bytes(data))
    return found


def set_meta_roots(path: Path, root: int | None, flip: int) -> list[tuple[int, int]]:
    """Damages the root of the sub-database list in both meta pages; (before, after) each."""
    data = bytearray(path.read_bytes())
    changes = []
    for page in (0, 1):
        base = page * PAGE_BYTES
        assert struct.unpack_from("<I", data, base + META_MAGIC_OFFSET)[0] == LMDB_MAGIC
        before = struct.unpack_from("<Q", data, base + META_MAIN_ROOT_OFFSET)[0]
        if root is not None:
            struct.pack_into("<Q", data, base + META_MAIN_ROOT_OFFSET, root)
        data[base + META_MAIN_ROOT_OFFSET] ^= flip
        changes.append((before, struct.unpack_from("<Q", data, base + META_MAIN_ROOT_OFFSET)[0]))
    path.write_bytes(bytes(data))
    return changes


@pytest.mark.parametrize(
    ("root", "flip", "problem"),
    [
        (
            ROOT_NONE,
            0,
            f"has lost its databases: {DATABASES} of {DATABASES} are missing, "
            "causeway/v2/meta first",
        ),
        (
            None,
            0xFF,
            "cannot list its databases (LMDB: MDB_PAGE_NOTFOUND: Requested page not found)",
        ),
    ],
    ids=["root-empty", "root-low-byte-flipped"],
)
def test_meta_pages_that_lost_the_databases(
    chain: Chain, copy: Network, root: int | None, flip: int, problem: str
) -> None:
    path = data_file(copy)
    changes = set_meta_roots(path, root, flip)
    assert all(before != after for before, after in changes)
    with pytest.raises(StorageCorruptionError):  # the flip took effect: LMDB lost the list
        Store(path.parent, read_only=True)
    damaged = path.read_bytes()
    marker = marker_file(copy.node_home / "data")
    expected = (
        f"the store {path} {problem}, but the marker {marker} records that chain "
        f"'{copy.chain_id}' was initialised there: refusing to start a new chain"
    )
    for _ in range(2):  # and again: the first refusal made nothing new
        assert refused_start(copy) == expected
    assert path.read_bytes() == damaged  # no genesis, no new meta page: height 0 never came
    assert load_marker(copy.node_home / "data") is not None
    report = verify_report(copy)
    assert report["problems"] == [f"the store {path} {problem}"]
    assert report["problem_count"] == 1


def test_a_damaged_newest_block_is_refused(chain: Chain, copy: Network) -> None:
    path = data_file(copy)
    with Store(path.parent, read_only=True) as store:
        header = encode(store.get_header(chain.latest_height))
    framed = schema.encode_record(header)
    assert flip_every_copy(path, framed, schema.RECORD_HEADER_BYTES + len(header) // 2) >= 1
    problem = f"corrupt record causeway/v2/headers[height={chain.latest_height}]: checksum mismatch"
    assert refused_start(copy) == f"the store {path} failed its start-up check: {problem}"
    report = verify_report(copy)
    assert problem in report["problems"]


def test_damage_away_from_the_newest_blocks_is_never_served(
    chain: Chain, copy: Network, tmp_path: Path
) -> None:
    """A transaction of block 1, the state value written by it, and the index record of the
    transactions of block 2: the node starts (the cheap check reads only the newest blocks) but
    answers every read of them with an error, and verify names all three."""
    path = data_file(copy)
    oldest, indexed = chain.transaction_ids[1], chain.transaction_ids[2]
    with Store(path.parent, read_only=True) as store:
        entry = schema.encode_block_entry(
            encode(store.get_transaction(1, 0)), encode(store.get_result(1, 0))
        )
        position = store.find_transaction(indexed)
        assert position == (2, 0)
        state_key = next(
            key for key, value in store.range_state(b"", b"", 10_000) if value == STATE_VALUE
        )
        written = next(
            height
            for height in range(1, chain.latest_height + 1)
            if store.get_state(state_key, height) == STATE_VALUE
        )
        block_ids = [result.transaction_id for result in store.get_results(2)]
    entry_record = schema.encode_record(entry)
    state_record = state_key + schema.encode_record(schema.encode_height(written) + STATE_VALUE)
    # A young chain's ids wait in one record per block (recent_transaction_ids).
    index_record = schema.encode_record(schema.encode_key_list(block_ids))
    assert flip_every_copy(path, entry_record, len(entry_record) - 1) >= 1
    assert flip_every_copy(path, state_record, len(state_record) - 1) >= 1
    assert flip_every_copy(path, index_record, len(index_record) - 1) >= 1
    with Store(path.parent, read_only=True) as store:  # the flips took effect
        with pytest.raises(StorageCorruptionError, match="checksum mismatch"):
            store.get_block(1)
        with pytest.raises(StorageCorruptionError, match="checksum mismatch"):
            store.get_state(state_key)
        with pytest.raises(StorageCorruptionError, match="checksum mismatch"):
            store.find_transaction(indexed)

    node = NodeProcess(copy, tmp_path / "node.log")
    try:
        node.start()
        with node.connect("org1/client") as client:
            # The same chain, not a new one (above it only if the node, idle for 5 s, made an
            # idle heartbeat block meanwhile).
            assert client.status().height >= chain.latest_height
            reads = {
                "block 1": lambda: client.get_block(1, verify=False),
                "transaction of block 1": lambda: client.get_transaction(oldest, verify=False),
                "indexed transaction": lambda: client.get_transaction(indexed, verify=False),
                # A query reads the latest state (state_latest), where the value was damaged.
                "latest state": lambda: client.evaluate(
                    "kv", "get", contracts_pb2.KvGetArguments(key=b"damage/0")
                ),
            }
            for name, read in reads.items():
                with pytest.raises(CausewayError) as raised:
                    read()
                assert raised.value.reason == "internal", name
            # Intact copies are served: the value in the state history, with its proof, and
            # the blocks that were not touched.
            assert client.get_state(state_key).value == STATE_VALUE
            assert client.get_block(3).block.header.height == 3
    finally:
        node.cleanup()
    log = node.log_text()
    for record in (
        "causeway/v2/block_entries[height=1, index=0]",
        f"causeway/v2/state_latest[{state_key.hex()}]",
        "causeway/v2/recent_transaction_ids[height=2]",
    ):
        assert f"corrupt record {record}: checksum mismatch" in log

    report = verify_report(copy)
    problems = report["problems"]
    for record in (
        "causeway/v2/block_entries[height=1, index=0]",
        f"causeway/v2/state_latest[{state_key.hex()}]",
        "causeway/v2/recent_transaction_ids[height=2]",
    ):
        assert f"corrupt record {record}: checksum mismatch" in problems
    assert report["latest_height"] >= chain.latest_height
