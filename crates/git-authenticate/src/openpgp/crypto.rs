//! Signature arithmetic, each algorithm on its fastest implementation.
//!
//! Sequoia parses signatures, computes digests and applies its own checks;
//! the RSA and DSA arithmetic, where the pure-Rust backend is slow (RSA-4096:
//! 578 µs per signature against 46 µs in OpenSSL), goes to OpenSSL with a key
//! prepared once per keyring key. Everything else (ECDSA, v3 signatures)
//! stays with sequoia. Both engines compute the digest the same way and
//! check only what Guix checks (see [`verify`]); a differential test
//! compares them on every commit of the GNU Guix history.
//!
//! RSA signatures are raised to the key's exponent in Montgomery form with
//! OpenSSL's multiplication and compared with the one block OpenSSL's
//! padding check takes ([`crate::openpgp::rsa`]): OpenSSL's verdicts, two
//! conversions and the padding's parsing fewer.
//!
//! Ed25519 keys are decompressed once per key rather than at every
//! signature, and verified with the same call sequoia makes; keys that
//! sign many commits get a table of multiples once that call has accepted
//! a few of their signatures ([`crate::openpgp::ed25519`]), with the same
//! verdicts, and 20 µs per signature instead of 39.
//!
//! DSA keys that sign many commits get fixed-base tables once OpenSSL has
//! verified a few of their signatures ([`crate::openpgp::dsa`]): a
//! verification is then table look-ups and about 85 multiplications
//! modulo p rather than a double exponentiation (DSA-2048 and DSA-3072
//! about 3 times faster), with OpenSSL's checks and result, and OpenSSL's
//! own verification for every key shape where that is not provable. The
//! tables of one keyring share a memory budget ([`TableBudget`]); keys
//! beyond it keep OpenSSL's path. Differential tests compare the three
//! (tables, OpenSSL alone, sequoia) on every DSA signature of GNU Guix.
//!
//! Without the `fast-verify` feature, every signature goes to sequoia.

use sequoia_openpgp as openpgp;

use openpgp::crypto::hash::Hash as _;
use openpgp::packet::key::{PublicParts, UnspecifiedRole};
use openpgp::packet::{Key, Signature};
use openpgp::types::{HashAlgorithm, PublicKeyAlgorithm};

use crate::openpgp::budget::TableBudget;

/// Which implementation verifies signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// Each algorithm on its fastest implementation (the default).
    #[default]
    Fastest,
    /// Sequoia's arithmetic alone, the reference.
    Sequoia,
    /// Each algorithm through its library's own verification call, with
    /// nothing of this crate's arithmetic: OpenSSL's for RSA and DSA,
    /// ed25519-dalek's `verify` for Ed25519, and no per-key tables; to
    /// compare the fastest engine with.
    #[cfg_attr(not(any(test, feature = "fuzzing")), allow(dead_code))]
    Plain,
}

/// Key material prepared for fast verification, once per key.
#[derive(Debug)]
pub(crate) enum Prepared {
    #[cfg(feature = "fast-verify")]
    Rsa(crate::openpgp::rsa::RsaKey),
    #[cfg(feature = "fast-verify")]
    Dsa(crate::openpgp::dsa::DsaKey),
    #[cfg(feature = "fast-verify")]
    Ed25519(crate::openpgp::ed25519::Ed25519Key),
    /// Verified by sequoia.
    Sequoia,
}

impl Prepared {
    /// `key` prepared; DSA and Ed25519 tables, when earned, count against
    /// `budget`.
    pub(crate) fn new(
        key: &Key<PublicParts, UnspecifiedRole>,
        budget: &std::sync::Arc<TableBudget>,
    ) -> Self {
        #[cfg(feature = "fast-verify")]
        if key.version() == 4 {
            if let Some(prepared) = fast::prepare(key, budget) {
                return prepared;
            }
        }
        let _ = (key, budget);
        Prepared::Sequoia
    }
}

