//! Self-test of the scenario builder in `tests/support/`: builds every
//! scenario of `test-repos/scenarios/` and checks the repositories with the
//! real `git` CLI, with `gpg` and with git2/Sequoia.
//!
//! The fixed test keys are made by
//! `cargo run --features fuzzing --example xtask -- regenerate-test-keys DIR`.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use sequoia_openpgp as openpgp;

use openpgp::cert::prelude::*;
use openpgp::parse::Parse;
use openpgp::types::{HashAlgorithm, PublicKeyAlgorithm, SignatureType};
use openpgp::{Packet, PacketPile};

use support::builder::{FIRST_COMMIT_TIME, TIME_STEP};
use support::keys::KEY_CREATION_TIME;
use support::{Built, GpgHome, KeyringFile};

// ---------------------------------------------------------------------------
// Every scenario file.

/// Builds every scenario and checks the repository it makes; reports all
/// failing scenarios at once.
#[test]
fn every_scenario_builds_and_is_consistent() {
    let gpg = GpgHome::new();
    let names = support::scenario_names();
    assert!(names.len() >= 30, "scenarios missing: {names:?}");
    let mut failed = Vec::new();
    for name in &names {
        let result = std::panic::catch_unwind(|| {
            let built = support::build_scenario(name);
            check_repository(&built, Some(&gpg));
            check_expectations(&built);
        });
        if let Err(e) = result {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failed.push(format!("{name}: {msg}"));
        }
    }
    assert!(
        failed.is_empty(),
        "failing scenarios:\n{}",
        failed.join("\n")
    );
}

/// The required scenarios exist.
#[test]
fn required_scenarios_exist() {
    let names: BTreeSet<String> = support::scenario_names().into_iter().collect();
    for required in [
        "unsigned-commits",
        "sha1-signature",
        "sha1-signature-historical",
        "historical-authorizations",
        "authorizations-emptied",
        "unauthorized-merge",
        "authorized-merge",
        "authorizations-removed",
        "introduction-valid",
        "introduction-unsigned",
        "introduction-wrong-signer",
        "end-not-descendant",
        "subkey-listed",
        "primary-only-listed",
        "keyring-formats",
        "keyring-remote-tracking",
        "tampered-commit",
        "key-not-in-keyring",
        "malformed-authorizations",
        "wrong-version-authorizations",
        "ssh-signed",
        "merge-authorized-one-side",
        "gpg-linear",
        "gpg-unauthorized",
        "gpg-merge",
        "gpg-subkey",
    ] {
        assert!(names.contains(required), "missing scenario {required}");
    }
}

