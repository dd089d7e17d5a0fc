//! Authenticate the history of a Git repository the way GNU Guix
//! authenticates its channels.
//!
//! A channel is authentic from its **introduction** (a commit and the
//! fingerprint of the key that signed it) up to a commit END when every
//! commit in between is signed by a key listed in the `.guix-authorizations`
//! file of **each** of its parents, the public keys coming from the
//! repository's keyring branch. Authenticated commits are cached so that
//! later runs only check what is new.
//!
//! ```no_run
//! use git_authenticate::{authenticate, resolve_commit, Cache, Introduction, NoProgress, Options};
//!
//! # fn main() -> Result<(), git_authenticate::Error> {
//! let repo = git2::Repository::open("nonguix")?;
//! let intro = Introduction::new(
//!     "897c1a470da759236cc11798f4e0a5f7d4d59fbc",
//!     "2A39 3FFF 68F4 EF7A 3D29  12AF 6F51 20A0 22FB B2D5",
//! )?;
//! let options = Options {
//!     keyring_reference: "origin/keyring".into(),
//!     cache: Some(Cache::for_key(&Cache::default_key(&repo))?),
//!     ..Options::default()
//! };
//! let end = resolve_commit(&repo, "origin/master")?;
//! let report = authenticate(&repo, &intro, end, &options, &NoProgress)?;
//! for (signer, commits) in &report.signers {
//!     println!("{signer} {commits:>10}");
//! }
//! # Ok(()) }
//! ```
//!
//! Pull tooling also gets downgrade protection ([`check_update`]) and the
//! channel's metadata ([`ChannelMetadata::at_commit`]); servers get the
//! [`gate`] that refuses unauthenticated pushes, and CI the pre-merge check
//! ([`merge::check_merge`]).
//!
//! The modules follow the concepts of the specification:
//! [`authorizations`] (the `.guix-authorizations` file), [`keyring`],
//! [`signature`], the commit walk, the rule itself, [`cache`],
//! [`introduction`] and [`config`] (what the repository records), and
//! [`channel`] (metadata and the relation between commits). [`replace`]
//! refuses repositories in which git would substitute objects, and
//! [`input`] reads files that may be hostile.

#![warn(missing_docs)]

pub mod authorizations;
pub mod cache;
pub mod channel;
pub mod channel_spec;
pub mod config;
pub mod doctor;
pub mod gate;
pub mod input;
pub mod introduction;
pub mod keyring;
pub mod merge;
pub mod objects;
pub mod open;
pub mod policy;
pub mod replace;
pub mod signature;

mod armor;
mod authenticate;
mod commit;
mod crypto;
mod error;
mod explain;
mod failure;
mod fingerprint;
mod interrupt;
mod memo;
mod pipeline;
mod report;
mod revision;
mod rule;
mod sexp;
mod walk;

pub use authenticate::{authenticate, authenticate_commit, Opener, Options, MAX_JOBS};
pub use authorizations::{Authorizations, AuthorizationsError};
pub use cache::{Cache, CacheError, CacheProblem, CacheWarning};
pub use channel::{
    check_update, commit_relation, ChannelMetadata, ChannelMetadataError, Dependency,
    MetadataError, Relation, UpdateError, UpdatePolicy,
};
pub use channel_spec::{ChannelSpec, ChannelsFile};
pub use crypto::Engine;
pub use error::{Error, HistoricalProblem, RevisionProblem};
pub use failure::{Failure, ParentAuthorizations, Replacement, WeakAlgorithm};
pub use fingerprint::{Fingerprint, FingerprintError, Issuer, KeyId};
pub use introduction::{Introduction, IntroductionError};
pub use keyring::Keyring;
pub use keyring::{KeyProblem, KeyringError, KeyringLimit};
pub use memo::AuthorizationsAtError;
pub use objects::{ObjectRole, Unreadable};
pub use policy::Policy;
pub use replace::{ReplaceObjects, SubstitutionError};
pub use report::{NoProgress, Phase, Progress, Report};
pub use revision::resolve_commit;
pub use sexp::{Position, SyntaxError, SyntaxProblem, UnsupportedSyntax};
pub use signature::SignatureError;

/// Re-exported so that callers use the same `git2` as this crate.
pub use git2;

/// The README's examples are compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
