//! The trust audit (`git_authenticate::audit`, `git-authenticate audit`):
//! each finding reproduced on a generated channel (keys that expire or are
//! revoked made by the real gpg), the counts checked against git's own and
//! against authentication's signers, the JSON against its schema.

use crate::support::{self, key, Built};

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use git2::Oid;

use git_authenticate::audit::{Audit, Line};
use git_authenticate::{
    audit, authenticate, AuditOptions, Error, Introduction, NoProgress, Options,
};
use serde_json::Value;
use support::sign::AgentHome;

/// The introduction: commit `first`, signed by alice.
fn introduction(built: &Built) -> Introduction {
    Introduction::new(&built.oid("first").to_string(), &key("alice").signing_fpr).unwrap()
}

/// The audit of `built` from `first` to HEAD.
fn audit_of(built: &Built) -> Audit {
    let repo = built.repo();
    let end = repo.head().unwrap().peel_to_commit().unwrap().id();
    audit(&repo, &introduction(built), end, &AuditOptions::default()).unwrap()
}

fn run(text: &str) -> (Built, Audit) {
    let built = support::build_scenario_text(text);
    let report = audit_of(&built);
    (built, report)
}

/// The findings as `severity kind`, with the names of their keys.
fn findings(report: &Audit) -> Vec<String> {
    report
        .findings
        .iter()
        .map(|f| {
            let names: Vec<String> = f
                .keys
                .iter()
                .map(|k| {
                    let name = report.key(k).and_then(|k| k.name.clone());
                    name.unwrap_or_else(|| k.to_hex())
                })
                .collect();
            format!(
                "{} {} {}",
                f.severity.name(),
                f.kind.name(),
                names.join(",")
            )
            .trim_end()
            .to_owned()
        })
        .collect()
}

fn assert_finding(report: &Audit, expected: &str) {
    let all = findings(report);
    assert!(
        all.iter().any(|f| f == expected),
        "no `{expected}` in {all:#?}"
    );
}

fn assert_no_finding(report: &Audit, kind: &str) {
    let all = findings(report);
    assert!(
        !all.iter().any(|f| f.contains(kind)),
        "`{kind}` in {all:#?}"
    );
}

/// alice and bob sign, both authorized; dave authorized too, never signs.
const CHANNEL: &str = r#"
keyring alice bob dave mallory
authorize alice bob dave
commit first alice
write a.txt "a\n"
commit second bob
authorize alice bob
commit third alice
"#;

#[test]
fn a_healthy_history_is_summarised() {
    let (built, report) = run(CHANNEL);
    assert_eq!(report.commits, 3);
    assert_eq!(report.changes.len(), 2);
    let first = &report.changes[0];
    assert!(first.introduction);
    assert_eq!(first.added.len(), 3);
    assert_eq!(first.added[0].name.as_deref(), Some("alice"));
    let removal = &report.changes[1];
    assert_eq!(removal.at.commit, built.oid("third"));
    assert_eq!(removal.signer_name.as_deref(), Some("alice"));
    assert!(removal.added.is_empty());
    assert_eq!(removal.removed[0].name.as_deref(), Some("dave"));
    assert_eq!(removal.line, Line::FirstParent);
    let bob = report.key(&support::expect::fingerprint("bob")).unwrap();
    assert_eq!(bob.signed.count, 1);
    assert_eq!(bob.signed.first.unwrap().commit, built.oid("second"));
    assert_eq!(bob.signed.per_year, [(2021, 1)]);
    assert!(bob.authorized_at_end);
    let (by, signer) = bob.authorized_by.as_ref().unwrap();
    assert_eq!(
        (by.commit, signer),
        (built.oid("first"), &support::expect::fingerprint("alice"))
    );
    let facts = bob.keyring.as_ref().unwrap();
    assert_eq!((facts.algorithm.as_str(), facts.bits), ("RSA", Some(2048)));
    let dave = report.key(&support::expect::fingerprint("dave")).unwrap();
    assert_eq!(dave.last_listed.unwrap().commit, built.oid("second"));
    assert!(!dave.authorized_at_end);
    assert_finding(&report, "info never-used dave");
    assert_finding(&report, "info introduction-key-authorized alice");
    let mallory = &key("mallory").primary_fpr;
    assert_finding(&report, &format!("info unauthorized-keyring-key {mallory}"));
    assert_no_finding(&report, "single-key");
    assert_no_finding(&report, "side-branch");
}

