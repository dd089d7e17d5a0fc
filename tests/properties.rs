//! Property tests.
//!
//! * The authorization rule on random commit graphs (branches, merges,
//!   octopus merges, extra root commits, `.guix-authorizations` added to,
//!   shrunk, removed and restored, historical authorizations), built as
//!   real signed repositories, against a reference implementation of the
//!   specification's rule written here; with one and two threads, and with
//!   a cache filled by a first run to an intermediate commit, and with an
//!   intermediate commit vouched for. Commit times are skewed at random
//!   (commits older than their parents, or in the future), so that the
//!   commit walk cannot rely on them; the first failure reported is the one
//!   Guix reports (its `commit-difference` order).
//! * The `.guix-authorizations` parser: never panics on random bytes or
//!   random s-expressions, and reads exactly the fingerprints of well-formed
//!   files written in random styles.
//! * Hostile inputs that may crash (a quote bomb), each in a child process
//!   so that a crash (stack overflow, abort) is reported rather than fatal.
//!   The inputs under `fuzz/regressions/` are replayed by the library's
//!   unit tests (`crates/git-authenticate/src/fuzzing/mod.rs`), where the fuzz targets' entry points
//!   are.
//!
//! `cargo run --features fuzzing --example xtask -- write-fuzz-seeds` regenerates `fuzz/corpus/`.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use git2::{Oid, Repository};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

use git_authenticate::{
    authenticate, Authorizations, Cache, ChannelMetadata, Error, Fingerprint, Introduction,
    NoProgress, Options, Report,
};
use support::builder::{AUTHOR_EMAIL, AUTHOR_NAME, FIRST_COMMIT_TIME as FIRST_TIME};
use support::objects::{self, Person};
use support::render::render_authorizations;
use support::sign::{sequoia_sign, SequoiaOptions};
use support::{build_scenario_text, key};

// ---------------------------------------------------------------------------
// Keys and authorization entries.

/// The keys that sign commits in random histories. All four are in the
/// keyring; carol signs with her subkey.
const SIGNERS: [&str; 4] = ["alice", "bob", "carol", "mallory"];

/// Entries a `.guix-authorizations` may list: every signer's signing
/// fingerprint, and carol's primary fingerprint (which must NOT authorize
/// her subkey's signatures).
const ENTRIES: usize = 5;
const CAROL_PRIMARY: u8 = 4;

/// The fingerprint (compact hex) of entry `e`.
fn entry_fpr(e: u8) -> String {
    match e {
        CAROL_PRIMARY => key("carol").primary_fpr,
        e => key(SIGNERS[usize::from(e)]).signing_fpr,
    }
}

/// The entry of signer `s`'s signing key (signers and entries share
/// indices 0..4).
fn signer_entry(s: u8) -> u8 {
    s
}

type EntrySet = BTreeSet<u8>;

fn entry_set(bits: u8) -> EntrySet {
    (0..ENTRIES as u8)
        .filter(|e| bits & (1 << e) != 0)
        .collect()
}

// ---------------------------------------------------------------------------
// Random histories.

/// One commit of a random history, as generated (raw choices).
#[derive(Clone, Debug)]
struct Step {
    shape: u8,
    picks: [u16; 4],
    signer: u8,
    op: u8,
    arg: u8,
    style: u64,
}

fn step() -> impl Strategy<Value = Step> {
    (
        any::<u8>(),
        any::<[u16; 4]>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u64>(),
    )
        .prop_map(|(shape, picks, signer, op, arg, style)| Step {
            shape,
            picks,
            signer,
            op,
            arg,
            style,
        })
}

/// A commit of a history, as built.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Node {
    /// Indices of earlier nodes, in parent order; empty for a root commit.
    parents: Vec<usize>,
    /// Index into `SIGNERS`, or `None` for an unsigned commit.
    signer: Option<u8>,
    /// The entries of `.guix-authorizations`, or `None` without the file.
    authorizations: Option<EntrySet>,
    /// Formatting of the file.
    style: u64,
}

/// A history: node 0 is the introduction (signed by alice).
#[derive(Clone, Debug)]
struct History {
    nodes: Vec<Node>,
    /// Historical (default) authorizations, if given.
    historical: Option<EntrySet>,
    /// The commit to authenticate.
    end: usize,
    /// A commit authenticated first, filling the cache.
    middle: usize,
}

impl History {
    fn default_authorizations(&self) -> EntrySet {
        self.historical.clone().unwrap_or_default()
    }

