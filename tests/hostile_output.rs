//! Text from a repository, a key or a file never reaches a terminal or a
//! log raw: repositories carry escape sequences (ESC c clears the screen,
//! then a forged "successfully authenticated" line), a C1 CSI (U+009B, and
//! a raw 0x9B byte in blobs read as Latin-1), CR/LF and bidirectional
//! overrides in key file names, `#\NAME` tokens of `.guix-authorizations`,
//! `keyring-reference` and `version` in `.guix-channel`, channel names of
//! a channels file, ref names, commit data and remote URLs. Each
//! command's output (the main run, `--stats`, JSON, `--after-merge`,
//! `doctor`, `merge-check`, and the gate's `remote:` lines through a real
//! `git push`) is fed to a terminal emulator (pyte, by
//! `tests/support/screen.py`): the screen must show exactly the printed
//! lines, the real verdict among them, and no forged line.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::{self, key, process::run_bounded, Built, Home};

/// What a hostile name holds, as scenario-language escapes: a screen
/// reset, a forged verdict, a forged line (CR/LF), a right-to-left
/// override, and a C1 CSI (UTF-8) clearing the screen.
const HOSTILE: &str = r"\x1bc\x1b[32msuccessfully authenticated commit FORGED\r\nsuccessfully authenticated commit FORGED\xe2\x80\xae\xc2\x9b2J";

/// The same for a Scheme token (no white space or delimiter such as `[`
/// ends it), with a raw 0x9B byte, which a blob read as Latin-1 makes
/// U+009B (and UTF-8's U+202E becomes `â`, U+0080, `®`).
const HOSTILE_TOKEN: &str = r"\x1bcFORGED\x9b2J\xe2\x80\xae";

/// A ref name git accepts (no control characters): a right-to-left
/// override and a C1 CSI.
const HOSTILE_REF: &[u8] = b"\xe2\x80\xaeFORGED\xc2\x9b2J";

/// Runs git in `dir` with `args`, which must succeed.
fn git<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) {
    let mut command = support::git_command(dir);
    command.args(args);
    let out = run(command);
    assert!(out.status.success(), "git: {out:?}");
}

/// Makes the ref `name` (raw bytes) point at `commit`.
fn create_ref(dir: &Path, name: &[u8], commit: &str) {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::OsStr::from_bytes(name);
    git(
        dir,
        &[std::ffi::OsStr::new("update-ref"), name, commit.as_ref()],
    );
}

/// A channel of one commit, `first`, by alice.
const ONE_COMMIT: &str = "keyring alice\nauthorize alice\ncommit first alice\n";

/// Runs `command` (a minute at most).
fn run(command: Command) -> Output {
    run_bounded(command, Duration::from_secs(60))
}

/// The binary, in `dir`, with a private home.
fn binary(home: &Home, dir: &Path, args: &[&str]) -> Output {
    let mut command = home.command(dir);
    command.args(args);
    run(command)
}

/// The introduction arguments: commit `first`, signed by alice.
fn introduction(built: &Built) -> [String; 2] {
    [
        built.oid("first").to_string(),
        key("alice").signing_fpr_spaced(),
    ]
}

/// Everything the command printed, standard error first.
fn printed(out: &Output) -> Vec<u8> {
    [out.stderr.as_slice(), out.stdout.as_slice()].concat()
}

