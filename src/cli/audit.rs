//! `git-authenticate audit`: the library's trust audit, as text for people
//! or one JSON document (`doc/audit-schema.json`).

mod html;

use std::io::Write;

use git_authenticate::audit::{AuditedKey, Change, CommitAt, Finding, Line, NamedKey, Severity};
use git_authenticate::git2::Repository;
use git_authenticate::{
    audit, resolve_commit, Audit, AuditOptions, Error, Fingerprint, Introduction, Keyring, Options,
    Untrusted,
};
use serde::Serialize;

use super::args::{AuditArgs, Format};
use super::output::{self, Noise};
use super::{config, COULD_NOT_CHECK, NOT_AUTHENTIC};

/// Version of the audit's JSON document (`doc/audit-schema.json`).
const SCHEMA_VERSION: u32 = 1;

/// Runs the audit: 0 when done, 1 when the range is not authentic, 2 when
/// it cannot be checked.
pub fn run(args: &AuditArgs) -> u8 {
    let noise = Noise::new(args.format == Format::Json, false);
    let repo = match super::open(args.repository.as_deref()) {
        Ok(repo) => repo,
        Err(failure) => return failed(args, &failure.to_string()),
    };
    let (introduction, options, end) = match request(&repo, args) {
        Ok(request) => request,
        Err(message) => return failed(args, &message),
    };
    match audit(&repo, &introduction, end, &options) {
        Ok(report) => {
            let document = Document::of(&report);
            if let Some(file) = &args.html {
                if let Err(e) = std::fs::write(file, html::page(&report, &document)) {
                    return failed(args, &format!("{}: {e}", file.display()));
                }
            }
            match args.format {
                Format::Text => text(&report),
                Format::Json => json(&document),
            }
            0
        }
        Err(Error::NotAuthentic(report)) => {
            output::failures(noise, &report.failures, None);
            if args.format == Format::Json {
                json(&Document::failed(
                    "the range is not authentic: nothing audited",
                ));
            }
            NOT_AUTHENTIC
        }
        Err(e) => {
            output::error(&e);
            if args.format == Format::Json {
                json(&Document::failed(&e.to_string()));
            }
            COULD_NOT_CHECK
        }
    }
}

fn failed(args: &AuditArgs, message: &str) -> u8 {
    output::usage(message);
    if args.format == Format::Json {
        json(&Document::failed(message));
    }
    COULD_NOT_CHECK
}

/// The introduction (given, else configured), the options and END.
fn request(
    repo: &Repository,
    args: &AuditArgs,
) -> Result<(Introduction, AuditOptions, git_authenticate::git2::Oid), String> {
    let configured = config::configured(repo).map_err(|e| Error::from(e).to_string())?;
    let introduction = match (&args.commit, args.signer.is_empty()) {
        (Some(commit), false) => {
            Introduction::new(commit, &args.signer.join(" ")).map_err(|e| e.to_string())?
        }
        (Some(_), true) => {
            return Err("wrong number of arguments; expected COMMIT and SIGNER".into())
        }
        (None, _) => configured
            .introduction()
            .ok_or(
                "unknown introductory commit and signer: give COMMIT and SIGNER, or run \
                    `git-authenticate COMMIT SIGNER` once to record them",
            )?
            .map_err(|e| format!("in the repository's configuration: {e}"))?,
    };
    let keyring_reference = args
        .keyring
        .clone()
        .or(configured.keyring)
        .unwrap_or_else(|| Keyring::DEFAULT_REFERENCE.to_owned());
    let end = args.end.as_deref().unwrap_or("HEAD");
    let end = resolve_commit(repo, end).map_err(|e| e.to_string())?;
    let mut options = AuditOptions::default();
    options.authentication = Options {
        keyring_reference,
        jobs: args.jobs,
        ..Options::default()
    };
    Ok((introduction, options, end))
}

fn json(document: &Document) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, document);
    let _ = writeln!(out);
}

/// A date, `YYYY-MM-DD`.
fn date(time: i64) -> String {
    git_authenticate::audit::date(time)
}

/// A short commit id for tables.
fn short(commit: &CommitAt) -> String {
    commit.commit.to_string()[..12].to_owned()
}

