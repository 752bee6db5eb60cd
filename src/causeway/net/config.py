"""The ``[peers]`` section of a node's config.toml: where to listen, whom to dial, the bounds.

```toml
[peers]
listen_address = "127.0.0.1:7150"
tls_key_file = "tls/node.key"
tls_certificate_file = "tls/node.crt"
tls_ca_bundle_file = "tls/ca-bundle.pem"
# optional bounds, with their defaults: see PeerLimits, ReconnectBackoff and PeerSettings

[[peers.peer]]
name = "node2"              # the DNS name the peer's TLS certificate must carry
member_id = "org2/node2"    # the CN of the peer's TLS certificate
address = "10.0.0.2:7150"   # where to dial it
```
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from causeway.errors import ConfigurationError

MEBIBYTE = 1 << 20
SECTION_NAME = "peers"
PEER_LIST_KEY = "peer"
DEFAULT_LISTEN_ADDRESS = "127.0.0.1:7150"
DEFAULT_TLS_KEY_FILE = "tls/node.key"
DEFAULT_TLS_CERTIFICATE_FILE = "tls/node.crt"
DEFAULT_TLS_CA_BUNDLE_FILE = "tls/ca-bundle.pem"
PEERS_MAX = 256
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class PeerAddress:
    """A peer to dial: its node name (checked against its TLS certificate's DNS names), its
    member id (the certificate's common name) and its address ``host:port``."""

    name: str
    member_id: str
    address: str

    @property
    def organisation(self) -> str:
        return self.member_id.partition("/")[0]


@dataclass(frozen=True, slots=True)
class PeerLimits:
    """Every bound of the peer transport, by name (docs/peer-protocol.md, "Bounds")."""

    message_bytes_max: int = 64 * MEBIBYTE
    """gRPC's own bound on one message, both directions; above it gRPC ends the stream."""
    envelope_bytes_max: int = 32 * MEBIBYTE
    """A received envelope above this is dropped and counted; the stream goes on."""
    transaction_batch_transactions_max: int = 1000
    transaction_batch_bytes_max: int = 4 * MEBIBYTE
    consensus_queue_max: int = 1024
    """Consensus envelopes waiting per peer; when full the OLDEST is dropped."""
    transaction_queue_max: int = 256
    """Transaction batches waiting per peer; when full the NEWEST is dropped."""
    incoming_streams_per_peer_max: int = 4
    concurrent_rpcs_max: int = 256
    blocks_per_request_max: int = 64
    """Blocks one GetBlocks answer carries at most."""

    def check(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigurationError(f"[peers] {name} must be a positive integer")
        if self.envelope_bytes_max > self.message_bytes_max:
            raise ConfigurationError(
                "[peers] envelope_bytes_max must not be above message_bytes_max"
            )
        if self.transaction_batch_bytes_max > self.envelope_bytes_max:
            raise ConfigurationError(
                "[peers] transaction_batch_bytes_max must not be above envelope_bytes_max"
            )


@dataclass(frozen=True, slots=True)
class ReconnectBackoff:
    """Exponential backoff between connection attempts to one peer, with jitter."""

    initial_ms: int = 100
    max_ms: int = 10_000
    multiplier: float = 2.0
    jitter: float = 0.2
    """Each delay is shortened by a random fraction of itself up to this, so that nodes that
    lost a peer at the same moment do not all dial it at the same moment."""

    def check(self) -> None:
        if self.initial_ms <= 0 or self.max_ms < self.initial_ms:
            raise ConfigurationError(
                "[peers] reconnect_initial_ms must be positive and not above reconnect_max_ms"
            )
        if self.multiplier < 1:
            raise ConfigurationError("[peers] reconnect_multiplier must be at least 1")
        if not 0 <= self.jitter < 1:
            raise ConfigurationError("[peers] reconnect_jitter must be in [0, 1)")


@dataclass(frozen=True, slots=True)
class PeerSettings:
    """Everything PeerNetwork needs from the configuration."""

    listen_address: str
    tls_key_file: Path
    tls_certificate_file: Path
    tls_ca_bundle_file: Path
    peers: tuple[PeerAddress, ...] = ()
    limits: PeerLimits = field(default_factory=PeerLimits)
    backoff: ReconnectBackoff = field(default_factory=ReconnectBackoff)
    connect_timeout_ms: int = 5_000
    keepalive_ms: int = 10_000
    keepalive_timeout_ms: int = 5_000
    sync_request_timeout_ms: int = 30_000

    def check(self) -> None:
        self.limits.check()
        self.backoff.check()
        for name in (
            "connect_timeout_ms",
            "keepalive_ms",
            "keepalive_timeout_ms",
            "sync_request_timeout_ms",
        ):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"[peers] {name} must be positive")
        if not self.listen_address:
            raise ConfigurationError("[peers] listen_address must not be empty")
        if len(self.peers) > PEERS_MAX:
            raise ConfigurationError(f"[peers] lists {len(self.peers)} peers, above {PEERS_MAX}")
        names: set[str] = set()
        members: set[str] = set()
        for peer in self.peers:
            check_peer_address(peer)
            if peer.name in names or peer.member_id in members:
                raise ConfigurationError(
                    f"[peers] lists {peer.name!r} ({peer.member_id!r}) more than once"
                )
            names.add(peer.name)
            members.add(peer.member_id)


def check_peer_address(peer: PeerAddress) -> None:
    if not _DNS_LABEL.match(peer.name):
        raise ConfigurationError(
            f"[[peers.peer]] name {peer.name!r} must be a lower-case DNS label (it is checked"
            " against the peer's TLS certificate)"
        )
    organisation, _, name = peer.member_id.partition("/")
    if not organisation or not name:
        raise ConfigurationError(
            f"[[peers.peer]] member_id {peer.member_id!r} must be '<organisation>/<name>'"
        )
    host, _, port = peer.address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(
            f"[[peers.peer]] address {peer.address!r} of {peer.name!r} must be 'host:port'"
        )


def _table(document: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    table = document.get(name, {})
    if not isinstance(table, Mapping):
        raise ConfigurationError(f"[{name}] in config.toml must be a table")
    return table


def _string(section: Mapping[str, Any], key: str, default: str) -> str:
    value = section.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"[peers] {key} must be a non-empty string")
    return value


def _integer(section: Mapping[str, Any], key: str, default: int) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(f"[peers] {key} must be a positive integer")
    return value


def _number(section: Mapping[str, Any], key: str, default: float) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"[peers] {key} must be a number")
    return float(value)


def _peer_list(section: Mapping[str, Any]) -> tuple[PeerAddress, ...]:
    entries = section.get(PEER_LIST_KEY, [])
    if not isinstance(entries, list):
        raise ConfigurationError("[[peers.peer]] must be an array of tables")
    peers: list[PeerAddress] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise ConfigurationError("each [[peers.peer]] must be a table")
        values: dict[str, str] = {}
        for key in ("name", "member_id", "address"):
            value = entry.get(key)
            if not isinstance(value, str) or not value:
                raise ConfigurationError(f"each [[peers.peer]] needs a non-empty string {key!r}")
            values[key] = value
        peers.append(PeerAddress(**values))
    return tuple(peers)


KNOWN_KEYS = frozenset(
    {
        "listen_address",
        "tls_key_file",
        "tls_certificate_file",
        "tls_ca_bundle_file",
        PEER_LIST_KEY,
        *PeerLimits.__dataclass_fields__,
        "reconnect_initial_ms",
        "reconnect_max_ms",
        "reconnect_multiplier",
        "reconnect_jitter",
        "connect_timeout_ms",
        "keepalive_ms",
        "keepalive_timeout_ms",
        "sync_request_timeout_ms",
    }
)


def load_peer_settings(document: Mapping[str, Any], home: Path) -> PeerSettings:
    """PeerSettings from a parsed config.toml; relative paths are relative to ``home``.

    A document without ``[peers]`` gives the defaults and no peers. ConfigurationError for
    anything out of place.
    """
    section = _table(document, SECTION_NAME)
    unknown = sorted(set(section) - KNOWN_KEYS)
    if unknown:
        # A misspelt bound would otherwise be ignored silently.
        raise ConfigurationError(f"[peers] has unknown settings: {', '.join(unknown)}")
    defaults_limits = PeerLimits()
    limits = PeerLimits(
        **{
            name: _integer(section, name, getattr(defaults_limits, name))
            for name in PeerLimits.__dataclass_fields__
        }
    )
    defaults_backoff = ReconnectBackoff()
    backoff = ReconnectBackoff(
        initial_ms=_integer(section, "reconnect_initial_ms", defaults_backoff.initial_ms),
        max_ms=_integer(section, "reconnect_max_ms", defaults_backoff.max_ms),
        multiplier=_number(section, "reconnect_multiplier", defaults_backoff.multiplier),
        jitter=_number(section, "reconnect_jitter", defaults_backoff.jitter),
    )
    defaults = PeerSettings(
        listen_address=DEFAULT_LISTEN_ADDRESS,
        tls_key_file=Path(DEFAULT_TLS_KEY_FILE),
        tls_certificate_file=Path(DEFAULT_TLS_CERTIFICATE_FILE),
        tls_ca_bundle_file=Path(DEFAULT_TLS_CA_BUNDLE_FILE),
    )
    settings = PeerSettings(
        listen_address=_string(section, "listen_address", DEFAULT_LISTEN_ADDRESS),
        tls_key_file=home / _string(section, "tls_key_file", DEFAULT_TLS_KEY_FILE),
        tls_certificate_file=home
        / _string(section, "tls_certificate_file", DEFAULT_TLS_CERTIFICATE_FILE),
        tls_ca_bundle_file=home
        / _string(section, "tls_ca_bundle_file", DEFAULT_TLS_CA_BUNDLE_FILE),
        peers=_peer_list(section),
        limits=limits,
        backoff=backoff,
        connect_timeout_ms=_integer(section, "connect_timeout_ms", defaults.connect_timeout_ms),
        keepalive_ms=_integer(section, "keepalive_ms", defaults.keepalive_ms),
        keepalive_timeout_ms=_integer(
            section, "keepalive_timeout_ms", defaults.keepalive_timeout_ms
        ),
        sync_request_timeout_ms=_integer(
            section, "sync_request_timeout_ms", defaults.sync_request_timeout_ms
        ),
    )
    settings.check()
    return settings
