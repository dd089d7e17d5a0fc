//! What users expect around the command: the manual page and shell
//! completions generated from the clap definitions, JSON documents that
//! fit their published schema, and messages that say what is wrong.

use crate::support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use support::{key, Home};

fn binary(home: &Home, dir: &Path, args: &[&str]) -> Output {
    home.command(dir).args(args).output().expect("run binary")
}

fn generate(what: &str) -> String {
    let home = Home::new();
    let out = binary(&home, home.path(), &[&format!("--generate={what}")]);
    support::assert_success(&out, &format!("--generate={what}"));
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn the_manual_page_documents_every_option_and_the_doctor() {
    let page = generate("man");
    assert!(page.contains(".TH git-authenticate 1"), "{page}");
    for option in [
        "keep\\-going",
        "historical\\-authorizations",
        "pushed\\-ref",
        "generate",
    ] {
        assert!(page.contains(option), "{option} missing");
    }
    assert!(page.contains("doctor"), "the doctor subcommand is listed");
    support::needs::tool("man", "man-db");
    // What `git authenticate --help` shows once the page is installed.
    let man = support::process::run_with_input(
        Command::new("man")
            .args(["-l", "-"])
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat"),
        page.as_bytes(),
        std::time::Duration::from_secs(60),
    );
    let rendered = String::from_utf8_lossy(&man.stdout).into_owned();
    assert!(rendered.contains("NAME"), "{rendered}");
    assert!(rendered.contains("--keep-going"), "{rendered}");
}

/// The page names no page of its own that is not installed (clap_mangen
/// names one per subcommand, `git-authenticate-doctor(1)`): it documents
/// the subcommands itself, and refers only to standard pages.
#[test]
fn the_manual_page_refers_only_to_pages_that_exist() {
    let page = generate("man").replace("\\-", "-");
    // Pages of the tools it works with, which their packages install.
    let standard = ["git", "gpg", "man", "ssh-keygen", "githooks", "git-config"];
    let mut references = Vec::new();
    for (at, _) in page.match_indices("(1)").chain(page.match_indices("(5)")) {
        let name: String = page[..at]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        references.push(name);
    }
    for name in &references {
        assert!(
            name == "git-authenticate" || standard.contains(&name.as_str()),
            "the manual page refers to {name}, which is not installed: {references:?}"
        );
    }
    let subcommands = &page[page.find("\n.SH SUBCOMMANDS\n").expect("SUBCOMMANDS")..];
    for sub in [
        "pre-receive",
        "update",
        "install-server-hook",
        "merge-check",
        "doctor",
    ] {
        assert!(
            subcommands.contains(&format!(".SS {sub}\n")),
            "{sub}: {subcommands}"
        );
    }
    // Their options, and the doctor's exit statuses.
    for needle in ["--introduction", "--print", "Exit status: 0 no error found"] {
        assert!(subcommands.contains(needle), "{needle}: {subcommands}");
    }
}

/// After `cargo install` (the binary in `~/.cargo/bin`, on `PATH`) and the
/// guide's install steps, run as written in a clean home: `man` finds the
/// page with `MANPATH` unset, and `git authenticate --help` shows it.
#[test]
fn git_authenticate_help_opens_the_page_after_the_guides_install_steps() {
    support::needs::tool("man", "man-db");
    let guide = std::fs::read_to_string(support::manifest_dir().join("doc/GUIDE.md")).unwrap();
    let section = &guide[guide.find("### Manual page and completions").unwrap()..];
    let start = section.find("```sh\n").unwrap() + "```sh\n".len();
    let steps = &section[start..start + section[start..].find("```").unwrap()];
    let home = tempfile::tempdir().unwrap();
    let bin = home.path().join(".cargo/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_git-authenticate"),
        bin.join("git-authenticate"),
    )
    .unwrap();
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display());
    let shell = |script: &str| {
        let out = Command::new("sh")
            .args(["-c", script])
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", &path)
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .env("MANWIDTH", "80")
            .current_dir(home.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        support::assert_success(&out, script);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    shell(steps);
    let found = shell("man -w git-authenticate");
    let expected = home.path().join(".cargo/share/man/man1/git-authenticate.1");
    assert_eq!(
        std::fs::canonicalize(found.trim()).unwrap(),
        std::fs::canonicalize(expected).unwrap()
    );
    let help = shell("git authenticate --help");
    assert!(help.contains("git-authenticate"), "{help}");
    assert!(help.contains("SUBCOMMANDS"), "{help}");
}

/// The manual page says where the command keeps things and what in the
/// environment it reads: the cache's location and layout, the git
/// configuration keys, and every variable.
#[test]
fn the_manual_page_has_files_and_environment_sections() {
    let page = generate("man");
    let section = |name: &str| {
        let start = page
            .find(&format!("\n.SH {name}\n"))
            .unwrap_or_else(|| panic!("no {name} section:\n{page}"));
        let rest = &page[start + 1..];
        let end = rest[1..].find("\n.SH ").map_or(rest.len(), |end| end + 2);
        rest[..end].replace("\\-", "-")
    };
    let files = section("FILES");
    for needle in [
        "git-authenticate/authentication/",
        "XDG_CACHE_HOME",
        "~/.cache",
        ";; Introduction: ",
        "200",
        "0600",
        ".lock",
        "git-authenticate/gate/",
        "guix.authentication.introduction-commit",
        "guix.authentication.introduction-signer",
        "guix.authentication.keyring",
        "guix.authentication-",
        "guix.authentication.protected-branch",
        "guix.authentication.allow-key-removal",
        "pre-push",
        "post-merge",
        "reference-transaction",
        "pre-receive",
    ] {
        assert!(files.contains(needle), "FILES lacks {needle}:\n{files}");
    }
    let environment = section("ENVIRONMENT");
    // What the tests clear because it changes what the binary does, and
    // the rest of what it reads.
    let others = [
        "GIT_COMMON_DIR",
        "GIT_REFLOG_ACTION",
        "XDG_CACHE_HOME",
        "HOME",
    ];
    for variable in support::home::CLEARED.iter().chain(&others) {
        assert!(
            environment.contains(variable),
            "ENVIRONMENT lacks {variable}:\n{environment}"
        );
    }
    // Before the version, as man pages order their sections.
    let version = page.find("\n.SH VERSION").unwrap_or(page.len());
    assert!(page.find("\n.SH FILES").unwrap() < version);
}

/// Every variable the code reads from the environment is in the manual
/// page's ENVIRONMENT section (test-only readers aside).
#[test]
fn every_environment_variable_the_code_reads_is_in_the_manual_page() {
    let page = generate("man");
    let environment = &page[page.find("\n.SH ENVIRONMENT").expect("ENVIRONMENT")..];
    let root = crate::rule_citations::repository_root();
    let mut files = Vec::new();
    for dir in ["src", "crates"] {
        crate::rule_citations::rust_files(&root.join(dir), &mut files);
    }
    let mut missing = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Test modules read variables of their own (GUILE_READER_FILES…).
        let text = text.split("#[cfg(test)]").next().unwrap();
        for call in ["env::var_os(\"", "env::var(\""] {
            for rest in text.split(call).skip(1) {
                let name = &rest[..rest.find('"').unwrap()];
                if !environment.contains(&format!("\\fB{name}\\fR")) {
                    missing.push(format!("{}: {name}", file.display()));
                }
            }
        }
    }
    assert!(missing.is_empty(), "not in ENVIRONMENT: {missing:?}");
}

