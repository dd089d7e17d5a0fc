//! The hooks that authenticate on push and pull (client side) and on
//! receive (server side): their texts, their installation and upgrade, and
//! what the doctor says about them. The command's, as in Guix's script.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use git_authenticate::doctor::{HookState, Problem};
use git_authenticate::git2::{self, Repository};
use git_authenticate::Untrusted;

/// Why a hook could not be installed or upgraded.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The hooks directory could not be found.
    #[error("git: {}", Untrusted::new(&.0.to_string()))]
    Git(#[from] git2::Error),
    /// The hooks directory could not be created.
    #[error("creating {}: {source}", path.display())]
    CreateDirectory {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A hook could not be written.
    #[error("installing {}: {source}", path.display())]
    Install {
        /// The hook.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An outdated hook could not be replaced.
    #[error("upgrading {}: {source}", path.display())]
    Upgrade {
        /// The hook.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
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
    /// Not installed: the hooks directory, `core.hooksPath`, is set by
    /// configuration outside the repository's own (the user's
    /// `~/.gitconfig`, the system's), so other repositories share it and
    /// a hook there would check their pushes and pulls against this
    /// repository's introduction. The text is what to add by hand.
    Shared(PathBuf, &'static str),
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
const OLD_PRE_PUSH: &[&str] = &[concat!(
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
const OLD_POST_MERGE: &[&str] = &[concat!(
    "#!/bin/sh\n# Installed by 'git-authenticate': authenticate what was just pulled.\nexec ",
    command!(),
    "\n"
)];

/// Runs on every reference update, and passes each remote-tracking
/// branch that a fetch (or push) moved on to the command once the update
/// is done ("committed"), which authenticates the current branch's
/// upstream, when it is that branch, or again when it is the keyring (git
/// updates each fetched ref in a transaction of its own, the upstream
/// possibly before the keyring that holds its new keys). This covers what
/// post-merge cannot see: `git pull --rebase`, and `git fetch` followed by
/// `git reset --hard` or `git rebase`. Git ignores the status of a
/// committed transaction's hook, so the fetch is not undone: like the
/// post-merge hook, the verdict is what it prints. Other updates (commits,
/// checkouts) cost one shell.
pub const REFERENCE_TRANSACTION: &str = concat!(
    r#"#!/bin/sh
# Installed by 'git-authenticate': authenticate what is fetched into the
# current branch's upstream (`git pull --rebase`, `git fetch` + `git reset`).
test "$1" = committed || exit 0
z40=0000000000000000000000000000000000000000
while read old_oid new_oid ref
do
  case "$ref" in
  refs/remotes/*)
    test "$new_oid" = "$z40" ||
      "#,
    command!(),
    r#" --end="$new_oid" --fetched-ref="$ref" </dev/null
    ;;
  esac
done
exit 0
"#
);

/// Whether `contents` is a hook an earlier version installed.
fn is_outdated_hook(contents: &[u8]) -> bool {
    OLD_PRE_PUSH
        .iter()
        .chain(OLD_POST_MERGE)
        .any(|old| old.as_bytes() == contents)
}

/// What a pre-existing pre-push hook should run to authenticate.
pub const PRE_PUSH_ADVICE: &str =
    "git-authenticate --end=\"$local_oid\" --pushed-ref=\"$remote_ref\" (for each pushed ref)";

/// What a pre-existing post-merge hook should run to authenticate.
pub const POST_MERGE_ADVICE: &str = "git-authenticate --after-merge";

/// What a pre-existing reference-transaction hook should run to
/// authenticate.
pub const REFERENCE_TRANSACTION_ADVICE: &str = "git-authenticate --end=\"$new_oid\" \
     --fetched-ref=\"$ref\" (when \"$1\" is `committed`, for each line whose ref is under \
     refs/remotes/; `--generate=hook-reference-transaction` prints the whole hook)";

/// The client hooks: name, current text, and what a hook of the
/// maintainer's own should run instead.
const CLIENT_HOOKS: [(&str, &str, &str); 3] = [
    ("pre-push", PRE_PUSH, PRE_PUSH_ADVICE),
    ("post-merge", POST_MERGE, POST_MERGE_ADVICE),
    (
        "reference-transaction",
        REFERENCE_TRANSACTION,
        REFERENCE_TRANSACTION_ADVICE,
    ),
];

/// Installs the `pre-push`, `post-merge` and `reference-transaction`
/// hooks, creating the hooks directory (`core.hooksPath` when the
/// repository's own configuration sets it). An existing hook is never
/// overwritten; a hooks directory shared with other repositories gets
/// nothing ([`Hook::Shared`]).
pub fn install_hooks(repo: &Repository) -> Result<Vec<Hook>, HookError> {
    let dir = match hooks_directory(repo)? {
        HooksDirectory::Own(dir) => create_directory(dir)?,
        HooksDirectory::Shared(dir) => {
            return Ok(CLIENT_HOOKS
                .into_iter()
                .map(|(name, _, advice)| Hook::Shared(dir.join(name), advice))
                .collect())
        }
    };
    CLIENT_HOOKS
        .into_iter()
        .map(|(name, text, advice)| install(dir.join(name), text, advice))
        .collect()
}

/// What to say about a hook not installed into a shared directory
/// ([`Hook::Shared`]): why, and how to add it by hand.
pub fn shared_advice(path: &Path, advice: &str) -> String {
    format!(
        "not installing hook '{}': core.hooksPath is set outside this repository's \
         configuration, so other repositories use that directory too; to authenticate in \
         this repository, add `{advice}` to that hook, run for this repository only; or give \
         this repository a hooks directory of its own (`git config core.hooksPath .git/hooks`) \
         holding the hooks `git-authenticate --generate=hook-NAME` prints",
        path.display()
    )
}

/// Writes `text` to `path`, unless a hook is there already: [`Hook::Kept`]
/// then says to add `advice` to it.
fn install(path: PathBuf, text: &str, advice: &'static str) -> Result<Hook, HookError> {
    match write_new_executable(&path, text) {
        Ok(true) => Ok(Hook::Installed(path)),
        Ok(false) => Ok(Hook::Kept(path, advice)),
        Err(source) => Err(HookError::Install { path, source }),
    }
}

/// `path`, created if need be.
fn create_directory(path: PathBuf) -> Result<PathBuf, HookError> {
    match fs::create_dir_all(&path) {
        Ok(()) => Ok(path),
        Err(source) => Err(HookError::CreateDirectory { path, source }),
    }
}

/// Size and SHA-1 of the pre-push hook that older Guix versions installed
/// and that Guix's `maybe-upgrade-hooks` replaces (its text is Guix's; it
/// is recognised as Guix recognises it).
const BROKEN_GUIX_PRE_PUSH: (usize, &str) = (161, "a9916155b71894014144fcafad7700f89da26c83");

/// Whether `contents` is the broken pre-push hook older Guix versions
/// installed.
fn is_broken_guix_pre_push(contents: &[u8]) -> bool {
    use sha1::Digest;
    contents.len() == BROKEN_GUIX_PRE_PUSH.0
        && format!("{:x}", sha1::Sha1::digest(contents)) == BROKEN_GUIX_PRE_PUSH.1
}

/// Replaces the hooks that earlier versions of this tool installed, and
/// the broken pre-push hook that older Guix versions installed (only
/// those, recognised by their exact contents), with the current ones, as
/// Guix's `maybe-upgrade-hooks` does.
///
/// The repository's own hooks directory, where a hook of ours is found,
/// also gets the hooks that later versions added (the
/// reference-transaction hook), never over an existing one; a directory
/// shared with other repositories gets no new hook.
pub fn upgrade_hooks(repo: &Repository) -> Result<Vec<Hook>, HookError> {
    let hooks = hooks_directory(repo)?;
    let directory = hooks.path();
    let mut upgraded = Vec::new();
    for (name, old, current) in [
        ("pre-push", OLD_PRE_PUSH, PRE_PUSH),
        ("post-merge", OLD_POST_MERGE, POST_MERGE),
    ] {
        let path = directory.join(name);
        let guix = name == "pre-push"
            && git_authenticate::read_regular_file(&path, BROKEN_GUIX_PRE_PUSH.0)
                .is_ok_and(|contents| is_broken_guix_pre_push(&contents));
        if !guix && !old.iter().any(|old| has_contents(&path, old)) {
            continue;
        }
        match fs::write(&path, current) {
            Ok(()) => upgraded.push(Hook::Upgraded(path)),
            Err(source) => return Err(HookError::Upgrade { path, source }),
        }
    }
    let ours = ["pre-push", "post-merge"].into_iter().any(|name| {
        let path = directory.join(name);
        has_contents(&path, PRE_PUSH) || has_contents(&path, POST_MERGE)
    });
    if ours && matches!(hooks, HooksDirectory::Own(_)) {
        let path = directory.join("reference-transaction");
        match write_new_executable(&path, REFERENCE_TRANSACTION) {
            Ok(true) => upgraded.push(Hook::Installed(path)),
            Ok(false) => {}
            Err(source) => return Err(HookError::Install { path, source }),
        }
    }
    Ok(upgraded)
}

/// Whether the file at `path` holds exactly `text`; a file that cannot be
/// read does not. Sizes are compared first: the hook may be anything.
fn has_contents(path: &Path, text: &str) -> bool {
    fs::metadata(path).is_ok_and(|m| m.len() == text.len() as u64)
        && fs::read(path).is_ok_and(|contents| contents == text.as_bytes())
}

/// The line by which [`install_server_hook`] recognises the hooks it
/// wrote, with the version of their text: a hook holding it, as written,
/// is upgraded when its text is not the current one.
const SERVER_HOOK_MARKER: &str = "# git-authenticate server hook, version 2";

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
         {SERVER_HOOK_MARKER} (install-server-hook recognises and upgrades it).\n\
         exec {} pre-receive\n",
        shell_quoted(command)
    )
}

/// The pre-receive hook that versions before [`SERVER_HOOK_MARKER`]
/// installed, calling `command`.
fn pre_receive_hook_1(command: &str) -> String {
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

/// The command of a pre-receive hook that this tool wrote, any version:
/// the text between `exec ` and ` pre-receive` of its last line, unquoted,
/// when the whole file is exactly what a version writes for it. Any other
/// file (edited, or someone else's) is not ours.
fn own_server_hook_command(contents: &str) -> Option<(String, bool)> {
    let last = contents.strip_suffix('\n')?.rsplit('\n').next()?;
    let quoted = last.strip_prefix("exec ")?.strip_suffix(" pre-receive")?;
    let command = shell_unquoted(quoted)?;
    if contents == pre_receive_hook(&command) {
        Some((command, true))
    } else if contents == pre_receive_hook_1(&command) {
        Some((command, false))
    } else {
        None
    }
}

/// The word that [`shell_quoted`] quoted as `quoted`, if it is one.
fn shell_unquoted(quoted: &str) -> Option<String> {
    let inner = quoted.strip_prefix('\'')?.strip_suffix('\'')?;
    let command = inner.replace("'\\''", "'");
    (shell_quoted(&command) == quoted).then_some(command)
}

/// What [`install_server_hook`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerHook {
    /// Written.
    Installed(PathBuf),
    /// The current hook, calling this command, was there already.
    Current(PathBuf),
    /// A hook this tool wrote, of an earlier version or calling another
    /// command (the one given), was replaced by the current one.
    Upgraded(PathBuf, String),
    /// Someone else's hook is there, left alone; the text is what to add
    /// to it.
    Kept(PathBuf, &'static str),
    /// Not installed: the hooks directory is shared with other
    /// repositories (as [`Hook::Shared`]).
    Shared(PathBuf, &'static str),
}

/// Installs [`pre_receive_hook`] into the hooks directory of `repo`
/// (`core.hooksPath` when set), creating it. A hook this tool wrote is
/// recognised: kept when current, replaced when of an earlier version or
/// calling another command. Any other hook is never overwritten:
/// [`ServerHook::Kept`] then says what to add to it.
pub fn install_server_hook(repo: &Repository, command: &str) -> Result<ServerHook, HookError> {
    const ADVICE: &str = "git-authenticate pre-receive (fed the hook's standard input)";
    let dir = match hooks_directory(repo)? {
        HooksDirectory::Own(dir) => create_directory(dir)?,
        HooksDirectory::Shared(dir) => {
            return Ok(ServerHook::Shared(dir.join("pre-receive"), ADVICE))
        }
    };
    let path = dir.join("pre-receive");
    let text = pre_receive_hook(command);
    match write_new_executable(&path, &text) {
        Ok(true) => return Ok(ServerHook::Installed(path)),
        Ok(false) => {}
        Err(source) => return Err(HookError::Install { path, source }),
    }
    // Hooks are small: a larger file is not one of ours.
    let contents = git_authenticate::read_regular_file(&path, MAX_HOOK).unwrap_or_default();
    let own = std::str::from_utf8(&contents)
        .ok()
        .and_then(own_server_hook_command);
    match own {
        Some((previous, true)) if previous == command => Ok(ServerHook::Current(path)),
        Some((previous, _)) => match replace_executable(&path, &text) {
            Ok(()) => Ok(ServerHook::Upgraded(path, previous)),
            Err(source) => Err(HookError::Upgrade { path, source }),
        },
        None => Ok(ServerHook::Kept(path, ADVICE)),
    }
}

/// Replaces the file at `path` by `text`, mode 755, atomically: git
/// running the hook meanwhile runs the old one or the new one whole.
fn replace_executable(path: &Path, text: &str) -> std::io::Result<()> {
    let temporary = path.with_extension("git-authenticate-new");
    let _ = fs::remove_file(&temporary);
    if !write_new_executable(&temporary, text)? {
        return Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists));
    }
    fs::rename(&temporary, path)
}

/// Where git looks for hooks.
enum HooksDirectory {
    /// The repository's own: `hooks` in its git directory, or
    /// `core.hooksPath` set by its own configuration.
    Own(PathBuf),
    /// `core.hooksPath` set by configuration outside the repository,
    /// which other repositories read too.
    Shared(PathBuf),
}

impl HooksDirectory {
    fn path(&self) -> &Path {
        match self {
            HooksDirectory::Own(path) | HooksDirectory::Shared(path) => path,
        }
    }
}

/// Where git looks for hooks, and whether other repositories look there.
fn hooks_directory(repo: &Repository) -> Result<HooksDirectory, git2::Error> {
    let config = repo.config()?.snapshot()?;
    let Ok(path) = config.get_path("core.hooksPath") else {
        return Ok(HooksDirectory::Own(repo.commondir().join("hooks")));
    };
    // Relative paths are relative to where hooks run: the work tree.
    let path = match path.is_absolute() {
        true => path,
        false => repo.workdir().unwrap_or_else(|| repo.path()).join(path),
    };
    let level = config.get_entry("core.hooksPath")?.level();
    Ok(match level {
        git2::ConfigLevel::Local | git2::ConfigLevel::Worktree => HooksDirectory::Own(path),
        _ => HooksDirectory::Shared(path),
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

/// Most bytes of a hook the doctor reads.
const MAX_HOOK: usize = 1 << 20;

/// The doctor's findings about the pre-push and post-merge hooks: each
/// must be installed, executable and current.
pub fn diagnose(repo: &Repository) -> Vec<Problem> {
    let Ok(directory) = hooks_directory(repo) else {
        return Vec::new();
    };
    let shared = matches!(directory, HooksDirectory::Shared(_));
    let directory = directory.path();
    CLIENT_HOOKS
        .into_iter()
        .filter_map(|(name, current, line)| {
            let path = directory.join(name);
            let state = match hook_state(&path, current)? {
                // Nothing is ever installed there, nor replaced.
                HookState::Missing | HookState::Foreign if shared => HookState::Shared,
                state => state,
            };
            Some(Problem::Hook {
                name,
                path,
                state,
                line,
            })
        })
        .collect()
}

fn hook_state(path: &Path, current: &str) -> Option<HookState> {
    let Ok(contents) = git_authenticate::read_regular_file(path, MAX_HOOK) else {
        return Some(HookState::Missing);
    };
    if is_broken_guix_pre_push(&contents) {
        return Some(HookState::BrokenGuix);
    }
    if is_outdated_hook(&contents) {
        return Some(HookState::Outdated);
    }
    let text = String::from_utf8_lossy(&contents);
    let authenticates = contents == current.as_bytes()
        || text.contains("git-authenticate")
        || text.contains("git authenticate");
    if !authenticates {
        return Some(HookState::Foreign);
    }
    let executable = fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
    (!executable).then_some(HookState::NotExecutable)
}

#[cfg(test)]
mod tests {
    #[test]
    fn server_hook_quotes_its_command() {
        let hook = super::pre_receive_hook("/opt/it's here/git-authenticate");
        assert!(hook.contains("exec '/opt/it'\\''s here/git-authenticate' pre-receive\n"));
    }

    #[test]
    fn own_server_hooks_are_recognised_by_their_whole_text() {
        let command = "/opt/it's here/git-authenticate";
        let own = |text: &str| super::own_server_hook_command(text);
        let current = super::pre_receive_hook(command);
        assert_eq!(own(&current), Some((command.to_owned(), true)));
        let older = super::pre_receive_hook_1(command);
        assert_eq!(own(&older), Some((command.to_owned(), false)));
        // Edited, or someone else's: not ours.
        assert_eq!(own(&current.replace("exec", "echo hi; exec")), None);
        assert_eq!(own(&format!("{current}echo more\n")), None);
        assert_eq!(own("#!/bin/sh\nexec 'x' pre-receive\n"), None);
        assert_eq!(own(&current.replace("it'\\''s", "it's")), None);
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
