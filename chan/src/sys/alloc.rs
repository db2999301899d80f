//! A global allocator wrapper that counts, for tests and benchmarks that
//! check "no allocation per message" and bounded memory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Forwards to the system allocator and counts allocations and live bytes.
///
/// ```
/// #[global_allocator]
/// static ALLOC: chan::sys::CountingAllocator = chan::sys::CountingAllocator::new();
///
/// fn main() {
///     let buf = vec![0u8; 64];
///     let before = ALLOC.allocations();
///     let sum: u32 = buf.iter().map(|&b| u32::from(b)).sum(); // allocates nothing
///     let report = ALLOC.uncounted(|| format!("sum {sum}")); // left out
///     assert_eq!((report.as_str(), ALLOC.allocations() - before), ("sum 0", 0));
///     let _counted = vec![1u8; 8];
///     assert_eq!(ALLOC.allocations() - before, 1);
/// }
/// ```
pub struct CountingAllocator {
    allocations: AtomicU64,
    /// Allocations made inside `uncounted`, left out of `allocations()`.
    excluded: AtomicU64,
    live: AtomicUsize,
    peak: AtomicUsize,
}

impl CountingAllocator {
    pub const fn new() -> CountingAllocator {
        CountingAllocator {
            allocations: AtomicU64::new(0),
            excluded: AtomicU64::new(0),
            live: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// Allocations (including reallocations) since start, less those
    /// made inside [`CountingAllocator::uncounted`].
    pub fn allocations(&self) -> u64 {
        self.allocations.load(Relaxed) - self.excluded.load(Relaxed)
    }

    /// Runs `f` without counting its allocations: for the measuring code's
    /// own work (building a stats reply), which is not the thing measured.
    /// Allocations by other threads meanwhile are left out too.
    pub fn uncounted<T>(&self, f: impl FnOnce() -> T) -> T {
        let before = self.allocations.load(Relaxed);
        let result = f();
        self.excluded
            .fetch_add(self.allocations.load(Relaxed) - before, Relaxed);
        result
    }

    /// Bytes currently allocated.
    pub fn live_bytes(&self) -> usize {
        self.live.load(Relaxed)
    }

    /// Runs `f` and returns the most bytes that were live during it, above
    /// what was live before it started.
    pub fn peak_during(&self, f: impl FnOnce()) -> usize {
        let base = self.live.load(Relaxed);
        self.peak.store(base, Relaxed);
        f();
        self.peak.load(Relaxed).saturating_sub(base)
    }

    fn grew(&self, bytes: usize) {
        self.allocations.fetch_add(1, Relaxed);
        let live = self.live.fetch_add(bytes, Relaxed) + bytes;
        self.peak.fetch_max(live, Relaxed);
    }
}

impl Default for CountingAllocator {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; counting touches only atomics and never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.grew(layout.size());
        // SAFETY: the caller upholds GlobalAlloc::alloc's contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.grew(layout.size());
        // SAFETY: as for alloc.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.live.fetch_sub(layout.size(), Relaxed);
        // SAFETY: ptr was allocated by System with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.live.fetch_sub(layout.size(), Relaxed);
        self.grew(new_size);
        // SAFETY: ptr was allocated by System with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
