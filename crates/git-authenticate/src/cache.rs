//! The cache of authenticated commits, so that later runs check only what
//! is new.
//!
//! One file per cache key, in Guix's format extended: comments, then an
//! s-expression list of entries, newest first, at most [`MAX_ENTRIES`].
//! Where Guix lists commit ids, each entry also says under which
//! [`Conditions`] (policy and historical authorizations) its commit was
//! authenticated, `("ID" guix)` or `("ID" strict "DIGEST")`: a cached
//! commit counts only for a run under the same conditions or weaker ones,
//! so that a cache filled by ordinary runs never waives `--policy=strict`,
//! and one filled with historical authorizations never waives their
//! absence. Entries of files written before conditions were recorded (bare
//! ids, as Guix writes them) say nothing of them, so they count for no run
//! (earlier versions also recorded runs made with historical
//! authorizations); they are dropped at the next write.
//!
//! The cache says which commits need no checking, so whoever can write it
//! can get any commit accepted. It is therefore used only if nobody else
//! can have written it:
//!
//! - the cache root (`$XDG_CACHE_HOME`, else `~/.cache`; for
//!   [`Cache::in_directory`], the directory given) and every directory
//!   below it down to the file must be owned by the user and not writable
//!   by group or others. Directories above the root are the user's
//!   business (as with `~/.ssh`): the root may even be a symbolic link,
//!   since what is checked is the directory it leads to;
//! - below the root, no symbolic link is followed;
//! - the file must be a regular file owned by the user, of mode exactly
//!   0600 (one with another mode is ignored and made private, as Guix
//!   does), and at most 64 KiB.
//!
//! Every check is made on an open descriptor, and what is used is what was
//! checked: directories are opened one below the other (`openat`, never a
//! path from the root again), files are opened relative to their checked
//! directory, and nothing is ever opened through a symbolic link, so no
//! other user can swap a file or directory between the check and the use.
//! A cache that fails a check is ignored, for reading and for writing, with
//! a [`CacheWarning`]: ignoring the cache only costs time.
//!
//! Writes take a lock, so that concurrent runs lose no entry, and replace
//! the file atomically (a new private file in the same directory, synced,
//! then renamed over it), so that no reader ever sees half of it.
//!
//! A comment names the introduction the commits were authenticated from.
//! Commits listed under another introduction (a cache key shared by two
//! channels) or under none are not trusted as they are: the caller must
//! check that they descend from its introduction.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use git2::{Oid, Repository};
use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags, CWD};
use rustix::io::Errno;
use sha2::{Digest, Sha256};

use crate::channel::authorizations::Authorizations;
use crate::openpgp::policy::Policy;
use guile_reader as sexp;
use untrusted_text::Untrusted;

/// Most commits a cache file keeps.
pub const MAX_ENTRIES: usize = 200;

/// Cache files larger than this are ignored as tampered.
const MAX_FILE_SIZE: u64 = 64 << 10;

/// The only mode a cache file may have, as in Guix.
const FILE_MODE: u32 = 0o600;

/// The mode of the directories this program creates.
const DIRECTORY_MODE: u32 = 0o700;

/// Where the cache files live below the user's cache directory.
const SUBDIRECTORIES: [&str; 2] = ["git-authenticate", "authentication"];

/// The cache file for one key.
///
/// ```no_run
/// use git_authenticate::Cache;
///
/// let repo = git2::Repository::open(".")?;
/// let cache = Cache::for_key(&Cache::default_key(&repo))?;
/// let (commits, warnings) = cache.read();
/// println!("{} cached commits in {}", commits.len(), cache.path().display());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Cache {
    /// The directory from which everything down to the file must be the
    /// user's own and private.
    root: PathBuf,
    /// The directories from the root to the file, one plain name each.
    directories: Vec<String>,
    /// The file's name in the last of them.
    name: String,
    /// The whole path, for messages.
    path: PathBuf,
}

/// Something about the cache the user should know, though it did not stop
/// authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheWarning {
    /// The cache file.
    pub path: PathBuf,
    /// What happened.
    pub problem: CacheProblem,
}

/// What was wrong with the cache. Its message says what, where, and what
/// to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheProblem {
    /// A directory from the cache root down to the file could let someone
    /// else write the cache: the cache is ignored, for reading and writing.
    UnsafeDirectory {
        /// The directory.
        directory: PathBuf,
        /// What is wrong with it.
        reason: UnsafeEntry,
    },
    /// The cache file could have been written by someone else: its
    /// contents are ignored (and it is replaced at the next write).
    UnsafeFile {
        /// What is wrong with it.
        reason: UnsafeEntry,
    },
    /// The lock file beside the cache file is unusable, so the cache is not
    /// updated.
    UnsafeLock {
        /// The lock file.
        lock: PathBuf,
        /// What is wrong with it.
        reason: UnsafeEntry,
    },
    /// The file is not a list of full commit ids.
    Malformed,
    /// A system call failed.
    Failed {
        /// What was being done.
        action: CacheAction,
        /// On what.
        path: PathBuf,
        /// The operating system's error number (`errno`).
        os_error: i32,
    },
    /// The file was written by an earlier version, which did not record
    /// under which policy and historical authorizations its commits were
    /// authenticated: they are not used (they are checked again).
    Unconditioned {
        /// How many entries say nothing of their conditions.
        entries: usize,
    },
    /// A cached commit does not descend from the introduction it is used
    /// with (the cache is shared with another channel, or forged).
    NotDescendant {
        /// The cached commit.
        commit: Oid,
        /// The introductory commit.
        introduction: Oid,
    },
}

