"""The HTTP gateway of a real node: metrics that tell the truth, and an OpenAPI document."""

from __future__ import annotations

import httpx
import pytest
from google.protobuf import json_format
from node_harness import NodeFactory, NodeProcess, assert_idle_blocks

from causeway.api.v1 import api_pb2
from causeway.contracts.v1 import contracts_pb2

pytestmark = pytest.mark.e2e


def _metric(text: str, name: str) -> float:
    """The value of an unlabelled sample in Prometheus text exposition."""
    values = [
        float(line.split()[1])
        for line in text.splitlines()
        if line.startswith(f"{name} ") or line.startswith(f"{name}{{}}")
    ]
    assert len(values) == 1, f"{name}: {values}"
    return values[0]


def _check_height(node: NodeProcess, http: httpx.Client) -> int:
    with node.connect() as reader:
        height = reader.status().height
    answer = http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert _metric(answer.text, "causeway_height") == height
    status = json_format.Parse(http.get("/v1/status").text, api_pb2.GetStatusResponse())
    assert status.height == height
    return height


def test_metrics_and_openapi(make_node: NodeFactory) -> None:
    node = make_node("intl")
    with httpx.Client(base_url=node.http_url, timeout=30.0) as http:
        # 0, or the idle heartbeat blocks (one every 5 s with nothing to order) of a slow start.
        started = _check_height(node, http)
        with node.connect("org1/client") as client:
            assert_idle_blocks(client, 0, started)
            for value in (b"1", b"2", b"3"):
                put = client.invoke(
                    "kv", "put", contracts_pb2.KvPutArguments(key=b"m", value=value)
                )
                assert put.succeeded, put
            height = _check_height(node, http)
            assert height >= put.height >= started + 3
            assert_idle_blocks(client, put.height, height)
        metrics = http.get("/metrics").text
        assert "causeway_transactions_committed_total" in metrics
        assert "causeway_commit_latency_seconds_bucket" in metrics

        document = http.get("/openapi.json")
        assert document.status_code == 200
        openapi = document.json()
        assert str(openapi["openapi"]).startswith("3.")
        assert openapi["info"]["title"]
        for path in ("/v1/transactions", "/v1/state/{key}", "/v1/blocks/{height}", "/v1/status"):
            assert path in openapi["paths"], sorted(openapi["paths"])

    # After a restart the gauge starts at the stored height, before any new block (but an idle
    # heartbeat block, if the restart was slow).
    assert node.stop() == 0, node.log_tail()
    node.start()
    with httpx.Client(base_url=node.http_url, timeout=30.0) as http:
        restarted = _check_height(node, http)
        assert restarted >= height
        with node.connect() as reader:
            assert_idle_blocks(reader, height, restarted)
    assert node.stop() == 0, node.log_tail()
