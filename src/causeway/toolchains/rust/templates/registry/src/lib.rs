//! A registry: anyone registers a free name with a value; the name's owner alone updates it.
//!
//! Records live in the contract's state under "record/" + name, each encoded with the same
//! protobuf Writer as arguments and results: owner (1), value (2). `list` pages through them in
//! name order with state::range. `register` and `update` emit `registered` and `updated`, with
//! the name, the owner and the value. (The rules and messages are the AssemblyScript
//! template's, so that the two can be compared.)

#![no_std]

use causeway_contract::{self as contract, context, state, Arguments, String, Vec, Writer};

contract::abi_v1!();

const RECORD_PREFIX: &[u8] = b"record/";
/// A state key is at most 256 bytes: the prefix and the name must fit.
const NAME_BYTES_MAX: usize = 128;
const PAGE_DEFAULT: u32 = 10;
const PAGE_MAX: u32 = 100;

fn record_key(name: &str) -> Vec<u8> {
    let mut key = Vec::from(RECORD_PREFIX);
    key.extend_from_slice(name.as_bytes());
    key
}

fn check_name(name: &str) {
    if name.is_empty() || name.len() > NAME_BYTES_MAX {
        contract::revert("the name must be 1 to 128 bytes");
    }
    // `list` returns names one per line.
    if name.contains('\n') {
        contract::revert("the name must not contain a line break");
    }
}

/// The event data of `registered` and `updated`: name (1), owner (2), value (3).
fn emit_record(event: &str, name: &str, owner: &str, value: &str) {
    let mut data = Writer::new();
    data.string(1, name).string(2, owner).string(3, value);
    contract::emit(event, data.as_bytes());
}

/// A record in the ABI's own encoding (owner = 1, value = 2): the SDK's reader and writer
/// serve for state as well as for arguments.
fn save(name: &str, owner: &str, value: &str) {
    let mut record = Writer::new();
    record.string(1, owner).string(2, value);
    state::put(&record_key(name), record.as_bytes());
}

/// The record of `name`; reverts, naming `method`, when there is none.
fn load(name: &str, method: &str) -> Arguments {
    match state::get(&record_key(name)) {
        Some(record) => Arguments::new(record),
        None => contract::revert_with(&[method, ": ", name, " is not registered"]),
    }
}

/// Registers `name` with `value`, owned by the caller. A name is registered once.
#[no_mangle]
pub extern "C" fn register() {
    let arguments = contract::arguments();
    let (name, value) = (arguments.string(1), arguments.string(2));
    check_name(name);
    if state::get(&record_key(name)).is_some() {
        contract::revert_with(&["register: ", name, " is already registered"]);
    }
    let owner = context::caller();
    save(name, &owner, value);
    emit_record("registered", name, &owner, value);
}

/// Sets the value of `name`; only its owner may.
#[no_mangle]
pub extern "C" fn update() {
    let arguments = contract::arguments();
    let (name, value) = (arguments.string(1), arguments.string(2));
    let record = load(name, "update");
    let owner = record.string(1);
    if owner != context::caller() {
        contract::revert_with(&["update: ", name, " belongs to ", owner]);
    }
    save(name, owner, value);
    emit_record("updated", name, owner, value);
}

/// The owner and value of `name`.
#[no_mangle]
pub extern "C" fn get() {
    let name = contract::arguments();
    let record = load(name.string(1), "get");
    let mut result = Writer::new();
    result
        .string(1, record.string(1))
        .string(2, record.string(2));
    contract::return_data(result.as_bytes());
}

/// At most `limit` names (0: 10; at most 100) after `start_after`, in order, one per line, and
/// `next`: the name to pass as `start_after` for the next page, or "" after the last page.
#[no_mangle]
pub extern "C" fn list() {
    let arguments = contract::arguments();
    let start_after = arguments.string(1);
    let limit = match arguments.uint32(2) {
        0 => PAGE_DEFAULT,
        limit => limit,
    };
    if limit > PAGE_MAX {
        contract::revert("list: the limit is at most 100");
    }
    // State keys are whole keys: page on after the record key of `start_after`.
    let start_after_key = if start_after.is_empty() {
        Vec::new()
    } else {
        record_key(start_after)
    };
    // One entry more than asked tells whether another page follows.
    let entries = state::range(RECORD_PREFIX, &start_after_key, limit + 1);
    let page = &entries[..entries.len().min(limit as usize)];
    let mut names = String::new();
    for (index, entry) in page.iter().enumerate() {
        if index > 0 {
            names.push('\n');
        }
        // Keys are RECORD_PREFIX followed by a name that was a valid string.
        names.push_str(core::str::from_utf8(&entry.key[RECORD_PREFIX.len()..]).unwrap_or(""));
    }
    let next = match (entries.len() > page.len(), page.last()) {
        (true, Some(last)) => core::str::from_utf8(&last.key[RECORD_PREFIX.len()..]).unwrap_or(""),
        _ => "",
    };
    let mut result = Writer::new();
    result.string(1, &names).string(2, next);
    contract::return_data(result.as_bytes());
}
