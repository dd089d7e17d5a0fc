//! The scenario commands: a table from each command's usage (as
//! `test-repos/README.md` documents it, which a test checks) to its arity
//! and a small function.

use std::path::Path;

use git2::{ObjectType, Oid};

use super::super::craft;
use super::super::keys::{key_exists, spaced_fingerprint};
use super::{
    armor_public, authorizations_file, check_name, check_path, err, key_file, put, test_key, text,
    Builder, Entry, KeyringFile, Res, DEFAULT_KEYRING_BRANCH,
};

/// One command of the scenario language.
pub struct Command {
    /// The usage, as in `test-repos/README.md`; its first word is the name.
    pub usage: &'static str,
    /// The fewest and the most arguments (`None`: no limit).
    arity: (usize, Option<usize>),
    run: fn(&mut Builder, &Args) -> Res,
}

impl Command {
    /// The command's name: the first word of its usage.
    pub fn name(&self) -> &'static str {
        self.usage.split(' ').next().unwrap_or(self.usage)
    }

    /// Runs the command on these arguments, after checking their number.
    pub(super) fn run(&self, builder: &mut Builder, tokens: &[Vec<u8>]) -> Res {
        let (min, max) = self.arity;
        if tokens.len() < min || max.is_some_and(|m| tokens.len() > m) {
            return Err(format!(
                "{}: wrong number of arguments ({} given); usage: {} (see test-repos/README.md)",
                self.name(),
                tokens.len(),
                self.usage
            ));
        }
        let args = Args {
            command: self.name(),
            tokens,
        };
        (self.run)(builder, &args)
    }
}

/// The command named `name`.
pub fn command(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name() == name)
}

const fn cmd(
    usage: &'static str,
    min: usize,
    max: Option<usize>,
    run: fn(&mut Builder, &Args) -> Res,
) -> Command {
    Command {
        usage,
        arity: (min, max),
        run,
    }
}

const ANY: Option<usize> = None;
const fn exactly(n: usize) -> Option<usize> {
    Some(n)
}

/// Every command, in the order of `test-repos/README.md`.
pub const COMMANDS: &[Command] = &[
    // Keyring branches.
    cmd("keyring [BRANCH] KEY...", 1, ANY, keyring),
    cmd(
        "keyring-file BRANCH \"FILE NAME\" FORMAT KEY...",
        4,
        ANY,
        keyring_file,
    ),
    cmd(
        "keyring-raw BRANCH \"FILE NAME\" \"content\"",
        3,
        exactly(3),
        keyring_raw,
    ),
    cmd(
        "keyring-remove BRANCH \"FILE NAME\"",
        2,
        exactly(2),
        keyring_remove,
    ),
    cmd(
        "keyring-cut BRANCH \"FILE NAME\" FORMAT BYTES KEY...",
        5,
        ANY,
        keyring_cut,
    ),
    cmd(
        "keyring-generated BRANCH \"FILE NAME\" N [KEY...]",
        3,
        ANY,
        keyring_generated,
    ),
    cmd(
        "keyring-unbound BRANCH \"FILE NAME\" KEY",
        3,
        exactly(3),
        keyring_unbound,
    ),
    cmd(
        "remote-keyring REMOTE BRANCH",
        2,
        exactly(2),
        remote_keyring,
    ),
    // Working state of the current branch.
    cmd("authorize KEY...", 0, ANY, authorize),
    cmd("authorize-primary KEY...", 0, ANY, authorize_primary),
    cmd("write PATH \"content\"", 2, exactly(2), write),
    cmd("write-exec PATH \"content\"", 2, exactly(2), write_exec),
    cmd("write-key PATH FORMAT KEY...", 3, ANY, write_key),
    cmd("symlink PATH \"target\"", 2, exactly(2), symlink),
    cmd("mkdir-file PATH", 1, exactly(1), mkdir_file),
    cmd("remove PATH", 1, exactly(1), remove),
    cmd("append PATH \"content\" [N]", 2, exactly(3), append),
    cmd("gitlink PATH LABEL|ID", 2, exactly(2), gitlink),
    cmd("authorize-prefix N KEY...", 2, ANY, authorize_prefix),
    cmd("authorize-suffix N KEY...", 2, ANY, authorize_suffix),
    // History.
    cmd("commit LABEL [SIGNER [OPTION...]]", 1, ANY, commit),
    cmd("merge NAME LABEL [SIGNER [OPTION...]]", 2, ANY, merge),
    cmd(
        "octopus NAME,NAME... LABEL [SIGNER [OPTION...]]",
        2,
        ANY,
        octopus,
    ),
    cmd("branch NAME [LABEL]", 1, exactly(2), branch),
    cmd("checkout NAME", 1, exactly(1), checkout),
    cmd("orphan NAME", 1, exactly(1), orphan),
    cmd("reset LABEL", 1, exactly(1), reset),
    cmd("tag NAME LABEL", 2, exactly(2), tag),
    cmd("annotated-tag NAME LABEL", 2, exactly(2), annotated_tag),
    cmd("tag-tree NAME LABEL", 2, exactly(2), tag_tree),
    cmd("tag-blob NAME LABEL PATH", 3, exactly(3), tag_blob),
    cmd("tamper LABEL NEWLABEL", 2, exactly(2), tamper),
    cmd("head BRANCH", 1, exactly(1), head),
    cmd("clock SECONDS", 1, exactly(1), clock),
];

