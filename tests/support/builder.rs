//! Executes scenarios: builds a real, non-bare git repository in a
//! temporary directory. See `test-repos/README.md` for the language.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use git2::{ObjectType, Oid, Repository};
use sequoia_openpgp::types::HashAlgorithm;

use super::craft::GpgsmHome;
use super::keys::{key, key_exists, TestKey};
use super::objects::{self, Person};
use super::script::{self, Line};
use super::sign::{self, ArmorTweak, GpgHome, Issuer, SequoiaOptions};

mod commands;

pub use commands::COMMANDS;

/// 2021-01-01T00:00:00Z: time of the first commit; each further commit,
/// tag or keyring commit is 60 s later.
pub const FIRST_COMMIT_TIME: i64 = 1_609_459_200;
/// Seconds between two consecutive objects.
pub const TIME_STEP: i64 = 60;
/// Author and committer of every commit, tagger of every tag.
pub const AUTHOR_NAME: &str = "Test Author";
/// See [`AUTHOR_NAME`].
pub const AUTHOR_EMAIL: &str = "author@example.org";
/// The branch a scenario starts on.
pub const INITIAL_BRANCH: &str = "master";
/// The default keyring branch of `keyring`.
pub const DEFAULT_KEYRING_BRANCH: &str = "keyring";

/// What a scenario built.
pub struct Built {
    /// The temporary directory holding everything; keep it alive.
    pub dir: tempfile::TempDir,
    /// The repository's work tree (`.git` is inside it).
    pub path: PathBuf,
    /// Commit labels (from `commit`, `merge`, `tamper`) to commit ids.
    pub labels: HashMap<String, Oid>,
    /// The expectation lines (`expect*`, `introduction`, `end`,
    /// `historical`, `keyring-ref`), verbatim as unescaped tokens, the
    /// command included, in file order.
    pub expectations: Vec<Vec<String>>,
    /// How each labelled commit was made.
    pub info: HashMap<String, LabelInfo>,
    /// Keyring references at the end (`keyring`, `origin/keyring`, ...):
    /// file name -> what it holds. Deleted branches are not listed.
    pub keyrings: BTreeMap<String, BTreeMap<String, KeyringFile>>,
    gpg: Option<GpgHome>,
}

/// How a labelled commit was made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelInfo {
    /// The SIGNER word as written: `alice`, `gpg:dave`, `ssh`, `raw`;
    /// `None` for an unsigned commit. For `tamper`, the original's.
    pub signer: Option<String>,
    /// Signing options as written (`sha1`, `text`, `also:bob`, ...).
    pub options: Vec<String>,
    /// Whether it is a merge commit.
    pub merge: bool,
    /// For `tamper`: the label of the commit it is a modified copy of
    /// (its signature does not match).
    pub tampered_from: Option<String>,
    /// The branch it was made on.
    pub branch: String,
}

/// The content of a file on a keyring branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyringFile {
    /// One ASCII-armor block holding these keys' public certificates.
    Armored(Vec<String>),
    /// One armor block per key, concatenated.
    ArmoredConcat(Vec<String>),
    /// Binary OpenPGP packets of these keys' public certificates.
    Binary(Vec<String>),
    /// Arbitrary bytes (`keyring-raw`).
    Raw(Vec<u8>),
}

impl Built {
    /// The commit labelled `label`; panics if there is none.
    pub fn oid(&self, label: &str) -> Oid {
        match self.labels.get(label) {
            Some(oid) => *oid,
            None => {
                let mut known: Vec<_> = self.labels.keys().collect();
                known.sort();
                panic!("no commit labelled {label:?}; labels: {known:?}")
            }
        }
    }

    /// Opens the repository.
    pub fn repo(&self) -> Repository {
        Repository::open(&self.path).expect("open built repository")
    }

    /// The GnuPG home used to sign `gpg:` commits, if the scenario had any
    /// (it holds every test key).
    pub fn gnupg_home(&self) -> Option<&Path> {
        self.gpg.as_ref().map(|g| g.path())
    }

