//! Which commits to check: those reachable from END but not from the
//! introduction nor from any commit already known to be authentic.
//!
//! The walk goes newest first, as `git rev-list END ^HIDDEN…` does, and
//! hands each commit over as soon as it is found, so that checking starts at
//! once instead of after a walk of the whole history. It reads each commit
//! object once: the data goes on to be checked, and the headers of parents
//! (read to order the walk) tell the rule their own parents. It also reads
//! what stands at `.guix-authorizations` in each parent's tree, once per
//! parent, so that the checking threads need not read the repository's
//! packs at all: libgit2 guards them with process-wide locks, and three
//! threads taking turns at them left the cores idle about 5% of the time.
//!
//! Telling which commits are hidden is git's algorithm: commits reachable
//! from a hidden commit are painted as they are met, and the walk stops when
//! everything left to walk is painted and older than the last commit found,
//! with a few steps of slack for clock skew. Clock skew can still fool it
//! into finding a commit that a hidden commit reaches; such a commit is only
//! ever checked needlessly. Whether a *failing* commit is really to be
//! checked is settled exactly by [`Walk::settle`], which paints the whole
//! rest of the hidden history, so that a verdict never rests on commit
//! times.
//!
//! Commit times only order the walk, and the pusher chooses those of the
//! commits it brings: one dated 1971 on top of a cached tip would wait for
//! the whole hidden history newer than it to be walked. So while the
//! newest queued commit is hidden, a queued commit that is not is taken
//! first, out of order: [`AHEAD`] of them, and one more per hidden commit
//! walked, so that a walk fooled this way (a merge of an old commit, which
//! hidden history will turn out to reach) costs at most about twice the
//! walk by dates. Neither order changes which commits are found to be
//! hidden in the end, only what it costs to find out.

use std::collections::{BinaryHeap, HashMap, HashSet};

use git2::{Oid, Repository};

use crate::git::commit::{read_raw, Header};
use crate::git::objects::Objects;
use crate::rule::interrupt::Interrupt;
use crate::rule::memo::{AuthorizationsEntry, CommitFacts};
use crate::verdict::error::Error;

/// A commit to check, found by the walk.
#[derive(Debug)]
pub(crate) struct Found {
    /// The walk's handle on this commit.
    pub node: Node,
    pub id: Oid,
    /// The commit object's raw data.
    pub data: Vec<u8>,
    /// What the walk read of its parents, by id.
    pub parents: Vec<(Oid, CommitFacts)>,
}

/// How often [`Walk::settle`] asks whether it is done, at most.
const SETTLE_CHECK: u64 = 4096;

/// An index into the walk's graph.
pub(crate) type Node = u32;

/// Reachable from a hidden commit.
const HIDDEN: u8 = 1;
/// Put in the queue (once only).
const SEEN: u8 = 2;
/// Read: time, tree and parents are known.
const PARSED: u8 = 4;
/// Handed over as a commit to check.
const FOUND: u8 = 8;
/// Taken from the queue (its entries left in the other queue are stale).
const POPPED: u8 = 16;

/// How many commits that are not hidden a walk takes before hidden ones
/// that are newer, beyond one per hidden commit walked (see the module's
/// documentation).
const AHEAD: u64 = 1024;

/// How many more hidden commits to walk once everything left is hidden and
/// older than the last commit found; git's value.
const SLOP: u32 = 5;

struct Vertex {
    id: Oid,
    tree: Oid,
    /// What stands at `.guix-authorizations` in the tree, once read.
    entry: Option<AuthorizationsEntry>,
    time: i64,
    /// `parents[first..first + count]` in [`Walk::parents`].
    first: u32,
    count: u32,
    flags: u8,
}

/// A queued commit: the newest first, then the first queued.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Queued {
    time: i64,
    order: std::cmp::Reverse<u64>,
    node: Node,
}

