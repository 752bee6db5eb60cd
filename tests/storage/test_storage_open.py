"""Opening an existing store never makes it new, and a damaged list of databases is named.

The LMDB meta pages are edited in the data file itself, as a disk fault would: the main
database's root pointer (where LMDB lists the sub-databases) is set to "empty" or flipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from causeway.errors import ConfigurationError, StorageCorruptionError
from causeway.storage import DATA_FILE_NAME, Store, schema
from causeway.storage import store as store_module

from . import _builders as build
from . import _chain as chain
from .test_storage_integrity import raw_write

LOST = chain.LOST_DATABASES


def filled(store_path: Path) -> Path:
    with Store(store_path, map_size_bytes=64 << 20) as store:
        chain.write_genesis(store)
        chain.extend(store, 3)
    return store_path / DATA_FILE_NAME


def test_an_existing_store_opens_without_a_write(store_path: Path) -> None:
    data_file = filled(store_path)
    before = data_file.read_bytes()
    for read_only in (False, True):
        with Store(store_path, create=False, read_only=read_only) as store:
            assert store.latest_height() == 3
            assert store.verify_integrity() > 0
    assert data_file.read_bytes() == before


def test_a_missing_store_is_not_created(store_path: Path) -> None:
    with pytest.raises(StorageCorruptionError) as raised:
        Store(store_path, create=False)
    assert raised.value.message == f"the store {store_path / DATA_FILE_NAME} does not exist"
    assert not store_path.exists()
    with pytest.raises(StorageCorruptionError):
        Store(store_path, read_only=True)
    assert not store_path.exists()


@pytest.mark.parametrize(
    ("root", "flip", "problem"),
    [
        (chain.ROOT_NONE, 0, LOST),
        (None, 0x01, LOST),
        (
            None,
            0xFF,
            "cannot list its databases (LMDB: MDB_PAGE_NOTFOUND: Requested page not found)",
        ),
    ],
    ids=["root-empty", "root-low-bit", "root-low-byte"],
)
def test_a_store_whose_meta_pages_lost_the_databases_is_refused(
    store_path: Path, root: int | None, flip: int, problem: str
) -> None:
    data_file = filled(store_path)
    before = chain.meta_roots(data_file)
    chain.set_meta_roots(data_file, root, flip)
    after = chain.meta_roots(data_file)
    assert all(new != old for new, old in zip(after, before, strict=True))
    damaged = data_file.read_bytes()
    for read_only in (False, True):
        with pytest.raises(StorageCorruptionError) as raised:
            Store(store_path, create=False, read_only=read_only)
        assert raised.value.message == f"the store {data_file} {problem}"
    # Refusing wrote nothing: both meta pages are as damaged as they were.
    assert data_file.read_bytes() == damaged


def test_a_store_without_its_schema_version_is_refused(store_path: Path) -> None:
    data_file = filled(store_path)
    raw_write(store_path, schema.DB_META, schema.META_SCHEMA_VERSION, None)
    with pytest.raises(StorageCorruptionError) as raised:
        Store(store_path, create=False)
    assert raised.value.message == f"the store {data_file} has no schema version record"
    raw_write(
        store_path,
        schema.DB_META,
        schema.META_SCHEMA_VERSION,
        schema.encode_record(schema.encode_height(schema.SCHEMA_VERSION + 1)),
    )
    with pytest.raises(ConfigurationError, match="has schema version 4; this build reads 3"):
        Store(store_path, create=False)


def test_scan_integrity_reports_every_problem(store_path: Path) -> None:
    filled(store_path)
    with Store(store_path) as store:
        clean = store.scan_integrity()
    assert (clean.latest_height, clean.problem_count, clean.problems) == (3, 0, [])
    assert clean.records_checked > 0
    for height in (1, 2, 3):
        raw_write(store_path, schema.DB_CERTIFICATES, schema.encode_height(height), b"")
    with Store(store_path) as store:
        report = store.scan_integrity()
    assert report.problem_count == 3
    assert report.problems == [
        f"corrupt record causeway/v2/certificates[height={height}]: 0 bytes, shorter than the "
        "record header"
        for height in (1, 2, 3)
    ]
    assert report.records_checked == clean.records_checked


@pytest.mark.parametrize(("kept_max", "kept"), [(3, 3), (2, 2)])
def test_scan_integrity_keeps_a_bounded_number_of_problems(
    store_path: Path, monkeypatch: pytest.MonkeyPatch, kept_max: int, kept: int
) -> None:
    filled(store_path)
    for height in (1, 2, 3):
        raw_write(store_path, schema.DB_CERTIFICATES, schema.encode_height(height), b"")
    monkeypatch.setattr(store_module, "INTEGRITY_PROBLEMS_KEPT_MAX", kept_max)
    with Store(store_path) as store:
        report = store.scan_integrity()
    assert (len(report.problems), report.problem_count) == (kept, 3)


def test_highest_stored_heights(store_path: Path) -> None:
    filled(store_path)
    with Store(store_path) as store:
        assert store.highest_stored_heights() == {
            "causeway/v2/headers": 3,
            "causeway/v2/block_hashes": 3,
            "causeway/v2/certificates": 3,
            "causeway/v2/block_entries": 3,
        }
    with Store(store_path.parent / "empty") as store:
        store.save_genesis(build.GENESIS_BYTES, {}, build.genesis_update())
        assert set(store.highest_stored_heights().values()) == {0}


@pytest.mark.parametrize(
    ("size", "problem"),
    [
        (0, "is empty (0 bytes)"),
        (1, "is not an LMDB data file (LMDB: MDB_INVALID: File is not an LMDB file)"),
        (
            2 * chain.PAGE_BYTES,
            "is not an LMDB data file (LMDB: MDB_INVALID: File is not an LMDB file)",
        ),
    ],
)
def test_an_empty_or_foreign_data_file_is_not_made_new(
    store_path: Path, size: int, problem: str
) -> None:
    store_path.mkdir()
    data_file = store_path / DATA_FILE_NAME
    data_file.write_bytes(b"\x00" * size)
    for read_only in (False, True):
        with pytest.raises(StorageCorruptionError) as raised:
            Store(store_path, create=False, read_only=read_only)
        assert raised.value.message == f"the store {data_file} {problem}"
    assert data_file.read_bytes() == b"\x00" * size


def test_a_store_whose_meta_pages_are_both_damaged_is_not_an_lmdb_file(store_path: Path) -> None:
    data_file = filled(store_path)
    data = bytearray(data_file.read_bytes())
    for page in (0, 1):
        data[page * chain.PAGE_BYTES + chain.META_MAGIC_OFFSET] ^= 0x01
    data_file.write_bytes(bytes(data))
    with pytest.raises(StorageCorruptionError) as raised:
        Store(store_path, create=False)
    assert raised.value.message == (
        f"the store {data_file} is not an LMDB data file (LMDB: MDB_INVALID: File is not an "
        "LMDB file)"
    )
    with pytest.raises(ConfigurationError, match="MDB_INVALID"):
        Store(store_path)  # create=True: a folder the caller says may be new; still not made new
    assert data_file.read_bytes() == bytes(data)
