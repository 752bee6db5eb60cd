"""Keys: signing round trips, rejection of bad signatures and keys, PEM, and SM2 interoperability
with the independent pure-Python gmssl package."""

from __future__ import annotations

import pickle

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from gmssl import sm2 as gmssl_sm2
from hypothesis import given, settings
from hypothesis import strategies as st
from tongsuopy.crypto import serialization as tongsuo_serialization

from causeway.crypto import (
    ALGORITHM_ECDSA_P256,
    ALGORITHM_ED25519,
    ALGORITHM_SM2,
    ALGORITHMS,
    PrivateKey,
    PublicKey,
    load_public_key,
)
from causeway.errors import CryptoError

ALGORITHM_LIST = sorted(ALGORITHMS)
# Generated once: keys are immutable, and hypothesis re-runs test bodies many times.
KEYS = {algorithm: PrivateKey.generate(algorithm) for algorithm in ALGORITHM_LIST}
OTHER_KEYS = {algorithm: PrivateKey.generate(algorithm) for algorithm in ALGORITHM_LIST}
MESSAGE_SIGNATURES = {algorithm: KEYS[algorithm].sign(b"message") for algorithm in ALGORITHM_LIST}
# The order n of the P-256 and SM2 groups; r and s must lie in [1, n-1].
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
SM2_ORDER = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


@pytest.mark.parametrize("algorithm", ALGORITHM_LIST)
@settings(max_examples=25)
@given(data=st.binary(max_size=1000))
def test_sign_verify_round_trip(algorithm: str, data: bytes) -> None:
    key = KEYS[algorithm]
    signature = key.sign(data)
    assert key.public_key().verify(data, signature)
    assert load_public_key(algorithm, key.public_key().raw).verify(data, signature)


@pytest.mark.parametrize("algorithm", ALGORITHM_LIST)
@settings(max_examples=25)
@given(data=st.binary(max_size=200), other=st.binary(max_size=200))
def test_wrong_message_does_not_verify(algorithm: str, data: bytes, other: bytes) -> None:
    signature = KEYS[algorithm].sign(data)
    assert KEYS[algorithm].public_key().verify(other, signature) == (data == other)


@pytest.mark.parametrize("algorithm", ALGORITHM_LIST)
def test_wrong_key_does_not_verify(algorithm: str) -> None:
    signature = KEYS[algorithm].sign(b"message")
    assert not OTHER_KEYS[algorithm].public_key().verify(b"message", signature)


@pytest.mark.parametrize("algorithm", ALGORITHM_LIST)
@settings(max_examples=25)
@given(data=st.data())
def test_tampered_signature_does_not_verify(algorithm: str, data: st.DataObject) -> None:
    # A fixed signature: ECDSA signatures vary in length, and hypothesis needs the same draws
    # to replay a failure.
    signature = bytearray(MESSAGE_SIGNATURES[algorithm])
    position = data.draw(st.integers(0, len(signature) - 1))
    flip = data.draw(st.integers(1, 255))
    signature[position] ^= flip
    assert not KEYS[algorithm].public_key().verify(b"message", bytes(signature))


@pytest.mark.parametrize("algorithm", ALGORITHM_LIST)
@settings(max_examples=100)
@given(signature=st.binary(max_size=150))
def test_garbage_signature_is_false_not_an_exception(algorithm: str, signature: bytes) -> None:
    assert KEYS[algorithm].public_key().verify(b"message", signature) is False


def _der_signatures_out_of_range(order: int) -> list[bytes]:
    return [
        encode_dss_signature(0, 1),
        encode_dss_signature(1, 0),
        encode_dss_signature(order, 1),
        encode_dss_signature(1, order),
        encode_dss_signature(order + 1, order + 1),
        encode_dss_signature(2**512, 1),
    ]


