"""The `causeway` command.

Every failure ends as one readable line on stderr and a non-zero exit status (1 for an error, 2 for
a usage mistake, 3 for a transaction that committed with a failed status); `--debug` (or
CAUSEWAY_DEBUG=1) shows the traceback instead. Heavy packages (gRPC, the node, the SDK) are
imported inside the commands so that `causeway --help` stays fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from causeway.cli import (
    atomic_commands,
    bench_command,
    chain_commands,
    connection,
    contract_commands,
    devnet_command,
    directory_commands,
    explorer_command,
    gateway_command,
    init_command,
    interchain_commands,
    learn_command,
    node_command,
    org_command,
    proposal_commands,
    relayer_command,
)
from causeway.cli.output import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TRANSACTION_FAILED,
    EXIT_USAGE,
    print_error,
)
from causeway.errors import CausewayError, TransactionFailedError

DEBUG_ENVIRONMENT_VARIABLE = "CAUSEWAY_DEBUG"


def _rpc_error_line(error: Exception) -> str | None:
    """'UNAVAILABLE: failed to connect ...' for a gRPC error, without importing gRPC up front."""
    code = getattr(error, "code", None)
    details = getattr(error, "details", None)
    if not (callable(code) and callable(details)):
        return None
    try:
        status = code()
        text = details()
    except Exception:
        return None
    name = getattr(status, "name", str(status))
    return f"node answered {name}: {text}"


def _usage_line(error: typer.TyperException) -> str:
    message = error.format_message()
    context = getattr(error, "ctx", None)
    command_path = getattr(context, "command_path", None)
    if command_path:
        return f"{message} (see '{command_path} --help')"
    return message


class CausewayGroup(TyperGroup):
    """The root group: turns every failure into one line on stderr and an exit status."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        arguments = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in arguments or os.environ.get(DEBUG_ENVIRONMENT_VARIABLE, "") not in (
            "",
            "0",
        )
        code = EXIT_OK
        try:
            result = super().main(
                args=arguments,
                prog_name=prog_name or "causeway",
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
            if isinstance(result, int) and not isinstance(result, bool):
                code = result
        except typer.TyperException as error:
            # Usage mistakes (exit status 2) and the like, raised while parsing the command line.
            code = error.exit_code
            if type(error).__name__ == "NoArgsIsHelpError":
                # The help was already printed: a bare group asks for it.
                if error.format_message().strip():
                    sys.stdout.write(error.format_message() + "\n")
            elif code == EXIT_USAGE:
                print_error(_usage_line(error))
            else:
                print_error(error.format_message())
        except typer.Abort:
            print_error("aborted")
            code = EXIT_ERROR
        except KeyboardInterrupt:
            print_error("interrupted")
            code = EXIT_INTERRUPTED
        except TransactionFailedError as error:
            # Committed, but refused by its contract: the status scripts tell apart.
            if debug:
                raise
            print_error(error.message)
            code = EXIT_TRANSACTION_FAILED
        except CausewayError as error:
            if debug:
                raise
            print_error(error.message)
            code = EXIT_ERROR
        except Exception as error:
            if debug:
                raise
            rpc_line = _rpc_error_line(error)
            if rpc_line is not None:
                print_error(rpc_line)
            else:
                print_error(
                    f"unexpected {type(error).__name__}: {error} "
                    f"(run with --debug for the traceback)"
                )
            code = EXIT_ERROR
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    cls=CausewayGroup,
    name="causeway",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")
    ] = False,
    tls_ca: Annotated[
        Path | None,
        typer.Option(
            "--tls-ca",
            metavar="PEM_FILE",
            envvar=connection.TLS_CA_ENVIRONMENT_VARIABLE,
            help="Connect over TLS, trusting these CAs for the node's certificate (e.g. "
            "NET/nodes/node1/tls/ca-bundle.pem); access tokens are then sent, signed by the "
            "command's --identity or the global one.",
        ),
    ] = None,
    identity: Annotated[
        Path | None,
        typer.Option(
            "--identity",
            metavar="MEMBER_DIR",
            help="Member folder that signs access tokens for commands without an --identity "
            "of their own (status, block get, state get...).",
        ),
    ] = None,
    client_certificate: Annotated[
        Path | None,
        typer.Option(
            "--client-certificate",
            metavar="MEMBER_DIR",
            envvar=connection.CLIENT_CERTIFICATE_ENVIRONMENT_VARIABLE,
            help="Member folder whose member.crt and key.pem are presented in mutual TLS.",
        ),
    ] = None,
) -> None:
    """Causeway: run a permissioned blockchain and talk to it.

    Example:

        causeway init ./net --orgs 2 --crypto intl --consensus solo

        causeway node start --home ./net/nodes/node1

        causeway tx send --identity ./net/organisations/org1/members/client \\
            --contract kv --method put --args '{"key": "colour", "value": "blue"}'
    """
    del debug  # read in CausewayGroup.main, before parsing, so that parse errors honour it too
    connection.configure(
        connection.ConnectionSettings(
            tls_ca_file=tls_ca, client_certificate=client_certificate, identity=identity
        )
    )


init_command.register(app)
node_command.register(app)
chain_commands.register(app)
bench_command.register(app)
devnet_command.register(app)
relayer_command.register(app)
gateway_command.register(app)
interchain_commands.register(app)
atomic_commands.register(app)
contract_commands.register(app)
directory_commands.register(app)
proposal_commands.register(app)
org_command.register(app)
explorer_command.register(app)
learn_command.register(app)


def main() -> None:
    """Entry point of the `causeway` script."""
    typer.main.get_command(app).main(prog_name="causeway")
