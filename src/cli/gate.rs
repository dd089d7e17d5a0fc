//! The subcommands: the server's hooks (`pre-receive`, `update`), their
//! installation, and the pre-merge check. Each parses its input, calls the
//! library's [`git_authenticate::gate`] or [`git_authenticate::check_merge`],
//! prints, and returns the exit status.

use std::io::{Read, Write};

use git_authenticate::gate::{
    Gate, GateOptions, PushDecision, RefDecision, RefUpdate, Refusal, Verdict,
};
use git_authenticate::git2::Repository;
use git_authenticate::{
    check_merge, open_repository, open_repository_from_env, resolve_commit, Cache, Error, Failure,
    Introduction, IntroductionError, Keyring, MergeCheck, MergeVerdict, OpenError, Options,
    Untrusted,
};
use serde::Serialize;

use super::args::{Format, GateArgs, MergeCheckArgs};
use super::output::{self, Failure as FailureDocument};
use super::{config, hooks};
use super::{AUTHENTIC, COULD_NOT_CHECK, NOT_AUTHENTIC};

/// The most a pre-receive hook reads on standard input: about 160,000
/// refs' lines, beyond [`git_authenticate::gate::MAX_UPDATES`].
const MAX_INPUT: u64 = 16 << 20;

/// What every line the pusher sees starts with, so that it stands out among
/// git's `remote:` lines.
const PREFIX: &str = "git-authenticate";

/// The update hook: one ref.
pub(super) fn update(args: &GateArgs, name: &str, old: &str, new: &str) -> u8 {
    match RefUpdate::new(name, old, new) {
        Ok(update) => decide_and_report(args, vec![update]),
        Err(value) => usage(&format!("`{value}` is not a full object id")),
    }
}

fn usage(message: &str) -> u8 {
    output::usage(message);
    COULD_NOT_CHECK
}

pub(super) fn pre_receive(args: &GateArgs) -> u8 {
    let mut input = String::new();
    let read = std::io::stdin()
        .lock()
        .take(MAX_INPUT + 1)
        .read_to_string(&mut input);
    if let Err(e) = read {
        return usage(&format!("reading the pushed refs on standard input: {e}"));
    }
    if input.len() as u64 > MAX_INPUT {
        return usage(&format!("more than {MAX_INPUT} bytes of pushed refs"));
    }
    match RefUpdate::parse_lines(&input) {
        Ok(updates) => decide_and_report(args, updates),
        Err(e) => usage(&format!("standard input: {e}")),
    }
}

/// Opens the repository as git's environment describes it to a hook, so
/// that the objects still in git's quarantine directory are visible.
fn hook_repository() -> Result<Repository, Error> {
    Ok(open_repository_from_env()?)
}

fn decide_and_report(args: &GateArgs, updates: Vec<RefUpdate>) -> u8 {
    let repo = match hook_repository() {
        Ok(repo) => repo,
        Err(e) => {
            output::error(&e);
            return COULD_NOT_CHECK;
        }
    };
    let options = GateOptions {
        jobs: args.jobs,
        policy: args.policy.into(),
        ..GateOptions::default()
    };
    let configuration = match config::server_configuration(&repo, &updates) {
        Ok(configuration) => configuration,
        Err(e) => {
            output::error(&Error::from(e));
            return COULD_NOT_CHECK;
        }
    };
    let mut gate = Gate::new(&repo, configuration, options);
    let decision = gate.decide_push(updates);
    report(&decision);
    for warning in decision.record(&repo) {
        let _ = writeln!(std::io::stderr(), "{PREFIX}: warning: {warning}");
    }
    status(&decision)
}

/// The most failures printed for a whole push, beyond the first of each
/// refused ref: what one pusher reads, whatever the push holds.
const FAILURES_PRINTED: usize = 20;

/// The failures (oldest first, with their hints: the first of each ref,
/// and others up to [`FAILURES_PRINTED`] in all, then how many more), and
/// one line per ref.
fn report(decision: &PushDecision) {
    let mut err = std::io::stderr().lock();
    let mut budget = FAILURES_PRINTED;
    for decided in &decision.refs {
        let (failures, total) = refusal_errors(decided);
        let mut printed = 0;
        for e in failures {
            if printed > 0 && budget == 0 {
                break;
            }
            budget = budget.saturating_sub(1);
            printed += 1;
            let _ = writeln!(err, "{PREFIX}: error: {e}");
            if let Some(hint) = e.hint() {
                let _ = writeln!(err, "{PREFIX}: hint: {hint}");
            }
        }
        if total > printed {
            let more = total - printed;
            let s = if more == 1 { "" } else { "s" };
            let _ = writeln!(
                err,
                "{PREFIX}: error: … and {more} more failure{s} in {}, not shown",
                Untrusted::new(&decided.update.name)
            );
        }
        let _ = writeln!(err, "{PREFIX}: {decided}");
    }
    if !decision.is_accepted() {
        let _ = writeln!(
            err,
            "{PREFIX}: push refused: no ref was updated{}",
            hint_for(decision)
        );
    }
}

