//! The gate's bounds (issue 16, items 6–9), through real pushes: failures
//! printed within bounds, one keyring load per push, merges over differing
//! `.guix-authorizations`, back-dated commits.

use super::{build, refspec, run, stderr, Server};

/// An unsigned commit on top of `parent` in the channel's repository,
/// dated `date` (author and committer).
fn unsigned_commit(server: &Server, parent: &str, message: &str, date: &str) -> String {
    let mut command = server.git_command(
        &server.built.path,
        &[
            "commit-tree",
            &format!("{parent}^{{tree}}"),
            "-p",
            parent,
            "-m",
            message,
        ],
    );
    command
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date);
    let out = run(command);
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A chain of `count` unsigned commits on top of `parent`: their ids,
/// oldest first.
fn unsigned_chain(server: &Server, parent: &str, name: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut tip = parent.to_owned();
    for i in 0..count {
        tip = unsigned_commit(server, &tip, &format!("{name} {i}"), "2025-01-01T00:00:00Z");
        ids.push(tip.clone());
    }
    ids
}

#[test]
fn many_failures_are_printed_within_bounds_with_the_first_of_each_ref() {
    let server = Server::new(true);
    server.push_ok(&[&refspec(&server.id("second"), "master")]);
    let second = server.id("second");
    let long = unsigned_chain(&server, &second, "long", 60);
    let short = unsigned_chain(&server, &second, "short", 3);
    let err = server.push_refused(&[
        &refspec(long.last().unwrap(), "long"),
        &refspec(short.last().unwrap(), "short"),
    ]);
    // The oldest failure of each ref is named, whatever the other printed.
    for chain in [&long, &short] {
        let first = format!("commit {} lacks a signature", chain[0]);
        assert!(err.contains(&first), "{first}: {err}");
    }
    // The others are counted, not listed.
    let lacking = err.matches("lacks a signature").count();
    assert!(lacking <= 21, "{lacking} failures printed: {err}");
    crate::support::assert_contains(&err, "more failures in refs/heads/long, not shown");
    assert!(err.contains("is not authentic (60 failures)"), "{err}");
    assert!(err.contains("is not authentic (3 failures)"), "{err}");
    assert!(err.len() < 16 << 10, "{} bytes printed", err.len());
    assert_eq!(server.server_ref("refs/heads/long"), None);
}

#[test]
fn the_keyring_is_loaded_once_per_push() {
    use git_authenticate::gate::{Gate, GateOptions, RefUpdate};
    use git_authenticate::git2::Repository;
    let server = Server::new(true);
    // Ten refs in one real push: five accepted, five refused.
    let refs: Vec<String> = (0..10)
        .map(|i| refspec(&server.id(&format!("p-{i}")), &format!("p{i}")))
        .collect();
    let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
    let err = server.push_refused(&refs);
    assert_eq!(err.matches(": accepted: commit").count(), 5, "{err}");
    // The same push decided by the library: one keyring, loaded once.
    let repo = Repository::open(&server.bare).unwrap();
    server.git_ok(
        &server.bare,
        &[
            "fetch",
            "-q",
            server.built.path.to_str().unwrap(),
            "refs/heads/*:refs/incoming/*",
        ],
    );
    let configuration = server.configuration();
    let zero = "0".repeat(40);
    let updates: Vec<RefUpdate> = (0..10)
        .map(|i| {
            let id = server.id(&format!("p-{i}"));
            RefUpdate::new(&format!("refs/heads/p{i}"), &zero, &id).unwrap()
        })
        .collect();
    let mut gate = Gate::new(&repo, configuration.clone(), GateOptions::default());
    let decision = gate.decide_push(updates.clone());
    assert_eq!(accepted(&decision), 5);
    assert_eq!(gate.keyring_loads(), 1);
    // With a keyring update in the push: its new tip, loaded once, checks
    // every other ref.
    let mut with_keyring = updates;
    with_keyring.push(
        RefUpdate::new(
            "refs/heads/keyring",
            &server.keyring_commit(2),
            &server.keyring_commit(1),
        )
        .unwrap(),
    );
    let mut gate = Gate::new(&repo, configuration, GateOptions::default());
    let decision = gate.decide_push(with_keyring);
    assert_eq!(accepted(&decision), 6);
    assert_eq!(gate.keyring_loads(), 1);
}

fn accepted(decision: &git_authenticate::gate::PushDecision) -> usize {
    let refs = decision.refs.iter();
    refs.filter(|r| r.verdict.is_accepted()).count()
}

