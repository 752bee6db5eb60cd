"""A gateway's configuration file (TOML): one committee member between the hub and an EVM chain.

    [gateway]
    round_interval_ms = 1000     # a round this often
    confirmations = 2            # blocks on top of an EVM block before it is attested
    checkpoint_blocks = 10       # also attest every this-many-th block (freshness, timeouts)
    start_block = 1              # where the scan of the endpoint's logs starts (its deployment)

    [hub]
    chain_id = "hub"
    nodes = ["127.0.0.1:7200"]
    identity = "hub/organisations/org1/members/gateway-1"   # member.json + key.pem
    client = "client-2"          # the hub's evm-committee client of the EVM chain
    crypto = "intl"              # the hub's crypto profile (its commitments' hash)

    [evm]
    rpc = "http://127.0.0.1:8545"
    chain_id = 31337
    endpoint = "0x..."           # the CausewayEndpoint contract
    key = "gateway-1.key"        # the member's secp256k1 key: 0x and 64 hex digits

Every mistake is a ConfigurationError naming the file, the table and the key; relative paths are
relative to the file's folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from causeway.crypto import get_profile
from causeway.errors import CausewayError, ConfigurationError
from causeway.interchain.relayer.config import (
    CLIENT_ID_CHARACTERS_MAX,
    REQUEST_TIMEOUT_MS_DEFAULT,
    REQUEST_TIMEOUT_MS_MAX,
    REQUEST_TIMEOUT_MS_MIN,
    ROUND_INTERVAL_MS_DEFAULT,
    ROUND_INTERVAL_MS_MAX,
    ROUND_INTERVAL_MS_MIN,
    SUBMIT_TIMEOUT_MS_DEFAULT,
    ChainSettings,
    TableReader,
    chain_settings,
    read_config_file,
)

CONFIRMATIONS_DEFAULT = 2
CONFIRMATIONS_MAX = 1_000
CHECKPOINT_BLOCKS_DEFAULT = 10
CHECKPOINT_BLOCKS_MAX = 100_000
BACKOFF_MAX_MS_DEFAULT = 30_000
KEY_FILE_BYTES_MAX = 1_024
EVM_CHAIN_ID_MAX = 2**53 - 1
_GATEWAY_KEYS = (
    "round_interval_ms",
    "confirmations",
    "checkpoint_blocks",
    "start_block",
    "request_timeout_ms",
    "submit_timeout_ms",
    "backoff_max_ms",
)
_HUB_KEYS = (
    "chain_id",
    "client",
    "crypto",
    "nodes",
    "identity",
    "tls_ca",
    "tls_certificate",
    "tls_key",
)
_EVM_KEYS = ("rpc", "chain_id", "endpoint", "key")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_PRIVATE_KEY = re.compile(r"(0x)?[0-9a-fA-F]{64}")


@dataclass(frozen=True, slots=True)
class EvmSettings:
    rpc_url: str
    chain_id: int
    endpoint: str
    private_key: bytes
    key_path: Path


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    path: Path
    hub: ChainSettings
    hub_client_id: str
    hub_crypto: str
    evm: EvmSettings
    round_interval_ms: int = ROUND_INTERVAL_MS_DEFAULT
    confirmations: int = CONFIRMATIONS_DEFAULT
    checkpoint_blocks: int = CHECKPOINT_BLOCKS_DEFAULT
    start_block: int = 1
    request_timeout_ms: int = REQUEST_TIMEOUT_MS_DEFAULT
    submit_timeout_ms: int = SUBMIT_TIMEOUT_MS_DEFAULT
    backoff_max_ms: int = BACKOFF_MAX_MS_DEFAULT


def read_private_key(path: Path) -> bytes:
    """A secp256k1 key file: 0x and 64 hex digits (a newline allowed); ConfigurationError
    otherwise, without the file's content."""
    try:
        with path.open("rb") as handle:
            data = handle.read(KEY_FILE_BYTES_MAX + 1)
    except OSError as error:
        raise ConfigurationError(f"cannot read {path}: {error.strerror or error}") from None
    text = data.decode("ascii", errors="replace").strip()
    if len(data) > KEY_FILE_BYTES_MAX or not _PRIVATE_KEY.fullmatch(text):
        raise ConfigurationError(f"{path} is not a secp256k1 key (0x and 64 hex digits)")
    key = bytes.fromhex(text.removeprefix("0x"))
    if not 0 < int.from_bytes(key, "big") < 2**256 - 432420386565659656852420866394968145599:
        raise ConfigurationError(f"{path} is not a valid secp256k1 key (out of range)")
    return key


