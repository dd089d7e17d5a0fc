//! Guile 3.0's `read` (`module/ice-9/read.scm`, 3.0.8), without recursion.
//!
//! The functions here follow `read.scm`'s and keep its names where they
//! map one to one (`next-non-whitespace`, `read-sharp`, `read-string`…), so
//! that the two can be compared. Where `read.scm` recurses (a list reads
//! its elements, a quote its datum, `#;` the datum it comments out), this
//! reader pushes a [`Frame`] instead: nesting costs heap, bounded by
//! [`MAX_DEPTH`], never stack.
//!
//! Guix reads its files in a process that has loaded `(guix gexp)`, which
//! extends the reader with `#~`, `#$` and `#+` (`guix/gexp.scm`, at its
//! end): they are read here too. Their datum is read by a nested call to
//! `read`, which matters for reader directives: each `read` keeps its own
//! options, starting from the port's (which every directive updates), so
//! a directive inside `#~( … )` applies there and to later nested reads,
//! but not to the rest of the outer one.

use lexpr::Value;

use super::number::{self, Number, NumberError};
use super::{
    dispose, Position, SyntaxError, SyntaxProblem, UnsupportedSyntax, MAX_DEPTH, MAX_ITEMS,
};

/// Reads the first datum of `text`, as `(read port)` does.
pub(crate) fn read(text: &[char]) -> Result<Value, SyntaxError> {
    Reader::new(text).run()
}

/// Reads every datum of `text`, as `load` does (one `read` after the
/// other on the same port, so reader directives carry over). Each datum
/// is handed to `keep` as soon as it is read; the item limit counts the
/// whole text.
pub(crate) fn read_all(text: &[char], mut keep: impl FnMut(Value)) -> Result<(), SyntaxError> {
    let mut reader = Reader::new(text);
    loop {
        match reader.run() {
            Ok(value) => keep(value),
            Err(SyntaxError::Empty) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// The reader options that can change while a file is read (by `#!r6rs`,
/// `#!fold-case`, `#!no-fold-case`), from Guile's defaults.
#[derive(Debug, Clone, Copy)]
struct Options {
    case_insensitive: bool,
    r6rs_escapes: bool,
    hungry_eol_escapes: bool,
}

impl Default for Options {
    /// `(read-options)` in Guile 3.0 and in Guix: `square-brackets`,
    /// `keywords #f`; no fold-case, R6RS escapes or hungry escapes.
    fn default() -> Self {
        Options {
            case_insensitive: false,
            r6rs_escapes: false,
            hungry_eol_escapes: false,
        }
    }
}

/// What the reader is in the middle of: each waits for one more datum.
enum Frame {
    /// `( … )`, `[ … ]` or `#( … )` (`read-parenthesized`).
    List {
        close: char,
        vector: bool,
        items: Vec<Value>,
        tail: Tail,
    },
    /// `'x`, `` `x ``, `,x`, `,@x`, `#'x`…, `#~x`…: `(head x)`.
    Wrap {
        head: &'static str,
        /// For the gexp forms, read by a nested `read`: the options of the
        /// outer one, back in force once `x` is read.
        outer: Option<Options>,
    },
    /// `#:x`: `x` must be a symbol.
    Keyword,
    /// `#;` comments out this many more data.
    Comment(usize),
}

/// After ` . ` in a list.
enum Tail {
    None,
    Pending,
    Done(Value),
}

/// What a datum's first character started.
enum Start {
    /// A complete datum; `dot` when it is the symbol `.` read from a
    /// token starting with `.`, which marks a dotted tail in a list.
    Datum { value: Value, dot: bool },
    /// A frame waiting for more.
    Frame(Frame),
}

fn datum(value: Value) -> Result<Start, SyntaxError> {
    Ok(Start::Datum { value, dot: false })
}

struct Reader<'t> {
    text: &'t [char],
    pos: usize,
    /// The options of the `read` in progress (`opts` in `%read`).
    options: Options,
    /// The port's options, which a nested `read` starts from.
    port_options: Options,
    frames: Vec<Frame>,
    items: usize,
}

impl Drop for Reader<'_> {
    /// Partial lists left by an error are freed without recursion too.
    fn drop(&mut self) {
        for frame in self.frames.drain(..) {
            if let Frame::List { items, tail, .. } = frame {
                items.into_iter().for_each(dispose);
                if let Tail::Done(value) = tail {
                    dispose(value);
                }
            }
        }
    }
}

/// `delimiter?`, with square brackets on (they always are: only
/// `#!curly-infix-and-bracket-lists` turns them off, and it is refused).
fn is_delimiter(c: char) -> bool {
    matches!(
        c,
        '(' | ')' | ';' | '"' | ' ' | '\r' | '\x0c' | '\n' | '\t' | '[' | ']'
    )
}

fn is_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\r' | '\x0c' | '\n' | '\t')
}

