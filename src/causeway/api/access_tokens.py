"""Access tokens of the client API: made by a member with its member key, checked by a node.

A token is an ``AccessToken`` (``proto/causeway/api/v1/access.proto``): the canonical encoding of
an ``AccessTokenBody`` and the member's signature over
``sign_bytes("access_token", chain_id, body)``, sent as base64url without padding. No secret is
shared with the node: the node checks the signature against the member's public key in state, so a
member that governance removes, or whose certificate it replaces, is refused at once; and any
profile's algorithm works, SM2 included, which TLS client certificates cannot carry.

Everything here is pure: the clock comes in as ``now_ms`` and the member's record as an argument.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from causeway.api.v1 import access_pb2
from causeway.crypto import CryptoProfile, Signer, load_public_key
from causeway.errors import AuthenticationError, CausewayError, ConfigurationError
from causeway.types import decode, encode, sign_bytes
from causeway.types.v1 import types_pb2

ACCESS_TOKEN_VERSION = 1
DOMAIN_ACCESS_TOKEN = "access_token"
# A stolen token is good until it expires, so tokens are short-lived: a client makes a new one
# (cheaply, offline) well before the old one runs out.
ACCESS_TOKEN_LIFETIME_MAX_MS = 60 * 60 * 1000
ACCESS_TOKEN_LIFETIME_MS_DEFAULT = 10 * 60 * 1000
# A token dated this far ahead of the node's clock is still accepted (clocks drift).
ACCESS_TOKEN_CLOCK_SKEW_MS = 60 * 1000
ACCESS_TOKEN_NONCE_BYTES = 16
# Bounds what the node decodes before it knows anything about the caller: a well-formed token is
# well under 400 characters (an SM2 or ECDSA signature and a member id of at most a few hundred).
ACCESS_TOKEN_TEXT_LENGTH_MAX = 2048


def _encode_text(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode_text(text: str) -> bytes:
    if len(text) > ACCESS_TOKEN_TEXT_LENGTH_MAX:
        raise AuthenticationError(
            f"access token is longer than {ACCESS_TOKEN_TEXT_LENGTH_MAX} characters"
        )
    try:
        data = text.encode("ascii")
        padded = data + b"=" * (-len(data) % 4)
        decoded = base64.urlsafe_b64decode(padded)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise AuthenticationError("access token is not unpadded base64url") from None
    # One text per token: refuse the spellings that decode alike (padding, stray characters).
    if _encode_text(decoded) != text:
        raise AuthenticationError("access token is not unpadded base64url") from None
    return decoded


def make_access_token(
    *,
    chain_id: str,
    member_id: str,
    key: Signer,
    now_ms: int,
    lifetime_ms: int = ACCESS_TOKEN_LIFETIME_MS_DEFAULT,
    audience: str = "",
    nonce: bytes | None = None,
) -> str:
    """A token for ``member_id`` signed with its member key, valid from ``now_ms`` for
    ``lifetime_ms``; ``audience`` is a node's member id, or empty for any node of the chain."""
    if not chain_id:
        raise ConfigurationError("an access token needs the chain id")
    if not 0 < lifetime_ms <= ACCESS_TOKEN_LIFETIME_MAX_MS:
        raise ConfigurationError(
            f"access token lifetime must be between 1 and {ACCESS_TOKEN_LIFETIME_MAX_MS} ms, "
            f"not {lifetime_ms}"
        )
    body = access_pb2.AccessTokenBody(
        version=ACCESS_TOKEN_VERSION,
        chain_id=chain_id,
        member_id=member_id,
        issued_at_ms=now_ms,
        expires_at_ms=now_ms + lifetime_ms,
        audience=audience or chain_id,
        nonce=secrets.token_bytes(ACCESS_TOKEN_NONCE_BYTES) if nonce is None else nonce,
    )
    encoded_body = encode(body)
    signature = key.sign(sign_bytes(DOMAIN_ACCESS_TOKEN, chain_id, encoded_body))
    return _encode_text(encode(access_pb2.AccessToken(body=encoded_body, signature=signature)))


def read_access_token(text: str) -> tuple[access_pb2.AccessTokenBody, bytes, bytes]:
    """The token's body, its encoding and its signature, unchecked; AuthenticationError when the
    text is not a canonically encoded token."""
    data = _decode_text(text)
    try:
        token = decode(access_pb2.AccessToken, data, bytes_max=ACCESS_TOKEN_TEXT_LENGTH_MAX)
        body = decode(
            access_pb2.AccessTokenBody, token.body, bytes_max=ACCESS_TOKEN_TEXT_LENGTH_MAX
        )
    except CausewayError as error:
        raise AuthenticationError(f"access token is malformed: {error}") from None
    if not token.body or not token.signature:
        raise AuthenticationError("access token is malformed: it needs a body and a signature")
    return body, token.body, token.signature


def check_token_claims(
    body: access_pb2.AccessTokenBody, *, chain_id: str, node_id: str, now_ms: int
) -> None:
    """Checks what the body says against this node and its clock (not the signature)."""
    if body.version != ACCESS_TOKEN_VERSION:
        raise AuthenticationError(f"access token version {body.version} is not supported")
    if body.chain_id != chain_id:
        raise AuthenticationError(
            f"access token is for chain {body.chain_id!r}, this node serves {chain_id!r}"
        )
    if body.audience not in (chain_id, node_id):
        raise AuthenticationError(
            f"access token is for {body.audience!r}, not this chain or node ({node_id})"
        )
    if len(body.nonce) != ACCESS_TOKEN_NONCE_BYTES:
        raise AuthenticationError(f"access token nonce must be {ACCESS_TOKEN_NONCE_BYTES} bytes")
    lifetime_ms = body.expires_at_ms - body.issued_at_ms
    if not 0 < lifetime_ms <= ACCESS_TOKEN_LIFETIME_MAX_MS:
        raise AuthenticationError(
            f"access token lifetime must be between 1 and {ACCESS_TOKEN_LIFETIME_MAX_MS} ms"
        )
    if body.issued_at_ms > now_ms + ACCESS_TOKEN_CLOCK_SKEW_MS:
        raise AuthenticationError("access token is issued in the future: check the clocks")
    if body.expires_at_ms <= now_ms:
        raise AuthenticationError("access token has expired: make a new one")


def check_token_signature(
    body: access_pb2.AccessTokenBody,
    encoded_body: bytes,
    signature: bytes,
    member: types_pb2.Member | None,
    profile: CryptoProfile,
) -> None:
    """Checks the signature against the member's record in state (None: unknown or removed)."""
    if member is None:
        raise AuthenticationError(f"member {body.member_id!r} is unknown or was removed")
    try:
        profile.check_algorithm(member.algorithm)
        public_key = load_public_key(member.algorithm, member.public_key)
        valid = public_key.verify(
            sign_bytes(DOMAIN_ACCESS_TOKEN, body.chain_id, encoded_body), signature
        )
    except CausewayError:
        valid = False
    if not valid:
        raise AuthenticationError(
            f"access token signature does not verify with the key of {body.member_id}"
        )