/// Why a file or directory of the cache is not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnsafeEntry {
    /// It is a symbolic link, which is never followed below the cache root.
    SymbolicLink,
    /// It is not of the expected type: for a file, a FIFO, a device or a
    /// directory; for a directory, anything else.
    WrongType,
    /// It is owned by another user.
    NotOwned {
        /// Its owner.
        owner: u32,
        /// The user running this program (effective user id).
        user: u32,
    },
    /// A directory writable by its group or by others.
    Writable {
        /// Its permission bits.
        mode: u32,
    },
    /// A cache file whose mode is not 0600.
    Mode {
        /// Its permission bits.
        mode: u32,
        /// Whether it was removed, so that nothing it held is trusted
        /// later and the next write starts afresh.
        reset: bool,
    },
    /// A cache file larger than any this program writes.
    TooLarge {
        /// Its size, in bytes (at least this much).
        size: u64,
    },
}

/// An operation on the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheAction {
    /// Opening a directory.
    OpenDirectory,
    /// Creating a directory.
    CreateDirectory,
    /// Opening or reading the cache file.
    Read,
    /// Taking the lock.
    Lock,
    /// Writing the new file and renaming it over the old one.
    Write,
}

/// What a commit was authenticated under: the key policy and the
/// historical authorizations. A cached commit counts for a run whose
/// conditions are [served](Conditions::serve) by those it was recorded
/// under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Conditions {
    /// The key policy.
    pub policy: Policy,
    /// The SHA-256 of the historical authorizations' fingerprints (sorted,
    /// in hex, one a line); `None` when there are none, the default and
    /// strictest.
    historical: Option<[u8; 32]>,
}

impl Conditions {
    /// The conditions of a run under `policy` with `historical`
    /// authorizations.
    pub fn new(policy: Policy, historical: &Authorizations) -> Self {
        let mut fingerprints: Vec<String> = historical
            .fingerprints()
            .iter()
            .map(|f| f.to_hex())
            .collect();
        fingerprints.sort_unstable();
        fingerprints.dedup();
        let historical = (!fingerprints.is_empty()).then(|| {
            let mut digest = Sha256::new();
            for fingerprint in &fingerprints {
                digest.update(fingerprint.as_bytes());
                digest.update(b"\n");
            }
            digest.finalize().into()
        });
        Conditions { policy, historical }
    }

    /// Whether a commit authenticated under these conditions is authentic
    /// under `run`'s: the strict policy serves both policies, Guix's only
    /// itself; no historical authorizations serve any (authorizing more
    /// keys only accepts more), others only the same set.
    pub fn serve(&self, run: &Conditions) -> bool {
        let policy = self.policy == Policy::Strict || run.policy == Policy::Guix;
        let historical = self.historical.is_none() || self.historical == run.historical;
        policy && historical
    }
}

/// The cached commits, as seen from one introduction.
#[derive(Debug, Clone, Default)]
pub struct Cached {
    /// Commits recorded for this introduction, under conditions that serve
    /// the run's.
    pub trusted: Vec<Oid>,
    /// Commits recorded for another introduction, or for none, under
    /// conditions that serve the run's: they count only once shown to
    /// descend from the introduction.
    pub unverified: Vec<Oid>,
    /// Problems with the file.
    pub warnings: Vec<CacheWarning>,
}

impl std::fmt::Display for CacheWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "authentication cache `{}`: {}",
            self.path.display(),
            self.problem
        )
    }
}

impl std::fmt::Display for CacheProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheProblem::UnsafeDirectory { directory, reason } => write!(
                f,
                "directory `{}` {reason}, so someone else could write the cache; the cache is \
                 ignored; {}",
                directory.display(),
                advice(directory, *reason)
            ),
            CacheProblem::UnsafeFile { reason } => write!(
                f,
                "{reason}, so it may have been tampered with; ignoring its contents{}",
                match reason {
                    UnsafeEntry::Mode { reset: true, .. } => " (removed)",
                    _ => "",
                }
            ),
            CacheProblem::UnsafeLock { lock, reason } => write!(
                f,
                "cannot lock it: the lock file `{}` {reason}; the cache is not updated; {}",
                lock.display(),
                advice(lock, *reason)
            ),
            CacheProblem::Malformed => write!(f, "is not a list of commit ids; ignoring it"),
            CacheProblem::Unconditioned { entries } => write!(
                f,
                "written by an earlier version, which did not record under which policy and \
                 historical authorizations its {entries} commits were authenticated; they are \
                 not used (checked again this time)"
            ),
            CacheProblem::Failed {
                action,
                path,
                os_error,
            } => write!(
                f,
                "cannot {action} `{}` ({}); {}",
                path.display(),
                std::io::Error::from_raw_os_error(*os_error),
                match action {
                    CacheAction::OpenDirectory | CacheAction::Read => "ignoring the cache",
                    _ => "the cache is not updated",
                }
            ),
            CacheProblem::NotDescendant {
                commit,
                introduction,
            } => write!(
                f,
                "cached commit {commit} does not descend from introductory commit \
                 {introduction}; ignoring it"
            ),
        }
    }
}

