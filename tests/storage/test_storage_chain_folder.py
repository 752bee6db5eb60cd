"""A data folder gets a genesis only when it is verifiably new; the marker outside LMDB keeps a
store that lost its databases from ever being taken for a new one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from causeway.errors import ConfigurationError, StorageCorruptionError
from causeway.storage import (
    DATA_FILE_NAME,
    MARKER_FILE_NAME,
    ChainIdentity,
    ChainMarker,
    Store,
    chain_folder,
    load_marker,
    marker_file,
    open_chain_store,
    open_chain_store_for_reading,
    save_marker,
    store_folder,
)

from . import _builders as build
from . import _chain as chain

MAP_SIZE_BYTES = 64 << 20
REFUSAL = "was initialised there: refusing to start a new chain"


def open_store(data_dir: Path, identity: ChainIdentity | None = None) -> Store:
    return open_chain_store(
        data_dir, identity or chain.identity(), chain.write_genesis, map_size_bytes=MAP_SIZE_BYTES
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_a_new_folder_is_initialised_and_marked(data_dir: Path) -> None:
    identity = chain.identity()
    with open_store(data_dir) as store:
        assert store.load_genesis() == build.GENESIS_BYTES
        assert store.latest_height() == 0
        chain.extend(store, 2)
    assert load_marker(data_dir) == ChainMarker(identity.chain_id, identity.genesis_hash)
    assert json.loads(marker_file(data_dir).read_text()) == {
        "format": 1,
        "chain_id": build.CHAIN_ID,
        "genesis_hash": identity.genesis_hash.hex(),
        "store": "chain",
    }
    assert sorted(path.name for path in data_dir.iterdir()) == ["chain", MARKER_FILE_NAME]
    with open_store(data_dir) as store:
        assert store.latest_height() == 2


def test_an_empty_store_folder_is_new(data_dir: Path) -> None:
    store_folder(data_dir).mkdir(parents=True)
    with open_store(data_dir) as store:
        assert store.latest_height() == 0
    assert load_marker(data_dir) is not None


def test_an_interrupted_first_start_is_redone(data_dir: Path) -> None:
    scratch = data_dir / "chain.initialising"
    with Store(scratch, map_size_bytes=MAP_SIZE_BYTES):
        pass  # a crash before the genesis: a scratch store with no genesis
    with open_store(data_dir) as store:
        assert store.load_genesis() == build.GENESIS_BYTES
    assert not scratch.exists()


def test_a_failed_genesis_write_leaves_the_folder_new(data_dir: Path) -> None:
    def failing(store: Store) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        open_chain_store(data_dir, chain.identity(), failing, map_size_bytes=MAP_SIZE_BYTES)
    assert not store_folder(data_dir).exists()
    assert load_marker(data_dir) is None
    with open_store(data_dir) as store:
        assert store.latest_height() == 0


@pytest.mark.parametrize("damage", ["root-empty", "root-low-bit", "store-deleted", "data-deleted"])
def test_a_marked_store_that_lost_its_databases_is_refused(data_dir: Path, damage: str) -> None:
    with open_store(data_dir) as store:
        chain.extend(store, 3)
    folder = store_folder(data_dir)
    data_file = folder / DATA_FILE_NAME
    lost = chain.LOST_DATABASES
    if damage == "root-empty":
        chain.set_meta_roots(data_file, chain.ROOT_NONE)
        problem = f"the store {data_file} {lost}"
    elif damage == "root-low-bit":
        chain.set_meta_roots(data_file, None, flip=0x01)
        problem = f"the store {data_file} {lost}"
    elif damage == "store-deleted":
        shutil.rmtree(folder)
        problem = f"the store {data_file} does not exist"
    else:
        data_file.unlink()
        problem = f"the store {data_file} does not exist"
    for _ in range(2):  # refused again, and nothing was made new in between
        with pytest.raises(StorageCorruptionError) as raised:
            open_store(data_dir)
        assert raised.value.message == (
            f"{problem}, but the marker {marker_file(data_dir)} records that chain "
            f"'{build.CHAIN_ID}' {REFUSAL}"
        )
    assert load_marker(data_dir) is not None


def test_a_marked_store_without_its_genesis_is_refused(data_dir: Path) -> None:
    with open_store(data_dir):
        pass
    shutil.rmtree(store_folder(data_dir))
    with Store(store_folder(data_dir), map_size_bytes=MAP_SIZE_BYTES):
        pass  # databases, but no genesis
    with pytest.raises(StorageCorruptionError) as raised:
        open_store(data_dir)
    assert raised.value.message == (
        f"the store {store_folder(data_dir) / DATA_FILE_NAME} holds no genesis, but the marker "
        f"{marker_file(data_dir)} records that chain '{build.CHAIN_ID}' {REFUSAL}"
    )


def test_an_unmarked_store_that_is_not_new_is_refused(data_dir: Path) -> None:
    folder = store_folder(data_dir)
    refusal = (
        f"the folder is not new and has no marker {marker_file(data_dir)}: refusing to write a "
        "genesis into it"
    )
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("not a store")
    with pytest.raises(StorageCorruptionError) as raised:
        open_store(data_dir)
    assert raised.value.message == f"the store {folder / DATA_FILE_NAME} does not exist; {refusal}"
    (folder / "notes.txt").unlink()
    with Store(folder, map_size_bytes=MAP_SIZE_BYTES):
        pass
    with pytest.raises(StorageCorruptionError) as raised:
        open_store(data_dir)
    assert (
        raised.value.message == f"the store {folder / DATA_FILE_NAME} holds no genesis; {refusal}"
    )
    with Store(folder, map_size_bytes=MAP_SIZE_BYTES) as store:
        chain.write_genesis(store)
        chain.extend(store, 2)
    chain.set_meta_roots(folder / DATA_FILE_NAME, chain.ROOT_NONE)
    with pytest.raises(StorageCorruptionError) as raised:
        open_store(data_dir)
    assert raised.value.message == (
        f"the store {folder / DATA_FILE_NAME} {chain.LOST_DATABASES}; {refusal}"
    )
    assert load_marker(data_dir) is None


def test_an_unmarked_store_with_this_genesis_is_adopted(data_dir: Path) -> None:
    """A store made before markers existed, or by a crash between the rename and the marker."""
    with Store(store_folder(data_dir), map_size_bytes=MAP_SIZE_BYTES) as store:
        chain.write_genesis(store)
        chain.extend(store, 2)
    assert load_marker(data_dir) is None
    with open_store(data_dir) as store:
        assert store.latest_height() == 2
    assert load_marker(data_dir) == ChainMarker(build.CHAIN_ID, chain.identity().genesis_hash)


def test_an_unmarked_store_that_fails_the_check_is_not_marked(data_dir: Path) -> None:
    with Store(store_folder(data_dir), map_size_bytes=MAP_SIZE_BYTES) as store:
        store.save_genesis(b"another genesis", {}, build.genesis_update())
    with pytest.raises(StorageCorruptionError, match="its genesis differs"):
        open_store(data_dir)
    assert load_marker(data_dir) is None


def test_a_marker_of_another_chain_is_refused(data_dir: Path) -> None:
    with open_store(data_dir):
        pass
    other = ChainMarker("another-chain", bytes(range(32)))
    save_marker(data_dir, other)
    with pytest.raises(ConfigurationError) as raised:
        open_store(data_dir)
    assert raised.value.message == (
        f"the marker {marker_file(data_dir)} records chain 'another-chain' with genesis "
        f"0001020304050607…, but the genesis file is for chain '{build.CHAIN_ID}' with genesis "
        f"{chain.identity().genesis_hash.hex()[:16]}…"
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "Expecting value: line 1 column 1 (char 0)"),
        (b"[]", "not a JSON object"),
        (b'{"format": 2}', "format is 2, not 1"),
        (b'{"format": 1, "genesis_hash": "00"}', "no chain_id"),
        (b'{"format": 1, "chain_id": "c"}', "no genesis_hash"),
        (
            b'{"format": 1, "chain_id": "c", "genesis_hash": "zz"}',
            "non-hexadecimal number found in fromhex() arg at position 0",
        ),
        (b"\xff", "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
    ],
)
def test_a_damaged_marker_is_refused(data_dir: Path, content: bytes, problem: str) -> None:
    data_dir.mkdir()
    marker_file(data_dir).write_bytes(content)
    with pytest.raises(StorageCorruptionError) as raised:
        open_store(data_dir)
    assert raised.value.message == (
        f"the marker {marker_file(data_dir)} is not a chain marker: {problem}"
    )
    assert not store_folder(data_dir).exists()


def test_the_marker_size_is_bounded(data_dir: Path) -> None:
    data_dir.mkdir()
    document = b'{"format": 1, "chain_id": "c", "genesis_hash": "00"}'
    at_limit = document + b" " * (chain_folder.MARKER_BYTES_MAX - len(document))
    marker_file(data_dir).write_bytes(at_limit)
    assert load_marker(data_dir) == ChainMarker("c", b"\x00")
    marker_file(data_dir).write_bytes(at_limit + b" ")
    with pytest.raises(StorageCorruptionError) as raised:
        load_marker(data_dir)
    assert raised.value.message == (
        f"the marker {marker_file(data_dir)} is not a chain marker: larger than 4096 bytes"
    )


def test_reading_opens_the_store_as_it_is(data_dir: Path) -> None:
    with pytest.raises(StorageCorruptionError, match="does not exist"):
        open_chain_store_for_reading(data_dir)
    assert not data_dir.exists()
    with open_store(data_dir) as store:
        chain.extend(store, 1)
    with open_chain_store_for_reading(data_dir) as store:
        assert store.latest_height() == 1
