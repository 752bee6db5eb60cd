//! The contract's own state: keys of 1 to 256 bytes, values of at most 65,536 bytes. The host
//! keeps every contract in its own namespace, so a key needs no contract prefix.

use alloc::vec::Vec;

use crate::host;

/// The value under `key`, or None.
pub fn get(key: &[u8]) -> Option<Vec<u8>> {
    // SAFETY: the getter protocol: the host writes only when the value fits the capacity.
    crate::read_getter(64, |pointer, capacity| unsafe {
        host::state_get(key.as_ptr(), key.len() as i32, pointer, capacity)
    })
}

/// A `u64` stored little-endian under `key` (as [`put_u64`] writes it); 0 when absent.
pub fn get_u64(key: &[u8]) -> u64 {
    match get(key) {
        None => 0,
        Some(value) => match <[u8; 8]>::try_from(value.as_slice()) {
            Ok(array) => u64::from_le_bytes(array),
            Err(_) => crate::revert("a stored number is not 8 bytes"),
        },
    }
}

pub fn put(key: &[u8], value: &[u8]) {
    // SAFETY: both ranges are live slices.
    unsafe {
        host::state_put(
            key.as_ptr(),
            key.len() as i32,
            value.as_ptr(),
            value.len() as i32,
        )
    }
}

/// Writes `value` as 8 bytes little-endian.
pub fn put_u64(key: &[u8], value: u64) {
    put(key, &value.to_le_bytes())
}

/// Deletes the value under `key`; nothing happens when there is none.
pub fn delete(key: &[u8]) {
    // SAFETY: a live slice.
    unsafe { host::state_delete(key.as_ptr(), key.len() as i32) }
}

/// One state entry of a [`range`] page.
pub struct Entry {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// One page of at most `limit` entries whose keys start with `prefix`, in key order, after the
/// key `start_after` (empty: from the first). To page on, pass the last key of a page as the
/// next `start_after`; a page shorter than `limit` is the last.
/// The host allows pages of 1 to 1,000 entries; a limit of 0 gives an empty page without asking.
pub fn range(prefix: &[u8], start_after: &[u8], limit: u32) -> Vec<Entry> {
    if limit == 0 {
        return Vec::new();
    }
    let limit = i32::try_from(limit).unwrap_or(i32::MAX);
    // SAFETY: the getter protocol, as for `get`.
    let page = crate::read_getter(256, |pointer, capacity| unsafe {
        host::state_range(
            prefix.as_ptr(),
            prefix.len() as i32,
            start_after.as_ptr(),
            start_after.len() as i32,
            limit,
            pointer,
            capacity,
        )
    })
    .unwrap_or_default();
    decode_page(&page)
}

/// The page: each entry `u32` key length, key, `u32` value length, value (little-endian).
fn decode_page(page: &[u8]) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut position = 0;
    while position < page.len() {
        let key = take_sized(page, &mut position);
        let value = take_sized(page, &mut position);
        entries.push(Entry { key, value });
    }
    entries
}

fn take_sized(page: &[u8], position: &mut usize) -> Vec<u8> {
    let malformed = || -> ! { crate::revert("the host gave a malformed state_range page") };
    let length_bytes = page
        .get(*position..*position + 4)
        .unwrap_or_else(|| malformed());
    let length =
        u32::from_le_bytes(length_bytes.try_into().unwrap_or_else(|_| malformed())) as usize;
    let start = *position + 4;
    let end = start.checked_add(length).unwrap_or_else(|| malformed());
    let bytes = page.get(start..end).unwrap_or_else(|| malformed());
    *position = end;
    bytes.to_vec()
}
