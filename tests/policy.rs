//! The opt-in strict policy: what Guix's rule accepts, and strict refuses,
//! on repositories signed with keys made for each case.

use crate::support;
use support::objects::{self, Person};

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use git_authenticate::git2::{Oid, Repository};
use git_authenticate::Failure;
use git_authenticate::{
    authenticate, Authorizations, Error, Fingerprint, Introduction, NoProgress, Options, Policy,
};
use sequoia_openpgp as openpgp;

use openpgp::cert::CertBuilder;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::{Marshal, SerializeInto};
use openpgp::types::{HashAlgorithm, KeyFlags, ReasonForRevocation, SignatureType};
use openpgp::{Cert, Packet};

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

const JAN_2020: u64 = support::keys::KEY_CREATION_TIME;
const JUN_2020: u64 = 1_590_969_600;
const JAN_2022: u64 = 1_640_995_200;

/// A certificate made on 2020-01-01 whose primary key signs, valid
/// `validity` long (forever if `None`).
fn cert(name: &str, validity: Option<Duration>) -> Cert {
    CertBuilder::new()
        .set_creation_time(at(JAN_2020))
        .set_validity_period(validity)
        .set_primary_key_flags(KeyFlags::empty().set_certification().set_signing())
        .add_userid(format!("{name} <{name}@example.org>"))
        .generate()
        .unwrap()
        .0
}

/// A tiny channel: a keyring holding `keyring`, an introduction signed by
/// alice, then one commit signed by `signer` (a cert's key) at `time`.
struct Channel {
    _dir: tempfile::TempDir,
    repo: Repository,
    introduction: Introduction,
    end: Oid,
}

type SecretKey =
    openpgp::packet::Key<openpgp::packet::key::SecretParts, openpgp::packet::key::UnspecifiedRole>;

/// The armored signature of `data` by `key` (valid or not: the point is to
/// sign), without its final newline, as git stores it.
fn sign(key: &SecretKey, data: &[u8], time: u64, hash: HashAlgorithm) -> String {
    let mut signer = key.clone().into_keypair().unwrap();
    let armored = objects::binary_signature(&mut signer, data, time as i64, hash).unwrap();
    armored.trim_end().to_owned()
}

/// Alice's primary key, which signs every introduction.
fn alice_key() -> SecretKey {
    support::key("alice")
        .cert
        .primary_key()
        .key()
        .clone()
        .parts_into_secret()
        .unwrap()
        .role_into_unspecified()
}

fn signing_key(cert: &Cert) -> SecretKey {
    // The last key (the subkey, if any), valid or not: the point is to sign.
    cert.keys()
        .secret()
        .last()
        .unwrap()
        .key()
        .clone()
        .role_into_unspecified()
}

/// Builds the channel. `authorized` is what `.guix-authorizations` lists
/// (in every commit's tree unless `historical`, where no tree has the file
/// and the caller passes historical authorizations instead).
fn channel(
    keyring: &[Vec<u8>],
    signer: SecretKey,
    authorized: &[Fingerprint],
    time: u64,
    hash: HashAlgorithm,
    historical: bool,
) -> Channel {
    let dir = tempfile::tempdir().unwrap();
    let mut repo = Repository::init_bare(dir.path()).unwrap();
    let who = Person {
        name: "T",
        email: "t@example.org",
        time: time as i64,
    };
    let names: Vec<String> = (0..keyring.len()).map(|i| format!("key-{i}.key")).collect();
    let keys: Vec<(&str, &[u8])> = names
        .iter()
        .zip(keyring)
        .map(|(name, cert)| (name.as_str(), cert.as_slice()))
        .collect();
    objects::branch_of_files(&mut repo, "keyring", &keys, &who, "keys").unwrap();
    let entries: String = authorized.iter().map(|f| format!("(\"{f}\")")).collect();
    let file = format!("(authorizations (version 0) ({entries}))");
    let files: &[(&str, &[u8])] = if historical {
        &[]
    } else {
        &[(".guix-authorizations", file.as_bytes())]
    };
    let tree = objects::file_tree(&mut repo, files).unwrap();
    let mut commit = |parents: &[Oid], message: &str, key: &SecretKey, hash| {
        let buffer = objects::commit_buffer(tree, parents, &who, message);
        let signature = sign(key, buffer.as_bytes(), time, hash);
        objects::commit(&mut repo, &buffer, Some(("gpgsig", &signature))).unwrap()
    };
    let intro = commit(&[], "introduction", &alice_key(), HashAlgorithm::SHA512);
    let end = commit(&[intro], "signed by the key under test", &signer, hash);
    Channel {
        introduction: Introduction {
            commit: intro,
            signer: support::key("alice").signing_fpr.parse().unwrap(),
        },
        end,
        repo,
        _dir: dir,
    }
}

