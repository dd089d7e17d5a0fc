//! The trust audit: who could sign a channel, since when, who let them in,
//! and what looks wrong.
//!
//! [`audit`] authenticates the range from the introduction to END first
//! (an audit of a history that is not authentic would mislead: its error
//! is returned), with the same walk and checks as [`crate::authenticate`]
//! and no cache, so that every commit of the range is covered. It then
//! reads each commit's `.guix-authorizations` entry once, parses each
//! distinct file once, and tells:
//! - every change of the file ([`Change`]): who made it, what it added and
//!   removed, and whether on END's first-parent line or a merged branch;
//! - every key ever authorized or signing ([`AuditedKey`]): when listed,
//!   who added it, what it signed, what the keyring says of it;
//! - what looks wrong ([`Finding`]).
//!
//! ```no_run
//! # fn main() -> Result<(), git_authenticate::Error> {
//! use git_authenticate::audit::{audit, AuditOptions};
//! use git_authenticate::{resolve_commit, Introduction};
//! let repo = git_authenticate::git2::Repository::open(".")?;
//! let end = resolve_commit(&repo, "HEAD")?;
//! let report = audit(&repo, &Introduction::guix(), end, &AuditOptions::default())?;
//! for finding in &report.findings {
//!     println!("{:?}: {finding}", finding.severity);
//! }
//! # Ok(()) }
//! ```

mod findings;
mod history;
mod keys;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use git2::{Oid, Repository};

use crate::authenticate::Options;
use crate::channel::introduction::Introduction;
use crate::openpgp::fingerprint::Fingerprint;
use crate::rule::interrupt::Interrupt;
use crate::verdict::error::Error;

pub use findings::{Finding, FindingKind, Severity};

/// How to audit.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuditOptions {
    /// How to authenticate the range first (the keyring, the policy, the
    /// historical authorizations…). Its cache and known commits are not
    /// used: the whole range is checked, so that every commit is covered.
    pub authentication: Options,
    /// A key still authorized at END that signed nothing for this long
    /// before END's committer date is reported as dormant (default: two
    /// years).
    pub dormant_after: Duration,
    /// A key still authorized at END that expires within this time of
    /// END's committer date is reported (default: 30 days).
    pub expiry_warning: Duration,
}

impl Default for AuditOptions {
    fn default() -> Self {
        const DAY: u64 = 86_400;
        AuditOptions {
            authentication: Options::default(),
            dormant_after: Duration::from_secs(730 * DAY),
            expiry_warning: Duration::from_secs(30 * DAY),
        }
    }
}

/// A commit and its committer date (seconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitAt {
    /// The commit.
    pub commit: Oid,
    /// Its committer date, in seconds since the epoch (0 when the
    /// committer line is malformed).
    pub time: i64,
}

/// A key as `.guix-authorizations` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedKey {
    /// Its fingerprint.
    pub fingerprint: Fingerprint,
    /// The `(name "…")` the file gives it, if any (hostile when printed).
    pub name: Option<String>,
}

/// Where a change was made in the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Line {
    /// On END's first-parent line.
    FirstParent,
    /// On a branch merged into it: reviewers of the first-parent line may
    /// not have seen it.
    SideBranch,
}

/// A change of `.guix-authorizations`: a commit whose file differs from
/// each of its parents' (the introduction's first listing included).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Change {
    /// The commit and its date.
    pub at: CommitAt,
    /// The key that signed it.
    pub signer: Fingerprint,
    /// The signer's name, as its parent's file (or else its own) gives it.
    pub signer_name: Option<String>,
    /// The keys listed that its first parent's file does not list (every
    /// key for the introduction); shared by the changes between the same
    /// two files.
    pub added: Arc<[NamedKey]>,
    /// The keys its first parent's file lists that it does not.
    pub removed: Arc<[NamedKey]>,
    /// Where it was made.
    pub line: Line,
    /// Whether this is the introduction's file, the first listing.
    pub introduction: bool,
    /// Whether the file is malformed (then it lists nobody).
    pub malformed: bool,
}

/// How a key signed the range.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Signing {
    /// Commits signed (the introduction included).
    pub count: usize,
    /// The first commit it signed, by date.
    pub first: Option<CommitAt>,
    /// The last commit it signed, by date.
    pub last: Option<CommitAt>,
    /// Commits signed per year (UTC, of the committer date), oldest first.
    pub per_year: Vec<(i64, usize)>,
    /// Commits dated after the key's expiry (as the keyring says it at
    /// END's date), which the strict policy refuses and Guix's rule
    /// accepts.
    pub after_expiry: usize,
    /// The first of them, by date.
    pub first_after_expiry: Option<CommitAt>,
}

