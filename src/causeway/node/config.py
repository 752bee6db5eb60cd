"""A node's configuration file (config.toml in its home folder)."""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from causeway.api import AccessSettings, ApiTlsFiles, RateLimit
from causeway.consensus.raft import RaftTimeouts
from causeway.consensus.solo import BLOCK_INTERVAL_MS_DEFAULT as SOLO_BLOCK_INTERVAL_MS_DEFAULT
from causeway.consensus.tbft import TbftTimeouts
from causeway.errors import ConfigurationError
from causeway.execution.application import (
    BLOCK_BUILD_TARGET_MS_DEFAULT,
    BLOCK_TIME_DRIFT_MS_DEFAULT,
)
from causeway.net import PeerSettings, load_peer_settings
from causeway.node.health import HealthSettings, load_health_settings

CONFIG_FILE_NAME = "config.toml"


@dataclass(frozen=True, slots=True)
class ConsensusSettings:
    """Timing of the replicated engines, from the [consensus] section."""

    tbft_timeouts: TbftTimeouts
    raft_timeouts: RaftTimeouts
    # A proposed block dated further ahead of this validator's clock is refused.
    block_time_drift_ms: int = BLOCK_TIME_DRIFT_MS_DEFAULT
    # A block this node proposes takes about this long to build (execution.transactions_for_time).
    block_build_target_ms: int = BLOCK_BUILD_TARGET_MS_DEFAULT


@dataclass(frozen=True, slots=True)
class NodeConfig:
    home: Path
    name: str
    member_id: str
    key_file: Path
    data_dir: Path
    genesis_file: Path
    grpc_address: str
    http_address: str
    block_interval_ms: int
    mempool_transactions_max: int
    mempool_bytes_max: int
    map_size_bytes: int
    log_level: str
    log_format: str
    api_message_bytes_max: int
    http_request_bytes_max: int
    admission_batch_max: int
    verify_processes: int
    # Peers and transport TLS (replicated engines); an empty peer list for solo.
    peers: PeerSettings
    consensus: ConsensusSettings
    # The bounds of /healthz and /readyz (node/health.py).
    health: HealthSettings = field(default_factory=HealthSettings)
    # TLS of the client API's ports and who may call it ([api]; docs/api.md, "Access").
    api_tls: ApiTlsFiles | None = None
    api_access: AccessSettings = field(default_factory=AccessSettings)


def _section(document: dict[str, Any], name: str) -> dict[str, Any]:
    section = document.get(name, {})
    if not isinstance(section, dict):
        raise ConfigurationError(f"[{name}] in {CONFIG_FILE_NAME} must be a table")
    return section


def _value(section: dict[str, Any], key: str, kind: type, default: Any = None) -> Any:
    value = section.get(key, default)
    if value is None:
        raise ConfigurationError(f"{CONFIG_FILE_NAME}: missing setting '{key}'")
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigurationError(f"{CONFIG_FILE_NAME}: '{key}' must be an integer")
    if kind is str and not isinstance(value, str):
        raise ConfigurationError(f"{CONFIG_FILE_NAME}: '{key}' must be a string")
    if kind is int and value <= 0:
        raise ConfigurationError(f"{CONFIG_FILE_NAME}: '{key}' must be positive")
    return value


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def _log_level(section: dict[str, Any]) -> str:
    level: str = _value(section, "level", str, "info")
    if level.lower() not in LOG_LEVELS or not isinstance(logging.getLevelName(level.upper()), int):
        raise ConfigurationError(
            f"{CONFIG_FILE_NAME}: log level {level!r} is not one of {', '.join(LOG_LEVELS)}"
        )
    return level


def load_node_config(home: Path) -> NodeConfig:
    """Reads and checks NODE_HOME/config.toml; relative paths are relative to the home folder."""
    home = home.resolve()
    path = home / CONFIG_FILE_NAME
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"no {CONFIG_FILE_NAME} in {home}: is this a node home?") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigurationError(f"cannot read {path}: {error}") from None
    node = _section(document, "node")
    api = _section(document, "api")
    consensus = _section(document, "consensus")
    mempool = _section(document, "mempool")
    storage = _section(document, "storage")
    log = _section(document, "log")
    log_format = _value(log, "format", str, "text")
    if log_format not in ("text", "json"):
        raise ConfigurationError(f"{CONFIG_FILE_NAME}: log format must be 'text' or 'json'")
    return NodeConfig(
        home=home,
        name=_value(node, "name", str),
        member_id=_value(node, "member_id", str),
        key_file=home / _value(node, "key_file", str, "key.pem"),
        data_dir=home / _value(node, "data_dir", str, "data"),
        genesis_file=home / _value(node, "genesis_file", str, "genesis.json"),
        grpc_address=_value(api, "grpc_address", str, "127.0.0.1:7050"),
        http_address=_value(api, "http_address", str, "127.0.0.1:8050"),
        block_interval_ms=_value(
            consensus, "block_interval_ms", int, SOLO_BLOCK_INTERVAL_MS_DEFAULT
        ),
        mempool_transactions_max=_value(mempool, "transactions_max", int, 200_000),
        mempool_bytes_max=_value(mempool, "bytes_max", int, 256 << 20),
        map_size_bytes=_value(storage, "map_size_bytes", int, 8 << 30),
        log_level=_log_level(log),
        log_format=log_format,
        api_message_bytes_max=_value(api, "message_bytes_max", int, 64 << 20),
        http_request_bytes_max=_value(api, "http_request_bytes_max", int, 16 << 20),
        admission_batch_max=_value(mempool, "admission_batch_max", int, 10_000),
        verify_processes=_value(mempool, "verify_processes", int, os.cpu_count() or 1),
        peers=load_peer_settings(document, home),
        consensus=_consensus_settings(consensus),
        health=load_health_settings(_section(document, "health")),
        api_tls=_api_tls(api, home),
        api_access=_api_access(api),
    )


