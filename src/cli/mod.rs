//! The command: arguments and configuration in, the library's verdict out.

mod args;
mod output;
mod progress;

use std::process::ExitCode;

use clap::Parser;
use git_authenticate::git2::{Oid, Repository};
use git_authenticate::{
    authenticate, config, keyring, resolve_commit, Authorizations, Cache, Error, Introduction,
    Options, Report,
};

use args::{Args, Format};
use output::Request;

/// Exit statuses, documented in `--help` and README.md.
const AUTHENTIC: u8 = 0;
const NOT_AUTHENTIC: u8 = 1;
const COULD_NOT_CHECK: u8 = 2;

pub fn run() -> ExitCode {
    let args = Args::parse();
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
    Usage(String),
    Error(Error),
}

impl Stop {
    fn report(self, args: &Args) -> u8 {
        let code = match &self.error {
            StopReason::Error(e) if e.is_authentication_failure() => NOT_AUTHENTIC,
            _ => COULD_NOT_CHECK,
        };
        match &self.error {
            StopReason::Usage(message) => output::usage(message),
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
    Box::new(Stop {
        error: StopReason::Usage(message.into()),
        request: Request::default(),
    })
}

fn execute(args: &Args) -> Result<u8, Stopped> {
    let repo = open_repository(args)?;
    let configured = config::configured(&repo).map_err(stop_early)?;
    let (introduction, explicit) = introduction(args, &configured)?;
    let keyring = args
        .keyring
        .clone()
        .or(configured.keyring.clone())
        .unwrap_or_else(|| keyring::DEFAULT_REFERENCE.to_owned());
    let quiet = args.quiet || args.format == Format::Json;
    // From here on, failures can name the introduction and the keyring.
    let mut request = Request {
        introduction: Some(introduction.clone()),
        end: None,
        keyring: keyring.clone(),
    };

    // The keyring branch is not authenticated: hooks run on it must succeed.
    let keyrings = keyring_branches(&repo, &keyring);
    if let Some(branch) = config::current_branch(&repo).filter(|b| keyrings.contains(b)) {
        output::info(
            quiet,
            &format!("current branch '{branch}' is the keyring branch; doing nothing"),
        );
        return Ok(nothing_to_do(args, &request));
    }
    let end = resolve_commit(&repo, args.end.as_deref().unwrap_or("HEAD"))
        .map_err(|e| stop(e, &request))?;
    request.end = Some(end);
    if let Some(branch) = keyrings.iter().find(|b| keyring_tip(&repo, b) == Some(end)) {
        output::info(quiet, &format!("commit {end} is the tip of keyring branch '{branch}', which is not authenticated; doing nothing"));
        return Ok(nothing_to_do(args, &request));
    }
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
    let reporter = progress::Reporter::new(quiet);
    let report =
        authenticate(&repo, &introduction, end, &options, &reporter).map_err(with_request)?;
    for warning in &report.warnings {
        if !args.quiet {
            output::warning(&warning.to_string());
        }
    }
    if !report.is_authentic() {
        return Ok(not_authentic(args, &request, &report));
    }
    if explicit && configured.commit.is_none() {
        record_configuration(&repo, &introduction, &keyring, quiet);
    }
    match args.format {
        Format::Json => output::json(&request, Some(&report), None),
        Format::Text if args.stats && !report.signers.is_empty() => output::stats(&report.signers),
        Format::Text => {}
    }
    output::info(quiet, &format!("successfully authenticated commit {end}"));
    Ok(AUTHENTIC)
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

/// Success without checking anything; the JSON document still says so.
fn nothing_to_do(args: &Args, request: &Request) -> u8 {
    if args.format == Format::Json {
        output::json(request, None, None);
    }
    AUTHENTIC
}

/// Every failure of a `--keep-going` run, in the order Guix checks the commits.
fn not_authentic(args: &Args, request: &Request, report: &Report) -> u8 {
    for failure in &report.failures {
        output::error(failure);
    }
    if args.format == Format::Json {
        output::json(request, Some(report), None);
    }
    NOT_AUTHENTIC
}

fn open_repository(args: &Args) -> Result<Repository, Stopped> {
    let opened = match &args.repository {
        Some(dir) => Repository::open(dir)
            .map_err(|e| format!("{}: not a git repository ({})", dir.display(), e.message())),
        None => Repository::open_from_env().map_err(|_| {
            "not in a git repository (or any parent directory); use -r DIRECTORY".to_owned()
        }),
    };
    opened.map_err(usage)
}

/// The introduction from the arguments, else from the configuration;
/// `true` when it was given explicitly.
fn introduction(
    args: &Args,
    configured: &config::Configuration,
) -> Result<(Introduction, bool), Stopped> {
    let invalid = |e: Error| usage(e.to_string());
    match (&args.commit, args.signer.is_empty()) {
        (Some(commit), false) => Introduction::new(commit, &args.signer.join(" "))
            .map(|i| (i, true))
            .map_err(invalid),
        (Some(_), true) => Err(usage(
            "wrong number of arguments; expected COMMIT and SIGNER",
        )),
        (None, _) => match (&configured.commit, &configured.signer) {
            (Some(commit), Some(signer)) => Introduction::new(commit, signer)
                .map(|i| (i, false))
                .map_err(|e| usage(format!("in the repository's configuration: {e}"))),
            _ => Err(usage(
                "unknown introductory commit and signer: give COMMIT and SIGNER, or set \
                 guix.authentication.introduction-commit and \
                 guix.authentication.introduction-signer with `git config`",
            )),
        },
    }
}

/// The branches holding the keyring: the keyring reference and, when it is
/// a remote-tracking branch (`origin/keyring`), the local branch of the same
/// name (`keyring`), which is the one maintainers commit to and push.
fn keyring_branches(repo: &Repository, keyring: &str) -> Vec<String> {
    let local = keyring
        .split_once('/')
        .filter(|_| {
            repo.find_reference(&format!("refs/remotes/{keyring}"))
                .is_ok()
        })
        .map(|(_remote, name)| name.to_owned());
    std::iter::once(keyring.to_owned()).chain(local).collect()
}

fn keyring_tip(repo: &Repository, keyring: &str) -> Option<Oid> {
    [
        format!("refs/heads/{keyring}"),
        format!("refs/remotes/{keyring}"),
        keyring.to_owned(),
    ]
    .iter()
    .find_map(|name| repo.find_reference(name).ok()?.peel_to_commit().ok())
    .map(|c| c.id())
}

fn cache(repo: &Repository, args: &Args) -> Result<Cache, Error> {
    match &args.cache_key {
        Some(key) => Cache::for_key(key),
        None => Cache::for_key(&Cache::default_key(repo)),
    }
}

fn historical_authorizations(args: &Args) -> Result<Authorizations, Error> {
    let Some(path) = &args.historical_authorizations else {
        return Ok(Authorizations::empty());
    };
    let failed = |reason: String| Error::HistoricalAuthorizations {
        path: path.clone(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| failed(e.to_string()))?;
    if meta.len() > git_authenticate::authorizations::MAX_SIZE as u64 {
        return Err(failed(format!(
            "the file has {} bytes, too many",
            meta.len()
        )));
    }
    let contents = std::fs::read(path).map_err(|e| failed(e.to_string()))?;
    Authorizations::parse(&contents).map_err(|e| failed(e.to_string()))
}

/// First successful run with an explicit introduction: remember it and
/// install the hooks, as Guix does.
fn record_configuration(
    repo: &Repository,
    introduction: &Introduction,
    keyring: &str,
    quiet: bool,
) {
    let commit = introduction.commit.to_string();
    let signer = introduction.signer.to_string();
    match config::record(repo, &commit, &signer, keyring) {
        Ok(()) => output::info(
            quiet,
            "introduction and keyring recorded in repository configuration file",
        ),
        Err(e) => output::warning(&format!("could not record the introduction: {e}")),
    }
    match config::install_hooks(repo) {
        Ok(hooks) => {
            for hook in hooks {
                match hook {
                    config::Hook::Installed(path) => {
                        output::info(quiet, &format!("installed hook '{}'", path.display()))
                    }
                    config::Hook::Kept(path, advice) => output::warning(&format!(
                        "not overriding pre-existing hook '{}'; consider adding `{advice}` to it",
                        path.display()
                    )),
                }
            }
        }
        Err(e) => output::warning(&format!("could not install hooks: {e}")),
    }
}
