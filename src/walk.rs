//! Which commits to check: those reachable from END but not from the
//! introduction nor from any commit already known to be authentic.

use git2::{Oid, Repository, Sort};

use crate::error::Error;

/// The commits reachable from `end` but not from `hidden` (the
/// introduction and the known-authentic commits), oldest first (every commit
/// after its parents), as `git rev-list --topo-order --reverse END
/// ^HIDDEN…` lists them.
pub(crate) fn commits_to_check(
    repo: &Repository,
    end: Oid,
    hidden: &[Oid],
) -> Result<Vec<Oid>, Error> {
    let mut walk = repo.revwalk()?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)?;
    walk.push(end)?;
    for &commit in hidden {
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
