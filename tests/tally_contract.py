"""A small user contract for the SDK's and the CLI's tests, written in WAT (no npm or cargo): a
tally that speaks the interface encoding (protobuf wire, docs/contract-abi.md).

Version 1: ``init(start)``, ``add(amount) -> (total)`` emitting ``added(by, amount, total)``,
``total() -> (total)`` (read-only), ``fail()`` (reverts with "no, not this") and
``echo(text, flag, blob, offset) -> (text, flag, blob, offset)`` (returns its input: the same
fields, so the same bytes). Version 2 adds ``version() -> (version)`` answering 2 and
``migrate(bonus)``, which adds the bonus to the total.
"""

from __future__ import annotations

import json
from pathlib import Path

import wasmtime

REVERT_MESSAGE = "no, not this"

_WAT = """
(module
  (import "causeway" "input_length" (func $input_length (result i32)))
  (import "causeway" "input_read" (func $input_read (param i32)))
  (import "causeway" "return_data" (func $return_data (param i32 i32)))
  (import "causeway" "revert" (func $revert (param i32 i32)))
  (import "causeway" "state_get" (func $state_get (param i32 i32 i32 i32) (result i32)))
  (import "causeway" "state_put" (func $state_put (param i32 i32 i32 i32)))
  (import "causeway" "emit" (func $emit (param i32 i32 i32 i32)))
  (import "causeway" "context_read" (func $context_read (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "total")
  (data (i32.const 16) "added")
  (data (i32.const 32) "no, not this")
  (data (i32.const 48) "bad input")
  ;; 64: the stored total (8 bytes); 1024: the input; 8192: the return data; 12288: an event.
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
  ;; The input's field 1 as a varint (0 when the input is empty: the default is left out).
  (func $first_varint (result i64)
    (local $position i32) (local $byte i32) (local $result i64) (local $shift i64)
    (if (i32.eqz (call $input_length)) (then (return (i64.const 0))))
    (call $input_read (i32.const 1024))
    (if (i32.ne (i32.load8_u (i32.const 1024)) (i32.const 8))
      (then (call $revert (i32.const 48) (i32.const 9))))
    (local.set $position (i32.const 1025))
    (loop $next
      (local.set $byte (i32.load8_u (local.get $position)))
      (local.set $result
        (i64.or (local.get $result)
                (i64.shl (i64.extend_i32_u (i32.and (local.get $byte) (i32.const 127)))
                         (local.get $shift))))
      (local.set $shift (i64.add (local.get $shift) (i64.const 7)))
      (local.set $position (i32.add (local.get $position) (i32.const 1)))
      (br_if $next (i32.and (local.get $byte) (i32.const 128))))
    (local.get $result))
  ;; Writes `value` as a varint at `pointer`; the pointer after it.
  (func $put_varint (param $pointer i32) (param $value i64) (result i32)
    (loop $next
      (if (i64.ge_u (local.get $value) (i64.const 128))
        (then
          (i32.store8 (local.get $pointer)
            (i32.or (i32.wrap_i64 (i64.and (local.get $value) (i64.const 127))) (i32.const 128)))
          (local.set $value (i64.shr_u (local.get $value) (i64.const 7)))
          (local.set $pointer (i32.add (local.get $pointer) (i32.const 1)))
          (br $next))))
    (i32.store8 (local.get $pointer) (i32.wrap_i64 (local.get $value)))
    (i32.add (local.get $pointer) (i32.const 1)))
  ;; A varint field with this tag byte, left out when it is 0; the pointer after it.
  (func $put_field (param $pointer i32) (param $tag i32) (param $value i64) (result i32)
    (if (result i32) (i64.eqz (local.get $value))
      (then (local.get $pointer))
      (else
        (i32.store8 (local.get $pointer) (local.get $tag))
        (call $put_varint (i32.add (local.get $pointer) (i32.const 1)) (local.get $value)))))
  (func $return_total (param $total i64)
    (call $return_data (i32.const 8192)
      (i32.sub (call $put_field (i32.const 8192) (i32.const 8) (local.get $total))
               (i32.const 8192))))
  (func (export "init") (call $store (call $first_varint)))
  (func (export "add")
    (local $amount i64) (local $total i64) (local $caller_length i32) (local $end i32)
    (local.set $amount (call $first_varint))
    (local.set $total (i64.add (call $load) (local.get $amount)))
    (call $store (local.get $total))
    (call $return_total (local.get $total))
    ;; added {1: by (the caller, a string), 2: amount, 3: total}
    (local.set $caller_length (call $context_read (i32.const 0) (i32.const 12290) (i32.const 120)))
    (i32.store8 (i32.const 12288) (i32.const 10))
    (i32.store8 (i32.const 12289) (local.get $caller_length))
    (local.set $end (i32.add (i32.const 12290) (local.get $caller_length)))
    (local.set $end (call $put_field (local.get $end) (i32.const 16) (local.get $amount)))
    (local.set $end (call $put_field (local.get $end) (i32.const 24) (local.get $total)))
    (call $emit (i32.const 16) (i32.const 5)
      (i32.const 12288) (i32.sub (local.get $end) (i32.const 12288))))
  (func (export "total") (call $return_total (call $load)))
  (func (export "fail") (call $revert (i32.const 32) (i32.const 12)))
  (func (export "echo")
    (local $length i32)
    (local.set $length (call $input_length))
    (call $input_read (i32.const 1024))
    (call $return_data (i32.const 1024) (local.get $length)))
  VERSION_TWO
)
"""
_VERSION_TWO = """
  (func (export "version") (call $return_total (i64.const 2)))
  (func (export "migrate") (call $store (i64.add (call $load) (call $first_varint))))
"""

