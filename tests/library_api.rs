//! The library as pull tooling uses it: the cache, downgrade protection,
//! channel metadata and introductions, on real repositories built on disk.

use crate::support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use git_authenticate::git2::Oid;
use git_authenticate::Failure;
use git_authenticate::{
    authenticate, check_update, commit_relation, Cache, CacheProblem, ChannelMetadata, Conditions,
    Error, Introduction, MetadataError, NoProgress, Options, Relation, Report, UnsafeEntry,
    UpdateError, UpdatePolicy,
};
use support::expect::{first_by_alice, run_cached};
use support::{build_scenario_text, Built};

/// A linear history, and a side branch forked from `second`.
const HISTORY: &str = r#"
keyring alice bob
write .guix-channel "(channel (version 0) (keyring-reference \"keyring\") (news-file \"news.txt\"))"
authorize alice
commit first alice
write a.txt "A"
commit second alice
branch side
write b.txt "B"
commit third alice
write c.txt "C"
commit fourth alice
checkout side
write s.txt "S"
commit side-1 alice
checkout master
"#;

fn built() -> Built {
    build_scenario_text(HISTORY)
}

fn run(built: &Built, end: &str, cache: &Cache) -> Result<Report, Error> {
    run_cached(built, built.oid(end), cache)
}

