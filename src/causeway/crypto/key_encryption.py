"""Passphrase-encrypted private key files: PKCS#8 EncryptedPrivateKeyInfo, PBES2 with scrypt.

The scheme is the standard one of RFC 8018 (PKCS#5 v2.1, PBES2) with the scrypt key derivation
of RFC 7914 section 7 and AES-256-CBC, exactly what ``openssl pkcs8 -topk8 -scrypt`` writes, so
that OpenSSL reads and writes our files too. One scheme for all three algorithms: `cryptography`
only writes PBKDF2 (with a low iteration count) and does not know SM2, and tongsuopy writes
OpenSSL's PBKDF2 default of 2048 iterations; scrypt costs an attacker memory as well as time.

The scrypt cost is the scrypt paper's interactive-login setting, N = 2^14, r = 8, p = 1
(16 MiB), which is also OpenSSL's default and the largest that OpenSSL's default memory bound
accepts when it reads the file back. Loading takes about 50 ms.

Encoding is done here with a few DER primitives because the structure is small and fixed;
parsing accepts only that structure (every value read, nothing left over, every parameter
bounded), and the key itself is then loaded by the libraries as an unencrypted key would be.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from causeway.errors import CryptoError

ENCRYPTED_PEM_LABEL = "ENCRYPTED PRIVATE KEY"
PLAIN_PEM_LABEL = "PRIVATE KEY"
SCRYPT_COST = 1 << 14
SCRYPT_BLOCK_SIZE = 8
SCRYPT_PARALLELISATION = 1
# What a file may ask for when read: a file written by another tool with a larger cost is still
# read, up to this bound, so that a crafted file cannot make us allocate gigabytes.
SCRYPT_COST_MAX = 1 << 20
SCRYPT_BLOCK_SIZE_MAX = 32
SCRYPT_PARALLELISATION_MAX = 16
SALT_BYTES = 16
AES_256_KEY_BYTES = 32
AES_BLOCK_BYTES = 16
ENCRYPTED_KEY_BYTES_MAX = 16 * 1024

# Object identifiers, DER-encoded bodies.
_OID_PBES2 = bytes.fromhex("2a864886f70d01050d")  # 1.2.840.113549.1.5.13
_OID_SCRYPT = bytes.fromhex("2b06010401da47040b")  # 1.3.6.1.4.1.11591.4.11
_OID_AES_256_CBC = bytes.fromhex("60864801650304012a")  # 2.16.840.1.101.3.4.1.42

_TAG_INTEGER = 0x02
_TAG_OCTET_STRING = 0x04
_TAG_OID = 0x06
_TAG_SEQUENCE = 0x30

_PEM_PATTERN = re.compile(
    rb"-----BEGIN ([A-Z ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END \1-----", re.DOTALL
)


def _length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _length(len(body)) + body


def _integer(value: int) -> bytes:
    # Non-negative: one leading zero byte when the top bit would read as a sign.
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return _tlv(_TAG_INTEGER, body)


def _sequence(*items: bytes) -> bytes:
    return _tlv(_TAG_SEQUENCE, b"".join(items))


def _encrypted_private_key_info(
    salt: bytes, iv: bytes, ciphertext: bytes, *, cost: int, block_size: int, parallelisation: int
) -> bytes:
    scrypt_parameters = _sequence(
        _tlv(_TAG_OCTET_STRING, salt),
        _integer(cost),
        _integer(block_size),
        _integer(parallelisation),
        _integer(AES_256_KEY_BYTES),
    )
    pbes2_parameters = _sequence(
        _sequence(_tlv(_TAG_OID, _OID_SCRYPT), scrypt_parameters),
        _sequence(_tlv(_TAG_OID, _OID_AES_256_CBC), _tlv(_TAG_OCTET_STRING, iv)),
    )
    return _sequence(
        _sequence(_tlv(_TAG_OID, _OID_PBES2), pbes2_parameters),
        _tlv(_TAG_OCTET_STRING, ciphertext),
    )


def _derive_key(passphrase: bytes, salt: bytes, cost: int, block_size: int, parallel: int) -> bytes:
    return Scrypt(salt=salt, length=AES_256_KEY_BYTES, n=cost, r=block_size, p=parallel).derive(
        passphrase
    )


def _pem(label: str, der: bytes) -> bytes:
    encoded = base64.b64encode(der).decode("ascii")
    lines = [encoded[start : start + 64] for start in range(0, len(encoded), 64)]
    return (f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n").encode(
        "ascii"
    )


def pem_label(pem: bytes) -> str | None:
    """The label of the first PEM block ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"), if any."""
    match = _PEM_PATTERN.search(pem)
    return match.group(1).decode("ascii") if match else None


