//! Authenticating a repository from its introduction up to a commit: the
//! history-wide rule, RULE.md steps 8–13, in the order of Guix's
//! `authenticate-repository`.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use git2::{Oid, Repository};

use crate::cache::{Cache, CacheProblem, CacheWarning, Conditions};
use crate::channel::authorizations::Authorizations;
use crate::channel::introduction::Introduction;
use crate::git::commit::CommitObject;
use crate::git::objects::{Kind, ObjectRole, Objects};
use crate::git::replace::ReplaceObjects;
use crate::openpgp::fingerprint::Fingerprint;
use crate::openpgp::keyring::{self, Keyring};
use crate::openpgp::policy::Policy;
use crate::rule::commit::{Rule, Sha1, Stop};
use crate::rule::interrupt::Interrupt;
use crate::rule::pipeline::Pipeline;
use crate::rule::settle::{conclude, Failures};
use crate::rule::tally::{CheckCommits, Tally};
use crate::rule::walk::{self, Found, Walk};
use crate::verdict::error::Error;
use crate::verdict::failure::Failure;
use crate::verdict::report::{Phase, Progress, Report};

/// How to authenticate.
#[derive(Debug, Clone)]
pub struct Options {
    /// The keyring branch (default `keyring`).
    pub keyring_reference: String,
    /// Load the keyring from this commit rather than from the keyring
    /// branch's tip ([`Keyring::load_at`]): what the branch will hold once
    /// a push being checked lands.
    pub keyring_commit: Option<Oid>,
    /// A keyring the caller loaded (or built with [`Keyring::from_files`]),
    /// used instead of the keyring branch.
    pub keyring: Option<Arc<Keyring>>,
    /// Where authenticated commits are remembered; `None` for no cache.
    pub cache: Option<Cache>,
    /// The authorizations of commits whose parents have no
    /// `.guix-authorizations` (default: nobody).
    pub historical_authorizations: Authorizations,
    /// Commits the caller vouches for: they and their ancestors are not
    /// checked. A pull tool passes the commit it currently uses, as Guix's
    /// `authenticate-channel` does.
    pub authentic_commits: Vec<Oid>,
    /// Commits the caller knows to be authentic *and* to descend from the
    /// introduction, such as those a server's own cache holds (they were
    /// authenticated from it): like [`Options::authentic_commits`], and,
    /// as the descendants a cache vouches for do, they spare the walk the
    /// introduction's old history.
    pub known_descendants: Vec<Oid>,
    /// Check every commit and report every failure, instead of the first.
    pub keep_going: bool,
    /// Threads checking commits (another walks the history); 0 means one
    /// per available core.
    pub jobs: usize,
    /// Guix's rule (the default), or the stricter policy.
    pub policy: Policy,
    /// Whether to refuse a repository in which git would substitute
    /// objects (replace refs, grafts): [`ReplaceObjects::Refuse`] (the
    /// default), or [`ReplaceObjects::Ignore`] for tooling that never uses
    /// git's own object lookup / checkout. See [`crate::Substitutions`].
    pub replace_objects: ReplaceObjects,
    /// Set by the caller (from another thread, or a signal handler) to stop
    /// the run: it then fails with [`Error::Interrupted`] within
    /// milliseconds, and nothing is recorded in the cache.
    pub interrupt: Option<Arc<AtomicBool>>,
    /// How the checking threads open the repository.
    pub opener: Opener,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            keyring_reference: keyring::DEFAULT_REFERENCE.to_owned(),
            keyring_commit: None,
            keyring: None,
            cache: None,
            historical_authorizations: Authorizations::empty(),
            authentic_commits: Vec::new(),
            known_descendants: Vec::new(),
            keep_going: false,
            jobs: 0,
            policy: Policy::Guix,
            replace_objects: ReplaceObjects::Refuse,
            interrupt: None,
            opener: Opener::Reopen,
        }
    }
}

/// How each checking thread gets its own handle on the repository (a git2
/// repository cannot be shared between threads).
#[derive(Clone, Default)]
pub enum Opener {
    /// Open the caller's repository again at its path. The object
    /// directories git's environment names (`GIT_OBJECT_DIRECTORY`,
    /// `GIT_ALTERNATE_OBJECT_DIRECTORIES`, as in a pre-receive hook's
    /// quarantine) and the repository's alternates are seen, as by the
    /// caller's handle opened with `Repository::open_from_env`.
    #[default]
    Reopen,
    /// Open it with the caller's function: for a handle that sees objects
    /// some other way (alternates added in code, another object database).
    With(Arc<dyn Fn() -> Result<Repository, git2::Error> + Send + Sync>),
}

