//! Everything that can go wrong, with the data a caller needs to act on it.

use std::path::PathBuf;

use git2::Oid;

use crate::authorizations::AuthorizationsError;
use crate::channel::Relation;
use crate::fingerprint::{Fingerprint, FingerprintError};
use crate::keyring::KeyringSource;
use crate::objects::{ObjectError, ObjectRole, Unreadable};
use crate::policy::PolicyRefusal;
use crate::signature::SignatureProblem;

/// Why a repository, a commit or an input is not accepted.
///
/// The variants before [`Error::KeyringNotFound`] are *authentication
/// failures*: the history was checked and is not authentic
/// ([`Error::is_authentication_failure`]). The others mean it could not be
/// checked at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The commit has no `gpgsig` header.
    #[error("commit {commit} lacks a signature")]
    Unsigned {
        /// The unsigned commit.
        commit: Oid,
    },

    /// The signature uses a hash algorithm that is refused here (MD5 always,
    /// SHA-1 once the commit's tree has `.guix-authorizations`).
    #[error("commit {commit} has a {algorithm} signature, which is not permitted")]
    WeakHash {
        /// The commit.
        commit: Oid,
        /// The refused algorithm, e.g. `SHA1`.
        algorithm: String,
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
    },

    /// The issuer of the signature is not in the keyring.
    #[error(
        "could not authenticate commit {commit}: key {issuer} is missing \
         from keyring branch `{keyring}`"
    )]
    MissingKey {
        /// The commit.
        commit: Oid,
        /// The issuer fingerprint (spaced form) or, lacking one, the key ID.
        issuer: String,
        /// The issuer fingerprint, when the signature names one.
        fingerprint: Option<Fingerprint>,
        /// The keyring reference that was read.
        keyring: String,
        /// The branch and commit the keyring was read from (`None` for a
        /// keyring built from files).
        read_from: Option<Box<KeyringSource>>,
    },

    /// The signature does not verify with the issuer's key.
    #[error("signature verification failed for commit {commit} (key {fingerprint}): {reason}")]
    BadSignature {
        /// The commit.
        commit: Oid,
        /// The key the signature claims to come from.
        fingerprint: Fingerprint,
        /// What the verifier said.
        reason: String,
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
            replaced_by.as_ref().map(|r| format!(" (replaced by {r})")).unwrap_or_default())]
    RemovedAuthorizations {
        /// The commit that removed the file.
        commit: Oid,
        /// What stands at that path instead, if anything (a directory, a
        /// submodule).
        replaced_by: Option<String>,
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

    /// The keyring branch does not exist.
    #[error("keyring branch `{reference}` not found")]
    KeyringNotFound {
        /// The reference that was looked up.
        reference: String,
        /// A reference that does exist and looks like the keyring
        /// (`origin/keyring`), if any.
        suggestion: Option<String>,
    },

    /// A `*.key` file on the keyring branch cannot be read.
    #[error("malformed key file `{file}` (blob {blob}) on keyring branch `{reference}`: {reason}")]
    MalformedKey {
        /// The keyring reference.
        reference: String,
        /// The file name in the keyring tree.
        file: String,
        /// Its blob.
        blob: Oid,
        /// What is wrong with it.
        reason: String,
    },

    /// The keyring is larger than this tool is willing to load.
    #[error("keyring branch `{reference}` is too large: {reason}")]
    KeyringTooLarge {
        /// The keyring reference.
        reference: String,
        /// Which limit was exceeded.
        reason: String,
    },

    /// A revision does not name a commit.
    #[error("`{spec}` does not name a commit in this repository: {reason}")]
    NotACommit {
        /// What the caller gave.
        spec: String,
        /// Why it was not accepted.
        reason: String,
    },

    /// A commit id is not 40 hex digits.
    #[error("`{0}` is not a full commit id (40 hex digits)")]
    InvalidCommitId(String),

    /// A signer fingerprint is malformed.
    #[error(transparent)]
    InvalidFingerprint(#[from] FingerprintError),

    /// A channel introduction is not in the expected form.
    #[error("invalid channel introduction: {0}")]
    InvalidIntroduction(String),

    /// Updating from `old` to `new` would not move forward.
    #[error(
        "refusing to update from commit {old} to {new}: the new commit is {} the old one \
         (possible downgrade attack)", relation.describe_new())]
    Downgrade {
        /// The commit currently in use.
        old: Oid,
        /// The proposed commit.
        new: Oid,
        /// How `old` relates to `new`.
        relation: Relation,
    },

    /// `.guix-channel` cannot be read.
    #[error("commit {commit} has a malformed '.guix-channel' (blob {blob}): {reason}")]
    MalformedChannelMetadata {
        /// The commit.
        commit: Oid,
        /// The blob of the file.
        blob: Oid,
        /// What is wrong with it.
        reason: String,
    },

    /// A historical authorizations file given by the caller is unusable.
    #[error("historical authorizations `{}`: {reason}", path.display())]
    HistoricalAuthorizations {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The authentication cache cannot be used.
    #[error("authentication cache `{}`: {reason}", path.display())]
    Cache {
        /// The cache file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },

    /// A cache key that would leave the cache directory.
    #[error("invalid cache key `{0}`: use letters, digits, `-`, `_`, `.` and `/`, without `..`")]
    InvalidCacheKey(String),

    /// Reading or writing the repository's configuration or hooks failed.
    #[error("{what}: {reason}")]
    Config {
        /// What was being done.
        what: String,
        /// Why it failed.
        reason: String,
    },

    /// An object that the verdict depends on could not be read: it is
    /// missing (a partial or shallow clone), altered (its contents do not
    /// hash to its id), damaged or too large.
    #[error("could not read {role}: {source}")]
    UnreadableObject {
        /// What the object is to the rule.
        role: ObjectRole,
        /// The object and what is wrong with it.
        source: ObjectError,
    },

    /// Any other error from the repository.
    #[error("git: {0}")]
    Git(#[from] git2::Error),

    /// Git would substitute objects (replace refs, grafts) that this
    /// library does not: what git shows could differ from what was
    /// authenticated. See [`crate::Substitutions`].
    #[error("git would substitute objects in this repository, so what it checks out could \
             differ from what is authenticated: {}",
            crate::replace::describe(replaced, *replace_refs, grafts.as_deref()))]
    ReplacedObjects {
        /// The first few ids that replace refs replace.
        replaced: Vec<String>,
        /// How many replace refs git would use.
        replace_refs: usize,
        /// The grafts file, when it grafts anything.
        grafts: Option<PathBuf>,
    },

    /// An entry of the keyring tree whose name ends in `.key` is not a
    /// blob (a directory, a submodule), which Guix's `blob-lookup` cannot
    /// read.
    #[error("`{file}` on keyring branch `{reference}` is a {kind}, not a key file (object {id})")]
    KeyNotAFile {
        /// The keyring reference.
        reference: String,
        /// The entry's path in the keyring tree.
        file: String,
        /// The object it names.
        id: Oid,
        /// What it is: `directory`, `submodule`, or `non-blob object` (a
        /// file entry naming a tree or a commit).
        kind: &'static str,
    },

    /// The keyring branch does not point directly at a commit (a symbolic
    /// reference, or a tag, tree or blob), which Guix cannot load.
    #[error("keyring branch `{reference}` ({name}) does not point at a commit: {target}")]
    KeyringNotACommit {
        /// The keyring reference asked for.
        reference: String,
        /// The full name of the reference found.
        name: String,
        /// What it points at (`tag 1a2b…`, `symbolic reference to …`).
        target: String,
    },
}

