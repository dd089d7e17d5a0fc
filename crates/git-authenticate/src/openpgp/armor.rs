//! ASCII armor, read the way Guix reads it.
//!
//! Guix's `read-radix-64` differs from sequoia's tolerant reader in ways
//! that decide whether a repository is accepted: the CRC-24 checksum line is
//! required and must match (RFC 9580 lets readers ignore it; Guix does not),
//! and a key file is decoded from its first armor block only.

use base64::Engine;

/// Why ASCII-armored text was refused, as Guix's `read-radix-64` refuses
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArmorError {
    /// The first line is not `-----BEGIN …-----`.
    NoHeader,
    /// The first line is `-----BEGIN …-----` after white space, which
    /// Guix does not skip.
    IndentedHeader,
    /// The text ends before the `-----END …-----` line.
    Truncated,
    /// No blank line between the `-----BEGIN …-----` line (and its
    /// header lines) and the data: the end line comes first, and what
    /// follows it does not make a valid armor either.
    NoBlankLine,
    /// No `=XXXX` checksum line before the end line.
    MissingChecksum,
    /// The checksum does not match the data.
    BadChecksum,
    /// The body is not base64.
    NotBase64,
}

impl std::fmt::Display for ArmorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ArmorError::NoHeader => "its ASCII armor has no -----BEGIN line",
            ArmorError::IndentedHeader => {
                "its ASCII armor's -----BEGIN line is indented, which Guix does not accept"
            }
            ArmorError::Truncated => "its ASCII armor is truncated (no -----END line)",
            ArmorError::NoBlankLine => {
                "its ASCII armor has no blank line after the -----BEGIN line and its headers"
            }
            ArmorError::MissingChecksum => "its ASCII armor has no checksum line",
            ArmorError::BadChecksum => "its ASCII armor checksum does not match its contents",
            ArmorError::NotBase64 => "its ASCII armor is not valid base64",
        })
    }
}

impl std::error::Error for ArmorError {}

/// Whether a key file is armored, by Guix's test on its first byte: text,
/// or a byte that is no OpenPGP packet tag Guix knows (1 to 19).
pub(crate) fn looks_armored(contents: &[u8]) -> bool {
    let Some(&first) = contents.first() else {
        return false;
    };
    if first & 0x80 == 0 {
        return true;
    }
    let tag = if first & 0x40 != 0 {
        first & 0x3f
    } else {
        (first >> 2) & 0x0f
    };
    !(1..=19).contains(&tag)
}

/// Decodes the first armor block of `text`: its kind (`PGP SIGNATURE`) and
/// data. Header lines up to the first blank line are skipped, blank lines
/// in the body ignored, and the last body line must be the checksum.
pub(crate) fn decode_first_block(text: &[u8]) -> Result<(String, Vec<u8>), ArmorError> {
    // Armor is ASCII; anything else only has to fail cleanly.
    let text = String::from_utf8_lossy(text);
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or("").trim_end();
    let kind = begin_kind(first).ok_or_else(|| match begin_kind(first.trim_start()) {
        Some(_) => ArmorError::IndentedHeader,
        None => ArmorError::NoHeader,
    })?;
    let end = format!("-----END {kind}-----");
    // Armor headers ("Comment: …") run to the first blank line, even past
    // the end line, as Guix's `skip-headers` reads them: what Guix would
    // accept after that is accepted. Only the message changes when the
    // end line was skipped: the missing blank line is what is wrong.
    let mut skipped_end = false;
    let blank = lines.by_ref().find(|line| {
        skipped_end |= line.trim() == end;
        line.trim().is_empty()
    });
    let decoded = match blank {
        Some(_) => decode_body(&mut lines, &end),
        None => Err(ArmorError::Truncated),
    };
    let data = decoded.map_err(|e| {
        if skipped_end {
            ArmorError::NoBlankLine
        } else {
            e
        }
    })?;
    Ok((kind.to_owned(), data))
}

/// The kind of armor a `-----BEGIN …-----` line opens.
fn begin_kind(line: &str) -> Option<&str> {
    line.strip_prefix("-----BEGIN ")
        .and_then(|rest| rest.strip_suffix("-----"))
}

/// The data and checksum lines after the armor headers, up to `end`.
fn decode_body<'a>(
    lines: &mut impl Iterator<Item = &'a str>,
    end: &str,
) -> Result<Vec<u8>, ArmorError> {
    let mut body: Vec<&str> = Vec::new();
    loop {
        let line = lines.next().ok_or(ArmorError::Truncated)?.trim();
        if line == end {
            break;
        }
        if !line.is_empty() {
            body.push(line);
        }
    }
    let checksum = body.pop().ok_or(ArmorError::MissingChecksum)?;
    let checksum = checksum
        .strip_prefix('=')
        .ok_or(ArmorError::MissingChecksum)?;
    let base64 = base64::engine::general_purpose::STANDARD;
    let checksum = base64.decode(checksum).map_err(|_| ArmorError::NotBase64)?;
    let data = base64
        .decode(body.concat())
        .map_err(|_| ArmorError::NotBase64)?;
    let expected = checksum.iter().fold(0u32, |n, &b| (n << 8) | u32::from(b));
    if checksum.len() > 4 || expected != crc24(&data) {
        return Err(ArmorError::BadChecksum);
    }
    Ok(data)
}

