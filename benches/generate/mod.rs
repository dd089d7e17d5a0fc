//! Generates a signed channel history of any size, without network: a
//! keyring branch, `.guix-authorizations`, a realistic mix of signing
//! algorithms, merges and authorization changes.
//!
//! Commits are built and signed in memory and written straight into a pack
//! (then indexed by `git index-pack`), so a million commits take minutes,
//! not hours. RSA and DSA signatures are made with OpenSSL through a
//! sequoia `Signer`, as sequoia's pure-Rust private-key operations are slow.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::write::ZlibEncoder;
use git2::{ObjectType, Oid, Repository};
use sequoia_openpgp as openpgp;
use sha1::{Digest, Sha1};

// The tests' object writer: the generated histories are formatted exactly
// as the tests' repositories are. The generator needs only part of it.
#[allow(dead_code)]
#[path = "../../tests/support/objects.rs"]
mod objects;

use objects::{ObjectSink, Person};

use openpgp::crypto::mpi;
use openpgp::packet::key::{PublicParts, SecretParts, UnspecifiedRole};
use openpgp::packet::Key;
use openpgp::parse::Parse;
use openpgp::serialize::SerializeInto;
use openpgp::types::HashAlgorithm;
use openpgp::Cert;
use openssl::bn::BigNum;
use openssl::pkey::{PKey, Private};
use openssl::pkey_ctx::PkeyCtx;

/// Which signing algorithms the history uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// The GNU Guix history's proportions: RSA-4096 51%, RSA-2048 26%,
    /// Ed25519 18%, DSA-2048 2.5%, DSA-3072 2%, RSA-3072 0.8%.
    Guix,
    /// Ed25519 only: the fastest to generate, for size tests.
    Ed25519,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub commits: usize,
    pub mix: Mix,
    /// A merge of a three-commit side branch every so many commits.
    pub merge_every: usize,
    /// A new `.guix-authorizations` every so many commits.
    pub authorizations_every: usize,
    /// Whether every commit changes a file (a new tree each time) or all
    /// share one tree (smaller, for size tests).
    pub new_tree_per_commit: bool,
    /// Whether the commits after the introduction are left unsigned (a
    /// history of failures, for `--keep-going`).
    pub unsigned: bool,
}

/// A generated channel.
pub struct Generated {
    pub path: PathBuf,
    pub introduction: Oid,
    pub signer: String,
    pub end: Oid,
}

/// The history in `dir`, generated unless a previous run left it there.
pub fn generated(dir: &Path, spec: &Spec) -> Generated {
    let done = dir.join("generated");
    if let Ok(text) = std::fs::read_to_string(&done) {
        let mut words = text.split_whitespace();
        let (intro, signer, end) = (
            words.next().unwrap(),
            words.next().unwrap(),
            words.next().unwrap(),
        );
        return Generated {
            path: dir.to_path_buf(),
            introduction: Oid::from_str(intro).unwrap(),
            signer: signer.to_owned(),
            end: Oid::from_str(end).unwrap(),
        };
    }
    let _ = std::fs::remove_dir_all(dir);
    let generated = generate(dir, spec);
    std::fs::write(
        &done,
        format!(
            "{} {} {}\n",
            generated.introduction, generated.signer, generated.end
        ),
    )
    .unwrap();
    generated
}

/// A signing key, with its private half in OpenSSL for RSA and DSA.
struct SigningKey {
    public: Key<PublicParts, UnspecifiedRole>,
    secret: Key<SecretParts, UnspecifiedRole>,
    openssl: Option<PKey<Private>>,
    /// The public certificate, for the keyring branch.
    certificate: Vec<u8>,
}

impl openpgp::crypto::Signer for SigningKey {
    fn public(&self) -> &Key<PublicParts, UnspecifiedRole> {
        &self.public
    }

