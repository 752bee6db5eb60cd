"""deploy/grafana/causeway-node.json and deploy/prometheus/alerts.yml use only metrics that a
real node exports: a solo node is started here and its /metrics scraped, and every metric name
in every PromQL expression of both files must be among them (promtool, when Debian's
prometheus package provides it, checks the rules file's syntax too)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from operated_node import make_solo_home, running_node
from prometheus_client.parser import text_string_to_metric_families

REPOSITORY = Path(__file__).resolve().parents[2]
DASHBOARD = REPOSITORY / "deploy" / "grafana" / "causeway-node.json"
ALERTS = REPOSITORY / "deploy" / "prometheus" / "alerts.yml"
# The names a family of each type shows in the exposition, beside its own.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "gauge": (),
}
# Metrics Prometheus itself makes for every target.
PROMETHEUS_METRICS = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_CAUSEWAY_NAME = re.compile(r"(?<![A-Za-z0-9_:])(causeway_[A-Za-z0-9_:]*)")
_IDENTIFIER_BEFORE_SELECTOR = re.compile(r"(?<![A-Za-z0-9_:])([A-Za-z_:][A-Za-z0-9_:]*)\s*\{")


def exported_names(exposition: str) -> set[str]:
    """Every metric name the exposition holds: its families' (with their type's suffixes, even
    for a family without samples yet, as the peer counters of a node without peers) and its
    samples'."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression uses: every causeway_ identifier outside quotes
    (label values and strings are not names), and any other identifier written as a selector
    (`up{...}`)."""
    unquoted = _QUOTED.sub('""', expression)
    names = set(_CAUSEWAY_NAME.findall(unquoted))
    names.update(
        name
        for name in _IDENTIFIER_BEFORE_SELECTOR.findall(unquoted)
        if name not in {"by", "without", "on", "ignoring", "group_left", "group_right"}
    )
    return names


def dashboard_expressions() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    found: list[tuple[str, str]] = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            found.append((f"panel {panel['title']!r}", target["expr"]))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            found.append((f"variable {variable['name']}", variable["definition"]))
    return found


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    home = make_solo_home(tmp_path_factory.mktemp("monitoring") / "net")

    async def scrape() -> str:
        async with running_node(home) as running:
            await running.client.get("/v1/status")
            answer = await running.client.get("/metrics")
            assert answer.status_code == 200
            return answer.text

    return exported_names(asyncio.run(scrape()))


def unknown_names(expressions: list[tuple[str, str]], exported: set[str]) -> list[str]:
    return [
        f"{where}: {name} in {expression}"
        for where, expression in expressions
        for name in sorted(metric_names(expression))
        if name not in exported and name not in PROMETHEUS_METRICS
    ]


def test_the_dashboard_uses_only_metrics_a_node_exports(exported: set[str]) -> None:
    expressions = dashboard_expressions()
    assert len(expressions) > 20
    assert unknown_names(expressions, exported) == []
    used = set().union(*(metric_names(expression) for _, expression in expressions))
    # The list: consensus, peers, storage, mempool and the API all have panels.
    for name in (
        "causeway_height",
        "causeway_consensus_round",
        "causeway_consensus_step_seconds_bucket",
        "causeway_consensus_blocks_proposed_total",
        "causeway_consensus_missed_votes_total",
        "causeway_consensus_view_changes_total",
        "causeway_peers_connected",
        "causeway_peer_received_bytes_total",
        "causeway_peer_sent_bytes_total",
        "causeway_peer_refused_total",
        "causeway_storage_bytes",
        "causeway_storage_commit_seconds_bucket",
        "causeway_mempool_transactions",
        "causeway_api_requests_total",
        "causeway_api_request_seconds_bucket",
    ):
        assert name in used, name


def test_the_alert_rules_use_only_metrics_a_node_exports(exported: set[str]) -> None:
    rules = alert_rules()
    expressions = [(f"alert {rule['alert']}", str(rule["expr"])) for rule in rules]
    assert unknown_names(expressions, exported) == []
    names = {rule["alert"] for rule in rules}
    for wanted in (
        "CausewayHeightStalled",
        "CausewayNoPeers",
        "CausewayMissedVotes",
        "CausewayMempoolFull",
        "CausewayDiskFilling",
        "CausewayNodeNotReady",
    ):
        assert wanted in names
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


def test_the_check_finds_a_misspelt_metric_and_ignores_label_values() -> None:
    exported = {"causeway_height", "causeway_api_requests_total"}
    expressions = [
        ("good", 'rate(causeway_api_requests_total{route="causeway_not_a_metric"}[5m])'),
        ("bad", "changes(causeway_heigth[2m]) == 0"),
        ("selector", 'nonexistent_metric{job="x"}'),
    ]
    assert unknown_names(expressions, exported) == [
        "bad: causeway_heigth in changes(causeway_heigth[2m]) == 0",
        'selector: nonexistent_metric in nonexistent_metric{job="x"}',
    ]
    assert metric_names("sum by (instance) (up{job='a'})") == {"up"}


def test_the_dashboard_is_importable() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] == "causeway-node"
    identifiers = [panel["id"] for panel in dashboard["panels"]]
    assert len(identifiers) == len(set(identifiers))
    for panel in dashboard["panels"]:
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24, panel["title"]
        for target in panel.get("targets", []):
            # Every query goes to the data source the importer picks.
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
    variables = {variable["name"] for variable in dashboard["templating"]["list"]}
    assert variables == {"datasource", "instance"}


def test_promtool_accepts_the_alert_rules() -> None:
    # promtool comes with Debian's prometheus package, which `make test-tools` installs
    # (scripts/toolchain-promtool.sh); without it this fails rather than passing unchecked.
    assert shutil.which("promtool") is not None, "promtool is missing: run make test-tools"
    result = subprocess.run(
        ["promtool", "check", "rules", str(ALERTS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout
