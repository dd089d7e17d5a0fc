//! The pre-merge check: for a proposed merge of HEAD (or several heads,
//! an octopus) into BASE, whether HEAD's new commits are authentic on top
//! of BASE's history, and who may sign the merge commit.
//!
//! A merge commit is authentic when its signing key is listed in the
//! `.guix-authorizations` of *each* of its parents: the keys that may sign
//! it are those every side lists (the default authorizations standing for a
//! side that has no file) that the keyring holds. When there are none, no
//! merge can ever be authentic: one side must first authorize a key the
//! other already lists.
//!
//! A fast-forward (BASE is HEAD's ancestor) makes no merge commit and
//! needs no new signature, nor does a HEAD merged already (BASE's
//! ancestor); a squash or rebase merge made by a forge makes
//! unsigned commits, which are never authentic.

use std::collections::HashSet;
use std::time::SystemTime;

use sequoia_openpgp::policy::StandardPolicy;

use git2::{Oid, Repository};

use crate::authenticate::{authenticate, Options};
use crate::channel::introduction::Introduction;
use crate::git::objects::Objects;
use crate::openpgp::fingerprint::Fingerprint;
use crate::openpgp::keyring::Keyring;
use crate::rule::commit::Rule;
use crate::rule::commit::Stop;
use crate::verdict::error::Error;
use crate::verdict::failure::Failure;
use crate::verdict::report::NoProgress;

/// A key that every side authorizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeSigner {
    /// The fingerprint `.guix-authorizations` lists.
    pub fingerprint: Fingerprint,
    /// Whether the keyring holds a key of exactly this fingerprint (the
    /// rule wants the signing key itself listed): a key it lacks cannot
    /// make a signature Guix accepts.
    pub in_keyring: bool,
    /// Whether the keyring's copy of the key (or its certificate) has
    /// expired, now: Guix's rule ignores expiry, but gpg will not sign
    /// with it until it is extended.
    pub expired: bool,
}

/// What [`check_merge`] found.
#[derive(Debug)]
pub struct MergeCheck {
    /// The branch merged into.
    pub base: Oid,
    /// The commits merged.
    pub heads: Vec<Oid>,
    /// Why BASE or a head is not authentic, each commit once: empty when
    /// both histories are.
    pub failures: Vec<Failure>,
    /// How many commits were checked.
    pub checked: usize,
    /// Whether the merge is a fast-forward: one head, descending from BASE.
    pub fast_forward: bool,
    /// Whether every head is BASE or one of its ancestors: merged already.
    pub already_merged: bool,
    /// The keys every side authorizes, in BASE's order.
    pub signers: Vec<MergeSigner>,
    /// Why no merge commit of these sides can be authentic whoever signs
    /// it (a side removed `.guix-authorizations`, or has a malformed one).
    pub signing_problem: Option<Failure>,
}

/// The outcome, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeVerdict {
    /// BASE or a head is not authentic.
    NotAuthentic,
    /// Every head is merged already: nothing to merge, nothing to sign.
    NothingToMerge,
    /// A fast-forward: nothing to sign.
    FastForward,
    /// A merge commit signed by one of [`MergeCheck::signers`] present in
    /// the keyring will be authentic.
    Signable,
    /// No key can sign an authentic merge commit.
    Unsignable,
}

impl MergeCheck {
    /// The outcome.
    pub fn verdict(&self) -> MergeVerdict {
        if !self.failures.is_empty() {
            MergeVerdict::NotAuthentic
        } else if self.already_merged {
            MergeVerdict::NothingToMerge
        } else if self.fast_forward {
            MergeVerdict::FastForward
        } else if self.signing_problem.is_none() && self.signers.iter().any(|s| s.in_keyring) {
            MergeVerdict::Signable
        } else {
            MergeVerdict::Unsignable
        }
    }

    /// The keys that may sign the merge commit: listed by every side and
    /// in the keyring.
    pub fn usable_signers(&self) -> impl Iterator<Item = &Fingerprint> {
        self.signers
            .iter()
            .filter(|s| s.in_keyring)
            .map(|s| &s.fingerprint)
    }

    /// Whether there are keys that may sign the merge commit, and all of
    /// them have expired: gpg refuses to sign until one is extended.
    pub fn signers_all_expired(&self) -> bool {
        let mut usable = self.signers.iter().filter(|s| s.in_keyring).peekable();
        usable.peek().is_some() && usable.all(|s| s.expired)
    }
}

