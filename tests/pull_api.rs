//! What pull tooling gets beyond a verdict: the report of a history found
//! not authentic, a per-commit observer and the phases of a run, an
//! interrupt flag, a keyring and a repository opener of its own, one
//! commit authenticated alone, and a commit's authorizations.

use crate::support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use git_authenticate::git2::{Oid, Repository};
use git_authenticate::{
    authenticate, authenticate_commit, Authorizations, Cache, Error, Failure, Fingerprint, Keyring,
    NoProgress, Opener, Options, Phase, Progress, Report,
};
use support::expect::{fingerprint, first_by_alice};
use support::{build_scenario_text, Built};

/// Four commits after the introduction; `unsigned` is not signed.
const HISTORY: &str = r#"
keyring alice bob
authorize alice
commit first alice
write a.txt "A"
commit second alice
write b.txt "B"
commit unsigned
write c.txt "C"
commit fourth alice
write d.txt "D"
commit fifth alice
"#;

fn run(
    built: &Built,
    end: &str,
    options: &Options,
    progress: &dyn Progress,
) -> Result<Report, Error> {
    let repo = built.repo();
    authenticate(
        &repo,
        &first_by_alice(built),
        built.oid(end),
        options,
        progress,
    )
}

#[test]
fn a_history_found_not_authentic_comes_with_its_report() {
    let built = build_scenario_text(HISTORY);
    let error = run(&built, "fifth", &Options::default(), &NoProgress).unwrap_err();
    let report = error.report().expect("not authentic: a report");
    assert_eq!(
        report.checked, 4,
        "every commit after the introduction was checked"
    );
    assert_eq!(report.signers, vec![(fingerprint("alice"), 3)]);
    assert_eq!(
        report.failures.len(),
        1,
        "the first failure, without keep_going"
    );
    assert!(matches!(
        &report.failures[0],
        Failure::Unsigned { commit, .. } if *commit == built.oid("unsigned")
    ));
    assert!(error.is_authentication_failure());
    assert_eq!(error.kind(), "unsigned");
}

/// Everything a run tells its progress.
#[derive(Default)]
struct Recorder {
    phases: Mutex<Vec<Phase>>,
    checked: Mutex<Vec<(Oid, Result<Fingerprint, String>)>>,
    interrupt_after: Option<Arc<AtomicBool>>,
}

impl Progress for Recorder {
    fn phase(&self, phase: Phase) {
        self.phases.lock().unwrap().push(phase);
    }