/// `char-alphabetic?` or `char-numeric?` or `-`, as `read-directive` tests
/// them (exact for Latin-1).
fn is_directive_char(c: char) -> bool {
    c == '-' || c.is_alphabetic() || c.is_ascii_digit() || (u32::from(c) > 0xFF && c.is_numeric())
}

/// Space separators (Unicode `Zs`), skipped with tabs after a hungry
/// `\<newline>`.
fn is_space_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

impl<'t> Reader<'t> {
    fn new(text: &'t [char]) -> Self {
        Reader {
            text,
            pos: 0,
            options: Options::default(),
            port_options: Options::default(),
            frames: Vec::new(),
            items: 0,
        }
    }

    fn run(&mut self) -> Result<Value, SyntaxError> {
        // Each `read` starts from the port's options.
        self.options = self.port_options;
        loop {
            let Some(c) = self.next_non_whitespace()? else {
                return Err(self.end_of_input());
            };
            if let Some(Frame::List {
                close,
                tail: Tail::Done(_),
                ..
            }) = self.frames.last()
            {
                if c != *close {
                    return Err(self.invalid(SyntaxProblem::MissingClose(c)));
                }
            }
            let start = if matches!(c, ')' | ']') {
                self.close_list(c)?
            } else {
                self.read_expr(c)?
            };
            let (value, dot) = match start {
                Start::Datum { value, dot } => (value, dot),
                Start::Frame(frame) => {
                    self.push(frame)?;
                    continue;
                }
            };
            if let Some(value) = self.complete(value, dot)? {
                return Ok(value);
            }
        }
    }

    fn position(&self) -> Position {
        Position::of(self.text, self.pos)
    }

    fn invalid(&self, problem: SyntaxProblem) -> SyntaxError {
        SyntaxError::Invalid {
            problem,
            at: self.position(),
        }
    }

    fn unsupported(&self, syntax: UnsupportedSyntax) -> SyntaxError {
        SyntaxError::Unsupported {
            syntax,
            at: self.position(),
        }
    }

    fn number_error(&self, error: NumberError, token: &[char]) -> SyntaxError {
        match error {
            NumberError::ExponentOutOfRange => {
                self.invalid(SyntaxProblem::NumberOutOfRange(token.iter().collect()))
            }
            NumberError::NonLatin1Digit => self.unsupported(UnsupportedSyntax::NonLatin1Digit),
            NumberError::TooLarge => self.unsupported(UnsupportedSyntax::HugeNumber),
        }
    }

    /// The end of the text, where a datum was expected.
    fn end_of_input(&self) -> SyntaxError {
        match self.frames.last() {
            None => SyntaxError::Empty,
            Some(Frame::List { close, .. }) => {
                self.invalid(SyntaxProblem::UnterminatedList(*close))
            }
            Some(_) => self.invalid(SyntaxProblem::MissingDatum),
        }
    }

    fn count(&mut self) -> Result<(), SyntaxError> {
        self.items += 1;
        if self.items > MAX_ITEMS {
            return Err(SyntaxError::TooManyItems {
                at: self.position(),
            });
        }
        Ok(())
    }

    fn push(&mut self, frame: Frame) -> Result<(), SyntaxError> {
        if let (Frame::Comment(_), Some(Frame::Comment(n))) = (&frame, self.frames.last_mut()) {
            // `#; #; a b` skips two data: counted, not nested.
            *n += 1;
            return Ok(());
        }
        if self.frames.len() >= MAX_DEPTH {
            return Err(SyntaxError::TooDeep {
                at: self.position(),
            });
        }
        if matches!(frame, Frame::List { .. }) {
            self.count()?;
        }
        self.frames.push(frame);
        Ok(())
    }

