"""The relayer's configuration file (TOML): the chains it reads and writes, and the links it relays.

    [relayer]
    round_interval_ms = 1000        # a round on every link this often
    round_packets_max = 1024        # packets a round carries each way (at most 16384)
    batch_deliveries_max = 100      # deliveries per transaction (at most 512)
    settle_after_ms = 10000         # atomic.settle a prepared leg by proof this long after its
                                    # hub decided (0: at once; at most 600000)

    [chains.chain-a]                # the table's name is the chain id
    nodes = ["10.0.0.1:7050", "10.0.0.2:7050"]   # tried in turn when one is down
    identity = "net-a/organisations/org1/members/relayer"   # member.json + key.pem

    [[links]]
    first_chain = "chain-a"
    first_client = "client-1"       # chain-a's client of chain-b
    second_chain = "chain-b"
    second_client = "client-3"      # chain-b's client of chain-a

Every mistake is a ConfigurationError naming the file, the table and the key; relative paths are
relative to the file's folder. The identities and TLS files are read here, so that a relayer that
starts has everything it needs to sign.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from causeway.errors import CausewayError, ConfigurationError
from causeway.sdk import Identity

CONFIG_FILE_BYTES_MAX = 1024 * 1024
TLS_FILE_BYTES_MAX = 64 * 1024
CHAINS_MAX = 64
LINKS_MAX = 256
NODES_PER_CHAIN_MAX = 16
# Below this a relayer only loads the nodes; above it a client may expire between two rounds.
ROUND_INTERVAL_MS_MIN = 100
ROUND_INTERVAL_MS_MAX = 3_600_000
ROUND_INTERVAL_MS_DEFAULT = 1_000
# The packets contract's bound on deliveries per relay transaction (packets.RELAY_DELIVERIES_MAX,
# repeated here so that reading a configuration does not load the contracts).
BATCH_DELIVERIES_MAX = 512
BATCH_DELIVERIES_DEFAULT = 100
# relaying.SETTLE_AFTER_MS_DEFAULT, repeated for the same reason.
SETTLE_AFTER_MS_DEFAULT = 10_000
# relaying.ROUND_PACKETS_DEFAULT and _MAX, repeated for the same reason.
ROUND_PACKETS_DEFAULT = 1_024
ROUND_PACKETS_MAX = 16_384
REQUEST_TIMEOUT_MS_MIN = 100
REQUEST_TIMEOUT_MS_MAX = 600_000
REQUEST_TIMEOUT_MS_DEFAULT = 10_000
SUBMIT_TIMEOUT_MS_DEFAULT = 30_000
BACKOFF_MAX_MS_DEFAULT = 30_000
CLIENT_ID_CHARACTERS_MAX = 64
# A prepared leg waits for its DECISION packet at most this long before the relayer settles it
# by proof: past the longest deadline a hub accepts (atomic.ATOMIC_DEADLINE_MAX_MS).
SETTLE_AFTER_MS_MAX = 600_000
PORT_MAX = 65_535

_RELAYER_KEYS = (
    "round_interval_ms",
    "batch_deliveries_max",
    "round_packets_max",
    "request_timeout_ms",
    "submit_timeout_ms",
    "backoff_max_ms",
    "settle_after_ms",
)
_CHAIN_KEYS = ("nodes", "identity", "tls_ca", "tls_certificate", "tls_key")
_LINK_KEYS = ("name", "first_chain", "first_client", "second_chain", "second_client")


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM bytes for a TLS channel to a chain's nodes: the CA to trust, and the relayer's own
    certificate and key when the nodes ask for one (mutual TLS)."""

    ca_pem: bytes
    certificate_pem: bytes | None = None
    key_pem: bytes | None = None


@dataclass(frozen=True, slots=True)
class ChainSettings:
    chain_id: str
    nodes: tuple[str, ...]
    identity: Identity
    identity_path: Path
    tls: TlsFiles | None = None


