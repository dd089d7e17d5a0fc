//! The command line's part in never calling an unauthentic history
//! authentic: the keyring branch recognised by name only (never because a
//! commit is its tip), replace refs and grafts refused, out-of-range
//! `--jobs`, unreadable `--historical-authorizations` files, and a standard
//! error that stays quiet with `--format=json` and `-q`.
//!
//! Everything runs the built binary and the real git on repositories built
//! from scenarios, with a private home (`support::Home`); commits are
//! signed by the real gpg when it is there, by Sequoia otherwise.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use git_authenticate::{
    authenticate, Authorizations, Error, GitEnvironment, NoProgress, Options, ReplaceObjects,
    SubstitutionError, Substitutions,
};
use serde_json::Value;
use support::{key, Built, GitIn, Home};

/// `first` (the introduction, dave), then `second` (alice), both
/// authorized; keys on branch `keyring`.
const CHANNEL: &str = r#"
keyring alice dave
authorize alice dave
commit first gpg:dave
write a.txt "A\n"
commit second gpg:alice
"#;

/// Variables of the test's own environment that change what git and the
/// binary substitute; every command here starts without them.
const SUBSTITUTION_VARS: &[&str] = &[
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_GRAFT_FILE",
];

/// A scenario's repository with a private home.
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

    fn id(&self, label: &str) -> String {
        self.built.oid(label).to_string()
    }

    /// COMMIT and SIGNER of the introduction (`first`, by dave).
    fn intro(&self) -> [String; 2] {
        [self.id("first"), key("dave").signing_fpr_spaced()]
    }

    /// The binary in `dir`, with the private home.
    fn binary_in(&self, dir: &Path) -> Command {
        let mut c = self.home.command(dir);
        for name in SUBSTITUTION_VARS {
            c.env_remove(name);
        }
        c
    }

    /// The binary in the work tree, with the introduction.
    fn authenticate(&self) -> Command {
        let mut c = self.binary_in(self.path());
        c.args(self.intro());
        c
    }

    /// A directory in the private home.
    fn dir(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    /// `git clone -q OPTIONS from` into the directory `name` of the
    /// private home, returned.
    fn clone(&self, options: &[&str], from: &Path, name: &str) -> PathBuf {
        let mut args = vec!["clone", "-q"];
        args.extend(options);
        args.extend([from.to_str().unwrap(), name]);
        self.git_ok_in(self.home.path(), &args);
        self.dir(name)
    }
}

impl GitIn for Repo {
    fn path(&self) -> &Path {
        &self.built.path
    }

    /// The real git in `dir`, with the private home and the binary first
    /// on `PATH` (for hooks and `git authenticate`).
    fn git_in(&self, dir: &Path, args: &[&str]) -> Output {
        let mut c = self.home.git(dir, SUBSTITUTION_VARS);
        c.args(args).output().expect("run git")
    }
}

/// Runs `command`, which must finish within 30 s (it is killed otherwise).
fn run(command: Command) -> Output {
    support::process::run_bounded(command, Duration::from_secs(30))
}

/// Runs `command`, which must exit with `code`: its standard error.
fn run_expecting(command: Command, code: i32) -> String {
    let out = run(command);
    let err = String::from_utf8(out.stderr).expect("UTF-8 standard error");
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {err}",
        String::from_utf8_lossy(&out.stdout)
    );
    err
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not one JSON document ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

// ---------------------------------------------------------------------------
// The keyring branch: by name, never by id.

/// The attack: one unsigned merge of master's tip and the keyring's tip,
/// pushed by whoever controls the server to both branches (both are
/// fast-forwards). Its tree is the keyring's, so the keyring still loads.
fn push_merge_to_master_and_keyring(repo: &Repo, server: &Path) -> String {
    let attacker = repo.clone(&[], server, "attacker");
    let merge = repo.git_ok_in(
        &attacker,
        &[
            "commit-tree",
            "-p",
            "origin/master",
            "-p",
            "origin/keyring",
            "-m",
            "Add keys and code.",
            "origin/keyring^{tree}",
        ],
    );
    repo.git_ok_in(
        &attacker,
        &[
            "push",
            "-q",
            "origin",
            &format!("{merge}:refs/heads/master"),
            &format!("{merge}:refs/heads/keyring"),
        ],
    );
    merge
}

