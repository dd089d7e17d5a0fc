//! The CI templates of `examples/ci/`, their shell steps run locally as
//! the forge would run them (the built binary as `git authenticate`, a
//! bare repository as the forge's): what each event authenticates, that a
//! pull request cannot change the GitHub workflow that checks it, that
//! nothing of a pull request is checked out or run, and that the checkout
//! gets no configuration and no hooks.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{key, Built, Home};

const GITHUB: &str = include_str!("../examples/ci/github-actions.yml");
const GITLAB: &str = include_str!("../examples/ci/gitlab-ci.yml");

/// Where GitHub reads the workflow from.
const WORKFLOW: &str = ".github/workflows/authenticate.yml";

/// One step of a GitHub workflow job.
struct Step {
    name: String,
    condition: Option<String>,
    run: Option<String>,
}

/// The steps of the template's only job: `- name:` items, their `if:` and
/// their `run: |` block (enough YAML for the template, which is all it
/// reads).
fn github_steps(workflow: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut block: Option<(usize, String)> = None;
    for line in workflow.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some((at, text)) = &mut block {
            if line.trim().is_empty() || indent >= *at {
                text.push_str(line.get(*at..).unwrap_or(""));
                text.push('\n');
                continue;
            }
            steps.last_mut().unwrap().run = Some(std::mem::take(text));
            block = None;
        }
        let trimmed = line.trim_start();
        if let Some(name) = trimmed.strip_prefix("- name: ") {
            steps.push(Step {
                name: name.to_owned(),
                condition: None,
                run: None,
            });
        } else if let Some(condition) = trimmed.strip_prefix("if: ") {
            if let Some(step) = steps.last_mut().filter(|_| indent >= 8) {
                step.condition = Some(condition.to_owned());
            }
        } else if trimmed == "run: |" {
            block = Some((indent + 2, String::new()));
        }
    }
    if let Some((_, text)) = block {
        steps.last_mut().unwrap().run = Some(text);
    }
    steps
}

/// The GitLab job's `script:` items, each a plain scalar whose lines
/// YAML folds into one, as one shell script.
fn gitlab_script(job: &str) -> String {
    let mut items: Vec<String> = Vec::new();
    let mut inside = false;
    for line in job.lines() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        if indent == 2 {
            inside = trimmed == "script:";
            continue;
        }
        if !inside || trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        match trimmed.strip_prefix("- ") {
            Some(item) if indent == 4 => items.push(item.to_owned()),
            _ => {
                let last = items.last_mut().expect("a continuation follows an item");
                last.push(' ');
                last.push_str(trimmed);
            }
        }
    }
    items.join("\n")
}

/// A channel served by a bare repository (the forge's), its base branch
/// carrying the GitHub workflow, and a pull request's commits in
/// `refs/pull/1/head` (GitLab: the branch `topic`).
struct Forge {
    home: Home,
    built: Built,
    origin: PathBuf,
}

/// `text` as a double-quoted scenario string.
fn quoted(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("\"{escaped}\"")
}

impl Forge {
    /// `pr` is the pull request's last commit: signed by alice (`alice`)
    /// or not (empty). It replaces the workflow with one that checks
    /// nothing, and adds a script that would leave a mark if anything ran
    /// it.
    fn new(pr_signer: &str) -> Forge {
        let skipping = "name: Authenticate\non: [push, pull_request]\njobs:\n  authenticate:\n    \
                        runs-on: ubuntu-latest\n    steps:\n      - name: Authenticate\n        \
                        run: |\n          sh ./evil.sh\n          exit 0\n";
        let text = format!(
            "keyring alice bob\nauthorize alice\ncommit first alice\n\
             write {WORKFLOW} {}\ncommit base alice\n\
             write {WORKFLOW} {}\nwrite evil.sh {}\ncommit pr {pr_signer}\n",
            quoted(GITHUB),
            quoted(skipping),
            quoted("touch \"$HOME/evil-ran\"\n"),
        );
        let built = support::build_scenario_text(&text);
        let home = Home::new();
        let origin = home.path().join("origin.git");
        let forge = Forge {
            home,
            built,
            origin,
        };
        let origin = forge.origin.to_str().unwrap().to_owned();
        let base = forge.built.oid("base").to_string();
        let pr = forge.built.oid("pr").to_string();
        forge.git_ok(forge.home.path(), &["init", "-q", "--bare", &origin]);
        forge.git_ok(
            &forge.built.path,
            &[
                "push",
                "-q",
                "--no-verify",
                &origin,
                &format!("{base}:refs/heads/master"),
                &format!("{pr}:refs/pull/1/head"),
                &format!("{pr}:refs/heads/topic"),
                "keyring",
            ],
        );
        forge
    }

