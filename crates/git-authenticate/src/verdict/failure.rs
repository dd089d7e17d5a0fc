//! Why a history is not authentic: the commit, and what is wrong with it.
//!
//! A [`Failure`] means the history was checked and must not be trusted; it
//! is never a problem of this machine or of the repository's storage (an
//! unreadable object, a missing keyring), which make checking impossible
//! and are [`Error`](crate::Error)s. The variants carry what a caller needs
//! to act: the commit, the key, what each parent authorizes.

use std::fmt;

use git2::Oid;

use crate::channel::authorizations::AuthorizationsError;
use crate::openpgp::fingerprint::{Fingerprint, Issuer};
use crate::openpgp::keyring::KeyringSource;
use crate::openpgp::policy::PolicyRefusal;
use crate::openpgp::signature::SignatureProblem;
use untrusted_text::Untrusted;

/// Why a commit, or the history up to it, is not authentic.
///
/// The variants follow the steps of the rule, in the order Guix takes
/// them: the signature, the key, the authorizations (RULE.md steps 1–7),
/// then the introduction and END's descent (RULE.md steps 10–11).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// The commit has no `gpgsig` header.
    #[error("commit {commit} lacks a signature")]
    Unsigned {
        /// The unsigned commit.
        commit: Oid,
        /// Whether it is the introductory commit: signing it would change
        /// its id, which the published introduction names.
        introductory: bool,
    },

    /// The signature uses a hash algorithm that is refused here (MD5 always,
    /// SHA-1 once the commit's tree has `.guix-authorizations`).
    #[error("commit {commit} has a {algorithm} signature, which is not permitted")]
    WeakHash {
        /// The commit.
        commit: Oid,
        /// The refused algorithm.
        algorithm: WeakAlgorithm,
        /// Whether it is the introductory commit: re-signing it would
        /// change its id, which the published introduction names.
        introductory: bool,
    },

    /// The `gpgsig` header is not an ASCII-armored OpenPGP binary-document
    /// signature (an SSH or X.509 signature, garbage, a text-mode
    /// signature…).
    #[error("commit {commit} has an unusable signature: {reason}")]
    MalformedSignature {
        /// The commit.
        commit: Oid,
        /// What is wrong with the signature.
        reason: SignatureProblem,
        /// Whether it is the introductory commit: re-signing it would
        /// change its id, which the published introduction names.
        introductory: bool,
    },

    /// The issuer of the signature is not in the keyring.
    #[error(
        "could not authenticate commit {commit}: key {issuer} is missing \
         from keyring branch `{}`",
        Untrusted::new(keyring)
    )]
    MissingKey {
        /// The commit.
        commit: Oid,
        /// The issuer the signature names: its fingerprint or, lacking
        /// one, its key ID.
        issuer: Issuer,
        /// The keyring reference that was read.
        keyring: String,
        /// The branch and commit the keyring was read from (`None` for a
        /// keyring built from files).
        read_from: Option<Box<KeyringSource>>,
        /// The key of the keyring that GnuPG knows by the issuer's
        /// fingerprint, if one is: it is there under another.
        reencoded: Option<Box<ReencodedKey>>,
    },

    /// The signature does not verify with the issuer's key.
    #[error(
        "signature verification failed for commit {commit} (key {fingerprint}): {}",
        Untrusted::new(reason)
    )]
    BadSignature {
        /// The commit.
        commit: Oid,
        /// The key the signature claims to come from.
        fingerprint: Fingerprint,
        /// What the verifier said.
        reason: String,
        /// Whether it is the introductory commit: re-signing it would
        /// change its id, which the published introduction names.
        introductory: bool,
    },

    /// The strict policy refuses the signing key or the signature.
    #[error(
        "commit {commit} is signed by key {fingerprint}, which the strict policy refuses: {reason}"
    )]
    PolicyViolation {
        /// The commit.
        commit: Oid,
        /// The key that signed.
        fingerprint: Fingerprint,
        /// Why the policy refuses it.
        reason: PolicyRefusal,
        /// Whether it is the introductory commit: re-signing it would
        /// change its id, which the published introduction names.
        introductory: bool,
    },

    /// The signing key is not listed in the `.guix-authorizations` of every
    /// parent.
    #[error("commit {commit} not signed by an authorized key: {fingerprint}")]
    Unauthorized {
        /// The commit.
        commit: Oid,
        /// The fingerprint of the key (primary or subkey) that signed.
        fingerprint: Fingerprint,
        /// When a subkey signed: the fingerprint of its primary key.
        primary: Option<Fingerprint>,
        /// What each parent authorizes, to explain the refusal.
        parents: Vec<ParentAuthorizations>,
    },

    /// The commit lacks `.guix-authorizations` although a parent has it.
    #[error("commit {commit} attempts to remove '.guix-authorizations' file{}",
            replaced_by.map(|r| format!(" (replaced by {r})")).unwrap_or_default())]
    RemovedAuthorizations {
        /// The commit that removed the file.
        commit: Oid,
        /// What stands at that path instead, if anything.
        replaced_by: Option<Replacement>,
    },

    /// The `.guix-authorizations` of a parent could not be read, so the
    /// commit cannot be authenticated.
    #[error(
        "commit {commit} cannot be authenticated: its parent {parent} has a malformed \
         '.guix-authorizations' (blob {blob}): {source}"
    )]
    MalformedAuthorizations {
        /// The commit being authenticated.
        commit: Oid,
        /// Its parent, whose tree holds the file.
        parent: Oid,
        /// The blob of the file.
        blob: Oid,
        /// What is wrong with it.
        source: AuthorizationsError,
    },

    /// The introduction commit is signed by a key other than the expected
    /// signer.
    #[error("initial commit {commit} is signed by '{actual}' instead of '{expected}'")]
    WrongIntroductionSigner {
        /// The introduction commit.
        commit: Oid,
        /// The signer the introduction names.
        expected: Fingerprint,
        /// The key that actually signed.
        actual: Fingerprint,
    },

    /// END does not descend from the introduction (nor from a commit known
    /// to be authentic).
    #[error("commit {end} is not a descendant of introductory commit {introduction}")]
    NotDescendant {
        /// The commit that was to be authenticated.
        end: Oid,
        /// The introduction commit.
        introduction: Oid,
    },
}

