//! Which keys count: Guix's rule, or, opt-in, a stricter one.
//!
//! Guix checks only that the signature verifies with the key material it
//! names: an expired or revoked key, a subkey without a binding signature,
//! or a weak algorithm still signs. The strict policy also requires, at the
//! signature's creation time, what sequoia's standard policy requires.

use std::time::SystemTime;

use sequoia_openpgp as openpgp;

use openpgp::cert::amalgamation::ValidAmalgamation;
use openpgp::packet::Signature;
use openpgp::policy::{HashAlgoSecurity, Policy as _, StandardPolicy};
use openpgp::types::{KeyFlags, RevocationStatus};

use crate::keyring::{Keyring, KeyringKey};

/// How keys are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Exactly Guix's rule (the default).
    #[default]
    Guix,
    /// Guix's rule, and at the signature's creation time: the signing key's
    /// certificate is valid, the key is alive (not expired), not revoked,
    /// bound to its certificate by a valid binding signature and marked for
    /// signing, and sequoia's standard policy accepts the key's algorithm
    /// and the signature's hash.
    Strict,
}

impl Policy {
    /// Why `key` may not have made `signature` under this policy, if so.
    pub(crate) fn refusal(
        self,
        keyring: &Keyring,
        key: &KeyringKey,
        signature: &Signature,
    ) -> Option<String> {
        match self {
            Policy::Guix => None,
            Policy::Strict => strict_refusal(keyring, key, signature).err(),
        }
    }
}

fn strict_refusal(
    keyring: &Keyring,
    key: &KeyringKey,
    signature: &Signature,
) -> Result<(), String> {
    let policy = StandardPolicy::new();
    let time = signature
        .signature_creation_time()
        .ok_or("the signature has no creation time")?;
    policy
        .signature(signature, HashAlgoSecurity::CollisionResistance)
        .map_err(|e| {
            format!(
                "the standard policy refuses its {} signature: {e}",
                signature.hash_algo()
            )
        })?;
    let certificate = keyring
        .certificate(key.fingerprint())
        .ok_or("the key has no valid certificate in the keyring")?;
    let valid = certificate
        .with_policy(&policy, time)
        .map_err(|e| format!("its certificate is not valid on {}: {e}", day(time)))?;
    if let RevocationStatus::Revoked(_) = valid.revocation_status() {
        return Err(format!("its certificate was revoked on {}", day(time)));
    }
    let handle = openpgp::KeyHandle::from(key.key().fingerprint());
    let bound = valid
        .keys()
        .key_handle(handle)
        .next()
        .ok_or_else(|| format!("the key has no valid binding signature on {}", day(time)))?;
    bound
        .alive()
        .map_err(|e| format!("the key was not alive on {}: {e}", day(time)))?;
    if let RevocationStatus::Revoked(_) = bound.revocation_status() {
        return Err(format!("the key was revoked on {}", day(time)));
    }
    if !bound.has_any_key_flag(KeyFlags::empty().set_signing()) {
        return Err("the key is not marked for signing".into());
    }
    Ok(())
}

/// A date for messages, e.g. `2021-03-04`.
fn day(time: SystemTime) -> String {
    let days = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn days_are_civil_dates() {
        let at = |secs| day(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01");
        assert_eq!(at(1_609_459_200), "2021-01-01");
        assert_eq!(at(1_709_164_800), "2024-02-29");
    }
}
