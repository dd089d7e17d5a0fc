//! What the command prints: human text on standard error (statistics on
//! standard output), or one JSON document on standard output.
//!
//! The JSON fields are a stable interface, documented in doc/GUIDE.md.

use std::io::Write;

use anstyle::{AnsiColor, Style};
use git_authenticate::{Error, Fingerprint, Report};

use super::problem::Problem;
use serde::Serialize;

const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const HINT: Style = AnsiColor::Cyan.on_default().bold();

/// How much goes to standard error, from `--format` and `-q`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noise {
    /// Text: progress, information, warnings, every failure with its hint.
    Everything,
    /// JSON: one line saying how it went; the details are in the document.
    Summary,
    /// Text with `-q`: only errors, a history that is not authentic getting
    /// one line.
    ErrorsOnly,
    /// JSON with `-q`: only the errors that stop the check; the verdict is in
    /// the document and the exit status.
    FatalOnly,
}

impl Noise {
    /// The noise of a run with this format and quietness.
    pub fn new(json: bool, quiet: bool) -> Self {
        match (json, quiet) {
            (false, false) => Noise::Everything,
            (true, false) => Noise::Summary,
            (false, true) => Noise::ErrorsOnly,
            (true, true) => Noise::FatalOnly,
        }
    }

    /// Whether progress, information and warnings are printed.
    pub fn chatty(self) -> bool {
        self == Noise::Everything
    }

    /// Whether the line saying how it went (success, not checked) is
    /// printed.
    fn success_line(self) -> bool {
        matches!(self, Noise::Everything | Noise::Summary)
    }
}

/// An error on standard error, with its hint. Colours only on a terminal
/// and never with `NO_COLOR` (anstream strips them otherwise).
pub fn error(e: &dyn Problem) {
    let mut err = anstream::stderr().lock();
    let _ = writeln!(err, "{ERROR}error:{ERROR:#} {e}");
    if let Some(hint) = e.hint() {
        let _ = writeln!(err, "{HINT}hint:{HINT:#} {hint}");
    }
}

/// The most failures a text run prints, each with its hint: then a line
/// counts the others (`--keep-going` on a million unsigned commits).
pub const FAILURES_PRINTED: usize = 20;

/// The most failures the JSON document lists; `failure_count` counts them
/// all.
pub const FAILURES_LISTED: usize = 1000;

/// Why the history is not authentic: the first [`FAILURES_PRINTED`]
/// failures with their hints and a count of the others, or one line naming
/// the first and counting the others, or nothing, depending on `noise`.
/// The failures are in Guix's order; there is at least one.
///
/// After a merge (`after_merge`, the advice to print), the hints that say
/// how to re-sign are left out: the commits are someone else's, and the
/// merge is done already.
pub fn failures<P: Problem>(noise: Noise, failures: &[P], after_merge: Option<&str>) {
    let Some(first) = failures.first() else {
        return;
    };
    let (shown, hidden) = failures.split_at(failures.len().min(FAILURES_PRINTED));
    let not_shown = || {
        if !hidden.is_empty() {
            let n = hidden.len();
            let s = if n == 1 { "" } else { "s" };
            let _ = writeln!(
                anstream::stderr(),
                "{ERROR}error:{ERROR:#} … and {n} more failure{s}, not shown \
                 ({} in all; --format=json lists the first {FAILURES_LISTED})",
                failures.len()
            );
        }
    };
    if let (Noise::Everything, Some(advice)) = (noise, after_merge) {
        let mut err = anstream::stderr().lock();
        for e in shown {
            let _ = writeln!(err, "{ERROR}error:{ERROR:#} {e}");
        }
        drop(err);
        not_shown();
        let _ = writeln!(anstream::stderr(), "{HINT}hint:{HINT:#} {advice}");
        return;
    }
    let elsewhere = match noise {
        Noise::Everything => {
            shown.iter().for_each(|e| error(e));
            return not_shown();
        }
        Noise::FatalOnly => return,
        Noise::Summary if failures.len() > FAILURES_LISTED => {
            "the first are listed in the JSON document"
        }
        Noise::Summary => "listed in the JSON document",
        Noise::ErrorsOnly => "run without --quiet to list them",
    };
    let more = match failures.len() - 1 {
        0 => String::new(),
        1 => format!(" (and 1 more failure; {elsewhere})"),
        n => format!(" (and {n} more failures; {elsewhere})"),
    };
    let _ = writeln!(anstream::stderr(), "{ERROR}error:{ERROR:#} {first}{more}");
}

