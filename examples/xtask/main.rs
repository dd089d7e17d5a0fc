//! The project's maintenance tools, which share the test support code:
//!
//! * `cargo run --features fuzzing --example xtask -- regenerate-test-keys DIR`: new random
//!   test keys in DIR (the committed ones are `test-repos/keys/`; see its
//!   README before replacing them).
//! * `cargo run --features fuzzing --example xtask -- write-fuzz-seeds [DIR]`: the fuzz
//!   targets' seed corpus, into DIR (default `fuzz/corpus/`).

// The tools use only part of the test support.
#[allow(dead_code, unused_imports)]
#[path = "../../tests/support/mod.rs"]
mod support;

mod keys;
mod seeds;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: xtask regenerate-test-keys DIR | write-fuzz-seeds [DIR]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        // No default: the committed keys are replaced only on purpose.
        ["regenerate-test-keys", dir] => keys::regenerate_test_keys(&PathBuf::from(dir)),
        ["write-fuzz-seeds"] => {
            seeds::write_fuzz_seeds(&support::manifest_dir().join("fuzz").join("corpus"))
        }
        ["write-fuzz-seeds", dir] => seeds::write_fuzz_seeds(&PathBuf::from(dir)),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
