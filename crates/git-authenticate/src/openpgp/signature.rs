//! A commit's OpenPGP signature: reading it from the `gpgsig` header and
//! verifying it against the keyring.
//!
//! Reading follows Guix's `string->openpgp-packet`: the first packet of the
//! first armor block is the signature, and any packets after it are
//! ignored (a commit signed by two keys at once counts as signed by the
//! first). Verification follows Guix's `verify-openpgp-signature`: the
//! issuer is found by its fingerprint subpacket, else by its key ID, and
//! the signature must verify with that key's material. Nothing else is
//! checked: not expiry, revocation or binding signatures, and not the
//! signature's creation time (it may be missing, or earlier than the key's
//! creation time); the strict [`Policy`](crate::Policy) checks those.

use std::borrow::Cow;

use git2::{Oid, Repository};
use sequoia_openpgp as openpgp;

use openpgp::parse::{PacketParser, PacketParserResult, Parse};
use openpgp::types::{HashAlgorithm, PublicKeyAlgorithm, SignatureType};
use openpgp::Packet;

use crate::git::commit::CommitObject;
use crate::git::objects::Unreadable;
pub use crate::openpgp::armor::ArmorError;
use crate::openpgp::fingerprint::{Fingerprint, Issuer};
use crate::openpgp::packet::{self, Encoding, MpiProblem};
use untrusted_text::Untrusted;

/// Larger `gpgsig` headers are refused (real ones are under 2 KiB).
pub const MAX_SIZE: usize = 64 << 10;

/// The signature of one commit and the data it signs (borrowed from the
/// commit already read while checking a history, owned by
/// [`CommitSignature::read`]).
#[derive(Debug)]
pub struct CommitSignature<'a> {
    commit: Oid,
    pub(super) packet: openpgp::packet::Signature,
    /// How its MPIs were encoded (GitHub's are not canonical).
    pub(super) encoding: Encoding,
    pub(super) signed_data: Cow<'a, [u8]>,
}

impl CommitSignature<'static> {
    /// Larger `gpgsig` headers are refused (real ones are under 2 KiB).
    pub const MAX_SIZE: usize = MAX_SIZE;

    /// Reads and parses the `gpgsig` header of `commit`.
    ///
    /// Fails with [`SignatureError::Unsigned`] when there is none and
    /// [`SignatureError::Malformed`] when it is not one OpenPGP signature
    /// packet, as Guix reads it.
    pub fn read(repo: &Repository, commit: Oid) -> Result<Self, SignatureError> {
        let object = CommitObject::read(repo, commit)?;
        let signature = CommitSignature::of(&object)?;
        Ok(CommitSignature {
            commit: signature.commit,
            packet: signature.packet,
            encoding: signature.encoding,
            signed_data: Cow::Owned(signature.signed_data.into_owned()),
        })
    }
}

impl<'a> CommitSignature<'a> {
    /// The signature of a commit already read: the signed data is not
    /// copied, as every commit of a history goes through here.
    pub(crate) fn of(commit: &'a CommitObject) -> Result<Self, SignatureError> {
        let id = commit.id;
        let Some((armored, signed_data)) = &commit.signature else {
            return Err(SignatureError::Unsigned);
        };
        let (packet, encoding) = read_armored(armored).map_err(SignatureError::Malformed)?;
        Ok(CommitSignature {
            commit: id,
            packet,
            encoding,
            signed_data: Cow::Borrowed(signed_data),
        })
    }

    /// The hash algorithm the signature was made with.
    pub fn hash_algorithm(&self) -> HashAlgorithm {
        self.packet.hash_algo()
    }

    /// The signature packet (its MPIs canonically encoded).
    pub fn packet(&self) -> &openpgp::packet::Signature {
        &self.packet
    }

    /// Whether the signature's MPIs were encoded with bit counts other
    /// than their values' (as GitHub encodes them), which Guix and GnuPG
    /// accept, and RFC 4880 does not.
    pub fn non_canonical(&self) -> bool {
        self.encoding.non_canonical
    }
}

