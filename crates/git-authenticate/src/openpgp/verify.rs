//! Verifying a commit's signature with the keyring: finding the issuer's
//! keys, then checking the signature with each (RULE.md steps 4–5).
//! Above both the signature and the keyring, which know nothing of each
//! other.

use sequoia_openpgp::types::SignatureType;

use crate::openpgp::crypto::{self, Engine};
use crate::openpgp::fingerprint::{Fingerprint, Issuer, KeyId};
use crate::openpgp::keyring::{Keyring, KeyringKey};
use crate::openpgp::signature::{CommitSignature, SignatureError, SignatureProblem};

impl CommitSignature<'_> {
    /// Finds the issuer in `keyring` and verifies the signature with it;
    /// returns the key that made it.
    pub fn verify<'k>(&self, keyring: &'k Keyring) -> Result<&'k KeyringKey, SignatureError> {
        self.verify_with(keyring, Engine::Fastest)
    }

    /// [`CommitSignature::verify`] on a chosen implementation: for
    /// differential testing only (`fuzzing::verify_with`).
    pub(crate) fn verify_with<'k>(
        &self,
        keyring: &'k Keyring,
        engine: Engine,
    ) -> Result<&'k KeyringKey, SignatureError> {
        // Guix's `verify-openpgp-signature` returns `unsupported-signature`
        // for any other type, which `commit-signing-key` does not expect
        // (it crashes): refused, with a clear message.
        if self.packet.typ() != SignatureType::Binary {
            return Err(SignatureError::Malformed(SignatureProblem::NotBinary {
                signature_type: self.packet.typ().into(),
            }));
        }
        let candidates = self.issuer_candidates(keyring)?;
        // Guix finds the key, then fails to verify an algorithm it does
        // not read (ECDSA, RFC 9580's Ed25519…).
        let algorithm = self.packet.pk_algo();
        if !crypto::guix_reads_algorithm(algorithm) {
            return Err(SignatureError::Malformed(
                SignatureProblem::UnsupportedAlgorithm {
                    algorithm: algorithm.into(),
                },
            ));
        }
        // Guix hands libgcrypt an EdDSA signature's R and S as it read
        // them, and libgcrypt refuses other lengths than 32 octets (Guix
        // then fails).
        if let Some(length) = self.encoding.eddsa_length {
            return Err(SignatureError::Bad {
                fingerprint: candidates[0].fingerprint().clone(),
                reason: format!(
                    "its EdDSA R or S is read as {length} octets, which libgcrypt, hence \
                     Guix, cannot verify (32 are needed)"
                ),
            });
        }
        // Guix reads the signed data as a string decoded from UTF-8
        // (Guile-Git's `commit-extract-signature`), bytes that are not
        // UTF-8 replaced, and hashes that string re-encoded: a commit whose
        // signed data is not UTF-8 (a Latin-1 message or author) never
        // verifies there as it was signed (Guix reports a bad signature, or
        // fails on a code point beyond Unicode). Refused the same way, after
        // the key lookup, as in Guix.
        if std::str::from_utf8(&self.signed_data).is_err() {
            return Err(SignatureError::Bad {
                fingerprint: candidates[0].fingerprint().clone(),
                reason: "the signed commit data is not valid UTF-8, which Guix cannot verify"
                    .into(),
            });
        }
        let mut last_failure = None;
        // Several candidates only when key IDs collide or a fingerprint is
        // listed with different material: the one whose material verifies
        // the signature is the signer, whatever the others claim.
        for key in &candidates {
            match crypto::verify(
                engine,
                &self.packet,
                key.key(),
                key.prepared(),
                &self.signed_data,
            ) {
                Ok(()) => return Ok(key),
                Err(e) => last_failure = Some((key.fingerprint().clone(), e)),
            }
        }
        let (fingerprint, reason) = last_failure.expect("candidates are never empty");
        Err(SignatureError::Bad {
            fingerprint,
            reason,
        })
    }

    /// The keys the signature may come from: by issuer fingerprint when the
    /// signature names one (it then decides alone), else by key ID.
    fn issuer_candidates<'k>(
        &self,
        keyring: &'k Keyring,
    ) -> Result<Vec<&'k KeyringKey>, SignatureError> {
        let (issuer, keys) = if let Some(fpr) = self.packet.issuer_fingerprints().next() {
            let fpr = Fingerprint::from(fpr);
            let keys = keyring.by_fingerprint(&fpr);
            (Issuer::Fingerprint(fpr), keys)
        } else if let Some(id) = self.packet.issuers().next() {
            let key_id = KeyId::from_bytes(id.as_bytes());
            (Issuer::KeyId(key_id), keyring.by_key_id(id))
        } else {
            return Err(SignatureError::Malformed(SignatureProblem::NoIssuer));
        };
        match keys.is_empty() {
            true => Err(SignatureError::MissingKey(issuer)),
            false => Ok(keys),
        }
    }
}
