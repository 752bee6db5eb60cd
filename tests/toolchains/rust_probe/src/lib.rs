//! Every function of the SDK, reachable from a test: each method passes its arguments to one
//! SDK function and returns what it gave.

#![no_std]

use causeway_contract::{self as contract, context, state, vec, Vec, Writer};

contract::abi_v1!();

fn give(result: &Writer) {
    contract::return_data(result.as_bytes());
}

#[no_mangle]
pub extern "C" fn context() {
    let mut result = Writer::new();
    result
        .string(1, &context::caller())
        .string(2, &context::contract())
        .uint64(3, context::height())
        .uint64(4, context::time_ms())
        .bytes(5, &context::transaction())
        .string(6, &context::chain())
        .string(7, &context::organisation());
    give(&result);
}

#[no_mangle]
pub extern "C" fn echo() {
    let arguments = contract::arguments();
    let mut result = Writer::new();
    result
        .bool(1, arguments.bool(1))
        .uint32(2, arguments.uint32(2))
        .uint64(3, arguments.uint64(3))
        .int64(4, arguments.int64(4))
        .string(5, arguments.string(5))
        .bytes(6, arguments.bytes(6));
    give(&result);
}

#[no_mangle]
pub extern "C" fn out_of_order() {
    // The default value of field 2 is left out, but the order is checked all the same.
    Writer::new().uint64(2, 0).uint64(1, 1);
}

#[no_mangle]
pub extern "C" fn put() {
    let arguments = contract::arguments();
    state::put(arguments.bytes(1), arguments.bytes(2));
}

#[no_mangle]
pub extern "C" fn get() {
    let arguments = contract::arguments();
    let mut result = Writer::new();
    match state::get(arguments.bytes(1)) {
        Some(value) => result.bytes(1, &value).bool(2, true),
        None => result.bool(2, false),
    };
    give(&result);
}

#[no_mangle]
pub extern "C" fn delete() {
    state::delete(contract::arguments().bytes(1));
}

#[no_mangle]
pub extern "C" fn range() {
    let arguments = contract::arguments();
    let entries = state::range(arguments.bytes(1), arguments.bytes(2), arguments.uint32(3));
    // Each entry as key=value and a newline.
    let mut listed = Vec::new();
    for entry in entries {
        listed.extend_from_slice(&entry.key);
        listed.push(b'=');
        listed.extend_from_slice(&entry.value);
        listed.push(b'\n');
    }
    give(Writer::new().bytes(1, &listed));
}

#[no_mangle]
pub extern "C" fn emit() {
    let arguments = contract::arguments();
    contract::emit(arguments.string(1), arguments.bytes(2));
}

#[no_mangle]
pub extern "C" fn hash() {
    give(Writer::new().bytes(1, &contract::hash(contract::arguments().bytes(1))));
}

#[no_mangle]
pub extern "C" fn verify() {
    let arguments = contract::arguments();
    let valid = contract::verify_signature(
        arguments.string(1),
        arguments.bytes(2),
        arguments.bytes(3),
        arguments.bytes(4),
    );
    give(Writer::new().bool(1, valid));
}

#[no_mangle]
pub extern "C" fn call_other() {
    let arguments = contract::arguments();
    let called = contract::call(
        arguments.string(1),
        arguments.string(2),
        arguments.bytes(3),
        arguments.uint64(4),
    );
    let mut result = Writer::new();
    result
        .uint32(1, called.status as u32)
        .bytes(2, &called.data)
        .bool(3, called.is_ok());
    give(&result);
}

#[no_mangle]
pub extern "C" fn allocate() {
    let length = contract::arguments().uint64(1) as usize;
    let block = vec![1u8; length];
    // The block's tail leaves through the host, so the allocation cannot be optimised away.
    give(Writer::new().bytes(1, &block[length.saturating_sub(4)..]));
}

#[no_mangle]
pub extern "C" fn fail() {
    contract::revert(contract::arguments().string(1));
}
