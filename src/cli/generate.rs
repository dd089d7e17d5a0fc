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
        Generate::Man => out.write_all(&manual_page(command)?)?,
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

/// The manual page: clap_mangen's, with the subcommands documented in it
/// (one page to install, which refers to no other page of its own), and
/// FILES and ENVIRONMENT sections before its VERSION section (or at the
/// end), where man pages put them.
fn manual_page(mut command: clap::Command) -> std::io::Result<Vec<u8>> {
    // Built, the subcommands know their full names (`git-authenticate doctor`).
    command.build();
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    let page = String::from_utf8_lossy(&page).into_owned();
    let page = match section_bounds(&page, "SUBCOMMANDS") {
        Some((start, end)) => format!(
            "{}{}{}",
            &page[..start],
            subcommands(&command)?,
            &page[end..]
        ),
        None => page,
    };
    let at = page.find("\n.SH VERSION").map_or(page.len(), |at| at + 1);
    let (head, tail) = page.split_at(at);
    // `…` is no character of troff's ASCII output (man with `LANG=C`).
    let page = format!("{head}{ENVIRONMENT}{FILES}{tail}").replace('…', "\\&...");
    Ok(page.into_bytes())
}

/// Where the section `name` starts (its `.SH` line) and ends in `page`.
fn section_bounds(page: &str, name: &str) -> Option<(usize, usize)> {
    let start = page.find(&format!("\n.SH {name}\n"))? + 1;
    let end = page[start + 1..]
        .find("\n.SH ")
        .map_or(page.len(), |end| start + 1 + end + 1);
    Some((start, end))
}

/// The SUBCOMMANDS section: each subcommand's synopsis, description and
/// options, where clap_mangen names a page per subcommand, which no one
/// installs. `help` is left out: `--help` says the same.
fn subcommands(command: &clap::Command) -> std::io::Result<String> {
    let mut section = String::from(".SH SUBCOMMANDS\n");
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let man = clap_mangen::Man::new(sub.clone());
        let mut roff = Vec::new();
        man.render_synopsis_section(&mut roff)?;
        man.render_description_section(&mut roff)?;
        man.render_options_section(&mut roff)?;
        if sub.get_after_long_help().or(sub.get_after_help()).is_some() {
            man.render_extra_section(&mut roff)?;
        }
        let name = sub.get_name();
        section.push_str(
            &String::from_utf8_lossy(&roff)
                .replace(".SH SYNOPSIS\n", &format!(".SS {name}\n"))
                .replace(".SH DESCRIPTION\n", ".PP\n")
                .replace(".SH OPTIONS\n", ".PP\nOptions:\n")
                .replace(".SH EXTRA\n", ".PP\n"),
        );
    }
    Ok(section)
}