def _optional_path(section: dict[str, Any], key: str, home: Path) -> Path | None:
    value = section.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{CONFIG_FILE_NAME}: [api] '{key}' must be a file name")
    return home / value


def _api_tls(section: dict[str, Any], home: Path) -> ApiTlsFiles | None:
    certificate = _optional_path(section, "tls_certificate_file", home)
    key = _optional_path(section, "tls_key_file", home)
    client_cas = _optional_path(section, "client_ca_bundle_file", home)
    if certificate is None and key is None:
        if client_cas is not None:
            raise ConfigurationError(
                f"{CONFIG_FILE_NAME}: [api] client_ca_bundle_file needs tls_certificate_file "
                "and tls_key_file"
            )
        return None
    if certificate is None or key is None:
        raise ConfigurationError(
            f"{CONFIG_FILE_NAME}: [api] tls_certificate_file and tls_key_file go together"
        )
    return ApiTlsFiles(certificate_file=certificate, key_file=key, client_ca_bundle_file=client_cas)


def _api_access(section: dict[str, Any]) -> AccessSettings:
    require = section.get("require_authentication", False)
    if not isinstance(require, bool):
        raise ConfigurationError(
            f"{CONFIG_FILE_NAME}: [api] 'require_authentication' must be true or false"
        )
    if require and section.get("tls_certificate_file") is None:
        # A bearer token sent in plaintext can be replayed by anyone on the path until it expires.
        raise ConfigurationError(
            f"{CONFIG_FILE_NAME}: [api] require_authentication needs TLS "
            "(tls_certificate_file and tls_key_file)"
        )
    rate = section.get("requests_per_second", 0)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0:
        raise ConfigurationError(
            f"{CONFIG_FILE_NAME}: [api] 'requests_per_second' must be a number, 0 for no limit"
        )
    rate_limit = None
    if rate > 0:
        burst = _value(section, "burst", int, max(1, int(rate)))
        rate_limit = RateLimit(requests_per_second=float(rate), burst=burst)
    return AccessSettings(
        require_authentication=require,
        rate_limit=rate_limit,
        tracked_clients_max=_value(section, "tracked_clients_max", int, 10_000),
    )


def _consensus_settings(section: dict[str, Any]) -> ConsensusSettings:
    """Timeouts of the replicated engines. The defaults suit validators on one LAN; a network
    across sites wants longer ones."""
    try:
        return ConsensusSettings(
            tbft_timeouts=TbftTimeouts(
                propose_ms=_value(section, "tbft_propose_ms", int, 3_000),
                prevote_ms=_value(section, "tbft_prevote_ms", int, 1_000),
                precommit_ms=_value(section, "tbft_precommit_ms", int, 1_000),
                delta_ms=_value(section, "tbft_delta_ms", int, 500),
                commit_ms=_value(section, "tbft_commit_ms", int, 100),
            ),
            raft_timeouts=RaftTimeouts(
                # Longer than the core's own defaults: a loaded node's event loop can stall for
                # 300-600 ms, and shorter timeouts turned such stalls into elections (measured,
                # docs/performance.md); fail-over takes 1.5-3 s instead of 0.5-1 s.
                election_min_ms=_value(section, "raft_election_min_ms", int, 1_500),
                election_max_ms=_value(section, "raft_election_max_ms", int, 3_000),
                heartbeat_ms=_value(section, "raft_heartbeat_ms", int, 50),
            ),
            block_time_drift_ms=_value(
                section, "block_time_drift_ms", int, BLOCK_TIME_DRIFT_MS_DEFAULT
            ),
            block_build_target_ms=_value(
                section, "block_build_target_ms", int, BLOCK_BUILD_TARGET_MS_DEFAULT
            ),
        )
    except (ValueError, TypeError) as error:
        raise ConfigurationError(f"{CONFIG_FILE_NAME}: [consensus] {error}") from None
