//! The maintainer's doctor: checks a channel's setup and says what to fix
//! before a user's pull fails.
//!
//! Publishing a signed channel takes discipline: a key authorized on one
//! branch only, a key missing from the keyring branch, a keyring branch
//! never pushed, a subkey listed as its primary, a key about to expire, a
//! hook missing, gpg set to sign with SHA-1… [`diagnose`] looks for each
//! of these and returns typed [`Finding`]s, each with a [`Severity`] and
//! the exact fix ([`Problem::fix`]). What the repository records (its
//! introduction and keyring) is given, as the command reads it from git's
//! configuration; so are the hooks' states, which only the command that
//! installs them knows ([`Diagnosis::add`]).
//!
//! ```no_run
//! use git_authenticate::doctor::{diagnose, Options, Severity};
//! use git_authenticate::Configuration;
//!
//! # fn main() -> Result<(), git_authenticate::Error> {
//! let repo = git2::Repository::open(".")?;
//! let recorded = Configuration {
//!     commit: Some("897c1a470da759236cc11798f4e0a5f7d4d59fbc".into()),
//!     signer: Some("2A39 3FFF 68F4 EF7A 3D29  12AF 6F51 20A0 22FB B2D5".into()),
//!     keyring: None,
//! };
//! let diagnosis = diagnose(&repo, &recorded, &Options::default())?;
//! for finding in &diagnosis.findings {
//!     println!("{}: {}", finding.severity, finding.problem);
//!     println!("  fix: {}", finding.problem.fix());
//! }
//! assert_eq!(diagnosis.has_errors(), diagnosis.findings.iter().any(|f| f.severity == Severity::Error));
//! # Ok(()) }
//! ```

mod keys;
mod local;
mod problem;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use git2::{BranchType, Oid, Repository};

use crate::channel::authorizations::Authorizations;
use crate::channel::configuration::Configuration;
use crate::channel::introduction::Introduction;
use crate::channel::metadata::{commit_relation, ChannelMetadata};
use crate::openpgp::fingerprint::Fingerprint;
use crate::openpgp::keyring::KeyringError;
use crate::openpgp::keyring::{self, Keyring};
use crate::openpgp::signature::CommitSignature;
use crate::verdict::error::Error;
use crate::{authenticate, Cache, NoProgress};

pub use local::SigningKey;
pub use problem::{HookState, Problem};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing; nothing fails because of it.
    Note,
    /// Will fail soon, or is fragile.
    Warning,
    /// Users' pulls will fail, or already fail.
    Error,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One thing found, and how bad it is.
#[derive(Debug)]
pub struct Finding {
    /// How bad it is.
    pub severity: Severity,
    /// What it is, with its data; [`Problem::fix`] says what to do.
    pub problem: Problem,
}

/// What one branch tip's `.guix-authorizations` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchAuthorizations {
    /// The branch (`master`, `origin/master`).
    pub branch: String,
    /// Its tip.
    pub tip: Oid,
    /// The fingerprints listed there.
    pub fingerprints: Vec<Fingerprint>,
}

/// Everything [`diagnose`] found.
#[derive(Debug, Default)]
pub struct Diagnosis {
    /// The findings, most severe first.
    pub findings: Vec<Finding>,
    /// Which branches authorize which keys, side by side: every local and
    /// remote-tracking branch whose tip has a readable
    /// `.guix-authorizations`.
    pub authorizations: Vec<BranchAuthorizations>,
    /// The keyring reference checked.
    pub keyring: String,
}

impl Diagnosis {
    /// Whether any finding is an [`Severity::Error`].
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    fn push(&mut self, problem: Problem) {
        self.findings.push(Finding {
            severity: problem.severity(),
            problem,
        });
    }

    /// Adds a finding made elsewhere (the command's, about its hooks),
    /// after those of the same severity: the findings stay most severe
    /// first.
    pub fn add(&mut self, problem: Problem) {
        let severity = problem.severity();
        let at = self.findings.partition_point(|f| f.severity >= severity);
        self.findings.insert(at, Finding { severity, problem });
    }
}

/// What to check, and against what clock.
#[derive(Debug, Clone)]
pub struct Options {
    /// The keyring reference; `None`: the configured one, else `keyring`.
    pub keyring_reference: Option<String>,
    /// "Now", for expiry.
    pub now: SystemTime,
    /// Keys expiring within this long are reported (default 30 days).
    pub expiry_warning: Duration,
    /// Whether to ask gpg about the maintainer's signing key and read its
    /// configuration (default `true`).
    pub check_gpg: bool,
    /// Whether to authenticate the history up to HEAD, with the cache
    /// (default `true`).
    pub authenticate: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            keyring_reference: None,
            now: SystemTime::now(),
            expiry_warning: Duration::from_secs(30 * 24 * 3600),
            check_gpg: true,
            authenticate: true,
        }
    }
}

