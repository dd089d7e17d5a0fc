//! `.guix-authorizations` files written in random (valid) styles, the same
//! for the same seed: for the parser's property tests and the fuzz seeds.

use super::random::SplitMix;

/// White space between tokens, maybe with line comments.
fn gap(dice: &mut SplitMix, required: bool) -> String {
    let mut out = String::new();
    let pieces = dice.below(3);
    for _ in 0..pieces {
        match dice.below(5) {
            0 => out.push_str("\n;; a comment (with \"quotes\" and parens ((\n"),
            1 => out.push('\t'),
            2 => out.push_str("\n  "),
            3 => out.push_str(" ;comment\n"),
            _ => out.push_str("  "),
        }
    }
    if out.is_empty() && (required || dice.chance(50)) {
        out.push(' ');
    }
    out
}

/// A fingerprint written with random grouping, white space and case.
fn write_fingerprint(hex: &str, dice: &mut SplitMix) -> String {
    let style = dice.below(4);
    let mut out = String::new();
    for (i, c) in hex.chars().enumerate() {
        if i > 0 {
            match style {
                // GnuPG's spaced form.
                0 if i % 4 == 0 => out.push_str(if i == 20 { "  " } else { " " }),
                // Random white space anywhere.
                1 if dice.chance(15) => out.push_str(dice.choose(&[" ", "  ", "\t", "\n", " \n "])),
                // Pairs.
                2 if i % 2 == 0 => out.push(' '),
                _ => {}
            }
        }
        let upper = match dice.below(3) {
            0 => c.to_ascii_uppercase(),
            1 => c.to_ascii_lowercase(),
            _ if style == 3 => c.to_ascii_lowercase(),
            _ => c.to_ascii_uppercase(),
        };
        out.push(upper);
    }
    out
}

/// What may follow the fingerprint in an entry (ignored by the reader).
fn entry_tail(dice: &mut SplitMix, name: &str) -> String {
    match dice.below(6) {
        0 => String::new(),
        1 => format!(" (name \"{name}\")"),
        2 => format!(" (name \"{name}\") (email \"{name}@example.org\")"),
        3 => format!("\n   ;; {name}'s key\n   (name \"{name}\")"),
        4 => " (name \"x\" extra 1 2.5 #t) #(vector) \"another string\" sym".to_owned(),
        _ => format!(" (name \"{name} \\\"quoted\\\" (paren\")"),
    }
}

/// A well-formed `.guix-authorizations` listing these fingerprints (compact
/// hex) in a random style decided by `seed`.
pub fn render_authorizations(fingerprints: &[String], seed: u64) -> String {
    // The seed is mixed as the property tests always have: the seeds of
    // `fuzz/corpus/authorizations/random-style-*.scm` stay the same.
    let mut dice = SplitMix::new(seed ^ 0x9E37_79B9_7F4A_7C15);
    let mut out = String::new();
    if dice.chance(60) {
        out.push_str(";; Authorized keys.\n;; (authorizations (version 1)) is only a comment.\n");
    }
    out.push_str(&gap(&mut dice, false));
    out.push_str("(authorizations");
    out.push_str(&gap(&mut dice, true));
    out.push_str(&format!(
        "(version{}0{})",
        gap(&mut dice, true),
        gap(&mut dice, false)
    ));
    out.push_str(&gap(&mut dice, true));
    out.push('(');
    for (i, fpr) in fingerprints.iter().enumerate() {
        if i > 0 || dice.chance(30) {
            out.push_str(&gap(&mut dice, false));
        }
        out.push('(');
        if dice.chance(20) {
            out.push_str(";; a comment may sit inside an entry\n   ");
        }
        out.push('"');
        out.push_str(&write_fingerprint(fpr, &mut dice));
        out.push('"');
        out.push_str(&entry_tail(&mut dice, &format!("key{i}")));
        out.push(')');
    }
    out.push(')');
    if dice.chance(25) {
        // Elements after the list of entries are ignored.
        out.push_str(" (future-field \"ignored\") ignored-symbol 42");
    }
    out.push_str(&gap(&mut dice, false));
    out.push(')');
    match dice.below(4) {
        // Only the first datum is read.
        0 => out.push_str("\n(authorizations (version 7) garbage) )))"),
        1 => out.push_str("\n;; the end\n"),
        _ => out.push('\n'),
    }
    out
}
