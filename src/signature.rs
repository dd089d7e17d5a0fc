//! A commit's OpenPGP signature: reading it from the `gpgsig` header and
//! verifying it against the keyring.
//!
//! Verification follows Guix: the issuer is found by its fingerprint
//! subpacket, else by its key ID, and the signature must verify with that
//! key's material. No validity policy applies (expiry, revocation and
//! binding signatures are not looked at). Sequoia adds two checks of its
//! own that Guix lacks: the signature must carry a creation time, and that
//! time must not be earlier than the key's creation time.

use std::borrow::Cow;

use git2::{Oid, Repository};
use sequoia_openpgp as openpgp;

use openpgp::parse::{PacketParser, PacketParserResult, Parse};
use openpgp::types::{HashAlgorithm, SignatureType};
use openpgp::Packet;

use crate::commit::CommitObject;
use crate::crypto::{self, Engine};
use crate::error::Error;
use crate::fingerprint::Fingerprint;
use crate::keyring::{Keyring, KeyringKey};

/// Larger `gpgsig` headers are refused (real ones are under 2 KiB).
pub const MAX_SIZE: usize = 64 << 10;

/// The signature of one commit and the data it signs (borrowed from the
/// commit already read while checking a history, owned by
/// [`CommitSignature::read`]).
#[derive(Debug)]
pub struct CommitSignature<'a> {
    commit: Oid,
    packet: openpgp::packet::Signature,
    signed_data: Cow<'a, [u8]>,
}

impl CommitSignature<'static> {
    /// Reads and parses the `gpgsig` header of `commit`.
    ///
    /// Fails with [`Error::Unsigned`] when there is none and
    /// [`Error::MalformedSignature`] when it is not one ASCII-armored
    /// OpenPGP signature packet.
    pub fn read(repo: &Repository, commit: Oid) -> Result<Self, Error> {
        let object = CommitObject::read(repo, commit)?;
        let signature = CommitSignature::of(&object)?;
        Ok(CommitSignature {
            commit: signature.commit,
            packet: signature.packet,
            signed_data: Cow::Owned(signature.signed_data.into_owned()),
        })
    }
}

impl<'a> CommitSignature<'a> {
    /// The signature of a commit already read: the signed data is not
    /// copied, as every commit of a history goes through here.
    pub(crate) fn of(commit: &'a CommitObject) -> Result<Self, Error> {
        let id = commit.id;
        let Some((armored, signed_data)) = &commit.signature else {
            return Err(Error::Unsigned { commit: id });
        };
        let packet = parse_armored(armored)
            .map_err(|reason| Error::MalformedSignature { commit: id, reason })?;
        Ok(CommitSignature {
            commit: id,
            packet,
            signed_data: Cow::Borrowed(signed_data),
        })
    }

    /// The hash algorithm the signature was made with.
    pub fn hash_algorithm(&self) -> HashAlgorithm {
        self.packet.hash_algo()
    }

    /// The signature packet.
    pub fn packet(&self) -> &openpgp::packet::Signature {
        &self.packet
    }

    /// Finds the issuer in `keyring` and verifies the signature with it;
    /// returns the key that made it.
    pub fn verify<'k>(&self, keyring: &'k Keyring) -> Result<&'k KeyringKey, Error> {
        self.verify_with(keyring, Engine::Fastest)
    }

    /// [`CommitSignature::verify`] on a chosen implementation.
    pub fn verify_with<'k>(
        &self,
        keyring: &'k Keyring,
        engine: Engine,
    ) -> Result<&'k KeyringKey, Error> {
        let commit = self.commit;
        if self.packet.typ() != SignatureType::Binary {
            return Err(Error::MalformedSignature {
                commit,
                reason: format!(
                    "it is a {} signature; only binary-document signatures are accepted",
                    self.packet.typ()
                ),
            });
        }
        let candidates = self.issuer_candidates(keyring)?;
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
        Err(Error::BadSignature {
            commit,
            fingerprint,
            reason,
        })
    }

    /// The keys the signature may come from: by issuer fingerprint when the
    /// signature names one (it then decides alone), else by key ID.
    fn issuer_candidates<'k>(&self, keyring: &'k Keyring) -> Result<Vec<&'k KeyringKey>, Error> {
        let commit = self.commit;
        let missing = |issuer: String, fingerprint: Option<Fingerprint>| Error::MissingKey {
            commit,
            issuer,
            fingerprint,
            keyring: keyring.reference().to_owned(),
        };
        if let Some(fpr) = self.packet.issuer_fingerprints().next() {
            // As Guix: a key ID that contradicts the fingerprint makes the
            // signature invalid, whichever key would verify it.
            if let Some(id) = self.packet.issuers().next() {
                if *id != openpgp::KeyID::from(fpr) {
                    return Err(Error::MalformedSignature {
                        commit,
                        reason: format!(
                            "its issuer key ID {} does not match its issuer fingerprint {}",
                            id.to_hex(),
                            Fingerprint::from(fpr)
                        ),
                    });
                }
            }
            let fpr = Fingerprint::from(fpr);
            let keys = keyring.by_fingerprint(&fpr);
            return if keys.is_empty() {
                Err(missing(fpr.to_string(), Some(fpr)))
            } else {
                Ok(keys)
            };
        }
        if let Some(id) = self.packet.issuers().next() {
            let keys = keyring.by_key_id(id);
            return if keys.is_empty() {
                Err(missing(id.to_hex(), None))
            } else {
                Ok(keys)
            };
        }
        Err(Error::MalformedSignature {
            commit,
            reason: "the signature names no issuer key".into(),
        })
    }
}

