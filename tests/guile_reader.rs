//! Differential tests against the real Guile: `.guix-authorizations` files
//! are read by Guix's own logic running in Guile 3.0
//! (`tests/guile_reader/guix-authorizations.scm`) and by
//! [`Authorizations::parse`], and the results must agree.
//!
//! Agreement means: the same fingerprints when both accept; never an
//! acceptance where Guix fails. This crate may refuse a file Guix accepts
//! only for the syntax it documents as unsupported
//! ([`SyntaxError::Unsupported`]), for code points Guile 3.0.8 leaves
//! unassigned in a fingerprint (which Guile drops, and this crate refuses:
//! [`git_authenticate::FingerprintFilter::Graphic`]) and past its size
//! limits.
//!
//! Without `guile` on the `PATH`, the tests say so and pass. Set
//! `GUILE_READER_FILES` to generate more (or fewer) files than the 4,000 of
//! a normal run.

// Shared with crates/guile-reader/src/lib.rs's unit tests, which use the rest of it; it
// brings its own copy of `support::random` for them.
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "../crates/guile-reader/tests/guile_reader/harness.rs"]
pub(crate) mod harness;

use git_authenticate::{Authorizations, AuthorizationsError, FingerprintError, SyntaxError};
use harness::{guile_available, run_guile};

/// What one side made of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// The fingerprints, lower-case hex, duplicates dropped.
    Accepted(Vec<String>),
    /// Refused (Guix: any exception).
    Refused,
    /// Guix: accepted, having dropped an unassigned code point from a
    /// fingerprint; the fingerprints.
    DroppedUnassigned(Vec<String>),
    /// Refused by this crate in a way documented to differ from Guix.
    Unsupported,
}

fn without_duplicates(fingerprints: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut kept = Vec::new();
    for f in fingerprints {
        if !kept.contains(&f) {
            kept.push(f);
        }
    }
    kept
}

/// How Guix reads a file.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// A commit's `.guix-authorizations` blob ([`Authorizations::parse`]).
    Blob,
    /// The `--historical-authorizations` file
    /// ([`Authorizations::parse_utf8`]).
    File,
}

/// What Guix, in Guile, makes of each file.
fn guix_outcomes(files: &[Vec<u8>], source: Source) -> Vec<Outcome> {
    let options: &[&str] = match source {
        Source::Blob => &[],
        Source::File => &["--file"],
    };
    run_guile("guix-authorizations.scm", options, files)
        .iter()
        .map(|line| {
            let mut words = line.split(' ');
            match words.next() {
                Some("OK") => Outcome::Accepted(without_duplicates(words.map(str::to_owned))),
                Some("UNASSIGNED") => {
                    Outcome::DroppedUnassigned(without_duplicates(words.map(str::to_owned)))
                }
                _ => Outcome::Refused,
            }
        })
        .collect()
}

fn parse(contents: &[u8], source: Source) -> Result<Authorizations, AuthorizationsError> {
    match source {
        Source::Blob => Authorizations::parse(contents),
        Source::File => Authorizations::parse_utf8(contents),
    }
}

/// What this crate makes of a file.
fn our_outcome(contents: &[u8], source: Source) -> Outcome {
    match parse(contents, source) {
        Ok(a) => Outcome::Accepted(
            a.fingerprints()
                .iter()
                .map(|f| f.to_hex().to_lowercase())
                .collect(),
        ),
        Err(
            AuthorizationsError::Syntax(
                SyntaxError::Unsupported { .. }
                | SyntaxError::TooDeep { .. }
                | SyntaxError::TooManyItems { .. }
                // Guile would decode invalid UTF-8 as U+FFFD.
                | SyntaxError::NotUtf8 { .. },
            ),
        ) => Outcome::Unsupported,
        Err(_) => Outcome::Refused,
    }
}

#[derive(Debug, Default)]
struct Tally {
    accepted: usize,
    refused: usize,
    unsupported: usize,
}

