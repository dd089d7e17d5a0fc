//! The keyring: every OpenPGP key stored as a `*.key` file anywhere in the
//! tree of the keyring branch.
//!
//! As in Guix, the keyring is a bag of key packets, primary keys and subkeys
//! alike, indexed by fingerprint and key ID. No binding or self-signature is
//! checked here: the keyring branch is not authenticated, and what makes a
//! key count is whether `.guix-authorizations` lists its fingerprint.

use std::collections::HashMap;

use git2::{Oid, Repository};
use sequoia_openpgp as openpgp;

use openpgp::crypto::mpi;
use openpgp::packet::key::{PublicParts, UnspecifiedRole};
use openpgp::packet::Key;
use openpgp::packet::Tag;
use openpgp::parse::Parse;
use openpgp::types::Curve;
use openpgp::KeyID;

use crate::git::objects::{Kind, ObjectError, ObjectProblem, ObjectRole, Objects, Unreadable};
use crate::openpgp::armor;
use crate::openpgp::budget::TableBudget;
use crate::openpgp::crypto::Prepared;
use crate::openpgp::fingerprint::Fingerprint;
use crate::openpgp::packet::{self, tag, KeyPacketProblem, MpiProblem};
use crate::openpgp::signature::{self, SignatureProblem};
use untrusted_text::Untrusted;

/// The keyring branch used when none is configured.
pub const DEFAULT_REFERENCE: &str = "keyring";

/// Most bytes of trees and key files read from one keyring branch (GNU
/// Guix's key files take 1.6 MB).
pub const MAX_BYTES: usize = 64 << 20;

/// Most key packets loaded from one keyring (GNU Guix's has 282).
pub const MAX_KEYS: usize = 100_000;

/// One key packet from the keyring.
#[derive(Debug)]
pub struct KeyringKey {
    key: Key<PublicParts, UnspecifiedRole>,
    fingerprint: Fingerprint,
    primary: Fingerprint,
    file: String,
    /// Whether its key file encodes some MPI non-canonically (see
    /// [`crate::openpgp::packet`]), which the strict policy refuses.
    non_canonical: bool,
    /// Made on first use: most keys of a keyring never sign the range.
    prepared: std::sync::OnceLock<Prepared>,
    /// The keyring's budget for DSA and Ed25519 tables.
    table_budget: std::sync::Arc<TableBudget>,
}

impl KeyringKey {
    /// The key's own fingerprint: what `.guix-authorizations` must list.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The fingerprint of the primary key this key belongs to (its own
    /// fingerprint when it is a primary key).
    pub fn primary(&self) -> &Fingerprint {
        &self.primary
    }

    /// Whether this is a subkey.
    pub fn is_subkey(&self) -> bool {
        self.primary != self.fingerprint
    }

    /// The keyring file it was read from: its path in the keyring tree
    /// (`keys/alice.key`).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The key material, for signature verification.
    pub fn key(&self) -> &Key<PublicParts, UnspecifiedRole> {
        &self.key
    }

    /// Whether its key file encodes some number (MPI) with a bit count
    /// other than the number's, as GitHub's web-flow key does: Guix and
    /// GnuPG accept it, RFC 4880 does not.
    pub fn non_canonical(&self) -> bool {
        self.non_canonical
    }

    pub(crate) fn prepared(&self) -> &Prepared {
        self.prepared
            .get_or_init(|| Prepared::new(&self.key, &self.table_budget))
    }
}

/// All keys of a keyring branch.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let repo = git2::Repository::open(".")?;
/// let keyring = git_authenticate::Keyring::load(&repo, "origin/keyring")?;
/// println!("{} keys on {}", keyring.len(), keyring.reference());
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct Keyring {
    reference: String,
    source: Option<KeyringSource>,
    keys: Vec<KeyringKey>,
    by_fingerprint: HashMap<Fingerprint, Vec<usize>>,
    by_key_id: HashMap<KeyID, Vec<usize>>,
    /// Keys whose packet has non-canonical MPIs, by the fingerprint GnuPG
    /// gives them (over the key re-encoded), where it differs from theirs
    /// as published: only to explain a missing key.
    by_gnupg_fingerprint: HashMap<Fingerprint, usize>,
    /// The key files, for the strict policy's certificates.
    files: Vec<Vec<u8>>,
    /// Canonical certificates by the fingerprint of each of their keys,
    /// made on first use (only the strict policy needs them).
    certificates: std::sync::OnceLock<HashMap<Fingerprint, std::sync::Arc<openpgp::Cert>>>,
    /// The memory all its keys' tables may take (DSA and Ed25519; see
    /// `openpgp::budget`).
    table_budget: std::sync::Arc<TableBudget>,
}

impl Keyring {
    /// The keyring branch used when none is configured.
    pub const DEFAULT_REFERENCE: &'static str = DEFAULT_REFERENCE;

    /// Most key packets loaded from one keyring.
    pub const MAX_KEYS: usize = MAX_KEYS;

    /// Most bytes of key files read from one keyring.
    pub const MAX_BYTES: usize = MAX_BYTES;

    /// Deepest directory nesting walked in the keyring's tree.
    pub const MAX_DEPTH: usize = MAX_DEPTH;

