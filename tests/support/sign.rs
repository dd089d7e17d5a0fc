//! Making detached signatures the way `git commit -S` does: with Sequoia,
//! with the real `gpg` binary, or with `ssh-keygen -Y sign`.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sequoia_openpgp as openpgp;

use openpgp::packet::signature::subpacket::{Subpacket, SubpacketTag, SubpacketValue};
use openpgp::packet::signature::SignatureBuilder;
use openpgp::packet::Packet;
use openpgp::types::{HashAlgorithm, SignatureType};
use openpgp::{Fingerprint, KeyID};

use super::keys::{key, keys_dir, TestKey, KEY_NAMES};

/// Options of a Sequoia-made commit signature.
#[derive(Clone, Debug)]
pub struct SequoiaOptions {
    /// Hash algorithm (default SHA-512).
    pub hash: HashAlgorithm,
    /// Make a text-mode (0x01) signature instead of a binary (0x00) one.
    pub text: bool,
    /// Add a second signature packet by the same key (other hash: SHA-256,
    /// or SHA-512 if `hash` is SHA-256).
    pub two_sigs: bool,
    /// Further keys that each add one signature packet.
    pub also: Vec<String>,
    /// The issuer fingerprint subpacket of the (first) signature.
    pub issuer_fpr: Issuer,
    /// The issuer key ID subpacket of the (first) signature.
    pub issuer_id: Issuer,
}

impl Default for SequoiaOptions {
    fn default() -> Self {
        SequoiaOptions {
            hash: HashAlgorithm::SHA512,
            text: false,
            two_sigs: false,
            also: Vec::new(),
            issuer_fpr: Issuer::Signer,
            issuer_id: Issuer::Signer,
        }
    }
}

/// What an issuer subpacket (fingerprint or key ID) of a crafted
/// signature names. Both live in the hashed area, as Sequoia and gpg put
/// them, so that the signature still verifies with the signing key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Issuer {
    /// The key that really signs (the normal case).
    #[default]
    Signer,
    /// The signing key of this test key (a lie unless it is the signer).
    Key(String),
    /// No such subpacket at all.
    Omitted,
}

/// A change to the ASCII armor of a signature or key file, made after
/// the fact (the packets are untouched).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ArmorTweak {
    /// As made.
    #[default]
    Keep,
    /// The CRC-24 line (`=XXXX`) no longer matches the data.
    BadCrc,
    /// The CRC-24 line is removed (allowed by RFC 9580, refused by Guix).
    NoCrc,
}

/// Applies `tweak` to an ASCII-armored text. Fails if there is no CRC line
/// to change.
pub fn tweak_armor(armored: &str, tweak: ArmorTweak) -> Result<String, String> {
    if tweak == ArmorTweak::Keep {
        return Ok(armored.to_string());
    }
    let mut lines: Vec<String> = armored.split('\n').map(str::to_string).collect();
    let end = lines
        .iter()
        .position(|l| l.starts_with("-----END "))
        .ok_or("armor tweak: no END line")?;
    let crc = lines[..end]
        .iter()
        .rposition(|l| l.len() == 5 && l.starts_with('='))
        .ok_or("armor tweak: no CRC line before the END line")?;
    match tweak {
        ArmorTweak::BadCrc => {
            // Change the first base64 digit: another 24-bit value.
            let line = &lines[crc];
            let first = if line.as_bytes()[1] == b'A' { 'B' } else { 'A' };
            lines[crc] = format!("={first}{}", &line[2..]);
        }
        ArmorTweak::NoCrc => {
            lines.remove(crc);
        }
        ArmorTweak::Keep => {}
    }
    Ok(lines.join("\n"))
}

/// Seconds since the epoch as a `SystemTime`.
pub fn system_time(seconds: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).expect("time after 1970"))
}

/// A detached, ASCII-armored signature over `data` made with Sequoia by
/// `signer`'s signing key, created at `time` (seconds since the epoch).
pub fn sequoia_sign(
    signer: &TestKey,
    data: &[u8],
    time: i64,
    options: &SequoiaOptions,
) -> Result<String, String> {
    let issuers = (&options.issuer_fpr, &options.issuer_id);
    let normal = (&Issuer::Signer, &Issuer::Signer);
    let mut packets = vec![one_signature(
        signer,
        data,
        time,
        options.hash,
        options.text,
        issuers,
    )?];
    if options.two_sigs {
        let other = if options.hash == HashAlgorithm::SHA256 {
            HashAlgorithm::SHA512
        } else {
            HashAlgorithm::SHA256
        };
        packets.push(one_signature(
            signer,
            data,
            time,
            other,
            options.text,
            normal,
        )?);
    }
    for name in &options.also {
        packets.push(one_signature(
            &key(name),
            data,
            time,
            options.hash,
            options.text,
            normal,
        )?);
    }
    super::objects::armored_signatures(packets)
}

