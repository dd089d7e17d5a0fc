//! The introduction: the commit and signer where trust in a channel starts,
//! and the forms in which channels files and `.guix-channel` write it.

use std::fmt;

use git2::Oid;
use lexpr::Value;

use crate::openpgp::fingerprint::{Fingerprint, FingerprintError, FingerprintFilter};
use guile_reader::{self as sexp, SyntaxError};
use untrusted_text::Untrusted;

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
/// # Ok::<(), git_authenticate::IntroductionError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Introduction {
    /// The introductory commit.
    pub commit: Oid,
    /// The fingerprint of the key that signed it.
    pub signer: Fingerprint,
}

/// The Scheme forms that hold an introduction, or lead to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntroductionForm {
    /// `(make-channel-introduction "COMMIT" (openpgp-fingerprint "FPR"))`,
    /// as channels files write it.
    MakeChannelIntroduction,
    /// `(openpgp-fingerprint "FPR")`.
    OpenpgpFingerprint,
    /// `(channel-introduction (version 0) (commit "…") (signer "…"))`, as
    /// `.guix-channel` writes a dependency's introduction.
    ChannelIntroduction,
    /// A `(channel (name 'x) (url "…") …)` entry of a channels file.
    Channel,
    /// A whole channels file: `(list (channel …) …)`, `(cons* (channel …)
    /// … %default-channels)`…
    ChannelsFile,
}

impl fmt::Display for IntroductionForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IntroductionForm::MakeChannelIntroduction => "(make-channel-introduction …)",
            IntroductionForm::OpenpgpFingerprint => "(openpgp-fingerprint …)",
            IntroductionForm::ChannelIntroduction => "(channel-introduction …)",
            IntroductionForm::Channel => "(channel …)",
            IntroductionForm::ChannelsFile => "the channels file",
        })
    }
}

/// A commit id that is not 40 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}` is not a full commit id (40 hex digits)", Untrusted::new(input))]
pub struct CommitIdError {
    /// What was given.
    pub input: String,
}

/// Why no introduction could be made of what was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntroductionError {
    /// The commit is not a full commit id.
    #[error(transparent)]
    CommitId(#[from] CommitIdError),
    /// The signer is not a v4 OpenPGP fingerprint.
    #[error(transparent)]
    Signer(#[from] FingerprintError),
    /// The text is not readable Scheme.
    #[error("{0}")]
    Syntax(#[from] SyntaxError),
    /// None of the forms that hold an introduction.
    #[error("expected {expected}, found `{}`", Untrusted::new(found))]
    UnexpectedForm {
        /// What was expected there.
        expected: IntroductionForm,
        /// An excerpt of what was found.
        found: String,
    },
    /// A form lacks a field (or an argument) it needs.
    #[error("{form} lacks its `{field}`")]
    MissingField {
        /// The form.
        form: IntroductionForm,
        /// The field.
        field: &'static str,
    },
    /// A field (or an argument) of a form has the wrong kind of value.
    #[error(
        "in {form}, `{field}` must be {expected}, not `{}`",
        Untrusted::new(found)
    )]
    MalformedField {
        /// The form.
        form: IntroductionForm,
        /// The field.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
        /// An excerpt of what it is.
        found: String,
    },
    /// A field the form does not have (Guix's `channel` macro refuses it).
    #[error("{form} has no field `{}`", Untrusted::new(field))]
    UnknownField {
        /// The form.
        form: IntroductionForm,
        /// The field given.
        field: String,
    },
    /// A field given twice (Guix's `channel` macro refuses it).
    #[error("{form} gives `{field}` twice")]
    DuplicateField {
        /// The form.
        form: IntroductionForm,
        /// The field.
        field: &'static str,
    },
    /// A channels file has no channel of that name.
    #[error(
        "the channels file has no channel named `{}` (it has: {})",
        Untrusted::new(name),
        names(available)
    )]
    NoSuchChannel {
        /// The name asked for.
        name: String,
        /// The names it has.
        available: Vec<String>,
    },
    /// A channels file has several channels, and none was picked.
    #[error(
        "the channels file has several channels ({}): pick one by name",
        names(available)
    )]
    AmbiguousChannel {
        /// The names it has.
        available: Vec<String>,
    },
    /// No introduction was given where one is needed.
    #[error("none given or configured")]
    NoneGiven,
    /// The channel has no introduction, so it cannot be authenticated.
    #[error("channel `{}` has no introduction", Untrusted::new(name))]
    NoIntroduction {
        /// The channel's name.
        name: String,
    },
}

