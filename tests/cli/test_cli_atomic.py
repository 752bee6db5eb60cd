"""The xtx and atomic commands without a node: every bad input is one line on stderr naming what
is wrong (exit 2 for a usage mistake typer catches, 1 otherwise) before anything is sent; xtx
sign works offline on a signature file; and the reports render and give the exit codes of the ADR
(0 commit, 3 abort, 1 otherwise)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from causeway.cli.atomic_commands import (
    exit_code_of,
    parse_readers,
    parse_transaction_id,
    report_data,
)
from causeway.cli.main import app
from causeway.errors import RequestError
from causeway.interchain.v1 import atomic_pb2
from causeway.provisioning.interchain_devnet import provision_devnet
from causeway.provisioning.manifest import load_manifest
from causeway.sdk import Identity
from causeway.sdk.atomic import (
    AtomicReport,
    SignatureFile,
    load_signature_file,
    parse_transaction_file,
    resolve_body,
    sign_leg,
    signature_file_text,
    transaction_id,
)

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
# Nothing listens here: a command that got as far as connecting would fail on it, not hang.
NOWHERE = "127.0.0.1:1"
NONCE = "ab" * 16
TRANSACTION = f"""
version = 1
hub = "hub"
deadline_seconds = 60
nonce = "{NONCE}"

[[leg]]
chain = "chain-a"
owner = "org1/client"
kind = "bank_transfer"
from = "org1/client"
to = "org2/client"
denom = "gold"
amount = 10

[[leg]]
chain = "chain-b"
owner = "org1/client"
kind = "kv_write"
key = "registrations/42"
value = "registered"
expect_absent = true
"""
ID = "5f" * 32


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example manifest's devnet folder (hub, chain-a, chain-b); no node runs."""
    root = tmp_path_factory.mktemp("atomic-cli")
    manifest = ROOT / "examples" / "devnet-three-chains.toml"
    text = manifest.read_text(encoding="utf-8")
    directory = root / "devnet"
    provision_devnet(load_manifest(manifest), text, directory, now_ms=1)
    return directory


def member(devnet: Path, chain: str, member_id: str) -> Path:
    organisation, name = member_id.split("/")
    folder = devnet / "chains" / chain / "organisations" / organisation / "members" / name
    assert (folder / "member.json").is_file(), folder
    return folder


def write(tmp_path: Path, text: str, name: str = "xtx.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_line(arguments: list[str], code: int = 1) -> str:
    result = runner.invoke(app, arguments)
    assert result.exit_code == code, (result.output, result.stderr)
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "UNAVAILABLE" not in lines[0]  # refused before anything was sent
    return lines[0]


def signature_file_of(
    devnet: Path, body: atomic_pb2.AtomicTransactionBody, legs: list[int]
) -> SignatureFile:
    owners = {
        0: member(devnet, "chain-a", "org1/client"),
        1: member(devnet, "chain-b", "org1/client"),
    }
    return SignatureFile(
        body=body,
        hub_crypto_profile="intl",
        transaction_id=transaction_id(body, "intl"),
        authorisations=tuple(
            sign_leg(Identity.load(owners[index]), body, index, hub_profile="intl")
            for index in legs
        ),
    )


# ---- usage mistakes (exit 2) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["xtx", "submit"], "Missing argument 'FILE'"),
        (["xtx", "submit", "x.toml", "--timeout", "0"], "--timeout"),
        (["xtx", "sign", "x.toml", "--member", "m"], "Missing option '--leg'"),
        (["xtx", "sign", "x.toml", "--leg", "-1", "--member", "m"], "--leg"),
        (["xtx", "settle", ID], "Missing option '--leg'"),
        (["xtx", "list", "--limit", "101"], "--limit"),
        (["xtx", "status"], "Missing argument 'ID'"),
        (["atomic", "register-hub", "hub"], "Missing argument 'CLIENT_ID'"),
        (["atomic", "port", "bind"], "Missing argument 'PORT'"),
    ],
)
def test_usage_mistakes_exit_2_naming_the_option(arguments: list[str], fragment: str) -> None:
    assert fragment in error_line(arguments, code=2)


# ---- bad input (exit 1, nothing sent) ---------------------------------------------------------


def test_a_missing_or_bad_file_is_named(tmp_path: Path, devnet: Path) -> None:
    missing = error_line(["xtx", "submit", str(tmp_path / "none.toml"), "--dir", str(devnet)])
    assert "does not exist" in missing
    bad = write(
        tmp_path,
        TRANSACTION.replace("amount = 10", "amount = 0").replace('hub = "hub"', 'hub = ""'),
    )
    line = error_line(["xtx", "submit", str(bad), "--dir", str(devnet)])
    assert "is not a valid atomic transaction file" in line
    assert "'hub' must be a non-empty string" in line
    assert "leg 0 (chain-a): 'amount' must be an integer from 1" in line