/// Checks the channel setup of `repo`, whose configuration records
/// `configured` (for the checked-out branch).
///
/// Every problem is a [`Finding`]; the `Result` leaves room for what
/// cannot be checked at all.
pub fn diagnose(
    repo: &Repository,
    configured: &Configuration,
    options: &Options,
) -> Result<Diagnosis, Error> {
    let mut diagnosis = Diagnosis {
        keyring: options
            .keyring_reference
            .clone()
            .or_else(|| configured.keyring.clone())
            .unwrap_or_else(|| keyring::DEFAULT_REFERENCE.to_owned()),
        ..Diagnosis::default()
    };
    let keyring = load_keyring(repo, &mut diagnosis);
    check_keyring_branches(repo, &mut diagnosis);
    check_branches(repo, &mut diagnosis);
    if let Some(keyring) = &keyring {
        keys::check(keyring, options, &mut diagnosis);
    }
    check_channel_metadata(repo, &mut diagnosis);
    let introduction = check_introduction(configured, repo, keyring.as_ref(), &mut diagnosis);
    if options.check_gpg {
        local::check_gpg(repo, keyring.as_ref(), &mut diagnosis);
    }
    if let (Some(introduction), true) = (introduction, options.authenticate) {
        check_history(repo, &introduction, &mut diagnosis);
    }
    // Most severe first; the order of the checks within a severity.
    diagnosis
        .findings
        .sort_by_key(|f| std::cmp::Reverse(f.severity));
    Ok(diagnosis)
}

fn load_keyring(repo: &Repository, diagnosis: &mut Diagnosis) -> Option<Keyring> {
    match Keyring::load(repo, &diagnosis.keyring) {
        Ok(keyring) => Some(keyring),
        Err(KeyringError::NotFound {
            reference,
            suggestion,
        }) => {
            diagnosis.push(Problem::KeyringMissing {
                reference,
                suggestion,
            });
            None
        }
        Err(error) => {
            diagnosis.push(Problem::KeyringUnreadable {
                error: Box::new(error),
            });
            None
        }
    }
}

/// The short name of the keyring branch (`keyring` for `origin/keyring`).
fn keyring_branch_name(repo: &Repository, reference: &str) -> String {
    let reference = reference
        .strip_prefix("refs/heads/")
        .or_else(|| reference.strip_prefix("refs/remotes/"))
        .unwrap_or(reference);
    let remote_tracking = repo.find_branch(reference, BranchType::Local).is_err()
        && repo.find_branch(reference, BranchType::Remote).is_ok();
    match reference.split_once('/') {
        Some((_remote, name)) if remote_tracking => name.to_owned(),
        _ => reference.to_owned(),
    }
}

/// The remotes that have been fetched (they have remote-tracking
/// branches): a remote never fetched says nothing about its keyring. One
/// whose name is not UTF-8 is left out here; its remote-tracking branches
/// are reported as such by [`branch_tips`].
fn fetched_remotes(repo: &Repository) -> Vec<String> {
    let Ok(remotes) = repo.remotes() else {
        return Vec::new();
    };
    (0..remotes.len())
        .filter_map(|i| remotes.get(i).ok().flatten())
        .filter(|remote| {
            repo.references_glob(&format!("refs/remotes/{remote}/*"))
                .is_ok_and(|mut refs| refs.next().is_some())
        })
        .map(str::to_owned)
        .collect()
}

/// The keyring branch exists locally and on each remote, and they agree.
fn check_keyring_branches(repo: &Repository, diagnosis: &mut Diagnosis) {
    let name = keyring_branch_name(repo, &diagnosis.keyring);
    let local = branch_tip(repo, &name, BranchType::Local);
    for remote in fetched_remotes(repo) {
        let tracking = format!("{remote}/{name}");
        let Some(remote_tip) = branch_tip(repo, &tracking, BranchType::Remote) else {
            diagnosis.push(Problem::KeyringNotPushed {
                remote,
                branch: name.clone(),
            });
            continue;
        };
        let Some(local_tip) = local else { continue };
        if local_tip == remote_tip {
            continue;
        }
        if let Ok(relation) = commit_relation(repo, remote_tip, local_tip) {
            diagnosis.push(Problem::KeyringDiffers {
                local: name.clone(),
                remote: tracking,
                relation,
            });
        }
    }
}

