//! The command: arguments and configuration in, the library's verdict out.

mod args;
mod audit;
mod config;
mod doctor;
mod gate;
mod generate;
mod hooks;
mod output;
mod problem;
mod progress;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use git_authenticate::git2::Repository;
use git_authenticate::{
    authenticate, read_regular_file, resolve_commit, Authorizations, Cache, Configuration, Error,
    HistoricalProblem, Introduction, IntroductionError, Keyring, OpenError, Options, Relation,
    Report, RevisionProblem, Untrusted,
};

use args::{Args, Command, Format};
use output::{Noise, Request};

/// Exit statuses, documented in `--help` and doc/GUIDE.md.
const AUTHENTIC: u8 = 0;
pub(crate) const NOT_AUTHENTIC: u8 = 1;
pub(crate) const COULD_NOT_CHECK: u8 = 2;

pub fn run() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => return rejected(e),
    };
    if let Some(what) = args.generate {
        return match generate::print(what) {
            Ok(()) => ExitCode::SUCCESS,
            // `| head` is not an error.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                output::usage(&format!("writing to standard output: {e}"));
                ExitCode::from(COULD_NOT_CHECK)
            }
        };
    }
    if let Some(command) = &args.command {
        return ExitCode::from(match command {
            Command::PreReceive(gate) => gate::pre_receive(gate),
            Command::Update {
                name,
                old,
                new,
                gate,
            } => gate::update(gate, name, old, new),
            Command::InstallServerHook { repository, print } => {
                gate::install_server_hook(repository.as_deref(), *print)
            }
            Command::MergeCheck(check) => gate::merge_check(check),
            Command::Doctor(doctor) => doctor::run(doctor),
            Command::Audit(args) => audit::run(args),
        });
    }
    ExitCode::from(match execute(&args) {
        Ok(code) => code,
        Err(stop) => stop.report(&args),
    })
}

/// Why the command stops before a verdict, and what it knew by then.
struct Stop {
    error: StopReason,
    request: Request,
}

/// Boxed: a stop is rare and carries a whole request.
type Stopped = Box<Stop>;

