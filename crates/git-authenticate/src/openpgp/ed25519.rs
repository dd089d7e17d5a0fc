//! Ed25519 verification with per-key precomputation, for the few keys
//! that sign thousands of commits.
//!
//! ed25519-dalek's `verify` computes `R' = [s]B − [k]A` with one double
//! multiplication (about 253 doublings), compresses it, and compares the
//! result with the signature's `R`, as encoded. `B` is the same for every
//! key, and `A` is the key's: once ed25519-dalek has accepted
//! [`THRESHOLD`] of a key's signatures, the multiples of `−A` are put in a
//! table ([`Multiples`], and once per process those of `B`), and `R'` is
//! then at most 66 additions of table entries, with no doubling (on this
//! machine, 20.3 µs per signature instead of 39.3, digest and key look-up
//! included).
//!
//! The result is ed25519-dalek's: every step of its `verify`
//! (ed25519-dalek 2.2's `raw_verify` and `RCompute`) is taken in
//! [`Ed25519Key::verify_with_tables`] with its own functions (the check of
//! `s`, the challenge `k`, the decompressed key, the compression), and
//! only the double multiplication is done otherwise: as a sum of the same
//! multiples, on the curve's complete addition law, which holds for every
//! point, small-order parts included. So the tables give the same point,
//! and the same verdict, for every key and signature.

use std::sync::{Arc, OnceLock};

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use ed25519_dalek::{Verifier, VerifyingKey};
use sha2::{Digest, Sha512};

use crate::openpgp::budget::{Earned, TableBudget};

/// Signatures ed25519-dalek verifies for a key before it gets tables.
/// Building them (0.9 ms) costs what they save on about 47 verifications
/// (19 µs each): a key that signs only a few commits never pays for it,
/// and one that signs thousands pays at most about twice the best
/// possible (the ski-rental bound).
pub(crate) const THRESHOLD: u32 = 48;

/// Multiples per row: the scalar is read in signed digits of 8 bits, from
/// −128 to 127, and row `i` holds `d·256^i·P` for `d` from 1 to 128 (a
/// negative digit subtracts). Measured on this machine with 5, 6, 7 and
/// 8-bit digits: 28.6, 25.9, 23.8 and 22.3 µs per signature, for 132, 220,
/// 380 and 660 KiB per key; ed25519-dalek's `verify` took 38.9 µs (the
/// arithmetic alone, in a scratch program).
const PER_ROW: usize = 128;

/// Rows: 32 for the scalar's bytes and one for the last carry, so that
/// any 256-bit number is a sum of the table's entries.
const ROWS: usize = 33;

/// An Ed25519 key prepared for verification: ed25519-dalek's key, and
/// the table of multiples of `−A` once it has signed enough.
#[derive(Debug)]
pub(crate) struct Ed25519Key {
    key: VerifyingKey,
    /// Earned once ed25519-dalek has verified [`THRESHOLD`] signatures.
    tables: Earned<Multiples>,
    budget: Arc<TableBudget>,
}

impl Ed25519Key {
    /// The key whose point is encoded as `bytes`; `None` when
    /// ed25519-dalek cannot decompress it.
    pub(crate) fn new(bytes: &[u8; 32], budget: &Arc<TableBudget>) -> Option<Self> {
        Some(Ed25519Key {
            key: VerifyingKey::from_bytes(bytes).ok()?,
            tables: Earned::new(),
            budget: budget.clone(),
        })
    }

    /// Verifies `signature` (`R` then `s`) over `message`: with the tables
    /// when `use_tables` and the key has them, else with ed25519-dalek's
    /// `verify` (which, past the threshold, gives the key its tables).
    pub(crate) fn verify(
        &self,
        use_tables: bool,
        signature: &[u8; 64],
        message: &[u8],
    ) -> Result<(), String> {
        let verified = match self.tables.get().filter(|_| use_tables) {
            Some(minus_a) => self.verify_with_tables(minus_a, signature, message),
            None => {
                let signature = ed25519_dalek::Signature::from_bytes(signature);
                let verified = self.key.verify(message, &signature).is_ok();
                if verified && use_tables {
                    self.count_verified();
                }
                verified
            }
        };
        verified
            .then_some(())
            .ok_or_else(|| "EdDSA signature verification failed".to_owned())
    }