    /// Most tree entries walked in the keyring's tree.
    pub const MAX_ENTRIES: usize = MAX_ENTRIES;

    /// Loads every `*.key` blob of the branch `reference`, anywhere in its
    /// tree, as Guix's `load-keyring-from-reference` does.
    ///
    /// The branch is looked up as Guix's `branch-lookup` with
    /// `BRANCH-ALL` does: a local branch (`keyring`), else a
    /// remote-tracking one (`origin/keyring`); tags and commit ids are not
    /// branches. A full branch name (`refs/heads/keyring`,
    /// `refs/remotes/origin/keyring`) is also accepted, when no branch of
    /// that short name exists. It must point directly at a commit.
    ///
    /// Guix lists the whole tree (guile-git's `tree-list`: every entry,
    /// directories included, at its path) and loads each entry whose path
    /// ends in `.key`: a key file in a subdirectory counts, a symbolic link
    /// is read as the blob it is (its target), and a directory or a
    /// submodule of that name is an error, as is any object the walk
    /// cannot read. The walk is bounded by [`Keyring::MAX_DEPTH`],
    /// [`Keyring::MAX_ENTRIES`] and [`Keyring::MAX_BYTES`].
    pub fn load(repo: &Repository, reference: &str) -> Result<Self, KeyringError> {
        let source = keyring_source(repo, reference)?;
        Self::load_source(repo, reference, source)
    }

    /// Loads the keyring as [`Keyring::load`] does, but from `commit`
    /// rather than from the tip of the branch `reference` (whose name
    /// errors carry): what the branch would hold if it pointed there, as a
    /// server checks a push to the keyring branch before accepting it.
    pub fn load_at(repo: &Repository, reference: &str, commit: Oid) -> Result<Self, KeyringError> {
        let source = KeyringSource {
            name: reference.to_owned(),
            commit,
        };
        Self::load_source(repo, reference, source)
    }

    fn load_source(
        repo: &Repository,
        reference: &str,
        source: KeyringSource,
    ) -> Result<Self, KeyringError> {
        let mut budget = Budget::new(repo, reference)?;
        let (source, tree) = source_tree(reference, source, &mut budget)?;
        let entries = list_keys(tree, &mut budget)?;
        let mut keyring = Keyring {
            reference: reference.to_owned(),
            source: Some(source),
            ..Keyring::default()
        };
        // Guix folds over `tree-list`, which conses each entry as it is
        // walked: the files are loaded in reverse walk order, so the same
        // file fails first here and there.
        for entry in entries.iter().rev() {
            keyring.load_entry(entry, &mut budget)?;
        }
        Ok(keyring)
    }

    /// Loads the key file at `entry`.
    fn load_entry(&mut self, entry: &TreeItem, budget: &mut Budget) -> Result<(), KeyringError> {
        let not_a_file = |kind| KeyringError::KeyNotAFile {
            reference: self.reference.clone(),
            file: entry.path.clone(),
            id: entry.id,
            kind,
        };
        // Guix looks the entry up by its name decoded with substitutions:
        // it fails there, before reading the object.
        if let Some(path) = &entry.not_utf8 {
            return Err(KeyringError::KeyFileNameNotUtf8 {
                reference: self.reference.clone(),
                path: path.clone(),
            });
        }
        // Guix's `blob-lookup` fails on a tree, and on a submodule's commit
        // (which the repository usually lacks).
        match entry.mode {
            MODE_TREE => return Err(not_a_file("directory")),
            MODE_COMMIT => return Err(not_a_file("submodule")),
            _ => {}
        }
        let contents = read_blob(entry.id, &entry.path, budget)?
            .ok_or_else(|| not_a_file("non-blob object"))?;
        self.add_file(&entry.path, &contents, entry.id)
    }

    /// Fails as [`Keyring::load`] would when the branch does not exist,
    /// without reading any key.
    pub fn check_exists(repo: &Repository, reference: &str) -> Result<(), KeyringError> {
        let source = keyring_source(repo, reference)?;
        source_tree(reference, source, &mut Budget::new(repo, reference)?).map(drop)
    }

    /// Builds a keyring from key files given as (name, contents), binary
    /// or ASCII-armored, each possibly holding several certificates.
    pub fn from_files<'a>(
        reference: &str,
        files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Self, KeyringError> {
        let mut keyring = Keyring {
            reference: reference.to_owned(),
            ..Keyring::default()
        };
        for (file, contents) in files {
            keyring.add_file(file, contents, Oid::ZERO_SHA1)?;
        }
        Ok(keyring)
    }

    /// Adds every key packet of one file (blob `blob`): a file that does
    /// not parse is malformed, one that brings the keyring over
    /// [`Keyring::MAX_KEYS`] makes it too large.
    fn add_file(&mut self, file: &str, contents: &[u8], blob: Oid) -> Result<(), KeyringError> {
        let (keys, non_canonical) =
            read_key_packets(contents).map_err(|reason| KeyringError::MalformedKey {
                reference: self.reference.clone(),
                file: file.to_owned(),
                blob,
                reason,
            })?;
        self.files.push(contents.to_vec());
        for (key, fingerprint, primary) in keys {
            if self.keys.len() >= MAX_KEYS {
                return Err(KeyringError::TooLarge {
                    reference: self.reference.clone(),
                    limit: KeyringLimit::Keys {
                        file: file.to_owned(),
                    },
                });
            }
            self.add_key(file, non_canonical, key, fingerprint, primary);
        }
        Ok(())
    }

