//! The rule: a commit is authentic when it is signed by a key that the
//! `.guix-authorizations` file of each of its parents lists.
//!
//! Each step below is a step of the specification ("Authenticating one
//! commit C"), in the same order, so that a commit failing several ways is
//! reported for the same reason Guix reports.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use git2::{Commit, ObjectType, Oid, Repository};
use sequoia_openpgp::types::HashAlgorithm;

use crate::authorizations::{self, Authorizations, AuthorizationsError};
use crate::error::{Error, ParentAuthorizations};
use crate::fingerprint::Fingerprint;
use crate::keyring::{Keyring, KeyringKey};
use crate::signature::CommitSignature;

/// The rule, with what it needs: the keyring, the default authorizations
/// for commits whose parents have none, and memos shared by every thread.
pub(crate) struct Rule<'a> {
    pub keyring: &'a Keyring,
    pub default_authorizations: &'a Authorizations,
    memo: Memo,
}

/// What stands at `.guix-authorizations` in a commit's tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthorizationsEntry {
    /// A blob (a regular file, or a symlink whose target text is read as
    /// the file, as Guix does).
    File(Oid),
    /// A directory or submodule: Guix cannot read it as a blob and treats
    /// it as absent.
    NotAFile(&'static str),
    Absent,
}

impl AuthorizationsEntry {
    fn is_present(self) -> bool {
        self != AuthorizationsEntry::Absent
    }
}

#[derive(Default)]
struct Memo {
    entries: Mutex<HashMap<Oid, AuthorizationsEntry>>,
    parsed: Mutex<HashMap<Oid, Result<Arc<Authorizations>, AuthorizationsError>>>,
}

impl<'a> Rule<'a> {
    pub fn new(keyring: &'a Keyring, default_authorizations: &'a Authorizations) -> Self {
        Rule {
            keyring,
            default_authorizations,
            memo: Memo::default(),
        }
    }

    /// Authenticates commit `id`; returns the fingerprint of its signing
    /// key.
    pub fn authenticate_commit(&self, repo: &Repository, id: Oid) -> Result<Fingerprint, Error> {
        let commit = repo.find_commit(id)?;
        // Steps 1–5: a good signature, by a key of the keyring, with a hash
        // strong enough. SHA-1 is tolerated only in old history, before the
        // commit's tree had `.guix-authorizations`.
        let recent_commit = self.entry(&commit)?.is_present();
        let signing_key = self.commit_signing_key(repo, id, recent_commit)?;
        // Steps 6–7: its exact key is authorized by every parent.
        let authorized = self.commit_authorized_keys(repo, &commit)?;
        if !authorized.contains(signing_key.fingerprint()) {
            return Err(self.unauthorized(repo, &commit, signing_key));
        }
        Ok(signing_key.fingerprint().clone())
    }

