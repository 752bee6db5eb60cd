"""A devnet of several chains, from a manifest: their folders and the description others read.

```
DIR/manifest.toml | manifest.yaml     the manifest as given (comments kept)
DIR/network.json                      the whole devnet, machine-readable (below)
DIR/chains/<chain id>/                a network as `causeway init` writes it, ports of its own
DIR/devnet.json                       the node processes (causeway.provisioning.devnet)
```

network.json is what later work reads (relayers, `devnet status`, the demo): every chain with its
consensus, crypto profile, genesis hash, folders, members and node addresses; the links; the
relayers and the links each carries. `load_devnet_description` reads it back. Paths in it are
absolute, so that a process started anywhere finds the files.

Each chain's chain id is its manifest id. All chains are built in memory before anything is
written, so a refusal (or a key generation failure) leaves the folder as it was.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from causeway.crypto import get_profile
from causeway.errors import ConfigurationError
from causeway.provisioning.description import (
    NetworkDescription,
    build_network,
    default_chain_config,
)
from causeway.provisioning.files import GENERATED_ENTRIES, write_network
from causeway.provisioning.init import member_directory, node_directory
from causeway.provisioning.manifest import ChainManifest, Manifest
from causeway.types import genesis_hash
from causeway.types.v1 import types_pb2

DESCRIPTION_FILE_NAME = "network.json"
DESCRIPTION_VERSION = 1
CHAINS_DIRECTORY = "chains"
EVM_DIRECTORY = "evm"
MANIFEST_COPY_STEM = "manifest"
# The process file of causeway.provisioning.devnet (not imported: that module starts processes).
DEVNET_PROCESS_FILE_NAME = "devnet.json"
# A description file is written by us; anything this large is not one.
DESCRIPTION_BYTES_MAX = 16 << 20


@dataclass(frozen=True, slots=True)
class NodeEntry:
    name: str
    member_id: str
    home: str
    grpc_address: str
    http_address: str
    peer_address: str


@dataclass(frozen=True, slots=True)
class MemberEntry:
    member_id: str
    roles: tuple[str, ...]
    directory: str


@dataclass(frozen=True, slots=True)
class ChainEntry:
    id: str
    hub: bool
    consensus: str
    crypto_profile: str
    algorithm: str
    validators: int
    organisations: int
    port_base: int
    directory: str
    genesis_hash: str
    nodes: tuple[NodeEntry, ...]
    members: tuple[MemberEntry, ...]

    @property
    def chain_id(self) -> str:
        """The chain id in its genesis: the manifest id."""
        return self.id


@dataclass(frozen=True, slots=True)
class LinkEntry:
    chains: tuple[str, str]
    relayers: tuple[str, ...]
    # Each end's light client of the other, in the order of ``chains``; empty until
    # `devnet up` connected the link (causeway.provisioning.links).
    clients: tuple[str, str] = ("", "")

    @property
    def connected(self) -> bool:
        return bool(self.clients[0] and self.clients[1])


@dataclass(frozen=True, slots=True)
class RelayerEntry:
    name: str
    links: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class DevnetDescription:
    """network.json in memory."""

    directory: str
    manifest_file: str
    chains: tuple[ChainEntry, ...]
    links: tuple[LinkEntry, ...]
    relayers: tuple[RelayerEntry, ...]
    version: int = DESCRIPTION_VERSION

    @property
    def hub(self) -> ChainEntry | None:
        for chain in self.chains:
            if chain.hub:
                return chain
        return None

    def chain(self, chain_id: str) -> ChainEntry:
        for chain in self.chains:
            if chain.id == chain_id:
                return chain
        names = ", ".join(chain.id for chain in self.chains)
        raise ConfigurationError(f"no chain {chain_id!r} in the devnet (chains: {names})")

    def to_document(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "directory": self.directory,
            "manifest_file": self.manifest_file,
            "hub": self.hub.id if self.hub is not None else None,
            "chains": [
                {
                    "id": chain.id,
                    "chain_id": chain.chain_id,
                    "hub": chain.hub,
                    "consensus": chain.consensus,
                    "crypto_profile": chain.crypto_profile,
                    "algorithm": chain.algorithm,
                    "validators": chain.validators,
                    "organisations": chain.organisations,
                    "port_base": chain.port_base,
                    "directory": chain.directory,
                    "genesis_hash": chain.genesis_hash,
                    "nodes": [
                        {
                            "name": node.name,
                            "member_id": node.member_id,
                            "home": node.home,
                            "grpc_address": node.grpc_address,
                            "http_address": node.http_address,
                            "peer_address": node.peer_address,
                        }
                        for node in chain.nodes
                    ],
                    "members": [
                        {
                            "member_id": member.member_id,
                            "roles": list(member.roles),
                            "directory": member.directory,
                        }
                        for member in chain.members
                    ],
                }
                for chain in self.chains
            ],
            "links": [
                {
                    "chains": list(link.chains),
                    "relayers": list(link.relayers),
                    "clients": list(link.clients),
                }
                for link in self.links
            ],
            "relayers": [
                {"name": relayer.name, "links": [list(pair) for pair in relayer.links]}
                for relayer in self.relayers
            ],
        }


def description_file(directory: Path) -> Path:
    return directory / DESCRIPTION_FILE_NAME


def chain_directory(directory: Path, chain_id: str) -> Path:
    """A chain's network folder inside a manifest devnet."""
    return directory / CHAINS_DIRECTORY / chain_id


