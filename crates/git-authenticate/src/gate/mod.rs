//! The gatekeeper: whether a push may land on a server, decided as Guix
//! would decide whether users may pull it.
//!
//! A server runs this from its `pre-receive` hook (the whole push at once)
//! or its `update` hook (one ref at a time). Each ref is decided as the
//! ref git updates: when the pushed name is a symbolic ref on the server
//! (`main` → `master`), as its target ([`RefDecision::updated`]). For each:
//!
//! - a branch: its new tip must be authentic from the introduction the
//!   server's configuration gives for that branch
//!   ([`ServerConfiguration::branch`]); a branch matching
//!   [`ServerConfiguration::protected_branches`] may only move forward, is
//!   never deleted, and its tip keeps `.guix-authorizations` (Guix refuses
//!   every child of a commit removing it); a branch whose name differs only
//!   in case from a protected or keyring one is refused, as a case-folding
//!   file system would make them one file;
//! - a keyring branch (any of [`ServerConfiguration::keyring_branches`]:
//!   the command lists those `guix.authentication[-BRANCH].keyring` names,
//!   default `keyring`): not authenticated (as in Guix), but it only
//!   moves forward, is never deleted, every key file at its new tip must
//!   load, since one broken key file breaks every user's pull, and every key
//!   its old tip held must still be there (unless
//!   [`ServerConfiguration::allow_key_removal`]). When it
//!   is also the server's default branch (HEAD), which users clone and
//!   pull, it is authenticated as well: `guix pull` authenticates the
//!   branch it pulls, whatever holds the keys;
//! - a tag: the commit it names must be authentic;
//! - `refs/replace/*`: refused, as git would then substitute objects, and
//!   every later authentication on the server would fail;
//! - any other ref (`refs/notes/*`, a forge's `refs/pull/*`): not checked,
//!   as users do not fetch them; a branch or tag made from them later is.
//!
//! # What counts as known to be authentic
//!
//! Only commits the gate itself authenticated, remembered in the server's
//! own cache ([`gate_cache`], inside the repository's git directory, used
//! only if the pusher cannot write it). Branch tips are never trusted as such: a
//! branch pushed before the gate was installed, or by anything that
//! bypasses hooks, was never checked. The first push after installation
//! therefore authenticates from the introduction; later ones only check
//! what is new.
//!
//! A push's new tips are recorded only once every ref of it is accepted
//! ([`PushDecision::record`]), so that nothing a refused push brought is
//! remembered. Git may still fail to update a ref afterwards (another push
//! won the race): the recorded commit is then authentic all the same, as
//! authenticity is a property of the commit and its history, whose ids
//! name their contents, and a cached commit the repository lacks is
//! ignored. The cache takes a lock and is replaced atomically, so
//! concurrent pushes neither corrupt it nor lose entries.
//!
//! Keyring branches are decided first: the other refs of the push are
//! checked with the keys of an accepted keyring update, as users will
//! fetch both.
//!
//! The new objects are, during `pre-receive`, only in git's quarantine
//! directory: open the repository from git's environment
//! ([`git2::Repository::open_from_env`]), which names it.

mod pattern;
mod rules;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use git2::{ObjectType, Oid, Repository};

use crate::authenticate::{authenticate, Options};
use crate::cache::{Cache, CacheWarning, Conditions};
use crate::channel::configuration::Configuration;
use crate::channel::introduction::{Introduction, IntroductionError};
use crate::channel::metadata::{commit_relation, Relation};
use crate::openpgp::fingerprint::Fingerprint;
use crate::openpgp::keyring::KeyringError;
use crate::openpgp::keyring::{self, Keyring};
use crate::verdict::error::Error;
use crate::verdict::failure::Failure;
use crate::verdict::report::NoProgress;
use untrusted_text::Untrusted;

pub use pattern::{BranchPattern, BranchPatternError};

/// The git configuration key that lets a keyring update drop keys
/// ([`ServerConfiguration::allow_key_removal`]), named in the refusal.
pub const ALLOW_KEY_REMOVAL: &str = "guix.authentication.allow-key-removal";

/// How many of the keys a keyring update drops are named in its refusal.
const REMOVED_KEYS_SHOWN: usize = 5;

/// One ref a push updates, as git tells hooks: `OLD NEW REF`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    /// The ref's full name (`refs/heads/master`).
    pub name: String,
    /// Its value before the push; `None` when the push creates it.
    pub old: Option<Oid>,
    /// Its value after the push; `None` when the push deletes it.
    pub new: Option<Oid>,
}

/// Why a line of a hook's input is not `OLD NEW REF`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateLineError {
    /// The line does not have three fields separated by single spaces.
    #[error("line {line}: expected `OLD NEW REF`")]
    Fields {
        /// The line number, from 1.
        line: usize,
    },
    /// An id is not 40 hexadecimal digits.
    #[error("line {line}: `{}` is not a full object id", Untrusted::new(value))]
    Id {
        /// The line number, from 1.
        line: usize,
        /// What stood there.
        value: String,
    },
    /// A ref name is not UTF-8. Git allows such names; the gate, which
    /// matches branch names and patterns as text, refuses them rather
    /// than judge a name it cannot read.
    #[error(
        "line {line}: ref name `{}` is not UTF-8: git allows it, this gate refuses it \
         (push it under a UTF-8 name)",
        Untrusted::bytes(name)
    )]
    NotUtf8 {
        /// The line number, from 1.
        line: usize,
        /// The name, as pushed.
        name: Vec<u8>,
    },
    /// More lines than [`MAX_UPDATES`].
    #[error("more than {limit} refs in one push")]
    TooMany {
        /// [`MAX_UPDATES`].
        limit: usize,
    },
}

/// The most failures a refused ref keeps ([`Refusal::NotAuthentic`]):
/// the pusher fixes the oldest first, and is told how many there are.
pub const MAX_FAILURES_KEPT: usize = 20;

