//! `git-authenticate doctor`: the library's diagnosis, for people or CI.

use std::io::Write;

use git_authenticate::doctor::{self, BranchAuthorizations, Diagnosis, Finding, Problem, Severity};
use git_authenticate::gate::BranchPattern;
use git_authenticate::git2::{ObjectType, Repository};
use git_authenticate::{Error, Untrusted};
use serde::Serialize;

use super::args::{DoctorArgs, Format};
use super::{config, hooks, output, COULD_NOT_CHECK};

/// Version of the doctor's JSON document (`doc/doctor-schema.json`).
const SCHEMA_VERSION: u32 = 1;

/// Runs the doctor: 0 when nothing is an error, 1 otherwise, 2 when it
/// cannot check.
pub fn run(args: &DoctorArgs) -> u8 {
    let diagnosed = super::open(args.repository.as_deref())
        .map_err(|failure| failure.to_string())
        .and_then(|repo| Ok((diagnose(&repo, args)?, protected(&repo)?, repo)));
    match diagnosed {
        Ok((diagnosis, protected, repo)) => {
            match args.format {
                Format::Text => {
                    let relevance = Relevance {
                        repo: &repo,
                        protected: protected.as_deref().unwrap_or_default(),
                        branches: &diagnosis.authorizations,
                    };
                    text(&diagnosis, args.verbose, &relevance);
                    if let Some(protected) = &protected {
                        println!("{}", super::gate::describe_protected(protected));
                    }
                }
                Format::Json => json(&Document {
                    protected_branches: protected
                        .map(|patterns| patterns.iter().map(BranchPattern::full_name).collect()),
                    ..Document::from(&diagnosis)
                }),
            }
            u8::from(diagnosis.has_errors())
        }
        Err(message) => {
            output::usage(&message);
            if args.format == Format::Json {
                json(&Document::failed(message));
            }
            COULD_NOT_CHECK
        }
    }
}

/// The document of a doctor run whose arguments clap refused.
pub fn usage(message: &str) {
    json(&Document::failed(message.to_owned()));
}

fn diagnose(repo: &Repository, args: &DoctorArgs) -> Result<Diagnosis, String> {
    let options = doctor::Options {
        keyring_reference: args.keyring.clone(),
        ..doctor::Options::default()
    };
    let configured = config::configured(repo).map_err(|e| Error::from(e).to_string())?;
    let mut diagnosis = doctor::diagnose(repo, &configured, &options).map_err(|e| e.to_string())?;
    hooks::diagnose(repo)
        .into_iter()
        .for_each(|problem| diagnosis.add(problem));
    Ok(diagnosis)
}

/// What the server's gate protects, said for a bare repository (a server)
/// or one that lists protected branches; an invalid value is an error, as
/// the gate refuses to run with it.
fn protected(repo: &Repository) -> Result<Option<Vec<BranchPattern>>, String> {
    let protected = config::protected_branches(repo).map_err(|e| e.to_string())?;
    Ok((repo.is_bare() || !protected.is_empty()).then_some(protected))
}