    fn add_key(
        &mut self,
        file: &str,
        non_canonical: bool,
        key: Key<PublicParts, UnspecifiedRole>,
        fingerprint: Fingerprint,
        primary: Fingerprint,
    ) {
        let same = self.by_fingerprint.get(&fingerprint).into_iter().flatten();
        // The same key listed twice (in two files, say) is stored once.
        if same.clone().any(|&i| self.keys[i].key.mpis() == key.mpis()) {
            return;
        }
        let index = self.keys.len();
        self.by_fingerprint
            .entry(fingerprint.clone())
            .or_default()
            .push(index);
        // The key ID is the low 64 bits of the fingerprint as published.
        let key_id = KeyID::from_bytes(&fingerprint.as_bytes()[12..]);
        self.by_key_id.entry(key_id).or_default().push(index);
        if non_canonical {
            // Sequoia's fingerprint hashes the key as it re-encodes it,
            // canonically: GnuPG's.
            let gnupg = Fingerprint::from(&key.fingerprint());
            if gnupg != fingerprint {
                self.by_gnupg_fingerprint.entry(gnupg).or_insert(index);
            }
        }
        self.keys.push(KeyringKey {
            key,
            fingerprint,
            primary,
            file: file.to_owned(),
            non_canonical,
            prepared: std::sync::OnceLock::new(),
            table_budget: self.table_budget.clone(),
        });
    }

    /// The budget of its keys' tables (DSA and Ed25519): what they take,
    /// how many.
    #[cfg_attr(not(any(test, feature = "fuzzing")), allow(dead_code))]
    pub(crate) fn table_budget(&self) -> &TableBudget {
        &self.table_budget
    }

    /// The reference the keyring was read from.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// The branch and commit the keyring was read from; `None` for a
    /// keyring built with [`Keyring::from_files`].
    pub fn source(&self) -> Option<&KeyringSource> {
        self.source.as_ref()
    }

    /// Number of key packets (primary keys and subkeys).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the keyring holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every key.
    pub fn keys(&self) -> &[KeyringKey] {
        &self.keys
    }

    /// Keys whose fingerprint is `fingerprint` (several only when the same
    /// fingerprint comes with different material, which a hostile keyring
    /// may try).
    pub fn by_fingerprint(&self, fingerprint: &Fingerprint) -> Vec<&KeyringKey> {
        self.lookup(self.by_fingerprint.get(fingerprint))
    }

    /// Keys whose 64-bit key ID is `id`.
    pub fn by_key_id(&self, id: &KeyID) -> Vec<&KeyringKey> {
        self.lookup(self.by_key_id.get(id))
    }

    /// The key GnuPG knows by `fingerprint` where the keyring knows it by
    /// another: its packet's MPIs are not canonically encoded, and GnuPG
    /// hashes the key re-encoded, where Guix (and this crate) hash the
    /// packet as published.
    pub(crate) fn by_gnupg_fingerprint(&self, fingerprint: &Fingerprint) -> Option<&KeyringKey> {
        let index = *self.by_gnupg_fingerprint.get(fingerprint)?;
        Some(&self.keys[index])
    }

    /// The certificate holding the key `fingerprint`, canonicalized by
    /// sequoia (self-signatures and bindings checked), if it has one.
    pub fn certificate(&self, fingerprint: &Fingerprint) -> Option<std::sync::Arc<openpgp::Cert>> {
        self.certificates
            .get_or_init(|| {
                let mut by_key = HashMap::new();
                for file in &self.files {
                    let Ok(parser) = openpgp::cert::CertParser::from_bytes(file) else {
                        continue;
                    };
                    for cert in parser.flatten() {
                        let cert = std::sync::Arc::new(cert);
                        for key in cert.keys() {
                            by_key
                                .insert(Fingerprint::from(&key.key().fingerprint()), cert.clone());
                        }
                    }
                }
                by_key
            })
            .get(fingerprint)
            .cloned()
    }

    fn lookup(&self, indices: Option<&Vec<usize>>) -> Vec<&KeyringKey> {
        indices
            .into_iter()
            .flatten()
            .map(|&i| &self.keys[i])
            .collect()
    }
}

