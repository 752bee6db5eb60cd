"""What a node reads at start-up, with a real genesis: its genesis file and its key, refused
with the reason; its store, made only in a new folder, marked, checked, and refused (one line
naming the file) when it is not new but lost its chain."""

from __future__ import annotations

import dataclasses
import logging
import struct
from pathlib import Path

import lmdb
import pytest

from causeway.consensus.engines import IDLE_BLOCK_INTERVAL_MS, RaftKind, SoloKind, TbftKind
from causeway.crypto import PrivateKey, get_profile
from causeway.errors import ConfigurationError, CryptoError, StorageCorruptionError
from causeway.node import (
    NodeConfig,
    StoreVerification,
    load_genesis,
    load_node_config,
    open_node_store,
    verify_node_store,
)
from causeway.node.consensus_driver import engine_kind
from causeway.node.startup import load_node_key
from causeway.provisioning import init_network, node_directory
from causeway.storage import DATA_FILE_NAME, Store, load_marker, marker_file, schema
from causeway.types import encode, genesis_hash
from causeway.types.v1 import types_pb2

PAGE_BYTES = 4096
META_MAIN_ROOT_OFFSET = 128  # see tests/storage/_chain.py for the LMDB meta page layout
ROOT_NONE = 0xFFFF_FFFF_FFFF_FFFF
DATABASES = len(schema.ALL_DATABASES)


def make_home(directory: Path, chain_id: str = "startup-test") -> Path:
    description = init_network(directory, 1, "intl", "solo", chain_id=chain_id)
    return node_directory(directory, description.nodes[0].name)


def loaded(home: Path) -> tuple[NodeConfig, types_pb2.Genesis]:
    config = load_node_config(home)
    return config, load_genesis(config.genesis_file)


def open_store(home: Path) -> Store:
    config, genesis = loaded(home)
    return open_node_store(config, genesis, get_profile(genesis.crypto_profile))


def verify(home: Path) -> StoreVerification:
    config, genesis = loaded(home)
    return verify_node_store(config, genesis, get_profile(genesis.crypto_profile))


def empty_meta_roots(data_file: Path) -> None:
    data = bytearray(data_file.read_bytes())
    for page in (0, 1):
        struct.pack_into("<Q", data, page * PAGE_BYTES + META_MAIN_ROOT_OFFSET, ROOT_NONE)
    data_file.write_bytes(bytes(data))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return make_home(tmp_path / "net")


