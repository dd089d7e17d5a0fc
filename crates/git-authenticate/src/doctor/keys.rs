//! The authorized keys, as the keyring holds them: present, alive, and
//! the key gpg actually signs with.

use std::time::SystemTime;

use sequoia_openpgp as openpgp;

use openpgp::cert::amalgamation::key::PrimaryKey;
use openpgp::cert::amalgamation::ValidAmalgamation;
use openpgp::policy::StandardPolicy;
use openpgp::types::RevocationStatus;

use super::{Diagnosis, Options, Problem};
use crate::openpgp::fingerprint::Fingerprint;
use crate::openpgp::keyring::Keyring;

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
            // Listing both a primary key and the subkey that signs is fine.
            let also_listed = state
                .signs_with
                .as_ref()
                .is_some_and(|s| authorized.contains_key(s));
            state.report(fingerprint, also_listed, options, diagnosis);
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
    /// Whether the key itself is marked for signing.
    can_sign: bool,
    /// The key gpg signs with for this certificate, as gpg picks it: the
    /// newest signing subkey that is alive and not revoked, else the
    /// primary key if it can sign. When nothing is alive (an expired
    /// certificate, reported as such), expiry is ignored.
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
        let alive: Vec<_> = signing.iter().filter(|k| k.alive().is_ok()).collect();
        let candidates: Vec<_> = match alive.is_empty() {
            true => signing.iter().collect(),
            false => alive,
        };
        let newest_subkey = candidates
            .iter()
            .filter(|k| !k.primary())
            .max_by_key(|k| k.key().creation_time());
        let signs_with = newest_subkey
            .or_else(|| candidates.iter().find(|k| k.primary()))
            .map(|k| Fingerprint::from(&k.key().fingerprint()));
        let can_sign = signing
            .iter()
            .any(|k| Fingerprint::from(&k.key().fingerprint()) == *fingerprint);
        Some(KeyState {
            revoked: revoked(valid.revocation_status()) || revoked(key.revocation_status()),
            expires,
            can_sign,
            signs_with,
        })
    }

    /// `signer_listed`: the key gpg signs with is authorized too.
    fn report(
        self,
        fingerprint: &Fingerprint,
        signer_listed: bool,
        options: &Options,
        diagnosis: &mut Diagnosis,
    ) {
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
        if !self.revoked && !signer_listed && self.signs_with.as_ref() != Some(&fingerprint) {
            diagnosis.push(Problem::ListedKeyDoesNotSign {
                listed: fingerprint,
                listed_can_sign: self.can_sign,
                signs_with: self.signs_with,
            });
        }
    }
}