def _pem_body(pem: bytes, label: str) -> bytes:
    match = _PEM_PATTERN.search(pem)
    if match is None or match.group(1).decode("ascii") != label:
        raise CryptoError(f"not a PEM file of a {label}")
    try:
        return base64.b64decode(b"".join(match.group(2).split()), validate=True)
    except binascii.Error as error:
        raise CryptoError(f"the {label} PEM block is not base64: {error}") from None


def encrypt_private_key_pem(plain_pem: bytes, passphrase: bytes) -> bytes:
    """An unencrypted PKCS#8 PEM key, encrypted under passphrase (PBES2, scrypt, AES-256-CBC)."""
    if not passphrase:
        raise CryptoError("the passphrase must not be empty")
    der = _pem_body(plain_pem, PLAIN_PEM_LABEL)
    salt = os.urandom(SALT_BYTES)
    iv = os.urandom(AES_BLOCK_BYTES)
    key = _derive_key(passphrase, salt, SCRYPT_COST, SCRYPT_BLOCK_SIZE, SCRYPT_PARALLELISATION)
    padder = padding.PKCS7(AES_BLOCK_BYTES * 8).padder()
    padded = padder.update(der) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    info = _encrypted_private_key_info(
        salt,
        iv,
        ciphertext,
        cost=SCRYPT_COST,
        block_size=SCRYPT_BLOCK_SIZE,
        parallelisation=SCRYPT_PARALLELISATION,
    )
    return _pem(ENCRYPTED_PEM_LABEL, info)


