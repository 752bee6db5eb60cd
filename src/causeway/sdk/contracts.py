"""User contracts from the SDK: their lifecycle, their records, and calls through their interface,
over a ``Client`` (``Contracts``, as ``client.contracts``) or an ``AsyncClient``
(``AsyncContracts``, as ``client.contracts``; the same names, awaited).

**Lifecycle.** ``deploy``, ``upgrade``, ``freeze``, ``unfreeze`` and ``revoke`` are transactions
to the chain's ``code`` contract, signed by the client's identity and endorsed by ``endorsers``,
as the chain's contract policy needs (ChainConfig.contract_policy, else its governance policy).
Each answers a ``ContractChange``: the contract's record after the change and where it committed.
The initial and migration arguments are a mapping encoded through the interface's ``init`` and
``migrate`` entries (docs/contract-abi.md).

**Records.** ``get_contract(name)`` reads a contract's record with its state proof (checked against
the header the node answers with; no identity needed) and parses its interface;
``list_contracts()`` pages through the ``code`` contract's list (a signed read-only call).

**Calls.** ``contract(name)`` reads the interface from the chain once and answers a handle whose
``call`` sends a transaction and ``query`` runs a method read-only; both encode the arguments
through the interface (protobuf wire, fields by position: causeway.types.interface) and decode
what comes back: the return values as a dict, and the contract's events by their interface entry.
An unknown method or an argument the interface does not have, or of the wrong type, is a
RequestError naming it, raised before anything is sent.

A transaction that commits with a failed status (a revert, a trap, a frozen or revoked contract,
endorsements that do not satisfy the policy) raises ``TransactionFailedError`` with the status and
the contract's message; its ``result`` holds the whole result. A query that fails raises it too
(nothing was committed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from google.protobuf.message import Message

from causeway.api.v1 import api_pb2
from causeway.contracts.v1 import contracts_pb2
from causeway.errors import (
    CausewayError,
    ConfigurationError,
    DecodeError,
    NotFoundError,
    RequestError,
    TransactionFailedError,
)
from causeway.sdk.identity import Identity
from causeway.sdk.transactions import BAD_RESPONSE_REASON, EXPIRY_S_DEFAULT, SubmitResult
from causeway.types import build_transaction, decode
from causeway.types.interface import (
    ContractInterface,
    Field,
    MethodInterface,
    decode_fields,
    encode_fields,
    parse_interface,
)
from causeway.types.v1 import types_pb2

CODE_CONTRACT = "code"
INIT_ENTRY = "init"
MIGRATE_ENTRY = "migrate"
# One page of code.list (the contract's own maximum is 500), and a bound on the pages read for
# "every contract" (100 000 contracts).
LIST_PAGE_MAX = 100
LIST_PAGES_MAX = 1_000
# A record holds an interface of at most 64 KiB and up to 256 method names: far below this.
RECORD_BYTES_MAX = 1 << 20
# A page of list results: at most what the client accepts in one message.
LIST_RESULT_BYTES_MAX = 64 * 1024 * 1024
TIMEOUT_S_DEFAULT = 30.0

STATUS_NAMES: Mapping[int, str] = {
    contracts_pb2.CONTRACT_STATUS_ACTIVE: "active",
    contracts_pb2.CONTRACT_STATUS_FROZEN: "frozen",
    contracts_pb2.CONTRACT_STATUS_REVOKED: "revoked",
}


class ContractNode(Protocol):
    """What the contract operations use of a ``Client``: declared here so that the dependency
    runs one way (the client imports this module on first use, never the reverse)."""

    identity: Identity | None

    def chain_id(self) -> str: ...

    def get_state(
        self, key: bytes, height: int = 0, *, verify: bool = True
    ) -> api_pb2.GetStateResponse: ...

    def evaluate(
        self, contract: str, method: str, arguments: Message | bytes
    ) -> types_pb2.TransactionResult: ...

    def submit(
        self, transaction: types_pb2.Transaction, *, wait: bool = True, timeout_s: float = ...
    ) -> SubmitResult: ...


class AsyncContractNode(Protocol):
    """``ContractNode`` of an ``AsyncClient``: the same calls, awaited."""

    identity: Identity | None

    async def chain_id(self) -> str: ...

    async def get_state(
        self, key: bytes, height: int = 0, *, verify: bool = True
    ) -> api_pb2.GetStateResponse: ...

    async def evaluate(
        self, contract: str, method: str, arguments: Message | bytes
    ) -> types_pb2.TransactionResult: ...

    async def submit(
        self, transaction: types_pb2.Transaction, *, wait: bool = True, timeout_s: float = ...
    ) -> SubmitResult: ...


# ------------------------------------------------------------------------------ results


@dataclass(frozen=True, slots=True)
class ContractInfo:
    """A user contract's record on the chain and its parsed interface.

    Example:

        info = client.contracts.get_contract("tally")
        print(info.name, info.version, info.status, info.code_hash.hex())
    """

    record: contracts_pb2.ContractRecord
    interface: ContractInterface

    @property
    def name(self) -> str:
        """The contract's name.

        Example:

            print(client.contracts.get_contract("tally").name)
        """
        return self.record.name

    @property
    def version(self) -> int:
        """Its version: 1 once deployed, one more with each upgrade.

        Example:

            print(client.contracts.get_contract("tally").version)
        """
        return self.record.version

    @property
    def status(self) -> str:
        """``active``, ``frozen`` or ``revoked``.

        Example:

            frozen = client.contracts.get_contract("tally").status == "frozen"
        """
        return STATUS_NAMES.get(self.record.status, str(self.record.status))

    @property
    def code_hash(self) -> bytes:
        """The hash of its current code.

        Example:

            print(client.contracts.get_contract("tally").code_hash.hex())
        """
        return bytes(self.record.code_hash)


@dataclass(frozen=True, slots=True)
class ContractChange:
    """What a deploy, upgrade, freeze, unfreeze or revoke did: the record after it, and the
    transaction that made it.

    Example:

        change = client.contracts.freeze("tally")
        print(change.contract.status, change.height, change.transaction_id.hex())
    """

    contract: ContractInfo
    transaction_id: bytes
    height: int
    result: types_pb2.TransactionResult


@dataclass(frozen=True, slots=True)
class ContractEvent:
    """An event of a call. ``values`` holds its fields decoded by the interface of the contract
    that emitted it; None when that contract's interface has no such event (or it is another
    contract's event). ``attributes`` are native contracts' (user contracts' events have none).

    Example:

        result = client.contracts.contract("tally").call(None, "add", amount=5)
        for event in result.events:
            print(event.contract, event.name, event.values)
    """

    contract: str
    name: str
    values: dict[str, object] | None
    data: bytes
    attributes: dict[str, str]


@dataclass(frozen=True, slots=True)
class CallResult:
    """A successful call: its decoded return values (``result["total"]`` reads one), its events,
    the raw result, and for a transaction its id and height (0 and empty for a query).

    Example:

        result = client.contracts.contract("tally").call(None, "add", amount=5)
        print(result["total"], result.height, result.transaction_id.hex())
    """

    values: dict[str, object]
    events: tuple[ContractEvent, ...]
    result: types_pb2.TransactionResult
    transaction_id: bytes = b""
    height: int = 0

    def __getitem__(self, name: str) -> object:
        return self.values[name]


# ------------------------------------------------------------------------------ pure helpers


def as_interface(interface: str | bytes | ContractInterface) -> ContractInterface:
    """The interface given as text (an interface file's contents) or parsed already."""
    if isinstance(interface, ContractInterface):
        return interface
    return parse_interface(interface)


def contract_info(record: contracts_pb2.ContractRecord) -> ContractInfo:
    """A record with its interface parsed; a record whose interface does not parse is a broken
    answer (the chain checked it at deployment)."""
    try:
        interface = parse_interface(record.interface_json)
    except RequestError as error:
        raise CausewayError(
            f"the chain's record of {record.name} holds an interface that does not parse: "
            f"{error.message}",
            reason=BAD_RESPONSE_REASON,
        ) from None
    return ContractInfo(record, interface)


def decode_record(data: bytes) -> ContractInfo:
    return contract_info(decode(contracts_pb2.ContractRecord, data, bytes_max=RECORD_BYTES_MAX))


def _encoded(fields: Sequence[Field], arguments: Mapping[str, object], what: str) -> bytes:
    try:
        return encode_fields(fields, arguments)
    except RequestError as error:
        raise RequestError(f"{what}: {error.message}", reason="invalid_argument") from None


def encode_call(
    contract: str, interface: ContractInterface, method: str, arguments: Mapping[str, object]
) -> bytes:
    """The input of ``contract.method``: ``arguments`` by name, encoded as the interface says
    (a missing one is its default). RequestError naming an unknown method, an unknown argument
    or a value of the wrong type."""
    entry = callable_method(contract, interface, method)
    return _encoded(entry.arguments, arguments, f"{contract}.{method}")


def callable_method(contract: str, interface: ContractInterface, method: str) -> MethodInterface:
    """The interface's entry of a method a transaction or a query may call; RequestError
    naming the method otherwise (init and migrate run only at deployment and upgrade)."""
    if method in (INIT_ENTRY, MIGRATE_ENTRY):
        raise RequestError(
            f"{contract}.{method} runs only at deployment or upgrade; a transaction cannot call it",
            reason="unknown_method",
        )
    if method not in interface.methods:
        known = ", ".join(sorted(set(interface.methods) - {INIT_ENTRY, MIGRATE_ENTRY})) or "none"
        raise RequestError(
            f"contract {contract} has no method {method!r} in its interface (it has {known})",
            reason="unknown_method",
        )
    return interface.methods[method]


def entry_input(
    interface: ContractInterface, entry: str, arguments: Mapping[str, object] | None
) -> bytes:
    """The input of the ``init`` or ``migrate`` entry: its arguments encoded as the interface's
    entry of that name lists them; empty when the interface has none (and then arguments are a
    mistake)."""
    method = interface.methods.get(entry)
    if method is None:
        if arguments:
            raise RequestError(
                f"the interface of {interface.name} has no {entry} entry, so {entry} arguments "
                "cannot be given",
                reason="invalid_argument",
            )
        return b""
    return _encoded(method.arguments, arguments or {}, f"{interface.name}.{entry}")


def decode_return_values(
    interface: ContractInterface, method: str, data: bytes
) -> dict[str, object]:
    """The return values of ``method`` from a result's bytes."""
    entry = interface.methods.get(method)
    if entry is None:
        return {}
    try:
        return decode_fields(entry.returns, data)
    except DecodeError as error:
        raise CausewayError(
            f"the return value of {method} does not decode by the interface: {error.message}",
            reason=BAD_RESPONSE_REASON,
        ) from None


def decode_event(
    contract: str, interface: ContractInterface, event: types_pb2.Event
) -> ContractEvent:
    """An event, its data decoded when ``contract`` (whose interface this is) emitted it and the
    interface lists it."""
    values: dict[str, object] | None = None
    entry = interface.events.get(event.name) if event.contract == contract else None
    if entry is not None:
        try:
            values = decode_fields(entry.fields, event.data)
        except DecodeError:
            values = None
    return ContractEvent(
        contract=event.contract,
        name=event.name,
        values=values,
        data=bytes(event.data),
        attributes={attribute.key: attribute.value for attribute in event.attributes},
    )


def decode_events(
    contract: str, interface: ContractInterface, events: Sequence[types_pb2.Event]
) -> tuple[ContractEvent, ...]:
    return tuple(decode_event(contract, interface, event) for event in events)


def status_text(status: int) -> str:
    try:
        return types_pb2.ResultStatus.Name(status)  # type: ignore[arg-type]
    except ValueError:
        return str(status)


def succeeded(result: types_pb2.TransactionResult, contract: str, method: str) -> None:
    """TransactionFailedError with the status and the contract's message unless OK."""
    if result.status != types_pb2.RESULT_STATUS_OK:
        raise TransactionFailedError(
            f"{contract}.{method} failed ({status_text(result.status)}): {result.error}",
            result=result,
        )


def committed(outcome: SubmitResult, contract: str, method: str, timeout_s: float) -> None:
    """The submitted transaction committed and succeeded; a clear error otherwise."""
    if not outcome.committed or outcome.result is None:
        raise RequestError(
            f"{contract}.{method} transaction {outcome.transaction_id.hex()} was accepted but "
            f"not committed within {timeout_s:g} s",
            reason="timeout",
        )
    succeeded(outcome.result, contract, method)


def deploy_arguments(
    name: str,
    code: bytes,
    interface: ContractInterface,
    init_arguments: Mapping[str, object] | None,
) -> contracts_pb2.CodeDeployArguments:
    return contracts_pb2.CodeDeployArguments(
        name=name,
        code=code,
        interface_json=interface.canonical_json(),
        init_input=entry_input(interface, INIT_ENTRY, init_arguments),
    )


def upgrade_arguments(
    name: str,
    code: bytes,
    interface: ContractInterface,
    migrate_arguments: Mapping[str, object] | None,
) -> contracts_pb2.CodeUpgradeArguments:
    return contracts_pb2.CodeUpgradeArguments(
        name=name,
        code=code,
        interface_json=interface.canonical_json(),
        migrate_input=entry_input(interface, MIGRATE_ENTRY, migrate_arguments),
    )


def change_of(outcome: SubmitResult, method: str, timeout_s: float) -> ContractChange:
    committed(outcome, CODE_CONTRACT, method, timeout_s)
    assert outcome.result is not None  # committed() checked it
    return ContractChange(
        contract=decode_record(outcome.result.return_value),
        transaction_id=outcome.transaction_id,
        height=outcome.height,
        result=outcome.result,
    )


def record_key(name: str) -> bytes:
    """The state key of a user contract's record. causeway.execution is imported here, on
    first use, so that importing the SDK does not load the node's execution."""
    from causeway.execution.keys import code_record_key  # noqa: PLC0415

    return code_record_key(name)


def found_record(response: api_pb2.GetStateResponse, name: str, chain_id: str) -> ContractInfo:
    if not response.found:
        raise NotFoundError(f"there is no user contract {name!r} on chain {chain_id}")
    return decode_record(response.value)


def list_page(
    result: types_pb2.TransactionResult,
) -> contracts_pb2.CodeListResult:
    succeeded(result, CODE_CONTRACT, "list")
    return decode(
        contracts_pb2.CodeListResult, result.return_value, bytes_max=LIST_RESULT_BYTES_MAX
    )


def check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise RequestError(f"limit must be positive, not {limit}", reason="invalid_argument")


def page_size(limit: int | None, found: int) -> int:
    return LIST_PAGE_MAX if limit is None else min(LIST_PAGE_MAX, limit - found)


def signer(node: ContractNode | AsyncContractNode, identity: Identity | None) -> Identity:
    chosen = identity if identity is not None else node.identity
    if chosen is None:
        raise ConfigurationError("no identity to sign the transaction with")
    return chosen


# ------------------------------------------------------------------------------ sync


class ContractHandle:
    """One user contract, called through its interface (read once from the chain).

    Example:

        tally = client.contracts.contract("tally")
        tally.call(None, "add", amount=5)
        print(tally.query("total")["total"])
    """

    def __init__(self, node: ContractNode, info: ContractInfo) -> None:
        self._node = node
        self.info = info

    @property
    def name(self) -> str:
        """The contract's name.

        Example:

            print(tally.name)
        """
        return self.info.name

    @property
    def interface(self) -> ContractInterface:
        """Its interface as the chain holds it: methods and events with their fields.

        Example:

            print(sorted(tally.interface.methods))
        """
        return self.info.interface

    def encode(self, method: str, arguments: Mapping[str, object]) -> bytes:
        """The encoded input of ``method`` with ``arguments``, by the interface (what a
        transaction calling it carries); RequestError when they do not fit it.

        Example:

            transaction = client.transaction("tally", "add", tally.encode("add", {"amount": 5}))
        """
        return encode_call(self.name, self.interface, method, arguments)

    def decode_event(self, event: types_pb2.Event) -> ContractEvent:
        """An event decoded by the interface (``values``: None when it is not one of its
        events).

        Example:

            for record in client.follow_events(MemoryCheckpoint(), "tally", "added"):
                print(tally.decode_event(record.event).values)
        """
        return decode_event(self.name, self.interface, event)

    def call(self, identity: Identity | None, method: str, /, **arguments: object) -> CallResult:
        """A transaction calling ``method`` with ``arguments``, signed by ``identity`` (None:
        the client's), waited for; its return values and events, decoded.

        Example:

            result = tally.call(None, "add", amount=5)
            print(result["total"], [event.name for event in result.events])
        """
        return self.invoke(method, arguments, identity=identity)

    def invoke(
        self,
        method: str,
        arguments: Mapping[str, object] | None = None,
        *,
        identity: Identity | None = None,
        endorsers: Sequence[Identity] = (),
        expiry_s: float = EXPIRY_S_DEFAULT,
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> CallResult:
        """``call`` with every option: arguments as a mapping, endorsers, expiry, timeout.

        Example:

            result = tally.invoke("add", {"amount": 5}, expiry_s=30, timeout_s=10)
        """
        data = self.encode(method, arguments or {})
        transaction = build_transaction(
            signer(self._node, identity),
            self._node.chain_id(),
            self.name,
            method,
            data,
            expiry_s=expiry_s,
            endorsers=endorsers,
        )
        outcome = self._node.submit(transaction, wait=True, timeout_s=timeout_s)
        committed(outcome, self.name, method, timeout_s)
        assert outcome.result is not None
        return self._result(method, outcome.result, outcome.transaction_id, outcome.height)

    def query(self, method: str, /, **arguments: object) -> CallResult:
        """Runs ``method`` read-only against the latest state (signed by the client's
        identity); nothing is committed.

        Example:

            print(tally.query("total")["total"])
        """
        result = self._node.evaluate(self.name, method, self.encode(method, arguments))
        return self._result(method, result, b"", 0)

    def _result(
        self, method: str, result: types_pb2.TransactionResult, transaction_id: bytes, height: int
    ) -> CallResult:
        succeeded(result, self.name, method)
        return CallResult(
            values=decode_return_values(self.interface, method, result.return_value),
            events=decode_events(self.name, self.interface, result.events),
            result=result,
            transaction_id=transaction_id,
            height=height,
        )


class Contracts:
    """The user-contract operations of one ``Client`` (``client.contracts``).

    Example:

        code = Path("build/tally.wasm").read_bytes()
        interface = Path("build/tally.interface.json").read_text()
        client.contracts.deploy("tally", code, interface, init_arguments={"start": 0})
    """

    def __init__(self, node: ContractNode) -> None:
        self._node = node

    def _governance(
        self,
        method: str,
        arguments: Message,
        endorsers: Sequence[Identity],
        timeout_s: float,
    ) -> ContractChange:
        transaction = build_transaction(
            signer(self._node, None),
            self._node.chain_id(),
            CODE_CONTRACT,
            method,
            arguments,
            endorsers=endorsers,
        )
        outcome = self._node.submit(transaction, wait=True, timeout_s=timeout_s)
        return change_of(outcome, method, timeout_s)

    def deploy(
        self,
        name: str,
        code: bytes,
        interface: str | bytes | ContractInterface,
        *,
        init_arguments: Mapping[str, object] | None = None,
        endorsers: Sequence[Identity] = (),
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> ContractChange:
        """Governance: deploys ``code`` (a WebAssembly module) as ``name`` with its interface
        (an interface file's text); ``init_arguments`` go to its ``init`` entry.

        Example:

            code = Path("build/tally.wasm").read_bytes()
            interface = Path("build/tally.interface.json").read_text()
            change = client.contracts.deploy("tally", code, interface, init_arguments={"start": 0})
        """
        arguments = deploy_arguments(name, code, as_interface(interface), init_arguments)
        return self._governance("deploy", arguments, endorsers, timeout_s)

    def upgrade(
        self,
        name: str,
        code: bytes,
        interface: str | bytes | ContractInterface,
        *,
        migrate_arguments: Mapping[str, object] | None = None,
        endorsers: Sequence[Identity] = (),
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> ContractChange:
        """Governance: replaces the code of ``name`` (its state stays; version + 1);
        ``migrate_arguments`` go to the new code's ``migrate`` entry.

        Example:

            code = Path("build/tally.wasm").read_bytes()
            interface = Path("build/tally.interface.json").read_text()
            client.contracts.upgrade("tally", code, interface, migrate_arguments={"bonus": 10})
        """
        arguments = upgrade_arguments(name, code, as_interface(interface), migrate_arguments)
        return self._governance("upgrade", arguments, endorsers, timeout_s)

    def freeze(
        self, name: str, *, endorsers: Sequence[Identity] = (), timeout_s: float = TIMEOUT_S_DEFAULT
    ) -> ContractChange:
        """Governance: every method of ``name`` fails with CONTRACT_FROZEN until unfrozen.

        Example:

            org2_admin = Identity.load("net/organisations/org2/members/admin")
            client.contracts.freeze("tally", endorsers=[org2_admin])
        """
        return self._governance(
            "freeze", contracts_pb2.CodeNameArguments(name=name), endorsers, timeout_s
        )

    def unfreeze(
        self, name: str, *, endorsers: Sequence[Identity] = (), timeout_s: float = TIMEOUT_S_DEFAULT
    ) -> ContractChange:
        """Governance: lets the methods of the frozen ``name`` run again.

        Example:

            client.contracts.unfreeze("tally")
        """
        return self._governance(
            "unfreeze", contracts_pb2.CodeNameArguments(name=name), endorsers, timeout_s
        )

    def revoke(
        self, name: str, *, endorsers: Sequence[Identity] = (), timeout_s: float = TIMEOUT_S_DEFAULT
    ) -> ContractChange:
        """Governance: ends ``name`` for good (CONTRACT_REVOKED); the name is never reused.

        Example:

            client.contracts.revoke("tally")
        """
        return self._governance(
            "revoke", contracts_pb2.CodeNameArguments(name=name), endorsers, timeout_s
        )

    def get_contract(self, name: str) -> ContractInfo:
        """The record of ``name`` and its interface, read with its proof; NotFoundError when
        the chain has no such user contract.

        Example:

            info = client.contracts.get_contract("tally")
            print(info.version, info.status)
        """
        response = self._node.get_state(record_key(name))
        return found_record(response, name, self._node.chain_id())

    def list_contracts(
        self, *, start_after: str = "", limit: int | None = None
    ) -> list[ContractInfo]:
        """User contracts in name order after ``start_after``: at most ``limit`` of them, or
        (None) every one, page by page (read-only calls).

        Example:

            for info in client.contracts.list_contracts():
                print(info.name, info.version, info.status)
        """
        check_limit(limit)
        found: list[ContractInfo] = []
        for _ in range(LIST_PAGES_MAX):
            arguments = contracts_pb2.CodeListArguments(
                start_after=start_after, limit=page_size(limit, len(found))
            )
            page = list_page(self._node.evaluate(CODE_CONTRACT, "list", arguments))
            found.extend(contract_info(record) for record in page.contracts)
            if not page.next_start_after or (limit is not None and len(found) >= limit):
                break
            start_after = page.next_start_after
        return found

    def contract(self, name: str) -> ContractHandle:
        """A handle on ``name`` that calls it through its interface (read once, now).

        Example:

            tally = client.contracts.contract("tally")
            print(tally.call(None, "add", amount=5)["total"])
        """
        return ContractHandle(self._node, self.get_contract(name))


# ------------------------------------------------------------------------------ async


class AsyncContractHandle:
    """``ContractHandle`` of an ``AsyncClient``: the same calls, awaited.

    Example:

        tally = await client.contracts.contract("tally")
        await tally.call(None, "add", amount=5)
        print((await tally.query("total"))["total"])
    """

    def __init__(self, node: AsyncContractNode, info: ContractInfo) -> None:
        self._node = node
        self.info = info

    @property
    def name(self) -> str:
        """The contract's name.

        Example:

            print(tally.name)
        """
        return self.info.name

    @property
    def interface(self) -> ContractInterface:
        """Its interface as the chain holds it: methods and events with their fields.

        Example:

            print(sorted(tally.interface.methods))
        """
        return self.info.interface

    def encode(self, method: str, arguments: Mapping[str, object]) -> bytes:
        """The encoded input of ``method`` with ``arguments``, by the interface (what a
        transaction calling it carries); RequestError when they do not fit it.

        Example:

            data = tally.encode("add", {"amount": 5})
            transaction = await client.transaction("tally", "add", data)
        """
        return encode_call(self.name, self.interface, method, arguments)

    def decode_event(self, event: types_pb2.Event) -> ContractEvent:
        """An event decoded by the interface (``values``: None when it is not one of its
        events).

        Example:

            async for record in client.follow_events(MemoryCheckpoint(), "tally", "added"):
                print(tally.decode_event(record.event).values)
        """
        return decode_event(self.name, self.interface, event)

    async def call(
        self, identity: Identity | None, method: str, /, **arguments: object
    ) -> CallResult:
        """``ContractHandle.call``, awaited.

        Example:

            result = await tally.call(None, "add", amount=5)
            print(result["total"], [event.name for event in result.events])
        """
        return await self.invoke(method, arguments, identity=identity)

    async def invoke(
        self,
        method: str,
        arguments: Mapping[str, object] | None = None,
        *,
        identity: Identity | None = None,
        endorsers: Sequence[Identity] = (),
        expiry_s: float = EXPIRY_S_DEFAULT,
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> CallResult:
        """``ContractHandle.invoke``, awaited.

        Example:

            result = await tally.invoke("add", {"amount": 5}, expiry_s=30, timeout_s=10)
        """
        data = self.encode(method, arguments or {})
        transaction = build_transaction(
            signer(self._node, identity),
            await self._node.chain_id(),
            self.name,
            method,
            data,
            expiry_s=expiry_s,
            endorsers=endorsers,
        )
        outcome = await self._node.submit(transaction, wait=True, timeout_s=timeout_s)
        committed(outcome, self.name, method, timeout_s)
        assert outcome.result is not None
        return self._result(method, outcome.result, outcome.transaction_id, outcome.height)

    async def query(self, method: str, /, **arguments: object) -> CallResult:
        """``ContractHandle.query``, awaited.

        Example:

            print((await tally.query("total"))["total"])
        """
        result = await self._node.evaluate(self.name, method, self.encode(method, arguments))
        return self._result(method, result, b"", 0)

    def _result(
        self, method: str, result: types_pb2.TransactionResult, transaction_id: bytes, height: int
    ) -> CallResult:
        succeeded(result, self.name, method)
        return CallResult(
            values=decode_return_values(self.interface, method, result.return_value),
            events=decode_events(self.name, self.interface, result.events),
            result=result,
            transaction_id=transaction_id,
            height=height,
        )


class AsyncContracts:
    """The user-contract operations of one ``AsyncClient`` (``client.contracts``).

    Example:

        code = Path("build/tally.wasm").read_bytes()
        interface = Path("build/tally.interface.json").read_text()
        await client.contracts.deploy("tally", code, interface, init_arguments={"start": 0})
    """

    def __init__(self, node: AsyncContractNode) -> None:
        self._node = node

    async def _governance(
        self,
        method: str,
        arguments: Message,
        endorsers: Sequence[Identity],
        timeout_s: float,
    ) -> ContractChange:
        transaction = build_transaction(
            signer(self._node, None),
            await self._node.chain_id(),
            CODE_CONTRACT,
            method,
            arguments,
            endorsers=endorsers,
        )
        outcome = await self._node.submit(transaction, wait=True, timeout_s=timeout_s)
        return change_of(outcome, method, timeout_s)

    async def deploy(
        self,
        name: str,
        code: bytes,
        interface: str | bytes | ContractInterface,
        *,
        init_arguments: Mapping[str, object] | None = None,
        endorsers: Sequence[Identity] = (),
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> ContractChange:
        """``Contracts.deploy``, awaited.

        Example:

            code = Path("build/tally.wasm").read_bytes()
            interface = Path("build/tally.interface.json").read_text()
            start = {"start": 0}
            change = await client.contracts.deploy("tally", code, interface, init_arguments=start)
        """
        arguments = deploy_arguments(name, code, as_interface(interface), init_arguments)
        return await self._governance("deploy", arguments, endorsers, timeout_s)

    async def upgrade(
        self,
        name: str,
        code: bytes,
        interface: str | bytes | ContractInterface,
        *,
        migrate_arguments: Mapping[str, object] | None = None,
        endorsers: Sequence[Identity] = (),
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> ContractChange:
        """``Contracts.upgrade``, awaited.

        Example:

            code = Path("build/tally.wasm").read_bytes()
            interface = Path("build/tally.interface.json").read_text()
            bonus = {"bonus": 10}
            await client.contracts.upgrade("tally", code, interface, migrate_arguments=bonus)
        """
        arguments = upgrade_arguments(name, code, as_interface(interface), migrate_arguments)
        return await self._governance("upgrade", arguments, endorsers, timeout_s)

    async def freeze(
        self, name: str, *, endorsers: Sequence[Identity] = (), timeout_s: float = TIMEOUT_S_DEFAULT
    ) -> ContractChange:
        """``Contracts.freeze``, awaited.

        Example:

            org2_admin = Identity.load("net/organisations/org2/members/admin")
            await client.contracts.freeze("tally", endorsers=[org2_admin])
        """
        return await self._governance(
            "freeze", contracts_pb2.CodeNameArguments(name=name), endorsers, timeout_s
        )

    async def unfreeze(
        self, name: str, *, endorsers: Sequence[Identity] = (), timeout_s: float = TIMEOUT_S_DEFAULT
    ) -> ContractChange:
        """Governance: lets the methods of the frozen ``name`` run again.

        Example:

            await client.contracts.unfreeze("tally")
        """
        return await self._governance(
            "unfreeze", contracts_pb2.CodeNameArguments(name=name), endorsers, timeout_s
        )

    async def revoke(
        self, name: str, *, endorsers: Sequence[Identity] = (), timeout_s: float = TIMEOUT_S_DEFAULT
    ) -> ContractChange:
        """``Contracts.revoke``, awaited.

        Example:

            await client.contracts.revoke("tally")
        """
        return await self._governance(
            "revoke", contracts_pb2.CodeNameArguments(name=name), endorsers, timeout_s
        )

    async def get_contract(self, name: str) -> ContractInfo:
        """``Contracts.get_contract``, awaited.

        Example:

            info = await client.contracts.get_contract("tally")
            print(info.version, info.status)
        """
        response = await self._node.get_state(record_key(name))
        return found_record(response, name, await self._node.chain_id())

    async def list_contracts(
        self, *, start_after: str = "", limit: int | None = None
    ) -> list[ContractInfo]:
        """``Contracts.list_contracts``, awaited.

        Example:

            for info in await client.contracts.list_contracts():
                print(info.name, info.version, info.status)
        """
        check_limit(limit)
        found: list[ContractInfo] = []
        for _ in range(LIST_PAGES_MAX):
            arguments = contracts_pb2.CodeListArguments(
                start_after=start_after, limit=page_size(limit, len(found))
            )
            page = list_page(await self._node.evaluate(CODE_CONTRACT, "list", arguments))
            found.extend(contract_info(record) for record in page.contracts)
            if not page.next_start_after or (limit is not None and len(found) >= limit):
                break
            start_after = page.next_start_after
        return found

    async def contract(self, name: str) -> AsyncContractHandle:
        """``Contracts.contract``, awaited.

        Example:

            tally = await client.contracts.contract("tally")
            print((await tally.call(None, "add", amount=5))["total"])
        """
        return AsyncContractHandle(self._node, await self.get_contract(name))
