//! End-to-end tests of the `git-authenticate` binary, as a user or a CI job
//! runs it: on real repositories built from scenarios (signed by the real
//! `gpg`, like users' repositories), with a private `HOME` and
//! `XDG_CACHE_HOME` per test, checking what a user checks: the exit status,
//! standard output exactly, and the key phrases on standard error.
//! Without `gpg` (Debian package gnupg), they fail saying so.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use base64::Engine;
use predicates::prelude::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::{key, Built, GitIn, Home};

/// A linear history signed by dave and alice, both authorized:
/// `first` (the introduction, dave), `second` (alice, also reachable as
/// branch `topic`, tag `light` and annotated tag `annotated`), `third` and
/// `fourth` (dave). A directory `docs/` exists in the work tree.
const LINEAR: &str = r#"
keyring alice dave
authorize alice dave
commit first gpg:dave
write docs/README "docs\n"
commit second gpg:alice
tag light second
annotated-tag annotated second
branch topic
write b.txt "B\n"
commit third gpg:dave
write c.txt "C\n"
commit fourth gpg:dave
"#;

/// Several bad commits after the introduction: `unsigned`, `by-bob`
/// (in the keyring, not authorized), `good` (alice) and `by-mallory`
/// (not in the keyring).
const SEVERAL_FAILURES: &str = r#"
keyring alice bob dave
authorize alice dave
commit first gpg:dave
write a.txt "A\n"
commit unsigned
write b.txt "B\n"
commit by-bob gpg:bob
write c.txt "C\n"
commit good gpg:alice
write d.txt "D\n"
commit by-mallory gpg:mallory
"#;

/// Branch `other` forked before the introduction `first`.
const NOT_DESCENDANT: &str = r#"
write README "root\n"
commit root
branch other
keyring alice
authorize alice
commit first gpg:alice
write a.txt "A\n"
commit second gpg:alice
checkout other
authorize alice
commit elsewhere gpg:alice
checkout master
"#;

/// No `.guix-authorizations` anywhere: only historical authorizations can
/// authorize `second`.
const NO_AUTHORIZATIONS: &str = r#"
keyring alice bob
write a.txt "A\n"
commit first gpg:alice
write b.txt "B\n"
commit second gpg:alice
"#;

/// The binary, run in `dir` with `home`.
fn binary(home: &Home, dir: &Path) -> Command {
    Command::from_std(home.command(dir))
}

/// A repository built from a scenario, with its private home.
struct Repo {
    built: Built,
    home: Home,
}

impl Repo {
    fn new(text: &str) -> Repo {
        Repo {
            built: support::build_scenario_text(text),
            home: Home::new(),
        }
    }

    fn named(name: &str) -> Repo {
        Repo::new(&support::scenario_text(name))
    }

    /// The full id of commit `label`.
    fn id(&self, label: &str) -> String {
        self.built.oid(label).to_string()
    }

    /// Its 7-digit abbreviation, as "Authenticating commits" prints it.
    fn short(&self, label: &str) -> String {
        self.id(label)[..7].to_owned()
    }

    /// COMMIT and SIGNER (spaced, as users copy it) for an introduction.
    fn intro(&self, label: &str, signer: &str) -> [String; 2] {
        [self.id(label), key(signer).signing_fpr_spaced()]
    }

    /// The binary, run in the work tree.
    /// Asserts that standard error `err` says the history was
    /// authenticated up to commit `label`.
    fn assert_authenticated(&self, err: &str, label: &str) {
        let done = format!("successfully authenticated commit {}", self.id(label));
        assert!(err.contains(&done), "{err}");
    }

    fn cmd(&self) -> Command {
        binary(&self.home, self.path())
    }

    /// The binary, with the usual introduction: `first`, signed by dave.
    fn authenticate_from_first(&self) -> Command {
        let mut c = self.cmd();
        c.args(self.intro("first", "dave"));
        c
    }

    /// The default cache file: `checkouts/` + URL-safe base64 of the SHA-256
    /// of the repository's canonical path.
    fn default_cache_file(&self, repository: &Path) -> PathBuf {
        let canonical = std::fs::canonicalize(repository).unwrap();
        let digest = Sha256::digest(canonical.as_os_str().as_encoded_bytes());
        self.home
            .cache()
            .join("git-authenticate/authentication/checkouts")
            .join(base64::engine::general_purpose::URL_SAFE.encode(digest))
    }

    fn config(&self, name: &str) -> Option<String> {
        let out = self.git_in(self.path(), &["config", "--get", name]);
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).unwrap().trim().to_owned())
    }
}

impl GitIn for Repo {
    fn path(&self) -> &Path {
        &self.built.path
    }

    /// The real git in `dir`, with the private home, the binary on `PATH`
    /// and the scenario's GnuPG home (for `git commit -S`).
    fn git_in(&self, dir: &Path, args: &[&str]) -> Output {
        let mut c = self.home.git(dir, &[]);
        if let Some(gnupg) = self.built.gnupg_home() {
            c.env("GNUPGHOME", gnupg);
        }
        c.args(args).output().expect("run git")
    }
}

fn stderr(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stderr.clone()).expect("UTF-8 standard error")
}

fn stdout(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stdout.clone()).expect("UTF-8 standard output")
}

/// The `error:` lines of standard error.
fn error_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("error:")).collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

// ---------------------------------------------------------------------------
// Success, and the cache.

#[test]
fn success_then_nothing_new() {
    let repo = Repo::new(LINEAR);
    let assert = repo.authenticate_from_first().assert().code(0).stdout("");
    let err = stderr(&assert);
    assert!(
        err.contains(&format!(
            "Authenticating commits {} to {} (3 new commits)...",
            repo.short("first"),
            repo.short("fourth")
        )),
        "{err}"
    );
    repo.assert_authenticated(&err, "fourth");

    // The real cache file, private, holding END.
    let cache = repo.default_cache_file(repo.path());
    assert_eq!(mode(&cache), 0o600, "{}", cache.display());
    let cached = std::fs::read_to_string(&cache).unwrap();
    assert!(cached.contains(&repo.id("fourth")), "{cached}");

    // Nothing new: with the recorded configuration, and explicitly.
    for args in [vec![], repo.intro("first", "dave").to_vec()] {
        let assert = repo.cmd().args(&args).assert().code(0).stdout("");
        let err = stderr(&assert);
        assert!(!err.contains("Authenticating"), "{err}");
        repo.assert_authenticated(&err, "fourth");
    }
}

#[test]
fn tampered_cache_file_is_ignored_with_a_warning() {
    let repo = Repo::new(LINEAR);
    repo.authenticate_from_first().assert().success();
    let cache = repo.default_cache_file(repo.path());
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o644)).unwrap();
    let assert = repo.cmd().assert().code(0).stdout("");
    let err = stderr(&assert);
    assert!(err.contains("warning: authentication cache"), "{err}");
    assert!(err.contains("has mode 644 instead of 600"), "{err}");
    // Everything is checked again, and the file is private again.
    assert!(err.contains("(3 new commits)"), "{err}");
    assert_eq!(mode(&cache), 0o600);
}

// ---------------------------------------------------------------------------
// Arguments.

#[test]
fn end_forms_and_commit_ish() {
    let repo = Repo::new(LINEAR);
    let intro = repo.intro("first", "dave");
    let second = repo.id("second");
    let tag_object = repo.git_ok(&["rev-parse", "annotated"]);
    assert_ne!(tag_object, second, "the annotated tag is a tag object");
    let ends = [
        vec!["--end=HEAD~2".to_owned()],
        vec!["--end".to_owned(), repo.short("second")],
        vec!["-e".to_owned(), "topic".to_owned()],
        vec!["-e".to_owned(), "light".to_owned()],
        vec!["--end=annotated".to_owned()],
        vec!["--end".to_owned(), tag_object.clone()],
        vec![format!("-e{second}")],
    ];
    for end in ends {
        // A fresh cache each time, so that each run has work to do.
        let home = Home::new();
        let assert = binary(&home, repo.path())
            .args(&intro)
            .args(&end)
            .assert()
            .code(0)
            .stdout("");
        let err = stderr(&assert);
        assert!(
            err.contains(&format!(
                "Authenticating commits {} to {} (1 new commit)...",
                repo.short("first"),
                repo.short("second")
            )),
            "{end:?}: {err}"
        );
        assert!(
            err.contains(&format!("successfully authenticated commit {second}\n")),
            "{end:?}: {err}"
        );
        assert!(!err.contains(&tag_object), "{end:?}: peeled: {err}");
    }
}

