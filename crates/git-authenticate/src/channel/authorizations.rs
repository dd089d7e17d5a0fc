//! The `.guix-authorizations` file: which keys may sign the children of a
//! commit.
//!
//! ```scheme
//! ;; comments are allowed anywhere
//! (authorizations
//!  (version 0)
//!  (("AD17 A21E F8AE D8F1 CC02  DBD9 F7D5 C9BF 765C 61E3" (name "andreas"))))
//! ```

use std::collections::HashSet;

use crate::openpgp::fingerprint::{Fingerprint, FingerprintError, FingerprintFilter};
use guile_reader as sexp;
use untrusted_text::Untrusted;

/// Name of the file, at the root of a commit's tree.
pub const FILE_NAME: &str = ".guix-authorizations";

/// Larger files are refused: real ones are a few kilobytes, and the file
/// is parsed from untrusted repositories.
pub const MAX_SIZE: usize = 1 << 20;

/// The set of fingerprints a `.guix-authorizations` file lists.
///
/// ```
/// use git_authenticate::Authorizations;
///
/// let text = br#"(authorizations (version 0)
///                  (("2A39 3FFF 68F4 EF7A 3D29  12AF 6F51 20A0 22FB B2D5" (name "ajgrf"))))"#;
/// let authorizations = Authorizations::parse(text)?;
/// let fpr = "2A393FFF68F4EF7A3D2912AF6F5120A022FBB2D5".parse()?;
/// assert!(authorizations.contains(&fpr));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Authorizations {
    /// In file order, each once.
    fingerprints: Vec<Fingerprint>,
    /// The same, for lookups in constant time: a file may list tens of
    /// thousands of entries, and every merge intersects two of them.
    set: HashSet<Fingerprint>,
}

impl PartialEq for Authorizations {
    /// The same fingerprints in the same order (the set follows).
    fn eq(&self, other: &Self) -> bool {
        self.fingerprints == other.fingerprints
    }
}

impl Eq for Authorizations {}

/// Why a `.guix-authorizations` file is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationsError {
    /// The file is larger than [`Authorizations::MAX_SIZE`].
    #[error("the file has {size} bytes, more than the {limit} accepted")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Guile's `read` would not read the file.
    #[error("{0}")]
    Syntax(#[from] sexp::SyntaxError),
    /// It is an s-expression but not of the expected shape.
    #[error("{0}; expected (authorizations (version 0) ((\"FINGERPRINT\" (name \"…\")) …))")]
    Shape(AuthorizationsShape),
    /// A version other than 0.
    #[error("unsupported version {}: only (version 0) exists", Untrusted::new(.0))]
    UnsupportedVersion(String),
    /// An entry's fingerprint is not hex (an unassigned code point, which
    /// Guile 3.0.8 drops, is refused too: see [`FingerprintFilter::Graphic`]).
    #[error("entry {index}: {source}")]
    Fingerprint {
        /// Position of the entry, from 1.
        index: usize,
        /// What is wrong with it.
        source: FingerprintError,
    },
}

/// How a file's datum differs from what Guix's `match` pattern,
/// `('authorizations ('version 0) (((? string? fingerprints) _ ...) ...) _ ...)`,
/// requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationsShape {
    /// The datum is not a proper list starting with the symbol
    /// `authorizations`.
    #[error("the file does not hold a list (authorizations …)")]
    NotAuthorizations,
    /// Its second element is not a two-element list starting with the
    /// symbol `version`.
    #[error("the second element is not (version 0)")]
    NoVersion,
    /// There is no third element, or it is not a proper list.
    #[error("the third element is not a list of entries")]
    NoEntries,
    /// An entry is not a proper list starting with a string.
    #[error("entry {0} is not a list starting with a fingerprint string")]
    Entry(usize),
}

impl Authorizations {
    /// Name of the file, at the root of a commit's tree.
    pub const FILE_NAME: &'static str = FILE_NAME;

    /// Larger files are refused: real ones are a few kilobytes, and the
    /// file is parsed from untrusted repositories.
    pub const MAX_SIZE: usize = MAX_SIZE;

    /// The empty set: the default authorizations when none are given.
    pub fn empty() -> Self {
        Self::default()
    }

    /// A set from fingerprints.
    pub fn from_fingerprints(fingerprints: impl IntoIterator<Item = Fingerprint>) -> Self {
        let mut set = Authorizations::default();
        for fpr in fingerprints {
            if set.set.insert(fpr.clone()) {
                set.fingerprints.push(fpr);
            }
        }
        set
    }

