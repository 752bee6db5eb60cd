"""code (system): deploys, upgrades, freezes, unfreezes and revokes user contracts.

Every change needs the chain's contract policy (ChainConfig.contract_policy, or the governance
policy when it has none), is an event of this contract, and is a record in state that a light
client can prove (`sys/code/contract/<name>`). The module is checked before anything is stored
(causeway.vm: imports, exports, memory, tables, size) and stored once by its hash
(`sys/code/wasm/<hash>`); its interface file must be valid and name only methods the module
exports. A refused deployment changes nothing: the transaction fails and its writes are dropped.

Lifecycle: deploy makes an ACTIVE record at version 1 and runs the module's `init` export, if
any, with the deployment's input and the deployer as caller (a module without one is still
instantiated once, so that a start function that traps or loops is refused at deployment).
upgrade replaces the code of an active or frozen contract (version + 1) and runs the new
module's `migrate`, if any; its state stays. freeze and unfreeze switch between ACTIVE and
FROZEN (a frozen contract's methods all fail with CONTRACT_FROZEN). revoke ends a contract for
good (CONTRACT_REVOKED); its name is never reused.
"""

from __future__ import annotations

import re

from causeway.contracts.v1 import contracts_pb2
from causeway.errors import ModuleRefusedError, RequestError
from causeway.execution.context import TransactionContext, failure, status_of
from causeway.execution.contracts.base import Method, decode_arguments
from causeway.execution.costs import GAS_WASM_CODE_BYTE
from causeway.execution.keys import CODE_RECORD, code_bytes, code_record, user_contract_namespace
from causeway.execution.user_contracts import load_record, run_export, shared_runtime
from causeway.types import encode
from causeway.types.interface import parse_interface
from causeway.types.v1 import types_pb2
from causeway.vm import VERSION_EXPORT, ModuleSummary

CONTRACT = "code"
# A user contract's name: it is also its namespace's middle part (wasm/<name>/).
NAME = re.compile(r"[a-z][a-z0-9_\-]{0,63}")
LIST_LIMIT_DEFAULT = 100
LIST_LIMIT_MAX = 500

_INVALID = types_pb2.RESULT_STATUS_INVALID_ARGUMENT
_ACTIVE = contracts_pb2.CONTRACT_STATUS_ACTIVE
_FROZEN = contracts_pb2.CONTRACT_STATUS_FROZEN
_REVOKED = contracts_pb2.CONTRACT_STATUS_REVOKED
_STATUS_NAMES = {_ACTIVE: "active", _FROZEN: "frozen", _REVOKED: "revoked"}


def _require_policy(context: TransactionContext, purpose: str) -> None:
    config = context.config.config
    policy = config.contract_policy if config.HasField("contract_policy") else None
    context.require_policy(policy or config.governance_policy, purpose)


def _check_native_name(context: TransactionContext, name: str) -> None:
    """A name without a user contract record: refused when a native contract has it."""
    resolve = context.resolve_contract
    if resolve is not None and resolve(name) is not None:
        raise failure(types_pb2.RESULT_STATUS_CONFLICT, f"{name} is a native contract's name")


def _checked_module(
    context: TransactionContext, code: bytes, interface_json: str
) -> tuple[ModuleSummary, str, bytes]:
    """(summary, canonical interface, code hash) of a module that passes every check; the code
    is charged per byte first, so refused code pays for its checking too."""
    context.charge_gas(GAS_WASM_CODE_BYTE * len(code))
    try:
        summary = shared_runtime().check(code)
    except ModuleRefusedError as error:
        raise failure(_INVALID, f"the module is refused: {error.message}") from None
    try:
        interface = parse_interface(interface_json)
    except RequestError as error:
        raise failure(_INVALID, f"the interface is refused: {error.message}") from None
    exported = set(summary.methods)
    entry_points = {"init": summary.has_init, "migrate": summary.has_migrate}
    for method in interface.methods:
        if method in entry_points:
            if not entry_points[method]:
                raise failure(
                    _INVALID, f"the interface lists {method}, which the module does not export"
                )
        elif method not in exported:
            raise failure(
                _INVALID,
                f"the interface lists method {method}, which the module does not export (it "
                f"exports {', '.join(summary.methods) or 'no method'})",
            )
    return summary, interface.canonical_json(), context.hash(code)


