//! Authenticating a repository from its introduction up to a commit.

use std::collections::HashMap;
use std::sync::Mutex;

use git2::{ObjectType, Oid, Repository};
use rayon::prelude::*;

use crate::authorizations::Authorizations;
use crate::cache::{Cache, CacheWarning};
use crate::error::Error;
use crate::fingerprint::Fingerprint;
use crate::introduction::Introduction;
use crate::keyring::{self, Keyring};
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
/// Errors: without [`Options::keep_going`], the first failing commit (in
/// history order) is the error. With it, authentication failures are
/// collected in [`Report::failures`], and an error means the repository
/// could not be checked at all (missing keyring, unreadable objects).
pub fn authenticate(
    repo: &Repository,
    introduction: &Introduction,
    end: Oid,
    options: &Options,
    progress: &dyn Progress,
) -> Result<Report, Error> {
    let keyring = Keyring::load(repo, &options.keyring_reference)?;
    let (known, mut warnings) = known_authentic(repo, introduction, options)?;
    let mut report = Report {
        introduction: introduction.clone(),
        end,
        checked: 0,
        signers: Vec::new(),
        failures: Vec::new(),
        warnings: Vec::new(),
    };
    let commits = walk::commits_to_check(repo, end, introduction.commit, &known)?;
    if commits.is_empty() {
        // END is the introduction, or in the closure of known commits.
        report.warnings = warnings;
        return Ok(report);
    }
    progress.start(introduction.commit, end, commits.len());
    let rule = Rule::new(&keyring, &options.historical_authorizations);
    let mut failures = Vec::new();
    let mut fail = |error: Error| -> Result<(), Error> {
        if options.keep_going && error.is_authentication_failure() {
            failures.push(error);
            Ok(())
        } else {
            Err(error)
        }
    };
    if known.is_empty() {
        if let Err(e) = verify_introduction(repo, &rule, introduction) {
            fail(e)?;
        }
    }
    let mut roots = known.clone();
    roots.push(introduction.commit);
    if !walk::descends_from_any(repo, end, &roots)? {
        fail(Error::NotDescendant {
            end,
            introduction: introduction.commit,
        })?;
    }
    let verdicts = check_commits(repo, &rule, &commits, options, progress)?;
    progress.finish();
    let mut signers: HashMap<Fingerprint, usize> = HashMap::new();
    for verdict in verdicts {
        match verdict {
            Ok(signer) => *signers.entry(signer).or_default() += 1,
            Err(e) => fail(e)?,
        }
    }
    dedup_failures(&mut failures);
    report.checked = commits.len();
    report.signers = sorted_counts(signers);
    report.failures = failures;
    if report.is_authentic() {
        if let Some(cache) = &options.cache {
            match cache.record(end) {
                Ok(w) => warnings.extend(w),
                Err(e) => warnings.push(CacheWarning {
                    path: cache.path().to_owned(),
                    message: e.to_string(),
                }),
            }
        }
    }
    report.warnings = warnings;
    Ok(report)
}

/// Commits known to be authentic: the caller's, and the cached ones that
/// descend from the introduction — a cache shared with another channel, or
/// written by someone else, must not make foreign history authentic.
fn known_authentic(
    repo: &Repository,
    introduction: &Introduction,
    options: &Options,
) -> Result<(Vec<Oid>, Vec<CacheWarning>), Error> {
    let exists = |id: &Oid| repo.find_commit(*id).is_ok();
    let mut known: Vec<Oid> = options
        .authentic_commits
        .iter()
        .copied()
        .filter(exists)
        .collect();
    let Some(cache) = &options.cache else {
        return Ok((known, Vec::new()));
    };
    let (cached, mut warnings) = cache.read();
    for id in cached.into_iter().filter(exists) {
        if walk::descends_from_any(repo, id, &[introduction.commit])? {
            known.push(id);
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
    Ok((known, warnings))
}

/// The introductory commit must carry a good signature by the introduction's
/// signer; it is not checked against any authorizations.
fn verify_introduction(
    repo: &Repository,
    rule: &Rule,
    introduction: &Introduction,
) -> Result<(), Error> {
    // As in Guix, SHA-1 is refused here whatever the commit's tree holds.
    let key = rule.commit_signing_key(repo, introduction.commit, true)?;
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

/// Applies the rule to every commit, in parallel. Verdicts come back in
/// the order of `commits`; without `keep_going`, checking stops after the
/// batch where the first failure appears.
fn check_commits(
    repo: &Repository,
    rule: &Rule,
    commits: &[Oid],
    options: &Options,
    progress: &dyn Progress,
) -> Result<Vec<Verdict>, Error> {
    let threads = options.threads();
    let check_one = |repo: &Repository, id: Oid| {
        let verdict = rule.authenticate_commit(repo, id);
        progress.advance(1);
        verdict
    };
    if threads <= 1 {
        let mut verdicts = Vec::with_capacity(commits.len());
        for &id in commits {
            let verdict = check_one(repo, id);
            let failed = verdict.is_err();
            verdicts.push(verdict);
            if failed && !options.keep_going {
                break;
            }
        }
        return Ok(verdicts);
    }
    // git2 repositories cannot be shared between threads: each worker
    // opens its own, once.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Config {
            what: "starting worker threads".into(),
            reason: e.to_string(),
        })?;
    let repos: Vec<Mutex<Option<Repository>>> = (0..threads).map(|_| Mutex::new(None)).collect();
    let path = repo.path().to_path_buf();
    let in_worker = |id: Oid| -> Verdict {
        let slot = &repos[rayon::current_thread_index().unwrap_or(0) % threads];
        let mut slot = slot.lock().unwrap();
        if slot.is_none() {
            *slot = Some(Repository::open(&path)?);
        }
        check_one(slot.as_ref().expect("opened above"), id)
    };
    let batch = if options.keep_going {
        commits.len()
    } else {
        256 * threads
    };
    let mut verdicts = Vec::with_capacity(commits.len());
    for chunk in commits.chunks(batch.max(1)) {
        let results: Vec<Verdict> =
            pool.install(|| chunk.par_iter().map(|&id| in_worker(id)).collect());
        let failed = results.iter().any(Result::is_err);
        verdicts.extend(results);
        if failed && !options.keep_going {
            break;
        }
    }
    Ok(verdicts)
}

/// A parent that removed `.guix-authorizations` is found by each of its
/// children: report it once.
fn dedup_failures(failures: &mut Vec<Error>) {
    let mut seen = std::collections::HashSet::new();
    failures.retain(|e| seen.insert((e.kind(), e.commit())));
}

fn sorted_counts(counts: HashMap<Fingerprint, usize>) -> Vec<(Fingerprint, usize)> {
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by(|(fa, a), (fb, b)| b.cmp(a).then_with(|| fa.cmp(fb)));
    counts
}
