"""The gateway's configuration file: a good one read whole, each mistake refused with the file,
the table and the key; the key file's format checked without echoing it; and the process's loop
(failed rounds logged and backed off, never fatal)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from causeway.crypto import PrivateKey
from causeway.errors import ConfigurationError, NodeUnavailableError
from causeway.interchain.gateways.config import load_gateway_config, read_private_key
from causeway.interchain.gateways.gateway import GatewayReport
from causeway.interchain.gateways.service import GatewayMetrics, GatewayService

KEY = "0x" + "11" * 32
ENDPOINT = "0x" + "ab" * 20
GOOD = f"""
[gateway]
round_interval_ms = 500
confirmations = 3
checkpoint_blocks = 4
start_block = 7

[hub]
chain_id = "hub"
nodes = ["127.0.0.1:7200"]
identity = "member"
client = "client-2"

[evm]
rpc = "http://127.0.0.1:8545"
chain_id = 31337
endpoint = "{ENDPOINT}"
key = "gateway.key"
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    member = tmp_path / "member"
    member.mkdir()
    key = PrivateKey.generate("ecdsa-p256")
    (member / "key.pem").write_bytes(key.to_pem())
    (member / "member.json").write_text(
        json.dumps(
            {"member_id": "org1/gateway-1", "algorithm": key.algorithm, "crypto_profile": "intl"}
        )
    )
    (tmp_path / "gateway.key").write_text(KEY + "\n")
    return tmp_path


def write(folder: Path, text: str) -> Path:
    path = folder / "gateway.toml"
    path.write_text(text)
    return path


def test_a_good_configuration_is_read_whole(folder: Path) -> None:
    config = load_gateway_config(write(folder, GOOD))
    assert (config.round_interval_ms, config.confirmations, config.checkpoint_blocks) == (
        500,
        3,
        4,
    )
    assert config.start_block == 7
    assert (config.hub.chain_id, config.hub_client_id, config.hub_crypto) == (
        "hub",
        "client-2",
        "intl",
    )
    assert config.hub.nodes == ("127.0.0.1:7200",)
    assert (config.evm.rpc_url, config.evm.chain_id, config.evm.endpoint) == (
        "http://127.0.0.1:8545",
        31337,
        ENDPOINT,
    )
    assert config.evm.private_key == bytes.fromhex(KEY[2:])


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("[gateway]", "[gateways]", "unknown table"),
        ("confirmations = 3", "confirmations = -1", r"\[gateway\] confirmations"),
        ("checkpoint_blocks = 4", "checkpoint_blocks = 0", r"\[gateway\] checkpoint_blocks"),
        ("round_interval_ms = 500", "round_interval_ms = 5", r"\[gateway\] round_interval_ms"),
        ('client = "client-2"', "", r"\[hub\] client: is missing"),
        ('client = "client-2"', 'client = "client-2"\ncrypto = "rot13"', r"\[hub\] crypto"),
        ('client = "client-2"', 'client = "client-2"\nextra = 1', r"\[hub\] extra: unknown key"),
        ('nodes = ["127.0.0.1:7200"]', "nodes = []", r"\[hub\] nodes"),
        ('rpc = "http://127.0.0.1:8545"', 'rpc = "127.0.0.1:8545"', r"\[evm\] rpc"),
        ("chain_id = 31337", "chain_id = 0", r"\[evm\] chain_id"),
        (f'endpoint = "{ENDPOINT}"', 'endpoint = "0x12"', r"\[evm\] endpoint"),
        ('key = "gateway.key"', 'key = "missing.key"', r"\[evm\] key: cannot read"),
    ],
)
def test_each_mistake_is_refused_naming_where(
    folder: Path, old: str, new: str, message: str
) -> None:
    assert old in GOOD
    with pytest.raises(ConfigurationError, match=message):
        load_gateway_config(write(folder, GOOD.replace(old, new, 1)))


def test_missing_tables_and_bad_toml_are_refused(folder: Path) -> None:
    for table in ("hub", "evm"):
        start = GOOD.index(f"[{table}]")
        end = GOOD.find("\n[", start + 1)
        text = GOOD[:start] + (GOOD[end:] if end != -1 else "")
        with pytest.raises(ConfigurationError, match=rf"\[{table}\] is missing"):
            load_gateway_config(write(folder, text))
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_gateway_config(write(folder, "[gateway"))


@pytest.mark.parametrize(
    "content", ["", "0x12", "0x" + "zz" * 32, "0x" + "00" * 32, "0x" + "ff" * 32]
)
def test_a_bad_key_file_is_refused_without_echoing_it(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.key"
    path.write_text(content)
    with pytest.raises(ConfigurationError) as raised:
        read_private_key(path)
    if len(content) > 4:
        assert content[4:] not in raised.value.message


class FlakyGateway:
    """Fails its first rounds like a gateway whose EVM node is down, then reports one action."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.rounds = 0

    def run_round(self) -> GatewayReport:
        self.rounds += 1
        if self.rounds <= self.failures:
            raise NodeUnavailableError("EVM node down")
        return GatewayReport(attestations=1, failures=["attestation refused: test"])


def test_failed_rounds_back_off_and_never_end_the_loop() -> None:
    flaky = FlakyGateway(failures=3)
    service = GatewayService(
        flaky,  # type: ignore[arg-type]
        GatewayMetrics(),
        round_interval_s=1.0,
        backoff_max_s=5.0,
    )
    delays = []
    for _ in range(4):
        service.run_round()
        delays.append(service.delay_s())
    assert delays == [2.0, 4.0, 5.0, 1.0]
    assert (service.totals.rounds, service.totals.failed_rounds) == (4, 3)
    assert (service.totals.actions, service.totals.failures) == (1, 1)
    assert (
        service.metrics.registry.get_sample_value(
            "causeway_gateway_actions_total", {"kind": "attestations"}
        )
        == 1.0
    )


def test_the_loop_stops_when_asked() -> None:
    stop = threading.Event()
    flaky = FlakyGateway(failures=0)
    service = GatewayService(
        flaky,  # type: ignore[arg-type]
        GatewayMetrics(),
        round_interval_s=0.01,
        backoff_max_s=0.01,
        on_round=lambda _service: stop.set(),
    )
    service.gateway.evm = type("Evm", (), {"address": "0x0"})()
    service.gateway.settings = type("Settings", (), {"hub_client_id": "client-0"})()
    service.run(stop)
    assert flaky.rounds == 1