/// Why a commit's signature does not make it signed by a key of the
/// keyring. Authentication reports each as a [`Failure`](crate::Failure)
/// naming the commit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The commit has no `gpgsig` header.
    #[error("the commit lacks a signature")]
    Unsigned,
    /// The header is not a usable OpenPGP signature.
    #[error("unusable signature: {0}")]
    Malformed(SignatureProblem),
    /// The issuer is not in the keyring.
    #[error("key {0} is missing from the keyring")]
    MissingKey(Issuer),
    /// The signature does not verify with the issuer's key.
    #[error(
        "signature verification failed (key {fingerprint}): {}",
        Untrusted::new(reason)
    )]
    Bad {
        /// The key the signature claims to come from.
        fingerprint: Fingerprint,
        /// What the verifier said.
        reason: String,
    },
    /// The commit could not be read.
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
}

/// Splits a raw commit object into its `gpgsig` signature and the data the
/// signature covers, exactly as libgit2 (and so Guix) does; `None` when
/// unsigned.
///
/// ```
/// let raw = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ngpgsig A\n B\n\nmessage\n";
/// let (signature, signed) = git_authenticate::fuzzing::extract_signature(raw).unwrap();
/// assert_eq!(signature, b"A\nB");
/// assert_eq!(signed, b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nmessage\n");
/// ```
#[cfg(any(test, feature = "fuzzing"))]
pub fn extract_signature(raw_commit: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    crate::git::commit::extract_signature(raw_commit)
}

/// Why a `gpgsig` header is not a usable OpenPGP signature.
///
/// Each case is one where Guix's `string->openpgp-packet` and
/// `verify-openpgp-signature` (in `guix/openpgp.scm`) fail, by an error or
/// a crash: either way the commit is not authentic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureProblem {
    /// Larger than [`CommitSignature::MAX_SIZE`] (a limit of this tool; real signatures are
    /// under 2 KiB).
    #[error("the signature is {size} bytes long, more than {MAX_SIZE}")]
    TooLarge {
        /// Its size.
        size: usize,
    },
    /// Another signature format git can produce.
    #[error("it is {0}; only OpenPGP signatures are accepted")]
    Foreign(ForeignFormat),
    /// The first line is not a `-----BEGIN …-----` armor header.
    #[error("it is not an ASCII-armored OpenPGP signature")]
    NotArmored,
    /// The armor is malformed (no checksum, a wrong one, truncated…).
    #[error("{0}")]
    Armor(ArmorError),
    /// The armor holds no packet, or its first packet is cut short.
    #[error("the armor holds no complete OpenPGP packet")]
    NoPacket,
    /// The first packet is not a signature packet (Guix reads the first
    /// packet only, whatever follows it).
    #[error("the first OpenPGP packet of the armor is not a signature (packet tag {tag})")]
    NotASignature {
        /// Its packet tag.
        tag: u8,
    },
    /// A signature version Guix does not read (only 3 and 4 exist there).
    #[error("it is a version {version} signature; only versions 3 and 4 are accepted")]
    UnsupportedVersion {
        /// The signature packet's version.
        version: u8,
    },
    /// A hash algorithm Guix does not know (it knows MD5, SHA-1,
    /// RIPEMD-160 and SHA-2).
    #[error(
        "it is made with hash algorithm {} ({algorithm}), which Guix does not read",
        HashAlgorithm::from(*algorithm)
    )]
    UnsupportedHash {
        /// The OpenPGP hash algorithm identifier.
        algorithm: u8,
    },
    /// A public-key algorithm Guix does not verify (it verifies RSA, DSA
    /// and EdDSA signatures only).
    #[error(
        "it is a {} signature (algorithm {algorithm}); Guix verifies RSA, DSA and EdDSA \
         signatures only",
        PublicKeyAlgorithm::from(*algorithm)
    )]
    UnsupportedAlgorithm {
        /// The OpenPGP public-key algorithm identifier.
        algorithm: u8,
    },
    /// A number (MPI) of the signature packet cannot be read, where Guix
    /// fails to read it.
    #[error("unreadable signature packet: {0}")]
    Mpi(MpiProblem),
    /// The signature packet cannot be parsed.
    #[error("unreadable signature packet: {}", Untrusted::new(reason))]
    Unreadable {
        /// What the OpenPGP parser said.
        reason: String,
    },
    /// Not a binary-document signature (0x00), e.g. a text-mode one made
    /// by `gpg --textmode`.
    #[error(
        "it is a {} signature (type {signature_type:#04x}); only binary-document \
         signatures are accepted",
        SignatureType::from(*signature_type)
    )]
    NotBinary {
        /// The signature type.
        signature_type: u8,
    },
    /// Neither an issuer fingerprint nor an issuer key ID.
    #[error("the signature names no issuer key")]
    NoIssuer,
    /// The issuer key ID is not the low 64 bits of the issuer fingerprint.
    #[error("its issuer key ID {key_id} does not match its issuer fingerprint {fingerprint}")]
    IssuerMismatch {
        /// The key ID, in hex.
        key_id: String,
        /// The issuer fingerprint.
        fingerprint: Fingerprint,
    },
}