/// The most refs one push may update: git has no limit, but a push that
/// updates more than this is no channel maintainer's.
pub const MAX_UPDATES: usize = 100_000;

impl RefUpdate {
    /// Parses what git feeds a pre-receive hook: one `OLD NEW REF` line per
    /// ref, the all-zero id standing for a ref that does not exist.
    ///
    /// ```
    /// use git_authenticate::gate::RefUpdate;
    /// let zero = "0".repeat(40);
    /// let new = "1".repeat(40);
    /// let updates = RefUpdate::parse_lines(&format!("{zero} {new} refs/heads/master\n")).unwrap();
    /// assert_eq!(updates[0].name, "refs/heads/master");
    /// assert!(updates[0].old.is_none());
    /// ```
    ///
    /// The input is bytes, as git writes it: a ref name that is not UTF-8
    /// is refused by name ([`UpdateLineError::NotUtf8`]), never read
    /// loosely nor with the whole input unnamed.
    pub fn parse_lines(input: impl AsRef<[u8]>) -> Result<Vec<RefUpdate>, UpdateLineError> {
        let lines = input
            .as_ref()
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter(|l| !l.is_empty());
        let mut updates = Vec::new();
        for (index, line) in lines.enumerate() {
            if updates.len() == MAX_UPDATES {
                return Err(UpdateLineError::TooMany { limit: MAX_UPDATES });
            }
            let line_number = index + 1;
            let mut fields = line.splitn(3, |&b| b == b' ');
            let (Some(old), Some(new), Some(name)) = (fields.next(), fields.next(), fields.next())
            else {
                return Err(UpdateLineError::Fields { line: line_number });
            };
            let text = |field: &[u8]| String::from_utf8_lossy(field).into_owned();
            let name = std::str::from_utf8(name).map_err(|_| UpdateLineError::NotUtf8 {
                line: line_number,
                name: name.to_vec(),
            })?;
            let update = RefUpdate::new(name, &text(old), &text(new));
            updates.push(update.map_err(|value| UpdateLineError::Id {
                line: line_number,
                value,
            })?);
        }
        Ok(updates)
    }

    /// The update of `name` from `old` to `new`, as an update hook's
    /// arguments give them; `Err` holds an id that is not 40 hex digits.
    pub fn new(name: &str, old: &str, new: &str) -> Result<RefUpdate, String> {
        let id = |hex: &str| -> Result<Option<Oid>, String> {
            let valid = hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit());
            let oid = Oid::from_str(hex).ok().filter(|_| valid);
            match oid {
                Some(oid) if oid.is_zero() => Ok(None),
                Some(oid) => Ok(Some(oid)),
                None => Err(hex.to_owned()),
            }
        };
        Ok(RefUpdate {
            name: name.to_owned(),
            old: id(old)?,
            new: id(new)?,
        })
    }
}

/// What a ref is to the gate.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target<'a> {
    Branch(&'a str),
    Keyring(&'a str),
    Tag,
    Replace,
    /// A name whose namespace differs only in case from `refs/heads/`,
    /// `refs/tags/` or `refs/replace/` (`refs/Heads/master`): on a
    /// case-folding file system git would update the ref named here.
    Folded(String),
    Other,
}

/// The outcome for one ref.
#[derive(Debug)]
pub enum Verdict {
    /// The update may land.
    Accepted(Acceptance),
    /// It may not; the push is refused.
    Refused(Refusal),
}

/// Why an update may land.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Acceptance {
    /// The commit (for a tag, the one it names) is authentic.
    Authentic {
        /// That commit.
        commit: Oid,
        /// The introduction it was authenticated from.
        introduction: Introduction,
        /// How many commits were checked: the new ones.
        checked: usize,
    },
    /// The keyring branch moves forward, and every key file loads.
    Keyring {
        /// How many keys it holds.
        keys: usize,
    },
    /// A deletion of a ref that is not protected.
    Deleted,
    /// A ref outside `refs/heads/` and `refs/tags/`, which users do not
    /// fetch.
    Unchecked,
}

/// Why an update may not land.
#[derive(Debug)]
#[non_exhaustive]
pub enum Refusal {
    /// The new commit is not authentic.
    NotAuthentic {
        /// The oldest failures, oldest first: at most
        /// [`MAX_FAILURES_KEPT`], so that a push of a million unsigned
        /// commits is told in a few lines.
        failures: Vec<Failure>,
        /// How many failures there are in all.
        total: usize,
    },
    /// A protected branch (or the keyring branch) would not move forward.
    NotFastForward {
        /// How the old tip relates to the new one.
        relation: Relation,
        /// Whether they have a common ancestor: the new tip diverged from
        /// the old history, rather than being unrelated to it.
        shares_history: bool,
    },
    /// A protected branch (or the keyring branch) would be deleted.
    ProtectedDeletion,
    /// A key file on the new keyring tip does not load.
    BrokenKeyring(KeyringError),
    /// Keys the old keyring tip held are gone from the new one: every
    /// commit they sign would fail users' pulls with a missing key
    /// (allowed by [`ServerConfiguration::allow_key_removal`]).
    KeysRemoved {
        /// Their fingerprints (primary keys and subkeys).
        removed: Vec<Fingerprint>,
    },
    /// The new tip of a protected branch removes `.guix-authorizations`:
    /// Guix accepts it but refuses every commit made on top of it, so the
    /// branch could never move again.
    RemovesAuthorizations,
    /// The branch differs only in case from a protected or keyring branch
    /// (or pattern), the tag from another tag, or the ref's namespace
    /// from `refs/heads/`, `refs/tags/` or `refs/replace/`: on a
    /// case-folding file system both would be one file.
    CaseCollision {
        /// The protected or keyring branch (or pattern), or the tag, in
        /// full.
        guarded: String,
    },
    /// The pushed ref is a symbolic ref whose chain is too long or loops.
    SymbolicRefLoop {
        /// The last name reached.
        last: String,
    },
    /// The pushed ref is a symbolic ref to a name that is not UTF-8 (git
    /// allows it): the gate, whose rules are text, cannot judge it.
    SymbolicRefNotUtf8 {
        /// The name it leads to, as the server has it.
        target: Vec<u8>,
    },
    /// A branch would point at something that is not a commit, or a tag at
    /// something that names no commit.
    NotACommit {
        /// The object.
        id: Oid,
        /// What it is (`tree`, `blob`, `tag`).
        kind: String,
    },
    /// A replace ref: git would substitute objects.
    ReplaceRef,
    /// No introduction is configured for the ref.
    NoIntroduction,
    /// The configured introduction is malformed.
    InvalidIntroduction(IntroductionError),
    /// The update could not be checked (an unreadable object, no keyring).
    CouldNotCheck(Error),
}

