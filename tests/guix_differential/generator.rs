// Random channels, as scenario text (test-repos/README.md), from a seed.

use std::collections::{BTreeMap, BTreeSet};

/// The generator's random source.
pub use crate::support::random::SplitMix as Dice;

/// The random source of channel `seed`.
pub fn dice(seed: u64) -> Dice {
    Dice::new(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x9E37_79B9_7F4A_7C15)
}

pub const KEYS: [&str; 6] = ["alice", "bob", "carol", "dave", "erin", "mallory"];

/// What the channel's expectation lines say.
pub struct Channel {
    pub seed: u64,
    pub text: String,
    pub introduction: String,
    pub signer: String,
    /// The introduction names the signer's primary key.
    pub signer_primary: bool,
    pub end: Option<String>,
    pub keyring: String,
    pub historical: Option<Vec<String>>,
    /// The historical authorizations file, when written in a random style
    /// (else the builder's `authorizations_file`).
    pub historical_text: Option<String>,
    /// Authenticate first up to this commit, then up to END with the cache
    /// that left (both sides).
    pub intermediate: Option<String>,
}

/// Escapes `text` as one scenario word.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A fingerprint as a Guile string's contents, in a random style.
fn fingerprint_text(dice: &mut Dice, fpr: &str) -> String {
    let mut out = String::new();
    let lower = dice.chance(30);
    let style = dice.below(5);
    for (i, c) in fpr.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            match style {
                0 => {}
                1 | 2 => out.push(' '),
                3 if i == 20 => out.push_str("  "),
                3 => out.push(' '),
                _ if dice.chance(10) => out.push_str(dice.choose(&["\\t", "\\n", "\\x20", " "])),
                _ => {}
            }
        }
        let c = if lower { c.to_ascii_lowercase() } else { c };
        if dice.chance(3) {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn gap(dice: &mut Dice) -> String {
    match dice.below(12) {
        0 => "\n;; a comment (with \"quotes\" and (parens\n".into(),
        1 => " #| block #| nested |# comment ) |# ".into(),
        2 => " #;(ignored \"datum\" (x)) ".into(),
        3 => "\n\t".into(),
        4 => " #;[ignored] ".into(),
        _ => " ".into(),
    }
}

/// A `.guix-authorizations` file listing `fprs`, in a random Guile style;
/// `broken` makes it one Guix cannot read.
fn authorizations_text(dice: &mut Dice, fprs: &[(String, String)], broken: bool) -> String {
    let square = dice.chance(20);
    let (open, close) = if square { ("[", "]") } else { ("(", ")") };
    let mut out = String::new();
    if dice.chance(15) {
        out.push_str("#!\n;; header of a channel\n!#\n");
    }
    if dice.chance(30) {
        out.push_str(";; Authorized keys.\n");
    }
    out.push_str(&format!("(authorizations{}", gap(dice)));
    let version = if broken && dice.chance(50) { "1" } else { "0" };
    out.push_str(&format!("{open}version {version}{close}{}(", gap(dice)));
    for (name, fpr) in fprs {
        out.push_str(&format!(
            "{}{open}\"{}\"",
            gap(dice),
            fingerprint_text(dice, fpr)
        ));
        if dice.chance(70) {
            out.push_str(&format!("{}(name \"{name}\")", gap(dice)));
        }
        if dice.chance(10) {
            out.push_str(" (extra #t #\\x) 42");
        }
        out.push_str(close);
    }
    out.push(')');
    if dice.chance(10) {
        out.push_str(" (extra \"field\")");
    }
    if !(broken && version == "0") {
        out.push(')');
    }
    out.push_str(&gap(dice));
    out.push('\n');
    out
}

fn fingerprint_of(name: &str, primary: bool) -> String {
    let k = super::support::key(name);
    if primary {
        k.primary_fpr
    } else {
        k.signing_fpr
    }
}

struct Branch {
    tip: Option<String>,
    /// Who the tip's `.guix-authorizations` lists (`None`: no readable file).
    authorized: Option<BTreeSet<&'static str>>,
}

struct Gen {
    dice: Dice,
    out: String,
    labels: Vec<String>,
    branches: BTreeMap<String, Branch>,
    current: String,
    counter: usize,
    gpg: bool,
    gpg_clock: bool,
    /// Labels of commits with a `gpgsig` header.
    signed: Vec<String>,
    historical: BTreeSet<&'static str>,
}

impl Gen {
    /// Sets the clock; gpg refuses to sign before its keys were made
    /// (2020), so it signs only while the clock is later.
    fn clock(&mut self, time: usize) {
        self.line(&format!("clock {time}"));
        self.gpg_clock = time >= 1_600_000_000;
    }

    fn line(&mut self, line: &str) {
        self.out.push_str(line.trim_end());
        self.out.push('\n');
    }

    fn label(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}{}", self.counter)
    }

    fn authorized_here(&self) -> BTreeSet<&'static str> {
        match &self.branches[&self.current].authorized {
            Some(set) => set.clone(),
            None => self.historical.clone(),
        }
    }

    /// A signer word with options, biased to someone authorized.
    fn signer(&mut self) -> String {
        let authorized: Vec<&str> = self.authorized_here().into_iter().collect();
        if self.dice.chance(4) {
            return String::new();
        }
        let name = if !authorized.is_empty() && self.dice.chance(85) {
            self.dice.choose(&authorized)
        } else {
            self.dice.choose(&KEYS)
        };
        let gpg = self.gpg && self.gpg_clock && self.dice.chance(10);
        let mut word = if gpg {
            format!("gpg:{name}")
        } else {
            name.to_owned()
        };
        match self.dice.below(60) {
            // gpg cannot make SHA-1 signatures with some of the keys.
            0 | 1 if !gpg => word.push_str(" sha1"),
            2 if !gpg => word.push_str(" md5"),
            3 => word.push_str(" sha256"),
            4 if !gpg => word.push_str(" also:bob"),
            5 if gpg => word.push_str(" text"),
            5 if !gpg => word.push_str(" issuer-fpr:bob"),
            6 if !gpg => word.push_str(" no-issuer-fpr"),
            7 if !gpg => word.push_str(" no-issuer-fpr issuer-id:dave"),
            8 if !gpg => word.push_str(" text"),
            9 => word.push_str(" header:gpgsig-sha256"),
            10 => word.push_str(" bad-crc"),
            11 if !gpg => word.push_str(" two-sigs sha256"),
            12 => return "raw \"-----BEGIN PGP SIGNATURE-----\\n\\nnot base64\\n-----END PGP SIGNATURE-----\"".into(),
            13 if !self.signed.is_empty() => return format!("copy:{}", self.dice.choose(&self.signed)),
            _ => {}
        }
        word
    }

    fn commit(&mut self, prefix: &str) -> String {
        let label = self.label(prefix);
        let file = format!("f{}.txt", self.dice.below(6));
        self.line(&format!("write {file} \"{label}\\n\""));
        let signer = self.signer();
        self.line(&format!("commit {label} {signer}"));
        self.note_signer(&label, &signer);
        self.set_tip(&label);
        label
    }

    fn note_signer(&mut self, label: &str, signer: &str) {
        if !signer.is_empty() && !signer.contains("header:") {
            self.signed.push(label.to_owned());
        }
    }

    fn set_tip(&mut self, label: &str) {
        self.labels.push(label.to_owned());
        self.branches.get_mut(&self.current).unwrap().tip = Some(label.to_owned());
    }

    fn edit_authorizations(&mut self) {
        let mut chosen: BTreeSet<&'static str> = BTreeSet::new();
        for k in KEYS {
            if self.dice.chance(if k == "alice" { 85 } else { 35 }) {
                chosen.insert(k);
            }
        }
        let kind = self.dice.below(100);
        let readable = match kind {
            0..=2 => {
                self.remove_authorizations();
                false
            }
            3..=4 => {
                self.remove_authorizations();
                self.line("mkdir-file .guix-authorizations");
                false
            }
            5 => {
                self.remove_authorizations();
                self.line("symlink .guix-authorizations \"elsewhere\"");
                false
            }
            90..=91 => {
                // A symbolic link whose target text is a valid file: Guix
                // reads the link's blob, the target text.
                let fprs = self.entries(&chosen);
                let text = authorizations_text(&mut self.dice, &fprs, false).replace('\n', " ");
                self.remove_authorizations();
                self.line(&format!("symlink .guix-authorizations {}", quoted(&text)));
                true
            }
            92..=93 => {
                let fprs = self.entries(&chosen);
                let text = authorizations_text(&mut self.dice, &fprs, false);
                self.line(&format!(
                    "write-exec .guix-authorizations {}",
                    quoted(&text)
                ));
                true
            }
            94 => {
                let target = self.dice.choose(&self.labels);
                self.remove_authorizations();
                self.line(&format!("gitlink .guix-authorizations {target}"));
                false
            }
            95 => {
                self.remove_authorizations();
                self.line("gitlink .guix-authorizations 0123456789abcdef0123456789abcdef01234567");
                false
            }
            6..=7 => {
                let fprs = self.entries(&chosen);
                let text = authorizations_text(&mut self.dice, &fprs, true);
                self.line(&format!("write .guix-authorizations {}", quoted(&text)));
                false
            }
            8..=45 => {
                let fprs = self.entries(&chosen);
                let text = authorizations_text(&mut self.dice, &fprs, false);
                self.line(&format!("write .guix-authorizations {}", quoted(&text)));
                true
            }
            46..=50 => {
                let names: Vec<&str> = chosen.iter().copied().collect();
                self.line(&format!("authorize-primary {}", names.join(" ")));
                // carol's primary key does not sign.
                chosen.remove("carol");
                true
            }
            _ => {
                let names: Vec<&str> = chosen.iter().copied().collect();
                self.line(&format!("authorize {}", names.join(" ")));
                true
            }
        };
        let label = self.label("auth");
        let signer = self.signer();
        self.line(&format!("commit {label} {signer}"));
        self.note_signer(&label, &signer);
        self.set_tip(&label);
        self.branches.get_mut(&self.current).unwrap().authorized = readable.then_some(chosen);
    }

    /// Removes `.guix-authorizations`, whatever it is now (the builder's
    /// `remove` wants something there).
    fn remove_authorizations(&mut self) {
        self.line("write .guix-authorizations \"\"");
        self.line("remove .guix-authorizations");
    }

    fn entries(&mut self, chosen: &BTreeSet<&'static str>) -> Vec<(String, String)> {
        chosen
            .iter()
            .map(|k| (k.to_string(), fingerprint_of(k, false)))
            .collect()
    }

    fn checkout(&mut self, name: &str) {
        if name != self.current {
            self.line(&format!("checkout {name}"));
            self.current = name.to_owned();
        }
    }

    fn other_branches(&self) -> Vec<String> {
        let tip = &self.branches[&self.current].tip;
        self.branches
            .iter()
            .filter(|(n, b)| **n != self.current && b.tip.is_some() && b.tip != *tip)
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn merge(&mut self, names: &[String]) {
        let label = self.label("m");
        let signer = self.signer();
        let command = if names.len() == 1 { "merge" } else { "octopus" };
        self.line(&format!("{command} {} {label} {signer}", names.join(",")));
        self.note_signer(&label, &signer);
        // The merged tree: later branches' files win.
        for n in names {
            if let Some(a) = self.branches[n].authorized.clone() {
                self.branches.get_mut(&self.current).unwrap().authorized = Some(a);
            }
        }
        self.set_tip(&label);
    }
}

