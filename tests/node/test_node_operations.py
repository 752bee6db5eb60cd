"""A real solo node's operations surface: /healthz, /readyz (and its 503 with a reason), the
metrics it exports, and configuration reload by SIGHUP: what is safe applied, what needs a
restart named and left, a bad file refused with nothing changed."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from operated_node import RunningNode, make_node_home, make_solo_home, running_node
from prometheus_client.parser import text_string_to_metric_families

from causeway.cli.node_signals import PID_FILE_NAME as CLI_PID_FILE_NAME
from causeway.node import runtime

WAIT_S = 30.0


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return make_solo_home(tmp_path / "net")


@pytest.fixture(autouse=True)
def root_log_level() -> Iterator[None]:
    """A reload changes the root logger's level: the tests after it get theirs back."""
    root = logging.getLogger()
    level = root.level
    try:
        yield
    finally:
        root.setLevel(level)


async def until(condition: Callable[[], object], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.05)


async def scrape(running: RunningNode) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = await running.client.get("/metrics")
    assert answer.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def edit_config(running: RunningNode, old: str, new: str) -> None:
    text = running.config_file.read_text(encoding="utf-8")
    assert old in text, old
    running.config_file.write_text(text.replace(old, new, 1), encoding="utf-8")


async def test_a_serving_node_is_alive_and_ready(home: Path) -> None:
    async with running_node(home) as running:
        alive = await running.client.get("/healthz")
        assert alive.status_code == 200
        assert alive.json()["status"] == "ok"
        ready = await running.client.get("/readyz")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert (body["status"], body["role"], body["syncing"]) == ("ok", "solo", False)
        assert ready.headers["cache-control"] == "no-store"


async def test_a_node_whose_consensus_made_no_block_within_the_bound_is_not_ready(
    home: Path,
) -> None:
    config = home / "config.toml"
    # Idle, solo commits a heartbeat block every 5 s: far above a 1 ms bound.
    config.write_text(
        config.read_text(encoding="utf-8") + "\n[health]\nprogress_timeout_ms = 1\n",
        encoding="utf-8",
    )
    async with running_node(home) as running:
        await asyncio.sleep(0.01)
        answer = await running.client.get("/readyz")
        assert answer.status_code == 503
        body = answer.json()
        assert (body["status"], body["reason"]) == ("unavailable", "consensus_stalled")
        assert "progress_timeout_ms 1" in body["message"]
        found = await scrape(running)
        assert found[("causeway_ready", ())] == 0
        # Still alive: not ready is no reason to restart it.
        assert (await running.client.get("/healthz")).status_code == 200


async def test_the_metrics_cover_consensus_storage_mempool_and_the_api(home: Path) -> None:
    async with running_node(home) as running:
        # The idle heartbeat block (every 5 s) commits without any transaction.
        await until(lambda: running.node.store.latest_height() >= 1, "a heartbeat block")
        await running.client.get("/v1/blocks/1")
        await running.client.get("/v1/blocks/999999")
        found = await scrape(running)
    validator = running.node.config.member_id
    assert found[("causeway_height", ())] >= 1
    assert found[("causeway_consensus_blocks_proposed_total", (("proposer", validator),))] >= 1
    assert found[("causeway_consensus_step_seconds_count", (("step", "propose"),))] >= 1
    assert found[("causeway_consensus_height", ())] >= 2
    assert found[("causeway_storage_bytes", ())] > 0
    assert found[("causeway_storage_commit_seconds_count", ())] >= 1
    assert found[("causeway_mempool_transactions_max", ())] == 200_000
    route = (("method", "GET"), ("protocol", "http"), ("route", "/v1/blocks/{height}"))
    assert found[("causeway_api_requests_total", (*route, ("status", "200")))] == 1
    assert found[("causeway_api_requests_total", (*route, ("status", "404")))] == 1
    assert found[("causeway_api_request_seconds_count", route)] == 2
    assert ("causeway_ready", ()) in found
    # A solo validator signs every block: nothing missed.
    assert not [key for key in found if key[0] == "causeway_consensus_missed_votes_total"]


