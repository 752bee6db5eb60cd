"""The EVM chains of a manifest devnet (``[[chains]] kind = "evm"``, docs/gateways.md): what
`devnet up --manifest` does for each once the Causeway chains answer, and what `devnet down`
stops.

```
DIR/evm/<id>/evm.json            the chain: RPC URL, chain id, contracts, hub client, processes
DIR/evm/<id>/anvil.log           anvil's output
DIR/evm/<id>/gateway-<i>.key     committee member i's secp256k1 key (0x + 64 hex, mode 0600)
DIR/evm/<id>/gateway-<i>.toml    its `causeway gateway start` configuration (and .log)
DIR/evm/<id>/user.key            a funded EVM account for trying transfers (anvil's first)
```

For each EVM chain: anvil starts from the toolchain (its own process group, 127.0.0.1, the
manifest's chain id and block time); n committee keys are generated and funded; the hub creates
its evm-committee client of the chain by governance (the committee, the threshold, the endpoint's
address known before it is deployed, the newest header) and registers the chain as a member; the
endpoint (naming the hub's client) and the transfer app are deployed; one gateway process per
member starts, each with the hub's client member of an organisation as its hub identity.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import rlp  # type: ignore[import-untyped]
from eth_account import Account
from eth_hash.auto import keccak
from web3 import Web3
from web3.exceptions import Web3Exception
from web3.types import Wei

from causeway.errors import ConfigurationError
from causeway.interchain import evm
from causeway.interchain.gateways import contracts
from causeway.interchain.v1 import interchain_pb2
from causeway.provisioning.devnet import is_running, stop_processes
from causeway.provisioning.interchain_devnet import ChainEntry, DevnetDescription
from causeway.provisioning.links import (
    STEP_TIMEOUT_S,
    TRUSTING_PERIOD_MS,
    _bind_transfer_port,
    _Governance,
    _member,
)
from causeway.provisioning.manifest import EvmChainManifest, Manifest
from causeway.sdk import Identity
from causeway.sdk.interchain import committed_result
from causeway.toolchains import evm as evm_toolchain
from causeway.types.v1 import types_pb2

EVM_FOLDER = "evm"
STATE_FILE_NAME = "evm.json"
ENDPOINT_CLIENT_ID = "client-0"
# The gateways' hub transactions are dated by the hub, anvil's headers by the wall clock.
EVM_CLOCK_DRIFT_MS = 30_000
GATEWAY_FUNDS_WEI = 100 * 10**18
GATEWAY_ROUND_INTERVAL_MS = 1_000
GATEWAY_CHECKPOINT_BLOCKS = 5
GATEWAY_METRICS_PORT_OFFSET = 100
# anvil's first well-known development account: the deployer, and the devnet's EVM user.
ANVIL_FIRST_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
FIRST_BLOCK_WAIT_S = 30.0

Progress = Callable[[str], None]


@dataclass(slots=True)
class EvmChainState:
    """DIR/evm/<id>/evm.json: what `devnet down`, tests and users need of one EVM chain."""

    id: str
    evm_chain_id: int
    rpc_url: str
    anvil_pid: int
    endpoint: str
    transfer: str
    hub_client: str
    committee: list[str]
    threshold: int
    confirmations: int
    gateway_configs: list[str]
    gateway_pids: list[int]
    user_key: str
    deployed_block: int


def evm_folder(directory: Path, chain_id: str) -> Path:
    return directory / EVM_FOLDER / chain_id


def load_evm_chains(directory: Path) -> list[EvmChainState]:
    """Every EVM chain the devnet in ``directory`` started (none without DIR/evm)."""
    states = []
    for path in sorted((directory / EVM_FOLDER).glob(f"*/{STATE_FILE_NAME}")):
        try:
            states.append(EvmChainState(**json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, TypeError) as error:
            raise ConfigurationError(f"cannot read {path}: {error}") from None
    return states


STATUS_RPC_TIMEOUT_S = 2.0


def evm_chain_status(state: EvmChainState) -> dict[str, Any]:
    """What `devnet status` shows of one EVM chain: anvil's process and its latest block (None
    when it does not answer within STATUS_RPC_TIMEOUT_S), the committee's threshold and how many
    of its gateway processes run."""
    anvil_running = is_running(state.anvil_pid)
    block: int | None = None
    if anvil_running:
        web3 = Web3(
            Web3.HTTPProvider(state.rpc_url, request_kwargs={"timeout": STATUS_RPC_TIMEOUT_S})
        )
        # requests' connection errors and timeouts are OSErrors; an RPC error is web3's own.
        with contextlib.suppress(OSError, ValueError, Web3Exception):
            block = int(web3.eth.block_number)
    return {
        "id": state.id,
        "evm_chain_id": state.evm_chain_id,
        "rpc_url": state.rpc_url,
        "anvil_pid": state.anvil_pid,
        "anvil_running": anvil_running,
        "block": block,
        "endpoint": state.endpoint,
        "transfer": state.transfer,
        "hub_client": state.hub_client,
        "committee": len(state.committee),
        "threshold": state.threshold,
        "confirmations": state.confirmations,
        "gateways_running": sum(1 for pid in state.gateway_pids if is_running(pid)),
    }


def save_evm_chain(directory: Path, state: EvmChainState) -> None:
    path = evm_folder(directory, state.id) / STATE_FILE_NAME
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _write_key(path: Path, key: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write("0x" + key.hex() + "\n")


def _create_address(sender: str, nonce: int) -> str:
    """The address a contract deployed by ``sender`` with ``nonce`` gets (CREATE)."""
    return Web3.to_checksum_address(keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[12:])


def _wait_for_block(web3: Web3, number: int) -> None:
    deadline = time.monotonic() + FIRST_BLOCK_WAIT_S
    while web3.eth.block_number < number:
        if time.monotonic() > deadline:
            raise ConfigurationError(f"anvil made no block {number} within {FIRST_BLOCK_WAIT_S} s")
        time.sleep(0.2)


def gateway_config_text(
    *,
    hub: ChainEntry,
    hub_client: str,
    identity: Path,
    rpc_url: str,
    evm_chain_id: int,
    endpoint: str,
    key_file: str,
    confirmations: int,
    start_block: int,
) -> str:
    """The `causeway gateway start` configuration of one committee member."""
    nodes = ", ".join(f'"{node.grpc_address}"' for node in hub.nodes)
    return "\n".join(
        [
            "# A gateway of the devnet: written by `causeway devnet up --manifest`",
            "# (docs/gateways.md).",
            "",
            "[gateway]",
            f"round_interval_ms = {GATEWAY_ROUND_INTERVAL_MS}",
            f"confirmations = {confirmations}",
            f"checkpoint_blocks = {GATEWAY_CHECKPOINT_BLOCKS}",
            f"start_block = {start_block}",
            "",
            "[hub]",
            f'chain_id = "{hub.id}"',
            f"nodes = [{nodes}]",
            f'identity = "{identity}"',
            f'client = "{hub_client}"',
            f'crypto = "{hub.crypto_profile}"',
            "",
            "[evm]",
            f'rpc = "{rpc_url}"',
            f"chain_id = {evm_chain_id}",
            f'endpoint = "{endpoint}"',
            f'key = "{key_file}"',
            "",
        ]
    )


def start_gateway_process(config: Path, metrics_port: int | None = None) -> int:
    """Starts `causeway gateway start --config CONFIG` detached (a session of its own, outliving
    the caller, which never waits for it), logging beside the config; its process id."""
    command = [sys.executable, "-m", "causeway.cli", "gateway", "start", "--config", str(config)]
    command += ["--json"]
    if metrics_port is not None:
        command += ["--metrics-port", str(metrics_port)]
    log = os.open(config.with_suffix(".log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        # posix_spawn rather than Popen: nothing here will wait for it (`devnet down` stops it by
        # its process id), and a Popen object dropped while its process runs is a warning.
        return os.posix_spawn(
            sys.executable,
            command,
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_DUP2, null, 0),
                (os.POSIX_SPAWN_DUP2, log, 1),
                (os.POSIX_SPAWN_DUP2, log, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(log)
        os.close(null)


def _client_members(hub: ChainEntry) -> list[Path]:
    """The hub's client members, one per organisation: the gateways' hub identities."""
    found: dict[str, Path] = {}
    for member in hub.members:
        organisation = member.member_id.split("/")[0]
        if "CLIENT" in member.roles and "ADMIN" not in member.roles and organisation not in found:
            found[organisation] = Path(member.directory)
    return [found[organisation] for organisation in sorted(found)] or [_member(hub, "CLIENT")]


def _create_hub_client(  # noqa: PLR0917 (what the client is made of)
    governance: _Governance,
    chain: EvmChainManifest,
    committee: list[bytes],
    endpoint: str,
    header_rlp: bytes,
    genesis: bytes,
) -> str:
    arguments = interchain_pb2.ClientsCreateArguments(
        chain_id=chain.id,
        genesis_hash=genesis,
        consensus="evm-committee",
        crypto_profile="evm",
        trusting_period_ms=TRUSTING_PERIOD_MS,
        clock_drift_ms=EVM_CLOCK_DRIFT_MS,
        counterparty_client_id=ENDPOINT_CLIENT_ID,
        evm=interchain_pb2.EvmCommittee(
            evm_chain_id=chain.evm_chain_id,
            endpoint_address=bytes.fromhex(endpoint[2:]),
            committee=committee,
            threshold=chain.threshold,
            confirmations=chain.confirmations,
        ),
        evm_header=header_rlp,
    )
    result = _governance_call(governance, "clients", "create", arguments)
    return interchain_pb2.ClientsCreateResult.FromString(result.return_value).client_id


def _governance_call(
    governance: _Governance, contract: str, method: str, arguments: Any
) -> types_pb2.TransactionResult:
    outcome = governance.client.invoke(
        contract, method, arguments, endorsers=governance.endorsers, timeout_s=STEP_TIMEOUT_S
    )
    return committed_result(outcome, contract, method, STEP_TIMEOUT_S)


def start_evm_chain(
    directory: Path,
    description: DevnetDescription,
    chain: EvmChainManifest,
    progress: Progress,
) -> EvmChainState:
    """anvil, the committee, the hub's client and registration, the contracts and the gateways
    of one EVM chain; stops what it started when a step fails."""
    hub = description.hub
    if hub is None:
        raise ConfigurationError(f"EVM chain {chain.id} needs a hub in the devnet")
    folder = evm_folder(directory, chain.id)
    folder.mkdir(parents=True, exist_ok=True)
    toolchain = evm_toolchain.install()
    contracts.compiled_contracts()
    anvil = evm_toolchain.start_anvil(
        chain_id=chain.evm_chain_id,
        block_time_seconds=chain.block_time_s,
        port=chain.rpc_port,
        toolchain=toolchain,
        log_path=folder / "anvil.log",
    )
    gateway_pids: list[int] = []
    try:
        progress(
            f"{chain.id}: anvil {evm_toolchain.ANVIL_VERSION} on {anvil.url} "
            f"(PID {anvil.process.pid})"
        )
        web3 = Web3(Web3.HTTPProvider(anvil.url))
        deployer = Account.from_key(ANVIL_FIRST_KEY).address
        keys = [secrets.token_bytes(32) for _ in range(chain.committee)]
        addresses = [Account.from_key(key).address for key in keys]
        funding = []
        for index, (key, address) in enumerate(zip(keys, addresses, strict=True), start=1):
            _write_key(folder / f"gateway-{index}.key", key)
            funding.append(
                web3.eth.send_transaction(
                    {"from": deployer, "to": address, "value": Wei(GATEWAY_FUNDS_WEI)}
                )
            )
        for transaction_hash in funding:
            web3.eth.wait_for_transaction_receipt(transaction_hash, timeout=STEP_TIMEOUT_S)
        _write_key(folder / "user.key", bytes.fromhex(ANVIL_FIRST_KEY[2:]))
        _wait_for_block(web3, 1)
        nonce = web3.eth.get_transaction_count(deployer, "pending")
        endpoint = _create_address(deployer, nonce)
        latest = web3.eth.block_number
        block = web3.provider.make_request("eth_getBlockByNumber", [hex(latest), False])["result"]  # type: ignore[arg-type]
        header_rlp = evm.header_rlp_from_json(block)
        genesis = evm.hex_bytes(
            web3.provider.make_request("eth_getBlockByNumber", ["0x0", False])["result"]["hash"]  # type: ignore[arg-type]
        )
        with ExitStack() as stack:
            governance = _Governance(hub, stack)
            _bind_transfer_port(governance, progress)
            hub_client = _create_hub_client(
                governance,
                chain,
                [bytes.fromhex(address[2:]) for address in addresses],
                endpoint,
                header_rlp,
                genesis,
            )
            progress(
                f"{hub.id}: evm-committee client {hub_client} of {chain.id} "
                f"({chain.threshold} of {chain.committee})"
            )
            deployment = contracts.deploy_gateway(
                web3,
                deployer,
                local_client_id=ENDPOINT_CLIENT_ID,
                hub_client_id=hub_client,
                committee=addresses,
                threshold=chain.threshold,
            )
            if deployment.endpoint != endpoint:
                raise ConfigurationError(
                    f"{chain.id}: the endpoint landed at {deployment.endpoint}, not at the "
                    f"address {endpoint} the hub's client names (another deployment came first)"
                )
            progress(
                f"{chain.id}: endpoint {deployment.endpoint}, transfer app {deployment.transfer}"
            )
            _governance_call(
                governance,
                "hub",
                "register",
                interchain_pb2.HubRegisterArguments(
                    member=interchain_pb2.MemberChain(
                        chain_id=chain.id,
                        genesis_hash=genesis,
                        crypto_profile="evm",
                        consensus="evm-committee",
                        endpoints=[anvil.url.removeprefix("http://")],
                        client_id=hub_client,
                    )
                ),
            )
            progress(f"{hub.id}: {chain.id} registered as a member chain (gateway committee)")
        start_block = web3.eth.block_number
        identities = _client_members(hub)
        configs = []
        for index in range(1, chain.committee + 1):
            config = folder / f"gateway-{index}.toml"
            identity = identities[(index - 1) % len(identities)]
            Identity.load(identity)
            config.write_text(
                gateway_config_text(
                    hub=hub,
                    hub_client=hub_client,
                    identity=identity,
                    rpc_url=anvil.url,
                    evm_chain_id=chain.evm_chain_id,
                    endpoint=deployment.endpoint,
                    key_file=f"gateway-{index}.key",
                    confirmations=chain.confirmations,
                    start_block=start_block,
                ),
                encoding="utf-8",
            )
            configs.append(str(config))
            gateway_pids.append(start_gateway_process(config))
            progress(f"{chain.id}: gateway {index} started (PID {gateway_pids[-1]})")
        state = EvmChainState(
            id=chain.id,
            evm_chain_id=chain.evm_chain_id,
            rpc_url=anvil.url,
            anvil_pid=anvil.process.pid,
            endpoint=deployment.endpoint,
            transfer=deployment.transfer,
            hub_client=hub_client,
            committee=addresses,
            threshold=chain.threshold,
            confirmations=chain.confirmations,
            gateway_configs=configs,
            gateway_pids=gateway_pids,
            user_key=str(folder / "user.key"),
            deployed_block=start_block,
        )
        save_evm_chain(directory, state)
        return state
    except BaseException:
        stop_processes(gateway_pids)
        anvil.stop()
        raise


def start_evm_chains(
    directory: Path, description: DevnetDescription, manifest: Manifest, progress: Progress
) -> list[EvmChainState]:
    """Every EVM chain of the manifest (see the module docstring)."""
    return [
        start_evm_chain(directory, description, chain, progress) for chain in manifest.evm_chains
    ]


def stop_evm_chains(directory: Path, progress: Progress) -> None:
    """Stops every gateway and anvil of the devnet's EVM chains (SIGTERM, then SIGKILL)."""
    for state in load_evm_chains(directory):
        running = [pid for pid in state.gateway_pids if pid and is_running(pid)]
        stop_processes(running)
        for pid in running:
            progress(f"{state.id}: gateway (PID {pid}) stopped")
        if state.anvil_pid and is_running(state.anvil_pid):
            stop_processes([state.anvil_pid])
            progress(f"{state.id}: anvil (PID {state.anvil_pid}) stopped")
        state.gateway_pids = [0 for _ in state.gateway_pids]
        state.anvil_pid = 0
        save_evm_chain(directory, state)