#[test]
fn an_unauthentic_range_is_not_audited() {
    let built = support::build_scenario_text(
        "keyring alice bob mallory\nauthorize alice\ncommit first alice\n\
         write a.txt \"a\\n\"\ncommit second mallory\n",
    );
    let repo = built.repo();
    let result = audit(
        &repo,
        &introduction(&built),
        built.oid("second"),
        &AuditOptions::default(),
    );
    assert!(matches!(result, Err(Error::NotAuthentic(_))), "{result:?}");
}

#[test]
fn a_key_authorized_but_never_used_and_still_authorized_is_a_warning() {
    let (_, report) = run("keyring alice bob\nauthorize alice bob\ncommit first alice\n");
    assert_finding(&report, "warning never-used bob");
}

#[test]
fn a_key_unused_for_over_two_years_is_dormant() {
    // 2021-01-01, then 2024-01-01 (clock): bob's last commit is 3 years old.
    let (_, report) = run(
        "keyring alice bob\nauthorize alice bob\ncommit first alice\n\
         write a.txt \"a\\n\"\ncommit second bob\nclock 1704067200\n\
         write a.txt \"b\\n\"\ncommit third alice\n",
    );
    assert_finding(&report, "warning dormant bob");
    assert_no_finding(&report, "dormant alice");
}

#[test]
fn weak_algorithms_are_found() {
    // erin: DSA-2048; henry: RSA-1024.
    let (_, report) = run(
        "keyring alice erin henry\nauthorize alice erin henry\ncommit first alice\n\
         write a.txt \"a\\n\"\ncommit second erin\n",
    );
    assert_finding(&report, "warning weak-algorithm erin");
    assert_finding(&report, "warning weak-algorithm henry");
    assert_no_finding(&report, "weak-algorithm alice");
}

#[test]
fn a_single_authorized_key_and_the_introductions_key_removed_are_found() {
    let (_, report) = run(
        "keyring alice bob\nauthorize alice bob\ncommit first alice\n\
         authorize bob\ncommit second alice\nwrite a.txt \"a\\n\"\ncommit third bob\n",
    );
    assert_finding(&report, "warning single-key bob");
    assert_finding(&report, "info introduction-key-removed alice");
}

#[test]
fn an_authorized_key_missing_from_the_keyring_is_found() {
    let (_, report) = run("keyring alice\nauthorize alice bob\ncommit first alice\n");
    assert_finding(&report, "warning not-in-keyring bob");
    assert!(report
        .key(&support::expect::fingerprint("bob"))
        .unwrap()
        .keyring
        .is_none());
}

#[test]
fn a_change_made_on_a_merged_branch_is_found() {
    let (built, report) = run(
        "keyring alice bob dave\nauthorize alice bob\ncommit first alice\n\
         branch side\ncheckout side\nauthorize alice bob dave\ncommit widen bob\n\
         checkout master\nwrite a.txt \"a\\n\"\ncommit main alice\n\
         merge side merged alice\n",
    );
    let change = report
        .changes
        .iter()
        .find(|c| c.at.commit == built.oid("widen"))
        .unwrap();
    assert_eq!(change.line, Line::SideBranch);
    assert_eq!(change.added[0].name.as_deref(), Some("dave"));
    assert!(
        !report
            .changes
            .iter()
            .any(|c| c.at.commit == built.oid("merged")),
        "the merge takes the branch's file: it changes nothing itself"
    );
    assert_finding(&report, "warning side-branch-change dave");
    let dave = report.key(&support::expect::fingerprint("dave")).unwrap();
    assert_eq!(
        dave.authorized_by.as_ref().unwrap().1,
        support::expect::fingerprint("bob")
    );
}