    /// Runs the real `git` CLI in the work tree (with a clean, fixed
    /// identity environment). Does not check the exit status.
    pub fn git(&self, args: &[&str]) -> Output {
        git_command(&self.path)
            .args(args)
            .output()
            .expect("run git")
    }

    /// The expectation lines whose command is `command`.
    pub fn expectations_named(&self, command: &str) -> Vec<&Vec<String>> {
        self.expectations
            .iter()
            .filter(|e| e[0] == command)
            .collect()
    }
}

/// `git -C DIR` with a fixed identity and no user or system config.
pub fn git_command(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C")
        .arg(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", AUTHOR_NAME)
        .env("GIT_AUTHOR_EMAIL", AUTHOR_EMAIL)
        .env("GIT_COMMITTER_NAME", AUTHOR_NAME)
        .env("GIT_COMMITTER_EMAIL", AUTHOR_EMAIL)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE");
    c
}

/// Builds `test-repos/scenarios/<name>.scenario`.
pub fn build_scenario(name: &str) -> Built {
    let path = super::scenario_path(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read scenario {path:?}: {e}"));
    build(&path.display().to_string(), &text)
}

/// Builds a scenario given as text (errors name it `<inline>`).
pub fn build_scenario_text(text: &str) -> Built {
    build("<inline>", text)
}

fn build(source: &str, text: &str) -> Built {
    // What it signs with is required: a missing tool fails, naming its package.
    super::needs::scenario_tools(text);
    let lines = match script::parse(text) {
        Ok(lines) => lines,
        Err((line, msg)) => panic!("{source}:{line}: {msg}"),
    };
    let mut builder = Builder::new();
    for line in &lines {
        if let Err(msg) = builder.execute(line) {
            panic!("{source}:{}: {msg}", line.number);
        }
    }
    if let Err(msg) = builder.finish() {
        panic!("{source}: at end of scenario: {msg}");
    }
    builder.into_built()
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    Blob(Vec<u8>),
    Link(Vec<u8>),
    Exec(Vec<u8>),
    /// A submodule entry (mode 160000) naming a commit.
    Gitlink(Oid),
}

enum Signer {
    Unsigned,
    Sequoia(TestKey, SequoiaOptions),
    Gpg(TestKey, GpgOptions),
    Ssh,
    /// The real `gpgsm` (git's `gpg.format=x509`).
    X509,
    Raw(String),
    /// The `gpgsig` header of another commit, copied verbatim.
    Copy(String),
}

/// Options of a `gpg:KEY` signer.
#[derive(Default)]
struct GpgOptions {
    digest: Option<String>,
    text: bool,
    also: Vec<String>,
}

/// How a commit is signed: the signer, then where the signature goes and
/// what is done to its armor.
struct Signing {
    signer: Signer,
    /// The header field holding the signature (`gpgsig`).
    header: String,
    armor: ArmorTweak,
}

impl Signing {
    fn unsigned() -> Signing {
        Signing {
            signer: Signer::Unsigned,
            header: "gpgsig".into(),
            armor: ArmorTweak::Keep,
        }
    }
}

struct Builder {
    dir: tempfile::TempDir,
    path: PathBuf,
    repo: Repository,
    /// Working state of the current branch: path -> file.
    state: BTreeMap<String, Entry>,
    dirty: bool,
    branch: String,
    head: Option<String>,
    clock: i64,
    labels: HashMap<String, Oid>,
    info: HashMap<String, LabelInfo>,
    keyrings: BTreeMap<String, BTreeMap<String, KeyringFile>>,
    expectations: Vec<Vec<String>>,
    gpg: Option<GpgHome>,
    gpgsm: Option<GpgsmHome>,
    ssh_key: Option<PathBuf>,
}

type Res<T = ()> = Result<T, String>;

fn err<T>(e: impl std::fmt::Display, what: &str) -> Res<T> {
    Err(format!("{what}: {e}"))
}

fn text(token: &[u8], what: &str) -> Res<String> {
    String::from_utf8(token.to_vec()).map_err(|_| format!("{what} is not valid UTF-8"))
}

fn check_name(name: &str, what: &str) -> Res {
    let ok = !name.is_empty()
        && !name.starts_with(['-', '.', '/'])
        && !name.ends_with(['/', '.'])
        && !name.contains("..")
        && !name.contains("//")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./+".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid {what} {name:?}"))
    }
}