/// A command's arguments (the tokens after its name).
pub(super) struct Args<'a> {
    command: &'a str,
    tokens: &'a [Vec<u8>],
}

impl Args<'_> {
    fn text(&self, i: usize, what: &str) -> Res<String> {
        text(&self.tokens[i], what)
    }

    fn bytes(&self, i: usize) -> Vec<u8> {
        self.tokens[i].clone()
    }

    fn from(&self, i: usize) -> &[Vec<u8>] {
        &self.tokens[i..]
    }

    /// Argument `i` as a whole number; `complaint` follows it when it is not.
    fn number(&self, i: usize, what: &str, complaint: &str) -> Res<usize> {
        let word = self.text(i, what)?;
        word.parse()
            .map_err(|_| format!("{}: {word:?} {complaint}", self.command))
    }

    /// The `BRANCH "FILE NAME"` that keyring commands start with.
    fn branch_and_file(&self) -> Res<(String, String)> {
        Ok((self.text(0, "branch")?, self.text(1, "file name")?))
    }
}

// ---------------------------------------------------------------------------
// Keyring branches.

fn keyring(b: &mut Builder, a: &Args) -> Res {
    let first = a.text(0, "keyring argument")?;
    let (branch, keys) = if key_exists(&first) {
        (DEFAULT_KEYRING_BRANCH.to_string(), a.from(0))
    } else {
        (first, a.from(1))
    };
    if keys.is_empty() {
        return Err("keyring: no keys given".into());
    }
    let mut files = Vec::new();
    for k in keys {
        let name = text(k, "key name")?;
        let armored = test_key(&name)?.armored_public();
        files.push((
            format!("{name}.key"),
            armored,
            KeyringFile::Armored(vec![name]),
        ));
    }
    b.keyring_add(&branch, files)
}

fn keyring_file(b: &mut Builder, a: &Args) -> Res {
    let (branch, file) = a.branch_and_file()?;
    let (content, description) = key_file(&a.tokens[2], a.from(3))?;
    b.keyring_add(&branch, vec![(file, content, description)])
}

fn keyring_raw(b: &mut Builder, a: &Args) -> Res {
    let (branch, file) = a.branch_and_file()?;
    b.keyring_add_raw(&branch, file, a.bytes(2))
}

fn keyring_remove(b: &mut Builder, a: &Args) -> Res {
    let (branch, file) = a.branch_and_file()?;
    b.keyring_remove(&branch, &file)
}

fn keyring_cut(b: &mut Builder, a: &Args) -> Res {
    let (branch, file) = a.branch_and_file()?;
    let (content, _) = key_file(&a.tokens[2], a.from(4))?;
    let spec = a.text(3, "byte count")?;
    let number = |t: &str| {
        t.parse::<usize>()
            .map_err(|_| format!("keyring-cut: {spec:?} is not a byte count"))
    };
    let keep = match spec.strip_prefix('-') {
        Some(dropped) => content.len().saturating_sub(number(dropped)?),
        None => number(&spec)?,
    };
    if keep == 0 || keep >= content.len() {
        return Err(format!(
            "keyring-cut: keep 1 to {} bytes",
            content.len() - 1
        ));
    }
    b.keyring_add_raw(&branch, file, content[..keep].to_vec())
}

