//! Which keys count: Guix's rule, or, opt-in, a stricter one.
//!
//! Guix checks only that the signature verifies with the key material it
//! names: an expired or revoked key, a subkey without a binding signature,
//! a weak algorithm, a signature without a creation time or one dated
//! before its key still signs. The strict policy also requires, at the
//! signature's creation time, what sequoia's standard policy requires.

use std::time::SystemTime;

use sequoia_openpgp as openpgp;

use openpgp::cert::amalgamation::ValidAmalgamation;
use openpgp::packet::Signature;
use openpgp::policy::{HashAlgoSecurity, Policy as _, StandardPolicy};
use openpgp::types::{HashAlgorithm, KeyFlags, RevocationStatus};

use crate::openpgp::keyring::{Keyring, KeyringKey};
use crate::openpgp::signature::CommitSignature;
use untrusted_text::Untrusted;

/// How keys are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Exactly Guix's rule (the default).
    #[default]
    Guix,
    /// Guix's rule, and: the signature has a creation time, not earlier
    /// than the key's; at that time the signing key's certificate is
    /// valid, the key is alive (not expired), not revoked, bound to its
    /// certificate by a valid binding signature and marked for signing;
    /// and sequoia's standard policy accepts the key's algorithm and the
    /// signature's hash. Numbers (MPIs) must be encoded as RFC 4880 says,
    /// in the signature and in the key's file (GitHub's are not).
    Strict,
}

/// Why the strict policy refuses a signature that Guix's rule accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyRefusal {
    /// The signature has no creation-time subpacket.
    #[error("the signature has no creation time")]
    NoCreationTime,
    /// The signature is dated before the key was created (a wrong clock,
    /// or a backdated signature).
    #[error(
        "the signature (made {}) predates the key (created {})",
        timestamp(*signature), timestamp(*key)
    )]
    PredatesKey {
        /// The signature's creation time.
        signature: SystemTime,
        /// The key's creation time.
        key: SystemTime,
    },
    /// Sequoia's standard policy refuses the signature's hash algorithm.
    #[error(
        "the standard policy refuses its {algorithm} signature: {}",
        Untrusted::new(reason)
    )]
    WeakHash {
        /// The hash algorithm.
        algorithm: HashAlgorithm,
        /// What the policy said.
        reason: String,
    },
    /// No certificate in the keyring holds the key with valid
    /// self-signatures.
    #[error("the key has no valid certificate in the keyring")]
    NoCertificate,
    /// The certificate is not valid when the signature was made.
    #[error(
        "its certificate is not valid on {}: {}",
        timestamp(*at),
        Untrusted::new(reason)
    )]
    InvalidCertificate {
        /// The signature's creation time.
        at: SystemTime,
        /// What the policy said.
        reason: String,
    },
    /// The certificate was revoked.
    #[error("its certificate was revoked on {}", timestamp(*at))]
    CertificateRevoked {
        /// The signature's creation time.
        at: SystemTime,
    },
    /// The key is not bound to its certificate.
    #[error("the key has no valid binding signature on {}", timestamp(*at))]
    Unbound {
        /// The signature's creation time.
        at: SystemTime,
    },
    /// The key had expired (or was not yet valid).
    #[error(
        "the key was not alive on {}: {}",
        timestamp(*at),
        Untrusted::new(reason)
    )]
    NotAlive {
        /// The signature's creation time.
        at: SystemTime,
        /// What the policy said.
        reason: String,
    },
    /// The key was revoked.
    #[error("the key was revoked on {}", timestamp(*at))]
    KeyRevoked {
        /// The signature's creation time.
        at: SystemTime,
    },
    /// The key's flags do not allow signing.
    #[error("the key is not marked for signing")]
    NotForSigning,
    /// The signature or the key's file encodes a number (MPI) with a bit
    /// count other than the number's, as GitHub does: RFC 4880 (section
    /// 3.2) does not allow it, Guix and GnuPG accept it.
    #[error(
        "{0} encodes a number with a bit count other than the number's (RFC 4880, section 3.2)"
    )]
    NonCanonical(NonCanonical),
}

