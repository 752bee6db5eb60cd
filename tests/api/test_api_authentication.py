"""The gate of the client API (causeway.api.ApiAccess) on its own: which bucket a call is counted
in, and what is read from state when."""

from __future__ import annotations

import pytest

from causeway.api import AccessSettings, ApiAccess, RateLimit, make_access_token
from causeway.crypto import PrivateKey, get_profile
from causeway.errors import AuthenticationError, PermissionDeniedError, RateLimitedError
from causeway.types.v1 import types_pb2

CHAIN_ID = "gate-chain"
NOW_MS = 1_800_000_000_000
KEY = PrivateKey.generate("ed25519")
MEMBER = types_pb2.Member(
    id="org1/client",
    algorithm=KEY.algorithm,
    public_key=KEY.public_key().raw,
    roles=[types_pb2.ROLE_CLIENT],
)


class Chain:
    def __init__(self) -> None:
        self.height = 1
        self.members = {MEMBER.id: MEMBER}
        self.lookups = 0
        self.read_roles: list[int] = []

    def member(self, member_id: str) -> types_pb2.Member | None:
        self.lookups += 1
        return self.members.get(member_id)


def _gate(chain: Chain, settings: AccessSettings) -> ApiAccess:
    return ApiAccess(
        settings,
        chain_id=CHAIN_ID,
        node_id="org1/node1",
        profile=get_profile("intl"),
        height=lambda: chain.height,
        member=chain.member,
        read_roles=lambda: chain.read_roles,
        clock_ms=lambda: NOW_MS,
        monotonic_s=lambda: 0.0,
    )


def _token() -> str:
    return make_access_token(chain_id=CHAIN_ID, member_id=MEMBER.id, key=KEY, now_ms=NOW_MS)


ONE_CALL = RateLimit(requests_per_second=1.0, burst=1)


def test_without_authentication_calls_count_per_address() -> None:
    gate = _gate(Chain(), AccessSettings(rate_limit=ONE_CALL))
    assert gate.admit("Query", token=None, certificate_der=None, remote="10.0.0.1") is None
    with pytest.raises(RateLimitedError, match=r"retry after 1\.000 s"):
        gate.admit("Query", token=None, certificate_der=None, remote="10.0.0.1")
    gate.admit("Query", token=None, certificate_der=None, remote="10.0.0.2")


def test_a_member_has_one_bucket_whatever_its_address() -> None:
    gate = _gate(Chain(), AccessSettings(require_authentication=True, rate_limit=ONE_CALL))
    token = _token()
    assert gate.admit("GetStatus", token=token, certificate_der=None, remote="10.0.0.1") == (
        MEMBER.id
    )
    with pytest.raises(RateLimitedError):
        gate.admit("GetStatus", token=token, certificate_der=None, remote="10.0.0.2")


def test_failed_authentications_count_against_the_address() -> None:
    gate = _gate(Chain(), AccessSettings(require_authentication=True, rate_limit=ONE_CALL))
    with pytest.raises(AuthenticationError):
        gate.admit("GetStatus", token=None, certificate_der=None, remote="10.0.0.1")
    with pytest.raises(RateLimitedError):
        gate.admit("GetStatus", token=None, certificate_der=None, remote="10.0.0.1")
    # The member's own bucket is untouched by what its address did.
    gate.admit("GetStatus", token=_token(), certificate_der=None, remote="10.0.0.1")


def test_operator_routes_count_per_address() -> None:
    gate = _gate(Chain(), AccessSettings(require_authentication=True, rate_limit=ONE_CALL))
    gate.admit_public("10.0.0.1")
    with pytest.raises(RateLimitedError):
        gate.admit_public("10.0.0.1")


def test_members_are_read_once_per_height() -> None:
    chain = Chain()
    gate = _gate(chain, AccessSettings(require_authentication=True))
    token = _token()
    for _ in range(3):
        gate.admit("GetStatus", token=token, certificate_der=None, remote="a")
    assert chain.lookups == 1
    chain.height += 1
    gate.admit("GetStatus", token=token, certificate_der=None, remote="a")
    assert chain.lookups == 2


def test_read_roles_apply_to_reads_only() -> None:
    chain = Chain()
    chain.read_roles = [types_pb2.ROLE_ADMIN, types_pb2.ROLE_LIGHT]
    gate = _gate(chain, AccessSettings(require_authentication=True))
    token = _token()
    for operation in ("Submit", "SubmitBatch", "GetStatus"):
        gate.admit(operation, token=token, certificate_der=None, remote="a")
    for operation in ("Query", "GetBlock", "StreamEvents", "GetStates"):
        with pytest.raises(PermissionDeniedError, match="allows reads by ADMIN, LIGHT"):
            gate.admit(operation, token=token, certificate_der=None, remote="a")


def test_a_certificate_that_names_no_member_is_refused() -> None:
    gate = _gate(Chain(), AccessSettings(require_authentication=True))
    with pytest.raises(AuthenticationError, match=r"not a valid X\.509 certificate"):
        gate.admit("GetStatus", token=None, certificate_der=b"garbage", remote="a")