@dataclass(frozen=True, slots=True)
class LinkSettings:
    name: str
    first_chain: str
    first_client: str
    second_chain: str
    second_client: str


@dataclass(frozen=True, slots=True)
class RelayerConfig:
    path: Path
    chains: Mapping[str, ChainSettings]
    links: tuple[LinkSettings, ...]
    round_interval_ms: int = ROUND_INTERVAL_MS_DEFAULT
    batch_deliveries_max: int = BATCH_DELIVERIES_DEFAULT
    round_packets_max: int = ROUND_PACKETS_DEFAULT
    request_timeout_ms: int = REQUEST_TIMEOUT_MS_DEFAULT
    submit_timeout_ms: int = SUBMIT_TIMEOUT_MS_DEFAULT
    backoff_max_ms: int = BACKOFF_MAX_MS_DEFAULT
    settle_after_ms: int = SETTLE_AFTER_MS_DEFAULT


class TableReader:
    """Reads one table of the file; every error names the file, the table and the key."""

    def __init__(self, path: Path, table: str, values: Any) -> None:
        self.path = path
        self.table = table
        if not isinstance(values, dict):
            raise self.error(None, "must be a table")
        self.values: dict[str, Any] = values

    def error(self, key: str | None, message: str) -> ConfigurationError:
        where = f"[{self.table}]" if key is None else f"[{self.table}] {key}"
        return ConfigurationError(f"{self.path}: {where}: {message}")

    def check_keys(self, known: Sequence[str]) -> None:
        for key in self.values:
            if key not in known:
                raise self.error(key, f"unknown key (known: {', '.join(known)})")

    def integer(self, key: str, default: int, minimum: int, maximum: int) -> int:
        value = self.values.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer, not {value!r}")
        if not minimum <= value <= maximum:
            raise self.error(key, f"must be from {minimum} to {maximum}, not {value}")
        return value

    def text(self, key: str, *, required: bool = True, characters_max: int = 1024) -> str:
        value = self.values.get(key)
        if value is None:
            if required:
                raise self.error(key, "is missing")
            return ""
        if not isinstance(value, str) or not value:
            raise self.error(key, f"must be a non-empty string, not {value!r}")
        if len(value) > characters_max:
            raise self.error(key, f"is longer than {characters_max} characters")
        return value

    def file(self, key: str, bytes_max: int) -> bytes | None:
        name = self.text(key, required=False)
        if not name:
            return None
        path = self.path.parent / name
        try:
            with path.open("rb") as handle:
                data = handle.read(bytes_max + 1)
        except OSError as error:
            raise self.error(key, f"cannot read {path}: {error.strerror or error}") from None
        if len(data) > bytes_max:
            raise self.error(key, f"{path} is larger than {bytes_max} bytes")
        return data


def check_node_address(text: str) -> str | None:
    """Why ``text`` is not HOST:PORT (an IPv6 host in brackets, a port from 1 to 65535), or None."""
    host, separator, port = text.rpartition(":")
    if not separator or not host.strip("[]"):
        return f"{text!r} is not HOST:PORT"
    if not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= PORT_MAX:
        return f"{text!r}: the port must be a number from 1 to {PORT_MAX}"
    return None


