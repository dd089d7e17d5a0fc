//! The introduction recorded in a repository's git configuration, and the
//! hooks that authenticate on push and pull.
//!
//! Same keys as Guix: `guix.authentication.introduction-commit`,
//! `guix.authentication.introduction-signer` and
//! `guix.authentication.keyring`; a `guix.authentication-BRANCH` section
//! takes precedence on that branch.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use git2::Repository;

use crate::error::Error;

/// What the repository's configuration says, as strings (validated when
/// turned into an [`crate::Introduction`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Configuration {
    /// `introduction-commit`.
    pub commit: Option<String>,
    /// `introduction-signer`.
    pub signer: Option<String>,
    /// `keyring`.
    pub keyring: Option<String>,
}

/// The checked-out branch (`master`), if HEAD is on a local branch.
pub fn current_branch(repo: &Repository) -> Option<String> {
    let head = repo.head().ok()?;
    head.is_branch()
        .then(|| head.shorthand().ok().map(str::to_owned))
        .flatten()
}

/// Reads the configuration, branch-specific values first.
pub fn configured(repo: &Repository) -> Result<Configuration, Error> {
    configured_for(repo, current_branch(repo).as_deref())
}

/// Reads the configuration for `branch` (`master`), whose
/// `guix.authentication-BRANCH` section takes precedence, whatever is
/// checked out: a server decides for each pushed branch.
pub fn configured_for(repo: &Repository, branch: Option<&str>) -> Result<Configuration, Error> {
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

/// Records the introduction and keyring in the repository's configuration.
pub fn record(repo: &Repository, commit: &str, signer: &str, keyring: &str) -> Result<(), Error> {
    let mut config = repo.config()?.open_level(git2::ConfigLevel::Local)?;
    config.set_str("guix.authentication.introduction-commit", commit)?;
    config.set_str("guix.authentication.introduction-signer", signer)?;
    config.set_str("guix.authentication.keyring", keyring)?;
    Ok(())
}

/// The key listing the branches a server refuses to rewind or delete, one
/// branch name a value (`git config --add guix.authentication.protected-branch
/// master`).
pub const PROTECTED_BRANCH_KEY: &str = "guix.authentication.protected-branch";

/// The branches a server refuses to rewind or delete
/// ([`PROTECTED_BRANCH_KEY`]); `*` stands for every branch.
pub fn protected_branches(repo: &Repository) -> Result<Vec<String>, Error> {
    let config = repo.config()?.snapshot()?;
    let mut branches = Vec::new();
    let mut entries = config.multivar(PROTECTED_BRANCH_KEY, None)?;
    while let Some(entry) = entries.next() {
        let entry = entry?;
        branches.push(
            String::from_utf8_lossy(entry.value_bytes())
                .trim()
                .to_owned(),
        );
    }
    Ok(branches)
}

/// Every keyring branch the configuration names, as branch names on this
/// repository (`keyring`): `guix.authentication.keyring` and those of the
/// `guix.authentication-BRANCH` sections, `refs/heads/` taken off; the
/// default `keyring` when none is named.
pub fn keyring_branches(repo: &Repository) -> Result<Vec<String>, Error> {
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
        branches.push(crate::keyring::DEFAULT_REFERENCE.to_owned());
    }
    Ok(branches)
}

/// What happened to one hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hook {
    /// Written.
    Installed(PathBuf),
    /// A hook that an earlier version installed was replaced.
    Upgraded(PathBuf),
    /// A hook was already there and was left alone; the text is what to add
    /// to it.
    Kept(PathBuf, &'static str),
}

/// The command the hooks run: `$GIT_AUTHENTICATE` when set, so a hook can
/// be pointed at a binary outside `PATH`.
macro_rules! command {
    () => {
        "\"${GIT_AUTHENTICATE:-git-authenticate}\""
    };
}

/// Runs for each pushed ref; refs being deleted (all-zero new id) are
/// skipped, tags included. The remote ref is passed on so that a push to
/// the keyring branch, which is never authenticated, is recognised by its
/// name (Guix's own `etc/git/pre-push` skips `refs/heads/keyring` too).
pub const PRE_PUSH: &str = concat!(
    r#"#!/bin/sh
# Installed by 'git-authenticate': refuse to push unauthenticated commits.
set -e
z40=0000000000000000000000000000000000000000
while read local_ref local_oid remote_ref remote_oid
do
  if [ "$local_oid" != "$z40" ]
  then
    "#,
    command!(),
    r#" --end="$local_oid" --pushed-ref="$remote_ref"
  fi
done
"#
);