fn one_signature(
    signer: &TestKey,
    data: &[u8],
    time: i64,
    hash: HashAlgorithm,
    text: bool,
    (issuer_fpr, issuer_id): (&Issuer, &Issuer),
) -> Result<Packet, String> {
    let mut keypair = signer.signing_keypair();
    let (typ, message) = if text {
        (SignatureType::Text, crlf(data))
    } else {
        (SignatureType::Binary, data.to_vec())
    };
    let mut builder = SignatureBuilder::new(typ)
        .set_signature_creation_time(system_time(time))
        .map_err(|e| format!("signature time: {e}"))?
        .set_hash_algo(hash);
    let crafted = (issuer_fpr, issuer_id) != (&Issuer::Signer, &Issuer::Signer);
    let omit_both = (issuer_fpr, issuer_id) == (&Issuer::Omitted, &Issuer::Omitted);
    if crafted {
        let own = signing_fingerprint(signer)?;
        let named = |issuer: &Issuer| -> Result<Option<Fingerprint>, String> {
            match issuer {
                Issuer::Signer => Ok(Some(own.clone())),
                Issuer::Key(name) => signing_fingerprint(&key(name)).map(Some),
                Issuer::Omitted => Ok(None),
            }
        };
        if let Some(fpr) = named(issuer_fpr)? {
            builder = builder
                .set_issuer_fingerprint(fpr)
                .map_err(|e| format!("issuer fingerprint: {e}"))?;
        }
        if let Some(fpr) = named(issuer_id)? {
            builder = builder
                .set_issuer(KeyID::from(&fpr))
                .map_err(|e| format!("issuer key ID: {e}"))?;
        }
        if omit_both {
            // Sequoia adds both subpackets when a signature has neither: give
            // it an unhashed one, removed once signed (the unhashed area is
            // not covered by the signature).
            builder = builder
                .modify_unhashed_area(|mut area| {
                    area.add(Subpacket::new(
                        SubpacketValue::Issuer(KeyID::from(&own)),
                        false,
                    )?)?;
                    Ok(area)
                })
                .map_err(|e| format!("issuer subpacket: {e}"))?;
        }
    }
    // A short EdDSA R or S is made again (see `objects::eddsa_short`).
    let mut sign = || {
        builder
            .clone()
            .sign_message(&mut keypair, &message)
            .map_err(|e| format!("{}: signing with {hash:?}: {e}", signer.name))
    };
    let mut sig = sign()?;
    for _ in 0..64 {
        if !super::objects::eddsa_short(&sig) {
            break;
        }
        sig = sign()?;
    }
    if omit_both {
        sig.unhashed_area_mut().remove_all(SubpacketTag::Issuer);
    }
    Ok(Packet::from(sig))
}

fn signing_fingerprint(k: &TestKey) -> Result<Fingerprint, String> {
    Fingerprint::from_hex(&k.signing_fpr).map_err(|e| format!("{}: fingerprint: {e}", k.name))
}

/// Text-mode signatures are made over the text with CRLF line endings.
fn crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 16);
    let mut previous = 0u8;
    for &b in data {
        if b == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        previous = b;
    }
    out
}

/// Whether a working `gpg` binary is on PATH (cached).
pub fn gpg_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        Command::new("gpg")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    })
}

/// A throw-away GnuPG home directory (mode 700, short path under `/tmp`)
/// holding every test key's secret key. Its gpg-agent is killed on drop.
pub struct GpgHome {
    dir: AgentHome,
}

impl GpgHome {
    /// Creates the directory and imports `test-repos/keys/*.asc` into it.
    /// Panics if `gpg` is not available.
    pub fn new() -> GpgHome {
        super::needs::gpg();
        let dir = AgentHome::new("gah-gpg.").expect("create GNUPGHOME");
        let home = GpgHome { dir };
        let files: Vec<PathBuf> = KEY_NAMES
            .iter()
            .map(|n| keys_dir().join(format!("{n}.asc")))
            .collect();
        let out = home
            .command()
            .arg("--import")
            .args(&files)
            .stdin(Stdio::null())
            .output()
            .expect("run gpg --import");
        super::assert_success(&out, "gpg --import of the test keys");
        home
    }

    /// The GNUPGHOME directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `gpg --homedir HOME --batch --no-tty` (add further arguments).
    pub fn command(&self) -> Command {
        let mut c = Command::new("gpg");
        c.arg("--homedir")
            .arg(self.path())
            .arg("--batch")
            .arg("--no-tty")
            .env("GNUPGHOME", self.path());
        c
    }