def is_manifest_devnet(directory: Path) -> bool:
    return description_file(directory).is_file()


def manifest_copy_name(manifest: Manifest) -> str:
    return MANIFEST_COPY_STEM + (Path(manifest.source).suffix.lower() or ".toml")


def _role_names(member: types_pb2.Member) -> tuple[str, ...]:
    return tuple(types_pb2.Role.Name(role).removeprefix("ROLE_") for role in member.roles)


def _chain_entry(directory: Path, network: NetworkDescription, manifest: Manifest) -> ChainEntry:
    chain = manifest.chain(network.chain_id)
    folder = chain_directory(directory, chain.id)
    return ChainEntry(
        id=chain.id,
        hub=chain.hub,
        consensus=chain.consensus,
        crypto_profile=network.crypto_profile,
        algorithm=network.algorithm,
        validators=chain.validators,
        organisations=chain.organisations,
        port_base=chain.port_base,
        directory=str(folder),
        genesis_hash=genesis_hash(network.genesis, get_profile(network.crypto_profile).hash).hex(),
        nodes=tuple(
            NodeEntry(
                name=node.name,
                member_id=node.member.member_id,
                home=str(node_directory(folder, node.name)),
                grpc_address=node.settings.grpc_address,
                http_address=node.settings.http_address,
                peer_address=node.settings.peer_address,
            )
            for node in network.nodes
        ),
        members=tuple(
            MemberEntry(
                member_id=member.member_id,
                roles=_role_names(member.member),
                directory=str(member_directory(folder, member.member_id)),
            )
            for member in network.members
        ),
    )


def describe_devnet(
    directory: Path, manifest: Manifest, networks: tuple[NetworkDescription, ...]
) -> DevnetDescription:
    """The description of a manifest devnet whose chains are `networks` (in manifest order)."""
    directory = directory.absolute()
    return DevnetDescription(
        directory=str(directory),
        manifest_file=str(directory / manifest_copy_name(manifest)),
        chains=tuple(_chain_entry(directory, network, manifest) for network in networks),
        links=tuple(
            LinkEntry(
                chains=link.chains,
                relayers=tuple(
                    relayer.name
                    for relayer in manifest.relayers
                    if any(carried.key == link.key for carried in relayer.links)
                ),
            )
            for link in manifest.links
        ),
        relayers=tuple(
            RelayerEntry(name=relayer.name, links=tuple(link.chains for link in relayer.links))
            for relayer in manifest.relayers
        ),
    )


def governed_config(chain: ChainManifest) -> types_pb2.ChainConfig | None:
    """The chain's configuration when only its first ``governing_organisations`` govern it (a
    MAJORITY of org1 ... orgK for governance and contracts); None for the default (all)."""
    if not chain.governing_organisations or chain.governing_organisations >= chain.organisations:
        return None
    config = default_chain_config()
    governing = [f"org{number}" for number in range(1, chain.governing_organisations + 1)]
    config.governance_policy.organisations.extend(governing)
    return config


