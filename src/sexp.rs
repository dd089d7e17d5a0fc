//! Reading the small s-expression files channels carry, safely.
//!
//! `lexpr` parses nested lists recursively and frees them recursively too, so
//! an input that is deeply nested, or a very long list, could exhaust the
//! stack. The files are untrusted: their nesting and size are bounded before
//! parsing, and the parsed value is freed iteratively.

use std::ops::Deref;

use lexpr::Value;

/// Deepest nesting accepted; real files nest three or four levels.
pub const MAX_DEPTH: usize = 32;

/// Most atoms and lists accepted in one file.
pub const MAX_ITEMS: usize = 100_000;

/// Why a file is not a readable s-expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    /// Not valid UTF-8.
    #[error("the file is not valid UTF-8 text")]
    NotUtf8,
    /// Nothing but white space and comments.
    #[error("the file holds no s-expression")]
    Empty,
    /// Lists nested deeper than 32 levels.
    #[error("lists are nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// More than 100,000 items.
    #[error("the file has more than {MAX_ITEMS} items")]
    TooManyItems,
    /// The parser refused it.
    #[error("not a valid s-expression: {0}")]
    Invalid(String),
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
        let mut pending = vec![std::mem::replace(&mut self.0, Value::Null)];
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
}

/// Reads the first datum of UTF-8 `contents`, as Scheme's `read` does:
/// whatever follows it is not looked at.
pub fn read_first(contents: &[u8]) -> Result<Datum, SyntaxError> {
    read_first_str(std::str::from_utf8(contents).map_err(|_| SyntaxError::NotUtf8)?)
}

/// Reads `contents` as ISO-8859-1, as Guile reads a bytevector port: every
/// byte is a character, so any byte sequence is text.
pub fn read_first_latin1(contents: &[u8]) -> Result<Datum, SyntaxError> {
    read_first_str(&contents.iter().map(|&b| char::from(b)).collect::<String>())
}

/// Reads the first datum of `text`.
pub fn read_first_str(text: &str) -> Result<Datum, SyntaxError> {
    let text = &blank_guile_comments(text);
    check_bounds(text)?;
    let mut parser = lexpr::Parser::from_str(text);
    match parser.next_value() {
        Ok(Some(value)) => Ok(Datum(value)),
        Ok(None) => Err(SyntaxError::Empty),
        Err(e) => Err(SyntaxError::Invalid(e.to_string())),
    }
}

/// Blanks out what Guile's reader skips and `lexpr` does not know: block
/// comments `#| … |#` (which nest) and datum comments `#;` (which skip the
/// next datum). Strings and line comments are left as they are.
fn blank_guile_comments(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = skip_string(bytes, i),
            b';' => i = skip_line(bytes, i),
            b'#' if bytes.get(i + 1) == Some(&b'\\') => i += 3,
            b'#' if bytes.get(i + 1) == Some(&b'|') => {
                let end = skip_block_comment(bytes, i);
                out[i..end].fill(b' ');
                i = end;
            }
            b'#' if bytes.get(i + 1) == Some(&b';') => {
                let end = skip_datum(bytes, i + 2);
                out[i..end].fill(b' ');
                i = end;
            }
            _ => i += 1,
        }
    }
    // Only ASCII bytes were replaced, by ASCII spaces.
    String::from_utf8(out).expect("still UTF-8")
}

