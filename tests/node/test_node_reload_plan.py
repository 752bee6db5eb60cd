"""What a reload would change (node/reload.py's plan_reload, pure): safe settings applied,
peers added, and every other change named as needing a restart, the running value kept."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from operated_node import make_solo_home

from causeway.net import PeerAddress
from causeway.node import NodeConfig, load_node_config
from causeway.node.health import HealthSettings
from causeway.node.reload import RESTART_SETTINGS, SAFE_SETTINGS, plan_reload

PEER = PeerAddress("node2", "org2/node2", "10.0.0.2:7150")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> NodeConfig:
    home = make_solo_home(tmp_path_factory.mktemp("reload") / "net")
    config = load_node_config(home)
    return dataclasses.replace(config, peers=dataclasses.replace(config.peers, peers=(PEER,)))


def test_every_setting_is_either_safe_or_needs_a_restart(running: NodeConfig) -> None:
    names = {field.name for field in dataclasses.fields(NodeConfig)}
    assert names == {*SAFE_SETTINGS, *RESTART_SETTINGS, "home", "peers"}
    assert not set(SAFE_SETTINGS) & set(RESTART_SETTINGS)


def test_safe_changes_are_applied_and_the_others_kept_as_they_run(running: NodeConfig) -> None:
    moved = dataclasses.replace(PEER, address="10.0.0.9:7150")
    added = PeerAddress("node3", "org3/node3", "10.0.0.3:7150")
    loaded = dataclasses.replace(
        running,
        log_format="json",
        mempool_bytes_max=1 << 20,
        health=HealthSettings(progress_timeout_ms=90_000),
        data_dir=Path("/elsewhere"),
        map_size_bytes=1 << 40,
        peers=dataclasses.replace(
            running.peers, peers=(moved, added), listen_address="0.0.0.0:7150"
        ),
    )
    plan = plan_reload(running, loaded)
    assert plan.applied == ("log.format", "mempool.bytes_max", "health")
    assert plan.peers_added == (added,)
    assert plan.needs_restart == (
        "node.data_dir",
        "storage.map_size_bytes",
        "peers.listen_address",
        "peers.peer org2/node2 (changed)",
    )
    config = plan.config
    assert (config.log_format, config.mempool_bytes_max) == ("json", 1 << 20)
    assert config.health.progress_timeout_ms == 90_000
    assert (config.data_dir, config.map_size_bytes) == (running.data_dir, running.map_size_bytes)
    assert config.peers.listen_address == running.peers.listen_address
    assert config.peers.peers == (PEER, added)  # the running address of node2 is kept
    assert plan.changed


def test_a_removed_peer_needs_a_restart(running: NodeConfig) -> None:
    loaded = dataclasses.replace(running, peers=dataclasses.replace(running.peers, peers=()))
    plan = plan_reload(running, loaded)
    assert plan.needs_restart == ("peers.peer org2/node2 (removed)",)
    assert not plan.changed
    assert plan.config == running