    fn sign(&mut self, hash: HashAlgorithm, digest: &[u8]) -> openpgp::Result<mpi::Signature> {
        let Some(pkey) = &self.openssl else {
            return self.secret.clone().into_keypair()?.sign(hash, digest);
        };
        let mut ctx = PkeyCtx::new(pkey)?;
        ctx.sign_init()?;
        let mut out = Vec::new();
        if pkey.id() == openssl::pkey::Id::RSA {
            // OpenSSL writes the PKCS #1 DigestInfo for the digest type.
            let md = match hash {
                HashAlgorithm::SHA256 => openssl::md::Md::sha256(),
                HashAlgorithm::SHA512 => openssl::md::Md::sha512(),
                other => {
                    let why = format!("the generator does not sign with {other}");
                    return Err(openpgp::Error::InvalidArgument(why).into());
                }
            };
            ctx.set_rsa_padding(openssl::rsa::Padding::PKCS1)?;
            ctx.set_signature_md(md)?;
            ctx.sign_to_vec(digest, &mut out)?;
            return Ok(mpi::Signature::RSA { s: out.into() });
        }
        ctx.sign_to_vec(digest, &mut out)?;
        let sig = openssl::dsa::DsaSig::from_der(&out)?;
        Ok(mpi::Signature::DSA {
            r: sig.r().to_vec().into(),
            s: sig.s().to_vec().into(),
        })
    }
}

fn signing_key(name: &str) -> SigningKey {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("test-repos/keys/{name}.asc"));
    let cert = Cert::from_file(&path).unwrap();
    let public = cert.primary_key().key().clone().role_into_unspecified();
    let secret = public.clone().parts_into_secret().unwrap();
    let openssl = match secret.secret() {
        openpgp::packet::key::SecretKeyMaterial::Unencrypted(material) => {
            material.map(|private| openssl_key(public.mpis(), private))
        }
        _ => None,
    };
    let certificate = cert.armored().to_vec().unwrap();
    SigningKey {
        public,
        secret,
        openssl,
        certificate,
    }
}

fn bignum(m: &mpi::MPI) -> BigNum {
    BigNum::from_slice(m.value()).unwrap()
}

fn bignum_secret(m: &mpi::ProtectedMPI) -> BigNum {
    BigNum::from_slice(m.value()).unwrap()
}

/// The OpenSSL form of an RSA or DSA private key; `None` for others.
fn openssl_key(public: &mpi::PublicKey, private: &mpi::SecretKeyMaterial) -> Option<PKey<Private>> {
    match (public, private) {
        (mpi::PublicKey::RSA { e, n }, mpi::SecretKeyMaterial::RSA { d, p, q, .. }) => {
            Some(rsa_key(
                bignum(n),
                bignum(e),
                bignum_secret(d),
                bignum_secret(p),
                bignum_secret(q),
            ))
        }
        (mpi::PublicKey::DSA { p, q, g, y }, mpi::SecretKeyMaterial::DSA { x }) => {
            let dsa = openssl::dsa::Dsa::from_private_components(
                bignum(p),
                bignum(q),
                bignum(g),
                bignum_secret(x),
                bignum(y),
            );
            Some(PKey::from_dsa(dsa.unwrap()).unwrap())
        }
        _ => None,
    }
}

/// OpenSSL wants the CRT parameters that OpenPGP does not store.
fn rsa_key(n: BigNum, e: BigNum, d: BigNum, p: BigNum, q: BigNum) -> PKey<Private> {
    let mut ctx = openssl::bn::BigNumContext::new().unwrap();
    let one = BigNum::from_u32(1).unwrap();
    let minus_one = |x: &BigNum| {
        let mut r = BigNum::new().unwrap();
        r.checked_sub(x, &one).unwrap();
        r
    };
    let (mut dmp1, mut dmq1, mut iqmp) = (
        BigNum::new().unwrap(),
        BigNum::new().unwrap(),
        BigNum::new().unwrap(),
    );
    dmp1.nnmod(&d, &minus_one(&p), &mut ctx).unwrap();
    dmq1.nnmod(&d, &minus_one(&q), &mut ctx).unwrap();
    iqmp.mod_inverse(&q, &p, &mut ctx).unwrap();
    let rsa = openssl::rsa::Rsa::from_private_components(n, e, d, p, q, dmp1, dmq1, iqmp).unwrap();
    PKey::from_rsa(rsa).unwrap()
}

/// (key name, weight in thousandths).
fn keys_of(mix: Mix) -> Vec<(&'static str, u32)> {
    match mix {
        Mix::Guix => vec![
            ("frank", 506),
            ("bob", 263),
            ("alice", 179),
            ("erin", 25),
            ("grace", 19),
            ("dave", 8),
        ],
        Mix::Ed25519 => vec![("alice", 1000)],
    }
}

/// A pack file being written; objects are appended, ids computed.
struct Pack {
    file: BufWriter<File>,
    hash: Sha1,
    count: u32,
    path: PathBuf,
}

