//! The rule as the pipeline applies it to each commit the walk finds, and
//! what the checking threads found (a tally, made exact by
//! [`super::settle`]).

use std::collections::HashMap;

use git2::Oid;

use crate::git::commit::CommitObject;
use crate::git::objects::Objects;
use crate::openpgp::fingerprint::Fingerprint;
use crate::rule::commit::{Rule, Stop};
use crate::rule::pipeline::Check;
use crate::rule::walk::{Found, Node};
use crate::verdict::error::Error;
use crate::verdict::failure::Failure;
use crate::verdict::report::Progress;

/// What one checking thread found: the commits each key signed, and the
/// failures.
#[derive(Default)]
pub(crate) struct Tally {
    pub signers: HashMap<Fingerprint, Vec<Node>>,
    pub failures: Vec<(Node, Failure)>,
    /// Whether a checked commit has the introduction or a known commit as
    /// a parent: then END descends from it.
    pub root_parent_seen: bool,
}

/// The rule, as the pipeline applies it to each commit found.
pub(crate) struct CheckCommits<'a> {
    rule: &'a Rule<'a>,
    roots: &'a [Oid],
    pub progress: &'a dyn Progress,
}

impl<'a> CheckCommits<'a> {
    pub fn new(rule: &'a Rule<'a>, roots: &'a [Oid], progress: &'a dyn Progress) -> Self {
        CheckCommits {
            rule,
            roots,
            progress,
        }
    }
}

impl Check for CheckCommits<'_> {
    type Tally = Tally;

    /// An authentication failure is tallied; any other error (an
    /// unreadable object) stops everything.
    fn check(&self, objects: &Objects, found: &mut Found, tally: &mut Tally) -> Result<(), Error> {
        let commit = CommitObject::parse(found.id, &found.data)?;
        for (id, facts) in found.parents.drain(..) {
            self.rule.memo.learn(id, facts);
        }
        if commit.parents.iter().any(|p| self.roots.contains(p)) {
            tally.root_parent_seen = true;
        }
        match self.rule.authenticate_commit(objects, &commit) {
            Ok(signer) => {
                self.progress.checked(commit.id, Ok(&signer));
                tally.signers.entry(signer).or_default().push(found.node);
            }
            Err(Stop::Failure(failure)) => {
                self.progress.checked(commit.id, Err(&failure));
                tally.failures.push((found.node, failure));
            }
            Err(Stop::Error(e)) => return Err(e),
        }
        self.progress.advance(1);
        Ok(())
    }

    fn merge(into: &mut Tally, other: Tally) {
        for (signer, nodes) in other.signers {
            into.signers.entry(signer).or_default().extend(nodes);
        }
        into.failures.extend(other.failures);
        into.root_parent_seen |= other.root_parent_seen;
    }
}