impl Refusal {
    /// Whether the update was refused because it could not be checked (no
    /// introduction, an unreadable object), rather than found wanting.
    pub fn could_not_check(&self) -> bool {
        matches!(
            self,
            Refusal::CouldNotCheck(_) | Refusal::NoIntroduction | Refusal::InvalidIntroduction(_)
        )
    }
}

impl Verdict {
    /// Whether the update may land.
    pub fn is_accepted(&self) -> bool {
        matches!(self, Verdict::Accepted(_))
    }
}

/// One ref's update and its verdict.
#[derive(Debug)]
pub struct RefDecision {
    /// The update.
    pub update: RefUpdate,
    /// The ref git updates when the pushed one is a symbolic ref to it on
    /// the server (`refs/heads/master` for a push to `refs/heads/main`):
    /// the verdict is on this one.
    pub updated: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
}

/// The verdicts on every ref of a push.
#[derive(Debug)]
pub struct PushDecision {
    /// One per ref, in the order git gave them.
    pub refs: Vec<RefDecision>,
    /// What the accepted commits were authenticated under, as the cache
    /// records it.
    pub conditions: Conditions,
}

impl PushDecision {
    /// Whether the whole push may land: every ref is accepted.
    pub fn is_accepted(&self) -> bool {
        self.refs.iter().all(|r| r.verdict.is_accepted())
    }

    /// Remembers the authenticated commits in the server's cache, so that
    /// later pushes only check what they add; only if the whole push is
    /// accepted (see the module's documentation for why doing it before
    /// git updates the refs is harmless). Returns the cache's warnings.
    pub fn record(&self, repo: &Repository) -> Vec<CacheWarning> {
        if !self.is_accepted() {
            return Vec::new();
        }
        let mut warnings = Vec::new();
        // Each commit once: recording takes a lock and writes the file,
        // and a push of many refs often names the same commit many times.
        let mut recorded = std::collections::HashSet::new();
        for (commit, introduction) in self.authenticated() {
            if !recorded.insert((commit, introduction.commit)) {
                continue;
            }
            match gate_cache(repo, introduction) {
                Ok(cache) => warnings.extend(cache.record(
                    commit,
                    introduction.commit,
                    &self.conditions,
                    &[],
                )),
                // The key is made of an id and base64: always valid.
                Err(_) => continue,
            }
        }
        warnings
    }

    fn authenticated(&self) -> impl Iterator<Item = (Oid, &Introduction)> {
        self.refs.iter().filter_map(|r| match &r.verdict {
            Verdict::Accepted(Acceptance::Authentic {
                commit,
                introduction,
                ..
            }) => Some((*commit, introduction)),
            _ => None,
        })
    }
}

/// How the gate authenticates.
#[derive(Debug, Clone, Default)]
pub struct GateOptions {
    /// Threads checking commits (0: one per core).
    pub jobs: usize,
    /// Guix's rule, or the stricter policy.
    pub policy: crate::Policy,
    /// The authorizations of commits whose parents have none.
    pub historical_authorizations: crate::Authorizations,
}

/// The server's cache of commits the gate authenticated from
/// `introduction`: `git-authenticate/gate/INTRODUCTION` inside the
/// repository's git directory, apart from the caches of ordinary runs.
///
/// The git directory is the cache's root: the cache is used only when the
/// hook's user owns it and neither group nor others can write it, as for
/// any cache (see [`Cache`]). Whoever can write the cache can have any
/// commit accepted; a pusher who can write the git directory (a shared
/// repository, hooks run as each pusher) could as well write its refs, so
/// there the cache is not trusted, and every push is checked from the
/// introduction (with a warning naming the directory).
pub fn gate_cache(repo: &Repository, introduction: &Introduction) -> Result<Cache, Error> {
    Ok(Cache::in_directory(
        repo.path(),
        &format!("git-authenticate/gate/{}", introduction.commit),
    )?)
}

/// What the server's configuration says, as the command reads it from
/// git's configuration (the library reads none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerConfiguration {
    /// The introduction and keyring of tags, and of branches not in
    /// [`ServerConfiguration::branches`] (`guix.authentication.*`).
    pub default: Configuration,
    /// Those of each branch that has its own (`master`, for the
    /// `guix.authentication-master` section, its missing values taken from
    /// `default`).
    pub branches: BTreeMap<String, Configuration>,
    /// The branches that may only move forward and are never deleted
    /// (`guix.authentication.protected-branch`), names or patterns.
    pub protected_branches: Vec<BranchPattern>,
    /// The keyring branches' names on the server (`keyring`): never
    /// authenticated, but only moving forward, with every key file loading.
    pub keyring_branches: Vec<String>,
    /// Whether a keyring update may drop keys that its old tip held
    /// ([`ALLOW_KEY_REMOVAL`]); refused otherwise, as every commit they
    /// signed would then fail to authenticate.
    pub allow_key_removal: bool,
}