@pytest.mark.parametrize(
    ("algorithm", "signature"),
    [
        *((algorithm, b"") for algorithm in ALGORITHM_LIST),
        *((algorithm, b"\x30\x00") for algorithm in ALGORITHM_LIST),
        *((algorithm, b"\x30\x82\xff\xff") for algorithm in ALGORITHM_LIST),
        *((algorithm, b"\x00" * 64) for algorithm in ALGORITHM_LIST),
        *(
            (ALGORITHM_ECDSA_P256, signature)
            for signature in _der_signatures_out_of_range(P256_ORDER)
        ),
        *((ALGORITHM_SM2, signature) for signature in _der_signatures_out_of_range(SM2_ORDER)),
    ],
)
def test_malformed_signatures_are_false(algorithm: str, signature: bytes) -> None:
    assert KEYS[algorithm].public_key().verify(b"message", signature) is False


@pytest.mark.parametrize("algorithm", [ALGORITHM_ECDSA_P256, ALGORITHM_SM2])
def test_non_canonical_der_does_not_verify(algorithm: str) -> None:
    # One signature, one byte form: trailing bytes or a padded length must not pass.
    key = KEYS[algorithm]
    signature = key.sign(b"message")
    assert not key.public_key().verify(b"message", signature + b"\x00")
    long_form_length = b"\x30\x81" + signature[1:2] + signature[2:]
    assert not key.public_key().verify(b"message", long_form_length)


@pytest.mark.parametrize(
    ("signer", "verifier"),
    [(a, b) for a in ALGORITHM_LIST for b in ALGORITHM_LIST if a != b],
)
def test_signature_of_another_algorithm_does_not_verify(signer: str, verifier: str) -> None:
    signature = KEYS[signer].sign(b"message")
    assert not KEYS[verifier].public_key().verify(b"message", signature)


@pytest.mark.parametrize(
    ("algorithm", "raw"),
    [
        ("rsa", b"\x04" + b"\x01" * 64),
        ("", b"\x01" * 32),
        (ALGORITHM_ECDSA_P256, b""),
        (ALGORITHM_ECDSA_P256, b"\x04" + b"\x00" * 64),  # (0, 0) is not on the curve
        (ALGORITHM_ECDSA_P256, b"\x04" + b"\xff" * 64),
        (ALGORITHM_ECDSA_P256, KEYS[ALGORITHM_ECDSA_P256].public_key().raw[:-1]),
        (ALGORITHM_ECDSA_P256, KEYS[ALGORITHM_ECDSA_P256].public_key().raw + b"\x00"),
        # A valid point, compressed: refused so that every key has one byte form.
        (ALGORITHM_ECDSA_P256, b"\x02" + KEYS[ALGORITHM_ECDSA_P256].public_key().raw[1:33]),
        (ALGORITHM_ECDSA_P256, b"\x03" + KEYS[ALGORITHM_ECDSA_P256].public_key().raw[1:33]),
        (ALGORITHM_ECDSA_P256, KEYS[ALGORITHM_SM2].public_key().raw),  # a point of another curve
        (ALGORITHM_SM2, b""),
        (ALGORITHM_SM2, b"\x04" + b"\x00" * 64),
        (ALGORITHM_SM2, KEYS[ALGORITHM_SM2].public_key().raw[:-1]),
        (ALGORITHM_SM2, b"\x02" + KEYS[ALGORITHM_SM2].public_key().raw[1:33]),
        (ALGORITHM_SM2, b"\x06" + KEYS[ALGORITHM_SM2].public_key().raw[1:]),
        (ALGORITHM_SM2, KEYS[ALGORITHM_ECDSA_P256].public_key().raw),
        (ALGORITHM_ED25519, b""),
        (ALGORITHM_ED25519, b"\x01" * 31),
        (ALGORITHM_ED25519, b"\x01" * 33),
        (ALGORITHM_ED25519, KEYS[ALGORITHM_ECDSA_P256].public_key().raw),
    ],
    # Named, not printed: the keys are generated afresh in each process, and a test's id must
    # be the same in every run (to select it, to compare runs, for parallel runners).
    ids=[
        "unknown-algorithm",
        "empty-algorithm",
        "p256-empty",
        "p256-zero-point",
        "p256-all-ones",
        "p256-one-byte-short",
        "p256-one-byte-long",
        "p256-compressed-02",
        "p256-compressed-03",
        "p256-sm2-point",
        "sm2-empty",
        "sm2-zero-point",
        "sm2-one-byte-short",
        "sm2-compressed",
        "sm2-hybrid-prefix",
        "sm2-p256-point",
        "ed25519-empty",
        "ed25519-31-bytes",
        "ed25519-33-bytes",
        "ed25519-p256-point",
    ],
)
def test_malformed_public_key_is_a_crypto_error(algorithm: str, raw: bytes) -> None:
    with pytest.raises(CryptoError):
        load_public_key(algorithm, raw)
    with pytest.raises(CryptoError):
        PublicKey(algorithm, raw)


