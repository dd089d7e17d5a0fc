//! `write-fuzz-seeds`: the seed corpus of the fuzz targets (`fuzz/corpus/`),
//! from real keys, scenario-built commits and cache files written by the
//! library.

use std::path::Path;

use git_authenticate::{authenticate, Cache, Introduction, NoProgress, Options};

use crate::support;
use support::render::render_authorizations;
use support::{build_scenario_text, key};

/// Writes seed `name` of fuzz target `target` under `corpus`.
fn seed(corpus: &Path, target: &str, name: &str, data: &[u8]) {
    let dir = corpus.join(target);
    std::fs::create_dir_all(&dir).unwrap();
    assert!(data.len() <= 8 << 10, "seed {target}/{name} is too large");
    std::fs::write(dir.join(name), data).unwrap();
}

/// The public certificate of a test key, checked to hold no secret.
fn public_certificate(name: &str, armored: bool) -> Vec<u8> {
    use sequoia_openpgp::parse::Parse;
    let k = key(name);
    let bytes = if armored {
        k.armored_public()
    } else {
        k.binary_public()
    };
    let cert = sequoia_openpgp::Cert::from_bytes(&bytes).unwrap();
    assert!(
        !cert.is_tsk(),
        "{name}: the public certificate holds secrets"
    );
    assert!(!String::from_utf8_lossy(&bytes).contains("PRIVATE"));
    bytes
}

