"""`causeway directory serve`, `causeway directory token` and `causeway directory rollup`: the
processes of the directory (causeway.apps.directory.service, .rollup_submitter), each from its
configuration file."""

# ruff: noqa: PLC0415 (heavy packages are imported inside commands: the CLI must start fast)

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated

import typer

from causeway.cli.output import console

ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config",
        metavar="FILE",
        help="The service's configuration file (TOML; docs/directory.md).",
    ),
]


def serve(*, config: ConfigOption) -> None:
    """Serve the directory: its index, CKAN API, DCAT export and web interface.

    The service follows the directory contract's events into its index and serves the
    CKAN-compatible API, the DCAT export and the web interface over it, until stopped (Ctrl-C).

    Example:

        causeway directory serve --config directory.toml
    """
    from causeway.api.http_server import HttpServer
    from causeway.apps.directory.service import DirectoryService, load_service_config

    settings = load_service_config(config)
    service = DirectoryService(settings)
    try:
        service.start_following()
        service.start_escalating()
        server = HttpServer(service.app(), f"{settings.listen_host}:{settings.listen_port}")
        console.print(
            f"directory of {settings.chain.chain_id} ({settings.contract}) at "
            f"http://{settings.listen_host}:{server.port}/ui/ (CKAN API /api/3/action/, DCAT "
            "/catalog.ttl), following "
            f"{settings.chain.nodes[0]}"
        )
        asyncio.run(server.serve())
    finally:
        service.close()


def token(
    *,
    config: ConfigOption,
    member: Annotated[
        str,
        typer.Option(
            "--member",
            help="The staff member's identity the service signs with (one of its [[members]]).",
        ),
    ],
    label: Annotated[
        str, typer.Option("--label", help="Who or what holds the token, for the records.")
    ] = "",
) -> None:
    """Issue an API token for a staff member: printed once, stored only as its hash.

    The member acts for the department of its organisation, as the index knows it from the
    chain (run the service once first, so that it has followed the department's record).

    Example:

        causeway directory token --config directory.toml --member police/clerk --label "desk 1"
    """
    from causeway.apps.directory.service import DirectoryService, load_service_config

    service = DirectoryService(load_service_config(config))
    try:
        issued = service.issue_token(member, label, int(time.time() * 1000))
    finally:
        service.close()
    console.print(issued, markup=False, highlight=False)


def rollup(
    *,
    config: Annotated[
        Path,
        typer.Option(
            "--config",
            metavar="FILE",
            help="The roll-up's configuration file (TOML; docs/directory.md).",
        ),
    ],
    once: Annotated[
        bool, typer.Option("--once", help="One round, then exit (status 1 if a district failed).")
    ] = False,
) -> None:
    """Roll district directories up into the city's, until Ctrl-C or SIGTERM.

    Every interval, for each district of the file, the process compares the district
    contract's resources with the city's rolled-up heads, moves the city chain's client of the
    district chain to the district's newest certified height, and submits each missing version
    with the district node's proof (`rollup_resource`). It holds no state: stop it, restart it,
    or run several. One JSON line per round that did something, or failed, on stdout.

    Example:

        causeway directory rollup --config rollup.toml
    """
    import json
    import signal
    import threading
    from types import FrameType

    from causeway.apps.directory.rollup_submitter import (
        DistrictReport,
        build_submitter,
        load_rollup_config,
        run_rounds,
    )

    settings = load_rollup_config(config)
    submitter, endpoints = build_submitter(settings)
    failed = False

    def on_round(reports: list[DistrictReport]) -> None:
        nonlocal failed
        for report in reports:
            failed = failed or bool(report.error)
            if report.pending or report.error or once:
                print(json.dumps(report.to_document(), ensure_ascii=False), flush=True)

    try:
        if once:
            on_round(submitter.run_round())
        else:
            stop = threading.Event()

            def request_stop(number: int, frame: FrameType | None) -> None:
                del number, frame
                stop.set()

            previous = {
                number: signal.signal(number, request_stop)
                for number in (signal.SIGINT, signal.SIGTERM)
            }
            console.print(
                f"rolling up {', '.join(settings.districts)} into {settings.city.chain_id}'s "
                f"{settings.contract} every {settings.interval_ms} ms",
                highlight=False,
            )
            try:
                run_rounds(submitter, endpoints, settings.interval_ms / 1000, stop, on_round)
            finally:
                for number, handler in previous.items():
                    signal.signal(number, handler)
    finally:
        for endpoint in endpoints:
            endpoint.close()
    if once and failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Adds the commands to the `causeway directory` group."""
    app.command("serve")(serve)
    app.command("token")(token)
    app.command("rollup")(rollup)
