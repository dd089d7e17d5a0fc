//! The client hooks with the real git running them: what each workflow
//! that brings upstream commits in (`git pull`, `git pull --rebase`,
//! `git fetch` + `git reset --hard`) gets checked by, where hooks are
//! installed (never into a hooks directory shared by other repositories),
//! and whom a failure says to tell.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use support::{key, Built, Home};

use crate::finish::CHANNEL;

/// A channel served from a bare repository in a private home, and a clone
/// of it whose first run recorded the introduction and installed the
/// hooks.
struct Pulled {
    home: Home,
    upstream: Built,
    remote: PathBuf,
    clone: PathBuf,
}

impl Pulled {
    /// Serves upstream's commit `master` (a label, or `master` itself) as
    /// `master`, and `keyring`.
    fn new(master: &str) -> Pulled {
        let upstream = support::build_scenario_text(CHANNEL);
        let home = Home::new();
        let remote = home.path().join("remote.git");
        let clone = home.path().join("clone");
        let pulled = Pulled {
            home,
            upstream,
            remote,
            clone,
        };
        let remote = pulled.remote_str().to_owned();
        let master = match master {
            "master" => "master".to_owned(),
            label => pulled.upstream.oid(label).to_string(),
        };
        pulled.git_ok(pulled.home.path(), &["init", "-q", "--bare", &remote]);
        pulled.git_ok(
            &pulled.upstream.path,
            &[
                "push",
                "-q",
                "--no-verify",
                &remote,
                &format!("{master}:refs/heads/master"),
                "keyring",
            ],
        );
        pulled.git_ok(pulled.home.path(), &["clone", "-q", &remote, "clone"]);
        let first = pulled.upstream.oid("first").to_string();
        let out = pulled
            .home
            .command(&pulled.clone)
            .args([&first, &key("alice").signing_fpr, "-k", "origin/keyring"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        for hook in ["pre-push", "post-merge", "reference-transaction"] {
            assert!(err.contains(&format!("installed hook '{}", pulled.hook(hook).display())));
        }
        pulled
    }

    fn remote_str(&self) -> &str {
        self.remote.to_str().unwrap()
    }

    fn hook(&self, name: &str) -> PathBuf {
        self.clone.join(".git/hooks").join(name)
    }

    /// The real git in `dir`, hooks finding the built binary on `PATH`.
    fn git(&self, dir: &Path, args: &[&str]) -> Output {
        self.home.git_output(dir, args)
    }

    fn git_ok(&self, dir: &Path, args: &[&str]) -> String {
        self.home.git_ok(dir, args)
    }

    /// Someone pushes an unsigned commit to `remote`'s master past the
    /// pre-push hook.
    fn push_unsigned(&self, remote: &str) -> String {
        let dir = &self.upstream.path;
        std::fs::write(dir.join("bad.txt"), "bad\n").unwrap();
        self.git_ok(dir, &["add", "bad.txt"]);
        self.git_ok(dir, &["commit", "-q", "--no-verify", "-m", "bad"]);
        self.git_ok(dir, &["push", "-q", "--no-verify", remote, "master"]);
        self.git_ok(dir, &["rev-parse", "HEAD"])
    }

    fn head(&self) -> String {
        self.git_ok(&self.clone, &["rev-parse", "HEAD"])
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn pull_rebase_with_local_commits_is_checked() {
    let pulled = Pulled::new("master");
    pulled.git_ok(
        &pulled.clone,
        &["commit", "-q", "--allow-empty", "-m", "local work"],
    );
    let before = pulled.head();
    let bad = pulled.push_unsigned(pulled.remote_str());

    let out = pulled.git(&pulled.clone, &["pull", "-q", "--rebase"]);
    let err = stderr(&out);
    // The rebase went through (git ignores the hook's verdict), and no
    // post-merge hook ran: the reference-transaction hook is what spoke.
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("the merge is already done"), "{err}");
    support::assert_contains(&err, &format!("commit {bad} lacks a signature"));
    support::assert_contains(&err, "`refs/remotes/origin/master` now holds these commits");
    support::assert_contains(&err, &format!("`origin` ({})", pulled.remote_str()));
    assert!(!err.contains("--amend"), "not advice to re-sign: {err}");

    // The advice works: the local commit is back where it was.
    pulled.git_ok(&pulled.clone, &["reset", "-q", "--hard", "ORIG_HEAD"]);
    assert_eq!(pulled.head(), before);
}

#[test]
fn fetch_then_reset_is_checked_at_the_fetch() {
    let pulled = Pulled::new("master");
    let bad = pulled.push_unsigned(pulled.remote_str());
    let out = pulled.git(&pulled.clone, &["fetch", "-q"]);
    let err = stderr(&out);
    support::assert_contains(&err, &format!("commit {bad} lacks a signature"));
    support::assert_contains(&err, "do not merge, rebase onto or reset to them");
    // The reset itself updates no remote-tracking branch: nothing more is
    // said, which is why the fetch speaks.
    let out = pulled.git(&pulled.clone, &["reset", "-q", "--hard", "origin/master"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(pulled.head(), bad);
}

#[test]
fn the_remote_named_in_hook_output_is_escaped() {
    // A remote whose URL (a directory name) holds a clear-screen sequence
    // and a carriage return: printed as visible escapes, never raw.
    let pulled = Pulled::new("master");
    let hostile = pulled.home.path().join("re\x1b[2Jmo\rte.git");
    std::fs::rename(&pulled.remote, &hostile).unwrap();
    let hostile = hostile.to_str().unwrap();
    pulled.git_ok(&pulled.clone, &["remote", "set-url", "origin", hostile]);
    pulled.push_unsigned(hostile);
    let out = pulled.git(&pulled.clone, &["pull", "-q", "--ff-only"]);
    let err = stderr(&out);
    assert!(err.contains("lacks a signature"), "{err}");
    assert!(!err.contains('\x1b') && !err.contains('\r'), "{err:?}");
    assert!(err.contains(r"re\x1b[2Jmo\x0dte.git"), "{err}");
    // Both hooks named it: the fetch's and the merge's.
    assert_eq!(err.matches(r"re\x1b[2Jmo\x0dte.git").count(), 2, "{err}");
}

#[test]
fn an_authentic_fetch_says_so_and_the_keyring_branch_is_not_checked() {
    // The clone starts at `first`; `second` arrives by a fetch.
    let pulled = Pulled::new("first");
    let second = pulled.upstream.oid("second").to_string();
    pulled.git_ok(
        &pulled.upstream.path,
        &["push", "-q", "--no-verify", pulled.remote_str(), "master"],
    );
    let out = pulled.git(&pulled.clone, &["fetch", "-q"]);
    let err = stderr(&out);
    support::assert_contains(&err, &format!("successfully authenticated commit {second}"));
    assert!(!err.contains("error"), "{err}");

    // On the keyring branch, whose commits are never signed, a fetch of
    // its upstream is not authenticated.
    pulled.git_ok(&pulled.clone, &["checkout", "-q", "keyring"]);
    let up = &pulled.upstream.path;
    pulled.git_ok(up, &["checkout", "-q", "keyring"]);
    pulled.git_ok(
        up,
        &["commit", "-q", "--allow-empty", "-m", "keyring change"],
    );
    pulled.git_ok(
        up,
        &["push", "-q", "--no-verify", pulled.remote_str(), "keyring"],
    );
    let out = pulled.git(&pulled.clone, &["fetch", "-q"]);
    let err = stderr(&out);
    support::assert_contains(
        &err,
        "fetched keyring branch 'keyring', which is not authenticated; not checked",
    );
    assert!(!err.contains("error"), "{err}");
}

/// bob is authorized at `second`, signs `third`; the keyring is served
/// first without his key.
const NEW_KEY: &str = r#"
keyring alice bob
authorize alice
commit first alice
authorize alice bob
commit second alice
write b.txt "b\n"
commit third bob
"#;

#[test]
fn a_key_that_arrives_with_the_commits_it_signed_is_used() {
    let upstream = support::build_scenario_text(NEW_KEY);
    let home = Home::new();
    let remote = home.path().join("remote.git");
    let remote = remote.to_str().unwrap();
    let git_ok = |dir: &Path, args: &[&str]| home.git_ok(dir, args);
    // A keyring without bob's key: the real one, his key file removed.
    let up = &upstream.path;
    git_ok(up, &["checkout", "-q", "keyring"]);
    let files = git_ok(up, &["ls-files"]);
    let bob = files
        .lines()
        .find(|f| f.contains("bob"))
        .unwrap_or_else(|| panic!("bob's key file: {files}"))
        .to_owned();
    git_ok(up, &["rm", "-q", &bob]);
    git_ok(up, &["commit", "-q", "--no-verify", "-m", "without bob"]);
    let second = upstream.oid("second").to_string();
    let third = upstream.oid("third").to_string();
    git_ok(home.path(), &["init", "-q", "--bare", remote]);
    git_ok(
        up,
        &[
            "push",
            "-q",
            "--no-verify",
            remote,
            &format!("{second}:refs/heads/master"),
            "keyring",
        ],
    );
    git_ok(home.path(), &["clone", "-q", remote, "clone"]);
    let clone = home.path().join("clone");
    let out = home
        .command(&clone)
        .args([
            &upstream.oid("first").to_string(),
            &key("alice").signing_fpr,
        ])
        .args(["-k", "origin/keyring"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    // The maintainers add bob's key and his commit; one fetch brings both.
    git_ok(
        up,
        &[
            "push",
            "-q",
            "--no-verify",
            "--force",
            remote,
            "keyring~1:refs/heads/keyring",
            &format!("{third}:refs/heads/master"),
        ],
    );
    let out = home
        .git(&clone, &[])
        .args(["fetch", "-q"])
        .output()
        .unwrap();
    let err = stderr(&out);
    // Whatever the order git updated the two refs in, the last word is
    // the verdict with bob's key.
    let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert_eq!(
        last,
        format!("successfully authenticated commit {third}"),
        "{err}"
    );
    if err.contains("error:") {
        support::assert_contains(&err, "the check runs again when it arrives");
        assert!(err.contains("keyring `origin/keyring` updated"), "{err}");
    }
}

#[test]
fn the_post_merge_hook_names_the_remote_pulled() {
    let pulled = Pulled::new("master");
    // A mirror, not the branch's upstream, serves an unsigned commit.
    let mirror = pulled.home.path().join("mirror.git");
    let mirror = mirror.to_str().unwrap();
    pulled.git_ok(
        pulled.home.path(),
        &["clone", "-q", "--bare", pulled.remote_str(), mirror],
    );
    pulled.git_ok(&pulled.clone, &["remote", "add", "mirror", mirror]);
    pulled.push_unsigned(mirror);

    let out = pulled.git(
        &pulled.clone,
        &["pull", "-q", "--ff-only", "mirror", "master"],
    );
    let err = stderr(&out);
    assert!(err.contains("lacks a signature"), "{err}");
    assert!(err.contains("the merge is already done"), "{err}");
    assert!(err.contains(&format!("`mirror` ({mirror})")), "{err}");
    assert!(!err.contains("`origin`"), "{err}");

    // Pulled by URL, from no remote: the URL is named.
    pulled.git_ok(&pulled.clone, &["reset", "-q", "--hard", "ORIG_HEAD"]);
    pulled.git_ok(&pulled.clone, &["remote", "remove", "mirror"]);
    let out = pulled.git(
        &pulled.clone,
        &["pull", "-q", "--ff-only", mirror, "master"],
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "channel you pulled from, {}",
            mirror.trim_end_matches(".git")
        )),
        "{err}"
    );
}

#[test]
fn a_hooks_directory_shared_by_other_repositories_gets_no_hook() {
    let built = support::build_scenario_text(CHANNEL);
    let home = Home::new();
    let shared = home.path().join("global-hooks");
    std::fs::create_dir_all(&shared).unwrap();
    let gitconfig = home.path().join(".gitconfig");
    std::fs::write(
        &gitconfig,
        format!("[core]\n\thooksPath = {}\n", shared.display()),
    )
    .unwrap();

    let first = built.oid("first").to_string();
    let out = home
        .command(&built.path)
        .args([&first, &key("alice").signing_fpr])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    for hook in ["pre-push", "post-merge", "reference-transaction"] {
        assert!(
            err.contains(&format!(
                "not installing hook '{}': core.hooksPath is set outside this repository's \
                 configuration",
                shared.join(hook).display()
            )),
            "{err}"
        );
        assert!(!shared.join(hook).exists());
        assert!(!built.path.join(".git/hooks").join(hook).exists());
    }
    support::assert_contains(&err, "git config core.hooksPath .git/hooks");
    // The advice is the hook's own line.
    assert!(err.contains(r#"--pushed-ref="$remote_ref""#), "{err}");

    // The doctor says so, and how to add the hooks by hand.
    let out = home.command(&built.path).arg("doctor").output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    support::assert_contains(&said, "in a hooks directory other repositories share");
    assert!(
        !said.contains("a successful run installs the hooks"),
        "{said}"
    );

    // Following that advice: the repository's own directory, holding the
    // hooks as printed, which git then runs.
    let own = built.path.join(".git/hooks");
    std::fs::create_dir_all(&own).unwrap();
    for hook in ["pre-push", "post-merge", "reference-transaction"] {
        let out = home
            .command(&built.path)
            .arg(format!("--generate=hook-{hook}"))
            .output()
            .unwrap();
        assert!(out.status.success());
        let path = own.join(hook);
        std::fs::write(&path, &out.stdout).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let git_global = |args: &[&str]| {
        home.git(&built.path, &[])
            .env("GIT_CONFIG_GLOBAL", &gitconfig)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(git_global(&["config", "core.hooksPath", ".git/hooks"])
        .status
        .success());
    let out = home.command(&built.path).arg("doctor").output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(
        !said.contains("hooks directory other repositories share"),
        "{said}"
    );
    assert!(!said.contains("is not installed"), "{said}");
    // A push of an unsigned commit is refused by the hook so installed.
    let bare = home.path().join("channel.git");
    assert!(
        git_global(&["init", "-q", "--bare", bare.to_str().unwrap()])
            .status
            .success()
    );
    assert!(
        git_global(&["commit", "-q", "--allow-empty", "-m", "unsigned"])
            .status
            .success()
    );
    let out = git_global(&[
        "push",
        "-q",
        bare.to_str().unwrap(),
        "HEAD:refs/heads/master",
    ]);
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("lacks a signature"),
        "{}",
        stderr(&out)
    );

    // Another repository of this user pushes as before.
    let other = home.path().join("other");
    let bare = home.path().join("other.git");
    let git = |dir: &Path, args: &[&str]| {
        let out = home
            .git(dir, &[])
            .env("GIT_CONFIG_GLOBAL", &gitconfig)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    };
    git(
        home.path(),
        &["init", "-q", "--bare", bare.to_str().unwrap()],
    );
    git(home.path(), &["init", "-q", other.to_str().unwrap()]);
    git(&other, &["commit", "-q", "--allow-empty", "-m", "x"]);
    git(
        &other,
        &[
            "push",
            "-q",
            bare.to_str().unwrap(),
            "HEAD:refs/heads/master",
        ],
    );
}

#[test]
fn installations_of_earlier_versions_gain_the_reference_transaction_hook() {
    let pulled = Pulled::new("master");
    let hook = pulled.hook("reference-transaction");
    std::fs::remove_file(&hook).unwrap();
    let out = pulled.home.command(&pulled.clone).output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    support::assert_contains(&err, &format!("installed hook '{}'", hook.display()));
    // A hook of the user's own is never replaced.
    let mine = "#!/bin/sh\necho mine\n";
    std::fs::write(&hook, mine).unwrap();
    let out = pulled.home.command(&pulled.clone).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), mine);
}
