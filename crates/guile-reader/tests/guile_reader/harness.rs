// What the differential tests against Guile share (tests/guile_reader.rs,
// and crates/guile-reader/src/lib.rs's unit tests, which `include!` this file; hence plain
// comments, not inner doc comments): running Guile on many files, and
// generating them.
//
// Deterministic pseudo-random `.guix-authorizations` files covering the
// syntax Guile's reader knows: comments of every kind, reader directives,
// string escapes, characters, numbers, booleans, keywords, vectors,
// quotes, `#nil`, extended symbols, gexp prefixes, dotted lists, brackets,
// Latin-1 bytes. Most files are valid; in "risky" ones some constructs are
// ones that make Guile fail.

use std::path::Path;
use std::process::Command;

/// Files per Guile process.
const BATCH: usize = 400;

/// Guile must run: these tests are the comparison with it, and `.ci/run`
/// installs it. Without it they fail, naming the package.
pub fn guile_available() -> bool {
    let found = Command::new("guile")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "guile is not installed: the differential tests against Guile need it \
         (Debian: apt-get install guile-3.0)"
    );
    found
}

/// Runs `tests/guile_reader/<script>` with `options` on `files` (written to
/// a temporary directory), a batch per Guile process; the line it prints
/// for each.
pub fn run_guile(script: &str, options: &[&str], files: &[Vec<u8>]) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/guile_reader")
        .join(script);
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    for (batch_index, batch) in files.chunks(BATCH).enumerate() {
        let paths: Vec<_> = batch
            .iter()
            .enumerate()
            .map(|(i, contents)| {
                let path = dir.path().join(format!("{batch_index}-{i}"));
                std::fs::write(&path, contents).unwrap();
                path
            })
            .collect();
        let output = Command::new("guile")
            .arg("--no-auto-compile")
            .arg(&script)
            .args(options)
            .args(&paths)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "guile failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8(output.stdout).unwrap();
        let printed: Vec<&str> = stdout.lines().collect();
        assert_eq!(printed.len(), batch.len(), "one line per file: {stdout}");
        lines.extend(printed.into_iter().map(str::to_owned));
    }
    lines
}

#[path = "../../../../tests/support/random.rs"]
mod random;

/// The generated files' random source.
pub use random::SplitMix as Rng;

/// Versions that `(version 0)` may or may not match.
const VERSIONS: &[&str] = &[
    "0",
    "00",
    "-0",
    "+0",
    "#x0",
    "#e0",
    "#e0.0",
    "#e-0.0",
    "0/5",
    "#b0",
    "#d0",
    "#o0",
    "#X0",
    "#E0",
    "#e#x0",
    "#x#e0",
    "0+0i",
    "0-0i",
    "+0i",
    "0@1.5",
    "0@0",
    "#e0e300",
    "#e0.0e-300",
    "-0/3",
    "0.0",
    "#i0",
    "0#",
    "1",
    "0e0",
    "0/0",
    "+0.0i",
    "#e1e-400",
    "1e-400",
    "#e.0",
    "#x-0",
    "0.",
    ".0",
    "#e0@1",
    "0+i",
    "version",
    "\"0\"",
    "#\\0",
    "()",
    "#f",
    "0 1",
];

/// Number-like tokens that Guile reads (as numbers or symbols).
const NUMBERS: &[&str] = &[
    "0", "-0", "+5", "1/2", "0.5", ".5", "1e3", "#x1F", "#b101", "#e1.5", "#i3", "1+2i", "+i",
    "-inf.0", "+nan.0", "1@2", "#d10", "12#", "1.#", "+ian.0", "1e308", "1e-324", "-1/2e3",
    "1/2/3", "+", "-", "...", "1+", "-a", "+.5", "#xAbC", "1.5e+3", "1s2", "1L2", "1d2", "1f2",
];

/// Characters for the alphabet of random number-like tokens.
const NUMBER_ALPHABET: &[char] = &[
    '0', '1', '9', '+', '-', '.', '#', '/', '@', 'e', 'i', 'x', 'b', 'd', 'E', 'n', 'a', 'f', '0',
    '0', '1', 's', 'l', 'o', 'I', 'X', 'B', 'D', 'L', 'S', 'F', 'N', 'A', '7', '8',
];

const SYMBOLS: &[&str] = &[
    "a",
    "name",
    "foo-bar",
    "x:y",
    "foo:",
    ":foo",
    "|a",
    "b|",
    "{c}",
    "a'b",
    "a#b",
    "->x",
    "x,y",
    "\u{e9}t\u{e9}",
    "a`b",
    "A",
    "Name",
    "#{a b}#",
    "#{}#",
    "#{a}b}#",
    "#{\\x41;}#",
    "#nil",
    "authorizations",
    "version",
];