/// Checks the merge of `heads` into `base`: authenticates BASE, then each
/// head (on top of BASE, through `options.cache` or
/// [`Options::authentic_commits`] when given), with every failure
/// collected, and finds who may sign the merge commit.
///
/// ```no_run
/// use git_authenticate::{check_merge, MergeVerdict};
/// use git_authenticate::{resolve_commit, Introduction, Options};
/// # fn main() -> Result<(), git_authenticate::Error> {
/// let repo = git2::Repository::open(".")?;
/// let intro = Introduction::new(
///     "897c1a470da759236cc11798f4e0a5f7d4d59fbc",
///     "2A39 3FFF 68F4 EF7A 3D29  12AF 6F51 20A0 22FB B2D5",
/// )?;
/// let base = resolve_commit(&repo, "origin/master")?;
/// let head = resolve_commit(&repo, "HEAD")?;
/// let check = check_merge(&repo, &intro, base, &[head], &Options::default())?;
/// if check.verdict() == MergeVerdict::Signable {
///     for key in check.usable_signers() {
///         println!("may sign the merge: {key}");
///     }
/// }
/// # Ok(()) }
/// ```
pub fn check_merge(
    repo: &Repository,
    introduction: &Introduction,
    base: Oid,
    heads: &[Oid],
    options: &Options,
) -> Result<MergeCheck, Error> {
    let options = Options {
        keep_going: true,
        ..options.clone()
    };
    let mut failures = Vec::new();
    let mut reported = HashSet::new();
    let mut checked = 0;
    let mut on_top = options.clone();
    for (index, &end) in std::iter::once(&base).chain(heads).enumerate() {
        let report = match authenticate(repo, introduction, end, &on_top, &NoProgress) {
            Ok(report) => report,
            Err(Error::NotAuthentic(report)) => *report,
            Err(e) => return Err(e),
        };
        checked += report.checked;
        let authentic = report.is_authentic();
        for e in report.failures {
            if reported.insert((e.kind(), e.commit())) {
                failures.push(e);
            }
        }
        // Heads are checked on top of an authentic BASE, even without a
        // cache: their shared history is checked once.
        if index == 0 && authentic {
            on_top.authentic_commits.push(base);
        }
    }
    let fast_forward =
        heads.len() == 1 && (heads[0] == base || repo.graph_descendant_of(heads[0], base)?);
    let already_merged = heads.iter().try_fold(true, |merged, &head| {
        Ok::<_, git2::Error>(merged && (head == base || repo.graph_descendant_of(base, head)?))
    })?;
    let (signers, signing_problem) = who_may_sign(repo, base, heads, &options)?;
    Ok(MergeCheck {
        base,
        heads: heads.to_vec(),
        failures,
        checked,
        fast_forward,
        already_merged,
        signers,
        signing_problem,
    })
}

/// The keys a merge commit of `base` and `heads` may be signed by, as the
/// rule computes the authorized keys of any commit with these parents.
fn who_may_sign(
    repo: &Repository,
    base: Oid,
    heads: &[Oid],
    options: &Options,
) -> Result<(Vec<MergeSigner>, Option<Failure>), Error> {
    let keyring = Keyring::load(repo, &options.keyring_reference)?;
    let rule = Rule::new(&keyring, &options.historical_authorizations, options.policy);
    let objects = Objects::open(repo)?;
    let parents: Vec<Oid> = std::iter::once(base).chain(heads.iter().copied()).collect();
    // The merge commit does not exist yet: the zero id stands for it in
    // the errors, which name the parents that cause them.
    let authorized = match rule.commit_authorized_keys(&objects, Oid::ZERO_SHA1, &parents) {
        Ok(authorized) => authorized,
        Err(Stop::Failure(failure)) => return Ok((Vec::new(), Some(failure))),
        Err(Stop::Error(e)) => return Err(e),
    };
    let signers = authorized
        .fingerprints()
        .iter()
        .map(|fingerprint| MergeSigner {
            in_keyring: in_keyring(&keyring, fingerprint),
            expired: expired(&keyring, fingerprint, SystemTime::now()),
            fingerprint: fingerprint.clone(),
        })
        .collect();
    Ok((signers, None))
}

/// Whether the keyring's key `fingerprint`, or its certificate, has
/// expired at `now` (a key sequoia's standard policy rejects, or that the
/// keyring lacks, is not said to be).
fn expired(keyring: &Keyring, fingerprint: &Fingerprint, now: SystemTime) -> bool {
    let Some(cert) = keyring.certificate(fingerprint) else {
        return false;
    };
    let policy = StandardPolicy::new();
    let Ok(valid) = cert.with_policy(&policy, now) else {
        return false;
    };
    let key = valid
        .keys()
        .find(|k| Fingerprint::from(&k.key().fingerprint()) == *fingerprint);
    key.is_some_and(|key| valid.alive().is_err() || key.alive().is_err())
}

/// Whether the keyring holds a key (primary or subkey) of `fingerprint`.
fn in_keyring(keyring: &Keyring, fingerprint: &Fingerprint) -> bool {
    !keyring.by_fingerprint(fingerprint).is_empty()
}
