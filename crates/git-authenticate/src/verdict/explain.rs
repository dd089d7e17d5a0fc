//! What would fix an error, in words a channel maintainer can act on.
//!
//! Hints are chosen from the errors' typed data, never from their text.

use crate::channel::authorizations::AuthorizationsError;
use crate::git::objects::{ObjectError, ObjectProblem};
use crate::git::replace::SubstitutionError;
use crate::openpgp::armor::ArmorError;
use crate::openpgp::fingerprint::Fingerprint;
use crate::openpgp::keyring::KeyringError;
use crate::openpgp::keyring::KeyringSource;
use crate::openpgp::policy::PolicyRefusal;
use crate::openpgp::signature::{ForeignFormat, SignatureProblem};
use crate::verdict::error::Error;
use crate::verdict::failure::{Failure, ParentAuthorizations, ReencodedKey};
use untrusted_text::Untrusted;

/// How to re-sign with a strong digest (gpg picks its digest from this).
const STRONGER_DIGEST: &str = "re-sign the commit with a stronger digest: add \
     `personal-digest-preferences SHA512` to ~/.gnupg/gpg.conf, then `git commit --amend -S \
     --no-edit`";

impl Failure {
    /// What would make the commit authentic, in words a channel maintainer
    /// can act on (git and gpg commands, never this tool's own flags).
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Failure::Unsigned {
                introductory: true, ..
            } => new_introduction("is unsigned: signing it now"),
            Failure::WeakHash {
                introductory: true, ..
            } => new_introduction("has a refused digest: re-signing it"),
            Failure::BadSignature {
                introductory: true, ..
            } => new_introduction("has a bad signature: re-signing it"),
            Failure::MalformedSignature {
                introductory: true, ..
            } => new_introduction("has an unusable signature: re-signing it"),
            Failure::PolicyViolation {
                introductory: true, ..
            } => new_introduction("is refused by the strict policy: re-signing it"),
            Failure::Unsigned { .. } => "sign the commit with a key listed in \
                 .guix-authorizations, e.g. `git commit --amend -S --no-edit` (or `git rebase \
                 --exec 'git commit --amend -S --no-edit'` for several)"
                .into(),
            // Only MD5 and SHA-1 are ever refused.
            Failure::WeakHash { .. } => STRONGER_DIGEST.into(),
            Failure::MalformedSignature { reason, .. } => return malformed_signature(reason),
            Failure::MissingKey {
                reencoded: Some(key),
                ..
            } => reencoded_key(key),
            Failure::MissingKey {
                keyring, read_from, ..
            } => missing_key(keyring, read_from.as_deref()),
            Failure::BadSignature { .. } => "the commit was changed after it was signed, or \
                 the keyring holds a different key under this fingerprint; re-sign the commit"
                .into(),
            Failure::PolicyViolation { reason, .. } => policy(reason),
            Failure::Unauthorized {
                fingerprint,
                primary,
                parents,
                ..
            } => unauthorized(fingerprint, primary.as_ref(), parents),
            Failure::RemovedAuthorizations { .. } => "restore .guix-authorizations: without \
                 it, commits would fall back to the default authorizations"
                .into(),
            Failure::MalformedAuthorizations { source, .. } => authorizations(source),
            Failure::WrongIntroductionSigner { .. } => "check the introduction: its signer \
                 must be the fingerprint of the key (or subkey) that signed the introductory \
                 commit"
                .into(),
            Failure::NotDescendant { introduction, .. } => format!(
                "the introductory commit {introduction} is not in this history: check out the \
                 channel's branch, or check the introduction"
            ),
        })
    }
}

/// The introductory commit itself fails: what would fix an ordinary commit
/// (signing it anew, `what`) changes its id, which the published
/// introduction names.
fn new_introduction(what: &str) -> String {
    format!(
        "the introductory commit itself {what} would change its id, which the published \
         introduction names, so the channel must sign a new commit and publish a new \
         introduction (its id and signer) for users to authenticate from"
    )
}

