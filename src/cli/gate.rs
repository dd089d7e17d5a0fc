//! The subcommands: the server's hooks (`pre-receive`, `update`), their
//! installation, and the pre-merge check. Each parses its input, calls the
//! library's [`git_authenticate::gate`] or [`git_authenticate::check_merge`],
//! prints, and returns the exit status.

use std::io::{Read, Write};

use git_authenticate::gate::{
    BranchPattern, Gate, GateOptions, PushDecision, RefDecision, RefUpdate, Refusal, Verdict,
};
use git_authenticate::git2::Repository;
use git_authenticate::{
    check_merge, open_repository, open_repository_from_env, resolve_commit, Cache, CacheProblem,
    CacheWarning, Error, Failure, Introduction, IntroductionError, Keyring, KeyringError,
    MergeCheck, MergeVerdict, OpenError, Options, Untrusted,
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

/// Which hook runs the gate: what a refusal means depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hook {
    /// `pre-receive`: one refusal refuses the whole push.
    PreReceive,
    /// `update`: git asks for each ref alone, and updates those accepted.
    Update,
}

/// The update hook: one ref.
pub(super) fn update(args: &GateArgs, name: &std::ffi::OsStr, old: &str, new: &str) -> u8 {
    use std::os::unix::ffi::OsStrExt;
    let Some(name) = name.to_str() else {
        return usage(&format!(
            "ref name `{}` is not UTF-8: git allows it, this gate refuses it (push it under a \
             UTF-8 name)",
            Untrusted::bytes(name.as_bytes())
        ));
    };
    match RefUpdate::new(name, old, new) {
        Ok(update) => decide_and_report(args, vec![update], Hook::Update),
        Err(value) => usage(&format!(
            "`{}` is not a full object id",
            Untrusted::new(&value)
        )),
    }
}

fn usage(message: &str) -> u8 {
    output::usage(message);
    COULD_NOT_CHECK
}

pub(super) fn pre_receive(args: &GateArgs) -> u8 {
    // Bytes: a ref name need not be UTF-8 (the parser names such a ref).
    let mut input = Vec::new();
    let read = std::io::stdin()
        .lock()
        .take(MAX_INPUT + 1)
        .read_to_end(&mut input);
    if let Err(e) = read {
        return usage(&format!("reading the pushed refs on standard input: {e}"));
    }
    if input.len() as u64 > MAX_INPUT {
        return usage(&format!("more than {MAX_INPUT} bytes of pushed refs"));
    }
    match RefUpdate::parse_lines(&input) {
        Ok(updates) => decide_and_report(args, updates, Hook::PreReceive),
        Err(e) => usage(&format!("standard input: {e}")),
    }
}

/// Opens the repository as git's environment describes it to a hook, so
/// that the objects still in git's quarantine directory are visible.
fn hook_repository() -> Result<Repository, Error> {
    Ok(open_repository_from_env()?)
}

fn decide_and_report(args: &GateArgs, updates: Vec<RefUpdate>, hook: Hook) -> u8 {
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
    let configuration = match config::server_configuration(&repo) {
        Ok(configuration) => configuration,
        Err(e) => return usage(&e.to_string()),
    };
    let mut gate = Gate::new(&repo, configuration, options);
    let decision = gate.decide_push(updates);
    report(&decision, hook);
    let mut said = Vec::new();
    for warning in decision.record(&repo) {
        if !said.contains(&warning) {
            let _ = writeln!(
                std::io::stderr(),
                "{PREFIX}: warning: {}",
                cache_warning(&repo, &warning)
            );
            said.push(warning);
        }
    }
    status(&decision)
}

/// A warning about the gate's cache; when the git directory itself is
/// what others could write, in the gate's words: the cache's usual advice
/// (make it private) would break a shared repository.
fn cache_warning(repo: &Repository, warning: &CacheWarning) -> String {
    match &warning.problem {
        CacheProblem::UnsafeDirectory { directory, reason } if directory == repo.path() => {
            format!(
                "the gate's cache is not used: the git directory `{}` {reason}, so a pusher \
                 could seed it; every push is checked from the introduction (the gate is a \
                 boundary only where pushers can write neither the repository nor its hooks)",
                directory.display()
            )
        }
        _ => warning.to_string(),
    }
}

/// The most failures printed for a whole push, beyond the first of each
/// refused ref: what one pusher reads, whatever the push holds.
const FAILURES_PRINTED: usize = 20;

