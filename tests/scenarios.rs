//! Every scenario of `test-repos/scenarios/`: a real repository is built on
//! disk, signed by sequoia or by the real gpg, then authenticated through
//! the library. Each scenario states its introduction and the outcome;
//! the outcome must be the same stopping at the first failure or checking
//! everything, on one thread or several.

mod support;

use git_authenticate::git2::Oid;
use git_authenticate::{
    authenticate, Authorizations, Error, Fingerprint, Introduction, NoProgress, Options, Report,
};
use support::{build_scenario, key, scenario_runnable, scenario_text, Built};

/// What a scenario says about itself.
struct Expected {
    introduction: Introduction,
    end: Option<Oid>,
    options: Options,
    outcome: Outcome,
    /// With `--keep-going`: (kind, commit, signer) of every failure.
    all: Vec<(String, Option<Oid>, Option<Fingerprint>)>,
}

enum Outcome {
    Authentic(usize),
    Failure(String, Option<Oid>, Option<Fingerprint>),
}

fn fingerprint(key_name: &str) -> Fingerprint {
    key(key_name).signing_fpr.parse().unwrap()
}

fn expectations(built: &Built) -> Expected {
    let mut introduction = None;
    let mut end = None;
    let mut options = Options::default();
    let mut outcome = None;
    let mut all = Vec::new();
    let failure = |words: &[String]| {
        (
            words[1].clone(),
            words.get(2).map(|l| built.oid(l)),
            words.get(3).map(|k| fingerprint(k)),
        )
    };
    for words in &built.expectations {
        match words[0].as_str() {
            "introduction" => {
                introduction = Some(Introduction {
                    commit: built.oid(&words[1]),
                    signer: fingerprint(&words[2]),
                })
            }
            "end" => end = Some(built.oid(&words[1])),
            "historical" => {
                options.historical_authorizations =
                    Authorizations::from_fingerprints(words[1..].iter().map(|k| fingerprint(k)))
            }
            "keyring-ref" => options.keyring_reference = words[1].clone(),
            "expect" if words[1] == "authentic" => {
                outcome = Some(Outcome::Authentic(words[2].parse().unwrap()))
            }
            "expect" => {
                let (kind, commit, signer) = failure(words);
                outcome = Some(Outcome::Failure(kind, commit, signer));
            }
            "expect-all" => all.push(failure(words)),
            other => panic!("unknown expectation `{other}`"),
        }
    }
    Expected {
        introduction: introduction.expect("the scenario names its introduction"),
        end,
        options,
        outcome: outcome.expect("the scenario states its outcome"),
        all,
    }
}

fn run(built: &Built, expected: &Expected, keep_going: bool, jobs: usize) -> Result<Report, Error> {
    let repo = built.repo();
    let end = expected
        .end
        .unwrap_or_else(|| repo.head().unwrap().peel_to_commit().unwrap().id());
    let options = Options {
        keep_going,
        jobs,
        ..expected.options.clone()
    };
    authenticate(&repo, &expected.introduction, end, &options, &NoProgress)
}

fn assert_failure(
    name: &str,
    e: &Error,
    kind: &str,
    commit: Option<Oid>,
    signer: &Option<Fingerprint>,
) {
    assert_eq!(e.kind(), kind, "{name}: {e}");
    if let Some(commit) = commit {
        assert_eq!(e.commit(), Some(commit), "{name}: {e}");
        assert!(
            e.to_string().contains(&commit.to_string()),
            "{name}: message names the commit: {e}"
        );
    }
    if let Some(signer) = signer {
        assert_eq!(e.fingerprint(), Some(signer), "{name}: {e}");
    }
}

fn check(name: &str) {
    let text = scenario_text(name);
    if let Err(why) = scenario_runnable(&text) {
        eprintln!("SKIPPED {name}: {why}");
        return;
    }
    let built = build_scenario(name);
    let expected = expectations(&built);
    for jobs in [1, 2] {
        let result = run(&built, &expected, false, jobs);
        match (&expected.outcome, &result) {
            (Outcome::Authentic(n), Ok(report)) => {
                assert_eq!(report.checked, *n, "{name}: commits checked");
                assert_eq!(report.signers.iter().map(|(_, c)| c).sum::<usize>(), *n);
            }
            (Outcome::Failure(kind, commit, signer), Err(e)) => {
                assert_failure(name, e, kind, *commit, signer)
            }
            (_, other) => panic!("{name} (jobs {jobs}): unexpected outcome {other:?}"),
        }
        check_keep_going(name, &built, &expected, jobs);
    }
}