/// What the keyring says of a key.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KeyFacts {
    /// The primary key it belongs to (its own fingerprint for a primary
    /// key).
    pub primary: Fingerprint,
    /// Whether it is a subkey.
    pub subkey: bool,
    /// Its public-key algorithm (`RSA`, `DSA`, `EdDSA`…).
    pub algorithm: String,
    /// Its size in bits, when the algorithm has one.
    pub bits: Option<usize>,
    /// When it was made (seconds since the epoch).
    pub created: i64,
    /// When it expires, as its self-signatures valid at END's date say.
    pub expires: Option<i64>,
    /// Whether it or its certificate is revoked, as of END's date.
    pub revoked: bool,
    /// The keyring file it was read from (hostile when printed).
    pub file: String,
}

/// A key ever authorized in the range, or that signed in it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuditedKey {
    /// The key.
    pub fingerprint: Fingerprint,
    /// The name the latest file listing it gives (hostile when printed).
    pub name: Option<String>,
    /// The first commit whose file lists it, by date (`None` for a key
    /// only the historical authorizations let sign).
    pub first_listed: Option<CommitAt>,
    /// The last commit whose file lists it, by date.
    pub last_listed: Option<CommitAt>,
    /// Whether END's file lists it: it may sign END's children.
    pub authorized_at_end: bool,
    /// The change that first listed it: the commit and its signer.
    pub authorized_by: Option<(CommitAt, Fingerprint)>,
    /// What it signed.
    pub signed: Signing,
    /// What the keyring says of it (`None`: not in the keyring).
    pub keyring: Option<KeyFacts>,
}

/// What [`audit`] found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Audit {
    /// Where trust starts.
    pub introduction: Introduction,
    /// The end of the range.
    pub end: CommitAt,
    /// Commits in the range, the introduction included.
    pub commits: usize,
    /// The keys END's file lists, in file order.
    pub authorized_at_end: Vec<Fingerprint>,
    /// The changes of `.guix-authorizations`, oldest first (parents before
    /// children).
    pub changes: Vec<Change>,
    /// Every key listed or signing, by first listing.
    pub keys: Vec<AuditedKey>,
    /// What looks wrong, most severe first.
    pub findings: Vec<Finding>,
    /// Each key's position in `keys`.
    index: HashMap<Fingerprint, usize>,
}

/// A date as `YYYY-MM-DD` (UTC).
pub fn date(time: i64) -> String {
    let (y, m, d) = crate::openpgp::policy::civil_date(time.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

impl Audit {
    /// The key with this fingerprint.
    pub fn key(&self, fingerprint: &Fingerprint) -> Option<&AuditedKey> {
        self.index.get(fingerprint).map(|&i| &self.keys[i])
    }
}

/// Audits the range of `repo` from `introduction` to `end`.
///
/// Errors: those of [`crate::authenticate`], [`Error::NotAuthentic`]
/// included, when the range is not authentic or cannot be checked; an
/// unreadable commit, tree or file.
pub fn audit(
    repo: &Repository,
    introduction: &Introduction,
    end: Oid,
    options: &AuditOptions,
) -> Result<Audit, Error> {
    // The history is read on a thread of its own while the range is
    // authenticated: the audit then costs little more than authentication.
    // What authentication says comes first: a range that is not authentic
    // is not audited, whatever the reading found.
    let path = repo.path().to_owned();
    let (authenticated, read) = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let repo = options.authentication.opener.open(&path)?;
            let interrupt = options.authentication.interrupt.as_deref();
            history::History::read(&repo, introduction, end, Interrupt::new(interrupt))
        });
        let authenticated = history::authenticate_all(repo, introduction, end, options);
        let read = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (authenticated, read)
    });
    let (keyring, signers) = authenticated?;
    let mut history = read?;
    history.attach(&signers);
    let keys = keys::audited_keys(&history, &keyring);
    let findings = findings::find(&history, &keys, &keyring, introduction, options);
    Ok(Audit {
        introduction: introduction.clone(),
        end: history.end(),
        commits: history.len(),
        authorized_at_end: history.authorized_at_end(),
        changes: history.changes,
        index: keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.fingerprint.clone(), i))
            .collect(),
        keys,
        findings,
    })
}
