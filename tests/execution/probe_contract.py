"""A contract whose method a test supplies, registered for one test, and a bare context to drive.

The native contracts never reach outside their namespaces; the probe is how the tests play a
contract that tries to."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from execution_chain import CHAIN_ID, DictReader, default_config

from causeway.crypto import get_profile
from causeway.execution.context import ConfigView, MemberView, TransactionContext
from causeway.execution.contracts import CONTRACTS, Contract, Method
from causeway.execution.keys import StateGrant
from causeway.execution.overlay import BlockOverlay
from causeway.types.v1 import types_pb2

PROBE = "probe"
PROBE_NAMESPACE = b"probe/"

Body = Callable[[TransactionContext], bytes | None]


def register_probe(
    monkeypatch: pytest.MonkeyPatch,
    body: Body,
    *,
    grants: Sequence[StateGrant] = (),
    namespace: bytes = PROBE_NAMESPACE,
) -> None:
    """Registers contract `probe` with one method, `run`, that calls body(context)."""

    def run(context: TransactionContext, arguments: bytes) -> bytes:
        return body(context) or b""

    contract = Contract(
        name=PROBE, methods={"run": Method(run)}, namespace=namespace, grants=tuple(grants)
    )
    monkeypatch.setitem(CONTRACTS, PROBE, contract)


_MEMBER = MemberView(
    types_pb2.Member(
        id="org1/alice", organisation="org1", name="alice", roles=[types_pb2.ROLE_CLIENT]
    )
)


def bare_context(
    state: dict[bytes, bytes],
    *,
    grants: Sequence[StateGrant] = (),
    namespace: bytes = PROBE_NAMESPACE,
) -> TransactionContext:
    """A context for contract `probe` over `state`, without a chain around it."""
    config = default_config()
    return TransactionContext(
        BlockOverlay(DictReader(state)),
        contract=PROBE,
        namespace=namespace,
        grants=grants,
        chain_id=CHAIN_ID,
        profile=get_profile("intl"),
        consensus="solo",
        config=ConfigView(
            config=config,
            transaction_bytes_max=config.transaction_bytes_max,
            transaction_expiry_max_ms=config.transaction_expiry_max_ms,
            endorsements_max=config.endorsements_max,
            transaction_gas_max=config.transaction_gas_max,
            block_gas_max=config.block_gas_max,
        ),
        organisations=lambda: ("org1", "org2"),
        sender=_MEMBER,
        signing_organisations=frozenset(),
        height=1,
        time_ms=0,
    )
