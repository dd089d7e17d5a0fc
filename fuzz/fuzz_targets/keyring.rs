//! Key files come from the keyring branch of an untrusted repository:
//! loading any bytes must return, never panic.
//!
//! The input is one key file, or several separated by the 4 bytes
//! `\xffKEY` (so the fuzzer also exercises keys split over files, the same
//! key in two files, and empty files).
#![no_main]

use git_authenticate::Keyring;
use libfuzzer_sys::fuzz_target;

const SEPARATOR: &[u8] = b"\xffKEY";

fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut files = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
        files.push(&rest[..at]);
        rest = &rest[at + SEPARATOR.len()..];
    }
    files.push(rest);
    files
}

fuzz_target!(|data: &[u8]| {
    // The whole input as one file.
    if let Ok(keyring) = Keyring::from_files("keyring", [("fuzz.key", data)]) {
        for key in keyring.keys() {
            assert!(!keyring.by_fingerprint(key.fingerprint()).is_empty());
            // Keys are indexed by the key ID of their fingerprint as
            // published; sequoia's `keyid()` hashes the key re-encoded,
            // which differs for a packet with non-canonical MPIs.
            if !key.non_canonical() {
                assert!(!keyring.by_key_id(&key.key().keyid()).is_empty());
            }
            let _ = (key.primary(), key.is_subkey(), key.file());
        }
        assert_eq!(keyring.len(), keyring.keys().len());
    }
    // Split into several files.
    let files = split(data);
    if files.len() > 1 {
        let names: Vec<String> = (0..files.len()).map(|i| format!("fuzz {i}.key")).collect();
        let _ = Keyring::from_files(
            "keyring",
            names.iter().map(String::as_str).zip(files.iter().copied()),
        );
    }
});