#[test]
fn repository_option_and_subdirectory() {
    let repo = Repo::new(LINEAR);
    let elsewhere = tempfile::tempdir().unwrap();
    let assert = binary(&repo.home, elsewhere.path())
        .arg("-r")
        .arg(repo.path())
        .args(repo.intro("first", "dave"))
        .assert()
        .code(0)
        .stdout("");
    assert!(stderr(&assert).contains("(3 new commits)"));

    // From a subdirectory: the same repository, hence the same cache.
    let assert = binary(&repo.home, &repo.path().join("docs"))
        .args(repo.intro("first", "dave"))
        .assert()
        .code(0)
        .stdout("");
    let err = stderr(&assert);
    assert!(!err.contains("Authenticating"), "{err}");
    repo.assert_authenticated(&err, "fourth");
    // `--repository=DIR` too.
    binary(&repo.home, elsewhere.path())
        .arg(format!("--repository={}", repo.path().display()))
        .assert()
        .code(0)
        .stdout("");
}

#[test]
fn bare_clone() {
    let repo = Repo::new(LINEAR);
    let bare = repo.home.path().join("bare.git");
    repo.git_ok_in(
        repo.home.path(),
        &[
            "clone",
            "-q",
            "--bare",
            repo.path().to_str().unwrap(),
            "bare.git",
        ],
    );
    let assert = binary(&repo.home, repo.home.path())
        .arg("-r")
        .arg(&bare)
        .args(repo.intro("first", "dave"))
        .assert()
        .code(0)
        .stdout("");
    let err = stderr(&assert);
    assert!(err.contains("(3 new commits)"), "{err}");
    assert!(
        err.contains(&format!(
            "installed hook '{}'",
            bare.join("hooks/pre-push").display()
        )),
        "{err}"
    );
    assert!(mode(&repo.default_cache_file(&bare)) == 0o600);
    // Run inside it, with the recorded configuration.
    let assert = binary(&repo.home, &bare).assert().code(0).stdout("");
    repo.assert_authenticated(&stderr(&assert), "fourth");
}

#[test]
fn remote_tracking_keyring() {
    let repo = Repo::new(LINEAR);
    let clone = repo.home.path().join("clone");
    repo.git_ok_in(
        repo.home.path(),
        &["clone", "-q", repo.path().to_str().unwrap(), "clone"],
    );
    let intro = repo.intro("first", "dave");

    // The local branch does not exist: say how to use the remote one.
    let assert = binary(&repo.home, &clone)
        .args(&intro)
        .assert()
        .code(2)
        .stdout("");
    let err = stderr(&assert);
    assert!(err.contains("keyring branch `keyring` not found"), "{err}");
    assert!(err.contains("--keyring=origin/keyring"), "{err}");
    assert!(err.contains("git branch keyring origin/keyring"), "{err}");

    for keyring in [
        vec!["-k", "origin/keyring"],
        vec!["--keyring=origin/keyring"],
        vec!["--keyring", "refs/remotes/origin/keyring"],
    ] {
        let home = Home::new();
        let assert = binary(&home, &clone)
            .args(&intro)
            .args(&keyring)
            .assert()
            .code(0)
            .stdout("");
        let err = stderr(&assert);
        assert!(err.contains("(3 new commits)"), "{keyring:?}: {err}");
        assert!(
            err.contains(&format!(
                "successfully authenticated commit {}",
                repo.id("fourth")
            )),
            "{keyring:?}: {err}"
        );
    }
    // The first run recorded the keyring it was given.
    assert_eq!(
        repo.git_ok_in(&clone, &["config", "--get", "guix.authentication.keyring"]),
        "origin/keyring"
    );
}

#[test]
fn signer_quoted_unquoted_and_compact() {
    let repo = Repo::new(LINEAR);
    let first = repo.id("first");
    let dave = key("dave");
    let spaced = dave.signing_fpr_spaced();
    let forms: Vec<Vec<String>> = vec![
        vec![spaced.clone()],
        spaced.split_whitespace().map(str::to_owned).collect(),
        vec![dave.signing_fpr.to_lowercase()],
    ];
    assert_eq!(forms[1].len(), 10, "ten words when unquoted");
    for signer in forms {
        let home = Home::new();
        binary(&home, repo.path())
            .arg(&first)
            .args(&signer)
            .assert()
            .code(0)
            .stdout("")
            .stderr(predicate::str::contains(format!(
                "successfully authenticated commit {}",
                repo.id("fourth")
            )));
    }
}

#[test]
fn cache_key_option() {
    let repo = Repo::new(LINEAR);
    let intro = repo.intro("first", "dave");
    let assert = repo
        .cmd()
        .args(&intro)
        .args(["--cache-key", "ci/my-channel"])
        .assert()
        .code(0);
    assert!(stderr(&assert).contains("(3 new commits)"));
    let file = repo
        .home
        .cache()
        .join("git-authenticate/authentication/ci/my-channel");
    assert_eq!(mode(&file), 0o600);
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains(&repo.id("fourth")));
    assert!(!repo.default_cache_file(repo.path()).exists());

    // The same key: nothing new. Another key: everything again.
    let assert = repo
        .cmd()
        .args(&intro)
        .arg("--cache-key=ci/my-channel")
        .assert()
        .code(0);
    assert!(!stderr(&assert).contains("Authenticating"));
    let assert = repo
        .cmd()
        .args(&intro)
        .arg("--cache-key=other")
        .assert()
        .code(0);
    assert!(stderr(&assert).contains("(3 new commits)"));

    // Keys Guix accepts, including one that would leave its cache
    // directory, are files of their own in this one.
    let authentication = repo.home.cache().join("git-authenticate/authentication");
    for (key, name) in [
        ("wild/name@master", "%wild%2Fname%40master"),
        ("my channel", "%my%20channel"),
        ("channels/été", "%channels%2F%C3%A9t%C3%A9"),
        ("../escape", "%..%2Fescape"),
    ] {
        let assert = repo
            .cmd()
            .args(&intro)
            .args(["--cache-key", key])
            .assert()
            .code(0);
        assert!(stderr(&assert).contains("(3 new commits)"), "{key}");
        assert_eq!(mode(&authentication.join(name)), 0o600, "{key}");
    }
    assert!(!repo.home.cache().join("git-authenticate/escape").exists());

    // Only a key no path could hold is refused, and says why.
    repo.cmd()
        .args(&intro)
        .arg(format!("--cache-key={}", "k".repeat(5000)))
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "invalid cache key: 5000 bytes long, more than the 4096",
        ));
}

#[test]
fn historical_authorizations_option() {
    let repo = Repo::new(NO_AUTHORIZATIONS);
    let intro = repo.intro("first", "alice");
    let alice = key("alice");

    // Without them, nobody is authorized.
    let assert = repo.cmd().args(&intro).assert().code(1).stdout("");
    assert!(stderr(&assert).contains(&format!(
        "commit {} not signed by an authorized key: {}",
        repo.id("second"),
        alice.signing_fpr_spaced()
    )));

    let file = repo.home.path().join("historical-authorizations");
    std::fs::write(
        &file,
        support::authorizations_file(&[("alice".into(), alice.signing_fpr_spaced())], "test"),
    )
    .unwrap();
    let assert = repo
        .cmd()
        .args(&intro)
        .arg("--historical-authorizations")
        .arg(&file)
        .assert()
        .code(0)
        .stdout("");
    repo.assert_authenticated(&stderr(&assert), "second");

    // A file that cannot be read: could not check.
    repo.cmd()
        .args(&intro)
        .arg(format!(
            "--historical-authorizations={}",
            repo.home.path().join("missing").display()
        ))
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("historical authorizations"));
}

