//! A commit object, read once: its tree, its parents, its signature and the
//! data the signature covers.
//!
//! Reading each commit once matters: the rule needs all four, and libgit2
//! would otherwise inflate and hash the same object three times. The
//! signature is extracted with exactly the semantics of libgit2's
//! `git_commit_extract_signature`, which Guix relies on, quirks included.
//!
//! # The representations of a commit
//!
//! Each holds what one stage needs, so that a long history fits in memory:
//!
//! - [`CommitObject`]: a commit being checked: tree, parents, signature and
//!   signed data. Built from the object's data, then dropped.
//! - [`Header`]: tree, parents and committer time, which the walk reads to
//!   order the history, and hands over for the parents of each commit it
//!   finds (so that the rule does not read them again).
//! - the walk's vertex (`walk.rs`): the same, compacted (a node index, its
//!   parents as indices), for every commit the walk has met.
//! - the walk's `Found`: a commit to check, as handed to a checking thread
//!   (its data, its parents' headers).
//! - the memo's facts (`memo.rs`): what the rule remembers of a parent —
//!   what stands at `.guix-authorizations` and its own parents.

use git2::{Oid, Repository};

use crate::git::objects::{Kind, ObjectError, ObjectProblem, ObjectRole, Objects, Unreadable};

/// The header field holding an OpenPGP signature.
const SIGNATURE_FIELD: &[u8] = b"gpgsig";

/// What the rule needs from one commit.
#[derive(Debug, Clone)]
pub(crate) struct CommitObject {
    pub id: Oid,
    pub tree: Oid,
    pub parents: Vec<Oid>,
    /// The `gpgsig` field and the object without it, if signed.
    pub signature: Option<(Vec<u8>, Vec<u8>)>,
}

impl CommitObject {
    /// Reads commit `id` from the object database.
    pub fn read(repo: &Repository, id: Oid) -> Result<Self, Unreadable> {
        let objects = Objects::open(repo).map_err(|e| {
            let problem = ObjectProblem::Damaged(e.message().to_owned());
            let source = ObjectError {
                id,
                kind: Kind::Commit,
                problem,
            };
            source.as_role(ObjectRole::Commit)
        })?;
        Self::read_from(&objects, id)
    }

    /// Reads commit `id` from `objects`.
    pub fn read_from(objects: &Objects, id: Oid) -> Result<Self, Unreadable> {
        Self::parse(id, &read_raw(objects, id)?)
    }

    /// Parses the raw object `data` of commit `id`.
    pub fn parse(id: Oid, data: &[u8]) -> Result<Self, Unreadable> {
        // The header as the walk reads it, but for the committer time,
        // which only orders the walk.
        let (tree, parents) = parse_tree_and_parents(id, data)?;
        Ok(CommitObject {
            id,
            tree,
            parents,
            signature: extract_signature(data),
        })
    }
}

/// What the commit walk needs from a commit: its tree, its parents and its
/// committer time.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub tree: Oid,
    pub parents: Vec<Oid>,
    /// Seconds since the epoch; 0 when the committer line is malformed
    /// (the time only orders the walk).
    pub time: i64,
}

impl Header {
    /// Parses the header of the raw object `data` of commit `id`.
    pub fn parse(id: Oid, data: &[u8]) -> Result<Self, Unreadable> {
        let (tree, parents) = parse_tree_and_parents(id, data)?;
        Ok(Header {
            tree,
            parents,
            time: committer_time(data).unwrap_or(0),
        })
    }
}

/// The raw data of commit `id`, verified to be that commit.
pub(crate) fn read_raw(objects: &Objects, id: Oid) -> Result<Vec<u8>, Unreadable> {
    objects
        .read(id, Kind::Commit)
        .map_err(|e| e.as_role(ObjectRole::Commit))
}

/// The time on the header's `committer` line: `committer NAME <EMAIL>
/// TIME ZONE`, as libgit2 reads it for its walk.
fn committer_time(data: &[u8]) -> Option<i64> {
    let line = data
        .split(|&b| b == b'\n')
        .take_while(|line| !line.is_empty())
        .find_map(|line| line.strip_prefix(b"committer "))?;
    let after_email = &line[line.iter().rposition(|&b| b == b'>')? + 1..];
    let time = std::str::from_utf8(after_email)
        .ok()?
        .split_whitespace()
        .next()?;
    time.parse().ok()
}

