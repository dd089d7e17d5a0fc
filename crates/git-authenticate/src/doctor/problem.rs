//! What the doctor can find, how bad each is, and what fixes it.

use crate::openpgp::keyring::KeyringError;
use crate::openpgp::signature::SignatureError;
use crate::rule::memo::AuthorizationsAtError;
use std::path::PathBuf;
use std::time::SystemTime;

use git2::Oid;

use super::Severity;
use crate::channel::metadata::Relation;
use crate::openpgp::fingerprint::Fingerprint;
use crate::verdict::error::Error;
use untrusted_text::Untrusted;

/// What is wrong with a hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookState {
    /// There is none.
    Missing,
    /// It is there but git will not run it.
    NotExecutable,
    /// An earlier version of this tool installed it; the next successful
    /// run replaces it.
    Outdated,
    /// Guix installed it (`guix git authenticate`), in a version that Guix
    /// itself replaces because it is broken.
    BrokenGuix,
    /// It does not authenticate at all (a hook of the maintainer's own).
    Foreign,
    /// It is not there, or does not authenticate, in a hooks directory
    /// that other repositories share (`core.hooksPath` set outside the
    /// repository's own configuration), where no hook is ever installed.
    Shared,
}

/// One problem in a channel's setup, with what is needed to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The keyring branch does not exist.
    #[error("keyring branch `{}` not found{}", Untrusted::new(reference),
            suggestion.as_ref().map(|s| format!(" (but `{}` exists)", Untrusted::new(s))).unwrap_or_default())]
    KeyringMissing {
        /// The reference looked up.
        reference: String,
        /// A reference that exists and looks like it.
        suggestion: Option<String>,
    },
    /// The keyring cannot be loaded (a malformed key file…).
    #[error("the keyring cannot be loaded: {error}")]
    KeyringUnreadable {
        /// Why.
        error: Box<KeyringError>,
    },
    /// A remote has no keyring branch: users who clone it cannot
    /// authenticate.
    #[error(
        "remote `{}` has no `{}` branch",
        Untrusted::new(remote),
        Untrusted::new(branch)
    )]
    KeyringNotPushed {
        /// The remote.
        remote: String,
        /// The keyring branch's name.
        branch: String,
    },
    /// The local keyring branch and a remote's differ.
    #[error(
        "keyring branch `{}` is {} `{}`",
        Untrusted::new(local),
        describe(*relation),
        Untrusted::new(remote)
    )]
    KeyringDiffers {
        /// The local branch.
        local: String,
        /// The remote-tracking branch.
        remote: String,
        /// How the remote's tip relates to the local one.
        relation: Relation,
    },
    /// A branch (local or remote-tracking) whose name is not UTF-8, which
    /// git allows: branch names are text here, as in a channel's
    /// definition, so it was not checked; said, never skipped silently.
    #[error(
        "branch `{}` has a name that is not UTF-8: it was not checked",
        Untrusted::bytes(name)
    )]
    BranchNameNotUtf8 {
        /// The name, as the repository has it.
        name: Vec<u8>,
    },
    /// A branch that cannot be read (its ref file holds no ref), or the
    /// branches cannot be listed at all (`name` is `None`): it was not
    /// checked; said, never skipped silently.
    #[error("{}: it was not checked{}",
            name.as_deref().map_or_else(|| "the branches cannot be listed".to_owned(),
                |name| format!("branch `{}` cannot be read", Untrusted::bytes(name))),
            reason.as_deref().map(|r| format!(" ({})", Untrusted::new(r))).unwrap_or_default())]
    BranchUnreadable {
        /// The reference's full name (`refs/heads/…`), as the repository
        /// has it; `None` when no branch could be listed.
        name: Option<Vec<u8>>,
        /// What libgit2 said, when it said something.
        reason: Option<String>,
    },
    /// A branch tip's `.guix-authorizations` cannot be read.
    #[error("branch `{}`: {error}", Untrusted::new(branch))]
    AuthorizationsUnreadable {
        /// The branch.
        branch: String,
        /// Why.
        error: Box<AuthorizationsAtError>,
    },
    /// A fingerprint is authorized but has no key on the keyring branch:
    /// every commit it signs is refused.
    #[error(
        "key {fingerprint}, authorized on {}, is not on keyring branch `{}`",
        list(branches),
        Untrusted::new(keyring)
    )]
    AuthorizedKeyMissing {
        /// The fingerprint listed.
        fingerprint: Fingerprint,
        /// The branches whose tip lists it.
        branches: Vec<String>,
        /// The keyring reference.
        keyring: String,
    },
    /// A key is authorized on some branches and not on others.
    #[error(
        "key {fingerprint} is authorized on {} but not on {}",
        list(authorized_on),
        list(not_on)
    )]
    AuthorizedOnSomeBranches {
        /// The key.
        fingerprint: Fingerprint,
        /// The branches that list it.
        authorized_on: Vec<String>,
        /// The branches that do not.
        not_on: Vec<String>,
    },
    /// A key of the keyring that no branch authorizes.
    #[error(
        "key {fingerprint} (`{}` on the keyring branch) is not authorized on any branch",
        Untrusted::new(file)
    )]
    UnauthorizedKeyringKey {
        /// Its primary key's fingerprint.
        fingerprint: Fingerprint,
        /// The keyring file.
        file: String,
    },
    /// The listed key is not the one gpg signs with: a primary key whose
    /// signatures are made by a subkey, or a subkey that cannot sign
    /// (an error); or a key that can sign, but that gpg passes over for a
    /// newer signing subkey unless told otherwise (a warning).
    #[error("key {listed} is authorized, but {}", describe_signer(*listed_can_sign, signs_with.as_ref()))]
    ListedKeyDoesNotSign {
        /// The fingerprint listed.
        listed: Fingerprint,
        /// Whether the listed key itself can sign.
        listed_can_sign: bool,
        /// The key gpg signs with for that certificate, if any.
        signs_with: Option<Fingerprint>,
    },
    /// An authorized key has expired.
    #[error("authorized key {fingerprint} expired on {}", date(*at))]
    KeyExpired {
        /// The key.
        fingerprint: Fingerprint,
        /// When.
        at: SystemTime,
    },
    /// An authorized key expires soon.
    #[error("authorized key {fingerprint} expires on {} (in {days} days)", date(*at))]
    KeyExpiring {
        /// The key.
        fingerprint: Fingerprint,
        /// When.
        at: SystemTime,
        /// Whole days left.
        days: u64,
    },
    /// An authorized key is revoked.
    #[error("authorized key {fingerprint} is revoked")]
    KeyRevoked {
        /// The key.
        fingerprint: Fingerprint,
    },
    /// `.guix-channel` at HEAD cannot be read.
    #[error("{error}")]
    ChannelMetadataUnreadable {
        /// Why.
        error: Box<Error>,
    },
    /// `.guix-channel` names a keyring branch that does not exist.
    #[error(
        "`.guix-channel` names keyring branch `{}`, which exists neither locally nor on a remote",
        Untrusted::new(reference)
    )]
    ChannelKeyringMissing {
        /// The name it gives.
        reference: String,
    },
    /// No introduction in the repository's configuration.
    #[error("no introduction is recorded in the repository's configuration")]
    IntroductionNotRecorded,
    /// The recorded introduction is malformed.
    #[error("the recorded introduction is invalid: {error}")]
    IntroductionInvalid {
        /// Why.
        error: Box<Error>,
    },
    /// The recorded introduction commit is not in the repository.
    #[error("the recorded introduction commit {commit} is not in this repository")]
    IntroductionNotFound {
        /// The commit.
        commit: Oid,
    },
    /// The introduction commit is signed by another key.
    #[error("introduction commit {commit} is signed by {} instead of {expected}",
            actual.as_ref().map_or("another key".to_owned(), ToString::to_string))]
    IntroductionWrongSigner {
        /// The commit.
        commit: Oid,
        /// The recorded signer.
        expected: Fingerprint,
        /// The key that signed it.
        actual: Option<Fingerprint>,
    },
    /// The introduction's signature cannot be checked.
    #[error("introduction commit {commit}: {error}")]
    IntroductionUnverifiable {
        /// The commit.
        commit: Oid,
        /// Why.
        error: Box<SignatureError>,
    },
    /// The maintainer's signing key could not be determined.
    #[error("could not determine your signing key: {}", Untrusted::new(reason))]
    SigningKeyUnknown {
        /// Why.
        reason: String,
    },
    /// The maintainer's signing key is not authorized at HEAD.
    #[error("your signing key {fingerprint} is not authorized at HEAD")]
    SigningKeyNotAuthorized {
        /// The key gpg signs with.
        fingerprint: Fingerprint,
    },
    /// The maintainer's signing key is not in the keyring.
    #[error(
        "your signing key {fingerprint} is not on keyring branch `{}`",
        Untrusted::new(keyring)
    )]
    SigningKeyNotInKeyring {
        /// The key gpg signs with.
        fingerprint: Fingerprint,
        /// The primary key of its certificate.
        primary: Fingerprint,
        /// The keyring reference.
        keyring: String,
    },
    /// git signs with something other than OpenPGP.
    #[error(
        "git is configured with gpg.format={}: commits get no OpenPGP signature",
        Untrusted::new(format)
    )]
    SignatureFormat {
        /// The configured format.
        format: String,
    },
    /// gpg is configured to sign with a weak digest.
    #[error(
        "{}:{line}: gpg is configured to sign with {} (`{}`), which is refused",
        file.display(),
        Untrusted::new(algorithm),
        Untrusted::new(text)
    )]
    WeakDigest {
        /// gpg's configuration file.
        file: PathBuf,
        /// The line number.
        line: usize,
        /// The line.
        text: String,
        /// `SHA1` or `MD5`.
        algorithm: String,
    },
    /// A hook is missing, not executable or not current.
    #[error("hook `{}` {}", path.display(), describe_hook(*state))]
    Hook {
        /// `pre-push` or `post-merge`.
        name: &'static str,
        /// Where it is (or would be).
        path: PathBuf,
        /// What is wrong.
        state: HookState,
        /// What it must run to authenticate, for a hook of the
        /// maintainer's own ([`HookState::Foreign`]).
        line: &'static str,
    },
    /// The history at HEAD does not authenticate.
    #[error("HEAD ({head}) does not authenticate: {error}")]
    NotAuthentic {
        /// HEAD.
        head: Oid,
        /// The failure.
        error: Box<Error>,
    },
}