impl ServerConfiguration {
    /// The introduction and keyring for `branch` (`master`), or for a tag
    /// (`None`).
    pub fn branch(&self, branch: Option<&str>) -> &Configuration {
        branch
            .and_then(|b| self.branches.get(b))
            .unwrap_or(&self.default)
    }

    /// Whether `branch` is listed as protected.
    pub fn is_protected(&self, branch: &str) -> bool {
        self.protected_branches.iter().any(|p| p.matches(branch))
    }

    /// Whether `branch` is a keyring branch.
    pub fn is_keyring(&self, branch: &str) -> bool {
        self.keyring_branches.iter().any(|k| k == branch)
    }

    /// The protected or keyring branch (or pattern) from which `branch`
    /// differs only in case, if any.
    fn case_collision(&self, branch: &str) -> Option<String> {
        let folded = pattern::fold_case(branch);
        let keyring = self
            .keyring_branches
            .iter()
            .find(|k| *k != branch && pattern::fold_case(k) == folded)
            .map(|k| format!("refs/heads/{k}"));
        let protected = || {
            self.protected_branches
                .iter()
                .find(|p| !p.matches(branch) && p.matches_ignoring_case(branch))
                .map(ToString::to_string)
        };
        keyring.or_else(protected)
    }
}

/// The gate of one repository, given its configuration.
pub struct Gate<'r> {
    repo: &'r Repository,
    options: GateOptions,
    configuration: ServerConfiguration,
    /// Commits accepted earlier in this push, by introduction commit: a new
    /// branch pushed with its base costs only its own commits.
    accepted: Vec<(Oid, Oid)>,
    /// The new tips of keyring branches this push moves, once accepted:
    /// the keys its other refs are checked with, as users will fetch them.
    keyrings: Vec<(String, Oid)>,
    /// The server's protected and keyring branches by case-folded name,
    /// listed on first need.
    guarded: Option<rules::FoldedNames>,
    /// The server's tags, and those this push creates, by case-folded
    /// name; listed on first need.
    tags: Option<rules::FoldedNames>,
    /// The server's branches and tags that are symbolic refs, by the ref
    /// they reach; listed on first need.
    aliases: Option<HashMap<String, Vec<String>>>,
    /// The branches protected through a protected alias, listed on first
    /// need.
    aliased_protected: Option<HashSet<String>>,
    /// Keyrings loaded during this push, by the commit they were loaded
    /// at (a keyring branch's tip on the server, or one the push brings),
    /// each once however many refs it checks: a keyring of 100,000 keys
    /// takes a second to load. A keyring that does not load is kept too:
    /// every ref checked with it is refused without loading it again.
    loaded: Vec<(Oid, Result<Arc<Keyring>, KeyringError>)>,
    /// How many keyrings were loaded (see [`Gate::keyring_loads`]).
    loads: usize,
}

impl<'r> Gate<'r> {
    /// The gate of `repo`, configured by `configuration`.
    ///
    /// ```no_run
    /// use git_authenticate::gate::{BranchPattern, Gate, GateOptions, RefUpdate, ServerConfiguration};
    /// use git_authenticate::Configuration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // As a pre-receive hook: git's environment names the quarantine.
    /// let repo = git2::Repository::open_from_env()?;
    /// let updates = RefUpdate::parse_lines(&std::io::read_to_string(std::io::stdin())?)?;
    /// let configuration = ServerConfiguration {
    ///     default: Configuration {
    ///         commit: Some("897c1a470da759236cc11798f4e0a5f7d4d59fbc".into()),
    ///         signer: Some("2A39 3FFF 68F4 EF7A 3D29  12AF 6F51 20A0 22FB B2D5".into()),
    ///         keyring: Some("keyring".into()),
    ///     },
    ///     protected_branches: vec![BranchPattern::parse("master")?],
    ///     keyring_branches: vec!["keyring".into()],
    ///     ..ServerConfiguration::default()
    /// };
    /// let mut gate = Gate::new(&repo, configuration, GateOptions::default());
    /// let decision = gate.decide_push(updates);
    /// for decided in &decision.refs {
    ///     eprintln!("{decided}");
    /// }
    /// decision.record(&repo);
    /// std::process::exit(if decision.is_accepted() { 0 } else { 1 });
    /// # }
    /// ```
    pub fn new(
        repo: &'r Repository,
        configuration: ServerConfiguration,
        options: GateOptions,
    ) -> Self {
        Gate {
            repo,
            options,
            configuration,
            accepted: Vec::new(),
            keyrings: Vec::new(),
            guarded: None,
            tags: None,
            aliases: None,
            aliased_protected: None,
            loaded: Vec::new(),
            loads: 0,
        }
    }

    /// How many keyrings this gate has loaded: one per keyring branch the
    /// refs it decided use, and one per keyring tip a push brings, however
    /// many refs are checked with it, and whether it loads or not.
    pub fn keyring_loads(&self) -> usize {
        self.loads
    }

    /// The keyring of the keyring branch `reference` at `commit` (its tip
    /// on the server, never a remote-tracking ref a pusher could write, or
    /// a tip the push brings), loaded once whether it loads or not.
    fn keyring(&mut self, reference: &str, commit: Oid) -> Result<Arc<Keyring>, KeyringError> {
        if let Some((_, keyring)) = self.loaded.iter().find(|(c, _)| *c == commit) {
            return keyring.clone();
        }
        let keyring = Keyring::load_at(self.repo, reference, commit).map(Arc::new);
        self.loads += 1;
        self.loaded.push((commit, keyring.clone()));
        keyring
    }