    /// [`GpgHome::sign`] by every key of `key_ids` (one `-u` each: one
    /// signature packet each, in one armor block), in text mode
    /// (`--textmode`, signature type 0x01) if `text_mode`.
    pub fn sign_with(
        &self,
        key_ids: &[&str],
        data: &[u8],
        time: i64,
        digest: Option<&str>,
        text_mode: bool,
    ) -> Result<String, String> {
        let mut c = self.command();
        c.arg("--faked-system-time").arg(format!("{time}!"));
        if let Some(d) = digest {
            c.arg("--digest-algo").arg(d);
        }
        if text_mode {
            c.arg("--textmode");
        }
        c.arg("--status-fd=2").arg("-bsa");
        for id in key_ids {
            c.arg("-u").arg(id);
        }
        let out = run_with_stdin(c, data).map_err(|e| format!("gpg: {e}"))?;
        let status = String::from_utf8_lossy(&out.stderr);
        let created = status.matches("[GNUPG:] SIG_CREATED ").count();
        if !out.status.success() || created != key_ids.len() {
            return Err(format!("gpg failed to sign with {key_ids:?}:\n{status}"));
        }
        String::from_utf8(out.stdout).map_err(|e| format!("gpg output is not UTF-8: {e}"))
    }

    /// `gpg --verify SIG DATA`; returns the `--status-fd` lines on
    /// success, or status and messages on failure. Weak digests are
    /// allowed so that MD5 signatures can be checked too.
    pub fn verify(&self, signature: &[u8], data: &[u8]) -> Result<String, String> {
        let mut sig_file = tempfile::NamedTempFile::new_in(self.path()).expect("temp file");
        sig_file.write_all(signature).expect("write signature");
        let mut data_file = tempfile::NamedTempFile::new_in(self.path()).expect("temp file");
        data_file.write_all(data).expect("write data");
        let out = self
            .command()
            .args(["--status-fd", "1", "--allow-weak-digest-algos", "--verify"])
            .arg(sig_file.path())
            .arg(data_file.path())
            .stdin(Stdio::null())
            .output()
            .expect("run gpg --verify");
        let status = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && status.contains("[GNUPG:] VALIDSIG ") {
            Ok(status)
        } else {
            Err(format!("{status}{}", String::from_utf8_lossy(&out.stderr)))
        }
    }
}

impl Default for GpgHome {
    fn default() -> Self {
        GpgHome::new()
    }
}

/// A throw-away GnuPG home: a directory of mode 700 (gpg refuses others)
/// with a short path, as Unix socket paths are limited to about 107 bytes
/// (under `/tmp`, even when TMPDIR is long). The daemons gpg starts in it
/// (gpg-agent, keyboxd, ...) would outlive the test: they are killed when
/// it is dropped.
pub struct AgentHome {
    dir: tempfile::TempDir,
}

impl AgentHome {
    pub fn new(prefix: &str) -> Result<AgentHome, String> {
        let base = if Path::new("/tmp").is_dir() {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(base)
            .map_err(|e| format!("GNUPGHOME: {e}"))?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("chmod 700 GNUPGHOME: {e}"))?;
        Ok(AgentHome { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for AgentHome {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.path())
            .args(["--kill", "all"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Path of the committed OpenSSH test key (test-only secret).
pub fn ssh_key_path() -> PathBuf {
    keys_dir().join("ssh_ed25519")
}

/// Copies the SSH test key to `dir` with mode 600 (ssh-keygen refuses
/// group- or world-readable keys) and returns the copy's path.
pub fn install_ssh_key(dir: &Path) -> PathBuf {
    let target = dir.join("ssh_ed25519");
    std::fs::copy(ssh_key_path(), &target).expect("copy SSH test key");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600))
        .expect("chmod 600 SSH key");
    target
}

/// An SSH signature over `data` in namespace `git`, as git makes them
/// (`gpg.format=ssh`).
pub fn ssh_sign(key_file: &Path, data: &[u8]) -> Result<String, String> {
    let mut c = Command::new("ssh-keygen");
    c.args(["-Y", "sign", "-n", "git", "-f"]).arg(key_file);
    let out = run_with_stdin(c, data).map_err(|e| format!("ssh-keygen: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ssh-keygen -Y sign failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("ssh signature is not UTF-8: {e}"))
}

fn run_with_stdin(mut c: Command, data: &[u8]) -> std::io::Result<std::process::Output> {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let data = data.to_vec();
    // Write from another thread so a child that writes much output before
    // reading all its input cannot dead-lock us.
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output()?;
    writer.join().expect("stdin writer")?;
    Ok(out)
}

/// A signer with `cert`'s primary key, which must hold its secret (a
/// certificate a test generated).
pub fn primary_keypair(cert: &openpgp::Cert) -> openpgp::crypto::KeyPair {
    cert.primary_key()
        .key()
        .clone()
        .parts_into_secret()
        .and_then(|k| k.into_keypair())
        .expect("the primary key's secret")
}

/// The first subkey of `cert` with its secret (a certificate a test
/// generated).
pub fn secret_subkey(
    cert: &openpgp::Cert,
) -> openpgp::packet::Key<openpgp::packet::key::SecretParts, openpgp::packet::key::UnspecifiedRole>
{
    cert.keys()
        .subkeys()
        .secret()
        .next()
        .expect("a subkey with its secret")
        .key()
        .clone()
        .role_into_unspecified()
}
