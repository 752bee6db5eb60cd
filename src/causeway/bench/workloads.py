"""Workload generators: what transactions a benchmark sends, by name.

A workload produces plain calls (contract, method, encoded arguments); signing and sending are the
harness's business. Generators take a seeded `random.Random`, so a run can be repeated exactly.
New workloads join with `register_workload`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from causeway.bench.contract_modules import load_module
from causeway.contracts.v1 import contracts_pb2
from causeway.errors import ConfigurationError
from causeway.types import encode
from causeway.types.interface import ContractInterface, Field, encode_fields, parse_interface

RECIPIENT_ACCOUNTS_DEFAULT = 10_000
KV_VALUE_BYTES_DEFAULT = 100
TRANSFER_AMOUNT_DEFAULT = 1


@dataclass(frozen=True, slots=True)
class Call:
    """One contract call, before it is signed into a transaction."""

    contract: str
    method: str
    arguments: bytes


@dataclass(frozen=True, slots=True)
class WorkloadOptions:
    """Knobs shared by the built-in workloads; a workload ignores those it has no use for."""

    transactions: int
    run_id: str = "run"
    recipient_accounts: int = RECIPIENT_ACCOUNTS_DEFAULT
    value_bytes: int = KV_VALUE_BYTES_DEFAULT
    transfer_amount: int = TRANSFER_AMOUNT_DEFAULT
    # The language of the contract the wasm workloads deploy.
    contract_language: str = "assemblyscript"


class Workload(Protocol):
    """A named benchmark workload."""

    @property
    def name(self) -> str: ...

    @property
    def needs_issuer(self) -> bool:
        """Whether setup_calls must be signed by an ADMIN member (with endorsements per policy)."""
        ...

    def setup_calls(self, sender: str) -> list[Call]:
        """Calls committed before the measured run, e.g. funding the sender's account."""
        ...

    def calls(self, count: int, sender: str, rng: random.Random) -> list[Call]:
        """The measured calls, all sent by member `sender`."""
        ...


class KvPutWorkload:
    """kv.put of a fresh key per transaction, each with a random value of `value_bytes`."""

    name = "kv-put"
    needs_issuer = False

    def __init__(self, options: WorkloadOptions) -> None:
        if not 0 <= options.value_bytes <= 65_536:
            raise ConfigurationError(
                f"kv-put value size must be 0 to 65536 bytes, not {options.value_bytes}"
            )
        self._options = options

    def setup_calls(self, sender: str) -> list[Call]:
        return []

    def calls(self, count: int, sender: str, rng: random.Random) -> list[Call]:
        prefix = f"bench/{self._options.run_id}/"
        value_bytes = self._options.value_bytes
        return [
            Call(
                "kv",
                "put",
                encode(
                    contracts_pb2.KvPutArguments(
                        key=f"{prefix}{index:010d}".encode(), value=rng.randbytes(value_bytes)
                    )
                ),
            )
            for index in range(count)
        ]


def recipient_account(index: int) -> str:
    return f"account-{index:05d}"


class LedgerTransferWorkload:
    """ledger.transfer of `transfer_amount` from the sender to a random one of
    `recipient_accounts` accounts; setup issues the sender enough for every transfer."""

    name = "ledger-transfer"
    needs_issuer = True

    def __init__(self, options: WorkloadOptions) -> None:
        if options.recipient_accounts < 1:
            raise ConfigurationError("ledger-transfer needs at least one recipient account")
        if options.transfer_amount < 1:
            raise ConfigurationError("ledger-transfer amount must be positive")
        self._options = options

    def setup_calls(self, sender: str) -> list[Call]:
        total = self._options.transactions * self._options.transfer_amount
        return [
            Call(
                "ledger",
                "issue",
                encode(contracts_pb2.LedgerIssueArguments(account=sender, amount=total)),
            )
        ]

    def calls(self, count: int, sender: str, rng: random.Random) -> list[Call]:
        accounts = self._options.recipient_accounts
        amount = self._options.transfer_amount
        return [
            Call(
                "ledger",
                "transfer",
                encode(
                    contracts_pb2.LedgerTransferArguments(
                        to=recipient_account(rng.randrange(accounts)), amount=amount
                    )
                ),
            )
            for _ in range(count)
        ]


def _fields(interface: ContractInterface, method: str) -> tuple[Field, ...]:
    return interface.method(method).arguments