enum StopReason {
    /// The arguments or the configuration: the JSON failure's kind, and
    /// what is wrong.
    Usage(&'static str, String),
    /// The repository cannot be opened: JSON still gets a document.
    Open(OpenFailure),
    Error(Error),
}

impl Stop {
    fn report(self, args: &Args) -> u8 {
        let code = match &self.error {
            StopReason::Error(e) if e.is_authentication_failure() => NOT_AUTHENTIC,
            _ => COULD_NOT_CHECK,
        };
        match &self.error {
            StopReason::Usage(kind, message) => {
                output::usage(message);
                if args.format == Format::Json {
                    output::json_stopped(kind, message);
                }
            }
            StopReason::Open(failure) => {
                output::usage(&failure.to_string());
                if args.format == Format::Json {
                    output::json_stopped("repository", &failure.to_string());
                }
            }
            StopReason::Error(e) if e.is_authentication_failure() => output::failures(
                noise(args),
                std::slice::from_ref(e),
                self.request.after_merge.as_deref(),
            ),
            StopReason::Error(e) => output::error(e),
        }
        if args.format == Format::Json {
            if let StopReason::Error(e) = &self.error {
                output::json(&self.request, None, Some(e));
            }
        }
        code
    }
}

fn usage(message: impl Into<String>) -> Stopped {
    usage_of("usage", message)
}

/// A usage error whose JSON failure has the library's `kind`
/// (`invalid-fingerprint`, `invalid-commit-id`).
fn usage_of(kind: &'static str, message: impl Into<String>) -> Stopped {
    Box::new(Stop {
        error: StopReason::Usage(kind, message.into()),
        request: Request::default(),
    })
}

/// clap's refusal of the arguments, as clap prints it (status 2) and,
/// when `--format=json` was given, with the document of the command asked
/// for on standard output, as for any other usage error.
fn rejected(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let words: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    let shown = matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if shown || !args::json_asked(&words) {
        e.exit();
    }
    let _ = e.print();
    // clap's first line, without its `error: ` (its value quoted as given:
    // JSON keeps exact values).
    let rendered = e.to_string();
    let message = rendered.lines().next().unwrap_or_default();
    let message = message.strip_prefix("error: ").unwrap_or(message);
    match words.first().map(String::as_str) {
        Some("merge-check") => gate::merge_check_usage(message),
        Some("doctor") => doctor::usage(message),
        _ => output::json_stopped("usage", message),
    }
    ExitCode::from(COULD_NOT_CHECK)
}

fn noise(args: &Args) -> Noise {
    Noise::new(args.format == Format::Json, args.quiet)
}

fn execute(args: &Args) -> Result<u8, Stopped> {
    let repo = open_repository(args)?;
    let configured = config::configured(&repo).map_err(|e| stop_early(e.into()))?;
    let (introduction, explicit) = introduction(args, &configured)?;
    let keyring = args
        .keyring
        .clone()
        .or(configured.keyring.clone())
        .unwrap_or_else(|| Keyring::DEFAULT_REFERENCE.to_owned());
    let noise = noise(args);
    // From here on, failures can name the introduction and the keyring.
    let mut request = Request {
        introduction: Some(introduction.clone()),
        end: None,
        keyring: keyring.clone(),
        after_merge: args.after_merge.then(|| merge_advice(&repo)),
    };

    let mut end = args.end.clone().unwrap_or_else(|| "HEAD".to_owned());
    let skip = match &args.fetched_ref {
        Some(fetched) => match fetched_role(&repo, &keyring, fetched) {
            Fetched::Other => Some(Skip {
                reason: SkipReason::NotUpstream,
                branch: fetched.clone(),
            }),
            Fetched::KeyringUpstream(branch) => Some(Skip {
                reason: SkipReason::Fetched,
                branch,
            }),
            Fetched::Upstream => {
                request.after_merge = Some(fetch_advice(&repo, fetched, &keyring));
                None
            }
            Fetched::Keyring(upstream) => {
                output::info(
                    noise,
                    &format!(
                        "keyring `{}` updated: authenticating `{}` again with its keys",
                        Untrusted::new(&keyring),
                        Untrusted::new(&upstream)
                    ),
                );
                request.after_merge = Some(fetch_advice(&repo, &upstream, &keyring));
                end = upstream;
                None
            }
        },
        None => keyring_branch_skip(&repo, &keyring, args, &introduction),
    };
    if let Some(skip) = skip {
        // A fetched ref that is not the upstream is not this run's
        // business: nothing to say but in JSON.
        if !matches!(skip.reason, SkipReason::NotUpstream) {
            output::success(noise, &skip.to_string());
        }
        if args.format == Format::Json {
            output::json_skipped(&request, &skip);
        }
        return Ok(AUTHENTIC);
    }
    let end = resolve_commit(&repo, &end).map_err(|e| stop(e, &request))?;
    request.end = Some(end);
    let with_request = |e: Error| stop(e, &request);
    let options = Options {
        keyring_reference: keyring.clone(),
        cache: Some(cache(&repo, args).map_err(with_request)?),
        historical_authorizations: historical_authorizations(args).map_err(with_request)?,
        keep_going: args.keep_going,
        jobs: args.jobs,
        policy: args.policy.into(),
        ..Options::default()
    };
    let outcome = {
        // Dropped (the spinner cleared) before anything else is printed.
        let reporter = progress::Reporter::new(!noise.chatty());
        authenticate(&repo, &introduction, end, &options, &reporter)
    };
    let report = match outcome {
        Ok(report) => report,
        Err(Error::NotAuthentic(report)) => {
            print_warnings(noise, &report);
            return Ok(not_authentic(args, &request, &report));
        }
        Err(e) => return Err(with_request(mistyped_introduction(&repo, &introduction, e))),
    };
    print_warnings(noise, &report);
    if no_setup(args) {
        // A CI checkout: nothing is recorded or installed.
    } else if explicit && configured.commit.is_none() {
        record_configuration(&repo, &introduction, &keyring, noise);
    } else {
        upgrade_hooks(&repo, noise);
    }
    match args.format {
        Format::Json => output::json(&request, Some(&report), None),
        Format::Text if args.stats => {
            output::stats(&report.signers, || nothing_new(&repo, &report))
        }
        Format::Text => {}
    }
    output::success(noise, &format!("successfully authenticated commit {end}"));
    Ok(AUTHENTIC)
}

/// Why a successful run checked no commit: END is the introduction or
/// one of its ancestors (which are never checked, as in Guix), or it was
/// authenticated before (cached, or an ancestor of a cached commit).
fn nothing_new(repo: &Repository, report: &Report) -> &'static str {
    let introduction = report.introduction.commit;
    if report.end == introduction {
        return "no commits to check (END is the introductory commit)";
    }
    match git_authenticate::commit_relation(repo, report.end, introduction) {
        Ok(Relation::Ancestor) => {
            "no commits to check (END is an ancestor of the introductory commit)"
        }
        _ => "no new commits (all were authenticated before)",
    }
}

