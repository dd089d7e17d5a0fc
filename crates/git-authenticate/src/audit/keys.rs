//! Every key of the range: when listed, who added it, what it signed, and
//! what the keyring says of it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use sequoia_openpgp as openpgp;
use sequoia_openpgp::cert::amalgamation::ValidAmalgamation;
use sequoia_openpgp::policy::{HashAlgoSecurity, StandardPolicy};
use sequoia_openpgp::types::{HashAlgorithm, RevocationStatus};

use super::history::History;
use super::{AuditedKey, CommitAt, KeyFacts, Signing};
use crate::openpgp::fingerprint::Fingerprint;
use crate::openpgp::keyring::{Keyring, KeyringKey};
use crate::openpgp::policy::civil_date;

/// A commit's place in the history: its date, then its position
/// (parents before children), to order commits of the same second.
type Place = (i64, usize);

/// What is gathered of a key before it becomes an [`AuditedKey`].
#[derive(Default)]
struct Gathered {
    name: Option<(Place, Option<String>)>,
    first_listed: Option<(Place, CommitAt)>,
    last_listed: Option<(Place, CommitAt)>,
    first_signed: Option<(Place, CommitAt)>,
    last_signed: Option<(Place, CommitAt)>,
    signed: usize,
    per_year: BTreeMap<i64, usize>,
}

/// Keeps `value` in `slot` when it comes earlier (`later` false) or
/// later than what is there.
fn keep<T: Clone>(slot: &mut Option<(Place, T)>, place: Place, value: &T, later: bool) {
    let better = match slot {
        None => true,
        Some((kept, _)) => (place > *kept) == later && place != *kept,
    };
    if better {
        *slot = Some((place, value.clone()));
    }
}

/// Every key the range's files list or whose signatures it holds, in the
/// order they were first listed (keys never listed last).
pub(super) fn audited_keys(history: &History, keyring: &Keyring) -> Vec<AuditedKey> {
    let mut gathered: HashMap<Fingerprint, Gathered> = HashMap::new();
    // Each file's first and last commit, then its keys once.
    let mut spans: HashMap<_, (Place, CommitAt, Place, CommitAt)> = HashMap::new();
    for (i, node) in history.nodes.iter().enumerate() {
        let place = (node.at.time, i);
        if let Some(blob) = node.file {
            let span = spans
                .entry(blob)
                .or_insert((place, node.at, place, node.at));
            if place < span.0 {
                (span.0, span.1) = (place, node.at);
            }
            if place > span.2 {
                (span.2, span.3) = (place, node.at);
            }
        }
        if let Some(signer) = &node.signer {
            let key = gathered.entry(signer.clone()).or_default();
            key.signed += 1;
            *key.per_year.entry(year(node.at.time)).or_default() += 1;
            keep(&mut key.first_signed, place, &node.at, false);
            keep(&mut key.last_signed, place, &node.at, true);
        }
    }
    for (blob, &(first, first_at, last, last_at)) in &spans {
        for listed in &history.versions[blob].keys {
            let key = gathered.entry(listed.fingerprint.clone()).or_default();
            keep(&mut key.first_listed, first, &first_at, false);
            keep(&mut key.last_listed, last, &last_at, true);
            keep(&mut key.name, last, &listed.name, true);
        }
    }
    let mut order: Vec<(Fingerprint, Gathered)> = gathered.into_iter().collect();
    let never = (i64::MAX, usize::MAX);
    order.sort_by_key(|(fpr, key)| {
        let listed = key.first_listed.as_ref().map_or(never, |(place, _)| *place);
        let signed = key.first_signed.as_ref().map_or(never, |(place, _)| *place);
        (listed, signed, fpr.as_bytes().to_vec())
    });
    let at_end: HashSet<Fingerprint> = history.authorized_at_end().into_iter().collect();
    let mut authorizers = authorizers(history);
    let end_time = history.end().time;
    let mut keys = order
        .into_iter()
        .map(|(fingerprint, key)| AuditedKey {
            name: key.name.and_then(|(_, name)| name),
            first_listed: key.first_listed.map(|(_, at)| at),
            last_listed: key.last_listed.map(|(_, at)| at),
            authorized_at_end: at_end.contains(&fingerprint),
            authorized_by: authorizers.remove(&fingerprint),
            signed: Signing {
                count: key.signed,
                first: key.first_signed.map(|(_, at)| at),
                last: key.last_signed.map(|(_, at)| at),
                per_year: key.per_year.into_iter().collect(),
                ..Signing::default()
            },
            keyring: facts(keyring, &fingerprint, end_time),
            fingerprint,
        })
        .collect::<Vec<_>>();
    count_after_expiry(&mut keys, history);
    keys
}