/// The errors behind a refusal that are kept, to print with their hints,
/// and how many there are in all.
fn refusal_errors(decided: &RefDecision) -> (&[Failure], usize) {
    match &decided.verdict {
        Verdict::Refused(Refusal::NotAuthentic { failures, total }) => (failures, *total),
        _ => (&[], 0),
    }
}

/// What the pusher can do about a refusal that names no commit.
fn hint_for(decision: &PushDecision) -> &'static str {
    let missing_key = decision.refs.iter().any(|d| {
        matches!(&d.verdict, Verdict::Refused(Refusal::NotAuthentic { failures, .. })
            if failures.iter().any(|e| matches!(e, Failure::MissingKey { .. })))
    });
    match missing_key {
        true => {
            " (a key counts once it is on the keyring branch: push that branch with the \
             commits it signs, or before them)"
        }
        false => "",
    }
}

/// 0 accepted; 2 when every refusal is that something could not be
/// checked; 1 otherwise.
fn status(decision: &PushDecision) -> u8 {
    let refusals: Vec<&Refusal> = decision
        .refs
        .iter()
        .filter_map(|d| match &d.verdict {
            Verdict::Refused(refusal) => Some(refusal),
            Verdict::Accepted(_) => None,
        })
        .collect();
    if refusals.is_empty() {
        AUTHENTIC
    } else if refusals.iter().all(|r| r.could_not_check()) {
        COULD_NOT_CHECK
    } else {
        NOT_AUTHENTIC
    }
}

pub(super) fn install_server_hook(repository: Option<&std::path::Path>, print: bool) -> u8 {
    let command = match std::env::current_exe() {
        Ok(path) => path.to_string_lossy().into_owned(),
        Err(e) => return usage(&format!("cannot tell where this program is: {e}")),
    };
    if print {
        print!("{}", hooks::pre_receive_hook(&command));
        return AUTHENTIC;
    }
    let opened = match repository {
        Some(dir) => open_repository(dir),
        None => open_repository_from_env(),
    };
    let repo = match opened {
        Ok(repo) => repo,
        Err(OpenError::Git(e)) => return usage(&format!("not a git repository: {}", e.message())),
        Err(e) => return usage(&e.to_string()),
    };
    match hooks::install_server_hook(&repo, &command) {
        Ok(hooks::Hook::Installed(path)) => {
            eprintln!("installed hook '{}'", path.display());
            if config::configured_for(&repo, None).is_ok_and(|c| c.commit.is_none()) {
                output::warning(
                    output::Noise::Everything,
                    "no introduction is configured: every push is refused until \
                     guix.authentication.introduction-commit and \
                     guix.authentication.introduction-signer are set with `git config`",
                );
            }
            AUTHENTIC
        }
        Ok(hooks::Hook::Kept(path, advice)) => {
            output::usage(&format!(
                "not overriding pre-existing hook '{}'; add `{advice}` to it, or run \
                 `git-authenticate install-server-hook --print`",
                path.display()
            ));
            COULD_NOT_CHECK
        }
        // Installing never upgrades.
        Ok(hooks::Hook::Upgraded(_)) => AUTHENTIC,
        Err(e) => usage(&e.to_string()),
    }
}

pub(super) fn merge_check(args: &MergeCheckArgs) -> u8 {
    match try_merge_check(args) {
        Ok(code) => code,
        Err(e) => {
            output::error(&e);
            if args.format == Format::Json {
                print_json(&MergeDocument::failed(&e));
            }
            if e.is_authentication_failure() {
                NOT_AUTHENTIC
            } else {
                COULD_NOT_CHECK
            }
        }
    }
}

fn try_merge_check(args: &MergeCheckArgs) -> Result<u8, Error> {
    let repo = match &args.repository {
        Some(dir) => open_repository(dir)?,
        None => open_repository_from_env()?,
    };
    let configured = config::configured(&repo)?;
    let introduction = match (&args.introduction, &args.signer) {
        (Some(commit), Some(signer)) => Introduction::new(commit, signer)?,
        _ => match configured.introduction() {
            Some(introduction) => introduction?,
            None => return Err(Error::InvalidIntroduction(IntroductionError::NoneGiven)),
        },
    };
    let keyring_reference = args
        .keyring
        .clone()
        .or(configured.keyring)
        .unwrap_or_else(|| Keyring::DEFAULT_REFERENCE.to_owned());
    let cache = match &args.cache_key {
        Some(key) => Cache::for_key(key)?,
        None => Cache::for_key(&Cache::default_key(&repo))?,
    };
    let base = resolve_commit(&repo, &args.base)?;
    let heads = args
        .heads
        .iter()
        .map(|h| resolve_commit(&repo, h))
        .collect::<Result<Vec<_>, _>>()?;
    let options = Options {
        keyring_reference,
        cache: Some(cache),
        ..Options::default()
    };
    let check = check_merge(&repo, &introduction, base, &heads, &options)?;
    match args.format {
        Format::Text => print_merge_text(&check),
        Format::Json => print_json(&MergeDocument::of(&check)),
    }
    Ok(match check.verdict() {
        MergeVerdict::FastForward | MergeVerdict::Signable => AUTHENTIC,
        MergeVerdict::NotAuthentic | MergeVerdict::Unsignable => NOT_AUTHENTIC,
    })
}

