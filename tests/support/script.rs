//! Lexing of `.scenario` files: one command per line, whitespace-separated
//! tokens, double-quoted strings with escapes, `#` comments.

/// One non-empty, non-comment line of a scenario.
#[derive(Clone, Debug)]
pub struct Line {
    /// 1-based line number in the source.
    pub number: usize,
    /// The tokens, unescaped. Tokens are bytes because quoted strings may
    /// hold arbitrary bytes through `\xHH`.
    pub tokens: Vec<Vec<u8>>,
}

impl Line {
    /// The command (first token) as text.
    pub fn command(&self) -> String {
        String::from_utf8_lossy(&self.tokens[0]).into_owned()
    }

    /// Every token as (lossy) text.
    pub fn texts(&self) -> Vec<String> {
        self.tokens
            .iter()
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .collect()
    }
}

/// Whether a line with this command is an expectation line, kept verbatim
/// for the tests instead of being executed by the builder.
pub fn is_expectation(command: &str) -> bool {
    command.starts_with("expect")
        || matches!(
            command,
            "introduction" | "end" | "historical" | "keyring-ref"
        )
}

/// Splits a whole scenario text into lines of tokens. Errors carry the
/// 1-based line number.
pub fn parse(text: &str) -> Result<Vec<Line>, (usize, String)> {
    let mut lines = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let tokens = tokenize(raw).map_err(|e| (number, e))?;
        if !tokens.is_empty() {
            lines.push(Line { number, tokens });
        }
    }
    Ok(lines)
}

/// Splits one line into tokens.
///
/// * Tokens are separated by spaces or tabs.
/// * An unquoted `#` at the start of a token starts a comment that runs to
///   the end of the line.
/// * `"..."` is one token (possibly empty) and understands the escapes
///   `\n`, `\t`, `\r`, `\0`, `\\`, `\"` and `\xHH` (one arbitrary byte).
pub fn tokenize(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let bytes = line.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b' ' || c == b'\t' || c == b'\r' {
            i += 1;
            continue;
        }
        if c == b'#' {
            break;
        }
        let mut token = Vec::new();
        if c == b'"' {
            i += 1;
            loop {
                let Some(&c) = bytes.get(i) else {
                    return Err("unterminated double-quoted string".into());
                };
                i += 1;
                match c {
                    b'"' => break,
                    b'\\' => {
                        let Some(&e) = bytes.get(i) else {
                            return Err("backslash at end of line".into());
                        };
                        i += 1;
                        match e {
                            b'n' => token.push(b'\n'),
                            b't' => token.push(b'\t'),
                            b'r' => token.push(b'\r'),
                            b'0' => token.push(0),
                            b'\\' => token.push(b'\\'),
                            b'"' => token.push(b'"'),
                            b'x' => {
                                let hex = line
                                    .get(i..i + 2)
                                    .ok_or_else(|| "\\x needs two hex digits".to_string())?;
                                let byte = u8::from_str_radix(hex, 16)
                                    .map_err(|_| format!("bad \\x escape: \\x{hex}"))?;
                                token.push(byte);
                                i += 2;
                            }
                            other => {
                                return Err(format!("unknown escape \\{} in string", other as char))
                            }
                        }
                    }
                    other => token.push(other),
                }
            }
            if let Some(&next) = bytes.get(i) {
                if !matches!(next, b' ' | b'\t' | b'\r') {
                    return Err("closing quote must be followed by a space".into());
                }
            }
        } else {
            while let Some(&c) = bytes.get(i) {
                if matches!(c, b' ' | b'\t' | b'\r') {
                    break;
                }
                if c == b'"' {
                    return Err("unexpected '\"' inside an unquoted word".into());
                }
                token.push(c);
                i += 1;
            }
        }
        tokens.push(token);
    }
    Ok(tokens)
}