#[test]
fn jobs_option_does_not_change_the_outcome() {
    let repo = Repo::new(SEVERAL_FAILURES);
    let mut outputs = Vec::new();
    for jobs in ["1", "2", "8"] {
        let assert = repo
            .authenticate_from_first()
            .args(["--keep-going", "-j", jobs])
            .assert()
            .code(1)
            .stdout("");
        outputs.push(error_lines(&stderr(&assert)).join("\n"));
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
}

#[test]
fn help_and_version() {
    let home = Home::new();
    for flag in ["-h", "--help"] {
        binary(&home, home.path())
            .arg(flag)
            .assert()
            .code(0)
            .stdout(predicate::str::contains("Usage: git-authenticate"))
            .stdout(predicate::str::contains("--keep-going"))
            .stdout(predicate::str::contains("Exit status"));
    }
    for flag in ["-V", "--version"] {
        binary(&home, home.path())
            .arg(flag)
            .assert()
            .code(0)
            .stdout(format!("git-authenticate {}\n", env!("CARGO_PKG_VERSION")));
    }
}

#[test]
fn runs_as_a_git_subcommand() {
    let repo = Repo::new(LINEAR);
    let [commit, signer] = repo.intro("first", "dave");
    let out = repo.git_in(repo.path(), &["authenticate", &commit, &signer]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(out.stdout.is_empty());
    repo.assert_authenticated(&err, "fourth");
}

// ---------------------------------------------------------------------------
// Usage errors: exit 2, nothing on standard output.

#[test]
fn wrong_arguments_are_usage_errors() {
    let repo = Repo::new(LINEAR);
    let [commit, signer] = repo.intro("first", "dave");
    let compact = key("dave").signing_fpr;
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![commit.clone()], "wrong number of arguments"),
        (
            vec![commit.clone(), compact[..39].to_owned()],
            "is not an OpenPGP fingerprint",
        ),
        (
            vec![commit.clone(), format!("{}G", &compact[..39])],
            "is not an OpenPGP fingerprint",
        ),
        (
            vec![commit.clone(), format!("{compact}00")],
            "is not an OpenPGP fingerprint",
        ),
        (
            vec![repo.short("first"), signer.clone()],
            "is not a full commit id (40 hex digits)",
        ),
        (
            vec![format!("{}x", &commit[..39]), signer.clone()],
            "is not a full commit id",
        ),
        (
            vec![commit.clone(), signer.clone(), "--bogus".into()],
            "unexpected argument '--bogus'",
        ),
        (
            vec![commit.clone(), signer.clone(), "--format=yaml".into()],
            "invalid value 'yaml'",
        ),
    ];
    for (args, phrase) in cases {
        let assert = repo.cmd().args(&args).assert().code(2).stdout("");
        let err = stderr(&assert);
        assert!(
            err.contains(phrase),
            "{args:?}: expected {phrase:?} in {err}"
        );
        assert!(!err.contains("successfully"), "{args:?}: {err}");
    }
    // Nothing was recorded by failed runs.
    assert_eq!(repo.config("guix.authentication.introduction-commit"), None);
}

#[test]
fn no_arguments_and_no_configuration() {
    let repo = Repo::new(LINEAR);
    let assert = repo.cmd().assert().code(2).stdout("");
    let err = stderr(&assert);
    assert!(err.contains("give COMMIT and SIGNER"), "{err}");
    support::assert_contains(&err, "guix.authentication.introduction-commit");
    assert!(err.contains("git config"), "{err}");
}

#[test]
fn not_a_repository() {
    let home = Home::new();
    let outside = tempfile::tempdir().unwrap();
    let intro = [
        "0123456789abcdef0123456789abcdef01234567".to_owned(),
        key("dave").signing_fpr_spaced(),
    ];
    binary(&home, outside.path())
        .arg("-r")
        .arg(outside.path())
        .args(&intro)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("not a git repository"));
    // Discovery from the current directory stops at the temporary
    // directory, whatever surrounds it.
    binary(&home, outside.path())
        .env("GIT_CEILING_DIRECTORIES", outside.path().parent().unwrap())
        .args(&intro)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("not in a git repository"))
        .stderr(predicate::str::contains("-r DIRECTORY"));
}

#[test]
fn unknown_end() {
    let repo = Repo::new(LINEAR);
    repo.authenticate_from_first()
        .args(["--end", "no-such-branch"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "`no-such-branch` does not name a commit in this repository",
        ));
}

#[test]
fn missing_keyring_branch() {
    let repo = Repo::new(LINEAR);
    let assert = repo
        .authenticate_from_first()
        .args(["-k", "channel-keys"])
        .assert()
        .code(2)
        .stdout("");
    let err = stderr(&assert);
    support::assert_contains(&err, "error: keyring branch `channel-keys` not found");
    support::assert_contains(&err, "git fetch origin channel-keys:channel-keys");
}

#[test]
fn signer_of_64_hex_digits_has_a_consistent_message() {
    let repo = Repo::new(LINEAR);
    let assert = repo
        .cmd()
        .arg(repo.id("first"))
        .arg("AB".repeat(32))
        .assert()
        .code(2)
        .stdout("");
    let err = stderr(&assert);
    assert!(err.contains("is not"), "{err}");
    support::assert_contains(&err, "it has 64 hex digits where 40 are expected");
}

// ---------------------------------------------------------------------------
// Not authentic: exit 1, one message naming the commit and the reason.

/// Exactly one `error:` line, naming `commit` in full; it is returned.
fn one_error(err: &str, commit: &str) -> String {
    let errors = error_lines(err);
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains(commit), "{err}");
    assert!(!err.contains("successfully"), "{err}");
    errors[0].to_owned()
}

#[test]
fn unsigned_commit() {
    let repo = Repo::new(SEVERAL_FAILURES);
    let assert = repo
        .authenticate_from_first()
        .args(["--end", &repo.id("unsigned")])
        .assert()
        .code(1)
        .stdout("");
    let err = stderr(&assert);
    let line = one_error(&err, &repo.id("unsigned"));
    assert_eq!(
        line,
        format!("error: commit {} lacks a signature", repo.id("unsigned"))
    );
    assert!(err.contains("hint: sign the commit"), "{err}");
}

#[test]
fn unsigned_introduction_needs_a_new_introduction_not_an_amend() {
    // Amending the introductory commit would change the id the published
    // introduction names: the channel must publish a new one.
    let repo = Repo::named("introduction-unsigned");
    let expected = format!("commit {} lacks a signature", repo.id("first"));
    assert_introduction_needs_a_new_one(&repo, &expected, "unsigned");
}

/// Asserts that the introduction `first`, signed by alice, fails as
/// `kind` (`expected` in the error line), and that text and JSON hints ask
/// for a new introduction, never an amend that would change its id.
fn assert_introduction_needs_a_new_one(repo: &Repo, expected: &str, kind: &str) {
    let assert = repo
        .cmd()
        .args(repo.intro("first", "alice"))
        .assert()
        .code(1)
        .stdout("");
    let err = stderr(&assert);
    assert!(err.contains(expected), "{err}");
    assert!(err.contains("the introductory commit itself"), "{err}");
    assert!(err.contains("publish a new introduction"), "{err}");
    assert!(!err.contains("--amend"), "{err}");
    let assert = repo
        .cmd()
        .args(repo.intro("first", "alice"))
        .args(["--format", "json"])
        .assert()
        .code(1);
    let out = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(out.contains(&format!("\"{kind}\"")), "{out}");
    assert!(out.contains("publish a new introduction"), "{out}");
    assert!(!out.contains("--amend"), "{out}");
}

#[test]
fn weak_hash_introduction_needs_a_new_introduction_not_a_re_signing() {
    // Guix refuses SHA-1 on the introductory commit whatever its tree holds.
    let repo = Repo::new(
        "keyring alice\nauthorize alice\ncommit first alice sha1\nwrite a.txt \"A\\n\"\n\
         commit second alice\n",
    );
    let expected = format!("commit {} has a SHA1 signature", repo.id("first"));
    assert_introduction_needs_a_new_one(&repo, &expected, "weak-hash");
}

#[test]
fn text_mode_introduction_needs_a_new_introduction_not_a_re_signing() {
    let repo = Repo::new(
        "keyring alice\nauthorize alice\ncommit first alice text\nwrite a.txt \"A\\n\"\n\
         commit second alice\n",
    );
    let expected = format!("commit {} has an unusable signature", repo.id("first"));
    assert_introduction_needs_a_new_one(&repo, &expected, "malformed-signature");
}

#[test]
fn bad_signature_introduction_needs_a_new_introduction_not_a_re_signing() {
    let repo = Repo::new(
        "keyring alice\nauthorize alice\ncommit first0 alice\ntamper first0 first\n\
         write a.txt \"A\\n\"\ncommit second alice\n",
    );
    let expected = format!(
        "signature verification failed for commit {}",
        repo.id("first")
    );
    assert_introduction_needs_a_new_one(&repo, &expected, "bad-signature");
}

#[test]
fn unauthorized_signer() {
    let repo = Repo::named("gpg-unauthorized");
    let assert = repo.authenticate_from_first().assert().code(1).stdout("");
    let err = stderr(&assert);
    let line = one_error(&err, &repo.id("second"));
    assert_eq!(
        line,
        format!(
            "error: commit {} not signed by an authorized key: {}",
            repo.id("second"),
            key("bob").signing_fpr_spaced()
        )
    );
    support::assert_contains(&err, &format!("parent {}", repo.id("first")));
}

