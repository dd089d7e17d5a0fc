//! What the rule remembers of the commits it has met as parents: what
//! stands at `.guix-authorizations` in their trees, their own parents, and
//! each `.guix-authorizations` object, parsed once however many commits
//! share it.
//!
//! Shared by every checking thread, and bounded: a forgotten commit is
//! simply read again.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use git2::Oid;

use crate::channel::authorizations::{self, Authorizations, AuthorizationsError};
use crate::git::commit::{tree_entry, CommitObject};
use crate::git::objects::{Kind, ObjectProblem, ObjectRole, Objects, Unreadable};
use untrusted_text::Untrusted;

/// What stands at `.guix-authorizations` in a commit's tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthorizationsEntry {
    /// An entry with this mode and object id. Guix reads it as the file
    /// when the object is a blob (a regular file, or a symlink whose target
    /// text is then parsed); otherwise (a directory, a submodule) it treats
    /// the file as absent.
    Present(u32, Oid),
    Absent,
}

impl AuthorizationsEntry {
    pub fn is_present(self) -> bool {
        self != AuthorizationsEntry::Absent
    }

    /// What stands at `.guix-authorizations` in `tree`, the tree of
    /// `commit`.
    pub fn read(objects: &Objects, commit: Oid, tree: Oid) -> Result<Self, Unreadable> {
        Ok(
            match tree_entry(objects, commit, tree, authorizations::FILE_NAME.as_bytes())? {
                None => AuthorizationsEntry::Absent,
                Some((mode, object)) => AuthorizationsEntry::Present(mode, object),
            },
        )
    }
}

/// What the rule needs to know of a commit as a parent: what stands at
/// `.guix-authorizations` in its tree, and its own parents (to tell a
/// removal). Cheap to clone: the memo hands out copies.
#[derive(Debug, Clone)]
pub(crate) struct CommitFacts {
    pub entry: AuthorizationsEntry,
    pub parents: Arc<[Oid]>,
}

/// A `.guix-authorizations` object, read.
#[derive(Debug, Clone)]
pub(crate) enum Parsed {
    Blob(Result<Arc<Authorizations>, AuthorizationsError>),
    /// Not a blob (a tree, a gitlink): Guix's "no file".
    NotABlob,
}

/// Facts are kept for this many commits (and parsed files for this many
/// objects) at most, so that memory stays bounded on any history.
const LIMIT: usize = 1 << 17;

/// The memo, shared by the checking threads.
#[derive(Default)]
pub(crate) struct Memo {
    facts: Bounded<Oid, CommitFacts>,
    parsed: Bounded<Oid, Parsed>,
    /// What a merge's parents authorize together, by the blobs of their
    /// files (`None`: the default authorizations).
    intersections: Bounded<Vec<Option<Oid>>, Arc<Authorizations>>,
}

impl Memo {
    /// The facts of commit `id`, read once.
    pub fn facts(&self, objects: &Objects, id: Oid) -> Result<CommitFacts, Unreadable> {
        match self.facts.get(&id) {
            Some(facts) => Ok(facts),
            None => self.facts_of(objects, &CommitObject::read_from(objects, id)?),
        }
    }

    /// The facts of a commit already read.
    pub fn facts_of(
        &self,
        objects: &Objects,
        commit: &CommitObject,
    ) -> Result<CommitFacts, Unreadable> {
        self.facts_from(objects, commit.id, commit.tree, &commit.parents)
    }

    /// Learns the facts of a parent that the commit walk read, so that
    /// checking its children does not read it again.
    pub fn learn(&self, id: Oid, facts: CommitFacts) {
        self.facts.insert_new(id, facts);
    }

    fn facts_from(
        &self,
        objects: &Objects,
        id: Oid,
        tree: Oid,
        parents: &[Oid],
    ) -> Result<CommitFacts, Unreadable> {
        if let Some(facts) = self.facts.get(&id) {
            return Ok(facts);
        }
        let facts = CommitFacts {
            entry: AuthorizationsEntry::read(objects, id, tree)?,
            parents: parents.into(),
        };
        self.facts.insert(id, facts.clone());
        Ok(facts)
    }

    /// The object at `.guix-authorizations` in the tree of `commit`, read
    /// and parsed once however many commits share it.
    pub fn parsed(
        &self,
        objects: &Objects,
        commit: Oid,
        mode: u32,
        object: Oid,
    ) -> Result<Parsed, Unreadable> {
        if let Some(parsed) = self.parsed.get(&object) {
            return Ok(parsed);
        }
        let parsed = read_authorizations(objects, commit, mode, object)?;
        self.parsed.insert(object, parsed.clone());
        Ok(parsed)
    }
}

impl Memo {
    /// The intersection of the files `blobs` (one per parent), computed by
    /// `intersect` once however many merges share those parents' files.
    pub fn intersection(
        &self,
        blobs: Vec<Option<Oid>>,
        intersect: impl FnOnce() -> Arc<Authorizations>,
    ) -> Arc<Authorizations> {
        if blobs.len() == 1 {
            return intersect();
        }
        if let Some(known) = self.intersections.get(&blobs) {
            return known;
        }
        let computed = intersect();
        self.intersections.insert(blobs, computed.clone());
        computed
    }
}

/// A map that forgets everything when full.
struct Bounded<K, V>(Mutex<HashMap<K, V>>);

