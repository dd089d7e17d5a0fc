//! This machine's side of a channel: the maintainer's signing key, git's
//! and gpg's signing configuration.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use git2::Repository;

use super::{Diagnosis, Problem};
use crate::openpgp::fingerprint::Fingerprint;
use crate::openpgp::keyring::Keyring;

/// Most bytes read from gpg's configuration file.
const MAX_FILE: usize = 1 << 20;

/// The key git signs commits with, as gpg reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// The key that makes the signatures (a subkey, or the primary key).
    pub fingerprint: Fingerprint,
    /// Its certificate's primary key.
    pub primary: Fingerprint,
}

impl SigningKey {
    /// The key gpg signs with for `spec` (`user.signingkey`: a
    /// fingerprint, key ID or user ID; a trailing `!` asks for that exact
    /// key), or for gpg's default key when `spec` is `None`, from the
    /// output of `gpg --with-colons --list-secret-keys`.
    ///
    /// As gpg does, the newest subkey that can sign and is neither
    /// expired nor revoked is chosen, else the primary key.
    ///
    /// ```
    /// use git_authenticate::doctor::SigningKey;
    /// let listing = "sec:u:255:22:AAAAAAAAAAAAAAAA:1600000000:::u:::scESC:\n\
    ///                fpr:::::::::0123456789ABCDEF0123456789ABCDEFAAAAAAAA:\n\
    ///                ssb:u:255:22:BBBBBBBBBBBBBBBB:1600000100::::::s:\n\
    ///                fpr:::::::::0123456789ABCDEF0123456789ABCDEFBBBBBBBB:\n";
    /// let key = SigningKey::from_gpg_listing(listing, None).unwrap();
    /// assert_eq!(key.fingerprint.to_hex(), "0123456789ABCDEF0123456789ABCDEFBBBBBBBB");
    /// assert_eq!(key.primary.to_hex(), "0123456789ABCDEF0123456789ABCDEFAAAAAAAA");
    /// ```
    pub fn from_gpg_listing(listing: &str, spec: Option<&str>) -> Option<SigningKey> {
        let exact = spec
            .and_then(|s| s.strip_suffix('!'))
            .and_then(|s| s.trim_start_matches("0x").parse::<Fingerprint>().ok());
        let keys = listed_keys(listing);
        let primary = keys.iter().find(|k| k.primary)?.fingerprint.clone()?;
        if let Some(exact) = exact {
            return Some(SigningKey {
                fingerprint: exact,
                primary,
            });
        }
        let usable = keys.iter().filter(|k| k.can_sign && k.usable);
        let chosen = usable
            .clone()
            .filter(|k| !k.primary)
            .max_by_key(|k| k.created)
            .or_else(|| usable.clone().find(|k| k.primary))?;
        Some(SigningKey {
            fingerprint: chosen.fingerprint.clone()?,
            primary,
        })
    }
}

/// One `sec` or `ssb` record of the first certificate listed.
struct ListedKey {
    primary: bool,
    can_sign: bool,
    usable: bool,
    created: u64,
    fingerprint: Option<Fingerprint>,
}

fn listed_keys(listing: &str) -> Vec<ListedKey> {
    let mut keys: Vec<ListedKey> = Vec::new();
    for line in listing.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        let field = |i: usize| fields.get(i).copied().unwrap_or("");
        match field(0) {
            // Only the first certificate: gpg's default key.
            "sec" if !keys.is_empty() => break,
            "sec" | "ssb" => keys.push(ListedKey {
                primary: field(0) == "sec",
                // Lower case: this key's own capabilities.
                can_sign: field(11).contains('s'),
                usable: !matches!(field(1), "e" | "r" | "d" | "i"),
                created: field(5).parse().unwrap_or(0),
                fingerprint: None,
            }),
            "fpr" => {
                if let Some(key) = keys.last_mut().filter(|k| k.fingerprint.is_none()) {
                    key.fingerprint = field(9).parse().ok();
                }
            }
            _ => {}
        }
    }
    keys
}