fn keyring_generated(b: &mut Builder, a: &Args) -> Res {
    let (branch, file) = a.branch_and_file()?;
    let n = a.number(2, "count", "is not a number")?;
    let mut binary = craft::generated_certificates(n);
    for k in a.from(3) {
        binary.extend(test_key(&text(k, "key name")?)?.binary_public());
    }
    b.keyring_add_raw(&branch, file, armor_public(&binary)?)
}

fn keyring_unbound(b: &mut Builder, a: &Args) -> Res {
    let (branch, file) = a.branch_and_file()?;
    let tk = test_key(&a.text(2, "key name")?)?;
    let content = armor_public(&craft::without_subkey_bindings(&tk))?;
    b.keyring_add_raw(&branch, file, content)
}

fn remote_keyring(b: &mut Builder, a: &Args) -> Res {
    b.remote_keyring(&a.text(0, "remote")?, &a.text(1, "branch")?)
}

// ---------------------------------------------------------------------------
// Working state of the current branch.

fn authorize(b: &mut Builder, a: &Args) -> Res {
    authorize_with(b, a, false)
}

fn authorize_primary(b: &mut Builder, a: &Args) -> Res {
    authorize_with(b, a, true)
}

/// `.guix-authorizations` listing the primary or the signing fingerprint
/// of every named key.
fn authorize_with(b: &mut Builder, a: &Args, primary: bool) -> Res {
    let mut entries = Vec::new();
    for k in a.from(0) {
        let name = text(k, "key name")?;
        let tk = test_key(&name)?;
        let fpr = if primary {
            tk.primary_fpr_spaced()
        } else {
            tk.signing_fpr_spaced()
        };
        entries.push((name, fpr));
    }
    let what = if primary {
        "primary-key fingerprints"
    } else {
        "signing-key fingerprints"
    };
    b.put_authorizations(&authorizations_file(&entries, what))
}

fn authorize_prefix(b: &mut Builder, a: &Args) -> Res {
    authorize_part(b, a, |fpr, n| &fpr[..n])
}

fn authorize_suffix(b: &mut Builder, a: &Args) -> Res {
    authorize_part(b, a, |fpr, n| &fpr[fpr.len() - n..])
}

/// `.guix-authorizations` listing only `n` digits of each key's signing
/// fingerprint, which `digits` picks.
fn authorize_part(b: &mut Builder, a: &Args, digits: fn(&str, usize) -> &str) -> Res {
    let n = a.number(0, "digit count", "is not a digit count")?;
    let mut entries = Vec::new();
    for k in a.from(1) {
        let name = text(k, "key name")?;
        let fpr = test_key(&name)?.signing_fpr;
        if n == 0 || n >= fpr.len() {
            return Err(format!("{}: keep 1 to {} digits", a.command, fpr.len() - 1));
        }
        entries.push((name, spaced_fingerprint(digits(&fpr, n))));
    }
    let comment = format!("{} {n}", a.command);
    b.put_authorizations(&authorizations_file(&entries, &comment))
}

fn write(b: &mut Builder, a: &Args) -> Res {
    b.put(&a.text(0, "path")?, Entry::Blob(a.bytes(1)))
}

fn write_exec(b: &mut Builder, a: &Args) -> Res {
    b.put(&a.text(0, "path")?, Entry::Exec(a.bytes(1)))
}

fn symlink(b: &mut Builder, a: &Args) -> Res {
    b.put(&a.text(0, "path")?, Entry::Link(a.bytes(1)))
}

fn write_key(b: &mut Builder, a: &Args) -> Res {
    let path = a.text(0, "path")?;
    let (content, _) = key_file(&a.tokens[1], a.from(2))?;
    b.put(&path, Entry::Blob(content))
}

fn mkdir_file(b: &mut Builder, a: &Args) -> Res {
    let path = a.text(0, "path")?;
    let readme = b"A directory where a file is expected.\n".to_vec();
    b.put(&format!("{path}/README"), Entry::Blob(readme))
}