/// Pre-push hooks that earlier versions installed, replaced by
/// [`upgrade_hooks`]: this one recognised a push to the keyring branch by
/// its commit id, which an attacker can give any commit.
pub(crate) const OLD_PRE_PUSH: &[&str] = &[concat!(
    r#"#!/bin/sh
# Installed by 'git-authenticate': refuse to push unauthenticated commits.
set -e
z40=0000000000000000000000000000000000000000
while read local_ref local_oid remote_ref remote_oid
do
  if [ "$local_oid" != "$z40" ]
  then
    "#,
    command!(),
    r#" --end="$local_oid"
  fi
done
"#
)];

/// Runs after `git pull` / `git merge`; a failure then says that the
/// merge is done and how to undo it.
pub const POST_MERGE: &str = concat!(
    "#!/bin/sh\n# Installed by 'git-authenticate': authenticate what was just pulled.\nexec ",
    command!(),
    " --after-merge\n"
);

/// Post-merge hooks that earlier versions installed, replaced by
/// [`upgrade_hooks`]: a failure advised re-signing commits that were
/// someone else's.
pub(crate) const OLD_POST_MERGE: &[&str] = &[concat!(
    "#!/bin/sh\n# Installed by 'git-authenticate': authenticate what was just pulled.\nexec ",
    command!(),
    "\n"
)];

/// Whether `contents` is a hook an earlier version installed.
pub(crate) fn is_outdated_hook(contents: &[u8]) -> bool {
    OLD_PRE_PUSH
        .iter()
        .chain(OLD_POST_MERGE)
        .any(|old| old.as_bytes() == contents)
}

/// What a pre-existing pre-push hook should run to authenticate.
pub const PRE_PUSH_ADVICE: &str =
    "git-authenticate --end=\"$local_oid\" --pushed-ref=\"$remote_ref\" (for each pushed ref)";

/// What a pre-existing post-merge hook should run to authenticate.
pub const POST_MERGE_ADVICE: &str = "git-authenticate";

/// Installs the `pre-push` and `post-merge` hooks, creating the hooks
/// directory (`core.hooksPath` when set). An existing hook is never
/// overwritten.
pub fn install_hooks(repo: &Repository) -> Result<Vec<Hook>, Error> {
    let dir = hooks_directory(repo)?;
    let fail = |what: String, e: std::io::Error| Error::Config {
        what,
        reason: e.to_string(),
    };
    fs::create_dir_all(&dir).map_err(|e| fail(format!("creating {}", dir.display()), e))?;
    [
        ("pre-push", PRE_PUSH, PRE_PUSH_ADVICE),
        ("post-merge", POST_MERGE, POST_MERGE_ADVICE),
    ]
    .into_iter()
    .map(|(name, text, advice)| {
        let path = dir.join(name);
        match write_new_executable(&path, text) {
            Ok(true) => Ok(Hook::Installed(path)),
            Ok(false) => Ok(Hook::Kept(path, advice)),
            Err(e) => Err(fail(format!("installing {}", path.display()), e)),
        }
    })
    .collect()
}

/// Size and SHA-1 of the pre-push hook that older Guix versions installed
/// and that Guix's `maybe-upgrade-hooks` replaces (its text is Guix's; it
/// is recognised as Guix recognises it).
const BROKEN_GUIX_PRE_PUSH: (usize, &str) = (161, "a9916155b71894014144fcafad7700f89da26c83");

/// Whether `contents` is the broken pre-push hook older Guix versions
/// installed.
pub fn is_broken_guix_pre_push(contents: &[u8]) -> bool {
    use sha1::Digest;
    contents.len() == BROKEN_GUIX_PRE_PUSH.0
        && format!("{:x}", sha1::Sha1::digest(contents)) == BROKEN_GUIX_PRE_PUSH.1
}

