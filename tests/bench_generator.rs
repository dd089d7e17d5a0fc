//! The benchmark's history generator (`benches/generate/`) makes what the
//! benchmark claims to measure: authentic channels, with merges and
//! authorization changes, that the library accepts in full; and histories
//! of unsigned commits that it refuses.

use std::path::Path;

use git_authenticate::{authenticate, Introduction, NoProgress, Options};

// The generator includes `support/objects.rs` itself (the benchmark has no
// `support`), so this crate holds that file twice.
#[allow(clippy::duplicate_mod)]
#[path = "../benches/generate/mod.rs"]
mod generate;

use generate::{Generated, Mix, Spec};

fn spec(commits: usize, mix: Mix, unsigned: bool) -> Spec {
    Spec {
        commits,
        mix,
        merge_every: 10,
        authorizations_every: 15,
        new_tree_per_commit: true,
        unsigned,
    }
}

fn run(generated: &Generated) -> Result<usize, git_authenticate::Error> {
    let repo = git2::Repository::open_bare(&generated.path).expect("open generated repository");
    let introduction = Introduction {
        commit: generated.introduction,
        signer: generated.signer.parse().expect("signer fingerprint"),
    };
    let options = Options::default();
    authenticate(&repo, &introduction, generated.end, &options, &NoProgress).map(|r| r.checked)
}

fn generate_in(dir: &Path, spec: &Spec) -> Generated {
    generate::generated(&dir.join("repo"), spec)
}

#[test]
fn generated_history_is_authentic() {
    let dir = tempfile::tempdir().unwrap();
    let generated = generate_in(dir.path(), &spec(40, Mix::Guix, false));
    assert_eq!(run(&generated).expect("authentic"), 40);
    let repo = git2::Repository::open_bare(&generated.path).unwrap();
    let merges = repo.revwalk().map(|mut walk| {
        walk.push(generated.end).unwrap();
        walk.filter(|oid| {
            repo.find_commit(*oid.as_ref().unwrap())
                .unwrap()
                .parent_count()
                > 1
        })
        .count()
    });
    assert!(merges.unwrap() >= 2, "the history has merges");
}

#[test]
fn generated_unsigned_history_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let generated = generate_in(dir.path(), &spec(5, Mix::Ed25519, true));
    assert!(run(&generated).is_err(), "unsigned commits are refused");
}
