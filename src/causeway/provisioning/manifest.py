"""A devnet manifest: the chains of one local network of chains, their links and their relayers.

`causeway devnet up --manifest FILE` reads one (TOML, or YAML when PyYAML is installed; docs/
manifest.md has every key, its default and its bound). Nothing here touches anything but the
manifest file: `load_manifest` reads and checks it, `parse_manifest` checks a document already
parsed, and both return a `Manifest` whose every chain has its port base settled, so that two
chains never listen on the same port. Every refusal is one ConfigurationError naming the file, the
table and the key, because a manifest is written by hand and its author must find the line.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from causeway.errors import ConfigurationError
from causeway.provisioning.description import (
    CONSENSUS_KINDS,
    ORGANISATIONS_MAX,
    PORT_BASE_MIN,
    PORT_MAX,
    PORTS_PER_NODE,
    VALIDATORS_MAX,
    port_base_max,
)

MANIFEST_VERSION = 1
# A manifest is a page of hand-written text; anything this large is not one.
MANIFEST_BYTES_MAX = 1 << 20
# A devnet runs every node of every chain as a process on one machine: past these it would not.
CHAINS_MAX = 16
DEVNET_NODES_MAX = 64
LINKS_MAX = 64
RELAYERS_MAX = 16
# Chain ids are bound into every signature (the rule of causeway init) and name folders here.
IDENTIFIER_CHARACTERS_MAX = 64
# Where chains without a port base of their own start: above the ports of `causeway init`'s
# defaults (gRPC 7050, peers 7150 for up to 50 nodes), below the kernel's ephemeral range.
PORT_BASE_DEFAULT = 7200
CRYPTO_PROFILES = ("intl", "gm")
# The smallest validator sets that survive one faulty validator (tbft 3f+1, raft 2f+1).
VALIDATORS_DEFAULT = {"solo": 1, "raft": 3, "tbft": 4}
CONSENSUS_DEFAULT = "tbft"
CRYPTO_DEFAULT = "intl"

TOML_SUFFIXES = (".toml",)
YAML_SUFFIXES = (".yaml", ".yml")

_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_TOP_KEYS = ("version", "port_base", "chains", "links", "relayers")
_CHAIN_KEYS = (
    "id",
    "hub",
    "consensus",
    "crypto",
    "validators",
    "organisations",
    "governing_organisations",
    "port_base",
)
# An Ethereum-compatible chain (kind = "evm"): an anvil run by the devnet, joined to the hub by a
# gateway committee of `committee` operators, `threshold` of whom must sign (docs/gateways.md).
_EVM_CHAIN_KEYS = (
    "id",
    "kind",
    "chain_id",
    "block_time",
    "committee",
    "threshold",
    "confirmations",
    "rpc_port",
)
CHAIN_KINDS = ("causeway", "evm")
EVM_CHAIN_ID_DEFAULT = 31337
EVM_CHAIN_ID_MAX = 2**53 - 1
EVM_BLOCK_TIME_DEFAULT_S = 1
EVM_BLOCK_TIME_MAX_S = 60
EVM_COMMITTEE_DEFAULT = 3
EVM_COMMITTEE_MAX = 16
EVM_CONFIRMATIONS_DEFAULT = 2
EVM_CONFIRMATIONS_MAX = 64
_LINK_KEYS = ("chains",)
_RELAYER_KEYS = ("name", "links")


@dataclass(frozen=True, slots=True)
class ChainManifest:
    """One chain: a network as `causeway init` writes it, with its own ports."""

    id: str
    consensus: str
    crypto_profile: str
    validators: int
    organisations: int
    port_base: int
    hub: bool = False
    # Governance (and contract deployment) is a MAJORITY of org1 ... orgK: all the chain's
    # organisations by default. Fewer when many organisations join a chain to transact, not to
    # govern it (a city's departments), so that a majority fits in endorsements_max.
    governing_organisations: int = 0

    @property
    def ports(self) -> range:
        """Every port its nodes listen on (gRPC, HTTP, peers for each node in turn)."""
        return range(self.port_base, self.port_base + PORTS_PER_NODE * self.validators)


@dataclass(frozen=True, slots=True)
class EvmChainManifest:
    """An Ethereum-compatible chain: anvil with this chain id and block time, its gateway
    committee of ``committee`` operators (``threshold`` of them must sign), attesting blocks
    ``confirmations`` deep; linked to the hub by the gateways, not by a relayer."""

    id: str
    evm_chain_id: int
    block_time_s: int
    committee: int
    threshold: int
    confirmations: int
    rpc_port: int | None = None


@dataclass(frozen=True, slots=True)
class LinkManifest:
    """Two chains that talk to each other, in the order the manifest gives them."""

    chains: tuple[str, str]

    @property
    def key(self) -> frozenset[str]:
        """A link has no direction: hub-a and a-hub are the same link."""
        return frozenset(self.chains)


@dataclass(frozen=True, slots=True)
class RelayerManifest:
    """A relayer and the links it carries packets over."""

    name: str
    links: tuple[LinkManifest, ...]


@dataclass(frozen=True, slots=True)
class Manifest:
    """A checked manifest: chain ids unique, links between chains, ports apart."""

    source: str
    port_base: int
    chains: tuple[ChainManifest, ...]
    links: tuple[LinkManifest, ...] = ()
    relayers: tuple[RelayerManifest, ...] = ()
    version: int = MANIFEST_VERSION
    evm_chains: tuple[EvmChainManifest, ...] = ()

    @property
    def hub(self) -> ChainManifest | None:
        for chain in self.chains:
            if chain.hub:
                return chain
        return None

    def chain(self, chain_id: str) -> ChainManifest:
        for chain in self.chains:
            if chain.id == chain_id:
                return chain
        raise ConfigurationError(f"{self.source}: no chain {chain_id!r}")


def validators_default(consensus: str) -> int:
    """The validators a chain gets when its table does not say."""
    return VALIDATORS_DEFAULT[consensus]


class _Place:
    """Where in the manifest a value sits, for error messages: file, table, entry."""

    def __init__(self, source: str, table: str) -> None:
        self.source = source
        self.table = table

    def error(self, key: str | None, problem: str) -> ConfigurationError:
        where = f"{self.source}: {self.table}"
        if key is not None:
            where += f", key {key!r}"
        return ConfigurationError(f"{where}: {problem}")


def _check_keys(table: Mapping[Any, Any], allowed: Sequence[str], place: _Place) -> None:
    for key in table:
        if not isinstance(key, str):
            raise place.error(None, f"the key {key!r} is not text")
        if key not in allowed:
            raise place.error(key, f"unknown key; the keys here are {', '.join(allowed)}")


def _table(value: object, place: _Place) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise place.error(None, f"must be a table, not {type(value).__name__}")
    return value


def _list(value: object, place: _Place, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise place.error(key, f"must be a list, not {type(value).__name__}")
    return value


def _integer(value: object, place: _Place, key: str, *, low: int, high: int, bound: str) -> int:
    # TOML and YAML booleans are Python ints; `validators = true` is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise place.error(key, f"must be an integer, not {value!r}")
    if not low <= value <= high:
        raise place.error(key, f"must be from {low} to {high} ({bound}), not {value}")
    return value


def _choice(value: object, place: _Place, key: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise place.error(key, f"must be one of {', '.join(choices)}, not {value!r}")
    return value


def _identifier(value: object, place: _Place, key: str) -> str:
    if (
        not isinstance(value, str)
        or len(value) > IDENTIFIER_CHARACTERS_MAX
        or not _IDENTIFIER.fullmatch(value)
    ):
        raise place.error(
            key,
            f"{value!r} is not an identifier: 1 to {IDENTIFIER_CHARACTERS_MAX} "
            "(IDENTIFIER_CHARACTERS_MAX) letters, digits, '-', '_' or '.', starting with a letter "
            "or a digit",
        )
    return value


def _chain(entry: object, number: int, source: str) -> tuple[dict[str, Any], _Place]:
    """The raw values of one [[chains]] table, checked one by one (ports are settled later)."""
    place = _Place(source, f"[[chains]] entry {number}")
    table = _table(entry, place)
    _check_keys(table, _CHAIN_KEYS, place)
    if "id" not in table:
        raise place.error("id", "missing; every chain needs an id")
    chain_id = _identifier(table["id"], place, "id")
    place = _Place(source, f"[[chains]] entry {number} ({chain_id!r})")
    hub = table.get("hub", False)
    if not isinstance(hub, bool):
        raise place.error("hub", f"must be true or false, not {hub!r}")
    consensus = _choice(
        table.get("consensus", CONSENSUS_DEFAULT), place, "consensus", CONSENSUS_KINDS
    )
    crypto = _choice(table.get("crypto", CRYPTO_DEFAULT), place, "crypto", CRYPTO_PROFILES)
    validators = _integer(
        table.get("validators", validators_default(consensus)),
        place,
        "validators",
        low=1,
        high=VALIDATORS_MAX,
        bound="VALIDATORS_MAX",
    )
    if consensus == "solo" and validators != 1:
        raise place.error(
            "validators", f"solo consensus has exactly one validator, not {validators}"
        )
    organisations = _integer(
        table.get("organisations", validators),
        place,
        "organisations",
        low=1,
        high=ORGANISATIONS_MAX,
        bound="ORGANISATIONS_MAX",
    )
    governing = _integer(
        table.get("governing_organisations", organisations),
        place,
        "governing_organisations",
        low=1,
        high=organisations,
        bound="the chain's organisations",
    )
    port_base: int | None = None
    if "port_base" in table:
        port_base = _port_base(table["port_base"], place, validators)
    values = {
        "id": chain_id,
        "hub": hub,
        "consensus": consensus,
        "crypto_profile": crypto,
        "validators": validators,
        "organisations": organisations,
        "governing_organisations": governing,
        "port_base": port_base,
    }
    return values, place


def _evm_chain(entry: Mapping[str, Any], number: int, source: str) -> EvmChainManifest:
    """One [[chains]] table with kind = "evm", checked key by key."""
    place = _Place(source, f"[[chains]] entry {number}")
    _check_keys(entry, _EVM_CHAIN_KEYS, place)
    if "id" not in entry:
        raise place.error("id", "missing; every chain needs an id")
    chain_id = _identifier(entry["id"], place, "id")
    place = _Place(source, f"[[chains]] entry {number} ({chain_id!r})")
    committee = _integer(
        entry.get("committee", EVM_COMMITTEE_DEFAULT),
        place,
        "committee",
        low=1,
        high=EVM_COMMITTEE_MAX,
        bound="EVM_COMMITTEE_MAX",
    )
    threshold = _integer(
        entry.get("threshold", committee // 2 + 1),
        place,
        "threshold",
        low=1,
        high=committee,
        bound="at most the committee",
    )
    if 2 * threshold <= committee:
        raise place.error(
            "threshold",
            f"{threshold} of {committee} is not more than half of the committee: two disjoint "
            "groups could each sign a different history",
        )
    rpc_port: int | None = None
    if "rpc_port" in entry:
        rpc_port = _integer(
            entry["rpc_port"], place, "rpc_port", low=PORT_BASE_MIN, high=PORT_MAX, bound="a port"
        )
    return EvmChainManifest(
        id=chain_id,
        evm_chain_id=_integer(
            entry.get("chain_id", EVM_CHAIN_ID_DEFAULT),
            place,
            "chain_id",
            low=1,
            high=EVM_CHAIN_ID_MAX,
            bound="EVM_CHAIN_ID_MAX",
        ),
        block_time_s=_integer(
            entry.get("block_time", EVM_BLOCK_TIME_DEFAULT_S),
            place,
            "block_time",
            low=1,
            high=EVM_BLOCK_TIME_MAX_S,
            bound="EVM_BLOCK_TIME_MAX_S",
        ),
        committee=committee,
        threshold=threshold,
        confirmations=_integer(
            entry.get("confirmations", EVM_CONFIRMATIONS_DEFAULT),
            place,
            "confirmations",
            low=0,
            high=EVM_CONFIRMATIONS_MAX,
            bound="EVM_CONFIRMATIONS_MAX",
        ),
        rpc_port=rpc_port,
    )


def _port_base(value: object, place: _Place, validators: int) -> int:
    highest = port_base_max(validators)
    if isinstance(value, bool) or not isinstance(value, int):
        raise place.error("port_base", f"must be an integer, not {value!r}")
    if not PORT_BASE_MIN <= value <= highest:
        raise place.error(
            "port_base",
            f"must be from {PORT_BASE_MIN} (PORT_BASE_MIN) to {highest}, not {value}: "
            f"{validators} node(s) listen on {PORTS_PER_NODE} consecutive ports each, up to "
            f"port {PORT_MAX}",
        )
    return value


def _settle_ports(
    chains: list[tuple[dict[str, Any], _Place]], port_base: int
) -> tuple[ChainManifest, ...]:
    """Chains with a port base keep it and must not overlap; the others are laid out one after
    the other from the manifest's port base, around the ranges already taken."""
    taken: list[tuple[range, str]] = []
    for values, place in chains:
        if values["port_base"] is None:
            continue
        ports = range(
            values["port_base"], values["port_base"] + PORTS_PER_NODE * values["validators"]
        )
        for other, other_id in taken:
            if ports.start < other.stop and other.start < ports.stop:
                raise place.error(
                    "port_base",
                    f"ports {ports.start}-{ports.stop - 1} overlap those of chain {other_id!r} "
                    f"({other.start}-{other.stop - 1}); each chain needs its own ports",
                )
        taken.append((ports, values["id"]))
    cursor = port_base
    settled: list[ChainManifest] = []
    for values, place in chains:
        size = PORTS_PER_NODE * values["validators"]
        if values["port_base"] is None:
            base = cursor
            moved = True
            while moved:
                moved = False
                for other, _ in taken:
                    if base < other.stop and other.start < base + size:
                        base = other.stop
                        moved = True
            if base + size - 1 > PORT_MAX:
                raise place.error(
                    None,
                    f"no room for its {size} ports after the manifest's port_base {port_base} "
                    f"and the chains before it (the last port would be {base + size - 1}, past "
                    f"{PORT_MAX}); give it a port_base or lower the manifest's",
                )
            taken.append((range(base, base + size), values["id"]))
            cursor = base + size
            settled.append(ChainManifest(**{**values, "port_base": base}))
        else:
            settled.append(ChainManifest(**values))
    return tuple(settled)