/// Characters that act on a terminal or forge a line: C0 controls but LF,
/// DEL, C1 controls, bidirectional controls and line separators.
fn acts_on_terminal(c: char) -> bool {
    matches!(c,
        '\0'..='\x09' | '\x0b'..='\x1f' | '\x7f'..='\u{9f}'
        | '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// What a terminal shows after `bytes`, by `tests/support/screen.py`;
/// fails when python3 or its pyte is missing (.ci/run installs them).
pub(crate) fn screen(bytes: &[u8]) -> Vec<String> {
    let script = support::manifest_dir().join("tests/support/screen.py");
    support::needs::tool("python3", "python3");
    let out = support::process::run_with_input(
        Command::new("python3").arg(&script),
        bytes,
        Duration::from_secs(60),
    );
    match out.status.code() {
        Some(0) => {}
        Some(3) => panic!(
            "this test needs the terminal emulator pyte (`pip install pyte`; .ci/run does): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        _ => panic!("screen.py: {}", String::from_utf8_lossy(&out.stderr)),
    }
    let shown = String::from_utf8(out.stdout).expect("screen.py prints UTF-8");
    shown.lines().map(str::to_owned).collect()
}

/// The lines of `text` as a screen shows them: trailing blanks and blank
/// last lines dropped.
pub(crate) fn lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.split('\n').map(|l| l.trim_end().to_owned()).collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

/// `out` (status `status`) printed nothing that acts on a terminal; on a
/// terminal it shows exactly its lines, one of them containing `verdict`,
/// and no line (or `remote:` line) starting with a success that is not
/// `success` (the real one, if any). Returns the text, for more checks.
fn assert_shown_as_printed(
    what: &str,
    out: &Output,
    status: i32,
    verdict: &str,
    success: Option<&str>,
) -> String {
    let bytes = printed(out);
    let text = String::from_utf8(bytes.clone())
        .unwrap_or_else(|e| panic!("{what}: the output is not UTF-8: {e}"));
    assert_eq!(out.status.code(), Some(status), "{what}: {text}");
    if let Some(c) = text.chars().find(|&c| acts_on_terminal(c)) {
        panic!("{what}: printed {c:?} raw:\n{text}");
    }
    assert!(text.contains(verdict), "{what}: no `{verdict}` in:\n{text}");
    assert!(
        text.contains("FORGED"),
        "{what}: the hostile text is not shown:\n{text}"
    );
    let screen = screen(&bytes);
    assert_eq!(
        screen,
        lines(&text),
        "{what}: the screen differs from the output"
    );
    for line in &screen {
        let line = line.strip_prefix("remote: ").unwrap_or(line);
        if line.starts_with("successfully authenticated") {
            assert_eq!(Some(line), success, "{what}: forged line:\n{text}");
        }
        assert!(!line.starts_with("FORGED"), "{what}: forged line:\n{text}");
    }
    text
}

/// A keyring whose file name is hostile, holding garbage: every command
/// that loads it stops, naming the file escaped.
const BROKEN_KEY_FILE: &str = r#"
keyring alice
keyring-raw keyring "NAME.key" "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\ngarbage\n"
authorize alice
commit first alice
write a.txt "A\n"
commit second alice
"#;

#[test]
fn a_hostile_key_file_name_is_shown_escaped_by_every_command() {
    let built = support::build_scenario_text(&BROKEN_KEY_FILE.replace("NAME", HOSTILE));
    let home = Home::new();
    let [commit, signer] = introduction(&built);
    let dir = built.path.as_path();
    let shown =
        r"malformed key file `\x1bc\x1b[32msuccessfully authenticated commit FORGED\x0d\x0a";
    for (what, args) in [
        ("run", vec![commit.as_str(), signer.as_str()]),
        ("--stats", vec![commit.as_str(), signer.as_str(), "--stats"]),
        (
            "--keep-going",
            vec![commit.as_str(), signer.as_str(), "--keep-going"],
        ),
        (
            "merge-check",
            vec![
                "merge-check",
                "--introduction",
                &commit,
                "--signer",
                &signer,
                "HEAD~1",
                "HEAD",
            ],
        ),
    ] {
        let out = binary(&home, dir, &args);
        let text = assert_shown_as_printed(what, &out, 2, shown, None);
        assert!(text.contains(r"\u{202e}\u{9b}2J.key"), "{what}: {text}");
    }
    let out = binary(&home, dir, &["doctor"]);
    assert_shown_as_printed("doctor", &out, 1, shown, None);

    // JSON keeps its own escaping; the message is the escaped text.
    let out = binary(&home, dir, &[&commit, &signer, "--format=json"]);
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let message = doc["failures"][0]["message"].as_str().unwrap();
    assert!(message.contains(shown), "{message}");
    assert!(!message.chars().any(acts_on_terminal), "{message:?}");
}

#[test]
fn a_hostile_key_file_name_of_an_unauthorized_key_is_escaped_by_the_doctor() {
    let text = format!(
        "keyring alice\nkeyring-file keyring \"{HOSTILE}.key\" armored bob\nauthorize alice\n\
         commit first alice\n"
    );
    let built = support::build_scenario_text(&text);
    let home = Home::new();
    let [commit, signer] = introduction(&built);
    let dir = built.path.as_path();
    // The run succeeds; the one success line is the real one.
    let out = binary(&home, dir, &[&commit, &signer]);
    let real = format!("successfully authenticated commit {}", built.oid("first"));
    let printed = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{printed}");
    assert!(printed.contains(&real), "{printed}");
    // The doctor names the key's file, escaped.
    let out = binary(&home, dir, &["doctor"]);
    assert_shown_as_printed(
        "doctor",
        &out,
        0,
        r"on the keyring branch) is not authorized on any branch",
        None,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(r"`\x1bc\x1b[32msuccessfully"));
}

/// A key file whose name (or directory's name) is not UTF-8: Guix cannot
/// load such a keyring (it looks each entry up again by its name decoded
/// with `?` substitutions), so every command refuses it, naming the file
/// escaped; the doctor too. Never skipped, never loaded loosely.
#[test]
fn a_key_file_whose_name_is_not_utf8_is_refused_by_name() {
    let text = "keyring alice bob\nauthorize alice bob\ncommit first alice\n\
                write a \"a\\n\"\ncommit c1 bob\n";
    for (path, shown) in [
        (&b"FORGED\x9b2J.key"[..], r"`FORGED\x9b2J.key`"),
        (&b"FORGED\x9b2J/bob.key"[..], r"`FORGED\x9b2J/bob.key`"),
    ] {
        let built = support::build_scenario_text(text);
        support::craft::keyring_with_raw_names(
            &built.repo(),
            &[(path, "bob"), (b"alice.key", "alice")],
        );
        let home = Home::new();
        let [commit, signer] = introduction(&built);
        let dir = built.path.as_path();
        let verdict = format!("{shown} on keyring branch `keyring` has a name that is not UTF-8");
        let out = binary(&home, dir, &[&commit, &signer]);
        assert_shown_as_printed(shown, &out, 2, &verdict, None);
        let out = binary(&home, dir, &["doctor"]);
        assert_shown_as_printed(shown, &out, 1, &verdict, None);
    }
}

/// Branches whose names are not UTF-8, local and remote-tracking: the
/// doctor names each, escaped, as not checked, rather than skip it.
#[test]
fn the_doctor_reports_branches_whose_names_are_not_utf8() {
    let built = support::build_scenario_text(ONE_COMMIT);
    let dir = built.path.as_path();
    let first = built.oid("first").to_string();
    create_ref(dir, b"refs/heads/FORGED\x9b2J", &first);
    create_ref(dir, b"refs/remotes/origin/FORGED\xff", &first);
    let home = Home::new();
    let out = binary(&home, dir, &["doctor"]);
    let verdict = "has a name that is not UTF-8: it was not checked";
    let text = assert_shown_as_printed("doctor", &out, 0, verdict, None);
    for shown in [r"`FORGED\x9b2J`", r"`origin/FORGED\xff`"] {
        support::assert_contains(&text, &format!("branch {shown} {verdict}"));
    }
    let out = binary(&home, dir, &["doctor", "--format=json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds = doc.to_string();
    assert_eq!(kinds.matches("branch-name-not-utf8").count(), 2, "{doc}");
}

/// A branch whose ref file holds no ref (libgit2 skips it without a
/// word): the doctor names it, escaped, as not checked, rather than skip
/// it; so is a remote-tracking directory it cannot read.
#[test]
fn the_doctor_reports_branches_it_cannot_read() {
    use std::os::unix::ffi::OsStrExt;
    let built = support::build_scenario_text(ONE_COMMIT);
    let dir = built.path.as_path();
    let refs = dir.join(".git/refs");
    std::fs::write(
        refs.join(std::ffi::OsStr::from_bytes(b"heads/FORGED\x9b2J")),
        "not a ref\n",
    )
    .unwrap();
    std::fs::create_dir_all(refs.join("remotes/origin")).unwrap();
    std::fs::write(refs.join("remotes/origin/FORGED"), "").unwrap();
    let home = Home::new();
    let out = binary(&home, dir, &["doctor"]);
    let verdict = "cannot be read: it was not checked";
    let text = assert_shown_as_printed("doctor", &out, 1, verdict, None);
    for shown in [r"`refs/heads/FORGED\x9b2J`", "`refs/remotes/origin/FORGED`"] {
        support::assert_contains(&text, &format!("branch {shown} {verdict}"));
    }
    let out = binary(&home, dir, &["doctor", "--format=json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc.to_string().matches("branch-unreadable").count(),
        2,
        "{doc}"
    );
}

/// A `.guix-authorizations` holding a hostile `#\NAME` token (with a raw
/// 0x9B byte, read as Latin-1), on a branch whose name is hostile too.
const HOSTILE_AUTHORIZATIONS: &str = r#"
keyring alice
authorize alice
commit first alice
write .guix-authorizations "(authorizations (version 0) ((#\\TOKEN (name \"x\"))))"
commit second alice
write a.txt "A\n"
commit third alice
"#;

#[test]
fn a_hostile_character_name_in_authorizations_is_shown_escaped() {
    let built =
        support::build_scenario_text(&HOSTILE_AUTHORIZATIONS.replace("TOKEN", HOSTILE_TOKEN));
    let home = Home::new();
    let [commit, signer] = introduction(&built);
    let dir = built.path.as_path();
    let shown = r"unknown character name `\x1bcFORGED\u{9b}2Jâ\u{80}®`";
    let out = binary(&home, dir, &[&commit, &signer]);
    assert_shown_as_printed("run", &out, 1, shown, None);
    let out = binary(&home, dir, &[&commit, &signer, "--keep-going", "--stats"]);
    assert_shown_as_printed("--stats", &out, 1, shown, None);
    let second = built.oid("second").to_string();
    let out = binary(
        &home,
        dir,
        &[
            "merge-check",
            "--introduction",
            &commit,
            "--signer",
            &signer,
            &second,
            "HEAD",
        ],
    );
    assert_shown_as_printed("merge-check", &out, 1, shown, None);

    // The doctor reads every branch's authorizations: the branch's hostile
    // name and the token are both escaped.
    create_ref(dir, &[b"refs/heads/", HOSTILE_REF].concat(), &second);
    let out = binary(&home, dir, &["doctor"]);
    let text = assert_shown_as_printed("doctor", &out, 1, shown, None);
    assert!(text.contains(r"`\u{202e}FORGED\u{9b}2J`"), "{text}");
}

/// [`HOSTILE`] as the bytes it stands for, for git's command line.
const HOSTILE_TEXT: &str = "\x1bc\x1b[32msuccessfully authenticated commit FORGED\r\nsuccessfully authenticated commit FORGED\u{202e}\u{9b}2J";

#[test]
fn hostile_guix_channel_values_are_escaped_by_the_doctor() {
    let text = format!(
        "keyring alice\nauthorize alice\n\
         write .guix-channel \"(channel (version 0) (keyring-reference \\\"{HOSTILE}\\\"))\"\n\
         commit first alice\n"
    );
    let built = support::build_scenario_text(&text);
    let home = Home::new();
    let out = binary(&home, &built.path, &["doctor"]);
    let text = assert_shown_as_printed(
        "doctor",
        &out,
        1,
        r"`.guix-channel` names keyring branch `\x1bc\x1b[32msuccessfully authenticated commit FORGED\x0d\x0a",
        None,
    );
    support::assert_contains(&text, r"\u{202e}\u{9b}2J`, which exists neither");
    support::assert_contains(&text, r"push the keyring branch as `\x1bc");

    // A version Guix does not know, quoted from the file.
    let text = format!(
        "keyring alice\nauthorize alice\n\
         write .guix-channel \"(channel (version #{{{HOSTILE}}}#))\"\n\
         commit first alice\n"
    );
    let built = support::build_scenario_text(&text);
    let out = binary(&home, &built.path, &["doctor"]);
    assert_shown_as_printed(
        "doctor",
        &out,
        1,
        r"unsupported version `\x1bc\x1b[32msuccessfully authenticated commit FORGED\x0d\x0a",
        None,
    );
}

#[test]
fn hostile_commit_data_and_remote_url_are_not_printed_raw_after_a_merge() {
    let built = support::build_scenario_text(ONE_COMMIT);
    let dir = built.path.as_path();
    let name = format!("user.name=Eve {HOSTILE_TEXT}");
    git(
        dir,
        &[
            "-c",
            &name,
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            HOSTILE_TEXT,
        ],
    );
    let url = format!("https://example.org/{HOSTILE_TEXT}");
    git(dir, &["config", "remote.origin.url", &url]);
    git(dir, &["config", "branch.master.remote", "origin"]);
    // As `git pull` leaves it: the remote is found by the URL FETCH_HEAD names.
    let head = git_authenticate::git2::Repository::open(dir)
        .and_then(|repo| repo.refname_to_id("HEAD"))
        .unwrap();
    let fetch_head = format!("{head}\t\tbranch 'master' of {url}\n");
    std::fs::write(dir.join(".git/FETCH_HEAD"), fetch_head).unwrap();
    let home = Home::new();
    let [commit, signer] = introduction(&built);
    let mut command = home.command(dir);
    command
        .args([&commit, &signer, "--after-merge"])
        .env("GIT_REFLOG_ACTION", "pull origin");
    let out = run(command);
    let text = assert_shown_as_printed("--after-merge", &out, 1, "lacks a signature", None);
    support::assert_contains(&text, r"https://example.org/\x1bc\x1b[32msuccessfully");
}

/// A bare server with the gate installed, configured with `built`'s
/// introduction (`first`, alice) and keyring branch `keyring`.
fn server(built: &Built, home: &Home) -> std::path::PathBuf {
    let bare = home.path().join("server.git");
    git(home.path(), &["init", "-q", "--bare", "server.git"]);
    let [commit, signer] = introduction(built);
    for (name, value) in [
        ("guix.authentication.introduction-commit", commit.as_str()),
        ("guix.authentication.introduction-signer", signer.as_str()),
        ("guix.authentication.keyring", "keyring"),
    ] {
        git(&bare, &["config", name, value]);
    }
    let dir = bare.to_str().unwrap();
    let out = binary(home, home.path(), &["install-server-hook", "-r", dir]);
    assert!(out.status.success(), "{out:?}");
    bare
}

/// `git push` from `built` to `bare` of the refspec `SOURCE:DESTINATION`
/// (raw bytes): the `remote:` lines, which the gate printed, and whether
/// the push succeeded.
fn push(built: &Built, home: &Home, bare: &Path, refspec: &[u8]) -> (Output, bool) {
    use std::os::unix::ffi::OsStrExt;
    let mut c = home.git(&built.path, &[]);
    c.arg("push")
        .arg(format!("file://{}", bare.display()))
        .arg(std::ffi::OsStr::from_bytes(refspec));
    let out = run(c);
    let ok = out.status.success();
    // git's own lines print ref names raw: only the gate's are checked.
    let remote: Vec<u8> = out
        .stderr
        .split_inclusive(|&b| b == b'\n')
        .filter(|line| line.starts_with(b"remote: "))
        .flatten()
        .copied()
        .collect();
    let status = if ok { 0 } else { 1 };
    let output = Output {
        status: std::os::unix::process::ExitStatusExt::from_raw(status << 8),
        stdout: Vec::new(),
        stderr: remote,
    };
    (output, ok)
}

#[test]
fn the_gate_prints_hostile_key_file_and_ref_names_escaped_in_remote_lines() {
    let text = format!(
        "{}write b.txt \"B\\n\"\ncommit unsigned\n",
        BROKEN_KEY_FILE.replace("NAME", HOSTILE)
    );
    let built = support::build_scenario_text(&text);
    let home = Home::new();
    let bare = server(&built, &home);
    let keyring = built.git(&["rev-parse", "keyring~1"]);
    let keyring = String::from_utf8(keyring.stdout).unwrap();
    let (out, ok) = push(
        &built,
        &home,
        &bare,
        format!("{}:refs/heads/keyring", keyring.trim()).as_bytes(),
    );
    assert!(ok, "{}", String::from_utf8_lossy(&out.stderr));

    // The keyring branch now brings a key file with a hostile name.
    let (out, ok) = push(&built, &home, &bare, b"keyring:refs/heads/keyring");
    assert!(!ok);
    assert_shown_as_printed(
        "push keyring",
        &out,
        1,
        r"malformed key file `\x1bc\x1b[32msuccessfully authenticated commit FORGED\x0d\x0a",
        None,
    );

    // An unsigned commit pushed to a branch whose name is hostile.
    let unsigned = built.oid("unsigned").to_string();
    // (A name that is not UTF-8 makes the gate refuse the whole push.)
    let refspec = [unsigned.as_bytes(), b":refs/heads/", HOSTILE_REF].concat();
    let (out, ok) = push(&built, &home, &bare, &refspec);
    assert!(!ok);
    let text = assert_shown_as_printed("push branch", &out, 1, "lacks a signature", None);
    support::assert_contains(
        &text,
        r"remote: git-authenticate: refs/heads/\u{202e}FORGED\u{9b}2J: refused",
    );
}

#[test]
fn a_hostile_remote_branch_suggested_as_the_keyring_is_escaped() {
    let built = support::build_scenario_text(ONE_COMMIT);
    let dir = built.path.as_path();
    // As a fetch from a server with a branch `<hostile>/keyring` makes it.
    let tip = String::from_utf8(built.git(&["rev-parse", "keyring"]).stdout).unwrap();
    create_ref(
        dir,
        &[b"refs/remotes/origin/", HOSTILE_REF, b"/keyring"].concat(),
        tip.trim(),
    );
    git(dir, &["branch", "-q", "-D", "keyring"]);
    let home = Home::new();
    let [commit, signer] = introduction(&built);
    let shown = r"origin/\u{202e}FORGED\u{9b}2J/keyring";
    let out = binary(&home, dir, &[&commit, &signer]);
    let text = assert_shown_as_printed("run", &out, 2, "keyring branch `keyring` not found", None);
    assert!(text.contains(&format!("use `--keyring={shown}`")), "{text}");
    let out = binary(&home, dir, &["doctor"]);
    let text = assert_shown_as_printed(
        "doctor",
        &out,
        1,
        "keyring branch `keyring` not found",
        None,
    );
    assert!(text.contains(&format!("(but `{shown}` exists)")), "{text}");
}

#[test]
fn hostile_channel_names_of_a_channels_file_are_escaped() {
    let built = support::build_scenario_text(ONE_COMMIT);
    let [commit, signer] = introduction(&built);
    let channel = |name: &str| {
        format!(
            "(channel (name '#{{{name}}}#) (url \"https://example.org/x.git\")\n\
             (introduction (make-channel-introduction \"{commit}\"\n\
             (openpgp-fingerprint \"{signer}\"))))\n"
        )
    };
    let file = built.path.join("channels.scm");
    let text = format!("(list {} {})\n", channel(HOSTILE_TEXT), channel("other"));
    std::fs::write(&file, text).unwrap();
    let home = Home::new();
    let file = file.to_str().unwrap();
    let shown = r"\x1bc\x1b[32msuccessfully authenticated commit FORGED\x0d\x0a";
    let out = binary(&home, &built.path, &["--channels", file]);
    let text = assert_shown_as_printed("--channels", &out, 2, "pick one by name", None);
    support::assert_contains(&text, &format!("several channels ({shown}"));
    let out = binary(
        &home,
        &built.path,
        &["--channels", file, "--channel", "none"],
    );
    let text = assert_shown_as_printed("--channel", &out, 2, "no channel named `none`", None);
    assert!(text.contains(&format!("(it has: {shown}")), "{text}");
}