    /// The key that made a good signature on commit `id`.
    pub fn commit_signing_key(
        &self,
        repo: &Repository,
        id: Oid,
        refuse_sha1: bool,
    ) -> Result<&'a KeyringKey, Error> {
        let signature = CommitSignature::read(repo, id)?;
        let algorithm = signature.hash_algorithm();
        if algorithm == HashAlgorithm::MD5 || (refuse_sha1 && algorithm == HashAlgorithm::SHA1) {
            return Err(Error::WeakHash {
                commit: id,
                algorithm: algorithm.to_string(),
            });
        }
        signature.verify(self.keyring)
    }

    /// Step 6: the intersection of what each parent authorizes; the
    /// default authorizations for a root commit.
    fn commit_authorized_keys(
        &self,
        repo: &Repository,
        commit: &Commit,
    ) -> Result<Arc<Authorizations>, Error> {
        let mut parents = commit.parent_ids();
        let Some(first) = parents.next() else {
            return Ok(Arc::new(self.default_authorizations.clone()));
        };
        let mut authorized = self.parent_authorizations(repo, first)?;
        for parent in parents {
            let other = self.parent_authorizations(repo, parent)?;
            authorized = Arc::new(authorized.intersection(&other));
        }
        Ok(authorized)
    }

    /// What parent `id` authorizes: its `.guix-authorizations`, or, when it
    /// has none, the default authorizations — unless it removed the file
    /// that one of its own parents had.
    fn parent_authorizations(
        &self,
        repo: &Repository,
        id: Oid,
    ) -> Result<Arc<Authorizations>, Error> {
        let parent = repo.find_commit(id)?;
        let replaced_by = match self.entry(&parent)? {
            AuthorizationsEntry::File(blob) => return self.parse(repo, id, blob),
            AuthorizationsEntry::NotAFile(kind) => Some(kind.to_owned()),
            AuthorizationsEntry::Absent => None,
        };
        for grandparent in parent.parents() {
            if self.entry(&grandparent)?.is_present() {
                return Err(Error::RemovedAuthorizations {
                    commit: id,
                    replaced_by,
                });
            }
        }
        Ok(Arc::new(self.default_authorizations.clone()))
    }

    /// `.guix-authorizations` in the tree of `commit`, looked up once.
    fn entry(&self, commit: &Commit) -> Result<AuthorizationsEntry, Error> {
        if let Some(entry) = self.memo.entries.lock().unwrap().get(&commit.id()) {
            return Ok(*entry);
        }
        let tree = commit.tree()?;
        let entry = match tree.get_name(authorizations::FILE_NAME) {
            None => AuthorizationsEntry::Absent,
            Some(e) => match e.kind() {
                Some(ObjectType::Blob) => AuthorizationsEntry::File(e.id()),
                Some(ObjectType::Tree) => AuthorizationsEntry::NotAFile("a directory"),
                Some(ObjectType::Commit) => AuthorizationsEntry::NotAFile("a submodule"),
                _ => AuthorizationsEntry::NotAFile("something that is not a file"),
            },
        };
        self.memo.entries.lock().unwrap().insert(commit.id(), entry);
        Ok(entry)
    }

    /// The parsed blob, parsed once however many commits share it.
    fn parse(
        &self,
        repo: &Repository,
        commit: Oid,
        blob: Oid,
    ) -> Result<Arc<Authorizations>, Error> {
        let cached = self.memo.parsed.lock().unwrap().get(&blob).cloned();
        let parsed = match cached {
            Some(parsed) => parsed,
            None => {
                let parsed = read_authorizations(repo, blob)?;
                self.memo
                    .parsed
                    .lock()
                    .unwrap()
                    .insert(blob, parsed.clone());
                parsed
            }
        };
        parsed.map_err(|source| Error::MalformedAuthorizations {
            commit,
            blob,
            source,
        })
    }

    /// The refusal, with what each parent authorizes so that the message
    /// can say what would fix it.
    fn unauthorized(&self, repo: &Repository, commit: &Commit, key: &KeyringKey) -> Error {
        let parents = commit
            .parent_ids()
            .map(|parent| {
                let authorized = self.parent_authorizations(repo, parent).ok();
                let lists = |f: &Fingerprint| authorized.as_ref().is_some_and(|a| a.contains(f));
                let blob =
                    repo.find_commit(parent)
                        .ok()
                        .and_then(|p| match self.entry(&p).ok()? {
                            AuthorizationsEntry::File(blob) => Some(blob),
                            _ => None,
                        });
                ParentAuthorizations {
                    commit: parent,
                    blob,
                    lists_signer: lists(key.fingerprint()),
                    lists_primary: key.is_subkey() && lists(key.primary()),
                }
            })
            .collect();
        Error::Unauthorized {
            commit: commit.id(),
            fingerprint: key.fingerprint().clone(),
            primary: key.is_subkey().then(|| key.primary().clone()),
            parents,
        }
    }
}

/// Reads and parses a `.guix-authorizations` blob, refusing oversized ones
/// before loading them.
fn read_authorizations(
    repo: &Repository,
    blob: Oid,
) -> Result<Result<Arc<Authorizations>, AuthorizationsError>, Error> {
    let (size, _) = repo.odb()?.read_header(blob)?;
    if size > authorizations::MAX_SIZE {
        return Ok(Err(AuthorizationsError::TooLarge {
            size,
            limit: authorizations::MAX_SIZE,
        }));
    }
    let blob = repo.find_blob(blob)?;
    Ok(Authorizations::parse(blob.content()).map(Arc::new))
}