/// The findings, most severe first, and a summary line. By default, those
/// of a kind share a line (the first finding, and how many more, named),
/// and notes that `relevance` finds about no branch that matters (a stale
/// feature branch) are only counted, as is the table of keys by branch
/// unless a note shown is about them; everything, each finding on its own,
/// with `verbose`.
fn text(diagnosis: &Diagnosis, verbose: bool, relevance: &Relevance) {
    let mut out = anstream::stdout().lock();
    let shown: Vec<&Finding> = diagnosis
        .findings
        .iter()
        .filter(|f| verbose || !relevance.about_other_branches(f))
        .collect();
    if verbose {
        for finding in &shown {
            let _ = writeln!(out, "{}: {}", finding.severity, finding.problem);
            let _ = writeln!(out, "  fix: {}", finding.problem.fix());
        }
    } else {
        for group in by_kind(&shown) {
            print_group(&mut out, &group);
        }
    }
    let table = verbose
        || shown
            .iter()
            .any(|f| f.problem.kind() == "authorized-on-some-branches");
    if table {
        authorization_table(&mut out, &diagnosis.authorizations);
    }
    let count = |s: Severity| {
        diagnosis
            .findings
            .iter()
            .filter(|f| f.severity == s)
            .count()
    };
    let hidden = diagnosis.findings.len() - shown.len();
    let more = match (hidden, table || diagnosis.authorizations.is_empty()) {
        (0, true) => String::new(),
        (0, false) => "; --verbose shows the keys authorized by branch".to_owned(),
        (1, _) => "; --verbose shows 1 more note and the keys authorized by branch".to_owned(),
        (n, _) => format!("; --verbose shows {n} more notes and the keys authorized by branch"),
    };
    let _ = writeln!(
        out,
        "{} ({}, {}, {}){more}",
        if diagnosis.has_errors() {
            "users' pulls will fail"
        } else {
            "no errors found"
        },
        plural(count(Severity::Error), "error"),
        plural(count(Severity::Warning), "warning"),
        plural(count(Severity::Note), "note"),
    );
}

/// The largest branch tip whose commit time is read, in bytes (real
/// commits are a few KiB; a hostile one may be anything).
const MAX_TIP: usize = 1 << 20;

/// Which branches matter to the findings about branches.
struct Relevance<'a> {
    repo: &'a Repository,
    /// What the server's gate protects.
    protected: &'a [BranchPattern],
    /// The branches' tips.
    branches: &'a [BranchAuthorizations],
}

impl Relevance<'_> {
    /// Whether a finding is a note about no branch that matters: a stale
    /// feature branch lacking a newer key, or a key that only old
    /// branches authorize (retired, or never merged).
    fn about_other_branches(&self, finding: &Finding) -> bool {
        if finding.severity != Severity::Note {
            return false;
        }
        if let Problem::AuthorizedOnSomeBranches {
            authorized_on,
            not_on,
            ..
        } = &finding.problem
        {
            return !self.awaited(authorized_on, not_on);
        }
        let branches = finding.problem.branches();
        !branches.is_empty() && !branches.into_iter().any(|b| self.matters(b))
    }

    /// Whether a branch that matters, among `not_on`, lacks a key that a
    /// newer branch authorizes (its tip committed no earlier): work still
    /// going on that may need the key there once merged. A key that only
    /// branches left behind authorize (a retired key) is no news. Commit
    /// times, not ancestry: one look-up per branch where ancestry walks
    /// whole histories (minutes on Guix's), for what only orders the
    /// output (JSON and `--verbose` have every finding).
    fn awaited(&self, authorized_on: &[String], not_on: &[String]) -> bool {
        not_on.iter().filter(|b| self.matters(b)).any(|base| {
            let Some(base) = self.tip_time(base) else {
                return true;
            };
            authorized_on
                .iter()
                .any(|b| self.tip_time(b).is_none_or(|time| time >= base))
        })
    }

    /// When `branch`'s tip was committed; `None` for a commit larger than
    /// [`MAX_TIP`], which libgit2 is not asked to inflate.
    fn tip_time(&self, branch: &str) -> Option<i64> {
        let tip = self.branches.iter().find(|b| b.branch == branch)?.tip;
        let (size, kind) = self.repo.odb().ok()?.read_header(tip).ok()?;
        if kind != ObjectType::Commit || size > MAX_TIP {
            return None;
        }
        Some(self.repo.find_commit(tip).ok()?.time().seconds())
    }

    fn matters(&self, branch: &str) -> bool {
        branch_matters(self.repo, self.protected, branch)
    }
}

