//! The keyring: every OpenPGP key stored as a `*.key` file at the top of the
//! keyring branch.
//!
//! As in Guix, the keyring is a bag of key packets, primary keys and subkeys
//! alike, indexed by fingerprint and key ID. No binding or self-signature is
//! checked here: the keyring branch is not authenticated, and what makes a
//! key count is whether `.guix-authorizations` lists its fingerprint.

use std::collections::HashMap;

use git2::{ObjectType, Oid, Repository};
use sequoia_openpgp as openpgp;

use openpgp::packet::key::{PublicParts, UnspecifiedRole};
use openpgp::packet::Key;
use openpgp::parse::{PacketParser, PacketParserResult, Parse};
use openpgp::{KeyID, Packet};

use crate::armor;
use crate::crypto::Prepared;
use crate::error::Error;
use crate::fingerprint::Fingerprint;

/// The keyring branch used when none is configured.
pub const DEFAULT_REFERENCE: &str = "keyring";

/// Most bytes of key files loaded from one keyring (GNU Guix's is 1.6 MB).
pub const MAX_BYTES: usize = 64 << 20;

/// Most key packets loaded from one keyring (GNU Guix's has 282).
pub const MAX_KEYS: usize = 100_000;

/// One key packet from the keyring.
#[derive(Debug)]
pub struct KeyringKey {
    key: Key<PublicParts, UnspecifiedRole>,
    fingerprint: Fingerprint,
    primary: Fingerprint,
    file: String,
    /// Made on first use: most keys of a keyring never sign the range.
    prepared: std::sync::OnceLock<Prepared>,
}

impl KeyringKey {
    /// The key's own fingerprint: what `.guix-authorizations` must list.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The fingerprint of the primary key this key belongs to (its own
    /// fingerprint when it is a primary key).
    pub fn primary(&self) -> &Fingerprint {
        &self.primary
    }

    /// Whether this is a subkey.
    pub fn is_subkey(&self) -> bool {
        self.primary != self.fingerprint
    }

    /// The keyring file it was read from.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The key material, for signature verification.
    pub fn key(&self) -> &Key<PublicParts, UnspecifiedRole> {
        &self.key
    }

    pub(crate) fn prepared(&self) -> &Prepared {
        self.prepared.get_or_init(|| Prepared::new(&self.key))
    }
}

/// All keys of a keyring branch.
///
/// ```no_run
/// # fn main() -> Result<(), git_authenticate::Error> {
/// let repo = git2::Repository::open(".")?;
/// let keyring = git_authenticate::Keyring::load(&repo, "origin/keyring")?;
/// println!("{} keys on {}", keyring.len(), keyring.reference());
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct Keyring {
    reference: String,
    keys: Vec<KeyringKey>,
    by_fingerprint: HashMap<Fingerprint, Vec<usize>>,
    by_key_id: HashMap<KeyID, Vec<usize>>,
    /// The key files, for the strict policy's certificates.
    files: Vec<Vec<u8>>,
    /// Canonical certificates by the fingerprint of each of their keys,
    /// made on first use (only the strict policy needs them).
    certificates: std::sync::OnceLock<HashMap<Fingerprint, std::sync::Arc<openpgp::Cert>>>,
}

impl Keyring {
    /// Loads every top-level `*.key` blob of the branch `reference`, local
    /// (`keyring`) or remote-tracking (`origin/keyring`), or a full
    /// reference name (`refs/…`).
    pub fn load(repo: &Repository, reference: &str) -> Result<Self, Error> {
        let tree = keyring_tree(repo, reference)?;
        let mut keyring = Keyring {
            reference: reference.to_owned(),
            ..Keyring::default()
        };
        let mut bytes = 0usize;
        for entry in tree.iter() {
            let file = String::from_utf8_lossy(entry.name_bytes()).into_owned();
            if !file.ends_with(".key") {
                continue;
            }
            let malformed = |reason: String| Error::MalformedKey {
                reference: reference.to_owned(),
                file: file.clone(),
                blob: entry.id(),
                reason,
            };
            if entry.kind() != Some(ObjectType::Blob) {
                return Err(malformed("it is not a regular file".into()));
            }
            let (size, _) = repo.odb()?.read_header(entry.id())?;
            bytes += size;
            if bytes > MAX_BYTES {
                return Err(keyring.too_large(format!("its key files exceed {MAX_BYTES} bytes")));
            }
            let blob = repo.find_blob(entry.id())?;
            keyring.add_file(&file, blob.content()).map_err(malformed)?;
        }
        Ok(keyring)
    }