/// What stands under `name` at the top of the tree of `commit`: the
/// entry's mode and object id.
pub(crate) fn tree_entry(
    objects: &Objects,
    commit: Oid,
    tree: Oid,
    name: &[u8],
) -> Result<Option<(u32, Oid)>, Unreadable> {
    let data = objects
        .read(tree, Kind::Tree)
        .map_err(|e| e.as_role(ObjectRole::TreeOf(commit)))?;
    find_entry(&data, name)
        .map_err(|what| malformed(ObjectRole::TreeOf(commit), tree, Kind::Tree, what))
}

/// Finds `name` among the entries of a tree (all of which are read: the
/// tree must be one Git writes).
fn find_entry(data: &[u8], name: &[u8]) -> Result<Option<(u32, Oid)>, &'static str> {
    let mut found = None;
    ordered_entries(data, |(entry_name, mode, id)| {
        if entry_name == name {
            found = Some((mode, id));
        }
    })?;
    Ok(found)
}

/// A tree entry: its name, mode and object id.
pub(crate) type TreeEntry<'a> = (&'a [u8], u32, Oid);

/// Every entry of a tree, in order.
///
/// A tree whose entries are not in Git's order, or that names an entry
/// twice, is refused: Git never writes one (`git fsck` reports it), and
/// libgit2, hence Guix, looks an entry up by a binary search over the
/// entries as stored, so which of two `.guix-authorizations` Guix reads,
/// or whether it finds one at all in an unsorted tree, depends on the
/// number and order of the other entries.
pub(crate) fn tree_entries(data: &[u8]) -> Result<Vec<TreeEntry<'_>>, &'static str> {
    let mut entries = Vec::new();
    ordered_entries(data, |entry| entries.push(entry))?;
    Ok(entries)
}

/// Hands every entry of a tree to `visit`, in order, refusing the tree as
/// [`tree_entries`] does; nothing is collected, as the rule reads a tree
/// for every commit.
fn ordered_entries<'a>(
    data: &'a [u8],
    mut visit: impl FnMut(TreeEntry<'a>),
) -> Result<(), &'static str> {
    let mut previous: Option<(&[u8], u32)> = None;
    for entry in (TreeEntries { data }) {
        let (name, mode, id) = entry?;
        if let Some((a, a_mode)) = previous {
            if a == name {
                return Err("a tree names an entry twice");
            }
            if git_order(a, a_mode, name, mode) != std::cmp::Ordering::Less {
                return Err("a tree's entries are not in Git's order");
            }
        }
        visit((name, mode, id));
        previous = Some((name, mode));
    }
    Ok(())
}

/// Git's order of tree entries: by name, a directory's name compared as
/// if followed by `/`.
fn git_order(a: &[u8], a_mode: u32, b: &[u8], b_mode: u32) -> std::cmp::Ordering {
    // Compared without building the keys: this runs for every entry of
    // every tree the rule reads. The names' common length decides,
    // unless one name is a prefix of the other: then what follows it
    // (the rest of a name, then `/` for a directory) does.
    let common = a.len().min(b.len());
    let slash = |mode: u32| (mode & 0o170000 == 0o040000).then_some(&b'/');
    a[..common].cmp(&b[..common]).then_with(|| {
        a[common..]
            .iter()
            .chain(slash(a_mode))
            .cmp(b[common..].iter().chain(slash(b_mode)))
    })
}

/// Scans tree entries: `MODE SP NAME NUL` then 20 bytes of object id.
struct TreeEntries<'a> {
    data: &'a [u8],
}

impl<'a> Iterator for TreeEntries<'a> {
    type Item = Result<TreeEntry<'a>, &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.data.is_empty() {
            return None;
        }
        let entry = parse_entry(self.data);
        match entry {
            Ok((name, mode, id, rest)) => {
                self.data = rest;
                Some(Ok((name, mode, id)))
            }
            Err(e) => {
                self.data = &[];
                Some(Err(e))
            }
        }
    }
}

type Entry<'a> = (&'a [u8], u32, Oid, &'a [u8]);

