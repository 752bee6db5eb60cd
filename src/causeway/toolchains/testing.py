"""A chain in one process, for the tests of a contract's author: no node, no network, no disk.

This is what ``causeway contract test`` runs a project's tests against (through the pytest
plugin ``causeway.toolchains.pytest_plugin``, whose ``chain`` fixture is a ``LocalChain``)::

    def test_transfer(chain: LocalChain, contract_module: Path) -> None:
        token = chain.deploy(contract_module, init={"supply": 1_000})   # minted to chain.admin
        alice, bob = chain.clients
        chain.call("transfer", sender=chain.admin, to=alice, amount=300).expect_ok()
        result = chain.call("transfer", sender=alice, to=bob, amount=500)
        result.expect_revert("insufficient balance")
        assert chain.query("balance", owner=alice)["amount"] == 300

It is a real chain, not a mock: the genesis is made by ``causeway.provisioning`` (what ``causeway
init`` writes) with two organisations, ``org1`` and ``org2``, each with an admin and a client
member holding real keys and certificates of the chosen crypto profile (``intl``: ECDSA P-256 and
SHA-256; ``gm``: SM2 and SM3). Every ``call`` is a signed transaction committed as a block of its
own by the chain's real ``Executor`` over an in-memory state: heights go up by one and block time
by ``block_interval_ms`` per block, from a fixed genesis time, so that a test runs the same way
every time. Deployment, upgrade, freeze, unfreeze and revocation go through the ``code`` system
contract with the endorsements its policy needs (by default the sender is ``org1/admin`` and every
other admin endorses), so a contract meets here exactly the rules, gas and limits it meets on a
node.

Arguments, return values and events are encoded and decoded with the contract's interface file
(``causeway.types.interface``: the one encoding the CLI and the SDK use). A call returns a
``CallResult`` whatever its outcome: a failed call does not raise. ``result.ok``,
``result.expect_ok()``, ``result.expect_revert(part_of_message)`` and
``result.expect_status(name)`` keep tests short; the expectations raise ``ExpectationError``
(an AssertionError, so pytest reports a failed test, with the status and the message). What the
test itself gets wrong, such as a method its interface does not list or an argument of the wrong
type, raises ``RequestError`` at once, before anything is signed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import Message

from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import get_profile
from causeway.errors import CausewayError, DecodeError, RequestError
from causeway.execution import (
    GAS_PER_TRANSACTION_BYTE,
    GAS_TRANSACTION_BASE,
    Executor,
    genesis_state,
    keys,
)
from causeway.provisioning import (
    ADMIN_NAME,
    CLIENT_NAME,
    MemberMaterial,
    build_network,
    default_chain_config,
)
from causeway.types import DecodedTransaction, decode_transaction, encode
from causeway.types.interface import (
    ContractInterface,
    Field,
    decode_fields,
    encode_fields,
    parse_interface,
)
from causeway.types.transactions import build_transaction
from causeway.types.v1 import types_pb2

__all__ = [
    "BLOCK_INTERVAL_MS",
    "GENESIS_TIME_MS",
    "LOCAL_CHAIN_ID",
    "PROFILES",
    "CallResult",
    "ContractEvent",
    "DeployedContract",
    "DeploymentError",
    "ExpectationError",
    "LocalChain",
]

PROFILES: tuple[str, ...] = ("intl", "gm")
LOCAL_CHAIN_ID = "local"
# 2026-01-01T00:00:00Z. A fixed start rather than the clock: a test sees the same heights and
# times (and so the same results) on every run.
GENESIS_TIME_MS = 1_767_225_600_000
BLOCK_INTERVAL_MS = 1_000
# How long a transaction signed here stays valid: it is committed at once, so this only has to
# be positive and within the chain's transaction_expiry_max_ms.
TRANSACTION_EXPIRY_S = 60.0
ORGANISATIONS = 2
# What decode_transaction accepts here: far above any chain's transaction_bytes_max, so that
# the executor, not this class, is the one to refuse an oversized transaction.
TRANSACTION_BYTES_MAX = 1 << 26
CODE_CONTRACT = "code"
_STATUS_PREFIX = "RESULT_STATUS_"
_OK = "OK"
_REVERTED = "CONTRACT_REVERTED"


class ExpectationError(CausewayError, AssertionError):
    """A result is not what a test expected (``CallResult.expect_ok`` and the like). An
    AssertionError, so that pytest reports a failed test rather than a broken one."""

    reason = "unexpected_result"


class DeploymentError(ExpectationError):
    """``LocalChain.deploy`` was refused (a bad module, an interface that does not match it, an
    ``init`` that reverted, ...); ``result`` is the deployment's result."""

    def __init__(self, message: str, result: CallResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True, slots=True)