fn git_ok(built: &Built, args: &[&str]) -> String {
    let out = built.git(args);
    assert!(
        out.status.success(),
        "git {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The key name of a SIGNER word (`alice`, `gpg:alice`), if an OpenPGP one.
fn signer_key(signer: &str) -> Option<&str> {
    match signer {
        "ssh" | "raw" => None,
        s => Some(s.strip_prefix("gpg:").unwrap_or(s)),
    }
}

fn sig_hash_expected(options: &[String]) -> Option<HashAlgorithm> {
    let mut hash = None;
    for o in options {
        match o.as_str() {
            "sha1" => hash = Some(HashAlgorithm::SHA1),
            "md5" => hash = Some(HashAlgorithm::MD5),
            "sha256" => hash = Some(HashAlgorithm::SHA256),
            "sha512" => hash = Some(HashAlgorithm::SHA512),
            _ => {}
        }
    }
    hash
}

fn crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in data {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// Checks a built repository with git2, Sequoia, gpg and the git CLI.
fn check_repository(built: &Built, gpg: Option<&GpgHome>) {
    let repo = built.repo();
    assert!(!repo.is_bare());
    assert_eq!(
        repo.workdir().unwrap().canonicalize().unwrap(),
        built.path.canonicalize().unwrap()
    );

    let mut times = BTreeSet::new();
    for (label, &oid) in &built.labels {
        let commit = repo
            .find_commit(oid)
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(commit.message().ok(), Some(format!("{label}\n").as_str()));
        assert_eq!(commit.author().when(), commit.committer().when());
        assert_eq!(commit.author().email().ok(), Some("author@example.org"));
        let t = commit.time().seconds();
        assert!(t >= FIRST_COMMIT_TIME && (t - FIRST_COMMIT_TIME) % TIME_STEP == 0);
        let info = &built.info[label];
        if info.tampered_from.is_none() {
            assert!(times.insert(t), "{label}: two commits with time {t}");
        }
        let raw = repo.odb().unwrap().read(oid).unwrap().data().to_vec();
        let raw = String::from_utf8(raw).unwrap();
        assert!(
            !raw.contains("\n \n\n"),
            "{label}: gpgsig header ends with an empty continuation line"
        );
        assert_eq!(commit.parent_count() > 1, info.merge, "{label}: merge flag");
        match (&info.signer, repo.extract_signature(&oid, None)) {
            (None, Err(e)) => {
                assert_eq!(e.code(), git2::ErrorCode::NotFound, "{label}: {e}");
                assert!(!raw.contains("\ngpgsig "));
            }
            (None, Ok(_)) => panic!("{label}: unsigned commit has a signature"),
            (Some(s), Err(e)) => panic!("{label}: signed by {s} but no signature: {e}"),
            (Some(signer), Ok((sig, data))) => {
                assert!(raw.contains("\ngpgsig "), "{label}: no gpgsig header");
                let sig = sig.to_vec();
                let data = data.to_vec();
                check_signature(built, label, signer, &sig, &data, t, gpg);
            }
        }
        if let Some(original) = &info.tampered_from {
            let o = repo.find_commit(built.oid(original)).unwrap();
            assert_eq!(o.tree_id(), commit.tree_id());
            assert_eq!(
                o.parent_ids().collect::<Vec<_>>(),
                commit.parent_ids().collect::<Vec<_>>()
            );
            assert_eq!(
                o.header_field_bytes("gpgsig").ok().map(|b| b.to_vec()),
                commit.header_field_bytes("gpgsig").ok().map(|b| b.to_vec())
            );
            assert_ne!(o.message(), commit.message());
        }
    }

    check_keyrings(built);

    // The real git CLI is happy with the repository and the work tree.
    git_ok(
        built,
        &["fsck", "--strict", "--no-dangling", "--no-progress"],
    );
    if repo.head().is_ok() {
        let status = git_ok(built, &["status", "--porcelain", "--untracked-files=all"]);
        assert_eq!(status, "", "work tree not clean");
        git_ok(built, &["rev-parse", "--verify", "HEAD"]);
    }
}

fn check_signature(
    built: &Built,
    label: &str,
    signer: &str,
    sig: &[u8],
    data: &[u8],
    time: i64,
    gpg: Option<&GpgHome>,
) {
    let info = &built.info[label];
    let tampered = info.tampered_from.is_some();
    if signer == "ssh" {
        assert!(
            sig.starts_with(b"-----BEGIN SSH SIGNATURE-----\n"),
            "{label}"
        );
        assert!(sig.ends_with(b"-----END SSH SIGNATURE-----"), "{label}");
        return;
    }
    if signer == "raw" {
        return;
    }
    let name = signer_key(signer).unwrap();
    assert!(
        sig.starts_with(b"-----BEGIN PGP SIGNATURE-----\n"),
        "{label}"
    );
    assert!(sig.ends_with(b"-----END PGP SIGNATURE-----"), "{label}");

    // Which keys must have signed, in order.
    let mut expected = vec![name.to_string()];
    if info.options.iter().any(|o| o == "two-sigs") {
        expected.push(name.to_string());
    }
    for o in &info.options {
        if let Some(k) = o.strip_prefix("also:") {
            expected.push(k.to_string());
        }
    }
    let text_mode = info.options.iter().any(|o| o == "text");

    // Sequoia: every packet is a signature by the expected key, made at
    // commit time, that verifies (unless tampered).
    let pile = PacketPile::from_bytes(sig).unwrap_or_else(|e| panic!("{label}: {e}"));
    let sigs: Vec<_> = pile
        .descendants()
        .map(|p| match p {
            Packet::Signature(s) => s.clone(),
            other => panic!("{label}: unexpected packet {other:?}"),
        })
        .collect();
    assert_eq!(sigs.len(), expected.len(), "{label}: number of signatures");
    for (s, key_name) in sigs.iter().zip(&expected) {
        let k = support::key(key_name);
        let issuer = s
            .get_issuers()
            .into_iter()
            .find_map(|h| match h {
                openpgp::KeyHandle::Fingerprint(f) => Some(f.to_hex()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{label}: no issuer fingerprint"));
        assert_eq!(issuer, k.signing_fpr, "{label}: issuer");
        let created = s.signature_creation_time().unwrap();
        assert_eq!(
            created.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64,
            time,
            "{label}: signature time"
        );
        let want_type = if text_mode {
            SignatureType::Text
        } else {
            SignatureType::Binary
        };
        assert_eq!(s.typ(), want_type, "{label}: signature type");
        if key_name == name && !info.options.iter().any(|o| o == "two-sigs") {
            if let Some(h) = sig_hash_expected(&info.options) {
                assert_eq!(s.hash_algo(), h, "{label}: hash algorithm");
            } else if !signer.starts_with("gpg:") {
                assert_eq!(
                    s.hash_algo(),
                    HashAlgorithm::SHA512,
                    "{label}: default hash"
                );
            }
        }
        let public = k
            .cert
            .keys()
            .find(|ka| ka.key().fingerprint().to_hex() == k.signing_fpr)
            .unwrap()
            .key()
            .clone();
        let message = if text_mode { crlf(data) } else { data.to_vec() };
        let verified = s.verify_message(&public, &message);
        assert_eq!(
            verified.is_ok(),
            !tampered,
            "{label}: Sequoia verification: {verified:?}"
        );
    }

    // The real gpg agrees.
    if let Some(gpg) = gpg {
        let result = gpg.verify(sig, data);
        if tampered {
            assert!(result.is_err(), "{label}: gpg accepted a tampered commit");
        } else {
            let status = result.unwrap_or_else(|e| panic!("{label}: gpg --verify: {e}"));
            let valid: Vec<String> = status
                .lines()
                .filter_map(|l| l.strip_prefix("[GNUPG:] VALIDSIG "))
                .map(|l| l.split(' ').next().unwrap().to_string())
                .collect();
            let want: Vec<String> = expected
                .iter()
                .map(|n| support::key(n).signing_fpr)
                .collect();
            assert_eq!(valid, want, "{label}: gpg VALIDSIG");
            // git itself accepts it (MD5 aside, which gpg refuses by
            // default; git also rejects several signatures in one commit as
            // ambiguous).
            if !info.options.iter().any(|o| o == "md5") && expected.len() == 1 {
                let out = support::git_command(&built.path)
                    .env("GNUPGHOME", gpg.path())
                    .args(["verify-commit", label_rev(built, label).as_str()])
                    .output()
                    .unwrap();
                support::assert_success(&out, &format!("{label}: git verify-commit"));
            }
        }
    }
}

fn label_rev(built: &Built, label: &str) -> String {
    built.oid(label).to_string()
}

/// Every keyring reference holds exactly the recorded files, and each file
/// holds what was asked for, in the right encoding.
fn check_keyrings(built: &Built) {
    let repo = built.repo();
    for (refname, files) in &built.keyrings {
        let reference = repo
            .find_reference(&format!("refs/heads/{refname}"))
            .or_else(|_| repo.find_reference(&format!("refs/remotes/{refname}")))
            .unwrap_or_else(|e| panic!("keyring {refname}: {e}"));
        let commit = reference.peel_to_commit().unwrap();
        assert!(
            repo.extract_signature(&commit.id(), None).is_err(),
            "keyring commits are unsigned"
        );
        let tree = commit.tree().unwrap();
        let names: BTreeSet<String> = tree
            .iter()
            .map(|e| String::from_utf8(e.name_bytes().to_vec()).unwrap())
            .collect();
        let want: BTreeSet<String> = files.keys().cloned().collect();
        assert_eq!(names, want, "keyring {refname}: files");
        // The CLI sees the same names (spaces, parentheses and all).
        let listed = git_ok(
            built,
            &[
                "ls-tree",
                "-z",
                "--name-only",
                commit.id().to_string().as_str(),
            ],
        );
        let listed: BTreeSet<String> = listed
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        assert_eq!(listed, want, "keyring {refname}: git ls-tree");
        for (file, what) in files {
            let entry = tree.get_name(file).unwrap();
            assert_eq!(entry.filemode(), 0o100644);
            let blob = repo.find_blob(entry.id()).unwrap();
            let content = blob.content();
            let keys = match what {
                KeyringFile::Raw(bytes) => {
                    assert_eq!(content, &bytes[..]);
                    continue;
                }
                KeyringFile::Armored(keys) => {
                    assert!(content.starts_with(b"-----BEGIN PGP PUBLIC KEY BLOCK-----"));
                    assert_eq!(count(content, b"-----BEGIN PGP"), 1, "{file}: one block");
                    keys
                }
                KeyringFile::ArmoredConcat(keys) => {
                    assert!(content.starts_with(b"-----BEGIN PGP PUBLIC KEY BLOCK-----"));
                    assert_eq!(count(content, b"-----BEGIN PGP"), keys.len(), "{file}");
                    keys
                }
                KeyringFile::Binary(keys) => {
                    assert!(content[0] & 0x80 != 0, "{file}: not binary OpenPGP");
                    keys
                }
            };
            let certs: Vec<openpgp::Cert> = if matches!(what, KeyringFile::ArmoredConcat(_)) {
                split_armor(content)
                    .iter()
                    .map(|b| openpgp::Cert::from_bytes(b).unwrap())
                    .collect()
            } else {
                CertParser::from_bytes(content)
                    .unwrap()
                    .collect::<openpgp::Result<Vec<_>>>()
                    .unwrap_or_else(|e| panic!("{file}: {e}"))
            };
            let got: Vec<String> = certs.iter().map(|c| c.fingerprint().to_hex()).collect();
            let want: Vec<String> = keys.iter().map(|k| support::key(k).primary_fpr).collect();
            assert_eq!(got, want, "{file}: certificates");
            for c in &certs {
                assert!(!c.is_tsk(), "{file}: contains secret key material");
            }
        }
    }
}

/// Names of the test keys whose certificates are in the top-level `*.key`
/// files of `tree` (armored, several armor blocks, or binary); files that
/// do not parse are skipped.
fn keys_in_tree(repo: &git2::Repository, tree: &git2::Tree) -> BTreeSet<String> {
    let by_fpr: BTreeMap<String, &str> = support::KEY_NAMES
        .iter()
        .map(|n| (support::key(n).primary_fpr, *n))
        .collect();
    let mut found = BTreeSet::new();
    for entry in tree.iter() {
        let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
        let Ok(blob) = repo.find_blob(entry.id()) else {
            continue;
        };
        if !name.ends_with(".key") {
            continue;
        }
        let content = blob.content();
        let chunks = if content.starts_with(b"-----BEGIN") {
            split_armor(content)
        } else {
            vec![content.to_vec()]
        };
        for chunk in chunks {
            let Ok(parser) = CertParser::from_bytes(&chunk) else {
                continue;
            };
            for cert in parser.flatten() {
                if let Some(n) = by_fpr.get(&cert.fingerprint().to_hex()) {
                    found.insert(n.to_string());
                }
            }
        }
    }
    found
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

fn split_armor(content: &[u8]) -> Vec<Vec<u8>> {
    let text = std::str::from_utf8(content).unwrap();
    text.split_inclusive("-----END PGP PUBLIC KEY BLOCK-----\n")
        .filter(|b| b.contains("-----BEGIN"))
        .map(|b| b.as_bytes().to_vec())
        .collect()
}

// ---------------------------------------------------------------------------
// Expectation lines: vocabulary and consistency with the built history.

const FAILURES: [&str; 12] = [
    "unsigned",
    "weak-hash",
    "missing-key",
    "bad-signature",
    "malformed-signature",
    "unauthorized",
    "removed-authorizations",
    "malformed-authorizations",
    "wrong-introduction-signer",
    "not-descendant",
    "keyring-missing",
    "malformed-key",
];

/// Parses `.guix-authorizations` like Guix (version 0 only) and returns
/// the listed fingerprints (spaces removed).
fn parse_authorizations(text: &str) -> Result<Vec<String>, String> {
    let value = lexpr::from_str(text).map_err(|e| e.to_string())?;
    let items = value.to_vec().ok_or("not a list")?;
    match items.as_slice() {
        [head, version, entries] if head.as_symbol() == Some("authorizations") => {
            let version = version.to_vec().ok_or("bad version form")?;
            match version.as_slice() {
                [v, n] if v.as_symbol() == Some("version") && n.as_u64() == Some(0) => {}
                _ => return Err("unsupported version".into()),
            }
            let entries = entries.to_vec().ok_or("entries not a list")?;
            entries
                .iter()
                .map(|e| {
                    let e = e.to_vec().ok_or("entry not a list")?;
                    let fpr = e.first().and_then(|f| f.as_str()).ok_or("no fingerprint")?;
                    Ok(fpr.replace(' ', ""))
                })
                .collect()
        }
        _ => Err("not an (authorizations ...) form".into()),
    }
}

/// Checks the expectation lines: known vocabulary, existing labels and
/// keys, and that the expected outcome agrees with how the history was
/// built (so that scenario files cannot silently be wrong).
fn check_expectations(built: &Built) {
    let repo = built.repo();
    let mut introduction: Option<(String, String)> = None;
    let mut end: Option<String> = None;
    let mut keyring_ref = "keyring".to_string();
    let mut outcome: Option<Vec<String>> = None;
    let mut all = Vec::new();
    for e in &built.expectations {
        let args: Vec<&str> = e[1..].iter().map(String::as_str).collect();
        match (e[0].as_str(), args.as_slice()) {
            ("introduction", [label, key]) => {
                assert!(introduction.is_none(), "two introduction lines");
                built.oid(label);
                assert!(support::key_exists(key), "unknown key {key}");
                introduction = Some((label.to_string(), key.to_string()));
            }
            ("end", [label]) => {
                built.oid(label);
                end = Some(label.to_string());
            }
            ("historical", keys) => {
                for k in keys {
                    assert!(support::key_exists(k), "unknown key {k}");
                }
            }
            ("keyring-ref", [r]) => keyring_ref = r.to_string(),
            ("expect", ["authentic", n]) => {
                assert!(outcome.is_none(), "two outcomes");
                n.parse::<usize>().expect("expect authentic N");
                outcome = Some(e.clone());
            }
            ("expect", [failure, ..]) => {
                assert!(outcome.is_none(), "two outcomes");
                assert!(FAILURES.contains(failure), "unknown failure {failure}");
                outcome = Some(e.clone());
            }
            ("expect-all", [failure, ..]) => {
                assert!(FAILURES.contains(failure), "unknown failure {failure}");
                all.push(e.clone());
            }
            _ => panic!("bad expectation line {e:?}"),
        }
    }
    let (intro_label, intro_key) = introduction.expect("no introduction line");
    let outcome = outcome.expect("no `expect` outcome line");
    let intro = built.oid(&intro_label);
    let end_oid = match &end {
        Some(l) => built.oid(l),
        None => repo.head().unwrap().peel_to_commit().unwrap().id(),
    };
    let descends = |a: git2::Oid, b: git2::Oid| a == b || repo.graph_descendant_of(a, b).unwrap();

    // The keys present in the keyring reference (whatever branch it is).
    let keyring_tree = repo
        .find_reference(&format!("refs/heads/{keyring_ref}"))
        .or_else(|_| repo.find_reference(&format!("refs/remotes/{keyring_ref}")))
        .ok()
        .map(|r| r.peel_to_tree().unwrap());
    let keyring_exists = keyring_tree.is_some();
    let keyring_keys: BTreeSet<String> = keyring_tree
        .map(|tree| keys_in_tree(&repo, &tree))
        .unwrap_or_default();
    let authorizations = |oid: git2::Oid| -> Option<Result<Vec<String>, String>> {
        let tree = repo.find_commit(oid).unwrap().tree().unwrap();
        let entry = tree.get_name(".guix-authorizations")?;
        if entry.kind() == Some(git2::ObjectType::Tree) {
            // Like Guix (libgit2 reports a tree looked up as a blob as "not
            // found"), a directory counts as no file.
            return None;
        }
        Some(match repo.find_blob(entry.id()) {
            Ok(b) if entry.filemode() == 0o100644 => {
                parse_authorizations(&String::from_utf8_lossy(b.content()))
            }
            _ => Err("not a regular file".into()),
        })
    };

    let outcome_args: Vec<&str> = outcome[2..].iter().map(String::as_str).collect();
    let kind = outcome[1].as_str();
    if kind != "not-descendant" {
        assert!(
            descends(end_oid, intro),
            "end is not a descendant of the introduction"
        );
    }
    if kind != "keyring-missing" {
        assert!(keyring_exists, "keyring reference {keyring_ref} missing");
        assert!(keyring_keys.contains(&intro_key) || kind == "missing-key");
    }
    if kind == "authentic" {
        let count = git_ok(
            built,
            &[
                "rev-list",
                "--count",
                &end_oid.to_string(),
                &format!("^{intro}"),
            ],
        );
        let n: usize = outcome_args[0].parse().unwrap();
        assert_eq!(
            n,
            count.trim().parse::<usize>().unwrap(),
            "expect authentic N: N counts the commits after the introduction up to the end"
        );
        assert!(all.is_empty(), "expect-all with an authentic outcome");
        return;
    }
    let mut failures = vec![outcome.clone()];
    failures.extend(all);
    for f in &failures {
        let args: Vec<&str> = f[2..].iter().map(String::as_str).collect();
        let kind = f[1].as_str();
        let check_label = |label: &str| {
            let oid = built.oid(label);
            if kind != "not-descendant" {
                assert!(
                    descends(oid, intro),
                    "{label} is not after the introduction"
                );
                assert!(descends(end_oid, oid), "{label} is not before the end");
            }
            oid
        };
        let signer_of = |label: &str| {
            built.info[label]
                .signer
                .as_deref()
                .and_then(signer_key)
                .map(str::to_string)
        };
        match (kind, args.as_slice()) {
            ("keyring-missing", []) => assert!(!keyring_exists),
            ("malformed-key", []) => {
                assert!(built.keyrings.get(&keyring_ref).is_some_and(|files| files
                    .iter()
                    .any(|(name, f)| name.ends_with(".key") && matches!(f, KeyringFile::Raw(_)))))
            }
            ("unsigned", [label]) => {
                check_label(label);
                assert_eq!(built.info[*label].signer, None, "{label} is signed");
            }
            ("weak-hash", [label]) => {
                check_label(label);
                let o = &built.info[*label].options;
                assert!(o.iter().any(|o| o == "sha1" || o == "md5"), "{label}: hash");
            }
            ("missing-key", [label, key]) => {
                check_label(label);
                assert_eq!(signer_of(label).as_deref(), Some(*key));
                assert!(!keyring_keys.contains(*key), "{key} is in the keyring");
            }
            ("bad-signature", [label]) => {
                check_label(label);
                assert!(
                    built.info[*label].tampered_from.is_some(),
                    "{label} not tampered"
                );
            }
            ("malformed-signature", [label]) => {
                check_label(label);
                assert!(matches!(
                    built.info[*label].signer.as_deref(),
                    Some("ssh") | Some("raw")
                ));
            }
            ("unauthorized", [label, key]) => {
                check_label(label);
                assert_eq!(signer_of(label).as_deref(), Some(*key));
                assert!(keyring_keys.contains(*key), "{key} is not in the keyring");
                // Some parent (or the historical list) does not list it.
                let k = support::key(key);
                let commit = repo.find_commit(built.oid(label)).unwrap();
                let everywhere = commit.parent_ids().all(|p| match authorizations(p) {
                    Some(Ok(fprs)) => fprs.contains(&k.signing_fpr),
                    _ => false,
                });
                assert!(
                    !everywhere,
                    "{key} is authorized by every parent of {label}"
                );
            }
            ("removed-authorizations", [label]) => {
                let oid = check_label(label);
                assert_ne!(oid, end_oid, "the removal shows on the next commit");
                assert!(authorizations(oid).is_none());
                let commit = repo.find_commit(oid).unwrap();
                assert!(commit.parent_ids().any(|p| authorizations(p).is_some()));
            }
            ("malformed-authorizations", [label]) => {
                let oid = check_label(label);
                let commit = repo.find_commit(oid).unwrap();
                assert!(
                    commit
                        .parent_ids()
                        .any(|p| matches!(authorizations(p), Some(Err(_)))),
                    "{label}: the authorizations of its parents parse fine"
                );
            }
            ("wrong-introduction-signer", [label, key]) => {
                assert_eq!(*label, intro_label);
                assert_eq!(signer_of(label).as_deref(), Some(*key));
                assert_ne!(*key, intro_key);
            }
            ("not-descendant", [label]) => {
                assert_eq!(built.oid(label), end_oid);
                assert!(!descends(end_oid, intro));
            }
            _ => panic!("bad failure expectation {f:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// Targeted tests of the builder.

#[test]
fn test_keys_have_the_documented_shape() {
    let p = openpgp::policy::StandardPolicy::new();
    let created = UNIX_EPOCH + Duration::from_secs(KEY_CREATION_TIME);
    for name in support::KEY_NAMES {
        let k = support::key(name);
        assert!(k.cert.is_tsk(), "{name}: no secret keys");
        for ka in k.cert.keys().secret() {
            assert!(
                ka.key().has_unencrypted_secret(),
                "{name}: encrypted secret key"
            );
            assert_eq!(ka.key().creation_time(), created, "{name}: creation time");
        }
        let uid = k.cert.userids().next().unwrap().userid().to_string();
        let capitalised = format!("{}{}", name[..1].to_uppercase(), &name[1..]);
        assert_eq!(uid, format!("{capitalised} <{name}@example.org>"));
        for fpr in [&k.signing_fpr, &k.primary_fpr] {
            assert_eq!(fpr.len(), 40);
            assert!(fpr
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
        }
        let vc = k.cert.with_policy(&p, None).unwrap();
        assert!(
            vc.primary_key().key_expiration_time().is_none(),
            "{name}: expires"
        );
        let algo = vc.primary_key().key().pk_algo();
        let bits = vc.primary_key().key().mpis().bits();
        let signing_subkeys = vc.keys().subkeys().for_signing().count();
        match name {
            "alice" | "mallory" => {
                assert_eq!(algo, PublicKeyAlgorithm::EdDSA);
                assert_eq!(k.signing_fpr, k.primary_fpr);
                assert_eq!(k.cert.keys().subkeys().count(), 0);
            }
            "bob" => {
                assert_eq!(algo, PublicKeyAlgorithm::RSAEncryptSign);
                assert_eq!(bits, Some(2048));
                assert_eq!(k.signing_fpr, k.primary_fpr);
            }
            "carol" => {
                assert_eq!(algo, PublicKeyAlgorithm::EdDSA);
                assert!(!vc.primary_key().for_signing(), "carol's primary signs");
                assert!(vc.primary_key().for_certification());
                assert_eq!(signing_subkeys, 1);
                assert_ne!(k.signing_fpr, k.primary_fpr);
            }
            "dave" => {
                assert_eq!(algo, PublicKeyAlgorithm::RSAEncryptSign);
                assert_eq!(k.signing_fpr, k.primary_fpr);
            }
            "erin" => {
                // DSA (algorithm 17); the variant itself is deprecated.
                assert_eq!(u8::from(algo), 17);
                assert_eq!(bits, Some(2048));
                assert_eq!(k.signing_fpr, k.primary_fpr);
            }
            _ => unreachable!(),
        }
        if name != "carol" {
            assert!(
                vc.primary_key().for_signing(),
                "{name}: primary cannot sign"
            );
        }
        // The public export has no secrets.
        let public = openpgp::Cert::from_bytes(&k.armored_public()).unwrap();
        assert!(!public.is_tsk());
        assert_eq!(public.fingerprint().to_hex(), k.primary_fpr);
    }
    assert!(support::sign::ssh_key_path().is_file());
}

/// The usages documented in `test-repos/README.md`'s command tables (the
/// first column of every row between "## Commands" and the signers).
fn documented_usages() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(support::manifest_dir().join("test-repos/README.md"))
        .expect("read test-repos/README.md");
    let start = readme.find("\n## Commands").expect("a Commands section");
    let end = readme
        .find("\n### Signers and options")
        .expect("a signers section");
    readme[start..end]
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|row| {
            row.split_once("` |")
                .map(|(usage, _)| usage.replace("\\|", "|"))
        })
        .collect()
}

#[test]
fn every_documented_command_exists_and_every_command_is_documented() {
    let table: BTreeSet<String> = support::builder::COMMANDS
        .iter()
        .map(|c| c.usage.to_string())
        .collect();
    let documented = documented_usages();
    assert_eq!(
        documented.difference(&table).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "documented in test-repos/README.md but not in the builder's table (or with another usage)"
    );
    assert_eq!(
        table.difference(&documented).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "in the builder's table but not documented in test-repos/README.md"
    );
    let names: BTreeSet<&str> = support::builder::COMMANDS
        .iter()
        .map(|c| c.name())
        .collect();
    assert_eq!(
        names.len(),
        support::builder::COMMANDS.len(),
        "a command is listed twice"
    );
}

#[test]
fn spaced_fingerprints() {
    assert_eq!(
        support::spaced_fingerprint("AAAABBBBCCCCDDDDEEEEFFFF0000111122223333"),
        "AAAA BBBB CCCC DDDD EEEE  FFFF 0000 1111 2222 3333"
    );
}

#[test]
fn tokenizer() {
    use support::script::tokenize;
    let t = tokenize(r#"write "a b" "x\n\"y\"\x41\\" # comment"#).unwrap();
    assert_eq!(
        t,
        vec![b"write".to_vec(), b"a b".to_vec(), b"x\n\"y\"A\\".to_vec()]
    );
    assert!(tokenize("  # only a comment").unwrap().is_empty());
    assert_eq!(tokenize(r#"x """#).unwrap(), vec![b"x".to_vec(), vec![]]);
    assert_eq!(tokenize(r#"k "\xff\x00""#).unwrap()[1], vec![0xff, 0]);
    assert!(tokenize(r#"x "abc"#).is_err());
    assert!(tokenize(r#"x "a"b"#).is_err());
    assert!(tokenize(r#"x a"b"#).is_err());
    assert!(tokenize(r#"x "\q""#).is_err());
}

#[test]
#[should_panic(expected = "<inline>:3: unknown command \"frobnicate\"")]
fn unknown_commands_panic_with_line_numbers() {
    support::build_scenario_text("keyring alice\n\nfrobnicate x\n");
}

#[test]
#[should_panic(expected = "<inline>:2: unterminated double-quoted string")]
fn lexical_errors_panic_with_line_numbers() {
    support::build_scenario_text("# comment\nwrite a \"abc\n");
}

#[test]
#[should_panic(expected = "<inline>:1: unknown key \"zed\"")]
fn unknown_keys_are_reported() {
    support::build_scenario_text("commit first zed\n");
}

#[test]
#[should_panic(expected = "uncommitted changes")]
fn uncommitted_changes_are_reported() {
    support::build_scenario_text("commit first\nwrite a \"A\"\n");
}

#[test]
fn authorize_writes_guix_authorizations() {
    let built = support::build_scenario_text(
        "authorize alice carol\ncommit signing alice\n\
         authorize-primary alice carol\ncommit primary alice\n\
         authorize\ncommit nobody alice\n",
    );
    let repo = built.repo();
    let read = |label: &str| {
        let tree = repo.find_commit(built.oid(label)).unwrap().tree().unwrap();
        let entry = tree.get_name(".guix-authorizations").unwrap();
        String::from_utf8(repo.find_blob(entry.id()).unwrap().content().to_vec()).unwrap()
    };
    let (alice, carol) = (support::key("alice"), support::key("carol"));
    let signing = read("signing");
    assert!(
        signing.starts_with(";;"),
        "no comment at the top:\n{signing}"
    );
    assert!(
        signing.contains("\n   ;; "),
        "no comment inside an entry:\n{signing}"
    );
    assert!(signing.contains(&format!("\"{}\"", carol.signing_fpr_spaced())));
    assert!(signing.contains("(name \"alice\")") && signing.contains("(name \"carol\")"));
    assert!(signing.contains("(version 0)"));
    assert_eq!(
        parse_authorizations(&signing).unwrap(),
        vec![alice.signing_fpr.clone(), carol.signing_fpr.clone()]
    );
    assert_eq!(
        parse_authorizations(&read("primary")).unwrap(),
        vec![alice.primary_fpr.clone(), carol.primary_fpr.clone()]
    );
    assert_eq!(
        parse_authorizations(&read("nobody")).unwrap(),
        Vec::<String>::new()
    );
    // The work tree holds the last version.
    assert_eq!(
        std::fs::read_to_string(built.path.join(".guix-authorizations")).unwrap(),
        read("nobody")
    );
}

#[test]
fn working_state_commands() {
    let built = support::build_scenario_text(
        r##"
        write "dir/a file.txt" "hello\n"
        write-exec run.sh "#!/bin/sh\n"
        symlink link "dir/a file.txt"
        commit one
        mkdir-file .guix-authorizations
        remove run.sh
        commit two
        branch side
        checkout side
        write dir "now a file"
        write shared "side\n"
        commit side-1 alice
        checkout master
        write shared "master\n"
        write only-master "m\n"
        commit three bob
        merge side merged carol
        tag v1 one
        annotated-tag v2 two
        orphan lonely
        write x "x"
        commit lonely-root
        reset lonely-root
        head master
        expect authentic 1
        "##,
    );
    assert_eq!(built.expectations, vec![vec!["expect", "authentic", "1"]]);
    let files = |rev: &str| {
        let mut v: Vec<String> = git_ok(&built, &["ls-tree", "-r", "--name-only", "-z", rev])
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    assert_eq!(files("v1"), ["dir/a file.txt", "link", "run.sh"]);
    assert_eq!(
        files(&built.oid("two").to_string()),
        [".guix-authorizations/README", "dir/a file.txt", "link"]
    );
    // Merge: union of both sides, the merged branch wins conflicts (`dir`
    // became a file on `side`, replacing the directory).
    assert_eq!(
        files("HEAD"),
        [
            ".guix-authorizations/README",
            "dir",
            "link",
            "only-master",
            "shared"
        ]
    );
    assert_eq!(git_ok(&built, &["show", "HEAD:shared"]), "side\n");
    assert_eq!(
        git_ok(&built, &["rev-parse", "--abbrev-ref", "HEAD"]),
        "master\n"
    );
    assert_eq!(
        git_ok(&built, &["rev-parse", "HEAD^1", "HEAD^2"]),
        format!("{}\n{}\n", built.oid("three"), built.oid("side-1"))
    );
    assert_eq!(git_ok(&built, &["cat-file", "-t", "v2"]), "tag\n");
    assert_eq!(
        git_ok(&built, &["rev-parse", "v2^{commit}"]).trim(),
        built.oid("two").to_string()
    );
    let mode = git_ok(
        &built,
        &["ls-tree", &built.oid("one").to_string(), "run.sh"],
    );
    assert!(mode.starts_with("100755 "), "{mode}");
    let link = git_ok(&built, &["ls-tree", &built.oid("one").to_string(), "link"]);
    assert!(link.starts_with("120000 "), "{link}");
    assert_eq!(
        git_ok(&built, &["rev-parse", "lonely"]).trim(),
        built.oid("lonely-root").to_string()
    );
    // Deterministic times: 2021-01-01 plus 60 s per object.
    let repo = built.repo();
    let t = |l: &str| repo.find_commit(built.oid(l)).unwrap().time().seconds();
    assert_eq!(t("one"), FIRST_COMMIT_TIME);
    assert_eq!(t("two"), FIRST_COMMIT_TIME + TIME_STEP);
    assert_eq!(t("side-1"), FIRST_COMMIT_TIME + 2 * TIME_STEP);
    assert_eq!(built.info["merged"].signer.as_deref(), Some("carol"));
    assert!(built.info["merged"].merge);
    assert_eq!(git_ok(&built, &["status", "--porcelain"]), "");
    check_repository(&built, None);
}

#[test]
fn signing_options() {
    let gpg = GpgHome::new();
    let built = support::build_scenario_text(
        r#"
        commit plain alice
        commit sha1 bob sha1
        commit sha256 carol sha256
        commit md5 alice md5
        commit text alice text
        commit two alice two-sigs
        commit also alice also:bob also:carol
        commit text-two carol text two-sigs sha256
        commit raw raw "not a signature\nat all"
        "#,
    );
    check_repository(&built, Some(&gpg));
    let repo = built.repo();
    let (sig, _) = repo.extract_signature(&built.oid("raw"), None).unwrap();
    assert_eq!(&*sig, b"not a signature\nat all");
    assert_eq!(built.info["also"].options, ["also:bob", "also:carol"]);
}

#[test]
fn gpg_signing_uses_the_signing_subkey() {
    let built = support::build_scenario_text("commit c gpg:carol\ncommit s gpg:dave sha1\n");
    let home = built.gnupg_home().expect("a GnuPG home").to_path_buf();
    assert!(home.join("pubring.kbx").is_file());
    let mode = std::fs::metadata(&home).unwrap().permissions();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.mode() & 0o777, 0o700);
    let repo = built.repo();
    let (sig, _) = repo.extract_signature(&built.oid("c"), None).unwrap();
    let pile = PacketPile::from_bytes(&*sig).unwrap();
    let Some(Packet::Signature(s)) = pile.descendants().next() else {
        panic!("no signature")
    };
    let carol = support::key("carol");
    assert!(s
        .issuer_fingerprints()
        .any(|f| f.to_hex() == carol.signing_fpr));
    let (sig, _) = repo.extract_signature(&built.oid("s"), None).unwrap();
    let pile = PacketPile::from_bytes(&*sig).unwrap();
    let Some(Packet::Signature(s)) = pile.descendants().next() else {
        panic!("no signature")
    };
    assert_eq!(s.hash_algo(), HashAlgorithm::SHA1);
    check_repository(&built, None);
}

#[test]
fn ssh_signatures() {
    let built = support::build_scenario_text("commit s ssh\n");
    let repo = built.repo();
    let (sig, data) = repo.extract_signature(&built.oid("s"), None).unwrap();
    // ssh-keygen itself verifies it.
    let dir = tempfile::tempdir().unwrap();
    let public = std::fs::read_to_string(support::keys_dir().join("ssh_ed25519.pub")).unwrap();
    let allowed = dir.path().join("allowed");
    std::fs::write(&allowed, format!("ssh-tester@example.org {public}")).unwrap();
    let sig_file = dir.path().join("sig");
    std::fs::write(&sig_file, &*sig).unwrap();
    let mut child = Command::new("ssh-keygen")
        .args([
            "-Y",
            "verify",
            "-n",
            "git",
            "-I",
            "ssh-tester@example.org",
            "-f",
        ])
        .arg(&allowed)
        .arg("-s")
        .arg(&sig_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let out = child.wait_with_output().unwrap();
    support::assert_success(&out, "ssh-keygen -Y verify");
}

#[test]
fn keyring_commands() {
    let built = support::build_scenario_text(
        r#"
        keyring alice
        keyring other bob carol
        keyring-file other "two (certs).key" binary alice dave
        keyring-raw other "junk.key" "\x00\x01garbage"
        keyring-remove other "bob.key"
        remote-keyring upstream other
        commit first
        "#,
    );
    let repo = built.repo();
    assert!(repo.find_reference("refs/heads/other").is_err());
    assert!(repo.find_reference("refs/remotes/upstream/other").is_ok());
    let names: Vec<&String> = built.keyrings["upstream/other"].keys().collect();
    assert_eq!(names, ["carol.key", "junk.key", "two (certs).key"]);
    assert_eq!(
        built.keyrings["keyring"]["alice.key"],
        KeyringFile::Armored(vec!["alice".into()])
    );
    // Keyring branches are orphans, separate from the main history.
    let tip = repo
        .find_reference("refs/remotes/upstream/other")
        .unwrap()
        .peel_to_commit()
        .unwrap();
    let mut walk = repo.revwalk().unwrap();
    walk.push(tip.id()).unwrap();
    assert_eq!(walk.count(), 4);
    assert!(repo.merge_base(tip.id(), built.oid("first")).is_err());
    check_repository(&built, None);
}

#[test]
fn tamper_keeps_the_signature_but_breaks_it() {
    let built = support::build_scenario_text(
        "commit a alice\ncommit b alice\ntamper b b-tampered\ncommit c alice\n",
    );
    let repo = built.repo();
    let c = repo.find_commit(built.oid("c")).unwrap();
    assert_eq!(c.parent_id(0).unwrap(), built.oid("b-tampered"));
    assert_eq!(built.info["b-tampered"].tampered_from.as_deref(), Some("b"));
    check_repository(&built, Some(&GpgHome::new()));
}

#[test]
fn expectation_lines_are_kept_verbatim() {
    let built = support::build_scenario_text(
        r#"
        commit first alice
        introduction first alice   # trailing comment
        end first
        historical alice bob
        keyring-ref "origin/keyring"
        expect unauthorized first "mallory"
        expect-all unsigned first
        expectations-are-free-form 1 2 3
        "#,
    );
    let want: Vec<Vec<String>> = [
        &["introduction", "first", "alice"][..],
        &["end", "first"],
        &["historical", "alice", "bob"],
        &["keyring-ref", "origin/keyring"],
        &["expect", "unauthorized", "first", "mallory"],
        &["expect-all", "unsigned", "first"],
        &["expectations-are-free-form", "1", "2", "3"],
    ]
    .iter()
    .map(|l| l.iter().map(|s| s.to_string()).collect())
    .collect();
    assert_eq!(built.expectations, want);
    assert_eq!(built.expectations_named("end").len(), 1);
}

#[test]
fn built_repositories_work_with_git_cli() {
    let built = support::build_scenario("authorized-merge");
    // A clone sees the same history, and new commits can be made.
    let target = built.dir.path().join("clone");
    let out = support::git_command(built.dir.path())
        .args(["clone", "--quiet"])
        .arg(&built.path)
        .arg(&target)
        .output()
        .unwrap();
    support::assert_success(&out, "git clone");
    let head = support::git_command(&target)
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&head.stdout).trim(),
        built.oid("bob-commit").to_string()
    );
    let log = git_ok(&built, &["log", "--format=%s", "--topo-order"]);
    assert_eq!(log.lines().next(), Some("bob-commit"));
    assert!(Path::new(&built.path).join(".git").is_dir());
    let out = git_ok(&built, &["commit", "--allow-empty", "-q", "-m", "more"]);
    assert_eq!(out, "");
    let _: BTreeMap<(), ()> = BTreeMap::new();
}

// The consistency checks of the expectation lines do catch mistakes.

#[test]
#[should_panic(expected = "N counts the commits after the introduction")]
fn wrong_commit_count_is_caught() {
    let built = support::build_scenario_text(
        "keyring alice\nauthorize alice\ncommit first alice\ncommit second alice\n\
         introduction first alice\nexpect authentic 3\n",
    );
    check_expectations(&built);
}

#[test]
#[should_panic(expected = "is authorized by every parent")]
fn wrong_unauthorized_expectation_is_caught() {
    let built = support::build_scenario_text(
        "keyring alice bob\nauthorize alice bob\ncommit first alice\ncommit second bob\n\
         introduction first alice\nexpect unauthorized second bob\n",
    );
    check_expectations(&built);
}
