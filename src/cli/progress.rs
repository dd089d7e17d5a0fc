//! What the user sees while commits are checked.

use std::io::IsTerminal;
use std::time::Duration;

use git_authenticate::git2::Oid;
use git_authenticate::{Phase, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// From the first moment, a spinner while the history is walked (commits
/// are checked as the walk finds them, so it counts those too), then the
/// "Authenticating commits…" line and a bar as wide as the terminal. Only
/// on a terminal: CI logs and pipes get the line alone, no control
/// characters.
///
/// Both fit the terminal's width at every redraw: the spinner's phase is
/// its one wide part, cut to what the counts and the elapsed time (which
/// grow) leave; the counts themselves are never cut, so no digit is lost.
pub struct Reporter {
    quiet: bool,
    bar: ProgressBar,
}

impl Reporter {
    pub fn new(quiet: bool) -> Self {
        let bar = if !quiet && std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {wide_msg} {prefix}{pos} checked ({elapsed})",
                )
                .expect("valid template"),
            );
            bar.set_message("Loading the keyring…");
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        } else {
            ProgressBar::hidden()
        };
        Reporter { quiet, bar }
    }
}

fn short(id: Oid) -> String {
    id.to_string()[..7].to_owned()
}

/// `1 new commit`, `2 new commits`.
pub fn new_commits(commits: usize) -> String {
    match commits {
        1 => "1 new commit".to_owned(),
        n => format!("{n} new commits"),
    }
}

/// Commits per second, as a whole number.
fn rate(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(w, "{:.0}/s", state.per_sec());
}

impl Progress for Reporter {
    fn phase(&self, phase: Phase) {
        let message = match phase {
            Phase::LoadingKeyring => "Loading the keyring…",
            Phase::FindingKnownCommits => "Reading the cache…",
            Phase::Walking => "Looking for new commits…",
            // The bar takes over, then is cleared.
            _ => return,
        };
        self.bar.set_message(message);
    }

    fn found(&self, commits: usize) {
        // The prefix, as a count that must not be cut: see [`Reporter`].
        self.bar.set_prefix(format!("{commits} found, "));
    }

    fn start(&self, introduction: Oid, end: Oid, commits: usize) {
        if self.quiet {
            return;
        }
        let line = format!(
            "Authenticating commits {} to {} ({})...",
            short(introduction),
            short(end),
            new_commits(commits)
        );
        // Above the spinner, which the bar then replaces.
        self.bar.suspend(|| eprintln!("{line}"));
        self.bar.set_length(commits as u64);
        self.bar.set_style(
            ProgressStyle::with_template("[{wide_bar}] {pos}/{len} {rate} ETA {eta}")
                .expect("valid template")
                .with_key("rate", rate)
                .progress_chars("#>-"),
        );
    }

    fn advance(&self, commits: usize) {
        self.bar.inc(commits as u64);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Reporter {
    /// Nothing was new: the spinner goes away all the same.
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
