//! `git-authenticate`: authenticate a channel's history from the command
//! line. Everything it decides comes from the `git_authenticate` library;
//! this binary only reads arguments and configuration and prints results.

mod cli;

/// libgit2 maps pack files in windows of 1 GiB, up to 8 GiB: reading a
/// long history would keep most of a large pack resident. Smaller windows
/// and a cap bound the memory used, whatever the repository's size. Its
/// object cache (up to 256 MiB) is turned off: each object is read once.
const PACK_WINDOW: usize = 32 << 20;
const PACK_WINDOWS_MAPPED: usize = 96 << 20;

fn main() -> std::process::ExitCode {
    git_authenticate::git2::opts::enable_caching(false);
    // The library hashes every object the verdict depends on itself (plain
    // SHA-1: git detects collision attacks when objects arrive); libgit2
    // hashing them again would only double the cost.
    git_authenticate::git2::opts::strict_hash_verification(false);
    // SAFETY: these set libgit2 globals without synchronisation; nothing
    // else runs yet (no other thread exists before this point).
    unsafe {
        let _ = git_authenticate::git2::opts::set_mwindow_size(PACK_WINDOW);
        let _ = git_authenticate::git2::opts::set_mwindow_mapped_limit(PACK_WINDOWS_MAPPED);
    }
    cli::run()
}