impl Error {
    /// An unreadable object, with its role.
    pub(crate) fn object(role: ObjectRole, source: ObjectError) -> Self {
        Error::UnreadableObject { role, source }
    }
}

impl From<Unreadable> for Error {
    fn from(Unreadable { role, source }: Unreadable) -> Self {
        Error::UnreadableObject { role, source }
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

impl Error {
    /// A short, stable name for the kind of error (`unsigned`,
    /// `unauthorized`, …), used in machine-readable output.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Unsigned { .. } => "unsigned",
            Error::WeakHash { .. } => "weak-hash",
            Error::MalformedSignature { .. } => "malformed-signature",
            Error::MissingKey { .. } => "missing-key",
            Error::BadSignature { .. } => "bad-signature",
            Error::PolicyViolation { .. } => "policy",
            Error::Unauthorized { .. } => "unauthorized",
            Error::RemovedAuthorizations { .. } => "removed-authorizations",
            Error::MalformedAuthorizations { .. } => "malformed-authorizations",
            Error::WrongIntroductionSigner { .. } => "wrong-introduction-signer",
            Error::NotDescendant { .. } => "not-descendant",
            Error::KeyringNotFound { .. } => "keyring-missing",
            Error::MalformedKey { .. } => "malformed-key",
            Error::KeyringTooLarge { .. } => "keyring-too-large",
            Error::NotACommit { .. } => "not-a-commit",
            Error::InvalidCommitId(_) => "invalid-commit-id",
            Error::InvalidFingerprint(_) => "invalid-fingerprint",
            Error::InvalidIntroduction(_) => "invalid-introduction",
            Error::Downgrade { .. } => "downgrade",
            Error::MalformedChannelMetadata { .. } => "malformed-channel-metadata",
            Error::HistoricalAuthorizations { .. } => "historical-authorizations",
            Error::Cache { .. } => "cache",
            Error::InvalidCacheKey(_) => "invalid-cache-key",
            Error::Config { .. } => "config",
            Error::UnreadableObject { source, .. } if source.is_missing() => "missing-object",
            Error::UnreadableObject { .. } => "unreadable-object",
            Error::Git(_) => "git",
            Error::ReplacedObjects { .. } => "replaced-objects",
            Error::KeyNotAFile { .. } => "malformed-key",
            Error::KeyringNotACommit { .. } => "keyring-not-a-commit",
        }
    }