fn check_path(path: &str) -> Res {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.ends_with('/')
        || path.contains('\0')
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == ".." || c.eq_ignore_ascii_case(".git"));
    if bad {
        Err(format!("invalid path {path:?}"))
    } else {
        Ok(())
    }
}

fn test_key(name: &str) -> Res<TestKey> {
    if key_exists(name) {
        Ok(key(name))
    } else {
        Err(format!(
            "unknown key {name:?} (known: {})",
            super::keys::KEY_NAMES.join(", ")
        ))
    }
}

/// Inserts `entry` at `path`, removing files that would clash with it (a
/// file where a directory is needed, or a directory being replaced).
fn put(state: &mut BTreeMap<String, Entry>, path: &str, entry: Entry) {
    for (i, b) in path.bytes().enumerate() {
        if b == b'/' {
            state.remove(&path[..i]);
        }
    }
    let prefix = format!("{path}/");
    state.retain(|k, _| !k.starts_with(&prefix));
    state.insert(path.to_string(), entry);
}

fn read_tree(repo: &Repository, tree: &git2::Tree) -> Res<BTreeMap<String, Entry>> {
    let mut found = Vec::new();
    let mut state = BTreeMap::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
        let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
        match entry.kind() {
            Some(ObjectType::Blob) => {
                found.push((format!("{root}{name}"), entry.id(), entry.filemode()))
            }
            Some(ObjectType::Commit) => {
                state.insert(format!("{root}{name}"), Entry::Gitlink(entry.id()));
            }
            _ => {}
        }
        git2::TreeWalkResult::Ok
    })
    .or_else(|e| err(e, "walk tree"))?;
    for (path, oid, mode) in found {
        let blob = repo.find_blob(oid).or_else(|e| err(e, "read blob"))?;
        let content = blob.content().to_vec();
        let entry = match mode {
            0o120000 => Entry::Link(content),
            0o100755 => Entry::Exec(content),
            _ => Entry::Blob(content),
        };
        state.insert(path, entry);
    }
    Ok(state)
}

enum Node {
    File(Entry),
    Dir(BTreeMap<String, Node>),
}

fn write_tree(repo: &mut Repository, state: &BTreeMap<String, Entry>) -> Res<Oid> {
    let mut root = BTreeMap::new();
    for (path, entry) in state {
        let mut dir = &mut root;
        let mut components = path.split('/').peekable();
        while let Some(component) = components.next() {
            if components.peek().is_none() {
                dir.insert(component.to_string(), Node::File(entry.clone()));
            } else {
                let node = dir
                    .entry(component.to_string())
                    .or_insert_with(|| Node::Dir(BTreeMap::new()));
                dir = match node {
                    Node::Dir(d) => d,
                    Node::File(_) => return Err(format!("{path}: a parent is a file")),
                };
            }
        }
    }
    write_dir(repo, &root)
}

fn write_dir(repo: &mut Repository, dir: &BTreeMap<String, Node>) -> Res<Oid> {
    let mut entries = Vec::with_capacity(dir.len());
    for (name, node) in dir {
        let (mode, oid) = match node {
            Node::Dir(d) => (objects::DIRECTORY, write_dir(repo, d)?),
            Node::File(Entry::Blob(c)) => (objects::FILE, objects::blob(repo, c)?),
            Node::File(Entry::Exec(c)) => (objects::EXECUTABLE, objects::blob(repo, c)?),
            Node::File(Entry::Link(c)) => (objects::SYMLINK, objects::blob(repo, c)?),
            Node::File(Entry::Gitlink(id)) => (objects::GITLINK, *id),
        };
        entries.push((mode, name.clone(), oid));
    }
    objects::tree(repo, &entries)
}