/// The walk from END, newest first, stopping at hidden history.
pub(crate) struct Walk<'r> {
    objects: Objects<'r>,
    end: Node,
    vertices: Vec<Vertex>,
    index: HashMap<Oid, Node>,
    parents: Vec<Node>,
    queue: BinaryHeap<Queued>,
    /// The queued commits that were not hidden when queued, which may be
    /// taken out of order.
    interesting: BinaryHeap<Queued>,
    /// How many more may be.
    ahead: u64,
    queued: u64,
    /// The data of queued commits that may be found.
    data: HashMap<Node, Vec<u8>>,
    /// The time of the last commit found (git's `date`).
    last_found: i64,
    slop: u32,
    found: Vec<Node>,
    interrupt: Interrupt<'r>,
}

impl<'r> Walk<'r> {
    /// Starts a walk from `end`, hiding `hidden` and their ancestors.
    pub fn new(
        repo: &'r Repository,
        end: Oid,
        hidden: &[Oid],
        interrupt: Interrupt<'r>,
    ) -> Result<Self, Error> {
        let mut walk = Walk {
            interrupt,
            objects: Objects::open(repo)?,
            end: 0,
            vertices: Vec::new(),
            index: HashMap::new(),
            parents: Vec::new(),
            queue: BinaryHeap::new(),
            interesting: BinaryHeap::new(),
            ahead: AHEAD,
            queued: 0,
            data: HashMap::new(),
            last_found: i64::MAX,
            slop: SLOP,
            found: Vec::new(),
        };
        walk.end = walk.vertex(end);
        for &id in hidden {
            let node = walk.vertex(id);
            walk.vertices[node as usize].flags |= HIDDEN;
        }
        walk.enqueue(walk.end)?;
        for &id in hidden {
            let node = walk.index[&id];
            walk.enqueue(node)?;
        }
        Ok(walk)
    }

    /// The next commit to check, or `None` when there are no more.
    pub fn next_commit(&mut self) -> Result<Option<Found>, Error> {
        while self.slop > 0 {
            self.interrupt.check()?;
            let Some((node, in_order)) = self.pop() else {
                self.slop = 0;
                break;
            };
            self.enqueue_parents(node)?;
            let data = self.data.remove(&node);
            if self.is_hidden(node) {
                self.hide_ancestors(node);
                self.slop = self.still_walking();
                continue;
            }
            let vertex = &mut self.vertices[node as usize];
            vertex.flags |= FOUND;
            // A commit taken out of order says nothing of how far the
            // hidden history must be walked.
            if in_order {
                self.last_found = vertex.time;
            }
            self.found.push(node);
            let id = vertex.id;
            let data = match data {
                Some(data) => data,
                None => read_raw(&self.objects, id)?,
            };
            return Ok(Some(Found {
                node,
                id,
                data,
                parents: self.parent_facts(node),
            }));
        }
        Ok(None)
    }

    /// Walks the rest of the hidden history, unless `done` says that
    /// nothing more needs to be known, so that [`Walk::is_hidden`] is exact
    /// whatever the commit times.
    ///
    /// `done` is asked after 1, 2, 4… steps and then every
    /// [`SETTLE_CHECK`] steps, so that asking it (which may look at every
    /// failure) costs little beside the walk, whatever the number of
    /// failures.
    pub fn settle(&mut self, done: impl Fn(&Self) -> bool) -> Result<(), Error> {
        let mut steps: u64 = 0;
        loop {
            let asked = steps.is_power_of_two() || steps.is_multiple_of(SETTLE_CHECK);
            if asked && done(self) {
                break;
            }
            steps += 1;
            if steps.is_multiple_of(256) {
                self.interrupt.check()?;
            }
            let Some(Queued { node, .. }) = self.queue.pop() else {
                break;
            };
            if self.vertices[node as usize].flags & POPPED != 0 {
                continue;
            }
            self.vertices[node as usize].flags |= POPPED;
            self.data.remove(&node);
            self.enqueue_parents(node)?;
            if self.is_hidden(node) {
                self.hide_ancestors(node);
            }
        }
        self.data.clear();
        Ok(())
    }

