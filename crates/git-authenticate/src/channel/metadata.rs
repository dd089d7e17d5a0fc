//! What tooling that updates a channel needs: the relation between two
//! commits, downgrade protection, and the channel's `.guix-channel`
//! metadata.

use git2::{Oid, Repository};
use lexpr::Value;

use crate::channel::files::ChannelSpec;
use crate::channel::introduction::{Introduction, IntroductionError};
use crate::git::commit::root_entry;
use crate::git::objects::{Kind, ObjectError, ObjectProblem, ObjectRole, Objects, Unreadable};
use crate::openpgp::keyring;
use guile_reader::{self as sexp, SyntaxError};
use untrusted_text::Untrusted;

/// Name of the metadata file at the root of a channel.
pub const METADATA_FILE: &str = ".guix-channel";

/// Largest `.guix-channel` accepted, in bytes (1 MiB, as for
/// `.guix-authorizations`; real ones are a few hundred bytes).
pub(crate) const MAX_METADATA_SIZE: usize = crate::channel::authorizations::MAX_SIZE;

/// Most dependencies accepted in one `.guix-channel`. Guix has no limit,
/// but pull tooling fetches every dependency: thousands of them are an
/// attack, not a channel (real channels have a handful).
pub(crate) const MAX_DEPENDENCIES: usize = 256;

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

/// How `old` relates to `new` (Guix's `commit-relation`).
///
/// ```no_run
/// use git_authenticate::{commit_relation, Relation};
/// # fn main() -> Result<(), git2::Error> {
/// let repo = git2::Repository::open(".")?;
/// let old = repo.revparse_single("HEAD~1")?.id();
/// let new = repo.revparse_single("HEAD")?.id();
/// assert_eq!(commit_relation(&repo, old, new)?, Relation::Ancestor);
/// # Ok(()) }
/// ```
pub fn commit_relation(repo: &Repository, old: Oid, new: Oid) -> Result<Relation, git2::Error> {
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

/// Which updates a pull accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UpdatePolicy {
    /// Only to the same commit or a descendant (Guix's
    /// `ensure-forward-channel-update`, what `guix pull` does by default).
    #[default]
    ForwardOnly,
    /// Also to an ancestor or an unrelated commit (`guix pull
    /// --allow-downgrades`, where Guix only warns).
    AllowDowngrades,
}

/// Why an update is refused or could not be checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// Updating from `old` to `new` would not move forward.
    #[error(
        "refusing to update from commit {old} to {new}: the new commit is {} the old one \
         (possible downgrade attack)", relation.describe_new())]
    Downgrade {
        /// The commit currently in use.
        old: Oid,
        /// The proposed commit.
        new: Oid,
        /// How `old` relates to `new`.
        relation: Relation,
    },
    /// The history could not be walked (a commit is missing…).
    #[error("git: {}", Untrusted::new(&.0.to_string()))]
    Git(#[from] git2::Error),
}

/// Refuses to update from `old` to `new` unless `new` is `old` or one of
/// its descendants, or `policy` allows downgrades. Returns the relation.
///
/// ```no_run
/// use git_authenticate::{check_update, UpdateError, UpdatePolicy};
/// # fn main() -> Result<(), git2::Error> {
/// let repo = git2::Repository::open(".")?;
/// let old = repo.revparse_single("HEAD")?.id();
/// let new = repo.revparse_single("HEAD~1")?.id();
/// assert!(matches!(
///     check_update(&repo, old, new, UpdatePolicy::ForwardOnly),
///     Err(UpdateError::Downgrade { .. })
/// ));
/// # Ok(()) }
/// ```
pub fn check_update(
    repo: &Repository,
    old: Oid,
    new: Oid,
    policy: UpdatePolicy,
) -> Result<Relation, UpdateError> {
    let relation = commit_relation(repo, old, new)?;
    match (relation, policy) {
        (Relation::Ancestor | Relation::Same, _) | (_, UpdatePolicy::AllowDowngrades) => {
            Ok(relation)
        }
        _ => Err(UpdateError::Downgrade { old, new, relation }),
    }
}

