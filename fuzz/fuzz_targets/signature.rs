//! Commit objects and their `gpgsig` headers come from untrusted
//! repositories: splitting a raw commit and parsing its signature must
//! return, never panic.
//!
//! `parse_armored` checks the armor's CRC-24 before it looks at the
//! packets, and random mutations almost never keep a CRC right. So the
//! input is also taken as the binary packets of a signature, armored here
//! with a correct checksum, to reach the packet parser.
#![no_main]

use git_authenticate::fuzzing::{crc24_rfc4880 as crc24, extract_signature, parse_armored};
use libfuzzer_sys::fuzz_target;

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `binary` in an armor block with a correct checksum, as gpg writes it.
fn armor(binary: &[u8]) -> Vec<u8> {
    let mut text = String::from("-----BEGIN PGP SIGNATURE-----\n\n");
    let body = base64(binary);
    for line in body.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(line).unwrap());
        text.push('\n');
    }
    let crc = crc24(binary);
    text.push('=');
    text.push_str(&base64(&[(crc >> 16) as u8, (crc >> 8) as u8, crc as u8]));
    text.push_str("\n-----END PGP SIGNATURE-----\n");
    text.into_bytes()
}

fuzz_target!(|data: &[u8]| {
    if let Some((signature, signed)) = extract_signature(data) {
        // The signed data is the commit without its signature: never
        // longer than the commit.
        assert!(signed.len() <= data.len());
        if let Ok(packet) = parse_armored(&signature) {
            let _ = (packet.hash_algo(), packet.typ(), packet.issuers().count());
        }
    }
    if let Ok(packet) = parse_armored(data) {
        let _ = (
            packet.hash_algo(),
            packet.typ(),
            packet.issuer_fingerprints().count(),
        );
    }
    if let Ok(packet) = parse_armored(&armor(data)) {
        let _ = (packet.hash_algo(), packet.typ(), packet.issuers().count());
    }
});