/// Past the string starting at `i` (a `"`).
fn skip_string(bytes: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Past the end of the line.
fn skip_line(bytes: &[u8], i: usize) -> usize {
    bytes[i..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |n| i + n + 1)
}

/// Past the block comment starting at `i` (`#|`), nested ones included.
fn skip_block_comment(bytes: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'#', b'|') => {
                depth += 1;
                i += 2;
            }
            (b'|', b'#') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Past the datum starting at or after `i`: white space and comments, quote
/// prefixes, then a list, a string or an atom. A `#;` on the way comments
/// out one more datum (counted, not recursed, so that no run of them can
/// exhaust the stack).
fn skip_datum(bytes: &[u8], mut i: usize) -> usize {
    let mut datums = 1usize;
    while i < bytes.len() {
        let end = match bytes[i] {
            b if b.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b';' => {
                i = skip_line(bytes, i);
                continue;
            }
            b'#' if bytes.get(i + 1) == Some(&b'|') => {
                i = skip_block_comment(bytes, i);
                continue;
            }
            b'#' if bytes.get(i + 1) == Some(&b';') => {
                datums += 1;
                i += 2;
                continue;
            }
            b'\'' | b'`' | b',' | b'@' => {
                i += 1;
                continue;
            }
            b'"' => skip_string(bytes, i),
            b'(' | b'[' => skip_list(bytes, i),
            b'#' if matches!(bytes.get(i + 1), Some(b'(' | b'[')) => skip_list(bytes, i + 1),
            _ => {
                // `#\X` names a character X, delimiter or not.
                let from = if bytes[i..].starts_with(b"#\\") {
                    (i + 3).min(bytes.len())
                } else {
                    i
                };
                let delimiter = |b: &u8| b.is_ascii_whitespace() || b"()[]\";".contains(b);
                bytes[from..]
                    .iter()
                    .position(delimiter)
                    .map_or(bytes.len(), |n| from + n)
            }
        };
        datums -= 1;
        if datums == 0 {
            return end;
        }
        i = end;
    }
    bytes.len()
}

/// Past the list opening at `i`.
fn skip_list(bytes: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = skip_string(bytes, i),
            b';' => i = skip_line(bytes, i),
            b'#' if bytes.get(i + 1) == Some(&b'\\') => i += 3,
            b'#' if bytes.get(i + 1) == Some(&b'|') => i = skip_block_comment(bytes, i),
            b'(' | b'[' => {
                depth += 1;
                i += 1;
            }
            b')' | b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Bounds nesting and item count with a cheap scan that knows strings and
/// line comments, so the recursive parser never sees a hostile shape.
///
/// Nesting is what the parser holds open: each open list, and each quote
/// prefix (`'`, `` ` ``, `,`, `,@`) until the datum it quotes is complete,
/// so that a run of quotes nests as deep as as many parentheses.
fn check_bounds(text: &str) -> Result<(), SyntaxError> {
    let mut scan = Scan::default();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if scan.in_comment {
            scan.in_comment = c != '\n';
            continue;
        }
        if scan.in_string {
            match (scan.escaped, c) {
                (true, _) => scan.escaped = false,
                (false, '\\') => scan.escaped = true,
                (false, '"') => scan.in_string = false,
                _ => {}
            }
            continue;
        }
        // A character literal (`#\;`, `#\"`, `#\(`…) is an atom, whatever
        // character it names.
        if c == '#' && chars.peek() == Some(&'\\') {
            chars.next();
            chars.next();
            if !scan.in_atom {
                scan.datum()?;
            }
            scan.in_atom = true;
            continue;
        }
        match c {
            '(' | '[' => scan.open()?,
            ')' | ']' => scan.close(),
            '\'' | '`' | ',' => {
                if c == ',' && chars.peek() == Some(&'@') {
                    chars.next();
                }
                scan.prefix()?;
            }
            '"' => {
                scan.datum()?;
                scan.in_string = true;
            }
            ';' => scan.in_comment = true,
            c if c.is_whitespace() => scan.in_atom = false,
            _ if scan.in_atom => {}
            // `#(` (a vector) or `#'`: the prefixes still wait for a datum.
            '#' if matches!(chars.peek(), Some('(' | '[' | '\'' | '`' | ',')) => {}
            _ => {
                scan.datum()?;
                scan.in_atom = true;
            }
        }
    }
    Ok(())
}

#[derive(Default)]
struct Scan {
    depth: usize,
    items: usize,
    /// Quote prefixes waiting for their datum.
    pending: usize,
    /// For each open list, the prefixes that quote it.
    lists: Vec<usize>,
    in_string: bool,
    in_comment: bool,
    escaped: bool,
    in_atom: bool,
}

impl Scan {
    fn deeper(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SyntaxError::TooDeep);
        }
        Ok(())
    }

    fn count(&mut self) -> Result<(), SyntaxError> {
        self.items += 1;
        if self.items > MAX_ITEMS {
            return Err(SyntaxError::TooManyItems);
        }
        Ok(())
    }

    fn open(&mut self) -> Result<(), SyntaxError> {
        self.in_atom = false;
        self.lists.push(std::mem::take(&mut self.pending));
        self.count()?;
        self.deeper()
    }

    fn close(&mut self) {
        self.in_atom = false;
        if let Some(prefixes) = self.lists.pop() {
            self.depth -= 1 + prefixes;
        }
    }

    fn prefix(&mut self) -> Result<(), SyntaxError> {
        self.in_atom = false;
        self.pending += 1;
        self.deeper()
    }

    /// An atom starts: the prefixes waiting for it are done with.
    fn datum(&mut self) -> Result<(), SyntaxError> {
        self.depth -= std::mem::take(&mut self.pending);
        self.count()
    }
}