/// Why the forge's own merge buttons fail, said whatever the verdict.
const FORGE_MERGES: &str = "a squash or rebase merge made by the forge makes unsigned commits, \
     which are refused; merge with a signed merge commit (`git merge -S`) and push it";

fn print_merge_text(check: &MergeCheck) {
    output::failures(output::Noise::Everything, &check.failures, None);
    let heads: Vec<String> = check.heads.iter().map(ToString::to_string).collect();
    eprintln!(
        "merging {} into {}: {} commits checked",
        heads.join(", "),
        check.base,
        check.checked
    );
    match check.verdict() {
        MergeVerdict::NotAuthentic => {
            eprintln!("not authentic: no merge of these commits can be authentic")
        }
        MergeVerdict::FastForward => {
            eprintln!("authentic; a fast-forward, which needs no new signature")
        }
        MergeVerdict::Signable => {
            eprintln!("authentic; the merge commit may be signed by:");
            for key in check.usable_signers() {
                println!("{key}");
            }
        }
        MergeVerdict::Unsignable => print_unsignable(check),
    }
    eprintln!("note: {FORGE_MERGES}");
}

fn print_unsignable(check: &MergeCheck) {
    if let Some(problem) = &check.signing_problem {
        output::error(problem);
    } else if check.signers.is_empty() {
        eprintln!(
            "no key is authorized by every side, so the merge commit can never be authentic: \
             first authorize, on one side, a key the other side already lists (a signed \
             commit changing .guix-authorizations)"
        );
    } else {
        let listed: Vec<String> = check
            .signers
            .iter()
            .map(|s| s.fingerprint.to_string())
            .collect();
        eprintln!(
            "the keys every side authorizes ({}) are missing from the keyring: add one to the \
             keyring branch first",
            listed.join(", ")
        );
    }
}

/// The pre-merge check's JSON document.
#[derive(Serialize)]
struct MergeDocument {
    verdict: &'static str,
    base: Option<String>,
    heads: Vec<String>,
    commits_checked: usize,
    fast_forward: bool,
    signers: Vec<MergeSignerDocument>,
    /// The first [`output::FAILURES_LISTED`].
    failures: Vec<FailureDocument>,
    /// How many there are, listed or not.
    failure_count: usize,
    note: &'static str,
}

#[derive(Serialize)]
struct MergeSignerDocument {
    fingerprint: String,
    in_keyring: bool,
}

impl MergeDocument {
    fn of(check: &MergeCheck) -> Self {
        let verdict = match check.verdict() {
            MergeVerdict::NotAuthentic => "not-authentic",
            MergeVerdict::FastForward => "fast-forward",
            MergeVerdict::Signable => "signable",
            MergeVerdict::Unsignable => "unsignable",
        };
        MergeDocument {
            verdict,
            base: Some(check.base.to_string()),
            heads: check.heads.iter().map(ToString::to_string).collect(),
            commits_checked: check.checked,
            fast_forward: check.fast_forward,
            signers: check
                .signers
                .iter()
                .map(|s| MergeSignerDocument {
                    fingerprint: s.fingerprint.to_hex(),
                    in_keyring: s.in_keyring,
                })
                .collect(),
            failures: check
                .failures
                .iter()
                .chain(&check.signing_problem)
                .take(output::FAILURES_LISTED)
                .map(|f| FailureDocument::of(f))
                .collect(),
            failure_count: check.failures.len() + usize::from(check.signing_problem.is_some()),
            note: FORGE_MERGES,
        }
    }

    fn failed(e: &Error) -> Self {
        MergeDocument {
            verdict: "could-not-check",
            base: None,
            heads: Vec::new(),
            commits_checked: 0,
            fast_forward: false,
            signers: Vec::new(),
            failures: vec![FailureDocument::of(e)],
            failure_count: 1,
            note: FORGE_MERGES,
        }
    }
}

fn print_json(document: &MergeDocument) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, document);
    let _ = writeln!(out);
}