/// Checking everything finds the same first failure, and every failure the
/// scenario lists (exactly those).
fn check_keep_going(name: &str, built: &Built, expected: &Expected, jobs: usize) {
    let report = match run(built, expected, true, jobs) {
        Ok(report) => report,
        // Errors that prevent checking are not collected.
        Err(e) if !e.is_authentication_failure() => return,
        Err(e) => panic!("{name}: keep-going returned an authentication failure: {e}"),
    };
    match &expected.outcome {
        Outcome::Authentic(_) => assert!(report.is_authentic(), "{name}: {:?}", report.failures),
        Outcome::Failure(kind, commit, signer) => {
            let first = report
                .failures
                .first()
                .unwrap_or_else(|| panic!("{name}: no failure"));
            assert_failure(name, first, kind, *commit, signer);
        }
    }
    if !expected.all.is_empty() {
        let found: Vec<_> = report
            .failures
            .iter()
            .map(|e| (e.kind().to_owned(), e.commit()))
            .collect();
        let wanted: Vec<_> = expected
            .all
            .iter()
            .map(|(k, c, _)| (k.clone(), *c))
            .collect();
        assert_eq!(found, wanted, "{name}: every failure, oldest first");
    }
}

macro_rules! scenarios {
    ($($test:ident => $file:literal,)*) => {
        $( #[test] fn $test() { check($file); } )*

        /// Every scenario file is run by a test above.
        #[test]
        fn every_scenario_file_has_a_test() {
            let listed = [$($file),*];
            for name in support::scenario_names() {
                assert!(listed.contains(&name.as_str()), "add `{name}` to tests/scenarios.rs");
            }
        }
    };
}

scenarios! {
    attack_authorizations_key_id => "attack-authorizations-key-id",
    attack_authorizations_not_utf8 => "attack-authorizations-not-utf8",
    attack_authorizations_truncated_fingerprint => "attack-authorizations-truncated-fingerprint",
    attack_end_unrelated => "attack-end-unrelated",
    attack_gpg_introduction_wrong_signer => "attack-gpg-introduction-wrong-signer",
    attack_gpg_key_not_in_keyring => "attack-gpg-key-not-in-keyring",
    attack_gpg_merge_one_side => "attack-gpg-merge-one-side",
    attack_gpg_tampered => "attack-gpg-tampered",
    attack_keyring_duplicate_key => "attack-keyring-duplicate-key",
    attack_keyring_empty => "attack-keyring-empty",
    attack_keyring_flood => "attack-keyring-flood",
    attack_keyring_truncated_armor => "attack-keyring-truncated-armor",
    attack_keyring_truncated => "attack-keyring-truncated",
    attack_keyring_unbound_subkey => "attack-keyring-unbound-subkey",
    attack_octopus_merge_authorized => "attack-octopus-merge-authorized",
    attack_octopus_merge => "attack-octopus-merge",
    attack_x509_signed => "attack-x509-signed",
    authorizations_directory => "authorizations-directory",
    authorizations_emptied => "authorizations-emptied",
    authorizations_removed => "authorizations-removed",
    authorizations_symlink => "authorizations-symlink",
    authorized_merge => "authorized-merge",
    end_not_descendant => "end-not-descendant",
    gpg_dsa => "gpg-dsa",
    gpg_linear => "gpg-linear",
    gpg_merge => "gpg-merge",
    gpg_sha1 => "gpg-sha1",
    gpg_subkey => "gpg-subkey",
    gpg_unauthorized => "gpg-unauthorized",
    historical_authorizations => "historical-authorizations",
    historical_unauthorized => "historical-unauthorized",
    introduction_unsigned => "introduction-unsigned",
    introduction_valid => "introduction-valid",
    introduction_wrong_signer => "introduction-wrong-signer",
    key_not_in_keyring => "key-not-in-keyring",
    keyring_formats => "keyring-formats",
    keyring_missing => "keyring-missing",
    keyring_on_master => "keyring-on-master",
    keyring_remote_tracking => "keyring-remote-tracking",
    malformed_authorizations => "malformed-authorizations",
    malformed_key => "malformed-key",
    md5_signature => "md5-signature",
    merge_authorized_one_side => "merge-authorized-one-side",
    multiple_signers => "multiple-signers",
    primary_only_listed => "primary-only-listed",
    sha1_signature_historical => "sha1-signature-historical",
    sha1_introduction => "sha1-introduction",
    sha1_signature => "sha1-signature",
    ssh_signed => "ssh-signed",
    subkey_listed => "subkey-listed",
    tampered_commit => "tampered-commit",
    unauthorized_merge => "unauthorized-merge",
    unauthorized_signer => "unauthorized-signer",
    unsigned_commits => "unsigned-commits",
    wrong_version_authorizations => "wrong-version-authorizations",
}
