//! The rule: a commit is authentic when it is signed by a key that the
//! `.guix-authorizations` file of each of its parents lists.
//!
//! As Guix's `guix/git-authenticate.scm`: [`Rule::commit_signing_key`],
//! [`Rule::commit_authorized_keys`] and [`Rule::authenticate_commit`]. Each
//! step is a step of the rule for one commit (RULE.md steps 1–7), in the
//! same order, so that a commit failing several ways is reported for the
//! same reason Guix reports. What the rule reads of parents is
//! remembered by the [`Memo`].

use std::sync::Arc;

use git2::Oid;
use sequoia_openpgp::types::HashAlgorithm;

use crate::channel::authorizations::Authorizations;
use crate::git::commit::CommitObject;
use crate::git::objects::{Objects, Unreadable};
use crate::openpgp::fingerprint::{Fingerprint, Issuer};
use crate::openpgp::keyring::{Keyring, KeyringKey};
use crate::openpgp::policy::Policy;
use crate::openpgp::signature::{CommitSignature, SignatureError};
use crate::rule::memo::{AuthorizationsEntry, Memo, Parsed};
use crate::verdict::error::Error;
use crate::verdict::failure::{
    Failure, ParentAuthorizations, ReencodedKey, Replacement, WeakAlgorithm,
};

/// Why a commit was not found authentic: it is not ([`Stop::Failure`]), or
/// it could not be checked ([`Stop::Error`]).
#[derive(Debug)]
pub(crate) enum Stop {
    Failure(Failure),
    Error(Error),
}

impl From<Failure> for Stop {
    fn from(failure: Failure) -> Self {
        Stop::Failure(failure)
    }
}

impl From<Unreadable> for Stop {
    fn from(unreadable: Unreadable) -> Self {
        Stop::Error(unreadable.into())
    }
}

/// SHA-1 signatures: refused only where the commit's tree has
/// `.guix-authorizations` (and always for the introduction), as in Guix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sha1 {
    Tolerated,
    Refused,
}

/// The rule, with what it needs: the keyring, the default authorizations
/// for commits whose parents have none, and the memo shared by every
/// thread.
pub(crate) struct Rule<'a> {
    keyring: &'a Keyring,
    default_authorizations: Arc<Authorizations>,
    policy: Policy,
    pub memo: Memo,
}

impl<'a> Rule<'a> {
    pub fn new(
        keyring: &'a Keyring,
        default_authorizations: &Authorizations,
        policy: Policy,
    ) -> Self {
        Rule {
            keyring,
            default_authorizations: Arc::new(default_authorizations.clone()),
            policy,
            memo: Memo::default(),
        }
    }

    /// Authenticates `commit`; returns the fingerprint of its signing key.
    pub fn authenticate_commit(
        &self,
        objects: &Objects,
        commit: &CommitObject,
    ) -> Result<Fingerprint, Stop> {
        // RULE.md steps 1–5: a good signature, by a key of the keyring, with a hash
        // strong enough. SHA-1 is tolerated only in old history, before the
        // commit's tree had `.guix-authorizations`.
        let sha1 = match self.memo.facts_of(objects, commit)?.entry.is_present() {
            true => Sha1::Refused,
            false => Sha1::Tolerated,
        };
        let signing_key = self.commit_signing_key(commit, sha1)?;
        // RULE.md steps 6–7: its exact key is authorized by every parent.
        let authorized = self.commit_authorized_keys(objects, commit.id, &commit.parents)?;
        if !authorized.contains(signing_key.fingerprint()) {
            return Err(self.unauthorized(objects, commit, signing_key).into());
        }
        Ok(signing_key.fingerprint().clone())
    }