def _link_pair(value: object, place: _Place, key: str, chain_ids: set[str]) -> LinkManifest:
    if not isinstance(value, list) or len(value) != 2:
        raise place.error(key, f"a link is a list of two chain ids, not {value!r}")
    ends = []
    for end in value:
        if not isinstance(end, str) or end not in chain_ids:
            raise place.error(
                key,
                f"{end!r} is not a chain of this manifest (chains: {', '.join(sorted(chain_ids))})",
            )
        ends.append(end)
    if ends[0] == ends[1]:
        raise place.error(key, f"a link joins two different chains, not {ends[0]!r} to itself")
    return LinkManifest(chains=(ends[0], ends[1]))


def parse_manifest(document: Mapping[str, Any], source: str = "manifest") -> Manifest:
    """Checks a parsed manifest document; ConfigurationError naming `source`, table and key."""
    top = _Place(source, "the top-level table")
    _check_keys(_table(document, top), _TOP_KEYS, top)
    version = document.get("version", MANIFEST_VERSION)
    if isinstance(version, bool) or version != MANIFEST_VERSION:
        raise top.error(
            "version", f"this causeway reads version {MANIFEST_VERSION}, not {version!r}"
        )
    port_base = document.get("port_base", PORT_BASE_DEFAULT)
    if isinstance(port_base, bool) or not isinstance(port_base, int):
        raise top.error("port_base", f"must be an integer, not {port_base!r}")
    if not PORT_BASE_MIN <= port_base <= PORT_MAX:
        raise top.error(
            "port_base",
            f"must be from {PORT_BASE_MIN} (PORT_BASE_MIN) to {PORT_MAX}, not {port_base}",
        )

    if "chains" not in document:
        raise top.error("chains", "missing; a manifest describes at least one [[chains]] table")
    entries = _list(document["chains"], top, "chains")
    if not 1 <= len(entries) <= CHAINS_MAX:
        raise top.error(
            "chains", f"must hold 1 to {CHAINS_MAX} (CHAINS_MAX) chains, not {len(entries)}"
        )
    raw: list[tuple[dict[str, Any], _Place]] = []
    evm_chains: list[EvmChainManifest] = []
    seen: dict[str, int] = {}
    hub: str | None = None
    nodes = 0
    for number, entry in enumerate(entries, start=1):
        kind_place = _Place(source, f"[[chains]] entry {number}")
        kind = _choice(
            _table(entry, kind_place).get("kind", "causeway"), kind_place, "kind", CHAIN_KINDS
        )
        if kind == "evm":
            evm_chain = _evm_chain(entry, number, source)
            if evm_chain.id in seen:
                raise kind_place.error(
                    "id",
                    f"{evm_chain.id!r} is already the id of [[chains]] entry {seen[evm_chain.id]}",
                )
            seen[evm_chain.id] = number
            evm_chains.append(evm_chain)
            continue
        values, place = _chain({k: v for k, v in entry.items() if k != "kind"}, number, source)
        chain_id = values["id"]
        if chain_id in seen:
            raise place.error(
                "id", f"{chain_id!r} is already the id of [[chains]] entry {seen[chain_id]}"
            )
        seen[chain_id] = number
        if values["hub"]:
            if hub is not None:
                raise place.error("hub", f"a devnet has at most one hub, and {hub!r} is already it")
            hub = chain_id
        nodes += values["validators"]
        if nodes > DEVNET_NODES_MAX:
            raise place.error(
                "validators",
                f"the chains up to this one have {nodes} validators together, more than "
                f"{DEVNET_NODES_MAX} (DEVNET_NODES_MAX) node processes one devnet runs",
            )
        raw.append((values, place))
    if not raw:
        raise top.error("chains", "holds no Causeway chain; an EVM chain joins a hub")
    if evm_chains and hub is None:
        raise top.error(
            "chains",
            f"EVM chain {evm_chains[0].id!r} needs a hub (hub = true on a chain): its gateways "
            "join it to the hub",
        )
    evm_ids = {chain.id for chain in evm_chains}
    evm_chain_ids = [chain.evm_chain_id for chain in evm_chains]
    if len(set(evm_chain_ids)) != len(evm_chain_ids):
        raise top.error("chains", "two EVM chains have the same chain_id")
    rpc_ports = [chain.rpc_port for chain in evm_chains if chain.rpc_port is not None]
    if len(set(rpc_ports)) != len(rpc_ports):
        raise top.error("chains", "two EVM chains have the same rpc_port")
    chains = _settle_ports(raw, port_base)
    for chain in chains:
        for port in rpc_ports:
            if port in chain.ports:
                raise top.error("chains", f"rpc_port {port} is a port of chain {chain.id!r}")
    chain_ids = set(seen) - evm_ids

    link_entries = _list(document.get("links", []), top, "links")
    if len(link_entries) > LINKS_MAX:
        raise top.error(
            "links", f"must hold at most {LINKS_MAX} (LINKS_MAX) links, not {len(link_entries)}"
        )
    links: list[LinkManifest] = []
    for number, entry in enumerate(link_entries, start=1):
        place = _Place(source, f"[[links]] entry {number}")
        table = _table(entry, place)
        _check_keys(table, _LINK_KEYS, place)
        if "chains" not in table:
            raise place.error("chains", "missing; a link names its two chains")
        link = _link_pair(table["chains"], place, "chains", chain_ids)
        for earlier, other in enumerate(links, start=1):
            if other.key == link.key:
                raise place.error(
                    "chains", f"{list(link.chains)} is already [[links]] entry {earlier}"
                )
        links.append(link)

    relayer_entries = _list(document.get("relayers", []), top, "relayers")
    if len(relayer_entries) > RELAYERS_MAX:
        raise top.error(
            "relayers",
            f"must hold at most {RELAYERS_MAX} (RELAYERS_MAX) relayers, not {len(relayer_entries)}",
        )
    relayers: list[RelayerManifest] = []
    for number, entry in enumerate(relayer_entries, start=1):
        place = _Place(source, f"[[relayers]] entry {number}")
        table = _table(entry, place)
        _check_keys(table, _RELAYER_KEYS, place)
        if "name" not in table:
            raise place.error("name", "missing; every relayer needs a name")
        name = _identifier(table["name"], place, "name")
        place = _Place(source, f"[[relayers]] entry {number} ({name!r})")
        if any(other.name == name for other in relayers):
            raise place.error("name", f"{name!r} is already the name of another relayer")
        if "links" not in table:
            raise place.error("links", "missing; a relayer carries packets over at least one link")
        pairs = _list(table["links"], place, "links")
        if not pairs:
            raise place.error("links", "empty; a relayer carries packets over at least one link")
        carried: list[LinkManifest] = []
        for pair in pairs:
            link = _link_pair(pair, place, "links", chain_ids)
            declared = [other for other in links if other.key == link.key]
            if not declared:
                raise place.error(
                    "links",
                    f"{list(link.chains)} is not a link of this manifest; add it to [[links]]",
                )
            if any(other.key == link.key for other in carried):
                raise place.error("links", f"{list(link.chains)} is listed twice")
            carried.append(declared[0])
        relayers.append(RelayerManifest(name=name, links=tuple(carried)))

    return Manifest(
        source=source,
        port_base=port_base,
        chains=chains,
        links=tuple(links),
        relayers=tuple(relayers),
        evm_chains=tuple(evm_chains),
    )


