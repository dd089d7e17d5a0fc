//! The gate a server runs, tested as a forge runs it: a real bare
//! repository, the pre-receive hook installed by `install-server-hook`,
//! and real `git push` over `file://` and over a `git daemon` on
//! 127.0.0.1; and the pre-merge check on real merges.
//!
//! Commits are made by the scenario builder (signed by the real gpg when it
//! is there, by Sequoia otherwise) and pushed from its repository.

use crate::support;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use git_authenticate::git2::{Oid, Repository};
use git_authenticate::{Cache, Conditions};
use serde_json::Value;
use support::process::{kill, run_bounded, wait_bounded};
use support::{build_scenario_text as build, key, Built, Home};

/// A channel and what is pushed to it:
/// - master: `first` (introduction, dave), `second`, `third`, `fourth`
///   (alice; alice and dave authorized);
/// - `side-1` (alice) on `second`: a branch sharing history;
/// - `unsigned-1`, `unsigned-2` (unsigned), then `on-unsigned` (alice), on
///   `second`;
/// - `by-bob` (bob, in the keyring but not authorized) on `second`;
/// - `welcome-bob` (alice authorizes bob), then `bob-signs` (bob), on
///   `second`;
/// - `p0`…`p9` on `fourth`: even ones signed by alice, odd ones unsigned;
/// - keyring: alice and dave; then bob added; then a broken key file.
pub(crate) const CHANNEL: &str = r#"
keyring alice dave
keyring bob
keyring-raw keyring "broken.key" "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\ngarbage\n"
authorize alice dave
commit first gpg:dave
write a.txt "A\n"
commit second gpg:alice
branch side
branch evil
branch rogue
write m.txt "M\n"
commit third gpg:alice
write m.txt "M2\n"
commit fourth gpg:alice
branch p0
branch p1
branch p2
branch p3
branch p4
branch p5
branch p6
branch p7
branch p8
branch p9
checkout side
write s.txt "S\n"
commit side-1 gpg:alice
checkout evil
write u.txt "U\n"
commit unsigned-1
write u.txt "U2\n"
commit unsigned-2
write u.txt "U3\n"
commit on-unsigned gpg:alice
checkout rogue
write r.txt "R\n"
commit by-bob gpg:bob
branch welcome second
checkout welcome
authorize alice bob dave
commit welcome-bob gpg:alice
write w.txt "W\n"
commit bob-signs gpg:bob
checkout p0
write p.txt "0\n"
commit p-0 gpg:alice
checkout p1
write p.txt "1\n"
commit p-1
checkout p2
write p.txt "2\n"
commit p-2 gpg:alice
checkout p3
write p.txt "3\n"
commit p-3
checkout p4
write p.txt "4\n"
commit p-4 gpg:alice
checkout p5
write p.txt "5\n"
commit p-5
checkout p6
write p.txt "6\n"
commit p-6 gpg:alice
checkout p7
write p.txt "7\n"
commit p-7
checkout p8
write p.txt "8\n"
commit p-8 gpg:alice
checkout p9
write p.txt "9\n"
commit p-9
checkout master
"#;

/// The channel, a bare server repository configured with its
/// introduction, and a private home for every process.
struct Server {
    built: Built,
    home: Home,
    bare: PathBuf,
}

impl Server {
    /// The server, with the hook installed by `install-server-hook` when
    /// `hooked`, master protected, and the keyring (alice and dave)
    /// pushed.
    fn new(hooked: bool) -> Server {
        let server = Server::bare(build(CHANNEL));
        server.configure();
        if hooked {
            server.install_hook();
        }
        let keyring = server.keyring_commit(2);
        server.push_ok(&[&format!("{keyring}:refs/heads/keyring")]);
        server
    }

    fn bare(built: Built) -> Server {
        let home = Home::new();
        let bare = home.path().join("server.git");
        let server = Server { built, home, bare };
        server.git_ok(server.home.path(), &["init", "-q", "--bare", "server.git"]);
        server
    }

    fn configure(&self) {
        let intro = self.built.oid("first").to_string();
        let signer = key("dave").signing_fpr_spaced();
        for (name, value) in [
            ("guix.authentication.introduction-commit", intro.as_str()),
            ("guix.authentication.introduction-signer", signer.as_str()),
            ("guix.authentication.keyring", "keyring"),
        ] {
            self.git_ok(&self.bare, &["config", name, value]);
        }
        self.protect("master");
    }

    /// What [`Server::configure`] sets, as the command reads it.
    fn configuration(&self) -> git_authenticate::gate::ServerConfiguration {
        git_authenticate::gate::ServerConfiguration {
            default: git_authenticate::Configuration {
                commit: Some(self.id("first")),
                signer: Some(key("dave").signing_fpr_spaced()),
                keyring: Some("keyring".into()),
            },
            protected_branches: vec![
                git_authenticate::gate::BranchPattern::parse("master").unwrap()
            ],
            keyring_branches: vec!["keyring".into()],
            ..git_authenticate::gate::ServerConfiguration::default()
        }
    }

    fn install_hook(&self) {
        let out = run(self.binary(&["install-server-hook", "-r", self.bare.to_str().unwrap()]));
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stderr(&out).contains("installed hook"), "{}", stderr(&out));
    }

    /// The keyring branch's commit `back` commits before its tip.
    fn keyring_commit(&self, back: usize) -> String {
        self.git_ok(
            self.built.path.as_path(),
            &["rev-parse", &format!("keyring~{back}")],
        )
    }

    fn id(&self, label: &str) -> String {
        self.built.oid(label).to_string()
    }

    fn binary(&self, args: &[&str]) -> Command {
        let mut c = self.home.command(self.home.path());
        c.args(args);
        c
    }

    /// The real git in `dir`, with the private home (which the hooks it
    /// runs inherit: their cache is there).
    fn git_command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut c = support::git_command(dir);
        for name in support::home::CLEARED {
            c.env_remove(name);
        }
        for (name, value) in self.home.vars() {
            c.env(name, value);
        }
        c.args(args);
        c
    }

    fn git(&self, dir: &Path, args: &[&str]) -> Output {
        run(self.git_command(dir, args))
    }

    fn git_ok(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.git(dir, args);
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// `git push` of `refspecs` from the channel's repository to `url`.
    fn push_to(&self, url: &str, refspecs: &[&str]) -> Output {
        let mut args = vec!["push", url];
        args.extend(refspecs);
        self.git(&self.built.path, &args)
    }

    fn url(&self) -> String {
        format!("file://{}", self.bare.display())
    }

    fn push(&self, refspecs: &[&str]) -> Output {
        self.push_to(&self.url(), refspecs)
    }

    fn push_ok(&self, refspecs: &[&str]) -> String {
        let out = self.push(refspecs);
        assert!(out.status.success(), "push {refspecs:?}: {}", stderr(&out));
        stderr(&out)
    }

    /// Pushes `refspecs`, which must be refused: git's standard error.
    fn push_refused(&self, refspecs: &[&str]) -> String {
        let out = self.push(refspecs);
        let err = stderr(&out);
        assert!(
            !out.status.success(),
            "push {refspecs:?} was accepted: {err}"
        );
        assert!(err.contains("pre-receive hook declined"), "{err}");
        err
    }

    /// Where the server's ref points, if it exists.
    fn server_ref(&self, name: &str) -> Option<String> {
        let out = self.git(&self.bare, &["rev-parse", "--verify", "-q", name]);
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).unwrap().trim().to_owned())
    }

    fn has_object(&self, id: &str) -> bool {
        self.git(&self.bare, &["cat-file", "-e", id])
            .status
            .success()
    }

    /// The gate's cache: inside the repository's git directory.
    fn gate_cache(&self) -> Cache {
        let first = self.built.oid("first");
        Cache::in_directory(&self.bare, &format!("git-authenticate/gate/{first}")).unwrap()
    }

    /// The commits in the gate's cache.
    fn cached(&self) -> Vec<Oid> {
        let cached = self
            .gate_cache()
            .read_for(self.built.oid("first"), &Conditions::default());
        assert!(cached.warnings.is_empty(), "{:?}", cached.warnings);
        cached.trusted
    }

    /// Sets `name` to `value` in the server's git configuration.
    fn set(&self, name: &str, value: &str) {
        self.git_ok(&self.bare, &["config", name, value]);
    }

    /// Adds a protected-branch value to the server's configuration.
    fn protect(&self, value: &str) {
        let key = "guix.authentication.protected-branch";
        self.git_ok(&self.bare, &["config", "--add", key, value]);
    }

    /// Makes the server's branch `alias` a symbolic ref to branch `target`.
    fn alias(&self, alias: &str, target: &str) {
        let (alias, target) = (
            format!("refs/heads/{alias}"),
            format!("refs/heads/{target}"),
        );
        self.git_ok(&self.bare, &["symbolic-ref", &alias, &target]);
    }
}

