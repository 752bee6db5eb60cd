"""User contracts on the executor: the code contract's lifecycle by governance, calls, events,
failures that undo every write, gas, and calls between contracts."""

from __future__ import annotations

import json

import pytest
import wasmtime
from execution_chain import BLOCK_TIME_MS, Chain, ChainKit, new_chain, status_name

from causeway.contracts.v1 import contracts_pb2
from causeway.execution.costs import GAS_PER_TRANSACTION_BYTE, GAS_TRANSACTION_BASE
from causeway.execution.keys import code_bytes_key, code_record_key, user_contract_namespace
from causeway.types.v1 import types_pb2

GOVERNANCE: dict[str, object] = {"endorsers": ["org2/admin"]}

COUNTER_WAT = """
(module
  (import "causeway" "input_length" (func $input_length (result i32)))
  (import "causeway" "input_read" (func $input_read (param i32)))
  (import "causeway" "return_data" (func $return_data (param i32 i32)))
  (import "causeway" "revert" (func $revert (param i32 i32)))
  (import "causeway" "state_get" (func $state_get (param i32 i32 i32 i32) (result i32)))
  (import "causeway" "state_put" (func $state_put (param i32 i32 i32 i32)))
  (import "causeway" "emit" (func $emit (param i32 i32 i32 i32)))
  (import "causeway" "call" (func $call (param i32 i32 i32 i32 i32 i32 i64) (result i32)))
  (import "causeway" "result_read" (func $result_read (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "count")
  (data (i32.const 16) "bumped")
  (data (i32.const 32) "no, not this")
  (data (i32.const 600) "increment")
  (data (i32.const 620) "ledger")
  (data (i32.const 630) "balance")
  (data (i32.const 640) "transfer")
  (func (export "causeway_abi_v1"))
  (func $load (result i64)
    (if (result i64)
      (i32.eq (call $state_get (i32.const 0) (i32.const 5) (i32.const 64) (i32.const 8))
              (i32.const 8))
      (then (i64.load (i32.const 64)))
      (else (i64.const 0))))
  (func $store (param $value i64)
    (i64.store (i32.const 64) (local.get $value))
    (call $state_put (i32.const 0) (i32.const 5) (i32.const 64) (i32.const 8)))
  (func (export "init")
    (call $input_read (i32.const 128))
    (call $store (i64.load (i32.const 128))))
  (func (export "increment")
    (call $store (i64.add (call $load) (i64.const STEP)))
    (call $emit (i32.const 16) (i32.const 6) (i32.const 64) (i32.const 8)))
  (func (export "get")
    (i64.store (i32.const 64) (call $load))
    (call $return_data (i32.const 64) (i32.const 8)))
  (func (export "write_then_revert")
    (call $store (i64.const 999))
    (call $revert (i32.const 32) (i32.const 12)))
  (func (export "write_then_spin")
    (call $store (i64.const 5))
    (loop $forever (br $forever)))
  ;; Calls <input>.increment with all the gas left; returns the status.
  (func (export "increment_other")
    (local $length i32)
    (local.set $length (call $input_length))
    (call $input_read (i32.const 256))
    (i32.store (i32.const 512)
      (call $call (i32.const 256) (local.get $length) (i32.const 600) (i32.const 9)
                  (i32.const 0) (i32.const 0) (i64.const 0)))
    (call $return_data (i32.const 512) (i32.const 4)))
  ;; Calls ledger.<balance or transfer> with the input as arguments; returns the status.
  (func $ledger (param $method i32) (param $method_length i32)
    (local $length i32)
    (local.set $length (call $input_length))
    (call $input_read (i32.const 256))
    (i32.store (i32.const 512)
      (call $call (i32.const 620) (i32.const 6) (local.get $method) (local.get $method_length)
                  (i32.const 256) (local.get $length) (i64.const 0)))
    (call $return_data (i32.const 512) (i32.const 4)))
  (func (export "ledger_balance") (call $ledger (i32.const 630) (i32.const 7)))
  (func (export "ledger_transfer") (call $ledger (i32.const 640) (i32.const 8)))
)
"""
METHODS = [
    "init",
    "increment",
    "get",
    "write_then_revert",
    "write_then_spin",
    "increment_other",
    "ledger_balance",
    "ledger_transfer",
]