impl ObjectSink for Pack {
    fn write_object(&mut self, kind: ObjectType, data: &[u8]) -> Result<Oid, String> {
        Ok(self.add(kind, data))
    }
}

impl Pack {
    fn new(dir: &Path) -> Self {
        let path = dir.join("objects/pack/generated.pack");
        let mut pack = Pack {
            file: BufWriter::new(File::create(&path).unwrap()),
            hash: Sha1::new(),
            count: 0,
            path,
        };
        pack.put(b"PACK\0\0\0\x02\0\0\0\0");
        pack
    }

    fn put(&mut self, bytes: &[u8]) {
        self.hash.update(bytes);
        self.file.write_all(bytes).unwrap();
    }

    fn add(&mut self, kind: ObjectType, data: &[u8]) -> Oid {
        let code: u8 = match kind {
            ObjectType::Commit => 1,
            ObjectType::Tree => 2,
            _ => 3,
        };
        // Type and size: 4 bits of size in the first byte, then 7 a byte.
        let mut size = data.len();
        let mut header = vec![(code << 4) | (size & 0x0f) as u8];
        size >>= 4;
        while size > 0 {
            *header.last_mut().unwrap() |= 0x80;
            header.push((size & 0x7f) as u8);
            size >>= 7;
        }
        let mut zlib = ZlibEncoder::new(header, flate2::Compression::fast());
        zlib.write_all(data).unwrap();
        self.put(&zlib.finish().unwrap());
        self.count += 1;
        Oid::hash_object(kind, data).unwrap()
    }

    /// Writes the object count and trailer, then indexes the pack.
    fn finish(mut self) {
        self.file.flush().unwrap();
        let mut file = self.file.into_inner().unwrap();
        file.seek(SeekFrom::Start(8)).unwrap();
        file.write_all(&self.count.to_be_bytes()).unwrap();
        drop(file);
        // The trailer hashes the final bytes: hash the file again.
        let bytes = std::fs::read(&self.path).unwrap();
        let trailer = Sha1::digest(&bytes);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .unwrap();
        file.write_all(&trailer).unwrap();
        let status = Command::new("git")
            .arg("index-pack")
            .arg(&self.path)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "git index-pack failed");
    }
}

fn tree(pack: &mut Pack, entries: &[(&str, Oid)]) -> Oid {
    let entries: Vec<objects::TreeEntry> = entries
        .iter()
        .map(|(name, blob)| (objects::FILE, name.to_string(), *blob))
        .collect();
    objects::tree(pack, &entries).unwrap()
}

fn authorizations_file(fingerprints: &[String], version: usize) -> Vec<u8> {
    let mut text = format!(";; Generated, version {version}.\n(authorizations\n (version 0)\n (");
    for (i, f) in fingerprints.iter().enumerate() {
        text.push_str(&format!("(\"{f}\" (name \"signer-{i}\"))\n  "));
    }
    text.push_str(&format!(
        "(\"{:040X}\" (name \"retired-{version}\"))))\n",
        version
    ));
    text.into_bytes()
}

/// Signs `unsigned` (a commit object without signature) and inserts the
/// `gpgsig` header after the committer line, as git does.
fn signed_commit(pack: &mut Pack, unsigned: &str, key: &mut SigningKey, time: u64) -> Oid {
    let signature =
        objects::binary_signature(key, unsigned.as_bytes(), time as i64, HashAlgorithm::SHA512)
            .unwrap();
    objects::commit(pack, unsigned, Some(("gpgsig", signature.trim_end()))).unwrap()
}

/// The keyring's time; each commit is 60 s later than the one before.
const START_TIME: u64 = 1_600_000_000;

/// Author and committer of everything generated.
fn bench_person(time: u64) -> Person<'static> {
    Person {
        name: "Bench",
        email: "bench@example.org",
        time: time as i64,
    }
}

struct History {
    pack: Pack,
    keys: Vec<(SigningKey, u32)>,
    time: u64,
    authorizations: Oid,
    shared_tree: Option<Oid>,
    counter: usize,
    rng: u64,
    unsigned: bool,
}

impl History {
    fn next_random(&mut self) -> u32 {
        // xorshift: deterministic, good enough to pick signers.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % 1000) as u32
    }

    fn pick_key(&mut self) -> usize {
        let mut roll = self.next_random();
        for (i, (_, weight)) in self.keys.iter().enumerate() {
            if roll < *weight {
                return i;
            }
            roll -= weight;
        }
        0
    }