/// Counts the commits each key signed after its expiry, once the keyring
/// has told the expiries.
fn count_after_expiry(keys: &mut [AuditedKey], history: &History) {
    let index: HashMap<Fingerprint, usize> = keys
        .iter()
        .enumerate()
        .filter(|(_, k)| k.keyring.as_ref().is_some_and(|f| f.expires.is_some()))
        .map(|(i, k)| (k.fingerprint.clone(), i))
        .collect();
    for node in &history.nodes {
        let Some(&i) = node.signer.as_ref().and_then(|s| index.get(s)) else {
            continue;
        };
        let key = &mut keys[i];
        let expires = key.keyring.as_ref().and_then(|f| f.expires);
        if expires.is_some_and(|at| node.at.time > at) {
            let signed = &mut key.signed;
            signed.after_expiry += 1;
            if signed
                .first_after_expiry
                .is_none_or(|first| node.at.time < first.time)
            {
                signed.first_after_expiry = Some(node.at);
            }
        }
    }
}

/// Each key's first change (parents before children) listing it, and its
/// signer.
fn authorizers(history: &History) -> HashMap<Fingerprint, (CommitAt, Fingerprint)> {
    let mut first = HashMap::new();
    for change in &history.changes {
        for key in change.added.iter() {
            first
                .entry(key.fingerprint.clone())
                .or_insert_with(|| (change.at, change.signer.clone()));
        }
    }
    first
}

/// The UTC year of a date.
pub(super) fn year(time: i64) -> i64 {
    civil_date(time.div_euclid(86_400)).0
}

/// What the keyring says of `fingerprint` at END's date.
fn facts(keyring: &Keyring, fingerprint: &Fingerprint, at: i64) -> Option<KeyFacts> {
    let key = *keyring.by_fingerprint(fingerprint).first()?;
    let material = key.key();
    let (expires, revoked) = validity(keyring, key, at);
    Some(KeyFacts {
        primary: key.primary().clone(),
        subkey: key.is_subkey(),
        algorithm: material.pk_algo().to_string(),
        bits: material.mpis().bits(),
        created: seconds(material.creation_time()),
        expires,
        revoked,
        file: key.file().to_owned(),
    })
}

/// The key's expiry and whether it (or its certificate) is revoked, as
/// its self-signatures valid at `at` say. Old keys' self-signatures use
/// SHA-1, which sequoia's standard policy no longer accepts: it is
/// accepted here, where nothing is authenticated.
fn validity(keyring: &Keyring, key: &KeyringKey, at: i64) -> (Option<i64>, bool) {
    let Some(certificate) = keyring.certificate(key.fingerprint()) else {
        return (None, false);
    };
    let mut policy = StandardPolicy::new();
    policy.accept_hash_property(
        HashAlgorithm::SHA1,
        HashAlgoSecurity::SecondPreImageResistance,
    );
    policy.accept_hash_property(HashAlgorithm::SHA1, HashAlgoSecurity::CollisionResistance);
    let time = UNIX_EPOCH + std::time::Duration::from_secs(at.max(0) as u64);
    let Ok(valid) = certificate.with_policy(&policy, time) else {
        return (None, false);
    };
    let handle = openpgp::KeyHandle::from(key.key().fingerprint());
    let Some(bound) = valid.keys().key_handle(handle).next() else {
        return (None, false);
    };
    let revoked = matches!(valid.revocation_status(), RevocationStatus::Revoked(_))
        || matches!(bound.revocation_status(), RevocationStatus::Revoked(_));
    (bound.key_expiration_time().map(seconds), revoked)
}

fn seconds(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
