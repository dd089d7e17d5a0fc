//! Hostile material for the scenarios of `tests/attacks.rs`: floods of
//! generated certificates, certificates missing their binding signatures,
//! and X.509 signatures made by the real `gpgsm`.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, UNIX_EPOCH};

use sequoia_openpgp as openpgp;

use openpgp::cert::{CertBuilder, CipherSuite};
use openpgp::serialize::{Serialize, SerializeInto};
use openpgp::types::KeyFlags;
use openpgp::Packet;

use super::keys::{TestKey, KEY_CREATION_TIME};
use super::sign::AgentHome;

/// `n` freshly generated Ed25519 certificates (each a signing primary key
/// with one user ID and its self-signature), public parts only,
/// concatenated binary packets. Generated once per process and count.
pub fn generated_certificates(n: usize) -> Vec<u8> {
    static CACHE: OnceLock<Mutex<HashMap<usize, Vec<u8>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(bytes) = cache.lock().unwrap().get(&n) {
        return bytes.clone();
    }
    let created = UNIX_EPOCH + Duration::from_secs(KEY_CREATION_TIME);
    let mut out = Vec::with_capacity(n * 256);
    for i in 0..n {
        let (cert, _revocation) = CertBuilder::new()
            .add_userid(format!("Flood {i} <flood-{i}@example.org>"))
            .set_cipher_suite(CipherSuite::Cv25519)
            .set_creation_time(created)
            .set_validity_period(None)
            .set_primary_key_flags(KeyFlags::empty().set_certification().set_signing())
            .generate()
            .expect("generate a flood certificate");
        // Serializing a `Cert` writes its public parts only.
        out.extend(cert.to_vec().expect("serialize certificate"));
    }
    cache.lock().unwrap().insert(n, out.clone());
    out
}

/// `k`'s public certificate, binary, with every subkey binding signature
/// removed: the subkeys are there, bound to nothing.
pub fn without_subkey_bindings(k: &TestKey) -> Vec<u8> {
    public_without(k, |packet, in_subkey| {
        in_subkey && matches!(packet, Packet::Signature(_))
    })
}

/// `k`'s public certificate, binary, without its subkeys (and their
/// binding signatures): the same primary key, a key fewer.
pub fn without_subkeys(k: &TestKey) -> Vec<u8> {
    public_without(k, |_, in_subkey| in_subkey)
}

/// `k`'s public certificate, binary, without the packets `drop` picks; it
/// is told whether a packet belongs to a subkey (the subkey itself or a
/// signature after it).
fn public_without(k: &TestKey, drop: impl Fn(&Packet, bool) -> bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut in_subkey = false;
    for packet in k.cert.clone().strip_secret_key_material().into_packets() {
        in_subkey = match &packet {
            Packet::PublicSubkey(_) => true,
            Packet::Signature(_) => in_subkey,
            _ => false,
        };
        if !drop(&packet, in_subkey) {
            packet.serialize(&mut out).expect("serialize packet");
        }
    }
    out
}

/// A throw-away GnuPG home holding a self-signed X.509 certificate (RSA,
/// signing only, trusted by `trustlist.txt`) and its unprotected secret
/// key, to sign as git does with `gpg.format=x509`. The agent is killed on
/// drop.
pub struct GpgsmHome {
    dir: AgentHome,
    fingerprint: String,
}

impl GpgsmHome {
    /// Generates the key (gpg), the certificate (gpgsm) and trusts it.
    pub fn new() -> Result<GpgsmHome, String> {
        super::needs::gpg();
        super::needs::tool("gpgsm", "gpgsm");
        let dir = AgentHome::new("gah-gpgsm.")?;
        let mut home = GpgsmHome {
            dir,
            fingerprint: String::new(),
        };
        // gpgsm cannot make an unprotected key in batch mode; gpg can, and
        // gpgsm certifies it by its keygrip.
        home.run(
            "gpg",
            &[
                "--passphrase",
                "",
                "--quick-gen-key",
                "X509 Tester <x509@example.org>",
                "rsa2048",
                "sign",
                "never",
            ],
            None,
        )?;
        let listing = home.run("gpg", &["--with-keygrip", "--with-colons", "-K"], None)?;
        let grip = colon_field(&listing, "grp", 9).ok_or("no keygrip")?;
        let params = home.path().join("certificate.params");
        std::fs::write(
            &params,
            format!(
                "Key-Type: RSA\nKey-Grip: {grip}\nKey-Usage: sign\nSerial: random\n\
                 Name-DN: CN=X509 Tester,O=Example\nName-Email: x509@example.org\n"
            ),
        )
        .map_err(|e| format!("write parameters: {e}"))?;
        let certificate = home.path().join("certificate.pem");
        home.run(
            "gpgsm",
            &[
                "--gen-key",
                "--armor",
                "-o",
                certificate.to_str().unwrap(),
                params.to_str().unwrap(),
            ],
            None,
        )?;
        home.run("gpgsm", &["--import", certificate.to_str().unwrap()], None)?;
        let listing = home.run("gpgsm", &["--with-colons", "--list-keys"], None)?;
        home.fingerprint = colon_field(&listing, "fpr", 9).ok_or("no certificate")?;
        std::fs::write(
            home.path().join("trustlist.txt"),
            format!("{} S relax\n", home.fingerprint),
        )
        .map_err(|e| format!("write trustlist: {e}"))?;
        Ok(home)
    }

