//! Command-line arguments: those of `guix git authenticate`, plus what CI
//! jobs ask for.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Authenticate a Git checkout using COMMIT/SIGNER as its introduction.
///
/// Every commit from the introduction up to END must be signed by a key
/// that `.guix-authorizations` lists in each of its parents; keys come from
/// the keyring branch.
///
/// COMMIT and SIGNER may be omitted once recorded in the repository's git
/// configuration, which the first successful run does (it also installs
/// pre-push and post-merge hooks).
#[derive(Debug, Parser)]
#[command(
    name = "git-authenticate",
    version,
    after_help = "The keyring branch is never authenticated: with it checked out \
                  (and no --pushed-ref), or with --pushed-ref naming it, nothing is \
                  checked and the exit status is 0.\n\n\
                  Replace refs (refs/replace/*) and grafts (info/grafts) are refused \
                  when git would use them, as what git checks out could then differ from \
                  what is authenticated; with GIT_NO_REPLACE_OBJECTS set, git ignores \
                  replace refs and so does this command.\n\n\
                  Exit status: 0 authentic; 1 not authentic; 2 could not check \
                  (usage, repository, keyring or I/O error, replace refs or grafts).",
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    /// The subcommands: the server's gate, the pre-merge check and the
    /// doctor; without one, the Guix-compatible `[COMMIT SIGNER]` form.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Print the manual page (`man`) or a shell completion script
    /// (`complete-bash`, `complete-zsh`, `complete-fish`) and exit.
    #[arg(long, value_enum, value_name = "WHAT", exclusive = true)]
    pub generate: Option<Generate>,

    /// The introductory commit (full 40-hex-digit id).
    #[arg(value_name = "COMMIT")]
    pub commit: Option<String>,

    /// OpenPGP fingerprint of the key that signed COMMIT (spaces allowed,
    /// quoted or not).
    #[arg(value_name = "SIGNER", num_args = 0..)]
    pub signer: Vec<String>,

    /// Read the introduction from FILE instead of COMMIT and SIGNER: a
    /// channels file (`~/.config/guix/channels.scm`), one `(channel …)`
    /// entry, or a `(make-channel-introduction …)` or
    /// `(channel-introduction …)` form.
    #[arg(long, value_name = "FILE", conflicts_with = "commit")]
    pub channels: Option<PathBuf>,

    /// With --channels: the channel to use, by name (needed when the file
    /// has several).
    #[arg(long, value_name = "NAME", requires = "channels")]
    pub channel: Option<String>,

    /// Open the Git repository at DIRECTORY (default: the one containing
    /// the current directory).
    #[arg(short, long, value_name = "DIRECTORY")]
    pub repository: Option<PathBuf>,

    /// Load the keyring from REFERENCE, a branch (`keyring`,
    /// `origin/keyring`).
    #[arg(short, long, value_name = "REFERENCE")]
    pub keyring: Option<String>,

    /// Authenticate revisions up to COMMIT (default: HEAD); any commit-ish.
    #[arg(short, long, value_name = "COMMIT")]
    pub end: Option<String>,

    /// The remote ref END is being pushed to, as the pre-push hook says:
    /// a push to the keyring branch (`refs/heads/keyring`) of a commit that
    /// does not descend from the introduction is not checked, since that
    /// branch never is; any other push is, even when the keyring branch is
    /// checked out.
    #[arg(long, value_name = "REF", requires = "end")]
    pub pushed_ref: Option<String>,

    /// As the reference-transaction hook runs it: END was just fetched
    /// into REF, the current branch's upstream (`refs/remotes/origin/master`).
    /// Nothing is merged yet, so a failure says not to take those commits
    /// (and how to undo a `git pull` that did), not how to re-sign them; a
    /// fetch of the keyring branch is not authenticated.
    #[arg(long, value_name = "REF", requires = "end", conflicts_with_all = ["pushed_ref", "after_merge"])]
    pub fetched_ref: Option<String>,

    /// Change nothing in the repository: do not record the introduction in
    /// its configuration, nor install or upgrade hooks, as CI jobs need on
    /// their throwaway checkout. Also set by the environment variable
    /// `GIT_AUTHENTICATE_NO_SETUP` (any value but empty or `0`).
    #[arg(long)]
    pub no_setup: bool,

    /// Display commit signing statistics upon completion.
    #[arg(long)]
    pub stats: bool,

    /// Cache authenticated commits under KEY.
    #[arg(long, value_name = "KEY")]
    pub cache_key: Option<String>,

    /// Read historical authorizations from FILE (a regular file of at most
    /// 1 MiB, in the format of `.guix-authorizations`).
    #[arg(long, value_name = "FILE")]
    pub historical_authorizations: Option<PathBuf>,

    /// Check every commit and report every failure before exiting.
    #[arg(long)]
    pub keep_going: bool,

    /// As the post-merge hook runs it: the merge is done already, so a
    /// failure says how to undo it (`git reset --hard ORIG_HEAD`) and
    /// whom to tell, not how to re-sign the commits.
    #[arg(long)]
    pub after_merge: bool,

    /// Output format on standard output. With `json`, standard error gets
    /// one summary line (and errors that stop the check), the details
    /// being in the document.
    #[arg(long, value_enum, default_value_t = Format::Text, value_name = "FORMAT")]
    pub format: Format,

    /// Print nothing on standard error but errors: those that stop the
    /// check and, in text format, one line saying why a history is not
    /// authentic (with `--format=json`, that is only in the document).
    #[arg(short, long)]
    pub quiet: bool,

    /// Key policy: `guix` (Guix's rule), or `strict` (also refuse keys that
    /// were expired, revoked, unbound or weak when they signed).
    #[arg(long, value_enum, default_value_t = PolicyArg::Guix, value_name = "POLICY")]
    pub policy: PolicyArg,

    /// Threads checking commits, besides the one walking the history: 1 to
    /// 1024, or 0 (the default) for one per core.
    #[arg(
        short,
        long,
        value_name = "N",
        default_value_t = 0,
        hide_default_value = true,
        value_parser = jobs()
    )]
    pub jobs: usize,
}

