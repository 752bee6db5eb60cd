"""A signer whose private key never leaves a PKCS#11 token (an HSM, a smart card, SoftHSM).

Through `python-pkcs11` (maintained, typed Cython bindings with wheels for this platform; PyKCS11
needs SWIG to build and gives a thinner, untyped API). The token signs ECDSA P-256 with the
plain CKM_ECDSA mechanism over a SHA-256 digest computed here: SoftHSM 2.6 and many HSMs do not
offer CKM_ECDSA_SHA256, and the signature is the same. The token answers r || s, which is
re-encoded as the DER (r, s) that every other signer of this package produces, so a verifier
cannot tell a token's signature from a file key's.

SM2 is not offered: PKCS#11 (up to 3.1) defines no SM2 mechanism and SoftHSM implements none;
vendor tokens that do use vendor-defined mechanism numbers. Ed25519 (CKM_EDDSA) exists in
PKCS#11 3.0 but SoftHSM 2.6 lacks it. So ecdsa-p256 only, with a clear error otherwise.

The PIN comes from an environment variable named in member.json, never from the file itself.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from causeway.crypto.keys import ALGORITHM_ECDSA_P256, PublicKey, load_public_key
from causeway.errors import CryptoError

PKCS11_ALGORITHMS = (ALGORITHM_ECDSA_P256,)
_P256_CURVE_NAME = "secp256r1"
_UNCOMPRESSED_POINT_BYTES = 65
# CKA_EC_POINT holds the point wrapped in a DER OCTET STRING: tag 0x04, length 0x41.
_EC_POINT_PREFIX = b"\x04\x41"


def _library() -> Any:
    # Imported on use: only members with a token key need the C library loaded.
    import pkcs11  # noqa: PLC0415

    return pkcs11


def _open_token(module: Path, token_label: str) -> Any:
    pkcs11 = _library()
    if not module.is_file():
        raise CryptoError(f"PKCS#11 module {module} does not exist")
    try:
        library = pkcs11.lib(str(module))
    except (RuntimeError, OSError) as error:
        raise CryptoError(f"cannot load the PKCS#11 module {module}: {error}") from None
    try:
        return library.get_token(token_label=token_label)
    except pkcs11.exceptions.NoSuchToken:
        raise CryptoError(f"no PKCS#11 token labelled {token_label!r} in {module}") from None
    except pkcs11.exceptions.MultipleTokensReturned:
        raise CryptoError(f"several PKCS#11 tokens are labelled {token_label!r}") from None


# PKCS#11 logs in an application, not a session: while one session of this process is logged
# in to a token, logging in again fails with CKR_USER_ALREADY_LOGGED_IN and new sessions share
# the login. So that a wrong PIN is still refused then, the digest of the PIN that logged in is
# kept per token, and a new session is opened without logging in only for the same PIN.
_LOGGED_IN_PINS: dict[tuple[str, str], bytes] = {}
_LOGGED_IN_LOCK = threading.Lock()


def _open_session(token: Any, pin: str, *, read_write: bool) -> Any:
    pkcs11 = _library()
    if not pin:
        raise CryptoError("the PKCS#11 PIN is empty")
    token_key = (str(token.slot.slot_description), str(token.label))
    digest = hashlib.sha256(pin.encode("utf-8")).digest()
    try:
        with _LOGGED_IN_LOCK:
            try:
                session = token.open(user_pin=pin, rw=read_write)
            except pkcs11.exceptions.UserAlreadyLoggedIn:
                if _LOGGED_IN_PINS.get(token_key) != digest:
                    raise pkcs11.exceptions.PinIncorrect() from None
                return token.open(rw=read_write)
            _LOGGED_IN_PINS[token_key] = digest
            return session
    except pkcs11.exceptions.PinIncorrect:
        raise CryptoError(f"wrong PIN for the PKCS#11 token {token.label!r}") from None
    except pkcs11.exceptions.PinLocked:
        raise CryptoError(f"the PIN of PKCS#11 token {token.label!r} is locked") from None
    except pkcs11.exceptions.PKCS11Error as error:
        raise CryptoError(
            f"cannot log in to the PKCS#11 token {token.label!r}: {type(error).__name__}"
        ) from None


def _public_key_of(public_object: Any) -> PublicKey:
    pkcs11 = _library()
    point = bytes(public_object[pkcs11.Attribute.EC_POINT])
    if len(point) == len(_EC_POINT_PREFIX) + _UNCOMPRESSED_POINT_BYTES and point.startswith(
        _EC_POINT_PREFIX
    ):
        point = point[len(_EC_POINT_PREFIX) :]
    return load_public_key(ALGORITHM_ECDSA_P256, point)


def _check_algorithm(algorithm: str) -> None:
    if algorithm not in PKCS11_ALGORITHMS:
        raise CryptoError(
            f"PKCS#11 keys are {', '.join(PKCS11_ALGORITHMS)} only, not {algorithm}: PKCS#11 "
            "defines no SM2 mechanism (SoftHSM has none) and SoftHSM 2.6 has no Ed25519"
        )


def generate_token_key(
    module: Path, token_label: str, pin: str, key_label: str, algorithm: str
) -> PublicKey:
    """Generates a key pair in the token, stored under key_label (private key sensitive and
    not extractable), and returns its public key. CryptoError when a key with that label
    exists already, or for an algorithm tokens cannot hold here."""
    _check_algorithm(algorithm)
    pkcs11 = _library()
    from pkcs11.util.ec import encode_named_curve_parameters  # noqa: PLC0415

    token = _open_token(module, token_label)
    with _open_session(token, pin, read_write=True) as session:
        existing = list(session.get_objects({pkcs11.Attribute.LABEL: key_label}))
        if existing:
            raise CryptoError(
                f"the PKCS#11 token {token_label!r} already holds a key labelled {key_label!r}"
            )
        parameters = session.create_domain_parameters(
            pkcs11.KeyType.EC,
            {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters(_P256_CURVE_NAME)},
            local=True,
        )
        public_object, _private_object = parameters.generate_keypair(
            store=True,
            label=key_label,
            private_template={
                pkcs11.Attribute.SENSITIVE: True,
                pkcs11.Attribute.EXTRACTABLE: False,
            },
        )
        return _public_key_of(public_object)


class Pkcs11Signer:
    """Signs with the private key labelled `key_label` in a PKCS#11 token (crypto.Signer).

    Logs in once, when made (so a wrong PIN or a missing key is reported at once), and keeps
    the session; one lock serialises signing, as a PKCS#11 session is not to be shared by
    threads. close() logs out.
    """

    def __init__(self, module: Path, token_label: str, key_label: str, pin: str) -> None:
        pkcs11 = _library()
        self._token_label = token_label
        self._key_label = key_label
        self._lock = threading.Lock()
        self._session = _open_session(_open_token(module, token_label), pin, read_write=False)
        try:
            self._private_key = self._session.get_key(
                object_class=pkcs11.ObjectClass.PRIVATE_KEY, label=key_label
            )
            public_object = self._session.get_key(
                object_class=pkcs11.ObjectClass.PUBLIC_KEY, label=key_label
            )
            if self._private_key.key_type != pkcs11.KeyType.EC:
                raise CryptoError(f"the PKCS#11 key {key_label!r} is not an EC key")
            self._public_key = _public_key_of(public_object)
        except pkcs11.exceptions.NoSuchKey:
            self.close()
            raise CryptoError(
                f"no key labelled {key_label!r} in the PKCS#11 token {token_label!r}"
            ) from None
        except BaseException:
            self.close()
            raise

    @property
    def algorithm(self) -> str:
        return ALGORITHM_ECDSA_P256

    def public_key(self) -> PublicKey:
        return self._public_key

    def sign(self, data: bytes) -> bytes:
        """DER (r, s) over SHA-256, as PrivateKey.sign for ecdsa-p256."""
        pkcs11 = _library()
        from pkcs11.util.ec import encode_ecdsa_signature  # noqa: PLC0415

        digest = hashlib.sha256(data).digest()
        with self._lock:
            try:
                raw = self._private_key.sign(digest, mechanism=pkcs11.Mechanism.ECDSA)
            except pkcs11.exceptions.PKCS11Error as error:
                raise CryptoError(
                    f"the PKCS#11 token {self._token_label!r} refused to sign:"
                    f" {type(error).__name__}"
                ) from None
        signature: bytes = encode_ecdsa_signature(raw)
        return signature

    def close(self) -> None:
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()

    def __repr__(self) -> str:
        return f"Pkcs11Signer(token={self._token_label!r}, key={self._key_label!r})"
