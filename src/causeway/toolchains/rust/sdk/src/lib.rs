//! Write Causeway user contracts in Rust: ABI v1 of docs/contract-abi.md.
//!
//! A contract is a `cdylib` crate built for `wasm32-unknown-unknown`. It declares the ABI version
//! once and exports each method as a `#[no_mangle] pub extern "C" fn NAME()` taking and
//! returning nothing: a method reads its input and writes its result through the host.
//!
//! ```ignore
//! #![no_std]
//! use causeway_contract::{self as contract, state, Writer};
//!
//! contract::abi_v1!();
//!
//! #[no_mangle]
//! pub extern "C" fn increment() {
//!     let value = state::get_u64(b"value") + 1;
//!     state::put_u64(b"value", value);
//!     contract::return_data(Writer::new().uint64(1, value).as_bytes());
//! }
//! ```
//!
//! What this crate provides besides the wrappers of the host functions:
//!
//! * a bump allocator as the global allocator, so `alloc` (`Vec`, `String`, `format!`) works;
//! * a panic handler that reverts the call with the panic's message (`panicked at 'message',
//!   src/lib.rs:LINE:COLUMN`), and an allocation-failure handler that reverts with
//!   "out of memory";
//! * [`Arguments`] and [`Writer`], the protobuf wire encoding of arguments, results and events.
//!
//! It has no dependencies and builds with Debian's rustc 1.63 offline. One unstable attribute
//! is used, `#[alloc_error_handler]`: before Rust 1.68 a `no_std` crate that uses `alloc` cannot
//! build without it. The project's `.cargo/config.toml` allows it for this crate only
//! (`RUSTC_BOOTSTRAP = "causeway_contract"`); nothing else in a contract can use unstable
//! features.

#![no_std]
#![feature(alloc_error_handler)]

extern crate alloc;

#[cfg(not(target_arch = "wasm32"))]
compile_error!(
    "causeway-contract builds only for WebAssembly: cargo build --target wasm32-unknown-unknown"
);

mod allocator;
pub mod context;
pub mod host;
pub mod state;
pub mod wire;

pub use alloc::{borrow::ToOwned, format, string::String, string::ToString, vec, vec::Vec};
pub use wire::{Arguments, Writer};

/// The result status of a [`call`] that succeeded (`RESULT_STATUS_OK`).
pub const STATUS_OK: i32 = 1;

#[global_allocator]
static ALLOCATOR: allocator::BumpAllocator = allocator::BumpAllocator;

/// Exports the version marker `causeway_abi_v1` (never called): the chain refuses a module
/// without it. Write `causeway_contract::abi_v1!();` once in the contract's crate root.
#[macro_export]
macro_rules! abi_v1 {
    () => {
        #[no_mangle]
        pub extern "C" fn causeway_abi_v1() {}
    };
}

/// Ends the call at once: every write of the call is undone and the transaction fails with
/// this message.
pub fn revert(message: &str) -> ! {
    // SAFETY: a live slice.
    unsafe { host::revert(message.as_ptr(), message.len() as i32) };
    // The host never returns from revert; trap in case one did.
    core::arch::wasm32::unreachable()
}

/// Reverts with a message made of `pieces`. The SDK builds its messages this way rather than
/// with `format!`, whose machinery would add kilobytes to every contract.
pub fn revert_with(pieces: &[&str]) -> ! {
    let mut message = String::new();
    for piece in pieces {
        message.push_str(piece);
    }
    revert(&message)
}

/// A number in decimal, for [`revert_with`] (`decimal(7).as_str()`), without `core::fmt`.
pub fn decimal(mut value: u64) -> Decimal {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    Decimal { digits, start }
}

pub struct Decimal {
    digits: [u8; 20],
    start: usize,
}

impl Decimal {
    pub fn as_str(&self) -> &str {
        // SAFETY: only ASCII digits from `start` on.
        unsafe { core::str::from_utf8_unchecked(&self.digits[self.start..]) }
    }
}

/// The call's input: the encoded arguments.
pub fn input() -> Vec<u8> {
    // SAFETY: the host writes exactly `input_length()` bytes, and the buffer holds that many.
    unsafe {
        let length = host::input_length();
        let length = usize::try_from(length).unwrap_or_else(|_| revert("negative input length"));
        let mut bytes = Vec::with_capacity(length);
        host::input_read(bytes.as_mut_ptr());
        bytes.set_len(length);
        bytes
    }
}

/// The call's input read as arguments (fields 1, 2, ... in the interface's order). Malformed
/// input reverts here, before the contract does anything.
pub fn arguments() -> Arguments {
    Arguments::new(input())
}