impl std::fmt::Display for UnsafeEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnsafeEntry::SymbolicLink => write!(f, "is a symbolic link"),
            UnsafeEntry::WrongType => write!(f, "is not of the expected type"),
            UnsafeEntry::NotOwned { owner, user } => {
                write!(f, "is owned by user {owner}, not by you (user {user})")
            }
            UnsafeEntry::Writable { mode } => write!(
                f,
                "is writable by {} (mode {mode:04o})",
                if mode & 0o002 != 0 {
                    "others"
                } else {
                    "its group"
                }
            ),
            UnsafeEntry::Mode { mode, .. } => write!(f, "has mode {mode:o} instead of 600"),
            UnsafeEntry::TooLarge { size } => {
                write!(f, "is {size} bytes long, too large to be ours")
            }
        }
    }
}

/// What the user can do about an unsafe directory or lock file.
fn advice(path: &Path, reason: UnsafeEntry) -> String {
    let path = path.display();
    match reason {
        UnsafeEntry::Writable { .. } => format!("make it private: chmod 700 {path}"),
        UnsafeEntry::NotOwned { .. } => format!(
            "use a cache directory of your own (set XDG_CACHE_HOME), or remove `{path}` if you \
             can"
        ),
        _ => format!("remove `{path}`; it is made again, private"),
    }
}

impl std::fmt::Display for CacheAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CacheAction::OpenDirectory => "open directory",
            CacheAction::CreateDirectory => "create directory",
            CacheAction::Read => "read",
            CacheAction::Lock => "lock it with",
            CacheAction::Write => "write",
        })
    }
}

/// Why no cache can be named: the caller asked for one that cannot exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// Neither `XDG_CACHE_HOME` nor `HOME` is set.
    #[error(
        "authentication cache `{}`: no cache directory: neither XDG_CACHE_HOME nor HOME \
         is set",
        Untrusted::new(key)
    )]
    NoCacheDirectory {
        /// The cache key asked for.
        key: String,
    },
    /// A cache key longer than [`Cache::MAX_KEY`] bytes, which no file
    /// name could hold (any shorter key is accepted, as Guix accepts it).
    #[error(
        "invalid cache key: {} bytes long, more than the {} a key may have",
        .0.len(),
        Cache::MAX_KEY
    )]
    InvalidKey(String),
}

impl CacheError {
    /// A short, stable name for the kind of error, used in
    /// machine-readable output.
    pub fn kind(&self) -> &'static str {
        match self {
            CacheError::NoCacheDirectory { .. } => "cache",
            CacheError::InvalidKey(_) => "invalid-cache-key",
        }
    }
}

/// Whether `key` is a relative path of plain names, each made of letters,
/// digits, `-`, `_`, `.`, `=` and `+`: such a key is its own path below
/// the cache directory (the keys this tool always accepted, whose files
/// are found where they were).
fn is_plain_key(key: &str) -> bool {
    key.split('/').all(|part| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.=+".contains(&b))
    })
}

/// Longest file name most file systems accept (`NAME_MAX`).
const MAX_FILE_NAME: usize = 255;

/// Any other key as one file name: `%`, then the key with each byte other
/// than a letter, digit, `-`, `_`, `.`, `=` or `+` written `%XX`. It
/// starts with `%`, which no plain key holds, and cannot be `.` or `..`;
/// a name too long for a file system is the key's SHA-256 instead.
fn escaped_key(key: &str) -> String {
    let mut name = String::from("%");
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.=+".contains(&b) {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    if name.len() > MAX_FILE_NAME {
        // Never the escaping of a key: that would be a plain key.
        return format!("%sha256-{:x}", Sha256::digest(key.as_bytes()));
    }
    name
}

impl Cache {
    /// Most commits a cache file keeps.
    pub const MAX_ENTRIES: usize = MAX_ENTRIES;

    /// The cache file for `key` under the user's cache directory
    /// (`$XDG_CACHE_HOME/git-authenticate/authentication/KEY` on Linux).
    /// That directory, `$XDG_CACHE_HOME` (or `~/.cache`), is the cache
    /// root: it and everything below it must be private to the user.
    ///
    /// Any key Guix accepts is accepted, as a file name that cannot leave
    /// the cache directory: see [`Cache::in_directory`].
    pub fn for_key(key: &str) -> Result<Self, CacheError> {
        let root = directories::BaseDirs::new()
            .map(|dirs| dirs.cache_dir().to_path_buf())
            .ok_or_else(|| CacheError::NoCacheDirectory {
                key: key.to_owned(),
            })?;
        Self::below(root, &SUBDIRECTORIES, key)
    }

