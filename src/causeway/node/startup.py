"""What a node reads at start-up (its genesis, its key, its store), and the full check behind
`causeway node verify`.

The genesis file and the key are refused with a ConfigurationError naming the file; the key
must be the one genesis names for this node when it is a validator, and a chain without peers
(solo) has exactly this node as its validator. A node outside the genesis set follows the
chain (tbft: as an observer) until governance makes it a validator.

A node writes a genesis only into a data folder that is verifiably new, and refuses to start on
a store that is not new but lost its databases or its genesis, or whose newest blocks or state
do not match (storage.chain_folder and storage.chain_checks say how). Either way the reason is
one line naming the file, raised as StorageCorruptionError or ConfigurationError.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import json_format

from causeway.crypto import CryptoProfile, PrivateKey, passphrase_from_environment
from causeway.errors import CausewayError, ConfigurationError
from causeway.execution import genesis_state
from causeway.node.config import NodeConfig
from causeway.state import StateTree, compute_root
from causeway.storage import (
    DATA_FILE_NAME,
    ChainIdentity,
    Store,
    load_marker,
    marker_file,
    open_chain_store,
    open_chain_store_for_reading,
    scan_chain,
    store_folder,
)
from causeway.types import encode, genesis_hash
from causeway.types.v1 import types_pb2

log = logging.getLogger("causeway.node")


def load_genesis(path: Path) -> types_pb2.Genesis:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"cannot read genesis file {path}: {error}") from None
    genesis = types_pb2.Genesis()
    try:
        json_format.Parse(text, genesis)
    except json_format.ParseError as error:
        raise ConfigurationError(f"genesis file {path} is not a valid genesis: {error}") from None
    if not genesis.chain_id:
        raise ConfigurationError(f"genesis file {path} has no chain id")
    return genesis


def load_node_key(
    config: NodeConfig, genesis: types_pb2.Genesis, *, replicated: bool
) -> PrivateKey:
    """The node's key, checked against genesis; replicated: whether the chain's validators
    talk over the peer network (every engine but solo)."""
    try:
        key = PrivateKey.from_pem(config.key_file.read_bytes(), passphrase_from_environment())
    except OSError as error:
        raise ConfigurationError(f"cannot read node key {config.key_file}: {error}") from None
    validators = {v.member_id: v for v in genesis.validators.validators}
    if not replicated and list(validators) != [config.member_id]:
        raise ConfigurationError(
            f"solo consensus needs exactly one validator, this node ({config.member_id})"
        )
    own = validators.get(config.member_id)
    if own is not None and key.public_key().raw != own.public_key:
        raise ConfigurationError("the node key does not match its validator entry in genesis")
    return key


def chain_identity(genesis: types_pb2.Genesis, profile: CryptoProfile) -> ChainIdentity:
    return ChainIdentity(
        chain_id=genesis.chain_id,
        genesis_hash=genesis_hash(genesis, profile.hash),
        genesis_bytes=encode(genesis),
        genesis_state_root=compute_root(genesis_state(genesis), profile.hash),
        hash_function=profile.hash,
    )


def open_node_store(
    config: NodeConfig, genesis: types_pb2.Genesis, profile: CryptoProfile
) -> Store:
    """The node's checked store, initialised from the genesis when the data folder is new."""
    identity = chain_identity(genesis, profile)

    def write_genesis(store: Store) -> None:
        state = genesis_state(genesis)
        update = StateTree(profile.hash, store).apply(0, state)
        store.save_genesis(identity.genesis_bytes, state, update)
        log.info("chain initialised from genesis", extra={"chain_id": genesis.chain_id})

    return open_chain_store(
        config.data_dir, identity, write_genesis, map_size_bytes=config.map_size_bytes
    )


@dataclass
class StoreVerification:
    """What `causeway node verify` found."""

    store: str
    marker: str
    latest_height: int = 0
    records_checked: int = 0
    blocks_checked: int = 0
    state_entries_checked: int = 0
    # The first problems found (each sub-scan names a bounded number), and how many in all.
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def add(self, problems: list[str], count: int | None = None) -> None:
        self.problems.extend(problems)
        self.problem_count += len(problems) if count is None else count


def verify_node_store(
    config: NodeConfig, genesis: types_pb2.Genesis, profile: CryptoProfile
) -> StoreVerification:
    """Reads the whole store read-only (it may run beside the node): every record's checksum
    and structure, every block's completeness, hash and links, the state root recomputed from
    the latest state, and the marker. Nothing is repaired or written."""
    identity = chain_identity(genesis, profile)
    path = marker_file(config.data_dir)
    report = StoreVerification(
        store=str(store_folder(config.data_dir) / DATA_FILE_NAME), marker=str(path)
    )
    try:
        marker = load_marker(config.data_dir)
    except CausewayError as error:
        report.add([error.message])
    else:
        if marker is None:
            # Not damage: a store made before markers existed gets one at its next start.
            report.marker = f"{path} (missing)"
        elif marker.chain_id != identity.chain_id or marker.genesis_hash != identity.genesis_hash:
            report.add(
                [f"the marker {path} records chain {marker.chain_id!r}, not this genesis file's"]
            )
    try:
        store = open_chain_store_for_reading(config.data_dir)
    except CausewayError as error:
        report.add([error.message])
        return report
    with store:
        try:
            integrity = store.scan_integrity()
            report.records_checked = integrity.records_checked
            report.add(integrity.problems, integrity.problem_count)
        except CausewayError as error:  # LMDB itself found a damaged page
            report.add([error.message])
        try:
            chain = scan_chain(store, identity)
            report.latest_height = chain.latest_height
            report.blocks_checked = chain.blocks_checked
            report.state_entries_checked = chain.state_entries_checked
            report.add(chain.problems)
        except CausewayError as error:
            report.add([error.message])
    return report
