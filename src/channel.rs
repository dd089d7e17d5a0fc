//! What tooling that updates a channel needs: the relation between two
//! commits, downgrade protection, and the channel's `.guix-channel`
//! metadata.

use git2::{Oid, Repository};

use crate::commit::{tree_entry, CommitObject};
use crate::error::Error;
use crate::keyring;
use crate::objects::ObjectRole;
use crate::objects::{Kind, ObjectProblem, Objects};
use crate::sexp;

/// Name of the metadata file at the root of a channel.
pub const METADATA_FILE: &str = ".guix-channel";

/// How an old commit relates to a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    /// The old commit is an ancestor of the new one: a normal update.
    Ancestor,
    /// They are the same commit.
    Same,
    /// The old commit descends from the new one: going back in history.
    Descendant,
    /// Neither descends from the other: history was rewritten or forked.
    Unrelated,
}

impl Relation {
    /// What the new commit is, relative to the old one, in words.
    pub(crate) fn describe_new(self) -> &'static str {
        match self {
            Relation::Ancestor => "a descendant of",
            Relation::Same => "the same as",
            Relation::Descendant => "an ancestor of",
            Relation::Unrelated => "unrelated to",
        }
    }
}

/// How `old` relates to `new`.
///
/// ```no_run
/// use git_authenticate::{commit_relation, Relation};
/// # fn main() -> Result<(), git_authenticate::Error> {
/// let repo = git2::Repository::open(".")?;
/// let old = repo.revparse_single("HEAD~1")?.id();
/// let new = repo.revparse_single("HEAD")?.id();
/// assert_eq!(commit_relation(&repo, old, new)?, Relation::Ancestor);
/// # Ok(()) }
/// ```
pub fn commit_relation(repo: &Repository, old: Oid, new: Oid) -> Result<Relation, Error> {
    Ok(if old == new {
        Relation::Same
    } else if repo.graph_descendant_of(new, old)? {
        Relation::Ancestor
    } else if repo.graph_descendant_of(old, new)? {
        Relation::Descendant
    } else {
        Relation::Unrelated
    })
}

/// Refuses to update from `old` to `new` unless `new` is `old` or one of its
/// descendants, or downgrades are explicitly allowed. Returns the relation.
pub fn check_update(
    repo: &Repository,
    old: Oid,
    new: Oid,
    allow_downgrades: bool,
) -> Result<Relation, Error> {
    let relation = commit_relation(repo, old, new)?;
    match relation {
        Relation::Ancestor | Relation::Same => Ok(relation),
        _ if allow_downgrades => Ok(relation),
        _ => Err(Error::Downgrade { old, new, relation }),
    }
}

/// A channel's `.guix-channel` metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelMetadata {
    /// Branch holding the channel's keys (default `keyring`). Pull tooling
    /// prefixes it with the remote name (`origin/keyring`).
    pub keyring_reference: String,
    /// Sub-directory holding the channel's modules, starting with `/`.
    pub directory: String,
    /// The news file, if any.
    pub news_file: Option<String>,
    /// The channel's primary URL, if given.
    pub url: Option<String>,
}

impl Default for ChannelMetadata {
    fn default() -> Self {
        ChannelMetadata {
            keyring_reference: keyring::DEFAULT_REFERENCE.to_owned(),
            directory: "/".to_owned(),
            news_file: None,
            url: None,
        }
    }
}

impl ChannelMetadata {
    /// Parses `(channel (version 0) (keyring-reference "…") …)`.
    pub fn parse(contents: &[u8]) -> Result<Self, String> {
        if contents.len() > crate::authorizations::MAX_SIZE {
            return Err(format!("the file has {} bytes, too many", contents.len()));
        }
        let datum = sexp::read_first(contents).map_err(|e| e.to_string())?;
        let items = sexp::list(&datum)
            .filter(|i| i.first().and_then(|v| v.as_symbol()) == Some("channel"))
            .ok_or("expected (channel (version 0) …)")?;
        let version = sexp::property(&items, "version").ok_or("no (version …) field")?;
        if version.as_u64() != Some(0) {
            return Err(format!(
                "unsupported version {version}: only (version 0) exists"
            ));
        }
        let text = |key: &str| -> Result<Option<String>, String> {
            match sexp::property(&items, key) {
                None => Ok(None),
                Some(v) => v
                    .as_str()
                    .map(|s| Some(s.to_owned()))
                    .ok_or_else(|| format!("({key} …) is not a string")),
            }
        };
        let directory = match text("directory")? {
            None => "/".to_owned(),
            Some(d) if d.starts_with('/') => d,
            Some(d) => format!("/{d}"),
        };
        Ok(ChannelMetadata {
            keyring_reference: text("keyring-reference")?
                .unwrap_or_else(|| keyring::DEFAULT_REFERENCE.to_owned()),
            directory,
            news_file: text("news-file")?,
            url: text("url")?,
        })
    }

    /// The metadata at `commit`; the defaults when it has no
    /// `.guix-channel`.
    ///
    /// Every object read is verified against its id, like those the rule
    /// reads: a hostile `.guix-channel` could name another keyring.
    pub fn at_commit(repo: &Repository, commit: Oid) -> Result<Self, Error> {
        let objects = Objects::open(repo)?;
        let tree = CommitObject::read_from(&objects, commit)?.tree;
        let Some((_, blob)) = tree_entry(&objects, commit, tree, METADATA_FILE.as_bytes())? else {
            return Ok(ChannelMetadata::default());
        };
        let malformed = |reason: String| Error::MalformedChannelMetadata {
            commit,
            blob,
            reason,
        };
        let data = match objects.read(blob, Kind::Blob) {
            Ok(data) => data,
            Err(e) if matches!(e.problem, ObjectProblem::WrongKind { .. }) => {
                return Err(malformed("it is not a regular file".into()))
            }
            Err(e) => return Err(Error::object(ObjectRole::ChannelMetadataOf(commit), e)),
        };
        Self::parse(&data).map_err(malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_metadata_with_defaults() {
        let m = ChannelMetadata::parse(
            br#";; A channel.
            (channel (version 0) (directory "src") (keyring-reference "my-keyring")
                     (dependencies (channel (name x) (url "u"))) (news-file "news.scm"))"#,
        )
        .unwrap();
        assert_eq!(m.keyring_reference, "my-keyring");
        assert_eq!(m.directory, "/src");
        assert_eq!(m.news_file.as_deref(), Some("news.scm"));
        let d = ChannelMetadata::parse(b"(channel (version 0))").unwrap();
        assert_eq!(d, ChannelMetadata::default());
    }

    #[test]
    fn refuses_other_versions_and_shapes() {
        assert!(ChannelMetadata::parse(b"(channel (version 1))")
            .unwrap_err()
            .contains("version"));
        assert!(ChannelMetadata::parse(b"(chanel (version 0))").is_err());
        assert!(ChannelMetadata::parse(b"(channel (version 0) (keyring-reference k))").is_err());
    }
}