    fn commit(&mut self, parents: &[Oid], key: Option<usize>) -> Oid {
        self.counter += 1;
        self.time += 60;
        let tree = match self.shared_tree {
            Some(tree) => tree,
            None => {
                let change = format!("change {}\n", self.counter);
                let file = objects::blob(&mut self.pack, change.as_bytes()).unwrap();
                let authorizations = self.authorizations;
                tree(
                    &mut self.pack,
                    &[(".guix-authorizations", authorizations), ("file", file)],
                )
            }
        };
        let who = bench_person(self.time);
        let message = format!("Commit {}\n", self.counter);
        let text = objects::commit_buffer(tree, parents, &who, &message);
        if self.unsigned && key.is_none() {
            return objects::commit(&mut self.pack, &text, None).unwrap();
        }
        let key = key.unwrap_or_else(|| self.pick_key());
        let time = self.time;
        signed_commit(&mut self.pack, &text, &mut self.keys[key].0, time)
    }
}

fn generate(dir: &Path, spec: &Spec) -> Generated {
    let mut repo = Repository::init_bare(dir).unwrap();
    let keys: Vec<(SigningKey, u32)> = keys_of(spec.mix)
        .into_iter()
        .map(|(name, w)| (signing_key(name), w))
        .collect();
    let fingerprints: Vec<String> = keys
        .iter()
        .map(|(k, _)| k.public.fingerprint().to_hex())
        .collect();
    // The keyring branch, written as loose objects (a few objects).
    let names: Vec<String> = keys
        .iter()
        .map(|(key, _)| format!("{}.key", key.public.fingerprint().to_hex()))
        .collect();
    let files: Vec<(&str, &[u8])> = names
        .iter()
        .zip(&keys)
        .map(|(name, (key, _))| (name.as_str(), key.certificate.as_slice()))
        .collect();
    let who = bench_person(START_TIME);
    objects::branch_of_files(&mut repo, "keyring", &files, &who, "Keyring").unwrap();

    let mut pack = Pack::new(dir);
    let authorizations = pack.add(ObjectType::Blob, &authorizations_file(&fingerprints, 0));
    let shared_tree = (!spec.new_tree_per_commit)
        .then(|| tree(&mut pack, &[(".guix-authorizations", authorizations)]));
    let mut history = History {
        pack,
        keys,
        time: START_TIME,
        authorizations,
        shared_tree,
        counter: 0,
        rng: 0x9E37_79B9_7F4A_7C15,
        unsigned: spec.unsigned,
    };
    let introduction = history.commit(&[], Some(0));
    let mut tip = introduction;
    let mut made = 0;
    while made < spec.commits {
        if spec.new_tree_per_commit && made > 0 && made % spec.authorizations_every == 0 {
            history.authorizations = history
                .pack
                .add(ObjectType::Blob, &authorizations_file(&fingerprints, made));
        }
        if made > 0 && made % spec.merge_every == 0 && made + 6 <= spec.commits {
            let mut side = tip;
            for _ in 0..3 {
                side = history.commit(&[side], None);
            }
            for _ in 0..2 {
                tip = history.commit(&[tip], None);
            }
            tip = history.commit(&[tip, side], None);
            made += 6;
        } else {
            tip = history.commit(&[tip], None);
            made += 1;
        }
    }
    history.pack.finish();
    repo.reference("refs/heads/master", tip, true, "generated")
        .unwrap();
    Generated {
        path: dir.to_path_buf(),
        introduction,
        signer: fingerprints[0].clone(),
        end: tip,
    }
}

/// `count` distinct public key packets, cheap to make: alice's Ed25519
/// primary key with as many creation times (the fingerprint hashes it).
/// Guix reads key packets without checking self-signatures, and so does
/// the keyring: they load as that many keys.
#[allow(dead_code)] // The benches' only.
pub fn filler_keys(count: usize) -> Vec<u8> {
    use openpgp::packet::Packet;
    let alice = signing_key("alice").public;
    let start = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    let mut bytes = Vec::with_capacity(count * 64);
    for i in 0..count {
        let mut key = alice.clone().role_into_primary();
        key.set_creation_time(start + std::time::Duration::from_secs(i as u64))
            .unwrap();
        bytes.extend(Packet::from(key).to_vec().unwrap());
    }
    bytes
}