_TOTAL = [{"name": "total", "type": "uint64"}]
_ECHOED = [
    {"name": "text", "type": "string"},
    {"name": "flag", "type": "bool"},
    {"name": "blob", "type": "bytes"},
    {"name": "offset", "type": "int64"},
]


def tally_wasm(version: int = 1) -> bytes:
    return bytes(
        wasmtime.wat2wasm(_WAT.replace("VERSION_TWO", _VERSION_TWO if version == 2 else ""))
    )


def tally_interface(version: int = 1) -> str:
    methods: list[dict[str, object]] = [
        {"name": "init", "arguments": [{"name": "start", "type": "uint64"}]},
        {
            "name": "add",
            "arguments": [{"name": "amount", "type": "uint64"}],
            "returns": _TOTAL,
        },
        {"name": "total", "read_only": True, "returns": _TOTAL},
        {"name": "fail"},
        {"name": "echo", "arguments": _ECHOED, "returns": _ECHOED},
    ]
    if version == 2:
        methods += [
            {
                "name": "version",
                "read_only": True,
                "returns": [{"name": "version", "type": "uint64"}],
            },
            {"name": "migrate", "arguments": [{"name": "bonus", "type": "uint64"}]},
        ]
    events = [
        {
            "name": "added",
            "fields": [
                {"name": "by", "type": "string"},
                {"name": "amount", "type": "uint64"},
                {"name": "total", "type": "uint64"},
            ],
        }
    ]
    return json.dumps({"abi": 1, "name": "tally", "methods": methods, "events": events}, indent=2)


def write_tally(directory: Path, version: int = 1, stem: str = "tally") -> Path:
    """``STEM.wasm`` and its sibling ``STEM.interface.json`` in ``directory``; the wasm's path."""
    directory.mkdir(parents=True, exist_ok=True)
    wasm = directory / f"{stem}.wasm"
    wasm.write_bytes(tally_wasm(version))
    (directory / f"{stem}.interface.json").write_text(tally_interface(version), encoding="utf-8")
    return wasm
