//! Authenticating a repository from its introduction up to a commit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use git2::{ObjectType, Oid, Repository};

use crate::authorizations::Authorizations;
use crate::cache::{Cache, CacheWarning};
use crate::commit::CommitObject;
use crate::error::Error;
use crate::fingerprint::Fingerprint;
use crate::introduction::Introduction;
use crate::keyring::{self, Keyring};
use crate::policy::Policy;
use crate::replace::ReplaceObjects;
use crate::rule::Rule;
use crate::walk::{self, Found, Node, Walk};

/// How to authenticate.
#[derive(Debug, Clone)]
pub struct Options {
    /// The keyring branch (default `keyring`).
    pub keyring_reference: String,
    /// Where authenticated commits are remembered; `None` for no cache.
    pub cache: Option<Cache>,
    /// The authorizations of commits whose parents have no
    /// `.guix-authorizations` (default: nobody).
    pub historical_authorizations: Authorizations,
    /// Commits the caller vouches for: they and their ancestors are not
    /// checked.
    pub authentic_commits: Vec<Oid>,
    /// Check every commit and report every failure, instead of stopping at
    /// the first.
    pub keep_going: bool,
    /// Threads checking commits (another walks the history); 0 means one
    /// per available core.
    pub jobs: usize,
    /// Guix's rule (the default), or the stricter policy.
    pub policy: Policy,
    /// Whether to refuse a repository in which git would substitute
    /// objects (replace refs, grafts): [`ReplaceObjects::Refuse`] (the
    /// default), or [`ReplaceObjects::Ignore`] for tooling that never uses
    /// git's own object lookup / checkout. See [`crate::replace`].
    pub replace_objects: ReplaceObjects,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            keyring_reference: keyring::DEFAULT_REFERENCE.to_owned(),
            cache: None,
            historical_authorizations: Authorizations::empty(),
            authentic_commits: Vec::new(),
            keep_going: false,
            jobs: 0,
            policy: Policy::Guix,
            replace_objects: ReplaceObjects::Refuse,
        }
    }
}

