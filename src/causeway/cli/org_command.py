"""`causeway org init|node-config|join-request` and `causeway genesis assemble`: a consortium of
organisations that keep their own keys (docs/operations.md, sections 1 and 2)."""

# ruff: noqa: PLC0415 (heavy packages are imported inside commands: the CLI must start fast)

from __future__ import annotations

import enum
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from causeway.cli.init_command import AlgorithmChoice, CryptoChoice
from causeway.cli.output import console, key_value_table, print_json, rows_table
from causeway.errors import ConfigurationError

org_app = typer.Typer(
    name="org",
    help="One organisation's keys, kept on its own machine; its node folders; joining a chain."
    "\n\nExample:\n\n"
    "    causeway org init city --dir ./city --crypto intl --nodes 1\n\n"
    "    causeway org node-config --dir ./city --genesis ./genesis.json",
    no_args_is_help=True,
)
genesis_app = typer.Typer(
    name="genesis",
    help="A chain's genesis from the organisations' public folders."
    "\n\nExample:\n\n"
    "    causeway genesis assemble --org city/public --org port/public --org rail/public "
    "--chain-id city-net --consensus tbft --out genesis.json",
    no_args_is_help=True,
)


class ConsensusKind(enum.StrEnum):
    tbft = "tbft"
    raft = "raft"
    solo = "solo"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _passphrase(passphrase_file: Path | None, passphrase_env: str | None) -> bytes | None:
    from causeway.crypto import read_passphrase_file, read_passphrase_variable

    if passphrase_file is not None and passphrase_env is not None:
        raise ConfigurationError("give --passphrase-file or --passphrase-env, not both")
    if passphrase_file is not None:
        return read_passphrase_file(passphrase_file)
    if passphrase_env is not None:
        return read_passphrase_variable(passphrase_env)
    return None


def _node_addresses(values: list[str] | None) -> dict[str, str]:
    addresses: dict[str, str] = {}
    for value in values or []:
        name, separator, address = value.partition("=")
        if not separator or not name or not address:
            raise ConfigurationError(f"--node-address takes NODE=HOST:PORT, not {value!r}")
        if name in addresses:
            raise ConfigurationError(f"--node-address names {name} twice")
        addresses[name] = address
    return addresses


