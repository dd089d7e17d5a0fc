//! Which commits to check: those reachable from END but not from the
//! introduction nor from any commit already known to be authentic.

use git2::{Oid, Repository, Sort};

use crate::error::Error;

/// The commits between the known-authentic ones and `end`, oldest first
/// (every commit after its parents), as `git rev-list --topo-order
/// --reverse END ^INTRO ^KNOWN…` lists them.
pub(crate) fn commits_to_check(
    repo: &Repository,
    end: Oid,
    introduction: Oid,
    known: &[Oid],
) -> Result<Vec<Oid>, Error> {
    let mut walk = repo.revwalk()?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)?;
    walk.push(end)?;
    walk.hide(introduction)?;
    for &commit in known {
        walk.hide(commit)?;
    }
    Ok(walk.collect::<Result<Vec<_>, _>>()?)
}

/// Whether `commit` is one of `ancestors` or descends from one of them.
pub(crate) fn descends_from_any(
    repo: &Repository,
    commit: Oid,
    ancestors: &[Oid],
) -> Result<bool, Error> {
    for &ancestor in ancestors {
        if ancestor == commit || repo.graph_descendant_of(commit, ancestor)? {
            return Ok(true);
        }
    }
    Ok(false)
}