const CHARACTERS: &[&str] = &[
    "#\\a",
    "#\\space",
    "#\\SPACE",
    "#\\x41",
    "#\\101",
    "#\\(",
    "#\\)",
    "#\\;",
    "#\\\"",
    "#\\nul",
    "#\\x",
    "#\\xff",
    "#\\377",
    "#\\0",
    "#\\alarm",
    "#\\Esc",
    "#\\\u{e9}",
    "#\\x10FFFF",
    "#\\x+41",
    "#\\x#e41",
    "#\\400",
    "#\\8",
    "#\\ ",
    "#\\[",
    "#\\del",
    "#\\x82/2",
    "#\\1@0",
];

const RISKY: &[&str] = &[
    "#q",
    "\"\\q\"",
    "1e400",
    "#\\foo",
    "#\\xd800",
    "#\\x110000",
    "#\\89",
    ")",
    "]",
    "#e+inf.0",
    "#x",
    "#u8(1)",
    "#vu8(1 2)",
    "#2((1))",
    "#f32(1)",
    "#:1",
    "#:\"k\"",
    "(a . b c)",
    "(. )",
    "#(a . b)",
    "\"\\ud800\"",
    "\"\\U110000\"",
    "\"\\x4\"",
    "#!curly-infix {a + b}",
    "#nul",
    "#\\",
    "#",
    "(a ]",
    "[a )",
    "#|",
    "#!",
    "\"",
    "#t1",
    "#\\x-1",
    "1e-325",
    "#;",
];

/// String escapes Guile knows, in its default mode.
const ESCAPES: &[&str] = &[
    "\\\\",
    "\\\"",
    "\\a",
    "\\b",
    "\\f",
    "\\n",
    "\\r",
    "\\t",
    "\\v",
    "\\0",
    "\\|",
    "\\(",
    "\\x41",
    "\\u00e9",
    "\\U01F600",
    "\\\n   ",
    "\\\n\t x",
    "\\x00",
    "\\xad",
    "\\u200b",
    "\\x7f",
];

/// Non-graphic characters Guix drops from fingerprints, as they may be
/// written in a string (raw Latin-1 bytes, or escapes).
const SEPARATORS: &[&[u8]] = &[
    b" ",
    b"  ",
    b"\t",
    b"\n",
    b"\\t",
    b"\\n",
    b"\\x20",
    b"\\x00",
    b"\xa0",
    b"\xad",
    b"\\u00ad",
    b"\\u200b",
    b"\\U00FEFF",
    b"\\\n ",
    b"\x85",
    b"\x0b",
    b"\\v",
    b"\r",
];

/// `text` in ISO-8859-1, as Guix will decode it.
fn latin1(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).expect("a Latin-1 character"))
        .collect()
}

/// Beyond Latin-1, for files read as UTF-8: symbols (one of them a
/// number-like token with an Arabic-Indic digit), and characters Guix drops
/// from fingerprints.
const UNICODE_SYMBOLS: &[&str] = &[
    "\u{3bb}",
    "\u{3a3}\u{391}\u{3a3}",
    "\u{130}x",
    "\u{fb00}",
    "\u{663}",
    "+\u{663}",
    "a\u{2028}b",
];
const UNICODE_SEPARATORS: &[&str] = &["\u{3000}", "\u{2028}", "\u{feff}", "\u{200b}", "\u{2060}"];

pub struct Generator {
    rng: Rng,
    out: Vec<u8>,
    risky: bool,
    r6rs: bool,
    /// Files are written as UTF-8 rather than ISO-8859-1.
    utf8: bool,
}

impl Generator {
    /// Files to be read as ISO-8859-1, as Guix reads a blob.
    pub fn new(seed: u64) -> Generator {
        Generator {
            rng: Rng::new(seed),
            out: Vec::new(),
            risky: false,
            r6rs: false,
            utf8: false,
        }
    }

    /// Files to be read as UTF-8, as Guix reads a file on disk.
    pub fn new_utf8(seed: u64) -> Generator {
        Generator {
            utf8: true,
            ..Generator::new(seed)
        }
    }