/// Runs `command`, which must finish within 60 s (it is killed otherwise).
fn run(command: Command) -> Output {
    run_bounded(command, Duration::from_secs(60))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn refspec(id: &str, branch: &str) -> String {
    format!("{id}:refs/heads/{branch}")
}

// ---------------------------------------------------------------------------
// Installing the hook.

#[test]
fn install_server_hook_never_overwrites_and_respects_hooks_path() {
    let server = Server::bare(build(
        "keyring alice\nauthorize alice\ncommit first alice\n",
    ));
    server.install_hook();
    let hook = server.bare.join("hooks/pre-receive");
    let text = std::fs::read_to_string(&hook).unwrap();
    assert!(text.contains(" pre-receive\n"), "{text}");
    // A second run keeps the hook and says what to add to one's own.
    std::fs::write(&hook, "#!/bin/sh\nexit 0\n").unwrap();
    let out = run(server.binary(&["install-server-hook", "-r", server.bare.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not overriding pre-existing hook"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(&hook).unwrap(),
        "#!/bin/sh\nexit 0\n"
    );
    // core.hooksPath is where git looks, so that is where it goes.
    let elsewhere = server.home.path().join("server-hooks");
    server.git_ok(
        &server.bare,
        &["config", "core.hooksPath", elsewhere.to_str().unwrap()],
    );
    server.install_hook();
    assert!(elsewhere.join("pre-receive").exists());
    // --print gives the same text, for a forge's hook settings.
    let out = run(server.binary(&["install-server-hook", "--print"]));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), text);
}

/// The pre-receive hook that versions before the marker line installed.
fn version_1_hook(command: &str) -> String {
    format!(
        "#!/bin/sh\n# Installed by 'git-authenticate install-server-hook': refuse pushes of\n\
         # commits that are not authentic, as Guix authenticates channels.\n\
         exec '{command}' pre-receive\n"
    )
}

#[test]
fn install_server_hook_recognises_and_upgrades_its_own_hook_only() {
    let server = Server::bare(build(
        "keyring alice\nauthorize alice\ncommit first alice\n",
    ));
    let install = || {
        let out = run(server.binary(&["install-server-hook", "-r", server.bare.to_str().unwrap()]));
        (out.status.code(), stderr(&out))
    };
    let hook = server.bare.join("hooks/pre-receive");
    let current =
        String::from_utf8(run(server.binary(&["install-server-hook", "--print"])).stdout).unwrap();
    let (code, err) = install();
    assert_eq!(code, Some(0), "{err}");
    support::assert_contains(&err, "installed hook");
    assert!(!err.contains("not bare"), "{err}");
    // Twice: recognised, left as it is.
    let (code, err) = install();
    assert_eq!(code, Some(0), "{err}");
    support::assert_contains(
        &err,
        &format!("hook already installed '{}'", hook.display()),
    );
    support::assert_contains(&err, "no branch is protected");
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), current);
    // An earlier version's hook, and one calling another binary: upgraded.
    let binary = env!("CARGO_BIN_EXE_git-authenticate");
    std::fs::write(&hook, version_1_hook(binary)).unwrap();
    let (code, err) = install();
    assert_eq!(code, Some(0), "{err}");
    support::assert_contains(&err, &format!("upgraded hook '{}'", hook.display()));
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), current);
    std::fs::write(&hook, version_1_hook("/usr/local/bin/git-authenticate")).unwrap();
    let (code, err) = install();
    assert_eq!(code, Some(0), "{err}");
    support::assert_contains(
        &err,
        &format!("upgraded hook (it ran /usr/local/bin/git-authenticate, now {binary})"),
    );
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), current);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&hook).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
    // Ours, edited by the administrator: theirs now, never overwritten.
    let edited = current.replace("exec", "logger push; exec");
    std::fs::write(&hook, &edited).unwrap();
    let (code, err) = install();
    assert_eq!(code, Some(2), "{err}");
    support::assert_contains(&err, "not overriding pre-existing hook");
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), edited);

    // A repository with a work tree: installed, with a warning.
    let work = server.home.path().join("work");
    server.git_ok(server.home.path(), &["init", "-q", work.to_str().unwrap()]);
    let out = run(server.binary(&["install-server-hook", "-r", work.to_str().unwrap()]));
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    support::assert_contains(&err, "warning: this repository is not bare");
    assert!(work.join(".git/hooks/pre-receive").exists());
}

// ---------------------------------------------------------------------------
// Pushes.

#[test]
fn authorized_push_is_accepted_and_later_pushes_check_only_new_commits() {
    let server = Server::new(true);
    let err = server.push_ok(&[&refspec(&server.id("third"), "master")]);
    assert!(
        err.contains("refs/heads/master: accepted: commit"),
        "the pusher is told: {err}"
    );
    assert!(err.contains("(2 new commits checked)"), "{err}");
    assert_eq!(server.server_ref("master"), Some(server.id("third")));
    assert!(server.cached().contains(&server.built.oid("third")));
    let err = server.push_ok(&[&refspec(&server.id("fourth"), "master")]);
    assert!(err.contains("(1 new commit checked)"), "{err}");
}

#[test]
fn unsigned_and_unauthorized_pushes_are_refused_oldest_failure_first() {
    let server = Server::new(true);
    server.push_ok(&[&refspec(&server.id("second"), "master")]);
    let err = server.push_refused(&[&refspec(&server.id("on-unsigned"), "master")]);
    let first = err
        .find(&format!(
            "commit {} lacks a signature",
            server.id("unsigned-1")
        ))
        .unwrap_or_else(|| panic!("unsigned-1 named: {err}"));
    let second = err
        .find(&format!(
            "commit {} lacks a signature",
            server.id("unsigned-2")
        ))
        .unwrap_or_else(|| panic!("unsigned-2 named: {err}"));
    assert!(first < second, "oldest first: {err}");
    assert!(err.contains("hint: sign the commit"), "{err}");
    assert!(err.contains("refs/heads/master: refused:"), "{err}");
    assert_eq!(server.server_ref("master"), Some(server.id("second")));
    // The objects stayed in git's quarantine, which git removed.
    assert!(!server.has_object(&server.id("unsigned-1")));

    // With bob's key on the keyring branch, his signature verifies, but he
    // is not authorized.
    let err = server.push_refused(&[&refspec(&server.id("by-bob"), "bob")]);
    assert!(err.contains("is missing from keyring branch"), "{err}");
    support::assert_contains(&err, "push that branch with the commits it signs");
    server.push_ok(&[&refspec(&server.keyring_commit(1), "keyring")]);
    let err = server.push_refused(&[&refspec(&server.id("by-bob"), "bob")]);
    assert!(err.contains("not signed by an authorized key"), "{err}");
    assert_eq!(server.server_ref("refs/heads/bob"), None);
    assert!(!server.cached().contains(&server.built.oid("by-bob")));
}

#[test]
fn one_bad_ref_refuses_the_whole_push() {
    let server = Server::new(true);
    let err = server.push_refused(&[
        &refspec(&server.id("third"), "master"),
        &refspec(&server.id("side-1"), "side"),
        &refspec(&server.id("unsigned-1"), "evil"),
    ]);
    assert!(err.contains("refs/heads/evil: refused"), "{err}");
    assert!(err.contains("refs/heads/master: accepted"), "{err}");
    assert!(err.contains("push refused: no ref was updated"), "{err}");
    for branch in ["master", "refs/heads/side", "refs/heads/evil"] {
        assert_eq!(server.server_ref(branch), None, "{branch}");
    }
    // Nothing of a refused push is remembered, not even its good commits.
    assert!(server.cached().is_empty());
}

#[test]
fn new_branch_sharing_history_costs_its_own_commits() {
    let server = Server::new(true);
    server.push_ok(&[&refspec(&server.id("second"), "master")]);
    let err = server.push_ok(&[&refspec(&server.id("side-1"), "side")]);
    assert!(err.contains("(1 new commit checked)"), "{err}");
    // Both in one push: the branch made on the pushed master costs 1 too.
    let err = server.push_ok(&[
        &refspec(&server.id("fourth"), "master"),
        &refspec(&server.id("p-0"), "p0"),
    ]);
    assert!(err.contains("(2 new commits checked)"), "{err}");
    assert!(err.contains("(1 new commit checked)"), "{err}");
}

#[test]
fn force_push_to_protected_branch_is_refused() {
    let server = Server::new(true);
    server.push_ok(&[&refspec(&server.id("fourth"), "master")]);
    let err = server.push_refused(&[&format!("+{}", refspec(&server.id("side-1"), "master"))]);
    // side-1 forks from master's history: a divergence, not unrelated.
    assert!(
        err.contains(&format!(
            "refs/heads/master: refused: protected branch would not move forward from {} to {}: \
             not a fast-forward (the histories diverged",
            server.id("fourth"),
            server.id("side-1")
        )),
        "{err}"
    );
    assert!(!err.contains("unrelated"), "{err}");
    assert_eq!(server.server_ref("master"), Some(server.id("fourth")));
    // An unprotected branch may be rewritten with authentic commits.
    server.push_ok(&[&refspec(&server.id("fourth"), "work")]);
    server.push_ok(&[&format!("+{}", refspec(&server.id("side-1"), "work"))]);
    assert_eq!(
        server.server_ref("refs/heads/work"),
        Some(server.id("side-1"))
    );
}

#[test]
fn deletions_are_allowed_unless_protected() {
    let server = Server::new(true);
    server.push_ok(&[
        &refspec(&server.id("third"), "master"),
        &refspec(&server.id("side-1"), "side"),
    ]);
    server.push_ok(&[":refs/heads/side"]);
    assert_eq!(server.server_ref("refs/heads/side"), None);
    let err = server.push_refused(&[":refs/heads/master"]);
    assert!(err.contains("protected branch cannot be deleted"), "{err}");
    let err = server.push_refused(&[":refs/heads/keyring"]);
    assert!(err.contains("refs/heads/keyring: refused"), "{err}");
    assert!(server.server_ref("refs/heads/keyring").is_some());
}

