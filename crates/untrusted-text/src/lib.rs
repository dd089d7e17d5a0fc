//! Text that came from a repository, a key or a file, made safe to print.
//!
//! Every string that a repository, a key or a file supplies (key file
//! names, ref names, user IDs, commit data, tokens quoted from
//! `.guix-authorizations` or `.guix-channel`, remote URLs) is hostile when
//! it reaches a terminal or a log: an escape sequence can clear the screen
//! and draw a fake verdict, a CR or LF can forge a line of a pipe or a CI
//! log, a bidirectional override can reorder what is read. [`Untrusted`]
//! is the one type through which such text is displayed: its `Display`
//! writes the text with every such character replaced by a visible escape.
//! The value itself is never changed, so JSON output keeps it exact.

#![warn(missing_docs)]

use std::fmt;

/// Untrusted text, displayed with controls escaped.
///
/// Escaped, as `\xNN` or `\u{NNNN}`: C0 controls (tab and newline too),
/// DEL, C1 controls, the bidirectional marks, embeddings, overrides and
/// isolates, and the line and paragraph separators. A backslash is written
/// `\\`, so that an escape seen on the screen was put there by this type and
/// not by the text. Bytes that are not UTF-8 are written `\xNN`.
///
/// ```
/// use untrusted_text::Untrusted;
///
/// let name = "key\x1bc\r\nsuccess\u{202e}";
/// assert_eq!(Untrusted::new(name).to_string(), r"key\x1bc\x0d\x0asuccess\u{202e}");
/// assert_eq!(Untrusted::bytes(b"a\xffb").to_string(), r"a\xffb");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Untrusted<'a>(Text<'a>);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Text<'a> {
    Str(&'a str),
    Bytes(&'a [u8]),
}

impl<'a> Untrusted<'a> {
    /// Text to be displayed escaped.
    pub fn new(text: &'a str) -> Self {
        Untrusted(Text::Str(text))
    }

    /// Bytes to be displayed escaped: the UTF-8 runs as text, the other
    /// bytes as `\xNN`.
    pub fn bytes(bytes: &'a [u8]) -> Self {
        Untrusted(Text::Bytes(bytes))
    }
}

impl<'a> From<&'a str> for Untrusted<'a> {
    fn from(text: &'a str) -> Self {
        Untrusted::new(text)
    }
}

impl<'a> From<&'a String> for Untrusted<'a> {
    fn from(text: &'a String) -> Self {
        Untrusted::new(text)
    }
}

/// Whether `c` must not reach a terminal or a log as it is.
fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        // Arabic letter mark, left-to-right and right-to-left marks.
        | '\u{61c}' | '\u{200e}' | '\u{200f}'
        // Line and paragraph separators.
        | '\u{2028}' | '\u{2029}'
        // Embeddings and overrides, then isolates.
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn write_str(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c == '\\' || is_unsafe(c) {
            f.write_str(&text[start..i])?;
            match c {
                '\\' => f.write_str(r"\\")?,
                '\u{0}'..='\u{7f}' => write!(f, "\\x{:02x}", u32::from(c))?,
                _ => write!(f, "\\u{{{:x}}}", u32::from(c))?,
            }
            start = i + c.len_utf8();
        }
    }
    f.write_str(&text[start..])
}

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Text::Str(text) => write_str(f, text),
            Text::Bytes(mut bytes) => loop {
                match std::str::from_utf8(bytes) {
                    Ok(text) => return write_str(f, text),
                    Err(e) => {
                        let (valid, rest) = bytes.split_at(e.valid_up_to());
                        // `valid` is UTF-8 by `valid_up_to`.
                        write_str(f, std::str::from_utf8(valid).unwrap_or_default())?;
                        let bad = e.error_len().unwrap_or(rest.len());
                        for b in &rest[..bad] {
                            write!(f, "\\x{b:02x}")?;
                        }
                        bytes = &rest[bad..];
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dangerous_class_is_escaped() {
        let cases = [
            ("\u{1b}c", r"\x1bc"),
            ("a\rb\nc\td", r"a\x0db\x0ac\x09d"),
            ("\u{7f}", r"\x7f"),
            ("\u{9b}31m", r"\u{9b}31m"),
            ("\u{85}", r"\u{85}"),
            ("\u{202e}gnp.exe", r"\u{202e}gnp.exe"),
            ("\u{2066}x\u{2069}", r"\u{2066}x\u{2069}"),
            ("\u{200f}\u{61c}", r"\u{200f}\u{61c}"),
            ("a\u{2028}b\u{2029}", r"a\u{2028}b\u{2029}"),
            (r"\x1b", r"\\x1b"),
            ("été ✓ 日本", "été ✓ 日本"),
        ];
        for (raw, shown) in cases {
            assert_eq!(Untrusted::new(raw).to_string(), shown, "{raw:?}");
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_are_shown_as_hex() {
        assert_eq!(Untrusted::bytes(b"\xc2\x9b2J").to_string(), r"\u{9b}2J");
        assert_eq!(Untrusted::bytes(b"\x9b2J").to_string(), r"\x9b2J");
        assert_eq!(Untrusted::bytes(b"ok\xe2\x80").to_string(), r"ok\xe2\x80");
    }
}