    /// The cache file for `key` under `directory`, which is the cache root:
    /// it and everything below it must be private to the user.
    ///
    /// Guix takes any string as a key and appends it to its cache
    /// directory's name (so `../x` leaves it). Here, a key that is a
    /// relative path of plain names made of letters, digits, `-`, `_`,
    /// `.`, `=` and `+` (`checkouts/abc`, `ci/my-channel`) is that path, as
    /// in Guix; any other key (`wild/name@master`, `my channel`, `../x`) is
    /// one file name, `%` followed by the key with every other byte, `/`
    /// and `%` included, written `%XX`: no `%` is in a plain key, and the
    /// escaping is reversible, so no two keys share a file. A name longer
    /// than a file name may be is `%sha256-` and the key's SHA-256 in hex.
    /// Only keys longer than [`Cache::MAX_KEY`] bytes are refused.
    pub fn in_directory(directory: &Path, key: &str) -> Result<Self, CacheError> {
        Self::below(directory.to_path_buf(), &[], key)
    }

    /// The longest key accepted, in bytes: the longest path a system
    /// accepts (`PATH_MAX`), so every key Guix can use.
    pub const MAX_KEY: usize = 4096;

    fn below(root: PathBuf, subdirectories: &[&str], key: &str) -> Result<Self, CacheError> {
        if key.len() > Self::MAX_KEY {
            return Err(CacheError::InvalidKey(key.to_owned()));
        }
        let escaped;
        let parts: Vec<&str> = if is_plain_key(key) {
            key.split('/').collect()
        } else {
            escaped = escaped_key(key);
            vec![escaped.as_str()]
        };
        let Some((name, key_directories)) = parts.split_last() else {
            return Err(CacheError::InvalidKey(key.to_owned()));
        };
        let directories: Vec<String> = subdirectories
            .iter()
            .chain(key_directories)
            .map(|d| d.to_string())
            .collect();
        let path = directories
            .iter()
            .fold(root.clone(), |path, d| path.join(d))
            .join(name);
        Ok(Cache {
            root,
            directories,
            name: name.to_string(),
            path,
        })
    }

    /// The default key of a repository: derived from its path, as Guix
    /// derives it (`checkouts/` and the SHA-256 of the path in base64),
    /// but with the URL-safe alphabet so that the key is one file name.
    pub fn default_key(repo: &Repository) -> String {
        let path = repo.workdir().unwrap_or_else(|| repo.path());
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
        format!(
            "checkouts/{}",
            base64::engine::general_purpose::URL_SAFE.encode(digest)
        )
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cached commit ids, newest first, and any warning about the file.
    ///
    /// A missing file is an empty cache. A file that may have been tampered
    /// with, or cannot be read, is ignored with a warning: the cache only
    /// ever saves work, so ignoring it is always safe.
    ///
    /// Every entry's commit is listed, under whatever conditions it was
    /// recorded: [`Cache::read_for`] says which count for a run.
    pub fn read(&self) -> (Vec<Oid>, Vec<CacheWarning>) {
        match self.read_checked() {
            Ok(contents) => (
                contents.entries.iter().map(|e| e.commit).collect(),
                Vec::new(),
            ),
            Err(problem) => (Vec::new(), vec![self.warning(problem)]),
        }
    }

    /// The cached commits that count for a run under `conditions`, split
    /// by whether they were recorded for `introduction`.
    pub fn read_for(&self, introduction: Oid, conditions: &Conditions) -> Cached {
        let contents = match self.read_checked() {
            Ok(contents) => contents,
            Err(problem) => {
                return Cached {
                    warnings: vec![self.warning(problem)],
                    ..Cached::default()
                }
            }
        };
        let unconditioned = contents
            .entries
            .iter()
            .filter(|e| e.conditions.is_none())
            .count();
        let warnings = match unconditioned {
            0 => Vec::new(),
            entries => vec![self.warning(CacheProblem::Unconditioned { entries })],
        };
        let commits = contents
            .entries
            .into_iter()
            .filter(|e| e.conditions.is_some_and(|c| c.serve(conditions)))
            .map(|e| e.commit)
            .collect();
        match contents.introduction == Some(introduction) {
            true => Cached {
                trusted: commits,
                unverified: Vec::new(),
                warnings,
            },
            false => Cached {
                trusted: Vec::new(),
                unverified: commits,
                warnings,
            },
        }
    }

    /// A warning about this cache file.
    pub fn warning(&self, problem: CacheProblem) -> CacheWarning {
        CacheWarning {
            path: self.path.clone(),
            problem,
        }
    }

    /// The file's contents, if its directories and itself pass the checks;
    /// a cache that does not exist yet is empty.
    fn read_checked(&self) -> Result<Contents, CacheProblem> {
        match self.open_directory(false)? {
            Some(directory) => directory.read(&self.name),
            None => Ok(Contents::default()),
        }
    }

    /// Records `commit` as authenticated from `introduction` under
    /// `conditions`: it goes first, the same entry recorded earlier goes,
    /// and the list is cut to [`Cache::MAX_ENTRIES`]. Commits recorded
    /// earlier for another introduction are kept only if they are in
    /// `descendants` (shown to descend from this one); entries that say
    /// nothing of their conditions are dropped.
    ///
    /// Nothing here stops authentication: whatever goes wrong (an unsafe
    /// directory, a file that cannot be written) is returned as a warning,
    /// and the cache is then left as it was.
    pub fn record(
        &self,
        commit: Oid,
        introduction: Oid,
        conditions: &Conditions,
        descendants: &[Oid],
    ) -> Vec<CacheWarning> {
        let entry = Entry {
            commit,
            conditions: Some(*conditions),
        };
        match self.try_record(entry, introduction, descendants) {
            Ok(warnings) => warnings,
            Err(problem) => vec![self.warning(problem)],
        }
    }

    fn try_record(
        &self,
        entry: Entry,
        introduction: Oid,
        descendants: &[Oid],
    ) -> Result<Vec<CacheWarning>, CacheProblem> {
        let directory = self
            .open_directory(true)?
            .ok_or_else(|| failed(CacheAction::CreateDirectory, &self.path, Errno::NOENT))?;
        let _lock = directory.lock(&self.name)?;
        let (previous, warnings) = match directory.read(&self.name) {
            Ok(contents) => (contents, Vec::new()),
            Err(problem) => (Contents::default(), vec![self.warning(problem)]),
        };
        let same_introduction = previous.introduction == Some(introduction);
        let descendants: HashSet<Oid> = descendants.iter().copied().collect();
        let mut entries = vec![entry];
        entries.extend(previous.entries.into_iter().filter(|e| {
            *e != entry
                && e.conditions.is_some()
                && (same_introduction || descendants.contains(&e.commit))
        }));
        entries.truncate(MAX_ENTRIES);
        let contents = Contents {
            introduction: Some(introduction),
            entries,
        };
        directory.replace(&self.name, format(&contents).as_bytes())?;
        Ok(warnings)
    }

    /// The file's directory, opened and checked from the root down; `None`
    /// if some directory does not exist and `create` is false. With
    /// `create`, missing directories are made, private.
    fn open_directory(&self, create: bool) -> Result<Option<Directory>, CacheProblem> {
        let Some(mut directory) = Directory::open_root(&self.root, create)? else {
            return Ok(None);
        };
        for name in &self.directories {
            match directory.child(name, create)? {
                Some(child) => directory = child,
                None => return Ok(None),
            }
        }
        Ok(Some(directory))
    }
}

/// A directory of the cache, open, and checked to be the user's own and
/// private.
struct Directory {
    fd: OwnedFd,
    path: PathBuf,
}

/// Opening flags shared by every open: the descriptor does not leak into
/// the programs we run (git hooks), and a FIFO or a terminal planted where
/// a file should be can neither block the open nor become our terminal.
fn common_flags() -> OFlags {
    OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY
}

impl Directory {
    /// The cache root. Symbolic links on the way to it are followed (they
    /// are the user's business); the directory reached is checked.
    fn open_root(root: &Path, create: bool) -> Result<Option<Directory>, CacheProblem> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | common_flags();
        let fd = match rustix::fs::openat(CWD, root, flags, Mode::empty()) {
            Err(Errno::NOENT) if create => {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(DIRECTORY_MODE)
                    .create(root)
                    .map_err(|e| failed_io(CacheAction::CreateDirectory, root, &e))?;
                rustix::fs::openat(CWD, root, flags, Mode::empty())
            }
            other => other,
        };
        Self::checked(fd, root.to_path_buf(), || UnsafeEntry::WrongType)
    }