/// Channel names as a message lists them, each escaped.
fn names(available: &[String]) -> String {
    let shown: Vec<String> = available
        .iter()
        .map(|name| Untrusted::new(name).to_string())
        .collect();
    shown.join(", ")
}

impl Introduction {
    /// From a full 40-hex-digit commit id and a v4 fingerprint (40 hex
    /// digits, white space ignored).
    pub fn new(commit: &str, signer: &str) -> Result<Self, IntroductionError> {
        Ok(Introduction {
            commit: parse_commit_id(commit)?,
            signer: parse_signer(signer)?,
        })
    }

    /// Reads `(make-channel-introduction "COMMIT" (openpgp-fingerprint
    /// "FPR"))`: Guix's procedure takes the commit string and the
    /// fingerprint's bytes, so nothing else is accepted there.
    pub(crate) fn from_make_form(value: &Value) -> Result<Self, IntroductionError> {
        const FORM: IntroductionForm = IntroductionForm::MakeChannelIntroduction;
        let items = form_items(value, FORM, "make-channel-introduction")?;
        let (commit, signer) = match items[..] {
            [_, commit, signer] => (commit, signer),
            [_] | [_, _] => {
                return Err(IntroductionError::MissingField {
                    form: FORM,
                    field: if items.len() < 2 { "commit" } else { "signer" },
                })
            }
            // Guix's procedure takes two arguments, no more.
            _ => {
                return Err(IntroductionError::UnexpectedForm {
                    expected: FORM,
                    found: sexp::excerpt(value),
                })
            }
        };
        let commit = string_field(commit, FORM, "commit")?;
        let signer = form_items(
            signer,
            IntroductionForm::OpenpgpFingerprint,
            "openpgp-fingerprint",
        )?;
        let [_, fingerprint] = signer[..] else {
            return Err(IntroductionError::MissingField {
                form: IntroductionForm::OpenpgpFingerprint,
                field: "fingerprint",
            });
        };
        let fingerprint = string_field(
            fingerprint,
            IntroductionForm::OpenpgpFingerprint,
            "fingerprint",
        )?;
        Ok(Introduction {
            commit: parse_commit_id(commit)?,
            signer: openpgp_fingerprint(fingerprint)?,
        })
    }

    /// Reads `(channel-introduction (version 0) (commit C) (signer S) _ …)`
    /// as Guix's `sexp->channel-introduction` matches it: the three fields
    /// first and in that order, anything after them ignored.
    pub(crate) fn from_data_form(value: &Value) -> Result<Self, IntroductionError> {
        const FORM: IntroductionForm = IntroductionForm::ChannelIntroduction;
        let items = form_items(value, FORM, "channel-introduction")?;
        let field = |index: usize, name: &'static str| -> Result<&Value, IntroductionError> {
            let missing = IntroductionError::MissingField {
                form: FORM,
                field: name,
            };
            let pair = items
                .get(index)
                .and_then(|v| sexp::list(v))
                .ok_or(missing.clone())?;
            match pair[..] {
                [key, value] if key.as_symbol() == Some(name) => Ok(value),
                _ => Err(missing),
            }
        };
        let version = field(1, "version")?;
        if version.as_u64() != Some(0) {
            return Err(IntroductionError::MalformedField {
                form: FORM,
                field: "version",
                expected: "0",
                found: sexp::excerpt(version),
            });
        }
        let commit = string_field(field(2, "commit")?, FORM, "commit")?;
        let signer = string_field(field(3, "signer")?, FORM, "signer")?;
        Ok(Introduction {
            commit: parse_commit_id(commit)?,
            signer: openpgp_fingerprint(signer)?,
        })
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

/// The symbol a list starts with.
pub(crate) fn head(value: &Value) -> Option<&str> {
    value.as_cons()?.car().as_symbol()
}

/// The elements of `(NAME …)`, NAME included.
fn form_items<'v>(
    value: &'v Value,
    form: IntroductionForm,
    name: &str,
) -> Result<Vec<&'v Value>, IntroductionError> {
    sexp::list(value)
        .filter(|items| items.first().and_then(|v| v.as_symbol()) == Some(name))
        .ok_or_else(|| IntroductionError::UnexpectedForm {
            expected: form,
            found: sexp::excerpt(value),
        })
}