    /// Decides every ref of a push: the keyring branches first, so that
    /// the other refs are checked with the keys the push brings (and that
    /// users will fetch with them).
    pub fn decide_push(&mut self, updates: Vec<RefUpdate>) -> PushDecision {
        let resolved = updates.into_iter().map(|update| {
            let updated = rules::updated_ref(self.repo, &update.name);
            (update, updated)
        });
        let (keyrings, others): (Vec<_>, Vec<_>) =
            resolved.enumerate().partition(|(_, (update, updated))| {
                let name = match updated {
                    Ok(Some(target)) => target,
                    _ => &update.name,
                };
                matches!(self.target(name), Target::Keyring(_))
            });
        let mut refs: Vec<(usize, RefDecision)> = keyrings
            .into_iter()
            .chain(others)
            .map(|(index, (update, updated))| {
                let (verdict, updated) = match updated {
                    Ok(updated) => (self.decide_as(updated.as_deref(), &update), updated),
                    Err(refusal) => (Verdict::Refused(refusal), None),
                };
                let decided = RefDecision {
                    update,
                    updated,
                    verdict,
                };
                (index, decided)
            })
            .collect();
        refs.sort_by_key(|(index, _)| *index);
        PushDecision {
            refs: refs.into_iter().map(|(_, decided)| decided).collect(),
            conditions: self.conditions(),
        }
    }

    /// What the gate authenticates under, for its cache.
    fn conditions(&self) -> Conditions {
        Conditions::new(self.options.policy, &self.options.historical_authorizations)
    }

    /// Decides one ref, as the ref git will update: the target of the
    /// pushed ref when that is a symbolic ref on the server.
    pub fn decide(&mut self, update: &RefUpdate) -> Verdict {
        match rules::updated_ref(self.repo, &update.name) {
            Ok(updated) => self.decide_as(updated.as_deref(), update),
            Err(refusal) => Verdict::Refused(refusal),
        }
    }

    /// Decides `update` as an update of `updated` (when it is given) or of
    /// the pushed ref.
    fn decide_as(&mut self, updated: Option<&str>, update: &RefUpdate) -> Verdict {
        let judged = self.judged_name(updated, &update.name);
        match self.target(&judged) {
            Target::Replace => Verdict::Refused(Refusal::ReplaceRef),
            Target::Folded(guarded) => Verdict::Refused(Refusal::CaseCollision { guarded }),
            Target::Other => Verdict::Accepted(Acceptance::Unchecked),
            Target::Keyring(branch) => {
                let branch = branch.to_owned();
                self.keyring_update(&branch, update)
            }
            Target::Branch(branch) => {
                let branch = branch.to_owned();
                self.branch_update(&branch, update)
            }
            Target::Tag => self.tag_update(&judged, update),
        }
    }

    /// The name whose rules an update of `updated` (pushed as `pushed`)
    /// must follow: the ref git updates, unless the gate would not check
    /// it while users fetch it under a branch or tag name (a symbolic ref
    /// of the server to it, such as `refs/heads/docs` to `refs/notes/docs`).
    fn judged_name(&mut self, updated: Option<&str>, pushed: &str) -> String {
        let name = updated.unwrap_or(pushed);
        if self.target(name) != Target::Other {
            return name.to_owned();
        }
        let aliases = self.aliases().get(name).and_then(|a| a.first());
        aliases.map_or(name, String::as_str).to_owned()
    }

    /// The server's symbolic branches and tags, by the ref they reach.
    fn aliases(&mut self) -> &HashMap<String, Vec<String>> {
        let repo = self.repo;
        self.aliases.get_or_insert_with(|| rules::aliases(repo))
    }

    /// The branches protected only because a protected branch of the
    /// server is a symbolic ref to them; listed once per push.
    fn protected_through_aliases(&mut self) -> &HashSet<String> {
        if self.aliased_protected.is_none() {
            let listed = self.list_protected_through_aliases();
            self.aliased_protected = Some(listed);
        }
        self.aliased_protected.get_or_insert_with(HashSet::new)
    }

    fn list_protected_through_aliases(&mut self) -> HashSet<String> {
        if self.configuration.protected_branches.is_empty() {
            return HashSet::new();
        }
        let repo = self.repo;
        let aliases = self.aliases.get_or_insert_with(|| rules::aliases(repo));
        let configuration = &self.configuration;
        let branch = |name: &str| name.strip_prefix("refs/heads/").map(str::to_owned);
        aliases
            .iter()
            .filter(|(_, aliases)| {
                let mut aliases = aliases.iter().filter_map(|a| branch(a));
                aliases.any(|alias| configuration.is_protected(&alias))
            })
            .filter_map(|(target, _)| branch(target))
            .collect()
    }

    /// Whether `branch` is protected, or a branch of the server that is a
    /// symbolic ref to it is: users see its history under either name.
    fn is_protected(&mut self, branch: &str) -> bool {
        self.configuration.is_protected(branch) || self.protected_through_aliases().contains(branch)
    }