/// Signature formats other than OpenPGP that git makes (`gpg.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForeignFormat {
    /// `gpg.format=ssh`.
    Ssh,
    /// `gpg.format=x509` (gpgsm).
    X509,
}

impl std::fmt::Display for ForeignFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ForeignFormat::Ssh => "an SSH signature (gpg.format=ssh)",
            ForeignFormat::X509 => "an X.509 signature (gpg.format=x509)",
        })
    }
}

/// Parses a `gpgsig` header as Guix's `string->openpgp-packet` does: the
/// first armor block, whatever its kind, must be valid (checksum
/// included), and its first packet must be a signature, of version 3 or
/// 4; whatever follows that packet is ignored, as Guix ignores it.
#[cfg(any(test, feature = "fuzzing"))]
pub fn parse_armored(armored: &[u8]) -> Result<openpgp::packet::Signature, SignatureProblem> {
    read_armored(armored).map(|read| read.0)
}

/// [`parse_armored`], and how the signature's MPIs were encoded (see
/// [`crate::openpgp::packet`]).
fn read_armored(
    armored: &[u8],
) -> Result<(openpgp::packet::Signature, Encoding), SignatureProblem> {
    if armored.len() > MAX_SIZE {
        return Err(SignatureProblem::TooLarge {
            size: armored.len(),
        });
    }
    // Only a block Guix would refuse is named as foreign: the message
    // improves, the verdict does not change.
    let (_kind, binary) =
        crate::openpgp::armor::decode_first_block(armored).map_err(|e| match foreign_signature(
            armored,
        ) {
            Some(format) => SignatureProblem::Foreign(format),
            None if e == ArmorError::NoHeader => SignatureProblem::NotArmored,
            None => SignatureProblem::Armor(e),
        })?;
    let (tag, body) = first_packet(&binary)?;
    if tag != SIGNATURE_TAG {
        return Err(SignatureProblem::NotASignature { tag });
    }
    let (signature, encoding) = match body.first() {
        Some(3 | 4) => parse_signature_body(body)?,
        Some(&version) => return Err(SignatureProblem::UnsupportedVersion { version }),
        None => return Err(SignatureProblem::NoPacket),
    };
    check_hash(&signature)?;
    check_issuers(&signature)?;
    Ok((signature, encoding))
}

/// As Guix's `openpgp-hash-algorithm`, which `get-signature` calls: a hash
/// algorithm it does not know (SHA-3, say) makes the signature unreadable.
fn check_hash(signature: &openpgp::packet::Signature) -> Result<(), SignatureProblem> {
    use HashAlgorithm::*;
    match signature.hash_algo() {
        MD5 | SHA1 | RipeMD | SHA256 | SHA384 | SHA512 | SHA224 => Ok(()),
        other => Err(SignatureProblem::UnsupportedHash {
            algorithm: other.into(),
        }),
    }
}

/// As Guix's `get-signature`: an issuer key ID that contradicts the issuer
/// fingerprint makes the signature unreadable, whichever key would verify
/// it (and before its hash algorithm is looked at).
fn check_issuers(signature: &openpgp::packet::Signature) -> Result<(), SignatureProblem> {
    let (Some(fpr), Some(id)) = (
        signature.issuer_fingerprints().next(),
        signature.issuers().next(),
    ) else {
        return Ok(());
    };
    if *id == openpgp::KeyID::from(fpr) {
        return Ok(());
    }
    Err(SignatureProblem::IssuerMismatch {
        key_id: id.to_hex(),
        fingerprint: Fingerprint::from(fpr),
    })
}

/// The packet tag of signatures.
const SIGNATURE_TAG: u8 = 2;

