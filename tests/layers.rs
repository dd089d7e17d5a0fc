//! The library's folders are its layers (`crates/git-authenticate/src`):
//! a module uses only modules of its own layer or of the layers below it,
//! and no modules use each other in a cycle. Read from the source, so that
//! the tree stays the picture of the architecture.
//!
//! A module's dependencies are the `crate::…` paths of its code (doc
//! comments, comments and its `#[cfg(test)] mod tests` excluded), each
//! resolved to the deepest module file it names; paths through the crate
//! root's re-exports (`crate::Keyring`) are resolved to where the item is
//! defined. A child module reaching its parent with `super::` is part of
//! it, not a dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers from the bottom; a module's layer is its top folder (or file).
const LAYERS: &[&[&str]] = &[
    &["git"],
    &["openpgp"],
    &["channel"],
    &["cache"],
    &["verdict"],
    &["rule"],
    &["authenticate"],
    &["revision"],
    &["merge"],
    &["gate", "doctor", "audit"],
    &["fuzzing"],
];

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/git-authenticate/src")
}

/// Every module file, by its path in the crate (`openpgp/keyring`; a
/// folder's `mod.rs` is the folder).
fn modules(root: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(root).unwrap().with_extension("");
                let mut name = relative.to_str().unwrap().to_owned();
                if let Some(parent) = name.strip_suffix("/mod") {
                    name = parent.to_owned();
                }
                found.insert(name, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    found
}

/// The code of a file: comments and the trailing test module removed.
fn code(text: &str) -> String {
    let body = match text.find("#[cfg(test)]\nmod tests") {
        Some(end) => &text[..end],
        None => text,
    };
    body.lines()
        .map(|line| line.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::` path in `code`, groups expanded: `crate::a::{b, c::D}`
/// gives `a::b` and `a::c::D`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(start) = rest.find("crate::") {
        let preceded = rest[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
        rest = &rest[start + "crate::".len()..];
        if !preceded {
            let (expanded, used) = expand(rest);
            paths.extend(expanded);
            rest = &rest[used..];
        }
    }
    paths
}

/// The paths a use tree at the start of `text` names, and the bytes it
/// takes.
fn expand(text: &str) -> (Vec<String>, usize) {
    let ident_end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    let head = &text[..ident_end];
    if text.starts_with('{') {
        let mut paths = Vec::new();
        let mut at = 1;
        loop {
            at += text[at..].len() - text[at..].trim_start().len();
            if text[at..].starts_with('}') {
                return (paths, at + 1);
            }
            let (inner, used) = expand(&text[at..]);
            paths.extend(inner.into_iter().filter(|p| !p.is_empty()));
            at += used;
            // Whatever ends the item (`as x`, a glob `*`) up to its `,`.
            let Some(end) = text[at..].find([',', '}']) else {
                return (paths, text.len());
            };
            at += end;
            if text[at..].starts_with(',') {
                at += 1;
            }
        }
    }
    if text[ident_end..].starts_with("::") {
        let (inner, used) = expand(&text[ident_end + 2..]);
        let paths = inner
            .into_iter()
            .map(|p| match p.is_empty() || p == "self" {
                true => head.to_owned(),
                false => format!("{head}::{p}"),
            })
            .collect();
        return (paths, ident_end + 2 + used);
    }
    (vec![head.to_owned()], ident_end)
}

/// The crate root's re-exports: item name → the module path it is defined
/// in (`Keyring` → `openpgp::keyring`).
fn reexports(lib: &str) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for statement in code(lib).split(';') {
        let Some(tree) = statement.trim().strip_prefix("pub use ") else {
            continue;
        };
        let tree = tree.split_whitespace().collect::<Vec<_>>().join(" ");
        let (paths, _) = expand(&tree.replace(" as ", "@"));
        for path in paths {
            let (path, alias) = path.split_once('@').unwrap_or((&path, ""));
            if let Some((module, item)) = path.rsplit_once("::") {
                let name = if alias.is_empty() { item } else { alias };
                names.insert(name.to_owned(), module.replace("::", "/"));
            }
        }
    }
    names
}

/// The deepest module of `modules` that `path` names.
fn resolve(
    path: &str,
    modules: &BTreeMap<String, String>,
    reexports: &BTreeMap<String, String>,
) -> Option<String> {
    let segments: Vec<&str> = path.split("::").collect();
    if let Some(module) = reexports.get(segments[0]) {
        return modules.contains_key(module).then(|| module.clone());
    }
    (1..=segments.len())
        .rev()
        .map(|n| segments[..n].join("/"))
        .find(|candidate| modules.contains_key(candidate))
}

fn layer(module: &str) -> usize {
    let top = module.split('/').next().unwrap();
    LAYERS
        .iter()
        .position(|layer| layer.contains(&top))
        .unwrap_or_else(|| panic!("module {module} is in no layer: add its folder to LAYERS"))
}

/// Every module's dependencies on other modules.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = source_root();
    let modules = modules(&root);
    let reexports = reexports(&modules["lib"]);
    let mut graph = BTreeMap::new();
    for (name, text) in modules.iter().filter(|(name, _)| *name != "lib") {
        let uses: BTreeSet<String> = crate_paths(&code(text))
            .iter()
            .filter_map(|path| resolve(path, &modules, &reexports))
            .filter(|used| used != name && !name.starts_with(&format!("{used}/")))
            .collect();
        graph.insert(name.clone(), uses);
    }
    graph
}

#[test]
fn the_parser_sees_what_a_use_names() {
    assert_eq!(
        crate_paths("use crate::a::{b, c::{D, E as F}};\nlet x = crate::g::H::new();"),
        ["a::b", "a::c::D", "a::c::E", "g::H::new"]
    );
    let graph = graph();
    assert!(graph["rule/commit"].contains("openpgp/keyring"));
    assert!(graph["fuzzing"].contains("openpgp/signature"));
}

#[test]
fn no_layer_uses_a_layer_above_it() {
    let upward: Vec<String> = graph()
        .iter()
        .flat_map(|(module, uses)| {
            uses.iter()
                .filter(|used| layer(used) > layer(module))
                .map(move |used| format!("{module} uses {used}"))
        })
        .collect();
    assert!(
        upward.is_empty(),
        "layers used from below (see LAYERS):\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_modules_use_each_other_in_a_cycle() {
    let graph = graph();
    // Depth-first search with colours; a grey module reached again closes a
    // cycle, reported as the path around it.
    let mut done = BTreeSet::new();
    for start in graph.keys() {
        let mut path: Vec<(&String, Vec<&String>)> = vec![(start, graph[start].iter().collect())];
        while let Some((module, pending)) = path.last_mut() {
            let module = *module;
            let Some(next) = pending.pop() else {
                done.insert(module.clone());
                path.pop();
                continue;
            };
            if done.contains(next) {
                continue;
            }
            if let Some(at) = path.iter().position(|(m, _)| *m == next) {
                let cycle: Vec<&str> = path[at..].iter().map(|(m, _)| m.as_str()).collect();
                panic!("modules in a cycle: {} → {next}", cycle.join(" → "));
            }
            path.push((
                next,
                graph.get(next).map_or(Vec::new(), |u| u.iter().collect()),
            ));
        }
    }
}

/// The library is free of command-line crates: a pull tool that depends on
/// it builds none of them.
#[test]
fn the_library_depends_on_no_command_line_crate() {
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/git-authenticate/Cargo.toml"),
    )
    .unwrap();
    let dependencies = manifest
        .split("\n[")
        .find(|section| section.starts_with("dependencies]"))
        .expect("a [dependencies] section");
    for cli in [
        "clap",
        "clap_mangen",
        "clap_complete",
        "indicatif",
        "anstream",
        "anstyle",
    ] {
        assert!(
            !dependencies
                .lines()
                .any(|line| line.split([' ', '=', '.']).next() == Some(cli)),
            "the library depends on {cli}"
        );
    }
    assert!(
        !dependencies.contains("tempfile"),
        "tempfile is for tests only"
    );
}
