"""`causeway relayer start`: carry packets between the chains a configuration file names."""

# ruff: noqa: PLC0415 (heavy packages are imported inside commands: the CLI must start fast)

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.live import Live
from rich.text import Text

from causeway.cli.output import console

if TYPE_CHECKING:
    from causeway.interchain.relayer.service import RelayerService

relayer_app = typer.Typer(
    name="relayer",
    help="Relay packets between chains.\n\nExample:\n\n"
    "    causeway relayer start --config relayer.toml --metrics-port 9464",
    no_args_is_help=True,
)

PROGRESS_REFRESHES_PER_S = 4


class _CurrentStderr:
    """Writes to whatever sys.stderr is at the time, so that log lines go above the progress
    line while it shows (rich redirects sys.stderr then)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _configure_logging(level: str, json_logs: bool) -> None:
    from causeway.node.logs import JsonFormatter, TextFormatter

    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(JsonFormatter() if json_logs else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("grpc").setLevel(logging.WARNING)


def progress_text(service: RelayerService) -> Text:
    """The one line shown while the relayer runs, most useful first (a narrow terminal cuts the
    end): packets waiting per direction, links failing, then totals."""
    totals = service.totals
    pending = ", ".join(
        f"{source}→{destination} {count}"
        for state in service.states.values()
        for (source, destination), count in state.pending.items()
    )
    failing = [name for name, state in service.states.items() if state.failures]
    parts = [f"pending {pending or '-'}"]
    if failing:
        parts.append(f"failing {', '.join(failing)}")
    parts.append(
        f"received {totals.receives} acknowledged {totals.acknowledgements} "
        f"timed out {totals.timeouts}"
    )
    parts.append(f"transactions {totals.transactions} ({totals.failed_transactions} failed)")
    parts.append(f"rounds {totals.rounds} ({totals.failed_rounds} failed)")
    return Text(" · ".join(parts), no_wrap=True, overflow="ellipsis")


@relayer_app.command("start")
def start(
    *,
    config: Annotated[
        Path,
        typer.Option(
            "--config",
            "-c",
            metavar="FILE",
            envvar="CAUSEWAY_RELAYER_CONFIG",
            help="The relayer's configuration (TOML): chains, their nodes and identities, links.",
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
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress line; log warnings and errors only.")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Logs as one JSON object per line; no progress line.")
    ] = False,
) -> None:
    """Relay packets and client updates on every link of the configuration, until Ctrl-C or
    SIGTERM (the round in progress is finished first; a second signal does not wait for it).

    Every round interval, for each link, the relayer reads both chains (packets in flight,
    receipts, acknowledgements, client heights) and sends each chain at most one transaction: a
    client update followed by up to batch_deliveries_max deliveries. A node that is down is
    logged and the chain's next node is tried; a failing link waits longer before its next
    round. Logs go to stderr; a progress line shows unless --quiet or --json. The relayer holds
    no state: stop it, restart it, or run several.

    Example:

        causeway relayer start --config relayer.toml

        causeway relayer start --config relayer.toml --metrics-port 9464 --json
    """
    from causeway.errors import ConfigurationError
    from causeway.interchain.relayer import RelayerMetrics, load_relayer_config
    from causeway.interchain.relayer.service import build_service

    if log_level.lower() not in ("debug", "info", "warning", "error"):
        raise typer.BadParameter(
            f"{log_level!r} is not debug, info, warning or error", param_hint="--log-level"
        )
    settings = load_relayer_config(config)
    _configure_logging("warning" if quiet else log_level, json_output)
    logger = logging.getLogger("causeway.relayer")
    metrics = RelayerMetrics()
    server = None
    if metrics_port is not None:
        try:
            server = metrics.serve(metrics_port, metrics_host)
        except OSError as error:
            raise ConfigurationError(
                f"cannot serve metrics on {metrics_host}:{metrics_port}: {error.strerror or error}"
            ) from None
        logger.info(
            "metrics served",
            extra={"url": f"http://{metrics_host}:{server.port}/metrics"},
        )
    show_progress = not quiet and not json_output and console.is_terminal
    live = Live(
        Text("starting"),
        console=console,
        refresh_per_second=PROGRESS_REFRESHES_PER_S,
        transient=True,
        redirect_stderr=True,
    )

    def on_round(service: RelayerService) -> None:
        if show_progress:
            live.update(progress_text(service))

    service, endpoints = build_service(settings, metrics, on_round=on_round)
    stop = threading.Event()

    def request_stop(number: int, frame: FrameType | None) -> None:
        del frame
        if stop.is_set():
            # A second signal: do not wait for the round in progress (a node not answering can
            # hold it for request_timeout_ms). What it sent is on the chains; nothing is lost.
            raise KeyboardInterrupt
        logger.info("stopping", extra={"signal": signal.Signals(number).name})
        stop.set()

    previous: dict[int, Any] = {
        number: signal.signal(number, request_stop) for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        if show_progress:
            with live:
                service.run(stop)
        else:
            service.run(stop)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for endpoint in endpoints:
            endpoint.close()
        if server is not None:
            server.close()
    if show_progress:
        console.print(progress_text(service))


def register(app: typer.Typer) -> None:
    app.add_typer(relayer_app)