async def test_sighup_applies_the_safe_changes_and_names_the_others(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_node(home, install_signal_handlers=True) as running:
        node = running.node
        grpc_address = node.config.grpc_address
        edit_config(running, "transactions_max = 200000", "transactions_max = 7")
        edit_config(running, 'level = "info"', 'level = "debug"')
        edit_config(running, f'grpc_address = "{grpc_address}"', 'grpc_address = "127.0.0.1:1"')
        text = running.config_file.read_text(encoding="utf-8")
        running.config_file.write_text(
            text + "\n[health]\nbehind_blocks_max = 9\n", encoding="utf-8"
        )
        with caplog.at_level(logging.INFO, logger="causeway.node"):
            os.kill(os.getpid(), signal.SIGHUP)
            await until(
                lambda: (
                    node.metrics.registry.get_sample_value(
                        "causeway_config_reloads_total", {"outcome": "applied"}
                    )
                    == 1
                ),
                "the reload",
            )
        assert node.mempool.limits.transactions_max == 7
        assert logging.getLogger().level == logging.DEBUG
        assert node.config.health.behind_blocks_max == 9
        assert node.config.grpc_address == grpc_address  # needs a restart: left as it runs
        found = await scrape(running)
        assert found[("causeway_mempool_transactions_max", ())] == 7
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "configuration reload: api.grpc_address changed but needs a restart; not applied"
    ]
    (reloaded,) = [r for r in caplog.records if r.getMessage() == "configuration reloaded"]
    assert reloaded.applied == ["log.level", "mempool.transactions_max", "health"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ("[mempool]", "[mempool", "cannot read"),
        (
            "transactions_max = 200000",
            "transactions_max = -1",
            "'transactions_max' must be positive",
        ),
        ('level = "info"', 'level = "loud"', "log level 'loud' is not one of"),
        ("[log]", "[health]\nprogress_timeout = 5\n\n[log]", "unknown settings: progress_timeout"),
        (
            "[log]",
            '[[peers.peer]]\nname = "node9"\nmember_id = "org1/node9"\n'
            'address = "127.0.0.1:1"\n\n[log]',
            "runs no peer network",
        ),
    ],
)
async def test_a_bad_configuration_is_refused_with_the_reason_and_changes_nothing(
    home: Path, caplog: pytest.LogCaptureFixture, old: str, new: str, error: str
) -> None:
    async with running_node(home) as running:
        node = running.node
        before = node.config
        edit_config(running, "transactions_max = 200000", "transactions_max = 9")
        edit_config(running, old.replace("200000", "9"), new)
        with caplog.at_level(logging.INFO, logger="causeway.node"):
            assert node.reload() is None
    assert node.config is before
    assert node.mempool.limits.transactions_max == 200_000
    assert logging.getLogger().level != logging.DEBUG
    (refusal,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert refusal.getMessage().startswith("configuration not reloaded: ")
    assert error in refusal.getMessage()
    assert (
        node.metrics.registry.get_sample_value(
            "causeway_config_reloads_total", {"outcome": "refused"}
        )
        == 1
    )


async def test_an_unchanged_file_is_a_reload_that_changes_nothing(home: Path) -> None:
    async with running_node(home) as running:
        plan = running.node.reload()
        assert plan is not None
        assert (plan.applied, plan.peers_added, plan.needs_restart) == ((), (), ())
        assert (
            running.node.metrics.registry.get_sample_value(
                "causeway_config_reloads_total", {"outcome": "unchanged"}
            )
            == 1
        )


def test_the_cli_reads_the_pid_file_the_node_writes() -> None:
    assert runtime.PID_FILE_NAME == CLI_PID_FILE_NAME
    assert re.fullmatch(r"[a-z]+\.pid", CLI_PID_FILE_NAME)


async def test_a_validator_of_a_replicated_chain_without_peers_is_not_ready(
    tmp_path: Path,
) -> None:
    # The first of two tbft validators, alone: its peer listens nowhere.
    home = make_node_home(tmp_path / "net", consensus="tbft", validators=2)
    async with running_node(home) as running:
        answer = await running.client.get("/readyz")
        found = await scrape(running)
    assert answer.status_code == 503
    body = answer.json()
    assert (body["reason"], body["peers_connected"]) == ("too_few_peers", 0)
    assert "fewer than peers_connected_min 1" in body["message"]
    assert found[("causeway_peers_configured", ())] == 1
    assert found[("causeway_peers_connected", ())] == 0
    # Every peer counter exists for the configured peer from the start.
    assert ("causeway_peer_sent_bytes_total", (("peer", "org2/node2"),)) in found
