//! Authenticate the history of a Git repository the way GNU Guix
//! authenticates its channels.
//!
//! A channel is authentic from its **introduction** (a commit and the
//! fingerprint of the key that signed it) up to a commit END when every
//! commit in between is signed by a key listed in the `.guix-authorizations`
//! file of **each** of its parents, the public keys coming from the
//! repository's keyring branch. The rule is Guix's, step by step
//! (`doc/RULE.md` in the repository); authenticated commits are cached so
//! that later runs only check what is new.
//!
//! # Pulling a channel
//!
//! What pull tooling does: take the introduction from the user's channels
//! file, refuse downgrades, read the keyring branch's name from the
//! channel's metadata, and check only what is new.
//!
//! ```rust,no_run
//! use git_authenticate::{authenticate, check_update, resolve_commit, Cache, ChannelMetadata,
//!                        Introduction, NoProgress, Options, UpdatePolicy};
//!
//! fn main() -> Result<(), git_authenticate::Error> {
//!     let repo = git_authenticate::git2::Repository::open("checkout")?;
//!     // The introduction as the user's channels file gives it.
//!     let channels = std::fs::read_to_string("channels.scm").expect("a channels file");
//!     let intro = Introduction::from_channels_file(&channels, "nonguix")?;
//!     let new = resolve_commit(&repo, "origin/master")?;
//!     // Refuse downgrades: the new commit must descend from the one in use
//!     // (`UpdatePolicy::AllowDowngrades` is `guix pull --allow-downgrades`).
//!     let old = resolve_commit(&repo, "HEAD")?;
//!     check_update(&repo, old, new, UpdatePolicy::ForwardOnly)?;
//!     // The keyring branch comes from the channel's metadata.
//!     let metadata = ChannelMetadata::at_commit(&repo, new)?;
//!     let options = Options {
//!         keyring_reference: format!("origin/{}", metadata.keyring_reference),
//!         cache: Some(Cache::for_key("channels/nonguix")?),
//!         // The commit in use was authenticated when it was pulled, as
//!         // Guix's `authenticate-channel` assumes: only what is new is checked.
//!         authentic_commits: vec![old],
//!         ..Options::default()
//!     };
//!     match authenticate(&repo, &intro, new, &options, &NoProgress) {
//!         Ok(report) => println!("{} new commits authenticated", report.checked),
//!         Err(git_authenticate::Error::NotAuthentic(report)) => {
//!             for failure in &report.failures {
//!                 eprintln!("{failure} ({})", failure.kind());
//!             }
//!             std::process::exit(1);
//!         }
//!         Err(could_not_check) => return Err(could_not_check),
//!     }
//!     Ok(())
//! }
//! ```
//!
//! A history that is not authentic is `Err(Error::NotAuthentic(report))`,
//! so that `?` never lets it through; the [`Report`] says what was checked
//! (commits, signers, cache warnings) and why it failed: its `failures`,
//! each a [`Failure`] (the commit, and typed data: the refused hash
//! algorithm, the issuer's fingerprint or key ID, what replaced
//! `.guix-authorizations`, what each parent authorizes), the first one, or
//! all of them with `Options::keep_going`. Every other [`Error`] means the
//! history could not be checked; each operation has a small error type of
//! its own ([`KeyringError`], [`CacheError`], [`SignatureError`],
//! [`SubstitutionError`], [`AuthorizationsAtError`]…), and `kind()`,
//! `commit()` and `hint()` say what a person needs (the hints name git and
//! gpg commands).
//!
//! Also for pull tooling:
//! - `Options::interrupt`: an `AtomicBool` the caller sets (from a signal
//!   handler, another thread) to stop a run within milliseconds
//!   (`Error::Interrupted`; nothing is recorded in the cache);
//! - [`Progress`]: the run's phases ([`Phase`]), how many commits the walk
//!   has found, and an observer told each commit's signer or failure as it
//!   is checked;
//! - `Options::keyring`: a keyring the caller loaded or built
//!   ([`Keyring`]) instead of the keyring branch;
//! - `Options::opener`: how the checking threads open the repository, for a
//!   handle that sees objects some other way than its path (by default the
//!   path is opened again, with `GIT_OBJECT_DIRECTORY` and
//!   `GIT_ALTERNATE_OBJECT_DIRECTORIES` as git's environment gives them);
//! - [`authenticate_commit`]: one commit, as Guix's `authenticate-commit`;
//! - [`Authorizations`]: what a commit's `.guix-authorizations` lists, as
//!   the rule reads it.
//!
//! # Introductions and channel metadata
//!
//! [`Introduction::from_channel_form`] reads an introduction in every form
//! users and channels write it: `(make-channel-introduction "COMMIT"
//! (openpgp-fingerprint "FPR"))`, the `.guix-channel` form
//! `(channel-introduction (version 0) (commit "…") (signer "…"))`, a whole
//! `(channel (name 'x) (url "…") … (introduction …))` entry, or a channels
//! file with a single channel. [`Introduction::from_channels_file`] picks a
//! channel by name from a channels file (`(list (channel …) …)`, `(cons*
//! (channel …) … %default-channels)`, `append`, `%default-guix-channel`),
//! and [`ChannelsFile`] gives every [`ChannelSpec`] (name, URL, branch,
//! commit, introduction). The channels file is not evaluated: other
//! expressions are refused. As in Guix, a signer's non-hex characters are
//! dropped (`openpgp-fingerprint`); here it must then be a v4 fingerprint.
//!
//! [`ChannelMetadata`] is the whole `.guix-channel`, read as Guix's
//! `read-channel-metadata` reads it: `(version 0)` first, `directory`
//! (default `/`), `keyring-reference` (default `keyring`), `news-file`,
//! `url` and `dependencies`, each a [`Dependency`] whose introduction is
//! optional:
//!
//! ```rust
//! use git_authenticate::{ChannelMetadata, ChannelMetadataError, Introduction};
//!
//! let metadata = ChannelMetadata::parse(br#"
//!   (channel
//!    (version 0)
//!    (url "https://example.org/my-channel.git")
//!    (keyring-reference "my-keyring")
//!    (dependencies
//!     (channel
//!      (name guix)
//!      (url "https://git.guix.gnu.org/guix.git")
//!      (introduction
//!       (channel-introduction
//!        (version 0)
//!        (commit "9edb3f66fd807b096b48283debdcddccfea34bad")
//!        (signer "BBB0 2DDF 2CEA F6A8 0D1D  E643 A2A0 6DF2 A33A 54FA"))))
//!     (channel (name other) (url "https://example.org/other.git") (branch "main"))))"#)?;
//! assert_eq!(metadata.keyring_reference, "my-keyring");
//! assert_eq!(metadata.dependencies[0].introduction, Some(Introduction::guix()));
//! assert_eq!(metadata.dependencies[1].introduction, None);
//! assert!(matches!(
//!     ChannelMetadata::parse(b"(channel (version 1))"),
//!     Err(ChannelMetadataError::UnsupportedVersion { .. })
//! ));
//! # Ok::<(), ChannelMetadataError>(())
//! ```
//!
//! Each operation has its error type: [`ChannelMetadataError`] (which
//! field, what is wrong, or a [`SyntaxError`] with its position),
//! [`MetadataError`] for [`ChannelMetadata::at_commit`] (malformed, naming
//! the commit and blob, or unreadable when an object is missing from a
//! partial clone), [`IntroductionError`] and [`UpdateError`]; each converts
//! into [`Error`]. A `.guix-channel` is at most 1 MiB, 32 levels deep and
//! 256 dependencies.
//!
//! # The API's shape
//!
//! Each public item has one path. Authentication and its vocabulary are at
//! the top level: the inputs ([`Introduction`], [`Options`], [`Keyring`],
//! [`Authorizations`], [`Cache`], [`Policy`], [`Configuration`]), the
//! verdict ([`Report`], its [`Failure`]s, and the [`Error`]s that mean the
//! history could not be checked), following a run ([`Progress`]), and the
//! checks around it ([`check_update`], [`commit_relation`], [`check_merge`],
//! the pre-merge check of `merge-check`, and [`Substitutions`], what git
//! would substitute). Limits are associated constants of the type they
//! bound ([`Authorizations::MAX_SIZE`], [`Keyring::MAX_KEYS`],
//! [`Cache::MAX_ENTRIES`], [`CommitSignature::MAX_SIZE`]). Only three modules
//! are public, each a sub-API with words of its own: [`gate`] (the server's
//! `Gate`, `Verdict`, `Refusal`), [`doctor`] (`diagnose`, `Problem`,
//! `Severity`) and [`mod@audit`] (`Change`, `AuditedKey`, `Finding`); the
//! audit's entry point, [`audit()`], [`Audit`] and [`AuditOptions`] are
//! also at the top level, beside [`authenticate`] which it runs first. Strings from a repository are hostile when printed: show
//! them through [`Untrusted`].
//!
//! The library reads no git configuration and installs no hooks: as in
//! Guix, where `guix git authenticate` reads `guix.authentication.*` and
//! the library takes parameters, the command does, and gives what is
//! recorded to the [`gate`] and the [`doctor`] as a [`Configuration`].
//!
//! The `fuzzing` cargo feature, which is not a stable API, adds the
//! parsers' entry points for the fuzz targets and the choice of signature
//! verification engine.
//!
//! # Performance
//!
//! Signature checks dominate, and they run in dependencies: a debug build
//! of a program using this library checks a history many times slower
//! (nonguix: about 60 times) unless dependencies are optimised, in the
//! program's `Cargo.toml`:
//!
//! ```toml
//! [profile.dev.package."*"]
//! opt-level = 2
//! ```
//!
//! For long histories, call [`tune_libgit2`] at the start of `main`, as
//! the `git-authenticate` binary does: each object is read once, and
//! libgit2's caches and pack windows would otherwise grow to hundreds of
//! megabytes.