/// A usage problem (exit 2) on standard error.
pub fn usage(message: &str) {
    let _ = writeln!(anstream::stderr(), "{ERROR}error:{ERROR:#} {message}");
}

/// A warning on standard error, when chatty.
pub fn warning(noise: Noise, message: &str) {
    if noise.chatty() {
        let _ = writeln!(anstream::stderr(), "{WARNING}warning:{WARNING:#} {message}");
    }
}

/// Information on standard error, when chatty.
pub fn info(noise: Noise, message: &str) {
    if noise.chatty() {
        eprintln!("{message}");
    }
}

/// How a successful run went ("successfully authenticated…", "doing
/// nothing"), also in the JSON summary.
pub fn success(noise: Noise, message: &str) {
    if noise.success_line() {
        eprintln!("{message}");
    }
}

/// `--stats`, as Guix prints it; a run that checked nothing says why
/// (`nothing`, asked only then).
pub fn stats(signers: &[(Fingerprint, usize)], nothing: impl FnOnce() -> &'static str) {
    let mut out = std::io::stdout().lock();
    if signers.is_empty() {
        let _ = writeln!(out, "Signing statistics: {}", nothing());
        return;
    }
    let _ = writeln!(out, "Signing statistics:");
    for (signer, count) in signers {
        let _ = writeln!(out, "  {signer} {count:>10}");
    }
}

/// Version of the JSON document's format (`doc/schema.json`): raised when
/// a field changes meaning or goes away, not when one is added.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    outcome: Outcome,
    authentic: bool,
    skipped: Option<Skipped<'a>>,
    introduction: Option<Introduction>,
    end: Option<String>,
    keyring: &'a str,
    commits_checked: usize,
    signers: Vec<Signer>,
    /// The first [`FAILURES_LISTED`].
    failures: Vec<Failure>,
    /// How many failures there are, listed or not.
    failure_count: usize,
    warnings: Vec<String>,
}

/// What happened, in one word.
#[derive(Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum Outcome {
    /// END was checked and is authentic (status 0).
    Authentic,
    /// END was checked and is not authentic (status 1).
    NotAuthentic,
    /// It could not be checked (status 2).
    CouldNotCheck,
    /// END was not checked, and the status is 0 (the keyring branch).
    Skipped,
}

/// Why END was not checked.
#[derive(Serialize)]
struct Skipped<'a> {
    reason: &'static str,
    branch: &'a str,
    message: String,
}

#[derive(Serialize)]
struct Introduction {
    commit: String,
    signer: String,
}

impl Introduction {
    fn of(introduction: &git_authenticate::Introduction) -> Self {
        Introduction {
            commit: introduction.commit.to_string(),
            signer: introduction.signer.to_hex(),
        }
    }
}

#[derive(Serialize)]
struct Signer {
    fingerprint: String,
    commits: usize,
}

/// One failure in a JSON document.
#[derive(Serialize)]
pub struct Failure {
    commit: Option<String>,
    kind: &'static str,
    fingerprint: Option<String>,
    parents: Vec<String>,
    message: String,
    hint: Option<String>,
}

impl Failure {
    pub fn of(e: &dyn Problem) -> Self {
        Failure {
            commit: e.commit().map(|c| c.to_string()),
            kind: e.kind(),
            fingerprint: e.fingerprint().map(Fingerprint::to_hex),
            parents: e.parents().iter().map(ToString::to_string).collect(),
            message: e.to_string(),
            hint: e.hint(),
        }
    }