impl Opener {
    /// Another handle on the repository whose git directory is `path`.
    pub(crate) fn open(&self, path: &std::path::Path) -> Result<Repository, Error> {
        match self {
            Opener::Reopen => Ok(crate::git::open::reopen(path)?),
            Opener::With(open) => Ok(open()?),
        }
    }
}

impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Opener::Reopen => f.write_str("Reopen"),
            Opener::With(_) => f.write_str("With(..)"),
        }
    }
}

/// The most checking threads started, whatever [`Options::jobs`] asks:
/// beyond the machine's cores they only cost memory.
const MAX_JOBS: usize = 1024;

impl Options {
    /// The most checking threads started, whatever [`Options::jobs`] asks:
    /// beyond the machine's cores they only cost memory.
    pub const MAX_JOBS: usize = MAX_JOBS;
}

/// Authenticates `repo` from `introduction` up to commit `end`.
///
/// Every commit reachable from `end` but not from the introduction or from
/// a commit known to be authentic (cached, or vouched for in `options`) must
/// be signed by a key that `.guix-authorizations` in each of its parents
/// lists. On success, `end` is recorded in the cache.
///
/// The steps are those of Guix's `authenticate-repository` (RULE.md
/// steps 8–13), each under the Scheme it implements, in Guix's order but
/// one: END's descent (RULE.md step 11) is checked after the commits
/// (RULE.md step 12), whose parents answer it without a walk of the graph
/// in the usual case. The failures are reported in Guix's order all the
/// same.
///
/// Errors: [`Error::NotAuthentic`] when the history is not authentic, with
/// the [`Report`] (what was checked, and the failure, or every failure with
/// [`Options::keep_going`]); any other error means the repository could not
/// be checked (a missing keyring, unreadable objects, an interruption).
pub fn authenticate(
    repo: &Repository,
    introduction: &Introduction,
    end: Oid,
    options: &Options,
    progress: &dyn Progress,
) -> Result<Report, Error> {
    let interrupt = Interrupt::new(options.interrupt.as_deref());
    // Nothing is worth checking if git would show other objects.
    crate::git::replace::check(repo, options.replace_objects)?;
    // (define keyring (load-keyring-from-reference …))
    let keyring = load_keyring(repo, options, progress)?;
    // (define authenticated-commits …): the cache's and the caller's.
    let known = known_authentic(repo, introduction, options, interrupt, progress)?;
    let mut report = Report::empty(introduction, end, known.warnings.clone());
    // (define commits (commit-difference end-commit start-commit …))
    let mut commits = commits_to_check(repo, end, &known, interrupt)?;
    // (if (null? commits) '() …)
    let Some(first) = commits.next_commit()? else {
        return Ok(report);
    };
    let rule = Rule::new(&keyring, &options.historical_authorizations, options.policy);
    let mut failures = Failures::default();
    // (when (null? authenticated-commits) (verify-introductory-commit …))
    if known.commits.is_empty() {
        failures.introduction = verify_introduction(repo, &rule, introduction)?;
    }
    // (authenticate-commits …), then (commit-descendant? end-commit …):
    // Guix asks for END's descent first, but the commits checked answer it
    // without a walk of the graph in the usual case; the failures are
    // reported in Guix's order all the same (`rule::settle`).
    let roots = known.roots(introduction);
    let check = CheckCommits::new(&rule, &roots, progress);
    let tally = check_commits(repo, &mut commits, first, &check, options, introduction)?;
    failures.descent = check_descent(repo, end, introduction, &roots, &tally, interrupt)?;
    progress.phase(Phase::Settling);
    let (hidden, keep_going) = (&known.hidden, options.keep_going);
    conclude(
        repo,
        &mut commits,
        hidden,
        tally,
        failures,
        keep_going,
        &mut report,
    )?;
    if !report.is_authentic() {
        return Err(Error::NotAuthentic(Box::new(report)));
    }
    // (cache-authenticated-commit cache-key …), when `commits` was not
    // empty after all: settling may find that the walk took in only what
    // hidden history reaches (clock skew), and then nothing was checked.
    if report.checked > 0 {
        record_in_cache(options, introduction, &known, &mut report);
    }
    Ok(report)
}

