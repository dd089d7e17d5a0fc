//! What pull tooling needs from the channel module, on real repositories:
//! `.guix-channel` at a commit (all its fields, dependencies with
//! introductions, malformed files named by their problem, a blob missing
//! from a partial clone), update checks, and every form of introduction.

use git_authenticate::git2::Repository;
use git_authenticate::IntroductionForm;
use git_authenticate::{
    check_update, ChannelMetadata, ChannelMetadataError, ChannelSpec, ChannelsFile, Introduction,
    IntroductionError, MetadataError, ObjectRole, Relation, SyntaxError, UpdateError, UpdatePolicy,
};
use git_authenticate::{FieldProblem, MetadataProblem};

use crate::support::{self, build_scenario_text, Built};

/// nonguix's introduction, as its README gives it.
const NONGUIX_ENTRY: &str = r#"(channel
  (name 'nonguix)
  (url "https://gitlab.com/nonguix/nonguix")
  (introduction
   (make-channel-introduction
    "897c1a470da759236cc11798f4e0a5f7d4d59fbc"
    (openpgp-fingerprint
     "2A39 3FFF 68F4 EF7A 3D29  12AF 6F51 20A0 22FB B2D5"))))"#;

/// A repository whose only commit has `contents` as `.guix-channel`.
fn with_metadata(contents: &str) -> Built {
    let quoted = contents
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    build_scenario_text(&format!("write .guix-channel \"{quoted}\"\ncommit first\n"))
}

fn metadata_at(built: &Built) -> Result<ChannelMetadata, MetadataError> {
    ChannelMetadata::at_commit(&built.repo(), built.oid("first"))
}

/// The problem `at_commit` names for a malformed `.guix-channel`.
fn problem_with(contents: &str) -> ChannelMetadataError {
    match metadata_at(&with_metadata(contents)) {
        Err(MetadataError::Malformed {
            problem: MetadataProblem::Invalid(problem),
            ..
        }) => problem,
        other => panic!("{contents}: {other:?}"),
    }
}

#[test]
fn full_metadata_with_dependencies_is_read_at_a_commit() {
    let built = with_metadata(
        r#";; The channel's metadata.
(channel
 (version 0)
 (directory "modules")
 (keyring-reference "my-keyring")
 (news-file "etc/news.scm")
 (url "https://example.org/mine.git")
 (unknown-field "ignored, as Guix does")
 (dependencies
  (channel
   (name nonguix)
   (url "https://gitlab.com/nonguix/nonguix")
   (branch "master")
   (introduction
    (channel-introduction
     (version 0)
     (commit "897c1a470da759236cc11798f4e0a5f7d4d59fbc")
     (signer "2A39 3FFF 68F4 EF7A 3D29  12AF 6F51 20A0 22FB B2D5"))))
  (channel
   (name pinned)
   (url "https://example.org/pinned.git")
   (commit "v1.0"))))
"#,
    );
    let metadata = metadata_at(&built).unwrap();
    assert_eq!(metadata.directory, "/modules");
    assert_eq!(metadata.keyring_reference, "my-keyring");
    assert_eq!(metadata.news_file.as_deref(), Some("etc/news.scm"));
    assert_eq!(
        metadata.url.as_deref(),
        Some("https://example.org/mine.git")
    );
    assert_eq!(
        metadata.dependencies,
        vec![
            ChannelSpec {
                name: "nonguix".into(),
                url: "https://gitlab.com/nonguix/nonguix".into(),
                branch: "master".into(),
                commit: None,
                introduction: Some(support::nonguix_introduction()),
            },
            ChannelSpec {
                name: "pinned".into(),
                url: "https://example.org/pinned.git".into(),
                branch: "master".into(),
                commit: Some("v1.0".into()),
                introduction: None,
            },
        ]
    );
}

#[test]
fn false_values_mean_defaults_as_in_guix() {
    let metadata = ChannelMetadata::parse(
        b"(channel (version 0) (directory #f) (keyring-reference #f) (dependencies . #f))",
    )
    .unwrap();
    assert_eq!(metadata, ChannelMetadata::default());
}