/// Where the command reads and writes, as `src/cache.rs`, `src/gate.rs`,
/// `src/cli/config.rs` and `src/cli/hooks.rs` lay it out.
const FILES: &str = r#".SH FILES
.TP
\fI$XDG_CACHE_HOME\fR/git\-authenticate/authentication/\fIKEY\fR
The cache of authenticated commits for cache key \fIKEY\fR (\fB\-\-cache\-key\fR;
by default \fBcheckouts/\fR and the URL\-safe base64 of the SHA\-256 of the
repository's path: its work tree, or its git directory when bare). \fI$XDG_CACHE_HOME\fR defaults to \fI~/.cache\fR. A key made of
plain names (letters, digits, \fB\-_.=+\fR) separated by \fB/\fR is that path below
the directory; any other key is one file, \fB%\fR and the key with other bytes
written \fB%XX\fR (\fB%sha256\-\fR and the key's SHA\-256 in hex when that is too
long for a file name). The file holds a \fB;; List of previously\-authenticated
commits.\fR comment, a \fB;; Introduction: \fR\fIID\fR comment, then at most 200
entries, newest first, each \fB("\fR\fIID\fR\fB" guix)\fR or
\fB("\fR\fIID\fR\fB" strict "\fR\fIDIGEST\fR\fB")\fR: the commit and the policy (and
the SHA\-256 of the historical authorizations) it was authenticated under.
Beside it, a file of the same name with \fB.lock\fR appended serialises writers,
and \fB.tmp\-*\fR files exist while it is replaced. The file must be the user's, mode 0600; every directory from
the cache root down, the user's and not writable by group or others
(created 0700); otherwise the cache is ignored with a warning.
.TP
\fIGIT_DIR\fR/git\-authenticate/gate/\fIINTRODUCTION\fR
The server gate's cache of the commits it accepted from introduction commit
\fIINTRODUCTION\fR, in the same format, with the git directory as its root.
.TP
\fIGIT_DIR\fR/config (and git's other configuration files)
\fBguix.authentication.introduction\-commit\fR, \fBguix.authentication.introduction\-signer\fR
and \fBguix.authentication.keyring\fR: the introduction and keyring branch,
recorded by the first successful run with COMMIT and SIGNER;
\fBguix.authentication\-\fR\fIBRANCH\fR\fB.*\fR: the same for branch \fIBRANCH\fR, taking
precedence there; \fBguix.authentication.protected\-branch\fR (one branch or
pattern per value) and \fBguix.authentication.allow\-key\-removal\fR: the server
gate's. Also read: \fBcore.hooksPath\fR (where hooks go), and for \fBdoctor\fR,
\fBuser.signingkey\fR, \fBgpg.format\fR, \fBgpg.openpgp.program\fR and \fBgpg.program\fR.
.TP
\fIGIT_DIR\fR/hooks/pre\-push, post\-merge, reference\-transaction
The client hooks the first successful run installs (in \fBcore.hooksPath\fR when
the repository's own configuration sets it), never over an existing file.
\fBinstall\-server\-hook\fR writes \fIGIT_DIR\fR/hooks/pre\-receive (or into
\fBcore.hooksPath\fR).
"#;

/// Every variable the binary reads, and those its hooks read.
const ENVIRONMENT: &str = r#".SH ENVIRONMENT
.TP
\fBGIT_AUTHENTICATE_NO_SETUP\fR
Set to anything but empty or \fB0\fR: as \fB\-\-no\-setup\fR.
.TP
\fBGIT_AUTHENTICATE\fR
Read by the client hooks, not the binary: the command they run (default
\fBgit\-authenticate\fR from \fBPATH\fR).
.TP
\fBGIT_DIR\fR, \fBGIT_WORK_TREE\fR, \fBGIT_COMMON_DIR\fR, \fBGIT_CEILING_DIRECTORIES\fR, \fBGIT_DISCOVERY_ACROSS_FILESYSTEM\fR, \fBGIT_NAMESPACE\fR, \fBGIT_INDEX_FILE\fR, \fBGIT_CONFIG_NOSYSTEM\fR, \fBGIT_CONFIG_SYSTEM\fR, \fBGIT_CONFIG_GLOBAL\fR
Without \fB\-r\fR, the repository and its configuration are found as git finds
them from its environment (libgit2's open from environment).
.TP
\fBGIT_OBJECT_DIRECTORY\fR, \fBGIT_ALTERNATE_OBJECT_DIRECTORIES\fR
Object directories to read besides the repository's, as git hands them to
hooks (the objects of a push in quarantine).
.TP
\fBGIT_NO_REPLACE_OBJECTS\fR, \fBGIT_REPLACE_REF_BASE\fR, \fBGIT_GRAFT_FILE\fR
Whether and where git would substitute objects (replace refs, grafts), which
is refused (status 2).
.TP
\fBGIT_REFLOG_ACTION\fR
With \fB\-\-after\-merge\fR: a merge that \fBgit pull\fR ran names the remote it
pulled from.
.TP
\fBXDG_CACHE_HOME\fR, \fBHOME\fR
The cache root (\fI$XDG_CACHE_HOME\fR when absolute, else \fI$HOME/.cache\fR).
\fBHOME\fR and \fBXDG_CONFIG_HOME\fR also locate the user's git configuration.
.TP
\fBGNUPGHOME\fR
For \fBdoctor\fR: gpg's home, whose \fIgpg.conf\fR is read (default \fI~/.gnupg\fR).
.TP
\fBNO_COLOR\fR, \fBCLICOLOR_FORCE\fR, \fBCLICOLOR\fR, \fBTERM\fR, \fBCI\fR
Colours on standard error, as the anstream crate decides: none when
\fBNO_COLOR\fR is set and not empty; else always when \fBCLICOLOR_FORCE\fR is set
and not empty; else none with \fBCLICOLOR=0\fR; else only on a terminal, when
\fBTERM\fR is set and not \fBdumb\fR, \fBCLICOLOR\fR is set, or \fBCI\fR is set.
"#;

fn complete(shell: Shell, command: &mut clap::Command, out: &mut impl Write) {
    let mut script = Vec::new();
    clap_complete::generate(shell, command, NAME, &mut script);
    match shell {
        Shell::Bash => {
            script = complete_bash_refs(&fix_bash_states(&script));
            script.extend_from_slice(BASH_REFS.as_bytes());
            script.extend_from_slice(GIT_SUBCOMMAND_BASH.as_bytes());
        }
        Shell::Zsh => script = complete_zsh_refs(&script),
        Shell::Fish => {
            script = complete_fish_refs(&script);
            script.extend_from_slice(FISH_REFS.as_bytes());
        }
        _ => {}
    }
    let _ = out.write_all(&script);
}

/// The refs of the current repository, for zsh: defined once the
/// completion function is loaded.
const ZSH_REFS: &str = r#"
# Refs, for --end, --keyring and merge-check's BASE and HEAD.
(( $+functions[_git_authenticate_refs] )) ||
_git_authenticate_refs() {
    local -a refs
    refs=(HEAD ${(f)"$(git for-each-ref --format='%(refname:short)' refs/heads refs/remotes refs/tags 2>/dev/null)"})
    compadd -a refs
}
"#;

/// clap_complete's zsh script with refs (`_git_authenticate_refs`) where
/// it completes files for [`REF_OPTIONS`] and merge-check's BASE and HEAD.
fn complete_zsh_refs(script: &[u8]) -> Vec<u8> {
    let script = String::from_utf8_lossy(script);
    let takes_ref = |line: &str| {
        let option = REF_OPTIONS
            .iter()
            .any(|o| line.starts_with(&format!("'{o}+[")) || line.starts_with(&format!("'{o}=[")));
        option || line.starts_with("':base -- ") || line.starts_with("'*::heads -- ")
    };
    let mut out = String::new();
    for line in script.split_inclusive('\n') {
        match line.strip_suffix(":_default' \\\n") {
            Some(start) if takes_ref(line) => {
                out.push_str(start);
                out.push_str(":_git_authenticate_refs' \\\n");
            }
            _ => out.push_str(line),
        }
        if line == "autoload -U is-at-least\n" {
            out.push_str(ZSH_REFS);
        }
    }
    out.into_bytes()
}

/// The refs of the current repository, for fish.
const FISH_REFS: &str = r#"
# Refs, for --end, --keyring and merge-check's BASE and HEAD.
function __fish_git_authenticate_refs
    echo HEAD
    git for-each-ref --format='%(refname:short)' refs/heads refs/remotes refs/tags 2>/dev/null
end
complete -c git-authenticate -n "__fish_git_authenticate_using_subcommand merge-check" -f -a "(__fish_git_authenticate_refs)"
"#;

/// clap_complete's fish script with refs for [`REF_OPTIONS`].
fn complete_fish_refs(script: &[u8]) -> Vec<u8> {
    let script = String::from_utf8_lossy(script);
    let mut out = String::new();
    for line in script.split_inclusive('\n') {
        let takes_ref = [" -s e -l end ", " -s k -l keyring "]
            .iter()
            .any(|o| line.contains(o));
        match line.strip_suffix(" -r\n") {
            Some(start) if takes_ref => {
                out.push_str(start);
                out.push_str(" -r -f -a \"(__fish_git_authenticate_refs)\"\n");
            }
            _ => out.push_str(line),
        }
    }
    out.into_bytes()
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

/// The refs of the repository being completed for (`-r DIR` if typed
/// before), as git's completion offers them: `HEAD`, branches,
/// remote-tracking branches and tags, by their short names.
const BASH_REFS: &str = r#"
# Refs, for --end, --keyring and merge-check's BASE and HEAD.
__git_authenticate_refs() {
    local dir=() i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -r|--repository) dir=(-C "${COMP_WORDS[i+1]}") ;;
            --repository=*) dir=(-C "${COMP_WORDS[i]#--repository=}") ;;
        esac
    done
    compgen -W "HEAD $(git "${dir[@]}" for-each-ref --format='%(refname:short)' \
        refs/heads refs/remotes refs/tags 2>/dev/null)" -- "$1"
}
"#;

/// The options whose value is a ref, which clap_complete's static bash
/// script completes as file names.
const REF_OPTIONS: [&str; 4] = ["--end", "-e", "--keyring", "-k"];

/// clap_complete's bash script, with refs offered for [`REF_OPTIONS`] and
/// for merge-check's BASE and HEAD (clap_complete's static scripts know
/// no values but files and fixed lists).
fn complete_bash_refs(script: &[u8]) -> Vec<u8> {
    let files = r#"COMPREPLY=($(compgen -f "${cur}"))"#;
    let refs = r#"COMPREPLY=($(__git_authenticate_refs "${cur}"))"#;
    let mut script = String::from_utf8_lossy(script).into_owned();
    for option in REF_OPTIONS {
        let arm = format!("\n                {option})\n                    ");
        script = script.replace(&format!("{arm}{files}"), &format!("{arm}{refs}"));
    }
    let merge_check = format!("{}__subcmd__merge__subcmd__check)", NAME.replace('-', "__"));
    let Some(start) = script.find(&merge_check) else {
        return script.into_bytes();
    };
    let end = script[start..]
        .find("\n            ;;")
        .map_or(script.len(), |end| start + end);
    // Positions: refs, unless an option is being typed (the last
    // completion, after the options' values).
    let mut block = script[start..end].replace(" || ${COMP_CWORD} -eq 2 ]]", " ]]");
    let options = r#"COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )"#;
    if let Some(last) = block.rfind(options) {
        block.replace_range(
            last..last + options.len(),
            r#"COMPREPLY=( $(__git_authenticate_refs "${cur}") )"#,
        );
    }
    script.replace_range(start..end, &block);
    script.into_bytes()
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
