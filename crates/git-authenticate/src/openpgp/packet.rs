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

use crate::openpgp::fingerprint::Fingerprint;

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
    /// An old-format packet of indeterminate length: its body runs to the
    /// end, and Guix reads it from the file's own port, not from a port of
    /// its own (see [`read_key_at`]).
    pub indeterminate: bool,
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
    let indeterminate = length.is_none();
    Some((
        Frame {
            tag,
            body,
            indeterminate,
        },
        rest,
    ))
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
    /// How many octets of the body Guix's `get-signature` reads: up to
    /// the last MPI of an algorithm it reads, all of them for another
    /// (`get-bytevector-all`) or for fields cut short, the version alone
    /// for another version. What follows matters in a packet of
    /// indeterminate length, read from the file's port: Guix reads the
    /// next packet from there.
    pub read: usize,
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
    let unchanged = |encoding, read| CanonicalSignature {
        body: Cow::Borrowed(body),
        encoding,
        read,
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
        let read = match body.first() {
            Some(3 | 4) => body.len(),
            _ => body.len().min(1),
        };
        return Ok(unchanged(Encoding::default(), read));
    };
    let Some(uses) = signature_uses(algorithm) else {
        return Ok(unchanged(Encoding::default(), body.len()));
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
    let read = body.len() - trailing.len();
    if !mpis.non_canonical && trailing.is_empty() {
        return Ok(unchanged(encoding, read));
    }
    let mut rewritten = body[..start].to_vec();
    rewritten.extend(&mpis.encoded);
    Ok(CanonicalSignature {
        body: Cow::Owned(rewritten),
        encoding,
        read,
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
    read_key_at(body, 0)
}

/// [`read_key`] for a body at `at` in `port`, the octets of the port Guix
/// reads it from: its fingerprint hashes the whole port, with the position
/// after the key as the length (`fingerprint` in `get-public-key` rewinds
/// the port to 0 and dumps it). The port is the body itself for a packet
/// of some length (`get-data` reads it into a port of its own), the whole
/// file for an old-format packet of indeterminate length (`get-data`
/// passes the file's port on): its fingerprint then covers every octet of
/// the file, the packets before it included.
pub(crate) fn read_key_at(port: &[u8], at: usize) -> Result<Option<GuixKey>, KeyPacketProblem> {
    let body = &port[at..];
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
    let read_length = port.len() - rest.len();
    let key = Key4::new(
        UNIX_EPOCH + Duration::from_secs(time.into()),
        PublicKeyAlgorithm::from(algorithm),
        mpis,
    )
    .expect("a 32-bit creation time is always valid");
    Ok(Some(GuixKey {
        key: Key::from(key),
        fingerprint: fingerprint(port, read_length)?,
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
/// position in the port after what `get-public-key` read, as two octets,
/// then the whole port (trailing octets included). For a packet Guix reads to its end,
/// that is the v4 fingerprint of RFC 4880 over the packet as published.
fn fingerprint(port: &[u8], read_length: usize) -> Result<Fingerprint, KeyPacketProblem> {
    let length = u16::try_from(read_length).map_err(|_| KeyPacketProblem::TooLong {
        length: read_length,
    })?;
    let mut sha1 = sha1::Sha1::new();
    sha1.update([0x99]);
    sha1.update(length.to_be_bytes());
    sha1.update(port);
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

/// Hostile packets, random and mutated from real keys (gpg's and
/// sequoia's in `test-repos/keys/`) and real signatures: the reader and
/// the keyring and signature loaders never panic, do work bounded by the
/// input, and leave canonical input exactly as it is.
#[cfg(test)]
mod properties {
    use super::*;
    use crate::openpgp::crypto::{self, Engine};
    use crate::openpgp::keyring::Keyring;
    use crate::openpgp::signature::parse_signature_body;
    use openpgp::cert::Cert;
    use openpgp::packet::signature::SignatureBuilder;
    use openpgp::parse::Parse;
    use openpgp::policy::StandardPolicy;
    use openpgp::serialize::MarshalInto;
    use openpgp::types::SignatureType;
    use proptest::prelude::*;

    /// The data the real signatures sign.
    const SIGNED: &[u8] = b"tree 0\n\nsigned data\n";

    /// Test keys: two made by GnuPG 2.2 (RSA, DSA), three by sequoia
    /// (Ed25519, RSA, Ed25519 with a signing subkey).
    const KEYS: [&str; 5] = [
        include_str!("../../../../test-repos/keys/dave.asc"),
        include_str!("../../../../test-repos/keys/erin.asc"),
        include_str!("../../../../test-repos/keys/alice.asc"),
        include_str!("../../../../test-repos/keys/bob.asc"),
        include_str!("../../../../test-repos/keys/carol.asc"),
    ];

    /// Each test key's public certificate (binary, canonical) and a
    /// signature packet over [`SIGNED`] made with its signing key.
    fn real() -> &'static [(Vec<u8>, Vec<u8>)] {
        static REAL: std::sync::OnceLock<Vec<(Vec<u8>, Vec<u8>)>> = std::sync::OnceLock::new();
        REAL.get_or_init(|| {
            let policy = StandardPolicy::new();
            KEYS.iter()
                .map(|armored| {
                    let cert = Cert::from_bytes(armored.as_bytes()).unwrap();
                    let signer = cert
                        .keys()
                        .with_policy(&policy, None)
                        .secret()
                        .for_signing()
                        .next()
                        .unwrap();
                    let mut pair = signer.key().clone().into_keypair().unwrap();
                    let signature = SignatureBuilder::new(SignatureType::Binary)
                        .sign_message(&mut pair, SIGNED)
                        .unwrap();
                    let packet = openpgp::Packet::from(signature).to_vec().unwrap();
                    (cert.to_vec().unwrap(), packet)
                })
                .collect()
        })
    }

    /// Every frame of `data`; each takes one octet at least, so there are
    /// never more frames than octets.
    fn frames(mut data: &[u8]) -> Vec<Frame<'_>> {
        let mut frames = Vec::new();
        while let Some((frame, rest)) = next_frame(data) {
            assert!(rest.len() < data.len(), "no progress");
            assert!(frame.body.len() <= data.len());
            frames.push(frame);
            data = rest;
        }
        frames
    }

    /// Runs `data` through everything that reads packets: the framing,
    /// the key and signature readers, the keyring loader, and the
    /// verifiers (with every key of the keyring on every signature).
    fn read_everything(data: &[u8]) {
        let mut signatures = Vec::new();
        for frame in frames(data) {
            let _ = read_key(frame.body);
            if let Ok(read) = canonical_signature(frame.body) {
                assert!(read.body.len() <= frame.body.len() + 2 * 4);
            }
            if let Ok((signature, _)) = parse_signature_body(frame.body) {
                signatures.push(signature);
            }
        }
        let Ok(keyring) = Keyring::from_files("keyring", [("hostile.key", data)]) else {
            return;
        };
        for key in keyring.keys() {
            for signature in &signatures {
                for engine in [Engine::Fastest, Engine::Sequoia] {
                    let _ = crypto::verify(engine, signature, key.key(), key.prepared(), SIGNED);
                }
            }
        }
    }

    /// Real packets are canonical: nothing is rewritten, every key's
    /// fingerprint is RFC 4880's (sequoia's), and every signature
    /// verifies with its key after going through the reader.
    #[test]
    fn canonical_packets_are_unchanged() {
        for (cert, signature) in real() {
            let file = [&cert[..], signature].concat();
            for frame in frames(&file) {
                match frame.tag {
                    tag::PUBLIC_KEY | tag::PUBLIC_SUBKEY => {
                        let read = read_key(frame.body).unwrap().unwrap();
                        assert!(!read.non_canonical);
                        let sequoia = Fingerprint::from(&read.key.fingerprint());
                        assert_eq!(read.fingerprint, sequoia);
                    }
                    tag::SIGNATURE => {
                        let read = canonical_signature(frame.body).unwrap();
                        assert!(matches!(read.body, Cow::Borrowed(b) if b == frame.body));
                        assert_eq!(read.encoding, Encoding::default());
                    }
                    _ => {}
                }
            }
            let keyring = Keyring::from_files("keyring", [("real.key", &cert[..])]).unwrap();
            assert!(keyring.keys().iter().all(|k| !k.non_canonical()));
            let (signature, _) = parse_signature_body(frames(signature)[0].body).unwrap();
            assert!(keyring.keys().iter().any(|key| crypto::verify(
                Engine::Fastest,
                &signature,
                key.key(),
                key.prepared(),
                SIGNED
            )
            .is_ok()));
        }
    }

    /// A key packet of indeterminate length (old format, length type 3)
    /// is read by Guix from the file's port: its fingerprint hashes the
    /// whole file, packets before it included, with the file's length
    /// (checked with Guix's own `get-openpgp-keyring` on gpg's key).
    #[test]
    fn indeterminate_key_packets_hash_the_whole_file() {
        let cert = &real()[0].0;
        let body = frames(cert)[0].body;
        let sha1 = |data: &[u8]| {
            let mut sha1 = sha1::Sha1::new();
            sha1.update([0x99]);
            sha1.update(u16::try_from(data.len()).unwrap().to_be_bytes());
            sha1.update(data);
            Fingerprint::from_bytes(&sha1.finalize())
        };
        // An empty trust packet, then the key.
        let file = [&[0xb0, 0, 0x9b][..], body].concat();
        let keyring = Keyring::from_files("keyring", [("k.key", &file[..])]).unwrap();
        let fingerprints: Vec<_> = keyring.keys().iter().map(|k| k.fingerprint()).collect();
        assert_eq!(fingerprints, [&sha1(&file)]);
        assert_ne!(sha1(&file), sha1(body));
        // The same key of some length: RFC 4880's fingerprint.
        let file = [
            &[0x99][..],
            &u16::try_from(body.len()).unwrap().to_be_bytes(),
            body,
        ]
        .concat();
        let keyring = Keyring::from_files("keyring", [("k.key", &file[..])]).unwrap();
        assert_eq!(keyring.keys()[0].fingerprint(), &sha1(body));
        // Past 65,535 octets, Guix's `put-u16` fails.
        let file = [&[0xb2, 0, 1, 0, 0][..], &[0; 65536], &[0x9b], body].concat();
        assert!(Keyring::from_files("keyring", [("k.key", &file[..])]).is_err());
    }

    /// RFC 4880's fingerprint of a v4 key packet's body.
    fn sha1_fingerprint(body: &[u8]) -> Fingerprint {
        let mut sha1 = sha1::Sha1::new();
        sha1.update([0x99]);
        sha1.update(u16::try_from(body.len()).unwrap().to_be_bytes());
        sha1.update(body);
        Fingerprint::from_bytes(&sha1.finalize())
    }

    /// Other packets of indeterminate length, as Guix reads them from the
    /// file's port (checked with Guix's `get-openpgp-keyring`): a trust
    /// packet reads nothing, so the key after it is read; a user ID has
    /// no length, and Guix fails.
    #[test]
    fn indeterminate_packets_read_as_guix_reads_them() {
        let cert = &real()[0].0;
        let key = frames(cert)[0].body;
        let definite = [
            &[0x99][..],
            &u16::try_from(key.len()).unwrap().to_be_bytes(),
            key,
        ]
        .concat();
        let fingerprint = Keyring::from_files("keyring", [("k.key", &definite[..])])
            .unwrap()
            .keys()[0]
            .fingerprint()
            .clone();
        for file in [
            [&[0xb3][..], &definite].concat(),
            [&definite[..], &[0xb3], &definite].concat(),
            [&definite[..], &[0x93], &definite].concat(),
        ] {
            let keyring = Keyring::from_files("keyring", [("k.key", &file[..])]).unwrap();
            let fingerprints: Vec<_> = keyring.keys().iter().map(|k| k.fingerprint()).collect();
            assert_eq!(fingerprints, [&fingerprint]);
        }
        // A key of another version: Guix reads its version octet alone.
        let file = [&[0x9b, 3][..], &definite].concat();
        let keyring = Keyring::from_files("keyring", [("k.key", &file[..])]).unwrap();
        assert_eq!(keyring.keys()[0].fingerprint(), &fingerprint);
        // A signature: the next packet starts after its last MPI.
        let signature = frames(&real()[0].1)[0].body;
        let other = frames(&real()[1].0)[0].body;
        let other = [
            &[0x99][..],
            &u16::try_from(other.len()).unwrap().to_be_bytes(),
            other,
        ]
        .concat();
        let file = [&definite[..], &[0x8b], signature, &other].concat();
        let keyring = Keyring::from_files("keyring", [("k.key", &file[..])]).unwrap();
        let expected = [fingerprint.clone(), sha1_fingerprint(&other[3..])];
        let fingerprints: Vec<_> = keyring
            .keys()
            .iter()
            .map(|k| k.fingerprint().clone())
            .collect();
        assert_eq!(fingerprints, expected);
        // (A user attribute's tag, 17, has no old format.)
        {
            let file = [&definite[..], &[0xb7], b"Alice"].concat();
            let error = Keyring::from_files("keyring", [("k.key", &file[..])]).unwrap_err();
            assert!(
                matches!(
                    error,
                    crate::KeyringError::MalformedKey {
                        reason: crate::KeyProblem::IndeterminateLength { .. },
                        ..
                    }
                ),
                "{error:?}"
            );
        }
    }

    /// Lengths that promise far more than the input holds: nothing is
    /// allocated for them, nothing panics.
    #[test]
    fn declared_lengths_beyond_the_input() {
        // A new-format length of 0xFFFFFFFF, partial body lengths (read
        // as two-octet lengths, as Guix reads them), an old-format
        // indeterminate length, and old-format four-octet lengths.
        for header in [
            &[0xc6, 0xff, 0xff, 0xff, 0xff, 0xff][..],
            &[0xc6, 0xe0, 0xff],
            &[0xc6, 0xfe, 0xff],
            &[0x9b],
            &[0x9a, 0xff, 0xff, 0xff, 0xff],
        ] {
            let mut data = header.to_vec();
            data.extend([4, 0, 0, 0, 0, 1, 0xff, 0xff, 0x80]);
            let (frame, rest) = next_frame(&data).unwrap();
            assert_eq!((frame.body, rest), (&data[header.len()..], &[][..]));
            read_everything(&data);
        }
        // Bit counts of 65,535 with few octets, or exactly enough.
        let mut key = vec![4, 0, 0, 0, 0, 1, 0xff, 0xff, 0x80];
        assert!(read_key(&key).is_err());
        key.extend(vec![0xff; 8191]);
        assert_eq!(
            read_key(&key).unwrap_err(),
            KeyPacketProblem::Mpi(MpiProblem::TooLarge)
        );
    }

    /// A mutation of a real file: octets overwritten, inserted, removed,
    /// and the file cut short.
    #[derive(Debug, Clone)]
    enum Mutation {
        Set(usize, u8),
        Insert(usize, Vec<u8>),
        Remove(usize, usize),
        Truncate(usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            4 => (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Set(at, b)),
            // Octets that make lengths and counts extreme.
            2 => (any::<usize>(), prop::sample::select(vec![0u8, 0x7f, 0x80, 0xc0, 0xe0, 0xff]))
                .prop_map(|(at, b)| Mutation::Set(at, b)),
            1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
                .prop_map(|(at, v)| Mutation::Insert(at, v)),
            1 => (any::<usize>(), 1..16usize).prop_map(|(at, n)| Mutation::Remove(at, n)),
            1 => any::<usize>().prop_map(Mutation::Truncate),
        ]
    }

    fn mutate(data: &mut Vec<u8>, mutation: &Mutation) {
        if data.is_empty() {
            return;
        }
        let len = data.len();
        match mutation {
            Mutation::Set(at, b) => data[at % len] = *b,
            Mutation::Insert(at, v) => {
                let at = at % len;
                data.splice(at..at, v.iter().copied());
            }
            Mutation::Remove(at, n) => {
                let at = at % len;
                data.drain(at..(at + n).min(len));
            }
            Mutation::Truncate(at) => data.truncate(at % len),
        }
    }

    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    proptest! {
        #![proptest_config(config())]

        /// Random octets.
        #[test]
        fn random_packets_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
            read_everything(&data);
        }

        /// Real keys and signatures, mutated.
        #[test]
        fn mutated_real_packets_never_panic(
            which in 0..KEYS.len(),
            mutations in prop::collection::vec(mutation(), 1..6),
        ) {
            let (cert, signature) = &real()[which];
            let mut data = [&cert[..], signature].concat();
            for m in &mutations {
                mutate(&mut data, m);
            }
            read_everything(&data);
        }

        /// An MPI's count overstated (GitHub's encoding) or padded with
        /// zero octets reads the same value: the key is the same key
        /// (sequoia's fingerprint, over its canonical encoding, is
        /// unchanged, as GnuPG's is), but its fingerprint is that of the
        /// packet as published; a signature reads as its canonical self.
        #[test]
        fn overstated_counts_read_the_same_values(
            which in 0..KEYS.len(),
            extra_bits in 1u16..24,
        ) {
            let (cert, signature) = &real()[which];
            let key = frames(cert)[0].body.to_vec();
            let canonical = read_key(&key).unwrap().unwrap();
            // The first MPI starts after version, time and algorithm
            // (EdDSA: after the curve's OID).
            let at = match key[5] {
                22 => 7 + usize::from(key[6]),
                _ => 6,
            };
            let overstated = overstate(&key, at, extra_bits);
            let read = read_key(&overstated).unwrap().unwrap();
            prop_assert!(read.non_canonical);
            prop_assert_eq!(read.key.mpis(), canonical.key.mpis());
            prop_assert_eq!(
                Fingerprint::from(&read.key.fingerprint()),
                canonical.fingerprint.clone()
            );
            prop_assert_eq!(read.fingerprint.clone(), fingerprint(&overstated, overstated.len()).unwrap());
            prop_assert_ne!(read.fingerprint, canonical.fingerprint);

            let body = frames(signature)[0].body;
            let start = body.len() - mpis_length(body);
            let overstated = overstate(body, start, extra_bits);
            let read = canonical_signature(&overstated).unwrap();
            prop_assert!(read.encoding.non_canonical);
            prop_assert_eq!(read.body.as_ref(), body);
        }
    }

    /// A key packet of `algorithm` with `values` as its MPIs (Ed25519's
    /// OID for EdDSA), framed as an old-format packet.
    fn key_file(algorithm: u8, values: &[Vec<u8>]) -> Vec<u8> {
        let mut body = vec![4, 0x5e, 0x0b, 0xe1, 0x00, algorithm];
        if algorithm == 22 {
            body.extend([9, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01]);
        }
        for value in values {
            body.extend(u16::try_from(value.len() * 8).unwrap().to_be_bytes());
            body.extend(value);
        }
        let mut file = vec![0x99];
        file.extend(u16::try_from(body.len()).unwrap().to_be_bytes());
        file.extend(body);
        file
    }

    proptest! {
        #![proptest_config(config())]

        /// Degenerate key material (zero, tiny, even moduli, counts that
        /// overstate) and degenerate signature values reach the
        /// verifiers, which refuse them without panicking.
        #[test]
        fn degenerate_numbers_are_refused_without_panic(
            which in 0..3usize,
            values in prop::collection::vec(
                prop::collection::vec(prop::sample::select(vec![0u8, 1, 2, 3, 0x80, 0xff]), 1..40),
                4,
            ),
            signature_value in prop::collection::vec(any::<u8>(), 1..70),
        ) {
            // dave (RSA), erin (DSA), alice (Ed25519).
            let (algorithm, mpis) = [(1u8, 2usize), (17, 4), (22, 1)][which];
            let file = key_file(algorithm, &values[..mpis]);
            if let Ok(keyring) = Keyring::from_files("keyring", [("degenerate.key", &file[..])]) {
                let body = frames(&real()[which].1)[0].body;
                let start = body.len() - mpis_length(body);
                let mut forged = body[..start].to_vec();
                for _ in 0..[1, 2, 2][which] {
                    let bits = u16::try_from(signature_value.len() * 8).unwrap();
                    forged.extend(bits.to_be_bytes());
                    forged.extend(&signature_value);
                }
                let real_signature = parse_signature_body(body).unwrap().0;
                let forged = parse_signature_body(&forged).map(|read| read.0);
                for signature in std::iter::once(real_signature).chain(forged) {
                    for key in keyring.keys() {
                        for engine in [Engine::Fastest, Engine::Sequoia] {
                            let verified = crypto::verify(
                                engine, &signature, key.key(), key.prepared(), SIGNED,
                            );
                            prop_assert!(verified.is_err());
                        }
                    }
                }
            }
        }
    }

    /// `body` with the MPI at `at` given `extra` more bits in its count,
    /// with the zero octets that makes it need.
    fn overstate(body: &[u8], at: usize, extra: u16) -> Vec<u8> {
        let bits = u16::from_be_bytes([body[at], body[at + 1]]);
        let octets = usize::from(bits).div_ceil(8);
        let new_bits = bits + extra;
        let zeros = usize::from(new_bits).div_ceil(8) - octets;
        let mut out = body[..at].to_vec();
        out.extend(new_bits.to_be_bytes());
        out.extend(vec![0; zeros]);
        out.extend(&body[at + 2..]);
        out
    }

    /// The length of a real (canonical, untrailed) signature's MPIs.
    fn mpis_length(body: &[u8]) -> usize {
        let read = canonical_signature(body).unwrap();
        let hashed = usize::from(u16::from_be_bytes([body[4], body[5]]));
        let unhashed = usize::from(u16::from_be_bytes([body[6 + hashed], body[7 + hashed]]));
        read.body.len() - (10 + hashed + unhashed)
    }
}