#![warn(missing_docs)]
#![warn(unnameable_types)]

// The folders are the layers. From the bottom: git, openpgp, channel,
// cache, verdict, rule, authenticate, revision, merge, then gate,
// doctor and audit; each uses only those below it, and no modules use each other in
// a cycle (checked by tests/layers.rs).
pub mod audit;
mod authenticate;
mod cache;
mod channel;
pub mod doctor;
pub mod gate;
mod git;
mod merge;
mod openpgp;
mod revision;
mod rule;
mod verdict;

pub use audit::{audit, Audit, AuditOptions};
pub use authenticate::{authenticate, authenticate_commit, Opener, Options};
pub use cache::{
    Cache, CacheAction, CacheError, CacheProblem, CacheWarning, Cached, Conditions, UnsafeEntry,
};
pub use channel::authorizations::{Authorizations, AuthorizationsError, AuthorizationsShape};
pub use channel::configuration::Configuration;
pub use channel::files::{ChannelSpec, ChannelsFile};
pub use channel::introduction::{
    openpgp_fingerprint, CommitIdError, Introduction, IntroductionError, IntroductionForm,
};
pub use channel::metadata::{
    check_update, commit_relation, ChannelMetadata, ChannelMetadataError, Dependency, FieldProblem,
    MetadataError, MetadataProblem, Relation, UpdateError, UpdatePolicy,
};
pub use git::input::{read_regular_file, InputError};
pub use git::objects::{Kind as ObjectKind, ObjectError, ObjectProblem, ObjectRole, Unreadable};
pub use git::open::{open_repository, open_repository_from_env, OpenError};
pub use git::replace::{GitEnvironment, ReplaceObjects, SubstitutionError, Substitutions};
pub use git::settings::tune_libgit2;
pub use guile_reader::{Position, SyntaxError, SyntaxProblem, UnsupportedSyntax};
pub use merge::{check_merge, MergeCheck, MergeSigner, MergeVerdict};
pub use openpgp::armor::ArmorError;
pub use openpgp::fingerprint::{Fingerprint, FingerprintError, FingerprintFilter, Issuer, KeyId};
pub use openpgp::keyring::{
    KeyProblem, Keyring, KeyringError, KeyringKey, KeyringLimit, KeyringSource,
};
pub use openpgp::packet::{KeyPacketProblem, MpiProblem};
pub use openpgp::policy::{NonCanonical, Policy, PolicyRefusal};
pub use openpgp::signature::{CommitSignature, ForeignFormat, SignatureError, SignatureProblem};
pub use revision::resolve_commit;
pub use rule::memo::AuthorizationsAtError;
pub use untrusted_text::Untrusted;
pub use verdict::error::{AmbiguousRevision, Error, HistoricalProblem, RevisionProblem};
pub use verdict::failure::{
    Failure, ParentAuthorizations, ReencodedKey, Replacement, WeakAlgorithm,
};
pub use verdict::report::{NoProgress, Phase, Progress, Report};

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;

/// Re-exported so that callers use the same `git2` as this crate.
pub use git2;

/// The README's examples are compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

/// The guide's examples are compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../doc/GUIDE.md")]
struct GuideDoctests;
