"""`causeway relayer start` as a process: a bad configuration is one line naming the file, table
and key; a relayer whose nodes are all down keeps running (its rounds fail, logged as JSON and
counted on /metrics) and stops cleanly, exit status 0, on SIGTERM or SIGINT."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx
import pytest
from typer.testing import CliRunner

from causeway.cli.main import app
from causeway.cli.relayer_command import progress_text
from causeway.crypto import PrivateKey
from causeway.interchain.relayer import RelayerMetrics, build_service, load_relayer_config

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0

runner = CliRunner()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        return int(held.getsockname()[1])


def write_member(directory: Path, chain_id: str) -> None:
    directory.mkdir(parents=True)
    key = PrivateKey.generate("ecdsa-p256")
    (directory / "key.pem").write_bytes(key.to_pem())
    (directory / "member.json").write_text(
        json.dumps(
            {
                "member_id": "org1/relayer",
                "algorithm": key.algorithm,
                "crypto_profile": "intl",
                "chain_id": chain_id,
            }
        )
    )


def write_config(
    folder: Path, relayer: str = "round_interval_ms = 100\nbackoff_max_ms = 200"
) -> Path:
    tables = []
    for chain_id in ("chain-a", "chain-b"):
        write_member(folder / chain_id, chain_id)
        tables.append(
            f'[chains.{chain_id}]\nnodes = ["127.0.0.1:{free_port()}", "127.0.0.1:{free_port()}"]\n'
            f'identity = "{chain_id}"\n'
        )
    path = folder / "relayer.toml"
    path.write_text(
        f"[relayer]\n{relayer}\n\n"
        + "\n".join(tables)
        + '\n[[links]]\nfirst_chain = "chain-a"\nfirst_client = "client-1"\n'
        'second_chain = "chain-b"\nsecond_client = "client-1"\n'
    )
    return path


def test_a_bad_configuration_is_one_line_naming_file_table_and_key(tmp_path: Path) -> None:
    path = write_config(tmp_path, "batch_deliveries_max = 513")
    result = runner.invoke(app, ["relayer", "start", "--config", str(path)])
    assert result.exit_code == 1
    assert (
        f"error: {path}: [relayer] batch_deliveries_max: must be from 1 to 512, not 513"
        in result.output
    )
    result = runner.invoke(app, ["relayer", "start", "--config", str(tmp_path / "none.toml")])
    assert result.exit_code == 1
    assert "cannot read" in result.output and "none.toml" in result.output


def test_a_bad_log_level_is_a_usage_mistake(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    result = runner.invoke(app, ["relayer", "start", "--config", str(path), "--log-level", "loud"])
    assert result.exit_code == 2
    assert "'loud' is not debug, info, warning or error" in result.output


def _start(config: Path, log: IO[bytes], *extra: str) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    environment.pop("CAUSEWAY_DEBUG", None)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "causeway.cli",
            "relayer",
            "start",
            "--config",
            str(config),
            "--json",
            *extra,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log,
        env=environment,
    )


def _log_entries(path: Path) -> list[dict[str, object]]:
    entries = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))
    return entries


def _wait_for(path: Path, message: str, process: subprocess.Popen[bytes]) -> dict[str, object]:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        for entry in _log_entries(path):
            if entry["message"] == message:
                return entry
        assert process.poll() is None, f"the relayer exited: {path.read_text()}"
        time.sleep(0.05)
    raise AssertionError(f"no {message!r} in {path.read_text()}")


@pytest.mark.e2e
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_the_relayer_survives_nodes_down_and_stops_cleanly_on_a_signal(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    config = write_config(tmp_path)
    log_path = tmp_path / "relayer.log"
    metrics_port = free_port()
    with log_path.open("wb") as log:
        process = _start(config, log, "--metrics-port", str(metrics_port))
        try:
            served = _wait_for(log_path, "metrics served", process)
            assert served["url"] == f"http://127.0.0.1:{metrics_port}/metrics"
            _wait_for(log_path, "round failed", process)
            # The failing link backs off, but rounds go on and are counted.
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            failed = 0.0
            while time.monotonic() < deadline and failed < 2:
                text = httpx.get(str(served["url"]), timeout=5).text
                for line in text.splitlines():
                    if line.startswith("causeway_relayer_rounds_total{") and (
                        'outcome="failed"' in line
                    ):
                        failed = float(line.split()[-1])
                time.sleep(0.05)
            assert failed >= 2
            process.send_signal(stop_signal)
            assert process.wait(STOP_TIMEOUT_S) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(STOP_TIMEOUT_S)
    entries = _log_entries(log_path)
    failures = [entry for entry in entries if entry["message"] == "round failed"]
    assert failures[0]["link"] == "chain-a/chain-b"
    assert "no node of chain chain-a answered" in str(failures[0]["error"])
    assert [entry["message"] for entry in entries][-2:] == ["stopping", "relayer stopped"]
    assert entries[-2]["signal"] == stop_signal.name
    # The metrics server stopped with the process.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2)


def test_the_progress_line_puts_what_waits_and_what_fails_first(tmp_path: Path) -> None:
    service, endpoints = build_service(
        load_relayer_config(write_config(tmp_path)), RelayerMetrics()
    )
    try:
        assert progress_text(service).plain.startswith("pending - · received 0")
        service.run_due()
    finally:
        for endpoint in endpoints:
            endpoint.close()
    line = progress_text(service).plain
    assert line.startswith("pending - · failing chain-a/chain-b · received 0 acknowledged 0")
    assert line.endswith("transactions 0 (0 failed) · rounds 1 (1 failed)")


def test_the_service_relays_with_the_files_settings(tmp_path: Path) -> None:
    config = load_relayer_config(
        write_config(
            tmp_path,
            "round_interval_ms = 100\nbatch_deliveries_max = 7\nround_packets_max = 9\n"
            "settle_after_ms = 2500",
        )
    )
    service, endpoints = build_service(config, RelayerMetrics())
    for endpoint in endpoints:
        endpoint.close()
    assert service.relayer.batch_deliveries_max == 7
    assert service.relayer.round_packets_max == 9
    assert service.relayer.settle_after_ms == 2500


@pytest.mark.e2e
def test_a_second_signal_does_not_wait_for_a_round_held_by_a_silent_node(tmp_path: Path) -> None:
    # A listening socket that never answers: the connection opens, the gRPC call then waits for
    # an answer until request_timeout_ms, far longer than this test.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        config = write_config(tmp_path, "request_timeout_ms = 600000")
        text = config.read_text()
        start = text.index("[chains.chain-a]\nnodes = [")
        end = text.index("]", start + len("[chains.chain-a]\nnodes = ["))
        config.write_text(f'{text[:start]}[chains.chain-a]\nnodes = ["{address}"{text[end:]}')
        log_path = tmp_path / "relayer.log"
        with log_path.open("wb") as log:
            process = _start(config, log)
            try:
                _wait_for(log_path, "relayer started", process)
                process.send_signal(signal.SIGTERM)
                _wait_for(log_path, "stopping", process)
                # Still in its round, waiting for the silent node.
                assert process.poll() is None
                process.send_signal(signal.SIGTERM)
                assert process.wait(STOP_TIMEOUT_S) == 130
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait(STOP_TIMEOUT_S)
    messages = [entry["message"] for entry in _log_entries(log_path)]
    assert messages == ["relayer started", "stopping"]
