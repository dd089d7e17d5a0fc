//! What the command line says about a failure or an error: the library's
//! typed data, and the hints that name this tool's own flags (the library's
//! hints name only git and gpg commands).

use std::fmt::Display;

use git_authenticate::git2::Oid;
use git_authenticate::{Error, Failure, Fingerprint, KeyringError, Untrusted};

/// A failure or an error, as printed and as put in JSON.
pub trait Problem: Display {
    /// The stable name of its kind.
    fn kind(&self) -> &'static str;
    /// The commit it is about.
    fn commit(&self) -> Option<Oid>;
    /// The key involved.
    fn fingerprint(&self) -> Option<&Fingerprint>;
    /// The parents that explain it.
    fn parents(&self) -> Vec<Oid>;
    /// What would fix it.
    fn hint(&self) -> Option<String>;
}

impl Problem for Failure {
    fn kind(&self) -> &'static str {
        Failure::kind(self)
    }

    fn commit(&self) -> Option<Oid> {
        Some(Failure::commit(self))
    }

    fn fingerprint(&self) -> Option<&Fingerprint> {
        Failure::fingerprint(self)
    }

    fn parents(&self) -> Vec<Oid> {
        Failure::parents(self)
    }

    fn hint(&self) -> Option<String> {
        let hint = Failure::hint(self)?;
        Some(match self {
            Failure::PolicyViolation { .. } => {
                format!("{hint}; without --policy=strict, Guix's rule applies alone")
            }
            _ => hint,
        })
    }
}

impl Problem for Error {
    fn kind(&self) -> &'static str {
        Error::kind(self)
    }

    fn commit(&self) -> Option<Oid> {
        Error::commit(self)
    }

    fn fingerprint(&self) -> Option<&Fingerprint> {
        Error::fingerprint(self)
    }

    fn parents(&self) -> Vec<Oid> {
        Error::parents(self)
    }

    fn hint(&self) -> Option<String> {
        match self {
            Error::NotAuthentic(_) | Error::CommitNotAuthentic(_) => {
                self.failure().and_then(Problem::hint)
            }
            Error::Keyring(KeyringError::NotFound {
                reference,
                suggestion: Some(found),
            }) => {
                let (found, reference) = (Untrusted::new(found), Untrusted::new(reference));
                Some(format!(
                    "use `--keyring={found}`, or create the local branch: `git branch \
                     {reference} {found}`"
                ))
            }
            _ => Error::hint(self),
        }
    }
}