    fn git_ok(&self, dir: &Path, args: &[&str]) -> String {
        self.home.git_ok(dir, args)
    }

    /// What the forge's checkout step makes: a full clone at `commit`.
    fn checkout(&self, commit: &str) -> PathBuf {
        let dir = self.home.path().join("runner");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        let origin = self.origin.to_str().unwrap();
        self.git_ok(
            self.home.path(),
            &["clone", "-q", "--no-checkout", origin, "runner"],
        );
        self.git_ok(&dir, &["checkout", "-q", "--detach", commit]);
        dir
    }

    /// A shell as the runner's, in `dir`, with `vars`: the built binary is
    /// `git authenticate`.
    fn shell(&self, dir: &Path, vars: &[(&str, String)], script: &str) -> Output {
        let git = self.home.git(dir, &[]);
        let mut c = Command::new("bash");
        c.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .current_dir(dir)
            .env_clear();
        for (name, value) in git.get_envs() {
            if let Some(value) = value {
                c.env(name, value);
            }
        }
        c.env("INTRODUCTION_COMMIT", self.built.oid("first").to_string())
            .env("INTRODUCTION_SIGNER", key("alice").signing_fpr)
            .envs(vars.iter().map(|(n, v)| (n, v)));
        c.output().unwrap()
    }

    /// Runs the workflow at `dir/.github/workflows/authenticate.yml` as
    /// GitHub would for `event` (after its checkout and install steps):
    /// the exit status of the first step that fails, or 0.
    fn run_github(&self, dir: &Path, event: &str, vars: &[(&str, String)]) -> (i32, String) {
        let workflow = std::fs::read_to_string(dir.join(WORKFLOW)).unwrap();
        let summary = self.home.path().join("summary.md");
        let mut vars = vars.to_vec();
        vars.push(("GITHUB_STEP_SUMMARY", summary.display().to_string()));
        vars.push(("KEYRING_BRANCH", "keyring".to_owned()));
        vars.push(("GIT_AUTHENTICATE_NO_SETUP", "1".to_owned()));
        let mut log = String::new();
        for step in github_steps(&workflow) {
            let Some(run) = step.run else { continue };
            if step.name.starts_with("Install") {
                continue; // the binary is the built one
            }
            if let Some(condition) = &step.condition {
                if condition.contains("github.event_name") && !condition.contains(event) {
                    continue;
                }
            }
            let out = self.shell(dir, &vars, &run);
            log.push_str(&format!("## {}\n", step.name));
            log.push_str(&String::from_utf8_lossy(&out.stdout));
            log.push_str(&String::from_utf8_lossy(&out.stderr));
            let code = out.status.code().unwrap();
            if code != 0 {
                return (code, log);
            }
        }
        (0, log)
    }

    /// The pull request event as `pull_request_target` runs it: the base
    /// branch's workflow in a checkout of the base, the pull request's head
    /// fetched only. The checkout, and the status and log of the run.
    fn pull_request_target(&self) -> (PathBuf, i32, String) {
        let base = self.built.oid("base").to_string();
        let runner = self.checkout(&base);
        let vars = [
            ("END", self.built.oid("pr").to_string()),
            ("PULL_REQUEST", "1".to_owned()),
            ("PUSHED_REF", String::new()),
            ("BASE", base),
        ];
        let (code, log) = self.run_github(&runner, "pull_request_target", &vars);
        (runner, code, log)
    }