def _store_code(context: TransactionContext, code_hash: bytes, code: bytes) -> None:
    key = code_bytes(code_hash)
    # Stored once: a second contract with the same code shares it.
    if context.get(key) is None:
        context.put(key, code)


def _save(context: TransactionContext, record: contracts_pb2.ContractRecord) -> None:
    context.put(code_record(record.name), encode(record))


def _run_entry(
    context: TransactionContext, record: contracts_pb2.ContractRecord, export: str, data: bytes
) -> None:
    """Runs init or migrate in the contract's own namespace, whoever called code as its caller
    (the sender of a deploy or upgrade transaction; the proposals contract for a proposal's
    call, never the member who happened to send the execute transaction, which the votes did
    not name); for a module without one, its version marker (a function that does nothing), so
    that every module is instantiated once at deployment: a start function that traps or never
    ends is refused there, not found by the first caller."""
    callee = context.enter(record.name, user_contract_namespace(record.name), ())
    callee.caller = context.caller
    try:
        run_export(callee, bytes(record.code_hash), export, data, read_only=False)
    except RequestError as error:
        if export != VERSION_EXPORT:
            raise
        raise failure(status_of(error), f"the module does not start: {error.message}") from None


def _event(context: TransactionContext, name: str, record: contracts_pb2.ContractRecord) -> None:
    context.emit(
        name,
        (
            ("contract", record.name),
            ("code_hash", record.code_hash.hex()),
            ("version", str(record.version)),
            ("status", _STATUS_NAMES[record.status]),
        ),
    )


def deploy(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, contracts_pb2.CodeDeployArguments, arguments)
    _require_policy(context, "code.deploy")
    if load_record(context, _valid_name(request.name)) is not None:
        raise failure(
            types_pb2.RESULT_STATUS_CONFLICT,
            f"contract {request.name} exists: upgrade it instead (a revoked name stays taken)",
        )
    _check_native_name(context, request.name)
    summary, interface_json, code_hash = _checked_module(
        context, request.code, request.interface_json
    )
    if request.init_input and not summary.has_init:
        raise failure(_INVALID, "an init input is given, but the module has no init export")
    _store_code(context, code_hash, request.code)
    record = contracts_pb2.ContractRecord(
        name=request.name,
        code_hash=code_hash,
        code_bytes=len(request.code),
        version=1,
        status=_ACTIVE,
        interface_json=interface_json,
        methods=summary.methods,
        deployed_height=context.height,
        changed_height=context.height,
    )
    _save(context, record)
    _run_entry(context, record, "init" if summary.has_init else VERSION_EXPORT, request.init_input)
    _event(context, "deploy", record)
    return encode(record)


def _existing(context: TransactionContext, name: str) -> contracts_pb2.ContractRecord:
    record = load_record(context, name)
    if record is None:
        raise failure(types_pb2.RESULT_STATUS_NOT_FOUND, f"there is no user contract {name!r}")
    return record


def upgrade(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, contracts_pb2.CodeUpgradeArguments, arguments)
    _require_policy(context, "code.upgrade")
    record = _existing(context, request.name)
    if record.status == _REVOKED:
        raise failure(
            types_pb2.RESULT_STATUS_CONTRACT_REVOKED, f"contract {record.name} is revoked"
        )
    summary, interface_json, code_hash = _checked_module(
        context, request.code, request.interface_json
    )
    if request.migrate_input and not summary.has_migrate:
        raise failure(_INVALID, "a migrate input is given, but the module has no migrate export")
    _store_code(context, code_hash, request.code)
    record.code_hash = code_hash
    record.code_bytes = len(request.code)
    record.version += 1
    record.interface_json = interface_json
    del record.methods[:]
    record.methods.extend(summary.methods)
    record.changed_height = context.height
    _save(context, record)
    _run_entry(
        context,
        record,
        "migrate" if summary.has_migrate else VERSION_EXPORT,
        request.migrate_input,
    )
    _event(context, "upgrade", record)
    return encode(record)


