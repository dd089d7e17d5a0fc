//! The libgit2 settings that reading a long history needs.

use std::sync::Once;

/// libgit2 maps pack files in windows of 1 GiB, up to 8 GiB: reading a
/// long history would keep most of a large pack resident. Smaller windows
/// and a cap bound the memory used, whatever the repository's size.
const PACK_WINDOW: usize = 32 << 20;
const PACK_WINDOWS_MAPPED: usize = 96 << 20;

static APPLIED: Once = Once::new();

/// Sets libgit2's process-wide options for reading long histories with
/// this library: pack windows of 32 MiB mapped up to 96 MiB in all
/// (libgit2's defaults, 1 GiB and 8 GiB, keep most of a large pack
/// resident), no object cache (each object is read once; libgit2's would
/// hold up to 256 MiB), and no second hashing of the objects read (the
/// library hashes every object its verdict depends on itself: plain
/// SHA-1, as git detects collision attacks when objects arrive).
///
/// Optional: without it, results are the same and memory is libgit2's
/// default. Call it at the start of `main`, before other threads use
/// libgit2; calls after the first do nothing.
///
/// ```
/// git_authenticate::tune_libgit2();
/// ```
pub fn tune_libgit2() {
    APPLIED.call_once(|| {
        git2::opts::enable_caching(false);
        git2::opts::strict_hash_verification(false);
        // SAFETY: libgit2 writes these two integers without a lock. The
        // `Once` makes this the only writer; the documented contract (call
        // before other threads use libgit2) leaves no reader running.
        unsafe {
            let _ = git2::opts::set_mwindow_size(PACK_WINDOW);
            let _ = git2::opts::set_mwindow_mapped_limit(PACK_WINDOWS_MAPPED);
        }
    });
}