impl KeyringError {
    /// What would make the keyring loadable.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            KeyringError::NotFound {
                reference,
                suggestion: Some(found),
            } => format!(
                "create the local branch: `git branch {} {}`",
                Untrusted::new(reference),
                Untrusted::new(found)
            ),
            KeyringError::NotFound { reference, .. } => {
                let reference = Untrusted::new(reference);
                format!("fetch it: `git fetch origin {reference}:{reference}`")
            }
            KeyringError::Unreadable(unreadable) => unreadable_hint(&unreadable.source),
            KeyringError::KeyNotAFile { file, kind, .. } => format!(
                "rename or remove the {kind} `{}` on the keyring branch: Guix loads every \
                 entry whose path ends in `.key`, and cannot read a {kind}",
                Untrusted::new(file)
            ),
            KeyringError::KeyFileNameNotUtf8 { path, .. } => format!(
                "rename `{}` on the keyring branch to a UTF-8 name: Guix reads the keyring \
                 tree's names as UTF-8 and cannot find this one",
                Untrusted::bytes(path)
            ),
            KeyringError::NotACommit { name, .. } => format!(
                "Guix loads a branch that points directly at a commit: `git update-ref \
                 --no-deref {} COMMIT`, COMMIT being the keyring's commit",
                Untrusted::new(name)
            ),
            _ => return None,
        })
    }
}

impl Error {
    /// What would fix the problem, where that is knowable.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::NotAuthentic(_) | Error::CommitNotAuthentic(_) => {
                self.failure().and_then(Failure::hint)
            }
            Error::Keyring(e) => e.hint(),
            Error::Unreadable(unreadable) => Some(unreadable_hint(&unreadable.source)),
            Error::Substitution(SubstitutionError::Substituted {
                replaced,
                replace_refs,
                grafts,
            }) => Some(crate::git::replace::hint(
                replaced,
                *replace_refs,
                grafts.as_deref(),
            )),
            _ => None,
        }
    }
}

/// What to do about a signature that cannot be used at all.
fn malformed_signature(problem: &SignatureProblem) -> Option<String> {
    Some(match problem {
        SignatureProblem::Foreign(ForeignFormat::Ssh | ForeignFormat::X509) => {
            "channels require OpenPGP signatures: set `git config gpg.format openpgp` and \
             re-sign the commit"
                .into()
        }
        SignatureProblem::NotBinary { .. } => "re-sign the commit without text mode (remove \
             `textmode` from ~/.gnupg/gpg.conf, or `--textmode` from gpg.program): Guix \
             verifies binary-document signatures only"
            .into(),
        SignatureProblem::Armor(ArmorError::MissingChecksum | ArmorError::BadChecksum) => {
            "Guix requires the armor's CRC-24 checksum line (`=XXXX`, before the END line) \
             and checks it: re-sign the commit with gpg, which writes it"
                .into()
        }
        SignatureProblem::Armor(ArmorError::NoBlankLine) => "Guix reads the armor's data \
             after the first blank line, which this armor lacks: re-sign the commit with gpg, \
             which writes it"
            .into(),
        SignatureProblem::UnsupportedVersion { .. } => "Guix reads version 3 and 4 \
             signatures only: re-sign the commit with a version 4 key (gpg 2.2 or 2.4 makes \
             them)"
            .into(),
        _ => return None,
    })
}

/// Where to add the missing key, naming the branch and commit the keyring
/// was read from.
fn missing_key(keyring: &str, read_from: Option<&KeyringSource>) -> String {
    let branch = Untrusted::new(keyring.rsplit('/').next().unwrap_or(keyring));
    let keyring = Untrusted::new(keyring);
    let read = read_from.map_or_else(String::new, |source| {
        format!("; the keyring was read from {source}")
    });
    format!(
        "add the signer's public key as a `.key` file to branch `{keyring}` (anywhere in its \
         tree{read}), or update it (`git fetch origin {branch}:{branch}` if it is stale)"
    )
}

/// Why gpg's fingerprint of a key is not the keyring's, and what to do.
fn reencoded_key(key: &ReencodedKey) -> String {
    format!(
        "the keyring holds this key, in `{}`, but its key packet encodes a number \
         non-canonically (a bit count larger than the value's), so its fingerprint as \
         published, which Guix uses, is {}, while GnuPG re-encodes the key and computes the \
         fingerprint the signature names; list {} in .guix-authorizations, or publish the key \
         canonically (`gpg --export`) and keep its GnuPG fingerprint",
        Untrusted::new(&key.file),
        key.fingerprint,
        key.fingerprint,
    )
}

