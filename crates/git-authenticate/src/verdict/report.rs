//! What a run tells its caller: as it goes ([`Progress`]), and at its end
//! ([`Report`]), whether the history is authentic or not.

use git2::Oid;

use crate::cache::CacheWarning;
use crate::channel::introduction::Introduction;
use crate::openpgp::fingerprint::Fingerprint;
use crate::verdict::failure::Failure;

/// The outcome of [`authenticate`](crate::authenticate): returned when END
/// is authentic, and carried by
/// [`Error::NotAuthentic`](crate::Error::NotAuthentic) when it is not.
#[derive(Debug, Clone)]
pub struct Report {
    /// Where trust started.
    pub introduction: Introduction,
    /// The commit that was authenticated.
    pub end: Oid,
    /// How many commits were checked in this run (0 when END was already
    /// known to be authentic).
    pub checked: usize,
    /// Commits checked per signing key, largest count first.
    pub signers: Vec<(Fingerprint, usize)>,
    /// Why END is not authentic, in the order Guix meets the failures (the
    /// introduction, END's descent, then the commits newest first: see
    /// RULE.md step 12): all of them with
    /// [`Options::keep_going`](crate::Options::keep_going), else the first.
    /// Empty when END is authentic.
    pub failures: Vec<Failure>,
    /// Problems with the cache that did not stop authentication.
    pub warnings: Vec<CacheWarning>,
}

impl Report {
    /// Whether END is authentic.
    pub fn is_authentic(&self) -> bool {
        self.failures.is_empty()
    }

    /// Nothing checked yet, from `introduction` to `end`.
    pub(crate) fn empty(
        introduction: &Introduction,
        end: Oid,
        warnings: Vec<CacheWarning>,
    ) -> Self {
        Report {
            introduction: introduction.clone(),
            end,
            checked: 0,
            signers: Vec::new(),
            failures: Vec::new(),
            warnings,
        }
    }
}

/// What a run is doing, for [`Progress::phase`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Loading the keyring branch.
    LoadingKeyring,
    /// Finding the commits known to be authentic (the caller's and the
    /// cache's).
    FindingKnownCommits,
    /// Walking the history from END; checking starts as soon as the walk
    /// finds the first commit, and [`Progress::found`] counts them.
    Walking,
    /// The walk is over; the remaining commits are being checked.
    Checking,
    /// Telling exactly which failing commits hidden history reaches.
    Settling,
}

/// Told how authentication goes, e.g. to draw a progress bar or to list
/// each commit as it is checked. Called from several threads.
pub trait Progress: Sync {
    /// The run entered `phase`.
    fn phase(&self, phase: Phase) {
        let _ = phase;
    }
    /// The walk has found `commits` commits to check so far.
    fn found(&self, commits: usize) {
        let _ = commits;
    }
    /// The walk is over: `commits` commits from `introduction` to `end`
    /// need checking. Checking starts as soon as the walk finds the first,
    /// so [`Progress::advance`] may have been called already. Not called
    /// when there is nothing to check.
    fn start(&self, introduction: Oid, end: Oid, commits: usize) {
        let _ = (introduction, end, commits);
    }
    /// `commits` more commits were checked.
    fn advance(&self, commits: usize) {
        let _ = commits;
    }
    /// The observer: `commit` was checked, and was signed by an authorized
    /// key (`Ok`, its fingerprint) or not (`Err`). A commit that hidden
    /// history turns out to reach (through commits with skewed dates) may
    /// be told here although it does not count in the [`Report`].
    fn checked(&self, commit: Oid, outcome: Result<&Fingerprint, &Failure>) {
        let _ = (commit, outcome);
    }
    /// Checking is over.
    fn finish(&self) {}
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