    /// The next queued commit, and whether it is taken in the order of
    /// commit times: the newest, unless it is hidden and a commit that is
    /// not may be taken ahead of it.
    fn pop(&mut self) -> Option<(Node, bool)> {
        let popped = |walk: &Self, node: Node| walk.vertices[node as usize].flags & POPPED != 0;
        while self.queue.peek().is_some_and(|q| popped(self, q.node)) {
            self.queue.pop();
        }
        while self
            .interesting
            .peek()
            .is_some_and(|q| popped(self, q.node) || self.is_hidden(q.node))
        {
            self.interesting.pop();
        }
        let newest = self.queue.peek()?.node;
        let (node, in_order) = match self.is_hidden(newest) {
            true if self.ahead > 0 && !self.interesting.is_empty() => {
                self.ahead -= 1;
                (self.interesting.pop()?.node, false)
            }
            hidden => {
                self.ahead += u64::from(hidden);
                (self.queue.pop()?.node, true)
            }
        };
        self.vertices[node as usize].flags |= POPPED;
        Some((node, in_order))
    }

    /// Records that `node` is known, from elsewhere, to be reachable from a
    /// hidden commit.
    pub fn mark_hidden(&mut self, node: Node) {
        self.vertices[node as usize].flags |= HIDDEN;
    }