fn branch_tip(repo: &Repository, name: &str, kind: BranchType) -> Option<Oid> {
    repo.find_branch(name, kind).ok()?.get().target()
}

/// The tips of every local and remote-tracking branch (symbolic ones such
/// as `origin/HEAD` excepted), by name; a branch whose name is not UTF-8,
/// or that cannot be read, is reported instead.
fn branch_tips(repo: &Repository, diagnosis: &mut Diagnosis) -> Vec<(String, Oid)> {
    let branches = match repo.branches(None) {
        Ok(branches) => branches,
        Err(e) => {
            diagnosis.push(Problem::BranchUnreadable {
                name: None,
                reason: Some(e.message().to_owned()),
            });
            return Vec::new();
        }
    };
    let mut tips = Vec::new();
    let mut listed = BTreeSet::new();
    for branch in branches {
        let branch = match branch {
            Ok((branch, _)) => branch,
            Err(e) => {
                diagnosis.push(Problem::BranchUnreadable {
                    name: None,
                    reason: Some(e.message().to_owned()),
                });
                // An iterator that failed once may fail forever.
                break;
            }
        };
        listed.insert(branch.get().name_bytes().to_vec());
        let Some(tip) = branch.get().target() else {
            continue;
        };
        let name = branch
            .name_bytes()
            .unwrap_or_else(|_| branch.get().name_bytes());
        match std::str::from_utf8(name) {
            Ok(name) => tips.push((name.to_owned(), tip)),
            Err(_) => diagnosis.push(Problem::BranchNameNotUtf8 {
                name: name.to_vec(),
            }),
        }
    }
    for name in unlisted_loose_branches(repo, &listed) {
        diagnosis.push(Problem::BranchUnreadable {
            name: Some(name),
            reason: None,
        });
    }
    tips
}

/// The loose branch refs (files under `refs/heads` and `refs/remotes`)
/// that libgit2 did not list: it skips, without a word, a ref file it
/// cannot read (one that holds no ref), which git itself reports.
fn unlisted_loose_branches(repo: &Repository, listed: &BTreeSet<Vec<u8>>) -> Vec<Vec<u8>> {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let mut unlisted = Vec::new();
    let mut pending = vec![b"refs/heads".to_vec(), b"refs/remotes".to_vec()];
    while let Some(name) = pending.pop() {
        let path = repo.commondir().join(std::ffi::OsStr::from_bytes(&name));
        let entries = match std::fs::read_dir(path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(_) => {
                unlisted.push(name);
                continue;
            }
        };
        for entry in entries {
            let Ok(entry) = entry else {
                unlisted.push(name.clone());
                break;
            };
            let mut child = name.clone();
            child.push(b'/');
            child.extend_from_slice(&entry.file_name().into_vec());
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(child),
                // A lock file is git's own, mid-update.
                _ if child.ends_with(b".lock") => {}
                _ if !listed.contains(&child) => unlisted.push(child),
                _ => {}
            }
        }
    }
    unlisted.sort();
    unlisted
}

/// Reads `.guix-authorizations` at each branch tip; branches without one
/// (the keyring branch, unrelated branches) are not channel branches.
fn check_branches(repo: &Repository, diagnosis: &mut Diagnosis) {
    for (branch, tip) in branch_tips(repo, diagnosis) {
        match Authorizations::at_commit(repo, tip) {
            Ok(None) => {}
            Ok(Some(listed)) => diagnosis.authorizations.push(BranchAuthorizations {
                branch,
                tip,
                fingerprints: listed.fingerprints().to_vec(),
            }),
            Err(error) => diagnosis.push(Problem::AuthorizationsUnreadable {
                branch,
                error: Box::new(error),
            }),
        }
    }
    check_authorized_everywhere(diagnosis);
}

/// A key authorized on some branches but not others: a merge into a
/// branch that lacks it, of commits it signed, will be refused.
fn check_authorized_everywhere(diagnosis: &mut Diagnosis) {
    let all = diagnosis.authorized_keys();
    let mut problems = Vec::new();
    for (fingerprint, authorized_on) in all {
        let not_on: Vec<String> = diagnosis
            .authorizations
            .iter()
            .filter(|b| !b.fingerprints.contains(&fingerprint))
            .map(|b| b.branch.clone())
            .collect();
        if !not_on.is_empty() {
            problems.push(Problem::AuthorizedOnSomeBranches {
                fingerprint,
                authorized_on: authorized_on.into_iter().collect(),
                not_on,
            });
        }
    }
    problems.into_iter().for_each(|p| diagnosis.push(p));
}

