//! The global allocator: mimalloc, asked for plain `mi_malloc` whenever that already gives the
//! alignment a layout needs.
//!
//! `mimalloc::MiMalloc` passes every allocation to `mi_malloc_aligned`, whose fast path only
//! serves a block when the page's next free block happens to be aligned and present; otherwise
//! it takes mimalloc's generic aligned path (and over-allocates for block sizes that are not a
//! power of two). In fan-in QoS 1 that was 43 % of the broker's allocations and ~6 % of its
//! instructions (docs/PERFORMANCE.md, "Performance II: profiles"). `mi_malloc` returns blocks
//! aligned to 16 bytes (its `MI_MAX_ALIGN_SIZE`, as C's `malloc`) for sizes of 16 and more, and to
//! the size's own power of two below that; the rule here is std's `System` allocator's: plain
//! allocation when `align <= MIN_ALIGN && align <= size`, the aligned call otherwise (tokio's
//! 128-byte aligned task cells, for instance).

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// The alignment `mi_malloc` guarantees for blocks at least this large.
const MIN_ALIGN: usize = 16;

pub struct Allocator;

/// Whether `mi_malloc` of `size` bytes is aligned enough for `align`.
#[inline]
fn plain(align: usize, size: usize) -> bool {
    align <= MIN_ALIGN && align <= size
}

// SAFETY: every block comes from mimalloc, aligned as the layout asks (plain blocks by the
// guarantee above, the others by the aligned calls), and `mi_free`/`mi_realloc*` accept blocks
// from either call.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if plain(layout.align(), layout.size()) {
            mi::mi_malloc(layout.size()) as *mut u8
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if plain(layout.align(), layout.size()) {
            mi::mi_zalloc(layout.size()) as *mut u8
        } else {
            mi::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi::mi_free(ptr as *mut c_void);
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if plain(layout.align(), new_size) {
            mi::mi_realloc(ptr as *mut c_void, new_size) as *mut u8
        } else {
            mi::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every size and alignment the rule sends to `mi_malloc` comes back aligned.
    #[test]
    fn plain_blocks_are_aligned_as_asked() {
        let a = Allocator;
        for size in 1..=2048usize {
            for align in [1usize, 2, 4, 8, 16, 32, 64, 128] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a non-zero size; the block is freed with the same layout.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    let q = a.realloc(p, layout, size * 2);
                    assert_eq!(q as usize % align, 0, "realloc {size} align {align}");
                    a.dealloc(q, Layout::from_size_align(size * 2, align).unwrap());
                }
            }
        }
    }
}