/// Why END is not checked, if so: the keyring branch is not
/// authenticated, so hooks run on it must succeed. Decided by branch
/// *names* (and, for a push, END's descent from the introduction), never
/// because END's id is the keyring's tip: an attacker can make any commit
/// the keyring's tip.
///
/// A pre-push hook names the pushed ref: a push to the keyring branch is
/// not checked, unless END descends from the introduction (a channel
/// keeping its keys on the branch it authenticates, `-k master`: that
/// branch is the channel). Otherwise, as in Guix, the checked-out branch
/// decides, but only when the user asked about it: a commit named with
/// `--end` is always checked (where Guix does nothing too).
fn keyring_branch_skip(
    repo: &Repository,
    keyring: &str,
    args: &Args,
    introduction: &Introduction,
) -> Option<Skip> {
    let names = keyring_branch_names(repo, keyring);
    if let Some(pushed) = args.pushed_ref.as_deref() {
        let branch = pushed.strip_prefix("refs/heads/")?;
        if !names.iter().any(|n| n == branch) {
            return None;
        }
        let end = resolve_commit(repo, args.end.as_deref()?).ok()?;
        // When in doubt, check.
        let channel = end == introduction.commit
            || repo
                .graph_descendant_of(end, introduction.commit)
                .unwrap_or(true);
        return (!channel).then(|| Skip {
            reason: SkipReason::Pushed,
            branch: branch.to_owned(),
        });
    }
    if args.end.is_some() {
        return None;
    }
    let branch = config::current_branch(repo).filter(|b| names.contains(b))?;
    Some(Skip {
        reason: SkipReason::CheckedOut,
        branch,
    })
}

/// Why END was not checked: JSON's `skipped`, text's "not checked".
pub(crate) struct Skip {
    reason: SkipReason,
    /// The keyring branch's name, as the repository gives it.
    branch: String,
}

enum SkipReason {
    /// The keyring branch is checked out and no END was named.
    CheckedOut,
    /// The pre-push hook pushes to the keyring branch.
    Pushed,
    /// The reference-transaction hook names the current branch's upstream,
    /// which is the keyring branch on its remote.
    Fetched,
    /// The reference-transaction hook names a ref that is neither the
    /// current branch's upstream nor the keyring.
    NotUpstream,
}

impl Skip {
    /// The stable name of the reason, in JSON.
    pub(crate) fn kind(&self) -> &'static str {
        match self.reason {
            SkipReason::CheckedOut => "keyring-branch-checked-out",
            SkipReason::Pushed => "keyring-branch-pushed",
            SkipReason::Fetched => "keyring-branch-fetched",
            SkipReason::NotUpstream => "not-upstream",
        }
    }

    pub(crate) fn branch(&self) -> &str {
        &self.branch
    }
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let branch = Untrusted::new(&self.branch);
        match self.reason {
            SkipReason::CheckedOut => write!(
                f,
                "current branch '{branch}' is the keyring branch, which is not authenticated; \
                 not checked (name a commit with --end to check it)"
            ),
            SkipReason::Pushed => write!(
                f,
                "pushing to keyring branch '{branch}', which is not authenticated; not checked"
            ),
            SkipReason::Fetched => write!(
                f,
                "fetched keyring branch '{branch}', which is not authenticated; not checked"
            ),
            SkipReason::NotUpstream => write!(
                f,
                "fetched '{branch}', which is not the current branch's upstream; not checked"
            ),
        }
    }
}

/// What a remote-tracking ref that a fetch updated (named by the
/// reference-transaction hook) is to this run.
enum Fetched {
    /// The current branch's upstream, which is the keyring branch on its
    /// remote (named): not authenticated (the message says so).
    KeyringUpstream(String),
    /// The current branch's upstream: END, its new tip, is checked.
    Upstream,
    /// The keyring reference: the upstream (this ref) is checked again,
    /// since git updates each fetched ref in a transaction of its own, the
    /// upstream's possibly first, checked then with the old keys.
    Keyring(String),
    /// Any other ref: nothing to check.
    Other,
}

