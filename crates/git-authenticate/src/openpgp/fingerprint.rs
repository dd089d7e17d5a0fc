//! OpenPGP fingerprints, written the way users copy them and Guix prints them.

// Guix's `char-set:graphic`, as far as a fingerprint needs it.
mod graphic;

use std::fmt;
use std::str::FromStr;

use untrusted_text::Untrusted;

/// An OpenPGP key fingerprint (20 bytes for v4 keys, 32 for v6 keys).
///
/// Parsing ignores white space and accepts hex digits in either case, so the
/// spaced form found in channel files works as is
/// ([`FingerprintFilter::Typed`]). `Display` prints the spaced form Guix
/// prints; [`Fingerprint::to_hex`] gives the compact form.
///
/// ```
/// use git_authenticate::Fingerprint;
///
/// let fpr: Fingerprint = "BBB0 2DDF 2CEA F6A8 0D1D  E643 A2A0 6DF2 A33A 54FA".parse()?;
/// assert_eq!(fpr.to_hex(), "BBB02DDF2CEAF6A80D1DE643A2A06DF2A33A54FA");
/// assert_eq!(fpr.to_string(), "BBB0 2DDF 2CEA F6A8 0D1D  E643 A2A0 6DF2 A33A 54FA");
/// assert_eq!(fpr, "bbb02ddf2ceaf6a80d1de643a2a06df2a33a54fa".parse()?);
/// # Ok::<(), git_authenticate::FingerprintError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(Box<[u8]>);

/// Why a string is not a fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintError {
    /// Something other than hex digits and white space.
    #[error(
        "`{}` is not an OpenPGP fingerprint: only hex digits and spaces are allowed",
        Untrusted::new(.0)
    )]
    NotHex(String),
    /// An odd number of hex digits cannot be a byte string.
    #[error(
        "`{}` is not an OpenPGP fingerprint: it has an odd number of hex digits",
        Untrusted::new(.0)
    )]
    OddLength(String),
    /// Valid hex, but not the length of any OpenPGP fingerprint.
    #[error(
        "`{}` is not an OpenPGP fingerprint: it has {digits} hex digits \
         where {expected} are expected",
        Untrusted::new(input)
    )]
    WrongLength {
        /// What was given.
        input: String,
        /// How many hex digits it has.
        digits: usize,
        /// How many were expected, in words.
        expected: &'static str,
    },
}

impl Fingerprint {
    /// Wraps raw fingerprint bytes.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Fingerprint(bytes.into())
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Compact upper-case hex, e.g. `BBB02DDF…54FA`.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02X}")).collect()
    }

    /// Reads `text` as a fingerprint: drops the characters `filter` drops,
    /// then reads the rest as hex digits (either case), any even number of
    /// them, as Guix does (a `.guix-authorizations` entry of the wrong
    /// length is kept, and never matches a key). Linear in the length of
    /// `text`.
    ///
    /// ```
    /// use git_authenticate::{FingerprintFilter, Fingerprint, FingerprintError};
    ///
    /// let spaced = "AD17\u{a0}A21E\u{200b}F8AE";
    /// assert_eq!(Fingerprint::read(spaced, FingerprintFilter::Graphic)?.to_hex(), "AD17A21EF8AE");
    /// let pasted = "AD17:A21E-F8AE!";
    /// assert!(Fingerprint::read(pasted, FingerprintFilter::Graphic).is_err());
    /// assert_eq!(Fingerprint::read(pasted, FingerprintFilter::HexDigit)?.to_hex(), "AD17A21EF8AE");
    /// # Ok::<(), FingerprintError>(())
    /// ```
    pub fn read(text: &str, filter: FingerprintFilter) -> Result<Self, FingerprintError> {
        let mut digits = Vec::with_capacity(text.len());
        for c in text.chars() {
            match c.to_digit(16) {
                Some(digit) => digits.push(digit as u8),
                None if filter.drops(c) => {}
                None => return Err(FingerprintError::NotHex(text.to_owned())),
            }
        }
        if !digits.len().is_multiple_of(2) {
            return Err(FingerprintError::OddLength(text.to_owned()));
        }
        let bytes = digits
            .chunks(2)
            .map(|pair| (pair[0] << 4) | pair[1])
            .collect();
        Ok(Fingerprint(bytes))
    }
}

/// Which characters of a fingerprint's text are dropped before its hex
/// digits are read: Guix reads fingerprints in two ways, and this crate
/// reads typed ones in a third, stricter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FingerprintFilter {
    /// As `read-authorizations` (`guix/git-authenticate.scm`) reads a
    /// `.guix-authorizations` entry, `(string-filter char-set:graphic …)`:
    /// what Guile does not call graphic (spaces of every kind, controls,
    /// format characters such as U+200B or U+FEFF, private use) is dropped,
    /// and what is left must be hex digits. Code points Guile 3.0.8 leaves
    /// unassigned, which it drops too, are refused: a Guile with newer
    /// Unicode tables may call them graphic, keep them and fail.
    Graphic,
    /// As `openpgp-fingerprint->bytevector` (`guix/channels.scm`) reads an
    /// introduction's signer, `(string-filter char-set:hex-digit …)`: every
    /// character but the ASCII hex digits is dropped, so only an odd
    /// number of digits fails.
    HexDigit,
    /// As this crate reads a fingerprint a user types or pastes (command
    /// line, configuration, [`str::parse`]): white space and control
    /// characters are dropped, anything else is refused. Stricter than
    /// Guix's `guix git authenticate`, which reads its argument as
    /// [`FingerprintFilter::HexDigit`] does: a format character such as a
    /// right-to-left override, which [`FingerprintFilter::Graphic`] drops,
    /// would show the user other digits than those read.
    Typed,
}

