//! DSA verification with per-key precomputation, for the few keys that
//! sign thousands of commits.
//!
//! A DSA verification computes `v = (g^u1 · y^u2 mod p) mod q`, where `p`,
//! `q`, `g` and `y` belong to the key. Once OpenSSL has verified
//! [`THRESHOLD`] of a key's signatures, fixed-base tables for `g` and `y`
//! are built (`T[i][d] = base^(d·2^(w·i))`, in Montgomery form, `w` =
//! [`WINDOW`] bits), and a verification is about `2·bits(q)/w` multiplications
//! modulo `p` instead of a double exponentiation (DSA-2048: 85 against
//! about 350).
//!
//! The result is OpenSSL's (`dsa_do_verify` in OpenSSL 3.0's
//! `crypto/dsa/dsa_ossl.c`, mirrored step by step in [`Tables::verify`]),
//! and only where that is provable: q of 160, 224 or 256 bits (OpenSSL
//! refuses other sizes), p odd of 512 to 4096 bits, `0 < g, y < p` (where
//! OpenSSL's `BN_mod_exp2_mont` gives exactly `g^u1·y^u2 mod p`). Every
//! other key, every internal failure (allocation, no inverse of `s`), and
//! every key beyond the keyring's memory budget ([`TableBudget`]) goes to
//! OpenSSL's own verification, which then decides.

use std::cmp::Ordering;
use std::sync::Arc;

use openssl::bn::{BigNum, BigNumContext, BigNumContextRef, BigNumRef};
use openssl::dsa::{Dsa, DsaSig};
use openssl::pkey::{PKey, Public};
use openssl::pkey_ctx::PkeyCtx;

use crate::openpgp::budget::{Earned, TableBudget};
use crate::openpgp::montgomery::Montgomery;

/// Bits of exponent per table row. Each window costs one multiplication
/// per exponent and `2^w − 1` entries per base. Measured for DSA-2048 (a
/// shared 2-core machine, noisy; one Montgomery multiplication 1.1 µs):
/// w = 5, 6, 7, 8 give 115, 100, 87, 76 µs of multiplications per
/// signature, for 1.0, 1.7, 2.9, 5.0 MiB of tables built in 5, 7.5, 16.5,
/// 22 ms (OpenSSL's whole verification: 385 µs). Past 6, each step saves
/// about 12 µs per signature (about 1% of a GNU Guix run) for twice the
/// memory.
pub(crate) const WINDOW: u32 = 6;

/// Signatures OpenSSL verifies for a key before it gets tables: the
/// build (DSA-2048: 7.5 ms; DSA-3072: 14 ms) costs what the tables save
/// on 25 to 30 verifications, so a key that signs only a few commits
/// never pays for it, and one that signs thousands pays at most about
/// twice the best possible (the ski-rental bound).
pub(crate) const THRESHOLD: u32 = 24;

/// The sizes of q, in bits, that OpenSSL's `dsa_do_verify` takes (FIPS
/// 186-3's); it refuses every signature of a key with another.
pub(crate) const OPENSSL_Q_BITS: [usize; 3] = [160, 224, 256];

/// Largest p given tables, in bits (the table size grows with it).
const MAX_P_BITS: i32 = 4096;
/// Smallest p given tables, in bits: real keys have 1024 or more.
const MIN_P_BITS: i32 = 512;

/// Bytes an entry takes beyond its limbs: the `BIGNUM` itself and two
/// allocations' headers.
const ENTRY_OVERHEAD: usize = 64;

/// A DSA key prepared for verification: OpenSSL's key, and tables once it
/// has signed enough.
#[derive(Debug)]
pub(crate) struct DsaKey {
    pkey: PKey<Public>,
    /// The key's numbers, when its shape allows tables.
    params: Option<Params>,
    /// Earned once OpenSSL has verified [`THRESHOLD`] signatures.
    tables: Earned<Tables>,
    budget: Arc<TableBudget>,
}

#[derive(Debug)]
struct Params {
    p: BigNum,
    q: BigNum,
    g: BigNum,
    y: BigNum,
}