#[test]
fn malformed_metadata_names_the_problem() {
    assert!(matches!(
        problem_with("(channel (version 0) (directory \"x\")"),
        ChannelMetadataError::Syntax(SyntaxError::Invalid { .. })
    ));
    assert!(matches!(
        problem_with("(channel (directory \"x\") (version 0))"),
        ChannelMetadataError::NotChannelMetadata { .. }
    ));
    assert!(matches!(
        problem_with("(channel (version 1))"),
        ChannelMetadataError::UnsupportedVersion { version } if version == "1"
    ));
    assert!(matches!(
        problem_with("(channel (version 0) (url https))"),
        ChannelMetadataError::Field {
            field: "url",
            problem: FieldProblem::Expected { .. }
        }
    ));
    assert!(matches!(
        problem_with("(channel (version 0) (dependencies (channel (url \"u\"))))"),
        ChannelMetadataError::Dependency {
            index: 0,
            field: "name",
            problem: FieldProblem::Missing
        }
    ));
    assert!(matches!(
        problem_with("(channel (version 0) (dependencies (channel (name \"x\") (url \"u\"))))"),
        ChannelMetadataError::Dependency {
            field: "name",
            problem: FieldProblem::Expected { .. },
            ..
        }
    ));
    assert!(matches!(
        problem_with(
            "(channel (version 0) (dependencies (channel (name x) (url \"u\")) \
             (channel (name y) (url \"u\") (introduction (channel-introduction (commit \"c\"))))))"
        ),
        ChannelMetadataError::DependencyIntroduction {
            index: 1,
            problem: IntroductionError::MissingField {
                field: "version",
                ..
            }
        }
    ));
}

#[test]
fn hostile_metadata_is_refused_with_a_typed_error() {
    let deep = format!("(channel (version 0) (url {}))", "(".repeat(10_000));
    assert!(matches!(
        ChannelMetadata::parse(deep.as_bytes()),
        Err(ChannelMetadataError::Syntax(SyntaxError::TooDeep { .. }))
    ));
    let huge = format!("(channel (version 0)) ;{}", "x".repeat(2 << 20));
    assert!(matches!(
        ChannelMetadata::parse(huge.as_bytes()),
        Err(ChannelMetadataError::TooLarge { .. })
    ));
    let many = format!(
        "(channel (version 0) (dependencies {}))",
        "(channel (name x) (url \"u\")) ".repeat(5_000)
    );
    assert!(matches!(
        ChannelMetadata::parse(many.as_bytes()),
        Err(ChannelMetadataError::TooManyDependencies)
    ));
}

#[test]
fn a_directory_at_guix_channel_is_not_a_file() {
    let built = build_scenario_text("mkdir-file .guix-channel\ncommit first\n");
    assert!(matches!(
        metadata_at(&built),
        Err(MetadataError::Malformed {
            problem: MetadataProblem::NotAFile,
            ..
        })
    ));
}

