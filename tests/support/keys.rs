//! The fixed test keys of `test-repos/keys/`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use sequoia_openpgp as openpgp;

use openpgp::cert::amalgamation::key::PrimaryKey;
use openpgp::crypto::KeyPair;
use openpgp::parse::Parse;
use openpgp::policy::{AsymmetricAlgorithm, StandardPolicy};
use openpgp::serialize::SerializeInto;
use openpgp::Cert;

/// Every key shipped in `test-repos/keys/`, as `<name>.asc`.
/// 2020-01-01T00:00:00Z: the creation time of every test key, and of the
/// keys tests make for themselves (so that commits of 2021 postdate them).
pub const KEY_CREATION_TIME: u64 = 1_577_836_800;

pub const KEY_NAMES: [&str; 6] = ["alice", "bob", "carol", "dave", "erin", "mallory"];

/// A test key: its secret certificate and its fingerprints.
#[derive(Clone, Debug)]
pub struct TestKey {
    /// Its file name without `.asc`, e.g. `alice`.
    pub name: String,
    /// The certificate, with its (unencrypted) secret key material.
    pub cert: Cert,
    /// Fingerprint of the key that makes signatures: the signing subkey if
    /// there is one (carol), otherwise the primary key. 40 upper-case hex
    /// digits, no spaces.
    pub signing_fpr: String,
    /// Fingerprint of the primary key, same format.
    pub primary_fpr: String,
}

impl TestKey {
    /// The signing fingerprint in the spaced form of `.guix-authorizations`.
    pub fn signing_fpr_spaced(&self) -> String {
        spaced_fingerprint(&self.signing_fpr)
    }

    /// The primary fingerprint in the spaced form of `.guix-authorizations`.
    pub fn primary_fpr_spaced(&self) -> String {
        spaced_fingerprint(&self.primary_fpr)
    }

    /// The public certificate (no secrets), ASCII-armored.
    pub fn armored_public(&self) -> Vec<u8> {
        self.cert
            .armored()
            .to_vec()
            .expect("serialize armored certificate")
    }

    /// The public certificate (no secrets), binary OpenPGP packets.
    pub fn binary_public(&self) -> Vec<u8> {
        self.cert.to_vec().expect("serialize certificate")
    }

    /// Path of the `.asc` file holding the secret key.
    pub fn asc_path(&self) -> PathBuf {
        keys_dir().join(format!("{}.asc", self.name))
    }

    /// A key pair for the signing key (see `signing_fpr`).
    pub fn signing_keypair(&self) -> KeyPair {
        let key = self
            .cert
            .keys()
            .secret()
            .find(|k| k.key().fingerprint().to_hex() == self.signing_fpr)
            .unwrap_or_else(|| panic!("{}: no secret signing key", self.name));
        key.key()
            .clone()
            .into_keypair()
            .unwrap_or_else(|e| panic!("{}: signing key pair: {e}", self.name))
    }
}

/// `AAAABBBB...` -> `"AAAA BBBB CCCC DDDD EEEE  FFFF 0000 1111 2222 3333"`
/// (the form GnuPG prints and `.guix-authorizations` files usually use).
pub fn spaced_fingerprint(hex: &str) -> String {
    let mut out = String::new();
    for (i, chunk) in hex.as_bytes().chunks(4).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if i == 5 {
            out.push(' ');
        }
        out.push_str(std::str::from_utf8(chunk).expect("hex is ASCII"));
    }
    out
}

/// `test-repos/keys/` of this package.
pub fn keys_dir() -> PathBuf {
    super::manifest_dir().join("test-repos").join("keys")
}

/// Whether `test-repos/keys/<name>.asc` exists.
pub fn key_exists(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && keys_dir().join(format!("{name}.asc")).is_file()
}

/// Loads `test-repos/keys/<name>.asc` (cached per process). Panics if the
/// key does not exist or does not parse.
pub fn key(name: &str) -> TestKey {
    static CACHE: OnceLock<Mutex<HashMap<String, TestKey>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(k) = cache.lock().unwrap().get(name) {
        return k.clone();
    }
    let k = load(name);
    cache.lock().unwrap().insert(name.to_string(), k.clone());
    k
}

fn load(name: &str) -> TestKey {
    assert!(
        key_exists(name),
        "no test key named {name:?} in {:?}",
        keys_dir()
    );
    let path = keys_dir().join(format!("{name}.asc"));
    let cert = Cert::from_file(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    assert!(cert.is_tsk(), "{path:?} holds no secret key material");
    // Old algorithms (RSA-1024, DSA) are what some test keys are for.
    let mut policy = StandardPolicy::new();
    for algo in [
        AsymmetricAlgorithm::RSA1024,
        AsymmetricAlgorithm::DSA1024,
        AsymmetricAlgorithm::DSA2048,
        AsymmetricAlgorithm::DSA3072,
    ] {
        policy.accept_asymmetric_algo(algo);
    }
    // DSA-1024 self-signatures can only use a 160-bit hash.
    policy.accept_hash(openpgp::types::HashAlgorithm::SHA1);
    let valid = cert
        .with_policy(&policy, None)
        .unwrap_or_else(|e| panic!("{path:?}: certificate not valid: {e}"));
    let signers: Vec<_> = valid
        .keys()
        .for_signing()
        .map(|k| (k.primary(), k.key().fingerprint().to_hex()))
        .collect();
    let signing_fpr = signers
        .iter()
        .find(|(primary, _)| !primary)
        .or_else(|| signers.first())
        .map(|(_, fpr)| fpr.clone())
        .unwrap_or_else(|| panic!("{path:?}: no signing-capable key"));
    TestKey {
        name: name.to_string(),
        primary_fpr: cert.fingerprint().to_hex(),
        signing_fpr,
        cert,
    }
}
