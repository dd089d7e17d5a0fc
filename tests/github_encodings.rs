//! Channels merged on GitHub: GitHub's "web-flow" key and the commits it
//! signs encode multiprecision integers (MPIs) with a bit count above the
//! value's (2048 bits for a value of 2046), which RFC 4880 calls
//! ill-formed and Guix (`get-mpi` in guix/openpgp.scm), like GnuPG,
//! accepts. Keys and signatures are made here by the real gpg, then
//! rewritten with such counts:
//!
//! - a history mixing GitHub-style commits with ordinary ones, merged the
//!   way GitHub merges (a merge commit signed by a web-flow-style key that
//!   `.guix-authorizations` lists): accepted, counted as GnuPG counts;
//! - a count understating the value, or overrunning the packet, judged as
//!   Guix judges it (a short read accepted, nothing to read refused);
//! - fingerprints from the key packet as published (as Guix computes
//!   them; GnuPG re-encodes the key first, so they differ when the key's
//!   own MPIs are not canonical);
//! - the strict policy refuses such encodings, and says so;
//! - an indented `-----BEGIN` line and a missing key named by key ID are
//!   reported as what they are.
//!
//! The same encodings are compared with Guix's own code in
//! `guix_differential::github_encodings_are_judged_as_guix_judges_them`.

use crate::support;

use std::process::Stdio;

use git_authenticate::git2::{Oid, Repository};
use git_authenticate::{
    authenticate, ArmorError, Error, Failure, Fingerprint, Introduction, Issuer, KeyProblem,
    KeyringError, MpiProblem, NoProgress, NonCanonical, Options, Policy, PolicyRefusal, Report,
};
use sequoia_openpgp as openpgp;

use openpgp::types::HashAlgorithm;
use support::objects::{self, Person};
use support::{build_scenario_text, key, Built, GpgHome, Home};

use crate::guix_signatures::dearmor;

/// Commits are made at 2023-11-14T22:13:20Z, the web-flow key at
/// 2020-09-13T12:26:40Z.
const COMMIT_TIME: i64 = 1_700_000_000;
const KEY_TIME: i64 = 1_600_000_000;

const AUTHOR: Person = Person {
    name: support::builder::AUTHOR_NAME,
    email: support::builder::AUTHOR_EMAIL,
    time: COMMIT_TIME,
};

/// How a test writes an MPI whose canonical octets are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// As RFC 4880 says: the value's bits.
    Canonical,
    /// GitHub's: the bits of all its octets (2048 for a value of 2046), a
    /// leading zero octet added when the value fills its top octet.
    Overstated,
    /// One octet fewer than the value's: Guix reads the value short and
    /// what follows from its last octet.
    Understated,
    /// One octet more than the packet holds: Guix reads what remains.
    Overrun,
    /// The count alone, the packet ending before its octets.
    NoOctets,
    /// The bits of its octets after that many leading zero octets.
    Padded(usize),
}

/// The MPI of `octets` (canonical: no leading zero) written as `count`
/// says.
fn write_mpi(octets: &[u8], count: Count) -> Vec<u8> {
    let bits = |octets: &[u8]| octets.len() * 8 - octets[0].leading_zeros() as usize;
    let (bits, octets) = match count {
        Count::Canonical => (bits(octets), octets.to_vec()),
        Count::Overstated if octets[0] & 0x80 == 0 => (octets.len() * 8, octets.to_vec()),
        Count::Overstated => ((octets.len() + 1) * 8, [&[0], octets].concat()),
        Count::Understated => ((octets.len() - 1) * 8, octets.to_vec()),
        Count::Overrun => ((octets.len() + 1) * 8, octets.to_vec()),
        Count::NoOctets => (bits(octets), Vec::new()),
        Count::Padded(zeros) => {
            let padded = [&vec![0; zeros][..], octets].concat();
            (padded.len() * 8, padded)
        }
    };
    [&(bits as u16).to_be_bytes()[..], &octets].concat()
}