    /// Readable summary, for failure messages.
    fn describe(&self) -> String {
        let mut out = String::new();
        if let Some(h) = &self.historical {
            out.push_str(&format!("historical {}\n", names(h)));
        }
        for (i, n) in self.nodes.iter().enumerate() {
            out.push_str(&format!(
                "{i}: parents {:?} signer {} authorizations {}\n",
                n.parents,
                n.signer.map_or("-", |s| SIGNERS[usize::from(s)]),
                n.authorizations
                    .as_ref()
                    .map_or("(no file)".to_owned(), names)
            ));
        }
        out.push_str(&format!("end {} middle {}\n", self.end, self.middle));
        out
    }
}

fn names(set: &EntrySet) -> String {
    let names: Vec<&str> = set
        .iter()
        .map(|&e| match e {
            CAROL_PRIMARY => "carol-primary",
            e => SIGNERS[usize::from(e)],
        })
        .collect();
    format!("[{}]", names.join(" "))
}

/// Turns raw choices into a history. Signers are drawn with a bias towards
/// keys that the reference says are authorized, so that authentic and
/// non-authentic histories both come up often.
fn plan(
    root_authorizations: Option<u8>,
    historical: Option<u8>,
    steps: &[Step],
    end_pick: u16,
    middle_pick: u16,
) -> History {
    let mut nodes = vec![Node {
        parents: Vec::new(),
        signer: Some(0),
        authorizations: root_authorizations.map(entry_set),
        style: 0,
    }];
    let mut history = History {
        nodes: Vec::new(),
        historical: historical.map(entry_set),
        end: 0,
        middle: 0,
    };
    let mut tips: Vec<usize> = vec![0];
    for s in steps {
        let count = nodes.len();
        let pick = |p: u16, tips: &[usize]| -> usize {
            if p.is_multiple_of(4) {
                usize::from(p / 4) % count
            } else {
                tips[usize::from(p / 4) % tips.len()]
            }
        };
        let wanted = match s.shape % 100 {
            0..=64 => 1,
            65..=84 => 2,
            85..=95 => 3 + usize::from(s.shape / 100 % 2), // octopus
            _ => 0,                                        // another root
        };
        let mut parents: Vec<usize> = Vec::new();
        for &p in s.picks.iter().take(wanted) {
            let parent = pick(p, &tips);
            if !parents.contains(&parent) {
                parents.push(parent);
            }
        }
        let inherited = parents
            .first()
            .and_then(|&p| nodes[p].authorizations.clone());
        let key = s.arg % ENTRIES as u8;
        let authorizations = match s.op % 100 {
            0..=54 => inherited,
            55..=64 => Some({
                // Add a key (restores the file if it was removed).
                let mut set = inherited.unwrap_or_default();
                set.insert(key);
                set
            }),
            65..=74 => inherited.map(|mut set| {
                set.remove(&key);
                set
            }),
            75..=82 => None,
            83..=92 => Some(entry_set(s.arg)),
            // A merge taking the file of another parent.
            _ => parents
                .get(1)
                .map_or(inherited, |&p| nodes[p].authorizations.clone()),
        };
        let node_index = nodes.len();
        nodes.push(Node {
            parents: parents.clone(),
            signer: None,
            authorizations,
            style: s.style,
        });
        history.nodes = nodes.clone();
        let allowed: Vec<u8> = match reference_authorized(&history, node_index) {
            Ok(set) => (0..SIGNERS.len() as u8)
                .filter(|&k| set.contains(&signer_entry(k)))
                .collect(),
            Err(_) => Vec::new(),
        };
        let signer = match s.signer % 100 {
            0..=54 if !allowed.is_empty() => {
                Some(allowed[usize::from(s.signer / 100) % allowed.len()])
            }
            55..=64 => None,
            _ => Some(s.signer % SIGNERS.len() as u8),
        };
        nodes[node_index].signer = signer;
        tips.retain(|t| !parents.contains(t));
        tips.push(node_index);
    }
    let last = nodes.len() - 1;
    history.nodes = nodes;
    // END: usually the last commit, sometimes another one.
    history.end = if end_pick.is_multiple_of(4) {
        usize::from(end_pick / 4) % (last + 1)
    } else {
        last
    };
    history.middle = usize::from(middle_pick) % (last + 1);
    history
}