/// A string-valued field.
pub(crate) fn string_field<'v>(
    value: &'v Value,
    form: IntroductionForm,
    field: &'static str,
) -> Result<&'v str, IntroductionError> {
    value
        .as_str()
        .ok_or_else(|| IntroductionError::MalformedField {
            form,
            field,
            expected: "a string",
            found: sexp::excerpt(value),
        })
}

/// A full commit id: git2 would silently zero-pad a short one, which is no
/// way to name a root of trust.
pub fn parse_commit_id(text: &str) -> Result<Oid, CommitIdError> {
    let text = text.trim();
    let invalid = || CommitIdError {
        input: text.to_owned(),
    };
    if text.len() != 40 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    Oid::from_str(text).map_err(|_| invalid())
}

/// A signer fingerprint as typed on a command line or in a configuration:
/// 40 hex digits (a v4 key), white space ignored
/// ([`FingerprintFilter::Typed`]).
pub fn parse_signer(text: &str) -> Result<Fingerprint, FingerprintError> {
    v4(Fingerprint::read(text, FingerprintFilter::Typed)?, text)
}

/// A signer fingerprint as Guix's `openpgp-fingerprint` reads it, in
/// channels files and `.guix-channel`: every character that is not a hex
/// digit is dropped ([`FingerprintFilter::HexDigit`]), then the digits
/// are read as base 16. Guix accepts any even number of digits there and
/// fails later, when no key has that fingerprint; only the 40 digits of a
/// v4 fingerprint are accepted here.
pub fn openpgp_fingerprint(text: &str) -> Result<Fingerprint, FingerprintError> {
    v4(Fingerprint::read(text, FingerprintFilter::HexDigit)?, text)
}

/// `fingerprint` if it is a v4 one (20 bytes); `input` is what it was read
/// from.
fn v4(fingerprint: Fingerprint, input: &str) -> Result<Fingerprint, FingerprintError> {
    match fingerprint.as_bytes().len() {
        20 => Ok(fingerprint),
        n => Err(FingerprintError::WrongLength {
            input: input.to_owned(),
            digits: n * 2,
            expected: "40",
        }),
    }
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
            Err(IntroductionError::CommitId(_))
        ));
        assert!(matches!(
            Introduction::new("897c1a470da759236cc11798f4e0a5f7d4d59fbc", "2A39 3FFF"),
            Err(IntroductionError::Signer(_))
        ));
        assert!(matches!(
            Introduction::from_channel_form("(make-channel-introduction \"x\")"),
            Err(IntroductionError::MissingField {
                field: "signer",
                ..
            })
        ));
    }

    #[test]
    fn openpgp_fingerprint_drops_every_non_hex_character() {
        let guix = Introduction::guix().signer;
        assert_eq!(
            openpgp_fingerprint("BBB0:2DDF-2CEA_F6A8 0D1D  E643 A2A0 6DF2 A33A 54FA!").unwrap(),
            guix
        );
        assert!(parse_signer("BBB0:2DDF-2CEA_F6A8 0D1D  E643 A2A0 6DF2 A33A 54FA").is_err());
        assert!(matches!(
            openpgp_fingerprint("BBB0 2DDF"),
            Err(FingerprintError::WrongLength { digits: 8, .. })
        ));
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