#[test]
fn wrong_introduction_signer() {
    let repo = Repo::new(LINEAR);
    let assert = repo
        .cmd()
        .args(repo.intro("first", "alice"))
        .assert()
        .code(1)
        .stdout("");
    let err = stderr(&assert);
    let line = one_error(&err, &repo.id("first"));
    assert_eq!(
        line,
        format!(
            "error: initial commit {} is signed by '{}' instead of '{}'",
            repo.id("first"),
            key("dave").signing_fpr_spaced(),
            key("alice").signing_fpr_spaced()
        )
    );
    // A failed run records nothing and installs no hook.
    assert_eq!(repo.config("guix.authentication.introduction-commit"), None);
    assert!(!repo.path().join(".git/hooks/pre-push").exists());
}

#[test]
fn end_not_a_descendant() {
    let repo = Repo::new(NOT_DESCENDANT);
    let assert = repo
        .cmd()
        .args(repo.intro("first", "alice"))
        .args(["--end", "other"])
        .assert()
        .code(1)
        .stdout("");
    let err = stderr(&assert);
    let line = one_error(&err, &repo.id("elsewhere"));
    assert_eq!(
        line,
        format!(
            "error: commit {} is not a descendant of introductory commit {}",
            repo.id("elsewhere"),
            repo.id("first")
        )
    );
}

#[test]
fn keep_going_reports_every_failure_newest_first() {
    let repo = Repo::new(SEVERAL_FAILURES);
    let assert = repo
        .authenticate_from_first()
        .arg("--keep-going")
        .assert()
        .code(1)
        .stdout("");
    let err = stderr(&assert);
    assert_eq!(
        error_lines(&err),
        [
            format!(
                "error: could not authenticate commit {}: key {} is missing from keyring \
                 branch `keyring`",
                repo.id("by-mallory"),
                key("mallory").signing_fpr_spaced()
            ),
            format!(
                "error: commit {} not signed by an authorized key: {}",
                repo.id("by-bob"),
                key("bob").signing_fpr_spaced()
            ),
            format!("error: commit {} lacks a signature", repo.id("unsigned")),
        ],
        "{err}"
    );
    assert!(!err.contains("successfully"), "{err}");
}

// ---------------------------------------------------------------------------
// JSON output.

/// The fields doc/GUIDE.md documents, and only those.
fn document(assert: &assert_cmd::assert::Assert) -> Value {
    let out = stdout(assert);
    let doc: Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not one JSON document: {e}\n{out}"));
    let mut fields: Vec<&str> = doc
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "authentic",
            "commits_checked",
            "end",
            "failure_count",
            "failures",
            "introduction",
            "keyring",
            "outcome",
            "schema_version",
            "signers",
            "skipped",
            "warnings"
        ]
    );
    assert_eq!(doc["schema_version"], 2);
    for failure in doc["failures"].as_array().expect("failures is a list") {
        let mut fields: Vec<&str> = failure
            .as_object()
            .expect("a failure is an object")
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "commit",
                "fingerprint",
                "hint",
                "kind",
                "message",
                "parents"
            ]
        );
    }
    doc
}

/// The fields that say what was asked and how it went.
fn assert_head(
    doc: &Value,
    authentic: bool,
    introduction: Value,
    end: Value,
    keyring: &str,
    commits_checked: Option<u64>,
) {
    assert_eq!(doc["authentic"], json!(authentic), "{doc}");
    assert_eq!(doc["introduction"], introduction, "{doc}");
    assert_eq!(doc["end"], end, "{doc}");
    assert_eq!(doc["keyring"], json!(keyring), "{doc}");
    if let Some(n) = commits_checked {
        assert_eq!(doc["commits_checked"], json!(n), "{doc}");
    }
}

fn introduction_json(repo: &Repo, label: &str, signer: &str) -> Value {
    json!({ "commit": repo.id(label), "signer": key(signer).signing_fpr })
}

/// What every JSON document of a run from the scenario's first commit
/// (introduced by dave) says first.
struct Head<'a> {
    authentic: bool,
    /// The end's label; `None`: no end could be resolved (`null`).
    end: Option<&'a str>,
    keyring: &'a str,
    /// `None`: not checked (a run stopped at a failure).
    commits_checked: Option<u64>,
}

/// Runs from the scenario's first commit with `args` and `--format=json`,
/// which must exit with `code`; checks the document's head and returns the
/// document.
fn json_from_first(
    repo: &Repo,
    args: &[&str],
    code: i32,
    head: Head,
) -> (Value, assert_cmd::assert::Assert) {
    let assert = repo
        .authenticate_from_first()
        .args(args)
        .arg("--format=json")
        .assert()
        .code(code);
    let doc = document(&assert);
    assert_head(
        &doc,
        head.authentic,
        introduction_json(repo, "first", "dave"),
        json!(head.end.map(|label| repo.id(label))),
        head.keyring,
        head.commits_checked,
    );
    (doc, assert)
}

#[test]
fn json_success() {
    let repo = Repo::new(LINEAR);
    let (doc, _) = json_from_first(
        &repo,
        &[],
        0,
        Head {
            authentic: true,
            end: Some("fourth"),
            keyring: "keyring",
            commits_checked: Some(3),
        },
    );
    assert_eq!(
        doc["signers"],
        json!([
            { "fingerprint": key("dave").signing_fpr, "commits": 2 },
            { "fingerprint": key("alice").signing_fpr, "commits": 1 },
        ])
    );
    assert_eq!(doc["failures"], json!([]));
    assert_eq!(doc["warnings"], json!([]));
    // The configuration was recorded, as in text mode.
    assert_eq!(
        repo.config("guix.authentication.introduction-commit"),
        Some(repo.id("first"))
    );

    // Again: nothing new to check; `--format json` also works.
    let assert = repo.cmd().args(["--format", "json"]).assert().code(0);
    let doc = document(&assert);
    assert_eq!(doc["authentic"], json!(true));
    assert_eq!(doc["commits_checked"], json!(0));
    assert_eq!(doc["signers"], json!([]));
    assert_eq!(doc["end"], json!(repo.id("fourth")));

    // A cache problem is a warning, in the document too.
    let cache = repo.default_cache_file(repo.path());
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o640)).unwrap();
    let assert = repo.cmd().arg("--format=json").assert().code(0);
    let doc = document(&assert);
    assert_eq!(doc["authentic"], json!(true));
    assert_eq!(doc["commits_checked"], json!(3));
    let warnings = doc["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let warning = warnings[0].as_str().unwrap();
    assert!(warning.contains(&cache.display().to_string()), "{warning}");
    assert!(warning.contains("mode 640"), "{warning}");
}

#[test]
fn json_failure() {
    let repo = Repo::named("gpg-unauthorized");
    let (doc, assert) = json_from_first(
        &repo,
        &[],
        1,
        Head {
            authentic: false,
            end: Some("third"),
            keyring: "keyring",
            commits_checked: Some(2),
        },
    );
    // Without --keep-going the first failure only, and what was checked:
    // both commits, one of them by an authorized key.
    assert_eq!(
        doc["signers"],
        json!([{ "fingerprint": key("alice").signing_fpr, "commits": 1 }]),
        "{doc}"
    );
    assert_eq!(doc["warnings"], json!([]));
    let failures = doc["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{doc}");
    let failure = &failures[0];
    assert_eq!(failure["commit"], json!(repo.id("second")));
    assert_eq!(failure["kind"], json!("unauthorized"));
    assert_eq!(failure["fingerprint"], json!(key("bob").signing_fpr));
    assert_eq!(failure["parents"], json!([repo.id("first")]));
    assert_eq!(
        failure["message"],
        json!(format!(
            "commit {} not signed by an authorized key: {}",
            repo.id("second"),
            key("bob").signing_fpr_spaced()
        ))
    );
    let hint = failure["hint"].as_str().expect("a hint");
    assert!(hint.contains(".guix-authorizations"), "{hint}");
    // The human message is still on standard error.
    assert!(stderr(&assert).contains("error: commit"));
}

