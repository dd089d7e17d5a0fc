//! Signatures and the keyring exactly as GNU Guix reads them, with real
//! `gpg` and Sequoia signatures:
//!
//! - `string->openpgp-packet` (guix/openpgp.scm) decodes the first armor
//!   block and reads its first packet only: packets after it are ignored,
//!   and a first packet that is not a signature is refused;
//! - `verify-openpgp-signature` never looks at the signature's creation
//!   time: a signature older than its key, or without a creation time,
//!   verifies (the strict policy refuses both, with readable dates);
//! - `load-keyring-from-reference` (guix/git-authenticate.scm) loads every
//!   `.key` entry of `tree-list`, subdirectories included, from a branch
//!   found by `branch-lookup … BRANCH-ALL`;
//! - a text-mode signature, on which Guix crashes, is refused cleanly;
//! - hints are chosen from the errors' data.

use crate::support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use git_authenticate::git2::{Oid, Repository};
use git_authenticate::{
    CommitSignature, Error, Failure, Keyring, KeyringError, Options, Policy, PolicyRefusal, Report,
    SignatureProblem,
};
use sequoia_openpgp as openpgp;

use openpgp::packet::signature::SignatureBuilder;
use openpgp::serialize::Serialize;
use openpgp::types::SignatureType;
use support::expect::{check, fingerprint, run_from_first};
use support::objects::{self, Person, TreeEntry};
use support::{build_scenario_text, key, Built, GpgHome, Home};

/// 2017-07-14T02:40:00Z: before the test keys were made (2020-01-01).
const BEFORE_THE_KEYS: i64 = 1_500_000_000;

// ---------------------------------------------------------------------------
// Helpers.

/// Makes a commit on top of `parent` (its tree plus the file `name`),
/// signed as git signs (`sign` gets the commit buffer and returns the
/// ASCII-armored signature), and moves `master` to it.
fn signed_child(
    built: &Built,
    parent: &str,
    name: &str,
    sign: impl FnOnce(&[u8]) -> String,
) -> Oid {
    let content = format!("{name}\n");
    signed_child_writing(built, parent, (name, content.as_bytes()), sign)
}

/// [`signed_child`] writing `(path, content)`; `parent` is a label or a
/// commit id.
fn signed_child_writing(
    built: &Built,
    parent: &str,
    (name, content): (&str, &[u8]),
    sign: impl FnOnce(&[u8]) -> String,
) -> Oid {
    let mut repo = built.repo();
    let parent = Oid::from_str(parent).unwrap_or_else(|_| built.oid(parent));
    let base = repo.find_commit(parent).unwrap().tree_id();
    let tree = objects::changed_tree(&mut repo, base, &[(name, Some(content))]).unwrap();
    let buffer = objects::commit_buffer(tree, &[parent], &AT_1_700_000_000, &format!("{name}\n"));
    let signature = sign(buffer.as_bytes());
    let signature = signature.strip_suffix('\n').unwrap_or(&signature);
    let id = objects::commit(&mut repo, &buffer, Some(("gpgsig", signature))).unwrap();
    objects::set_branch(&repo, "master", id).unwrap();
    id
}

/// The scenarios' author, at 2023-11-14T22:13:20Z.
const AT_1_700_000_000: Person = Person {
    name: support::builder::AUTHOR_NAME,
    email: support::builder::AUTHOR_EMAIL,
    time: 1_700_000_000,
};

/// Authenticates from `first` (alice) up to `end`.
fn authenticate_to(built: &Built, end: Oid, policy: Policy) -> Result<Report, Error> {
    run_from_first(
        built,
        end,
        &Options {
            policy,
            ..Options::default()
        },
    )
}

/// `key`'s Sequoia signature over `data`, made by `builder`.
fn sequoia_packet(key_name: &str, data: &[u8], builder: SignatureBuilder) -> Vec<u8> {
    let sig = builder
        .sign_message(&mut key(key_name).signing_keypair(), data)
        .unwrap();
    let mut packet = Vec::new();
    openpgp::Packet::from(sig).serialize(&mut packet).unwrap();
    packet
}

/// A binary-document signature by `key_name` over `data`, made at `time`.
fn sequoia_binary(key_name: &str, data: &[u8], time: i64) -> Vec<u8> {
    let at = std::time::UNIX_EPOCH + Duration::from_secs(time as u64);
    let builder = SignatureBuilder::new(SignatureType::Binary)
        .set_signature_creation_time(at)
        .unwrap();
    sequoia_packet(key_name, data, builder)
}

