//! The one layer that writes git objects for the tests and the benchmark:
//! blobs, trees, commits (signed or not, in any header field) and branches,
//! formatted by hand exactly as git and libgit2 format them.
//!
//! Objects go to an [`ObjectSink`]: a repository's object database for the
//! tests, or the pack the benchmark's generator streams a million commits
//! into (`benches/generate/`, which includes this file by path: it may use
//! only `git2` and `sequoia_openpgp`, nothing else of `tests/support`).
//! Nothing here validates names or parses what it writes: scenarios craft
//! hostile objects on purpose, and the generator must stay fast.

use std::time::{Duration, SystemTime};

use git2::{ObjectType, Oid, Repository};
use sequoia_openpgp as openpgp;

use openpgp::packet::signature::SignatureBuilder;
use openpgp::serialize::Marshal;
use openpgp::types::{HashAlgorithm, SignatureType};

/// Where written objects go.
pub trait ObjectSink {
    /// Stores one object and returns its id.
    fn write_object(&mut self, kind: ObjectType, data: &[u8]) -> Result<Oid, String>;
}

impl ObjectSink for Repository {
    fn write_object(&mut self, kind: ObjectType, data: &[u8]) -> Result<Oid, String> {
        self.odb()
            .and_then(|odb| odb.write(kind, data))
            .map_err(|e| format!("write {kind}: {e}"))
    }
}

/// Tree entry modes, as git writes them (octal, no leading zero).
pub const FILE: u32 = 0o100644;
/// An executable file.
pub const EXECUTABLE: u32 = 0o100755;
/// A symbolic link (the blob holds its target).
pub const SYMLINK: u32 = 0o120000;
/// A subtree.
pub const DIRECTORY: u32 = 0o040000;
/// A submodule: the entry names a commit.
pub const GITLINK: u32 = 0o160000;

/// One entry of a tree: mode, name, object.
pub type TreeEntry = (u32, String, Oid);

/// Writes a blob.
pub fn blob(sink: &mut (impl ObjectSink + ?Sized), content: &[u8]) -> Result<Oid, String> {
    sink.write_object(ObjectType::Blob, content)
}

/// Writes a tree of these entries, in git's order (a subtree sorts as if
/// its name ended with `/`), whatever order they come in.
pub fn tree(sink: &mut (impl ObjectSink + ?Sized), entries: &[TreeEntry]) -> Result<Oid, String> {
    let mut sorted: Vec<&TreeEntry> = entries.iter().collect();
    sorted.sort_by_cached_key(|(mode, name, _)| sort_key(*mode, name));
    let mut data = Vec::with_capacity(entries.len() * 48);
    for (mode, name, oid) in sorted {
        data.extend_from_slice(format!("{mode:o} {name}\0").as_bytes());
        data.extend_from_slice(oid.as_bytes());
    }
    sink.write_object(ObjectType::Tree, &data)
}

fn sort_key(mode: u32, name: &str) -> Vec<u8> {
    let mut key = name.as_bytes().to_vec();
    if mode == DIRECTORY {
        key.push(b'/');
    }
    key
}

/// A tree of regular files (the common case: a keyring branch, a channel
/// with `.guix-authorizations`).
pub fn file_tree(
    sink: &mut (impl ObjectSink + ?Sized),
    files: &[(&str, &[u8])],
) -> Result<Oid, String> {
    let mut entries = Vec::with_capacity(files.len());
    for (name, content) in files {
        entries.push((FILE, name.to_string(), blob(sink, content)?));
    }
    tree(sink, &entries)
}

/// The tree of `base` with top-level files changed: `(name, Some(content))`
/// writes a regular file (replacing any entry of that name), `(name, None)`
/// removes the entry, which must exist. How a test adds one commit to a
/// history the scenario language built.
pub fn changed_tree(
    repo: &mut Repository,
    base: Oid,
    changes: &[(&str, Option<&[u8]>)],
) -> Result<Oid, String> {
    let mut entries: Vec<TreeEntry> = {
        let tree = repo
            .find_tree(base)
            .map_err(|e| format!("read tree {base}: {e}"))?;
        tree.iter()
            .map(|e| {
                let name = String::from_utf8_lossy(e.name_bytes()).into_owned();
                (e.filemode() as u32, name, e.id())
            })
            .collect()
    };
    for (name, content) in changes {
        let at = entries.iter().position(|(_, n, _)| n == name);
        match (content, at) {
            (Some(content), _) => {
                let oid = blob(repo, content)?;
                entries.retain(|(_, n, _)| n != name);
                entries.push((FILE, name.to_string(), oid));
            }
            (None, Some(at)) => {
                entries.remove(at);
            }
            (None, None) => return Err(format!("remove {name:?}: not in tree {base}")),
        }
    }
    tree(repo, &entries)
}

/// Author and committer of a commit (both the same), at `time` (UTC).
#[derive(Clone, Copy, Debug)]
pub struct Person<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub time: i64,
}

impl Person<'_> {
    fn line(&self) -> String {
        format!("{} <{}> {} +0000", self.name, self.email, self.time)
    }
}