def counter(step: int = 1) -> bytes:
    return bytes(wasmtime.wat2wasm(COUNTER_WAT.replace("STEP", str(step))))


def interface(methods: list[str] = METHODS) -> str:
    return json.dumps(
        {
            "abi": 1,
            "name": "counter",
            "methods": [{"name": name, "arguments": [], "returns": []} for name in methods],
        }
    )


def deploy(
    chain: Chain,
    name: str = "counter",
    code: bytes | None = None,
    *,
    start: int | None = 0,
    interface_json: str | None = None,
    **options: object,
) -> types_pb2.TransactionResult:
    arguments = contracts_pb2.CodeDeployArguments(
        name=name,
        code=counter() if code is None else code,
        interface_json=interface() if interface_json is None else interface_json,
        init_input=b"" if start is None else start.to_bytes(8, "little"),
    )
    return chain.run("org1/admin", "code", "deploy", arguments, **(options or GOVERNANCE))


def lifecycle(chain: Chain, method: str, name: str = "counter") -> types_pb2.TransactionResult:
    arguments = contracts_pb2.CodeNameArguments(name=name)
    return chain.run("org1/admin", "code", method, arguments, **GOVERNANCE)


def value(chain: Chain, name: str = "counter") -> int:
    stored = chain.state.get(user_contract_namespace(name) + b"count")
    return 0 if stored is None else int.from_bytes(stored, "little")


@pytest.fixture
def deployed(chain: Chain) -> Chain:
    result = deploy(chain, start=41)
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    return chain


def test_deploy_stores_the_record_and_the_code_once_and_runs_init(deployed: Chain) -> None:
    record = contracts_pb2.ContractRecord.FromString(deployed.state[code_record_key("counter")])
    assert record.status == contracts_pb2.CONTRACT_STATUS_ACTIVE
    assert record.version == 1
    assert list(record.methods) == sorted(set(METHODS) - {"init"})
    assert deployed.state[code_bytes_key(record.code_hash)] == counter()
    assert value(deployed) == 41


def test_deploy_is_an_event(chain: Chain) -> None:
    result = deploy(chain)
    (event,) = result.events
    assert (event.contract, event.name) == ("code", "deploy")
    attributes = {attribute.key: attribute.value for attribute in event.attributes}
    assert attributes["contract"] == "counter"
    assert attributes["version"] == "1"


def test_deploy_needs_the_contract_policy(chain: Chain) -> None:
    result = deploy(chain, endorsers=[])
    assert status_name(result) == "RESULT_STATUS_ENDORSEMENT_POLICY_NOT_SATISFIED"
    assert code_record_key("counter") not in chain.state


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (b"garbage", "not a WebAssembly module"),
        (bytes(wasmtime.wat2wasm('(module (memory (export "memory") 1))')), "causeway_abi_v1"),
        (
            bytes(
                wasmtime.wat2wasm(
                    '(module (import "wasi_snapshot_preview1" "fd_write" (func)) '
                    '(memory (export "memory") 1) (func (export "causeway_abi_v1")))'
                )
            ),
            "wasi_snapshot_preview1.fd_write",
        ),
    ],
)
def test_a_bad_module_is_refused_and_changes_nothing(
    chain: Chain, code: bytes, reason: str
) -> None:
    before = dict(chain.state)
    result = deploy(chain, code=code)
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert reason in result.error
    assert chain.state == before


def test_an_interface_naming_a_missing_method_is_refused(chain: Chain) -> None:
    result = deploy(chain, interface_json=interface([*METHODS, "missing"]))
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "method missing, which the module does not export" in result.error


def test_a_name_is_deployed_once_and_native_names_are_taken(deployed: Chain) -> None:
    assert status_name(deploy(deployed)) == "RESULT_STATUS_CONFLICT"
    native = deploy(deployed, name="ledger")
    assert (status_name(native), native.error) == (
        "RESULT_STATUS_CONFLICT",
        "ledger is a native contract's name",
    )