    fn target<'n>(&self, name: &'n str) -> Target<'n> {
        if let Some(branch) = name.strip_prefix("refs/heads/") {
            match self.configuration.is_keyring(branch) {
                true => Target::Keyring(branch),
                false => Target::Branch(branch),
            }
        } else if name.starts_with("refs/tags/") {
            Target::Tag
        } else if name.starts_with("refs/replace/") {
            Target::Replace
        } else if let Some(canonical) = rules::folded_namespace(name) {
            Target::Folded(canonical)
        } else {
            Target::Other
        }
    }

    fn branch_update(&mut self, branch: &str, update: &RefUpdate) -> Verdict {
        if let Some(guarded) = self.case_collision(branch) {
            return Verdict::Refused(Refusal::CaseCollision { guarded });
        }
        let protected = self.is_protected(branch);
        let Some(new) = update.new else {
            return match protected {
                true => Verdict::Refused(Refusal::ProtectedDeletion),
                false => Verdict::Accepted(Acceptance::Deleted),
            };
        };
        if protected {
            if let Err(refusal) = self.forward(update.old, new) {
                return Verdict::Refused(refusal);
            }
        }
        if let Err(refusal) = self.commit_kind(new) {
            return Verdict::Refused(refusal);
        }
        if protected {
            match rules::removes_authorizations(self.repo, new) {
                Ok(false) => {}
                Ok(true) => return Verdict::Refused(Refusal::RemovesAuthorizations),
                Err(refusal) => return Verdict::Refused(refusal),
            }
        }
        self.authenticate(Some(branch), new)
    }

    /// The protected or keyring branch (configured, or on the server) from
    /// which `branch` differs only in case.
    fn case_collision(&mut self, branch: &str) -> Option<String> {
        if let Some(guarded) = self.configuration.case_collision(branch) {
            return Some(guarded);
        }
        if self.guarded.is_none() {
            let aliased = self.protected_through_aliases().clone();
            let configuration = &self.configuration;
            self.guarded = Some(rules::guarded_refs(self.repo, "refs/heads/", |b| {
                configuration.is_protected(b) || configuration.is_keyring(b) || aliased.contains(b)
            }));
        }
        let guarded = self.guarded.as_ref()?;
        let existing = guarded.other(branch)?;
        Some(format!("refs/heads/{existing}"))
    }

    /// A tag names an authentic commit, and does not differ only in case
    /// from another tag: on a case-folding file system it would be that
    /// tag's file, on the server or on a user's clone, where `git fetch`
    /// would then move that tag silently (a tag moved under its own name
    /// is refused there unless forced). A deletion is allowed, as for any
    /// tag: it is how such a pair is undone.
    fn tag_update(&mut self, name: &str, update: &RefUpdate) -> Verdict {
        let Some(new) = update.new else {
            return Verdict::Accepted(Acceptance::Deleted);
        };
        let tag = name.strip_prefix("refs/tags/").unwrap_or(name);
        let repo = self.repo;
        let tags = self
            .tags
            .get_or_insert_with(|| rules::guarded_refs(repo, "refs/tags/", |_| true));
        if let Some(existing) = tags.other(tag) {
            let guarded = format!("refs/tags/{existing}");
            return Verdict::Refused(Refusal::CaseCollision { guarded });
        }
        let verdict = match self.tagged_commit(new) {
            Ok(commit) => self.authenticate(None, commit),
            Err(refusal) => Verdict::Refused(refusal),
        };
        // Two new tags of this push that fold together are refused too.
        if verdict.is_accepted() {
            self.tags.get_or_insert_with(Default::default).insert(tag);
        }
        verdict
    }

    fn keyring_update(&mut self, branch: &str, update: &RefUpdate) -> Verdict {
        let Some(new) = update.new else {
            return Verdict::Refused(Refusal::ProtectedDeletion);
        };
        if let Err(refusal) = self.forward(update.old, new) {
            return Verdict::Refused(refusal);
        }
        let keys = match self.keyring(branch, new) {
            Ok(keyring) => match self.removed_keys(branch, update.old, &keyring) {
                Some(refusal) => return Verdict::Refused(refusal),
                None => keyring.len(),
            },
            Err(e) => return Verdict::Refused(Refusal::BrokenKeyring(e)),
        };
        self.keyrings.push((branch.to_owned(), new));
        // Guix skips the keyring branch when it is checked out, but `guix
        // pull` authenticates the branch it pulls whatever it is: a channel
        // keeping its keys on the branch users clone is authenticated too,
        // with the keys it brings.
        if self.is_default_branch(branch) {
            let verdict = self.authenticate(Some(branch), new);
            if !verdict.is_accepted() {
                self.keyrings.pop();
            }
            return verdict;
        }
        Verdict::Accepted(Acceptance::Keyring { keys })
    }

    /// The refusal of a keyring update to `new` that drops keys the old
    /// tip held, unless the configuration allows it. An old tip whose keys
    /// do not load (one pushed before the gate) holds none.
    fn removed_keys(&self, branch: &str, old: Option<Oid>, new: &Keyring) -> Option<Refusal> {
        if self.configuration.allow_key_removal {
            return None;
        }
        let old = Keyring::load_at(self.repo, branch, old?).ok()?;
        let removed = rules::removed_keys(&old, new);
        (!removed.is_empty()).then_some(Refusal::KeysRemoved { removed })
    }

    /// Whether `branch` is the one the server's HEAD names (through any
    /// symbolic refs), which `git clone` checks out.
    fn is_default_branch(&self, branch: &str) -> bool {
        // HEAD may reach it through an alias (`main` → `master`).
        let head = rules::updated_ref(self.repo, "HEAD");
        matches!(head, Ok(Some(target)) if target == format!("refs/heads/{branch}"))
    }

    /// Refuses anything but a fast-forward from `old` (a creation is one).
    fn forward(&self, old: Option<Oid>, new: Oid) -> Result<(), Refusal> {
        let Some(old) = old else { return Ok(()) };
        match commit_relation(self.repo, old, new) {
            Ok(Relation::Ancestor | Relation::Same) => Ok(()),
            Ok(relation) => Err(Refusal::NotFastForward {
                relation,
                shares_history: relation == Relation::Unrelated
                    && rules::share_history(self.repo, old, new),
            }),
            Err(e) => Err(Refusal::CouldNotCheck(e.into())),
        }
    }

    /// A branch must point at a commit itself: git would refuse anything
    /// else, and a tag object there would be peeled by some tools only.
    fn commit_kind(&self, id: Oid) -> Result<(), Refusal> {
        let header = self
            .repo
            .odb()
            .and_then(|odb| odb.read_header(id))
            .map_err(|e| Refusal::CouldNotCheck(e.into()))?;
        match header.1 {
            ObjectType::Commit => Ok(()),
            other => Err(Refusal::NotACommit {
                id,
                kind: other.str().to_owned(),
            }),
        }
    }

    /// The commit a tag (annotated or not) names.
    fn tagged_commit(&self, id: Oid) -> Result<Oid, Refusal> {
        match crate::revision::resolve_commit(self.repo, &id.to_string()) {
            Ok(commit) => Ok(commit),
            Err(Error::NotACommit { .. }) => Err(Refusal::NotACommit {
                id,
                kind: self.kind_of(id),
            }),
            Err(e) => Err(Refusal::CouldNotCheck(e)),
        }
    }

    fn kind_of(&self, id: Oid) -> String {
        let header = self.repo.odb().and_then(|odb| odb.read_header(id));
        header.map_or_else(|_| "object".into(), |(_, kind)| kind.str().to_owned())
    }

    /// Authenticates `commit` from the introduction configured for
    /// `branch`, trusting only what the gate authenticated before.
    fn authenticate(&mut self, branch: Option<&str>, commit: Oid) -> Verdict {
        let configured = self.configuration.branch(branch).clone();
        let introduction = match introduction(&configured) {
            Ok(introduction) => introduction,
            Err(refusal) => return Verdict::Refused(refusal),
        };
        match self.authenticate_from(&configured, &introduction, commit) {
            Ok(checked) => {
                self.accepted.push((introduction.commit, commit));
                Verdict::Accepted(Acceptance::Authentic {
                    commit,
                    introduction,
                    checked,
                })
            }
            Err(refusal) => Verdict::Refused(refusal),
        }
    }

    fn authenticate_from(
        &mut self,
        configured: &Configuration,
        introduction: &Introduction,
        commit: Oid,
    ) -> Result<usize, Refusal> {
        let cache = gate_cache(self.repo, introduction).map_err(Refusal::CouldNotCheck)?;
        let mut known = cache
            .read_for(introduction.commit, &self.conditions())
            .trusted;
        known.extend(
            self.accepted
                .iter()
                .filter(|(intro, _)| *intro == introduction.commit)
                .map(|&(_, commit)| commit),
        );
        let keyring_reference = configured
            .keyring
            .clone()
            .unwrap_or_else(|| keyring::DEFAULT_REFERENCE.to_owned());
        let branch = keyring_reference.strip_prefix("refs/heads/");
        let branch = branch.unwrap_or(&keyring_reference);
        let pushed = self.keyrings.iter().rev().find(|(name, _)| name == branch);
        let keyring_commit = match pushed {
            Some(&(_, commit)) => commit,
            None => self.server_keyring(branch, &keyring_reference)?,
        };
        let keyring = match self.keyring(&keyring_reference, keyring_commit) {
            Ok(keyring) => keyring,
            Err(e) => return Err(Refusal::CouldNotCheck(e.into())),
        };
        let options = Options {
            keyring: Some(keyring),
            keyring_reference,
            // Read above and written only once the whole push is accepted.
            cache: None,
            // Authenticated from this introduction by the gate itself.
            known_descendants: known,
            historical_authorizations: self.options.historical_authorizations.clone(),
            keep_going: true,
            jobs: self.options.jobs,
            policy: self.options.policy,
            ..Options::default()
        };
        match authenticate(self.repo, introduction, commit, &options, &NoProgress) {
            Ok(report) => Ok(report.checked),
            Err(Error::NotAuthentic(report)) => {
                let mut failures = report.failures;
                let total = failures.len();
                // Guix's order is newest first; the pusher fixes the
                // oldest first.
                failures.reverse();
                failures.truncate(MAX_FAILURES_KEPT);
                Err(Refusal::NotAuthentic { failures, total })
            }
            Err(e) => Err(Refusal::CouldNotCheck(e)),
        }
    }
}

