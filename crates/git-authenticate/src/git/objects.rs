//! The objects a verdict rests on, read so that none can be forged, cut
//! short or swollen without it being noticed.
//!
//! Every object is hashed again here and compared with the id it was asked
//! for, whatever libgit2's own settings: a loose object rewritten in place,
//! or copied unchecked by a local `git clone`, would otherwise be believed.
//! This is plain SHA-1 (with the processor's SHA instructions): detecting
//! SHA-1 collision attacks (git's `sha1dc`) would cost a third more time
//! on a long history, and git already does it when objects arrive
//! (`index-pack`, `unpack-objects`); see doc/THREAT-MODEL.md.
//!
//! Loose objects are read and inflated here, with a bound on their size,
//! because libgit2 1.9 loops forever on a truncated one. Packed objects
//! come from libgit2 (after a look at their size), then are hashed here too.
//!
//! A missing object is an error naming it: a partial or shallow clone must
//! never make a parent's `.guix-authorizations` look absent.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use git2::{ObjectType, Odb, Oid, Repository};

use untrusted_text::Untrusted;

/// The kinds of object the rule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A commit.
    Commit,
    /// A tree.
    Tree,
    /// A blob (file contents).
    Blob,
    /// An annotated tag.
    Tag,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Commit => "commit",
            Kind::Tree => "tree",
            Kind::Blob => "blob",
            Kind::Tag => "tag",
        }
    }

    fn from_name(name: &[u8]) -> Option<Kind> {
        match name {
            b"commit" => Some(Kind::Commit),
            b"tree" => Some(Kind::Tree),
            b"blob" => Some(Kind::Blob),
            b"tag" => Some(Kind::Tag),
            _ => None,
        }
    }

    fn from_git2(kind: ObjectType) -> Option<Kind> {
        match kind {
            ObjectType::Commit => Some(Kind::Commit),
            ObjectType::Tree => Some(Kind::Tree),
            ObjectType::Blob => Some(Kind::Blob),
            ObjectType::Tag => Some(Kind::Tag),
            _ => None,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an object could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectProblem {
    /// The repository does not have it (a partial or shallow clone, or a
    /// damaged repository).
    #[error("it is missing from the repository")]
    Missing,
    /// Its contents do not hash to its id: it was altered.
    #[error("its contents hash to {actual}, not to its id: it was altered")]
    HashMismatch {
        /// What the contents hash to.
        actual: Oid,
    },
    /// It is larger than anything the rule reads (its kind is what its
    /// stored header claims: it was not read, so not verified).
    #[error("it is a {kind} of {size} bytes, more than the {limit} accepted")]
    TooLarge {
        /// The kind its header claims.
        kind: Kind,
        /// Its size.
        size: u64,
        /// The limit for this kind of object.
        limit: u64,
    },
    /// It is another kind of object.
    #[error("it is a {actual}, not a {expected}")]
    WrongKind {
        /// What was asked for.
        expected: Kind,
        /// What it is.
        actual: Kind,
    },
    /// The stored object cannot be decoded (truncated, bad compression,
    /// bad header).
    #[error("it is damaged: {}", Untrusted::new(.0))]
    Damaged(String),
}

/// An object that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {id}: {problem}")]
pub struct ObjectError {
    /// The object.
    pub id: Oid,
    /// What it was expected to be.
    pub kind: Kind,
    /// What is wrong.
    pub problem: ObjectProblem,
}

impl ObjectError {
    /// Whether the object is simply absent.
    pub fn is_missing(&self) -> bool {
        self.problem == ObjectProblem::Missing
    }
}

/// The size limits, per kind: far above anything a real channel holds,
/// low enough that no object makes memory grow without bound.
pub(crate) fn limit(kind: Kind) -> u64 {
    match kind {
        Kind::Commit | Kind::Tag => 16 << 20,
        Kind::Tree => 64 << 20,
        Kind::Blob => 64 << 20,
    }
}

/// A repository's objects, read and verified. Not shared between threads:
/// each opens its own.
pub(crate) struct Objects<'r> {
    odb: Odb<'r>,
    /// The directories holding loose objects: the repository's, those
    /// named by git's environment, and their alternates; with, for each,
    /// the loose objects it held when it was listed.
    directories: Vec<LooseDirectory>,
}

/// An object directory and the loose objects in it.
struct LooseDirectory {
    path: PathBuf,
    /// `None` when it holds too many to list: each object is then looked
    /// for by its file name.
    listed: Option<HashSet<Oid>>,
}

/// Loose objects listed per directory at most (about 40 MB of index per
/// reader, and each thread has one); a repository with more is read by
/// trying each object's file name.
const MAX_LISTED: usize = 1 << 20;

impl LooseDirectory {
    /// Lists the loose objects of `path`, so that looking for the objects
    /// of a packed repository costs no system call each. An object written
    /// after the listing is still found, in libgit2's loose store.
    fn list(path: PathBuf) -> Self {
        let mut listed = HashSet::new();
        let fans = std::fs::read_dir(&path).into_iter().flatten().flatten();
        for fan in fans {
            let name = fan.file_name();
            let Some(prefix) = name.to_str().filter(|n| is_hex(n, 2)) else {
                continue;
            };
            for entry in std::fs::read_dir(fan.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = entry.file_name();
                let Some(rest) = name.to_str().filter(|n| is_hex(n, 38)) else {
                    continue;
                };
                if listed.len() >= MAX_LISTED {
                    return LooseDirectory { path, listed: None };
                }
                if let Ok(id) = Oid::from_str(&format!("{prefix}{rest}")) {
                    listed.insert(id);
                }
            }
        }
        LooseDirectory {
            path,
            listed: Some(listed),
        }
    }

    fn may_hold(&self, id: Oid) -> bool {
        self.listed
            .as_ref()
            .is_none_or(|listed| listed.contains(&id))
    }
}

fn is_hex(name: &str, len: usize) -> bool {
    name.len() == len && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// How many object directories are followed through alternates, in all:
/// git's own limit is a depth of 5; a count bounds a hostile chain, cycle
/// or fan as well.
pub(crate) const MAX_ALTERNATES: usize = 64;

impl<'r> Objects<'r> {
    /// The objects of `repo`.
    pub fn open(repo: &'r Repository) -> Result<Self, git2::Error> {
        Ok(Objects {
            odb: repo.odb()?,
            directories: object_directories(repo)
                .into_iter()
                .map(LooseDirectory::list)
                .collect(),
        })
    }

    /// Reads object `id`, which must be of kind `kind` and at most
    /// `limit(kind)` bytes.
    pub fn read(&self, id: Oid, kind: Kind) -> Result<Vec<u8>, ObjectError> {
        let error = |problem| ObjectError { id, kind, problem };
        let (actual, data) = match kind {
            // Read for every commit of the history: one look-up in the pack
            // rather than two (its size is known only once it is read).
            Kind::Commit | Kind::Tree => self.read_whole(id, limit(kind)),
            Kind::Blob | Kind::Tag => self.read_any(id, limit(kind)),
        }
        .map_err(error)?;
        if actual != kind {
            return Err(error(ObjectProblem::WrongKind {
                expected: kind,
                actual,
            }));
        }
        Ok(data)
    }

    /// Reads object `id` whatever its kind, if it is at most `limit`
    /// bytes.
    pub fn read_any(&self, id: Oid, limit: u64) -> Result<(Kind, Vec<u8>), ObjectProblem> {
        let (kind, data) = match self.read_loose(id, limit)? {
            Some(found) => found,
            None => self.read_packed(id, limit)?,
        };
        verify(id, kind, &data)?;
        Ok((kind, data))
    }

    /// Like [`Objects::read_any`], but a packed object is read before its
    /// size is known: commits and trees, which are small, and of which a
    /// pack holds nothing larger than what it was sent.
    fn read_whole(&self, id: Oid, limit: u64) -> Result<(Kind, Vec<u8>), ObjectProblem> {
        let (kind, data) = match self.read_loose(id, limit)? {
            Some(found) => found,
            None => {
                let object = self.odb.read(id).map_err(git_error)?;
                let kind = Kind::from_git2(object.kind())
                    .ok_or_else(|| ObjectProblem::Damaged("its type is unknown".into()))?;
                (kind, object.data().to_vec())
            }
        };
        if data.len() as u64 > limit {
            let size = data.len() as u64;
            return Err(ObjectProblem::TooLarge { kind, size, limit });
        }
        verify(id, kind, &data)?;
        Ok((kind, data))
    }

    fn read_loose(&self, id: Oid, limit: u64) -> Result<Option<(Kind, Vec<u8>)>, ObjectProblem> {
        // Named only when a directory may hold it: in a packed repository,
        // none does, and this runs for every object read.
        let mut directories = self.directories.iter().filter(|d| d.may_hold(id));
        let Some(first) = directories.next() else {
            return Ok(None);
        };
        let hex = id.to_string();
        let (fan, rest) = hex.split_at(2);
        for directory in std::iter::once(first).chain(directories) {
            match open_regular(&directory.path.join(fan).join(rest)) {
                Ok(file) => return read_loose_file(file, limit).map(Some),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(ObjectProblem::Damaged(e.to_string())),
            }
        }
        Ok(None)
    }

    fn read_packed(&self, id: Oid, limit: u64) -> Result<(Kind, Vec<u8>), ObjectProblem> {
        let (size, kind) = self.odb.read_header(id).map_err(git_error)?;
        let claimed = Kind::from_git2(kind)
            .ok_or_else(|| ObjectProblem::Damaged("its type is unknown".into()))?;
        if size as u64 > limit {
            return Err(ObjectProblem::TooLarge {
                kind: claimed,
                size: size as u64,
                limit,
            });
        }
        let object = self.odb.read(id).map_err(git_error)?;
        if Kind::from_git2(object.kind()) != Some(claimed) {
            return Err(ObjectProblem::Damaged(
                "its type changed as it was read".into(),
            ));
        }
        Ok((claimed, object.data().to_vec()))
    }
}

/// Opens a file of the object directory without blocking (a FIFO planted
/// there must not hang the program), and only if it is a regular file.
fn open_regular(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(file)
}

/// What a libgit2 error reading an object means.
fn git_error(e: git2::Error) -> ObjectProblem {
    match e.code() {
        git2::ErrorCode::NotFound => ObjectProblem::Missing,
        _ => ObjectProblem::Damaged(e.message().to_owned()),
    }
}

/// Inflates a loose object: `KIND SIZE\0` then SIZE bytes, zlib-deflated.
/// The inflated data is never allowed past the size its header declares,
/// nor the header past a few bytes, so a hostile file cannot make it grow.
fn read_loose_file(file: File, limit: u64) -> Result<(Kind, Vec<u8>), ObjectProblem> {
    let damaged = |what: &str| ObjectProblem::Damaged(format!("loose object: {what}"));
    let mut inflater = flate2::read::ZlibDecoder::new(std::io::BufReader::new(file));
    let mut header = Vec::with_capacity(32);
    let mut byte = [0u8];
    loop {
        match inflater.read(&mut byte) {
            Ok(0) => return Err(damaged("truncated header")),
            Ok(_) if byte[0] == 0 => break,
            Ok(_) if header.len() >= 32 => return Err(damaged("header too long")),
            Ok(_) => header.push(byte[0]),
            Err(e) => return Err(damaged(&e.to_string())),
        }
    }
    let (kind, size) = parse_loose_header(&header).ok_or_else(|| damaged("malformed header"))?;
    if size > limit {
        return Err(ObjectProblem::TooLarge { kind, size, limit });
    }
    let mut data = Vec::with_capacity(size as usize);
    // One byte more than declared tells an overlong object.
    (&mut inflater)
        .take(size + 1)
        .read_to_end(&mut data)
        .map_err(|e| damaged(&e.to_string()))?;
    if data.len() as u64 != size {
        let what = if (data.len() as u64) < size {
            "truncated contents"
        } else {
            "more contents than its header declares"
        };
        return Err(damaged(what));
    }
    Ok((kind, data))
}

fn parse_loose_header(header: &[u8]) -> Option<(Kind, u64)> {
    let space = header.iter().position(|&b| b == b' ')?;
    let kind = Kind::from_name(&header[..space])?;
    let size = std::str::from_utf8(&header[space + 1..]).ok()?;
    if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((kind, size.parse().ok()?))
}

/// Checks that `data` is the object `id`: git's id is the SHA-1 of
/// `KIND SIZE\0DATA`.
fn verify(id: Oid, kind: Kind, data: &[u8]) -> Result<(), ObjectProblem> {
    use sha1::Digest;
    let mut hasher = sha1::Sha1::new();
    hasher.update(format!("{} {}\0", kind.name(), data.len()).as_bytes());
    hasher.update(data);
    let result = hasher.finalize();
    let actual = Oid::from_bytes(&result).expect("a SHA-1 is 20 bytes");
    if actual != id {
        return Err(ObjectProblem::HashMismatch { actual });
    }
    Ok(())
}

/// The object directories git's environment names.
pub(crate) fn environment_directories() -> Vec<PathBuf> {
    let mut directories = Vec::new();
    if let Some(dir) = std::env::var_os("GIT_OBJECT_DIRECTORY") {
        directories.push(PathBuf::from(dir));
    }
    if let Some(dirs) = std::env::var_os("GIT_ALTERNATE_OBJECT_DIRECTORIES") {
        directories.extend(std::env::split_paths(&dirs));
    }
    directories
}

/// Where loose objects may be: the repository's object directory, those
/// git's environment names, and their alternates. Reading from a directory
/// libgit2 does not use is harmless, as every object is verified: it can
/// only find an object that would otherwise be missing.
fn object_directories(repo: &Repository) -> Vec<PathBuf> {
    let mut directories = environment_directories();
    let own = repo.path().join("objects");
    if !directories.contains(&own) {
        directories.push(own);
    }
    with_alternates(directories).directories
}

/// Object directories and those their alternates name, each once.
pub(crate) struct WithAlternates {
    /// The directories given first, then the alternates, breadth first.
    pub directories: Vec<PathBuf>,
    /// Whether more were named than [`MAX_ALTERNATES`] (the rest are left
    /// out).
    pub truncated: bool,
}

/// `directories` and, breadth first, every directory their alternates
/// name, each once, at most [`MAX_ALTERNATES`] in all: a hostile chain,
/// cycle or fan of alternates costs a bounded amount of work. An
/// alternates file that is not a regular file is not read.
pub(crate) fn with_alternates(mut directories: Vec<PathBuf>) -> WithAlternates {
    let mut seen: HashSet<PathBuf> = directories.iter().cloned().collect();
    let mut truncated = false;
    let mut i = 0;
    while i < directories.len() {
        for alternate in alternates_of(&directories[i]) {
            if seen.contains(&alternate) {
                continue;
            }
            if directories.len() == MAX_ALTERNATES {
                truncated = true;
                break;
            }
            seen.insert(alternate.clone());
            directories.push(alternate);
        }
        i += 1;
    }
    WithAlternates {
        directories,
        truncated,
    }
}

/// The directories listed in `DIR/info/alternates`, relative ones taken
/// from DIR.
fn alternates_of(directory: &Path) -> Vec<PathBuf> {
    let Ok(file) = open_regular(&directory.join("info").join("alternates")) else {
        return Vec::new();
    };
    let mut text = String::new();
    if file.take(1 << 16).read_to_string(&mut text).is_err() {
        return Vec::new();
    }
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| directory.join(line))
        .collect()
}

/// What an unreadable object is to the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectRole {
    /// A commit of the history, or the one a revision names.
    Commit,
    /// The root tree of a commit.
    TreeOf(Oid),
    /// The `.guix-authorizations` object of a commit.
    AuthorizationsOf(Oid),
    /// An object of the keyring branch `reference`, at `path` in its tree
    /// (empty for the root tree or the branch's commit).
    Keyring {
        /// The keyring reference.
        reference: String,
        /// Where in its tree.
        path: String,
    },
    /// An annotated tag being peeled.
    Tag,
    /// The `.guix-channel` file of a commit.
    ChannelMetadataOf(Oid),
}