/// A bare "server" holding the channel, and a user's clone authenticated
/// once (which records the introduction and installs the hooks), with a
/// local keyring branch as `git fetch origin keyring:keyring` makes it.
fn server_and_user(repo: &Repo) -> (PathBuf, PathBuf) {
    let server = repo.clone(&["--bare"], repo.path(), "server.git");
    let user = repo.clone(&[], &server, "user");
    repo.git_ok_in(&user, &["fetch", "-q", "origin", "keyring:keyring"]);
    let mut first = repo.binary_in(&user);
    first.args(repo.intro());
    let err = run_expecting(first, 0);
    assert!(err.contains("installed hook"), "{err}");
    (server, user)
}

#[test]
fn merge_pushed_to_master_and_keyring_is_refused_after_pull() {
    let repo = Repo::new(CHANNEL);
    let (server, user) = server_and_user(&repo);
    let merge = push_merge_to_master_and_keyring(&repo, &server);

    repo.git_ok_in(&user, &["fetch", "-q", "origin", "keyring:keyring"]);
    assert_eq!(repo.git_ok_in(&user, &["rev-parse", "keyring"]), merge);
    // `git pull` runs the post-merge hook; its status does not change
    // git's, but what it prints does reach the user.
    let out = repo.git_in(&user, &["pull", "--ff-only"]);
    let err = stderr_of(&out);
    assert_eq!(
        repo.git_ok_in(&user, &["rev-parse", "HEAD"]),
        merge,
        "{err}"
    );
    assert!(!err.contains("not checked"), "{err}");
    // The first failure, in Guix's order, is the oldest commit: the
    // keyring's, which the merge brought into master's history.
    assert!(
        err.contains(&format!(
            "Authenticating commits {}",
            &repo.id("first")[..7]
        )),
        "the post-merge hook ran: {err}"
    );
    assert!(err.contains("lacks a signature"), "{err}");

    // `git authenticate` itself, with the recorded configuration.
    let mut again = repo.binary_in(&user);
    again.arg("--keep-going");
    let err = run_expecting(again, 1);
    assert!(!err.contains("not checked"), "{err}");
    support::assert_contains(&err, &format!("error: commit {merge} lacks a signature"));
    let mut json = repo.binary_in(&user);
    json.args(["--keep-going", "--format=json"]);
    let out = run(json);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let doc = json_of(&out);
    assert_eq!(doc["authentic"], Value::Bool(false), "{doc}");
    let failures = doc["failures"].as_array().expect("failures");
    assert!(
        failures
            .iter()
            .any(|f| f["commit"] == merge.as_str() && f["kind"] == "unsigned"),
        "{doc}"
    );

    // The keyring branch checked out: nothing to do, as in Guix.
    repo.git_ok_in(&user, &["checkout", "-q", "keyring"]);
    let err = run_expecting(repo.binary_in(&user), 0);
    support::assert_contains(
        &err,
        "current branch 'keyring' is the keyring branch, which is not authenticated; not checked",
    );
}

#[test]
fn merge_at_the_remote_keyring_tip_is_refused_in_ci() {
    let repo = Repo::new(CHANNEL);
    let (server, _user) = server_and_user(&repo);
    let merge = push_merge_to_master_and_keyring(&repo, &server);
    // What the CI templates run: a fresh clone at END (detached), the
    // keyring as a remote-tracking branch.
    let ci = repo.clone(&[], &server, "ci");
    repo.git_ok_in(&ci, &["checkout", "-q", "--detach", &merge]);
    let ci_run = |extra: &[&str]| {
        let mut c = repo.binary_in(&ci);
        c.args(repo.intro())
            .arg(format!("--end={merge}"))
            .arg("--keyring=origin/keyring")
            .args(extra);
        c
    };
    for extra in [&[][..], &["--pushed-ref=refs/heads/master"]] {
        let err = run_expecting(ci_run(extra), 1);
        assert!(!err.contains("not checked"), "{extra:?}: {err}");
        assert!(err.contains("lacks a signature"), "{extra:?}: {err}");
        let err = run_expecting(ci_run(&[&["--keep-going"], extra].concat()), 1);
        assert!(
            err.contains(&format!("error: commit {merge} lacks a signature")),
            "{extra:?}: {err}"
        );
    }
    // Pushed to the keyring branch, the merge is still checked: it
    // carries the channel's history (it descends from the introduction).
    let err = run_expecting(ci_run(&["--pushed-ref=refs/heads/keyring"]), 1);
    assert!(!err.contains("not checked"), "{err}");
    assert!(err.contains("lacks a signature"), "{err}");
    // A tag named like the keyring is not the keyring branch.
    let err = run_expecting(ci_run(&["--pushed-ref=refs/tags/keyring"]), 1);
    assert!(err.contains("lacks a signature"), "{err}");
}

