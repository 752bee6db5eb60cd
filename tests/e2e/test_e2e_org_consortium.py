"""Three organisations that keep their own keys make one tbft chain (docs/operations.md, 1).

Each organisation runs `causeway org init` in a folder of its own; only the public/ folders are
copied to the consortium's folder, where `causeway genesis assemble` makes the genesis and
peers.json; those two files are copied back, each organisation writes its node's home with
`causeway org node-config` and starts it with `causeway node start --home`. The chain commits
transactions signed by members of two organisations.

intl: city's private keys are encrypted with a passphrase (its node starts with it in the
environment) and port's client key lives in a SoftHSM token. gm: plain file keys, SM2.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from devnet_harness import free_port_base
from softhsm import SoftHsmToken, softhsm_token  # noqa: F401 (the fixture)
from typer.testing import CliRunner
from waiting import wait_until

from causeway.cli.main import app
from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import Pkcs11Signer
from causeway.sdk import Client, Identity

pytestmark = pytest.mark.e2e

ORGANISATIONS = ("city", "port", "rail")
CHAIN_ID = "consortium-e2e"
PASSPHRASE = "city keeps this"
START_TIMEOUT_S = 60.0
COMMIT_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
PORTS_PER_ORGANISATION = 3


def _causeway(*arguments: str, environment: dict[str, str] | None = None) -> str:
    """One `causeway` command, in this process (a new interpreter costs 2-3 s a line here)."""
    result = CliRunner().invoke(app, list(arguments), env=environment)
    assert result.exit_code == 0, (arguments, result.output)
    return result.stdout


@contextlib.contextmanager
def _nodes(homes: dict[str, Path], environments: dict[str, dict[str, str]]) -> Iterator[None]:
    """Starts `causeway node start --home` for each home; stops every one, even on failure."""
    processes: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for name, home in homes.items():
            log = home.parent / f"{name}.log"
            with log.open("wb") as output:
                processes.append(
                    (
                        subprocess.Popen(
                            [
                                sys.executable,
                                "-m",
                                "causeway.cli",
                                "node",
                                "start",
                                "--home",
                                str(home),
                            ],
                            stdout=output,
                            stderr=subprocess.STDOUT,
                            env=environments[name],
                        ),
                        log,
                    )
                )
        yield
    except BaseException:
        for _process, log in processes:
            sys.stderr.write(f"--- {log}\n{log.read_text(errors='replace')[-4000:]}\n")
        raise
    finally:
        for process, _ in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in processes:
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _height(address: str) -> int:
    try:
        with Client(address, timeout_s=2.0) as client:
            return int(client.status().height)
    except Exception:
        return -1


@pytest.mark.parametrize("crypto", ["intl", "gm"])
def test_three_organisations_sharing_only_public_folders_run_a_tbft_chain(
    tmp_path: Path,
    crypto: str,
    softhsm_token: SoftHsmToken,  # noqa: F811
) -> None:
    base = free_port_base(PORTS_PER_ORGANISATION * len(ORGANISATIONS))
    consortium = tmp_path / "consortium"
    consortium.mkdir()
    machines = {name: tmp_path / f"machine-{name}" for name in ORGANISATIONS}
    environments: dict[str, dict[str, str]] = {}
    for index, name in enumerate(ORGANISATIONS):
        machines[name].mkdir()
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("CAUSEWAY_KEY_PASSPHRASE")
        }
        extra: list[str] = []
        if crypto == "gm":
            extra += ["--chain-id", CHAIN_ID]
        if name == "city" and crypto == "intl":
            environment["CAUSEWAY_KEY_PASSPHRASE"] = PASSPHRASE
            extra += ["--passphrase-env", "CAUSEWAY_KEY_PASSPHRASE"]
        if name == "port" and crypto == "intl":
            extra += [
                "--pkcs11-module", str(softhsm_token.module),
                "--pkcs11-token-label", softhsm_token.label,
                "--pkcs11-pin-env", softhsm_token.pin_variable,
            ]  # fmt: skip
        organisation_id = name if crypto == "intl" else f"{name}-gm"
        environments[name] = environment
        _causeway(
            "org", "init", organisation_id, "--dir", str(machines[name] / "org"),
            "--crypto", crypto,
            "--port-base", str(base + PORTS_PER_ORGANISATION * index), *extra,
            environment={"CAUSEWAY_KEY_PASSPHRASE": environment.get("CAUSEWAY_KEY_PASSPHRASE")},
        )  # fmt: skip
        # Only the public folder leaves the organisation's machine.
        shutil.copytree(machines[name] / "org" / "public", consortium / organisation_id)

    _causeway(
        "genesis", "assemble",
        *[argument for entry in sorted(consortium.iterdir()) for argument in ("--org", str(entry))],
        "--chain-id", CHAIN_ID, "--consensus", "tbft", "--out", str(consortium / "genesis.json"),
        "--allow-concentrated-power",
    )  # fmt: skip

    homes: dict[str, Path] = {}
    for name in ORGANISATIONS:
        for file_name in ("genesis.json", "peers.json"):
            shutil.copy(consortium / file_name, machines[name] / file_name)
        _causeway(
            "org", "node-config", "--dir", str(machines[name] / "org"),
            "--genesis", str(machines[name] / "genesis.json"),
        )  # fmt: skip
        (home,) = sorted((machines[name] / "org" / "nodes").iterdir())
        homes[name] = home

    grpc = {
        name: f"127.0.0.1:{base + PORTS_PER_ORGANISATION * i}"
        for i, name in enumerate(ORGANISATIONS)
    }
    with _nodes(homes, environments):
        wait_until(
            lambda: all(_height(address) >= 1 for address in grpc.values()),
            START_TIMEOUT_S,
            "every node answers",
        )
        senders = [("rail", machines["rail"] / "org" / "members" / "client")]
        if crypto == "intl":
            # port's client signs inside the SoftHSM token.
            senders.append(("port", machines["port"] / "org" / "members" / "client"))
        heights = []
        for node, member_folder in senders:
            identity = Identity.load(member_folder)
            if node == "port":
                assert isinstance(identity.key, Pkcs11Signer)
            with Client(grpc[node], identity) as client:
                committed = client.invoke(
                    "kv",
                    "put",
                    contracts_pb2.KvPutArguments(key=node.encode(), value=b"committed"),
                    timeout_s=COMMIT_TIMEOUT_S,
                )
                assert committed.succeeded, committed
                heights.append(committed.height)
        top = max(heights)
        wait_until(
            lambda: all(_height(address) >= top for address in grpc.values()),
            COMMIT_TIMEOUT_S,
            "every node holds the committed blocks",
        )
