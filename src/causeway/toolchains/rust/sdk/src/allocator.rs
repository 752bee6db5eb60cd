//! A bump allocator: the heap only grows, from `__heap_base` (where the linker ends the data and
//! the stack) towards the end of memory, which it grows a page at a time.
//!
//! Why so simple: the chain instantiates a contract afresh for every call, so nothing lives
//! longer than one call and freeing is not worth its code or its fuel. Two cheap exceptions
//! keep a growing `Vec` from wasting memory: freeing the latest block gives it back, and growing
//! the latest block extends it in place. When memory cannot grow (the chain's limit), the
//! allocation fails and the call reverts with "out of memory".

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;

const PAGE_BYTES: usize = 65_536;

extern "C" {
    // Defined by the linker (wasm-ld): the first byte after the data and the stack.
    static __heap_base: u8;
}

pub struct BumpAllocator;

// One instance runs one call on one thread: plain statics are enough.
static mut NEXT: usize = 0;
static mut LATEST: usize = 0;

unsafe fn next() -> usize {
    if NEXT == 0 {
        NEXT = &__heap_base as *const u8 as usize;
    }
    NEXT
}

/// Makes `[0, end)` addressable, growing the memory if needed; false when it cannot.
unsafe fn ensure_memory(end: usize) -> bool {
    let available = wasm32::memory_size(0) * PAGE_BYTES;
    if end <= available {
        return true;
    }
    let missing_pages = (end - available + PAGE_BYTES - 1) / PAGE_BYTES;
    wasm32::memory_grow(0, missing_pages) != usize::MAX
}

unsafe impl GlobalAlloc for BumpAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let start = match next().checked_add(layout.align() - 1) {
            Some(unaligned) => unaligned & !(layout.align() - 1),
            None => return core::ptr::null_mut(),
        };
        let end = match start.checked_add(layout.size()) {
            Some(end) => end,
            None => return core::ptr::null_mut(),
        };
        if !ensure_memory(end) {
            return core::ptr::null_mut();
        }
        NEXT = end;
        LATEST = start;
        start as *mut u8
    }

    unsafe fn dealloc(&self, pointer: *mut u8, _layout: Layout) {
        if pointer as usize == LATEST {
            NEXT = LATEST;
            LATEST = 0;
        }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if pointer as usize == LATEST {
            let end = match LATEST.checked_add(new_size) {
                Some(end) => end,
                None => return core::ptr::null_mut(),
            };
            if !ensure_memory(end) {
                return core::ptr::null_mut();
            }
            NEXT = end;
            return pointer;
        }
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let new_pointer = self.alloc(new_layout);
        if !new_pointer.is_null() {
            core::ptr::copy_nonoverlapping(pointer, new_pointer, layout.size().min(new_size));
        }
        new_pointer
    }
}
