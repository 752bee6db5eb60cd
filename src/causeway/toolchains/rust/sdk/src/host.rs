//! The host module `causeway` of ABI v1, exactly as docs/contract-abi.md lists it.
//!
//! Every pointer and length is an `i32` on the wire (`wasm32` pointers are 32 bits). Prefer the
//! safe wrappers of the crate root; these are here for what they do not cover.

#[link(wasm_import_module = "causeway")]
extern "C" {
    pub fn input_length() -> i32;
    pub fn input_read(pointer: *mut u8);
    pub fn context_read(field: i32, pointer: *mut u8, capacity: i32) -> i32;
    pub fn return_data(pointer: *const u8, length: i32);
    // Declared returning `()` as the ABI says; the wrapper `crate::revert` traps after it in case
    // a host ever returned, so that no code runs after a revert.
    pub fn revert(pointer: *const u8, length: i32);
    pub fn state_get(
        key_pointer: *const u8,
        key_length: i32,
        value_pointer: *mut u8,
        value_capacity: i32,
    ) -> i32;
    pub fn state_put(
        key_pointer: *const u8,
        key_length: i32,
        value_pointer: *const u8,
        value_length: i32,
    );
    pub fn state_delete(key_pointer: *const u8, key_length: i32);
    pub fn state_range(
        prefix_pointer: *const u8,
        prefix_length: i32,
        start_after_pointer: *const u8,
        start_after_length: i32,
        limit: i32,
        out_pointer: *mut u8,
        out_capacity: i32,
    ) -> i32;
    pub fn emit(
        name_pointer: *const u8,
        name_length: i32,
        data_pointer: *const u8,
        data_length: i32,
    );
    pub fn call(
        contract_pointer: *const u8,
        contract_length: i32,
        method_pointer: *const u8,
        method_length: i32,
        input_pointer: *const u8,
        input_length: i32,
        gas: i64,
    ) -> i32;
    pub fn result_read(pointer: *mut u8, capacity: i32) -> i32;
    pub fn hash(data_pointer: *const u8, data_length: i32, out_pointer: *mut u8);
    #[allow(clippy::too_many_arguments)]
    pub fn verify_signature(
        algorithm_pointer: *const u8,
        algorithm_length: i32,
        key_pointer: *const u8,
        key_length: i32,
        message_pointer: *const u8,
        message_length: i32,
        signature_pointer: *const u8,
        signature_length: i32,
    ) -> i32;
}
