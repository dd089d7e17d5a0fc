//! Authenticating a repository from its introduction up to a commit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use git2::{Oid, Repository};

use crate::authorizations::Authorizations;
use crate::cache::{Cache, CacheProblem, CacheWarning};
use crate::commit::CommitObject;
use crate::error::Error;
use crate::fingerprint::Fingerprint;
use crate::introduction::Introduction;
use crate::keyring::{self, Keyring};
use crate::objects::ObjectRole;
use crate::objects::{Kind, ObjectError, ObjectProblem, Objects};
use crate::policy::Policy;
use crate::replace::ReplaceObjects;
use crate::rule::Rule;
use crate::walk::{self, Found, Node, Walk};

/// How to authenticate.
#[derive(Debug, Clone)]
pub struct Options {
    /// The keyring branch (default `keyring`).
    pub keyring_reference: String,
    /// Load the keyring from this commit rather than from the keyring
    /// branch's tip ([`Keyring::load_at`]): what the branch will hold once
    /// a push being checked lands.
    pub keyring_commit: Option<Oid>,
    /// Where authenticated commits are remembered; `None` for no cache.
    pub cache: Option<Cache>,
    /// The authorizations of commits whose parents have no
    /// `.guix-authorizations` (default: nobody).
    pub historical_authorizations: Authorizations,
    /// Commits the caller vouches for: they and their ancestors are not
    /// checked.
    pub authentic_commits: Vec<Oid>,
    /// Commits the caller knows to be authentic *and* to descend from the
    /// introduction, such as those a server's own cache holds (they were
    /// authenticated from it): like [`Options::authentic_commits`], and,
    /// as the descendants a cache vouches for do, they spare the walk the
    /// introduction's old history.
    pub known_descendants: Vec<Oid>,
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
    /// git's own object lookup / checkout. See [`crate::Substitutions`].
    pub replace_objects: ReplaceObjects,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            keyring_reference: keyring::DEFAULT_REFERENCE.to_owned(),
            keyring_commit: None,
            cache: None,
            historical_authorizations: Authorizations::empty(),
            authentic_commits: Vec::new(),
            known_descendants: Vec::new(),
            keep_going: false,
            jobs: 0,
            policy: Policy::Guix,
            replace_objects: ReplaceObjects::Refuse,
        }
    }
}

/// The most checking threads started, whatever [`Options::jobs`] asks:
/// beyond the machine's cores they only cost memory.
pub const MAX_JOBS: usize = 1024;

impl Options {
    /// The most checking threads started, whatever [`Options::jobs`] asks.
    pub const MAX_JOBS: usize = MAX_JOBS;