/// The pre-push hook skips a push to the keyring branch by the remote
/// ref's name, and only that ref: what else is pushed is authenticated,
/// even with the keyring branch checked out.
#[test]
fn pre_push_hook_skips_the_keyring_branch_by_name() {
    let repo = Repo::new(CHANNEL);
    let (_server, user) = server_and_user(&repo);
    let hook = std::fs::read_to_string(user.join(".git/hooks/pre-push")).unwrap();
    assert!(hook.contains("--pushed-ref=\"$remote_ref\""), "{hook}");

    // A new key on the keyring branch: pushed without authentication.
    repo.home.commit_on_keyring(&user);
    let out = repo.git_in(&user, &["push", "origin", "keyring"]);
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    support::assert_contains(
        &err,
        "pushing to keyring branch 'keyring', which is not authenticated",
    );

    // An unsigned commit on master is refused, also when pushed together
    // with the keyring, and also from a checkout of the keyring branch.
    let unsigned = repo.git_ok_in(
        &user,
        &[
            "commit-tree",
            "-p",
            "master",
            "-m",
            "Unsigned.",
            "master^{tree}",
        ],
    );
    repo.git_ok_in(&user, &["branch", "-f", "unsigned", &unsigned]);
    let refused = format!("error: commit {unsigned} lacks a signature");
    for (checkout, refspecs) in [
        ("master", vec!["unsigned:master"]),
        ("master", vec!["keyring", "unsigned:master"]),
        ("keyring", vec!["unsigned:master"]),
    ] {
        repo.git_ok_in(&user, &["checkout", "-q", checkout]);
        let mut args = vec!["push", "origin"];
        args.extend(&refspecs);
        let out = repo.git_in(&user, &args);
        let err = stderr_of(&out);
        assert!(!out.status.success(), "{checkout} {refspecs:?}: {err}");
        assert!(err.contains(&refused), "{checkout} {refspecs:?}: {err}");
    }
    repo.git_ok_in(&user, &["checkout", "-q", "master"]);
    // Master itself, authentic, is checked and pushed.
    let out = repo.git_in(&user, &["push", "origin", "master:refs/heads/copy"]);
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("successfully authenticated commit"), "{err}");
}

/// The pre-push hook of earlier versions (which skipped the keyring by its
/// tip's id) is replaced by the next successful run; any other is kept.
#[test]
fn earlier_pre_push_hook_is_upgraded() {
    const OLD: &str = r#"#!/bin/sh
# Installed by 'git-authenticate': refuse to push unauthenticated commits.
set -e
z40=0000000000000000000000000000000000000000
while read local_ref local_oid remote_ref remote_oid
do
  if [ "$local_oid" != "$z40" ]
  then
    "${GIT_AUTHENTICATE:-git-authenticate}" --end="$local_oid"
  fi
done
"#;
    let repo = Repo::new(CHANNEL);
    let hook = repo.path().join(".git/hooks/pre-push");
    run_expecting(repo.authenticate(), 0);
    std::fs::write(&hook, OLD).unwrap();
    let err = run_expecting(repo.authenticate(), 0);
    support::assert_contains(&err, &format!("upgraded hook '{}'", hook.display()));
    let upgraded = std::fs::read_to_string(&hook).unwrap();
    let fresh = Repo::new(CHANNEL);
    run_expecting(fresh.authenticate(), 0);
    let installed = std::fs::read_to_string(fresh.path().join(".git/hooks/pre-push")).unwrap();
    assert_eq!(upgraded, installed);
    // Someone's own hook is left alone.
    let mine = format!("{OLD}# mine\n");
    std::fs::write(&hook, &mine).unwrap();
    let err = run_expecting(repo.authenticate(), 0);
    assert!(!err.contains("upgraded"), "{err}");
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), mine);
}

