"""Issue 9's atomic cross-chain transactions end to end, on real processes: the demo's three
chains (a tbft hub, chain-a on tbft and intl, chain-b on raft and gm) from the example manifest,
joined by `devnet up` (which also binds the atomic port and registers the hub for atomic legs on
both members) and carried by its relayer process.

- the demo's atomic step commits one transaction and aborts one, and shows that the abort moved
  nothing;
- a transaction whose relayer is SIGKILLed once its first leg is prepared, and restarted afresh,
  still ends in one decision applied on both legs (a COMMIT: the payment and the registration
  both happen), and `xtx status --legs` shows it;
- a transaction whose kv precondition is false aborts: nothing moves on either chain, the
  prepared payment comes back, `xtx status --legs` exits 3 showing every leg ended, and `xtx
  settle` delivers the decision again by proof, changing nothing;
- owners sign apart (xtx sign, one after the other) and a submitter outside the devnet submits
  through the hub's registry;
- a leg signed with another member's key is refused by its own chain, and nothing moves.

One devnet for the module (about 20 s to start); every process it recorded is stopped on the way
out, whatever happens.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from manifest_devnets import manifest_devnet, run_cli

from causeway.contracts.v1 import contracts_pb2
from causeway.interchain.v1 import atomic_pb2
from causeway.provisioning import load_devnet_description
from causeway.provisioning.devnet import load_relayers
from causeway.provisioning.interchain_devnet import DevnetDescription
from causeway.sdk import Client, Identity
from causeway.sdk.atomic import (
    DOMAIN_ATOMIC_LEG,
    AtomicNetwork,
    build_body,
    leg_document,
    submit_and_wait,
    transaction_id,
    wait_for_end,
)
from causeway.types import encode, sign_bytes

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "devnet-three-chains.toml"
CLI_TIMEOUT_S = 240.0
# 11 nodes of three ports each, and the relayer's metrics port.
PORTS = 34
STEP_TIMEOUT_S = 180.0
POLL_S = 0.25
DENOM = "gold"
AMOUNT = 10
DEADLINE_AHEAD_MS = 120_000


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # The example manifest on free ports (its braces escaped: the rest is a format template).
    text = EXAMPLE.read_text(encoding="utf-8").replace("{", "{{").replace("}", "}}")
    template = re.sub(r"^port_base = \d+$", "port_base = {port_base}", text, flags=re.M)
    assert "{port_base}" in template
    root = tmp_path_factory.mktemp("atomic")
    with manifest_devnet(root, template, PORTS, timeout_s=CLI_TIMEOUT_S) as directory:
        yield directory


def member_folder(description: DevnetDescription, chain_id: str, member_id: str) -> Path:
    chain = description.chain(chain_id)
    (entry,) = (m for m in chain.members if m.member_id == member_id)
    return Path(entry.directory)


def member(description: DevnetDescription, chain_id: str, member_id: str) -> Client:
    chain = description.chain(chain_id)
    return Client(
        chain.nodes[0].grpc_address,
        Identity.load(member_folder(description, chain_id, member_id)),
        timeout_s=30.0,
    )


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(POLL_S)


def kv_value(client: Client, key: bytes) -> bytes | None:
    response = client.get_state(b"kv/" + key)
    return response.value if response.found else None


def legs(key: bytes, *, expect_absent: bool = True) -> list[atomic_pb2.AtomicLeg]:
    return [
        atomic_pb2.AtomicLeg(
            chain_id="chain-a",
            owner="org1/client",
            bank_transfer=atomic_pb2.AtomicBankTransfer(
                from_account="org1/client", to_account="org2/client", denom=DENOM, amount=AMOUNT
            ),
        ),
        atomic_pb2.AtomicLeg(
            chain_id="chain-b",
            owner="org1/client",
            kv_write=atomic_pb2.AtomicKvWrite(
                key=key, value=b"registered", expect_absent=expect_absent
            ),
        ),
    ]


def status_of(devnet: Path, identifier: bytes) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "xtx", "status", identifier.hex(), "--legs", "--dir", str(devnet), timeout_s=CLI_TIMEOUT_S
    )


def test_the_demo_commits_one_transaction_and_aborts_one(devnet: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "scripts/demo_atomic.py", str(devnet)],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S * 2,
        check=False,
        cwd=ROOT,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    lines = completed.stdout.splitlines()
    steps = [line.split(".")[0] for line in lines if re.match(r"^\d\. ", line)]
    assert steps == ["1", "2"], output
    assert "   both legs applied" in lines, output
    assert "   (exit status 0)" in lines and "   (exit status 3)" in lines, output
    assert lines[-1].startswith("   nothing moved"), output
    befores = [line for line in lines if line.startswith("   before: ")]
    afters = [line for line in lines if line.startswith("   after:  ")]
    assert len(befores) == len(afters) == 2, output
    # The abort's before and after are the same text: nothing moved, the key included.
    assert befores[1].removeprefix("   before: ") == afters[1].removeprefix("   after:  ")
    assert "= 'registered'" in afters[0] and "absent" in befores[0], output


def test_a_relayer_killed_mid_way_still_ends_in_one_decision_applied_everywhere(
    devnet: Path,
) -> None:
    description = load_devnet_description(devnet)
    (relayer,) = load_relayers(devnet)
    key = f"registrations/killed-{os.getpid()}".encode()
    with (
        member(description, "chain-a", "org1/admin") as admin,
        member(description, "hub", "org1/client") as hub,
        member(description, "chain-a", "org1/client") as chain_a,
        member(description, "chain-b", "org1/client") as chain_b,
    ):
        admin.interchain.issue("org1/client", DENOM, AMOUNT)
        payer_before = chain_a.interchain.balance("org1/client", DENOM)
        payee_before = chain_a.interchain.balance("org2/client", DENOM)
        network = AtomicNetwork(hub=hub, chains={"chain-a": chain_a, "chain-b": chain_b})
        hub_time_ms = hub.get_header(0).block.header.time_ms
        body = build_body(
            "hub",
            legs(key),
            deadline_ms=hub_time_ms + DEADLINE_AHEAD_MS,
            nonce=os.urandom(16),
            memo="relayer killed",
        )
        signers = {
            0: Identity.load(member_folder(description, "chain-a", "org1/client")),
            1: Identity.load(member_folder(description, "chain-b", "org1/client")),
        }
        identifier, _ = submit_and_wait(network, body, signers, wait=False)
        assert identifier == transaction_id(body, hub.status().crypto_profile)

        def a_leg_prepared() -> bool:
            return any(
                participant.atomic.leg("hub", identifier, index).record.state
                != atomic_pb2.ATOMIC_LEG_STATE_UNSPECIFIED
                for index, participant in ((0, chain_a), (1, chain_b))
            )

        wait_until(a_leg_prepared, "a TRY to be received")
        # The relayer dies in the middle of its work, and a fresh one with nothing remembered
        # takes over.
        os.kill(relayer.pid, signal.SIGKILL)
        restarted = run_cli(
            "devnet",
            "restart",
            "--relayer",
            relayer.name,
            "--dir",
            str(devnet),
            timeout_s=CLI_TIMEOUT_S,
        )
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        report = wait_for_end(network, identifier, timeout_s=STEP_TIMEOUT_S)
        assert report.committed, report
        record, decision = hub.atomic.get(identifier)
        assert decision is not None
        assert decision.outcome == atomic_pb2.ATOMIC_OUTCOME_COMMIT
        assert record.outcome == atomic_pb2.ATOMIC_OUTCOME_COMMIT
        assert [leg.vote for leg in record.legs] == [atomic_pb2.ATOMIC_VOTE_YES] * 2
        # Applied once on each chain: the payment and the registration.
        assert chain_a.interchain.balance("org1/client", DENOM) == payer_before - AMOUNT
        assert chain_a.interchain.balance("org2/client", DENOM) == payee_before + AMOUNT
        assert kv_value(chain_b, key) == b"registered"
        reserve = report.legs[0]
        assert reserve is not None and reserve.record.reserve_account
        assert chain_a.interchain.balance(reserve.record.reserve_account, DENOM) == 0
        assert not any(leg is not None and leg.cancel_marker for leg in report.legs)
    shown = status_of(devnet, identifier)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert identifier.hex() in shown.stdout
    assert re.search(r"decision\s+commit", shown.stdout), shown.stdout
    assert shown.stdout.count("; confirmed") == 2, shown.stdout


def test_an_abort_moves_nothing_and_status_shows_every_leg_ended(devnet: Path) -> None:
    description = load_devnet_description(devnet)
    key = f"registrations/taken-{os.getpid()}".encode()
    with (
        member(description, "chain-a", "org1/admin") as admin,
        member(description, "hub", "org1/client") as hub,
        member(description, "chain-a", "org1/client") as chain_a,
        member(description, "chain-b", "org1/client") as chain_b,
    ):
        admin.interchain.issue("org1/client", DENOM, AMOUNT)
        # Somebody else registered the key first: the leg's precondition (absent) is false.
        taken = chain_b.invoke(
            "kv", "put", contracts_pb2.KvPutArguments(key=key, value=b"somebody else")
        )
        assert taken.succeeded, taken
        payer_before = chain_a.interchain.balance("org1/client", DENOM)
        payee_before = chain_a.interchain.balance("org2/client", DENOM)
        network = AtomicNetwork(hub=hub, chains={"chain-a": chain_a, "chain-b": chain_b})
        body = build_body(
            "hub",
            legs(key),
            deadline_ms=hub.get_header(0).block.header.time_ms + DEADLINE_AHEAD_MS,
            nonce=os.urandom(16),
        )
        signers = {
            0: Identity.load(member_folder(description, "chain-a", "org1/client")),
            1: Identity.load(member_folder(description, "chain-b", "org1/client")),
        }
        identifier, report = submit_and_wait(network, body, signers, timeout_s=STEP_TIMEOUT_S)
        assert report is not None and report.aborted, report
        first, second = report.legs
        assert first is not None and second is not None
        assert first.record.state == atomic_pb2.ATOMIC_LEG_STATE_CANCELLED
        assert second.record.state == atomic_pb2.ATOMIC_LEG_STATE_REFUSED
        # A refused leg has ended when it refuses; the ABORT's cancel marker comes with the
        # DECISION packet, which may still be on its way when every leg has ended.
        assert first.cancel_marker
        wait_until(
            lambda: chain_b.atomic.leg("hub", identifier, 1).cancel_marker,
            "the ABORT to reach the refused leg (its cancel marker)",
        )
        assert chain_a.interchain.balance("org1/client", DENOM) == payer_before
        assert chain_a.interchain.balance("org2/client", DENOM) == payee_before
        assert chain_a.interchain.balance(first.record.reserve_account, DENOM) == 0
        assert kv_value(chain_b, key) == b"somebody else"
    shown = status_of(devnet, identifier)
    assert shown.returncode == 3, shown.stdout + shown.stderr
    assert re.search(r"decision\s+abort", shown.stdout), shown.stdout
    assert "; cancelled" in shown.stdout and "; refused" in shown.stdout, shown.stdout
    # The decision proven from the hub's state and delivered again by hand: the proof checks out
    # against chain-a's client of the hub, and the ended leg is left as it is.
    settled = run_cli(
        "xtx",
        "settle",
        identifier.hex(),
        "--leg",
        "0",
        "--dir",
        str(devnet),
        "--json",
        timeout_s=CLI_TIMEOUT_S,
    )
    assert settled.returncode == 0, settled.stdout + settled.stderr
    assert json.loads(settled.stdout) == {
        "transaction_id": identifier.hex(),
        "leg": 0,
        "chain_id": "chain-a",
        "state": "cancelled",
        "cancel_marker": True,
    }
    with member(description, "chain-a", "org1/client") as chain_a:
        assert chain_a.interchain.balance("org1/client", DENOM) == payer_before


def test_owners_sign_apart_and_a_submitter_outside_the_devnet_submits(
    devnet: Path, tmp_path: Path
) -> None:
    """The multi-party flow: each owner signs with xtx sign (the second signs the first's
    signature file), and a hub member submits with --node and --identity only: the participants
    are found through the hub's registry."""
    description = load_devnet_description(devnet)
    key = f"registrations/apart-{os.getpid()}"
    file = tmp_path / "apart.toml"
    file.write_text(
        f"""version = 1
hub = "hub"
deadline_seconds = 120
nonce = "{os.urandom(16).hex()}"
memo = "signed apart"

[[leg]]
chain = "chain-a"
owner = "org2/client"
kind = "bank_transfer"
from = "org2/client"
to = "org1/client"
denom = "{DENOM}"
amount = 1

[[leg]]
chain = "chain-b"
owner = "org3/client"
kind = "kv_write"
key = "{key}"
value = "signed apart"
""",
        encoding="utf-8",
    )
    with member(description, "chain-a", "org1/admin") as admin:
        admin.interchain.issue("org2/client", DENOM, 1)
    first = run_cli(
        "xtx",
        "sign",
        str(file),
        "--leg",
        "0",
        "--member",
        str(member_folder(description, "chain-a", "org2/client")),
        "--dir",
        str(devnet),
        timeout_s=CLI_TIMEOUT_S,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert "still to sign: leg 1" in first.stdout
    signatures = tmp_path / "apart.signatures.json"
    second = run_cli(
        "xtx",
        "sign",
        str(signatures),
        "--leg",
        "1",
        "--member",
        str(member_folder(description, "chain-b", "org3/client")),
        timeout_s=CLI_TIMEOUT_S,
    )
    assert second.returncode == 0, second.stdout + second.stderr
    hub = description.chain("hub")
    submitted = run_cli(
        "xtx",
        "submit",
        str(file),
        "--signature",
        str(signatures),
        "--node",
        hub.nodes[0].grpc_address,
        "--identity",
        str(member_folder(description, "hub", "org2/client")),
        "--json",
        timeout_s=CLI_TIMEOUT_S,
    )
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    data = json.loads(submitted.stdout)
    assert data["decision"] == "commit"
    assert data["submitter"] == "org2/client"
    assert [leg["participant"]["state"] for leg in data["legs"]] == ["confirmed", "confirmed"]
    with member(description, "chain-b", "org1/client") as chain_b:
        assert kv_value(chain_b, key.encode()) == b"signed apart"
    listed = run_cli("xtx", "list", "--dir", str(devnet), "--json", timeout_s=CLI_TIMEOUT_S)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    identifiers = [entry["transaction_id"] for entry in json.loads(listed.stdout)["transactions"]]
    assert data["transaction_id"] in identifiers or json.loads(listed.stdout)["next"]
    still_open = run_cli(
        "xtx", "list", "--open", "--dir", str(devnet), "--json", timeout_s=CLI_TIMEOUT_S
    )
    assert still_open.returncode == 0, still_open.stdout + still_open.stderr
    assert data["transaction_id"] not in [
        entry["transaction_id"] for entry in json.loads(still_open.stdout)["transactions"]
    ]


def test_a_leg_signed_by_someone_else_is_refused_by_its_chain(devnet: Path) -> None:
    """The hub cannot check owners' signatures; the participant does, against its own members:
    a leg signed with another member's key is refused there, and nothing moves anywhere."""
    description = load_devnet_description(devnet)
    key = f"registrations/forged-{os.getpid()}".encode()
    with (
        member(description, "chain-a", "org1/admin") as admin,
        member(description, "hub", "org1/client") as hub,
        member(description, "chain-a", "org1/client") as chain_a,
        member(description, "chain-b", "org1/client") as chain_b,
    ):
        admin.interchain.issue("org1/client", DENOM, AMOUNT)
        payer_before = chain_a.interchain.balance("org1/client", DENOM)
        network = AtomicNetwork(hub=hub, chains={"chain-a": chain_a, "chain-b": chain_b})
        body = build_body(
            "hub",
            legs(key),
            deadline_ms=hub.get_header(0).block.header.time_ms + DEADLINE_AHEAD_MS,
            nonce=os.urandom(16),
        )
        # org2/client's key, passed off as org1/client's signature of leg 0.
        impostor = Identity.load(member_folder(description, "chain-a", "org2/client"))
        forged = impostor.key.sign(
            sign_bytes(
                DOMAIN_ATOMIC_LEG,
                "chain-a",
                encode(leg_document(body, 0, transaction_id(body, "intl"))),
            )
        )
        identifier, report = submit_and_wait(
            network,
            body,
            {1: Identity.load(member_folder(description, "chain-b", "org1/client"))},
            authorisations=[atomic_pb2.AtomicLegAuthorisation(leg_index=0, signature=forged)],
            timeout_s=STEP_TIMEOUT_S,
        )
        assert report is not None and report.aborted, report
        first, second = report.legs
        assert first is not None and second is not None
        assert first.record.state == atomic_pb2.ATOMIC_LEG_STATE_REFUSED
        assert "signature" in first.record.reason, first.record.reason
        assert second.record.state == atomic_pb2.ATOMIC_LEG_STATE_CANCELLED
        assert chain_a.interchain.balance("org1/client", DENOM) == payer_before
        assert kv_value(chain_b, key) is None
        assert hub.atomic.get(identifier)[0].legs[0].vote == atomic_pb2.ATOMIC_VOTE_NO
