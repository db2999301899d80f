//! Decoding never allocates more than the input could hold: a counting
//! allocator measures the peak bytes live during each decode.
//!
//! This file holds a single test so no other test thread allocates while
//! it measures.

use proptest::prelude::*;
use proto::xdr::Opaque;
use proto::Decode;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// The allocator only forwards to `System` and counts; this is the one
// place outside chan's syscall layer that needs `unsafe`, and only because
// GlobalAlloc is an unsafe trait.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(live, Relaxed);
        // SAFETY: same contract as the caller's; we forward unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: ptr came from System.alloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak bytes allocated (above what was live before) while running `f`.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    f();
    PEAK.load(Relaxed) - base
}

/// Each decoded element costs at most its in-memory size (24 bytes for a
/// String or Vec header) per 4 input bytes, plus the bytes it copies.
const BYTES_PER_INPUT_BYTE: usize = 8;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn decode_allocation_is_bounded_by_input(bytes in prop::collection::vec(any::<u8>(), 0..512), claim: u32) {
        let mut input = claim.to_be_bytes().to_vec();
        input.extend_from_slice(&bytes);
        let bound = BYTES_PER_INPUT_BYTE * input.len() + 64;
        let peaks = [
            peak_during(|| { let _ = Vec::<u64>::from_body(&input); }),
            peak_during(|| { let _ = Vec::<String>::from_body(&input); }),
            peak_during(|| { let _ = Vec::<Vec<u32>>::from_body(&input); }),
            peak_during(|| { let _ = Vec::<Opaque>::from_body(&input); }),
        ];
        for peak in peaks {
            prop_assert!(peak <= bound, "peak {} > bound {} for {} input bytes", peak, bound, input.len());
        }
    }
}