/// The `.guix-authorizations` content listing `fingerprints` (name, fpr).
pub fn authorizations_file(entries: &[(String, String)], comment: &str) -> String {
    let mut out = String::new();
    out.push_str(";; Authorized signing keys of this test repository.\n");
    out.push_str(";; Generated by tests/support (");
    out.push_str(comment);
    out.push_str(").\n(authorizations\n (version 0)\n\n (");
    for (i, (name, fpr)) in entries.iter().enumerate() {
        if i > 0 {
            out.push_str("\n  ");
        }
        out.push_str(&format!(
            "(\"{fpr}\"\n   ;; {name}'s key\n   (name \"{name}\"))"
        ));
    }
    out.push_str("))\n");
    out
}

impl Builder {
    fn new() -> Builder {
        let dir = tempfile::Builder::new()
            .prefix("gah-repo.")
            .tempdir()
            .expect("create temporary directory");
        let path = dir.path().join("repo");
        let mut options = git2::RepositoryInitOptions::new();
        options.initial_head(INITIAL_BRANCH).mkdir(true);
        let repo = Repository::init_opts(&path, &options).expect("git init");
        {
            let mut config = repo.config().expect("repository config");
            config
                .set_str("user.name", AUTHOR_NAME)
                .expect("set user.name");
            config
                .set_str("user.email", AUTHOR_EMAIL)
                .expect("set user.email");
        }
        Builder {
            dir,
            path,
            repo,
            state: BTreeMap::new(),
            dirty: false,
            branch: INITIAL_BRANCH.to_string(),
            head: None,
            clock: FIRST_COMMIT_TIME,
            labels: HashMap::new(),
            info: HashMap::new(),
            keyrings: BTreeMap::new(),
            expectations: Vec::new(),
            gpg: None,
            gpgsm: None,
            ssh_key: None,
        }
    }

    fn into_built(self) -> Built {
        Built {
            dir: self.dir,
            path: self.path,
            labels: self.labels,
            expectations: self.expectations,
            info: self.info,
            keyrings: self.keyrings,
            gpg: self.gpg,
        }
    }

    fn execute(&mut self, line: &Line) -> Res {
        let name = line.command();
        if script::is_expectation(&name) {
            self.expectations.push(line.texts());
            return Ok(());
        }
        match commands::command(&name) {
            Some(command) => command.run(self, &line.tokens[1..]),
            None => Err(format!(
                "unknown command {name:?}; see test-repos/README.md"
            )),
        }
    }

    fn finish(&mut self) -> Res {
        if self.dirty {
            return Err(format!(
                "uncommitted changes on branch {} (add a commit)",
                self.branch
            ));
        }
        let head = self.head.clone().unwrap_or_else(|| self.branch.clone());
        let refname = format!("refs/heads/{head}");
        if self.tip(&head)?.is_none() && self.head.is_some() {
            return Err(format!("head: no branch {head:?}"));
        }
        self.repo
            .set_head(&refname)
            .or_else(|e| err(e, "set HEAD"))?;
        if self.tip(&head)?.is_some() {
            let mut checkout = git2::build::CheckoutBuilder::new();
            checkout.force().remove_untracked(true);
            self.repo
                .checkout_head(Some(&mut checkout))
                .or_else(|e| err(e, "checkout HEAD"))?;
        }
        Ok(())
    }

    fn require_clean(&self, what: &str) -> Res {
        if self.dirty {
            Err(format!(
                "{what}: uncommitted changes on branch {} (commit them first)",
                self.branch
            ))
        } else {
            Ok(())
        }
    }

    fn put(&mut self, path: &str, entry: Entry) -> Res {
        check_path(path)?;
        put(&mut self.state, path, entry);
        self.dirty = true;
        Ok(())
    }

