//! Test support: builds real git repositories from the declarative
//! scenarios of `test-repos/scenarios/`, signed with the fixed test keys of
//! `test-repos/keys/` (by Sequoia, by the real `gpg`, or by `ssh-keygen`).
//!
//! Use it from an integration test with `mod support;`. The language is
//! documented in `test-repos/README.md`.
//!
//! ```ignore
//! mod support;
//! let built = support::build_scenario("unauthorized-merge");
//! let repo = built.repo();
//! let side = built.oid("devel-change");
//! for e in &built.expectations { /* ["expect", "unauthorized", ...] */ }
//! ```

pub mod builder;
pub mod craft;
pub mod expect;
pub mod home;
pub mod keys;
pub mod needs;
pub mod objects;
pub mod process;
pub mod random;
pub mod render;
pub mod schema;
pub mod script;
pub mod server;
pub mod sign;

use std::path::PathBuf;

pub use builder::{
    authorizations_file, build_scenario, build_scenario_text, git_command, Built, KeyringFile,
};
pub use home::{GitIn, Home};
pub use keys::{key, key_exists, keys_dir, spaced_fingerprint, KEY_NAMES};
pub use process::{assert_contains, assert_success};
pub use sign::{gpg_available, GpgHome};

/// The trimmed standard output of a command that must have succeeded
/// (`what` names it in the failure message).
pub fn success_output(out: std::process::Output, what: &str) -> String {
    assert_success(&out, what);
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A channel whose `second` commit is signed by bob, authorized but
/// missing from the keyring, with the signing `options` of the scenario
/// language.
pub fn bob_missing_from_keyring(options: &str) -> Built {
    build_scenario_text(&format!(
        "keyring alice\nauthorize alice bob\ncommit first alice\n\
         write a.txt \"A\\n\"\ncommit second bob {options}\n"
    ))
}

/// nonguix's introduction, as its README gives it.
pub fn nonguix_introduction() -> git_authenticate::Introduction {
    git_authenticate::Introduction::new(
        "897c1a470da759236cc11798f4e0a5f7d4d59fbc",
        "2A39 3FFF 68F4 EF7A 3D29  12AF 6F51 20A0 22FB B2D5",
    )
    .unwrap()
}

/// The package's root directory.
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `test-repos/scenarios/`.
pub fn scenarios_dir() -> PathBuf {
    manifest_dir().join("test-repos").join("scenarios")
}

/// `test-repos/scenarios/<name>.scenario`.
pub fn scenario_path(name: &str) -> PathBuf {
    scenarios_dir().join(format!("{name}.scenario"))
}

/// The names (without `.scenario`) of every scenario file, sorted.
pub fn scenario_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(scenarios_dir())
        .expect("read test-repos/scenarios")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".scenario").map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

/// The text of `test-repos/scenarios/<name>.scenario`.
pub fn scenario_text(name: &str) -> String {
    let path = scenario_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path:?}: {e}"))
}

/// Whether a scenario text signs anything with the real gpg (`gpg:KEY`).
pub fn scenario_uses_gpg(text: &str) -> bool {
    scenario_signers(text).iter().any(|s| s.starts_with("gpg:"))
}

/// Whether a scenario text makes SSH signatures.
pub fn scenario_uses_ssh(text: &str) -> bool {
    scenario_signers(text).iter().any(|s| s == "ssh")
}

/// Whether a scenario text makes X.509 signatures (the real `gpgsm`).
pub fn scenario_uses_x509(text: &str) -> bool {
    scenario_signers(text).iter().any(|s| s == "x509")
}

fn scenario_signers(text: &str) -> Vec<String> {
    let Ok(lines) = script::parse(text) else {
        return Vec::new();
    };
    lines
        .iter()
        .filter_map(|l| {
            let t = l.texts();
            match t[0].as_str() {
                "commit" => t.get(2).cloned(),
                "merge" | "octopus" => t.get(3).cloned(),
                _ => None,
            }
        })
        .collect()
}

/// The clone of a real channel that the environment variable `var` names,
/// for a test ignored by default: fails when `var` is not set.
pub fn snapshot(var: &str) -> git2::Repository {
    let path = needs::real_channel(var);
    git2::Repository::open(&path).unwrap_or_else(|e| panic!("{var}={}: {e}", path.display()))
}