class WasmTransferWorkload:
    """transfer on the token template (a user contract, in `contract_language`) of
    `transfer_amount` from the sender to a random one of `recipient_accounts` accounts. Setup
    deploys the token under a name of its own (its init mints the supply to the deploying
    admin) and moves enough to the sender for every transfer: the same work as
    ledger-transfer, done by WebAssembly."""

    name = "wasm-transfer"
    needs_issuer = True

    def __init__(self, options: WorkloadOptions) -> None:
        if options.recipient_accounts < 1:
            raise ConfigurationError("wasm-transfer needs at least one recipient account")
        if options.transfer_amount < 1:
            raise ConfigurationError("wasm-transfer amount must be positive")
        self._options = options
        self._module = load_module("token", options.contract_language)
        self._interface = parse_interface(self._module.interface_json)
        self.contract = f"bench-token-{options.run_id}".lower()

    def setup_calls(self, sender: str) -> list[Call]:
        supply = self._options.transactions * self._options.transfer_amount
        init = encode_fields(_fields(self._interface, "init"), {"supply": supply})
        deploy = contracts_pb2.CodeDeployArguments(
            name=self.contract,
            code=self._module.code,
            interface_json=self._module.interface_json,
            init_input=init,
        )
        fund = encode_fields(_fields(self._interface, "transfer"), {"to": sender, "amount": supply})
        return [Call("code", "deploy", encode(deploy)), Call(self.contract, "transfer", fund)]

    def calls(self, count: int, sender: str, rng: random.Random) -> list[Call]:
        fields = _fields(self._interface, "transfer")
        accounts = self._options.recipient_accounts
        amount = self._options.transfer_amount
        return [
            Call(
                self.contract,
                "transfer",
                encode_fields(
                    fields, {"to": recipient_account(rng.randrange(accounts)), "amount": amount}
                ),
            )
            for _ in range(count)
        ]


class WasmKvWorkload:
    """register on the registry template (a user contract in AssemblyScript): a fresh name per
    transaction with a random value of `value_bytes` characters, the kv-put of user contracts.
    Setup deploys the registry under a name of its own."""

    name = "wasm-kv"
    needs_issuer = True
    VALUE_BYTES_MAX = 4_096

    def __init__(self, options: WorkloadOptions) -> None:
        if not 0 <= options.value_bytes <= self.VALUE_BYTES_MAX:
            raise ConfigurationError(
                f"wasm-kv value size must be 0 to {self.VALUE_BYTES_MAX} bytes, not "
                f"{options.value_bytes}"
            )
        self._options = options
        self._module = load_module("registry", "assemblyscript")
        self._interface = parse_interface(self._module.interface_json)
        self.contract = f"bench-registry-{options.run_id}".lower()

    def setup_calls(self, sender: str) -> list[Call]:
        deploy = contracts_pb2.CodeDeployArguments(
            name=self.contract,
            code=self._module.code,
            interface_json=self._module.interface_json,
        )
        return [Call("code", "deploy", encode(deploy))]

    def calls(self, count: int, sender: str, rng: random.Random) -> list[Call]:
        fields = _fields(self._interface, "register")
        letters = "abcdefghijklmnopqrstuvwxyz"
        size = self._options.value_bytes
        prefix = f"{self._options.run_id}-{rng.randrange(1 << 32):08x}"
        return [
            Call(
                self.contract,
                "register",
                encode_fields(
                    fields,
                    {
                        "name": f"{prefix}-{index}",
                        "value": "".join(rng.choice(letters) for _ in range(size)),
                    },
                ),
            )
            for index in range(count)
        ]


WorkloadFactory = Callable[[WorkloadOptions], Workload]

_WORKLOADS: dict[str, WorkloadFactory] = {
    KvPutWorkload.name: KvPutWorkload,
    LedgerTransferWorkload.name: LedgerTransferWorkload,
    WasmTransferWorkload.name: WasmTransferWorkload,
    WasmKvWorkload.name: WasmKvWorkload,
}


def register_workload(name: str, factory: WorkloadFactory) -> None:
    """Adds a workload under `name` (ConfigurationError if the name is taken)."""
    if name in _WORKLOADS:
        raise ConfigurationError(f"a workload called {name!r} is already registered")
    _WORKLOADS[name] = factory


def workload_names() -> list[str]:
    return sorted(_WORKLOADS)


def create_workload(name: str, options: WorkloadOptions) -> Workload:
    """The workload called `name`; ConfigurationError naming the known ones otherwise."""
    factory = _WORKLOADS.get(name)
    if factory is None:
        raise ConfigurationError(
            f"unknown workload {name!r}; choose one of {', '.join(workload_names())}"
        )
    return factory(options)