/// A key's name, escaped, or `?`.
fn name(name: &Option<String>) -> String {
    name.as_deref()
        .map_or_else(|| "?".to_owned(), |n| Untrusted::new(n).to_string())
}

fn text(report: &Audit) {
    let mut out = anstream::stdout().lock();
    let _ = summary(&mut out, report)
        .and_then(|()| changes(&mut out, report))
        .and_then(|()| keys(&mut out, report))
        .and_then(|()| findings(&mut out, report));
}

/// The most keys the summary names one by one, so that it stays one
/// screen.
const SUMMARY_KEYS: usize = 12;

fn summary(out: &mut impl Write, report: &Audit) -> std::io::Result<()> {
    let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
    let later = report.changes.iter().filter(|c| !c.introduction).count();
    writeln!(
        out,
        "Audit of {} commits, {} (introduction, signed by {}) to {} ({})",
        report.commits,
        report.introduction.commit,
        report.introduction.signer,
        report.end.commit,
        date(report.end.time)
    )?;
    writeln!(
        out,
        "  {} changes of .guix-authorizations after the introduction ({} on side branches)",
        later,
        report
            .changes
            .iter()
            .filter(|c| c.line == Line::SideBranch)
            .count()
    )?;
    writeln!(
        out,
        "  {} keys ever authorized or signing; {} authorized at END",
        report.keys.len(),
        report.authorized_at_end.len()
    )?;
    writeln!(
        out,
        "  findings: {} critical, {} warnings, {} notes",
        count(Severity::Critical),
        count(Severity::Warning),
        count(Severity::Info)
    )?;
    for severity in [Severity::Critical, Severity::Warning] {
        let mut kinds: Vec<(&str, usize)> = Vec::new();
        for finding in report.findings.iter().filter(|f| f.severity == severity) {
            match kinds
                .iter_mut()
                .find(|(kind, _)| *kind == finding.kind.name())
            {
                Some((_, n)) => *n += 1,
                None => kinds.push((finding.kind.name(), 1)),
            }
        }
        if !kinds.is_empty() {
            let listed: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
            writeln!(out, "    {}: {}", severity.name(), listed.join(", "))?;
        }
    }
    if report.authorized_at_end.len() > SUMMARY_KEYS {
        return writeln!(
            out,
            "  {} keys may sign (see the keys below)",
            report.authorized_at_end.len()
        );
    }
    for key in report.keys.iter().filter(|k| k.authorized_at_end) {
        writeln!(
            out,
            "  may sign: {} {} (last signed {})",
            key.fingerprint,
            name(&key.name),
            key.signed
                .last
                .map_or_else(|| "never".to_owned(), |c| date(c.time))
        )?;
    }
    Ok(())
}

/// The most keys a change's row names: a hostile history may flip
/// between two files of thousands of keys at every commit.
const KEYS_PER_CHANGE: usize = 12;

fn changes(out: &mut impl Write, report: &Audit) -> std::io::Result<()> {
    writeln!(out, "\nChanges of .guix-authorizations:")?;
    writeln!(
        out,
        "  {:<10}  {:<12}  {:<16}  what",
        "date", "commit", "signer"
    )?;
    for change in &report.changes {
        let keys = |sign: char, keys: &[NamedKey]| {
            keys.iter()
                .map(|k| format!("{sign}{} {}", &k.fingerprint.to_hex()[..16], name(&k.name)))
                .collect::<Vec<_>>()
        };
        let mut what = keys('+', &change.added);
        what.extend(keys('-', &change.removed));
        if what.len() > KEYS_PER_CHANGE {
            let more = what.len() - KEYS_PER_CHANGE;
            what.truncate(KEYS_PER_CHANGE);
            what.push(format!("… {more} more (see --format=json)"));
        }
        if change.introduction {
            what.insert(0, "(introduction)".to_owned());
        } else if what.is_empty() {
            what.push("(same keys: names, comments or layout)".to_owned());
        }
        if change.line == Line::SideBranch {
            what.push("(side branch)".to_owned());
        }
        if change.malformed {
            what.push("(malformed)".to_owned());
        }
        writeln!(
            out,
            "  {:<10}  {}  {:<16}  {}",
            date(change.at.time),
            short(&change.at),
            signer(change),
            what.join(", ")
        )?;
    }
    Ok(())
}

