//! The fast verification engine (OpenSSL arithmetic for RSA and DSA,
//! ed25519-dalek for Ed25519, per-key tables for DSA and Ed25519) must
//! give sequoia's own verdict on every signature: on every commit of the
//! GNU Guix and nonguix histories when their snapshots are present, and on
//! signatures made here with unusual keys, every hash, and corruptions.
//! Every signature is also verified by each library's own call alone
//! ([`Engine::Plain`]), to compare the tables with (`openpgp/dsa.rs` and
//! `openpgp/ed25519.rs` have the edge cases).

//!
//! Unit tests: the engine is no public API (see `crate::fuzzing`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, SystemTime};

use git2::{Oid, Repository, Sort};
use rayon::prelude::*;
use sequoia_openpgp as openpgp;

use openpgp::packet::signature::SignatureBuilder;
use openpgp::packet::Signature;
use openpgp::parse::Parse;
use openpgp::serialize::Marshal;
use openpgp::types::{HashAlgorithm, PublicKeyAlgorithm, SignatureType};

use super::Engine;
use crate::{CommitSignature, Keyring, KeyringKey, SignatureError};

/// The integration tests' fixed keys (`test-repos/keys/`).
#[path = "../../../../tests/support/keys.rs"]
#[allow(dead_code)]
mod support;

/// Where `support` finds `test-repos/`.
fn manifest_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// A clone of a real channel, from the environment variable `var`; the
/// tests that read one are ignored by default, and fail without it.
fn snapshot(var: &str) -> Repository {
    let path = std::env::var_os(var).unwrap_or_else(|| {
        panic!("{var} is not set: this test needs a clone of the channel with its keyring branch")
    });
    Repository::open(path).unwrap()
}

/// The verdict of one engine, comparable across engines.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Good(String),
    Refused(&'static str),
}

fn verdict(result: Result<&KeyringKey, SignatureError>) -> Verdict {
    match result {
        Ok(key) => Verdict::Good(key.fingerprint().to_hex()),
        Err(SignatureError::Unsigned) => Verdict::Refused("unsigned"),
        Err(SignatureError::Malformed(_)) => Verdict::Refused("malformed-signature"),
        Err(SignatureError::MissingKey(_)) => Verdict::Refused("missing-key"),
        Err(SignatureError::Bad { .. }) => Verdict::Refused("bad-signature"),
        Err(e) => panic!("could not check: {e}"),
    }
}

/// What [`compare_history`] compared.
struct Compared {
    /// DSA-signed commits.
    dsa_commits: usize,
    /// Keys that got tables (DSA or Ed25519).
    tables: usize,
}