/// Authenticates one commit, as Guix's `authenticate-commit`: signed by a
/// key of `keyring` that every parent's `.guix-authorizations` lists (or
/// [`Options::historical_authorizations`] for a parent without one), under
/// [`Options::policy`]. Returns its signer.
///
/// The verdict follows [`authenticate`]'s convention: a commit that is not
/// authentic is an error, [`Error::CommitNotAuthentic`], carrying the
/// [`Failure`] ([`Error::failure`]); any other error means it could not be
/// checked.
///
/// ```no_run
/// # fn main() -> Result<(), git_authenticate::Error> {
/// use git_authenticate::{authenticate_commit, Error, Keyring, Options};
/// let repo = git2::Repository::open(".")?;
/// let keyring = Keyring::load(&repo, "keyring")?;
/// let commit = repo.head()?.peel_to_commit()?.id();
/// match authenticate_commit(&repo, commit, &keyring, &Options::default()) {
///     Ok(signer) => println!("signed by {signer}"),
///     Err(Error::CommitNotAuthentic(failure)) => println!("not authentic: {failure}"),
///     Err(error) => return Err(error),
/// }
/// # Ok(()) }
/// ```
pub fn authenticate_commit(
    repo: &Repository,
    commit: Oid,
    keyring: &Keyring,
    options: &Options,
) -> Result<Fingerprint, Error> {
    let objects = Objects::open(repo)?;
    let rule = Rule::new(keyring, &options.historical_authorizations, options.policy);
    let commit = CommitObject::read_from(&objects, commit)?;
    rule.authenticate_commit(&objects, &commit)
        .map_err(|stop| match stop {
            Stop::Failure(failure) => Error::CommitNotAuthentic(Box::new(failure)),
            Stop::Error(e) => e,
        })
}

/// The caller's keyring, or the keyring branch (at its tip, or at the
/// commit the caller names).
pub(crate) fn load_keyring(
    repo: &Repository,
    options: &Options,
    progress: &dyn Progress,
) -> Result<Arc<Keyring>, Error> {
    progress.phase(Phase::LoadingKeyring);
    if let Some(keyring) = &options.keyring {
        return Ok(keyring.clone());
    }
    let reference = &options.keyring_reference;
    Ok(Arc::new(match options.keyring_commit {
        Some(commit) => Keyring::load_at(repo, reference, commit)?,
        None => Keyring::load(repo, reference)?,
    }))
}

/// Commits known to be authentic: the caller's, and the cached ones.
struct Known {
    commits: Vec<Oid>,
    /// Where the walk stops: the known commits, and the introduction
    /// unless one of them is known to descend from it (the caller's are
    /// taken on trust, so they do not count). Hiding the introduction too
    /// would change nothing but the cost: the walk is slow to hide an old
    /// commit.
    hidden: Vec<Oid>,
    /// How many of `commits`, first, are the caller's
    /// [`Options::authentic_commits`]: taken on trust, they are not known
    /// to descend from the introduction.
    callers: usize,
    warnings: Vec<CacheWarning>,
}

impl Known {
    /// The known commits shown (or, by the caller, said) to descend from
    /// the introduction.
    fn descendants(&self) -> &[Oid] {
        &self.commits[self.callers..]
    }

    /// The commits END must descend from: the introduction or a known one.
    fn roots(&self, introduction: &Introduction) -> Vec<Oid> {
        let mut roots = self.commits.clone();
        roots.push(introduction.commit);
        roots
    }
}

/// The caller's commits, and the cached ones that are known to descend from
/// this introduction: recorded for it, or checked now. A cache shared with
/// another channel, or forged, must not make foreign history authentic.
fn known_authentic(
    repo: &Repository,
    introduction: &Introduction,
    options: &Options,
    interrupt: Interrupt,
    progress: &dyn Progress,
) -> Result<Known, Error> {
    progress.phase(Phase::FindingKnownCommits);
    let objects = Objects::open(repo)?;
    let present = |ids: &[Oid]| present_commits(&objects, ids);
    let mut commits = present(&options.authentic_commits)?;
    let callers = commits.len();
    commits.extend(present(&options.known_descendants)?);
    let mut warnings = Vec::new();
    if let Some(cache) = &options.cache {
        let cached = cache.read_for(introduction.commit, &conditions(options));
        warnings = cached.warnings;
        commits.extend(present(&cached.trusted)?);
        for id in present(&cached.unverified)? {
            if walk::descends_from_any(repo, id, &[introduction.commit], interrupt)? {
                commits.push(id);
            } else {
                warnings.push(cache.warning(CacheProblem::NotDescendant {
                    commit: id,
                    introduction: introduction.commit,
                }));
            }
        }
    }
    let mut hidden = commits.clone();
    if commits.len() == callers {
        hidden.push(introduction.commit);
    }
    Ok(Known {
        commits,
        hidden,
        callers,
        warnings,
    })
}

