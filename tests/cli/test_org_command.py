"""`causeway org init|node-config|join-request` and `causeway genesis assemble` through the
command line, bad input included (a clear error and nothing written)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from softhsm import SoftHsmToken, softhsm_token  # noqa: F401 (the fixture)
from typer.testing import CliRunner

from causeway.cli.main import app
from causeway.crypto import Pkcs11Signer, PrivateKey
from causeway.provisioning import genesis_from_json
from causeway.sdk import Identity
from causeway.types.proposal_draft import parse_proposal_draft as draft_from_json

runner = CliRunner()


def _invoke(*arguments: str) -> dict[str, object]:
    result = runner.invoke(app, [*arguments, "--json"])
    assert result.exit_code == 0, result.output
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


def _org(directory: Path, name: str, port_base: int, *extra: str) -> Path:
    folder = directory / name
    _invoke(
        "org", "init", name, "--dir", str(folder), "--crypto", "intl",
        "--port-base", str(port_base), *extra,
    )  # fmt: skip
    return folder


def test_four_organisations_make_a_chain_from_their_public_folders(tmp_path: Path) -> None:
    folders = [_org(tmp_path, name, 21000 + 10 * i) for i, name in enumerate("abcd")]
    summary = _invoke(
        "genesis", "assemble",
        *[argument for folder in folders for argument in ("--org", str(folder / "public"))],
        "--chain-id", "four", "--consensus", "tbft", "--out", str(tmp_path / "genesis.json"),
    )  # fmt: skip
    assert summary["voting_power"] == {"a": 1, "b": 1, "c": 1, "d": 1}
    assert Path(str(summary["peers"])) == tmp_path / "peers.json"
    genesis = genesis_from_json((tmp_path / "genesis.json").read_text())
    assert genesis.chain_id == "four" and genesis.consensus == "tbft"
    homes = _invoke(
        "org", "node-config", "--dir", str(folders[1]), "--genesis", str(tmp_path / "genesis.json")
    )
    assert homes == {"homes": [str((folders[1] / "nodes" / "b-node1").absolute())]}
    assert (folders[1] / "nodes" / "b-node1" / "config.toml").is_file()


def test_assemble_refuses_concentrated_power_and_writes_nothing(tmp_path: Path) -> None:
    folders = [_org(tmp_path, name, 21100 + 10 * i) for i, name in enumerate("abc")]
    arguments = [
        "genesis", "assemble",
        *[argument for folder in folders for argument in ("--org", str(folder))],
        "--chain-id", "three", "--out", str(tmp_path / "out" / "genesis.json"),
    ]  # fmt: skip
    result = runner.invoke(app, arguments)
    assert result.exit_code != 0
    assert "a third or more can halt the chain" in result.output
    assert not (tmp_path / "out").exists()
    result = runner.invoke(app, [*arguments, "--allow-concentrated-power"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, [*arguments, "--allow-concentrated-power"])
    assert result.exit_code != 0 and "exists" in result.output


def test_org_init_refuses_bad_input_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "org"
    for arguments, message in [
        (["Bad_Id", "--crypto", "intl"], "organisation id 'Bad_Id'"),
        (["city", "--crypto", "gm", "--chain-id", "Bad Id"], "chain id"),
        (["city", "--crypto", "intl", "--node-address", "nonsense"], "NODE=HOST:PORT"),
        (["city", "--crypto", "intl", "--passphrase-env", "CAUSEWAY_TEST_NO_SUCH"], "not set"),
        (["city", "--crypto", "intl", "--pkcs11-module", "/x.so"], "needs --pkcs11-module"),
        (
            ["city", "--crypto", "intl", "--passphrase-env", "A", "--passphrase-file", "F"],
            "not both",
        ),
    ]:
        result = runner.invoke(app, ["org", "init", *arguments, "--dir", str(target)])
        assert result.exit_code != 0, arguments
        assert message in result.output, (arguments, result.output)
        assert not target.exists()


def test_org_init_encrypts_with_a_passphrase_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("org secret\n")
    folder = _org(tmp_path, "city", 21200, "--passphrase-file", str(passphrase))
    key = (folder / "members" / "client" / "key.pem").read_bytes()
    assert key.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    PrivateKey.from_pem(key, b"org secret")
    monkeypatch.setenv("CAUSEWAY_KEY_PASSPHRASE_FILE", str(passphrase))
    assert Identity.load(folder / "members" / "client").member_id == "city/client"


def test_org_init_makes_admin_and_client_keys_in_a_token(
    tmp_path: Path,
    softhsm_token: SoftHsmToken,  # noqa: F811
) -> None:
    organisation = softhsm_token.new_key_label("tok")
    folder = tmp_path / organisation
    summary = _invoke(
        "org", "init", organisation, "--dir", str(folder), "--crypto", "intl",
        "--pkcs11-module", str(softhsm_token.module),
        "--pkcs11-token-label", softhsm_token.label,
        "--pkcs11-pin-env", softhsm_token.pin_variable,
    )  # fmt: skip
    assert summary["token_members"] == ["admin", "client"]
    assert not (folder / "members" / "admin" / "key.pem").exists()
    assert (folder / "members" / f"{organisation}-node1" / "key.pem").is_file()
    admin = Identity.load(folder / "members" / "admin")
    assert isinstance(admin.key, Pkcs11Signer)
    public = json.loads((folder / "public" / "organisation.json").read_text())
    (record,) = [m for m in public["members"] if m["id"] == f"{organisation}/admin"]
    assert admin.key.public_key().raw == base64.b64decode(record["public_key"])
    result = runner.invoke(
        app,
        [
            "org", "init", "gmtoken", "--dir", str(tmp_path / "gm"), "--crypto", "gm",
            "--chain-id", "x", "--pkcs11-module", str(softhsm_token.module),
            "--pkcs11-token-label", softhsm_token.label,
            "--pkcs11-pin-env", softhsm_token.pin_variable,
        ],
    )  # fmt: skip
    assert result.exit_code != 0 and "PKCS#11 keys are ecdsa-p256 only" in result.output
    assert not (tmp_path / "gm").exists()


def test_join_request_writes_a_proposal_draft(tmp_path: Path) -> None:
    folders = [_org(tmp_path, name, 21300 + 10 * i) for i, name in enumerate("abc")]
    _invoke(
        "genesis", "assemble",
        *[argument for folder in folders for argument in ("--org", str(folder / "public"))],
        "--chain-id", "three", "--out", str(tmp_path / "genesis.json"),
        "--allow-concentrated-power",
    )  # fmt: skip
    newcomer = _org(tmp_path, "d", 21400)
    out = tmp_path / "join.json"
    summary = _invoke(
        "org", "join-request", "--dir", str(newcomer), "--chain-genesis",
        str(tmp_path / "genesis.json"), "--out", str(out),
    )  # fmt: skip
    assert summary["calls"] == [
        "membership.add_organisation",
        "membership.add_member",
        "membership.add_member",
        "membership.add_member",
        "nodes.set_tls_authority",
        "nodes.set_endpoint",
    ]
    assert draft_from_json(out.read_text()).title == "Add organisation d"
    again = runner.invoke(
        app,
        ["org", "join-request", "--dir", str(newcomer), "--chain-genesis",
         str(tmp_path / "genesis.json"), "--out", str(out)],
    )  # fmt: skip
    assert again.exit_code != 0 and "exists" in again.output
    validator = _invoke(
        "org", "join-request", "--dir", str(newcomer), "--chain-genesis",
        str(tmp_path / "genesis.json"), "--out", str(tmp_path / "validator.json"), "--validator",
    )  # fmt: skip
    assert validator["calls"] == ["validators.update"]
    refused = runner.invoke(
        app,
        ["org", "join-request", "--dir", str(folders[0]), "--chain-genesis",
         str(tmp_path / "genesis.json"), "--out", str(tmp_path / "no.json")],
    )  # fmt: skip
    assert refused.exit_code != 0 and "already" in refused.output
    assert not (tmp_path / "no.json").exists()