    /// What the checkout must still be after a run: no configuration
    /// recorded, no hook installed, nothing of the pull request run.
    fn assert_untouched(&self, dir: &Path) {
        let config = std::fs::read_to_string(dir.join(".git/config")).unwrap();
        assert!(!config.contains("guix"), "{config}");
        for hook in ["pre-push", "post-merge", "reference-transaction"] {
            assert!(!dir.join(".git/hooks").join(hook).exists(), "{hook}");
        }
        assert!(!self.home.path().join("evil-ran").exists());
    }
}

#[test]
fn the_github_workflow_runs_from_the_base_branch_and_reads_the_pull_request_as_data() {
    assert!(GITHUB.contains("\n  pull_request_target:\n"));
    assert!(!GITHUB.contains("\n  pull_request:\n"));
    assert!(GITHUB.contains("persist-credentials: false"));
    assert!(GITHUB.contains("permissions:\n  contents: read\n"));
    // The checkout takes the event's default: never the pull request's head.
    assert!(!GITHUB.contains("ref: ${{"), "{GITHUB}");

    // An unsigned pull request that replaces the workflow with one that
    // checks nothing (and runs its own script).
    let forge = Forge::new("");
    let base = forge.built.oid("base").to_string();
    let pr = forge.built.oid("pr").to_string();
    // What `pull_request` ran: the pull request's own workflow, from its
    // own checkout, which passes and runs the pull request's script.
    let theirs = forge.checkout(&pr);
    let (code, _) = forge.run_github(&theirs, "pull_request", &[("END", pr.clone())]);
    assert_eq!(code, 0);
    assert!(forge.home.path().join("evil-ran").exists());
    std::fs::remove_file(forge.home.path().join("evil-ran")).unwrap();

    // What `pull_request_target` runs: the base branch's workflow, in a
    // checkout of the base; the pull request's commits are fetched only.
    let (runner, code, log) = forge.pull_request_target();
    assert_eq!(code, 1, "{log}");
    support::assert_contains(&log, &format!("commit {pr} lacks a signature"));
    assert!(!runner.join("evil.sh").exists());
    assert_eq!(forge.git_ok(&runner, &["rev-parse", "HEAD"]), base);
    forge.assert_untouched(&runner);
    let summary = std::fs::read_to_string(forge.home.path().join("summary.md")).unwrap();
    assert!(summary.contains(&format!("`{pr}` unsigned")), "{summary}");
}

#[test]
fn the_github_workflow_passes_a_signed_pull_request_and_a_push() {
    let forge = Forge::new("alice");
    let base = forge.built.oid("base").to_string();
    let pr = forge.built.oid("pr").to_string();
    let (runner, code, log) = forge.pull_request_target();
    assert_eq!(code, 0, "{log}");
    support::assert_contains(&log, &format!("successfully authenticated commit {pr}"));
    assert!(
        log.contains("## Who may sign the merge"),
        "the merge check ran: {log}"
    );
    forge.assert_untouched(&runner);

    // A push of the base branch: its own checkout.
    let runner = forge.checkout(&base);
    let vars = [
        ("END", base.clone()),
        ("PULL_REQUEST", String::new()),
        ("PUSHED_REF", "refs/heads/master".to_owned()),
    ];
    let (code, log) = forge.run_github(&runner, "push", &vars);
    assert_eq!(code, 0, "{log}");
    assert!(!log.contains("## Who may sign the merge"), "{log}");
    forge.assert_untouched(&runner);
}