// ---------------------------------------------------------------------------
// Replace refs and grafts.

/// An unsigned commit with `second`'s parent and a changed tree: what an
/// attacker would have git show instead of `second`.
fn impostor(repo: &Repo) -> String {
    repo.git_ok(&[
        "commit-tree",
        "-p",
        &repo.id("first"),
        "-m",
        "second",
        &format!("{}^{{tree}}", repo.id("first")),
    ])
}

/// The channel with `second` replaced (`git replace`) by its impostor, and
/// `second`'s id.
fn with_second_replaced() -> (Repo, String) {
    let repo = Repo::new(CHANNEL);
    let second = repo.id("second");
    repo.git_ok(&["replace", &second, &impostor(&repo)]);
    (repo, second)
}

/// Runs the binary in `dir` with `env`; it must refuse with status 2,
/// naming what git would substitute: the standard error.
fn assert_refused(repo: &Repo, dir: &Path, env: &[(&str, &str)], names: &[&str]) -> String {
    let mut c = repo.binary_in(dir);
    c.args(repo.intro()).envs(env.iter().copied());
    let err = run_expecting(c, 2);
    support::assert_contains(
        &err,
        "error: git would substitute objects in this repository",
    );
    for name in names {
        assert!(err.contains(name), "{name}: {err}");
    }
    err
}

fn assert_accepted(repo: &Repo, dir: &Path, env: &[(&str, &str)]) {
    let mut c = repo.binary_in(dir);
    c.args(repo.intro()).envs(env.iter().copied());
    let err = run_expecting(c, 0);
    assert!(err.contains("successfully authenticated commit"), "{err}");
}

#[test]
fn replaced_commit_is_refused() {
    let (repo, second) = with_second_replaced();
    // What git shows is no longer what is signed.
    assert_eq!(
        repo.git_ok(&["rev-parse", &format!("{second}^{{tree}}")]),
        repo.git_ok(&["rev-parse", &format!("{}^{{tree}}", repo.id("first"))])
    );
    let err = assert_refused(
        &repo,
        repo.path(),
        &[],
        &["1 replace ref (replacing ", &second],
    );
    assert!(err.contains(&format!("git replace -d {second}")), "{err}");
    assert!(err.contains("GIT_NO_REPLACE_OBJECTS=1"), "{err}");

    // In JSON, the kind says so.
    let mut json = repo.binary_in(repo.path());
    json.args(repo.intro()).arg("--format=json");
    let out = run(json);
    assert_eq!(out.status.code(), Some(2));
    let doc = json_of(&out);
    assert_eq!(doc["authentic"], Value::Bool(false));
    assert_eq!(doc["failures"][0]["kind"], "replaced-objects", "{doc}");

    // When git would not use them, the history is checked as usual.
    assert_accepted(&repo, repo.path(), &[("GIT_NO_REPLACE_OBJECTS", "1")]);
    // Set to anything, even empty, the variable disables them in git.
    assert_accepted(&repo, repo.path(), &[("GIT_NO_REPLACE_OBJECTS", "")]);
    assert_accepted(
        &repo,
        repo.path(),
        &[("GIT_REPLACE_REF_BASE", "refs/elsewhere/")],
    );
    repo.git_ok(&["config", "core.useReplaceRefs", "false"]);
    assert_accepted(&repo, repo.path(), &[]);
    repo.git_ok(&["config", "core.useReplaceRefs", "true"]);
    assert_refused(&repo, repo.path(), &[], &[&second]);

    // Deleting them, as the hint says, is enough.
    repo.git_ok(&["replace", "-d", &second]);
    assert_accepted(&repo, repo.path(), &[]);
}

