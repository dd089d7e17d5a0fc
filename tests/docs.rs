//! The documentation holds together: the README stays short (the rest is
//! under `doc/`), and every relative link between the documents leads to a
//! file that exists and, with a `#fragment`, to a heading it has.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::rule_citations::repository_root;

/// The README's size limit: what a newcomer reads before going on.
const README_MAX_BYTES: u64 = 12 * 1024;

/// The documents whose links are checked: the README, the changelog and
/// every `doc/*.md`.
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut documents = vec![root.join("README.md"), root.join("CHANGELOG.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("doc"))
        .expect("doc/")
        .map(|entry| entry.expect("an entry of doc/").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    documents.extend(docs);
    documents
}

/// The lines of `text` outside fenced code blocks, with their numbers.
fn prose(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            lines.push((number + 1, line));
        }
    }
    lines
}

/// The targets of the inline links `[text](target)` in `line`, code spans
/// left out.
fn link_targets(line: &str) -> Vec<String> {
    let without_code: String = line
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, part)| part)
        .collect::<Vec<_>>()
        .join(" ");
    without_code
        .split("](")
        .skip(1)
        .filter_map(|rest| Some(rest[..rest.find(')')?].trim().to_owned()))
        .collect()
}

/// GitHub's anchor for a heading: lower case, punctuation but `-` and `_`
/// dropped, spaces as `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown document's headings.
fn anchors(text: &str) -> HashSet<String> {
    prose(text)
        .into_iter()
        .filter(|(_, line)| line.starts_with('#'))
        .map(|(_, line)| anchor(line.trim_start_matches('#')))
        .collect()
}

#[test]
fn the_readme_is_at_most_12_kib() {
    let size = std::fs::metadata(repository_root().join("README.md"))
        .unwrap()
        .len();
    assert!(
        size <= README_MAX_BYTES,
        "README.md is {size} bytes, more than {README_MAX_BYTES}: move details to doc/GUIDE.md"
    );
}

#[test]
fn every_relative_link_between_the_documents_resolves() {
    let root = repository_root();
    let mut broken = Vec::new();
    let mut checked = 0;
    for document in documents(&root) {
        let text = std::fs::read_to_string(&document)
            .unwrap_or_else(|e| panic!("{}: {e}", document.display()));
        let shown = document.strip_prefix(&root).unwrap().display().to_string();
        for (number, line) in prose(&text) {
            for target in link_targets(line) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                checked += 1;
                let (path, fragment) = match target.split_once('#') {
                    Some((path, fragment)) => (path, Some(fragment)),
                    None => (target.as_str(), None),
                };
                let file = match path {
                    "" => document.clone(),
                    path => document.parent().unwrap().join(path),
                };
                if !file.exists() {
                    broken.push(format!("{shown}:{number}: {target}: no such file"));
                    continue;
                }
                let Some(fragment) = fragment else { continue };
                let is_markdown = file.extension().is_some_and(|ext| ext == "md");
                if is_markdown {
                    let target_text = std::fs::read_to_string(&file).unwrap();
                    if !anchors(&target_text).contains(fragment) {
                        broken.push(format!("{shown}:{number}: {target}: no such heading"));
                    }
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(
        checked > 0,
        "no relative link found: the test would pass vacuously"
    );
}

#[test]
fn anchors_are_githubs() {
    assert_eq!(
        anchor(" Before merging: `merge-check`"),
        "before-merging-merge-check"
    );
    assert_eq!(anchor("Step 12"), "step-12");
    assert_eq!(
        link_targets("see [a](doc/GUIDE.md#x) and `[b](not)` or [c](#y)"),
        ["doc/GUIDE.md#x", "#y"]
    );
}