    /// The GNUPGHOME directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `gpgsm --status-fd=2 -bsau FPR`, as git runs it, over `data`: a
    /// `-----BEGIN SIGNED MESSAGE-----` block.
    pub fn sign(&self, data: &[u8]) -> Result<String, String> {
        let out = self.run(
            "gpgsm",
            &[
                "--disable-crl-checks",
                "--status-fd=2",
                "-bsau",
                &self.fingerprint.clone(),
            ],
            Some(data),
        )?;
        if !out.starts_with("-----BEGIN SIGNED MESSAGE-----") {
            return Err(format!("gpgsm made no signature: {out}"));
        }
        Ok(out)
    }

    /// Runs `program` in this home; its standard output.
    fn run(&self, program: &str, args: &[&str], stdin: Option<&[u8]>) -> Result<String, String> {
        let mut c = Command::new(program);
        c.arg("--homedir")
            .arg(self.path())
            .arg("--batch")
            .args(args)
            .env("GNUPGHOME", self.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().map_err(|e| format!("{program}: {e}"))?;
        let mut input = child.stdin.take().expect("piped stdin");
        let data = stdin.unwrap_or_default().to_vec();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            input.write_all(&data)
        });
        let out = child
            .wait_with_output()
            .map_err(|e| format!("{program}: {e}"))?;
        let _ = writer.join();
        if !out.status.success() {
            return Err(format!(
                "{program} {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        String::from_utf8(out.stdout).map_err(|e| format!("{program}: output not UTF-8: {e}"))
    }
}

/// Field `index` (0-based) of the first `--with-colons` line of `record`.
fn colon_field(listing: &str, record: &str, index: usize) -> Option<String> {
    listing
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&record))
        .and_then(|f| f.get(index).map(|s| s.to_string()))
        .filter(|s| !s.is_empty())
}

/// Points `refs/heads/keyring` of `repo` at a new commit whose tree holds
/// the armored public key of each (path, key name): paths are bytes (git
/// allows any but NUL and `/` in a name), at most one directory deep
/// (`dir/name.key`), given in git's order.
pub fn keyring_with_raw_names(repo: &git2::Repository, files: &[(&[u8], &str)]) {
    let odb = repo.odb().unwrap();
    let tree = |entries: &[(&[u8], &str, git2::Oid)]| {
        let mut bytes = Vec::new();
        for (name, mode, id) in entries {
            bytes.extend_from_slice(format!("{mode} ").as_bytes());
            bytes.extend_from_slice(name);
            bytes.push(0);
            bytes.extend_from_slice(id.as_bytes());
        }
        odb.write(git2::ObjectType::Tree, &bytes).unwrap()
    };
    let mut root: Vec<(&[u8], &str, git2::Oid)> = Vec::new();
    for (path, key) in files {
        let blob = repo.blob(&super::key(key).armored_public()).unwrap();
        match path.iter().position(|&b| b == b'/') {
            Some(slash) => {
                let sub = tree(&[(&path[slash + 1..], "100644", blob)]);
                root.push((&path[..slash], "40000", sub));
            }
            None => root.push((path, "100644", blob)),
        }
    }
    let tree = repo.find_tree(tree(&root)).unwrap();
    let signature =
        git2::Signature::new("K", "k@example.org", &git2::Time::new(1_600_000_000, 0)).unwrap();
    let commit = repo
        .commit(None, &signature, &signature, "keys\n", &tree, &[])
        .unwrap();
    repo.reference("refs/heads/keyring", commit, true, "raw names")
        .unwrap();
}