    /// One `.guix-authorizations` file.
    pub fn authorizations(&mut self) -> Vec<u8> {
        self.out.clear();
        self.risky = self.rng.chance(25);
        self.r6rs = false;
        self.atmosphere();
        let close = self.open();
        self.head();
        self.atmosphere();
        self.version();
        self.atmosphere();
        self.entries();
        for _ in 0..self.rng.below(3) {
            self.atmosphere();
            self.datum(2);
        }
        self.tail_of_list(close);
        // What follows the datum is never read.
        if self.rng.chance(30) {
            let garbage = *self.rng.pick(&[") (", "\"", "#|", "garbage", "(a"]);
            self.emit(garbage);
        }
        std::mem::take(&mut self.out)
    }

    /// A file of one datum of any kind, in its atmosphere.
    pub fn datum_file(&mut self) -> Vec<u8> {
        self.out.clear();
        self.risky = self.rng.chance(25);
        self.r6rs = false;
        self.atmosphere();
        self.datum(3);
        std::mem::take(&mut self.out)
    }

    /// Emits `text`, ISO-8859-1 bytes, in the file's encoding.
    fn emit(&mut self, text: impl AsRef<[u8]>) {
        if self.utf8 {
            let text: String = text.as_ref().iter().map(|&b| char::from(b)).collect();
            self.out.extend_from_slice(text.as_bytes());
        } else {
            self.out.extend_from_slice(text.as_ref());
        }
    }

    /// In a UTF-8 file, sometimes (`percent` times in a hundred) emits one
    /// of `texts` and returns true.
    fn maybe_unicode(&mut self, percent: usize, texts: &[&str]) -> bool {
        if !self.utf8 || !self.rng.chance(percent) {
            return false;
        }
        let text = *self.rng.pick(texts);
        self.out.extend_from_slice(text.as_bytes());
        true
    }