    /// Fails as [`Keyring::load`] would when the branch does not exist,
    /// without reading any key.
    pub fn check_exists(repo: &Repository, reference: &str) -> Result<(), Error> {
        keyring_tree(repo, reference).map(drop)
    }

    /// Builds a keyring from key files given as (name, contents), binary
    /// or ASCII-armored, each possibly holding several certificates.
    pub fn from_files<'a>(
        reference: &str,
        files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Self, Error> {
        let mut keyring = Keyring {
            reference: reference.to_owned(),
            ..Keyring::default()
        };
        for (file, contents) in files {
            keyring
                .add_file(file, contents)
                .map_err(|reason| Error::MalformedKey {
                    reference: reference.to_owned(),
                    file: file.to_owned(),
                    blob: Oid::ZERO_SHA1,
                    reason,
                })?;
        }
        Ok(keyring)
    }

    fn too_large(&self, reason: String) -> Error {
        Error::KeyringTooLarge {
            reference: self.reference.clone(),
            reason,
        }
    }

    /// Adds every key packet of one file; the reason on failure.
    fn add_file(&mut self, file: &str, contents: &[u8]) -> Result<(), String> {
        let keys = read_key_packets(contents)?;
        self.files.push(contents.to_vec());
        for (key, primary) in keys {
            if self.keys.len() >= MAX_KEYS {
                return Err(format!("the keyring holds more than {MAX_KEYS} keys"));
            }
            self.add_key(file, key, primary);
        }
        Ok(())
    }

    fn add_key(
        &mut self,
        file: &str,
        key: Key<PublicParts, UnspecifiedRole>,
        primary: Fingerprint,
    ) {
        let fingerprint = Fingerprint::from(&key.fingerprint());
        let same = self.by_fingerprint.get(&fingerprint).into_iter().flatten();
        // The same key listed twice (in two files, say) is stored once.
        if same.clone().any(|&i| self.keys[i].key.mpis() == key.mpis()) {
            return;
        }
        let index = self.keys.len();
        self.by_fingerprint
            .entry(fingerprint.clone())
            .or_default()
            .push(index);
        self.by_key_id.entry(key.keyid()).or_default().push(index);
        self.keys.push(KeyringKey {
            key,
            fingerprint,
            primary,
            file: file.to_owned(),
            prepared: std::sync::OnceLock::new(),
        });
    }

    /// The reference the keyring was read from.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// Number of key packets (primary keys and subkeys).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the keyring holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every key.
    pub fn keys(&self) -> &[KeyringKey] {
        &self.keys
    }

    /// Keys whose fingerprint is `fingerprint` (several only when the same
    /// fingerprint comes with different material, which a hostile keyring
    /// may try).
    pub fn by_fingerprint(&self, fingerprint: &Fingerprint) -> Vec<&KeyringKey> {
        self.lookup(self.by_fingerprint.get(fingerprint))
    }

    /// Keys whose 64-bit key ID is `id`.
    pub fn by_key_id(&self, id: &KeyID) -> Vec<&KeyringKey> {
        self.lookup(self.by_key_id.get(id))
    }

