//! Replacement objects and grafts: where git and this library would see
//! different histories.
//!
//! The objects are read here with libgit2, which ignores replace refs
//! (`refs/replace/<id>`, see git-replace(1)). Git honours them in every
//! command but fsck, prune and object transfer, so an authentic history can
//! be checked out, built or shown as the replacement's content: what was
//! authenticated is not what is used. The same goes for the deprecated
//! grafts file (`$GIT_DIR/info/grafts`, see gitrepository-layout(5)), which
//! rewrites parents. `git clone --mirror` copies replace refs.
//!
//! [`check`] refuses a repository in which git would substitute objects,
//! unless the caller says it never lets git look objects up
//! ([`ReplaceObjects::Ignore`]).

use std::path::{Path, PathBuf};

use git2::Repository;

use crate::git::input::{self, InputError};
use untrusted_text::Untrusted;

/// What to do when git would substitute objects (replace refs or grafts)
/// in the repository being authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplaceObjects {
    /// Refuse to authenticate ([`SubstitutionError::Substituted`]): the history git
    /// shows and checks out could differ from the authenticated one.
    #[default]
    Refuse,
    /// Authenticate anyway: for tooling that never uses git's own object
    /// lookup / checkout, only this library's reading of the objects.
    Ignore,
}

/// How many replaced ids an error names; the count says how many more.
pub const NAMED: usize = 5;

/// The grafts file is read up to this many bytes; a larger one is taken to
/// graft something.
const GRAFTS_READ_LIMIT: usize = 1 << 20;

/// What git would substitute: replace refs and grafts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Substitutions {
    /// The ids replaced by replace refs (the first five, in ref order).
    pub replaced: Vec<String>,
    /// How many replace refs git would use.
    pub replace_refs: usize,
    /// The grafts file, when it grafts anything.
    pub grafts: Option<PathBuf>,
}

impl Substitutions {
    /// What git would substitute in `repo` with environment `env`.
    pub fn find(repo: &Repository, env: &GitEnvironment) -> Result<Substitutions, git2::Error> {
        let mut found = Substitutions::default();
        if uses_replace_refs(repo, env)? {
            let base = env.replace_ref_base.as_deref().unwrap_or("refs/replace/");
            for name in repo.references()?.names() {
                // A name that is not UTF-8 cannot end in a hex id.
                let Ok(name) = name else { continue };
                if let Some(id) = replaced_id(name, base) {
                    if found.replaced.len() < NAMED {
                        found.replaced.push(id.to_owned());
                    }
                    found.replace_refs += 1;
                }
            }
        }
        let grafts = env
            .graft_file
            .clone()
            .unwrap_or_else(|| repo.commondir().join("info/grafts"));
        if grafts_anything(&grafts) {
            found.grafts = Some(grafts);
        }
        Ok(found)
    }

    /// Whether git would substitute nothing.
    pub fn is_empty(&self) -> bool {
        self.replace_refs == 0 && self.grafts.is_none()
    }
}

/// The environment variables through which git decides whether and where
/// to look for substitutions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitEnvironment {
    /// `GIT_NO_REPLACE_OBJECTS` is set (to anything, even empty): git uses
    /// no replace refs. Grafts are still honoured.
    pub no_replace_objects: bool,
    /// `GIT_REPLACE_REF_BASE`: the prefix of replace refs (default
    /// `refs/replace/`).
    pub replace_ref_base: Option<String>,
    /// `GIT_GRAFT_FILE`: where the grafts file is (default
    /// `$GIT_COMMON_DIR/info/grafts`).
    pub graft_file: Option<PathBuf>,
}

impl GitEnvironment {
    /// This process's environment, as git run from here would see it.
    pub fn from_process() -> Self {
        GitEnvironment {
            no_replace_objects: std::env::var_os("GIT_NO_REPLACE_OBJECTS").is_some(),
            replace_ref_base: std::env::var("GIT_REPLACE_REF_BASE").ok(),
            graft_file: std::env::var_os("GIT_GRAFT_FILE").map(PathBuf::from),
        }
    }
}

/// Git would substitute objects: what it shows could differ from what is
/// authenticated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubstitutionError {
    /// Replace refs or grafts that git would use.
    #[error("git would substitute objects in this repository, so what it checks out could \
             differ from what is authenticated: {}",
            describe(replaced, *replace_refs, grafts.as_deref()))]
    Substituted {
        /// The first few ids that replace refs replace.
        replaced: Vec<String>,
        /// How many replace refs git would use.
        replace_refs: usize,
        /// The grafts file, when it grafts anything.
        grafts: Option<std::path::PathBuf>,
    },
    /// The repository's configuration or references cannot be read.
    #[error("git: {}", Untrusted::new(&.0.to_string()))]
    Git(#[from] git2::Error),
}

/// Refuses `repo` when git run in this process's environment would
/// substitute objects, unless `mode` is [`ReplaceObjects::Ignore`].
pub fn check(repo: &Repository, mode: ReplaceObjects) -> Result<(), SubstitutionError> {
    if mode == ReplaceObjects::Ignore {
        return Ok(());
    }
    let found = Substitutions::find(repo, &GitEnvironment::from_process())?;
    if found.is_empty() {
        return Ok(());
    }
    Err(SubstitutionError::Substituted {
        replaced: found.replaced,
        replace_refs: found.replace_refs,
        grafts: found.grafts,
    })
}