/// A partial clone lacks the `.guix-channel` blob: that is unreadable, not
/// "no file" (which would mean the default keyring branch).
#[test]
fn partial_clone_missing_metadata_blob_is_unreadable() {
    let built = with_metadata("(channel (version 0) (keyring-reference \"other\"))");
    built.git(&["config", "uploadpack.allowFilter", "true"]);
    let dir = tempfile::tempdir().unwrap();
    let clone = dir.path().join("partial");
    let out = std::process::Command::new("git")
        .args(["clone", "--quiet", "--no-checkout", "--filter=blob:none"])
        .arg(format!("file://{}", built.path.display()))
        .arg(&clone)
        .output()
        .unwrap();
    support::success_output(out, "git clone");
    let repo = Repository::open(&clone).unwrap();
    let commit = built.oid("first");
    match ChannelMetadata::at_commit(&repo, commit) {
        Err(MetadataError::Unreadable(unreadable)) => {
            assert_eq!(unreadable.role, ObjectRole::ChannelMetadataOf(commit));
            assert!(unreadable.source.is_missing(), "{unreadable}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn updates_go_forward_unless_downgrades_are_allowed() {
    let built = build_scenario_text(
        "write a \"1\"\ncommit first\nwrite a \"2\"\ncommit second\n\
         branch side first\ncheckout side\nwrite b \"3\"\ncommit fork\ncheckout master\n",
    );
    let repo = built.repo();
    let (first, second, fork) = (built.oid("first"), built.oid("second"), built.oid("fork"));
    let forward = |old, new| check_update(&repo, old, new, UpdatePolicy::ForwardOnly);
    assert_eq!(forward(first, second).unwrap(), Relation::Ancestor);
    assert_eq!(forward(second, second).unwrap(), Relation::Same);
    for (old, new, relation) in [
        (second, first, Relation::Descendant),
        (second, fork, Relation::Unrelated),
    ] {
        match forward(old, new) {
            Err(UpdateError::Downgrade {
                old: o,
                new: n,
                relation: r,
            }) => assert_eq!((o, n, r), (old, new, relation)),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            check_update(&repo, old, new, UpdatePolicy::AllowDowngrades).unwrap(),
            relation
        );
    }
}

#[test]
fn every_introduction_form_is_read() {
    let make = "(make-channel-introduction \"897c1a470da759236cc11798f4e0a5f7d4d59fbc\" \
                (openpgp-fingerprint \"2A39 3FFF 68F4 EF7A 3D29  12AF 6F51 20A0 22FB B2D5\"))";
    let data = "(channel-introduction (version 0) \
                (commit \"897c1a470da759236cc11798f4e0a5f7d4d59fbc\") \
                (signer \"2A39 3FFF 68F4 EF7A 3D29  12AF 6F51 20A0 22FB B2D5\") (extra 1))";
    let list = format!("(list {NONGUIX_ENTRY})");
    for form in [make, data, NONGUIX_ENTRY, &list] {
        assert_eq!(
            Introduction::from_channel_form(form).unwrap(),
            support::nonguix_introduction(),
            "{form}"
        );
    }
}

/// A channels file as nonguix's README has users write it.
#[test]
fn a_realistic_channels_file_gives_each_channel() {
    let file = format!(
        ";; ~/.config/guix/channels.scm\n\
         (use-modules (guix ci))\n\
         (cons* {NONGUIX_ENTRY}\n\
                (channel (name 'mine) (url \"https://example.org/mine.git\") (branch \"main\"))\n\
                %default-channels)\n"
    );
    assert_eq!(
        Introduction::from_channels_file(&file, "nonguix").unwrap(),
        support::nonguix_introduction()
    );
    assert_eq!(
        Introduction::from_channels_file(&file, "guix").unwrap(),
        Introduction::guix()
    );
    assert!(matches!(
        Introduction::from_channels_file(&file, "mine"),
        Err(IntroductionError::NoIntroduction { name }) if name == "mine"
    ));
    match Introduction::from_channels_file(&file, "other") {
        Err(IntroductionError::NoSuchChannel { available, .. }) => {
            assert_eq!(available, ["nonguix", "mine", "guix"])
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Introduction::from_channel_form(&file),
        Err(IntroductionError::AmbiguousChannel { .. })
    ));
    let channels = ChannelsFile::parse(&file).unwrap();
    assert_eq!(channels.pick("mine").unwrap().branch, "main");
}

#[test]
fn malformed_introductions_name_the_form_and_field() {
    assert!(matches!(
        Introduction::from_channel_form("(make-channel-introduction \"897c1a4\" (openpgp-fingerprint \"2A39 3FFF 68F4 EF7A 3D29  12AF 6F51 20A0 22FB B2D5\"))"),
        Err(IntroductionError::CommitId(_))
    ));
    assert!(matches!(
        Introduction::from_channel_form(
            "(make-channel-introduction \"897c1a470da759236cc11798f4e0a5f7d4d59fbc\" \"2A39\")"
        ),
        Err(IntroductionError::UnexpectedForm {
            expected: IntroductionForm::OpenpgpFingerprint,
            ..
        })
    ));
    assert!(matches!(
        Introduction::from_channel_form(
            "(channel (name 'x) (url \"u\") (introduction (make-channel-introduction \"c\"))"
        ),
        Err(IntroductionError::Syntax(SyntaxError::Invalid { .. }))
    ));
    assert!(matches!(
        Introduction::from_channel_form("(channel (name 'x) (url 42))"),
        Err(IntroductionError::MalformedField {
            form: IntroductionForm::Channel,
            field: "url",
            ..
        })
    ));
    assert!(matches!(
        Introduction::from_channel_form("(filter guix-channel? %default-channels)"),
        Err(IntroductionError::UnexpectedForm {
            expected: IntroductionForm::ChannelsFile,
            ..
        })
    ));
}

/// Our metadata written as the Guile script writes Guix's.
fn as_guix_writes(m: &ChannelMetadata) -> String {
    let text = |s: &Option<String>| s.as_ref().map_or("#f".to_owned(), |s| format!("{s:?}"));
    let dependencies: Vec<String> = m
        .dependencies
        .iter()
        .map(|d| {
            let intro = d.introduction.as_ref().map_or("#f".to_owned(), |i| {
                format!(
                    "({:?} {:?})",
                    i.commit.to_string(),
                    i.signer.to_hex().to_lowercase()
                )
            });
            format!(
                "({} {:?} {:?} {} {intro})",
                d.name,
                d.url,
                d.branch,
                text(&d.commit)
            )
        })
        .collect();
    format!(
        "({:?} ({}) {} {:?} {})",
        m.directory,
        dependencies.join(" "),
        text(&m.news_file),
        m.keyring_reference,
        text(&m.url)
    )
}

/// Guix's `read-channel-metadata`, run by the real Guile
/// (`tests/guile_reader/guix-channel.scm`), and [`ChannelMetadata::parse`]
/// agree: the same data when both accept, never an acceptance where Guix
/// fails. This crate refuses more: values of the wrong kind that Guix
/// stores and fails on only when using them (`(url https)`).
#[test]
fn metadata_is_read_as_guix_reads_it() {
    if !crate::guile_reader::harness::guile_available() {
        return;
    }
    let intro = "(introduction (channel-introduction (version 0) \
                 (commit \"897c1a470da759236cc11798f4e0a5f7d4d59fbc\") \
                 (signer \"2A39 3FFF 68F4 EF7A 3D29  12AF 6F51 20A0 22FB B2D5\")))";
    let files: Vec<String> = [
        "(channel (version 0))",
        "(channel (version 0) (directory \"src\") (news-file \"n.scm\") (url \"u\"))",
        "(channel (version 0) (directory \"/src\" \"ignored\") (directory \"second\"))",
        "(channel (version 0) (keyring-reference \"k\") (x) 3 \"s\" #(1))",
        "(channel (version 0) (keyring-reference #f) (directory #f) (url #f))",
        "(channel (version 0) (directory))",
        "(channel (version 0) (directory . \"x\"))",
        "(channel (version 0) . 3)",
        "(channel (version 1))",
        "(channel (version 0.0))",
        "(channel (version #e0))",
        "(channel (version 0 1))",
        "(channel (version))",
        "(channel)",
        "(channel (url \"u\") (version 0))",
        "(chanel (version 0))",
        "",
        "; only a comment",
        "(channel (version 0) (dependencies))",
        "(channel (version 0) (dependencies . #f))",
        "(channel (version 0) (dependencies . 5))",
        "(channel (version 0) (dependencies (channel (name a) (url \"u\"))))",
        "(channel (version 0) (dependencies (anything (url \"u\") (name a) (branch \"b\"))))",
        "(channel (version 0) (dependencies (channel (name a) (url \"u\") (commit \"c\"))))",
        "(channel (version 0) (dependencies (channel (name a))))",
        "(channel (version 0) (dependencies (channel (url \"u\"))))",
        "(channel (version 0) (dependencies (channel (name a) (url \"u\") (branch #f))))",
        "(channel (version 0) (dependencies (channel (name a) (url \"u\") (name))))",
        "(channel (version 0) (dependencies \"str\"))",
        "(channel (version 0) (dependencies (channel (name a) (url \"u\") (introduction #f))))",
        "(channel (version 0) (dependencies (channel (name a) (url \"u\") INTRO)))",
        "(channel (version 0) (dependencies (channel (name a) (url \"u\") \
         (introduction (channel-introduction (commit \"c\") (version 0) (signer \"s\"))))))",
        "(channel (version 0) (dependencies (channel (name a) (url \"u\") \
         (introduction (channel-introduction (version 0) \
         (commit \"897c1a470da759236cc11798f4e0a5f7d4d59fbc\") (signer \"2A3\"))))))",
    ]
    .iter()
    .map(|f| f.replace("INTRO", intro))
    .collect();
    let guix = crate::guile_reader::harness::run_guile(
        "guix-channel.scm",
        &[],
        &files
            .iter()
            .map(|f| f.as_bytes().to_vec())
            .collect::<Vec<_>>(),
    );
    let mut both_accept = 0;
    for (file, guix) in files.iter().zip(&guix) {
        match (
            ChannelMetadata::parse(file.as_bytes()),
            guix.strip_prefix("OK "),
        ) {
            (Ok(ours), Some(theirs)) => {
                assert_eq!(as_guix_writes(&ours), theirs, "{file}");
                both_accept += 1;
            }
            (Ok(ours), None) => panic!("{file}: accepted ({ours:?}), Guix says {guix}"),
            (Err(_), _) => {}
        }
    }
    eprintln!("{both_accept} of {} accepted by both", files.len());
    assert!(both_accept >= 12, "only {both_accept} accepted by both");
}