impl DsaKey {
    /// The key `(p, q, g, y)`; `None` when OpenSSL does not take it.
    pub(crate) fn new(
        p: BigNum,
        q: BigNum,
        g: BigNum,
        y: BigNum,
        budget: &Arc<TableBudget>,
    ) -> Option<Self> {
        let params = Params {
            p: BigNumRef::to_owned(&p).ok()?,
            q: BigNumRef::to_owned(&q).ok()?,
            g: BigNumRef::to_owned(&g).ok()?,
            y: BigNumRef::to_owned(&y).ok()?,
        };
        let dsa = Dsa::from_public_components(p, q, g, y).ok()?;
        Some(DsaKey {
            pkey: PKey::from_dsa(dsa).ok()?,
            params: params.tables_possible().then_some(params),
            tables: Earned::new(),
            budget: budget.clone(),
        })
    }

    /// Verifies `(r, s)` over `digest`: with the tables when `use_tables`
    /// and the key has them, else through OpenSSL (which, past the
    /// threshold, gives the key its tables).
    pub(crate) fn verify(
        &self,
        use_tables: bool,
        r: &[u8],
        s: &[u8],
        digest: &[u8],
    ) -> Result<(), String> {
        let bad = || "DSA signature verification failed".to_owned();
        let bn = |m: &[u8]| BigNum::from_slice(m).map_err(|e| e.to_string());
        let (r, s) = (bn(r)?, bn(s)?);
        if use_tables {
            if let Some((tables, params)) = self.ready_tables() {
                match tables.verify(params, &r, &s, digest) {
                    Some(true) => return Ok(()),
                    Some(false) => return Err(bad()),
                    // An internal failure: OpenSSL decides.
                    None => {}
                }
            }
        }
        let der = DsaSig::from_private_components(r, s)
            .and_then(|sig| sig.to_der())
            .map_err(|e| e.to_string())?;
        let mut ctx = PkeyCtx::new(&self.pkey).map_err(|e| e.to_string())?;
        ctx.verify_init().map_err(|e| e.to_string())?;
        match ctx.verify(digest, &der) {
            Ok(true) => {
                if use_tables {
                    self.count_verified();
                }
                Ok(())
            }
            _ => Err(bad()),
        }
    }

    /// The tables, once built.
    fn ready_tables(&self) -> Option<(&Tables, &Params)> {
        Some((self.tables.get()?, self.params.as_ref()?))
    }

    /// Counts a signature OpenSSL verified (see [`Earned`]).
    fn count_verified(&self) {
        if let Some(params) = &self.params {
            self.tables
                .count(THRESHOLD, || Tables::build(params, WINDOW, &self.budget));
        }
    }

    /// Builds tables for this key outside any budget, and drops them: the
    /// time it took and their size (for the benchmarks' figures).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn time_table_build(&self) -> Option<(std::time::Duration, usize)> {
        let params = self.params.as_ref()?;
        let start = std::time::Instant::now();
        let budget = TableBudget::new(usize::MAX);
        let tables = Tables::build(params, WINDOW, &budget)?;
        let elapsed = start.elapsed();
        drop(tables);
        Some((elapsed, budget.used()))
    }

    /// Whether tables were built for this key.
    #[cfg(test)]
    pub(crate) fn has_tables(&self) -> bool {
        self.tables.get().is_some()
    }
}

impl Params {
    /// The shapes where the tables provably give OpenSSL's result.
    fn tables_possible(&self) -> bool {
        let p_bits = self.p.num_bits();
        let below_p = |n: &BigNumRef| n.num_bits() > 0 && n.ucmp(&self.p) == Ordering::Less;
        OPENSSL_Q_BITS.contains(&(self.q.num_bits() as usize))
            && (MIN_P_BITS..=MAX_P_BITS).contains(&p_bits)
            && self.p.is_odd()
            && below_p(&self.g)
            && below_p(&self.y)
    }
}

/// Fixed-base tables for `g` and `y` modulo `p`.
#[derive(Debug)]
pub(crate) struct Tables {
    mont: Montgomery,
    window: u32,
    /// Windows per exponent: `ceil(bits(q) / window)`.
    windows: usize,
    g: Vec<BigNum>,
    y: Vec<BigNum>,
}

impl Tables {
    /// Bytes the tables of a key with this `p` and `q` take, as counted
    /// against the budget.
    pub(crate) fn size(p_bits: usize, q_bits: usize, window: u32) -> usize {
        let windows = q_bits.div_ceil(window as usize);
        let entries = 2 * windows * ((1 << window) - 1);
        entries * (p_bits.div_ceil(64) * 8 + ENTRY_OVERHEAD)
    }

