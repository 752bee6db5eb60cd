"""The node's metrics from what they are fed: the engine's progress (step durations, view
changes), the peer network's counters under docs/peer-protocol.md's names, the store's size."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from causeway.consensus.engines import EngineProgress
from causeway.net import COUNTER_NAMES, NetworkStatistics
from causeway.node.metrics import (
    PEER_REFUSAL_REASONS,
    NodeMetrics,
    consensus_event_families,
    peer_families,
    storage_families,
)


def samples(metrics: NodeMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    content, _ = metrics.render()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(content.decode())
        for sample in family.samples
    }


def step_count(metrics: NodeMetrics, step: str) -> float | None:
    return metrics.registry.get_sample_value(
        "causeway_consensus_step_seconds_count", {"step": step}
    )


def test_each_step_left_is_timed_and_a_higher_round_is_a_view_change() -> None:
    metrics = NodeMetrics()
    metrics.consensus_progress(EngineProgress(5, 0, "propose"), now=100.0)
    metrics.consensus_progress(EngineProgress(5, 0, "propose"), now=100.5)  # no change
    metrics.consensus_progress(EngineProgress(5, 0, "prevote"), now=101.0)
    metrics.consensus_progress(EngineProgress(5, 1, "propose"), now=104.0)  # round 1
    metrics.consensus_progress(EngineProgress(6, 0, "propose"), now=105.0)  # next height
    registry = metrics.registry
    assert step_count(metrics, "propose") == 2
    assert step_count(metrics, "prevote") == 1
    assert (
        registry.get_sample_value("causeway_consensus_step_seconds_sum", {"step": "prevote"}) == 3.0
    )
    assert registry.get_sample_value("causeway_consensus_view_changes_total") == 1
    assert registry.get_sample_value("causeway_consensus_height") == 6
    assert registry.get_sample_value("causeway_consensus_round") == 0


def test_a_new_raft_term_is_a_view_change() -> None:
    metrics = NodeMetrics()
    metrics.consensus_progress(EngineProgress(3, 1, "follower"), now=1.0)
    metrics.consensus_progress(EngineProgress(3, 2, "candidate"), now=4.0)
    metrics.consensus_progress(EngineProgress(3, 2, "leader"), now=4.2)
    assert metrics.registry.get_sample_value("causeway_consensus_view_changes_total") == 1
    assert step_count(metrics, "candidate") == 1


def test_peer_counters_carry_the_documented_names_per_peer_and_by_refusal_reason() -> None:
    statistics = NetworkStatistics()
    statistics.increment("sent_bytes", "org2/node2", 300)
    statistics.increment("refused_peers")  # an unidentified caller
    statistics.increment("refused_peers", "org9/node9")
    statistics.increment("dropped_wrong_chain_envelopes", "org2/node2")
    metrics = NodeMetrics()
    metrics.collect(
        lambda: peer_families(
            statistics, configured=lambda: ["org2/node2", "org3/node3"], connected=lambda: 1
        )
    )
    found = samples(metrics)
    for name in COUNTER_NAMES:
        # Every counter, for every configured peer, from the first scrape (zeros included).
        assert (f"causeway_peer_{name}_total", (("peer", "org3/node3"),)) in found
    assert found[("causeway_peer_sent_bytes_total", (("peer", "org2/node2"),))] == 300
    assert found[("causeway_peer_refused_peers_total", (("peer", ""),))] == 1
    assert found[("causeway_peer_refused_peers_total", (("peer", "org9/node9"),))] == 1
    reasons = {
        labels[0][1]: value
        for (name, labels), value in found.items()
        if name == "causeway_peer_refused_total"
    }
    assert set(reasons) == set(PEER_REFUSAL_REASONS.values())
    assert reasons["unknown_or_unauthorised_peer"] == 2
    assert reasons["wrong_chain"] == 1
    assert found[("causeway_peers_connected", ())] == 1
    assert found[("causeway_peers_configured", ())] == 2


def test_the_store_size_is_what_its_files_take_on_disk(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "chain").mkdir(parents=True)
    (data / "chain" / "data.mdb").write_bytes(b"x" * 100_000)
    metrics = NodeMetrics()
    metrics.collect(lambda: storage_families(data, 1 << 30))
    found = samples(metrics)
    assert found[("causeway_storage_bytes", ())] >= 100_000
    assert found[("causeway_storage_map_size_bytes", ())] == 1 << 30
    assert found[("causeway_storage_filesystem_free_bytes", ())] > 0
    assert (
        found[("causeway_storage_filesystem_free_bytes", ())]
        <= found[("causeway_storage_filesystem_size_bytes", ())]
    )
    # A data folder not made yet (a new node) is 0 bytes, not an error.
    assert storage_families(tmp_path / "missing", 1)[0].samples[0].value == 0


def test_engine_counters_are_events() -> None:
    metrics = NodeMetrics()
    metrics.collect(lambda: consensus_event_families({"elections_started": 3, "signed": 9}))
    found = samples(metrics)
    assert found[("causeway_consensus_events_total", (("event", "elections_started"),))] == 3
    assert found[("causeway_consensus_events_total", (("event", "signed"),))] == 9


def test_api_requests_are_counted_by_route_and_status() -> None:
    metrics = NodeMetrics()
    metrics.api_request("http", "GET", "/v1/blocks/{height}", "404", 0.002)
    metrics.api_request("grpc", "POST", "/causeway.api.v1.Chain/Submit", "OK", 0.01)
    found = samples(metrics)
    key = (("method", "GET"), ("protocol", "http"), ("route", "/v1/blocks/{height}"))
    assert found[("causeway_api_requests_total", (*key, ("status", "404")))] == 1
    assert found[("causeway_api_request_seconds_count", key)] == 1