/// The packets of `data` (tag, body), as gpg writes them (definite
/// lengths).
fn packets(mut data: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some((&first, rest)) = data.split_first() {
        let (tag, length, header) = if first & 0x40 != 0 {
            let (length, used) = match rest[0] {
                o1 @ 0..=191 => (usize::from(o1), 1),
                o1 @ 192..=223 => (
                    ((usize::from(o1) - 192) << 8) + usize::from(rest[1]) + 192,
                    2,
                ),
                255 => (
                    u32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize,
                    5,
                ),
                _ => panic!("gpg writes no partial lengths here"),
            };
            (first & 0x3f, length, used)
        } else {
            let used = [1, 2, 4][usize::from(first & 3)];
            let length = rest[..used]
                .iter()
                .fold(0, |v, &b| (v << 8) | usize::from(b));
            ((first >> 2) & 0x0f, length, used)
        };
        out.push((tag, rest[header..header + length].to_vec()));
        data = &rest[header + length..];
    }
    out
}

/// A new-format packet (five-octet length).
fn packet(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0xc0 | tag, 0xff];
    out.extend((body.len() as u32).to_be_bytes());
    out.extend(body);
    out
}

/// The last MPI of `body` starting at `at`, which holds MPIs only:
/// (where it starts, its octets).
fn last_mpi(body: &[u8], mut at: usize) -> (usize, Vec<u8>) {
    loop {
        let bits = usize::from(u16::from_be_bytes([body[at], body[at + 1]]));
        let end = at + 2 + bits.div_ceil(8);
        if end == body.len() {
            return (at, body[at + 2..].to_vec());
        }
        at = end;
    }
}

/// A v4 signature body whose last MPI (an RSA signature's only one) is
/// written as `count` says.
fn rewrite_signature_body(body: &[u8], count: Count) -> Vec<u8> {
    let u16_at = |at: usize| usize::from(u16::from_be_bytes([body[at], body[at + 1]]));
    assert_eq!(body[0], 4, "a v4 signature");
    let hashed = u16_at(4);
    let start = 10 + hashed + u16_at(6 + hashed);
    let (at, octets) = last_mpi(body, start);
    [&body[..at], &write_mpi(&octets, count)].concat()
}

/// A v4 signature body whose MPIs (an EdDSA signature's R and S) are
/// written as `counts` say, one each.
fn rewrite_every_mpi(body: &[u8], counts: &[Count]) -> Vec<u8> {
    let u16_at = |at: usize| usize::from(u16::from_be_bytes([body[at], body[at + 1]]));
    let hashed = u16_at(4);
    let mut at = 10 + hashed + u16_at(6 + hashed);
    let mut out = body[..at].to_vec();
    for &count in counts {
        let end = at + 2 + u16_at(at).div_ceil(8);
        out.extend(write_mpi(&body[at + 2..end], count));
        at = end;
    }
    assert_eq!(at, body.len(), "one count for each MPI");
    out
}

/// An armored signature whose MPIs are written as `counts` say.
pub fn rewrite_every_signature_mpi(armored: &str, counts: &[Count]) -> String {
    let packets = packets(&dearmor(armored));
    let body = rewrite_every_mpi(&packets[0].1, counts);
    armor(&packet(2, &body), openpgp::armor::Kind::Signature)
}

/// A v4 RSA key body whose exponent (its last MPI) is written as `count`
/// says.
fn rewrite_key_body(body: &[u8], count: Count) -> Vec<u8> {
    assert_eq!((body[0], body[5]), (4, 1), "a v4 RSA key");
    let (at, octets) = last_mpi(body, 6);
    [&body[..at], &write_mpi(&octets, count)].concat()
}

/// `packets` in one armor block of `kind`, with its checksum.
pub fn armor(packets: &[u8], kind: openpgp::armor::Kind) -> String {
    let mut writer = openpgp::armor::Writer::new(Vec::new(), kind).unwrap();
    std::io::Write::write_all(&mut writer, packets).unwrap();
    String::from_utf8(writer.finalize().unwrap()).unwrap()
}

/// An armored signature whose signature packet's MPI is written as
/// `count` says (the armor's checksum recomputed).
pub fn rewrite_signature(armored: &str, count: Count) -> String {
    let packets = packets(&dearmor(armored));
    assert_eq!(packets.len(), 1);
    let body = rewrite_signature_body(&packets[0].1, count);
    armor(&packet(2, &body), openpgp::armor::Kind::Signature)
}

