//! What looks wrong in how a channel's keys are managed.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use git2::Oid;
use sequoia_openpgp::types::PublicKeyAlgorithm;

use super::history::History;
use super::{AuditOptions, AuditedKey, Line};
use crate::channel::introduction::Introduction;
use crate::openpgp::fingerprint::Fingerprint;
use crate::openpgp::keyring::Keyring;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Worth acting on.
    Warning,
    /// A key that should not sign may: act now (a revoked key still
    /// authorized).
    Critical,
}

impl Severity {
    /// Its name in lower case (`info`, `warning`, `critical`).
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// What was found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FindingKind {
    /// The key was authorized but signed no commit of the range.
    NeverUsed,
    /// The key is still authorized but signed nothing for longer than
    /// [`AuditOptions::dormant_after`] before END.
    Dormant {
        /// The date of its last commit.
        last_signed: i64,
    },
    /// The key, still authorized, expires soon after END's date.
    ExpiresSoon {
        /// When.
        at: i64,
    },
    /// The key expired (before END's date) but is still authorized: the
    /// rule still accepts its signatures.
    ExpiredButAuthorized {
        /// When.
        at: i64,
    },
    /// The key signed commits dated after its expiry: Guix's rule accepts
    /// them, the strict policy refuses them.
    SignedAfterExpiry {
        /// How many.
        commits: usize,
    },
    /// The key or its certificate is revoked but is still authorized.
    RevokedButAuthorized,
    /// The key's algorithm is weak (RSA under 2048 bits, DSA, ElGamal).
    WeakAlgorithm {
        /// The algorithm.
        algorithm: String,
        /// Its size, if it has one.
        bits: Option<usize>,
    },
    /// The key is authorized at END but not in the keyring: it cannot sign.
    NotInKeyring,
    /// Only one key is authorized at END: it alone can sign anything.
    SingleKey,
    /// No key is authorized at END: nobody can sign a child of END.
    NoKey,
    /// The introduction's key is still authorized at END.
    IntroductionKeyAuthorized,
    /// The introduction's key is no longer authorized at END.
    IntroductionKeyRemoved,
    /// A certificate of the keyring of which no key was ever authorized.
    UnauthorizedKeyringKey,
    /// `.guix-authorizations` was changed on a merged side branch.
    SideBranchChange,
    /// A `.guix-authorizations` in the range is malformed.
    MalformedAuthorizations,
}

impl FindingKind {
    /// A short stable name (`never-used`, `dormant`…), as in the JSON.
    pub fn name(&self) -> &'static str {
        match self {
            FindingKind::NeverUsed => "never-used",
            FindingKind::Dormant { .. } => "dormant",
            FindingKind::ExpiresSoon { .. } => "expires-soon",
            FindingKind::ExpiredButAuthorized { .. } => "expired-but-authorized",
            FindingKind::SignedAfterExpiry { .. } => "signed-after-expiry",
            FindingKind::RevokedButAuthorized => "revoked-but-authorized",
            FindingKind::WeakAlgorithm { .. } => "weak-algorithm",
            FindingKind::NotInKeyring => "not-in-keyring",
            FindingKind::SingleKey => "single-key",
            FindingKind::NoKey => "no-key",
            FindingKind::IntroductionKeyAuthorized => "introduction-key-authorized",
            FindingKind::IntroductionKeyRemoved => "introduction-key-removed",
            FindingKind::UnauthorizedKeyringKey => "unauthorized-keyring-key",
            FindingKind::SideBranchChange => "side-branch-change",
            FindingKind::MalformedAuthorizations => "malformed-authorizations",
        }
    }
}