fn cache_in(dir: &Path) -> Cache {
    Cache::in_directory(dir, "checkouts/test").unwrap()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn cache_skips_what_was_authenticated() {
    let built = built();
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    assert_eq!(run(&built, "second", &cache).unwrap().checked, 1);
    assert_eq!(mode(cache.path()), 0o600);
    assert_eq!(cache.read().0, vec![built.oid("second")]);
    assert_eq!(
        run(&built, "fourth", &cache).unwrap().checked,
        2,
        "only third and fourth"
    );
    assert_eq!(
        run(&built, "fourth", &cache).unwrap().checked,
        0,
        "nothing new"
    );
    assert_eq!(
        run(&built, "third", &cache).unwrap().checked,
        0,
        "an ancestor of a cached commit"
    );
    assert_eq!(
        cache.read().0,
        vec![built.oid("fourth"), built.oid("second")]
    );
    let text = fs::read_to_string(cache.path()).unwrap();
    let expected_head = format!(
        ";; List of previously-authenticated commits.\n;; Introduction: {}\n\n((\"{}\" guix)",
        built.oid("first"),
        built.oid("fourth")
    );
    assert!(text.starts_with(&expected_head), "{text}");
}

#[test]
fn cache_with_another_mode_is_ignored_and_made_private() {
    let built = built();
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    run(&built, "third", &cache).unwrap();
    fs::set_permissions(cache.path(), fs::Permissions::from_mode(0o644)).unwrap();
    let report = run(&built, "fourth", &cache).unwrap();
    assert_eq!(report.checked, 3, "everything is checked again");
    assert!(
        matches!(
            report.warnings[0].problem,
            CacheProblem::UnsafeFile {
                reason: UnsafeEntry::Mode {
                    mode: 0o644,
                    reset: true
                }
            }
        ),
        "{:?}",
        report.warnings
    );
    assert_eq!(mode(cache.path()), 0o600);
}

#[test]
fn cache_naming_a_missing_or_foreign_commit_makes_nothing_authentic() {
    let built = built();
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    // A commit the repository lacks, and one outside the introduction's
    // history (as if the cache were shared with another channel).
    let missing = Oid::from_str("0123456789abcdef0123456789abcdef01234567").unwrap();
    let foreign = built.oid("first");
    let repo = built.repo();
    let orphan = {
        let sig = git_authenticate::git2::Signature::now("x", "x@example.org").unwrap();
        let tree = repo.find_commit(foreign).unwrap().tree().unwrap();
        repo.commit(None, &sig, &sig, "orphan", &tree, &[]).unwrap()
    };
    write_cache(cache.path(), &[missing, orphan]);
    let options = Options {
        cache: Some(cache.clone()),
        ..Options::default()
    };
    let error = authenticate(
        &repo,
        &first_by_alice(&built),
        orphan,
        &options,
        &NoProgress,
    )
    .unwrap_err();
    assert!(
        matches!(error.failure(), Some(Failure::NotDescendant { end, .. }) if *end == orphan),
        "{error}"
    );
    let report = run(&built, "fourth", &cache).unwrap();
    assert_eq!(report.checked, 3);
    assert!(report.warnings.iter().any(
        |w| matches!(w.problem, CacheProblem::NotDescendant { commit, .. } if commit == orphan)
    ));
}

/// Commits a caller vouches for are taken on trust, not shown to descend
/// from the introduction: they are not recorded as its descendants, so a
/// later run without the caller's word does not trust them.
#[test]
fn commits_the_caller_vouches_for_are_not_recorded_as_descendants() {
    let built = built();
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let repo = built.repo();
    let orphan = {
        let sig = git_authenticate::git2::Signature::now("x", "x@example.org").unwrap();
        let tree = repo
            .find_commit(built.oid("first"))
            .unwrap()
            .tree()
            .unwrap();
        repo.commit(None, &sig, &sig, "orphan", &tree, &[]).unwrap()
    };
    // Recorded for another introduction (a shared cache key).
    write_cache(cache.path(), &[orphan]);
    let options = Options {
        cache: Some(cache.clone()),
        authentic_commits: vec![orphan],
        ..Options::default()
    };
    let introduction = first_by_alice(&built);
    authenticate(
        &repo,
        &introduction,
        built.oid("fourth"),
        &options,
        &NoProgress,
    )
    .unwrap();
    assert_eq!(cache.read().0, vec![built.oid("fourth")]);
    let error = run_cached(&built, orphan, &cache).unwrap_err();
    assert!(
        matches!(error.failure(), Some(Failure::NotDescendant { end, .. }) if *end == orphan),
        "{error}"
    );
}

/// A file of bare ids (as Guix and earlier versions wrote it) does not say
/// under which policy and historical authorizations its commits were
/// authenticated: they count for no run, and the next write drops them.
#[test]
fn entries_without_conditions_count_for_no_run() {
    let built = built();
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    write_private(
        cache.path(),
        &format!(
            ";; List of previously-authenticated commits.\n;; Introduction: {}\n\n(\"{}\")\n",
            built.oid("first"),
            built.oid("third")
        ),
    );
    let report = run(&built, "fourth", &cache).unwrap();
    assert_eq!(report.checked, 3, "everything is checked again");
    assert_eq!(
        report.warnings[0].problem,
        CacheProblem::Unconditioned { entries: 1 }
    );
    assert_eq!(cache.read().0, vec![built.oid("fourth")]);
    let text = fs::read_to_string(cache.path()).unwrap();
    support::assert_contains(&text, &format!("(\"{}\" guix)", built.oid("fourth")));
    let report = run(&built, "fourth", &cache).unwrap();
    assert_eq!((report.checked, report.warnings), (0, vec![]));
}

fn write_cache(path: &Path, commits: &[Oid]) {
    let list: Vec<String> = commits.iter().map(|c| format!("(\"{c}\" guix)")).collect();
    write_private(
        path,
        &format!(
            ";; List of previously-authenticated commits.\n\n({})\n",
            list.join(" ")
        ),
    );
}

/// Writes `text` at `path` (its directory made), mode 0600 as a cache file.
fn write_private(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn cache_with_garbage_or_a_symlink_is_ignored() {
    let built = built();
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    write_private(cache.path(), "((((( not a cache");
    let report = run(&built, "second", &cache).unwrap();
    assert_eq!(
        report.warnings[0].problem,
        CacheProblem::Malformed,
        "{:?}",
        report.warnings
    );
    assert_eq!(
        cache.read().0,
        vec![built.oid("second")],
        "replaced by a good file"
    );

    // A planted symlink is neither read nor written through.
    let target = dir.path().join("elsewhere");
    write_cache(&target, &[built.oid("fourth")]);
    fs::remove_file(cache.path()).unwrap();
    std::os::unix::fs::symlink(&target, cache.path()).unwrap();
    let report = run(&built, "third", &cache).unwrap();
    assert_eq!(report.checked, 2, "the symlinked list is not trusted");
    assert_eq!(
        report.warnings[0].problem,
        CacheProblem::UnsafeFile {
            reason: UnsafeEntry::SymbolicLink
        }
    );
    assert!(!fs::symlink_metadata(cache.path())
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(fs::read_to_string(&target)
        .unwrap()
        .contains(&built.oid("fourth").to_string()));
}

#[test]
fn concurrent_writers_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let oid = |t: usize, i: usize| Oid::from_str(&format!("{t:02x}{i:038x}")).unwrap();
    let intro = oid(255, 0);
    std::thread::scope(|s| {
        for t in 0..8 {
            let cache = cache.clone();
            s.spawn(move || {
                for i in 0..20 {
                    assert_eq!(
                        cache.record(oid(t, i), intro, &Conditions::default(), &[]),
                        vec![]
                    );
                }
            });
        }
    });
    let (commits, warnings) = cache.read();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(commits.len(), 160);
    for t in 0..8 {
        for i in 0..20 {
            assert!(commits.contains(&oid(t, i)));
        }
    }
    // Past the cap, the oldest go.
    for i in 0..100 {
        assert_eq!(
            cache.record(oid(99, i), intro, &Conditions::default(), &[]),
            vec![]
        );
    }
    let (commits, _) = cache.read();
    assert_eq!(commits.len(), Cache::MAX_ENTRIES);
    assert_eq!(commits[0], oid(99, 99));
}

#[test]
fn relation_and_downgrade_protection() {
    let built = built();
    let repo = built.repo();
    let (second, fourth, side) = (
        built.oid("second"),
        built.oid("fourth"),
        built.oid("side-1"),
    );
    for (from, to, relation) in [
        (second, fourth, Relation::Ancestor),
        (fourth, fourth, Relation::Same),
        (fourth, second, Relation::Descendant),
        (fourth, side, Relation::Unrelated),
    ] {
        assert_eq!(
            commit_relation(&repo, from, to).unwrap(),
            relation,
            "{from} to {to}"
        );
    }
    for (from, to, relation) in [
        (second, fourth, Relation::Ancestor),
        (fourth, fourth, Relation::Same),
    ] {
        assert_eq!(
            check_update(&repo, from, to, UpdatePolicy::ForwardOnly).unwrap(),
            relation,
            "{from} to {to}"
        );
    }
    let refused = check_update(&repo, fourth, second, UpdatePolicy::ForwardOnly).unwrap_err();
    assert!(matches!(
        refused,
        UpdateError::Downgrade {
            relation: Relation::Descendant,
            ..
        }
    ));
    assert!(refused.to_string().contains("an ancestor of"), "{refused}");
    assert!(check_update(&repo, fourth, side, UpdatePolicy::ForwardOnly).is_err());
    assert_eq!(
        check_update(&repo, fourth, side, UpdatePolicy::AllowDowngrades).unwrap(),
        Relation::Unrelated
    );
}

#[test]
fn channel_metadata_is_read_at_a_commit() {
    let built = built();
    let repo = built.repo();
    let metadata = ChannelMetadata::at_commit(&repo, built.oid("fourth")).unwrap();
    assert_eq!(metadata.keyring_reference, "keyring");
    assert_eq!(metadata.news_file.as_deref(), Some("news.txt"));

    let plain = build_scenario_text("keyring alice\nauthorize alice\ncommit first alice\n");
    let defaults = ChannelMetadata::at_commit(&plain.repo(), plain.oid("first")).unwrap();
    assert_eq!(defaults, ChannelMetadata::default());

    let bad = build_scenario_text("write .guix-channel \"(channel (version 7))\"\ncommit first\n");
    let error = ChannelMetadata::at_commit(&bad.repo(), bad.oid("first")).unwrap_err();
    assert!(matches!(error, MetadataError::Malformed { .. }), "{error}");
}

#[test]
fn introductions_as_users_copy_them() {
    let from_file = Introduction::from_channel_form(
        "(make-channel-introduction\n \"9edb3f66fd807b096b48283debdcddccfea34bad\"\n \
         (openpgp-fingerprint\n  \"BBB0 2DDF 2CEA F6A8 0D1D  E643 A2A0 6DF2 A33A 54FA\"))",
    )
    .unwrap();
    assert_eq!(from_file, Introduction::guix());
    let compact = Introduction::new(
        "9edb3f66fd807b096b48283debdcddccfea34bad",
        "bbb02ddf2ceaf6a80d1de643a2a06df2a33a54fa",
    )
    .unwrap();
    assert_eq!(compact, Introduction::guix());
}

/// Commits the caller knows to descend from the introduction (a server's own
/// cache) hide their history like cached commits do; one the repository
/// lacks is ignored; an unsigned commit on top is still refused, and named.
#[test]
fn known_descendants_hide_their_history_and_vouch_for_nothing_else() {
    let built = build_scenario_text(&format!("{HISTORY}write d.txt \"D\"\ncommit unsigned\n"));
    let missing = Oid::from_str("0123456789012345678901234567890123456789").unwrap();
    let options = |known: &[&str]| Options {
        known_descendants: known
            .iter()
            .map(|l| built.oid(l))
            .chain([missing])
            .collect(),
        ..Options::default()
    };
    let run = |end: &str, known: &[&str]| {
        let intro = first_by_alice(&built);
        authenticate(
            &built.repo(),
            &intro,
            built.oid(end),
            &options(known),
            &NoProgress,
        )
    };
    assert_eq!(run("fourth", &["third"]).unwrap().checked, 1);
    assert_eq!(run("third", &["fourth"]).unwrap().checked, 0);
    let refused = run("unsigned", &["fourth"]).unwrap_err();
    assert_eq!(refused.kind(), "unsigned");
    assert_eq!(refused.commit(), Some(built.oid("unsigned")));
}
