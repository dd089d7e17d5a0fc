//! Every code point in a fingerprint, read by this crate and by the real
//! Guile: [`Fingerprint::read`] must make of each what Guix does, with
//! [`FingerprintFilter::Graphic`] as `read-authorizations`
//! (guix/git-authenticate.scm) reads `.guix-authorizations` entries, and
//! [`FingerprintFilter::HexDigit`] as `openpgp-fingerprint->bytevector`
//! (guix/channels.scm) reads an introduction's signer: the same hex digit,
//! or dropped, or refused (Guix: `base16-string->bytevector` fails). The
//! one documented difference: a code point Guile's Unicode tables leave
//! unassigned, which Guile drops, is refused here. And
//! [`FingerprintFilter::Typed`], this crate's own, drops nothing
//! [`FingerprintFilter::Graphic`] keeps.
//!
//! Guile classifies all 1,112,064 code points in one process
//! (`fingerprint_characters/classify.scm`, a few seconds). The test needs
//! `guile` (guile-3.0, which `.ci/run` installs) and fails without it.

use git_authenticate::{Fingerprint, FingerprintError, FingerprintFilter};

/// The Guile whose Unicode tables `crates/git-authenticate/src/openpgp/fingerprint/graphic.rs` was
/// generated from.
const GENERATED_WITH: &str = "3.0.8";

/// What this crate makes of `c`: the hex digit it reads, `drop` or
/// `refuse` (the words of `classify.scm`). `0` before it tells a dropped
/// character (one digit left: odd) from a refused one.
fn ours(c: char, filter: FingerprintFilter) -> String {
    match Fingerprint::read(&format!("0{c}"), filter) {
        Ok(fingerprint) => format!("{:x}", fingerprint.as_bytes()[0]),
        Err(FingerprintError::OddLength(_)) => "drop".into(),
        Err(FingerprintError::NotHex(_)) => "refuse".into(),
        Err(other) => panic!("{c:?}: {other:?}"),
    }
}

/// Guile's runs: first code point and the classes of its code points.
fn guile_runs() -> (String, Vec<(u32, String, String)>) {
    let run = |args: &[&str]| {
        std::process::Command::new("guile")
            .args(args)
            .output()
            .unwrap_or_else(|e| {
                panic!("this test needs guile (Debian: guile-3.0, which .ci/run installs): {e}")
            })
    };
    let version = String::from_utf8_lossy(&run(&["--version"]).stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fingerprint_characters/classify.scm"
    );
    let output = run(&["--no-auto-compile", script]);
    assert!(
        output.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let runs = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| match line.split(' ').collect::<Vec<_>>()[..] {
            [first, authorizations, introduction] => (
                u32::from_str_radix(first, 16).unwrap(),
                authorizations.to_owned(),
                introduction.to_owned(),
            ),
            _ => panic!("unexpected line from {script}: {line:?}"),
        })
        .collect();
    (version, runs)
}

#[test]
fn every_code_point_is_read_as_guix_reads_it() {
    let (version, runs) = guile_runs();
    let mut differences = Vec::new();
    let mut checked = 0;
    let mut unassigned = 0;
    for (i, (first, guile_authorizations, introduction)) in runs.iter().enumerate() {
        let end = runs.get(i + 1).map_or(0x11_0000, |next| next.0);
        // Guile drops them; a newer Guile may keep them and fail.
        let authorizations = match guile_authorizations.as_str() {
            "unassigned" => "refuse",
            other => other,
        };
        for c in (*first..end).filter_map(char::from_u32) {
            checked += 1;
            unassigned += usize::from(guile_authorizations == "unassigned");
            let graphic = ours(c, FingerprintFilter::Graphic);
            let hex_digit = ours(c, FingerprintFilter::HexDigit);
            let typed = ours(c, FingerprintFilter::Typed);
            assert!(
                typed == graphic || (typed.as_str(), graphic.as_str()) == ("refuse", "drop"),
                "{c:?}: typed {typed}, graphic {graphic}"
            );
            if graphic != authorizations || hex_digit != *introduction {
                differences.push(format!(
                    "U+{:04X}: Guix {authorizations} (authorizations), {introduction} \
                     (introduction); ours {graphic}, {hex_digit}",
                    u32::from(c)
                ));
            }
        }
    }
    assert_eq!(
        checked,
        0x11_0000 - 0x800,
        "every code point but surrogates"
    );
    assert!(
        differences.is_empty(),
        "{} code points read otherwise than {version} reads them \
         (crates/git-authenticate/src/openpgp/fingerprint/graphic.rs was generated with Guile {GENERATED_WITH}; \
         with another Guile's Unicode tables, regenerate it: \
         guile --no-auto-compile crates/git-authenticate/src/openpgp/fingerprint/graphic-table.scm):\n{}",
        differences.len(),
        differences[..differences.len().min(20)].join("\n")
    );
    eprintln!("{version}: {checked} code points agree ({unassigned} unassigned ones refused)");
}