/// Replaces the hooks that earlier versions of this tool installed, and
/// the broken pre-push hook that older Guix versions installed (only
/// those, recognised by their exact contents), with the current ones, as
/// Guix's `maybe-upgrade-hooks` does.
pub fn upgrade_hooks(repo: &Repository) -> Result<Vec<Hook>, Error> {
    let directory = hooks_directory(repo)?;
    let mut upgraded = Vec::new();
    for (name, old, current) in [
        ("pre-push", OLD_PRE_PUSH, PRE_PUSH),
        ("post-merge", OLD_POST_MERGE, POST_MERGE),
    ] {
        let path = directory.join(name);
        let guix = name == "pre-push"
            && crate::input::read_regular_file(&path, BROKEN_GUIX_PRE_PUSH.0)
                .is_ok_and(|contents| is_broken_guix_pre_push(&contents));
        if !guix && !old.iter().any(|old| has_contents(&path, old)) {
            continue;
        }
        fs::write(&path, current).map_err(|e| Error::Config {
            what: format!("upgrading {}", path.display()),
            reason: e.to_string(),
        })?;
        upgraded.push(Hook::Upgraded(path));
    }
    Ok(upgraded)
}

/// Whether the file at `path` holds exactly `text`; a file that cannot be
/// read does not. Sizes are compared first: the hook may be anything.
fn has_contents(path: &Path, text: &str) -> bool {
    fs::metadata(path).is_ok_and(|m| m.len() == text.len() as u64)
        && fs::read(path).is_ok_and(|contents| contents == text.as_bytes())
}

/// The pre-receive hook a server runs: `command` (an absolute path, as
/// forges run hooks with a bare `PATH`) decides the whole push, reading
/// git's `OLD NEW REF` lines on its standard input. Unlike the client
/// hooks, it takes no `$GIT_AUTHENTICATE` from the environment: on a
/// server, that environment is partly the pusher's.
pub fn pre_receive_hook(command: &str) -> String {
    format!(
        "#!/bin/sh\n\
         # Installed by 'git-authenticate install-server-hook': refuse pushes of\n\
         # commits that are not authentic, as Guix authenticates channels.\n\
         exec {} pre-receive\n",
        shell_quoted(command)
    )
}

/// `text` as one single-quoted shell word.
fn shell_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Installs [`pre_receive_hook`] into the hooks directory of `repo`
/// (`core.hooksPath` when set), creating it. An existing hook is never
/// overwritten: [`Hook::Kept`] then says what to add to it.
pub fn install_server_hook(repo: &Repository, command: &str) -> Result<Hook, Error> {
    let dir = hooks_directory(repo)?;
    let fail = |what: String, e: std::io::Error| Error::Config {
        what,
        reason: e.to_string(),
    };
    fs::create_dir_all(&dir).map_err(|e| fail(format!("creating {}", dir.display()), e))?;
    let path = dir.join("pre-receive");
    match write_new_executable(&path, &pre_receive_hook(command)) {
        Ok(true) => Ok(Hook::Installed(path)),
        Ok(false) => Ok(Hook::Kept(
            path,
            "git-authenticate pre-receive (fed the hook's standard input)",
        )),
        Err(e) => Err(fail(format!("installing {}", path.display()), e)),
    }
}

/// Where git looks for hooks.
pub fn hooks_directory(repo: &Repository) -> Result<PathBuf, Error> {
    let configured = repo.config()?.snapshot()?.get_path("core.hooksPath").ok();
    Ok(match configured {
        Some(path) if path.is_absolute() => path,
        // Relative paths are relative to where hooks run: the work tree.
        Some(path) => repo.workdir().unwrap_or_else(|| repo.path()).join(path),
        None => repo.commondir().join("hooks"),
    })
}

/// Creates `path` with `text`, mode 755; `false` if it already exists.
fn write_new_executable(path: &Path, text: &str) -> std::io::Result<bool> {
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o755)
        .open(path);
    let mut file = match file {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(e),
    };
    file.write_all(text.as_bytes())?;
    // The umask may have dropped execute bits.
    file.set_permissions(fs::Permissions::from_mode(0o755))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn server_hook_quotes_its_command() {
        let hook = super::pre_receive_hook("/opt/it's here/git-authenticate");
        assert!(hook.contains("exec '/opt/it'\\''s here/git-authenticate' pre-receive\n"));
    }

    #[test]
    fn hooks_use_the_overridable_command() {
        assert!(super::PRE_PUSH.contains(command!()));
        assert!(super::POST_MERGE.contains(command!()));
    }

    #[test]
    fn pre_push_names_the_pushed_ref() {
        // The keyring branch is recognised by the pushed ref's name only.
        assert!(super::PRE_PUSH.contains(r#"--pushed-ref="$remote_ref""#));
        assert!(super::OLD_PRE_PUSH
            .iter()
            .all(|old| !old.contains("--pushed-ref")));
    }
}
