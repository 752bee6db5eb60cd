"""`causeway gateway`: run one member of an EVM chain's gateway committee, and send tokens from
the EVM side (docs/gateways.md)."""

# ruff: noqa: PLC0415 (heavy packages are imported inside commands: the CLI must start fast)

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from causeway.cli.output import console

gateway_app = typer.Typer(
    name="gateway",
    help="Gateways to Ethereum-compatible chains: a committee member's process, and transfers "
    "from the EVM side.\n\nExample:\n\n"
    "    causeway gateway start --config gateway-1.toml --metrics-port 9465",
    no_args_is_help=True,
)

TRANSFER_TIMEOUT_S_DEFAULT = 600


@gateway_app.command("start")
def start(
    *,
    config: Annotated[
        Path,
        typer.Option(
            "--config",
            "-c",
            metavar="FILE",
            envvar="CAUSEWAY_GATEWAY_CONFIG",
            help="The gateway's configuration (TOML): the hub, its client of the EVM chain, the "
            "EVM node, the endpoint contract and this member's key.",
        ),
    ],
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            min=0,
            max=65535,
            metavar="PORT",
            help="Serve Prometheus metrics on http://HOST:PORT/metrics (0: a free port).",
        ),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option("--metrics-host", metavar="HOST", help="Address to serve metrics on.")
    ] = "127.0.0.1",
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = "info",
    json_output: Annotated[
        bool, typer.Option("--json", help="Logs as one JSON object per line.")
    ] = False,
) -> None:
    """Run one gateway committee member until Ctrl-C or SIGTERM (the round in progress is
    finished first).

    Every round interval the gateway attests EVM block headers `confirmations` deep to the hub's
    client, carries the endpoint's packets to the hub with receipt proofs, signs the hub's
    packets, acknowledgements and timeouts for the EVM endpoint after proving them in the hub's
    state, and proves the EVM side's acknowledgements and timeouts to the hub. It holds no state
    that matters: stop it, restart it, or run the whole committee on one machine.

    Example:

        causeway gateway start --config gateway-1.toml

        causeway gateway start --config gateway-1.toml --metrics-port 9465 --json
    """
    from causeway.cli.relayer_command import _configure_logging
    from causeway.errors import ConfigurationError
    from causeway.interchain.gateways.config import load_gateway_config
    from causeway.interchain.gateways.service import GatewayMetrics, build_gateway_service

    if log_level.lower() not in ("debug", "info", "warning", "error"):
        raise typer.BadParameter(
            f"{log_level!r} is not debug, info, warning or error", param_hint="--log-level"
        )
    settings = load_gateway_config(config)
    _configure_logging(log_level, json_output)
    logger = logging.getLogger("causeway.gateway")
    metrics = GatewayMetrics()
    server = None
    if metrics_port is not None:
        try:
            server = metrics.serve(metrics_port, metrics_host)
        except OSError as error:
            raise ConfigurationError(
                f"cannot serve metrics on {metrics_host}:{metrics_port}: {error.strerror or error}"
            ) from None
        logger.info("metrics served", extra={"url": f"http://{metrics_host}:{server.port}/metrics"})
    service, hub = build_gateway_service(settings, metrics)
    stop = threading.Event()

    def request_stop(number: int, frame: FrameType | None) -> None:
        del frame
        if stop.is_set():
            raise KeyboardInterrupt
        logger.info("stopping", extra={"signal": signal.Signals(number).name})
        stop.set()

    previous: dict[int, Any] = {
        number: signal.signal(number, request_stop) for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        service.run(stop)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        hub.close()
        if server is not None:
            server.close()


@gateway_app.command("transfer")
def transfer(
    *,
    config: Annotated[
        Path,
        typer.Option(
            "--config",
            "-c",
            metavar="FILE",
            help="A gateway configuration: its [evm] rpc and endpoint say where to send from "
            "(its key is not used).",
        ),
    ],
    key: Annotated[
        Path,
        typer.Option(
            "--key",
            metavar="FILE",
            help="The sender's secp256k1 key on the EVM chain (0x and 64 hex digits).",
        ),
    ],
    denom: Annotated[
        str,
        typer.Option(
            "--denom",
            help="A voucher's path (transfer/CLIENT/DENOM: sent home) or erc20/0xTOKEN (escrowed).",
        ),
    ],
    amount: Annotated[int, typer.Option("--amount", min=1, help="How much to send.")],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="CHAIN:RECEIVER",
            help="The receiver: on the hub (HUB:ACCOUNT), or on another member chain, where the "
            "hub forwards the tokens (CHAIN:ACCOUNT).",
        ),
    ],
    timeout_after_s: Annotated[
        int,
        typer.Option(
            "--timeout-after-s",
            min=1,
            max=86_400,
            help="The packet times out this long after the EVM chain's newest block; the tokens "
            "then come back.",
        ),
    ] = TRANSFER_TIMEOUT_S_DEFAULT,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Send tokens from the EVM chain to Causeway through the gateway's endpoint: vouchers home
    (burned), or an ERC-20 by escrow. Prints the packet's sequence; the gateways carry it.

    Example:

        causeway gateway transfer --config gateway-1.toml --key user.key \\
            --denom transfer/client-0/stake --amount 10 --to chain-a:org1/client
    """
    from web3 import Web3

    from causeway.errors import RequestError
    from causeway.interchain.gateways.config import load_gateway_config, read_private_key
    from causeway.interchain.gateways.contracts import send_transfer
    from causeway.interchain.transfer import forward_memo

    settings = load_gateway_config(config)
    chain, separator, receiver = to.partition(":")
    if not separator or not chain or not receiver:
        raise RequestError(f"--to {to!r} is not CHAIN:RECEIVER", reason="invalid_argument")
    private_key = read_private_key(key)
    web3 = Web3(Web3.HTTPProvider(settings.evm.rpc_url))
    newest_ms = int(web3.eth.get_block("latest")["timestamp"]) * 1000
    timeout_ms = max(newest_ms, int(time.time() * 1000)) + timeout_after_s * 1000
    memo = b""
    if chain != settings.hub.chain_id:
        memo = forward_memo(chain, receiver, timeout_ms + timeout_after_s * 1000)
    sent = send_transfer(
        web3,
        private_key,
        settings.evm.endpoint,
        denom=denom,
        amount=amount,
        receiver=receiver,
        timeout_ms=timeout_ms,
        memo=memo,
    )
    data = {
        "sequence": sent.sequence,
        "transaction": sent.transaction_hash,
        "denom": denom,
        "amount": amount,
        "to": to,
        "timeout_ms": timeout_ms,
    }
    if json_output:
        console.print_json(json.dumps(data))
    else:
        console.print(
            f"sent packet {sent.sequence}: {amount} {denom} to {receiver} on {chain} "
            f"(transaction {sent.transaction_hash})"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(gateway_app)