    /// The subdirectory `name`, which must not be a symbolic link.
    fn child(&self, name: &str, create: bool) -> Result<Option<Directory>, CacheProblem> {
        let path = self.path.join(name);
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | common_flags();
        let fd = match rustix::fs::openat(&self.fd, name, flags, Mode::empty()) {
            Err(Errno::NOENT) if create => {
                match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(DIRECTORY_MODE)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(failed(CacheAction::CreateDirectory, &path, e)),
                }
                rustix::fs::openat(&self.fd, name, flags, Mode::empty())
            }
            other => other,
        };
        // With O_DIRECTORY, Linux refuses a symbolic link as "not a
        // directory"; look again, for the message only.
        let what = || match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink => {
                UnsafeEntry::SymbolicLink
            }
            _ => UnsafeEntry::WrongType,
        };
        Self::checked(fd, path, what)
    }

    /// The opened directory if it is the user's own and private; `None` if
    /// it does not exist. `what` says what is there instead of a directory.
    fn checked(
        fd: rustix::io::Result<OwnedFd>,
        path: PathBuf,
        what: impl FnOnce() -> UnsafeEntry,
    ) -> Result<Option<Directory>, CacheProblem> {
        let unsafe_directory = |reason| CacheProblem::UnsafeDirectory {
            directory: path.clone(),
            reason,
        };
        let fd = match fd {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            // What O_NOFOLLOW and O_DIRECTORY refuse.
            Err(Errno::LOOP) => return Err(unsafe_directory(UnsafeEntry::SymbolicLink)),
            Err(Errno::NOTDIR) => return Err(unsafe_directory(what())),
            Err(e) => return Err(failed(CacheAction::OpenDirectory, &path, e)),
        };
        let stat =
            rustix::fs::fstat(&fd).map_err(|e| failed(CacheAction::OpenDirectory, &path, e))?;
        owned_by_user(&stat).map_err(unsafe_directory)?;
        let mode = permissions(&stat);
        // The group's bits also show what a POSIX ACL grants anyone else.
        if mode & 0o022 != 0 {
            return Err(unsafe_directory(UnsafeEntry::Writable { mode }));
        }
        Ok(Some(Directory { fd, path }))
    }

    /// The contents of the cache file `name`; empty if there is none.
    fn read(&self, name: &str) -> Result<Contents, CacheProblem> {
        let path = self.path.join(name);
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | common_flags();
        let fd = match rustix::fs::openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(Contents::default()),
            Err(Errno::LOOP) => return Err(unsafe_file(UnsafeEntry::SymbolicLink)),
            Err(e) => return Err(failed(CacheAction::Read, &path, e)),
        };
        let stat = rustix::fs::fstat(&fd).map_err(|e| failed(CacheAction::Read, &path, e))?;
        regular_and_owned(&stat).map_err(unsafe_file)?;
        let mode = permissions(&stat);
        if mode != FILE_MODE {
            // Ignore what may have been tampered with, and remove it, so
            // that the next write starts afresh. Guix makes the file
            // private again instead (`previously-authenticated-commits`),
            // and so trusts at the next read what anyone could write
            // until then (or through a descriptor opened before).
            let reset = self.remove_if_same(name, &stat);
            return Err(unsafe_file(UnsafeEntry::Mode { mode, reset }));
        }
        let mut bytes = Vec::new();
        // One byte more than allowed tells a file that is too large (or
        // grew since it was checked) from one that is just right.
        File::from(fd)
            .take(MAX_FILE_SIZE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| failed_io(CacheAction::Read, &path, &e))?;
        if bytes.len() as u64 > MAX_FILE_SIZE {
            let size = u64::try_from(stat.st_size)
                .unwrap_or(0)
                .max(bytes.len() as u64);
            return Err(unsafe_file(UnsafeEntry::TooLarge { size }));
        }
        parse(&bytes).ok_or(CacheProblem::Malformed)
    }

    /// Removes `name` if it is still the file `opened` (not one a
    /// concurrent write put in its place); whether it is gone.
    fn remove_if_same(&self, name: &str, opened: &rustix::fs::Stat) -> bool {
        let now = rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW);
        match now {
            Ok(now) if (now.st_dev, now.st_ino) == (opened.st_dev, opened.st_ino) => {
                rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()).is_ok()
            }
            _ => false,
        }
    }

    /// An exclusive lock on the lock file of `name`, held until dropped.
    fn lock(&self, name: &str) -> Result<OwnedFd, CacheProblem> {
        let lock_name = format!("{name}.lock");
        let path = self.path.join(&lock_name);
        let unsafe_lock = |reason| CacheProblem::UnsafeLock {
            lock: path.clone(),
            reason,
        };
        // Read and write: a FIFO planted here opens at once, to be refused below.
        let flags = OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | common_flags();
        let fd =
            match rustix::fs::openat(&self.fd, &lock_name, flags, Mode::from_raw_mode(FILE_MODE)) {
                Ok(fd) => fd,
                Err(Errno::LOOP) => return Err(unsafe_lock(UnsafeEntry::SymbolicLink)),
                Err(e) => return Err(failed(CacheAction::Lock, &path, e)),
            };
        let stat = rustix::fs::fstat(&fd).map_err(|e| failed(CacheAction::Lock, &path, e))?;
        regular_and_owned(&stat).map_err(unsafe_lock)?;
        rustix::fs::flock(&fd, FlockOperation::LockExclusive)
            .map_err(|e| failed(CacheAction::Lock, &path, e))?;
        Ok(fd)
    }

    /// Replaces the file `name` with `bytes`: a new private file is written
    /// beside it and renamed over it. The rename replaces whatever is at
    /// `name` (a symbolic link included) rather than writing through it.
    fn replace(&self, name: &str, bytes: &[u8]) -> Result<(), CacheProblem> {
        let (temporary, file) = self.create_temporary()?;
        let path = self.path.join(name);
        let written = (|| -> std::io::Result<()> {
            let mut file = File::from(file);
            // Whatever the umask, the file must have the one trusted mode.
            rustix::fs::fchmod(&file, Mode::from_raw_mode(FILE_MODE))?;
            file.write_all(bytes)?;
            rustix::fs::fsync(&file)?;
            rustix::fs::renameat(&self.fd, &temporary, &self.fd, name)?;
            Ok(())
        })();
        if let Err(e) = written {
            let _ = rustix::fs::unlinkat(&self.fd, &temporary, AtFlags::empty());
            return Err(failed_io(CacheAction::Write, &path, &e));
        }
        // Makes the rename itself durable; a failure (some file systems
        // cannot sync a directory) only risks losing this entry.
        let _ = rustix::fs::fsync(&self.fd);
        Ok(())
    }

    /// A new file of a fresh name in this directory. `O_EXCL` makes the
    /// open fail rather than follow anything planted at that name.
    fn create_temporary(&self) -> Result<(String, OwnedFd), CacheProblem> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | common_flags();
        let mut last_error = Errno::EXIST;
        for _ in 0..16 {
            let name = format!(
                ".tmp-{}-{:x}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            );
            match rustix::fs::openat(&self.fd, &name, flags, Mode::from_raw_mode(FILE_MODE)) {
                Ok(fd) => return Ok((name, fd)),
                Err(Errno::EXIST) => last_error = Errno::EXIST,
                Err(e) => {
                    last_error = e;
                    break;
                }
            }
        }
        Err(failed(CacheAction::Write, &self.path, last_error))
    }
}