impl Diagnosis {
    /// Every fingerprint some branch tip authorizes, with those branches.
    pub fn authorized_keys(&self) -> BTreeMap<Fingerprint, BTreeSet<String>> {
        let mut keys: BTreeMap<Fingerprint, BTreeSet<String>> = BTreeMap::new();
        for branch in &self.authorizations {
            for fingerprint in &branch.fingerprints {
                keys.entry(fingerprint.clone())
                    .or_default()
                    .insert(branch.branch.clone());
            }
        }
        keys
    }
}

/// `.guix-channel`'s `keyring-reference` at HEAD names a branch that
/// exists: locally, or on a remote (pull tooling reads `origin/NAME`).
fn check_channel_metadata(repo: &Repository, diagnosis: &mut Diagnosis) {
    let Some(head) = repo.head().ok().and_then(|h| h.target()) else {
        return;
    };
    let metadata = match ChannelMetadata::at_commit(repo, head) {
        Ok(metadata) => metadata,
        Err(error) => {
            return diagnosis.push(Problem::ChannelMetadataUnreadable {
                error: Box::new(error.into()),
            })
        }
    };
    let name = metadata.keyring_reference;
    let exists = branch_tip(repo, &name, BranchType::Local).is_some()
        || fetched_remotes(repo)
            .iter()
            .any(|r| branch_tip(repo, &format!("{r}/{name}"), BranchType::Remote).is_some());
    if !exists {
        diagnosis.push(Problem::ChannelKeyringMissing { reference: name });
    }
}

/// The introduction is recorded, exists and is signed by the named key.
/// Returns it when it can be used to authenticate.
fn check_introduction(
    configured: &Configuration,
    repo: &Repository,
    keyring: Option<&Keyring>,
    diagnosis: &mut Diagnosis,
) -> Option<Introduction> {
    let Some(introduction) = configured.introduction() else {
        diagnosis.push(Problem::IntroductionNotRecorded);
        return None;
    };
    let introduction = match introduction {
        Ok(introduction) => introduction,
        Err(error) => {
            diagnosis.push(Problem::IntroductionInvalid {
                error: Box::new(error.into()),
            });
            return None;
        }
    };
    if repo.find_commit(introduction.commit).is_err() {
        diagnosis.push(Problem::IntroductionNotFound {
            commit: introduction.commit,
        });
        return None;
    }
    let keyring = keyring?;
    let signed_by = CommitSignature::read(repo, introduction.commit)
        .and_then(|signature| Ok(signature.verify(keyring)?.fingerprint().clone()));
    match signed_by {
        Ok(actual) if actual == introduction.signer => Some(introduction),
        Ok(actual) => {
            diagnosis.push(Problem::IntroductionWrongSigner {
                commit: introduction.commit,
                expected: introduction.signer.clone(),
                actual: Some(actual),
            });
            None
        }
        Err(error) => {
            diagnosis.push(Problem::IntroductionUnverifiable {
                commit: introduction.commit,
                error: Box::new(error),
            });
            None
        }
    }
}

/// The current history authenticates, with the cache (fast when nothing
/// is new). Not done on the keyring branch, which is never authenticated.
fn check_history(repo: &Repository, introduction: &Introduction, diagnosis: &mut Diagnosis) {
    let name = keyring_branch_name(repo, &diagnosis.keyring);
    if checked_out_branch(repo).is_some_and(|b| b == name || b == diagnosis.keyring) {
        return;
    }
    let Some(head) = repo.head().ok().and_then(|h| h.target()) else {
        return;
    };
    let options = crate::Options {
        keyring_reference: diagnosis.keyring.clone(),
        cache: Cache::for_key(&Cache::default_key(repo)).ok(),
        ..crate::Options::default()
    };
    match authenticate(repo, introduction, head, &options, &NoProgress) {
        Ok(_) => {}
        // The keyring's own problems are already reported.
        Err(Error::Keyring(_)) => {}
        Err(error) => diagnosis.push(Problem::NotAuthentic {
            head,
            error: Box::new(error),
        }),
    }
}

/// The checked-out branch (`master`), if HEAD is on a local branch.
fn checked_out_branch(repo: &Repository) -> Option<String> {
    let head = repo.head().ok()?;
    head.is_branch()
        .then(|| head.shorthand().ok().map(str::to_owned))
        .flatten()
}