/// `core.useReplaceRefs` (default true) unless `GIT_NO_REPLACE_OBJECTS`.
/// A value git would reject counts as true: git then refuses to run, and
/// nothing here depends on it.
fn uses_replace_refs(repo: &Repository, env: &GitEnvironment) -> Result<bool, git2::Error> {
    if env.no_replace_objects {
        return Ok(false);
    }
    let config = repo.config()?.snapshot()?;
    Ok(config.get_bool("core.useReplaceRefs").unwrap_or(true))
}

/// The id a replace ref replaces, as git reads it: the ref's last path
/// component must start with a full object id; what follows is ignored
/// (git's `register_replace_ref`).
fn replaced_id<'a>(name: &'a str, base: &str) -> Option<&'a str> {
    let rest = name.strip_prefix(base)?;
    let last = rest.rsplit('/').next().unwrap_or(rest);
    let id = last.get(..40)?;
    id.bytes().all(|b| b.is_ascii_hexdigit()).then_some(id)
}

/// Whether the grafts file at `path` has a graft: a line that is neither
/// empty nor a `#` comment. A missing file grafts nothing; one that cannot
/// be read through (too large, not a regular file, unreadable) is assumed
/// to graft something, since what git makes of it cannot be known here.
fn grafts_anything(path: &Path) -> bool {
    match input::read_regular_file(path, GRAFTS_READ_LIMIT) {
        Ok(text) => text
            .split(|&b| b == b'\n')
            .any(|line| !line.is_empty() && line[0] != b'#'),
        Err(InputError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(_) => true,
    }
}

/// What git would substitute, for the error's message: "2 replace refs
/// (of A, B) and the grafts file `PATH`".
pub(crate) fn describe(replaced: &[String], replace_refs: usize, grafts: Option<&Path>) -> String {
    let mut parts = Vec::new();
    if replace_refs > 0 {
        let more = replace_refs - replaced.len();
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        let plural = if replace_refs == 1 { "" } else { "s" };
        parts.push(format!(
            "{replace_refs} replace ref{plural} (replacing {}{more})",
            replaced.join(", ")
        ));
    }
    if let Some(path) = grafts {
        parts.push(format!("the grafts file `{}`", path.display()));
    }
    parts.join(" and ")
}

/// What to do about substitutions, for the error's hint.
pub(crate) fn hint(replaced: &[String], replace_refs: usize, grafts: Option<&Path>) -> String {
    let mut steps = Vec::new();
    if replace_refs > 0 {
        let ids = if replace_refs == replaced.len() {
            replaced.join(" ")
        } else {
            "ID...".to_owned()
        };
        steps.push(format!(
            "delete the replace refs (`git replace -d {ids}`; `git replace -l` lists them)"
        ));
    }
    if let Some(path) = grafts {
        steps.push(format!("remove the grafts file `{}`", path.display()));
    }
    let mut hint = steps.join(" and ");
    if replace_refs > 0 && grafts.is_none() {
        hint.push_str(
            ", or, if this checkout is never used by git (only its objects are read), \
             run with GIT_NO_REPLACE_OBJECTS=1",
        );
    }
    hint
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn replace_ref_names_as_git_reads_them() {
        let base = "refs/replace/";
        assert_eq!(replaced_id(&format!("refs/replace/{ID}"), base), Some(ID));
        // Trailing text and intermediate directories are ignored by git.
        assert_eq!(replaced_id(&format!("refs/replace/{ID}x"), base), Some(ID));
        assert_eq!(replaced_id(&format!("refs/replace/a/{ID}"), base), Some(ID));
        assert_eq!(replaced_id(&format!("refs/heads/{ID}"), base), None);
        assert_eq!(replaced_id("refs/replace/0123", base), None);
        assert_eq!(replaced_id(&format!("refs/replace/{ID}/x"), base), None);
        // Non-ASCII text cannot be sliced in the middle of a character.
        assert_eq!(
            replaced_id("refs/replace/ééééééééééééééééééééé", base),
            None
        );
        // The base is a plain prefix, with or without a slash.
        assert_eq!(replaced_id(&format!("refs/r/{ID}"), "refs/r"), Some(ID));
    }

    #[test]
    fn hints_name_what_to_do() {
        let one = hint(&[ID.to_owned()], 1, None);
        assert!(one.contains(&format!("git replace -d {ID}")), "{one}");
        assert!(one.contains("GIT_NO_REPLACE_OBJECTS=1"), "{one}");
        let grafts = hint(&[], 0, Some(Path::new("/r/info/grafts")));
        assert!(grafts.contains("/r/info/grafts"), "{grafts}");
        // The environment variable does not disable grafts.
        assert!(!grafts.contains("GIT_NO_REPLACE_OBJECTS"), "{grafts}");
        let many = hint(&[ID.to_owned()], 7, None);
        assert!(many.contains("git replace -d ID..."), "{many}");
    }
}
