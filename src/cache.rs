//! The cache of authenticated commits, so that later runs check only what
//! is new.
//!
//! One file per cache key, in Guix's format: comments, then an s-expression
//! list of commit ids, newest first, at most [`MAX_ENTRIES`]. The file is
//! private (mode 0600); one with another mode, another owner, or that is a
//! symbolic link may have been tampered with and is ignored. Writes take a
//! lock, so that concurrent runs lose no entry, and replace the file
//! atomically, so that no reader ever sees half of it.
//!
//! A comment names the introduction the commits were authenticated from.
//! Commits listed under another introduction (a cache key shared by two
//! channels) or under none are not trusted as they are: the caller must
//! check that they descend from its introduction.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use git2::{Oid, Repository};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::sexp;

/// Most commits a cache file keeps.
pub const MAX_ENTRIES: usize = 200;

/// Cache files larger than this are ignored as tampered.
const MAX_FILE_SIZE: u64 = 64 << 10;

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
    path: PathBuf,
}

/// Something about the cache the user should know, though it did not stop
/// authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheWarning {
    /// The cache file.
    pub path: PathBuf,
    /// What happened.
    pub message: String,
}

/// The cached commits, as seen from one introduction.
#[derive(Debug, Clone, Default)]
pub struct Cached {
    /// Commits recorded for this introduction.
    pub trusted: Vec<Oid>,
    /// Commits recorded for another introduction, or for none: they count
    /// only once shown to descend from the introduction.
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
            self.message
        )
    }
}

impl Cache {
    /// The cache file for `key` under the user's cache directory
    /// (`$XDG_CACHE_HOME/git-authenticate/authentication/KEY` on Linux).
    ///
    /// A key is a relative path of plain names (`checkouts/abc`); one that
    /// could leave the cache directory is refused.
    pub fn for_key(key: &str) -> Result<Self, Error> {
        let root = directories::ProjectDirs::from("", "", "git-authenticate")
            .map(|dirs| dirs.cache_dir().to_path_buf())
            .ok_or_else(|| Error::Cache {
                path: PathBuf::from(key),
                reason: "no cache directory: neither XDG_CACHE_HOME nor HOME is set".into(),
            })?;
        Self::in_directory(&root.join("authentication"), key)
    }

    /// The cache file for `key` under `directory`.
    pub fn in_directory(directory: &Path, key: &str) -> Result<Self, Error> {
        let valid = !key.is_empty()
            && key.split('/').all(|part| {
                !part.is_empty()
                    && part != "."
                    && part != ".."
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.=+".contains(c))
            });
        if !valid {
            return Err(Error::InvalidCacheKey(key.to_owned()));
        }
        Ok(Cache {
            path: directory.join(key),
        })
    }

