"""Access tokens (causeway.api.access_tokens) and rate limits (causeway.api.rate_limits): the pure
parts of the secured client API."""

from __future__ import annotations

import base64

import pytest

from causeway.api import (
    ACCESS_TOKEN_LIFETIME_MAX_MS,
    DOMAIN_ACCESS_TOKEN,
    RateLimit,
    RateLimiter,
    make_access_token,
)
from causeway.api.access_tokens import (
    check_token_claims,
    check_token_signature,
    read_access_token,
)
from causeway.api.v1 import access_pb2
from causeway.crypto import PrivateKey, get_profile
from causeway.errors import AuthenticationError, ConfigurationError
from causeway.types import encode, sign_bytes
from causeway.types.v1 import types_pb2

CHAIN_ID = "token-chain"
NOW_MS = 1_800_000_000_000


def _member(key: PrivateKey, member_id: str = "org1/client") -> types_pb2.Member:
    return types_pb2.Member(id=member_id, algorithm=key.algorithm, public_key=key.public_key().raw)


@pytest.mark.parametrize(
    ("algorithm", "profile"), [("ecdsa-p256", "intl"), ("ed25519", "intl"), ("sm2", "gm")]
)
def test_token_round_trip_in_every_profile(algorithm: str, profile: str) -> None:
    key = PrivateKey.generate(algorithm)
    token = make_access_token(
        chain_id=CHAIN_ID, member_id="org1/client", key=key, now_ms=NOW_MS, nonce=bytes(16)
    )
    body, encoded_body, signature = read_access_token(token)
    assert body == access_pb2.AccessTokenBody(
        version=1,
        chain_id=CHAIN_ID,
        member_id="org1/client",
        issued_at_ms=NOW_MS,
        expires_at_ms=NOW_MS + 10 * 60 * 1000,
        audience=CHAIN_ID,
        nonce=bytes(16),
    )
    assert encoded_body == encode(body)
    assert key.public_key().verify(
        sign_bytes(DOMAIN_ACCESS_TOKEN, CHAIN_ID, encoded_body), signature
    )
    check_token_claims(body, chain_id=CHAIN_ID, node_id="org1/node1", now_ms=NOW_MS + 1)
    check_token_signature(body, encoded_body, signature, _member(key), get_profile(profile))


def test_signature_of_another_domain_does_not_verify() -> None:
    key = PrivateKey.generate("ecdsa-p256")
    body = access_pb2.AccessTokenBody(
        version=1,
        chain_id=CHAIN_ID,
        member_id="org1/client",
        issued_at_ms=NOW_MS,
        expires_at_ms=NOW_MS + 1000,
        audience=CHAIN_ID,
        nonce=bytes(16),
    )
    encoded_body = encode(body)
    # The same body signed as a transaction must not serve as a token.
    signature = key.sign(sign_bytes("transaction", CHAIN_ID, encoded_body))
    with pytest.raises(AuthenticationError, match="does not verify"):
        check_token_signature(body, encoded_body, signature, _member(key), get_profile("intl"))


def test_member_of_another_profile_is_refused() -> None:
    key = PrivateKey.generate("ecdsa-p256")
    token = make_access_token(chain_id=CHAIN_ID, member_id="org1/client", key=key, now_ms=NOW_MS)
    body, encoded_body, signature = read_access_token(token)
    with pytest.raises(AuthenticationError, match="does not verify"):
        check_token_signature(body, encoded_body, signature, _member(key), get_profile("gm"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "malformed"),
        ("A" * 2049, "longer than 2048"),
        ("abc=", "not unpadded base64url"),
        ("ab+c", "not unpadded base64url"),
        ("é", "not unpadded base64url"),
        (base64.urlsafe_b64encode(b"\x0a\x01").decode().rstrip("="), "malformed"),
    ],
)
def test_bad_token_text_is_refused(text: str, message: str) -> None:
    with pytest.raises(AuthenticationError, match=message):
        read_access_token(text)