def chain_settings(path: Path, chain_id: str, values: Any) -> ChainSettings:
    """One chain's table (``[chains.ID]`` here, ``[hub]`` in a gateway's file), checked key by
    key; a ConfigurationError names the file, the table and the key."""
    reader = TableReader(path, f"chains.{chain_id}", values)
    reader.check_keys(_CHAIN_KEYS)
    nodes = reader.values.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        raise reader.error("nodes", 'must be a non-empty list of "HOST:PORT" strings')
    if len(nodes) > NODES_PER_CHAIN_MAX:
        raise reader.error("nodes", f"lists {len(nodes)} nodes, above {NODES_PER_CHAIN_MAX}")
    for node in nodes:
        if not isinstance(node, str):
            raise reader.error("nodes", f'must list "HOST:PORT" strings, not {node!r}')
        problem = check_node_address(node)
        if problem is not None:
            raise reader.error("nodes", problem)
    if len(set(nodes)) != len(nodes):
        raise reader.error("nodes", "lists a node twice")
    identity_path = path.parent / reader.text("identity")
    try:
        identity = Identity.load(identity_path)
    except CausewayError as error:
        raise reader.error("identity", error.message) from None
    if identity.chain_id and identity.chain_id != chain_id:
        raise reader.error(
            "identity",
            f"{identity_path} is a member of chain {identity.chain_id!r}, not {chain_id!r}",
        )
    ca_pem = reader.file("tls_ca", TLS_FILE_BYTES_MAX)
    certificate_pem = reader.file("tls_certificate", TLS_FILE_BYTES_MAX)
    key_pem = reader.file("tls_key", TLS_FILE_BYTES_MAX)
    if (certificate_pem is None) != (key_pem is None):
        raise reader.error(
            "tls_certificate" if certificate_pem is None else "tls_key",
            "tls_certificate and tls_key go together",
        )
    if certificate_pem is not None and ca_pem is None:
        raise reader.error("tls_ca", "is needed with tls_certificate")
    tls = None if ca_pem is None else TlsFiles(ca_pem, certificate_pem, key_pem)
    return ChainSettings(
        chain_id=chain_id,
        nodes=tuple(nodes),
        identity=identity,
        identity_path=identity_path,
        tls=tls,
    )


def _link(path: Path, index: int, values: Any, chains: Mapping[str, ChainSettings]) -> LinkSettings:
    reader = TableReader(path, f"links.{index}", values)
    reader.check_keys(_LINK_KEYS)
    first_chain = reader.text("first_chain")
    second_chain = reader.text("second_chain")
    for key, chain_id in (("first_chain", first_chain), ("second_chain", second_chain)):
        if chain_id not in chains:
            raise reader.error(key, f"no chain {chain_id!r} in [chains]")
    if first_chain == second_chain:
        raise reader.error(
            "second_chain", f"a link joins two chains, not {first_chain!r} to itself"
        )
    first_client = reader.text("first_client", characters_max=CLIENT_ID_CHARACTERS_MAX)
    second_client = reader.text("second_client", characters_max=CLIENT_ID_CHARACTERS_MAX)
    name = reader.text("name", required=False) or f"{first_chain}/{second_chain}"
    return LinkSettings(
        name=name,
        first_chain=first_chain,
        first_client=first_client,
        second_chain=second_chain,
        second_client=second_client,
    )


def read_config_file(path: Path, tables: Sequence[str], known: str) -> dict[str, Any]:
    """A process's configuration file (TOML, at most CONFIG_FILE_BYTES_MAX) as a document
    whose top-level tables are all among ``tables`` (``known`` says them in the error): the
    relayer's, the gateway's and the directory's processes read theirs so."""
    try:
        with path.open("rb") as handle:
            data = handle.read(CONFIG_FILE_BYTES_MAX + 1)
    except OSError as error:
        raise ConfigurationError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > CONFIG_FILE_BYTES_MAX:
        raise ConfigurationError(f"{path} is larger than {CONFIG_FILE_BYTES_MAX} bytes")
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigurationError(f"{path} is not valid TOML: {error}") from None
    for key in document:
        if key not in tables:
            raise ConfigurationError(f"{path}: unknown table [{key}] (known: {known})")
    return document