impl Gate<'_> {
    /// The tip of the server's keyring branch `branch` (through an alias):
    /// never `refs/remotes/NAME`, where [`Keyring::load`] would look next
    /// as Guix does on a clone, but which on a server any pusher may
    /// write unchecked and no user fetches.
    fn server_keyring(&self, branch: &str, reference: &str) -> Result<Oid, Refusal> {
        match self.repo.refname_to_id(&format!("refs/heads/{branch}")) {
            Ok(commit) => Ok(commit),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Err(Refusal::CouldNotCheck(
                Error::Keyring(KeyringError::NotFound {
                    reference: reference.to_owned(),
                    suggestion: None,
                }),
            )),
            Err(e) => Err(Refusal::CouldNotCheck(e.into())),
        }
    }
}

fn introduction(configured: &Configuration) -> Result<Introduction, Refusal> {
    match configured.introduction() {
        Some(introduction) => introduction.map_err(Refusal::InvalidIntroduction),
        None => Err(Refusal::NoIntroduction),
    }
}

/// A short form of an id, for messages.
fn short(id: Option<Oid>) -> String {
    id.map_or_else(|| "(none)".to_owned(), |id| id.to_string())
}

impl fmt::Display for RefDecision {
    /// One line: the ref, what happens to it, and why.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let RefUpdate { old, new, .. } = &self.update;
        let name = RefName(self);
        match &self.verdict {
            Verdict::Accepted(acceptance) => {
                write!(f, "{name}: accepted: ")?;
                match acceptance {
                    Acceptance::Authentic {
                        commit, checked, ..
                    } => {
                        let commits = if *checked == 1 { "commit" } else { "commits" };
                        write!(
                            f,
                            "commit {commit} is authentic ({checked} new {commits} checked)"
                        )
                    }
                    Acceptance::Keyring { keys } => {
                        write!(f, "keyring branch moves forward; its {keys} keys load")
                    }
                    Acceptance::Deleted => write!(f, "deleted"),
                    Acceptance::Unchecked => {
                        write!(f, "not a branch or tag, so not authenticated")
                    }
                }
            }
            Verdict::Refused(refusal) => {
                write!(f, "{name}: refused: ")?;
                match refusal {
                    Refusal::NotAuthentic { total, .. } => write!(
                        f,
                        "{} is not authentic ({} failure{})",
                        short(*new),
                        total,
                        if *total == 1 { "" } else { "s" }
                    ),
                    Refusal::NotFastForward {
                        relation,
                        shares_history,
                    } => {
                        write!(
                            f,
                            "protected branch would not move forward from {} to {}: ",
                            short(*old),
                            short(*new),
                        )?;
                        match shares_history {
                            true => write!(
                                f,
                                "not a fast-forward (the histories diverged: the new commit \
                                 does not contain the old one)"
                            ),
                            false => {
                                write!(
                                    f,
                                    "the new commit is {} the old one",
                                    relation.describe_new()
                                )
                            }
                        }
                    }
                    Refusal::ProtectedDeletion => {
                        write!(
                            f,
                            "protected branch cannot be deleted (it is at {})",
                            short(*old)
                        )
                    }
                    Refusal::BrokenKeyring(e) => write!(f, "{e}"),
                    Refusal::KeysRemoved { removed } => write_removed_keys(f, removed),
                    Refusal::RemovesAuthorizations => write!(
                        f,
                        "{} removes .guix-authorizations: Guix accepts that commit but \
                         refuses every commit made on top of it, so this protected branch \
                         could never move again",
                        short(*new)
                    ),
                    Refusal::CaseCollision { guarded } => write!(
                        f,
                        "differs only in case from {}: on a case-folding file system (APFS, \
                         NTFS) both names are one file, so this push could change that ref",
                        Untrusted::new(guarded)
                    ),
                    Refusal::SymbolicRefLoop { last } => write!(
                        f,
                        "a symbolic ref on the server whose chain loops, is too long or \
                         names a ref that is not UTF-8 (it reaches {}): git would not update it",
                        Untrusted::new(last)
                    ),
                    Refusal::SymbolicRefNotUtf8 { target } => write!(
                        f,
                        "a symbolic ref on the server to `{}`, a name that is not UTF-8: \
                         this gate refuses such names",
                        Untrusted::bytes(target)
                    ),
                    Refusal::NotACommit { id, kind } => {
                        write!(f, "{id} is a {kind}, not a commit")
                    }
                    Refusal::ReplaceRef => write!(
                        f,
                        "replace refs are refused: git would substitute objects, so what it \
                         checks out could differ from what is authenticated"
                    ),
                    Refusal::NoIntroduction => write!(
                        f,
                        "no introduction is configured on the server \
                         (guix.authentication.introduction-commit and -signer)"
                    ),
                    Refusal::InvalidIntroduction(e) => {
                        write!(f, "the server's configured introduction is invalid: {e}")
                    }
                    Refusal::CouldNotCheck(e) => write!(f, "could not check: {e}"),
                }
            }
        }
    }
}