/// Runs the generated bash completion for the words typed so far.
fn bash_complete(script: &str, words: &[&str]) -> Vec<String> {
    bash_complete_in(&std::env::temp_dir(), script, words)
}

/// [`bash_complete`] in directory `dir`.
fn bash_complete_in(dir: &Path, script: &str, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "{script}\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE=\"${{COMP_WORDS[*]}}\"\n\
         COMP_POINT=${{#COMP_LINE}}\n_git__authenticate git-authenticate \
         \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        quoted.join(" "),
        words.len() - 1
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .current_dir(dir)
        .output()
        .expect("run bash");
    support::assert_success(&out, "bash completion");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_options_subcommands_and_values() {
    let script = generate("complete-bash");
    assert!(script.contains("complete -F _git__authenticate"));
    let options = bash_complete(&script, &["git-authenticate", "--ke"]);
    assert!(options.contains(&"--keep-going".to_owned()), "{options:?}");
    assert!(options.contains(&"--keyring".to_owned()), "{options:?}");
    let subcommands = bash_complete(&script, &["git-authenticate", "doc"]);
    assert!(
        subcommands.contains(&"doctor".to_owned()),
        "{subcommands:?}"
    );
    let values = bash_complete(&script, &["git-authenticate", "--policy", ""]);
    assert_eq!(values, ["guix", "strict"]);
    let doctor = bash_complete(&script, &["git-authenticate", "doctor", "--fo"]);
    assert_eq!(doctor, ["--format"]);
}

/// `--end`, `-k` and merge-check's BASE and HEAD complete to the refs of
/// the repository (or of the one `-r` names), as git's completion does;
/// options still complete where one is being typed.
#[test]
fn bash_completes_refs_where_a_commit_or_branch_goes() {
    let script = generate("complete-bash");
    let home = Home::new();
    let built = support::build_scenario_text(CHANNEL);
    home.git_ok(&built.path, &["branch", "feature"]);
    home.git_ok(&built.path, &["tag", "v1"]);
    let sorted = |mut words: Vec<String>| {
        words.sort();
        words
    };
    let all = ["HEAD", "feature", "keyring", "master", "v1"];
    for words in [
        &["git-authenticate", "--end", ""][..],
        &["git-authenticate", "-e", ""],
        &["git-authenticate", "-k", ""],
        &["git-authenticate", "merge-check", ""],
        &["git-authenticate", "merge-check", "master", ""],
        &["git-authenticate", "merge-check", "-k", ""],
    ] {
        let offered = sorted(bash_complete_in(&built.path, &script, words));
        assert_eq!(offered, all, "{words:?}");
    }
    let offered = bash_complete_in(&built.path, &script, &["git-authenticate", "--end", "fe"]);
    assert_eq!(offered, ["feature"]);
    // With -r, that repository's refs, from anywhere.
    let dir = built.path.to_str().unwrap();
    let words = ["git-authenticate", "-r", dir, "--end", "v"];
    assert_eq!(bash_complete(&script, &words), ["v1"]);
    let words = ["git-authenticate", "merge-check", "-r", dir, "mas"];
    assert_eq!(bash_complete(&script, &words), ["master"]);
    let options = bash_complete_in(
        &built.path,
        &script,
        &["git-authenticate", "merge-check", "--int"],
    );
    assert_eq!(options, ["--introduction"]);
}

/// zsh and fish offer the same refs as bash: fish through its own
/// completion engine (`complete -C`), zsh's function run with `compadd`
/// standing in for the completion system.
#[test]
fn zsh_and_fish_complete_refs_too() {
    let built = support::build_scenario_text(CHANNEL);
    let home = Home::new();
    home.git_ok(&built.path, &["branch", "feature"]);
    let run = |shell: &str, script: &str, program: &str| {
        support::needs::tool(shell, shell);
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), script).unwrap();
        let program = program.replace("SCRIPT", file.path().to_str().unwrap());
        let out = Command::new(shell)
            .args(["-c", &program])
            .current_dir(&built.path)
            .output()
            .unwrap();
        support::assert_success(&out, shell);
        let mut words: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('\t').next().unwrap().to_owned())
            .collect();
        words.sort();
        words
    };
    let refs = ["HEAD", "feature", "keyring", "master"];
    let fish = generate("complete-fish");
    for (line, expected) in [
        ("git-authenticate merge-check ", refs.to_vec()),
        ("git-authenticate merge-check master fe", vec!["feature"]),
        ("git-authenticate merge-check -k ", refs.to_vec()),
        ("git-authenticate doctor -k ke", vec!["keyring"]),
    ] {
        let program = format!("source SCRIPT; complete -C '{line}'");
        assert_eq!(run("fish", &fish, &program), expected, "fish: {line}");
    }
    let program = "source SCRIPT; complete -C 'git-authenticate --end=f'";
    assert_eq!(run("fish", &fish, program), ["--end=feature"]);
    let zsh = generate("complete-zsh");
    for option in ["'--end=[", "'-k+[", "':base -- ", "'*::heads -- "] {
        let line = zsh.lines().find(|l| l.starts_with(option)).unwrap();
        assert!(line.ends_with(":_git_authenticate_refs' \\"), "{line}");
    }
    let program = "compdef() {}; compadd() { print -l -- \"${(@P)${@[-1]}}\"; }; \
                   source SCRIPT; _git_authenticate_refs";
    assert_eq!(run("zsh", &zsh, program), refs);
}

