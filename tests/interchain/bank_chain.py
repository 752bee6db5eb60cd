"""Chains that run the bank and transfer contracts, for their tests, and what the tests read back.

    driver = Driver()
    chain = bank_chain("chain-a", driver)
    driver.body = lambda context: bank.mint(context, "org1/alice", "transfer/client-0/gold", 5)
    chain.run("org1/alice", "driver", "run")     # the body runs in a real transaction

The driver is a contract of its own (namespace driver/) whose one method runs the body a test
gives it with the transaction's real context: how a test plays another native contract calling
the bank's Python API, or the packets contract calling transfer's port handler.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Callable

from interchain_chain import InterchainChain

from causeway.crypto import get_profile
from causeway.execution import CONTRACTS, Contract, Method, TransactionContext
from causeway.execution.context import ConfigView, MemberView
from causeway.execution.overlay import BlockOverlay
from causeway.interchain import bank, transfer
from causeway.interchain.keys import BALANCE_PREFIX, BANK_NAMESPACE, SUPPLY_PREFIX
from causeway.types.v1 import types_pb2

DRIVER = "driver"
DRIVER_NAMESPACE = b"driver/"

Body = Callable[[TransactionContext], object]


class Driver:
    """Contract "driver": its method "run" calls body(context)."""

    def __init__(self) -> None:
        self.body: Body | None = None
        self.contract = Contract(
            name=DRIVER, methods={"run": Method(self._run)}, namespace=DRIVER_NAMESPACE
        )

    def _run(self, context: TransactionContext, arguments: bytes) -> bytes:
        assert self.body is not None, "set driver.body before running it"
        self.body(context)
        return b""


def bank_chain(chain_id: str, driver: Driver, profile_name: str = "intl") -> InterchainChain:
    """A one-validator chain of two organisations running bank, transfer and the driver."""
    return InterchainChain(
        chain_id,
        profile_name,
        validators=1,
        organisations=2,
        contracts={
            **CONTRACTS,
            bank.CONTRACT: bank.BANK,
            transfer.CONTRACT: transfer.TRANSFER,
            DRIVER: driver.contract,
        },
    )


def status(result: types_pb2.TransactionResult) -> str:
    return types_pb2.ResultStatus.Name(result.status)


def ok(result: types_pb2.TransactionResult) -> types_pb2.TransactionResult:
    assert status(result) == "RESULT_STATUS_OK", result.error
    return result


_AMOUNT = struct.Struct(">Q")
_BALANCES = BANK_NAMESPACE + BALANCE_PREFIX
_SUPPLIES = BANK_NAMESPACE + SUPPLY_PREFIX


def balances_in(state: dict[bytes, bytes]) -> dict[tuple[str, str], int]:
    """Every stored balance, by (account, denomination), read from the raw state."""
    found: dict[tuple[str, str], int] = {}
    for key, value in state.items():
        if key.startswith(_BALANCES):
            account, separator, denom = key[len(_BALANCES) :].partition(b"\x00")
            assert separator, key
            found[account.decode(), denom.decode()] = _AMOUNT.unpack(value)[0]
    return found


def supplies_in(state: dict[bytes, bytes]) -> dict[str, int]:
    return {
        key[len(_SUPPLIES) :].decode(): _AMOUNT.unpack(value)[0]
        for key, value in state.items()
        if key.startswith(_SUPPLIES)
    }


def assert_supply_is_sum_of_balances(state: dict[bytes, bytes]) -> None:
    """Per denomination, the stored supply is the sum of the stored balances, and no zero amount
    is stored."""
    sums: Counter[str] = Counter()
    for (_, denom), amount in balances_in(state).items():
        assert amount > 0, denom
        sums[denom] += amount
    supplies = supplies_in(state)
    assert all(amount > 0 for amount in supplies.values()), supplies
    assert supplies == dict(sums)


def balance(chain: InterchainChain, account: str, denom: str) -> int:
    return balances_in(chain.state).get((account, denom), 0)


def supply(chain: InterchainChain, denom: str) -> int:
    return supplies_in(chain.state).get(denom, 0)


class _DictReader:
    def __init__(self, state: dict[bytes, bytes]) -> None:
        self.state = state

    def get(self, key: bytes) -> bytes | None:
        return self.state.get(key)

    def range(self, prefix: bytes, start_after: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        keys = sorted(key for key in self.state if key.startswith(prefix) and key > start_after)
        return [(key, self.state[key]) for key in keys[:limit]]


def bare_context(state: dict[bytes, bytes], sender: str = "org1/alice") -> TransactionContext:
    """A context of the driver over `state`, without a chain around it: what it writes stays in
    ``context.writes`` (fast enough for property tests of the Python API)."""
    organisation, _, name = sender.partition("/")
    config = types_pb2.ChainConfig(
        transaction_bytes_max=1 << 20,
        transaction_expiry_max_ms=3_600_000,
        endorsements_max=8,
        transaction_gas_max=100_000_000,
    )
    return TransactionContext(
        BlockOverlay(_DictReader(state)),
        contract=DRIVER,
        namespace=DRIVER_NAMESPACE,
        grants=(),
        chain_id="bare-chain",
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
        sender=MemberView(
            types_pb2.Member(
                id=sender, organisation=organisation, name=name, roles=[types_pb2.ROLE_CLIENT]
            )
        ),
        signing_organisations=frozenset(),
        height=1,
        time_ms=0,
    )


def apply(state: dict[bytes, bytes], context: TransactionContext) -> None:
    """Commits what a bare context wrote into `state`."""
    for key, value in context.writes.items():
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value