#[test]
fn a_malformed_file_at_the_end_is_found() {
    let (_, report) = run("keyring alice\nauthorize alice\ncommit first alice\n\
         write .guix-authorizations \"(authorizations\"\ncommit broken alice\n");
    assert_finding(&report, "warning malformed-authorizations");
    assert_finding(&report, "warning no-key");
}

#[test]
fn names_are_kept_as_written_and_escaped_in_text() {
    let fpr = key("alice").signing_fpr_spaced();
    let text = format!(
        "keyring alice\nwrite .guix-authorizations \"(authorizations (version 0) \
         ((\\\"{fpr}\\\" (name \\\"Ren\\xc3\\xa9e\\x1b[31m\\\"))))\"\ncommit first alice\n"
    );
    let (built, report) = run(&text);
    assert_eq!(report.keys[0].name.as_deref(), Some("Renée\u{1b}[31m"));
    let out = cli(&built, &[]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("Renée"), "{stdout}");
    assert!(!stdout.contains('\u{1b}'), "{stdout}");
}

/// Generates an Ed25519 signing key with gpg at `time` (`YYYYMMDDTHHMMSS`)
/// expiring after `expire`; returns its fingerprint and armored public key.
fn gpg_key(
    home: &AgentHome,
    uid: &str,
    time: &str,
    expire: &str,
    revoke: bool,
) -> (String, String) {
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(home.path())
            .args([
                "--batch",
                "--no-tty",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(["--faked-system-time", time])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        support::assert_success(&out, &format!("gpg {args:?}"));
        String::from_utf8(out.stdout).unwrap()
    };
    gpg(&["--quick-gen-key", uid, "ed25519", "sign", expire]);
    let listing = gpg(&["--with-colons", "--list-keys", uid]);
    let fingerprint = listing
        .lines()
        .find_map(|l| l.strip_prefix("fpr:::::::::"))
        .map(|f| f.trim_end_matches(':').to_owned())
        .unwrap();
    if revoke {
        // gpg writes a revocation certificate with each key, its armor
        // prefixed by ':' against accidental import.
        let path = home
            .path()
            .join("openpgp-revocs.d")
            .join(format!("{fingerprint}.rev"));
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace(":-----BEGIN", "-----BEGIN")).unwrap();
        gpg(&["--import", path.to_str().unwrap()]);
    }
    (
        fingerprint.clone(),
        gpg(&["--armor", "--export", &fingerprint]),
    )
}

/// A channel from 2021-01-01 whose keyring holds `armored` and whose
/// `.guix-authorizations` lists alice and `fingerprint` (named `name`).
fn channel_with(name: &str, fingerprint: &str, armored: &str) -> String {
    let entries = [
        ("alice".to_owned(), key("alice").signing_fpr_spaced()),
        (name.to_owned(), support::spaced_fingerprint(fingerprint)),
    ];
    let file = support::authorizations_file(&entries, "audit test");
    let quote = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    };
    format!(
        "keyring alice\nkeyring-raw keyring \"{name}.key\" \"{}\"\n\
         write .guix-authorizations \"{}\"\ncommit first alice\n",
        quote(armored),
        quote(&file)
    )
}

#[test]
fn keys_expired_expiring_or_revoked_while_authorized_are_found() {
    support::needs::gpg();
    let home = AgentHome::new("gah-aud.").unwrap();
    // The channel's commits are of 2021-01-01.
    // (name, created, expiry, revoked, the finding expected)
    let cases = [
        (
            "old",
            "20200101T000000",
            "1d",
            false,
            "warning expired-but-authorized old",
        ),
        (
            "soon",
            "20201215T000000",
            "30d",
            false,
            "warning expires-soon soon",
        ),
        (
            "gone",
            "20200601T000000",
            "0",
            true,
            "critical revoked-but-authorized gone",
        ),
    ];
    let mut last = None;
    for (name, created, expiry, revoked, finding) in cases {
        let user_id = format!("{name} <{name}@example.org>");
        let (fingerprint, key) = gpg_key(&home, &user_id, created, expiry, revoked);
        let (_, report) = run(&channel_with(name, &fingerprint, &key));
        assert_finding(&report, finding);
        last = Some((fingerprint, report));
    }
    let (gone, report) = last.unwrap();
    assert!(
        report
            .key(&gone.parse().unwrap())
            .unwrap()
            .keyring
            .as_ref()
            .unwrap()
            .revoked
    );
    assert_no_finding(&report, "expire");
}

