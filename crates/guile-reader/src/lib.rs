//! Reading the small s-expression files channels carry, as Guile does.
//!
//! Guix reads `.guix-authorizations`, `.guix-channel` and its cache files
//! with Guile's `read`; this crate reads them the same way (a port of
//! Guile 3.0's `module/ice-9/read.scm`, and of its `string->number`): the
//! same files are accepted and read to the same data, as [`lexpr`] values.
//!
//! ```
//! let datum = guile_reader::read_first(b"(authorizations (version 0))")?;
//! assert_eq!(guile_reader::list(&datum).map(|items| items.len()), Some(2));
//! # Ok::<(), guile_reader::SyntaxError>(())
//! ```
//! The files are untrusted: the reader does not
//! recurse, bounds nesting and size, and the data it returns are freed
//! without recursion.
//!
//! What Guile accepts but this reader refuses (with
//! [`SyntaxError::Unsupported`]): arrays and SRFI-4 vectors (`#u8(…)`,
//! `#2(…)`), bytevectors (`#vu8(…)`), the curly-infix directives, numeric
//! characters beyond Latin-1 in numbers, and character codes written with
//! numbers of more than 128 bits. No channel uses them.

#![warn(missing_docs)]

mod number;
mod reader;

use std::fmt;
use std::ops::Deref;

use lexpr::Value;

use untrusted_text::Untrusted;

/// Deepest nesting accepted (lists, vectors, quotes and other prefixes);
/// real files nest three or four levels.
pub const MAX_DEPTH: usize = 32;

/// Most atoms and lists accepted in one file.
pub const MAX_ITEMS: usize = 100_000;

/// Where in a file: line and column, from 1, counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl Position {
    /// The position of the character at `index` in `text` (just past its
    /// end for `text.len()`).
    fn of(text: &[char], index: usize) -> Position {
        let before = &text[..index.min(text.len())];
        let line_start = before.iter().rposition(|&c| c == '\n').map_or(0, |i| i + 1);
        Position {
            line: 1 + before.iter().filter(|&&c| c == '\n').count(),
            column: 1 + before.len() - line_start,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Why a file is not a readable s-expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    /// Not valid UTF-8 (for files Guix reads as UTF-8).
    #[error("the file is not valid UTF-8 text (byte {offset})")]
    NotUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// Nothing but white space and comments: Guile's `read` returns the
    /// end-of-file object, which no Guix file format accepts.
    #[error("the file holds no s-expression")]
    Empty,
    /// Nested deeper than 32 levels: real files nest three or four.
    #[error("{at}: nested deeper than {MAX_DEPTH} levels")]
    TooDeep {
        /// Where the limit was passed.
        at: Position,
    },
    /// More than 100,000 items (atoms and lists).
    #[error("{at}: the file has more than {MAX_ITEMS} items")]
    TooManyItems {
        /// Where the limit was passed.
        at: Position,
    },
    /// Guile's `read` refuses it (raises an error).
    #[error("{at}: {problem}")]
    Invalid {
        /// What is wrong.
        problem: SyntaxProblem,
        /// Where it was found.
        at: Position,
    },
    /// Syntax Guile reads but this reader does not.
    #[error("{at}: {syntax} is not supported")]
    Unsupported {
        /// Which syntax.
        syntax: UnsupportedSyntax,
        /// Where it starts.
        at: Position,
    },
}

/// What makes Guile's `read` raise an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxProblem {
    /// The text ends inside a list opened with the bracket closed by this
    /// one.
    #[error("the text ends inside a list (expected `{}`)", Untrusted::new(&.0.to_string()))]
    UnterminatedList(char),
    /// The text ends inside a string.
    #[error("the text ends inside a string")]
    UnterminatedString,
    /// The text ends inside a `#| … |#` or `#! … !#` comment.
    #[error("the text ends inside a block comment")]
    UnterminatedComment,
    /// The text ends inside a `#{ … }#` symbol.
    #[error("the text ends inside a #{{…}}# symbol")]
    UnterminatedSymbol,
    /// A quote, `#;`, `#:` or other prefix, or `#` or `#\`, has no datum
    /// after it.
    #[error("a datum is missing at the end of the text")]
    MissingDatum,
    /// A closing bracket where no list is open.
    #[error("unexpected `{}`", Untrusted::new(&.0.to_string()))]
    UnexpectedClose(char),
    /// A closing bracket of the wrong kind.
    #[error("mismatched close bracket `{}`", Untrusted::new(&.0.to_string()))]
    MismatchedClose(char),
    /// Something other than the closing bracket after a dotted tail.
    #[error("`{}` after the tail of a dotted list (expected a closing bracket)", Untrusted::new(&.0.to_string()))]
    MissingClose(char),
    /// An unknown escape in a string, or a bad digit in a hex escape.
    #[error("invalid character `{}` in an escape sequence", Untrusted::new(&.0.to_string()))]
    InvalidEscape(char),
    /// A character escape or literal naming no Unicode scalar value
    /// (a surrogate, or past U+10FFFF).
    #[error("no such character")]
    InvalidCodePoint,
    /// `#\name` with an unknown name.
    #[error("unknown character name `{}`", Untrusted::new(&.0.to_string()))]
    UnknownCharacterName(String),
    /// `#` followed by something Guile does not know, or a `#x…`, `#e…`
    /// (etc.) that is no number.
    #[error("unknown # object `{}`", Untrusted::new(&.0.to_string()))]
    UnknownHashObject(String),
    /// A number with an exponent beyond what a double holds.
    #[error("number `{}` is out of range", Untrusted::new(&.0.to_string()))]
    NumberOutOfRange(String),
    /// `#:` not followed by a symbol.
    #[error("#: is not followed by a symbol")]
    KeywordNotSymbol,
    /// `#( … )` holding a dotted list.
    #[error("a vector cannot be a dotted list")]
    ImproperVector,
}

