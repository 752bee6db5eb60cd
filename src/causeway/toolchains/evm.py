"""The EVM toolchain of the Ethereum-compatible gateway (docs/gateways.md): anvil, a local EVM
chain for devnets and tests, and solc, the Solidity compiler of the gateway's contracts.

Both come from npm, pinned exactly with integrity hashes by the package-lock.json committed in
``evm/`` beside this module: ``@foundry-rs/anvil`` 1.7.1 (the binary ships in the platform
package ``@foundry-rs/anvil-<os>-<cpu>``, no download at install time) and ``solc`` 0.8.37
(solc-js: the compiler as WebAssembly, no network at compile time). ``install`` runs ``npm ci``
once into ``$CAUSEWAY_TOOLCHAINS/evm-VERSION`` (default ``~/.cache/causeway/toolchains``), as
the AssemblyScript toolchain does.

``compile_sources`` compiles with fixed settings (optimizer on, via-IR, EVM version pinned) and
caches the output by the hash of the sources and settings; ``start_anvil`` starts anvil on
127.0.0.1 in its own process group, and ``AnvilProcess.stop`` ends that group for sure.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from causeway.errors import RequestError, ToolchainError
from causeway.toolchains.assemblyscript import (
    NODE_MAJOR_VERSION_MIN,
    exclusive_lock,
    run_tool,
    toolchains_folder,
)

VERSION = "1.7.1"
ANVIL_VERSION = "1.7.1"
SOLC_VERSION = "0.8.37"
# The hardfork anvil runs and the EVM version solc targets, pinned so that the header format
# (the fields the hub's evm-committee client decodes) and the opcodes do not change with a
# release's default. Cancun bytecode runs on a Prague chain.
HARDFORK = "prague"
EVM_VERSION = "cancun"
# via-IR: the endpoint's functions take more values than the legacy code generator's stack
# reaches; the optimizer runs with it.
COMPILER_SETTINGS: Mapping[str, Any] = {
    "viaIR": True,
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": EVM_VERSION,
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
}
LOOPBACK = "127.0.0.1"
INSTALL_TIMEOUT_SECONDS = 600
COMPILE_TIMEOUT_SECONDS = 600
ANVIL_START_TIMEOUT_SECONDS = 30.0
ANVIL_STOP_TIMEOUT_SECONDS = 10.0
CHAIN_ID_MAX = 2**53 - 1

_FILES = Path(__file__).resolve().parent / "evm"
_PACKAGE_FILES = ("package.json", "package-lock.json")
_STAMP_FILE_NAME = "causeway-installed"
_ARTIFACTS_FOLDER = "artifacts"


@dataclass(frozen=True, slots=True)
class EvmToolchain:
    """An installed toolchain: its folder and the ``node`` that runs solc-js."""

    folder: Path
    node: Path

    @property
    def anvil(self) -> Path:
        """The anvil binary of this platform's package (the first one npm installed)."""
        candidates = sorted(
            (self.folder / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil")
        )
        if not candidates:
            raise ToolchainError(
                f"no @foundry-rs/anvil-<platform> package in {self.folder}: anvil {ANVIL_VERSION} "
                "ships no binary for this platform"
            )
        return candidates[0]

    @property
    def solc(self) -> Path:
        return self.folder / "node_modules" / "solc" / "solc.js"


@dataclass(frozen=True, slots=True)
class CompiledContract:
    """A contract's ABI (the JSON list) and creation bytecode."""

    name: str
    abi: list[Any]
    bytecode: bytes


def toolchain_folder(root: Path | None = None) -> Path:
    """Where this version of the toolchain is installed, below ``root`` or the shared folder."""
    return (root if root is not None else toolchains_folder()) / f"evm-{VERSION}"


def install(root: Path | None = None) -> EvmToolchain:
    """anvil and solc, installed with ``npm ci`` from the committed lock file if not yet.

    Safe to call from several processes at once (a file lock); staged beside the folder and
    moved into place when complete. ToolchainError when node or npm is missing or npm fails."""
    folder = toolchain_folder(root)
    node = _program("node")
    _check_node_version(node)
    if _installed(folder):
        return EvmToolchain(folder, node)
    npm = _program("npm")
    folder.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(folder.parent / f"{folder.name}.lock"):
        if _installed(folder):
            return EvmToolchain(folder, node)
        staging = folder.parent / f"{folder.name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for name in _PACKAGE_FILES:
            shutil.copyfile(_FILES / name, staging / name)
        # --ignore-scripts: anvil's postinstall would only download the platform package that
        # npm already installed from the lock file.
        run_tool(
            [str(npm), "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            staging,
            INSTALL_TIMEOUT_SECONDS,
            f"npm ci could not install anvil {ANVIL_VERSION} and solc {SOLC_VERSION} "
            f"into {staging}",
        )
        (staging / _STAMP_FILE_NAME).write_text(_lock_hash() + "\n", encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    return EvmToolchain(folder, node)


def compile_sources(
    sources: Mapping[str, str], toolchain: EvmToolchain | None = None
) -> dict[str, CompiledContract]:
    """Every contract of ``sources`` (file name -> Solidity text, imports resolved among them),
    compiled by solc-js with ``COMPILER_SETTINGS``; by contract name. Interfaces and abstract
    contracts (no bytecode) are left out. The output is cached in the toolchain folder by the
    hash of the input, so a second call with the same sources does not run the compiler.

    ToolchainError, with the compiler's messages, when a source does not compile."""
    if not sources:
        raise RequestError("no Solidity sources to compile")
    toolchain = toolchain if toolchain is not None else install()
    compiler_input = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sorted(sources.items())},
        "settings": COMPILER_SETTINGS,
    }
    encoded = json.dumps(compiler_input, sort_keys=True).encode()
    digest = hashlib.sha256(encoded + SOLC_VERSION.encode()).hexdigest()
    cache = toolchain.folder / _ARTIFACTS_FOLDER / f"{digest}.json"
    if cache.is_file():
        output = json.loads(cache.read_text(encoding="utf-8"))
    else:
        output = _run_compiler(toolchain, encoded)
        cache.parent.mkdir(exist_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps(output), encoding="utf-8")
        partial.replace(cache)
    return _contracts(output)


def _run_compiler(toolchain: EvmToolchain, compiler_input: bytes) -> dict[str, Any]:
    try:
        completed = subprocess.run(
            [str(toolchain.node), str(_FILES / "compile.js")],
            cwd=toolchain.folder,
            input=compiler_input,
            capture_output=True,
            timeout=COMPILE_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise ToolchainError(
            f"solc {SOLC_VERSION}: no answer within {COMPILE_TIMEOUT_SECONDS} s",
            reason="build_failed",
        ) from error
    if completed.returncode != 0:
        raise ToolchainError(
            f"solc {SOLC_VERSION} failed (exit status {completed.returncode}): "
            f"{completed.stderr.decode(errors='replace')[-4000:]}",
            reason="build_failed",
        )
    output: dict[str, Any] = json.loads(completed.stdout)
    errors = [
        error["formattedMessage"]
        for error in output.get("errors", [])
        if error.get("severity") == "error"
    ]
    if errors:
        raise ToolchainError(
            f"the Solidity sources do not compile:\n{''.join(errors)[-8000:]}",
            reason="build_failed",
        )
    return output


def _contracts(output: Mapping[str, Any]) -> dict[str, CompiledContract]:
    compiled: dict[str, CompiledContract] = {}
    for contracts in output.get("contracts", {}).values():
        for name, contract in contracts.items():
            bytecode = contract["evm"]["bytecode"]["object"]
            if bytecode:
                compiled[name] = CompiledContract(name, contract["abi"], bytes.fromhex(bytecode))
    return compiled


@dataclass(slots=True)
class AnvilProcess:
    """A running anvil: its RPC URL, chain id and process (the leader of its own group)."""

    url: str
    port: int
    chain_id: int
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Ends anvil's whole process group: SIGTERM, then SIGKILL after a grace period.
        Idempotent."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=ANVIL_STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that the OS had free a moment ago."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def anvil_command(
    toolchain: EvmToolchain,
    *,
    port: int,
    chain_id: int,
    block_time_seconds: float | None = None,
    state_path: Path | None = None,
) -> list[str]:
    """The command line of an anvil on 127.0.0.1:``port``: pinned hardfork, automine when
    ``block_time_seconds`` is None, else interval mining; ``state_path`` keeps the chain's state
    across restarts (``--state``)."""
    if not 0 < chain_id <= CHAIN_ID_MAX:
        raise RequestError(f"EVM chain id {chain_id} is outside 1..{CHAIN_ID_MAX}")
    if block_time_seconds is not None and block_time_seconds <= 0:
        raise RequestError(f"block time {block_time_seconds} s must be positive")
    command = [
        str(toolchain.anvil),
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--chain-id",
        str(chain_id),
        "--hardfork",
        HARDFORK,
        "--silent",
    ]
    if block_time_seconds is not None:
        command += ["--block-time", f"{block_time_seconds:g}"]
    if state_path is not None:
        command += ["--state", str(state_path)]
    return command


def start_anvil(
    *,
    chain_id: int,
    block_time_seconds: float | None = None,
    port: int | None = None,
    toolchain: EvmToolchain | None = None,
    log_path: Path | None = None,
) -> AnvilProcess:
    """anvil started directly (not through npx) in its own process group on 127.0.0.1, answering
    ``eth_chainId`` with ``chain_id`` before this returns; stopped again on any failure.
    ToolchainError when it exits or does not answer within ANVIL_START_TIMEOUT_SECONDS."""
    toolchain = toolchain if toolchain is not None else install()
    port = port if port is not None else free_port()
    command = anvil_command(
        toolchain, port=port, chain_id=chain_id, block_time_seconds=block_time_seconds
    )
    output = log_path.open("ab") if log_path is not None else None
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output if output is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if output is not None else subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        if output is not None:
            output.close()
    anvil = AnvilProcess(f"http://{LOOPBACK}:{port}", port, chain_id, process)
    try:
        _wait_ready(anvil)
    except BaseException:
        anvil.stop()
        raise
    return anvil


@contextmanager
def running_anvil(
    *, chain_id: int, block_time_seconds: float | None = None
) -> Iterator[AnvilProcess]:
    """An anvil for the duration of a ``with`` block, stopped when it ends, even on failure."""
    anvil = start_anvil(chain_id=chain_id, block_time_seconds=block_time_seconds)
    try:
        yield anvil
    finally:
        anvil.stop()


def rpc(url: str, method: str, params: list[Any], timeout_seconds: float = 10.0) -> Any:
    """One JSON-RPC call; ToolchainError for an error answer or no answer."""
    request = urllib.request.Request(
        url,
        data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as response:
            answer = json.loads(response.read())
    except (OSError, urllib.error.URLError, ValueError) as error:
        raise ToolchainError(f"{url} {method}: {error}") from error
    if "error" in answer:
        raise ToolchainError(f"{url} {method}: {answer['error']}")
    return answer["result"]


def _wait_ready(anvil: AnvilProcess) -> None:
    deadline = time.monotonic() + ANVIL_START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if anvil.process.poll() is not None:
            raise ToolchainError(
                f"anvil exited with status {anvil.process.returncode} before answering on "
                f"port {anvil.port}"
            )
        try:
            answered = int(rpc(anvil.url, "eth_chainId", [], timeout_seconds=1.0), 16)
        except ToolchainError:
            time.sleep(0.05)
            continue
        if answered != anvil.chain_id:
            raise ToolchainError(
                f"something else answers on port {anvil.port}: chain id {answered}, not "
                f"{anvil.chain_id}"
            )
        return
    raise ToolchainError(f"anvil did not answer within {ANVIL_START_TIMEOUT_SECONDS} s")


def _program(name: str) -> Path:
    found = shutil.which(name)
    if found is None:
        raise ToolchainError(
            f"{name} is not installed: the EVM toolchain (anvil and solc from npm) needs Node.js "
            f"{NODE_MAJOR_VERSION_MIN} or later with npm (scripts/toolchain-assemblyscript.sh "
            "installs them)"
        )
    return Path(found)


def _check_node_version(node: Path) -> None:
    output = run_tool([str(node), "--version"], Path.cwd(), 60, f"{node} --version failed")
    match = re.fullmatch(r"v(\d+)\.\d+\.\d+\S*", output.strip())
    if match is None or int(match.group(1)) < NODE_MAJOR_VERSION_MIN:
        raise ToolchainError(
            f"{node} is Node.js {output.strip()!r}; solc {SOLC_VERSION} (solc-js) needs "
            f"{NODE_MAJOR_VERSION_MIN} or later"
        )


def _installed(folder: Path) -> bool:
    try:
        stamp = (folder / _STAMP_FILE_NAME).read_text(encoding="utf-8").strip()
    except OSError:
        return False
    return stamp == _lock_hash() and (folder / "node_modules" / "solc" / "solc.js").is_file()


def _lock_hash() -> str:
    return hashlib.sha256((_FILES / "package-lock.json").read_bytes()).hexdigest()