    /// Parses the file's contents.
    ///
    /// Follows Guix's `read-authorizations`: the file is read with Guile's
    /// `read` (see the `sexp` module) as ISO-8859-1, as Guile reads the
    /// blob; only the first datum is read; elements after the list of
    /// entries, and everything after an entry's fingerprint, are ignored;
    /// a fingerprint keeps only its graphic characters (`string-filter
    /// char-set:graphic`), which must then be hex digits, an even number
    /// of them.
    pub fn parse(contents: &[u8]) -> Result<Self, AuthorizationsError> {
        check_size(contents)?;
        Self::from_datum(&*sexp::read_first_latin1(contents)?)
    }

    /// Parses a file in the same format read from disk, as Guix reads
    /// `--historical-authorizations` (`call-with-input-file`, which decodes
    /// with the locale's encoding): as UTF-8. Invalid UTF-8, which Guile
    /// would replace with U+FFFD, is refused.
    pub fn parse_utf8(contents: &[u8]) -> Result<Self, AuthorizationsError> {
        check_size(contents)?;
        Self::from_datum(&*sexp::read_first(contents)?)
    }

    /// The `match` of `read-authorizations`.
    fn from_datum(datum: &lexpr::Value) -> Result<Self, AuthorizationsError> {
        let fingerprints = entries(datum)?.into_iter().map(|(fpr, _)| fpr);
        Ok(Self::from_fingerprints(fingerprints))
    }

    /// Whether `fingerprint` is listed (an exact match).
    pub fn contains(&self, fingerprint: &Fingerprint) -> bool {
        self.set.contains(fingerprint)
    }

    /// The listed fingerprints, in file order.
    pub fn fingerprints(&self) -> &[Fingerprint] {
        &self.fingerprints
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.fingerprints.len()
    }

    /// Whether nothing is listed.
    pub fn is_empty(&self) -> bool {
        self.fingerprints.is_empty()
    }

    /// The fingerprints listed in both sets, in `self`'s order (as
    /// Guix's `lset-intersection` keeps its first list's): linear in the
    /// size of `self`.
    pub fn intersection(&self, other: &Authorizations) -> Authorizations {
        Self::from_fingerprints(
            self.fingerprints
                .iter()
                .filter(|f| other.contains(f))
                .cloned(),
        )
    }
}

/// What a file lists, as Guix's `match` reads it (its entries, each a
/// fingerprint and the whole entry, duplicates kept).
fn entries(datum: &lexpr::Value) -> Result<Vec<(Fingerprint, &lexpr::Value)>, AuthorizationsError> {
    let items = sexp::list(datum)
        .filter(|items| items.first().and_then(|v| v.as_symbol()) == Some("authorizations"))
        .ok_or(AuthorizationsError::Shape(
            AuthorizationsShape::NotAuthorizations,
        ))?;
    check_version(items.get(1).copied())?;
    let entries = items
        .get(2)
        .copied()
        .and_then(sexp::list)
        .ok_or(AuthorizationsError::Shape(AuthorizationsShape::NoEntries))?;
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| Ok((parse_entry(i + 1, entry)?, *entry)))
        .collect()
}

/// The entries of a `.guix-authorizations` file read as [`Authorizations::parse`]
/// reads it, each fingerprint (once, in file order) with the `(name "…")`
/// its first entry gives, if any: what the audit shows of a key.
pub(crate) fn parse_named(
    contents: &[u8],
) -> Result<Vec<(Fingerprint, Option<String>)>, AuthorizationsError> {
    check_size(contents)?;
    let datum = sexp::read_first_latin1(contents)?;
    let mut seen = HashSet::new();
    Ok(entries(&datum)?
        .into_iter()
        .filter(|(fpr, _)| seen.insert(fpr.clone()))
        .map(|(fpr, entry)| (fpr, entry_name(entry)))
        .collect())
}

/// A name read as ISO-8859-1 (as Guile reads the blob) shown as the UTF-8
/// its author almost surely wrote, when its bytes are UTF-8.
fn utf8_name(latin1: &str) -> String {
    let bytes: Option<Vec<u8>> = latin1.chars().map(|c| u8::try_from(c).ok()).collect();
    bytes
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| latin1.to_owned())
}

/// The string of the first `(name "…")` after an entry's fingerprint.
fn entry_name(entry: &lexpr::Value) -> Option<String> {
    sexp::list(entry)?.iter().skip(1).find_map(|field| {
        let field = sexp::list(field)?;
        match field.as_slice() {
            [key, value] if key.as_symbol() == Some("name") => value.as_str().map(utf8_name),
            _ => None,
        }
    })
}

fn check_size(contents: &[u8]) -> Result<(), AuthorizationsError> {
    if contents.len() > MAX_SIZE {
        return Err(AuthorizationsError::TooLarge {
            size: contents.len(),
            limit: MAX_SIZE,
        });
    }
    Ok(())
}