/// Why a keyring cannot be loaded: checking is then impossible (no commit
/// is judged).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// The keyring branch does not exist.
    #[error("keyring branch `{}` not found", Untrusted::new(reference))]
    NotFound {
        /// The reference that was looked up.
        reference: String,
        /// A reference that does exist and looks like the keyring
        /// (`origin/keyring`), if any.
        suggestion: Option<String>,
    },

    /// A `*.key` file on the keyring branch cannot be read.
    #[error(
        "malformed key file `{}` (blob {blob}) on keyring branch `{}`: {reason}",
        Untrusted::new(file),
        Untrusted::new(reference)
    )]
    MalformedKey {
        /// The keyring reference.
        reference: String,
        /// The file name in the keyring tree.
        file: String,
        /// Its blob.
        blob: Oid,
        /// What is wrong with it.
        reason: KeyProblem,
    },

    /// The keyring is larger than this tool is willing to load.
    #[error("keyring branch `{}` is too large: {limit}", Untrusted::new(reference))]
    TooLarge {
        /// The keyring reference.
        reference: String,
        /// Which limit was exceeded.
        limit: KeyringLimit,
    },

    /// An entry of the keyring tree whose name ends in `.key` is not a
    /// blob (a directory, a submodule), which Guix's `blob-lookup` cannot
    /// read.
    #[error(
        "`{}` on keyring branch `{}` is a {kind}, not a key file (object {id})",
        Untrusted::new(file),
        Untrusted::new(reference)
    )]
    KeyNotAFile {
        /// The keyring reference.
        reference: String,
        /// The entry's path in the keyring tree.
        file: String,
        /// The object it names.
        id: Oid,
        /// What it is: `directory`, `submodule`, or `non-blob object` (a
        /// file entry naming a tree or a commit).
        kind: &'static str,
    },

    /// An entry of the keyring tree whose path ends in `.key` is not UTF-8
    /// (its name or a directory's). Guix lists the tree through strings,
    /// each invalid byte decoded as `?`, then looks each entry up again by
    /// that name (`tree-entry-bypath`), which finds none (or another
    /// entry): its keyring does not load. Refused here too, rather than
    /// load a key Guix cannot.
    #[error(
        "`{}` on keyring branch `{}` has a name that is not UTF-8: Guix cannot load it",
        Untrusted::bytes(path),
        Untrusted::new(reference)
    )]
    KeyFileNameNotUtf8 {
        /// The keyring reference.
        reference: String,
        /// The entry's path in the keyring tree, as the tree has it.
        path: Vec<u8>,
    },

    /// The keyring branch does not point directly at a commit (a symbolic
    /// reference, or a tag, tree or blob), which Guix cannot load.
    #[error(
        "keyring branch `{}` ({}) does not point at a commit: {}",
        Untrusted::new(reference),
        Untrusted::new(name),
        target
    )]
    NotACommit {
        /// The keyring reference asked for.
        reference: String,
        /// The full name of the reference found.
        name: String,
        /// What it points at (`tag 1a2b…`, `symbolic reference to …`).
        target: String,
    },

    /// An object of the keyring branch cannot be read.
    #[error(transparent)]
    Unreadable(#[from] Unreadable),

    /// Any other error from the repository.
    #[error("git: {}", Untrusted::new(&.0.to_string()))]
    Git(#[from] git2::Error),
}

/// Why a key file of the keyring branch cannot be read, as Guix's
/// `get-openpgp-keyring` fails on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyProblem {
    /// Its ASCII armor is malformed.
    #[error("malformed ASCII-armored key: {0}")]
    Armor(armor::ArmorError),
    /// A packet cannot be read.
    #[error("unreadable {} packet: {}", Tag::from(*tag), Untrusted::new(reason))]
    UnreadablePacket {
        /// The packet's tag.
        tag: u8,
        /// What the OpenPGP parser said.
        reason: String,
    },
    /// A packet Guix cannot read in a keyring (a secret key, data…).
    #[error("it holds a {} packet, which Guix cannot read in a keyring", Tag::from(*tag))]
    NotAKey {
        /// The packet's tag.
        tag: u8,
    },
    /// A packet's header is cut short, or its body is missing.
    #[error("a packet is cut short")]
    TruncatedPacket,
    /// A user ID or user attribute packet of indeterminate length (old
    /// format, length type 3): Guix reads it with no length, and fails.
    #[error("its {} packet has an indeterminate length, which Guix cannot read", Tag::from(*tag))]
    IndeterminateLength {
        /// The packet's tag.
        tag: u8,
    },
    /// A public key packet cannot be read.
    #[error("unreadable public key packet: {0}")]
    KeyPacket(KeyPacketProblem),
    /// A number (MPI) of a key or signature packet cannot be read.
    #[error("unreadable {} packet: {problem}", Tag::from(*tag))]
    Mpi {
        /// The packet's tag.
        tag: u8,
        /// Why.
        problem: MpiProblem,
    },
    /// An EdDSA key on a curve Guix does not know.
    #[error(
        "it holds an EdDSA key on curve {}, which Guix cannot read",
        Untrusted::new(curve)
    )]
    UnsupportedCurve {
        /// The curve's name.
        curve: String,
    },
}

/// Which of the keyring's limits a keyring branch exceeds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringLimit {
    /// [`Keyring::MAX_BYTES`] of trees and key files.
    #[error("its trees and key files exceed {MAX_BYTES} bytes")]
    Bytes,
    /// [`Keyring::MAX_ENTRIES`] tree entries.
    #[error("its trees hold more than {MAX_ENTRIES} entries")]
    Entries,
    /// [`Keyring::MAX_DEPTH`] levels of directories.
    #[error("its trees are nested deeper than {MAX_DEPTH} levels")]
    Depth,
    /// [`Keyring::MAX_KEYS`] keys.
    #[error("`{}` brings it over {MAX_KEYS} keys", Untrusted::new(file))]
    Keys {
        /// The key file that does.
        file: String,
    },
}