/// The elements of a proper list (`()` is the empty list), or `None`.
pub fn list(value: &Value) -> Option<Vec<&Value>> {
    match value {
        Value::Null => Some(Vec::new()),
        Value::Cons(cons) => match cons.to_ref_vec() {
            (items, Value::Null) => Some(items),
            _ => None,
        },
        _ => None,
    }
}

/// In an association list of `(key value …)` lists, the first value of
/// `key`.
pub fn property<'v>(items: &[&'v Value], key: &str) -> Option<&'v Value> {
    items.iter().find_map(|item| {
        let pair = list(item)?;
        (pair.first()?.as_symbol()? == key).then(|| pair.get(1).copied())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            read_first(deep.as_bytes()).unwrap_err(),
            SyntaxError::TooDeep
        );
        let long = format!("({})", "a ".repeat(MAX_ITEMS + 1));
        assert_eq!(
            read_first(long.as_bytes()).unwrap_err(),
            SyntaxError::TooManyItems
        );
        assert_eq!(
            read_first(b" ;; nothing\n").unwrap_err(),
            SyntaxError::Empty
        );
        assert_eq!(read_first(b"\xc3\x28").unwrap_err(), SyntaxError::NotUtf8);
    }

    #[test]
    fn character_literals_are_atoms() {
        for c in ["'", "`", ",", ";", "\"", "(", ")", "|"] {
            let deep = format!("(a #\\{c}{}x)", "'".repeat(20_000));
            assert_eq!(
                read_first(deep.as_bytes()).unwrap_err(),
                SyntaxError::TooDeep,
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
        let many = format!("({}x)", "#;".repeat(100_000));
        assert!(read_first(many.as_bytes()).is_ok());
    }

    #[test]
    fn quote_prefixes_count_as_nesting() {
        for prefix in ["'", "`", ",", ",@"] {
            let deep = format!("(a {}x)", prefix.repeat(20_000));
            assert_eq!(
                read_first(deep.as_bytes()).unwrap_err(),
                SyntaxError::TooDeep,
                "{prefix}"
            );
        }
        let mixed = format!("{}x", "'(".repeat(20));
        let vectors = format!("{}x", "'#(".repeat(20));
        assert_eq!(
            read_first(vectors.as_bytes()).unwrap_err(),
            SyntaxError::TooDeep
        );
        assert_eq!(
            read_first(mixed.as_bytes()).unwrap_err(),
            SyntaxError::TooDeep
        );
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

    #[test]
    fn property_lookup() {
        let d = read_first(b"(channel (version 0) (keyring-reference \"k\"))").unwrap();
        let items = list(&d).unwrap();
        assert_eq!(
            property(&items, "keyring-reference").unwrap().as_str(),
            Some("k")
        );
        assert!(property(&items, "url").is_none());
    }
}
