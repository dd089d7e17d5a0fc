//! OpenPGP packets read as Guix's `guix/openpgp.scm` reads them: their
//! framing (`get-packet*`), their multiprecision integers (`get-mpi`) and
//! public keys (`get-public-key`).
//!
//! RFC 4880, section 3.2, makes an MPI's two-octet bit count the exact
//! number of significant bits of the value that follows. GitHub does not
//! keep to it: its signatures (those of commits merged in its web
//! interface, and its "web-flow" key's self-signatures) often say 2048 bits
//! for a value of 2046. Guix's `get-mpi/bytevector` reads the count, takes
//! `(count + 7) / 8` octets and never looks at the top bit; GnuPG reads
//! them alike. Sequoia refuses them while parsing ("leading bit is not
//! set"), as it refuses a count below the value's bits ("unused bits not
//! zeroed"). So the MPIs of key and signature packets are read here as
//! Guix reads them and rewritten canonically (the value's bit count, no
//! leading zero octet) before sequoia parses the packet: sequoia then sees
//! the values Guix sees.
//!
//! Guix's reading, exactly (each packet is read from its own bytevector,
//! so nothing reads past the packet):
//! - the count is two octets; fewer left fails (`get-u16` gives the
//!   end-of-file object, on which the arithmetic fails);
//! - `(count + 7) / 8` octets are read with `get-bytevector-n`, which
//!   returns fewer when the packet ends first: a count that overruns the
//!   packet is accepted with the octets that remain, but fails when none
//!   remains (end of file);
//! - `get-mpi` (every MPI but an EdDSA signature's R and S) makes an
//!   integer of them with `bytevector-uint-ref`, which fails on no octet: a
//!   count of zero fails there;
//! - a count below the value's bits takes fewer octets, and the next field
//!   starts early: what follows is misread, exactly as Guix misreads it;
//! - an EdDSA signature's R and S go to libgcrypt as read (leading zero
//!   octets kept, one added before an odd number of them), which verifies
//!   32 octets only ([`Encoding::eddsa_length`]).
//!
//! A key's fingerprint comes from its packet as published, not from the
//! rewritten one: Guix hashes the packet's own octets (`fingerprint` in
//! `get-public-key`), and so `.guix-authorizations` lists that
//! fingerprint. (GnuPG, unlike Guix, hashes a key packet re-encoded with
//! canonical counts: for a key packet whose own MPIs are not canonical, its
//! fingerprint differs from Guix's.)

use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

use sequoia_openpgp as openpgp;

use openpgp::crypto::mpi;
use openpgp::packet::key::{Key4, PublicParts, UnspecifiedRole};
use openpgp::packet::Key;
use openpgp::types::{Curve, PublicKeyAlgorithm};
use sha1::Digest as _;

use crate::fingerprint::Fingerprint;

/// Packet tags Guix reads.
pub(crate) mod tag {
    /// A signature packet.
    pub const SIGNATURE: u8 = 2;
    /// A one-pass signature packet.
    pub const ONE_PASS_SIGNATURE: u8 = 4;
    /// A public key packet.
    pub const PUBLIC_KEY: u8 = 6;
    /// A trust packet.
    pub const TRUST: u8 = 12;
    /// A user ID packet.
    pub const USER_ID: u8 = 13;
    /// A public subkey packet.
    pub const PUBLIC_SUBKEY: u8 = 14;
    /// A user attribute packet.
    pub const USER_ATTRIBUTE: u8 = 17;
}

/// One packet: its tag and body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame<'a> {
    pub tag: u8,
    pub body: &'a [u8],
}