fn verdicts(
    channel: &Channel,
    historical: Authorizations,
) -> (Result<usize, Error>, Result<usize, Error>) {
    let run = |policy| {
        let options = Options {
            policy,
            historical_authorizations: historical.clone(),
            ..Options::default()
        };
        authenticate(
            &channel.repo,
            &channel.introduction,
            channel.end,
            &options,
            &NoProgress,
        )
        .map(|r| r.checked)
    };
    (run(Policy::Guix), run(Policy::Strict))
}

fn fingerprint(
    key: &openpgp::packet::Key<
        impl openpgp::packet::key::KeyParts,
        impl openpgp::packet::key::KeyRole,
    >,
) -> Fingerprint {
    key.fingerprint().to_hex().parse().unwrap()
}

fn assert_strict_refuses(guix: Result<usize, Error>, strict: Result<usize, Error>, reason: &str) {
    assert_eq!(guix.unwrap(), 1, "Guix's rule accepts it");
    match strict {
        Err(e) if matches!(e.failure(), Some(Failure::PolicyViolation { .. })) => {
            assert_eq!(e.kind(), "policy");
            assert!(e.to_string().contains(reason), "{e}");
        }
        other => panic!("strict should refuse ({reason}): {other:?}"),
    }
}

fn alice_public() -> Vec<u8> {
    support::key("alice").armored_public()
}

/// The verdicts of both policies on a commit signed at `time` by `key`,
/// whose certificate is `key_file` in the keyring, and which the
/// introduction authorizes.
fn verdicts_when_signed_by(
    key_file: Vec<u8>,
    key: SecretKey,
    time: u64,
) -> (Result<usize, Error>, Result<usize, Error>) {
    let authorized = [fingerprint(&key)];
    let channel = channel(
        &[alice_public(), key_file],
        key,
        &authorized,
        time,
        HashAlgorithm::SHA512,
        false,
    );
    verdicts(&channel, Authorizations::empty())
}

#[test]
fn expired_key_is_refused_only_when_strict() {
    let expiring = cert("expiring", Some(Duration::from_secs(365 * 86_400)));
    let key = signing_key(&expiring);
    let key_file = || expiring.armored().to_vec().unwrap();
    let (guix, strict) = verdicts_when_signed_by(key_file(), key.clone(), JAN_2022);
    assert_strict_refuses(guix, strict, "not alive");
    // Signed while the key was valid: both accept.
    let (guix, strict) = verdicts_when_signed_by(key_file(), key, JUN_2020);
    assert_eq!((guix.unwrap(), strict.unwrap()), (1, 1));
}

/// A certificate revoked (key compromised) when it was made.
fn revoked_cert() -> Cert {
    let revoked = cert("revoked", None);
    let mut primary = support::sign::primary_keypair(&revoked);
    let revocation = revoked
        .revoke(&mut primary, ReasonForRevocation::KeyCompromised, b"stolen")
        .unwrap();
    revoked.insert_packets(revocation).unwrap().0
}

/// A channel whose commit is signed by a revoked key that its
/// `.guix-authorizations` lists: Guix's rule accepts it, the strict policy
/// refuses it.
fn revoked_key_channel() -> Channel {
    let revoked = revoked_cert();
    let key = signing_key(&revoked);
    let authorized = [fingerprint(&key)];
    let keyring = [alice_public(), revoked.armored().to_vec().unwrap()];
    channel(
        &keyring,
        key,
        &authorized,
        JUN_2020,
        HashAlgorithm::SHA512,
        false,
    )
}

#[test]
fn revoked_key_is_refused_only_when_strict() {
    let revoked = revoked_cert();
    let key = signing_key(&revoked);
    let (guix, strict) =
        verdicts_when_signed_by(revoked.armored().to_vec().unwrap(), key, JUN_2020);
    assert_strict_refuses(guix, strict, "revoked");
}

#[test]
fn subkey_without_binding_signature_is_refused_only_when_strict() {
    let (with_subkey, _) = CertBuilder::new()
        .set_creation_time(at(JAN_2020))
        .add_userid("Unbound <unbound@example.org>")
        .add_signing_subkey()
        .generate()
        .unwrap();
    let subkey = support::sign::secret_subkey(&with_subkey);
    // The keyring file: every packet but the subkey's binding signature.
    let mut stripped = Vec::new();
    for packet in with_subkey.clone().into_packets() {
        let binding =
            matches!(&packet, Packet::Signature(s) if s.typ() == SignatureType::SubkeyBinding);
        let public = match packet {
            Packet::SecretKey(k) => Packet::PublicKey(k.parts_into_public()),
            Packet::SecretSubkey(k) => Packet::PublicSubkey(k.parts_into_public()),
            other => other,
        };
        if !binding {
            public.serialize(&mut stripped).unwrap();
        }
    }
    let (guix, strict) = verdicts_when_signed_by(stripped, subkey, JUN_2020);
    assert_strict_refuses(guix, strict, "binding signature");
}

