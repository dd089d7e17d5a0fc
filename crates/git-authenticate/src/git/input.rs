//! Reading files that may be hostile (named on a command line, or inside a
//! repository): regular files only, never blocking on a FIFO or device,
//! never reading more than a limit.

use std::fmt;
use std::io::Read;
use std::path::Path;

use rustix::fs::{FileType, Mode, OFlags};

/// Why a file was not read.
#[derive(Debug)]
#[non_exhaustive]
pub enum InputError {
    /// It could not be opened, examined or read.
    Io(std::io::Error),
    /// It is not a regular file (a directory, a FIFO, a device…).
    NotRegular(&'static str),
    /// It holds more than the limit (`size` is the size it claims, or
    /// `None` when it grew past the limit while being read).
    TooLarge {
        /// Its size when examined.
        size: Option<u64>,
        /// The most accepted.
        limit: usize,
    },
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Io(e) => write!(f, "{e}"),
            InputError::NotRegular(kind) => write!(f, "not a regular file but {kind}"),
            InputError::TooLarge {
                size: Some(size),
                limit,
            } => write!(
                f,
                "the file has {size} bytes, more than the {limit} accepted"
            ),
            InputError::TooLarge { size: None, limit } => {
                write!(f, "the file has more than the {limit} bytes accepted")
            }
        }
    }
}

impl std::error::Error for InputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InputError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<rustix::io::Errno> for InputError {
    fn from(e: rustix::io::Errno) -> Self {
        InputError::Io(e.into())
    }
}

/// What is at a path, looked at without opening it (links followed).
pub(crate) enum AtPath {
    /// Nothing (or nothing that can be examined).
    Absent,
    /// A file whose reading may never end: a FIFO, a device.
    Endless(&'static str),
    /// A regular file of this size.
    File(u64),
    /// A directory or another kind of file, which reading ends at once.
    Other,
}

/// What is at `path`, without opening it.
pub(crate) fn examine(path: &Path) -> AtPath {
    let Ok(stat) = rustix::fs::stat(path) else {
        return AtPath::Absent;
    };
    match FileType::from_raw_mode(stat.st_mode) {
        kind @ (FileType::Fifo | FileType::CharacterDevice | FileType::BlockDevice) => {
            AtPath::Endless(describe(kind))
        }
        FileType::RegularFile => AtPath::File(stat.st_size as u64),
        _ => AtPath::Other,
    }
}

/// The contents of the regular file at `path`, at most `limit` bytes.
///
/// Opened without blocking (a FIFO with no writer would block forever),
/// then examined through the open file, so that what is read is what was
/// examined; reading stops after `limit + 1` bytes, so a file that grows
/// meanwhile cannot make the result larger.
pub fn read_regular_file(path: &Path, limit: usize) -> Result<Vec<u8>, InputError> {
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = rustix::fs::open(path, flags, Mode::empty())?;
    let stat = rustix::fs::fstat(&fd)?;
    let kind = FileType::from_raw_mode(stat.st_mode);
    if kind != FileType::RegularFile {
        return Err(InputError::NotRegular(describe(kind)));
    }
    let size = u64::try_from(stat.st_size).unwrap_or(0);
    if size > limit as u64 {
        return Err(InputError::TooLarge {
            size: Some(size),
            limit,
        });
    }
    let mut contents = Vec::new();
    std::fs::File::from(fd)
        .take(limit as u64 + 1)
        .read_to_end(&mut contents)
        .map_err(InputError::Io)?;
    if contents.len() > limit {
        return Err(InputError::TooLarge { size: None, limit });
    }
    Ok(contents)
}

/// What a file that is not regular is, in words.
pub(crate) fn describe(kind: FileType) -> &'static str {
    match kind {
        FileType::Directory => "a directory",
        FileType::Fifo => "a FIFO",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Socket => "a socket",
        FileType::Symlink => "a symbolic link",
        _ => "a special file",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_small_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"1234").unwrap();
        assert_eq!(read_regular_file(&file, 4).unwrap(), b"1234");
        assert!(matches!(
            read_regular_file(&file, 3),
            Err(InputError::TooLarge {
                size: Some(4),
                limit: 3
            })
        ));
        assert!(matches!(
            read_regular_file(dir.path(), 10),
            Err(InputError::NotRegular("a directory"))
        ));
        assert!(matches!(
            read_regular_file(Path::new("/dev/null"), 10),
            Err(InputError::NotRegular("a character device"))
        ));
        let missing = read_regular_file(&dir.path().join("missing"), 10);
        assert!(
            matches!(&missing, Err(InputError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound),
            "{missing:?}"
        );
    }
}