fn remove(b: &mut Builder, a: &Args) -> Res {
    let path = a.text(0, "path")?;
    check_path(&path)?;
    let prefix = format!("{path}/");
    let before = b.state.len();
    b.state.retain(|k, _| k != &path && !k.starts_with(&prefix));
    if b.state.len() == before {
        return Err(format!("remove: no file {path:?}"));
    }
    b.dirty = true;
    Ok(())
}

fn append(b: &mut Builder, a: &Args) -> Res {
    let path = a.text(0, "path")?;
    let times = match a.tokens.get(2) {
        Some(_) => a
            .text(2, "count")?
            .parse()
            .map_err(|_| "append: the count is not a number".to_string())?,
        None => 1,
    };
    let (mut content, exec) = match b.state.get(&path) {
        None => (Vec::new(), false),
        Some(Entry::Blob(c)) => (c.clone(), false),
        Some(Entry::Exec(c)) => (c.clone(), true),
        Some(_) => return Err(format!("append: {path:?} is not a regular file")),
    };
    content.extend(a.tokens[1].repeat(times));
    let entry = if exec {
        Entry::Exec(content)
    } else {
        Entry::Blob(content)
    };
    b.put(&path, entry)
}

fn gitlink(b: &mut Builder, a: &Args) -> Res {
    let path = a.text(0, "path")?;
    let target = a.text(1, "commit")?;
    let oid = match b.labels.get(&target) {
        Some(oid) => *oid,
        None if target.len() == 40 => {
            Oid::from_str(&target).or_else(|e| err(e, &format!("gitlink: commit id {target:?}")))?
        }
        None => {
            return Err(format!(
                "gitlink: {target:?} is neither a label nor a 40-hex commit id"
            ))
        }
    };
    b.put(&path, Entry::Gitlink(oid))
}

// ---------------------------------------------------------------------------
// History.

fn commit(b: &mut Builder, a: &Args) -> Res {
    let label = b.new_label(&a.tokens[0])?;
    let (signer, info) = b.signer(a.from(1))?;
    let parents: Vec<Oid> = b.current_tip()?.into_iter().collect();
    let oid = b.commit(&parents, &label, signer)?;
    b.advance(label, oid, info, false)
}

fn merge(b: &mut Builder, a: &Args) -> Res {
    let named = a.text(0, "branch")?;
    merge_branches(b, a, &[named])
}

fn octopus(b: &mut Builder, a: &Args) -> Res {
    let named = a.text(0, "branch")?;
    let others: Vec<String> = named.split(',').map(str::to_string).collect();
    if others.len() < 2 {
        return Err("octopus: name two branches or more, separated by commas".into());
    }
    merge_branches(b, a, &others)
}

/// A merge of the current tip with the tips of `others`, whose files are
/// laid over the working state in order.
fn merge_branches(b: &mut Builder, a: &Args, others: &[String]) -> Res {
    let label = b.new_label(&a.tokens[1])?;
    let (signer, info) = b.signer(a.from(2))?;
    let ours = b
        .current_tip()?
        .ok_or_else(|| format!("{}: branch {} has no commit", a.command, b.branch))?;
    let mut parents = vec![ours];
    for other in others {
        let theirs = b
            .tip(other)?
            .ok_or_else(|| format!("{}: no branch {other:?}", a.command))?;
        for (path, entry) in b.commit_state(theirs)? {
            put(&mut b.state, &path, entry);
        }
        parents.push(theirs);
    }
    let oid = b.commit(&parents, &label, signer)?;
    b.advance(label, oid, info, true)
}

fn branch(b: &mut Builder, a: &Args) -> Res {
    let name = a.text(0, "branch")?;
    check_name(&name, "branch name")?;
    if b.tip(&name)?.is_some() {
        return Err(format!("branch: {name:?} already exists"));
    }
    let at = match a.tokens.get(1) {
        Some(_) => b.label(&a.text(1, "label")?)?,
        None => b
            .current_tip()?
            .ok_or_else(|| format!("branch: current branch {} has no commit", b.branch))?,
    };
    b.set_branch(&name, at)
}