/// The packet at the start of `data` and what follows it, framed exactly
/// as Guix's `get-packet*` frames it: bit 6 of the first octet chooses the
/// new or old format (bit 7 is not checked), new-format lengths of 224 to
/// 254 are read as two-octet lengths, an old-format indeterminate length
/// runs to the end, and a body shorter than its length is what remains
/// (as `get-bytevector-n` returns). `None` when the header is cut short,
/// or a body of some length has no octet left: Guix then fails.
pub(crate) fn next_frame(data: &[u8]) -> Option<(Frame<'_>, &[u8])> {
    let (&first, rest) = data.split_first()?;
    let number = |bytes: &[u8], n: usize| -> Option<(usize, usize)> {
        let digits = bytes.get(..n)?;
        Some((digits.iter().fold(0, |v, &b| (v << 8) | usize::from(b)), n))
    };
    let (tag, length) = if first & 0x40 != 0 {
        let o1 = *rest.first()?;
        let length = match o1 {
            0..=191 => (usize::from(o1), 1),
            192..=254 => {
                let (o2, _) = number(&rest[1..], 1)?;
                ((usize::from(o1 - 192) << 8) + o2 + 192, 2)
            }
            255 => {
                let (n, used) = number(&rest[1..], 4)?;
                (n, used + 1)
            }
        };
        (first & 0x3f, Some(length))
    } else {
        let length = match first & 3 {
            0 => Some(number(rest, 1)?),
            1 => Some(number(rest, 2)?),
            2 => Some(number(rest, 4)?),
            _ => None,
        };
        ((first >> 2) & 0x0f, length)
    };
    let (body, rest) = match length {
        Some((length, header)) => {
            let after = &rest[header..];
            if length > 0 && after.is_empty() {
                return None;
            }
            after.split_at(length.min(after.len()))
        }
        None => (rest, &rest[rest.len()..]),
    };
    Some((Frame { tag, body }, rest))
}

/// Why a multiprecision integer cannot be read, where Guix's `get-mpi`
/// fails on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MpiProblem {
    /// The packet ends before a number's two-octet bit count.
    #[error("the packet ends before the bit count of one of its numbers")]
    NoBitCount,
    /// A number's bit count promises octets, but the packet ends before
    /// the first of them (a count promising more octets than remain is
    /// read, as Guix reads it, with the octets that remain).
    #[error("the packet ends before the first octet of a {bits}-bit number")]
    NoOctets {
        /// The bit count.
        bits: u16,
    },
    /// A bit count of zero where Guix reads an integer: it converts no
    /// octet, and fails.
    #[error("a number has a bit count of zero, which Guix cannot read as an integer")]
    ZeroBits,
    /// A count of 65,528 bits or more whose first octet makes the value
    /// longer than a bit count can say (a limit of this tool: Guix reads
    /// it, and no key of that size verifies anything).
    #[error("a number has more than 65,535 bits")]
    TooLarge,
}

/// How Guix uses the octets of an MPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// `get-mpi`: as an integer, which needs one octet at least.
    Integer,
    /// `get-mpi/bytevector` (an EdDSA signature's R and S): as octets.
    Octets,
}

/// The MPIs of what Guix reads, rewritten canonically.
#[derive(Debug, Default)]
struct Mpis {
    /// The canonical encodings, one after the other.
    encoded: Vec<u8>,
    /// Whether any count or octet differs from its canonical encoding.
    non_canonical: bool,
    /// The values, leading zero octets dropped.
    values: Vec<Vec<u8>>,
    /// How many octets of each were read.
    read: Vec<usize>,
}

impl Mpis {
    /// Reads the MPIs at the start of `data` as Guix reads them, one per
    /// element of `uses`; returns them and the octets that follow.
    fn read<'a>(mut data: &'a [u8], uses: &[Use]) -> Result<(Mpis, &'a [u8]), MpiProblem> {
        let mut mpis = Mpis::default();
        for &use_ in uses {
            let (count, rest) = data
                .split_first_chunk::<2>()
                .ok_or(MpiProblem::NoBitCount)?;
            let bits = u16::from_be_bytes(*count);
            let wanted = usize::from(bits).div_ceil(8);
            if wanted > 0 && rest.is_empty() {
                return Err(MpiProblem::NoOctets { bits });
            }
            let (octets, rest) = rest.split_at(wanted.min(rest.len()));
            if octets.is_empty() && use_ == Use::Integer {
                return Err(MpiProblem::ZeroBits);
            }
            data = rest;
            let start = octets.iter().position(|&b| b != 0).unwrap_or(octets.len());
            let value = &octets[start..];
            let value_bits = match value.first() {
                Some(top) => value.len() * 8 - top.leading_zeros() as usize,
                None => 0,
            };
            let value_bits = u16::try_from(value_bits).map_err(|_| MpiProblem::TooLarge)?;
            mpis.non_canonical |= value_bits != bits || start > 0;
            mpis.encoded.extend(value_bits.to_be_bytes());
            mpis.encoded.extend(value);
            mpis.values.push(value.to_vec());
            mpis.read.push(octets.len());
        }
        Ok((mpis, data))
    }
}