def test_a_method_call_writes_and_emits(deployed: Chain) -> None:
    result = deployed.run("org2/bob", "counter", "increment")
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    assert value(deployed) == 42
    (event,) = result.events
    assert (event.contract, event.name, event.data) == (
        "counter",
        "bumped",
        (42).to_bytes(8, "little"),
    )
    got = deployed.run("org2/bob", "counter", "get")
    assert got.return_value == (42).to_bytes(8, "little")


def test_a_query_runs_a_method_and_refuses_its_writes(deployed: Chain) -> None:
    query = deployed.transaction("org2/bob", "counter", "get")
    result = deployed.executor.query(
        deployed.reader, query, BLOCK_TIME_MS, height=deployed.height + 1
    )
    assert result.return_value == (41).to_bytes(8, "little")
    write = deployed.transaction("org2/bob", "counter", "increment")
    refused = deployed.executor.query(
        deployed.reader, write, BLOCK_TIME_MS, height=deployed.height + 1
    )
    assert "read-only call" in refused.error
    assert value(deployed) == 41


def test_a_revert_undoes_the_writes_and_keeps_the_message(deployed: Chain) -> None:
    result = deployed.run("org2/bob", "counter", "write_then_revert")
    assert (status_name(result), result.error) == (
        "RESULT_STATUS_CONTRACT_REVERTED",
        "counter.write_then_revert: no, not this",
    )
    assert value(deployed) == 41
    assert result.cost.gas_used > 0


def test_running_out_of_gas_undoes_the_writes_and_charges_the_limit(deployed: Chain) -> None:
    result = deployed.run("org2/bob", "counter", "write_then_spin")
    assert status_name(result) == "RESULT_STATUS_OUT_OF_GAS"
    assert value(deployed) == 41
    config = deployed.executor.get_config(deployed.reader)
    assert result.cost.gas_used == config.transaction_gas_max


def test_an_unknown_method_is_refused(deployed: Chain) -> None:
    result = deployed.run("org2/bob", "counter", "init")
    assert status_name(result) == "RESULT_STATUS_UNKNOWN_METHOD"


def test_freeze_unfreeze_and_revoke(deployed: Chain) -> None:
    assert status_name(lifecycle(deployed, "freeze")) == "RESULT_STATUS_OK"
    frozen = deployed.run("org2/bob", "counter", "increment")
    assert status_name(frozen) == "RESULT_STATUS_CONTRACT_FROZEN"
    assert status_name(lifecycle(deployed, "freeze")) == "RESULT_STATUS_CONFLICT"
    assert status_name(lifecycle(deployed, "unfreeze")) == "RESULT_STATUS_OK"
    assert status_name(deployed.run("org2/bob", "counter", "increment")) == "RESULT_STATUS_OK"
    assert status_name(lifecycle(deployed, "revoke")) == "RESULT_STATUS_OK"
    revoked = deployed.run("org2/bob", "counter", "increment")
    assert status_name(revoked) == "RESULT_STATUS_CONTRACT_REVOKED"
    assert status_name(lifecycle(deployed, "unfreeze")) == "RESULT_STATUS_CONFLICT"
    assert status_name(deploy(deployed)) == "RESULT_STATUS_CONFLICT"


def test_lifecycle_changes_need_the_policy(deployed: Chain) -> None:
    arguments = contracts_pb2.CodeNameArguments(name="counter")
    result = deployed.run("org1/admin", "code", "freeze", arguments)
    assert status_name(result) == "RESULT_STATUS_ENDORSEMENT_POLICY_NOT_SATISFIED"


def test_upgrade_keeps_the_state_and_bumps_the_version(deployed: Chain) -> None:
    arguments = contracts_pb2.CodeUpgradeArguments(
        name="counter", code=counter(step=10), interface_json=interface()
    )
    result = deployed.run("org1/admin", "code", "upgrade", arguments, **GOVERNANCE)
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    record = contracts_pb2.ContractRecord.FromString(deployed.state[code_record_key("counter")])
    assert record.version == 2
    deployed.run("org2/bob", "counter", "increment")
    assert value(deployed) == 51


def test_list_and_get(deployed: Chain) -> None:
    deploy(deployed, "second")
    listed = deployed.run("org2/bob", "code", "list", contracts_pb2.CodeListArguments(limit=1))
    page = contracts_pb2.CodeListResult.FromString(listed.return_value)
    assert [record.name for record in page.contracts] == ["counter"]
    assert page.next_start_after == "counter"
    got = deployed.run("org2/bob", "code", "get", contracts_pb2.CodeNameArguments(name="second"))
    assert contracts_pb2.ContractRecord.FromString(got.return_value).name == "second"