/// The most `--jobs` accepted: more threads than that only cost memory.
const MAX_JOBS: u64 = 1024;

/// `--jobs`: 0 to [`MAX_JOBS`].
fn jobs() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(0..=MAX_JOBS)
}

/// Which keys count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyArg {
    /// Exactly Guix's rule.
    Guix,
    /// Guix's rule plus sequoia's standard policy at signing time.
    Strict,
}

impl From<PolicyArg> for git_authenticate::Policy {
    fn from(policy: PolicyArg) -> Self {
        match policy {
            PolicyArg::Guix => git_authenticate::Policy::Guix,
            PolicyArg::Strict => git_authenticate::Policy::Strict,
        }
    }
}

/// Whether the words of a command line that clap refused ask for
/// `--format=json` (`--format json`), before any `--`.
pub fn json_asked(words: &[String]) -> bool {
    let words = &words[..words.iter().position(|w| w == "--").unwrap_or(words.len())];
    words.iter().enumerate().any(|(i, word)| {
        word == "--format=json"
            || (word == "--format" && words.get(i + 1).is_some_and(|next| next == "json"))
    })
}

/// What goes to standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable (statistics with `--stats`).
    Text,
    /// One JSON document describing the outcome.
    Json,
}

/// The subcommands, beside the Guix-compatible form.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// As a server's pre-receive hook: read `OLD NEW REF` lines on standard
    /// input and refuse the whole push unless every ref is accepted.
    PreReceive(GateArgs),
    /// As a server's update hook: accept or refuse the update of one ref.
    Update {
        /// The ref being updated (`refs/heads/master`): bytes, as git
        /// allows, so that a name which is not UTF-8 is refused by name.
        #[arg(value_name = "REF")]
        name: std::ffi::OsString,
        /// Its old value (all zeros: created).
        old: String,
        /// Its new value (all zeros: deleted).
        new: String,
        #[command(flatten)]
        gate: GateArgs,
    },
    /// Install the pre-receive hook into a bare repository (upgrading its
    /// own, never overwriting another hook; `core.hooksPath` respected).
    InstallServerHook {
        /// The repository (default: the one containing the current
        /// directory).
        #[arg(short, long, value_name = "DIRECTORY")]
        repository: Option<PathBuf>,
        /// Print the hook on standard output instead, to paste into a
        /// forge's hook settings.
        #[arg(long)]
        print: bool,
    },
    /// For a proposed merge of HEAD into BASE (more HEADs: an octopus):
    /// are HEAD's new commits authentic, and who may sign the merge commit?
    MergeCheck(MergeCheckArgs),
    /// Check a channel's setup and say what to fix before users' pulls fail.
    Doctor(DoctorArgs),
    /// Who could sign the channel, since when, who let them in, and what
    /// looks wrong: the authenticated range's authorization changes, keys
    /// and findings.
    Audit(AuditArgs),
}

/// What the server's hooks take.
#[derive(Debug, clap::Args)]
pub struct GateArgs {
    /// Threads checking commits: 1 to 1024, or 0 (the default) for one per
    /// core.
    #[arg(short, long, value_name = "N", default_value_t = 0, hide_default_value = true,
          value_parser = jobs())]
    pub jobs: usize,

    /// Key policy.
    #[arg(long, value_enum, default_value_t = PolicyArg::Guix, value_name = "POLICY")]
    pub policy: PolicyArg,
}

