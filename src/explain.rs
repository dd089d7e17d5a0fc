//! What would fix an error, in words a channel maintainer can act on.

use crate::error::{Error, ParentAuthorizations};
use crate::fingerprint::Fingerprint;
use crate::objects::{ObjectError, ObjectProblem};

pub(crate) fn hint(error: &Error) -> Option<String> {
    Some(match error {
        Error::Unsigned { .. } => "sign the commit with a key listed in .guix-authorizations, \
             e.g. `git commit --amend -S --no-edit` (or `git rebase --exec 'git commit --amend \
             -S --no-edit'` for several)"
            .into(),
        Error::WeakHash { algorithm, .. } if algorithm == "MD5" || algorithm == "SHA1" => {
            "re-sign the commit with a stronger digest: add `personal-digest-preferences \
             SHA512` to ~/.gnupg/gpg.conf, then `git commit --amend -S --no-edit`"
                .into()
        }
        Error::MalformedSignature { reason, .. } if reason.contains("SSH") => {
            "channels require OpenPGP signatures: set `git config gpg.format openpgp` and \
             re-sign the commit"
                .into()
        }
        Error::MissingKey { keyring, .. } => format!(
            "add the signer's public key as a `.key` file to branch `{keyring}`, or update it \
             (`git fetch origin {0}:{0}` if it is stale)",
            keyring.rsplit('/').next().unwrap_or(keyring)
        ),
        Error::BadSignature { .. } => "the commit was changed after it was signed, or the \
             keyring holds a different key under this fingerprint; re-sign the commit"
            .into(),
        Error::PolicyViolation { .. } => "sign with a valid key (not expired, not revoked, \
             bound to its certificate, marked for signing) and a strong digest; without \
             --policy=strict, Guix's rule alone applies"
            .into(),
        Error::Unauthorized {
            fingerprint,
            primary,
            parents,
            ..
        } => unauthorized(fingerprint, primary.as_ref(), parents),
        Error::RemovedAuthorizations { .. } => "restore .guix-authorizations: without it, \
             commits would fall back to the default authorizations"
            .into(),
        Error::MalformedAuthorizations { .. } => "the file must read (authorizations (version \
             0) ((\"FINGERPRINT\" (name \"NAME\")) …))"
            .into(),
        Error::WrongIntroductionSigner { .. } => "check the introduction: its signer must be \
             the fingerprint of the key (or subkey) that signed the introductory commit"
            .into(),
        Error::NotDescendant { introduction, .. } => format!(
            "the introductory commit {introduction} is not in this history: check out the \
             channel's branch, or check the introduction"
        ),
        Error::KeyringNotFound {
            reference,
            suggestion: Some(found),
        } => format!(
            "use `--keyring={found}`, or create the local branch: `git branch {reference} {found}`"
        ),
        Error::KeyringNotFound { reference, .. } => {
            format!("fetch it: `git fetch origin {reference}:{reference}`")
        }
        Error::UnreadableObject { source, .. } => unreadable(source),
        _ => return None,
    })
}

/// What to do about an object the verdict needs and cannot read.
fn unreadable(source: &ObjectError) -> String {
    match source.problem {
        ObjectProblem::Missing => "the repository lacks this object: a partial clone              (`--filter`) or a shallow clone must fetch it first (`git fetch --refetch`              without a filter, or `git fetch --unshallow`); otherwise the repository is              damaged: clone it again"
            .into(),
        ObjectProblem::HashMismatch { .. } => "the object was              altered after it was fetched (by someone with write access to the object              directory, or copied unchecked by a local clone): do not use this repository;              clone it again from a trusted source with `git clone --no-local`"
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