/// What `fetched` is: the current branch's upstream, the keyring, or
/// neither. The keyring branch's upstream is recognised by the name it
/// has on its remote (`branch.<name>.merge`).
fn fetched_role(repo: &Repository, keyring: &str, fetched: &str) -> Fetched {
    let upstream = config::current_branch(repo).and_then(|branch| {
        let branch = format!("refs/heads/{branch}");
        let upstream = repo.branch_upstream_name(&branch).ok()?;
        let merge = repo.branch_upstream_merge(&branch).ok()?;
        Some((
            upstream.as_str().ok()?.to_owned(),
            merge.as_str().ok()?.to_owned(),
        ))
    });
    let Some((upstream, merge)) = upstream else {
        return Fetched::Other;
    };
    if upstream == fetched {
        let name = merge.strip_prefix("refs/heads/").unwrap_or(&merge);
        if keyring_branch_names(repo, keyring)
            .iter()
            .any(|n| n == name)
        {
            return Fetched::KeyringUpstream(name.to_owned());
        }
        return Fetched::Upstream;
    }
    let is_keyring = fetched == keyring || fetched.strip_prefix("refs/remotes/") == Some(keyring);
    match is_keyring && upstream.starts_with("refs/remotes/") {
        true => Fetched::Keyring(upstream),
        false => Fetched::Other,
    }
}

/// The names the keyring branch goes by, as a local or pushed branch:
/// the keyring reference itself (which is what Guix compares the current
/// branch with), the branch a `refs/heads/` reference names and, for a
/// remote-tracking reference (`origin/keyring`,
/// `refs/remotes/origin/keyring`), the branch's name on the remote, which is
/// also the name of the local branch maintainers commit to and push.
fn keyring_branch_names(repo: &Repository, keyring: &str) -> Vec<String> {
    let local = keyring.strip_prefix("refs/heads/");
    let remote_tracking = keyring.strip_prefix("refs/remotes/").or_else(|| {
        repo.find_reference(&format!("refs/remotes/{keyring}"))
            .is_ok()
            .then_some(keyring)
    });
    let on_remote = remote_tracking
        .and_then(|r| r.split_once('/'))
        .map(|(_remote, name)| name);
    std::iter::once(keyring)
        .chain(local)
        .chain(on_remote)
        .map(str::to_owned)
        .collect()
}

fn stop(e: Error, request: &Request) -> Stopped {
    Box::new(Stop {
        error: StopReason::Error(e),
        request: request.clone(),
    })
}

fn stop_early(e: Error) -> Stopped {
    stop(e, &Request::default())
}

/// A missing introduction commit in a complete (not shallow) repository is
/// no partial clone's doing: most likely a mistyped id. Said so, rather
/// than suggesting to fetch what no remote has.
fn mistyped_introduction(repo: &Repository, introduction: &Introduction, e: Error) -> Error {
    match &e {
        Error::Unreadable(git_authenticate::Unreadable { source, .. })
            if source.id == introduction.commit && source.is_missing() && !repo.is_shallow() =>
        {
            Error::NotACommit {
                spec: introduction.commit.to_string(),
                reason: RevisionProblem::Absent,
            }
        }
        _ => e,
    }
}

/// What to do when a pull merged commits that are not authentic: the
/// merge is done, so say how to undo it and whom to tell, rather than how
/// to re-sign commits that are someone else's.
fn merge_advice(repo: &Repository) -> String {
    format!(
        "the merge is already done: undo it with `git reset --hard ORIG_HEAD`, and tell the \
         maintainers of the channel you pulled from{}: its history is not authentic, and \
         pulling it again brings the same commits back",
        pulled_from(repo)
            .map(|u| format!(", {u}"))
            .unwrap_or_default()
    )
}