#[test]
fn counts_agree_with_git_and_with_authentication() {
    let (built, report) = run(
        "keyring alice bob dave\nauthorize alice bob\ncommit first alice\n\
         write a.txt \"a\\n\"\ncommit c1 bob\nbranch side\ncheckout side\n\
         authorize alice bob dave\ncommit widen bob\nwrite b.txt \"b\\n\"\ncommit c2 dave\n\
         checkout master\nwrite a.txt \"b\\n\"\ncommit c3 alice\nmerge side merged bob\n\
         authorize alice dave\ncommit narrow dave\n",
    );
    assert_counts(&built.path, &report, &Options::default(), "HEAD");
}

/// The commits after the introduction whose `.guix-authorizations`
/// differs from each parent's, as git itself tells: the commits `git log
/// --full-history --no-merges` lists for the file, and the merges whose
/// file's blob (`git cat-file --batch-check`) is none of their parents'.
fn changes_by_git(dir: &Path, introduction: Oid, end: &str) -> Vec<String> {
    let range = format!("{introduction}..{end}");
    let git = |args: &[&str], input: Option<String>| {
        let mut child = support::git_command(dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(input.unwrap_or_default().as_bytes());
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let file = ".guix-authorizations";
    let log = [
        "log",
        "--full-history",
        "--no-merges",
        "--format=%H",
        &range,
        "--",
        file,
    ];
    let mut changes: Vec<String> = git(&log, None).lines().map(str::to_owned).collect();
    let merges = git(&["log", "--merges", "--format=%H %P", &range], None);
    let merges: Vec<Vec<&str>> = merges.lines().map(|l| l.split(' ').collect()).collect();
    let queries: String = merges
        .iter()
        .flatten()
        .map(|c| format!("{c}:{file}\n"))
        .collect();
    let blobs = git(&["cat-file", "--batch-check=%(objectname)"], Some(queries));
    let mut blobs = blobs.lines();
    for merge in &merges {
        let ids: Vec<&str> = merge.iter().map(|_| blobs.next().unwrap()).collect();
        if ids[1..].iter().all(|parent| *parent != ids[0]) {
            changes.push(merge[0].to_owned());
        }
    }
    changes.sort_unstable();
    changes
}

/// The audit's counts against git's and authentication's: the changes,
/// the commits, and each key's commits (authentication's signers, plus
/// the introduction for its signer).
fn assert_counts(dir: &Path, report: &Audit, options: &Options, end: &str) {
    let intro = &report.introduction;
    let mut audited: Vec<String> = report
        .changes
        .iter()
        .filter(|c| !c.introduction)
        .map(|c| c.at.commit.to_string())
        .collect();
    audited.sort_unstable();
    assert_eq!(audited, changes_by_git(dir, intro.commit, end));
    let repo = git2::Repository::open(dir).unwrap();
    let end = repo
        .revparse_single(end)
        .unwrap()
        .peel_to_commit()
        .unwrap()
        .id();
    let range = format!("{}..{end}", intro.commit);
    let out = support::git_command(dir)
        .args(["rev-list", "--count", &range])
        .output()
        .unwrap();
    let count: usize = support::success_output(out, "rev-list")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(report.commits, count + 1);
    let checked = authenticate(&repo, intro, end, options, &NoProgress).unwrap();
    for (signer, n) in &checked.signers {
        let by_intro = usize::from(*signer == intro.signer);
        assert_eq!(
            report.key(signer).unwrap().signed.count,
            n + by_intro,
            "{signer}"
        );
    }
    let total: usize = report.keys.iter().map(|k| k.signed.count).sum();
    assert_eq!(total, report.commits);
}

/// The audit of a real channel to `master`, with its counts checked.
fn audit_real(var: &str, introduction: &Introduction) -> Audit {
    let repo = support::snapshot(var);
    let keyring = match repo.find_reference("refs/heads/keyring") {
        Ok(_) => "keyring",
        Err(_) => "origin/keyring",
    };
    let mut options = AuditOptions::default();
    options.authentication.keyring_reference = keyring.to_owned();
    let end = repo.revparse_single("master").unwrap().id();
    let report = audit(&repo, introduction, end, &options).unwrap();
    let dir = repo.path().to_owned();
    assert_counts(&dir, &report, &options.authentication, "master");
    report
}

#[test]
#[ignore = "needs GIT_AUTHENTICATE_NONGUIX (a clone of nonguix with its keyring branch)"]
fn nonguix_audit_agrees_with_git_and_stats() {
    let report = audit_real("GIT_AUTHENTICATE_NONGUIX", &support::nonguix_introduction());
    // `git log --oneline INTRODUCTION..master -- .guix-authorizations`: 8.
    assert_eq!(report.changes.iter().filter(|c| !c.introduction).count(), 8);
    assert_eq!(report.commits, 2178);
}

#[test]
#[ignore = "needs GIT_AUTHENTICATE_GUIX (a clone of GNU Guix with its keyring branch)"]
fn guix_audit_agrees_with_git_and_stats() {
    let report = audit_real("GIT_AUTHENTICATE_GUIX", &Introduction::guix());
    assert_eq!(report.commits, 108_786);
    // `git log --oneline INTRODUCTION..master -- .guix-authorizations`
    // says 69: its history simplification follows one side of merges.
    assert_eq!(
        report.changes.iter().filter(|c| !c.introduction).count(),
        73
    );
    assert_eq!(report.keys.len(), 92);
    assert_eq!(report.authorized_at_end.len(), 47);
}

#[test]
#[ignore = "needs GIT_AUTHENTICATE_GUIX (a clone of GNU Guix with its keyring branch)"]
fn guix_html_page_is_under_2_mb() {
    let repo = support::snapshot("GIT_AUTHENTICATE_GUIX");
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("guix.html");
    let intro = Introduction::guix();
    let out = Command::new(env!("CARGO_BIN_EXE_git-authenticate"))
        .arg("audit")
        .arg("-r")
        .arg(repo.path())
        .args([
            &intro.commit.to_string(),
            &intro.signer.to_hex(),
            "-e",
            "master",
        ])
        .arg("--html")
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let size = std::fs::metadata(&page).unwrap().len();
    assert!(size < 2 << 20, "{size} bytes");
    let text = String::from_utf8(out.stdout).unwrap();
    let summary = text.split("\n\n").next().unwrap();
    assert!(
        summary.lines().count() <= 24,
        "a summary of one screen:\n{summary}"
    );
}

#[test]
fn a_change_of_many_keys_is_cut_in_text_and_whole_in_json() {
    let entries: Vec<(String, String)> = (0..30)
        .map(|i| {
            (
                format!("k{i}"),
                support::spaced_fingerprint(&format!("{i:040X}")),
            )
        })
        .chain([("alice".to_owned(), key("alice").signing_fpr_spaced())])
        .collect();
    let file = support::authorizations_file(&entries, "audit test")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    let built = support::build_scenario_text(&format!(
        "keyring alice\nauthorize alice\ncommit first alice\n\
         write .guix-authorizations \"{file}\"\ncommit many alice\n"
    ));
    let out = cli(&built, &[]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("… 18 more (see --format=json)"), "{text}");
    let out = cli(&built, &["--format=json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["changes"][1]["added"].as_array().unwrap().len(), 30);
}

/// `git-authenticate audit` in the built repository, from `first`.
fn cli(built: &Built, args: &[&str]) -> std::process::Output {
    let first = built.oid("first").to_string();
    Command::new(env!("CARGO_BIN_EXE_git-authenticate"))
        .current_dir(&built.path)
        .arg("audit")
        .args([first.as_str(), &key("alice").signing_fpr])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_json_document_fits_its_schema_and_the_text_has_every_table() {
    let built = support::build_scenario_text(CHANNEL);
    let out = cli(&built, &["--format=json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    support::schema::check(&doc, &support::schema::load("audit-schema.json"));
    assert_eq!(doc["commits"], 3);
    assert_eq!(doc["changes"].as_array().unwrap().len(), 2);
    assert_eq!(doc["changes"][1]["removed"][0]["name"], "dave");
    let out = cli(&built, &[]);
    let text = String::from_utf8(out.stdout).unwrap();
    for heading in [
        "Audit of 3 commits",
        "Changes of .guix-authorizations:",
        "Keys:",
        "Findings:",
    ] {
        assert!(text.contains(heading), "{heading} in {text}");
    }
    // Not authentic: exit 1, a document saying why.
    let bad = support::build_scenario_text(
        "keyring alice mallory\nauthorize alice\ncommit first alice\nwrite a \"\"\ncommit x mallory\n",
    );
    let out = cli(&bad, &["--format=json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    support::schema::check(&doc, &support::schema::load("audit-schema.json"));
    assert!(doc["error"].is_string());
}

#[test]
fn a_history_flipping_between_two_files_diffs_them_once() {
    let flip = "authorize alice bob\ncommit w1 alice\nauthorize alice\ncommit n1 alice\n";
    let (_, report) = run(&format!(
        "keyring alice bob\nauthorize alice\ncommit first alice\n{flip}{}",
        flip.replace('1', "2")
    ));
    let changes = &report.changes;
    assert_eq!(changes.len(), 5);
    // The same two files: the same lists, shared rather than made again.
    assert!(std::sync::Arc::ptr_eq(&changes[1].added, &changes[3].added));
    assert!(std::sync::Arc::ptr_eq(
        &changes[2].removed,
        &changes[4].removed
    ));
    assert_eq!(changes[2].removed[0].name.as_deref(), Some("bob"));
}

/// alice's public certificate with a new user ID binding made on
/// 2020-06-01 saying that her key expires on 2020-06-29 (180 days after
/// its creation), as a key whose owner let it lapse.
fn alice_expired_in_2020() -> String {
    use sequoia_openpgp::packet::signature::SignatureBuilder;
    use sequoia_openpgp::policy::StandardPolicy;
    use sequoia_openpgp::serialize::SerializeInto;
    use std::time::{Duration, UNIX_EPOCH};
    let cert = key("alice").cert;
    let made = UNIX_EPOCH + Duration::from_secs(1_590_969_600);
    let policy = StandardPolicy::new();
    let valid = cert.with_policy(&policy, made).unwrap();
    let userid = valid.primary_userid().unwrap();
    let secret = cert
        .primary_key()
        .key()
        .clone()
        .parts_into_secret()
        .unwrap();
    let mut signer = secret.into_keypair().unwrap();
    let binding = SignatureBuilder::from(userid.binding_signature().clone())
        .set_signature_creation_time(made)
        .unwrap()
        .set_key_validity_period(Some(Duration::from_secs(180 * 86_400)))
        .unwrap()
        .sign_userid_binding(&mut signer, cert.primary_key().key(), userid.userid())
        .unwrap();
    let (lapsed, _) = cert.clone().insert_packets(binding).unwrap();
    let armored = lapsed.armored().to_vec().unwrap();
    String::from_utf8(armored).unwrap()
}

#[test]
fn commits_signed_after_the_keys_expiry_are_counted() {
    let quote = |s: &str| s.replace('\n', "\\n");
    let (built, report) = run(&format!(
        "keyring-raw keyring \"alice.key\" \"{}\"\nauthorize alice\ncommit first alice\n\
         write a.txt \"a\\n\"\ncommit second alice\n",
        quote(&alice_expired_in_2020())
    ));
    let alice = report.key(&support::expect::fingerprint("alice")).unwrap();
    assert_eq!(
        alice.keyring.as_ref().unwrap().expires,
        Some(1_577_836_800 + 180 * 86_400)
    );
    assert_eq!(alice.signed.after_expiry, 2);
    assert_eq!(
        alice.signed.first_after_expiry.unwrap().commit,
        built.oid("first")
    );
    assert_finding(&report, "info signed-after-expiry alice");
    assert_finding(&report, "warning expired-but-authorized alice");
}

/// The pixels of a PNG file that are neither black nor white, counted on
/// its decompressed (filtered) scanlines: a blank page has next to none.
fn inked_bytes(png: &[u8]) -> usize {
    use std::io::Read;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let (mut at, mut idat) = (8, Vec::new());
    while at + 8 <= png.len() {
        let length = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let kind = &png[at + 4..at + 8];
        if kind == b"IDAT" {
            idat.extend_from_slice(&png[at + 8..at + 8 + length]);
        }
        at += 12 + length;
    }
    let mut pixels = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut pixels)
        .unwrap();
    pixels.iter().filter(|&&b| b != 0 && b != 0xff).count()
}

/// Runs headless Chromium (Debian's `chromium`) on `page` with `args`.
fn chromium(page: &Path, args: &[&str]) -> std::process::Output {
    support::needs::tool("chromium", "chromium");
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn the_html_page_renders_in_chromium_and_holds_the_jsons_data() {
    // A hostile name, to see that it cannot break out of the page's data.
    let fpr = key("bob").signing_fpr_spaced();
    let alice = key("alice").signing_fpr_spaced();
    let built = support::build_scenario_text(&format!(
        "keyring alice bob\nwrite .guix-authorizations \"(authorizations (version 0) \
         ((\\\"{alice}\\\" (name \\\"alice\\\")) (\\\"{fpr}\\\" (name \\\"</script><b>bob\\\"))))\"\n\
         commit first alice\nwrite a.txt \"a\\n\"\ncommit second bob\n"
    ));
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("audit.html");
    let out = cli(&built, &["--format=json", "--html", page.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let html = std::fs::read_to_string(&page).unwrap();
    for forbidden in ["http:", "https:", "<img", "<link", "src="] {
        let outside_svg_namespace = html.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !outside_svg_namespace.contains(forbidden),
            "{forbidden} in the page"
        );
    }
    // What the browser sees: the embedded data equals the JSON, and the
    // tables have a row per key, change and finding.
    let dom = String::from_utf8(chromium(&page, &["--dump-dom"]).stdout).unwrap();
    let start = dom.find("id=\"audit-data\">").expect("the data element") + 16;
    let data = &dom[start..start + dom[start..].find("</script>").unwrap()];
    assert_eq!(serde_json::from_str::<Value>(data).unwrap(), json);
    let rows = |table: &str| {
        let at = dom.find(&format!("<table id=\"{table}\">")).unwrap();
        let end = at + dom[at..].find("</table>").unwrap();
        dom[at..end].matches("<tr").count() - 1
    };
    assert_eq!(rows("keys"), json["keys"].as_array().unwrap().len());
    assert_eq!(rows("changes"), json["changes"].as_array().unwrap().len());
    assert_eq!(rows("findings"), json["findings"].as_array().unwrap().len());
    assert!(!dom.contains("<b>bob"), "the name was not escaped");
    assert_eq!(
        dom.matches("class=\"key\"").count(),
        2,
        "one timeline row per key"
    );
    // And it draws something.
    let shot = dir.path().join("audit.png");
    chromium(
        &page,
        &[
            "--window-size=1200,900",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    let inked = inked_bytes(&std::fs::read(&shot).unwrap());
    assert!(
        inked > 10_000,
        "the screenshot is blank ({inked} inked bytes)"
    );
}

#[test]
fn a_root_let_in_by_the_historical_authorizations_lists_its_file_first() {
    let built = support::build_scenario_text(
        "keyring alice bob\nauthorize alice bob\ncommit first alice\n\
         orphan other\nauthorize alice\ncommit root alice\n\
         checkout master\nmerge other merged alice\n",
    );
    let mut options = AuditOptions::default();
    options.authentication.historical_authorizations =
        git_authenticate::Authorizations::from_fingerprints([support::expect::fingerprint(
            "alice",
        )]);
    let repo = built.repo();
    let report = audit(&repo, &introduction(&built), built.oid("merged"), &options).unwrap();
    let root = report
        .changes
        .iter()
        .find(|c| c.at.commit == built.oid("root"))
        .unwrap();
    assert_eq!((root.line, root.removed.len()), (Line::SideBranch, 0));
    assert_counts(&built.path, &report, &options.authentication, "HEAD");
}
