//! OpenSSL's Montgomery multiplication, which the `openssl` crate does not
//! bind: the crate's only `unsafe` code, kept to these few calls.
//!
//! The functions are libcrypto's public API (`BN_MONT_CTX_new(3)`), and
//! libcrypto is already linked through `openssl-sys`. Every number handed
//! to [`Montgomery::mul`] must be below the modulus (in Montgomery form, as
//! [`Montgomery::encode`] and `mul` itself return them): callers
//! guarantee it, and a number that is not gives a wrong product, never
//! undefined behaviour.

use std::ffi::c_int;
use std::ptr::NonNull;

use foreign_types::{ForeignType, ForeignTypeRef};
use openssl::bn::{BigNum, BigNumContextRef, BigNumRef};

/// libcrypto's `BIGNUM` and `BN_CTX`, as `openssl-sys` declares them.
type Bignum = <BigNumRef as ForeignTypeRef>::CType;
type BnCtx = <BigNumContextRef as ForeignTypeRef>::CType;

/// libcrypto's opaque `BN_MONT_CTX`.
#[repr(C)]
struct BnMontCtx {
    _opaque: [u8; 0],
}

extern "C" {
    fn BN_MONT_CTX_new() -> *mut BnMontCtx;
    fn BN_MONT_CTX_free(mont: *mut BnMontCtx);
    fn BN_MONT_CTX_set(mont: *mut BnMontCtx, modulus: *const Bignum, ctx: *mut BnCtx) -> c_int;
    fn BN_mod_mul_montgomery(
        r: *mut Bignum,
        a: *const Bignum,
        b: *const Bignum,
        mont: *mut BnMontCtx,
        ctx: *mut BnCtx,
    ) -> c_int;
    fn BN_to_montgomery(
        r: *mut Bignum,
        a: *const Bignum,
        mont: *mut BnMontCtx,
        ctx: *mut BnCtx,
    ) -> c_int;
    fn BN_from_montgomery(
        r: *mut Bignum,
        a: *const Bignum,
        mont: *mut BnMontCtx,
        ctx: *mut BnCtx,
    ) -> c_int;
}

/// A Montgomery context for one odd modulus: read-only once made.
pub(crate) struct Montgomery {
    mont: NonNull<BnMontCtx>,
}

// SAFETY: the context is written only by `BN_MONT_CTX_set`, in `new`,
// before it is shared; the multiplications only read it (OpenSSL itself
// shares one between threads, as the cached `RSA` and `DSA` contexts).
unsafe impl Send for Montgomery {}
// SAFETY: as for `Send`: every method takes `&self` and only reads it.
unsafe impl Sync for Montgomery {}

impl Drop for Montgomery {
    fn drop(&mut self) {
        // SAFETY: `mont` came from `BN_MONT_CTX_new` and is freed once.
        unsafe { BN_MONT_CTX_free(self.mont.as_ptr()) }
    }
}

impl std::fmt::Debug for Montgomery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Montgomery")
    }
}

/// `Some` when libcrypto reports success (1).
fn ok(status: c_int) -> Option<()> {
    (status == 1).then_some(())
}

impl Montgomery {
    /// The context for `modulus`; `None` unless it is odd and above 1, or
    /// when libcrypto fails (allocation).
    pub(crate) fn new(modulus: &BigNumRef, ctx: &mut BigNumContextRef) -> Option<Self> {
        if !modulus.is_odd() || modulus.num_bits() < 2 || modulus.is_negative() {
            return None;
        }
        // SAFETY: no arguments; a null result is handled below.
        let mont = NonNull::new(unsafe { BN_MONT_CTX_new() })?;
        let mont = Montgomery { mont };
        // SAFETY: all three pointers are valid for the call; the context is
        // not shared yet (we own it), and is freed by `Drop` on failure.
        ok(unsafe { BN_MONT_CTX_set(mont.mont.as_ptr(), modulus.as_ptr(), ctx.as_ptr()) })?;
        Some(mont)
    }

    /// `a·b·R⁻¹ mod m` into `r` (the product of two numbers in Montgomery
    /// form, in Montgomery form).
    pub(crate) fn mul(
        &self,
        r: &mut BigNumRef,
        a: &BigNumRef,
        b: &BigNumRef,
        ctx: &mut BigNumContextRef,
    ) -> Option<()> {
        // SAFETY: valid pointers; `r` is borrowed mutably, so it aliases
        // neither `a` nor `b`; the context is only read (see `Sync`).
        ok(unsafe {
            BN_mod_mul_montgomery(
                r.as_ptr(),
                a.as_ptr(),
                b.as_ptr(),
                self.mont.as_ptr(),
                ctx.as_ptr(),
            )
        })
    }

    /// `acc·b·R⁻¹ mod m` into `acc` (`acc` squared when `b` is `None`),
    /// computed into `spare` and swapped: libcrypto's product may not be
    /// one of its factors, and no number is allocated per product.
    pub(crate) fn mul_in_place(
        &self,
        acc: &mut BigNum,
        b: Option<&BigNumRef>,
        spare: &mut BigNum,
        ctx: &mut BigNumContextRef,
    ) -> Option<()> {
        self.mul(spare, acc, b.unwrap_or(acc), ctx)?;
        std::mem::swap(acc, spare);
        Some(())
    }

    /// `a·R mod m`: `a` (below the modulus) in Montgomery form.
    pub(crate) fn encode(&self, a: &BigNumRef, ctx: &mut BigNumContextRef) -> Option<BigNum> {
        let r = BigNum::new().ok()?;
        // SAFETY: valid pointers, `r` a fresh number; the context is only
        // read.
        ok(unsafe { BN_to_montgomery(r.as_ptr(), a.as_ptr(), self.mont.as_ptr(), ctx.as_ptr()) })?;
        Some(r)
    }

    /// `a·R⁻¹ mod m`: a number in Montgomery form back in normal form.
    pub(crate) fn decode(&self, a: &BigNumRef, ctx: &mut BigNumContextRef) -> Option<BigNum> {
        let r = BigNum::new().ok()?;
        // SAFETY: as in `encode`.
        ok(unsafe {
            BN_from_montgomery(r.as_ptr(), a.as_ptr(), self.mont.as_ptr(), ctx.as_ptr())
        })?;
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::bn::BigNumContext;

    #[test]
    fn products_match_openssl_mod_mul() {
        let mut ctx = BigNumContext::new().unwrap();
        let mut m = BigNum::new().unwrap();
        m.generate_prime(512, false, None, None).unwrap();
        let mont = Montgomery::new(&m, &mut ctx).unwrap();
        for (a, b) in [(3u32, 5u32), (1, 1), (0, 7), (123_456_789, 987_654_321)] {
            let a = BigNum::from_u32(a).unwrap();
            let b = BigNum::from_u32(b).unwrap();
            let mut product = BigNum::new().unwrap();
            let (am, bm) = (
                mont.encode(&a, &mut ctx).unwrap(),
                mont.encode(&b, &mut ctx).unwrap(),
            );
            mont.mul(&mut product, &am, &bm, &mut ctx).unwrap();
            let product = mont.decode(&product, &mut ctx).unwrap();
            let mut expected = BigNum::new().unwrap();
            expected.mod_mul(&a, &b, &m, &mut ctx).unwrap();
            assert_eq!(product, expected);
        }
        // An even modulus has no Montgomery form.
        assert!(Montgomery::new(&BigNum::from_u32(10).unwrap(), &mut ctx).is_none());
    }
}