#[test]
fn zsh_and_fish_completions_are_generated() {
    let zsh = generate("complete-zsh");
    assert!(zsh.starts_with("#compdef git-authenticate"), "{zsh}");
    assert!(zsh.contains("--keep-going") && zsh.contains("doctor"));
    let fish = generate("complete-fish");
    assert!(fish.contains("complete -c git-authenticate"), "{fish}");
    assert!(fish.contains("keep-going") && fish.contains("doctor"));
    for (shell, script) in [("zsh", &zsh), ("fish", &fish)] {
        support::needs::tool(shell, shell);
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), script).unwrap();
        let flag = if shell == "zsh" { "-n" } else { "--no-execute" };
        let status = Command::new(shell)
            .arg(flag)
            .arg(file.path())
            .status()
            .unwrap();
        assert!(status.success(), "{shell} refuses its completion script");
    }
}

/// Two commits signed by alice, authorized; bob's key is in the keyring.
pub(crate) const CHANNEL: &str = r#"
keyring alice bob
authorize alice
commit first alice
write a.txt "a\n"
commit second alice
"#;

fn json_run(home: &Home, dir: &Path, args: &[&str]) -> (i32, Value) {
    let out = home
        .command(dir)
        .arg("--format=json")
        .args(args)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON document ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    support::schema::check(&doc, &support::schema::load("schema.json"));
    (out.status.code().unwrap(), doc)
}