impl KeyringError {
    /// A short, stable name for the kind of error, used in
    /// machine-readable output.
    pub fn kind(&self) -> &'static str {
        match self {
            KeyringError::NotFound { .. } => "keyring-missing",
            KeyringError::MalformedKey { .. } => "malformed-key",
            KeyringError::KeyNotAFile { .. } => "malformed-key",
            KeyringError::KeyFileNameNotUtf8 { .. } => "malformed-key",
            KeyringError::TooLarge { .. } => "keyring-too-large",
            KeyringError::NotACommit { .. } => "keyring-not-a-commit",
            KeyringError::Unreadable(unreadable) => unreadable.kind(),
            KeyringError::Git(_) => "git",
        }
    }
}

/// A keyring error can be given again without loading the keyring again
/// (the gate refuses every ref checked with a broken keyring). Only
/// `git2::Error` is not `Clone`: it is rebuilt from its parts.
impl Clone for KeyringError {
    fn clone(&self) -> Self {
        match self {
            KeyringError::NotFound {
                reference,
                suggestion,
            } => KeyringError::NotFound {
                reference: reference.clone(),
                suggestion: suggestion.clone(),
            },
            KeyringError::MalformedKey {
                reference,
                file,
                blob,
                reason,
            } => KeyringError::MalformedKey {
                reference: reference.clone(),
                file: file.clone(),
                blob: *blob,
                reason: reason.clone(),
            },
            KeyringError::TooLarge { reference, limit } => KeyringError::TooLarge {
                reference: reference.clone(),
                limit: limit.clone(),
            },
            KeyringError::KeyNotAFile {
                reference,
                file,
                id,
                kind,
            } => KeyringError::KeyNotAFile {
                reference: reference.clone(),
                file: file.clone(),
                id: *id,
                kind,
            },
            KeyringError::KeyFileNameNotUtf8 { reference, path } => {
                KeyringError::KeyFileNameNotUtf8 {
                    reference: reference.clone(),
                    path: path.clone(),
                }
            }
            KeyringError::NotACommit {
                reference,
                name,
                target,
            } => KeyringError::NotACommit {
                reference: reference.clone(),
                name: name.clone(),
                target: target.clone(),
            },
            KeyringError::Unreadable(unreadable) => KeyringError::Unreadable(unreadable.clone()),
            KeyringError::Git(e) => {
                KeyringError::Git(git2::Error::new(e.code(), e.class(), e.message()))
            }
        }
    }
}

/// Where a keyring was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyringSource {
    /// The full name of the branch (`refs/remotes/origin/keyring`).
    pub name: String,
    /// The commit it pointed at.
    pub commit: Oid,
}

impl std::fmt::Display for KeyringSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at commit {}",
            Untrusted::new(&self.name),
            self.commit
        )
    }
}

/// The branch `reference` names and its commit, found as Guix's
/// `branch-lookup` (libgit2's `git_branch_lookup` with `GIT_BRANCH_ALL`)
/// finds it, then `reference-target` and `commit-lookup`: no symbolic
/// reference, no tag peeled.
fn keyring_source(repo: &Repository, reference: &str) -> Result<KeyringSource, KeyringError> {
    let mut candidates = vec![
        format!("refs/heads/{reference}"),
        format!("refs/remotes/{reference}"),
    ];
    // Not Guix's, but naming the same branches: a full branch name.
    if reference.starts_with("refs/heads/") || reference.starts_with("refs/remotes/") {
        candidates.push(reference.to_owned());
    }
    let Some(found) = candidates
        .iter()
        .find_map(|name| repo.find_reference(name).ok())
    else {
        return Err(KeyringError::NotFound {
            reference: reference.to_owned(),
            suggestion: remote_keyring_named(repo, reference),
        });
    };
    let name = String::from_utf8_lossy(found.name_bytes()).into_owned();
    match found.target() {
        Some(commit) => Ok(KeyringSource { name, commit }),
        None => {
            // The target's bytes, escaped: it need not be UTF-8.
            let to = Untrusted::bytes(found.symbolic_target_bytes().unwrap_or_default());
            Err(KeyringError::NotACommit {
                reference: reference.to_owned(),
                name,
                target: format!("it is a symbolic reference to `{to}`"),
            })
        }
    }
}

/// The keyring branch's source and the tree of its commit.
fn source_tree(
    reference: &str,
    source: KeyringSource,
    budget: &mut Budget,
) -> Result<(KeyringSource, Oid), KeyringError> {
    match read_commit_tree(source.commit, budget)? {
        Ok(tree) => Ok((source, tree)),
        Err(kind) => Err(KeyringError::NotACommit {
            reference: reference.to_owned(),
            target: format!("it points at {kind} {}", source.commit),
            name: source.name,
        }),
    }
}

/// Most levels of directories walked in a keyring tree (GNU Guix's is
/// flat).
pub const MAX_DEPTH: usize = 64;

