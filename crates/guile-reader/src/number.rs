//! Guile's `string->number`, as its reader applies it to tokens.
//!
//! A port of `scm_i_string_to_number` and the `mem2…` functions of
//! `libguile/numbers.c` (Guile 3.0.8), kept in their shape so that the two
//! can be read side by side. What the reader needs of a number is whether
//! the token is one (else it is a symbol, or after `#` an error), whether
//! parsing it raises (an exponent out of range), whether it is the exact
//! integer 0 (what `(version 0)` matches with `equal?`), and for character
//! literals which exact integer it is. Exact values are tracked while they
//! fit in 128 bits; larger ones are only known to be nonzero.

/// Why a token cannot be read as Guile would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberError {
    /// Guile raises `out-of-range`: an exponent beyond what a double holds.
    ExponentOutOfRange,
    /// An exact number whose parts outgrew 128 bits, where its value is
    /// needed (a character literal's code point).
    TooLarge,
    /// The token holds a numeric character beyond Latin-1, which Guile may
    /// read as a decimal digit (as its libunistring's Unicode tables say)
    /// and this port does not: refused rather than guessed.
    NonLatin1Digit,
}

/// A number as far as the reader needs to know it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    /// An exact rational.
    Exact(Exact),
    /// An inexact real or a non-real complex number (Guile's complex
    /// numbers are always inexact); the value is only approximate.
    Inexact(f64),
}

/// An exact rational `num / den`, each `None` when it outgrew 128 bits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Exact {
    negative: bool,
    num: Option<u128>,
    den: Option<u128>,
}

impl Exact {
    const ZERO: Exact = Exact::integer(Some(0));
    const ONE: Exact = Exact::integer(Some(1));

    const fn integer(num: Option<u128>) -> Exact {
        Exact {
            negative: false,
            num,
            den: Some(1),
        }
    }

    fn is_zero(&self) -> bool {
        self.num == Some(0)
    }

    fn negate(self) -> Exact {
        Exact {
            negative: !self.negative && !self.is_zero(),
            ..self
        }
    }

    /// The value as an integer, when it is one and is known.
    fn to_integer(self) -> Option<(bool, u128)> {
        let (num, den) = (self.num?, self.den?);
        (num % den == 0).then_some((self.negative, num / den))
    }

    fn approximate(self) -> f64 {
        let magnitude = match (self.num, self.den) {
            (Some(0), _) => 0.0,
            (Some(n), Some(d)) => n as f64 / d as f64,
            (None, Some(_)) => f64::INFINITY,
            (Some(_), None) => 0.0,
            (None, None) => 1.0,
        };
        if self.negative {
            -magnitude
        } else {
            magnitude
        }
    }
}

impl Number {
    /// The character `integer->char` makes of the number, if any.
    pub(crate) fn to_char(self) -> Result<Option<char>, NumberError> {
        let Number::Exact(exact) = self else {
            return Ok(None);
        };
        if exact.num.is_none() || exact.den.is_none() {
            return Err(NumberError::TooLarge);
        }
        Ok(match exact.to_integer() {
            Some((false, n)) => u32::try_from(n).ok().and_then(char::from_u32),
            _ => None,
        })
    }