    /// Opens a list; returns the bracket that closes it.
    fn open(&mut self) -> &'static str {
        if self.rng.chance(20) {
            self.emit("[");
            "]"
        } else {
            self.emit("(");
            ")"
        }
    }

    /// Ends a list, perhaps with a dotted `#nil` (the empty list to
    /// `null?`), or (risky) with another tail.
    fn tail_of_list(&mut self, close: &str) {
        if self.rng.chance(10) {
            self.emit(" . #nil");
        } else if self.risky && self.rng.chance(5) {
            self.emit(" . x");
        }
        self.atmosphere();
        if self.risky && self.rng.chance(3) {
            self.emit(if close == ")" { "]" } else { ")" });
        } else {
            self.emit(close);
        }
    }

    fn head(&mut self) {
        let head = match self.rng.below(20) {
            0 => "AUTHORIZATIONS",
            1 => "#{authorizations}#",
            2 if self.risky => "authorisations",
            3 => "Authorizations",
            _ => "authorizations",
        };
        self.emit(head);
    }

    fn version(&mut self) {
        let close = self.open();
        let name = if self.rng.chance(5) {
            "VERSION"
        } else {
            "version"
        };
        self.emit(name);
        self.space();
        let version = if self.rng.chance(60) {
            "0".to_string()
        } else if self.rng.chance(70) {
            self.rng.pick(VERSIONS).to_string()
        } else {
            self.number_like()
        };
        self.emit(version);
        self.tail_of_list(close);
    }

    fn entries(&mut self) {
        if self.rng.chance(5) {
            let empty = if self.rng.chance(50) { "#nil" } else { "()" };
            self.emit(empty);
            return;
        }
        let close = self.open();
        for _ in 0..self.rng.below(4) {
            self.atmosphere();
            let close = self.open();
            self.atmosphere();
            self.fingerprint();
            for _ in 0..self.rng.below(3) {
                self.space();
                self.datum(2);
            }
            self.tail_of_list(close);
        }
        self.tail_of_list(close);
    }

    /// A fingerprint string: hex digits, spelled with escapes, separated
    /// by what Guix drops.
    fn fingerprint(&mut self) {
        let digits = match self.rng.below(20) {
            0 => 64,
            1 => 8,
            2 if self.risky => 39,
            _ => 40,
        };
        self.emit("\"");
        for i in 0..digits {
            if i > 0 && !self.maybe_unicode(3, UNICODE_SEPARATORS) && self.rng.chance(12) {
                let separator = *self.rng.pick(SEPARATORS);
                self.emit(separator);
                if self.r6rs && separator.starts_with(b"\\x") {
                    self.emit(";");
                }
            }
            let digit = b"0123456789abcdefABCDEF"[self.rng.below(22)];
            self.hex_digit(digit);
        }
        if self.risky && self.rng.chance(20) {
            let junk = *self
                .rng
                .pick(&[&b"g"[..], b"\xe9", b"\\x41;", b"\\u0378", b"-"]);
            self.emit(junk);
        }
        self.emit("\"");
    }

    fn hex_digit(&mut self, digit: u8) {
        match self.rng.below(30) {
            0 if self.r6rs => self.emit(format!("\\x{digit:x};")),
            0 => self.emit(format!("\\x{digit:02x}")),
            1 => self.emit(format!("\\u{digit:04X}")),
            2 => self.emit(format!("\\U{digit:06x}")),
            _ => self.emit([digit]),
        }
    }

    fn space(&mut self) {
        let space = *self.rng.pick(&[" ", "\n", "\t", "\r\n", "\x0c", "  "]);
        self.emit(space);
    }

    /// White space, comments and reader directives.
    fn atmosphere(&mut self) {
        for _ in 0..self.rng.below(3) {
            // A comment right after an atom would be part of it.
            self.space();
            match self.rng.below(14) {
                0 => self.emit(b"; a comment \xe9 (\n"),
                1 => self.emit("#| block #| nested |# \"still\" |#"),
                2 => {
                    self.emit("#;");
                    self.space();
                    self.datum(1);
                }
                3 => self.emit("#! scsh-style\n!#"),
                4 => self.emit("#!!!#"),
                5 => self.emit("#!fold-case "),
                6 => self.emit("#!no-fold-case\n"),
                7 if self.rng.chance(30) => {
                    self.emit("#!r6rs ");
                    self.r6rs = true;
                }
                8 => self.emit("#|#||#|#"),
                9 => self.emit("#;#;a b"),
                _ => self.space(),
            }
        }
        self.space();
    }

    fn number_like(&mut self) -> String {
        (0..1 + self.rng.below(8))
            .map(|_| *self.rng.pick(NUMBER_ALPHABET))
            .collect()
    }

    fn string(&mut self) {
        self.emit("\"");
        for _ in 0..self.rng.below(6) {
            match self.rng.below(6) {
                0 => {
                    let escape = *self.rng.pick(ESCAPES);
                    if self.r6rs && escape.starts_with("\\x") {
                        self.emit(format!("{escape};"));
                    } else {
                        self.emit(escape);
                    }
                }
                1 => self.emit(b"\xe9\xa0\xff"),
                2 => self.emit("#| ; ( ) [ #;"),
                _ => self.emit("text"),
            }
        }
        self.emit("\"");
    }

    /// Any datum, nested at most `depth` more levels.
    fn datum(&mut self, depth: usize) {
        let choice = self.rng.below(if depth == 0 { 8 } else { 14 });
        match choice {
            0 if self.maybe_unicode(30, UNICODE_SYMBOLS) => {}
            0 => {
                let symbol = *self.rng.pick(SYMBOLS);
                self.emit(latin1(symbol))
            }
            1 => {
                let number = *self.rng.pick(NUMBERS);
                self.emit(number)
            }
            2 => self.string(),
            3 => {
                let character = *self.rng.pick(CHARACTERS);
                self.emit(latin1(character))
            }
            4 => {
                let atom = *self.rng.pick(&[
                    "#t", "#true", "#f", "#false", "#T", "#F", "#fAlSe", "#*101", "#*", "#nil",
                ]);
                self.emit(atom)
            }
            5 => {
                let keyword = *self.rng.pick(&["#:key", "#: key", "#:#|c|#key", "#:a:b"]);
                self.emit(keyword)
            }
            6 if self.risky && self.rng.chance(40) => {
                let risky = *self.rng.pick(RISKY);
                self.emit(risky)
            }
            6 if self.risky => {
                let number = self.number_like();
                self.emit(number)
            }
            7 if self.risky => {
                let number = self.number_like();
                self.emit(format!("#\\x{number}"))
            }
            8 | 9 => {
                let close = if self.rng.chance(25) {
                    self.emit("#(");
                    ")"
                } else {
                    self.open()
                };
                for _ in 0..self.rng.below(4) {
                    self.space();
                    self.datum(depth - 1);
                }
                if close != ")" || self.rng.chance(50) {
                    self.atmosphere();
                }
                self.emit(close);
            }
            10 => {
                let close = self.open();
                self.datum(depth - 1);
                self.emit(" . ");
                self.datum(depth - 1);
                self.emit(close);
            }
            11 | 12 => {
                let prefix = *self.rng.pick(&[
                    "'", "`", ",", ",@", "#'", "#`", "#,", "#,@", "#~", "#$", "#$@", "#+", "#+@",
                    "' ", "#~ ",
                ]);
                self.emit(prefix);
                self.datum(depth - 1);
            }
            13 => {
                self.emit("( . ");
                self.datum(depth - 1);
                self.emit(")");
            }
            _ => self.emit("x"),
        }
    }
}