fn signer(change: &Change) -> String {
    match &change.signer_name {
        Some(n) => Untrusted::new(n).to_string(),
        None => change.signer.to_hex()[..16].to_owned(),
    }
}

fn keys(out: &mut impl Write, report: &Audit) -> std::io::Result<()> {
    writeln!(out, "\nKeys:")?;
    writeln!(
        out,
        "  {:<40}  {:<16}  {:<23}  {:>7}  {:<23}  key",
        "fingerprint", "name", "listed", "signed", "first–last signed"
    )?;
    for key in &report.keys {
        writeln!(
            out,
            "  {}  {:<16}  {:<23}  {:>7}  {:<23}  {}",
            key.fingerprint.to_hex(),
            name(&key.name),
            listed(key),
            key.signed.count,
            span(key.signed.first, key.signed.last, false),
            facts(key)
        )?;
    }
    Ok(())
}

fn listed(key: &AuditedKey) -> String {
    span(key.first_listed, key.last_listed, key.authorized_at_end)
}

fn span(first: Option<CommitAt>, last: Option<CommitAt>, still: bool) -> String {
    match (first, last) {
        (Some(first), _) if still => format!("{}–now", date(first.time)),
        (Some(first), Some(last)) => format!("{}–{}", date(first.time), date(last.time)),
        _ => "-".to_owned(),
    }
}

fn facts(key: &AuditedKey) -> String {
    let Some(facts) = &key.keyring else {
        return "not in the keyring".to_owned();
    };
    let mut said = vec![match facts.bits {
        Some(bits) => format!("{} {bits}", facts.algorithm),
        None => facts.algorithm.clone(),
    }];
    if facts.subkey {
        said.push("subkey".to_owned());
    }
    if let Some(at) = facts.expires {
        said.push(format!("expires {}", date(at)));
    }
    if facts.revoked {
        said.push("revoked".to_owned());
    }
    said.join(", ")
}

fn findings(out: &mut impl Write, report: &Audit) -> std::io::Result<()> {
    writeln!(out, "\nFindings:")?;
    if report.findings.is_empty() {
        writeln!(out, "  none")?;
    }
    for finding in &report.findings {
        let about: Vec<String> = finding
            .keys
            .iter()
            .map(|k| {
                let named = report.key(k).and_then(|k| k.name.as_ref());
                format!("{} {}", k.to_hex(), name(&named.cloned()))
            })
            .chain(finding.commits.iter().map(|c| format!("commit {c}")))
            .collect();
        writeln!(
            out,
            "  {:<8}  {:<28}  {}: {}",
            finding.severity.name(),
            finding.kind.name(),
            finding,
            about.join(", ")
        )?;
    }
    Ok(())
}

/// The JSON document.
#[derive(Serialize)]
struct Document {
    schema_version: u32,
    error: Option<String>,
    introduction: Option<JsonIntroduction>,
    end: Option<JsonCommit>,
    commits: usize,
    authorized_at_end: Vec<String>,
    changes: Vec<JsonChange>,
    keys: Vec<JsonKey>,
    findings: Vec<JsonFinding>,
}

#[derive(Serialize)]
struct JsonIntroduction {
    commit: String,
    signer: String,
}

#[derive(Serialize)]
struct JsonCommit {
    commit: String,
    time: i64,
    date: String,
}

impl From<CommitAt> for JsonCommit {
    fn from(at: CommitAt) -> Self {
        JsonCommit {
            commit: at.commit.to_string(),
            time: at.time,
            date: date(at.time),
        }
    }
}

#[derive(Serialize)]
struct JsonNamed {
    fingerprint: String,
    name: Option<String>,
}

impl From<&NamedKey> for JsonNamed {
    fn from(key: &NamedKey) -> Self {
        JsonNamed {
            fingerprint: key.fingerprint.to_hex(),
            name: key.name.clone(),
        }
    }
}

#[derive(Serialize)]
struct JsonChange {
    #[serde(flatten)]
    at: JsonCommit,
    signer: String,
    signer_name: Option<String>,
    added: Vec<JsonNamed>,
    removed: Vec<JsonNamed>,
    line: &'static str,
    introduction: bool,
    malformed: bool,
}

#[derive(Serialize)]
struct JsonKey {
    fingerprint: String,
    name: Option<String>,
    first_listed: Option<JsonCommit>,
    last_listed: Option<JsonCommit>,
    authorized_at_end: bool,
    authorized_by: Option<JsonAuthorizer>,
    signed: JsonSigning,
    keyring: Option<JsonFacts>,
}