    /// A failure of `kind` about no commit or key: the run stopped before
    /// checking.
    pub fn stopped(kind: &'static str, message: &str) -> Self {
        Failure {
            commit: None,
            kind,
            fingerprint: None,
            parents: Vec::new(),
            message: message.to_owned(),
            hint: None,
        }
    }
}

/// What was asked, known before any checking.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub introduction: Option<git_authenticate::Introduction>,
    pub end: Option<git_authenticate::git2::Oid>,
    pub keyring: String,
    /// Run by the post-merge hook: what to say instead of the hints.
    pub after_merge: Option<String>,
}

/// The JSON document for a run. `report` is `None` when `failure`
/// stopped the run (without `--keep-going`, or when it could not check).
pub fn json(request: &Request, report: Option<&Report>, failure: Option<&Error>) {
    // A history found not authentic carries its report.
    let report = report.or_else(|| failure.and_then(Error::report));
    let failure = failure.filter(|e| e.report().is_none());
    let failures = report
        .map(|r| {
            let listed = r.failures.iter().take(FAILURES_LISTED);
            listed.map(|f| Failure::of(f)).collect()
        })
        .unwrap_or_default();
    let authentic = failure.is_none() && report.is_none_or(Report::is_authentic);
    let outcome = match failure {
        _ if authentic => Outcome::Authentic,
        Some(e) if !e.is_authentication_failure() => Outcome::CouldNotCheck,
        _ => Outcome::NotAuthentic,
    };
    let failure_count = report.map_or(0, |r| r.failures.len()) + usize::from(failure.is_some());
    let mut doc = Document {
        schema_version: SCHEMA_VERSION,
        outcome,
        authentic,
        skipped: None,
        introduction: request.introduction.as_ref().map(Introduction::of),
        end: request.end.map(|e| e.to_string()),
        keyring: &request.keyring,
        commits_checked: report.map_or(0, |r| r.checked),
        signers: report
            .map(|r| {
                r.signers
                    .iter()
                    .map(|(f, n)| Signer {
                        fingerprint: f.to_hex(),
                        commits: *n,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        failures,
        failure_count,
        warnings: report
            .map(|r| r.warnings.iter().map(ToString::to_string).collect())
            .unwrap_or_default(),
    };
    if let Some(e) = failure {
        doc.failures.push(Failure::of(e));
    }
    print_document(&doc);
}

/// The JSON document of a run that checked nothing, and why: never
/// `authentic`, though the status is 0.
pub fn json_skipped(request: &Request, skip: &super::Skip) {
    print_document(&Document {
        schema_version: SCHEMA_VERSION,
        outcome: Outcome::Skipped,
        authentic: false,
        skipped: Some(Skipped {
            reason: skip.kind(),
            branch: skip.branch(),
            message: skip.to_string(),
        }),
        introduction: request.introduction.as_ref().map(Introduction::of),
        end: request.end.map(|e| e.to_string()),
        keyring: &request.keyring,
        commits_checked: 0,
        signers: Vec::new(),
        failures: Vec::new(),
        failure_count: 0,
        warnings: Vec::new(),
    });
}

/// The JSON document of a run stopped before any checking: one failure
/// of kind `kind` (`repository`: it cannot be opened; `usage`, or the
/// library's kind of a malformed argument or configured value).
pub fn json_stopped(kind: &'static str, message: &str) {
    print_document(&Document {
        schema_version: SCHEMA_VERSION,
        outcome: Outcome::CouldNotCheck,
        authentic: false,
        skipped: None,
        introduction: None,
        end: None,
        keyring: "",
        commits_checked: 0,
        signers: Vec::new(),
        failures: vec![Failure::stopped(kind, message)],
        failure_count: 1,
        warnings: Vec::new(),
    });
}

fn print_document(doc: &Document) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, doc);
    let _ = writeln!(out);
}
