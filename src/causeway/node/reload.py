"""Configuration reload without a restart (SIGHUP, or `causeway node reload`).

The node re-reads config.toml and compares it with the configuration it runs (``plan_reload``,
pure). What is safe to change on a running node is applied:

- ``[log] level`` and ``format``;
- ``[mempool] transactions_max`` and ``bytes_max`` (a pool above lower new bounds keeps what it
  holds and admits nothing until blocks take it below them);
- every ``[health]`` bound;
- peers added to ``[[peers.peer]]`` (dialled from now on; their organisation's CA must be in the
  TLS CA bundle already).

Anything else that changed (listen addresses, keys, the data folder, genesis, the store's map
size, consensus timings, peer TLS files and limits, a peer removed or moved, the client API's TLS
and access settings) needs a restart: it is named in a warning and not applied; the rest is
applied all the same. A file that cannot be
read or checked (bad TOML, a bad value) changes nothing and is logged as an error.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from causeway.errors import ConfigurationError
from causeway.net import PeerAddress
from causeway.node.config import NodeConfig

# Settings applied on reload: NodeConfig field -> the name in config.toml.
SAFE_SETTINGS = {
    "log_level": "log.level",
    "log_format": "log.format",
    "mempool_transactions_max": "mempool.transactions_max",
    "mempool_bytes_max": "mempool.bytes_max",
    "health": "health",
}
# Settings that need a restart: NodeConfig field -> the name in config.toml.
RESTART_SETTINGS = {
    "name": "node.name",
    "member_id": "node.member_id",
    "key_file": "node.key_file",
    "data_dir": "node.data_dir",
    "genesis_file": "node.genesis_file",
    "grpc_address": "api.grpc_address",
    "http_address": "api.http_address",
    "api_message_bytes_max": "api.message_bytes_max",
    "http_request_bytes_max": "api.http_request_bytes_max",
    "block_interval_ms": "consensus.block_interval_ms",
    "consensus": "consensus",
    "map_size_bytes": "storage.map_size_bytes",
    "admission_batch_max": "mempool.admission_batch_max",
    "verify_processes": "mempool.verify_processes",
    # The API's TLS files are loaded into both servers' credentials at start; its access gate
    # (authentication, rate limits) is built once too, so a change waits for a restart.
    "api_tls": "api.tls_certificate_file, tls_key_file or client_ca_bundle_file",
    "api_access": "api.require_authentication, requests_per_second, burst or tracked_clients_max",
}


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    """What a reload changes: the configuration to run with from now on (the running one with
    the safe changes), the names of the safe settings changed, the peers to add, and the names
    of the changed settings that need a restart (left as they run)."""

    config: NodeConfig
    applied: tuple[str, ...]
    peers_added: tuple[PeerAddress, ...]
    needs_restart: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.applied or self.peers_added)


def plan_reload(running: NodeConfig, loaded: NodeConfig) -> ReloadPlan:
    """Compares the running configuration with the one just loaded (pure)."""
    fields = {field.name for field in dataclasses.fields(NodeConfig)}
    # Every field is classified: one added to NodeConfig must be added here too.
    unclassified = fields - set(SAFE_SETTINGS) - set(RESTART_SETTINGS) - {"home", "peers"}
    if unclassified:
        raise ConfigurationError(f"reload does not know the settings {sorted(unclassified)}")
    applied = tuple(
        name
        for field, name in SAFE_SETTINGS.items()
        if getattr(running, field) != getattr(loaded, field)
    )
    needs_restart = [
        name
        for field, name in RESTART_SETTINGS.items()
        if getattr(running, field) != getattr(loaded, field)
    ]
    peers_added, peer_restart = _peer_changes(running, loaded)
    needs_restart.extend(peer_restart)
    config = dataclasses.replace(
        running,
        **{field: getattr(loaded, field) for field in SAFE_SETTINGS},
        peers=dataclasses.replace(running.peers, peers=(*running.peers.peers, *peers_added)),
    )
    return ReloadPlan(config, applied, peers_added, tuple(needs_restart))


def _peer_changes(
    running: NodeConfig, loaded: NodeConfig
) -> tuple[tuple[PeerAddress, ...], list[str]]:
    """Peers added (safe), and the names of the peer settings that changed otherwise."""
    needs_restart: list[str] = []
    before, after = running.peers, loaded.peers
    for field in dataclasses.fields(before):
        if field.name != "peers" and getattr(before, field.name) != getattr(after, field.name):
            needs_restart.append(f"peers.{field.name}")
    known = {peer.member_id: peer for peer in before.peers}
    listed = {peer.member_id: peer for peer in after.peers}
    for member_id, peer in known.items():
        if member_id not in listed:
            needs_restart.append(f"peers.peer {member_id} (removed)")
        elif listed[member_id] != peer:
            needs_restart.append(f"peers.peer {member_id} (changed)")
    added = tuple(peer for member_id, peer in listed.items() if member_id not in known)
    return added, needs_restart