def test_submit_refuses_what_it_cannot_sign(tmp_path: Path, devnet: Path) -> None:
    stranger = TRANSACTION.replace(
        'owner = "org1/client"\nkind = "kv', 'owner = "org9/x"\nkind = "kv'
    )
    line = error_line(["xtx", "submit", str(write(tmp_path, stranger)), "--dir", str(devnet)])
    assert "no signature for leg 1 (org9/x on chain-b)" in line
    line = error_line(["xtx", "submit", str(write(tmp_path, TRANSACTION)), "--node", NOWHERE])
    assert "no signature for leg 0 (org1/client on chain-a), leg 1" in line


def test_submit_refuses_a_hub_other_than_the_files(tmp_path: Path, devnet: Path) -> None:
    file = write(tmp_path, TRANSACTION)
    line = error_line(["xtx", "submit", str(file), "--dir", str(devnet), "--chain", "chain-a"])
    assert "--chain chain-a is not the transaction's hub 'hub'" in line
    elsewhere = write(tmp_path, TRANSACTION.replace('hub = "hub"', 'hub = "hub-9"'), "h.toml")
    line = error_line(["xtx", "submit", str(elsewhere), "--dir", str(devnet)])
    assert "no chain 'hub-9' in the devnet" in line


def test_submit_refuses_signature_files_of_another_transaction(
    tmp_path: Path, devnet: Path
) -> None:
    body = resolve_body(parse_transaction_file(TRANSACTION), hub_time_ms=1_000)
    signed = write(tmp_path, signature_file_text(signature_file_of(devnet, body, [0])), "one.json")
    other_file = TRANSACTION.replace("amount = 10", "amount = 11")
    line = error_line(
        [
            "xtx",
            "submit",
            str(write(tmp_path, other_file)),
            "--signature",
            str(signed),
            "--node",
            NOWHERE,
        ]
    )
    assert "signs another transaction than the file: other legs" in line
    later = resolve_body(parse_transaction_file(TRANSACTION), hub_time_ms=2_000)
    second = write(tmp_path, signature_file_text(signature_file_of(devnet, later, [1])), "two.json")
    line = error_line(
        [
            "xtx",
            "submit",
            str(write(tmp_path, TRANSACTION)),
            "--signature",
            str(signed),
            "--signature",
            str(second),
            "--node",
            NOWHERE,
        ]
    )
    assert "the signature files sign different transactions" in line


def test_submit_without_a_hub_says_how_to_name_one(tmp_path: Path, devnet: Path) -> None:
    body = resolve_body(parse_transaction_file(TRANSACTION), hub_time_ms=1_000)
    signed = write(
        tmp_path, signature_file_text(signature_file_of(devnet, body, [0, 1])), "all.json"
    )
    line = error_line(
        ["xtx", "submit", str(write(tmp_path, TRANSACTION)), "--signature", str(signed)]
    )
    assert "which hub? give --dir DEVNET" in line


@pytest.mark.parametrize(
    "arguments",
    [
        ["xtx", "status", "abc"],
        ["xtx", "status", "zz" * 32],
        ["xtx", "settle", "00" * 31, "--leg", "0"],
    ],
)
def test_a_bad_transaction_id_is_refused(arguments: list[str]) -> None:
    line = error_line([*arguments, "--node", NOWHERE])
    assert "is not an atomic transaction id (64 hex digits" in line


def test_bad_readers_and_client_ids_are_refused(devnet: Path) -> None:
    line = error_line(["xtx", "status", ID, "--node", NOWHERE, "--reader", "chain-a"])
    assert "--reader 'chain-a' is not CHAIN=MEMBER_DIR" in line
    line = error_line(
        ["atomic", "register-hub", "hub", "client-x", "--dir", str(devnet), "--chain", "chain-a"]
    )
    assert "CLIENT_ID 'client-x' is not a client id" in line
    line = error_line(["atomic", "port", "bind", " ", "--dir", str(devnet), "--chain", "chain-a"])
    assert "PORT is empty" in line
    line = error_line(["atomic", "register-hub", "hub", "client-0", "--dir", str(devnet)])
    assert "say which one this command talks to with --chain" in line


def test_settle_needs_a_hub(devnet: Path) -> None:
    assert "which hub?" in error_line(["xtx", "settle", ID, "--leg", "0", "--node", NOWHERE])


