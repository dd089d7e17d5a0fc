//! Cache files live on disk where another program (or user) may have
//! written anything: parsing any bytes must return, never panic.
#![no_main]

use git_authenticate::fuzzing::parse_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_file(data);
});