/// Compares both sides on every file; panics listing the disagreements.
fn compare(files: &[Vec<u8>], source: Source) -> Tally {
    let guix = guix_outcomes(files, source);
    let mut tally = Tally::default();
    let mut disagreements = Vec::new();
    for (contents, guix) in files.iter().zip(guix) {
        let ours = our_outcome(contents, source);
        let agree = match (&guix, &ours) {
            (Outcome::Accepted(_) | Outcome::DroppedUnassigned(_), Outcome::Unsupported) => {
                tally.unsupported += 1;
                true
            }
            // Refused here as not hex; only unassigned code points differ
            // so (tests/fingerprint_characters.rs).
            (Outcome::DroppedUnassigned(_), Outcome::Refused) => {
                tally.unsupported += 1;
                matches!(
                    parse(contents, source),
                    Err(AuthorizationsError::Fingerprint {
                        source: FingerprintError::NotHex(_),
                        ..
                    })
                )
            }
            (Outcome::Refused, Outcome::Unsupported | Outcome::Refused) => {
                tally.refused += 1;
                true
            }
            (Outcome::Accepted(g), Outcome::Accepted(o)) => {
                tally.accepted += 1;
                g == o
            }
            _ => false,
        };
        if !agree {
            disagreements.push(format!(
                "{:?}\n    guix: {guix:?}\n    ours: {ours:?} ({:?})",
                String::from_utf8_lossy(contents),
                parse(contents, source).err()
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} files read differently:\n{}",
        disagreements.len(),
        files.len(),
        disagreements[..disagreements.len().min(15)].join("\n")
    );
    tally
}

const KEY: &str = "AD17A21EF8AED8F1CC02DBD9F7D5C9BF765C61E3";

/// Hand-written cases: the syntax real channels use, each reader rule's
/// edges, and what makes Guix fail.
fn edge_cases() -> Vec<Vec<u8>> {
    let entry = |fpr: &str| format!("(authorizations (version 0) ((\"{fpr}\" (name \"n\"))))");
    let version = |v: &str| format!("(authorizations (version {v}) ((\"{KEY}\")))");
    let mut cases: Vec<String> = vec![
        format!("#!\n;; a channel's header\n!#\n{}", entry(KEY)),
        format!("#!/usr/bin/env guile\n!#\n{}", entry(KEY)),
        entry("\\x34179AD17A21EF8AED8F1CC02DBD9F7D5C9BF765C6"),
        entry("AD17 A21E F8AE D8F1 CC02  DBD9 F7D5 C9BF 765C 61E3"),
        entry("ad17\\ta21e\\nf8ae\\x20d8f1\\x00cc02\\u00addbd9\\u200bf7d5\\U00FEFFc9bf765c61e3"),
        entry("AD17\\\n      A21EF8AED8F1CC02DBD9F7D5C9BF765C61E3"),
        format!(
            "#!r6rs {}",
            entry("AD17\\\n   \\x41;21EF8AED8F1CC02DBD9F7D5C9BF765C61E3")
        ),
        entry("AD17\\x41;21EF8AED8F1CC02DBD9F7D5C9BF765C61E3"),
        entry(""),
        entry("A"),
        entry("ABC"),
        entry("AB\\u00e9"),
        entry("AB\\u0378"),
        entry("\\ud800"),
        entry("AD17g"),
        "".into(),
        " ; only a comment\n".into(),
        "(authorizations (version 0))".into(),
        "(authorizations (version 0) #nil)".into(),
        "(authorizations (version 0) () . #nil)".into(),
        "(authorizations (version 0) () . x)".into(),
        "(authorizations (version 0) ((\"AB\" . x)))".into(),
        "(authorizations (version 0) ((\"AB\" . #nil) (\"CD\" x . #nil)))".into(),
        "(authorizations (version . 0) ())".into(),
        "(authorizations (version 0 . #nil) ())".into(),
        "#!fold-case (AUTHORIZATIONS (VERSION 0) ())".into(),
        "(AUTHORIZATIONS (version 0) ())".into(),
        "#!fold-case #!no-fold-case (AUTHORIZATIONS (version 0) ())".into(),
        "(#{authorizations}# (version 0) ())".into(),
        "[authorizations [version 0] []]".into(),
        "(authorizations [version 0) ())".into(),
        "#;(ignored) #| and |# (authorizations (version 0) ())".into(),
        "(authorizations (version 0) () #~(a #$b #$@c #+d:out))".into(),
        // A directive in a gexp is for the nested `read` only.
        format!("(authorizations (version 0) ((\"{KEY}\" #~(#!r6rs)) (\"\\x41;D\")))"),
        format!("(authorizations (version 0) (#~(#!r6rs) (\"\\x41;D\")))"),
        format!("(authorizations (version 0) (#~#!fold-case x (\"{KEY}\" #$X)))"),
        "(authorizations (version 0) () #vu8(1 2))".into(),
        "(authorizations (version 0) () #u8(1 2))".into(),
        "#!curly-infix (authorizations (version 0) ())".into(),
        "(authorizations (version 0) () #\\x41 #\\space #\\( #:k #t #false #*10 #{a b}# #nil)"
            .into(),
        "(authorizations (version 0) () #:1)".into(),
        "(authorizations (version 0) () 1e400)".into(),
        "(authorizations (version 0) () \"\\q\")".into(),
        "(authorizations (version 0) ()) trailing ( garbage \"".into(),
        format!("(authorizations (version 0) ({}))", "(\"AB\") ".repeat(3)),
    ];
    for v in [
        "0", "00", "#x0", "#e0", "#e0.0", "-0", "0/1", "0.0", "#i0", "1", "0@1.5", "0+0i", "+0i",
        "#e-0.0", "#e0e300", "+ian.0", "0#",
    ] {
        cases.push(version(v));
    }
    let mut bytes: Vec<Vec<u8>> = cases.into_iter().map(String::into_bytes).collect();
    // Latin-1 bytes: a no-break space and a soft hyphen are dropped, é is
    // graphic and no hex digit.
    for byte in [0xa0u8, 0xad, 0x85, 0xe9, 0xff] {
        let mut text = b"(authorizations (version 0) ((\"AD17".to_vec();
        text.push(byte);
        text.extend_from_slice(b"A21EF8AED8F1CC02DBD9F7D5C9BF765C61E3\" (name \"Andr\xe9\"))))");
        bytes.push(text);
    }
    bytes
}

#[test]
fn edge_cases_are_read_as_guix_reads_them() {
    if !guile_available() {
        return;
    }
    let tally = compare(&edge_cases(), Source::Blob);
    eprintln!("{tally:?}");
    assert!(tally.accepted >= 30, "{tally:?}");
}

#[test]
fn generated_files_are_read_as_guix_reads_them() {
    if !guile_available() {
        return;
    }
    let mut generator = harness::Generator::new(0x6775_696c_6521);
    let count = std::env::var("GUILE_READER_FILES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4000);
    let files: Vec<Vec<u8>> = (0..count).map(|_| generator.authorizations()).collect();
    let tally = compare(&files, Source::Blob);
    eprintln!("{tally:?}");
    // Enough of each kind for the comparison to mean something.
    assert!(tally.accepted > files.len() / 4, "{tally:?}");
    assert!(tally.refused > files.len() / 10, "{tally:?}");
}

/// The fuzz corpus: real channels' files, scenarios' and hand-made ones.
#[test]
fn fuzz_seeds_are_read_as_guix_reads_them() {
    if !guile_available() {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/authorizations");
    let files: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    let tally = compare(&files, Source::Blob);
    assert!(tally.accepted > 0, "{tally:?}");
}

/// `--historical-authorizations` files, read from disk as UTF-8.
#[test]
fn historical_files_are_read_as_guix_reads_them() {
    if !guile_available() {
        return;
    }
    let mut generator = harness::Generator::new_utf8(0x6869_7374);
    let mut files: Vec<Vec<u8>> = (0..1500).map(|_| generator.authorizations()).collect();
    files.extend(edge_cases());
    files.push(b"\xef\xbb\xbf(authorizations (version 0) ())".to_vec());
    files.push(
        format!(
            "(authorizations (version 0) ((\"AD17\u{a0}A21E\u{200b}{}\" (name \"\u{e9}\"))))",
            &KEY[8..]
        )
        .into_bytes(),
    );
    let tally = compare(&files, Source::File);
    eprintln!("{tally:?}");
    assert!(tally.accepted > files.len() / 10, "{tally:?}");
}