#[test]
fn replaced_blob_and_many_replace_refs_are_refused() {
    let repo = Repo::new(CHANNEL);
    let blob = repo.git_ok(&["rev-parse", &format!("{}:a.txt", repo.id("second"))]);
    let evil = {
        std::fs::write(repo.dir("evil"), "evil\n").unwrap();
        repo.git_ok(&["hash-object", "-w", repo.dir("evil").to_str().unwrap()])
    };
    repo.git_ok(&["replace", &blob, &evil]);
    assert_eq!(
        repo.git_ok(&["show", &format!("{}:a.txt", repo.id("second"))]),
        "evil"
    );
    assert_refused(&repo, repo.path(), &[], &[&blob]);

    // Seven replace refs: the first five are named, then a count. Git reads
    // the id from the last path component, ignoring what follows it.
    let ids: Vec<String> = (0..6)
        .map(|i| format!("{i:040x}"))
        .chain(std::iter::once(format!("{:040x}", 0xab)))
        .collect();
    for (i, id) in ids.iter().enumerate().skip(1) {
        let name = match i {
            5 => format!("refs/replace/dir/{id}"),
            6 => format!("refs/replace/{id}-suffix"),
            _ => format!("refs/replace/{id}"),
        };
        repo.git_ok(&["update-ref", &name, &evil]);
    }
    let err = assert_refused(&repo, repo.path(), &[], &["7 replace refs", "and 2 more"]);
    assert!(err.contains("git replace -d ID..."), "{err}");

    // Under another GIT_REPLACE_REF_BASE, git uses those instead.
    let base_repo = Repo::new(CHANNEL);
    let target = base_repo.id("first");
    base_repo.git_ok(&["update-ref", &format!("refs/other/{blob}"), &target]);
    assert_accepted(&base_repo, base_repo.path(), &[]);
    assert_refused(
        &base_repo,
        base_repo.path(),
        &[("GIT_REPLACE_REF_BASE", "refs/other/")],
        &[&blob],
    );
}

#[test]
fn mirror_clone_copies_replace_refs_and_is_refused() {
    let (repo, second) = with_second_replaced();
    let mirror = repo.clone(&["--mirror"], repo.path(), "mirror.git");
    assert!(!repo
        .git_ok_in(&mirror, &["for-each-ref", "refs/replace/"])
        .is_empty());
    assert_refused(&repo, &mirror, &[], &[&second]);
    assert_accepted(&repo, &mirror, &[("GIT_NO_REPLACE_OBJECTS", "1")]);
}

#[test]
fn grafts_are_refused_whatever_the_environment() {
    let repo = Repo::new(CHANNEL);
    let grafts = repo.path().join(".git/info/grafts");
    std::fs::create_dir_all(grafts.parent().unwrap()).unwrap();
    // An empty file grafts nothing. (libgit2 refuses to open a repository
    // whose grafts file has comments, which git accepts.)
    std::fs::write(&grafts, "").unwrap();
    assert_accepted(&repo, repo.path(), &[]);

    // `second` grafted onto nothing: git shows a one-commit history.
    std::fs::write(&grafts, format!("{}\n", repo.id("second"))).unwrap();
    let path = grafts.display().to_string();
    let err = assert_refused(&repo, repo.path(), &[], &[&path]);
    support::assert_contains(&err, &format!("remove the grafts file `{path}`"));
    // Git honours grafts even without replace objects.
    let err = assert_refused(
        &repo,
        repo.path(),
        &[("GIT_NO_REPLACE_OBJECTS", "1")],
        &[&path],
    );
    assert!(!err.contains("GIT_NO_REPLACE_OBJECTS=1"), "{err}");

    // What cannot be read through is assumed to graft something.
    std::fs::remove_file(&grafts).unwrap();
    std::fs::create_dir(&grafts).unwrap();
    assert_refused(&repo, repo.path(), &[], &[&path]);
    std::fs::remove_dir(&grafts).unwrap();

    // GIT_GRAFT_FILE moves the file.
    assert_accepted(&repo, repo.path(), &[]);
    let elsewhere = repo.dir("grafts");
    std::fs::write(&elsewhere, format!("{}\n", repo.id("second"))).unwrap();
    let elsewhere = elsewhere.display().to_string();
    assert_refused(
        &repo,
        repo.path(),
        &[("GIT_GRAFT_FILE", elsewhere.as_str())],
        &[&elsewhere],
    );
}

