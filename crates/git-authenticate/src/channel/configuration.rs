//! What a repository records about its channel: the introduction and the
//! keyring, as the command reads them from git's configuration.
//!
//! The library reads no git configuration, as in Guix, where the
//! `guix git authenticate` script does and the library takes parameters:
//! the [`crate::gate`] and the [`crate::doctor`] are given what is
//! recorded, as a [`Configuration`].

use crate::channel::introduction::{Introduction, IntroductionError};

/// The introduction and keyring recorded for one branch, as strings:
/// validated only when used, so that a malformed value is reported as such
/// (a refused push, a doctor's finding) rather than silently ignored.
///
/// ```
/// use git_authenticate::Configuration;
///
/// let recorded = Configuration {
///     commit: Some("897c1a470da759236cc11798f4e0a5f7d4d59fbc".into()),
///     signer: Some("2A39 3FFF 68F4 EF7A 3D29  12AF 6F51 20A0 22FB B2D5".into()),
///     keyring: None,
/// };
/// assert!(recorded.introduction().is_some_and(|i| i.is_ok()));
/// assert!(Configuration::default().introduction().is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Configuration {
    /// The introduction's commit (`guix.authentication.introduction-commit`).
    pub commit: Option<String>,
    /// The introduction's signer (`guix.authentication.introduction-signer`).
    pub signer: Option<String>,
    /// The keyring reference (`guix.authentication.keyring`).
    pub keyring: Option<String>,
}

impl Configuration {
    /// The recorded introduction: `None` unless both its commit and its
    /// signer are recorded, an error when they are malformed.
    pub fn introduction(&self) -> Option<Result<Introduction, IntroductionError>> {
        match (&self.commit, &self.signer) {
            (Some(commit), Some(signer)) => Some(Introduction::new(commit, signer)),
            _ => None,
        }
    }
}