@settings(max_examples=100)
@given(raw=st.binary(max_size=100), algorithm=st.sampled_from(ALGORITHM_LIST))
def test_random_public_key_bytes_load_or_raise_crypto_error(algorithm: str, raw: bytes) -> None:
    try:
        key = load_public_key(algorithm, raw)
    except CryptoError:
        return
    assert key.raw == raw
    assert key.verify(b"message", b"garbage") is False


@pytest.mark.parametrize("algorithm", ALGORITHM_LIST)
def test_public_key_raw_forms(algorithm: str) -> None:
    raw = KEYS[algorithm].public_key().raw
    if algorithm == ALGORITHM_ED25519:
        assert len(raw) == 32
    else:
        assert len(raw) == 65
        assert raw[0] == 0x04


def test_load_public_key_is_cached_and_accepts_bytes_like() -> None:
    raw = KEYS[ALGORITHM_ECDSA_P256].public_key().raw
    first = load_public_key(ALGORITHM_ECDSA_P256, raw)
    assert load_public_key(ALGORITHM_ECDSA_P256, bytes(bytearray(raw))) is first
    assert load_public_key(ALGORITHM_ECDSA_P256, bytearray(raw)) is first  # type: ignore[arg-type]
    assert first.algorithm == ALGORITHM_ECDSA_P256
    assert first.raw == raw


def test_public_key_equality() -> None:
    raw = KEYS[ALGORITHM_ED25519].public_key().raw
    assert PublicKey(ALGORITHM_ED25519, raw) == load_public_key(ALGORITHM_ED25519, raw)
    assert len({PublicKey(ALGORITHM_ED25519, raw), load_public_key(ALGORITHM_ED25519, raw)}) == 1
    assert PublicKey(ALGORITHM_ED25519, raw) != OTHER_KEYS[ALGORITHM_ED25519].public_key()


@pytest.mark.parametrize("algorithm", ALGORITHM_LIST)
def test_pem_round_trip(algorithm: str) -> None:
    key = KEYS[algorithm]
    pem = key.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = PrivateKey.from_pem(pem)
    assert loaded.algorithm == algorithm
    assert loaded.public_key() == key.public_key()
    assert loaded.to_pem() == pem
    assert key.public_key().verify(b"message", loaded.sign(b"message"))


@pytest.mark.parametrize("algorithm", ALGORITHM_LIST)
def test_private_key_repr_hides_the_key(algorithm: str) -> None:
    key = KEYS[algorithm]
    body = b"".join(key.to_pem().splitlines()[1:-1]).decode()
    assert body not in repr(key)
    assert algorithm in repr(key)


def _pkcs8(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize(
    "pem",
    [
        b"",
        b"garbage",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        b"-----BEGIN PRIVATE KEY-----\n" + b"A" * 64 + b"\n-----END PRIVATE KEY-----\n",
        # Right header, wrong curve or algorithm.
        _pkcs8(ec.generate_private_key(ec.SECP384R1())),
        _pkcs8(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
        # Not PKCS#8 at all.
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"password"),
        ),
        KEYS[ALGORITHM_SM2].to_pem().replace(b"M", b"N"),
    ],
)
def test_from_pem_rejects_what_it_cannot_load(pem: bytes) -> None:
    with pytest.raises(CryptoError):
        PrivateKey.from_pem(pem)