def load_relayer_config(path: Path | str) -> RelayerConfig:
    """Reads and checks a relayer configuration file (see the module docstring)."""
    path = Path(path)
    document = read_config_file(
        path, ("relayer", "chains", "links"), "[relayer], [chains], [[links]]"
    )
    settings = TableReader(path, "relayer", document.get("relayer", {}))
    settings.check_keys(_RELAYER_KEYS)
    round_interval_ms = settings.integer(
        "round_interval_ms", ROUND_INTERVAL_MS_DEFAULT, ROUND_INTERVAL_MS_MIN, ROUND_INTERVAL_MS_MAX
    )
    batch = settings.integer(
        "batch_deliveries_max", BATCH_DELIVERIES_DEFAULT, 1, BATCH_DELIVERIES_MAX
    )
    round_packets_max = settings.integer(
        "round_packets_max", ROUND_PACKETS_DEFAULT, 1, ROUND_PACKETS_MAX
    )
    request_timeout_ms = settings.integer(
        "request_timeout_ms",
        REQUEST_TIMEOUT_MS_DEFAULT,
        REQUEST_TIMEOUT_MS_MIN,
        REQUEST_TIMEOUT_MS_MAX,
    )
    submit_timeout_ms = settings.integer(
        "submit_timeout_ms",
        SUBMIT_TIMEOUT_MS_DEFAULT,
        REQUEST_TIMEOUT_MS_MIN,
        REQUEST_TIMEOUT_MS_MAX,
    )
    backoff_max_ms = settings.integer(
        "backoff_max_ms", BACKOFF_MAX_MS_DEFAULT, round_interval_ms, ROUND_INTERVAL_MS_MAX
    )
    settle_after_ms = settings.integer(
        "settle_after_ms", SETTLE_AFTER_MS_DEFAULT, 0, SETTLE_AFTER_MS_MAX
    )
    chain_tables = TableReader(path, "chains", document.get("chains", {}))
    if not chain_tables.values:
        raise ConfigurationError(f"{path}: [chains] is missing: name at least two chains")
    if len(chain_tables.values) > CHAINS_MAX:
        raise chain_tables.error(
            None, f"names {len(chain_tables.values)} chains, above {CHAINS_MAX}"
        )
    chains = {
        chain_id: chain_settings(path, chain_id, values)
        for chain_id, values in chain_tables.values.items()
    }
    link_tables = document.get("links")
    if link_tables is None:
        raise ConfigurationError(f"{path}: [[links]] is missing: name at least one link")
    if not isinstance(link_tables, list) or not link_tables:
        raise ConfigurationError(f"{path}: [[links]] must be a non-empty array of tables")
    if len(link_tables) > LINKS_MAX:
        raise ConfigurationError(f"{path}: [[links]] lists {len(link_tables)}, above {LINKS_MAX}")
    links = tuple(_link(path, index, values, chains) for index, values in enumerate(link_tables))
    seen: dict[str, int] = {}
    ends: dict[tuple[str, str], int] = {}
    for index, link in enumerate(links):
        if link.name in seen:
            raise ConfigurationError(
                f"{path}: [links.{index}] name: {link.name!r} is also the name of "
                f"[links.{seen[link.name]}]"
            )
        seen[link.name] = index
        for chain_id, client_id in (
            (link.first_chain, link.first_client),
            (link.second_chain, link.second_client),
        ):
            # One client of a chain serves one counterparty: two links on it would relay the
            # same packets twice over, or prove packets of one chain with another's headers.
            if (chain_id, client_id) in ends:
                raise ConfigurationError(
                    f"{path}: [links.{index}]: client {client_id!r} of chain {chain_id!r} is "
                    f"also an end of [links.{ends[(chain_id, client_id)]}]"
                )
            ends[(chain_id, client_id)] = index
    return RelayerConfig(
        path=path,
        chains=chains,
        links=links,
        round_interval_ms=round_interval_ms,
        batch_deliveries_max=batch,
        round_packets_max=round_packets_max,
        request_timeout_ms=request_timeout_ms,
        submit_timeout_ms=submit_timeout_ms,
        backoff_max_ms=backoff_max_ms,
        settle_after_ms=settle_after_ms,
    )