    /// Hands a finished datum to the frame waiting for it, and on up as
    /// frames finish; the datum read when none is left.
    fn complete(&mut self, mut value: Value, mut dot: bool) -> Result<Option<Value>, SyntaxError> {
        loop {
            match self.frames.last_mut() {
                None => return Ok(Some(value)),
                Some(Frame::List { items, tail, .. }) => {
                    match tail {
                        Tail::Pending => *tail = Tail::Done(value),
                        Tail::None if dot => {
                            dispose(value);
                            *tail = Tail::Pending;
                        }
                        _ => items.push(value),
                    }
                    return Ok(None);
                }
                Some(Frame::Comment(n)) => {
                    dispose(value);
                    *n -= 1;
                    if *n == 0 {
                        self.frames.pop();
                    }
                    return Ok(None);
                }
                Some(Frame::Wrap { head, outer }) => {
                    if let Some(outer) = outer {
                        self.options = *outer;
                    }
                    value = wrap(head, value);
                }
                Some(Frame::Keyword) => {
                    value = match value {
                        Value::Symbol(name) => Value::Keyword(name),
                        other => {
                            dispose(other);
                            return Err(self.invalid(SyntaxProblem::KeywordNotSymbol));
                        }
                    };
                }
            }
            self.frames.pop();
            dot = false;
        }
    }

    /// A closing bracket where a datum may start.
    fn close_list(&mut self, c: char) -> Result<Start, SyntaxError> {
        let problem = match self.frames.last() {
            Some(Frame::List {
                close,
                tail: Tail::None | Tail::Done(_),
                ..
            }) if *close == c => None,
            Some(Frame::List {
                tail: Tail::None, ..
            }) => Some(SyntaxProblem::MismatchedClose(c)),
            _ => Some(SyntaxProblem::UnexpectedClose(c)),
        };
        if let Some(problem) = problem {
            return Err(self.invalid(problem));
        }
        let Some(Frame::List {
            vector,
            items,
            tail,
            ..
        }) = self.frames.pop()
        else {
            unreachable!("checked above");
        };
        let value = match tail {
            Tail::Done(tail) if items.is_empty() => tail,
            Tail::Done(tail) => Value::append(items, tail),
            _ => Value::list(items),
        };
        if !vector {
            return datum(value);
        }
        // `list->vector` of what `read-parenthesized` returned.
        match into_items(value) {
            Ok(items) => datum(Value::vector(items)),
            Err(value) => {
                dispose(value);
                Err(self.invalid(SyntaxProblem::ImproperVector))
            }
        }
    }