@org_app.command("init")
def org_init(
    *,
    organisation_id: Annotated[
        str, typer.Argument(metavar="ORG_ID", help="The organisation's id (lower case, e.g. city).")
    ],
    directory: Annotated[
        Path, typer.Option("--dir", metavar="DIR", help="New folder for the organisation.")
    ],
    crypto: Annotated[
        CryptoChoice,
        typer.Option("--crypto", help="Crypto profile of the chain it will join: intl or gm."),
    ],
    algorithm: Annotated[
        AlgorithmChoice | None,
        typer.Option("--algorithm", help="Signature algorithm (default: ecdsa-p256 or sm2)."),
    ] = None,
    nodes: Annotated[
        int, typer.Option("--nodes", min=0, max=16, help="Number of nodes it runs.")
    ] = 1,
    node_address: Annotated[
        list[str] | None,
        typer.Option(
            "--node-address",
            metavar="NODE=HOST:PORT",
            help="Where peers reach a node (it listens there too); repeat per node. "
            "Default 127.0.0.1 and the peer port of --port-base.",
        ),
    ] = None,
    port_base: Annotated[
        int | None,
        typer.Option(
            "--port-base",
            metavar="PORT",
            help="Node I listens on PORT+3(I-1) (gRPC), +1 (HTTP), +2 (peers).",
        ),
    ] = None,
    chain_id: Annotated[
        str,
        typer.Option(
            "--chain-id",
            help="The chain's id, if the consortium agreed on one (kept in member.json).",
        ),
    ] = "",
    passphrase_file: Annotated[
        Path | None,
        typer.Option("--passphrase-file", help="Encrypt private keys with the passphrase in F."),
    ] = None,
    passphrase_env: Annotated[
        str | None,
        typer.Option(
            "--passphrase-env",
            metavar="VAR",
            help="Encrypt private keys with the passphrase in environment variable VAR.",
        ),
    ] = None,
    pkcs11_module: Annotated[
        Path | None,
        typer.Option(
            "--pkcs11-module",
            metavar="LIB",
            help="Make the admin's and client's keys inside this PKCS#11 module's token.",
        ),
    ] = None,
    pkcs11_token_label: Annotated[
        str | None, typer.Option("--pkcs11-token-label", metavar="LABEL", help="The token.")
    ] = None,
    pkcs11_pin_env: Annotated[
        str | None,
        typer.Option(
            "--pkcs11-pin-env",
            metavar="VAR",
            help="Environment variable holding the token's user PIN (now and when signing).",
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Create one organisation's CA, TLS CA, admin, client and node identities in DIR.

    Run by each organisation on its own machine. DIR/public/ holds only what others may see
    (the organisation record, certificates, node addresses): send that folder to whoever
    assembles the genesis, and keep the rest. With --passphrase-file or --passphrase-env every
    private key but the nodes' TLS keys is encrypted (PKCS#8, PBES2 with scrypt); give the
    passphrase later in CAUSEWAY_KEY_PASSPHRASE or CAUSEWAY_KEY_PASSPHRASE_FILE. With
    --pkcs11-* the admin's and client's keys are made in a token and never leave it
    (ecdsa-p256 only).

    Example:

        causeway org init city --dir ./city --crypto intl --nodes 1 \\
            --node-address city-node1=10.0.0.1:7150
    """
    from causeway.crypto import read_passphrase_variable
    from causeway.provisioning import (
        Pkcs11Token,
        build_organisation,
        check_target,
        write_organisation,
    )

    passphrase = _passphrase(passphrase_file, passphrase_env)
    token_options = (pkcs11_module, pkcs11_token_label, pkcs11_pin_env)
    token: Pkcs11Token | None = None
    pin = ""
    if any(option is not None for option in token_options):
        if pkcs11_module is None or pkcs11_token_label is None or pkcs11_pin_env is None:
            raise ConfigurationError(
                "a PKCS#11 token needs --pkcs11-module, --pkcs11-token-label and --pkcs11-pin-env"
            )
        token = Pkcs11Token(
            module=pkcs11_module.absolute(), token_label=pkcs11_token_label, pin_env=pkcs11_pin_env
        )
        pin = read_passphrase_variable(pkcs11_pin_env, what="PKCS#11 PIN").decode("utf-8")
    check_target(directory, force=False)
    description = build_organisation(
        organisation_id,
        crypto.value,
        now_ms=_now_ms(),
        algorithm=algorithm.value if algorithm is not None else None,
        nodes=nodes,
        chain_id=chain_id,
        node_addresses=_node_addresses(node_address),
        port_base=port_base,
        token=token,
        token_pin=pin,
    )
    write_organisation(description, directory, passphrase=passphrase, token=token)
    public = description.public
    result = {
        "organisation": public.id,
        "directory": str(directory),
        "public": str(directory / "public"),
        "crypto_profile": public.crypto_profile,
        "algorithm": description.record.algorithm,
        "chain_id": public.chain_id,
        "encrypted_keys": passphrase is not None,
        "token_members": sorted(description.token_members),
        "members": [member.id for member in public.members],
        "nodes": [{"name": node.name, "address": node.address} for node in public.nodes],
    }
    if json_output:
        print_json(result)
        return
    console.print(
        key_value_table(
            f"Organisation {public.id} created in {directory}",
            [
                ("crypto profile", f"{public.crypto_profile} ({description.record.algorithm})"),
                ("private keys", "encrypted" if passphrase is not None else "unencrypted (0600)"),
                ("in the PKCS#11 token", ", ".join(sorted(description.token_members)) or "-"),
                ("members", ", ".join(member.id for member in public.members)),
            ],
        )
    )
    console.print(
        rows_table("Nodes", ["node", "address"], [[n.name, n.address] for n in public.nodes])
    )
    console.print(
        Text("Share only ", style="bold")
        + Text(str(directory / "public"))
        + Text(" with the consortium.")
    )


@org_app.command("node-config")
def org_node_config(
    *,
    directory: Annotated[
        Path, typer.Option("--dir", metavar="DIR", help="The organisation folder (org init).")
    ],
    genesis: Annotated[
        Path, typer.Option("--genesis", metavar="FILE", help="The assembled genesis.json.")
    ],
    peers: Annotated[
        Path | None,
        typer.Option("--peers", metavar="FILE", help="peers.json (default: beside the genesis)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace existing node folders (their data too).")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Write DIR/nodes/<node>/ for each of the organisation's nodes from its own keys and the
    assembled genesis and peers file; start each with `causeway node start --home`.

    Example:

        causeway org node-config --dir ./city --genesis ./genesis.json
    """
    from causeway.provisioning import write_node_homes

    homes = write_node_homes(directory, genesis, peers, force=force)
    if json_output:
        print_json({"homes": [str(home) for home in homes]})
        return
    for home in homes:
        console.print(
            Text("Start it with:  ", style="bold") + Text(f"causeway node start --home {home}")
        )


@org_app.command("join-request")
def org_join_request(
    *,
    directory: Annotated[
        Path, typer.Option("--dir", metavar="DIR", help="The organisation folder (or its public/).")
    ],
    chain_genesis: Annotated[
        Path, typer.Option("--chain-genesis", metavar="FILE", help="The chain's genesis.json.")
    ],
    out: Annotated[
        Path, typer.Option("--out", metavar="FILE", help="The PROPOSAL DRAFT to write.")
    ],
    validator: Annotated[
        bool,
        typer.Option(
            "--validator",
            help="Write instead the later proposal that makes its nodes validators.",
        ),
    ] = False,
    voting_power: Annotated[
        int, typer.Option("--voting-power", min=1, help="With --validator: power per node.")
    ] = 1,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing FILE.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Write the PROPOSAL DRAFT that adds this organisation to a running chain: its CA
    (membership.add_organisation) and its members, admin first (membership.add_member). An
    admin of the chain submits it with `causeway proposal create --calls-file FILE`; once it
    has executed, `--validator` writes the proposal making its nodes validators.

    Example:

        causeway org join-request --dir ./harbour --chain-genesis ./genesis.json --out join.json
    """
    from causeway.provisioning import (
        join_request,
        load_genesis,
        load_public_organisation,
    )
    from causeway.types.proposal_draft import proposal_draft_text

    if out.exists() and not force:
        raise ConfigurationError(f"{out} exists; choose another path or pass --force")
    draft = join_request(
        load_public_organisation(directory),
        load_genesis(chain_genesis),
        now_ms=_now_ms(),
        validator=validator,
        voting_power=voting_power,
    )
    text = proposal_draft_text(draft)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"cannot write {out}: {error.strerror or error}") from None
    calls = [f"{call.contract}.{call.method}" for call in draft.calls]
    if json_output:
        print_json({"out": str(out), "title": draft.title, "calls": calls})
        return
    console.print(key_value_table(draft.title, [("file", str(out)), ("calls", ", ".join(calls))]))


@genesis_app.command("assemble")
def genesis_assemble(
    *,
    organisations: Annotated[
        list[Path],
        typer.Option("--org", metavar="DIR", help="An organisation's public/ folder; repeat."),
    ],
    chain_id: Annotated[str, typer.Option("--chain-id", help="The new chain's id.")],
    consensus: Annotated[
        ConsensusKind, typer.Option("--consensus", help="Consensus engine.")
    ] = ConsensusKind.tbft,
    out: Annotated[
        Path, typer.Option("--out", metavar="FILE", help="The genesis to write.")
    ] = Path("genesis.json"),
    validators_per_org: Annotated[
        int,
        typer.Option("--validators-per-org", min=1, help="Validators from each organisation."),
    ] = 1,
    allow_concentrated_power: Annotated[
        bool,
        typer.Option(
            "--allow-concentrated-power",
            help="Accept an organisation with a third or more of the voting power.",
        ),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace existing files.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Assemble a genesis from the organisations' public folders only, and peers.json beside it
    (every node's address and every organisation's TLS CA); send both to every organisation.

    Beside them, nodes-proposal.json: the chain's first proposal, recording every TLS CA and
    node endpoint on chain (causeway proposal create --calls-file), which nodes follow from then
    on and nodes that join later read.

    Each organisation's first --validators-per-org nodes validate with power 1. No organisation
    may hold a third or more of the power (it could halt the chain alone) unless
    --allow-concentrated-power. Every certificate is checked against its organisation's CA.

    Example:

        causeway genesis assemble --org city/public --org port/public --org rail/public \\
            --org water/public --chain-id city-net --consensus tbft --out genesis.json
    """
    from causeway.crypto import get_profile
    from causeway.provisioning import (
        assemble_genesis,
        load_public_organisation,
        write_assembled,
        write_node_records_proposals,
    )
    from causeway.types import genesis_hash

    public = [load_public_organisation(path) for path in organisations]
    network = assemble_genesis(
        public,
        chain_id=chain_id,
        consensus=consensus.value,
        now_ms=_now_ms(),
        validators_per_organisation=validators_per_org,
        allow_concentrated_power=allow_concentrated_power,
    )
    genesis_path, peers_path = write_assembled(network, out, force=force)
    proposal_paths = write_node_records_proposals(public, chain_id, out, force=force)
    identifier = genesis_hash(network.genesis, get_profile(network.genesis.crypto_profile).hash)
    total = sum(network.voting_power.values())
    result = {
        "genesis": str(genesis_path),
        "peers": str(peers_path),
        "node_records_proposals": [str(path) for path in proposal_paths],
        "chain_id": chain_id,
        "genesis_hash": identifier.hex(),
        "voting_power": network.voting_power,
        "validators": [v.member_id for v in network.genesis.validators.validators],
    }
    if json_output:
        print_json(result)
        return
    console.print(
        key_value_table(
            f"Genesis of {chain_id} written to {genesis_path}",
            [
                ("peers", str(peers_path)),
                ("first proposals", ", ".join(str(path) for path in proposal_paths)),
                ("genesis hash", identifier.hex()),
            ],
        )
    )
    console.print(
        rows_table(
            "Voting power",
            ["organisation", "power", "share"],
            [[name, power, f"{power}/{total}"] for name, power in network.voting_power.items()],
        )
    )


def register(app: typer.Typer) -> None:
    app.add_typer(org_app)
    app.add_typer(genesis_app)