fn history() -> impl Strategy<Value = History> {
    (
        prop::option::weighted(0.85, any::<u8>()),
        prop::option::weighted(0.3, any::<u8>()),
        prop::collection::vec(step(), 1..=14),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(root, historical, steps, end, middle)| {
            plan(root, historical, &steps, end, middle)
        })
}

// ---------------------------------------------------------------------------
// The reference implementation of the rule: one commit (RULE.md steps
// 1–7) and a history from an introduction up to END (RULE.md steps 8–13).

/// A failure: its kind, the node it names, and for `unauthorized`, the
/// signing fingerprint (compact hex).
type Failure = (&'static str, usize, Option<String>);

/// RULE.md step 6: the authorized set of node `c`, or the node that removed
/// `.guix-authorizations` (an error reported on that parent).
fn reference_authorized(h: &History, c: usize) -> Result<EntrySet, usize> {
    let node = &h.nodes[c];
    if node.parents.is_empty() {
        return Ok(h.default_authorizations());
    }
    let mut result: Option<EntrySet> = None;
    for &p in &node.parents {
        let parent = &h.nodes[p];
        let set = match &parent.authorizations {
            Some(set) => set.clone(),
            None => {
                if parent
                    .parents
                    .iter()
                    .any(|&g| h.nodes[g].authorizations.is_some())
                {
                    return Err(p);
                }
                h.default_authorizations()
            }
        };
        result = Some(match result {
            None => set,
            Some(r) => r.intersection(&set).copied().collect(),
        });
    }
    Ok(result.unwrap_or_default())
}

/// The ancestors of `n`, itself included.
fn ancestors(h: &History, n: usize) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![n];
    while let Some(c) = todo.pop() {
        if seen.insert(c) {
            todo.extend(&h.nodes[c].parents);
        }
    }
    seen
}

/// The verdict of the rule on one commit: its signing key, or its failure.
fn reference_commit(h: &History, c: usize) -> Result<u8, Failure> {
    let Some(signer) = h.nodes[c].signer else {
        return Err(("unsigned", c, None));
    };
    let authorized = reference_authorized(h, c).map_err(|p| ("removed-authorizations", p, None))?;
    if !authorized.contains(&signer_entry(signer)) {
        return Err((
            "unauthorized",
            c,
            Some(key(SIGNERS[usize::from(signer)]).signing_fpr),
        ));
    }
    Ok(signer)
}

/// What authenticating from node 0 up to `end`, knowing `known` authentic,
/// must report: every failure, and the commits counted per signer.
struct Expected {
    checked: usize,
    failures: BTreeSet<Failure>,
    signers: BTreeMap<String, usize>,
}

fn reference(h: &History, end: usize, known: &[usize]) -> Expected {
    let mut hidden = ancestors(h, 0);
    for &k in known {
        hidden.extend(ancestors(h, k));
    }
    let to_check: Vec<usize> = ancestors(h, end)
        .into_iter()
        .filter(|c| !hidden.contains(c))
        .collect();
    let mut expected = Expected {
        checked: to_check.len(),
        failures: BTreeSet::new(),
        signers: BTreeMap::new(),
    };
    if to_check.is_empty() {
        return expected;
    }
    let roots: Vec<usize> = std::iter::once(0).chain(known.iter().copied()).collect();
    let end_ancestors = ancestors(h, end);
    if !roots.iter().any(|r| end_ancestors.contains(r)) {
        expected.failures.insert(("not-descendant", end, None));
    }
    for c in to_check {
        match reference_commit(h, c) {
            Ok(signer) => {
                *expected
                    .signers
                    .entry(key(SIGNERS[usize::from(signer)]).signing_fpr)
                    .or_default() += 1;
            }
            Err(failure) => {
                expected.failures.insert(failure);
            }
        }
    }
    expected
}

/// The first failure Guix reports, stopping at the first: END not
/// descending from a root, else the first failing commit in the order Guix
/// checks them (`commit-difference`: depth first from END, first parents
/// first, stopping at hidden history; newest first).
fn reference_first_failure(h: &History, end: usize, known: &[usize]) -> Option<Failure> {
    let mut hidden = ancestors(h, 0);
    for &k in known {
        hidden.extend(ancestors(h, k));
    }
    if hidden.contains(&end) {
        return None;
    }
    let end_ancestors = ancestors(h, end);
    if !std::iter::once(&0)
        .chain(known)
        .any(|r| end_ancestors.contains(r))
    {
        return Some(("not-descendant", end, None));
    }
    let mut listed = Vec::new();
    let mut todo = vec![end];
    while let Some(c) = todo.pop() {
        if hidden.insert(c) {
            listed.push(c);
            todo.extend(h.nodes[c].parents.iter().rev());
        }
    }
    listed
        .into_iter()
        .find_map(|c| reference_commit(h, c).err())
}

