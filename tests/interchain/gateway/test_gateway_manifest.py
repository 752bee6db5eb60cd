"""EVM chains in a devnet manifest ([[chains]] kind = "evm"): the example read whole, defaults,
and each mistake refused naming the entry and the key; and the gateway configuration a devnet
writes is one `causeway gateway start` reads."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from causeway.crypto import PrivateKey
from causeway.errors import ConfigurationError
from causeway.interchain.gateways.config import load_gateway_config
from causeway.provisioning.evm_devnet import EvmChainState, evm_chain_status, gateway_config_text
from causeway.provisioning.interchain_devnet import (
    ChainEntry,
    MemberEntry,
    NodeEntry,
    clear_devnet,
    running_evm_processes,
)
from causeway.provisioning.manifest import EvmChainManifest, load_manifest, parse_manifest
from causeway.toolchains import evm

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "devnet-evm.toml"
HUB = {"id": "hub", "hub": True, "consensus": "raft", "validators": 3, "organisations": 3}


def manifest(*evm_entries: dict[str, Any], hub: bool = True) -> dict[str, Any]:
    chains: list[dict[str, Any]] = [dict(HUB, hub=hub)]
    chains += [{"kind": "evm", **entry} for entry in evm_entries]
    return {"version": 1, "chains": chains}


def test_the_example_has_an_evm_chain() -> None:
    loaded = load_manifest(EXAMPLE)
    assert loaded.evm_chains == (
        EvmChainManifest(
            id="evm-31337",
            evm_chain_id=31337,
            block_time_s=1,
            committee=3,
            threshold=2,
            confirmations=1,
            rpc_port=7450,
        ),
    )
    assert [chain.id for chain in loaded.chains] == ["hub", "chain-a"]


def test_defaults() -> None:
    (chain,) = parse_manifest(manifest({"id": "evm"})).evm_chains
    assert (chain.evm_chain_id, chain.block_time_s, chain.committee, chain.threshold) == (
        31337,
        1,
        3,
        2,
    )
    assert (chain.confirmations, chain.rpc_port) == (2, None)
    (four,) = parse_manifest(manifest({"id": "evm", "committee": 4})).evm_chains
    assert four.threshold == 3


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({}, "'id'.*missing"),
        ({"id": "evm", "threshold": 1}, "not more than half"),
        ({"id": "evm", "threshold": 4}, "'threshold'"),
        ({"id": "evm", "committee": 17}, "'committee'"),
        ({"id": "evm", "chain_id": 0}, "'chain_id'"),
        ({"id": "evm", "block_time": 0}, "'block_time'"),
        ({"id": "evm", "confirmations": -1}, "'confirmations'"),
        ({"id": "evm", "rpc_port": 80}, "'rpc_port'"),
        ({"id": "evm", "validators": 4}, "unknown key"),
        ({"id": "hub"}, "already the id"),
    ],
)
def test_each_mistake_is_refused(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_manifest(manifest(entry))


def test_an_evm_chain_needs_a_hub_and_its_own_ids_and_ports() -> None:
    with pytest.raises(ConfigurationError, match="needs a hub"):
        parse_manifest(manifest({"id": "evm"}, hub=False))
    with pytest.raises(ConfigurationError, match="same chain_id"):
        parse_manifest(manifest({"id": "one"}, {"id": "two"}))
    with pytest.raises(ConfigurationError, match="kind"):
        parse_manifest({"version": 1, "chains": [dict(HUB, kind="fabric")]})
    document = manifest({"id": "evm", "rpc_port": 7200})
    with pytest.raises(ConfigurationError, match="rpc_port 7200 is a port of chain 'hub'"):
        parse_manifest(document)
    # A link is between Causeway chains: the gateways join an EVM chain to the hub.
    document = manifest({"id": "evm"})
    document["links"] = [{"chains": ["hub", "evm"]}]
    with pytest.raises(ConfigurationError, match="not a chain of this manifest"):
        parse_manifest(document)


def test_the_devnets_gateway_configuration_is_read_back(tmp_path: Path) -> None:
    member = tmp_path / "member"
    member.mkdir()
    key = PrivateKey.generate("ecdsa-p256")
    (member / "key.pem").write_bytes(key.to_pem())
    (member / "member.json").write_text(
        json.dumps(
            {"member_id": "org1/client", "algorithm": key.algorithm, "crypto_profile": "intl"}
        )
    )
    (tmp_path / "gateway-1.key").write_text("0x" + "22" * 32 + "\n")
    hub = ChainEntry(
        id="hub",
        hub=True,
        consensus="raft",
        crypto_profile="intl",
        algorithm="ecdsa-p256",
        validators=1,
        organisations=1,
        port_base=7400,
        directory=str(tmp_path),
        genesis_hash="00" * 32,
        nodes=(NodeEntry("node1", "org1/node1", "", "127.0.0.1:7400", "", ""),),
        members=(MemberEntry("org1/client", ("CLIENT",), str(member)),),
    )
    config = tmp_path / "gateway-1.toml"
    config.write_text(
        gateway_config_text(
            hub=hub,
            hub_client="client-1",
            identity=member,
            rpc_url="http://127.0.0.1:7450",
            evm_chain_id=31337,
            endpoint="0x" + "cd" * 20,
            key_file="gateway-1.key",
            confirmations=1,
            start_block=3,
        )
    )
    loaded = load_gateway_config(config)
    assert (loaded.hub_client_id, loaded.confirmations, loaded.start_block) == ("client-1", 1, 3)
    assert loaded.evm.private_key == bytes.fromhex("22" * 32)
    assert loaded.hub.nodes == ("127.0.0.1:7400",)


def test_a_devnet_whose_evm_processes_still_run_is_not_cleared(tmp_path: Path) -> None:
    folder = tmp_path / "evm" / "evm-1"
    folder.mkdir(parents=True)
    (folder / "evm.json").write_text(json.dumps({"anvil_pid": os.getpid(), "gateway_pids": [0]}))
    with pytest.raises(ConfigurationError, match="still runs EVM processes"):
        clear_devnet(tmp_path)
    assert (folder / "evm.json").is_file()
    (folder / "evm.json").write_text(json.dumps({"anvil_pid": 0, "gateway_pids": [0, 0]}))
    assert running_evm_processes(tmp_path) == []


def _evm_chain_state(**changes: Any) -> EvmChainState:
    state = EvmChainState(
        id="evm-31337",
        evm_chain_id=31337,
        rpc_url="http://127.0.0.1:1",
        anvil_pid=0,
        endpoint="0x" + "11" * 20,
        transfer="0x" + "22" * 20,
        hub_client="client-1",
        committee=["0x" + "33" * 20, "0x" + "44" * 20, "0x" + "55" * 20],
        threshold=2,
        confirmations=1,
        gateway_configs=[],
        gateway_pids=[0, 0, 0],
        user_key="",
        deployed_block=1,
    )
    for name, value in changes.items():
        setattr(state, name, value)
    return state


def test_status_of_a_stopped_evm_chain_shows_no_block_and_no_gateway() -> None:
    status = evm_chain_status(_evm_chain_state())
    assert (status["anvil_running"], status["block"], status["gateways_running"]) == (
        False,
        None,
        0,
    )
    assert (status["threshold"], status["committee"]) == (2, 3)


def test_status_of_a_running_evm_chain_reads_its_block(anvil: evm.AnvilProcess) -> None:
    block = int(evm.rpc(anvil.url, "eth_blockNumber", []), 16)
    # This test process stands in for one running gateway.
    status = evm_chain_status(
        _evm_chain_state(
            rpc_url=anvil.url, anvil_pid=anvil.process.pid, gateway_pids=[os.getpid(), 0, 0]
        )
    )
    assert status["anvil_running"] is True
    assert status["block"] is not None and status["block"] >= block
    assert status["gateways_running"] == 1
