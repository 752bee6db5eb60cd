"""`causeway explorer`: the explorer's pages on a port of their own, reading a node's HTTP API."""

# ruff: noqa: PLC0415 (heavy packages are imported inside commands: the CLI must start fast)

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from causeway.cli.output import console
from causeway.errors import ConfigurationError, NodeUnavailableError

NODE_URL_DEFAULT = "http://127.0.0.1:8050"
PORT_DEFAULT = 8060
HOST_DEFAULT = "127.0.0.1"
# How long the first status read of the node may take before the command gives up.
NODE_CHECK_TIMEOUT_S = 10.0


def check_node_url(node_url: str) -> str:
    """The node's HTTP base URL without a trailing slash; a URL that is not http(s)://host[:port]
    is a ConfigurationError (2: a usage mistake is reported before anything starts)."""
    import httpx

    try:
        url = httpx.URL(node_url)
    except (httpx.InvalidURL, TypeError) as error:
        raise ConfigurationError(f"{node_url!r} is not a URL: {error}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(
            f"{node_url!r} is not a node's HTTP address, such as {NODE_URL_DEFAULT}"
        )
    if url.path not in ("", "/") or url.query or url.fragment:
        raise ConfigurationError(f"{node_url!r} must name the node only, without a path")
    return str(url.copy_with(path="/")).rstrip("/")


def node_chain(
    node_url: str,
    tls_ca_file: Path | None = None,
    access_token: Callable[[], str] | None = None,
) -> str:
    """The chain id and height the node reports: shows the node answers (to the reads this
    process will pass on: over TLS, with tokens, for a secured node) before serving."""
    import httpx

    from causeway.node.snapshots import secured_http_options

    try:
        with httpx.Client(
            timeout=NODE_CHECK_TIMEOUT_S,
            **secured_http_options(node_url, tls_ca_file, access_token),
        ) as client:
            answer = client.get(f"{node_url}/v1/status")
        status = answer.json()
    except (httpx.HTTPError, ValueError) as error:
        raise NodeUnavailableError(f"the node at {node_url} does not answer: {error}") from None
    if answer.status_code != 200 or not isinstance(status, dict) or "chainId" not in status:
        raise NodeUnavailableError(
            f"{node_url}/v1/status answered {answer.status_code}, not a Causeway node's status"
        )
    return f"{status['chainId']} at height {status.get('height', '?')}"


def explorer(
    *,
    node: Annotated[
        str, typer.Option("--node", help="The node's HTTP address (its api.http_address).")
    ] = NODE_URL_DEFAULT,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to serve the explorer on.")
    ] = PORT_DEFAULT,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (loopback by default).")
    ] = HOST_DEFAULT,
    tls_ca: Annotated[
        Path | None,
        typer.Option(
            "--tls-ca",
            metavar="FILE",
            help="A secured node (an https:// --node): trust its certificate from these CAs "
            "(PEM; default: the global --tls-ca).",
        ),
    ] = None,
    identity: Annotated[
        Path | None,
        typer.Option(
            "--identity",
            metavar="MEMBER_DIR",
            help="A member whose key signs the access tokens of the reads passed on to a node "
            "that requires them: the explorer reads with this member's rights, its readers "
            "need no token (default: the global --identity).",
        ),
    ] = None,
) -> None:
    """Serve the explorer on a port of its own, reading the node at --node.

    The pages are the ones the node serves at /explorer/ on its HTTP port; here they come from
    this process, which passes the node's read operations on (never a submission), so the node's
    port can stay private. Runs until stopped (Ctrl-C).

    Example:

        causeway explorer --node http://127.0.0.1:8050 --port 8060

        causeway explorer --node https://127.0.0.1:8050 \\
            --tls-ca ./net/nodes/node1/tls/ca-bundle.pem \\
            --identity ./net/organisations/org1/members/client
    """
    from causeway.api.http_server import HttpServer
    from causeway.explorer import EXPLORER_PATH, create_explorer_app

    try:
        node_url = check_node_url(node)
    except ConfigurationError as error:
        raise typer.BadParameter(error.message, param_hint="--node") from None
    from causeway.cli.connection import http_read_access

    tls_ca_file, access_token = http_read_access(tls_ca, identity)
    chain = node_chain(node_url, tls_ca_file, access_token)
    server = HttpServer(
        create_explorer_app(node_url, tls_ca_file=tls_ca_file, access_token=access_token),
        f"{host}:{port}",
    )
    bound_port = server.port
    console.print(
        f"explorer of {chain} at http://{host}:{bound_port}{EXPLORER_PATH}/ (reading {node_url})"
    )
    asyncio.run(server.serve())


def register(app: typer.Typer) -> None:
    app.command("explorer")(explorer)