/// Most tree entries walked in a keyring tree (GNU Guix's has about 70; a
/// channel may keep its keys on its main branch, whose whole tree is then
/// walked).
pub const MAX_ENTRIES: usize = 1_000_000;

/// The mode of a tree entry that is a directory.
const MODE_TREE: i32 = 0o040000;

/// The mode of a tree entry that is a submodule (gitlink).
const MODE_COMMIT: i32 = 0o160000;

/// One entry of the keyring tree, at its path from the root.
#[derive(Debug)]
struct TreeItem {
    /// `dir/sub/name`, as guile-git's `tree-fold` forms it.
    path: String,
    /// The path's bytes, when they are not UTF-8 (`path` then has
    /// replacement characters).
    not_utf8: Option<Vec<u8>>,
    mode: i32,
    id: Oid,
}

/// What may still be read from one keyring branch, and the objects it is
/// read from: a hostile branch must not make the loader read without
/// bound, nor pass an altered object for its own.
struct Budget<'r> {
    reference: String,
    objects: Objects<'r>,
    bytes: usize,
    entries: usize,
}

impl<'r> Budget<'r> {
    fn new(repo: &'r Repository, reference: &str) -> Result<Self, KeyringError> {
        Ok(Budget {
            reference: reference.to_owned(),
            objects: Objects::open(repo)?,
            bytes: MAX_BYTES,
            entries: MAX_ENTRIES,
        })
    }

    /// Reads object `id`, at `path` in the keyring tree (empty for the
    /// branch's commit), verified, within what may still be read.
    fn read(&mut self, id: Oid, path: &str) -> Result<(Kind, Vec<u8>), KeyringError> {
        let limit = self.bytes as u64;
        let (kind, data) = match self.objects.read_any(id, limit) {
            Ok(read) => read,
            Err(ObjectProblem::TooLarge { .. }) => return Err(self.too_large(KeyringLimit::Bytes)),
            Err(problem) => {
                let role = ObjectRole::Keyring {
                    reference: self.reference.clone(),
                    path: path.trim_end_matches('/').to_owned(),
                };
                // The kind expected: a commit for the branch, a tree for a
                // directory, else a key file.
                let kind = match path {
                    "" => Kind::Commit,
                    p if p.ends_with('/') => Kind::Tree,
                    _ => Kind::Blob,
                };
                return Err(ObjectError { id, kind, problem }.as_role(role).into());
            }
        };
        self.spend_bytes(data.len())?;
        Ok((kind, data))
    }

    fn too_large(&self, limit: KeyringLimit) -> KeyringError {
        KeyringError::TooLarge {
            reference: self.reference.clone(),
            limit,
        }
    }

    /// Accounts for reading an object of `size` bytes.
    fn spend_bytes(&mut self, size: usize) -> Result<(), KeyringError> {
        self.bytes = self
            .bytes
            .checked_sub(size)
            .ok_or_else(|| self.too_large(KeyringLimit::Bytes))?;
        Ok(())
    }

    /// Accounts for walking `count` tree entries.
    fn spend_entries(&mut self, count: usize) -> Result<(), KeyringError> {
        self.entries = self
            .entries
            .checked_sub(count)
            .ok_or_else(|| self.too_large(KeyringLimit::Entries))?;
        Ok(())
    }
}

/// Every entry of `root` and of its subtrees whose path ends in `.key`, in
/// the order of libgit2's pre-order `git_tree_walk` (each directory, then
/// what it holds), walked without recursion.
fn list_keys(root: Oid, budget: &mut Budget) -> Result<Vec<TreeItem>, KeyringError> {
    let mut listed = Vec::new();
    // Entries still to visit, the next one last, each with its depth.
    let mut pending: Vec<(TreeItem, usize)> = Vec::new();
    let push_children = |pending: &mut Vec<(TreeItem, usize)>,
                         tree: Oid,
                         parent: Option<&TreeItem>,
                         depth: usize,
                         budget: &mut Budget|
     -> Result<(), KeyringError> {
        if depth > MAX_DEPTH {
            return Err(budget.too_large(KeyringLimit::Depth));
        }
        let prefix = parent.map_or(String::new(), |p| format!("{}/", p.path));
        let children = read_tree(tree, &prefix, budget)?;
        pending.extend(children.into_iter().rev().map(|(name, mode, id)| {
            let path = format!("{prefix}{}", String::from_utf8_lossy(&name));
            // The bytes, kept only once a name on the way is not UTF-8
            // (until then, `prefix` is exactly the bytes).
            let not_utf8 = match parent.and_then(|p| p.not_utf8.as_deref()) {
                Some(raw) => Some([raw, b"/", &name].concat()),
                None if std::str::from_utf8(&name).is_err() => {
                    Some([prefix.as_bytes(), &name].concat())
                }
                None => None,
            };
            let item = TreeItem {
                path,
                not_utf8,
                mode,
                id,
            };
            (item, depth)
        }));
        Ok(())
    };
    push_children(&mut pending, root, None, 1, budget)?;
    while let Some((item, depth)) = pending.pop() {
        if item.mode == MODE_TREE {
            push_children(&mut pending, item.id, Some(&item), depth + 1, budget)?;
        }
        if item.path.ends_with(".key") {
            listed.push(item);
        }
    }
    Ok(listed)
}