impl<K, V> Default for Bounded<K, V> {
    fn default() -> Self {
        Bounded(Mutex::new(HashMap::new()))
    }
}

impl<K: Hash + Eq, V: Clone> Bounded<K, V> {
    fn get(&self, key: &K) -> Option<V> {
        self.lock().get(key).cloned()
    }

    fn insert(&self, key: K, value: V) {
        self.with_room(|map| {
            map.insert(key, value);
        });
    }

    /// Inserts `value` unless `key` has one: one look-up under one lock,
    /// for what every commit checked brings.
    fn insert_new(&self, key: K, value: V) {
        self.with_room(|map| {
            map.entry(key).or_insert(value);
        });
    }

    /// The map, emptied first when full.
    fn with_room(&self, change: impl FnOnce(&mut HashMap<K, V>)) {
        let mut map = self.lock();
        if map.len() >= LIMIT {
            map.clear();
        }
        change(&mut map);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, V>> {
        // A thread that panicked holding the lock left a consistent map
        // (inserts and clears are single calls).
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A gitlink: the id of a commit of another repository.
const GITLINK: u32 = 0o160000;

/// Reads and parses the `.guix-authorizations` object of `commit`.
///
/// Guix looks the entry's object up as a blob: another kind of object
/// (a directory) is "no file" to it, and so is an absent one. Only a
/// gitlink may be absent here, as its commit lives in another repository:
/// any other missing object is an error, or a partial clone lacking the
/// blob would make a stricter file look absent. A blob is read whatever
/// the entry's mode says, as Guix does.
fn read_authorizations(
    objects: &Objects,
    commit: Oid,
    mode: u32,
    object: Oid,
) -> Result<Parsed, Unreadable> {
    let parse = |data: &[u8]| Authorizations::parse(data).map(Arc::new);
    Ok(match read_file(objects, commit, mode, object, parse)? {
        Some(parsed) => Parsed::Blob(parsed),
        None => Parsed::NotABlob,
    })
}

/// Reads the `.guix-authorizations` object of `commit` as
/// [`read_authorizations`] does, parsed by `parse`; `None` when it is not
/// a blob (Guix's "no file").
pub(crate) fn read_file<T>(
    objects: &Objects,
    commit: Oid,
    mode: u32,
    object: Oid,
    parse: impl FnOnce(&[u8]) -> Result<T, AuthorizationsError>,
) -> Result<Option<Result<T, AuthorizationsError>>, Unreadable> {
    let unreadable = |problem| {
        let source = crate::git::objects::ObjectError {
            id: object,
            kind: Kind::Blob,
            problem,
        };
        source.as_role(ObjectRole::AuthorizationsOf(commit))
    };
    let limit = authorizations::MAX_SIZE as u64;
    match objects.read_any(object, limit) {
        Ok((Kind::Blob, data)) => Ok(Some(parse(&data))),
        Ok(_) => Ok(None),
        Err(ObjectProblem::Missing) if mode == GITLINK => Ok(None),
        Err(ObjectProblem::TooLarge {
            kind: Kind::Blob,
            size,
            ..
        }) => Ok(Some(Err(AuthorizationsError::TooLarge {
            size: size as usize,
            limit: authorizations::MAX_SIZE,
        }))),
        Err(problem) => Err(unreadable(problem)),
    }
}

/// Why [`Authorizations::at_commit`] cannot tell what a commit authorizes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorizationsAtError {
    /// The commit's `.guix-authorizations` does not read as one.
    #[error("commit {commit} has a malformed '.guix-authorizations' (blob {blob}): {source}")]
    Malformed {
        /// The commit.
        commit: Oid,
        /// The blob of the file.
        blob: Oid,
        /// What is wrong with it.
        source: AuthorizationsError,
    },
    /// The commit, its tree or the file cannot be read.
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    /// The repository cannot be read.
    #[error("git: {}", Untrusted::new(&.0.to_string()))]
    Git(#[from] git2::Error),
}

impl Authorizations {
    /// What `commit`'s `.guix-authorizations` lists, as the rule reads it
    /// for the commit's children: `None` when there is no such file (or
    /// what stands there is not a file, which Guix treats alike).
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let repo = git2::Repository::open(".")?;
    /// let head = repo.head()?.peel_to_commit()?.id();
    /// match git_authenticate::Authorizations::at_commit(&repo, head)? {
    ///     Some(listed) => println!("{} keys may sign on top of HEAD", listed.len()),
    ///     None => println!("HEAD has no .guix-authorizations"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn at_commit(
        repo: &git2::Repository,
        commit: Oid,
    ) -> Result<Option<Authorizations>, AuthorizationsAtError> {
        let objects = Objects::open(repo)?;
        let memo = Memo::default();
        let AuthorizationsEntry::Present(mode, blob) = memo.facts(&objects, commit)?.entry else {
            return Ok(None);
        };
        match memo.parsed(&objects, commit, mode, blob)? {
            Parsed::NotABlob => Ok(None),
            Parsed::Blob(Ok(listed)) => Ok(Some(Arc::unwrap_or_clone(listed))),
            Parsed::Blob(Err(source)) => Err(AuthorizationsAtError::Malformed {
                commit,
                blob,
                source,
            }),
        }
    }
}
