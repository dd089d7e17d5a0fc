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
    let mut script = Vec::new();
    clap_complete::generate(shell, command, NAME, &mut script);
    if shell == Shell::Bash {
        script = fix_bash_states(&script);
    }
    let _ = out.write_all(&script);
}

/// clap_complete's bash script spells the state of a subcommand of a
/// hyphenated binary two ways (clap-rs/clap#6421, open): the loop that
/// reads the words arrives at `git__authenticate__subcmd__doctor`, the
/// `case` arms expect `git__subcmd__authenticate__subcmd__doctor`, so
/// nothing after `doctor` completes. The arms are respelled as the loop
/// spells them; once clap_complete is fixed this replaces nothing.
fn fix_bash_states(script: &[u8]) -> Vec<u8> {
    let broken = NAME.replace('-', "__subcmd__");
    let state = NAME.replace('-', "__");
    String::from_utf8_lossy(script)
        .replace(
            &format!("{broken}__subcmd__"),
            &format!("{state}__subcmd__"),
        )
        .into_bytes()
}