// ---------------------------------------------------------------------------
// Building a history as a real repository.

/// The committer time of node `i`: 60 s after the previous node, or, for
/// about a third of the nodes, skewed: days in the past (before its
/// parents) or years in the future. Signatures keep the unskewed time (a
/// signature may not predate its key).
fn commit_time(i: usize, node: &Node) -> i64 {
    let regular = FIRST_TIME + 60 * i as i64;
    let offset = ((node.style >> 16) % 1000) as i64;
    match node.style % 6 {
        0 => FIRST_TIME - 86_400 * (1 + offset),
        1 => regular + 31_536_000 * (1 + offset % 10),
        _ => regular,
    }
}

struct BuiltHistory {
    _dir: tempfile::TempDir,
    path: PathBuf,
    oids: Vec<Oid>,
}

impl BuiltHistory {
    fn repo(&self) -> Repository {
        Repository::open(&self.path).expect("open repository")
    }

    fn node(&self, oid: Oid) -> usize {
        self.oids
            .iter()
            .position(|&o| o == oid)
            .unwrap_or_else(|| panic!("{oid} is not a node of the history"))
    }
}

fn person(time: i64) -> Person<'static> {
    Person {
        name: AUTHOR_NAME,
        email: AUTHOR_EMAIL,
        time,
    }
}

fn build_history(h: &History) -> BuiltHistory {
    let dir = tempfile::Builder::new()
        .prefix("gah-prop.")
        .tempdir()
        .expect("temporary directory");
    let path = dir.path().join("repo");
    let mut repo = Repository::init(&path).expect("init");

    // The keyring branch: every signer's public certificate.
    let keys: Vec<(String, Vec<u8>)> = SIGNERS
        .iter()
        .map(|name| (format!("{name}.key"), key(name).armored_public()))
        .collect();
    let files: Vec<(&str, &[u8])> = keys
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_slice()))
        .collect();
    let who = person(FIRST_TIME - 60);
    objects::branch_of_files(&mut repo, "keyring", &files, &who, "keyring\n")
        .expect("keyring commit");

    let mut oids: Vec<Oid> = Vec::new();
    for (i, node) in h.nodes.iter().enumerate() {
        let oid = build_node(&mut repo, i, node, &oids);
        oids.push(oid);
    }
    BuiltHistory {
        _dir: dir,
        path,
        oids,
    }
}

/// Writes node `i` of a history, whose parents are among `oids`.
fn build_node(repo: &mut Repository, i: usize, node: &Node, oids: &[Oid]) -> Oid {
    let content = node.authorizations.as_ref().map(|set| {
        let fprs: Vec<String> = set.iter().map(|&e| entry_fpr(e)).collect();
        render_authorizations(&fprs, node.style)
    });
    let label = format!("node {i}\n");
    let mut files: Vec<(&str, &[u8])> = vec![("label.txt", label.as_bytes())];
    if let Some(c) = &content {
        files.push((".guix-authorizations", c.as_bytes()));
    }
    let tree = objects::file_tree(repo, &files).expect("tree");
    let parents: Vec<Oid> = node.parents.iter().map(|&p| oids[p]).collect();
    let buffer = objects::commit_buffer(tree, &parents, &person(commit_time(i, node)), &label);
    let signature = node.signer.map(|s| {
        let time = FIRST_TIME + 60 * i as i64;
        let signer = key(SIGNERS[usize::from(s)]);
        sequoia_sign(&signer, buffer.as_bytes(), time, &SequoiaOptions::default()).expect("sign")
    });
    let signature = signature
        .as_deref()
        .map(|s| ("gpgsig", s.trim_end_matches('\n')));
    objects::commit(repo, &buffer, signature).expect("write commit")
}

// ---------------------------------------------------------------------------
// Running the library.

/// What a report says, in the terms of the reference.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    checked: usize,
    failures: BTreeSet<Failure>,
    signers: BTreeMap<String, usize>,
}

fn failure_of(built: &BuiltHistory, e: &git_authenticate::Failure) -> Failure {
    let kind = e.kind();
    let node = built.node(e.commit());
    let fpr = (kind == "unauthorized").then(|| e.fingerprint().unwrap().to_hex());
    (kind, node, fpr)
}

