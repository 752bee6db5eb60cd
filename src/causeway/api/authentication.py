"""Who may call the client API, what they may read, and how often (docs/api.md, "Access").

``ApiAccess`` is the one gate both front doors (gRPC and HTTP) pass every call through before the
service sees it. With ``require_authentication`` a call must prove a member, by an access token
(causeway.api.access_tokens) or, on gRPC, by the member's own X.509 certificate presented in
mutual TLS; the member must still be in state as of the latest block, with the same key or
certificate, so that governance removing a member or replacing its certificate shuts it out at
once. Reads are then limited to the roles that the chain's configuration names
(``ChainConfig.read_roles``, empty: every member). Every call is counted against its client's
rate limit: the member's, or the remote address's when no member is proven.

Member records are read from the latest state and kept until the height changes; a verified
token's signature is not checked again while the member's key stays the same.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from causeway.api.access_tokens import (
    check_token_claims,
    check_token_signature,
    read_access_token,
)
from causeway.api.rate_limits import TRACKED_CLIENTS_MAX_DEFAULT, RateLimit, RateLimiter
from causeway.api.v1 import access_pb2
from causeway.crypto import CryptoProfile
from causeway.errors import AuthenticationError, PermissionDeniedError, RateLimitedError
from causeway.types.v1 import types_pb2

# Operations that read the chain: limited to ChainConfig.read_roles. Submissions are governed by
# the transaction's own signature and membership; the status names only the chain.
READ_OPERATIONS = frozenset(
    {
        "Query",
        "GetBlock",
        "GetTransaction",
        "GetState",
        "GetStates",
        "GetValidatorSet",
        "StreamBlocks",
        "StreamEvents",
    }
)
OPERATIONS = READ_OPERATIONS | {"Submit", "SubmitBatch", "GetStatus"}
# Bounds of the caches: member records of the current height, and tokens already verified.
MEMBERS_CACHED_MAX = 4096
TOKENS_CACHED_MAX = 4096


@dataclass(frozen=True, slots=True)
class AccessSettings:
    """A node's [api] access settings (causeway.node.config)."""

    require_authentication: bool = False
    # None: no rate limit.
    rate_limit: RateLimit | None = None
    tracked_clients_max: int = TRACKED_CLIENTS_MAX_DEFAULT


def _role_names(roles: Sequence[int]) -> str:
    names = (types_pb2.Role.Name(types_pb2.Role.ValueType(role)) for role in roles)
    return ", ".join(name.removeprefix("ROLE_") for name in names) or "none"


def certificate_member_id(certificate_der: bytes) -> str:
    """The member id a member certificate names (its common name); AuthenticationError when the
    certificate names none."""
    try:
        certificate = x509.load_der_x509_certificate(certificate_der)
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        raise AuthenticationError("client certificate is not a valid X.509 certificate") from None
    if len(names) != 1 or not isinstance(names[0].value, str):
        raise AuthenticationError("client certificate must name one member as its common name")
    return names[0].value


