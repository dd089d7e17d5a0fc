//! `regenerate-test-keys`: new random test keys, of the kinds
//! `test-repos/keys/README.md` lists.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use sequoia_openpgp as openpgp;

use openpgp::cert::prelude::*;
use openpgp::serialize::SerializeInto;
use openpgp::types::KeyFlags;

use crate::support;
use support::keys::KEY_CREATION_TIME;
use support::sign::AgentHome;

/// Writes new test keys into `dir`. The keys are random: every
/// fingerprint changes, which is harmless because the scenarios only name
/// keys, never fingerprints.
pub fn regenerate_test_keys(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let created = UNIX_EPOCH + Duration::from_secs(KEY_CREATION_TIME);
    let sign_and_certify = KeyFlags::empty().set_certification().set_signing();

    let sequoia = |name: &str, uid: &str, suite: CipherSuite, subkey: bool| {
        let mut builder = CertBuilder::new()
            .add_userid(uid)
            .set_cipher_suite(suite)
            .set_creation_time(created)
            .set_validity_period(None);
        builder = if subkey {
            builder
                .set_primary_key_flags(KeyFlags::empty().set_certification())
                .add_signing_subkey()
        } else {
            builder.set_primary_key_flags(sign_and_certify.clone())
        };
        let (cert, _revocation) = builder.generate().unwrap();
        let armored = cert.as_tsk().armored().to_vec().unwrap();
        std::fs::write(dir.join(format!("{name}.asc")), armored).unwrap();
    };
    sequoia(
        "alice",
        "Alice <alice@example.org>",
        CipherSuite::Cv25519,
        false,
    );
    sequoia("bob", "Bob <bob@example.org>", CipherSuite::RSA2k, false);
    sequoia(
        "carol",
        "Carol <carol@example.org>",
        CipherSuite::Cv25519,
        true,
    );
    sequoia(
        "mallory",
        "Mallory <mallory@example.org>",
        CipherSuite::Cv25519,
        false,
    );

    let gpg = |name: &str, uid: &str, algo: &str| {
        let home = AgentHome::new("gah-keygen.").unwrap();
        let gpg = |args: &[&str]| {
            let out = Command::new("gpg")
                .arg("--homedir")
                .arg(home.path())
                .args(["--batch", "--no-tty", "--faked-system-time"])
                .arg(format!("{KEY_CREATION_TIME}!"))
                .args(args)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "gpg {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        gpg(&[
            "--passphrase",
            "",
            "--quick-gen-key",
            uid,
            algo,
            "sign",
            "never",
        ]);
        let armored = gpg(&["--armor", "--export-secret-keys"]);
        std::fs::write(dir.join(format!("{name}.asc")), armored).unwrap();
    };
    gpg("dave", "Dave <dave@example.org>", "rsa3072");
    gpg("erin", "Erin <erin@example.org>", "dsa2048");

    let ssh = dir.join("ssh_ed25519");
    let _ = std::fs::remove_file(&ssh);
    let _ = std::fs::remove_file(dir.join("ssh_ed25519.pub"));
    let status = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "ssh-tester@example.org",
            "-f",
        ])
        .arg(&ssh)
        .status()
        .unwrap();
    assert!(status.success(), "ssh-keygen failed");
}