    /// Counts a signature ed25519-dalek verified (see [`Earned`]).
    fn count_verified(&self) {
        self.tables.count(THRESHOLD, || {
            self.budget.build(Multiples::SIZE, || {
                Some(Multiples::of(&-self.key.to_edwards()))
            })
        });
    }

    /// ed25519-dalek's `verify`, step by step, with `[s]B − [k]A` summed
    /// from the tables.
    fn verify_with_tables(
        &self,
        minus_a: &Multiples,
        signature: &[u8; 64],
        message: &[u8],
    ) -> bool {
        let (r, s) = signature.split_at(32);
        // `check_scalar`: s below the group's order ℓ, else refused.
        let s: [u8; 32] = s.try_into().expect("half of 64 bytes");
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s)) else {
            return false;
        };
        // `RCompute`: k = SHA-512(R ‖ A ‖ M) mod ℓ, with A as the key
        // encodes it.
        let hash = Sha512::new()
            .chain_update(r)
            .chain_update(self.key.as_bytes())
            .chain_update(message);
        let k = Scalar::from_hash(hash);
        let mut sum = EdwardsPoint::identity();
        basepoint().add_multiple(&mut sum, s.as_bytes());
        minus_a.add_multiple(&mut sum, k.as_bytes());
        // R' compressed, compared with R as the signature encodes it.
        sum.compress().as_bytes() == r
    }

    /// Builds this key's table outside any budget, and drops it: the time
    /// it took and its size (for the benchmarks' figures).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn time_table_build(&self) -> (std::time::Duration, usize) {
        let start = std::time::Instant::now();
        let table = Multiples::of(&-self.key.to_edwards());
        let elapsed = start.elapsed();
        drop(table);
        (elapsed, Multiples::SIZE)
    }

    /// Whether the key has its tables.
    #[cfg(test)]
    pub(crate) fn has_tables(&self) -> bool {
        self.tables.get().is_some()
    }
}

/// The multiples of `B`, built once per process when a first key earns
/// tables (660 KiB).
fn basepoint() -> &'static Multiples {
    static BASEPOINT: OnceLock<Multiples> = OnceLock::new();
    BASEPOINT.get_or_init(|| Multiples::of(&ED25519_BASEPOINT_POINT))
}

/// The multiples of a point `P`: row `i`, entry `d − 1` is `d·256^i·P`.
pub(crate) struct Multiples {
    points: Box<[EdwardsPoint]>,
}

impl std::fmt::Debug for Multiples {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Multiples")
    }
}

impl Multiples {
    /// Bytes a table takes, as counted against the budget.
    pub(crate) const SIZE: usize = ROWS * PER_ROW * std::mem::size_of::<EdwardsPoint>();

    /// The table of `point`: 4,257 additions.
    pub(crate) fn of(point: &EdwardsPoint) -> Multiples {
        let mut points = Vec::with_capacity(ROWS * PER_ROW);
        let mut row_base = *point;
        for _ in 0..ROWS {
            let mut multiple = row_base;
            for _ in 0..PER_ROW {
                points.push(multiple);
                multiple += row_base;
            }
            // 256·P_i = 128·P_i + 128·P_i (the law is complete: it doubles).
            let last = points[points.len() - 1];
            row_base = last + last;
        }
        Multiples {
            points: points.into_boxed_slice(),
        }
    }