    /// Reserves the tables' size in `budget`, then builds them; `None`
    /// (the reservation returned) when the budget is spent or libcrypto
    /// fails.
    fn build(params: &Params, window: u32, budget: &TableBudget) -> Option<Tables> {
        let q_bits = params.q.num_bits() as usize;
        let bytes = Tables::size(params.p.num_bits() as usize, q_bits, window);
        budget.build(bytes, || Tables::compute(params, window, q_bits))
    }

    fn compute(params: &Params, window: u32, q_bits: usize) -> Option<Tables> {
        let mut ctx = BigNumContext::new().ok()?;
        let mont = Montgomery::new(&params.p, &mut ctx)?;
        let windows = q_bits.div_ceil(window as usize);
        let g = fixed_base(&mont, &params.g, window, windows, &mut ctx)?;
        let y = fixed_base(&mont, &params.y, window, windows, &mut ctx)?;
        Some(Tables {
            mont,
            window,
            windows,
            g,
            y,
        })
    }

    /// OpenSSL 3.0's `dsa_do_verify`, step by step, with the double
    /// exponentiation done on the tables: `Some(verdict)`, or `None` on an
    /// internal failure (OpenSSL then decides).
    fn verify(&self, params: &Params, r: &BigNumRef, s: &BigNumRef, digest: &[u8]) -> Option<bool> {
        let q = &params.q;
        // r and s in (0, q), else a bad signature (never negative here:
        // they are read from unsigned octets).
        let in_range = |n: &BigNumRef| n.num_bits() > 0 && n.ucmp(q) == Ordering::Less;
        if !in_range(r) || !in_range(s) {
            return Some(false);
        }
        let mut ctx = BigNumContext::new().ok()?;
        // w = s⁻¹ mod q (none when q is not prime: OpenSSL fails, and
        // decides that itself).
        let mut w = BigNum::new().ok()?;
        w.mod_inverse(s, q, &mut ctx).ok()?;
        // The digest's leftmost bits(q)/8 octets.
        let length = digest.len().min(q.num_bits() as usize / 8);
        let z = BigNum::from_slice(&digest[..length]).ok()?;
        let mut u1 = BigNum::new().ok()?;
        u1.mod_mul(&z, &w, q, &mut ctx).ok()?;
        let mut u2 = BigNum::new().ok()?;
        u2.mod_mul(r, &w, q, &mut ctx).ok()?;
        let t = self.power(&u1, &u2, &mut ctx)?;
        let mut v = BigNum::new().ok()?;
        v.nnmod(&t, q, &mut ctx).ok()?;
        Some(v.ucmp(r) == Ordering::Equal)
    }

    /// `g^u1 · y^u2 mod p`, for `u1, u2 < q`, by table look-ups.
    pub(crate) fn power(
        &self,
        u1: &BigNumRef,
        u2: &BigNumRef,
        ctx: &mut BigNumContextRef,
    ) -> Option<BigNum> {
        let mut product: Option<BigNum> = None;
        let mut spare = BigNum::new().ok()?;
        for (table, exponent) in [(&self.g, u1), (&self.y, u2)] {
            for entry in self.entries(table, exponent)? {
                product = Some(match product {
                    None => BigNumRef::to_owned(entry).ok()?,
                    Some(mut acc) => {
                        self.mont
                            .mul_in_place(&mut acc, Some(entry), &mut spare, ctx)?;
                        acc
                    }
                });
            }
        }
        match product {
            Some(product) => self.mont.decode(&product, ctx),
            // Both exponents zero.
            None => BigNum::from_u32(1).ok(),
        }
    }

    /// The entries of `table` whose product is its base to `exponent`.
    fn entries<'t>(
        &self,
        table: &'t [BigNum],
        exponent: &BigNumRef,
    ) -> Option<impl Iterator<Item = &'t BigNum> + use<'t>> {
        let window = self.window as usize;
        if exponent.num_bits() as usize > self.windows * window || exponent.is_negative() {
            return None;
        }
        let bytes = exponent.to_vec();
        let per_row = (1usize << window) - 1;
        Some((0..self.windows).filter_map(move |i| {
            let digit = bits(&bytes, i * window, window);
            (digit != 0).then(|| &table[i * per_row + digit - 1])
        }))
    }
}

/// The `count` bits of the big-endian number `bytes` from bit `start`
/// (bit 0 the least significant).
fn bits(bytes: &[u8], start: usize, count: usize) -> usize {
    (0..count)
        .filter(|k| {
            let bit = start + k;
            let Some(index) = bytes.len().checked_sub(1 + bit / 8) else {
                return false;
            };
            bytes[index] >> (bit % 8) & 1 == 1
        })
        .map(|k| 1 << k)
        .sum()
}

