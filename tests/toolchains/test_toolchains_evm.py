"""The EVM toolchain: the committed lock pins anvil and solc exactly with integrity hashes; the
install is done once; solc compiles with fixed settings and caches by source hash, and reports a
compile error as such; anvil starts on 127.0.0.1 with the chain id asked for and is stopped for
sure (its whole process group), also when the code using it fails."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from causeway.errors import RequestError, ToolchainError
from causeway.toolchains import evm

LOCK = Path(evm.__file__).resolve().parent / "evm" / "package-lock.json"
PACKAGE = LOCK.with_name("package.json")

SMALL_CONTRACT = """// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;
contract Small { uint256 public value = 7; }
"""


@pytest.fixture(scope="module")
def toolchain() -> evm.EvmToolchain:
    return evm.install()


def test_the_lock_pins_exact_versions_with_integrity_hashes() -> None:
    dependencies = json.loads(PACKAGE.read_text())["dependencies"]
    assert dependencies == {"@foundry-rs/anvil": evm.ANVIL_VERSION, "solc": evm.SOLC_VERSION}
    packages = json.loads(LOCK.read_text())["packages"]
    assert packages["node_modules/solc"]["version"] == evm.SOLC_VERSION
    assert packages["node_modules/@foundry-rs/anvil"]["version"] == evm.ANVIL_VERSION
    for name, package in packages.items():
        if name:
            assert package["integrity"].startswith("sha512-"), name


def test_install_is_done_once(toolchain: evm.EvmToolchain) -> None:
    stamp = toolchain.folder / "causeway-installed"
    written = stamp.stat().st_mtime_ns
    again = evm.install()
    assert again.folder == toolchain.folder
    assert stamp.stat().st_mtime_ns == written
    assert toolchain.anvil.is_file()
    assert os.access(toolchain.anvil, os.X_OK)


def test_compiles_and_caches_by_source_hash(toolchain: evm.EvmToolchain) -> None:
    compiled = evm.compile_sources({"Small.sol": SMALL_CONTRACT}, toolchain)
    assert set(compiled) == {"Small"}
    assert compiled["Small"].bytecode
    assert any(item.get("name") == "value" for item in compiled["Small"].abi)
    cached = list((toolchain.folder / "artifacts").glob("*.json"))
    assert evm.compile_sources({"Small.sol": SMALL_CONTRACT}, toolchain) == compiled
    assert list((toolchain.folder / "artifacts").glob("*.json")) == cached


def test_a_compile_error_is_reported_with_the_compilers_message(
    toolchain: evm.EvmToolchain,
) -> None:
    broken = SMALL_CONTRACT.replace("= 7;", "= ;")
    with pytest.raises(ToolchainError, match="do not compile") as raised:
        evm.compile_sources({"Broken.sol": broken}, toolchain)
    assert "Broken.sol" in raised.value.message


def test_no_sources_is_bad_input() -> None:
    with pytest.raises(RequestError, match="no Solidity sources"):
        evm.compile_sources({})


@pytest.mark.parametrize(
    ("chain_id", "block_time", "reason"),
    [(0, None, "outside"), (2**53, None, "outside"), (31337, 0.0, "positive")],
)
def test_bad_anvil_settings_are_refused(
    toolchain: evm.EvmToolchain, chain_id: int, block_time: float | None, reason: str
) -> None:
    with pytest.raises(RequestError, match=reason):
        evm.anvil_command(toolchain, port=1, chain_id=chain_id, block_time_seconds=block_time)


def test_anvil_runs_on_loopback_with_the_chain_id_and_stops_for_sure(
    toolchain: evm.EvmToolchain,
) -> None:
    anvil = evm.start_anvil(chain_id=4242, toolchain=toolchain)
    try:
        assert anvil.url.startswith("http://127.0.0.1:")
        assert int(evm.rpc(anvil.url, "eth_chainId", []), 16) == 4242
        assert evm.rpc(anvil.url, "web3_clientVersion", []) == f"anvil/v{evm.ANVIL_VERSION}"
        # Its own process group: stopping it cannot touch the test's group.
        assert os.getpgid(anvil.process.pid) == anvil.process.pid
    finally:
        anvil.stop()
    assert anvil.process.poll() is not None
    with pytest.raises(ToolchainError):
        evm.rpc(anvil.url, "eth_chainId", [], timeout_seconds=1.0)
    anvil.stop()  # idempotent


def test_running_anvil_stops_when_the_block_fails(toolchain: evm.EvmToolchain) -> None:
    with pytest.raises(RuntimeError, match="boom"), evm.running_anvil(chain_id=7) as anvil:
        raise RuntimeError("boom")
    assert anvil.process.poll() is not None


def test_a_port_already_taken_is_reported(toolchain: evm.EvmToolchain) -> None:
    first = evm.start_anvil(chain_id=11, toolchain=toolchain)
    try:
        with pytest.raises(ToolchainError):
            evm.start_anvil(chain_id=12, port=first.port, toolchain=toolchain)
    finally:
        first.stop()


def test_no_node_is_reported_for_this_toolchain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolchainError, match="EVM toolchain"):
        evm.install(tmp_path)
    assert not (tmp_path / f"evm-{evm.VERSION}").exists()
