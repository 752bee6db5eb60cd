"""Passphrase-encrypted private keys (crypto.key_encryption): PBES2 with scrypt, as openssl."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from causeway.crypto import (
    ALGORITHMS,
    PrivateKey,
    passphrase_from_environment,
    read_passphrase_file,
    read_passphrase_variable,
)
from causeway.crypto.key_encryption import (
    SCRYPT_COST,
    decrypt_private_key_pem,
    encrypt_private_key_pem,
)
from causeway.errors import CryptoError

PASSPHRASE = b"correct horse battery staple"


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_an_encrypted_key_loads_with_its_passphrase_only(algorithm: str) -> None:
    key = PrivateKey.generate(algorithm)
    encrypted = key.to_pem(PASSPHRASE)
    assert encrypted.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert key.to_pem() not in encrypted
    assert PrivateKey.from_pem(encrypted, PASSPHRASE).public_key() == key.public_key()
    with pytest.raises(CryptoError, match="wrong passphrase"):
        PrivateKey.from_pem(encrypted, b"not the passphrase")
    with pytest.raises(CryptoError, match="encrypted: give its passphrase"):
        PrivateKey.from_pem(encrypted)


def test_a_passphrase_for_a_plain_key_is_ignored() -> None:
    key = PrivateKey.generate("ecdsa-p256")
    assert PrivateKey.from_pem(key.to_pem(), PASSPHRASE).public_key() == key.public_key()


def test_the_file_is_pbes2_with_scrypt_and_aes_256_cbc() -> None:
    pem = PrivateKey.generate("sm2").to_pem(PASSPHRASE)
    parsed = subprocess.run(
        ["openssl", "asn1parse"], input=pem, capture_output=True, check=True
    ).stdout.decode()
    assert "PBES2" in parsed
    assert ":scrypt" in parsed
    assert "aes-256-cbc" in parsed
    assert f"INTEGER:{SCRYPT_COST:X}" in parsed.replace(" ", "")


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_openssl_decrypts_our_files(algorithm: str) -> None:
    key = PrivateKey.generate(algorithm)
    result = subprocess.run(
        ["openssl", "pkcs8", "-passin", "pass:" + PASSPHRASE.decode()],
        input=key.to_pem(PASSPHRASE),
        capture_output=True,
        check=True,
    )
    assert PrivateKey.from_pem(result.stdout).public_key() == key.public_key()


@pytest.mark.parametrize("algorithm", ["ecdsa-p256", "ed25519"])
def test_we_decrypt_files_of_openssl_pkcs8_scrypt(algorithm: str) -> None:
    key = PrivateKey.generate(algorithm)
    result = subprocess.run(
        ["openssl", "pkcs8", "-topk8", "-scrypt", "-passout", "pass:secret"],
        input=key.to_pem(),
        capture_output=True,
        check=True,
    )
    assert PrivateKey.from_pem(result.stdout, b"secret").public_key() == key.public_key()


def test_pbkdf2_files_are_refused_with_a_hint() -> None:
    key = PrivateKey.generate("ecdsa-p256")
    result = subprocess.run(
        ["openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "pass:secret"],
        input=key.to_pem(),
        capture_output=True,
        check=True,
    )
    with pytest.raises(CryptoError, match="scrypt"):
        PrivateKey.from_pem(result.stdout, b"secret")


def test_malformed_encrypted_files_are_refused() -> None:
    pem = PrivateKey.generate("ecdsa-p256").to_pem(PASSPHRASE)
    body = base64.b64decode(b"".join(pem.splitlines()[1:-1]))
    truncated = (
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
        + base64.b64encode(body[:-20])
        + b"\n-----END ENCRYPTED PRIVATE KEY-----\n"
    )
    with pytest.raises(CryptoError):
        decrypt_private_key_pem(truncated, PASSPHRASE)
    with pytest.raises(CryptoError, match="not a PEM file"):
        decrypt_private_key_pem(b"garbage", PASSPHRASE)
    with pytest.raises(CryptoError, match="must not be empty"):
        encrypt_private_key_pem(PrivateKey.generate("ed25519").to_pem(), b"")


def test_the_passphrase_comes_from_the_environment(tmp_path: Path) -> None:
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_bytes(b"from a file\n")
    assert passphrase_from_environment({}) is None
    assert passphrase_from_environment({"CAUSEWAY_KEY_PASSPHRASE": "direct"}) == b"direct"
    assert (
        passphrase_from_environment({"CAUSEWAY_KEY_PASSPHRASE_FILE": str(passphrase_file)})
        == b"from a file"
    )
    assert read_passphrase_variable("VARIABLE", {"VARIABLE": "x"}) == b"x"
    with pytest.raises(CryptoError, match="VARIABLE holding the passphrase is not set"):
        read_passphrase_variable("VARIABLE", {})
    with pytest.raises(CryptoError, match="cannot read the passphrase file"):
        read_passphrase_file(tmp_path / "missing")
    (tmp_path / "empty").write_bytes(b"\n")
    with pytest.raises(CryptoError, match="empty passphrase"):
        read_passphrase_file(tmp_path / "empty")