/// Regenerates the seed corpus of the fuzz targets, from real keys,
/// scenario-built commits and cache files written by the library.
pub fn write_fuzz_seeds(corpus: &Path) {
    // authorizations
    let alice = key("alice");
    let carol = key("carol");
    seed(
        corpus,
        "authorizations",
        "spec-example.scm",
        br#";; comments are allowed anywhere
(authorizations
 (version 0)
 (("AD17 A21E F8AE D8F1 CC02  DBD9 F7D5 C9BF 765C 61E3" (name "andreas"))
  (;; a comment may sit inside an entry
   "2841 9AC6 5038 7440 C7E9  2FFA 2208 D209 58C1 DEB0" (name "abcdw"))))
"#,
    );
    seed(
        corpus,
        "authorizations",
        "empty-list.scm",
        b"(authorizations (version 0) ())\n",
    );
    seed(
        corpus,
        "authorizations",
        "version-1.scm",
        b"(authorizations (version 1) ((\"AD17A21EF8AED8F1CC02DBD9F7D5C9BF765C61E3\")))\n",
    );
    seed(
        corpus,
        "authorizations",
        "extra-elements.scm",
        br#"(authorizations (version 0)
  (("ad17a21ef8aed8f1cc02dbd9f7d5c9bf765c61e3" (name "a") (x 1))
   ("2841 9AC6 5038 7440 C7E9  2FFA 2208 D209 58C1 DEB0"))
  (future stuff)) trailing garbage ("
"#,
    );
    seed(
        corpus,
        "authorizations",
        "odd-and-bad-entries.scm",
        br#"(authorizations (version 0) (("ABC") ("XYZ 12") (name) ("" (name "empty")) . tail))"#,
    );
    seed(
        corpus,
        "authorizations",
        "syntax-variety.scm",
        br#"(authorizations (version #x0) [("AD17A21EF8AED8F1CC02DBD9F7D5C9BF765C61E3" #:name "k" #\a #t #f 1.5 -2 |odd symbol| #(1 2) #u8(1) 'q `(a ,b ,@c))])"#,
    );
    seed(
        corpus,
        "authorizations",
        "unbalanced.scm",
        b"(authorizations (version 0) ((\"AD17\"",
    );
    seed(corpus, "authorizations", "v6-fingerprint.scm", b"(authorizations (version 0) ((\"0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\")))");
    let scenario = build_scenario_text(
        "authorize alice carol\ncommit a alice\nauthorize-primary carol bob\ncommit b alice\n",
    );
    for (label, name) in [("a", "scenario-signing.scm"), ("b", "scenario-primary.scm")] {
        let repo = scenario.repo();
        let tree = repo
            .find_commit(scenario.oid(label))
            .unwrap()
            .tree()
            .unwrap();
        let entry = tree.get_name(".guix-authorizations").unwrap();
        let blob = repo.find_blob(entry.id()).unwrap();
        seed(corpus, "authorizations", name, blob.content());
    }
    let fprs = vec![alice.signing_fpr.clone(), carol.signing_fpr.clone()];
    for seed_number in [1u64, 2, 3] {
        seed(
            corpus,
            "authorizations",
            &format!("random-style-{seed_number}.scm"),
            render_authorizations(&fprs, seed_number).as_bytes(),
        );
    }

    // channel_metadata
    for (name, text) in [
        (
            "guix.scm",
            ";; This file lets us present this repo as a Guix channel.\n\n(channel\n  (version 0)\n  (news-file \"etc/news.scm\")\n  (keyring-reference \"keyring\")\n  (url \"https://git.guix.gnu.org/guix.git\"))\n",
        ),
        (
            "dependencies.scm",
            "(channel\n (version 0)\n (directory \"src\")\n (keyring-reference \"my-keyring\")\n (dependencies\n  (channel\n   (name guix)\n   (url \"https://example.org/guix.git\")\n   (branch \"master\")\n   (introduction\n    (channel-introduction\n     (version 0)\n     (commit \"9edb3f66fd807b096b48283debdcddccfea34bad\")\n     (signer \"BBB0 2DDF 2CEA F6A8 0D1D  E643 A2A0 6DF2 A33A 54FA\"))))))\n",
        ),
        ("minimal.scm", "(channel (version 0))"),
        ("version-1.scm", "(channel (version 1) (keyring-reference \"k\"))"),
        ("not-a-string.scm", "(channel (version 0) (keyring-reference keyring) (directory 42))"),
        ("no-version.scm", "(channel (keyring-reference \"keyring\"))"),
        ("relative-directory.scm", "(channel (version 0) (directory \"guix/\") (news-file \"news.txt\") (url \"u\")) trailing"),
    ] {
        seed(corpus, "channel_metadata", name, text.as_bytes());
    }

    // keyring: public certificates only.
    for name in [
        "alice", "bob", "carol", "dave", "erin", "mallory", "henry", "ivan",
    ] {
        seed(
            corpus,
            "keyring",
            &format!("{name}.asc"),
            &public_certificate(name, true),
        );
        seed(
            corpus,
            "keyring",
            &format!("{name}.bin"),
            &public_certificate(name, false),
        );
    }
    let mut two = public_certificate("alice", true);
    two.extend(public_certificate("carol", true));
    seed(corpus, "keyring", "alice-carol-concatenated.asc", &two);
    let mut split = public_certificate("alice", false);
    split.extend(b"\xffKEY");
    split.extend(public_certificate("carol", true));
    split.extend(b"\xffKEY");
    split.extend(public_certificate("alice", false));
    split.extend(b"\xffKEY");
    seed(corpus, "keyring", "split-alice-carol-alice-empty", &split);
    seed(corpus, "keyring", "whitespace-only", b"\n \t\n");
    seed(
        corpus,
        "keyring",
        "not-a-key.asc",
        b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot base64\n-----END PGP PUBLIC KEY BLOCK-----\n",
    );

    // signature: raw commit objects, as `git cat-file commit` prints them.
    let mut text = String::from(
        "keyring alice bob carol dave erin\nauthorize alice bob carol dave erin\n\
         commit alice alice\nwrite a \"1\"\ncommit bob bob\nwrite a \"2\"\n\
         commit carol carol\nwrite a \"3\"\ncommit sha1 alice sha1\nwrite a \"4\"\n\
         commit md5 alice md5\nwrite a \"5\"\ncommit text alice text\nwrite a \"6\"\n\
         commit two-sigs alice two-sigs\nwrite a \"7\"\ncommit also-bob alice also:bob\n\
         write a \"8\"\ncommit unsigned\nwrite a \"9\"\n\
         commit raw raw \"-----BEGIN PGP SIGNATURE-----\\n\\nnot base64\\n-----END PGP SIGNATURE-----\"\n\
         branch side\ncheckout side\nwrite s \"side\"\ncommit side alice\ncheckout master\n\
         merge side merge alice\ntamper alice tampered\n",
    );
    // Signed by ssh-keygen and the real gpg too, which the tests need anyway.
    text.push_str("reset merge\nwrite a \"ssh\"\ncommit ssh ssh\n");
    text.push_str(
        "write a \"gpg\"\ncommit gpg-dave gpg:dave\nwrite a \"dsa\"\ncommit gpg-erin gpg:erin\n",
    );
    let built = build_scenario_text(&text);
    let mut labels: Vec<&String> = built.labels.keys().collect();
    labels.sort();
    for label in labels {
        let output = built.git(&["cat-file", "commit", &built.oid(label).to_string()]);
        assert!(output.status.success());
        seed(
            corpus,
            "signature",
            &format!("commit-{label}"),
            &output.stdout,
        );
        if let Some((signature, _)) = git_authenticate::fuzzing::extract_signature(&output.stdout) {
            if ["alice", "bob", "two-sigs", "ssh", "gpg-erin"].contains(&label.as_str()) {
                seed(corpus, "signature", &format!("gpgsig-{label}"), &signature);
                // The binary packets, which the target also armors itself.
                if !signature.starts_with(b"-----BEGIN PGP SIGNATURE-----") {
                    continue;
                }
                let mut packets = Vec::new();
                std::io::Read::read_to_end(
                    &mut sequoia_openpgp::armor::Reader::from_bytes(
                        &signature,
                        sequoia_openpgp::armor::ReaderMode::Tolerant(None),
                    ),
                    &mut packets,
                )
                .unwrap();
                seed(corpus, "signature", &format!("packets-{label}"), &packets);
            }
        }
    }

    // cache_file: written by the library.
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::in_directory(cache_dir.path(), "checkouts/seed").unwrap();
    let history = build_scenario_text(
        "keyring alice\nauthorize alice\ncommit first alice\nwrite a \"1\"\ncommit second alice\n\
         write a \"2\"\ncommit third alice\nbranch side\nwrite a \"3\"\ncommit fourth alice\n",
    );
    let introduction = Introduction {
        commit: history.oid("first"),
        signer: alice.signing_fpr.parse().unwrap(),
    };
    let options = Options {
        cache: Some(cache.clone()),
        ..Options::default()
    };
    for (i, end) in ["second", "third", "fourth"].into_iter().enumerate() {
        authenticate(
            &history.repo(),
            &introduction,
            history.oid(end),
            &options,
            &NoProgress,
        )
        .unwrap();
        seed(
            corpus,
            "cache_file",
            &format!("written-{}", i + 1),
            &std::fs::read(cache.path()).unwrap(),
        );
    }
    seed(
        corpus,
        "cache_file",
        "guix-format",
        b";; List of previously-authenticated commits.\n\n(\"9edb3f66fd807b096b48283debdcddccfea34bad\"\n \"897c1a470da759236cc11798f4e0a5f7d4d59fbc\")\n",
    );
    seed(
        corpus,
        "cache_file",
        "empty-list",
        b";; List of previously-authenticated commits.\n\n()\n",
    );
    seed(corpus, "cache_file", "short-id", b"(\"9edb3f6\")");
    seed(
        corpus,
        "cache_file",
        "not-a-list",
        b"\"9edb3f66fd807b096b48283debdcddccfea34bad\"",
    );
}
