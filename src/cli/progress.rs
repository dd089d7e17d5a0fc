//! What the user sees while commits are checked.

use std::io::IsTerminal;

use git_authenticate::git2::Oid;
use git_authenticate::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The "Authenticating commits…" line, then a bar, but only on a terminal:
/// CI logs and pipes get no control characters.
pub struct Reporter {
    quiet: bool,
    bar: ProgressBar,
}

impl Reporter {
    pub fn new(quiet: bool) -> Self {
        let bar = ProgressBar::hidden();
        Reporter { quiet, bar }
    }
}

fn short(id: Oid) -> String {
    id.to_string()[..7].to_owned()
}

impl Progress for Reporter {
    fn start(&self, introduction: Oid, end: Oid, commits: usize) {
        if self.quiet {
            return;
        }
        eprintln!(
            "Authenticating commits {} to {} ({commits} new commits)...",
            short(introduction),
            short(end)
        );
        if std::io::stderr().is_terminal() {
            self.bar.set_length(commits as u64);
            self.bar.set_style(
                ProgressStyle::with_template("[{bar:40}] {pos}/{len} {per_sec} ETA {eta}")
                    .expect("valid template")
                    .progress_chars("#>-"),
            );
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    fn advance(&self, commits: usize) {
        self.bar.inc(commits as u64);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