impl FingerprintFilter {
    /// Whether `c`, no hex digit, is dropped rather than refused.
    fn drops(self, c: char) -> bool {
        match self {
            FingerprintFilter::Graphic => graphic::assigned_not_graphic(c),
            FingerprintFilter::HexDigit => true,
            FingerprintFilter::Typed => c.is_whitespace() || c.is_control(),
        }
    }
}

impl FromStr for Fingerprint {
    type Err = FingerprintError;

    /// Accepts only real fingerprint lengths (40 or 64 hex digits).
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fingerprint = Self::read(input, FingerprintFilter::Typed)?;
        match fingerprint.0.len() {
            20 | 32 => Ok(fingerprint),
            n => Err(FingerprintError::WrongLength {
                input: input.to_owned(),
                digits: n * 2,
                expected: "40 (v4 key) or 64 (v6 key)",
            }),
        }
    }
}

impl From<&sequoia_openpgp::Fingerprint> for Fingerprint {
    fn from(fpr: &sequoia_openpgp::Fingerprint) -> Self {
        Fingerprint::from_bytes(fpr.as_bytes())
    }
}

impl fmt::Display for Fingerprint {
    /// Groups of four hex digits; for v4 fingerprints, with the double space
    /// in the middle that GnuPG and Guix print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.to_hex();
        for (i, group) in hex.as_bytes().chunks(4).enumerate() {
            if i > 0 {
                f.write_str(if self.0.len() == 20 && i == 5 {
                    "  "
                } else {
                    " "
                })?;
            }
            f.write_str(std::str::from_utf8(group).expect("hex is ASCII"))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

/// An OpenPGP key ID: the low 64 bits of a key's fingerprint, which old
/// signatures name their issuer by. Kept as the signature has it, even
/// when it is not eight bytes long (it then matches no key).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(Box<[u8]>);

impl KeyId {
    /// Wraps the bytes of a key ID.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        KeyId(bytes.into())
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Display for KeyId {
    /// Upper-case hex, as gpg prints key IDs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02X}"))
    }
}

impl std::fmt::Debug for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// The key a signature says it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Issuer {
    /// An issuer fingerprint subpacket.
    Fingerprint(Fingerprint),
    /// An issuer key ID subpacket, when there is no fingerprint.
    KeyId(KeyId),
}

impl std::fmt::Display for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Issuer::Fingerprint(fingerprint) => fingerprint.fmt(f),
            Issuer::KeyId(id) => id.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling_users_copy() {
        let compact: Fingerprint = "2A393FFF68F4EF7A3D2912AF6F5120A022FBB2D5".parse().unwrap();
        let spaced: Fingerprint = "2A39 3FFF 68F4 EF7A 3D29  12AF 6F51 20A0 22FB B2D5"
            .parse()
            .unwrap();
        let lower: Fingerprint = "2a393fff68f4ef7a3d2912af6f5120a022fbb2d5".parse().unwrap();
        assert_eq!(compact, spaced);
        assert_eq!(compact, lower);
        assert_eq!(
            spaced.to_string(),
            "2A39 3FFF 68F4 EF7A 3D29  12AF 6F51 20A0 22FB B2D5"
        );
    }

    #[test]
    fn rejects_what_is_not_a_fingerprint() {
        assert!(matches!(
            "2A39 3FFF".parse::<Fingerprint>(),
            Err(FingerprintError::WrongLength { digits: 8, .. })
        ));
        assert!(matches!(
            "2A39 3FFG".parse::<Fingerprint>(),
            Err(FingerprintError::NotHex(_))
        ));
        assert!(matches!(
            "2A393".parse::<Fingerprint>(),
            Err(FingerprintError::OddLength(_))
        ));
    }

    #[test]
    fn any_length_is_kept_for_authorizations() {
        let short = Fingerprint::read("ABCD", FingerprintFilter::Graphic).unwrap();
        assert_eq!(
            short,
            Fingerprint::read("AB\u{a0}CD", FingerprintFilter::Typed).unwrap()
        );
        // Invisible, and it reverses what follows on screen.
        assert!(Fingerprint::read("AB\u{202e}CD", FingerprintFilter::Typed).is_err());
        assert_eq!(
            short,
            Fingerprint::read("AB\u{202e}CD", FingerprintFilter::Graphic).unwrap()
        );
        assert_eq!(short.as_bytes(), &[0xAB, 0xCD]);
        assert_eq!(short.to_string(), "ABCD");
    }
}