    /// Adds `n·P` to `sum`, for the little-endian 256-bit number `n`: one
    /// addition or subtraction per nonzero digit.
    pub(crate) fn add_multiple(&self, sum: &mut EdwardsPoint, n: &[u8; 32]) {
        for (row, digit) in signed_digits(n).into_iter().enumerate() {
            let entry = |d: i16| &self.points[row * PER_ROW + usize::from(d.unsigned_abs()) - 1];
            match digit {
                0 => {}
                d if d > 0 => *sum += entry(d),
                d => *sum -= entry(d),
            }
        }
    }
}

/// `n` in [`ROWS`] digits from −128 to 128, `n = Σ d_i·256^i`: each byte,
/// plus the carry, taken as negative from 128 on (carrying one to the
/// next). The last digit is the last carry, 0 or 1.
fn signed_digits(n: &[u8; 32]) -> [i16; ROWS] {
    let mut digits = [0i16; ROWS];
    let mut carry = 0;
    for (digit, &byte) in digits.iter_mut().zip(n) {
        let value = i16::from(byte) + carry;
        carry = i16::from(value >= 128);
        *digit = value - 256 * carry;
    }
    digits[ROWS - 1] = carry;
    digits
}

#[cfg(test)]
mod tests {
    use curve25519_dalek::constants::EIGHT_TORSION;
    use proptest::prelude::*;

    use super::*;

    /// `n·point` by double-and-add over all 256 bits of `n`, with
    /// curve25519-dalek's own addition and doubling: the reference for any
    /// 256-bit `n`, where `Scalar` would reduce it modulo ℓ (which changes
    /// the multiple of a point with a small-order part).
    fn reference(point: &EdwardsPoint, n: &[u8; 32]) -> EdwardsPoint {
        let mut sum = EdwardsPoint::identity();
        for bit in (0..256).rev() {
            sum = sum + sum;
            if n[bit / 8] >> (bit % 8) & 1 == 1 {
                sum += point;
            }
        }
        sum
    }

    fn point(seed: &[u8; 32], torsion: usize) -> EdwardsPoint {
        EdwardsPoint::mul_base(&Scalar::from_bytes_mod_order(*seed)) + EIGHT_TORSION[torsion % 8]
    }

    #[test]
    fn digits_sum_to_the_number() {
        let numbers = [[0u8; 32], [0xff; 32], [0x80; 32], [0x7f; 32], {
            let mut n = [0u8; 32];
            n[31] = 0x80;
            n
        }];
        for n in numbers {
            let digits = signed_digits(&n);
            assert!(digits.iter().all(|d| (-128..=128).contains(d)));
            assert!(digits[ROWS - 1] == 0 || digits[ROWS - 1] == 1);
            // Σ d_i·256^i, as a little-endian number with borrows.
            let mut bytes = [0i32; ROWS + 1];
            for (i, &d) in digits.iter().enumerate() {
                bytes[i] += i32::from(d);
                while bytes[i] < 0 {
                    bytes[i] += 256;
                    bytes[i + 1] -= 1;
                }
            }
            let low: Vec<u8> = bytes[..32].iter().map(|&b| b as u8).collect();
            assert_eq!(low, n);
            assert_eq!(bytes[32], 0);
        }
    }