/// `('version 0)`: `0` matches with `equal?`, so only an exact zero
/// (`0`, `00`, `#x0`, `#e0.0`…), which the reader gives as the integer 0.
fn check_version(version: Option<&lexpr::Value>) -> Result<(), AuthorizationsError> {
    let pair = version
        .and_then(sexp::list)
        .filter(|v| v.len() == 2 && v[0].as_symbol() == Some("version"))
        .ok_or(AuthorizationsError::Shape(AuthorizationsShape::NoVersion))?;
    match pair[1].as_u64() {
        Some(0) => Ok(()),
        _ => Err(AuthorizationsError::UnsupportedVersion(shortened(
            pair[1].to_string(),
        ))),
    }
}

/// `text`, cut to a length fit for an error message.
fn shortened(mut text: String) -> String {
    const MAX: usize = 60;
    if let Some((cut, _)) = text.char_indices().nth(MAX) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

fn parse_entry(index: usize, entry: &lexpr::Value) -> Result<Fingerprint, AuthorizationsError> {
    let text = sexp::list(entry)
        .and_then(|items| items.first().and_then(|v| v.as_str()))
        .ok_or(AuthorizationsError::Shape(AuthorizationsShape::Entry(
            index,
        )))?;
    Fingerprint::read(text, FingerprintFilter::Graphic)
        .map_err(|source| AuthorizationsError::Fingerprint { index, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_EXAMPLE: &str = r#"
;; comments are allowed anywhere
(authorizations
 (version 0)
 (("AD17 A21E F8AE D8F1 CC02  DBD9 F7D5 C9BF 765C 61E3" (name "andreas"))
  (;; a comment may sit inside an entry
   "2841 9AC6 5038 7440 C7E9  2FFA 2208 D209 58C1 DEB0" (name "abcdw"))))
"#;

    #[test]
    fn reads_the_spec_example() {
        let a = Authorizations::parse(SPEC_EXAMPLE.as_bytes()).unwrap();
        assert_eq!(a.len(), 2);
        assert!(a.contains(&"AD17A21EF8AED8F1CC02DBD9F7D5C9BF765C61E3".parse().unwrap()));
        assert!(a.contains(&"28419ac650387440c7e92ffa2208d20958c1deb0".parse().unwrap()));
    }

    #[test]
    fn ignores_extra_elements_and_pairs() {
        let text = r#"(authorizations (version 0)
                        (("AD17 A21E F8AE D8F1 CC02  DBD9 F7D5 C9BF 765C 61E3" (name "a") (x 1)))
                        (future stuff)) trailing garbage ("#;
        assert_eq!(Authorizations::parse(text.as_bytes()).unwrap().len(), 1);
    }

    #[test]
    fn empty_list_is_empty_set() {
        let a = Authorizations::parse(b"(authorizations (version 0) ())").unwrap();
        assert!(a.is_empty());
    }

    #[test]
    fn refuses_other_versions_and_shapes() {
        assert!(matches!(
            Authorizations::parse(b"(authorizations (version 1) ())"),
            Err(AuthorizationsError::UnsupportedVersion(v)) if v == "1"
        ));
        for bad in [
            &b"(authorisations (version 0) ())"[..],
            b"(authorizations (version 0))",
            b"(authorizations (version 0) (\"ABCD\"))",
            b"(authorizations (version 0) ((ABCD)))",
            b"(authorizations version 0 ())",
            b"\"just a string\"",
        ] {
            assert!(
                matches!(
                    Authorizations::parse(bad),
                    Err(AuthorizationsError::Shape(_))
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn refuses_syntax_errors_and_bad_hex() {
        assert!(matches!(
            Authorizations::parse(b"(authorizations (version 0) ((\"AB"),
            Err(AuthorizationsError::Syntax(_))
        ));
        assert!(matches!(
            Authorizations::parse(b"(authorizations (version 0) ((\"XYZW\")))"),
            Err(AuthorizationsError::Fingerprint { index: 1, .. })
        ));
        // UTF-16 is no s-expression Guix can read; Latin-1 is (see below).
        assert!(Authorizations::parse(b"\xff\xfe(\0a\0u\0t\0h\0)").is_err());
    }

    #[test]
    fn latin1_text_is_read_as_guix_reads_it() {
        let text = b"(authorizations (version 0) ((\"AD17 A21E F8AE D8F1 CC02  DBD9 F7D5 C9BF 765C 61E3\" (name \"Andr\xe9\"))))";
        assert_eq!(Authorizations::parse(text).unwrap().len(), 1);
        // A no-break space (0xA0 in Latin-1) inside a fingerprint is white space.
        let nbsp =
            b"(authorizations (version 0) ((\"AD17\xa0A21EF8AED8F1CC02DBD9F7D5C9BF765C61E3\")))";
        assert_eq!(Authorizations::parse(nbsp).unwrap().len(), 1);
    }

    const KEY: &str = "AD17A21EF8AED8F1CC02DBD9F7D5C9BF765C61E3";

    fn key() -> Fingerprint {
        KEY.parse().unwrap()
    }

    #[test]
    fn reads_what_guile_reads() {
        for text in [
            "#! written by hand !#\n(authorizations (version 0) ((\"AD17A21EF8AED8F1CC02DBD9F7D5C9BF765C61E3\")))",
            "(authorizations (version 00) ((\"\\x41D17A21EF8AED8F1CC02DBD9F7D5C9BF765C61E3\")))",
            "(authorizations (version #x0) ((\"AD17\\x20A21E\\u00adF8AE\\u200bD8F1CC02DBD9F7D5C9BF765C61E3\")))",
            "#!fold-case (AUTHORIZATIONS (VERSION #e0.0) [(\"ad17a21ef8aed8f1cc02dbd9f7d5c9bf765c61e3\" #:name #\\x)])",
            "(authorizations (version 0 . #nil) ((\"AD17A21EF8AED8F1CC02DBD9F7D5C9BF765C61E3\" #~(name #$x)) . #nil))",
        ] {
            let a = Authorizations::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(a.fingerprints(), [key()], "{text}");
        }
    }

    #[test]
    fn refuses_what_guix_fails_on() {
        let version = |v: &str| format!("(authorizations (version {v}) ())");
        for v in ["0.0", "#i0", "-0.0", "1"] {
            assert!(matches!(
                Authorizations::parse(version(v).as_bytes()),
                Err(AuthorizationsError::UnsupportedVersion(_))
            ));
        }
        let long = version(&format!("({})", "x ".repeat(1000)));
        match Authorizations::parse(long.as_bytes()) {
            Err(AuthorizationsError::UnsupportedVersion(v)) => assert_eq!(v.chars().count(), 61),
            other => panic!("{other:?}"),
        }
        let entry = |e: &str| format!("(authorizations (version 0) ((\"{e}\")))");
        assert!(matches!(
            Authorizations::parse(entry("ABC").as_bytes()),
            Err(AuthorizationsError::Fingerprint {
                index: 1,
                source: FingerprintError::OddLength(_)
            })
        ));
        assert!(matches!(
            Authorizations::parse(entry("AB\\u00e9").as_bytes()),
            Err(AuthorizationsError::Fingerprint {
                index: 1,
                source: FingerprintError::NotHex(_)
            })
        ));
        // Unassigned: Guile 3.0.8 drops it, a newer Guile may keep it.
        assert!(matches!(
            Authorizations::parse(entry("AB\\u0378").as_bytes()),
            Err(AuthorizationsError::Fingerprint {
                index: 1,
                source: FingerprintError::NotHex(_)
            })
        ));
        assert_eq!(
            Authorizations::parse(b"  ; nothing\n"),
            Err(AuthorizationsError::Syntax(sexp::SyntaxError::Empty))
        );
        assert_eq!(
            Authorizations::parse(b"(authorizations (version 0))"),
            Err(AuthorizationsError::Shape(AuthorizationsShape::NoEntries))
        );
    }

    #[test]
    fn historical_files_are_utf8() {
        let text = format!(
            "(authorizations (version 0) ((\"AD17\u{a0}{}\" (name \"Andr\u{e9}\"))))",
            &KEY[4..]
        );
        assert_eq!(
            Authorizations::parse_utf8(text.as_bytes())
                .unwrap()
                .fingerprints(),
            [key()]
        );
        // Read as Latin-1, the no-break space's first byte is a graphic `Â`.
        assert!(Authorizations::parse(text.as_bytes()).is_err());
        assert!(matches!(
            Authorizations::parse_utf8(b"(authorizations (version 0) ((\"AD\xa0\")))"),
            Err(AuthorizationsError::Syntax(sexp::SyntaxError::NotUtf8 {
                offset: 33
            }))
        ));
    }

    #[test]
    fn wrong_length_entries_are_kept_but_match_nothing() {
        let a = Authorizations::parse(b"(authorizations (version 0) ((\"AD17 A21E\")))").unwrap();
        assert_eq!(a.len(), 1);
        assert!(!a.contains(&"AD17A21EF8AED8F1CC02DBD9F7D5C9BF765C61E3".parse().unwrap()));
    }

    #[test]
    fn intersection_keeps_common_keys() {
        let f1: Fingerprint = "AD17A21EF8AED8F1CC02DBD9F7D5C9BF765C61E3".parse().unwrap();
        let f2: Fingerprint = "28419AC650387440C7E92FFA2208D20958C1DEB0".parse().unwrap();
        let a = Authorizations::from_fingerprints([f1.clone(), f2.clone()]);
        let b = Authorizations::from_fingerprints([f2.clone()]);
        assert_eq!(a.intersection(&b).fingerprints(), &[f2]);
    }
}