fn describe(relation: Relation) -> &'static str {
    match relation {
        Relation::Ancestor => "ahead of",
        Relation::Same => "the same as",
        Relation::Descendant => "behind",
        Relation::Unrelated => "unrelated to",
    }
}

fn describe_signer(listed_can_sign: bool, signs_with: Option<&Fingerprint>) -> String {
    match (listed_can_sign, signs_with) {
        (_, None) => "neither it nor any key of its certificate can sign".to_owned(),
        (false, Some(s)) => format!("its certificate signs with {s}: commits will be refused"),
        (true, Some(s)) => format!(
            "gpg picks {s}, its certificate's newest signing subkey, by default (if its \
             secret key is at hand): commits signed so will be refused"
        ),
    }
}

fn describe_hook(state: HookState) -> &'static str {
    match state {
        HookState::Missing => "is not installed",
        HookState::NotExecutable => "is not executable: git does not run it",
        HookState::Outdated => "was installed by an earlier version of git-authenticate",
        HookState::BrokenGuix => "is the broken one older Guix versions installed",
        HookState::Foreign => "does not authenticate",
        HookState::Shared => {
            "does not authenticate, in a hooks directory other repositories share \
             (core.hooksPath is set outside this repository's configuration), where none is \
             installed"
        }
    }
}

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("`{}`", Untrusted::new(i)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A date as `YYYY-MM-DD` (UTC).
fn date(at: SystemTime) -> String {
    let seconds = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (seconds / 86_400) as i64;
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

impl Problem {
    /// How bad it is.
    pub fn severity(&self) -> Severity {
        use Problem::*;
        match self {
            KeyringMissing { .. }
            | KeyringUnreadable { .. }
            | AuthorizationsUnreadable { .. }
            | AuthorizedKeyMissing { .. }
            | ListedKeyDoesNotSign {
                listed_can_sign: false,
                ..
            }
            | ChannelMetadataUnreadable { .. }
            | ChannelKeyringMissing { .. }
            | IntroductionInvalid { .. }
            | BranchUnreadable { .. }
            | IntroductionNotFound { .. }
            | IntroductionWrongSigner { .. }
            | IntroductionUnverifiable { .. }
            | SigningKeyNotAuthorized { .. }
            | SigningKeyNotInKeyring { .. }
            | SignatureFormat { .. }
            | WeakDigest { .. }
            | NotAuthentic { .. } => Severity::Error,
            KeyringNotPushed { .. }
            | BranchNameNotUtf8 { .. }
            | ListedKeyDoesNotSign {
                listed_can_sign: true,
                ..
            }
            | KeyringDiffers { .. }
            | KeyExpired { .. }
            | KeyExpiring { .. }
            | KeyRevoked { .. }
            | IntroductionNotRecorded => Severity::Warning,
            Hook { state, .. } => match state {
                HookState::Foreign => Severity::Note,
                _ => Severity::Warning,
            },
            AuthorizedOnSomeBranches { .. }
            | UnauthorizedKeyringKey { .. }
            | SigningKeyUnknown { .. } => Severity::Note,
        }
    }

    /// A stable name for the kind of problem (`authorized-key-missing`),
    /// as in the JSON output.
    pub fn kind(&self) -> &'static str {
        use Problem::*;
        match self {
            KeyringMissing { .. } => "keyring-missing",
            KeyringUnreadable { .. } => "keyring-unreadable",
            KeyringNotPushed { .. } => "keyring-not-pushed",
            KeyringDiffers { .. } => "keyring-differs",
            BranchNameNotUtf8 { .. } => "branch-name-not-utf8",
            BranchUnreadable { .. } => "branch-unreadable",
            AuthorizationsUnreadable { .. } => "authorizations-unreadable",
            AuthorizedKeyMissing { .. } => "authorized-key-missing",
            AuthorizedOnSomeBranches { .. } => "authorized-on-some-branches",
            UnauthorizedKeyringKey { .. } => "unauthorized-keyring-key",
            ListedKeyDoesNotSign { .. } => "listed-key-does-not-sign",
            KeyExpired { .. } => "key-expired",
            KeyExpiring { .. } => "key-expiring",
            KeyRevoked { .. } => "key-revoked",
            ChannelMetadataUnreadable { .. } => "channel-metadata-unreadable",
            ChannelKeyringMissing { .. } => "channel-keyring-missing",
            IntroductionNotRecorded => "introduction-not-recorded",
            IntroductionInvalid { .. } => "introduction-invalid",
            IntroductionNotFound { .. } => "introduction-not-found",
            IntroductionWrongSigner { .. } => "introduction-wrong-signer",
            IntroductionUnverifiable { .. } => "introduction-unverifiable",
            SigningKeyUnknown { .. } => "signing-key-unknown",
            SigningKeyNotAuthorized { .. } => "signing-key-not-authorized",
            SigningKeyNotInKeyring { .. } => "signing-key-not-in-keyring",
            SignatureFormat { .. } => "signature-format",
            WeakDigest { .. } => "weak-digest",
            Hook { .. } => "hook",
            NotAuthentic { .. } => "not-authentic",
        }
    }

    /// The key it is about, if any.
    pub fn fingerprint(&self) -> Option<&Fingerprint> {
        use Problem::*;
        match self {
            AuthorizedKeyMissing { fingerprint, .. }
            | AuthorizedOnSomeBranches { fingerprint, .. }
            | UnauthorizedKeyringKey { fingerprint, .. }
            | KeyExpired { fingerprint, .. }
            | KeyExpiring { fingerprint, .. }
            | KeyRevoked { fingerprint }
            | SigningKeyNotAuthorized { fingerprint }
            | SigningKeyNotInKeyring { fingerprint, .. } => Some(fingerprint),
            ListedKeyDoesNotSign { listed, .. } => Some(listed),
            IntroductionWrongSigner { expected, .. } => Some(expected),
            _ => None,
        }
    }

    /// The commit it is about, if any.
    pub fn commit(&self) -> Option<Oid> {
        use Problem::*;
        match self {
            IntroductionNotFound { commit }
            | IntroductionWrongSigner { commit, .. }
            | IntroductionUnverifiable { commit, .. } => Some(*commit),
            NotAuthentic { head, .. } => Some(*head),
            _ => None,
        }
    }

    /// The branches it is about (those lacking a key, for
    /// [`Problem::AuthorizedOnSomeBranches`]).
    pub fn branches(&self) -> Vec<&str> {
        use Problem::*;
        match self {
            AuthorizationsUnreadable { branch, .. } => vec![branch.as_str()],
            AuthorizedKeyMissing { branches, .. } => branches.iter().map(String::as_str).collect(),
            AuthorizedOnSomeBranches { not_on, .. } => not_on.iter().map(String::as_str).collect(),
            KeyringNotPushed { branch, .. } => vec![branch.as_str()],
            KeyringDiffers { local, remote, .. } => vec![local.as_str(), remote.as_str()],
            _ => Vec::new(),
        }
    }

    /// The file it is about (a hook, gpg's configuration), if any.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            Problem::Hook { path, .. } | Problem::WeakDigest { file: path, .. } => Some(path),
            _ => None,
        }
    }

    /// What to do about it: commands to run, or the change to make.
    pub fn fix(&self) -> String {
        use Problem::*;
        match self {
            KeyringMissing {
                reference,
                suggestion: Some(s),
            } => {
                let (reference, s) = (Untrusted::new(reference), Untrusted::new(s));
                format!(
                    "create the local branch from it: `git branch {reference} {s}`, or record \
                 the existing one: `git config guix.authentication.keyring {s}`"
                )
            }
            KeyringMissing {
                reference,
                suggestion: None,
            } => {
                let reference = Untrusted::new(reference);
                format!(
                    "fetch it (`git fetch origin {reference}:{reference}`) or create it: \
                 `git switch --orphan {reference}`, add each authorized key as \
                 NAME.key (`gpg --armor --export FINGERPRINT > NAME.key`), commit and push"
                )
            }
            KeyringUnreadable { error } => format!(
                "repair or remove the file on the keyring branch and push it ({})",
                error.hint().unwrap_or_else(|| "see the message".to_owned())
            ),
            KeyringNotPushed { remote, branch } => {
                format!(
                    "git push {} {}",
                    Untrusted::new(remote),
                    Untrusted::new(branch)
                )
            }
            KeyringDiffers {
                local,
                remote,
                relation: Relation::Ancestor,
            } => {
                let name = remote.split_once('/').map_or(remote.as_str(), |r| r.0);
                let (name, local) = (Untrusted::new(name), Untrusted::new(local));
                format!("push it: `git push {name} {local}`")
            }
            KeyringDiffers {
                local,
                remote,
                relation: Relation::Descendant,
            } => format!(
                "update it: `git branch -f {} {}` (or `git fetch` then merge)",
                Untrusted::new(local),
                Untrusted::new(remote)
            ),
            KeyringDiffers { local, remote, .. } => format!(
                "merge the two (`git switch {} && git merge {}`) and push the result",
                Untrusted::new(local),
                Untrusted::new(remote)
            ),
            BranchNameNotUtf8 { .. } => "rename it to a UTF-8 name (`git branch -m`) to have it \
                 checked: a channel names its branch as text"
                .to_owned(),
            BranchUnreadable {
                name: Some(name), ..
            } => format!(
                "repair the ref (`git update-ref --no-deref {} COMMIT`) or delete it \
                 (`git update-ref -d {}`) to have the branch checked",
                Untrusted::bytes(name),
                Untrusted::bytes(name)
            ),
            BranchUnreadable { name: None, .. } => "repair the repository's references \
                 (`git for-each-ref` says what is wrong) to have its branches checked"
                .to_owned(),
            AuthorizationsUnreadable { branch, .. } => format!(
                "correct `.guix-authorizations` on `{}` in a signed commit",
                Untrusted::new(branch)
            ),
            AuthorizedKeyMissing {
                fingerprint,
                keyring,
                ..
            } => format!(
                "on branch `{}`, add the key: `gpg --armor --export {} > NAME.key`, \
                 then `git add NAME.key`, `git commit` and push the branch",
                Untrusted::new(keyring),
                fingerprint.to_hex()
            ),
            AuthorizedOnSomeBranches { not_on, .. } => format!(
                "if the key is to sign on {}, authorize it there in a commit signed by an \
                 already-authorized key before merging its commits",
                list(not_on)
            ),
            UnauthorizedKeyringKey { .. } => {
                "nothing, unless the key is meant to sign: then list it in `.guix-authorizations`"
                    .to_owned()
            }
            ListedKeyDoesNotSign {
                listed,
                listed_can_sign: true,
                signs_with: Some(s),
            } => format!(
                "sign with the listed key explicitly (`git config user.signingkey {}!`), or \
                 also list \"{s}\" in `.guix-authorizations` (in a commit signed by an \
                 already-authorized key)",
                listed.to_hex()
            ),
            ListedKeyDoesNotSign {
                listed,
                signs_with: Some(s),
                ..
            } => format!(
                "list the signing key's own fingerprint in `.guix-authorizations`: replace \
                 \"{listed}\" by \"{s}\" (in a commit signed by an already-authorized key)"
            ),
            ListedKeyDoesNotSign { .. } => {
                "add a signing subkey (`gpg --quick-add-key FINGERPRINT default sign`), export \
                 it to the keyring branch and list that subkey's fingerprint"
                    .to_owned()
            }
            KeyExpired { fingerprint, .. } | KeyExpiring { fingerprint, .. } => format!(
                "extend it (`gpg --quick-set-expire {} 1y` and, for subkeys, \
                 `gpg --quick-set-expire {} 1y '*'`), then export it to the keyring branch again. \
                 Guix's rule ignores expiry, but gpg refuses to sign with an expired key and the \
                 strict policy refuses its signatures",
                fingerprint.to_hex(),
                fingerprint.to_hex()
            ),
            KeyRevoked { .. } => "stop signing with it: authorize a new key in a commit signed \
                 by this one or another authorized key, and remove this one from \
                 `.guix-authorizations`. Guix's rule ignores revocation, but gpg refuses to sign \
                 with a revoked key and the strict policy refuses its signatures"
                .to_owned(),
            ChannelMetadataUnreadable { .. } => {
                "correct `.guix-channel` in a signed commit".to_owned()
            }
            ChannelKeyringMissing { reference } => format!(
                "push the keyring branch as `{}`, or correct `keyring-reference` in \
                 `.guix-channel`",
                Untrusted::new(reference)
            ),
            IntroductionNotRecorded => "authenticate once with the channel's introduction: \
                 `git authenticate COMMIT SIGNER` records it and installs the hooks"
                .to_owned(),
            IntroductionInvalid { .. } | IntroductionNotFound { .. } => {
                "record the channel's published introduction: `git config \
                 guix.authentication.introduction-commit COMMIT` and `git config \
                 guix.authentication.introduction-signer FINGERPRINT`"
                    .to_owned()
            }
            IntroductionWrongSigner {
                actual: Some(actual),
                ..
            } => format!(
                "if the introduction is right, record its real signer: `git config \
                 guix.authentication.introduction-signer \"{actual}\"`; otherwise record the \
                 published introduction"
            ),
            IntroductionWrongSigner { .. } | IntroductionUnverifiable { .. } => {
                "record the channel's published introduction, and make sure its signer's key \
                 is on the keyring branch"
                    .to_owned()
            }
            SigningKeyUnknown { .. } => {
                "set the key git signs with: `git config user.signingkey FINGERPRINT`".to_owned()
            }
            SigningKeyNotAuthorized { fingerprint } => format!(
                "have an authorized maintainer add \"{fingerprint}\" to `.guix-authorizations` \
                 in a signed commit, or sign with an authorized key (`git config \
                 user.signingkey FINGERPRINT!`)"
            ),
            SigningKeyNotInKeyring {
                primary, keyring, ..
            } => format!(
                "on branch `{}`: `gpg --armor --export {} > NAME.key`, `git add \
                 NAME.key`, `git commit`, and push the branch",
                Untrusted::new(keyring),
                primary.to_hex()
            ),
            SignatureFormat { .. } => "git config gpg.format openpgp".to_owned(),
            WeakDigest { file, line, .. } => format!(
                "remove line {line} of {} or use SHA512 (`digest-algo SHA512`)",
                file.display()
            ),
            Hook {
                path, state, line, ..
            } => match state {
                HookState::NotExecutable => format!("chmod +x {}", path.display()),
                HookState::Foreign => format!("add `{line}` to {}", path.display()),
                HookState::Shared => format!(
                    "add `{line}` to {}, run for this repository only, or give the repository \
                     a hooks directory of its own (`git config core.hooksPath .git/hooks`) \
                     holding the hooks `git-authenticate --generate=hook-NAME` prints",
                    path.display()
                ),
                HookState::Missing => "authenticate once (`git authenticate`): a successful run \
                     installs the hooks"
                    .to_owned(),
                HookState::Outdated => "authenticate once (`git authenticate`): a successful \
                     run replaces it"
                    .to_owned(),
                HookState::BrokenGuix => "authenticate once (`git authenticate`): it \
                     replaces it with the current hook, as Guix does"
                    .to_owned(),
            },
            NotAuthentic { error, .. } => error
                .hint()
                .unwrap_or_else(|| "see the message: the history needs repair".to_owned()),
        }
    }
}