/// Syntax Guile reads and this reader refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnsupportedSyntax {
    /// Arrays and SRFI-4 vectors: `#u8(…)`, `#f64(…)`, `#2(…)`, `#a(…)`…
    #[error("array syntax")]
    Array,
    /// `#vu8(…)`.
    #[error("bytevector syntax")]
    Bytevector,
    /// `#!curly-infix` and `#!curly-infix-and-bracket-lists`.
    #[error("the curly-infix reader directive")]
    CurlyInfix,
    /// A character literal whose code is written as an exact number with
    /// parts of more than 128 bits (`#\x1000…/1000…`).
    #[error("a character code too large to evaluate")]
    HugeNumber,
    /// A numeric character beyond Latin-1 in a number-like token (Guile
    /// may read it as a digit, depending on its Unicode tables).
    #[error("a non-Latin-1 digit in a number")]
    NonLatin1Digit,
}

/// A parsed datum that frees itself without recursion.
#[derive(Debug)]
pub struct Datum(Value);

impl Deref for Datum {
    type Target = Value;
    fn deref(&self) -> &Value {
        &self.0
    }
}

impl Drop for Datum {
    fn drop(&mut self) {
        dispose(std::mem::replace(&mut self.0, Value::Null));
    }
}

/// Frees `value` without recursion (dropping a long list recursively
/// could exhaust the stack).
fn dispose(value: Value) {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::Cons(cons) => {
                let (car, cdr) = cons.into_pair();
                pending.push(car);
                pending.push(cdr);
            }
            Value::Vector(items) => pending.extend(items.into_vec()),
            _ => {}
        }
    }
}