/// `packets` in one ASCII armor block, with its checksum.
fn armor(packets: &[u8]) -> String {
    crate::github_encodings::armor(packets, openpgp::armor::Kind::Signature)
}

/// The packets inside an ASCII-armored signature.
pub(crate) fn dearmor(armored: &str) -> Vec<u8> {
    let mut reader = openpgp::armor::Reader::from_bytes(
        armored.as_bytes(),
        openpgp::armor::ReaderMode::Tolerant(None),
    );
    let mut packets = Vec::new();
    std::io::Read::read_to_end(&mut reader, &mut packets).unwrap();
    packets
}

/// The real gpg signing `data` as git does, by `key_name`'s primary key, with
/// the clock at `time` and `extra` options.
fn gpg_sign(home: &GpgHome, key_name: &str, data: &[u8], time: i64, extra: &[&str]) -> String {
    let file = tempfile::NamedTempFile::new_in(home.path()).unwrap();
    std::fs::write(file.path(), data).unwrap();
    let out = home
        .command()
        .arg("--faked-system-time")
        .arg(format!("{time}!"))
        .args(extra)
        .args(["--status-fd=2", "-bsa", "-o", "-", "-u"])
        .arg(key(key_name).primary_fpr)
        .arg(file.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&out.stderr);
    assert!(status.contains("SIG_CREATED"), "gpg did not sign: {status}");
    String::from_utf8(out.stdout).unwrap()
}

/// The small history of most tests: alice authorized and introduced by
/// `first`; mallory in the keyring too, not authorized.
fn alice_history() -> Built {
    build_scenario_text(
        r#"
        keyring alice mallory
        authorize alice
        commit first alice
        "#,
    )
}

/// alice, signing with one signer of a test (`sequoia` or the real `gpg`),
/// and a fresh `alice_history` to sign on.
struct Alice {
    signer: &'static str,
    home: Option<GpgHome>,
    built: Built,
}

impl Alice {
    /// alice's signature over `data` made at `time`, as packets.
    fn packets(&self, data: &[u8], time: i64) -> Vec<u8> {
        match &self.home {
            None => sequoia_binary("alice", data, time),
            Some(home) => dearmor(&gpg_sign(
                home,
                "alice",
                data,
                time,
                &["--ignore-time-conflict"],
            )),
        }
    }
}

/// alice with each signer of a test: Sequoia and the real gpg.
fn alice_signers() -> [Alice; 2] {
    ["sequoia", "gpg"].map(|signer| Alice {
        signer,
        home: (signer == "gpg").then(GpgHome::new),
        built: alice_history(),
    })
}

fn malformed_reason(result: Result<Report, Error>) -> SignatureProblem {
    match result.as_ref().map_err(Error::failure) {
        Err(Some(Failure::MalformedSignature { reason, .. })) => reason.clone(),
        _ => panic!("expected a malformed signature, got {result:?}"),
    }
}

// ---------------------------------------------------------------------------
// 1. The first packet is the signature.

/// Whatever follows the first signature packet is ignored, as
/// `string->openpgp-packet` reads one packet: another signature (of other
/// data, by an unauthorized key), a user ID, garbage, a truncated packet.
#[test]
fn packets_after_the_first_signature_are_ignored() {
    for alice in alice_signers() {
        let (signer, built) = (alice.signer, &alice.built);
        let other = sequoia_binary("mallory", b"other data", 1_700_000_000);
        let tails: [(&str, Vec<u8>); 4] = [
            ("another signature", other.clone()),
            ("a user ID", user_id_packet()),
            ("garbage", b"\xff\xfe garbage".to_vec()),
            ("a truncated packet", other[..other.len() / 2].to_vec()),
        ];
        for (what, tail) in tails {
            let name = format!("{signer} then {what}");
            let end = signed_child(built, "first", &name, |data| {
                let mut packets = alice.packets(data, 1_700_000_000);
                packets.extend(&tail);
                armor(&packets)
            });
            let report =
                authenticate_to(built, end, Policy::Guix).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(report.is_authentic(), "{name}");
            assert_eq!(report.signers, vec![(fingerprint("alice"), 1)], "{name}");
        }
    }
}

