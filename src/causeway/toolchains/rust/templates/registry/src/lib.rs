//! A registry: names that members claim, each holding a value that only its owner can change.
//!
//! `register(name, value)` claims a free name for the caller; `update(name, value)` changes it,
//! by its owner only; `get(name)` returns its owner and value; `list(start_after, limit)` pages
//! through the names in order. `register` and `update` emit `registered` and `updated`, with
//! the name, the owner and the value.

#![no_std]

use causeway_contract::{self as contract, context, state, Arguments, String, Vec, Writer};

contract::abi_v1!();

/// Every record lives under this prefix, so that `list` can page through them with state_range.
const RECORD_PREFIX: &[u8] = b"record/";
const NAME_LENGTH_MAX: usize = 64;
const VALUE_BYTES_MAX: usize = 1024;
const LIST_LIMIT_DEFAULT: u32 = 10;
const LIST_LIMIT_MAX: u32 = 100;

/// A record: who owns the name and its value.
struct Record {
    owner: String,
    value: String,
}

fn record_key(name: &str) -> Vec<u8> {
    let mut key = Vec::from(RECORD_PREFIX);
    key.extend_from_slice(name.as_bytes());
    key
}

/// A name is 1 to 64 characters of letters, digits, '.', '_' and '-', so that `list` can
/// separate names with newlines.
fn check_name(name: &str) {
    let allowed = |character: u8| character.is_ascii_alphanumeric() || b"._-".contains(&character);
    if name.is_empty() || name.len() > NAME_LENGTH_MAX || !name.bytes().all(allowed) {
        contract::revert("the name must be 1 to 64 characters of letters, digits, '.', '_' or '-'");
    }
}

fn check_value(value: &str) {
    if value.len() > VALUE_BYTES_MAX {
        contract::revert("the value is longer than 1024 bytes");
    }
}

// A record is stored in the ABI's own encoding (owner = 1, value = 2), so the SDK's reader and
// writer serve for state as well as for arguments.
fn load(name: &str) -> Option<Record> {
    let bytes = state::get(&record_key(name))?;
    let fields = Arguments::new(bytes);
    Some(Record {
        owner: String::from(fields.string(1)),
        value: String::from(fields.string(2)),
    })
}

fn save(name: &str, record: &Record) {
    let mut bytes = Writer::new();
    bytes.string(1, &record.owner).string(2, &record.value);
    state::put(&record_key(name), bytes.as_bytes());
}

fn emit_change(event: &str, name: &str, record: &Record) {
    let mut data = Writer::new();
    data.string(1, name)
        .string(2, &record.owner)
        .string(3, &record.value);
    contract::emit(event, data.as_bytes());
}

#[no_mangle]
pub extern "C" fn register() {
    let arguments = contract::arguments();
    let (name, value) = (arguments.string(1), arguments.string(2));
    check_name(name);
    check_value(value);
    if load(name).is_some() {
        contract::revert("register: the name is already registered");
    }
    let record = Record {
        owner: context::caller(),
        value: String::from(value),
    };
    save(name, &record);
    emit_change("registered", name, &record);
}

#[no_mangle]
pub extern "C" fn update() {
    let arguments = contract::arguments();
    let (name, value) = (arguments.string(1), arguments.string(2));
    check_value(value);
    let mut record = match load(name) {
        Some(record) => record,
        None => contract::revert("update: the name is not registered"),
    };
    if record.owner != context::caller() {
        contract::revert("update: only the name's owner can update it");
    }
    record.value = String::from(value);
    save(name, &record);
    emit_change("updated", name, &record);
}

#[no_mangle]
pub extern "C" fn get() {
    let arguments = contract::arguments();
    let record = match load(arguments.string(1)) {
        Some(record) => record,
        None => contract::revert("get: the name is not registered"),
    };
    let mut result = Writer::new();
    result.string(1, &record.owner).string(2, &record.value);
    contract::return_data(result.as_bytes());
}

/// Returns up to `limit` names after `start_after` (empty: from the first), separated by
/// newlines, and `next`: the `start_after` of the following page, empty after the last page.
#[no_mangle]
pub extern "C" fn list() {
    let arguments = contract::arguments();
    let start_after = arguments.string(1);
    let limit = match arguments.uint32(2) {
        0 => LIST_LIMIT_DEFAULT,
        limit => limit.min(LIST_LIMIT_MAX),
    };
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
        // Keys are RECORD_PREFIX followed by a checked name: ASCII.
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
