//! The gate's rules on what a push does to the server's refs, beyond the
//! authenticity of commits: which ref git really updates (through symbolic
//! refs), names that a case-folding file system would confuse, keys a
//! keyring update drops, and tips that would stop a branch for good.

use std::collections::{HashMap, HashSet};

use git2::{Oid, Repository};

use crate::fingerprint::Fingerprint;
use crate::keyring::Keyring;

use super::pattern::fold_case;
use super::Refusal;

/// How many symbolic refs git follows before giving up
/// (`SYMREF_MAXDEPTH` in git's `refs.h`).
const SYMREF_MAX_DEPTH: usize = 5;

/// The ref git updates when a push names `name`: `None` when `name` is not
/// a symbolic ref on the server, else the end of its chain (which need not
/// exist yet: a push through a dangling symbolic ref creates it).
pub(super) fn updated_ref(repo: &Repository, name: &str) -> Result<Option<String>, Refusal> {
    let mut current = name.to_owned();
    for _ in 0..=SYMREF_MAX_DEPTH {
        let next = match repo.find_reference(&current) {
            Ok(reference) => reference.symbolic_target_bytes().map(<[u8]>::to_vec),
            Err(e) if e.code() == git2::ErrorCode::NotFound => None,
            Err(e) => return Err(Refusal::CouldNotCheck(e.into())),
        };
        match next {
            Some(target) => {
                current = String::from_utf8(target).map_err(|e| Refusal::SymbolicRefNotUtf8 {
                    target: e.into_bytes(),
                })?
            }
            None if current == name => return Ok(None),
            None => return Ok(Some(current)),
        }
    }
    Err(Refusal::SymbolicRefLoop { last: current })
}

/// The server's existing branches that are protected or keyring branches,
/// by their case-folded names: a new name folding to one of them, on a
/// case-folding file system, would be the same loose ref file.
pub(super) fn guarded_branches(
    repo: &Repository,
    guarded: impl Fn(&str) -> bool,
) -> HashMap<String, String> {
    let mut branches = HashMap::new();
    let Ok(references) = repo.references_glob("refs/heads/*") else {
        return branches;
    };
    // A name that is not UTF-8 is passed over: no pushed name can be the
    // same file (such pushes are refused, see `UpdateLineError::NotUtf8`),
    // and the case-folding file systems (APFS, NTFS) hold UTF-8 names only.
    for reference in references.flatten() {
        let Some(branch) = reference
            .name()
            .ok()
            .and_then(|name| name.strip_prefix("refs/heads/"))
        else {
            continue;
        };
        if guarded(branch) {
            branches.insert(fold_case(branch), branch.to_owned());
        }
    }
    branches
}

/// The fingerprints (of primary keys and subkeys) that `old` holds and
/// `new` does not: the keys users would lose.
pub(super) fn removed_keys(old: &Keyring, new: &Keyring) -> Vec<Fingerprint> {
    let mut seen = HashSet::new();
    old.keys()
        .iter()
        .map(|key| key.fingerprint())
        .filter(|fingerprint| new.by_fingerprint(fingerprint).is_empty())
        .filter(|fingerprint| seen.insert(*fingerprint))
        .cloned()
        .collect()
}

/// Whether `commit` removes `.guix-authorizations` that one of its parents
/// has: Guix authenticates such a commit (its authorizations are its
/// parents') but refuses every commit made on top of it
/// (`assert-parents-lack-authorizations` in `guix/git-authenticate.scm`).
pub(super) fn removes_authorizations(repo: &Repository, commit: Oid) -> Result<bool, Refusal> {
    let has_file = |commit: &git2::Commit| -> Result<bool, Refusal> {
        let tree = commit
            .tree()
            .map_err(|e| Refusal::CouldNotCheck(e.into()))?;
        let found = tree.get_name(crate::authorizations::FILE_NAME).is_some();
        Ok(found)
    };
    let commit = repo
        .find_commit(commit)
        .map_err(|e| Refusal::CouldNotCheck(e.into()))?;
    if has_file(&commit)? {
        return Ok(false);
    }
    for parent in commit.parents() {
        if has_file(&parent)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether `old` and `new` have a common ancestor: a rewrite that diverged
/// from the old history rather than one unrelated to it.
pub(super) fn share_history(repo: &Repository, old: Oid, new: Oid) -> bool {
    repo.merge_base(old, new).is_ok()
}