/// A channel's `.guix-channel` metadata (Guix's `<channel-metadata>`).
///
/// ```
/// use git_authenticate::ChannelMetadata;
///
/// let metadata = ChannelMetadata::parse(br#"
///   (channel
///    (version 0)
///    (directory "src")
///    (dependencies
///     (channel
///      (name nonguix)
///      (url "https://gitlab.com/nonguix/nonguix")
///      (introduction
///       (channel-introduction
///        (version 0)
///        (commit "897c1a470da759236cc11798f4e0a5f7d4d59fbc")
///        (signer "2A39 3FFF 68F4 EF7A 3D29  12AF 6F51 20A0 22FB B2D5"))))))"#)?;
/// assert_eq!(metadata.directory, "/src");
/// assert_eq!(metadata.keyring_reference, "keyring");
/// let nonguix = &metadata.dependencies[0];
/// assert_eq!((nonguix.name.as_str(), nonguix.branch.as_str()), ("nonguix", "master"));
/// assert!(nonguix.introduction.is_some());
/// # Ok::<(), git_authenticate::ChannelMetadataError>(())
/// ```
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
    /// The channels this one needs, in order.
    pub dependencies: Vec<Dependency>,
}

/// A channel a `.guix-channel` depends on: Guix makes a `<channel>` of
/// each entry of `dependencies`.
pub type Dependency = ChannelSpec;

/// Why a `.guix-channel` is not valid metadata.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelMetadataError {
    /// Larger than [`ChannelMetadata::MAX_SIZE`].
    #[error("the file has {size} bytes, more than the {MAX_METADATA_SIZE} accepted")]
    TooLarge {
        /// Its size.
        size: usize,
    },
    /// Not readable as Scheme data.
    #[error("{0}")]
    Syntax(#[from] SyntaxError),
    /// Not `(channel (version V) …)` (Guix: "invalid '.guix-channel'
    /// file").
    #[error("expected (channel (version 0) …), found `{}`", Untrusted::new(found))]
    NotChannelMetadata {
        /// An excerpt of what was found.
        found: String,
    },
    /// `(channel (version V) …)` with V other than 0 (Guix: "unsupported
    /// '.guix-channel' version").
    #[error(
        "unsupported version `{}`: only (version 0) exists",
        Untrusted::new(version)
    )]
    UnsupportedVersion {
        /// An excerpt of the version given.
        version: String,
    },
    /// A field Guix reads cannot be used.
    #[error("`{field}`: {problem}")]
    Field {
        /// The field, as Scheme names it (`directory`, `url`…).
        field: &'static str,
        /// What is wrong with it.
        problem: FieldProblem,
    },
    /// A dependency cannot be used.
    #[error("dependency {index}: `{field}`: {problem}")]
    Dependency {
        /// Its position in `dependencies`, from 0.
        index: usize,
        /// Its field, as Scheme names it (`name`, `introduction`…).
        field: &'static str,
        /// What is wrong with it.
        problem: FieldProblem,
    },
    /// A dependency's `introduction` is not a valid introduction (Guix:
    /// "channel dependency has an invalid introduction field").
    #[error("dependency {index}: invalid introduction: {problem}")]
    DependencyIntroduction {
        /// Its position in `dependencies`, from 0.
        index: usize,
        /// What is wrong with it.
        problem: IntroductionError,
    },
    /// More than [`ChannelMetadata::MAX_DEPENDENCIES`] dependencies.
    #[error("more than {MAX_DEPENDENCIES} dependencies")]
    TooManyDependencies,
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldProblem {
    /// Required and absent (or `#f`). For a dependency's `name` or `url`,
    /// Guix's `read-channel-metadata` makes `#f` of the dependency, on
    /// which `guix pull` then fails.
    #[error("missing")]
    Missing,
    /// `(field)` or `(field . x)`: Guix takes the `first` of what follows
    /// the key, and fails.
    #[error("it has no value")]
    NoValue,
    /// The value is of the wrong kind.
    #[error("expected {expected}, found `{}`", Untrusted::new(found))]
    Expected {
        /// What it must be.
        expected: &'static str,
        /// An excerpt of what it is.
        found: String,
    },
}

