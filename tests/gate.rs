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
use git_authenticate::Cache;
use serde_json::Value;
use support::process::{kill, run_bounded, wait_bounded};
use support::{gpg_available, key, Built, Home};

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
const CHANNEL: &str = r#"
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

/// Builds `text`; without gpg, `gpg:KEY` signers become Sequoia ones.
fn build(text: &str) -> Built {
    let text = if gpg_available() {
        text.to_owned()
    } else {
        eprintln!("note: gpg is not available; signing with Sequoia instead");
        text.replace("gpg:", "")
    };
    support::build_scenario_text(&text)
}

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
        self.git_ok(
            &self.bare,
            &[
                "config",
                "--add",
                "guix.authentication.protected-branch",
                "master",
            ],
        );
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

    /// The commits in the gate's cache.
    fn cached(&self) -> Vec<Oid> {
        let repo = Repository::open(&self.bare).unwrap();
        let key = Cache::default_key(&repo);
        let digest = key.rsplit('/').next().unwrap();
        let first = self.built.oid("first");
        let cached = self.home.cached(&format!("gate/{digest}/{first}"), first);
        assert!(cached.warnings.is_empty(), "{:?}", cached.warnings);
        cached.trusted
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
    assert!(
        err.contains("push that branch with the commits it signs"),
        "{err}"
    );
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
    assert!(
        err.contains(&format!(
            "refs/heads/master: refused: protected branch would not move forward from {} to {}",
            server.id("fourth"),
            server.id("side-1")
        )),
        "{err}"
    );
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
    assert!(
        stderr(&out).contains("refs/heads/bob: refused"),
        "{}",
        stderr(&out)
    );
    assert_eq!(server.server_ref("master"), Some(server.id("third")));
    assert_eq!(server.server_ref("refs/heads/bob"), None);
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
    assert!(
        err.contains("authorize, on one side, a key the other side already lists"),
        "{err}"
    );
    assert!(
        err.contains("squash or rebase merge made by the forge"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// The library's verdicts, and a server that is not configured.

#[test]
fn library_verdicts_are_typed() {
    use git_authenticate::gate::{
        Acceptance, Gate, GateOptions, RefUpdate, Refusal, ServerConfiguration, Verdict,
    };
    use git_authenticate::{Configuration, Relation};
    let server = Server::new(false);
    server.push_ok(&[
        &refspec(&server.id("fourth"), "master"),
        &refspec(&server.id("side-1"), "side"),
    ]);
    let repo = Repository::open(&server.bare).unwrap();
    // What `Server::configure` sets, as the command reads it.
    let configuration = ServerConfiguration {
        default: Configuration {
            commit: Some(server.id("first")),
            signer: Some(key("dave").signing_fpr_spaced()),
            keyring: Some("keyring".into()),
        },
        protected_branches: vec!["master".into()],
        keyring_branches: vec!["keyring".into()],
        ..ServerConfiguration::default()
    };
    let mut gate = Gate::new(&repo, configuration, GateOptions::default());
    let zero = "0".repeat(40);
    let update = |name: &str, old: &str, new: &str| RefUpdate::new(name, old, new).unwrap();
    let (fourth, side) = (server.id("fourth"), server.id("side-1"));
    let verdict = gate.decide(&update("refs/heads/master", &fourth, &side));
    assert!(
        matches!(
            verdict,
            Verdict::Refused(Refusal::NotFastForward {
                relation: Relation::Unrelated
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
    assert!(
        err.contains("no introduction is configured on the server"),
        "{err}"
    );
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
// Work bounded by what a push brings.
mod bounds;
