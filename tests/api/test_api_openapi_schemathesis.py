"""Schemathesis against the HTTP gateway on 127.0.0.1: the OpenAPI document agrees with the server.

The gateway serves the in-memory chain double (as the other API tests do) through uvicorn on a
free loopback port. Schemathesis's own command reads /openapi.json from it and, for every
operation, sends requests the schema allows and requests it forbids in all its phases (examples,
coverage, fuzzing, stateful), with every check it has: no 5xx, documented statuses and content
types, answers that fit their schemas, schema-violating requests refused, 405 for undeclared
methods (schema-valid requests may be refused: see --exclude-checks below). Any failure fails
the test with Schemathesis's report.

The examples per operation are bounded and the seed fixed, so that the run is the same on every
machine and takes seconds; SCHEMATHESIS_SEED picks another seed for a wider search.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from chain_double import ChainDouble

from causeway.api import create_http_app

EXAMPLES_PER_OPERATION = 25
SEED_DEFAULT = "20261203"
REQUEST_BYTES_MAX = 1 << 20
REQUEST_TIMEOUT_S = 10.0
START_TIMEOUT_S = 20.0
RUN_TIMEOUT_S = 240.0
METRICS = (b"causeway_height 0\n", "text/plain; version=0.0.4; charset=utf-8")
HERE = Path(__file__).resolve().parent


class _Gateway:
    """uvicorn on a thread of its own, serving the gateway on a free loopback port."""

    def __init__(self) -> None:
        # Streams end after the committed blocks: a live stream would never finish a request.
        app = create_http_app(
            ChainDouble(live=False),
            request_bytes_max=REQUEST_BYTES_MAX,
            metrics_handler=lambda: METRICS,
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="gateway", daemon=True)

    @property
    def url(self) -> str:
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise AssertionError("the gateway did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(START_TIMEOUT_S)


@pytest.fixture
def gateway_url() -> Iterator[str]:
    gateway = _Gateway()
    gateway.start()
    try:
        yield gateway.url
    finally:
        gateway.stop()


def test_the_gateway_agrees_with_its_openapi_document(gateway_url: str, tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{gateway_url}/openapi.json",
            "--checks",
            "all",
            # Bodies carry transactions as canonical signed bytes (encodedTransaction); no schema
            # can say which bytes are a signed, canonically encoded transaction or which keys
            # are worth a proof, so a schema-valid body may rightly be refused with 400. Every
            # other check stays on, including that schema-violating bodies are refused.
            "--exclude-checks",
            "positive_data_acceptance",
            "--mode",
            "all",
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            os.environ.get("SCHEMATHESIS_SEED", SEED_DEFAULT),
            "--workers",
            "1",
            "--request-timeout",
            str(REQUEST_TIMEOUT_S),
            "--generation-database",
            "none",
            # Health checks judge how fast data is generated, not the API; a loaded CI machine
            # must not fail the test for being slow.
            "--suppress-health-check",
            "all",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "No issues found" in report or " passed" in report, report