    fn checked(&self, commit: Oid, outcome: Result<&Fingerprint, &Failure>) {
        let outcome = outcome.cloned().map_err(|f| f.kind().to_owned());
        self.checked.lock().unwrap().push((commit, outcome));
        if let Some(flag) = &self.interrupt_after {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

#[test]
fn the_observer_is_told_each_commit_and_the_phases_in_order() {
    let built = build_scenario_text(HISTORY);
    let recorder = Recorder::default();
    let options = Options {
        keep_going: true,
        ..Options::default()
    };
    run(&built, "fifth", &options, &recorder).unwrap_err();
    let mut checked = recorder.checked.into_inner().unwrap();
    checked.sort_by_key(|(commit, _)| *commit);
    let alice = || Ok(fingerprint("alice"));
    let mut expected = vec![
        (built.oid("second"), alice()),
        (built.oid("unsigned"), Err("unsigned".to_owned())),
        (built.oid("fourth"), alice()),
        (built.oid("fifth"), alice()),
    ];
    expected.sort_by_key(|(commit, _)| *commit);
    assert_eq!(checked, expected);
    assert_eq!(
        recorder.phases.into_inner().unwrap(),
        [
            Phase::LoadingKeyring,
            Phase::FindingKnownCommits,
            Phase::Walking,
            Phase::Checking,
            Phase::Settling,
        ]
    );
}

#[test]
fn an_interrupted_run_stops_and_records_nothing() {
    let built = build_scenario_text(HISTORY);
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::in_directory(dir.path(), "interrupted").unwrap();
    let flag = Arc::new(AtomicBool::new(false));
    let options = Options {
        interrupt: Some(flag.clone()),
        cache: Some(cache.clone()),
        jobs: 1,
        ..Options::default()
    };
    // Set by the observer once the first commit is checked: the walk or a
    // checking thread sees it before the last commit.
    let recorder = Recorder {
        interrupt_after: Some(flag.clone()),
        ..Recorder::default()
    };
    let error = run(&built, "fifth", &options, &recorder).unwrap_err();
    assert!(matches!(error, Error::Interrupted), "{error}");
    assert_eq!(error.kind(), "interrupted");
    assert!(!error.is_authentication_failure());
    assert!(!cache.path().exists(), "nothing recorded");
    flag.store(false, Ordering::Relaxed);
    let report = run(&built, "second", &options, &NoProgress).unwrap();
    assert!(report.is_authentic(), "the flag cleared, the run goes on");
    assert!(cache.path().exists());
}

#[test]
fn a_keyring_of_the_callers_own_is_used_instead_of_the_branch() {
    let built = build_scenario_text(HISTORY);
    let keyring = Keyring::load(&built.repo(), "keyring").unwrap();
    let options = Options {
        keyring: Some(Arc::new(keyring)),
        keyring_reference: "no-such-branch".into(),
        ..Options::default()
    };
    let report = run(&built, "second", &options, &NoProgress).unwrap();
    assert_eq!(report.checked, 1);
    let without = Options {
        keyring_reference: "no-such-branch".into(),
        ..Options::default()
    };
    let error = run(&built, "second", &without, &NoProgress).unwrap_err();
    assert_eq!(error.kind(), "keyring-missing");
}

#[test]
fn checking_threads_open_the_repository_with_the_callers_opener() {
    let built = build_scenario_text(HISTORY);
    let opened = Arc::new(AtomicUsize::new(0));
    let path = built.repo().path().to_owned();
    let counter = opened.clone();
    let options = Options {
        opener: Opener::With(Arc::new(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            Repository::open(&path)
        })),
        jobs: 2,
        ..Options::default()
    };
    let report = run(&built, "second", &options, &NoProgress).unwrap();
    assert!(report.is_authentic());
    assert!(opened.load(Ordering::Relaxed) >= 1);
    let failing = Options {
        opener: Opener::With(Arc::new(|| Repository::open("/nonexistent/repository"))),
        ..Options::default()
    };
    let error = run(&built, "second", &failing, &NoProgress).unwrap_err();
    assert_eq!(error.kind(), "git", "{error}");
}

#[test]
fn one_commit_is_authenticated_alone() {
    let built = build_scenario_text(HISTORY);
    let repo = built.repo();
    let keyring = Keyring::load(&repo, "keyring").unwrap();
    let options = Options::default();
    let signer = authenticate_commit(&repo, built.oid("fourth"), &keyring, &options).unwrap();
    assert_eq!(signer, fingerprint("alice"));
    // As for a history, not authentic is an error carrying the failure.
    let refused =
        authenticate_commit(&repo, built.oid("unsigned"), &keyring, &options).unwrap_err();
    assert!(refused.is_authentication_failure(), "{refused:?}");
    assert!(
        matches!(&refused, Error::CommitNotAuthentic(f) if matches!(**f, Failure::Unsigned { .. })),
        "{refused:?}"
    );
    assert_eq!(refused.kind(), "unsigned");
    assert_eq!(refused.commit(), Some(built.oid("unsigned")));
    let missing = Oid::from_str("0123456789012345678901234567890123456789").unwrap();
    let error = authenticate_commit(&repo, missing, &keyring, &options).unwrap_err();
    assert_eq!(error.kind(), "missing-object");
}

#[test]
fn a_commits_authorizations_are_read_as_the_rule_reads_them() {
    let built = build_scenario_text(
        r#"
        keyring alice
        write a.txt "A"
        commit before alice
        authorize alice bob
        commit after alice
        "#,
    );
    let repo = built.repo();
    assert_eq!(
        Authorizations::at_commit(&repo, built.oid("before")).unwrap(),
        None
    );
    let listed = Authorizations::at_commit(&repo, built.oid("after"))
        .unwrap()
        .unwrap();
    assert!(listed.contains(&fingerprint("alice")) && listed.contains(&fingerprint("bob")));
    assert_eq!(listed.len(), 2);
}