class _Reader:
    """Reads DER values of the one structure above; CryptoError on anything else."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._position = 0

    def read(self, tag: int) -> bytes:
        data = self._data
        if self._position + 2 > len(data) or data[self._position] != tag:
            raise CryptoError("the encrypted key is not PBES2 with scrypt and AES-256-CBC")
        first = data[self._position + 1]
        position = self._position + 2
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if count == 0 or count > 4 or position + count > len(data):
                raise CryptoError("the encrypted key has a malformed DER length")
            length = int.from_bytes(data[position : position + count], "big")
            position += count
        if position + length > len(data):
            raise CryptoError("the encrypted key is truncated")
        self._position = position + length
        return data[position : position + length]

    def read_integer(self) -> int:
        body = self.read(_TAG_INTEGER)
        if not body or body[0] & 0x80:
            raise CryptoError("the encrypted key has a negative or empty integer")
        return int.from_bytes(body, "big")

    def at_end(self) -> bool:
        return self._position == len(self._data)


def decrypt_private_key_pem(encrypted_pem: bytes, passphrase: bytes) -> bytes:
    """The unencrypted PKCS#8 PEM of an encrypted one; CryptoError for a wrong passphrase or a
    file that is not PBES2 with scrypt and AES-256-CBC."""
    der = _pem_body(encrypted_pem, ENCRYPTED_PEM_LABEL)
    if len(der) > ENCRYPTED_KEY_BYTES_MAX:
        raise CryptoError(f"the encrypted key is larger than {ENCRYPTED_KEY_BYTES_MAX} bytes")
    outer = _Reader(_Reader(der).read(_TAG_SEQUENCE))
    algorithm = _Reader(outer.read(_TAG_SEQUENCE))
    ciphertext = outer.read(_TAG_OCTET_STRING)
    if algorithm.read(_TAG_OID) != _OID_PBES2:
        raise CryptoError("the encrypted key does not use PBES2 (use `openssl pkcs8 -scrypt`)")
    parameters = _Reader(algorithm.read(_TAG_SEQUENCE))
    kdf = _Reader(parameters.read(_TAG_SEQUENCE))
    scheme = _Reader(parameters.read(_TAG_SEQUENCE))
    if kdf.read(_TAG_OID) != _OID_SCRYPT:
        raise CryptoError("the encrypted key does not use scrypt (use `openssl pkcs8 -scrypt`)")
    scrypt = _Reader(kdf.read(_TAG_SEQUENCE))
    salt = scrypt.read(_TAG_OCTET_STRING)
    cost = scrypt.read_integer()
    block_size = scrypt.read_integer()
    parallelisation = scrypt.read_integer()
    if not scrypt.at_end() and scrypt.read_integer() != AES_256_KEY_BYTES:
        raise CryptoError("the encrypted key's scrypt key length is not 32 bytes")
    if scheme.read(_TAG_OID) != _OID_AES_256_CBC:
        raise CryptoError("the encrypted key is not encrypted with AES-256-CBC")
    iv = scheme.read(_TAG_OCTET_STRING)
    if (
        len(iv) != AES_BLOCK_BYTES
        or not 1 < cost <= SCRYPT_COST_MAX
        or cost & (cost - 1)
        or not 1 <= block_size <= SCRYPT_BLOCK_SIZE_MAX
        or not 1 <= parallelisation <= SCRYPT_PARALLELISATION_MAX
        or not all(reader.at_end() for reader in (outer, algorithm, parameters, kdf, scheme))
        or len(ciphertext) % AES_BLOCK_BYTES
        or not ciphertext
    ):
        raise CryptoError("the encrypted key's parameters are out of bounds or malformed")
    key = _derive_key(passphrase, salt, cost, block_size, parallelisation)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(AES_BLOCK_BYTES * 8).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise CryptoError("wrong passphrase for the encrypted private key") from None
    # Padding alone passes for about one wrong passphrase in 256; the DER check catches those.
    if not plain.startswith(b"\x30"):
        raise CryptoError("wrong passphrase for the encrypted private key")
    return _pem(PLAIN_PEM_LABEL, plain)


PASSPHRASE_ENVIRONMENT_VARIABLE = "CAUSEWAY_KEY_PASSPHRASE"
PASSPHRASE_FILE_ENVIRONMENT_VARIABLE = "CAUSEWAY_KEY_PASSPHRASE_FILE"
PASSPHRASE_FILE_BYTES_MAX = 4096


def read_passphrase_file(path: Path) -> bytes:
    """The passphrase in a file: its first line, without the line end (as `openssl -passin
    file:` reads it). CryptoError when the file cannot be read or the passphrase is empty."""
    try:
        with path.open("rb") as file:
            data = file.read(PASSPHRASE_FILE_BYTES_MAX + 1)
    except OSError as error:
        raise CryptoError(
            f"cannot read the passphrase file {path}: {error.strerror or error}"
        ) from None
    if len(data) > PASSPHRASE_FILE_BYTES_MAX:
        raise CryptoError(f"the passphrase file {path} is larger than {PASSPHRASE_FILE_BYTES_MAX}")
    passphrase = data.splitlines()[0] if data else b""
    if not passphrase:
        raise CryptoError(f"the passphrase file {path} holds an empty passphrase")
    return passphrase


def read_passphrase_variable(
    name: str, environment: Mapping[str, str] | None = None, *, what: str = "passphrase"
) -> bytes:
    """The passphrase (or PIN: `what`) in the environment variable `name`; CryptoError when
    unset or empty."""
    value = (os.environ if environment is None else environment).get(name, "")
    if not value:
        raise CryptoError(f"the environment variable {name} holding the {what} is not set")
    return value.encode("utf-8")


def passphrase_from_environment(environment: Mapping[str, str] | None = None) -> bytes | None:
    """The passphrase of encrypted key files, for every loader of keys (SDK identities, the
    node, the CLI): CAUSEWAY_KEY_PASSPHRASE, else the file CAUSEWAY_KEY_PASSPHRASE_FILE names,
    else None."""
    environment = os.environ if environment is None else environment
    if environment.get(PASSPHRASE_ENVIRONMENT_VARIABLE):
        return read_passphrase_variable(PASSPHRASE_ENVIRONMENT_VARIABLE, environment)
    file_name = environment.get(PASSPHRASE_FILE_ENVIRONMENT_VARIABLE)
    if file_name:
        return read_passphrase_file(Path(file_name))
    return None
