//! Authenticating a repository from its introduction up to a commit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use git2::{ObjectType, Oid, Repository};
use rayon::prelude::*;

use crate::authorizations::Authorizations;
use crate::cache::{Cache, CacheWarning};
use crate::commit::CommitObject;
use crate::error::Error;
use crate::fingerprint::Fingerprint;
use crate::introduction::Introduction;
use crate::keyring::{self, Keyring};
use crate::policy::Policy;
use crate::rule::Rule;
use crate::walk;

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
    /// Threads checking signatures; 0 means one per available core.
    pub jobs: usize,
    /// Guix's rule (the default), or the stricter policy.
    pub policy: Policy,
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
    /// Work is about to start: `commits` commits from `introduction` to
    /// `end` need checking. Not called when there is nothing to check.
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
    /// With [`Options::keep_going`]: every failure, oldest commit first.
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
    let commits = walk::commits_to_check(repo, end, &hidden)?;
    if commits.is_empty() {
        // END is the introduction, or in the closure of known commits.
        return Ok(report);
    }
    progress.start(introduction.commit, end, commits.len());
    let keyring = Keyring::load(repo, &options.keyring_reference)?;
    let rule = Rule::new(&keyring, &options.historical_authorizations, options.policy);
    let mut failures = Failures::new(options.keep_going);
    if known.commits.is_empty() {
        failures.add(verify_introduction(repo, &rule, introduction).err())?;
    }
    let mut roots = known.commits.clone();
    roots.push(introduction.commit);
    let checked = check_commits(repo, &rule, &commits, &roots, options, progress)?;
    progress.finish();
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
    report.checked = commits.len();
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

type Verdict = Result<Fingerprint, Error>;

/// What checking found: commits per signer, the failures in history order
/// (without `keep_going`, those of the batch where the first appeared), and
/// whether a checked commit has a root (the introduction or a known commit)
/// as a parent.
struct Checked {
    signers: HashMap<Fingerprint, usize>,
    failures: Vec<Error>,
    root_parent_seen: bool,
}

/// Applies the rule to every commit, in parallel, batch by batch so that
/// only counts and failures are kept. Without `keep_going`, checking stops
/// after the batch where the first failure appears.
fn check_commits(
    repo: &Repository,
    rule: &Rule,
    commits: &[Oid],
    roots: &[Oid],
    options: &Options,
    progress: &dyn Progress,
) -> Result<Checked, Error> {
    let root_parent_seen = AtomicBool::new(false);
    let check_one = |repo: &Repository, id: Oid| -> Verdict {
        let commit = CommitObject::read(repo, id)?;
        if commit.parents.iter().any(|p| roots.contains(p)) {
            root_parent_seen.store(true, Ordering::Relaxed);
        }
        let verdict = rule.authenticate_commit(repo, &commit);
        progress.advance(1);
        verdict
    };
    let threads = options.threads();
    let workers = Workers::new(repo, threads)?;
    let mut signers: HashMap<Fingerprint, usize> = HashMap::new();
    let mut failures = Vec::new();
    for chunk in commits.chunks(1024 * threads) {
        for verdict in workers.map(chunk, &check_one, options.keep_going) {
            match verdict {
                Ok(signer) => *signers.entry(signer).or_default() += 1,
                Err(e) => failures.push(e),
            }
        }
        if !failures.is_empty() && !options.keep_going {
            break;
        }
    }
    Ok(Checked {
        signers,
        failures,
        root_parent_seen: root_parent_seen.into_inner(),
    })
}

/// Threads that each hold their own repository handle: git2 repositories
/// cannot be shared between threads.
enum Workers<'r> {
    Here(&'r Repository),
    Pool {
        pool: rayon::ThreadPool,
        repos: Vec<Mutex<Option<Repository>>>,
        path: std::path::PathBuf,
    },
}

impl<'r> Workers<'r> {
    fn new(repo: &'r Repository, threads: usize) -> Result<Self, Error> {
        if threads <= 1 {
            return Ok(Workers::Here(repo));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| Error::Config {
                what: "starting worker threads".into(),
                reason: e.to_string(),
            })?;
        Ok(Workers::Pool {
            pool,
            repos: (0..threads).map(|_| Mutex::new(None)).collect(),
            path: repo.path().to_path_buf(),
        })
    }

    /// `f` on each commit, results in order; on one thread, stops at the
    /// first failure unless `keep_going`.
    fn map<F>(&self, ids: &[Oid], f: &F, keep_going: bool) -> Vec<Verdict>
    where
        F: Fn(&Repository, Oid) -> Verdict + Sync,
    {
        match self {
            Workers::Here(repo) => {
                let mut verdicts = Vec::with_capacity(ids.len());
                for &id in ids {
                    let verdict = f(repo, id);
                    let failed = verdict.is_err();
                    verdicts.push(verdict);
                    if failed && !keep_going {
                        break;
                    }
                }
                verdicts
            }
            Workers::Pool { pool, repos, path } => pool.install(|| {
                ids.par_iter()
                    .map(|&id| {
                        let slot = &repos[rayon::current_thread_index().unwrap_or(0) % repos.len()];
                        let mut slot = slot.lock().unwrap();
                        if slot.is_none() {
                            *slot = Some(Repository::open(path)?);
                        }
                        f(slot.as_ref().expect("opened above"), id)
                    })
                    .collect()
            }),
        }
    }
}

fn sorted_counts(counts: HashMap<Fingerprint, usize>) -> Vec<(Fingerprint, usize)> {
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by(|(fa, a), (fb, b)| b.cmp(a).then_with(|| fa.cmp(fb)));
    counts
}