/// Reads the first datum of UTF-8 `contents`, as Scheme's `read` does:
/// whatever follows it is not looked at. As a Guile port decoding UTF-8
/// does, a byte-order mark at the start is skipped.
pub fn read_first(contents: &[u8]) -> Result<Datum, SyntaxError> {
    let text = std::str::from_utf8(contents).map_err(|e| SyntaxError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    read_first_str(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// Reads `contents` as ISO-8859-1, as Guile reads a bytevector port
/// (`open-bytevector-input-port`, how Guix reads a blob): every byte is a
/// character, so any byte sequence is text.
pub fn read_first_latin1(contents: &[u8]) -> Result<Datum, SyntaxError> {
    read_chars(&contents.iter().map(|&b| char::from(b)).collect::<Vec<_>>())
}

/// Reads the first datum of `text`.
pub fn read_first_str(text: &str) -> Result<Datum, SyntaxError> {
    read_chars(&text.chars().collect::<Vec<_>>())
}

/// Reads every datum of `text`, as Guile's `load` reads a file of code
/// (a channels file).
pub fn read_all_str(text: &str) -> Result<Vec<Datum>, SyntaxError> {
    let text: Vec<char> = text.chars().collect();
    let mut data = Vec::new();
    reader::read_all(&text, |value| data.push(Datum(value)))?;
    Ok(data)
}

fn read_chars(text: &[char]) -> Result<Datum, SyntaxError> {
    reader::read(text).map(Datum)
}

/// The elements of a proper list, or `None`.
///
/// As Guile's `null?` (which `match` uses), both `()` and Emacs Lisp's
/// `#nil` end a list: `(a . #nil)` is the list `(a)`, and `#nil` itself is
/// the empty list.
pub fn list(value: &Value) -> Option<Vec<&Value>> {
    match value {
        Value::Null | Value::Nil => Some(Vec::new()),
        Value::Cons(cons) => match cons.to_ref_vec() {
            (items, Value::Null | Value::Nil) => Some(items),
            _ => None,
        },
        _ => None,
    }
}

/// Most characters of a datum that [`excerpt`] keeps.
const EXCERPT_CHARS: usize = 60;

/// `value` as Scheme writes it, cut short: for error messages about
/// untrusted files, which must stay small.
pub fn excerpt(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_all_data_keeping_directives() {
        let data = read_all_str("a #!fold-case (B) ; end\n").unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(list(&data[1]).unwrap()[0].as_symbol(), Some("b"));
        assert!(read_all_str(" ; nothing\n").unwrap().is_empty());
        assert!(read_all_str("(a) (b").is_err());
    }

    #[test]
    fn reads_first_datum_only() {
        let d = read_first(b"(a b) (c").unwrap();
        assert_eq!(list(&d).unwrap().len(), 2);
    }

    #[test]
    fn comments_and_strings_do_not_count_as_nesting() {
        let text = format!("; {}\n(a \"{}\")", "(".repeat(100), "(".repeat(100));
        assert!(read_first(text.as_bytes()).is_ok());
    }

    #[test]
    fn hostile_shapes_are_refused_not_crashed() {
        let deep = "(".repeat(100_000);
        assert!(matches!(
            read_first(deep.as_bytes()),
            Err(SyntaxError::TooDeep { .. })
        ));
        let long = format!("({})", "a ".repeat(MAX_ITEMS + 1));
        assert!(matches!(
            read_first(long.as_bytes()),
            Err(SyntaxError::TooManyItems { .. })
        ));
        assert_eq!(
            read_first(b" ;; nothing\n").unwrap_err(),
            SyntaxError::Empty
        );
        assert_eq!(
            read_first(b"(\xc3\x28").unwrap_err(),
            SyntaxError::NotUtf8 { offset: 1 }
        );
    }

    #[test]
    fn character_literals_are_atoms() {
        for c in ["'", "`", ",", ";", "\"", "(", ")", "|"] {
            let deep = format!("(a #\\{c} {}x)", "'".repeat(20_000));
            assert!(
                matches!(
                    read_first(deep.as_bytes()),
                    Err(SyntaxError::TooDeep { .. })
                ),
                "{c}"
            );
        }
        let chars = read_first(b"(#\\; #\\\" #\\( x)").unwrap();
        assert_eq!(list(&chars).unwrap().len(), 4);
    }

    #[test]
    fn guile_comments_are_skipped() {
        let text = "#| block #| nested |# (still) |#\n(a #;(b (c) \"d)\") #;#;e f g #|x|# h)";
        let datum = read_first(text.as_bytes()).unwrap();
        let items: Vec<String> = list(&datum)
            .unwrap()
            .iter()
            .map(|v| v.to_string())
            .collect();
        assert_eq!(items, ["a", "g", "h"]);
        let string = read_first(b"(\"#| not a comment |#\" \"#;x\")").unwrap();
        assert_eq!(list(&string).unwrap().len(), 2);
        // A run of datum comments is counted, not recursed into.
        let many = format!("({}{}x)", "#;".repeat(50_000), "a ".repeat(50_000));
        assert!(read_first(many.as_bytes()).is_ok());
    }

    #[test]
    fn quote_prefixes_count_as_nesting() {
        for prefix in ["'", "`", ",", ",@"] {
            let deep = format!("(a {}x)", prefix.repeat(20_000));
            assert!(
                matches!(
                    read_first(deep.as_bytes()),
                    Err(SyntaxError::TooDeep { .. })
                ),
                "{prefix}"
            );
        }
        let mixed = format!("{}x", "'(".repeat(20));
        let vectors = format!("{}x", "'#(".repeat(20));
        for deep in [vectors, mixed] {
            assert!(matches!(
                read_first(deep.as_bytes()),
                Err(SyntaxError::TooDeep { .. })
            ));
        }
        // Prefixes end with their datum: many quoted atoms in a row are fine.
        let flat = format!("({})", "'a ".repeat(1_000));
        assert!(read_first(flat.as_bytes()).is_ok());
        let quoted_lists = format!("({})", "'(a b) ".repeat(1_000));
        assert!(read_first(quoted_lists.as_bytes()).is_ok());
    }

    #[test]
    fn long_lists_within_bounds_are_freed_without_recursion() {
        let long = format!("({})", "a ".repeat(MAX_ITEMS - 1));
        let datum = read_first(long.as_bytes()).unwrap();
        assert_eq!(list(&datum).unwrap().len(), MAX_ITEMS - 1);
        // Freed on a small stack: a recursive drop would overflow here.
        std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || drop(datum))
            .unwrap()
            .join()
            .unwrap();
    }

    /// The datum `text` reads to, printed by `lexpr`.
    fn shown(text: &str) -> String {
        read_first_str(text).unwrap().to_string()
    }

    fn problem(text: &str) -> SyntaxProblem {
        match read_first_str(text) {
            Err(SyntaxError::Invalid { problem, .. }) => problem,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn guile_string_escapes() {
        let cases = [
            (r#""\x34179""#, "4179"),
            (r#""\x41;""#, "A;"),
            (r#""\u00e9\U01F600""#, "\u{e9}\u{1f600}"),
            (
                r#""\a\b\f\n\r\t\v\0\\\"\|\(""#,
                "\x07\x08\x0c\n\r\t\x0b\0\\\"|(",
            ),
            ("\"a\\\n   b\"", "a   b"),
            ("#!r6rs \"a\\\n \t\u{a0} b\\x41;\"", "abA"),
        ];
        for (text, string) in cases {
            let datum = read_first_str(text).unwrap();
            assert_eq!(datum.as_str(), Some(string), "{text}");
        }
        assert_eq!(problem(r#""\q""#), SyntaxProblem::InvalidEscape('q'));
        assert_eq!(problem(r#""\x4""#), SyntaxProblem::InvalidEscape('"'));
        assert_eq!(problem(r#""\ud800""#), SyntaxProblem::InvalidCodePoint);
        assert_eq!(problem(r#""\U110000""#), SyntaxProblem::InvalidCodePoint);
        assert_eq!(problem("\"abc"), SyntaxProblem::UnterminatedString);
    }

    #[test]
    fn guile_comments_and_directives() {
        assert_eq!(shown("#! scsh !# (a #!x!# b)"), "(a b)");
        assert_eq!(
            shown("#!fold-case (AUTHORIZATIONS Version)"),
            "(authorizations version)"
        );
        assert_eq!(shown("#!fold-case #!no-fold-case (A)"), "(A)");
        assert_eq!(shown("#|a #|b|# c|# (x #;y . #;(z) w)"), "(x . w)");
        assert_eq!(
            problem("#! never closed"),
            SyntaxProblem::UnterminatedComment
        );
        assert_eq!(problem("#| #| |#"), SyntaxProblem::UnterminatedComment);
        assert_eq!(problem("(a #;)"), SyntaxProblem::UnexpectedClose(')'));
        assert!(matches!(
            read_first_str("#!curly-infix {a + b}"),
            Err(SyntaxError::Unsupported {
                syntax: UnsupportedSyntax::CurlyInfix,
                ..
            })
        ));
    }

    #[test]
    fn guile_atoms() {
        assert_eq!(
            shown("(#t #true #F #fAlse #tru1 #\\a #\\space #\\x41 #\\101 #\\( #:key #nil)"),
            "(#t #t #f #f #t ru1 #\\a #\\  #\\A #\\A #\\( #:key #nil)"
        );
        let d = read_first_str("(#{a b}# #*101 [x] #(1 2) a'b |c d|)").unwrap();
        let items = list(&d).unwrap();
        let symbols: Vec<_> = items.iter().filter_map(|v| v.as_symbol()).collect();
        assert_eq!(symbols, ["a b", "a'b", "|c", "d|"]);
        assert_eq!(items[1].to_string(), "#(#t #f #t)");
        assert_eq!(items[2].to_string(), "(x)");
        assert_eq!(items[3].to_string(), "#(1 2)");
        assert_eq!(shown("('a `b ,c ,@d #'e #~f #$g #$@h #+i)"),
            "((quote a) (quasiquote b) (unquote c) (unquote-splicing d) (syntax e) (gexp f) (ungexp g) (ungexp-splicing h) (ungexp-native i))");
        assert_eq!(shown("(00 #x10 -0 0.5 1/2 . x)"), "(0 16 0 0.5 0.5 . x)");
        assert_eq!(shown("( . b)"), "b");
        assert_eq!(shown("(a . (b))"), "(a b)");
        assert_eq!(
            problem("#\\foo"),
            SyntaxProblem::UnknownCharacterName("foo".into())
        );
        assert_eq!(problem("#\\xd800"), SyntaxProblem::InvalidCodePoint);
        assert_eq!(problem("#:1"), SyntaxProblem::KeywordNotSymbol);
        assert_eq!(
            problem("#xyz"),
            SyntaxProblem::UnknownHashObject("#xyz".into())
        );
        assert_eq!(problem("#q"), SyntaxProblem::UnknownHashObject("#q".into()));
        assert_eq!(
            problem("1e400"),
            SyntaxProblem::NumberOutOfRange("1e400".into())
        );
        assert_eq!(problem("(a . b c)"), SyntaxProblem::MissingClose('c'));
        assert_eq!(problem("(a ]"), SyntaxProblem::MismatchedClose(']'));
        assert_eq!(problem(")"), SyntaxProblem::UnexpectedClose(')'));
        assert_eq!(problem("#(a . b)"), SyntaxProblem::ImproperVector);
        assert_eq!(problem("(a (b"), SyntaxProblem::UnterminatedList(')'));
        assert_eq!(problem("'"), SyntaxProblem::MissingDatum);
        for unsupported in ["#u8(1)", "#vu8(1)", "#2((1))", "#f32(1.0)", "(+\u{663})"] {
            assert!(
                matches!(
                    read_first_str(unsupported),
                    Err(SyntaxError::Unsupported { .. })
                ),
                "{unsupported}"
            );
        }
    }

    /// A gexp's datum is read by a nested `read`: the directives in it
    /// stay there, and in later nested reads (through the port).
    #[test]
    fn directives_in_gexps_stay_there() {
        let d =
            read_first_str(r#"(#~(#!r6rs "\x41;") "\x41;" #$"\x41;" #!fold-case #$A B)"#).unwrap();
        assert_eq!(
            d.to_string(),
            r#"((gexp ("A")) "A;" (ungexp "A") (ungexp a) b)"#
        );
    }

    #[test]
    fn errors_say_where() {
        assert_eq!(
            read_first_str("(a\n  \"\\q\")").unwrap_err(),
            SyntaxError::Invalid {
                problem: SyntaxProblem::InvalidEscape('q'),
                at: Position { line: 2, column: 6 }
            }
        );
    }

    #[test]
    fn utf8_files_may_start_with_a_byte_order_mark() {
        assert_eq!(read_first(b"\xef\xbb\xbf(a)").unwrap().to_string(), "(a)");
        assert!(read_first_latin1(b"\xef\xbb\xbf(a)").unwrap().is_symbol());
    }

    #[test]
    fn nil_ends_lists() {
        let d = read_first_str("(a b . #nil)").unwrap();
        assert_eq!(list(&d).unwrap().len(), 2);
        assert_eq!(list(&read_first_str("#nil").unwrap()).unwrap().len(), 0);
    }

    #[allow(dead_code)]
    mod harness {
        include!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/guile_reader/harness.rs"
        ));
    }

    /// `value` as `tests/guile_reader/read-datum.scm` prints what Guile
    /// reads.
    fn canonical(value: &Value) -> String {
        let code_points = |text: &str| {
            text.chars()
                .map(|c| format!("{:x}", u32::from(c)))
                .collect::<Vec<_>>()
                .join(",")
        };
        match value {
            Value::Null => "()".into(),
            Value::Nil => "#nil".into(),
            Value::Bool(true) => "#t".into(),
            Value::Bool(false) => "#f".into(),
            Value::Cons(pair) => format!("({} . {})", canonical(pair.car()), canonical(pair.cdr())),
            Value::Vector(items) => format!(
                "#({})",
                items.iter().map(canonical).collect::<Vec<_>>().join(" ")
            ),
            Value::String(s) => format!("s{}", code_points(s)),
            Value::Symbol(s) => format!("y{}", code_points(s)),
            Value::Keyword(s) => format!("k{}", code_points(s)),
            Value::Char(c) => format!("c{:x}", u32::from(*c)),
            Value::Number(n) => match n.as_i64() {
                Some(i) if i > i64::MIN => format!("i{i}"),
                _ => "n".into(),
            },
            Value::Bytes(_) => "?".into(),
        }
    }

    /// Hand-written data for the comparison with Guile.
    const DATA: &[&str] = &[
        "(channel (version 0) (keyring-reference \"k\") (url \"https://x\"))",
        "#!fold-case (CHANNEL (Version #x0) [News-File \"\\x41\\u00e9\"])",
        "(a . (b . (c)))",
        "( . x)",
        "(a #;b . c)",
        "#(a #(b) ( . #(c)))",
        "#( . (1 2))",
        "(#$x:out #$:y #$z: #+@w:o #~(#$@a))",
        "(#{}# #{a}b}# #{\\x41;\\q}# #{a}}# #{a\nb}#)",
        "(#\\x41 #\\101 #\\x#e41 #\\x82/2 #\\1@0 #\\nul #\\NUL #\\sp #\\( #\\  x)",
        "(1 -1 1/2 #e1.5 #e1e10 #x-F 12345678901234567890 123456789012345678901234567890 -9223372036854775808)",
        "(#t #true #f #false #T #F #fAlSe #tru #t1 #*101 #* #nil #:a #: b #:#|c|#d)",
        "(\"\\a\\b\\f\\n\\r\\t\\v\\0\\\\\\\"\\|\\(\\x41\\u00e9\\U01F600\\\n   x\")",
        "#!r6rs (\"\\x41;\\\n \t x\")",
        "(a]",
        "[a)",
        "(a . b . c)",
        "(1e400)",
        "#\\xd800",
        "",
    ];

    /// Guile 3.0's `read`, run on generated and hand-written data, reads
    /// exactly what this reader reads (or fails where it fails), apart
    /// from the syntax documented as unsupported: blobs, read as
    /// ISO-8859-1.
    #[test]
    fn reads_blobs_as_guile_does() {
        if !harness::guile_available() {
            return;
        }
        let generator = harness::Generator::new(0x7265_6164);
        compare_with_guile(generator, &[], read_first_latin1);
    }

    /// Files on disk (`.guix-channel`, the cache), read as UTF-8.
    #[test]
    fn reads_files_as_guile_does() {
        if !harness::guile_available() {
            return;
        }
        let generator = harness::Generator::new_utf8(0x7574_6638);
        compare_with_guile(generator, &["--file"], read_first);
    }

    fn compare_with_guile(
        mut generator: harness::Generator,
        options: &[&str],
        read: fn(&[u8]) -> Result<Datum, SyntaxError>,
    ) {
        // As tests/guile_reader.rs, more with GUILE_READER_FILES.
        let count = std::env::var("GUILE_READER_FILES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(2000);
        let mut files: Vec<Vec<u8>> = (0..count).map(|_| generator.datum_file()).collect();
        files.extend(DATA.iter().map(|text| text.as_bytes().to_vec()));
        let guile = harness::run_guile("read-datum.scm", options, &files);
        let mut disagreements = Vec::new();
        let mut alike = 0;
        for (contents, guile) in files.iter().zip(&guile) {
            let ours = match read(contents) {
                Ok(datum) => canonical(&datum),
                Err(SyntaxError::Unsupported { .. } | SyntaxError::NotUtf8 { .. })
                    if !guile.starts_with("ERR") =>
                {
                    continue
                }
                Err(_) => "ERR".into(),
            };
            let agree = if guile.starts_with("ERR") {
                ours == "ERR"
            } else {
                alike += 1;
                &ours == guile
            };
            if !agree {
                disagreements.push(format!(
                    "{:?}\n    guile: {guile}\n    ours:  {ours} ({:?})",
                    String::from_utf8_lossy(contents),
                    read(contents).err()
                ));
            }
        }
        assert!(
            disagreements.is_empty(),
            "{} of {} read differently:\n{}",
            disagreements.len(),
            files.len(),
            disagreements[..disagreements.len().min(15)].join("\n")
        );
        eprintln!("{alike} of {} read alike", files.len());
        assert!(alike > files.len() / 2, "only {alike} read alike");
    }
}