/// What to do when a fetch brought commits that are not authentic into
/// the current branch's upstream: nothing is merged by the fetch itself.
/// A keyring that is a remote-tracking branch may arrive later in the
/// same fetch: the check then runs again, and that verdict is the one
/// that counts.
fn fetch_advice(repo: &Repository, fetched: &str, keyring: &str) -> String {
    let remote = config::current_branch(repo).and_then(|branch| {
        let config = repo.config().ok()?.snapshot().ok()?;
        let remote = config.get_string(&format!("branch.{branch}.remote")).ok()?;
        Some(format!(", {}", remote_description(repo, &remote)))
    });
    let remote_keyring = keyring.starts_with("refs/remotes/")
        || repo
            .find_reference(&format!("refs/remotes/{keyring}"))
            .is_ok();
    let later = match remote_keyring {
        true => format!(
            " (if this fetch also brings the keyring branch `{}`, the check runs again when it \
             arrives, and that verdict is the one that counts)",
            Untrusted::new(keyring)
        ),
        false => String::new(),
    };
    format!(
        "`{}` now holds these commits: do not merge, rebase onto or reset to them, and \
         tell the maintainers of the channel you fetched from{}: its history is not \
         authentic{later}. If this fetch was part of `git pull`, the pull takes them: undo it \
         with `git reset --hard ORIG_HEAD`",
        Untrusted::new(fetched),
        remote.unwrap_or_default()
    )
}

/// Most bytes of FETCH_HEAD read: the lines to merge come first.
const MAX_FETCH_HEAD: usize = 1 << 20;

/// Whom the `git pull` that ran this merge fetched from, if it was one:
/// git gives the merge it runs `GIT_REFLOG_ACTION=pull …`, and the pull's
/// fetch wrote the URL it merges from in FETCH_HEAD. The remote with that
/// URL is named (whatever the branch's upstream is: `git pull other`
/// pulls from `other`), else the URL. A merge that no pull ran names no
/// one: FETCH_HEAD is then some earlier fetch's.
fn pulled_from(repo: &Repository) -> Option<String> {
    let action = std::env::var("GIT_REFLOG_ACTION").ok()?;
    if action != "pull" && !action.starts_with("pull ") {
        return None;
    }
    let contents = read_regular_file(&repo.path().join("FETCH_HEAD"), MAX_FETCH_HEAD).ok()?;
    let text = String::from_utf8_lossy(&contents);
    let url = text.lines().find_map(merged_url)?;
    let remote = remote_with_url(repo, url);
    Some(match remote {
        Some(remote) => remote_description(repo, &remote),
        None => format!("{}", Untrusted::new(&without_credentials(url))),
    })
}

/// The remote whose URL is `url` as FETCH_HEAD writes it.
fn remote_with_url(repo: &Repository, url: &str) -> Option<String> {
    let names = repo.remotes().ok()?;
    let names: Vec<String> = names
        .iter()
        .flatten()
        .flatten()
        .map(str::to_owned)
        .collect();
    names.into_iter().find(|name| {
        repo.find_remote(name)
            .ok()
            .and_then(|remote| Some(fetched_form(remote.url().ok()?) == fetched_form(url)))
            .unwrap_or(false)
    })
}

/// The URL a FETCH_HEAD line to merge names (`OID<TAB><TAB>branch 'master'
/// of URL`); lines marked `not-for-merge` name none. A ref name holds no
/// space, so the first `' of ` ends it.
fn merged_url(line: &str) -> Option<&str> {
    let mut fields = line.splitn(3, '\t');
    let (_, flag, description) = (fields.next()?, fields.next()?, fields.next()?);
    if !flag.is_empty() {
        return None;
    }
    Some(match description.split_once("' of ") {
        Some((named, url)) if named.contains('\'') => url,
        _ => description,
    })
}

/// A URL as git writes it in FETCH_HEAD: without trailing slashes and
/// `.git`.
fn fetched_form(url: &str) -> &str {
    let url = url.trim_end_matches('/');
    url.strip_suffix(".git").unwrap_or(url)
}

/// "`origin` (https://host/path)": a remote's name and URL, without
/// credentials.
fn remote_description(repo: &Repository, remote: &str) -> String {
    let url = repo
        .config()
        .and_then(|mut c| c.snapshot())
        .and_then(|c| c.get_string(&format!("remote.{remote}.url")))
        .ok()
        .map(|url| without_credentials(&url));
    match url {
        Some(url) => format!("`{}` ({})", Untrusted::new(remote), Untrusted::new(&url)),
        None => format!("`{}`", Untrusted::new(remote)),
    }
}

/// `https://user:token@host/path` as `https://host/path`: a URL's
/// credentials have no place in a message.
fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

fn print_warnings(noise: Noise, report: &Report) {
    for warning in &report.warnings {
        output::warning(noise, &warning.to_string());
    }
}