fn unsafe_file(reason: UnsafeEntry) -> CacheProblem {
    CacheProblem::UnsafeFile { reason }
}

fn failed(action: CacheAction, path: &Path, error: Errno) -> CacheProblem {
    CacheProblem::Failed {
        action,
        path: path.to_path_buf(),
        os_error: error.raw_os_error(),
    }
}

fn failed_io(action: CacheAction, path: &Path, error: &std::io::Error) -> CacheProblem {
    let errno = Errno::from_io_error(error).unwrap_or(Errno::IO);
    failed(action, path, errno)
}

/// The permission bits (with set-id and sticky bits), as Guix's
/// `stat:perms`.
fn permissions(stat: &rustix::fs::Stat) -> u32 {
    Mode::from_raw_mode(stat.st_mode).bits() & 0o7777
}

fn owned_by_user(stat: &rustix::fs::Stat) -> Result<(), UnsafeEntry> {
    let user = rustix::process::geteuid().as_raw();
    if stat.st_uid != user {
        return Err(UnsafeEntry::NotOwned {
            owner: stat.st_uid,
            user,
        });
    }
    Ok(())
}

fn regular_and_owned(stat: &rustix::fs::Stat) -> Result<(), UnsafeEntry> {
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(UnsafeEntry::WrongType);
    }
    owned_by_user(stat)
}