impl Default for ChannelMetadata {
    /// What Guix uses for a channel without `.guix-channel`.
    fn default() -> Self {
        ChannelMetadata {
            keyring_reference: keyring::DEFAULT_REFERENCE.to_owned(),
            directory: "/".to_owned(),
            news_file: None,
            url: None,
            dependencies: Vec::new(),
        }
    }
}

/// A list read as Guix reads its fields: `(assoc-ref list key)`, the first
/// element that is a pair whose car is the symbol `key` (others, such as
/// the `channel` of a dependency, are skipped), then the `first` of what
/// follows it; `#f` (or `#nil`) meaning absent, as Guix's `and=>` and
/// `or` take it.
struct Fields<'v>(&'v Value);

impl<'v> Fields<'v> {
    /// The value of `key`: `Ok(None)` when absent or false.
    fn get(&self, key: &'static str) -> Result<Option<&'v Value>, FieldProblem> {
        let Some(rest) = self.assoc_ref(key) else {
            return Ok(None);
        };
        let value = rest.as_cons().ok_or(FieldProblem::NoValue)?.car();
        Ok((!is_false(value)).then_some(value))
    }

    /// What follows `key` in the first `(key …)` entry.
    fn assoc_ref(&self, key: &str) -> Option<&'v Value> {
        let mut rest = self.0;
        while let Some(cons) = rest.as_cons() {
            match cons.car().as_cons() {
                Some(entry) if entry.car().as_symbol() == Some(key) => return Some(entry.cdr()),
                _ => rest = cons.cdr(),
            }
        }
        None
    }

    /// The string value of `key`, if any.
    fn string(&self, key: &'static str) -> Result<Option<&'v str>, FieldProblem> {
        self.get(key)?
            .map(|v| expect(v.as_str(), "a string", v))
            .transpose()
    }
}

fn is_false(value: &Value) -> bool {
    matches!(value, Value::Bool(false) | Value::Nil)
}

fn expect<T>(value: Option<T>, expected: &'static str, found: &Value) -> Result<T, FieldProblem> {
    value.ok_or_else(|| FieldProblem::Expected {
        expected,
        found: sexp::excerpt(found),
    })
}

impl ChannelMetadata {
    /// Larger `.guix-channel` files are refused.
    pub const MAX_SIZE: usize = MAX_METADATA_SIZE;
    /// More dependencies are refused (Guix has no limit).
    pub const MAX_DEPENDENCIES: usize = MAX_DEPENDENCIES;

    /// Parses a `.guix-channel` as Guix's `read-channel-metadata` does:
    /// `(channel (version 0) FIELD …)`, each field `(KEY VALUE …)` of
    /// which only the first of each key counts, unknown ones ignored.
    ///
    /// Where Guix stores a value of the wrong kind and fails only when
    /// using it (a `keyring-reference` that is not a string, a dependency
    /// without a name), this refuses the file.
    pub fn parse(contents: &[u8]) -> Result<Self, ChannelMetadataError> {
        if contents.len() > MAX_METADATA_SIZE {
            return Err(ChannelMetadataError::TooLarge {
                size: contents.len(),
            });
        }
        let datum = sexp::read_first(contents)?;
        let properties = version_0_properties(&datum)?;
        let fields = Fields(properties);
        let field =
            |field: &'static str| move |problem| ChannelMetadataError::Field { field, problem };
        let text = |key: &'static str| fields.string(key).map_err(field(key));
        let directory = match text("directory")? {
            None => "/".to_owned(),
            Some(d) if d.starts_with('/') => d.to_owned(),
            Some(d) => format!("/{d}"),
        };
        Ok(ChannelMetadata {
            keyring_reference: text("keyring-reference")?
                .unwrap_or(keyring::DEFAULT_REFERENCE)
                .to_owned(),
            directory,
            news_file: text("news-file")?.map(str::to_owned),
            url: text("url")?.map(str::to_owned),
            dependencies: dependencies(&fields)?,
        })
    }

