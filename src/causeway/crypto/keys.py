"""Signing keys and public keys for the three signature algorithms.

ecdsa-p256 and ed25519 go through `cryptography`; sm2 through `tongsuopy`, because `cryptography`
does not know the SM2 curve. Both libraries release the GIL inside their C code, which is what
lets BatchVerifier use every core.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from tongsuopy.crypto import hashes as tongsuo_hashes
from tongsuopy.crypto import serialization as tongsuo_serialization
from tongsuopy.crypto.asymciphers import ec as tongsuo_ec

from causeway.crypto.key_encryption import decrypt_private_key_pem, encrypt_private_key_pem
from causeway.errors import CryptoError

ALGORITHM_ECDSA_P256 = "ecdsa-p256"
ALGORITHM_ED25519 = "ed25519"
ALGORITHM_SM2 = "sm2"
ALGORITHMS: frozenset[str] = frozenset({ALGORITHM_ECDSA_P256, ALGORITHM_ED25519, ALGORITHM_SM2})

# Every member and validator key of a chain fits with room to spare; the bound keeps a flood of
# distinct keys from growing memory without limit.
PUBLIC_KEY_CACHE_SIZE = 16384

UNCOMPRESSED_POINT_BYTES = 65
ED25519_PUBLIC_KEY_BYTES = 32
_PKCS8_PEM_HEADER = b"-----BEGIN PRIVATE KEY-----"
_ENCRYPTED_PKCS8_PEM_HEADER = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"

_ECDSA_WITH_SHA256 = ec.ECDSA(hashes.SHA256())
# SM2 signs SM3(Z || message), where Z hashes in a distinguishing id; Tongsuo uses the standard
# default id 1234567812345678 (GB/T 35276-2017) when none is set, which tests/crypto confirm
# against the independent gmssl package.
_SM2_WITH_SM3 = tongsuo_ec.ECDSA(tongsuo_hashes.SM3())

VerifyFunction = Callable[[bytes, bytes], bool]


def _ecdsa_p256_verify_function(key: ec.EllipticCurvePublicKey) -> VerifyFunction:
    def verify(data: bytes, signature: bytes) -> bool:
        try:
            key.verify(signature, data, _ECDSA_WITH_SHA256)
        except InvalidSignature:
            # cryptography reports malformed DER the same way as a wrong signature.
            return False
        return True

    return verify


def _ed25519_verify_function(key: ed25519.Ed25519PublicKey) -> VerifyFunction:
    def verify(data: bytes, signature: bytes) -> bool:
        try:
            key.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    return verify


def _sm2_verify_function(key: Any) -> VerifyFunction:
    def verify(data: bytes, signature: bytes) -> bool:
        try:
            key.verify(signature, data, _SM2_WITH_SM3)
        except Exception:
            # tongsuopy raises InvalidSignature for a wrong signature but InternalError or
            # ValueError for signature bytes that are not DER; all of them mean "not valid",
            # and a caller must never be able to crash the node with a crafted signature.
            return False
        return True

    return verify


def _parse_public_key(algorithm: str, raw: bytes) -> tuple[Any, VerifyFunction]:
    """The library key object for a raw public key and the function that verifies with it."""
    if algorithm in (ALGORITHM_ECDSA_P256, ALGORITHM_SM2):
        # Only the uncompressed form is accepted so that one key has exactly one byte form.
        if len(raw) != UNCOMPRESSED_POINT_BYTES or raw[0] != 0x04:
            raise CryptoError(
                f"{algorithm} public key must be a {UNCOMPRESSED_POINT_BYTES}-byte uncompressed"
                f" X9.62 point, got {len(raw)} bytes"
            )
        try:
            if algorithm == ALGORITHM_ECDSA_P256:
                p256_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
                return p256_key, _ecdsa_p256_verify_function(p256_key)
            sm2_key = tongsuo_ec.EllipticCurvePublicKey.from_encoded_point(tongsuo_ec.SM2(), raw)
            return sm2_key, _sm2_verify_function(sm2_key)
        except Exception as error:
            # Both libraries reject points off the curve, with differing exception types.
            raise CryptoError(f"{algorithm} public key is not a point on the curve") from error
    if algorithm == ALGORITHM_ED25519:
        if len(raw) != ED25519_PUBLIC_KEY_BYTES:
            raise CryptoError(
                f"ed25519 public key must be {ED25519_PUBLIC_KEY_BYTES} bytes, got {len(raw)}"
            )
        try:
            ed25519_key = ed25519.Ed25519PublicKey.from_public_bytes(raw)
        except ValueError as error:
            raise CryptoError("ed25519 public key is malformed") from error
        return ed25519_key, _ed25519_verify_function(ed25519_key)
    raise CryptoError(f"unknown signature algorithm {algorithm!r}")


class PublicKey:
    """A public key of one of the three algorithms, in its canonical raw form.

    Prefer load_public_key, which caches: parsing checks that the point is on the curve, which
    costs about a tenth of a verification (9 us for ecdsa-p256, 31 us for sm2; 0.2 us cached).
    """

    __slots__ = ("_algorithm", "_key", "_raw", "_verify")

    def __init__(self, algorithm: str, raw: bytes) -> None:
        raw = bytes(raw)
        self._key, self._verify = _parse_public_key(algorithm, raw)
        self._algorithm = algorithm
        self._raw = raw

    @property
    def algorithm(self) -> str:
        return self._algorithm

    @property
    def raw(self) -> bytes:
        """X9.62 uncompressed point (ecdsa-p256, sm2) or the 32 raw bytes (ed25519)."""
        return self._raw

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Whether signature is this key's signature over data; False, never an exception,
        for any signature bytes at all."""
        return self._verify(data, signature)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublicKey):
            return NotImplemented
        return self._algorithm == other._algorithm and self._raw == other._raw

    def __hash__(self) -> int:
        return hash((self._algorithm, self._raw))

    def __repr__(self) -> str:
        return f"PublicKey({self._algorithm}, {self._raw.hex()})"

    def __reduce__(self) -> tuple[Callable[[str, bytes], PublicKey], tuple[str, bytes]]:
        """Pickled as (algorithm, raw) and loaded again, through the cache, where unpickled
        (the key objects of the C libraries cannot be pickled): so a batch goes to the
        verification worker processes as it is, one key per sender and chunk."""
        return load_public_key, (self._algorithm, self._raw)


