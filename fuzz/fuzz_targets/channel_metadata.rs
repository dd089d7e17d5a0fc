//! `.guix-channel` files come from untrusted repositories: parsing any
//! bytes must return, never panic, overflow the stack or hang.
#![no_main]

use git_authenticate::ChannelMetadata;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(metadata) = ChannelMetadata::parse(data) {
        assert!(metadata.directory.starts_with('/'));
    }
});