/// Verifies `sig` over `data` with `key`; the reason when it does not
/// verify.
///
/// Only what Guix's `verify-openpgp-signature` checks: the digest of the
/// data and the signature's trailer, verified with the key's material.
/// Unlike sequoia's `verify_message`, the signature's creation time is not
/// looked at: a signature without one, or made before the key's creation
/// time, verifies as it does in Guix (the strict policy refuses both).
pub(crate) fn verify(
    engine: Engine,
    sig: &Signature,
    key: &Key<PublicParts, UnspecifiedRole>,
    prepared: &Prepared,
    data: &[u8],
) -> Result<(), String> {
    // Guix reads v3 and v4 signatures and v4 keys only; sequoia would
    // refuse a v6 key for a v4 signature anyway.
    if key.version() != 4 {
        return Err(format!(
            "Signature (v{}) and key (v{}) version mismatch",
            sig.version(),
            key.version()
        ));
    }
    // Guix's `get-key` keeps other keys as unusable values, on which its
    // `verify` fails.
    if !guix_reads_algorithm(key.pk_algo()) {
        return Err(format!("Guix does not verify with {} keys", key.pk_algo()));
    }
    let digest = digest(sig, data).map_err(|e| e.to_string())?;
    let prepared = if engine == Engine::Sequoia || sig.version() != 4 {
        &Prepared::Sequoia
    } else {
        prepared
    };
    match prepared {
        #[cfg(feature = "fast-verify")]
        Prepared::Rsa(rsa) => fast::rsa_verify(rsa, engine == Engine::Fastest, sig, &digest),
        #[cfg(feature = "fast-verify")]
        Prepared::Dsa(dsa) => fast::dsa_verify(dsa, engine == Engine::Fastest, sig, &digest),
        #[cfg(feature = "fast-verify")]
        Prepared::Ed25519(key) => {
            fast::ed25519_verify(key, engine == Engine::Fastest, sig, &digest)
        }
        // Sequoia's own arithmetic, as its `verify_digest` calls it.
        Prepared::Sequoia => key
            .verify(sig.mpis(), sig.hash_algo(), &digest)
            .map_err(|e| e.to_string()),
    }
}

/// Whether Guix reads keys and signatures of this algorithm (`get-key`
/// and `get-sig` in guix/openpgp.scm): RSA, DSA and EdDSA.
pub(crate) fn guix_reads_algorithm(algorithm: PublicKeyAlgorithm) -> bool {
    #[allow(deprecated)]
    let known = [
        PublicKeyAlgorithm::RSAEncryptSign,
        PublicKeyAlgorithm::DSA,
        PublicKeyAlgorithm::EdDSA,
    ];
    known.contains(&algorithm)
}

/// The digest a v3 or v4 signature signs: the data, then the signature's
/// hashed trailer, with the signature's hash algorithm (as sequoia's
/// `verify_message` computes it, SHA-1 collision detection included).
fn digest(sig: &Signature, data: &[u8]) -> openpgp::Result<Vec<u8>> {
    let mut hash = sig.hash_algo().context()?.for_signature(sig.version());
    hash.update(data);
    sig.hash(&mut hash)?;
    hash.into_digest()
}

/// The DER `DigestInfo` prefix that PKCS #1 v1.5 puts before a digest of
/// each algorithm (RFC 8017, section 9.2; RFC 4880, section 5.2.2).
pub(crate) fn digest_info_prefix(algorithm: HashAlgorithm) -> Option<&'static [u8]> {
    Some(match algorithm {
        HashAlgorithm::MD5 => &[
            0x30, 0x20, 0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05,
            0x05, 0x00, 0x04, 0x10,
        ],
        HashAlgorithm::SHA1 => &[
            0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
            0x14,
        ],
        HashAlgorithm::RipeMD => &[
            0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x24, 0x03, 0x02, 0x01, 0x05, 0x00, 0x04,
            0x14,
        ],
        HashAlgorithm::SHA224 => &[
            0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x04, 0x05, 0x00, 0x04, 0x1c,
        ],
        HashAlgorithm::SHA256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        HashAlgorithm::SHA384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        HashAlgorithm::SHA512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
        _ => return None,
    })
}

#[cfg(feature = "fast-verify")]
mod fast {
    //! RSA and DSA through OpenSSL (RSA in Montgomery form:
    //! `openpgp::rsa`; DSA with tables: `openpgp::dsa`),
    //! Ed25519 through ed25519-dalek (with tables: `openpgp::ed25519`).

    use super::*;
    use crate::openpgp::dsa::{DsaKey, OPENSSL_Q_BITS};
    use crate::openpgp::ed25519::Ed25519Key;
    use crate::openpgp::rsa::RsaKey;
    use openpgp::crypto::mpi;
    use openpgp::types::Curve;
    use openssl::bn::BigNum;

