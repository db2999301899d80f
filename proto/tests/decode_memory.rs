//! Decoding never allocates more than the input could hold: a counting
//! allocator measures the peak bytes live during each decode.
//!
//! This file holds a single test so no other test thread allocates while
//! it measures.

use chan::sys::CountingAllocator;
use proptest::prelude::*;
use proto::xdr::Opaque;
use proto::Decode;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

fn peak_during(f: impl FnOnce()) -> usize {
    ALLOC.peak_during(f)
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
