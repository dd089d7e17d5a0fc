//! The rule: a commit is authentic when it is signed by a key that the
//! `.guix-authorizations` file of each of its parents lists.
//!
//! Each step below is a step of the specification ("Authenticating one
//! commit C"), in the same order, so that a commit failing several ways is
//! reported for the same reason Guix reports.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use git2::Oid;
use sequoia_openpgp::types::HashAlgorithm;

use crate::authorizations::{self, Authorizations, AuthorizationsError};
use crate::commit::{tree_entry, CommitObject};
use crate::error::{Error, ParentAuthorizations};
use crate::fingerprint::Fingerprint;
use crate::keyring::{Keyring, KeyringKey};
use crate::objects::ObjectRole;
use crate::objects::{Kind, ObjectProblem, Objects};
use crate::policy::Policy;
use crate::signature::CommitSignature;
use crate::walk::ParentHeader;

/// The rule, with what it needs: the keyring, the default authorizations
/// for commits whose parents have none, and memos shared by every thread.
pub(crate) struct Rule<'a> {
    pub keyring: &'a Keyring,
    pub default_authorizations: &'a Authorizations,
    pub policy: Policy,
    memo: Memo,
}

/// What stands at `.guix-authorizations` in a commit's tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthorizationsEntry {
    /// An entry with this mode and object id. Guix reads it as the file
    /// when the object is a blob (a regular file, or a symlink whose target
    /// text is then parsed); otherwise (a directory, a submodule) it treats
    /// the file as absent.
    Present(u32, Oid),
    Absent,
}

impl AuthorizationsEntry {
    fn is_present(self) -> bool {
        self != AuthorizationsEntry::Absent
    }
}

/// What the rule needs to know of a commit as a parent: what stands at
/// `.guix-authorizations` in its tree, and its own parents (to tell a
/// removal).
#[derive(Debug, Clone)]
struct CommitFacts {
    entry: AuthorizationsEntry,
    parents: Vec<Oid>,
}

/// Facts are kept for this many commits at most, so that memory stays
/// bounded on any history; a forgotten commit is simply read again.
const MEMO_LIMIT: usize = 1 << 17;

/// A `.guix-authorizations` object, read.
#[derive(Debug, Clone)]
enum Parsed {
    Blob(Result<Arc<Authorizations>, AuthorizationsError>),
    NotABlob,
}

#[derive(Default)]
struct Memo {
    facts: Mutex<HashMap<Oid, CommitFacts>>,
    parsed: Mutex<HashMap<Oid, Parsed>>,
}

impl Memo {
    fn facts(&self, id: Oid) -> Option<CommitFacts> {
        self.facts.lock().unwrap().get(&id).cloned()
    }

    fn remember(&self, id: Oid, facts: CommitFacts) {
        let mut memo = self.facts.lock().unwrap();
        if memo.len() >= MEMO_LIMIT {
            memo.clear();
        }
        memo.insert(id, facts);
    }
}

impl<'a> Rule<'a> {
    pub fn new(
        keyring: &'a Keyring,
        default_authorizations: &'a Authorizations,
        policy: Policy,
    ) -> Self {
        Rule {
            keyring,
            default_authorizations,
            policy,
            memo: Memo::default(),
        }
    }

    /// Authenticates `commit`; returns the fingerprint of its signing key.
    pub fn authenticate_commit(
        &self,
        objects: &Objects,
        commit: &CommitObject,
    ) -> Result<Fingerprint, Error> {
        // Steps 1–5: a good signature, by a key of the keyring, with a hash
        // strong enough. SHA-1 is tolerated only in old history, before the
        // commit's tree had `.guix-authorizations`.
        let recent_commit = self.facts_of(objects, commit)?.entry.is_present();
        let signing_key = self.commit_signing_key(commit, recent_commit)?;
        // Steps 6–7: its exact key is authorized by every parent.
        let authorized = self.commit_authorized_keys(objects, commit.id, &commit.parents)?;
        if !authorized.contains(signing_key.fingerprint()) {
            return Err(self.unauthorized(objects, commit, signing_key));
        }
        Ok(signing_key.fingerprint().clone())
    }