fn parse_entry(data: &[u8]) -> Result<Entry<'_>, &'static str> {
    let space = data
        .iter()
        .position(|&b| b == b' ')
        .ok_or("a tree entry has no mode")?;
    let nul = data
        .iter()
        .position(|&b| b == 0)
        .ok_or("a tree entry has no name")?;
    if nul < space || nul + 21 > data.len() {
        return Err("a tree entry is truncated");
    }
    let mode = std::str::from_utf8(&data[..space])
        .ok()
        .and_then(|m| u32::from_str_radix(m, 8).ok())
        .ok_or("a tree entry has a malformed mode")?;
    let id =
        Oid::from_bytes(&data[nul + 1..nul + 21]).map_err(|_| "a tree entry has a malformed id")?;
    Ok((&data[space + 1..nul], mode, id, &data[nul + 21..]))
}

/// A commit or tree that is stored whole but does not read as one.
fn malformed(role: ObjectRole, id: Oid, kind: Kind, what: &str) -> Unreadable {
    let problem = ObjectProblem::Damaged(what.to_owned());
    ObjectError { id, kind, problem }.as_role(role)
}

/// The tree and parents of commit `id`, whose raw object is `data`.
fn parse_tree_and_parents(id: Oid, data: &[u8]) -> Result<(Oid, Vec<Oid>), Unreadable> {
    tree_and_parents(data)
        .filter(|_| identities_as_libgit2(data))
        .ok_or_else(|| {
            malformed(
                ObjectRole::Commit,
                id,
                Kind::Commit,
                "its header is malformed",
            )
        })
}

/// What stands under `name` at the top of the tree of `commit`, every
/// object read verified: for callers that need no more of the commit.
pub(crate) fn root_entry(
    objects: &Objects,
    commit: Oid,
    name: &[u8],
) -> Result<Option<(u32, Oid)>, Unreadable> {
    let data = objects
        .read(commit, Kind::Commit)
        .map_err(|e| e.as_role(ObjectRole::Commit))?;
    let (tree, _) = parse_tree_and_parents(commit, &data)?;
    let data = objects
        .read(tree, Kind::Tree)
        .map_err(|e| e.as_role(ObjectRole::TreeOf(commit)))?;
    find_entry(&data, name)
        .map_err(|what| malformed(ObjectRole::TreeOf(commit), tree, Kind::Tree, what))
}

/// The `tree` line, then the `parent` lines, as git writes them.
fn tree_and_parents(data: &[u8]) -> Option<(Oid, Vec<Oid>)> {
    let mut lines = data.split(|&b| b == b'\n');
    let tree = header_oid(lines.next()?, b"tree ")?;
    let parents = lines
        .map_while(|line| header_oid(line, b"parent "))
        .collect();
    Some((tree, parents))
}

/// Whether libgit2's commit parser, which every commit lookup of Guix goes
/// through (Guix fails on an error), reads the identities after the tree
/// and parent lines: an `author` line, any further `author` lines
/// (skipped), then a `committer` line, each ending in a newline, with
/// something after the field name, and a `<` before the last `>`.
fn identities_as_libgit2(data: &[u8]) -> bool {
    fn next_line<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
        let end = rest.iter().position(|&b| b == b'\n')?;
        let line = &rest[..end];
        *rest = &rest[end + 1..];
        Some(line)
    }
    fn identity(line: Option<&[u8]>, field: &[u8]) -> bool {
        let Some(value) = line.and_then(|l| l.strip_prefix(field)) else {
            return false;
        };
        let last = |c: u8| value.iter().rposition(|&b| b == c);
        !value.is_empty() && matches!((last(b'<'), last(b'>')), (Some(lt), Some(gt)) if gt > lt)
    }
    let mut rest = data;
    if next_line(&mut rest).is_none() {
        return false;
    }
    while rest.starts_with(b"parent ") {
        let before = rest;
        match next_line(&mut rest) {
            Some(line) if header_oid(line, b"parent ").is_some() => {}
            _ => {
                rest = before;
                break;
            }
        }
    }
    if !identity(next_line(&mut rest), b"author ") {
        return false;
    }
    while rest.starts_with(b"author ") {
        if next_line(&mut rest).is_none() {
            return false;
        }
    }
    identity(next_line(&mut rest), b"committer ")
}

fn header_oid(line: &[u8], name: &[u8]) -> Option<Oid> {
    let hex = line.strip_prefix(name)?;
    if hex.len() != 40 {
        return None;
    }
    Oid::from_str(std::str::from_utf8(hex).ok()?).ok()
}