#[test]
fn sha1_in_old_history_is_refused_only_when_strict() {
    let key = alice_key();
    let alice_fpr: Fingerprint = support::key("alice").signing_fpr.parse().unwrap();
    // No tree has `.guix-authorizations`: SHA-1 is tolerated by Guix.
    let channel = channel(
        &[alice_public()],
        key,
        &[],
        JUN_2020,
        HashAlgorithm::SHA1,
        true,
    );
    let (guix, strict) = verdicts(&channel, Authorizations::from_fingerprints([alice_fpr]));
    assert_strict_refuses(guix, strict, "SHA1");
}

#[test]
fn sound_keys_pass_both_policies() {
    let valid = cert("valid", None);
    let key = signing_key(&valid);
    let (guix, strict) = verdicts_when_signed_by(valid.armored().to_vec().unwrap(), key, JUN_2020);
    assert_eq!((guix.unwrap(), strict.unwrap()), (1, 1));
    // The standard policy agrees the certificate is valid.
    assert!(valid
        .with_policy(&StandardPolicy::new(), at(JUN_2020))
        .is_ok());
    let _ = valid.to_vec();
}

/// The binary on `channel` with a private home: `args` after the
/// introduction, `--end` the commit under test, a fixed cache key.
fn binary_status(home: &support::home::Home, channel: &Channel, args: &[&str]) -> Option<i32> {
    let output = home
        .command(channel.repo.path())
        .arg(channel.introduction.commit.to_string())
        .arg(channel.introduction.signer.to_string())
        .args([
            "--end",
            &channel.end.to_string(),
            "--cache-key",
            "policy/test",
        ])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    output.status.code()
}

/// A cache filled by an ordinary run (as the post-merge hook makes) does
/// not waive `--policy=strict`: the commit signed by a revoked key is
/// refused as with an empty cache, and the strict run's own verdict then
/// serves ordinary runs.
#[test]
fn cache_of_ordinary_runs_does_not_waive_the_strict_policy() {
    let channel = revoked_key_channel();
    let home = support::home::Home::new();
    assert_eq!(binary_status(&home, &channel, &[]), Some(0), "Guix's rule");
    assert_eq!(
        home.cached("policy/test", channel.introduction.commit)
            .trusted,
        vec![channel.end]
    );
    assert_eq!(
        binary_status(&home, &channel, &["--policy=strict"]),
        Some(1),
        "the cached verdict was made under Guix's rule"
    );
    assert_eq!(binary_status(&home, &channel, &[]), Some(0));
}

/// A commit authenticated with historical authorizations is cached as
/// such: a run without them (or with others) checks it again.
#[test]
fn cache_does_not_waive_the_absence_of_historical_authorizations() {
    let sound = cert("sound", None);
    let key = signing_key(&sound);
    let keyring = [alice_public(), sound.armored().to_vec().unwrap()];
    let channel = channel(
        &keyring,
        key.clone(),
        &[],
        JUN_2020,
        HashAlgorithm::SHA512,
        true,
    );
    let home = support::home::Home::new();
    let file = home.path().join("historical");
    let entries = format!(
        "(authorizations (version 0) ((\"{}\") (\"{}\")))",
        fingerprint(&key),
        support::key("alice").signing_fpr
    );
    std::fs::write(&file, entries).unwrap();
    let other = home.path().join("other");
    let alice_only = format!(
        "(authorizations (version 0) ((\"{}\")))",
        support::key("alice").signing_fpr
    );
    std::fs::write(&other, alice_only).unwrap();
    let historical = ["--historical-authorizations", file.to_str().unwrap()];
    let others = ["--historical-authorizations", other.to_str().unwrap()];
    assert_eq!(binary_status(&home, &channel, &[]), Some(1));
    assert_eq!(binary_status(&home, &channel, &historical), Some(0));
    assert_eq!(
        binary_status(&home, &channel, &[]),
        Some(1),
        "no longer authorized"
    );
    assert_eq!(binary_status(&home, &channel, &others), Some(1), "others");
    let strict = [&historical[..], &["--policy=strict"]].concat();
    assert_eq!(binary_status(&home, &channel, &strict), Some(0));
    assert_eq!(binary_status(&home, &channel, &historical), Some(0));
}

/// The server's gate caches what it accepted as the CLI does: accepted
/// under Guix's rule, a commit signed by a revoked key is refused once the
/// gate runs with `--policy=strict`.
#[test]
fn gate_cache_does_not_waive_the_strict_policy() {
    let channel = revoked_key_channel();
    let mut config = channel.repo.config().unwrap();
    let introduction = &channel.introduction;
    config
        .set_str(
            "guix.authentication.introduction-commit",
            &introduction.commit.to_string(),
        )
        .unwrap();
    config
        .set_str(
            "guix.authentication.introduction-signer",
            &introduction.signer.to_string(),
        )
        .unwrap();
    let home = support::home::Home::new();
    let update = |policy: &str| {
        home.command(channel.repo.path())
            .args(["update", "refs/heads/master", &"0".repeat(40)])
            .arg(channel.end.to_string())
            .arg(format!("--policy={policy}"))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let out = update("guix");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = update("strict");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("revoked"), "{err}");
}
