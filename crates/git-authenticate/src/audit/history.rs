//! The range as the audit reads it: each commit's signer, date, parents
//! and `.guix-authorizations` (each distinct file parsed once), and the
//! changes of that file.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use git2::{Oid, Repository, Sort};

use super::{AuditOptions, Change, CommitAt, Line, NamedKey};
use crate::authenticate::{authenticate, load_keyring};
use crate::channel::authorizations::{self, parse_named};
use crate::channel::introduction::Introduction;
use crate::git::commit::{read_raw, tree_entry, Header};
use crate::git::objects::Objects;
use crate::openpgp::fingerprint::Fingerprint;
use crate::openpgp::keyring::Keyring;
use crate::rule::interrupt::Interrupt;
use crate::rule::memo::read_file;
use crate::verdict::error::Error;
use crate::verdict::failure::Failure;
use crate::verdict::report::{NoProgress, Progress};

/// Each checked commit's signer, as the checking threads tell it.
#[derive(Default)]
struct Signers(Mutex<HashMap<Oid, Fingerprint>>);

impl Progress for Signers {
    fn checked(&self, commit: Oid, outcome: Result<&Fingerprint, &Failure>) {
        if let Ok(signer) = outcome {
            let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
            map.insert(commit, signer.clone());
        }
    }
}

/// Authenticates the whole range (no cache, no commit taken on trust), and
/// returns the keyring and each commit's signer.
pub(super) fn authenticate_all(
    repo: &Repository,
    introduction: &Introduction,
    end: Oid,
    options: &AuditOptions,
) -> Result<(Arc<Keyring>, HashMap<Oid, Fingerprint>), Error> {
    let mut authentication = options.authentication.clone();
    authentication.cache = None;
    authentication.authentic_commits.clear();
    authentication.known_descendants.clear();
    let keyring = load_keyring(repo, &authentication, &NoProgress)?;
    authentication.keyring = Some(keyring.clone());
    let signers = Signers::default();
    authenticate(repo, introduction, end, &authentication, &signers)?;
    let mut map = signers.0.into_inner().unwrap_or_else(|p| p.into_inner());
    map.insert(introduction.commit, introduction.signer.clone());
    Ok((keyring, map))
}

/// A version of `.guix-authorizations`: what it lists.
#[derive(Debug, Default)]
pub(super) struct Version {
    pub keys: Vec<NamedKey>,
    /// Each key's position in `keys`.
    pub index: HashMap<Fingerprint, usize>,
    pub malformed: bool,
}

impl Version {
    fn name_of(&self, fingerprint: &Fingerprint) -> Option<String> {
        let &i = self.index.get(fingerprint)?;
        self.keys[i].name.clone()
    }
}

/// What a change added and removed, shared by every change between the
/// same two files (a history flipping between two large files costs
/// their size once).
type Difference = (Arc<[NamedKey]>, Arc<[NamedKey]>);

/// One commit of the range.
#[derive(Debug)]
pub(super) struct Node {
    pub at: CommitAt,
    pub signer: Option<Fingerprint>,
    /// Its parents, in order: their place in the range (`None` for one
    /// outside it, an ancestor of the introduction) and their file.
    pub parents: Vec<(Option<usize>, Option<Oid>)>,
    /// The blob of its `.guix-authorizations` (`None`: no file).
    pub file: Option<Oid>,
}

/// The range, parents before children.
pub(super) struct History {
    pub nodes: Vec<Node>,
    /// Each distinct file, parsed once.
    pub versions: HashMap<Oid, Arc<Version>>,
    /// The objects at `.guix-authorizations` that are not files (a
    /// directory, a submodule), read once.
    not_files: HashSet<Oid>,
    pub changes: Vec<Change>,
}