/// Channel number `seed`.
pub fn channel(seed: u64, gpg: bool) -> Channel {
    let mut g = Gen {
        dice: dice(seed),
        out: format!("# guix_differential channel {seed}\n"),
        labels: Vec::new(),
        branches: BTreeMap::new(),
        current: "master".into(),
        counter: 0,
        gpg,
        gpg_clock: true,
        signed: Vec::new(),
        historical: BTreeSet::new(),
    };
    g.branches.insert(
        "master".into(),
        Branch {
            tip: None,
            authorized: None,
        },
    );
    // The keyring.
    let in_keyring: Vec<&str> = KEYS
        .iter()
        .copied()
        .filter(|k| *k == "alice" || !g.dice.chance(12))
        .collect();
    let mut keyring = "keyring".to_owned();
    let mut on_master = false;
    match g.dice.below(20) {
        0..=9 => g.line(&format!("keyring {}", in_keyring.join(" "))),
        10..=12 => {
            let format = g.dice.choose(&[
                "armored",
                "binary",
                "armored-concat",
                "armored",
                "armored-no-crc",
                "armored-bad-crc",
            ]);
            g.line(&format!(
                "keyring-file keyring \"all keys.key\" {format} {}",
                in_keyring.join(" ")
            ));
            if g.dice.chance(50) {
                g.line("keyring-raw keyring README \"not a key\\n\"");
            }
            if g.dice.chance(10) {
                g.line("keyring-raw keyring junk.key \"not a key\\n\"");
            }
            if g.dice.chance(20) {
                g.line("keyring-unbound keyring carol-unbound.key carol");
            }
            if g.dice.chance(10) {
                g.line("keyring-file keyring \"dup.key\" binary alice bob");
            }
        }
        13..=14 => {
            for k in &in_keyring {
                g.line(&format!("keyring {k}"));
            }
            g.line("remote-keyring origin keyring");
            keyring = "origin/keyring".into();
        }
        15..=16 => on_master = true,
        _ => {
            // Keys in subdirectories of a keyring branch made by hand.
            g.line("orphan keyring");
            for k in &in_keyring {
                let dir = g.dice.choose(&["", "people/", "a/b/", "gpg keys/"]);
                let format = g.dice.choose(&["armored", "binary"]);
                g.line(&format!("write-key \"{dir}{k}.key\" {format} {k}"));
            }
            g.line("write notes.txt \"keys\\n\"");
            g.line("commit keyring-commit");
            g.line("orphan master");
        }
    }
    if on_master {
        keyring = "master".into();
        for k in &in_keyring {
            let dir = g.dice.choose(&["keys/", "", "keys/sub/"]);
            g.line(&format!("write-key {dir}{k}.key armored {k}"));
        }
    }
    if g.dice.chance(20) {
        let t = 1_500_000_000 + g.dice.below(300_000_000);
        g.clock(t);
    }
    // History before the introduction.
    let mut merged_introduction = false;
    if g.dice.chance(25) {
        for _ in 0..1 + g.dice.below(2) {
            g.commit("pre");
            if g.dice.chance(30) {
                let t = g
                    .dice
                    .choose(&[1_400_000_000usize, 1_600_000_000, 1_900_000_000]);
                let t = t + g.dice.below(1_000_000);
                g.clock(t);
            }
        }
        if g.dice.chance(50) {
            // A branch of the old history, which later merges may bring in
            // (its commits are then checked) or END may name.
            g.line("branch old");
            let tip = g.branches["master"].tip.clone();
            g.branches.insert(
                "old".into(),
                Branch {
                    tip,
                    authorized: None,
                },
            );
        }
        if g.dice.chance(40) {
            // The introduction merges a side branch of the old history.
            g.line("branch side");
            g.line("checkout side");
            g.current = "side".into();
            g.branches.insert(
                "side".into(),
                Branch {
                    tip: None,
                    authorized: None,
                },
            );
            g.commit("pre");
            g.checkout("master");
            merged_introduction = true;
        }
    }
    // The introduction.
    let mut initial: BTreeSet<&'static str> = BTreeSet::from(["alice"]);
    for k in KEYS {
        if g.dice.chance(30) {
            initial.insert(k);
        }
    }
    let historical = g.dice.chance(15);
    if historical {
        for k in KEYS {
            if k == "alice" || g.dice.chance(30) {
                g.historical.insert(k);
            }
        }
    }
    let without_file = historical && g.dice.chance(50);
    if !without_file {
        let names: Vec<&str> = initial.iter().copied().collect();
        if g.dice.chance(30) {
            let fprs = g.entries(&initial);
            let text = authorizations_text(&mut g.dice, &fprs, false);
            g.line(&format!("write .guix-authorizations {}", quoted(&text)));
        } else {
            g.line(&format!("authorize {}", names.join(" ")));
        }
        g.branches.get_mut("master").unwrap().authorized = Some(initial);
    }
    let carol = g.dice.chance(8);
    let intro_signer = match g.dice.below(40) {
        _ if carol => "carol".to_owned(),
        0 => "bob".to_owned(),
        1 => "alice sha1".to_owned(),
        2 if gpg && g.gpg_clock => "gpg:alice".to_owned(),
        3 => String::new(),
        _ => "alice".to_owned(),
    };
    if merged_introduction {
        g.line(&format!("merge side first {intro_signer}"));
    } else {
        g.line(&format!("commit first {intro_signer}"));
    }
    g.note_signer("first", &intro_signer);
    g.set_tip("first");
    // carol signs with her subkey: naming her primary key is wrong.
    let (expected_signer, signer_primary) = match g.dice.below(100) {
        _ if carol => ("carol", g.dice.chance(50)),
        0..=3 => ("bob", false),
        _ => ("alice", false),
    };
    // The history.
    let steps = 2 + g.dice.below(12);
    let mut orphans = 0;
    for _ in 0..steps {
        match g.dice.below(100) {
            0..=39 => {
                g.commit("c");
            }
            40..=53 => g.edit_authorizations(),
            54..=65 => {
                let name = format!("b{}", g.branches.len());
                g.line(&format!("branch {name}"));
                let here = &g.branches[&g.current];
                let branch = Branch {
                    tip: here.tip.clone(),
                    authorized: here.authorized.clone(),
                };
                g.branches.insert(name.clone(), branch);
                if g.dice.chance(70) {
                    g.checkout(&name);
                }
            }
            66..=74 => {
                let names: Vec<String> = g.branches.keys().cloned().collect();
                let name = g.dice.choose(&names);
                if g.branches[&name].tip.is_some() {
                    g.checkout(&name);
                }
            }
            75..=87 => {
                let others = g.other_branches();
                if !others.is_empty() {
                    let name = g.dice.choose(&others);
                    g.merge(&[name]);
                }
            }
            88..=91 => {
                let others = g.other_branches();
                if others.len() >= 2 {
                    let mut names = others.clone();
                    names.truncate(2 + g.dice.below(others.len() - 1));
                    g.merge(&names);
                }
            }
            92..=93 => {
                let tip = g.branches[&g.current].tip.clone().unwrap();
                let label = g.label("t");
                g.line(&format!("tamper {tip} {label}"));
                g.set_tip(&label);
            }
            94..=96 => {
                let skew = g
                    .dice
                    .choose(&[1_400_000_000usize, 1_600_000_000, 1_900_000_000]);
                let t = skew + g.dice.below(1_000_000);
                g.clock(t);
            }
            _ if orphans == 0 => {
                orphans += 1;
                let back = g.current.clone();
                g.line("orphan unrelated");
                g.current = "unrelated".into();
                g.branches.insert(
                    "unrelated".into(),
                    Branch {
                        tip: None,
                        authorized: None,
                    },
                );
                g.line("authorize alice");
                let label = g.label("u");
                g.line(&format!("commit {label} alice"));
                g.set_tip(&label);
                g.checkout(&back);
            }
            _ => {}
        }
    }
    // END.
    let end = match g.dice.below(10) {
        0..=6 => None,
        _ => Some(g.dice.choose(&g.labels)),
    };
    g.line("");
    if signer_primary {
        g.line(&format!(
            "# the introduction names {expected_signer}'s PRIMARY key"
        ));
    }
    g.line(&format!("introduction first {expected_signer}"));
    if let Some(end) = &end {
        g.line(&format!("end {end}"));
    }
    let intermediate = g.dice.chance(20).then(|| g.dice.choose(&g.labels));
    if let Some(label) = &intermediate {
        g.line(&format!(
            "# first authenticated up to {label}, with a cache"
        ));
    }
    if g.dice.chance(2) {
        keyring = "no-such-branch".into();
    }
    if keyring != "keyring" {
        g.line(&format!("keyring-ref {keyring}"));
    }
    let historical = historical.then(|| g.historical.iter().map(|k| k.to_string()).collect());
    let mut historical_text = None;
    if let Some(h) = &historical {
        let h: &Vec<String> = h;
        g.line(&format!("historical {}", h.join(" ")));
        if g.dice.chance(50) {
            let fprs: Vec<(String, String)> = h
                .iter()
                .map(|k| (k.clone(), fingerprint_of(k, false)))
                .collect();
            let broken = g.dice.chance(10);
            let text = authorizations_text(&mut g.dice, &fprs, broken);
            g.line(&format!("# historical file: {}", quoted(&text)));
            historical_text = Some(text);
        }
    }
    Channel {
        seed,
        text: g.out,
        introduction: "first".into(),
        signer: expected_signer.into(),
        signer_primary,
        end,
        keyring,
        historical,
        historical_text,
        intermediate,
    }
}
