//! A token: a fixed supply minted to the deployer, transfers between members, balances.
//!
//! `init(supply)` mints the whole supply to the caller of the deployment; `transfer(to, amount)`
//! moves tokens from the caller to `to`; `balance(owner)` and `total_supply()` are read-only.
//! Every movement, the mint included (from ""), emits the event
//! `transfer(from, to, amount)`.

#![no_std]

use causeway_contract::{self as contract, context, state, String, Vec, Writer};

contract::abi_v1!();

const TOTAL_SUPPLY: &[u8] = b"total_supply";

/// The state key of an owner's balance: "balance/" followed by the owner's member id.
fn balance_key(owner: &str) -> Vec<u8> {
    let mut key = Vec::from(&b"balance/"[..]);
    key.extend_from_slice(owner.as_bytes());
    key
}

fn emit_transfer(from: &str, to: &str, amount: u64) {
    // The event's fields in the interface's order: from = 1, to = 2, amount = 3.
    let mut data = Writer::new();
    data.string(1, from).string(2, to).uint64(3, amount);
    contract::emit("transfer", data.as_bytes());
}

#[no_mangle]
pub extern "C" fn init() {
    let supply = contract::arguments().uint64(1);
    let owner: String = context::caller();
    state::put_u64(TOTAL_SUPPLY, supply);
    state::put_u64(&balance_key(&owner), supply);
    emit_transfer("", &owner, supply);
}

#[no_mangle]
pub extern "C" fn transfer() {
    let arguments = contract::arguments();
    let to = arguments.string(1);
    let amount = arguments.uint64(2);
    if to.is_empty() {
        contract::revert("transfer: the recipient is empty");
    }
    let from = context::caller();
    let from_key = balance_key(&from);
    let from_balance = state::get_u64(&from_key);
    if from_balance < amount {
        // decimal() and revert_with() build the message without core::fmt (see the SDK).
        contract::revert_with(&[
            "transfer: insufficient balance: ",
            &from,
            " has ",
            contract::decimal(from_balance).as_str(),
            ", needs ",
            contract::decimal(amount).as_str(),
        ]);
    }
    // Debit first, then read the recipient's balance: a transfer to oneself then leaves the
    // balance as it was instead of minting `amount`.
    state::put_u64(&from_key, from_balance - amount);
    let to_key = balance_key(to);
    // Cannot overflow: every balance is part of the fixed supply.
    state::put_u64(&to_key, state::get_u64(&to_key) + amount);
    emit_transfer(&from, to, amount);
}

#[no_mangle]
pub extern "C" fn balance() {
    let owner = contract::arguments();
    let amount = state::get_u64(&balance_key(owner.string(1)));
    contract::return_data(Writer::new().uint64(1, amount).as_bytes());
}

#[no_mangle]
pub extern "C" fn total_supply() {
    let amount = state::get_u64(TOTAL_SUPPLY);
    contract::return_data(Writer::new().uint64(1, amount).as_bytes());
}