impl Options {
    fn threads(&self) -> usize {
        match self.jobs {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

/// Told how authentication goes, e.g. to draw a progress bar. Called from
/// several threads.
pub trait Progress: Sync {
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
    /// Checking is over.
    fn finish(&self) {}
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// The outcome of [`authenticate`].
#[derive(Debug)]
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
    /// With [`Options::keep_going`]: every failure, in the order Guix checks the commits
    /// (oldest first, roughly: see the README, "The rule").
    /// Empty otherwise (the first failure is returned as the error).
    pub failures: Vec<Error>,
    /// Problems with the cache that did not stop authentication.
    pub warnings: Vec<CacheWarning>,
}

impl Report {
    /// Whether END is authentic.
    pub fn is_authentic(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Resolves a revision (full or short id, branch, tag) to a commit,
/// peeling annotated tags.
pub fn resolve_commit(repo: &Repository, spec: &str) -> Result<Oid, Error> {
    let not_a_commit = |reason: String| Error::NotACommit {
        spec: spec.to_owned(),
        reason,
    };
    let object = repo
        .revparse_single(spec)
        .map_err(|e| not_a_commit(e.message().to_owned()))?;
    let peeled = object
        .peel(ObjectType::Commit)
        .map_err(|_| not_a_commit(format!("it names a {}", kind_name(&object, repo))))?;
    Ok(peeled.id())
}

fn kind_name(object: &git2::Object, repo: &Repository) -> String {
    let target = object
        .as_tag()
        .and_then(|t| repo.find_object(t.target_id(), None).ok());
    match (object.kind(), target.and_then(|t| t.kind())) {
        (Some(ObjectType::Tag), Some(kind)) => format!("tag pointing at a {kind}, not a commit"),
        (Some(kind), _) => format!("{kind}, not a commit"),
        (None, _) => "object that is not a commit".into(),
    }
}

/// Authenticates `repo` from `introduction` up to commit `end`.
///
/// Every commit reachable from `end` but not from the introduction or from
/// a commit known to be authentic (cached, or vouched for in `options`) must
/// be signed by a key that `.guix-authorizations` in each of its parents
/// lists. On success, `end` is recorded in the cache.
///
/// Errors: without [`Options::keep_going`], the first failure is the error,
/// in Guix's order: the introduction's signature, then END's descent from
/// the introduction, then the commits in history order. With it,
/// authentication failures are collected in [`Report::failures`], and an
/// error means the repository could not be checked at all (missing keyring,
/// unreadable objects).
pub fn authenticate(
    repo: &Repository,
    introduction: &Introduction,
    end: Oid,
    options: &Options,
    progress: &dyn Progress,
) -> Result<Report, Error> {
    // First: nothing is worth checking if git would show other objects.
    crate::replace::check(repo, options.replace_objects)?;
    // A missing keyring is an error even with nothing to check, as in
    // Guix; its keys are only read when there is work.
    keyring::Keyring::check_exists(repo, &options.keyring_reference)?;
    let known = known_authentic(repo, introduction, options)?;
    let mut report = Report {
        introduction: introduction.clone(),
        end,
        checked: 0,
        signers: Vec::new(),
        failures: Vec::new(),
        warnings: known.warnings.clone(),
    };
    // A known commit that descends from the introduction hides everything
    // the introduction would: hiding the introduction too changes nothing
    // but the cost (libgit2's walk is slow to hide an old commit).
    let mut hidden = known.commits.clone();
    if !known.has_descendant {
        hidden.push(introduction.commit);
    }
    let mut walk = Walk::new(repo, end, &hidden)?;
    let Some(first) = walk.next_commit()? else {
        // END is the introduction, or in the closure of known commits.
        return Ok(report);
    };
    let keyring = Keyring::load(repo, &options.keyring_reference)?;
    let rule = Rule::new(&keyring, &options.historical_authorizations, options.policy);
    let mut failures = Failures::new(options.keep_going);
    if known.commits.is_empty() {
        failures.add(verify_introduction(repo, &rule, introduction).err())?;
    }
    let mut roots = known.commits.clone();
    roots.push(introduction.commit);
    let checker = Checker {
        rule: &rule,
        roots: &roots,
        progress,
    };
    let tally = checker.check_all(repo, &mut walk, first, options.threads(), |commits| {
        progress.start(introduction.commit, end, commits)
    })?;
    progress.finish();
    let checked = settle(&mut walk, tally)?;
    // END descends from a root when a checked commit has one as a parent;
    // the graph is asked only when that is not so (a failure, most often).
    let descends = checked.root_parent_seen || walk::descends_from_any(repo, end, &roots)?;
    if !descends {
        failures.add(Some(Error::NotDescendant {
            end,
            introduction: introduction.commit,
        }))?;
    }
    for failure in checked.failures {
        failures.add(Some(failure))?;
    }
    report.checked = checked.commits;
    report.signers = sorted_counts(checked.signers);
    report.failures = failures.into_vec();
    if report.is_authentic() {
        if let Some(cache) = &options.cache {
            record(
                cache,
                end,
                introduction,
                &known.commits,
                &mut report.warnings,
            );
        }
    }
    Ok(report)
}

/// Authentication failures: the first is the error, or, with
/// `keep_going`, all are collected (each commit reported once: a parent
/// that removed `.guix-authorizations` is found by each of its children).
struct Failures {
    keep_going: bool,
    found: Vec<Error>,
}

impl Failures {
    fn new(keep_going: bool) -> Self {
        Failures {
            keep_going,
            found: Vec::new(),
        }
    }

    fn add(&mut self, failure: Option<Error>) -> Result<(), Error> {
        match failure {
            None => Ok(()),
            Some(e) if self.keep_going && e.is_authentication_failure() => {
                let duplicate = self
                    .found
                    .iter()
                    .any(|f| f.kind() == e.kind() && f.commit() == e.commit());
                if !duplicate {
                    self.found.push(e);
                }
                Ok(())
            }
            Some(e) => Err(e),
        }
    }

    fn into_vec(self) -> Vec<Error> {
        self.found
    }
}

/// Commits known to be authentic: the caller's, and the cached ones.
struct Known {
    commits: Vec<Oid>,
    /// Whether one of them is known to descend from the introduction (the
    /// caller's are taken on trust, so they do not count).
    has_descendant: bool,
    warnings: Vec<CacheWarning>,
}

/// The caller's commits, and the cached ones that are known to descend from
/// this introduction: recorded for it, or checked now. A cache shared with
/// another channel, or forged, must not make foreign history authentic.
fn known_authentic(
    repo: &Repository,
    introduction: &Introduction,
    options: &Options,
) -> Result<Known, Error> {
    let exists = |id: &Oid| repo.find_commit(*id).is_ok();
    let mut commits: Vec<Oid> = options
        .authentic_commits
        .iter()
        .copied()
        .filter(exists)
        .collect();
    let Some(cache) = &options.cache else {
        return Ok(Known {
            commits,
            has_descendant: false,
            warnings: Vec::new(),
        });
    };
    let cached = cache.read_for(introduction.commit);
    let mut warnings = cached.warnings;
    let callers = commits.len();
    commits.extend(cached.trusted.into_iter().filter(exists));
    for id in cached.unverified.into_iter().filter(exists) {
        if walk::descends_from_any(repo, id, &[introduction.commit])? {
            commits.push(id);
        } else {
            warnings.push(CacheWarning {
                path: cache.path().to_owned(),
                message: format!(
                    "cached commit {id} does not descend from introductory commit {}; ignoring it",
                    introduction.commit
                ),
            });
        }
    }
    Ok(Known {
        has_descendant: commits.len() > callers,
        commits,
        warnings,
    })
}

/// Records END; a failure to write the cache only costs later runs time.
fn record(
    cache: &Cache,
    end: Oid,
    introduction: &Introduction,
    known: &[Oid],
    warnings: &mut Vec<CacheWarning>,
) {
    match cache.record(end, introduction.commit, known) {
        Ok(w) => warnings.extend(w),
        Err(e) => warnings.push(CacheWarning {
            path: cache.path().to_owned(),
            message: e.to_string(),
        }),
    }
}

/// The introductory commit must carry a good signature by the introduction's
/// signer; it is not checked against any authorizations.
fn verify_introduction(
    repo: &Repository,
    rule: &Rule,
    introduction: &Introduction,
) -> Result<(), Error> {
    let commit = CommitObject::read(repo, introduction.commit)?;
    // As in Guix, SHA-1 is refused here whatever the commit's tree holds.
    let key = rule.commit_signing_key(&commit, true)?;
    if key.fingerprint() != &introduction.signer {
        return Err(Error::WrongIntroductionSigner {
            commit: introduction.commit,
            expected: introduction.signer.clone(),
            actual: key.fingerprint().clone(),
        });
    }
    Ok(())
}

/// What checking found.
struct Checked {
    /// How many commits were checked.
    commits: usize,
    signers: HashMap<Fingerprint, usize>,
    /// The failures, in the order Guix checks the commits.
    failures: Vec<Error>,
    /// Whether a checked commit has a root (the introduction or a known
    /// commit) as a parent.
    root_parent_seen: bool,
}

/// What one thread found: the commits each key signed, and the failures.
#[derive(Default)]
struct Tally {
    signers: HashMap<Fingerprint, Vec<Node>>,
    failures: Vec<(Node, Error)>,
    root_parent_seen: bool,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        for (signer, nodes) in other.signers {
            self.signers.entry(signer).or_default().extend(nodes);
        }
        self.failures.extend(other.failures);
        self.root_parent_seen |= other.root_parent_seen;
    }
}

/// Commit data sent to the checking threads and not yet taken stays under
/// this many bytes; beyond it, they read the commit again. The walk is
/// faster than checking, so on a long history it would otherwise hold most
/// of it in memory.
const DATA_IN_FLIGHT: usize = 32 << 20;

/// At most this many commits wait for the checking threads (about 200
/// bytes each); then the walk waits. A GNU Guix-sized history fits, so its
/// walk, and the count of commits to check, end early.
const COMMITS_IN_FLIGHT: usize = 1 << 17;

/// Applies the rule to the commits the walk finds.
struct Checker<'a> {
    rule: &'a Rule<'a>,
    roots: &'a [Oid],
    progress: &'a dyn Progress,
}

impl Checker<'_> {
    /// Checks `found`; an authentication failure is tallied, any other
    /// error (an unreadable object) stops everything.
    fn check(&self, repo: &Repository, found: Found, tally: &mut Tally) -> Result<(), Error> {
        let commit = match &found.data {
            Some(data) => CommitObject::parse(found.id, data)?,
            None => CommitObject::read(repo, found.id)?,
        };
        for parent in &found.parents {
            self.rule.learn(repo, parent)?;
        }
        if commit.parents.iter().any(|p| self.roots.contains(p)) {
            tally.root_parent_seen = true;
        }
        match self.rule.authenticate_commit(repo, &commit) {
            Ok(signer) => tally.signers.entry(signer).or_default().push(found.node),
            Err(e) if e.is_authentication_failure() => tally.failures.push((found.node, e)),
            Err(e) => return Err(e),
        }
        self.progress.advance(1);
        Ok(())
    }

    /// Checks every commit the walk finds, from `first` on; `walked` is
    /// told how many there are once the walk is over. The walk runs on this
    /// thread and hands commits over to the checking threads, each with its
    /// own repository handle (a git2 repository cannot be shared between
    /// threads).
    fn check_all(
        &self,
        repo: &Repository,
        walk: &mut Walk,
        first: Found,
        threads: usize,
        walked: impl FnOnce(usize),
    ) -> Result<Tally, Error> {
        let (sender, receiver) = crossbeam_channel::bounded::<Found>(COMMITS_IN_FLIGHT);
        let in_flight = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let path = repo.path();
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    let receiver = receiver.clone();
                    let (in_flight, stop) = (&in_flight, &stop);
                    scope.spawn(move || -> Result<Tally, Error> {
                        let repo = Repository::open(path)?;
                        let mut tally = Tally::default();
                        for found in receiver {
                            let size = found.data.as_ref().map_or(0, Vec::len);
                            in_flight.fetch_sub(size, Ordering::Relaxed);
                            if stop.load(Ordering::Relaxed) {
                                continue;
                            }
                            if let Err(e) = self.check(&repo, found, &mut tally) {
                                stop.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                        Ok(tally)
                    })
                })
                .collect();
            // Only the checking threads receive: when they are all gone,
            // sending fails instead of waiting for room.
            drop(receiver);
            let walking = (|| {
                let mut next = Some(first);
                while let Some(mut found) = next {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    let size = found.data.as_ref().map_or(0, Vec::len);
                    if in_flight.load(Ordering::Relaxed) + size > DATA_IN_FLIGHT {
                        found.data = None;
                    } else {
                        in_flight.fetch_add(size, Ordering::Relaxed);
                    }
                    if sender.send(found).is_err() {
                        return Ok(());
                    }
                    next = walk.next_commit()?;
                }
                walked(walk.commits().count());
                Ok(())
            })();
            drop(sender);
            if walking.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            let mut tally = Tally::default();
            let mut error = walking.err();
            for worker in workers {
                match worker.join().expect("checking threads do not panic") {
                    Ok(found) => tally.merge(found),
                    Err(e) => error = error.or(Some(e)),
                }
            }
            error.map_or(Ok(tally), Err)
        })
    }
}

