//! `BENCH_ONLY=algorithms`: the cost of one signature verification for
//! each algorithm GNU Guix's history uses, on this tree's engine and on
//! each library's own verification call (`Engine::Plain`), with the
//! per-key tables' build time and size (DSA, Ed25519). Each figure is a
//! few runs' range: the machine may be shared.
//!
//! A verification here is what a commit costs in the check itself: the
//! signed data's digest (SHA-512 over a small commit), the issuer's look-up
//! and the arithmetic.

use std::time::{Duration, Instant};

use git2::Repository;
use git_authenticate::fuzzing::{self, Engine};
use git_authenticate::{CommitSignature, Keyring};

use crate::generate;

/// Signatures per key, each verified many times.
const SIGNATURES: usize = 64;
/// Runs per figure, to show the noise.
const RUNS: usize = 3;
/// The least time one run measures.
const RUN_TIME: Duration = Duration::from_millis(300);

/// The algorithms, by test key (`test-repos/keys/README.md`).
const KEYS: [(&str, &str); 5] = [
    ("RSA-2048", "bob"),
    ("RSA-4096", "frank"),
    ("DSA-2048", "erin"),
    ("DSA-3072", "grace"),
    ("Ed25519", "alice"),
];

pub fn measure() {
    println!("\nPer-signature verification, µs (range of {RUNS} runs; noisy on a shared machine)");
    let dir = tempfile::tempdir().unwrap();
    let mut repo = Repository::init_bare(dir.path()).unwrap();
    for (algorithm, name) in KEYS {
        let (commits, certificate) = generate::signed_commits(&mut repo, name, SIGNATURES);
        let keyring =
            Keyring::from_files("keyring", [("key.asc", certificate.as_slice())]).unwrap();
        let signatures: Vec<CommitSignature> = commits
            .iter()
            .map(|&id| CommitSignature::read(&repo, id).unwrap())
            .collect();
        let fastest = per_signature(&signatures, &keyring, Engine::Fastest);
        let plain = per_signature(&signatures, &keyring, Engine::Plain);
        let library = match algorithm {
            a if a.starts_with("RSA") => "OpenSSL's RSA_public_decrypt",
            a if a.starts_with("DSA") => "OpenSSL",
            _ => "ed25519-dalek's verify",
        };
        print!(
            "  {algorithm:9} {}, {} with {library}",
            range(&fastest),
            range(&plain)
        );
        let key = signatures[0].verify(&keyring).unwrap();
        match fuzzing::table_build(key) {
            None => println!(),
            Some((_, bytes)) => {
                assert_eq!(fuzzing::tables(&keyring).0, 1, "{algorithm}: no tables");
                let builds: Vec<Duration> = (0..RUNS)
                    .map(|_| fuzzing::table_build(key).unwrap().0)
                    .collect();
                let ms = range_ms(&builds);
                println!("; tables: {} KiB, built in {ms} ms", bytes >> 10);
            }
        }
    }
}

/// The time one verification takes with `engine`, in each of [`RUNS`] runs
/// (after two passes, which give DSA and Ed25519 keys their tables).
fn per_signature(
    signatures: &[CommitSignature],
    keyring: &Keyring,
    engine: Engine,
) -> Vec<Duration> {
    let pass = || {
        for signature in signatures {
            fuzzing::verify_with(signature, keyring, engine).unwrap();
        }
    };
    pass();
    pass();
    (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let mut passes = 0u32;
            while start.elapsed() < RUN_TIME {
                pass();
                passes += 1;
            }
            start.elapsed() / (passes * signatures.len() as u32)
        })
        .collect()
}

fn range(times: &[Duration]) -> String {
    let us = |d: &Duration| d.as_secs_f64() * 1e6;
    let min = times.iter().map(us).fold(f64::INFINITY, f64::min);
    let max = times.iter().map(us).fold(0.0, f64::max);
    format!("{min:.1}–{max:.1}")
}

fn range_ms(times: &[Duration]) -> String {
    let ms = |d: &Duration| d.as_secs_f64() * 1e3;
    let min = times.iter().map(ms).fold(f64::INFINITY, f64::min);
    let max = times.iter().map(ms).fold(0.0, f64::max);
    format!("{min:.1}–{max:.1}")
}