def test_non_canonical_token_is_refused() -> None:
    key = PrivateKey.generate("ecdsa-p256")
    token = make_access_token(chain_id=CHAIN_ID, member_id="org1/client", key=key, now_ms=NOW_MS)
    data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    # The same fields, the signature first: valid protobuf, not the canonical encoding.
    parsed = access_pb2.AccessToken.FromString(data)
    reordered = encode(access_pb2.AccessToken(signature=parsed.signature)) + encode(
        access_pb2.AccessToken(body=parsed.body)
    )
    text = base64.urlsafe_b64encode(reordered).decode().rstrip("=")
    with pytest.raises(AuthenticationError, match="malformed"):
        read_access_token(text)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 2}, "version 2 is not supported"),
        ({"nonce": b"short"}, "nonce must be 16 bytes"),
        ({"expires_at_ms": NOW_MS}, "lifetime must be between"),
        ({"expires_at_ms": NOW_MS + ACCESS_TOKEN_LIFETIME_MAX_MS + 1}, "lifetime must be between"),
    ],
)
def test_bad_claims_are_refused(change: dict[str, object], message: str) -> None:
    body = access_pb2.AccessTokenBody(
        version=1,
        chain_id=CHAIN_ID,
        member_id="org1/client",
        issued_at_ms=NOW_MS,
        expires_at_ms=NOW_MS + 1000,
        audience=CHAIN_ID,
        nonce=bytes(16),
    )
    for name, value in change.items():
        setattr(body, name, value)
    with pytest.raises(AuthenticationError, match=message):
        check_token_claims(body, chain_id=CHAIN_ID, node_id="org1/node1", now_ms=NOW_MS)


def test_token_expires_at_its_expiry() -> None:
    key = PrivateKey.generate("ecdsa-p256")
    token = make_access_token(
        chain_id=CHAIN_ID, member_id="org1/client", key=key, now_ms=NOW_MS, lifetime_ms=1000
    )
    body, _, _ = read_access_token(token)
    check_token_claims(body, chain_id=CHAIN_ID, node_id="n", now_ms=NOW_MS + 999)
    with pytest.raises(AuthenticationError, match="has expired"):
        check_token_claims(body, chain_id=CHAIN_ID, node_id="n", now_ms=NOW_MS + 1000)


@pytest.mark.parametrize("lifetime_ms", [0, -1, ACCESS_TOKEN_LIFETIME_MAX_MS + 1])
def test_making_a_token_of_bad_lifetime_is_refused(lifetime_ms: int) -> None:
    with pytest.raises(ConfigurationError, match="lifetime"):
        make_access_token(
            chain_id=CHAIN_ID,
            member_id="org1/client",
            key=PrivateKey.generate("ed25519"),
            now_ms=NOW_MS,
            lifetime_ms=lifetime_ms,
        )


# ---- rate limits -------------------------------------------------------------------------------


def test_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    limiter = RateLimiter(RateLimit(requests_per_second=2.0, burst=3))
    assert [limiter.take("a", 10.0) for _ in range(3)] == [None, None, None]
    assert limiter.take("a", 10.0) == pytest.approx(0.5)
    # Refused calls take nothing: half a second later one call's worth is back.
    assert limiter.take("a", 10.5) is None
    assert limiter.take("a", 10.5) == pytest.approx(0.5)
    # Another client has a bucket of its own.
    assert limiter.take("b", 10.5) is None
    # A long pause refills only up to the burst.
    assert [limiter.take("a", 100.0) for _ in range(4)][3] is not None


def test_tracked_clients_are_bounded() -> None:
    limiter = RateLimiter(RateLimit(requests_per_second=1.0, burst=1), tracked_clients_max=2)
    for client in ("a", "b", "c"):
        assert limiter.take(client, 0.0) is None
    assert limiter.tracked_clients() == 2
    # "b" is still tracked (and empty); "a" was forgotten and starts again full.
    assert limiter.take("b", 0.0) is not None
    assert limiter.take("a", 0.0) is None


@pytest.mark.parametrize(
    ("rate", "burst", "clients"), [(0.0, 1, 1), (-1.0, 1, 1), (1.0, 0, 1), (1.0, 1, 0)]
)
def test_bad_limits_are_refused(rate: float, burst: int, clients: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        RateLimiter(RateLimit(requests_per_second=rate, burst=burst), tracked_clients_max=clients)