/// The tree of commit `id`, or the kind of object `id` is when it is not a
/// commit.
fn read_commit_tree(id: Oid, budget: &mut Budget) -> Result<Result<Oid, Kind>, KeyringError> {
    match budget.read(id, "")? {
        (Kind::Commit, data) => Ok(Ok(crate::git::commit::Header::parse(id, &data)?.tree)),
        (kind, _) => Ok(Err(kind)),
    }
}

/// The entries (name, mode, id) of tree `id`, the directory at `path`
/// (`dir/`, or empty for the root).
fn read_tree(
    id: Oid,
    path: &str,
    budget: &mut Budget,
) -> Result<Vec<(Vec<u8>, i32, Oid)>, KeyringError> {
    let dir = if path.is_empty() { "/" } else { path };
    let reference = budget.reference.clone();
    let damaged = |problem| {
        let role = ObjectRole::Keyring {
            reference,
            path: dir.trim_end_matches('/').to_owned(),
        };
        KeyringError::from(
            ObjectError {
                id,
                kind: Kind::Tree,
                problem,
            }
            .as_role(role),
        )
    };
    let (kind, data) = budget.read(id, dir)?;
    if kind != Kind::Tree {
        // What libgit2's walk, hence Guix, fails on.
        let expected = Kind::Tree;
        return Err(damaged(ObjectProblem::WrongKind {
            expected,
            actual: kind,
        }));
    }
    let entries = crate::git::commit::tree_entries(&data)
        .map_err(|what| damaged(ObjectProblem::Damaged(what.to_owned())))?;
    budget.spend_entries(entries.len())?;
    Ok(entries
        .into_iter()
        .map(|(name, mode, id)| (name.to_vec(), mode as i32, id))
        .collect())
}

/// The contents of blob `id`, the key file at `path`; `None` when `id` is
/// another kind of object.
fn read_blob(id: Oid, path: &str, budget: &mut Budget) -> Result<Option<Vec<u8>>, KeyringError> {
    match budget.read(id, path)? {
        (Kind::Blob, data) => Ok(Some(data)),
        _ => Ok(None),
    }
}

/// A remote-tracking branch with the same last component as `reference`,
/// e.g. `origin/keyring` when `keyring` was asked for. A hint only: a name
/// that is not UTF-8 cannot be given back as `--keyring`, so it is passed
/// over (the branch is not checked here, only suggested).
fn remote_keyring_named(repo: &Repository, reference: &str) -> Option<String> {
    let base = reference.rsplit('/').next()?;
    let branches = repo.branches(Some(git2::BranchType::Remote)).ok()?;
    branches
        .filter_map(|b| b.ok()?.0.name().ok().flatten().map(str::to_owned))
        .find(|name| name != reference && name.rsplit('/').next() == Some(base))
}

/// A key, its fingerprint, and its primary key's fingerprint.
type KeyPacket = (Key<PublicParts, UnspecifiedRole>, Fingerprint, Fingerprint);

/// As Guix's `get-key`, which knows two curves for EdDSA keys and fails on
/// any other (a `match` without a clause), which stops the whole keyring
/// from loading.
fn check_curve(key: &Key<PublicParts, UnspecifiedRole>) -> Result<(), KeyProblem> {
    match key.mpis() {
        mpi::PublicKey::EdDSA { curve, .. }
            if !matches!(curve, Curve::Ed25519 | Curve::Cv25519) =>
        {
            Err(KeyProblem::UnsupportedCurve {
                curve: curve.to_string(),
            })
        }
        _ => Ok(()),
    }
}