/// `data` in an armor block of `kind` (`PGP SIGNATURE`), with its
/// checksum, for tests.
#[cfg(test)]
pub(crate) fn encode(kind: &str, data: &[u8]) -> String {
    use base64::Engine as _;
    let base64 = base64::engine::general_purpose::STANDARD;
    let checksum = base64.encode(&crc24(data).to_be_bytes()[1..]);
    format!(
        "-----BEGIN {kind}-----\n\n{}\n={checksum}\n-----END {kind}-----\n",
        base64.encode(data)
    )
}

/// The CRC-24 of RFC 4880, section 6.1, four bytes at a time: every
/// signature of a history goes through it.
///
/// The 24-bit register is kept in the top of a 32-bit one, so that four
/// input bytes are folded in at once, each through the table that carries
/// it past the bytes after it ("slicing by four").
fn crc24(data: &[u8]) -> u32 {
    const INIT: u32 = 0x00B7_04CE;
    let mut words = data.chunks_exact(4);
    let mut crc = INIT << 8;
    for word in words.by_ref() {
        crc ^= u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        crc = CRC24_TABLES[3][(crc >> 24) as usize]
            ^ CRC24_TABLES[2][(crc >> 16) as usize & 0xFF]
            ^ CRC24_TABLES[1][(crc >> 8) as usize & 0xFF]
            ^ CRC24_TABLES[0][crc as usize & 0xFF];
    }
    for &byte in words.remainder() {
        crc = (crc << 8) ^ CRC24_TABLES[0][((crc >> 24) as u8 ^ byte) as usize];
    }
    crc >> 8
}

/// `CRC24_TABLES[0][b]`: the register after byte `b` is shifted through
/// it (the polynomial in the top 24 bits); `CRC24_TABLES[k][b]`: the same,
/// followed by `k` zero bytes.
const CRC24_TABLES: [[u32; 256]; 4] = {
    const POLY: u32 = 0x864C_FB00;
    let mut tables = [[0u32; 256]; 4];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            crc = match crc & 0x8000_0000 {
                0 => crc << 1,
                _ => (crc << 1) ^ POLY,
            };
            bit += 1;
        }
        tables[0][i] = crc;
        i += 1;
    }
    let mut k = 1;
    while k < 4 {
        let mut i = 0;
        while i < 256 {
            let previous = tables[k - 1][i];
            tables[k][i] = (previous << 8) ^ tables[0][(previous >> 24) as usize];
            i += 1;
        }
        k += 1;
    }
    tables
};

/// The CRC-24 as RFC 4880 (section 6.1) writes it, a bit at a time: the
/// reference [`crc24`] is tested against, and what the fuzz targets
/// build valid armor with.
#[cfg(any(test, feature = "fuzzing"))]
pub fn crc24_rfc4880(data: &[u8]) -> u32 {
    let mut crc = 0x00B7_04CEu32;
    for &byte in data {
        crc ^= u32::from(byte) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x0100_0000 != 0 {
                crc ^= 0x0186_4CFB;
            }
        }
    }
    crc & 0x00FF_FFFF
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARMORED: &str = "-----BEGIN PGP SIGNATURE-----\nComment: x\n\naGVsbG8=\n=";

    fn block(checksum: &str) -> String {
        format!("{ARMORED}{checksum}\n-----END PGP SIGNATURE-----\n")
    }

    #[test]
    fn checks_the_crc() {
        let good =
            base64::engine::general_purpose::STANDARD.encode(&crc24(b"hello").to_be_bytes()[1..]);
        let (kind, data) = decode_first_block(block(&good).as_bytes()).unwrap();
        assert_eq!(
            (kind.as_str(), data.as_slice()),
            ("PGP SIGNATURE", &b"hello"[..])
        );
        assert_eq!(
            decode_first_block(block("AAAA").as_bytes()),
            Err(ArmorError::BadChecksum)
        );
        let without = "-----BEGIN PGP SIGNATURE-----\n\naGVsbG8=\n-----END PGP SIGNATURE-----\n";
        assert_eq!(
            decode_first_block(without.as_bytes()),
            Err(ArmorError::MissingChecksum)
        );
        assert_eq!(
            decode_first_block(b"-----BEGIN PGP SIGNATURE-----\n\naGVs"),
            Err(ArmorError::Truncated)
        );
        assert_eq!(decode_first_block(b"hello"), Err(ArmorError::NoHeader));
        let indented = format!("  {}", block(&good));
        assert_eq!(
            decode_first_block(indented.as_bytes()),
            Err(ArmorError::IndentedHeader)
        );
        let no_blank =
            "-----BEGIN PGP SIGNATURE-----\naGVsbG8=\n=AAAA\n-----END PGP SIGNATURE-----\n";
        assert_eq!(
            decode_first_block(no_blank.as_bytes()),
            Err(ArmorError::NoBlankLine)
        );
    }

    #[test]
    fn crc24_of_rfc_test_vector() {
        // CRC-24/OPENPGP check value for "123456789".
        assert_eq!(crc24(b"123456789"), 0x21CF02);
    }

    proptest::proptest! {
        #[test]
        fn crc24_four_bytes_at_a_time_is_rfc_4880s(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            proptest::prop_assert_eq!(crc24(&data), crc24_rfc4880(&data));
        }
    }

    #[test]
    fn armored_or_binary_as_guix_tells() {
        assert!(looks_armored(b"-----BEGIN"));
        assert!(looks_armored(b" "));
        assert!(!looks_armored(&[0x99, 0x01])); // old-format public key
        assert!(!looks_armored(&[0xc6, 0x01])); // new-format public key
        assert!(looks_armored(&[0xc0])); // tag 0: no packet Guix knows
        assert!(!looks_armored(b""));
    }
}