def build_networks(manifest: Manifest, *, now_ms: int) -> tuple[NetworkDescription, ...]:
    """Every chain of the manifest in memory: keys, certificates, genesis, node settings."""
    return tuple(
        build_network(
            chain.organisations,
            chain.crypto_profile,
            chain.consensus,
            now_ms=now_ms,
            chain_id=chain.id,
            validators=chain.validators,
            port_base=chain.port_base,
            config=governed_config(chain),
        )
        for chain in manifest.chains
    )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def running_evm_processes(directory: Path) -> list[int]:
    """The anvil and gateway processes that DIR/evm/*/evm.json records and that still run
    (causeway.provisioning.evm_devnet writes those files; read here without importing it)."""
    running: list[int] = []
    for path in sorted((directory / EVM_DIRECTORY).glob("*/evm.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            pids = [int(document["anvil_pid"]), *(int(pid) for pid in document["gateway_pids"])]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for pid in pids:
            if pid <= 0:
                continue
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            except PermissionError:
                pass
            running.append(pid)
    return running


def clear_devnet(directory: Path) -> None:
    """Removes what an earlier devnet (of one chain or from a manifest) wrote in `directory`,
    node data included, and leaves anything else alone. The caller has checked that none of its
    nodes runs. A `chains` folder that no devnet description accounts for is refused, not
    deleted: it is not ours."""
    if directory.exists() and not directory.is_dir():
        raise ConfigurationError(f"{directory} exists and is not a folder")
    if not directory.is_dir():
        return
    manifest_devnet = is_manifest_devnet(directory)
    running = running_evm_processes(directory)
    if running:
        raise ConfigurationError(
            f"the devnet in {directory} still runs EVM processes (PIDs "
            f"{', '.join(str(pid) for pid in running)}): stop them with causeway devnet down "
            f"--dir {directory}"
        )
    if (directory / CHAINS_DIRECTORY).exists() and not manifest_devnet:
        raise ConfigurationError(
            f"{directory / CHAINS_DIRECTORY} exists but {directory} holds no devnet "
            f"({DESCRIPTION_FILE_NAME}); choose another folder"
        )
    try:
        if manifest_devnet:
            _remove(directory / CHAINS_DIRECTORY)
            # The EVM chains' folders (causeway.provisioning.evm_devnet): keys, configs, logs.
            _remove(directory / EVM_DIRECTORY)
            for entry in directory.glob(MANIFEST_COPY_STEM + ".*"):
                _remove(entry)
            _remove(description_file(directory))
        if (directory / DEVNET_PROCESS_FILE_NAME).exists():
            for name in GENERATED_ENTRIES:
                _remove(directory / name)
            _remove(directory / DEVNET_PROCESS_FILE_NAME)
    except OSError as error:
        raise ConfigurationError(f"cannot clear the old devnet in {directory}: {error}") from None


def _write_json(path: Path, document: dict[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def provision_devnet(
    manifest: Manifest, manifest_text: str, directory: Path, *, now_ms: int
) -> DevnetDescription:
    """Builds every chain of the manifest, then replaces any earlier devnet in `directory` with
    them (see clear_devnet): each chain in DIR/chains/<id>, the manifest's copy and network.json.
    Starts nothing."""
    networks = build_networks(manifest, now_ms=now_ms)
    clear_devnet(directory)
    directory.mkdir(parents=True, exist_ok=True)
    description = describe_devnet(directory, manifest, networks)
    for network in networks:
        write_network(network, chain_directory(directory, network.chain_id), force=True)
    try:
        (directory / manifest_copy_name(manifest)).write_text(manifest_text, encoding="utf-8")
        _write_json(description_file(directory), description.to_document())
    except OSError as error:
        raise ConfigurationError(f"cannot write the devnet into {directory}: {error}") from None
    return description


# ------------------------------------------------------------------------------ reading back


def _field(document: object, key: str, kind: type, path: Path) -> Any:
    if not isinstance(document, dict):
        raise ConfigurationError(f"{path} is not a devnet description: {document!r} is not a table")
    value = document.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigurationError(
            f"{path} is not a devnet description: {key!r} is missing or not {kind.__name__}"
        )
    return value


def _pair(value: object, path: Path) -> tuple[str, str]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(end, str) for end in value)
    ):
        raise ConfigurationError(f"{path} is not a devnet description: {value!r} is not a link")
    return (value[0], value[1])


def description_from_document(document: object, path: Path) -> DevnetDescription:
    """Reads network.json's document back; ConfigurationError naming what is wrong."""
    if not isinstance(document, dict):
        raise ConfigurationError(f"{path} is not a devnet description")
    version = _field(document, "version", int, path)
    if version != DESCRIPTION_VERSION:
        raise ConfigurationError(
            f"{path} is a devnet description of version {version}; this causeway reads "
            f"{DESCRIPTION_VERSION}"
        )
    chains: list[ChainEntry] = []
    for chain in _field(document, "chains", list, path):
        if not isinstance(chain, dict):
            raise ConfigurationError(f"{path} is not a devnet description: a chain is not a table")
        chains.append(
            ChainEntry(
                id=_field(chain, "id", str, path),
                hub=_field(chain, "hub", bool, path),
                consensus=_field(chain, "consensus", str, path),
                crypto_profile=_field(chain, "crypto_profile", str, path),
                algorithm=_field(chain, "algorithm", str, path),
                validators=_field(chain, "validators", int, path),
                organisations=_field(chain, "organisations", int, path),
                port_base=_field(chain, "port_base", int, path),
                directory=_field(chain, "directory", str, path),
                genesis_hash=_field(chain, "genesis_hash", str, path),
                nodes=tuple(
                    NodeEntry(
                        name=_field(node, "name", str, path),
                        member_id=_field(node, "member_id", str, path),
                        home=_field(node, "home", str, path),
                        grpc_address=_field(node, "grpc_address", str, path),
                        http_address=_field(node, "http_address", str, path),
                        peer_address=_field(node, "peer_address", str, path),
                    )
                    for node in _field(chain, "nodes", list, path)
                ),
                members=tuple(
                    MemberEntry(
                        member_id=_field(member, "member_id", str, path),
                        roles=tuple(_field(member, "roles", list, path)),
                        directory=_field(member, "directory", str, path),
                    )
                    for member in _field(chain, "members", list, path)
                ),
            )
        )
    links = tuple(
        LinkEntry(
            chains=_pair(_field(link, "chains", list, path), path),
            relayers=tuple(_field(link, "relayers", list, path)),
            clients=_pair(link.get("clients", ["", ""]), path)
            if isinstance(link, dict)
            else ("", ""),
        )
        for link in _field(document, "links", list, path)
    )
    relayers = tuple(
        RelayerEntry(
            name=_field(relayer, "name", str, path),
            links=tuple(_pair(pair, path) for pair in _field(relayer, "links", list, path)),
        )
        for relayer in _field(document, "relayers", list, path)
    )
    return DevnetDescription(
        directory=_field(document, "directory", str, path),
        manifest_file=_field(document, "manifest_file", str, path),
        chains=tuple(chains),
        links=links,
        relayers=relayers,
        version=version,
    )


def save_devnet_description(directory: Path, description: DevnetDescription) -> None:
    """Writes network.json again (after `devnet up` connected links)."""
    try:
        _write_json(description_file(directory), description.to_document())
    except OSError as error:
        raise ConfigurationError(f"cannot write {description_file(directory)}: {error}") from None


def load_devnet_description(directory: Path) -> DevnetDescription:
    """network.json of the manifest devnet in `directory`."""
    path = description_file(directory)
    try:
        with path.open("rb") as file:
            data = file.read(DESCRIPTION_BYTES_MAX + 1)
    except FileNotFoundError:
        raise ConfigurationError(
            f"no devnet from a manifest in {directory} (no {DESCRIPTION_FILE_NAME}): start one "
            "with causeway devnet up --manifest FILE"
        ) from None
    except OSError as error:
        raise ConfigurationError(f"cannot read {path}: {error.strerror}") from None
    if len(data) > DESCRIPTION_BYTES_MAX:
        raise ConfigurationError(
            f"{path} is larger than {DESCRIPTION_BYTES_MAX} bytes (DESCRIPTION_BYTES_MAX)"
        )
    try:
        document = json.loads(data)
    except ValueError as error:
        raise ConfigurationError(f"cannot read {path}: {error}") from None
    return description_from_document(document, path)