/// The text of an unsigned commit, byte for byte what libgit2's
/// `commit_create_buffer` makes; `message` is stored as given.
pub fn commit_buffer(tree: Oid, parents: &[Oid], who: &Person, message: &str) -> String {
    let person = who.line();
    let mut text = String::with_capacity(200 + message.len() + 48 * parents.len());
    text.push_str(&format!("tree {tree}\n"));
    for parent in parents {
        text.push_str(&format!("parent {parent}\n"));
    }
    text.push_str(&format!("author {person}\ncommitter {person}\n\n{message}"));
    text
}

/// `unsigned` with header field `field` holding `signature` after its
/// other headers, continuation lines indented by one space: what git
/// (and libgit2's `commit_signed`) store. `signature` should not end with a
/// newline (git drops it).
pub fn with_signature(unsigned: &str, field: &str, signature: &str) -> String {
    let split = unsigned.find("\n\n").map_or(unsigned.len(), |at| at + 1);
    let value = signature.replace('\n', "\n ");
    let (headers, rest) = unsigned.split_at(split);
    format!("{headers}{field} {value}\n{rest}")
}

/// Writes a commit; `signature` is (header field, its content), stored as
/// [`with_signature`] does.
pub fn commit(
    sink: &mut (impl ObjectSink + ?Sized),
    unsigned: &str,
    signature: Option<(&str, &str)>,
) -> Result<Oid, String> {
    let data = match signature {
        None => return sink.write_object(ObjectType::Commit, unsigned.as_bytes()),
        Some((field, value)) => with_signature(unsigned, field, value),
    };
    sink.write_object(ObjectType::Commit, data.as_bytes())
}

/// Writes an annotated tag object named `name` pointing at `target`, an
/// object of type `kind` (`commit`, `tree`, `blob`, `tag`), formatted as
/// git does; no reference is made (the caller points one at it).
pub fn tag(
    sink: &mut (impl ObjectSink + ?Sized),
    target: Oid,
    kind: &str,
    name: &str,
    tagger: &Person,
    message: &str,
) -> Result<Oid, String> {
    let text = format!(
        "object {target}\ntype {kind}\ntag {name}\ntagger {}\n\n{message}",
        tagger.line()
    );
    sink.write_object(ObjectType::Tag, text.as_bytes())
}

/// Points `refs/heads/BRANCH` at `oid` (created or moved).
pub fn set_branch(repo: &Repository, branch: &str, oid: Oid) -> Result<(), String> {
    repo.reference(&format!("refs/heads/{branch}"), oid, true, "test builder")
        .map(|_| ())
        .map_err(|e| format!("update branch {branch:?}: {e}"))
}

/// A root commit on `branch` holding these top-level files: how every
/// builder makes its keyring branch.
pub fn branch_of_files(
    repo: &mut Repository,
    branch: &str,
    files: &[(&str, &[u8])],
    who: &Person,
    message: &str,
) -> Result<Oid, String> {
    let tree = file_tree(repo, files)?;
    let oid = commit(repo, &commit_buffer(tree, &[], who, message), None)?;
    set_branch(repo, branch, oid)?;
    Ok(oid)
}

/// A detached binary-document signature (type 0x00) of `data` by
/// `signer`, made at `time`, ASCII-armored: what `git commit -S` stores.
pub fn binary_signature(
    signer: &mut dyn openpgp::crypto::Signer,
    data: &[u8],
    time: i64,
    hash: HashAlgorithm,
) -> Result<String, String> {
    let created = SystemTime::UNIX_EPOCH + Duration::from_secs(time.max(0) as u64);
    let mut sign = || {
        SignatureBuilder::new(SignatureType::Binary)
            .set_hash_algo(hash)
            .set_signature_creation_time(created)
            .and_then(|b| b.sign_message(&mut *signer, data))
            .map_err(|e| format!("sign: {e}"))
    };
    let mut signature = sign()?;
    for _ in 0..64 {
        if !eddsa_short(&signature) {
            break;
        }
        signature = sign()?;
    }
    armored_signatures([openpgp::Packet::from(signature)])
}

/// Whether `sig` is an EdDSA signature whose R or S is encoded in fewer
/// than 32 octets. Sequoia salts each signature, so an EdDSA one is
/// random: one in 128 has an R or S written in 31 octets (which Guix pads
/// back to 32), one in 32,768 in 30 or fewer, which Guix (libgcrypt)
/// cannot verify and this tool therefore refuses. Signers here make such
/// a signature again, so that tests and generated histories do not fail
/// at random; the tests of short R and S craft theirs.
pub fn eddsa_short(sig: &openpgp::packet::Signature) -> bool {
    use openpgp::crypto::mpi;
    match sig.mpis() {
        mpi::Signature::EdDSA { r, s } => r.value().len() < 32 || s.value().len() < 32,
        _ => false,
    }
}

/// Signature packets in one ASCII-armor block.
pub fn armored_signatures(
    packets: impl IntoIterator<Item = openpgp::Packet>,
) -> Result<String, String> {
    let mut writer = openpgp::armor::Writer::new(Vec::new(), openpgp::armor::Kind::Signature)
        .map_err(|e| format!("armor: {e}"))?;
    for packet in packets {
        packet
            .serialize(&mut writer)
            .map_err(|e| format!("serialize signature: {e}"))?;
    }
    let bytes = writer.finalize().map_err(|e| format!("armor: {e}"))?;
    String::from_utf8(bytes).map_err(|e| format!("armor is not UTF-8: {e}"))
}