/// Makes the tally exact and puts failures in Guix's order. The walk may
/// have found commits that hidden history reaches through commits with
/// skewed times: a failure is kept only if the whole hidden history, walked
/// to its roots, does not reach it. Checking them was only wasted work
/// otherwise, and they are not counted.
fn settle(walk: &mut Walk, mut tally: Tally) -> Result<Checked, Error> {
    if !tally.failures.is_empty() {
        let failing: Vec<Node> = tally.failures.iter().map(|(node, _)| *node).collect();
        walk.settle(|walk| failing.iter().all(|&node| walk.is_hidden(node)))?;
        tally.failures.retain(|(node, _)| !walk.is_hidden(*node));
        let positions = walk.guix_positions();
        tally
            .failures
            .sort_by_key(|(node, _)| positions.get(node).copied().unwrap_or(usize::MAX));
    }
    let signers = tally
        .signers
        .into_iter()
        .map(|(signer, nodes)| {
            let count = nodes.iter().filter(|&&n| !walk.is_hidden(n)).count();
            (signer, count)
        })
        .filter(|(_, count)| *count > 0)
        .collect();
    Ok(Checked {
        commits: walk.commits().count(),
        signers,
        failures: tally.failures.into_iter().map(|(_, e)| e).collect(),
        root_parent_seen: tally.root_parent_seen,
    })
}

fn sorted_counts(counts: HashMap<Fingerprint, usize>) -> Vec<(Fingerprint, usize)> {
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by(|(fa, a), (fb, b)| b.cmp(a).then_with(|| fa.cmp(fb)));
    counts
}