/// What a cache file holds.
#[derive(Debug, Default, PartialEq, Eq)]
struct Contents {
    introduction: Option<Oid>,
    entries: Vec<Entry>,
}

/// One cached commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    commit: Oid,
    /// What it was authenticated under; `None` for an entry written before
    /// conditions were recorded, which counts for no run.
    conditions: Option<Conditions>,
}

const INTRODUCTION_COMMENT: &str = ";; Introduction: ";

/// Guix's format: comment lines, a blank line, the list; each entry a list
/// of the commit id, the policy and, if any, the historical
/// authorizations' digest.
fn format(contents: &Contents) -> String {
    let mut text = String::from(";; List of previously-authenticated commits.\n");
    if let Some(introduction) = contents.introduction {
        text.push_str(&format!("{INTRODUCTION_COMMENT}{introduction}\n"));
    }
    text.push_str("\n(");
    for (i, entry) in contents.entries.iter().enumerate() {
        if i > 0 {
            text.push_str("\n ");
        }
        text.push_str(&format_entry(entry));
    }
    text.push_str(")\n");
    text
}

fn format_entry(entry: &Entry) -> String {
    let Some(conditions) = entry.conditions else {
        return format!("\"{}\"", entry.commit);
    };
    let policy = policy_name(conditions.policy);
    match conditions.historical {
        None => format!("(\"{}\" {policy})", entry.commit),
        Some(digest) => format!("(\"{}\" {policy} \"{}\")", entry.commit, hex(&digest)),
    }
}

