"""`causeway bench`: load a node with a workload and report throughput and latency."""

# ruff: noqa: PLC0415 (heavy packages are imported inside commands: the CLI must start fast)

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from causeway.cli.arguments import node_address_option
from causeway.cli.output import console, key_value_table, print_json
from causeway.errors import ConfigurationError

if TYPE_CHECKING:
    from causeway.bench import BenchIdentities, BenchReport, ResourceMonitor

DEFAULT_NODE = "127.0.0.1:7050"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
MEBIBYTE = 1 << 20
_TASK_LABELS = {"sign": "signing", "send": "sending", "commit": "committed"}


class _RichProgress:
    """BenchProgress drawn as rich progress bars (on stderr, so --json stays clean)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def start(self, task: str, total: int) -> None:
        self._tasks[task] = self._progress.add_task(_TASK_LABELS.get(task, task), total=total)

    def advance(self, task: str, count: int) -> None:
        task_id = self._tasks.get(task)
        if task_id is not None:
            self._progress.advance(task_id, count)


def _network_identities(network: Path) -> tuple[BenchIdentities, str]:
    """org1's client sends, org1's admin issues, other admins endorse as the ledger issue policy
    needs; the address is node1's."""
    from causeway.bench import BenchIdentities, choose_endorsing_organisations
    from causeway.provisioning import (
        ADMIN_NAME,
        CLIENT_NAME,
        GENESIS_FILE_NAME,
        genesis_from_json,
        member_directory,
        node_directory,
    )

    try:
        genesis = genesis_from_json((network / GENESIS_FILE_NAME).read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigurationError(f"{network} is not a network folder: {error}") from None
    organisations = [organisation.id for organisation in genesis.organisations]
    if not organisations:
        raise ConfigurationError(f"{network}/genesis.json has no organisations")
    issuer_organisation = organisations[0]
    # Setup transactions issue tokens (ledger-transfer) or deploy contracts (the wasm
    # workloads): their endorsers satisfy both policies.
    config = genesis.config
    contract_policy = (
        config.contract_policy if config.HasField("contract_policy") else config.governance_policy
    )
    endorsing = [
        organisation
        for organisation in organisations
        if organisation
        in set(
            choose_endorsing_organisations(
                config.ledger_issue_policy, issuer_organisation, organisations
            )
        )
        | set(choose_endorsing_organisations(contract_policy, issuer_organisation, organisations))
    ]
    identities = BenchIdentities(
        sender=member_directory(network, f"{issuer_organisation}/{CLIENT_NAME}"),
        issuer=member_directory(network, f"{issuer_organisation}/{ADMIN_NAME}"),
        endorsers=tuple(
            member_directory(network, f"{organisation}/{ADMIN_NAME}") for organisation in endorsing
        ),
    )
    address = DEFAULT_NODE
    if genesis.validators.validators:
        first = genesis.validators.validators[0].member_id.partition("/")[2]
        config_path = node_directory(network, first) / "config.toml"
        try:
            document = tomllib.loads(config_path.read_text(encoding="utf-8"))
            address = str(document.get("api", {}).get("grpc_address", DEFAULT_NODE))
        except (OSError, tomllib.TOMLDecodeError):
            pass
    return identities, address


def _grpc_port(address: str) -> int | None:
    """The port of a loopback address (a node on this machine), else None."""
    host, _, port = address.rpartition(":")
    if host not in LOOPBACK_HOSTS or not port.isdigit():
        return None
    return int(port)


def _node_ports(network: Path | None, address: str) -> dict[int, str]:
    """gRPC port -> node name of the nodes whose processes the run measures: every node of the
    network folder, or the one node at `address`."""
    ports: dict[int, str] = {}
    if network is not None:
        for config_path in sorted((network / "nodes").glob("*/config.toml")):
            try:
                document = tomllib.loads(config_path.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError):
                continue
            port = _grpc_port(str(document.get("api", {}).get("grpc_address", "")))
            if port is not None:
                ports[port] = config_path.parent.name
    port = _grpc_port(address)
    if port is not None and port not in ports:
        ports[port] = "node"
    return ports


def _resource_monitor(network: Path | None, address: str) -> ResourceMonitor | None:
    """A monitor of the node processes listening on this machine; None when none is found."""
    from causeway.bench import ResourceMonitor, listening_process_ids

    names = _node_ports(network, address)
    processes = listening_process_ids(names)
    if not processes:
        return None
    return ResourceMonitor({pid: names[port] for port, pid in sorted(processes.items())})


def _report_rows(report: BenchReport) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [
        ("workload", report.workload),
        ("sent", report.sent),
        ("succeeded", report.succeeded),
        (
            "failed",
            f"{report.failed} (rejected {report.rejected}, unconfirmed {report.unconfirmed})",
        ),
        (
            "send rate",
            f"{report.send_rate_tps:,.1f} tx/s (target "
            + (f"{report.target_rate_tps:,.0f})" if report.target_rate_tps else "unlimited)"),
        ),
        ("throughput", f"{report.throughput_tps:,.1f} tx/s"),
        ("duration", f"{report.duration_s:.3f} s"),
        ("concurrency", f"{report.concurrency} x batches of {report.batch_size}"),
    ]
    latency = report.latency
    if latency is not None:
        rows.extend(
            [
                ("latency min", f"{latency.min_s * 1000:.1f} ms"),
                ("latency p50", f"{latency.p50_s * 1000:.1f} ms"),
                ("latency p90", f"{latency.p90_s * 1000:.1f} ms"),
                ("latency p95", f"{latency.p95_s * 1000:.1f} ms"),
                ("latency p99", f"{latency.p99_s * 1000:.1f} ms"),
                ("latency max", f"{latency.max_s * 1000:.1f} ms"),
                ("latency mean", f"{latency.mean_s * 1000:.1f} ms"),
            ]
        )
    usage = report.resources
    if usage is not None:
        for process in usage.processes:
            rows.append(
                (
                    f"{process.name} (PID {process.pid})",
                    f"CPU {process.cpu_percent_mean:.0f}% (max {process.cpu_percent_max:.0f}%), "
                    f"memory max {process.memory_bytes_max / MEBIBYTE:,.0f} MiB, "
                    f"written {process.write_bytes / MEBIBYTE:,.1f} MiB",
                )
            )
    written = report.bytes_written_per_committed_transaction
    if written is not None:
        rows.append(("written per committed tx", f"{written:,.0f} bytes"))
    device_written = report.device_bytes_written_per_committed_transaction
    if device_written is not None:
        rows.append(("disk wrote per committed tx", f"{device_written:,.0f} bytes"))
    rows.extend((f"failure: {reason}", count) for reason, count in report.failure_reasons.items())
    return rows


def bench(
    *,
    workload: Annotated[
        str,
        typer.Option(
            "--workload",
            "-w",
            help="Workload: ledger-transfer, kv-put, wasm-transfer or wasm-kv.",
        ),
    ] = "kv-put",
    transactions: Annotated[
        int, typer.Option("--transactions", "-t", min=1, help="Transactions to send.")
    ] = 10_000,
    rate: Annotated[
        float, typer.Option("--rate", "-r", min=0, help="Target send rate in tx/s; 0 = unlimited.")
    ] = 0.0,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, max=256, help="Batches in flight at once.")
    ] = 4,
    batch_size: Annotated[
        int,
        typer.Option("--batch-size", min=0, help="Transactions per SubmitBatch; 0 = automatic."),
    ] = 0,
    node: Annotated[
        str | None,
        typer.Option(
            "--node",
            "-n",
            metavar="ADDRESS",
            envvar="CAUSEWAY_NODE",
            help="gRPC address of the node (default: node1's with --network, else 127.0.0.1:7050).",
            callback=node_address_option,
        ),
    ] = None,
    identity: Annotated[
        Path | None,
        typer.Option(
            "--identity",
            "-i",
            metavar="MEMBER_DIR",
            help="Member folder that sends (for ledger-transfer it also issues: an admin).",
        ),
    ] = None,
    network: Annotated[
        Path | None,
        typer.Option(
            "--network",
            metavar="DIR",
            help="Network folder from `causeway init`: org1's client sends, org1's admin funds it.",
        ),
    ] = None,
    commit_timeout_s: Annotated[
        float,
        typer.Option(
            "--commit-timeout-s", min=0.1, help="Wait this long for commits after sending."
        ),
    ] = 60.0,
    expiry_s: Annotated[
        float, typer.Option("--expiry-s", min=1, help="Expiry of the pre-signed transactions.")
    ] = 600.0,
    value_bytes: Annotated[
        int, typer.Option("--value-bytes", min=0, help="kv-put value size.")
    ] = 100,
    accounts: Annotated[
        int,
        typer.Option("--accounts", min=1, help="ledger-transfer and wasm-transfer recipients."),
    ] = 10_000,
    contract_language: Annotated[
        str,
        typer.Option(
            "--contract-language",
            help="wasm-transfer: the token contract's language, assemblyscript or rust.",
        ),
    ] = "assemblyscript",
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the workload's random choices.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", metavar="FILE", help="Also write the JSON report here.")
    ] = None,
    html_report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            metavar="FILE.html",
            help="Also write a self-contained HTML report: summary, node resource use, charts.",
        ),
    ] = None,
) -> None:
    """Benchmark a node: throughput and commit latency under a workload.

    Every transaction is signed before the clock starts, then sent in batches at the target
    rate; latency = time the committing block arrived on the block stream - time the batch was
    sent. For ledger-transfer the sender's account is funded first (an admin issues it, with the
    endorsements the ledger issue policy needs when --network is given); transfers then go to
    random accounts.

    The node processes on this machine (every node of --network, or the one at a loopback
    --node) are sampled from /proc during the run: CPU, memory, storage bytes read and written,
    and bytes written per committed transaction. --report FILE.html writes all of it, with charts
    of throughput over time and of the latency distribution, as one page.

    Example:

        causeway bench --network ./net --workload ledger-transfer --transactions 20000 --rate 2000

        causeway bench --identity ./net/organisations/org1/members/client \\
            --workload kv-put -t 5000 --json --out report.json

        causeway bench --network ./net -t 20000 --report bench.html

        causeway --tls-ca ./net/nodes/node1/tls/ca-bundle.pem bench --network ./net -t 2000
    """
    from causeway.bench import (
        BenchIdentities,
        BenchSettings,
        render_html_report,
        run_benchmark,
        workload_names,
    )
    from causeway.cli.connection import open_client

    if workload not in workload_names():
        raise ConfigurationError(
            f"unknown workload {workload!r}; choose one of {', '.join(workload_names())}"
        )
    if network is None and identity is None:
        raise ConfigurationError("give --network DIR or --identity MEMBER_DIR")
    address = node or DEFAULT_NODE
    if network is not None:
        identities, network_address = _network_identities(network)
        address = node or network_address
        if identity is not None:
            identities = BenchIdentities(
                sender=identity, issuer=identities.issuer, endorsers=identities.endorsers
            )
    elif identity is not None:
        identities = BenchIdentities(sender=identity)
    settings = BenchSettings(
        workload=workload,
        transactions=transactions,
        rate_tps=rate,
        concurrency=concurrency,
        batch_size=batch_size,
        commit_timeout_s=commit_timeout_s,
        expiry_s=expiry_s,
        seed=seed,
        options={
            "value_bytes": value_bytes,
            "recipient_accounts": accounts,
            "contract_language": contract_language,
        },
    )
    with Progress(
        TextColumn("{task.description:>10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=json_output,
    ) as progress:
        report = run_benchmark(
            address,
            identities,
            settings,
            progress=_RichProgress(progress),
            # Connected as the global options say: a secured node is benchmarked over TLS with
            # tokens of the sender (or the client certificate given).
            client_factory=open_client,
            monitor=_resource_monitor(network, address),
        )
    data = {"node": address, **report.to_dict()}
    if out is not None:
        _write(out, json.dumps(data, indent=2) + "\n")
    if html_report is not None:
        _write(html_report, render_html_report(report, node=address))
    if json_output:
        print_json(data)
        return
    console.print(key_value_table(f"Benchmark against {address}", _report_rows(report)))
    for written in (out, html_report):
        if written is not None:
            console.print(f"report written to {written}")


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"cannot write {path}: {error}") from None


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