class ContractEvent:
    """An event of a successful transaction. ``fields``: its data decoded by the emitting
    contract's interface (empty for an event the interface does not list, and for the native
    contracts' events, which carry ``attributes`` instead)."""

    contract: str
    name: str
    fields: Mapping[str, object]
    attributes: Mapping[str, str]
    data: bytes

    def __getitem__(self, field_name: str) -> object:
        return _lookup(self.fields, field_name, f"event {self.contract}.{self.name}")


@dataclass(frozen=True, slots=True)
class CallResult:
    """What a call, a query or a lifecycle transaction did.

    ``status``: the result status without its prefix (``"OK"``, ``"CONTRACT_REVERTED"``,
    ``"OUT_OF_GAS"``, ``"CONTRACT_FROZEN"``, ...; proto/causeway/types/v1/types.proto).
    ``values``: the return values decoded by the method's interface (``result["name"]`` reads
    one); empty when the call failed. ``error``: the chain's message when it failed.
    ``gas_used``: everything the transaction was charged. ``execution_gas``: the part beyond the
    transaction's own price (its base and its encoded bytes, which vary with the signature's
    length): what the contract's work cost, the same on every run and on both crypto profiles
    unless the contract hashes or verifies signatures. ``height``: the block the transaction was
    committed in (for a query, the height whose state it read)."""

    contract: str
    method: str
    status: str
    values: Mapping[str, object]
    events: tuple[ContractEvent, ...]
    gas_used: int
    execution_gas: int
    error: str
    return_data: bytes
    height: int
    transaction_id: bytes

    @property
    def ok(self) -> bool:
        return self.status == _OK

    @property
    def revert_message(self) -> str | None:
        """The contract's own revert message (the error without the ``contract.method: ``
        the chain puts before it); None unless the call reverted."""
        if self.status != _REVERTED:
            return None
        return self.error.removeprefix(f"{self.contract}.{self.method}: ")

    def __getitem__(self, name: str) -> object:
        return _lookup(self.values, name, f"the result of {self.contract}.{self.method}")

    def events_named(self, name: str) -> list[ContractEvent]:
        return [event for event in self.events if event.name == name]

    def expect_ok(self) -> CallResult:
        """This result, if the call succeeded; ExpectationError with its status and message
        otherwise."""
        if not self.ok:
            raise ExpectationError(self._describe("expected OK"))
        return self

    def expect_status(self, status: str) -> CallResult:
        """This result, if its status is ``status`` (with or without ``RESULT_STATUS_``)."""
        expected = status.removeprefix(_STATUS_PREFIX)
        if expected not in _STATUS_NAMES:
            raise RequestError(
                f"unknown result status {status!r}: one of {', '.join(sorted(_STATUS_NAMES))}"
            )
        if self.status != expected:
            raise ExpectationError(self._describe(f"expected {expected}"))
        return self

    def expect_revert(self, message_part: str = "") -> CallResult:
        """This result, if the contract reverted with a message containing ``message_part``."""
        self.expect_status(_REVERTED)
        if message_part not in self.error:
            raise ExpectationError(
                f"{self.contract}.{self.method} reverted with {self.revert_message!r}, which "
                f"does not contain {message_part!r}"
            )
        return self

    def _describe(self, expectation: str) -> str:
        outcome = self.status if self.ok else f"{self.status}: {self.error}"
        return f"{expectation}, but {self.contract}.{self.method} ended {outcome}"


_STATUS_NAMES = frozenset(
    name.removeprefix(_STATUS_PREFIX) for name, _ in types_pb2.ResultStatus.items()
)


def _lookup(values: Mapping[str, object], name: str, what: str) -> object:
    try:
        return values[name]
    except KeyError:
        known = ", ".join(values) or "none"
        raise KeyError(f"{what} has no value {name!r} (it has {known})") from None


