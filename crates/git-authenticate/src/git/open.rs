//! Opening a repository whose files may be hostile.
//!
//! libgit2 reads some of a repository's files as it opens it (its
//! configuration, `commondir`, `shallow`, `info/grafts`) or its object
//! database (`objects/info/alternates`, and those of the alternates),
//! with a blocking read: a FIFO there, which anyone who can write the
//! repository (a shared directory) may leave, would make it wait forever.
//! None of them may be a FIFO or a device (which may also be read without
//! end), nor larger than [`MAX_FILE`] (libgit2 reads each whole), when
//! libgit2 is asked to open the repository; anything else is libgit2's to
//! read or refuse. Alternates are followed as the object reader follows
//! them (`objects.rs`), each object directory once, at most
//! [`MAX_ALTERNATES`] of them.
//!
//! What is checked is what exists at that moment: a file swapped for a
//! FIFO afterwards still blocks libgit2, which offers no way to read
//! without blocking.

use std::path::{Path, PathBuf};

use git2::Repository;

use crate::git::input::{self, AtPath};
use crate::git::objects::MAX_ALTERNATES;
use untrusted_text::Untrusted;

/// Why a repository was not opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// A file libgit2 would read is a FIFO or a device.
    #[error(
        "`{}` is {kind}, not a regular file: git would wait on it forever",
        Untrusted::new(&path.to_string_lossy())
    )]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is (`a FIFO`, `a directory`…).
        kind: &'static str,
    },
    /// A file libgit2 would read whole is larger than any real one.
    #[error(
        "`{}` has {size} bytes, more than the {limit} a repository's own files may have",
        Untrusted::new(&path.to_string_lossy())
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The most accepted.
        limit: u64,
    },
    /// Its alternates name more object directories than any real
    /// repository has.
    #[error(
        "`{}` and the alternates it names list more than {limit} object directories",
        Untrusted::new(&path.to_string_lossy())
    )]
    TooManyAlternates {
        /// The first alternates file.
        path: PathBuf,
        /// The most object directories followed.
        limit: usize,
    },
    /// libgit2 could not open it.
    #[error("{}", Untrusted::new(&.0.to_string()))]
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

/// A `commondir` file holds one path.
const MAX_COMMONDIR_FILE: usize = 4096;

/// libgit2 reads each of these files whole into memory: a larger one (a
/// sparse file of terabytes) is refused. A `shallow` file this size lists
/// more than a million commits.
const MAX_FILE: u64 = 64 << 20;

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
        None => {
            // As `open_from_env` searches: up to the ceiling directories.
            let ceilings = std::env::var_os("GIT_CEILING_DIRECTORIES")
                .map(|dirs| std::env::split_paths(&dirs).collect::<Vec<_>>())
                .unwrap_or_default();
            Repository::discover_path(std::env::current_dir().map_err(io)?, ceilings)?
        }
    };
    check_git_dir(&dir)?;
    if let Some(common) = std::env::var_os("GIT_COMMON_DIR") {
        check_git_dir(Path::new(&common))?;
    }
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

/// Checks the files libgit2 reads in `git_dir`, in its common directory
/// (a linked work tree's), and the alternates of both.
fn check_git_dir(git_dir: &Path) -> Result<(), OpenError> {
    let mut dirs = vec![git_dir.to_owned()];
    for name in READ_AT_OPEN {
        check_file(&git_dir.join(name))?;
    }
    if let Ok(common) = input::read_regular_file(&git_dir.join("commondir"), MAX_COMMONDIR_FILE) {
        let common = git_dir.join(String::from_utf8_lossy(&common).trim_end());
        for name in READ_AT_OPEN {
            check_file(&common.join(name))?;
        }
        dirs.push(common);
    }
    // Followed as the object reader follows them (which reads regular
    // files only, without blocking); each list checked as libgit2 reads it.
    let first = git_dir.join("objects/info/alternates");
    let objects = dirs.iter().map(|dir| dir.join("objects")).collect();
    let followed = crate::git::objects::with_alternates(objects);
    if followed.truncated {
        return Err(OpenError::TooManyAlternates {
            path: first,
            limit: MAX_ALTERNATES,
        });
    }
    for directory in &followed.directories {
        check_file(&directory.join("info/alternates"))?;
    }
    Ok(())
}

/// `path` is not a FIFO or a device (after following links), nor a file
/// too large to be read whole.
fn check_file(path: &Path) -> Result<(), OpenError> {
    match input::examine(path) {
        AtPath::Endless(kind) => Err(OpenError::NotRegular {
            path: path.to_owned(),
            kind,
        }),
        AtPath::File(size) if size > MAX_FILE => Err(OpenError::TooLarge {
            path: path.to_owned(),
            size,
            limit: MAX_FILE,
        }),
        _ => Ok(()),
    }
}

/// Opens the repository at `path` for another thread, seeing the objects
/// the caller's handle sees: git's environment may name more object
/// directories (`GIT_OBJECT_DIRECTORY`, `GIT_ALTERNATE_OBJECT_DIRECTORIES`),
/// as it does for a pre-receive hook, whose pushed objects are only in
/// git's quarantine directory. Loose objects there are found by
/// [`Objects`](crate::git::objects::Objects) itself; packed ones need libgit2 to know the directories.
pub(crate) fn reopen(path: &Path) -> Result<Repository, OpenError> {
    let repo = open_repository(path)?;
    let own = repo.path().join("objects");
    let odb = repo.odb()?;
    for directory in crate::git::objects::environment_directories() {
        if directory != own {
            if let Some(directory) = directory.to_str() {
                odb.add_disk_alternate(directory)?;
            }
        }
    }
    drop(odb);
    Ok(repo)
}
