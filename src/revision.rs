//! Revisions as callers name them: ids, branches, tags, git's revision
//! expressions, resolved to a commit without trusting any object read.

use git2::{Oid, Repository};

use crate::error::{Error, RevisionProblem};
use crate::objects::{Kind, ObjectError, ObjectProblem, ObjectRole, Objects};

/// Resolves a revision (full or short id, branch, tag, or any of git's
/// revision expressions) to a commit, peeling annotated tags.
///
/// Ids and reference names are resolved without reading any object, and
/// tags are peeled by reading them verified, so that a damaged or forged
/// object is reported rather than followed.
pub fn resolve_commit(repo: &Repository, spec: &str) -> Result<Oid, Error> {
    let not_a_commit = |reason: RevisionProblem| Error::NotACommit {
        spec: spec.to_owned(),
        reason,
    };
    let id = match named_object(repo, spec) {
        Some(id) => id,
        None => repo
            .revparse_single(spec)
            .map_err(|e| {
                not_a_commit(RevisionProblem::Unknown {
                    git: e.message().to_owned(),
                })
            })?
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
    NotACommit(RevisionProblem),
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
            Peeled::Error(
                ObjectError { id, kind, problem }
                    .as_role(role.clone())
                    .into(),
            )
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
            other if tagged => return Err(Peeled::NotACommit(RevisionProblem::TagOf(other))),
            other => return Err(Peeled::NotACommit(RevisionProblem::Names(other))),
        }
    }
    Err(Peeled::NotACommit(RevisionProblem::TagChain {
        limit: MAX_TAG_CHAIN,
    }))
}

/// The `object` line of an annotated tag.
fn tag_target(data: &[u8]) -> Option<Oid> {
    let line = data.split(|&b| b == b'\n').next()?;
    let hex = std::str::from_utf8(line.strip_prefix(b"object ")?).ok()?;
    (hex.len() == 40).then(|| Oid::from_str(hex).ok())?
}