/// One finding: what, how much it matters, and the keys and commits
/// concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// How much it matters.
    pub severity: Severity,
    /// What was found.
    pub kind: FindingKind,
    /// The keys concerned.
    pub keys: Vec<Fingerprint>,
    /// The commits concerned.
    pub commits: Vec<Oid>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let date = |t: &i64| super::date(*t);
        match &self.kind {
            FindingKind::NeverUsed => f.write_str("authorized but signed no commit"),
            FindingKind::Dormant { last_signed } => {
                write!(f, "still authorized, last signed on {}", date(last_signed))
            }
            FindingKind::ExpiresSoon { at } => {
                write!(f, "still authorized, expires on {}", date(at))
            }
            FindingKind::ExpiredButAuthorized { at } => {
                write!(f, "expired on {} but still authorized", date(at))
            }
            FindingKind::SignedAfterExpiry { commits } => write!(
                f,
                "signed {commits} commits after its expiry (the strict policy refuses them)"
            ),
            FindingKind::RevokedButAuthorized => f.write_str("revoked but still authorized"),
            FindingKind::WeakAlgorithm { algorithm, bits } => match bits {
                Some(bits) => write!(f, "weak algorithm {algorithm} {bits} bits"),
                None => write!(f, "weak algorithm {algorithm}"),
            },
            FindingKind::NotInKeyring => f.write_str("authorized but not in the keyring"),
            FindingKind::SingleKey => f.write_str("a single authorized key: it alone can sign"),
            FindingKind::NoKey => f.write_str("no key authorized at END: nobody can sign"),
            FindingKind::IntroductionKeyAuthorized => {
                f.write_str("the introduction's key is still authorized")
            }
            FindingKind::IntroductionKeyRemoved => {
                f.write_str("the introduction's key is no longer authorized")
            }
            FindingKind::UnauthorizedKeyringKey => {
                f.write_str("in the keyring but never authorized")
            }
            FindingKind::SideBranchChange => {
                f.write_str(".guix-authorizations changed on a merged side branch")
            }
            FindingKind::MalformedAuthorizations => f.write_str("malformed .guix-authorizations"),
        }
    }
}

/// Everything that looks wrong, most severe first.
pub(super) fn find(
    history: &History,
    keys: &[AuditedKey],
    keyring: &Keyring,
    introduction: &Introduction,
    options: &AuditOptions,
) -> Vec<Finding> {
    let end = history.end().time;
    let mut found = Vec::new();
    for key in keys {
        found.extend(key_findings(key, end, options));
    }
    found.extend(authorized_set(history, introduction));
    found.extend(unauthorized_keyring_keys(keyring, keys));
    for change in &history.changes {
        let keys = || {
            let both = change.added.iter().chain(change.removed.iter());
            both.map(|k| k.fingerprint.clone()).collect()
        };
        if change.line == Line::SideBranch {
            found.push(finding(
                Severity::Warning,
                FindingKind::SideBranchChange,
                keys(),
                vec![change.at.commit],
            ));
        }
        if change.malformed {
            found.push(finding(
                Severity::Warning,
                FindingKind::MalformedAuthorizations,
                vec![],
                vec![change.at.commit],
            ));
        }
    }
    // Stable: within a severity, in the order found.
    found.sort_by_key(|f| std::cmp::Reverse(f.severity));
    found
}

fn finding(
    severity: Severity,
    kind: FindingKind,
    keys: Vec<Fingerprint>,
    commits: Vec<Oid>,
) -> Finding {
    Finding {
        severity,
        kind,
        keys,
        commits,
    }
}