fn policy_name(policy: Policy) -> &'static str {
    match policy {
        Policy::Guix => "guix",
        Policy::Strict => "strict",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The commit ids a cache file lists, newest first, and the introduction it
/// names, if any; `None` when it is not a cache file. The fuzz target's
/// entry point.
#[cfg(any(test, feature = "fuzzing"))]
pub fn parse_file(bytes: &[u8]) -> Option<(Vec<Oid>, Option<Oid>)> {
    parse(bytes).map(|c| (c.entries.iter().map(|e| e.commit).collect(), c.introduction))
}

/// What a cache file holds, or `None` if it is not a list of entries.
fn parse(bytes: &[u8]) -> Option<Contents> {
    let datum = sexp::read_first(bytes).ok()?;
    let items = sexp::list(&datum)?;
    let entries = items
        .iter()
        .map(|item| parse_entry(item))
        .collect::<Option<_>>()?;
    // The introduction comment is among the lines before the list.
    let introduction = std::str::from_utf8(bytes)
        .ok()?
        .lines()
        .take_while(|line| line.starts_with(";;") || line.is_empty())
        .find_map(|line| full_id(line.strip_prefix(INTRODUCTION_COMMENT)?.trim()));
    Some(Contents {
        introduction,
        entries,
    })
}

/// An entry: a bare id (an earlier version's, or Guix's), or a list of the
/// id, the policy, and the historical authorizations' digest if any.
fn parse_entry(item: &lexpr::Value) -> Option<Entry> {
    if let Some(hex) = item.as_str() {
        return Some(Entry {
            commit: full_id(hex)?,
            conditions: None,
        });
    }
    let fields = sexp::list(item)?;
    let (commit, policy, historical) = match fields.as_slice() {
        [commit, policy] => (commit, policy, None),
        [commit, policy, digest] => (commit, policy, Some(digest_of(digest.as_str()?)?)),
        _ => return None,
    };
    let policy = match policy.as_symbol()? {
        "guix" => Policy::Guix,
        "strict" => Policy::Strict,
        _ => return None,
    };
    Some(Entry {
        commit: full_id(commit.as_str()?)?,
        conditions: Some(Conditions { policy, historical }),
    })
}

/// A SHA-256 digest in lowercase hex.
fn digest_of(hex: &str) -> Option<[u8; 32]> {
    let valid = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !valid {
        return None;
    }
    let mut digest = [0; 32];
    for (byte, pair) in digest.iter_mut().zip(hex.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(digest)
}

fn full_id(hex: &str) -> Option<Oid> {
    (hex.len() == 40).then(|| Oid::from_str(hex).ok())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_round_trips() {
        let a = Oid::from_str("9edb3f66fd807b096b48283debdcddccfea34bad").unwrap();
        let b = Oid::from_str("897c1a470da759236cc11798f4e0a5f7d4d59fbc").unwrap();
        let fingerprint = "2A393FFF68F4EF7A3D2912AF6F5120A022FBB2D5".parse().unwrap();
        let historical = Authorizations::from_fingerprints([fingerprint]);
        let entry = |commit, conditions| Entry {
            commit,
            conditions: Some(conditions),
        };
        for contents in [
            Contents {
                introduction: Some(a),
                entries: vec![
                    entry(a, Conditions::default()),
                    entry(b, Conditions::new(Policy::Strict, &historical)),
                    entry(b, Conditions::new(Policy::Guix, &historical)),
                ],
            },
            Contents::default(),
        ] {
            assert_eq!(parse(format(&contents).as_bytes()), Some(contents));
        }
        let guix_written =
            format!(";; List of previously-authenticated commits.\n\n(\"{a}\"\n \"{b}\")\n");
        let read = parse(guix_written.as_bytes()).unwrap();
        assert_eq!(read.introduction, None);
        assert!(read.entries.iter().all(|e| e.conditions.is_none()));
        assert_eq!(parse(b"(\"abc\")"), None);
        assert_eq!(parse(b"garbage((("), None);
        assert_eq!(parse(format!("((\"{a}\" lax))").as_bytes()), None);
        assert_eq!(parse(format!("((\"{a}\" guix \"00\"))").as_bytes()), None);
    }

    #[test]
    fn a_full_file_stays_within_the_size_read() {
        let fingerprint = "2A393FFF68F4EF7A3D2912AF6F5120A022FBB2D5".parse().unwrap();
        let historical = Authorizations::from_fingerprints([fingerprint]);
        let entry = Entry {
            commit: Oid::from_str("9edb3f66fd807b096b48283debdcddccfea34bad").unwrap(),
            conditions: Some(Conditions::new(Policy::Strict, &historical)),
        };
        let contents = Contents {
            introduction: Some(entry.commit),
            entries: vec![entry; MAX_ENTRIES],
        };
        assert!(format(&contents).len() as u64 <= MAX_FILE_SIZE / 2);
    }

    #[test]
    fn stronger_conditions_serve_weaker_runs_only() {
        let fingerprint = "2A393FFF68F4EF7A3D2912AF6F5120A022FBB2D5".parse().unwrap();
        let some = Authorizations::from_fingerprints([fingerprint]);
        let none = Authorizations::empty();
        let guix = Conditions::new(Policy::Guix, &none);
        let strict = Conditions::new(Policy::Strict, &none);
        let guix_historical = Conditions::new(Policy::Guix, &some);
        let strict_historical = Conditions::new(Policy::Strict, &some);
        assert_eq!(guix, Conditions::default());
        for (cached, run, serves) in [
            (guix, guix, true),
            (guix, strict, false),
            (strict, guix, true),
            (strict, strict_historical, true),
            (guix_historical, guix, false),
            (guix_historical, guix_historical, true),
            (guix_historical, strict_historical, false),
            (strict_historical, guix_historical, true),
            (strict_historical, strict, false),
            (guix, guix_historical, true),
        ] {
            assert_eq!(cached.serve(&run), serves, "{cached:?} for {run:?}");
        }
    }

    #[test]
    fn keys_cannot_escape_the_directory() {
        let dir = Path::new("/tmp/c");
        let path = |key: &str| Cache::in_directory(dir, key).unwrap().path().to_owned();
        // Plain keys are their own paths, as they always were.
        for plain in ["checkouts/abc-_=", "ci/my-channel", "a.b/c+d"] {
            assert_eq!(path(plain), dir.join(plain));
        }
        // Every other key Guix accepts is one file right in the directory.
        let long = "é".repeat(200);
        let keys = [
            "",
            ".",
            "..",
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "a/./b",
            "a b",
            "wild/name@master",
            "my channel",
            "channels/été",
            "%2E",
            "%",
            "%25",
            "x%2Fy",
            "x/y%",
            long.as_str(),
        ];
        let mut seen = std::collections::HashSet::new();
        for key in keys {
            let file = path(key);
            assert_eq!(file.parent(), Some(dir), "{key}");
            let name = file.file_name().unwrap().to_str().unwrap();
            assert!(name.starts_with('%') && name.len() <= 255, "{key}: {name}");
            assert!(seen.insert(name.to_owned()), "{key} collides");
        }
        assert_eq!(path("wild/name@master"), dir.join("%wild%2Fname%40master"));
        assert!(Cache::in_directory(dir, &"a".repeat(Cache::MAX_KEY + 1)).is_err());
    }
}