    /// The certificate holding the key `fingerprint`, canonicalized by
    /// sequoia (self-signatures and bindings checked), if it has one.
    pub fn certificate(&self, fingerprint: &Fingerprint) -> Option<std::sync::Arc<openpgp::Cert>> {
        self.certificates
            .get_or_init(|| {
                let mut by_key = HashMap::new();
                for file in &self.files {
                    let Ok(parser) = openpgp::cert::CertParser::from_bytes(file) else {
                        continue;
                    };
                    for cert in parser.flatten() {
                        let cert = std::sync::Arc::new(cert);
                        for key in cert.keys() {
                            by_key
                                .insert(Fingerprint::from(&key.key().fingerprint()), cert.clone());
                        }
                    }
                }
                by_key
            })
            .get(fingerprint)
            .cloned()
    }

    fn lookup(&self, indices: Option<&Vec<usize>>) -> Vec<&KeyringKey> {
        indices
            .into_iter()
            .flatten()
            .map(|&i| &self.keys[i])
            .collect()
    }
}

/// The tree at the tip of the keyring branch.
fn keyring_tree<'r>(repo: &'r Repository, reference: &str) -> Result<git2::Tree<'r>, Error> {
    let candidates = if reference.starts_with("refs/") {
        vec![reference.to_owned()]
    } else {
        vec![
            format!("refs/heads/{reference}"),
            format!("refs/remotes/{reference}"),
        ]
    };
    let found = candidates
        .iter()
        .find_map(|name| repo.find_reference(name).ok());
    match found {
        Some(r) => Ok(r.peel_to_commit()?.tree()?),
        None => Err(Error::KeyringNotFound {
            reference: reference.to_owned(),
            suggestion: remote_keyring_named(repo, reference),
        }),
    }
}

/// A remote-tracking branch with the same last component as `reference`,
/// e.g. `origin/keyring` when `keyring` was asked for.
fn remote_keyring_named(repo: &Repository, reference: &str) -> Option<String> {
    let base = reference.rsplit('/').next()?;
    let branches = repo.branches(Some(git2::BranchType::Remote)).ok()?;
    branches
        .filter_map(|b| b.ok()?.0.name().ok().flatten().map(str::to_owned))
        .find(|name| name != reference && name.rsplit('/').next() == Some(base))
}

type KeyPacket = (Key<PublicParts, UnspecifiedRole>, Fingerprint);

/// Every primary key and subkey packet of a file, each with the
/// fingerprint of the primary key it follows.
///
/// As in Guix, an armored file is decoded from its first armor block, which
/// must carry a valid checksum; an empty file holds no key.
fn read_key_packets(contents: &[u8]) -> Result<Vec<KeyPacket>, String> {
    let mut keys = Vec::new();
    let decoded;
    let packets = if armor::looks_armored(contents) {
        decoded = armor::decode_first_block(contents)
            .map_err(|e| format!("malformed ASCII-armored key: {e}"))?
            .1;
        &decoded
    } else {
        contents
    };
    if packets.is_empty() {
        return Ok(keys);
    }
    let mut primary: Option<Fingerprint> = None;
    let mut ppr = PacketParser::from_bytes(packets).map_err(|e| e.to_string())?;
    while let PacketParserResult::Some(pp) = ppr {
        let (packet, next) = pp.next().map_err(|e| e.to_string())?;
        ppr = next;
        let (key, is_primary) = match packet {
            Packet::PublicKey(k) => (k.role_into_unspecified(), true),
            Packet::SecretKey(k) => (k.parts_into_public().role_into_unspecified(), true),
            Packet::PublicSubkey(k) => (k.role_into_unspecified(), false),
            Packet::SecretSubkey(k) => (k.parts_into_public().role_into_unspecified(), false),
            Packet::Unknown(u) => {
                return Err(format!("unreadable {} packet: {}", u.tag(), u.error()))
            }
            _ => continue,
        };
        let fingerprint = Fingerprint::from(&key.fingerprint());
        if is_primary {
            primary = Some(fingerprint.clone());
        }
        // A subkey before any primary key stands for itself.
        keys.push((key, primary.clone().unwrap_or(fingerprint)));
    }
    Ok(keys)
}