/// Sets the call's result (the last one wins); usually a [`Writer`]'s bytes.
pub fn return_data(bytes: &[u8]) {
    // SAFETY: a live slice.
    unsafe { host::return_data(bytes.as_ptr(), bytes.len() as i32) }
}

/// Emits an event of this contract; `data` is usually a [`Writer`]'s bytes, with the event's
/// fields as the interface lists them.
pub fn emit(name: &str, data: &[u8]) {
    // SAFETY: live slices.
    unsafe {
        host::emit(
            name.as_ptr(),
            name.len() as i32,
            data.as_ptr(),
            data.len() as i32,
        )
    }
}

/// What another contract's method gave back: its result status and its return data, or its
/// message when it failed.
pub struct CallResult {
    pub status: i32,
    pub data: Vec<u8>,
}

impl CallResult {
    pub fn is_ok(&self) -> bool {
        self.status == STATUS_OK
    }
}

/// Calls `method` of `contract` with encoded `input` and at most `gas` gas (0: all that is
/// left). A callee that fails has its writes undone and this call goes on: check the status.
pub fn call(contract: &str, method: &str, input: &[u8], gas: u64) -> CallResult {
    // SAFETY: live slices.
    let status = unsafe {
        host::call(
            contract.as_ptr(),
            contract.len() as i32,
            method.as_ptr(),
            method.len() as i32,
            input.as_ptr(),
            input.len() as i32,
            i64::try_from(gas).unwrap_or(i64::MAX),
        )
    };
    // SAFETY: the getter protocol.
    let data = read_getter(64, |pointer, capacity| unsafe {
        host::result_read(pointer, capacity)
    })
    .unwrap_or_default();
    CallResult { status, data }
}

/// The 32-byte hash of `data` with the chain's hash function (SHA-256 or SM3).
pub fn hash(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // SAFETY: `out` has the 32 bytes the host writes.
    unsafe { host::hash(data.as_ptr(), data.len() as i32, out.as_mut_ptr()) };
    out
}

/// Whether `signature` over `message` is valid for the raw public `key`; `algorithm` is
/// `ecdsa-p256`, `ed25519` or `sm2`.
pub fn verify_signature(algorithm: &str, key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    // SAFETY: live slices.
    let valid = unsafe {
        host::verify_signature(
            algorithm.as_ptr(),
            algorithm.len() as i32,
            key.as_ptr(),
            key.len() as i32,
            message.as_ptr(),
            message.len() as i32,
            signature.as_ptr(),
            signature.len() as i32,
        )
    };
    valid == 1
}

/// The getter protocol of ABI v1: `get(pointer, capacity)` returns the value's full length, or
/// -1 when there is none, and writes only when the value fits; when it does not, ask again with
/// a buffer of that length. `capacity_hint` is the first buffer's size: a good guess saves a
/// host call.
pub(crate) fn read_getter(
    capacity_hint: usize,
    mut get: impl FnMut(*mut u8, i32) -> i32,
) -> Option<Vec<u8>> {
    let mut buffer: Vec<u8> = Vec::with_capacity(capacity_hint);
    loop {
        let capacity = i32::try_from(buffer.capacity()).unwrap_or(i32::MAX);
        let length = get(buffer.as_mut_ptr(), capacity);
        if length < 0 {
            return None;
        }
        let length = length as usize;
        if length <= capacity as usize {
            // SAFETY: the host wrote `length` bytes into the buffer.
            unsafe { buffer.set_len(length) };
            return Some(buffer);
        }
        buffer.reserve_exact(length);
    }
}

/// Formats into a fixed buffer without allocating: a panic may come from a failed allocation.
struct MessageBuffer {
    bytes: [u8; 256],
    length: usize,
}

impl core::fmt::Write for MessageBuffer {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        // Truncate at a character boundary, so that the message stays UTF-8.
        let room = self.bytes.len() - self.length;
        let mut take = text.len().min(room);
        while !text.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[self.length..self.length + take].copy_from_slice(&text.as_bytes()[..take]);
        self.length += take;
        Ok(())
    }
}

#[panic_handler]
fn panic(information: &core::panic::PanicInfo) -> ! {
    let mut message = MessageBuffer {
        bytes: [0; 256],
        length: 0,
    };
    let _ = core::fmt::write(&mut message, format_args!("{}", information));
    // SAFETY: MessageBuffer holds only whole UTF-8 characters.
    revert(unsafe { core::str::from_utf8_unchecked(&message.bytes[..message.length]) })
}

#[alloc_error_handler]
fn out_of_memory(_layout: core::alloc::Layout) -> ! {
    revert("out of memory")
}