    /// The metadata at `commit`; the defaults when it has no
    /// `.guix-channel`.
    ///
    /// Every object read is verified against its id, like those the rule
    /// reads: a hostile `.guix-channel` could name another keyring.
    pub fn at_commit(repo: &Repository, commit: Oid) -> Result<Self, MetadataError> {
        let objects = Objects::open(repo)?;
        let Some((_, blob)) = root_entry(&objects, commit, METADATA_FILE.as_bytes())? else {
            return Ok(ChannelMetadata::default());
        };
        let malformed = |problem| MetadataError::Malformed {
            commit,
            blob,
            problem,
        };
        // Read no more than a `.guix-channel` may hold.
        let data = match objects.read_any(blob, MAX_METADATA_SIZE as u64) {
            Ok((Kind::Blob, data)) => data,
            Ok(_) => return Err(malformed(MetadataProblem::NotAFile)),
            Err(ObjectProblem::TooLarge {
                kind: Kind::Blob,
                size,
                ..
            }) => {
                let size = usize::try_from(size).unwrap_or(usize::MAX);
                let too_large = ChannelMetadataError::TooLarge { size };
                return Err(malformed(MetadataProblem::Invalid(too_large)));
            }
            // A large directory or submodule stands there.
            Err(ObjectProblem::TooLarge { .. }) => {
                return Err(malformed(MetadataProblem::NotAFile))
            }
            Err(problem) => {
                let source = ObjectError {
                    id: blob,
                    kind: Kind::Blob,
                    problem,
                };
                return Err(source.as_role(ObjectRole::ChannelMetadataOf(commit)).into());
            }
        };
        Self::parse(&data).map_err(|e| malformed(MetadataProblem::Invalid(e)))
    }
}

/// The fields after `(version 0)`, matching `read-channel-metadata`'s
/// patterns in order.
fn version_0_properties(datum: &Value) -> Result<&Value, ChannelMetadataError> {
    let not_metadata = || ChannelMetadataError::NotChannelMetadata {
        found: sexp::excerpt(datum),
    };
    let items = sexp::list(datum)
        .filter(|items| items.first().and_then(|v| v.as_symbol()) == Some("channel"))
        .ok_or_else(not_metadata)?;
    let version = items
        .get(1)
        .and_then(|v| sexp::list(v))
        .and_then(|pair| match pair[..] {
            [key, version] if key.as_symbol() == Some("version") => Some(version),
            _ => None,
        })
        .ok_or_else(not_metadata)?;
    if version.as_u64() != Some(0) {
        return Err(ChannelMetadataError::UnsupportedVersion {
            version: sexp::excerpt(version),
        });
    }
    let after_version = datum.as_cons().and_then(|c| c.cdr().as_cons());
    Ok(after_version.expect("a list of two or more").cdr())
}

/// The `dependencies`, each read as `read-channel-metadata` reads it.
fn dependencies(fields: &Fields<'_>) -> Result<Vec<Dependency>, ChannelMetadataError> {
    let problem = |problem| ChannelMetadataError::Field {
        field: "dependencies",
        problem,
    };
    // `(or (assoc-ref properties 'dependencies) '())`: the whole rest of
    // the entry, which Guix then `map`s over.
    let Some(entries) = fields.assoc_ref("dependencies").filter(|v| !is_false(v)) else {
        return Ok(Vec::new());
    };
    let entries = sexp::list(entries).ok_or_else(|| {
        problem(FieldProblem::Expected {
            expected: "a list of channels",
            found: sexp::excerpt(entries),
        })
    })?;
    if entries.len() > MAX_DEPENDENCIES {
        return Err(ChannelMetadataError::TooManyDependencies);
    }
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| dependency(index, entry))
        .collect()
}