/// Why the history is not authentic (every failure with `--keep-going`, in
/// the order Guix checks the commits): on standard error as `--format` and
/// `-q` say, and in the JSON document, with what was checked.
fn not_authentic(args: &Args, request: &Request, report: &Report) -> u8 {
    output::failures(
        noise(args),
        &report.failures,
        request.after_merge.as_deref(),
    );
    if args.format == Format::Json {
        output::json(request, Some(report), None);
    }
    NOT_AUTHENTIC
}

fn open_repository(args: &Args) -> Result<Repository, Stopped> {
    open(args.repository.as_deref()).map_err(|failure| {
        Box::new(Stop {
            error: StopReason::Open(failure),
            request: Request::default(),
        })
    })
}

/// Why the repository cannot be opened.
#[derive(Debug)]
enum OpenFailure {
    /// No repository contains the current directory.
    NotInRepository,
    /// `-r DIRECTORY` is not a repository.
    NotARepository { dir: PathBuf, reason: String },
    /// A repository whose objects are not named by SHA-1.
    UnsupportedFormat {
        dir: Option<PathBuf>,
        reason: String,
    },
    /// Anything else libgit2 says.
    Other(String),
}

impl std::fmt::Display for OpenFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenFailure::NotInRepository => {
                f.write_str("not in a git repository (or any parent directory); use -r DIRECTORY")
            }
            OpenFailure::NotARepository { dir, reason } => {
                write!(f, "{}: not a git repository ({reason})", dir.display())
            }
            OpenFailure::UnsupportedFormat { dir, reason } => write!(
                f,
                "{}a repository whose object format is not supported ({reason}): only SHA-1 \
                 repositories, which Guix channels are, can be authenticated",
                dir.as_ref()
                    .map(|d| format!("{}: ", d.display()))
                    .unwrap_or_default()
            ),
            OpenFailure::Other(reason) => write!(f, "cannot open the git repository: {reason}"),
        }
    }
}

/// The repository at `dir`, else the one containing the current directory.
fn open(dir: Option<&Path>) -> Result<Repository, OpenFailure> {
    let opened = match dir {
        Some(dir) => git_authenticate::open_repository(dir),
        None => git_authenticate::open_repository_from_env(),
    };
    opened.map_err(|e| {
        let e = match e {
            OpenError::Git(e) => e,
            hostile => return OpenFailure::Other(hostile.to_string()),
        };
        // libgit2's message may quote the repository's files: shown escaped.
        let reason = Untrusted::new(e.message()).to_string();
        // libgit2 names the format it does not know (`sha256`).
        if reason.contains("object format") {
            return OpenFailure::UnsupportedFormat {
                dir: dir.map(Path::to_path_buf),
                reason,
            };
        }
        match dir {
            Some(dir) => OpenFailure::NotARepository {
                dir: dir.to_path_buf(),
                reason,
            },
            None if e.code() == git_authenticate::git2::ErrorCode::NotFound => {
                OpenFailure::NotInRepository
            }
            None => OpenFailure::Other(reason),
        }
    })
}

/// The introduction from the arguments, else from the configuration;
/// `true` when it was given explicitly.
fn introduction(args: &Args, configured: &Configuration) -> Result<(Introduction, bool), Stopped> {
    let invalid = |e: IntroductionError| usage_of(Error::from(e.clone()).kind(), e.to_string());
    if let Some(file) = &args.channels {
        return channels_introduction(file, args.channel.as_deref())
            .map(|i| (i, true))
            .map_err(|e| usage(format!("{}: {e}", file.display())));
    }
    match (&args.commit, args.signer.is_empty()) {
        (Some(commit), false) => Introduction::new(commit, &args.signer.join(" "))
            .map(|i| (i, true))
            .map_err(invalid),
        (Some(_), true) => Err(usage(
            "wrong number of arguments; expected COMMIT and SIGNER",
        )),
        (None, _) => match configured.introduction() {
            Some(introduction) => introduction.map(|i| (i, false)).map_err(|e| {
                let kind = Error::from(e.clone()).kind();
                usage_of(kind, format!("in the repository's configuration: {e}"))
            }),
            None => Err(usage(
                "unknown introductory commit and signer: give COMMIT and SIGNER, or set \
                 guix.authentication.introduction-commit and \
                 guix.authentication.introduction-signer with `git config`",
            )),
        },
    }
}

