"""`causeway init` in one call: check the target, build the network, write it."""

from __future__ import annotations

import time
from pathlib import Path

from causeway.provisioning.description import (
    NetworkDescription,
    build_network,
)
from causeway.provisioning.files import (
    NODES_DIRECTORY,
    ORGANISATIONS_DIRECTORY,
    check_target,
    write_network,
)


def member_directory(network_directory: Path, member_id: str) -> Path:
    """The folder of a member ("org1/admin") inside a network folder written by `causeway init`."""
    organisation, _, name = member_id.partition("/")
    return network_directory / ORGANISATIONS_DIRECTORY / organisation / "members" / name


def node_directory(network_directory: Path, name: str) -> Path:
    """A node's home folder inside a network folder written by `causeway init`."""
    return network_directory / NODES_DIRECTORY / name


def init_network(
    directory: Path,
    organisations: int,
    crypto_profile: str,
    consensus: str,
    *,
    chain_id: str | None = None,
    algorithm: str | None = None,
    validators: int = 1,
    force: bool = False,
    now_ms: int | None = None,
    port_base: int | None = None,
) -> NetworkDescription:
    """Builds a new network and writes it into `directory` (see `build_network`, `write_network`).

    The target is checked before any key is generated, so a refusal is immediate.
    """
    check_target(directory, force=force)
    network = build_network(
        organisations,
        crypto_profile,
        consensus,
        now_ms=now_ms if now_ms is not None else time.time_ns() // 1_000_000,
        chain_id=chain_id,
        algorithm=algorithm,
        validators=validators,
        port_base=port_base,
    )
    write_network(network, directory, force=force)
    return network