/// One dependency: `name` and `url` required (a symbol and a string),
/// `branch` defaulting to `master`, `commit` and `introduction` optional.
/// The entry's head is not looked at, as in Guix.
fn dependency(index: usize, entry: &Value) -> Result<Dependency, ChannelMetadataError> {
    let fields = Fields(entry);
    let at = |field: &'static str| {
        move |problem| ChannelMetadataError::Dependency {
            index,
            field,
            problem,
        }
    };
    let required = |key: &'static str| {
        fields
            .get(key)
            .and_then(|v| v.ok_or(FieldProblem::Missing))
            .map_err(at(key))
    };
    let name = required("name")?;
    let name = expect(name.as_symbol(), "a symbol", name).map_err(at("name"))?;
    let url = required("url")?;
    let url = expect(url.as_str(), "a string", url).map_err(at("url"))?;
    let introduction =
        match fields.get("introduction").map_err(at("introduction"))? {
            None => None,
            Some(form) => Some(Introduction::from_data_form(form).map_err(|problem| {
                ChannelMetadataError::DependencyIntroduction { index, problem }
            })?),
        };
    Ok(Dependency {
        name: name.to_owned(),
        url: url.to_owned(),
        branch: fields
            .string("branch")
            .map_err(at("branch"))?
            .unwrap_or("master")
            .to_owned(),
        commit: fields
            .string("commit")
            .map_err(at("commit"))?
            .map(str::to_owned),
        introduction,
    })
}

/// Why the `.guix-channel` of a commit cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// The file is there and is not valid metadata.
    #[error("commit {commit} has a malformed '.guix-channel' (blob {blob}): {problem}")]
    Malformed {
        /// The commit.
        commit: Oid,
        /// The object at `.guix-channel`.
        blob: Oid,
        /// What is wrong with it.
        problem: MetadataProblem,
    },
    /// An object could not be read (missing from a partial clone,
    /// altered…): whether there is metadata is unknown.
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    /// The repository's object database could not be opened.
    #[error("git: {}", Untrusted::new(&.0.to_string()))]
    Git(#[from] git2::Error),
}

/// What is wrong with the `.guix-channel` of a commit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataProblem {
    /// It is not a regular file (a directory, a submodule).
    #[error("it is not a regular file")]
    NotAFile,
    /// Its contents are not valid metadata.
    #[error(transparent)]
    Invalid(#[from] ChannelMetadataError),
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
        assert_eq!(m.dependencies[0].name, "x");
        let d = ChannelMetadata::parse(b"(channel (version 0))").unwrap();
        assert_eq!(d, ChannelMetadata::default());
    }

    #[test]
    fn refuses_other_versions_and_shapes() {
        assert!(matches!(
            ChannelMetadata::parse(b"(channel (version 1))"),
            Err(ChannelMetadataError::UnsupportedVersion { .. })
        ));
        assert!(matches!(
            ChannelMetadata::parse(b"(chanel (version 0))"),
            Err(ChannelMetadataError::NotChannelMetadata { .. })
        ));
        assert!(matches!(
            ChannelMetadata::parse(b"(channel (version 0) (keyring-reference k))"),
            Err(ChannelMetadataError::Field {
                field: "keyring-reference",
                ..
            })
        ));
        assert!(matches!(
            ChannelMetadata::parse(b"(channel (version 0) (directory))"),
            Err(ChannelMetadataError::Field {
                problem: FieldProblem::NoValue,
                ..
            })
        ));
    }
}