/// The tag and body of the first packet of `binary`, framed exactly as
/// Guix's `get-packet*` frames it ([`packet::next_frame`]). A truncated
/// header is refused, as Guix then fails.
fn first_packet(binary: &[u8]) -> Result<(u8, &[u8]), SignatureProblem> {
    let (frame, _rest) = packet::next_frame(binary).ok_or(SignatureProblem::NoPacket)?;
    Ok((frame.tag, frame.body))
}

/// Parses a signature packet's body with sequoia (reframed as a
/// new-format packet), its MPIs first read as Guix reads them and
/// rewritten canonically ([`packet::canonical_signature`]); also says
/// how they were encoded.
pub(crate) fn parse_signature_body(
    body: &[u8],
) -> Result<(openpgp::packet::Signature, Encoding), SignatureProblem> {
    let canonical = packet::canonical_signature(body).map_err(SignatureProblem::Mpi)?;
    let signature = parse_canonical_body(&canonical.body)?;
    Ok((signature, canonical.encoding))
}

fn parse_canonical_body(body: &[u8]) -> Result<openpgp::packet::Signature, SignatureProblem> {
    let unreadable = |reason: &dyn std::fmt::Display| SignatureProblem::Unreadable {
        reason: reason.to_string(),
    };
    // Bodies are shorter than MAX_SIZE: a five-octet length always fits.
    let mut packet = vec![0xc0 | SIGNATURE_TAG, 0xff];
    packet.extend_from_slice(&(body.len() as u32).to_be_bytes());
    packet.extend_from_slice(body);
    let PacketParserResult::Some(parser) =
        PacketParser::from_bytes(&packet).map_err(|e| unreadable(&e))?
    else {
        return Err(SignatureProblem::NoPacket);
    };
    let (parsed, _rest) = parser.next().map_err(|e| unreadable(&e))?;
    match parsed {
        Packet::Signature(sig) => Ok(sig),
        Packet::Unknown(u) => Err(unreadable(u.error())),
        _ => Err(SignatureProblem::NotASignature { tag: SIGNATURE_TAG }),
    }
}