/// What the pre-merge check takes.
#[derive(Debug, clap::Args)]
pub struct MergeCheckArgs {
    /// The commit merged into (any commit-ish: `origin/master`).
    #[arg(value_name = "BASE")]
    pub base: String,

    /// The commits merged (any commit-ish).
    #[arg(value_name = "HEAD", required = true, num_args = 1..)]
    pub heads: Vec<String>,

    /// The introductory commit (default: the configured one).
    #[arg(long, value_name = "COMMIT", requires = "signer")]
    pub introduction: Option<String>,

    /// The fingerprint of the key that signed the introduction.
    #[arg(long, value_name = "SIGNER", requires = "introduction")]
    pub signer: Option<String>,

    /// Open the Git repository at DIRECTORY.
    #[arg(short, long, value_name = "DIRECTORY")]
    pub repository: Option<PathBuf>,

    /// Load the keyring from REFERENCE (default: configured, else
    /// `keyring`).
    #[arg(short, long, value_name = "REFERENCE")]
    pub keyring: Option<String>,

    /// Cache authenticated commits under KEY.
    #[arg(long, value_name = "KEY")]
    pub cache_key: Option<String>,

    /// Output format on standard output.
    #[arg(long, value_enum, default_value_t = Format::Text, value_name = "FORMAT")]
    pub format: Format,
}

/// What `--generate` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// The manual page, in roff (`man -l -` reads it).
    Man,
    /// Completions for bash.
    CompleteBash,
    /// Completions for zsh.
    CompleteZsh,
    /// Completions for fish.
    CompleteFish,
    /// The pre-push hook the first run installs (to install by hand).
    HookPrePush,
    /// The post-merge hook the first run installs.
    HookPostMerge,
    /// The reference-transaction hook the first run installs.
    HookReferenceTransaction,
}

/// Check a channel's setup: authorized keys on the keyring branch, the
/// keyring branch pushed, keys that cannot sign or expire, your signing
/// key and gpg configuration, the introduction, the hooks, and whether the
/// history authenticates.
///
/// Each finding has a severity (error: users' pulls will fail or already
/// fail; warning: will fail soon or is fragile; note) and a fix.
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit status: 0 no error found; 1 errors found; 2 could not check.")]
pub struct DoctorArgs {
    /// Open the Git repository at DIRECTORY (default: the one containing
    /// the current directory).
    #[arg(short, long, value_name = "DIRECTORY")]
    pub repository: Option<PathBuf>,

    /// The keyring branch (default: configured, else `keyring`).
    #[arg(short, long, value_name = "REFERENCE")]
    pub keyring: Option<String>,

    /// Output format on standard output.
    #[arg(long, value_enum, default_value_t = Format::Text, value_name = "FORMAT")]
    pub format: Format,

    /// In text, every finding on its own line and the keys authorized by
    /// branch; by default, findings of a kind share a line, and notes about
    /// branches that are not the default, checked-out or protected one are
    /// only counted.
    #[arg(short, long)]
    pub verbose: bool,
}

/// Audit the authenticated range from the introduction to END: every
/// change of `.guix-authorizations`, every key ever authorized (when
/// listed, who added it, what it signed, what the keyring says of it), and
/// findings (unused, dormant, expiring, revoked or weak keys, a single
/// key, changes made on merged branches…).
///
/// The whole range is authenticated first, without the cache: a range that
/// is not authentic is not audited.
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit status: 0 audited; 1 not authentic; 2 could not check.")]
pub struct AuditArgs {
    /// The introductory commit (default: the configured one).
    #[arg(value_name = "COMMIT")]
    pub commit: Option<String>,

    /// OpenPGP fingerprint of the key that signed COMMIT.
    #[arg(value_name = "SIGNER", num_args = 0..)]
    pub signer: Vec<String>,

    /// Open the Git repository at DIRECTORY.
    #[arg(short, long, value_name = "DIRECTORY")]
    pub repository: Option<PathBuf>,

    /// The keyring branch (default: configured, else `keyring`).
    #[arg(short, long, value_name = "REFERENCE")]
    pub keyring: Option<String>,

    /// Audit up to COMMIT (default: HEAD); any commit-ish.
    #[arg(short, long, value_name = "COMMIT")]
    pub end: Option<String>,

    /// Also write the audit as one self-contained HTML page to FILE: a
    /// timeline per key, the tables and the findings.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Output format on standard output.
    #[arg(long, value_enum, default_value_t = Format::Text, value_name = "FORMAT")]
    pub format: Format,

    /// Threads checking commits: 1 to 1024, or 0 (the default) for one per
    /// core.
    #[arg(short, long, value_name = "N", default_value_t = 0, hide_default_value = true,
          value_parser = jobs())]
    pub jobs: usize,
}