fn observe(built: &BuiltHistory, report: &Report) -> Observed {
    Observed {
        checked: report.checked,
        failures: report
            .failures
            .iter()
            .map(|e| failure_of(built, e))
            .collect(),
        signers: report
            .signers
            .iter()
            .map(|(f, n)| (f.to_hex(), *n))
            .collect(),
    }
}

fn options(h: &History, jobs: usize, keep_going: bool, cache: Option<Cache>) -> Options {
    let historical = h
        .historical
        .as_ref()
        .map_or_else(Authorizations::empty, |set| {
            Authorizations::from_fingerprints(set.iter().map(|&e| entry_fpr(e).parse().unwrap()))
        });
    Options {
        cache,
        historical_authorizations: historical,
        keep_going,
        jobs,
        ..Options::default()
    }
}

/// The report of a run, whether END is authentic or not; an error when it
/// could not be checked.
fn run(built: &BuiltHistory, end: usize, options: &Options) -> Result<Report, Error> {
    let introduction = Introduction {
        commit: built.oids[0],
        signer: key("alice").signing_fpr.parse().unwrap(),
    };
    let outcome = authenticate(
        &built.repo(),
        &introduction,
        built.oids[end],
        options,
        &NoProgress,
    );
    match outcome {
        Err(Error::NotAuthentic(report)) => Ok(*report),
        outcome => outcome,
    }
}

fn expected_as_observed(e: Expected) -> Observed {
    Observed {
        checked: e.checked,
        failures: e.failures,
        signers: e.signers,
    }
}

/// Whether `observed` is what `expected` says: the same failures, exactly;
/// the same counts, except that clock skew may make the walk check (and
/// count) commits that hidden history reaches, which all passed.
fn same_outcome(observed: &Observed, expected: &Observed) -> bool {
    observed.failures == expected.failures
        && observed.checked >= expected.checked
        && expected
            .signers
            .iter()
            .all(|(key, &n)| observed.signers.get(key).is_some_and(|&m| m >= n))
        && observed.signers.values().sum::<usize>() - expected.signers.values().sum::<usize>()
            == observed.checked - expected.checked
}

fn check_history(h: &History) -> Result<(), TestCaseError> {
    let built = build_history(h);
    let context = h.describe();
    let expected = expected_as_observed(reference(h, h.end, &[]));
    let expected_failures = expected.failures.clone();

    // Every failure, with one thread and with two.
    for jobs in [1, 2] {
        let report = run(&built, h.end, &options(h, jobs, true, None))
            .map_err(|e| TestCaseError::fail(format!("jobs {jobs}: error {e}\n{context}")))?;
        let observed = observe(&built, &report);
        prop_assert!(
            same_outcome(&observed, &expected),
            "keep_going, jobs {}: {:?}, expected {:?}\n{}",
            jobs,
            observed,
            expected,
            context
        );
        prop_assert_eq!(report.is_authentic(), expected_failures.is_empty());
    }

    // Stopping at the first failure: the failure Guix reports first.
    let first = reference_first_failure(h, h.end, &[]);
    for jobs in [1, 2] {
        let got = match run(&built, h.end, &options(h, jobs, false, None)) {
            Ok(report) => {
                prop_assert!(report.failures.len() <= 1, "the first failure only");
                report.failures.first().map(|f| failure_of(&built, f))
            }
            Err(e) => panic!("could not check: {e}\n{context}"),
        };
        prop_assert_eq!(&got, &first, "first failure, jobs {}\n{}", jobs, context);
    }

    // A commit vouched for hides its history, whatever it holds.
    let mut vouched = options(h, 2, true, None);
    vouched.authentic_commits = vec![built.oids[h.middle]];
    let report = run(&built, h.end, &vouched)
        .map_err(|e| TestCaseError::fail(format!("vouched: error {e}\n{context}")))?;
    let expected_vouched = expected_as_observed(reference(h, h.end, &[h.middle]));
    let observed = observe(&built, &report);
    prop_assert!(
        same_outcome(&observed, &expected_vouched),
        "vouched for middle: {:?}, expected {:?}\n{}",
        observed,
        expected_vouched,
        context
    );

    // With a cache: first up to MIDDLE, then up to END. The verdict on END
    // must be the one without cache.
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::in_directory(cache_dir.path(), "checkouts/prop").unwrap();
    let middle_expected = reference(h, h.middle, &[]);
    let first = run(&built, h.middle, &options(h, 2, true, Some(cache.clone())))
        .map_err(|e| TestCaseError::fail(format!("cache, middle: error {e}\n{context}")))?;
    prop_assert_eq!(
        &observe(&built, &first).failures,
        &middle_expected.failures,
        "cache, first run up to middle\n{}",
        context
    );
    let second = run(&built, h.end, &options(h, 2, true, Some(cache.clone())))
        .map_err(|e| TestCaseError::fail(format!("cache, end: error {e}\n{context}")))?;
    let known: Vec<usize> = if middle_expected.failures.is_empty() && middle_expected.checked > 0 {
        vec![h.middle]
    } else {
        Vec::new()
    };
    let with_cache = expected_as_observed(reference(h, h.end, &known));
    prop_assert_eq!(
        &with_cache.failures,
        &expected_failures,
        "reference: a cache changes the verdict\n{}",
        context
    );
    let observed = observe(&built, &second);
    prop_assert_eq!(
        &observed.failures,
        &expected_failures,
        "cache: second run up to end, after middle\n{}",
        context
    );
    prop_assert!(
        same_outcome(&observed, &with_cache),
        "cache: what the second run checked: {:?}, expected {:?}\n{}",
        observed,
        with_cache,
        context
    );
    // And once END is known authentic, a further run has nothing to do.
    if expected_failures.is_empty() {
        let third = run(&built, h.end, &options(h, 1, false, Some(cache)))
            .map_err(|e| TestCaseError::fail(format!("cache, again: error {e}\n{context}")))?;
        prop_assert!(third.is_authentic());
        prop_assert_eq!(third.checked, 0, "END cached\n{}", context);
    }
    Ok(())
}