@functools.lru_cache(maxsize=PUBLIC_KEY_CACHE_SIZE)
def _load_public_key_cached(algorithm: str, raw: bytes) -> PublicKey:
    return PublicKey(algorithm, raw)


def load_public_key(algorithm: str, raw: bytes) -> PublicKey:
    """The PublicKey for raw, cached because every transaction and vote needs its sender's key.

    Raises CryptoError for an unknown algorithm or malformed key bytes (errors are not cached).
    """
    if type(raw) is not bytes:
        # The cache needs a hashable key; bytearray and memoryview are not.
        raw = bytes(raw)
    return _load_public_key_cached(algorithm, raw)


def _raw_public_key(algorithm: str, key: Any) -> bytes:
    if algorithm == ALGORITHM_ED25519:
        raw: bytes = key.public_bytes_raw()
        return raw
    if algorithm == ALGORITHM_SM2:
        sm2_raw: bytes = key.public_bytes(
            tongsuo_serialization.Encoding.X962,
            tongsuo_serialization.PublicFormat.UncompressedPoint,
        )
        return sm2_raw
    p256_raw: bytes = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return p256_raw


def public_key_from_library_key(key: object) -> PublicKey:
    """Wraps a `cryptography` public key (as found in an X.509 certificate).

    CryptoError for key types that are not ecdsa-p256 or ed25519.
    """
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return load_public_key(ALGORITHM_ECDSA_P256, _raw_public_key(ALGORITHM_ECDSA_P256, key))
    if isinstance(key, ed25519.Ed25519PublicKey):
        return load_public_key(ALGORITHM_ED25519, _raw_public_key(ALGORITHM_ED25519, key))
    raise CryptoError(f"unsupported public key type {type(key).__name__}")


def _library_private_key_algorithm(key: object) -> str | None:
    """Which of our algorithms a `cryptography` or `tongsuopy` private key is for, if any."""
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return ALGORITHM_ECDSA_P256
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return ALGORITHM_ED25519
    if isinstance(key, tongsuo_ec.EllipticCurvePrivateKey) and isinstance(
        key.curve, tongsuo_ec.SM2
    ):
        return ALGORITHM_SM2
    return None