/// What Guix reads of a signature's MPIs, by public-key algorithm
/// (`get-sig`); `None` for an algorithm it keeps as unread octets.
fn signature_uses(algorithm: u8) -> Option<&'static [Use]> {
    match algorithm {
        1 => Some(&[Use::Integer]),
        17 => Some(&[Use::Integer, Use::Integer]),
        22 => Some(&[Use::Octets, Use::Octets]),
        _ => None,
    }
}

/// A signature packet's body with its MPIs read as Guix reads them.
#[derive(Debug)]
pub(crate) struct CanonicalSignature<'a> {
    /// The body, its MPIs canonical and nothing after them (Guix ignores
    /// trailing data); the body itself when it already is so.
    pub body: Cow<'a, [u8]>,
    /// How its MPIs were encoded.
    pub encoding: Encoding,
}

/// How a signature's MPIs were encoded, where it matters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Encoding {
    /// Whether an MPI was not canonically encoded.
    pub non_canonical: bool,
    /// For an EdDSA signature whose R or S Guix hands libgcrypt with
    /// another length than 32 octets, that length: libgcrypt then refuses
    /// to verify it (`GPG_ERR_INV_LENGTH`), and Guix fails. Guix passes
    /// the octets read, with one zero octet before an odd number of them
    /// (`bytevector->hex` in `get-sig`).
    pub eddsa_length: Option<usize>,
}

/// The body of a v3 or v4 signature packet, its MPIs rewritten as Guix
/// reads them (see the module's documentation). A body whose fields before
/// the MPIs are cut short, or of another version or of an algorithm
/// whose MPIs Guix does not read, is returned as it is, for sequoia to
/// judge.
pub(crate) fn canonical_signature(body: &[u8]) -> Result<CanonicalSignature<'_>, MpiProblem> {
    let unchanged = |encoding| CanonicalSignature {
        body: Cow::Borrowed(body),
        encoding,
    };
    let u16_at = |at: usize| -> Option<usize> {
        let bytes = body.get(at..at + 2)?;
        Some(usize::from(u16::from_be_bytes([bytes[0], bytes[1]])))
    };
    let located = match body.first() {
        // Version, length 5, type, time, key ID, algorithms, hash prefix.
        Some(3) if body.len() >= 19 => Some((body[15], 19)),
        // Version, type, algorithms, the two subpacket areas, hash prefix.
        Some(4) if body.len() >= 6 => u16_at(4).and_then(|hashed| {
            let unhashed = u16_at(6 + hashed)?;
            let start = 10 + hashed + unhashed;
            (start <= body.len()).then_some((body[2], start))
        }),
        _ => None,
    };
    let Some((algorithm, start)) = located else {
        return Ok(unchanged(Encoding::default()));
    };
    let Some(uses) = signature_uses(algorithm) else {
        return Ok(unchanged(Encoding::default()));
    };
    let (mpis, trailing) = Mpis::read(&body[start..], uses)?;
    let encoding = Encoding {
        non_canonical: mpis.non_canonical,
        eddsa_length: match uses.contains(&Use::Octets) {
            true => mpis
                .read
                .iter()
                .map(|&n| n + n % 2)
                .find(|&n| n != EDDSA_OCTETS),
            false => None,
        },
    };
    if !mpis.non_canonical && trailing.is_empty() {
        return Ok(unchanged(encoding));
    }
    let mut rewritten = body[..start].to_vec();
    rewritten.extend(&mpis.encoded);
    Ok(CanonicalSignature {
        body: Cow::Owned(rewritten),
        encoding,
    })
}