class ApiAccess:
    """The gate of the client API: authentication, read roles and rate limits, per call."""

    def __init__(
        self,
        settings: AccessSettings,
        *,
        chain_id: str,
        node_id: str,
        profile: CryptoProfile,
        height: Callable[[], int],
        member: Callable[[str], types_pb2.Member | None],
        read_roles: Callable[[], Sequence[int]],
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        monotonic_s: Callable[[], float] = time.monotonic,
    ) -> None:
        """height: the latest written height; member: a member's record in the latest state
        (None when unknown or removed); read_roles: the chain configuration's read_roles."""
        self.settings = settings
        self._chain_id = chain_id
        self._node_id = node_id
        self._profile = profile
        self._height = height
        self._member = member
        self._read_roles = read_roles
        self._clock_ms = clock_ms
        self._monotonic_s = monotonic_s
        self._limiter = (
            RateLimiter(settings.rate_limit, tracked_clients_max=settings.tracked_clients_max)
            if settings.rate_limit is not None
            else None
        )
        self._members_height = -1
        self._members: dict[str, types_pb2.Member | None] = {}
        # token text -> (body, algorithm and public key it verified with)
        self._tokens: OrderedDict[str, tuple[access_pb2.AccessTokenBody, str, bytes]] = (
            OrderedDict()
        )

    # ------------------------------------------------------------------ the gate

    def admit(
        self,
        operation: str,
        *,
        token: str | None,
        certificate_der: bytes | None,
        remote: str,
    ) -> str | None:
        """Lets a call of ``operation`` through, answering the member it proved (None when the
        node does not require authentication); otherwise raises AuthenticationError (no member
        proven), PermissionDeniedError (the member's roles may not read) or RateLimitedError."""
        if not self.settings.require_authentication:
            self._take(f"address:{remote}")
            return None
        try:
            member = self._authenticate(token, certificate_der)
        except AuthenticationError:
            # Failed attempts count against the address, so that guessing costs the guesser.
            self._take(f"address:{remote}")
            raise
        if operation in READ_OPERATIONS:
            self._check_read_role(member)
        self._take(f"member:{member.id}")
        return member.id

    def recheck(self, operation: str, *, token: str | None, certificate_der: bytes | None) -> None:
        """Checks again, without counting a call, that a stream admitted earlier may go on: run
        before each record it sends, so that a member removed (or a token expired) meanwhile
        gets nothing more."""
        if not self.settings.require_authentication:
            return
        member = self._authenticate(token, certificate_der)
        if operation in READ_OPERATIONS:
            self._check_read_role(member)

    def admit_public(self, remote: str) -> None:
        """A call of a route open to anyone (health, metrics): counted against its address."""
        self._take(f"address:{remote}")

    # ------------------------------------------------------------------ parts

    def _take(self, client: str) -> None:
        if self._limiter is None:
            return
        retry_after_s = self._limiter.take(client, self._monotonic_s())
        if retry_after_s is not None:
            raise RateLimitedError(
                f"over the rate limit of {self._limiter.limit.requests_per_second:g} calls per "
                f"second (burst {self._limiter.limit.burst}); retry after {retry_after_s:.3f} s",
                retry_after_s=retry_after_s,
            )

    def _member_now(self, member_id: str) -> types_pb2.Member | None:
        height = self._height()
        if height != self._members_height or len(self._members) >= MEMBERS_CACHED_MAX:
            self._members = {}
            self._members_height = height
        if member_id not in self._members:
            self._members[member_id] = self._member(member_id)
        return self._members[member_id]

    def _authenticate(self, token: str | None, certificate_der: bytes | None) -> types_pb2.Member:
        if token is not None:
            return self._authenticate_token(token)
        if certificate_der is not None:
            return self._authenticate_certificate(certificate_der)
        raise AuthenticationError(
            "this node requires authentication: send an access token "
            "(Authorization: Bearer <token>) or a member certificate"
        )

    def _authenticate_token(self, token: str) -> types_pb2.Member:
        cached = self._tokens.get(token)
        if cached is not None:
            self._tokens.move_to_end(token)
            body = cached[0]
        else:
            body, encoded_body, signature = read_access_token(token)
        check_token_claims(
            body, chain_id=self._chain_id, node_id=self._node_id, now_ms=self._clock_ms()
        )
        member = self._member_now(body.member_id)
        if member is None:
            raise AuthenticationError(f"member {body.member_id!r} is unknown or was removed")
        if cached is not None:
            if (member.algorithm, member.public_key) == cached[1:]:
                return member
            # The member's key was replaced since: the old key's tokens are no longer good.
            del self._tokens[token]
            raise AuthenticationError(
                f"access token was signed with a key {body.member_id} no longer holds"
            )
        check_token_signature(body, encoded_body, signature, member, self._profile)
        self._tokens[token] = (body, member.algorithm, member.public_key)
        while len(self._tokens) > TOKENS_CACHED_MAX:
            self._tokens.popitem(last=False)
        return member

    def _authenticate_certificate(self, certificate_der: bytes) -> types_pb2.Member:
        # The TLS handshake checked the certificate against the trusted CAs and its dates; what
        # is left is whether the chain still holds this very certificate for the member.
        member_id = certificate_member_id(certificate_der)
        member = self._member_now(member_id)
        if member is None:
            raise AuthenticationError(f"member {member_id!r} is unknown or was removed")
        if member.certificate != certificate_der:
            raise AuthenticationError(
                f"client certificate of {member_id} is not the one on chain "
                "(replaced or revoked by governance)"
            )
        return member

    def _check_read_role(self, member: types_pb2.Member) -> None:
        read_roles = list(self._read_roles())
        if not read_roles or set(member.roles) & set(read_roles):
            return
        raise PermissionDeniedError(
            f"member {member.id} (roles: {_role_names(member.roles)}) may not read this chain: "
            f"its configuration allows reads by {_role_names(read_roles)}"
        )
