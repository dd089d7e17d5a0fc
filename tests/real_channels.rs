//! Authenticating real channels: nonguix and GNU Guix, from local
//! snapshots. Point at them with `GIT_AUTHENTICATE_NONGUIX` and
//! `GIT_AUTHENTICATE_GUIX` (a repository with `master` and `keyring`
//! branches): the tests are ignored by default, and fail when run without
//! them (`cargo test --test integration -- --ignored real_channels::`).
//!
//! The expected figures are those of Guix's own implementation on the same
//! snapshots. The repositories are only read (no cache, no configuration).

use crate::support;

use git_authenticate::git2::Repository;
use git_authenticate::{
    authenticate, resolve_commit, Cache, Introduction, NoProgress, Options, Report,
};

fn nonguix() -> Repository {
    support::snapshot("GIT_AUTHENTICATE_NONGUIX")
}

fn guix() -> Repository {
    support::snapshot("GIT_AUTHENTICATE_GUIX")
}

fn keyring_of(repo: &Repository) -> String {
    let local = repo.find_reference("refs/heads/keyring").is_ok();
    if local { "keyring" } else { "origin/keyring" }.to_owned()
}

/// What the tests authenticate with: the channel's keyring branch.
fn options(repo: &Repository) -> Options {
    Options {
        keyring_reference: keyring_of(repo),
        ..Options::default()
    }
}

/// The report on `repo` from `introduction` to master, authentic or not.
fn to_master(repo: &Repository, introduction: &Introduction) -> Report {
    let end = resolve_commit(repo, "master").unwrap();
    authenticate(repo, introduction, end, &options(repo), &NoProgress).unwrap()
}

#[test]
#[ignore = "needs GIT_AUTHENTICATE_NONGUIX (a clone of nonguix with its keyring branch)"]
fn nonguix_authenticates_from_its_introduction_to_master() {
    let report = to_master(&nonguix(), &support::nonguix_introduction());
    assert_eq!(report.checked, 2177);
    assert_eq!(report.signers.iter().map(|(_, n)| n).sum::<usize>(), 2177);
    assert_eq!(report.signers.len(), 8);
    assert!(report.is_authentic());
}

#[test]
#[ignore = "needs GIT_AUTHENTICATE_NONGUIX (a clone of nonguix with its keyring branch)"]
fn nonguix_second_run_checks_only_what_is_new() {
    let repo = nonguix();
    let cache_dir = tempfile::tempdir().unwrap();
    let options = Options {
        cache: Some(Cache::in_directory(cache_dir.path(), "nonguix").unwrap()),
        ..options(&repo)
    };
    let intro = support::nonguix_introduction();
    let parent = resolve_commit(&repo, "master~1").unwrap();
    let first = authenticate(&repo, &intro, parent, &options, &NoProgress).unwrap();
    assert_eq!(first.checked, 2176);
    let end = resolve_commit(&repo, "master").unwrap();
    let second = authenticate(&repo, &intro, end, &options, &NoProgress).unwrap();
    assert_eq!(second.checked, 1, "only the new commit is checked");
    let third = authenticate(&repo, &intro, end, &options, &NoProgress).unwrap();
    assert_eq!(third.checked, 0, "nothing new");
    assert!(third.warnings.is_empty(), "{:?}", third.warnings);
}

#[test]
#[ignore = "needs GIT_AUTHENTICATE_GUIX (a clone of GNU Guix with its keyring branch)"]
fn guix_authenticates_its_whole_history() {
    let report = to_master(&guix(), &Introduction::guix());
    assert_eq!(report.checked, 108_785);
    assert_eq!(report.signers.len(), 67);
    let (top, count) = &report.signers[0];
    assert_eq!(
        top.to_string(),
        "BCA6 89B6 3655 3801 C3C6  2150 197A 5888 235F ACAC"
    );
    assert_eq!(*count, 20_603);
}