/// The failures (oldest first, with their hints: the first of each ref,
/// and others up to [`FAILURES_PRINTED`] in all, then how many more), one
/// line per ref, then what git does about a refusal: the whole push for
/// `pre-receive`, this ref only for `update`.
fn report(decision: &PushDecision, hook: Hook) {
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
            if let Some(hint) = server_hint(e) {
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
        if let Some(hint) = refusal_hint(&decided.verdict) {
            let _ = writeln!(err, "{PREFIX}: hint: {hint}");
        }
    }
    if decision.is_accepted() {
        return;
    }
    let hint = hint_for(decision);
    match hook {
        Hook::PreReceive => {
            let _ = writeln!(err, "{PREFIX}: push refused: no ref was updated{hint}");
        }
        Hook::Update => {
            for decided in decision.refs.iter().filter(|d| !d.verdict.is_accepted()) {
                let _ = writeln!(
                    err,
                    "{PREFIX}: {} was not updated; git decides each of the push's other \
                     refs on its own{hint}",
                    Untrusted::new(&decided.update.name)
                );
            }
        }
    }
}

/// What the pusher can do about a refusal that is not about commits.
fn refusal_hint(verdict: &Verdict) -> Option<String> {
    match verdict {
        Verdict::Refused(Refusal::CouldNotCheck(Error::Keyring(KeyringError::NotFound {
            reference,
            ..
        }))) => {
            let branch = reference.strip_prefix("refs/heads/").unwrap_or(reference);
            Some(format!(
                "the server has no keyring branch `{}` yet: push it with these commits (or \
                 before them)",
                Untrusted::new(branch)
            ))
        }
        Verdict::Refused(Refusal::BrokenKeyring(e)) => e.hint(),
        Verdict::Refused(Refusal::NotFastForward { .. }) => Some(
            "a protected branch only moves forward: fetch it, rebase or merge your commits on \
             top of it (a merge commit signed by an authorized key), and push again"
                .into(),
        ),
        Verdict::Refused(Refusal::CaseCollision { .. }) => {
            Some("push to the ref under its exact name, or choose another name".into())
        }
        _ => None,
    }
}

/// What the pusher can do about a failure, on the server: the client's
/// hints speak of fetching the keyring or checking out a branch, which a
/// pusher does not do to the server.
fn server_hint(failure: &Failure) -> Option<String> {
    match failure {
        Failure::MissingKey { keyring, .. } => {
            let branch = keyring.strip_prefix("refs/heads/").unwrap_or(keyring);
            Some(format!(
                "add the signer's public key as a `.key` file to the keyring branch `{}` and \
                 push that branch with these commits (or before them)",
                Untrusted::new(branch)
            ))
        }
        Failure::NotDescendant { introduction, .. } => Some(format!(
            "the server authenticates from its introduction, commit {introduction}: push a \
             history that contains it"
        )),
        other => other.hint(),
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
        Err(OpenError::Git(e)) => {
            return usage(&format!(
                "not a git repository: {}",
                Untrusted::new(e.message())
            ))
        }
        Err(e) => return usage(&e.to_string()),
    };
    let protected = match config::protected_branches(&repo) {
        Ok(protected) => protected,
        Err(e) => return usage(&e.to_string()),
    };
    if !repo.is_bare() {
        output::warning(
            output::Noise::Everything,
            "this repository is not bare: a server's repositories are, and git refuses \
             pushes to the branch a work tree has checked out (`git init --bare`, or \
             `git clone --bare`, makes one)",
        );
    }
    let installed = |path: &std::path::Path, what: &str| {
        eprintln!("{what} '{}'", Untrusted::new(&path.to_string_lossy()));
        eprintln!("{}", describe_protected(&protected));
        if config::configured_for(&repo, None).is_ok_and(|c| c.commit.is_none()) {
            output::warning(
                output::Noise::Everything,
                "no introduction is configured: every push is refused until \
                 guix.authentication.introduction-commit and \
                 guix.authentication.introduction-signer are set with `git config`",
            );
        }
        AUTHENTIC
    };
    match hooks::install_server_hook(&repo, &command) {
        Ok(hooks::ServerHook::Installed(path)) => installed(&path, "installed hook"),
        Ok(hooks::ServerHook::Current(path)) => installed(&path, "hook already installed"),
        Ok(hooks::ServerHook::Upgraded(path, previous)) => {
            let what = match previous == command {
                true => "upgraded hook".to_owned(),
                false => format!(
                    "upgraded hook (it ran {}, now {})",
                    Untrusted::new(&previous),
                    Untrusted::new(&command)
                ),
            };
            installed(&path, &what)
        }
        Ok(hooks::ServerHook::Kept(path, advice)) => {
            output::usage(&format!(
                "not overriding pre-existing hook '{}'; add `{advice}` to it, or run \
                 `git-authenticate install-server-hook --print`",
                path.display()
            ));
            COULD_NOT_CHECK
        }
        Ok(hooks::ServerHook::Shared(path, advice)) => {
            output::usage(&hooks::shared_advice(&path, advice));
            COULD_NOT_CHECK
        }
        Err(e) => usage(&e.to_string()),
    }
}