    fn new_label(&self, token: &[u8]) -> Res<String> {
        let label = text(token, "label")?;
        check_name(&label, "label")?;
        if self.labels.contains_key(&label) {
            return Err(format!("label {label:?} is already used"));
        }
        Ok(label)
    }

    fn label(&self, label: &str) -> Res<Oid> {
        self.labels
            .get(label)
            .copied()
            .ok_or_else(|| format!("no commit labelled {label:?} (yet)"))
    }

    fn record(&mut self, label: String, oid: Oid, mut info: LabelInfo, merge: bool) {
        info.merge = merge;
        info.branch = self.branch.clone();
        self.labels.insert(label.clone(), oid);
        self.info.insert(label, info);
    }

    fn tip(&self, branch: &str) -> Res<Option<Oid>> {
        match self.repo.refname_to_id(&format!("refs/heads/{branch}")) {
            Ok(oid) => Ok(Some(oid)),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => err(e, &format!("resolve branch {branch:?}")),
        }
    }

    fn set_branch(&self, branch: &str, oid: Oid) -> Res {
        check_name(branch, "branch name")?;
        objects::set_branch(&self.repo, branch, oid)
    }

    fn current_tip(&self) -> Res<Option<Oid>> {
        self.tip(&self.branch)
    }

    /// Moves the current branch to its new commit `oid`, labelled `label`.
    fn advance(&mut self, label: String, oid: Oid, info: LabelInfo, merge: bool) -> Res {
        self.set_branch(&self.branch.clone(), oid)?;
        self.dirty = false;
        self.record(label, oid, info, merge);
        Ok(())
    }

