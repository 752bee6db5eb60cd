"""LocalChain, the in-process chain of contract tests, on a small WAT module: deployment by
governance, calls and queries with arguments, results and events decoded by the interface,
reverts, running out of gas, the lifecycle, and the same results and gas on both profiles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import wasmtime

from causeway.errors import DecodeError, RequestError
from causeway.toolchains import (
    GENESIS_TIME_MS,
    CallResult,
    DeploymentError,
    ExpectationError,
    LocalChain,
)

# A contract that keeps one string. `set`, `init` and `migrate` store their input (the encoded
# arguments, field 1 a string) as it is, and `get` returns it: the same bytes decode as its
# result (field 1 a string). `whoami` returns the caller, `clock` the height and time, each
# encoded by hand as the interface says.
PROBE_WAT = """
(module
  (import "causeway" "input_length" (func $input_length (result i32)))
  (import "causeway" "input_read" (func $input_read (param i32)))
  (import "causeway" "context_read" (func $context_read (param i32 i32 i32) (result i32)))
  (import "causeway" "return_data" (func $return_data (param i32 i32)))
  (import "causeway" "revert" (func $revert (param i32 i32)))
  (import "causeway" "state_get" (func $state_get (param i32 i32 i32 i32) (result i32)))
  (import "causeway" "state_put" (func $state_put (param i32 i32 i32 i32)))
  (import "causeway" "emit" (func $emit (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "v")
  (data (i32.const 16) "set")
  (data (i32.const 32) "no, not this")
  (func (export "causeway_abi_v1"))
  (func $store_input (result i32)
    (local $length i32)
    (local.set $length (call $input_length))
    (call $input_read (i32.const 1024))
    (call $state_put (i32.const 0) (i32.const 1) (i32.const 1024) (local.get $length))
    (local.get $length))
  (func (export "init") (drop (call $store_input)))
  (func (export "set")
    (local $length i32)
    (local.set $length (call $store_input))
    (call $emit (i32.const 16) (i32.const 3) (i32.const 1024) (local.get $length)))
  (func (export "get")
    (local $length i32)
    (local.set $length
      (call $state_get (i32.const 0) (i32.const 1) (i32.const 1024) (i32.const 4096)))
    (if (i32.ge_s (local.get $length) (i32.const 0))
      (then (call $return_data (i32.const 1024) (local.get $length)))))
  (func (export "whoami")
    (local $length i32)
    (local.set $length (call $context_read (i32.const 0) (i32.const 2050) (i32.const 120)))
    (i32.store8 (i32.const 2048) (i32.const 0x0a))
    (i32.store8 (i32.const 2049) (local.get $length))
    (call $return_data (i32.const 2048) (i32.add (local.get $length) (i32.const 2))))
  ;; Writes `value` as a protobuf varint at `out`; returns the position after it.
  (func $varint (param $value i64) (param $out i32) (result i32)
    (local $byte i32)
    (loop $more
      (local.set $byte (i32.wrap_i64 (i64.and (local.get $value) (i64.const 0x7f))))
      (local.set $value (i64.shr_u (local.get $value) (i64.const 7)))
      (if (i64.ne (local.get $value) (i64.const 0))
        (then (local.set $byte (i32.or (local.get $byte) (i32.const 0x80)))))
      (i32.store8 (local.get $out) (local.get $byte))
      (local.set $out (i32.add (local.get $out) (i32.const 1)))
      (br_if $more (i64.ne (local.get $value) (i64.const 0))))
    (local.get $out))
  (func (export "clock")
    (local $out i32)
    (drop (call $context_read (i32.const 2) (i32.const 3000) (i32.const 8)))
    (drop (call $context_read (i32.const 3) (i32.const 3008) (i32.const 8)))
    (i32.store8 (i32.const 2048) (i32.const 0x08))
    (local.set $out (call $varint (i64.load (i32.const 3000)) (i32.const 2049)))
    (i32.store8 (local.get $out) (i32.const 0x10))
    (local.set $out (call $varint (i64.load (i32.const 3008))
                                  (i32.add (local.get $out) (i32.const 1))))
    (call $return_data (i32.const 2048) (i32.sub (local.get $out) (i32.const 2048))))
  (func (export "fail")
    (drop (call $store_input))
    (call $revert (i32.const 32) (i32.const 12)))
  (func (export "spin")
    (drop (call $store_input))
    (loop $forever (br $forever)))
  ;;VERSION2
)
"""
# What the upgraded code adds: a migrate entry point and a method.
VERSION2_WAT = """
  (data (i32.const 48) "\\08\\02")
  (func (export "migrate") (drop (call $store_input)))
  (func (export "version") (call $return_data (i32.const 48) (i32.const 2)))
"""

VALUE = [{"name": "value", "type": "string"}]
METHODS = [
    {"name": "init", "arguments": VALUE},
    {"name": "set", "arguments": VALUE},
    {"name": "get", "read_only": True, "returns": VALUE},
    {"name": "whoami", "read_only": True, "returns": [{"name": "caller", "type": "string"}]},
    {
        "name": "clock",
        "read_only": True,
        "returns": [{"name": "height", "type": "uint64"}, {"name": "time", "type": "uint64"}],
    },
    {"name": "fail", "arguments": VALUE},
    {"name": "spin", "arguments": VALUE},
]
VERSION2_METHODS = [
    {"name": "migrate", "arguments": VALUE},
    {"name": "version", "read_only": True, "returns": [{"name": "version", "type": "uint64"}]},
]


def probe_code(version: int = 1) -> bytes:
    extra = VERSION2_WAT if version == 2 else ""
    return bytes(wasmtime.wat2wasm(PROBE_WAT.replace(";;VERSION2", extra)))


def probe_interface(version: int = 1, name: str = "probe") -> str:
    methods = METHODS + (VERSION2_METHODS if version == 2 else [])
    return json.dumps(
        {"abi": 1, "name": name, "methods": methods, "events": [{"name": "set", "fields": VALUE}]}
    )


@pytest.fixture(scope="module")
def code() -> bytes:
    return probe_code()


@pytest.fixture
def chain() -> LocalChain:
    return LocalChain()


def test_the_chain_has_two_organisations_with_an_admin_and_a_client() -> None:
    chain = LocalChain("gm")
    assert chain.members == ("org1/admin", "org1/client", "org2/admin", "org2/client")
    assert chain.admins == ("org1/admin", "org2/admin")
    assert chain.clients == ("org1/client", "org2/client")
    assert (chain.admin, chain.client) == ("org1/admin", "org1/client")
    assert chain.genesis.crypto_profile == "gm"
    assert {member.algorithm for member in chain.genesis.members} == {"sm2"}
    assert (chain.height, chain.time_ms) == (0, GENESIS_TIME_MS)


def test_deploy_runs_init_and_calls_see_its_state(chain: LocalChain, code: bytes) -> None:
    probe = chain.deploy(code, probe_interface(), init={"value": "first"})
    assert probe.name == "probe"
    assert chain.contract() is probe
    assert chain.query("get")["value"] == "first"
    assert probe.state() == {b"v": b"\x0a\x05first"}


def test_a_call_is_a_committed_block_with_decoded_values_and_events(
    chain: LocalChain, code: bytes
) -> None:
    chain.deploy(code, probe_interface())
    height = chain.height
    result = chain.call("set", value="hello").expect_ok()
    assert result.ok and result.status == "OK" and result.error == ""
    assert result.height == chain.height == height + 1
    assert [(event.contract, event.name, dict(event.fields)) for event in result.events] == [
        ("probe", "set", {"value": "hello"})
    ]
    assert result.events_named("set")[0]["value"] == "hello"
    assert result.gas_used > result.execution_gas > 0
    assert chain.query("get").values == {"value": "hello"}


def test_the_sender_is_the_caller_the_contract_sees(chain: LocalChain, code: bytes) -> None:
    probe = chain.deploy(code, probe_interface())
    assert probe.query("whoami")["caller"] == "org1/client"
    assert probe.call("whoami", sender="org2/client")["caller"] == "org2/client"
    with pytest.raises(RequestError, match="'org3/client' is not a member of this chain"):
        probe.call("whoami", sender="org3/client")


def test_blocks_advance_height_and_time(chain: LocalChain, code: bytes) -> None:
    chain.deploy(code, probe_interface())
    first = chain.call("clock").expect_ok()
    second = chain.call("clock").expect_ok()
    assert second["height"] == first["height"] + 1 == chain.height
    assert second["time"] == first["time"] + chain.block_interval_ms == chain.time_ms
    chain.advance_time(60_000)
    assert chain.call("clock")["time"] == second["time"] + 61_000
    # A query runs at the next height, at the latest block's time.
    queried = chain.query("clock")
    assert (queried["height"], queried["time"]) == (chain.height + 1, chain.time_ms)
    with pytest.raises(RequestError, match="forward only"):
        chain.advance_time(-1)


def test_a_revert_keeps_nothing_and_tells_its_message(chain: LocalChain, code: bytes) -> None:
    chain.deploy(code, probe_interface(), init={"value": "kept"})
    result = chain.call("fail", value="lost")
    assert not result.ok
    assert result.status == "CONTRACT_REVERTED"
    assert result.revert_message == "no, not this"
    assert result.error == "probe.fail: no, not this"
    assert result.values == {} and result.events == ()
    assert result.gas_used > 0
    assert result.expect_revert("not this") is result
    assert chain.query("get")["value"] == "kept"


def test_expectations_fail_as_assertions_naming_the_outcome(chain: LocalChain, code: bytes) -> None:
    chain.deploy(code, probe_interface())
    reverted = chain.call("fail")
    with pytest.raises(
        ExpectationError, match=r"expected OK, but probe.fail ended CONTRACT_REVERTED"
    ):
        reverted.expect_ok()
    with pytest.raises(AssertionError, match="does not contain 'something else'"):
        reverted.expect_revert("something else")
    with pytest.raises(
        AssertionError, match=r"expected CONTRACT_REVERTED, but probe\.get ended OK"
    ):
        chain.call("get").expect_revert()
    with pytest.raises(RequestError, match="unknown result status 'BROKEN'"):
        reverted.expect_status("BROKEN")
    assert reverted.expect_status("RESULT_STATUS_CONTRACT_REVERTED") is reverted


def test_running_out_of_gas_reverts_the_writes(code: bytes) -> None:
    chain = LocalChain(transaction_gas_max=200_000)
    chain.deploy(code, probe_interface(), init={"value": "kept"})
    result = chain.call("spin", value="lost")
    result.expect_status("OUT_OF_GAS")
    assert result.gas_used <= 200_000
    assert chain.query("get")["value"] == "kept"


def test_a_query_commits_nothing_and_refuses_writes(chain: LocalChain, code: bytes) -> None:
    chain.deploy(code, probe_interface(), init={"value": "kept"})
    height = chain.height
    result = chain.query("set", value="lost")
    assert result.status == "INVALID_ARGUMENT"
    assert result.error == "read-only call: a query cannot write state"
    assert chain.height == height
    assert chain.query("get")["value"] == "kept"


def test_bad_arguments_are_refused_before_anything_is_signed(
    chain: LocalChain, code: bytes
) -> None:
    with pytest.raises(RequestError, match="no contract is deployed"):
        chain.call("get")
    chain.deploy(code, probe_interface())
    height = chain.height
    with pytest.raises(RequestError, match="has no method 'missing' in its interface"):
        chain.call("missing")
    with pytest.raises(RequestError, match="unknown fields: colour"):
        chain.call("set", colour="blue")
    with pytest.raises(RequestError, match="field value must be a string"):
        chain.call("set", value=5)
    with pytest.raises(RequestError, match="either as keywords or as arguments="):
        chain.call("set", arguments={"value": "a"}, value="b")
    with pytest.raises(RequestError, match="no contract 'other' was deployed"):
        chain.call("get", contract="other")
    assert chain.height == height
    # An argument named like a keyword of call goes in arguments=.
    assert chain.call("set", arguments={"value": "by mapping"}).ok


def test_a_refused_deployment_raises_with_its_result(chain: LocalChain, code: bytes) -> None:
    with pytest.raises(DeploymentError, match="INVALID_ARGUMENT: the module is refused") as refused:
        chain.deploy(b"\x00asm garbage", probe_interface())
    assert refused.value.result.status == "INVALID_ARGUMENT"
    with pytest.raises(DeploymentError, match="ENDORSEMENT_POLICY_NOT_SATISFIED"):
        chain.deploy(code, probe_interface(), endorsers=())
    assert chain.contracts == {}
    with pytest.raises(RequestError, match="lists no init"):
        chain.deploy(code, json.dumps({"abi": 1, "name": "probe"}), init={"value": "x"})
    with pytest.raises(RequestError, match="pass a Path"):
        chain.deploy(code, "build/probe.interface.json")


def test_deploy_reads_the_interface_beside_a_built_module(
    chain: LocalChain, code: bytes, tmp_path: Path
) -> None:
    (tmp_path / "probe.wasm").write_bytes(code)
    (tmp_path / "probe.interface.json").write_text(probe_interface())
    probe = chain.deploy(tmp_path / "probe.wasm", name="probe-two", init={"value": "x"})
    assert probe.name == "probe-two"
    assert chain.query("get", contract="probe-two")["value"] == "x"
    with pytest.raises(RequestError, match="give its interface too"):
        chain.deploy(code)


def test_the_deployment_result_carries_the_code_contract_event(code: bytes) -> None:
    chain = LocalChain()
    chain.deploy(code, probe_interface())
    # The governance path by hand: a deployment sent by a client and endorsed by both admins.
    other = LocalChain()
    with pytest.raises(DeploymentError, match="ENDORSEMENT_POLICY_NOT_SATISFIED"):
        other.deploy(code, probe_interface(), sender=other.client, endorsers=["org1/admin"])
    probe = other.deploy(code, probe_interface(), sender=other.client, endorsers=other.admins)
    assert probe.name == "probe"


def test_upgrade_keeps_state_and_runs_migrate(chain: LocalChain, code: bytes) -> None:
    chain.deploy(code, probe_interface(), init={"value": "before"})
    result = chain.upgrade("probe", probe_code(2), probe_interface(2), migrate={"value": "after"})
    result.expect_ok()
    assert [(event.contract, event.name) for event in result.events] == [("code", "upgrade")]
    assert result.events[0].attributes["version"] == "2"
    assert chain.query("version")["version"] == 2
    assert chain.query("get")["value"] == "after"
    with pytest.raises(RequestError, match="lists no migrate"):
        chain.upgrade("probe", code, probe_interface(), migrate={"value": "x"})


def test_freeze_unfreeze_and_revoke(chain: LocalChain, code: bytes) -> None:
    chain.deploy(code, probe_interface(), init={"value": "kept"})
    chain.freeze("probe").expect_ok()
    chain.call("get").expect_status("CONTRACT_FROZEN")
    chain.query("get").expect_status("CONTRACT_FROZEN")
    chain.freeze("probe").expect_status("CONFLICT")
    chain.unfreeze("probe").expect_ok()
    assert chain.query("get")["value"] == "kept"
    chain.revoke("probe", endorsers=()).expect_status("ENDORSEMENT_POLICY_NOT_SATISFIED")
    revoked = chain.revoke("probe").expect_ok()
    assert revoked.events[0].attributes["status"] == "revoked"
    chain.call("get").expect_status("CONTRACT_REVOKED")
    with pytest.raises(DeploymentError, match="CONFLICT"):
        chain.deploy(code, probe_interface())


def test_send_reaches_native_contracts_and_unlisted_methods(chain: LocalChain, code: bytes) -> None:
    # `fail` exported but left out of this interface: `call` refuses, `send` reaches it.
    listed = [method for method in METHODS if method["name"] != "fail"]
    chain.deploy(code, json.dumps({"abi": 1, "name": "probe", "methods": listed}))
    with pytest.raises(RequestError, match="no method 'fail'"):
        chain.call("fail")
    assert chain.send("probe", "fail").status == "CONTRACT_REVERTED"
    assert chain.send("probe", "get").expect_ok().return_data == b""
    assert chain.send("nothing", "at_all").status == "UNKNOWN_CONTRACT"


def test_a_result_the_interface_does_not_describe_is_a_decode_error(
    chain: LocalChain, code: bytes
) -> None:
    # `get` returns the stored bytes as they are: a string field cut short cannot decode.
    # (The interface lists no event here, or the `set` event, with the same bytes, would fail
    # to decode first.)
    interface = json.loads(probe_interface())
    interface["events"] = []
    chain.deploy(code, json.dumps(interface))
    assert chain.send("probe", "set", b"\x0a\x05ab").events[0].fields == {}
    with pytest.raises(DecodeError, match=r"probe\.get returned bytes that its interface"):
        chain.query("get")


def _run_script(profile: str, code: bytes) -> list[tuple[str, dict[str, object], int, list[str]]]:
    chain = LocalChain(profile)
    chain.deploy(code, probe_interface(), init={"value": "start"})
    results: list[CallResult] = [
        chain.call("set", value="x" * 100),
        chain.query("get"),
        chain.call("fail", value="y"),
        chain.call("clock"),
        chain.call("whoami", sender="org2/client"),
    ]
    return [
        (
            result.status,
            dict(result.values),
            result.execution_gas,
            [event.name for event in result.events],
        )
        for result in results
    ]


def test_both_profiles_give_the_same_results_and_gas(code: bytes) -> None:
    intl = _run_script("intl", code)
    assert intl == _run_script("gm", code)
    assert intl == _run_script("intl", code)
    assert [status for status, *_ in intl] == ["OK", "OK", "CONTRACT_REVERTED", "OK", "OK"]


def test_blocks_may_be_far_apart(code: bytes) -> None:
    # Further apart than a transaction's expiry: each is still signed for its own block.
    chain = LocalChain(block_interval_ms=3_600_000)
    chain.deploy(code, probe_interface())
    assert chain.call("clock").expect_ok()["time"] == GENESIS_TIME_MS + 2 * 3_600_000


def test_a_local_chain_refuses_bad_settings() -> None:
    with pytest.raises(RequestError, match="unknown crypto profile 'rsa'"):
        LocalChain("rsa")
    with pytest.raises(RequestError, match="transaction_gas_max must be positive"):
        LocalChain(transaction_gas_max=0)
    with pytest.raises(RequestError, match="block_interval_ms must be positive"):
        LocalChain(block_interval_ms=0)