/// Which branches the gate keeps from being rewound or deleted, in words.
pub(super) fn describe_protected(protected: &[BranchPattern]) -> String {
    if protected.is_empty() {
        return format!(
            "no branch is protected: any branch may be rewound or deleted with authentic \
             commits (set {} to a branch, a full ref name or a pattern)",
            config::PROTECTED_BRANCH_KEY
        );
    }
    let listed: Vec<String> = protected.iter().map(ToString::to_string).collect();
    format!(
        "protected branches (only moved forward, never deleted): {}",
        listed.join(", ")
    )
}

pub(super) fn merge_check(args: &MergeCheckArgs) -> u8 {
    match try_merge_check(args) {
        Ok(code) => code,
        Err(e) => {
            output::error(&e);
            if args.format == Format::Json {
                print_json(&MergeDocument::failed(FailureDocument::of(&e)));
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
        MergeVerdict::NothingToMerge | MergeVerdict::FastForward | MergeVerdict::Signable => {
            AUTHENTIC
        }
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
        MergeVerdict::NothingToMerge => {
            eprintln!(
                "nothing to merge: BASE already holds every HEAD, and its history is authentic"
            )
        }
        MergeVerdict::FastForward => {
            eprintln!("authentic; a fast-forward, which needs no new signature")
        }
        MergeVerdict::Signable => {
            eprintln!("authentic; the merge commit may be signed by:");
            for key in check.usable_signers() {
                println!("{key}");
            }
            if check.signers_all_expired() {
                print_expired(check);
            }
        }
        MergeVerdict::Unsignable => print_unsignable(check),
    }
    if check.verdict() != MergeVerdict::NothingToMerge {
        eprintln!("note: {FORGE_MERGES}");
    }
}

/// The keys that may sign have all expired: gpg refuses to sign with
/// them, though Guix's rule would accept their signatures.
fn print_expired(check: &MergeCheck) {
    let first = check.usable_signers().next().map(|f| f.to_hex());
    let message = format!(
        "but all these keys have expired, and gpg will not sign with them: extend one \
         (`gpg --quick-set-expire {} 1y`, and `'*'` for its subkeys), then export it to the \
         keyring branch again",
        first.unwrap_or_default()
    );
    output::warning(output::Noise::Everything, &message);
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

/// The document of a merge-check whose arguments clap refused.
pub(super) fn merge_check_usage(message: &str) {
    print_json(&MergeDocument::failed(FailureDocument::stopped(
        "usage", message,
    )));
}

/// Version of merge-check's JSON document (`doc/merge-check-schema.json`):
/// raised when a field changes meaning or goes away, not when one is added.
const MERGE_SCHEMA_VERSION: u32 = 1;

/// The pre-merge check's JSON document.
#[derive(Serialize)]
struct MergeDocument {
    schema_version: u32,
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
    expired: bool,
}

impl MergeDocument {
    fn of(check: &MergeCheck) -> Self {
        let verdict = match check.verdict() {
            MergeVerdict::NotAuthentic => "not-authentic",
            MergeVerdict::NothingToMerge => "nothing-to-merge",
            MergeVerdict::FastForward => "fast-forward",
            MergeVerdict::Signable => "signable",
            MergeVerdict::Unsignable => "unsignable",
        };
        MergeDocument {
            schema_version: MERGE_SCHEMA_VERSION,
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
                    expired: s.expired,
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

    fn failed(failure: FailureDocument) -> Self {
        MergeDocument {
            schema_version: MERGE_SCHEMA_VERSION,
            verdict: "could-not-check",
            base: None,
            heads: Vec::new(),
            commits_checked: 0,
            fast_forward: false,
            signers: Vec::new(),
            failures: vec![failure],
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
