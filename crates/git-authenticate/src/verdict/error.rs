//! Everything that can go wrong, with the data a caller needs to act on it.

use std::path::PathBuf;

use git2::Oid;

use crate::cache::CacheError;
use crate::channel::authorizations::AuthorizationsError;
use crate::channel::introduction::{CommitIdError, IntroductionError};
use crate::channel::metadata::{MetadataError, UpdateError};
use crate::git::input::InputError;
use crate::git::objects::{Kind, Unreadable};
use crate::git::open::OpenError;
use crate::git::replace::SubstitutionError;
use crate::openpgp::fingerprint::{Fingerprint, FingerprintError};
use crate::openpgp::keyring::KeyringError;
use crate::verdict::failure::Failure;
use crate::verdict::report::Report;
use untrusted_text::Untrusted;

/// Why a repository, a commit or an input is not accepted.
///
/// [`Error::NotAuthentic`], [`Error::CommitNotAuthentic`] and a downgrade
/// refused by [`Error::Update`] mean the history was checked and must not
/// be trusted
/// ([`Error::is_authentication_failure`]); the others mean it could not be
/// checked at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The history was checked and is not authentic: the report says why
    /// ([`Report::failures`], never empty), and what was checked.
    #[error("{}", .0.failures.first().map_or_else(String::new, ToString::to_string))]
    NotAuthentic(Box<Report>),

    /// The commit given to [`authenticate_commit`](crate::authenticate_commit)
    /// was checked and is not authentic: why.
    #[error("{0}")]
    CommitNotAuthentic(Box<Failure>),

    /// The keyring cannot be loaded.
    #[error(transparent)]
    Keyring(#[from] KeyringError),

    /// The caller's cache cannot be named.
    #[error(transparent)]
    Cache(#[from] CacheError),

    /// The caller interrupted the run ([`Options::interrupt`](crate::Options::interrupt)).
    #[error("interrupted")]
    Interrupted,

    /// A revision does not name a commit.
    #[error(
        "`{}` does not name a commit in this repository: {reason}",
        Untrusted::new(spec)
    )]
    NotACommit {
        /// What the caller gave.
        spec: String,
        /// Why it was not accepted.
        reason: RevisionProblem,
    },

    /// A commit id is not 40 hex digits.
    #[error("`{}` is not a full commit id (40 hex digits)", Untrusted::new(.0))]
    InvalidCommitId(String),

    /// A signer fingerprint is malformed.
    #[error(transparent)]
    InvalidFingerprint(#[from] FingerprintError),

    /// A channel introduction is not in the expected form.
    #[error("invalid channel introduction: {0}")]
    InvalidIntroduction(IntroductionError),

    /// The update check refuses the new commit, or could not walk the
    /// history ([`check_update`](crate::check_update)).
    #[error(transparent)]
    Update(#[from] UpdateError),

    /// `.guix-channel` cannot be read
    /// ([`ChannelMetadata::at_commit`](crate::ChannelMetadata::at_commit)).
    #[error(transparent)]
    Metadata(#[from] MetadataError),

    /// A historical authorizations file given by the caller is unusable.
    #[error("historical authorizations `{}`: {reason}", path.display())]
    HistoricalAuthorizations {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: HistoricalProblem,
    },

    /// An object that the verdict depends on could not be read: it is
    /// missing (a partial or shallow clone), altered (its contents do not
    /// hash to its id), damaged or too large.
    #[error(transparent)]
    Unreadable(#[from] Unreadable),

    /// Any other error from the repository.
    #[error("git: {}", Untrusted::new(&.0.to_string()))]
    Git(#[from] git2::Error),

    /// The repository cannot be opened safely (see [`crate::open_repository`]).
    #[error(transparent)]
    Open(#[from] OpenError),

    /// Git would substitute objects (replace refs, grafts) that this
    /// library does not, or whether it would could not be told.
    #[error(transparent)]
    Substitution(#[from] SubstitutionError),

    /// A revision git would find ambiguous (and warn about): refused
    /// rather than resolved to one of its meanings, which a hostile server
    /// can choose (a tag named `origin/master`, which `git fetch` follows).
    #[error(transparent)]
    Ambiguous(#[from] AmbiguousRevision),
}

/// A revision that names more than one thing, by git's rules: several of
/// `NAME`, `refs/NAME`, `refs/tags/NAME`, `refs/heads/NAME`,
/// `refs/remotes/NAME` and `refs/remotes/NAME/HEAD` exist, or a short hex
/// id is both an object's prefix and a reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{}` is ambiguous: it could mean {}; name one in full",
    Untrusted::new(spec),
    meanings(refs, *object)
)]
pub struct AmbiguousRevision {
    /// What the caller gave.
    pub spec: String,
    /// The references it could name, full names, in git's order.
    pub refs: Vec<String>,
    /// The object a short hex id could name too, if any.
    pub object: Option<Oid>,
}

fn meanings(refs: &[String], object: Option<Oid>) -> String {
    let refs = refs.iter().map(|r| format!("`{}`", Untrusted::new(r)));
    let object = object.map(|id| format!("object {id}"));
    refs.chain(object).collect::<Vec<_>>().join(" or ")
}

/// Why a revision does not name a commit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevisionProblem {
    /// Git does not know it.
    #[error("{}", Untrusted::new(git))]
    Unknown {
        /// What libgit2 said.
        git: String,
    },
    /// It names another kind of object.
    #[error("it names a {0}, not a commit")]
    Names(Kind),
    /// It names a tag pointing at another kind of object.
    #[error("it names a tag pointing at a {0}, not a commit")]
    TagOf(Kind),
    /// Tags pointing at tags, more than `limit` deep.
    #[error("it names a chain of more than {limit} tags")]
    TagChain {
        /// The most tags followed.
        limit: usize,
    },
    /// The commit is nowhere in a repository that is not shallow: a
    /// mistyped id, or a branch not fetched.
    #[error("the commit is not in the repository at all (not a shallow clone): check its id, or fetch the channel's branch")]
    Absent,
}

/// Why a historical authorizations file is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoricalProblem {
    /// It cannot be read.
    #[error(transparent)]
    Unreadable(#[from] InputError),
    /// It does not read as `.guix-authorizations` does.
    #[error(transparent)]
    Malformed(#[from] AuthorizationsError),
}

impl From<IntroductionError> for Error {
    /// Keeps the kinds the CLI reports: a bad commit id or signer is
    /// reported as such, whatever form held it.
    fn from(error: IntroductionError) -> Self {
        match error {
            IntroductionError::CommitId(CommitIdError { input }) => Error::InvalidCommitId(input),
            IntroductionError::Signer(e) => Error::InvalidFingerprint(e),
            e => Error::InvalidIntroduction(e),
        }
    }
}

impl From<CommitIdError> for Error {
    fn from(CommitIdError { input }: CommitIdError) -> Self {
        Error::InvalidCommitId(input)
    }
}

impl Error {
    /// The first failure, when the history is not authentic.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Error::NotAuthentic(report) => report.failures.first(),
            Error::CommitNotAuthentic(failure) => Some(failure),
            _ => None,
        }
    }

    /// The report of a run that found the history not authentic.
    pub fn report(&self) -> Option<&Report> {
        match self {
            Error::NotAuthentic(report) => Some(report),
            _ => None,
        }
    }

    /// A short, stable name for the kind of error (`unsigned`,
    /// `unauthorized`, …), used in machine-readable output: the first
    /// failure's, when the history is not authentic.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NotAuthentic(report) => report
                .failures
                .first()
                .map_or("not-authentic", Failure::kind),
            Error::CommitNotAuthentic(failure) => failure.kind(),
            Error::Keyring(e) => e.kind(),
            Error::Cache(e) => e.kind(),
            Error::Interrupted => "interrupted",
            Error::NotACommit { .. } => "not-a-commit",
            Error::InvalidCommitId(_) => "invalid-commit-id",
            Error::InvalidFingerprint(_) => "invalid-fingerprint",
            Error::InvalidIntroduction(_) => "invalid-introduction",
            Error::Update(UpdateError::Downgrade { .. }) => "downgrade",
            Error::Update(UpdateError::Git(_)) => "git",
            Error::Metadata(MetadataError::Malformed { .. }) => "malformed-channel-metadata",
            Error::Metadata(MetadataError::Unreadable(unreadable)) => unreadable.kind(),
            Error::Metadata(MetadataError::Git(_)) => "git",
            Error::HistoricalAuthorizations { .. } => "historical-authorizations",
            Error::Unreadable(unreadable) => unreadable.kind(),
            Error::Git(_) => "git",
            Error::Open(_) => "repository",
            Error::Substitution(SubstitutionError::Substituted { .. }) => "replaced-objects",
            Error::Substitution(SubstitutionError::Git(_)) => "git",
            Error::Ambiguous(_) => "ambiguous-revision",
        }
    }

    /// True when the history was checked and found not authentic, false
    /// when it could not be checked.
    pub fn is_authentication_failure(&self) -> bool {
        matches!(
            self,
            Error::NotAuthentic(_)
                | Error::CommitNotAuthentic(_)
                | Error::Update(UpdateError::Downgrade { .. })
        )
    }

    /// The commit the error is about, if any.
    pub fn commit(&self) -> Option<Oid> {
        match self {
            Error::NotAuthentic(_) | Error::CommitNotAuthentic(_) => {
                self.failure().map(Failure::commit)
            }
            Error::Metadata(MetadataError::Malformed { commit, .. }) => Some(*commit),
            Error::Update(UpdateError::Downgrade { new, .. }) => Some(*new),
            _ => None,
        }
    }

    /// The fingerprint of the key involved, if any.
    pub fn fingerprint(&self) -> Option<&Fingerprint> {
        self.failure().and_then(Failure::fingerprint)
    }

    /// The parents of the commit, where they explain the error.
    pub fn parents(&self) -> Vec<Oid> {
        self.failure().map(Failure::parents).unwrap_or_default()
    }
}