/// The library: refused by default, accepted with `ReplaceObjects::Ignore`;
/// `Substitutions::find` says what git would substitute.
#[test]
fn library_option_accepts_replace_refs() {
    let (repo, second) = with_second_replaced();
    let git = repo.built.repo();
    let found = Substitutions::find(&git, &GitEnvironment::default()).unwrap();
    assert_eq!(
        found,
        Substitutions {
            replaced: vec![second.clone()],
            replace_refs: 1,
            grafts: None,
        }
    );
    let disabled = GitEnvironment {
        no_replace_objects: true,
        ..GitEnvironment::default()
    };
    assert!(Substitutions::find(&git, &disabled).unwrap().is_empty());

    let intro =
        git_authenticate::Introduction::new(&repo.id("first"), &key("dave").signing_fpr_spaced())
            .unwrap();
    let end = repo.built.oid("second");
    let ignore = Options {
        replace_objects: ReplaceObjects::Ignore,
        ..Options::default()
    };
    let report = authenticate(&git, &intro, end, &ignore, &NoProgress).unwrap();
    assert!(report.is_authentic());
    assert_eq!(Options::default().replace_objects, ReplaceObjects::Refuse);
    // The test's own environment decides what git would do here.
    if GitEnvironment::from_process() == GitEnvironment::default() {
        match authenticate(&git, &intro, end, &Options::default(), &NoProgress) {
            Err(Error::Substitution(SubstitutionError::Substituted {
                replaced,
                replace_refs: 1,
                grafts: None,
            })) => assert_eq!(replaced, [second]),
            other => panic!("not refused: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// --jobs.

#[test]
fn jobs_out_of_range_is_a_usage_error() {
    let repo = Repo::new(CHANNEL);
    for jobs in ["18446744073709551615", "200000", "1025", "-1"] {
        let mut c = repo.authenticate();
        c.arg(format!("--jobs={jobs}"));
        let out = run(c);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "-j {jobs}: {err}");
        assert!(err.contains("--jobs"), "-j {jobs}: {err}");
        assert!(!err.contains("panicked"), "-j {jobs}: {err}");
        assert!(out.stdout.is_empty());
    }
    let mut c = repo.authenticate();
    c.args(["--jobs=1025"]);
    let err = run_expecting(c, 2);
    assert!(err.contains("0..=1024"), "{err}");
    for jobs in ["0", "1", "4"] {
        let mut c = repo.authenticate();
        c.args(["-j", jobs]);
        run_expecting(c, 0);
    }
}

// ---------------------------------------------------------------------------
// --historical-authorizations.

/// Runs with `--historical-authorizations=FILE`: status 2, promptly, with
/// `reason` on standard error.
fn assert_unreadable(repo: &Repo, file: &Path, reason: &str) {
    let mut c = repo.authenticate();
    c.arg(format!("--historical-authorizations={}", file.display()));
    let started = Instant::now();
    let err = run_expecting(c, 2);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{}: took {:?}",
        file.display(),
        started.elapsed()
    );
    support::assert_contains(
        &err,
        &format!("historical authorizations `{}`", file.display()),
    );
    assert!(err.contains(reason), "{reason}: {err}");
}

#[test]
fn historical_authorizations_must_be_a_small_regular_file() {
    let repo = Repo::new(CHANNEL);
    assert_unreadable(
        &repo,
        Path::new("/dev/zero"),
        "not a regular file but a character device",
    );
    let fifo = repo.dir("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    // No writer: opening it for reading would block forever.
    assert_unreadable(&repo, &fifo, "not a regular file but a FIFO");
    assert_unreadable(
        &repo,
        repo.home.path(),
        "not a regular file but a directory",
    );

    let limit = Authorizations::MAX_SIZE;
    let large = repo.dir("large");
    std::fs::write(&large, vec![b' '; limit + 1]).unwrap();
    assert_unreadable(
        &repo,
        &large,
        &format!(
            "the file has {} bytes, more than the {limit} accepted",
            limit + 1
        ),
    );
    // At the limit, the file is read (and parsed: blanks are no datum).
    std::fs::write(&large, vec![b' '; limit]).unwrap();
    let mut c = repo.authenticate();
    c.arg(format!("--historical-authorizations={}", large.display()));
    let err = run_expecting(c, 2);
    assert!(!err.contains("more than the"), "{err}");

    // A symbolic link to a regular file is followed, as any file name.
    let good = repo.dir("good");
    std::fs::write(
        &good,
        support::authorizations_file(&[("alice".into(), key("alice").signing_fpr_spaced())], "t"),
    )
    .unwrap();
    let link = repo.dir("link");
    std::os::unix::fs::symlink(&good, &link).unwrap();
    let mut c = repo.authenticate();
    c.arg(format!("--historical-authorizations={}", link.display()));
    run_expecting(c, 0);
}

// ---------------------------------------------------------------------------
// Standard error with --format=json and -q.

/// `first` (the introduction), then `count` unsigned commits.
fn many_unsigned(count: usize) -> Repo {
    let mut text = String::from("keyring dave\nauthorize dave\ncommit first gpg:dave\n");
    for i in 0..count {
        text.push_str(&format!("write n.txt \"{i}\\n\"\ncommit c{i}\n"));
    }
    Repo::new(&text)
}

fn run_keep_going(repo: &Repo, extra: &[&str]) -> Output {
    let mut c = repo.authenticate();
    c.arg("--keep-going").args(extra);
    let out = run(c);
    assert_eq!(out.status.code(), Some(1), "{extra:?}: {}", stderr_of(&out));
    out
}

#[test]
fn standard_error_stays_quiet_with_json_and_quiet() {
    const COUNT: usize = 300;
    let repo = many_unsigned(COUNT);

    // JSON: the failures are in the document; one line on standard error,
    // naming the first of them (in the order Guix checks the commits).
    let out = run_keep_going(&repo, &["--format=json"]);
    let doc = json_of(&out);
    let failures = doc["failures"].as_array().expect("failures");
    assert_eq!(failures.len(), COUNT);
    assert!(failures.iter().all(|f| f["kind"] == "unsigned"), "{doc}");
    let first = format!("error: {}", failures[0]["message"].as_str().unwrap());
    let err = stderr_of(&out);
    assert_eq!(
        err,
        format!(
            "{first} (and {} more failures; listed in the JSON document)\n",
            COUNT - 1
        )
    );

    // Text: the first 20 failures, with their hints, the same one first,
    // then a count of the others.
    let out = run_keep_going(&repo, &[]);
    let err = stderr_of(&out);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 21, "{err}");
    assert_eq!(errors[0], first);
    assert!(
        errors[20].contains(&format!("… and {} more failures, not shown", COUNT - 20)),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");

    // Quiet text: one line, saying how to see the rest.
    let out = run_keep_going(&repo, &["-q"]);
    assert_eq!(
        stderr_of(&out),
        format!(
            "{first} (and {} more failures; run without --quiet to list them)\n",
            COUNT - 1
        )
    );

    // Quiet JSON: nothing but the document.
    let out = run_keep_going(&repo, &["-q", "--format=json"]);
    assert_eq!(stderr_of(&out), "");
    assert_eq!(
        json_of(&out)["failures"].as_array().map(Vec::len),
        Some(COUNT)
    );

    // Without --keep-going: the one failure, as one line.
    let mut c = repo.authenticate();
    c.arg("--format=json");
    let out = run(c);
    assert_eq!(out.status.code(), Some(1));
    let doc = json_of(&out);
    let message = doc["failures"][0]["message"].as_str().expect("a failure");
    assert_eq!(stderr_of(&out), format!("error: {message}\n"));
    let mut c = repo.authenticate();
    c.args(["--format=json", "-q"]);
    let out = run(c);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr_of(&out), "");
}

#[test]
fn success_and_fatal_errors_on_standard_error() {
    let repo = Repo::new(CHANNEL);
    let mut c = repo.authenticate();
    c.arg("--format=json");
    let out = run(c);
    assert_eq!(out.status.code(), Some(0));
    // Recording the configuration and installing hooks is not the summary.
    assert_eq!(
        stderr_of(&out),
        format!("successfully authenticated commit {}\n", repo.id("second"))
    );
    let mut c = repo.authenticate();
    c.args(["--format=json", "-q"]);
    let out = run(c);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stderr_of(&out), "");
    // An error that stops the check is printed whatever the options.
    for extra in [&["--format=json", "-q"][..], &["-q"]] {
        let mut c = repo.authenticate();
        c.args(["--keyring", "nowhere"]).args(extra);
        let err = run_expecting(c, 2);
        assert!(
            err.contains("error: keyring branch `nowhere` not found"),
            "{extra:?}: {err}"
        );
    }
}