    /// The largest RSA modulus sequoia's pure-Rust backend accepts; larger
    /// keys stay with sequoia so that both engines agree.
    const RSA_MAX_BITS: usize = 4096;

    pub(super) fn prepare(
        key: &Key<PublicParts, UnspecifiedRole>,
        budget: &std::sync::Arc<TableBudget>,
    ) -> Option<Prepared> {
        let bn = |m: &mpi::MPI| BigNum::from_slice(m.value()).ok();
        match key.mpis() {
            mpi::PublicKey::RSA { e, n } if n.bits() <= RSA_MAX_BITS && rsa_exponent_ok(e) => {
                Some(Prepared::Rsa(RsaKey::new(bn(n)?, bn(e)?)?))
            }
            // OpenSSL refuses every signature of a key whose q has another
            // size (`dsa_do_verify`); sequoia, like libgcrypt, verifies them.
            mpi::PublicKey::DSA { p, q, g, y } if OPENSSL_Q_BITS.contains(&q.bits()) => Some(
                Prepared::Dsa(DsaKey::new(bn(p)?, bn(q)?, bn(g)?, bn(y)?, budget)?),
            ),
            // A key sequoia cannot decode stays with sequoia, which then
            // refuses it with its own error.
            mpi::PublicKey::EdDSA {
                curve: Curve::Ed25519,
                q,
            } => {
                let (point, _) = q.decode_point(&Curve::Ed25519).ok()?;
                let point: &[u8; 32] = point.try_into().ok()?;
                Some(Prepared::Ed25519(Ed25519Key::new(point, budget)?))
            }
            _ => None,
        }
    }

    /// The `rsa` crate (sequoia's pure-Rust RSA) refuses exponents below 2
    /// or above 2^33 - 1 (those with more than 33 bits); such keys stay with
    /// sequoia.
    fn rsa_exponent_ok(e: &mpi::MPI) -> bool {
        (2..=33).contains(&e.bits())
    }

    /// RSA in Montgomery form when `montgomery` (`openpgp::rsa`), else
    /// through OpenSSL's `RSA_public_decrypt`.
    pub(super) fn rsa_verify(
        rsa: &RsaKey,
        montgomery: bool,
        sig: &Signature,
        digest: &[u8],
    ) -> Result<(), String> {
        let mpi::Signature::RSA { s } = sig.mpis() else {
            return Err("the signature is not an RSA signature".into());
        };
        let prefix = digest_info_prefix(sig.hash_algo())
            .ok_or_else(|| format!("Algorithm {:?} not representable", sig.hash_algo()))?;
        // OpenPGP drops leading zeros; OpenSSL wants the modulus' length.
        let padded = s.value_padded(rsa.size()).map_err(|e| e.to_string())?;
        if rsa.verify(!montgomery, &padded, prefix, digest) {
            Ok(())
        } else {
            Err("RSA signature verification failed".to_owned())
        }
    }

    /// Legacy EdDSA (OpenPGP algorithm 22) over Ed25519, as sequoia checks
    /// it: R and S each padded to 32 bytes, then `verify` on the digest
    /// (through the key's tables when `use_tables` and it has them).
    pub(super) fn ed25519_verify(
        key: &Ed25519Key,
        use_tables: bool,
        sig: &Signature,
        digest: &[u8],
    ) -> Result<(), String> {
        let mpi::Signature::EdDSA { r, s } = sig.mpis() else {
            return Err("the signature is not an EdDSA signature".into());
        };
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&r.value_padded(32).map_err(|e| e.to_string())?);
        bytes[32..].copy_from_slice(&s.value_padded(32).map_err(|e| e.to_string())?);
        key.verify(use_tables, &bytes, digest)
    }

    /// DSA through the key's tables when `use_tables` and it has them,
    /// else through OpenSSL.
    pub(super) fn dsa_verify(
        key: &DsaKey,
        use_tables: bool,
        sig: &Signature,
        digest: &[u8],
    ) -> Result<(), String> {
        let mpi::Signature::DSA { r, s } = sig.mpis() else {
            return Err("the signature is not a DSA signature".into());
        };
        key.verify(use_tables, r.value(), s.value(), digest)
    }
}