    /// The caller's interrupt flag.
    pub fn interrupt(&self) -> Interrupt<'r> {
        self.interrupt
    }

    /// END's node.
    pub fn end(&self) -> Node {
        self.end
    }

    /// Whether `node` is reachable from a hidden commit, as far as the walk
    /// knows.
    pub fn is_hidden(&self, node: Node) -> bool {
        self.vertices[node as usize].flags & HIDDEN != 0
    }

    /// The commits to check: found and not hidden, in the walk's order.
    pub fn commits(&self) -> impl Iterator<Item = Node> + '_ {
        self.found.iter().copied().filter(|&n| !self.is_hidden(n))
    }

    /// The commit id of `node`.
    pub fn id(&self, node: Node) -> Oid {
        self.vertices[node as usize].id
    }

    /// Each commit to check with its position in the order Guix checks
    /// them: `commit-difference` lists the commits depth first from END,
    /// first parents first (newest first), and Guix checks them in that
    /// order, stopping at the first failure. The failure Guix reports is
    /// the failing commit that comes first here.
    pub fn guix_positions(&self) -> HashMap<Node, usize> {
        let to_check = |n: Node| {
            let flags = self.vertices[n as usize].flags;
            flags & FOUND != 0 && flags & HIDDEN == 0
        };
        let mut listed = Vec::new();
        let mut visited = std::collections::HashSet::new();
        let mut stack = vec![self.end];
        while let Some(node) = stack.pop() {
            if !to_check(node) || !visited.insert(node) {
                continue;
            }
            listed.push(node);
            stack.extend(self.parents_of(node).iter().rev());
        }
        listed
            .into_iter()
            .enumerate()
            .map(|(i, node)| (node, i))
            .collect()
    }

    fn vertex(&mut self, id: Oid) -> Node {
        if let Some(&node) = self.index.get(&id) {
            return node;
        }
        let node = Node::try_from(self.vertices.len()).expect("fewer than 2^32 commits");
        self.vertices.push(Vertex {
            id,
            tree: Oid::ZERO_SHA1,
            entry: None,
            time: 0,
            first: 0,
            count: 0,
            flags: 0,
        });
        self.index.insert(id, node);
        node
    }

    fn parents_of(&self, node: Node) -> &[Node] {
        let v = &self.vertices[node as usize];
        &self.parents[v.first as usize..(v.first + v.count) as usize]
    }

    /// Reads `node` and queues it, once.
    fn enqueue(&mut self, node: Node) -> Result<(), Error> {
        self.parse(node)?;
        let vertex = &mut self.vertices[node as usize];
        if vertex.flags & SEEN != 0 {
            return Ok(());
        }
        vertex.flags |= SEEN;
        self.queued += 1;
        let queued = Queued {
            time: vertex.time,
            order: std::cmp::Reverse(self.queued),
            node,
        };
        if vertex.flags & HIDDEN == 0 {
            self.interesting.push(queued);
        }
        self.queue.push(queued);
        Ok(())
    }

    /// Reads the commit object of `node`, keeping its data while it may
    /// yet be found.
    fn parse(&mut self, node: Node) -> Result<(), Error> {
        if self.vertices[node as usize].flags & PARSED != 0 {
            return Ok(());
        }
        let id = self.vertices[node as usize].id;
        let data = read_raw(&self.objects, id)?;
        let header = Header::parse(id, &data)?;
        let first = u32::try_from(self.parents.len()).expect("fewer than 2^32 parent links");
        for &parent in &header.parents {
            let parent = self.vertex(parent);
            self.parents.push(parent);
        }
        let vertex = &mut self.vertices[node as usize];
        vertex.tree = header.tree;
        vertex.time = header.time;
        vertex.first = first;
        vertex.count = header.parents.len() as u32;
        vertex.flags |= PARSED;
        if vertex.flags & HIDDEN == 0 {
            self.data.insert(node, data);
        }
        Ok(())
    }

    /// Reads and queues the parents of `node`; those of a hidden commit are
    /// hidden.
    fn enqueue_parents(&mut self, node: Node) -> Result<(), Error> {
        let hidden = self.is_hidden(node);
        let v = &self.vertices[node as usize];
        for i in v.first..v.first + v.count {
            let parent = self.parents[i as usize];
            if hidden {
                self.vertices[parent as usize].flags |= HIDDEN;
                self.data.remove(&parent);
            }
            self.enqueue(parent)?;
            if hidden {
                self.hide_ancestors(parent);
            }
        }
        Ok(())
    }

    /// Hides every ancestor of `node` that the walk has read.
    fn hide_ancestors(&mut self, node: Node) {
        let mut stack = self.parents_of(node).to_vec();
        while let Some(parent) = stack.pop() {
            let vertex = &mut self.vertices[parent as usize];
            if vertex.flags & HIDDEN != 0 {
                continue;
            }
            vertex.flags |= HIDDEN;
            self.data.remove(&parent);
            if self.vertices[parent as usize].flags & PARSED != 0 {
                stack.extend_from_slice(self.parents_of(parent));
            }
        }
    }

    /// git's `still_interesting`: walk on while something newer than the
    /// last commit found, or something not hidden, is queued; then `SLOP`
    /// more steps.
    fn still_walking(&mut self) -> u32 {
        while self
            .queue
            .peek()
            .is_some_and(|q| self.vertices[q.node as usize].flags & POPPED != 0)
        {
            self.queue.pop();
        }
        let Some(newest) = self.queue.peek() else {
            return 0;
        };
        let waiting = |q: &Queued| self.vertices[q.node as usize].flags & (HIDDEN | POPPED) == 0;
        if self.last_found <= newest.time || self.queue.iter().any(waiting) {
            return SLOP;
        }
        self.slop - 1
    }

    /// What the rule needs of each parent of `node` (all of them read:
    /// the walk queued them before handing `node` over), but for a parent
    /// whose tree cannot be read: the checking thread meets that error
    /// where the rule reads the tree (RULE.md step 6), after the commit's
    /// own signature (RULE.md steps 1–5), so that an unsigned commit on a
    /// damaged parent is still a failure, as in Guix, not an error.
    fn parent_facts(&mut self, node: Node) -> Vec<(Oid, CommitFacts)> {
        let v = &self.vertices[node as usize];
        (v.first..v.first + v.count)
            .filter_map(|i| {
                let parent = self.parents[i as usize];
                let facts = CommitFacts {
                    entry: self.authorizations_entry(parent)?,
                    parents: self
                        .parents_of(parent)
                        .iter()
                        .map(|&g| self.id(g))
                        .collect(),
                };
                Some((self.id(parent), facts))
            })
            .collect()
    }

    /// What stands at `.guix-authorizations` in the tree of `node` (read),
    /// read once; `None` when the tree cannot be read.
    fn authorizations_entry(&mut self, node: Node) -> Option<AuthorizationsEntry> {
        let vertex = &self.vertices[node as usize];
        if let Some(entry) = vertex.entry {
            return Some(entry);
        }
        let entry = AuthorizationsEntry::read(&self.objects, vertex.id, vertex.tree).ok()?;
        self.vertices[node as usize].entry = Some(entry);
        Some(entry)
    }
}