    fn threads(&self) -> usize {
        let cores = || std::thread::available_parallelism().map_or(1, |n| n.get());
        match self.jobs {
            0 => cores(),
            n => n,
        }
        .min(MAX_JOBS)
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
    /// With [`Options::keep_going`]: every failure, in the order Guix meets
    /// them (the introduction, END's descent, then the commits newest
    /// first: see the README, "The rule").
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

/// Resolves a revision (full or short id, branch, tag, or any of git's
/// revision expressions) to a commit, peeling annotated tags.
///
/// Ids and reference names are resolved without reading any object, and
/// tags are peeled by reading them verified, so that a damaged or forged
/// object is reported rather than followed.
pub fn resolve_commit(repo: &Repository, spec: &str) -> Result<Oid, Error> {
    let not_a_commit = |reason: String| Error::NotACommit {
        spec: spec.to_owned(),
        reason,
    };
    let id = match named_object(repo, spec) {
        Some(id) => id,
        None => repo
            .revparse_single(spec)
            .map_err(|e| not_a_commit(e.message().to_owned()))?
            .id(),
    };
    peel_to_commit(repo, id).map_err(|e| match e {
        Peeled::NotACommit(reason) => not_a_commit(reason),
        Peeled::Error(e) => e,
    })
}

/// The object a full id, an unambiguous short id or a reference name
/// (`master`, `origin/keyring`, `v1.0`, `HEAD`) names.
fn named_object(repo: &Repository, spec: &str) -> Option<Oid> {
    let hex = !spec.is_empty() && spec.len() <= 40 && spec.bytes().all(|b| b.is_ascii_hexdigit());
    if hex && spec.len() == 40 {
        return Oid::from_str(spec).ok();
    }
    if let Ok(reference) = repo.resolve_reference_from_short_name(spec) {
        return reference.resolve().ok()?.target();
    }
    if hex && spec.len() >= 4 {
        let short = Oid::from_str(spec).ok()?;
        return repo.odb().ok()?.exists_prefix(short, spec.len()).ok();
    }
    None
}

enum Peeled {
    NotACommit(String),
    Error(Error),
}

/// How many annotated tags may point at each other before a commit.
const MAX_TAG_CHAIN: usize = 32;

fn peel_to_commit(repo: &Repository, mut id: Oid) -> Result<Oid, Peeled> {
    let objects = Objects::open(repo).map_err(|e| Peeled::Error(e.into()))?;
    let mut tagged = false;
    for _ in 0..MAX_TAG_CHAIN {
        let (role, kind) = match tagged {
            true => (ObjectRole::Tag, Kind::Tag),
            false => (ObjectRole::Commit, Kind::Commit),
        };
        let unreadable = |problem| {
            Peeled::Error(Error::object(
                role.clone(),
                ObjectError { id, kind, problem },
            ))
        };
        let (kind, data) = objects
            .read_any(id, crate::objects::limit(Kind::Commit))
            .map_err(unreadable)?;
        match kind {
            Kind::Commit => return Ok(id),
            Kind::Tag => {
                tagged = true;
                id = tag_target(&data).ok_or_else(|| {
                    unreadable(ObjectProblem::Damaged("its header is malformed".into()))
                })?;
            }
            other if tagged => {
                return Err(Peeled::NotACommit(format!(
                    "it names a tag pointing at a {other}, not a commit"
                )))
            }
            other => {
                return Err(Peeled::NotACommit(format!(
                    "it names a {other}, not a commit"
                )))
            }
        }
    }
    Err(Peeled::NotACommit(format!(
        "it names a chain of more than {MAX_TAG_CHAIN} tags"
    )))
}

/// The `object` line of an annotated tag.
fn tag_target(data: &[u8]) -> Option<Oid> {
    let line = data.split(|&b| b == b'\n').next()?;
    let hex = std::str::from_utf8(line.strip_prefix(b"object ")?).ok()?;
    (hex.len() == 40).then(|| Oid::from_str(hex).ok())?
}

/// Authenticates `repo` from `introduction` up to commit `end`.
///
/// Every commit reachable from `end` but not from the introduction or from
/// a commit known to be authentic (cached, or vouched for in `options`) must
/// be signed by a key that `.guix-authorizations` in each of its parents
/// lists. On success, `end` is recorded in the cache.
///
/// The steps are Guix's, in Guix's order: load the keyring; collect the
/// commits known to be authentic; find the commits to check (none: success);
/// verify the introduction's signature when nothing is known yet; check
/// that END descends from the introduction or a known commit; check the
/// commits, newest first as Guix's `commit-difference` lists them.
///
/// Errors: without [`Options::keep_going`], the first failure in that order
/// is the error. With it, authentication failures are collected in
/// [`Report::failures`], in that order, and an error means the repository
/// could not be checked at all (missing keyring, unreadable objects).
pub fn authenticate(
    repo: &Repository,
    introduction: &Introduction,
    end: Oid,
    options: &Options,
    progress: &dyn Progress,
) -> Result<Report, Error> {
    // First: nothing is worth checking if git would show other objects.
    crate::replace::check(repo, options.replace_objects)?;
    let keyring = match options.keyring_commit {
        Some(commit) => Keyring::load_at(repo, &options.keyring_reference, commit)?,
        None => Keyring::load(repo, &options.keyring_reference)?,
    };
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
    // but the cost (the walk is slow to hide an old commit).
    let mut hidden = known.commits.clone();
    if !known.has_descendant {
        hidden.push(introduction.commit);
    }
    let mut walk = Walk::new(repo, end, &hidden)?;
    let Some(first) = walk.next_commit()? else {
        // END is the introduction, or in the closure of known commits.
        return Ok(report);
    };
    let rule = Rule::new(&keyring, &options.historical_authorizations, options.policy);
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
    let mut failures = Failures::default();
    if known.commits.is_empty() {
        failures.add(verify_introduction(repo, &rule, introduction).err())?;
    }
    // END descends from a root when a checked commit has one as a parent;
    // the graph is asked only when that is not so (a failure, most often).
    let descends = tally.root_parent_seen || walk::descends_from_any(repo, end, &roots)?;
    if !descends {
        failures.add(Some(Error::NotDescendant {
            end,
            introduction: introduction.commit,
        }))?;
    }
    let checked = settle(repo, &mut walk, &hidden, tally, !failures.is_empty())?;
    if checked.commits == 0 {
        // Everything the walk found is reachable from hidden history
        // through commits with skewed times: nothing to check, as for Guix.
        return Ok(report);
    }
    for failure in checked.failures {
        failures.add(Some(failure))?;
    }
    report.checked = checked.commits;
    report.signers = sorted_counts(checked.signers);
    report.failures = failures.into_result(options.keep_going)?;
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

/// Authentication failures in the order Guix meets them, each commit
/// reported once (a parent that removed `.guix-authorizations` is found by
/// each of its children). Any other error stops everything.
#[derive(Default)]
struct Failures {
    found: Vec<Error>,
    reported: std::collections::HashSet<(&'static str, Option<Oid>)>,
}

impl Failures {
    fn add(&mut self, failure: Option<Error>) -> Result<(), Error> {
        match failure {
            None => Ok(()),
            Some(e) if e.is_authentication_failure() => {
                if self.reported.insert((e.kind(), e.commit())) {
                    self.found.push(e);
                }
                Ok(())
            }
            Some(e) => Err(e),
        }
    }

    fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// All the failures, or, unless `keep_going`, the first as the error.
    fn into_result(self, keep_going: bool) -> Result<Vec<Error>, Error> {
        let mut found = self.found;
        if !keep_going && !found.is_empty() {
            return Err(found.swap_remove(0));
        }
        Ok(found)
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
    // As in Guix, a known commit the repository lacks is ignored; one
    // that cannot be read is an error.
    let objects = Objects::open(repo)?;
    let present = |ids: Vec<Oid>| -> Result<Vec<Oid>, Error> {
        let mut kept = Vec::new();
        for id in ids {
            match objects.read(id, Kind::Commit) {
                Ok(_) => kept.push(id),
                Err(e) if e.is_missing() => {}
                Err(e) => return Err(Error::object(ObjectRole::Commit, e)),
            }
        }
        Ok(kept)
    };
    let mut commits = present(options.authentic_commits.clone())?;
    let callers = commits.len();
    commits.extend(present(options.known_descendants.clone())?);
    let Some(cache) = &options.cache else {
        return Ok(Known {
            has_descendant: commits.len() > callers,
            commits,
            warnings: Vec::new(),
        });
    };
    let cached = cache.read_for(introduction.commit);
    let mut warnings = cached.warnings;
    commits.extend(present(cached.trusted)?);
    for id in present(cached.unverified)? {
        if walk::descends_from_any(repo, id, &[introduction.commit])? {
            commits.push(id);
        } else {
            warnings.push(cache.warning(CacheProblem::NotDescendant {
                commit: id,
                introduction: introduction.commit,
            }));
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
    for warning in cache.record(end, introduction.commit, known) {
        // Reading again under the lock finds what the first read found.
        if !warnings.contains(&warning) {
            warnings.push(warning);
        }
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
    fn check(&self, objects: &Objects, found: Found, tally: &mut Tally) -> Result<(), Error> {
        let commit = match &found.data {
            Some(data) => CommitObject::parse(found.id, data)?,
            None => CommitObject::read_from(objects, found.id)?,
        };
        for parent in &found.parents {
            self.rule.learn(objects, parent)?;
        }
        if commit.parents.iter().any(|p| self.roots.contains(p)) {
            tally.root_parent_seen = true;
        }
        match self.rule.authenticate_commit(objects, &commit) {
            Ok(signer) => tally.signers.entry(signer).or_default().push(found.node),
            Err(e) if e.is_authentication_failure() => tally.failures.push((found.node, e)),
            Err(e) => return Err(e),
        }
        self.progress.advance(1);
        Ok(())
    }

    /// Checks every commit the walk finds, from `first` on; `walked` is
    /// told how many there are once the walk is over. The walk runs on this
    /// thread and hands commits over to up to `threads` checking threads,
    /// each with its own repository handle (a git2 repository cannot be
    /// shared between threads). A thread is started only when there is a
    /// commit for it.
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
            let mut workers = Vec::new();
            let mut receiver = Some(receiver);
            let walking = (|| {
                let mut next = Some(first);
                while let Some(mut found) = next {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    if let Some(r) = &receiver {
                        let (in_flight, stop) = (&in_flight, &stop);
                        let r = r.clone();
                        workers.push(scope.spawn(move || self.worker(path, r, in_flight, stop)));
                        if workers.len() == threads {
                            // Only the checking threads receive now: when
                            // they are all gone, sending fails instead of
                            // waiting for room.
                            receiver = None;
                        }
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
            drop(receiver);
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

    /// One checking thread: checks what it receives until the walk is over,
    /// or until a thread meets an error.
    fn worker(
        &self,
        path: &std::path::Path,
        receiver: crossbeam_channel::Receiver<Found>,
        in_flight: &AtomicUsize,
        stop: &AtomicBool,
    ) -> Result<Tally, Error> {
        let repo = crate::objects::reopen(path)?;
        let objects = Objects::open(&repo)?;
        let mut tally = Tally::default();
        for found in receiver {
            let size = found.data.as_ref().map_or(0, Vec::len);
            in_flight.fetch_sub(size, Ordering::Relaxed);
            if stop.load(Ordering::Relaxed) {
                continue;
            }
            if let Err(e) = self.check(&objects, found, &mut tally) {
                stop.store(true, Ordering::Relaxed);
                return Err(e);
            }
        }
        Ok(tally)
    }
}

/// At most this many failing commits are settled one by one, each by a
/// short walk; with more, the whole hidden history is walked once.
const SETTLED_ONE_BY_ONE: usize = 64;

/// Makes the tally exact and puts failures in Guix's order.
///
/// The walk may have found commits that hidden history reaches through
/// commits with skewed times: a failure is kept only if no hidden commit
/// reaches it, which is settled exactly, never by commit times (checking
/// the others was only wasted work, and they are not counted). With
/// `exactly` (the introduction or END's descent failed, which matters only
/// if there is something to check), whether anything is to be checked at
/// all is settled too: nothing is when END itself is hidden.
fn settle(
    repo: &Repository,
    walk: &mut Walk,
    hidden: &[Oid],
    mut tally: Tally,
    exactly: bool,
) -> Result<Checked, Error> {
    if exactly || !tally.failures.is_empty() {
        let mut failing: Vec<Node> = tally.failures.iter().map(|(node, _)| *node).collect();
        if exactly {
            failing.push(walk.end());
        }
        if failing.len() <= SETTLED_ONE_BY_ONE {
            let objects = Objects::open(repo)?;
            for node in failing {
                if walk::is_ancestor_of_any(&objects, walk.id(node), hidden)? {
                    walk.mark_hidden(node);
                }
            }
        } else {
            walk.settle(|walk| failing.iter().all(|&node| walk.is_hidden(node)))?;
        }
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
    let commits = match walk.is_hidden(walk.end()) {
        true => 0,
        false => walk.commits().count(),
    };
    Ok(Checked {
        commits,
        signers,
        failures: tally.failures.into_iter().map(|(_, e)| e).collect(),
    })
}

fn sorted_counts(counts: HashMap<Fingerprint, usize>) -> Vec<(Fingerprint, usize)> {
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by(|(fa, a), (fb, b)| b.cmp(a).then_with(|| fa.cmp(fb)));
    counts
}
