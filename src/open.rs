//! Opening a repository whose files may be hostile.
//!
//! libgit2 reads some of a repository's files as it opens it (its
//! configuration, `commondir`, `shallow`, `info/grafts`) or its object
//! database (`objects/info/alternates`, and those of the alternates),
//! with a blocking read: a FIFO there, which anyone who can write the
//! repository (a shared directory) may leave, would make it wait forever.
//! None of them may be a FIFO or a device (which may also be read without
//! end) when libgit2 is asked to open the repository; anything else is
//! libgit2's to read or refuse.
//!
//! What is checked is what exists at that moment: a file swapped for a
//! FIFO afterwards still blocks libgit2, which offers no way to read
//! without blocking.

use std::path::{Path, PathBuf};

use git2::Repository;

use crate::input;

/// Why a repository was not opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// A file libgit2 would read is a FIFO or a device.
    #[error("`{}` is {kind}, not a regular file: git would wait on it forever", path.display())]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is (`a FIFO`, `a directory`…).
        kind: &'static str,
    },
    /// libgit2 could not open it.
    #[error(transparent)]
    Git(#[from] git2::Error),
}

/// The files below a git directory that libgit2 reads with a blocking read.
const READ_AT_OPEN: &[&str] = &[
    "config",
    "commondir",
    "shallow",
    "info/grafts",
    "objects/info/alternates",
];

/// How many alternates deep libgit2 follows (its own limit).
const ALTERNATES_DEPTH: usize = 5;

/// Opens the repository at `dir` (a work tree or a git directory), as
/// `Repository::open` does, once the files libgit2 reads are known not to
/// block.
pub fn open_repository(dir: &Path) -> Result<Repository, OpenError> {
    check_git_dir(&git_dir(dir)?)?;
    Ok(Repository::open(dir)?)
}

/// Opens the repository git's environment names (`GIT_DIR`, or the one
/// containing the current directory), as `Repository::open_from_env` does,
/// once the files libgit2 reads are known not to block.
pub fn open_repository_from_env() -> Result<Repository, OpenError> {
    let dir = match std::env::var_os("GIT_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Repository::discover_path(std::env::current_dir().map_err(io)?, [] as [&Path; 0])?,
    };
    check_git_dir(&dir)?;
    Ok(Repository::open_from_env()?)
}

/// The git directory of `dir`, found as libgit2 finds it without reading
/// what it checks here.
fn git_dir(dir: &Path) -> Result<PathBuf, OpenError> {
    Ok(Repository::discover_path(dir, [dir])?)
}

fn io(e: std::io::Error) -> OpenError {
    OpenError::Git(git2::Error::from_str(&e.to_string()))
}

/// Checks the files libgit2 reads in `git_dir`, and the alternates'.
fn check_git_dir(git_dir: &Path) -> Result<(), OpenError> {
    for name in READ_AT_OPEN {
        check_file(&git_dir.join(name))?;
    }
    // A linked work tree's common directory holds the shared files.
    if let Ok(common) = std::fs::read_to_string(git_dir.join("commondir")) {
        let common = git_dir.join(common.trim_end());
        for name in READ_AT_OPEN {
            check_file(&common.join(name))?;
        }
    }
    check_alternates(&git_dir.join("objects"), ALTERNATES_DEPTH)
}

/// Checks the alternates of the object directory `objects`, `depth` deep.
fn check_alternates(objects: &Path, depth: usize) -> Result<(), OpenError> {
    let file = objects.join("info/alternates");
    check_file(&file)?;
    if depth == 0 {
        return Ok(());
    }
    // Not endless (checked above), and as small as a real list of
    // directories.
    let Ok(listed) = input::read_regular_file(&file, 1 << 20) else {
        return Ok(());
    };
    for line in String::from_utf8_lossy(&listed).lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        check_alternates(&objects.join(line), depth - 1)?;
    }
    Ok(())
}

/// `path` is not a FIFO or a device (after following links).
fn check_file(path: &Path) -> Result<(), OpenError> {
    match input::endless(path) {
        None => Ok(()),
        Some(kind) => Err(OpenError::NotRegular {
            path: path.to_owned(),
            kind,
        }),
    }
}

/// Opens the repository at `path` for another thread, seeing the objects
/// the caller's handle sees: git's environment may name more object
/// directories (`GIT_OBJECT_DIRECTORY`, `GIT_ALTERNATE_OBJECT_DIRECTORIES`),
/// as it does for a pre-receive hook, whose pushed objects are only in
/// git's quarantine directory. Loose objects there are found by
/// [`Objects`](crate::objects::Objects) itself; packed ones need libgit2 to know the directories.
pub(crate) fn reopen(path: &Path) -> Result<Repository, OpenError> {
    let repo = open_repository(path)?;
    let own = repo.path().join("objects");
    let odb = repo.odb()?;
    for directory in crate::objects::environment_directories() {
        if directory != own {
            if let Some(directory) = directory.to_str() {
                odb.add_disk_alternate(directory)?;
            }
        }
    }
    drop(odb);
    Ok(repo)
}