/// Whether `commit` is one of `ancestors` or descends from one of them.
pub(crate) fn descends_from_any(
    repo: &Repository,
    commit: Oid,
    ancestors: &[Oid],
    interrupt: Interrupt,
) -> Result<bool, Error> {
    let objects = Objects::open(repo)?;
    for &ancestor in ancestors {
        if is_ancestor_of_any(&objects, ancestor, &[commit], interrupt)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Reached from the commit that may descend.
const FROM_COMMIT: u8 = 1;
/// Reached from the possible ancestor (its ancestors, itself included).
const FROM_ANCESTOR: u8 = 2;
const BOTH: u8 = FROM_COMMIT | FROM_ANCESTOR;

/// Whether `ancestor` is reachable from one of `commits`: git's merge-base
/// walk. Both sides are painted down their histories, newest first; the
/// walk ends when `ancestor` gets the commits' paint, or when every queued
/// commit has both paints. That end is exact whatever the commit times: a
/// path from a commit to `ancestor` never passes through an ancestor of
/// `ancestor`, so it is never cut short. Times only make the walk end early
/// when there is no such path; a commit whose paint grows is queued again.
/// Every commit is read verified.
///
/// A failing commit on top of a cached history is shown not to be hidden
/// by it in a few steps: its parent, the cached tip, gets both paints at
/// once. The commit's time is the pusher's choice, so, as in [`Walk`],
/// entries with only the ancestor's paint are taken ahead of newer ones
/// ([`AHEAD`], and one more per entry taken in order): a commit dated 1971
/// does not wait for the hidden history since 1971.
pub(crate) fn is_ancestor_of_any(
    objects: &Objects,
    ancestor: Oid,
    commits: &[Oid],
    interrupt: Interrupt,
) -> Result<bool, Error> {
    if commits.contains(&ancestor) {
        return Ok(true);
    }
    let mut paint = Paint {
        objects,
        commits: HashMap::new(),
        queue: BinaryHeap::new(),
        ancestor_side: BinaryHeap::new(),
        taken: HashSet::new(),
        ahead: AHEAD,
        queued: 0,
        unfinished: 0,
    };
    for &commit in commits {
        paint.add(commit, FROM_COMMIT)?;
    }
    paint.add(ancestor, FROM_ANCESTOR)?;
    while paint.unfinished > 0 {
        interrupt.check()?;
        let Some(id) = paint.pop() else {
            break;
        };
        let painted = paint
            .commits
            .get_mut(&id)
            .expect("queued commits are painted");
        let flags = painted.flags;
        if flags != BOTH {
            painted.unfinished -= 1;
            paint.unfinished -= 1;
        }
        for parent in painted.parents.clone() {
            paint.add(parent, flags)?;
        }
        if paint.commits[&ancestor].flags & FROM_COMMIT != 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The state of [`is_ancestor`]'s walk.
struct Paint<'o, 'r> {
    objects: &'o Objects<'r>,
    commits: HashMap<Oid, Painted>,
    /// Newest first, then first queued.
    queue: BinaryHeap<PaintEntry>,
    /// The entries queued with the ancestor's paint only, which may be
    /// taken ahead of the others.
    ancestor_side: BinaryHeap<PaintEntry>,
    /// The entries taken, by number, whose copy may still be queued.
    taken: HashSet<u64>,
    /// How many more may be.
    ahead: u64,
    queued: u64,
    /// Queue entries of commits that do not have both paints yet.
    unfinished: usize,
}

struct Painted {
    flags: u8,
    time: i64,
    parents: Vec<Oid>,
    /// Its entries counted in [`Paint::unfinished`].
    unfinished: usize,
}

/// A queued commit of [`is_ancestor_of_any`]: its time, the entry's
/// number (reversed: the first queued first), the commit.
type PaintEntry = (i64, std::cmp::Reverse<u64>, Oid);

impl Paint<'_, '_> {
    /// The next entry: the newest, unless it has the commits' paint and
    /// one with the ancestor's paint only may be taken ahead of it.
    fn pop(&mut self) -> Option<Oid> {
        let taken = &mut self.taken;
        let stale = |queue: &mut BinaryHeap<PaintEntry>, taken: &mut HashSet<u64>| {
            while let Some(&(_, std::cmp::Reverse(number), _)) = queue.peek() {
                match taken.remove(&number) {
                    true => queue.pop(),
                    false => break,
                };
            }
        };
        stale(&mut self.queue, taken);
        stale(&mut self.ancestor_side, taken);
        let (_, _, newest) = *self.queue.peek()?;
        let from_commit = self.commits[&newest].flags & FROM_COMMIT != 0;
        let ahead = from_commit && self.ahead > 0 && !self.ancestor_side.is_empty();
        let (_, std::cmp::Reverse(number), id) = match ahead {
            true => {
                self.ahead -= 1;
                self.ancestor_side.pop()?
            }
            false => {
                self.ahead += 1;
                self.queue.pop()?
            }
        };
        // Its copy in the other queue, if any, is stale.
        self.taken.insert(number);
        Some(id)
    }

    /// Adds `flags` to commit `id`, queuing it if that changes its paint.
    fn add(&mut self, id: Oid, flags: u8) -> Result<(), Error> {
        let painted = match self.commits.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let header = Header::parse(id, &read_raw(self.objects, id)?)?;
                e.insert(Painted {
                    flags: 0,
                    time: header.time,
                    parents: header.parents,
                    unfinished: 0,
                })
            }
        };
        if painted.flags | flags == painted.flags {
            return Ok(());
        }
        painted.flags |= flags;
        if painted.flags == BOTH {
            // Its queued entries no longer count.
            self.unfinished -= painted.unfinished;
            painted.unfinished = 0;
        } else {
            painted.unfinished += 1;
            self.unfinished += 1;
        }
        self.queued += 1;
        let entry = (painted.time, std::cmp::Reverse(self.queued), id);
        if painted.flags == FROM_ANCESTOR {
            self.ancestor_side.push(entry);
        }
        self.queue.push(entry);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commits at the given times: each `(time, parents)` by index.
    fn history(commits: &[(i64, &[usize])]) -> (tempfile::TempDir, Repository, Vec<Oid>) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let tree = repo.treebuilder(None).unwrap().write().unwrap();
        let mut ids: Vec<Oid> = Vec::new();
        for (i, (time, parents)) in commits.iter().enumerate() {
            let who =
                git2::Signature::new("T", "t@example.org", &git2::Time::new(*time, 0)).unwrap();
            let parents: Vec<git2::Commit> = parents
                .iter()
                .map(|&p| repo.find_commit(ids[p]).unwrap())
                .collect();
            let parents: Vec<&git2::Commit> = parents.iter().collect();
            let tree = repo.find_tree(tree).unwrap();
            let id = repo
                .commit(None, &who, &who, &format!("{i}"), &tree, &parents)
                .unwrap();
            ids.push(id);
        }
        (dir, repo, ids)
    }

    #[test]
    fn ancestry_does_not_depend_on_commit_times() {
        // 0 ← 1 ← 2 ← 4 (merge of 2 and 3), 3 a root; 5 a root; times
        // skewed every way.
        let (_dir, repo, ids) = history(&[
            (5_000, &[]),
            (100, &[0]),
            (9_000, &[1]),
            (50, &[]),
            (10, &[2, 3]),
            (20_000, &[]),
        ]);
        let objects = Objects::open(&repo).unwrap();
        let yes = |a: usize, c: usize| {
            is_ancestor_of_any(&objects, ids[a], &[ids[c]], Interrupt::new(None)).unwrap()
        };
        assert!(yes(0, 2) && yes(0, 4) && yes(3, 4) && yes(1, 4));
        assert!(!yes(2, 0) && !yes(5, 4) && !yes(3, 2) && !yes(4, 0));
        let any = |a: usize, c: &[usize]| {
            let c: Vec<Oid> = c.iter().map(|&c| ids[c]).collect();
            is_ancestor_of_any(&objects, ids[a], &c, Interrupt::new(None)).unwrap()
        };
        assert!(any(1, &[5, 2]) && any(3, &[2, 4]) && !any(2, &[5, 3, 1]));
        assert!(descends_from_any(&repo, ids[4], &[ids[5], ids[3]], Interrupt::new(None)).unwrap());
        assert!(
            !descends_from_any(&repo, ids[2], &[ids[5], ids[3]], Interrupt::new(None)).unwrap()
        );
    }
}
