//! Running a scenario: what its expectation lines (`introduction`, `end`,
//! `historical`, `keyring-ref`, `expect`, `expect-all`) say must happen,
//! checked on one and two threads, stopping at the first failure and going
//! on past failures.

use git2::Oid;
use git_authenticate::{
    authenticate, Authorizations, Cache, Error, Fingerprint, Introduction, NoProgress, Options,
    Report,
};

use super::{build_scenario_text, key, Built};

/// What a scenario says about itself.
pub struct Expected {
    pub introduction: Introduction,
    pub end: Option<Oid>,
    pub options: Options,
    pub outcome: Outcome,
    /// With `keep_going`: (kind, commit) of every failure, in the order Guix checks the commits.
    pub all: Vec<(String, Option<Oid>)>,
}

#[derive(Debug)]
pub enum Outcome {
    Authentic(usize),
    /// Kind, commit, and the fingerprint the error names.
    Failure(String, Option<Oid>, Option<Fingerprint>),
}

pub fn fingerprint(key_name: &str) -> Fingerprint {
    key(key_name).signing_fpr.parse().unwrap()
}

pub fn expectations(built: &Built) -> Expected {
    let mut introduction = None;
    let mut end = None;
    let mut options = Options::default();
    let mut outcome = None;
    let mut all = Vec::new();
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
                outcome = Some(Outcome::Failure(
                    words[1].clone(),
                    words.get(2).map(|l| built.oid(l)),
                    words.get(3).map(|k| fingerprint(k)),
                ))
            }
            "expect-all" => all.push((words[1].clone(), words.get(2).map(|l| built.oid(l)))),
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

pub fn end_of(built: &Built, expected: &Expected) -> Oid {
    expected
        .end
        .unwrap_or_else(|| built.repo().head().unwrap().peel_to_commit().unwrap().id())
}

pub fn run_with(built: &Built, expected: &Expected, options: Options) -> Result<Report, Error> {
    authenticate(
        &built.repo(),
        &expected.introduction,
        end_of(built, expected),
        &options,
        &NoProgress,
    )
}

pub fn assert_failure(name: &str, e: &Error, want: &Outcome) {
    let Outcome::Failure(kind, commit, signer) = want else {
        panic!("{name}: expected authentic, got {e}");
    };
    assert_eq!(e.kind(), kind, "{name}: {e}");
    if let Some(commit) = commit {
        assert_eq!(e.commit(), Some(*commit), "{name}: {e}");
        assert!(
            e.to_string().contains(&commit.to_string()),
            "{name}: the message names the commit: {e}"
        );
    }
    if let Some(signer) = signer {
        assert_eq!(e.fingerprint(), Some(signer), "{name}: {e}");
    }
    assert!(
        e.is_authentication_failure()
            || matches!(kind.as_str(), "keyring-missing" | "malformed-key"),
        "{name}: {e}"
    );
}

/// Builds `text` and checks what its expectation lines say, on one and two
/// threads, stopping at the first failure and going on past failures.
/// Fails when the machine lacks the gpg, ssh-keygen or gpgsm it signs with.
pub fn check(name: &str, text: &str) -> Built {
    let built = build_scenario_text(text);
    check_built(name, &built);
    built
}

pub fn check_built(name: &str, built: &Built) {
    let expected = expectations(built);
    for jobs in [1, 2] {
        let options = Options {
            jobs,
            ..expected.options.clone()
        };
        match (
            &expected.outcome,
            run_with(built, &expected, options.clone()),
        ) {
            (Outcome::Authentic(n), Ok(report)) => {
                assert!(report.is_authentic(), "{name}: {:?}", report.failures);
                assert_eq!(report.checked, *n, "{name}: commits checked");
                let counted: usize = report.signers.iter().map(|(_, c)| c).sum();
                assert_eq!(counted, *n, "{name}: signer counts");
            }
            (Outcome::Failure(..), Err(e)) => {
                if let Some(report) = e.report() {
                    assert_eq!(report.failures.len(), 1, "{name}: the first failure only");
                }
                assert_failure(name, &e, &expected.outcome)
            }
            (want, got) => panic!("{name} (jobs {jobs}): expected {want:?}, got {got:?}"),
        }
        let keep_going = Options {
            keep_going: true,
            ..options
        };
        match run_with(built, &expected, keep_going) {
            Ok(report) => match &expected.outcome {
                Outcome::Authentic(_) => assert!(report.is_authentic(), "{name}"),
                want => panic!("{name}: keep-going found no failure, expected {want:?}"),
            },
            Err(e @ Error::NotAuthentic(_)) => {
                assert_failure(name, &e, &expected.outcome);
                let report = e
                    .report()
                    .expect("a history found not authentic has a report");
                if !expected.all.is_empty() {
                    let found: Vec<_> = report
                        .failures
                        .iter()
                        .map(|f| (f.kind().to_owned(), Some(f.commit())))
                        .collect();
                    assert_eq!(
                        found, expected.all,
                        "{name}: every failure, in the order Guix checks the commits"
                    );
                }
            }
            Err(e) => assert_failure(name, &e, &expected.outcome),
        }
    }
}

/// The introduction of the small test histories: commit `first`, signed by
/// alice.
pub fn first_by_alice(built: &Built) -> Introduction {
    Introduction {
        commit: built.oid("first"),
        signer: fingerprint("alice"),
    }
}

/// Authenticates from [`first_by_alice`] up to `end`, with `options`.
pub fn run_from_first(built: &Built, end: Oid, options: &Options) -> Result<Report, Error> {
    authenticate(
        &built.repo(),
        &first_by_alice(built),
        end,
        options,
        &NoProgress,
    )
}

/// Authenticates from [`first_by_alice`] up to `end`, with `cache`.
pub fn run_cached(built: &Built, end: Oid, cache: &Cache) -> Result<Report, Error> {
    let options = Options {
        cache: Some(cache.clone()),
        ..Options::default()
    };
    run_from_first(built, end, &options)
}