def _change_status(
    context: TransactionContext,
    arguments: bytes,
    method: str,
    allowed_from: tuple[int, ...],
    status: contracts_pb2.ContractStatus.ValueType,
) -> bytes:
    request = decode_arguments(context, contracts_pb2.CodeNameArguments, arguments)
    _require_policy(context, f"code.{method}")
    record = _existing(context, request.name)
    if record.status not in allowed_from:
        done = {"freeze": "frozen", "unfreeze": "unfrozen", "revoke": "revoked"}[method]
        raise failure(
            types_pb2.RESULT_STATUS_CONFLICT,
            f"contract {record.name} is {_STATUS_NAMES[record.status]}: it cannot be {done}",
        )
    record.status = status
    record.changed_height = context.height
    _save(context, record)
    _event(context, method, record)
    return encode(record)


def freeze(context: TransactionContext, arguments: bytes) -> bytes:
    return _change_status(context, arguments, "freeze", (_ACTIVE,), _FROZEN)


def unfreeze(context: TransactionContext, arguments: bytes) -> bytes:
    return _change_status(context, arguments, "unfreeze", (_FROZEN,), _ACTIVE)


def revoke(context: TransactionContext, arguments: bytes) -> bytes:
    return _change_status(context, arguments, "revoke", (_ACTIVE, _FROZEN), _REVOKED)


def get(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, contracts_pb2.CodeNameArguments, arguments)
    stored = context.get(code_record(_valid_name(request.name)))
    if stored is None:
        raise failure(
            types_pb2.RESULT_STATUS_NOT_FOUND, f"there is no user contract {request.name!r}"
        )
    return stored


def get_code(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, contracts_pb2.CodeNameArguments, arguments)
    record = _existing(context, _valid_name(request.name))
    code = context.get(code_bytes(bytes(record.code_hash)))
    if code is None:
        raise failure(types_pb2.RESULT_STATUS_NOT_FOUND, f"the code of {record.name} is missing")
    return code


def list_(context: TransactionContext, arguments: bytes) -> bytes:
    request = decode_arguments(context, contracts_pb2.CodeListArguments, arguments)
    limit = min(request.limit or LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX)
    start_after = code_record(request.start_after) if request.start_after else b""
    entries = context.range(CODE_RECORD, start_after, limit + 1)
    result = contracts_pb2.CodeListResult()
    for index, (_key, value) in enumerate(entries):
        if index == limit:
            result.next_start_after = result.contracts[-1].name
            break
        result.contracts.add().ParseFromString(value)
    return encode(result)


def _valid_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise failure(
            _INVALID,
            f"contract name {name!r} must be 1 to 64 of a-z, 0-9, '_' and '-', starting with "
            "a letter",
        )
    return name


METHODS: dict[str, Method] = {
    "deploy": Method(deploy, system=True, arguments=contracts_pb2.CodeDeployArguments),
    "upgrade": Method(upgrade, system=True, arguments=contracts_pb2.CodeUpgradeArguments),
    "freeze": Method(freeze, system=True, arguments=contracts_pb2.CodeNameArguments),
    "unfreeze": Method(unfreeze, system=True, arguments=contracts_pb2.CodeNameArguments),
    "revoke": Method(revoke, system=True, arguments=contracts_pb2.CodeNameArguments),
    "get": Method(get, read_only=True),
    "get_code": Method(get_code, read_only=True),
    "list": Method(list_, read_only=True),
}