/// A hash algorithm too weak for a signature here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeakAlgorithm {
    /// Always refused.
    Md5,
    /// Refused once the commit's tree has `.guix-authorizations`.
    Sha1,
}

impl fmt::Display for WeakAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Sequoia's and Guix's names.
        f.write_str(match self {
            WeakAlgorithm::Md5 => "MD5",
            WeakAlgorithm::Sha1 => "SHA1",
        })
    }
}

/// What stands at `.guix-authorizations` when it is not a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Replacement {
    /// A directory (a tree).
    Directory,
    /// A submodule (a gitlink).
    Submodule,
    /// An entry naming another kind of object.
    Other,
}

impl Replacement {
    /// What a tree entry of this mode is, when it is not a file.
    pub(crate) fn of_mode(mode: u32) -> Self {
        match mode {
            0o040000 => Replacement::Directory,
            0o160000 => Replacement::Submodule,
            _ => Replacement::Other,
        }
    }
}

impl fmt::Display for Replacement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Replacement::Directory => "a directory",
            Replacement::Submodule => "a submodule",
            Replacement::Other => "something that is not a file",
        })
    }
}

/// What one parent of an unauthorized commit authorizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentAuthorizations {
    /// The parent commit.
    pub commit: Oid,
    /// The blob of its `.guix-authorizations`; `None` when the parent has
    /// none and the default (historical) authorizations applied.
    pub blob: Option<Oid>,
    /// Whether it lists the signing key.
    pub lists_signer: bool,
    /// Whether it lists the primary key of the signing subkey.
    pub lists_primary: bool,
}

/// A key whose packet has non-canonical MPIs (a bit count above its
/// value's bits): Guix, like this crate, takes its fingerprint over the
/// packet as published, GnuPG over the key re-encoded canonically, so the
/// fingerprint gpg signs with is not the keyring's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReencodedKey {
    /// Its fingerprint as published (the keyring's and Guix's).
    pub fingerprint: Fingerprint,
    /// The key file on the keyring branch that holds it.
    pub file: String,
}

impl Failure {
    /// A short, stable name for the kind of failure (`unsigned`,
    /// `unauthorized`, …), used in machine-readable output.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Unsigned { .. } => "unsigned",
            Failure::WeakHash { .. } => "weak-hash",
            Failure::MalformedSignature { .. } => "malformed-signature",
            Failure::MissingKey { .. } => "missing-key",
            Failure::BadSignature { .. } => "bad-signature",
            Failure::PolicyViolation { .. } => "policy",
            Failure::Unauthorized { .. } => "unauthorized",
            Failure::RemovedAuthorizations { .. } => "removed-authorizations",
            Failure::MalformedAuthorizations { .. } => "malformed-authorizations",
            Failure::WrongIntroductionSigner { .. } => "wrong-introduction-signer",
            Failure::NotDescendant { .. } => "not-descendant",
        }
    }

    /// The same failure, found on the introductory commit: its hint must
    /// not advise re-signing, which would change the id the published
    /// introduction names.
    pub(crate) fn at_introduction(mut self) -> Self {
        if let Failure::Unsigned { introductory, .. }
        | Failure::WeakHash { introductory, .. }
        | Failure::MalformedSignature { introductory, .. }
        | Failure::BadSignature { introductory, .. }
        | Failure::PolicyViolation { introductory, .. } = &mut self
        {
            *introductory = true;
        }
        self
    }

    /// The commit that is not authentic (END, for
    /// [`Failure::NotDescendant`]).
    pub fn commit(&self) -> Oid {
        match self {
            Failure::Unsigned { commit, .. }
            | Failure::WeakHash { commit, .. }
            | Failure::MalformedSignature { commit, .. }
            | Failure::MissingKey { commit, .. }
            | Failure::BadSignature { commit, .. }
            | Failure::PolicyViolation { commit, .. }
            | Failure::Unauthorized { commit, .. }
            | Failure::RemovedAuthorizations { commit, .. }
            | Failure::MalformedAuthorizations { commit, .. }
            | Failure::WrongIntroductionSigner { commit, .. } => *commit,
            Failure::NotDescendant { end, .. } => *end,
        }
    }

    /// The fingerprint of the key involved, if any.
    pub fn fingerprint(&self) -> Option<&Fingerprint> {
        match self {
            Failure::BadSignature { fingerprint, .. }
            | Failure::PolicyViolation { fingerprint, .. }
            | Failure::Unauthorized { fingerprint, .. } => Some(fingerprint),
            Failure::WrongIntroductionSigner { actual, .. } => Some(actual),
            Failure::MissingKey {
                issuer: Issuer::Fingerprint(fingerprint),
                ..
            } => Some(fingerprint),
            _ => None,
        }
    }

    /// The parents of the commit, where they explain the failure.
    pub fn parents(&self) -> Vec<Oid> {
        match self {
            Failure::Unauthorized { parents, .. } => parents.iter().map(|p| p.commit).collect(),
            _ => Vec::new(),
        }
    }
}