/// A usage error with `--format=json`: status 2, its message on standard
/// error, and on standard output the document of the command asked for,
/// fitting `doc/SCHEMA`, whose failure (or error) is returned.
fn usage_document(home: &Home, dir: &Path, args: &[&str], schema: &str) -> Value {
    let out = binary(home, dir, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains("error:"), "{args:?}: {err}");
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: no JSON document ({e}); stderr: {err}"));
    support::schema::check(&doc, &support::schema::load(schema));
    match schema {
        "doctor-schema.json" => {
            assert_eq!(doc["checked"], false);
            doc["error"].clone()
        }
        _ => {
            assert_eq!(doc["failure_count"], 1, "{doc}");
            doc["failures"][0].clone()
        }
    }
}

#[test]
fn usage_errors_give_a_json_document() {
    let home = Home::new();
    let good = support::build_scenario_text(CHANNEL);
    let first = good.oid("first").to_string();
    let alice = key("alice").signing_fpr;
    let main = |args: &[&str]| usage_document(&home, &good.path, args, "schema.json");
    let kind = |failure: Value| failure["kind"].as_str().unwrap().to_owned();
    // Values the command checks: a short commit id, a bad fingerprint.
    let failure = main(&["--format=json", &first[..12], &alice]);
    assert_eq!(kind(failure), "invalid-commit-id");
    let failure = main(&["--format", "json", &first, "ZZZZ"]);
    assert_eq!(kind(failure), "invalid-fingerprint");
    // Values clap refuses, and arguments it does not know.
    let failure = main(&["--format=json", "--jobs=99999", &first, &alice]);
    assert_eq!(kind(failure.clone()), "usage");
    support::assert_contains(failure["message"].as_str().unwrap(), "99999");
    assert_eq!(kind(main(&["--no-such-flag", "--format=json"])), "usage");
    let failure = main(&["--format=json", "--policy=lax", &first, &alice]);
    assert_eq!(kind(failure), "usage");
    // Only one COMMIT and no SIGNER, and nothing configured.
    assert_eq!(kind(main(&["--format=json", &first])), "usage");
    assert_eq!(kind(main(&["--format=json"])), "usage");

    // Bad values in git config.
    let configured = support::build_scenario_text(CHANNEL);
    let config = |k: &str, v: &str| {
        home.git_ok(
            &configured.path,
            &["config", &format!("guix.authentication.{k}"), v],
        );
    };
    config("introduction-commit", &first[..7]);
    config("introduction-signer", &alice);
    let failure = usage_document(&home, &configured.path, &["--format=json"], "schema.json");
    assert_eq!(kind(failure.clone()), "invalid-commit-id");
    support::assert_contains(failure["message"].as_str().unwrap(), "configuration");
    config("introduction-commit", &first);
    config("introduction-signer", "not hex");
    let failure = usage_document(&home, &configured.path, &["--format=json"], "schema.json");
    assert_eq!(kind(failure), "invalid-fingerprint");

    // merge-check and the doctor: their own documents.
    let merge = |args: &[&str]| {
        let args = [&["merge-check", "--format=json"][..], args].concat();
        usage_document(&home, &good.path, &args, "merge-check-schema.json")
    };
    let failure = merge(&["--introduction", &first, "--signer", "XYZ", "HEAD", "HEAD"]);
    assert_eq!(kind(failure), "invalid-fingerprint");
    let failure = merge(&[
        "--introduction",
        &first[..9],
        "--signer",
        &alice,
        "HEAD",
        "HEAD",
    ]);
    assert_eq!(kind(failure), "invalid-commit-id");
    assert_eq!(kind(merge(&["HEAD"])), "usage");
    assert_eq!(kind(merge(&["--bogus", "HEAD", "HEAD"])), "usage");
    let args = ["doctor", "--format", "json", "--bogus"];
    let error = usage_document(&home, &good.path, &args, "doctor-schema.json");
    support::assert_contains(error.as_str().unwrap(), "--bogus");

    // Without --format=json, standard output stays empty; help is help.
    let out = binary(&home, &good.path, &["--jobs=99999", &first, &alice]);
    assert_eq!((out.status.code(), out.stdout.len()), (Some(2), 0));
    let out = binary(&home, &good.path, &["--format=json", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage:"));
}

#[test]
fn json_documents_fit_the_published_schema() {
    let home = Home::new();
    let good = support::build_scenario_text(CHANNEL);
    let first = good.oid("first").to_string();
    let alice = key("alice").signing_fpr;
    let (code, doc) = json_run(&home, &good.path, &[&first, &alice, "--stats"]);
    assert_eq!((code, &doc["authentic"]), (0, &Value::Bool(true)));
    assert_eq!(doc["schema_version"], 2);
    let bad =
        support::build_scenario_text(&format!("{CHANNEL}\nwrite b \"b\"\ncommit by-bob bob\n"));
    let first = bad.oid("first").to_string();
    let (code, doc) = json_run(&home, &bad.path, &[&first, &alice, "--keep-going"]);
    assert_eq!(code, 1);
    assert_eq!(doc["failures"][0]["kind"], "unauthorized");
}

#[test]
fn a_repository_that_cannot_be_opened_still_gets_a_document() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let (code, doc) = json_run(&home, dir.path(), &[]);
    assert_eq!(code, 2);
    assert_eq!(doc["failures"][0]["kind"], "repository");
    assert!(doc["failures"][0]["message"]
        .as_str()
        .unwrap()
        .contains("not in a git repository"));
}

#[test]
fn a_sha256_repository_is_not_supported_rather_than_not_a_repository() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let out = support::git_command(dir.path())
        .args(["init", "-q", "--object-format=sha256", "."])
        .output()
        .unwrap();
    support::assert_success(
        &out,
        "this test needs a git that makes SHA-256 repositories (2.29 or later)",
    );
    let out = binary(&home, dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("object format is not supported"), "{err}");
    assert!(!err.contains("not in a git repository"), "{err}");
    let (code, doc) = json_run(&home, dir.path(), &[]);
    assert_eq!(code, 2);
    assert!(doc["failures"][0]["message"]
        .as_str()
        .unwrap()
        .contains("not supported"));
    let out = binary(&home, dir.path(), &["doctor"]);
    assert_eq!(out.status.code(), Some(2));
}