/// `T[i][d] = base^(d·2^(w·i))` in Montgomery form, `d` from 1 to `2^w − 1`
/// (row `i` at `i·(2^w − 1)`): each entry one multiplication, the next
/// row's base the last entry times this row's.
fn fixed_base(
    mont: &Montgomery,
    base: &BigNumRef,
    window: u32,
    windows: usize,
    ctx: &mut BigNumContextRef,
) -> Option<Vec<BigNum>> {
    let per_row = (1usize << window) - 1;
    let mut table: Vec<BigNum> = Vec::with_capacity(windows * per_row);
    let mut row_base = mont.encode(base, ctx)?;
    for _ in 0..windows {
        table.push(BigNumRef::to_owned(&row_base).ok()?);
        for _ in 1..per_row {
            let mut next = BigNum::new().ok()?;
            mont.mul(&mut next, table.last()?, &row_base, ctx)?;
            table.push(next);
        }
        let mut next_base = BigNum::new().ok()?;
        mont.mul(&mut next_base, table.last()?, &row_base, ctx)?;
        row_base = next_base;
    }
    Some(table)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering as Atomic};
    use std::time::{Duration, SystemTime};

    use openssl::bn::MsbOption;
    use openssl::dsa::Dsa;
    use openssl::pkey::Private;
    use sequoia_openpgp as openpgp;

    use openpgp::crypto::mpi::{self, MPI};
    use openpgp::packet::key::{Key4, PublicParts, UnspecifiedRole};
    use openpgp::packet::Key;
    use openpgp::types::{HashAlgorithm, PublicKeyAlgorithm};

    use super::*;

    /// A DSA key made with OpenSSL, with its three verifiers.
    struct TestKey {
        name: String,
        private: PKey<Private>,
        q: Vec<u8>,
        /// Tables allowed (and, once warmed, built).
        prepared: DsaKey,
        sequoia: Key<PublicParts, UnspecifiedRole>,
    }

    /// Domain parameters with a prime q of `n` bits and a prime p = k·q + 1
    /// of `l` bits, found with OpenSSL's prime generation and tests (its own
    /// `DSA_generate_parameters` knows only the FIPS sizes).
    fn parameters(l: i32, n: i32) -> (BigNum, BigNum, BigNum) {
        let mut ctx = BigNumContext::new().unwrap();
        let mut q = BigNum::new().unwrap();
        q.generate_prime(n, false, None, None).unwrap();
        let one = BigNum::from_u32(1).unwrap();
        let (p, k) = loop {
            let mut k = BigNum::new().unwrap();
            k.rand(l - n, MsbOption::ONE, false).unwrap();
            k.clear_bit(0).unwrap();
            let p = &(&k * &q) + &one;
            if p.num_bits() == l && p.is_prime_fasttest(20, &mut ctx, true).unwrap() {
                break (p, k);
            }
        };
        let mut g = BigNum::new().unwrap();
        for h in 2.. {
            g.mod_exp(&BigNum::from_u32(h).unwrap(), &k, &p, &mut ctx)
                .unwrap();
            if g != one {
                break;
            }
        }
        (p, q, g)
    }

    fn test_key(l: i32, n: i32, budget: &Arc<TableBudget>) -> TestKey {
        let (p, q, g) = if n == 160 && l == 1024 {
            // OpenSSL's own generator for the classic shape.
            let params = Dsa::generate_params(1024).unwrap();
            let bn = |n: &BigNumRef| BigNumRef::to_owned(n).unwrap();
            (bn(params.p()), bn(params.q()), bn(params.g()))
        } else {
            parameters(l, n)
        };
        // OpenSSL generates keys of the FIPS sizes only: x and y by hand.
        let mut ctx = BigNumContext::new().unwrap();
        let mut x = BigNum::new().unwrap();
        while x.num_bits() == 0 {
            q.rand_range(&mut x).unwrap();
        }
        let mut y = BigNum::new().unwrap();
        y.mod_exp(&g, &x, &p, &mut ctx).unwrap();
        let dsa = Dsa::from_private_components(p, q, g, x, y).unwrap();
        let number = |n: &BigNumRef| BigNumRef::to_owned(n).unwrap();
        let prepared = DsaKey::new(
            number(dsa.p()),
            number(dsa.q()),
            number(dsa.g()),
            number(dsa.pub_key()),
            budget,
        )
        .unwrap();
        let mpi = |n: &BigNumRef| MPI::new(&n.to_vec());
        #[allow(deprecated)]
        let sequoia = Key4::new(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000),
            PublicKeyAlgorithm::DSA,
            mpi::PublicKey::DSA {
                p: mpi(dsa.p()),
                q: mpi(dsa.q()),
                g: mpi(dsa.g()),
                y: mpi(dsa.pub_key()),
            },
        )
        .unwrap()
        .into();
        TestKey {
            name: format!("DSA-{l}/{n}"),
            q: dsa.q().to_vec(),
            private: PKey::from_dsa(dsa).unwrap(),
            prepared,
            sequoia,
        }
    }

    impl TestKey {
        /// OpenSSL's signature over `digest`: (r, s); made step by step
        /// with OpenSSL's arithmetic for the q sizes it does not sign with.
        fn sign(&self, digest: &[u8]) -> (Vec<u8>, Vec<u8>) {
            let mut ctx = PkeyCtx::new(&self.private).unwrap();
            ctx.sign_init().unwrap();
            let mut der = Vec::new();
            match ctx.sign_to_vec(digest, &mut der) {
                Ok(_) => {
                    let sig = DsaSig::from_der(&der).unwrap();
                    (sig.r().to_vec(), sig.s().to_vec())
                }
                Err(_) => self.sign_by_hand(digest),
            }
        }

        /// r = (g^k mod p) mod q, s = k⁻¹·(z + x·r) mod q.
        fn sign_by_hand(&self, digest: &[u8]) -> (Vec<u8>, Vec<u8>) {
            let dsa = self.private.dsa().unwrap();
            let (p, q, g) = (dsa.p(), dsa.q(), dsa.g());
            let mut ctx = BigNumContext::new().unwrap();
            let mut k = BigNum::new().unwrap();
            while k.num_bits() == 0 {
                q.rand_range(&mut k).unwrap();
            }
            let mut gk = BigNum::new().unwrap();
            gk.mod_exp(g, &k, p, &mut ctx).unwrap();
            let mut r = BigNum::new().unwrap();
            r.nnmod(&gk, q, &mut ctx).unwrap();
            let length = digest.len().min(q.num_bits() as usize / 8);
            let z = BigNum::from_slice(&digest[..length]).unwrap();
            let mut xr = BigNum::new().unwrap();
            xr.mod_mul(dsa.priv_key(), &r, q, &mut ctx).unwrap();
            let mut sum = BigNum::new().unwrap();
            sum.mod_add(&z, &xr, q, &mut ctx).unwrap();
            let mut k_inverse = BigNum::new().unwrap();
            k_inverse.mod_inverse(&k, q, &mut ctx).unwrap();
            let mut s = BigNum::new().unwrap();
            s.mod_mul(&k_inverse, &sum, q, &mut ctx).unwrap();
            (r.to_vec(), s.to_vec())
        }

        /// The verdicts of the tables, OpenSSL and sequoia.
        fn verdicts(&self, r: &[u8], s: &[u8], digest: &[u8]) -> [bool; 3] {
            let hash = match digest.len() {
                20 => HashAlgorithm::SHA1,
                28 => HashAlgorithm::SHA224,
                32 => HashAlgorithm::SHA256,
                48 => HashAlgorithm::SHA384,
                _ => HashAlgorithm::SHA512,
            };
            let signature = mpi::Signature::DSA {
                r: MPI::new(r),
                s: MPI::new(s),
            };
            [
                self.prepared.verify(true, r, s, digest).is_ok(),
                self.prepared.verify(false, r, s, digest).is_ok(),
                self.sequoia.verify(&signature, hash, digest).is_ok(),
            ]
        }

        /// Verifies valid signatures until the key has its tables.
        fn warm(&self) {
            for i in 0..THRESHOLD {
                let digest = digest(i, 32);
                let (r, s) = self.sign(&digest);
                assert_eq!(self.verdicts(&r, &s, &digest), [true; 3], "{}", self.name);
            }
        }
    }

    /// A digest of `length` octets, different for each `seed`.
    fn digest(seed: u32, length: usize) -> Vec<u8> {
        use sha2::Digest;
        let mut out = Vec::new();
        let mut counter = 0u32;
        while out.len() < length {
            let mut hash = sha2::Sha256::new();
            hash.update(seed.to_be_bytes());
            hash.update(counter.to_be_bytes());
            out.extend_from_slice(&hash.finalize());
            counter += 1;
        }
        out.truncate(length);
        out
    }

    fn add(a: &[u8], b: u32) -> Vec<u8> {
        (&BigNum::from_slice(a).unwrap() + &BigNum::from_u32(b).unwrap()).to_vec()
    }

    fn sub(a: &[u8], b: u32) -> Vec<u8> {
        (&BigNum::from_slice(a).unwrap() - &BigNum::from_u32(b).unwrap()).to_vec()
    }

    /// A named signature: (name, r, s, digest).
    type Case = (String, Vec<u8>, Vec<u8>, Vec<u8>);

    /// The signatures the three verifiers must agree on, from a valid
    /// `(r, s)` over `digest`: each with a name.
    fn cases(key: &TestKey, digest: &[u8]) -> Vec<Case> {
        let (r, s) = key.sign(digest);
        let q = &key.q;
        let mut cases = vec![("valid".to_owned(), r.clone(), s.clone(), digest.to_vec())];
        let mut push = |name: &str, r: &[u8], s: &[u8], d: &[u8]| {
            cases.push((name.to_owned(), r.to_vec(), s.to_vec(), d.to_vec()))
        };
        let mut tampered = digest.to_vec();
        tampered[0] ^= 1;
        push("tampered digest", &r, &s, &tampered);
        let mut tail = digest.to_vec();
        *tail.last_mut().unwrap() ^= 0x80;
        push("digest's last bit", &r, &s, &tail);
        push("digest truncated", &r, &s, &digest[..digest.len() - 1]);
        let mut longer = digest.to_vec();
        longer.push(7);
        push("digest extended", &r, &s, &longer);
        for (name, value) in [
            ("0", vec![]),
            ("0 as an octet", vec![0]),
            ("q", q.clone()),
            ("q + 1", add(q, 1)),
            ("q - 1", sub(q, 1)),
            ("all ones, q's length", q.iter().map(|_| 0xff).collect()),
        ] {
            push(&format!("r = {name}"), &value, &s, digest);
            push(&format!("s = {name}"), &r, &value, digest);
        }
        let r_plus_q =
            (&BigNum::from_slice(&r).unwrap() + &BigNum::from_slice(q).unwrap()).to_vec();
        push("r + q", &r_plus_q, &s, digest);
        let s_plus_q =
            (&BigNum::from_slice(&s).unwrap() + &BigNum::from_slice(q).unwrap()).to_vec();
        push("s + q", &r, &s_plus_q, digest);
        let padded = |v: &[u8]| [&[0u8, 0][..], v].concat();
        push(
            "r and s with leading zero octets",
            &padded(&r),
            &padded(&s),
            digest,
        );
        push("r one octet short", &r[1..], &s, digest);
        push("s one octet short", &r, &s[..s.len() - 1], digest);
        push("r one octet long", &[&r[..], &[1]].concat(), &s, digest);
        push("s one octet long", &r, &[&[1], &s[..]].concat(), digest);
        push("r and s swapped", &s, &r, digest);
        for bit in [0, 1, 7, 8, 63, 100, 159] {
            let flip = |v: &[u8]| {
                let mut v = v.to_vec();
                let at = v.len() - 1 - (bit / 8) % v.len();
                v[at] ^= 1 << (bit % 8);
                v
            };
            push(&format!("r bit {bit}"), &flip(&r), &s, digest);
            push(&format!("s bit {bit}"), &r, &flip(&s), digest);
        }
        cases
    }

    /// Every key shape: the tables, OpenSSL and sequoia agree on valid,
    /// tampered and out-of-range signatures, and the tables are used where
    /// they may be (and not for a q of 200 bits, which OpenSSL refuses).
    #[test]
    fn tables_openssl_and_sequoia_agree() {
        let budget = Arc::new(TableBudget::default());
        let shapes = [(1024, 160), (2048, 224), (2048, 256), (3072, 256)];
        for (l, n) in shapes {
            let key = test_key(l, n, &budget);
            key.warm();
            assert!(key.prepared.has_tables(), "{}", key.name);
            for seed in 0..8 {
                for length in [20, 28, 32, 64] {
                    for (name, r, s, d) in cases(&key, &digest(100 + seed, length)) {
                        let [tables, openssl, sequoia] = key.verdicts(&r, &s, &d);
                        assert_eq!(
                            (tables, openssl),
                            (sequoia, sequoia),
                            "{} {length}-octet digest: {name}",
                            key.name
                        );
                        if name == "valid" {
                            assert!(tables, "{} {name}", key.name);
                        }
                    }
                }
            }
        }
        assert_eq!(budget.tables_built(), shapes.len());
        let expected: usize = shapes
            .iter()
            .map(|&(l, n)| Tables::size(l as usize, n as usize, WINDOW))
            .sum();
        assert_eq!(budget.used(), expected);
    }

    /// A q of 200 bits: OpenSSL's `dsa_do_verify` refuses every signature
    /// (and the tables are never built, which would accept them), sequoia
    /// verifies them: such keys go to sequoia in both fast engines.
    #[test]
    fn other_q_sizes_go_to_sequoia() {
        let budget = Arc::new(TableBudget::default());
        let key = test_key(1024, 200, &budget);
        for seed in 0..THRESHOLD + 4 {
            let digest = digest(seed, 32);
            let (r, s) = key.sign(&digest);
            let [tables, openssl, sequoia] = key.verdicts(&r, &s, &digest);
            assert_eq!((tables, openssl, sequoia), (false, false, true));
        }
        assert!(!key.prepared.has_tables());
        assert_eq!(budget.used(), 0);
        let prepared = crate::openpgp::crypto::Prepared::new(&key.sequoia, &budget);
        assert!(matches!(
            prepared,
            crate::openpgp::crypto::Prepared::Sequoia
        ));
        let standard = test_key(1024, 160, &budget);
        let prepared = crate::openpgp::crypto::Prepared::new(&standard.sequoia, &budget);
        assert!(matches!(prepared, crate::openpgp::crypto::Prepared::Dsa(_)));
    }

    /// `g^u1 · y^u2 mod p` by the tables is OpenSSL's `BN_mod_exp` product,
    /// for exponents at the edges and at random.
    #[test]
    fn table_power_is_modular_exponentiation() {
        let budget = Arc::new(TableBudget::default());
        let key = test_key(1024, 160, &budget);
        let params = key.prepared.params.as_ref().unwrap();
        let tables = Tables::build(params, WINDOW, &budget).unwrap();
        let mut ctx = BigNumContext::new().unwrap();
        let q = &params.q;
        let mut exponents: Vec<BigNum> = ["0", "1", "2", "3f", "40"]
            .iter()
            .map(|h| BigNum::from_hex_str(h).unwrap())
            .collect();
        exponents.push(&BigNumRef::to_owned(q).unwrap() - &BigNum::from_u32(1).unwrap());
        for _ in 0..8 {
            let mut random = BigNum::new().unwrap();
            q.rand_range(&mut random).unwrap();
            exponents.push(random);
        }
        for u1 in &exponents {
            for u2 in &exponents {
                let mut a = BigNum::new().unwrap();
                a.mod_exp(&params.g, u1, &params.p, &mut ctx).unwrap();
                let mut b = BigNum::new().unwrap();
                b.mod_exp(&params.y, u2, &params.p, &mut ctx).unwrap();
                let mut expected = BigNum::new().unwrap();
                expected.mod_mul(&a, &b, &params.p, &mut ctx).unwrap();
                assert_eq!(tables.power(u1, u2, &mut ctx).unwrap(), expected);
            }
        }
        // An exponent beyond the windows is refused, not truncated.
        let big = BigNum::from_slice(&[1; 40]).unwrap();
        assert!(tables.power(&big, &big, &mut ctx).is_none());
    }

    /// Many DSA keys against a small budget: tables for as many as fit,
    /// OpenSSL for the rest, the same verdicts; and a key with a huge p
    /// gets none.
    #[test]
    fn table_memory_is_bounded_by_the_budget() {
        let one = Tables::size(1024, 160, WINDOW);
        let budget = Arc::new(TableBudget::new(2 * one + one / 2));
        let first = test_key(1024, 160, &budget);
        let number = |n: &BigNumRef| BigNumRef::to_owned(n).unwrap();
        let dsa = first.private.dsa().unwrap();
        let keys: Vec<DsaKey> = (0..10)
            .map(|_| {
                DsaKey::new(
                    number(dsa.p()),
                    number(dsa.q()),
                    number(dsa.g()),
                    number(dsa.pub_key()),
                    &budget,
                )
                .unwrap()
            })
            .collect();
        for seed in 0..THRESHOLD + 2 {
            let digest = digest(seed, 32);
            let (r, s) = first.sign(&digest);
            let mut wrong = digest.clone();
            wrong[3] ^= 4;
            for key in &keys {
                assert!(key.verify(true, &r, &s, &digest).is_ok());
                assert!(key.verify(true, &r, &s, &wrong).is_err());
            }
        }
        assert_eq!(keys.iter().filter(|k| k.has_tables()).count(), 2);
        assert_eq!(budget.tables_built(), 2);
        assert_eq!(budget.used(), 2 * one);

        // p of 5,000 bits (beyond the tables' 4,096): never tabled, and
        // OpenSSL decides (it does not check that p is prime).
        let mut p = BigNum::new().unwrap();
        p.rand(5000, MsbOption::ONE, true).unwrap();
        let mut g = BigNum::new().unwrap();
        p.rand_range(&mut g).unwrap();
        let huge = DsaKey::new(
            p,
            number(dsa.q()),
            BigNumRef::to_owned(&g).unwrap(),
            g,
            &Arc::new(TableBudget::default()),
        )
        .unwrap();
        let digest = digest(1, 32);
        let (r, s) = first.sign(&digest);
        for _ in 0..THRESHOLD + 2 {
            assert_eq!(
                huge.verify(true, &r, &s, &digest).is_ok(),
                huge.verify(false, &r, &s, &digest).is_ok()
            );
        }
        assert!(!huge.has_tables());
    }

    /// A keyring of 80 DSA keys that all sign enough to earn tables: its
    /// budget (32 MiB) takes as many as fit, the others keep OpenSSL's
    /// path, and every verdict stays right.
    #[test]
    fn a_keyring_of_many_dsa_keys_stays_within_its_budget() {
        use openpgp::serialize::MarshalInto;
        let key = test_key(1024, 160, &Arc::new(TableBudget::default()));
        let files: Vec<(String, Vec<u8>)> = (0..80u64)
            .map(|i| {
                let mut packet = key.sequoia.clone();
                packet
                    .set_creation_time(SystemTime::UNIX_EPOCH + Duration::from_secs(i * 86_400))
                    .unwrap();
                let packet = openpgp::Packet::from(packet.role_into_primary());
                (format!("{i}.key"), packet.to_vec().unwrap())
            })
            .collect();
        let keyring = crate::Keyring::from_files(
            "keyring",
            files.iter().map(|(n, c)| (n.as_str(), c.as_slice())),
        )
        .unwrap();
        assert_eq!(keyring.len(), 80);
        let signatures: Vec<_> = (0..THRESHOLD + 1)
            .map(|seed| {
                let digest = digest(seed, 20);
                let (r, s) = key.sign(&digest);
                (r, s, digest)
            })
            .collect();
        for keyring_key in keyring.keys() {
            let crate::openpgp::crypto::Prepared::Dsa(prepared) = keyring_key.prepared() else {
                panic!("not prepared for DSA");
            };
            for (r, s, digest) in &signatures {
                assert!(prepared.verify(true, r, s, digest).is_ok());
                assert!(prepared.verify(true, s, r, digest).is_err());
            }
        }
        let budget = keyring.table_budget();
        let one = Tables::size(1024, 160, WINDOW);
        assert_eq!(
            budget.tables_built(),
            crate::openpgp::budget::TABLE_BUDGET / one
        );
        assert!(budget.used() <= crate::openpgp::budget::TABLE_BUDGET);
        assert!(budget.tables_built() < 80);
    }

    /// Two threads verifying with one key as it passes the threshold:
    /// the tables are built once, every verdict right.
    #[test]
    fn concurrent_verifications_build_the_tables_once() {
        let budget = Arc::new(TableBudget::default());
        let key = test_key(1024, 160, &budget);
        let signatures: Vec<_> = (0..4 * THRESHOLD)
            .map(|seed| {
                let digest = digest(seed, 20);
                let (r, s) = key.sign(&digest);
                (r, s, digest)
            })
            .collect();
        let good = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for half in signatures.chunks(signatures.len() / 2) {
                let (key, good) = (&key, &good);
                scope.spawn(move || {
                    for (r, s, digest) in half {
                        if key.prepared.verify(true, r, s, digest).is_ok() {
                            good.fetch_add(1, Atomic::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(good.load(Atomic::Relaxed), signatures.len());
        assert!(key.prepared.has_tables());
        assert_eq!(budget.tables_built(), 1);
    }
}