/// The length of an Ed25519 signature's R and S that libgcrypt verifies.
const EDDSA_OCTETS: usize = 32;

/// Why a v4 public key packet cannot be read, where Guix's
/// `get-public-key` fails on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyPacketProblem {
    /// It ends before its creation time and algorithm.
    #[error("the packet ends before the key's algorithm")]
    Truncated,
    /// An EdDSA key without its curve's OID.
    #[error("the EdDSA key has no curve OID")]
    NoCurve,
    /// One of its numbers cannot be read.
    #[error("{0}")]
    Mpi(MpiProblem),
    /// What Guix reads of it is longer than the two octets it hashes the
    /// length in (for the fingerprint) can say.
    #[error("the key packet is {length} octets long, more than 65,535")]
    TooLong {
        /// The octets read.
        length: usize,
    },
}

/// A v4 public key (or subkey) packet as Guix reads it.
#[derive(Debug)]
pub(crate) struct GuixKey {
    /// The key material, with canonical MPIs; for an algorithm Guix does
    /// not read, its octets unread (it then verifies nothing).
    pub key: Key<PublicParts, UnspecifiedRole>,
    /// Its fingerprint, from the packet as published.
    pub fingerprint: Fingerprint,
    /// Whether an MPI was not canonically encoded.
    pub non_canonical: bool,
}

/// Reads the body of a public key packet as Guix's `get-public-key` does;
/// `None` for a key that is not of version 4 (Guix skips it).
pub(crate) fn read_key(body: &[u8]) -> Result<Option<GuixKey>, KeyPacketProblem> {
    if body.first() != Some(&4) {
        return Ok(None);
    }
    let (Some(time), Some(&algorithm)) = (body.get(1..5), body.get(5)) else {
        return Err(KeyPacketProblem::Truncated);
    };
    let time = u32::from_be_bytes(time.try_into().expect("four octets"));
    let material = &body[6..];
    let read = |uses: &[Use], data| Mpis::read(data, uses).map_err(KeyPacketProblem::Mpi);
    use Use::Integer;
    let (mpis, non_canonical, rest) = match algorithm {
        1 => {
            let (m, rest) = read(&[Integer, Integer], material)?;
            let [n, e] = <[_; 2]>::try_from(m.values).expect("two MPIs");
            let mpis = mpi::PublicKey::RSA {
                e: e.into(),
                n: n.into(),
            };
            (mpis, m.non_canonical, rest)
        }
        17 => {
            let (m, rest) = read(&[Integer; 4], material)?;
            let [p, q, g, y] = <[_; 4]>::try_from(m.values).expect("four MPIs");
            let mpis = mpi::PublicKey::DSA {
                p: p.into(),
                q: q.into(),
                g: g.into(),
                y: y.into(),
            };
            (mpis, m.non_canonical, rest)
        }
        22 => {
            let (oid, data) = eddsa_oid(material)?;
            let (m, rest) = read(&[Integer], data)?;
            let [q] = <[_; 1]>::try_from(m.values).expect("one MPI");
            let curve = Curve::from_oid(oid);
            let mpis = mpi::PublicKey::EdDSA { curve, q: q.into() };
            (mpis, m.non_canonical, rest)
        }
        // `get-key` keeps the rest unread (`get-bytevector-all`).
        _ => {
            let mpis = mpi::PublicKey::Unknown {
                mpis: Box::new([]),
                rest: material.into(),
            };
            (mpis, false, &material[material.len()..])
        }
    };
    let read_length = body.len() - rest.len();
    let key = Key4::new(
        UNIX_EPOCH + Duration::from_secs(time.into()),
        PublicKeyAlgorithm::from(algorithm),
        mpis,
    )
    .expect("a 32-bit creation time is always valid");
    Ok(Some(GuixKey {
        key: Key::from(key),
        fingerprint: fingerprint(body, read_length)?,
        non_canonical,
    }))
}