    /// The number as `lexpr` holds it: exact integers as integers,
    /// anything else as an approximate float (0.0 for an inexact zero, so
    /// that only an exact zero is `as_u64() == Some(0)`).
    pub(crate) fn to_value(self) -> lexpr::Value {
        match self {
            Number::Exact(exact) => match exact.to_integer() {
                Some((false, n)) if n <= u128::from(u64::MAX) => lexpr::Value::from(n as u64),
                Some((true, n)) if n <= u128::from(i64::MAX as u64) => {
                    lexpr::Value::from(-(n as i64))
                }
                _ => lexpr::Value::from(exact.approximate()),
            },
            Number::Inexact(x) => lexpr::Value::from(x),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exactness {
    None,
    Inexact,
    Exact,
}

type Parsed<T> = Result<Option<T>, NumberError>;

/// `(string->number token)` with radix 10: `Ok(None)` when it is no
/// number.
pub(crate) fn parse(token: &[char]) -> Parsed<Number> {
    parse_radix(token, 10)
}

/// `(string->number token radix)`.
pub(crate) fn parse_radix(token: &[char], default_radix: u32) -> Parsed<Number> {
    if token.iter().any(|&c| u32::from(c) > 0xFF && c.is_numeric()) {
        return Err(NumberError::NonLatin1Digit);
    }
    let mut idx = 0;
    let mut radix = None;
    let mut forced = Exactness::None;
    while idx + 2 < token.len() && token[idx] == '#' {
        let (new_radix, new_forced) = match token[idx + 1].to_ascii_lowercase() {
            'b' => (Some(2), None),
            'd' => (Some(10), None),
            'o' => (Some(8), None),
            'x' => (Some(16), None),
            'i' => (None, Some(Exactness::Inexact)),
            'e' => (None, Some(Exactness::Exact)),
            _ => return Ok(None),
        };
        if new_radix.is_some() {
            if radix.is_some() {
                return Ok(None);
            }
            radix = new_radix;
        }
        if let Some(x) = new_forced {
            if forced != Exactness::None {
                return Ok(None);
            }
            forced = x;
        }
        idx += 2;
    }
    let mem = Mem { chars: token };
    mem.complex(idx, radix.unwrap_or(default_radix), forced)
}

/// A real number while parsing: exact, or inexact (which includes the
/// infinities and NaNs).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Real {
    Exact(Exact),
    Inexact(f64),
}

impl Real {
    fn is_nan(self) -> bool {
        matches!(self, Real::Inexact(x) if x.is_nan())
    }

    fn negate(self) -> Real {
        match self {
            Real::Exact(e) => Real::Exact(e.negate()),
            Real::Inexact(x) => Real::Inexact(-x),
        }
    }

    fn is_exact_zero(self) -> bool {
        matches!(self, Real::Exact(e) if e.is_zero())
    }

    fn into_number(self) -> Number {
        match self {
            Real::Exact(e) => Number::Exact(e),
            Real::Inexact(x) => Number::Inexact(x),
        }
    }

    fn approximate(self) -> f64 {
        match self {
            Real::Exact(e) => e.approximate(),
            Real::Inexact(x) => x,
        }
    }
}

/// `make-rectangular`: a real exactly when the imaginary part is exact 0.
fn rectangular(real: Real, imaginary: Real) -> Number {
    if imaginary.is_exact_zero() {
        real.into_number()
    } else {
        Number::Inexact(real.approximate())
    }
}

/// `make-polar`: exact 0 for an exact 0 magnitude, the magnitude for an
/// exact 0 angle.
fn polar(magnitude: Real, angle: Real) -> Number {
    if magnitude.is_exact_zero() {
        Number::Exact(Exact::ZERO)
    } else if angle.is_exact_zero() {
        magnitude.into_number()
    } else {
        Number::Inexact(magnitude.approximate())
    }
}

struct Mem<'a> {
    chars: &'a [char],
}

/// `a * b` on magnitudes that may have outgrown 128 bits; zero stays zero.
fn mul(a: Option<u128>, b: Option<u128>) -> Option<u128> {
    match (a, b) {
        (Some(0), _) | (_, Some(0)) => Some(0),
        (Some(a), Some(b)) => a.checked_mul(b),
        _ => None,
    }
}

fn add(a: Option<u128>, b: u128) -> Option<u128> {
    a.and_then(|a| a.checked_add(b))
}

fn pow10(exponent: u32) -> Option<u128> {
    10u128.checked_pow(exponent)
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `scm_i_make_ratio` / `scm_divide` on exact values.
fn ratio(num: Option<u128>, den: Option<u128>) -> Exact {
    match (num, den) {
        (Some(0), _) => Exact::ZERO,
        (Some(n), Some(d)) => {
            let g = gcd(n, d);
            Exact {
                negative: false,
                num: Some(n / g),
                den: Some(d / g),
            }
        }
        _ => Exact {
            negative: false,
            num,
            den,
        },
    }
}

/// `char_decimal_value`: ASCII digits and letters (non-ASCII digits are
/// refused before parsing starts).
fn digit_value(c: char) -> u32 {
    c.to_digit(36).unwrap_or(u32::MAX)
}

/// Largest decimal exponent of a double (`SCM_MAXEXP`, `DBL_MAX_10_EXP`).
const MAX_EXPONENT: u32 = 308;
/// `DBL_DIG`.
const DOUBLE_DIGITS: u32 = 15;

impl Mem<'_> {
    fn len(&self) -> usize {
        self.chars.len()
    }

    fn at(&self, idx: usize) -> char {
        self.chars[idx]
    }

    /// Like `scm_i_string_ref` past the end in the C code's `switch`es,
    /// which only look there after checking the length: a char no test
    /// matches.
    fn get(&self, idx: usize) -> char {
        self.chars.get(idx).copied().unwrap_or('\0')
    }

    /// `mem2uinteger`.
    fn uinteger(&self, p_idx: &mut usize, radix: u32, x: &mut Exactness) -> Option<Option<u128>> {
        let mut idx = *p_idx;
        if idx == self.len() || digit_value(self.at(idx)) >= radix {
            return None;
        }
        let mut result = Some(u128::from(digit_value(self.at(idx))));
        idx += 1;
        let mut hash_seen = false;
        while idx != self.len() {
            let c = self.at(idx);
            let digit = if c == '#' {
                hash_seen = true;
                0
            } else if hash_seen {
                break;
            } else {
                let d = digit_value(c);
                if d >= radix {
                    break;
                }
                d
            };
            idx += 1;
            result = add(mul(result, Some(u128::from(radix))), u128::from(digit));
        }
        *p_idx = idx;
        if hash_seen {
            *x = Exactness::Inexact;
        }
        Some(result)
    }

    /// `mem2decimal_from_point`: the part of a decimal from a potential
    /// point on; `num` holds the digits before it.
    fn decimal_from_point(
        &self,
        num: Option<u128>,
        p_idx: &mut usize,
        p_x: &mut Exactness,
    ) -> Parsed<Exact> {
        let mut idx = *p_idx;
        let mut x = *p_x;
        let mut result = Exact::integer(num);
        if idx == self.len() {
            return Ok(Some(result));
        }
        if self.at(idx) == '.' {
            idx += 1;
            let mut num = num;
            let mut digits = 0u32;
            while idx != self.len() {
                let c = self.at(idx);
                let digit = if c.is_ascii_digit() {
                    if x == Exactness::Inexact {
                        return Ok(None);
                    }
                    digit_value(c)
                } else if c == '#' {
                    x = Exactness::Inexact;
                    0
                } else {
                    break;
                };
                idx += 1;
                digits = digits.saturating_add(1);
                num = add(mul(num, Some(10)), u128::from(digit));
            }
            result = ratio(num, pow10(digits));
            x = Exactness::Inexact;
        }
        if idx != self.len() && "dDeEfFlLsS".contains(self.at(idx)) {
            idx += 1;
            if idx == self.len() {
                return Ok(None);
            }
            let mut negative = false;
            if matches!(self.at(idx), '-' | '+') {
                negative = self.at(idx) == '-';
                idx += 1;
                if idx == self.len() {
                    return Ok(None);
                }
            }
            if !self.at(idx).is_ascii_digit() {
                return Ok(None);
            }
            let mut exponent = digit_value(self.at(idx));
            idx += 1;
            while idx != self.len() && self.at(idx).is_ascii_digit() {
                if exponent <= MAX_EXPONENT {
                    exponent = exponent * 10 + digit_value(self.at(idx));
                }
                idx += 1;
            }
            let limit = if negative {
                MAX_EXPONENT + DOUBLE_DIGITS + 1
            } else {
                MAX_EXPONENT
            };
            if exponent > limit {
                return Err(NumberError::ExponentOutOfRange);
            }
            let scale = pow10(exponent);
            result = if negative {
                ratio(result.num, mul(result.den, scale))
            } else {
                ratio(mul(result.num, scale), result.den)
            };
            x = Exactness::Inexact;
        }
        *p_idx = idx;
        if x == Exactness::Inexact {
            *p_x = x;
        }
        Ok(Some(result))
    }

    /// `mem2ureal`.
    fn ureal(
        &self,
        p_idx: &mut usize,
        radix: u32,
        forced: Exactness,
        allow_inf_or_nan: bool,
    ) -> Parsed<Real> {
        let mut idx = *p_idx;
        let mut implicit = Exactness::Exact;
        if idx == self.len() {
            return Ok(None);
        }
        if allow_inf_or_nan && forced != Exactness::Exact && idx + 5 <= self.len() {
            if let Some(special) = self.inf_or_nan(p_idx) {
                return Ok(Some(special));
            }
        }
        let result = if self.at(idx) == '.' {
            if radix != 10 || idx + 1 == self.len() || !self.at(idx + 1).is_ascii_digit() {
                return Ok(None);
            }
            match self.decimal_from_point(Some(0), p_idx, &mut implicit)? {
                Some(result) => result,
                None => return Ok(None),
            }
        } else {
            let Some(uinteger) = self.uinteger(&mut idx, radix, &mut implicit) else {
                return Ok(None);
            };
            let result = if idx == self.len() {
                Exact::integer(uinteger)
            } else if self.at(idx) == '/' {
                idx += 1;
                if idx == self.len() {
                    return Ok(None);
                }
                match self.uinteger(&mut idx, radix, &mut implicit) {
                    None | Some(Some(0)) => return Ok(None),
                    Some(divisor) => ratio(uinteger, divisor),
                }
            } else if radix == 10 {
                match self.decimal_from_point(uinteger, &mut idx, &mut implicit)? {
                    Some(result) => result,
                    None => return Ok(None),
                }
            } else {
                Exact::integer(uinteger)
            };
            *p_idx = idx;
            result
        };
        let inexact = match forced {
            Exactness::Exact => false,
            Exactness::Inexact => true,
            Exactness::None => implicit == Exactness::Inexact,
        };
        Ok(Some(if inexact {
            Real::Inexact(result.approximate())
        } else {
            Real::Exact(result)
        }))
    }

    /// The `inf.0` and `nan.N` cases of `mem2ureal`, with the C code's
    /// fall-through from the `i` case into the `n` case (so that `+ian.0`
    /// is a NaN too).
    fn inf_or_nan(&self, p_idx: &mut usize) -> Option<Real> {
        let idx = *p_idx;
        let lower = |i: usize| self.get(i).to_ascii_lowercase();
        let first = lower(idx);
        if first == 'i'
            && lower(idx + 1) == 'n'
            && lower(idx + 2) == 'f'
            && self.get(idx + 3) == '.'
            && self.get(idx + 4) == '0'
        {
            *p_idx = idx + 5;
            return Some(Real::Inexact(f64::INFINITY));
        }
        if matches!(first, 'i' | 'n')
            && lower(idx + 1) == 'a'
            && lower(idx + 2) == 'n'
            && self.get(idx + 3) == '.'
        {
            let mut rest = idx + 4;
            let mut ignored = Exactness::Exact;
            // The fraction must be an exact zero, `#` digits included.
            return match self.uinteger(&mut rest, 10, &mut ignored) {
                Some(Some(0)) => {
                    *p_idx = rest;
                    Some(Real::Inexact(f64::NAN))
                }
                _ => None,
            };
        }
        None
    }

    /// `mem2complex`.
    fn complex(&self, mut idx: usize, radix: u32, forced: Exactness) -> Parsed<Number> {
        if idx == self.len() {
            return Ok(None);
        }
        let sign = match self.at(idx) {
            '+' => 1,
            '-' => -1,
            _ => 0,
        };
        if sign != 0 {
            idx += 1;
        }
        if idx == self.len() {
            return Ok(None);
        }
        let Some(mut ureal) = self.ureal(&mut idx, radix, forced, sign != 0)? else {
            // Only +i or -i.
            let unit = sign != 0 && matches!(self.at(idx), 'i' | 'I') && idx + 1 == self.len();
            return Ok(unit.then_some(Number::Inexact(0.0)));
        };
        if sign == -1 && !ureal.is_nan() {
            ureal = ureal.negate();
        }
        if idx == self.len() {
            return Ok(Some(ureal.into_number()));
        }
        match self.at(idx) {
            'i' | 'I' => Ok((sign != 0 && idx + 1 == self.len())
                .then(|| rectangular(Real::Exact(Exact::ZERO), ureal))),
            '@' => {
                idx += 1;
                if idx == self.len() {
                    return Ok(None);
                }
                let angle_sign = match self.at(idx) {
                    '+' => 1,
                    '-' => -1,
                    _ => 0,
                };
                if angle_sign != 0 {
                    idx += 1;
                    if idx == self.len() {
                        return Ok(None);
                    }
                }
                let Some(mut angle) = self.ureal(&mut idx, radix, forced, angle_sign != 0)? else {
                    return Ok(None);
                };
                if idx != self.len() {
                    return Ok(None);
                }
                // Guile tests the magnitude for NaN here, not the angle.
                if angle_sign == -1 && !ureal.is_nan() {
                    angle = angle.negate();
                }
                Ok(Some(polar(ureal, angle)))
            }
            c @ ('+' | '-') => {
                idx += 1;
                if idx == self.len() {
                    return Ok(None);
                }
                let imaginary = match self.ureal(&mut idx, radix, forced, true)? {
                    None => Real::Exact(if c == '-' {
                        Exact::ONE.negate()
                    } else {
                        Exact::ONE
                    }),
                    Some(imag) if c == '-' && !imag.is_nan() => imag.negate(),
                    Some(imag) => imag,
                };
                let closed = idx + 1 == self.len() && matches!(self.at(idx), 'i' | 'I');
                Ok(closed.then(|| rectangular(ureal, imaginary)))
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(text: &str) -> Parsed<Number> {
        parse(&text.chars().collect::<Vec<_>>())
    }

    /// Whether `(equal? n 0)`, as the reader's value shows it.
    fn zero(text: &str) -> bool {
        number(text).unwrap().unwrap().to_value().as_u64() == Some(0)
    }

    #[test]
    fn exact_zeros_are_what_version_0_matches() {
        for text in [
            "0",
            "00",
            "-0",
            "+0",
            "#x0",
            "#e0",
            "#e0.0",
            "#e-0.0",
            "0/5",
            "#b0",
            "#d0",
            "#e#x0",
            "#x#e0",
            "0+0i",
            "0-0i",
            "+0i",
            "0@1.5",
            "#e0e300",
            "#e0.0e-300",
        ] {
            assert!(zero(text), "{text}");
        }
        for text in [
            "0.0", "#i0", "0#", "1", "-1/2", "#e.5", "1@0.5", "+inf.0", "0+1i",
        ] {
            assert!(!zero(text), "{text}");
        }
    }

    #[test]
    fn symbols_and_errors() {
        for text in [
            "", "+", "-", ".", "..", "1/0", "1/", "#x", "#e", "#x#x1", "1e", "1e+", "abc", "inf.0",
            "1.5/2", "1+2", "1@", "#e+inf.0", "+nan.1", "1#2", "1#.5",
        ] {
            assert_eq!(number(text), Ok(None), "{text}");
        }
        for text in ["1e309", "1e-325", "1e400x", "1@1e999", "#e1e309"] {
            assert_eq!(number(text), Err(NumberError::ExponentOutOfRange), "{text}");
        }
        for text in [
            "1e308", "1e-324", "+inf.0", "-nan.0", "+ian.0", "+i", "1+i", "1#.#",
        ] {
            assert!(matches!(number(text), Ok(Some(_))), "{text}");
        }
        assert_eq!(number("\u{663}"), Err(NumberError::NonLatin1Digit));
    }

    #[test]
    fn characters_from_octal_and_hex() {
        let code = |text: &str, radix| {
            parse_radix(&text.chars().collect::<Vec<_>>(), radix)
                .unwrap()
                .and_then(|n| n.to_char().unwrap())
        };
        assert_eq!(code("101", 8), Some('A'));
        assert_eq!(code("41", 16), Some('A'));
        assert_eq!(code("#e41", 16), Some('A'));
        assert_eq!(code("82/2", 16), Some('A'));
        assert_eq!(code("1@0", 16), Some('\u{1}'));
        assert_eq!(code("d800", 16), None);
        assert_eq!(code("110000", 16), None);
        assert_eq!(code("-1", 16), None);
        assert_eq!(code("41#", 16), None);
        let huge = "1000000000000000000000000000000000000/1000000000000000000000000000000000000";
        let number = parse_radix(&huge.chars().collect::<Vec<_>>(), 16)
            .unwrap()
            .unwrap();
        assert_eq!(number.to_char(), Err(NumberError::TooLarge));
    }
}