/// Splits a raw commit object into its `gpgsig` signature and the data the
/// signature covers, exactly as libgit2 (and so Guix) does; `None` when
/// unsigned.
///
/// ```
/// let raw = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ngpgsig A\n B\n\nmessage\n";
/// let (signature, signed) = git_authenticate::signature::extract_signature(raw).unwrap();
/// assert_eq!(signature, b"A\nB");
/// assert_eq!(signed, b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nmessage\n");
/// ```
pub fn extract_signature(raw_commit: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    crate::commit::extract_signature(raw_commit)
}

/// Parses a `gpgsig` header: exactly one ASCII-armored OpenPGP signature
/// packet; the reason it is refused otherwise.
pub fn parse_armored(armored: &[u8]) -> Result<openpgp::packet::Signature, String> {
    if armored.len() > MAX_SIZE {
        return Err(format!(
            "the signature is {} bytes long, more than {MAX_SIZE}",
            armored.len()
        ));
    }
    let text = armored.trim_ascii_start();
    if let Some(other) = foreign_signature(text) {
        return Err(format!(
            "it is {other}; only OpenPGP signatures are accepted"
        ));
    }
    if !text.starts_with(b"-----BEGIN PGP SIGNATURE-----") {
        return Err("it is not an ASCII-armored OpenPGP signature".into());
    }
    let (_, binary) = crate::armor::decode_first_block(text).map_err(|e| e.to_string())?;
    let mut packets = read_packets(&binary)?;
    match (packets.pop(), packets.len()) {
        (Some(Packet::Signature(sig)), 0) => Ok(sig),
        (None, _) => Err("the armor holds no OpenPGP packet".into()),
        (Some(_), 0) => Err("the armor holds an OpenPGP packet that is not a signature".into()),
        (Some(_), n) => Err(format!(
            "the armor holds {} OpenPGP packets where exactly one signature is expected",
            n + 1
        )),
    }
}

fn read_packets(binary: &[u8]) -> Result<Vec<Packet>, String> {
    let mut packets = Vec::new();
    if binary.is_empty() {
        return Ok(packets);
    }
    let mut ppr =
        PacketParser::from_bytes(binary).map_err(|e| format!("unreadable packet: {e}"))?;
    while let PacketParserResult::Some(pp) = ppr {
        let (packet, next) = pp.next().map_err(|e| format!("unreadable packet: {e}"))?;
        if let Packet::Unknown(u) = &packet {
            return Err(format!("unreadable {} packet: {}", u.tag(), u.error()));
        }
        packets.push(packet);
        ppr = next;
    }
    Ok(packets)
}

/// Names other signature formats git can produce, so the message says what
/// was found instead of "garbage".
fn foreign_signature(text: &[u8]) -> Option<&'static str> {
    const FOREIGN: [(&[u8], &str); 3] = [
        (
            b"-----BEGIN SSH SIGNATURE-----",
            "an SSH signature (gpg.format=ssh)",
        ),
        (
            b"-----BEGIN SIGNED MESSAGE-----",
            "an X.509 signature (gpg.format=x509)",
        ),
        (
            b"-----BEGIN PKCS7-----",
            "an X.509 signature (gpg.format=x509)",
        ),
    ];
    FOREIGN
        .iter()
        .find(|(header, _)| text.starts_with(header))
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_and_garbage_signatures_are_named() {
        let ssh = b"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n";
        assert!(parse_armored(ssh).unwrap_err().contains("SSH signature"));
        let x509 = b"-----BEGIN SIGNED MESSAGE-----\nMIIG\n-----END SIGNED MESSAGE-----\n";
        assert!(parse_armored(x509).unwrap_err().contains("X.509"));
        assert!(parse_armored(b"hello")
            .unwrap_err()
            .contains("not an ASCII-armored"));
        let empty = b"-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n";
        assert!(parse_armored(empty).is_err());
        let junk = b"-----BEGIN PGP SIGNATURE-----\n\nAAAAAAAA\n-----END PGP SIGNATURE-----\n";
        assert!(parse_armored(junk).is_err());
        assert!(parse_armored(&vec![b'a'; MAX_SIZE + 1])
            .unwrap_err()
            .contains("bytes long"));
    }
}
