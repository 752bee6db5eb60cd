//! The context of the call (`context_read`): who called, which contract runs, the block.

use alloc::string::String;
use alloc::vec::Vec;

use crate::host;

const CALLER: i32 = 0;
const CONTRACT: i32 = 1;
const HEIGHT: i32 = 2;
const TIME: i32 = 3;
const TRANSACTION: i32 = 4;
const CHAIN: i32 = 5;
const ORGANISATION: i32 = 6;

fn field(field: i32, capacity_hint: usize) -> Vec<u8> {
    // SAFETY: the host writes at most `capacity` bytes at the pointer, and only when the value
    // fits (the getter protocol).
    crate::read_getter(capacity_hint, |pointer, capacity| unsafe {
        host::context_read(field, pointer, capacity)
    })
    .unwrap_or_else(|| crate::revert("the host has no value for a context field"))
}

fn text(field_number: i32) -> String {
    String::from_utf8(field(field_number, 64))
        .unwrap_or_else(|_| crate::revert("the host gave a context field that is not UTF-8"))
}

fn little_endian_u64(field_number: i32) -> u64 {
    let bytes = field(field_number, 8);
    let array: [u8; 8] = bytes
        .as_slice()
        .try_into()
        .unwrap_or_else(|_| crate::revert("the host gave a context number that is not 8 bytes"));
    u64::from_le_bytes(array)
}

/// The sending member's id for a call from a transaction; `contract:NAME` for a call from
/// contract NAME.
pub fn caller() -> String {
    text(CALLER)
}

/// This contract's name.
pub fn contract() -> String {
    text(CONTRACT)
}

/// The block's height.
pub fn height() -> u64 {
    little_endian_u64(HEIGHT)
}

/// The block's time, milliseconds since the Unix epoch.
pub fn time_ms() -> u64 {
    little_endian_u64(TIME)
}

/// The transaction id.
pub fn transaction() -> Vec<u8> {
    field(TRANSACTION, 32)
}

/// The chain id.
pub fn chain() -> String {
    text(CHAIN)
}

/// The sending member's organisation.
pub fn organisation() -> String {
    text(ORGANISATION)
}