@dataclass(frozen=True, slots=True)
class DeployedContract:
    """A contract deployed on a LocalChain: its name and interface, the result of its
    deployment, and calls to it."""

    chain: LocalChain
    name: str
    interface: ContractInterface
    # The deployment's result (its events: those of the code contract and of init).
    deployment: CallResult | None = None

    def call(
        self,
        method: str,
        /,
        *,
        sender: str | None = None,
        arguments: Mapping[str, object] | None = None,
        **values: object,
    ) -> CallResult:
        return self.chain.call(
            method, contract=self.name, sender=sender, arguments=arguments, **values
        )

    def query(
        self,
        method: str,
        /,
        *,
        sender: str | None = None,
        arguments: Mapping[str, object] | None = None,
        **values: object,
    ) -> CallResult:
        return self.chain.query(
            method, contract=self.name, sender=sender, arguments=arguments, **values
        )

    def state(self) -> dict[bytes, bytes]:
        return self.chain.contract_state(self.name)


class _DictReader:
    """The committed state, a dict, as the executor's StateReader."""

    def __init__(self, state: dict[bytes, bytes]) -> None:
        self._state = state

    def get(self, key: bytes) -> bytes | None:
        return self._state.get(key)

    def range(self, prefix: bytes, start_after: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        found = sorted(key for key in self._state if key.startswith(prefix) and key > start_after)
        return [(key, self._state[key]) for key in found[:limit]]


class LocalChain:
    """A real chain in this process (see the module's docstring).

    ``profile``: ``"intl"`` or ``"gm"``. ``transaction_gas_max``: the chain's gas limit per
    transaction (the provisioning default when None). Members: ``admin`` (org1/admin, who
    deploys by default and so is the caller of ``init``), ``client`` (org1/client, who calls by
    default), ``clients`` (org1/client, org2/client), ``admins`` and ``members`` (every member
    that may send); their ids are what a contract sees as its caller, and what tests pass as
    arguments."""

    def __init__(
        self,
        profile: str = "intl",
        *,
        transaction_gas_max: int | None = None,
        genesis_time_ms: int = GENESIS_TIME_MS,
        block_interval_ms: int = BLOCK_INTERVAL_MS,
        chain_id: str = LOCAL_CHAIN_ID,
    ) -> None:
        if profile not in PROFILES:
            raise RequestError(f"unknown crypto profile {profile!r}: one of {', '.join(PROFILES)}")
        if block_interval_ms <= 0:
            raise RequestError(f"block_interval_ms must be positive, not {block_interval_ms}")
        config = default_chain_config()
        if transaction_gas_max is not None:
            if transaction_gas_max <= 0:
                raise RequestError(
                    f"transaction_gas_max must be positive, not {transaction_gas_max}"
                )
            config.transaction_gas_max = transaction_gas_max
        network = build_network(
            ORGANISATIONS,
            profile,
            "solo",
            now_ms=genesis_time_ms,
            chain_id=chain_id,
            config=config,
        )
        self.profile = profile
        self.chain_id = network.chain_id
        self.genesis = network.genesis
        self.block_interval_ms = block_interval_ms
        self.height = 0
        self.time_ms = genesis_time_ms
        self._executor = Executor(network.genesis, get_profile(profile))
        self._state = genesis_state(network.genesis)
        self._identities: dict[str, MemberMaterial] = {
            member.member_id: member
            for member in network.members
            if member.name in (ADMIN_NAME, CLIENT_NAME)
        }
        self._contracts: dict[str, DeployedContract] = {}
        self._last_deployed: str | None = None
        self.admins: tuple[str, ...] = tuple(
            member_id for member_id, member in self._identities.items() if member.name == ADMIN_NAME
        )
        self.clients: tuple[str, ...] = tuple(
            member_id
            for member_id, member in self._identities.items()
            if member.name == CLIENT_NAME
        )
        self.members: tuple[str, ...] = tuple(self._identities)
        self.admin = self.admins[0]
        self.client = self.clients[0]

    # -- contracts ----------------------------------------------------------------------------

    @property
    def contracts(self) -> Mapping[str, DeployedContract]:
        """The contracts deployed through this object, by name."""
        return dict(self._contracts)

    def contract(self, name: str | None = None) -> DeployedContract:
        """The deployed contract of this name; the last one deployed when None."""
        chosen = name if name is not None else self._last_deployed
        if chosen is None:
            raise RequestError("no contract is deployed on this chain yet: deploy one first")
        try:
            return self._contracts[chosen]
        except KeyError:
            known = ", ".join(self._contracts) or "none"
            raise RequestError(
                f"no contract {chosen!r} was deployed on this chain (deployed: {known})"
            ) from None

    def deploy(
        self,
        wasm: bytes | Path,
        interface: str | Path | None = None,
        *,
        name: str | None = None,
        init: Mapping[str, object] | None = None,
        sender: str | None = None,
        endorsers: Sequence[str] | None = None,
    ) -> DeployedContract:
        """Deploys a module through the code contract and returns it; DeploymentError (with the
        result) when the chain refuses it.

        ``wasm``: the module's bytes or its file. ``interface``: the interface's JSON text or
        file; when None, ``NAME.interface.json`` beside a ``NAME.wasm`` file (what ``causeway
        contract build`` writes). ``name``: the contract's name on the chain (the interface's
        name by default). ``init``: the arguments of the module's ``init``, by name. ``sender``
        (``admin`` by default) is the caller ``init`` sees; ``endorsers`` (every other admin by
        default) must satisfy the chain's contract policy."""
        code = _read_code(wasm)
        interface_text = _interface_text(wasm, interface)
        parsed = parse_interface(interface_text)
        contract_name = parsed.name if name is None else name
        init_input = b""
        if init is not None:
            init_interface = parsed.methods.get("init")
            if init_interface is None:
                raise RequestError(
                    f"init arguments are given, but the interface of {parsed.name} lists no init"
                )
            init_input = encode_fields(init_interface.arguments, init)
        arguments = contracts_pb2.CodeDeployArguments(
            name=contract_name,
            code=code,
            interface_json=interface_text,
            init_input=init_input,
        )
        deployed = DeployedContract(self, contract_name, parsed)
        result = self._governance("deploy", arguments, sender, endorsers, deployed)
        if not result.ok:
            raise DeploymentError(
                f"deploying {contract_name} failed: {result.status}: {result.error}", result
            )
        deployed = dataclasses.replace(deployed, deployment=result)
        self._contracts[contract_name] = deployed
        self._last_deployed = contract_name
        return deployed

    def upgrade(
        self,
        contract: str,
        wasm: bytes | Path,
        interface: str | Path | None = None,
        *,
        migrate: Mapping[str, object] | None = None,
        sender: str | None = None,
        endorsers: Sequence[str] | None = None,
    ) -> CallResult:
        """Replaces the code of ``contract`` (its state stays) and runs the new module's
        ``migrate`` with ``migrate``'s arguments, by name."""
        parsed = parse_interface(interface_text := _interface_text(wasm, interface))
        migrate_input = b""
        if migrate is not None:
            migrate_interface = parsed.methods.get("migrate")
            if migrate_interface is None:
                raise RequestError(
                    "migrate arguments are given, but the new interface lists no migrate"
                )
            migrate_input = encode_fields(migrate_interface.arguments, migrate)
        arguments = contracts_pb2.CodeUpgradeArguments(
            name=contract,
            code=_read_code(wasm),
            interface_json=interface_text,
            migrate_input=migrate_input,
        )
        previous = self._contracts.get(contract)
        upgraded = DeployedContract(
            self, contract, parsed, None if previous is None else previous.deployment
        )
        result = self._governance("upgrade", arguments, sender, endorsers, upgraded)
        if result.ok:
            self._contracts[contract] = upgraded
        return result

    def freeze(
        self, contract: str, *, sender: str | None = None, endorsers: Sequence[str] | None = None
    ) -> CallResult:
        """Freezes ``contract``: every method fails with CONTRACT_FROZEN until ``unfreeze``."""
        return self._status_change("freeze", contract, sender, endorsers)

    def unfreeze(
        self, contract: str, *, sender: str | None = None, endorsers: Sequence[str] | None = None
    ) -> CallResult:
        return self._status_change("unfreeze", contract, sender, endorsers)

    def revoke(
        self, contract: str, *, sender: str | None = None, endorsers: Sequence[str] | None = None
    ) -> CallResult:
        """Ends ``contract`` for good: its methods fail with CONTRACT_REVOKED."""
        return self._status_change("revoke", contract, sender, endorsers)

    def contract_state(self, contract: str) -> dict[bytes, bytes]:
        """The committed state of a user contract: its keys (as the contract names them) and
        values."""
        namespace = keys.user_contract_namespace(contract)
        return {
            key[len(namespace) :]: value
            for key, value in sorted(self._state.items())
            if key.startswith(namespace)
        }

    # -- calls ------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        /,
        *,
        contract: str | None = None,
        sender: str | None = None,
        arguments: Mapping[str, object] | None = None,
        **values: object,
    ) -> CallResult:
        """Calls ``method`` of ``contract`` (the last deployed by default) as a transaction from
        ``sender`` (``client`` by default), committed in a block of its own. Arguments by name,
        as keywords or as ``arguments`` (for an argument named like a keyword of this method).
        """
        deployed, encoded = self._encode_call(contract, method, arguments, values)
        transaction = self._transaction(self._sender(sender), deployed.name, method, encoded)
        return self._commit(transaction, deployed)

    def query(
        self,
        method: str,
        /,
        *,
        contract: str | None = None,
        sender: str | None = None,
        arguments: Mapping[str, object] | None = None,
        **values: object,
    ) -> CallResult:
        """Runs ``method`` read-only against the committed state, as ``causeway query`` does:
        at the next height and the latest block's time. Nothing is committed; a method that
        writes or emits fails (INVALID_ARGUMENT, ``read-only call: ...``)."""
        deployed, encoded = self._encode_call(contract, method, arguments, values)
        transaction = self._transaction(
            self._sender(sender), deployed.name, method, encoded, query=True
        )
        result = self._executor.query(
            _DictReader(self._state), transaction, self.time_ms, height=self.height + 1
        )
        return self._result(transaction, result, deployed, self.height)

    def send(
        self,
        contract: str,
        method: str,
        arguments: Message | bytes = b"",
        *,
        sender: str | None = None,
        endorsers: Sequence[str] = (),
    ) -> CallResult:
        """Any transaction, its arguments already encoded (a native contract's message, or raw
        bytes): for what ``call`` does not cover, such as a method the interface does not list.
        Return values are decoded when ``contract`` is a deployed user contract that lists
        ``method``."""
        transaction = self._transaction(
            self._sender(sender), contract, method, arguments, endorsers
        )
        return self._commit(transaction, self._contracts.get(contract))

    def advance_time(self, milliseconds: int) -> None:
        """Moves the clock: the next block is ``milliseconds`` later than it would have been."""
        if milliseconds < 0:
            raise RequestError(f"time moves forward only, not by {milliseconds} ms")
        self.time_ms += milliseconds

    # -- inside -----------------------------------------------------------------------------

    def _sender(self, sender: str | None) -> MemberMaterial:
        member_id = self.client if sender is None else sender
        try:
            return self._identities[member_id]
        except KeyError:
            raise RequestError(
                f"{member_id!r} is not a member of this chain: one of {', '.join(self.members)}"
            ) from None

    def _encode_call(
        self,
        contract: str | None,
        method: str,
        arguments: Mapping[str, object] | None,
        values: Mapping[str, object],
    ) -> tuple[DeployedContract, bytes]:
        deployed = self.contract(contract)
        if arguments is not None and values:
            raise RequestError("give the arguments either as keywords or as arguments=, not both")
        fields = deployed.interface.method(method).arguments
        return deployed, encode_fields(fields, values if arguments is None else arguments)

    def _transaction(
        self,
        sender: MemberMaterial,
        contract: str,
        method: str,
        arguments: Message | bytes,
        endorsers: Sequence[str] = (),
        *,
        query: bool = False,
    ) -> DecodedTransaction:
        # Stamped with the time of the block it goes into (a query's: the latest block's), so
        # that it is within its expiry there however far apart blocks are.
        timestamp_ms = self.time_ms if query else self.time_ms + self.block_interval_ms
        transaction = build_transaction(
            sender,
            self.chain_id,
            contract,
            method,
            arguments,
            expiry_s=TRANSACTION_EXPIRY_S,
            endorsers=[self._sender(endorser) for endorser in endorsers],
            timestamp_ms=timestamp_ms,
        )
        return decode_transaction(
            encode(transaction),
            hash_function=get_profile(self.profile).hash,
            bytes_max=TRANSACTION_BYTES_MAX,
        )

    def _governance(
        self,
        method: str,
        arguments: Message,
        sender: str | None,
        endorsers: Sequence[str] | None,
        decoded_by: DeployedContract | None,
    ) -> CallResult:
        sender_id = self.admin if sender is None else sender
        chosen = (
            [admin for admin in self.admins if admin != sender_id]
            if endorsers is None
            else list(endorsers)
        )
        transaction = self._transaction(
            self._sender(sender_id), CODE_CONTRACT, method, arguments, chosen
        )
        return self._commit(transaction, decoded_by)

    def _status_change(
        self, method: str, contract: str, sender: str | None, endorsers: Sequence[str] | None
    ) -> CallResult:
        arguments = contracts_pb2.CodeNameArguments(name=contract)
        return self._governance(method, arguments, sender, endorsers, self._contracts.get(contract))

    def _commit(
        self, transaction: DecodedTransaction, deployed: DeployedContract | None
    ) -> CallResult:
        self.height += 1
        self.time_ms += self.block_interval_ms
        execution = self._executor.execute_block(
            _DictReader(self._state), [transaction], self.height, self.time_ms
        )
        for key, value in execution.changes.items():
            if value is None:
                self._state.pop(key, None)
            else:
                self._state[key] = value
        return self._result(transaction, execution.results[0], deployed, self.height)

    def _result(
        self,
        transaction: DecodedTransaction,
        result: types_pb2.TransactionResult,
        deployed: DeployedContract | None,
        height: int,
    ) -> CallResult:
        body = transaction.body
        status = types_pb2.ResultStatus.Name(result.status).removeprefix(_STATUS_PREFIX)
        values: dict[str, object] = {}
        if status == _OK and deployed is not None and body.contract == deployed.name:
            method = deployed.interface.methods.get(body.method)
            if method is not None:
                values = _decoded(
                    method.returns, result.return_value, f"{body.contract}.{body.method} returned"
                )
        gas_used = result.cost.gas_used
        own_price = GAS_TRANSACTION_BASE + GAS_PER_TRANSACTION_BYTE * transaction.size
        return CallResult(
            contract=body.contract,
            method=body.method,
            status=status,
            values=values,
            events=tuple(self._event(event, deployed) for event in result.events),
            gas_used=gas_used,
            execution_gas=max(0, gas_used - own_price),
            error=result.error,
            return_data=result.return_value,
            height=height,
            transaction_id=transaction.id,
        )

    def _event(self, event: types_pb2.Event, deployed: DeployedContract | None) -> ContractEvent:
        # The contract a deployment or an upgrade runs is not in _contracts until it succeeds.
        emitter = deployed if deployed is not None and deployed.name == event.contract else None
        if emitter is None:
            emitter = self._contracts.get(event.contract)
        fields: dict[str, object] = {}
        if emitter is not None and event.name in emitter.interface.events:
            fields = _decoded(
                emitter.interface.events[event.name].fields,
                event.data,
                f"event {event.contract}.{event.name} carries",
            )
        return ContractEvent(
            contract=event.contract,
            name=event.name,
            fields=fields,
            attributes={attribute.key: attribute.value for attribute in event.attributes},
            data=event.data,
        )


