//! The introduction: the commit and signer where trust in a channel starts.

use std::fmt;

use git2::Oid;

use crate::error::Error;
use crate::fingerprint::Fingerprint;
use crate::sexp;

/// A channel introduction: the first commit to trust and the fingerprint of
/// the key that must have signed it. Users get it from a trusted place.
///
/// ```
/// use git_authenticate::Introduction;
///
/// let intro = Introduction::new(
///     "897c1a470da759236cc11798f4e0a5f7d4d59fbc",
///     "2A39 3FFF 68F4 EF7A 3D29  12AF 6F51 20A0 22FB B2D5",
/// )?;
/// // The same, as written in a channels file:
/// let same = Introduction::from_channel_form(r#"
///   (make-channel-introduction
///    "897c1a470da759236cc11798f4e0a5f7d4d59fbc"
///    (openpgp-fingerprint
///     "2A39 3FFF 68F4 EF7A 3D29  12AF 6F51 20A0 22FB B2D5"))"#)?;
/// assert_eq!(intro, same);
/// # Ok::<(), git_authenticate::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Introduction {
    /// The introductory commit.
    pub commit: Oid,
    /// The fingerprint of the key that signed it.
    pub signer: Fingerprint,
}

impl Introduction {
    /// From a full 40-hex-digit commit id and a v4 fingerprint (40 hex
    /// digits, white space ignored).
    pub fn new(commit: &str, signer: &str) -> Result<Self, Error> {
        Ok(Introduction {
            commit: parse_commit_id(commit)?,
            signer: parse_signer(signer)?,
        })
    }

    /// From the form used in channels files:
    /// `(make-channel-introduction "COMMIT" (openpgp-fingerprint "FPR"))`.
    pub fn from_channel_form(text: &str) -> Result<Self, Error> {
        let invalid = |what: &str| Error::InvalidIntroduction(what.to_owned());
        let datum = sexp::read_first(text.as_bytes()).map_err(|e| invalid(&e.to_string()))?;
        let expected =
            "expected (make-channel-introduction \"COMMIT\" (openpgp-fingerprint \"FINGERPRINT\"))";
        let items = sexp::list(&datum)
            .filter(|i| i.len() == 3 && i[0].as_symbol() == Some("make-channel-introduction"))
            .ok_or_else(|| invalid(expected))?;
        let commit = items[1].as_str().ok_or_else(|| invalid(expected))?;
        let signer = sexp::list(items[2])
            .filter(|f| f.len() == 2 && f[0].as_symbol() == Some("openpgp-fingerprint"))
            .and_then(|f| f[1].as_str())
            .ok_or_else(|| invalid(expected))?;
        Introduction::new(commit, signer)
    }

    /// The introduction of the GNU Guix channel.
    pub fn guix() -> Self {
        Introduction::new(
            "9edb3f66fd807b096b48283debdcddccfea34bad",
            "BBB0 2DDF 2CEA F6A8 0D1D  E643 A2A0 6DF2 A33A 54FA",
        )
        .expect("the Guix introduction is well-formed")
    }
}

impl fmt::Display for Introduction {
    /// The channels-file form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(make-channel-introduction \"{}\" (openpgp-fingerprint \"{}\"))",
            self.commit, self.signer
        )
    }
}

/// A full commit id: git2 would silently zero-pad a short one, which is no
/// way to name a root of trust.
pub fn parse_commit_id(text: &str) -> Result<Oid, Error> {
    let text = text.trim();
    if text.len() != 40 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::InvalidCommitId(text.to_owned()));
    }
    Oid::from_str(text).map_err(|_| Error::InvalidCommitId(text.to_owned()))
}

/// A signer fingerprint as Guix accepts it: 40 hex digits (a v4 key),
/// white space ignored.
pub fn parse_signer(text: &str) -> Result<Fingerprint, Error> {
    let fingerprint = Fingerprint::parse_any_length(text)?;
    if fingerprint.as_bytes().len() != 20 {
        return Err(crate::FingerprintError::WrongLength {
            input: text.to_owned(),
            digits: fingerprint.as_bytes().len() * 2,
            expected: "40",
        }
        .into());
    }
    Ok(fingerprint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_short_ids_and_bad_signers() {
        assert!(matches!(
            Introduction::new(
                "897c1a4",
                "2A39 3FFF 68F4 EF7A 3D29  12AF 6F51 20A0 22FB B2D5"
            ),
            Err(Error::InvalidCommitId(_))
        ));
        assert!(matches!(
            Introduction::new("897c1a470da759236cc11798f4e0a5f7d4d59fbc", "2A39 3FFF"),
            Err(Error::InvalidFingerprint(_))
        ));
        assert!(Introduction::from_channel_form("(make-channel-introduction \"x\")").is_err());
    }

    #[test]
    fn display_is_the_channel_form() {
        let intro = Introduction::guix();
        assert_eq!(
            Introduction::from_channel_form(&intro.to_string()).unwrap(),
            intro
        );
    }
}