/// The maintainer's signing key, git's signature format and gpg's digest.
pub(super) fn check_gpg(repo: &Repository, keyring: Option<&Keyring>, diagnosis: &mut Diagnosis) {
    let Ok(config) = repo.config().and_then(|mut c| c.snapshot()) else {
        return;
    };
    let get = |key: &str| config.get_string(key).ok();
    if let Some(format) = get("gpg.format").filter(|f| !f.eq_ignore_ascii_case("openpgp")) {
        diagnosis.push(Problem::SignatureFormat { format });
    }
    if let Some(problem) = weak_digest(&gnupg_home()) {
        diagnosis.push(problem);
    }
    let program = get("gpg.openpgp.program")
        .or_else(|| get("gpg.program"))
        .unwrap_or_else(|| "gpg".to_owned());
    let spec = get("user.signingkey");
    match signing_key(&program, spec.as_deref()) {
        Ok(key) => check_signing_key(repo, keyring, &key, diagnosis),
        Err(reason) => diagnosis.push(Problem::SigningKeyUnknown { reason }),
    }
}

fn signing_key(program: &str, spec: Option<&str>) -> Result<SigningKey, String> {
    let mut command = Command::new(program);
    command.args([
        "--batch",
        "--no-tty",
        "--with-colons",
        "--fixed-list-mode",
        "--list-secret-keys",
    ]);
    if let Some(spec) = spec {
        command.arg("--").arg(spec.trim_end_matches('!'));
    }
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{program}`: {e}"))?;
    let listing = String::from_utf8_lossy(&output.stdout);
    SigningKey::from_gpg_listing(&listing, spec).ok_or_else(|| match spec {
        Some(spec) => format!("gpg has no secret key for user.signingkey `{spec}`"),
        None => "gpg has no secret key that can sign, and user.signingkey is not set".to_owned(),
    })
}

fn check_signing_key(
    repo: &Repository,
    keyring: Option<&Keyring>,
    key: &SigningKey,
    diagnosis: &mut Diagnosis,
) {
    if let Some(keyring) = keyring {
        if keyring.by_fingerprint(&key.fingerprint).is_empty() {
            diagnosis.push(Problem::SigningKeyNotInKeyring {
                fingerprint: key.fingerprint.clone(),
                primary: key.primary.clone(),
                keyring: diagnosis.keyring.clone(),
            });
        }
    }
    let head = repo.head().ok().and_then(|h| h.target());
    let at_head = head.and_then(|head| crate::Authorizations::at_commit(repo, head).ok().flatten());
    if at_head.is_some_and(|a| !a.contains(&key.fingerprint)) {
        diagnosis.push(Problem::SigningKeyNotAuthorized {
            fingerprint: key.fingerprint.clone(),
        });
    }
}

/// gpg's home: `$GNUPGHOME`, else `~/.gnupg`.
fn gnupg_home() -> PathBuf {
    match std::env::var_os("GNUPGHOME") {
        Some(home) => PathBuf::from(home),
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(".gnupg"),
    }
}

/// A `digest-algo` or `personal-digest-preferences` line of `gpg.conf`
/// that makes gpg sign with SHA-1 or MD5, which Guix refuses.
fn weak_digest(home: &Path) -> Option<Problem> {
    let file = home.join("gpg.conf");
    let contents = crate::git::input::read_regular_file(&file, MAX_FILE).ok()?;
    let contents = String::from_utf8_lossy(&contents);
    contents.lines().enumerate().find_map(|(i, line)| {
        let mut words = line.split_whitespace();
        let option = words.next()?;
        let first = words.next()?;
        let weak = matches!(option, "digest-algo" | "personal-digest-preferences")
            .then(|| weak_algorithm(first))
            .flatten()?;
        Some(Problem::WeakDigest {
            file: file.clone(),
            line: i + 1,
            text: line.trim().to_owned(),
            algorithm: weak.to_owned(),
        })
    })
}

fn weak_algorithm(name: &str) -> Option<&'static str> {
    match name.to_ascii_uppercase().as_str() {
        "SHA1" | "SHA-1" | "H2" => Some("SHA1"),
        "MD5" | "H1" => Some("MD5"),
        _ => None,
    }
}