#[test]
fn json_keep_going() {
    let repo = Repo::new(SEVERAL_FAILURES);
    let (doc, _) = json_from_first(
        &repo,
        &["--keep-going"],
        1,
        Head {
            authentic: false,
            end: Some("by-mallory"),
            keyring: "keyring",
            commits_checked: Some(4),
        },
    );
    assert_eq!(
        doc["signers"],
        json!([{ "fingerprint": key("alice").signing_fpr, "commits": 1 }])
    );
    assert_eq!(doc["warnings"], json!([]));
    let failures = doc["failures"].as_array().unwrap();
    let summary: Vec<(Value, Value, Value, Value)> = failures
        .iter()
        .map(|f| {
            (
                f["commit"].clone(),
                f["kind"].clone(),
                f["fingerprint"].clone(),
                f["parents"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                json!(repo.id("by-mallory")),
                json!("missing-key"),
                json!(key("mallory").signing_fpr),
                json!([])
            ),
            (
                json!(repo.id("by-bob")),
                json!("unauthorized"),
                json!(key("bob").signing_fpr),
                json!([repo.id("unsigned")])
            ),
            (
                json!(repo.id("unsigned")),
                json!("unsigned"),
                json!(null),
                json!([])
            ),
        ]
    );
    for failure in failures {
        let commit = failure["commit"].as_str().unwrap();
        assert!(
            failure["message"].as_str().unwrap().contains(commit),
            "{failure}"
        );
        assert!(failure["hint"].is_string(), "{failure}");
    }
    assert!(failures[2]["hint"].as_str().unwrap().contains("-S"));
    assert!(failures[0]["hint"]
        .as_str()
        .unwrap()
        .contains("`.key` file to branch `keyring`"));
}

#[test]
fn json_could_not_check() {
    let repo = Repo::new(LINEAR);
    let (doc, assert) = json_from_first(
        &repo,
        &["--keyring=nowhere"],
        2,
        Head {
            authentic: false,
            end: Some("fourth"),
            keyring: "nowhere",
            commits_checked: Some(0),
        },
    );
    assert_eq!(doc["signers"], json!([]));
    assert_eq!(doc["warnings"], json!([]));
    assert_eq!(
        doc["failures"],
        json!([{
            "commit": null,
            "kind": "keyring-missing",
            "fingerprint": null,
            "parents": [],
            "message": "keyring branch `nowhere` not found",
            "hint": "fetch it: `git fetch origin nowhere:nowhere`",
        }])
    );
    assert!(stderr(&assert).contains("error: keyring branch `nowhere` not found"));
}

#[test]
fn json_unknown_end_still_names_the_introduction() {
    let repo = Repo::new(LINEAR);
    let (doc, _) = json_from_first(
        &repo,
        &["-e", "nowhere"],
        2,
        Head {
            authentic: false,
            end: None,
            keyring: "keyring",
            commits_checked: None,
        },
    );
    assert_eq!(doc["failures"][0]["kind"], json!("not-a-commit"));
    assert_eq!(doc["failures"][0]["commit"], json!(null));
}

#[test]
fn json_usage_errors_print_a_document() {
    let repo = Repo::new(LINEAR);
    repo.cmd()
        .args([repo.id("first").as_str(), "--format=json"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("\"kind\": \"usage\""))
        .stderr(predicate::str::contains("wrong number of arguments"));
}

// ---------------------------------------------------------------------------
// --stats, --quiet, terminals and colours.

#[test]
fn stats_format() {
    let repo = Repo::new(LINEAR);
    let expected = format!(
        "Signing statistics:\n  {} {:>10}\n  {} {:>10}\n",
        key("dave").signing_fpr_spaced(),
        2,
        key("alice").signing_fpr_spaced(),
        1
    );
    assert_eq!(
        expected.lines().nth(1).unwrap().len(),
        2 + 50 + 1 + 10,
        "fingerprint then the count right-aligned in 10 columns"
    );
    let assert = repo
        .authenticate_from_first()
        .arg("--stats")
        .assert()
        .code(0)
        .stdout(expected);
    assert!(stderr(&assert).contains("successfully authenticated commit"));
    // Nothing new: the statistics say so.
    repo.cmd()
        .arg("--stats")
        .assert()
        .code(0)
        .stdout("Signing statistics: no new commits (all were authenticated before)\n");
}

#[test]
fn quiet() {
    let repo = Repo::new(LINEAR);
    // The first run would also record the configuration and install hooks.
    repo.authenticate_from_first()
        .arg("-q")
        .assert()
        .code(0)
        .stdout("")
        .stderr("");
    assert!(repo.path().join(".git/hooks/pre-push").exists());
    repo.cmd()
        .arg("--quiet")
        .assert()
        .code(0)
        .stdout("")
        .stderr("");
    // Errors are still printed.
    repo.cmd()
        .arg("--quiet")
        .args(["--end", "nowhere"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("error:"));
}

fn assert_plain(err: &str) {
    assert!(!err.contains('\x1b'), "escape codes: {err:?}");
    assert!(
        !err.contains('\r'),
        "carriage returns (progress bar): {err:?}"
    );
}

#[test]
fn no_progress_bar_or_colours_outside_a_terminal() {
    let repo = Repo::new(SEVERAL_FAILURES);
    let assert = repo
        .authenticate_from_first()
        .args(["--end", &repo.id("first")])
        .assert()
        .code(0);
    assert_plain(&stderr(&assert));
    let assert = repo
        .authenticate_from_first()
        .arg("--keep-going")
        .assert()
        .code(1);
    let err = stderr(&assert);
    assert!(err.contains("Authenticating commits"), "{err}");
    assert!(err.contains("error:") && err.contains("hint:"), "{err}");
    assert_plain(&err);

    let repo = Repo::new(LINEAR);
    let assert = repo.authenticate_from_first().assert().code(0);
    let err = stderr(&assert);
    assert!(err.contains("(3 new commits)"), "{err}");
    assert_plain(&err);
}

#[test]
fn no_color_wins() {
    let repo = Repo::new(SEVERAL_FAILURES);
    let run = |vars: &[(&str, &str)]| {
        let assert = repo
            .cmd()
            .envs(vars.iter().copied())
            .args(repo.intro("first", "dave"))
            .assert()
            .code(1);
        stderr(&assert)
    };
    // Colours can be forced (so the check below can see them)...
    assert!(run(&[("CLICOLOR_FORCE", "1")]).contains('\x1b'));
    // ...but never with NO_COLOR.
    assert_plain(&run(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]));
    assert_plain(&run(&[("NO_COLOR", "1")]));
}

// ---------------------------------------------------------------------------
// Configuration and hooks.

#[test]
fn first_run_records_configuration_and_installs_hooks() {
    let repo = Repo::new(LINEAR);
    let hooks = repo.path().join(".git/hooks");
    let assert = repo.authenticate_from_first().assert().code(0).stdout("");
    let err = stderr(&assert);
    support::assert_contains(
        &err,
        "introduction and keyring recorded in repository configuration file",
    );
    for hook in ["pre-push", "post-merge"] {
        let path = hooks.join(hook);
        support::assert_contains(&err, &format!("installed hook '{}'", path.display()));
        assert_eq!(mode(&path) & 0o111, 0o111, "{hook} is executable");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("#!/bin/sh\n"), "{text}");
        assert!(text.contains("git-authenticate"), "{text}");
    }
    let pre_push = std::fs::read_to_string(hooks.join("pre-push")).unwrap();
    assert!(pre_push.contains(r#"--end="$local_oid""#), "{pre_push}");

    assert_eq!(
        repo.config("guix.authentication.introduction-commit"),
        Some(repo.id("first"))
    );
    let signer = repo
        .config("guix.authentication.introduction-signer")
        .unwrap();
    assert_eq!(signer.replace(' ', ""), key("dave").signing_fpr);
    assert_eq!(
        repo.config("guix.authentication.keyring").as_deref(),
        Some("keyring")
    );

    // Later runs need no arguments, and install nothing again.
    let assert = repo.cmd().assert().code(0).stdout("");
    let err = stderr(&assert);
    repo.assert_authenticated(&err, "fourth");
    assert!(!err.contains("installed hook"), "{err}");
    assert!(!err.contains("recorded"), "{err}");
}

#[test]
fn hooks_directory_is_created_when_missing() {
    let repo = Repo::new(LINEAR);
    let hooks = repo.path().join(".git/hooks");
    if hooks.exists() {
        std::fs::remove_dir_all(&hooks).unwrap();
    }
    repo.authenticate_from_first().assert().code(0);
    assert_eq!(mode(&hooks.join("pre-push")) & 0o111, 0o111);
    assert_eq!(mode(&hooks.join("post-merge")) & 0o111, 0o111);
}

#[test]
fn core_hooks_path_is_respected() {
    let absolute = Home::new();
    let absolute_hooks = absolute.path().join("shared hooks");
    for (setting, dir) in [
        (
            "githooks".to_owned(),
            None, // relative to the work tree
        ),
        (
            absolute_hooks.display().to_string(),
            Some(absolute_hooks.clone()),
        ),
    ] {
        let repo = Repo::new(LINEAR);
        repo.git_ok(&["config", "core.hooksPath", &setting]);
        let dir = dir.unwrap_or_else(|| repo.path().join(&setting));
        let assert = repo.authenticate_from_first().assert().code(0);
        let err = stderr(&assert);
        for hook in ["pre-push", "post-merge"] {
            let path = dir.join(hook);
            support::assert_contains(&err, &format!("installed hook '{}'", path.display()));
            assert_eq!(mode(&path) & 0o111, 0o111);
            assert!(!repo.path().join(".git/hooks").join(hook).exists());
        }
    }
}

#[test]
fn branch_specific_configuration_takes_precedence() {
    let repo = Repo::new(LINEAR);
    let first = repo.id("first");
    // The general section names the wrong signer; master's names the right one.
    repo.git_ok(&["config", "guix.authentication.introduction-commit", &first]);
    repo.git_ok(&[
        "config",
        "guix.authentication.introduction-signer",
        &key("alice").signing_fpr_spaced(),
    ]);
    repo.git_ok(&[
        "config",
        "guix.authentication-master.introduction-commit",
        &first,
    ]);
    repo.git_ok(&[
        "config",
        "guix.authentication-master.introduction-signer",
        &key("dave").signing_fpr_spaced(),
    ]);
    repo.cmd()
        .assert()
        .code(0)
        .stdout("")
        .stderr(predicate::str::contains(format!(
            "successfully authenticated commit {}",
            repo.id("fourth")
        )));

    // On another branch, the general section applies. (With a fresh cache:
    // the cached commits, descendants of the same introductory commit,
    // would make `topic` known to be authentic.)
    repo.git_ok(&["checkout", "-q", "topic"]);
    binary(&Home::new(), repo.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "initial commit {first} is signed by '{}' instead of '{}'",
            key("dave").signing_fpr_spaced(),
            key("alice").signing_fpr_spaced()
        )));
}

/// On a branch whose name is not UTF-8 (git allows it, and so does a
/// configuration section's name), that branch's section still takes
/// precedence: it is read by the bytes of the name, not passed over for the
/// general section.
#[test]
fn branch_specific_configuration_of_a_branch_whose_name_is_not_utf8() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let repo = Repo::new(LINEAR);
    let first = repo.id("first");
    let git = |args: &[&OsStr]| {
        let out = support::git_command(repo.path())
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    // The general section names the wrong signer; the branch's the right one.
    repo.git_ok(&["config", "guix.authentication.introduction-commit", &first]);
    repo.git_ok(&[
        "config",
        "guix.authentication.introduction-signer",
        &key("alice").signing_fpr_spaced(),
    ]);
    let section = |key: &str| [&b"guix.authentication-x\x9b."[..], key.as_bytes()].concat();
    let dave = key("dave").signing_fpr_spaced();
    for (key, value) in [
        ("introduction-commit", first.as_str()),
        ("introduction-signer", dave.as_str()),
    ] {
        let name = section(key);
        git(&[
            OsStr::new("config"),
            OsStr::from_bytes(&name),
            OsStr::new(value),
        ]);
    }
    git(&[
        OsStr::new("checkout"),
        OsStr::new("-q"),
        OsStr::new("-b"),
        OsStr::from_bytes(b"x\x9b"),
    ]);
    repo.cmd()
        .assert()
        .code(0)
        .stderr(predicate::str::contains(format!(
            "successfully authenticated commit {}",
            repo.id("fourth")
        )));
}

#[test]
fn existing_hooks_are_never_overwritten() {
    let repo = Repo::new(LINEAR);
    let hooks = repo.path().join(".git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let mine = "#!/bin/sh\necho 'my own pre-push hook'\n";
    let pre_push = hooks.join("pre-push");
    std::fs::write(&pre_push, mine).unwrap();
    std::fs::set_permissions(&pre_push, std::fs::Permissions::from_mode(0o755)).unwrap();

    let assert = repo.authenticate_from_first().assert().code(0).stdout("");
    let err = stderr(&assert);
    assert_eq!(std::fs::read_to_string(&pre_push).unwrap(), mine);
    assert!(
        err.contains(&format!(
            "warning: not overriding pre-existing hook '{}'",
            pre_push.display()
        )),
        "{err}"
    );
    support::assert_contains(
        &err,
        r#"consider adding `git-authenticate --end="$local_oid""#,
    );
    // The other hook is installed.
    assert!(
        err.contains(&format!(
            "installed hook '{}'",
            hooks.join("post-merge").display()
        )),
        "{err}"
    );
    assert!(err.contains("successfully authenticated commit"), "{err}");
}

#[test]
fn keyring_branch_checked_out_does_nothing() {
    let repo = Repo::new(LINEAR);
    let keyring_tip = repo.git_ok(&["rev-parse", "keyring"]);

    // END is the keyring's tip: that alone says nothing (anyone who can
    // push can make a commit the tip of both branches), so it is checked.
    let assert = repo
        .authenticate_from_first()
        .args(["--end", "keyring"])
        .assert()
        .code(1)
        .stdout("");
    let err = stderr(&assert);
    assert!(
        err.contains(&format!(
            "commit {keyring_tip} is not a descendant of introductory commit"
        )),
        "{err}"
    );
    assert!(!err.contains("not checked"), "{err}");

    // The keyring branch is checked out.
    repo.git_ok(&["checkout", "-q", "keyring"]);
    let assert = repo.authenticate_from_first().assert().code(0).stdout("");
    let err = stderr(&assert);
    support::assert_contains(
        &err,
        "current branch 'keyring' is the keyring branch, which is not authenticated; not checked",
    );
    assert!(!err.contains("successfully"), "{err}");

    // In JSON too, there is a document saying so: skipped, not authentic.
    let assert = repo
        .authenticate_from_first()
        .arg("--format=json")
        .assert()
        .code(0);
    let doc = document(&assert);
    assert_eq!(doc["authentic"], json!(false));
    assert_eq!(doc["outcome"], json!("skipped"));
    assert_eq!(
        doc["skipped"],
        json!({
            "reason": "keyring-branch-checked-out",
            "branch": "keyring",
            "message": "current branch 'keyring' is the keyring branch, which is not \
                        authenticated; not checked (name a commit with --end to check it)",
        })
    );
    assert_eq!(doc["commits_checked"], json!(0));
    assert_eq!(doc["failures"], json!([]));
    assert_eq!(doc["keyring"], json!("keyring"));
    assert_eq!(
        doc["introduction"],
        introduction_json(&repo, "first", "dave")
    );
}

/// A new unsigned commit on top of `parent` (any commit-ish), on no branch.
fn unsigned_child(repo: &Repo, parent: &str) -> String {
    let tree = format!("{parent}^{{tree}}");
    repo.git_ok(&["commit-tree", "-p", parent, "-m", "unsigned", &tree])
}

/// A commit named with `--end` is always checked, whatever is checked out
/// (Guix does nothing when the keyring branch is checked out, even then);
/// so is one pushed to the keyring branch that descends from the
/// introduction: it is channel history.
#[test]
fn explicit_end_is_never_skipped() {
    let repo = Repo::new(LINEAR);
    let fourth = repo.id("fourth");
    let unsigned = unsigned_child(&repo, &fourth);
    repo.git_ok(&["checkout", "-q", "keyring"]);
    for extra in [&[][..], &["--pushed-ref=refs/heads/keyring"]] {
        let assert = repo
            .authenticate_from_first()
            .args(["--end", &unsigned])
            .args(extra)
            .assert()
            .code(1);
        let err = stderr(&assert);
        support::assert_contains(&err, &format!("commit {unsigned} lacks a signature"));
        assert!(!err.contains("not checked"), "{err}");
    }
    let assert = repo
        .authenticate_from_first()
        .args(["--end", &unsigned, "--format=json"])
        .assert()
        .code(1);
    let doc = document(&assert);
    assert_eq!(doc["outcome"], json!("not-authentic"));
    assert_eq!(doc["skipped"], json!(null));

    // The keyring's own history, pushed to it, is not checked, and not
    // called authentic either.
    let assert = repo
        .authenticate_from_first()
        .args([
            "--end=keyring",
            "--pushed-ref=refs/heads/keyring",
            "--format=json",
        ])
        .assert()
        .code(0);
    let doc = document(&assert);
    assert_eq!(doc["authentic"], json!(false));
    assert_eq!(doc["outcome"], json!("skipped"));
    assert_eq!(doc["skipped"]["reason"], json!("keyring-branch-pushed"));
    assert!(stderr(&assert).contains("which is not authenticated; not checked"));
}

/// A channel keeping its keys on master (`-k master`): master is both the
/// keyring and the channel. `--end UNSIGNED` and a push of it to master
/// are refused; only a run about the checked-out branch itself is skipped,
/// as in Guix, and says so.
#[test]
fn keys_on_master_do_not_skip_a_named_commit() {
    support::needs::gpg();
    let repo = Repo::new(LINEAR);
    repo.git_ok(&["config", "user.signingkey", &key("dave").primary_fpr]);
    repo.git_ok(&["checkout", "-q", "keyring", "--", "."]);
    repo.git_ok(&["commit", "-q", "-S", "-m", "Keys on master."]);
    let keys = repo.git_ok(&["rev-parse", "HEAD"]);
    let unsigned = unsigned_child(&repo, "HEAD");
    let run = |args: &[&str]| {
        let mut c = repo.authenticate_from_first();
        c.args(["-k", "master"]).args(args);
        c
    };
    for extra in [&[][..], &["--pushed-ref=refs/heads/master"]] {
        let assert = run(&["--end", &unsigned]).args(extra).assert().code(1);
        let err = stderr(&assert);
        support::assert_contains(&err, &format!("commit {unsigned} lacks a signature"));
    }
    let assert = run(&["--end", &keys]).assert().code(0);
    assert!(stderr(&assert).contains(&format!("successfully authenticated commit {keys}")));

    let assert = run(&["--format=json"]).assert().code(0);
    let doc = document(&assert);
    assert_eq!(doc["authentic"], json!(false));
    assert_eq!(doc["outcome"], json!("skipped"));
    assert_eq!(
        doc["skipped"]["reason"],
        json!("keyring-branch-checked-out")
    );
    assert_eq!(doc["skipped"]["branch"], json!("master"));
    let assert = run(&[]).assert().code(0);
    let err = stderr(&assert);
    support::assert_contains(
        &err,
        "current branch 'master' is the keyring branch, which is not authenticated; not checked",
    );
    assert!(!err.contains("successfully"), "{err}");
}

/// A hostile server publishes a tag named `origin/master` (which `git
/// fetch` follows) at a signed commit, and moves its master to an unsigned
/// one: `--end origin/master` could mean either, as git warns, so it is
/// refused (status 2) naming both; full names are accepted. So is a short
/// id that is also a branch's name.
#[test]
fn ambiguous_names_are_refused() {
    let repo = Repo::new(LINEAR);
    let fourth = repo.id("fourth");
    let unsigned = unsigned_child(&repo, &fourth);
    let server = repo.home.path().join("server.git");
    repo.git_ok(&["clone", "-q", "--bare", ".", server.to_str().unwrap()]);
    repo.git_ok_in(&server, &["tag", "origin/master", &fourth]);
    repo.git_ok_in(&server, &["update-ref", "refs/heads/master", &unsigned]);
    repo.git_ok(&["remote", "add", "origin", server.to_str().unwrap()]);
    repo.git_ok(&["fetch", "-q", "--tags", "origin"]);
    assert_eq!(
        repo.git_ok(&["rev-parse", "refs/tags/origin/master"]),
        fourth
    );

    let assert = repo
        .authenticate_from_first()
        .args(["--end", "origin/master"])
        .assert()
        .code(2)
        .stdout("");
    let err = stderr(&assert);
    assert!(
        err.contains(
            "`origin/master` is ambiguous: it could mean `refs/tags/origin/master` or \
             `refs/remotes/origin/master`"
        ),
        "{err}"
    );
    assert!(!err.contains("successfully"), "{err}");
    // In an expression too, and in JSON.
    let assert = repo
        .authenticate_from_first()
        .args(["--end", "origin/master~0", "--format=json"])
        .assert()
        .code(2);
    let doc = document(&assert);
    assert_eq!(doc["outcome"], json!("could-not-check"));
    assert_eq!(doc["failures"][0]["kind"], json!("ambiguous-revision"));

    // Named in full, each is what it is.
    repo.authenticate_from_first()
        .args(["--end", "refs/tags/origin/master"])
        .assert()
        .code(0);
    let assert = repo
        .authenticate_from_first()
        .args(["--end", "refs/remotes/origin/master"])
        .assert()
        .code(1);
    assert!(stderr(&assert).contains(&format!("commit {unsigned} lacks a signature")));

    // A short id that is also a branch's name.
    let short = &fourth[..8];
    repo.git_ok(&["branch", short, &repo.id("second")]);
    let assert = repo
        .authenticate_from_first()
        .args(["--end", short])
        .assert()
        .code(2);
    let err = stderr(&assert);
    assert!(
        err.contains(&format!(
            "could mean `refs/heads/{short}` or object {fourth}"
        )),
        "{err}"
    );
    // A full id is an id, as in git.
    repo.authenticate_from_first()
        .args(["--end", &fourth])
        .assert()
        .code(0);
    // HEAD is HEAD, whatever tag a server names so.
    repo.git_ok(&["update-ref", "refs/tags/HEAD", &unsigned]);
    repo.authenticate_from_first().assert().code(0);
    repo.authenticate_from_first()
        .args(["--end", "HEAD"])
        .assert()
        .code(0);
}

/// END an ancestor of the introduction, dated after it (clock skew), or
/// the introduction itself: nothing is checked, as in Guix, so nothing is
/// announced ("Authenticating commits … (0 new commits)" is a line Guix
/// never prints), and `--stats` says why, not that the commits were
/// authenticated before.
#[test]
fn nothing_to_check_before_the_introduction_is_said_truly() {
    let repo = Repo::new(
        "keyring alice\nauthorize alice\ncommit pre0 gpg:alice\nclock 1900000000\n\
         commit pre gpg:alice\nclock 1609459200\ncommit first gpg:alice\n",
    );
    let run = |end: &str| {
        let mut c = repo.cmd();
        c.args(repo.intro("first", "alice")).args([
            "--stats",
            "--cache-key",
            "t/nothing",
            "--end",
            &repo.id(end),
        ]);
        let assert = c.assert().code(0);
        let out = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
        (out, stderr(&assert))
    };
    for (end, why) in [
        ("pre", "an ancestor of the introductory commit"),
        ("pre0", "an ancestor of the introductory commit"),
        ("first", "the introductory commit"),
    ] {
        let (out, err) = run(end);
        assert_eq!(
            out,
            format!("Signing statistics: no commits to check (END is {why})\n"),
            "{end}"
        );
        assert!(!err.contains("Authenticating commits"), "{end}: {err}");
        repo.assert_authenticated(&err, end);
    }
}

/// A bare repository whose HEAD names a branch that does not exist (a
/// mirror whose default branch is another): with `--end`, END is
/// authenticated (Guix fails: its keyring-branch check reads HEAD,
/// "reference 'refs/heads/master' not found"); without, HEAD names no
/// commit, status 2.
#[test]
fn unborn_head_with_end_is_authenticated() {
    let repo = Repo::new(LINEAR);
    let bare = repo.home.path().join("bare.git");
    repo.git_ok(&["clone", "-q", "--bare", ".", bare.to_str().unwrap()]);
    repo.git_ok_in(&bare, &["symbolic-ref", "HEAD", "refs/heads/nowhere"]);
    let run = |extra: &[&str]| {
        let mut c = binary(&repo.home, &bare);
        c.args(repo.intro("first", "dave")).args(extra);
        c.assert()
    };
    let assert = run(&["--end", &repo.id("fourth")]).code(0);
    repo.assert_authenticated(&stderr(&assert), "fourth");
    let assert = run(&["--end", "master"]).code(0);
    repo.assert_authenticated(&stderr(&assert), "fourth");
    let assert = run(&[]).code(2);
    let err = stderr(&assert);
    assert!(err.contains("`HEAD` does not name a commit"), "{err}");
}

// ---------------------------------------------------------------------------
// The hooks, run by git itself.

/// Writes `file` and commits it with the real `git commit` (signed with
/// `-S` by `user.signingkey`), returning the new commit's id.
fn git_commit(repo: &Repo, dir: &Path, file: &str, extra: &[&str]) -> String {
    std::fs::write(dir.join(file), format!("{file}\n")).unwrap();
    repo.git_ok_in(dir, &["add", file]);
    let mut args = vec!["commit", "-q", "-m", file];
    args.extend_from_slice(extra);
    repo.git_ok_in(dir, &args);
    repo.git_ok_in(dir, &["rev-parse", "HEAD"])
}

/// An authenticated repository whose hooks are installed, with a bare
/// remote `origin` holding its keyring and master.
fn with_remote(repo: &Repo) -> PathBuf {
    repo.authenticate_from_first().assert().code(0);
    let remote = repo.home.path().join("remote.git");
    repo.git_ok_in(
        repo.home.path(),
        &[
            "init",
            "-q",
            "--bare",
            "--initial-branch=master",
            "remote.git",
        ],
    );
    repo.git_ok(&["remote", "add", "origin", remote.to_str().unwrap()]);
    repo.git_ok(&["config", "user.signingkey", &key("dave").primary_fpr]);
    let out = repo.git_in(repo.path(), &["push", "origin", "keyring", "master"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    support::assert_contains(
        &err,
        "pushing to keyring branch 'keyring', which is not authenticated",
    );
    repo.assert_authenticated(&err, "fourth");
    remote
}

fn remote_branch(repo: &Repo, remote: &Path, branch: &str) -> Option<String> {
    let out = repo.git_in(remote, &["rev-parse", "--verify", "-q", branch]);
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).unwrap().trim().to_owned())
}

#[test]
fn pre_push_hook_refuses_unauthenticated_commits() {
    support::needs::gpg();
    let repo = Repo::new(LINEAR);
    let remote = with_remote(&repo);

    // An unsigned commit made with plain `git commit`: refused.
    let unsigned = git_commit(&repo, repo.path(), "unsigned.txt", &[]);
    let out = repo.git_in(repo.path(), &["push", "origin", "master"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    support::assert_contains(&err, &format!("error: commit {unsigned} lacks a signature"));
    assert_eq!(
        remote_branch(&repo, &remote, "master"),
        Some(repo.id("fourth"))
    );

    // The same change signed with `git commit -S` by an authorized key.
    repo.git_ok(&["reset", "-q", "--hard", "HEAD~1"]);
    let signed = git_commit(&repo, repo.path(), "signed.txt", &["-S"]);
    let out = repo.git_in(repo.path(), &["push", "origin", "master"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    support::assert_contains(&err, &format!("successfully authenticated commit {signed}"));
    assert_eq!(remote_branch(&repo, &remote, "master"), Some(signed));

    // Tags are authenticated too (the annotated one peeled); deleting a
    // branch or a tag is never blocked.
    repo.git_ok(&["push", "-q", "origin", "master:refs/heads/x", "annotated"]);
    assert!(remote_branch(&repo, &remote, "x").is_some());
    let out = repo.git_in(
        repo.path(),
        &["push", "origin", ":refs/heads/x", ":refs/tags/annotated"],
    );
    support::assert_success(&out, "deleting a branch and a tag");
    assert_eq!(remote_branch(&repo, &remote, "x"), None);
    assert_eq!(remote_branch(&repo, &remote, "refs/tags/annotated"), None);
}

#[test]
fn post_merge_hook_authenticates_what_is_pulled() {
    support::needs::gpg();
    let repo = Repo::new(LINEAR);
    let remote = with_remote(&repo);

    // A second clone, authenticated once (which installs its hooks).
    let clone = repo.home.path().join("clone");
    repo.git_ok_in(
        repo.home.path(),
        &["clone", "-q", remote.to_str().unwrap(), "clone"],
    );
    let assert = binary(&repo.home, &clone)
        .args(repo.intro("first", "dave"))
        .args(["-k", "origin/keyring"])
        .assert()
        .code(0);
    assert!(stderr(&assert).contains("installed hook"));

    // A good commit, pushed from the first repository and pulled.
    let signed = git_commit(&repo, repo.path(), "signed.txt", &["-S"]);
    repo.git_ok(&["push", "-q", "origin", "master"]);
    let out = repo.git_in(&clone, &["pull", "--ff-only"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "Authenticating commits {} to {} (1 new commit)...",
            repo.short("first"),
            &signed[..7]
        )),
        "the post-merge hook ran: {err}"
    );
    support::assert_contains(&err, &format!("successfully authenticated commit {signed}"));

    // An unsigned commit pushed past the hook (--no-verify) is reported
    // by the post-merge hook when pulled.
    let unsigned = git_commit(&repo, repo.path(), "unsigned.txt", &[]);
    repo.git_ok(&["push", "-q", "--no-verify", "origin", "master"]);
    let out = repo.git_in(&clone, &["pull", "--ff-only"]);
    let err = String::from_utf8_lossy(&out.stderr);
    support::assert_contains(&err, &format!("error: commit {unsigned} lacks a signature"));
}

#[test]
fn local_copy_of_a_remote_keyring_is_not_authenticated() {
    let repo = Repo::new(LINEAR);
    let remote = with_remote(&repo);
    // A clone that uses the remote-tracking keyring, as after
    // `git clone` and a first run with `--keyring=origin/keyring`.
    let clone = repo.home.path().join("clone");
    repo.git_ok_in(
        repo.home.path(),
        &["clone", "-q", remote.to_str().unwrap(), "clone"],
    );
    binary(&repo.home, &clone)
        .args(repo.intro("first", "dave"))
        .args(["-k", "origin/keyring"])
        .assert()
        .code(0);

    // A maintainer adds a key on the local keyring branch and pushes it:
    // the pre-push hook does not authenticate the keyring.
    repo.git_ok_in(&clone, &["branch", "keyring", "origin/keyring"]);
    let updated = repo.home.commit_on_keyring(&clone);
    let out = repo.git_in(&clone, &["push", "origin", "keyring"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    support::assert_contains(
        &err,
        "pushing to keyring branch 'keyring', which is not authenticated",
    );
    assert_eq!(remote_branch(&repo, &remote, "keyring"), Some(updated));

    // With the local keyring branch checked out, nothing is authenticated.
    repo.git_ok_in(&clone, &["checkout", "-q", "keyring"]);
    binary(&repo.home, &clone)
        .assert()
        .code(0)
        .stdout("")
        .stderr(predicate::str::contains(
        "current branch 'keyring' is the keyring branch, which is not authenticated; not checked",
    ));
}

/// `--channels FILE --channel NAME` reads the introduction from a channels
/// file, as users have it for `guix pull`.
#[test]
fn introduction_from_a_channels_file() {
    let repo = Repo::new(LINEAR);
    let [commit, signer] = repo.intro("first", "dave");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("channels.scm");
    std::fs::write(
        &file,
        format!(
            "(cons* (channel (name 'mine) (url \"https://example.org/mine.git\")\n\
             (introduction (make-channel-introduction \"{commit}\"\n\
             (openpgp-fingerprint \"{signer}\"))))\n\
             %default-channels)\n"
        ),
    )
    .unwrap();
    let assert = repo.cmd().arg("--channels").arg(&file).assert().code(2);
    assert!(
        stderr(&assert).contains("pick one by name"),
        "{}",
        stderr(&assert)
    );
    repo.cmd()
        .arg("--channels")
        .arg(&file)
        .args(["--channel", "mine"])
        .assert()
        .code(0);
}

#[test]
fn keep_going_prints_the_first_failures_then_a_count() {
    let mut text = String::from("keyring dave\nauthorize dave\ncommit first dave\n");
    for i in 0..30 {
        text.push_str(&format!("write f.txt \"{i}\\n\"\ncommit u-{i}\n"));
    }
    let repo = Repo::new(&text);
    let assert = repo
        .authenticate_from_first()
        .arg("--keep-going")
        .assert()
        .code(1)
        .stdout("");
    let err = stderr(&assert);
    // Newest first, as Guix meets them: the first 20, then a count.
    support::assert_contains(
        &err,
        &format!("commit {} lacks a signature", repo.id("u-29")),
    );
    assert!(
        !err.contains(&format!("commit {} lacks", repo.id("u-0"))),
        "{err}"
    );
    assert_eq!(err.matches("lacks a signature").count(), 20, "{err}");
    support::assert_contains(&err, "… and 10 more failures, not shown (30 in all");
    // The JSON document counts them all.
    let assert = repo
        .authenticate_from_first()
        .args(["--keep-going", "--format=json", "-q"])
        .assert()
        .code(1);
    let doc: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(doc["failure_count"], 30);
    assert_eq!(doc["failures"].as_array().unwrap().len(), 30);
}
