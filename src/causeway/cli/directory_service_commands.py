"""`causeway directory serve` and `causeway directory token`: the directory service
(causeway.apps.directory.service) from its configuration file."""

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


def register(app: typer.Typer) -> None:
    """Adds the commands to the `causeway directory` group."""
    app.command("serve")(serve)
    app.command("token")(token)