/// The findings grouped by kind, in the order of their first finding
/// (most severe first). A finding that [`name`] cannot name in a few
/// words stands alone.
fn by_kind<'a>(findings: &[&'a Finding]) -> Vec<Vec<&'a Finding>> {
    let mut groups: Vec<Vec<&Finding>> = Vec::new();
    for &finding in findings {
        let kind = finding.problem.kind();
        let group = name(finding).and_then(|_| {
            groups
                .iter_mut()
                .find(|g| g[0].problem.kind() == kind && name(g[0]).is_some())
        });
        match group {
            Some(group) => group.push(finding),
            None => groups.push(vec![finding]),
        }
    }
    groups
}

/// How many more findings of a kind are named, after the first.
const NAMED: usize = 3;

/// One kind: its first finding and fix, and the others counted and named.
fn print_group(out: &mut impl Write, group: &[&Finding]) {
    let first = group[0];
    let others = &group[1..];
    let names: Vec<String> = others.iter().take(NAMED).filter_map(|f| name(f)).collect();
    let more = match others.len() {
        0 => String::new(),
        n => format!(
            " (and {n} more like it: {}{})",
            names.join(", "),
            if n > NAMED { ", …" } else { "" }
        ),
    };
    let _ = writeln!(out, "{}: {}{more}", first.severity, first.problem);
    let likewise = if others.is_empty() {
        ""
    } else {
        " (likewise for the others)"
    };
    let _ = writeln!(out, "  fix: {}{likewise}", first.problem.fix());
}

/// What a finding is about, in a few words: its key, file, branches or
/// commit (names from the repository shown escaped), if it says.
fn name(finding: &Finding) -> Option<String> {
    let problem = &finding.problem;
    if let Some(fingerprint) = problem.fingerprint() {
        return Some(fingerprint.to_string());
    }
    if let Some(path) = problem.path() {
        let shown = path.file_name().unwrap_or(path.as_os_str());
        return Some(format!("`{}`", Untrusted::new(&shown.to_string_lossy())));
    }
    let branches = problem.branches();
    if !branches.is_empty() {
        let names: Vec<String> = branches
            .iter()
            .map(|b| format!("`{}`", Untrusted::new(b)))
            .collect();
        return Some(names.join(" "));
    }
    problem.commit().map(|c| c.to_string())
}

/// Whether `branch` (`master`, `origin/master`, as the diagnosis names
/// branches) is one that users pull or pushes land on: the branch checked
/// out, the default branch (HEAD's, and each remote's `HEAD`), or one the
/// server's gate protects (on a remote-tracking branch, its name on the
/// remote).
fn branch_matters(repo: &Repository, protected: &[BranchPattern], branch: &str) -> bool {
    let head = repo
        .find_reference("HEAD")
        .ok()
        .and_then(|r| r.symbolic_target().ok().flatten().map(str::to_owned));
    if head.as_deref().and_then(|h| h.strip_prefix("refs/heads/")) == Some(branch) {
        return true;
    }
    let remote_default = repo
        .find_reference(&format!("refs/remotes/{}", remote_head(branch)))
        .ok()
        .and_then(|r| r.symbolic_target().ok().flatten().map(str::to_owned));
    if remote_default.as_deref() == Some(&format!("refs/remotes/{branch}")) {
        return true;
    }
    let on_remote = repo.remotes().ok().and_then(|remotes| {
        remotes
            .iter()
            .flatten()
            .flatten()
            .find_map(|remote| branch.strip_prefix(remote)?.strip_prefix('/'))
            .map(str::to_owned)
    });
    let name = on_remote.as_deref().unwrap_or(branch);
    protected.iter().any(|pattern| pattern.matches(name))
}

/// `origin/HEAD` for `origin/master`: the remote's default branch.
fn remote_head(branch: &str) -> String {
    match branch.split_once('/') {
        Some((remote, _)) => format!("{remote}/HEAD"),
        None => "HEAD".to_owned(),
    }
}

/// `1 error`, `2 errors`.
pub fn plural(n: usize, word: &str) -> String {
    match n {
        1 => format!("1 {word}"),
        n => format!("{n} {word}s"),
    }
}