    /// The default key of a repository: derived from its path, as Guix
    /// derives it (`checkouts/` and the SHA-256 of the path in base64),
    /// but with the URL-safe alphabet so that the key is one file name.
    pub fn default_key(repo: &Repository) -> String {
        let path = repo.workdir().unwrap_or_else(|| repo.path());
        let path = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
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
    pub fn read(&self) -> (Vec<Oid>, Vec<CacheWarning>) {
        match self.read_checked() {
            Ok(contents) => (contents.commits, Vec::new()),
            Err(message) => (Vec::new(), vec![self.warning(message)]),
        }
    }

    /// The cached commits, split by whether they were recorded for
    /// `introduction`.
    pub fn read_for(&self, introduction: Oid) -> Cached {
        match self.read_checked() {
            Ok(contents) if contents.introduction == Some(introduction) => Cached {
                trusted: contents.commits,
                ..Cached::default()
            },
            Ok(contents) => Cached {
                unverified: contents.commits,
                ..Cached::default()
            },
            Err(message) => Cached {
                warnings: vec![self.warning(message)],
                ..Cached::default()
            },
        }
    }

    fn warning(&self, message: String) -> CacheWarning {
        CacheWarning {
            path: self.path.clone(),
            message,
        }
    }

    fn read_checked(&self) -> Result<Contents, String> {
        let meta = match fs::symlink_metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Contents::default()),
            Err(e) => return Err(format!("cannot be read ({e}); ignoring it")),
        };
        trusted(&meta)?;
        if meta.permissions().mode() & 0o777 != 0o600 {
            // As Guix does: ignore what may have been tampered with, and
            // make the file private again so that the next write is trusted.
            let fixed = fs::set_permissions(&self.path, fs::Permissions::from_mode(0o600));
            return Err(format!(
                "has mode {:o} instead of 600, so it may have been tampered with; ignoring its \
                 contents{}",
                meta.permissions().mode() & 0o777,
                if fixed.is_ok() {
                    " (mode reset to 600)"
                } else {
                    ""
                }
            ));
        }
        let bytes =
            fs::read(&self.path).map_err(|e| format!("cannot be read ({e}); ignoring it"))?;
        parse(&bytes).ok_or_else(|| "is not a list of commit ids; ignoring it".to_owned())
    }

    /// Records `commit` as authenticated from `introduction`: it goes
    /// first, duplicates go, and the list is cut to [`MAX_ENTRIES`]. Commits
    /// recorded earlier for another introduction are kept only if they are
    /// in `known` (shown to descend from this one).
    pub fn record(
        &self,
        commit: Oid,
        introduction: Oid,
        known: &[Oid],
    ) -> Result<Vec<CacheWarning>, Error> {
        let fail = |reason: String| Error::Cache {
            path: self.path.clone(),
            reason,
        };
        let dir = self.path.parent().expect("cache files live in a directory");
        create_private_dir(dir).map_err(|e| fail(format!("cannot create its directory: {e}")))?;
        let _lock = self
            .lock()
            .map_err(|e| fail(format!("cannot lock it: {e}")))?;
        let (previous, warnings) = match self.read_checked() {
            Ok(contents) => (contents, Vec::new()),
            Err(message) => (Contents::default(), vec![self.warning(message)]),
        };
        let same_introduction = previous.introduction == Some(introduction);
        let mut commits = vec![commit];
        commits.extend(
            previous
                .commits
                .into_iter()
                .filter(|c| *c != commit && (same_introduction || known.contains(c))),
        );
        commits.truncate(MAX_ENTRIES);
        let contents = Contents {
            introduction: Some(introduction),
            commits,
        };
        self.write(dir, &contents)
            .map_err(|e| fail(format!("cannot write it: {e}")))?;
        Ok(warnings)
    }

    /// An exclusive lock on a sibling lock file, held until dropped.
    fn lock(&self) -> std::io::Result<File> {
        let mut name = self
            .path
            .file_name()
            .expect("key has a name")
            .to_os_string();
        name.push(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            // Never lock (and so create) through a planted symbolic link.
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(self.path.with_file_name(name))?;
        file.lock()?;
        Ok(file)
    }

    /// Writes a private temporary file and renames it over the cache file:
    /// the rename replaces a symbolic link rather than following it.
    fn write(&self, dir: &Path, contents: &Contents) -> std::io::Result<()> {
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .permissions(fs::Permissions::from_mode(0o600))
            .tempfile_in(dir)?;
        tmp.write_all(format(contents).as_bytes())?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

/// Refuses files that are symbolic links, not regular, owned by someone
/// else, or implausibly large.
fn trusted(meta: &fs::Metadata) -> Result<(), String> {
    if meta.file_type().is_symlink() {
        return Err("is a symbolic link, so it may have been tampered with; ignoring it".into());
    }
    if !meta.is_file() {
        return Err("is not a regular file; ignoring it".into());
    }
    if meta.uid() != current_uid() {
        return Err(format!(
            "is owned by user {} instead of you, so it may have been tampered with; ignoring it",
            meta.uid()
        ));
    }
    if meta.len() > MAX_FILE_SIZE {
        return Err(format!(
            "is {} bytes long, too large to be ours; ignoring it",
            meta.len()
        ));
    }
    Ok(())
}

fn current_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// What a cache file holds.
#[derive(Debug, Default, PartialEq, Eq)]
struct Contents {
    introduction: Option<Oid>,
    commits: Vec<Oid>,
}

const INTRODUCTION_COMMENT: &str = ";; Introduction: ";

/// Guix's format: comment lines, a blank line, the list.
fn format(contents: &Contents) -> String {
    let mut text = String::from(";; List of previously-authenticated commits.\n");
    if let Some(introduction) = contents.introduction {
        text.push_str(&format!("{INTRODUCTION_COMMENT}{introduction}\n"));
    }
    text.push_str("\n(");
    for (i, commit) in contents.commits.iter().enumerate() {
        if i > 0 {
            text.push_str("\n ");
        }
        text.push('"');
        text.push_str(&commit.to_string());
        text.push('"');
    }
    text.push_str(")\n");
    text
}

/// The commit ids a cache file lists, newest first, and the introduction it
/// names, if any; `None` when it is not a cache file.
pub fn parse_file(bytes: &[u8]) -> Option<(Vec<Oid>, Option<Oid>)> {
    parse(bytes).map(|c| (c.commits, c.introduction))
}

/// What a cache file holds, or `None` if it is not a list of commit ids.
fn parse(bytes: &[u8]) -> Option<Contents> {
    let datum = sexp::read_first(bytes).ok()?;
    let items = sexp::list(&datum)?;
    let commits = items
        .iter()
        .map(|item| full_id(item.as_str()?))
        .collect::<Option<_>>()?;
    // The introduction comment is among the lines before the list.
    let introduction = std::str::from_utf8(bytes)
        .ok()?
        .lines()
        .take_while(|line| line.starts_with(";;") || line.is_empty())
        .find_map(|line| full_id(line.strip_prefix(INTRODUCTION_COMMENT)?.trim()));
    Some(Contents {
        introduction,
        commits,
    })
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
        for contents in [
            Contents {
                introduction: Some(a),
                commits: vec![a, b],
            },
            Contents::default(),
        ] {
            assert_eq!(parse(format(&contents).as_bytes()), Some(contents));
        }
        let guix_written =
            format!(";; List of previously-authenticated commits.\n\n(\"{a}\"\n \"{b}\")\n");
        let read = parse(guix_written.as_bytes()).unwrap();
        assert_eq!((read.introduction, read.commits), (None, vec![a, b]));
        assert_eq!(parse(b"(\"abc\")"), None);
        assert_eq!(parse(b"garbage((("), None);
    }

    #[test]
    fn keys_cannot_escape_the_directory() {
        let dir = Path::new("/tmp/c");
        assert!(Cache::in_directory(dir, "checkouts/abc-_=").is_ok());
        for bad in [
            "",
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "a/./b",
            "a b",
        ] {
            assert!(Cache::in_directory(dir, bad).is_err(), "{bad}");
        }
    }
}