/// Every primary key and subkey packet of a file, each with the
/// fingerprint of the primary key it follows, read as Guix's
/// `get-openpgp-keyring` reads them, packet by packet
/// ([`packet::next_frame`]); and whether any of the file's MPIs was not
/// canonically encoded.
///
/// As in Guix, an armored file is decoded from its first armor block, which
/// must carry a valid checksum; an empty file holds no key. Guix reads v4
/// public keys only, in groups from a primary key to the next: packets
/// before the first primary key are skipped (a subkey alone is not in the
/// keyring), and so is everything after a key of another version up to
/// the next primary key. A packet Guix cannot read (a secret key, an
/// encrypted or literal data packet, a marker…) makes its `get-packet`
/// fail, and the file is refused. Keys are read as Guix's `get-public-key`
/// reads them ([`packet::read_key`]: non-canonical MPIs accepted, the
/// fingerprint from the packet as published); signatures (self-signatures,
/// bindings, certifications), which Guix reads and never checks, must
/// parse (their MPIs read as Guix reads them).
fn read_key_packets(contents: &[u8]) -> Result<(Vec<KeyPacket>, bool), KeyProblem> {
    let mut keys = Vec::new();
    let mut non_canonical = false;
    let decoded;
    let mut packets = if armor::looks_armored(contents) {
        decoded = armor::decode_first_block(contents)
            .map_err(KeyProblem::Armor)?
            .1;
        &decoded[..]
    } else {
        contents
    };
    let file = packets;
    // The primary key of the group being read, if it is one Guix reads.
    let mut primary: Option<Fingerprint> = None;
    while !packets.is_empty() {
        let (frame, rest) = packet::next_frame(packets).ok_or(KeyProblem::TruncatedPacket)?;
        packets = rest;
        let is_primary = match frame.tag {
            tag::PUBLIC_KEY => true,
            tag::PUBLIC_SUBKEY => false,
            tag::SIGNATURE => {
                let (_, encoding) =
                    signature::parse_signature_body(frame.body).map_err(|e| match e {
                        SignatureProblem::Mpi(problem) => KeyProblem::Mpi {
                            tag: tag::SIGNATURE,
                            problem,
                        },
                        other => KeyProblem::UnreadablePacket {
                            tag: tag::SIGNATURE,
                            reason: other.to_string(),
                        },
                    })?;
                non_canonical |= encoding.non_canonical;
                // Of indeterminate length, Guix reads it from the file's
                // port, and the next packet after what it read.
                if frame.indeterminate {
                    let read = packet::canonical_signature(frame.body).map_or(0, |s| s.read);
                    packets = &frame.body[read..];
                }
                continue;
            }
            // What Guix's `get-data` reads and the keyring ignores. Of
            // indeterminate length, Guix reads them from the file's port:
            // nothing of a trust or one-pass signature packet (the next
            // packet starts after the header), and a user ID or attribute
            // with no length, on which it fails.
            tag::ONE_PASS_SIGNATURE | tag::TRUST => {
                if frame.indeterminate {
                    packets = frame.body;
                }
                continue;
            }
            tag::USER_ID | tag::USER_ATTRIBUTE if frame.indeterminate => {
                return Err(KeyProblem::IndeterminateLength { tag: frame.tag })
            }
            tag::USER_ID | tag::USER_ATTRIBUTE => continue,
            tag => return Err(KeyProblem::NotAKey { tag }),
        };
        // Guix reads a packet of indeterminate length from the file's
        // port, and hashes the whole file for its fingerprint.
        let read = match frame.indeterminate {
            true => packet::read_key_at(file, file.len() - frame.body.len()),
            false => packet::read_key(frame.body),
        };
        let read = read.map_err(|e| match e {
            KeyPacketProblem::Mpi(problem) => KeyProblem::Mpi {
                tag: frame.tag,
                problem,
            },
            other => KeyProblem::KeyPacket(other),
        })?;
        // A key of another version (v3, v5, v6): Guix skips it and what
        // follows it up to the next primary key. Of indeterminate length,
        // it reads the version octet alone from the file's port, and the
        // next packet after it.
        let Some(read) = read else {
            primary = None;
            if frame.indeterminate {
                packets = &frame.body[frame.body.len().min(1)..];
            }
            continue;
        };
        check_curve(&read.key)?;
        non_canonical |= read.non_canonical;
        if is_primary {
            primary = Some(read.fingerprint.clone());
        }
        if let Some(primary) = &primary {
            keys.push((read.key, read.fingerprint, primary.clone()));
        }
    }
    Ok((keys, non_canonical))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openpgp::packet::key::Key4;
    use openpgp::serialize::MarshalInto;
    use openpgp::types::PublicKeyAlgorithm;
    use openpgp::Packet;

    /// A v4 EdDSA primary key on `curve`, serialized.
    fn eddsa_key(curve: Curve) -> Vec<u8> {
        let q = mpi::MPI::new(&[0x40; 33]);
        let key: Key<PublicParts, UnspecifiedRole> = Key4::new(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_577_836_800),
            PublicKeyAlgorithm::EdDSA,
            mpi::PublicKey::EdDSA { curve, q },
        )
        .unwrap()
        .into();
        Packet::from(key.role_into_primary()).to_vec().unwrap()
    }

    #[test]
    fn keys_of_other_versions_are_skipped_with_what_follows() {
        // A v3 RSA key (old format), then a v4 subkey: Guix skips both.
        let v3 = [
            0x99, 0x00, 0x0e, 3, 0, 0, 0, 1, 0, 0, 1, 0, 8, 0xff, 0, 2, 3,
        ];
        let ed25519 = eddsa_key(Curve::Ed25519);
        let mut subkey = ed25519.clone();
        subkey[0] = 0xce; // new-format tag 14: a public subkey
        let mut file = v3.to_vec();
        file.extend(&subkey);
        assert!(read_key_packets(&file).unwrap().0.is_empty());
        file.extend(&ed25519);
        file.extend(&subkey);
        assert_eq!(read_key_packets(&file).unwrap().0.len(), 2);
    }

    #[test]
    fn eddsa_keys_on_curves_guix_does_not_know_are_refused() {
        assert_eq!(
            read_key_packets(&eddsa_key(Curve::Ed25519))
                .unwrap()
                .0
                .len(),
            1
        );
        let error = read_key_packets(&eddsa_key(Curve::NistP256)).unwrap_err();
        assert!(
            matches!(error, KeyProblem::UnsupportedCurve { .. }),
            "{error}"
        );
    }
}