def test_generate_unknown_algorithm() -> None:
    with pytest.raises(CryptoError, match="unknown signature algorithm"):
        PrivateKey.generate("ecdsa-p384")


def test_ed25519_rfc8032_test_1() -> None:
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    pem = ed25519.Ed25519PrivateKey.from_private_bytes(seed).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key = PrivateKey.from_pem(pem)
    expected_signature = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
        "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    assert key.public_key().raw.hex() == (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    )
    assert key.sign(b"") == expected_signature
    assert key.public_key().verify(b"", expected_signature)


# --- SM2 against gmssl, an independent pure-Python implementation of GB/T 32918 ---------------


def _gmssl_for(key: PrivateKey) -> gmssl_sm2.CryptSM2:
    # gmssl wants the private scalar and the public point (x || y) as hex; the scalar is read
    # back through Tongsuo from our PKCS#8 PEM, which also checks that the PEM is standard.
    library_key = tongsuo_serialization.load_pem_private_key(key.to_pem(), password=None)
    private_value: int = library_key.private_numbers().private_value
    return gmssl_sm2.CryptSM2(
        private_key=f"{private_value:064x}", public_key=key.public_key().raw[1:].hex()
    )


SM2_GMSSL = _gmssl_for(KEYS[ALGORITHM_SM2])


@settings(max_examples=8, deadline=None)
@given(data=st.binary(max_size=200))
def test_sm2_signatures_verify_in_gmssl(data: bytes) -> None:
    r, s = decode_dss_signature(KEYS[ALGORITHM_SM2].sign(data))
    assert SM2_GMSSL.verify_with_sm3(f"{r:064x}{s:064x}", data)
    assert not SM2_GMSSL.verify_with_sm3(f"{r:064x}{s:064x}", data + b"x")


@settings(max_examples=8, deadline=None)
@given(data=st.binary(max_size=200))
def test_gmssl_signatures_verify_in_ours(data: bytes) -> None:
    signature_hex = SM2_GMSSL.sign_with_sm3(data)
    r, s = int(signature_hex[:64], 16), int(signature_hex[64:], 16)
    signature = encode_dss_signature(r, s)
    public_key = load_public_key(ALGORITHM_SM2, KEYS[ALGORITHM_SM2].public_key().raw)
    assert public_key.verify(data, signature)
    assert not public_key.verify(data + b"x", signature)
    assert not OTHER_KEYS[ALGORITHM_SM2].public_key().verify(data, signature)


def test_constructor_refuses_a_library_key_of_another_algorithm() -> None:
    with pytest.raises(CryptoError, match="not an sm2 private key"):
        PrivateKey(ALGORITHM_SM2, ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(CryptoError, match="not an ecdsa-p256 private key"):
        PrivateKey(ALGORITHM_ECDSA_P256, ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(CryptoError, match="unknown signature algorithm"):
        PrivateKey("rsa", ec.generate_private_key(ec.SECP256R1()))


@pytest.mark.parametrize("algorithm", ALGORITHM_LIST)
def test_a_public_key_pickles_as_its_algorithm_and_raw_bytes(algorithm: str) -> None:
    """How keys reach the verification worker processes: loaded again from (algorithm, raw),
    equal to the original and verifying as it does; many references to one key in a batch are
    pickled once."""
    key = KEYS[algorithm].public_key()
    copy = pickle.loads(pickle.dumps(key))
    assert copy == key
    assert copy.verify(b"message", MESSAGE_SIGNATURES[algorithm])
    assert not copy.verify(b"other", MESSAGE_SIGNATURES[algorithm])
    one, many = pickle.dumps([key]), pickle.dumps([key] * 100)
    assert len(many) < len(one) + 100 * 4  # a memo reference each, not the key again