#[test]
fn tags_must_name_authentic_commits() {
    let server = Server::new(true);
    server.push_ok(&[&refspec(&server.id("third"), "master")]);
    server.git_ok(
        &server.built.path,
        &["tag", "-a", "-m", "v1", "v1", &server.id("third")],
    );
    server.git_ok(
        &server.built.path,
        &["tag", "bad", &server.id("unsigned-1")],
    );
    let err = server.push_ok(&["refs/tags/v1:refs/tags/v1"]);
    assert!(err.contains("refs/tags/v1: accepted"), "{err}");
    let err = server.push_refused(&["refs/tags/bad:refs/tags/bad"]);
    assert!(err.contains("lacks a signature"), "{err}");
    assert_eq!(server.server_ref("refs/tags/bad"), None);
    // Replace refs would make git show other objects: refused.
    let replace = format!(
        "{}:refs/replace/{}",
        server.id("unsigned-1"),
        server.id("third")
    );
    let err = server.push_refused(&[&replace]);
    assert!(err.contains("replace refs are refused"), "{err}");
}

#[test]
fn keyring_branch_moves_forward_with_loadable_keys_only() {
    let server = Server::new(true);
    // Adding bob: a fast-forward whose keys load.
    let with_bob = server.keyring_commit(1);
    let err = server.push_ok(&[&refspec(&with_bob, "keyring")]);
    assert!(err.contains("keyring branch moves forward"), "{err}");
    // A broken key file on top: refused, naming it.
    let broken = server.keyring_commit(0);
    let err = server.push_refused(&[&refspec(&broken, "keyring")]);
    assert!(err.contains("broken.key"), "{err}");
    assert_eq!(
        server.server_ref("refs/heads/keyring"),
        Some(with_bob.clone())
    );
    // Going back is refused too.
    let err = server.push_refused(&[&format!(
        "+{}",
        refspec(&server.keyring_commit(2), "keyring")
    )]);
    assert!(err.contains("would not move forward"), "{err}");
}

/// A branch pushed before the gate was installed was never authenticated:
/// building on it does not make its unsigned commits pass.
#[test]
fn branch_pushed_before_the_hook_does_not_vouch_for_anything() {
    let server = Server::new(false);
    server.push_ok(&[
        &refspec(&server.id("second"), "master"),
        &refspec(&server.id("unsigned-2"), "evil"),
    ]);
    server.install_hook();
    let err = server.push_refused(&[&refspec(&server.id("on-unsigned"), "evil")]);
    assert!(
        err.contains(&format!(
            "commit {} lacks a signature",
            server.id("unsigned-1")
        )),
        "{err}"
    );
    // Nor does merging it into master.
    let err = server.push_refused(&[&refspec(&server.id("on-unsigned"), "master")]);
    assert!(err.contains("lacks a signature"), "{err}");
    // What was authentic all along is accepted (from the introduction).
    server.push_ok(&[&refspec(&server.id("third"), "master")]);
}

/// Objects git keeps as a pack in its quarantine directory (more than
/// `receive.unpackLimit`) are seen by every checking thread.
#[test]
fn objects_only_in_quarantine_are_visible() {
    let server = Server::new(true);
    server.git_ok(&server.bare, &["config", "receive.unpackLimit", "1"]);
    let err = server.push_ok(&[&refspec(&server.id("fourth"), "master")]);
    assert!(err.contains("(3 new commits checked)"), "{err}");
    let err = server.push_refused(&[&refspec(&server.id("p-1"), "p1")]);
    assert!(err.contains("lacks a signature"), "{err}");
    assert!(!server.has_object(&server.id("p-1")));
}

#[test]
fn ten_concurrent_pushers() {
    let server = Server::new(true);
    server.push_ok(&[&refspec(&server.id("fourth"), "master")]);
    let pushes: Vec<_> = (0..10)
        .map(|i| {
            let id = server.id(&format!("p-{i}"));
            let refspec = refspec(&id, &format!("p{i}"));
            let mut c = server.git_command(&server.built.path, &["push", &server.url(), &refspec]);
            c.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            c.spawn().expect("spawn git push")
        })
        .collect();
    let outputs: Vec<Output> = pushes
        .into_iter()
        .map(|child| wait_bounded(child, Duration::from_secs(120)))
        .collect();
    let cached = server.cached();
    for (i, out) in outputs.iter().enumerate() {
        let id = server.built.oid(&format!("p-{i}"));
        let landed = server.server_ref(&format!("refs/heads/p{i}"));
        if i % 2 == 0 {
            assert!(out.status.success(), "p{i}: {}", stderr(out));
            assert_eq!(landed, Some(id.to_string()));
            assert!(cached.contains(&id), "p-{i} recorded");
        } else {
            assert!(!out.status.success(), "p{i} accepted");
            assert_eq!(landed, None);
            assert!(!cached.contains(&id), "refused p-{i} recorded");
        }
    }
}

// ---------------------------------------------------------------------------
// Over a git daemon, and as an update hook.