def test_sign_needs_a_nonce_and_the_owner(tmp_path: Path, devnet: Path) -> None:
    without = write(tmp_path, TRANSACTION.replace(f'nonce = "{NONCE}"', ""))
    owner = member(devnet, "chain-a", "org1/client")
    line = error_line(["xtx", "sign", str(without), "--leg", "0", "--member", str(owner)])
    assert "names no nonce: every owner must sign the same transaction" in line
    body = resolve_body(parse_transaction_file(TRANSACTION), hub_time_ms=1_000)
    signed = write(tmp_path, signature_file_text(signature_file_of(devnet, body, [0])), "s.json")
    before = signed.read_text(encoding="utf-8")
    intruder = member(devnet, "chain-b", "org2/client")
    line = error_line(["xtx", "sign", str(signed), "--leg", "1", "--member", str(intruder)])
    assert "leg 1 is owned by 'org1/client' on chain-b; 'org2/client' cannot sign it" in line
    wrong_chain = member(devnet, "chain-a", "org1/client")
    line = error_line(["xtx", "sign", str(signed), "--leg", "1", "--member", str(wrong_chain)])
    assert "leg 1 runs on chain-b; the signer org1/client is a member of chain-a" in line
    line = error_line(["xtx", "sign", str(signed), "--leg", "2", "--member", str(wrong_chain)])
    assert "leg 2 is not a leg of the transaction" in line
    assert signed.read_text(encoding="utf-8") == before  # nothing written


def test_the_next_owner_signs_the_signature_file_offline(tmp_path: Path, devnet: Path) -> None:
    body = resolve_body(parse_transaction_file(TRANSACTION), hub_time_ms=1_000)
    signed = write(tmp_path, signature_file_text(signature_file_of(devnet, body, [0])), "s.json")
    result = runner.invoke(
        app,
        [
            "xtx",
            "sign",
            str(signed),
            "--leg",
            "1",
            "--member",
            str(member(devnet, "chain-b", "org1/client")),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    identifier = transaction_id(body, "intl")
    assert data == {
        "transaction_id": identifier.hex(),
        "leg": 1,
        "file": str(signed),
        "unsigned_legs": [],
    }
    read = load_signature_file(signed)
    assert read.body == body
    assert [entry.leg_index for entry in read.authorisations] == [0, 1]


# ---- pure helpers -----------------------------------------------------------------------------


def test_ids_and_readers_parse() -> None:
    assert parse_transaction_id("0x" + ID) == bytes.fromhex(ID)
    assert parse_readers(["chain-a=/m/a", "chain-b=/m/b"]) == {
        "chain-a": Path("/m/a"),
        "chain-b": Path("/m/b"),
    }
    with pytest.raises(RequestError, match="names chain 'chain-a' twice"):
        parse_readers(["chain-a=/m/a", "chain-a=/m/b"])


def report_of(outcome: int, states: list[int]) -> AtomicReport:
    body = resolve_body(parse_transaction_file(TRANSACTION), hub_time_ms=1_000)
    record = atomic_pb2.AtomicTransactionRecord(
        transaction_id=b"i" * 32,
        body=body,
        submitter="org1/client",
        legs=[
            atomic_pb2.AtomicHubLeg(index=0, vote=atomic_pb2.ATOMIC_VOTE_YES),
            atomic_pb2.AtomicHubLeg(
                index=1, vote=atomic_pb2.ATOMIC_VOTE_NO, vote_reason="key exists"
            ),
        ],
    )
    decision = atomic_pb2.AtomicDecisionRecord(outcome=outcome, reason="a leg voted no")
    legs = tuple(
        atomic_pb2.AtomicLegResult(
            record=atomic_pb2.AtomicLegRecord(state=state), cancel_marker=True
        )
        for state in states
    )
    return AtomicReport(b"i" * 32, record, decision, legs)


def test_exit_codes_follow_the_adr() -> None:
    confirmed = atomic_pb2.ATOMIC_LEG_STATE_CONFIRMED
    cancelled = atomic_pb2.ATOMIC_LEG_STATE_CANCELLED
    refused = atomic_pb2.ATOMIC_LEG_STATE_REFUSED
    prepared = atomic_pb2.ATOMIC_LEG_STATE_PREPARED
    commit, abort = atomic_pb2.ATOMIC_OUTCOME_COMMIT, atomic_pb2.ATOMIC_OUTCOME_ABORT
    assert exit_code_of(report_of(commit, [confirmed, confirmed])) == 0
    assert exit_code_of(report_of(abort, [cancelled, refused])) == 3
    assert exit_code_of(report_of(abort, [prepared, refused])) == 1
    assert exit_code_of(report_of(commit, [confirmed, prepared])) == 1


def test_a_report_shows_the_decision_votes_and_leg_states() -> None:
    report = report_of(
        atomic_pb2.ATOMIC_OUTCOME_ABORT,
        [atomic_pb2.ATOMIC_LEG_STATE_CANCELLED, atomic_pb2.ATOMIC_LEG_STATE_REFUSED],
    )
    data = report_data(report, legs_read=True)
    assert data["decision"] == "abort"
    assert data["decision_reason"] == "a leg voted no"
    first, second = data["legs"]
    assert first["action"] == "bank_transfer 10 gold org1/client -> org2/client"
    assert second["action"] == "kv_write registrations/42 = registered (if absent)"
    assert (first["vote"], second["vote"], second["vote_reason"]) == ("yes", "no", "key exists")
    assert (first["participant"]["state"], second["participant"]["state"]) == (
        "cancelled",
        "refused",
    )
    assert "participant" not in report_data(report, legs_read=False)["legs"][0]