impl History {
    /// Reads the commits reachable from `end` but not from the
    /// introduction (the commits [`authenticate`] checks), and the
    /// introduction, first.
    /// Who signed what is [`History::attach`]ed afterwards.
    pub fn read(
        repo: &Repository,
        introduction: &Introduction,
        end: Oid,
        interrupt: Interrupt,
    ) -> Result<History, Error> {
        let objects = Objects::open(repo)?;
        let mut ids = vec![introduction.commit];
        if end != introduction.commit {
            let mut walk = repo.revwalk()?;
            walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)?;
            walk.push(end)?;
            walk.hide(introduction.commit)?;
            for id in walk {
                ids.push(id?);
            }
        }
        let index: HashMap<Oid, usize> = ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
        let mut history = History {
            nodes: Vec::with_capacity(ids.len()),
            versions: HashMap::new(),
            not_files: HashSet::new(),
            changes: Vec::new(),
        };
        for &id in &ids {
            interrupt.check()?;
            let node = history.read_node(&objects, id, &index)?;
            history.nodes.push(node);
        }
        Ok(history)
    }

    /// Each commit's signer, as authentication found it; then the changes
    /// can be told.
    pub fn attach(&mut self, signers: &HashMap<Oid, Fingerprint>) {
        for node in &mut self.nodes {
            node.signer = signers.get(&node.at.commit).cloned();
        }
        self.changes = self.find_changes();
    }

    fn read_node(
        &mut self,
        objects: &Objects,
        id: Oid,
        index: &HashMap<Oid, usize>,
    ) -> Result<Node, Error> {
        let header = Header::parse(id, &read_raw(objects, id)?)?;
        let file = self.file(objects, id, header.tree)?;
        let mut parents = Vec::with_capacity(header.parents.len());
        for parent in &header.parents {
            parents.push(match index.get(parent) {
                Some(&i) => (Some(i), self.nodes[i].file),
                None => {
                    let tree = Header::parse(*parent, &read_raw(objects, *parent)?)?.tree;
                    (None, self.file(objects, *parent, tree)?)
                }
            });
        }
        Ok(Node {
            at: CommitAt {
                commit: id,
                time: header.time,
            },
            signer: None,
            parents,
            file,
        })
    }

    /// The blob of the `.guix-authorizations` of commit `id`, whose tree
    /// is `tree`, parsed once (`None`: no file).
    fn file(&mut self, objects: &Objects, id: Oid, tree: Oid) -> Result<Option<Oid>, Error> {
        let name = authorizations::FILE_NAME.as_bytes();
        Ok(match tree_entry(objects, id, tree, name)? {
            None => None,
            Some((mode, blob)) => self.version(objects, id, mode, blob)?.then_some(blob),
        })
    }

    /// Parses the file `blob` once; whether it is a file at all.
    fn version(
        &mut self,
        objects: &Objects,
        commit: Oid,
        mode: u32,
        blob: Oid,
    ) -> Result<bool, Error> {
        if self.versions.contains_key(&blob) {
            return Ok(true);
        }
        if self.not_files.contains(&blob) {
            return Ok(false);
        }
        let Some(parsed) = read_file(objects, commit, mode, blob, parse_named)? else {
            self.not_files.insert(blob);
            return Ok(false);
        };
        let version = match parsed {
            Ok(entries) => Version {
                index: entries
                    .iter()
                    .enumerate()
                    .map(|(i, (f, _))| (f.clone(), i))
                    .collect(),
                keys: entries
                    .into_iter()
                    .map(|(fingerprint, name)| NamedKey { fingerprint, name })
                    .collect(),
                malformed: false,
            },
            Err(_) => Version {
                malformed: true,
                ..Version::default()
            },
        };
        self.versions.insert(blob, Arc::new(version));
        Ok(true)
    }

    /// The version of node `i`'s file (`None`: no file).
    pub fn version_of(&self, i: usize) -> Option<&Version> {
        self.nodes[i]
            .file
            .and_then(|blob| self.versions.get(&blob))
            .map(|v| &**v)
    }

    /// The commits whose file differs from each of their parents' (those
    /// outside the range included: a branch forked before the
    /// introduction), and the introduction's file, when it has one.
    fn find_changes(&self) -> Vec<Change> {
        let first_parent_line = self.first_parent_line();
        let empty = Version::default();
        let mut differences: HashMap<(Option<Oid>, Option<Oid>), Difference> = HashMap::new();
        let mut changes = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            let introduction = i == 0;
            // The introduction, and a root let in by the historical
            // authorizations, list their file first.
            let changed = match introduction || node.parents.is_empty() {
                true => node.file.is_some(),
                false => node.parents.iter().all(|&(_, file)| file != node.file),
            };
            if !changed {
                continue;
            }
            let own = self.version_of(i).unwrap_or(&empty);
            let parent_file = node
                .parents
                .first()
                .filter(|_| !introduction)
                .and_then(|&(_, f)| f);
            let parent = parent_file
                .and_then(|blob| self.versions.get(&blob))
                .map_or(&empty, |v| &**v);
            let signer = node
                .signer
                .clone()
                .unwrap_or_else(|| Fingerprint::from_bytes(&[]));
            let signer_name = parent.name_of(&signer).or_else(|| own.name_of(&signer));
            let pair = (parent_file, node.file);
            let (added, removed) = differences
                .entry(pair)
                .or_insert_with(|| (difference(own, parent), difference(parent, own)))
                .clone();
            changes.push(Change {
                at: node.at,
                signer,
                signer_name,
                added,
                removed,
                // Every commit descends from the introduction.
                line: match introduction || first_parent_line.contains(&i) {
                    true => Line::FirstParent,
                    false => Line::SideBranch,
                },
                introduction,
                malformed: own.malformed,
            });
        }
        changes
    }

    /// The nodes on END's first-parent line.
    fn first_parent_line(&self) -> HashSet<usize> {
        let mut line = HashSet::new();
        let mut at = self.nodes.len().checked_sub(1);
        while let Some(i) = at {
            if !line.insert(i) {
                break;
            }
            at = self.nodes[i].parents.first().and_then(|&(p, _)| p);
        }
        line
    }

    /// Commits in the range.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// END, the last node (the revision walk gives it last).
    pub fn end(&self) -> CommitAt {
        self.nodes[self.nodes.len() - 1].at
    }

    /// The keys END's file lists.
    pub fn authorized_at_end(&self) -> Vec<Fingerprint> {
        self.version_of(self.nodes.len() - 1)
            .map(|v| v.keys.iter().map(|k| k.fingerprint.clone()).collect())
            .unwrap_or_default()
    }
}

/// The keys `a` lists that `b` does not, in `a`'s order.
fn difference(a: &Version, b: &Version) -> Arc<[NamedKey]> {
    a.keys
        .iter()
        .filter(|k| !b.index.contains_key(&k.fingerprint))
        .cloned()
        .collect()
}