/// What the run authenticates under, for the cache.
fn conditions(options: &Options) -> Conditions {
    Conditions::new(options.policy, &options.historical_authorizations)
}

/// As in Guix, a known commit the repository lacks is ignored; one that
/// cannot be read is an error.
fn present_commits(objects: &Objects, ids: &[Oid]) -> Result<Vec<Oid>, Error> {
    let mut kept = Vec::new();
    for &id in ids {
        match objects.read(id, Kind::Commit) {
            Ok(_) => kept.push(id),
            Err(e) if e.is_missing() => {}
            Err(e) => return Err(e.as_role(ObjectRole::Commit).into()),
        }
    }
    Ok(kept)
}

/// Guix's `commit-difference`: the commits reachable from END, but not
/// from the introduction or a known commit, found newest first (RULE.md
/// step 9).
fn commits_to_check<'r>(
    repo: &'r Repository,
    end: Oid,
    known: &Known,
    interrupt: Interrupt<'r>,
) -> Result<Walk<'r>, Error> {
    Walk::new(repo, end, &known.hidden, interrupt)
}

/// The introductory commit must carry a good signature by the introduction's
/// signer; it is not checked against any authorizations (RULE.md step 10).
fn verify_introduction(
    repo: &Repository,
    rule: &Rule,
    introduction: &Introduction,
) -> Result<Option<Failure>, Error> {
    let commit = CommitObject::read(repo, introduction.commit)?;
    // As in Guix, SHA-1 is refused here whatever the commit's tree holds.
    let key = match rule.commit_signing_key(&commit, Sha1::Refused) {
        Ok(key) => key,
        Err(Stop::Failure(failure)) => return Ok(Some(failure.at_introduction())),
        Err(Stop::Error(e)) => return Err(e),
    };
    Ok(
        (key.fingerprint() != &introduction.signer).then(|| Failure::WrongIntroductionSigner {
            commit: introduction.commit,
            expected: introduction.signer.clone(),
            actual: key.fingerprint().clone(),
        }),
    )
}

/// Applies the rule to every commit the walk finds, on the pipeline's
/// threads.
fn check_commits(
    repo: &Repository,
    commits: &mut Walk,
    first: Found,
    check: &CheckCommits,
    options: &Options,
    introduction: &Introduction,
) -> Result<Tally, Error> {
    let progress = check.progress;
    progress.phase(Phase::Walking);
    let (path, opener) = (repo.path().to_owned(), &options.opener);
    let open = move || opener.open(&path);
    let pipeline = Pipeline {
        threads: threads(options.jobs),
        open: &open,
        interrupt: Interrupt::new(options.interrupt.as_deref()),
    };
    let end = commits.id(commits.end());
    let walked = |count| {
        progress.phase(Phase::Checking);
        // Under clock skew, all the walk found may be hidden history: then
        // nothing is to be checked, and nothing is announced, as in Guix.
        if count > 0 {
            progress.start(introduction.commit, end, count);
        }
    };
    let tally = pipeline.run(commits, first, check, |count| progress.found(count), walked)?;
    progress.finish();
    Ok(tally)
}

fn threads(jobs: usize) -> usize {
    let cores = || std::thread::available_parallelism().map_or(1, |n| n.get());
    match jobs {
        0 => cores(),
        n => n,
    }
    .min(MAX_JOBS)
}

/// END must descend from the introduction or a known commit (RULE.md
/// step 11). It does when a checked commit has one of them as a parent;
/// the graph is asked only when that is not so (a failure, most often).
fn check_descent(
    repo: &Repository,
    end: Oid,
    introduction: &Introduction,
    roots: &[Oid],
    tally: &Tally,
    interrupt: Interrupt,
) -> Result<Option<Failure>, Error> {
    let descends = tally.root_parent_seen || walk::descends_from_any(repo, end, roots, interrupt)?;
    Ok((!descends).then_some(Failure::NotDescendant {
        end,
        introduction: introduction.commit,
    }))
}

/// Records END (RULE.md step 13); a failure to write the cache only costs
/// later runs time.
fn record_in_cache(
    options: &Options,
    introduction: &Introduction,
    known: &Known,
    report: &mut Report,
) {
    let Some(cache) = &options.cache else { return };
    let conditions = conditions(options);
    let recorded = cache.record(
        report.end,
        introduction.commit,
        &conditions,
        known.descendants(),
    );
    for warning in recorded {
        // Reading again under the lock finds what the first read found.
        if !report.warnings.contains(&warning) {
            report.warnings.push(warning);
        }
    }
}