    /// True when the history was checked and found not authentic, false
    /// when it could not be checked.
    pub fn is_authentication_failure(&self) -> bool {
        matches!(
            self,
            Error::Unsigned { .. }
                | Error::WeakHash { .. }
                | Error::MalformedSignature { .. }
                | Error::MissingKey { .. }
                | Error::BadSignature { .. }
                | Error::PolicyViolation { .. }
                | Error::Unauthorized { .. }
                | Error::RemovedAuthorizations { .. }
                | Error::MalformedAuthorizations { .. }
                | Error::WrongIntroductionSigner { .. }
                | Error::NotDescendant { .. }
                | Error::Downgrade { .. }
        )
    }

    /// The commit the error is about, if any.
    pub fn commit(&self) -> Option<Oid> {
        match self {
            Error::Unsigned { commit }
            | Error::WeakHash { commit, .. }
            | Error::MalformedSignature { commit, .. }
            | Error::MissingKey { commit, .. }
            | Error::BadSignature { commit, .. }
            | Error::PolicyViolation { commit, .. }
            | Error::Unauthorized { commit, .. }
            | Error::RemovedAuthorizations { commit, .. }
            | Error::MalformedAuthorizations { commit, .. }
            | Error::WrongIntroductionSigner { commit, .. }
            | Error::MalformedChannelMetadata { commit, .. } => Some(*commit),
            Error::NotDescendant { end, .. } => Some(*end),
            Error::Downgrade { new, .. } => Some(*new),
            _ => None,
        }
    }

    /// The fingerprint of the key involved, if any.
    pub fn fingerprint(&self) -> Option<&Fingerprint> {
        match self {
            Error::BadSignature { fingerprint, .. }
            | Error::PolicyViolation { fingerprint, .. }
            | Error::Unauthorized { fingerprint, .. } => Some(fingerprint),
            Error::WrongIntroductionSigner { actual, .. } => Some(actual),
            Error::MissingKey { fingerprint, .. } => fingerprint.as_ref(),
            _ => None,
        }
    }

    /// The parents of the commit, where they explain the error.
    pub fn parents(&self) -> Vec<Oid> {
        match self {
            Error::Unauthorized { parents, .. } => parents.iter().map(|p| p.commit).collect(),
            _ => Vec::new(),
        }
    }

    /// What would fix the problem, where that is knowable.
    pub fn hint(&self) -> Option<String> {
        if let Error::ReplacedObjects {
            replaced,
            replace_refs,
            grafts,
        } = self
        {
            return Some(crate::replace::hint(
                replaced,
                *replace_refs,
                grafts.as_deref(),
            ));
        }
        crate::explain::hint(self)
    }
}