/// Where the strict policy found a number not canonically encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NonCanonical {
    /// In the commit's signature.
    Signature,
    /// In the signing key's file on the keyring branch (its key or its
    /// signatures): sequoia then cannot check the certificate.
    KeyFile,
}

impl std::fmt::Display for NonCanonical {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NonCanonical::Signature => "the signature",
            NonCanonical::KeyFile => "the key's file",
        })
    }
}

impl Policy {
    /// Why `key` may not have made `signature` under this policy, if so.
    pub(crate) fn refusal(
        self,
        keyring: &Keyring,
        key: &KeyringKey,
        signature: &CommitSignature,
    ) -> Option<PolicyRefusal> {
        match self {
            Policy::Guix => None,
            Policy::Strict => canonical(key, signature)
                .and_then(|()| strict_refusal(keyring, key, signature.packet()))
                .err(),
        }
    }
}

/// The strict policy's first check: numbers encoded as RFC 4880 says.
fn canonical(key: &KeyringKey, signature: &CommitSignature) -> Result<(), PolicyRefusal> {
    if signature.non_canonical() {
        return Err(PolicyRefusal::NonCanonical(NonCanonical::Signature));
    }
    if key.non_canonical() {
        return Err(PolicyRefusal::NonCanonical(NonCanonical::KeyFile));
    }
    Ok(())
}

fn strict_refusal(
    keyring: &Keyring,
    key: &KeyringKey,
    signature: &Signature,
) -> Result<(), PolicyRefusal> {
    let policy = StandardPolicy::new();
    let time = signature
        .signature_creation_time()
        .ok_or(PolicyRefusal::NoCreationTime)?;
    let created = key.key().creation_time();
    if time < created {
        return Err(PolicyRefusal::PredatesKey {
            signature: time,
            key: created,
        });
    }
    policy
        .signature(signature, HashAlgoSecurity::CollisionResistance)
        .map_err(|e| PolicyRefusal::WeakHash {
            algorithm: signature.hash_algo(),
            reason: e.to_string(),
        })?;
    let certificate = keyring
        .certificate(key.fingerprint())
        .ok_or(PolicyRefusal::NoCertificate)?;
    let valid =
        certificate
            .with_policy(&policy, time)
            .map_err(|e| PolicyRefusal::InvalidCertificate {
                at: time,
                reason: e.to_string(),
            })?;
    if let RevocationStatus::Revoked(_) = valid.revocation_status() {
        return Err(PolicyRefusal::CertificateRevoked { at: time });
    }
    let handle = openpgp::KeyHandle::from(key.key().fingerprint());
    let bound = valid
        .keys()
        .key_handle(handle)
        .next()
        .ok_or(PolicyRefusal::Unbound { at: time })?;
    bound.alive().map_err(|e| PolicyRefusal::NotAlive {
        at: time,
        reason: e.to_string(),
    })?;
    if let RevocationStatus::Revoked(_) = bound.revocation_status() {
        return Err(PolicyRefusal::KeyRevoked { at: time });
    }
    if !bound.has_any_key_flag(KeyFlags::empty().set_signing()) {
        return Err(PolicyRefusal::NotForSigning);
    }
    Ok(())
}

/// A time for messages, in UTC: `2021-03-04 05:06:07 UTC` (times before
/// 1970 are shown as 1970-01-01 00:00:00 UTC; OpenPGP has none).
pub(crate) fn timestamp(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (hours, minutes, seconds) = (secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let (y, m, d) = civil_date((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02} {hours:02}:{minutes:02}:{seconds:02} UTC")
}

/// The civil date (year, month, day) `days` after 1970-01-01 (Howard
/// Hinnant's algorithm).
pub(crate) fn civil_date(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_civil_utc() {
        let at = |secs| timestamp(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(at(1_609_459_200), "2021-01-01 00:00:00 UTC");
        assert_eq!(at(1_709_164_800 + 3_723), "2024-02-29 01:02:03 UTC");
        assert_eq!(at(1_735_689_599), "2024-12-31 23:59:59 UTC");
    }
}