#[test]
fn the_gitlab_job_authenticates_a_merge_request_and_records_nothing() {
    // Said in the template: on GitLab, the job is advice, not a boundary.
    assert!(GITLAB.contains("not a boundary"), "{GITLAB}");
    let script = gitlab_script(GITLAB);
    assert!(script.contains("--no-setup"), "{script}");
    for (signer, expected) in [("", 1), ("alice", 0)] {
        let forge = Forge::new(signer);
        let pr = forge.built.oid("pr").to_string();
        // A merged-results pipeline: CI_COMMIT_SHA is GitLab's merge.
        let runner = forge.checkout(&pr);
        let vars = [
            (
                "CHANNEL_INTRODUCTION_COMMIT",
                forge.built.oid("first").to_string(),
            ),
            ("CHANNEL_INTRODUCTION_SIGNER", key("alice").signing_fpr),
            ("CHANNEL_KEYRING_BRANCH", "keyring".to_owned()),
            ("GIT_AUTHENTICATE_NO_SETUP", "1".to_owned()),
            ("CI_COMMIT_SHA", pr.clone()),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", pr.clone()),
            ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "master".to_owned()),
        ];
        let out = forge.shell(&runner, &vars, &script);
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(expected), "{log}");
        forge.assert_untouched(&runner);
    }
}

#[test]
fn no_setup_leaves_the_repository_as_it_was() {
    // The flag, and the environment variable, each on a first run with an
    // explicit introduction (which would otherwise record and install).
    for (flag, var) in [(true, None), (false, Some("1")), (false, Some("yes"))] {
        let forge = Forge::new("alice");
        let base = forge.built.oid("base").to_string();
        let runner = forge.checkout(&base);
        let mut c = forge.home.command(&runner);
        c.args([
            &forge.built.oid("first").to_string(),
            &key("alice").signing_fpr,
        ])
        .args(["-k", "origin/keyring"]);
        if flag {
            c.arg("--no-setup");
        }
        if let Some(value) = var {
            c.env("GIT_AUTHENTICATE_NO_SETUP", value);
        }
        let out = c.output().unwrap();
        support::assert_success(&out, "the binary");
        forge.assert_untouched(&runner);
    }
    // `0` does not ask for it.
    let forge = Forge::new("alice");
    let runner = forge.checkout(&forge.built.oid("base").to_string());
    let out = forge
        .home
        .command(&runner)
        .args([
            &forge.built.oid("first").to_string(),
            &key("alice").signing_fpr,
        ])
        .args(["-k", "origin/keyring"])
        .env("GIT_AUTHENTICATE_NO_SETUP", "0")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(runner.join(".git/hooks/pre-push").exists());
}

/// The templates' `cargo install` names the package that builds the
/// `git-authenticate` command: the workspace's root package, since the
/// package named `git-authenticate` is the library and has no binary
/// (`cargo install` would refuse it).
#[test]
fn the_templates_install_the_package_of_the_command() {
    let root = support::manifest_dir();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let package = manifest
        .split("\n[package]\n")
        .nth(1)
        .and_then(|section| section.lines().find_map(|l| l.strip_prefix("name = ")))
        .expect("the root package's name")
        .trim_matches('"');
    assert!(
        manifest.contains("[[bin]]\nname = \"git-authenticate\""),
        "the root package builds the git-authenticate binary"
    );
    for template in ["github-actions.yml", "gitlab-ci.yml", "README.md"] {
        let text = std::fs::read_to_string(root.join("examples/ci").join(template)).unwrap();
        // The line that ends the install command (YAML and shell
        // continuations before it).
        let installs: Vec<&str> = text
            .lines()
            .filter(|l| match template {
                "README.md" => l.contains("cargo install --locked --git"),
                _ => l.contains("{GIT_AUTHENTICATE_REV:+--rev"),
            })
            .collect();
        assert!(!installs.is_empty(), "{template}: no cargo install line");
        for line in installs {
            assert!(
                line.trim_end()
                    .trim_end_matches('`')
                    .ends_with(&format!(" {package}")),
                "{template}: `{line}` must install {package}"
            );
        }
    }
}