/// Names other signature formats git can produce, so the message says what
/// was found instead of "garbage".
fn foreign_signature(text: &[u8]) -> Option<ForeignFormat> {
    const FOREIGN: [(&[u8], ForeignFormat); 3] = [
        (b"-----BEGIN SSH SIGNATURE-----", ForeignFormat::Ssh),
        (b"-----BEGIN SIGNED MESSAGE-----", ForeignFormat::X509),
        (b"-----BEGIN PKCS7-----", ForeignFormat::X509),
    ];
    FOREIGN
        .iter()
        .find(|(header, _)| text.starts_with(header))
        .map(|(_, format)| *format)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openpgp::armor::encode;
    use openpgp::cert::CertBuilder;
    use openpgp::packet::signature::SignatureBuilder;
    use openpgp::serialize::MarshalInto;

    /// A binary signature packet (new format) over `data` by a fresh key.
    fn signature_packet(data: &[u8]) -> Vec<u8> {
        let (cert, _) = CertBuilder::general_purpose(None::<String>)
            .generate()
            .unwrap();
        let mut signer = cert
            .primary_key()
            .key()
            .clone()
            .parts_into_secret()
            .unwrap()
            .into_keypair()
            .unwrap();
        let sig = SignatureBuilder::new(SignatureType::Binary)
            .sign_message(&mut signer, data)
            .unwrap();
        Packet::from(sig).to_vec().unwrap()
    }

    fn armored(data: &[u8]) -> Vec<u8> {
        encode("PGP SIGNATURE", data).into_bytes()
    }

    #[test]
    fn foreign_and_garbage_signatures_are_typed() {
        let ssh = b"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n";
        assert_eq!(
            parse_armored(ssh).unwrap_err(),
            SignatureProblem::Foreign(ForeignFormat::Ssh)
        );
        let x509 = b"-----BEGIN SIGNED MESSAGE-----\nMIIG\n-----END SIGNED MESSAGE-----\n";
        assert_eq!(
            parse_armored(x509).unwrap_err(),
            SignatureProblem::Foreign(ForeignFormat::X509)
        );
        assert_eq!(
            parse_armored(b"hello").unwrap_err(),
            SignatureProblem::NotArmored
        );
        let empty = b"-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n";
        assert_eq!(
            parse_armored(empty).unwrap_err(),
            SignatureProblem::Armor(ArmorError::MissingChecksum)
        );
        assert_eq!(
            parse_armored(&armored(b"")).unwrap_err(),
            SignatureProblem::NoPacket
        );
        assert_eq!(
            parse_armored(&vec![b'a'; MAX_SIZE + 1]).unwrap_err(),
            SignatureProblem::TooLarge { size: MAX_SIZE + 1 }
        );
    }

    #[test]
    fn leading_white_space_is_not_armor() {
        // Guix's `read-radix-64` trims the first line on the right only.
        let mut text = b"\n".to_vec();
        text.extend(armored(&signature_packet(b"data")));
        assert_eq!(
            parse_armored(&text).unwrap_err(),
            SignatureProblem::NotArmored
        );
    }

    #[test]
    fn the_first_packet_is_the_signature_and_the_rest_is_ignored() {
        let first = signature_packet(b"data");
        let sig = parse_armored(&armored(&first)).unwrap();
        for rest in [
            signature_packet(b"other"),
            b"garbage".to_vec(),
            vec![0xff; 3],
            first[..first.len() / 2].to_vec(),
        ] {
            let mut both = first.clone();
            both.extend(&rest);
            assert_eq!(parse_armored(&armored(&both)).unwrap(), sig);
        }
        // Any armor kind will do: Guix does not look at it.
        let message = encode("PGP MESSAGE", &first);
        assert_eq!(parse_armored(message.as_bytes()).unwrap(), sig);
    }

    #[test]
    fn a_first_packet_that_is_not_a_signature_is_refused() {
        let user_id = Packet::from(openpgp::packet::UserID::from("x"))
            .to_vec()
            .unwrap();
        let mut both = user_id;
        both.extend(signature_packet(b"data"));
        assert_eq!(
            parse_armored(&armored(&both)).unwrap_err(),
            SignatureProblem::NotASignature { tag: 13 }
        );
        // `g` is 0x67: bit 6 set, a new-format packet of tag 0x27.
        assert_eq!(
            parse_armored(&armored(b"garbage")).unwrap_err(),
            SignatureProblem::NotASignature { tag: 0x27 }
        );
    }

    #[test]
    fn packets_are_framed_as_guix_frames_them() {
        let new_format = signature_packet(b"data");
        let expected = parse_armored(&armored(&new_format)).unwrap();
        let (body, header) = {
            let (_, body) = first_packet(&new_format).unwrap();
            (body.to_vec(), new_format.len() - body.len())
        };
        assert!(header >= 2);
        let frame = |header: &[u8]| {
            let mut packet = header.to_vec();
            packet.extend(&body);
            packet
        };
        let len = body.len();
        assert!(len < 256, "one-octet old-format lengths suffice");
        for packet in [
            // Old format, one-, two- and four-octet lengths.
            frame(&[0x88, len as u8]),
            frame(&[0x89, 0, len as u8]),
            frame(&[0x8a, 0, 0, 0, len as u8]),
            // Old format, indeterminate length: the rest of the data.
            frame(&[0x8b]),
            // Bit 7 clear: Guix does not check it.
            frame(&[0x42, len as u8]),
            // A length longer than the data: what remains.
            frame(&[0xc2, 0xff, 0, 0, 0x10, 0]),
        ] {
            assert_eq!(parse_armored(&armored(&packet)).unwrap(), expected);
        }
        for truncated in [&[0xc2][..], &[0xc2, 0xc0], &[0x89, 0], &[0xc2, 0xff, 0, 0]] {
            assert_eq!(
                parse_armored(&armored(truncated)).unwrap_err(),
                SignatureProblem::NoPacket
            );
        }
    }

    #[test]
    fn only_versions_3_and_4_are_read() {
        assert_eq!(
            parse_armored(&armored(&[0xc2, 2, 6, 0])).unwrap_err(),
            SignatureProblem::UnsupportedVersion { version: 6 }
        );
        assert!(matches!(
            parse_armored(&armored(&[0xc2, 2, 4, 0])).unwrap_err(),
            SignatureProblem::Unreadable { .. }
        ));
    }
}
