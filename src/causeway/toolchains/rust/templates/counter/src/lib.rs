//! A counter: the smallest contract that keeps state.
//!
//! `init(start)` runs once at deployment; `increment()` adds one and returns the new value;
//! `get()` returns it (read-only, run as a query).

#![no_std]

use causeway_contract::{self as contract, state, Writer};

// The version marker the chain looks for: this module speaks ABI v1.
contract::abi_v1!();

/// The one state key. Every contract has its own namespace, so short keys are fine (the same
/// key as the AssemblyScript template's, so that the two leave the same state).
const COUNT: &[u8] = b"count";

/// Returns `value` as the result: field 1, as the interface's `returns` lists it.
fn return_value(value: u64) {
    contract::return_data(Writer::new().uint64(1, value).as_bytes());
}

#[no_mangle]
pub extern "C" fn init() {
    let start = contract::arguments().uint64(1);
    state::put_u64(COUNT, start);
}

#[no_mangle]
pub extern "C" fn increment() {
    let count = state::get_u64(COUNT);
    // A revert undoes every write of the call and fails the transaction with this message.
    // (Without this check, overflow-checks in Cargo.toml would make `count + 1` panic, which
    // reverts too, with the panic's message.)
    if count == u64::MAX {
        contract::revert("the counter is at its maximum");
    }
    state::put_u64(COUNT, count + 1);
    return_value(count + 1);
}

#[no_mangle]
pub extern "C" fn get() {
    return_value(state::get_u64(COUNT));
}