/// The ref's name as pushed, and the ref git updates when that is a
/// symbolic ref: both come from the repository, so both are escaped.
struct RefName<'a>(&'a RefDecision);

impl fmt::Display for RefName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Untrusted::new(&self.0.update.name))?;
        match &self.0.updated {
            Some(target) => write!(
                f,
                " (a symbolic ref to {}, which is what git updates)",
                Untrusted::new(target)
            ),
            None => Ok(()),
        }
    }
}

/// The first keys a keyring update drops, then how many more, and the
/// override.
fn write_removed_keys(f: &mut fmt::Formatter<'_>, removed: &[Fingerprint]) -> fmt::Result {
    write!(f, "the keyring update drops keys the old tip held:")?;
    for fingerprint in removed.iter().take(REMOVED_KEYS_SHOWN) {
        write!(f, " {fingerprint};")?;
    }
    if removed.len() > REMOVED_KEYS_SHOWN {
        write!(f, " and {} more;", removed.len() - REMOVED_KEYS_SHOWN)?;
    }
    write!(
        f,
        " every commit they signed would fail users' pulls with a missing key (to drop them \
         anyway, set `git config {ALLOW_KEY_REMOVAL} true` on the server for that push)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hook_input() {
        let (z, a) = ("0".repeat(40), "a".repeat(40));
        let input = format!("{z} {a} refs/heads/master\n{a} {z} refs/tags/v1\n");
        let updates = RefUpdate::parse_lines(&input).unwrap();
        assert_eq!(updates.len(), 2);
        assert_eq!(updates[0].new, Some(Oid::from_str(&a).unwrap()));
        assert_eq!(updates[1].new, None);
        assert_eq!(
            RefUpdate::parse_lines("x y\n"),
            Err(UpdateLineError::Fields { line: 1 })
        );
        let short = format!("{z} abc refs/heads/x");
        assert!(matches!(
            RefUpdate::parse_lines(&short),
            Err(UpdateLineError::Id { line: 1, .. })
        ));
    }

    #[test]
    fn a_ref_name_that_is_not_utf8_is_refused_by_name() {
        let (z, a) = ("0".repeat(40), "a".repeat(40));
        let mut input = format!("{z} {a} refs/heads/master\n{z} {a} refs/heads/x").into_bytes();
        input.extend_from_slice(b"\x9b\x1b[2J\n");
        let error = RefUpdate::parse_lines(&input).unwrap_err();
        assert_eq!(
            error,
            UpdateLineError::NotUtf8 {
                line: 2,
                name: b"refs/heads/x\x9b\x1b[2J".to_vec()
            }
        );
        let said = error.to_string();
        assert!(
            said.contains(r"`refs/heads/x\x9b\x1b[2J` is not UTF-8"),
            "{said}"
        );
    }
}
