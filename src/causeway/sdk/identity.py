"""A member's signing identity, loaded from the member folder that `causeway init` writes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from causeway.crypto import (
    Pkcs11Signer,
    PrivateKey,
    Signer,
    get_profile,
    passphrase_from_environment,
    read_passphrase_variable,
)
from causeway.errors import ConfigurationError

MEMBER_FILE = "member.json"
KEY_FILE = "key.pem"
PKCS11_FIELD = "pkcs11"
# Bounds on the files read: both are a few hundred bytes when well formed.
MEMBER_FILE_BYTES_MAX = 64 * 1024
KEY_FILE_BYTES_MAX = 64 * 1024


def _read_bounded(path: Path, bytes_max: int) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(bytes_max + 1)
    except OSError as error:
        raise ConfigurationError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > bytes_max:
        raise ConfigurationError(f"{path} is larger than {bytes_max} bytes")
    return data


def _token_signer(member_path: Path, reference: object) -> Pkcs11Signer:
    if not isinstance(reference, dict):
        raise ConfigurationError(f"{member_path}: {PKCS11_FIELD!r} must be a JSON object")
    fields: dict[str, str] = {}
    for name in ("module", "token_label", "key_label", "pin_env"):
        value = reference.get(name)
        if not isinstance(value, str) or not value:
            raise ConfigurationError(
                f"{member_path}: {PKCS11_FIELD}.{name} must be a non-empty string"
            )
        fields[name] = value
    pin = read_passphrase_variable(fields["pin_env"], what="PKCS#11 PIN").decode("utf-8")
    return Pkcs11Signer(Path(fields["module"]), fields["token_label"], fields["key_label"], pin)


@dataclass(frozen=True, slots=True)
class Identity:
    """A member id and its private key; ``chain_id`` and ``crypto_profile`` may be empty
    (unknown), in which case a client asks the node for them.

    Example:

        key = PrivateKey.generate("ed25519")
        identity = Identity("org1/client", key, crypto_profile="intl", chain_id="devnet")
    """

    member_id: str
    key: Signer
    """A PrivateKey, or a Pkcs11Signer whose key stays in a token."""
    crypto_profile: str = ""
    chain_id: str = ""

    def __post_init__(self) -> None:
        organisation, _, name = self.member_id.partition("/")
        if not organisation or not name:
            raise ConfigurationError(
                f"member id must be 'organisation/name', not {self.member_id!r}"
            )
        if self.crypto_profile:
            get_profile(self.crypto_profile).check_algorithm(self.key.algorithm)

    @property
    def algorithm(self) -> str:
        """The key's signature algorithm: ``ed25519``, ``ecdsa-p256`` or ``sm2``.

        Example:

            print(Identity.load("net/organisations/org1/members/client").algorithm)
        """
        return self.key.algorithm

    @classmethod
    def load(cls, member_directory: Path | str) -> Identity:
        """Reads ``member.json`` ({member_id, algorithm, crypto_profile, chain_id}) and
        ``key.pem`` from a member folder; ConfigurationError or CryptoError when they are
        missing, malformed or inconsistent.

        An encrypted key.pem is decrypted with the passphrase in CAUSEWAY_KEY_PASSPHRASE (or
        the file CAUSEWAY_KEY_PASSPHRASE_FILE names). A member.json with a ``pkcs11`` object
        ({module, token_label, key_label, pin_env}) signs with that key in a PKCS#11 token
        instead, logging in with the PIN in the environment variable pin_env.

        Example:

            identity = Identity.load("net/organisations/org1/members/client")
            client = Client("127.0.0.1:7050", identity)
        """
        directory = Path(member_directory)
        member_path = directory / MEMBER_FILE
        try:
            member = json.loads(_read_bounded(member_path, MEMBER_FILE_BYTES_MAX))
        except (ValueError, RecursionError) as error:
            raise ConfigurationError(f"{member_path} is not valid JSON: {error}") from None
        if not isinstance(member, dict):
            raise ConfigurationError(f"{member_path} must hold a JSON object")
        fields: dict[str, str] = {}
        for name, required in (
            ("member_id", True),
            ("algorithm", True),
            ("crypto_profile", False),
            ("chain_id", False),
        ):
            value = member.get(name, "")
            if not isinstance(value, str) or (required and not value):
                raise ConfigurationError(f"{member_path}: {name!r} must be a non-empty string")
            fields[name] = value
        reference = member.get(PKCS11_FIELD)
        key: Signer
        if reference is not None:
            key = _token_signer(member_path, reference)
        else:
            key = PrivateKey.from_pem(
                _read_bounded(directory / KEY_FILE, KEY_FILE_BYTES_MAX),
                passphrase_from_environment(),
            )
        if key.algorithm != fields["algorithm"]:
            raise ConfigurationError(
                f"{directory / KEY_FILE} holds an {key.algorithm} key but {member_path} says "
                f"{fields['algorithm']}"
            )
        return cls(
            member_id=fields["member_id"],
            key=key,
            crypto_profile=fields["crypto_profile"],
            chain_id=fields["chain_id"],
        )
