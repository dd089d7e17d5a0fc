//! The code cites the rule by step, `RULE.md step N` or `RULE.md steps
//! N–M`, and every step it cites exists in `doc/RULE.md`, which numbers its
//! steps `### Step 1`, `### Step 2`… consecutively. A citation in any other
//! form ("Step 6", "steps 6–7" without `RULE.md`) is refused, so that there
//! is one form to search for.

use std::path::{Path, PathBuf};

use crate::support;

/// The form every citation takes.
const CITATION: &str = "RULE.md step";

/// The repository's root: the directory holding `doc/RULE.md`, the
/// manifest's or one above it (in a workspace, the tests may belong to a
/// member crate).
pub fn repository_root() -> PathBuf {
    let manifest = support::manifest_dir();
    manifest
        .ancestors()
        .find(|dir| dir.join("doc/RULE.md").is_file())
        .unwrap_or_else(|| panic!("no doc/RULE.md in {} or above", manifest.display()))
        .to_path_buf()
}

/// The step numbers of `RULE.md`'s `Step N` headings, in order.
fn steps_in_rule(rule: &str) -> Vec<u32> {
    rule.lines()
        .filter_map(|line| {
            let heading = line.trim_start_matches('#');
            (heading.len() < line.len())
                .then(|| heading.trim().strip_prefix("Step ")?.parse().ok())
                .flatten()
        })
        .collect()
}

/// Every `.rs` file under `dir`, recursively, `target` directories left
/// out.
pub fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name != "target") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// A file's text with comment markers taken off and lines joined by
/// spaces, so that a citation broken across comment lines reads whole;
/// with the line each byte comes from.
fn joined(text: &str) -> (String, Vec<usize>) {
    let mut joined = String::new();
    let mut lines = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim_start();
        let line = ["//!", "///", "//"]
            .iter()
            .find_map(|marker| line.strip_prefix(marker))
            .unwrap_or(line)
            .trim();
        joined.push_str(line);
        joined.push(' ');
        lines.resize(joined.len(), number + 1);
    }
    (joined, lines)
}

/// A citation: where it is, what it says, the step numbers it names.
#[derive(Debug)]
struct Citation {
    line: usize,
    text: String,
    steps: Vec<u32>,
    /// Whether it takes the one form, `RULE.md step N`.
    well_formed: bool,
}

/// Reads a number at the start of `text`: its value and its length.
fn number(text: &str) -> Option<(u32, usize)> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    Some((text[..digits].parse().ok()?, digits))
}

/// Where the text shown for a citation at `start` begins: with the word
/// before it (`RULE.md`, or whatever stands there instead).
fn shown_from(joined: &str, start: usize) -> usize {
    let before = joined[..start].trim_end();
    before.rfind(' ').map_or(0, |space| space + 1)
}

/// Every mention of "step N" or "steps N–M" (any case, `-` or `–`) in
/// `text`, well-formed or not.
fn citations(text: &str) -> Vec<Citation> {
    let (joined, lines) = joined(text);
    let lower = joined.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find("step") {
        let start = from + at;
        from = start + "step".len();
        let before = lower[..start].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &joined[from..];
        let rest = rest.strip_prefix('s').unwrap_or(rest);
        let Some(rest) = rest.strip_prefix(' ') else {
            continue;
        };
        let Some((first, length)) = number(rest) else {
            continue;
        };
        let mut steps = vec![first];
        let mut end = joined.len() - rest.len() + length;
        let after = &rest[length..];
        let dash = ["–", "-"].iter().find_map(|d| after.strip_prefix(d));
        if let Some((last, more)) = dash.and_then(number) {
            steps.extend(first + 1..=last);
            end += after.len() - dash.unwrap().len() + more;
        }
        let well_formed = joined[..start].ends_with("RULE.md ")
            && joined[start..].starts_with(if steps.len() > 1 { "steps " } else { "step " });
        found.push(Citation {
            line: lines[start],
            text: joined[shown_from(&joined, start)..end].to_owned(),
            steps,
            well_formed,
        });
    }
    found
}

#[test]
fn rule_md_numbers_its_steps_consecutively_from_one() {
    let rule = std::fs::read_to_string(repository_root().join("doc/RULE.md")).unwrap();
    let steps = steps_in_rule(&rule);
    assert!(!steps.is_empty(), "doc/RULE.md has no `### Step N` heading");
    let expected: Vec<u32> = (1..=steps.len() as u32).collect();
    assert_eq!(steps, expected, "doc/RULE.md's steps, in order");
}

#[test]
fn every_step_the_code_cites_exists_in_rule_md() {
    let root = repository_root();
    let rule = std::fs::read_to_string(root.join("doc/RULE.md")).unwrap();
    let steps = steps_in_rule(&rule);
    let mut files = Vec::new();
    for dir in ["src", "crates"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(!files.is_empty(), "no Rust file under src/ or crates/");
    let mut cited = 0;
    let mut wrong = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let shown = file.strip_prefix(&root).unwrap_or(file).display();
        for citation in citations(&text) {
            let line = citation.line;
            if !citation.well_formed {
                wrong.push(format!(
                    "{shown}:{line}: `{}`: cite as `{CITATION} N` or `{CITATION}s N–M`",
                    citation.text
                ));
            }
            for step in &citation.steps {
                if !steps.contains(step) {
                    wrong.push(format!("{shown}:{line}: step {step} is not in doc/RULE.md"));
                }
            }
            cited += 1;
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        cited > 0,
        "no `{CITATION} N` under src/ or crates/: the test would pass vacuously"
    );
}

#[test]
fn citations_are_read_across_lines_and_ranges() {
    let text = "/// as RULE.md\n/// steps 6–7 say\n// RULE.md step 13, not Step 2\nx.step_by(3)";
    let found = citations(text);
    let summary: Vec<(usize, Vec<u32>, bool)> = found
        .iter()
        .map(|c| (c.line, c.steps.clone(), c.well_formed))
        .collect();
    assert_eq!(
        summary,
        [
            (2, vec![6, 7], true),
            (3, vec![13], true),
            (3, vec![2], false)
        ]
    );
    assert_eq!(citations("steps 1-5")[0].steps, [1, 2, 3, 4, 5]);
}