    fn commit_tree(&self, commit: Oid) -> Res<git2::Tree<'_>> {
        self.repo
            .find_commit(commit)
            .and_then(|c| c.tree())
            .or_else(|e| err(e, "commit tree"))
    }

    /// An annotated tag object NAME pointing at `target` (any object).
    fn annotated_tag(&mut self, name: &str, target: Oid) -> Res {
        let tagger = self.next_signature()?;
        let object = self
            .repo
            .find_object(target, None)
            .or_else(|e| err(e, "find object"))?;
        self.repo
            .tag(name, &object, &tagger, &format!("{name}\n"), false)
            .map(|_| ())
            .or_else(|e| err(e, "create annotated tag"))
    }

    fn put_authorizations(&mut self, content: &str) -> Res {
        let content = content.as_bytes().to_vec();
        self.put(".guix-authorizations", Entry::Blob(content))
    }

    fn commit_state(&self, oid: Oid) -> Res<BTreeMap<String, Entry>> {
        let commit = self
            .repo
            .find_commit(oid)
            .or_else(|e| err(e, "find commit"))?;
        let tree = commit.tree().or_else(|e| err(e, "commit tree"))?;
        read_tree(&self.repo, &tree)
    }

    fn next_time(&mut self) -> i64 {
        let t = self.clock;
        self.clock += TIME_STEP;
        t
    }

    fn next_signature(&mut self) -> Res<git2::Signature<'static>> {
        let t = self.next_time();
        git2::Signature::new(AUTHOR_NAME, AUTHOR_EMAIL, &git2::Time::new(t, 0))
            .or_else(|e| err(e, "signature"))
    }

    /// Parses `[SIGNER [OPTION...]]`.
    fn signer(&mut self, args: &[Vec<u8>]) -> Res<(Signing, LabelInfo)> {
        let mut info = LabelInfo::default();
        let mut signing = Signing::unsigned();
        let Some(first) = args.first() else {
            return Ok((signing, info));
        };
        let word = text(first, "signer")?;
        let options: Vec<String> = args[1..]
            .iter()
            .map(|o| text(o, "option"))
            .collect::<Res<_>>()?;
        info.signer = Some(word.clone());
        if word == "raw" {
            if args.len() != 2 {
                return Err("raw: exactly one argument (the gpgsig content) expected".into());
            }
            info.options = vec![];
            signing.signer = Signer::Raw(options[0].clone());
            return Ok((signing, info));
        }
        info.options = options.clone();
        // What any other signer takes: where the signature goes, and what
        // is done to its armor.
        let mut rest = Vec::new();
        for o in &options {
            if let Some(header) = o.strip_prefix("header:") {
                if header.is_empty()
                    || !header
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                {
                    return Err(format!("invalid header field name {header:?}"));
                }
                signing.header = header.to_string();
            } else if o == "bad-crc" {
                signing.armor = ArmorTweak::BadCrc;
            } else if o == "no-crc" {
                signing.armor = ArmorTweak::NoCrc;
            } else {
                rest.push(o.clone());
            }
        }
        let no_options = |what: &str| -> Res {
            if rest.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{what}: takes no options but header:NAME, bad-crc and no-crc"
                ))
            }
        };
        if word == "ssh" || word == "x509" {
            no_options(&word)?;
            signing.signer = if word == "ssh" {
                Signer::Ssh
            } else {
                Signer::X509
            };
            return Ok((signing, info));
        }
        if let Some(label) = word.strip_prefix("copy:") {
            self.label(label)?;
            no_options(&word)?;
            signing.signer = Signer::Copy(label.to_string());
            return Ok((signing, info));
        }
        if let Some(name) = word.strip_prefix("gpg:") {
            let tk = test_key(name)?;
            let mut opts = GpgOptions::default();
            for o in &rest {
                match o.as_str() {
                    "sha1" | "sha256" | "sha512" => {
                        if opts.digest.is_some() {
                            return Err("gpg signer: at most one of sha1, sha256, sha512".into());
                        }
                        opts.digest = Some(o.to_uppercase());
                    }
                    "text" => opts.text = true,
                    other => match other.strip_prefix("also:") {
                        Some(name) => {
                            test_key(name)?;
                            opts.also.push(name.to_string());
                        }
                        None => return Err(format!("gpg signer: unknown option {o:?}")),
                    },
                }
            }
            signing.signer = Signer::Gpg(tk, opts);
            return Ok((signing, info));
        }
        let tk = test_key(&word)?;
        let mut opts = SequoiaOptions::default();
        for o in &rest {
            match o.as_str() {
                "sha1" => opts.hash = HashAlgorithm::SHA1,
                "md5" => opts.hash = HashAlgorithm::MD5,
                "sha256" => opts.hash = HashAlgorithm::SHA256,
                "sha512" => opts.hash = HashAlgorithm::SHA512,
                "text" => opts.text = true,
                "two-sigs" => opts.two_sigs = true,
                "no-issuer-fpr" => opts.issuer_fpr = Issuer::Omitted,
                "no-issuer-id" => opts.issuer_id = Issuer::Omitted,
                other => {
                    if let Some(name) = other.strip_prefix("also:") {
                        test_key(name)?;
                        opts.also.push(name.to_string());
                    } else if let Some(name) = other.strip_prefix("issuer-fpr:") {
                        test_key(name)?;
                        opts.issuer_fpr = Issuer::Key(name.to_string());
                    } else if let Some(name) = other.strip_prefix("issuer-id:") {
                        test_key(name)?;
                        opts.issuer_id = Issuer::Key(name.to_string());
                    } else {
                        return Err(format!("unknown signing option {other:?}"));
                    }
                }
            }
        }
        signing.signer = Signer::Sequoia(tk, opts);
        Ok((signing, info))
    }

    /// Writes a commit of the working state with these parents, signed as
    /// asked, and returns its id (no reference is moved).
    fn commit(&mut self, parents: &[Oid], message: &str, signing: Signing) -> Res<Oid> {
        let who = Person {
            name: AUTHOR_NAME,
            email: AUTHOR_EMAIL,
            time: self.next_time(),
        };
        let tree = write_tree(&mut self.repo, &self.state)?;
        let content = objects::commit_buffer(tree, parents, &who, &format!("{message}\n"));
        let signature = self.signature(&content, who.time, signing.signer)?;
        let Some(signature) = signature else {
            return objects::commit(&mut self.repo, &content, None);
        };
        let signature = sign::tweak_armor(&signature, signing.armor)?;
        // git stores the signature without its final newline.
        let signature = signature.strip_suffix('\n').unwrap_or(&signature);
        objects::commit(&mut self.repo, &content, Some((&signing.header, signature)))
    }

    /// The signature of commit `content` made at `time`; `None` unsigned.
    fn signature(&mut self, content: &str, time: i64, signer: Signer) -> Res<Option<String>> {
        let signature = match signer {
            Signer::Unsigned => return Ok(None),
            Signer::Sequoia(tk, opts) => sign::sequoia_sign(&tk, content.as_bytes(), time, &opts)?,
            Signer::Gpg(tk, opts) => {
                let home = self.gpg_home()?;
                // Like a user whose `user.signingkey` is the primary key
                // fingerprint: gpg picks the signing (sub)key itself.
                let mut ids = vec![tk.primary_fpr.clone()];
                ids.extend(opts.also.iter().map(|name| key(name).primary_fpr));
                let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                home.sign_with(
                    &ids,
                    content.as_bytes(),
                    time,
                    opts.digest.as_deref(),
                    opts.text,
                )?
            }
            Signer::X509 => {
                if self.gpgsm.is_none() {
                    self.gpgsm = Some(GpgsmHome::new()?);
                }
                self.gpgsm.as_ref().unwrap().sign(content.as_bytes())?
            }
            Signer::Copy(label) => {
                let commit = self
                    .repo
                    .find_commit(self.label(&label)?)
                    .or_else(|e| err(e, "find commit"))?;
                let field = commit
                    .header_field_bytes("gpgsig")
                    .or_else(|e| err(e, &format!("copy:{label}: no gpgsig header")))?;
                String::from_utf8(field.to_vec())
                    .map_err(|_| format!("copy:{label}: gpgsig is not UTF-8"))?
            }
            Signer::Ssh => {
                if self.ssh_key.is_none() {
                    super::needs::tool("ssh-keygen", "openssh-client");
                    self.ssh_key = Some(sign::install_ssh_key(self.dir.path()));
                }
                sign::ssh_sign(self.ssh_key.as_ref().unwrap(), content.as_bytes())?
            }
            Signer::Raw(raw) => raw,
        };
        Ok(Some(signature))
    }

    fn gpg_home(&mut self) -> Res<&GpgHome> {
        if self.gpg.is_none() {
            // Fails, naming the package, without gpg.
            self.gpg = Some(GpgHome::new());
        }
        Ok(self.gpg.as_ref().unwrap())
    }

    fn keyring_add(&mut self, branch: &str, files: Vec<(String, Vec<u8>, KeyringFile)>) -> Res {
        check_name(branch, "branch name")?;
        if branch == self.branch {
            return Err(format!("{branch:?} is the current branch"));
        }
        let parent = self.tip(branch)?;
        let mut state = match parent {
            Some(p) => self.commit_state(p)?,
            None => BTreeMap::new(),
        };
        let mut names = Vec::new();
        let record = self.keyrings.entry(branch.to_string()).or_default();
        for (name, content, description) in files {
            if name.is_empty() || name.contains('/') || name.contains('\0') || name == ".git" {
                return Err(format!("invalid keyring file name {name:?}"));
            }
            state.insert(name.clone(), Entry::Blob(content));
            record.insert(name.clone(), description);
            names.push(name);
        }
        let message = format!("Add {}.", names.join(", "));
        self.keyring_commit(branch, parent, &state, &message)
    }

    /// Adds one file of arbitrary bytes to a keyring branch.
    fn keyring_add_raw(&mut self, branch: &str, file: String, content: Vec<u8>) -> Res {
        let description = KeyringFile::Raw(content.clone());
        self.keyring_add(branch, vec![(file, content, description)])
    }

    fn keyring_remove(&mut self, branch: &str, file: &str) -> Res {
        let parent = self
            .tip(branch)?
            .ok_or_else(|| format!("keyring-remove: no branch {branch:?}"))?;
        if branch == self.branch {
            return Err(format!("{branch:?} is the current branch"));
        }
        let mut state = self.commit_state(parent)?;
        if state.remove(file).is_none() {
            return Err(format!("keyring-remove: no file {file:?} on {branch}"));
        }
        if let Some(r) = self.keyrings.get_mut(branch) {
            r.remove(file);
        }
        self.keyring_commit(branch, Some(parent), &state, &format!("Remove {file}."))
    }

    fn keyring_commit(
        &mut self,
        branch: &str,
        parent: Option<Oid>,
        state: &BTreeMap<String, Entry>,
        message: &str,
    ) -> Res {
        let saved = std::mem::replace(&mut self.state, state.clone());
        let result = self.commit(
            &parent.into_iter().collect::<Vec<_>>(),
            message,
            Signing::unsigned(),
        );
        self.state = saved;
        self.set_branch(branch, result?)
    }

    fn remote_keyring(&mut self, remote: &str, branch: &str) -> Res {
        check_name(remote, "remote name")?;
        if branch == self.branch || self.head.as_deref() == Some(branch) {
            return Err(format!("remote-keyring: {branch:?} is the current branch"));
        }
        let oid = self
            .tip(branch)?
            .ok_or_else(|| format!("remote-keyring: no branch {branch:?}"))?;
        self.repo
            .reference(
                &format!("refs/remotes/{remote}/{branch}"),
                oid,
                true,
                "scenario",
            )
            .or_else(|e| err(e, "create remote-tracking reference"))?;
        self.repo
            .find_reference(&format!("refs/heads/{branch}"))
            .and_then(|mut r| r.delete())
            .or_else(|e| err(e, "delete local branch"))?;
        if let Some(files) = self.keyrings.remove(branch) {
            self.keyrings.insert(format!("{remote}/{branch}"), files);
        }
        Ok(())
    }
}