/// Every commit from the introduction to master, by the three engines.
fn compare_history(repo: Repository, introduction: &str) -> Compared {
    let keyring_ref = if repo.find_reference("refs/heads/keyring").is_ok() {
        "keyring"
    } else {
        "origin/keyring"
    };
    let keyring = Keyring::load(&repo, keyring_ref).unwrap();
    let mut walk = repo.revwalk().unwrap();
    walk.set_sorting(Sort::NONE).unwrap();
    walk.push(repo.revparse_single("master").unwrap().id())
        .unwrap();
    walk.hide(Oid::from_str(introduction).unwrap()).unwrap();
    let commits: Vec<Oid> = walk.map(Result::unwrap).collect();
    let path = repo.path().to_path_buf();
    let dsa_commits = AtomicUsize::new(0);
    let mismatches: Vec<String> = commits
        .par_chunks(2048)
        .flat_map_iter(|chunk| {
            let repo = Repository::open(&path).unwrap();
            chunk
                .iter()
                .filter_map(|&id| {
                    let signature = CommitSignature::read(&repo, id).ok()?;
                    let fast = verdict(signature.verify_with(&keyring, Engine::Fastest));
                    let reference = verdict(signature.verify_with(&keyring, Engine::Sequoia));
                    let plain = verdict(signature.verify_with(&keyring, Engine::Plain));
                    #[allow(deprecated)]
                    if signature.packet().pk_algo() == PublicKeyAlgorithm::DSA {
                        dsa_commits.fetch_add(1, Relaxed);
                    }
                    (fast != reference || plain != reference).then(|| {
                        format!("{id}: fast {fast:?}, plain {plain:?}, sequoia {reference:?}")
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} of {} commits differ:\n{}",
        mismatches.len(),
        commits.len(),
        mismatches.join("\n")
    );
    let compared = Compared {
        dsa_commits: dsa_commits.into_inner(),
        tables: keyring.table_budget().tables_built(),
    };
    eprintln!(
        "{} commits: the three engines agree ({} DSA-signed; {} keys got tables, {} KiB)",
        commits.len(),
        compared.dsa_commits,
        compared.tables,
        keyring.table_budget().used() >> 10
    );
    compared
}

#[test]
#[ignore = "needs GIT_AUTHENTICATE_GUIX (a clone of GNU Guix with its keyring branch)"]
fn engines_agree_on_the_whole_guix_history() {
    let repo = snapshot("GIT_AUTHENTICATE_GUIX");
    let compared = compare_history(repo, "9edb3f66fd807b096b48283debdcddccfea34bad");
    // About 4,800 DSA-signed commits and 19,000 Ed25519-signed ones, by a
    // few keys: the tables were used.
    assert!(compared.dsa_commits > 4000, "{}", compared.dsa_commits);
    assert!(compared.tables > 3, "{}", compared.tables);
}

#[test]
#[ignore = "needs GIT_AUTHENTICATE_NONGUIX (a clone of nonguix with its keyring branch)"]
fn engines_agree_on_the_whole_nonguix_history() {
    let repo = snapshot("GIT_AUTHENTICATE_NONGUIX");
    compare_history(repo, "897c1a470da759236cc11798f4e0a5f7d4d59fbc");
}

/// A commit-like object carrying `signature` over `data`, verified by both
/// engines against a keyring of every test key (and by each library's own
/// call, which must give sequoia's verdict too: it differs from the
/// fastest engine only for keys with tables, and RSA).
fn both_engines(keyring: &Keyring, data: &[u8], signature: &Signature) -> (Verdict, Verdict) {
    let mut armored = Vec::new();
    {
        let mut writer =
            openpgp::armor::Writer::new(&mut armored, openpgp::armor::Kind::Signature).unwrap();
        openpgp::Packet::from(signature.clone())
            .serialize(&mut writer)
            .unwrap();
        writer.finalize().unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init_bare(dir.path()).unwrap();
    // The signature goes at the end of the header, as git puts it.
    let header_end = data.windows(2).position(|w| w == b"\n\n").unwrap() + 1;
    let mut raw = data[..header_end].to_vec();
    raw.extend_from_slice(b"gpgsig ");
    let text = String::from_utf8(armored).unwrap();
    raw.extend_from_slice(text.trim_end().replace('\n', "\n ").as_bytes());
    raw.extend_from_slice(b"\n");
    raw.extend_from_slice(&data[header_end..]);
    let id = repo
        .odb()
        .unwrap()
        .write(git2::ObjectType::Commit, &raw)
        .unwrap();
    let signature = CommitSignature::read(&repo, id).unwrap();
    let fast = verdict(signature.verify_with(keyring, Engine::Fastest));
    let reference = verdict(signature.verify_with(keyring, Engine::Sequoia));
    let plain = verdict(signature.verify_with(keyring, Engine::Plain));
    assert_eq!(
        plain, reference,
        "the libraries' own calls and sequoia differ"
    );
    (fast, reference)
}

/// Signs and verifies enough with each DSA and Ed25519 test key that the
/// fast engine gives them their tables.
#[cfg(feature = "fast-verify")]
fn with_tables(keyring: &Keyring) {
    use crate::openpgp::{dsa, ed25519};
    let keys = [
        ("erin", dsa::THRESHOLD),
        ("grace", dsa::THRESHOLD),
        ("ivan", dsa::THRESHOLD),
        ("alice", ed25519::THRESHOLD),
        ("carol", ed25519::THRESHOLD),
    ];
    for (key, threshold) in keys {
        for i in 0..threshold {
            let data = signed_data(&format!("{key} warms its tables: {i}"));
            let signature = sign(key, HashAlgorithm::SHA256, &data, in_2021());
            let (fast, reference) = both_engines(keyring, &data, &signature);
            assert_eq!(fast, reference, "{key}");
        }
    }
    assert_eq!(keyring.table_budget().tables_built(), keys.len());
}

const ALL_KEYS: [&str; 10] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "henry", "ivan", "mallory",
];

fn test_keyring() -> Keyring {
    let files: Vec<(String, Vec<u8>)> = ALL_KEYS
        .iter()
        .map(|k| (format!("{k}.key"), support::key(k).armored_public()))
        .collect();
    Keyring::from_files(
        "keyring",
        files.iter().map(|(n, c)| (n.as_str(), c.as_slice())),
    )
    .unwrap()
}

/// The data a signature in `both_engines` covers: the object without its
/// `gpgsig` header.
fn signed_data(message: &str) -> Vec<u8> {
    let who = "A <a@example.org> 1600000000 +0000";
    format!(
        "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor {who}\ncommitter {who}\n\n{message}\n"
    )
    .into_bytes()
}

fn sign(key_name: &str, hash: HashAlgorithm, data: &[u8], created: SystemTime) -> Signature {
    let mut signer = support::key(key_name).signing_keypair();
    SignatureBuilder::new(SignatureType::Binary)
        .set_hash_algo(hash)
        .set_signature_creation_time(created)
        .unwrap()
        .sign_message(&mut signer, data)
        .unwrap()
}

fn in_2021() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_609_459_200)
}

#[test]
fn engines_agree_on_unusual_keys_and_every_hash() {
    let keyring = test_keyring();
    let hashes = [
        HashAlgorithm::SHA1,
        HashAlgorithm::SHA224,
        HashAlgorithm::SHA256,
        HashAlgorithm::SHA384,
        HashAlgorithm::SHA512,
    ];
    for key in [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "henry", "ivan",
    ] {
        for hash in hashes {
            let data = signed_data(&format!("{key} {hash}"));
            let signature = sign(key, hash, &data, in_2021());
            let (fast, reference) = both_engines(&keyring, &data, &signature);
            assert_eq!(fast, reference, "{key} {hash}");
            assert_eq!(
                fast,
                Verdict::Good(support::key(key).signing_fpr.clone()),
                "{key} {hash}"
            );
        }
    }
}

#[test]
fn engines_agree_on_corrupted_signatures() {
    let keyring = test_keyring();
    // The DSA and Ed25519 signatures below then go through the tables.
    #[cfg(feature = "fast-verify")]
    with_tables(&keyring);
    for key in [
        "alice", "bob", "dave", "erin", "frank", "grace", "henry", "ivan",
    ] {
        let data = signed_data(key);
        let signature = sign(key, HashAlgorithm::SHA256, &data, in_2021());
        // The data changed after signing.
        let (fast, reference) = both_engines(&keyring, &signed_data("changed"), &signature);
        assert_eq!(
            (&fast, &reference),
            (
                &Verdict::Refused("bad-signature"),
                &Verdict::Refused("bad-signature")
            ),
            "{key}"
        );
        // Every bit of the signature's key material flipped in turn (a
        // sample of positions, to keep the test quick).
        let mut packet = Vec::new();
        openpgp::Packet::from(signature.clone())
            .serialize(&mut packet)
            .unwrap();
        let mpis_start = packet.len() - mpis_len(&signature);
        for position in (mpis_start..packet.len()).step_by(7) {
            for bit in [0, 3, 7] {
                let mut corrupted = packet.clone();
                corrupted[position] ^= 1 << bit;
                let Ok(openpgp::Packet::Signature(corrupted)) =
                    openpgp::Packet::from_bytes(&corrupted)
                else {
                    continue;
                };
                let (fast, reference) = both_engines(&keyring, &data, &corrupted);
                assert_eq!(fast, reference, "{key}: byte {position} bit {bit}");
            }
        }
    }
}

/// Length of the signature's MPIs at the end of its serialized packet.
fn mpis_len(signature: &Signature) -> usize {
    let mut mpis = Vec::new();
    signature.mpis().serialize(&mut mpis).unwrap();
    mpis.len()
}

#[test]
fn engines_agree_on_signatures_older_than_their_key_and_foreign_keys() {
    let keyring = test_keyring();
    for key in ["alice", "bob", "erin", "frank", "henry"] {
        let data = signed_data(key);
        // Keys were made on 2020-01-01: a signature dated 2019 predates it.
        // Guix does not look at signature times: both engines accept it,
        // and a signature without a creation time.
        let old = sign(
            key,
            HashAlgorithm::SHA512,
            &data,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_546_300_800),
        );
        let undated = SignatureBuilder::new(SignatureType::Binary)
            .set_hash_algo(HashAlgorithm::SHA512)
            .suppress_signature_creation_time()
            .unwrap()
            .sign_message(&mut support::key(key).signing_keypair(), &data)
            .unwrap();
        assert!(undated.signature_creation_time().is_none());
        for signature in [old, undated] {
            let (fast, reference) = both_engines(&keyring, &data, &signature);
            assert_eq!(fast, reference, "{key}");
            assert_eq!(
                fast,
                Verdict::Good(support::key(key).signing_fpr.clone()),
                "{key}"
            );
        }
    }
    // The issuer subpackets claim bob (RSA) but dave (RSA) signed: neither
    // engine accepts, and neither names dave.
    let data = signed_data("impostor");
    let bob = support::key("bob").cert;
    let impostor = SignatureBuilder::new(SignatureType::Binary)
        .set_signature_creation_time(in_2021())
        .unwrap()
        .set_issuer_fingerprint(bob.fingerprint())
        .unwrap()
        .set_issuer(bob.keyid())
        .unwrap()
        .sign_message(&mut support::key("dave").signing_keypair(), &data)
        .unwrap();
    let (fast, reference) = both_engines(&keyring, &data, &impostor);
    assert_eq!(fast, reference);
    assert_eq!(fast, Verdict::Refused("bad-signature"));
}