def test_a_new_node_gets_its_genesis_and_its_marker(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config, genesis = loaded(home)
    profile = get_profile(genesis.crypto_profile)
    with caplog.at_level(logging.INFO, logger="causeway.node"):
        with open_store(home) as store:
            assert store.latest_height() == 0
            assert store.load_genesis() == encode(genesis)
        with open_store(home) as store:
            assert store.latest_height() == 0
    initialised = [r for r in caplog.records if r.message == "chain initialised from genesis"]
    assert len(initialised) == 1
    marker = load_marker(config.data_dir)
    assert marker is not None
    assert (marker.chain_id, marker.genesis_hash) == (
        "startup-test",
        genesis_hash(genesis, profile.hash),
    )


def test_a_node_refuses_a_store_that_lost_its_databases(home: Path) -> None:
    config, _ = loaded(home)
    with open_store(home):
        pass
    data_file = config.data_dir / "chain" / DATA_FILE_NAME
    empty_meta_roots(data_file)
    damaged = data_file.read_bytes()
    with pytest.raises(StorageCorruptionError) as raised:
        open_store(home)
    assert raised.value.message == (
        f"the store {data_file} has lost its databases: {DATABASES} of {DATABASES} are missing, "
        f"causeway/v2/meta first, but the marker {marker_file(config.data_dir)} records that "
        "chain 'startup-test' was initialised there: refusing to start a new chain"
    )
    assert data_file.read_bytes() == damaged  # nothing was written: no new chain
    report = verify(home)
    assert not report.ok
    assert report.problems == [
        f"the store {data_file} has lost its databases: {DATABASES} of {DATABASES} are missing, "
        "causeway/v2/meta first"
    ]


def test_a_node_refuses_the_data_of_another_chain(home: Path, tmp_path: Path) -> None:
    other_home = make_home(tmp_path / "other", chain_id="other-chain")
    with open_store(other_home):
        pass
    config, _ = loaded(home)
    assert not config.data_dir.exists()
    (other_home / "data").rename(config.data_dir)
    with pytest.raises(ConfigurationError, match=r"records chain 'other-chain' with genesis"):
        open_store(home)
    report = verify(home)
    assert report.problems[0] == (
        f"the marker {marker_file(config.data_dir)} records chain 'other-chain', not this "
        "genesis file's"
    )


def test_verify_reports_a_sound_store(home: Path) -> None:
    config, _ = loaded(home)
    with open_store(home) as store:
        state_entries = sum(1 for _ in store.range_state(b"", b"", 10_000))
    report = verify(home)
    assert report.ok
    assert report.problems == []
    assert report.store == str(config.data_dir / "chain" / DATA_FILE_NAME)
    assert report.marker == str(marker_file(config.data_dir))
    assert (report.latest_height, report.blocks_checked) == (0, 0)
    assert report.state_entries_checked == state_entries > 0
    assert report.records_checked > state_entries


def test_verify_without_a_store_or_a_marker(home: Path) -> None:
    config, _ = loaded(home)
    report = verify(home)
    assert report.marker == f"{marker_file(config.data_dir)} (missing)"
    assert report.problems == [
        f"the store {config.data_dir / 'chain' / DATA_FILE_NAME} does not exist"
    ]
    assert not (config.data_dir / "chain").exists()  # verify never creates anything


def test_verify_names_a_corrupt_state_record(home: Path) -> None:
    config, _ = loaded(home)
    with open_store(home):
        pass
    path = config.data_dir / "chain"
    environment = lmdb.open(str(path), max_dbs=DATABASES)
    with environment.begin(write=True) as txn:
        database = environment.open_db(schema.DB_STATE_LATEST, txn=txn)
        cursor = txn.cursor(database)
        assert cursor.first()
        key, value = cursor.key(), bytearray(cursor.value())
        value[-1] ^= 0x01
        txn.put(key, bytes(value), db=database)
    environment.close()
    report = verify(home)
    assert report.problem_count == 2
    assert report.problems == [
        f"corrupt record causeway/v2/state_latest[{key.hex()}]: checksum mismatch",
        f"state: corrupt record causeway/v2/state_latest[{key.hex()}]: checksum mismatch",
    ]


def test_a_genesis_file_is_refused_with_its_reason(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(ConfigurationError) as refused:
        load_genesis(missing)
    assert refused.value.message.startswith(f"cannot read genesis file {missing}: ")
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(ConfigurationError) as refused:
        load_genesis(broken)
    assert refused.value.message.startswith(f"genesis file {broken} is not a valid genesis: ")
    nameless = tmp_path / "nameless.json"
    nameless.write_text('{"consensus": "solo"}', encoding="utf-8")
    with pytest.raises(ConfigurationError) as refused:
        load_genesis(nameless)
    assert refused.value.message == f"genesis file {nameless} has no chain id"


def test_the_node_key_is_checked_against_genesis(home: Path) -> None:
    config, genesis = loaded(home)
    key = load_node_key(config, genesis, replicated=False)
    (own,) = genesis.validators.validators
    assert key.public_key().raw == own.public_key
    # A node outside the genesis set follows a replicated chain until it is made a validator.
    outside = types_pb2.Genesis()
    outside.CopyFrom(genesis)
    outside.validators.validators[0].member_id = "org9/node9"
    assert load_node_key(config, outside, replicated=True).public_key().raw == own.public_key
    with pytest.raises(ConfigurationError) as refused:
        load_node_key(config, outside, replicated=False)
    assert refused.value.message == (
        f"solo consensus needs exactly one validator, this node ({config.member_id})"
    )
    two = types_pb2.Genesis()
    two.CopyFrom(genesis)
    two.validators.validators.add().CopyFrom(outside.validators.validators[0])
    with pytest.raises(ConfigurationError) as refused:
        load_node_key(config, two, replicated=False)
    assert refused.value.message == (
        f"solo consensus needs exactly one validator, this node ({config.member_id})"
    )
    assert load_node_key(config, two, replicated=True).public_key().raw == own.public_key
    wrong = types_pb2.Genesis()
    wrong.CopyFrom(genesis)
    wrong.validators.validators[0].public_key = bytes(len(own.public_key))
    with pytest.raises(ConfigurationError) as refused:
        load_node_key(config, wrong, replicated=True)
    assert refused.value.message == "the node key does not match its validator entry in genesis"


def test_an_unreadable_node_key_is_refused_naming_the_file(home: Path) -> None:
    config, genesis = loaded(home)
    missing = dataclasses.replace(config, key_file=home / "missing.pem")
    with pytest.raises(ConfigurationError) as refused:
        load_node_key(missing, genesis, replicated=False)
    assert refused.value.message.startswith(f"cannot read node key {home / 'missing.pem'}: ")


def test_a_consensus_genesis_does_not_name_is_refused(home: Path) -> None:
    config, _ = loaded(home)
    with pytest.raises(ConfigurationError) as refused:
        engine_kind("paxos", config.consensus, config.block_interval_ms)
    assert refused.value.message == "unknown consensus 'paxos' in genesis"


def test_every_consensus_kind_gets_the_one_idle_block_interval(home: Path) -> None:
    """An idle chain of any kind makes a heartbeat block, so that it shows it is alive and the
    light clients of it can be refreshed (docs/interchain.md)."""
    config, _ = loaded(home)
    solo = engine_kind("solo", config.consensus, config.block_interval_ms)
    tbft = engine_kind("tbft", config.consensus, config.block_interval_ms)
    raft = engine_kind("raft", config.consensus, config.block_interval_ms)
    assert isinstance(solo, SoloKind)
    assert isinstance(tbft, TbftKind)
    assert isinstance(raft, RaftKind)
    intervals = [kind.idle_block_interval_ms for kind in (solo, tbft, raft)]
    assert intervals == [IDLE_BLOCK_INTERVAL_MS] * 3


def test_an_encrypted_node_key_needs_its_passphrase(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, genesis = loaded(home)
    plain = config.key_file.read_bytes()
    config.key_file.write_bytes(PrivateKey.from_pem(plain).to_pem(b"node passphrase"))
    monkeypatch.delenv("CAUSEWAY_KEY_PASSPHRASE", raising=False)
    monkeypatch.delenv("CAUSEWAY_KEY_PASSPHRASE_FILE", raising=False)
    with pytest.raises(CryptoError, match="the private key is encrypted: give its passphrase"):
        load_node_key(config, genesis, replicated=False)
    monkeypatch.setenv("CAUSEWAY_KEY_PASSPHRASE", "not it")
    with pytest.raises(CryptoError, match="wrong passphrase"):
        load_node_key(config, genesis, replicated=False)
    monkeypatch.setenv("CAUSEWAY_KEY_PASSPHRASE", "node passphrase")
    (own,) = genesis.validators.validators
    assert load_node_key(config, genesis, replicated=False).public_key().raw == own.public_key
