//! `git-authenticate doctor`: the library's diagnosis, for people or CI.

use std::io::Write;

use git_authenticate::doctor::{self, BranchAuthorizations, Diagnosis, Finding, Severity};
use git_authenticate::gate::BranchPattern;
use git_authenticate::git2::Repository;
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
        .and_then(|repo| Ok((diagnose(&repo, args)?, protected(&repo)?)));
    match diagnosed {
        Ok((diagnosis, protected)) => {
            match args.format {
                Format::Text => {
                    text(&diagnosis);
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

fn text(diagnosis: &Diagnosis) {
    let mut out = anstream::stdout().lock();
    for finding in &diagnosis.findings {
        let _ = writeln!(out, "{}: {}", finding.severity, finding.problem);
        let _ = writeln!(out, "  fix: {}", finding.problem.fix());
    }
    authorization_table(&mut out, &diagnosis.authorizations);
    let count = |s: Severity| {
        diagnosis
            .findings
            .iter()
            .filter(|f| f.severity == s)
            .count()
    };
    let _ = writeln!(
        out,
        "{} ({}, {}, {})",
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