/// What would satisfy the strict policy.
fn policy(refusal: &PolicyRefusal) -> String {
    match refusal {
        PolicyRefusal::PredatesKey { .. } => "the signature is dated before its key was \
             created (a wrong clock, or a backdated signature): re-sign the commit with the \
             right time (Guix's own rule accepts it)"
            .into(),
        PolicyRefusal::NoCreationTime => "re-sign the commit with gpg, which records the \
             signature's creation time (Guix's own rule accepts it)"
            .into(),
        PolicyRefusal::WeakHash { .. } => STRONGER_DIGEST.into(),
        PolicyRefusal::NonCanonical(_) => "GitHub writes such numbers (its web-flow key and \
             the merges it signs), which Guix's own rule and GnuPG accept: re-sign the commit \
             with your own key, e.g. `git commit --amend -S --no-edit`"
            .into(),
        _ => "sign with a valid key (not expired, not revoked, bound to its certificate, \
             marked for signing) and a strong digest (Guix's own rule does not ask this)"
            .into(),
    }
}

/// How to fix a `.guix-authorizations` file, by what is wrong with it.
fn authorizations(error: &AuthorizationsError) -> String {
    match error {
        AuthorizationsError::Syntax(_) => "Guix reads the file with Guile's `read`: fix the \
             syntax error above (if Guix itself reads this file, please report it as a bug \
             of git-authenticate)"
            .into(),
        AuthorizationsError::TooLarge { limit, .. } => {
            format!("keep the file under {limit} bytes: list each key once")
        }
        _ => "the file must read (authorizations (version 0) ((\"FINGERPRINT\" (name \
             \"NAME\")) …))"
            .into(),
    }
}

/// What to do about an object the verdict needs and cannot read.
fn unreadable_hint(source: &ObjectError) -> String {
    match source.problem {
        ObjectProblem::Missing => "the repository lacks this object: a partial clone \
             (`--filter`) or a shallow clone must fetch it first (`git fetch --refetch` \
             without a filter, or `git fetch --unshallow`); otherwise the repository is \
             damaged: clone it again"
            .into(),
        ObjectProblem::HashMismatch { .. } => "the object was altered after it was fetched \
             (by someone with write access to the object directory, or copied unchecked by a \
             local clone): do not use this repository; clone it again from a trusted source \
             with `git clone --no-local`"
            .into(),
        _ => "the repository is damaged: run `git fsck`, and clone it again".into(),
    }
}

/// Why the signer is not authorized, and what to change.
fn unauthorized(
    fingerprint: &Fingerprint,
    primary: Option<&Fingerprint>,
    parents: &[ParentAuthorizations],
) -> String {
    let describe = |p: &ParentAuthorizations| match p.blob {
        Some(blob) => format!("parent {} (.guix-authorizations blob {blob})", p.commit),
        None => format!(
            "parent {} (no .guix-authorizations: default authorizations)",
            p.commit
        ),
    };
    if let Some(primary) = primary {
        if !parents.is_empty() && parents.iter().all(|p| p.lists_primary) {
            return format!(
                "the commit was signed with subkey {fingerprint} of the listed primary key \
                 {primary}; .guix-authorizations must list the subkey's own fingerprint"
            );
        }
    }
    let lacking: Vec<String> = parents
        .iter()
        .filter(|p| !p.lists_signer)
        .map(describe)
        .collect();
    if parents.len() > 1 && lacking.len() < parents.len() {
        return format!(
            "the signer is authorized on one side of this merge only; it is missing from {}",
            lacking.join(" and ")
        );
    }
    if lacking.is_empty() {
        return "the commit has no parent, and the default authorizations do not list the signer"
            .into();
    }
    format!(
        "{fingerprint} is not listed by {}; an already authorized key must add it to \
         .guix-authorizations in an earlier commit",
        lacking.join(" and ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key file's name comes from the repository: escaped.
    #[test]
    fn a_reencoded_key_hint_escapes_the_file_name() {
        let key = ReencodedKey {
            fingerprint: Fingerprint::from_bytes(&[0xab; 20]),
            file: "web\x1b[2J\nflow.key".into(),
        };
        let hint = reencoded_key(&key);
        assert!(!hint.contains(['\x1b', '\n']), "{hint}");
        assert!(hint.contains("ABAB ABAB"), "{hint}");
    }
}