/// The first packet must be the signature: a user ID (or a marker)
/// before a valid signature is refused, as Guix then fails.
#[test]
fn a_first_packet_that_is_not_a_signature_is_refused() {
    for alice in alice_signers() {
        let (signer, built) = (alice.signer, &alice.built);
        for (what, head, tag) in [
            ("a user ID", user_id_packet(), 13),
            ("a marker", vec![0xca, 0x03, b'P', b'G', b'P'], 10),
        ] {
            let end = signed_child(built, "first", what, |data| {
                let mut packets = head.clone();
                packets.extend(alice.packets(data, 1_700_000_000));
                armor(&packets)
            });
            let error = authenticate_to(built, end, Policy::Guix).unwrap_err();
            assert_eq!(error.commit(), Some(end), "{signer}, {what}: {error}");
            assert!(error.is_authentication_failure());
            assert_eq!(
                malformed_reason(Err(error)),
                SignatureProblem::NotASignature { tag },
                "{signer}, {what}"
            );
        }
    }
}

fn user_id_packet() -> Vec<u8> {
    let mut packet = Vec::new();
    openpgp::Packet::from(openpgp::packet::UserID::from("Alice"))
        .serialize(&mut packet)
        .unwrap();
    packet
}

/// `gpg -u A -u B` and Sequoia alike: the first signer is the signer, so
/// an authorized first signer passes, an unauthorized one is named.
#[test]
fn two_signers_count_as_the_first() {
    let mut text = String::from(
        r#"
        keyring alice dave mallory
        authorize alice dave
        commit first alice
        write a.txt "A\n"
        commit alice-first alice also:mallory
        write b.txt "B\n"
        commit mallory-first mallory also:alice
        "#,
    );
    text.push_str(
        r#"
        reset first
        write c.txt "C\n"
        commit dave-first gpg:dave also:mallory
        write d.txt "D\n"
        commit mallory-first-by-gpg gpg:mallory also:dave
        "#,
    );
    let ends = [
        ("mallory-first", "alice-first"),
        ("mallory-first-by-gpg", "dave-first"),
    ];
    let built = build_scenario_text(&text);
    for (refused, accepted) in ends {
        let report = authenticate_to(&built, built.oid(accepted), Policy::Guix).unwrap();
        assert!(report.is_authentic(), "{accepted}");
        match authenticate_to(&built, built.oid(refused), Policy::Guix)
            .as_ref()
            .map_err(Error::failure)
        {
            Err(Some(Failure::Unauthorized {
                commit,
                fingerprint: signer,
                ..
            })) => {
                assert_eq!(*commit, built.oid(refused));
                assert_eq!(*signer, fingerprint("mallory"), "{refused}");
            }
            other => panic!("{refused}: expected unauthorized mallory, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// 2. Signature creation times are not Guix's business.

/// A signature made before its key was created (a wrong clock): Guix
/// verifies it; the strict policy refuses it, printing both dates.
#[test]
fn a_signature_older_than_its_key() {
    for alice in alice_signers() {
        let (signer, built) = (alice.signer, &alice.built);
        let end = signed_child(built, "first", "old", |data| {
            armor(&alice.packets(data, BEFORE_THE_KEYS))
        });
        let report = authenticate_to(built, end, Policy::Guix).unwrap();
        assert!(report.is_authentic(), "{signer}");
        let error = authenticate_to(built, end, Policy::Strict).unwrap_err();
        let Some(Failure::PolicyViolation { reason, .. }) = error.failure() else {
            panic!("{signer}: expected a policy violation, got {error:?}");
        };
        assert!(
            matches!(reason, PolicyRefusal::PredatesKey { .. }),
            "{signer}: {reason:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("made 2017-07-14 02:40:00 UTC")
                && message.contains("created 2020-01-01 00:00:00 UTC")
                && !message.contains("SystemTime"),
            "{signer}: {message}"
        );
        let hint = error.hint().unwrap();
        assert!(hint.contains("dated before its key"), "{signer}: {hint}");
    }
}

/// The same through the binary: exit 1 with `--policy=strict`, readable
/// dates, 0 without.
#[test]
fn a_signature_older_than_its_key_through_the_binary() {
    let built = alice_history();
    signed_child(&built, "first", "old", |data| {
        armor(&sequoia_binary("alice", data, BEFORE_THE_KEYS))
    });
    let intro = [
        built.oid("first").to_string(),
        key("alice").signing_fpr_spaced(),
    ];
    let run = |extra: &[&str]| {
        let home = Home::new();
        let out = binary(&home, &built.path)
            .args(&intro)
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--policy=strict"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("2017-07-14 02:40:00 UTC"), "{err}");
    assert!(
        !err.contains("SystemTime") && !err.contains("tv_sec"),
        "{err}"
    );
    let (code, err) = run(&[]);
    assert_eq!(code, Some(0), "{err}");
}

/// A signature without a creation-time subpacket (gpg always writes one;
/// Sequoia can omit it): Guix verifies it, the strict policy refuses it.
#[test]
fn a_signature_without_a_creation_time() {
    let built = alice_history();
    let end = signed_child(&built, "first", "undated", |data| {
        let builder = SignatureBuilder::new(SignatureType::Binary)
            .suppress_signature_creation_time()
            .unwrap();
        armor(&sequoia_packet("alice", data, builder))
    });
    let report = authenticate_to(&built, end, Policy::Guix).unwrap();
    assert!(report.is_authentic());
    match authenticate_to(&built, end, Policy::Strict)
        .as_ref()
        .map_err(Error::failure)
    {
        Err(Some(Failure::PolicyViolation {
            reason: PolicyRefusal::NoCreationTime,
            ..
        })) => {}
        other => panic!("expected no creation time, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// 3. The keyring: the whole tree of a branch.

/// Key files in subdirectories count (armored and binary), as `tree-list`
/// lists the whole tree; the keyring here is on `master`, as in Guix's
/// own tests.
#[test]
fn key_files_in_subdirectories_count() {
    let mut text = String::from(
        r#"
        write-key keys/people/alice.key armored alice
        write-key "deep/a b/c/(d)/bob.key" binary bob
        authorize alice bob dave
        commit first alice
        write a.txt "A\n"
        commit by-bob bob
        "#,
    );
    text.push_str(
        r#"
        write-key keys/gpg/dave.key armored dave
        commit add-dave alice
        write b.txt "B\n"
        commit by-dave gpg:dave
        "#,
    );
    text.push_str("introduction first alice\nkeyring-ref master\nexpect authentic 3\n");
    let built = check("key files in subdirectories", &text);
    let keyring = Keyring::load(&built.repo(), "master").unwrap();
    let bob = fingerprint("bob");
    assert_eq!(
        keyring.by_fingerprint(&bob)[0].file(),
        "deep/a b/c/(d)/bob.key"
    );
}

/// A `.key` entry that is a directory or a submodule: Guix's
/// `blob-lookup` fails on it, so the keyring cannot be loaded; a symbolic
/// link is read as the blob it is (its target text: not a key).
#[test]
fn key_entries_that_are_not_files() {
    for (command, kind) in [
        ("mkdir-file keys/x.key", Some("directory")),
        (
            "gitlink keys/x.key 0123456789012345678901234567890123456789",
            Some("submodule"),
        ),
        (r#"symlink keys/x.key "alice.key""#, None),
    ] {
        let text = format!(
            r#"
            write-key alice.key armored alice
            {command}
            authorize alice
            commit first alice
            write a.txt "A\n"
            commit second alice
            "#
        );
        let built = build_scenario_text(&text);
        let error = Keyring::load(&built.repo(), "master").unwrap_err();
        assert_eq!(error.kind(), "malformed-key", "{command}: {error}");
        match (&error, kind) {
            (KeyringError::KeyNotAFile { file, kind, .. }, Some(expected)) => {
                assert_eq!((file.as_str(), *kind), ("keys/x.key", expected));
                assert!(error.hint().unwrap().contains("keys/x.key"));
            }
            (KeyringError::MalformedKey { file, .. }, None) => assert_eq!(file, "keys/x.key"),
            _ => panic!("{command}: {error:?}"),
        }
        let options = Options {
            keyring_reference: "master".into(),
            ..Options::default()
        };
        let result = run_from_first(&built, built.oid("second"), &options);
        assert_eq!(result.unwrap_err().kind(), "malformed-key", "{command}");
    }
}

/// Keyring files read as Guix's `get-openpgp-keyring` reads them: a
/// subkey before any primary key is skipped, and a secret key packet (which
/// Guix's `get-packet` cannot read) makes the file malformed.
#[test]
fn key_files_are_read_as_guix_reads_them() {
    let carol = key("carol");
    let packets: Vec<openpgp::Packet> = carol
        .cert
        .clone()
        .strip_secret_key_material()
        .into_packets()
        .collect();
    let serialize = |packets: &[openpgp::Packet]| {
        let mut out = Vec::new();
        for packet in packets {
            packet.serialize(&mut out).unwrap();
        }
        out
    };
    let subkey_at = packets
        .iter()
        .position(|p| matches!(p, openpgp::Packet::PublicSubkey(_)))
        .unwrap();
    let subkey = fingerprint("carol");
    let whole = serialize(&packets);
    let alone = serialize(&packets[subkey_at..]);
    let load = |contents: &[u8]| Keyring::from_files("keyring", [("carol.key", contents)]);
    assert_eq!(load(&whole).unwrap().by_fingerprint(&subkey).len(), 1);
    assert!(load(&alone).unwrap().by_fingerprint(&subkey).is_empty());
    let mut secret = Vec::new();
    carol.cert.as_tsk().serialize(&mut secret).unwrap();
    match load(&secret) {
        Err(KeyringError::MalformedKey { file, .. }) => assert_eq!(file, "carol.key"),
        other => panic!("expected a malformed key, got {other:?}"),
    }
}

/// A keyring branch whose only commit has `tree` as its root.
fn keyring_branch(repo: &mut Repository, tree: Oid) {
    let who = Person {
        name: "K",
        email: "k@example.org",
        time: 1_700_000_000,
    };
    let commit = objects::commit(
        repo,
        &objects::commit_buffer(tree, &[], &who, "keys\n"),
        None,
    );
    objects::set_branch(repo, "keyring", commit.unwrap()).unwrap();
}

/// A tree holding `entries` (mode, name, id).
fn tree_of(repo: &mut Repository, entries: &[TreeEntry]) -> Oid {
    objects::tree(repo, entries).unwrap()
}

/// Hostile keyring trees are refused quickly, without recursion: nested
/// 1,000 levels deep, or listing the same subtree of 3,000 entries under
/// 400 names (1.2 million entries in 100 kilobytes of trees).
#[test]
fn hostile_keyring_trees_are_bounded() {
    let built = alice_history();
    let mut repo = built.repo();
    let alice = objects::blob(&mut repo, &key("alice").armored_public()).unwrap();
    let mut deep = tree_of(&mut repo, &[(objects::FILE, "alice.key".into(), alice)]);
    for _ in 0..1000 {
        deep = tree_of(&mut repo, &[(objects::DIRECTORY, "d".into(), deep)]);
    }
    let wide_leaf: Vec<TreeEntry> = (0..3000)
        .map(|i| (objects::FILE, format!("k{i}"), alice))
        .collect();
    let leaf = tree_of(&mut repo, &wide_leaf);
    let wide: Vec<TreeEntry> = (0..400)
        .map(|i| (objects::DIRECTORY, format!("d{i}"), leaf))
        .collect();
    let wide = tree_of(&mut repo, &wide);
    for (what, tree, limit) in [("deep", deep, "nested deeper"), ("wide", wide, "entries")] {
        keyring_branch(&mut repo, tree);
        let started = Instant::now();
        match Keyring::load(&repo, "keyring") {
            Err(e @ KeyringError::TooLarge { .. }) => {
                assert!(e.to_string().contains(limit), "{what}: {e}")
            }
            other => panic!("{what}: expected too large, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{what}");
    }
}

/// The keyring branch is found as `branch-lookup` with `BRANCH-ALL` finds
/// it: a local or remote-tracking branch (a full branch name is also
/// accepted), not a tag nor a commit id; and it must point directly at a
/// commit (Guix's `commit-lookup` of its target), not through a symbolic
/// reference nor an annotated tag.
#[test]
fn the_keyring_branch_is_found_as_guix_finds_it() {
    let built = build_scenario_text(
        r#"
        keyring alice
        keyring other alice
        authorize alice
        commit first alice
        "#,
    );
    let mut repo = built.repo();
    let tip = repo.refname_to_id("refs/heads/keyring").unwrap();
    // References only, made here: scenario tags name labelled commits, and
    // a keyring tip has no label.
    repo.reference("refs/remotes/origin/keys", tip, true, "test")
        .unwrap();
    repo.reference("refs/tags/tagged-keys", tip, true, "test")
        .unwrap();
    for found in [
        "keyring",
        "origin/keys",
        "refs/heads/keyring",
        "refs/remotes/origin/keys",
    ] {
        let keyring = Keyring::load(&repo, found).unwrap();
        assert_eq!(keyring.len(), 1, "{found}");
        assert_eq!(keyring.source().unwrap().commit, tip, "{found}");
    }
    for missing in [
        "tagged-keys",
        "refs/tags/tagged-keys",
        &tip.to_string(),
        "HEAD",
    ] {
        match Keyring::load(&repo, missing) {
            Err(KeyringError::NotFound { reference, .. }) => assert_eq!(reference, missing),
            other => panic!("{missing}: expected not found, got {other:?}"),
        }
    }
    // A symbolic branch, and a branch pointing at an annotated tag: kept
    // here, the builder makes neither on purpose.
    repo.reference_symbolic("refs/heads/symbolic", "refs/heads/other", true, "test")
        .unwrap();
    let who = Person {
        name: "T",
        email: "t@example.org",
        time: 1_700_000_000,
    };
    let tag = objects::tag(&mut repo, tip, "commit", "annotated", &who, "tag\n").unwrap();
    repo.reference("refs/tags/annotated", tag, true, "test")
        .unwrap();
    objects::set_branch(&repo, "tag-branch", tag).unwrap();
    for branch in ["symbolic", "tag-branch"] {
        let error = Keyring::load(&repo, branch).unwrap_err();
        assert!(
            matches!(error, KeyringError::NotACommit { .. }),
            "{branch}: {error:?}"
        );
        assert!(error.hint().is_some(), "{branch}");
        assert!(Keyring::check_exists(&repo, branch).is_err(), "{branch}");
    }
}

// ---------------------------------------------------------------------------
// Algorithms Guix reads.

/// A hash algorithm Guix's `openpgp-hash-algorithm` does not know (SHA-3)
/// makes `get-signature` fail: refused, though sequoia could verify it.
#[test]
fn hash_algorithms_guix_does_not_know_are_refused() {
    let built = alice_history();
    let end = signed_child(&built, "first", "sha3", |data| {
        let builder = SignatureBuilder::new(SignatureType::Binary)
            .set_hash_algo(openpgp::types::HashAlgorithm::SHA3_256);
        armor(&sequoia_packet("alice", data, builder))
    });
    assert_eq!(
        malformed_reason(authenticate_to(&built, end, Policy::Guix)),
        SignatureProblem::UnsupportedHash { algorithm: 12 }
    );
}

/// An ECDSA key, in the keyring and authorized: Guix's `get-sig` does not
/// read its signatures (nor `get-key` its key), so its commits are
/// refused, though sequoia could verify them.
#[test]
fn ecdsa_signatures_are_refused() {
    let built = alice_history();
    let mut repo = built.repo();
    let (ecdsa, _) = openpgp::cert::CertBuilder::new()
        .set_cipher_suite(openpgp::cert::CipherSuite::P256)
        .add_userid("ECDSA <ecdsa@example.org>")
        .set_creation_time(
            std::time::UNIX_EPOCH + Duration::from_secs(support::keys::KEY_CREATION_TIME),
        )
        .set_primary_key_flags(
            openpgp::types::KeyFlags::empty()
                .set_certification()
                .set_signing(),
        )
        .generate()
        .unwrap();
    let mut public = Vec::new();
    ecdsa.serialize(&mut public).unwrap();
    let keys = objects::file_tree(
        &mut repo,
        &[
            ("alice.key", &key("alice").armored_public()),
            ("ecdsa.key", &public),
        ],
    )
    .unwrap();
    keyring_branch(&mut repo, keys);
    let fpr = ecdsa.fingerprint().to_hex();
    let authorizations = format!(
        "(authorizations (version 0) ((\"{}\") (\"{fpr}\")))",
        key("alice").signing_fpr
    );
    let add = signed_child_writing(
        &built,
        "first",
        (".guix-authorizations", authorizations.as_bytes()),
        |data| armor(&sequoia_binary("alice", data, 1_700_000_000)),
    );
    let end = signed_child_writing(&built, &add.to_string(), ("b.txt", b"B\n"), |data| {
        let mut signer = support::sign::primary_keypair(&ecdsa);
        let sig = SignatureBuilder::new(SignatureType::Binary)
            .sign_message(&mut signer, data)
            .unwrap();
        let mut packet = Vec::new();
        openpgp::Packet::from(sig).serialize(&mut packet).unwrap();
        armor(&packet)
    });
    assert!(authenticate_to(&built, add, Policy::Guix)
        .unwrap()
        .is_authentic());
    assert_eq!(
        malformed_reason(authenticate_to(&built, end, Policy::Guix)),
        SignatureProblem::UnsupportedAlgorithm { algorithm: 19 }
    );
}

// ---------------------------------------------------------------------------
// 4. Messages.

/// The missing-key hint says where the keyring was read from.
#[test]
fn the_missing_key_hint_names_the_keyring_read() {
    let built = support::bob_missing_from_keyring("");
    let error = authenticate_to(&built, built.oid("second"), Policy::Guix).unwrap_err();
    let Some(Failure::MissingKey { read_from, .. }) = error.failure() else {
        panic!("expected a missing key, got {error:?}");
    };
    let tip = built.repo().refname_to_id("refs/heads/keyring").unwrap();
    assert_eq!(read_from.as_ref().unwrap().commit, tip);
    let hint = error.hint().unwrap();
    assert!(
        hint.contains(&format!("refs/heads/keyring at commit {tip}"))
            && hint.contains("`.key` file to branch `keyring`"),
        "{hint}"
    );
}

/// `.guix-authorizations` hints follow the kind of error: a syntax error
/// is not told the expected shape.
#[test]
fn authorizations_hints_follow_the_error() {
    for (content, expected) in [
        (r#"(authorizations (version 0) (("ABCD""#, "syntax"),
        (
            r#"(authorizations (version 0) "oops")"#,
            "(authorizations (version 0)",
        ),
    ] {
        let text = format!(
            r#"
            keyring alice
            authorize alice
            commit first alice
            write .guix-authorizations "{}"
            commit broken alice
            write a.txt "A\n"
            commit child alice
            "#,
            content.replace('"', "\\\"")
        );
        let built = build_scenario_text(&text);
        let error = authenticate_to(&built, built.oid("child"), Policy::Guix).unwrap_err();
        assert_eq!(
            error.kind(),
            "malformed-authorizations",
            "{content}: {error}"
        );
        let hint = error.hint().unwrap();
        assert!(hint.contains(expected), "{content}: {hint}");
    }
}

// ---------------------------------------------------------------------------
// 5. Where Guix crashes: text-mode signatures.

/// A text-mode signature (type 0x01; `gpg --textmode`), on which Guix's
/// `commit-signing-key` crashes (`verify-openpgp-signature` returns
/// `unsupported-signature`): not authentic, with a typed reason and a hint.
#[test]
fn text_mode_signatures_are_refused_cleanly() {
    let mut text = String::from(
        r#"
        keyring alice
        authorize alice
        commit first alice
        write a.txt "A\n"
        commit text-mode alice text
        "#,
    );
    text.push_str(
        r#"
        reset first
        write b.txt "B\n"
        commit gpg-text-mode gpg:alice text
        "#,
    );
    let ends = ["text-mode", "gpg-text-mode"];
    let built = build_scenario_text(&text);
    for end in ends {
        let error = authenticate_to(&built, built.oid(end), Policy::Guix).unwrap_err();
        assert!(error.hint().unwrap().contains("text mode"), "{end}");
        assert!(
            error.to_string().contains("binary-document"),
            "{end}: {error}"
        );
        assert_eq!(
            malformed_reason(Err(error)),
            SignatureProblem::NotBinary { signature_type: 1 },
            "{end}"
        );
    }
}

/// A signature larger than the limit is refused before it is decoded.
#[test]
fn huge_signatures_are_refused_unread() {
    let built = alice_history();
    let end = signed_child(&built, "first", "huge", |data| {
        let mut packets = sequoia_binary("alice", data, 1_700_000_000);
        packets.extend(vec![0u8; CommitSignature::MAX_SIZE]);
        armor(&packets)
    });
    match malformed_reason(authenticate_to(&built, end, Policy::Guix)) {
        SignatureProblem::TooLarge { size } => assert!(size > CommitSignature::MAX_SIZE),
        other => panic!("expected too large, got {other:?}"),
    }
}

/// The built binary, run in `dir` with a private home.
fn binary(home: &Home, dir: &Path) -> Command {
    let mut c = home.command(dir);
    c.env("NO_COLOR", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::null());
    c
}
