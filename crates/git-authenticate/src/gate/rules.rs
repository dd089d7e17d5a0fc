//! The gate's rules on what a push does to the server's refs, beyond the
//! authenticity of commits: which ref git really updates (through symbolic
//! refs), names that a case-folding file system would confuse, keys a
//! keyring update drops, and tips that would stop a branch for good.

use std::collections::{HashMap, HashSet};

use git2::{Oid, Repository};

use crate::channel::authorizations::Authorizations;
use crate::openpgp::fingerprint::Fingerprint;
use crate::openpgp::keyring::Keyring;
use crate::rule::memo::AuthorizationsAtError;

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

/// The namespaces whose refs the gate checks, as git names them.
const CHECKED_NAMESPACES: [&str; 3] = ["refs/heads", "refs/tags", "refs/replace"];

/// `name` with its namespace spelt as git spells it, when that differs
/// from `name`'s only as a case-folding file system ignores
/// (`refs/Heads/master` is `refs/heads/master` there): such a name would
/// escape the gate's checks while git updates the checked ref.
pub(super) fn folded_namespace(name: &str) -> Option<String> {
    let mut parts = name.splitn(3, '/');
    let (Some(first), Some(second), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let folded = fold_case(&format!("{first}/{second}"));
    CHECKED_NAMESPACES
        .iter()
        .find(|namespace| **namespace == folded)
        .map(|namespace| format!("{namespace}/{rest}"))
        .filter(|canonical| canonical != name)
}

/// The server's branches and tags that are symbolic refs, by the ref
/// their chain reaches: users fetch that ref's commits under each alias's
/// name too, so its updates follow the aliases' rules as well.
pub(super) fn aliases(repo: &Repository) -> HashMap<String, Vec<String>> {
    let mut aliases: HashMap<String, Vec<String>> = HashMap::new();
    for glob in ["refs/heads/*", "refs/tags/*"] {
        let Ok(references) = repo.references_glob(glob) else {
            continue;
        };
        for reference in references.flatten() {
            let Some(name) = reference
                .symbolic_target_bytes()
                .and_then(|_| reference.name().ok())
            else {
                continue;
            };
            if let Ok(Some(target)) = updated_ref(repo, name) {
                aliases.entry(target).or_default().push(name.to_owned());
            }
        }
    }
    aliases
}

/// Names by their case-folded form: on a case-folding file system, the
/// names of one form are one loose ref file.
#[derive(Debug, Default)]
pub(super) struct FoldedNames(HashMap<String, Vec<String>>);

impl FoldedNames {
    /// Adds `name`.
    pub(super) fn insert(&mut self, name: &str) {
        let names = self.0.entry(fold_case(name)).or_default();
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }

    /// A name other than `name` that folds as it does (when the server
    /// already holds such a pair, either name finds the other).
    pub(super) fn other(&self, name: &str) -> Option<&str> {
        let names = self.0.get(&fold_case(name))?;
        names.iter().map(String::as_str).find(|n| *n != name)
    }
}

/// The server's existing refs in `namespace` (`refs/heads/`) that
/// `guarded` selects (protected or keyring branches, every tag), without
/// `namespace`: a new name folding as one of them does, on a case-folding
/// file system, would be the same loose ref file.
pub(super) fn guarded_refs(
    repo: &Repository,
    namespace: &str,
    guarded: impl Fn(&str) -> bool,
) -> FoldedNames {
    let mut branches = FoldedNames::default();
    let Ok(references) = repo.references_glob(&format!("{namespace}*")) else {
        return branches;
    };
    // A name that is not UTF-8 is passed over: no pushed name can be the
    // same file (such pushes are refused, see `UpdateLineError::NotUtf8`),
    // and the case-folding file systems (APFS, NTFS) hold UTF-8 names only.
    for reference in references.flatten() {
        let Some(branch) = reference
            .name()
            .ok()
            .and_then(|name| name.strip_prefix(namespace))
        else {
            continue;
        };
        if guarded(branch) {
            branches.insert(branch);
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
/// What is not a file there (a directory, a submodule) counts as no file,
/// as for Guix, whose `blob-lookup` of it fails as "not found".
pub(super) fn removes_authorizations(repo: &Repository, commit: Oid) -> Result<bool, Refusal> {
    let has_file = |commit: Oid| -> Result<bool, Refusal> {
        match Authorizations::at_commit(repo, commit) {
            Ok(listed) => Ok(listed.is_some()),
            // A file that does not parse is a file all the same.
            Err(AuthorizationsAtError::Malformed { .. }) => Ok(true),
            Err(AuthorizationsAtError::Unreadable(e)) => Err(Refusal::CouldNotCheck(e.into())),
            Err(AuthorizationsAtError::Git(e)) => Err(Refusal::CouldNotCheck(e.into())),
        }
    };
    if has_file(commit)? {
        return Ok(false);
    }
    let parents = repo
        .find_commit(commit)
        .map_err(|e| Refusal::CouldNotCheck(e.into()))?
        .parent_ids()
        .collect::<Vec<_>>();
    for parent in parents {
        if has_file(parent)? {
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
