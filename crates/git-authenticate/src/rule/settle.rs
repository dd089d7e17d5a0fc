//! The walk made exact: under clock skew, the date-ordered walk may take
//! in commits that hidden history (the introduction, the known commits)
//! reaches; Guix's `commit-difference` never does. Settling drops them,
//! exactly and never by commit times, and puts the failures in the order
//! Guix meets them (RULE.md step 9).

use std::collections::{HashMap, HashSet};

use git2::{Oid, Repository};

use crate::git::objects::Objects;
use crate::openpgp::fingerprint::Fingerprint;
use crate::rule::tally::Tally;
use crate::rule::walk::{self, Node, Walk};
use crate::verdict::error::Error;
use crate::verdict::failure::Failure;
use crate::verdict::report::Report;

/// The failures of the introduction and of END's descent, which Guix meets
/// before any commit's.
#[derive(Default)]
pub(crate) struct Failures {
    pub introduction: Option<Failure>,
    pub descent: Option<Failure>,
}

impl Failures {
    /// What settling must tell exactly: whether anything is to be checked
    /// at all matters only when the introduction or END's descent failed.
    fn scope(&self) -> Scope {
        match self.introduction.is_none() && self.descent.is_none() {
            true => Scope::FailingCommits,
            false => Scope::AnythingToCheck,
        }
    }

    /// All failures in the order Guix meets them, each commit reported
    /// once (a parent that removed `.guix-authorizations` is found by each
    /// of its children); only the first unless `keep_going`.
    fn in_guix_order(self, commits: Vec<Failure>, keep_going: bool) -> Vec<Failure> {
        let mut reported = HashSet::new();
        let all = self
            .introduction
            .into_iter()
            .chain(self.descent)
            .chain(commits);
        let mut found: Vec<Failure> = all
            .filter(|f| reported.insert((f.kind(), f.commit())))
            .collect();
        if !keep_going {
            found.truncate(1);
        }
        found
    }
}

/// What checking found, made exact.
struct Checked {
    /// How many commits were checked.
    commits: usize,
    signers: HashMap<Fingerprint, usize>,
    /// The failures, in the order Guix checks the commits.
    failures: Vec<Failure>,
}

/// At most this many failing commits are settled one by one, each by a
/// short walk; with more, the whole hidden history is walked once.
const SETTLED_ONE_BY_ONE: usize = 64;

/// What [`settle`] tells exactly, beside the failing commits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    FailingCommits,
    /// Whether anything is to be checked at all: nothing is when END
    /// itself is hidden.
    AnythingToCheck,
}

/// Makes the tally exact and puts failures in Guix's order.
///
/// The walk may have found commits that hidden history reaches through
/// commits with skewed times: a failure is kept only if no hidden commit
/// reaches it, which is settled exactly, never by commit times (checking
/// the others was only wasted work, and they are not counted).
fn settle(
    repo: &Repository,
    walk: &mut Walk,
    hidden: &[Oid],
    mut tally: Tally,
    scope: Scope,
) -> Result<Checked, Error> {
    let whole = scope == Scope::AnythingToCheck;
    if whole || !tally.failures.is_empty() {
        let mut failing: Vec<Node> = tally.failures.iter().map(|(node, _)| *node).collect();
        if whole {
            failing.push(walk.end());
        }
        hide_reached(repo, walk, hidden, &failing)?;
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

/// Marks hidden each of `failing` that a hidden commit reaches.
fn hide_reached(
    repo: &Repository,
    walk: &mut Walk,
    hidden: &[Oid],
    failing: &[Node],
) -> Result<(), Error> {
    if failing.len() > SETTLED_ONE_BY_ONE {
        return walk.settle(|walk| failing.iter().all(|&node| walk.is_hidden(node)));
    }
    let objects = Objects::open(repo)?;
    for &node in failing {
        if walk::is_ancestor_of_any(&objects, walk.id(node), hidden, walk.interrupt())? {
            walk.mark_hidden(node);
        }
    }
    Ok(())
}

/// Settles what checking found and writes it into `report`: how many
/// commits were checked, by whom, and every failure in the order Guix meets
/// them (`failures`, the introduction's and END's descent's, first).
///
/// When END itself turns out hidden, nothing was to be checked: Guix's
/// `commits` is empty, and it returns without checking the introduction or
/// END's descent (RULE.md step 9); the report stays empty, and authentic.
pub(crate) fn conclude(
    repo: &Repository,
    walk: &mut Walk,
    hidden: &[Oid],
    tally: Tally,
    failures: Failures,
    keep_going: bool,
    report: &mut Report,
) -> Result<(), Error> {
    let checked = settle(repo, walk, hidden, tally, failures.scope())?;
    if checked.commits > 0 {
        report.checked = checked.commits;
        report.signers = sorted_counts(checked.signers);
        report.failures = failures.in_guix_order(checked.failures, keep_going);
    }
    Ok(())
}

fn sorted_counts(counts: HashMap<Fingerprint, usize>) -> Vec<(Fingerprint, usize)> {
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by(|(fa, a), (fb, b)| b.cmp(a).then_with(|| fa.cmp(fb)));
    counts
}