/// The kinds a `pub fn kind(&self)` of the file `source` (below the
/// package) returns, read from the source, sorted.
fn kinds_in(source: &str) -> Vec<String> {
    let source = std::fs::read_to_string(support::manifest_dir().join(source)).unwrap();
    let start = source.find("pub fn kind(&self)").unwrap();
    let end = start + source[start..].find("\n    }\n").unwrap();
    let mut kinds: Vec<String> = source[start..end]
        .split("=> \"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

/// The `kind` values the schema `doc/NAME` allows for the objects at
/// `pointer`, sorted.
fn schema_kinds(name: &str, pointer: &str) -> Vec<String> {
    let schema = support::schema::load(name);
    let mut kinds: Vec<String> = schema
        .pointer(&format!("{pointer}/properties/kind/enum"))
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{name}: no kind enum at {pointer}"))
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    kinds
}

/// The kinds `Error::kind` returns, and the CLI's own.
fn kinds_in_code() -> Vec<String> {
    let sources = [
        "crates/git-authenticate/src/verdict/error.rs",
        "crates/git-authenticate/src/verdict/failure.rs",
        "crates/git-authenticate/src/openpgp/keyring.rs",
        "crates/git-authenticate/src/cache.rs",
        "crates/git-authenticate/src/git/objects.rs",
    ];
    let mut kinds: Vec<String> = sources.iter().flat_map(|s| kinds_in(s)).collect();
    // A repository that cannot be opened, and arguments refused.
    kinds.push("repository".into());
    kinds.push("usage".into());
    // What the command never meets: it never sets the library's interrupt
    // flag, and a history found not authentic is named by its first
    // failure (the fallback is for a report without one, which is never
    // returned).
    kinds.retain(|k| k != "interrupted" && k != "not-authentic");
    kinds.sort();
    kinds.dedup();
    kinds
}

#[test]
fn the_documented_failure_kinds_are_those_of_the_code() {
    let mut code = kinds_in_code();
    // A library-only error: the command never updates.
    code.retain(|k| k != "downgrade");
    let mut in_schema = schema_kinds("schema.json", "/properties/failures/items");
    in_schema.retain(|k| k != "downgrade");
    assert_eq!(in_schema, code, "doc/schema.json");
    let mut merge = schema_kinds("merge-check-schema.json", "/properties/failures/items");
    merge.retain(|k| k != "downgrade");
    assert_eq!(merge, code, "doc/merge-check-schema.json");
    let guide = std::fs::read_to_string(support::manifest_dir().join("doc/GUIDE.md")).unwrap();
    let row = guide
        .lines()
        .find(|l| l.starts_with("| `failures[].kind` |"))
        .expect("doc/GUIDE.md documents failures[].kind");
    let mut in_guide: Vec<String> = row
        .split('`')
        .skip(3)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    in_guide.sort();
    in_guide.dedup();
    assert_eq!(in_guide, code, "doc/GUIDE.md's failures[].kind row");
}

#[test]
fn more_than_100000_keys_in_one_file_is_keyring_too_large() {
    use sequoia_openpgp::packet::key::{Key4, PrimaryRole, PublicParts};
    use sequoia_openpgp::serialize::SerializeInto;
    use sequoia_openpgp::types::Curve;
    let generated: Key4<PublicParts, PrimaryRole> = Key4::generate_ecc(true, Curve::Ed25519)
        .unwrap()
        .parts_into_public();
    let start = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
    // Distinct keys (the same key twice is stored once): one creation time
    // each, hence one fingerprint each.
    let mut flood = Vec::new();
    for i in 0..=git_authenticate::Keyring::MAX_KEYS as u64 {
        let mut key = generated.clone();
        key.set_creation_time(start + std::time::Duration::from_secs(i))
            .unwrap();
        let packet = sequoia_openpgp::Packet::from(sequoia_openpgp::packet::Key::from(key));
        flood.extend(packet.to_vec().unwrap());
    }
    let error = git_authenticate::Keyring::from_files("keyring", [("flood.key", &flood[..])])
        .expect_err("too many keys");
    assert_eq!(error.kind(), "keyring-too-large", "{error}");
    assert!(error.to_string().contains("flood.key"), "{error}");
}

/// Strips ANSI escape sequences (CSI … letter) from terminal output.
fn visible(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// What the command prints on a terminal `columns` wide (`script` gives
/// it a terminal of its own), escape sequences removed. The terminal needs
/// rows too: with none (`script` without a terminal of its own sets
/// neither), the size is unknown and indicatif assumes 80 columns. Every
/// drawing of the progress must fit.
fn on_a_terminal(columns: usize) -> String {
    support::needs::tool("script", "bsdutils");
    let built = support::build_scenario_text(CHANNEL);
    let home = Home::new();
    let first = built.oid("first").to_string();
    let command = format!(
        "stty rows 24 cols {columns}; '{}' {first} {}",
        env!("CARGO_BIN_EXE_git-authenticate"),
        key("alice").signing_fpr
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(&built.path)
        .envs(home.vars())
        .env_remove("GIT_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("run script");
    let text = visible(&String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("successfully authenticated commit"), "{text}");
    assert_progress_fits(&text, columns);
    text
}

/// Every drawing of the spinner (`… checked (ELAPSED)`) and of the bar
/// fits `columns`.
fn assert_progress_fits(text: &str, columns: usize) {
    for piece in text.split(['\r', '\n']) {
        if piece.contains(" checked (") || piece.starts_with('[') {
            assert!(
                piece.trim_end().chars().count() <= columns,
                "wider than the terminal ({columns}): {piece:?}"
            );
        }
    }
}

#[test]
fn on_a_terminal_progress_fits_its_width_and_counts_in_the_singular() {
    let text = on_a_terminal(50);
    assert!(text.contains("(1 new commit)..."), "{text}");
}

/// The spinner's line once grew with its counts and its elapsed time
/// (`(10s)` made it 51 columns wide on a 50-column terminal): on a narrow
/// terminal, where its fixed text alone is too wide, every drawing fits
/// all the same, its phase cut rather than its counts.
#[test]
fn on_a_narrow_terminal_the_spinner_is_cut_to_fit() {
    let text = on_a_terminal(30);
    // The spinner is drawn at once, before the keyring is loaded.
    assert!(text.contains(" checked ("), "{text}");
    for piece in text.split(['\r', '\n']) {
        if let Some(at) = piece.find(" checked (") {
            // The count and the elapsed time whole.
            let count = piece[..at].rsplit(' ').next().unwrap();
            assert!(count.parse::<u64>().is_ok(), "count cut: {piece:?}");
            assert!(piece.trim_end().ends_with("s)"), "time cut: {piece:?}");
        }
    }
}

#[test]
fn a_cache_warning_is_printed_once_with_one_prefix() {
    let built = support::build_scenario_text(CHANNEL);
    let home = Home::new();
    // A cache directory that anyone may write: the cache is ignored.
    let directory = home.cache().join("git-authenticate");
    std::fs::create_dir_all(&directory).unwrap();
    std::fs::set_permissions(
        &directory,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let first = built.oid("first").to_string();
    let out = binary(&home, &built.path, &[&first, &key("alice").signing_fpr]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].starts_with("warning: authentication cache `"),
        "{err}"
    );
    assert_eq!(warnings[0].matches("warning").count(), 1, "{err}");
}

/// The real git, with `home` and hooks running the built binary.
fn git(home: &Home, dir: &Path, args: &[&str]) -> Output {
    support::git_command(dir)
        .args(args)
        .envs(home.vars())
        .env("GIT_AUTHENTICATE", env!("CARGO_BIN_EXE_git-authenticate"))
        .output()
        .expect("run git")
}

fn git_ok(home: &Home, dir: &Path, args: &[&str]) -> String {
    let out = git(home, dir, args);
    support::assert_success(&out, &format!("git {args:?}"));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn after_a_pull_the_post_merge_hook_says_how_to_undo_the_merge() {
    let upstream = support::build_scenario_text(CHANNEL);
    let home = Home::new();
    let remote = home.path().join("remote.git");
    let remote = remote.to_str().unwrap();
    git_ok(&home, home.path(), &["init", "-q", "--bare", remote]);
    git_ok(
        &home,
        &upstream.path,
        &["push", "-q", "--no-verify", remote, "master", "keyring"],
    );
    git_ok(&home, home.path(), &["clone", "-q", remote, "clone"]);
    let clone = home.path().join("clone");
    let first = upstream.oid("first").to_string();
    let out = binary(
        &home,
        &clone,
        &[&first, &key("alice").signing_fpr, "-k", "origin/keyring"],
    );
    support::assert_success(&out, "authenticating the clone");
    let before = git_ok(&home, &clone, &["rev-parse", "HEAD"]);

    // Someone pushes an unsigned commit past the pre-push hook.
    std::fs::write(upstream.path.join("bad.txt"), "bad\n").unwrap();
    git_ok(&home, &upstream.path, &["add", "bad.txt"]);
    git_ok(
        &home,
        &upstream.path,
        &["commit", "-q", "--no-verify", "-m", "bad"],
    );
    git_ok(
        &home,
        &upstream.path,
        &["push", "-q", "--no-verify", remote, "master"],
    );

    let out = git(&home, &clone, &["pull", "-q", "--ff-only"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lacks a signature"), "{err}");
    assert!(err.contains("the merge is already done"), "{err}");
    assert!(err.contains("git reset --hard ORIG_HEAD"), "{err}");
    assert!(
        err.contains(&format!("`origin` ({remote})")),
        "whom to tell: {err}"
    );
    assert!(!err.contains("--amend"), "not advice to re-sign: {err}");

    // The advice works.
    git_ok(&home, &clone, &["reset", "-q", "--hard", "ORIG_HEAD"]);
    assert_eq!(git_ok(&home, &clone, &["rev-parse", "HEAD"]), before);
    let out = binary(&home, &clone, &[]);
    support::assert_success(&out, "authenticating after the advice");
}

fn run_err(home: &Home, dir: &Path, args: &[&str]) -> (i32, String) {
    let out = binary(home, dir, args);
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_mistyped_introduction_is_not_called_a_shallow_clone() {
    let built = support::build_scenario_text(CHANNEL);
    let home = Home::new();
    let first = built.oid("first").to_string();
    let typo = format!(
        "{}{}",
        if first.starts_with('0') { "1" } else { "0" },
        &first[1..]
    );
    let (code, err) = run_err(&home, &built.path, &[&typo, &key("alice").signing_fpr]);
    assert_eq!(code, 2);
    support::assert_contains(&err, &format!("`{typo}` does not name a commit"));
    assert!(err.contains("check its id"), "{err}");
    assert!(!err.contains("shallow clone must fetch"), "{err}");
}

/// Removes the (loose) tree object of `commit`; its id.
fn remove_tree(built: &support::builder::Built, commit: git2::Oid) -> String {
    let tree = built
        .repo()
        .find_commit(commit)
        .unwrap()
        .tree_id()
        .to_string();
    let objects = built.path.join(".git/objects");
    std::fs::remove_file(objects.join(&tree[..2]).join(&tree[2..])).unwrap();
    tree
}

#[test]
fn a_missing_tree_names_the_object_and_the_commit_read() {
    let built = support::build_scenario_text(CHANNEL);
    let home = Home::new();
    let second = built.oid("second");
    let tree = remove_tree(&built, second);
    let first = built.oid("first").to_string();
    let (code, err) = run_err(&home, &built.path, &[&first, &key("alice").signing_fpr]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!(
            "the tree of commit {second}: tree {tree}: it is missing"
        )),
        "{err}"
    );
}

/// The walk reads each parent's `.guix-authorizations` ahead of the
/// checks; a parent tree it cannot read must still fail only where the rule
/// reads it (RULE.md step 6), after the commit's own signature (RULE.md
/// steps 1–5). Here the parent is a cached commit, whose tree nothing else reads:
/// an unsigned commit on it is not authentic, as in Guix, rather than
/// uncheckable.
#[test]
fn an_unsigned_commit_on_a_cached_parent_whose_tree_is_missing_is_refused_as_unsigned() {
    let built =
        support::build_scenario_text(&format!("{CHANNEL}write b.txt \"b\\n\"\ncommit third\n"));
    let home = Home::new();
    let (first, second) = (built.oid("first").to_string(), built.oid("second"));
    let signer = &key("alice").signing_fpr;
    let end = second.to_string();
    let (code, err) = run_err(&home, &built.path, &[&first, signer, "--end", &end]);
    assert_eq!(code, 0, "{err}");
    remove_tree(&built, second);
    let (code, err) = run_err(&home, &built.path, &[&first, signer]);
    assert_eq!(code, 1, "{err}");
    let third = built.oid("third").to_string();
    assert!(
        err.contains(&third) && err.contains("lacks a signature"),
        "{err}"
    );
    assert!(!err.contains("it is missing"), "{err}");
}

#[test]
fn a_keyring_reference_pointing_at_a_tree_says_so() {
    let built = support::build_scenario_text(CHANNEL);
    let home = Home::new();
    let tree = built
        .repo()
        .find_commit(built.oid("first"))
        .unwrap()
        .tree_id();
    // git itself refuses to make a branch of a tree; a hostile clone may.
    std::fs::write(built.path.join(".git/refs/heads/keys"), format!("{tree}\n")).unwrap();
    let first = built.oid("first").to_string();
    let (code, err) = run_err(
        &home,
        &built.path,
        &[&first, &key("alice").signing_fpr, "-k", "keys"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("does not point at a commit"), "{err}");
    assert!(err.contains(&tree.to_string()), "{err}");
}

#[test]
fn armor_without_a_blank_line_after_begin_says_so() {
    let signature =
        "-----BEGIN PGP SIGNATURE-----\\niQEzBAABCAAdFiEE\\n=AAAA\\n-----END PGP SIGNATURE-----";
    let built = support::build_scenario_text(&format!(
        "{CHANNEL}\nwrite b.txt \"b\"\ncommit no-blank raw \"{signature}\"\n"
    ));
    let home = Home::new();
    let first = built.oid("first").to_string();
    let (code, err) = run_err(&home, &built.path, &[&first, &key("alice").signing_fpr]);
    assert_eq!(code, 1);
    support::assert_contains(&err, "no blank line after the -----BEGIN line");
    assert!(!err.contains("no -----END line"), "{err}");
}

#[test]
fn a_damaged_pack_names_the_object_and_the_commit_read() {
    let built = support::build_scenario_text(CHANNEL);
    let home = Home::new();
    let out = built.git(&["repack", "-adq"]);
    assert!(out.status.success());
    let second = built.oid("second");
    let tree = built.repo().find_commit(second).unwrap().tree_id();
    // Damage the tree's data in the pack (its offset from the index).
    let pack_dir = built.path.join(".git/objects/pack");
    let idx = std::fs::read_dir(&pack_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "idx"))
        .unwrap();
    let listing = support::git_command(&built.path)
        .args(["verify-pack", "-v"])
        .arg(&idx)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    let offset: usize = listing
        .lines()
        .find(|l| l.starts_with(&tree.to_string()))
        .and_then(|l| l.split_whitespace().nth(4))
        .and_then(|o| o.parse().ok())
        .expect("tree offset");
    let pack = idx.with_extension("pack");
    let mut bytes = std::fs::read(&pack).unwrap();
    for b in &mut bytes[offset + 2..offset + 12] {
        *b ^= 0xff;
    }
    std::fs::set_permissions(&pack, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::write(&pack, bytes).unwrap();
    let first = built.oid("first").to_string();
    let (code, err) = run_err(&home, &built.path, &[&first, &key("alice").signing_fpr]);
    assert_eq!(code, 2, "{err}");
    support::assert_contains(&err, &format!("the tree of commit {second}"));
    assert!(err.contains(&tree.to_string()), "{err}");
}

#[test]
fn the_doctors_kinds_are_documented_in_the_schema_and_guide() {
    let code = kinds_in("crates/git-authenticate/src/doctor/problem.rs");
    let in_schema = schema_kinds("doctor-schema.json", "/properties/findings/items");
    assert_eq!(in_schema, code, "doc/doctor-schema.json");
    let guide = std::fs::read_to_string(support::manifest_dir().join("doc/GUIDE.md")).unwrap();
    let section = &guide[guide.find("### The doctor").unwrap()..];
    let section = &section[..section.find("\n### ").unwrap()];
    for kind in &code {
        assert!(
            section.contains(&format!("`{kind}`")),
            "doc/GUIDE.md's doctor section lacks {kind}"
        );
    }
}

#[test]
fn git_authenticate_completes_through_gits_own_completion() {
    let git_completion = Path::new("/usr/share/bash-completion/completions/git");
    assert!(
        git_completion.exists(),
        "this test needs git's bash completion: install the Debian package git (.ci/run does)"
    );
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), generate("complete-bash")).unwrap();
    let complete = |line: &str| {
        let program = format!(
            "source {}; source {}; line='{line}'; read -a COMP_WORDS <<< \"$line\"; \
             [[ \"$line\" == *' ' ]] && COMP_WORDS+=(''); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); \
             COMP_LINE=\"$line\"; COMP_POINT=${{#COMP_LINE}}; \
             __git_wrap__git_main git \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            git_completion.display(),
            script.path().display()
        );
        let out = Command::new("bash")
            .args(["--norc", "--noprofile", "-c", &program])
            .output()
            .unwrap();
        let mut words: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|w| w.trim().to_owned())
            .collect();
        words.sort();
        words
    };
    assert_eq!(
        complete("git authenticate --ke"),
        ["--keep-going", "--keyring"]
    );
    assert_eq!(complete("git authenticate doctor --fo"), ["--format"]);
    assert_eq!(complete("git authenticate --policy "), ["guix", "strict"]);
}
