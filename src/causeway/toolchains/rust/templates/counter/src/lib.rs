//! A counter: the smallest contract that keeps state.
//!
//! `init(start)` runs once at deployment; `increment()` adds one and returns the new value;
//! `get()` returns it (read-only, run as a query).

#![no_std]

use causeway_contract::{self as contract, state, Writer};

// The version marker the chain looks for: this module speaks ABI v1.
contract::abi_v1!();

/// The one state key. Every contract has its own namespace, so short keys are fine.
const VALUE: &[u8] = b"value";

/// Returns `value` as the result: field 1, as the interface's `returns` lists it.
fn return_value(value: u64) {
    contract::return_data(Writer::new().uint64(1, value).as_bytes());
}

#[no_mangle]
pub extern "C" fn init() {
    let start = contract::arguments().uint64(1);
    state::put_u64(VALUE, start);
}

#[no_mangle]
pub extern "C" fn increment() {
    // overflow-checks (Cargo.toml) turn an overflow into a panic, which reverts the call.
    let value = state::get_u64(VALUE) + 1;
    state::put_u64(VALUE, value);
    return_value(value);
}

#[no_mangle]
pub extern "C" fn get() {
    return_value(state::get_u64(VALUE));
}
