//! What a test needs from the machine: required, never skipped.
//!
//! `.ci/run` installs every tool named here, so a missing one is a broken
//! machine: the test fails, naming the Debian package. What CI cannot
//! provide (clones of the real channels, root) is marked at the test with
//! `#[ignore = "needs ..."]`; run anyway (`cargo test -- --ignored`)
//! without it, the test fails here, saying what is missing.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Fails unless `program` can be run (whatever its `--version` answers:
/// `ssh-keygen` has none); `package` is the Debian package providing it.
pub fn tool(program: &str, package: &str) {
    let runs = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        runs,
        "this test needs `{program}`: install the Debian package {package} (.ci/run does)"
    );
}

/// The path of `program`, found on `PATH` or in the system directories
/// (`/usr/sbin`, where servers live, is not on a user's `PATH`); fails
/// unless it is there, naming the Debian `package` that provides it.
pub fn program(program: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "this test needs `{program}`: install the Debian package {package} (.ci/run does)"
            )
        })
}

/// Fails unless the real `gpg` runs.
pub fn gpg() {
    assert!(
        super::gpg_available(),
        "this test needs `gpg`: install the Debian package gnupg (.ci/run does)"
    );
}

/// Fails unless `gpg`, `ssh-keygen` and `gpgsm` run, as far as the
/// scenario `text` signs with them.
pub fn scenario_tools(text: &str) {
    if super::scenario_uses_gpg(text) {
        gpg();
    }
    if super::scenario_uses_ssh(text) {
        tool("ssh-keygen", "openssh-client");
    }
    if super::scenario_uses_x509(text) {
        gpg();
        tool("gpgsm", "gpgsm");
    }
}

/// The clone of a real channel that the environment variable `var` names
/// (`GIT_AUTHENTICATE_GUIX`, `GIT_AUTHENTICATE_NONGUIX`), for a test
/// ignored by default; fails when it is not set.
pub fn real_channel(var: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "{var} is not set: this test needs a clone of the channel with its keyring branch \
             (run it as `{var}=/path/to/clone cargo test -- --ignored`)"
        )
    })
}

/// Fails unless the test runs as root (to give files to another user);
/// such tests are ignored by default and named `as_root::…`.
pub fn root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test needs root, to chown files to another user \
         (run it as root: `cargo test --test integration -- --ignored as_root::`)"
    );
}

/// No test says "SKIPPED" and passes: a test that cannot run is ignored,
/// with its reason, or fails.
#[test]
fn no_test_skips_by_printing() {
    // Spelt in two pieces, so that this file does not match itself.
    let skip = ["println!(\"", "SKIPPED"].concat();
    let mut found = Vec::new();
    for dir in ["tests", "src", "crates"] {
        collect_matches(&super::manifest_dir().join(dir), &skip, &mut found);
    }
    assert!(
        found.is_empty(),
        "mark these tests #[ignore = \"why\"] or make them fail:\n{}",
        found.join("\n")
    );
}

/// The `file:line` of every line of the `.rs` files under `dir` containing
/// `needle`.
fn collect_matches(dir: &std::path::Path, needle: &str, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_matches(&path, needle, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                if line.contains(needle) {
                    found.push(format!("{}:{}", path.display(), n + 1));
                }
            }
        }
    }
}