fn checkout(b: &mut Builder, a: &Args) -> Res {
    let name = a.text(0, "branch")?;
    b.require_clean("checkout")?;
    let tip = b
        .tip(&name)?
        .ok_or_else(|| format!("checkout: no branch {name:?}"))?;
    b.state = b.commit_state(tip)?;
    b.branch = name;
    Ok(())
}

fn orphan(b: &mut Builder, a: &Args) -> Res {
    let name = a.text(0, "branch")?;
    check_name(&name, "branch name")?;
    b.require_clean("orphan")?;
    if b.tip(&name)?.is_some() {
        return Err(format!("orphan: branch {name:?} already exists"));
    }
    b.state.clear();
    b.branch = name;
    Ok(())
}

fn reset(b: &mut Builder, a: &Args) -> Res {
    let oid = b.label(&a.text(0, "label")?)?;
    b.require_clean("reset")?;
    b.state = b.commit_state(oid)?;
    b.set_branch(&b.branch.clone(), oid)
}

fn tag(b: &mut Builder, a: &Args) -> Res {
    let (name, oid) = tag_name_and_commit(b, a)?;
    b.next_time();
    let object = b
        .repo
        .find_object(oid, None)
        .or_else(|e| err(e, "find commit"))?;
    b.repo
        .tag_lightweight(&name, &object, false)
        .map(|_| ())
        .or_else(|e| err(e, "create tag"))
}

fn annotated_tag(b: &mut Builder, a: &Args) -> Res {
    let (name, oid) = tag_name_and_commit(b, a)?;
    b.annotated_tag(&name, oid)
}

fn tag_tree(b: &mut Builder, a: &Args) -> Res {
    let (name, commit) = tag_name_and_commit(b, a)?;
    let tree = b.commit_tree(commit)?.id();
    b.annotated_tag(&name, tree)
}

fn tag_blob(b: &mut Builder, a: &Args) -> Res {
    let (name, commit) = tag_name_and_commit(b, a)?;
    let path = a.text(2, "path")?;
    let blob = {
        let entry = b
            .commit_tree(commit)?
            .get_path(Path::new(&path))
            .or_else(|e| err(e, &format!("tag-blob: {path:?}")))?;
        if entry.kind() != Some(ObjectType::Blob) {
            return Err(format!("tag-blob: {path:?} is not a file"));
        }
        entry.id()
    };
    b.annotated_tag(&name, blob)
}

/// The `NAME LABEL` every tag command starts with.
fn tag_name_and_commit(b: &Builder, a: &Args) -> Res<(String, Oid)> {
    let name = a.text(0, "tag")?;
    check_name(&name, "tag name")?;
    Ok((name, b.label(&a.text(1, "label")?)?))
}

fn tamper(b: &mut Builder, a: &Args) -> Res {
    let original = a.text(0, "label")?;
    let oid = b.label(&original)?;
    let label = b.new_label(&a.tokens[1])?;
    b.require_clean("tamper")?;
    let odb = b.repo.odb().or_else(|e| err(e, "open odb"))?;
    let raw = odb
        .read(oid)
        .or_else(|e| err(e, "read commit"))?
        .data()
        .to_vec();
    let split = raw
        .windows(2)
        .position(|w| w == b"\n\n")
        .ok_or("tamper: commit has no message")?;
    let mut tampered = raw[..split + 2].to_vec();
    tampered.extend_from_slice(label.as_bytes());
    tampered.push(b'\n');
    let new = odb
        .write(ObjectType::Commit, &tampered)
        .or_else(|e| err(e, "write commit"))?;
    b.state = b.commit_state(new)?;
    b.set_branch(&b.branch.clone(), new)?;
    let mut info = b.info[&original].clone();
    info.tampered_from = Some(original);
    info.branch = b.branch.clone();
    b.labels.insert(label.clone(), new);
    b.info.insert(label, info);
    Ok(())
}

fn head(b: &mut Builder, a: &Args) -> Res {
    let name = a.text(0, "branch")?;
    check_name(&name, "branch name")?;
    b.head = Some(name);
    Ok(())
}

fn clock(b: &mut Builder, a: &Args) -> Res {
    let seconds = a.text(0, "time")?;
    b.clock = seconds
        .parse()
        .map_err(|_| format!("clock: {seconds:?} is not a number of seconds"))?;
    Ok(())
}