def _parse_yaml(text: str, source: str) -> object:
    try:
        # PyYAML is not a dependency of causeway: a YAML manifest works where it is installed.
        yaml = importlib.import_module("yaml")
    except ImportError:
        raise ConfigurationError(
            f"{source}: reading a YAML manifest needs PyYAML (pip install pyyaml); "
            "or write the manifest in TOML"
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigurationError(f"{source}: not valid YAML: {error}") from None


def manifest_document(text: str, source: str) -> Mapping[str, Any]:
    """Parses a manifest's text as TOML or YAML, chosen by the file name's suffix."""
    suffix = Path(source).suffix.lower()
    if suffix in TOML_SUFFIXES:
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigurationError(f"{source}: not valid TOML: {error}") from None
    if suffix in YAML_SUFFIXES:
        document = _parse_yaml(text, source)
        if document is None:
            document = {}
        return _table(document, _Place(source, "the top-level table"))
    raise ConfigurationError(
        f"{source}: a manifest's name ends in {', '.join(TOML_SUFFIXES + YAML_SUFFIXES)}, "
        "which says how it is written"
    )


def read_manifest_text(path: Path) -> str:
    """The manifest's text, refused past MANIFEST_BYTES_MAX or when it is not UTF-8."""
    try:
        with path.open("rb") as file:
            data = file.read(MANIFEST_BYTES_MAX + 1)
    except OSError as error:
        raise ConfigurationError(f"cannot read the manifest {path}: {error.strerror}") from None
    if len(data) > MANIFEST_BYTES_MAX:
        raise ConfigurationError(
            f"{path}: larger than {MANIFEST_BYTES_MAX} bytes (MANIFEST_BYTES_MAX); "
            "a manifest is a page of text"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigurationError(f"{path}: not UTF-8 text ({error.reason})") from None


def load_manifest(path: Path) -> Manifest:
    """Reads and checks a manifest file (TOML, or YAML with PyYAML installed)."""
    text = read_manifest_text(path)
    return parse_manifest(manifest_document(text, str(path)), str(path))