/// A key made by the real gpg, the way GitHub's web-flow key is: RSA,
/// signing only.
pub struct WebFlow {
    pub home: GpgHome,
    /// The fingerprint gpg gives it.
    pub fingerprint: String,
    /// `gpg --export`: binary, canonical.
    pub exported: Vec<u8>,
}

impl WebFlow {
    pub fn new() -> WebFlow {
        let home = GpgHome::new();
        let generated = home
            .command()
            .args(["--faked-system-time", &format!("{KEY_TIME}!")])
            .args(["--passphrase", "", "--pinentry-mode", "loopback"])
            .args([
                "--quick-gen-key",
                "GitHub (web-flow commit signing) <noreply@github.com>",
            ])
            .args(["rsa2048", "sign", "never"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        support::success_output(generated, "gpg --quick-gen-key");
        let exported = home
            .command()
            .args(["--export", "noreply@github.com"])
            .output()
            .unwrap()
            .stdout;
        let fingerprint = gnupg_fingerprint(&home, &exported).expect("gpg reads its own key");
        WebFlow {
            home,
            fingerprint,
            exported,
        }
    }

    /// The key file as published: the key's exponent and its
    /// self-signature written as told, ASCII-armored.
    pub fn published(&self, key: Count, self_signature: Count) -> Vec<u8> {
        let mut out = Vec::new();
        for (tag, body) in packets(&self.exported) {
            let body = match tag {
                6 => rewrite_key_body(&body, key),
                2 => rewrite_signature_body(&body, self_signature),
                _ => body,
            };
            out.extend(packet(tag, &body));
        }
        armor(&out, openpgp::armor::Kind::PublicKey).into_bytes()
    }

    /// A signature by the key over `data` (made by sequoia with the secret
    /// key gpg exports) naming it by `fingerprint` (and its key ID), its
    /// MPI written as `count` says.
    pub fn sign_naming(&self, data: &[u8], fingerprint: &str, count: Count) -> String {
        use openpgp::parse::Parse;
        let secret = self
            .home
            .command()
            .args(["--pinentry-mode", "loopback", "--passphrase", ""])
            .args(["--export-secret-keys", &self.fingerprint])
            .output()
            .unwrap()
            .stdout;
        let cert = openpgp::Cert::from_bytes(&secret).unwrap();
        let secret_key = cert.primary_key().key().clone().parts_into_secret();
        let mut signer = secret_key.unwrap().into_keypair().unwrap();
        let named = openpgp::Fingerprint::from_hex(fingerprint).unwrap();
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(COMMIT_TIME as u64);
        let signature = openpgp::packet::signature::SignatureBuilder::new(
            openpgp::types::SignatureType::Binary,
        )
        .set_signature_creation_time(at)
        .and_then(|b| b.set_issuer_fingerprint(named.clone()))
        .and_then(|b| b.set_issuer(openpgp::KeyID::from(&named)))
        .and_then(|b| b.sign_message(&mut signer, data))
        .unwrap();
        let mut bytes = Vec::new();
        openpgp::serialize::Serialize::serialize(&openpgp::Packet::from(signature), &mut bytes)
            .unwrap();
        let armored = armor(&bytes, openpgp::armor::Kind::Signature);
        rewrite_signature(&armored, count)
    }

    /// gpg's signature over `data`, its MPI written as `count` says.
    pub fn sign(&self, data: &[u8], count: Count) -> String {
        let armored = self
            .home
            .sign_with(&[&self.fingerprint], data, COMMIT_TIME, None, false)
            .unwrap();
        rewrite_signature(&armored, count)
    }
}

/// The fingerprint GnuPG gives the first key of `file`, `None` when it
/// reads no key there.
pub fn gnupg_fingerprint(home: &GpgHome, file: &[u8]) -> Option<String> {
    let input = tempfile::NamedTempFile::new_in(home.path()).unwrap();
    std::fs::write(input.path(), file).unwrap();
    let out = home
        .command()
        .args(["--with-colons", "--import-options", "show-only", "--import"])
        .arg(input.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let listing = String::from_utf8(out.stdout).unwrap();
    let line = listing.lines().find(|l| l.starts_with("fpr:"))?;
    Some(line.split(':').nth(9).unwrap().to_owned())
}

/// The fingerprint of the first key packet of an armored key file as
/// published: SHA-1 over 0x99, its length and its body (RFC 4880, 12.2).
pub fn published_fingerprint(file: &[u8]) -> String {
    use sha1::Digest;
    let packets = packets(&dearmor(std::str::from_utf8(file).unwrap()));
    let body = &packets[0].1;
    let mut sha1 = sha1::Sha1::new();
    sha1.update([0x99]);
    sha1.update((body.len() as u16).to_be_bytes());
    sha1.update(body);
    sha1.finalize().iter().map(|b| format!("{b:02X}")).collect()
}

/// A history merged the GitHub way, from `first` (alice's introduction):
/// `authorize` (alice) adds the web-flow key to the keyring and to
/// `.guix-authorizations` (as `listed`); alice commits `main` and, on a
/// pull-request branch, `pr`; `merge` (parents `main`, `pr`) is signed by
/// `merge` (the web-flow key); alice commits `after` on top.
pub struct GitHubHistory {
    pub built: Built,
    pub ids: std::collections::HashMap<&'static str, Oid>,
}

impl GitHubHistory {
    pub fn new(key_file: &[u8], listed: &str, merge: &dyn Fn(&[u8]) -> String) -> Self {
        let built = build_scenario_text("keyring alice\nauthorize alice\ncommit first alice\n");
        let mut repo = built.repo();
        let mut ids = std::collections::HashMap::new();
        let first = built.oid("first");
        ids.insert("first", first);
        // The key file on the keyring branch.
        let keyring = repo.refname_to_id("refs/heads/keyring").unwrap();
        let keyring_tree = repo.find_commit(keyring).unwrap().tree_id();
        let file = [("github-web-flow.key", Some(key_file))];
        let tree = objects::changed_tree(&mut repo, keyring_tree, &file).unwrap();
        let buffer = objects::commit_buffer(tree, &[keyring], &AUTHOR, "web-flow\n");
        let id = objects::commit(&mut repo, &buffer, None).unwrap();
        objects::set_branch(&repo, "keyring", id).unwrap();
        let authorizations = support::authorizations_file(
            &[
                ("alice".into(), key("alice").signing_fpr),
                ("web-flow".into(), listed.to_owned()),
            ],
            "web-flow",
        );
        let by_alice = |data: &[u8]| {
            objects::binary_signature(
                &mut key("alice").signing_keypair(),
                data,
                COMMIT_TIME,
                HashAlgorithm::SHA256,
            )
            .unwrap()
        };
        let commit = |repo: &mut Repository,
                      parents: &[Oid],
                      file: (&str, &[u8]),
                      sign: &dyn Fn(&[u8]) -> String| {
            let base = repo.find_commit(parents[0]).unwrap().tree_id();
            let mut changes = vec![(file.0, Some(file.1))];
            // A merge brings the other parent's file.
            let pr_file = (parents.len() > 1).then(|| b"pr\n".to_vec());
            if let Some(content) = &pr_file {
                changes.push(("pr.txt", Some(content)));
            }
            let tree = objects::changed_tree(repo, base, &changes).unwrap();
            let buffer = objects::commit_buffer(tree, parents, &AUTHOR, &format!("{}\n", file.0));
            let signature = sign(buffer.as_bytes());
            let signature = signature.trim_end();
            objects::commit(repo, &buffer, Some(("gpgsig", signature))).unwrap()
        };
        let authorize = commit(
            &mut repo,
            &[first],
            (".guix-authorizations", authorizations.as_bytes()),
            &by_alice,
        );
        let main = commit(&mut repo, &[authorize], ("main.txt", b"main\n"), &by_alice);
        let pr = commit(&mut repo, &[authorize], ("pr.txt", b"pr\n"), &by_alice);
        let merged = commit(&mut repo, &[main, pr], ("merge.txt", b"merge\n"), merge);
        let after = commit(&mut repo, &[merged], ("after.txt", b"after\n"), &by_alice);
        objects::set_branch(&repo, "master", after).unwrap();
        for (label, id) in [
            ("authorize", authorize),
            ("main", main),
            ("pr", pr),
            ("merge", merged),
            ("after", after),
        ] {
            ids.insert(label, id);
        }
        GitHubHistory { built, ids }
    }

    pub fn authenticate(&self, policy: Policy) -> Result<Report, Error> {
        let introduction = Introduction {
            commit: self.ids["first"],
            signer: key("alice").signing_fpr.parse().unwrap(),
        };
        let options = Options {
            policy,
            ..Options::default()
        };
        authenticate(
            &self.built.repo(),
            &introduction,
            self.ids["after"],
            &options,
            &NoProgress,
        )
    }
}

/// The failure of a history that is not authentic.
fn failure(result: Result<Report, Error>) -> Failure {
    match result {
        Err(error) => error
            .failure()
            .cloned()
            .unwrap_or_else(|| panic!("not a failure: {error}")),
        Ok(report) => panic!("authentic: {report:?}"),
    }
}

/// GitHub's web-flow key and merge commits, with ordinary commits:
/// accepted, each signer counted (the web-flow key under the fingerprint
/// GnuPG gives it, its own packet being canonical); `--stats` prints the
/// same.
#[test]
fn histories_merged_on_github_are_accepted() {
    support::needs::gpg();
    let web_flow = WebFlow::new();
    let published = web_flow.published(Count::Canonical, Count::Overstated);
    assert_eq!(
        gnupg_fingerprint(&web_flow.home, &published),
        Some(web_flow.fingerprint.clone())
    );
    assert_eq!(published_fingerprint(&published), web_flow.fingerprint);
    let history = GitHubHistory::new(&published, &web_flow.fingerprint, &|d| {
        web_flow.sign(d, Count::Overstated)
    });
    let report = history.authenticate(Policy::Guix).unwrap();
    let web_flow_fpr: Fingerprint = web_flow.fingerprint.parse().unwrap();
    let alice: Fingerprint = key("alice").signing_fpr.parse().unwrap();
    let mut signers = report.signers.clone();
    signers.sort();
    let mut expected = vec![(alice.clone(), 4), (web_flow_fpr.clone(), 1)];
    expected.sort();
    assert_eq!(signers, expected);

    let home = Home::new();
    let out = home
        .command(&history.built.path)
        .arg(history.ids["first"].to_string())
        .arg(alice.to_string())
        .arg("--stats")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    support::assert_success(&out, &stdout);
    support::assert_contains(&stdout, &format!("  {web_flow_fpr} {:>10}\n", 1));
    support::assert_contains(&stdout, &format!("  {alice} {:>10}\n", 4));
}

/// The merge commit's signature written every way: an overstated count
/// and one overrunning the packet (Guix reads what remains) are accepted;
/// an understated count makes Guix read a wrong value (a bad signature);
/// a count with nothing after it is unreadable. The merge commit is
/// named.
#[test]
fn commit_signature_counts_are_judged_as_guix_judges_them() {
    support::needs::gpg();
    let web_flow = WebFlow::new();
    let published = web_flow.published(Count::Canonical, Count::Canonical);
    for (count, expected) in [
        (Count::Canonical, None),
        (Count::Overstated, None),
        (Count::Overrun, None),
        (Count::Understated, Some("bad-signature")),
        (Count::NoOctets, Some("malformed-signature")),
    ] {
        let history = GitHubHistory::new(&published, &web_flow.fingerprint, &|d| {
            web_flow.sign(d, count)
        });
        let result = history.authenticate(Policy::Guix);
        match expected {
            None => assert_eq!(result.unwrap().checked, 5, "{count:?}"),
            Some(kind) => {
                let failure = failure(result);
                assert_eq!(failure.kind(), kind, "{count:?}: {failure}");
                assert_eq!(failure.commit(), history.ids["merge"], "{count:?}");
            }
        }
        if count == Count::NoOctets {
            let failure = failure(history.authenticate(Policy::Guix));
            assert!(
                matches!(
                    &failure,
                    Failure::MalformedSignature {
                        reason: git_authenticate::SignatureProblem::Mpi(
                            MpiProblem::NoOctets { .. }
                        ),
                        ..
                    }
                ),
                "{failure:?}"
            );
        }
    }
}

/// The key file written every way. Its self-signature's count does not
/// matter (Guix never checks it) unless nothing can be read; the key's
/// own exponent overstated or overrunning the packet is read as Guix reads
/// it, and its fingerprint is then the packet's as published, as Guix
/// computes it: a signature naming the key by it verifies. GnuPG
/// re-encodes the key before hashing it, so its fingerprint differs, and
/// its signatures name that one: the key is then missing, in Guix as here
/// (GitHub's own key packet is canonical: only its signatures are not).
/// With nothing to read, the keyring is refused.
#[test]
fn key_file_counts_are_read_as_guix_reads_them() {
    support::needs::gpg();
    let web_flow = WebFlow::new();
    for self_signature in [Count::Overstated, Count::Understated, Count::Overrun] {
        let published = web_flow.published(Count::Canonical, self_signature);
        let history = GitHubHistory::new(&published, &web_flow.fingerprint, &|d| {
            web_flow.sign(d, Count::Canonical)
        });
        let report = history.authenticate(Policy::Guix);
        assert_eq!(
            report.unwrap().checked,
            5,
            "self-signature {self_signature:?}"
        );
    }
    for key_count in [Count::Overstated, Count::Overrun] {
        let published = web_flow.published(key_count, Count::Canonical);
        let as_published = published_fingerprint(&published);
        assert_ne!(as_published, web_flow.fingerprint);
        // GnuPG re-encodes the key before hashing it; it refuses a count
        // overrunning the packet.
        let gnupg = (key_count == Count::Overstated).then(|| web_flow.fingerprint.clone());
        assert_eq!(gnupg_fingerprint(&web_flow.home, &published), gnupg);
        let keyring =
            git_authenticate::Keyring::from_files("keyring", [("web-flow.key", &published[..])])
                .unwrap();
        let fingerprints: Vec<String> = keyring
            .keys()
            .iter()
            .map(|k| k.fingerprint().to_hex())
            .collect();
        assert_eq!(
            fingerprints,
            std::slice::from_ref(&as_published),
            "{key_count:?}"
        );
        // gpg names its key by GnuPG's fingerprint, which the keyring does
        // not hold: Guix reports the key missing, and so does this crate.
        let history = GitHubHistory::new(&published, &as_published, &|d| {
            web_flow.sign(d, Count::Overstated)
        });
        // The failure names the key the keyring holds instead, and its
        // hint says why the fingerprints differ.
        let missing = failure(history.authenticate(Policy::Guix));
        match &missing {
            Failure::MissingKey {
                commit,
                issuer: Issuer::Fingerprint(issuer),
                reencoded: Some(reencoded),
                ..
            } => {
                assert_eq!(*commit, history.ids["merge"]);
                assert_eq!(issuer.to_hex(), web_flow.fingerprint);
                assert_eq!(reencoded.fingerprint.to_hex(), as_published);
                assert_eq!(reencoded.file, "github-web-flow.key");
            }
            other => panic!("{key_count:?}: {other:?}"),
        }
        let hint = missing.hint().unwrap();
        let listed: Fingerprint = as_published.parse().unwrap();
        for part in [
            "`github-web-flow.key`",
            "non-canonically",
            "GnuPG re-encodes the key",
            &listed.to_string(),
        ] {
            assert!(hint.contains(part), "{part}: {hint}");
        }
        // A signature naming the key by its fingerprint as published
        // verifies, and is counted under that fingerprint.
        let history = GitHubHistory::new(&published, &as_published, &|d| {
            web_flow.sign_naming(d, &as_published, Count::Overstated)
        });
        let report = history.authenticate(Policy::Guix).unwrap();
        assert!(
            report.signers.contains(&(listed, 1)),
            "{key_count:?}: {report:?}"
        );
    }
    for (key_count, self_signature, tag) in [
        (Count::NoOctets, Count::Canonical, 6),
        (Count::Canonical, Count::NoOctets, 2),
    ] {
        let published = web_flow.published(key_count, self_signature);
        let history = GitHubHistory::new(&published, &web_flow.fingerprint, &|d| {
            web_flow.sign(d, Count::Canonical)
        });
        match history.authenticate(Policy::Guix) {
            Err(Error::Keyring(KeyringError::MalformedKey { reason, file, .. })) => {
                assert_eq!(file, "github-web-flow.key");
                assert!(
                    matches!(
                        reason,
                        KeyProblem::Mpi { tag: t, problem: MpiProblem::NoOctets { .. } } if t == tag
                    ),
                    "{key_count:?} {self_signature:?}: {reason:?}"
                );
            }
            other => panic!("{key_count:?} {self_signature:?}: {other:?}"),
        }
    }
}

/// The strict policy refuses what RFC 4880 does not allow, and says so.
#[test]
fn the_strict_policy_refuses_github_encodings() {
    support::needs::gpg();
    let web_flow = WebFlow::new();
    for (key_file, merge, expected) in [
        (Count::Canonical, Count::Overstated, NonCanonical::Signature),
        (Count::Overstated, Count::Canonical, NonCanonical::KeyFile),
    ] {
        let published = web_flow.published(Count::Canonical, key_file);
        let history = GitHubHistory::new(&published, &web_flow.fingerprint, &|d| {
            web_flow.sign(d, merge)
        });
        let refused = failure(history.authenticate(Policy::Strict));
        assert!(refused.hint().unwrap().contains("GitHub"), "{refused:?}");
        match refused {
            Failure::PolicyViolation { commit, reason, .. } => {
                assert_eq!(commit, history.ids["merge"]);
                assert_eq!(reason, PolicyRefusal::NonCanonical(expected));
                assert!(reason.to_string().contains("bit count"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}

/// An EdDSA signature's R and S are handed to libgcrypt as Guix reads
/// them (leading zero octets kept, one added to an odd number of them),
/// and libgcrypt verifies 32 octets only: a count of all 32 octets is
/// accepted, one of 33 or 34 refused (Guix fails there).
#[test]
fn eddsa_signature_counts_are_judged_as_guix_judges_them() {
    let text = "keyring alice\nauthorize alice\ncommit first alice\n";
    for (counts, authentic) in [
        ([Count::Padded(0); 2], true),
        ([Count::Padded(1), Count::Canonical], false),
        ([Count::Canonical, Count::Padded(2)], false),
    ] {
        let built = build_scenario_text(text);
        let mut repo = built.repo();
        let first = built.oid("first");
        let tree = repo.find_commit(first).unwrap().tree_id();
        let buffer = objects::commit_buffer(tree, &[first], &AUTHOR, "m\n");
        let signature = objects::binary_signature(
            &mut key("alice").signing_keypair(),
            buffer.as_bytes(),
            COMMIT_TIME,
            HashAlgorithm::SHA256,
        )
        .unwrap();
        let signature = rewrite_every_signature_mpi(&signature, &counts);
        let signature = signature.trim_end();
        let end = objects::commit(&mut repo, &buffer, Some(("gpgsig", signature))).unwrap();
        let result = support::expect::run_from_first(&built, end, &Options::default());
        match authentic {
            true => assert_eq!(result.unwrap().checked, 1, "{counts:?}"),
            false => {
                let failure = failure(result);
                assert_eq!(failure.kind(), "bad-signature", "{counts:?}");
                assert!(failure.to_string().contains("EdDSA"), "{failure}");
            }
        }
    }
}

/// A key file whose `-----BEGIN` line is indented: Guix refuses it, and
/// the message says why.
#[test]
fn an_indented_begin_line_is_reported_as_such() {
    let mut indented = b"  ".to_vec();
    indented.extend(key("bob").armored_public());
    let error =
        git_authenticate::Keyring::from_files("keyring", [("bob.key", &indented[..])]).unwrap_err();
    match &error {
        KeyringError::MalformedKey { reason, .. } => {
            assert_eq!(*reason, KeyProblem::Armor(ArmorError::IndentedHeader))
        }
        other => panic!("{other:?}"),
    }
    assert!(error.to_string().contains("indented"), "{error}");
}

/// A signature naming its issuer by key ID only, whose key the keyring
/// lacks: a missing key, named by that key ID (Guix crashes formatting
/// it).
#[test]
fn a_missing_key_named_by_key_id_is_reported_by_that_id() {
    let built = support::bob_missing_from_keyring("no-issuer-fpr");
    let result = support::expect::run_from_first(&built, built.oid("second"), &Options::default());
    let failure = failure(result);
    let bob_id = &key("bob").signing_fpr[24..];
    match &failure {
        Failure::MissingKey {
            issuer: Issuer::KeyId(id),
            ..
        } => assert_eq!(id.to_string(), bob_id),
        other => panic!("{other:?}"),
    }
    assert_eq!(failure.commit(), built.oid("second"));
    assert!(failure.to_string().contains(bob_id), "{failure}");
}