/// `cases` cases, or `PROPTEST_CASES` when set (for longer runs by hand).
fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        // Failing cases are printed; no files are written in the tree.
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// The library's failures (kinds and commits), counts and signers are
    /// the reference's, with 1 and 2 threads, stopping or not, and with a
    /// cache filled by an earlier run to an intermediate commit.
    #[test]
    fn rule_matches_reference_on_random_histories(h in history()) {
        check_history(&h)?;
    }
}

/// The generator really produces what the property is about; run once so a
/// change to `plan` that stops making merges, octopus merges, removals or
/// authentic histories is noticed.
#[test]
fn random_histories_cover_the_interesting_shapes() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = history();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..64 {
        let h = strategy.new_tree(&mut runner).unwrap().current();
        let expected = reference(&h, h.end, &[]);
        let mut note = |what: &'static str, yes: bool| {
            if yes {
                *seen.entry(what).or_default() += 1;
            }
        };
        note("authentic", expected.failures.is_empty());
        note("merge", h.nodes.iter().any(|n| n.parents.len() == 2));
        note("octopus", h.nodes.iter().any(|n| n.parents.len() > 2));
        note(
            "extra root",
            h.nodes.iter().skip(1).any(|n| n.parents.is_empty()),
        );
        note("historical", h.historical.is_some());
        for (kind, _, _) in &expected.failures {
            note(kind, true);
        }
    }
    eprintln!("in 64 random histories: {seen:?}");
    for what in [
        "authentic",
        "merge",
        "octopus",
        "extra root",
        "historical",
        "unsigned",
        "unauthorized",
        "removed-authorizations",
    ] {
        assert!(
            seen.get(what).copied().unwrap_or(0) >= 2,
            "the generator rarely makes {what}: {seen:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// The parser.

/// A random s-expression (not necessarily an authorizations file).
#[derive(Clone, Debug)]
enum Sexp {
    Symbol(String),
    Str(String),
    Number(String),
    Other(&'static str),
    List(Vec<Sexp>),
    Dotted(Vec<Sexp>, Box<Sexp>),
    Vector(Vec<Sexp>),
    Quote(&'static str, Box<Sexp>),
}

impl std::fmt::Display for Sexp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seq = |f: &mut std::fmt::Formatter<'_>, items: &[Sexp]| -> std::fmt::Result {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{item}")?;
            }
            Ok(())
        };
        match self {
            Sexp::Symbol(s) | Sexp::Number(s) => f.write_str(s),
            Sexp::Str(s) => {
                f.write_str("\"")?;
                for c in s.chars() {
                    match c {
                        '"' => f.write_str("\\\"")?,
                        '\\' => f.write_str("\\\\")?,
                        c => write!(f, "{c}")?,
                    }
                }
                f.write_str("\"")
            }
            Sexp::Other(s) => f.write_str(s),
            Sexp::List(items) => {
                f.write_str("(")?;
                seq(f, items)?;
                f.write_str(")")
            }
            Sexp::Dotted(items, tail) => {
                f.write_str("(")?;
                seq(f, items)?;
                write!(f, " . {tail})")
            }
            Sexp::Vector(items) => {
                f.write_str("#(")?;
                seq(f, items)?;
                f.write_str(")")
            }
            Sexp::Quote(q, datum) => write!(f, "{q}{datum}"),
        }
    }
}

