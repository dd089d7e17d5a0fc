//! The authorized keys, as the keyring holds them: present, alive, and
//! the key gpg actually signs with.

use std::time::SystemTime;

use sequoia_openpgp as openpgp;

use openpgp::cert::amalgamation::key::PrimaryKey;
use openpgp::cert::amalgamation::ValidAmalgamation;
use openpgp::policy::StandardPolicy;
use openpgp::types::RevocationStatus;

use super::{Diagnosis, Options, Problem};
use crate::fingerprint::Fingerprint;
use crate::keyring::Keyring;

/// Checks every key some branch authorizes, and the keyring's keys that
/// none does.
pub(super) fn check(keyring: &Keyring, options: &Options, diagnosis: &mut Diagnosis) {
    let authorized = diagnosis.authorized_keys();
    for (fingerprint, branches) in &authorized {
        if keyring.by_fingerprint(fingerprint).is_empty() {
            diagnosis.push(Problem::AuthorizedKeyMissing {
                fingerprint: fingerprint.clone(),
                branches: branches.iter().cloned().collect(),
                keyring: diagnosis.keyring.clone(),
            });
            continue;
        }
        let Some(cert) = keyring.certificate(fingerprint) else {
            continue;
        };
        if let Some(state) = KeyState::of(&cert, fingerprint, options.now) {
            state.report(fingerprint, options, diagnosis);
        }
    }
    for key in keyring.keys().iter().filter(|k| !k.is_subkey()) {
        let cert_keys = keyring
            .certificate(key.fingerprint())
            .map(|cert| {
                cert.keys()
                    .map(|k| Fingerprint::from(&k.key().fingerprint()))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_else(|| vec![key.fingerprint().clone()]);
        if !cert_keys.iter().any(|f| authorized.contains_key(f)) {
            diagnosis.push(Problem::UnauthorizedKeyringKey {
                fingerprint: key.fingerprint().clone(),
                file: key.file().to_owned(),
            });
        }
    }
}

/// What a certificate says about one of its keys, now.
struct KeyState {
    revoked: bool,
    /// When the key (or its certificate) expires.
    expires: Option<SystemTime>,
    /// The key gpg signs with for this certificate: its newest signing
    /// subkey that is not revoked, else the primary key if it can sign.
    signs_with: Option<Fingerprint>,
}

impl KeyState {
    /// `None` when sequoia's standard policy does not accept the
    /// certificate (old algorithms): nothing can be said then.
    fn of(cert: &openpgp::Cert, fingerprint: &Fingerprint, now: SystemTime) -> Option<KeyState> {
        let policy = StandardPolicy::new();
        let valid = cert.with_policy(&policy, now).ok()?;
        let key = valid
            .keys()
            .find(|k| Fingerprint::from(&k.key().fingerprint()) == *fingerprint)?;
        let primary = valid.primary_key();
        let revoked = |status: RevocationStatus| matches!(status, RevocationStatus::Revoked(_));
        let expires = [primary.key_expiration_time(), key.key_expiration_time()]
            .into_iter()
            .flatten()
            .min();
        let signing: Vec<_> = valid
            .keys()
            .for_signing()
            .filter(|k| !revoked(k.revocation_status()))
            .collect();
        let newest_subkey = signing
            .iter()
            .filter(|k| !k.primary())
            .max_by_key(|k| k.key().creation_time());
        let signs_with = newest_subkey
            .or_else(|| signing.iter().find(|k| k.primary()))
            .map(|k| Fingerprint::from(&k.key().fingerprint()));
        Some(KeyState {
            revoked: revoked(valid.revocation_status()) || revoked(key.revocation_status()),
            expires,
            signs_with,
        })
    }

    fn report(self, fingerprint: &Fingerprint, options: &Options, diagnosis: &mut Diagnosis) {
        let fingerprint = fingerprint.clone();
        let left = self
            .expires
            .map(|at| (at, at.duration_since(options.now).ok()));
        if self.revoked {
            diagnosis.push(Problem::KeyRevoked {
                fingerprint: fingerprint.clone(),
            });
        } else if let Some((at, None)) = left {
            diagnosis.push(Problem::KeyExpired {
                fingerprint: fingerprint.clone(),
                at,
            });
        } else if let Some((at, Some(left))) = left {
            if left <= options.expiry_warning {
                diagnosis.push(Problem::KeyExpiring {
                    fingerprint: fingerprint.clone(),
                    at,
                    days: left.as_secs() / 86_400,
                });
            }
        }
        if !self.revoked && self.signs_with.as_ref() != Some(&fingerprint) {
            diagnosis.push(Problem::ListedKeyDoesNotSign {
                listed: fingerprint,
                signs_with: self.signs_with,
            });
        }
    }
}