/// What is wrong with one key.
fn key_findings(key: &AuditedKey, end: i64, options: &AuditOptions) -> Vec<Finding> {
    let mut found = Vec::new();
    let current = key.authorized_at_end;
    // Keys that still may sign matter more than keys of the past.
    let (now, past) = match current {
        true => (Severity::Warning, Severity::Info),
        false => (Severity::Info, Severity::Info),
    };
    let mut add = |severity, kind, commits: Vec<Oid>| {
        found.push(finding(
            severity,
            kind,
            vec![key.fingerprint.clone()],
            commits,
        ));
    };
    let listed = key.first_listed.is_some();
    match &key.signed.last {
        None if listed => add(
            now,
            FindingKind::NeverUsed,
            key.authorized_by.iter().map(|(at, _)| at.commit).collect(),
        ),
        Some(last) if current && end - last.time > secs(options.dormant_after) => add(
            Severity::Warning,
            FindingKind::Dormant {
                last_signed: last.time,
            },
            vec![last.commit],
        ),
        _ => {}
    }
    let Some(facts) = &key.keyring else {
        if current {
            add(Severity::Warning, FindingKind::NotInKeyring, vec![]);
        }
        return found;
    };
    if current {
        if facts.revoked {
            add(
                Severity::Critical,
                FindingKind::RevokedButAuthorized,
                vec![],
            );
        }
        match facts.expires {
            // As the doctor says: Guix's rule ignores expiry, gpg and the
            // strict policy do not.
            Some(at) if at <= end => add(
                Severity::Warning,
                FindingKind::ExpiredButAuthorized { at },
                vec![],
            ),
            Some(at) if at - end <= secs(options.expiry_warning) => {
                add(Severity::Warning, FindingKind::ExpiresSoon { at }, vec![])
            }
            _ => {}
        }
    }
    if let Some(first) = key.signed.first_after_expiry {
        let commits = key.signed.after_expiry;
        add(
            Severity::Info,
            FindingKind::SignedAfterExpiry { commits },
            vec![first.commit],
        );
    }
    if is_weak(&facts.algorithm, facts.bits) {
        let kind = FindingKind::WeakAlgorithm {
            algorithm: facts.algorithm.clone(),
            bits: facts.bits,
        };
        add(if current { now } else { past }, kind, vec![]);
    }
    found
}

fn secs(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// RSA under 2048 bits, DSA and ElGamal.
fn is_weak(algorithm: &str, bits: Option<usize>) -> bool {
    let named = |a: PublicKeyAlgorithm| a.to_string() == algorithm;
    #[allow(deprecated)]
    let rsa = [
        PublicKeyAlgorithm::RSAEncryptSign,
        PublicKeyAlgorithm::RSASign,
        PublicKeyAlgorithm::RSAEncrypt,
    ];
    #[allow(deprecated)]
    let weak = [
        PublicKeyAlgorithm::DSA,
        PublicKeyAlgorithm::ElGamalEncryptSign,
        PublicKeyAlgorithm::ElGamalEncrypt,
    ];
    (rsa.into_iter().any(named) && bits.is_some_and(|b| b < 2048)) || weak.into_iter().any(named)
}

/// Who may sign END's children, and whether the introduction's key still
/// may.
fn authorized_set(history: &History, introduction: &Introduction) -> Vec<Finding> {
    let at_end = history.authorized_at_end();
    let end = vec![history.end().commit];
    let mut found = Vec::new();
    match at_end.len() {
        0 => found.push(finding(
            Severity::Warning,
            FindingKind::NoKey,
            vec![],
            end.clone(),
        )),
        1 => found.push(finding(
            Severity::Warning,
            FindingKind::SingleKey,
            at_end.clone(),
            end.clone(),
        )),
        _ => {}
    }
    let kind = match at_end.contains(&introduction.signer) {
        true => FindingKind::IntroductionKeyAuthorized,
        false => FindingKind::IntroductionKeyRemoved,
    };
    found.push(finding(
        Severity::Info,
        kind,
        vec![introduction.signer.clone()],
        vec![introduction.commit],
    ));
    found
}

/// The keyring's certificates none of whose keys was ever listed or
/// signed, by primary fingerprint.
fn unauthorized_keyring_keys(keyring: &Keyring, keys: &[AuditedKey]) -> Vec<Finding> {
    let known: HashSet<&Fingerprint> = keys.iter().map(|k| &k.fingerprint).collect();
    let mut certificates: BTreeMap<&Fingerprint, bool> = BTreeMap::new();
    for key in keyring.keys() {
        *certificates.entry(key.primary()).or_default() |= known.contains(key.fingerprint());
    }
    certificates
        .into_iter()
        .filter(|(_, authorized)| !authorized)
        .map(|(primary, _)| {
            finding(
                Severity::Info,
                FindingKind::UnauthorizedKeyringKey,
                vec![primary.clone()],
                vec![],
            )
        })
        .collect()
}