    #[test]
    fn multiples_of_small_order_points_and_extreme_numbers() {
        let numbers = [[0u8; 32], [0xff; 32], [0x80; 32], [1; 32], {
            let mut n = [0u8; 32];
            n[0] = 1;
            n
        }];
        for (torsion, p) in EIGHT_TORSION.iter().enumerate() {
            let table = Multiples::of(p);
            for n in &numbers {
                let mut sum = EdwardsPoint::identity();
                table.add_multiple(&mut sum, n);
                assert_eq!(sum, reference(p, n), "torsion point {torsion}, n = {n:x?}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn a_tables_multiple_is_scalar_multiplication(
            seed in any::<[u8; 32]>(),
            torsion in 0usize..8,
            n in any::<[u8; 32]>(),
            start in any::<[u8; 32]>(),
        ) {
            let p = point(&seed, torsion);
            let table = Multiples::of(&p);
            // Added to any point, not only the identity.
            let start = point(&start, 0);
            let mut sum = start;
            table.add_multiple(&mut sum, &n);
            prop_assert_eq!(sum, start + reference(&p, &n));
        }
    }

    /// A key `A = a·B + T`, `T` of small order, with its encoding (which
    /// may be non-canonical).
    struct HandKey {
        a: Scalar,
        encoded: [u8; 32],
        prepared: Ed25519Key,
    }

    impl HandKey {
        fn new(a: Scalar, torsion: usize, budget: &Arc<TableBudget>) -> HandKey {
            let point = EdwardsPoint::mul_base(&a) + EIGHT_TORSION[torsion];
            HandKey::encoded(a, point.compress().to_bytes(), budget)
        }

        fn encoded(a: Scalar, encoded: [u8; 32], budget: &Arc<TableBudget>) -> HandKey {
            let prepared = Ed25519Key::new(&encoded, budget).expect("a point");
            HandKey {
                a,
                encoded,
                prepared,
            }
        }

        /// A signature made by hand: `R = r·B + T'`, `s = r + k·a`. With
        /// small-order parts in `A` or `R`, dalek's cofactorless check
        /// accepts some and refuses others.
        fn sign(&self, r: Scalar, torsion: usize, message: &[u8]) -> [u8; 64] {
            let big_r = (EdwardsPoint::mul_base(&r) + EIGHT_TORSION[torsion]).compress();
            let k = Scalar::from_hash(
                Sha512::new()
                    .chain_update(big_r.as_bytes())
                    .chain_update(self.encoded)
                    .chain_update(message),
            );
            let s = r + k * self.a;
            let mut signature = [0u8; 64];
            signature[..32].copy_from_slice(big_r.as_bytes());
            signature[32..].copy_from_slice(s.as_bytes());
            signature
        }

        /// ed25519-dalek's verdict and the tables', on the same signature.
        fn verdicts(&self, signature: &[u8; 64], message: &[u8]) -> (bool, bool) {
            let minus_a = Multiples::of(&-self.prepared.key.to_edwards());
            let dalek = self
                .prepared
                .key
                .verify(message, &ed25519_dalek::Signature::from_bytes(signature))
                .is_ok();
            let tables = self
                .prepared
                .verify_with_tables(&minus_a, signature, message);
            (dalek, tables)
        }
    }

    fn scalar(seed: u64) -> Scalar {
        Scalar::from_hash(Sha512::new().chain_update(seed.to_le_bytes()))
    }

    /// ℓ, the order of B, little-endian.
    fn order() -> [u8; 32] {
        let mut minus_one = (-Scalar::ONE).to_bytes();
        minus_one[0] += 1;
        minus_one
    }

    /// `a + b` as 256-bit little-endian numbers (no overflow here).
    fn add(a: &[u8], b: &[u8]) -> [u8; 32] {
        let mut sum = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let total = u16::from(a[i]) + u16::from(b[i]) + carry;
            sum[i] = total as u8;
            carry = total >> 8;
        }
        sum
    }

    /// The signature, and every way of spoiling it that the checks see.
    fn cases(signature: &[u8; 64]) -> Vec<[u8; 64]> {
        let mut cases = vec![*signature, [0; 64], [0xff; 64]];
        for bit in [0, 1, 7, 100, 254, 255, 256, 300, 500, 509, 510, 511] {
            let mut spoilt = *signature;
            spoilt[bit / 8] ^= 1 << (bit % 8);
            cases.push(spoilt);
        }
        // s + ℓ: the same value modulo ℓ, not canonical.
        let mut high = *signature;
        high[32..].copy_from_slice(&add(&signature[32..], &order()));
        cases.push(high);
        // s = 0, s = ℓ − 1, s = ℓ.
        for s in [[0u8; 32], (-Scalar::ONE).to_bytes(), order()] {
            let mut other = *signature;
            other[32..].copy_from_slice(&s);
            cases.push(other);
        }
        // R as the identity, canonical (y = 1) and not (y = p + 1).
        let mut p_plus_one = [0xffu8; 32];
        p_plus_one[0] = 0xee;
        p_plus_one[31] = 0x7f;
        let mut one = [0u8; 32];
        one[0] = 1;
        for r in [one, p_plus_one] {
            let mut other = *signature;
            other[..32].copy_from_slice(&r);
            cases.push(other);
        }
        cases
    }

    #[test]
    fn tables_and_dalek_agree() {
        let budget = Arc::new(TableBudget::default());
        let mut keys: Vec<HandKey> = (0..8)
            .map(|torsion| HandKey::new(scalar(torsion as u64), torsion, &budget))
            .collect();
        // A key of small order only, the identity, and the identity
        // encoded as y = p + 1 (hashed as encoded).
        keys.push(HandKey::new(Scalar::ZERO, 3, &budget));
        keys.push(HandKey::new(Scalar::ZERO, 0, &budget));
        let mut p_plus_one = [0xffu8; 32];
        p_plus_one[0] = 0xee;
        p_plus_one[31] = 0x7f;
        keys.push(HandKey::encoded(Scalar::ZERO, p_plus_one, &budget));
        let (mut accepted, mut refused) = (0, 0);
        for (i, key) in keys.iter().enumerate() {
            for torsion in 0..8 {
                let message = format!("key {i}, R's small-order part {torsion}");
                let signature =
                    key.sign(scalar(1000 + torsion as u64), torsion, message.as_bytes());
                for (j, case) in cases(&signature).iter().enumerate() {
                    for message in [message.as_bytes(), b"another message"] {
                        let (dalek, tables) = key.verdicts(case, message);
                        assert_eq!(dalek, tables, "key {i}, R's torsion {torsion}, case {j}");
                        if dalek {
                            accepted += 1;
                        } else {
                            refused += 1;
                        }
                    }
                }
            }
        }
        // Both outcomes were met: beyond each key's plain signature, some
        // with small-order parts were accepted too.
        assert!(
            accepted > keys.len() && refused > 1000,
            "{accepted} accepted, {refused} refused"
        );
    }

    #[test]
    fn a_key_earns_its_tables_and_the_budget_bounds_them() {
        let budget = Arc::new(TableBudget::new(2 * Multiples::SIZE));
        let keys: Vec<HandKey> = (0..3)
            .map(|i| HandKey::new(scalar(i), 0, &budget))
            .collect();
        for key in &keys {
            let signed: Vec<(Vec<u8>, [u8; 64])> = (0..u64::from(THRESHOLD) + 2)
                .map(|i| {
                    let message = format!("commit {i}").into_bytes();
                    (message.clone(), key.sign(scalar(5000 + i), 0, &message))
                })
                .collect();
            // Verifications without tables asked (the reference engines)
            // never build them.
            for (message, signature) in &signed {
                key.prepared.verify(false, signature, message).unwrap();
            }
            assert!(!key.prepared.has_tables());
            // Refused signatures do not count.
            for (message, _) in &signed {
                let _ = key.prepared.verify(true, &[0; 64], message);
            }
            assert!(!key.prepared.has_tables());
            for (message, signature) in &signed {
                key.prepared.verify(true, signature, message).unwrap();
                assert!(key.prepared.verify(true, signature, b"tampered").is_err());
            }
        }
        // Two keys fit the budget; the third verifies without tables.
        assert!(keys[0].prepared.has_tables() && keys[1].prepared.has_tables());
        assert!(!keys[2].prepared.has_tables());
        assert_eq!(budget.tables_built(), 2);
        assert_eq!(budget.used(), 2 * Multiples::SIZE);
    }
}