def _evm(path: Path, values: Any) -> EvmSettings:
    reader = TableReader(path, "evm", values)
    reader.check_keys(_EVM_KEYS)
    rpc_url = reader.text("rpc")
    if not rpc_url.startswith(("http://", "https://")):
        raise reader.error("rpc", f"must be an http:// or https:// URL, not {rpc_url!r}")
    chain_id = reader.integer("chain_id", 0, 1, EVM_CHAIN_ID_MAX)
    endpoint = reader.text("endpoint")
    if not _ADDRESS.fullmatch(endpoint):
        raise reader.error("endpoint", f"must be 0x and 40 hex digits, not {endpoint!r}")
    key_path = path.parent / reader.text("key")
    try:
        private_key = read_private_key(key_path)
    except ConfigurationError as error:
        raise reader.error("key", error.message) from None
    return EvmSettings(rpc_url, chain_id, endpoint, private_key, key_path)


def load_gateway_config(path: Path | str) -> GatewayConfig:
    """Reads and checks a gateway configuration file (see the module docstring)."""
    path = Path(path)
    document = read_config_file(path, ("gateway", "hub", "evm"), "[gateway], [hub], [evm]")
    for table in ("hub", "evm"):
        if table not in document:
            raise ConfigurationError(f"{path}: [{table}] is missing")
    settings = TableReader(path, "gateway", document.get("gateway", {}))
    settings.check_keys(_GATEWAY_KEYS)
    round_interval_ms = settings.integer(
        "round_interval_ms", ROUND_INTERVAL_MS_DEFAULT, ROUND_INTERVAL_MS_MIN, ROUND_INTERVAL_MS_MAX
    )
    hub_reader = TableReader(path, "hub", document["hub"])
    hub_reader.check_keys(_HUB_KEYS)
    chain_id = hub_reader.text("chain_id", characters_max=CLIENT_ID_CHARACTERS_MAX)
    client_id = hub_reader.text("client", characters_max=CLIENT_ID_CHARACTERS_MAX)
    crypto = str(hub_reader.values.get("crypto", "intl"))
    try:
        get_profile(crypto)
    except CausewayError as error:
        raise hub_reader.error("crypto", error.message) from None
    try:
        hub = chain_settings(
            path,
            chain_id,
            {
                key: value
                for key, value in hub_reader.values.items()
                if key not in ("chain_id", "client", "crypto")
            },
        )
    except ConfigurationError as error:
        # The relayer's reader names its own table; here the hub's keys are in [hub].
        raise ConfigurationError(error.message.replace(f"[chains.{chain_id}]", "[hub]")) from None
    return GatewayConfig(
        path=path,
        hub=hub,
        hub_client_id=client_id,
        hub_crypto=crypto,
        evm=_evm(path, document["evm"]),
        round_interval_ms=round_interval_ms,
        confirmations=settings.integer(
            "confirmations", CONFIRMATIONS_DEFAULT, 0, CONFIRMATIONS_MAX
        ),
        checkpoint_blocks=settings.integer(
            "checkpoint_blocks", CHECKPOINT_BLOCKS_DEFAULT, 1, CHECKPOINT_BLOCKS_MAX
        ),
        start_block=settings.integer("start_block", 1, 1, 2**63 - 1),
        request_timeout_ms=settings.integer(
            "request_timeout_ms",
            REQUEST_TIMEOUT_MS_DEFAULT,
            REQUEST_TIMEOUT_MS_MIN,
            REQUEST_TIMEOUT_MS_MAX,
        ),
        submit_timeout_ms=settings.integer(
            "submit_timeout_ms",
            SUBMIT_TIMEOUT_MS_DEFAULT,
            REQUEST_TIMEOUT_MS_MIN,
            REQUEST_TIMEOUT_MS_MAX,
        ),
        backoff_max_ms=settings.integer(
            "backoff_max_ms", BACKOFF_MAX_MS_DEFAULT, round_interval_ms, ROUND_INTERVAL_MS_MAX
        ),
    )