def _decoded(fields: Sequence[Field], data: bytes, what: str) -> dict[str, object]:
    try:
        return decode_fields(fields, data)
    except DecodeError as error:
        raise DecodeError(
            f"{what} bytes that its interface does not describe ({error.message}): "
            "do the interface file and the code agree?"
        ) from None


def _read_code(wasm: bytes | Path) -> bytes:
    if isinstance(wasm, bytes | bytearray):
        return bytes(wasm)
    try:
        return Path(wasm).read_bytes()
    except OSError as error:
        raise RequestError(f"cannot read the module {wasm}: {error}") from None


def _interface_text(wasm: bytes | Path, interface: str | Path | None) -> str:
    """The interface's JSON: given as text, read from a file, or found beside the module."""
    if isinstance(interface, str):
        if not interface.lstrip().startswith("{"):
            raise RequestError(
                "the interface is given as a str, which is taken as its JSON text, but it is "
                "not a JSON object: pass a Path to read it from a file"
            )
        return interface
    if interface is None:
        if not isinstance(wasm, Path):
            raise RequestError("the module is given as bytes: give its interface too")
        interface = wasm.with_name(f"{wasm.stem}.interface.json")
    try:
        return Path(interface).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RequestError(f"cannot read the interface file {interface}: {error}") from None