impl std::fmt::Display for ObjectRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ObjectRole::Commit => write!(f, "a commit"),
            ObjectRole::TreeOf(commit) => write!(f, "the tree of commit {commit}"),
            ObjectRole::AuthorizationsOf(commit) => {
                write!(f, "the '.guix-authorizations' of commit {commit}")
            }
            ObjectRole::Keyring { reference, path } if path.is_empty() => {
                write!(f, "keyring branch `{}`", Untrusted::new(reference))
            }
            ObjectRole::Keyring { reference, path } => {
                let (path, reference) = (Untrusted::new(path), Untrusted::new(reference));
                write!(f, "`{path}` on keyring branch `{reference}`")
            }
            ObjectRole::Tag => write!(f, "an annotated tag"),
            ObjectRole::ChannelMetadataOf(commit) => {
                write!(f, "the '.guix-channel' of commit {commit}")
            }
        }
    }
}

/// An object the verdict depends on could not be read: it is missing (a
/// partial or shallow clone), altered (its contents do not hash to its id),
/// damaged or too large.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not read {role}: {source}")]
pub struct Unreadable {
    /// What the object is to the rule.
    pub role: ObjectRole,
    /// The object and what is wrong with it.
    pub source: ObjectError,
}

impl Unreadable {
    /// `missing-object` or `unreadable-object`, as machine-readable output
    /// names them.
    pub fn kind(&self) -> &'static str {
        match self.source.is_missing() {
            true => "missing-object",
            false => "unreadable-object",
        }
    }
}