/// The signature and the signed data, as libgit2 extracts them: the first
/// line anywhere in the object that starts with `gpgsig ` starts the
/// signature, lines starting with a space continue it, and the signed data
/// is everything else. libgit2 reads the object as a C string, so nothing
/// after a NUL byte counts. A malformed field reads as no signature, which
/// is how Guix treats libgit2's error.
pub(crate) fn extract_signature(object: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let data = match memchr::memchr(0, object) {
        Some(nul) => &object[..nul],
        None => object,
    };
    let newline_from =
        |at: usize| memchr::memchr(b'\n', &data[at.min(data.len())..]).map(|i| at + i);
    let mut signed = Vec::with_capacity(data.len());
    // The signed data is copied a run of lines at a time: from `copied`
    // to the line being looked at.
    let mut copied = 0;
    let mut line = 0;
    // A line is looked at only if something follows its newline.
    while let Some(end) = newline_from(line).filter(|&end| end + 1 < data.len()) {
        if !data[line..].starts_with(SIGNATURE_FIELD) {
            line = end + 1;
            continue;
        }
        signed.extend_from_slice(&data[copied..line]);
        let after_name = line + SIGNATURE_FIELD.len();
        if data.get(after_name) != Some(&b' ') {
            // `gpgsig-sha256` and the like: libgit2 drops the matched name
            // and goes on from there.
            (copied, line) = (after_name, after_name);
            continue;
        }
        let mut eol = newline_from(after_name)?;
        let mut signature = data[after_name + 1..eol].to_vec();
        while data.get(eol + 1) == Some(&b' ') {
            signature.push(b'\n');
            let start = eol + 2;
            eol = newline_from(start)?;
            signature.extend_from_slice(&data[start..eol]);
        }
        signed.extend_from_slice(&data[eol + 1..]);
        return Some((signature, signed));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNED: &[u8] = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\
        parent 9edb3f66fd807b096b48283debdcddccfea34bad\n\
        author A <a@example.org> 1600000000 +0000\n\
        committer A <a@example.org> 1600000000 +0000\n\
        gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQ==\n -----END PGP SIGNATURE-----\n\
        \n\
        message\n";

    #[test]
    fn reads_header_and_signature() {
        let (tree, parents) = tree_and_parents(SIGNED).unwrap();
        assert_eq!(tree.to_string(), "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
        assert_eq!(parents.len(), 1);
        let (sig, signed) = extract_signature(SIGNED).unwrap();
        assert_eq!(
            sig,
            b"-----BEGIN PGP SIGNATURE-----\n\niQ==\n-----END PGP SIGNATURE-----"
        );
        assert!(!signed.windows(6).any(|w| w == b"gpgsig"));
        assert!(signed.ends_with(b"committer A <a@example.org> 1600000000 +0000\n\nmessage\n"));
    }

    /// Writes `raw` as a commit object and compares with libgit2.
    fn same_as_libgit2(raw: &[u8]) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let id = repo
            .odb()
            .unwrap()
            .write(git2::ObjectType::Commit, raw)
            .unwrap();
        let theirs = repo
            .extract_signature(&id, None)
            .ok()
            .map(|(s, d)| (s.to_vec(), d.to_vec()));
        assert_eq!(
            extract_signature(raw),
            theirs,
            "{}",
            String::from_utf8_lossy(raw)
        );
    }

    #[test]
    fn extracts_what_libgit2_extracts() {
        let head = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n";
        for tail in [
            "gpgsig a\n b\n\nm\n",
            "gpgsig-sha256 x\n y\n\nm\n",
            "gpgsig a\n b",
            "gpgsig a\ngpgsig b\n\nm\n",
            "gpgsig\n\nm\n",
            "\nm\ngpgsig s\nend\n",
            "\nm\ngpgsig s\n",
            "gpgsig a\n \n  b\n c\nx y\n\nm",
            "\n",
            "",
        ] {
            same_as_libgit2(format!("{head}{tail}").as_bytes());
        }
        same_as_libgit2(SIGNED);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// Objects made of the pieces the extraction looks at, in any
        /// order: libgit2's split, byte for byte.
        #[test]
        fn extracts_what_libgit2_extracts_from_any_mix(pieces in proptest::collection::vec(
            proptest::sample::select(vec![
                "gpgsig ", "gpgsig", "gpgsig-sha256 ", "\n", "\n ", " ", "a", "\n\n",
                "-----BEGIN PGP SIGNATURE-----", "\0", "parent x\n",
            ]),
            0..24,
        )) {
            let head = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n";
            same_as_libgit2(format!("{head}{}", pieces.concat()).as_bytes());
        }
    }

    #[test]
    fn finds_tree_entries_as_libgit2_does() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let blob = repo.blob(b"x").unwrap();
        let mut builder = repo.treebuilder(None).unwrap();
        builder
            .insert(".guix-authorizations", blob, 0o100644)
            .unwrap();
        builder.insert(".guix-channel", blob, 0o100755).unwrap();
        builder
            .insert(
                "a dir",
                repo.treebuilder(None).unwrap().write().unwrap(),
                0o040000,
            )
            .unwrap();
        let tree = builder.write().unwrap();
        let objects = Objects::open(&repo).unwrap();
        let entry = |name: &str| tree_entry(&objects, Oid::ZERO_SHA1, tree, name.as_bytes());
        assert_eq!(
            entry(".guix-authorizations").unwrap(),
            Some((0o100644, blob))
        );
        assert_eq!(entry(".guix-channel").unwrap(), Some((0o100755, blob)));
        assert_eq!(entry("a dir").unwrap().unwrap().0, 0o040000);
        assert_eq!(entry("missing").unwrap(), None);
        assert!(find_entry(b"100644 truncated", b"x").is_err());
        assert!(find_entry(b"100644 name\0short", b"name").is_err());
    }

    #[test]
    fn reads_identities_as_libgit2_does() {
        let tree = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n";
        let parent = "parent 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n";
        let ok = |rest: &str| identities_as_libgit2(format!("{tree}{parent}{rest}").as_bytes());
        assert!(ok(
            "author A <a@b> 1 +0000\ncommitter A <a@b> 1 +0000\n\nm\n"
        ));
        assert!(ok(
            "author A <a@b> 1 +0000\nauthor B <b> 2\ncommitter <> \n\n"
        ));
        assert!(ok("author A <a@b>\ncommitter A <a@b>\n"));
        for bad in [
            "author A <a@b> 1 +0000\n\nm\n",
            "committer A <a@b> 1 +0000\n\nm\n",
            "author A a@b> 1\ncommitter A <a@b> 1\n",
            "author A <a@b> 1\ncommitter A >a@b< 1\n",
            "author \ncommitter A <a@b> 1\n",
            "author A <a@b> 1\ncommitter A <a@b> 1",
            "gpgsig x\nauthor A <a@b> 1\ncommitter A <a@b> 1\n",
        ] {
            assert!(!ok(bad), "{bad:?}");
        }
    }

    #[test]
    fn refuses_trees_git_never_writes() {
        let entry = |mode: &str, name: &str| {
            let mut bytes = format!("{mode} {name}\0").into_bytes();
            bytes.extend_from_slice(&[7; 20]);
            bytes
        };
        let tree = |entries: &[(&str, &str)]| -> Vec<u8> {
            entries.iter().flat_map(|(m, n)| entry(m, n)).collect()
        };
        let name = b".guix-authorizations";
        // Sorted as Git sorts: "a-b" < "a" (a directory, "a/") < "a0".
        let sorted = tree(&[("100644", "a-b"), ("40000", "a"), ("100644", "a0")]);
        assert!(tree_entries(&sorted).is_ok());
        let file_and_dir = tree(&[("100644", "a"), ("40000", "a")]);
        for bad in [
            tree(&[
                ("100644", ".guix-authorizations"),
                ("100644", ".guix-authorizations"),
            ]),
            tree(&[("100644", "z"), ("100644", ".guix-authorizations")]),
            tree(&[("40000", "a"), ("100644", "a-b")]),
            file_and_dir,
        ] {
            assert!(tree_entries(&bad).is_err());
            assert!(find_entry(&bad, name).is_err());
        }
    }

    #[test]
    fn reproduces_libgit2_quirks() {
        let sha256_only =
            b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ngpgsig-sha256 x\n y\n\nm\n";
        assert_eq!(extract_signature(sha256_only), None);
        let unterminated = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ngpgsig a\n b";
        assert_eq!(extract_signature(unterminated), None);
        let after_nul = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\0gpgsig a\n\nm\n";
        assert_eq!(extract_signature(after_nul), None);
        let in_message = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nm\ngpgsig s\nend\n";
        let (sig, signed) = extract_signature(in_message).unwrap();
        assert_eq!(sig, b"s");
        assert_eq!(
            signed,
            b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nm\nend\n"
        );
    }
}