    /// The key that made a good signature on `commit`.
    pub fn commit_signing_key(
        &self,
        commit: &CommitObject,
        sha1: Sha1,
    ) -> Result<&'a KeyringKey, Stop> {
        let signature = CommitSignature::of(commit).map_err(|e| self.signature(commit.id, e))?;
        let algorithm = match signature.hash_algorithm() {
            HashAlgorithm::MD5 => Some(WeakAlgorithm::Md5),
            HashAlgorithm::SHA1 if sha1 == Sha1::Refused => Some(WeakAlgorithm::Sha1),
            _ => None,
        };
        if let Some(algorithm) = algorithm {
            return Err(Failure::WeakHash {
                commit: commit.id,
                algorithm,
                introductory: false,
            }
            .into());
        }
        let key = signature
            .verify(self.keyring)
            .map_err(|e| self.signature(commit.id, e))?;
        match self.policy.refusal(self.keyring, key, &signature) {
            None => Ok(key),
            Some(reason) => Err(Failure::PolicyViolation {
                commit: commit.id,
                fingerprint: key.fingerprint().clone(),
                reason,
                introductory: false,
            }
            .into()),
        }
    }

    /// RULE.md step 6: the intersection of what each parent authorizes; the
    /// default authorizations for a root commit.
    pub fn commit_authorized_keys(
        &self,
        objects: &Objects,
        child: Oid,
        parents: &[Oid],
    ) -> Result<Arc<Authorizations>, Stop> {
        let Some((&first, others)) = parents.split_first() else {
            return Ok(self.default_authorizations.clone());
        };
        let (first_blob, first) = self.parent_listing(objects, child, first)?;
        let mut blobs = vec![first_blob];
        let mut listings = vec![first];
        for &parent in others {
            let (blob, listing) = self.parent_listing(objects, child, parent)?;
            blobs.push(blob);
            listings.push(listing);
        }
        // Each distinct set of parents' files is intersected once, however
        // many merges share it: a merge of two big files costs their size
        // once, not once per merge.
        Ok(self.memo.intersection(blobs, || {
            let (first, others) = listings.split_first().expect("a parent");
            others.iter().fold(first.clone(), |authorized, other| {
                match Arc::ptr_eq(&authorized, other) {
                    true => authorized,
                    false => Arc::new(authorized.intersection(other)),
                }
            })
        }))
    }

    /// [`Rule::parent_authorizations`], with the blob it was read from
    /// (`None` for the default authorizations).
    fn parent_listing(
        &self,
        objects: &Objects,
        child: Oid,
        id: Oid,
    ) -> Result<(Option<Oid>, Arc<Authorizations>), Stop> {
        let listing = self.parent_authorizations(objects, child, id)?;
        let blob = match Arc::ptr_eq(&listing, &self.default_authorizations) {
            true => None,
            false => match self.memo.facts(objects, id)?.entry {
                AuthorizationsEntry::Present(_, blob) => Some(blob),
                AuthorizationsEntry::Absent => None,
            },
        };
        Ok((blob, listing))
    }

    /// What parent `id` of `child` authorizes: its `.guix-authorizations`,
    /// or, when it has none, the default authorizations — unless it removed
    /// the file that one of its own parents had.
    fn parent_authorizations(
        &self,
        objects: &Objects,
        child: Oid,
        id: Oid,
    ) -> Result<Arc<Authorizations>, Stop> {
        let parent = self.memo.facts(objects, id)?;
        let replaced_by = match parent.entry {
            AuthorizationsEntry::Present(mode, blob) => {
                match self.memo.parsed(objects, id, mode, blob)? {
                    Parsed::Blob(parsed) => {
                        return parsed.map_err(|source| {
                            Stop::Failure(Failure::MalformedAuthorizations {
                                commit: child,
                                parent: id,
                                blob,
                                source,
                            })
                        })
                    }
                    Parsed::NotABlob => Some(Replacement::of_mode(mode)),
                }
            }
            AuthorizationsEntry::Absent => None,
        };
        for &grandparent in parent.parents.iter() {
            if self.memo.facts(objects, grandparent)?.entry.is_present() {
                return Err(Failure::RemovedAuthorizations {
                    commit: id,
                    replaced_by,
                }
                .into());
            }
        }
        Ok(self.default_authorizations.clone())
    }

    /// The key of the keyring that GnuPG knows by a missing issuer's
    /// fingerprint, if any (see [`ReencodedKey`]).
    fn reencoded(&self, issuer: &Issuer) -> Option<Box<ReencodedKey>> {
        let Issuer::Fingerprint(fingerprint) = issuer else {
            return None;
        };
        let key = self.keyring.by_gnupg_fingerprint(fingerprint)?;
        Some(Box::new(ReencodedKey {
            fingerprint: key.fingerprint().clone(),
            file: key.file().to_owned(),
        }))
    }

    /// A signature that does not make `commit` signed by a key of the
    /// keyring, as the failure it is.
    fn signature(&self, commit: Oid, error: SignatureError) -> Stop {
        Stop::Failure(match error {
            SignatureError::Unsigned => Failure::Unsigned {
                commit,
                introductory: false,
            },
            SignatureError::Malformed(reason) => Failure::MalformedSignature {
                commit,
                reason,
                introductory: false,
            },
            SignatureError::MissingKey(issuer) => Failure::MissingKey {
                commit,
                reencoded: self.reencoded(&issuer),
                issuer,
                keyring: self.keyring.reference().to_owned(),
                read_from: self.keyring.source().cloned().map(Box::new),
            },
            SignatureError::Bad {
                fingerprint,
                reason,
            } => Failure::BadSignature {
                commit,
                fingerprint,
                reason,
                introductory: false,
            },
            SignatureError::Unreadable(unreadable) => return unreadable.into(),
        })
    }

    /// The refusal, with what each parent authorizes so that the message
    /// can say what would fix it.
    fn unauthorized(&self, objects: &Objects, commit: &CommitObject, key: &KeyringKey) -> Failure {
        let parents = commit
            .parents
            .iter()
            .map(|&parent| {
                let authorized = self.parent_authorizations(objects, commit.id, parent).ok();
                let lists = |f: &Fingerprint| authorized.as_ref().is_some_and(|a| a.contains(f));
                let blob = match self.memo.facts(objects, parent).map(|f| f.entry) {
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
        Failure::Unauthorized {
            commit: commit.id,
            fingerprint: key.fingerprint().clone(),
            primary: key.is_subkey().then(|| key.primary().clone()),
            parents,
        }
    }
}