def test_a_contract_calls_another_in_a_savepoint(deployed: Chain) -> None:
    deploy(deployed, "second", start=7)
    result = deployed.run("org2/bob", "counter", "increment_other", b"second")
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    assert int.from_bytes(result.return_value, "little") == types_pb2.RESULT_STATUS_OK
    assert (value(deployed, "second"), value(deployed)) == (8, 41)
    missing = deployed.run("org2/bob", "counter", "increment_other", b"nobody")
    assert (
        int.from_bytes(missing.return_value, "little") == types_pb2.RESULT_STATUS_UNKNOWN_CONTRACT
    )


def test_a_contract_reads_native_contracts_but_cannot_change_them(deployed: Chain) -> None:
    balance = contracts_pb2.LedgerBalanceArguments(account="org2/bob").SerializeToString()
    read = deployed.run("org2/bob", "counter", "ledger_balance", balance)
    assert int.from_bytes(read.return_value, "little") == types_pb2.RESULT_STATUS_OK
    transfer = contracts_pb2.LedgerTransferArguments(to="org1/alice", amount=1).SerializeToString()
    refused = deployed.run("org2/bob", "counter", "ledger_transfer", transfer)
    assert int.from_bytes(refused.return_value, "little") == (
        types_pb2.RESULT_STATUS_PERMISSION_DENIED
    )


def test_the_same_calls_cost_the_same_gas_on_both_profiles(kit: ChainKit, gm_kit: ChainKit) -> None:
    beyond_the_transaction: dict[str, list[int]] = {}
    for profile_kit in (kit, gm_kit):
        chain = new_chain(profile_kit)
        deploy(chain, start=1)
        costs = []
        for _ in range(3):
            transaction = chain.transaction("org2/bob", "counter", "increment")
            (result,) = chain.commit([transaction]).results
            assert status_name(result) == "RESULT_STATUS_OK", result.error
            # Signatures differ in size between the profiles (and between ECDSA signatures):
            # what the call cost beyond its transaction's own bytes must not.
            own = GAS_TRANSACTION_BASE + GAS_PER_TRANSACTION_BYTE * len(transaction.encoded)
            costs.append(result.cost.gas_used - own)
        beyond_the_transaction[profile_kit.profile.name] = costs
        assert value(chain) == 4
    assert beyond_the_transaction["intl"] == beyond_the_transaction["gm"]


def test_a_module_whose_start_never_ends_is_refused_at_deployment(chain: Chain) -> None:
    looping = bytes(
        wasmtime.wat2wasm(
            '(module (memory (export "memory") 1) (func (export "causeway_abi_v1")) '
            '(func (export "get")) (func $forever (loop $again (br $again))) (start $forever))'
        )
    )
    before = dict(chain.state)
    result = deploy(chain, code=looping, start=None, interface_json=interface(["get"]))
    assert status_name(result) == "RESULT_STATUS_OUT_OF_GAS"
    assert result.error.startswith("the module does not start: ")
    assert chain.state == before


TRAPPING_WAT = """
(module
  (import "causeway" "state_put" (func $state_put (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "count")
  (func (export "causeway_abi_v1"))
  (func (export "increment")
    (call $state_put (i32.const 0) (i32.const 5) (i32.const 0) (i32.const 5))
    unreachable)
)
"""


def test_a_trap_in_a_nested_call_undoes_only_the_callee(deployed: Chain) -> None:
    trapping = bytes(wasmtime.wat2wasm(TRAPPING_WAT))
    result = deploy(
        deployed, "trapping", code=trapping, start=None, interface_json=interface(["increment"])
    )
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    outer = deployed.run("org2/bob", "counter", "increment_other", b"trapping")
    assert status_name(outer) == "RESULT_STATUS_OK", outer.error
    trapped = types_pb2.RESULT_STATUS_CONTRACT_TRAPPED
    assert int.from_bytes(outer.return_value, "little") == trapped
    assert user_contract_namespace("trapping") + b"count" not in deployed.state