/// The OID of an EdDSA key (leading zero octets dropped, as Guix compares
/// it as an integer) and what follows it. Guix reads one octet of length,
/// then that many octets (fewer if the packet ends first), and fails on
/// none.
fn eddsa_oid(material: &[u8]) -> Result<(&[u8], &[u8]), KeyPacketProblem> {
    let (&length, rest) = material.split_first().ok_or(KeyPacketProblem::NoCurve)?;
    let (oid, rest) = rest.split_at(usize::from(length).min(rest.len()));
    if oid.is_empty() {
        return Err(KeyPacketProblem::NoCurve);
    }
    let start = oid.iter().position(|&b| b != 0).unwrap_or(oid.len());
    // Guix's two curves read as sequoia's Ed25519 and Cv25519; any other
    // is refused by the keyring, as Guix's `match` fails on it.
    Ok((&oid[start..], rest))
}

/// A v4 key's fingerprint as Guix computes it: SHA-1 over 0x99, the
/// length of what `get-public-key` read as two octets, then the whole
/// body (trailing octets included). For a packet Guix reads to its end,
/// that is the v4 fingerprint of RFC 4880 over the packet as published.
fn fingerprint(body: &[u8], read_length: usize) -> Result<Fingerprint, KeyPacketProblem> {
    let length = u16::try_from(read_length).map_err(|_| KeyPacketProblem::TooLong {
        length: read_length,
    })?;
    let mut sha1 = sha1::Sha1::new();
    sha1.update([0x99]);
    sha1.update(length.to_be_bytes());
    sha1.update(body);
    Ok(Fingerprint::from_bytes(&sha1.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An MPI of `bits` with `octets`.
    fn mpi(bits: u16, octets: &[u8]) -> Vec<u8> {
        [&bits.to_be_bytes()[..], octets].concat()
    }

    #[test]
    fn mpis_are_read_as_guix_reads_them() {
        let one = |bits, octets: &[u8], use_| {
            Mpis::read(&mpi(bits, octets), &[use_])
                .map(|(m, rest)| (m.values[0].clone(), m.non_canonical, rest.to_vec()))
        };
        use Use::*;
        // Canonical.
        assert_eq!(
            one(9, &[1, 0xff], Integer),
            Ok((vec![1, 0xff], false, vec![]))
        );
        // Overstated: GitHub's encoding.
        assert_eq!(
            one(16, &[1, 0xff], Integer),
            Ok((vec![1, 0xff], true, vec![]))
        );
        assert_eq!(
            one(24, &[0, 1, 0xff], Integer),
            Ok((vec![1, 0xff], true, vec![]))
        );
        // Understated within the same octets: the octets decide.
        assert_eq!(
            one(9, &[0xff, 0xff], Integer),
            Ok((vec![0xff, 0xff], true, vec![]))
        );
        // Understated by an octet: the rest is left for the next field.
        assert_eq!(one(8, &[1, 0xff], Integer), Ok((vec![1], true, vec![0xff])));
        // Overrunning the packet: what remains.
        assert_eq!(
            one(24, &[1, 0xff], Integer),
            Ok((vec![1, 0xff], true, vec![]))
        );
        assert_eq!(one(8, &[], Integer), Err(MpiProblem::NoOctets { bits: 8 }));
        assert_eq!(one(0, &[], Integer), Err(MpiProblem::ZeroBits));
        assert_eq!(one(0, &[], Octets), Ok((vec![], false, vec![])));
        assert_eq!(
            Mpis::read(&[0], &[Integer]).unwrap_err(),
            MpiProblem::NoBitCount
        );
        let mut huge = vec![0xff, 0xff];
        huge.extend(vec![0xff; 8192]);
        assert_eq!(
            Mpis::read(&huge, &[Integer]).unwrap_err(),
            MpiProblem::TooLarge
        );
    }

    #[test]
    fn signature_mpis_are_rewritten_and_trailing_data_dropped() {
        // A v4 RSA signature: no subpackets, hash prefix, then s.
        let header = [4, 0, 1, 8, 0, 0, 0, 0, 0xab, 0xcd];
        let body = |s: &[u8]| [&header[..], s].concat();
        let canonical = body(&mpi(9, &[1, 2]));
        let read = canonical_signature(&canonical).unwrap();
        assert!(matches!(read.body, Cow::Borrowed(_)) && !read.encoding.non_canonical);
        let overstated = body(&mpi(16, &[1, 2]));
        let read = canonical_signature(&overstated).unwrap();
        assert_eq!(
            (read.body.as_ref(), read.encoding.non_canonical),
            (&canonical[..], true)
        );
        let trailing = body(&[mpi(9, &[1, 2]), vec![7]].concat());
        let read = canonical_signature(&trailing).unwrap();
        assert_eq!(
            (read.body.as_ref(), read.encoding.non_canonical),
            (&canonical[..], false)
        );
        assert_eq!(
            canonical_signature(&body(&[])).unwrap_err(),
            MpiProblem::NoBitCount
        );
        // EdDSA: R and S as Guix hands them to libgcrypt, which wants 32
        // octets (an odd number gets a zero octet first).
        let eddsa = |r: &[u8], s: &[u8]| {
            let body = [&[4, 0, 22, 8, 0, 0, 0, 0, 0xab, 0xcd][..], r, s].concat();
            canonical_signature(&body).unwrap().encoding.eddsa_length
        };
        let (full, short) = (vec![0x7f; 32], vec![0x7f; 31]);
        assert_eq!(eddsa(&mpi(255, &full), &mpi(255, &full)), None);
        assert_eq!(eddsa(&mpi(247, &short), &mpi(256, &full)), None);
        assert_eq!(eddsa(&mpi(239, &full[2..]), &mpi(255, &full)), Some(30));
        let padded = [&[0][..], &full].concat();
        assert_eq!(eddsa(&mpi(255, &full), &mpi(264, &padded)), Some(34));
        // Fields cut short: left for sequoia.
        let cut = [4, 0, 1, 8, 0, 9];
        assert!(matches!(
            canonical_signature(&cut).unwrap().body,
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn fingerprints_hash_the_key_packet_as_published() {
        let mut body = vec![4, 0, 0, 0, 1, 1];
        body.extend(mpi(16, &[0, 0xc5]));
        body.extend(mpi(17, &[1, 0, 1]));
        let key = read_key(&body).unwrap().unwrap();
        assert!(key.non_canonical);
        let expected = {
            let mut sha1 = sha1::Sha1::new();
            sha1.update([0x99, 0, body.len() as u8]);
            sha1.update(&body);
            Fingerprint::from_bytes(&sha1.finalize())
        };
        assert_eq!(key.fingerprint, expected);
        let mpi::PublicKey::RSA { n, e } = key.key.mpis() else {
            panic!("an RSA key")
        };
        assert_eq!((n.value(), e.value()), (&[0xc5][..], &[1, 0, 1][..]));
        assert_eq!(
            read_key(&[4, 0, 0]).unwrap_err(),
            KeyPacketProblem::Truncated
        );
        assert!(read_key(&[3, 0, 0]).unwrap().is_none());
    }

    #[test]
    fn frames_as_guix_frames_them() {
        let data = [0xc2, 2, 4, 0, 0x88, 1, 9];
        let (frame, rest) = next_frame(&data).unwrap();
        assert_eq!((frame.tag, frame.body), (2, &[4, 0][..]));
        let (frame, rest) = next_frame(rest).unwrap();
        assert_eq!((frame.tag, frame.body, rest), (2, &[9][..], &[][..]));
        // A length with no octet left, a header cut short.
        assert!(next_frame(&[0xc2, 2]).is_none());
        assert!(next_frame(&[0xc2]).is_none());
        assert_eq!(next_frame(&[0xc2, 0]).unwrap().0.body, &[] as &[u8]);
    }
}