/// The content of a key file holding the public certificates of `keys`
/// in `format` (`armored`, `armored-concat` or `binary`).
fn key_file(format: &[u8], keys: &[Vec<u8>]) -> Res<(Vec<u8>, KeyringFile)> {
    let format = text(format, "format")?;
    let mut names = Vec::new();
    let mut content = Vec::new();
    for k in keys {
        let name = text(k, "key name")?;
        let tk = test_key(&name)?;
        match format.as_str() {
            "binary" | "armored" | "armored-bad-crc" | "armored-no-crc" => {
                content.extend(tk.binary_public())
            }
            "armored-concat" => content.extend(tk.armored_public()),
            other => {
                return Err(format!(
                    "key file format must be armored, armored-concat, binary, armored-bad-crc \
                     or armored-no-crc, not {other:?}"
                ))
            }
        }
        names.push(name);
    }
    Ok(match format.as_str() {
        "binary" => (content, KeyringFile::Binary(names)),
        "armored" => (armor_public(&content)?, KeyringFile::Armored(names)),
        "armored-bad-crc" | "armored-no-crc" => {
            let tweak = if format == "armored-bad-crc" {
                ArmorTweak::BadCrc
            } else {
                ArmorTweak::NoCrc
            };
            let armored = String::from_utf8(armor_public(&content)?)
                .map_err(|_| "armor is not UTF-8".to_string())?;
            let tweaked = sign::tweak_armor(&armored, tweak)?.into_bytes();
            (tweaked.clone(), KeyringFile::Raw(tweaked))
        }
        _ => (content, KeyringFile::ArmoredConcat(names)),
    })
}

/// Puts binary certificates into one ASCII-armor block.
fn armor_public(binary: &[u8]) -> Res<Vec<u8>> {
    use sequoia_openpgp::armor;
    use std::io::Write;
    let mut writer =
        armor::Writer::new(Vec::new(), armor::Kind::PublicKey).or_else(|e| err(e, "armor"))?;
    writer.write_all(binary).or_else(|e| err(e, "armor"))?;
    writer.finalize().or_else(|e| err(e, "armor"))
}