/// A `.guix-authorizations` of about 1 MiB: alice, then `fillers` short
/// entries (Guix keeps an entry of any even length; it matches no key).
#[allow(dead_code)] // The benches' only.
fn large_authorizations(alice: &str, fillers: usize, comment: &str) -> Vec<u8> {
    let mut text =
        format!(";; {comment}\n(authorizations\n (version 0)\n ((\"{alice}\" (name \"alice\"))\n");
    for i in 0..fillers {
        text.push_str(&format!("(\"{i:016X}\")\n"));
    }
    text.push_str(" ))\n");
    text.into_bytes()
}

/// A channel whose introduction lists alice and 49,000 other entries
/// (1 MiB), then `merges` tiny signed merge commits: each merges the last
/// with a side commit whose file differs by a comment only. The gate once
/// intersected the two files at each merge, each in quadratic time.
#[allow(dead_code)] // The benches' only.
pub fn merges_over_large_authorizations(dir: &Path, merges: usize) -> Generated {
    if let Ok(text) = std::fs::read_to_string(dir.join("generated")) {
        let w: Vec<&str> = text.split_whitespace().collect();
        return Generated {
            path: dir.to_path_buf(),
            introduction: Oid::from_str(w[0]).unwrap(),
            signer: w[1].to_owned(),
            end: Oid::from_str(w[2]).unwrap(),
        };
    }
    let _ = std::fs::remove_dir_all(dir);
    let mut repo = Repository::init_bare(dir).unwrap();
    let mut alice = signing_key("alice");
    let fingerprint = alice.public.fingerprint().to_hex();
    let file_name = format!("{fingerprint}.key");
    let files = [(file_name.as_str(), alice.certificate.as_slice())];
    objects::branch_of_files(
        &mut repo,
        "keyring",
        &files,
        &bench_person(START_TIME),
        "Keyring",
    )
    .unwrap();
    let mut pack = Pack::new(dir);
    let fillers = 49_000;
    let main = pack.add(
        ObjectType::Blob,
        &large_authorizations(&fingerprint, fillers, "main"),
    );
    let side = pack.add(
        ObjectType::Blob,
        &large_authorizations(&fingerprint, fillers, "side"),
    );
    let main_tree = tree(&mut pack, &[(".guix-authorizations", main)]);
    let side_tree = tree(&mut pack, &[(".guix-authorizations", side)]);
    let mut time = START_TIME;
    let mut commit = |pack: &mut Pack, tree: Oid, parents: &[Oid], message: &str| {
        time += 60;
        let text = objects::commit_buffer(tree, parents, &bench_person(time), message);
        signed_commit(pack, &text, &mut alice, time)
    };
    let introduction = commit(&mut pack, main_tree, &[], "Introduction\n");
    let side_commit = commit(&mut pack, side_tree, &[introduction], "Side\n");
    let mut tip = introduction;
    for i in 0..merges {
        tip = commit(
            &mut pack,
            main_tree,
            &[tip, side_commit],
            &format!("Merge {i}\n"),
        );
    }
    pack.finish();
    repo.reference("refs/heads/master", tip, true, "generated")
        .unwrap();
    std::fs::write(
        dir.join("generated"),
        format!("{introduction} {fingerprint} {tip}\n"),
    )
    .unwrap();
    Generated {
        path: dir.to_path_buf(),
        introduction,
        signer: fingerprint,
        end: tip,
    }
}

/// `count` commits signed by the test key `name` (SHA-512, as in the
/// generated channels), written to `repo`; with the key's certificate.
#[allow(dead_code)] // The benches' only.
pub fn signed_commits(repo: &mut Repository, name: &str, count: usize) -> (Vec<Oid>, Vec<u8>) {
    let mut key = signing_key(name);
    let tree = objects::tree(repo, &[]).unwrap();
    let commits = (0..count as u64)
        .map(|i| {
            let time = START_TIME + 60 * i;
            let message = format!("commit {i} by {name}\n");
            let unsigned = objects::commit_buffer(tree, &[], &bench_person(time), &message);
            let signature = objects::binary_signature(
                &mut key,
                unsigned.as_bytes(),
                time as i64,
                HashAlgorithm::SHA512,
            )
            .unwrap();
            objects::commit(repo, &unsigned, Some(("gpgsig", signature.trim_end()))).unwrap()
        })
        .collect();
    (commits, key.certificate)
}