fn sexp() -> impl Strategy<Value = Sexp> {
    let leaf = prop_oneof![
        prop::sample::select(vec![
            "authorizations",
            "version",
            "name",
            "channel",
            "keyring-reference",
            "x",
            "->",
            "...",
            "+",
            "-",
            "|a b|",
        ])
        .prop_map(|s| Sexp::Symbol(s.to_owned())),
        "[a-z][a-z0-9-]{0,6}".prop_map(Sexp::Symbol),
        ".{0,12}".prop_map(Sexp::Str),
        "[0-9A-Fa-f ]{0,48}".prop_map(Sexp::Str),
        prop::sample::select(vec![
            "0",
            "1",
            "-0",
            "+0",
            "0.0",
            "1e400",
            "-1",
            "18446744073709551616",
            "#x0",
            "#b101",
            "#o7",
            "#d9",
            "1/2",
            "0.",
            ".5",
        ])
        .prop_map(|s| Sexp::Number(s.to_owned())),
        "-?[0-9]{1,25}".prop_map(Sexp::Number),
        prop::sample::select(vec![
            "#t",
            "#f",
            "#nil",
            "#\\a",
            "#\\x41",
            "#\\space",
            "#\\(",
            "#\\\"",
            "#:kw",
            "#u8(1 2)",
            "#vu8(255)",
            "()",
            "\"\\x41;\"",
            "\"\\n\\t\"",
            "#;",
            "#|",
            "|#",
            ".",
            "#",
        ])
        .prop_map(Sexp::Other),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Sexp::List),
            (prop::collection::vec(inner.clone(), 1..4), inner.clone())
                .prop_map(|(items, tail)| Sexp::Dotted(items, Box::new(tail))),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Sexp::Vector),
            (prop::sample::select(vec!["'", "`", ",", ",@"]), inner)
                .prop_map(|(q, d)| Sexp::Quote(q, Box::new(d))),
        ]
    })
}

/// A fingerprint for an authorizations file: a test key's, or random
/// 20 bytes.
fn fingerprint_hex() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![0u8, 1, 2, 3, 4]).prop_map(entry_fpr),
        any::<[u8; 20]>().prop_map(|b| b.iter().map(|x| format!("{x:02X}")).collect()),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    /// Any bytes: an answer, never a panic.
    #[test]
    fn authorizations_parse_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Authorizations::parse(&bytes);
    }

    /// Any s-expression, alone or where the file's parts go: an answer,
    /// never a panic (from the three s-expression readers).
    #[test]
    fn authorizations_parse_never_panics_on_sexps(
        a in sexp(),
        b in sexp(),
        c in sexp(),
    ) {
        for text in [
            a.to_string(),
            format!("(authorizations {a} {b} {c})"),
            format!("(authorizations (version 0) {a} {b})"),
            format!("(authorizations (version {a}) ({b}) {c})"),
            format!("(authorizations (version 0) (({a}) ({b} (name \"x\")) {c}))"),
            format!("(authorizations (version 0) ((\"{}\" {a}) . {b}))", entry_fpr(0)),
        ] {
            let _ = Authorizations::parse(text.as_bytes());
            let _ = ChannelMetadata::parse(text.as_bytes());
        }
    }

    /// Well-formed files in random styles (spacing, case, comments, extra
    /// key/value pairs and elements) list exactly their fingerprints.
    #[test]
    fn authorizations_parse_reads_exactly_the_listed_fingerprints(
        fingerprints in prop::collection::vec(fingerprint_hex(), 0..8),
        seed in any::<u64>(),
    ) {
        let text = render_authorizations(&fingerprints, seed);
        let parsed = Authorizations::parse(text.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let mut expected: Vec<Fingerprint> = Vec::new();
        for hex in &fingerprints {
            let f: Fingerprint = hex.parse().unwrap();
            if !expected.contains(&f) {
                expected.push(f);
            }
        }
        prop_assert_eq!(parsed.fingerprints(), &expected[..], "{}", text);
        prop_assert_eq!(parsed, Authorizations::from_fingerprints(expected.clone()));
    }
}