    fn next(&mut self) -> Option<char> {
        let c = self.text.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn peek(&self) -> Option<char> {
        self.text.get(self.pos).copied()
    }

    fn next_or(&mut self, problem: SyntaxProblem) -> Result<char, SyntaxError> {
        self.next().ok_or_else(|| self.invalid(problem))
    }

    /// `next-non-whitespace`: skips white space and comments, applies
    /// reader directives, and opens a [`Frame::Comment`] for `#;`.
    fn next_non_whitespace(&mut self) -> Result<Option<char>, SyntaxError> {
        loop {
            let Some(c) = self.next() else {
                return Ok(None);
            };
            match (c, self.peek()) {
                (';', _) => self.skip_eol_comment(),
                ('#', Some('!')) => {
                    self.pos += 1;
                    self.process_shebang()?;
                }
                ('#', Some(';')) => {
                    self.pos += 1;
                    self.push(Frame::Comment(1))?;
                }
                ('#', Some('|')) => {
                    self.pos += 1;
                    self.skip_r6rs_block_comment()?;
                }
                _ if is_whitespace(c) => {}
                _ => return Ok(Some(c)),
            }
        }
    }

    fn skip_eol_comment(&mut self) {
        while let Some(c) = self.next() {
            if c == '\n' {
                break;
            }
        }
    }

    /// `#| … |#`, nested.
    fn skip_r6rs_block_comment(&mut self) -> Result<(), SyntaxError> {
        let mut depth = 1usize;
        while depth > 0 {
            let c = self.next_or(SyntaxProblem::UnterminatedComment)?;
            match (c, self.peek()) {
                ('|', Some('#')) => {
                    self.pos += 1;
                    depth -= 1;
                }
                ('#', Some('|')) => {
                    self.pos += 1;
                    depth += 1;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// After `#!`: a reader directive, or a block comment up to `!#`.
    fn process_shebang(&mut self) -> Result<(), SyntaxError> {
        let from = self.pos;
        while self.peek().is_some_and(is_directive_char) {
            self.pos += 1;
        }
        let directive: String = self.text[from..self.pos].iter().collect();
        let set = |options: &mut Options| match directive.as_str() {
            "r6rs" => {
                *options = Options {
                    case_insensitive: false,
                    r6rs_escapes: true,
                    hungry_eol_escapes: true,
                };
                true
            }
            "fold-case" | "no-fold-case" => {
                options.case_insensitive = directive == "fold-case";
                true
            }
            _ => false,
        };
        // `set-reader-option!`: this read's options, and the port's.
        if set(&mut self.options) {
            set(&mut self.port_options);
            return Ok(());
        }
        if matches!(
            directive.as_str(),
            "curly-infix" | "curly-infix-and-bracket-lists"
        ) {
            return Err(self.unsupported(UnsupportedSyntax::CurlyInfix));
        }
        self.skip_scsh_comment()
    }

    fn skip_scsh_comment(&mut self) -> Result<(), SyntaxError> {
        let mut c = self.next_or(SyntaxProblem::UnterminatedComment)?;
        loop {
            if c == '!' {
                let after = self.next_or(SyntaxProblem::UnterminatedComment)?;
                if after == '#' {
                    return Ok(());
                }
                c = after;
            } else {
                c = self.next_or(SyntaxProblem::UnterminatedComment)?;
            }
        }
    }

    /// `read-token`: `first` and what follows up to a delimiter.
    fn read_token(&mut self, first: char) -> Vec<char> {
        let mut token = vec![first];
        while let Some(c) = self.peek().filter(|&c| !is_delimiter(c)) {
            token.push(c);
            self.pos += 1;
        }
        token
    }

    /// The symbol `token` names: under `#!fold-case`, `string-downcase`d.
    fn symbol_name(&self, token: &[char]) -> String {
        if self.options.case_insensitive {
            token.iter().copied().map(simple_lowercase).collect()
        } else {
            token.iter().collect()
        }
    }

    /// `read-expr*`: the datum starting with `c`, or the frame it opens.
    fn read_expr(&mut self, c: char) -> Result<Start, SyntaxError> {
        let start = match c {
            '(' | '[' => Start::Frame(Frame::List {
                close: if c == '(' { ')' } else { ']' },
                vector: false,
                items: Vec::new(),
                tail: Tail::None,
            }),
            '"' => {
                let text = self.read_string()?;
                Start::Datum {
                    value: Value::string(text),
                    dot: false,
                }
            }
            '\'' => Start::Frame(Frame::Wrap {
                head: "quote",
                outer: None,
            }),
            '`' => Start::Frame(Frame::Wrap {
                head: "quasiquote",
                outer: None,
            }),
            ',' => Start::Frame(Frame::Wrap {
                head: if self.eat('@') {
                    "unquote-splicing"
                } else {
                    "unquote"
                },
                outer: None,
            }),
            '#' => self.read_sharp()?,
            '0'..='9' | '+' | '-' | '.' => self.read_number(c)?,
            _ => {
                let token = self.read_token(c);
                Start::Datum {
                    value: Value::symbol(self.symbol_name(&token)),
                    dot: false,
                }
            }
        };
        if matches!(start, Start::Datum { .. }) {
            self.count()?;
        }
        Ok(start)
    }

    fn eat(&mut self, c: char) -> bool {
        let here = self.peek() == Some(c);
        if here {
            self.pos += 1;
        }
        here
    }

    /// `read-number`: a number, else a symbol.
    fn read_number(&mut self, c: char) -> Result<Start, SyntaxError> {
        let token = self.read_token(c);
        match number::parse(&token) {
            Ok(Some(n)) => datum(n.to_value()),
            Ok(None) => Ok(Start::Datum {
                dot: token == ['.'],
                value: Value::symbol(self.symbol_name(&token)),
            }),
            Err(e) => Err(self.number_error(e, &token)),
        }
    }

    /// A gexp form: `(head datum)`, the datum read by a nested `read`
    /// that starts from the port's options.
    fn nested_read(&mut self, head: &'static str) -> Start {
        let outer = std::mem::replace(&mut self.options, self.port_options);
        Start::Frame(Frame::Wrap {
            head,
            outer: Some(outer),
        })
    }

    /// `read-sharp`: after `#`.
    fn read_sharp(&mut self) -> Result<Start, SyntaxError> {
        let c = self.next_or(SyntaxProblem::MissingDatum)?;
        let wrap = |head| Ok(Start::Frame(Frame::Wrap { head, outer: None }));
        match c {
            // The reader extensions of (guix gexp).
            '~' => Ok(self.nested_read("gexp")),
            '$' => {
                let head = if self.eat('@') {
                    "ungexp-splicing"
                } else {
                    "ungexp"
                };
                Ok(self.nested_read(head))
            }
            '+' => {
                let head = if self.eat('@') {
                    "ungexp-native-splicing"
                } else {
                    "ungexp-native"
                };
                Ok(self.nested_read(head))
            }
            '\\' => datum(Value::Char(self.read_character()?)),
            '(' => Ok(Start::Frame(Frame::List {
                close: ')',
                vector: true,
                items: Vec::new(),
                tail: Tail::None,
            })),
            'f' if matches!(self.peek(), Some('3' | '6')) => {
                Err(self.unsupported(UnsupportedSyntax::Array))
            }
            's' | 'u' | 'c' | '0'..='9' | '@' => Err(self.unsupported(UnsupportedSyntax::Array)),
            'v' => Err(self.unsupported(UnsupportedSyntax::Bytevector)),
            '*' => datum(self.read_bitvector()),
            't' | 'T' => {
                self.maybe_read_boolean_tail("rue");
                datum(Value::Bool(true))
            }
            'f' | 'F' => {
                self.maybe_read_boolean_tail("alse");
                datum(Value::Bool(false))
            }
            ':' => Ok(Start::Frame(Frame::Keyword)),
            'i' | 'e' | 'b' | 'B' | 'o' | 'O' | 'd' | 'D' | 'x' | 'X' | 'I' | 'E' => {
                let mut token = vec!['#'];
                token.extend(self.read_token(c));
                match number::parse(&token) {
                    Ok(Some(n)) => datum(n.to_value()),
                    Ok(None) => {
                        Err(self.invalid(SyntaxProblem::UnknownHashObject(token.iter().collect())))
                    }
                    Err(e) => Err(self.number_error(e, &token)),
                }
            }
            '{' => datum(Value::symbol(self.read_extended_symbol()?)),
            '\'' => wrap("syntax"),
            '`' => wrap("quasisyntax"),
            ',' => wrap(if self.eat('@') {
                "unsyntax-splicing"
            } else {
                "unsyntax"
            }),
            'n' => {
                let token = self.read_token('n');
                if self.symbol_name(&token) != "nil" {
                    return Err(self.invalid(SyntaxProblem::UnknownHashObject(
                        std::iter::once('#').chain(token).collect(),
                    )));
                }
                datum(Value::Nil)
            }
            _ => Err(self.invalid(SyntaxProblem::UnknownHashObject(['#', c].iter().collect()))),
        }
    }

    /// `maybe-read-boolean-tail`: `#t` may go on as `#true`, `#f` as
    /// `#false` (in any case); a partial tail is left unread.
    fn maybe_read_boolean_tail(&mut self, tail: &str) {
        let rest = &self.text[self.pos..];
        let matches = tail.chars().count() <= rest.len()
            && tail
                .chars()
                .zip(rest)
                .all(|(t, c)| c.to_ascii_lowercase() == t);
        if matches {
            self.pos += tail.len();
        }
    }

    /// `#*0101`: no delimiter is required after it.
    fn read_bitvector(&mut self) -> Value {
        let mut bits = Vec::new();
        while let Some(c) = self.peek().filter(|c| matches!(c, '0' | '1')) {
            bits.push(Value::Bool(c == '1'));
            self.pos += 1;
        }
        Value::vector(bits)
    }

    /// `read-character`: after `#\`.
    fn read_character(&mut self) -> Result<char, SyntaxError> {
        let c = self.next_or(SyntaxProblem::MissingDatum)?;
        if is_delimiter(c) {
            return Ok(c);
        }
        let token = self.read_token(c);
        if token.len() == 1 || (token.len() == 2 && token[1] == '\u{25cc}') {
            return Ok(c);
        }
        let code = |digits: &[char], radix| -> Result<Option<Number>, SyntaxError> {
            number::parse_radix(digits, radix).map_err(|e| self.number_error(e, &token))
        };
        let number = if ('0'..='7').contains(&c) {
            code(&token, 8)?
        } else if c == 'x' {
            code(&token[1..], 16)?
        } else {
            None
        };
        if let Some(number) = number {
            return number
                .to_char()
                .map_err(|e| self.number_error(e, &token))?
                .ok_or_else(|| self.invalid(SyntaxProblem::InvalidCodePoint));
        }
        let name: String = token.iter().collect();
        named_char(&name)
            .ok_or_else(|| self.invalid(SyntaxProblem::UnknownCharacterName(name.clone())))
    }

    /// `read-string`: after `"`.
    fn read_string(&mut self) -> Result<String, SyntaxError> {
        let mut out = String::new();
        loop {
            let c = self.next_or(SyntaxProblem::UnterminatedString)?;
            match c {
                '"' => return Ok(out),
                '\\' => {
                    if let Some(c) = self.read_string_escape()? {
                        out.push(c);
                    }
                }
                _ => out.push(c),
            }
        }
    }

    /// After `\` in a string: the character it stands for, if any.
    fn read_string_escape(&mut self) -> Result<Option<char>, SyntaxError> {
        let c = self.next_or(SyntaxProblem::UnterminatedString)?;
        Ok(Some(match c {
            '\n' => {
                if self.options.hungry_eol_escapes {
                    while self
                        .peek()
                        .is_some_and(|c| c == '\t' || is_space_separator(c))
                    {
                        self.pos += 1;
                    }
                }
                return Ok(None);
            }
            '"' | '|' | '\\' | '(' => c,
            '0' => '\0',
            'f' => '\x0c',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'a' => '\x07',
            'v' => '\x0b',
            'b' => '\x08',
            'x' if self.options.r6rs_escapes => self.read_r6rs_hex_escape()?,
            'x' => self.read_fixed_hex_escape(2)?,
            'u' => self.read_fixed_hex_escape(4)?,
            'U' => self.read_fixed_hex_escape(6)?,
            _ => return Err(self.invalid(SyntaxProblem::InvalidEscape(c))),
        }))
    }

    fn hex_digit(&mut self) -> Result<u32, SyntaxError> {
        let c = self.next_or(SyntaxProblem::UnterminatedString)?;
        c.to_digit(16)
            .ok_or_else(|| self.invalid(SyntaxProblem::InvalidEscape(c)))
    }

    /// `\xH…;`: hex digits up to a `;`.
    fn read_r6rs_hex_escape(&mut self) -> Result<char, SyntaxError> {
        let mut code = self.hex_digit()?;
        loop {
            let c = self.next_or(SyntaxProblem::UnterminatedString)?;
            match c.to_digit(16) {
                Some(d) => code = code.saturating_mul(16).saturating_add(d),
                None if c == ';' => break,
                None => return Err(self.invalid(SyntaxProblem::InvalidEscape(c))),
            }
        }
        char::from_u32(code).ok_or_else(|| self.invalid(SyntaxProblem::InvalidCodePoint))
    }

    /// `\xHH`, `\uHHHH`, `\UHHHHHH`: exactly `len` hex digits.
    fn read_fixed_hex_escape(&mut self, len: usize) -> Result<char, SyntaxError> {
        let mut code = 0;
        for _ in 0..len {
            code = code * 16 + self.hex_digit()?;
        }
        char::from_u32(code).ok_or_else(|| self.invalid(SyntaxProblem::InvalidCodePoint))
    }

    /// `read-extended-symbol`: after `#{`, up to `}#`.
    fn read_extended_symbol(&mut self) -> Result<String, SyntaxError> {
        let mut name = String::new();
        let mut saw_brace = false;
        loop {
            let c = self.next_or(SyntaxProblem::UnterminatedSymbol)?;
            if saw_brace {
                if c == '#' {
                    return Ok(name);
                }
                name.push('}');
                saw_brace = false;
            }
            match c {
                '}' => saw_brace = true,
                '\\' => {
                    let escaped = self.next_or(SyntaxProblem::UnterminatedSymbol)?;
                    name.push(if escaped == 'x' {
                        self.read_r6rs_hex_escape()?
                    } else {
                        escaped
                    });
                }
                _ => name.push(c),
            }
        }
    }
}

/// Guile's `string-downcase` maps each character on its own (so `Σ` is
/// always `σ`, never a final `ς`), by the simple mapping: `İ` is `i`, the
/// only character whose full mapping has more than one.
fn simple_lowercase(c: char) -> char {
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => 'i',
    }
}

/// `(head value)`; for the `ungexp` forms of `(guix gexp)`, a symbol
/// `name:output` gives `(head name "output")`, as `read-ungexp` does.
fn wrap(head: &str, value: Value) -> Value {
    if head.starts_with("ungexp") {
        if let Some((name, output)) = value.as_symbol().and_then(|s| s.rsplit_once(':')) {
            return Value::list([
                Value::symbol(head),
                Value::symbol(name),
                Value::string(output),
            ]);
        }
    }
    Value::list([Value::symbol(head), value])
}

/// The elements of a proper list (ending in `()` or `#nil`), taken apart
/// without recursion; the value back if it is not one.
fn into_items(value: Value) -> Result<Vec<Value>, Value> {
    if super::list(&value).is_none() {
        return Err(value);
    }
    let mut items = Vec::new();
    let mut rest = value;
    while let Value::Cons(cons) = rest {
        let (car, cdr) = cons.into_pair();
        items.push(car);
        rest = cdr;
    }
    Ok(items)
}

/// The character names `read-character` knows, matched regardless of
/// case: R5RS, R6RS, R7RS, C0 control names, and a few alternatives.
fn named_char(name: &str) -> Option<char> {
    const NAMES: &[(&str, char)] = &[
        ("space", ' '),
        ("newline", '\n'),
        ("nul", '\0'),
        ("alarm", '\x07'),
        ("backspace", '\x08'),
        ("tab", '\t'),
        ("linefeed", '\n'),
        ("vtab", '\x0b'),
        ("page", '\x0c'),
        ("return", '\r'),
        ("esc", '\x1b'),
        ("delete", '\x7f'),
        ("escape", '\x1b'),
        ("soh", '\x01'),
        ("stx", '\x02'),
        ("etx", '\x03'),
        ("eot", '\x04'),
        ("enq", '\x05'),
        ("ack", '\x06'),
        ("bel", '\x07'),
        ("bs", '\x08'),
        ("ht", '\x09'),
        ("lf", '\x0a'),
        ("vt", '\x0b'),
        ("ff", '\x0c'),
        ("cr", '\x0d'),
        ("so", '\x0e'),
        ("si", '\x0f'),
        ("dle", '\x10'),
        ("dc1", '\x11'),
        ("dc2", '\x12'),
        ("dc3", '\x13'),
        ("dc4", '\x14'),
        ("nak", '\x15'),
        ("syn", '\x16'),
        ("etb", '\x17'),
        ("can", '\x18'),
        ("em", '\x19'),
        ("sub", '\x1a'),
        ("fs", '\x1c'),
        ("gs", '\x1d'),
        ("rs", '\x1e'),
        ("us", '\x1f'),
        ("sp", ' '),
        ("del", '\x7f'),
        ("null", '\0'),
        ("nl", '\n'),
        ("np", '\x0c'),
    ];
    NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, c)| c)
}