    /// The key that made a good signature on `commit`.
    pub fn commit_signing_key(
        &self,
        commit: &CommitObject,
        refuse_sha1: bool,
    ) -> Result<&'a KeyringKey, Error> {
        let signature = CommitSignature::of(commit)?;
        let algorithm = signature.hash_algorithm();
        if algorithm == HashAlgorithm::MD5 || (refuse_sha1 && algorithm == HashAlgorithm::SHA1) {
            return Err(Error::WeakHash {
                commit: commit.id,
                algorithm: algorithm.to_string(),
            });
        }
        let key = signature.verify(self.keyring)?;
        match self.policy.refusal(self.keyring, key, signature.packet()) {
            None => Ok(key),
            Some(reason) => Err(Error::PolicyViolation {
                commit: commit.id,
                fingerprint: key.fingerprint().clone(),
                reason,
            }),
        }
    }

    /// Step 6: the intersection of what each parent authorizes; the
    /// default authorizations for a root commit.
    pub(crate) fn commit_authorized_keys(
        &self,
        objects: &Objects,
        child: Oid,
        parents: &[Oid],
    ) -> Result<Arc<Authorizations>, Error> {
        let Some((&first, others)) = parents.split_first() else {
            return Ok(Arc::new(self.default_authorizations.clone()));
        };
        let mut authorized = self.parent_authorizations(objects, child, first)?;
        for &parent in others {
            let other = self.parent_authorizations(objects, child, parent)?;
            authorized = Arc::new(authorized.intersection(&other));
        }
        Ok(authorized)
    }

    /// What parent `id` of `child` authorizes: its `.guix-authorizations`,
    /// or, when it has none, the default authorizations — unless it removed
    /// the file that one of its own parents had.
    fn parent_authorizations(
        &self,
        objects: &Objects,
        child: Oid,
        id: Oid,
    ) -> Result<Arc<Authorizations>, Error> {
        let parent = self.facts(objects, id)?;
        let replaced_by = match parent.entry {
            AuthorizationsEntry::Present(mode, object) => {
                match self.parse(objects, id, mode, object)? {
                    Parsed::Blob(parsed) => {
                        return parsed.map_err(|source| Error::MalformedAuthorizations {
                            commit: child,
                            parent: id,
                            blob: object,
                            source,
                        })
                    }
                    Parsed::NotABlob => Some(describe_mode(mode).to_owned()),
                }
            }
            AuthorizationsEntry::Absent => None,
        };
        for &grandparent in &parent.parents {
            if self.facts(objects, grandparent)?.entry.is_present() {
                return Err(Error::RemovedAuthorizations {
                    commit: id,
                    replaced_by,
                });
            }
        }
        Ok(Arc::new(self.default_authorizations.clone()))
    }

    /// The facts of commit `id`, read once.
    fn facts(&self, objects: &Objects, id: Oid) -> Result<CommitFacts, Error> {
        match self.memo.facts(id) {
            Some(facts) => Ok(facts),
            None => self.facts_of(objects, &CommitObject::read_from(objects, id)?),
        }
    }

    fn facts_of(&self, objects: &Objects, commit: &CommitObject) -> Result<CommitFacts, Error> {
        self.facts_from(objects, commit.id, commit.tree, &commit.parents)
    }

    /// Learns what the rule needs of a parent whose header the commit walk
    /// read, so that checking its children does not read it again.
    pub fn learn(&self, objects: &Objects, parent: &ParentHeader) -> Result<(), Error> {
        self.facts_from(objects, parent.id, parent.tree, &parent.parents)
            .map(drop)
    }

    fn facts_from(
        &self,
        objects: &Objects,
        id: Oid,
        tree: Oid,
        parents: &[Oid],
    ) -> Result<CommitFacts, Error> {
        if let Some(facts) = self.memo.facts(id) {
            return Ok(facts);
        }
        let entry = match tree_entry(objects, id, tree, authorizations::FILE_NAME.as_bytes())? {
            None => AuthorizationsEntry::Absent,
            Some((mode, object)) => AuthorizationsEntry::Present(mode, object),
        };
        let facts = CommitFacts {
            entry,
            parents: parents.to_vec(),
        };
        self.memo.remember(id, facts.clone());
        Ok(facts)
    }

    /// The object at `.guix-authorizations` in the tree of `commit`, read
    /// and parsed once however many commits share it.
    fn parse(
        &self,
        objects: &Objects,
        commit: Oid,
        mode: u32,
        object: Oid,
    ) -> Result<Parsed, Error> {
        if let Some(parsed) = self.memo.parsed.lock().unwrap().get(&object) {
            return Ok(parsed.clone());
        }
        let parsed = read_authorizations(objects, commit, mode, object)?;
        let mut memo = self.memo.parsed.lock().unwrap();
        if memo.len() >= MEMO_LIMIT {
            memo.clear();
        }
        memo.insert(object, parsed.clone());
        Ok(parsed)
    }

    /// The refusal, with what each parent authorizes so that the message
    /// can say what would fix it.
    fn unauthorized(&self, objects: &Objects, commit: &CommitObject, key: &KeyringKey) -> Error {
        let parents = commit
            .parents
            .iter()
            .map(|&parent| {
                let authorized = self.parent_authorizations(objects, commit.id, parent).ok();
                let lists = |f: &Fingerprint| authorized.as_ref().is_some_and(|a| a.contains(f));
                let blob = match self.facts(objects, parent).map(|f| f.entry) {
                    Ok(AuthorizationsEntry::Present(_, blob)) => Some(blob),
                    _ => None,
                };
                ParentAuthorizations {
                    commit: parent,
                    blob,
                    lists_signer: lists(key.fingerprint()),
                    lists_primary: key.is_subkey() && lists(key.primary()),
                }
            })
            .collect();
        Error::Unauthorized {
            commit: commit.id,
            fingerprint: key.fingerprint().clone(),
            primary: key.is_subkey().then(|| key.primary().clone()),
            parents,
        }
    }
}

