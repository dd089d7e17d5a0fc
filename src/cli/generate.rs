//! `--generate`: the manual page and shell completions, from the clap
//! definitions (clap_mangen, clap_complete), as ripgrep does.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use super::args::{Args, Generate};

/// The binary's name, as installed: git finds `git-authenticate` for
/// `git authenticate`, and opens its manual page for `--help`.
const NAME: &str = "git-authenticate";

/// Prints what `what` asks for on standard output.
pub fn print(what: Generate) -> std::io::Result<()> {
    let mut command = Args::command();
    let mut out = std::io::stdout().lock();
    match what {
        Generate::Man => clap_mangen::Man::new(command).render(&mut out)?,
        Generate::CompleteBash => complete(Shell::Bash, &mut command, &mut out),
        Generate::CompleteZsh => complete(Shell::Zsh, &mut command, &mut out),
        Generate::CompleteFish => complete(Shell::Fish, &mut command, &mut out),
    }
    out.flush()
}

fn complete(shell: Shell, command: &mut clap::Command, out: &mut impl Write) {
    clap_complete::generate(shell, command, NAME, out);
}
