//! `--generate`: the manual page and shell completions, from the clap
//! definitions (clap_mangen, clap_complete), as ripgrep does, and the
//! client hooks, to install by hand.

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
        Generate::HookPrePush => out.write_all(super::hooks::PRE_PUSH.as_bytes())?,
        Generate::HookPostMerge => out.write_all(super::hooks::POST_MERGE.as_bytes())?,
        Generate::HookReferenceTransaction => {
            out.write_all(super::hooks::REFERENCE_TRANSACTION.as_bytes())?
        }
    }
    out.flush()
}

fn complete(shell: Shell, command: &mut clap::Command, out: &mut impl Write) {
    let mut script = Vec::new();
    clap_complete::generate(shell, command, NAME, &mut script);
    if shell == Shell::Bash {
        script = fix_bash_states(&script);
        script.extend_from_slice(GIT_SUBCOMMAND_BASH.as_bytes());
    }
    let _ = out.write_all(&script);
}

/// `git authenticate <TAB>`: git's own bash completion loads the
/// completion file of `git-authenticate` and calls `_git_authenticate`,
/// with the words in its variables (`words`, `cword`, `cur`, `prev`, and
/// `__git_cmd_idx`, the index of `authenticate`); this hands them to the
/// function clap_complete wrote, as if `git-authenticate` had been typed.
const GIT_SUBCOMMAND_BASH: &str = r#"
# `git authenticate`, through git's own completion.
_git_authenticate() {
    local COMP_WORDS=(git-authenticate "${words[@]:__git_cmd_idx+1}")
    local COMP_CWORD=$((cword - __git_cmd_idx))
    _git__authenticate git-authenticate "$cur" "$prev"
}
"#;

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