/// Merges whose parents list different keys: the merge's signer must be
/// in both, however often the same pair of files meets.
const MERGES: &str = r#"
keyring alice dave bob
authorize alice dave
commit first gpg:dave
branch side
branch other
write a.txt "A\n"
commit main-1 gpg:alice
checkout side
authorize alice bob dave
commit side-1 gpg:alice
checkout master
merge side merge-1 gpg:alice
write s.txt "1\n"
commit side-2 gpg:alice
checkout side
write s.txt "2\n"
commit side-3 gpg:alice
checkout master
merge side merge-2 gpg:bob
checkout other
write o.txt "O\n"
commit other-1 gpg:alice
merge side bad-merge gpg:bob
checkout master
clock 31536000
write d.txt "dated 1971\n"
commit dated-1971 alice
"#;

fn merges_server() -> Server {
    let server = Server::bare(build(MERGES));
    server.configure();
    server.install_hook();
    let keyring = server.keyring_commit(0);
    server.push_ok(&[&format!("{keyring}:refs/heads/keyring")]);
    server
}

#[test]
fn merges_over_differing_authorizations_are_judged_by_both_parents() {
    let server = merges_server();
    // merge-1 by alice (in both files); merge-2 by bob, whose parents both
    // list him (side-2 carries the merged file).
    let err = server.push_ok(&[&refspec(&server.id("merge-2"), "master")]);
    assert!(err.contains("refs/heads/master: accepted"), "{err}");
    // bad-merge by bob: other-1 does not list him.
    let err = server.push_refused(&[&refspec(&server.id("bad-merge"), "other")]);
    let refusal = format!(
        "commit {} not signed by an authorized key",
        server.id("bad-merge")
    );
    assert!(err.contains(&refusal), "{refusal}: {err}");
}

#[test]
fn back_dated_commits_are_judged_as_any_other() {
    let server = merges_server();
    server.push_ok(&[&refspec(&server.id("merge-2"), "master")]);
    // Signed and authorized, dated 1971 on top of the accepted history.
    let err = server.push_ok(&[&refspec(&server.id("dated-1971"), "master")]);
    assert!(err.contains("(1 new commit checked)"), "{err}");
    // Unsigned, dated 1971 and 2015, on top of it: refused, and named.
    let tip = server.id("dated-1971");
    for date in ["1971-01-01T00:00:00Z", "2015-01-01T00:00:00Z"] {
        let unsigned = unsigned_commit(&server, &tip, "back-dated", date);
        let err = server.push_refused(&[&refspec(&unsigned, "master")]);
        let named = format!("commit {unsigned} lacks a signature");
        assert!(err.contains(&named), "{named}: {err}");
        assert!(err.contains("(1 failure)"), "{err}");
    }
    assert_eq!(server.server_ref("master"), Some(tip));
}

/// A keyring that does not load (`broken.key`, pushed before the hook) is
/// loaded once per push too: every ref it checks is refused, none loads
/// it again (a large broken keyring would cost its load per ref).
#[test]
fn a_broken_keyring_is_loaded_once_per_push() {
    use git_authenticate::gate::{Gate, GateOptions, RefUpdate, Refusal, Verdict};
    use git_authenticate::git2::Repository;
    let server = Server::new(false);
    server.push_ok(&[&format!("{}:refs/heads/keyring", server.keyring_commit(0))]);
    server.install_hook();
    let refs: Vec<String> = (0..4)
        .map(|i| refspec(&server.id("second"), &format!("b{i}")))
        .collect();
    let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
    let err = server.push_refused(&refs);
    assert_eq!(err.matches("broken.key").count(), 4, "{err}");
    assert_eq!(server.server_ref("refs/heads/b0"), None);
    // The same push decided by the library: the broken keyring is loaded
    // once, and every ref is refused with its error.
    let repo = Repository::open(&server.bare).unwrap();
    let channel = server.built.path.to_str().unwrap();
    server.git_ok(&server.bare, &["fetch", "-q", channel, "master:incoming"]);
    let zero = "0".repeat(40);
    let updates: Vec<RefUpdate> = (0..4)
        .map(|i| RefUpdate::new(&format!("refs/heads/b{i}"), &zero, &server.id("second")).unwrap())
        .collect();
    let mut gate = Gate::new(&repo, server.configuration(), GateOptions::default());
    let decision = gate.decide_push(updates);
    assert_eq!(accepted(&decision), 0);
    for decided in &decision.refs {
        assert!(
            matches!(decided.verdict, Verdict::Refused(Refusal::CouldNotCheck(_)))
                && decided.to_string().contains("broken.key"),
            "{decided}"
        );
    }
    assert_eq!(gate.keyring_loads(), 1);
}