// ---------------------------------------------------------------------------
// Inputs that may crash.

/// Which case `child_process_case` runs: `quote-bomb` (authenticating a
/// repository, with `GAH_JOBS` threads). The fuzz regressions are replayed
/// by the library's unit tests (`crates/git-authenticate/src/fuzzing/mod.rs`), where the entry points
/// are.
const CHILD_CASE: &str = "GAH_PROPERTIES_CHILD";

/// Runs one case that may crash the process; used by other tests in a
/// child process (does nothing when run directly).
#[test]
#[ignore = "helper: run in a child process by tests whose inputs may crash"]
fn child_process_case() {
    let var = |name: &str| std::env::var(name).unwrap();
    if let Ok("quote-bomb") = std::env::var(CHILD_CASE).as_deref() {
        quote_bomb_case(var("GAH_JOBS").parse().unwrap());
    }
}

/// Runs `child_process_case` in a child process with `env` and the stack
/// of a main thread (8 MiB, as under libFuzzer and in the CLI's main
/// thread); what went wrong if it fails.
fn run_in_child(what: &str, env: &[(&str, String)]) -> Result<(), String> {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "child_process_case",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RUST_MIN_STACK", (8 << 20).to_string());
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    if output.status.success() {
        return Ok(());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| !l.trim().is_empty() && !l.starts_with("running ") && !l.starts_with("test "))
        .collect();
    let tail = &lines[lines.len().saturating_sub(4)..];
    Err(format!("{what}: {} — {}", output.status, tail.join(" | ")))
}

/// A commit whose `.guix-authorizations` is 100,000 quote characters
/// (100 kB, under the 1 MiB limit) and a child signed by the same key:
/// authenticating the child must report the file as malformed.
fn quote_bomb_case(jobs: usize) {
    let text = format!(
        "keyring alice\nwrite .guix-authorizations \"{}x\"\ncommit first alice\n\
         write a \"1\"\ncommit second alice\n",
        "'".repeat(100_000)
    );
    let built = build_scenario_text(&text);
    let introduction = Introduction {
        commit: built.oid("first"),
        signer: key("alice").signing_fpr.parse().unwrap(),
    };
    let options = Options {
        keep_going: true,
        jobs,
        ..Options::default()
    };
    let error = authenticate(
        &built.repo(),
        &introduction,
        built.oid("second"),
        &options,
        &NoProgress,
    )
    .unwrap_err();
    let failures: Vec<(&str, Oid)> = error
        .report()
        .expect("not authentic")
        .failures
        .iter()
        .map(|e| (e.kind(), e.commit()))
        .collect();
    assert_eq!(
        failures,
        vec![("malformed-authorizations", built.oid("second"))]
    );
}

/// A hostile repository must not crash the tool: its malformed
/// `.guix-authorizations` is an authentication failure like any other.
#[test]
fn hostile_authorizations_file_is_refused_without_crashing() {
    let failures: Vec<String> = [1usize, 2]
        .into_iter()
        .filter_map(|jobs| {
            run_in_child(
                &format!("quote bomb, jobs {jobs}"),
                &[
                    (CHILD_CASE, "quote-bomb".to_owned()),
                    ("GAH_JOBS", jobs.to_string()),
                ],
            )
            .err()
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------
// Comments Guile's reader knows.

/// Guix reads `.guix-authorizations` with Guile's `read`, which also skips
/// `#;` datum comments and `#| … |#` block comments (R6RS/SRFI-30/SRFI-62,
/// on by default since Guile 2.0): such a file lists exactly its
/// uncommented fingerprints.
#[test]
fn guile_block_and_datum_comments_are_comments() {
    let alice = key("alice").signing_fpr;
    let bob = key("bob").signing_fpr;
    let text = format!(
        "#| a block comment (with \"parens\" |#\n\
         (authorizations (version 0)\n\
         (#;(\"{bob}\" (name \"bob, commented out\"))\n\
         (\"{alice}\" #| inline |# (name \"alice\"))))\n"
    );
    let parsed = Authorizations::parse(text.as_bytes()).map_err(|e| format!("{e}\n{text}"));
    let expected = Authorizations::from_fingerprints([alice.parse().unwrap()]);
    assert_eq!(parsed, Ok(expected), "{text}");
}