class Signer(Protocol):
    """What signs for a member: a PrivateKey in memory, or a key that never leaves a token
    (sdk.pkcs11.Pkcs11Signer). Signatures have the same form either way."""

    @property
    def algorithm(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...

    def public_key(self) -> PublicKey: ...


class PrivateKey:
    """A signing key. Create one with generate or from_pem."""

    __slots__ = ("_algorithm", "_key", "_public_key")

    def __init__(self, algorithm: str, library_key: Any) -> None:
        # library_key is the `cryptography` (ecdsa-p256, ed25519) or `tongsuopy` (sm2) object;
        # generate and from_pem are the constructors meant for callers.
        if algorithm not in ALGORITHMS:
            raise CryptoError(f"unknown signature algorithm {algorithm!r}")
        if _library_private_key_algorithm(library_key) != algorithm:
            raise CryptoError(f"{type(library_key).__name__} is not an {algorithm} private key")
        self._algorithm = algorithm
        self._key = library_key
        self._public_key: PublicKey | None = None

    @property
    def algorithm(self) -> str:
        return self._algorithm

    @classmethod
    def generate(cls, algorithm: str) -> PrivateKey:
        if algorithm == ALGORITHM_ECDSA_P256:
            return cls(algorithm, ec.generate_private_key(ec.SECP256R1()))
        if algorithm == ALGORITHM_ED25519:
            return cls(algorithm, ed25519.Ed25519PrivateKey.generate())
        if algorithm == ALGORITHM_SM2:
            return cls(algorithm, tongsuo_ec.generate_private_key(tongsuo_ec.SM2()))
        raise CryptoError(f"unknown signature algorithm {algorithm!r}")

    @classmethod
    def from_pem(cls, pem: bytes, passphrase: bytes | None = None) -> PrivateKey:
        """Loads a PKCS#8 PEM key of any of the three algorithms: unencrypted, or encrypted
        with a passphrase (PBES2 with scrypt, crypto.key_encryption). CryptoError for an
        encrypted key without a passphrase, with a wrong one, or a passphrase for a plain key."""
        if pem.lstrip().startswith(_ENCRYPTED_PKCS8_PEM_HEADER):
            if not passphrase:
                raise CryptoError(
                    "the private key is encrypted: give its passphrase (CAUSEWAY_KEY_PASSPHRASE"
                    " or CAUSEWAY_KEY_PASSPHRASE_FILE)"
                )
            pem = decrypt_private_key_pem(pem, passphrase)
        if not pem.lstrip().startswith(_PKCS8_PEM_HEADER):
            raise CryptoError(
                "a private key must be an unencrypted PKCS#8 PEM file (-----BEGIN PRIVATE"
                " KEY-----); convert other forms with `openssl pkcs8 -topk8 -nocrypt`"
            )
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except UnsupportedAlgorithm:
            # `cryptography` does not know the SM2 curve; Tongsuo does.
            return cls._from_sm2_pem(pem)
        except (ValueError, TypeError) as error:
            raise CryptoError(f"cannot load private key: {error}") from error
        return cls._from_library_key(key)

    @classmethod
    def _from_sm2_pem(cls, pem: bytes) -> PrivateKey:
        try:
            key = tongsuo_serialization.load_pem_private_key(pem, password=None)
        except Exception as error:
            raise CryptoError(f"cannot load private key: {error}") from error
        return cls._from_library_key(key)

    @classmethod
    def _from_library_key(cls, key: object) -> PrivateKey:
        algorithm = _library_private_key_algorithm(key)
        if algorithm is None:
            raise CryptoError(f"unsupported private key type {type(key).__name__}")
        return cls(algorithm, key)

    def to_pem(self, passphrase: bytes | None = None) -> bytes:
        """PKCS#8 PEM, encrypted under passphrase when one is given (PBES2 with scrypt and
        AES-256-CBC, crypto.key_encryption); unencrypted otherwise: then protect the file."""
        plain = self._plain_pem()
        return plain if passphrase is None else encrypt_private_key_pem(plain, passphrase)

    def _plain_pem(self) -> bytes:
        if self._algorithm == ALGORITHM_SM2:
            sm2_pem: bytes = self._key.private_bytes(
                tongsuo_serialization.Encoding.PEM,
                tongsuo_serialization.PrivateFormat.PKCS8,
                tongsuo_serialization.NoEncryption(),
            )
            return sm2_pem
        pem: bytes = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return pem

    def sign(self, data: bytes) -> bytes:
        """ecdsa-p256: DER (r, s) over SHA-256; ed25519: 64 bytes; sm2: DER (r, s) over SM3 with
        the distinguishing id 1234567812345678."""
        if self._algorithm == ALGORITHM_ECDSA_P256:
            p256_signature: bytes = self._key.sign(data, _ECDSA_WITH_SHA256)
            return p256_signature
        if self._algorithm == ALGORITHM_ED25519:
            ed25519_signature: bytes = self._key.sign(data)
            return ed25519_signature
        sm2_signature: bytes = self._key.sign(data, _SM2_WITH_SM3)
        return sm2_signature

    def public_key(self) -> PublicKey:
        if self._public_key is None:
            self._public_key = load_public_key(
                self._algorithm, _raw_public_key(self._algorithm, self._key.public_key())
            )
        return self._public_key

    def __repr__(self) -> str:
        # Never the key material: private keys end up in logs through reprs.
        return f"PrivateKey({self._algorithm}, public={self.public_key().raw.hex()})"


def library_private_key(key: PrivateKey) -> Any:
    """The `cryptography` or `tongsuopy` object behind key, for this package's certificates."""
    return key._key


def library_public_key(key: PublicKey) -> Any:
    """The `cryptography` or `tongsuopy` object behind key, for this package's certificates."""
    return key._key
