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
//! ([`check_merge`]); maintainers the [`doctor`].
//!
//! # The API's shape
//!
//! Each public item has one path. Authentication and its vocabulary are at
//! the top level: the inputs ([`Introduction`], [`Options`], [`Keyring`],
//! [`Authorizations`], [`Cache`], [`Policy`], [`Configuration`]), the
//! verdict ([`Report`], its [`Failure`]s, and the [`Error`]s that mean the
//! history could not be checked, each operation with a small error type of
//! its own: [`KeyringError`], [`CacheError`], [`MetadataError`],
//! [`IntroductionError`], [`UpdateError`]…), following a run ([`Progress`],
//! [`Options::interrupt`]), and the checks around it ([`check_update`], [`check_merge`],
//! [`Substitutions`]). Limits are associated constants of the type they
//! bound ([`Authorizations::MAX_SIZE`], [`Keyring::MAX_KEYS`]). Only two
//! modules are public, each a sub-API with words of its own: [`gate`]
//! (`Verdict`, `Refusal`) and [`doctor`] (`Options`, `Problem`).
//!
//! The library reads no git configuration and installs no hooks: as in
//! Guix, where `guix git authenticate` reads `guix.authentication.*` and
//! the library takes parameters, the command does, and gives what is
//! recorded to the [`gate`] and the [`doctor`] as a [`Configuration`].
//!
//! # The modules
//!
//! One concept each, in the order of the rule: the `.guix-authorizations`
//! file (`authorizations`), the `keyring`, a commit's `signature`, the
//! rule for one commit (`rule`, with what it remembers of parents in
//! `memo`), the commits to check (`walk`), the threads that check them
//! (`pipeline`), the history-wide rule in Guix's order (`authenticate`),
//! what a run reports (`report`, `failure`), the `cache`, and what a
//! channel records (`introduction`, `channel`, `channel_spec`). Around
//! them: `objects` (every object read verified), `open` and `input`
//! (hostile files), `replace` (git's substitutions), `error` (which
//! aggregates the others' errors and is named by none of the modules
//! below it).
//!
//! The `fuzzing` feature (not a stable API) adds a `fuzzing` module: the
//! parsers' entry points the fuzz targets call, and the choice of
//! signature verification engine, for differential testing.

#![warn(missing_docs)]
#![warn(unnameable_types)]

pub mod doctor;
pub mod gate;

mod armor;
mod authenticate;
mod authorizations;
mod cache;
mod channel;
mod channel_spec;
mod commit;
mod configuration;
mod crypto;
mod error;
mod explain;
mod failure;
mod fingerprint;
mod input;
mod interrupt;
mod introduction;
mod keyring;
mod memo;
mod merge;
mod objects;
mod open;
mod packet;
mod pipeline;
mod policy;
mod replace;
mod report;
mod revision;
mod rule;
mod sexp;
mod signature;
mod untrusted;
mod walk;

pub use armor::ArmorError;
pub use authenticate::{authenticate, authenticate_commit, Opener, Options};
pub use authorizations::{Authorizations, AuthorizationsError, AuthorizationsShape};
pub use cache::{
    Cache, CacheAction, CacheError, CacheProblem, CacheWarning, Cached, Conditions, UnsafeEntry,
};
pub use channel::{
    check_update, commit_relation, ChannelMetadata, ChannelMetadataError, Dependency, FieldProblem,
    MetadataError, MetadataProblem, Relation, UpdateError, UpdatePolicy,
};
pub use channel_spec::{ChannelSpec, ChannelsFile};
pub use configuration::Configuration;
pub use error::{AmbiguousRevision, Error, HistoricalProblem, RevisionProblem};
pub use failure::{Failure, ParentAuthorizations, ReencodedKey, Replacement, WeakAlgorithm};
pub use fingerprint::{Fingerprint, FingerprintError, FingerprintFilter, Issuer, KeyId};
pub use input::{read_regular_file, InputError};
pub use introduction::{
    openpgp_fingerprint, CommitIdError, Introduction, IntroductionError, IntroductionForm,
};
pub use keyring::{KeyProblem, Keyring, KeyringError, KeyringKey, KeyringLimit, KeyringSource};
pub use memo::AuthorizationsAtError;
pub use merge::{check_merge, MergeCheck, MergeSigner, MergeVerdict};
pub use objects::{Kind as ObjectKind, ObjectError, ObjectProblem, ObjectRole, Unreadable};
pub use open::{open_repository, open_repository_from_env, OpenError};
pub use packet::{KeyPacketProblem, MpiProblem};
pub use policy::{NonCanonical, Policy, PolicyRefusal};
pub use replace::{GitEnvironment, ReplaceObjects, SubstitutionError, Substitutions};
pub use report::{NoProgress, Phase, Progress, Report};
pub use revision::resolve_commit;
pub use sexp::{Position, SyntaxError, SyntaxProblem, UnsupportedSyntax};
pub use signature::{CommitSignature, ForeignFormat, SignatureError, SignatureProblem};
pub use untrusted::Untrusted;

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;

/// Re-exported so that callers use the same `git2` as this crate.
pub use git2;

/// The README's examples are compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