/// How a non-blob entry at `.guix-authorizations` is described.
fn describe_mode(mode: u32) -> &'static str {
    match mode {
        0o040000 => "a directory",
        0o160000 => "a submodule",
        _ => "something that is not a file",
    }
}

/// A gitlink: the id of a commit of another repository.
const GITLINK: u32 = 0o160000;

/// Reads and parses the `.guix-authorizations` object of `commit`.
///
/// Guix looks the entry's object up as a blob: another kind of object
/// (a directory) is "no file" to it, and so is an absent one. Only a
/// gitlink may be absent here, as its commit lives in another repository:
/// any other missing object is an error, or a partial clone lacking the
/// blob would make a stricter file look absent. A blob is read whatever
/// the entry's mode says, as Guix does.
fn read_authorizations(
    objects: &Objects,
    commit: Oid,
    mode: u32,
    object: Oid,
) -> Result<Parsed, Error> {
    let unreadable = |problem| {
        let source = crate::objects::ObjectError {
            id: object,
            kind: Kind::Blob,
            problem,
        };
        Error::object(ObjectRole::AuthorizationsOf(commit), source)
    };
    let limit = authorizations::MAX_SIZE as u64;
    match objects.read_any(object, limit) {
        Ok((Kind::Blob, data)) => Ok(Parsed::Blob(Authorizations::parse(&data).map(Arc::new))),
        Ok(_) => Ok(Parsed::NotABlob),
        Err(ObjectProblem::Missing) if mode == GITLINK => Ok(Parsed::NotABlob),
        Err(ObjectProblem::TooLarge {
            kind: Kind::Blob,
            size,
            ..
        }) => Ok(Parsed::Blob(Err(AuthorizationsError::TooLarge {
            size: size as usize,
            limit: authorizations::MAX_SIZE,
        }))),
        Err(problem) => Err(unreadable(problem)),
    }
}