/// Largest channels file read, in bytes (real ones are a few hundred).
const MAX_CHANNELS_FILE: usize = 1 << 20;

/// The introduction that `--channels FILE` (and `--channel NAME`) give.
fn channels_introduction(file: &Path, name: Option<&str>) -> Result<Introduction, String> {
    let text = read_regular_file(file, MAX_CHANNELS_FILE).map_err(|e| e.to_string())?;
    let text = String::from_utf8(text).map_err(|_| "not UTF-8 text".to_owned())?;
    match name {
        Some(name) => Introduction::from_channels_file(&text, name),
        None => Introduction::from_channel_form(&text),
    }
    .map_err(|e| format!("invalid channel introduction: {e}"))
}

fn cache(repo: &Repository, args: &Args) -> Result<Cache, Error> {
    match &args.cache_key {
        Some(key) => Ok(Cache::for_key(key)?),
        None => Ok(Cache::for_key(&Cache::default_key(repo))?),
    }
}

fn historical_authorizations(args: &Args) -> Result<Authorizations, Error> {
    let Some(path) = &args.historical_authorizations else {
        return Ok(Authorizations::empty());
    };
    let failed = |reason: HistoricalProblem| Error::HistoricalAuthorizations {
        path: path.clone(),
        reason,
    };
    let contents =
        read_regular_file(path, Authorizations::MAX_SIZE).map_err(|e| failed(e.into()))?;
    Authorizations::parse_utf8(&contents).map_err(|e| failed(e.into()))
}

/// Whether the run must change nothing in the repository: `--no-setup`,
/// or `GIT_AUTHENTICATE_NO_SETUP` set to anything but empty or `0`.
fn no_setup(args: &Args) -> bool {
    args.no_setup
        || std::env::var_os("GIT_AUTHENTICATE_NO_SETUP").is_some_and(|v| !v.is_empty() && v != "0")
}

/// First successful run with an explicit introduction: remember it and
/// install the hooks, as Guix does.
fn record_configuration(
    repo: &Repository,
    introduction: &Introduction,
    keyring: &str,
    noise: Noise,
) {
    let commit = introduction.commit.to_string();
    let signer = introduction.signer.to_string();
    match config::record(repo, &commit, &signer, keyring) {
        Ok(()) => output::info(
            noise,
            "introduction and keyring recorded in repository configuration file",
        ),
        Err(e) => output::warning(
            noise,
            &format!("could not record the introduction: {}", Error::from(e)),
        ),
    }
    match hooks::install_hooks(repo) {
        Ok(hooks) => hooks.iter().for_each(|hook| report_hook(hook, noise)),
        Err(e) => output::warning(noise, &format!("could not install hooks: {e}")),
    }
}

/// Later successful runs replace hooks that earlier versions installed, as
/// Guix's `maybe-upgrade-hooks` does.
fn upgrade_hooks(repo: &Repository, noise: Noise) {
    match hooks::upgrade_hooks(repo) {
        Ok(hooks) => hooks.iter().for_each(|hook| report_hook(hook, noise)),
        Err(e) => output::warning(noise, &format!("could not upgrade hooks: {e}")),
    }
}

fn report_hook(hook: &hooks::Hook, noise: Noise) {
    match hook {
        hooks::Hook::Installed(path) => {
            output::info(noise, &format!("installed hook '{}'", path.display()))
        }
        hooks::Hook::Upgraded(path) => {
            output::info(noise, &format!("upgraded hook '{}'", path.display()))
        }
        hooks::Hook::Shared(path, advice) => {
            output::warning(noise, &hooks::shared_advice(path, advice))
        }
        hooks::Hook::Kept(path, advice) => output::warning(
            noise,
            &format!(
                "not overriding pre-existing hook '{}'; consider adding `{advice}` to it",
                path.display()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_lose_their_credentials() {
        use super::without_credentials as w;
        assert_eq!(
            w("https://me:token@example.org/a/b.git"),
            "https://example.org/a/b.git"
        );
        assert_eq!(
            w("https://example.org/a@b.git"),
            "https://example.org/a@b.git"
        );
        assert_eq!(w("git@example.org:a.git"), "git@example.org:a.git");
        assert_eq!(w("/srv/git/channel.git"), "/srv/git/channel.git");
    }
}
