"""`causeway gateway`: a bad configuration is one line naming the file, table and key; `start`
with its nodes down keeps running (rounds fail, counted on /metrics) and stops cleanly on
SIGTERM; `transfer` sends an ERC-20 from the EVM side by escrow (the session's anvil) and refuses
a receiver that is not CHAIN:RECEIVER before sending anything."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from gateway_support import Gateway, events, rpc_url
from typer.testing import CliRunner
from web3 import Web3

from causeway.cli.main import app
from causeway.crypto import PrivateKey
from causeway.interchain.gateways import contracts

runner = CliRunner()
# anvil's second well-known development account (web3.eth.accounts[1]).
USER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
STARTUP_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        return int(held.getsockname()[1])


def write_config(folder: Path, rpc: str, endpoint: str, hub_port: int) -> Path:
    member = folder / "member"
    member.mkdir()
    key = PrivateKey.generate("ecdsa-p256")
    (member / "key.pem").write_bytes(key.to_pem())
    (member / "member.json").write_text(
        json.dumps({"member_id": "org1/gw", "algorithm": key.algorithm, "crypto_profile": "intl"})
    )
    (folder / "gateway.key").write_text("0x" + "33" * 32)
    (folder / "user.key").write_text(USER_KEY)
    config = folder / "gateway.toml"
    config.write_text(
        f"""
[gateway]
round_interval_ms = 200
backoff_max_ms = 400

[hub]
chain_id = "hub"
nodes = ["127.0.0.1:{hub_port}"]
identity = "member"
client = "client-7"

[evm]
rpc = "{rpc}"
chain_id = 31337
endpoint = "{endpoint}"
key = "gateway.key"
"""
    )
    return config


def test_a_bad_configuration_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("[gateway]\nconfirmations = 2\n[hub]\n[evm]\n")
    result = runner.invoke(app, ["gateway", "start", "--config", str(config)])
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [f"error: {config}: [hub] chain_id: is missing"]


def test_transfer_sends_an_erc20_by_escrow(tmp_path: Path, gateway: Gateway, web3: Web3) -> None:
    config = write_config(tmp_path, rpc_url(web3), gateway.endpoint.address, 1)
    user = str(list(web3.eth.accounts)[1])
    token = contracts.deploy(web3, contracts.TEST_TOKEN_CONTRACT, user, "T", "T", 100)
    denom = f"erc20/{token.address.lower()}"
    base = ["gateway", "transfer", "--config", str(config), "--key", str(tmp_path / "user.key")]
    refused = runner.invoke(
        app, [*base, "--denom", denom, "--amount", "5", "--to", "no-chain-here"]
    )
    assert refused.exit_code != 0
    assert "CHAIN:RECEIVER" in refused.output
    assert token.functions.balanceOf(user).call() == 100

    result = runner.invoke(
        app, [*base, "--denom", denom, "--amount", "5", "--to", "hub:org1/alice", "--json"]
    )
    assert result.exit_code == 0, result.output
    sent = json.loads(result.output)
    assert sent["sequence"] == 1
    assert token.functions.balanceOf(user).call() == 95
    assert gateway.transfer.functions.escrowed(token.address).call() == 5
    receipt = web3.eth.get_transaction_receipt(sent["transaction"])
    (log,) = events(gateway.endpoint, "PacketSent", receipt)
    assert b"org1/alice" in log["args"]["packet"]


def test_start_keeps_running_with_its_nodes_down_and_stops_on_sigterm(
    tmp_path: Path, gateway: Gateway, web3: Web3
) -> None:
    config = write_config(
        tmp_path,
        rpc_url(web3),
        gateway.endpoint.address,
        free_port(),
    )
    metrics_port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "causeway.cli", "gateway", "start", "--config", str(config),
         "--metrics-port", str(metrics_port), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        failed = 0.0
        while time.monotonic() < deadline and failed < 2:
            time.sleep(0.5)
            try:
                text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
            except httpx.HTTPError:
                continue
            for line in text.splitlines():
                if line.startswith('causeway_gateway_rounds_total{outcome="failed"}'):
                    failed = float(line.split()[-1])
        assert failed >= 2
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr
        lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
        assert any(line["message"] == "gateway round failed" for line in lines)
        assert lines[-1]["message"] == "gateway stopped"
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
