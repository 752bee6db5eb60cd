"""Identity.load with keys that are protected: passphrase-encrypted files and PKCS#11 tokens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from softhsm import SoftHsmToken, softhsm_token  # noqa: F401 (the fixture)

from causeway.crypto import Pkcs11Signer, PrivateKey, generate_token_key
from causeway.errors import ConfigurationError, CryptoError
from causeway.sdk import Identity, build_transaction
from causeway.types import DOMAIN_TRANSACTION, sign_bytes

MEMBER = {
    "member_id": "org1/alice",
    "algorithm": "ecdsa-p256",
    "crypto_profile": "intl",
    "chain_id": "city",
}


@pytest.fixture(autouse=True)
def _no_passphrase_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAUSEWAY_KEY_PASSPHRASE", raising=False)
    monkeypatch.delenv("CAUSEWAY_KEY_PASSPHRASE_FILE", raising=False)


def test_an_encrypted_key_loads_with_the_passphrase_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = PrivateKey.generate("ecdsa-p256")
    (tmp_path / "member.json").write_text(json.dumps(MEMBER))
    (tmp_path / "key.pem").write_bytes(key.to_pem(b"s3cret"))
    with pytest.raises(CryptoError, match="encrypted: give its passphrase"):
        Identity.load(tmp_path)
    monkeypatch.setenv("CAUSEWAY_KEY_PASSPHRASE", "wrong")
    with pytest.raises(CryptoError, match="wrong passphrase"):
        Identity.load(tmp_path)
    monkeypatch.setenv("CAUSEWAY_KEY_PASSPHRASE", "s3cret")
    assert Identity.load(tmp_path).key.public_key() == key.public_key()
    monkeypatch.delenv("CAUSEWAY_KEY_PASSPHRASE")
    (tmp_path / "passphrase").write_text("s3cret\n")
    monkeypatch.setenv("CAUSEWAY_KEY_PASSPHRASE_FILE", str(tmp_path / "passphrase"))
    assert Identity.load(tmp_path).key.public_key() == key.public_key()


def test_a_token_member_signs_transactions_in_the_token(
    tmp_path: Path,
    softhsm_token: SoftHsmToken,  # noqa: F811
) -> None:
    label = softhsm_token.new_key_label("org1/alice")
    public_key = generate_token_key(
        softhsm_token.module, softhsm_token.label, softhsm_token.pin, label, "ecdsa-p256"
    )
    reference = {
        "module": str(softhsm_token.module),
        "token_label": softhsm_token.label,
        "key_label": label,
        "pin_env": softhsm_token.pin_variable,
    }
    (tmp_path / "member.json").write_text(json.dumps({**MEMBER, "pkcs11": reference}))
    identity = Identity.load(tmp_path)
    assert isinstance(identity.key, Pkcs11Signer)
    assert identity.key.public_key() == public_key
    transaction = build_transaction(identity, "city", "kv", "put", b"", timestamp_ms=1_000)
    assert public_key.verify(
        sign_bytes(DOMAIN_TRANSACTION, "city", transaction.body), transaction.signature
    )


def test_bad_token_references_are_refused(
    tmp_path: Path,
    softhsm_token: SoftHsmToken,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reference = {
        "module": str(softhsm_token.module),
        "token_label": softhsm_token.label,
        "key_label": "no-such-key",
        "pin_env": "CAUSEWAY_TEST_UNSET_PIN",
    }
    monkeypatch.delenv("CAUSEWAY_TEST_UNSET_PIN", raising=False)
    (tmp_path / "member.json").write_text(json.dumps({**MEMBER, "pkcs11": reference}))
    with pytest.raises(CryptoError, match="CAUSEWAY_TEST_UNSET_PIN holding the PKCS#11 PIN"):
        Identity.load(tmp_path)
    reference["pin_env"] = softhsm_token.pin_variable
    (tmp_path / "member.json").write_text(json.dumps({**MEMBER, "pkcs11": reference}))
    with pytest.raises(CryptoError, match="no key labelled 'no-such-key'"):
        Identity.load(tmp_path)
    (tmp_path / "member.json").write_text(json.dumps({**MEMBER, "pkcs11": {"module": 1}}))
    with pytest.raises(ConfigurationError, match=r"pkcs11\.module must be a non-empty string"):
        Identity.load(tmp_path)