/// Which branches authorize which keys, side by side: a key authorized on
/// one branch only shows before a merge needs it. One row per branch, one
/// column per key (numbered, the keys listed first), so that the table
/// stays narrow however many branches there are.
fn authorization_table(out: &mut impl Write, branches: &[BranchAuthorizations]) {
    if branches.is_empty() {
        return;
    }
    let mut keys: Vec<_> = branches.iter().flat_map(|b| &b.fingerprints).collect();
    keys.sort();
    keys.dedup();
    let _ = writeln!(out, "Authorized keys by branch (x: listed):");
    for (i, key) in keys.iter().enumerate() {
        let _ = writeln!(out, "  {:>3}  {key}", i + 1);
    }
    // Branch names come from the repository: shown escaped, padded as shown.
    let names: Vec<String> = branches
        .iter()
        .map(|b| Untrusted::new(&b.branch).to_string())
        .collect();
    let width = names.iter().map(String::len).max().unwrap_or(0);
    let numbers: Vec<String> = (1..=keys.len()).map(|i| format!("{i:>3}")).collect();
    let _ = writeln!(out, "  {:<width$} {}", "", numbers.concat());
    for (branch, name) in branches.iter().zip(&names) {
        let marks: String = keys
            .iter()
            .map(|key| match branch.fingerprints.contains(key) {
                true => "  x",
                false => "  -",
            })
            .collect();
        let _ = writeln!(out, "  {name:<width$} {marks}");
    }
}

#[derive(Serialize)]
struct Document {
    schema_version: u32,
    /// Whether the setup could be checked at all.
    checked: bool,
    /// No finding is an error.
    ok: bool,
    error: Option<String>,
    keyring: Option<String>,
    findings: Vec<JsonFinding>,
    authorizations: Vec<JsonBranch>,
    /// What the server's gate protects (full names or patterns, exactly as
    /// configured), for a bare repository or one listing protected
    /// branches; `None` otherwise.
    protected_branches: Option<Vec<String>>,
}

#[derive(Serialize)]
struct JsonFinding {
    severity: String,
    kind: &'static str,
    fingerprint: Option<String>,
    commit: Option<String>,
    branches: Vec<String>,
    path: Option<String>,
    message: String,
    fix: String,
}

#[derive(Serialize)]
struct JsonBranch {
    branch: String,
    tip: String,
    fingerprints: Vec<String>,
}

impl From<&Finding> for JsonFinding {
    fn from(f: &Finding) -> Self {
        JsonFinding {
            severity: f.severity.to_string(),
            kind: f.problem.kind(),
            fingerprint: f.problem.fingerprint().map(|k| k.to_hex()),
            commit: f.problem.commit().map(|c| c.to_string()),
            branches: f
                .problem
                .branches()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            path: f.problem.path().map(|p| p.display().to_string()),
            message: f.problem.to_string(),
            fix: f.problem.fix(),
        }
    }
}

impl From<&Diagnosis> for Document {
    fn from(d: &Diagnosis) -> Self {
        Document {
            schema_version: SCHEMA_VERSION,
            checked: true,
            ok: !d.has_errors(),
            error: None,
            keyring: Some(d.keyring.clone()),
            findings: d.findings.iter().map(JsonFinding::from).collect(),
            authorizations: d
                .authorizations
                .iter()
                .map(|b| JsonBranch {
                    branch: b.branch.clone(),
                    tip: b.tip.to_string(),
                    fingerprints: b.fingerprints.iter().map(|f| f.to_hex()).collect(),
                })
                .collect(),
            protected_branches: None,
        }
    }
}

impl Document {
    fn failed(error: String) -> Self {
        Document {
            schema_version: SCHEMA_VERSION,
            checked: false,
            ok: false,
            error: Some(error),
            keyring: None,
            findings: Vec::new(),
            authorizations: Vec::new(),
            protected_branches: None,
        }
    }
}

fn json(document: &Document) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, document);
    let _ = writeln!(out);
}
