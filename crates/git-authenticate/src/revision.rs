//! Revisions as callers name them: ids, branches, tags, git's revision
//! expressions, resolved to a commit without trusting any object read.

use git2::{Oid, Repository};

use crate::git::objects::{Kind, ObjectError, ObjectProblem, ObjectRole, Objects};
use crate::verdict::error::{AmbiguousRevision, Error, RevisionProblem};

/// Resolves a revision (full or short id, branch, tag, or any of git's
/// revision expressions) to a commit, peeling annotated tags.
///
/// Ids and reference names are resolved without reading any object, and
/// tags are peeled by reading them verified, so that a damaged or forged
/// object is reported rather than followed.
///
/// A name git would find ambiguous (and warn about) is refused with
/// [`Error::Ambiguous`]: `origin/master` when a tag `origin/master` exists
/// too, or a short id that is also a reference's name. A full 40-digit id
/// always names the object, as in git.
pub fn resolve_commit(repo: &Repository, spec: &str) -> Result<Oid, Error> {
    refuse_ambiguous(repo, spec)?;
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

/// The forms git's `refname dwim` tries for a name (`ref_rev_parse_rules`
/// in git's `refs.c`), in its order.
const DWIM_RULES: [(&str, &str); 6] = [
    ("", ""),
    ("refs/", ""),
    ("refs/tags/", ""),
    ("refs/heads/", ""),
    ("refs/remotes/", ""),
    ("refs/remotes/", "/HEAD"),
];

/// Refuses `spec` if git would find it ambiguous. In a revision
/// expression (`NAME~2`, `NAME^{commit}`, `NAME@{1}`), the name it starts
/// with is what is looked up.
fn refuse_ambiguous(repo: &Repository, spec: &str) -> Result<(), AmbiguousRevision> {
    let end = [spec.find(['~', '^', ':']), spec.find("@{")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(spec.len());
    let name = &spec[..end];
    let hex = name.len() <= 40 && name.bytes().all(|b| b.is_ascii_hexdigit());
    // A full id is the object; `HEAD` is the repository's HEAD, which
    // git's dwim tries first (a tag named `HEAD` from a hostile server is
    // never what it means, and must not stop every default run).
    if name.is_empty() || name.len() == 40 && hex || name == "HEAD" {
        return Ok(());
    }
    let refs: Vec<String> = DWIM_RULES
        .iter()
        .map(|(prefix, suffix)| format!("{prefix}{name}{suffix}"))
        .filter(|full| reference_exists(repo, full))
        .collect();
    let object = match hex && name.len() >= 4 && !refs.is_empty() {
        true => object_prefix(repo, name),
        false => None,
    };
    match refs.len() > 1 || object.is_some() {
        true => Err(AmbiguousRevision {
            spec: spec.to_owned(),
            refs,
            object,
        }),
        false => Ok(()),
    }
}

/// Whether `name` is a reference that resolves to an object id, as git's
/// dwim counts it (a dangling symbolic reference does not).
fn reference_exists(repo: &Repository, name: &str) -> bool {
    git2::Reference::is_valid_name(name)
        && repo
            .find_reference(name)
            .and_then(|r| r.resolve())
            .is_ok_and(|r| r.target().is_some())
}

/// The one object whose id starts with `prefix`, if there is one.
fn object_prefix(repo: &Repository, prefix: &str) -> Option<Oid> {
    let short = Oid::from_str(prefix).ok()?;
    repo.odb().ok()?.exists_prefix(short, prefix.len()).ok()
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
            .read_any(id, crate::git::objects::limit(Kind::Commit))
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