/// A `git daemon` on 127.0.0.1, killed when dropped.
struct Daemon {
    child: Child,
    port: u16,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        kill(self.child.id());
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn start(server: &Server) -> Daemon {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let base = server.home.path().to_str().unwrap().to_owned();
        let mut c = server.git_command(
            server.home.path(),
            &[
                "daemon",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                "--reuseaddr",
                "--export-all",
                "--enable=receive-pack",
                &format!("--base-path={base}"),
                &base,
            ],
        );
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let daemon = Daemon {
            child: c.spawn().expect("git daemon"),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "git daemon did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        daemon
    }
}

#[test]
fn pushes_over_git_daemon() {
    let server = Server::new(true);
    let daemon = Daemon::start(&server);
    let url = format!("git://127.0.0.1:{}/server.git", daemon.port);
    let out = server.push_to(&url, &[&refspec(&server.id("third"), "master")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refs/heads/master: accepted"),
        "{}",
        stderr(&out)
    );
    let out = server.push_to(&url, &[&refspec(&server.id("on-unsigned"), "evil")]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("lacks a signature"),
        "{}",
        stderr(&out)
    );
    assert_eq!(server.server_ref("refs/heads/evil"), None);
    assert_eq!(server.server_ref("master"), Some(server.id("third")));
    // Deleting master through an alias, over the daemon: refused.
    server.alias("main", "master");
    let out = server.push_to(&url, &[":refs/heads/main"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    support::assert_contains(
        &err,
        "(a symbolic ref to refs/heads/master, which is what git updates): refused",
    );
    assert_eq!(server.server_ref("master"), Some(server.id("third")));
}

#[test]
fn update_hook_decides_each_ref() {
    let server = Server::new(false);
    let hook = server.bare.join("hooks/update");
    let binary = env!("CARGO_BIN_EXE_git-authenticate");
    let mut file = std::fs::File::create(&hook).unwrap();
    writeln!(
        file,
        "#!/bin/sh\nexec '{binary}' update \"$1\" \"$2\" \"$3\""
    )
    .unwrap();
    drop(file);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = server.push(&[
        &refspec(&server.id("third"), "master"),
        &refspec(&server.id("by-bob"), "bob"),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("refs/heads/bob: refused"), "{err}");
    // Said of the refused ref alone: master was updated.
    support::assert_contains(
        &err,
        "refs/heads/bob was not updated; git decides each of the push's other refs",
    );
    assert!(!err.contains("no ref was updated"), "{err}");
    assert!(!err.contains("refs/heads/master was not updated"), "{err}");
    assert_eq!(server.server_ref("master"), Some(server.id("third")));
    assert_eq!(server.server_ref("refs/heads/bob"), None);
    // git passes the update hook the symbolic ref's name too: it is judged
    // as master, which it would rewind.
    server.alias("main", "master");
    let out = server.push(&[&format!("+{}", refspec(&server.id("second"), "main"))]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    support::assert_contains(&err, "refs/heads/main (a symbolic ref to refs/heads/master, which is what git updates): refused: protected branch would not move forward");
    assert_eq!(server.server_ref("master"), Some(server.id("third")));
}

// ---------------------------------------------------------------------------
// The pre-merge check.

/// BASE (master) authorizes alice and dave; `both-1` keeps them, `one-1`
/// authorizes alice and bob, `neither-1` bob only; `bad-1` is unsigned.
const MERGES: &str = r#"
keyring alice bob dave
authorize alice dave
commit first gpg:dave
write a.txt "A\n"
commit second gpg:alice
branch both
branch one
branch neither
branch bad
write m.txt "M\n"
commit base gpg:alice
checkout both
write b.txt "B\n"
commit both-1 gpg:dave
checkout one
authorize alice bob
commit one-1 gpg:alice
checkout neither
authorize bob
commit neither-1 gpg:dave
checkout bad
write x.txt "X\n"
commit bad-1
checkout master
"#;

fn merge_check(built: &Built, home: &Home, sides: &[&str]) -> (Option<i32>, Value, String) {
    let mut c = home.command(&built.path);
    c.args(["merge-check", "--format=json", "--introduction"])
        .arg(built.oid("first").to_string())
        .arg("--signer")
        .arg(key("dave").signing_fpr_spaced());
    for side in sides {
        c.arg(built.oid(side).to_string());
    }
    let out = run(c);
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    // Every real document fits the published schema.
    support::schema::check(&doc, &support::schema::load("merge-check-schema.json"));
    assert_eq!(doc["schema_version"], 1);
    (out.status.code(), doc, stderr(&out))
}

fn usable(doc: &Value) -> Vec<String> {
    doc["signers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["in_keyring"] == true)
        .map(|s| s["fingerprint"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn merge_check_says_who_may_sign() {
    let built = build(MERGES);
    let home = Home::new();
    let (alice, dave) = (key("alice").signing_fpr, key("dave").signing_fpr);

    let (code, doc, _) = merge_check(&built, &home, &["base", "both-1"]);
    assert_eq!(code, Some(0), "{doc}");
    assert_eq!(doc["verdict"], "signable");
    let mut both = usable(&doc);
    both.sort();
    let mut expected = vec![alice.clone(), dave.clone()];
    expected.sort();
    assert_eq!(both, expected);
    assert!(doc["note"].as_str().unwrap().contains("squash or rebase"));

    // Bob is authorized on one side only: only alice may sign.
    let (code, doc, _) = merge_check(&built, &home, &["base", "one-1"]);
    assert_eq!(code, Some(0), "{doc}");
    assert_eq!(usable(&doc), vec![alice.clone()]);

    // No key on both sides: never authentic, and said so.
    let (code, doc, _) = merge_check(&built, &home, &["base", "neither-1"]);
    assert_eq!(code, Some(1), "{doc}");
    assert_eq!(doc["verdict"], "unsignable");
    assert!(usable(&doc).is_empty());

    // An octopus: what all sides list.
    let (code, doc, _) = merge_check(&built, &home, &["base", "both-1", "one-1"]);
    assert_eq!(code, Some(0), "{doc}");
    assert_eq!(usable(&doc), vec![alice]);
}

/// BASE and HEAD are resolved as `--end` is: a name git finds ambiguous
/// (branch `both` and a tag `both`) is refused, naming both.
#[test]
fn merge_check_refuses_ambiguous_names() {
    let built = build(MERGES);
    let home = Home::new();
    let tag = home
        .git(&built.path, &[])
        .args(["tag", "both", &built.oid("bad-1").to_string()])
        .status()
        .unwrap();
    assert!(tag.success());
    for sides in [["master", "both"], ["both", "master"]] {
        let mut c = home.command(&built.path);
        c.args(["merge-check", "--introduction"])
            .arg(built.oid("first").to_string())
            .args(["--signer", &key("dave").signing_fpr])
            .args(sides);
        let out = run(c);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(
                "`both` is ambiguous: it could mean `refs/tags/both` or `refs/heads/both`"
            ),
            "{err}"
        );
    }
}

#[test]
fn merge_check_text_fast_forward_and_unauthentic_heads() {
    let built = build(MERGES);
    let home = Home::new();
    let (code, doc, _) = merge_check(&built, &home, &["second", "base"]);
    assert_eq!(code, Some(0), "{doc}");
    assert_eq!(doc["verdict"], "fast-forward");

    let (code, doc, _) = merge_check(&built, &home, &["base", "bad-1"]);
    assert_eq!(code, Some(1), "{doc}");
    assert_eq!(doc["verdict"], "not-authentic");
    assert_eq!(doc["failures"][0]["kind"], "unsigned");
    assert_eq!(doc["failures"][0]["commit"], built.oid("bad-1").to_string());

    // Text: the signers on standard output, the rest on standard error.
    let mut c = home.command(&built.path);
    c.args(["merge-check", "--introduction"])
        .arg(built.oid("first").to_string())
        .args(["--signer", &key("dave").signing_fpr, "master", "neither"]);
    let out = run(c);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("can never be authentic"), "{err}");
    support::assert_contains(
        &err,
        "authorize, on one side, a key the other side already lists",
    );
    support::assert_contains(&err, "squash or rebase merge made by the forge");
}

/// A HEAD that BASE already holds (BASE itself, or an ancestor): nothing
/// to merge, status 0, rather than who may sign a merge no one will make.
#[test]
fn merge_check_says_nothing_to_merge_when_head_is_merged_already() {
    let built = build(MERGES);
    let home = Home::new();
    for sides in [["base", "second"], ["base", "base"], ["both-1", "first"]] {
        let (code, doc, _) = merge_check(&built, &home, &sides);
        assert_eq!(code, Some(0), "{sides:?}: {doc}");
        assert_eq!(doc["verdict"], "nothing-to-merge", "{sides:?}");
    }
    // An octopus with one head not merged yet has something to merge.
    let (_, doc, _) = merge_check(&built, &home, &["base", "second", "both-1"]);
    assert_eq!(doc["verdict"], "signable");
    let mut c = home.command(&built.path);
    c.args(["merge-check", "--introduction"])
        .arg(built.oid("first").to_string())
        .args(["--signer", &key("dave").signing_fpr])
        .args([
            built.oid("base").to_string(),
            built.oid("second").to_string(),
        ]);
    let out = run(c);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "no signer is listed");
    support::assert_contains(&stderr(&out), "nothing to merge");
}

// ---------------------------------------------------------------------------
// The library's verdicts, and a server that is not configured.

#[test]
fn library_verdicts_are_typed() {
    use git_authenticate::gate::{Acceptance, Gate, GateOptions, RefUpdate, Refusal, Verdict};
    use git_authenticate::Relation;
    let server = Server::new(false);
    server.push_ok(&[
        &refspec(&server.id("fourth"), "master"),
        &refspec(&server.id("side-1"), "side"),
    ]);
    let repo = Repository::open(&server.bare).unwrap();
    let configuration = server.configuration();
    let mut gate = Gate::new(&repo, configuration, GateOptions::default());
    let zero = "0".repeat(40);
    let update = |name: &str, old: &str, new: &str| RefUpdate::new(name, old, new).unwrap();
    let (fourth, side) = (server.id("fourth"), server.id("side-1"));
    let verdict = gate.decide(&update("refs/heads/master", &fourth, &side));
    assert!(
        matches!(
            verdict,
            Verdict::Refused(Refusal::NotFastForward {
                relation: Relation::Unrelated,
                shares_history: true,
            })
        ),
        "{verdict:?}"
    );
    let verdict = gate.decide(&update("refs/heads/master", &fourth, &zero));
    assert!(matches!(
        verdict,
        Verdict::Refused(Refusal::ProtectedDeletion)
    ));
    let verdict = gate.decide(&update("refs/heads/side", &side, &zero));
    assert!(matches!(verdict, Verdict::Accepted(Acceptance::Deleted)));
    let verdict = gate.decide(&update("refs/heads/Master", &zero, &fourth));
    assert!(
        matches!(&verdict, Verdict::Refused(Refusal::CaseCollision { guarded }) if guarded == "refs/heads/master"),
        "{verdict:?}"
    );
    let verdict = gate.decide(&update("refs/notes/commits", &zero, &side));
    assert!(matches!(verdict, Verdict::Accepted(Acceptance::Unchecked)));
    let verdict = gate.decide(&update(&format!("refs/replace/{fourth}"), &zero, &side));
    assert!(matches!(verdict, Verdict::Refused(Refusal::ReplaceRef)));
    let (with_bob, broken) = (server.keyring_commit(1), server.keyring_commit(0));
    server.git_ok(
        &server.bare,
        &[
            "fetch",
            "-q",
            server.built.path.to_str().unwrap(),
            "keyring:incoming",
        ],
    );
    let verdict = gate.decide(&update(
        "refs/heads/keyring",
        &server.keyring_commit(2),
        &with_bob,
    ));
    assert!(
        matches!(verdict, Verdict::Accepted(Acceptance::Keyring { keys: 3 })),
        "{verdict:?}"
    );
    let verdict = gate.decide(&update("refs/heads/keyring", &with_bob, &broken));
    assert!(
        matches!(&verdict, Verdict::Refused(Refusal::BrokenKeyring(git_authenticate::KeyringError::MalformedKey { file, .. })) if file == "broken.key"),
        "{verdict:?}"
    );
}

#[test]
fn server_without_introduction_refuses_every_push() {
    let server = Server::bare(build(CHANNEL));
    let out = run(server.binary(&["install-server-hook", "-r", server.bare.to_str().unwrap()]));
    assert!(
        stderr(&out).contains("no introduction is configured"),
        "{}",
        stderr(&out)
    );
    let err = server.push_refused(&[&refspec(&server.id("second"), "master")]);
    support::assert_contains(&err, "no introduction is configured on the server");
}

/// A channel keeping its keys on master: master is a keyring branch, and
/// also the branch users pull, so it is authenticated too.
#[test]
fn keys_on_the_default_branch_are_authenticated_too() {
    let server = Server::bare(build(
        r#"
write-key keys.key armored alice dave
authorize alice dave
commit first gpg:dave
write a.txt "A\n"
commit second gpg:alice
write b.txt "B\n"
commit unsigned-3
"#,
    ));
    server.configure();
    server.git_ok(
        &server.bare,
        &["config", "guix.authentication.keyring", "master"],
    );
    server.install_hook();
    server.push_ok(&[&refspec(&server.id("first"), "master")]);
    let err = server.push_ok(&[&refspec(&server.id("second"), "master")]);
    assert!(err.contains("is authentic (1 new commit checked)"), "{err}");
    let err = server.push_refused(&[&refspec(&server.id("unsigned-3"), "master")]);
    assert!(err.contains("lacks a signature"), "{err}");
    // HEAD reaching master through an alias: master is still what users
    // clone.
    server.alias("main", "master");
    server.git_ok(&server.bare, &["symbolic-ref", "HEAD", "refs/heads/main"]);
    let err = server.push_refused(&[&refspec(&server.id("unsigned-3"), "master")]);
    assert!(err.contains("lacks a signature"), "{err}");
}

/// The hook run by hand, as git runs it: its exit status, and input that is
/// not git's.
#[test]
fn pre_receive_exit_status_and_malformed_input() {
    let server = Server::new(false);
    server.push_ok(&[
        &refspec(&server.keyring_commit(1), "keyring"),
        &refspec(&server.id("by-bob"), "bob"),
        &refspec(&server.id("third"), "work"),
    ]);
    let zero = "0".repeat(40);
    let hook = |input: &str| {
        let mut c = server.home.command(&server.bare);
        c.arg("pre-receive").env("GIT_DIR", &server.bare);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = wait_bounded(child, Duration::from_secs(60));
        (out.status.code(), stderr(&out))
    };
    let line =
        |label: &str, branch: &str| format!("{zero} {} refs/heads/{branch}\n", server.id(label));
    let (code, err) = hook(&line("third", "master"));
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = hook(&line("by-bob", "bob"));
    assert_eq!(code, Some(1), "{err}");
    for bad in ["garbage\n", "0000 1111 refs/heads/x\n", "\u{0}\u{1}\n"] {
        let (code, err) = hook(bad);
        assert_eq!(code, Some(2), "{bad:?}: {err}");
        assert!(err.contains("standard input"), "{err}");
    }
    server.git_ok(
        &server.bare,
        &[
            "config",
            "--unset",
            "guix.authentication.introduction-commit",
        ],
    );
    let (code, err) = hook(&line("third", "master"));
    assert_eq!(code, Some(2), "{err}");
}

/// A key added to the keyring counts for the commits pushed with it, as
/// users fetch both; not before.
#[test]
fn keyring_pushed_with_the_commits_its_key_signs() {
    let server = Server::new(true);
    let bob_signs = refspec(&server.id("bob-signs"), "welcome");
    let err = server.push_refused(&[&bob_signs]);
    assert!(err.contains("is missing from keyring branch"), "{err}");
    // The hint fits a pusher: push the keyring branch, not fetch it.
    support::assert_contains(&err, "to the keyring branch `keyring` and push that branch");
    assert!(!err.contains("git fetch"), "{err}");
    // After the commits in git's order: the keyring is decided first.
    let err = server.push_ok(&[&bob_signs, &refspec(&server.keyring_commit(1), "keyring")]);
    assert!(err.contains("refs/heads/welcome: accepted"), "{err}");
    // A keyring update refused with them lends them no key.
    let server = Server::new(true);
    let err = server.push_refused(&[&bob_signs, &refspec(&server.keyring_commit(0), "keyring")]);
    assert!(err.contains("broken.key"), "{err}");
    assert!(err.contains("is missing from keyring branch"), "{err}");
}

// ---------------------------------------------------------------------------
// What a push does to refs other than the one it names, and to users' pulls.

/// A push names a symbolic ref of the server (forges make aliases such as
/// `main` → `master`): git updates its target, so the gate judges the
/// target, and says both.
#[test]
fn push_through_a_symbolic_ref_is_judged_as_its_target() {
    let server = Server::new(true);
    server.push_ok(&[&refspec(&server.id("fourth"), "master")]);
    server.alias("main", "master");
    let through =
        "refs/heads/main (a symbolic ref to refs/heads/master, which is what git updates)";
    // Rewinding master through main.
    let err = server.push_refused(&[&format!("+{}", refspec(&server.id("side-1"), "main"))]);
    assert!(
        err.contains(&format!(
            "{through}: refused: protected branch would not move forward"
        )),
        "{err}"
    );
    assert_eq!(server.server_ref("master"), Some(server.id("fourth")));
    // Deleting master through main.
    let err = server.push_refused(&[":refs/heads/main"]);
    assert!(
        err.contains(&format!(
            "{through}: refused: protected branch cannot be deleted"
        )),
        "{err}"
    );
    assert_eq!(server.server_ref("master"), Some(server.id("fourth")));
    // Moving master forward through main is what it always was.
    let err = server.push_ok(&[&refspec(&server.id("p-0"), "main")]);
    assert!(err.contains(&format!("{through}: accepted")), "{err}");
    assert_eq!(server.server_ref("master"), Some(server.id("p-0")));
    // An alias of the keyring branch is the keyring branch: a broken key
    // file, or a rewind, is refused through it.
    server.alias("keys", "keyring");
    let err = server.push_refused(&[&refspec(&server.keyring_commit(0), "keys")]);
    support::assert_contains(
        &err,
        "refs/heads/keys (a symbolic ref to refs/heads/keyring",
    );
    assert!(err.contains("broken.key"), "{err}");
    let err = server.push_refused(&[":refs/heads/keys"]);
    assert!(err.contains("protected branch cannot be deleted"), "{err}");
    assert_eq!(
        server.server_ref("refs/heads/keyring"),
        Some(server.keyring_commit(2))
    );
    // An unprotected branch reached through an alias is authenticated as
    // that branch: an unsigned commit is refused.
    server.alias("alias", "work");
    let err = server.push_refused(&[&refspec(&server.id("unsigned-1"), "alias")]);
    assert!(err.contains("lacks a signature"), "{err}");
    assert_eq!(server.server_ref("refs/heads/work"), None);
}

/// A push through an alias is authenticated with the configuration of the
/// branch git updates (its `guix.authentication-BRANCH` section).
#[test]
fn push_through_a_symbolic_ref_uses_its_targets_configuration() {
    let server = Server::new(true);
    let intro = server.id("first");
    let signer = key("dave").signing_fpr_spaced();
    server.set("guix.authentication-master.introduction-commit", &intro);
    server.set("guix.authentication-master.introduction-signer", &signer);
    // The default no longer fits: only master's own section does.
    server.set(
        "guix.authentication.introduction-commit",
        &server.id("second"),
    );
    server.alias("main", "master");
    let err = server.push_ok(&[&refspec(&server.id("third"), "main")]);
    support::assert_contains(
        &err,
        "refs/heads/master, which is what git updates): accepted",
    );
    let err = server.push_refused(&[&refspec(&server.id("third"), "work")]);
    assert!(err.contains("refs/heads/work: refused"), "{err}");
}

/// A symbolic ref whose chain loops: git could update nothing, the gate
/// refuses it (and prints the names escaped).
#[test]
fn symbolic_ref_loop_is_refused() {
    let server = Server::new(true);
    server.alias("a", "b");
    server.alias("b", "a");
    let err = server.push_refused(&[&refspec(&server.id("second"), "a")]);
    support::assert_contains(
        &err,
        "refs/heads/a: refused: a symbolic ref on the server whose chain loops",
    );
}

/// `guix.authentication.protected-branch` as a full ref name and as a
/// glob; a value no branch can have refuses every push (status 2).
#[test]
fn protected_values_as_full_names_and_globs() {
    let server = Server::bare(build(CHANNEL));
    server.configure();
    server.git_ok(
        &server.bare,
        &[
            "config",
            "--unset-all",
            "guix.authentication.protected-branch",
        ],
    );
    for value in ["refs/heads/master", "release/*"] {
        server.protect(value);
    }
    let out = run(server.binary(&["install-server-hook", "-r", server.bare.to_str().unwrap()]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "protected branches (only moved forward, never deleted): refs/heads/master, \
             refs/heads/release/*"
        ),
        "{}",
        stderr(&out)
    );
    let doctor = run(server.binary(&["doctor", "-r", server.bare.to_str().unwrap()]));
    assert!(
        String::from_utf8_lossy(&doctor.stdout)
            .contains("protected branches (only moved forward, never deleted): refs/heads/master, refs/heads/release/*"),
        "{}",
        String::from_utf8_lossy(&doctor.stdout)
    );
    let doctor = run(server.binary(&[
        "doctor",
        "--format=json",
        "-r",
        server.bare.to_str().unwrap(),
    ]));
    let doc: Value = serde_json::from_slice(&doctor.stdout).unwrap();
    support::schema::check(&doc, &support::schema::load("doctor-schema.json"));
    assert_eq!(
        doc["protected_branches"],
        serde_json::json!(["refs/heads/master", "refs/heads/release/*"])
    );
    server.push_ok(&[&refspec(&server.keyring_commit(2), "keyring")]);
    server.push_ok(&[
        &refspec(&server.id("fourth"), "master"),
        &refspec(&server.id("fourth"), "release/1.0"),
        &refspec(&server.id("fourth"), "work"),
    ]);
    for branch in ["master", "release/1.0"] {
        let err = server.push_refused(&[&format!("+{}", refspec(&server.id("side-1"), branch))]);
        assert!(err.contains("would not move forward"), "{err}");
        let err = server.push_refused(&[&format!(":refs/heads/{branch}")]);
        assert!(err.contains("protected branch cannot be deleted"), "{err}");
    }
    // Not matched: rewritten freely (with authentic commits).
    server.push_ok(&[&format!("+{}", refspec(&server.id("side-1"), "work"))]);
    // A value that can match no branch: the gate refuses to run.
    server.protect("refs/tags/v1");
    let out = server.push(&[&refspec(&server.id("p-0"), "p0")]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    support::assert_contains(
        &err,
        "guix.authentication.protected-branch = `refs/tags/v1` can match no branch",
    );
    assert_eq!(server.server_ref("refs/heads/p0"), None);
    let out = run(server.binary(&["install-server-hook", "-r", server.bare.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let doctor = run(server.binary(&["doctor", "-r", server.bare.to_str().unwrap()]));
    assert_eq!(doctor.status.code(), Some(2), "{}", stderr(&doctor));
    assert!(
        stderr(&doctor).contains("`refs/tags/v1`"),
        "{}",
        stderr(&doctor)
    );
    // The hook itself, run by hand: status 2.
    let mut c = server.home.command(&server.bare);
    c.arg("pre-receive").env("GIT_DIR", &server.bare);
    c.stdin(Stdio::null());
    let out = run(c);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// On a case-folding file system, `Master` is master's file: a branch
/// differing only in case from a protected or keyring branch (or pattern)
/// is refused, whatever it would point at.
#[test]
fn branch_differing_only_in_case_is_refused() {
    let server = Server::new(true);
    server.set("guix.authentication.protected-branch", "master");
    server.protect("release/*");
    server.push_ok(&[
        &refspec(&server.id("fourth"), "master"),
        &refspec(&server.id("fourth"), "release/v1"),
    ]);
    for (branch, guarded) in [
        ("Master", "refs/heads/master"),
        ("KEYRING", "refs/heads/keyring"),
        ("Release/v2", "refs/heads/release/*"),
    ] {
        let err = server.push_refused(&[&refspec(&server.id("fourth"), branch)]);
        assert!(
            err.contains(&format!(
                "refs/heads/{branch}: refused: differs only in case from {guarded}"
            )),
            "{err}"
        );
        assert_eq!(server.server_ref(&format!("refs/heads/{branch}")), None);
    }
    // Deleting one is refused too: on such a file system it is master.
    let err = server.push_refused(&[":refs/heads/MASTER"]);
    assert!(err.contains("differs only in case"), "{err}");
    // Other names are fine.
    server.push_ok(&[&refspec(&server.id("fourth"), "masterful")]);
}

/// A keyring whose updates refresh keys (a file rewritten, a subkey
/// added), then replace one key, then drop others.
const KEYRING_CHANGES: &str = r#"
keyring alice dave
keyring-file keyring "dave.key" binary dave
keyring-file keyring "alice.key" armored alice carol
keyring-file keyring "dave.key" armored mallory
keyring-remove keyring "alice.key"
authorize alice dave
commit first gpg:dave
"#;

/// A keyring update after which a key the old tip held no longer loads
/// breaks every fresh clone: refused, unless the server allows it.
#[test]
fn keyring_update_dropping_a_key_is_refused_unless_allowed() {
    let server = Server::bare(build(KEYRING_CHANGES));
    server.configure();
    server.install_hook();
    server.push_ok(&[&refspec(&server.keyring_commit(4), "keyring")]);
    // Refreshing keys: accepted.
    let err = server.push_ok(&[&refspec(&server.keyring_commit(3), "keyring")]);
    assert!(err.contains("keyring branch moves forward"), "{err}");
    server.push_ok(&[&refspec(&server.keyring_commit(2), "keyring")]);
    // Replacing dave's key with mallory's.
    let dave = key("dave").primary_fpr_spaced();
    let err = server.push_refused(&[&refspec(&server.keyring_commit(1), "keyring")]);
    assert!(
        err.contains(&format!(
            "refs/heads/keyring: refused: the keyring update drops keys the old tip held: {dave};"
        )),
        "{err}"
    );
    support::assert_contains(
        &err,
        "git config guix.authentication.allow-key-removal true",
    );
    // Dropping alice's file: alice, carol and carol's subkey too.
    let err = server.push_refused(&[&refspec(&server.keyring_commit(0), "keyring")]);
    for name in ["alice", "carol"] {
        assert!(
            err.contains(&key(name).primary_fpr_spaced()),
            "{name}: {err}"
        );
    }
    assert!(err.contains(&key("carol").signing_fpr_spaced()), "{err}");
    assert_eq!(
        server.server_ref("refs/heads/keyring"),
        Some(server.keyring_commit(2))
    );
    // The override.
    server.set("guix.authentication.allow-key-removal", "true");
    server.push_ok(&[&refspec(&server.keyring_commit(0), "keyring")]);
    // Not a boolean: the gate refuses to run.
    server.set("guix.authentication.allow-key-removal", "maybe");
    let out = server.push(&[&refspec(&server.id("first"), "master")]);
    assert!(!out.status.success());
}

/// A protected branch whose tip removes `.guix-authorizations` could never
/// move again (Guix refuses every child): refused, saying why; a directory
/// in its place removes it too (Guix cannot read it as a blob), as does a
/// merge lacking it that one parent has.
#[test]
fn tip_removing_authorizations_is_refused_on_protected_branches() {
    let server = Server::bare(build(
        r#"
keyring alice dave
authorize alice dave
commit first gpg:dave
write a.txt "A\n"
commit second gpg:alice
branch dir
remove .guix-authorizations
commit drop gpg:alice
checkout dir
remove .guix-authorizations
mkdir-file .guix-authorizations
commit as-dir gpg:alice
"#,
    ));
    server.configure();
    server.install_hook();
    server.push_ok(&[
        &refspec(&server.keyring_commit(0), "keyring"),
        &refspec(&server.id("second"), "master"),
    ]);
    let err = server.push_refused(&[&refspec(&server.id("drop"), "master")]);
    assert!(
        err.contains(&format!(
            "refs/heads/master: refused: {} removes .guix-authorizations: Guix accepts that \
             commit but refuses every commit made on top of it",
            server.id("drop")
        )),
        "{err}"
    );
    assert_eq!(server.server_ref("master"), Some(server.id("second")));
    // Elsewhere it is authentic, as Guix says.
    server.push_ok(&[&refspec(&server.id("drop"), "work")]);
    // A directory in its place is no file, for Guix as for the gate.
    let err = server.push_refused(&[&refspec(&server.id("as-dir"), "master")]);
    assert!(
        err.contains(&format!(
            "refs/heads/master: refused: {} removes .guix-authorizations",
            server.id("as-dir")
        )),
        "{err}"
    );
    // A merge of master and a branch lacking the file, itself lacking it.
    let tree = server.git_ok(
        &server.built.path,
        &["rev-parse", &format!("{}^{{tree}}", server.id("drop"))],
    );
    let merge = server.git_ok(
        &server.built.path,
        &[
            "commit-tree",
            &tree,
            "-p",
            &server.id("second"),
            "-p",
            &server.id("drop"),
            "-m",
            "merge",
        ],
    );
    let err = server.push_refused(&[&refspec(&merge, "master")]);
    support::assert_contains(&err, &format!("{merge} removes .guix-authorizations"));
    assert_eq!(server.server_ref("master"), Some(server.id("second")));
    server.push_ok(&[&refspec(&server.id("as-dir"), "dir")]);
}

/// The gate's cache is inside the repository's git directory, used only if
/// the hook's user owns it and nobody else can write it: a cache a pusher
/// could seed vouches for nothing.
#[test]
fn gate_cache_lives_in_the_git_directory_and_a_pusher_writable_one_is_ignored() {
    use std::os::unix::fs::PermissionsExt;
    let server = Server::new(true);
    server.push_ok(&[&refspec(&server.id("second"), "master")]);
    assert_eq!(server.cached(), vec![server.built.oid("second")]);
    assert!(!server
        .home
        .cache()
        .join("git-authenticate/authentication/gate")
        .exists());
    // A cache seeded where the gate used to look: ignored.
    let first = server.built.oid("first");
    let unsigned = server.built.oid("unsigned-2");
    let repo = Repository::open(&server.bare).unwrap();
    let digest = Cache::default_key(&repo)
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let old = Cache::in_directory(
        &server.home.cache().join("git-authenticate/authentication"),
        &format!("gate/{digest}/{first}"),
    )
    .unwrap();
    assert!(old
        .record(unsigned, first, &Conditions::default(), &[])
        .is_empty());
    let on_unsigned = refspec(&server.id("on-unsigned"), "evil");
    let err = server.push_refused(&[&on_unsigned]);
    assert!(err.contains("lacks a signature"), "{err}");
    // Seeded in the git directory while only the owner could write it: it
    // is the gate's own, trusted (this is what the next step takes away).
    assert!(server
        .gate_cache()
        .record(unsigned, first, &Conditions::default(), &[])
        .is_empty());
    // The git directory writable by the group (a shared repository, hooks
    // run as each pusher): the same file is not trusted.
    let mode = |m| std::fs::set_permissions(&server.bare, std::fs::Permissions::from_mode(m));
    mode(0o775).unwrap();
    let err = server.push_refused(&[&on_unsigned]);
    assert!(err.contains("lacks a signature"), "{err}");
    // ...and accepted pushes say the cache is not used.
    let err = server.push_ok(&[&refspec(&server.id("third"), "master")]);
    support::assert_contains(&err, "the gate's cache is not used: the git directory");
    assert_eq!(err.matches("cache is not used").count(), 1, "{err}");
    mode(0o755).unwrap();
    server.push_ok(&[&on_unsigned]);
}

/// Ref names are the pusher's: a bidirectional override in one reaches the
/// pusher's and the admin's terminals escaped.
#[test]
fn hostile_ref_names_are_escaped() {
    let server = Server::new(true);
    let branch = "x\u{202e}y";
    let err = server.push_refused(&[&refspec(&server.id("unsigned-1"), branch)]);
    assert!(err.contains(r"refs/heads/x\u{202e}y: refused"), "{err}");
    // git's own report line is git's business; the hook's lines are ours.
    let ours = err
        .lines()
        .filter(|l| l.starts_with("remote: git-authenticate"));
    assert!(
        ours.clone().count() > 0 && ours.clone().all(|l| !l.contains('\u{202e}')),
        "{err}"
    );
}

/// Git allows a ref name that is not UTF-8 (here with 0x9b, a C1 CSI
/// when read as ISO-8859-1; git refuses ESC): a real push of one, beside an acceptable ref, is
/// refused as a whole, the name shown escaped and nothing updated; the
/// update hook, which gets the name as an argument, refuses it the same.
#[test]
fn a_ref_name_that_is_not_utf8_is_refused_by_name() {
    use std::os::unix::ffi::OsStrExt;
    let name = b"refs/heads/x\x9b2J";
    let push = |server: &Server| {
        let mut hostile = format!("{}:", server.id("third")).into_bytes();
        hostile.extend_from_slice(name);
        let mut command = server.git_command(&server.built.path, &["push", &server.url()]);
        command
            .arg(refspec(&server.id("third"), "master"))
            .arg(std::ffi::OsStr::from_bytes(&hostile));
        run(command)
    };
    let escaped = r"`refs/heads/x\x9b2J` is not UTF-8";
    let server = Server::new(true);
    let out = push(&server);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("pre-receive hook declined"), "{err}");
    assert!(err.contains(escaped), "{err}");
    assert!(!err.contains("valid UTF-8"), "{err}");
    // git's own report line is git's business; the hook's lines are ours.
    let ours = out.stderr.split(|&b| b == b'\n');
    let ours: Vec<_> = ours.filter(|l| l.starts_with(b"remote: ")).collect();
    assert!(ours.iter().all(|l| !l.contains(&0x9b)), "{err}");
    assert_eq!(server.server_ref("master"), None);
    // The update hook: master lands, the other ref alone is refused.
    let server = Server::new(false);
    let hook = server.bare.join("hooks/update");
    let binary = env!("CARGO_BIN_EXE_git-authenticate");
    std::fs::write(
        &hook,
        format!("#!/bin/sh\nexec '{binary}' update \"$1\" \"$2\" \"$3\"\n"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = push(&server);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(escaped), "{err}");
    assert_eq!(server.server_ref("master"), Some(server.id("third")));
    let refs = server.git_ok(&server.bare, &["for-each-ref", "--format=%(refname)"]);
    assert!(!refs.contains("refs/heads/x"), "{refs}");
}

/// A symbolic ref on the server whose target is not UTF-8: a push through
/// it is refused, the target named escaped (not called a loop).
#[test]
fn a_push_through_a_symbolic_ref_to_a_name_that_is_not_utf8_is_refused() {
    use std::os::unix::ffi::OsStrExt;
    let server = Server::new(true);
    let mut command = server.git_command(&server.bare, &["symbolic-ref", "refs/heads/main"]);
    command.arg(std::ffi::OsStr::from_bytes(b"refs/heads/x\x9b2J"));
    assert!(run(command).status.success());
    let err = server.push_refused(&[&refspec(&server.id("third"), "main")]);
    assert!(
        err.contains(
            r"a symbolic ref on the server to `refs/heads/x\x9b2J`, a name that is not UTF-8"
        ),
        "{err}"
    );
    assert!(!err.contains("loops"), "{err}");
}

/// The server's hints are a pusher's: a server without its keyring branch
/// asks for it to be pushed (never fetched), a refused force-push says how
/// to move forward.
#[test]
fn hints_fit_the_server() {
    let server = Server::bare(build(CHANNEL));
    server.configure();
    server.install_hook();
    let master = refspec(&server.id("fourth"), "master");
    let err = server.push_refused(&[&master]);
    assert!(
        err.contains(
            "hint: the server has no keyring branch `keyring` yet: push it with these commits"
        ),
        "{err}"
    );
    assert!(!err.contains("git fetch"), "{err}");
    server.push_ok(&[&master, &refspec(&server.keyring_commit(2), "keyring")]);
    let err = server.push_refused(&[&format!("+{}", refspec(&server.id("side-1"), "master"))]);
    support::assert_contains(
        &err,
        "hint: a protected branch only moves forward: fetch it, rebase or merge",
    );
}

/// On a case-folding file system `refs/Heads/master` is master's file, yet
/// it is outside `refs/heads/`: a namespace differing only in case is
/// refused, as are branch names that NTFS's upcase table, APFS's folding
/// or HFS+'s ignored code points join to a protected or keyring one.
#[test]
fn names_a_case_folding_file_system_joins_are_refused() {
    let server = Server::new(true);
    server.push_ok(&[&refspec(&server.id("fourth"), "master")]);
    let unsigned = server.id("unsigned-1");
    for (name, guarded) in [
        ("refs/Heads/master", "refs/heads/master".to_owned()),
        ("refs/HEADS/keyring", "refs/heads/keyring".to_owned()),
        ("refs/hea\u{200c}ds/master", "refs/heads/master".to_owned()),
        ("refs/Tags/v1", "refs/tags/v1".to_owned()),
        (
            &format!("refs/REPLACE/{}", server.id("fourth")),
            format!("refs/replace/{}", server.id("fourth")),
        ),
        ("refs/heads/ma\u{17f}ter", "refs/heads/master".to_owned()),
        ("refs/heads/\u{212a}eyring", "refs/heads/keyring".to_owned()),
        ("refs/heads/mas\u{200d}ter", "refs/heads/master".to_owned()),
    ] {
        let err = server.push_refused(&[&format!("{unsigned}:{name}")]);
        assert!(
            err.contains(&format!("refused: differs only in case from {guarded}")),
            "{name}: {err}"
        );
        assert_eq!(server.server_ref(name), None, "{name}");
    }
    // Deleting master through another case of its namespace: refused too.
    let err = server.push_refused(&[":refs/Heads/master"]);
    assert!(err.contains("differs only in case"), "{err}");
    assert_eq!(server.server_ref("master"), Some(server.id("fourth")));
}

/// A tag differing only in case from another is that tag's file on a
/// case-folding file system (the server's, or a user's clone where
/// fetching it moves the packed tag silently): refused, whether the other
/// is on the server or earlier in the same push; deleting it is allowed.
#[test]
fn tags_differing_only_in_case_are_refused() {
    let server = Server::new(true);
    server.push_ok(&[&refspec(&server.id("third"), "master")]);
    let (second, third) = (server.id("second"), server.id("third"));
    server.push_ok(&[&format!("{third}:refs/tags/v1")]);
    for name in ["refs/tags/V1", "refs/tags/\u{200c}v1"] {
        let err = server.push_refused(&[&format!("{second}:{name}")]);
        assert!(
            err.contains("refused: differs only in case from refs/tags/v1"),
            "{name}: {err}"
        );
        assert_eq!(server.server_ref(name), None, "{name}");
    }
    // Two new tags of one push.
    let err = server.push_refused(&[
        &format!("{third}:refs/tags/v2"),
        &format!("{second}:refs/tags/V2"),
    ]);
    assert!(err.contains("refs/tags/v2: accepted"), "{err}");
    support::assert_contains(&err, "refused: differs only in case from refs/tags/v2");
    assert_eq!(server.server_ref("refs/tags/v2"), None);
    // A pair made on the server before the gate: moving either is
    // refused, deleting one is allowed, and the other then moves.
    server.git_ok(&server.bare, &["update-ref", "refs/tags/V1", &third]);
    for name in ["refs/tags/V1", "refs/tags/v1"] {
        let err = server.push_refused(&[&format!("+{second}:{name}")]);
        assert!(err.contains("differs only in case"), "{name}: {err}");
    }
    server.push_ok(&[":refs/tags/V1"]);
    assert_eq!(server.server_ref("refs/tags/V1"), None);
    server.push_ok(&[&format!("+{second}:refs/tags/v1")]);
    assert_eq!(server.server_ref("refs/tags/v1"), Some(second));
}

/// A branch of the server that is a symbolic ref to a ref the gate does
/// not check (`refs/heads/docs` → `refs/notes/docs`): users fetch that
/// ref's commits as branch `docs`, so a push to either name is judged as
/// the branch.
#[test]
fn symbolic_branch_to_an_unchecked_ref_is_judged_as_a_branch() {
    let server = Server::new(true);
    server.git_ok(
        &server.bare,
        &["symbolic-ref", "refs/heads/docs", "refs/notes/docs"],
    );
    let unsigned = server.id("unsigned-1");
    for name in ["refs/heads/docs", "refs/notes/docs"] {
        let err = server.push_refused(&[&format!("{unsigned}:{name}")]);
        assert!(err.contains("lacks a signature"), "{name}: {err}");
        assert_eq!(server.server_ref("refs/notes/docs"), None, "{name}");
    }
    server.push_ok(&[&format!("{}:refs/notes/docs", server.id("third"))]);
    assert_eq!(server.server_ref("docs"), Some(server.id("third")));
    // Other unchecked refs stay unchecked.
    server.push_ok(&[&format!("{unsigned}:refs/notes/other")]);
}

/// A protected name that is a symbolic ref on the server (`main` →
/// `master`, only `main` protected): users see master's history as main,
/// so master may not be rewound or deleted either, under either name.
#[test]
fn branch_aliased_by_a_protected_name_is_protected() {
    let server = Server::new(true);
    server.set("guix.authentication.protected-branch", "main");
    server.push_ok(&[&refspec(&server.id("fourth"), "master")]);
    server.alias("main", "master");
    let rewind = format!("+{}", refspec(&server.id("side-1"), "master"));
    let err = server.push_refused(&[&rewind]);
    support::assert_contains(
        &err,
        "refs/heads/master: refused: protected branch would not move forward",
    );
    let err = server.push_refused(&[":refs/heads/master"]);
    assert!(err.contains("protected branch cannot be deleted"), "{err}");
    let err = server.push_refused(&[&format!("+{}", refspec(&server.id("side-1"), "main"))]);
    assert!(err.contains("would not move forward"), "{err}");
    assert_eq!(server.server_ref("master"), Some(server.id("fourth")));
    server.push_ok(&[&refspec(&server.id("p-0"), "master")]);
    // An unprotected alias of an unprotected branch: rewound freely.
    server.push_ok(&[&refspec(&server.id("fourth"), "work")]);
    server.alias("play", "work");
    server.push_ok(&[&format!("+{}", refspec(&server.id("side-1"), "work"))]);
}

/// One push updating a symbolic ref and its target: git (2.47) hands the
/// pre-receive hook both lines, and only afterwards refuses values that
/// differ ("inconsistent aliased update"); the gate judges each line as
/// master, so a rewind through either name is refused by the gate itself,
/// and a consistent forward move lands.
#[test]
fn push_of_an_alias_and_its_target_together() {
    let server = Server::new(true);
    server.push_ok(&[&refspec(&server.id("fourth"), "master")]);
    server.alias("main", "master");
    let err = server.push_refused(&[
        &format!("+{}", refspec(&server.id("side-1"), "main")),
        &refspec(&server.id("p-0"), "master"),
    ]);
    assert!(err.contains("would not move forward"), "{err}");
    assert_eq!(server.server_ref("master"), Some(server.id("fourth")));
    let err = server.push_refused(&[
        &format!("+{}", refspec(&server.id("side-1"), "main")),
        &format!("+{}", refspec(&server.id("side-1"), "master")),
    ]);
    assert_eq!(err.matches("would not move forward").count(), 2, "{err}");
    assert_eq!(server.server_ref("master"), Some(server.id("fourth")));
    server.push_ok(&[
        &refspec(&server.id("p-0"), "main"),
        &refspec(&server.id("p-0"), "master"),
    ]);
    assert_eq!(server.server_ref("master"), Some(server.id("p-0")));
}

/// A keyring commit on top of the channel's keyring branch that writes
/// `content` to `file` and removes `removed` (if given).
fn keyring_edit(server: &Server, file: &str, content: &[u8], removed: Option<&str>) -> String {
    let repo = Repository::open(&server.built.path).unwrap();
    let tip = repo
        .find_reference("refs/heads/keyring")
        .unwrap()
        .peel_to_commit()
        .unwrap();
    let blob = repo.blob(content).unwrap();
    let mut tree = repo.treebuilder(Some(&tip.tree().unwrap())).unwrap();
    tree.insert(file, blob, 0o100644).unwrap();
    if let Some(removed) = removed {
        tree.remove(removed).unwrap();
    }
    let tree = repo.find_tree(tree.write().unwrap()).unwrap();
    let signature = git_authenticate::git2::Signature::now("k", "k@example.org").unwrap();
    let id = repo
        .commit(
            Some("refs/heads/keyring"),
            &signature,
            &signature,
            "keyring edit",
            &tree,
            &[&tip],
        )
        .unwrap();
    id.to_string()
}

/// A keyring update that keeps a key file's primary key but drops its
/// subkey (the one that signs) is refused; a key moved to another file is
/// not a key dropped.
#[test]
fn keyring_update_dropping_a_subkey_is_refused_and_moving_a_key_is_not() {
    let server = Server::bare(build(
        "keyring alice dave carol\nauthorize alice dave\ncommit first gpg:dave\n",
    ));
    server.configure();
    server.install_hook();
    server.push_ok(&[&refspec(&server.keyring_commit(0), "keyring")]);
    let carol = key("carol");
    let moved = keyring_edit(
        &server,
        "moved.key",
        &carol.armored_public(),
        Some("carol.key"),
    );
    let err = server.push_ok(&[&refspec(&moved, "keyring")]);
    assert!(err.contains("keyring branch moves forward"), "{err}");
    let dropped = keyring_edit(
        &server,
        "moved.key",
        &support::craft::without_subkeys(&carol),
        None,
    );
    let err = server.push_refused(&[&refspec(&dropped, "keyring")]);
    assert!(
        err.contains(&format!(
            "refs/heads/keyring: refused: the keyring update drops keys the old tip held: {};",
            carol.signing_fpr_spaced()
        )),
        "{err}"
    );
    assert!(!err.contains(&carol.primary_fpr_spaced()), "{err}");
    assert_eq!(server.server_ref("refs/heads/keyring"), Some(moved));
}

/// A protected-branch value that is not UTF-8 can match no branch the
/// gate is told of: the gate refuses to run (status 2), naming it escaped.
#[test]
fn protected_value_not_utf8_refuses_to_run() {
    let server = Server::new(true);
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(server.bare.join("config"))
        .unwrap();
    config
        .write_all(b"[guix \"authentication\"]\n\tprotected-branch = ma\xffster\n")
        .unwrap();
    drop(config);
    let out = server.push(&[&refspec(&server.id("second"), "work")]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("can match no branch"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(server.server_ref("refs/heads/work"), None);
    let mut c = server.home.command(&server.bare);
    c.arg("pre-receive").env("GIT_DIR", &server.bare);
    c.stdin(Stdio::null());
    assert_eq!(run(c).status.code(), Some(2));
}

/// A pusher who can plant entries inside the git directory (but not write
/// the directory itself, as when only `git-authenticate/` was left
/// writable): a symbolic link in place of the gate's cache directory, a
/// group-writable cache directory, or a cache file others may write, is
/// not trusted, and the seeded commit is checked.
#[test]
fn gate_cache_planted_through_a_link_or_writable_entries_is_ignored() {
    use std::os::unix::fs::PermissionsExt;
    let server = Server::new(true);
    let first = server.built.oid("first");
    let unsigned = server.built.oid("unsigned-2");
    let on_unsigned = refspec(&server.id("on-unsigned"), "evil");
    // A cache seeded elsewhere, linked in.
    let elsewhere = server.home.path().join("elsewhere");
    let planted = Cache::in_directory(&elsewhere, &format!("gate/{first}")).unwrap();
    assert!(planted
        .record(unsigned, first, &Conditions::default(), &[])
        .is_empty());
    let ours = server.bare.join("git-authenticate");
    std::os::unix::fs::symlink(&elsewhere, &ours).unwrap();
    let err = server.push_refused(&[&on_unsigned]);
    assert!(err.contains("lacks a signature"), "{err}");
    std::fs::remove_file(&ours).unwrap();
    // The gate's own cache, then its directory opened to the group.
    assert!(server
        .gate_cache()
        .record(unsigned, first, &Conditions::default(), &[])
        .is_empty());
    let gate_dir = ours.join("gate");
    let mode = |path: &Path, m| std::fs::set_permissions(path, std::fs::Permissions::from_mode(m));
    mode(&gate_dir, 0o770).unwrap();
    let err = server.push_refused(&[&on_unsigned]);
    assert!(err.contains("lacks a signature"), "{err}");
    mode(&gate_dir, 0o700).unwrap();
    // The file itself writable by others.
    let file = gate_dir.join(first.to_string());
    mode(&file, 0o666).unwrap();
    let err = server.push_refused(&[&on_unsigned]);
    assert!(err.contains("lacks a signature"), "{err}");
    // Made private again by that read, what anyone could write meanwhile
    // is still not trusted.
    let err = server.push_refused(&[&on_unsigned]);
    assert!(err.contains("lacks a signature"), "{err}");
}

/// A dangling alias (its target not created yet) creates its target, and
/// a tag aliasing a protected branch is that branch: judged as the target.
#[test]
fn dangling_and_tag_aliases_are_judged_as_their_targets() {
    let server = Server::bare(build(CHANNEL));
    server.configure();
    server.install_hook();
    server.push_ok(&[&refspec(&server.keyring_commit(2), "keyring")]);
    server.alias("main", "master");
    let err = server.push_refused(&[&refspec(&server.id("unsigned-1"), "main")]);
    support::assert_contains(&err, "refs/heads/main (a symbolic ref to refs/heads/master");
    assert!(err.contains("lacks a signature"), "{err}");
    assert_eq!(server.server_ref("refs/heads/master"), None);
    server.push_ok(&[&refspec(&server.id("fourth"), "main")]);
    assert_eq!(
        server.server_ref("refs/heads/master"),
        Some(server.id("fourth"))
    );
    server.git_ok(
        &server.bare,
        &["symbolic-ref", "refs/tags/latest", "refs/heads/master"],
    );
    let err = server.push_refused(&[&format!("+{}:refs/tags/latest", server.id("side-1"))]);
    support::assert_contains(&err, "protected branch would not move forward");
    let err = server.push_refused(&[":refs/tags/latest"]);
    assert!(err.contains("protected branch cannot be deleted"), "{err}");
    assert_eq!(
        server.server_ref("refs/heads/master"),
        Some(server.id("fourth"))
    );
}

/// Without a keyring branch on the server, `Keyring::load` would look for
/// `refs/remotes/keyring` (as Guix does on a clone): on a server any
/// pusher may write that ref unchecked, and no user fetches it, so the
/// gate never takes keys from it.
#[test]
fn keys_pushed_outside_the_keyring_branch_do_not_count() {
    let server = Server::bare(build(CHANNEL));
    server.configure();
    server.install_hook();
    let keyring = server.keyring_commit(2);
    server.push_ok(&[&format!("{keyring}:refs/remotes/keyring")]);
    let err = server.push_refused(&[&refspec(&server.id("fourth"), "master")]);
    support::assert_contains(&err, "the server has no keyring branch `keyring` yet");
    assert_eq!(server.server_ref("refs/heads/master"), None);
    server.push_ok(&[&refspec(&keyring, "keyring")]);
    server.push_ok(&[&refspec(&server.id("fourth"), "master")]);
}

/// On a case-folding file system `MASTER` is master's file: refused too
/// when master is protected only through a protected alias (`main`).
#[test]
fn case_collision_with_a_branch_protected_through_an_alias_is_refused() {
    let server = Server::new(true);
    server.set("guix.authentication.protected-branch", "main");
    server.push_ok(&[&refspec(&server.id("fourth"), "master")]);
    server.alias("main", "master");
    let err = server.push_refused(&[&refspec(&server.id("side-1"), "MASTER")]);
    support::assert_contains(
        &err,
        "refs/heads/MASTER: refused: differs only in case from refs/heads/master",
    );
}

// Work bounded by what a push brings.
mod bounds;
