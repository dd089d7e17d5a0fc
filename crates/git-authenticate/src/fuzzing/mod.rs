//! Entry points for the fuzz targets (`fuzz/`) and for differential
//! testing. **Not a stable API**: only there with the `fuzzing` feature,
//! and it may change in any release.
//!
//! The other targets use the public API ([`crate::Authorizations::parse`],
//! [`crate::ChannelMetadata::parse`], [`crate::Keyring::from_files`]).

pub use crate::cache::parse_file;
pub use crate::openpgp::armor::crc24_rfc4880;
pub use crate::openpgp::crypto::Engine;
pub use crate::openpgp::signature::{extract_signature, parse_armored};

use crate::{CommitSignature, Keyring, KeyringKey, SignatureError};

/// [`CommitSignature::verify`] on a chosen implementation, to compare them.
pub fn verify_with<'k>(
    signature: &CommitSignature,
    keyring: &'k Keyring,
    engine: Engine,
) -> Result<&'k KeyringKey, SignatureError> {
    signature.verify_with(keyring, engine)
}

/// The tables (DSA and Ed25519) `keyring`'s keys got so far: how many,
/// and the bytes counted against its budget (for the benchmarks' figures).
pub fn tables(keyring: &Keyring) -> (usize, usize) {
    let budget = keyring.table_budget();
    (budget.tables_built(), budget.used())
}

/// Builds the tables of `key` (DSA or Ed25519) anew, outside its
/// keyring's budget, and drops them: the time it took and their size;
/// `None` for a key that gets none (another algorithm, or a shape the
/// tables do not take).
#[cfg(feature = "fast-verify")]
pub fn table_build(key: &KeyringKey) -> Option<(std::time::Duration, usize)> {
    use crate::openpgp::crypto::Prepared;
    match key.prepared() {
        Prepared::Dsa(dsa) => dsa.time_table_build(),
        Prepared::Ed25519(ed25519) => Some(ed25519.time_table_build()),
        _ => None,
    }
}

/// Both verification engines give the same verdicts.
#[cfg(test)]
mod differential;

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::{Authorizations, ChannelMetadata, Keyring};

    /// `fuzz/regressions/<target>/<file>`, for every target.
    fn regression_files() -> Vec<(String, PathBuf)> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions");
        let mut files = Vec::new();
        for target in std::fs::read_dir(&root).into_iter().flatten() {
            let target = target.unwrap();
            if !target.file_type().unwrap().is_dir() {
                continue;
            }
            let name = target.file_name().into_string().unwrap();
            for file in std::fs::read_dir(target.path()).unwrap() {
                let path = file.unwrap().path();
                if path.is_file() {
                    files.push((name.clone(), path));
                }
            }
        }
        files.sort();
        files
    }

    /// What the fuzz target `target` does with `data` (see
    /// `fuzz/fuzz_targets/`).
    fn fuzz_entry_point(target: &str, data: &[u8]) {
        match target {
            "authorizations" => {
                let _ = Authorizations::parse(data);
            }
            "channel_metadata" => {
                let _ = ChannelMetadata::parse(data);
            }
            "cache_file" => {
                let _ = super::parse_file(data);
            }
            "keyring" => keyring_entry_point(data),
            "signature" => {
                if let Some((signature, _)) = super::extract_signature(data) {
                    let _ = super::parse_armored(&signature);
                }
                let _ = super::parse_armored(data);
            }
            other => panic!("unknown fuzz target {other:?}"),
        }
    }

    /// One key file, then the files `\xffKEY` separates.
    fn keyring_entry_point(data: &[u8]) {
        let _ = Keyring::from_files("keyring", [("fuzz.key", data)]);
        let mut files: Vec<&[u8]> = Vec::new();
        let mut rest = data;
        while let Some(at) = rest.windows(4).position(|w| w == b"\xffKEY") {
            files.push(&rest[..at]);
            rest = &rest[at + 4..];
        }
        files.push(rest);
        let names: Vec<String> = (0..files.len()).map(|i| format!("fuzz {i}.key")).collect();
        let _ = Keyring::from_files(
            "keyring",
            names.iter().map(String::as_str).zip(files.iter().copied()),
        );
    }

    /// Replays `data` on a thread with the stack of a main thread (8 MiB,
    /// as under libFuzzer and in the CLI's main thread). A panic is
    /// reported; a stack overflow aborts the test binary, which fails too.
    fn replay(target: &str, data: Vec<u8>) -> Result<(), String> {
        let target_name = target.to_owned();
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(move || fuzz_entry_point(&target_name, &data))
            .unwrap()
            .join()
            .map_err(|_| format!("{target}: panicked"))
    }

    /// Every input the fuzzers found a problem with, replayed: none may
    /// crash.
    #[test]
    fn fuzz_regressions() {
        let files = regression_files();
        assert!(!files.is_empty(), "no files under fuzz/regressions/");
        let failures: Vec<String> = files
            .iter()
            .filter_map(|(target, file)| {
                let data = std::fs::read(file).unwrap();
                replay(target, data)
                    .err()
                    .map(|e| format!("{e} {}", file.display()))
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} of {} regression inputs crash:\n{}",
            failures.len(),
            files.len(),
            failures.join("\n")
        );
    }

    /// Every target's entry point runs on a harmless input.
    #[test]
    fn every_target_replays() {
        for target in [
            "authorizations",
            "channel_metadata",
            "cache_file",
            "keyring",
            "signature",
        ] {
            replay(target, b"(authorizations (version 0) ())".to_vec()).unwrap();
        }
    }
}
