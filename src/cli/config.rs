//! The introduction recorded in a repository's git configuration: read
//! here, as Guix's `guix git authenticate` script reads it, and given to
//! the library as a [`Configuration`].
//!
//! Same keys as Guix: `guix.authentication.introduction-commit`,
//! `guix.authentication.introduction-signer` and
//! `guix.authentication.keyring`; a `guix.authentication-BRANCH` section
//! takes precedence on that branch.

use git_authenticate::gate::{
    BranchPattern, BranchPatternError, ServerConfiguration, ALLOW_KEY_REMOVAL,
};
use git_authenticate::git2::{self, Repository};
use git_authenticate::{Configuration, Keyring};

/// The key listing the branches a server refuses to rewind or delete, one
/// branch name, full ref name or pattern a value (`git config --add
/// guix.authentication.protected-branch 'release/*'`).
pub const PROTECTED_BRANCH_KEY: &str = "guix.authentication.protected-branch";

/// Why the server's configuration cannot be used: the gate refuses to run
/// rather than protect less than it was told to.
#[derive(Debug, thiserror::Error)]
pub enum ServerConfigError {
    /// Git's configuration could not be read, or a value is not of its type.
    #[error("git configuration: {}", git_authenticate::Untrusted::new(.0.message()))]
    Git(#[from] git2::Error),
    /// A protected-branch value can match no branch.
    #[error(transparent)]
    Protected(#[from] BranchPatternError),
}

/// The checked-out branch (`master`), if HEAD is on a local branch whose
/// name is UTF-8 (see [`configured`] for the others).
pub fn current_branch(repo: &Repository) -> Option<String> {
    let head = repo.head().ok()?;
    head.is_branch()
        .then(|| head.shorthand().ok().map(str::to_owned))
        .flatten()
}

/// Reads the configuration of the checked-out branch, its
/// `guix.authentication-BRANCH` values first. A branch whose name is not
/// UTF-8 (git allows it, and a section's name may hold it) has its section
/// read by the bytes of its name, never passed over for the defaults.
pub fn configured(repo: &Repository) -> Result<Configuration, git2::Error> {
    let head = repo.head().ok().filter(|h| h.is_branch());
    match head.as_ref().map(|h| h.shorthand_bytes()) {
        Some(name) => match std::str::from_utf8(name) {
            Ok(branch) => configured_for(repo, Some(branch)),
            Err(_) => configured_for_bytes(repo, name),
        },
        None => configured_for(repo, None),
    }
}

/// [`configured_for`] a branch whose name is not UTF-8: its values found
/// among every entry by the bytes of their names (the last one set wins,
/// as in git), the defaults after.
fn configured_for_bytes(repo: &Repository, branch: &[u8]) -> Result<Configuration, git2::Error> {
    let config = repo.config()?.snapshot()?;
    let defaults = configured_for(repo, None)?;
    let section = [b"guix.authentication-", branch, b"."].concat();
    let mut specific = Configuration::default();
    let mut entries = config.entries(Some(r"^guix\.authentication-"))?;
    while let Some(entry) = entries.next() {
        let entry = entry?;
        let Some(key) = entry.name_bytes().strip_prefix(section.as_slice()) else {
            continue;
        };
        let value = entry.value().ok().map(str::to_owned);
        match key {
            b"introduction-commit" => specific.commit = value,
            b"introduction-signer" => specific.signer = value,
            b"keyring" => specific.keyring = value,
            _ => {}
        }
    }
    Ok(Configuration {
        commit: specific.commit.or(defaults.commit),
        signer: specific.signer.or(defaults.signer),
        keyring: specific.keyring.or(defaults.keyring),
    })
}

/// Reads the configuration for `branch` (`master`), whose
/// `guix.authentication-BRANCH` section takes precedence, whatever is
/// checked out: a server decides for each pushed branch.
pub fn configured_for(
    repo: &Repository,
    branch: Option<&str>,
) -> Result<Configuration, git2::Error> {
    let config = repo.config()?.snapshot()?;
    let value = |key: &str| {
        let specific = branch.and_then(|b| {
            config
                .get_string(&format!("guix.authentication-{b}.{key}"))
                .ok()
        });
        specific.or_else(|| {
            config
                .get_string(&format!("guix.authentication.{key}"))
                .ok()
        })
    };
    Ok(Configuration {
        commit: value("introduction-commit"),
        signer: value("introduction-signer"),
        keyring: value("keyring"),
    })
}

/// What the server's configuration says: the default, each branch's own
/// `guix.authentication-BRANCH` section (whatever is pushed: a push through
/// a symbolic ref updates another branch than it names), the protected and
/// keyring branches.
pub fn server_configuration(repo: &Repository) -> Result<ServerConfiguration, ServerConfigError> {
    let branches = configured_branches(repo)?
        .into_iter()
        .map(|branch| Ok((branch.clone(), configured_for(repo, Some(&branch))?)))
        .collect::<Result<_, git2::Error>>()?;
    Ok(ServerConfiguration {
        default: configured_for(repo, None)?,
        branches,
        protected_branches: protected_branches(repo)?,
        keyring_branches: keyring_branches(repo)?,
        allow_key_removal: allow_key_removal(repo)?,
    })
}

/// The branches that have a `guix.authentication-BRANCH` section.
fn configured_branches(repo: &Repository) -> Result<Vec<String>, git2::Error> {
    let config = repo.config()?.snapshot()?;
    let mut branches = Vec::new();
    let pattern = r"^guix\.authentication-.*\.(introduction-commit|introduction-signer|keyring)$";
    let mut entries = config.entries(Some(pattern))?;
    while let Some(entry) = entries.next() {
        let entry = entry?;
        let name = String::from_utf8_lossy(entry.name_bytes());
        let branch = name
            .strip_prefix("guix.authentication-")
            .and_then(|rest| rest.rsplit_once('.'))
            .map(|(branch, _)| branch.to_owned());
        if let Some(branch) = branch.filter(|b| !branches.contains(b)) {
            branches.push(branch);
        }
    }
    Ok(branches)
}

/// Whether [`ALLOW_KEY_REMOVAL`] is set to true; a value that is not a
/// boolean is an error, as for git.
fn allow_key_removal(repo: &Repository) -> Result<bool, git2::Error> {
    match repo.config()?.snapshot()?.get_bool(ALLOW_KEY_REMOVAL) {
        Ok(allowed) => Ok(allowed),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Records the introduction and keyring in the repository's configuration.
pub fn record(
    repo: &Repository,
    commit: &str,
    signer: &str,
    keyring: &str,
) -> Result<(), git2::Error> {
    let mut config = repo.config()?.open_level(git2::ConfigLevel::Local)?;
    config.set_str("guix.authentication.introduction-commit", commit)?;
    config.set_str("guix.authentication.introduction-signer", signer)?;
    config.set_str("guix.authentication.keyring", keyring)?;
    Ok(())
}

/// The branches a server refuses to rewind or delete
/// ([`PROTECTED_BRANCH_KEY`]): names, full names or patterns. A value that
/// can match no branch is an error, not a branch protected in vain.
pub fn protected_branches(repo: &Repository) -> Result<Vec<BranchPattern>, ServerConfigError> {
    let config = repo.config()?.snapshot()?;
    let mut branches = Vec::new();
    let mut entries = config.multivar(PROTECTED_BRANCH_KEY, None)?;
    while let Some(entry) = entries.next() {
        let entry = entry?;
        // Not UTF-8: no branch the gate reads (hooks get UTF-8 names) can
        // match it.
        let value = std::str::from_utf8(entry.value_bytes()).map_err(|_| BranchPatternError {
            value: String::from_utf8_lossy(entry.value_bytes()).into_owned(),
        })?;
        branches.push(BranchPattern::parse(value.trim())?);
    }
    Ok(branches)
}

/// Every keyring branch the configuration names, as branch names on this
/// repository (`keyring`): `guix.authentication.keyring` and those of the
/// `guix.authentication-BRANCH` sections, `refs/heads/` taken off; the
/// default `keyring` when none is named.
fn keyring_branches(repo: &Repository) -> Result<Vec<String>, git2::Error> {
    let config = repo.config()?.snapshot()?;
    let mut branches = Vec::new();
    let mut entries = config.entries(Some(r"^guix\.authentication(-.*)?\.keyring$"))?;
    while let Some(entry) = entries.next() {
        let entry = entry?;
        let value = String::from_utf8_lossy(entry.value_bytes());
        let branch = value.trim();
        let branch = branch.strip_prefix("refs/heads/").unwrap_or(branch);
        if !branches.iter().any(|b| b == branch) {
            branches.push(branch.to_owned());
        }
    }
    if config.get_string("guix.authentication.keyring").is_err() {
        branches.push(Keyring::DEFAULT_REFERENCE.to_owned());
    }
    Ok(branches)
}