#[derive(Serialize)]
struct JsonAuthorizer {
    #[serde(flatten)]
    at: JsonCommit,
    signer: String,
}

#[derive(Serialize)]
struct JsonSigning {
    count: usize,
    first: Option<JsonCommit>,
    last: Option<JsonCommit>,
    per_year: Vec<JsonYear>,
    after_expiry: usize,
    first_after_expiry: Option<JsonCommit>,
}

#[derive(Serialize)]
struct JsonYear {
    year: i64,
    commits: usize,
}

#[derive(Serialize)]
struct JsonFacts {
    primary: String,
    subkey: bool,
    algorithm: String,
    bits: Option<usize>,
    created: i64,
    expires: Option<i64>,
    revoked: bool,
    file: String,
}

#[derive(Serialize)]
struct JsonFinding {
    severity: &'static str,
    kind: &'static str,
    message: String,
    keys: Vec<String>,
    commits: Vec<String>,
}

impl Document {
    fn failed(message: &str) -> Self {
        Document {
            schema_version: SCHEMA_VERSION,
            error: Some(message.to_owned()),
            introduction: None,
            end: None,
            commits: 0,
            authorized_at_end: Vec::new(),
            changes: Vec::new(),
            keys: Vec::new(),
            findings: Vec::new(),
        }
    }

    fn of(report: &Audit) -> Self {
        Document {
            schema_version: SCHEMA_VERSION,
            error: None,
            introduction: Some(JsonIntroduction {
                commit: report.introduction.commit.to_string(),
                signer: report.introduction.signer.to_hex(),
            }),
            end: Some(report.end.into()),
            commits: report.commits,
            authorized_at_end: report
                .authorized_at_end
                .iter()
                .map(Fingerprint::to_hex)
                .collect(),
            changes: report.changes.iter().map(json_change).collect(),
            keys: report.keys.iter().map(json_key).collect(),
            findings: report.findings.iter().map(json_finding).collect(),
        }
    }
}

fn json_change(change: &Change) -> JsonChange {
    JsonChange {
        at: change.at.into(),
        signer: change.signer.to_hex(),
        signer_name: change.signer_name.clone(),
        added: change.added.iter().map(JsonNamed::from).collect(),
        removed: change.removed.iter().map(JsonNamed::from).collect(),
        line: match change.line {
            Line::SideBranch => "side-branch",
            _ => "first-parent",
        },
        introduction: change.introduction,
        malformed: change.malformed,
    }
}

fn json_key(key: &AuditedKey) -> JsonKey {
    JsonKey {
        fingerprint: key.fingerprint.to_hex(),
        name: key.name.clone(),
        first_listed: key.first_listed.map(Into::into),
        last_listed: key.last_listed.map(Into::into),
        authorized_at_end: key.authorized_at_end,
        authorized_by: key
            .authorized_by
            .as_ref()
            .map(|(at, signer)| JsonAuthorizer {
                at: (*at).into(),
                signer: signer.to_hex(),
            }),
        signed: JsonSigning {
            count: key.signed.count,
            first: key.signed.first.map(Into::into),
            last: key.signed.last.map(Into::into),
            per_year: key
                .signed
                .per_year
                .iter()
                .map(|&(year, commits)| JsonYear { year, commits })
                .collect(),
            after_expiry: key.signed.after_expiry,
            first_after_expiry: key.signed.first_after_expiry.map(Into::into),
        },
        keyring: key.keyring.as_ref().map(|facts| JsonFacts {
            primary: facts.primary.to_hex(),
            subkey: facts.subkey,
            algorithm: facts.algorithm.clone(),
            bits: facts.bits,
            created: facts.created,
            expires: facts.expires,
            revoked: facts.revoked,
            file: facts.file.clone(),
        }),
    }
}

fn json_finding(finding: &Finding) -> JsonFinding {
    JsonFinding {
        severity: finding.severity.name(),
        kind: finding.kind.name(),
        message: finding.to_string(),
        keys: finding.keys.iter().map(Fingerprint::to_hex).collect(),
        commits: finding.commits.iter().map(ToString::to_string).collect(),
    }
}