impl ObjectError {
    /// This error, for an object that plays `role`.
    pub fn as_role(self, role: ObjectRole) -> Unreadable {
        Unreadable { role, source: self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn repo() -> (tempfile::TempDir, Repository) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        (dir, repo)
    }

    fn loose_path(repo: &Repository, id: Oid) -> PathBuf {
        let hex = id.to_string();
        repo.path().join("objects").join(&hex[..2]).join(&hex[2..])
    }

    fn write_loose(repo: &Repository, id: Oid, raw: &[u8]) {
        let path = loose_path(repo, id);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&path);
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), Default::default());
        encoder.write_all(raw).unwrap();
        std::fs::write(path, encoder.finish().unwrap()).unwrap();
    }

    #[test]
    fn reads_and_verifies_loose_objects() {
        let (_dir, repo) = repo();
        let id = repo.blob(b"hello").unwrap();
        let objects = Objects::open(&repo).unwrap();
        assert_eq!(objects.read(id, Kind::Blob).unwrap(), b"hello");
        let wrong = objects.read(id, Kind::Tree).unwrap_err();
        assert!(matches!(wrong.problem, ObjectProblem::WrongKind { .. }));
        write_loose(&repo, id, b"blob 5\0hellp");
        let altered = objects.read(id, Kind::Blob).unwrap_err();
        assert!(matches!(
            altered.problem,
            ObjectProblem::HashMismatch { .. }
        ));
    }

    #[test]
    fn refuses_truncated_and_overlong_loose_objects() {
        let (_dir, repo) = repo();
        let id = repo.blob(b"hello").unwrap();
        let objects = Objects::open(&repo).unwrap();
        for raw in [
            &b"blob 9\0hello"[..],
            b"blob 2\0hello",
            b"blob",
            b"blob x\0",
        ] {
            write_loose(&repo, id, raw);
            let e = objects.read(id, Kind::Blob).unwrap_err();
            assert!(
                matches!(e.problem, ObjectProblem::Damaged(_)),
                "{raw:?}: {e}"
            );
        }
        let path = loose_path(&repo, id);
        write_loose(&repo, id, b"blob 5\0hello");
        let whole = std::fs::read(&path).unwrap();
        std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
        let e = objects.read(id, Kind::Blob).unwrap_err();
        assert!(matches!(e.problem, ObjectProblem::Damaged(_)), "{e}");
    }

    #[test]
    fn planted_fifos_do_not_hang() {
        let (_dir, repo) = repo();
        let id = repo.blob(b"hello").unwrap();
        let path = loose_path(&repo, id);
        std::fs::remove_file(&path).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let info = repo.path().join("objects/info");
        std::fs::create_dir_all(&info).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            info.join("alternates"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let e = Objects::open(&repo)
            .unwrap()
            .read(id, Kind::Blob)
            .unwrap_err();
        assert!(matches!(e.problem, ObjectProblem::Damaged(_)), "{e}");
    }

    #[test]
    fn bounds_sizes_before_inflating() {
        let (_dir, repo) = repo();
        let id = repo.blob(b"hello").unwrap();
        write_loose(&repo, id, b"blob 99999999999\0hello");
        let e = Objects::open(&repo)
            .unwrap()
            .read(id, Kind::Blob)
            .unwrap_err();
        assert!(matches!(e.problem, ObjectProblem::TooLarge { .. }), "{e}");
    }

    #[test]
    fn missing_objects_are_named() {
        let (_dir, repo) = repo();
        let id = Oid::from_str("0123456789012345678901234567890123456789").unwrap();
        let e = Objects::open(&repo)
            .unwrap()
            .read(id, Kind::Tree)
            .unwrap_err();
        assert!(e.is_missing());
        assert_eq!(
            e.to_string(),
            "tree 0123456789012345678901234567890123456789: it is missing from the repository"
        );
    }
}
